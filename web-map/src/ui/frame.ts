/**
 * The part of the map a user can see: what the panels over it (the leaders', coverage and
 * campaign panels, the drill-down; at the bottom on a phone, at the side on a desktop) leave
 * free. The map's padding follows those panels, so zooming keeps its centre in the free part, and
 * places are fitted into that part. A fit is kept until the user moves the map or the map flies
 * elsewhere: a panel shown, folded or resized meanwhile fits the same place again.
 */
import type { FitBoundsOptions, FlyToOptions, Map as MapLibreMap, PaddingOptions } from 'maplibre-gl';
import type { BBox } from '../api';
import { fetchPlace } from '../api';
import { me } from '../session';

/** Fitting places into the free part of a map, and the panels that cover the rest. */
export interface MapFrame {
  /** Shows `bbox` in the free part of the map, `margins()` away from its edges. */
  fit(bbox: BBox, options?: Omit<FitBoundsOptions, 'padding'>): void;
  /** Flies to a point (a building): the centre of the free part; no place is kept. */
  flyTo(options: FlyToOptions): void;
  /** Counts `panel` as covering the map while it is shown; returns a function that stops it. */
  cover(panel: HTMLElement): () => void;
  destroy(): void;
}

/** The most of the map's width or height the panels may take: the rest stays for the map. */
const MOST_COVERED = 0.7;

type Side = keyof PaddingOptions;
const NONE: PaddingOptions = { top: 0, bottom: 0, left: 0, right: 0 };

/**
 * The band of `map` (a rectangle) along one of its edges that holds `panel`: the narrowest in
 * area of the four, so a panel along the bottom of a phone counts as the bottom's, one at the
 * left of a desktop as the left's.
 */
function bandOf(map: DOMRect, panel: DOMRect): [Side, number] | undefined {
  if (panel.width === 0 || panel.height === 0) return undefined;
  if (panel.right <= map.left || panel.left >= map.right || panel.bottom <= map.top || panel.top >= map.bottom) return undefined;
  const bands: [Side, number, number][] = [
    ['left', panel.right - map.left, map.height],
    ['right', map.right - panel.left, map.height],
    ['top', panel.bottom - map.top, map.width],
    ['bottom', map.bottom - panel.top, map.width],
  ];
  const [side, depth] = bands.reduce((a, b) => (b[1] * b[2] < a[1] * a[2] ? b : a));
  return [side, Math.max(0, Math.round(depth))];
}

/** The padding that keeps `map` clear of `panels`. */
function insetsOf(container: HTMLElement, panels: Iterable<HTMLElement>): PaddingOptions {
  const box = container.getBoundingClientRect();
  const pad = { ...NONE };
  for (const panel of panels) {
    const band = bandOf(box, panel.getBoundingClientRect());
    if (band) pad[band[0]] = Math.max(pad[band[0]] ?? 0, band[1]);
  }
  // Never leave the map less than 30% of its height or width: a panel bigger than that lies over it.
  const shrink = (a: Side, b: Side, size: number) => {
    const sum = (pad[a] ?? 0) + (pad[b] ?? 0);
    if (sum > size * MOST_COVERED) {
      const k = (size * MOST_COVERED) / sum;
      pad[a] = Math.floor((pad[a] ?? 0) * k);
      pad[b] = Math.floor((pad[b] ?? 0) * k);
    }
  };
  shrink('top', 'bottom', box.height);
  shrink('left', 'right', box.width);
  return pad;
}

const samePadding = (a: PaddingOptions, b: PaddingOptions) =>
  a.top === b.top && a.bottom === b.bottom && a.left === b.left && a.right === b.right;

/**
 * Makes the frame of `map`; `margins()` is the room kept free around a fitted place besides the
 * panels (the legend, the map's own controls).
 */
export function createMapFrame(map: MapLibreMap, margins: () => PaddingOptions): MapFrame {
  const panels = new Set<HTMLElement>();
  let kept: { bbox: BBox; options: Omit<FitBoundsOptions, 'padding'> } | undefined;
  // The padding set last; someone else's (a route sheet's picture) is left alone.
  let applied: PaddingOptions = { ...NONE };

  const fitKept = () => {
    if (kept) map.fitBounds(kept.bbox, { ...kept.options, padding: margins() });
  };
  const follow = () => {
    const pad = insetsOf(map.getContainer(), panels);
    if (samePadding(pad, applied)) return;
    applied = pad;
    map.setPadding(pad);
    fitKept();
  };
  const observer = new ResizeObserver(follow);
  observer.observe(map.getContainer());
  // A drag, a pinch, the zoom buttons: the user has chosen where to look.
  const onMoveStart = (event: { originalEvent?: unknown }) => {
    if (event.originalEvent) kept = undefined;
  };
  map.on('movestart', onMoveStart);

  return {
    fit(bbox, options = {}) {
      kept = { bbox, options };
      fitKept();
    },
    flyTo(options) {
      kept = undefined;
      map.flyTo(options);
    },
    cover(panel) {
      panels.add(panel);
      observer.observe(panel);
      return () => {
        panels.delete(panel);
        observer.unobserve(panel);
        follow();
      };
    },
    destroy() {
      observer.disconnect();
      map.off('movestart', onMoveStart);
    },
  };
}

/** Joins boxes into the box around them all. */
function union(boxes: readonly BBox[]): BBox | undefined {
  if (boxes.length === 0) return undefined;
  return boxes.reduce((a, b) => [Math.min(a[0], b[0]), Math.min(a[1], b[1]), Math.max(a[2], b[2]), Math.max(a[3], b[3])]);
}

/** The most grids a user's scope is fetched for one by one; more, and the district is shown. */
const MOST_GRIDS = 20;

/**
 * Where a view opens for the signed-in user: the places in their scope (a supervisor's street,
 * the grids given to a user), else the district's box `district`.
 */
export async function scopeBounds(district: BBox): Promise<BBox> {
  const scope = me()?.scope;
  const places = scope?.street ? [`street:${scope.street}`] : (scope?.grids ?? []).map((code) => `grid:${code}`);
  if (places.length === 0 || places.length > MOST_GRIDS) return district;
  const boxes = await Promise.all(places.map((p) => fetchPlace(p).then((v) => v.bbox, () => undefined)));
  return union(boxes.filter((b): b is BBox => b !== undefined)) ?? district;
}
