// The leaders' view as a leader uses it (issue 19, parts 6 and 7): the metric selector redraws the
// hot spots, the ranking's change since the month before and its export buttons, the trend chart,
// "save the map as a picture" with its legend, and a popup kept on screen that Escape closes.
//
//   RENTGRID_BIN=target/debug/rentgrid RENTGRID_WEB=web-map/dist node --test tests/browser/leaders.test.mjs
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { collectProblems, DEMO, launchChromium, READY_TIMEOUT_MS, startDemoSite } from './harness.mjs';

const web = path.resolve(process.env.RENTGRID_WEB ?? path.join(import.meta.dirname, '../../web-map/dist'));

/** The hot-spot colour of "热点 99% 置信度" (web-map/src/layers/hotspots.ts), as RGB. */
const HOT3 = [0xd6, 0x2f, 0x27];
/** The legend column of the saved picture, CSS pixels (web-map/src/ui/snapshot.ts). */
const LEGEND_WIDTH = 300;

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
        return drawn.length > 0 && drawn.every((f) => values[f.properties.grid_id] === (f.properties.value ?? null));
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
    assert.ok((await streets.locator('thead').innerText()).includes('登记率较上月'));
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

  it('logged no error', () => {
    assert.deepEqual(problems, []);
  });
});
