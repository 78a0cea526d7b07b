// The leaders' view as a leader uses it (issue 19, parts 6, 7 and 8): the metric selector redraws
// the hot spots, the ranking's change since the month before and its export buttons, the trend
// chart and a street's own trend, the heat bands and their legend, two months side by side,
// "save the map as a picture" with its legend, a popup kept on screen that Escape closes, and the
// Tianditu basemap offered only with a key (its tiles answered here: nothing goes to Tianditu).
// With RENTGRID_SCREENSHOTS=DIR the views are saved there; docs/leaders-compare.png is one of them.
//
//   RENTGRID_BIN=target/debug/rentgrid RENTGRID_WEB=web-map/dist node --test tests/browser/leaders.test.mjs
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { mkdir } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { collectProblems, DEMO, launchChromium, READY_TIMEOUT_MS, startDemoSite, zhMonth } from './harness.mjs';

const web = path.resolve(process.env.RENTGRID_WEB ?? path.join(import.meta.dirname, '../../web-map/dist'));

/** The hot-spot colour of "热点 99% 置信度" (web-map/src/layers/hotspots.ts), as RGB. */
const HOT3 = [0xd6, 0x2f, 0x27];
/** The legend column of the saved picture, CSS pixels (web-map/src/ui/snapshot.ts). */
const LEGEND_WIDTH = 300;

/** Where screenshots go, if anywhere. */
const shots = process.env.RENTGRID_SCREENSHOTS;
/** A Tianditu key for the test server (never sent to Tianditu: its tiles are answered here). */
const TIANDITU_KEY = '0123456789abcdef0123456789abcdef';
/** A 1×1 grey PNG, the tile answered for every Tianditu request. */
const GREY_PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGM4ceIEAAS0AlkWLoFAAAAAAElFTkSuQmCC', 'base64');

/** Width and height of a PNG, from its IHDR chunk. */
function pngSize(bytes) {
  assert.deepEqual([...bytes.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'not a PNG');
  assert.equal(bytes.subarray(12, 16).toString('latin1'), 'IHDR');
  return { width: bytes.readUInt32BE(16), height: bytes.readUInt32BE(20) };
}

describe('the leaders\' view', () => {
  if (!process.env.RENTGRID_BIN || !existsSync(process.env.RENTGRID_BIN) || !existsSync(path.join(web, 'index.html'))) {
    // A failure, not a skip: a CI that forgot to build must not pass.
    it('has a server binary and a built web map', () => assert.fail('set RENTGRID_BIN to the built server and build web-map/dist'));
    return;
  }

  let site;
  let browser;
  let context;
  let page;
  let months;
  const problems = [];
  const api = async (pathAndQuery) => {
    const response = await fetch(`${site.origin}${pathAndQuery}`, { headers: { Authorization: `Bearer ${site.token}` } });
    assert.equal(response.status, 200, `${pathAndQuery}: ${response.status}`);
    return response.json();
  };

  before(async () => {
    site = await startDemoSite(process.env.RENTGRID_BIN, web, 'leaders');
    months = (await api('/api/hotspots?metric=unregistered_per_km2')).description.months_available;
    browser = await launchChromium();
    context = await browser.newContext({ viewport: { width: 1280, height: 800 }, acceptDownloads: true });
    const login = await context.request.post(`${site.origin}/api/login`, { data: DEMO.leader });
    assert.equal(login.status(), 200);
    page = await context.newPage();
    collectProblems(page, problems);
    await page.goto(`${site.url}/?view=leaders`);
    await page.waitForFunction(() => document.documentElement.dataset.ready === '1', null, { timeout: READY_TIMEOUT_MS });
  });

  after(async () => {
    await browser?.close();
    await site?.stop();
  });

  it('redraws the hot spots of the metric chosen', async () => {
    const shown = await page.locator('.rg-metric').inputValue();
    const other = shown === 'reg_rate' ? 'persons_per_km2' : 'reg_rate';
    const answer = page.waitForResponse((r) => r.url().includes('/api/hotspots') && r.url().includes(`metric=${other}`));
    await page.selectOption('.rg-metric', other);
    const wanted = await (await answer).json();
    const earlier = await api(`/api/hotspots?metric=${shown}&month=${months.at(-1)}`);
    const valueOf = (collection) => new Map(collection.features.map((f) => [f.properties.grid_id, f.properties.value]));
    const was = valueOf(earlier);
    const now = valueOf(wanted);
    assert.ok([...now].some(([grid, v]) => was.get(grid) !== v), 'the two metrics have the same values');
    // Every hot-spot grid drawn carries the new metric's value, and the legend names it.
    await page.waitForFunction(
      (values) => {
        const drawn = window.__rentgrid.map.queryRenderedFeatures({ layers: ['hotspots-fill'] });
        return drawn.length > 0 && drawn.every((f) => values[f.id] === (f.state.value ?? null));
      },
      Object.fromEntries([...now].map(([g, v]) => [g, v ?? null])),
      { timeout: 20_000 },
    );
    assert.equal(await page.locator('.rg-metric').inputValue(), other);
    const title = await page.locator('.rg-legend-layer[data-layer="hotspots"] .rg-legend-head').innerText();
    assert.ok(title.includes(other === 'reg_rate' ? '流动人口登记率' : '流动人口密度'), title);
  });

  it('ranks the streets with each rate\'s change since the month before, exports them, and charts each street by month', async () => {
    const month = months.at(-2);
    const previous = months.at(-3);
    await page.focus('.rg-month-slider');
    await page.keyboard.press('ArrowLeft');
    await page.waitForFunction((m) => document.querySelector('.rg-rankings')?.dataset.month === m, month, { timeout: 20_000 });
    // The change (环比) in percentage points, as the two months' stats say it.
    const [now, then] = await Promise.all([api(`/api/stats?level=street&month=${month}`), api(`/api/stats?level=street&month=${previous}`)]);
    const streets = page.locator('.rg-ranking').first();
    assert.ok((await streets.locator('thead abbr[title^="登记率较上月"]').innerText()) === '环比');
    const cells = await streets.locator('tbody tr').evaluateAll((rows) =>
      rows.map((tr) => ({ code: tr.dataset.code, pp: tr.querySelector('td.rg-change')?.dataset.pp })),
    );
    let compared = 0;
    for (const { code, pp } of cells) {
      const a = now.rows.find((r) => r.code === code);
      const b = then.rows.find((r) => r.code === code);
      if (pp === undefined) continue;
      assert.equal(Number(pp), Math.round((a.reg_rate - b.reg_rate) * 1000) / 10, code);
      compared += 1;
    }
    assert.ok(compared > 0, 'no street shows its change');

    // The export buttons download the table shown: that month's streets.
    const xlsx = await page.locator('.rg-rankings .rg-export-xlsx[data-table="streets"]').getAttribute('href');
    assert.ok(xlsx.includes(`month=${month}`), xlsx);
    const book = await context.request.get(xlsx);
    assert.equal(book.status(), 200);
    assert.match(book.headers()['content-type'], /spreadsheetml/);
    assert.equal((await book.body()).subarray(0, 2).toString('latin1'), 'PK');
    const downloaded = page.waitForEvent('download');
    await page.locator('.rg-rankings .rg-export-csv[data-table="streets"]').click();
    const csvFile = await downloaded;
    assert.equal(csvFile.suggestedFilename(), `streets-${month}.csv`);
    const csv = (await readFile(await csvFile.path(), 'utf8')).replace(/^\uFEFF/, '').trim().split('\n');
    assert.equal(csv.length, now.rows.length + 1, 'a header and a row per street');

    // The trend chart: one line per street over every month of the history.
    const chart = page.locator('.rg-leaders-trend[data-streets]');
    await chart.waitFor({ timeout: 20_000 });
    assert.equal(Number(await chart.getAttribute('data-streets')), now.rows.length);
    assert.equal(Number(await chart.getAttribute('data-months')), months.length);
    assert.equal(await chart.locator('canvas').count() > 0, true, 'the chart drew nothing');
  });

  it('draws the heat surface as bands within the district, with a legend for every band', async () => {
    // The heat tiles' features are bands (lo, hi) between the legend's densities.
    await page.waitForFunction(() => window.__rentgrid.map.queryRenderedFeatures({ layers: ['heat-fill'] }).length > 0, null, { timeout: 20_000 });
    const bands = await page.evaluate(() => [
      ...new Set(window.__rentgrid.map.queryRenderedFeatures({ layers: ['heat-fill'] }).map((f) => `${f.properties.lo}-${f.properties.hi ?? ''}`)),
    ]);
    const los = [100, 1000, 3000, 10000, 30000];
    for (const band of bands) {
      const [lo, hi] = band.split('-');
      const i = los.indexOf(Number(lo));
      assert.ok(i >= 0, band);
      assert.equal(hi, i + 1 < los.length ? String(los[i + 1]) : '', band);
    }
    const legend = await page.locator('.rg-legend-layer[data-layer="heat"]').innerText();
    for (const words of ['100–1,000 人/km²', '10,000–30,000 人/km²', '≥30,000 人/km²', '仅画区界以内']) assert.ok(legend.includes(words), legend);
    // No band reaches past the district's box (the Rust tests check its outline itself).
    const { bbox } = await api('/api/district');
    const outside = await page.evaluate(([w, s, e, n]) => {
      const slack = 1e-4;
      return window.__rentgrid.map
        .queryRenderedFeatures({ layers: ['heat-fill'] })
        .flatMap((f) => (f.geometry.type === 'Polygon' ? [f.geometry.coordinates] : f.geometry.coordinates))
        .flat(2)
        .filter(([x, y]) => x < w - slack || x > e + slack || y < s - slack || y > n + slack).length;
    }, bbox);
    assert.equal(outside, 0, 'heat vertices outside the district');
    if (shots) {
      await mkdir(shots, { recursive: true });
      await page.screenshot({ path: path.join(shots, 'leaders-1280.png') });
    }
  });

  it('shows a street\'s own trend when its ranking row or its area on the map is clicked', async () => {
    const chart = page.locator('.rg-leaders-trend[data-streets]');
    await chart.waitFor({ timeout: 20_000 });
    const row = page.locator('.rg-ranking').first().locator('tbody tr').first();
    const code = await row.getAttribute('data-code');
    const name = await row.locator('td').nth(1).innerText();
    await row.click();
    await page.waitForFunction((c) => document.querySelector('.rg-leaders-trend')?.dataset.focus === c, code, { timeout: 10_000 });
    assert.equal(await chart.getAttribute('data-streets'), '1');
    assert.ok((await page.locator('.rg-trend-head h3').innerText()).includes(name));
    // The row opened the street in the drill-down too (over the panel): closed, the chart is there.
    await page.locator('.rg-drill-close').click();
    await page.locator('.rg-drill').waitFor({ state: 'hidden' });
    // Back to every street.
    await page.locator('.rg-trend-all').click();
    await page.waitForFunction(() => document.querySelector('.rg-leaders-trend')?.dataset.focus === '', null, { timeout: 10_000 });
    // A click on a street's area on the map.
    const spot = await page.evaluate(() => {
      const map = window.__rentgrid.map;
      const canvas = map.getCanvas();
      const rect = canvas.getBoundingClientRect();
      for (let y = rect.height * 0.3; y < rect.height * 0.8; y += 12) {
        for (let x = rect.width * 0.45; x < rect.width * 0.7; x += 12) {
          const hit = map.queryRenderedFeatures([x, y], { layers: ['leaders-street-pick'] })[0];
          if (hit && document.elementFromPoint(rect.left + x, rect.top + y) === canvas) return { x: rect.left + x, y: rect.top + y, code: hit.properties.code };
        }
      }
      return null;
    });
    assert.ok(spot, 'no street area in view');
    await page.mouse.click(spot.x, spot.y);
    await page.waitForFunction((c) => document.querySelector('.rg-leaders-trend')?.dataset.focus === c, spot.code, { timeout: 10_000 });
    await page.keyboard.press('Escape');
    await page.locator('.rg-trend-all').click();
  });

  it('compares two complete months side by side, one camera for both maps, stacked on a phone', async () => {
    await page.setViewportSize({ width: 1600, height: 1000 });
    await page.locator('.rg-compare-toggle').click();
    const pane = page.locator('.rg-compare-pane[data-shown]');
    await pane.waitFor({ timeout: 20_000 });
    // Only complete months: the current month to date is offered on neither side.
    const offered = await page.locator('.rg-compare-month option').evaluateAll((os) => os.map((o) => o.value));
    assert.deepEqual(offered, months.slice(0, -1));
    const left = await page.locator('.rg-leaders').getAttribute('data-month');
    assert.ok(months.slice(0, -1).includes(left), left);
    // Another month on the right: its hot spots are that month's answer.
    const first = await page.locator('.rg-compare-month').inputValue();
    assert.notEqual(first, left);
    const other = months.slice(0, -1).find((m) => m !== left && m !== first);
    const answer = page.waitForResponse((r) => r.url().includes('/api/hotspots') && r.url().includes(`month=${other}`));
    await page.selectOption('.rg-compare-month', other);
    const wanted = await (await answer).json();
    await page.waitForFunction((m) => document.querySelector('.rg-compare-pane')?.dataset.shown === m, other, { timeout: 20_000 });
    await page.waitForFunction(
      (values) => {
        const drawn = window.__rentgridCompare.queryRenderedFeatures({ layers: ['hotspots-fill'] });
        return drawn.length > 0 && drawn.every((f) => values[f.id] === (f.state.value ?? null));
      },
      Object.fromEntries(wanted.features.map((f) => [f.properties.grid_id, f.properties.value ?? null])),
      { timeout: 20_000 },
    );
    // A legend on both maps, and each map's month written on it.
    assert.equal(await page.locator('.rg-main > .rg-legend').isVisible(), true);
    assert.equal(await page.locator('.rg-compare-pane .rg-legend').isVisible(), true);
    assert.ok((await page.locator('.rg-compare-pane .rg-compare-badge').innerText()).includes(zhMonth(other)));
    assert.ok((await page.locator('.rg-main > .rg-compare-badge-main').innerText()).includes(zhMonth(left)));
    // Side by side, and one camera: moving one map moves the other.
    const [a, b] = await page.evaluate(() => [window.__rentgrid.map.getContainer(), window.__rentgridCompare.getContainer()].map((e) => e.getBoundingClientRect().toJSON()));
    assert.ok(b.left >= a.right - 1 && Math.abs(a.top - b.top) < 2, JSON.stringify({ a, b }));
    await page.evaluate(() => window.__rentgrid.map.jumpTo({ zoom: window.__rentgrid.map.getZoom() + 1 }));
    await page.waitForFunction(() => Math.abs(window.__rentgrid.map.getZoom() - window.__rentgridCompare.getZoom()) < 1e-6);
    await page.evaluate(() => window.__rentgridCompare.jumpTo({ zoom: window.__rentgridCompare.getZoom() - 1 }));
    await page.waitForFunction(() => Math.abs(window.__rentgrid.map.getZoom() - window.__rentgridCompare.getZoom()) < 1e-6);
    await page.waitForFunction(() => window.__rentgridCompare.loaded() && window.__rentgrid.map.loaded(), null, { timeout: 20_000 });
    if (shots) {
      await mkdir(shots, { recursive: true });
      await page.screenshot({ path: path.join(shots, 'leaders-compare-1600.png') });
    }
    // On a phone the maps are stacked.
    await page.setViewportSize({ width: 390, height: 844 });
    await page.waitForFunction(() => {
      const [a, b] = [window.__rentgrid.map.getContainer(), window.__rentgridCompare.getContainer()].map((e) => e.getBoundingClientRect());
      return b.top >= a.bottom - 1 && a.width > 350 && b.width > 350;
    });
    await page.waitForFunction(() => window.__rentgridCompare.loaded() && window.__rentgrid.map.loaded(), null, { timeout: 20_000 });
    // Legends opened at the desktop size are folded, as a phone starts them.
    const open = page.locator('.rg-legend[data-open="1"] .rg-legend-toggle');
    for (let n = await open.count(); n > 0; n -= 1) await open.first().click();
    assert.equal(await open.count(), 0);
    assert.equal(await page.locator('.rg-leaders').isVisible(), true);
    assert.equal(await page.locator('.rg-compare-month').isVisible(), true);
    if (shots) await page.screenshot({ path: path.join(shots, 'leaders-compare-390.png') });
    // Ended, the main map has the whole area again.
    await page.setViewportSize({ width: 1280, height: 800 });
    await page.locator('.rg-compare-toggle').click();
    await page.locator('.rg-compare-pane').waitFor({ state: 'detached' });
    assert.equal(await page.evaluate(() => window.__rentgridCompare), undefined);
  });

  it('offers no basemap but the offline one without a Tianditu key', async () => {
    assert.deepEqual((await api('/api/map-config')).raster, []);
    assert.equal(await page.locator('.rg-basemap-choice').count(), 0);
    assert.equal(await page.locator('.rg-map').getAttribute('data-basemap'), null);
    const csp = (await context.request.get(`${site.url}/`)).headers()['content-security-policy'];
    assert.ok(!csp.includes('tianditu'), csp);
  });

  it('with a Tianditu key offers its maps, falls back to the offline basemap, and allows exactly its hosts', async () => {
    const keyed = await startDemoSite(process.env.RENTGRID_BIN, web, 'tianditu', '0.05', ['--tianditu-key', TIANDITU_KEY]);
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    try {
      // Tianditu is never asked: its tiles are answered here, or refused.
      const asked = [];
      let answer = (route) => route.fulfill({ status: 200, contentType: 'image/png', body: GREY_PNG });
      await ctx.route(/tianditu\.gov\.cn/, (route) => {
        asked.push(new URL(route.request().url()));
        return answer(route);
      });
      const login = await ctx.request.post(`${keyed.origin}/api/login`, { data: DEMO.leader });
      assert.equal(login.status(), 200);
      const tab = await ctx.newPage();
      const errors = [];
      tab.on('pageerror', (error) => errors.push(error.message));
      const doc = await tab.goto(`${keyed.url}/?view=leaders`);
      const csp = (await doc.allHeaders())['content-security-policy'];
      const hosts = [0, 1, 2, 3, 4, 5, 6, 7].map((n) => `https://t${n}.tianditu.gov.cn`);
      assert.ok(csp.includes(`img-src 'self' data: blob: ${hosts.join(' ')};`), csp);
      assert.ok(csp.includes(`connect-src 'self' ${hosts.join(' ')};`), csp);
      await tab.waitForFunction(() => document.documentElement.dataset.ready === '1', null, { timeout: READY_TIMEOUT_MS });
      // The offline basemap is the default: nothing asked of Tianditu yet.
      const choice = tab.locator('.rg-basemap-choice');
      await choice.waitFor();
      assert.equal(await choice.inputValue(), 'offline');
      assert.deepEqual(await choice.locator('option').evaluateAll((os) => os.map((o) => o.value)), ['offline', 'tianditu_vector', 'tianditu_image']);
      assert.equal(asked.length, 0);
      // Its vector map: web-Mercator tiles (vec_w, cva_w) with the key, under our layers.
      await tab.selectOption('.rg-basemap-choice', 'tianditu_vector');
      await tab.waitForFunction(() => window.__rentgrid.map.getContainer().dataset.basemap === 'tianditu_vector');
      await tab.waitForFunction(() => window.__rentgrid.map.isSourceLoaded('tianditu-map'), null, { timeout: 20_000 });
      assert.ok(asked.length > 0 && asked.every((u) => hosts.includes(u.origin) && /^\/(vec|cva)_w\/wmts$/.test(u.pathname) && u.searchParams.get('tk') === TIANDITU_KEY && u.searchParams.get('TILEMATRIXSET') === 'w'), asked.map(String).join('\n'));
      const order = await tab.evaluate(() => window.__rentgrid.map.getStyle().layers.map((l) => l.id));
      assert.ok(order.indexOf('tianditu-map') < order.indexOf('heat-fill'), order.join());
      assert.equal(await tab.evaluate(() => window.__rentgrid.map.getLayoutProperty('basemap-land', 'visibility')), 'none');
      // Back to the offline basemap.
      await tab.selectOption('.rg-basemap-choice', 'offline');
      await tab.waitForFunction(() => window.__rentgrid.map.getContainer().dataset.basemap === 'offline');
      assert.equal(await tab.evaluate(() => window.__rentgrid.map.getLayer('tianditu-map')), undefined);
      assert.equal(await tab.evaluate(() => window.__rentgrid.map.getLayoutProperty('basemap-land', 'visibility')), 'visible');
      // Tianditu unreachable: the offline basemap comes back by itself, saying why.
      answer = (route) => route.abort();
      await tab.selectOption('.rg-basemap-choice', 'tianditu_image');
      await tab.waitForFunction(() => window.__rentgrid.map.getContainer().dataset.basemap === 'offline', null, { timeout: 20_000 });
      assert.equal(await choice.inputValue(), 'offline');
      assert.ok((await tab.locator('.rg-legend-layer[data-layer="basemap"]').innerText()).includes('天地图无法访问'));
      assert.equal(await tab.locator('.rg-banner').isVisible(), false);
      assert.deepEqual(errors, []);
    } finally {
      await ctx.close();
      await keyed.stop();
    }
  });

  it('saves the map as a PNG with the legend, a north arrow and a scale', async () => {
    const downloaded = page.waitForEvent('download');
    await page.locator('.rg-snapshot-button').click();
    const file = await downloaded;
    assert.match(file.suggestedFilename(), /\.png$/);
    const bytes = await readFile(await file.path());
    const { width, height } = pngSize(bytes);
    const canvas = await page.evaluate(() => {
      const c = window.__rentgrid.map.getCanvas();
      return { width: c.clientWidth, height: c.clientHeight, ratio: c.width / c.clientWidth };
    });
    assert.equal(width, Math.round((canvas.width + LEGEND_WIDTH) * canvas.ratio));
    assert.ok(height >= canvas.height * canvas.ratio, `${height} < the map's ${canvas.height}`);
    // The legend column holds the hot-spot swatches: pixels of "热点 99% 置信度"'s colour.
    const swatchPixels = await page.evaluate(
      async ({ b64, legendFrom, hot }) => {
        const image = new Image();
        image.src = `data:image/png;base64,${b64}`;
        await image.decode();
        const c = document.createElement('canvas');
        c.width = image.width;
        c.height = image.height;
        const ctx = c.getContext('2d');
        ctx.drawImage(image, 0, 0);
        const { data } = ctx.getImageData(legendFrom, 0, image.width - legendFrom, image.height);
        let n = 0;
        for (let i = 0; i < data.length; i += 4) if (data[i] === hot[0] && data[i + 1] === hot[1] && data[i + 2] === hot[2]) n += 1;
        return n;
      },
      { b64: bytes.toString('base64'), legendFrom: Math.round(canvas.width * canvas.ratio), hot: HOT3 },
    );
    assert.ok(swatchPixels >= 100, `the legend's hot-spot swatch is missing (${swatchPixels} pixels)`);
  });

  it('keeps a popup on screen and closes it with Escape', async () => {
    // A grid near the map's right edge: its popup would run off the screen.
    const spot = await page.evaluate(() => {
      const map = window.__rentgrid.map;
      const canvas = map.getCanvas();
      const rect = canvas.getBoundingClientRect();
      const y = rect.height * 0.5;
      for (let x = rect.width - 4; x > rect.width * 0.5; x -= 8) {
        const hit = map.queryRenderedFeatures([x, y], { layers: ['hotspots-fill'] })[0];
        const el = document.elementFromPoint(rect.left + x, rect.top + y);
        if (hit && el === canvas) return { x: rect.left + x, y: rect.top + y };
      }
      return null;
    });
    assert.ok(spot, 'no grid near the right edge outside the legend');
    await page.mouse.click(spot.x, spot.y);
    const popup = page.locator('.rg-popup');
    await popup.waitFor({ state: 'visible', timeout: 10_000 });
    await page.waitForFunction(() => !window.__rentgrid.map.isMoving());
    const [box, frame] = await page.evaluate(() => [
      document.querySelector('.rg-popup').getBoundingClientRect().toJSON(),
      window.__rentgrid.map.getContainer().getBoundingClientRect().toJSON(),
    ]);
    assert.ok(box.left >= frame.left && box.right <= frame.right && box.top >= frame.top && box.bottom <= frame.bottom, JSON.stringify({ box, frame }));
    await page.keyboard.press('Escape');
    await popup.waitFor({ state: 'detached', timeout: 5_000 });
  });

  it('fits its ranking in the panel at 1600×1000 in both languages, and enlarges its chrome and map labels on a 4K screen', async () => {
    /** Opens the view at `width`×`height` in `lang` in a page of its own, ready and ranked. */
    const open = async (width, height, lang) => {
      const p = await context.newPage();
      collectProblems(p, problems);
      await p.setViewportSize({ width, height });
      await p.goto(`${site.url}/?view=leaders&lang=${lang}`);
      await p.waitForFunction(() => document.documentElement.dataset.ready === '1' && document.querySelector('.rg-ranking tbody tr'), null, {
        timeout: READY_TIMEOUT_MS,
      });
      return p;
    };
    for (const lang of ['zh-CN', 'en']) {
      const p = await open(1600, 1000, lang);
      const fit = await p.evaluate(() => {
        const panel = document.querySelector('.rg-leaders');
        return [...panel.querySelectorAll('.rg-ranking')].map((t) => ({ table: t.scrollWidth, panel: panel.clientWidth, heads: t.tHead.offsetHeight, row: t.tBodies[0].rows[0].offsetHeight }));
      });
      for (const f of fit) {
        assert.ok(f.table <= f.panel, `${lang}: the ranking is ${f.table} px wide in a ${f.panel} px panel`);
        // Two heading rows (the rate with its target over short headings), not four-line headings.
        assert.ok(f.heads <= 80, `${lang}: the ranking's headings are ${f.heads} px high`);
      }
      await p.close();
    }
    // 3840 wide at the automatic scale (2.4): the panel's and the legend's text at least 24 px on
    // the screen, the place names' text-size scaled alike.
    const p = await open(3840, 2160, 'zh-CN');
    const onScreen = await p.evaluate(() =>
      ['.rg-leaders .rg-ranking td', '.rg-legend-layer li', '.rg-header h1'].map((sel) => {
        const e = document.querySelector(sel);
        return [sel, parseFloat(getComputedStyle(e).fontSize) * e.currentCSSZoom];
      }),
    );
    for (const [sel, px] of onScreen) assert.ok(px >= 24, `${sel}: ${px} px on a 4K screen`);
    // Each name layer's text-size is a zoom curve: ['interpolate', how, ['zoom'], zoom, size, …].
    const sizes = await p.evaluate(() => {
      const map = window.__rentgrid.map;
      return map.getStyle().layers.filter((l) => l.id.startsWith('labels-')).map((l) => [l.id, map.getLayoutProperty(l.id, 'text-size')]);
    });
    assert.ok(sizes.length > 0, 'no place names');
    for (const [id, curve] of sizes) {
      const px = curve.filter((_, i) => i >= 4 && i % 2 === 0);
      assert.ok(px.length > 0 && px.every((x) => x >= 24), `${id}: text-size ${JSON.stringify(curve)} on a 4K screen`);
    }
    await p.close();
  });

  it('logged no error', () => {
    assert.deepEqual(problems, []);
  });
});
