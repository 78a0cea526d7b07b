/**
 * The rentgrid HTTP API as the map uses it: the response types of the contract and one typed
 * fetch per endpoint. Every URL is on the page's own origin.
 */
import type { Feature, FeatureCollection, LineString, MultiPolygon, Point, Polygon } from 'geojson';

/** [minLon, minLat, maxLon, maxLat] in WGS84. */
export type BBox = [number, number, number, number];

/** The indicators a grid is measured by; each is a rate in 0..1. */
export const KPIS = ['reg_rate', 'permit_rate', 'rental_rate', 'consistency_rate', 'pledge_rate'] as const;
export type Kpi = (typeof KPIS)[number];

/** `GET /api/district`. */
export interface District {
  code: string;
  name: string;
  bbox: BBox;
  center: [number, number];
  /** The target of each indicator, e.g. `reg_rate: 0.9` for ≥90%. */
  targets: Record<Kpi, number>;
  /** How far below its target a rate still counts as near it (0.05 = 5 points). */
  near_band: number;
}

/** How a grid's registration rate stands against its target. */
export type RegStatus = 'meets' | 'near' | 'below' | 'none';

/** The properties of one grid in `GET /api/grids`. Rates are null when their denominator is 0. */
export interface GridProperties extends Record<Kpi, number | null> {
  id: number;
  code: string;
  name: string;
  community_code: string;
  community_name: string;
  street_code: string;
  street_name: string;
  /** A point guaranteed to lie inside the grid's polygon. */
  label_point: [number, number];
  area_km2: number;
  buildings: number;
  rental_units: number;
  rental_units_registered: number;
  persons: number;
  persons_registered: number;
  persons_with_permit: number;
  persons_consistent: number;
  pledges_signed: number;
  /** 95% interval of `reg_rate`. */
  reg_rate_low: number | null;
  reg_rate_high: number | null;
  persons_per_km2: number;
  reg_status: RegStatus;
}

/** The kinds of building the demo city and importers know. */
export const BUILDING_KINDS = ['tower', 'walkup', 'village_house', 'factory', 'dormitory', 'shop'] as const;
export type BuildingKind = (typeof BUILDING_KINDS)[number];

export interface BuildingProperties {
  id: number;
  kind: BuildingKind;
  /** The door-plate address, where the server knows it (not part of the contract yet). */
  address?: string;
  grid_id: number;
  floors: number;
  rental_units: number;
  rental_units_registered: number;
  persons: number;
  persons_registered: number;
}

/** A failed request, with the server's stable error code when it sent one. */
class ApiError extends Error {
  constructor(
    readonly url: string,
    readonly status: number,
    readonly code: string | undefined,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** The absolute URL of an API path on this page's origin. */
function apiUrl(path: string): string {
  return new URL(`/api/${path}`, window.location.origin).href;
}

async function getJson<T>(path: string, signal?: AbortSignal): Promise<T> {
  return requestJson<T>(path, { headers: { Accept: 'application/json' }, ...(signal ? { signal } : {}) });
}

/** POSTs `body` as JSON; answers the JSON reply or throws an `ApiError` with the server's message. */
function postJson<T>(path: string, body: unknown): Promise<T> {
  return requestJson<T>(path, {
    method: 'POST',
    headers: { Accept: 'application/json', 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
}

async function requestJson<T>(path: string, init: RequestInit): Promise<T> {
  const url = apiUrl(path);
  const response = await fetch(url, init);
  if (!response.ok) {
    // The server answers errors as {"code": "...", "message": "..."}; anything else is reported as is.
    let code: string | undefined;
    let message = `${response.status} ${response.statusText}`;
    try {
      const body = (await response.json()) as { code?: unknown; message?: unknown };
      if (typeof body.code === 'string') code = body.code;
      if (typeof body.message === 'string') message = body.message;
    } catch {
      // Not JSON: keep the status line.
    }
    throw new ApiError(url, response.status, code, message);
  }
  return (await response.json()) as T;
}

export const fetchDistrict = (): Promise<District> => getJson('district');

/** One grid with all its indicators and names (`GET /api/grids/{id}`). */
export const fetchGrid = (id: number): Promise<Feature<Polygon | MultiPolygon, GridProperties>> => getJson(`grids/${id}`);

/** A row of `GET /api/stats?level=grid`. */
export interface GridStatsRow {
  grid_id: number;
  reg_status: RegStatus;
}

/** Every grid's registration status (for the legend's counts). */
export async function fetchGridStatuses(): Promise<GridStatsRow[]> {
  return (await getJson<{ rows: GridStatsRow[] }>('stats?level=grid')).rows;
}

/** The tile sets `GET /tiles/{layer}.json` describes. */
export type TileSet = 'grids' | 'buildings' | 'rental_units' | 'workplaces' | 'boundaries' | 'basemap' | 'heat';

/** The TileJSON URL of a tile set on this page's origin. */
export function tileJsonUrl(layer: TileSet): string {
  return new URL(`/tiles/${layer}.json`, window.location.origin).href;
}

/** The version of the server's data: it changes with every recorded visit or import. */
export async function fetchDataVersion(): Promise<number> {
  const response = await fetch(new URL('/health', window.location.origin).href, { headers: { Accept: 'application/json' } });
  if (!response.ok) throw new ApiError(response.url, response.status, undefined, `${response.status} ${response.statusText}`);
  return ((await response.json()) as { atlas_version: number }).atlas_version;
}

/** A metric `GET /api/hotspots` maps. */
export type HotspotMetric = 'unregistered_per_km2' | 'reg_rate' | 'rental_rate' | 'persons_per_km2';

/** The properties of one grid in `GET /api/hotspots` (Gi*). */
export interface HotspotProperties {
  grid_id: number;
  name: string;
  value: number | null;
  /** Gi* confidence bin: ±3 at 99%, ±2 at 95%, ±1 at 90%, 0 not significant; null when excluded. */
  class: number | null;
  class_label?: string;
  z?: number;
  p?: number;
  q?: number;
  fdr_significant?: boolean;
}

/** `GET /api/hotspots`: grids with their class, and what was run. */
export interface Hotspots {
  type: 'FeatureCollection';
  features: Feature<Polygon | MultiPolygon, HotspotProperties>[];
  description: {
    method: string;
    metric: string;
    month: string | null;
    months_available: string[];
    alpha: number;
    n: number;
    weights: { kind: string; transform: string; text: string };
  };
}

/** Gi* hot spots of `metric` at the end of `month` (today's register when absent). */
export function fetchHotspots(metric: HotspotMetric, month?: string): Promise<Hotspots> {
  const q = new URLSearchParams({ method: 'gi', metric, weights: 'queen' });
  if (month) q.set('month', month);
  return getJson(`hotspots?${q}`);
}

/** One row of `GET /api/stats?level=street|community`: aggregates only. */
export interface PlaceRow {
  code: string;
  name: string;
  parent_code: string | null;
  persons: number;
  persons_registered: number;
  rental_units: number;
  rental_units_registered: number;
  reg_rate: number | null;
  rental_rate: number | null;
}

/** The KPI rows of every street or community. */
export async function fetchPlaceRows(level: 'street' | 'community', month?: string): Promise<PlaceRow[]> {
  const q = new URLSearchParams({ level });
  if (month) q.set('month', month);
  return (await getJson<{ rows: PlaceRow[] }>(`stats?${q}`)).rows;
}

/** The properties of one feature of `GET /api/coverage`. */
export interface CoverageProperties {
  kind: 'area' | 'uncovered' | 'shared';
  caseworker_id?: number;
  name?: string;
  street_code?: string;
  grids?: number[];
  grid_id?: number;
  load?: number;
  load_label?: string;
  overloaded?: boolean;
}

/** `GET /api/coverage`: contracted areas, uncovered and shared grids. */
export interface Coverage {
  type: 'FeatureCollection';
  features: Feature<Polygon | MultiPolygon, CoverageProperties>[];
  uncovered: number[];
  overloaded: number[];
  caseworkers: number;
}

/** Each caseworker's contracted area and load (包干). */
export const fetchCoverage = (): Promise<Coverage> => getJson('coverage');

/** The quality figures of a plan (today's or proposed). */
export interface PlanQuality {
  max_deviation: number;
  mean_polsby_popper: number;
  grids_changed: number;
  uncovered: number;
  all_contiguous: boolean;
}

/** A stored territory proposal (`POST /api/territory/proposals`). */
export interface Proposal {
  id: number;
  status: 'open' | 'stale' | 'accepted';
  mode: string;
  epsilon: number;
  streets: { street_code: string; name: string; staff: number; within_epsilon: boolean; today: PlanQuality; proposed: PlanQuality }[];
  today: { type: 'FeatureCollection'; features: Feature<Polygon | MultiPolygon, CoverageProperties>[] };
  proposed: { type: 'FeatureCollection'; features: Feature<Polygon | MultiPolygon, CoverageProperties>[] };
}

/** Asks for a balanced proposal for one street. */
export const proposeTerritory = (street: string, mode: 'minimal' | 'scratch'): Promise<Proposal> =>
  postJson('territory/proposals', { street, mode });

/** Accepts a proposal: one audited write on the server. */
export const acceptProposal = (id: number, by: string): Promise<{ audit_id: number; contracts_after: number }> =>
  postJson(`territory/proposals/${id}/accept`, { by });
/** One reason a building is a candidate: a code, its numbers and the sentence in both languages. */
export interface CandidateReason {
  code: string;
  zh: string;
  en: string;
}

/** A building of `GET /api/unregistered-candidates`. */
export interface CandidateProperties {
  rank: number;
  building_id: number;
  grid_id: number;
  address: string | null;
  expected_units: number;
  units_low: number;
  units_high: number;
  expected_persons: number;
  reasons: CandidateReason[];
}

/** `GET /api/unregistered-candidates?limit=`: the buildings most likely to hide rentals, ranked. */
export function fetchCandidates(limit: number): Promise<FeatureCollection<Point, CandidateProperties>> {
  return getJson(`unregistered-candidates?limit=${limit}`);
}

/** A block's phase (蚕食法): null before 排查. */
export type Phase = 'investigate' | 'clear' | 'rectify' | 'consolidate';

/** One caseworker's buildings on one day of a plan. */
export interface PlannedAssignment {
  caseworker_id: number;
  buildings: number[];
  expected_finds: number;
}

/** `GET /api/campaigns/{id}`: the plan, the blocks with their phase, the progress. */
export interface Campaign {
  id: number;
  start_date: string;
  caseworkers: number[];
  progress: { blocks: number; buildings: number; buildings_visited: number };
  plan: { days: { date: string; assignments: PlannedAssignment[]; projected_rental_rate: number | null }[] };
  blocks: FeatureCollection<Polygon, { block_id: number; order: number; phase: Phase | null; visited: number; buildings: number }>;
}

/** `GET /api/campaigns`: the campaigns, oldest first. */
export async function fetchCampaignIds(): Promise<number[]> {
  const body = await getJson<{ campaigns: { id: number }[] }>('campaigns');
  return body.campaigns.map((c) => c.id);
}

export const fetchCampaign = (id: number): Promise<Campaign> => getJson(`campaigns/${id}`);

/** A feature of `GET /api/campaigns/{id}/routes`: a route line, the station or a numbered stop. */
export interface RouteProperties {
  kind: 'route' | 'station' | 'stop';
  caseworker_id: number;
  order?: number;
  building_id?: number;
  address?: string;
  total_m?: number;
  stops?: number;
}

export function fetchRoutes(id: number, date: string): Promise<FeatureCollection<Point | LineString, RouteProperties>> {
  return getJson(`campaigns/${id}/routes?date=${encodeURIComponent(date)}`);
}

/** What a caseworker records at a door (`POST /api/visits`). */
export interface VisitBody {
  client_id: string;
  building_id: number;
  caseworker_id?: number;
  campaign_id?: number;
  notes?: string;
  new_units?: { label: string; tenants: number; registered: boolean; pledge_signed: boolean }[];
}

/** Records a visit; a retry with the same client id changes nothing (the server answers 200). */
export async function postVisit(body: VisitBody): Promise<{ replayed: boolean }> {
  const answer = await postJson<{ replayed?: boolean }>('visits', body);
  return { replayed: answer.replayed === true };
}
