/**
 * 包干 coverage: each caseworker's contracted area in its own colour, labelled with the name and
 * the load (1.0 = exactly the staffing ratio), overloaded areas outlined in red, grids nobody
 * covers hatched (a fill pattern drawn in code). A proposal can be shown instead of today's areas.
 */
import { Marker, type GeoJSONSource, type Map as MapLibreMap } from 'maplibre-gl';
import type { Feature, MultiPolygon, Polygon, Position } from 'geojson';
import { fetchCoverage, type Coverage, type CoverageProperties } from '../api';
import { formatCount } from '../format';
import { defineStrings } from '../i18n';
import { h } from '../ui/dom';
import { hovered } from './expressions';
import type { LayerContext, MapLayer, SlottedLayer } from './types';

export const tCov = defineStrings(
  'coverage',
  {
    title: '包干区 · 综管员负荷',
    titleProposal: '包干区 · 调整方案（未接受）',
    note: '每位综管员一种颜色，标注姓名与负荷（1.00 = 恰好达到配备比例）。',
    area: '综管员包干区（每人一色）',
    overloaded: '超负荷（负荷 > 1.0）',
    uncovered: '无人包干的网格',
    shared: '多人包干的网格',
    load: '负荷',
    grids: '包干网格',
    caseworkers: '{n} 人',
  },
  {
    title: 'Contracted areas · caseworker load',
    titleProposal: 'Contracted areas · proposal (not accepted)',
    note: 'One colour per caseworker, labelled with name and load (1.00 = exactly the staffing ratio).',
    area: "A caseworker's area (one colour each)",
    overloaded: 'Overloaded (load > 1.0)',
    uncovered: 'Grid nobody covers',
    shared: 'Grid covered twice',
    load: 'Load',
    grids: 'Grids',
    caseworkers: '{n} {n|caseworker|caseworkers}',
  },
);

/** Colours the areas cycle through (ColorBrewer Set3, readable under a red outline). */
const PALETTE = ['#8dd3c7', '#ffffb3', '#bebada', '#80b1d3', '#fdb462', '#b3de69', '#fccde5', '#d9d9d9', '#bc80bd', '#ccebc5'];
const OVERLOAD = '#d7191c';
const HATCH = 'rg-hatch';
const SOURCE = 'coverage';
const FILL = 'coverage-fill';

/** A caseworker's colour: the palette entry of their id. */
const areaColor = ['to-color', ['at', ['%', ['to-number', ['get', 'caseworker_id'], 0], PALETTE.length], ['literal', PALETTE]]] as never;

const styleLayers: SlottedLayer[] = [
  {
    slot: 'thematic',
    layer: {
      id: FILL,
      type: 'fill',
      source: SOURCE,
      filter: ['==', ['get', 'kind'], 'area'],
      paint: { 'fill-color': areaColor, 'fill-opacity': ['case', hovered, 0.8, 0.6] },
    },
  },
  {
    slot: 'thematic',
    layer: {
      id: 'coverage-uncovered',
      type: 'fill',
      source: SOURCE,
      filter: ['==', ['get', 'kind'], 'uncovered'],
      paint: { 'fill-pattern': HATCH },
    },
  },
  {
    slot: 'overlay',
    layer: {
      id: 'coverage-outline',
      type: 'line',
      source: SOURCE,
      filter: ['==', ['get', 'kind'], 'area'],
      paint: { 'line-color': '#ffffff', 'line-width': 1 },
    },
  },
  {
    slot: 'overlay',
    layer: {
      id: 'coverage-shared',
      type: 'line',
      source: SOURCE,
      filter: ['==', ['get', 'kind'], 'shared'],
      paint: { 'line-color': '#5e3c99', 'line-width': 1.5, 'line-dasharray': [2, 2] },
    },
  },
  {
    slot: 'overlay',
    layer: {
      id: 'coverage-overloaded',
      type: 'line',
      source: SOURCE,
      filter: ['all', ['==', ['get', 'kind'], 'area'], ['==', ['get', 'overloaded'], true]],
      paint: { 'line-color': OVERLOAD, 'line-width': 2.5 },
    },
  },
];

/** The diagonal hatch of uncovered grids, drawn on a canvas and added as a map image. */
function addHatch(map: MapLibreMap) {
  if (map.hasImage(HATCH)) return;
  const size = 8;
  const canvas = document.createElement('canvas');
  canvas.width = size;
  canvas.height = size;
  const g = canvas.getContext('2d');
  if (!g) return;
  g.fillStyle = 'rgba(255,255,255,0.35)';
  g.fillRect(0, 0, size, size);
  g.strokeStyle = '#555555';
  g.lineWidth = 1.5;
  g.beginPath();
  g.moveTo(0, size);
  g.lineTo(size, 0);
  g.moveTo(-size / 2, size / 2);
  g.lineTo(size / 2, -size / 2);
  g.moveTo(size / 2, size + size / 2);
  g.lineTo(size + size / 2, size / 2);
  g.stroke();
  map.addImage(HATCH, g.getImageData(0, 0, size, size));
}

/** A point for an area's label: the centre of the bounding box of its largest ring's vertices. */
function labelPoint(geometry: Polygon | MultiPolygon): [number, number] | undefined {
  const rings: Position[][] = geometry.type === 'Polygon' ? [geometry.coordinates[0] ?? []] : geometry.coordinates.map((p) => p[0] ?? []);
  const ring = rings.reduce<Position[]>((a, b) => (b.length > a.length ? b : a), []);
  if (ring.length === 0) return undefined;
  const xs = ring.map((p) => p[0]!);
  const ys = ring.map((p) => p[1]!);
  return [(Math.min(...xs) + Math.max(...xs)) / 2, (Math.min(...ys) + Math.max(...ys)) / 2];
}

/** Labels from this zoom on (below it the areas are too small to carry a name). */
const LABEL_MIN_ZOOM = 13;

export type AreaCollection = { type: 'FeatureCollection'; features: Feature<Polygon | MultiPolygon, CoverageProperties>[] };

/** The coverage layer; `show` swaps in a proposal's areas (or today's again with `undefined`). */
export interface CoverageLayer extends MapLayer {
  show(proposal: AreaCollection | undefined): void;
  /** Reloads today's coverage (after an accepted proposal). */
  reload(): Promise<void>;
  current(): Coverage | undefined;
}

export function createCoverageLayer(): CoverageLayer {
  let ctx: LayerContext | undefined;
  let today: Coverage | undefined;
  let proposal: AreaCollection | undefined;
  let markers: Marker[] = [];

  const drawLabels = () => {
    for (const m of markers) m.remove();
    markers = [];
    const map = ctx?.map;
    if (!map) return;
    const shown = proposal ?? today;
    for (const f of shown?.features ?? []) {
      const p = f.properties;
      if (p.kind !== 'area' || !f.geometry) continue;
      const at = labelPoint(f.geometry);
      if (!at) continue;
      const el = h('div', { class: p.overloaded ? 'rg-area-label rg-overloaded' : 'rg-area-label' }, h('b', null, p.name ?? ''), ' ', p.load_label ?? '');
      markers.push(new Marker({ element: el }).setLngLat(at).addTo(map));
    }
    toggleLabels();
  };
  const toggleLabels = () => {
    const on = (ctx?.map.getZoom() ?? 0) >= LABEL_MIN_ZOOM;
    for (const m of markers) m.getElement().hidden = !on;
  };
  const setData = () => {
    const data = proposal ?? today ?? { type: 'FeatureCollection', features: [] };
    (ctx?.map.getSource(SOURCE) as GeoJSONSource | undefined)?.setData(data);
    drawLabels();
    ctx?.refreshLegend();
  };
  const reload = async () => {
    today = await fetchCoverage();
    setData();
  };

  return {
    id: 'coverage',
    styleLayers,
    hoverLayerId: FILL,
    current: () => today,
    show(next) {
      proposal = next;
      setData();
      // A proposal covers one street: bring it into view.
      const points = (next?.features ?? []).flatMap((f) => (f.geometry ? labelPoint(f.geometry) ?? [] : []));
      if (next && points.length >= 2) {
        const xs = points.filter((_, i) => i % 2 === 0);
        const ys = points.filter((_, i) => i % 2 === 1);
        ctx?.fit([Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)], { maxZoom: 15 });
      }
    },
    reload,
    async attach(c) {
      ctx = c;
      addHatch(c.map);
      c.map.addSource(SOURCE, { type: 'geojson', data: { type: 'FeatureCollection', features: [] }, generateId: true });
      c.map.on('zoomend', toggleLabels);
      await reload();
      return () => {
        c.map.off('zoomend', toggleLabels);
        for (const m of markers) m.remove();
      };
    },
    refresh(c) {
      ctx = c;
      void reload().catch((e: unknown) => c.reportError(e));
    },
    onVisibilityChange(visible) {
      for (const m of markers) m.getElement().style.display = visible ? '' : 'none';
    },
    legend() {
      const areas = (proposal ?? today)?.features.filter((f) => f.properties.kind === 'area') ?? [];
      const over = areas.filter((f) => f.properties.overloaded).length;
      const uncovered = (proposal ? [] : today?.features ?? []).filter((f) => f.properties.kind === 'uncovered').length;
      return {
        title: proposal ? tCov('titleProposal') : tCov('title'),
        note: tCov('note'),
        items: [
          {
            swatch: { type: 'fill' as const, color: PALETTE[0]!, outline: '#ffffff' },
            label: tCov('area'),
            count: tCov('caseworkers', { n: formatCount(areas.length) }),
          },
          { swatch: { type: 'fill' as const, color: '#ffffff', outline: OVERLOAD }, label: tCov('overloaded'), count: formatCount(over) },
          { swatch: { type: 'fill' as const, color: '#ffffff', outline: '#555555', hatch: true }, label: tCov('uncovered'), count: formatCount(uncovered) },
          { swatch: { type: 'line' as const, color: '#5e3c99', width: 1.5, dashed: true }, label: tCov('shared') },
        ],
      };
    },
    popup: {
      layerIds: [FILL],
      render(feature) {
        const p = feature.properties as Record<string, unknown>;
        const grids = typeof p.grids === 'string' ? (JSON.parse(p.grids) as number[]).length : 0;
        return h(
          'section',
          { class: 'rg-coverage-card' },
          h('h3', null, String(p.name ?? '')),
          h('p', null, `${tCov('load')}: ${String(p.load_label ?? '—')}`),
          h('p', null, `${tCov('grids')}: ${grids}`),
          p.overloaded === true ? h('p', { class: 'rg-overloaded' }, tCov('overloaded')) : null,
        );
      },
    },
  };
}
