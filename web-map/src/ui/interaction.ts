/**
 * Pointer interaction shared by all layers: `feature-state` `hover` under the pointer, and one
 * popup (class `rg-popup`) for a click, made of a section from every layer hit, top-most first.
 * The features shown in the popup carry `feature-state` `selected` until it closes. The popup is
 * kept whole on screen (the map pans under it) and Escape closes it.
 */
import {
  LngLat,
  Popup,
  type FeatureIdentifier,
  type LngLatLike,
  type Map,
  type MapGeoJSONFeature,
  type MapLayerMouseEvent,
  type MapMouseEvent,
} from 'maplibre-gl';
import type { MapLayer } from '../layers/types';
import { h, isNarrowScreen } from './dom';

type FeatureRef = Required<Pick<FeatureIdentifier, 'source' | 'id'>> & Pick<FeatureIdentifier, 'sourceLayer'>;

/** The feature's `feature-state` key: source, id and, for vector tiles, the MVT layer. */
function refOf(feature: MapGeoJSONFeature): FeatureRef | undefined {
  if (feature.id === undefined) return undefined;
  const ref: FeatureRef = { source: feature.source, id: feature.id };
  if (feature.sourceLayer !== undefined) ref.sourceLayer = feature.sourceLayer;
  return ref;
}

/** Hover highlight for every layer that asks for it; returns a function that removes it. */
function bindHover(map: Map, layers: readonly MapLayer[]): () => void {
  const unbinders = layers.flatMap((layer) => {
    const layerId = layer.hoverLayerId;
    if (layerId === undefined) return [];
    let current: FeatureRef | undefined;
    const clear = () => {
      if (current) map.setFeatureState(current, { hover: false });
      current = undefined;
    };
    const onMove = (event: MapLayerMouseEvent) => {
      const feature = event.features?.[0];
      const next = feature && refOf(feature);
      if (next && current && next.id === current.id) return;
      clear();
      if (next) {
        map.setFeatureState(next, { hover: true });
        current = next;
      }
    };
    map.on('mousemove', layerId, onMove);
    map.on('mouseleave', layerId, clear);
    return [() => {
      map.off('mousemove', layerId, onMove);
      map.off('mouseleave', layerId, clear);
    }];
  });
  return () => unbinders.forEach((unbind) => unbind());
}

export interface Popups {
  /**
   * Opens the popup at `at` as a click there would (every clickable feature under it, selected),
   * under a heading of its own when one is given (a search result's name); with neither, nothing
   * opens. Call it once the map shows `at` (after a fly, on `idle`).
   */
  openAt(at: LngLatLike, heading?: () => Node): void;
  /** Redraws the open popup's content (after a language switch). */
  refresh(): void;
  /** While suspended (a drawing tool has the map's clicks), a click opens no popup and closes any. */
  suspend(on: boolean): void;
  /** Removes the popup and every listener. */
  destroy(): void;
}

/**
 * Click popups for the layers' `popup` specs, plus the hover highlight. Call it once the layers'
 * style layers are on the map.
 */
export function bindInteraction(map: Map, layers: readonly MapLayer[]): Popups {
  const specs = layers.flatMap((layer) => (layer.popup ? [layer.popup] : []));
  // Top-most first: later layers draw above earlier ones.
  const clickable = specs.flatMap((spec) => spec.layerIds).reverse();

  const popup = new Popup({ className: 'rg-popup', maxWidth: 'min(calc(380px * var(--rg-scale, 1)), calc(100vw - 24px))' });
  let shown: MapGeoJSONFeature[] = [];
  let selected: FeatureRef[] = [];
  /** The heading `openAt` was given, above the features' sections. */
  let heading: (() => Node) | undefined;

  const clearSelection = () => {
    for (const ref of selected) map.setFeatureState(ref, { selected: false });
    selected = [];
  };

  const render = () =>
    h(
      'div',
      { class: 'rg-popup-body' },
      heading?.(),
      ...shown.flatMap((feature) => {
        const spec = specs.find((s) => s.layerIds.includes(feature.layer.id));
        return spec ? [spec.render(feature)] : [];
      }),
    );

  const open = (features: MapGeoJSONFeature[], at: LngLat) => {
    clearSelection();
    // One section per layer: the top-most feature of each.
    const seen = new Set<string>();
    shown = features.filter((f) => !seen.has(f.layer.id) && seen.add(f.layer.id));
    selected = shown.flatMap((f) => refOf(f) ?? []);
    for (const ref of selected) map.setFeatureState(ref, { selected: true });
    popup.setLngLat(at).setDOMContent(render());
    // Re-adding an open popup would close it first, and its `close` would clear the new selection.
    if (!popup.isOpen()) popup.addTo(map);
    // A phone has no room beside the point: bring it low in the part of the map the panels leave
    // free (the map's padding), the popup opens above it.
    if (isNarrowScreen()) {
      const pad = map.getPadding();
      const free = map.getContainer().clientHeight - (pad.top ?? 0) - (pad.bottom ?? 0);
      map.easeTo({ center: at, offset: [0, free * 0.3] });
    }
    // A layer may move the map on the same click (a cluster zooms in): measure where that ends.
    else if (map.isMoving()) map.once('moveend', keepOnScreen);
    else keepOnScreen();
  };

  // A popup that runs past the map's edge (a tall one, or one near the edge) brings the map along
  // until it is whole on screen, its top first.
  const keepOnScreen = () => {
    if (!popup.isOpen()) return;
    const box = popup.getElement()?.getBoundingClientRect();
    const frame = map.getContainer().getBoundingClientRect();
    if (!box) return;
    const margin = 8;
    const shift = (low: number, high: number, from: number, to: number) =>
      low < from + margin ? from + margin - low : high > to - margin ? Math.max(to - margin - high, from + margin - low) : 0;
    const dx = shift(box.left, box.right, frame.left, frame.right);
    const dy = shift(box.top, box.bottom, frame.top, frame.bottom);
    if (dx !== 0 || dy !== 0) map.panBy([-dx, -dy], { duration: 0 });
  };

  let suspended = false;
  const onClick = (event: MapMouseEvent) => {
    heading = undefined;
    if (suspended) return;
    const features = clickable.length ? map.queryRenderedFeatures(event.point, { layers: clickable }) : [];
    if (features.length) open(features, event.lngLat);
    else popup.remove();
  };
  // Pointer cursor over anything clickable.
  const onEnter = () => (map.getCanvas().style.cursor = 'pointer');
  const onLeave = () => (map.getCanvas().style.cursor = '');

  // Escape closes the popup, wherever the focus is.
  const onKey = (event: KeyboardEvent) => {
    if (event.key === 'Escape' && popup.isOpen()) popup.remove();
  };

  popup.on('close', clearSelection);
  map.on('click', onClick);
  document.addEventListener('keydown', onKey);
  if (clickable.length) {
    map.on('mouseenter', clickable, onEnter);
    map.on('mouseleave', clickable, onLeave);
  }
  const unbindHover = bindHover(map, layers);

  return {
    openAt(where, title) {
      const at = LngLat.convert(where);
      const features = clickable.length ? map.queryRenderedFeatures(map.project(at), { layers: clickable }) : [];
      if (features.length === 0 && !title) return;
      heading = title;
      open(features, at);
    },
    refresh() {
      if (popup.isOpen()) popup.setDOMContent(render());
    },
    suspend(on) {
      suspended = on;
      if (on) popup.remove();
    },
    destroy() {
      unbindHover();
      map.off('click', onClick);
      document.removeEventListener('keydown', onKey);
      if (clickable.length) {
        map.off('mouseenter', clickable, onEnter);
        map.off('mouseleave', clickable, onLeave);
      }
      popup.remove();
    },
  };
}
