// A small HTTP load generator for bench/tiles.sh: GETs every URL of a list (one per line) with
// `concurrency` keep-alive connections, asking for gzip as browsers do, and prints one JSON line:
// requests, seconds, throughput, p50/p99 latency in ms, statuses, bytes received and the largest
// response. With RAW=1 it does not ask for gzip, so `max_kib` is the largest tile as encoded.
//
//   [RAW=1] node bench/load.mjs URLS_FILE [concurrency=16] [label]
import { readFileSync } from 'node:fs';
import http from 'node:http';

const [file, concArg = '16', label = ''] = process.argv.slice(2);
const urls = readFileSync(file, 'utf8').split('\n').filter(Boolean);
const concurrency = Number(concArg);
const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
const headers = process.env.RAW === '1' ? {} : { 'Accept-Encoding': 'gzip' };
// AUTHORIZATION (e.g. `Bearer rgt_…`), when set, is sent with every request.
if (process.env.AUTHORIZATION) headers.Authorization = process.env.AUTHORIZATION;

function get(url) {
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    const req = http.get(url, { agent, headers }, (res) => {
      let bytes = 0;
      res.on('data', (chunk) => (bytes += chunk.length));
      res.on('end', () => resolve({ status: res.statusCode, bytes, ms: Number(process.hrtime.bigint() - start) / 1e6 }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

const latencies = [];
const statuses = {};
let bytes = 0;
let maxBytes = 0;
let next = 0;
const t0 = process.hrtime.bigint();
await Promise.all(
  Array.from({ length: concurrency }, async () => {
    while (next < urls.length) {
      const r = await get(urls[next++]);
      latencies.push(r.ms);
      statuses[r.status] = (statuses[r.status] ?? 0) + 1;
      bytes += r.bytes;
      maxBytes = Math.max(maxBytes, r.bytes);
    }
  }),
);
const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
latencies.sort((a, b) => a - b);
const pct = (p) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] ?? 0;
agent.destroy();
console.log(
  JSON.stringify({
    label,
    requests: latencies.length,
    seconds: Number(seconds.toFixed(3)),
    rps: Number((latencies.length / seconds).toFixed(1)),
    p50_ms: Number(pct(50).toFixed(2)),
    p99_ms: Number(pct(99).toFixed(2)),
    statuses,
    kib: Math.round(bytes / 1024),
    max_kib: Number((maxBytes / 1024).toFixed(1)),
  }),
);
