/**
 * The map's text at the display scale (`ui/scale.ts`): every symbol layer's `text-size`, as its
 * layer module set it, times the scale's factor, so that place names on a 4K screen read as they
 * do on a desktop (the chrome around the map is zoomed by CSS; the map's canvas cannot be).
 */
import type { Map as MapLibreMap } from 'maplibre-gl';
import { onScaleChange, scaleFactor } from '../ui/scale';

/** MapLibre's `text-size` when a layer sets none. */
const DEFAULT_TEXT_SIZE = 16;

/**
 * `size` (a `text-size` value) times `k`. A zoom curve (`interpolate`, `step`) must stay the
 * expression's top, so its outputs are scaled, not the curve.
 */
export function scaledSize(size: unknown, k: number): unknown {
  if (typeof size === 'number') return size * k;
  if (Array.isArray(size) && typeof size[0] === 'string' && size[0].startsWith('interpolate')) {
    // ['interpolate', how, input, stop, output, stop, output, …]
    return size.map((x: unknown, i) => (i >= 4 && i % 2 === 0 ? scaledSize(x, k) : x));
  }
  if (Array.isArray(size) && size[0] === 'step') {
    // ['step', input, output, stop, output, …]
    return size.map((x: unknown, i) => (i >= 2 && i % 2 === 0 ? scaledSize(x, k) : x));
  }
  return ['*', size, k];
}

/**
 * Scales the text of the symbol layers `map` has now, and again whenever the scale changes;
 * returns the function that stops following it.
 */
export function followLabelScale(map: MapLibreMap): () => void {
  const original = new Map<string, unknown>();
  for (const layer of map.getStyle().layers) {
    if (layer.type !== 'symbol' || layer.layout?.['text-field'] === undefined) continue;
    original.set(layer.id, map.getLayoutProperty(layer.id, 'text-size') ?? DEFAULT_TEXT_SIZE);
  }
  let shown = 1;
  const apply = (k: number) => {
    if (k === shown) return;
    shown = k;
    for (const [id, size] of original) {
      if (!map.getLayer(id)) continue;
      // The types cannot follow a value read back from the style; it is one MapLibre accepted.
      map.setLayoutProperty(id, 'text-size', (k === 1 ? size : scaledSize(size, k)) as never);
    }
  };
  apply(scaleFactor());
  return onScaleChange(apply);
}
