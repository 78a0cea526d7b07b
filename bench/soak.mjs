// The soak load of bench/soak.sh: many caseworker sessions, the command center and the leaders
// against one `rentgrid serve`, for SECONDS, with think times (an open crowd of people, not a
// saturating loop). Prints one JSON object: per route (method and template) the requests, p50/p99
// latency in ms, the p99 of the requests started after the first WARMUP_S seconds (default 60),
// the first request's and the slowest (with few requests a p99 is the slowest), the failures
// (status ≥ 400 or no answer), the visits acknowledged, the server's RSS every 30 s (RSS_EVERY_MS
// to change it), and over the load the CPU seconds of the server, PostgreSQL, this load generator
// and the machine, and the server's writes by phase (bench/machine.mjs).
//
//   node bench/soak.mjs BASE SECONDS CASEWORKERS THINK_MS SERVER_PID
//
// Setup (not measured): signs in CASEWORKERS demo caseworkers (`cw<id>`, spread over the ids;
// those without grids are passed over), reads each one's grids (up to 8), their tiles at z15–z16
// and the buildings in them. Then each caseworker acts at the instants of a Poisson process (mean
// gap THINK_MS, kept whatever the answers take) and each time does one thing: a tile of their
// grids (55%), a grid card (15%), a building's units card (10%), their grids' stats (10%) or a
// visit to one of their buildings (10%). Four command-center sessions read district tiles at
// z12–z14 and the street stats; two leaders read hot spots (Gi*, LISA) and the street and
// community stats every ~5 s.
import http from 'node:http';
import { request as httpRequest, json, text } from './http.mjs';
import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { cpuNow, since, writesOf } from './machine.mjs';

const [base, secondsArg = '600', cwArg = '200', thinkArg = '1000', pidArg = ''] = process.argv.slice(2);
const SECONDS = Number(secondsArg);
const CASEWORKERS = Number(cwArg);
const THINK_MS = Number(thinkArg);
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

const request = (method, path, session) => httpRequest(base, agent, method, path, session);

// A setup read: the first answers of a big city may be 503 while the server makes its views
// (the estimate behind /api/grids takes a while at scale 20); wait as Retry-After says, then fail
// with the server's words.
async function setupJson(method, path, session) {
  for (let attempt = 0; ; attempt++) {
    const r = await request(method, path, session);
    if (r.status === 200) return json(r);
    if (r.status !== 503 || attempt >= 60) {
      throw new Error(`setup: ${method} ${path} answered ${r.status}: ${r.body.toString('utf8').slice(0, 300)}`);
    }
    await new Promise((done) => setTimeout(done, 1000 * Number(r.headers['retry-after'] ?? 5)));
  }
}

async function login(username, password) {
  const r = await request('POST', '/api/login', { body: { username, password } });
  if (r.status !== 200) return null;
  const cookie = (r.headers['set-cookie'] ?? []).map((c) => c.split(';')[0]).join('; ');
  return { cookie, csrf: json(r).csrf, me: json(r) };
}

// Tile coordinates covering a lon/lat box at zoom z.
function tilesOf([w, s, e, n], z) {
  const x = (lon) => Math.floor(((lon + 180) / 360) * 2 ** z);
  const y = (lat) => {
    const r = (lat * Math.PI) / 180;
    return Math.floor(((1 - Math.log(Math.tan(r) + 1 / Math.cos(r)) / Math.PI) / 2) * 2 ** z);
  };
  const out = [];
  for (let tx = x(w); tx <= x(e); tx++) for (let ty = y(n); ty <= y(s); ty++) out.push([z, tx, ty]);
  return out;
}

function bboxOf(geometry) {
  let [w, s, e, n] = [180, 90, -180, -90];
  const walk = (c) => {
    if (typeof c[0] === 'number') {
      [w, s, e, n] = [Math.min(w, c[0]), Math.min(s, c[1]), Math.max(e, c[0]), Math.max(n, c[1])];
    } else c.forEach(walk);
  };
  walk(geometry.coordinates);
  return [w, s, e, n];
}

const pick = (xs) => xs[Math.floor(Math.random() * xs.length)];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const think = () => sleep(-Math.log(1 - Math.random()) * THINK_MS);

// Per route: latencies (all, and of the requests started after the warm-up) and failures.
const WARMUP_MS = 1000 * Number(process.env.WARMUP_S ?? 60);
let loadStart = Infinity;
const routes = new Map();
function note(route, r) {
  let e = routes.get(route);
  if (!e) routes.set(route, (e = { ms: [], warm: [], first: r.ms, failures: 0, statuses: {} }));
  e.ms.push(r.ms);
  if (Date.now() - r.ms >= loadStart + WARMUP_MS) e.warm.push(r.ms);
  e.statuses[r.status] = (e.statuses[r.status] ?? 0) + 1;
  if (!(r.status >= 200 && r.status < 400)) e.failures++;
}

// ---- setup ----
const center = await login('center', 'center-demo-2026');
const leader = await login('leader', 'leader-demo-2026');
if (!center || !leader) throw new Error('the demo users center and leader could not sign in');
const district = await setupJson('GET', '/api/district', center);
const districtBox = district.bbox ?? bboxOf(district.geometry ?? district.features?.[0]?.geometry);
const centerTiles = [12, 13, 14].flatMap((z) => tilesOf(districtBox, z));

// Caseworker ids: spread over 1..MAX_ID, those that sign in and hold grids.
const maxId = Number(process.env.MAX_CASEWORKER_ID ?? 12_000);
const step = Math.max(1, Math.floor(maxId / (CASEWORKERS * 1.5)));
const sessions = [];
for (let id = 1; id <= maxId && sessions.length < CASEWORKERS; id += step) {
  const s = await login(`cw${id}`, `cw${id}-demo-2026`);
  if (!s) continue;
  const mine = (await setupJson('GET', '/api/grids', s)).features.slice(0, 8);
  const grids = mine.map((f) => f.properties.id);
  const tiles = [];
  const buildings = [];
  for (const f of mine) {
    const g = f.properties.id;
    const box = bboxOf(f.geometry);
    tiles.push(...tilesOf(box, 15), ...tilesOf(box, 16));
    const bs = await setupJson('GET', `/api/buildings?bbox=${box.join(',')}&limit=200`, s);
    buildings.push(...bs.features.filter((b) => b.properties.grid_id === g).map((b) => b.properties.id));
  }
  if (buildings.length === 0) continue;
  sessions.push({ ...s, id, grids, tiles, buildings });
}
if (sessions.length === 0) throw new Error('no demo caseworker with grids signed in');

// The CPU times and the server's write phases now (its metrics read as the auditor).
const auditor = await login('auditor', 'auditor-demo-2026');
if (!auditor) throw new Error('the demo auditor could not sign in (to read /metrics)');
async function reading() {
  const r = await request('GET', '/metrics', auditor);
  if (r.status !== 200) throw new Error(`GET /metrics answered ${r.status}`);
  return { cpu: cpuNow(pidArg ? [pidArg] : []), writes: writesOf(text(r)) };
}

// ---- run ----
const before = await reading();
loadStart = Date.now();
const deadline = loadStart + SECONDS * 1000;
let visits = 0;
const rss = [];
function sampleRss() {
  if (!pidArg) return;
  try {
    const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pidArg}/status`, 'utf8'))[1]);
    rss.push({ t: Math.round((SECONDS * 1000 - (deadline - Date.now())) / 1000), mib: Math.round(kb / 1024) });
  } catch {
    rss.push({ t: -1, mib: null });
  }
}
sampleRss();
const sampler = setInterval(sampleRss, Number(process.env.RSS_EVERY_MS ?? 30_000));

// Each caseworker acts at the instants of a Poisson process (gaps of mean THINK_MS) drawn
// whatever the answers take, so the load offered does not fall when the server slows: a slow
// answer only delays that caseworker's next action until it arrives, and it then catches up.
// With the defaults of bench/city.sh (500 caseworkers, 1 s) that is 50 visits a second.
async function caseworker(s) {
  let next = Date.now() + Math.random() * THINK_MS;
  for (;;) {
    await sleep(Math.max(0, next - Date.now()));
    if (Date.now() >= deadline) break;
    next += -Math.log(1 - Math.random()) * THINK_MS;
    const p = Math.random();
    if (p < 0.55) {
      const [z, x, y] = pick(s.tiles);
      const layer = pick(['buildings', 'rental_units', 'grids']);
      note(`GET /tiles/${layer}/{z}/{x}/{y}`, await request('GET', `/tiles/${layer}/${z}/${x}/${y}.mvt`, s));
    } else if (p < 0.7) {
      note('GET /api/grids/{id}', await request('GET', `/api/grids/${pick(s.grids)}`, s));
    } else if (p < 0.8) {
      note('GET /api/buildings/{id}/units', await request('GET', `/api/buildings/${pick(s.buildings)}/units`, s));
    } else if (p < 0.9) {
      note('GET /api/stats?level=grid', await request('GET', '/api/stats?level=grid', s));
    } else {
      const body = { client_id: randomUUID(), building_id: pick(s.buildings), caseworker_id: s.id };
      const r = await request('POST', '/api/visits', { ...s, body });
      note('POST /api/visits', r);
      if (r.status === 201) visits++;
    }
  }
}

async function commandCenter() {
  while (Date.now() < deadline) {
    if (Math.random() < 0.9) {
      const [z, x, y] = pick(centerTiles);
      const layer = pick(['grids', 'heat', 'boundaries']);
      note(`GET /tiles/${layer}/{z}/{x}/{y}`, await request('GET', `/tiles/${layer}/${z}/${x}/${y}.mvt`, center));
    } else {
      note('GET /api/stats?level=street', await request('GET', '/api/stats?level=street', center));
    }
    await think();
  }
}

// The metrics of the leaders' view (`HotspotMetric` in web-map/src/api.ts).
const LEADERS_METRICS = ['unregistered_per_km2', 'reg_rate', 'rental_rate', 'persons_per_km2'];

async function leaders() {
  while (Date.now() < deadline) {
    const [route, path] = pick([
      // As the leaders' view asks (`fetchHotspots`): Gi* of one of its metrics, without outlines
      // (the map draws the grids from tiles).
      [
        '/api/hotspots?method=gi&metric={metric}&weights=queen&geometry=false',
        `/api/hotspots?method=gi&metric=${pick(LEADERS_METRICS)}&weights=queen&geometry=false`,
      ],
      // An analysis the view does not prepare: Local Moran's I, as a map client would ask it.
      ['/api/hotspots?method=lisa&geometry=false', '/api/hotspots?method=lisa&geometry=false'],
      ['/api/stats?level=street', '/api/stats?level=street'],
      ['/api/stats?level=community', '/api/stats?level=community'],
    ]);
    note(`GET ${route}`, await request('GET', path, leader));
    await sleep(5000 * (0.5 + Math.random()));
  }
}

const t0 = Date.now();
await Promise.all([
  ...sessions.map(caseworker),
  ...Array.from({ length: 4 }, commandCenter),
  ...Array.from({ length: 2 }, leaders),
]);
clearInterval(sampler);
sampleRss();
const seconds = (Date.now() - t0) / 1000;
const machine = since(before, await reading(), (Date.now() - loadStart) / 1000);
agent.destroy();

const pct = (xs, p) => xs[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))] ?? 0;
const table = [...routes.entries()]
  .map(([route, e]) => {
    e.ms.sort((a, b) => a - b);
    e.warm.sort((a, b) => a - b);
    return {
      route,
      requests: e.ms.length,
      rps: Number((e.ms.length / seconds).toFixed(1)),
      p50_ms: Number(pct(e.ms, 50).toFixed(1)),
      p99_ms: Number(pct(e.ms, 99).toFixed(1)),
      warm_requests: e.warm.length,
      warm_p99_ms: Number(pct(e.warm, 99).toFixed(1)),
      first_ms: Number(e.first.toFixed(1)),
      max_ms: Number(e.ms[e.ms.length - 1].toFixed(1)),
      failures: e.failures,
      statuses: e.statuses,
    };
  })
  .sort((a, b) => b.requests - a.requests);
console.log(
  JSON.stringify({
    seconds: Number(seconds.toFixed(1)),
    caseworkers: sessions.length,
    think_ms: THINK_MS,
    warmup_s: WARMUP_MS / 1000,
    requests: table.reduce((n, r) => n + r.requests, 0),
    failures: table.reduce((n, r) => n + r.failures, 0),
    visits_acknowledged: visits,
    routes: table,
    rss,
    ...machine,
  }),
);
