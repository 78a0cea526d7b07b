/**
 * The leaders' panel (领导视图): the month slider and metric of the hot-spot layer, the ranking
 * of streets and communities against the targets with each rate's change since the month before,
 * each street's registration rate month by month (a chart; a street's own two rates once it is
 * clicked in the ranking or on the map), two months side by side (`compare.ts`), and the link to
 * the printable monthly report. Everything it requests is an aggregate: hot spots per grid and
 * KPIs per street and community.
 */
import type { Map as MapLibreMap, MapMouseEvent } from 'maplibre-gl';
import { fetchPlaceRows, type District, type HotspotMetric } from '../api';
import { formatMonth } from '../format';
import { defineStrings, onLangChange } from '../i18n';
import type { HotspotsLayer } from '../layers/hotspots';
import { tHot } from '../layers/hotspots';
import { h } from '../ui/dom';
import { BOUNDARIES } from '../layers/basemap';
import type { ComparePane } from './compare';
import { renderRanking } from './ranking';
import type { MonthRows, TrendChart } from './trend';

const t = defineStrings(
  'leaders',
  {
    title: '领导视图',
    month: '月份',
    monthValue: '{month}末',
    monthToDate: '{month}，截至今日',
    metric: '冷热点指标',
    ranking: '目标考核排名（{when}）',
    report: '打印月报',
    trend: '各街道登记率趋势（月末）',
    streetTrend: '{street}登记率趋势（月末）',
    allStreets: '全部街道',
    compare: '两月对比',
    compareOff: '结束对比',
    compareWith: '对比月份（右侧地图）',
    compareWithNarrow: '对比月份（下方地图）',
  },
  {
    title: 'Leaders',
    month: 'Month',
    monthValue: 'end of {month}',
    monthToDate: '{month}, to date',
    metric: 'Hot-spot metric',
    ranking: 'Ranking against the targets ({when})',
    report: 'Print the monthly report',
    trend: 'Registration rate by street, month by month',
    streetTrend: '{street}: registration rates, month by month',
    allStreets: 'All streets',
    compare: 'Compare two months',
    compareOff: 'End the comparison',
    compareWith: 'Compared month (right map)',
    compareWithNarrow: 'Compared month (lower map)',
  },
);

const METRICS: HotspotMetric[] = ['unregistered_per_km2', 'reg_rate', 'rental_rate', 'persons_per_km2'];

export interface LeadersPanel {
  element: HTMLElement;
  destroy(): void;
}

/** The invisible street areas a click on the map is matched against. */
const STREET_PICK = 'leaders-street-pick';

/** Builds the panel over the hot-spot layer of `map`; `onError` reports failed requests. */
export async function createLeadersPanel(
  district: District,
  hotspots: HotspotsLayer,
  map: MapLibreMap,
  onError: (e: unknown) => void,
): Promise<LeadersPanel> {
  const months = hotspots.current()?.description.months_available ?? [];
  let index = months.length - 1;
  const slider = h('input', {
    type: 'range',
    class: 'rg-month-slider',
    min: 0,
    max: Math.max(months.length - 1, 0),
    step: 1,
    value: Math.max(index, 0),
    disabled: months.length === 0,
  });
  const monthLabel = h('output', { class: 'rg-month' });
  const select = h('select', { class: 'rg-metric' });
  const report = h('a', { class: 'rg-report-link', target: '_blank', rel: 'noopener' });
  const ranking = h('div', { class: 'rg-ranking-slot' });
  const heading = h('h2', null);
  const labels = { month: h('label', null), metric: h('label', { class: 'rg-metric-label' }), ranking: h('h3', { class: 'rg-ranking-title' }), trend: h('h3', null) };
  const trendBox = h('div', { class: 'rg-leaders-trend' });
  const allStreets = h('button', { type: 'button', class: 'rg-trend-all', hidden: true });
  const compareButton = h('button', { type: 'button', class: 'rg-compare-toggle', 'aria-pressed': 'false' });
  const compareLabel = h('label', { class: 'rg-compare-label', hidden: true });
  const compareSelect = h('select', { class: 'rg-compare-month', hidden: true });
  // The months of each map, written on them while comparing.
  const badgeA = h('div', { class: 'rg-compare-badge rg-compare-badge-main' });
  const badgeB = h('div', { class: 'rg-compare-badge' });
  const element = h(
    'aside',
    { class: 'rg-leaders' },
    heading,
    labels.month,
    h('div', { class: 'rg-month-row' }, slider, monthLabel),
    labels.metric,
    select,
    h('div', { class: 'rg-compare-row' }, compareButton, report),
    compareLabel,
    compareSelect,
    h('div', { class: 'rg-trend-head' }, labels.trend, allStreets),
    trendBox,
    labels.ranking,
    ranking,
  );

  const month = () => (index >= 0 ? months[index] : undefined);
  // The metric the user chose: read from the selector when it changes, before the options are
  // rebuilt (the layer's own metric changes only once its answer has come).
  let chosen: HotspotMetric = hotspots.metric();
  // The street whose own trend is shown (none: every street's registration rate).
  let focus: string | undefined;
  let history: MonthRows[] = [];
  // Two months side by side: the second map, and its month.
  let pane: ComparePane | undefined;
  let compared: string | undefined;
  const monthWords = (i: number) =>
    !months[i] ? '—' : t(i === months.length - 1 ? 'monthToDate' : 'monthValue', { month: formatMonth(months[i]!) });
  const render = () => {
    heading.textContent = t('title');
    labels.month.textContent = t('month');
    labels.metric.textContent = t('metric');
    // The history's last month is the current one, unfinished: today's register, not a month's end.
    const when = monthWords(index);
    labels.ranking.textContent = t('ranking', { when });
    const street = focus ? history.at(-1)?.rows.find((r) => r.code === focus)?.name : undefined;
    labels.trend.textContent = street ? t('streetTrend', { street }) : t('trend');
    allStreets.textContent = t('allStreets');
    allStreets.hidden = !street;
    compareButton.textContent = pane ? t('compareOff') : t('compare');
    compareButton.setAttribute('aria-pressed', String(pane !== undefined));
    compareLabel.textContent = window.matchMedia('(max-width: 719px)').matches ? t('compareWithNarrow') : t('compareWith');
    // Only complete months are compared (not the current month to date).
    compareSelect.replaceChildren(
      ...months.slice(0, -1).map((m, i) => h('option', { value: m, selected: m === compared }, monthWords(i))),
    );
    badgeA.textContent = when;
    badgeB.textContent = compared ? monthWords(months.indexOf(compared)) : '';
    monthLabel.textContent = when;
    select.replaceChildren(
      ...METRICS.map((m) => h('option', { value: m, selected: m === chosen }, tHot(m))),
    );
    const q = new URLSearchParams({ metric: chosen });
    if (month()) q.set('month', month()!);
    report.href = `report.html?${q}`;
    report.textContent = t('report');
  };
  const update = () => {
    render();
    element.dataset.month = month() ?? '';
    element.dataset.metric = chosen;
    hotspots
      .show(chosen, month())
      .then(() => {
        element.dataset.shown = month() ?? '';
        element.dataset.shownMetric = chosen;
      })
      .catch(onError);
    if (pane && compared) void pane.show(chosen, compared).catch(onError);
  };
  // The ranking follows the slider; a slower answer for an earlier month never replaces a later one.
  let asked = 0;
  const renderTable = async () => {
    const ticket = ++asked;
    try {
      const table = await renderRanking(district, month(), index > 0 ? months[index - 1] : undefined);
      if (ticket === asked) ranking.replaceChildren(table);
    } catch (e) {
      onError(e);
    }
  };
  slider.addEventListener('input', () => {
    index = Number(slider.value);
    update();
    void renderTable();
  });
  select.addEventListener('change', () => {
    chosen = select.value as HotspotMetric;
    update();
  });
  // The trend: every month's street rows, read once; ECharts loads with the chart only.
  let trend: TrendChart | undefined;
  const drawTrend = async () => {
    history = await Promise.all(months.map(async (m) => ({ month: m, rows: await fetchPlaceRows('street', m) })));
    const { createTrendChart } = await import('./trend');
    trend ??= createTrendChart(trendBox, district);
    trend.draw(history, focus);
    render();
  };
  const focusStreet = (code: string | undefined) => {
    focus = code;
    trend?.draw(history, focus);
    render();
  };
  allStreets.addEventListener('click', () => focusStreet(undefined));
  // A street's ranking row shows its trend (and opens it in the drill-down, see drill/index.ts).
  ranking.addEventListener('click', (event) => {
    const row = (event.target as Element).closest<HTMLElement>('tr[data-place^="street:"]');
    if (row?.dataset.code) focusStreet(row.dataset.code);
  });
  // So does a click on a street on the map: matched against its area, drawn invisible.
  if (map.getSource(BOUNDARIES) && !map.getLayer(STREET_PICK)) {
    map.addLayer(
      {
        id: STREET_PICK,
        type: 'fill',
        source: BOUNDARIES,
        'source-layer': 'boundary_areas',
        filter: ['==', ['get', 'kind'], 'street'],
        paint: { 'fill-opacity': 0 },
      },
      map.getStyle().layers.find((l) => l.id.startsWith('heat'))?.id,
    );
  }
  const onMapClick = (event: MapMouseEvent) => {
    const code = map.queryRenderedFeatures(event.point, { layers: [STREET_PICK] })[0]?.properties?.code;
    if (typeof code === 'string') focusStreet(code);
  };
  map.on('click', onMapClick);

  // Two months side by side: the main map keeps the slider's month, the second map the one chosen.
  const host = () => element.parentElement;
  const startCompare = async () => {
    const where = host();
    if (!where || months.length < 3) return;
    // Complete months only: from the current month to date back to the last complete one.
    if (index >= months.length - 1) index = months.length - 2;
    slider.max = String(months.length - 2);
    slider.value = String(index);
    compared = months[0] === months[index] ? months[1] : months[0];
    const { openComparePane } = await import('./compare');
    pane = await openComparePane(where, map, district, badgeB, onError);
    where.append(badgeA);
    element.classList.add('rg-compact');
    compareLabel.hidden = false;
    compareSelect.hidden = false;
    update();
    void renderTable();
  };
  const endCompare = () => {
    pane?.destroy();
    pane = undefined;
    compared = undefined;
    badgeA.remove();
    element.classList.remove('rg-compact');
    compareLabel.hidden = true;
    compareSelect.hidden = true;
    slider.max = String(Math.max(months.length - 1, 0));
    render();
  };
  compareButton.disabled = months.length < 3;
  compareButton.addEventListener('click', () => {
    if (pane) endCompare();
    else void startCompare().catch(onError);
  });
  compareSelect.addEventListener('change', () => {
    compared = compareSelect.value;
    render();
    if (pane) void pane.show(chosen, compared).catch(onError);
  });
  const stopLang = onLangChange(() => {
    render();
    void renderTable();
    trend?.draw(history, focus);
    pane?.render();
  });
  // The compared map is beside the main one, or below it on a phone: the label says which.
  const narrow = window.matchMedia('(max-width: 719px)');
  narrow.addEventListener('change', render);
  const stop = () => {
    stopLang();
    narrow.removeEventListener('change', render);
  };
  render();
  element.dataset.month = month() ?? '';
  element.dataset.shown = month() ?? '';
  await renderTable();
  // The chart needs the panel on the page to take its size: drawn once the caller placed it.
  requestAnimationFrame(() => void drawTrend().catch(onError));
  return {
    element,
    destroy() {
      stop();
      map.off('click', onMapClick);
      endCompare();
      trend?.destroy();
    },
  };
}
