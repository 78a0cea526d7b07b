/**
 * Live updates: the server's data changes pushed to the open map (`GET /api/events`, Server-Sent
 * Events). A change names the grids and tiles a write touched, so the map reloads just those; a
 * reload, a resync or a missed change reloads everything. When the stream drops, the map falls
 * back to asking for the data version on a timer, and the stream is retried with a growing delay.
 */
import type { Map as MapLibreMap } from 'maplibre-gl';
import type { DataEvent } from './api';

/** A tile, as MapLibre names it for `refreshTiles`. */
export interface TileAddress {
  x: number;
  y: number;
  z: number;
}

/** The most tiles of one tile set reloaded one by one; a change touching more reloads them all. */
const MAX_TILES = 512;

/** The first wait before the stream is tried again, and the longest. */
const RETRY_FIRST_MS = 2_000;
const RETRY_MAX_MS = 60_000;

/**
 * The tiles of the tile set `layer` that `change` touched: `'all'` when any may have changed,
 * an empty list when none did.
 */
export function touchedTiles(change: DataEvent, layer: string): TileAddress[] | 'all' {
  if (change.grids === null) return 'all';
  const touched = change.tiles.find((t) => t.layer === layer);
  if (!touched) return [];
  if (touched.every) return 'all';
  const tiles: TileAddress[] = [];
  for (const r of touched.ranges) {
    if (tiles.length + (r.max_x - r.min_x + 1) * (r.max_y - r.min_y + 1) > MAX_TILES) return 'all';
    for (let x = r.min_x; x <= r.max_x; x++) for (let y = r.min_y; y <= r.max_y; y++) tiles.push({ x, y, z: r.z });
  }
  return tiles;
}

/**
 * Reloads the tiles of the vector source `source` (drawn from the tile set `layer`) that `change`
 * touched. Unchanged tiles come back as bodyless 304s (their ETag), changed ones with their body.
 */
export function refreshTouchedTiles(map: MapLibreMap, source: string, layer: string, change: DataEvent): void {
  const tiles = touchedTiles(change, layer);
  if (tiles === 'all') map.refreshTiles(source);
  else if (tiles.length > 0) map.refreshTiles(source, tiles);
}

/** What the map does with what the stream says. */
export interface LiveHandlers {
  /** Each event, in order. */
  onEvent(event: DataEvent): void;
  /** The stream is up (`true`, its first event arrived) or down (`false`: fall back to polling). */
  onConnected(up: boolean): void;
}

/** An open subscription to the server's changes. */
export interface Live {
  /** True while the stream is up. */
  connected(): boolean;
  /** Closes the stream and stops retrying. */
  close(): void;
}

/** Subscribes to `GET /api/events` (the session cookie goes with it: same origin). */
export function subscribe(handlers: LiveHandlers): Live {
  let source: EventSource | undefined;
  let up = false;
  let closed = false;
  let retryMs = RETRY_FIRST_MS;
  let retryTimer: ReturnType<typeof setTimeout> | undefined;

  const setUp = (next: boolean) => {
    if (up === next) return;
    up = next;
    handlers.onConnected(next);
  };

  const open = () => {
    retryTimer = undefined;
    if (closed) return;
    const es = new EventSource(new URL('/api/events', window.location.origin).href);
    source = es;
    es.onmessage = (message: MessageEvent<string>) => {
      let event: DataEvent;
      try {
        event = JSON.parse(message.data) as DataEvent;
      } catch {
        return;
      }
      retryMs = RETRY_FIRST_MS;
      setUp(true);
      handlers.onEvent(event);
    };
    // The stream ended or failed (the server stopped or restarted, the session ended, the network
    // dropped): poll meanwhile, and try again later rather than at the browser's own pace.
    es.onerror = () => {
      es.close();
      if (source === es) source = undefined;
      setUp(false);
      if (closed || retryTimer !== undefined) return;
      retryTimer = setTimeout(open, retryMs);
      retryMs = Math.min(retryMs * 2, RETRY_MAX_MS);
    };
  };
  open();

  return {
    connected: () => up,
    close() {
      closed = true;
      if (retryTimer !== undefined) clearTimeout(retryTimer);
      source?.close();
      source = undefined;
    },
  };
}
