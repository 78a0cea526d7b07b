/**
 * What a map layer module declares. `main.ts` composes a list of these into the map, the legend and
 * the popups; a new feature on the map is a new module in `layers/`, not a change to the app.
 */
import type {
  BackgroundLayerSpecification,
  CircleLayerSpecification,
  FillLayerSpecification,
  LineLayerSpecification,
  SymbolLayerSpecification,
} from '@maplibre/maplibre-gl-style-spec';
import type { FitBoundsOptions, Map, MapGeoJSONFeature } from 'maplibre-gl';
import type { BBox, DataEvent, District } from '../api';

/**
 * The style layers a module may use. Symbol layers are for place names only (`labels.ts`), drawn
 * with the glyphs our own server makes; every count is shown in HTML (legend, popups) instead.
 */
export type StyleLayer =
  | BackgroundLayerSpecification
  | CircleLayerSpecification
  | FillLayerSpecification
  | LineLayerSpecification
  | SymbolLayerSpecification;

/** Where a style layer sits: the base map at the bottom, thematic data above it, overlays on top. */
export const SLOTS = ['base', 'thematic', 'overlay'] as const;
export type Slot = (typeof SLOTS)[number];

export interface SlottedLayer {
  slot: Slot;
  layer: StyleLayer;
}

/** How one legend row is drawn. */
export type Swatch =
  | { type: 'fill'; color: string; outline?: string; hatch?: boolean }
  | { type: 'circle'; color: string; outline?: string }
  | { type: 'line'; color: string; width: number; casing?: string; dashed?: boolean }
  | { type: 'text'; text: string; color: string; halo: string; bold?: boolean };

export interface LegendItem {
  swatch: Swatch;
  label: string;
  /** Shown at the right of the row, e.g. how many grids have this status. */
  count?: string;
}

/** A layer's part of the legend. */
export interface LegendEntry {
  title: string;
  /** What the symbology is measured against, e.g. "流动人口登记率 目标 ≥90%". */
  note?: string;
  items: LegendItem[];
  /** The layer's state, e.g. "放大到 14 级后显示" or how many features are shown. */
  status?: string;
  /** The layer's own controls (e.g. a box to show closed cases too), shown while it is visible. */
  controls?: HTMLElement;
}

/** What the app gives a layer when it is added to the map. */
export interface LayerContext {
  map: Map;
  district: District;
  /** Redraws the legend, for a layer whose legend entry changed (counts, status). */
  refreshLegend(): void;
  /** Reports a failure the user should see (a failed fetch after the first load). */
  reportError(error: unknown): void;
  /** Brings `bbox` into the part of the map no panel covers (see `ui/frame.ts`). */
  fit(bbox: BBox, options?: Omit<FitBoundsOptions, 'padding'>): void;
}

/** Renders a clicked feature as one section of the map's popup. */
export interface PopupSpec {
  /** The style layers whose features open this popup. */
  layerIds: readonly string[];
  render(feature: MapGeoJSONFeature): HTMLElement;
}

export interface MapLayer {
  /** Stable id: the key of the layer's visibility toggle. */
  readonly id: string;
  /** The layer's style layers, in drawing order within each slot. */
  readonly styleLayers: readonly SlottedLayer[];
  /**
   * Adds the layer's sources (vector tiles from our server) and loads what its legend needs (its style layers are added by the app once every
   * layer is attached). May start listeners; returns the function that stops them.
   */
  attach(ctx: LayerContext): Promise<(() => void) | void>;
  /** The layer's legend entry, in the current language. */
  legend(district: District): LegendEntry;
  /** The popup section shown when one of the layer's features is clicked. */
  readonly popup?: PopupSpec;
  /** A style layer whose features get `feature-state` `hover` while the pointer is over them. */
  readonly hoverLayerId?: string;
  /** Told when the user shows or hides the layer. */
  onVisibilityChange?(visible: boolean): void;
  /**
   * Told when the server's data changed (a visit or an import): reload what may have changed.
   * Tiles are revalidated by their ETag, so unchanged ones cost a bodyless 304.
   */
  refresh?(ctx: LayerContext): void;
  /**
   * Told at once of a change the server pushed (`change.grids` and `change.tiles` name what it
   * touched, never null here): reload only that. Every layer's `refresh` still runs after changes,
   * at most once per poll interval, for what this leaves out (legend counts, panels).
   */
  refreshChanged?(ctx: LayerContext, change: DataEvent): void;
}
