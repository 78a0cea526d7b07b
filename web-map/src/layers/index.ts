/** The layer registry: every layer of the map, bottom to top. */
import { createBasemapLayer } from './basemap';
import { createBuildingsLayer } from './buildings';
import { createGridsLayer } from './grids';
import { createHazardsLayer } from './hazards';
import { createLabelsLayer } from './labels';
import { createOverdueLayer } from './overdue';
import type { MapLayer } from './types';

/** Creates a fresh set of the map's layers (one per mounted map). */
export function createLayers(): MapLayer[] {
  return [
    createBasemapLayer(),
    createGridsLayer(),
    createBuildingsLayer(),
    createOverdueLayer(),
    createHazardsLayer(),
    createLabelsLayer({ grids: true }),
  ];
}
