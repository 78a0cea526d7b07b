//! `grids`: 网格 polygons with their KPIs, for choropleths and clicks, and one label point per
//! grid for its name and code.

use super::{Ctx, rate};
use crate::layer::{FieldType::*, VectorLayer, field};
use crate::mvt::{LayerEncoder, TileGeometry, Value};
use rentgrid_analysis::actual_rates::{PlaceRates, Verdict};
use rentgrid_analysis::disclosure;
use rentgrid_analysis::kpi::{Kpi, Status};

/// Grid names are drawn from this zoom.
pub const GRID_LABELS_FROM: u8 = 14;

/// The MVT layers of the `grids` tile set.
pub const VECTOR_LAYERS: &[VectorLayer] = &[
    VectorLayer {
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
                "reg_rate_est",
                Number,
                "Estimated actual 流动人口登记率: registered ÷ (recorded + estimated unrecorded persons)",
            ),
            field("reg_rate_est_low", Number, "Its 90% interval, lower end"),
            field("reg_rate_est_high", Number, "Its 90% interval, upper end"),
            field("reg_rate_verdict", String, "Against the target on the interval: met, missed or uncertain"),
            field("rental_rate_est", Number, "Estimated actual 出租房屋登记率"),
            field("rental_rate_est_low", Number, "Its 90% interval, lower end"),
            field("rental_rate_est_high", Number, "Its 90% interval, upper end"),
            field("rental_rate_verdict", String, "Against the target on the interval: met, missed or uncertain"),
            field("persons_unrecorded_est", Number, "Estimated persons the register does not hold"),
            field("rental_units_unrecorded_est", Number, "Estimated rental units the register does not hold"),
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
    },
    VectorLayer {
        id: "grid_labels",
        description: "Where each grid's name and code are written (from zoom 14): the pole of inaccessibility of its \
                  largest part; feature id = grid id",
        fields: &[
            field("id", Number, "Grid id"),
            field("code", String, "Grid code"),
            field("name", String, "Grid name"),
        ],
        minzoom: GRID_LABELS_FROM,
        maxzoom: 16,
    },
];

fn status(s: Status) -> &'static str {
    match s {
        Status::Meets => "meets",
        Status::Near => "near",
        Status::Below => "below",
        Status::None => "none",
    }
}

fn verdict(v: Verdict) -> &'static str {
    match v {
        Verdict::Met => "met",
        Verdict::Missed => "missed",
        Verdict::Uncertain => "uncertain",
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
        if src.unrecorded.is_some() {
            let a = PlaceRates::of(counts, &[id], src.unrecorded, src.targets);
            let estimates = [
                ("reg_rate_est", a.reg_rate_est),
                ("reg_rate_est_low", a.reg_rate_est_low),
                ("reg_rate_est_high", a.reg_rate_est_high),
                ("rental_rate_est", a.rental_rate_est),
                ("rental_rate_est_low", a.rental_rate_est_low),
                ("rental_rate_est_high", a.rental_rate_est_high),
            ];
            props.extend(estimates.into_iter().filter_map(|(k, r)| r.map(|r| (k, Value::Double(rate(r))))));
            let verdicts = [("reg_rate_verdict", a.reg_rate_verdict), ("rental_rate_verdict", a.rental_rate_verdict)];
            props.extend(verdicts.into_iter().filter_map(|(k, v)| v.map(|v| (k, verdict(v).into()))));
            let counts = [
                ("persons_unrecorded_est", a.persons_unrecorded_est),
                ("rental_units_unrecorded_est", a.rental_units_unrecorded_est),
            ];
            props.extend(
                counts.into_iter().filter_map(|(k, n)| n.map(|n| (k, Value::Double((n * 10.0).round() / 10.0)))),
            );
        }
        if src.suppress_small_counts {
            props.retain(|(k, v)| !disclosure::hides_value(k, &counts.stats, v.as_f64()));
        }
        layer.add(u64::from(id), &TileGeometry::Polygons(polygons), &props);
    }
    let mut labels = ctx.layer("grid_labels");
    if ctx.tile.z >= GRID_LABELS_FROM {
        for (id, p) in src.map.grid_labels_in(ctx.tile.bounds()) {
            let (Some(entry), Some(at)) = (src.atlas.grid(id), ctx.label_at(p)) else { continue };
            if !src.sees(id) {
                continue;
            }
            let props: [(&str, Value); 3] = [
                ("id", id.into()),
                ("code", entry.grid.code.as_str().into()),
                ("name", entry.grid.name.as_str().into()),
            ];
            labels.add(u64::from(id), &TileGeometry::Points(vec![at]), &props);
        }
    }
    vec![layer, labels]
}
