/**
 * The ranking of streets (街道) and communities (社区) against the targets, from
 * `GET /api/stats` (aggregates only). Counts under 5 are shown as "<5", so no small group of
 * people can be singled out. Each rate is shown two ways: the register's, and the estimated
 * actual rate over the recorded and the estimated unrecorded, with its 90% interval and a
 * verdict (达标 / 未达标 / 不确定) on that interval. Beside the registration rate, its change since
 * the end of the month before (环比, in percentage points). Each table has its export buttons.
 */
import { fetchPlaceRows, type District, type PlaceRow, type Verdict } from '../api';
import { formatCount, formatPct, formatTarget, formatWholePct } from '../format';
import { defineStrings } from '../i18n';
import { h } from '../ui/dom';
import { exportButtons } from '../ui/export';

export const tRank = defineStrings(
  'ranking',
  {
    streets: '街道排名',
    communities: '社区排名（登记率最低的 {n} 个）',
    rank: '名次',
    place: '名称',
    persons: '流动人口',
    reg_group: '流动人口登记率 ≥{target}',
    rental_group: '出租房屋登记率 ≥{target}',
    register: '登记',
    estimated: '估计实际',
    reg_rate: '登记率（目标 ≥{target}）',
    rental_rate: '出租房屋登记率（目标 ≥{target}）',
    reg_rate_est: '估计实际登记率（90% 区间）',
    rental_rate_est: '估计实际出租房屋登记率（90% 区间）',
    interval: '{low}–{high}',
    meets: '达标',
    below: '未达标',
    met: '达标',
    missed: '未达标',
    uncertain: '不确定',
    small: '<5',
    allCommunities: '全部社区',
    change: '登记率较上月（与 {month} 月末相比，百分点）',
    changeShort: '环比',
    changeValue: '{sign}{pp}',
  },
  {
    streets: 'Streets ranked',
    communities: 'Communities ranked (the {n} lowest registration rates)',
    rank: 'Rank',
    place: 'Name',
    persons: 'Migrants',
    reg_group: 'Migrant registration ≥{target}',
    rental_group: 'Rental registration ≥{target}',
    register: 'Register',
    estimated: 'Estimated',
    reg_rate: 'Registration (target ≥{target})',
    rental_rate: 'Rental registration (target ≥{target})',
    reg_rate_est: 'Estimated actual registration (90% interval)',
    rental_rate_est: 'Estimated actual rental registration (90% interval)',
    interval: '{low}–{high}',
    meets: 'meets',
    below: 'below',
    met: 'met',
    missed: 'missed',
    uncertain: 'uncertain',
    small: '<5',
    allCommunities: 'all communities',
    change: 'Registration vs the month before (against the end of {month}, points)',
    changeShort: '±pp',
    changeValue: '{sign}{pp}',
  },
);

/** The smallest count shown as a number. */
export const MIN_SHOWN = 5;

/** A count as shown to leaders: "<5" below [`MIN_SHOWN`] (the server sends those as null). */
export function suppressed(n: number | null): string {
  return n === null || n < MIN_SHOWN ? tRank('small') : formatCount(n);
}

/** A rate as shown to leaders: none when its population is under [`MIN_SHOWN`]. */
function rateCell(rate: number | null, base: number | null, target: number): HTMLTableCellElement {
  if (rate === null || base === null || base < MIN_SHOWN) return h('td', { class: 'rg-num' }, '—');
  const ok = rate >= target;
  return h('td', { class: `rg-num ${ok ? 'rg-meets' : 'rg-below'}` }, formatPct(rate), ' ', h('small', { class: 'rg-under' }, ok ? tRank('meets') : tRank('below')));
}

/** The CSS status class a verdict is coloured with. */
const VERDICT_CLASS: Record<Verdict, string> = { met: 'rg-meets', missed: 'rg-below', uncertain: 'rg-near' };

/** An estimated actual rate as shown to leaders: "79% 不确定" over its 90% interval "76%–82%";
 * none for a past month (no estimate) or a population under [`MIN_SHOWN`]. */
function estimateCell(
  est: number | null,
  low: number | null,
  high: number | null,
  verdict: Verdict | null,
  base: number | null,
): HTMLTableCellElement {
  if (est === null || low === null || high === null || base === null || base < MIN_SHOWN) return h('td', { class: 'rg-num' }, '—');
  const interval = tRank('interval', { low: formatWholePct(low), high: formatWholePct(high) });
  const cls = verdict ? VERDICT_CLASS[verdict] : '';
  return h(
    'td',
    { class: `rg-num rg-estimate ${cls}` },
    formatWholePct(est),
    ' ',
    verdict ? h('small', null, tRank(verdict)) : null,
    h('small', { class: 'rg-interval rg-under' }, interval),
  );
}

/** The month before's rows, and its name, that each row's change is measured against. */
interface Before {
  month: string;
  rows: Map<string, PlaceRow>;
}

/** The change of the registration rate since the month before, in percentage points (环比); none
 * when either month's population is under [`MIN_SHOWN`]. */
function changeCell(row: PlaceRow, before: Before): HTMLTableCellElement {
  const then = before.rows.get(row.code);
  const shown = (r: PlaceRow | undefined) => r && r.reg_rate !== null && r.persons !== null && r.persons >= MIN_SHOWN;
  if (!shown(row) || !shown(then)) return h('td', { class: 'rg-num rg-change' }, '—');
  const pp = Math.round((row.reg_rate! - then!.reg_rate!) * 1000) / 10;
  const sign = pp > 0 ? '+' : pp < 0 ? '−' : '±';
  const cls = pp > 0 ? 'rg-up' : pp < 0 ? 'rg-down' : '';
  return h('td', { class: `rg-num rg-change ${cls}`, 'data-pp': pp }, tRank('changeValue', { sign, pp: Math.abs(pp).toFixed(1) }));
}

/** Rows ordered by registration rate, highest first; places with too few persons last. */
function ranked(rows: PlaceRow[]): PlaceRow[] {
  const key = (r: PlaceRow) => (r.reg_rate === null || r.persons === null || r.persons < MIN_SHOWN ? -1 : r.reg_rate);
  return [...rows].sort((a, b) => key(b) - key(a) || a.code.localeCompare(b.code));
}

/** A column's short heading, its full text as the abbreviation's tooltip. */
function shortHead(short: string, full: string): HTMLTableCellElement {
  return h('th', { scope: 'col', class: 'rg-num' }, h('abbr', { title: full }, short));
}

/** The ranking table: each rate under its group's heading (the rate and its target), short
 * column headings below it, so the table fits the leaders' panel. */
function table(
  rows: PlaceRow[],
  district: District,
  firstRank: number,
  level: 'street' | 'community',
  before?: Before,
): HTMLTableElement {
  const regTarget = formatTarget(district.targets.reg_rate);
  const rentalTarget = formatTarget(district.targets.rental_rate);
  return h(
    'table',
    { class: 'rg-ranking' },
    h(
      'thead',
      null,
      h(
        'tr',
        null,
        h('th', { scope: 'col', rowspan: 2 }, tRank('rank')),
        h('th', { scope: 'col', rowspan: 2 }, tRank('place')),
        h('th', { scope: 'col', rowspan: 2, class: 'rg-num' }, tRank('persons')),
        h('th', { scope: 'colgroup', colspan: before ? 3 : 2, class: 'rg-group' }, tRank('reg_group', { target: regTarget })),
        h('th', { scope: 'colgroup', colspan: 2, class: 'rg-group' }, tRank('rental_group', { target: rentalTarget })),
      ),
      // Short headings under their rate; the full one is each heading's tooltip.
      h(
        'tr',
        null,
        shortHead(tRank('register'), tRank('reg_rate', { target: regTarget })),
        before ? shortHead(tRank('changeShort'), tRank('change', { month: before.month })) : null,
        shortHead(tRank('estimated'), tRank('reg_rate_est')),
        shortHead(tRank('register'), tRank('rental_rate', { target: rentalTarget })),
        shortHead(tRank('estimated'), tRank('rental_rate_est')),
      ),
    ),
    h(
      'tbody',
      null,
      ...rows.map((r, i) =>
        h(
          'tr',
          // A row opens its place in the drill-down (`data-place`, see drill/index.ts).
          { 'data-code': r.code, 'data-place': `${level}:${r.code}` },
          h('td', { class: 'rg-num' }, firstRank + i),
          h('td', null, r.name),
          h('td', { class: 'rg-num' }, suppressed(r.persons)),
          rateCell(r.reg_rate, r.persons, district.targets.reg_rate),
          before ? changeCell(r, before) : null,
          estimateCell(r.reg_rate_est, r.reg_rate_est_low, r.reg_rate_est_high, r.reg_rate_verdict, r.persons),
          rateCell(r.rental_rate, r.rental_units, district.targets.rental_rate),
          estimateCell(r.rental_rate_est, r.rental_rate_est_low, r.rental_rate_est_high, r.rental_rate_verdict, r.rental_units),
        ),
      ),
    ),
  );
}

/** How many of the lowest communities the ranking lists. */
const COMMUNITIES_SHOWN = 10;

/** The ranking tables of streets and of the lowest communities, at the end of `month` (YYYY-MM)
 * or, without one, on today's register; with `previous` (the month before), each registration
 * rate's change since then. */
export async function renderRanking(district: District, month?: string, previous?: string): Promise<HTMLElement> {
  const before = async (level: 'street' | 'community'): Promise<Before | undefined> =>
    previous ? { month: previous, rows: new Map((await fetchPlaceRows(level, previous)).map((r) => [r.code, r])) } : undefined;
  const [streets, communities, streetsBefore, communitiesBefore] = await Promise.all([
    fetchPlaceRows('street', month),
    fetchPlaceRows('community', month),
    before('street'),
    before('community'),
  ]);
  const all = ranked(communities);
  const lowest = all.filter((r) => r.reg_rate !== null && r.persons !== null && r.persons >= MIN_SHOWN).slice(-COMMUNITIES_SHOWN);
  const firstRank = all.indexOf(lowest[0]!) + 1;
  const params: Record<string, string> = month ? { month } : {};
  const communitiesTitle = tRank('communities', { n: lowest.length });
  // The export holds every community, not only the lowest shown.
  return h(
    'div',
    { class: 'rg-rankings', 'data-month': month ?? '' },
    h('div', { class: 'rg-table-head' }, h('h3', null, tRank('streets')), exportButtons('streets', tRank('streets'), params)),
    table(ranked(streets), district, 1, 'street', streetsBefore),
    h('div', { class: 'rg-table-head' }, h('h3', null, communitiesTitle), exportButtons('communities', tRank('allCommunities'), params)),
    table(lowest, district, Math.max(firstRank, 1), 'community', communitiesBefore),
  );
}
