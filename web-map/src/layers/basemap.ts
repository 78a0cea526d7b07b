/**
 * The base map, drawn from our own vector tiles: the `basemap` tile set (district land, city
 * blocks, roads by class) and the `boundaries` tile set (street (街道), community (社区) and
 * district lines). No remote tiles, unless Tianditu's maps are offered and chosen (`tianditu.ts`).
 */
import type { ExpressionSpecification } from '@maplibre/maplibre-gl-style-spec';
import { fetchMapConfig, tileJsonUrl } from '../api';
import { defineStrings } from '../i18n';
import { createBasemapChoice, type BasemapChoice } from './tianditu';
import type { MapLayer, SlottedLayer } from './types';

const t = defineStrings(
  'basemap',
  {
    title: '底图',
    district: '区界',
    street: '街道界',
    community: '社区界',
    arterial: '主干道',
    secondary: '次干道',
    local: '支路',
    block: '街区',
  },
  {
    title: 'Base map',
    district: 'District boundary',
    street: 'Street boundary',
    community: 'Community boundary',
    arterial: 'Arterial road',
    secondary: 'Secondary road',
    local: 'Local road',
    block: 'City block',
  },
);

const SOURCE = 'basemap';
/** Street, community and district lines, and the label points of streets and communities. */
export const BOUNDARIES = 'boundaries';

/** The palette of the base map: quiet, so the thematic layers carry the colour. */
const BASEMAP_COLORS = {
  background: '#e4e7eb',
  land: '#f6f5f1',
  block: '#e9e6df',
  road: '#ffffff',
  roadCasing: '#cfd3d8',
  arterial: '#fbe3a6',
  arterialCasing: '#e2bf6a',
  street: '#4a5568',
  community: '#7a8699',
  district: '#1f2a44',
} as const;

const kindIs = (kind: string): ExpressionSpecification => ['==', ['get', 'kind'], kind];
const roadIs = (roadClass: string): ExpressionSpecification => ['==', ['get', 'class'], roadClass];

/** Line width growing with zoom: `w12` px at zoom 12, doubling every 1.4 zoom levels or so. */
const widthByZoom = (w12: number): ExpressionSpecification => [
  'interpolate',
  ['exponential', 1.6],
  ['zoom'],
  10,
  w12 * 0.4,
  12,
  w12,
  16,
  w12 * 6,
];

const styleLayers: SlottedLayer[] = [
  { slot: 'base', layer: { id: 'basemap-background', type: 'background', paint: { 'background-color': BASEMAP_COLORS.background } } },
  {
    slot: 'base',
    layer: { id: 'basemap-land', type: 'fill', source: SOURCE, 'source-layer': 'district', paint: { 'fill-color': BASEMAP_COLORS.land } },
  },
  {
    slot: 'base',
    layer: {
      id: 'basemap-blocks',
      type: 'fill',
      source: SOURCE,
      'source-layer': 'blocks',
      paint: { 'fill-color': BASEMAP_COLORS.block, 'fill-outline-color': '#ddd9d0' },
    },
  },
  {
    slot: 'base',
    layer: {
      id: 'basemap-roads-local',
      type: 'line',
      source: SOURCE,
      'source-layer': 'roads',
      filter: roadIs('local'),
      layout: { 'line-cap': 'round', 'line-join': 'round' },
      paint: { 'line-color': BASEMAP_COLORS.road, 'line-width': widthByZoom(0.6) },
    },
  },
  {
    slot: 'base',
    layer: {
      id: 'basemap-roads-secondary-casing',
      type: 'line',
      source: SOURCE,
      'source-layer': 'roads',
      filter: roadIs('secondary'),
      layout: { 'line-cap': 'round', 'line-join': 'round' },
      paint: { 'line-color': BASEMAP_COLORS.roadCasing, 'line-width': widthByZoom(1.6) },
    },
  },
  {
    slot: 'base',
    layer: {
      id: 'basemap-roads-secondary',
      type: 'line',
      source: SOURCE,
      'source-layer': 'roads',
      filter: roadIs('secondary'),
      layout: { 'line-cap': 'round', 'line-join': 'round' },
      paint: { 'line-color': BASEMAP_COLORS.road, 'line-width': widthByZoom(1.1) },
    },
  },
  {
    slot: 'base',
    layer: {
      id: 'basemap-roads-arterial-casing',
      type: 'line',
      source: SOURCE,
      'source-layer': 'roads',
      filter: roadIs('arterial'),
      layout: { 'line-cap': 'round', 'line-join': 'round' },
      paint: { 'line-color': BASEMAP_COLORS.arterialCasing, 'line-width': widthByZoom(2.6) },
    },
  },
  {
    slot: 'base',
    layer: {
      id: 'basemap-roads-arterial',
      type: 'line',
      source: SOURCE,
      'source-layer': 'roads',
      filter: roadIs('arterial'),
      layout: { 'line-cap': 'round', 'line-join': 'round' },
      paint: { 'line-color': BASEMAP_COLORS.arterial, 'line-width': widthByZoom(1.9) },
    },
  },
  // Boundaries go above the grids so they stay readable through the thematic fills.
  {
    slot: 'overlay',
    layer: {
      id: 'basemap-communities',
      type: 'line',
      source: BOUNDARIES,
      'source-layer': 'boundary_lines',
      minzoom: 11,
      filter: kindIs('community'),
      layout: { 'line-join': 'round' },
      paint: { 'line-color': BASEMAP_COLORS.community, 'line-width': 1, 'line-dasharray': [1, 2] },
    },
  },
  {
    slot: 'overlay',
    layer: {
      id: 'basemap-streets',
      type: 'line',
      source: BOUNDARIES,
      'source-layer': 'boundary_lines',
      // Each boundary segment comes once, so the dashes are not drawn twice out of phase.
      filter: kindIs('street'),
      layout: { 'line-join': 'round' },
      paint: { 'line-color': BASEMAP_COLORS.street, 'line-width': 1.6, 'line-dasharray': [3, 2] },
    },
  },
  {
    slot: 'overlay',
    layer: {
      id: 'basemap-district',
      type: 'line',
      source: BOUNDARIES,
      'source-layer': 'boundary_lines',
      filter: kindIs('district'),
      layout: { 'line-join': 'round' },
      paint: { 'line-color': BASEMAP_COLORS.district, 'line-width': 2.8 },
    },
  },
];

/** Creates the base map layer, with a choice of Tianditu's maps when the server offers them. */
export function createBasemapLayer(): MapLayer {
  let choice: BasemapChoice | undefined;
  return {
    id: 'basemap',
    styleLayers,
    async attach({ map, refreshLegend }) {
      map.addSource(SOURCE, { type: 'vector', url: tileJsonUrl('basemap') });
      map.addSource(BOUNDARIES, { type: 'vector', url: tileJsonUrl('boundaries') });
      // Offline, or an older server: the offline basemap alone.
      const raster = (await fetchMapConfig().catch(() => undefined))?.raster ?? [];
      if (raster.length === 0) return;
      choice = createBasemapChoice(map, raster, refreshLegend);
      return () => choice?.destroy();
    },
    legend() {
      const note = choice?.note();
      return {
        title: t('title'),
        ...(choice ? { controls: choice.element } : {}),
        ...(note ? { note } : {}),
        items: [
          { swatch: { type: 'line', color: BASEMAP_COLORS.district, width: 3 }, label: t('district') },
          { swatch: { type: 'line', color: BASEMAP_COLORS.street, width: 2, dashed: true }, label: t('street') },
          { swatch: { type: 'line', color: BASEMAP_COLORS.community, width: 1, dashed: true }, label: t('community') },
          {
            swatch: { type: 'line', color: BASEMAP_COLORS.arterial, casing: BASEMAP_COLORS.arterialCasing, width: 5 },
            label: t('arterial'),
          },
          {
            swatch: { type: 'line', color: BASEMAP_COLORS.road, casing: BASEMAP_COLORS.roadCasing, width: 4 },
            label: t('secondary'),
          },
          {
            swatch: { type: 'line', color: BASEMAP_COLORS.road, casing: BASEMAP_COLORS.roadCasing, width: 2 },
            label: t('local'),
          },
          { swatch: { type: 'fill', color: BASEMAP_COLORS.block, outline: '#d6d1c6' }, label: t('block') },
        ],
      };
    },
  };
}
