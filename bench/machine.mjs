// What a load script reads of the machine and the server beside its latencies (bench/soak.mjs):
// CPU time from /proc (Linux) of the server processes, of PostgreSQL (every `postgres` process
// with the time of its ended children: backends of closed connections) and of the whole machine,
// this process's own; and the server's writes by phase from its `GET /metrics`
// (`rentgrid_write_duration_seconds`, `rentgrid_visits_per_commit`), read as the auditor.
// `since(a, b)` turns two readings into what happened between them.
import { readFileSync, readdirSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

const HZ = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim());

// A process's CPU seconds, its own and its ended children's; null when it is gone.
function times(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    // After the name: state, ppid, … utime (the 14th field), stime, cutime, cstime.
    const [utime, stime, cutime, cstime] = f.slice(11, 15).map(Number);
    return { comm: s.slice(s.indexOf('(') + 1, s.lastIndexOf(')')), own: (utime + stime) / HZ, ended: (cutime + cstime) / HZ };
  } catch {
    return null;
  }
}

// CPU seconds now: `servers` (the given pids), `postgres`, `machine` busy and idle, `self`.
export function cpuNow(serverPids) {
  let postgres = 0;
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    const t = times(p);
    if (t?.comm === 'postgres') postgres += t.own + t.ended;
  }
  // user nice system idle iowait irq softirq steal
  const v = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const self = process.cpuUsage();
  return {
    servers: serverPids.reduce((n, p) => n + (times(p)?.own ?? 0), 0),
    postgres,
    machine_busy: (v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / HZ,
    machine_idle: (v[3] + v[4]) / HZ,
    self: (self.user + self.system) / 1e6,
  };
}

// The write phases' histograms as `GET /metrics` answers them: per phase the count, the sum in
// seconds and the cumulative bucket counts by upper bound; and as `visits_per_commit` the
// transactions of visits committed together (count) and their visits (sum).
export function writesOf(text) {
  const out = {};
  for (const line of text.split('\n')) {
    const together = /^rentgrid_visits_per_commit_(sum|count) (\S+)$/.exec(line);
    if (together) {
      (out.visits_per_commit ??= { count: 0, sum: 0, buckets: {} })[together[1]] = Number(together[2]);
      continue;
    }
    const m = /^rentgrid_write_duration_seconds_(sum|count|bucket)\{(.*)\} (\S+)$/.exec(line);
    if (!m) continue;
    const labels = Object.fromEntries([...m[2].matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    const p = (out[labels.phase] ??= { count: 0, sum: 0, buckets: {} });
    if (m[1] === 'bucket') p.buckets[labels.le] = Number(m[3]);
    else p[m[1]] = Number(m[3]);
  }
  return out;
}

// What happened between readings `a` and `b` over `seconds`: CPU seconds per part (`other`: the
// rest of the machine's busy time, this process's included when it is not named), and per write
// phase the count, the mean, the bucket bound under which 99% fell, and the share of the time
// spent in it; the commits of visits and the mean visits per commit.
export function since(a, b, seconds) {
  const d = (k) => Number((b.cpu[k] - a.cpu[k]).toFixed(1));
  const cpu = {
    seconds: Number(seconds.toFixed(1)),
    servers: d('servers'),
    postgres: d('postgres'),
    load_generator: d('self'),
    machine_busy: d('machine_busy'),
    machine_idle: d('machine_idle'),
  };
  const writes = {};
  for (const [phase, w] of Object.entries(b.writes ?? {})) {
    const before = a.writes?.[phase] ?? { count: 0, sum: 0, buckets: {} };
    const count = w.count - before.count;
    if (count <= 0) continue;
    const sum = w.sum - before.sum;
    if (phase === 'visits_per_commit') {
      writes[phase] = { count, mean: Number((sum / count).toFixed(2)) };
      continue;
    }
    const bounds = Object.keys(w.buckets).sort((x, y) => (x === '+Inf') - (y === '+Inf') || Number(x) - Number(y));
    const p99 = bounds.find((le) => w.buckets[le] - (before.buckets[le] ?? 0) >= 0.99 * count);
    writes[phase] = {
      count,
      mean_ms: Number(((1000 * sum) / count).toFixed(1)),
      p99_under_ms: p99 === '+Inf' ? null : 1000 * Number(p99),
      share_of_time: Number((sum / seconds).toFixed(3)),
    };
  }
  return { cpu, writes };
}
