/**
 * The search box of the title bar (a combobox, keyboard first): what is typed is searched as the
 * user types (`GET /api/search`, within their scope), the results are listed below it, ↑/↓ move
 * through them, Enter or a click picks one and Escape closes the list. Picking a result hands it
 * to `onPick` (the map flies there and opens it).
 */
import type { Map as MapLibreMap } from 'maplibre-gl';
import { searchPlaces, type SearchResult } from '../api';
import { defineStrings, onLangChange } from '../i18n';
import { h } from './dom';
import type { Popups } from './interaction';
import type { MapFrame } from './frame';

export const t = defineStrings(
  'search',
  {
    placeholder: '搜索地址、网格、楼栋编号、拼音…',
    label: '搜索',
    none: '没有找到',
    failed: '搜索失败：{detail}',
    street: '街道',
    community: '社区',
    grid: '网格',
    caseworker: '综管员',
    building: '楼栋',
    unit: '出租房屋',
    person: '人员',
    masked: '人员信息已脱敏，本次查询已留痕',
  },
  {
    placeholder: 'Search addresses, grids, survey ids, pinyin…',
    label: 'Search',
    none: 'Nothing found',
    failed: 'Search failed: {detail}',
    street: 'Street',
    community: 'Community',
    grid: 'Grid',
    caseworker: 'Caseworker',
    building: 'Building',
    unit: 'Rental unit',
    person: 'Person',
    masked: 'Persons are masked; this search is in the audit log',
  },
);

/** Waits this long after the last keystroke before searching. */
const TYPING_PAUSE_MS = 180;

export interface SearchBox {
  /** The box and its list, for the title bar. */
  readonly element: HTMLElement;
  /** Removes its listeners and aborts a search in flight. */
  destroy(): void;
}

/** The search box; `onPick(result)` is called with the result chosen. */
export function createSearchBox(onPick: (result: SearchResult) => void): SearchBox {
  const listId = 'rg-search-results';
  const input = h('input', {
    type: 'search',
    class: 'rg-search-input',
    role: 'combobox',
    autocomplete: 'off',
    spellcheck: 'false',
    'aria-autocomplete': 'list',
    'aria-expanded': 'false',
    'aria-controls': listId,
  });
  const list = h('ul', { id: listId, class: 'rg-search-results', role: 'listbox', hidden: true });
  const status = h('p', { class: 'rg-search-status', role: 'status', hidden: true });
  const element = h('div', { class: 'rg-search', role: 'search' }, input, list, status);

  let results: SearchResult[] = [];
  let active = -1;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let inFlight: AbortController | undefined;
  let asked = '';
  let personsSearched = false;

  const renderChrome = () => {
    input.placeholder = t('placeholder');
    input.setAttribute('aria-label', t('label'));
  };

  const close = () => {
    list.hidden = true;
    status.hidden = true;
    input.setAttribute('aria-expanded', 'false');
    input.removeAttribute('aria-activedescendant');
    active = -1;
  };

  const setActive = (i: number) => {
    active = i;
    list.querySelectorAll('li').forEach((li, j) => li.setAttribute('aria-selected', String(j === i)));
    if (i >= 0) {
      input.setAttribute('aria-activedescendant', `${listId}-${i}`);
      list.children[i]?.scrollIntoView({ block: 'nearest' });
    } else {
      input.removeAttribute('aria-activedescendant');
    }
  };

  const pick = (i: number) => {
    const result = results[i];
    if (!result) return;
    close();
    input.value = result.name;
    onPick(result);
  };

  const render = () => {
    list.replaceChildren(
      ...results.map((r, i) => {
        const li = h(
          'li',
          { id: `${listId}-${i}`, role: 'option', class: 'rg-search-result', 'aria-selected': 'false', 'data-kind': r.kind },
          h('span', { class: 'rg-search-kind' }, t(r.kind)),
          h('span', { class: 'rg-search-name' }, r.name),
          h('span', { class: 'rg-search-context' }, r.context),
        );
        // Keep the focus in the box: a click on the list must not blur it first.
        li.addEventListener('mousedown', (event) => event.preventDefault());
        li.addEventListener('click', () => pick(i));
        return li;
      }),
    );
    list.hidden = results.length === 0;
    status.hidden = results.length > 0 && !personsSearched;
    status.textContent = results.length === 0 ? t('none') : t('masked');
    input.setAttribute('aria-expanded', String(results.length > 0));
    setActive(results.length > 0 ? 0 : -1);
  };

  const run = async (q: string) => {
    inFlight?.abort();
    const controller = new AbortController();
    inFlight = controller;
    try {
      const answer = await searchPlaces(q, controller.signal);
      if (controller.signal.aborted || input.value.trim() !== q) return;
      results = answer.results;
      personsSearched = answer.searched_persons;
      render();
    } catch (error) {
      if (controller.signal.aborted) return;
      results = [];
      personsSearched = false;
      render();
      status.textContent = t('failed', { detail: error instanceof Error ? error.message : String(error) });
      status.hidden = false;
    }
  };

  const onInput = () => {
    clearTimeout(timer);
    const q = input.value.trim();
    if (q === asked) return;
    asked = q;
    if (q === '') {
      inFlight?.abort();
      results = [];
      close();
      return;
    }
    timer = setTimeout(() => void run(q), TYPING_PAUSE_MS);
  };

  const onKey = (event: KeyboardEvent) => {
    if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
      if (results.length === 0) return;
      event.preventDefault();
      if (list.hidden) {
        list.hidden = false;
        input.setAttribute('aria-expanded', 'true');
      }
      const step = event.key === 'ArrowDown' ? 1 : -1;
      setActive((active + step + results.length) % results.length);
    } else if (event.key === 'Enter') {
      event.preventDefault();
      const q = input.value.trim();
      // Typed fast and pressed Enter before the pause ended: search now, then take the first.
      if (q !== '' && (asked !== q || results.length === 0)) {
        clearTimeout(timer);
        asked = q;
        void run(q).then(() => pick(0));
      } else {
        pick(Math.max(active, 0));
      }
    } else if (event.key === 'Escape') {
      // The list closes first; a second Escape leaves the box to the map (and its popup).
      if (!list.hidden || !status.hidden) {
        event.stopPropagation();
        close();
      }
    }
  };

  input.addEventListener('input', onInput);
  input.addEventListener('keydown', onKey);
  input.addEventListener('blur', close);
  input.addEventListener('focus', () => {
    if (results.length > 0 && input.value.trim() === asked) render();
  });
  const offLang = onLangChange(() => {
    renderChrome();
    if (!list.hidden) render();
  });
  renderChrome();

  return {
    element,
    destroy() {
      clearTimeout(timer);
      inFlight?.abort();
      offLang();
    },
  };
}

/**
 * Shows `result` on `map`: fits an area into what `frame` leaves free (street, community, grid, a caseworker's grids) or flies
 * to a point (building, unit, person), then, once the map has drawn it, opens the popup there as a
 * click would, under the result's own heading. The page says what it opened last in
 * `data-search-shown` (`grid:12`, `street:330203005000`) for tests.
 */
export function showResult(map: MapLibreMap, frame: MapFrame, popups: Popups, result: SearchResult): void {
  const heading = () =>
    h(
      'header',
      { class: 'rg-search-heading' },
      h('span', { class: 'rg-search-kind' }, t(result.kind)),
      h('h3', null, result.name),
      h('p', null, result.context),
    );
  const open = () => {
    popups.openAt(result.point, heading);
    document.documentElement.dataset.searchShown = `${result.kind}:${result.id ?? result.code ?? ''}`;
  };
  delete document.documentElement.dataset.searchShown;
  if (result.bbox) frame.fit(result.bbox, { maxZoom: 17, duration: 600 });
  else frame.flyTo({ center: result.point, zoom: Math.max(map.getZoom(), POINT_ZOOM), duration: 600 });
  // `idle` comes once the camera has arrived and the tiles there are drawn; a repaint makes sure
  // it comes even when the camera did not have to move.
  map.once('idle', open);
  map.triggerRepaint();
}

/** The zoom a building, unit or person is shown at: footprints, not clusters. */
const POINT_ZOOM = 17;
