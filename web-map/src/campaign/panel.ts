/**
 * The campaign panel of the 清查行动 view: which campaign and day are shown, the day's route sheets
 * to print, and, for those who plan campaigns (the center, supervisors), a new campaign: its area
 * drawn or its grids picked on the map, the team, the dates; `POST /api/campaigns`, and the plan it
 * answers drawn in place. The server's refusals are said in plain words in the form.
 */
import type { Map as MapLibreMap } from 'maplibre-gl';
import { ApiError, createCampaign, fetchCoverage, type CampaignRequest } from '../api';
import { defineStrings, onLangChange } from '../i18n';
import { localToday, type CampaignLayer } from '../layers/campaign';
import { me } from '../session';
import { h } from '../ui/dom';
import type { Popups } from '../ui/interaction';
import { createAreaPicker, type AreaTool } from './area';
import { openRouteSheets } from './sheets';

const t = defineStrings(
  'campaignPanel',
  {
    heading: '清查行动',
    shown: '第 {id} 号行动 · {blocks} 个地块 · {date}',
    none: '还没有清查行动。',
    noDay: '这一天没有走访安排。',
    create: '新建清查行动',
    print: '打印路线单',
    cancel: '取消',
    area: '1. 区域',
    draw: '在地图上画区域',
    pickGrids: '点选网格',
    drawHint: '在地图上逐点单击画出区域，单击第一个点（或按回车）完成。',
    gridsHint: '单击网格选中，再次单击取消。',
    drawn: '已画好区域。',
    gridsPicked: '已选 {n} 个网格。',
    redraw: '重画',
    team: '2. 人员（综管员）',
    filter: '按姓名筛选',
    teamPicked: '已选 {n} 人',
    dates: '3. 日期',
    start: '开始日期',
    days: '工作日数',
    perDay: '每人每天走访楼栋数',
    submit: '生成计划',
    working: '正在生成计划…',
    created: '已生成第 {id} 号行动：{blocks} 个地块，{days} 个工作日。',
    needArea: '请先在地图上画出区域，或点选网格。',
    needTeam: '请至少选择一名综管员。',
    needsDays: '这片区域按现在的人手需要 {n} 个工作日，超过了填写的 {days} 天。请增加工作日、人员或每天走访的楼栋数。',
    emptyArea: '所选区域里没有可清查的地块，请把区域画大一些或换个位置。',
    badPolygon: '所画区域无效（例如边线交叉），请重画。',
    badGrids: '所选网格有误或没有地块，请重新选择。',
    badTeam: '所选人员有误，请重新选择。',
    badStart: '开始日期无效，或其后没有工作日。',
    badNumber: '请检查工作日数和每天楼栋数。',
    outside: '区域超出了你可以安排的范围（只能安排自己街道的网格）。',
    failed: '没有成功：{detail}',
  },
  {
    heading: 'Sweep campaigns',
    shown: 'Campaign {id} · {blocks} {blocks|block|blocks} · {date}',
    none: 'No campaign yet.',
    noDay: 'No visits are planned that day.',
    create: 'New campaign',
    print: 'Print route sheets',
    cancel: 'Cancel',
    area: '1. Area',
    draw: 'Draw an area on the map',
    pickGrids: 'Pick grids',
    drawHint: 'Click point by point on the map; click the first point (or press Enter) to finish.',
    gridsHint: 'Click a grid to pick it, again to leave it out.',
    drawn: 'The area is drawn.',
    gridsPicked: '{n} grid(s) picked.',
    redraw: 'Start again',
    team: '2. Team (caseworkers)',
    filter: 'Filter by name',
    teamPicked: '{n} picked',
    dates: '3. Dates',
    start: 'Start date',
    days: 'Working days',
    perDay: 'Buildings per caseworker per day',
    submit: 'Plan it',
    working: 'Planning…',
    created: 'Campaign {id} planned: {blocks} {blocks|block|blocks} over {days} working {days|day|days}.',
    needArea: 'Draw an area on the map or pick grids first.',
    needTeam: 'Pick at least one caseworker.',
    needsDays: 'With this team the area needs {n} working days, more than the {days} given. Allow more days, more caseworkers or more buildings a day.',
    emptyArea: 'The area holds no block to sweep: draw it larger or somewhere else.',
    badPolygon: 'The drawn area is not valid (its edges cross, say): draw it again.',
    badGrids: 'A grid picked is unknown or has no blocks: pick again.',
    badTeam: 'A caseworker picked is unknown: pick again.',
    badStart: 'The start date is not valid, or no working day follows it.',
    badNumber: 'Check the working days and buildings per day.',
    outside: 'The area reaches beyond what you may plan (your own street’s grids only).',
    failed: 'That did not work: {detail}',
  },
);

/** The roles that may plan a campaign (`POST /api/campaigns`). */
const PLANNERS = ['center', 'supervisor'];

/** The server's refusal of a plan, said in plain words. */
export function planRefusal(error: unknown, days: number): string {
  if (!(error instanceof ApiError)) return t('failed', { detail: error instanceof Error ? error.message : String(error) });
  if (error.status === 403) return t('outside');
  const m = error.message;
  const needs = /needs (\d+) working days/.exec(m);
  if (needs) return t('needsDays', { n: needs[1]!, days });
  if (m.startsWith('area')) return t('emptyArea');
  if (m.startsWith('polygon')) return t('badPolygon');
  if (m.startsWith('grids')) return t('badGrids');
  if (m.startsWith('caseworkers')) return t('badTeam');
  if (m.startsWith('start_date')) return t('badStart');
  if (m.startsWith('working_days') || m.startsWith('buildings_per_day')) return t('badNumber');
  return t('failed', { detail: m });
}

export interface CampaignPanel {
  element: HTMLElement;
  destroy(): void;
}

/** A caseworker the team is picked from. */
interface Member {
  id: number;
  name: string;
}

/** Builds the panel over the campaign layer; `popups` are suspended while the area is chosen. */
export function createCampaignPanel(map: MapLibreMap, layer: CampaignLayer, popups: Popups, onError: (e: unknown) => void): CampaignPanel {
  const mayPlan = PLANNERS.includes(me()?.role ?? '');
  const heading = h('h2', null);
  const summary = h('p', { class: 'rg-campaign-summary' });
  const createButton = h('button', { type: 'button', class: 'rg-campaign-new' });
  const printButton = h('button', { type: 'button', class: 'rg-campaign-print' });
  const actions = h('div', { class: 'rg-campaign-actions' }, mayPlan ? createButton : null, printButton);
  const form = h('form', { class: 'rg-campaign-form', hidden: true, novalidate: true });
  const element = h('aside', { class: 'rg-leaders rg-campaign-panel' }, heading, summary, actions, form);

  const picker = createAreaPicker(map, () => renderArea(), (on) => popups.suspend(on));
  let tool: AreaTool | undefined;
  let members: Member[] | undefined;
  const team = new Set<number>();
  let filterText = '';
  let message: { text: string; refused: boolean } | undefined;
  let working = false;
  /** The campaign just planned here, said under the summary. */
  let created: { id: number; blocks: number; days: number } | undefined;

  // The form's parts, built once and labelled in the page's language by `render`.
  const areaHeading = h('h3', null);
  const drawButton = h('button', { type: 'button', class: 'rg-campaign-draw' });
  const gridsButton = h('button', { type: 'button', class: 'rg-campaign-grids' });
  const areaStatus = h('p', { class: 'rg-campaign-area-status', role: 'status' });
  const teamHeading = h('h3', null);
  const filter = h('input', { type: 'search', class: 'rg-campaign-filter' });
  const teamList = h('div', { class: 'rg-campaign-team', role: 'group' });
  const datesHeading = h('h3', null);
  const startLabel = h('span');
  const start = h('input', { type: 'date', class: 'rg-campaign-start', value: localToday(), required: true });
  const daysLabel = h('span');
  const days = h('input', { type: 'number', class: 'rg-campaign-days', min: 1, max: 260, value: 20, required: true });
  const perDayLabel = h('span');
  const perDay = h('input', { type: 'number', class: 'rg-campaign-per-day', min: 1, max: 50, value: 8, required: true });
  const submit = h('button', { type: 'submit', class: 'rg-campaign-submit' });
  const cancel = h('button', { type: 'button', class: 'rg-campaign-cancel' });
  const formMessage = h('p', { class: 'rg-campaign-message', role: 'alert' });
  form.append(
    areaHeading,
    h('div', { class: 'rg-campaign-tools' }, drawButton, gridsButton),
    areaStatus,
    teamHeading,
    filter,
    teamList,
    datesHeading,
    h('label', null, startLabel, start),
    h('label', null, daysLabel, days),
    h('label', null, perDayLabel, perDay),
    h('div', { class: 'rg-campaign-actions' }, submit, cancel),
    formMessage,
  );

  const renderArea = () => {
    const area = picker.area();
    drawButton.setAttribute('aria-pressed', String(tool === 'draw'));
    gridsButton.setAttribute('aria-pressed', String(tool === 'grids'));
    areaStatus.textContent = area
      ? 'polygon' in area
        ? t('drawn')
        : t('gridsPicked', { n: area.grids.length })
      : tool === 'draw'
        ? t('drawHint')
        : tool === 'grids'
          ? t('gridsHint')
          : '';
    if (area && 'polygon' in area) {
      // A drawn polygon is done: the map's clicks go back to popups.
      tool = undefined;
      picker.stop();
      drawButton.setAttribute('aria-pressed', 'false');
      drawButton.textContent = t('redraw');
    } else {
      drawButton.textContent = t('draw');
    }
  };

  const renderTeam = () => {
    if (!members) return;
    const shownMembers = members.filter((m) => filterText === '' || m.name.includes(filterText));
    teamList.replaceChildren(
      ...shownMembers.map((m) => {
        const box = h('input', { type: 'checkbox', value: m.id, checked: team.has(m.id) });
        box.addEventListener('change', () => {
          if (box.checked) team.add(m.id);
          else team.delete(m.id);
          teamHeading.textContent = `${t('team')} · ${t('teamPicked', { n: team.size })}`;
        });
        return h('label', { class: 'rg-campaign-member' }, box, ' ', m.name);
      }),
    );
    teamHeading.textContent = `${t('team')} · ${t('teamPicked', { n: team.size })}`;
  };

  const render = () => {
    heading.textContent = t('heading');
    const shown = layer.shown();
    summary.textContent = shown
      ? t('shown', { id: shown.campaign.id, blocks: shown.campaign.blocks.features.length, date: shown.date ?? '' })
      : t('none');
    if (created && shown?.campaign.id === created.id) summary.textContent += ` — ${t('created', created)}`;
    createButton.textContent = t('create');
    printButton.textContent = t('print');
    printButton.disabled = !shown?.routes?.features.some((f) => f.properties.kind === 'stop');
    printButton.title = printButton.disabled ? t('noDay') : '';
    areaHeading.textContent = t('area');
    gridsButton.textContent = t('pickGrids');
    filter.placeholder = t('filter');
    datesHeading.textContent = t('dates');
    startLabel.textContent = t('start');
    daysLabel.textContent = t('days');
    perDayLabel.textContent = t('perDay');
    submit.textContent = working ? t('working') : t('submit');
    submit.disabled = working;
    cancel.textContent = t('cancel');
    formMessage.textContent = message?.text ?? '';
    formMessage.classList.toggle('rg-refused', message?.refused ?? false);
    renderArea();
    renderTeam();
  };

  const useTool = (next: AreaTool) => {
    tool = next;
    picker.start(next);
    message = undefined;
    render();
  };
  drawButton.addEventListener('click', () => useTool('draw'));
  gridsButton.addEventListener('click', () => useTool('grids'));
  filter.addEventListener('input', () => {
    filterText = filter.value.trim();
    renderTeam();
  });

  const close = () => {
    form.hidden = true;
    tool = undefined;
    picker.clear();
    createButton.hidden = false;
  };
  cancel.addEventListener('click', () => {
    message = undefined;
    close();
    render();
  });
  createButton.addEventListener('click', () => {
    form.hidden = false;
    createButton.hidden = true;
    message = undefined;
    render();
    if (!members) {
      // The caseworkers the user may see, by name: those of their 包干 areas.
      fetchCoverage()
        .then((coverage) => {
          const byId = new Map<number, string>();
          for (const f of coverage.features) {
            if (f.properties.kind === 'area') byId.set(f.properties.caseworker_id, f.properties.name);
          }
          members = [...byId].map(([id, name]) => ({ id, name })).sort((a, b) => a.name.localeCompare(b.name, 'zh-CN'));
          renderTeam();
        })
        .catch(onError);
    }
    useTool('draw');
  });

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const area = picker.area();
    const dayCount = Number(days.value);
    message = undefined;
    if (!area) message = { text: t('needArea'), refused: true };
    else if (team.size === 0) message = { text: t('needTeam'), refused: true };
    else if (!start.value || !(dayCount >= 1) || !(Number(perDay.value) >= 1)) message = { text: t('badNumber'), refused: true };
    if (message?.refused || !area) {
      render();
      return;
    }
    const body: CampaignRequest = {
      ...('polygon' in area ? { polygon: area.polygon } : { grids: area.grids }),
      caseworkers: [...team].sort((a, b) => a - b),
      start_date: start.value,
      working_days: Math.round(dayCount),
      buildings_per_day: Math.round(Number(perDay.value)),
    };
    working = true;
    message = undefined;
    render();
    createCampaign(body)
      .then(async (campaign) => {
        working = false;
        close();
        created = { id: campaign.id, blocks: campaign.blocks.features.length, days: campaign.plan.days.length };
        await layer.show(campaign.id);
        summary.dataset.created = String(campaign.id);
        render();
      })
      .catch((error: unknown) => {
        working = false;
        message = { text: planRefusal(error, Math.round(dayCount)), refused: true };
        render();
      });
  });

  printButton.addEventListener('click', () => {
    const shown = layer.shown();
    if (shown?.routes && shown.date) void openRouteSheets(map, layer, shown.campaign, shown.date, shown.routes).catch(onError);
  });

  const offLang = onLangChange(render);
  render();
  // The layer reloads on data changes: keep the summary and the print button in step.
  const onData = () => {
    if (!working && form.hidden) render();
  };
  map.on('idle', onData);
  return {
    element,
    destroy() {
      offLang();
      map.off('idle', onData);
      picker.destroy();
      element.remove();
    },
  };
}
