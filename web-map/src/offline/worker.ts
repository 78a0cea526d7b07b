/**
 * The page's side of the service worker (`sw/sw.ts`): registering it, asking it to keep what
 * the caseworker needs offline (the day's answers and the tiles over their grids), and the tile
 * arithmetic for that.
 */
import type { CacheReport, CacheRequest } from './caches';

/** Registers the service worker (built pages only) and resolves once one controls this page. */
export async function registerWorker(): Promise<ServiceWorker | undefined> {
  if (!import.meta.env.PROD || !('serviceWorker' in navigator)) return undefined;
  await navigator.serviceWorker.register('./sw.js', { scope: './' });
  const ready = await navigator.serviceWorker.ready;
  if (navigator.serviceWorker.controller) return navigator.serviceWorker.controller;
  // The worker claims open pages when it activates.
  await new Promise<void>((resolve) => navigator.serviceWorker.addEventListener('controllerchange', () => resolve(), { once: true }));
  return navigator.serviceWorker.controller ?? ready.active ?? undefined;
}

/** Asks `worker` to fetch and keep `urls`; resolves with what the data cache holds then. */
export function keepOffline(worker: ServiceWorker, urls: string[]): Promise<CacheReport> {
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = (event) => resolve(event.data as CacheReport);
    const message: CacheRequest = { type: 'rentgrid-cache', urls };
    worker.postMessage(message, [channel.port2]);
  });
}

/** The zooms the phone draws its grids at (one building at z17, a grid at z14). */
export const OFFLINE_ZOOMS = [14, 15, 16, 17] as const;

/** At most this many tiles are kept for offline use (about 5 to 10 MB). */
export const MAX_OFFLINE_TILES = 1_200;

/** The tile layers drawn over a caseworker's grids. */
export const OFFLINE_LAYERS = ['basemap', 'boundaries', 'grids', 'buildings'] as const;

function lonToX(lon: number, z: number): number {
  return Math.floor(((lon + 180) / 360) * 2 ** z);
}

function latToY(lat: number, z: number): number {
  const r = (lat * Math.PI) / 180;
  return Math.floor(((1 - Math.log(Math.tan(r) + 1 / Math.cos(r)) / Math.PI) / 2) * 2 ** z);
}

/** The `z/x/y` of the Web Mercator tiles covering each box at each zoom, low zooms first, without repeats. */
export function tilesOver(boxes: readonly [number, number, number, number][], zooms: readonly number[]): string[] {
  const seen = new Set<string>();
  for (const z of zooms) {
    for (const [w, s, e, n] of boxes) {
      for (let x = lonToX(w, z); x <= lonToX(e, z); x++) {
        for (let y = latToY(n, z); y <= latToY(s, z); y++) seen.add(`${z}/${x}/${y}`);
      }
    }
  }
  return [...seen];
}

/**
 * The glyph ranges (`{start}-{end}`, 256 code points each) that writing `texts` needs, ascending:
 * what MapLibre asks the server for when it draws them as labels.
 */
export function glyphRangesOf(texts: readonly string[]): string[] {
  const starts = new Set<number>();
  for (const text of texts) {
    for (const c of text) {
      const cp = c.codePointAt(0) ?? 0;
      if (cp <= 0xffff) starts.add(Math.floor(cp / 256) * 256);
    }
  }
  return [...starts].sort((a, b) => a - b).map((s) => `${s}-${s + 255}`);
}

/** The bounding box of a GeoJSON geometry's coordinates. */
export function bboxOf(geometry: { coordinates: unknown }): [number, number, number, number] {
  const box: [number, number, number, number] = [Infinity, Infinity, -Infinity, -Infinity];
  const walk = (c: unknown): void => {
    if (Array.isArray(c) && typeof c[0] === 'number' && typeof c[1] === 'number') {
      box[0] = Math.min(box[0], c[0]);
      box[1] = Math.min(box[1], c[1]);
      box[2] = Math.max(box[2], c[0]);
      box[3] = Math.max(box[3], c[1]);
    } else if (Array.isArray(c)) {
      for (const x of c) walk(x);
    }
  };
  walk(geometry.coordinates);
  return box;
}
