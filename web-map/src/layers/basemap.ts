/**
 * The base map, drawn from our own data (`GET /api/basemap`): a plain background, water, city
 * blocks, roads by class, street (街道) and community (社区) boundaries and the district outline.
 * No remote tiles.
 */
import type { ExpressionSpecification } from '@maplibre/maplibre-gl-style-spec';
import { fetchBasemap } from '../api';
import { defineStrings } from '../i18n';
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
    water: '水域',
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
    water: 'Water',
  },
);

const SOURCE = 'basemap';

/** The palette of the base map: quiet, so the thematic layers carry the colour. */
const BASEMAP_COLORS = {
  background: '#e4e7eb',
  land: '#f6f5f1',
  block: '#e9e6df',
  water: '#b7d3ea',
  road: '#ffffff',
  roadCasing: '#cfd3d8',
  arterial: '#fbe3a6',
  arterialCasing: '#e2bf6a',
  street: '#4a5568',
  community: '#7a8699',
  district: '#1f2a44',
} as const;

const kindIs = (kind: string): ExpressionSpecification => ['==', ['get', 'kind'], kind];
const roadIs = (roadClass: string): ExpressionSpecification => [
  'all',
  kindIs('road'),
  ['==', ['get', 'class'], roadClass],
];

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
    layer: { id: 'basemap-land', type: 'fill', source: SOURCE, filter: kindIs('district'), paint: { 'fill-color': BASEMAP_COLORS.land } },
  },
  {
    slot: 'base',
    layer: { id: 'basemap-water', type: 'fill', source: SOURCE, filter: kindIs('water'), paint: { 'fill-color': BASEMAP_COLORS.water } },
  },
  {
    slot: 'base',
    layer: {
      id: 'basemap-blocks',
      type: 'fill',
      source: SOURCE,
      filter: kindIs('block'),
      paint: { 'fill-color': BASEMAP_COLORS.block, 'fill-outline-color': '#ddd9d0' },
    },
  },
  {
    slot: 'base',
    layer: {
      id: 'basemap-roads-local',
      type: 'line',
      source: SOURCE,
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
      source: SOURCE,
      minzoom: 11,
      filter: kindIs('community_boundary'),
      layout: { 'line-join': 'round' },
      paint: { 'line-color': BASEMAP_COLORS.community, 'line-width': 1, 'line-dasharray': [1, 2] },
    },
  },
  {
    slot: 'overlay',
    layer: {
      id: 'basemap-streets',
      type: 'line',
      source: SOURCE,
      // Each boundary segment comes once, so the dashes are not drawn twice out of phase.
      filter: kindIs('street_boundary'),
      layout: { 'line-join': 'round' },
      paint: { 'line-color': BASEMAP_COLORS.street, 'line-width': 1.6, 'line-dasharray': [3, 2] },
    },
  },
  {
    slot: 'overlay',
    layer: {
      id: 'basemap-district',
      type: 'line',
      source: SOURCE,
      filter: kindIs('district'),
      layout: { 'line-join': 'round' },
      paint: { 'line-color': BASEMAP_COLORS.district, 'line-width': 2.8 },
    },
  },
];

/** Creates the base map layer. */
export function createBasemapLayer(): MapLayer {
  let hasWater = false;
  return {
    id: 'basemap',
    styleLayers,
    async attach({ map }) {
      const data = await fetchBasemap();
      hasWater = data.features.some((f) => f.properties.kind === 'water');
      map.addSource(SOURCE, { type: 'geojson', data });
    },
    legend() {
      return {
        title: t('title'),
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
          ...(hasWater ? [{ swatch: { type: 'fill', color: BASEMAP_COLORS.water } as const, label: t('water') }] : []),
        ],
      };
    },
  };
}
