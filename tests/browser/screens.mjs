// Takes the screenshot review of issue 19 into docs/screens/: every view of a demo city at
// 1600×1000, 390×844 (a phone) and 3840×2160, in zh-CN and in en, each as the role that uses it.
// 1600×1000 and the phone are PNG; 4K is JPEG (quality 80, or RENTGRID_JPEG_QUALITY) to keep the
// repository small. Not a test (node --test runs only *.test.mjs). Prints one line per file.
//
//   RENTGRID_BIN=target/debug/rentgrid RENTGRID_WEB=web-map/dist node tests/browser/screens.mjs [scale] [view,…|all] [WxH,…]
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { busiestCaseworkerDay, DEMO, launchChromium, READY_TIMEOUT_MS, startDemoSite } from './harness.mjs';

const web = path.resolve(process.env.RENTGRID_WEB ?? path.join(import.meta.dirname, '../../web-map/dist'));
const outDir = path.resolve(process.env.RENTGRID_SCREENS ?? path.join(import.meta.dirname, '../../docs/screens'));
const scale = process.argv[2] ?? '0.05';
const only = process.argv[3] && process.argv[3] !== 'all' ? process.argv[3].split(',') : undefined;
const sizes = process.argv[4]?.split(',');
const quality = Number(process.env.RENTGRID_JPEG_QUALITY ?? 80);

const SIZES = [
  { width: 1600, height: 1000 },
  { width: 390, height: 844, phone: true },
  { width: 3840, height: 2160 },
].filter((s) => !sizes || sizes.includes(`${s.width}x${s.height}`));
const LANGS = ['zh-CN', 'en'];

const site = await startDemoSite(process.env.RENTGRID_BIN, web, 'screens', scale);
let browser;
try {
  const api = (p, init = {}) => fetch(`${site.origin}${p}`, { ...init, headers: { Authorization: `Bearer ${site.token}`, ...init.headers } });
  // A campaign over the busiest caseworker's grids, and its fullest day: the campaign and field views.
  const { cw, campaign, day } = await busiestCaseworkerDay(api);
  // A grid in the middle of the ranking by migrants, as drill-screenshot.mjs picks it.
  const grids = (await (await api('/api/grids')).json()).features.map((f) => f.properties).sort((a, b) => b.persons - a.persons);
  const grid = grids[Math.floor(grids.length / 4)];

  const VIEWS = [
    { name: 'map', role: 'center', query: '' },
    { name: 'leaders', role: 'leader', query: 'view=leaders' },
    { name: 'screen', role: 'center', query: 'view=screen', live: true },
    { name: 'coverage', role: 'supervisor', query: 'view=coverage' },
    { name: 'campaign', role: 'center', query: `view=campaign&campaign=${campaign.id}&date=${day.date}` },
    {
      name: 'field',
      role: 'center',
      query: `view=field&campaign=${campaign.id}&date=${day.date}&caseworker=${cw}`,
      // The overdue line fills in after the page is ready.
      settled: () => [...document.querySelectorAll('.rg-field-overdue summary')].every((s) => s.textContent !== '…'),
    },
    { name: 'assessment', role: 'supervisor', query: 'view=assessment' },
    { name: 'drill', role: 'center', query: `place=grid:${grid.code}`, drill: `grid:${grid.code}` },
    { name: 'login', role: null, query: '' },
    { name: 'account', role: 'sysadmin', query: 'view=account' },
  ].filter((v) => !only || only.includes(v.name));

  browser = await launchChromium();
  // Each role signs in once; its pages start from that session.
  const sessions = new Map();
  for (const role of new Set(VIEWS.map((v) => v.role).filter(Boolean))) {
    const ctx = await browser.newContext();
    const login = await ctx.request.post(`${site.origin}/api/login`, { data: DEMO[role] });
    if (login.status() !== 200) throw new Error(`${role} login: HTTP ${login.status()}`);
    sessions.set(role, await ctx.storageState());
    await ctx.close();
  }

  await mkdir(outDir, { recursive: true });
  for (const size of SIZES) {
    for (const lang of LANGS) {
      for (const v of VIEWS) {
        const ctx = await browser.newContext({
          viewport: { width: size.width, height: size.height },
          deviceScaleFactor: 1,
          isMobile: Boolean(size.phone),
          hasTouch: Boolean(size.phone),
          locale: lang,
          storageState: v.role ? sessions.get(v.role) : undefined,
        });
        const page = await ctx.newPage();
        const problems = [];
        page.on('pageerror', (e) => problems.push(e.message));
        // Signed out, /api/me answers 401 (and the console says so): expected, not a problem.
        const expected = (status) => !v.role && status === 401;
        page.on('console', (m) => m.type() === 'error' && !(expected(401) && m.text().includes('401')) && problems.push(m.text()));
        page.on('response', (r) => r.status() >= 400 && !expected(r.status()) && problems.push(`HTTP ${r.status()} ${r.url().replace(site.origin, '')}`));
        const query = [v.query, `lang=${lang}`].filter(Boolean).join('&');
        const started = Date.now();
        try {
          await page.goto(`${site.url}/?${query}`);
          if (v.role) await page.waitForFunction(() => document.documentElement.dataset.ready === '1', null, { timeout: READY_TIMEOUT_MS });
          else await page.waitForFunction(() => document.documentElement.dataset.login === '1', null, { timeout: READY_TIMEOUT_MS });
          if (v.live) await page.waitForFunction(() => document.documentElement.dataset.live === '1', null, { timeout: READY_TIMEOUT_MS });
          if (v.settled) await page.waitForFunction(v.settled, null, { timeout: 30_000 });
          if (v.drill) await page.waitForFunction((k) => document.documentElement.dataset.drill === k, v.drill, { timeout: 30_000 });
          // Where there is a map: its tiles loaded and drawn.
          if (await page.evaluate(() => Boolean(window.__rentgrid?.map))) {
            await page.waitForFunction(() => !window.__rentgrid.map.isMoving() && window.__rentgrid.map.areTilesLoaded(), null, { timeout: 60_000 });
            await page.evaluate(() => new Promise((resolve) => {
              const map = window.__rentgrid.map;
              map.once('idle', resolve);
              map.triggerRepaint();
            }));
          }
          const big = size.width > 2000;
          const file = path.join(outDir, `${v.name}-${size.width}x${size.height}-${lang}.${big ? 'jpg' : 'png'}`);
          await page.screenshot(big ? { path: file, type: 'jpeg', quality } : { path: file });
          const note = problems.length ? `  problems: ${problems.join(' | ').slice(0, 300)}` : '';
          console.log(`${path.relative(process.cwd(), file)}  ${v.role ?? 'signed out'}  ${((Date.now() - started) / 1000).toFixed(1)}s${note}`);
        } catch (error) {
          // One view failing leaves the others to be taken; the line says which and why.
          process.exitCode = 1;
          console.log(`FAILED ${v.name} ${size.width}x${size.height} ${lang}: ${error.message.split('\n')[0]}  ${problems.join(' | ').slice(0, 300)}`);
        } finally {
          await ctx.close();
        }
      }
    }
  }
} finally {
  await browser?.close();
  await site.stop();
}
