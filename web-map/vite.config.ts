/**
 * Build: `vite build` writes `dist/` with relative asset URLs, served by `rentgrid serve --web`.
 * Dev: `vite` answers `/api/*` from the made-up city in `dev-fixtures/`, or, with
 * `RENTGRID_API=http://127.0.0.1:8080`, proxies it to a running rentgrid server.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { defineConfig, type Plugin } from 'vite';
import { VitePWA } from 'vite-plugin-pwa';
import * as city from './dev-fixtures/city.ts';

function send(res: ServerResponse, status: number, body: unknown): void {
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.end(JSON.stringify(body));
}

/** The HTTP contract of `/api`, answered from the fixture city. */
function fixtureApi(): Plugin {
  return {
    name: 'rentgrid-fixture-api',
    apply: 'serve',
    configureServer(server) {
      server.middlewares.use('/api', (req: IncomingMessage, res: ServerResponse) => {
        const url = new URL(req.url ?? '/', 'http://fixture');
        switch (url.pathname) {
          case '/district':
            return send(res, 200, city.district());
          case '/grids':
            return send(res, 200, city.grids());
          case '/basemap':
            return send(res, 200, city.basemap());
          case '/buildings': {
            const bbox = (url.searchParams.get('bbox') ?? '').split(',').map(Number);
            const limit = Number(url.searchParams.get('limit') ?? 1000);
            const page = city.buildings(bbox, limit);
            return page
              ? send(res, 200, page)
              : send(res, 400, { code: 'bad_bbox', message: 'bbox must be minLon,minLat,maxLon,maxLat' });
          }
          default:
            return send(res, 404, { code: 'not_found', message: `no such endpoint: /api${url.pathname}` });
        }
      });
    },
  };
}

const upstream = process.env.RENTGRID_API;

/**
 * The phone view as an installable app: the web app manifest, and the service worker `sw/sw.ts`
 * (compiled by vite, with the list of built files to cache injected by vite-plugin-pwa). The
 * field view registers it; nothing is registered in `npm run dev`.
 */
const pwa = VitePWA({
  strategies: 'injectManifest',
  srcDir: 'sw',
  filename: 'sw.ts',
  injectRegister: false,
  manifestFilename: 'manifest.webmanifest',
  manifest: {
    name: '租房网格 field',
    short_name: '租房网格',
    description: '综管员走访：今日走访点、走访记录，离线可用 · Caseworker visits, offline first',
    lang: 'zh-CN',
    start_url: './?view=field',
    scope: './',
    display: 'standalone',
    background_color: '#ffffff',
    theme_color: '#14213d',
    icons: [
      { src: 'icons/icon.svg', sizes: 'any', type: 'image/svg+xml' },
      { src: 'icons/icon-192.png', sizes: '192x192', type: 'image/png' },
      { src: 'icons/icon-512.png', sizes: '512x512', type: 'image/png' },
      { src: 'icons/icon-512.png', sizes: '512x512', type: 'image/png', purpose: 'maskable' },
    ],
  },
  injectManifest: {
    // The app shell: scripts, styles, pages, the manifest and icons. MapLibre is over 1 MB.
    globPatterns: ['**/*.{js,css,html,svg,png,webmanifest}'],
    maximumFileSizeToCacheInBytes: 4 * 1024 * 1024,
  },
});

export default defineConfig({
  base: './',
  plugins: upstream ? [pwa] : [fixtureApi(), pwa],
  server: upstream ? { proxy: { '/api': { target: upstream, changeOrigin: true } } } : {},
  build: {
    // MapLibre alone is about 1 MB minified; that is expected, not a sign of a bloated bundle.
    chunkSizeWarningLimit: 1500,
    // MapLibre's worker ships as `.mjs`; emit it as `.js` so any static server sends a JavaScript type.
    rolldownOptions: {
      // Two pages: the map, and the printable monthly report.
      input: { main: 'index.html', report: 'report.html' },
      output: {
        assetFileNames: (asset) =>
          asset.names.some((name) => name.endsWith('.mjs')) ? 'assets/[name]-[hash].js' : 'assets/[name]-[hash][extname]',
      },
    },
  },
});
