/**
 * "Save the map as a picture" (保存地图为图片): the map as drawn now, composed on a 2D canvas with a
 * title, a north arrow, a scale bar and the legend of every layer shown, and downloaded as a PNG.
 * The map's WebGL canvas is copied while its frame is still there (in its `render` event), so the
 * map needs no `preserveDrawingBuffer`.
 */
import type { LngLat, Map } from 'maplibre-gl';
import type { District } from '../api';
import { defineStrings, onLangChange } from '../i18n';
import type { LegendEntry, MapLayer, Swatch } from '../layers/types';
import { h } from './dom';

const t = defineStrings(
  'snapshot',
  {
    save: '保存地图为图片（PNG，含图例、指北针和比例尺）',
    north: '北',
    made: '{date} 制图',
    metres: '{n} 米',
    kilometres: '{n} 公里',
  },
  {
    save: 'Save the map as a picture (PNG, with the legend, a north arrow and a scale)',
    north: 'N',
    made: 'made on {date}',
    metres: '{n} m',
    kilometres: '{n} km',
  },
);

/** What the picture shows besides the map. */
export interface SnapshotOptions {
  map: Map;
  district: District;
  /** The layers on the map, bottom to top. */
  layers: readonly MapLayer[];
  isVisible(layerId: string): boolean;
  /** The picture's title, e.g. the district and the view. */
  title(): string;
}

/** Sizes in CSS pixels; the picture is drawn at the screen's pixel ratio. */
const LEGEND_WIDTH = 300;
const TITLE_HEIGHT = 44;
const PAD = 14;
const FONT = '"Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC", "Microsoft YaHei", system-ui, sans-serif';
const INK = '#212121';
const MUTED = '#616161';

/** The map's current frame, copied while the drawing buffer still holds it. */
export function mapFrame(map: Map): Promise<HTMLCanvasElement> {
  return new Promise((resolve) => {
    map.once('render', () => {
      const source = map.getCanvas();
      const copy = document.createElement('canvas');
      copy.width = source.width;
      copy.height = source.height;
      copy.getContext('2d')!.drawImage(source, 0, 0);
      resolve(copy);
    });
    map.triggerRepaint();
  });
}

/** Great-circle distance in metres. */
function metresBetween(a: LngLat, b: LngLat): number {
  const r = 6_371_008.8;
  const rad = Math.PI / 180;
  const dLat = (b.lat - a.lat) * rad;
  const dLon = (b.lng - a.lng) * rad;
  const s = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * r * Math.asin(Math.sqrt(s));
}

/** The longest round length (1, 2 or 5 × 10ⁿ metres) that fits in `maxPx` CSS pixels, and its width. */
export function scaleBar(metresPerPx: number, maxPx: number): { metres: number; px: number } {
  const most = metresPerPx * maxPx;
  const pow = 10 ** Math.floor(Math.log10(most));
  const metres = [5, 2, 1].map((k) => k * pow).find((m) => m <= most) ?? pow;
  return { metres, px: metres / metresPerPx };
}

/** Splits `text` into lines of at most `width`: between words, and between any two Chinese characters. */
function wrap(ctx: CanvasRenderingContext2D, text: string, width: number): string[] {
  const tokens = text.match(/[\u2e80-\u9fff\uff00-\uffef]|[^\s\u2e80-\u9fff\uff00-\uffef]+\s*|\s+/g) ?? [];
  const lines: string[] = [];
  let line = '';
  for (const token of tokens) {
    if (line && ctx.measureText(line + token).width > width) {
      lines.push(line.trimEnd());
      line = token.trimStart();
    } else {
      line += token;
    }
  }
  if (line.trim()) lines.push(line.trimEnd());
  return lines;
}

/** Draws one legend symbol in a 22×14 box at (x, y). */
function drawSwatch(ctx: CanvasRenderingContext2D, swatch: Swatch, x: number, y: number): void {
  ctx.save();
  if (swatch.type === 'fill') {
    ctx.fillStyle = swatch.color;
    ctx.strokeStyle = swatch.outline ?? 'rgba(0,0,0,0.15)';
    ctx.fillRect(x + 1, y + 1, 20, 12);
    ctx.strokeRect(x + 1.5, y + 1.5, 19, 11);
    if (swatch.hatch) {
      ctx.beginPath();
      ctx.rect(x + 1, y + 1, 20, 12);
      ctx.clip();
      ctx.strokeStyle = swatch.outline ?? '#555555';
      for (const dx of [-6, 0, 6, 12, 18]) {
        ctx.moveTo(x + dx, y + 13);
        ctx.lineTo(x + dx + 10, y + 1);
      }
      ctx.stroke();
    }
  } else if (swatch.type === 'circle') {
    ctx.beginPath();
    ctx.arc(x + 11, y + 7, 5, 0, 2 * Math.PI);
    ctx.fillStyle = swatch.color;
    ctx.fill();
    ctx.strokeStyle = swatch.outline ?? '#ffffff';
    ctx.stroke();
  } else if (swatch.type === 'text') {
    ctx.font = `${swatch.bold ? 700 : 400} 12px sans-serif`;
    ctx.textAlign = 'center';
    ctx.textBaseline = 'middle';
    ctx.lineWidth = 3;
    ctx.strokeStyle = swatch.halo;
    ctx.strokeText(swatch.text, x + 11, y + 7);
    ctx.fillStyle = swatch.color;
    ctx.fillText(swatch.text, x + 11, y + 7);
  } else {
    ctx.lineCap = swatch.dashed ? 'butt' : 'round';
    if (swatch.casing) {
      ctx.strokeStyle = swatch.casing;
      ctx.lineWidth = swatch.width + 2;
      ctx.beginPath();
      ctx.moveTo(x + 1, y + 7);
      ctx.lineTo(x + 21, y + 7);
      ctx.stroke();
    }
    ctx.strokeStyle = swatch.color;
    ctx.lineWidth = swatch.width;
    if (swatch.dashed) ctx.setLineDash([4, 3]);
    ctx.beginPath();
    ctx.moveTo(x + 1, y + 7);
    ctx.lineTo(x + 21, y + 7);
    ctx.stroke();
  }
  ctx.restore();
}

/**
 * Draws the legend entries from `y` down in a column `width` wide at `x` (or only measures them,
 * with `draw` false); answers the height used.
 */
function drawLegend(ctx: CanvasRenderingContext2D, entries: LegendEntry[], x: number, y: number, width: number, draw: boolean): number {
  let at = y;
  const text = (s: string, size: number, weight: string, color: string, indent = 0) => {
    ctx.font = `${weight} ${size}px ${FONT}`;
    ctx.fillStyle = color;
    for (const line of wrap(ctx, s, width - indent)) {
      if (draw) ctx.fillText(line, x + indent, at);
      at += size + 5;
    }
  };
  ctx.textBaseline = 'top';
  for (const entry of entries) {
    text(entry.title, 14, '600', INK);
    if (entry.note) text(entry.note, 12, '400', MUTED);
    at += 2;
    for (const item of entry.items) {
      if (draw) drawSwatch(ctx, item.swatch, x, at + 1);
      const start = at;
      text(item.label, 12, '400', INK, 30);
      if (item.count !== undefined && draw) {
        ctx.font = `12px ${FONT}`;
        ctx.fillStyle = MUTED;
        ctx.textAlign = 'right';
        ctx.fillText(item.count, x + width, start);
        ctx.textAlign = 'left';
      }
      at = Math.max(at, start + 18);
    }
    if (entry.status) text(entry.status, 11, '400', MUTED);
    at += 10;
  }
  return at - y;
}

/** A north arrow with its letter, its tip at (x, y). */
function drawNorthArrow(ctx: CanvasRenderingContext2D, x: number, y: number): void {
  ctx.save();
  ctx.fillStyle = 'rgba(255,255,255,0.85)';
  ctx.beginPath();
  ctx.arc(x, y + 22, 20, 0, 2 * Math.PI);
  ctx.fill();
  ctx.beginPath();
  ctx.moveTo(x, y + 4);
  ctx.lineTo(x + 9, y + 34);
  ctx.lineTo(x, y + 27);
  ctx.closePath();
  ctx.fillStyle = INK;
  ctx.fill();
  ctx.beginPath();
  ctx.moveTo(x, y + 4);
  ctx.lineTo(x - 9, y + 34);
  ctx.lineTo(x, y + 27);
  ctx.closePath();
  ctx.fillStyle = '#ffffff';
  ctx.fill();
  ctx.strokeStyle = INK;
  ctx.stroke();
  ctx.font = `600 12px ${FONT}`;
  ctx.textAlign = 'center';
  ctx.textBaseline = 'top';
  ctx.fillStyle = INK;
  ctx.fillText(t('north'), x, y + 44);
  ctx.restore();
}

/** The scale bar for the map's centre line, its left end at (x, y). */
function drawScaleBar(ctx: CanvasRenderingContext2D, map: Map, x: number, y: number): void {
  const mid = map.getCanvas().clientHeight / 2;
  const metresPerPx = metresBetween(map.unproject([0, mid]), map.unproject([100, mid])) / 100;
  const { metres, px } = scaleBar(metresPerPx, 120);
  const label = metres >= 1000 ? t('kilometres', { n: metres / 1000 }) : t('metres', { n: metres });
  ctx.save();
  ctx.fillStyle = 'rgba(255,255,255,0.85)';
  ctx.fillRect(x - 6, y - 20, px + 12, 30);
  ctx.strokeStyle = INK;
  ctx.lineWidth = 2;
  ctx.beginPath();
  ctx.moveTo(x, y - 6);
  ctx.lineTo(x, y);
  ctx.lineTo(x + px, y);
  ctx.lineTo(x + px, y - 6);
  ctx.stroke();
  ctx.font = `12px ${FONT}`;
  ctx.fillStyle = INK;
  ctx.textBaseline = 'bottom';
  ctx.fillText(label, x + 2, y - 4);
  ctx.restore();
}

/** The picture: the title above, the map with its north arrow and scale bar, the legend at its right. */
export async function composeSnapshot(options: SnapshotOptions): Promise<HTMLCanvasElement> {
  const { map } = options;
  const frame = await mapFrame(map);
  const ratio = frame.width / Math.max(map.getCanvas().clientWidth, 1);
  const mapW = frame.width / ratio;
  const mapH = frame.height / ratio;
  // Top-most layer first, as the legend panel lists them.
  const entries = [...options.layers].reverse().filter((l) => options.isVisible(l.id)).map((l) => l.legend(options.district));
  const out = document.createElement('canvas');
  const ctx = out.getContext('2d')!;
  const legendH = drawLegend(ctx, entries, 0, 0, LEGEND_WIDTH - 2 * PAD, false);
  const width = mapW + LEGEND_WIDTH;
  const height = TITLE_HEIGHT + Math.max(mapH, legendH + 2 * PAD);
  out.width = Math.round(width * ratio);
  out.height = Math.round(height * ratio);
  ctx.scale(ratio, ratio);
  ctx.fillStyle = '#ffffff';
  ctx.fillRect(0, 0, width, height);
  ctx.fillStyle = INK;
  ctx.font = `600 18px ${FONT}`;
  ctx.textBaseline = 'middle';
  ctx.fillText(options.title(), PAD, TITLE_HEIGHT / 2);
  ctx.font = `12px ${FONT}`;
  ctx.fillStyle = MUTED;
  ctx.textAlign = 'right';
  ctx.fillText(t('made', { date: new Date().toISOString().slice(0, 10) }), width - PAD, TITLE_HEIGHT / 2);
  ctx.textAlign = 'left';
  ctx.drawImage(frame, 0, TITLE_HEIGHT, mapW, mapH);
  drawNorthArrow(ctx, mapW - 34, TITLE_HEIGHT + 10);
  drawScaleBar(ctx, map, PAD + 6, TITLE_HEIGHT + mapH - 14);
  ctx.strokeStyle = 'rgba(0,0,0,0.2)';
  ctx.strokeRect(0.5, TITLE_HEIGHT + 0.5, mapW - 1, mapH - 1);
  drawLegend(ctx, entries, mapW + PAD, TITLE_HEIGHT + PAD, LEGEND_WIDTH - 2 * PAD, true);
  return out;
}

/** Downloads `canvas` as a PNG named `name`. */
async function download(canvas: HTMLCanvasElement, name: string): Promise<void> {
  const blob = await new Promise<Blob | null>((resolve) => canvas.toBlob(resolve, 'image/png'));
  if (!blob) throw new Error('the picture could not be encoded');
  const url = URL.createObjectURL(blob);
  const a = h('a', { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

/** The button that saves the picture, and the function that stops it. */
export interface SnapshotButton {
  element: HTMLButtonElement;
  destroy(): void;
}

/** The button that saves the picture (placed beside the legend's title); `onError` hears a failure. */
export function createSnapshotButton(options: SnapshotOptions, onError: (e: unknown) => void): SnapshotButton {
  const button = h('button', { type: 'button', class: 'rg-snapshot-button' });
  const SVG = 'http://www.w3.org/2000/svg';
  const icon = document.createElementNS(SVG, 'svg');
  icon.setAttribute('viewBox', '0 0 20 20');
  icon.setAttribute('width', '18');
  icon.setAttribute('height', '18');
  icon.setAttribute('aria-hidden', 'true');
  const path = document.createElementNS(SVG, 'path');
  // A camera: its body and lens.
  path.setAttribute('d', 'M3 6h3l1.5-2h5L14 6h3v10H3z M10 8.2a3.3 3.3 0 1 0 0 6.6a3.3 3.3 0 1 0 0-6.6z');
  path.setAttribute('fill', 'none');
  path.setAttribute('stroke', 'currentColor');
  path.setAttribute('stroke-width', '1.5');
  icon.append(path);
  button.append(icon);
  const label = () => {
    button.title = t('save');
    button.setAttribute('aria-label', t('save'));
  };
  label();
  const stop = onLangChange(label);
  button.addEventListener('click', () => {
    button.disabled = true;
    composeSnapshot(options)
      .then((canvas) => download(canvas, `${options.district.name}-${new Date().toISOString().slice(0, 10)}.png`))
      .catch(onError)
      .finally(() => (button.disabled = false));
  });
  return { element: button, destroy: stop };
}
