/**
 * The heat surface (核密度) from our `heat` vector tiles: the quartic kernel density of migrants
 * computed on the server in metres, per km², drawn as bands between fixed densities (等值带),
 * traced smoothly through the server's raster and cut to the district's outline. The bands are
 * fixed numbers, so a colour means the same density at every zoom, unlike a heatmap drawn from
 * points in the browser.
 */
import { tileJsonUrl } from '../api';
import { formatCount } from '../format';
import { defineStrings } from '../i18n';
import type { MapLayer, SlottedLayer } from './types';

const t = defineStrings(
  'heat',
  {
    title: '核密度 · 流动人口',
    note: '服务器按米计算的四次核密度（默认半径按 Silverman 规则），按密度分带，仅画区界以内，单位 人/km²，各缩放级别数值一致',
    band: '{lo}–{hi} 人/km²',
    top: '≥{lo} 人/km²',
  },
  {
    title: 'Kernel density · migrants',
    note: 'Quartic kernel density computed on the server in metres (default radius by Silverman’s rule), in bands, within the district only; persons per km², the same at every zoom',
    band: '{lo}–{hi} per km²',
    top: '≥{lo} per km²',
  },
);

const SOURCE = 'heat';
/** The bands' lower densities (per km², the server's `BAND_THRESHOLDS`) and colours, light to dark. */
const STOPS: [number, string][] = [
  [100, '#fff3c4'],
  [1_000, '#fdc372'],
  [3_000, '#f88a3e'],
  [10_000, '#e0482b'],
  [30_000, '#a1162a'],
];

const styleLayers: SlottedLayer[] = [
  {
    slot: 'thematic',
    layer: {
      id: 'heat-fill',
      type: 'fill',
      source: SOURCE,
      'source-layer': 'heat',
      paint: {
        'fill-color': ['step', ['get', 'lo'], STOPS[0]![1], ...STOPS.slice(1).flatMap(([n, c]) => [n, c])] as never,
        'fill-opacity': 0.62,
      },
    },
  },
];

/** Creates the heat layer. */
export function createHeatLayer(): MapLayer {
  return {
    id: 'heat',
    styleLayers,
    async attach(ctx) {
      ctx.map.addSource(SOURCE, { type: 'vector', url: tileJsonUrl('heat') });
    },
    refresh(ctx) {
      ctx.map.refreshTiles(SOURCE);
    },
    legend() {
      return {
        title: t('title'),
        note: t('note'),
        items: STOPS.map(([lo, color], i) => {
          const hi = STOPS[i + 1]?.[0];
          const label = hi === undefined ? t('top', { lo: formatCount(lo) }) : t('band', { lo: formatCount(lo), hi: formatCount(hi) });
          return { swatch: { type: 'fill' as const, color }, label };
        }),
      };
    },
  };
}
