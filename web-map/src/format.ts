/** Number and month formatting shared by the legend, the popups and the pages. */
import { getLang } from './i18n';

/** A rate in 0..1 as a percentage with one decimal (`0.932` → `93.2%`); `—` when there is none. */
export function formatPct(x: number | null): string {
  return x === null ? '—' : (x * 100).toFixed(1) + '%';
}

/** A target as people say it: `0.9` → `90%`, `0.955` → `95.5%`. */
export function formatTarget(x: number): string {
  return `${Number((x * 100).toFixed(1))}%`;
}

/** A count with the current language's grouping (`12,345`). */
export function formatCount(n: number): string {
  return Math.round(n).toLocaleString(getLang());
}

/** A rate as a whole percentage, as plain sentences say it (`0.786` → `79%`). */
export function formatWholePct(x: number): string {
  return `${Math.round(x * 100)}%`;
}

/** A month (`YYYY-MM`) as the current language names it: `2026年10月`, `Oct 2026`. */
export function formatMonth(month: string): string {
  const [year, m] = month.split('-').map(Number);
  return new Date(Date.UTC(year!, m! - 1, 1)).toLocaleDateString(getLang(), { year: 'numeric', month: 'short', timeZone: 'UTC' });
}
