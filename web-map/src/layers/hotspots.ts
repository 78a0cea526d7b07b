/**
 * Hot and cold spots (冷热点, Getis-Ord Gi*) of a grid metric at the end of a month, from
 * `GET /api/hotspots` (aggregates per grid only), in ArcGIS's colours: reds for hot spots at
 * 99/95/90% confidence, grey for not significant, blues for cold spots.
 *
 * The grids are drawn from the `grids` vector tiles (their feature ids are the grid ids) and
 * coloured by `feature-state`: the answer is asked for without outlines (`geometry=false`), a
 * fraction of its size with them, and a month or metric changed recolours the tiles already
 * drawn. Each grid's state holds its figures (`class`, `value`, `z`, `p`, `fdr_significant`) and
 * `shown`; a grid the answer does not hold is not drawn.
 */
import type { ExpressionSpecification } from '@maplibre/maplibre-gl-style-spec';
import { fetchHotspots, tileJsonUrl, type HotspotMetric, type HotspotProperties, type Hotspots } from '../api';
import { formatCount } from '../format';
import { defineStrings } from '../i18n';
import { h } from '../ui/dom';
import { hovered } from './expressions';
import type { LayerContext, MapLayer, SlottedLayer } from './types';

export const tHot = defineStrings(
  'hotspots',
  {
    title: '冷热点（Gi*）· {metric}',
    confidence: '置信度：该处高值（或低值）聚集并非随机形成的把握，99%/95%/90%。',
    fdr: 'FDR：已按 Benjamini–Hochberg 校正多重检验的误发现率，标“显著”的网格在校正后仍显著。',
    hot3: '热点 99% 置信度',
    hot2: '热点 95% 置信度',
    hot1: '热点 90% 置信度',
    none: '不显著',
    cold1: '冷点 90% 置信度',
    cold2: '冷点 95% 置信度',
    cold3: '冷点 99% 置信度',
    excluded: '数据不足（少于 5 人）',
    value: '数值',
    significant: 'FDR 校正后显著',
    notSignificant: 'FDR 校正后不显著',
    details: '统计细节',
    unregistered_per_km2: '未登记流动人口密度',
    reg_rate: '流动人口登记率',
    rental_rate: '出租房屋登记率',
    persons_per_km2: '流动人口密度',
  },
  {
    title: 'Hot & cold spots (Gi*) · {metric}',
    confidence: 'Confidence: how sure we are that the cluster of high (or low) values is not chance, 99/95/90%.',
    fdr: 'FDR: p-values corrected for many tests (Benjamini–Hochberg); a grid marked significant stays so after the correction.',
    hot3: 'Hot spot, 99% confidence',
    hot2: 'Hot spot, 95% confidence',
    hot1: 'Hot spot, 90% confidence',
    none: 'Not significant',
    cold1: 'Cold spot, 90% confidence',
    cold2: 'Cold spot, 95% confidence',
    cold3: 'Cold spot, 99% confidence',
    excluded: 'Too few data (under 5 persons)',
    value: 'Value',
    significant: 'Significant after FDR',
    notSignificant: 'Not significant after FDR',
    details: 'Statistics',
    unregistered_per_km2: 'Unregistered migrants per km²',
    reg_rate: 'Migrant registration rate',
    rental_rate: 'Rental registration rate',
    persons_per_km2: 'Migrants per km²',
  },
);

/** A p-value as it is read: `p < 0.001` rather than `p = 0.000`. */
function formatP(p: number): string {
  return p < 0.001 ? 'p < 0.001' : `p = ${p.toFixed(3)}`;
}

/** ArcGIS's Hot Spot Analysis colours, by Gi* bin. */
export const BIN_COLORS: [number, string, 'hot3' | 'hot2' | 'hot1' | 'none' | 'cold1' | 'cold2' | 'cold3'][] = [
  [3, '#d62f27', 'hot3'],
  [2, '#ed7551', 'hot2'],
  [1, '#fab984', 'hot1'],
  [0, '#e6e6e1', 'none'],
  [-1, '#c0ccbe', 'cold1'],
  [-2, '#849eba', 'cold2'],
  [-3, '#4575b5', 'cold3'],
];
const EXCLUDED_COLOR = '#ffffff';

const SOURCE = 'hotspots';
/** The MVT layer of the `grids` tile set. */
const SOURCE_LAYER = 'grids';
const FILL = 'hotspots-fill';

/** True for a grid of the answer shown (`feature-state` `shown`). */
const shown: ExpressionSpecification = ['boolean', ['feature-state', 'shown'], false];

/** The figures of a grid kept in its feature state, for the style and for whoever queries it. */
const STATE_KEYS = ['class', 'value', 'z', 'p', 'fdr_significant'] as const;

const styleLayers: SlottedLayer[] = [
  {
    slot: 'thematic',
    layer: {
      id: FILL,
      type: 'fill',
      source: SOURCE,
      'source-layer': SOURCE_LAYER,
      paint: {
        'fill-color': [
          'match',
          ['to-number', ['coalesce', ['feature-state', 'class'], 99]],
          ...BIN_COLORS.flatMap(([bin, color]) => [bin, color]),
          EXCLUDED_COLOR,
        ] as never,
        'fill-opacity': ['case', ['!', shown], 0, hovered, 0.75, 0.5],
      },
    },
  },
  {
    slot: 'thematic',
    layer: {
      id: 'hotspots-outline',
      type: 'line',
      source: SOURCE,
      'source-layer': SOURCE_LAYER,
      paint: { 'line-color': '#ffffff', 'line-width': 0.8, 'line-opacity': ['case', shown, 0.9, 0] },
    },
  },
];

/** The hot-spot layer, and the month and metric it shows. */
export interface HotspotsLayer extends MapLayer {
  /** Shows `metric` at the end of `month` (the latest when absent); resolves once drawn. */
  show(metric: HotspotMetric, month?: string): Promise<Hotspots>;
  /** The last response. */
  current(): Hotspots | undefined;
  /** The metric shown. */
  metric(): HotspotMetric;
}

/** Creates the hot-spot layer. */
export function createHotspotsLayer(initial: HotspotMetric = 'unregistered_per_km2'): HotspotsLayer {
  let data: Hotspots | undefined;
  /** The grids of `data`, by grid id. */
  let grids = new Map<number, HotspotProperties>();
  let metric = initial;
  let ctx: LayerContext | undefined;
  let request = 0;

  /** Writes `next` into the grids' feature states: each of its grids shown, any other not. */
  const paint = (next: Hotspots) => {
    const map = ctx?.map;
    const was = grids;
    grids = new Map();
    for (const f of next.features) if (typeof f.id === 'number') grids.set(f.id, f.properties);
    if (!map) return;
    for (const id of was.keys()) if (!grids.has(id)) map.setFeatureState({ source: SOURCE, sourceLayer: SOURCE_LAYER, id }, { shown: false });
    for (const [id, p] of grids) {
      const state: Record<string, unknown> = { shown: true };
      for (const key of STATE_KEYS) state[key] = p[key] ?? null;
      map.setFeatureState({ source: SOURCE, sourceLayer: SOURCE_LAYER, id }, state);
    }
  };

  const show = async (m: HotspotMetric, month?: string) => {
    const mine = ++request;
    const next = await fetchHotspots(m, month);
    if (mine !== request) return next;
    data = next;
    metric = m;
    paint(next);
    ctx?.refreshLegend();
    return next;
  };

  return {
    id: 'hotspots',
    styleLayers,
    hoverLayerId: FILL,
    show,
    current: () => data,
    metric: () => metric,
    async attach(c) {
      ctx = c;
      // The grids' outlines; their colours are this layer's (the tiles' feature ids are grid ids).
      c.map.addSource(SOURCE, { type: 'vector', url: tileJsonUrl('grids') });
      await show(metric);
    },
    refresh(c) {
      ctx = c;
      void show(metric, data?.description.month ?? undefined).catch((e: unknown) => c.reportError(e));
    },
    legend() {
      const counts = new Map<number, number>();
      for (const f of data?.features ?? []) {
        const bin = f.properties.class;
        // Gi* classes are confidence bins (numbers); other methods' classes are names.
        if (typeof bin === 'number') counts.set(bin, (counts.get(bin) ?? 0) + 1);
      }
      const excluded = (data?.features ?? []).filter((f) => f.properties.class === null).length;
      return {
        title: tHot('title', { metric: tHot(metric) }),
        note: tHot('confidence'),
        items: [
          ...BIN_COLORS.map(([bin, color, key]) => ({
            swatch: { type: 'fill' as const, color, outline: '#ffffff' },
            label: tHot(key),
            count: formatCount(counts.get(bin) ?? 0),
          })),
          { swatch: { type: 'fill' as const, color: EXCLUDED_COLOR, outline: '#9aa4ae' }, label: tHot('excluded'), count: formatCount(excluded) },
        ],
        status: tHot('fdr'),
      };
    },
    popup: {
      layerIds: [FILL],
      render(feature) {
        const p = (grids.get(Number(feature.id)) ?? {}) as Record<string, unknown>;
        const bin = typeof p.class === 'number' ? p.class : null;
        const key = BIN_COLORS.find(([b]) => b === bin)?.[2];
        const value = typeof p.value === 'number' ? p.value : null;
        const shown = value === null ? '—' : metric.endsWith('rate') ? `${(value * 100).toFixed(1)}%` : formatCount(value);
        return h(
          'section',
          { class: 'rg-hotspot-card' },
          h('h3', null, String(p.name ?? '')),
          h('p', null, key ? tHot(key) : tHot('excluded')),
          h('p', null, `${tHot(metric)}: ${shown}`),
          // The statistics behind the plain words, for those who ask.
          typeof p.z === 'number'
            ? h(
                'details',
                { class: 'rg-stats' },
                h('summary', null, tHot('details')),
                h('p', null, `z = ${p.z.toFixed(2)}, ${formatP(Number(p.p))}`),
                typeof p.fdr_significant === 'boolean'
                  ? h('p', null, p.fdr_significant ? tHot('significant') : tHot('notSignificant'))
                  : null,
              )
            : null,
        );
      },
    },
  };
}
