/**
 * The choice of basemap (底图): our offline vector basemap, always there and the default, or, when
 * the server has a Tianditu (天地图) key, Tianditu's vector map or imagery with their labels as
 * raster tiles. Tianditu's `_w` services are web Mercator on CGCS2000 (WGS84 within a pixel), so
 * our layers lie on them as they are; GCJ-02 is never used. Nothing is asked of Tianditu until
 * its map is chosen, and if its tiles cannot be had the offline basemap comes back.
 */
import type { Map as MapLibreMap, MapSourceDataEvent } from 'maplibre-gl';
import type { RasterBasemap } from '../api';
import { defineStrings } from '../i18n';
import { h } from '../ui/dom';

export const tBasemap = defineStrings(
  'basemapChoice',
  {
    label: '底图',
    offline: '离线底图',
    tianditu_vector: '天地图 · 矢量',
    tianditu_image: '天地图 · 影像',
    failed: '天地图无法访问，已回到离线底图',
  },
  {
    label: 'Basemap',
    offline: 'Offline basemap',
    tianditu_vector: 'Tianditu · map',
    tianditu_image: 'Tianditu · imagery',
    failed: 'Tianditu cannot be reached: back to the offline basemap',
  },
);

/** The source and layer ids of the Tianditu tiles (the map, then its labels). */
const MAP = 'tianditu-map';
const LABELS = 'tianditu-labels';
/** The offline layers hidden under Tianditu's map: the land, blocks and roads (boundaries stay). */
const OFFLINE_FILLS = /^basemap-(land|blocks|roads-)/;

/** True for a map error from Tianditu's tiles: the choice handles it, not the page's banner. */
export function isTiandituError(event: unknown): boolean {
  const source = (event as { sourceId?: unknown }).sourceId;
  return source === MAP || source === LABELS;
}

/** The basemap selector and what it does to the map. */
export interface BasemapChoice {
  /** The selector, for the legend. */
  element: HTMLElement;
  /** A line for the legend: the attribution of the chosen map, or why it was dropped. */
  note(): string | undefined;
  destroy(): void;
}

/** A selector over `choices` (none: no selector is needed); `changed` redraws the legend. */
export function createBasemapChoice(map: MapLibreMap, choices: RasterBasemap[], changed: () => void): BasemapChoice {
  const select = h('select', { class: 'rg-basemap-choice' });
  const label = h('label', { class: 'rg-basemap-row' });
  const element = h('div', { class: 'rg-basemap-controls' }, label, select);
  let chosen: RasterBasemap | undefined;
  let failed = false;

  const render = () => {
    label.textContent = tBasemap('label');
    select.replaceChildren(
      h('option', { value: 'offline', selected: !chosen }, tBasemap('offline')),
      ...choices.map((c) => h('option', { value: c.id, selected: chosen?.id === c.id }, tBasemap(c.id as 'tianditu_vector'))),
    );
  };
  const remove = () => {
    for (const id of [LABELS, MAP]) {
      if (map.getLayer(id)) map.removeLayer(id);
      if (map.getSource(id)) map.removeSource(id);
    }
  };
  const offlineFills = () => map.getStyle().layers.filter((l) => OFFLINE_FILLS.test(l.id)).map((l) => l.id);
  const show = (choice: RasterBasemap | undefined) => {
    remove();
    chosen = choice;
    const below = map.getLayer('basemap-land') ? 'basemap-land' : undefined;
    if (choice) {
      for (const [id, tiles] of [
        [MAP, choice.tiles],
        [LABELS, choice.labels],
      ] as const) {
        map.addSource(id, { type: 'raster', tiles: [...tiles], tileSize: 256, maxzoom: 18, attribution: choice.attribution });
        map.addLayer({ id, type: 'raster', source: id }, below);
      }
    }
    for (const id of offlineFills()) map.setLayoutProperty(id, 'visibility', choice ? 'none' : 'visible');
    map.getContainer().dataset.basemap = choice?.id ?? 'offline';
    render();
    changed();
  };
  // Tianditu unreachable (no network, a wrong key): back to the offline basemap, saying why.
  const onError = (event: unknown) => {
    if (!chosen || !isTiandituError(event)) return;
    failed = true;
    show(undefined);
  };
  const onData = (event: MapSourceDataEvent) => {
    if (chosen && event.sourceId === MAP && event.isSourceLoaded) failed = false;
  };
  map.on('error', onError);
  map.on('sourcedata', onData);
  select.addEventListener('change', () => {
    failed = false;
    show(choices.find((c) => c.id === select.value));
  });
  map.getContainer().dataset.basemap = 'offline';
  render();
  return {
    element,
    note: () => (failed ? tBasemap('failed') : chosen?.attribution),
    destroy() {
      map.off('error', onError);
      map.off('sourcedata', onData);
    },
  };
}
