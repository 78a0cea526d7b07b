/**
 * The leaders' panel (领导视图): the month slider and metric of the hot-spot layer, the ranking
 * of streets and communities against the targets with each rate's change since the month before,
 * each street's registration rate month by month (a chart), and the link to the printable monthly
 * report. Everything it requests is an aggregate: hot spots per grid and KPIs per street and
 * community.
 */
import { fetchPlaceRows, type District, type HotspotMetric } from '../api';
import { defineStrings, onLangChange } from '../i18n';
import type { HotspotsLayer } from '../layers/hotspots';
import { tHot } from '../layers/hotspots';
import { h } from '../ui/dom';
import { renderRanking } from './ranking';
import type { MonthRows, TrendChart } from './trend';

const t = defineStrings(
  'leaders',
  {
    title: '领导视图',
    month: '月份',
    monthValue: '{month} 月末',
    monthToDate: '{month} 月至今（今日）',
    metric: '冷热点指标',
    ranking: '目标考核排名（{when}）',
    report: '打印月报',
    trend: '各街道登记率趋势（月末）',
  },
  {
    title: 'Leaders',
    month: 'Month',
    monthValue: 'end of {month}',
    monthToDate: '{month} to date (today)',
    metric: 'Hot-spot metric',
    ranking: 'Ranking against the targets ({when})',
    report: 'Print the monthly report',
    trend: 'Registration rate by street, month by month',
  },
);

const METRICS: HotspotMetric[] = ['unregistered_per_km2', 'reg_rate', 'rental_rate', 'persons_per_km2'];

export interface LeadersPanel {
  element: HTMLElement;
  destroy(): void;
}

/** Builds the panel over the hot-spot layer; `onError` reports failed requests. */
export async function createLeadersPanel(
  district: District,
  hotspots: HotspotsLayer,
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
  const labels = { month: h('label', null), metric: h('label', null), ranking: h('h3', { class: 'rg-ranking-title' }), trend: h('h3', null) };
  const trendBox = h('div', { class: 'rg-leaders-trend' });
  const element = h(
    'aside',
    { class: 'rg-leaders' },
    heading,
    labels.month,
    h('div', { class: 'rg-month-row' }, slider, monthLabel),
    labels.metric,
    select,
    report,
    labels.trend,
    trendBox,
    labels.ranking,
    ranking,
  );

  const month = () => (index >= 0 ? months[index] : undefined);
  // The metric the user chose: read from the selector when it changes, before the options are
  // rebuilt (the layer's own metric changes only once its answer has come).
  let chosen: HotspotMetric = hotspots.metric();
  const render = () => {
    heading.textContent = t('title');
    labels.month.textContent = t('month');
    labels.metric.textContent = t('metric');
    // The history's last month is the current one, unfinished: today's register, not a month's end.
    const when = !month()
      ? '—'
      : index === months.length - 1
        ? t('monthToDate', { month: month()! })
        : t('monthValue', { month: month()! });
    labels.ranking.textContent = t('ranking', { when });
    labels.trend.textContent = t('trend');
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
  let history: MonthRows[] = [];
  const drawTrend = async () => {
    history = await Promise.all(months.map(async (m) => ({ month: m, rows: await fetchPlaceRows('street', m) })));
    const { createTrendChart } = await import('./trend');
    trend ??= createTrendChart(trendBox, district);
    trend.draw(history);
  };
  const stop = onLangChange(() => {
    render();
    void renderTable();
    trend?.draw(history);
  });
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
      trend?.destroy();
    },
  };
}
