// The drill-down of the web map in headless Chromium against a real rentgrid server on a small demo
// city: the command center goes from the district to a household — by a click on the map, by the
// panel's rows — with the breadcrumb naming every level, each level's KPIs against the targets
// (90% / 95%) and the estimated actual rate where /api/stats gives one, each level's trend (a
// building its own, a unit and a household their building's), persons masked; the URL names the
// place and a reload returns to it. A leader opens a street from the ranking and stops
// at the grid.
//
//   RENTGRID_BIN=target/debug/rentgrid RENTGRID_WEB=web-map/dist node --test tests/browser/drill.test.mjs
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { collectProblems, DEMO, launchChromium, READY_TIMEOUT_MS, startDemoSite } from './harness.mjs';

const web = path.resolve(process.env.RENTGRID_WEB ?? path.join(import.meta.dirname, '../../web-map/dist'));

describe('the drill-down', () => {
  if (!process.env.RENTGRID_BIN || !existsSync(process.env.RENTGRID_BIN) || !existsSync(path.join(web, 'index.html'))) {
    it('has a server binary and a built web map', () => assert.fail('set RENTGRID_BIN to the built server and build web-map/dist'));
    return;
  }

  let site;
  let browser;
  let origin;
  let token;
  const problems = [];
  const api = async (pathAndQuery) => {
    const response = await fetch(`${origin}${pathAndQuery}`, { headers: { Authorization: `Bearer ${token}` } });
    assert.equal(response.status, 200, `${pathAndQuery}: ${response.status}`);
    return response.json();
  };

  /** A signed-in page of `user` at `url`, its problems (errors, failed requests) collected. */
  const pageOf = async (user, url, device = { viewport: { width: 1600, height: 1000 } }) => {
    const context = await browser.newContext(device);
    const login = await context.request.post(`${origin}/api/login`, { data: user });
    assert.equal(login.status(), 200);
    const page = await context.newPage();
    collectProblems(page, problems);
    await page.goto(`${site.url}${url}`);
    await page.waitForFunction(() => document.documentElement.dataset.ready === '1', null, { timeout: READY_TIMEOUT_MS });
    return page;
  };

  before(async () => {
    site = await startDemoSite(process.env.RENTGRID_BIN, web, 'drill');
    ({ origin, token } = site);
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await site?.stop();
  });

  /** Waits until the panel shows `key` (as `data-drill` says). */
  const shows = (page, key) =>
    page.waitForFunction((k) => document.documentElement.dataset.drill === k, key, { timeout: 20_000 }).catch(async (e) => {
      const now = await page.evaluate(() => document.documentElement.dataset.drill);
      throw new Error(`waiting for ${key}, the panel shows ${now}: ${await page.locator('.rg-drill').innerText().catch(() => '')}\n${e.message}`);
    });

  /** The breadcrumb: each place's level, the current one last. */
  const crumbs = (page) => page.locator('.rg-drill-crumbs li > [data-level]').evaluateAll((els) => els.map((e) => e.dataset.level));

  /** The KPI table: kpi → { value, target, estimate } as shown. */
  const kpis = (page) =>
    page.locator('.rg-drill-kpis tbody tr').evaluateAll((rows) =>
      Object.fromEntries(
        rows.map((r) => [
          r.dataset.kpi,
          { value: r.querySelector('.rg-value').textContent, target: r.querySelector('.rg-target').textContent, estimate: r.querySelector('.rg-drill-est')?.textContent ?? null },
        ]),
      ),
    );

  /** Clicks the map at (lon, lat) once the camera has stopped and the tiles there are drawn. */
  const clickMap = async (page, lngLat) => {
    await page.keyboard.press('Escape');
    await page.waitForFunction(() => !window.__rentgrid.map.isMoving() && window.__rentgrid.map.areTilesLoaded(), null, { timeout: 20_000 });
    const at = await page.evaluate((p) => {
      const map = window.__rentgrid.map;
      const box = map.getCanvas().getBoundingClientRect();
      const xy = map.project(p);
      return { x: box.left + xy.x, y: box.top + xy.y };
    }, lngLat);
    assert.ok(at.x > 460 && at.x < 1600 - 340 && at.y > 60 && at.y < 980, `the point is on the map, beside the panels: ${JSON.stringify(at)}`);
    await page.mouse.click(at.x, at.y);
  };

  const wholePct = (x) => `${Math.round(x * 100)}%`;

  /** The panel's row of `key`; a row past the first twelve is shown with the rest first. */
  const rowOf = async (page, key) => {
    const row = page.locator(`.rg-drill-children tr[data-place="${key}"]`);
    if ((await row.count()) === 0) await page.locator('.rg-drill-more').click();
    return row;
  };

  it('goes from the district to a household as the center, and a reload returns there', async () => {
    const page = await pageOf(DEMO.center, '/');
    // The grid to drill into: one with a household, away from the district's edge.
    const district = await api('/api/places/district');
    const grids = (await api('/api/grids')).features.map((f) => f.properties).filter((g) => g.persons > 20);
    const grid = grids[Math.floor(grids.length / 2)];
    const gridPlace = await api(`/api/places/grid:${grid.code}`);
    const building = gridPlace.grid_buildings.find((b) => b.persons > 0);
    const unit = (await api(`/api/buildings/${building.id}/units`)).units.find((u) => u.persons > 0);

    // The district, from the panel's button: its KPIs against the targets, the estimate beside them.
    await page.locator('.rg-drill-open').click();
    await shows(page, 'district');
    assert.deepEqual(await crumbs(page), ['district']);
    const k = await kpis(page);
    assert.equal(k.reg_rate.target, '≥90%');
    assert.equal(k.rental_rate.target, '≥95%');
    const row = (await api('/api/stats?level=district')).rows[0];
    assert.equal(k.reg_rate.value, `${(row.reg_rate * 100).toFixed(1)}%`);
    // The estimate, its verdict, and its 90% interval under them.
    const [e, lo, hi] = [row.reg_rate_est, row.reg_rate_est_low, row.reg_rate_est_high].map(wholePct);
    assert.match(k.reg_rate.estimate, new RegExp(`^${e}\\s*(达标|未达标|不确定)?\\s*${lo}–${hi}$`), k.reg_rate.estimate);
    assert.equal(await page.locator('.rg-drill-chart polyline[data-series="reg_rate"]').count(), 1, 'the trend is drawn');
    // The first twelve streets, and the rest on request.
    const streetRows = page.locator('.rg-drill-children tr[data-level="street"]');
    assert.ok(district.children.length > 12, `the demo district has ${district.children.length} streets`);
    assert.equal(await streetRows.count(), 12);
    assert.equal(await page.locator('.rg-drill-more').innerText(), `显示其余 ${district.children.length - 12} 行`);
    await page.locator('.rg-drill-more').click();
    assert.deepEqual(await streetRows.evaluateAll((rows) => rows.map((r) => r.dataset.place)), district.children.map((c) => `street:${c.code}`));
    assert.equal(await page.locator('.rg-drill-more').count(), 0);
    assert.match(page.url(), /[?&]place=district\b/);

    // A click on the map goes one level down: the street under the pointer.
    await clickMap(page, grid.label_point);
    await shows(page, `street:${grid.street_code}`);
    assert.deepEqual(await crumbs(page), ['district', 'street']);
    const street = (await api('/api/stats?level=street')).rows.find((r) => r.code === grid.street_code);
    assert.equal((await kpis(page)).reg_rate.value, `${(street.reg_rate * 100).toFixed(1)}%`);

    // A row of the panel: the community.
    await (await rowOf(page, `community:${grid.community_code}`)).click();
    await shows(page, `community:${grid.community_code}`);
    assert.deepEqual(await crumbs(page), ['district', 'street', 'community']);

    // The map again: the grid.
    await clickMap(page, grid.label_point);
    await shows(page, `grid:${grid.code}`);
    assert.deepEqual(await crumbs(page), ['district', 'street', 'community', 'grid']);
    assert.equal((await kpis(page)).rental_rate.target, '≥95%');

    // Its building, the building's rental unit, the unit's household.
    await (await rowOf(page, `building:${building.id}`)).click();
    await shows(page, `building:${building.id}`);
    assert.deepEqual(await crumbs(page), ['district', 'street', 'community', 'grid', 'building']);
    assert.equal((await kpis(page)).reg_rate.target, '≥90%');
    // Its own trend over the grid's months, ending at its registration rate today.
    const buildingTrend = await api(`/api/buildings/${building.id}/trend`);
    assert.deepEqual(buildingTrend.trend.map((p) => p.month), gridPlace.trend.map((p) => p.month));
    const trendBox = page.locator('.rg-drill-trend');
    assert.equal(await trendBox.locator('h4').innerText(), '走势（月末）');
    assert.equal(await trendBox.locator('polyline[data-series="reg_rate"]').count(), 1, 'the building’s trend is drawn');
    const points = (await trendBox.locator('polyline[data-series="reg_rate"]').getAttribute('points')).trim().split(' ');
    assert.equal(points.length, buildingTrend.trend.filter((p) => p.reg_rate !== null).length);
    assert.ok((await trendBox.locator('li[data-series="reg_rate"]').innerText()).includes(`${(building.persons_registered / building.persons * 100).toFixed(1)}%`));
    await (await rowOf(page, `unit:${unit.id}`)).click();
    await shows(page, `unit:${unit.id}`);
    // A unit shows its building's trend, said to be the building's.
    assert.equal(await page.locator('.rg-drill-trend h4').innerText(), '所在楼栋走势（月末）');
    assert.equal(await page.locator('.rg-drill-trend polyline[data-series="reg_rate"]').count(), 1);
    const household = page.locator('.rg-drill-children tr[data-level="household"]').first();
    const key = await household.getAttribute('data-place');
    await household.click();
    await shows(page, key);
    const levels = ['district', 'street', 'community', 'grid', 'building', 'unit', 'household'];
    assert.deepEqual(await crumbs(page), levels);
    const names = await page.locator('.rg-drill-children tbody tr td:first-child').allInnerTexts();
    assert.ok(names.length > 0 && names.every((n) => n.includes('*')), `persons masked: ${names}`);
    assert.ok((await page.locator('.rg-drill').innerText()).includes('已脱敏'), 'the panel says persons are masked');

    // The URL names the place: a reload returns to it, breadcrumb and all.
    assert.equal(new URL(page.url()).searchParams.get('place'), key);
    const title = await page.locator('.rg-drill-head h3').innerText();
    await page.reload();
    await shows(page, key);
    assert.deepEqual(await crumbs(page), levels);
    assert.equal(await page.locator('.rg-drill-head h3').innerText(), title);

    // The breadcrumb goes back up; Back returns to the household.
    await page.locator('.rg-drill-crumbs a[data-level="street"]').click();
    await shows(page, `street:${grid.street_code}`);
    await page.goBack();
    await shows(page, key);
    await page.context().close();
  });

  it('fits a drilled grid into the map above the panel on a phone', async () => {
    const grids = (await api('/api/grids')).features.map((f) => f.properties).filter((g) => g.persons > 20);
    const grid = grids[Math.floor(grids.length / 4)];
    const bbox = (await api(`/api/places/grid:${grid.code}`)).bbox;
    const page = await pageOf(DEMO.center, `/?place=grid:${grid.code}`, { viewport: { width: 390, height: 844 } });
    await shows(page, `grid:${grid.code}`);
    await page.waitForFunction(() => !window.__rentgrid.map.isMoving(), null, { timeout: 20_000 });
    const seen = await page.evaluate((b) => {
      const map = window.__rentgrid.map;
      const canvas = map.getCanvas().getBoundingClientRect();
      const [sw, ne] = [map.project([b[0], b[1]]), map.project([b[2], b[3]])];
      return {
        grid: { top: canvas.top + ne.y, bottom: canvas.top + sw.y, left: canvas.left + sw.x, right: canvas.left + ne.x },
        panelTop: document.querySelector('.rg-drill').getBoundingClientRect().top,
        mapTop: canvas.top,
      };
    }, bbox);
    // Wholly on the map above the panel, and not a speck there.
    const { grid: g, panelTop, mapTop } = seen;
    assert.ok(g.top >= mapTop && g.bottom <= panelTop && g.left >= 0 && g.right <= 390, `the grid ${JSON.stringify(seen)} lies above the panel`);
    assert.ok(Math.max(g.right - g.left, (g.bottom - g.top) * 2) > 150, `the grid is drawn large: ${JSON.stringify(seen)}`);
    await page.context().close();
  });

  it('opens a street from the leaders’ ranking and stops at the grid', async () => {
    const page = await pageOf(DEMO.leader, '/?view=leaders');
    const row = page.locator('.rg-ranking tr[data-place^="street:"]').first();
    await row.waitFor({ timeout: 20_000 });
    const key = await row.getAttribute('data-place');
    await row.click();
    await shows(page, key);
    assert.deepEqual(await crumbs(page), ['district', 'street']);
    const community = page.locator('.rg-drill-children tr[data-level="community"]').first();
    const ckey = await community.getAttribute('data-place');
    await community.click();
    await shows(page, ckey);
    const grid = page.locator('.rg-drill-children tr[data-level="grid"]').first();
    const gkey = await grid.getAttribute('data-place');
    await grid.click();
    await shows(page, gkey);
    assert.equal(await page.locator('.rg-drill-children tr[data-level="building"]').count(), 0, 'no building for a leader');
    assert.ok((await page.locator('.rg-drill').innerText()).includes('不含楼栋'), 'the panel says why');
    assert.equal(new URL(page.url()).searchParams.get('view'), 'leaders');
    await page.context().close();
    assert.deepEqual(problems, []);
  });

  it('fits a grid\'s KPI table in the panel on a phone, in both languages', async () => {
    const [grid] = (await api('/api/grids')).features.map((f) => f.properties).sort((a, b) => b.persons - a.persons);
    for (const lang of ['zh-CN', 'en']) {
      const page = await pageOf(DEMO.center, `/?place=grid:${grid.code}&lang=${lang}`, { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
      await shows(page, `grid:${grid.code}`);
      const fit = await page.evaluate(() => {
        const panel = document.querySelector('.rg-drill');
        const table = panel.querySelector('.rg-drill-kpis');
        // The narrowest indicator name: a name broken every two characters would be ~2 em wide.
        const names = [...table.querySelectorAll('tbody th')].map((th) => th.getBoundingClientRect().width);
        return { table: table.getBoundingClientRect().right, panel: panel.getBoundingClientRect().right, scroll: panel.scrollWidth - panel.clientWidth, name: Math.min(...names) };
      });
      assert.ok(fit.table <= fit.panel && fit.scroll === 0, `${lang}: the KPI table overflows its panel: ${JSON.stringify(fit)}`);
      assert.ok(fit.name >= 60, `${lang}: the indicators' names are ${fit.name} px wide`);
      await page.context().close();
    }
    assert.deepEqual(problems, []);
  });
});
