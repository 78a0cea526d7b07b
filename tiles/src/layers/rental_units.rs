//! `rental_units`: 出租房屋 drawn where they are, at their building (units have no location of
//! their own): one point per building that has any, clustered below zoom 15.

use super::Ctx;
use crate::layer::{CLUSTER, FieldType::*, POINT_COUNT, VectorLayer, field};
use crate::mvt::LayerEncoder;

/// Lone buildings are drawn from this zoom; below it, cells holding several are clustered.
pub const LONE_FROM: u8 = 15;

/// Counts a cluster sums.
const SUMS: [&str; 3] = ["units", "units_registered", "pledges_signed"];

/// The MVT layer of the `rental_units` tile set.
pub const VECTOR_LAYERS: &[VectorLayer] = &[VectorLayer {
    id: "rental_units",
    description: "出租房屋 rental units, one point per building with any (clustered below zoom 15); \
                  feature id = building id",
    fields: &[
        field("building_id", Number, "The building (absent on a cluster)"),
        field("kind", String, "The building's kind"),
        field("grid_id", Number, "Its grid"),
        field("units", Number, "Rental units recorded (summed over a cluster)"),
        field("units_registered", Number, "Of which registered (summed over a cluster)"),
        field("pledges_signed", Number, "Registered units whose landlord signed the pledge (summed)"),
        CLUSTER,
        POINT_COUNT,
    ],
    minzoom: 10,
    maxzoom: 16,
}];

/// Draws the buildings with rental units around the tile.
pub fn build(ctx: &Ctx) -> Vec<LayerEncoder> {
    let src = ctx.src;
    vec![ctx.points("rental_units", LONE_FROM, &SUMS, |bbox| {
        src.atlas.buildings_in(bbox).into_iter().filter_map(move |id| {
            let b = src.atlas.building(id).filter(|b| src.sees(b.grid_id))?;
            let s = src.atlas.building_stats(id).filter(|s| s.rental_units > 0)?;
            let sums = [s.rental_units, s.rental_units_registered, s.pledges_signed];
            let props = vec![
                ("building_id", id.into()),
                ("kind", b.kind.as_str().into()),
                ("grid_id", b.grid_id.into()),
                ("units", s.rental_units.into()),
                ("units_registered", s.rental_units_registered.into()),
                ("pledges_signed", s.pledges_signed.into()),
            ];
            Some((id, b.point.x(), b.point.y(), sums.map(u64::from).to_vec(), props))
        })
    })]
}
