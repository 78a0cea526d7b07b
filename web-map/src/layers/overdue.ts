/**
 * Overdue visits (逾期未走访) from `GET /api/overdue`: the buildings with rental units no one has
 * visited within their limit (30 days with concentrated housing, 90 otherwise), as points
 * coloured by how overdue they are (never visited, over twice the limit, over the limit). A small
 * panel lists the caseworkers of the caller's scope with their counts; choosing one shows their
 * grids' buildings only (`caseworker=`).
 */
import type { GeoJSONSource, IControl, MapGeoJSONFeature } from 'maplibre-gl';
import type * as G from 'geojson';
import { fetchOverdue, type OverdueBuilding, type OverdueList } from '../api';
import { formatCount } from '../format';
import { defineStrings, onLangChange } from '../i18n';
import { h, isNarrowScreen } from '../ui/dom';
import { colorBy, hovered, selected } from './expressions';
import type { LayerContext, MapLayer, SlottedLayer } from './types';

export const tOverdue = defineStrings(
  'overdue',
  {
    title: '逾期未走访',
    note: '超过 {days} 天未走访（集中居住 {concentrated} 天）的有出租房楼栋',
    never: '从未走访',
    double: '超期一倍以上',
    over: '超过期限',
    status: '共 {n} 栋',
    statusOf: '{name}：共 {n} 栋',
    shownFirst: '，地图显示前 {shown} 栋',
    grid: '网格 {code}',
    lastVisit: '上次走访 {date}，距今 {days} 天',
    limit: '期限 {days} 天 · 出租房 {units} 套',
    concentrated: '（集中居住）',
    byCaseworker: '按综管员',
    all: '全部综管员',
    find: '查找综管员',
    more: '再显示 {n} 人（共 {left} 人未显示）',
    noMatch: '没有名字含“{q}”的综管员',
  },
  {
    title: 'Overdue visits',
    note: 'Buildings with rental units not visited for over {days} days ({concentrated} with concentrated housing)',
    never: 'Never visited',
    double: 'Over twice the limit',
    over: 'Over the limit',
    status: '{n} {n|building|buildings}',
    statusOf: '{name}: {n} {n|building|buildings}',
    shownFirst: '; the map shows the first {shown}',
    grid: 'Grid {code}',
    lastVisit: 'Last visit {date}, {days} {days|day|days} ago',
    limit: 'Limit {days} days · {units} rental {units|unit|units}',
    concentrated: ' (concentrated housing)',
    byCaseworker: 'By caseworker',
    all: 'All caseworkers',
    find: 'Find a caseworker',
    more: 'Show {n} more ({left} not shown)',
    noMatch: 'No caseworker’s name contains “{q}”',
  },
);

/** How overdue a building is. */
export type OverdueLevel = 'never' | 'double' | 'over';

/** The levels, most overdue first, with their colours. */
export const OVERDUE_LEVELS: readonly (readonly [OverdueLevel, string])[] = [
  ['never', '#6a1b9a'],
  ['double', '#d32f2f'],
  ['over', '#f59e0b'],
];

/** How overdue `b` is: never visited, over twice its limit, or over it. */
export function overdueLevel(b: Pick<OverdueBuilding, 'days_since' | 'limit_days'>): OverdueLevel {
  if (b.days_since === null) return 'never';
  return b.days_since > 2 * b.limit_days ? 'double' : 'over';
}

/** The properties of a point on the map (no nulls: MapLibre drops them). */
interface PointProperties {
  building_id: number;
  address: string;
  grid_code: string;
  level: OverdueLevel;
  last_visit: string;
  days_since: number;
  limit_days: number;
  rental_units: number;
  concentrated: boolean;
}

/** The overdue list as GeoJSON points. */
export function overduePoints(list: OverdueList): G.FeatureCollection<G.Point, PointProperties> {
  return {
    type: 'FeatureCollection',
    features: list.buildings.map((b) => ({
      type: 'Feature',
      id: b.building_id,
      geometry: { type: 'Point', coordinates: [b.lon, b.lat] },
      properties: {
        building_id: b.building_id,
        address: b.address,
        grid_code: b.grid_code,
        level: overdueLevel(b),
        last_visit: b.last_visit ?? '',
        days_since: b.days_since ?? -1,
        limit_days: b.limit_days,
        rental_units: b.rental_units,
        concentrated: b.concentrated,
      },
    })),
  };
}

/** The most buildings the map shows (the API's most). */
const SHOWN = 10_000;

/** The caseworkers the panel lists at first, and how many more each "more" adds. */
const PAGE = 8;

const SOURCE = 'overdue';
const CIRCLES = 'overdue-circles';

const styleLayers: SlottedLayer[] = [
  {
    slot: 'overlay',
    layer: {
      id: CIRCLES,
      type: 'circle',
      source: SOURCE,
      paint: {
        'circle-color': colorBy('level', Object.fromEntries(OVERDUE_LEVELS), '#888888'),
        // Small and without their white ring at a district's zoom (on a phone the whole district),
        // so thousands of them leave the grids' colours readable; full size from a street's zoom.
        'circle-radius': ['interpolate', ['linear'], ['zoom'], 9, 1.2, 11, 2.5, 13, 4, 15, 6, 18, 9],
        'circle-stroke-color': ['case', selected, '#111111', '#ffffff'],
        'circle-stroke-width': ['interpolate', ['linear'], ['zoom'], 10, ['case', ['any', hovered, selected], 2.5, 0], 12, ['case', ['any', hovered, selected], 2.5, 1]],
      },
    },
  },
];

function renderPopup(feature: MapGeoJSONFeature): HTMLElement {
  const p = feature.properties as unknown as PointProperties;
  const color = OVERDUE_LEVELS.find(([level]) => level === p.level)?.[1] ?? '#888888';
  const visit = p.last_visit ? tOverdue('lastVisit', { date: p.last_visit, days: p.days_since }) : tOverdue('never');
  return h(
    'section',
    { class: 'rg-overdue-card', 'data-building': p.building_id },
    h('header', null, h('span', { class: 'rg-dot', style: `background:${color}` }), h('h3', null, `${tOverdue('title')} · ${tOverdue(p.level)}`)),
    h('p', { class: 'rg-overdue-address' }, p.address),
    h('p', null, tOverdue('grid', { code: p.grid_code })),
    h('p', { class: 'rg-overdue-visit' }, visit),
    h('p', null, tOverdue('limit', { days: p.limit_days, units: p.rental_units }), p.concentrated ? tOverdue('concentrated') : ''),
  );
}

/** The panel of caseworkers with their counts, as a map control at the top left. */
class CaseworkerPanel implements IControl {
  readonly element = h('details', { class: 'maplibregl-ctrl rg-overdue-panel', open: !isNarrowScreen() });

  onAdd(): HTMLElement {
    return this.element;
  }

  onRemove(): void {
    this.element.remove();
  }
}

/** Creates the overdue visits layer. */
export function createOverdueLayer(): MapLayer {
  /** The caller's whole list (the panel's counts), and the list shown (one caseworker's, or the whole). */
  let all: OverdueList | undefined;
  let shown: OverdueList | undefined;
  let chosen: number | undefined;
  const panel = new CaseworkerPanel();

  /**
   * The panel lists the most overdue caseworkers first, a page at a time ("more" adds a page), and
   * finds one by name: a district has hundreds, and a list as tall as all of them over the map is
   * neither readable nor cheap to draw.
   */
  let showing = PAGE;
  let query = '';
  const find = h('input', { type: 'search', class: 'rg-overdue-find' });
  const list = h('ul', null);
  let drawList = () => {};

  const drawPanel = (ctx: LayerContext) => {
    const item = (id: number | undefined, label: string, count: number) => {
      const button = h(
        'button',
        { type: 'button', class: 'rg-overdue-cw', 'data-caseworker': id ?? '', 'aria-pressed': String(chosen === id) },
        h('span', null, label),
        h('span', { class: 'rg-legend-count' }, formatCount(count)),
      );
      button.addEventListener('click', () => {
        chosen = id;
        load(ctx).catch(ctx.reportError);
      });
      return h('li', null, button);
    };
    drawList = () => {
      const everyone = all?.caseworkers ?? [];
      const q = query.trim();
      const matching = q ? everyone.filter((c) => c.name.includes(q)) : everyone;
      const page = matching.slice(0, showing);
      // The chosen caseworker stays in the list wherever they rank.
      const theChosen = everyone.find((c) => c.caseworker_id === chosen);
      if (theChosen && !page.includes(theChosen)) page.push(theChosen);
      const left = matching.length - Math.min(showing, matching.length);
      const more = h('button', { type: 'button', class: 'rg-overdue-more' }, tOverdue('more', { n: Math.min(PAGE, left), left }));
      more.addEventListener('click', () => {
        showing += PAGE;
        drawList();
      });
      list.replaceChildren(
        item(undefined, tOverdue('all'), all?.number_matched ?? 0),
        ...page.map((c) => item(c.caseworker_id, c.name, c.overdue)),
        ...(q && matching.length === 0 ? [h('li', { class: 'rg-overdue-none' }, tOverdue('noMatch', { q }))] : []),
        ...(left > 0 ? [h('li', null, more)] : []),
      );
    };
    drawList();
    find.placeholder = tOverdue('find');
    find.setAttribute('aria-label', tOverdue('find'));
    const many = (all?.caseworkers.length ?? 0) > PAGE;
    panel.element.replaceChildren(h('summary', null, `${tOverdue('title')} · ${tOverdue('byCaseworker')}`), ...(many ? [find] : []), list);
  };

  find.addEventListener('input', () => {
    query = find.value;
    showing = PAGE;
    drawList();
  });

  const load = async (ctx: LayerContext) => {
    all = await fetchOverdue(undefined, SHOWN);
    // A caseworker no longer in the caller's list shows the whole list again.
    if (chosen !== undefined && !all.caseworkers.some((c) => c.caseworker_id === chosen)) chosen = undefined;
    shown = chosen === undefined ? all : await fetchOverdue(chosen, SHOWN);
    (ctx.map.getSource(SOURCE) as GeoJSONSource | undefined)?.setData(overduePoints(shown));
    drawPanel(ctx);
    ctx.refreshLegend();
  };

  return {
    id: 'overdue',
    styleLayers,
    async attach(ctx) {
      ctx.map.addSource(SOURCE, { type: 'geojson', data: { type: 'FeatureCollection', features: [] } });
      ctx.map.addControl(panel, 'top-left');
      // The panel speaks the language chosen after it was drawn.
      const offLang = onLangChange(() => drawPanel(ctx));
      await load(ctx);
      return () => {
        offLang();
        if (ctx.map.hasControl(panel)) ctx.map.removeControl(panel);
      };
    },
    refresh(ctx) {
      load(ctx).catch(ctx.reportError);
    },
    onVisibilityChange(visible) {
      panel.element.hidden = !visible;
    },
    legend() {
      const counts = new Map<OverdueLevel, number>();
      for (const b of shown?.buildings ?? []) counts.set(overdueLevel(b), (counts.get(overdueLevel(b)) ?? 0) + 1);
      const n = shown?.number_matched ?? 0;
      const name = all?.caseworkers.find((c) => c.caseworker_id === chosen)?.name;
      const more = shown && n > shown.buildings.length ? tOverdue('shownFirst', { shown: formatCount(shown.buildings.length) }) : '';
      return {
        title: tOverdue('title'),
        note: tOverdue('note', { days: shown?.days ?? 90, concentrated: shown?.concentrated_days ?? 30 }),
        items: OVERDUE_LEVELS.map(([level, color]) => ({
          swatch: { type: 'circle', color },
          label: tOverdue(level),
          count: formatCount(counts.get(level) ?? 0),
        })),
        status: (name === undefined ? tOverdue('status', { n: formatCount(n) }) : tOverdue('statusOf', { name, n: formatCount(n) })) + more,
      };
    },
    popup: { layerIds: [CIRCLES], render: renderPopup },
    hoverLayerId: CIRCLES,
  };
}
