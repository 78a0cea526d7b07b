//! Small hand-made districts for the staffing, coverage and territory tests: square grids on a
//! lattice, each with the population a test gives it, and the demo city at a small scale.

// Each test file uses part of it.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use geo::{LineString, MultiPolygon, Polygon};
use rentgrid_geodata::demo::{DemoOptions, generate};
use rentgrid_geodata::{
    Atlas, AtlasInput, Building, BuildingKind, BuildingStats, City, Community, CommunityKind, District, Grid, Street,
    StreetKind,
};

/// Side of a lattice grid, degrees (about 100 m).
pub const SIDE: f64 = 0.001;

/// What one lattice grid holds.
#[derive(Debug, Clone, Copy, Default)]
pub struct Cell {
    /// Index of its community in the list given to [`lattice`].
    pub community: usize,
    /// Persons in dispersed housing (one walk-up building).
    pub dispersed: u32,
    /// Persons in concentrated housing (one dormitory building).
    pub concentrated: u32,
    /// Rental units (in the walk-up).
    pub rental_units: u32,
}

fn square(col: usize, row: usize) -> Polygon<f64> {
    let (x, y) = (121.5 + col as f64 * SIDE, 29.8 + row as f64 * SIDE);
    Polygon::new(LineString::from(vec![(x, y), (x + SIDE, y), (x + SIDE, y + SIDE), (x, y + SIDE), (x, y)]), vec![])
}

/// A district of one street (`330203001000`) whose communities are `communities` (codes
/// `330203001001`, …) and whose grids are the `cols`-wide lattice `cells` (grid `i` at column
/// `i % cols`, row `i / cols`).
pub fn lattice(communities: usize, cols: usize, cells: &[Cell]) -> Atlas {
    let street = Street { code: "330203001000".into(), name: "测试街道".into(), kind: StreetKind::Subdistrict };
    let comms: Vec<Community> = (0..communities)
        .map(|c| Community {
            code: format!("330203001{:03}", c + 1),
            name: format!("第{}社区", c + 1),
            street_code: street.code.clone(),
            kind: CommunityKind::Urban,
        })
        .collect();
    let mut grids = Vec::new();
    let mut buildings = Vec::new();
    let mut stats = Vec::new();
    for (i, cell) in cells.iter().enumerate() {
        let poly = square(i % cols, i / cols);
        let community = &comms[cell.community];
        grids.push(Grid {
            id: i as u32,
            code: format!("{}{:03}", community.code, i + 1),
            name: format!("网格{i}"),
            community_code: community.code.clone(),
            geometry: MultiPolygon(vec![poly.clone()]),
        });
        for (kind, persons, units) in
            [(BuildingKind::Walkup, cell.dispersed, cell.rental_units), (BuildingKind::Dormitory, cell.concentrated, 0)]
        {
            let id = buildings.len() as u32;
            let point = geo::InteriorPoint::interior_point(&poly).unwrap();
            buildings.push(Building {
                id,
                external_id: id.to_string(),
                grid_id: i as u32,
                kind,
                address: format!("{i}号"),
                floors: 5,
                dwellings: units,
                utility_accounts: units,
                footprint: poly.clone(),
                point,
            });
            stats.push(BuildingStats {
                persons,
                persons_registered: persons,
                rental_units: units,
                ..BuildingStats::default()
            });
        }
    }
    let rows = cells.len().div_ceil(cols);
    let outline = MultiPolygon(vec![Polygon::new(
        LineString::from(vec![
            (121.5, 29.8),
            (121.5 + cols as f64 * SIDE, 29.8),
            (121.5 + cols as f64 * SIDE, 29.8 + rows as f64 * SIDE),
            (121.5, 29.8 + rows as f64 * SIDE),
            (121.5, 29.8),
        ]),
        vec![],
    )]);
    Atlas::build(AtlasInput {
        district: District { code: "330203".into(), name: "测试区".into(), outline },
        streets: vec![street],
        communities: comms,
        grids,
        blocks: vec![],
        roads: vec![],
        buildings,
        building_stats: stats,
        workplaces: vec![],
    })
    .unwrap()
}

/// The demo city at `scale` and its Atlas.
pub fn demo(scale: f64) -> (City, Atlas) {
    let city = generate(&DemoOptions { scale, ..Default::default() }, &mut |_, _| {}).unwrap();
    let atlas = Atlas::build(AtlasInput::from_city(&city)).unwrap();
    (city, atlas)
}
