/**
 * What the service worker (`sw/sw.ts`) and the page agree on: the cache of data answers kept
 * for offline use, and the messages between them. No DOM here: the worker imports it too.
 */

/** The Cache Storage cache holding the signed-in user's data answers (API and tiles). */
export const DATA_CACHE = 'rentgrid-data-v1';

/** The key under which the data cache records whose answers it holds (a login name). */
export const OWNER_KEY = '/__rentgrid/owner';

/**
 * The API answers kept for offline use, by path under `/api/`: who is signed in, the district,
 * the campaigns, a day's routes and visits, the user's grids, the rental units of a building,
 * household cards, open conflicts, the overdue list, the kinds of hazard and the open hazard
 * cases of the user's grids.
 * Nothing else is ever stored; never a login, a logout or a write.
 */
export const CACHED_API = [
  /^me$/,
  /^district$/,
  /^grids$/,
  /^campaigns$/,
  /^campaigns\/\d+$/,
  /^campaigns\/\d+\/routes$/,
  /^campaigns\/\d+\/visits$/,
  /^buildings\/\d+\/units$/,
  /^units\/\d+$/,
  /^conflicts$/,
  /^hazard-kinds$/,
  /^hazards$/,
  /^overdue$/,
];

/** Other data paths kept for offline use: the workplaces a person can be said to work at. */
export const CACHED_FEATURES = /^\/collections\/workplaces\/items$/;

/** Tile paths kept for offline use: TileJSON and tiles of the layers the phone draws. */
export const CACHED_TILES = /^\/tiles\/(basemap|boundaries|grids|buildings)(\.json|\/\d+\/\d+\/\d+\.mvt)$/;

/**
 * Font paths kept for offline use: the font catalog and the glyph ranges of the place names over
 * a caseworker's grids (`/fonts/{fontstack}/{start}-{end}.pbf`).
 */
export const CACHED_FONTS = /^\/fonts(\.json|\/[^/]+\/\d+-\d+\.pbf)$/;

/** A message asking the worker to fetch and keep `urls` (same origin) for offline use. */
export interface CacheRequest {
  type: 'rentgrid-cache';
  urls: string[];
}

/** The worker's answer to a [`CacheRequest`]: how many URLs are kept now and their bytes. */
export interface CacheReport {
  kept: number;
  failed: number;
  /** Bytes of every answer in the data cache. */
  bytes: number;
  entries: number;
}
