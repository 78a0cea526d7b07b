/**
 * Two months side by side (两月对比) in the leaders' view: a second MapLibre map beside the main
 * one (below it on a phone), showing the hot spots of another month with its own legend, moved
 * with the main map as one. The main map keeps its layers and shows the panel's month; this pane
 * shows the month chosen for comparison.
 */
import { Map as MapLibreMap } from 'maplibre-gl';
import type { District, HotspotMetric } from '../api';
import { createBasemapLayer } from '../layers/basemap';
import { createHotspotsLayer } from '../layers/hotspots';
import { followLabelScale } from '../layers/label-scale';
import { createLabelsLayer } from '../layers/labels';
import { mapOptions } from '../map-options';
import { SLOTS, type LayerContext } from '../layers/types';
import { h } from '../ui/dom';
import { createLegend } from '../ui/legend';

/** The second map of the comparison. */
export interface ComparePane {
  /** Shows `metric` at the end of `month`; resolves once drawn. */
  show(metric: HotspotMetric, month: string): Promise<void>;
  /** Redraws the legend (a language switch). */
  render(): void;
  destroy(): void;
}

/**
 * Keeps `b` where `a` is, and `a` where `b` is: one camera for both maps, padding included (the
 * main map's padding keeps clear of the panels over it; the pane shows the same place).
 */
function synchronise(a: MapLibreMap, b: MapLibreMap): () => void {
  let moving = false;
  const follow = (from: MapLibreMap, to: MapLibreMap) => () => {
    if (moving) return;
    moving = true;
    to.jumpTo({ center: from.getCenter(), zoom: from.getZoom(), bearing: from.getBearing(), pitch: from.getPitch(), padding: from.getPadding() });
    moving = false;
  };
  const ab = follow(a, b);
  const ba = follow(b, a);
  a.on('move', ab);
  b.on('move', ba);
  return () => {
    a.off('move', ab);
    b.off('move', ba);
  };
}

/**
 * Opens the pane in `host` (the map area, which gets the class `rg-comparing`) beside `primary`,
 * with a `badge` naming its month; resolves once its layers are attached.
 */
export async function openComparePane(
  host: HTMLElement,
  primary: MapLibreMap,
  district: District,
  badge: HTMLElement,
  onError: (e: unknown) => void,
): Promise<ComparePane> {
  const mapEl = h('div', { class: 'rg-compare-map' });
  const pane = h('div', { class: 'rg-compare-pane' }, mapEl, badge);
  host.classList.add('rg-comparing');
  host.append(pane);
  primary.resize();
  const map = new MapLibreMap({ ...mapOptions(), container: mapEl, center: primary.getCenter(), zoom: primary.getZoom() });
  map.setPadding(primary.getPadding());
  map.touchZoomRotate.disableRotation();
  const unsync = synchronise(primary, map);
  const hotspots = createHotspotsLayer();
  const layers = [createBasemapLayer(), hotspots, createLabelsLayer({ grids: false })];
  const visible = new Map<string, boolean>();
  const legend = createLegend({
    layers,
    district,
    isVisible: (id) => visible.get(id) ?? true,
    setVisible: (id, on) => {
      visible.set(id, on);
      for (const { layer } of layers.find((l) => l.id === id)?.styleLayers ?? []) {
        map.setLayoutProperty(layer.id, 'visibility', on ? 'visible' : 'none');
      }
      legend.render();
    },
  });
  legend.element.classList.add('rg-compare-legend');
  pane.append(legend.element);
  // The pane follows the primary map's camera: it fits nothing itself.
  const ctx: LayerContext = { map, district, refreshLegend: () => legend.render(), reportError: onError, fit: () => {} };
  const stops: (() => void)[] = [];
  const destroy = () => {
    unsync();
    for (const stop of stops) stop();
    map.remove();
    pane.remove();
    host.classList.remove('rg-comparing');
    primary.resize();
  };
  try {
    await map.once('load');
    for (const stop of await Promise.all(layers.map((l) => l.attach(ctx)))) if (stop) stops.push(stop);
    for (const slot of SLOTS) {
      for (const layer of layers) for (const styled of layer.styleLayers) if (styled.slot === slot) map.addLayer(styled.layer);
    }
    // Its place names at the display scale, as the main map's.
    stops.push(followLabelScale(map));
    legend.render();
  } catch (e) {
    destroy();
    throw e;
  }
  (window as { __rentgridCompare?: MapLibreMap }).__rentgridCompare = map;
  return {
    async show(metric, month) {
      pane.dataset.month = month;
      await hotspots.show(metric, month);
      pane.dataset.shown = month;
    },
    render: () => legend.render(),
    destroy() {
      delete (window as { __rentgridCompare?: MapLibreMap }).__rentgridCompare;
      destroy();
    },
  };
}
