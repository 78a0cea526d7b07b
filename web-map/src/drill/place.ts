/**
 * A place of the drill-down (逐级钻取) and how the page's URL names it: `?place=district`,
 * `street:CODE`, `community:CODE`, `grid:CODE`, `building:ID`, `unit:ID` or `household:UNIT:CARD`
 * (a household card 一户一卡 of a rental unit). A URL with a place opens the map there, so a place
 * can be shared and reloaded.
 */

/** The levels of the hierarchy, from the top down. */
export const LEVELS = ['district', 'street', 'community', 'grid', 'building', 'unit', 'household'] as const;
export type Level = (typeof LEVELS)[number];

/** An area the server's `GET /api/places/{place}` answers for. */
export type AreaLevel = Extract<Level, 'district' | 'street' | 'community' | 'grid'>;

/** A place of the drill-down. */
export type Place =
  | { level: 'district' }
  | { level: 'street' | 'community' | 'grid'; code: string }
  | { level: 'building'; id: number }
  | { level: 'unit'; id: number }
  | { level: 'household'; unit: number; card: string };

/** The query parameter that names the place shown. */
export const PARAM = 'place';

/** The place as the URL and the server name it: `grid:330203001001001`, `unit:12`. */
export function placeKey(p: Place): string {
  switch (p.level) {
    case 'district':
      return 'district';
    case 'street':
    case 'community':
    case 'grid':
      return `${p.level}:${p.code}`;
    case 'building':
    case 'unit':
      return `${p.level}:${p.id}`;
    case 'household':
      return `household:${p.unit}:${p.card}`;
  }
}

/** The place `key` names, or undefined for anything else. */
export function parsePlace(key: string | null): Place | undefined {
  if (!key) return undefined;
  if (key === 'district') return { level: 'district' };
  const [level, ...rest] = key.split(':');
  const value = rest.join(':');
  if (!value) return undefined;
  switch (level) {
    case 'street':
    case 'community':
    case 'grid':
      return { level, code: value };
    case 'building':
    case 'unit': {
      const id = Number(value);
      return Number.isInteger(id) && id >= 0 ? { level, id } : undefined;
    }
    case 'household': {
      const [unit, ...card] = rest;
      const id = Number(unit);
      return Number.isInteger(id) && id >= 0 && card.length > 0 ? { level, unit: id, card: card.join(':') } : undefined;
    }
    default:
      return undefined;
  }
}

/** The place the page's URL names. */
export function placeInUrl(): Place | undefined {
  return parsePlace(new URLSearchParams(window.location.search).get(PARAM));
}

/**
 * Writes `place` into the page's URL (none: removes it), keeping every other parameter; a new
 * history entry when `push`, so the browser's Back returns to the place before.
 */
export function setPlaceInUrl(place: Place | undefined, push: boolean): void {
  const url = new URL(window.location.href);
  if (place) url.searchParams.set(PARAM, placeKey(place));
  else url.searchParams.delete(PARAM);
  if (url.href === window.location.href) return;
  if (push) window.history.pushState(null, '', url);
  else window.history.replaceState(null, '', url);
}

/** The page's URL with `place` in it (every other parameter kept), for a link. */
export function placeHref(place: Place): string {
  const url = new URL(window.location.href);
  url.searchParams.set(PARAM, placeKey(place));
  return url.search;
}

/** The index of a level from the top (district 0). */
export function depth(level: Level): number {
  return LEVELS.indexOf(level);
}
