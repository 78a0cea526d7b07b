/**
 * The assessment page (`?view=assessment`, 考核与抽查): a month's assessment of every caseworker
 * the user may see (a supervisor their street's, `GET /api/assessment`) and the spot checks behind
 * its deductions (`GET /api/spot-checks`), each table with its XLSX and CSV export.
 */
import { fetchAssessment, fetchSpotChecks, type AssessmentAnswer, type SpotChecksAnswer } from '../api';
import { formatMonth, formatPct } from '../format';
import { defineStrings, getLang, onLangChange, setLang, t as tApp } from '../i18n';
import { me } from '../session';
import { h } from '../ui/dom';
import { exportButtons } from '../ui/export';
import { createUserBar } from '../ui/userbar';

const t = defineStrings(
  'assessmentPage',
  {
    title: '考核与抽查',
    month: '月份',
    assessment: '综管员月度考核',
    spotChecks: '抽查结果',
    name: '综管员',
    street: '街道',
    registrations: '登记人数',
    rentals: '出租房屋登记',
    visits: '走访',
    checks: '抽查次数',
    missed: '漏登记率（95% 区间）',
    deductions: '扣分',
    score: '得分',
    rank: '街道排名',
    load: '负荷',
    date: '日期',
    grid: '网格',
    households: '抽查户数',
    missedRegistration: '漏登记',
    missedPermit: '漏办证',
    wrong: '错误信息',
    noRows: '这个月没有记录。',
    map: '返回地图',
    loading: '正在读取…',
    failed: '读取失败：{detail}',
  },
  {
    title: 'Assessment & spot checks',
    month: 'Month',
    assessment: 'Caseworkers’ monthly assessment',
    spotChecks: 'Spot-check results',
    name: 'Caseworker',
    street: 'Street',
    registrations: 'Registrations',
    rentals: 'Rental registrations',
    visits: 'Visits',
    checks: 'Spot checks',
    missed: 'Missed registrations (95% interval)',
    deductions: 'Deductions',
    score: 'Score',
    rank: 'Rank in street',
    load: 'Load',
    date: 'Date',
    grid: 'Grid',
    households: 'Households checked',
    missedRegistration: 'Missed registrations',
    missedPermit: 'Missed permits',
    wrong: 'Wrong records',
    noRows: 'Nothing recorded this month.',
    map: 'Back to the map',
    loading: 'Loading…',
    failed: 'Could not load: {detail}',
  },
);

/** This month as YYYY-MM on this device. */
function thisMonth(): string {
  const d = new Date();
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}`;
}

/** How many months back the month picker reaches. */
const MONTHS_OFFERED = 24;

/** The months offered, newest first: this month and the [`MONTHS_OFFERED`] - 1 before it, and
 * `asked` (from the URL) when it is none of them. */
function monthsOffered(asked: string): string[] {
  const now = new Date();
  const months = Array.from({ length: MONTHS_OFFERED }, (_, back) => {
    const d = new Date(now.getFullYear(), now.getMonth() - back, 1);
    return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}`;
  });
  return months.includes(asked) || !/^\d{4}-\d{2}$/.test(asked) ? months : [...months, asked].sort().reverse();
}

const num = (x: number) => h('td', { class: 'rg-num' }, x);

/** A table of `rows` under the headers `columns` names. */
function table(className: string, columns: readonly Parameters<typeof t>[0][], rows: HTMLElement[]): HTMLElement {
  return h(
    'table',
    { class: `rg-ranking ${className}` },
    h('thead', null, h('tr', null, ...columns.map((k) => h('th', null, t(k))))),
    h('tbody', null, ...rows),
  );
}

function assessmentTable(answer: AssessmentAnswer): HTMLElement {
  if (answer.rows.length === 0) return h('p', null, t('noRows'));
  const interval = (r: AssessmentAnswer['rows'][number]) => {
    const m = r.missed_registration;
    if (m.rate == null) return '—';
    return m.low != null && m.high != null ? `${formatPct(m.rate)}（${formatPct(m.low)}–${formatPct(m.high)}）` : formatPct(m.rate);
  };
  const columns = ['name', 'street', 'registrations', 'rentals', 'visits', 'checks', 'missed', 'deductions', 'score', 'rank', 'load'] as const;
  return table(
    'rg-assessment-table',
    columns,
    answer.rows.map((r) =>
      h(
        'tr',
        { 'data-caseworker': r.caseworker_id },
        h('td', null, r.name),
        h('td', null, r.street_name),
        num(r.registrations),
        num(r.rental_registrations),
        num(r.inspections),
        num(r.spot_checks),
        h('td', { class: 'rg-num' }, interval(r)),
        num(r.deductions),
        h('td', { class: 'rg-num' }, r.score.toFixed(1)),
        h('td', { class: 'rg-num' }, `${r.rank_in_street} / ${r.street_size}`),
        h('td', { class: 'rg-num' }, r.load.toFixed(2)),
      ),
    ),
  );
}

function spotCheckTable(answer: SpotChecksAnswer): HTMLElement {
  if (answer.rows.length === 0) return h('p', { class: 'rg-spot-checks-none' }, t('noRows'));
  const columns = ['date', 'name', 'street', 'grid', 'households', 'missedRegistration', 'missedPermit', 'wrong'] as const;
  return table(
    'rg-spot-checks-table',
    columns,
    answer.rows.map((r) =>
      h(
        'tr',
        { 'data-spot-check': r.id },
        h('td', null, r.checked_on),
        h('td', null, r.name),
        h('td', null, r.street_name),
        h('td', null, r.grid_name),
        num(r.households_checked),
        num(r.missed_registration),
        num(r.missed_permit),
        num(r.wrong_records),
      ),
    ),
  );
}

/** Mounts the page into `root`; returns the function that tears it down. */
export function mountAssessment(root: HTMLElement): () => void {
  const bar = createUserBar();
  const lang = h('button', { type: 'button', class: 'rg-lang' });
  lang.addEventListener('click', () => setLang(getLang() === 'zh-CN' ? 'en' : 'zh-CN'));
  const title = h('span', { class: 'rg-title' });
  const mapLink = h('a', { class: 'rg-view', href: './' });
  const monthLabel = h('span');
  // Our own month picker, not `<input type=month>`: the browser draws that one in its own
  // language, whatever the page's.
  const month = h('select', { class: 'rg-assessment-month' });
  const fromUrl = new URLSearchParams(window.location.search).get('month') ?? thisMonth();
  const offered = monthsOffered(fromUrl);
  const renderMonths = () => {
    const chosen = month.value || fromUrl;
    month.replaceChildren(...offered.map((m) => h('option', { value: m, selected: m === chosen }, formatMonth(m))));
  };
  renderMonths();
  const body = h('div', { class: 'rg-assessment-body' });
  root.replaceChildren(
    h(
      'header',
      { class: 'rg-header' },
      h('h1', null, h('span', { class: 'rg-brand' }, 'rentgrid'), h('span', { class: 'rg-sep' }, ' · '), title),
      h('nav', { class: 'rg-nav' }, me()?.role === 'caseworker' ? null : mapLink, bar.element, lang),
    ),
    h('main', { class: 'rg-account-main' }, h('section', { class: 'rg-account rg-assessment' }, h('label', { class: 'rg-assessment-month-row' }, monthLabel, ' ', month), body)),
  );
  let answers: { assessment: AssessmentAnswer; spotChecks: SpotChecksAnswer } | undefined;
  let failure: string | undefined;
  let loading = false;

  const render = () => {
    title.textContent = t('title');
    lang.textContent = tApp('switchLang');
    mapLink.textContent = t('map');
    monthLabel.textContent = t('month');
    renderMonths();
    document.title = `rentgrid · ${t('title')}`;
    const m = month.value;
    body.replaceChildren(
      ...(failure ? [h('p', { role: 'alert' }, t('failed', { detail: failure }))] : []),
      ...(loading ? [h('p', { role: 'status' }, t('loading'))] : []),
      ...(answers
        ? [
            h('div', { class: 'rg-assessment-head' }, h('h2', null, t('assessment')), exportButtons('assessment', t('assessment'), { month: m })),
            assessmentTable(answers.assessment),
            h('div', { class: 'rg-assessment-head' }, h('h2', null, t('spotChecks')), exportButtons('spot_checks', t('spotChecks'), { month: m })),
            spotCheckTable(answers.spotChecks),
          ]
        : []),
    );
  };

  let asked = 0;
  const load = () => {
    const m = month.value;
    if (!/^\d{4}-\d{2}$/.test(m)) return;
    const mine = ++asked;
    loading = true;
    render();
    Promise.all([fetchAssessment(m), fetchSpotChecks(m)])
      .then(([assessment, spotChecks]) => {
        if (mine !== asked) return;
        answers = { assessment, spotChecks };
        failure = undefined;
      })
      .catch((error: unknown) => {
        if (mine === asked) failure = error instanceof Error ? error.message : String(error);
      })
      .finally(() => {
        if (mine !== asked) return;
        loading = false;
        render();
        document.documentElement.dataset.ready = '1';
      });
  };
  month.addEventListener('change', () => {
    const q = new URLSearchParams(window.location.search);
    q.set('month', month.value);
    window.history.replaceState(null, '', `${window.location.pathname}?${q}`);
    load();
  });
  const off = onLangChange(render);
  load();
  return () => {
    off();
    bar.destroy();
    delete document.documentElement.dataset.ready;
  };
}
