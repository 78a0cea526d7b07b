//! `workplaces`: 单位 employing migrants, points clustered below zoom 14.

use super::Ctx;
use crate::layer::{CLUSTER, FieldType::*, POINT_COUNT, VectorLayer, field};
use crate::mvt::LayerEncoder;

/// Lone workplaces are drawn from this zoom; below it, cells holding several are clustered.
pub const LONE_FROM: u8 = 14;

/// Counts a cluster sums.
const SUMS: [&str; 2] = ["employees", "migrant_workers"];

/// The MVT layer of the `workplaces` tile set.
pub const VECTOR_LAYERS: &[VectorLayer] = &[VectorLayer {
    id: "workplaces",
    description: "单位 workplaces (clustered below zoom 14); feature id = workplace id",
    fields: &[
        field("id", Number, "Workplace id"),
        field("name", String, "Name"),
        field("grid_id", Number, "Its grid"),
        field("employees", Number, "Employees (summed over a cluster)"),
        field("migrant_workers", Number, "Migrant workers among them (summed over a cluster)"),
        field("responsibility_signed", Boolean, "Signed the management responsibility letter"),
        CLUSTER,
        POINT_COUNT,
    ],
    minzoom: 10,
    maxzoom: 16,
}];

/// Draws the workplaces around the tile.
pub fn build(ctx: &Ctx) -> Vec<LayerEncoder> {
    let src = ctx.src;
    vec![ctx.points("workplaces", LONE_FROM, &SUMS, |bbox| {
        let all = src.atlas.workplaces();
        src.atlas.workplaces_in(bbox).into_iter().filter_map(move |id| {
            // Workplace ids are assigned densely, but look the record up by id, not position.
            let w = all.get(id as usize).filter(|w| w.id == id).or_else(|| all.iter().find(|w| w.id == id))?;
            if !src.sees(w.grid_id) {
                return None;
            }
            let props = vec![
                ("id", id.into()),
                ("name", w.name.as_str().into()),
                ("grid_id", w.grid_id.into()),
                ("employees", w.employees.into()),
                ("migrant_workers", w.migrant_workers.into()),
                ("responsibility_signed", w.responsibility_signed.into()),
            ];
            let sums = [w.employees, w.migrant_workers].map(u64::from).to_vec();
            Some((id, w.point.x(), w.point.y(), sums, props))
        })
    })]
}
