/**
 * A place's trend (走势): its migrant registration rate and rental registration rate at the end
 * of each month, as a small SVG line chart with each rate's target as a dashed line, and the
 * month-over-month change in words. No chart library: two lines need none.
 */
import { formatPct, formatTarget } from '../format';
import { defineStrings } from '../i18n';
import { h } from '../ui/dom';

export const tTrend = defineStrings(
  'trend',
  {
    title: '走势（月末）',
    building: '所在楼栋走势（月末）',
    reg_rate: '流动人口登记率',
    rental_rate: '出租房屋登记率',
    target: '目标 {target}',
    change: '较上月 {sign}{points} 个百分点',
    flat: '与上月持平',
    none: '没有按月的历史',
    chart: '{first} 至 {last} 各月末的登记率与目标',
  },
  {
    title: 'Trend (end of month)',
    building: 'Trend of its building (end of month)',
    reg_rate: 'Migrant registration',
    rental_rate: 'Rental registration',
    target: 'target {target}',
    change: '{sign}{points} points on the month before',
    flat: 'unchanged on the month before',
    none: 'No monthly history',
    chart: 'Registration rates and targets at the end of each month, {first} to {last}',
  },
);

/** One month of the trend. */
export interface TrendPoint {
  month: string;
  reg_rate: number | null;
  rental_rate: number | null;
}

/** The series drawn, with their colours. */
const SERIES = [
  ['reg_rate', '#1f4e9c'],
  ['rental_rate', '#11898b'],
] as const;

const W = 340;
const H = 120;
const PAD = { left: 34, right: 8, top: 8, bottom: 18 };
const SVG = 'http://www.w3.org/2000/svg';

function svg<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number>): SVGElementTagNameMap[K] {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  return e;
}

/** The change of `key` over the last two months in words, or null without two values. */
function change(points: TrendPoint[], key: 'reg_rate' | 'rental_rate'): string | null {
  const [a, b] = [points.at(-2)?.[key], points.at(-1)?.[key]];
  if (a === null || a === undefined || b === null || b === undefined) return null;
  const d = Math.round((b - a) * 1000) / 10;
  if (d === 0) return tTrend('flat');
  return tTrend('change', { sign: d > 0 ? '+' : '−', points: Math.abs(d).toFixed(1) });
}

/** The trend of a place with its targets, under `title` (default: 走势（月末）). */
export function renderTrend(points: TrendPoint[], targets: { reg_rate: number; rental_rate: number }, title = tTrend('title')): HTMLElement {
  if (points.length === 0) return h('section', { class: 'rg-drill-trend' }, h('h4', null, title), h('p', { class: 'rg-drill-note' }, tTrend('none')));
  const values = points.flatMap((p) => SERIES.map(([k]) => p[k]).filter((v): v is number => v !== null));
  const lo = Math.max(0, Math.floor((Math.min(...values, targets.reg_rate, targets.rental_rate) - 0.02) * 20) / 20);
  const hi = Math.min(1, Math.ceil((Math.max(...values, targets.reg_rate, targets.rental_rate) + 0.01) * 20) / 20);
  const span = Math.max(hi - lo, 0.05);
  const x = (i: number) => PAD.left + (points.length === 1 ? 0.5 : i / (points.length - 1)) * (W - PAD.left - PAD.right);
  const y = (v: number) => PAD.top + (1 - (v - lo) / span) * (H - PAD.top - PAD.bottom);
  const first = points[0]!.month;
  const last = points.at(-1)!.month;
  const chart = svg('svg', { viewBox: `0 0 ${W} ${H}`, class: 'rg-drill-chart', role: 'img', 'aria-label': tTrend('chart', { first, last }) });
  for (const v of [lo, hi]) {
    chart.append(svg('line', { x1: PAD.left, x2: W - PAD.right, y1: y(v), y2: y(v), class: 'rg-drill-grid' }));
    const label = svg('text', { x: PAD.left - 4, y: y(v) + 4, 'text-anchor': 'end', class: 'rg-drill-axis' });
    label.textContent = formatTarget(v);
    chart.append(label);
  }
  for (const [i, month] of [[0, first], [points.length - 1, last]] as const) {
    const label = svg('text', { x: x(i), y: H - 4, 'text-anchor': i === 0 ? 'start' : 'end', class: 'rg-drill-axis' });
    label.textContent = month;
    chart.append(label);
  }
  for (const [key, color] of SERIES) {
    chart.append(svg('line', { x1: PAD.left, x2: W - PAD.right, y1: y(targets[key]), y2: y(targets[key]), stroke: color, class: 'rg-drill-target' }));
    const pts = points.flatMap((p, i) => (p[key] === null ? [] : [`${x(i).toFixed(1)},${y(p[key]).toFixed(1)}`]));
    chart.append(svg('polyline', { points: pts.join(' '), stroke: color, class: 'rg-drill-line', 'data-series': key }));
    const end = points.at(-1)?.[key];
    if (end !== null && end !== undefined) chart.append(svg('circle', { cx: x(points.length - 1), cy: y(end), r: 3, fill: color }));
  }
  const keys = SERIES.map(([key, color]) =>
    h(
      'li',
      { 'data-series': key },
      h('span', { class: 'rg-drill-swatch', style: `background:${color}` }),
      `${tTrend(key)} ${formatPct(points.at(-1)?.[key] ?? null)} `,
      h('small', null, `${tTrend('target', { target: formatTarget(targets[key]) })}${change(points, key) ? ` · ${change(points, key)}` : ''}`),
    ),
  );
  return h('section', { class: 'rg-drill-trend' }, h('h4', null, title), chart, h('ul', { class: 'rg-drill-keys' }, ...keys));
}
