/**
 * The drill-down (逐级钻取): district → street → community → grid → building → rental unit →
 * household, in a panel at the map's side with a breadcrumb, each level's KPIs against the
 * targets and its trend. It opens from the panel's button, from any element with `data-place`
 * (ranking rows, the panel's own breadcrumb and rows), from a search result, and, while open,
 * from a click on the map, which goes one level down under the pointer. The page's URL names the
 * place shown (`?place=grid:CODE`), so a place can be shared and reloaded; Back returns to the
 * place before. The page says what it shows in `data-drill` (the place's key) for tests.
 */
import type { Map as MapLibreMap, MapMouseEvent } from 'maplibre-gl';
import type { SearchResult } from '../api';
import { onLangChange } from '../i18n';
import { me } from '../session';
import { h } from '../ui/dom';
import type { MapFrame } from '../ui/frame';
import { load, PlaceCache, type Loaded, type Selection } from './load';
import { renderShown, t } from './panel';
import { depth, parsePlace, placeInUrl, placeKey, setPlaceInUrl, type Place } from './place';
import './drill.css';

export interface Drill {
  /** The panel (and its opening button), for the map's area. */
  readonly element: HTMLElement;
  /** Shows `place`; a new history entry unless `push` is false. */
  open(place: Place, push?: boolean): void;
  /** Shows the place of a search result (a caseworker's area: nothing). */
  openSearchResult(result: SearchResult): void;
  /** Removes the panel's listeners. */
  destroy(): void;
}

/** The layers whose features name a grid by its `code` (the grid map, the leaders' hot spots). */
const GRID_LAYERS = ['grids-fill', 'hotspots-fill'];
const BUILDING_LAYER = 'buildings-fill';

/** The place a user starts from: the district for the center and leaders, a supervisor's street. */
function topPlace(): Place | undefined {
  const user = me();
  if (!user) return undefined;
  if (user.scope.street) return { level: 'street', code: user.scope.street };
  if (user.role === 'center' || user.role === 'leader') return { level: 'district' };
  const grid = user.scope.grids[0];
  return grid ? { level: 'grid', code: grid } : undefined;
}

/** The place of a search result, if the drill-down has one. */
function placeOfResult(r: SearchResult): Place | undefined {
  switch (r.kind) {
    case 'street':
    case 'community':
    case 'grid':
      return r.code ? { level: r.kind, code: r.code } : undefined;
    case 'building':
      return r.id !== null ? { level: 'building', id: r.id } : undefined;
    case 'unit':
      return r.id !== null ? { level: 'unit', id: r.id } : undefined;
    case 'person':
      return r.building_id !== null ? { level: 'building', id: r.building_id } : undefined;
    default:
      return undefined;
  }
}

/**
 * Mounts the drill-down over `map`; places are fitted into what `frame` leaves free, the panel
 * counted as covering the map. With
 * `withButton`, a button among the map's top-left controls opens it at the user's top place (the
 * leaders' view opens it from its ranking instead).
 */
export function mountDrill(map: MapLibreMap, frame: MapFrame, withButton: boolean): Drill {
  const cache = new PlaceCache();
  const top = withButton ? topPlace() : undefined;
  const openButton = h('button', { type: 'button', class: 'rg-drill-open', hidden: !top });
  const control = h('div', { class: 'maplibregl-ctrl rg-drill-ctrl' }, openButton);
  const closeButton = h('button', { type: 'button', class: 'rg-drill-close' }, '×');
  const hint = h('p', { class: 'rg-drill-hint' });
  const body = h('div', { class: 'rg-drill-slot' });
  const status = h('p', { class: 'rg-drill-status', role: 'status' });
  const panel = h('aside', { class: 'rg-drill', hidden: true }, closeButton, status, body, hint);
  const element = h('div', { class: 'rg-drill-root' }, panel);
  const uncover = frame.cover(panel);
  // Below the other top-left controls (the overdue list), as the map stacks them.
  const buttonControl = { onAdd: () => control, onRemove: () => control.remove() };
  map.addControl(buttonControl, 'top-left');

  let current: Place | undefined;
  let ticket = 0;
  let marked: Selection | undefined;

  /** Marks the open place's grids or building on the map as selected (and unmarks the last one). */
  const mark = (next: Selection | undefined) => {
    for (const [sel, on] of [[marked, false], [next, true]] as const) {
      if (!sel || !map.getSource(sel.source)) continue;
      for (const id of sel.ids) map.setFeatureState({ source: sel.source, sourceLayer: sel.source, id }, { selected: on });
    }
    marked = next;
  };

  const renderChrome = () => {
    openButton.textContent = t('open');
    openButton.title = t('openLabel');
    closeButton.title = t('close');
    closeButton.setAttribute('aria-label', t('close'));
    hint.textContent = t('drillHint');
  };

  const bringIntoView = (loaded: Loaded) => {
    const f = loaded.frame;
    if ('bbox' in f) frame.fit(f.bbox, { maxZoom: 17, duration: 500 });
    else frame.flyTo({ center: f.point, zoom: Math.max(map.getZoom(), 17), duration: 500 });
  };

  const show = async (place: Place, move: boolean) => {
    const mine = ++ticket;
    current = place;
    element.parentElement?.setAttribute('data-drilling', '');
    panel.hidden = false;
    openButton.hidden = true;
    delete document.documentElement.dataset.drill;
    status.textContent = t('loading');
    status.hidden = false;
    try {
      const loaded = await load(cache, place);
      if (mine !== ticket) return;
      status.hidden = true;
      body.replaceChildren(renderShown(loaded.shown));
      body.scrollTop = 0;
      mark(loaded.select);
      if (move) bringIntoView(loaded);
      document.documentElement.dataset.drill = placeKey(place);
    } catch (error) {
      if (mine !== ticket) return;
      body.replaceChildren();
      status.textContent = t('failed', { detail: error instanceof Error ? error.message : String(error) });
      document.documentElement.dataset.drill = `error:${placeKey(place)}`;
    }
  };

  const open = (place: Place, push = true) => {
    setPlaceInUrl(place, push);
    void show(place, true);
  };

  const close = () => {
    ticket++;
    current = undefined;
    panel.hidden = true;
    element.parentElement?.removeAttribute('data-drilling');
    openButton.hidden = !top;
    body.replaceChildren();
    mark(undefined);
    cache.clear();
    delete document.documentElement.dataset.drill;
    setPlaceInUrl(undefined, true);
  };

  // Any element naming a place opens it: ranking rows, the breadcrumb, the panel's rows.
  const onClick = (event: MouseEvent) => {
    if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) return;
    const target = (event.target as Element | null)?.closest?.('[data-place]');
    const place = parsePlace(target?.getAttribute('data-place') ?? null);
    if (!place) return;
    event.preventDefault();
    open(place);
  };
  const onKey = (event: KeyboardEvent) => {
    if (event.key !== 'Enter') return;
    const target = (event.target as Element | null)?.closest?.('tr[data-place]');
    const place = parsePlace(target?.getAttribute('data-place') ?? null);
    if (place) open(place);
  };

  // While a place is shown, a click on the map goes one level down under the pointer: from an
  // area to the next area that holds the point (or, outside it, the same level there), from a
  // grid to the building clicked.
  const onMapClick = async (event: MapMouseEvent) => {
    if (!current) return;
    const layers = (ids: string[]) => ids.filter((id) => map.getLayer(id));
    const [building] = layers([BUILDING_LAYER]).length ? map.queryRenderedFeatures(event.point, { layers: [BUILDING_LAYER] }) : [];
    if (building?.id !== undefined && depth(current.level) >= depth('grid')) {
      open({ level: 'building', id: Number(building.id) });
      return;
    }
    const grids = layers(GRID_LAYERS);
    const hit = grids.length ? map.queryRenderedFeatures(event.point, { layers: grids }) : [];
    const code = hit.map((f) => (f.properties as Record<string, unknown>).code).find((c): c is string => typeof c === 'string');
    if (!code) return;
    const grid = await cache.area(`grid:${code}`).catch(() => undefined);
    if (!grid || !current) return;
    const chain: Place[] = [
      ...grid.path.map((p): Place => (p.level === 'district' ? { level: 'district' } : { level: p.level, code: p.code } as Place)),
      { level: 'grid', code },
    ];
    const here = chain.findIndex((p) => placeKey(p) === placeKey(current!));
    const next = here >= 0 ? chain[Math.min(here + 1, chain.length - 1)] : chain[Math.min(depth(current.level), chain.length - 1)];
    if (next && placeKey(next) !== placeKey(current)) open(next);
  };
  const mapClick = (event: MapMouseEvent) => void onMapClick(event);

  const onPop = () => {
    const place = placeInUrl();
    if (place) void show(place, true);
    else if (current) {
      ticket++;
      current = undefined;
      panel.hidden = true;
      element.parentElement?.removeAttribute('data-drilling');
      openButton.hidden = !top;
      mark(undefined);
      delete document.documentElement.dataset.drill;
    }
  };

  openButton.addEventListener('click', () => top && open(top));
  closeButton.addEventListener('click', close);
  document.addEventListener('click', onClick);
  document.addEventListener('keydown', onKey);
  window.addEventListener('popstate', onPop);
  map.on('click', mapClick);
  const offLang = onLangChange(() => {
    renderChrome();
    // What the panel shows was worded when loaded: load it again in the new language.
    if (current) void show(current, false);
  });
  renderChrome();
  const initial = placeInUrl();
  // Once the caller has put the panel on the page.
  if (initial) queueMicrotask(() => void show(initial, true));

  return {
    element,
    open,
    openSearchResult(result) {
      const place = placeOfResult(result);
      if (place) {
        setPlaceInUrl(place, true);
        // The search flies the map there itself.
        void show(place, false);
      }
    },
    destroy() {
      ticket++;
      uncover();
      offLang();
      document.removeEventListener('click', onClick);
      document.removeEventListener('keydown', onKey);
      window.removeEventListener('popstate', onPop);
      map.off('click', mapClick);
      map.removeControl(buttonControl);
    },
  };
}
