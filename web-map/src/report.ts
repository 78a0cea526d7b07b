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
import { fetchDistrict, type HotspotMetric } from './api';
import { defineStrings, getLang } from './i18n';
import { createBasemapLayer } from './layers/basemap';
import { createHeatLayer } from './layers/heat';
import { BIN_COLORS, createHotspotsLayer, tHot } from './layers/hotspots';
import { SLOTS, type LayerContext } from './layers/types';
import { renderRanking } from './leaders/ranking';
import { h } from './ui/dom';

setWorkerUrl(workerUrl);

const t = defineStrings(
  'report',
  {
    title: '{district} 流动人口与出租房屋管理月报',
    month: '{month} 月末',
    now: '当前',
    made: '生成于 {date}',
    method: '冷热点：Getis-Ord Gi*，{weights}；α = {alpha}，Benjamini–Hochberg FDR；{n} 个网格参与分析。热力：服务器按米计算的四次核密度（人/km²）。',
    print: '打印',
    failed: '月报生成失败：{detail}',
  },
  {
    title: '{district} monthly report: migrants and rental housing',
    month: 'end of {month}',
    now: 'now',
    made: 'made on {date}',
    method: 'Hot spots: Getis-Ord Gi*, {weights}; α = {alpha}, Benjamini–Hochberg FDR; {n} grids analysed. Heat: quartic kernel density computed on the server in metres (persons/km²).',
    print: 'Print',
    failed: 'The report could not be made: {detail}',
  },
);

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
  const ctx: LayerContext = { map, district, refreshLegend: () => {}, reportError: (e) => console.error(e) };
  for (const layer of layers) await layer.attach(ctx);
  for (const slot of SLOTS) {
    for (const layer of layers) for (const s of layer.styleLayers) if (s.slot === slot) map.addLayer(s.layer);
  }
  const data = await hotspots.show(metric, month);
  const d = data.description;
  method.textContent = t('method', { weights: d.weights.text, alpha: d.alpha, n: d.n });
  legend.replaceChildren(
    h('li', { class: 'rg-report-legend-title' }, tHot('title', { metric: tHot(metric) })),
    ...BIN_COLORS.map(([, color, key]) => h('li', null, h('span', { class: 'rg-report-swatch', style: `background:${color}` }), tHot(key))),
    h('li', { class: 'rg-report-note' }, tHot('confidence')),
    h('li', { class: 'rg-report-note' }, tHot('fdr')),
  );
  if (!map.loaded()) await map.once('idle');
  image.src = map.getCanvas().toDataURL('image/png');
  root.append(await renderRanking(district, month));
  document.documentElement.dataset.ready = '1';
  window.__rentgridReport = { ready: true };
}

const root = document.getElementById('report')!;
build(root).catch((e: unknown) => {
  console.error(e);
  root.append(h('p', { class: 'rg-banner', role: 'alert' }, t('failed', { detail: e instanceof Error ? e.message : String(e) })));
});
