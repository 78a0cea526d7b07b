// The phone's offline figures for bench/field-offline.sh (issue 16): a rentgrid server on the
// given demo city with the built web map, headless Debian Chromium on a phone viewport, the
// caseworker with the most buildings in their grids on their busiest day of a new campaign, and
// the two measurements the browser test makes at scale 0.05 (tests/browser/harness.mjs, shared):
//   1. what the phone keeps for offline use (answers, vector tiles, MB) and how long it took;
//   2. how long its outbox takes to send N visits queued offline.
// Prints one JSON line on stdout; progress on stderr.
//
//   node bench/field-offline.mjs BIN DATA_DIR WEB_DIR [N=200]
import { centerToken, launchChromium, offlineCacheOf, outboxFlushSeconds, phoneOf, startServer, stopServer, busiestCaseworkerDay } from '../tests/browser/harness.mjs';

const [bin, data, web, nArg = '200'] = process.argv.slice(2);
if (!bin || !data || !web) {
  console.error('usage: node bench/field-offline.mjs BIN DATA_DIR WEB_DIR [N]');
  process.exit(2);
}
const n = Number(nArg);
/** The phone's day as the web map counts it (`localToday`): the browser runs on this machine. */
const localToday = () => {
  const d = new Date();
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
};
const log = (line) => console.error(`== ${line}`);

const server = await startServer(bin, ['serve', '--data', data, '--listen', '127.0.0.1:0', '--web', web], 600_000);
let browser;
try {
  const origin = new URL(server.url).origin;
  const token = await centerToken(origin, 'field bench');
  const api = (pathAndQuery, init = {}) =>
    fetch(`${origin}${pathAndQuery}`, { ...init, headers: { ...init.headers, Authorization: `Bearer ${token}` } });
  const { area, cw, campaign, day, planned, buildings } = await busiestCaseworkerDay(api);
  log(`caseworker ${cw}: ${area.properties.grids.length} grids, ${buildings} buildings; campaign ${campaign.id}, ${day.date}: ${planned.length} stops`);

  browser = await launchChromium();
  const errors = [];
  const { ctx, open } = await phoneOf(browser, server.url, cw, campaign, day, (e) => errors.push(e.message));
  const started = performance.now();
  const phone = await open();
  const offline = await offlineCacheOf(phone, 600_000);
  const keptSeconds = (performance.now() - started) / 1000;
  log(`offline cache: ${offline.entries} answers, ${offline.tiles} tiles, ${(offline.bytes / 1e6).toFixed(2)} MB, kept in ${keptSeconds.toFixed(1)} s`);

  const flush = await outboxFlushSeconds(ctx, phone, { cw, campaign: campaign.id, buildings: planned, today: localToday(), n, timeout: 1_200_000 });
  log(`outbox: ${n} queued changes sent in ${flush.toFixed(1)} s`);
  const visits = (await (await api(`/api/campaigns/${campaign.id}/visits?date=${localToday()}&caseworker=${cw}`)).json()).visits;
  const landed = visits.filter((v) => v.client_id?.startsWith(`flush-${n}-`)).length;
  await ctx.close();
  console.log(
    JSON.stringify({
      caseworker: cw,
      grids: area.properties.grids.length,
      buildings,
      stops: planned.length,
      cache_answers: offline.entries,
      cache_tiles: offline.tiles,
      cache_mb: Number((offline.bytes / 1e6).toFixed(2)),
      cache_kept_s: Number(keptSeconds.toFixed(1)),
      changes: n,
      flush_s: Number(flush.toFixed(1)),
      // How many of the N the server lists as recorded (each client id once): all of them.
      landed,
      page_errors: errors,
    }),
  );
} finally {
  await browser?.close();
  await stopServer(server.child);
}
