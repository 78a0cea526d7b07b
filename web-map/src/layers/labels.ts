/**
 * Place names (地名标注) from our own tiles: streets (街道/镇) from zoom 9, communities (社区/村)
 * from zoom 12 and grids (网格, name and code) from zoom 14, each written once at its label
 * point (the tiles' `boundary_labels` and `grid_labels`). MapLibre's collision detection keeps
 * them apart: a name that would overlap another is left out, streets before communities before
 * grids. The glyphs come from our own server (`/fonts/…`), Chinese ones too: no font from
 * elsewhere, and none drawn from the browser's fonts. Without a font on the server the layer
 * draws nothing and says so in the legend.
 */
import type { ExpressionSpecification } from '@maplibre/maplibre-gl-style-spec';
import { fetchFonts, glyphsUrl } from '../api';
import { defineStrings } from '../i18n';
import { BOUNDARIES } from './basemap';
import { GRIDS_SOURCE } from './grids';
import type { MapLayer, SlottedLayer } from './types';

const t = defineStrings(
  'labels',
  {
    title: '地名标注',
    street: '街道/镇名（9–15 级）',
    community: '社区/村名（12–15 级）',
    communityUp: '社区/村名（12 级起）',
    grid: '网格名与编码（14 级起）',
    noFonts: '服务器没有中文字体，不显示地名',
    sample: '名',
  },
  {
    title: 'Place names',
    street: 'Street and town names (zoom 9–15)',
    community: 'Community and village names (zoom 12–15)',
    communityUp: 'Community and village names (from zoom 12)',
    grid: 'Grid names and codes (from zoom 14)',
    noFonts: 'The server has no Chinese font: names are not shown',
    sample: 'Aa',
  },
);

/** The style layer ids, bottom to top (the top one wins a collision). */
export const LABEL_LAYERS = { grids: 'labels-grids', communities: 'labels-communities', streets: 'labels-streets' } as const;

/**
 * Zooms each kind of name is written from (the tiles carry them from there) and up to: from 15
 * a grid's name (which holds its community's) takes over from its community's; in a view that
 * writes no grid names, a community's name stays at every zoom from 12.
 */
const STREETS = { min: 9, max: 15 };
const COMMUNITIES = { min: 12, max: 15 };
const COMMUNITIES_ALONE = { min: 12, max: 24 };
const GRIDS = { min: 14 };

const COLORS = { street: '#1f2a44', community: '#3f4a5c', grid: '#4a5568', halo: 'rgba(255, 255, 255, 0.92)' } as const;

const sizeByZoom = (stops: [number, number][]): ExpressionSpecification => ['interpolate', ['linear'], ['zoom'], ...stops.flat()];

/** How one kind of area's names are written. */
interface AreaNames {
  id: string;
  kind: 'street' | 'community';
  zooms: { min: number; max: number };
  font: string;
  /** Text size (px) by zoom: [zoom, size] stops. */
  sizes: [number, number][];
  color: string;
  letterSpacing: number;
  /** Room kept free around the name, px. */
  padding: number;
  /** Halo width, px. */
  halo: number;
}

export interface LabelsOptions {
  /** Also write the grids' names (where the view draws the grids' tiles). */
  grids: boolean;
}

/** Creates the place-name layer; add it last, so names sit above everything. */
export function createLabelsLayer(options: LabelsOptions): MapLayer {
  /** Filled once the server's fonts are known: no symbol layer without glyphs. */
  const styleLayers: SlottedLayer[] = [];
  let fontless = false;

  const build = (regular: string, bold: string): SlottedLayer[] => {
    const halo = { 'text-halo-color': COLORS.halo, 'text-halo-width': 1.6, 'text-halo-blur': 0.4 } as const;
    const layers: SlottedLayer[] = [];
    if (options.grids) {
      layers.push({
        slot: 'overlay',
        layer: {
          id: LABEL_LAYERS.grids,
          type: 'symbol',
          source: GRIDS_SOURCE,
          'source-layer': 'grid_labels',
          minzoom: GRIDS.min,
          layout: {
            'text-field': ['format', ['get', 'name'], {}, '\n', {}, ['get', 'code'], { 'font-scale': 0.8 }],
            'text-font': [regular],
            'text-size': sizeByZoom([[14, 11], [18, 14]]),
            'text-max-width': 10,
            'text-padding': 3,
            // Where a community has one grid its name sits on the same point: below it then.
            'text-variable-anchor': ['center', 'top', 'bottom'],
            'text-radial-offset': 1.6,
          },
          paint: { 'text-color': COLORS.grid, ...halo },
        },
      });
    }
    /** A street's or community's name at its label point, from the boundaries' tiles. */
    const areaNames = (a: AreaNames): SlottedLayer => ({
      slot: 'overlay',
      layer: {
        id: a.id,
        type: 'symbol',
        source: BOUNDARIES,
        'source-layer': 'boundary_labels',
        minzoom: a.zooms.min,
        maxzoom: a.zooms.max,
        filter: ['==', ['get', 'kind'], a.kind],
        layout: {
          'text-field': ['get', 'name'],
          'text-font': [a.font],
          'text-size': sizeByZoom(a.sizes),
          'text-letter-spacing': a.letterSpacing,
          'text-max-width': 8,
          'text-padding': a.padding,
        },
        paint: { 'text-color': a.color, ...halo, 'text-halo-width': a.halo },
      },
    });
    layers.push(
      areaNames({
        id: LABEL_LAYERS.communities,
        kind: 'community',
        zooms: options.grids ? COMMUNITIES : COMMUNITIES_ALONE,
        font: regular,
        sizes: [[12, 12], [16, 15]],
        color: COLORS.community,
        letterSpacing: 0,
        padding: 4,
        halo: 1.6,
      }),
      areaNames({
        id: LABEL_LAYERS.streets,
        kind: 'street',
        zooms: STREETS,
        font: bold,
        sizes: [[9, 13], [14, 18]],
        color: COLORS.street,
        letterSpacing: 0.08,
        padding: 6,
        halo: 2,
      }),
    );
    return layers;
  };

  return {
    id: 'labels',
    styleLayers,
    async attach({ map }) {
      const fonts = await fetchFonts();
      if (!fonts.regular) {
        fontless = true;
        return;
      }
      map.setGlyphs(glyphsUrl());
      styleLayers.push(...build(fonts.regular, fonts.bold ?? fonts.regular));
    },
    legend() {
      const swatch = (color: string, bold = false) => ({ type: 'text', text: t('sample'), color, halo: '#ffffff', bold }) as const;
      const items = [
        { swatch: swatch(COLORS.street, true), label: t('street') },
        { swatch: swatch(COLORS.community), label: t(options.grids ? 'community' : 'communityUp') },
        ...(options.grids ? [{ swatch: swatch(COLORS.grid), label: t('grid') }] : []),
      ];
      return { title: t('title'), items, ...(fontless ? { status: t('noFonts') } : {}) };
    },
  };
}
