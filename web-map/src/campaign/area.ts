/**
 * Choosing a campaign's area on the map: a polygon drawn click by click (terra-draw's polygon mode,
 * closed by clicking its first point or with Enter), or grids picked by clicking them (a second
 * click leaves one out again). While a tool is on, the map's clicks belong to it, not to popups.
 */
import type { FilterSpecification, Map as MapLibreMap, MapMouseEvent } from 'maplibre-gl';
import type * as G from 'geojson';
import { TerraDraw, TerraDrawPolygonMode } from 'terra-draw';
import { TerraDrawMapLibreGLAdapter } from 'terra-draw-maplibre-gl-adapter';
import { GRIDS_SOURCE } from '../layers/grids';

/** What was chosen: a drawn polygon or picked grids. */
export type ChosenArea = { polygon: G.Polygon } | { grids: number[] };

/** How the area is chosen. */
export type AreaTool = 'draw' | 'grids';

export interface AreaPicker {
  /** Turns a tool on (the other one off) and forgets what was chosen before. */
  start(tool: AreaTool): void;
  /** Turns the tools off, keeping what was chosen on the map. */
  stop(): void;
  /** What is chosen now, if anything. */
  area(): ChosenArea | undefined;
  /** Forgets what was chosen and takes it off the map. */
  clear(): void;
  /** Removes everything the picker added to the map. */
  destroy(): void;
}

const COLOR = '#6a1b9a';
/** The grid fill style layer clicks are read from (grids.ts). */
const GRIDS_FILL = 'grids-fill';
const PICKED_FILL = 'campaign-picked-grids-fill';
const PICKED_LINE = 'campaign-picked-grids-line';

/**
 * A picker over `map`; `onChange` hears every change of the chosen area, `onTool` every tool
 * turned on or off (the app suspends its popups meanwhile).
 */
export function createAreaPicker(map: MapLibreMap, onChange: () => void, onTool: (on: boolean) => void): AreaPicker {
  let tool: AreaTool | undefined;
  let polygon: G.Polygon | undefined;
  const picked = new Set<number>();

  const draw = new TerraDraw({
    adapter: new TerraDrawMapLibreGLAdapter({ map, prefixId: 'campaign-draw' }),
    modes: [
      new TerraDrawPolygonMode({
        styles: {
          fillColor: COLOR,
          fillOpacity: 0.15,
          outlineColor: COLOR,
          outlineWidth: 3,
          closingPointColor: '#ffffff',
          closingPointOutlineColor: COLOR,
          closingPointWidth: 6,
          closingPointOutlineWidth: 2,
        },
      }),
    ],
  });
  draw.on('finish', (id) => {
    const feature = draw.getSnapshotFeature(id);
    if (feature?.geometry.type !== 'Polygon') return;
    polygon = feature.geometry as G.Polygon;
    // One polygon at a time: the drawn one stays on the map, drawing stops.
    draw.setMode('static');
    onChange();
  });

  // The picked grids: a fill and an outline over the grid tiles, filtered to their ids.
  const pickedFilter = (): FilterSpecification => ['in', ['get', 'id'], ['literal', [...picked]]];
  const hasGrids = map.getSource(GRIDS_SOURCE) !== undefined;
  if (hasGrids) {
    map.addLayer({ id: PICKED_FILL, type: 'fill', source: GRIDS_SOURCE, 'source-layer': 'grids', filter: pickedFilter(), paint: { 'fill-color': COLOR, 'fill-opacity': 0.3 } });
    map.addLayer({ id: PICKED_LINE, type: 'line', source: GRIDS_SOURCE, 'source-layer': 'grids', filter: pickedFilter(), paint: { 'line-color': COLOR, 'line-width': 2.5 } });
  }
  const onGridClick = (event: MapMouseEvent) => {
    if (tool !== 'grids' || !map.getLayer(GRIDS_FILL)) return;
    const id = map.queryRenderedFeatures(event.point, { layers: [GRIDS_FILL] })[0]?.properties?.id;
    if (typeof id !== 'number') return;
    if (picked.has(id)) picked.delete(id);
    else picked.add(id);
    if (hasGrids) {
      map.setFilter(PICKED_FILL, pickedFilter());
      map.setFilter(PICKED_LINE, pickedFilter());
    }
    onChange();
  };
  map.on('click', onGridClick);

  const forget = () => {
    polygon = undefined;
    picked.clear();
    if (draw.enabled) draw.clear();
    if (hasGrids) {
      map.setFilter(PICKED_FILL, pickedFilter());
      map.setFilter(PICKED_LINE, pickedFilter());
    }
  };

  const stop = () => {
    if (draw.enabled && !polygon) draw.setMode('static');
    // After the click that closed the polygon has gone by: it must not open a popup.
    if (tool) setTimeout(() => onTool(false));
    tool = undefined;
    map.getCanvas().style.cursor = '';
    map.doubleClickZoom.enable();
  };

  return {
    start(next) {
      forget();
      if (!draw.enabled) draw.start();
      tool = next;
      onTool(true);
      // A double click finishes nothing here: the map should not zoom under the drawing either.
      map.doubleClickZoom.disable();
      if (next === 'draw') draw.setMode('polygon');
      else {
        draw.setMode('static');
        map.getCanvas().style.cursor = 'crosshair';
      }
      onChange();
    },
    stop,
    area() {
      if (polygon) return { polygon };
      if (picked.size > 0) return { grids: [...picked].sort((a, b) => a - b) };
      return undefined;
    },
    clear() {
      forget();
      stop();
      onChange();
    },
    destroy() {
      stop();
      map.off('click', onGridClick);
      if (draw.enabled) draw.stop();
      for (const id of [PICKED_LINE, PICKED_FILL]) if (map.getLayer(id)) map.removeLayer(id);
    },
  };
}
