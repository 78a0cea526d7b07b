/**
 * Building footprints from `GET /api/buildings?bbox=`, fetched for the viewport once the map is
 * zoomed in far enough, and again (debounced) whenever the view settles.
 */
import type { GeoJSONSource, Map as MapLibreMap } from 'maplibre-gl';
import { BUILDING_KINDS, fetchBuildings, type BBox, type BuildingKind, type BuildingProperties } from '../api';
import { formatCount } from '../format';
import { defineStrings } from '../i18n';
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
    zoomIn: '放大到 {zoom} 级后显示',
    loading: '加载中…',
    shown: '当前视野 {n} 栋',
    partial: '当前视野显示 {n} / {total} 栋，放大查看全部',
    floors: '{n} 层',
    kindFloors: '{kind} · {n} 层',
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
    zoomIn: 'Zoom in to level {zoom} to show',
    loading: 'Loading…',
    shown: '{n} in view',
    partial: '{n} of {total} in view shown; zoom in for all',
    floors: '{n} floors',
    kindFloors: '{kind} · {n} floors',
    rentalUnits: 'Rental units (registered / actual)',
    persons: 'Migrants (registered / actual)',
  },
);

const SOURCE = 'buildings';
const FILL = 'buildings-fill';
/** Buildings are fetched and drawn from this zoom on. */
const MIN_ZOOM = 14;
/** At most this many buildings per request; the legend says when a view holds more. */
const LIMIT = 5000;
/** How long the view must rest before buildings are fetched for it. */
const DEBOUNCE_MS = 250;

const KIND_COLORS: Record<BuildingKind, string> = {
  tower: '#3f51b5',
  walkup: '#7e8fd8',
  village_house: '#b0672a',
  factory: '#5f6670',
  dormitory: '#8e4bb0',
  shop: '#11898b',
};


const styleLayers: SlottedLayer[] = [
  {
    slot: 'thematic',
    layer: {
      id: FILL,
      type: 'fill',
      source: SOURCE,
      minzoom: MIN_ZOOM,
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
      minzoom: MIN_ZOOM,
      paint: {
        'line-color': ['case', selected, '#12203d', '#ffffff'],
        'line-width': ['case', selected, 2.5, 0.6],
        'line-opacity': ['case', selected, 1, 0.7],
      },
    },
  },
];

type Status =
  | { state: 'zoomIn' }
  | { state: 'loading' }
  | { state: 'loaded'; returned: number; matched: number };

function viewBBox(map: MapLibreMap): BBox {
  const b = map.getBounds();
  return [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()];
}

function renderPopup(building: BuildingProperties): HTMLElement {
  const pair = (registered: number, actual: number) => `${formatCount(registered)} / ${formatCount(actual)}`;
  return h(
    'section',
    { class: 'rg-building-card' },
    h(
      'header',
      null,
      h('span', { class: 'rg-dot', style: `background:${KIND_COLORS[building.kind]}` }),
      h('h3', null, building.address ?? t(building.kind)),
      h('p', null, building.address === undefined ? t('floors', { n: building.floors }) : t('kindFloors', { kind: t(building.kind), n: building.floors })),
    ),
    h(
      'dl',
      { class: 'rg-counts' },
      h('div', { class: 'rg-wide' }, h('dt', null, t('rentalUnits')), h('dd', null, pair(building.rental_units_registered, building.rental_units))),
      h('div', { class: 'rg-wide' }, h('dt', null, t('persons')), h('dd', null, pair(building.persons_registered, building.persons))),
    ),
  );
}

/** Creates the buildings layer. */
export function createBuildingsLayer(): MapLayer {
  const buildings = new Map<number, BuildingProperties>();
  let status: Status = { state: 'zoomIn' };
  let visible = true;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let inFlight: AbortController | undefined;
  /** Set by `attach`: fetches (debounced) for the current view. */
  let schedule = (): void => {};

  return {
    id: 'buildings',
    styleLayers,
    hoverLayerId: FILL,
    async attach(ctx) {
      const { map } = ctx;
      map.addSource(SOURCE, { type: 'geojson', data: { type: 'FeatureCollection', features: [] }, promoteId: 'id' });

      const setStatus = (next: Status) => {
        status = next;
        ctx.refreshLegend();
      };

      const load = async () => {
        inFlight?.abort();
        const controller = new AbortController();
        inFlight = controller;
        setStatus({ state: 'loading' });
        try {
          const data = await fetchBuildings(viewBBox(map), LIMIT, controller.signal);
          buildings.clear();
          for (const feature of data.features) buildings.set(feature.properties.id, feature.properties);
          map.getSource<GeoJSONSource>(SOURCE)?.setData(data);
          setStatus({ state: 'loaded', returned: data.numberReturned, matched: data.numberMatched });
        } catch (error) {
          if (controller.signal.aborted) return; // A newer view superseded this request.
          ctx.reportError(error);
        }
      };

      schedule = () => {
        clearTimeout(timer);
        if (map.getZoom() < MIN_ZOOM) {
          // Keep the last buildings: the layer's minzoom hides them, and they are back at once
          // when the user zooms in again.
          inFlight?.abort();
          if (status.state !== 'zoomIn') setStatus({ state: 'zoomIn' });
          return;
        }
        if (visible) timer = setTimeout(() => void load(), DEBOUNCE_MS);
      };

      map.on('moveend', schedule);
      schedule();
      return () => {
        map.off('moveend', schedule);
        clearTimeout(timer);
        inFlight?.abort();
      };
    },
    legend() {
      let statusText: string | undefined;
      switch (status.state) {
        case 'zoomIn':
          statusText = t('zoomIn', { zoom: MIN_ZOOM });
          break;
        case 'loading':
          statusText = t('loading');
          break;
        case 'loaded':
          statusText =
            status.returned < status.matched
              ? t('partial', { n: formatCount(status.returned), total: formatCount(status.matched) })
              : t('shown', { n: formatCount(status.returned) });
      }
      return {
        title: t('title'),
        status: statusText,
        items: BUILDING_KINDS.map((kind) => ({
          swatch: { type: 'fill', color: KIND_COLORS[kind], outline: '#ffffff' },
          label: t(kind),
        })),
      };
    },
    popup: {
      layerIds: [FILL],
      render(feature) {
        const building = buildings.get(Number(feature.id));
        return building ? renderPopup(building) : h('section', null, String(feature.id));
      },
    },
    onVisibilityChange(isVisible) {
      visible = isVisible;
      if (visible) schedule();
    },
  };
}
