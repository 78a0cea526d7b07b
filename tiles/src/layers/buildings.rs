//! `buildings`: 楼栋 footprints from zoom 14, clustered points below, with their counts.

use super::Ctx;
use crate::layer::{CLUSTER, FieldType::*, POINT_COUNT, VectorLayer, field};
use crate::mvt::{LayerEncoder, TileGeometry, Value};
use rentgrid_geodata::{Building, BuildingStats};

/// Footprints are drawn from this zoom; below it, points at each building's representative point.
pub const FOOTPRINTS_FROM: u8 = 14;

/// Counts a cluster of buildings sums.
const SUMS: [&str; 4] = ["rental_units", "rental_units_registered", "persons", "persons_registered"];

/// The MVT layer of the `buildings` tile set.
pub const VECTOR_LAYERS: &[VectorLayer] = &[VectorLayer {
    id: "buildings",
    description: "楼栋 buildings: footprints from zoom 14, points (clustered) below; feature id = building id",
    fields: &[
        field("id", Number, "Building id"),
        field("kind", String, "tower, walkup, village_house, factory, dormitory or shop"),
        field("grid_id", Number, "Its grid"),
        field("floors", Number, "Floors above ground"),
        field("dwellings", Number, "Dwellings (户)"),
        field("rental_units", Number, "Rental units recorded (summed over a cluster)"),
        field("rental_units_registered", Number, "Of which registered (summed over a cluster)"),
        field("persons", Number, "Persons recorded (summed over a cluster)"),
        field("persons_registered", Number, "Of which registered (summed over a cluster)"),
        CLUSTER,
        POINT_COUNT,
    ],
    minzoom: 10,
    maxzoom: 16,
}];

fn properties(b: &Building, s: &BuildingStats) -> Vec<(&'static str, Value)> {
    vec![
        ("id", b.id.into()),
        ("kind", b.kind.as_str().into()),
        ("grid_id", b.grid_id.into()),
        ("floors", u32::from(b.floors).into()),
        ("dwellings", b.dwellings.into()),
        ("rental_units", s.rental_units.into()),
        ("rental_units_registered", s.rental_units_registered.into()),
        ("persons", s.persons.into()),
        ("persons_registered", s.persons_registered.into()),
    ]
}

/// Draws the buildings meeting the tile.
pub fn build(ctx: &Ctx) -> Vec<LayerEncoder> {
    let src = ctx.src;
    let mut layer = ctx.layer("buildings");
    let visible = |id: u32| src.atlas.building(id).filter(|b| src.sees(b.grid_id));
    if ctx.tile.z >= FOOTPRINTS_FROM {
        let g = ctx.generalise();
        for b in src.atlas.buildings_in(ctx.buffered_bounds()).into_iter().filter_map(visible) {
            let polygons = g.polygons(std::iter::once(&b.footprint));
            let stats = src.atlas.building_stats(b.id).copied().unwrap_or_default();
            layer.add(u64::from(b.id), &TileGeometry::Polygons(polygons), &properties(b, &stats));
        }
        return vec![layer];
    }
    let layer = ctx.points("buildings", FOOTPRINTS_FROM, &SUMS, |bbox| {
        src.atlas.buildings_in(bbox).into_iter().filter_map(visible).map(|b| {
            let s = src.atlas.building_stats(b.id).copied().unwrap_or_default();
            let sums = [s.rental_units, s.rental_units_registered, s.persons, s.persons_registered];
            (b.id, b.point.x(), b.point.y(), sums.map(u64::from).to_vec(), properties(b, &s))
        })
    });
    vec![layer]
}
