/**
 * The legend panel: one entry per layer, top-most layer first, each with its visibility toggle and,
 * while it is shown, its symbology. Collapsible; starts collapsed on narrow screens.
 */
import type { District } from '../api';
import { t } from '../i18n';
import type { LegendEntry, LegendItem, MapLayer, Swatch } from '../layers/types';
import { h, isNarrowScreen } from './dom';

const SVG_NS = 'http://www.w3.org/2000/svg';

function svg<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number>): SVGElementTagNameMap[K] {
  const element = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attrs)) element.setAttribute(name, String(value));
  return element;
}

/** A 22×14 picture of one symbol: a filled box, a dot, a (cased, dashed) line or a haloed glyph. */
function renderSwatch(swatch: Swatch): SVGSVGElement {
  const root = svg('svg', { width: 22, height: 14, viewBox: '0 0 22 14', 'aria-hidden': 'true', class: 'rg-swatch' });
  if (swatch.type === 'fill') {
    root.append(
      svg('rect', {
        x: 1, y: 1, width: 20, height: 12, rx: 2,
        fill: swatch.color,
        stroke: swatch.outline ?? 'rgba(0,0,0,0.15)',
        'stroke-width': 1,
      }),
    );
    if (swatch.hatch) {
      for (const x of [-6, 0, 6, 12, 18]) {
        root.append(svg('line', { x1: x, y1: 13, x2: x + 10, y2: 1, stroke: swatch.outline ?? '#555555', 'stroke-width': 1 }));
      }
    }
    return root;
  }
  if (swatch.type === 'text') {
    const text = svg('text', {
      x: 11, y: 11.5, 'text-anchor': 'middle', 'font-size': 12,
      'font-weight': swatch.bold ? 700 : 400,
      fill: swatch.color, stroke: swatch.halo, 'stroke-width': 2, 'paint-order': 'stroke',
    });
    text.textContent = swatch.text;
    root.append(text);
    return root;
  }
  if (swatch.type === 'circle') {
    root.append(svg('circle', { cx: 11, cy: 7, r: 5, fill: swatch.color, stroke: swatch.outline ?? '#ffffff', 'stroke-width': 1 }));
    return root;
  }
  const line = { x1: 1, y1: 7, x2: 21, y2: 7, 'stroke-linecap': swatch.dashed ? 'butt' : 'round' };
  if (swatch.casing) root.append(svg('line', { ...line, stroke: swatch.casing, 'stroke-width': swatch.width + 2 }));
  root.append(
    svg('line', {
      ...line,
      stroke: swatch.color,
      'stroke-width': swatch.width,
      ...(swatch.dashed ? { 'stroke-dasharray': '4 3' } : {}),
    }),
  );
  return root;
}

function renderItem(item: LegendItem): HTMLLIElement {
  return h(
    'li',
    null,
    renderSwatch(item.swatch),
    h('span', { class: 'rg-legend-label' }, item.label),
    item.count === undefined ? null : h('span', { class: 'rg-legend-count' }, item.count),
  );
}

export interface LegendOptions {
  /** The layers on the map, bottom to top. */
  layers: readonly MapLayer[];
  district: District;
  isVisible(layerId: string): boolean;
  setVisible(layerId: string, visible: boolean): void;
  /** Buttons beside the panel's title (e.g. saving the map as a picture). */
  actions?: HTMLElement;
}

export interface Legend {
  /** The panel; the app places it over the map. */
  element: HTMLElement;
  /** Redraws every entry (after a language switch or a layer's change). */
  render(): void;
}

/** Builds the legend panel. */
export function createLegend(options: LegendOptions): Legend {
  let open = !isNarrowScreen();

  const toggle = h('button', { type: 'button', class: 'rg-legend-toggle', 'aria-controls': 'rg-legend-body' });
  const body = h('div', { class: 'rg-legend-body', id: 'rg-legend-body' });
  const element = h('aside', { class: 'rg-legend' }, h('div', { class: 'rg-legend-top' }, toggle, options.actions), body);

  const renderEntry = (layer: MapLayer, entry: LegendEntry): HTMLElement => {
    const visible = options.isVisible(layer.id);
    const checkbox = h('input', { type: 'checkbox', checked: visible, 'data-layer': layer.id });
    checkbox.addEventListener('change', () => options.setVisible(layer.id, checkbox.checked));
    return h(
      'section',
      { class: 'rg-legend-layer', 'data-layer': layer.id, 'data-visible': visible ? '1' : '0' },
      h('label', { class: 'rg-legend-head' }, checkbox, h('span', null, entry.title)),
      visible && entry.note !== undefined ? h('p', { class: 'rg-legend-note' }, entry.note) : null,
      visible ? h('ul', null, ...entry.items.map(renderItem)) : null,
      visible && entry.status !== undefined ? h('p', { class: 'rg-legend-status' }, entry.status) : null,
      visible && entry.controls !== undefined ? entry.controls : null,
    );
  };

  const render = () => {
    element.dataset.open = open ? '1' : '0';
    toggle.setAttribute('aria-expanded', String(open));
    toggle.replaceChildren(
      h('span', null, t('legend')),
      h('span', { class: 'rg-legend-chevron', 'aria-hidden': 'true' }, open ? '▾' : '▸'),
    );
    toggle.title = open ? t('hideLegend') : t('showLegend');
    // Redrawing replaces the toggles; keep the keyboard focus on the one that had it.
    const focused = body.contains(document.activeElement) ? (document.activeElement as HTMLElement).dataset.layer : undefined;
    // Top-most layer first, as the eye reads the map.
    body.replaceChildren(...[...options.layers].reverse().map((layer) => renderEntry(layer, layer.legend(options.district))));
    if (focused) body.querySelector<HTMLInputElement>(`input[data-layer="${focused}"]`)?.focus();
  };

  toggle.addEventListener('click', () => {
    open = !open;
    render();
  });
  render();
  return { element, render };
}
