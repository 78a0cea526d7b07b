/**
 * A 蚕食法 sweep campaign (`GET /api/campaigns/{id}`): its blocks numbered in nibbling order and
 * coloured by phase (排查 → 清理 → 整治 → 巩固), and the day's walking routes
 * (`GET /api/campaigns/{id}/routes?date=`) as lines from the community station with numbered stops.
 * Numbers are HTML markers, as no glyphs are served.
 */
import { Marker, type GeoJSONSource, type MapGeoJSONFeature } from 'maplibre-gl';
import { advanceBlockPhase, ApiError, fetchCampaign, fetchCampaignIds, fetchRoutes, type Campaign, type DayRoutes, type Phase } from '../api';
import { defineStrings } from '../i18n';
import { h } from '../ui/dom';
import { scaleFactor } from '../ui/scale';
import { colorBy } from './expressions';
import type { LayerContext, MapLayer, SlottedLayer } from './types';

export const tCampaign = defineStrings(
  'campaign',
  {
    title: '蚕食法清查 · 第 {id} 号行动',
    none: '尚无清查行动',
    note: '地块按清查顺序编号；{date} 的走访路线自社区工作站出发',
    notStarted: '未开始',
    investigate: '排查',
    clear: '清理',
    rectify: '整治',
    consolidate: '巩固',
    route: '当日走访路线',
    stop: '走访点（按顺序编号）',
    blockTitle: '第 {order} 块 · {phase}',
    visited: '已走访 {visited} / {buildings} 栋',
    stopTitle: '第 {order} 站',
    advance: '进入下一阶段：{phase}',
    advancing: '正在提交…',
    advanced: '已进入{phase}。',
    lastPhase: '已是最后阶段（巩固）。',
    redHazards: '不能进入巩固：这个地块还有超期（红色）的隐患没有整改。',
    phaseMoved: '这个地块的阶段已被别人改过了，地图已刷新，请再看一下。',
    failed: '没有成功：{detail}',
  },
  {
    title: 'Sweep campaign {id} (蚕食法)',
    none: 'No sweep campaign yet',
    note: 'Blocks numbered in sweep order; routes of {date} start at the community station',
    notStarted: 'Not started',
    investigate: 'Investigate (排查)',
    clear: 'Clear (清理)',
    rectify: 'Rectify (整治)',
    consolidate: 'Consolidate (巩固)',
    route: 'The day’s walking routes',
    stop: 'Stops, numbered in order',
    blockTitle: 'Block {order} · {phase}',
    visited: '{visited} of {buildings} {buildings|building|buildings} visited',
    stopTitle: 'Stop {order}',
    advance: 'Move on to {phase}',
    advancing: 'Sending…',
    advanced: 'Now in {phase}.',
    lastPhase: 'This is the last phase (consolidate).',
    redHazards: 'Cannot consolidate yet: this block still has overdue (red) hazard cases.',
    phaseMoved: 'Someone else moved this block already; the map is reloaded, please look again.',
    failed: 'That did not work: {detail}',
  },
);

/** Phase colours, not started first. */
export const PHASE_COLORS: Record<Phase | 'none', string> = {
  none: '#bdbdbd',
  investigate: '#fb8c00',
  clear: '#fdd835',
  rectify: '#43a047',
  consolidate: '#1e88e5',
};
const ROUTE_COLOR = '#6a1b9a';

const BLOCKS = 'campaign-blocks';
const ROUTES = 'campaign-routes';
const BLOCK_FILL = 'campaign-blocks-fill';
const ROUTE_LINES = 'campaign-routes-line';
const STOP_CIRCLES = 'campaign-stops';

/** The phase a block moves to next (none after 巩固). */
const NEXT_PHASE: Record<Phase | 'none', Phase | undefined> = {
  none: 'investigate',
  investigate: 'clear',
  clear: 'rectify',
  rectify: 'consolidate',
  consolidate: undefined,
};

const styleLayers: SlottedLayer[] = [
  {
    slot: 'thematic',
    layer: {
      id: BLOCK_FILL,
      type: 'fill',
      source: BLOCKS,
      paint: {
        'fill-color': colorBy('phase_key', PHASE_COLORS, PHASE_COLORS.none),
        'fill-opacity': 0.55,
        'fill-outline-color': '#424242',
      },
    },
  },
  {
    slot: 'overlay',
    layer: {
      id: ROUTE_LINES,
      type: 'line',
      source: ROUTES,
      filter: ['==', ['get', 'kind'], 'route'],
      paint: { 'line-color': ROUTE_COLOR, 'line-width': 2.5, 'line-opacity': 0.85 },
    },
  },
  {
    slot: 'overlay',
    layer: {
      id: STOP_CIRCLES,
      type: 'circle',
      source: ROUTES,
      filter: ['!=', ['get', 'kind'], 'route'],
      paint: { 'circle-color': ROUTE_COLOR, 'circle-radius': 5, 'circle-stroke-color': '#ffffff', 'circle-stroke-width': 1.5 },
    },
  },
];

/** The campaign and day the page asks for (`?campaign=&date=`), else the latest and today. */
export function requestedCampaign(): { id?: number; date?: string } {
  const q = new URLSearchParams(window.location.search);
  const id = Number(q.get('campaign'));
  return { ...(Number.isInteger(id) && id > 0 ? { id } : {}), ...(q.get('date') ? { date: q.get('date')! } : {}) };
}

/** Today as YYYY-MM-DD on this device. */
export function localToday(): string {
  const d = new Date();
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
}

/** The plan day to show: `wanted` if given, today if it is a working day, else the next one, else the first. */
export function dayToShow(c: Campaign, wanted?: string): string | undefined {
  if (wanted) return wanted;
  const days = c.plan.days.map((d) => d.date);
  const today = localToday();
  return days.find((d) => d >= today) ?? days[0];
}

/** Loads the campaign to show, if any. */
export async function loadCampaign(id?: number): Promise<Campaign | undefined> {
  const chosen = id ?? (await fetchCampaignIds()).at(-1);
  return chosen === undefined ? undefined : fetchCampaign(chosen);
}

function phaseLabel(phase: Phase | null): string {
  return tCampaign(phase ?? 'notStarted');
}

/** A numbered marker, `offset` pixels from its point. */
function numberMarker(n: number, at: [number, number], className: string, offset: [number, number] = [0, 0]): Marker {
  return new Marker({ element: h('div', { class: className }, n), offset }).setLngLat(at);
}

/** The radius of a stop's dot on the map, its white ring included. */
const STOP_RADIUS = 6.5;
/** A stop's number sits above its dot, clear of it (the number is 15 px high at the display scale 1, and grows with it). */
const stopNumberOffset = (): [number, number] => [0, -(STOP_RADIUS + 9 * scaleFactor())];

/**
 * Leaves out every number that would cover a stop's dot (`dots`, page pixels) or a number placed
 * before it (blocks first, then stops in their order), as a symbol layer's collision does;
 * zooming in shows them again.
 */
function declutter(markers: readonly Marker[], dots: readonly [number, number][]): void {
  const r = STOP_RADIUS;
  const placed: { left: number; right: number; top: number; bottom: number }[] = dots.map(([x, y]) => ({ left: x - r, right: x + r, top: y - r, bottom: y + r }));
  for (const marker of markers) {
    const element = marker.getElement();
    element.classList.remove('rg-hidden-label');
    if (element.hidden) continue;
    const box = element.getBoundingClientRect();
    if (box.width === 0) continue;
    const hits = placed.some((p) => box.left < p.right + 1 && box.right > p.left - 1 && box.top < p.bottom + 1 && box.bottom > p.top - 1);
    if (hits) element.classList.add('rg-hidden-label');
    else placed.push(box);
  }
}

/** The mean of a ring's corners: a label point good enough for the compact blocks. */
function ringCentre(ring: number[][]): [number, number] {
  const pts = ring.slice(0, -1);
  const n = Math.max(pts.length, 1);
  return [pts.reduce((s, p) => s + p[0]!, 0) / n, pts.reduce((s, p) => s + p[1]!, 0) / n];
}

/** The campaign layer, with what the campaign panel asks of it. */
export interface CampaignLayer extends MapLayer {
  /** The campaign shown, its day and that day's routes. */
  shown(): { campaign: Campaign; date?: string; routes?: DayRoutes } | undefined;
  /** Shows campaign `id` (the URL names it) and brings its blocks into view. */
  show(id: number): Promise<void>;
  /** Draws one caseworker's route and stops only (for a route sheet's map); none: everyone's. */
  focus(caseworker: number | undefined): void;
}

/** Creates the campaign layer. */
export function createCampaignLayer(): CampaignLayer {
  let campaign: Campaign | undefined;
  let date: string | undefined;
  let routes: DayRoutes | undefined;
  let markers: Marker[] = [];
  let stopMarkers: { caseworker: number; marker: Marker }[] = [];
  /** The caseworker whose walk alone is drawn (a route sheet's map), if any. */
  let focused: number | undefined;
  let fitted = false;
  let context: LayerContext | undefined;

  /** Hides the numbers that would cover a dot or another number (`declutter`). */
  const tidy = () => {
    const map = context?.map;
    if (!map) return;
    const box = map.getContainer().getBoundingClientRect();
    const dots = (routes?.features ?? []).flatMap((f): [number, number][] => {
      if (f.properties.kind === 'route' || f.geometry.type !== 'Point') return [];
      if (focused !== undefined && f.properties.caseworker_id !== focused) return [];
      const p = map.project(f.geometry.coordinates as [number, number]);
      return [[box.left + p.x, box.top + p.y]];
    });
    declutter(markers, dots);
  };

  const load = async (ctx: LayerContext) => {
    const wanted = requestedCampaign();
    campaign = await loadCampaign(wanted.id);
    date = campaign ? dayToShow(campaign, wanted.date) : undefined;
    routes = undefined;
    for (const m of markers) m.remove();
    markers = [];
    stopMarkers = [];
    if (!campaign) return;
    const blocks = {
      ...campaign.blocks,
      features: campaign.blocks.features.map((f) => ({ ...f, properties: { ...f.properties, phase_key: f.properties.phase ?? 'none' } })),
    };
    (ctx.map.getSource(BLOCKS) as GeoJSONSource | undefined)?.setData(blocks);
    for (const f of campaign.blocks.features) {
      const ring = f.geometry?.coordinates[0];
      if (ring) markers.push(numberMarker(f.properties.order, ringCentre(ring), 'rg-block-number').addTo(ctx.map));
    }
    // On opening, bring the campaign's blocks into view (a campaign is a few grids of a district).
    const corners = campaign.blocks.features.flatMap((f) => f.geometry?.coordinates[0] ?? []);
    if (!fitted && corners.length > 0) {
      fitted = true;
      const xs = corners.map((c) => c[0]!);
      const ys = corners.map((c) => c[1]!);
      ctx.fit([Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)], { maxZoom: 17, duration: 0 });
    }
    if (date) {
      routes = await fetchRoutes(campaign.id, date);
      (ctx.map.getSource(ROUTES) as GeoJSONSource | undefined)?.setData(routes);
      for (const f of routes.features) {
        if (f.properties.kind === 'stop' && f.geometry.type === 'Point') {
          const marker = numberMarker(f.properties.order ?? 0, f.geometry.coordinates as [number, number], 'rg-stop-number', stopNumberOffset()).addTo(ctx.map);
          markers.push(marker);
          stopMarkers.push({ caseworker: f.properties.caseworker_id, marker });
        }
      }
    } else {
      (ctx.map.getSource(ROUTES) as GeoJSONSource | undefined)?.setData({ type: 'FeatureCollection', features: [] });
    }
    tidy();
    ctx.refreshLegend();
  };

  /** The popup's button that moves a block on to its next phase, and what came of it. */
  const phaseControl = (blockId: number, phase: Phase | null): HTMLElement => {
    const next = NEXT_PHASE[phase ?? 'none'];
    const message = h('p', { class: 'rg-phase-message', role: 'status' });
    if (!next || !campaign) return h('div', null, h('p', { class: 'rg-phase-message' }, tCampaign('lastPhase')));
    const id = campaign.id;
    const button = h('button', { type: 'button', class: 'rg-phase-next', 'data-phase': next }, tCampaign('advance', { phase: phaseLabel(next) }));
    button.addEventListener('click', () => {
      button.disabled = true;
      message.textContent = tCampaign('advancing');
      advanceBlockPhase(id, blockId, next)
        .then(() => {
          button.remove();
          message.textContent = tCampaign('advanced', { phase: phaseLabel(next) });
          if (context) return load(context);
        })
        .catch((error: unknown) => {
          button.disabled = false;
          if (error instanceof ApiError && error.status === 409) {
            message.textContent = error.message.includes('hazard') ? tCampaign('redHazards') : tCampaign('phaseMoved');
            button.remove();
            if (context) void load(context).catch(context.reportError);
          } else {
            message.textContent = tCampaign('failed', { detail: error instanceof Error ? error.message : String(error) });
          }
          message.classList.add('rg-phase-refused');
        });
    });
    return h('div', { class: 'rg-phase' }, button, message);
  };

  const renderPopup = (feature: MapGeoJSONFeature): HTMLElement => {
    const p = feature.properties as Record<string, string | number>;
    if (feature.layer.id === STOP_CIRCLES) {
      return h('section', null, h('h3', null, p.kind === 'station' ? '🏠' : tCampaign('stopTitle', { order: p.order ?? '' })), h('p', null, String(p.address ?? '')));
    }
    const phase = (p.phase_key === 'none' ? null : p.phase_key) as Phase | null;
    return h(
      'section',
      { class: 'rg-block-popup', 'data-block': p.block_id },
      h('header', null, h('span', { class: 'rg-dot', style: `background:${PHASE_COLORS[phase ?? 'none']}` }), h('h3', null, tCampaign('blockTitle', { order: p.order ?? '', phase: phaseLabel(phase) }))),
      h('p', null, tCampaign('visited', { visited: p.visited ?? 0, buildings: p.buildings ?? 0 })),
      phaseControl(Number(p.block_id), phase),
    );
  };

  return {
    id: 'campaign',
    styleLayers,
    async attach(ctx) {
      context = ctx;
      const empty = { type: 'FeatureCollection' as const, features: [] };
      ctx.map.addSource(BLOCKS, { type: 'geojson', data: empty });
      ctx.map.addSource(ROUTES, { type: 'geojson', data: empty });
      await load(ctx);
      const onMoved = () => tidy();
      ctx.map.on('moveend', onMoved);
      return () => {
        ctx.map.off('moveend', onMoved);
        for (const m of markers) m.remove();
      };
    },
    refresh(ctx) {
      load(ctx).catch(ctx.reportError);
    },
    onVisibilityChange(visible) {
      for (const m of markers) m.getElement().hidden = !visible;
      tidy();
    },
    legend() {
      const phases: (Phase | 'none')[] = ['none', 'investigate', 'clear', 'rectify', 'consolidate'];
      return {
        title: campaign ? tCampaign('title', { id: campaign.id }) : tCampaign('none'),
        ...(date ? { note: tCampaign('note', { date }) } : {}),
        items: [
          ...phases.map((p) => ({
            swatch: { type: 'fill' as const, color: PHASE_COLORS[p], outline: '#424242' },
            label: p === 'none' ? tCampaign('notStarted') : tCampaign(p),
            ...(campaign ? { count: String(campaign.blocks.features.filter((f) => (f.properties.phase ?? 'none') === p).length) } : {}),
          })),
          { swatch: { type: 'line', color: ROUTE_COLOR, width: 2.5 }, label: tCampaign('route') },
          { swatch: { type: 'circle', color: ROUTE_COLOR, outline: '#ffffff' }, label: tCampaign('stop') },
        ],
      };
    },
    popup: { layerIds: [BLOCK_FILL, STOP_CIRCLES], render: renderPopup },
    shown() {
      return campaign ? { campaign, ...(date ? { date } : {}), ...(routes ? { routes } : {}) } : undefined;
    },
    async show(id) {
      const q = new URLSearchParams(window.location.search);
      q.set('campaign', String(id));
      q.delete('date');
      window.history.replaceState(null, '', `${window.location.pathname}?${q}`);
      fitted = false;
      if (context) await load(context);
    },
    focus(caseworker) {
      const map = context?.map;
      if (!map) return;
      focused = caseworker;
      const mine: ['==', ['get', string], number] | undefined = caseworker === undefined ? undefined : ['==', ['get', 'caseworker_id'], caseworker];
      map.setFilter(ROUTE_LINES, mine ? ['all', ['==', ['get', 'kind'], 'route'], mine] : ['==', ['get', 'kind'], 'route']);
      map.setFilter(STOP_CIRCLES, mine ? ['all', ['!=', ['get', 'kind'], 'route'], mine] : ['!=', ['get', 'kind'], 'route']);
      for (const { caseworker: c, marker } of stopMarkers) marker.getElement().hidden = caseworker !== undefined && c !== caseworker;
      tidy();
    },
  };
}
