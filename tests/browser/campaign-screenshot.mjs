// Takes docs/campaign-create.png: the command center planning a campaign in the campaign view of a
// demo city (1600×1000, zh-CN): an area drawn around the weakest grid, two caseworkers ticked, the
// dates. Not a test (node --test runs only *.test.mjs).
//
//   RENTGRID_BIN=target/debug/rentgrid RENTGRID_WEB=web-map/dist node tests/browser/campaign-screenshot.mjs [out.png] [scale]
import path from 'node:path';
import { DEMO, launchChromium, READY_TIMEOUT_MS, startDemoSite } from './harness.mjs';

const web = path.resolve(process.env.RENTGRID_WEB ?? path.join(import.meta.dirname, '../../web-map/dist'));
const out = path.resolve(process.argv[2] ?? path.join(import.meta.dirname, '../../docs/campaign-create.png'));
const scale = process.argv[3] ?? '0.05';

const site = await startDemoSite(process.env.RENTGRID_BIN, web, 'campaign-shot', scale);
let browser;
try {
  const api = async (p) => (await fetch(`${site.origin}${p}`, { headers: { Authorization: `Bearer ${site.token}` } })).json();
  const stats = await api('/api/stats?level=grid');
  const grid = stats.rows.filter((r) => typeof r.reg_rate === 'number' && r.persons > 0).sort((a, b) => a.reg_rate - b.reg_rate || a.grid_id - b.grid_id)[0].grid_id;
  const areas = (await api('/api/coverage')).features.filter((f) => f.properties.kind === 'area');
  const holder = areas.find((a) => a.properties.grids.includes(grid));
  const team = areas.filter((a) => a.properties.street_code === holder.properties.street_code).slice(0, 2);
  if (!team.includes(holder)) team[1] = holder;
  const shape = await api(`/api/grids/${grid}`);
  const ring = shape.geometry.type === 'Polygon' ? shape.geometry.coordinates[0] : shape.geometry.coordinates[0][0];

  browser = await launchChromium();
  const context = await browser.newContext({ viewport: { width: 1600, height: 1000 }, locale: 'zh-CN' });
  const login = await context.request.post(`${site.origin}/api/login`, { data: DEMO.center });
  if (login.status() !== 200) throw new Error(`login: ${login.status()}`);
  const page = await context.newPage();
  await page.goto(`${site.url}/?view=campaign`);
  await page.waitForFunction(() => document.documentElement.dataset.ready === '1', null, { timeout: READY_TIMEOUT_MS });
  await page.locator('.rg-campaign-new').click();
  const xs = ring.map((p) => p[0]);
  const ys = ring.map((p) => p[1]);
  const box = [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)];
  await page.evaluate((b) => window.__rentgrid.map.fitBounds(b, { padding: { top: 120, bottom: 120, left: 520, right: 460 }, duration: 0 }), box);
  await page.evaluate(() => new Promise((resolve) => {
    const map = window.__rentgrid.map;
    map.once('idle', resolve);
    map.triggerRepaint();
  }));
  // The grid's outline, every few corners, clicked on the canvas; then its first corner again.
  const step = Math.max(1, Math.floor((ring.length - 1) / 10));
  const corners = await page.evaluate(
    (points) => {
      const map = window.__rentgrid.map;
      const frame = map.getCanvas().getBoundingClientRect();
      return points.map((c) => {
        const p = map.project(c);
        return [frame.left + p.x, frame.top + p.y];
      });
    },
    ring.slice(0, -1).filter((_, i) => i % step === 0),
  );
  for (const [x, y] of [...corners, corners[0]]) {
    await page.mouse.move(x, y);
    await page.mouse.click(x, y);
  }
  for (const member of team) await page.locator(`.rg-campaign-member input[value="${member.properties.caseworker_id}"]`).check();
  await page.evaluate(() => new Promise((resolve) => {
    const map = window.__rentgrid.map;
    map.once('idle', resolve);
    map.triggerRepaint();
  }));
  await page.screenshot({ path: out });
  console.log(`${out}: grid ${grid}, team ${team.map((a) => a.properties.name).join(', ')}`);
} finally {
  await browser?.close();
  await site.stop();
}
