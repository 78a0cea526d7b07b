/**
 * The options every map of the web map is made with: an empty style (the base map is a layer like
 * any other, drawn from our own data), no attribution control (every feature is our own data,
 * a chosen Tianditu map says its own in the legend), place names drawn with the glyphs our server
 * makes (the same on every device, and what the phone keeps offline), and no rotation or tilt.
 */
import type { MapOptions } from 'maplibre-gl';

export function mapOptions(): Omit<MapOptions, 'container'> {
  return {
    style: { version: 8, sources: {}, layers: [] },
    maxZoom: 19,
    attributionControl: false,
    localIdeographFontFamily: false,
    dragRotate: false,
    pitchWithRotate: false,
    touchPitch: false,
  };
}
