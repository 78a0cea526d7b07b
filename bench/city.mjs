// The staleness probe of bench/city.sh: every INTERVAL_MS one visit that finds a new registered
// rental unit is recorded through WRITE_BASE (as the command center), and from its answer the
// derived views are read through READ_BASE (the same server, or another on the same database)
// until each first shows it. Prints one JSON object: per view the times from the write's answer
// to its first appearance (p50, p99, max, and how many never appeared within GIVE_UP_MS); and
// the time of the requests issue 17 names, each asked once right after each write through
// READ_BASE (hot spots, unregistered candidates, the month's assessment, the per-grid stats).
//
//   node bench/city.mjs WRITE_BASE READ_BASE SECONDS [INTERVAL_MS]
//
// The views: the grid's card (`/api/grids/{id}`), the per-grid stats (`/api/stats?level=grid`),
// the grid's vector tile at z12 (`/tiles/grids/…`, its bytes changed), the big screen's latest
// visits (`/api/summary`, read from the store) and the hot spots (`/api/hotspots?method=gi`
// without outlines, as the leaders' view asks, whose `data_version` reaches the data version the
// write made; asked every 500 ms, not every 10 ms: each answer is megabytes at scale 20, and it
// is remade at most every --analysis-interval).
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import { request as httpRequest, json as parse } from './http.mjs';

const [writeBase, readBase, secondsArg = '60', intervalArg = '2000'] = process.argv.slice(2);
const SECONDS = Number(secondsArg);
const INTERVAL_MS = Number(intervalArg);
const GIVE_UP_MS = 60_000;
const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });

const request = (base, method, path, session) => httpRequest(base, agent, method, path, session);
const json = (r) => (r.status === 200 || r.status === 201 ? parse(r) : null);

// Signs in as the command center: its cookie and CSRF token.
async function signIn(base) {
  const r = await request(base, 'POST', '/api/login', { body: { username: 'center', password: 'center-demo-2026' } });
  if (r.status !== 200) throw new Error(`${base}: center could not sign in (${r.status})`);
  const cookie = (r.headers['set-cookie'] ?? []).map((c) => c.split(';')[0]).join('; ');
  return { cookie, csrf: parse(r).csrf };
}

function tileOf([lon, lat], z) {
  const r = (lat * Math.PI) / 180;
  const x = Math.floor(((lon + 180) / 360) * 2 ** z);
  const y = Math.floor(((1 - Math.log(Math.tan(r) + 1 / Math.cos(r)) / Math.PI) / 2) * 2 ** z);
  return `/tiles/grids/${z}/${x}/${y}.mvt`;
}

const firstPosition = (g) => {
  let c = g.coordinates;
  while (Array.isArray(c[0])) c = c[0];
  return c;
};

const writer = await signIn(writeBase);
const reader = await signIn(readBase);
const district = json(await request(readBase, 'GET', '/api/district', reader));
const found = json(await request(readBase, 'GET', `/api/buildings?bbox=${district.bbox.join(',')}&limit=50`, reader));
const building = found.features[Math.floor(found.features.length / 2)];
const grid = building.properties.grid_id;
const tile = tileOf(firstPosition(building.geometry), 12);

const gridUnits = async () => json(await request(readBase, 'GET', `/api/grids/${grid}`, reader))?.properties?.rental_units;
const statsUnits = async () => {
  const s = json(await request(readBase, 'GET', '/api/stats?level=grid', reader));
  const rows = s?.rows ?? s?.places ?? s?.features ?? s ?? [];
  const row = (Array.isArray(rows) ? rows : []).find((r) => (r.id ?? r.properties?.id ?? r.grid_id) === grid);
  return row?.rental_units ?? row?.properties?.rental_units ?? row?.kpi?.rental_units;
};
const tileBytes = async () => (await request(readBase, 'GET', tile, reader)).body.toString('base64');
const recentIds = async () => (json(await request(readBase, 'GET', '/api/summary?recent=50', reader))?.recent ?? []).map((v) => v.id);
const HOTSPOTS = '/api/hotspots?method=gi&weights=queen&geometry=false';
const hotspotVersion = async () => json(await request(readBase, 'GET', HOTSPOTS, reader))?.data_version;

// The requests timed right after each write (issue 17's table).
const month = new Date().toISOString().slice(0, 7);
const afterWrite = {
  'GET /api/hotspots?method=gi': HOTSPOTS,
  'GET /api/unregistered-candidates': `/api/unregistered-candidates?bbox=${district.bbox.join(',')}&limit=50`,
  'GET /api/assessment?month=…': `/api/assessment?month=${month}`,
  'GET /api/stats?level=grid': '/api/stats?level=grid',
};
const afterWriteMs = Object.fromEntries(Object.keys(afterWrite).map((k) => [k, { ms: [], failures: 0 }]));
const dataVersion = async () => json(await request(writeBase, 'GET', '/api/summary?recent=0', writer))?.version;

const views = {
  'grid card': [],
  'stats level=grid': [],
  'grid tile z12': [],
  'latest visits (store)': [],
  'hot spots Gi*': [],
};
const never = Object.fromEntries(Object.keys(views).map((k) => [k, 0]));

// Waits until `shown()` holds, asking every `every` ms; records the time from `since` under `view`.
async function until(view, since, shown, every = 10) {
  while (Date.now() - since < GIVE_UP_MS) {
    if (await shown()) {
      views[view].push(Date.now() - since);
      return;
    }
    await new Promise((r) => setTimeout(r, every));
  }
  never[view]++;
}

const deadline = Date.now() + SECONDS * 1000;
let n = 0;
let failures = 0;
const probes = [];
while (Date.now() < deadline) {
  const started = Date.now();
  const [units, bytes] = [await gridUnits(), await tileBytes()];
  const body = {
    client_id: randomUUID(),
    building_id: building.id,
    new_units: [{ label: `city-${process.pid}-${n++}`, tenants: 1, registered: true }],
  };
  const r = await request(writeBase, 'POST', '/api/visits', { ...writer, body });
  const answered = Date.now();
  const made = json(r);
  if (!made) {
    failures++;
    continue;
  }
  const id = made.visit.id;
  for (const [name, path] of Object.entries(afterWrite)) {
    const a = await request(readBase, 'GET', path, reader);
    if (a.status === 200) afterWriteMs[name].ms.push(a.ms);
    else afterWriteMs[name].failures++;
  }
  const version = await dataVersion();
  probes.push(
    Promise.all([
      until('grid card', answered, async () => (await gridUnits()) >= units + 1),
      until('stats level=grid', answered, async () => (await statsUnits()) >= units + 1),
      until('grid tile z12', answered, async () => (await tileBytes()) !== bytes),
      until('latest visits (store)', answered, async () => (await recentIds()).includes(id)),
      until('hot spots Gi*', answered, async () => (await hotspotVersion()) >= version, 500),
    ]),
  );
  const wait = INTERVAL_MS - (Date.now() - started);
  if (wait > 0) await new Promise((res) => setTimeout(res, wait));
}
await Promise.all(probes);
agent.destroy();

const pct = (xs, p) => xs[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))] ?? null;
console.log(
  JSON.stringify({
    writes: n,
    write_failures: failures,
    staleness_ms: Object.fromEntries(
      Object.entries(views).map(([k, xs]) => {
        xs.sort((a, b) => a - b);
        return [k, { samples: xs.length, p50: pct(xs, 50), p99: pct(xs, 99), max: xs.at(-1) ?? null, never: never[k] }];
      }),
    ),
    after_write_ms: Object.fromEntries(
      Object.entries(afterWriteMs).map(([k, { ms, failures: f }]) => {
        ms.sort((a, b) => a - b);
        const r = (x) => (x === null ? null : Number(x.toFixed(1)));
        return [k, { samples: ms.length, p50: r(pct(ms, 50)), p99: r(pct(ms, 99)), max: r(ms.at(-1) ?? null), failures: f }];
      }),
    ),
  }),
);
