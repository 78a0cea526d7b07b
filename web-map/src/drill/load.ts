/**
 * What the drill-down shows at each level, from the endpoints that already serve it: the areas
 * (district, street, community, grid) from `GET /api/places/{place}`; a building from
 * `GET /api/buildings/{id}`, its units from `/api/buildings/{id}/units` (no person named) and its
 * trend from `/api/buildings/{id}/trend`; a rental unit and its households from the household card
 * `GET /api/units/{id}` (persons masked, the read audited by the server), with their building's
 * trend (a unit's few persons make no monthly rate of their own). Below the grid the breadcrumb is
 * the grid's.
 */
import {
  fetchBuilding,
  fetchBuildingTrend,
  fetchBuildingUnits,
  fetchPlace,
  fetchUnitCard,
  KPIS,
  type BBox,
  type BuildingTrend,
  type Kpi,
  type PersonRow,
  type PlaceView,
  type StatsRow,
  type UnitCard,
  type Verdict,
} from '../api';
import { formatCount, formatPct } from '../format';
import { t, statusOf, type Crumb, type Estimate, type KpiLine, type Shown } from './panel';
import type { AreaLevel, Place } from './place';
import { tTrend, type TrendPoint } from './trend';

/** Where the map goes for a place: an area's box, or a building's point. */
export type Frame = { bbox: BBox } | { point: [number, number] };

/** Features of a tile source the map shows as selected while a place is open (its grids, its building). */
export interface Selection {
  source: 'grids' | 'buildings';
  ids: number[];
}

/** A place as loaded: what the panel shows, where the map goes, and what it marks. */
export interface Loaded {
  shown: Shown;
  frame: Frame;
  select?: Selection;
}

/** The estimated actual rate of `kpi` in a row of the server, when it gives one. */
function estimateOf(row: Record<string, unknown>, kpi: Kpi): Estimate | null {
  const num = (k: string) => (typeof row[k] === 'number' ? (row[k] as number) : null);
  const [est, low, high] = [num(`${kpi}_est`), num(`${kpi}_est_low`), num(`${kpi}_est_high`)];
  if (est === null || low === null || high === null) return null;
  return { est, low, high, verdict: (row[`${kpi}_verdict`] as Verdict | null | undefined) ?? null };
}

/** A count as shown (null: fewer than 5, hidden from a leader). */
const count = (n: number | null | undefined): string => (n === null || n === undefined ? t('small') : formatCount(n));

/** `registered / actual`. */
const pair = (registered: number | null, actual: number | null): string => `${count(registered)} / ${count(actual)}`;

/** A rate cell with its status against the target. */
const rateCell = (rate: number | null, target: number) => ({ text: formatPct(rate), status: statusOf(rate, target) });

const area = (level: AreaLevel, code: string): Place => (level === 'district' ? { level } : { level, code });

/** The places of a breadcrumb from an area's path and the area itself. */
function crumbsOf(v: PlaceView, withSelf: boolean): Crumb[] {
  const up = v.path.map((p) => ({ place: area(p.level, p.code), label: p.name, enabled: p.in_scope }));
  return withSelf ? [...up, { place: area(v.level, v.code), label: v.name, enabled: true }] : up;
}

/** The rows of the places one level down. */
function childRows(rows: StatsRow[], v: PlaceView) {
  const level = ({ district: 'street', street: 'community', community: 'grid', grid: 'grid' } as const)[v.level];
  return rows.map((r) => ({
    place: area(level, r.code),
    cells: [
      r.name,
      pair(r.persons_registered, r.persons),
      rateCell(r.reg_rate, v.targets.reg_rate),
      r.reg_rate_est === null ? '—' : formatPct(r.reg_rate_est),
      rateCell(r.rental_rate, v.targets.rental_rate),
    ],
  }));
}

/** What `fetch(key)` answered, fetched once while kept in `kept` (forgotten when it failed). */
function once<K, V>(kept: Map<K, Promise<V>>, key: K, fetch: (key: K) => Promise<V>): Promise<V> {
  let p = kept.get(key);
  if (!p) {
    p = fetch(key);
    kept.set(key, p);
    p.catch(() => kept.delete(key));
  }
  return p;
}

/**
 * Fetches each area and each building's trend once per drill (the breadcrumb of a building, a unit
 * and a household is their grid's; the trend of a unit and a household is their building's).
 */
export class PlaceCache {
  private areas = new Map<string, Promise<PlaceView>>();
  private trends = new Map<number, Promise<BuildingTrend>>();

  area(key: string): Promise<PlaceView> {
    return once(this.areas, key, fetchPlace);
  }

  buildingTrend(id: number): Promise<BuildingTrend> {
    return once(this.trends, id, fetchBuildingTrend);
  }

  clear(): void {
    this.areas.clear();
    this.trends.clear();
  }
}

/** The months of a trend as the chart draws them. */
const trendPoints = (trend: { month: string; reg_rate: number | null; rental_rate: number | null }[]): TrendPoint[] =>
  trend.map((p) => ({ month: p.month, reg_rate: p.reg_rate, rental_rate: p.rental_rate }));

/** A district, street, community or grid. */
async function loadArea(cache: PlaceCache, place: Place, key: string): Promise<Loaded> {
  const v = await cache.area(key);
  const row = v as unknown as Record<string, unknown>;
  const kpis: KpiLine[] = KPIS.map((kpi) => ({ kpi, value: v[kpi], target: v.targets[kpi], estimate: estimateOf(row, kpi) }));
  const plural = ({ district: 'streets', street: 'communities', community: 'grids', grid: 'buildings' } as const)[v.level];
  const children =
    v.level !== 'grid'
      ? {
          heading: t(plural, { n: v.children.length }),
          columns: [t('name'), t('colPersons'), t('colReg'), t('colEst'), t('colRental')],
          rows: childRows(v.children, v),
        }
      : v.grid_buildings
        ? {
            heading: t('buildings', { n: v.grid_buildings.length }),
            columns: [t('address'), t('colPersons'), t('colRentals')],
            rows: v.grid_buildings.map((b) => ({
              place: { level: 'building' as const, id: b.id },
              cells: [b.address, pair(b.persons_registered, b.persons), pair(b.rental_units_registered, b.rental_units)],
            })),
          }
        : undefined;
  const context = v.path.length ? v.path.slice(1).map((p) => p.name).reverse().join(' · ') : undefined;
  return {
    shown: {
      place,
      crumbs: crumbsOf(v, false),
      title: v.name,
      ...(context ? { context } : {}),
      kpis,
      counts: [
        [t('count_persons'), count(v.persons)],
        [t('count_persons_registered'), count(v.persons_registered)],
        [t('count_rental_units'), count(v.rental_units)],
        [t('count_buildings'), count(v.buildings)],
      ],
      trend: trendPoints(v.trend),
      targets: v.targets,
      ...(children ? { children } : {}),
      notes: v.level === 'grid' && !v.grid_buildings ? [t('leaderStops')] : [],
    },
    frame: { bbox: v.bbox },
    ...(v.grid_id !== undefined && v.grid_id !== null
      ? { select: { source: 'grids' as const, ids: [v.grid_id] } }
      : v.level === 'community'
        ? { select: { source: 'grids' as const, ids: v.children.flatMap((c) => (c.grid_id === undefined || c.grid_id === null ? [] : [c.grid_id])) } }
        : {}),
  };
}

/** The rates of a group of persons (a unit's, a household's), against the targets. */
function personKpis(persons: PersonRow[], targets: PlaceView['targets']): KpiLine[] {
  const n = persons.length;
  const rate = (k: number) => (n === 0 ? null : k / n);
  const registered = persons.filter((p) => p.registered);
  return [
    { kpi: 'reg_rate', value: rate(registered.length), target: targets.reg_rate },
    { kpi: 'permit_rate', value: rate(registered.filter((p) => p.permit).length), target: targets.permit_rate },
    { kpi: 'consistency_rate', value: rate(persons.filter((p) => p.consistent).length), target: targets.consistency_rate },
  ];
}

/** A yes/no indicator of one rental unit (registered, pledge signed) as a KPI row. */
function yesNo(kpi: Kpi, yes: boolean, target: number): KpiLine {
  return { kpi, value: yes ? 1 : 0, text: t(yes ? 'yes' : 'no'), target };
}

/** The breadcrumb and point of a building in the grid `gridCode`, from the grid's place. */
async function buildingContext(cache: PlaceCache, id: number, gridCode: string) {
  const [feature, grid] = await Promise.all([fetchBuilding(id), cache.area(`grid:${gridCode}`).catch(() => undefined)]);
  const b = feature.properties;
  const listed = grid?.grid_buildings?.find((x) => x.id === id);
  const ring = feature.geometry.coordinates[0] ?? [];
  const centroid: [number, number] = ring.length
    ? [ring.reduce((s, c) => s + c[0]!, 0) / ring.length, ring.reduce((s, c) => s + c[1]!, 0) / ring.length]
    : [0, 0];
  const crumbs = grid ? crumbsOf(grid, true) : [];
  const point = (listed?.point as [number, number] | undefined) ?? centroid;
  return { b, crumbs, point, label: b.address };
}

/** A building: its counts, rates, trend and rental units. */
async function loadBuilding(cache: PlaceCache, place: Place & { level: 'building' }): Promise<Loaded> {
  const [units, trend] = await Promise.all([fetchBuildingUnits(place.id), cache.buildingTrend(place.id)]);
  const ctx = await buildingContext(cache, place.id, units.grid_code);
  const { b } = ctx;
  const targets = trend.targets;
  const ratio = (k: number, n: number) => (n === 0 ? null : k / n);
  const kpis: KpiLine[] = [
    { kpi: 'reg_rate', value: ratio(b.persons_registered, b.persons), target: targets.reg_rate },
    { kpi: 'rental_rate', value: ratio(b.rental_units_registered, b.rental_units), target: targets.rental_rate },
  ];
  return {
    shown: {
      place,
      crumbs: ctx.crumbs,
      title: b.address,
      context: units.grid_code,
      kpis,
      counts: [
        [t('count_persons'), pair(b.persons_registered, b.persons)],
        [t('count_rental_units'), pair(b.rental_units_registered, b.rental_units)],
        [t('count_floors'), formatCount(b.floors)],
        [t('count_visits'), formatCount(b.visits)],
      ],
      trend: trendPoints(trend.trend),
      targets,
      children: {
        heading: t('units', { n: units.units.length }),
        columns: [t('label'), t('migrants'), t('tenants'), t('colRental')],
        rows: units.units.map((u) => ({
          place: { level: 'unit' as const, id: u.id },
          cells: [u.label, formatCount(u.persons), formatCount(u.tenants), { text: t(u.registered ? 'yes' : 'no'), status: u.registered ? 'meets' : 'below' }],
        })),
      },
      notes: [],
    },
    frame: { point: ctx.point },
    select: { source: 'buildings', ids: [place.id] },
  };
}

/** The persons of a household as table rows (masked as the server sent them). */
function personRows(persons: PersonRow[]) {
  const yn = (x: boolean) => ({ text: t(x ? 'yes' : 'no'), status: x ? ('meets' as const) : ('below' as const) });
  return persons.map((p) => ({ cells: [p.name, p.id_number, p.phone, yn(p.registered), yn(p.permit), yn(p.consistent)] }));
}

/** A rental unit (its households) or one household of it (its persons). */
async function loadUnit(cache: PlaceCache, place: Place & { level: 'unit' | 'household' }): Promise<Loaded> {
  const unitId = place.level === 'unit' ? place.id : place.unit;
  const card: UnitCard = await fetchUnitCard(unitId);
  const [ctx, buildingTrend] = await Promise.all([buildingContext(cache, card.building_id, card.grid_code), cache.buildingTrend(card.building_id)]);
  const targets = buildingTrend.targets;
  const trend = { trend: trendPoints(buildingTrend.trend), trendTitle: tTrend('building') };
  const unitPlace: Place = { level: 'unit', id: card.id };
  const crumbs: Crumb[] = [...ctx.crumbs, { place: { level: 'building', id: card.building_id }, label: ctx.label, enabled: true }];
  const unitRows: KpiLine[] = [yesNo('rental_rate', card.registered, targets.rental_rate), yesNo('pledge_rate', card.pledge_signed, targets.pledge_rate)];
  const masked = card.masked ? [t('masked')] : [];
  if (place.level === 'unit') {
    const persons = card.households.flatMap((hh) => hh.persons);
    return {
      shown: {
        place,
        crumbs,
        title: card.label,
        context: ctx.label,
        kpis: [...unitRows, ...personKpis(persons, targets)],
        counts: [
          [t('count_households'), formatCount(card.households.length)],
          [t('count_persons'), formatCount(persons.length)],
          [t('count_tenants'), formatCount(card.tenants)],
          [t('landlord'), card.landlord?.name ?? '—'],
          ...(card.last_visit ? [[t('lastVisit', { date: card.last_visit.date }), '']] as [string, string][] : []),
        ],
        ...trend,
        targets,
        children: {
          heading: t('households', { n: card.households.length }),
          columns: [t('card'), t('migrants'), t('colReg')],
          rows: card.households.map((hh) => {
            const k = personKpis(hh.persons, targets)[0]!;
            return {
              place: { level: 'household' as const, unit: card.id, card: hh.card_no },
              cells: [hh.card_no, formatCount(hh.persons.length), { text: formatPct(k.value), status: statusOf(k.value, k.target) }],
            };
          }),
        },
        notes: masked,
      },
      frame: { point: ctx.point },
      select: { source: 'buildings', ids: [card.building_id] },
    };
  }
  const household = card.households.find((hh) => hh.card_no === place.card);
  if (!household) throw new Error(`${place.card}: ${t('none')}`);
  return {
    shown: {
      place,
      crumbs: [...crumbs, { place: unitPlace, label: card.label, enabled: true }],
      title: household.card_no,
      context: `${ctx.label} ${card.label}`,
      kpis: personKpis(household.persons, targets),
      counts: [[t('count_persons'), formatCount(household.persons.length)]],
      ...trend,
      targets,
      children: {
        heading: t('persons', { n: household.persons.length }),
        columns: [t('personName'), t('idNumber'), t('phone'), t('register'), t('permit'), t('consistent')],
        rows: personRows(household.persons),
      },
      notes: masked,
    },
    frame: { point: ctx.point },
    select: { source: 'buildings', ids: [card.building_id] },
  };
}

/** Loads what the panel shows of `place`. */
export function load(cache: PlaceCache, place: Place): Promise<Loaded> {
  switch (place.level) {
    case 'district':
      return loadArea(cache, place, 'district');
    case 'street':
    case 'community':
    case 'grid':
      return loadArea(cache, place, `${place.level}:${place.code}`);
    case 'building':
      return loadBuilding(cache, place);
    case 'unit':
    case 'household':
      return loadUnit(cache, place);
  }
}
