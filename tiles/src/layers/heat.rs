//! `heat`: the kernel density surface as square cells with their density per km² (see
//! [`crate::heat`]); the same raster at every zoom of a band, so the value at a place does not
//! change with zoom the way a client-side point heatmap does.

use super::Ctx;
use crate::layer::{FieldType::*, VectorLayer, field};
use crate::mvt::{LayerEncoder, TileGeometry, Value};
use geo::{LineString, Polygon};

/// The MVT layer of the `heat` tile set.
pub const VECTOR_LAYERS: &[VectorLayer] = &[VectorLayer {
    id: "heat",
    description: "核密度 kernel density (quartic kernel, metres) of what is counted, as raster cells",
    fields: &[
        field("density", Number, "Mean density over the cell, per km²"),
        field("cell_m", Number, "The cell's side in metres"),
    ],
    minzoom: 8,
    maxzoom: 16,
}];

/// Draws the heat cells meeting the tile (none when the sources carry no surface).
pub fn build(ctx: &Ctx) -> Vec<LayerEncoder> {
    let mut layer = ctx.layer("heat");
    let Some(surface) = ctx.src.heat else { return vec![layer] };
    let g = ctx.generalise();
    let b = ctx.buffered_bounds();
    // A leader is not shown a cell standing for fewer than K persons.
    let smallest = if ctx.src.suppress_small_counts && surface.counts_persons() {
        f64::from(rentgrid_analysis::disclosure::K)
    } else {
        0.0
    };
    for cell in surface.cells_in(ctx.tile.z, [b.min().x, b.min().y, b.max().x, b.max().y]) {
        if cell.density * (cell.cell_m / 1000.0).powi(2) < smallest {
            continue;
        }
        let ring: Vec<(f64, f64)> = cell.corners.iter().chain(std::iter::once(&cell.corners[0])).copied().collect();
        let polygons = g.polygons(&[Polygon::new(LineString::from(ring), vec![])]);
        if polygons.is_empty() {
            continue;
        }
        let props: Vec<(&str, Value)> = vec![
            ("density", Value::Double((cell.density * 100.0).round() / 100.0)),
            ("cell_m", Value::Double(cell.cell_m)),
        ];
        layer.add(cell.id, &TileGeometry::Polygons(polygons), &props);
    }
    vec![layer]
}
