/**
 * Buildings (楼栋) from our vector tiles (`/tiles/buildings.json`): footprints from zoom 14,
 * below it points grouped into clusters (circles sized by `point_count`; the count is in the
 * popup, as no glyphs are served). Clicking shows the building's or the cluster's counts; a cluster
 * also zooms in towards the footprints.
 */
import type { ExpressionSpecification } from '@maplibre/maplibre-gl-style-spec';
import type { MapGeoJSONFeature, MapLayerMouseEvent } from 'maplibre-gl';
import { BUILDING_KINDS, tileJsonUrl, type BuildingKind } from '../api';
import { formatCount } from '../format';
import { defineStrings } from '../i18n';
import { refreshTouchedTiles } from '../live';
import { h } from '../ui/dom';
import { colorBy, hovered, selected } from './expressions';
import type { MapLayer, SlottedLayer } from './types';

const t = defineStrings(
  'buildings',
  {
    title: '建筑 · 类型',
    tower: '高层住宅',
    walkup: '多层住宅',
    village_house: '农民自建房',
    factory: '厂房',
    dormitory: '集体宿舍',
    shop: '沿街商铺',
    cluster: '建筑聚合（点击放大）',
    clustered: '放大到 {zoom} 级后显示轮廓',
    clusterTitle: '{n} 栋建筑',
    floors: '{n} 层',
    rentalUnits: '出租房屋（已登记/实有）',
    persons: '流动人口（已登记/实有）',
  },
  {
    title: 'Buildings · type',
    tower: 'Tower block',
    walkup: 'Walk-up',
    village_house: 'Village house',
    factory: 'Factory',
    dormitory: 'Dormitory',
    shop: 'Street shop',
    cluster: 'Buildings grouped (click to zoom in)',
    clustered: 'Zoom in to level {zoom} for footprints',
    clusterTitle: '{n} buildings',
    floors: '{n} {n|floor|floors}',
    rentalUnits: 'Rental units (registered / actual)',
    persons: 'Migrants (registered / actual)',
  },
);

const SOURCE = 'buildings';
/** The MVT layer of the `buildings` tile set. */
const SOURCE_LAYER = 'buildings';
const FILL = 'buildings-fill';
const POINTS = 'buildings-points';
/** From this zoom the tiles hold footprints; below it, points and clusters. */
const FOOTPRINTS_FROM = 14;
/** The tiles start at this zoom. */
const MIN_ZOOM = 10;
const CLUSTER_COLOR = '#5c6bc0';

const KIND_COLORS: Record<BuildingKind, string> = {
  tower: '#3f51b5',
  walkup: '#7e8fd8',
  village_house: '#b0672a',
  factory: '#5f6670',
  dormitory: '#8e4bb0',
  shop: '#11898b',
};


const isPolygon: ExpressionSpecification = ['==', ['geometry-type'], 'Polygon'];
const isPoint: ExpressionSpecification = ['==', ['geometry-type'], 'Point'];

const styleLayers: SlottedLayer[] = [
  {
    slot: 'thematic',
    layer: {
      id: FILL,
      type: 'fill',
      source: SOURCE,
      'source-layer': SOURCE_LAYER,
      minzoom: FOOTPRINTS_FROM,
      filter: isPolygon,
      paint: {
        'fill-color': colorBy('kind', KIND_COLORS, '#888888'),
        'fill-opacity': ['case', ['any', hovered, selected], 1, 0.85],
      },
    },
  },
  {
    slot: 'thematic',
    layer: {
      id: 'buildings-outline',
      type: 'line',
      source: SOURCE,
      'source-layer': SOURCE_LAYER,
      minzoom: FOOTPRINTS_FROM,
      filter: isPolygon,
      paint: {
        'line-color': ['case', selected, '#12203d', '#ffffff'],
        'line-width': ['case', selected, 2.5, 0.6],
        'line-opacity': ['case', selected, 1, 0.7],
      },
    },
  },
  {
    slot: 'thematic',
    layer: {
      id: POINTS,
      type: 'circle',
      source: SOURCE,
      'source-layer': SOURCE_LAYER,
      minzoom: MIN_ZOOM,
      maxzoom: FOOTPRINTS_FROM,
      filter: isPoint,
      paint: {
        // A lone building by its kind's colour, a cluster in one colour sized by its count.
        'circle-color': ['case', ['has', 'point_count'], CLUSTER_COLOR, colorBy('kind', KIND_COLORS, '#888888')],
        'circle-radius': ['interpolate', ['linear'], ['sqrt', ['coalesce', ['get', 'point_count'], 1]], 1, 3, 10, 12, 30, 22],
        'circle-opacity': ['case', ['any', hovered, selected], 0.95, 0.75],
        'circle-stroke-color': ['case', selected, '#12203d', '#ffffff'],
        'circle-stroke-width': ['case', selected, 2.5, 1],
      },
    },
  },
];

/** A tile feature's number property, or 0. */
function num(feature: MapGeoJSONFeature, key: string): number {
  const v = (feature.properties as Record<string, unknown>)[key];
  return typeof v === 'number' ? v : 0;
}

function renderPopup(feature: MapGeoJSONFeature): HTMLElement {
  const pair = (registered: string, actual: string) =>
    `${formatCount(num(feature, registered))} / ${formatCount(num(feature, actual))}`;
  const kind = (feature.properties as Record<string, unknown>).kind as BuildingKind | undefined;
  const count = num(feature, 'point_count');
  const heading =
    count > 0
      ? h('header', null, h('span', { class: 'rg-dot', style: `background:${CLUSTER_COLOR}` }), h('h3', null, t('clusterTitle', { n: formatCount(count) })))
      : h(
          'header',
          null,
          h('span', { class: 'rg-dot', style: `background:${kind ? KIND_COLORS[kind] : '#888888'}` }),
          h('h3', null, kind ? t(kind) : String(feature.id)),
          h('p', null, t('floors', { n: num(feature, 'floors') })),
        );
  return h(
    'section',
    { class: 'rg-building-card' },
    heading,
    h(
      'dl',
      { class: 'rg-counts' },
      h('div', { class: 'rg-wide' }, h('dt', null, t('rentalUnits')), h('dd', null, pair('rental_units_registered', 'rental_units'))),
      h('div', { class: 'rg-wide' }, h('dt', null, t('persons')), h('dd', null, pair('persons_registered', 'persons'))),
    ),
  );
}

/** Creates the buildings layer. */
export function createBuildingsLayer(): MapLayer {
  let zoom = 0;
  return {
    id: 'buildings',
    styleLayers,
    hoverLayerId: FILL,
    attach(ctx) {
      const { map } = ctx;
      // Tiles carry feature ids (building ids; a cluster's smallest one): `feature-state` keys on them.
      map.addSource(SOURCE, { type: 'vector', url: tileJsonUrl('buildings') });
      zoom = map.getZoom();
      // The legend says whether footprints or clusters are shown.
      const onZoom = () => {
        const before = zoom >= FOOTPRINTS_FROM;
        zoom = map.getZoom();
        if (before !== zoom >= FOOTPRINTS_FROM) ctx.refreshLegend();
      };
      map.on('zoomend', onZoom);
      // A cluster zooms in where it was clicked, towards the footprints (its count is in the popup).
      const onCluster = (event: MapLayerMouseEvent) => {
        const cluster = event.features?.find((f) => num(f, 'point_count') > 0);
        if (cluster) map.easeTo({ center: event.lngLat, zoom: Math.min(map.getZoom() + 2, FOOTPRINTS_FROM) });
      };
      map.on('click', POINTS, onCluster);
      return Promise.resolve(() => {
        map.off('zoomend', onZoom);
        map.off('click', POINTS, onCluster);
      });
    },
    refresh(ctx) {
      ctx.map.refreshTiles(SOURCE);
    },
    refreshChanged(ctx, change) {
      refreshTouchedTiles(ctx.map, SOURCE, 'buildings', change);
    },
    legend() {
      return {
        title: t('title'),
        ...(zoom < FOOTPRINTS_FROM ? { status: t('clustered', { zoom: FOOTPRINTS_FROM }) } : {}),
        items: [
          ...BUILDING_KINDS.map((kind) => ({
            swatch: { type: 'fill', color: KIND_COLORS[kind], outline: '#ffffff' } as const,
            label: t(kind),
          })),
          { swatch: { type: 'circle', color: CLUSTER_COLOR } as const, label: t('cluster') },
        ],
      };
    },
    popup: {
      layerIds: [FILL, POINTS],
      render: renderPopup,
    },
  };
}
