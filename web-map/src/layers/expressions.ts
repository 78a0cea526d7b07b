/** Style expressions shared by the layer modules. */
import type { ExpressionSpecification } from '@maplibre/maplibre-gl-style-spec';

/** True while the pointer is over the feature (`feature-state` `hover`). */
export const hovered: ExpressionSpecification = ['boolean', ['feature-state', 'hover'], false];

/** True while the feature is the selected one (`feature-state` `selected`). */
export const selected: ExpressionSpecification = ['boolean', ['feature-state', 'selected'], false];

/** A colour chosen by the value of `property`, with `fallback` for any other value. */
export function colorBy(property: string, colors: Record<string, string>, fallback: string): ExpressionSpecification {
  // The style spec's tuple type cannot express a variable number of cases.
  return ['match', ['get', property], ...Object.entries(colors).flat(), fallback] as unknown as ExpressionSpecification;
}
