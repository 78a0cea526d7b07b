// What the browser test (map.test.mjs) and the field benchmark (bench/field-offline.sh) share: a
// rentgrid server on a demo city, headless Debian Chromium, the demo users, a caseworker's day on
// a phone, and the two measurements issue 16 asks for: the size of the phone's offline cache of a
// caseworker's grids, and how long its outbox takes to send N queued changes.
// Not a test file itself (node --test runs only *.test.mjs here).
import { spawn } from 'node:child_process';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { chromium } from 'playwright-core';

export const DEMO_TIMEOUT_MS = 180_000;
export const LISTEN_TIMEOUT_MS = 60_000;
export const READY_TIMEOUT_MS = 90_000;

/** Runs a process to its end; rejects with its output when it fails or takes too long. */
export function run(command, args, timeoutMs) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${command} ${args.join(' ')} took over ${timeoutMs / 1000}s:\n${output}`));
    }, timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(output);
      else reject(new Error(`${command} ${args.join(' ')} exited with ${code ?? signal}:\n${output}`));
    });
  });
}

/**
 * Starts `bin serve ARGS` and resolves with the process and its URL once it prints
 * `listening on http://…` on stdout.
 */
export function startServer(bin, args, listenTimeoutMs = LISTEN_TIMEOUT_MS) {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    const keep = (line) => {
      log = (log + line + '\n').slice(-20_000);
    };
    const fail = (message) => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new Error(`${message}\n--- server output ---\n${log}`));
    };
    const timer = setTimeout(() => fail(`no "listening on" line within ${listenTimeoutMs / 1000}s`), listenTimeoutMs);
    createInterface({ input: child.stderr }).on('line', keep);
    // Reading stdout to its end also keeps the pipe from filling up while the server runs.
    createInterface({ input: child.stdout }).on('line', (line) => {
      keep(line);
      const match = /listening on (http:\/\/[^\s/]+)/.exec(line);
      if (match) {
        clearTimeout(timer);
        resolve({ child, url: match[1], log: () => log });
      }
    });
    child.on('error', (error) => fail(`could not start ${bin}: ${error.message}`));
    child.on('exit', (code, signal) => fail(`the server exited with ${code ?? signal} before listening`));
  });
}

/** Stops the server, politely first. */
export async function stopServer(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

/**
 * The demo city's users (README "Roles and demo users"; the server's demo user table): one per role
 * and a caseworker user per caseworker.
 */
/** A month (`YYYY-MM`) as the zh-CN page names it: `2026年10月`. */
export const zhMonth = (month) => `${month.slice(0, 4)}年${Number(month.slice(5, 7))}月`;

export const DEMO = {
  center: { username: 'center', password: 'center-demo-2026' },
  supervisor: { username: 'supervisor', password: 'supervisor-demo-2026' },
  caseworker: { username: 'caseworker', password: 'caseworker-demo-2026' },
  leader: { username: 'leader', password: 'leader-demo-2026' },
  sysadmin: { username: 'sysadmin', password: 'sysadmin-demo-2026' },
  secadmin: { username: 'secadmin', password: 'secadmin-demo-2026' },
  auditor: { username: 'auditor', password: 'auditor-demo-2026' },
};

/** Signs the center in and makes an API token, as a script's author would; resolves with it. */
export async function centerToken(origin, name) {
  const login = await fetch(`${origin}/api/login`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(DEMO.center),
  });
  if (login.status !== 200) throw new Error(`center login: HTTP ${login.status} ${await login.text()}`);
  const cookie = login.headers.get('set-cookie').split(';')[0];
  const { csrf } = await login.json();
  const created = await fetch(`${origin}/api/tokens`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Cookie: cookie, 'X-CSRF-Token': csrf },
    body: JSON.stringify({ name }),
  });
  if (created.status !== 201) throw new Error(`token: HTTP ${created.status} ${await created.text()}`);
  return (await created.json()).token;
}

/** Headless Debian Chromium (never a downloaded browser); WebGL runs in software (swiftshader). */
export function launchChromium() {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--disable-background-networking', '--disable-component-update', '--no-first-run', '--no-sandbox'],
  });
}

/**
 * The caseworker with the most buildings in their grids (contracts as they stand now), a new
 * campaign over those grids, theirs alone, and its day with the most stops: the stops in order.
 * `api(pathAndQuery, init)` fetches as the center.
 */
export async function busiestCaseworkerDay(api) {
  const coverage = await (await api('/api/coverage')).json();
  const grids = new Map((await (await api('/api/grids')).json()).features.map((f) => [f.properties.id, f.properties.buildings]));
  const buildingsOf = (a) => a.properties.grids.reduce((n, g) => n + (grids.get(g) ?? 0), 0);
  const area = coverage.features
    .filter((f) => f.properties.kind === 'area')
    .sort((a, b) => buildingsOf(b) - buildingsOf(a) || a.properties.caseworker_id - b.properties.caseworker_id)[0];
  const cw = area.properties.caseworker_id;
  const created = await api('/api/campaigns', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ grids: area.properties.grids, caseworkers: [cw], start_date: '2026-09-07', working_days: 260, buildings_per_day: 8 }),
  });
  if (created.status !== 201) throw new Error(`campaign: HTTP ${created.status} ${await created.text()}`);
  const campaign = await created.json();
  // The first day they have the most stops.
  const stopsOn = (d) => d.assignments.find((a) => a.caseworker_id === cw)?.buildings.length ?? 0;
  const day = campaign.plan.days.reduce((best, d) => (stopsOn(d) > stopsOn(best) ? d : best));
  const routes = await (await api(`/api/campaigns/${campaign.id}/routes?date=${day.date}`)).json();
  const planned = routes.features
    .filter((f) => f.properties.kind === 'stop' && f.properties.caseworker_id === cw)
    .sort((a, b) => a.properties.order - b.properties.order)
    .map((f) => f.properties.building_id);
  return { area, cw, campaign, day, routes, planned, buildings: buildingsOf(area) };
}

/**
 * A phone (touch, 390 px) of `browser` signed in as caseworker `cw` at `serverUrl`, and how it
 * opens their field view of `campaign` on `day`. `onPageError(error)` hears the pages' errors.
 */
export async function phoneOf(browser, serverUrl, cw, campaign, day, onPageError = () => {}) {
  const ctx = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
  const login = await ctx.request.post(`${serverUrl}/api/login`, { data: { username: `cw${cw}`, password: `cw${cw}-demo-2026` } });
  if (login.status() !== 200) throw new Error(`cw${cw} login: HTTP ${login.status()} ${await login.text()}`);
  const url = `${serverUrl}/?view=field&campaign=${campaign.id}&date=${day.date}`;
  const open = async () => {
    const p = await ctx.newPage();
    p.on('pageerror', onPageError);
    await p.goto(url);
    await p.waitForFunction(() => document.documentElement.dataset.ready === '1', null, { timeout: READY_TIMEOUT_MS });
    return p;
  };
  /** Opens the view online until the phone keeps it for offline use, then reloads it offline. */
  const openOffline = async () => {
    const p = await open();
    await p.waitForFunction(() => document.documentElement.dataset.offline !== undefined, null, { timeout: READY_TIMEOUT_MS });
    await ctx.setOffline(true);
    await p.reload();
    await p.waitForFunction(() => document.documentElement.dataset.ready === '1', null, { timeout: READY_TIMEOUT_MS });
    return p;
  };
  return { ctx, open, openOffline };
}

/** Waits until a phone page's sync line says `n` changes wait to be sent. */
export const pendingOn = (phone, n, timeout = 10_000) => phone.locator(`.rg-field-sync[data-pending="${n}"]`).waitFor({ timeout });

/**
 * What an open phone page keeps for offline use, once it has kept it: `bytes` (as the page counts
 * them), `tiles` (vector tiles) and `entries` (answers and tiles) in its data cache.
 */
export async function offlineCacheOf(phone, timeout = READY_TIMEOUT_MS) {
  await phone.waitForFunction(() => document.documentElement.dataset.offline !== undefined, null, { timeout });
  return phone.evaluate(async () => {
    const cache = await caches.open('rentgrid-data-v1');
    const keys = (await cache.keys()).map((r) => new URL(r.url).pathname);
    return { bytes: Number(document.documentElement.dataset.offline), tiles: keys.filter((k) => k.endsWith('.mvt')).length, entries: keys.length };
  });
}

/**
 * How long the outbox of phone page `phone` (of context `ctx`, signed in as caseworker `cw`)
 * takes to send `n` visits queued while offline (client ids `flush-N-i`, at `buildings` in turn,
 * of `campaign` on `today`): queued straight into IndexedDB offline, the page reloaded (from the
 * cache) until it counts them, then online until it counts none. Resolves with the seconds.
 * Leaves the context online and the page open.
 */
export async function outboxFlushSeconds(ctx, phone, { cw, campaign, buildings, today, n = 200, timeout = 300_000 }) {
  const user = `cw${cw}`;
  await ctx.setOffline(true);
  await phone.evaluate(({ user, cw, campaign, buildings, today, n }) => new Promise((resolve, reject) => {
    const open = indexedDB.open('rentgrid-field');
    open.onsuccess = () => {
      const tx = open.result.transaction('outbox', 'readwrite');
      for (let i = 0; i < n; i++) {
        const clientId = `flush-${n}-${i}`;
        const body = { client_id: clientId, building_id: buildings[i % buildings.length], caseworker_id: cw, campaign_id: campaign, visited_on: today, notes: `flush ${i}`, new_units: [] };
        tx.objectStore('outbox').add({ user, method: 'POST', path: 'visits', body, clientId, created: new Date().toISOString(), label: `flush ${i}`, state: 'pending', attempts: 0 });
      }
      tx.oncomplete = resolve;
      tx.onerror = () => reject(tx.error);
    };
    open.onerror = () => reject(open.error);
  }), { user, cw, campaign, buildings, today, n });
  await phone.reload();
  await phone.waitForFunction(() => document.documentElement.dataset.ready === '1', null, { timeout: READY_TIMEOUT_MS });
  await pendingOn(phone, n, READY_TIMEOUT_MS);
  const started = performance.now();
  await ctx.setOffline(false);
  await phone.locator('.rg-field-sync[data-pending="0"]').waitFor({ timeout });
  return (performance.now() - started) / 1000;
}

/**
 * A demo city at `scale` served with the built web map `web` (and `serveArgs`, more options of
 * `rentgrid serve`), and the center's API token: what a
 * browser test file starts from. `stop()` ends the server and removes its data.
 *
 * The test command generates the scale-0.05 city once and names its data directory in
 * `RENTGRID_DEMO_CITY`; each test file then serves a copy of it (its writes are its own) instead of
 * generating the same city again.
 */
export async function startDemoSite(bin, web, name, scale = '0.05', serveArgs = []) {
  const dataDir = await mkdtemp(path.join(tmpdir(), `rentgrid-${name}-`));
  const shared = process.env.RENTGRID_DEMO_CITY;
  if (shared && scale === '0.05') await cp(shared, dataDir, { recursive: true });
  else await run(bin, ['demo', '--data', dataDir, '--scale', scale], DEMO_TIMEOUT_MS);
  const server = await startServer(bin, ['serve', '--data', dataDir, '--listen', '127.0.0.1:0', '--web', web, ...serveArgs]);
  const origin = new URL(server.url).origin;
  const token = await centerToken(origin, `${name} browser test`);
  const stop = async () => {
    await stopServer(server.child);
    await rm(dataDir, { recursive: true, force: true });
  };
  return { url: server.url, origin, token, dataDir, stop };
}

/** Collects a page's errors, console errors and failed responses into `problems`. */
export function collectProblems(page, problems) {
  page.on('pageerror', (error) => problems.push(`page error: ${error.stack ?? error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console error: ${message.text()}`);
  });
  page.on('response', (response) => {
    if (response.status() >= 400) problems.push(`HTTP ${response.status()} for ${response.url()}`);
  });
}
