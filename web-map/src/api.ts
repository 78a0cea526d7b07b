/**
 * The rentgrid HTTP API as the map uses it: one typed fetch per endpoint. The types are those of
 * the server's OpenAPI document (`web-map/openapi.json`, written by `rentgrid openapi`), which
 * `npm run generate` turns into `src/generated/api.ts` before every build, so a field the map uses
 * that leaves the API fails the build. Every URL is on the page's own origin.
 */
import type * as G from 'geojson';
import type { components, operations } from './generated/api';
import { csrfToken, sessionExpired } from './session';

/** The schemas of the API's bodies. */
type Schemas = components['schemas'];

/** The body of a 200 answer of an operation, in its media type. */
type Ok<Op extends keyof operations, Media extends string = 'application/json'> = operations[Op] extends {
  responses: { 200: { content: Record<Media, infer Body> } };
}
  ? Body
  : never;

/**
 * A feature of the API with its geometry typed as `@types/geojson` does (what MapLibre takes):
 * the properties are the API's own.
 */
export type GeoFeature<F extends { properties: unknown }, Geom extends G.Geometry = G.Geometry> = G.Feature<Geom, F['properties']>;

/** A collection of the API with its features' geometries typed as `@types/geojson` does. */
export type GeoCollection<C extends { features: { properties: unknown }[] }, Geom extends G.Geometry = G.Geometry> = Omit<
  C,
  'type' | 'features'
> & { type: 'FeatureCollection'; features: GeoFeature<C['features'][number], Geom>[] };

/** [minLon, minLat, maxLon, maxLat] in WGS84. */
export type BBox = [number, number, number, number];

/** The indicators a grid is measured by; each is a rate in 0..1 with a target. */
export const KPIS = ['reg_rate', 'permit_rate', 'rental_rate', 'consistency_rate', 'pledge_rate'] as const satisfies readonly (keyof Schemas['Targets'])[];
export type Kpi = (typeof KPIS)[number];

/** `GET /api/district` (its box and centre as tuples). */
export type District = Omit<Schemas['District'], 'bbox' | 'center'> & { bbox: BBox; center: [number, number] };

/** How a grid's registration rate stands against its target. */
export type RegStatus = Schemas['Status'];

/** The properties of one grid in `GET /api/grids`. Rates are null when their denominator is 0. */
export type GridProperties = Schemas['GridProperties'];

/** The kinds of building the demo city and importers know. */
export const BUILDING_KINDS = ['tower', 'walkup', 'village_house', 'factory', 'dormitory', 'shop'] as const;
export type BuildingKind = (typeof BUILDING_KINDS)[number];

/** The properties of one building (`GET /api/buildings`). */
export type BuildingProperties = Schemas['BuildingProperties'];

/** A failed request, with the server's stable error code when it sent one. */
export class ApiError extends Error {
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

/** The methods of a write. */
export type WriteMethod = 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/**
 * Sends one write of the outbox: `path` under `/api/`, `body` as JSON. Throws an `ApiError` with
 * the server's status and message, or the browser's error when the network failed.
 */
export function sendWrite(method: WriteMethod, path: string, body: unknown): Promise<unknown> {
  return requestJson<unknown>(path, {
    method,
    headers: { Accept: 'application/json', 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
}

async function requestJson<T>(path: string, init: RequestInit): Promise<T> {
  const url = apiUrl(path);
  const token = csrfToken();
  const write = init.method !== undefined && init.method !== 'GET';
  const headers = write && token ? { ...(init.headers as Record<string, string>), 'X-CSRF-Token': token } : init.headers;
  const response = await fetch(url, { ...init, ...(headers ? { headers } : {}) });
  if (response.status === 401) sessionExpired();
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
  if (response.status === 204) return undefined as T;
  return (await response.json()) as T;
}

export const fetchDistrict = (): Promise<District> => getJson('district');

/** One thing `GET /api/search` found: a place, a caseworker's area, a rental unit or a (masked) person. */
export type SearchResult = Omit<Schemas['SearchResult'], 'point' | 'bbox'> & { point: [number, number]; bbox: BBox | null };

/** What a search found, best first, within the caller's scope. */
export type SearchAnswer = Omit<Ok<'search'>, 'results'> & { results: SearchResult[] };

/** Searches `q` (a name or part of it, pinyin, a code, a survey id, an address with its room). */
export const searchPlaces = (q: string, signal?: AbortSignal): Promise<SearchAnswer> =>
  getJson(`search?q=${encodeURIComponent(q)}&limit=10`, signal);

/** A rental unit's household card (`GET /api/units/{id}`), masked as the role sees it. */
export type UnitCard = Schemas['Unit'];

/** What a door plate opens (`GET /api/plates/{token}`): a unit's card, or a building and its units. */
export type PlateOpens = Schemas['PlateOpens'];

/** What the door plate of `token` opens; 404 forged, 410 revoked, 403 outside the caller's grids. */
export const fetchPlate = (token: string): Promise<PlateOpens> => getJson(`plates/${encodeURIComponent(token)}`);

/** One rental unit's household card. */
export const fetchUnitCard = (id: number): Promise<UnitCard> => getJson(`units/${id}`);

/** One grid with all its indicators and names (`GET /api/grids/{id}`). */
export const fetchGrid = (id: number): Promise<GeoFeature<Ok<'grid', 'application/geo+json'>, G.Polygon | G.MultiPolygon>> =>
  getJson(`grids/${id}`);

/** A row of `GET /api/stats`: a place's KPIs with its name and parent, and its estimated actual
 * rates (over the recorded and the estimated unrecorded; null for a past month). */
export type StatsRow = Schemas['RatesRow'];

/** How an estimated actual rate's 90% interval stands against its target. */
export type Verdict = Schemas['Verdict'];

/** The estimated actual rates a grid's tile carries (absent without an estimate or a denominator). */
export type GridEstimates = Partial<
  Pick<
    Schemas['PlaceRates'],
    | 'reg_rate_est'
    | 'reg_rate_est_low'
    | 'reg_rate_est_high'
    | 'reg_rate_verdict'
    | 'rental_rate_est'
    | 'rental_rate_est_low'
    | 'rental_rate_est_high'
    | 'rental_rate_verdict'
  >
>;

/** Every grid's KPI row (for the legend's counts of registration status). */
export async function fetchGridStatuses(): Promise<StatsRow[]> {
  return (await getJson<Ok<'stats'>>('stats?level=grid')).rows;
}

/** The tile sets `GET /tiles/{layer}.json` describes. */
export type TileSet = 'grids' | 'buildings' | 'rental_units' | 'workplaces' | 'boundaries' | 'basemap' | 'heat';

/** `GET /tiles/{layer}.json`: a tile set's TileJSON (its tile URL template and zooms). */
export async function fetchTileJson(layer: TileSet): Promise<Schemas['TileJson']> {
  const response = await fetch(tileJsonUrl(layer), { headers: { Accept: 'application/json' } });
  if (!response.ok) throw new ApiError(response.url, response.status, undefined, `${response.status} ${response.statusText}`);
  return (await response.json()) as Schemas['TileJson'];
}

/** `GET /api/grids`: the grids the user may see, with their KPIs. */
export const fetchGrids = (): Promise<GeoCollection<Ok<'grids', 'application/geo+json'>, G.Polygon | G.MultiPolygon>> => getJson('grids');

/** The TileJSON URL of a tile set on this page's origin. */
export function tileJsonUrl(layer: TileSet): string {
  return new URL(`/tiles/${layer}.json`, window.location.origin).href;
}

/** `GET /api/map-config`: the raster basemaps on offer besides the offline one (Tianditu's with a key). */
export type MapConfig = Schemas['MapConfig'];
export type RasterBasemap = Schemas['RasterBasemap'];

/** The basemaps the server offers (signed-in users only: the Tianditu key is in their URLs). */
export async function fetchMapConfig(): Promise<MapConfig> {
  return getJson<Ok<'map_config'>>('map-config');
}

/** `GET /fonts.json`: the fonts the server draws map labels with (none: no labels). */
export type FontCatalog = Schemas['FontCatalog'];

/** The URL of the font catalog on this page's origin. */
export const fontCatalogUrl = (): string => new URL('/fonts.json', window.location.origin).href;

/** `GET /fonts.json`: which fonts there are and which ones labels are written in. */
export async function fetchFonts(): Promise<FontCatalog> {
  const response = await fetch(fontCatalogUrl(), { headers: { Accept: 'application/json' } });
  if (!response.ok) throw new ApiError(response.url, response.status, undefined, `${response.status} ${response.statusText}`);
  return (await response.json()) as FontCatalog;
}

/**
 * The URL template of glyph ranges on this page's origin, for the style's `glyphs` (kept as a
 * template: `{fontstack}` and `{range}` are filled in by MapLibre).
 */
export const glyphsUrl = (): string => `${window.location.origin}/fonts/{fontstack}/{range}.pbf`;

/** The version of the server's data: it changes with every recorded visit or import. */
export async function fetchDataVersion(): Promise<number> {
  const response = await fetch(new URL('/health', window.location.origin).href, { headers: { Accept: 'application/json' } });
  if (!response.ok) throw new ApiError(response.url, response.status, undefined, `${response.status} ${response.statusText}`);
  return ((await response.json()) as Ok<'health'>).atlas_version;
}

/** One event of `GET /api/events`: a data change the open map should show (see `live.ts`). */
export type DataEvent = Schemas['DataEvent'];

/** A metric the map's hot spot layer offers (each one of the API's metrics). */
export type HotspotMetric = Extract<Schemas['Metric'], 'unregistered_per_km2' | 'reg_rate' | 'rental_rate' | 'persons_per_km2'>;

/** The properties of one site in `GET /api/hotspots`. */
export type HotspotProperties = Schemas['Feature_HotspotProperties']['properties'];

/** A site of `GET /api/hotspots?geometry=false`: a grid (its id the grid id) and its figures. */
export type HotspotSite = Omit<Schemas['Feature_HotspotProperties'], 'geometry'> & { geometry: null };

/** `GET /api/hotspots?geometry=false`: sites with their class, without outlines, and what was run. */
export type Hotspots = Omit<Schemas['Hotspots'], 'features'> & { features: HotspotSite[] };

/**
 * Gi* hot spots of `metric` at the end of `month` (today's register when absent), without the
 * grids' outlines: the map draws them from the `grids` tiles. The server makes these answers
 * (this query as it is) before a leader asks (`LEADERS_VIEW_METRICS` in server/src/api/hotspots.rs).
 */
export function fetchHotspots(metric: HotspotMetric, month?: string): Promise<Hotspots> {
  const q = new URLSearchParams({ method: 'gi', metric, weights: 'queen', geometry: 'false' });
  if (month) q.set('month', month);
  return getJson(`hotspots?${q}`);
}

/** One row of `GET /api/stats?level=street|community`. */
export type PlaceRow = StatsRow;

/** The KPI rows of every street or community. */
export async function fetchPlaceRows(level: 'district' | 'street' | 'community', month?: string): Promise<PlaceRow[]> {
  const q = new URLSearchParams({ level });
  if (month) q.set('month', month);
  return (await getJson<Ok<'stats'>>(`stats?${q}`)).rows;
}

/** The tables `GET /api/exports/{table}.{format}` serves to the web map's export buttons. */
export type ExportTable = 'streets' | 'communities' | 'grids' | 'staffing' | 'assessment' | 'spot_checks';

/**
 * The URL of a table's download (`GET /api/exports/{table}.{format}`), with its headers in `lang`
 * and the table's own parameters (e.g. `month`).
 */
export function exportUrl(table: ExportTable, format: 'csv' | 'xlsx', lang: 'zh' | 'en', params: Record<string, string> = {}): string {
  const q = new URLSearchParams(params);
  q.set('lang', lang);
  return apiUrl(`exports/${table}.${format}?${q}`);
}

/** The properties of one feature of `GET /api/coverage`: an area, or an uncovered or shared grid. */
export type CoverageProperties =
  | Schemas['Feature_CoverageProperties']['properties']
  | Schemas['Feature_ProposedAreaProperties']['properties'];

/** `GET /api/coverage`: contracted areas, uncovered and shared grids. */
export type Coverage = GeoCollection<Schemas['Coverage'], G.Polygon | G.MultiPolygon>;

/** Each caseworker's contracted area and load (包干). */
export const fetchCoverage = (): Promise<Coverage> => getJson('coverage');

/** The quality figures of a plan (today's or proposed). */
export type PlanQuality = Schemas['PlanQuality'];

/** A stored territory proposal (`POST /api/territory/proposals`). */
export type Proposal = Omit<Schemas['Proposal'], 'today' | 'proposed'> & {
  today: GeoCollection<Schemas['Proposal']['today'], G.Polygon | G.MultiPolygon>;
  proposed: GeoCollection<Schemas['Proposal']['proposed'], G.Polygon | G.MultiPolygon>;
};

/** Asks for a balanced proposal for one street. */
export const proposeTerritory = (street: string, mode: 'minimal' | 'scratch'): Promise<Proposal> =>
  postJson('territory/proposals', { street, mode });

/** Accepts a proposal: one audited write on the server. */
export const acceptProposal = (id: number, by: string): Promise<Schemas['Accepted']> =>
  postJson(`territory/proposals/${id}/accept`, { by });
/** One reason a building is a candidate: a code, its numbers and the sentence in both languages. */
export type CandidateReason = Schemas['WordedReason'];

/** A building of `GET /api/unregistered-candidates`. */
export type CandidateProperties = Schemas['Feature_CandidateProperties']['properties'];

/** `GET /api/unregistered-candidates?limit=[&bbox=]`: the buildings most likely to hide rentals, ranked. */
export function fetchCandidates(limit: number, bbox?: BBox): Promise<GeoCollection<Schemas['Candidates'], G.Point>> {
  return getJson(`unregistered-candidates?limit=${limit}${bbox ? `&bbox=${bbox.join(',')}` : ''}`);
}

/** A block's phase (蚕食法): null before 排查. */
export type Phase = Schemas['Phase'];

/** `GET /api/campaigns/{id}`: the plan, the blocks with their phase, the progress. */
export type Campaign = Omit<Schemas['Campaign'], 'plan' | 'blocks'> & {
  plan: NonNullable<Schemas['Campaign']['plan']>;
  blocks: GeoCollection<NonNullable<Schemas['Campaign']['blocks']>, G.Polygon>;
};

/** `GET /api/campaigns`: the campaigns, oldest first. */
export async function fetchCampaignIds(): Promise<number[]> {
  const body = await getJson<Schemas['Campaigns']>('campaigns');
  return body.campaigns.map((c) => c.id);
}

export const fetchCampaign = (id: number): Promise<Campaign> => getJson(`campaigns/${id}`);

/** What `POST /api/campaigns` takes: the area (grids or a drawn polygon), the team and the dates. */
export type CampaignRequest = Schemas['CampaignRequest'];

/** Plans and stores a campaign (one audited write); answers it with its plan and blocks. */
export const createCampaign = (body: CampaignRequest): Promise<Campaign> => postJson('campaigns', body);

/** A block's phase after a move (`POST /api/campaigns/{id}/blocks/{block}/phase`). */
export type BlockPhase = Schemas['BlockPhase'];

/** Moves a block of a campaign on to `phase`, the next one in order (else a 409). */
export const advanceBlockPhase = (campaign: number, block: number, phase: Phase): Promise<BlockPhase> =>
  postJson(`campaigns/${campaign}/blocks/${block}/phase`, { phase });

/** `GET /api/assessment?month=`: each caseworker's month (考核) within the caller's scope. */
export type AssessmentAnswer = Ok<'assessment'>;

/** The assessment of `month` (YYYY-MM). */
export const fetchAssessment = (month: string): Promise<AssessmentAnswer> => getJson(`assessment?month=${encodeURIComponent(month)}`);

/** `GET /api/spot-checks?month=`: the month's spot checks (抽查) within the caller's scope. */
export type SpotChecksAnswer = Ok<'spot_checks'>;

/** The spot checks of `month` (YYYY-MM). */
export const fetchSpotChecks = (month: string): Promise<SpotChecksAnswer> => getJson(`spot-checks?month=${encodeURIComponent(month)}`);

/** Each campaign's progress (blocks per phase, buildings visited), oldest first. */
export async function fetchCampaignProgress(): Promise<Schemas['Progress'][]> {
  const body = await getJson<Schemas['Campaigns']>('campaigns');
  return body.campaigns.map((c) => c.progress);
}

/** `GET /api/summary`: the big screen's figures over the user's grids, from one data snapshot. */
export type Summary = Ok<'summary'>;

/** The big screen's figures, with as many of the latest visits as the server lists by default. */
export const fetchSummary = (): Promise<Summary> => getJson('summary');

/** A feature of `GET /api/campaigns/{id}/routes`: a route line, the station or a numbered stop. */
export type RouteProperties = Schemas['Feature_RouteProperties']['properties'];

export type DayRoutes = GeoCollection<Schemas['DayRoutes'], G.Point | G.LineString>;

export function fetchRoutes(id: number, date: string): Promise<DayRoutes> {
  return getJson(`campaigns/${id}/routes?date=${encodeURIComponent(date)}`);
}

/** `GET /api/campaigns/{id}/visits?date=&caseworker=`: the campaign's visits recorded for a day. */
export function fetchCampaignVisits(id: number, date: string, caseworker?: number): Promise<Schemas['CampaignVisits']> {
  return getJson(campaignVisitsPath(id, date, caseworker));
}

/** The API path of [`fetchCampaignVisits`] (the offline cache keeps it by this URL). */
export function campaignVisitsPath(id: number, date: string, caseworker?: number): string {
  const q = new URLSearchParams({ date });
  if (caseworker !== undefined) q.set('caseworker', String(caseworker));
  return `campaigns/${id}/visits?${q}`;
}

/** What a caseworker records at a door (`POST /api/visits`). */
export type VisitBody = Schemas['VisitRequest'];

/** Records a visit; a retry with the same client id changes nothing (the server answers 200). */
export async function postVisit(body: VisitBody): Promise<{ replayed: boolean }> {
  const answer = await postJson<Schemas['VisitAnswer']>('visits', body);
  return { replayed: answer.replayed === true };
}

/** A hazard case (隐患) as the API answers it: kind, severity, status, deadline and how late it is. */
export type HazardCase = Schemas['HazardCase'];

/** `GET /api/hazard-kinds`: the configured kinds with their deadlines, and the severities. */
export type HazardKinds = Schemas['HazardKindList'];

/** How serious a hazard is: `minor` (一般), `major` (较大), `severe` (重大). */
export type HazardSeverity = Schemas['Severity'];

/** How late an open case is: `on_time`, `yellow` (黄) or `red` (红). */
export type HazardUrgency = Schemas['Urgency'];

/** `GET /api/hazards`: the cases in the caller's grids and how many are late. */
export type HazardList = Schemas['HazardList'];

/** `GET /api/hazards/{id}`: a case with its moves and photos. */
export type HazardDetail = Schemas['HazardDetail'];

/** What is sent for a hazard found at a building (`POST /api/buildings/{id}/hazards`). */
export type NewHazardBody = Schemas['NewHazardRequest'];

/** The moves of a case after it was found, each `POST /api/hazards/{id}/{move}`. */
export type HazardMove = 'assign' | 'rectified' | 'verify' | 'reopen';

/** The configured kinds of hazard (kept for offline use). */
export const fetchHazardKinds = (): Promise<HazardKinds> => getJson('hazard-kinds');

/** The API path of `GET /api/hazards` (the phone keeps the open cases by this URL). */
export function hazardsPath(q: { open?: boolean; building?: number; assignee?: number } = {}): string {
  const p = new URLSearchParams();
  if (q.open === false) p.set('open', 'false');
  if (q.building !== undefined) p.set('building', String(q.building));
  if (q.assignee !== undefined) p.set('assignee', String(q.assignee));
  const query = p.toString();
  return query ? `hazards?${query}` : 'hazards';
}

/** The hazard cases in the caller's grids: open ones unless `open` is false. */
export const fetchHazards = (q: Parameters<typeof hazardsPath>[0] = {}): Promise<HazardList> => getJson(hazardsPath(q));

/** One case with its history and photos. */
export const fetchHazard = (id: number): Promise<HazardDetail> => getJson(`hazards/${id}`);

/** Moves a case (the command center's and supervisors' moves are made online, not queued). */
export const moveHazard = (id: number, move: HazardMove, body: Schemas['MoveRequest']): Promise<Schemas['HazardWrite']> =>
  postJson(`hazards/${id}/${move}`, body);

/** Adds a photo (a JPEG, PNG or WebP image as the body) to a case. */
export const uploadHazardPhoto = (id: number, image: Blob): Promise<Schemas['PhotoAdded']> =>
  requestJson(`hazards/${id}/photos`, { method: 'POST', headers: { Accept: 'application/json', 'Content-Type': image.type }, body: image });

/** One of the signed-in user's API tokens (`GET /api/tokens`): never the secret itself. */
export type TokenRow = Schemas['TokenInfo'];

/** The signed-in user's API tokens, live ones only. */
export async function fetchTokens(): Promise<TokenRow[]> {
  return (await getJson<Schemas['TokenList']>('tokens')).tokens.filter((t) => !t.revoked_at);
}

/** Creates an API token; its secret is in this answer only. */
export const createToken = (name: string): Promise<Schemas['NewToken']> => postJson('tokens', { name });

/** Revokes one of the signed-in user's tokens. */
export async function revokeToken(id: number): Promise<void> {
  await requestJson<unknown>(`tokens/${id}`, { method: 'DELETE', headers: { Accept: 'application/json' } });
}

/** A person as the API serves them (masked unless revealed). */
export type PersonRow = Schemas['Person'];

/** `GET /api/buildings/{id}/units`: a building's rental units, empty ones too, with how many live in each. */
export type BuildingUnits = Schemas['BuildingUnits'];

/** The API path of a building's rental units, as the phone asks and keeps it. */
export const buildingUnitsPath = (building: number): string => `buildings/${building}/units`;

/** A building's rental units, empty ones too (a person can be registered into any of them). */
export const fetchBuildingUnits = (building: number): Promise<BuildingUnits> => getJson(buildingUnitsPath(building));

/** `GET /api/overdue`: buildings not visited for too long, and the count per caseworker. */
export type OverdueList = Schemas['OverdueList'];

/** A building of the overdue list, with its point. */
export type OverdueBuilding = Schemas['OverdueBuilding'];

/** The API path of the overdue list, of one caseworker's grids or of the caller's scope, its first `limit` buildings. */
export function overduePath(caseworker: number | undefined, limit: number): string {
  const q = new URLSearchParams({ limit: String(limit) });
  if (caseworker !== undefined) q.set('caseworker', String(caseworker));
  return `overdue?${q}`;
}

/** The buildings overdue for a visit (the first `limit`; all counted), of one caseworker's grids or of the caller's scope. */
export const fetchOverdue = (caseworker: number | undefined, limit: number): Promise<OverdueList> => getJson(overduePath(caseworker, limit));

/** An open conflict between edits of a person. */
export type ConflictRow = Schemas['ConflictView'];

/** `GET /api/conflicts`: the open conflicts in the caller's grids. */
export async function fetchConflicts(): Promise<ConflictRow[]> {
  return (await getJson<Schemas['Conflicts']>('conflicts')).conflicts;
}

/** The path of the workplaces of a grid (OGC API – Features), as the phone asks and keeps it. */
export function workplacesPath(gridId: number): string {
  return `/collections/workplaces/items?grid_id=${gridId}&limit=1000`;
}

/** The workplaces (用工单位) of a grid, by name. */
export async function fetchWorkplaces(gridId: number): Promise<{ id: number; name: string }[]> {
  const url = new URL(workplacesPath(gridId), window.location.origin).href;
  const response = await fetch(url, { headers: { Accept: 'application/geo+json' } });
  if (!response.ok) throw new ApiError(url, response.status, undefined, `${response.status} ${response.statusText}`);
  const body = (await response.json()) as { features: { properties: { id: number; name: string } }[] };
  return body.features.map((f) => ({ id: f.properties.id, name: f.properties.name })).sort((a, b) => a.name.localeCompare(b.name, 'zh-CN'));
}

/** `GET /api/places/{place}`: a place of the drill-down with its breadcrumb, figures, trend and the places below it. */
export type PlaceView = Omit<Ok<'place'>, 'bbox' | 'point'> & { bbox: BBox; point: [number, number] };

/** A place (`district`, `street:CODE`, `community:CODE`, `grid:CODE`) for the drill-down, within the user's scope. */
export const fetchPlace = (key: string, signal?: AbortSignal): Promise<PlaceView> => getJson(`places/${encodeURIComponent(key)}`, signal);

/** `GET /api/buildings/{id}/trend`: a building's KPIs at the end of each month, the months of its grid's trend. */
export type BuildingTrend = Ok<'building_trend'>;

/** A building's trend for the drill-down, within the user's scope (not for a leader). */
export const fetchBuildingTrend = (id: number): Promise<BuildingTrend> => getJson(`buildings/${id}/trend`);

/** One building with its counts (`GET /api/buildings/{id}`). */
export const fetchBuilding = (id: number): Promise<GeoFeature<Ok<'building', 'application/geo+json'>, G.Polygon>> =>
  getJson(`buildings/${id}`);
