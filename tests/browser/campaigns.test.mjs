// Campaigns and supervisors from the web map (issue 19, part 5), in headless Chromium against a
// real rentgrid server on a small demo city: the command center reaches the campaign view from the
// header, draws an area by clicking on the map, picks two caseworkers and the dates, is told in
// plain words when the days are too few, plans the campaign (stored, its blocks drawn, the URL
// naming it); moves a block to its next phase from its popup (a 409 said as a message); opens the
// day's route sheets, one A4 page per caseworker with a map and the numbered stops. The assessment
// and spot checks with their export buttons, a supervisor's of their street only.
//
//   RENTGRID_BIN=target/debug/rentgrid RENTGRID_WEB=web-map/dist node --test tests/browser/campaigns.test.mjs
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { collectProblems, DEMO, launchChromium, READY_TIMEOUT_MS, startDemoSite } from './harness.mjs';

const web = path.resolve(process.env.RENTGRID_WEB ?? path.join(import.meta.dirname, '../../web-map/dist'));

describe('campaigns and supervisors from the web map', () => {
  if (!process.env.RENTGRID_BIN || !existsSync(process.env.RENTGRID_BIN) || !existsSync(path.join(web, 'index.html'))) {
    // A failure, not a skip: a CI that forgot to build must not pass.
    it('has a server binary and a built web map', () => assert.fail('set RENTGRID_BIN to the built server and build web-map/dist'));
    return;
  }

  let site;
  let browser;
  let page;
  let campaign;
  const problems = [];
  /** Refusals the test asks for on purpose: the form and the popup say them, they are no problem. */
  const expected = [];
  const api = async (pathAndQuery, init = {}) => {
    const response = await fetch(`${site.origin}${pathAndQuery}`, {
      ...init,
      headers: { Authorization: `Bearer ${site.token}`, 'Content-Type': 'application/json', ...(init.headers ?? {}) },
    });
    assert.ok(response.ok, `${pathAndQuery}: ${response.status} ${await response.clone().text()}`);
    return response.json();
  };
  const ready = () => document.documentElement.dataset.ready === '1';
  const idle = () =>
    page.evaluate(
      () =>
        new Promise((resolve) => {
          const map = window.__rentgrid.map;
          map.once('idle', resolve);
          map.triggerRepaint();
        }),
    );

  before(async () => {
    site = await startDemoSite(process.env.RENTGRID_BIN, web, 'campaigns');
    browser = await launchChromium();
    const context = await browser.newContext({ viewport: { width: 1600, height: 1000 }, locale: 'zh-CN' });
    const login = await context.request.post(`${site.origin}/api/login`, { data: DEMO.center });
    assert.equal(login.status(), 200);
    page = await context.newPage();
    collectProblems(page, problems);
    await page.goto(`${site.url}/`);
    await page.waitForFunction(ready, null, { timeout: READY_TIMEOUT_MS });
  });

  after(async () => {
    await browser?.close();
    await site?.stop();
  });

  it('plans a campaign over an area drawn on the map', async () => {
    // The header leads to the campaign view: no URL to type.
    await page.locator('.rg-view-campaign').click();
    await page.waitForURL(/view=campaign/);
    await page.waitForFunction(ready, null, { timeout: READY_TIMEOUT_MS });

    // The weakest grid with its caseworker and a second one of the same street.
    const stats = await api('/api/stats?level=grid');
    const grid = stats.rows.filter((r) => typeof r.reg_rate === 'number' && r.persons > 0).sort((a, b) => a.reg_rate - b.reg_rate || a.grid_id - b.grid_id)[0].grid_id;
    const areas = (await api('/api/coverage')).features.filter((f) => f.properties.kind === 'area');
    const holder = areas.find((a) => a.properties.grids.includes(grid));
    const partner = areas.find((a) => a.properties.street_code === holder.properties.street_code && a !== holder);
    const team = [holder.properties, partner.properties];
    const shape = await api(`/api/grids/${grid}`);
    const ring = shape.geometry.type === 'Polygon' ? shape.geometry.coordinates[0] : shape.geometry.coordinates[0][0];
    const xs = ring.map((p) => p[0]);
    const ys = ring.map((p) => p[1]);
    const box = [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)];

    await page.locator('.rg-campaign-new').click();
    await page.locator('.rg-campaign-draw[aria-pressed="true"]').waitFor();
    // The grid in view between the panel and the legend; then four corners clicked on the canvas,
    // and the first once more to close the ring.
    await page.evaluate((b) => window.__rentgrid.map.fitBounds(b, { padding: { top: 80, bottom: 80, left: 460, right: 420 }, duration: 0 }), box);
    await idle();
    const corners = await page.evaluate((b) => {
      const map = window.__rentgrid.map;
      const frame = map.getCanvas().getBoundingClientRect();
      const [w, s, e, n] = b;
      const inset = (lo, hi, k) => lo + (hi - lo) * k;
      return [
        [inset(w, e, 0.1), inset(s, n, 0.1)],
        [inset(w, e, 0.9), inset(s, n, 0.1)],
        [inset(w, e, 0.9), inset(s, n, 0.9)],
        [inset(w, e, 0.1), inset(s, n, 0.9)],
      ].map((c) => {
        const p = map.project(c);
        return [frame.left + p.x, frame.top + p.y];
      });
    }, box);
    // The pointer moves to each point before it clicks, as a hand does (terra-draw places a vertex
    // where the pointer moved).
    for (const [x, y] of [...corners, corners[0]]) {
      await page.mouse.move(x, y);
      await page.mouse.click(x, y);
    }
    await page.locator('.rg-campaign-area-status', { hasText: '已画好区域' }).waitFor({ timeout: 10_000 });
    assert.equal(await page.locator('.rg-popup').count(), 0, 'the drawing\'s clicks open no popup');

    // The team by name, the dates; first too few days: the form says how many the area needs.
    for (const member of team) {
      const box = page.locator(`.rg-campaign-member:has(input[value="${member.caseworker_id}"])`);
      assert.ok((await box.innerText()).includes(member.name), `the team list names ${member.name}`);
      await box.locator('input').check();
    }
    await page.locator('.rg-campaign-start').fill('2026-12-07');
    await page.locator('.rg-campaign-days').fill('1');
    await page.locator('.rg-campaign-per-day').fill('2');
    expected.push('/api/campaigns');
    await page.locator('.rg-campaign-submit').click();
    const refusal = page.locator('.rg-campaign-message.rg-refused');
    await refusal.waitFor({ timeout: 30_000 });
    const said = await refusal.innerText();
    assert.match(said, /需要 \d+ 个工作日，超过了填写的 1 天/, said);

    await page.locator('.rg-campaign-days').fill('260');
    await page.locator('.rg-campaign-per-day').fill('8');
    await page.locator('.rg-campaign-submit').click();
    const outcome = await page.waitForFunction(
      () => (document.querySelector('.rg-campaign-summary[data-created]') ? 'planned' : document.querySelector('.rg-campaign-message.rg-refused')?.textContent),
      null,
      { timeout: 120_000 },
    );
    assert.equal(await outcome.jsonValue(), 'planned');
    const id = Number(await page.locator('.rg-campaign-summary').getAttribute('data-created'));
    assert.equal(new URL(page.url()).searchParams.get('campaign'), String(id));

    // Stored as drawn: the polygon, the team, the dates.
    campaign = await api(`/api/campaigns/${id}`);
    assert.equal(campaign.area.polygon.type, 'Polygon');
    assert.deepEqual(campaign.caseworkers, team.map((m) => m.caseworker_id).sort((a, b) => a - b));
    assert.equal(campaign.start_date, '2026-12-07');
    assert.ok(campaign.plan.grids.includes(grid), `the plan's grids ${campaign.plan.grids} hold grid ${grid}`);
    assert.ok(campaign.blocks.features.length > 0);
    // Its plan is drawn: every block, numbered.
    await page.waitForFunction((n) => document.querySelectorAll('.rg-block-number').length === n, campaign.blocks.features.length, { timeout: 30_000 });
    await idle();
    const drawn = await page.evaluate(() => new Set(window.__rentgrid.map.querySourceFeatures('campaign-blocks').map((f) => f.properties.block_id)).size);
    assert.equal(drawn, campaign.blocks.features.length);
    assert.ok((await page.locator('.rg-legend').innerText()).includes(`第 ${id} 号行动`));
  });

  /** Clicks a point of block `blockId` (where no stop is) and waits for its popup. */
  const openBlock = async (blockId) => {
    const at = await page.evaluate((want) => {
      const map = window.__rentgrid.map;
      const frame = map.getCanvas().getBoundingClientRect();
      for (let y = 80; y < frame.height - 80; y += 6) {
        for (let x = 440; x < frame.width - 400; x += 6) {
          const hits = map.queryRenderedFeatures([x, y], { layers: ['campaign-blocks-fill', 'campaign-stops', 'candidates-circles', 'hazards-circles'].filter((l) => map.getLayer(l)) });
          if (hits.length === 1 && hits[0].properties.block_id === want) return [frame.left + x, frame.top + y];
        }
      }
      return null;
    }, blockId);
    assert.ok(at, `block ${blockId} is on screen`);
    await page.mouse.click(at[0], at[1]);
    await page.locator(`.rg-popup .rg-block-popup[data-block="${blockId}"]`).waitFor({ timeout: 10_000 });
  };

  it('moves a block to its next phase from its popup', async () => {
    const block = campaign.blocks.features.find((f) => f.properties.order === 1).properties.block_id;
    const phaseOf = async () => (await api(`/api/campaigns/${campaign.id}`)).blocks.features.find((f) => f.properties.block_id === block).properties.phase;
    assert.equal(await phaseOf(), null);
    await openBlock(block);
    const next = page.locator('.rg-popup .rg-phase-next');
    assert.equal(await next.innerText(), '进入下一阶段：排查');
    await next.click();
    await page.locator('.rg-popup .rg-phase-message', { hasText: '已进入排查' }).waitFor({ timeout: 10_000 });
    assert.equal(await phaseOf(), 'investigate');

    // Open again; someone else moves the block on meanwhile: the button's move is refused (409)
    // and the popup says so.
    await page.keyboard.press('Escape');
    await openBlock(block);
    assert.equal(await next.innerText(), '进入下一阶段：清理');
    await api(`/api/campaigns/${campaign.id}/blocks/${block}/phase`, { method: 'POST', body: JSON.stringify({ phase: '清理' }) });
    expected.push(`/api/campaigns/${campaign.id}/blocks/${block}/phase`);
    await next.click();
    await page.locator('.rg-popup .rg-phase-refused', { hasText: '已被别人改过' }).waitFor({ timeout: 10_000 });
    assert.equal(await phaseOf(), 'clear');
    await page.keyboard.press('Escape');
  });

  it('prints the day\'s route sheets, one A4 page per caseworker', async () => {
    // The view shows today's plan day, else the next one, else the first (its routes).
    const today = await page.evaluate(() => {
      const d = new Date();
      return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
    });
    const day = campaign.plan.days.find((d) => d.date >= today) ?? campaign.plan.days[0];
    const shownDay = await page.locator('.rg-campaign-summary').innerText();
    assert.ok(shownDay.includes(day.date), `${shownDay} names ${day.date}`);
    const routes = await api(`/api/campaigns/${campaign.id}/routes?date=${day.date}`);
    const stopsOf = new Map();
    for (const f of routes.features.filter((f) => f.properties.kind === 'stop')) {
      stopsOf.set(f.properties.caseworker_id, [...(stopsOf.get(f.properties.caseworker_id) ?? []), f.properties]);
    }
    assert.ok(stopsOf.size > 0, 'the day has stops');

    await page.locator('.rg-campaign-print').click();
    await page.locator('.rg-sheets-print').waitFor({ timeout: 60_000 });
    const sheets = page.locator('.rg-sheet');
    assert.equal(await sheets.count(), stopsOf.size, 'one sheet per caseworker with stops');
    for (const [cw, stops] of stopsOf) {
      const sheet = page.locator(`.rg-sheet[data-caseworker="${cw}"]`);
      const text = await sheet.innerText();
      assert.ok(text.includes(`第 ${campaign.id} 号行动`) && text.includes(day.date), text.slice(0, 200));
      const rows = await sheet.locator('.rg-sheet-stop').evaluateAll((trs) => trs.map((tr) => [...tr.cells].map((td) => td.textContent)));
      assert.deepEqual(
        rows.map((r) => [Number(r[0]), r[1]]),
        stops.sort((a, b) => a.order - b.order).map((s) => [s.order, s.address]),
      );
      // The map of the walk is a picture, not empty.
      const image = await sheet.locator('.rg-sheet-map').evaluate((img) => ({ src: img.src.slice(0, 22), w: img.naturalWidth }));
      assert.equal(image.src, 'data:image/png;base64,');
      assert.ok(image.w > 100);
    }
    // Printed, the sheets are all there is: A4 pages, the map and its panels left out.
    await page.emulateMedia({ media: 'print' });
    const printed = await page.evaluate(() => ({
      app: getComputedStyle(document.getElementById('app')).display,
      bar: getComputedStyle(document.querySelector('.rg-sheets-bar')).display,
      page: getComputedStyle(document.querySelector('.rg-sheet')).page,
    }));
    assert.deepEqual(printed, { app: 'none', bar: 'none', page: 'route-sheet' });
    await page.emulateMedia({ media: 'screen' });
    await page.locator('.rg-sheets-close').click();
    assert.equal(await page.locator('.rg-sheets').count(), 0);
  });

  it('numbers the day\'s stops clear of the dots and of each other', async () => {
    await idle();
    const { numbers, dots } = await page.evaluate(() => {
      const map = window.__rentgrid.map;
      const box = map.getCanvas().getBoundingClientRect();
      const shown = [...document.querySelectorAll('.rg-stop-number, .rg-block-number')].filter((e) => !e.classList.contains('rg-hidden-label') && !e.hidden);
      return {
        numbers: shown.map((e) => ({ stop: e.classList.contains('rg-stop-number'), ...e.getBoundingClientRect().toJSON() })),
        dots: map.queryRenderedFeatures({ layers: ['campaign-stops'] }).map((f) => {
          const p = map.project(f.geometry.coordinates);
          return { left: box.left + p.x - 6.5, right: box.left + p.x + 6.5, top: box.top + p.y - 6.5, bottom: box.top + p.y + 6.5 };
        }),
      };
    });
    assert.ok(dots.length > 0 && numbers.some((n) => n.stop), `stops drawn (${dots.length}) and some numbered`);
    const meet = (a, b) => a.left < b.right && a.right > b.left && a.top < b.bottom && a.bottom > b.top;
    numbers.forEach((a, i) => {
      for (const b of numbers.slice(i + 1)) assert.ok(!meet(a, b), `numbers ${JSON.stringify(a)} and ${JSON.stringify(b)} overlap`);
      for (const d of dots) assert.ok(!meet(a, d), `number ${JSON.stringify(a)} covers the stop at ${JSON.stringify(d)}`);
    });
  });

  it('shows the assessment and spot checks with export buttons, a supervisor their street\'s', async () => {
    // The latest month with spot checks.
    let month;
    let checks;
    for (let back = 0; back < 24 && !checks?.rows.length; back++) {
      const d = new Date(Date.UTC(2026, 11 - back, 1));
      month = `${d.getUTCFullYear()}-${String(d.getUTCMonth() + 1).padStart(2, '0')}`;
      checks = await api(`/api/spot-checks?month=${month}`);
    }
    assert.ok(checks.rows.length > 0, 'the district has spot checks');
    const assessment = await api(`/api/assessment?month=${month}`);

    // The center: the district's tables, from the header's link.
    await page.goto(`${site.url}/`);
    await page.waitForFunction(ready, null, { timeout: READY_TIMEOUT_MS });
    await page.locator('.rg-view-assessment').click();
    await page.waitForURL(/view=assessment/);
    await page.waitForFunction(ready, null, { timeout: READY_TIMEOUT_MS });
    // Our own month picker, in the page's language (not the browser's): "2026年10月".
    const [y, m] = month.split('-').map(Number);
    assert.equal(await page.locator(`.rg-assessment-month option[value="${month}"]`).innerText(), `${y}年${m}月`);
    await page.locator('.rg-assessment-month').selectOption(month);
    const first = page.locator(`.rg-spot-checks-table tr[data-spot-check="${checks.rows[0].id}"]`);
    await first.waitFor({ timeout: 10_000 });
    assert.equal(await page.locator('.rg-spot-checks-table tbody tr').count(), checks.rows.length);
    assert.equal(await page.locator('.rg-assessment-table tbody tr').count(), assessment.rows.length);
    const text = await first.innerText();
    assert.ok(text.includes(checks.rows[0].name) && text.includes(checks.rows[0].grid_name), text);
    const links = await page.locator('.rg-export a').evaluateAll((as) => as.map((a) => new URL(a.href).pathname + new URL(a.href).search));
    for (const file of ['assessment.xlsx', 'assessment.csv', 'spot_checks.xlsx', 'spot_checks.csv']) {
      const link = links.find((l) => l.includes(`/api/exports/${file}`));
      assert.ok(link?.includes(`month=${month}`), `${file} in ${links}`);
    }
    const csv = await (await fetch(`${site.origin}${links.find((l) => l.includes('spot_checks.csv'))}`, { headers: { Authorization: `Bearer ${site.token}` } })).text();
    assert.equal(csv.trim().split('\n').length, checks.rows.length + 1, 'a header and one line per spot check');

    // A supervisor: their street's caseworkers only, in both tables.
    const context = await browser.newContext({ viewport: { width: 1600, height: 1000 }, locale: 'zh-CN' });
    const login = await context.request.post(`${site.origin}/api/login`, { data: DEMO.supervisor });
    assert.equal(login.status(), 200);
    const theirs = async (p) => (await context.request.get(`${site.origin}${p}`)).json();
    const theirChecks = await theirs(`/api/spot-checks?month=${month}`);
    const theirRows = await theirs(`/api/assessment?month=${month}`);
    assert.ok(theirRows.rows.length > 0 && theirRows.rows.length < assessment.rows.length);
    assert.ok(theirChecks.rows.length < checks.rows.length);
    const sup = await context.newPage();
    collectProblems(sup, problems);
    await sup.goto(`${site.url}/?view=coverage`);
    await sup.waitForFunction(ready, null, { timeout: READY_TIMEOUT_MS });
    // The coverage view opens on their street, in the part of the map the panel leaves free.
    const street = (await theirs('/api/me')).scope.street;
    const streetBox = (await theirs(`/api/places/street:${street}`)).bbox;
    const framed = await sup.evaluate((b) => {
      const map = window.__rentgrid.map;
      const pad = map.getPadding();
      const [sw, ne] = [map.project([b[0], b[1]]), map.project([b[2], b[3]])];
      const free = { left: pad.left, top: pad.top, right: map.getCanvas().clientWidth - pad.right, bottom: map.getCanvas().clientHeight - pad.bottom };
      return { free, street: { left: sw.x, bottom: sw.y, right: ne.x, top: ne.y }, panel: document.querySelector('.rg-coverage').getBoundingClientRect().right - map.getCanvas().getBoundingClientRect().left };
    }, streetBox);
    const { free, street: st } = framed;
    assert.ok(free.left >= framed.panel - 1, `the map keeps clear of the panel: ${JSON.stringify(framed)}`);
    assert.ok(st.left >= free.left - 1 && st.right <= free.right + 1 && st.top >= free.top - 1 && st.bottom <= free.bottom + 1, `the street lies in the free part: ${JSON.stringify(framed)}`);
    assert.ok(st.right - st.left > 0.6 * (free.right - free.left) || st.bottom - st.top > 0.6 * (free.bottom - free.top), `the street fills it: ${JSON.stringify(framed)}`);
    await sup.locator('.rg-view-assessment').click();
    await sup.waitForURL(/view=assessment/);
    await sup.waitForFunction(ready, null, { timeout: READY_TIMEOUT_MS });
    await sup.locator('.rg-assessment-month').selectOption(month);
    await sup.waitForFunction((m) => new URL(window.location.href).searchParams.get('month') === m && !document.querySelector('.rg-assessment [role=status]'), month);
    assert.equal(await sup.locator('.rg-assessment-table tbody tr').count(), theirRows.rows.length);
    if (theirChecks.rows.length === 0) assert.equal(await sup.locator('.rg-spot-checks-none').count(), 1);
    else assert.equal(await sup.locator('.rg-spot-checks-table tbody tr').count(), theirChecks.rows.length);
    await context.close();
  });

  it('had no page errors and no failed requests but the refusals asked for', () => {
    const asked = (p) =>
      (/^HTTP (409|422) /.test(p) && expected.some((e) => p.endsWith(e))) ||
      /^console error: Failed to load resource: the server responded with a status of (409|422)/.test(p);
    const left = problems.filter((p) => !asked(p));
    assert.deepEqual(left, []);
  });
});
