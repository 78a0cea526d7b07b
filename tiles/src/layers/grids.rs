//! `grids`: 网格 polygons with their KPIs, for choropleths and clicks.

use super::{Ctx, rate};
use crate::layer::{FieldType::*, VectorLayer, field};
use crate::mvt::{LayerEncoder, TileGeometry, Value};
use rentgrid_analysis::disclosure;
use rentgrid_analysis::kpi::{Kpi, Status};

/// The MVT layer of the `grids` tile set.
pub const VECTOR_LAYERS: &[VectorLayer] = &[VectorLayer {
    id: "grids",
    description: "网格 grids with their registration KPIs; feature id = grid id",
    fields: &[
        field("id", Number, "Grid id"),
        field("code", String, "Grid code (community code and a 3-digit sequence)"),
        field("name", String, "Grid name"),
        field("community_code", String, "社区 code"),
        field("street_code", String, "街道 code"),
        field("reg_rate", Number, "流动人口登记率 (absent when nobody is recorded)"),
        field("permit_rate", Number, "登记做证率"),
        field("rental_rate", Number, "出租房屋登记率"),
        field("consistency_rate", Number, "人户一致率"),
        field("pledge_rate", Number, "治安责任保证书签订率"),
        field("reg_status", String, "Registration rate against its target: meets, near, below or none"),
        field(
            "persons",
            Number,
            "Persons recorded (absent for a leader where under 5, with the rates computed from it)",
        ),
        field("rental_units", Number, "Rental units recorded"),
        field("buildings", Number, "Buildings"),
    ],
    minzoom: 8,
    maxzoom: 16,
}];

fn status(s: Status) -> &'static str {
    match s {
        Status::Meets => "meets",
        Status::Near => "near",
        Status::Below => "below",
        Status::None => "none",
    }
}

/// Draws the grids meeting the tile.
pub fn build(ctx: &Ctx) -> Vec<LayerEncoder> {
    let (src, g) = (ctx.src, ctx.generalise());
    let mut layer = ctx.layer("grids");
    for id in src.map.grids_in(ctx.buffered_bounds()) {
        let (Some(entry), Some(counts)) = (src.atlas.grid(id), src.grid_counts.get(id as usize)) else { continue };
        if !src.sees(id) {
            continue;
        }
        let polygons = g.polygons(&entry.grid.geometry.0);
        if polygons.is_empty() {
            continue;
        }
        let kpi = Kpi::from_counts(*counts, src.targets);
        let Some(community) = src.atlas.communities().get(entry.community).map(|c| &c.community) else { continue };
        let mut props: Vec<(&str, Value)> = vec![
            ("id", id.into()),
            ("code", entry.grid.code.as_str().into()),
            ("name", entry.grid.name.as_str().into()),
            ("community_code", community.code.as_str().into()),
            ("street_code", community.street_code.as_str().into()),
        ];
        let rates = [
            ("reg_rate", kpi.reg_rate),
            ("permit_rate", kpi.permit_rate),
            ("rental_rate", kpi.rental_rate),
            ("consistency_rate", kpi.consistency_rate),
            ("pledge_rate", kpi.pledge_rate),
        ];
        props.extend(rates.into_iter().filter_map(|(k, r)| r.map(|r| (k, Value::Double(rate(r))))));
        props.extend([
            ("reg_status", status(kpi.reg_status).into()),
            ("persons", counts.stats.persons.into()),
            ("rental_units", counts.stats.rental_units.into()),
            ("buildings", counts.buildings.into()),
        ]);
        if src.suppress_small_counts {
            props.retain(|(k, _)| !disclosure::hides(k, &counts.stats));
        }
        layer.add(u64::from(id), &TileGeometry::Polygons(polygons), &props);
    }
    vec![layer]
}
