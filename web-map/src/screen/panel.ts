/**
 * The command center's big screen (指挥中心大屏, `?view=screen`): around the grid map, KPI cards
 * (the rates against their targets, each beside its estimated actual rate; persons and rental
 * units registered and visits made today and this month; open hazard cases; the campaigns'
 * progress), the KPIs month by month as charts, the street ranking and the latest visits. Every
 * figure comes from one `GET /api/summary` answer (one data snapshot, whose time is shown), read
 * again as soon as the server pushes a change within the user's scope. The display scale's picker
 * (`ui/scale.ts`, shared by every view) sits in its head: a 4K wall reads it as a desktop does.
 */
import { init, use, type EChartsType } from 'echarts/core';
import { LineChart } from 'echarts/charts';
import { GridComponent, LegendComponent, MarkLineComponent, TooltipComponent } from 'echarts/components';
import { CanvasRenderer } from 'echarts/renderers';
import { fetchCampaignProgress, fetchPlaceRows, fetchSummary, type District, type PlaceRow, type Summary } from '../api';
import { formatCount, formatPct, formatTarget, formatWholePct } from '../format';
import { defineStrings, getLang, onLangChange } from '../i18n';
import { h } from '../ui/dom';
import { exportButtons } from '../ui/export';
import { createScalePicker, onScaleChange } from '../ui/scale';
import './screen.css';

use([LineChart, GridComponent, LegendComponent, MarkLineComponent, TooltipComponent, CanvasRenderer]);

export const tScreen = defineStrings(
  'screen',
  {
    title: '指挥中心大屏',
    updated: '数据更新于 {time}',
    reg_rate: '流动人口登记率',
    rental_rate: '出租房屋登记率',
    permit_rate: '登记做证率',
    pledge_rate: '保证书签订率',
    target: '目标 ≥{target}',
    estimate: '估计实际 {est}（{low}–{high}）',
    noEstimate: '估计实际：暂无',
    persons: '登记流动人口',
    units: '登记出租房屋',
    visits: '走访',
    today: '今日 {n}',
    month: '本月 {n}',
    hazards: '未销号隐患',
    hazardsNote: '整改中的隐患案件',
    campaigns: '蚕食法专项行动',
    campaignProgress: '{done}/{blocks} 个区块已巩固 · 已走访 {share}',
    noCampaigns: '暂无专项行动',
    trend: '月度趋势',
    ranking: '街道排名',
    feed: '最新走访',
    feedItem: '{grid} · {address}',
    feedCounts: '登记 {units} 套 · 保证书 {pledges} · 新发现 {found} 套 / {persons} 人',
    anonymous: '未记录',
    noVisits: '暂无走访',
    meets: '达标',
    below: '未达标',
    met: '达标',
    missed: '未达标',
    uncertain: '不确定',
  },
  {
    title: 'Command center',
    updated: 'Data as of {time}',
    reg_rate: 'Migrant registration',
    rental_rate: 'Rental registration',
    permit_rate: 'Registered with permit',
    pledge_rate: 'Pledges signed',
    target: 'target ≥{target}',
    estimate: 'Estimated actual {est} ({low}–{high})',
    noEstimate: 'Estimated actual: none yet',
    persons: 'Migrants registered',
    units: 'Rental units registered',
    visits: 'Visits',
    today: 'today {n}',
    month: 'this month {n}',
    hazards: 'Open hazard cases',
    hazardsNote: 'cases not yet verified rectified',
    campaigns: 'Sweep campaigns (蚕食法)',
    campaignProgress: '{done}/{blocks} blocks consolidated · {share} visited',
    noCampaigns: 'No campaigns',
    trend: 'By month',
    ranking: 'Streets ranked',
    feed: 'Latest visits',
    feedItem: '{grid} · {address}',
    feedCounts: 'units registered: {units} · pledges: {pledges} · units found: {found} · persons found: {persons}',
    anonymous: 'not recorded',
    noVisits: 'No visits yet',
    meets: 'meets',
    below: 'below',
    met: 'met',
    missed: 'missed',
    uncertain: 'uncertain',
  },
);

/** The rates a card shows, each with its target. */
const RATE_CARDS = ['reg_rate', 'rental_rate', 'permit_rate', 'pledge_rate'] as const;
type RateCard = (typeof RATE_CARDS)[number];

/** A card: a label, a big value, and a line or two of detail. */
function card(key: string, label: string, value: string, ...detail: (HTMLElement | string)[]): HTMLElement {
  return h(
    'section',
    { class: 'rg-card', 'data-card': key },
    h('h3', { class: 'rg-card-label' }, label),
    h('p', { class: 'rg-card-value' }, value),
    ...detail.map((d) => (typeof d === 'string' ? h('p', { class: 'rg-card-detail' }, d) : d)),
  );
}

/** The rate cards: the register's rate against its target, and for the two rates the estimate
 * has, the estimated actual rate with its 90% interval and verdict. */
function rateCard(s: Summary, k: RateCard): HTMLElement {
  const rate = s.kpi[k];
  const target = s.targets[k];
  const ok = rate !== null && rate >= target;
  const status = h('span', { class: `rg-card-status ${ok ? 'rg-meets' : 'rg-below'}` }, rate === null ? '—' : ok ? tScreen('meets') : tScreen('below'));
  const lines: HTMLElement[] = [h('p', { class: 'rg-card-detail' }, tScreen('target', { target: formatTarget(target) }), ' ', status)];
  const est = k === 'reg_rate' ? s.rates.reg_rate_est : k === 'rental_rate' ? s.rates.rental_rate_est : undefined;
  if (est !== undefined) {
    const low = k === 'reg_rate' ? s.rates.reg_rate_est_low : s.rates.rental_rate_est_low;
    const high = k === 'reg_rate' ? s.rates.reg_rate_est_high : s.rates.rental_rate_est_high;
    const verdict = k === 'reg_rate' ? s.rates.reg_rate_verdict : s.rates.rental_rate_verdict;
    const text =
      est === null || low === null || high === null
        ? tScreen('noEstimate')
        : tScreen('estimate', { est: formatWholePct(est), low: formatWholePct(low), high: formatWholePct(high) });
    lines.push(
      h(
        'p',
        { class: `rg-card-detail rg-estimate ${verdict === 'met' ? 'rg-meets' : verdict === 'missed' ? 'rg-below' : 'rg-near'}` },
        text,
        verdict ? ` ${tScreen(verdict)}` : '',
      ),
    );
  }
  return card(k, tScreen(k), formatPct(rate), ...lines);
}

function tallyCard(key: 'persons' | 'units' | 'visits', s: Summary): HTMLElement {
  const field = key === 'persons' ? 'persons_registered' : key === 'units' ? 'units_registered' : 'visits';
  return card(
    key,
    tScreen(key),
    formatCount(s.today[field]),
    h('p', { class: 'rg-card-detail' }, tScreen('today', { n: formatCount(s.today[field]) }), ' · ', tScreen('month', { n: formatCount(s.month[field]) })),
  );
}

/** The line chart of the rates month by month, with the targets as dashed lines. */
function trendOption(s: Summary) {
  const months = s.trend.map((p) => p.month);
  const series = (['reg_rate', 'rental_rate'] as const).map((k) => ({
    name: tScreen(k),
    type: 'line' as const,
    data: s.trend.map((p) => (p[k] === null ? null : Math.round(p[k] * 1000) / 10)),
    markLine: { symbol: 'none', lineStyle: { type: 'dashed' as const }, label: { position: 'insideEndTop' as const, formatter: `${tScreen('target', { target: formatTarget(s.targets[k]) })}` }, data: [{ yAxis: s.targets[k] * 100 }] },
  }));
  return {
    animation: false,
    textStyle: { fontSize: 12 },
    tooltip: { trigger: 'axis' as const, valueFormatter: (v: unknown) => (typeof v === 'number' ? `${v.toFixed(1)}%` : '—') },
    legend: { top: 0 },
    grid: { left: 44, right: 16, top: 32, bottom: 24 },
    xAxis: { type: 'category' as const, data: months },
    yAxis: { type: 'value' as const, min: (v: { min: number }) => Math.floor(Math.min(v.min, 80) / 5) * 5, max: 100, axisLabel: { formatter: '{value}%' } },
    series,
  };
}

/** Streets ranked by registration rate, highest first. */
function rankingList(rows: PlaceRow[], s: Summary): HTMLElement {
  const sorted = [...rows].sort((a, b) => (b.reg_rate ?? -1) - (a.reg_rate ?? -1) || a.code.localeCompare(b.code));
  return h(
    'ol',
    { class: 'rg-screen-ranking' },
    ...sorted.map((r) => {
      const ok = r.reg_rate !== null && r.reg_rate >= s.targets.reg_rate;
      return h(
        'li',
        { 'data-code': r.code },
        h('span', { class: 'rg-rank-name' }, r.name),
        h('span', { class: `rg-rank-rate ${ok ? 'rg-meets' : 'rg-below'}` }, formatPct(r.reg_rate)),
      );
    }),
  );
}

function feedList(s: Summary): HTMLElement | null {
  if (s.recent === null) return null;
  if (s.recent.length === 0) return h('p', { class: 'rg-screen-empty' }, tScreen('noVisits'));
  return h(
    'ol',
    { class: 'rg-feed' },
    ...s.recent.map((v) =>
      h(
        'li',
        { 'data-visit': v.id },
        h('span', { class: 'rg-feed-day' }, v.day),
        ' ',
        h('span', { class: 'rg-feed-who' }, v.caseworker ?? tScreen('anonymous')),
        h('br'),
        h('span', { class: 'rg-feed-where' }, tScreen('feedItem', { grid: v.grid_name, address: v.address })),
        h('br'),
        h(
          'small',
          null,
          tScreen('feedCounts', { units: v.units_registered, pledges: v.pledges_signed, found: v.units_found, persons: v.persons_found }),
        ),
      ),
    ),
  );
}

export interface ScreenPanel {
  /** The cards, charts, ranking and feed around the map. */
  element: HTMLElement;
  /** Reads the figures again (after a pushed change); concurrent calls coalesce. */
  refresh(): Promise<void>;
  destroy(): void;
}

/** Builds the big screen's panels; `showsCampaigns`: the user may read the campaigns. */
export async function createScreenPanel(district: District, showsCampaigns: boolean, reportError: (e: unknown) => void): Promise<ScreenPanel> {
  const scalePicker = createScalePicker();
  const updated = h('time', { class: 'rg-screen-updated' });
  const title = h('h2', { class: 'rg-screen-title' });
  const head = h('div', { class: 'rg-screen-head' }, title, updated, scalePicker.element);
  const cards = h('div', { class: 'rg-screen-cards' });
  const chartBox = h('div', { class: 'rg-screen-chart' });
  const trendHead = h('h3', null);
  const rankingHead = h('h3', null);
  const rankingExport = h('span');
  const ranking = h('div', { class: 'rg-screen-ranking-box' });
  const feedHead = h('h3', null);
  const feed = h('div', { class: 'rg-screen-feed' });
  const left = h('aside', { class: 'rg-screen-left' }, head, cards);
  const right = h('aside', { class: 'rg-screen-right' }, trendHead, chartBox, h('div', { class: 'rg-table-head' }, rankingHead, rankingExport), ranking, feedHead, feed);
  const element = h('div', { class: 'rg-screen' }, left, right);

  let chart: EChartsType | undefined;
  let last: Summary | undefined;
  let streets: PlaceRow[] = [];
  let campaigns: Awaited<ReturnType<typeof fetchCampaignProgress>> = [];
  // The chart is drawn at its box's size, which it has only once the panel is on the page.
  const sized = new ResizeObserver(() => chart?.resize());
  sized.observe(chartBox);

  const render = () => {
    title.textContent = `${district.name} · ${tScreen('title')}`;
    trendHead.textContent = tScreen('trend');
    rankingHead.textContent = tScreen('ranking');
    rankingExport.replaceChildren(exportButtons('streets', tScreen('ranking')));
    feedHead.textContent = tScreen('feed');
    const s = last;
    if (!s) return;
    const time = new Date(s.updated);
    updated.dateTime = s.updated;
    updated.textContent = tScreen('updated', { time: time.toLocaleString(getLang()) });
    element.dataset.version = String(s.version);
    const campaignCard = showsCampaigns
      ? card(
          'campaigns',
          tScreen('campaigns'),
          formatCount(campaigns.length),
          ...(campaigns.length === 0
            ? [tScreen('noCampaigns')]
            : campaigns.map((c) =>
                tScreen('campaignProgress', {
                  done: c.consolidate,
                  blocks: c.blocks,
                  share: formatWholePct(c.share_visited),
                }),
              )),
        )
      : null;
    cards.replaceChildren(
      ...RATE_CARDS.map((k) => rateCard(s, k)),
      tallyCard('persons', s),
      tallyCard('units', s),
      tallyCard('visits', s),
      card('hazards', tScreen('hazards'), formatCount(s.hazards_open), tScreen('hazardsNote')),
      ...(campaignCard ? [campaignCard] : []),
    );
    ranking.replaceChildren(rankingList(streets, s));
    const list = feedList(s);
    feedHead.hidden = list === null;
    feed.replaceChildren(...(list ? [list] : []));
    chart ??= init(chartBox, undefined, { renderer: 'canvas' });
    chart.setOption(trendOption(s), true);
  };

  let pending: Promise<void> | undefined;
  let again = false;
  const load = async () => {
    const [s, rows, cs] = await Promise.all([
      fetchSummary(),
      fetchPlaceRows('street'),
      showsCampaigns ? fetchCampaignProgress() : Promise.resolve([]),
    ]);
    last = s;
    streets = rows;
    campaigns = cs;
    render();
  };
  const refresh = (): Promise<void> => {
    if (pending) {
      again = true;
      return pending;
    }
    pending = (async () => {
      try {
        do {
          again = false;
          await load();
        } while (again);
      } catch (e) {
        reportError(e);
      } finally {
        pending = undefined;
      }
    })();
    return pending;
  };

  // The chart draws its text at the scale's size.
  const offScale = onScaleChange(() => chart?.resize());
  const offLang = onLangChange(render);
  await load();
  return {
    element,
    refresh,
    destroy() {
      offScale();
      scalePicker.destroy();
      offLang();
      sized.disconnect();
      chart?.dispose();
    },
  };
}
