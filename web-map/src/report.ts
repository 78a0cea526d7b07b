/**
 * The one-page monthly report (月报) for the leaders' meeting: the map of the heat surface and the
 * hot spots at the end of a month (a snapshot of the map's canvas), the legend, and the ranking
 * of streets and communities against the targets. Printable on one A4 page (`@media print`).
 * Opened from the leaders' view as `report.html?metric=…&month=YYYY-MM`; aggregates only.
 */
import 'maplibre-gl/dist/maplibre-gl.css';
import './style.css';
import './report.css';
import workerUrl from 'maplibre-gl/dist/maplibre-gl-worker.mjs?url';
import { Map as MapLibreMap, setWorkerUrl } from 'maplibre-gl';
import { fetchDistrict, fetchPlaceRows, type District, type HotspotMetric, type Hotspots } from './api';
import { defineStrings, getLang } from './i18n';
import { createBasemapLayer } from './layers/basemap';
import { createHeatLayer } from './layers/heat';
import { createHotspotsLayer } from './layers/hotspots';
import { SLOTS, type LayerContext, type MapLayer, type Swatch } from './layers/types';
import { renderRanking } from './leaders/ranking';
import { h } from './ui/dom';
import { formatCount, formatPct, formatTarget } from './format';

setWorkerUrl(workerUrl);

const t = defineStrings(
  'report',
  {
    title: '{district} 流动人口与出租房屋管理月报',
    month: '{month} 月末',
    now: '当前',
    made: '生成于 {date}',
    method: '冷热点：局部热点统计（Gi*），邻接关系为{weights}，平均每个网格 {mean} 个相邻网格；显著性水平 {alpha}，已按错误发现率校正多重检验；{n} 个网格参与分析。热力：服务器按米计算的核密度（人/平方千米）。',
    queen: '共边或共点的网格',
    rook: '共边的网格',
    knn: '最近的 {k} 个网格',
    distance: '{m} 米以内的网格',
    h3_edge: '共边的六边形',
    totals: '全区：流动人口 {persons}，登记率 {reg}（目标 ≥{regTarget}）；出租房屋 {units} 套，登记率 {rental}（目标 ≥{rentalTarget}）',
    print: '打印',
    failed: '月报生成失败：{detail}',
  },
  {
    title: '{district} monthly report: migrants and rental housing',
    month: 'end of {month}',
    now: 'now',
    made: 'made on {date}',
    method: 'Hot spots: Getis-Ord Gi*, neighbours are {weights}, {mean} neighbours per grid on average; α = {alpha}, corrected for many tests (Benjamini–Hochberg false discovery rate); {n} grids analysed. Heat: kernel density computed on the server in metres (persons/km²).',
    queen: 'grids sharing an edge or a corner',
    rook: 'grids sharing an edge',
    knn: 'the {k} nearest grids',
    distance: 'grids within {m} m',
    h3_edge: 'hexagons sharing an edge',
    totals: 'District: {persons} migrants, registration {reg} (target ≥{regTarget}); {units} rental units, registration {rental} (target ≥{rentalTarget})',
    print: 'Print',
    failed: 'The report could not be made: {detail}',
  },
);

/** The neighbours the hot spots were computed over, in the page's language. */
function weightsWords(w: Hotspots['description']['weights']): string {
  switch (w.kind) {
    case 'knn':
      return t('knn', { k: w.parameters.k ?? '' });
    case 'distance':
      return t('distance', { m: w.parameters.threshold_m ?? '' });
    case 'rook':
    case 'h3_edge':
      return t(w.kind);
    default:
      return t('queen');
  }
}

/** A legend swatch as the report prints it: a box, a dot or a line of the symbol's colour. */
function swatchOf(swatch: Swatch): HTMLElement {
  if (swatch.type === 'text') {
    const style = `color:${swatch.color};font-weight:${swatch.bold ? 700 : 400};text-shadow:0 0 2px ${swatch.halo};background:none;border:0`;
    return h('span', { class: 'rg-report-swatch', style }, swatch.text);
  }
  const style =
    swatch.type === 'fill'
      ? `background:${swatch.color}`
      : swatch.type === 'circle'
        ? `background:${swatch.color};border-radius:50%;width:3.5mm`
        : `background:${swatch.color};height:${Math.max(swatch.width, 1)}px;border:0`;
  return h('span', { class: 'rg-report-swatch', style });
}

/** The legend of every layer of the report's map, top-most first. */
function legendOf(layers: readonly MapLayer[], district: District): HTMLElement[] {
  return [...layers].reverse().flatMap((layer) => {
    const entry = layer.legend(district);
    return [
      h('li', { class: 'rg-report-legend-title', 'data-layer': layer.id }, entry.title),
      ...(entry.note ? [h('li', { class: 'rg-report-note' }, entry.note)] : []),
      ...entry.items.map((item) => h('li', null, swatchOf(item.swatch), item.label)),
    ];
  });
}

declare global {
  interface Window {
    __rentgridReport?: { ready: boolean };
  }
}

async function build(root: HTMLElement): Promise<void> {
  const params = new URLSearchParams(window.location.search);
  const metric = (params.get('metric') ?? 'unregistered_per_km2') as HotspotMetric;
  const month = params.get('month') ?? undefined;
  const district = await fetchDistrict();
  const mapEl = h('div', { class: 'rg-report-map' });
  const image = h('img', { class: 'rg-report-snapshot', alt: '' });
  const legend = h('ul', { class: 'rg-report-legend' });
  const method = h('p', { class: 'rg-report-method' });
  const printButton = h('button', { type: 'button', class: 'rg-report-print' }, t('print'));
  printButton.addEventListener('click', () => window.print());
  root.replaceChildren(
    h(
      'header',
      { class: 'rg-report-head' },
      h('h1', null, t('title', { district: district.name })),
      h('p', null, month ? t('month', { month }) : t('now'), ' · ', t('made', { date: new Date().toLocaleDateString(getLang()) })),
      printButton,
    ),
    h('section', { class: 'rg-report-figure' }, mapEl, image, legend),
    method,
  );
  const map = new MapLibreMap({
    container: mapEl,
    style: { version: 8, sources: {}, layers: [] },
    bounds: district.bbox,
    fitBoundsOptions: { padding: 8 },
    attributionControl: false,
    interactive: false,
    // Keep the drawn frame so it can be copied into the printable image.
    canvasContextAttributes: { preserveDrawingBuffer: true },
  });
  await map.once('load');
  const hotspots = createHotspotsLayer(metric);
  const layers = [createBasemapLayer(), createHeatLayer(), hotspots];
  const ctx: LayerContext = {
    map,
    district,
    refreshLegend: () => {},
    reportError: (e) => console.error(e),
    fit: (bbox, options) => map.fitBounds(bbox, { ...options, padding: 8 }),
  };
  for (const layer of layers) await layer.attach(ctx);
  for (const slot of SLOTS) {
    for (const layer of layers) for (const s of layer.styleLayers) if (s.slot === slot) map.addLayer(s.layer);
  }
  const data = await hotspots.show(metric, month);
  const d = data.description;
  method.textContent = t('method', {
    weights: weightsWords(d.weights),
    mean: d.weights.structure.mean_neighbours.toFixed(1),
    alpha: d.alpha,
    n: d.n,
  });
  legend.replaceChildren(...legendOf(layers, district));
  if (!map.loaded()) await map.once('idle');
  image.src = map.getCanvas().toDataURL('image/png');
  // The district's totals at the end of the month, above the ranking.
  const [whole] = await fetchPlaceRows('district', month);
  if (whole) {
    const totals = t('totals', {
      persons: whole.persons === null ? '—' : formatCount(whole.persons),
      reg: formatPct(whole.reg_rate),
      regTarget: formatTarget(district.targets.reg_rate),
      units: whole.rental_units === null ? '—' : formatCount(whole.rental_units),
      rental: formatPct(whole.rental_rate),
      rentalTarget: formatTarget(district.targets.rental_rate),
    });
    root.append(h('p', { class: 'rg-report-totals' }, totals));
  }
  // Each rate's change since the month before, as in the leaders' view.
  const shown = month ?? d.months_available.at(-1);
  const at = shown ? d.months_available.indexOf(shown) : -1;
  root.append(await renderRanking(district, month, at > 0 ? d.months_available[at - 1] : undefined));
  document.documentElement.dataset.ready = '1';
  window.__rentgridReport = { ready: true };
}

const root = document.getElementById('report')!;
build(root).catch((e: unknown) => {
  console.error(e);
  root.append(h('p', { class: 'rg-banner', role: 'alert' }, t('failed', { detail: e instanceof Error ? e.message : String(e) })));
});
