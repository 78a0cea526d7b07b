//! `boundaries`: 街道 and 社区 areas (the unions of their grids, for fills, labels and clicks) and
//! the lines between them (each piece once, for strokes), with the district's outline.

use super::Ctx;
use crate::layer::{FieldType::*, VectorLayer, field};
use crate::map_geometry::meets;
use crate::mvt::{LayerEncoder, TileGeometry, Value};

/// The MVT layers of the `boundaries` tile set.
pub const VECTOR_LAYERS: &[VectorLayer] = &[
    VectorLayer {
        id: "boundary_areas",
        description: "街道 and 社区 areas; feature id = their 12-digit code",
        fields: &[
            field("kind", String, "street or community"),
            field("code", String, "12-digit code"),
            field("name", String, "Name"),
            field("street_code", String, "The street's code (its own for a street)"),
        ],
        minzoom: 6,
        maxzoom: 16,
    },
    VectorLayer {
        id: "boundary_lines",
        description: "Boundaries between streets and between communities of one street, and the district outline",
        fields: &[field("kind", String, "district, street or community")],
        minzoom: 6,
        maxzoom: 16,
    },
];

/// Draws the areas and boundary lines meeting the tile.
pub fn build(ctx: &Ctx) -> Vec<LayerEncoder> {
    let (map, g, bbox) = (ctx.src.map, ctx.generalise(), ctx.buffered_bounds());
    let mut areas = ctx.layer("boundary_areas");
    for (i, a) in map.areas().iter().enumerate().filter(|(_, a)| meets(a.bbox, bbox)) {
        let polygons = g.polygons(&a.geometry.0);
        let id = a.code.parse::<u64>().unwrap_or(i as u64);
        let props: [(&str, Value); 4] = [
            ("kind", a.kind.as_str().into()),
            ("code", a.code.as_str().into()),
            ("name", a.name.as_str().into()),
            ("street_code", a.street_code.as_str().into()),
        ];
        areas.add(id, &TileGeometry::Polygons(polygons), &props);
    }
    let mut lines = ctx.layer("boundary_lines");
    for (i, l) in map.boundary_lines().iter().enumerate().filter(|(_, l)| meets(l.bbox, bbox)) {
        let drawn = g.lines(std::iter::once(&l.line));
        lines.add(i as u64, &TileGeometry::Lines(drawn), &[("kind", l.kind.as_str().into())]);
    }
    vec![areas, lines]
}
