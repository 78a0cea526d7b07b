//! `boundaries`: 街道 and 社区 areas (the unions of their grids, for fills and clicks), the lines
//! between them (each piece once, for strokes), with the district's outline, and one label point
//! per street and community (for their names).

use super::Ctx;
use crate::layer::{FieldType::*, VectorLayer, field};
use crate::map_geometry::{Area, AreaKind, meets};
use crate::mvt::{LayerEncoder, TileGeometry, Value};

/// Street names are drawn from this zoom.
pub const STREET_LABELS_FROM: u8 = 9;
/// Community names are drawn from this zoom.
pub const COMMUNITY_LABELS_FROM: u8 = 12;

fn labels_from(kind: AreaKind) -> u8 {
    match kind {
        AreaKind::Street => STREET_LABELS_FROM,
        AreaKind::Community => COMMUNITY_LABELS_FROM,
    }
}

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
    VectorLayer {
        id: "boundary_labels",
        description: "Where each street's (from zoom 9) and community's (from zoom 12) name is written: the pole of \
                      inaccessibility of its largest part; feature id = its 12-digit code",
        fields: &[
            field("kind", String, "street or community"),
            field("code", String, "12-digit code"),
            field("name", String, "Name"),
            field("street_code", String, "The street's code (its own for a street)"),
        ],
        minzoom: STREET_LABELS_FROM,
        maxzoom: 16,
    },
];

/// An area's feature id: its 12-digit code (its position if the code is not a number).
fn feature_id(i: usize, a: &Area) -> u64 {
    a.code.parse::<u64>().unwrap_or(i as u64)
}

/// What an area's and its label's features carry.
fn properties(a: &Area) -> [(&'static str, Value); 4] {
    [
        ("kind", a.kind.as_str().into()),
        ("code", a.code.as_str().into()),
        ("name", a.name.as_str().into()),
        ("street_code", a.street_code.as_str().into()),
    ]
}

/// Draws the areas, boundary lines and labels meeting the tile.
pub fn build(ctx: &Ctx) -> Vec<LayerEncoder> {
    let (map, g, bbox) = (ctx.src.map, ctx.generalise(), ctx.buffered_bounds());
    let mut areas = ctx.layer("boundary_areas");
    for (i, a) in map.areas().iter().enumerate().filter(|(_, a)| meets(a.bbox, bbox)) {
        let polygons = g.polygons(&a.geometry.0);
        areas.add(feature_id(i, a), &TileGeometry::Polygons(polygons), &properties(a));
    }
    let mut lines = ctx.layer("boundary_lines");
    for (i, l) in map.boundary_lines().iter().enumerate().filter(|(_, l)| meets(l.bbox, bbox)) {
        let drawn = g.lines(std::iter::once(&l.line));
        lines.add(i as u64, &TileGeometry::Lines(drawn), &[("kind", l.kind.as_str().into())]);
    }
    let mut labels = ctx.layer("boundary_labels");
    for (i, a) in map.areas().iter().enumerate().filter(|(_, a)| ctx.tile.z >= labels_from(a.kind)) {
        let Some(at) = a.label.and_then(|p| ctx.label_at(p)) else { continue };
        labels.add(feature_id(i, a), &TileGeometry::Points(vec![at]), &properties(a));
    }
    vec![areas, lines, labels]
}
