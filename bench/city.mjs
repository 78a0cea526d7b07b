// The staleness probe of bench/city.sh: every INTERVAL_MS one visit that finds a new registered
// rental unit is recorded through WRITE_BASE (as the command center), and the derived views are
// read through READ_BASE (the same server, or another on the same database) as an open map reads
// them: it follows READ_BASE's `GET /api/events` and asks a view again when an event touches the
// visited grid (or says to reload everything), until the view first shows the write; it polls
// every second only while the stream is down. Prints one JSON object: per view the times from
// the write's answer to its first appearance (p50, p99, max, and how many never appeared within
// GIVE_UP_MS), the time to the event itself (push), and the time of the requests issue 17 names,
// each asked once right after each write through READ_BASE (hot spots, unregistered candidates,
// the month's assessment, the per-grid stats). Before it writes, it waits until every view has
// answered once (a server just started reads the derived views' inputs when first asked).
//
//   node bench/city.mjs WRITE_BASE READ_BASE SECONDS [INTERVAL_MS]
//
// The views: the grid's card (`/api/grids/{id}`), the per-grid stats (`/api/stats?level=grid`),
// the grid's vector tile at z12 (`/tiles/grids/…`, its bytes changed), the big screen's latest
// visits (`/api/summary`, read from the store) and the hot spots (`/api/hotspots?method=gi`
// without outlines, as the leaders' view asks, whose `data_version` reaches the version of the
// write's event; no event says a hot-spot run ended, so asked every 500 ms: each answer is
// megabytes at scale 20, and it is remade at most every --analysis-interval).
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import { request as httpRequest, json as parse } from './http.mjs';

const [writeBase, readBase, secondsArg = '60', intervalArg = '2000'] = process.argv.slice(2);
const SECONDS = Number(secondsArg);
const INTERVAL_MS = Number(intervalArg);
const GIVE_UP_MS = 60_000;
const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
const gunzipAsync = promisify(gunzip);

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
// Every grid's stats are 27 MB of JSON at scale 20: gunzipped on libuv's threads and searched
// for the grid's row as bytes (rows are flat objects) rather than parsed whole, which stalled this
// process's one thread for about 350 ms (gunzip 110, parse 235) and so delayed every request
// timed meanwhile; parsed whole only if the row is not found so.
const statsUnits = async () => {
  const r = await request(readBase, 'GET', '/api/stats?level=grid', reader);
  if (r.status !== 200) return null;
  const body = r.headers['content-encoding'] === 'gzip' ? await gunzipAsync(r.body) : r.body;
  const at = body.indexOf(`"grid_id":${grid},`);
  if (at > 0) {
    try {
      const row = JSON.parse(body.subarray(body.lastIndexOf('{', at), body.indexOf('}', at) + 1).toString('utf8'));
      if (row.grid_id === grid) return row.rental_units;
    } catch {
      // Not a flat row after all: parsed whole below.
    }
  }
  return JSON.parse(body.toString('utf8')).rows?.find((row) => row.grid_id === grid)?.rental_units;
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

const views = {
  'event (push)': [],
  'grid card': [],
  'stats level=grid': [],
  'grid tile z12': [],
  'latest visits (store)': [],
  'hot spots Gi*': [],
};
const never = Object.fromEntries(Object.keys(views).map((k) => [k, 0]));
let streamDrops = 0;

// The writes waited on. Each: when its request was sent and answered, when the first event
// touching the grid after it was sent arrived (and that event's version), and its views not yet
// seen to show it, each a check with at most one request in flight.
const waiting = [];

// Asks each waiting write's views that have no request in flight; records those that show it.
function recheck() {
  for (const w of waiting) {
    for (const [view, c] of w.checks) {
      if (c.asking) continue;
      c.asking = true;
      c.shown().then((yes) => {
        c.asking = false;
        if (!yes || !w.checks.has(view)) return;
        views[view].push(Math.max(0, Date.now() - w.answered));
        w.checks.delete(view);
      });
    }
  }
}

// Follows READ_BASE's event stream for as long as the probe runs, reconnecting when it drops.
let streaming = false;
let following = true;
let stopStream = () => {};
const stream = (async () => {
  while (following) {
    await new Promise((done) => {
      const url = new URL(readBase);
      const req = http.get(
        { host: url.hostname, port: url.port, path: '/api/events', headers: { Cookie: reader.cookie, Accept: 'text/event-stream' } },
        (res) => {
          if (res.statusCode !== 200) {
            res.resume();
            return done();
          }
          streaming = true;
          let buffered = '';
          res.setEncoding('utf8');
          res.on('data', (chunk) => {
            buffered += chunk;
            let end;
            while ((end = buffered.indexOf('\n\n')) >= 0) {
              const message = buffered.slice(0, end);
              buffered = buffered.slice(end + 2);
              const data = message.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5)).join('\n');
              if (data) heard(JSON.parse(data));
            }
          });
          res.on('end', done);
          res.on('error', done);
        },
      );
      req.on('error', done);
      stopStream = () => req.destroy();
    });
    if (streaming && following) streamDrops++;
    streaming = false;
    if (following) await new Promise((r) => setTimeout(r, 1000));
  }
})();

// An event: the write it is the first to tell of (the newest one sent, if the event touches the
// visited grid), then every waiting view asked again if the event may concern it.
function heard(event) {
  const touches = event.kind !== 'change' || (event.grids ?? []).includes(grid);
  if (!touches) return;
  const now = Date.now();
  const newest = waiting.at(-1);
  if (event.kind === 'change' && newest && newest.eventAt === null) {
    newest.eventAt = now;
    newest.version = event.version;
    if (newest.answered !== null) views['event (push)'].push(Math.max(0, now - newest.answered));
  }
  recheck();
}

// While the stream is down the probe polls, as the web map falls back to polling; writes waited
// on for GIVE_UP_MS are counted as never shown.
const sweeper = setInterval(() => {
  if (!streaming) recheck();
  const now = Date.now();
  for (let i = waiting.length - 1; i >= 0; i--) {
    const w = waiting[i];
    if (w.answered !== null && now - w.answered > GIVE_UP_MS && !w.gaveUp) {
      w.gaveUp = true;
      for (const view of w.checks.keys()) never[view]++;
      if (w.eventAt === null) never['event (push)']++;
      w.checks.clear();
    }
    if (w.checks.size === 0 && w.hotspots) waiting.splice(i, 1);
  }
}, 1000);

// Asks the hot spots every 500 ms until their data version reaches the write's event's.
async function hotspotsOf(w) {
  while (Date.now() - w.answered < GIVE_UP_MS) {
    if (w.version !== null && (await hotspotVersion()) >= w.version) {
      views['hot spots Gi*'].push(Date.now() - w.answered);
      return;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  never['hot spots Gi*']++;
}

// Each view answers once before anything is timed: a server just started reads the inputs of
// the derived views (tens of seconds at scale 20) when they are first asked for.
const warmUntil = Date.now() + 300_000;
while (Date.now() < warmUntil && !(Number.isFinite(await gridUnits()) && Number.isFinite(await statsUnits()))) {
  await new Promise((r) => setTimeout(r, 1000));
}
for (const path of Object.values(afterWrite)) await request(readBase, 'GET', path, reader);

const deadline = Date.now() + SECONDS * 1000;
let n = 0;
let failures = 0;
const hotspotProbes = [];
while (Date.now() < deadline) {
  const started = Date.now();
  const [units, bytes] = [await gridUnits(), await tileBytes()];
  const body = {
    client_id: randomUUID(),
    building_id: building.id,
    new_units: [{ label: `city-${process.pid}-${n++}`, tenants: 1, registered: true }],
  };
  const w = { sent: Date.now(), answered: null, eventAt: null, version: null, checks: new Map(), hotspots: false };
  waiting.push(w);
  const r = await request(writeBase, 'POST', '/api/visits', { ...writer, body });
  w.answered = Date.now();
  const made = json(r);
  if (!made) {
    failures++;
    waiting.splice(waiting.indexOf(w), 1);
    continue;
  }
  const id = made.visit.id;
  // The event may have come before the answer (through the same server it is sent as the write
  // is applied, before the answer leaves): that counts as no wait.
  if (w.eventAt !== null) views['event (push)'].push(0);
  const checks = {
    'grid card': async () => (await gridUnits()) >= units + 1,
    'stats level=grid': async () => (await statsUnits()) >= units + 1,
    'grid tile z12': async () => (await tileBytes()) !== bytes,
    'latest visits (store)': async () => (await recentIds()).includes(id),
  };
  for (const [view, shown] of Object.entries(checks)) w.checks.set(view, { shown, asking: false });
  // Asked once now (the event may have come already), beside the requests timed below.
  recheck();
  hotspotProbes.push(hotspotsOf(w).then(() => (w.hotspots = true)));
  for (const [name, path] of Object.entries(afterWrite)) {
    const a = await request(readBase, 'GET', path, reader);
    if (a.status === 200) afterWriteMs[name].ms.push(a.ms);
    else afterWriteMs[name].failures++;
  }
  const wait = INTERVAL_MS - (Date.now() - started);
  if (wait > 0) await new Promise((res) => setTimeout(res, wait));
}
await Promise.all(hotspotProbes);
while (waiting.some((w) => w.checks.size > 0)) await new Promise((r) => setTimeout(r, 200));
following = false;
stopStream();
clearInterval(sweeper);
await stream;
agent.destroy();

const pct = (xs, p) => xs[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))] ?? null;
console.log(
  JSON.stringify({
    writes: n,
    write_failures: failures,
    event_stream_drops: streamDrops,
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
