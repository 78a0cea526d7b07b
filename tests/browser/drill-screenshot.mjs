// Takes docs/map-drill.png: the drill-down at a grid of a demo city (1600×1000, zh-CN), as the
// command center sees it. Not a test (node --test runs only *.test.mjs).
//
//   RENTGRID_BIN=target/debug/rentgrid RENTGRID_WEB=web-map/dist node tests/browser/drill-screenshot.mjs [out.png] [scale]
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { centerToken, DEMO, DEMO_TIMEOUT_MS, launchChromium, READY_TIMEOUT_MS, run, startServer, stopServer } from './harness.mjs';

const bin = process.env.RENTGRID_BIN;
const web = path.resolve(process.env.RENTGRID_WEB ?? path.join(import.meta.dirname, '../../web-map/dist'));
const out = path.resolve(process.argv[2] ?? path.join(import.meta.dirname, '../../docs/map-drill.png'));
const scale = process.argv[3] ?? '0.2';

const dataDir = await mkdtemp(path.join(tmpdir(), 'rentgrid-drill-shot-'));
let server;
let browser;
try {
  await run(bin, ['demo', '--data', dataDir, '--scale', scale], DEMO_TIMEOUT_MS * 3);
  server = await startServer(bin, ['serve', '--data', dataDir, '--listen', '127.0.0.1:0', '--web', web]);
  const origin = new URL(server.url).origin;
  const token = await centerToken(origin, 'drill screenshot');
  const api = async (p) => (await fetch(`${origin}${p}`, { headers: { Authorization: `Bearer ${token}` } })).json();
  // A grid in the middle of the ranking by migrants: buildings, a trend, a breadcrumb of three.
  const grids = (await api('/api/grids')).features.map((f) => f.properties).sort((a, b) => b.persons - a.persons);
  const grid = grids[Math.floor(grids.length / 4)];
  browser = await launchChromium();
  const context = await browser.newContext({ viewport: { width: 1600, height: 1000 }, locale: 'zh-CN' });
  const login = await context.request.post(`${origin}/api/login`, { data: DEMO.center });
  if (login.status() !== 200) throw new Error(`login: ${login.status()}`);
  const page = await context.newPage();
  await page.goto(`${server.url}/?lang=zh-CN&place=grid:${grid.code}`);
  await page.waitForFunction(() => document.documentElement.dataset.ready === '1', null, { timeout: READY_TIMEOUT_MS });
  await page.waitForFunction((k) => document.documentElement.dataset.drill === k, `grid:${grid.code}`, { timeout: 30_000 });
  await page.waitForFunction(() => !window.__rentgrid.map.isMoving() && window.__rentgrid.map.areTilesLoaded(), null, { timeout: 30_000 });
  await page.evaluate(() => new Promise((resolve) => {
    const map = window.__rentgrid.map;
    map.once('idle', resolve);
    map.triggerRepaint();
  }));
  await page.screenshot({ path: out });
  console.log(`${out}: grid ${grid.code} ${grid.name}`);
} finally {
  await browser?.close();
  if (server) await stopServer(server.child);
  await rm(dataDir, { recursive: true, force: true });
}
