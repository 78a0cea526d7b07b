/**
 * Candidate buildings (疑似未登记出租楼栋) from `GET /api/unregistered-candidates`: the residential
 * buildings estimated to hide unregistered rental units, sized by the expected number; clicking one
 * shows why (水电表, 登记户数, 举报, …) with the 90% interval.
 */
import type { GeoJSONSource, MapGeoJSONFeature } from 'maplibre-gl';
import { fetchCandidates, type CandidateReason } from '../api';
import { defineStrings, getLang } from '../i18n';
import { h } from '../ui/dom';
import type { MapLayer, SlottedLayer } from './types';

const t = defineStrings(
  'candidates',
  {
    title: '疑似未登记出租楼栋',
    note: '按估计未登记出租房套数排序，前 {n} 栋；圆越大，估计越多',
    few: '估计 <1 套',
    many: '估计 ≥3 套',
    popupTitle: '第 {rank} 位 · 估计未登记 {units} 套',
    interval: '90% 区间 {low}–{high} 套，约 {persons} 人',
    reasons: '依据',
  },
  {
    title: 'Likely unregistered rental buildings',
    note: 'Ranked by expected unregistered rental units, top {n}; the bigger the circle, the more expected',
    few: 'Under 1 unit expected',
    many: '3 or more units expected',
    popupTitle: 'Rank {rank} · about {units} unregistered units',
    interval: '90% interval {low}–{high} units, about {persons} persons',
    reasons: 'Why',
  },
);

const SOURCE = 'candidates';
const CIRCLES = 'candidates-circles';
const COLOR = '#c2185b';
/** How many candidates the map shows. */
const SHOWN = 300;

const styleLayers: SlottedLayer[] = [
  {
    slot: 'overlay',
    layer: {
      id: CIRCLES,
      type: 'circle',
      source: SOURCE,
      paint: {
        'circle-color': COLOR,
        'circle-opacity': 0.55,
        'circle-stroke-color': '#ffffff',
        'circle-stroke-width': 1,
        'circle-radius': ['interpolate', ['linear'], ['get', 'expected_units'], 0, 3, 1, 5, 3, 8, 10, 13] as never,
      },
    },
  },
];

/** Nested properties come back from MapLibre as JSON text. */
function reasonsOf(feature: MapGeoJSONFeature): CandidateReason[] {
  const raw = (feature.properties as Record<string, unknown>).reasons;
  if (Array.isArray(raw)) return raw as CandidateReason[];
  try {
    return typeof raw === 'string' ? (JSON.parse(raw) as CandidateReason[]) : [];
  } catch {
    return [];
  }
}

function renderPopup(feature: MapGeoJSONFeature): HTMLElement {
  const p = feature.properties as Record<string, number | string>;
  const lang = getLang();
  return h(
    'section',
    { class: 'rg-candidate-card' },
    h('header', null, h('span', { class: 'rg-dot', style: `background:${COLOR}` }), h('h3', null, t('popupTitle', { rank: p.rank ?? '', units: Number(p.expected_units).toFixed(1) }))),
    h('p', null, String(p.address ?? '')),
    h('p', null, t('interval', { low: Number(p.units_low).toFixed(1), high: Number(p.units_high).toFixed(1), persons: Number(p.expected_persons).toFixed(0) })),
    h('h4', null, t('reasons')),
    h('ul', { class: 'rg-reasons' }, ...reasonsOf(feature).map((r) => h('li', null, lang === 'en' ? r.en : r.zh))),
  );
}

/** Creates the candidates layer. */
export function createCandidatesLayer(): MapLayer {
  const load = async (ctx: Parameters<MapLayer['attach']>[0]) => {
    const data = await fetchCandidates(SHOWN);
    (ctx.map.getSource(SOURCE) as GeoJSONSource | undefined)?.setData(data);
  };
  return {
    id: 'candidates',
    styleLayers,
    async attach(ctx) {
      ctx.map.addSource(SOURCE, { type: 'geojson', data: { type: 'FeatureCollection', features: [] } });
      await load(ctx);
    },
    refresh(ctx) {
      load(ctx).catch(ctx.reportError);
    },
    legend() {
      return {
        title: t('title'),
        note: t('note', { n: SHOWN }),
        items: [
          { swatch: { type: 'circle', color: COLOR }, label: t('few') },
          { swatch: { type: 'circle', color: COLOR, outline: '#ffffff' }, label: t('many') },
        ],
      };
    },
    popup: { layerIds: [CIRCLES], render: renderPopup },
  };
}
