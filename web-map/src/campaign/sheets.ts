/**
 * The day's route sheets (路线单): one A4 page per caseworker with the campaign and the day, a map
 * of their walk (the map as drawn, their route alone, stops numbered) and the numbered stops with
 * their address and the hidden rental units expected there, to take to the doors. Shown over the
 * page and printed with the browser's print (`@page` A4 in `style.css`).
 */
import type { Map as MapLibreMap } from 'maplibre-gl';
import type * as G from 'geojson';
import { fetchCandidates, fetchCoverage, type BBox, type Campaign, type DayRoutes } from '../api';
import { defineStrings } from '../i18n';
import type { CampaignLayer } from '../layers/campaign';
import { h } from '../ui/dom';
import { mapFrame } from '../ui/snapshot';

const t = defineStrings(
  'routeSheets',
  {
    title: '蚕食法清查 · 第 {id} 号行动 · 走访路线单',
    date: '日期：{date}',
    who: '综管员：{name}',
    summary: '{stops} 个走访点 · 步行约 {km} 公里 · 预计发现未登记出租房屋 {finds} 户',
    order: '序号',
    address: '地址',
    expected: '预计发现（户）',
    done: '已走访',
    notes: '备注',
    station: '从社区工作站出发，走访后返回。',
    print: '打印',
    close: '关闭',
    making: '正在生成路线单…',
    caseworker: '综管员 {id}',
  },
  {
    title: 'Sweep campaign {id} (蚕食法) · route sheet',
    date: 'Date: {date}',
    who: 'Caseworker: {name}',
    summary: '{stops} {stops|stop|stops} · about {km} km on foot · {finds} hidden rental units expected',
    order: 'No.',
    address: 'Address',
    expected: 'Expected finds (units)',
    done: 'Visited',
    notes: 'Notes',
    station: 'From the community station and back.',
    print: 'Print',
    close: 'Close',
    making: 'Making the route sheets…',
    caseworker: 'Caseworker {id}',
  },
);

/** One stop of a sheet. */
interface Stop {
  order: number;
  address: string;
  buildingId: number;
  at: [number, number];
}

/** The box around points, or undefined for none. */
function boxOf(points: number[][]): BBox | undefined {
  if (points.length === 0) return undefined;
  const xs = points.map((p) => p[0]!);
  const ys = points.map((p) => p[1]!);
  return [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)];
}

/** Every position of a route feature's geometry. */
function positions(geometry: G.Geometry): number[][] {
  if (geometry.type === 'Point') return [geometry.coordinates];
  if (geometry.type === 'LineString') return geometry.coordinates;
  return [];
}

/**
 * A picture of the map showing `bbox` with only `caseworker`'s walk, the stop numbers drawn on it
 * (the map's numbers are HTML markers, which a copy of its canvas does not hold).
 */
async function routeImage(map: MapLibreMap, layer: CampaignLayer, caseworker: number, bbox: BBox, stops: Stop[]): Promise<string> {
  layer.focus(caseworker);
  // The whole canvas is the picture: the padding the panels give the map does not apply.
  map.fitBounds(bbox, { padding: 48, maxZoom: 18, duration: 0, absolutePadding: true });
  map.triggerRepaint();
  await map.once('idle');
  const frame = await mapFrame(map);
  const ratio = frame.width / map.getContainer().clientWidth;
  const ctx = frame.getContext('2d')!;
  ctx.font = `600 ${11 * ratio}px sans-serif`;
  ctx.textAlign = 'center';
  ctx.textBaseline = 'middle';
  for (const stop of stops) {
    const p = map.project(stop.at);
    const x = p.x * ratio;
    const y = (p.y - 12) * ratio;
    ctx.fillStyle = '#6a1b9a';
    ctx.beginPath();
    ctx.arc(x, y, 8 * ratio, 0, 2 * Math.PI);
    ctx.fill();
    ctx.fillStyle = '#ffffff';
    ctx.fillText(String(stop.order), x, y);
  }
  return frame.toDataURL('image/png');
}

/**
 * Makes the sheets of `date` of `campaign` (whose routes the layer shows) and opens them over the
 * page; the map is put back as it was.
 */
export async function openRouteSheets(map: MapLibreMap, layer: CampaignLayer, campaign: Campaign, date: string, routes: DayRoutes): Promise<void> {
  const overlay = h('section', { class: 'rg-sheets', role: 'dialog', 'aria-label': t('title', { id: campaign.id }) }, h('p', { class: 'rg-sheets-making', role: 'status' }, t('making')));
  document.body.append(overlay);
  document.body.classList.add('rg-printing-sheets');
  const closeSheets = () => {
    overlay.remove();
    document.body.classList.remove('rg-printing-sheets');
    document.removeEventListener('keydown', onKey);
  };
  const onKey = (event: KeyboardEvent) => {
    if (event.key === 'Escape') closeSheets();
  };
  document.addEventListener('keydown', onKey);

  const stopsOf = new Map<number, Stop[]>();
  const pointsOf = new Map<number, number[][]>();
  const routeLength = new Map<number, number>();
  for (const f of routes.features) {
    const p = f.properties;
    const cw = p.caseworker_id;
    pointsOf.set(cw, [...(pointsOf.get(cw) ?? []), ...positions(f.geometry)]);
    if (p.kind === 'stop' && f.geometry.type === 'Point') {
      const stop: Stop = { order: p.order, address: p.address, buildingId: p.building_id, at: f.geometry.coordinates as [number, number] };
      stopsOf.set(cw, [...(stopsOf.get(cw) ?? []), stop]);
    } else if (p.kind === 'route') {
      routeLength.set(cw, p.total_m);
    }
  }
  const allStops = [...stopsOf.values()].flat();
  const [names, expected] = await Promise.all([
    fetchCoverage().then((c) => new Map(c.features.flatMap((f) => (f.properties.kind === 'area' ? [[f.properties.caseworker_id, f.properties.name] as const] : [])))),
    // The estimate per building; without it the sheets still list the stops.
    (async () => {
      const box = boxOf(allStops.map((s) => s.at));
      if (!box) return new Map<number, number>();
      const found = await fetchCandidates(10_000, box);
      return new Map(found.features.map((f) => [f.properties.building_id, f.properties.expected_units]));
    })().catch(() => new Map<number, number>()),
  ]);
  const day = campaign.plan.days.find((d) => d.date === date);
  const nameOf = (cw: number) => names.get(cw) ?? t('caseworker', { id: cw });
  const team = [...stopsOf.keys()].sort((a, b) => nameOf(a).localeCompare(nameOf(b), 'zh-CN') || a - b);

  // The pictures, one walk at a time; then the map as it was.
  const camera = { center: map.getCenter(), zoom: map.getZoom(), padding: map.getPadding() };
  const images = new Map<number, string>();
  try {
    for (const cw of team) {
      const stops = (stopsOf.get(cw) ?? []).sort((a, b) => a.order - b.order);
      const box = boxOf(pointsOf.get(cw) ?? []);
      if (box) images.set(cw, await routeImage(map, layer, cw, box, stops));
    }
  } finally {
    layer.focus(undefined);
    map.jumpTo(camera);
  }

  const print = h('button', { type: 'button', class: 'rg-sheets-print' }, t('print'));
  const close = h('button', { type: 'button', class: 'rg-sheets-close' }, t('close'));
  print.addEventListener('click', () => window.print());
  close.addEventListener('click', closeSheets);
  const sheets = team.map((cw) => {
    const stops = stopsOf.get(cw) ?? [];
    const finds = day?.assignments.find((a) => a.caseworker_id === cw)?.expected_finds ?? stops.reduce((n, s) => n + (expected.get(s.buildingId) ?? 0), 0);
    const image = images.get(cw);
    return h(
      'article',
      { class: 'rg-sheet', 'data-caseworker': cw },
      h('header', null, h('h1', null, t('title', { id: campaign.id })), h('p', null, t('date', { date }), ' · ', t('who', { name: nameOf(cw) }))),
      h('p', { class: 'rg-sheet-summary' }, t('summary', { stops: stops.length, km: ((routeLength.get(cw) ?? 0) / 1000).toFixed(1), finds: finds.toFixed(1) })),
      image ? h('img', { class: 'rg-sheet-map', src: image, alt: '' }) : null,
      h('p', { class: 'rg-sheet-note' }, t('station')),
      h(
        'table',
        { class: 'rg-sheet-stops' },
        h('thead', null, h('tr', null, h('th', null, t('order')), h('th', null, t('address')), h('th', { class: 'rg-num' }, t('expected')), h('th', null, t('done')), h('th', null, t('notes')))),
        h(
          'tbody',
          null,
          ...stops.map((s) =>
            h(
              'tr',
              { class: 'rg-sheet-stop' },
              h('td', { class: 'rg-num' }, s.order),
              h('td', null, s.address),
              h('td', { class: 'rg-num' }, (expected.get(s.buildingId) ?? 0).toFixed(1)),
              h('td', { class: 'rg-sheet-box' }, '☐'),
              h('td', null, ''),
            ),
          ),
        ),
      ),
    );
  });
  overlay.replaceChildren(h('div', { class: 'rg-sheets-bar' }, print, close), ...sheets);
  print.focus();
}
