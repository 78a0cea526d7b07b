// The HTTP client of the load scripts (bench/soak.mjs, bench/city.mjs): one request as a session
// (its cookie and CSRF token), a JSON body if any, gzip accepted. Resolves, never rejects, to the
// status (0: no answer), the headers, the raw body and the time taken in ms.
import http from 'node:http';
import { gunzipSync } from 'node:zlib';

export function request(base, agent, method, path, { cookie, csrf, body } = {}) {
  const url = new URL(base);
  return new Promise((resolve) => {
    const headers = { 'Accept-Encoding': 'gzip' };
    if (cookie) headers.Cookie = cookie;
    if (csrf) headers['X-CSRF-Token'] = csrf;
    let payload;
    if (body !== undefined) {
      payload = Buffer.from(JSON.stringify(body));
      headers['Content-Type'] = 'application/json';
      headers['Content-Length'] = payload.length;
    }
    const start = process.hrtime.bigint();
    const ms = () => Number(process.hrtime.bigint() - start) / 1e6;
    const req = http.request(
      { host: url.hostname, port: url.port, path, method, agent, headers, timeout: 60_000 },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks), ms: ms() }));
        res.on('error', () => resolve({ status: 0, headers: {}, body: Buffer.alloc(0), ms: ms() }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve({ status: 0, headers: {}, body: Buffer.alloc(0), ms: ms() }));
    if (payload) req.write(payload);
    req.end();
  });
}

// The text of an answer (gunzipped when it came so).
export const text = (r) => (r.headers['content-encoding'] === 'gzip' ? gunzipSync(r.body) : r.body).toString('utf8');
// The JSON of an answer.
export const json = (r) => JSON.parse(text(r));
