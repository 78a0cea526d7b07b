/**
 * Grids (网格) from our vector tiles (`/tiles/grids.json`), coloured by how their migrant
 * registration rate (流动人口登记率) stands against the target, read from the tiles' `reg_status`
 * (a grid without migrants has no rate: the no-data colour). Clicking a grid shows its indicators
 * from the tile at once, then its names and interval from `GET /api/grids/{id}`.
 */
import type { MapGeoJSONFeature } from 'maplibre-gl';
import {
  fetchGrid,
  fetchGridStatuses,
  KPIS,
  tileJsonUrl,
  type District,
  type GridEstimates,
  type GridProperties,
  type Kpi,
  type RegStatus,
  type Verdict,
} from '../api';
import { formatCount, formatPct, formatTarget, formatWholePct } from '../format';
import { defineStrings } from '../i18n';
import { refreshTouchedTiles } from '../live';
import { h } from '../ui/dom';
import { colorBy, hovered, selected } from './expressions';
import type { LayerContext, MapLayer, SlottedLayer } from './types';

const t = defineStrings(
  'grids',
  {
    title: '网格 · 流动人口登记率',
    note: '流动人口登记率 目标 ≥{target}',
    meets: '达标 ≥{target}',
    near: '接近目标 {low}–{target}',
    below: '未达标 <{low}',
    none: '无流动人口',
    places: '{community} · {street}',
    indicator: '指标',
    actual: '实际',
    target: '目标',
    interval: '95% 区间 {low}–{high}',
    reg_rate: '流动人口登记率',
    permit_rate: '登记做证率',
    rental_rate: '出租房屋登记率',
    consistency_rate: '人户一致率',
    pledge_rate: '治安责任保证书签订率',
    persons: '实有流动人口',
    persons_registered: '已登记',
    rental_units: '出租房屋（套）',
    buildings: '建筑（栋）',
    persons_per_km2: '人口密度',
    perKm2: '{n} 人/km²',
    reg_rate_est: '估计实际登记率 {est}（{low}–{high}）',
    rental_rate_est: '估计实际出租房屋登记率 {est}（{low}–{high}）',
    estimateNote: '计入尚未登记的实有人口与出租房屋的估计；括号内为 90% 区间',
    met: '达标',
    missed: '未达标',
    uncertain: '不确定',
  },
  {
    title: 'Grids · migrant registration',
    note: 'Migrant registration rate, target ≥{target}',
    meets: 'Meets target ≥{target}',
    near: 'Near target {low}–{target}',
    below: 'Below target <{low}',
    none: 'No migrants',
    places: '{community} · {street}',
    indicator: 'Indicator',
    actual: 'Actual',
    target: 'Target',
    interval: '95% CI {low}–{high}',
    reg_rate: 'Migrant registration',
    permit_rate: 'Registered with permit',
    rental_rate: 'Rental unit registration',
    consistency_rate: 'Person–household match',
    pledge_rate: 'Landlord pledges signed',
    persons: 'Migrants',
    persons_registered: 'Registered',
    rental_units: 'Rental units',
    buildings: 'Buildings',
    persons_per_km2: 'Density',
    perKm2: '{n} /km²',
    reg_rate_est: 'Estimated actual registration rate {est} ({low}–{high})',
    rental_rate_est: 'Estimated actual rental registration rate {est} ({low}–{high})',
    estimateNote: 'Counting an estimate of the persons and rental units not yet recorded; 90% interval in brackets',
    met: 'met',
    missed: 'missed',
    uncertain: 'uncertain',
  },
);

/** The grids' tile source; its `grid_labels` layer is where the labels module writes their names. */
export const GRIDS_SOURCE = 'grids';
const SOURCE = GRIDS_SOURCE;
/** The MVT layer of the `grids` tile set. */
const SOURCE_LAYER = 'grids';
const FILL = 'grids-fill';

/** The colour of each registration status: green, amber, red, grey. */
/** The thresholds a status label names: the target and the lower end of "near". */
function statusVars(d: District): Record<string, string> {
  return { target: formatTarget(d.targets.reg_rate), low: formatTarget(d.targets.reg_rate - d.near_band) };
}

const STATUS_COLORS: Record<RegStatus, string> = {
  meets: '#2f9e5b',
  near: '#f0a81c',
  below: '#d9473f',
  none: '#9aa4ae',
};
const STATUSES = Object.keys(STATUS_COLORS) as RegStatus[];


const styleLayers: SlottedLayer[] = [
  {
    slot: 'thematic',
    layer: {
      id: FILL,
      type: 'fill',
      source: SOURCE,
      'source-layer': SOURCE_LAYER,
      paint: {
        'fill-color': colorBy('reg_status', STATUS_COLORS, STATUS_COLORS.none),
        // Lighter when zoomed in, so buildings and roads read through the colour.
        'fill-opacity': [
          'interpolate', ['linear'], ['zoom'],
          13, ['case', selected, 0.85, hovered, 0.8, 0.62],
          16, ['case', selected, 0.5, hovered, 0.45, 0.22],
        ],
      },
    },
  },
  {
    slot: 'thematic',
    layer: {
      id: 'grids-outline',
      type: 'line',
      source: SOURCE,
      'source-layer': SOURCE_LAYER,
      layout: { 'line-join': 'round' },
      paint: {
        'line-color': '#ffffff',
        'line-width': ['interpolate', ['linear'], ['zoom'], 11, 0.6, 15, 1.6],
        'line-opacity': 0.9,
      },
    },
  },
  // Drawn after every outline so a highlighted grid is never half hidden by its neighbours.
  {
    slot: 'overlay',
    layer: {
      id: 'grids-highlight',
      type: 'line',
      source: SOURCE,
      'source-layer': SOURCE_LAYER,
      layout: { 'line-join': 'round' },
      paint: {
        'line-color': '#12203d',
        'line-width': ['case', selected, 3.2, 2],
        'line-opacity': ['case', ['any', selected, hovered], 1, 0],
      },
    },
  },
];

/**
 * What the popup shows: a grid's tile properties (rates absent when they have no denominator),
 * completed by its API record once that has arrived.
 */
type GridCard = Pick<GridProperties, 'id' | 'name' | 'reg_status' | 'persons' | 'rental_units' | 'buildings'> &
  Partial<GridProperties> &
  GridEstimates;

/** The estimated actual rates a card shows, each with its interval and verdict. */
const ESTIMATES = [
  ['reg_rate_est', 'reg_rate_est_low', 'reg_rate_est_high', 'reg_rate_verdict'],
  ['rental_rate_est', 'rental_rate_est_low', 'rental_rate_est_high', 'rental_rate_verdict'],
] as const;

const VERDICTS: readonly Verdict[] = ['met', 'missed', 'uncertain'];

/** The CSS status class a verdict is coloured with. */
const VERDICT_CLASS: Record<Verdict, RegStatus> = { met: 'meets', missed: 'below', uncertain: 'near' };

/** The popup's view of a tile feature. */
function cardFromTile(feature: MapGeoJSONFeature): GridCard {
  const p = feature.properties as Record<string, unknown>;
  const num = (key: string) => (typeof p[key] === 'number' ? (p[key] as number) : null);
  const card: GridCard = {
    id: Number(feature.id ?? p.id),
    name: String(p.name ?? ''),
    reg_status: (p.reg_status as RegStatus | undefined) ?? 'none',
    // Absent for a leader where under 5 persons (small-count suppression).
    persons: num('persons'),
    rental_units: num('rental_units') ?? 0,
    buildings: num('buildings') ?? 0,
  };
  for (const kpi of KPIS) card[kpi] = num(kpi);
  for (const [est, low, high, verdict] of ESTIMATES) {
    card[est] = num(est);
    card[low] = num(low);
    card[high] = num(high);
    const v = p[verdict];
    card[verdict] = VERDICTS.find((known) => known === v) ?? null;
  }
  return card;
}

/** The estimated actual rates in plain words: "估计实际登记率 79%（76%–82%） 不确定". */
function renderEstimates(grid: GridCard): HTMLElement | null {
  const lines = ESTIMATES.flatMap(([est, low, high, verdict]) => {
    const [e, l, hi, v] = [grid[est], grid[low], grid[high], grid[verdict]];
    if (e === null || e === undefined || l === null || l === undefined || hi === null || hi === undefined) return [];
    const words = t(est, { est: formatWholePct(e), low: formatWholePct(l), high: formatWholePct(hi) });
    const badge = v ? h('span', { class: `rg-verdict rg-${VERDICT_CLASS[v]}`, 'data-verdict': v }, t(v)) : null;
    return [h('p', { class: 'rg-estimate', 'data-kpi': est }, h('span', { class: 'rg-estimate-text' }, words), ' ', badge)];
  });
  if (lines.length === 0) return null;
  return h('div', { class: 'rg-estimates', title: t('estimateNote') }, ...lines);
}

/** How a rate compares with its target, as a CSS class of its popup row. */
function rowStatus(kpi: Kpi, grid: GridCard, target: number): RegStatus {
  if (kpi === 'reg_rate') return grid.reg_status ?? 'none';
  const value = grid[kpi] ?? null;
  if (value === null) return 'none';
  return value >= target ? 'meets' : 'below';
}

function renderPopup(grid: GridCard, district: District): HTMLElement {
  const rows = KPIS.map((kpi) => {
    const target = district.targets[kpi];
    const low = grid.reg_rate_low ?? null;
    const high = grid.reg_rate_high ?? null;
    const interval =
      kpi === 'reg_rate' && low !== null && high !== null
        ? h('small', null, t('interval', { low: formatPct(low), high: formatPct(high) }))
        : null;
    return h(
      'tr',
      { class: `rg-kpi rg-${rowStatus(kpi, grid, target)}`, 'data-kpi': kpi },
      h('th', { scope: 'row' }, t(kpi)),
      h('td', { class: 'rg-num' }, h('span', { class: 'rg-value' }, formatPct(grid[kpi] ?? null)), interval),
      h('td', { class: 'rg-num rg-target' }, `≥${formatTarget(target)}`),
    );
  });
  const count = (key: 'persons' | 'persons_registered' | 'rental_units' | 'buildings') => {
    const n = grid[key];
    // null: fewer than 5 persons, not shown to a leader.
    return h('div', null, h('dt', null, t(key)), h('dd', null, n === undefined ? '…' : n === null ? '<5' : formatCount(n)));
  };
  const density = grid.persons_per_km2;
  return h(
    'section',
    { class: 'rg-grid-card' },
    h(
      'header',
      null,
      h('h3', null, grid.name),
      h(
        'p',
        null,
        grid.community_name === undefined || grid.street_name === undefined
          ? '…'
          : t('places', { community: grid.community_name, street: grid.street_name }),
      ),
      h('span', { class: `rg-badge rg-${grid.reg_status ?? 'none'}` }, t(grid.reg_status ?? 'none', statusVars(district))),
    ),
    h(
      'table',
      { class: 'rg-kpis' },
      h(
        'thead',
        null,
        h('tr', null, h('th', { scope: 'col' }, t('indicator')), h('th', { scope: 'col' }, t('actual')), h('th', { scope: 'col' }, t('target'))),
      ),
      h('tbody', null, ...rows),
    ),
    renderEstimates(grid),
    h(
      'dl',
      { class: 'rg-counts' },
      count('persons'),
      count('persons_registered'),
      count('rental_units'),
      count('buildings'),
      h('div', { class: 'rg-wide' }, h('dt', null, t('persons_per_km2')), h('dd', null, density === undefined || density === null ? '…' : t('perKm2', { n: formatCount(density) }))),
    ),
  );
}

/** Creates the grids layer. */
export function createGridsLayer(): MapLayer {
  /** Every grid's status, for the legend's counts. */
  let statuses: RegStatus[] = [];
  /** Grid records fetched for popups, by id; dropped when the data changes. */
  const records = new Map<number, Promise<GridProperties>>();
  let district: District | undefined;

  const loadStatuses = async (ctx: LayerContext) => {
    try {
      statuses = (await fetchGridStatuses()).map((row) => row.reg_status ?? 'none');
      ctx.refreshLegend();
    } catch (error) {
      ctx.reportError(error);
    }
  };

  return {
    id: 'grids',
    styleLayers,
    hoverLayerId: FILL,
    async attach(ctx) {
      district = ctx.district;
      // Tiles carry feature ids (the grid ids): `feature-state` keys on them.
      ctx.map.addSource(SOURCE, { type: 'vector', url: tileJsonUrl('grids') });
      await loadStatuses(ctx);
    },
    refresh(ctx) {
      records.clear();
      ctx.map.refreshTiles(SOURCE);
      void loadStatuses(ctx);
    },
    refreshChanged(ctx, change) {
      for (const id of change.grids ?? []) records.delete(id);
      refreshTouchedTiles(ctx.map, SOURCE, 'grids', change);
    },
    legend(d) {
      const counts = new Map<RegStatus, number>(STATUSES.map((s) => [s, 0]));
      for (const status of statuses) counts.set(status, (counts.get(status) ?? 0) + 1);
      return {
        title: t('title'),
        note: t('note', { target: formatTarget(d.targets.reg_rate) }),
        items: STATUSES.map((status) => ({
          swatch: { type: 'fill', color: STATUS_COLORS[status], outline: '#ffffff' },
          label: t(status, statusVars(d)),
          count: formatCount(counts.get(status) ?? 0),
        })),
      };
    },
    popup: {
      layerIds: [FILL],
      render(feature) {
        if (!district) return h('section', null, String(feature.id));
        const d = district;
        const card = cardFromTile(feature);
        // The tile holds the rates and counts; names, the interval and density come from the API.
        // Until the record arrives the card shows the tile's values and '…' for the rest.
        const section = renderPopup(card, d);
        let record = records.get(card.id);
        if (!record) {
          record = fetchGrid(card.id).then((f) => f.properties);
          records.set(card.id, record);
          record.catch(() => records.delete(card.id));
        }
        record.then((full) => section.replaceWith(renderPopup({ ...card, ...full }, d))).catch(() => {});
        return section;
      },
    },
  };
}
