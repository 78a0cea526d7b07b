// End-to-end test of the web map: a real rentgrid server on a small demo city, the built web map,
// headless Chromium (software WebGL) and a real mouse click.
//
//   RENTGRID_BIN=target/debug/rentgrid RENTGRID_WEB=web-map/dist node --test tests/browser/
//
// RENTGRID_BIN  the built server binary (required)
// RENTGRID_WEB  the built web map, `web-map/dist` (default: that folder in this repository)
// RENTGRID_SCREENSHOT  if set, a PNG of the map with a grid's popup open is saved there
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  busiestCaseworkerDay,
  collectProblems,
  DEMO,
  launchChromium,
  offlineCacheOf,
  outboxFlushSeconds,
  pendingOn,
  phoneOf as harnessPhoneOf,
  READY_TIMEOUT_MS,
  startDemoSite,
  zhMonth,
} from './harness.mjs';

/** The web map's `formatPct` (web-map/src/format.ts), so the test expects exactly what users see. */
const formatPct = (x) => (x === null ? '—' : (x * 100).toFixed(1) + '%');
/** A rate as the grid tiles carry it (4 decimals) and the popup's sentences say it (`79%`). */
const wholePct = (x) => `${Math.round((Math.round(x * 10_000) / 10_000) * 100)}%`;
/** The popup's words for a verdict on the estimated actual rate. */
const VERDICT_TEXT = { met: ['达标', 'met'], missed: ['未达标', 'missed'], uncertain: ['不确定', 'uncertain'] };

/** Where each role lands after signing in (the `view` of the page; '' for the full map). */
const LANDING = { center: '', leader: 'leaders', supervisor: 'coverage', caseworker: 'field', sysadmin: 'account', secadmin: 'account', auditor: 'account' };

const web = path.resolve(process.env.RENTGRID_WEB ?? path.join(import.meta.dirname, '../../web-map/dist'));

/** What is missing to run the test, or null. */
function missingSetup() {
  if (!process.env.RENTGRID_BIN) {
    return 'RENTGRID_BIN is not set: point it at the built server, e.g. RENTGRID_BIN=target/debug/rentgrid';
  }
  if (!existsSync(process.env.RENTGRID_BIN)) {
    return `RENTGRID_BIN=${process.env.RENTGRID_BIN} does not exist: build the server first (cargo build -p rentgrid-server)`;
  }
  if (!existsSync(path.join(web, 'index.html'))) {
    return `${web}/index.html is missing: build the web map (cd web-map && npm ci && npm run build) or set RENTGRID_WEB`;
  }
  return null;
}

describe('the web map', () => {
  const missing = missingSetup();
  if (missing) {
    // A failure, not a skip: a CI that forgot to build the server must not pass.
    it('has a server binary and a built web map', () => assert.fail(missing));
    return;
  }

  let server;
  let browser;
  let context;
  let page;
  let origin;
  /** The center's API token: the test's own requests, as a script would make them. */
  let token;
  /** `fetch` of an API path as the center (bearer token). */
  const api = (pathAndQuery, init = {}) =>
    fetch(`${origin}${pathAndQuery}`, { ...init, headers: { ...init.headers, Authorization: `Bearer ${token}` } });
  /** Signs a browser context in as `role` (the context's cookie jar keeps the session). */
  const signIn = async (ctx, role) => {
    const response = await ctx.request.post(`${origin}/api/login`, { data: DEMO[role] });
    assert.equal(response.status(), 200, await response.text());
    return response.json();
  };
  /**
   * A caseworker whose grids have buildings, signed in on a browser context of their own (their
   * phone): the context, its CSRF token, one of their buildings, its grid and the grid's label point.
   */
  const caseworkerWithABuilding = async () => {
    const built = new Set((await (await api(`/api/grids`)).json()).features.filter((f) => f.properties.buildings > 0).map((f) => f.properties.id));
    const areas = (await (await api(`/api/coverage`)).json()).features.filter((f) => f.properties.kind === 'area');
    const cw = areas.find((f) => f.properties.grids.some((g) => built.has(g)))?.properties.caseworker_id;
    assert.equal(typeof cw, 'number', 'no caseworker holds a grid with buildings');
    const phone = await browser.newContext();
    const login = await phone.request.post(`${origin}/api/login`, { data: { username: `cw${cw}`, password: `cw${cw}-demo-2026` } });
    assert.equal(login.status(), 200, await login.text());
    const { csrf } = await login.json();
    const district = await (await api(`/api/district`)).json();
    const theirs = await (await phone.request.get(`${origin}/api/buildings?bbox=${district.bbox.join(',')}&limit=1`)).json();
    assert.equal(theirs.features.length, 1, 'the caseworker has no building');
    const building = theirs.features[0];
    const grid = building.properties.grid_id;
    const grids = await (await phone.request.get(`${origin}/api/grids`)).json();
    const point = grids.features.find((f) => f.properties.id === grid).properties.label_point;
    return { phone, csrf, building, grid, point };
  };
  /** Visits recorded by [`visitRegisteringAUnit`], so each new unit has a label of its own. */
  let unitsAdded = 0;
  /** Records a visit to `building` from `phone` that registers one new rental unit. */
  const visitRegisteringAUnit = async (phone, csrf, building) => {
    unitsAdded += 1;
    const response = await phone.request.post(`${origin}/api/visits`, {
      headers: { 'X-CSRF-Token': csrf },
      data: {
        client_id: `00000000-0000-4000-8000-${String(Date.now()).slice(-12)}`,
        building_id: building.properties.id,
        new_units: [{ label: `9-9${String(unitsAdded).padStart(2, '0')}`, tenants: 2, registered: true }],
      },
    });
    assert.equal(response.status(), 201, await response.text());
  };
  /** Every URL the page (and its workers) requested. */
  const requests = [];
  /** Page errors, console errors and failed responses. */
  const problems = [];

  before(async () => {
    server = await startDemoSite(process.env.RENTGRID_BIN, web, 'browser');
    ({ origin, token } = server);
    browser = await launchChromium();
    context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    context.on('request', (request) => requests.push(request.url()));
    await signIn(context, 'center');
    page = await context.newPage();
    collectProblems(page, problems);

    await page.goto(`${server.url}/`);
    try {
      await page.waitForFunction(() => document.documentElement.dataset.ready === '1', null, { timeout: READY_TIMEOUT_MS });
    } catch (error) {
      throw new Error(`the map never became ready: ${error.message}\n${problems.join('\n')}`);
    }
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('shows the district in the title bar', async () => {
    const district = await (await api(`/api/district`)).json();
    const title = await page.locator('.rg-header h1').innerText();
    assert.equal(title.replace(/\s+/g, ' ').trim(), `rentgrid · ${district.name} 出租房屋与网格化管理`);
  });

  it('opens a popup with the KPIs of the grid that is clicked', async () => {
    const grids = await (await api(`/api/grids`)).json();
    // Largest grids first: the easiest to hit. Each candidate's label point is inside its polygon.
    const candidates = grids.features
      .filter((f) => f.properties.persons > 0)
      .sort((a, b) => b.properties.area_km2 - a.properties.area_km2)
      .map((f) => ({ id: f.properties.id, point: f.properties.label_point }));
    assert.ok(candidates.length > 0, 'the demo city has no grid with persons > 0');

    // The first candidate whose label point is on the map's canvas, not under the legend.
    const target = await page.evaluate((list) => {
      const map = window.__rentgrid.map;
      const canvas = map.getCanvas();
      const rect = canvas.getBoundingClientRect();
      for (const { id, point } of list) {
        const p = map.project(point);
        const x = rect.left + p.x;
        const y = rect.top + p.y;
        if (document.elementFromPoint(x, y) === canvas) return { id, x, y };
      }
      return null;
    }, candidates);
    assert.ok(target, 'no grid with persons > 0 has its label point on the visible map');
    const grid = grids.features.find((f) => f.properties.id === target.id).properties;

    await page.mouse.click(target.x, target.y);
    const popup = page.locator('.rg-popup');
    await popup.waitFor({ state: 'visible', timeout: 10_000 });
    // The card shows the tile's values at once and the grid's full record once it has arrived.
    await page.waitForFunction(
      () => {
        const places = document.querySelector('.rg-popup .rg-grid-card header p');
        return places !== null && !places.textContent.includes('…');
      },
      null,
      { timeout: 10_000 },
    );
    assert.equal((await popup.locator('.rg-grid-card h3').innerText()).trim(), grid.name);
    assert.equal(
      (await popup.locator('tr[data-kpi="reg_rate"] .rg-value').innerText()).trim(),
      formatPct(grid.reg_rate),
    );
    const text = await popup.innerText();
    assert.ok(text.includes(grid.name), `popup text lacks ${grid.name}:\n${text}`);
    assert.ok(text.includes(formatPct(grid.reg_rate)), `popup text lacks ${formatPct(grid.reg_rate)}:\n${text}`);
    // Beside the register's rate, the estimated actual one (over the recorded and the estimated
    // unrecorded) with its 90% interval and verdict, in plain words.
    const row = (await (await api(`/api/stats?level=grid`)).json()).rows.find((r) => r.grid_id === target.id);
    assert.ok(row.reg_rate_est !== null, `grid ${target.id} has no estimate: ${JSON.stringify(row)}`);
    assert.ok(row.reg_rate_est_low <= row.reg_rate_est && row.reg_rate_est <= row.reg_rate_est_high);
    const [est, low, high] = [row.reg_rate_est, row.reg_rate_est_low, row.reg_rate_est_high].map(wholePct);
    const estimate = popup.locator('.rg-estimate[data-kpi="reg_rate_est"]');
    assert.equal((await estimate.locator('.rg-estimate-text').innerText()).trim(), `估计实际登记率 ${est}（${low}–${high}）`);
    assert.equal((await estimate.locator('.rg-verdict').innerText()).trim(), VERDICT_TEXT[row.reg_rate_verdict][0]);
    assert.ok(text.includes(`估计实际登记率 ${est}（${low}–${high}）`), `popup text lacks the estimate:\n${text}`);

    if (process.env.RENTGRID_SCREENSHOT) await page.screenshot({ path: process.env.RENTGRID_SCREENSHOT });

    // The language switch redraws the open popup in English.
    await page.click('.rg-lang');
    await page.locator('.rg-popup th', { hasText: 'Migrant registration' }).waitFor({ timeout: 5_000 });
    assert.equal((await popup.locator('tr[data-kpi="reg_rate"] .rg-value').innerText()).trim(), formatPct(grid.reg_rate));
    assert.equal(
      (await estimate.locator('.rg-estimate-text').innerText()).trim(),
      `Estimated actual registration rate ${est} (${low}–${high})`,
    );
    assert.equal((await estimate.locator('.rg-verdict').innerText()).trim(), VERDICT_TEXT[row.reg_rate_verdict][1]);
    await page.click('.rg-lang');
    // Escape closes it, and the grid is no longer shown as selected.
    const selected = () =>
      page.evaluate(
        (id) => window.__rentgrid.map.getFeatureState({ source: 'grids', sourceLayer: 'grids', id })?.selected ?? false,
        target.id,
      );
    assert.equal(await selected(), true, 'the clicked grid is not shown as selected');
    await page.keyboard.press('Escape');
    await popup.waitFor({ state: 'detached', timeout: 5_000 });
    assert.equal(await selected(), false, 'the grid stays selected after Escape');
  });

  it('draws every layer from our vector tiles', async () => {
    const sources = await page.evaluate(() => window.__rentgrid.map.getStyle().sources);
    assert.ok(Object.keys(sources).length >= 4, `sources: ${Object.keys(sources)}`);
    for (const [id, source] of Object.entries(sources)) {
      // The open hazard cases are points from /api/hazards (at most 5,000, each with its case), and the
      // overdue visits a bounded list (at most 10,000 points) of /api/overdue: both drawn as GeoJSON.
      if (id === 'hazards' || id === 'overdue') {
        assert.equal(source.type, 'geojson');
        continue;
      }
      assert.equal(source.type, 'vector', `source ${id} is ${source.type}`);
      assert.match(source.url, new RegExp(`^${origin}/tiles/[a-z_]+\\.json$`), `source ${id}`);
    }
    // The grids drawn come from tiles, with their KPI properties.
    const grids = await page.evaluate(() =>
      window.__rentgrid.map.queryRenderedFeatures({ layers: ['grids-fill'] }).map((f) => ({ id: f.id, ...f.properties })),
    );
    assert.ok(grids.length > 0, 'no grid is drawn');
    for (const g of grids) {
      assert.ok(typeof g.id === 'number' && typeof g.reg_status === 'string' && typeof g.persons === 'number', JSON.stringify(g));
    }
    assert.ok(grids.some((g) => typeof g.reg_rate === 'number'), 'no drawn grid has a registration rate');
    const paths = requests.map((url) => new URL(url).pathname);
    for (const layer of ['grids', 'basemap', 'boundaries']) {
      assert.ok(paths.some((p) => p.startsWith(`/tiles/${layer}/`) && p.endsWith('.mvt')), `no ${layer} tile was requested`);
    }
    // No GeoJSON layer endpoints any more.
    assert.ok(!paths.some((p) => p === '/api/basemap' || p === '/api/grids' || p === '/api/buildings'), paths.join('\n'));
  });

  it('writes street, community and grid names by zoom with glyphs from its own server', async () => {
    const names = async (level) => new Map((await (await api(`/api/stats?level=${level}`)).json()).rows.map((r) => [r.code, r.name]));
    const [streets, communities] = [await names('street'), await names('community')];
    const grids = (await (await api('/api/grids')).json()).features.map((f) => f.properties);
    /** The names drawn now in a label layer (MapLibre returns only labels it placed, after collisions). */
    const drawn = (layer, timeout = 20_000) =>
      page
        .waitForFunction(
          (id) => {
            const map = window.__rentgrid.map;
            if (!map.loaded()) return null;
            const found = map.queryRenderedFeatures({ layers: [id] }).map((f) => ({ code: f.properties.code, name: f.properties.name }));
            return found.length > 0 ? found : null;
          },
          layer,
          { timeout },
        )
        .then((h) => h.jsonValue());
    const placedIn = (layer) => page.evaluate((id) => window.__rentgrid.map.queryRenderedFeatures({ layers: [id] }).length, layer);
    const jumpTo = (center, zoom) => page.evaluate(([c, z]) => window.__rentgrid.map.jumpTo({ center: c, zoom: z }), [center, zoom]);
    const district = await (await api('/api/district')).json();

    // The whole district: street names only, each street's own, none twice (no overlap drawn).
    await jumpTo(district.center, 10.5);
    const atDistrict = await drawn('labels-streets');
    for (const s of atDistrict) assert.equal(s.name, streets.get(s.code), JSON.stringify(s));
    assert.equal(new Set(atDistrict.map((s) => s.code)).size, atDistrict.length);
    assert.equal(await placedIn('labels-communities'), 0, 'community names below zoom 12');
    assert.equal(await placedIn('labels-grids'), 0, 'grid names below zoom 14');

    // Closer in: community names, then grid names with their codes.
    const grid = grids.filter((g) => g.persons > 0).sort((a, b) => b.area_km2 - a.area_km2)[0];
    await jumpTo(grid.label_point, 12.5);
    const atCommunities = await drawn('labels-communities');
    for (const c of atCommunities) assert.equal(c.name, communities.get(c.code), JSON.stringify(c));
    await jumpTo(grid.label_point, 15.5);
    const atGrids = await drawn('labels-grids');
    const byCode = new Map(grids.map((g) => [g.code, g.name]));
    for (const g of atGrids) assert.equal(g.name, byCode.get(g.code), JSON.stringify(g));

    // The glyphs, Chinese ones too, came from our own /fonts (the browser draws none itself).
    const glyphs = requests.map((u) => new URL(u)).filter((u) => u.pathname.startsWith('/fonts/'));
    assert.ok(glyphs.length > 0, 'no glyph range was requested');
    for (const u of glyphs) assert.match(decodeURIComponent(u.pathname), /^\/fonts\/Noto Sans CJK SC (Regular|Bold)\/\d+-\d+\.pbf$/);
    const range = (ch) => { const s = Math.floor(ch.codePointAt(0) / 256) * 256; return `${s}-${s + 255}`; };
    const first = atDistrict[0].name[0];
    assert.ok(glyphs.some((u) => u.pathname.endsWith(`/${range(first)}.pbf`)), `no glyphs of ${first} (${range(first)})`);
    // The legend lists the names layer with its own switch.
    await page.locator('.rg-legend-layer[data-layer="labels"] input[type=checkbox]').waitFor({ timeout: 5_000 });
  });

  it('draws building footprints from tiles when zoomed in', async () => {
    const district = await (await api(`/api/district`)).json();
    const some = await (await api(`/api/buildings?bbox=${district.bbox.join(',')}&limit=1`)).json();
    assert.equal(some.features.length, 1, 'the demo city has no buildings');
    const { geometry } = some.features[0];
    const ring = geometry.type === 'Polygon' ? geometry.coordinates[0] : geometry.coordinates[0][0];
    const centre = [0, 1].map((axis) => ring.reduce((sum, p) => sum + p[axis], 0) / ring.length);

    // Below the footprints' zoom, buildings are clusters: a click on one zooms in two levels.
    await page.evaluate((center) => window.__rentgrid.map.jumpTo({ center, zoom: 12 }), centre);
    const cluster = await page.waitForFunction(
      () => {
        const map = window.__rentgrid.map;
        const canvas = map.getCanvas();
        const rect = canvas.getBoundingClientRect();
        for (const f of map.queryRenderedFeatures({ layers: ['buildings-points'] })) {
          if (!(f.properties.point_count > 0)) continue;
          const p = map.project(f.geometry.coordinates);
          const [x, y] = [rect.left + p.x, rect.top + p.y];
          if (document.elementFromPoint(x, y) === canvas) return { x, y };
        }
        return null;
      },
      null,
      { timeout: 20_000 },
    );
    const { x, y } = await cluster.jsonValue();
    await page.mouse.click(x, y);
    await page.waitForFunction(() => window.__rentgrid.map.getZoom() > 13.9 && !window.__rentgrid.map.isMoving(), null, {
      timeout: 10_000,
    });
    await page.keyboard.press('Escape');

    const tileResponse = page.waitForResponse((r) => /^\/tiles\/buildings\/16\/\d+\/\d+\.mvt$/.test(new URL(r.url()).pathname));
    await page.evaluate((center) => window.__rentgrid.map.jumpTo({ center, zoom: 16 }), centre);
    const response = await tileResponse;
    assert.ok([200, 204].includes(response.status()), `buildings tile: HTTP ${response.status()}`);
    assert.equal(response.headers()['content-type'] ?? 'application/vnd.mapbox-vector-tile', 'application/vnd.mapbox-vector-tile');
    await page.waitForFunction(
      () => window.__rentgrid.map.queryRenderedFeatures({ layers: ['buildings-fill'] }).length > 0,
      null,
      { timeout: 20_000 },
    );
  });

  it('shows a recorded visit on the map without a reload', async () => {
    // A building drawn now, and its grid's rental units as the tiles say.
    const building = await page.evaluate(() => {
      const f = window.__rentgrid.map.queryRenderedFeatures({ layers: ['buildings-fill'] })[0];
      return { id: f.id, grid: f.properties.grid_id };
    });
    const unitsOnMap = (grid) =>
      page.evaluate(
        (g) => window.__rentgrid.map.querySourceFeatures('grids', { sourceLayer: 'grids' }).find((f) => f.id === g)?.properties.rental_units,
        grid,
      );
    const before = await unitsOnMap(building.grid);
    assert.equal(typeof before, 'number', `grid ${building.grid} is not in the loaded tiles`);
    const response = await api(`/api/visits`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({
        client_id: `browser-test-${Date.now()}`,
        building_id: building.id,
        new_units: [{ label: '9-909', tenants: 2, registered: true }],
      }),
    });
    assert.equal(response.status, 201, await response.text());
    // What the 30-second timer does, at once.
    await page.evaluate(() => window.__rentgrid.checkForUpdates());
    await page.waitForFunction(
      ({ grid, units }) =>
        window.__rentgrid.map.querySourceFeatures('grids', { sourceLayer: 'grids' }).some((f) => f.id === grid && f.properties.rental_units === units),
      { grid: building.grid, units: before + 1 },
      { timeout: 20_000 },
    );
  });

  it('shows a visit recorded through the API on the open map within 2 s, pushed by the server', async () => {
    const { phone, csrf, building, grid, point } = await caseworkerWithABuilding();

    // The command center's map, open on that grid, with its stream of changes up.
    await page.evaluate((center) => window.__rentgrid.map.jumpTo({ center, zoom: 14 }), point);
    const unitsOnMap = (g) =>
      page.evaluate(
        (id) => window.__rentgrid.map.querySourceFeatures('grids', { sourceLayer: 'grids' }).find((f) => f.id === id)?.properties.rental_units,
        g,
      );
    await page.waitForFunction(
      (id) => {
        const map = window.__rentgrid.map;
        return map.isSourceLoaded('grids') && map.querySourceFeatures('grids', { sourceLayer: 'grids' }).some((f) => f.id === id);
      },
      grid,
      { timeout: 20_000 },
    );
    await page.waitForFunction(() => document.documentElement.dataset.live === '1', null, { timeout: 20_000 });
    const before = await unitsOnMap(grid);
    assert.equal(typeof before, 'number', `grid ${grid} is not in the loaded tiles`);
    // Marks this page: a reload would lose the mark.
    await page.evaluate(() => (window.__notReloaded = true));

    await visitRegisteringAUnit(phone, csrf, building);
    // No checkForUpdates, no reload: the server's event alone brings the grid's new count.
    await page.waitForFunction(
      ({ id, units }) =>
        window.__rentgrid.map.querySourceFeatures('grids', { sourceLayer: 'grids' }).some((f) => f.id === id && f.properties.rental_units === units),
      { id: grid, units: before + 1 },
      { timeout: 2_000 },
    );
    assert.equal(await page.evaluate(() => window.__notReloaded), true, 'the page was reloaded');
    await phone.close();
  });

  it('opens the big screen: its cards equal /api/stats and /api/summary, and a visit shows on them within 2 s', async () => {
    const screen = await context.newPage();
    screen.on('pageerror', (error) => problems.push(`big screen page error: ${error.stack ?? error.message}`));
    await screen.setViewportSize({ width: 1600, height: 1000 });
    await screen.goto(`${server.url}/?view=screen`);
    await screen.waitForFunction(() => document.documentElement.dataset.ready === '1' && document.documentElement.dataset.live === '1', null, {
      timeout: READY_TIMEOUT_MS,
    });
    const value = (card) => screen.locator(`.rg-card[data-card="${card}"] .rg-card-value`).innerText();
    /** The cards against the district's row of /api/stats and the summary at the same version. */
    const checkCards = async () => {
      const version = Number(await screen.locator('.rg-screen').getAttribute('data-version'));
      const summary = await (await api(`/api/summary`)).json();
      assert.equal(summary.version, version, 'the screen shows another data version than the API');
      const [district] = (await (await api(`/api/stats?level=district`)).json()).rows;
      for (const k of ['reg_rate', 'rental_rate', 'permit_rate', 'pledge_rate']) {
        assert.equal(await value(k), formatPct(district[k]), `card ${k}`);
        assert.equal(summary.kpi[k], district[k], `summary ${k}`);
      }
      const est = screen.locator('.rg-card[data-card="reg_rate"] .rg-estimate');
      const [e, lo, hi] = [district.reg_rate_est, district.reg_rate_est_low, district.reg_rate_est_high].map(wholePct);
      assert.ok((await est.innerText()).startsWith(`估计实际 ${e}（${lo}–${hi}）`), await est.innerText());
      assert.equal(await value('visits'), String(summary.today.visits));
      assert.equal(await value('units'), String(summary.today.units_registered));
      assert.equal(await value('hazards'), String(summary.hazards_open));
      return summary;
    };
    const before = await checkCards();
    // A month-by-month chart, the streets ranked as /api/stats lists them, the latest visits.
    assert.ok(before.trend.length >= 2, 'the demo history has fewer than 2 months');
    assert.equal(await screen.locator('.rg-screen-chart canvas').count(), 1);
    const streets = (await (await api(`/api/stats?level=street`)).json()).rows;
    assert.equal(await screen.locator('.rg-screen-ranking li').count(), streets.length);
    assert.equal(await screen.locator('.rg-feed li').count(), before.recent.length);

    // A caseworker records a visit that registers a unit: the cards follow within 2 s, pushed.
    const { phone, csrf, building } = await caseworkerWithABuilding();
    await visitRegisteringAUnit(phone, csrf, building);
    await screen.waitForFunction(
      (n) => document.querySelector('.rg-card[data-card="visits"] .rg-card-value')?.textContent === String(n),
      before.today.visits + 1,
      { timeout: 2_000 },
    );
    const after = await checkCards();
    assert.equal(after.today.units_registered, before.today.units_registered + 1);
    assert.equal(after.recent[0].building_id, building.properties.id, 'the newest visit is not first in the feed');
    assert.equal(await screen.locator('.rg-feed li').first().getAttribute('data-visit'), String(after.recent[0].id));
    await phone.close();

    /** Where the title, the legend and the map are on `page`, and whether the title is cut. */
    const layout = (page) =>
      page.evaluate(() => {
        const box = (sel) => {
          const r = document.querySelector(sel).getBoundingClientRect();
          return { left: r.left, top: r.top, right: r.right, bottom: r.bottom, area: r.width * r.height };
        };
        const h1 = document.querySelector('.rg-header h1');
        return { legend: box('.rg-legend'), map: box('.rg-map'), cut: h1.scrollWidth > h1.clientWidth, open: document.querySelector('.rg-legend').dataset.open };
      });
    // The legend is compact over the map between the panels; the English title is not cut.
    await screen.goto(`${server.url}/?view=screen&lang=en`);
    await screen.waitForFunction(() => document.documentElement.dataset.ready === '1', null, { timeout: READY_TIMEOUT_MS });
    const wide = await layout(screen);
    assert.ok(wide.legend.left >= wide.map.left && wide.legend.right <= wide.map.right, JSON.stringify(wide));
    assert.ok(wide.legend.area <= 0.15 * wide.map.area, `the legend covers ${Math.round((100 * wide.legend.area) / wide.map.area)}% of the map`);
    assert.equal(wide.cut, false, 'the title is cut');
    await screen.close();
    // On a phone the big screen has its legend too, folded, over the map.
    const small = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, storageState: await context.storageState() });
    const onPhone = await small.newPage();
    await onPhone.goto(`${server.url}/?view=screen`);
    await onPhone.waitForFunction(() => document.documentElement.dataset.ready === '1', null, { timeout: READY_TIMEOUT_MS });
    const folded = await layout(onPhone);
    assert.equal(folded.open, '0');
    assert.ok(folded.legend.area > 0 && folded.legend.left >= 0 && folded.legend.right <= 390 && folded.legend.bottom <= folded.map.bottom, JSON.stringify(folded));
    await small.close();
  });

  it('shows a hazard recorded through the API on the open map\'s hazards layer within 2 s, pushed by the server', async () => {
    /** The ids of the cases the open map's hazards layer holds now. */
    const onMap = () =>
      page.evaluate(async () => {
        const source = window.__rentgrid.map.getSource('hazards');
        return source ? ((await source.getData()).features ?? []).map((f) => f.properties.id) : null;
      });
    await page.waitForFunction(() => document.documentElement.dataset.live === '1', null, { timeout: 20_000 });
    assert.ok(Array.isArray(await onMap()), 'the map has no hazards layer');
    // Marks this page: a reload would lose the mark.
    await page.evaluate(() => (window.__notReloaded = true));

    const district = await (await api('/api/district')).json();
    const [building] = (await (await api(`/api/buildings?bbox=${district.bbox.join(',')}&limit=1`)).json()).features;
    const recorded = await api(`/api/buildings/${building.properties.id}/hazards`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ client_id: `push-hazard-${Date.now()}`, kind: 'gas', severity: 'major', note: '推送测试' }),
    });
    assert.equal(recorded.status, 201, await recorded.clone().text());
    const { id } = (await recorded.json()).hazard;
    // No checkForUpdates, no reload: the server's event alone has the layer read its cases again.
    // (Polled from here: the source's data is read asynchronously, which waitForFunction does not wait for.)
    const deadline = Date.now() + 2_000;
    while (!(await onMap()).includes(id)) {
      assert.ok(Date.now() < deadline, `hazard ${id} is not on the open map 2 s after it was recorded`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.equal(await page.evaluate(() => window.__notReloaded), true, 'the page was reloaded');
  });

  it('shows overdue visits (逾期未走访) with a legend, their count as the API says, a popup, and a caseworker\'s part on a click', async () => {
    const map = () => window.__rentgrid.map;
    const legend = page.locator('.rg-legend-layer[data-layer="overdue"]');
    const zh = (n) => n.toLocaleString('zh-CN');
    // The map re-reads the list when the data changed (a visit recorded above): then it counts as the API does.
    await page.evaluate(() => window.__rentgrid.checkForUpdates());
    const all = await (await api('/api/overdue?limit=10000')).json();
    assert.ok(all.number_matched > 0 && all.caseworkers.length > 1, `the demo city has overdue buildings: ${all.number_matched}`);
    await legend.locator('.rg-legend-status', { hasText: `共 ${zh(all.number_matched)} 栋` }).waitFor({ timeout: 10_000 });
    const text = await legend.innerText();
    for (const word of ['逾期未走访', '从未走访', '超期一倍以上', '超过期限']) assert.ok(text.includes(word), `legend lacks ${word}:\n${text}`);
    // A point per building of the list, coloured by how overdue it is.
    const data = await page.evaluate(async () => (await window.__rentgrid.map.getSource('overdue').getData()).features.map((f) => [f.id, f.properties.level]));
    assert.equal(data.length, all.buildings.length);
    const level = (b) => (b.days_since === null ? 'never' : b.days_since > 2 * b.limit_days ? 'double' : 'over');
    assert.deepEqual(new Map(data), new Map(all.buildings.map((b) => [b.building_id, level(b)])));

    // Clicked, a point says where it is and how overdue.
    const b = all.buildings.find((x) => x.days_since !== null) ?? all.buildings[0];
    await page.evaluate(({ lon, lat }) => window.__rentgrid.map.jumpTo({ center: [lon, lat], zoom: 18 }), b);
    await page.waitForFunction((id) => window.__rentgrid.map.queryRenderedFeatures({ layers: ['overdue-circles'] }).some((f) => f.id === id), b.building_id, { timeout: 20_000 });
    const at = await page.evaluate(({ lon, lat }) => {
      const rect = window.__rentgrid.map.getCanvas().getBoundingClientRect();
      const p = window.__rentgrid.map.project([lon, lat]);
      return { x: rect.left + p.x, y: rect.top + p.y };
    }, b);
    await page.mouse.click(at.x, at.y);
    const card = page.locator(`.rg-popup .rg-overdue-card[data-building="${b.building_id}"]`);
    await card.waitFor({ timeout: 10_000 });
    const said = await card.innerText();
    assert.ok(said.includes(b.address) && said.includes(`网格 ${b.grid_code}`), said);
    assert.ok(said.includes(b.days_since === null ? '从未走访' : `上次走访 ${b.last_visit}，距今 ${b.days_since} 天`), said);
    assert.ok(said.includes(`期限 ${b.limit_days} 天`), said);
    await page.keyboard.press('Escape');

    // The panel lists the caseworkers with their counts; a click shows one caseworker's part.
    const cw = all.caseworkers[1];
    const button = page.locator(`.rg-overdue-cw[data-caseworker="${cw.caseworker_id}"]`);
    assert.ok((await button.innerText()).includes(cw.name));
    await button.click();
    const theirs = await (await api(`/api/overdue?caseworker=${cw.caseworker_id}&limit=10000`)).json();
    assert.equal(theirs.number_matched, cw.overdue);
    await legend.locator('.rg-legend-status', { hasText: `${cw.name}：共 ${zh(theirs.number_matched)} 栋` }).waitFor({ timeout: 10_000 });
    const shown = await page.evaluate(async () => (await window.__rentgrid.map.getSource('overdue').getData()).features.map((f) => f.id).sort((x, y) => x - y));
    assert.deepEqual(shown, theirs.buildings.map((x) => x.building_id).sort((x, y) => x - y));
    await page.locator('.rg-overdue-cw[data-caseworker=""]').click();
    await legend.locator('.rg-legend-status', { hasText: `共 ${zh(all.number_matched)} 栋` }).waitFor({ timeout: 10_000 });

    // The panel lists the eight most overdue first; "more" adds eight, and a name finds anyone.
    assert.ok(all.caseworkers.length > 16, `the demo city has ${all.caseworkers.length} caseworkers with overdue buildings`);
    const listed = async () => page.locator('.rg-overdue-cw[data-caseworker]:not([data-caseworker=""])').evaluateAll((bs) => bs.map((b) => Number(b.dataset.caseworker)));
    assert.deepEqual(await listed(), all.caseworkers.slice(0, 8).map((c) => c.caseworker_id));
    await page.locator('.rg-overdue-more').click();
    assert.deepEqual(await listed(), all.caseworkers.slice(0, 16).map((c) => c.caseworker_id));
    const last = all.caseworkers[all.caseworkers.length - 1];
    await page.locator('.rg-overdue-find').fill(last.name);
    assert.ok((await listed()).includes(last.caseworker_id), `${last.name} is found by name`);
    assert.ok((await listed()).every((id) => all.caseworkers.find((c) => c.caseworker_id === id).name.includes(last.name)));
    await page.locator('.rg-overdue-find').fill('');
    assert.deepEqual(await listed(), all.caseworkers.slice(0, 8).map((c) => c.caseworker_id));

    // Toggled off like any layer: the points and the panel go.
    await legend.locator('input[type=checkbox]').uncheck();
    assert.equal(await page.evaluate(() => window.__rentgrid.map.getLayoutProperty('overdue-circles', 'visibility')), 'none');
    assert.ok(await page.locator('.rg-overdue-panel').isHidden());
    await page.locator('.rg-legend-layer[data-layer="overdue"] input[type=checkbox]').check();
    assert.ok(await page.locator('.rg-overdue-panel').isVisible());
  });

  it('opens the leaders\' view: heat and hot spots, a legend that explains confidence, a month slider, aggregates only', async () => {
    const leaders = await context.newPage();
    /** What the leaders' page requested (the context also logs it for the origin check below). */
    const asked = [];
    leaders.on('request', (request) => asked.push(new URL(request.url())));
    leaders.on('pageerror', (error) => problems.push(`leaders page error: ${error.stack ?? error.message}`));
    leaders.on('console', (message) => {
      if (message.type() === 'error') problems.push(`leaders console error: ${message.text()}`);
    });
    await leaders.goto(`${server.url}/?view=leaders`);
    await leaders.waitForFunction(() => document.documentElement.dataset.ready === '1', null, { timeout: READY_TIMEOUT_MS });

    // The legend says what confidence and FDR mean, in one line each.
    const legend = await leaders.locator('.rg-legend').innerText();
    assert.match(legend, /置信度：.*99%\/95%\/90%/, legend);
    assert.match(legend, /FDR：.*Benjamini–Hochberg/, legend);
    assert.match(legend, /热点 99% 置信度/);
    assert.match(legend, /核密度/);

    // The slider holds the server's months and starts at the latest.
    const hot = await (await api(`/api/hotspots?metric=unregistered_per_km2`)).json();
    const months = hot.description.months_available;
    assert.ok(months.length >= 12, `months: ${months}`);
    const panel = leaders.locator('.rg-leaders');
    assert.equal(await panel.getAttribute('data-month'), months.at(-1));
    // The latest month is the current one, unfinished: it is today's register, said so.
    assert.equal(await leaders.locator('.rg-month').innerText(), `${zhMonth(months.at(-1))}，截至今日`);
    // The latest month is today's register: its ranking shows each rate two ways, the estimated
    // actual one with its 90% interval and verdict.
    await leaders.waitForFunction((m) => document.querySelector('.rg-rankings')?.dataset.month === m, months.at(-1), { timeout: 20_000 });
    const estimates = await leaders.locator('.rg-ranking').first().locator('td.rg-estimate').allInnerTexts();
    assert.ok(estimates.length > 0, 'the ranking shows no estimated actual rate');
    for (const cell of estimates) assert.match(cell, /^\d+%\s*(达标|未达标|不确定)\s+\d+%–\d+%$/, cell);
    // Moving it (by keyboard, as a user can) redraws the hot spots of the first month.
    const answered = leaders.waitForResponse((r) => r.url().includes('/api/hotspots') && r.url().includes(`month=${months[0]}`));
    await leaders.focus('.rg-month-slider');
    await leaders.keyboard.press('Home');
    assert.equal((await answered).status(), 200);
    await leaders.waitForFunction((m) => document.querySelector('.rg-leaders')?.dataset.shown === m, months[0], { timeout: 20_000 });
        // A past month is named by its end, in the slider and the ranking's heading alike.
    assert.equal(await leaders.locator('.rg-month').innerText(), `${zhMonth(months[0])}末`);
    assert.equal(await leaders.locator('.rg-leaders .rg-ranking-title').innerText(), `目标考核排名（${zhMonth(months[0])}末）`);
    const drawn = await leaders.evaluate(() => window.__rentgrid.map.queryRenderedFeatures({ layers: ['hotspots-fill'] }).length);
    assert.ok(drawn > 0, 'no hot-spot grid is drawn');

    // Choosing another metric keeps it chosen and redraws the hot spots of that metric.
    const other = await leaders.evaluate(() => {
      const select = document.querySelector('.rg-metric');
      return [...select.options].map((o) => o.value).find((v) => v !== select.value);
    });
    const redrawn = leaders.waitForResponse((r) => r.url().includes('/api/hotspots') && r.url().includes(`metric=${other}`));
    await leaders.selectOption('.rg-metric', other);
    assert.equal((await redrawn).status(), 200);
    await leaders.waitForFunction((m) => document.querySelector('.rg-leaders')?.dataset.shownMetric === m, other, { timeout: 20_000 });
    assert.equal(await leaders.locator('.rg-metric').inputValue(), other, 'the metric selector snapped back');
    assert.ok((await leaders.locator('.rg-report-link').getAttribute('href')).includes(`metric=${other}`));
    // A hot spot's popup says what it is in plain words; the statistics wait behind a toggle.
    const spot = await leaders.evaluate(() => {
      const map = window.__rentgrid.map;
      const canvas = map.getCanvas();
      const rect = canvas.getBoundingClientRect();
      for (const f of map.queryRenderedFeatures({ layers: ['hotspots-fill'] })) {
        if (typeof f.state.z !== 'number') continue;
        for (const [dx, dy] of [[0.5, 0.5], [0.3, 0.3], [0.7, 0.7]]) {
          const [x, y] = [rect.left + rect.width * dx, rect.top + rect.height * dy];
          const here = map.queryRenderedFeatures([x - rect.left, y - rect.top], { layers: ['hotspots-fill'] })[0];
          if (here && typeof here.state.z === 'number' && document.elementFromPoint(x, y) === canvas) return { x, y };
        }
      }
      return null;
    });
    assert.ok(spot, 'no analysed grid under the sampled points');
    await leaders.mouse.click(spot.x, spot.y);
    const card = leaders.locator('.rg-hotspot-card');
    await card.waitFor({ state: 'visible', timeout: 10_000 });
    const plain = await card.innerText();
    assert.match(plain, /(热|冷)点 \d+% 置信度|不显著/, plain);
    assert.ok(!/z = /.test(plain), `the statistics are shown unasked: ${plain}`);
    await card.locator('.rg-stats summary').click();
    assert.match(await card.innerText(), /z = -?\d+\.\d\d, p (<|=) 0\.\d{3}/);
    await leaders.keyboard.press('Escape');

    // The ranking follows the slider: it lists every street as at the end of the first month.
    await leaders.waitForFunction((m) => document.querySelector('.rg-rankings')?.dataset.month === m, months[0], { timeout: 20_000 });
    const streets = (await (await api(`/api/stats?level=street&month=${months[0]}`)).json()).rows;
    const rows = leaders.locator('.rg-ranking').first().locator('tbody tr');
    assert.equal(await rows.count(), streets.length);
    const shownPersons = (await leaders.locator('.rg-ranking').first().locator('tbody tr td:nth-child(3)').allInnerTexts())
      .map((c) => (c === '<5' ? 0 : Number(c.replace(/,/g, ''))));
    const wantPersons = streets.map((r) => (r.persons < 5 ? 0 : r.persons)).sort((a, b) => a - b);
    assert.deepEqual([...shownPersons].sort((a, b) => a - b), wantPersons);
    // Each rate two ways: the register's and the estimated actual one (none for a past month).
    // Short column headings; each one's full text is its tooltip.
    const heads = await leaders.locator('.rg-ranking').first().locator('thead abbr').evaluateAll((a) => a.map((e) => e.title).join(' | '));
    assert.ok(heads.includes('估计实际登记率'), heads);
    // Small counts are suppressed.
    for (const cell of await leaders.locator('.rg-ranking tbody tr td:nth-child(3)').allInnerTexts()) {
      assert.ok(cell === '<5' || Number(cell.replace(/,/g, '')) >= 5, `count ${cell} shown`);
    }

    // Heat tiles came from the server; no request of this view can return person-level data.
    assert.ok(asked.some((u) => /^\/tiles\/heat\/\d+\/\d+\/\d+\.mvt$/.test(u.pathname)), 'no heat tile was requested');
    const allowed = [
      /^\/api\/district$/,
      /^\/api\/me$/,
      // The basemaps on offer (the offline one only, without a Tianditu key).
      /^\/api\/map-config$/,
      /^\/api\/hotspots$/,
      /^\/api\/stats$/,
      // The data's changes: versions, grids and tiles (for a leader none of single buildings).
      /^\/api\/events$/,
      /^\/health$/,
      // The grids' outlines, which the hot spots colour (aggregates, small counts suppressed).
      /^\/tiles\/(basemap|boundaries|heat|grids)\.json$/,
      /^\/tiles\/(basemap|boundaries|heat|grids)\/\d+\/\d+\/\d+\.mvt$/,
    ];
    for (const u of asked.filter((u) => u.origin === origin && /^\/(api|tiles|health)/.test(u.pathname))) {
      assert.ok(allowed.some((re) => re.test(u.pathname)), `the leaders' view requested ${u.pathname}${u.search}`);
      if (u.pathname === '/api/stats') assert.match(u.search, /level=(street|community)/);
    }

    // The printable monthly report: a snapshot of the map and the table, for the month chosen.
    const href = await leaders.locator('.rg-report-link').getAttribute('href');
    assert.ok(href.includes(`month=${months[0]}`), href);
    const report = await context.newPage();
    report.on('pageerror', (error) => problems.push(`report page error: ${error.stack ?? error.message}`));
    await report.goto(new URL(href, `${server.url}/`).href);
    await report.waitForFunction(() => document.documentElement.dataset.ready === '1', null, { timeout: READY_TIMEOUT_MS });
    assert.match(await report.locator('.rg-report-snapshot').getAttribute('src'), /^data:image\/png;base64,/);
    assert.ok((await report.locator('.rg-report-head').innerText()).includes(months[0]));
    assert.equal(await report.locator('.rg-ranking').first().locator('tbody tr').count(), streets.length);
    await report.close();
    await leaders.close();
  });

  it('opens the coverage view: areas per caseworker with loads, uncovered grids hatched, a proposal beside today, accepted', async () => {
    const page = await context.newPage();
    page.on('pageerror', (error) => problems.push(`coverage page error: ${error.stack ?? error.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(`coverage console error: ${message.text()}`);
    });
    await page.goto(`${server.url}/?view=coverage`);
    await page.waitForFunction(() => document.documentElement.dataset.ready === '1', null, { timeout: READY_TIMEOUT_MS });
    const legend = await page.locator('.rg-legend').innerText();
    assert.match(legend, /包干区 · 综管员负荷/, legend);
    assert.match(legend, /超负荷/);
    assert.match(legend, /无人包干的网格/);
    const drawn = await page.evaluate(() => window.__rentgrid.map.queryRenderedFeatures({ layers: ['coverage-fill'] }).length);
    assert.ok(drawn > 0, 'no contracted area is drawn');
    assert.ok(await page.evaluate(() => window.__rentgrid.map.hasImage('rg-hatch')), 'the hatch pattern is missing');

    // The street with the largest team: propose, see the figures, switch to today and back, accept.
    const coverage = await (await api(`/api/coverage`)).json();
    const teams = new Map();
    for (const f of coverage.features.filter((f) => f.properties.kind === 'area')) {
      teams.set(f.properties.street_code, (teams.get(f.properties.street_code) ?? 0) + 1);
    }
    const [street] = [...teams.entries()].sort((a, b) => b[1] - a[1])[0];
    await page.selectOption('.rg-cov-street', street);
    await page.click('.rg-cov-propose');
    await page.waitForFunction(() => document.querySelector('.rg-coverage')?.dataset.proposal, null, { timeout: 60_000 });
    const id = await page.locator('.rg-coverage').getAttribute('data-proposal');
    assert.equal(await page.locator('.rg-cov-quality tbody tr').count(), 4);
    assert.match(await page.locator('.rg-legend').innerText(), /调整方案/);
    await page.click('.rg-cov-show-today');
    assert.match(await page.locator('.rg-legend').innerText(), /综管员负荷/);
    await page.click('.rg-cov-show-proposed');
    await page.fill('.rg-cov-by', '王主任');
    await page.click('.rg-cov-accept');
    await page.waitForFunction((i) => document.querySelector('.rg-coverage')?.dataset.accepted === i, id, { timeout: 30_000 });
    const stored = await (await api(`/api/territory/proposals/${id}`)).json();
    assert.equal(stored.status, 'accepted');
    assert.equal(stored.accepted_by, '王主任');
    await page.close();
  });

  it('shows a sweep campaign by phase with the day\'s routes and candidates, and records visits from the phone view', async () => {
    const ready = () => document.documentElement.dataset.ready === '1';
    const stats = await (await api(`/api/stats?level=grid`)).json();
    const weakest = stats.rows
      .filter((r) => typeof r.reg_rate === 'number')
      .sort((a, b) => a.reg_rate - b.reg_rate || a.grid_id - b.grid_id)[0].grid_id;
    const created = await api(`/api/campaigns`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ grids: [weakest], caseworkers: [0, 1], start_date: '2026-09-07', working_days: 260, buildings_per_day: 6 }),
    });
    assert.equal(created.status, 201, await created.clone().text());
    const campaign = await created.json();
    const day = campaign.plan.days[0];
    const cw = day.assignments[0].caseworker_id;

    // The campaign map: blocks numbered in order and coloured by phase, the day's stops numbered.
    const map = await context.newPage();
    map.on('pageerror', (error) => problems.push(`campaign page error: ${error.stack ?? error.message}`));
    await map.goto(`${server.url}/?view=campaign&campaign=${campaign.id}&date=${day.date}`);
    await map.waitForFunction(ready, null, { timeout: READY_TIMEOUT_MS });
    const legend = await map.locator('.rg-legend').innerText();
    for (const word of ['未开始', '排查', '清理', '整治', '巩固', '当日走访路线', '疑似未登记出租楼栋']) {
      assert.ok(legend.includes(word), `legend lacks ${word}:\n${legend}`);
    }
    assert.equal(await map.locator('.rg-block-number').count(), campaign.plan.blocks.length);
    const stopsToday = day.assignments.reduce((n, a) => n + a.buildings.length, 0);
    assert.equal(await map.locator('.rg-stop-number').count(), stopsToday);
    // Zoomed out, no number covers another: one that would is left out until the map is zoomed in.
    await map.evaluate(() => {
      const m = window.__rentgrid.map;
      m.jumpTo({ zoom: m.getZoom() - 3 });
    });
    await map.waitForFunction(() => document.querySelectorAll('.rg-hidden-label').length > 0, null, { timeout: 10_000 });
    const overlaps = await map.evaluate(() => {
      const shown = [...document.querySelectorAll('.rg-stop-number, .rg-block-number')]
        .filter((e) => !e.classList.contains('rg-hidden-label'))
        .map((e) => e.getBoundingClientRect());
      return shown.flatMap((a, i) => shown.slice(i + 1).filter((b) => a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom)).length;
    });
    assert.equal(overlaps, 0, 'stop or block numbers overlap');
    const candidates = await map.evaluate(() => window.__rentgrid.map.querySourceFeatures('candidates').length);
    assert.ok(candidates > 0, 'no candidate building on the map');
    await map.close();

    // The phone view lists the caseworker's stops in walking order.
    const phone = await context.newPage();
    phone.on('pageerror', (error) => problems.push(`field page error: ${error.stack ?? error.message}`));
    await phone.setViewportSize({ width: 390, height: 844 });
    await phone.goto(`${server.url}/?view=field&campaign=${campaign.id}&date=${day.date}&caseworker=${cw}`);
    await phone.waitForFunction(ready, null, { timeout: READY_TIMEOUT_MS });
    const routes = await (await api(`/api/campaigns/${campaign.id}/routes?date=${day.date}`)).json();
    const order = routes.features
      .filter((f) => f.properties.kind === 'stop' && f.properties.caseworker_id === cw)
      .sort((a, b) => a.properties.order - b.properties.order)
      .map((f) => String(f.properties.building_id));
    const stops = phone.locator('.rg-field-stop');
    assert.deepEqual(await stops.evaluateAll((els) => els.map((e) => e.dataset.building)), order);

    // One tap records a visit; the form records what was found.
    const visitPosted = () => phone.waitForResponse((r) => new URL(r.url()).pathname === '/api/visits' && r.request().method() === 'POST');
    let posted = visitPosted();
    await stops.first().locator('.rg-field-visited').click();
    assert.equal((await posted).status(), 201);
    await stops.first().locator('.rg-field-status', { hasText: '已记录' }).waitFor({ timeout: 5_000 });
    const second = stops.nth(1);
    await second.locator('.rg-field-visit > summary').click();
    await second.locator('input[name=units]').fill('2');
    await second.locator('input[name=persons]').fill('3');
    await second.locator('input[name=registered]').check();
    // Hazards are cases (the stop's hazard form, linked from here), no longer free text.
    assert.equal(await second.locator('.rg-field-visit input[name=hazards]').count(), 0);
    await second.locator('textarea[name=notes]').fill('电线私拉乱接');
    posted = visitPosted();
    await second.locator('button[type=submit]').click();
    const answer = await posted;
    assert.equal(answer.status(), 201);
    const sent = JSON.parse(answer.request().postData());
    assert.equal(sent.campaign_id, campaign.id);
    assert.equal(sent.new_units.length, 2);
    assert.equal(sent.new_units.reduce((n, u) => n + u.tenants, 0), 3);
    assert.match(sent.notes, /电线私拉乱接/);
    const after = await (await api(`/api/campaigns/${campaign.id}`)).json();
    assert.equal(after.progress.buildings_visited, 2);

    // Door plates: each stop links its building's sheet; a scanned plate's URL opens its card,
    // a forged one is refused in words.
    assert.equal(await stops.first().locator('.rg-field-plates').getAttribute('href'), `/api/buildings/${order[0]}/plates`);
    const sheet = await (await api(`/api/buildings/${order[0]}/plates?format=json`)).json();
    const plate = sheet.plates.find((p) => p.kind === 'unit') ?? sheet.plates[0];
    assert.ok(plate.url.startsWith(`${server.url}/?view=field&plate=`), plate.url);
    await phone.goto(plate.url);
    const opened = plate.kind === 'unit' ? `.rg-plate-card[data-unit="${plate.unit_id}"]` : `.rg-plate [data-building="${order[0]}"]`;
    await phone.locator(opened).waitFor({ timeout: 10_000 });
    await phone.goto(`${server.url}/?view=field&plate=${'A'.repeat(32)}`);
    assert.match(await phone.locator('.rg-plate-refused').innerText({ timeout: 10_000 }), /门牌无效/);
    await phone.close();
  });

  it('shows the login page without a session, and each demo role lands on its own view', async () => {
    for (const role of Object.keys(DEMO)) {
      const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
      const p = await ctx.newPage();
      p.on('pageerror', (error) => problems.push(`${role} page error: ${error.stack ?? error.message}`));
      await p.goto(`${server.url}/`);
      await p.waitForFunction(() => document.documentElement.dataset.login === '1', null, { timeout: READY_TIMEOUT_MS });
      assert.match(await p.locator('.rg-login-form').innerText(), /登录/);
      await p.fill('input[name=username]', DEMO[role].username);
      await p.fill('input[name=password]', DEMO[role].password);
      await p.click('.rg-login-submit');
      await p.waitForFunction(() => document.documentElement.dataset.ready === '1', null, { timeout: READY_TIMEOUT_MS });
      const view = new URL(p.url()).searchParams.get('view') ?? '';
      assert.equal(view, LANDING[role], `${role} landed on ${p.url()}`);
      assert.match(await p.locator('.rg-user-name').first().innerText(), new RegExp(DEMO[role].username), role);
      await ctx.close();
    }
  });

  it('refuses a wrong password with a message, and sends a signed-out browser and script away', async () => {
    const ctx = await browser.newContext();
    const p = await ctx.newPage();
    await p.goto(`${server.url}/`);
    await p.waitForFunction(() => document.documentElement.dataset.login === '1', null, { timeout: READY_TIMEOUT_MS });
    await p.fill('input[name=username]', 'center');
    await p.fill('input[name=password]', 'not-the-password');
    await p.click('.rg-login-submit');
    await p.locator('.rg-login-message:not([hidden])').waitFor({ timeout: 10_000 });
    assert.match(await p.locator('.rg-login-message').innerText(), /登录失败/);
    await ctx.close();
    for (const url of ['/api/grids', '/tiles/grids/12/3421/1677.mvt', '/collections/grids/items']) {
      const anonymous = await fetch(`${origin}${url}`);
      assert.equal(anonymous.status, 401, url);
    }
  });

  it('shows a caseworker only their own grids on the map', async () => {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const me = await signIn(ctx, 'caseworker');
    const theirs = await (await ctx.request.get(`${origin}/api/grids`)).json();
    const ids = new Set(theirs.features.map((f) => f.properties.id));
    const all = await (await api('/api/grids')).json();
    assert.ok(ids.size > 0 && ids.size < all.features.length, `${me.username} sees ${ids.size} of ${all.features.length} grids`);
    const p = await ctx.newPage();
    await p.goto(`${server.url}/?view=campaign`);
    // The grid tiles over the caseworker's area have come in and been drawn.
    await p.waitForFunction(
      () => {
        const map = window.__rentgrid?.map;
        return !!map?.getSource('grids') && map.isSourceLoaded('grids') && map.querySourceFeatures('grids', { sourceLayer: 'grids' }).length > 0;
      },
      null,
      { timeout: READY_TIMEOUT_MS },
    );
    const drawn = await p.evaluate(() => window.__rentgrid.map.querySourceFeatures('grids', { sourceLayer: 'grids' }).map((f) => f.id));
    assert.ok(drawn.length > 0, 'no grid drawn');
    const foreign = [...new Set(drawn)].filter((id) => !ids.has(id));
    assert.deepEqual(foreign, [], 'grids outside the caseworker\'s scope are on the map');
    await ctx.close();
  });

  it('signs out: the session ends and the login page comes back', async () => {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    await signIn(ctx, 'leader');
    const p = await ctx.newPage();
    await p.goto(`${server.url}/`);
    await p.waitForFunction(() => document.documentElement.dataset.ready === '1', null, { timeout: READY_TIMEOUT_MS });
    assert.equal(new URL(p.url()).searchParams.get('view'), 'leaders');
    await p.click('.rg-logout');
    await p.waitForFunction(() => document.documentElement.dataset.login === '1', null, { timeout: READY_TIMEOUT_MS });
    assert.equal((await ctx.request.get(`${origin}/api/me`)).status(), 401);
    await ctx.close();
  });

  /** A phone (touch, 390 px) signed in as caseworker `cw`, and how it opens their field view of `day`. */
  const phoneOf = (cw, campaign, day, label) =>
    harnessPhoneOf(browser, server.url, cw, campaign, day, (error) => problems.push(`${label} page error: ${error.stack ?? error.message}`));

  /** What a phone page's outbox (IndexedDB) holds. */
  const outboxOf = (p) =>
    p.evaluate(() => new Promise((resolve) => {
      const open = indexedDB.open('rentgrid-field');
      open.onsuccess = () => {
        const all = open.result.transaction('outbox').objectStore('outbox').getAll();
        all.onsuccess = () => resolve(all.result);
      };
    }));

  /**
   * A caseworker with the most buildings in their grids (contracts as they stand now), a new
   * campaign over those grids, theirs alone, and its day with the most stops: the stops in order.
   */
  let caseworkerDayOnce;
  const caseworkerDay = () => (caseworkerDayOnce ??= busiestCaseworkerDay(api));

  it('works offline on the phone: opens from the cache, keeps visits in the outbox across a closed page, sends each once', async () => {
    const ready = () => document.documentElement.dataset.ready === '1';
    const { area, cw, campaign, day, planned } = await caseworkerDay();
    assert.ok(planned.length >= 7, `caseworker ${cw} has ${planned.length} stops on ${day.date}`);
    const building = async (id) => (await (await api(`/api/buildings/${id}`)).json()).properties;
    const before = await Promise.all(planned.map(building));
    const visitedBefore = (await (await api(`/api/campaigns/${campaign.id}`)).json()).progress.buildings_visited;

    const { ctx, open } = await phoneOf(cw, campaign, day, 'offline field');
    let phone = await open();
    // Their own stops, no picker; the service worker has kept the page, the day and the tiles.
    assert.equal(await phone.locator('.rg-field-caseworker').count(), 0);
    const offline = await offlineCacheOf(phone);
    assert.ok(offline.tiles > 0, 'no tile kept for offline use');
    console.log(`# offline cache of cw${cw} (${area.properties.grids.length} grids, scale 0.05): ${offline.entries} answers, ${offline.tiles} tiles, ${(offline.bytes / 1e6).toFixed(2)} MB`);
    // With the glyphs of the names written over their grids (the map's labels offline).
    const kept = await phone.evaluate(async () =>
      (await (await caches.open('rentgrid-data-v1')).keys()).map((r) => decodeURIComponent(new URL(r.url).pathname)),
    );
    assert.ok(kept.includes('/fonts.json'), 'the font catalog is not kept');
    const theirs = (await (await api('/api/grids')).json()).features.find((f) => f.properties.id === area.properties.grids[0]).properties;
    for (const ch of [theirs.name[0], theirs.code[0]]) {
      const start = Math.floor(ch.codePointAt(0) / 256) * 256;
      const glyphs = `/fonts/Noto Sans CJK SC Regular/${start}-${start + 255}.pbf`;
      assert.ok(kept.includes(glyphs), `${glyphs} (for ${ch} of ${theirs.name}) is not kept: ${kept.filter((k) => k.startsWith('/fonts')).join(', ')}`);
    }

    // Offline, the page opens from the cache; visits wait in the outbox.
    await ctx.setOffline(true);
    await phone.reload();
    await phone.waitForFunction(ready, null, { timeout: READY_TIMEOUT_MS });
    const stops = phone.locator('.rg-field-stop');
    assert.deepEqual(await stops.evaluateAll((els) => els.map((e) => Number(e.dataset.building))), planned);
    const pending = (n) => pendingOn(phone, n);
    for (let i = 0; i < 4; i++) await stops.nth(i).locator('.rg-field-visited').click();
    await pending(4);
    assert.ok(await stops.nth(0).locator('.rg-field-visited').isDisabled(), 'a visited stop can be tapped again');
    // Persons found need the rental units they live in: refused in the form, nothing queued.
    const fifth = stops.nth(4);
    await fifth.locator('.rg-field-visit > summary').click();
    await fifth.locator('input[name=persons]').fill('4');
    await fifth.locator('.rg-field-submit').click();
    assert.match(await fifth.locator('.rg-field-message').innerText(), /出租房套数/);
    await fifth.locator('input[name=units]').fill('2');
    await fifth.locator('input[name=registered]').check();
    await fifth.locator('.rg-field-submit').click();
    await pending(5);
    // A second save of a stop still on the phone changes that visit: no second one.
    await fifth.locator('input[name=persons]').fill('5');
    await fifth.locator('.rg-field-submit').click();
    const sixth = stops.nth(5);
    await sixth.locator('.rg-field-visit > summary').click();
    await sixth.locator('input[name=units]').fill('1');
    await sixth.locator('input[name=persons]').fill('1');
    await sixth.locator('.rg-field-submit').click();
    await pending(6);
    // Typed but not saved: kept across the closed page.
    const seventh = stops.nth(6);
    await seventh.locator('.rg-field-visit > summary').click();
    await seventh.locator('textarea[name=notes]').fill('楼道堆物');
    await phone.close();

    phone = await open();
    await pending(6);
    assert.match(await phone.locator('.rg-field-sync').innerText(), /待发送 6 条/);
    await phone.locator('.rg-field-stop').nth(6).locator('.rg-field-visit > summary').click();
    assert.equal(await phone.locator('.rg-field-stop').nth(6).locator('textarea[name=notes]').inputValue(), '楼道堆物');
    const sent = [];
    phone.on('request', (r) => {
      if (new URL(r.url()).pathname === '/api/visits' && r.method() === 'POST') sent.push(JSON.parse(r.postData()));
    });
    await ctx.setOffline(false);
    await phone.locator('.rg-field-sync[data-pending="0"]').waitFor({ timeout: 30_000 });
    assert.match(await phone.locator('.rg-field-sync').innerText(), /上次同步/);
    assert.deepEqual(await outboxOf(phone), [], 'the outbox is not empty');

    // Each visit landed once, with the client id made on the phone, and did exactly what it said.
    const today = sent[0].visited_on;
    const listed = (await (await api(`/api/campaigns/${campaign.id}/visits?date=${today}&caseworker=${cw}`)).json()).visits;
    assert.deepEqual(listed.map((v) => v.building_id).sort(), planned.slice(0, 6).sort());
    assert.deepEqual(new Set(listed.map((v) => v.client_id)), new Set(sent.map((b) => b.client_id)));
    const after = await Promise.all(planned.map(building));
    const units = [0, 0, 0, 0, 2, 1, 0, 0];
    planned.forEach((id, i) => {
      assert.equal(after[i].visits - before[i].visits, i < 6 ? 1 : 0, `visits of building ${id}`);
      assert.equal(after[i].rental_units - before[i].rental_units, units[i] ?? 0, `rental units of building ${id}`);
      assert.equal(after[i].rental_units_registered - before[i].rental_units_registered, i === 4 ? 2 : 0, `registered units of building ${id}`);
    });
    const fifthVisit = listed.find((v) => v.building_id === planned[4]);
    assert.equal(fifthVisit.persons_found, 5, 'the edited visit was not the one sent');
    const progress = async () => (await (await api(`/api/campaigns/${campaign.id}`)).json()).progress.buildings_visited;
    assert.equal(await progress(), visitedBefore + 6);
    // A resend of a visit the server has changes nothing.
    const resend = await api('/api/visits', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(sent[0]) });
    assert.equal(resend.status, 200, await resend.clone().text());
    assert.equal((await resend.json()).replayed, true);
    assert.deepEqual(await Promise.all(planned.map(building)), after);
    // After a reload the list shows what the server holds.
    await phone.reload();
    await phone.waitForFunction(ready, null, { timeout: READY_TIMEOUT_MS });
    assert.match(await phone.locator('.rg-field-progress').innerText(), new RegExp(`已走访 6 / ${planned.length} 站`));

    // How long the outbox takes to send 200 changes (a measurement, not a check on time;
    // bench/field-offline.sh measures the same at scale 1).
    const seconds = await outboxFlushSeconds(ctx, phone, { cw, campaign: campaign.id, buildings: planned, today, n: 200 });
    console.log(`# outbox: 200 queued changes sent in ${seconds.toFixed(1)} s`);
    await ctx.close();
  });

  /** `GET /api/persons?…&limit=500` as the center. */
  const personsWhere = async (query) => (await (await api(`/api/persons?${query}&limit=500`)).json());
  /** The residents of a rental unit now. */
  const residentsOf = async (unit) => (await personsWhere(`unit=${unit}`)).persons;

  /**
   * `n` rental units with residents in the buildings of the caseworker's stops on `day` (without
   * one: on the first day of the campaign whose stops have that many), in stop order; the day;
   * and how many persons the stops' grids hold now.
   */
  const unitsAtStops = async (n, day) => {
    const { cw, campaign } = await caseworkerDay();
    const codes = new Map((await (await api('/api/grids')).json()).features.map((f) => [f.properties.id, f.properties.code]));
    const persons = new Map();
    const personsOf = (code) => {
      if (!persons.has(code)) persons.set(code, personsWhere(`grid=${encodeURIComponent(code)}`).then((p) => p.persons));
      return persons.get(code);
    };
    const days = day ? [day] : campaign.plan.days.filter((d) => d.assignments.some((a) => a.caseworker_id === cw && a.buildings.length > 0));
    for (const d of days) {
      const routes = await (await api(`/api/campaigns/${campaign.id}/routes?date=${d.date}`)).json();
      const stops = routes.features
        .filter((f) => f.properties.kind === 'stop' && f.properties.caseworker_id === cw)
        .sort((x, y) => x.properties.order - y.properties.order)
        .map((f) => ({ building: f.properties.building_id, code: codes.get(f.properties.grid_id) }));
      const units = [];
      for (const { building, code } of stops) {
        const here = (await personsOf(code)).filter((p) => p.building_id === building);
        for (const unit of new Set(here.map((p) => p.unit_id))) units.push({ building, unit });
      }
      if (units.length < n) continue;
      const gridCodes = [...new Set(stops.map((s) => s.code))];
      const inGrids = async () => (await Promise.all(gridCodes.map((c) => personsWhere(`grid=${encodeURIComponent(c)}`)))).reduce((sum, p) => sum + p.number_matched, 0);
      /** The persons the grids' KPIs count (`GET /api/grids`). */
      const kpiPersons = async () =>
        (await (await api('/api/grids')).json()).features.filter((f) => gridCodes.includes(f.properties.code)).reduce((sum, f) => sum + f.properties.persons, 0);
      return { units: units.slice(0, n), day: d, inGrids, kpiPersons };
    }
    return assert.fail(`caseworker ${cw} has no day with ${n} units with residents at their stops`);
  };

  /** An ID number from its first 17 characters and the GB 11643 check character. */
  const withCheck = (body) =>
    body + '10X98765432'[[...body].reduce((s, c, i) => s + Number(c) * [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2][i], 0) % 11];

  /** Opens a unit's household card from its stop on the phone (offline: the card the phone kept). */
  const openCard = async (phone, { building, unit }) => {
    const stop = phone.locator(`.rg-field-stop[data-building="${building}"]`);
    if (!(await stop.locator('.rg-field-units').evaluate((d) => d.open))) await stop.locator('.rg-field-units > summary').click();
    const back = stop.locator('.rg-card-back');
    if (await back.count()) await back.click();
    await stop.locator(`.rg-unit[data-unit="${unit}"]`).click();
    const c = stop.locator(`.rg-card[data-unit="${unit}"][data-loaded="1"]`);
    await c.waitFor({ timeout: 10_000 });
    return c;
  };

  /** Registers a person on an open household card. */
  const addPerson = async (c, id, name) => {
    const box = c.locator('.rg-card-add-box');
    if (!(await box.evaluate((d) => d.open))) await box.locator('summary').click();
    await c.locator('.rg-card-add input[name=id_number]').fill(id);
    await c.locator('.rg-card-add input[name=name]').fill(name);
    await c.locator('.rg-card-add input[name=phone]').fill('13800000000');
    await c.locator('.rg-card-add .rg-field-submit').click();
  };

  it('records persons at the door offline on the household card: registered, moved, moved out, each once; a conflict kept as mine', async () => {
    const ready = () => document.documentElement.dataset.ready === '1';
    const { cw, campaign, day } = await caseworkerDay();
    // Three units with residents in the buildings of the day's stops.
    const { units, inGrids } = await unitsAtStops(3, day);
    const before = await Promise.all(units.map((u) => residentsOf(u.unit)));
    const gridPersons = await inGrids();
    const leaving = before[0][0];
    // ID numbers of people born 1900-01-01 (none in the demo), with the GB 11643 check character.
    const movedId = withCheck('652901190001010' + String(10 + (cw % 80)));
    const newId = withCheck('652901190001010' + String(90 + (cw % 9)).slice(0, 2));

    const { ctx, open, openOffline } = await phoneOf(cw, campaign, day, 'card');
    let phone = await openOffline();
    const pending = (n) => pendingOn(phone, n);
    let c = await openCard(phone, units[0]);
    // The check character is checked as typed; sex and birth date are read from the number.
    const wrong = newId.slice(0, 17) + (newId[17] === '1' ? '2' : '1');
    await c.locator('.rg-card-add-box > summary').click();
    await c.locator('.rg-card-add input[name=id_number]').fill(wrong);
    assert.match(await c.locator('.rg-card-id-reading').innerText(), new RegExp(`校验位应为 ${newId[17]}`));
    // The standard's own example (GB 11643-1999, annex): a woman born 1949-12-31, check character X.
    await c.locator('.rg-card-add input[name=id_number]').fill('11010519491231002x');
    assert.equal(await c.locator('.rg-card-id-reading').innerText(), '女，出生于 1949-12-31');
    await c.locator('.rg-card-add input[name=id_number]').fill(movedId);
    assert.match(await c.locator('.rg-card-id-reading').innerText(), new RegExp(`^${Number(movedId[16]) % 2 ? '男' : '女'}，出生于 1900-01-01$`));
    await c.locator('.rg-card-add input[name=name]').fill('测试甲');
    await c.locator('.rg-card-add input[name=phone]').fill('13800000000');
    await c.locator('.rg-card-add .rg-field-submit').click();
    await pending(1);
    await c.locator(`.rg-card-person[data-person="${leaving.id}"] .rg-card-leave`).click();
    await pending(2);
    c = await openCard(phone, units[1]);
    await addPerson(c, newId, '测试乙');
    await pending(3);
    c = await openCard(phone, units[2]);
    await addPerson(c, movedId, '测试甲');
    await pending(4);
    await phone.close();

    // The outbox survives the closed page; online, it sends the four in order.
    phone = await open();
    await pending(4);
    const started = performance.now();
    await ctx.setOffline(false);
    await phone.locator('.rg-field-sync[data-pending="0"]').waitFor({ timeout: 60_000 });
    console.log(`# outbox: 4 person changes sent in ${((performance.now() - started) / 1000).toFixed(2)} s`);
    assert.deepEqual(await outboxOf(phone), [], 'the outbox is not empty');
    // The move is shown with the earlier home.
    c = await openCard(phone, units[2]);
    await c.locator('.rg-card-write[data-state="sent"]', { hasText: '已迁入：原住' }).waitFor({ timeout: 10_000 });

    // Each landed once: one record per ID number, in its last home; the unit and grid counts moved by exactly that.
    const added = [];
    for (const [id, unit] of [[movedId, units[2].unit], [newId, units[1].unit]]) {
      const found = (await personsWhere(`q=${id}`)).persons;
      assert.deepEqual(found.map((p) => p.unit_id), [unit], `persons with ${id}`);
      added.push(found[0].id);
    }
    const after = await Promise.all(units.map((u) => residentsOf(u.unit)));
    assert.deepEqual(after.map((p) => p.length), [before[0].length - 1, before[1].length + 1, before[2].length + 1]);
    assert.ok(!after[0].some((p) => p.id === leaving.id), 'the person who moved out is still listed');
    assert.equal(await inGrids(), gridPersons + 1);

    // A second phone edits a resident's phone twice from the same version: the second is a conflict.
    const other = await browser.newContext();
    const login2 = await other.request.post(`${origin}/api/login`, { data: { username: `cw${cw}`, password: `cw${cw}-demo-2026` } });
    const { csrf } = await login2.json();
    const target = after[1].find((p) => !added.includes(p.id));
    const edit = (phoneNo, n) =>
      other.request.patch(`${origin}/api/persons/${target.id}`, {
        headers: { 'X-CSRF-Token': csrf },
        data: { client_id: `00000000-0000-4000-8000-00000000000${n}`, base_version: target.version, phone: phoneNo },
      });
    assert.equal((await edit('13900000001', 1)).status(), 200);
    assert.equal((await edit('13900000002', 2)).status(), 409);
    await other.close();
    await phone.reload();
    await phone.waitForFunction(ready, null, { timeout: READY_TIMEOUT_MS });
    await phone.locator(`.rg-field-conflicts .rg-conflict[data-person="${target.id}"]`).waitFor({ timeout: 10_000 });
    c = await openCard(phone, units[1]);
    const conflict = c.locator(`.rg-conflict[data-person="${target.id}"]`);
    // Both values as the server shows them (masked but the last digits).
    assert.match(await conflict.locator('.rg-yours').innerText(), /0002$/);
    assert.match(await conflict.locator('.rg-theirs').innerText(), /0001$/);
    await conflict.locator('.rg-keep-mine').click();
    await conflict.waitFor({ state: 'detached', timeout: 10_000 });
    const stored = await (await api(`/api/persons/${target.id}?reveal=true&reason=browser%20test%20check`)).json();
    assert.equal(stored.phone, '13900000002');
    await ctx.close();
  });

  /** Fills and saves a hazard form (a stop's or a household card's) on the phone. */
  const recordHazard = async (form, { kind, severity, note, foundOn }) => {
    if (!(await form.evaluate((d) => d.open))) await form.locator('summary').click();
    // The kinds come from /api/hazard-kinds (offline: the answer the phone kept).
    await form.locator('select[name=kind]').selectOption(kind);
    await form.locator('select[name=severity]').selectOption(severity);
    await form.locator('textarea[name=note]').fill(note);
    if (foundOn) await form.locator('input[name=found_on]').fill(foundOn);
    await form.locator('.rg-hazard-submit').click();
  };

  it('records 20 changes across 5 units offline (persons, a move-out, hazards), each lands once; a late hazard is red on the map and assigned there', async () => {
    const ready = () => document.documentElement.dataset.ready === '1';
    const { cw, campaign } = await caseworkerDay();
    const { units, day, inGrids, kpiPersons } = await unitsAtStops(5);
    const before = await Promise.all(units.map((u) => residentsOf(u.unit)));
    const gridPersons = await inGrids();
    const kpiBefore = await kpiPersons();
    const hazardsNow = async () => (await (await api('/api/hazards')).json());
    const openBefore = (await hazardsNow()).counts.open;
    const leaving = before[0][0];
    // Fifteen people born 1900-01-02 (none in the demo), three per unit.
    const ids = Array.from({ length: 15 }, (_, k) => withCheck(`65290119000102${100 + k}`));
    // Found 60 days ago, a severe blocked fire exit is long past its deadline (1 day, red 3 days later).
    const longAgo = new Date(Date.now() - 60 * 86_400_000).toISOString().slice(0, 10);
    const tag = `浏览器测试隐患 ${cw}`;
    const hazards = [
      { at: units[1], kind: 'electrical', severity: 'major', note: `${tag} 1` },
      { at: units[2], kind: 'gas', severity: 'minor', note: `${tag} 2` },
      { at: units[3], kind: 'ebike_charging', severity: 'major', note: `${tag} 3` },
    ];
    const late = { building: units[4].building, kind: 'fire_exit', severity: 'severe', note: `${tag} 4`, foundOn: longAgo };

    const { ctx, open, openOffline } = await phoneOf(cw, campaign, day, 'door');
    let phone = await openOffline();
    const pending = (n) => pendingOn(phone, n);
    let n = 0;
    for (const [i, u] of units.entries()) {
      const c = await openCard(phone, u);
      for (const k of [0, 1, 2]) {
        await addPerson(c, ids[3 * i + k], `测试${i}${k}`);
        await pending(++n);
      }
      if (i === 0) {
        await c.locator(`.rg-card-person[data-person="${leaving.id}"] .rg-card-leave`).click();
        await pending(++n);
      }
      const hazard = hazards.find((x) => x.at === u);
      if (hazard) {
        await recordHazard(c.locator('.rg-hazard-in-unit'), hazard);
        await pending(++n);
      }
    }
    // The visit form has no free-text hazards field any more: its link opens the stop's hazard form.
    const lateStop = phone.locator(`.rg-field-stop[data-building="${late.building}"]`);
    await lateStop.locator('.rg-field-visit > summary').click();
    assert.equal(await lateStop.locator('.rg-field-visit input[name=hazards]').count(), 0, 'the old free-text hazards field is back');
    await lateStop.locator('.rg-field-visit .rg-field-to-hazard').click();
    await lateStop.locator('.rg-hazard-at-stop[open] select[name=kind] option[value=fire_exit]').waitFor({ state: 'attached', timeout: 10_000 });
    await recordHazard(lateStop.locator('.rg-hazard-at-stop'), late);
    await pending(++n);
    assert.equal(n, 20);
    await phone.locator('.rg-field-hazards[data-waiting="4"]').waitFor({ timeout: 10_000 });
    await phone.close();

    // The outbox survives the closed page; online, it sends the twenty in order.
    phone = await open();
    await pending(20);
    await ctx.setOffline(false);
    await phone.locator('.rg-field-sync[data-pending="0"]').waitFor({ timeout: 60_000 });
    assert.deepEqual(await outboxOf(phone), [], 'the outbox is not empty');

    // Every person once, in the unit they were registered in; the one who left is gone.
    for (const [k, id] of ids.entries()) {
      const found = (await personsWhere(`q=${id}`)).persons;
      assert.deepEqual(found.map((p) => p.unit_id), [units[Math.floor(k / 3)].unit], `persons with ${id}`);
    }
    const after = await Promise.all(units.map((u) => residentsOf(u.unit)));
    assert.deepEqual(after.map((p) => p.length), before.map((p, i) => p.length + 3 - (i === 0 ? 1 : 0)));
    assert.ok(!after[0].some((p) => p.id === leaving.id), 'the person who moved out is still listed');
    assert.equal(await inGrids(), gridPersons + 14);
    assert.equal(await kpiPersons(), kpiBefore + 14, 'the grids\' KPIs count the 15 arrivals and the departure');
    // Every hazard once, where it was found; the late one is red.
    const listed = await hazardsNow();
    assert.equal(listed.counts.open, openBefore + 4);
    const mine = listed.hazards.filter((x) => x.note.startsWith(tag)).sort((a, b) => a.note.localeCompare(b.note));
    assert.deepEqual(
      mine.map((x) => [x.note, x.building_id, x.unit_id, x.kind, x.severity, x.status]),
      [
        ...hazards.map((x) => [x.note, x.at.building, x.at.unit, x.kind, x.severity, 'found']),
        [late.note, late.building, null, late.kind, late.severity, 'found'],
      ],
    );
    const red = mine[3];
    assert.equal(red.found_on, longAgo);
    assert.equal(red.urgency, 'red');
    assert.ok(red.days_overdue > 50, JSON.stringify(red));
    assert.equal(mine[0].urgency, 'on_time');

    // The phone lists the cases with their badges; one is reported rectified, with a photo.
    const item = (c) => phone.locator(`.rg-field-hazard-item[data-hazard="${c.id}"]`);
    await item(red).waitFor({ timeout: 10_000 });
    assert.equal(await item(red).getAttribute('data-urgency'), 'red');
    assert.match(await item(red).locator('.rg-hazard-badge').innerText(), /^红 · 超期 \d+ 天$/);
    // A 1×1 PNG: the phone redraws it as a JPEG before sending.
    const png = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==', 'base64');
    await item(mine[0]).locator('input.rg-hazard-photo').setInputFiles({ name: 'hazard.png', mimeType: 'image/png', buffer: png });
    await item(mine[0]).locator('.rg-hazard-photo-status', { hasText: '照片已上传' }).waitFor({ timeout: 10_000 });
    await item(mine[0]).locator('.rg-hazard-rectify').click();
    await phone.locator(`.rg-field-hazard-item[data-hazard="${mine[0].id}"][data-status="rectified"]`).waitFor({ timeout: 20_000 });
    const rectified = await (await api(`/api/hazards/${mine[0].id}`)).json();
    assert.equal(rectified.hazard.status, 'rectified');
    assert.deepEqual(rectified.photos.map((p) => p.content_type), ['image/jpeg']);
    await ctx.close();

    // On the command center's map the late case is a red point; its popup assigns it.
    await page.reload();
    await page.waitForFunction(ready, null, { timeout: READY_TIMEOUT_MS });
    const legend = page.locator('.rg-legend-layer[data-layer="hazards"]');
    assert.match(await legend.innerText(), /隐患/);
    await page.evaluate(({ lon, lat }) => window.__rentgrid.map.jumpTo({ center: [lon, lat], zoom: 17 }), red);
    const point = await page.waitForFunction(
      (id) => {
        const map = window.__rentgrid.map;
        if (map.isMoving() || !map.loaded()) return null;
        const f = map.queryRenderedFeatures({ layers: ['hazards-circles'] }).find((x) => x.id === id);
        if (!f) return null;
        const rect = map.getCanvas().getBoundingClientRect();
        const p = map.project(f.geometry.coordinates);
        return { x: rect.left + p.x, y: rect.top + p.y, colour: f.properties.color_class };
      },
      red.id,
      { timeout: 20_000 },
    );
    const { x, y, colour } = await point.jsonValue();
    assert.equal(colour, 'red');
    await page.mouse.click(x, y);
    const popupCase = page.locator(`.rg-popup .rg-hazard-card[data-hazard="${red.id}"]`);
    await popupCase.waitFor({ timeout: 10_000 });
    assert.equal(await popupCase.getAttribute('data-urgency'), 'red');
    assert.match(await popupCase.locator('.rg-hazard-badge').innerText(), /^红 · 超期 \d+ 天$/);
    await popupCase.locator(`.rg-hazard-assignee option[value="${cw}"]`).waitFor({ state: 'attached', timeout: 10_000 });
    await popupCase.locator('.rg-hazard-assignee').selectOption(String(cw));
    await popupCase.locator('.rg-hazard-assign').click();
    await page.locator(`.rg-popup .rg-hazard-card[data-hazard="${red.id}"][data-status="assigned"]`).waitFor({ timeout: 10_000 });
    const assigned = (await (await api(`/api/hazards/${red.id}`)).json()).hazard;
    assert.deepEqual([assigned.status, assigned.assignee_id, assigned.urgency], ['assigned', cw, 'red']);
    await page.keyboard.press('Escape');
  });

  it('opens an empty rental unit from a stop\'s list and registers a person into it; the phone shows its overdue count', async () => {
    const { cw, campaign, day, planned } = await caseworkerDay();
    // A unit of one of the day's stops where nobody is recorded; if the demo has none there, one
    // found at the door by a visit (a unit with no person).
    const unitsOf = async (b) => (await (await api(`/api/buildings/${b}/units`)).json()).units;
    let target;
    for (const building of planned) {
      const empty = (await unitsOf(building)).find((u) => u.persons === 0);
      if (empty) {
        target = { building, unit: empty.id };
        break;
      }
    }
    if (!target) {
      const building = planned[planned.length - 1];
      const before = new Set((await unitsOf(building)).map((u) => u.id));
      const visit = await api('/api/visits', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ client_id: `empty-unit-${Date.now()}`, building_id: building, new_units: [{ label: '9-919', tenants: 0 }] }),
      });
      assert.equal(visit.status, 201, await visit.text());
      target = { building, unit: (await unitsOf(building)).find((u) => !before.has(u.id)).id };
    }

    const { ctx, open } = await phoneOf(cw, campaign, day, 'empty unit');
    const phone = await open();
    // Their overdue buildings, counted as the API counts them for them.
    const mine = await (await ctx.request.get(`${origin}/api/overdue?caseworker=${cw}`)).json();
    const overdue = phone.locator('.rg-field-overdue');
    await phone.locator(`.rg-field-overdue[data-count="${mine.number_matched}"]`).waitFor({ timeout: 10_000 });
    assert.equal((await overdue.locator('summary').innerText()).trim(), `逾期未走访 ${mine.number_matched} 栋`);
    await overdue.locator('summary').click();
    assert.equal(await overdue.locator('li').count(), Math.min(20, mine.number_matched));

    // The stop lists the empty unit; its card registers a person into it.
    const stop = phone.locator(`.rg-field-stop[data-building="${target.building}"]`);
    await stop.locator('.rg-field-units > summary').click();
    const unit = stop.locator(`.rg-unit[data-unit="${target.unit}"]`);
    assert.equal(await unit.getAttribute('data-persons'), '0');
    assert.match(await unit.innerText(), /无登记住户/);
    await unit.click();
    const c = stop.locator(`.rg-card[data-unit="${target.unit}"][data-loaded="1"]`);
    await c.waitFor({ timeout: 10_000 });
    assert.equal(await c.locator('.rg-card-person').count(), 0);
    const check = (body) => '10X98765432'[[...body].reduce((s, ch, i) => s + Number(ch) * [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2][i], 0) % 11];
    const body = '65290119000102' + String(100 + (cw % 800)).padStart(3, '0');
    const idNumber = body + check(body);
    await c.locator('.rg-card-add-box > summary').click();
    await c.locator('.rg-card-add input[name=id_number]').fill(idNumber);
    await c.locator('.rg-card-add input[name=name]').fill('测试丙');
    await c.locator('.rg-card-add input[name=phone]').fill('13800000003');
    await c.locator('.rg-card-add .rg-field-submit').click();
    await c.locator('.rg-card-write[data-state="sent"]', { hasText: '已登记' }).waitFor({ timeout: 20_000 });
    await c.locator('.rg-card-person').first().waitFor({ timeout: 10_000 });
    const found = (await (await api(`/api/persons?q=${idNumber}`)).json()).persons;
    assert.deepEqual(found.map((p) => p.unit_id), [target.unit]);
    // Back in the list, the unit counts its one resident.
    await stop.locator('.rg-card-back').click();
    await stop.locator(`.rg-unit[data-unit="${target.unit}"][data-persons="1"]`).waitFor({ timeout: 10_000 });
    await ctx.close();
  });

  it('made every request to its own origin and logged no error', () => {
    assert.ok(requests.length > 0);
    // data: URLs (inline icons) never touch the network; blob: URLs carry the page's origin.
    const foreign = requests.filter((url) => !url.startsWith('data:') && new URL(url).origin !== origin);
    assert.deepEqual(foreign, [], `requests left ${origin}`);
    assert.deepEqual(problems, []);
  });
});
