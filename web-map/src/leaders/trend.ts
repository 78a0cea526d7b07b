/**
 * The leaders' trend chart (趋势): each street's registration rate at the end of every month of the
 * history, one line per street, the target as a dashed line; a street is picked in the chart's
 * legend. Drawn with ECharts, loaded with this module only (the panel imports it when it opens).
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
  { target: '目标 {target}' },
  { target: 'target {target}' },
);

/** One month's street rows, in the history's order. */
export interface MonthRows {
  month: string;
  rows: PlaceRow[];
}

/** A rate in percent with one decimal, or none for a street under [`MIN_SHOWN`] persons. */
function percent(row: PlaceRow | undefined): number | null {
  if (!row || row.reg_rate === null || row.persons === null || row.persons < MIN_SHOWN) return null;
  return Math.round(row.reg_rate * 1000) / 10;
}

function option(district: District, history: MonthRows[], streets: PlaceRow[]) {
  const series = streets.map((street, i) => ({
    name: street.name,
    type: 'line' as const,
    connectNulls: false,
    data: history.map((m) => percent(m.rows.find((r) => r.code === street.code))),
    // The target once, on the first line.
    ...(i === 0
      ? {
          markLine: {
            symbol: 'none',
            silent: true,
            lineStyle: { type: 'dashed' as const, color: '#424242' },
            label: { position: 'insideEndTop' as const, formatter: tTrend('target', { target: formatTarget(district.targets.reg_rate) }) },
            data: [{ yAxis: district.targets.reg_rate * 100 }],
          },
        }
      : {}),
  }));
  return {
    animation: false,
    textStyle: { fontSize: 11 },
    tooltip: { trigger: 'axis' as const, valueFormatter: (v: unknown) => (typeof v === 'number' ? `${v.toFixed(1)}%` : '—') },
    legend: { type: 'scroll' as const, top: 0, textStyle: { fontSize: 11 } },
    grid: { left: 40, right: 10, top: 30, bottom: 22 },
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

/** The chart in `box`; `draw` puts the figures of every month on it (again after a language switch). */
export interface TrendChart {
  draw(history: MonthRows[]): void;
  destroy(): void;
}

/** Makes the chart inside `box` (which must have its size). */
export function createTrendChart(box: HTMLElement, district: District): TrendChart {
  const chart: EChartsType = init(box, undefined, { renderer: 'canvas' });
  return {
    draw(history) {
      const last = history.at(-1);
      if (!last) return;
      const streets = [...last.rows].sort((a, b) => a.code.localeCompare(b.code));
      chart.setOption(option(district, history, streets), true);
      box.dataset.months = String(history.length);
      box.dataset.streets = String(streets.length);
    },
    destroy() {
      chart.dispose();
    },
  };
}
