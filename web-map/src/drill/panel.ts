/**
 * The drill-down panel's content: the breadcrumb, the place's heading, its KPIs against the
 * targets (the register's rate, the estimated actual rate with its 90% interval where the server
 * gives one), its counts, its trend, and the places or records one level down as a table whose
 * rows open them. What each level shows is decided by `load.ts`; this module only draws it.
 * Every link is an element with `data-place` (the drill module opens what it names).
 */
import type { Kpi, Verdict } from '../api';
import { formatPct, formatTarget, formatWholePct } from '../format';
import { defineStrings } from '../i18n';
import { h } from '../ui/dom';
import { placeHref, placeKey, type Level, type Place } from './place';
import { renderTrend, type TrendPoint } from './trend';

export const t = defineStrings(
  'drill',
  {
    open: '逐级查看',
    openLabel: '从全区逐级查看到户',
    close: '关闭',
    breadcrumb: '位置',
    loading: '正在加载…',
    failed: '无法打开：{detail}',
    district: '区',
    street: '街道',
    community: '社区',
    grid: '网格',
    building: '楼栋',
    unit: '出租房屋',
    household: '户',
    indicator: '指标',
    register: '登记',
    estimate: '估计实际（90% 区间）',
    interval: '{low}–{high}',
    target: '目标',
    reg_rate: '流动人口登记率',
    permit_rate: '登记做证率',
    rental_rate: '出租房屋登记率',
    consistency_rate: '人户一致率',
    pledge_rate: '治安责任保证书签订率',
    met: '达标',
    missed: '未达标',
    uncertain: '不确定',
    yes: '是',
    no: '否',
    small: '<5',
    streets: '街道（{n}）',
    communities: '社区（{n}）',
    grids: '网格（{n}）',
    buildings: '楼栋（{n}）',
    units: '出租房屋（{n}）',
    households: '户（一户一卡，{n}）',
    persons: '人员（{n}）',
    name: '名称',
    colPersons: '人口 登记/实有',
    colRentals: '出租房屋 登记/实有',
    colReg: '登记率',
    colEst: '估计实际',
    colRental: '出租登记率',
    address: '地址',
    migrants: '流动人口',
    label: '房号',
    tenants: '承租人数',
    card: '卡号',
    personName: '姓名',
    idNumber: '身份证号',
    phone: '电话',
    permit: '居住证',
    consistent: '人户一致',
    count_persons: '实有流动人口',
    count_persons_registered: '已登记',
    count_rental_units: '出租房屋（套）',
    count_buildings: '建筑（栋）',
    count_visits: '走访次数',
    count_floors: '层数',
    count_tenants: '承租人数',
    count_households: '户数',
    mode: '管理方式',
    landlord: '房东',
    lastVisit: '最近走访 {date}',
    leaderStops: '领导视图只看到网格一级的汇总，不含楼栋、房屋与人员。',
    masked: '人员信息已脱敏；本次查看已记录在审计日志中。',
    none: '没有',
    outOfScope: '不在您的权限范围内',
    drillHint: '在地图上点击可进入下一级',
    showRest: '显示其余 {n} 行',
  },
  {
    open: 'Drill down',
    openLabel: 'Drill down from the district to a household',
    close: 'Close',
    breadcrumb: 'Location',
    loading: 'Loading…',
    failed: 'Could not open it: {detail}',
    district: 'District',
    street: 'Street',
    community: 'Community',
    grid: 'Grid',
    building: 'Building',
    unit: 'Rental unit',
    household: 'Household',
    indicator: 'Indicator',
    register: 'Register',
    estimate: 'Estimated actual (90% interval)',
    interval: '{low}–{high}',
    target: 'Target',
    reg_rate: 'Migrant registration',
    permit_rate: 'Registered with permit',
    rental_rate: 'Rental unit registration',
    consistency_rate: 'Person–household match',
    pledge_rate: 'Landlord pledges signed',
    met: 'met',
    missed: 'missed',
    uncertain: 'uncertain',
    yes: 'yes',
    no: 'no',
    small: '<5',
    streets: 'Streets ({n})',
    communities: 'Communities ({n})',
    grids: 'Grids ({n})',
    buildings: 'Buildings ({n})',
    units: 'Rental units ({n})',
    households: 'Households (one card each, {n})',
    persons: 'Persons ({n})',
    name: 'Name',
    colPersons: 'Persons reg./all',
    colRentals: 'Rentals reg./all',
    colReg: 'Reg.',
    colEst: 'Est. actual',
    colRental: 'Rental reg.',
    address: 'Address',
    migrants: 'Migrants',
    label: 'Room',
    tenants: 'Tenants',
    card: 'Card',
    personName: 'Name',
    idNumber: 'ID number',
    phone: 'Phone',
    permit: 'Permit',
    consistent: 'Lives here',
    count_persons: 'Migrants',
    count_persons_registered: 'Registered',
    count_rental_units: 'Rental units',
    count_buildings: 'Buildings',
    count_visits: 'Visits',
    count_floors: 'Floors',
    count_tenants: 'Tenants',
    count_households: 'Households',
    mode: 'Management',
    landlord: 'Landlord',
    lastVisit: 'Last visit {date}',
    leaderStops: 'The leaders’ view sees totals down to the grid, no building, unit or person.',
    masked: 'Persons are masked; this view is recorded in the audit log.',
    none: 'None',
    outOfScope: 'Outside your scope',
    drillHint: 'Click the map to go one level down',
    showRest: 'Show the other {n} {n|row|rows}',
  },
);

/** A place of the breadcrumb; `enabled` false for one the user may not open (outside their scope). */
export interface Crumb {
  place: Place;
  label: string;
  enabled: boolean;
}

/** An estimated actual rate with its 90% interval and verdict. */
export interface Estimate {
  est: number;
  low: number;
  high: number;
  verdict: Verdict | null;
}

/** One row of the KPI table. */
export interface KpiLine {
  kpi: Kpi;
  /** The register's rate (null: no denominator, or fewer than 5 persons for a leader). */
  value: number | null;
  /** Said in words instead of a rate (a unit's registration: 是/否). */
  text?: string;
  target: number;
  estimate?: Estimate | null;
}

/** A cell of a table of the places one level down. */
export type Cell = string | { text: string; status?: 'meets' | 'near' | 'below' | 'none' };

/** The places or records one level down. */
export interface Children {
  heading: string;
  columns: string[];
  rows: { place?: Place; cells: Cell[] }[];
}

/** What the panel shows of one place. */
export interface Shown {
  place: Place;
  /** The places above it, from the district down. */
  crumbs: Crumb[];
  title: string;
  context?: string;
  kpis: KpiLine[];
  counts: [string, string][];
  /** The months of its trend (a unit's and a household's: their building's). */
  trend: TrendPoint[] | null;
  /** The trend's heading when it is not the place's own (by default 走势（月末）). */
  trendTitle?: string;
  targets: { reg_rate: number; rental_rate: number };
  children?: Children;
  notes: string[];
}

/** A rate's status against its target. */
export function statusOf(value: number | null, target: number): 'meets' | 'below' | 'none' {
  return value === null ? 'none' : value >= target ? 'meets' : 'below';
}

const VERDICT_CLASS: Record<Verdict, string> = { met: 'meets', missed: 'below', uncertain: 'near' };

function crumbLink(c: Crumb): HTMLElement {
  const name = h('span', { class: 'rg-drill-crumb-level' }, t(c.place.level));
  return c.enabled
    ? h('a', { href: placeHref(c.place), 'data-place': placeKey(c.place), 'data-level': c.place.level }, name, c.label)
    : h('span', { class: 'rg-drill-crumb-off', title: t('outOfScope'), 'data-level': c.place.level }, name, c.label);
}

function kpiTable(lines: KpiLine[]): HTMLElement {
  const showEstimates = lines.some((l) => l.estimate);
  const rows = lines.map((l) => {
    const est = l.estimate;
    const estCell = !showEstimates
      ? null
      : est
        ? h(
            'td',
            { class: 'rg-num rg-drill-est' },
            formatWholePct(est.est),
            ' ',
            est.verdict ? h('span', { class: `rg-verdict rg-${VERDICT_CLASS[est.verdict]}`, 'data-verdict': est.verdict }, t(est.verdict)) : null,
            ' ',
            // On a line of its own under the estimate, so the table fits a phone's panel.
            h('small', { class: 'rg-drill-interval' }, t('interval', { low: formatWholePct(est.low), high: formatWholePct(est.high) })),
          )
        : h('td', { class: 'rg-num rg-drill-est' }, '—');
    return h(
      'tr',
      { class: `rg-kpi rg-${statusOf(l.value, l.target)}`, 'data-kpi': l.kpi },
      h('th', { scope: 'row' }, t(l.kpi)),
      h('td', { class: 'rg-num' }, h('span', { class: 'rg-value' }, l.text ?? formatPct(l.value))),
      estCell,
      h('td', { class: 'rg-num rg-target' }, `≥${formatTarget(l.target)}`),
    );
  });
  return h(
    'table',
    { class: 'rg-kpis rg-drill-kpis' },
    h(
      'thead',
      null,
      h(
        'tr',
        null,
        h('th', { scope: 'col' }, t('indicator')),
        h('th', { scope: 'col', class: 'rg-num' }, t('register')),
        showEstimates ? h('th', { scope: 'col', class: 'rg-num' }, t('estimate')) : null,
        h('th', { scope: 'col', class: 'rg-num' }, t('target')),
      ),
    ),
    h('tbody', null, ...rows),
  );
}

/** The rows a table of places one level down shows at first (a grid has hundreds of buildings). */
const FIRST_ROWS = 12;

function childTable(c: Children): HTMLElement {
  const cell = (x: Cell) => (typeof x === 'string' ? h('td', null, x) : h('td', { class: `rg-num${x.status ? ` rg-${x.status}` : ''}` }, x.text));
  const row = (r: Children['rows'][number]) =>
    h('tr', r.place ? { 'data-place': placeKey(r.place), 'data-level': r.place.level, tabindex: 0 } : null, ...r.cells.map(cell));
  const body = h('tbody', null, ...c.rows.slice(0, FIRST_ROWS).map(row));
  const rest = c.rows.length - FIRST_ROWS;
  // The rest on request: a panel scrolling through hundreds of rows over the map is neither
  // readable on a phone nor cheap to draw.
  const more = rest > 0 ? h('button', { type: 'button', class: 'rg-drill-more' }, t('showRest', { n: rest })) : null;
  more?.addEventListener('click', () => {
    body.append(...c.rows.slice(FIRST_ROWS).map(row));
    more.remove();
  });
  return h(
    'section',
    { class: 'rg-drill-children' },
    h('h4', null, c.heading),
    c.rows.length === 0
      ? h('p', { class: 'rg-drill-note' }, t('none'))
      : h(
          'div',
          { class: 'rg-drill-scroll' },
          h(
            'table',
            { class: 'rg-ranking rg-drill-table' },
            h('thead', null, h('tr', null, ...c.columns.map((col, i) => h('th', { scope: 'col', class: i === 0 ? '' : 'rg-num' }, col)))),
            body,
          ),
        ),
    more,
  );
}

/** The panel's body for `s`. */
export function renderShown(s: Shown): HTMLElement {
  const self: Crumb = { place: s.place, label: s.title, enabled: false };
  const crumbs = h(
    'nav',
    { class: 'rg-drill-crumbs', 'aria-label': t('breadcrumb') },
    h(
      'ol',
      null,
      ...s.crumbs.map((c) => h('li', null, crumbLink(c))),
      h('li', { 'aria-current': 'location' }, h('span', { 'data-level': self.place.level }, h('span', { class: 'rg-drill-crumb-level' }, t(self.place.level)), s.title)),
    ),
  );
  const level: Level = s.place.level;
  return h(
    'div',
    { class: 'rg-drill-body', 'data-level': level },
    crumbs,
    h('header', { class: 'rg-drill-head' }, h('span', { class: 'rg-drill-kind' }, t(level)), h('h3', null, s.title), s.context ? h('p', null, s.context) : null),
    s.kpis.length ? kpiTable(s.kpis) : null,
    s.counts.length
      ? h('dl', { class: 'rg-counts rg-drill-counts' }, ...s.counts.map(([k, v]) => h('div', null, h('dt', null, k), h('dd', null, v))))
      : null,
    s.trend ? renderTrend(s.trend, s.targets, s.trendTitle) : null,
    s.children ? childTable(s.children) : null,
    ...s.notes.map((n) => h('p', { class: 'rg-drill-note' }, n)),
  );
}
