/**
 * The leaders' trend chart (趋势): each street's registration rate at the end of every month of the
 * history, one line per street, the target as a dashed line; a street is picked in the chart's
 * legend. Focused on one street (a click on its ranking row or on the map), the chart shows that
 * street's migrant and rental registration rates against their targets (90% and 95%). Drawn with
 * ECharts, loaded with this module only (the panel imports it when it opens).
 */
import { init, use, type EChartsType } from 'echarts/core';
import { LineChart } from 'echarts/charts';
import { GridComponent, LegendComponent, MarkLineComponent, TooltipComponent } from 'echarts/components';
import { CanvasRenderer } from 'echarts/renderers';
import type { District, PlaceRow } from '../api';
import { formatTarget } from '../format';
import { defineStrings } from '../i18n';
import { MIN_SHOWN } from './ranking';

use([LineChart, GridComponent, LegendComponent, MarkLineComponent, TooltipComponent, CanvasRenderer]);

export const tTrend = defineStrings(
  'leadersTrend',
  { target: '目标 {target}', reg_rate: '流动人口登记率', rental_rate: '出租房屋登记率' },
  { target: 'target {target}', reg_rate: 'Migrant registration', rental_rate: 'Rental registration' },
);

/** One month's street rows, in the history's order. */
export interface MonthRows {
  month: string;
  rows: PlaceRow[];
}

/** A rate in percent with one decimal, or none for a street under [`MIN_SHOWN`] persons (or units). */
function percent(row: PlaceRow | undefined, key: 'reg_rate' | 'rental_rate' = 'reg_rate'): number | null {
  const base = key === 'reg_rate' ? row?.persons : row?.rental_units;
  const rate = row?.[key];
  if (rate === null || rate === undefined || base === null || base === undefined || base < MIN_SHOWN) return null;
  return Math.round(rate * 1000) / 10;
}

/** A target as a dashed line, labelled in the margin right of the lines (never on them). */
function targetLine(target: number, color: string) {
  return {
    symbol: 'none',
    silent: true,
    lineStyle: { type: 'dashed' as const, color },
    label: { position: 'end' as const, color, fontSize: 10, formatter: tTrend('target', { target: formatTarget(target) }) },
    data: [{ yAxis: target * 100 }],
  };
}

/** The room right of the lines for a target's label ("target 95%"). */
const TARGET_MARGIN = 62;

/** The colours of one street's two rates. */
const FOCUS_COLORS = { reg_rate: '#1f4e9c', rental_rate: '#11898b' } as const;

/** One street's two rates against their targets. */
function focusOption(district: District, history: MonthRows[], code: string) {
  const keys = ['reg_rate', 'rental_rate'] as const;
  const series = keys.map((key) => ({
    name: tTrend(key),
    type: 'line' as const,
    color: FOCUS_COLORS[key],
    connectNulls: false,
    data: history.map((m) => percent(m.rows.find((r) => r.code === code), key)),
    markLine: targetLine(district.targets[key], FOCUS_COLORS[key]),
  }));
  const lowest = Math.min(district.targets.reg_rate, district.targets.rental_rate) * 100 - 5;
  return {
    animation: false,
    textStyle: { fontSize: 11 },
    tooltip: { trigger: 'axis' as const, valueFormatter: (v: unknown) => (typeof v === 'number' ? `${v.toFixed(1)}%` : '—') },
    legend: { top: 0, textStyle: { fontSize: 11 } },
    grid: { left: 40, right: TARGET_MARGIN, top: 30, bottom: 22 },
    xAxis: { type: 'category' as const, data: history.map((m) => m.month.slice(2)) },
    yAxis: {
      type: 'value' as const,
      min: (v: { min: number }) => Math.floor(Math.min(v.min, lowest) / 5) * 5,
      max: 100,
      axisLabel: { formatter: '{value}%' },
    },
    series,
  };
}

function option(district: District, history: MonthRows[], streets: PlaceRow[]) {
  const series = streets.map((street, i) => ({
    name: street.name,
    type: 'line' as const,
    connectNulls: false,
    data: history.map((m) => percent(m.rows.find((r) => r.code === street.code))),
    // The target once, on the first line.
    ...(i === 0
      ? { markLine: targetLine(district.targets.reg_rate, '#424242') }
      : {}),
  }));
  return {
    animation: false,
    textStyle: { fontSize: 11 },
    tooltip: { trigger: 'axis' as const, valueFormatter: (v: unknown) => (typeof v === 'number' ? `${v.toFixed(1)}%` : '—') },
    legend: { type: 'scroll' as const, top: 0, textStyle: { fontSize: 11 } },
    grid: { left: 40, right: TARGET_MARGIN, top: 30, bottom: 22 },
    xAxis: { type: 'category' as const, data: history.map((m) => m.month.slice(2)) },
    yAxis: {
      type: 'value' as const,
      min: (v: { min: number }) => Math.floor(Math.min(v.min, district.targets.reg_rate * 100 - 5) / 5) * 5,
      max: 100,
      axisLabel: { formatter: '{value}%' },
    },
    series,
  };
}

/** The chart in `box`; `draw` puts the figures of every month on it (again after a language
 * switch): every street's registration rate, or with `focus` (a street's code) that street's two
 * rates against their targets. */
export interface TrendChart {
  draw(history: MonthRows[], focus?: string): void;
  destroy(): void;
}

/** Makes the chart inside `box` (which must have its size). */
export function createTrendChart(box: HTMLElement, district: District): TrendChart {
  const chart: EChartsType = init(box, undefined, { renderer: 'canvas' });
  return {
    draw(history, focus) {
      const last = history.at(-1);
      if (!last) return;
      const streets = [...last.rows].sort((a, b) => a.code.localeCompare(b.code));
      const focused = focus !== undefined && streets.some((s) => s.code === focus) ? focus : undefined;
      chart.setOption(focused ? focusOption(district, history, focused) : option(district, history, streets), true);
      box.dataset.months = String(history.length);
      box.dataset.streets = String(focused ? 1 : streets.length);
      box.dataset.focus = focused ?? '';
    },
    destroy() {
      chart.dispose();
    },
  };
}
