// The search box of the web map in headless Chromium against a real rentgrid server on a small demo
// city, as the command center: typed into, picked from by keyboard, the map flies to the place and
// opens its popup — a grid by its code, a street by its pinyin initials, a building by its survey id.
//
//   RENTGRID_BIN=target/debug/rentgrid RENTGRID_WEB=web-map/dist node --test tests/browser/search.test.mjs
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { collectProblems, DEMO, launchChromium, READY_TIMEOUT_MS, startDemoSite } from './harness.mjs';

const web = path.resolve(process.env.RENTGRID_WEB ?? path.join(import.meta.dirname, '../../web-map/dist'));

describe('the search box', () => {
  if (!process.env.RENTGRID_BIN || !existsSync(process.env.RENTGRID_BIN) || !existsSync(path.join(web, 'index.html'))) {
    // A failure, not a skip: a CI that forgot to build must not pass.
    it('has a server binary and a built web map', () => assert.fail('set RENTGRID_BIN to the built server and build web-map/dist'));
    return;
  }

  let site;
  let browser;
  let page;
  let origin;
  let token;
  const problems = [];
  const api = async (pathAndQuery) => {
    const response = await fetch(`${origin}${pathAndQuery}`, { headers: { Authorization: `Bearer ${token}` } });
    assert.equal(response.status, 200, `${pathAndQuery}: ${response.status}`);
    return response.json();
  };

  before(async () => {
    site = await startDemoSite(process.env.RENTGRID_BIN, web, 'search');
    ({ origin, token } = site);
    browser = await launchChromium();
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const login = await context.request.post(`${origin}/api/login`, { data: DEMO.center });
    assert.equal(login.status(), 200);
    page = await context.newPage();
    collectProblems(page, problems);
    await page.goto(`${site.url}/`);
    await page.waitForFunction(() => document.documentElement.dataset.ready === '1', null, { timeout: READY_TIMEOUT_MS });
  });

  after(async () => {
    await browser?.close();
    await site?.stop();
  });

  /**
   * Types `q` into the box, waits for a listed result of `kind` whose name is `name`, moves to it
   * with the arrow keys and picks it with Enter; resolves once the map has shown it.
   */
  const pickByKeyboard = async (q, kind, name, shownAs) => {
    const box = page.locator('.rg-search-input');
    await box.fill('');
    await box.pressSequentially(q);
    const wanted = page.locator(`.rg-search-result[data-kind="${kind}"]`, { has: page.locator('.rg-search-name', { hasText: name }) });
    await wanted.first().waitFor({ timeout: 10_000 });
    const options = page.locator('.rg-search-result');
    const names = await options.evaluateAll((items) => items.map((li) => `${li.dataset.kind}:${li.querySelector('.rg-search-name').textContent}`));
    const index = names.indexOf(`${kind}:${name}`);
    assert.ok(index >= 0, `${q}: ${names.join(', ')}`);
    assert.equal(await options.nth(0).getAttribute('aria-selected'), 'true', 'the first result is active');
    for (let i = 0; i < index; i++) await box.press('ArrowDown');
    assert.equal(await options.nth(index).getAttribute('aria-selected'), 'true');
    assert.equal(await box.getAttribute('aria-activedescendant'), await options.nth(index).getAttribute('id'));
    await box.press('Enter');
    await page.waitForFunction((s) => document.documentElement.dataset.searchShown === s, shownAs, { timeout: 20_000 });
    assert.equal(await page.locator('.rg-search-results').isHidden(), true, 'the list closes');
  };

  /** The map's view: whether it shows (lon, lat), its zoom, and the popup's text. */
  const view = (point) =>
    page.evaluate((p) => {
      const map = window.__rentgrid.map;
      return { shows: map.getBounds().contains(p), zoom: map.getZoom(), center: map.getCenter().toArray() };
    }, point);
  const selected = (source, id) =>
    page.evaluate(({ source, id }) => window.__rentgrid.map.getFeatureState({ source, sourceLayer: source, id })?.selected ?? false, { source, id });

  it('finds a grid by its code, flies there and opens its popup', async () => {
    const grids = (await api('/api/grids')).features.map((f) => f.properties);
    // A small grid far from the district's centre: the map must move to show it well.
    const grid = grids.filter((g) => g.persons > 0).sort((a, b) => a.area_km2 - b.area_km2)[0];
    const before = await view(grid.label_point);
    await pickByKeyboard(grid.code, 'grid', grid.name, `grid:${grid.id}`);
    const after = await view(grid.label_point);
    assert.ok(after.shows, 'the grid is on screen');
    assert.ok(after.zoom > before.zoom + 1, `zoomed in to the grid: ${before.zoom} → ${after.zoom}`);
    const popup = page.locator('.rg-popup');
    await popup.waitFor({ state: 'visible', timeout: 5_000 });
    assert.equal((await popup.locator('.rg-search-heading h3').innerText()).trim(), grid.name);
    // The grid's own section, as a click on it opens it, and the grid shown as selected.
    assert.equal((await popup.locator('.rg-grid-card h3').innerText()).trim(), grid.name);
    assert.equal(await selected('grids', grid.id), true);
    // Escape closes it.
    await page.keyboard.press('Escape');
    await popup.waitFor({ state: 'detached', timeout: 5_000 });
  });

  it('finds a street by its pinyin initials', async () => {
    const answer = await api(`/api/search?q=gljd`);
    const street = answer.results.find((r) => r.kind === 'street' && r.name === '鼓楼街道');
    assert.ok(street, JSON.stringify(answer));
    await pickByKeyboard('gljd', 'street', '鼓楼街道', `street:${street.code}`);
    const after = await view(street.point);
    assert.ok(after.shows, 'the street is on screen');
    const [minX, minY, maxX, maxY] = street.bbox;
    assert.ok((await view([minX, minY])).shows && (await view([maxX, maxY])).shows, `the whole street is on screen: ${street.bbox}`);
    const popup = page.locator('.rg-popup');
    await popup.waitFor({ state: 'visible', timeout: 5_000 });
    assert.equal((await popup.locator('.rg-search-heading h3').innerText()).trim(), '鼓楼街道');
    await page.keyboard.press('Escape');
  });

  it('finds a building by its survey id and opens its card', async () => {
    const grids = (await api('/api/grids')).features.map((f) => f.properties).filter((g) => g.buildings > 0);
    const grid = grids[Math.floor(grids.length / 2)];
    const [x, y] = grid.label_point;
    const d = 0.01;
    const buildings = (await api(`/api/buildings?bbox=${x - d},${y - d},${x + d},${y + d}`)).features;
    const id = buildings[0].properties.id;
    const found = (await api(`/api/search?q=${id}&kinds=building`)).results.find((r) => r.id === id);
    assert.ok(found, `building ${id} by its survey id`);
    await pickByKeyboard(found.code, 'building', found.name, `building:${id}`);
    const after = await view(found.point);
    assert.ok(after.shows && after.zoom >= 16.9, `zoomed in on the building: ${JSON.stringify(after)}`);
    const popup = page.locator('.rg-popup');
    await popup.waitFor({ state: 'visible', timeout: 5_000 });
    assert.equal((await popup.locator('.rg-search-heading h3').innerText()).trim(), found.name);
    await popup.locator('.rg-building-card').waitFor({ timeout: 5_000 });
    assert.equal(await selected('buildings', id), true, 'the building is shown as selected');
    await page.keyboard.press('Escape');
  });

  it('says when nothing is found, and Escape closes the list', async () => {
    const box = page.locator('.rg-search-input');
    await box.fill('没有这个地方');
    const status = page.locator('.rg-search-status');
    await status.waitFor({ state: 'visible', timeout: 10_000 });
    assert.equal((await status.innerText()).trim(), '没有找到');
    await box.press('Escape');
    await status.waitFor({ state: 'hidden', timeout: 5_000 });
    assert.deepEqual(problems, []);
  });
});
