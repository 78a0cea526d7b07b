/// <reference lib="webworker" />
/**
 * The service worker of the phone view: the app opens and works with no network.
 *
 * - The app shell (the built files, listed by vite-plugin-pwa at build time) is cached when the
 *   worker installs; hashed assets are served from that cache, a page load (navigation) from the
 *   network and, when the network fails, from the cached `index.html`.
 * - Data answers (`CACHED_API`, and the tiles and glyphs the page asked to keep) are network first: an
 *   answer from the network is what the page gets (and is kept); the kept copy is served only
 *   when the network fails. Only 200 answers are kept, and only for a known user.
 * - The kept data belong to one user: a logout, or a login or `GET /api/me` naming another
 *   user, empties the data cache first. Login, logout and every write pass straight through
 *   and are never kept.
 */
import { cleanupOutdatedCaches, getCacheKeyForURL, matchPrecache, precache } from 'workbox-precaching';
import { CACHED_API, CACHED_FEATURES, CACHED_FONTS, CACHED_TILES, DATA_CACHE, OWNER_KEY, type CacheReport, type CacheRequest } from '../src/offline/caches';

declare const self: ServiceWorkerGlobalScope & { __WB_MANIFEST: Parameters<typeof precache>[0] };

precache(self.__WB_MANIFEST);
cleanupOutdatedCaches();

self.addEventListener('install', () => void self.skipWaiting());
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));

const scopePath = new URL(self.registration.scope).pathname;

/** The API path under `/api/` of a same-origin URL, if it is one. */
function apiPath(url: URL): string | undefined {
  return url.origin === self.location.origin && url.pathname.startsWith('/api/') ? url.pathname.slice(5) : undefined;
}

function keptApi(url: URL): boolean {
  const p = apiPath(url);
  if (p === undefined) return url.origin === self.location.origin && CACHED_FEATURES.test(url.pathname);
  return CACHED_API.some((re) => re.test(p));
}

/** Tiles and the glyphs of place names: kept when the page asks for them. */
function keptTile(url: URL): boolean {
  return url.origin === self.location.origin && (CACHED_TILES.test(url.pathname) || CACHED_FONTS.test(url.pathname));
}

async function owner(): Promise<string | undefined> {
  const r = await (await caches.open(DATA_CACHE)).match(OWNER_KEY);
  return r ? r.text() : undefined;
}

/** Makes `user` the data cache's owner, emptying it first when it held another user's answers. */
async function claim(user: string): Promise<void> {
  if ((await owner()) === user) return;
  await caches.delete(DATA_CACHE);
  await (await caches.open(DATA_CACHE)).put(OWNER_KEY, new Response(user));
}

/** Reads the login name from a `Me` answer (login or `GET /api/me`) and claims the cache for it. */
async function claimFrom(response: Response): Promise<void> {
  if (response.status !== 200) return;
  try {
    const me = (await response.clone().json()) as { username?: unknown };
    if (typeof me.username === 'string') await claim(me.username);
  } catch {
    // Not a Me answer: nothing to claim.
  }
}

/**
 * The copy of `GET /api/me` kept for offline start: who the user is, without the session's CSRF
 * token (the answer is `no-store` because of it; the page asks again before it sends a write).
 */
async function meWithoutToken(response: Response): Promise<Response> {
  const me = (await response.clone().json()) as Record<string, unknown>;
  return new Response(JSON.stringify({ ...me, csrf: null }), { headers: { 'Content-Type': 'application/json' } });
}

/**
 * Keeps a 200 answer when the cache has an owner (someone signed in through this worker). An
 * answer the server marks `no-store` is not kept, but for who is signed in (without its token).
 */
async function keep(request: Request, response: Response): Promise<void> {
  if (response.status !== 200 || (await owner()) === undefined) return;
  const isMe = apiPath(new URL(request.url)) === 'me';
  if (!isMe && response.headers.get('Cache-Control')?.includes('no-store')) return;
  try {
    await (await caches.open(DATA_CACHE)).put(request, isMe ? await meWithoutToken(response) : response.clone());
  } catch {
    // Not storable (quota, `Vary: *`, not JSON): served from the network only.
  }
}

/** Network first: the network's answer when there is one (kept), else the kept copy. */
async function networkFirst(event: FetchEvent, isMe: boolean, keepNew: boolean): Promise<Response> {
  const request = event.request;
  try {
    const response = await fetch(request);
    const store = async () => {
      if (isMe) await claimFrom(response);
      const cache = await caches.open(DATA_CACHE);
      if (keepNew || (await cache.match(request, { ignoreVary: true }))) await keep(request, response);
    };
    event.waitUntil(store());
    return response;
  } catch (error) {
    const kept = await (await caches.open(DATA_CACHE)).match(request, { ignoreVary: true });
    if (kept) return kept;
    throw error;
  }
}

self.addEventListener('fetch', (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  const api = apiPath(url);
  if (request.method === 'POST' && api === 'logout') {
    // Whatever the server answers (or if it cannot be reached): this user's data leave the phone.
    event.respondWith(caches.delete(DATA_CACHE).then(() => fetch(request)));
    return;
  }
  if (request.method === 'POST' && api === 'login') {
    event.respondWith(
      fetch(request).then(async (response) => {
        await claimFrom(response);
        return response;
      }),
    );
    return;
  }
  if (request.method !== 'GET') return;
  if (request.mode === 'navigate') {
    event.respondWith(
      fetch(request).catch(async (error: unknown) => {
        const shell = url.pathname === scopePath || url.pathname === `${scopePath}index.html` ? await matchPrecache('index.html') : undefined;
        if (shell) return shell;
        throw error;
      }),
    );
    return;
  }
  const precached = getCacheKeyForURL(request.url);
  if (precached) {
    event.respondWith(caches.match(precached).then((hit) => hit ?? fetch(request)));
    return;
  }
  if (keptApi(url)) {
    event.respondWith(networkFirst(event, api === 'me', true));
  } else if (keptTile(url)) {
    // Tiles are kept when the page asks (its user's grids); a kept tile is refreshed on the way.
    event.respondWith(networkFirst(event, false, false));
  }
});

/** Fetches and keeps what the page asked for, a few at a time; answers what the cache holds. */
async function cacheAll(urls: string[]): Promise<CacheReport> {
  const wanted = urls.map((u) => new URL(u, self.location.origin)).filter((u) => keptApi(u) || keptTile(u));
  let kept = 0;
  let failed = 0;
  const fetchOne = async (url: URL) => {
    try {
      const request = new Request(url.href, { credentials: 'same-origin' });
      const response = await fetch(request);
      if (apiPath(url) === 'me') await claimFrom(response);
      await keep(request, response);
      if (response.status === 200) kept++;
      else if (response.status !== 204) failed++;
    } catch {
      failed++;
    }
  };
  // Who is asking goes first: nothing is kept before the cache knows its owner.
  for (const url of wanted.filter((u) => apiPath(u) === 'me')) await fetchOne(url);
  const queue = wanted.filter((u) => apiPath(u) !== 'me');
  const worker = async () => {
    for (let url = queue.shift(); url; url = queue.shift()) await fetchOne(url);
  };
  await Promise.all(Array.from({ length: 4 }, worker));
  const cache = await caches.open(DATA_CACHE);
  let bytes = 0;
  const keys = await cache.keys();
  for (const key of keys) bytes += (await (await cache.match(key))?.arrayBuffer())?.byteLength ?? 0;
  return { kept, failed, bytes, entries: keys.length };
}

self.addEventListener('message', (event) => {
  const data = event.data as Partial<CacheRequest> | undefined;
  if (data?.type !== 'rentgrid-cache' || !Array.isArray(data.urls)) return;
  const port = event.ports[0];
  event.waitUntil(cacheAll(data.urls.filter((u): u is string => typeof u === 'string')).then((report) => port?.postMessage(report)));
});
