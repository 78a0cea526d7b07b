//! A tiny hand-made district for the importers' tests: two streets, two communities, two grids
//! (the west and east halves of a 0.04° square) and one building in each grid.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::atlas::{Atlas, AtlasInput, BuildingStats};
use crate::model::{Building, BuildingKind, Community, CommunityKind, District, Grid, Street, StreetKind};
use geo::{MultiPolygon, Point, Polygon, Rect, coord};
use std::sync::OnceLock;

/// West, south, east and north edges of the district.
pub const BOX: (f64, f64, f64, f64) = (121.50, 29.80, 121.54, 29.84);

fn rect(x0: f64, y0: f64, x1: f64, y1: f64) -> Polygon<f64> {
    Rect::new(coord! { x: x0, y: y0 }, coord! { x: x1, y: y1 }).to_polygon()
}

/// A GeoJSON Polygon ring for the rectangle, as text.
pub fn ring(x0: f64, y0: f64, x1: f64, y1: f64) -> String {
    format!("[[[{x0},{y0}],[{x1},{y0}],[{x1},{y1}],[{x0},{y1}],[{x0},{y0}]]]")
}

/// The tiny district's Atlas, built once.
pub fn atlas() -> &'static Atlas {
    static ATLAS: OnceLock<Atlas> = OnceLock::new();
    ATLAS.get_or_init(|| {
        let (x0, y0, x1, y1) = BOX;
        let mid = (x0 + x1) / 2.0;
        let grid = |id: u32, code: &str, community: &str, p: Polygon<f64>| Grid {
            id,
            code: code.into(),
            name: format!("第{}网格", id + 1),
            community_code: community.into(),
            geometry: MultiPolygon(vec![p]),
        };
        let building = |id: u32, key: &str, grid_id: u32, x: f64, y: f64| Building {
            id,
            external_id: key.into(),
            grid_id,
            kind: BuildingKind::Walkup,
            address: format!("{key}号楼"),
            floors: 6,
            dwellings: 24,
            utility_accounts: 24,
            footprint: rect(x, y, x + 0.0003, y + 0.0003),
            point: Point::new(x + 0.00015, y + 0.00015),
        };
        let input = AtlasInput {
            district: District {
                code: "330203".into(),
                name: "海曙区".into(),
                outline: MultiPolygon(vec![rect(x0, y0, x1, y1)]),
            },
            streets: vec![
                Street { code: "330203001000".into(), name: "南门街道".into(), kind: StreetKind::Subdistrict },
                Street { code: "330203100000".into(), name: "集士港镇".into(), kind: StreetKind::Town },
            ],
            communities: vec![
                Community {
                    code: "330203001001".into(),
                    name: "澄浪社区".into(),
                    street_code: "330203001000".into(),
                    kind: CommunityKind::Urban,
                },
                Community {
                    code: "330203100201".into(),
                    name: "翠峰村".into(),
                    street_code: "330203100000".into(),
                    kind: CommunityKind::Rural,
                },
            ],
            grids: vec![
                grid(0, "330203001001001", "330203001001", rect(x0, y0, mid, y1)),
                grid(1, "330203100201001", "330203100201", rect(mid, y0, x1, y1)),
            ],
            blocks: vec![],
            roads: vec![],
            buildings: vec![building(0, "B-1", 0, 121.505, 29.805), building(1, "B-2", 1, 121.525, 29.825)],
            building_stats: vec![BuildingStats::default(); 2],
            workplaces: vec![],
        };
        Atlas::build(input).expect("the tiny district builds")
    })
}
