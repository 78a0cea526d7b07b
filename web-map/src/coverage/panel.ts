/**
 * The coverage panel (包干): ask for a balanced proposal for one street, see it on the map beside
 * today's areas (a toggle) with the quality figures of both, and accept it (one audited write);
 * and the tables supervisors hand in, staffing and this month's assessment, as XLSX or CSV.
 */
import { acceptProposal, fetchPlaceRows, proposeTerritory, type PlanQuality, type Proposal } from '../api';
import { defineStrings, onLangChange } from '../i18n';
import type { CoverageLayer } from '../layers/coverage';
import { h } from '../ui/dom';
import { exportButtons } from '../ui/export';

const t = defineStrings(
  'coveragePanel',
  {
    title: '包干区调整',
    street: '街道',
    mode: '方式',
    minimal: '少调整（尽量少换人）',
    scratch: '重新划分',
    propose: '生成方案',
    working: '正在计算…',
    show: '地图显示',
    today: '现状',
    proposed: '方案',
    maxDeviation: '最大负荷偏差',
    compactness: '紧凑度（Polsby-Popper）',
    changed: '换人网格数',
    contiguous: '各区连片',
    yes: '是',
    no: '否',
    by: '接受人',
    accept: '接受',
    accepted: '已接受：方案 {id} 已写入并记入审计日志。',
    needName: '请填写接受人姓名。',
    failed: '失败：{detail}',
    tables: '表格下载',
    staffing: '人员配置（应配、实配、缺口）',
    assessment: '本月考核',
  },
  {
    title: 'Rebalance contracted areas',
    street: 'Street',
    mode: 'Mode',
    minimal: 'Minimal change',
    scratch: 'From scratch',
    propose: 'Propose',
    working: 'Computing…',
    show: 'Show on the map',
    today: 'Today',
    proposed: 'Proposal',
    maxDeviation: 'Max load deviation',
    compactness: 'Compactness (Polsby-Popper)',
    changed: 'Grids changing hands',
    contiguous: 'Every area in one piece',
    yes: 'yes',
    no: 'no',
    by: 'Accepted by',
    accept: 'Accept',
    accepted: 'Accepted: proposal {id} was written and audited.',
    needName: 'Enter the name of who accepts.',
    failed: 'Failed: {detail}',
    tables: 'Tables',
    staffing: 'Staffing (required, assigned, gap)',
    assessment: "This month's assessment",
  },
);

export interface CoveragePanel {
  element: HTMLElement;
  destroy(): void;
}

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

/** Builds the panel over the coverage layer; `onError` reports failed requests. */
export async function createCoveragePanel(layer: CoverageLayer, onError: (e: unknown) => void): Promise<CoveragePanel> {
  const streets = await fetchPlaceRows('street');
  const heading = h('h2', null);
  const streetLabel = h('label', null);
  const street = h('select', { class: 'rg-cov-street' });
  const modeLabel = h('label', null);
  const mode = h('select', { class: 'rg-cov-mode' });
  const propose = h('button', { type: 'button', class: 'rg-cov-propose' });
  const result = h('div', { class: 'rg-cov-result' });
  const status = h('p', { class: 'rg-cov-status', role: 'status' });
  const tables = h('section', { class: 'rg-cov-tables' });
  const element = h('aside', { class: 'rg-leaders rg-coverage' }, heading, streetLabel, street, modeLabel, mode, propose, result, status, tables);
  let proposal: Proposal | undefined;
  let showing: 'today' | 'proposed' = 'proposed';
  let byName = '';

  const qualityRows = (today: PlanQuality, proposed: PlanQuality) =>
    h(
      'table',
      { class: 'rg-cov-quality' },
      h('thead', null, h('tr', null, h('th', null, ''), h('th', null, t('today')), h('th', null, t('proposed')))),
      h(
        'tbody',
        null,
        h('tr', null, h('td', null, t('maxDeviation')), h('td', null, pct(today.max_deviation)), h('td', null, pct(proposed.max_deviation))),
        h('tr', null, h('td', null, t('compactness')), h('td', null, today.mean_polsby_popper.toFixed(3)), h('td', null, proposed.mean_polsby_popper.toFixed(3))),
        h('tr', null, h('td', null, t('changed')), h('td', null, '0'), h('td', null, String(proposed.grids_changed))),
        h('tr', null, h('td', null, t('contiguous')), h('td', null, today.all_contiguous ? t('yes') : t('no')), h('td', null, proposed.all_contiguous ? t('yes') : t('no'))),
      ),
    );

  const renderResult = () => {
    if (!proposal) {
      result.replaceChildren();
      return;
    }
    const s = proposal.streets[0];
    const toggle = h(
      'div',
      { class: 'rg-cov-toggle', role: 'group' },
      h('span', null, t('show')),
      ...(['today', 'proposed'] as const).map((which) => {
        const b = h('button', { type: 'button', class: `rg-cov-show-${which}`, 'aria-pressed': showing === which ? 'true' : 'false' }, t(which));
        b.addEventListener('click', () => {
          showing = which;
          layer.show(showing === 'proposed' ? proposal?.proposed : undefined);
          renderResult();
        });
        return b;
      }),
    );
    const by = h('input', { type: 'text', class: 'rg-cov-by', value: byName, maxlength: 100 });
    by.addEventListener('input', () => (byName = by.value));
    const accept = h('button', { type: 'button', class: 'rg-cov-accept', disabled: proposal.status !== 'open' }, t('accept'));
    accept.addEventListener('click', () => void doAccept());
    result.replaceChildren(
      toggle,
      s ? qualityRows(s.today, s.proposed) : '',
      h('label', null, t('by'), ' ', by),
      accept,
    );
  };

  const doPropose = async () => {
    status.textContent = t('working');
    propose.disabled = true;
    try {
      proposal = await proposeTerritory(street.value, mode.value as 'minimal' | 'scratch');
      showing = 'proposed';
      layer.show(proposal.proposed);
      element.dataset.proposal = String(proposal.id);
      status.textContent = '';
    } catch (e) {
      status.textContent = t('failed', { detail: e instanceof Error ? e.message : String(e) });
      onError(e);
    } finally {
      propose.disabled = false;
      renderResult();
    }
  };

  const doAccept = async () => {
    if (!proposal) return;
    if (!byName.trim()) {
      status.textContent = t('needName');
      return;
    }
    try {
      await acceptProposal(proposal.id, byName.trim());
      proposal = { ...proposal, status: 'accepted' };
      layer.show(undefined);
      await layer.reload();
      showing = 'today';
      status.textContent = t('accepted', { id: proposal.id });
      element.dataset.accepted = String(proposal.id);
    } catch (e) {
      status.textContent = t('failed', { detail: e instanceof Error ? e.message : String(e) });
    }
    renderResult();
  };

  const render = () => {
    heading.textContent = t('title');
    streetLabel.textContent = t('street');
    modeLabel.textContent = t('mode');
    propose.textContent = t('propose');
    const chosen = street.value;
    street.replaceChildren(...streets.map((s) => h('option', { value: s.code, selected: s.code === chosen }, s.name)));
    const m = mode.value || 'minimal';
    mode.replaceChildren(...(['minimal', 'scratch'] as const).map((v) => h('option', { value: v, selected: v === m }, t(v))));
    renderResult();
    tables.replaceChildren(
      h('h3', null, t('tables')),
      ...(['staffing', 'assessment'] as const).map((table) => h('div', { class: 'rg-table-head' }, h('span', null, t(table)), exportButtons(table, t(table)))),
    );
  };
  propose.addEventListener('click', () => void doPropose());
  const stop = onLangChange(render);
  render();
  return { element, destroy: stop };
}
