//! `basemap`: the base map drawn from our own data: the district's outline, blocks and roads by
//! class. The register has no water, land-use or label data, so the base map has none.

use super::Ctx;
use crate::layer::{FieldType::*, VectorLayer, field};
use crate::map_geometry::meets;
use crate::mvt::{LayerEncoder, TileGeometry};
use geo::BoundingRect;
use rentgrid_geodata::RoadClass;

/// Blocks are drawn from this zoom.
pub const BLOCKS_FROM: u8 = 13;

/// The lowest zoom a road of `class` is drawn at.
pub fn road_minzoom(class: RoadClass) -> u8 {
    match class {
        RoadClass::Arterial => 8,
        RoadClass::Secondary => 11,
        RoadClass::Local => 13,
    }
}

/// The MVT layers of the `basemap` tile set.
pub const VECTOR_LAYERS: &[VectorLayer] = &[
    VectorLayer {
        id: "district",
        description: "区 the district's outline",
        fields: &[field("code", String, "6-digit code"), field("name", String, "Name")],
        minzoom: 4,
        maxzoom: 16,
    },
    VectorLayer {
        id: "blocks",
        description: "街区 city blocks (the land between streets); feature id = position in the register",
        fields: &[field("grid_id", Number, "The grid it belongs to")],
        minzoom: BLOCKS_FROM,
        maxzoom: 16,
    },
    VectorLayer {
        id: "roads",
        description: "Roads: arterial from zoom 8, secondary from 11, local from 13; feature id = road id",
        fields: &[field("class", String, "arterial, secondary or local")],
        minzoom: 8,
        maxzoom: 16,
    },
];

/// Draws the district, blocks and roads meeting the tile.
pub fn build(ctx: &Ctx) -> Vec<LayerEncoder> {
    let (atlas, map, g, bbox) = (ctx.src.atlas, ctx.src.map, ctx.generalise(), ctx.buffered_bounds());
    let z = ctx.tile.z;
    let mut district = ctx.layer("district");
    let d = atlas.district();
    if d.outline.bounding_rect().is_some_and(|r| meets(r, bbox)) {
        let polygons = g.polygons(&d.outline.0);
        let id = d.code.parse::<u64>().unwrap_or(0);
        district.add(
            id,
            &TileGeometry::Polygons(polygons),
            &[("code", d.code.as_str().into()), ("name", d.name.as_str().into())],
        );
    }
    let mut blocks = ctx.layer("blocks");
    if z >= BLOCKS_FROM {
        for i in map.blocks_in(bbox) {
            let Some(b) = atlas.blocks().get(i as usize) else { continue };
            let polygons = g.polygons(std::iter::once(&b.geometry));
            blocks.add(u64::from(i), &TileGeometry::Polygons(polygons), &[("grid_id", b.grid_id.into())]);
        }
    }
    let mut roads = ctx.layer("roads");
    for i in map.roads_in(bbox) {
        let Some(r) = atlas.roads().get(i as usize).filter(|r| z >= road_minzoom(r.class)) else { continue };
        let lines = g.lines(std::iter::once(&r.line));
        roads.add(u64::from(r.id), &TileGeometry::Lines(lines), &[("class", r.class.as_str().into())]);
    }
    vec![district, blocks, roads]
}
