//! The deterministic demo city: 海曙区 (Ningbo) with its real outline, streets and communities,
//! and everything else generated inside it for a `seed` and a `scale`.
//!
//! Not a lattice: blue-noise seeds (dense in the old city and town centres, sparse in the hills)
//! give Voronoi blocks whose edges are the street network; streets, communities and grids are
//! contiguous regions grown over the blocks. Registration gaps are concentrated in a few
//! villages-in-the-city (城中村) and industrial fringes, so real hot spots exist, and the generator
//! keeps a hidden ground truth — occupied rental units and persons nobody registered — for
//! sweeps to discover. `scale` multiplies blocks, grids, buildings, units and people (`--scale 20`
//! gives a city of about two million rental units).

mod layout;
mod people;

use crate::crs::LocalProjection;
use crate::model::*;
use crate::reference::{self, Reference};
use geo::orient::Orient;
use geo::{Area, BoundingRect, Centroid, Contains, Coord, LineString, MapCoords, MultiPolygon, Point, Polygon};
use layout::{Layout, MinCost, grow_balanced, grow_weighted, weighted_index};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};
use time::{Date, Duration};

/// What to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct DemoOptions {
    /// Random seed: the same seed and scale give the same city.
    pub seed: u64,
    /// Size: 1.0 is a district of ~1,000 grids and ~100k rental units.
    pub scale: f64,
    /// The last day of the 12 months of history.
    pub as_of: Date,
}

impl Default for DemoOptions {
    fn default() -> Self {
        Self { seed: DEFAULT_SEED, scale: 1.0, as_of: DEFAULT_AS_OF }
    }
}

impl DemoOptions {
    /// Checks the options without generating anything.
    pub fn validate(&self) -> Result<(), DemoError> {
        if !(0.01..=50.0).contains(&self.scale) || self.scale.is_nan() {
            return Err(DemoError::Scale(self.scale));
        }
        Ok(())
    }
}

/// The seed `rentgrid demo` and `rentgrid serve` use unless told otherwise.
pub const DEFAULT_SEED: u64 = 20_240_601;
/// The default end of the demo's history.
pub const DEFAULT_AS_OF: Date = time::macros::date!(2026 - 10 - 31);

/// Why a demo city could not be generated.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// The scale is outside what makes sense.
    #[error("scale must be between 0.01 and 50, got {0}")]
    Scale(f64),
}

/// Approximate real centres of the 17 streets and towns (WGS84), by the last 3 digits of their
/// 9-digit code, with how far each reaches relative to the others (urban cores are small).
const ANCHORS: &[(&str, f64, f64, f64)] = &[
    ("001", 121.546, 29.858, 1.0), // 南门
    ("002", 121.557, 29.873, 0.9), // 江厦
    ("003", 121.531, 29.876, 1.0), // 西门
    ("004", 121.543, 29.868, 0.9), // 月湖
    ("005", 121.550, 29.879, 0.9), // 鼓楼
    ("006", 121.520, 29.864, 1.1), // 白云
    ("007", 121.530, 29.845, 1.2), // 段塘
    ("008", 121.503, 29.884, 1.5), // 望春
    ("009", 121.497, 29.812, 1.7), // 石碶
    ("100", 121.452, 29.897, 2.0), // 高桥
    ("101", 121.388, 29.879, 2.1), // 横街
    ("102", 121.442, 29.853, 1.8), // 集士港
    ("103", 121.446, 29.812, 1.9), // 古林
    ("104", 121.418, 29.778, 2.0), // 洞桥
    ("105", 121.343, 29.785, 2.2), // 鄞江
    ("106", 121.265, 29.785, 2.5), // 章水
    ("200", 121.212, 29.812, 2.2), // 龙观
];
/// The old city centre (月湖), where blocks are smallest.
const CORE: (f64, f64) = (121.541, 29.870);
/// Streets and towns with an industrial fringe.
const INDUSTRIAL_STREETS: &[&str] = &["008", "009", "100", "102", "103"];
/// Streets short of caseworkers, with the share of the required staff they have.
const SHORT_STAFFED: &[(&str, f64)] = &[("009", 0.74), ("102", 0.78), ("008", 0.83)];

/// Generates the demo city. `progress(stage, fraction)` is called as work advances.
pub fn generate(opts: &DemoOptions, progress: &mut dyn FnMut(&str, f64)) -> Result<City, DemoError> {
    opts.validate()?;
    let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
    let r = reference::haishu();
    let bb = r.outline.bounding_rect().map(|b| b.center()).unwrap_or(Coord { x: CORE.0, y: CORE.1 });
    let proj = LocalProjection::new(bb.x, bb.y);
    let to_m = |c: Coord<f64>| {
        let (x, y) = proj.forward(c.x, c.y);
        Coord { x, y }
    };
    let to_ll = |c: Coord<f64>| {
        let (x, y) = proj.inverse(c.x, c.y);
        Coord { x, y }
    };
    let outline_m: MultiPolygon<f64> = r.outline.map_coords(to_m);
    let k = 1.0 / opts.scale.sqrt();

    progress("街区 blocks and roads", 0.0);
    let core = to_m(Coord { x: CORE.0, y: CORE.1 });
    let town_centres: Vec<Coord<f64>> = ANCHORS
        .iter()
        .filter(|a| a.0.starts_with('1') || a.0.starts_with('2'))
        .map(|a| to_m(Coord { x: a.1, y: a.2 }))
        .collect();
    let spacing = |x: f64, y: f64| -> f64 {
        let d = (x - core.x).hypot(y - core.y) / 1000.0;
        let s_core = if d < 2.5 {
            170.0
        } else if d < 7.0 {
            170.0 + (d - 2.5) / 4.5 * 280.0
        } else if d < 14.0 {
            450.0 + (d - 7.0) / 7.0 * 450.0
        } else {
            900.0
        };
        let dt = town_centres.iter().map(|t| (x - t.x).hypot(y - t.y)).fold(f64::INFINITY, f64::min) / 1000.0;
        let s_town = if dt < 1.0 {
            240.0
        } else if dt < 2.5 {
            240.0 + (dt - 1.0) / 1.5 * 500.0
        } else {
            f64::INFINITY
        };
        // Below scale 1 blocks stay as fine as at scale 1, so every community keeps its land;
        // grids, buildings and people still shrink with the scale.
        s_core.min(s_town) * k.min(1.0)
    };
    let seeds = layout::seeds(&outline_m, spacing, 170.0 * k.min(1.0), &mut rng);
    let lay = layout::voronoi(&seeds, &outline_m);
    let nb = lay.blocks.len();
    progress("街区 blocks and roads", 1.0);

    // Streets: weighted growth from the anchors.
    let street_codes: Vec<String> = r.streets.iter().map(|s| s.0.clone()).collect();
    let all: Vec<usize> = (0..nb).collect();
    let mut anchor_blocks = Vec::new();
    let mut weights = Vec::new();
    for code in &street_codes {
        let suffix = &code[6..9];
        let (lon, lat, w) =
            ANCHORS.iter().find(|a| a.0 == suffix).map(|a| (a.1, a.2, a.3)).unwrap_or((CORE.0, CORE.1, 1.0));
        let p = to_m(Coord { x: lon, y: lat });
        let nearest = (0..nb)
            .filter(|b| !anchor_blocks.contains(b))
            .min_by(|&a, &b| {
                let (sa, sb) = (lay.blocks[a].seed, lay.blocks[b].seed);
                (sa.x() - p.x).hypot(sa.y() - p.y).total_cmp(&(sb.x() - p.x).hypot(sb.y() - p.y))
            })
            .unwrap_or(0);
        anchor_blocks.push(nearest);
        weights.push(w);
    }
    let street_of = grow_weighted(&lay, &all, &anchor_blocks, &weights);

    // Communities: balanced growth inside each street; 社区 nearest the core, 村 outside.
    let mut community_of_block = vec![usize::MAX; nb];
    let mut communities: Vec<Community> = Vec::new();
    for (si, scode) in street_codes.iter().enumerate() {
        let members: Vec<usize> = street_of.iter().filter(|(_, s)| **s == si).map(|(b, _)| *b).collect();
        let mut names: Vec<&(String, String, String)> = r.communities.iter().filter(|c| &c.2 == scode).collect();
        names.sort_by_key(|c| (c.1.contains('村'), c.0.clone()));
        if names.is_empty() || members.is_empty() {
            continue;
        }
        let regions = grow_balanced(&lay, &members, names.len(), &|b| lay.blocks[b].area);
        let n_regions = regions.values().copied().max().map_or(0, |m| m + 1);
        let centre_dist = |region: usize| -> f64 {
            let bs: Vec<usize> = regions.iter().filter(|(_, r)| **r == region).map(|(b, _)| *b).collect();
            let n = bs.len().max(1) as f64;
            let x = bs.iter().map(|&b| lay.blocks[b].seed.x()).sum::<f64>() / n;
            let y = bs.iter().map(|&b| lay.blocks[b].seed.y()).sum::<f64>() / n;
            let anchor = lay.blocks[anchor_blocks[si]].seed;
            (x - anchor.x()).hypot(y - anchor.y())
        };
        let mut order: Vec<usize> = (0..n_regions).collect();
        order.sort_by(|&a, &b| centre_dist(a).total_cmp(&centre_dist(b)).then(a.cmp(&b)));
        let street_kind = StreetKind::from_name(&r.streets[si].1);
        for (rank, &region) in order.iter().enumerate() {
            let Some((code, name, _)) = names.get(rank) else { continue };
            let ci = communities.len();
            let village = name.contains('村') && !name.contains("社区");
            let kind = match (village, street_kind) {
                (true, StreetKind::Subdistrict) => CommunityKind::UrbanVillage,
                (true, _) => CommunityKind::Rural,
                (false, _) => CommunityKind::Urban,
            };
            communities.push(Community { code: code.clone(), name: name.clone(), street_code: scode.clone(), kind });
            for (b, rr) in &regions {
                if *rr == region {
                    community_of_block[*b] = ci;
                }
            }
        }
    }
    // Industrial fringes: two outer communities in each industrial street.
    for suffix in INDUSTRIAL_STREETS {
        let mut cands: Vec<usize> = (0..communities.len())
            .filter(|&c| &communities[c].street_code[6..9] == *suffix && communities[c].kind != CommunityKind::Urban)
            .collect();
        if cands.len() < 2 {
            cands = (0..communities.len()).filter(|&c| &communities[c].street_code[6..9] == *suffix).collect();
        }
        for _ in 0..2.min(cands.len()) {
            let i = rng.random_range(0..cands.len());
            communities[cands.swap_remove(i)].kind = CommunityKind::Industrial;
        }
    }
    // Weakness of the register per community: a few hot villages and industrial fringes, with
    // their neighbours somewhat weak too.
    let mut weakness: Vec<f64> = (0..communities.len()).map(|_| rng.random_range(0.0..0.18)).collect();
    let mut community_adj: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); communities.len()];
    for b in 0..nb {
        for &n in &lay.adjacency[b] {
            let (ca, cb) = (community_of_block[b], community_of_block[n]);
            if ca != cb && ca != usize::MAX && cb != usize::MAX {
                community_adj[ca].insert(cb);
            }
        }
    }
    let mut hot = Vec::new();
    for (kind, n) in [(CommunityKind::UrbanVillage, 4), (CommunityKind::Industrial, 3)] {
        let mut cands: Vec<usize> = (0..communities.len()).filter(|&c| communities[c].kind == kind).collect();
        for _ in 0..n.min(cands.len()) {
            let i = rng.random_range(0..cands.len());
            hot.push(cands.swap_remove(i));
        }
    }
    for &h in &hot {
        weakness[h] = rng.random_range(0.75..1.0);
    }
    for &h in &hot {
        for &n in &community_adj[h] {
            if !hot.contains(&n) {
                weakness[n] = weakness[n].max(rng.random_range(0.3..0.5));
            }
        }
    }

    // Buildings, block by block.
    progress("楼栋 buildings", 0.0);
    let mut placed: Vec<Vec<(BuildingKind, Polygon<f64>)>> = Vec::with_capacity(nb);
    for (b, &community) in community_of_block.iter().enumerate() {
        let kind = communities.get(community).map_or(CommunityKind::Rural, |c| c.kind);
        placed.push(place_buildings(&lay.blocks[b].polygon, kind, k, &mut rng));
        if b % 256 == 0 {
            progress("楼栋 buildings", b as f64 / nb as f64);
        }
    }
    let block_dwellings: Vec<f64> = placed
        .iter()
        .map(|bs| bs.iter().map(|(kind, _)| f64::from(kind_profile(*kind).dwellings_per_floor) * 4.0).sum::<f64>())
        .collect();

    // Grids: balanced by dwellings inside each community, about 1,000 × scale in all.
    progress("网格 grids", 0.0);
    let total_dw: f64 = block_dwellings.iter().sum::<f64>().max(1.0);
    let per_grid = total_dw / (1000.0 * opts.scale);
    let mut grids: Vec<Grid> = Vec::new();
    let mut grid_of_block = vec![0u32; nb];
    for (ci, c) in communities.iter().enumerate() {
        let members: Vec<usize> = (0..nb).filter(|&b| community_of_block[b] == ci).collect();
        if members.is_empty() {
            continue;
        }
        let dw: f64 = members.iter().map(|&b| block_dwellings[b]).sum();
        let n = ((dw / per_grid).round() as usize).clamp(1, members.len());
        let regions = grow_balanced(&lay, &members, n, &|b| block_dwellings[b] + lay.blocks[b].area / 2e4);
        let n_regions = regions.values().copied().max().map_or(0, |m| m + 1);
        for region in 0..n_regions {
            let polys: Vec<&Polygon<f64>> =
                regions.iter().filter(|(_, r)| **r == region).map(|(b, _)| &lay.blocks[*b].polygon).collect();
            if polys.is_empty() {
                continue;
            }
            let id = grids.len() as u32;
            for (b, rr) in &regions {
                if *rr == region {
                    grid_of_block[*b] = id;
                }
            }
            let union = clean(geo::unary_union(polys)).orient(geo::orient::Direction::Default);
            grids.push(Grid {
                id,
                code: format!("{}{:03}", c.code, region + 1),
                name: format!("{}第{}网格", c.name, region + 1),
                community_code: c.code.clone(),
                geometry: union.map_coords(to_ll),
            });
        }
        progress("网格 grids", ci as f64 / communities.len() as f64);
    }

    let blocks: Vec<Block> = lay
        .blocks
        .iter()
        .enumerate()
        .map(|(i, b)| Block { id: i as u32, grid_id: grid_of_block[i], geometry: b.polygon.map_coords(to_ll) })
        .collect();
    let roads = classify_roads(&lay, &street_of, &community_of_block, &anchor_blocks, to_ll);

    // People and their homes.
    progress("出租房屋与人口 units and persons", 0.0);
    let grid_weak: Vec<f64> = grids
        .iter()
        .map(|g| {
            let ci = communities.iter().position(|c| c.code == g.community_code).unwrap_or(0);
            (weakness[ci] + rng.random_range(-0.08..0.08)).clamp(0.0, 1.0)
        })
        .collect();
    let mut pg = PeopleGen::new(&r, opts.as_of, opts.seed);
    // The year's registration trend per community, by its position (no draws, so the rest of the
    // city is as before): every third community ran a sweep lately (蚕食法: registrations pile up
    // in the last months), every third stalled (the year's registrations came early, few lately).
    pg.grid_trend = grids
        .iter()
        .map(|g| {
            let ci = communities.iter().position(|c| c.code == g.community_code).unwrap_or(0);
            match ci % 3 {
                1 => Trend::Improving,
                2 => Trend::Stalling,
                _ => Trend::Steady,
            }
        })
        .collect();
    let mut buildings: Vec<Building> = Vec::new();
    for b in 0..nb {
        let gid = grid_of_block[b];
        let ci = community_of_block[b];
        let Some(c) = communities.get(ci) else { continue };
        let mut n_in_block = 0;
        for (kind, poly) in std::mem::take(&mut placed[b]) {
            n_in_block += 1;
            let id = buildings.len() as u32;
            let footprint = poly.map_coords(to_ll);
            let point = footprint.centroid().unwrap_or_else(|| Point::new(0.0, 0.0));
            let suffix = if matches!(kind, BuildingKind::Tower | BuildingKind::Walkup | BuildingKind::Dormitory) {
                "幢"
            } else {
                "号"
            };
            let address = format!("{}{}{}{}", c.name.trim_end_matches("居委会"), b % 1000, "-", n_in_block) + suffix;
            let building =
                pg.populate(id, gid, kind, c.kind, grid_weak[gid as usize], footprint, point, address, &mut rng);
            buildings.push(building);
        }
        if b % 256 == 0 {
            progress("出租房屋与人口 units and persons", b as f64 / nb as f64);
        }
    }

    // Workplaces: factories and shops; then employers for persons.
    let mut workplaces = Vec::new();
    for bld in &buildings {
        let factory = bld.kind == BuildingKind::Factory;
        if !(factory || bld.kind == BuildingKind::Shop) {
            continue;
        }
        let weak = grid_weak[bld.grid_id as usize];
        let employees = if factory { rng.random_range(25..320) } else { rng.random_range(2..14) };
        let migrant_share = if factory { rng.random_range(0.55..0.9) } else { rng.random_range(0.3..0.8) };
        let migrant_workers = ((employees as f64) * migrant_share).round() as u32;
        let street = street_name(&r, &communities, bld.grid_id, &grids);
        let id = workplaces.len() as u32;
        workplaces.push(Workplace {
            id,
            name: people::company(&street, factory, id, &mut rng),
            building_id: Some(bld.id),
            grid_id: bld.grid_id,
            point: bld.point,
            employees,
            migrant_workers,
            responsibility_signed: migrant_workers >= 10 && rng.random_bool((0.92 - 0.45 * weak).clamp(0.05, 1.0)),
            contracts_signed: ((employees as f64) * (0.95 - 0.35 * weak)).round() as u32,
            insured: ((employees as f64) * (0.85 - 0.4 * weak)).max(0.0).round() as u32,
        });
    }
    pg.assign_employers(&workplaces, &buildings, &grids, &communities, &mut rng);

    // Caseworkers near the 500:1 ratio, some streets short-staffed (包干法: contiguous runs of grids).
    let mut persons_per_grid = vec![0u32; grids.len()];
    for p in &pg.persons {
        persons_per_grid[buildings[p.building_id as usize].grid_id as usize] += 1;
    }
    let mut caseworkers: Vec<Caseworker> = Vec::new();
    for (scode, _) in &r.streets {
        let street_grids: Vec<u32> = grids
            .iter()
            .filter(|g| communities.iter().any(|c| c.code == g.community_code && &c.street_code == scode))
            .map(|g| g.id)
            .collect();
        let persons: u32 = street_grids.iter().map(|&g| persons_per_grid[g as usize]).sum();
        let factor = SHORT_STAFFED
            .iter()
            .find(|s| s.0 == &scode[6..9])
            .map(|s| s.1)
            .unwrap_or_else(|| rng.random_range(0.96..1.08));
        let n = ((f64::from(persons) / 500.0 * factor).round() as usize).clamp(1, street_grids.len().max(1));
        let per = f64::from(persons) / n as f64;
        let mut acc = 0.0;
        let mut current: Vec<u32> = Vec::new();
        let mut made = 0;
        for (i, &g) in street_grids.iter().enumerate() {
            current.push(g);
            acc += f64::from(persons_per_grid[g as usize]);
            let left_grids = street_grids.len() - i - 1;
            let left_people = n - made - 1;
            if (acc >= per * (made + 1) as f64 && left_people > 0 && left_grids >= left_people)
                || left_grids == left_people
            {
                if left_people == 0 {
                    continue;
                }
                let male = rng.random_bool(0.5);
                caseworkers.push(Caseworker {
                    id: caseworkers.len() as u32,
                    name: people::name(male, &mut rng),
                    street_code: scode.clone(),
                    grids: std::mem::take(&mut current),
                });
                made += 1;
            }
        }
        if !current.is_empty() {
            let male = rng.random_bool(0.5);
            caseworkers.push(Caseworker {
                id: caseworkers.len() as u32,
                name: people::name(male, &mut rng),
                street_code: scode.clone(),
                grids: current,
            });
        }
    }

    // Twelve months of history: visits, spot checks, tips.
    progress("走访记录 history", 0.0);
    let mut grid_buildings: Vec<Vec<u32>> = vec![Vec::new(); grids.len()];
    for b in &buildings {
        if b.kind.is_residential() {
            grid_buildings[b.grid_id as usize].push(b.id);
        }
    }
    let hidden_by_building: BTreeMap<u32, HiddenOccupancy> = pg.hidden.iter().map(|h| (h.building_id, *h)).collect();
    let mut visits = Vec::new();
    let mut spot_checks = Vec::new();
    for month in 0..12i64 {
        let month_start = opts.as_of - Duration::days(30 * (12 - month));
        for cw in &caseworkers {
            let bs: Vec<u32> = cw.grids.iter().flat_map(|&g| grid_buildings[g as usize].iter().copied()).collect();
            if bs.is_empty() {
                continue;
            }
            for _ in 0..6 {
                let b = bs[rng.random_range(0..bs.len())];
                let found = hidden_by_building.get(&b).map_or(0, |h| u32::from(h.units > 0 && rng.random_bool(0.3)));
                let id = visits.len() as u32;
                visits.push(Visit {
                    id,
                    client_id: format!("demo-{id}"),
                    building_id: b,
                    caseworker_id: Some(cw.id),
                    visited_on: month_start + Duration::days(rng.random_range(0..30)),
                    units_registered: rng.random_range(0..3),
                    pledges_signed: rng.random_range(0..2),
                    units_found: found,
                    persons_found: found * rng.random_range(1..4),
                    notes: String::new(),
                });
            }
            let g = cw.grids[rng.random_range(0..cw.grids.len())];
            let (known, hidden) = grid_buildings[g as usize].iter().fold((0u32, 0u32), |(k, h), b| {
                (k + pg.persons_in[*b as usize], h + hidden_by_building.get(b).map_or(0, |x| x.persons))
            });
            let miss = f64::from(hidden) / f64::from((known + hidden).max(1));
            let households_checked = rng.random_range(10..21);
            let missed_registration =
                (0..households_checked * 2).filter(|_| rng.random_bool(miss.min(1.0))).count() as u32;
            spot_checks.push(SpotCheck {
                id: spot_checks.len() as u32,
                caseworker_id: cw.id,
                grid_id: g,
                checked_on: month_start + Duration::days(rng.random_range(0..30)),
                households_checked,
                missed_registration,
                missed_permit: rng.random_range(0..3),
                wrong_records: rng.random_range(0..2),
            });
        }
    }
    visits.sort_by_key(|v| (v.visited_on, v.id));
    for (i, v) in visits.iter_mut().enumerate() {
        v.id = i as u32;
        v.client_id = format!("demo-{i}");
    }
    let mut tips = Vec::new();
    for h in &pg.hidden {
        if h.units > 0 && rng.random_bool(0.06) {
            tips.push((h.building_id, "群众反映该楼有未登记的出租户"));
        }
    }
    let residential: Vec<u32> = buildings.iter().filter(|b| b.kind.is_residential()).map(|b| b.id).collect();
    for _ in 0..tips.len() / 4 {
        if let Some(&b) = residential.get(rng.random_range(0..residential.len().max(1))) {
            tips.push((b, "群众反映该楼可能有群租"));
        }
    }
    let tips = tips
        .into_iter()
        .enumerate()
        .map(|(i, (b, text))| Tip {
            id: i as u32,
            building_id: b,
            received_on: opts.as_of - Duration::days(rng.random_range(0..365)),
            text: text.to_string(),
        })
        .collect();
    progress("走访记录 history", 1.0);

    let streets = r
        .streets
        .iter()
        .map(|(code, name)| Street { code: code.clone(), name: name.clone(), kind: StreetKind::from_name(name) })
        .collect();
    Ok(City {
        district: District { code: r.code.clone(), name: r.name.clone(), outline: r.outline.clone() },
        streets,
        communities,
        grids,
        blocks,
        roads,
        buildings,
        landlords: pg.landlords,
        rental_units: pg.units,
        households: pg.households,
        persons: pg.persons,
        workplaces,
        caseworkers,
        visits,
        spot_checks,
        tips,
        hidden: pg.hidden,
    })
}

/// Removes what boolean operations leave behind at rounding scale: spikes, collinear and
/// duplicate vertices, and zero-area rings (tolerance 1 mm, in metres).
fn clean(mp: MultiPolygon<f64>) -> MultiPolygon<f64> {
    MultiPolygon(
        mp.0.into_iter()
            .filter_map(|p| {
                let (ext, ints) = p.into_inner();
                let ext = clean_ring(&ext)?;
                Some(Polygon::new(ext, ints.iter().filter_map(clean_ring).collect()))
            })
            .collect(),
    )
}

fn clean_ring(ring: &LineString<f64>) -> Option<LineString<f64>> {
    const EPS: f64 = 1e-3;
    let mut pts: Vec<Coord<f64>> = ring.0.clone();
    if pts.len() > 1 && pts.first() == pts.last() {
        pts.pop();
    }
    let dist = |a: Coord<f64>, b: Coord<f64>| (a.x - b.x).hypot(a.y - b.y);
    loop {
        let n = pts.len();
        if n < 3 {
            return None;
        }
        let drop = (0..n).find(|&i| {
            let (a, b, c) = (pts[(i + n - 1) % n], pts[i], pts[(i + 1) % n]);
            if dist(a, b) < EPS {
                return true;
            }
            let ac = dist(a, c);
            let cross = ((b.x - a.x) * (c.y - a.y) - (b.y - a.y) * (c.x - a.x)).abs();
            ac < EPS || cross / ac < EPS
        });
        match drop {
            Some(i) => {
                pts.remove(i);
            }
            None => break,
        }
    }
    let mut closed = pts;
    closed.push(closed[0]);
    let ls = LineString(closed);
    (Polygon::new(ls.clone(), vec![]).unsigned_area() > 1.0).then_some(ls)
}

fn street_name(r: &Reference, communities: &[Community], grid: u32, grids: &[Grid]) -> String {
    let code = grids.get(grid as usize).map(|g| g.community_code.as_str()).unwrap_or("");
    let street = communities.iter().find(|c| c.code == code).map(|c| c.street_code.as_str()).unwrap_or("");
    r.streets.iter().find(|s| s.0 == street).map(|s| s.1.clone()).unwrap_or_default()
}

/// The shape of one kind of building.
struct KindProfile {
    /// Footprint along and across, metres.
    size: (f64, f64),
    /// Gaps between neighbours along and across, metres.
    gap: (f64, f64),
    floors: (u16, u16),
    dwellings_per_floor: u32,
    /// Share of dwellings rented out.
    rented: f64,
    /// Tenants per rental unit (min, max).
    tenants: (u32, u32),
}

fn kind_profile(kind: BuildingKind) -> KindProfile {
    match kind {
        BuildingKind::Tower => KindProfile {
            size: (30.0, 22.0),
            gap: (26.0, 30.0),
            floors: (16, 32),
            dwellings_per_floor: 4,
            rented: 0.16,
            tenants: (1, 4),
        },
        BuildingKind::Walkup => KindProfile {
            size: (46.0, 12.0),
            gap: (10.0, 14.0),
            floors: (5, 7),
            dwellings_per_floor: 4,
            rented: 0.25,
            tenants: (1, 4),
        },
        BuildingKind::VillageHouse => KindProfile {
            size: (12.0, 10.0),
            gap: (3.0, 4.0),
            floors: (3, 5),
            dwellings_per_floor: 3,
            rented: 0.8,
            tenants: (1, 3),
        },
        BuildingKind::Factory => KindProfile {
            size: (64.0, 36.0),
            gap: (18.0, 20.0),
            floors: (1, 3),
            dwellings_per_floor: 0,
            rented: 0.0,
            tenants: (0, 0),
        },
        BuildingKind::Dormitory => KindProfile {
            size: (44.0, 14.0),
            gap: (14.0, 16.0),
            floors: (4, 6),
            dwellings_per_floor: 10,
            rented: 1.0,
            tenants: (3, 8),
        },
        BuildingKind::Shop => KindProfile {
            size: (18.0, 12.0),
            gap: (3.0, 6.0),
            floors: (2, 3),
            dwellings_per_floor: 1,
            rented: 0.7,
            tenants: (1, 3),
        },
    }
}

/// Fills one block with buildings on a lattice aligned with its longest edge.
fn place_buildings(
    block: &Polygon<f64>,
    ckind: CommunityKind,
    k: f64,
    rng: &mut ChaCha8Rng,
) -> Vec<(BuildingKind, Polygon<f64>)> {
    use BuildingKind as B;
    let template = match ckind {
        CommunityKind::Urban => {
            [(B::Tower, 0.35), (B::Walkup, 0.55), (B::Shop, 0.1)][weighted_index(&[0.35, 0.55, 0.1], rng)].0
        }
        CommunityKind::UrbanVillage => {
            if rng.random_bool(0.92) {
                B::VillageHouse
            } else {
                B::Shop
            }
        }
        CommunityKind::Industrial => {
            [B::Factory, B::Dormitory, B::VillageHouse][weighted_index(&[0.45, 0.2, 0.35], rng)]
        }
        CommunityKind::Rural => {
            if rng.random_bool(0.08) {
                B::Factory
            } else {
                B::VillageHouse
            }
        }
    };
    let p = kind_profile(template);
    let (w, h) = (p.size.0 * k, p.size.1 * k);
    let (gu, gv) = (p.gap.0 * k, p.gap.1 * k);
    let setback = 6.0 * k;
    // Orientation: the block's longest edge.
    let ext = block.exterior();
    let (mut ux, mut uy) = (1.0, 0.0);
    let mut longest = 0.0;
    for l in ext.lines() {
        let (dx, dy) = (l.end.x - l.start.x, l.end.y - l.start.y);
        let len = dx.hypot(dy);
        if len > longest {
            longest = len;
            (ux, uy) = (dx / len, dy / len);
        }
    }
    let (vx, vy) = (-uy, ux);
    let Some(c) = block.centroid() else { return vec![] };
    // Extent of the block in the rotated frame.
    let (mut umin, mut umax, mut vmin, mut vmax) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for p in ext.coords() {
        let (du, dv) = ((p.x - c.x()) * ux + (p.y - c.y()) * uy, (p.x - c.x()) * vx + (p.y - c.y()) * vy);
        umin = umin.min(du);
        umax = umax.max(du);
        vmin = vmin.min(dv);
        vmax = vmax.max(dv);
    }
    // Rural hamlets: houses only around one spot of a large block.
    let hamlet = matches!(ckind, CommunityKind::Rural).then(|| {
        let r = rng.random_range(50.0..110.0) * k;
        let (cu, cv) =
            (rng.random_range(umin * 0.5..=umax * 0.5 + 1e-9), rng.random_range(vmin * 0.5..=vmax * 0.5 + 1e-9));
        (cu, cv, r)
    });
    let (su, sv) = (w + gu, h + gv);
    let cap = match (template, ckind) {
        (B::Tower, _) => 4,
        (B::Walkup, _) => 10,
        (B::VillageHouse, CommunityKind::Rural) => 14,
        (B::VillageHouse, _) => 22,
        (B::Factory, _) => 8,
        (B::Dormitory, _) => 6,
        (B::Shop, _) => 12,
    };
    let mut out = Vec::new();
    let mut u = umin + su / 2.0;
    while u < umax {
        let mut v = vmin + sv / 2.0;
        while v < vmax {
            let keep = hamlet.is_none_or(|(cu, cv, r)| (u - cu).hypot(v - cv) < r);
            if keep {
                let kind = match template {
                    B::Factory if rng.random_bool(0.22) => B::Dormitory,
                    B::Tower | B::Walkup if rng.random_bool(0.05) => B::Shop,
                    t => t,
                };
                let rect = |hw: f64, hh: f64| -> Polygon<f64> {
                    let pts = [(-hw, -hh), (hw, -hh), (hw, hh), (-hw, hh), (-hw, -hh)]
                        .iter()
                        .map(|&(a, b)| Coord {
                            x: c.x() + (u + a) * ux + (v + b) * vx,
                            y: c.y() + (u + a) * uy + (v + b) * vy,
                        })
                        .collect::<Vec<_>>();
                    Polygon::new(LineString(pts), vec![])
                };
                let kp = kind_profile(kind);
                let (kw, kh) = ((kp.size.0 * k).min(w), (kp.size.1 * k).min(h));
                if block.contains(&rect(kw / 2.0 + setback, kh / 2.0 + setback)) {
                    out.push((kind, rect(kw / 2.0, kh / 2.0)));
                }
            }
            v += sv;
        }
        u += su;
    }
    // Keep a random subset of at most `cap`, in lattice order.
    while out.len() > cap {
        let i = rng.random_range(0..out.len());
        out.remove(i);
    }
    out
}

/// Generates landlords, rental units, households and persons, and the hidden ground truth.
struct PeopleGen<'a> {
    r: &'a Reference,
    as_of: Date,
    landlords: Vec<Landlord>,
    units: Vec<RentalUnit>,
    households: Vec<Household>,
    persons: Vec<Person>,
    hidden: Vec<HiddenOccupancy>,
    /// Known persons per building.
    persons_in: Vec<u32>,
    /// Person ID numbers issued so far: the register holds each once.
    person_ids: std::collections::HashSet<String>,
    /// A stream of its own for the utility accounts of hidden units, so that drawing them
    /// leaves every other draw of the city as it was.
    meter_rng: ChaCha8Rng,
    /// The registration trend of the year, per grid.
    grid_trend: Vec<Trend>,
}

/// How a grid's registrations of the last year are spread over its months.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Trend {
    /// Evenly.
    Steady,
    /// More and more towards the end of the year (a sweep).
    Improving,
    /// Mostly early in the year, few lately.
    Stalling,
}

/// Mixed into the city's seed for [`PeopleGen::meter_rng`].
const METER_STREAM: u64 = 0x6d65_7465_7273;
/// Chance that a hidden rental unit carries a utility account of its own (a partitioned room
/// with its own 分户表), on top of the one of the dwelling it was cut from.
const HIDDEN_UNIT_METER: f64 = 0.75;

impl<'a> PeopleGen<'a> {
    fn new(r: &'a Reference, as_of: Date, seed: u64) -> Self {
        Self {
            r,
            as_of,
            landlords: vec![],
            units: vec![],
            households: vec![],
            persons: vec![],
            hidden: vec![],
            persons_in: vec![],
            person_ids: std::collections::HashSet::new(),
            meter_rng: ChaCha8Rng::seed_from_u64(seed ^ METER_STREAM),
            grid_trend: Vec::new(),
        }
    }

    /// `id` if no person has it yet, else the next free sequence number of the same area, birth
    /// date and sex. Draws nothing, so the rest of the city is the same as without a clash.
    fn unique_person_id(&mut self, id: &str) -> String {
        let mut out = id.to_string();
        if let (Some(head), Some(seq)) = (id.get(..14), id.get(14..17).and_then(|s| s.parse::<u16>().ok())) {
            for k in 1..500u16 {
                if !self.person_ids.contains(&out) {
                    break;
                }
                if let Some(next) = crate::idcard::IdNumber::from_body(&format!("{head}{:03}", (seq + 2 * k) % 1000)) {
                    out = next.as_str().to_string();
                }
            }
        }
        self.person_ids.insert(out.clone());
        out
    }

    fn landlord(&mut self, rng: &mut ChaCha8Rng) -> u32 {
        let male = rng.random_bool(0.6);
        let id = self.landlords.len() as u32;
        let local = ["330203".to_string(), "330212".to_string(), "330205".to_string()];
        let name = people::name(male, rng);
        let drawn = people::id_number(&local, 1950, 1990, male, rng);
        let id_number = self.unique_person_id(drawn.as_str());
        self.landlords.push(Landlord { id, name, id_number, phone: people::phone(rng) });
        id
    }

    /// A registration date: 30% within the last year (the new rentals of the year; 40% in a
    /// grid that ran a sweep), the rest earlier. Within the year the grid's [`Trend`] skews the
    /// dates towards its end (improving) or its start (stalling). Two draws, whatever the trend.
    fn reg_date(&self, grid_id: u32, rng: &mut ChaCha8Rng) -> Date {
        let trend = self.grid_trend.get(grid_id as usize).copied().unwrap_or(Trend::Steady);
        let recent = if trend == Trend::Improving { 0.4 } else { 0.3 };
        if rng.random_bool(recent) {
            let u = rng.random_range(0..365i64) as f64 / 365.0;
            let days_ago = match trend {
                Trend::Steady => u,
                Trend::Improving => u * u,
                Trend::Stalling => 1.0 - (1.0 - u) * (1.0 - u),
            };
            self.as_of - Duration::days((days_ago * 365.0).floor().min(364.0) as i64)
        } else {
            self.as_of - Duration::days(rng.random_range(365..1825))
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn populate(
        &mut self,
        id: u32,
        grid_id: u32,
        kind: BuildingKind,
        ckind: CommunityKind,
        weak: f64,
        footprint: Polygon<f64>,
        point: Point<f64>,
        address: String,
        rng: &mut ChaCha8Rng,
    ) -> Building {
        let p = kind_profile(kind);
        let floors = rng.random_range(p.floors.0..=p.floors.1);
        let rural_house = kind == BuildingKind::VillageHouse && ckind == CommunityKind::Rural;
        let floors = if rural_house { floors.min(4) - 1 } else { floors };
        let per_floor = if rural_house { 2 } else { p.dwellings_per_floor };
        let dwellings = u32::from(floors) * per_floor;
        let rented_share =
            if kind == BuildingKind::VillageHouse && ckind == CommunityKind::Rural { 0.35 } else { p.rented };
        // Self-built rentals and dormitories hide more.
        let hide_factor = if matches!(kind, BuildingKind::VillageHouse | BuildingKind::Dormitory) { 1.3 } else { 0.7 };
        let p_hidden_unit = ((0.02 + 0.32 * weak) * hide_factor).min(0.9);
        let p_hidden_person = 0.02 + 0.15 * weak;
        let building_landlord =
            matches!(kind, BuildingKind::VillageHouse | BuildingKind::Dormitory | BuildingKind::Shop)
                .then(|| self.landlord(rng));
        let mut hidden = HiddenOccupancy { building_id: id, units: 0, persons: 0 };
        let mut occupied = 0u32;
        let mut persons_here = 0u32;
        for d in 0..dwellings {
            if !rng.random_bool(rented_share) {
                // Owner-occupied or empty.
                occupied += u32::from(rng.random_bool(0.88));
                continue;
            }
            occupied += 1;
            let tenants = rng.random_range(p.tenants.0..=p.tenants.1);
            if rng.random_bool(p_hidden_unit) {
                hidden.units += 1;
                hidden.persons += tenants;
                continue;
            }
            let landlord_id = Some(match building_landlord {
                Some(l) => l,
                None => self.landlord(rng),
            });
            let registered = rng.random_bool((0.985 - 0.42 * weak).clamp(0.05, 1.0));
            let unit_id = self.units.len() as u32;
            self.units.push(RentalUnit {
                id: unit_id,
                building_id: id,
                landlord_id,
                label: format!("{}{:02}", d / per_floor.max(1) + 1, d % per_floor.max(1) + 1),
                registered,
                registered_on: registered.then(|| self.reg_date(grid_id, rng)),
                pledge_signed: registered && rng.random_bool((0.98 - 0.3 * weak).clamp(0.05, 1.0)),
                tenants,
                mode: match kind {
                    BuildingKind::Dormitory => ManagementMode::Entrusted,
                    BuildingKind::Shop if rng.random_bool(0.3) => ManagementMode::HotelStyle,
                    _ if rng.random_bool(0.15) => ManagementMode::Entrusted,
                    _ => ManagementMode::SelfManaged,
                },
                concentrated: kind == BuildingKind::Dormitory,
            });
            let household_id = self.households.len() as u32;
            self.households.push(Household {
                id: household_id,
                rental_unit_id: unit_id,
                card_no: format!("HS{:08}", household_id + 1),
            });
            for _ in 0..tenants {
                if rng.random_bool(p_hidden_person) {
                    hidden.persons += 1;
                    continue;
                }
                let male = rng.random_bool(0.56);
                let pregistered = rng.random_bool((0.965 - 0.42 * weak).clamp(0.05, 1.0));
                let name = people::name(male, rng);
                let drawn = people::id_number(&self.r.origin_areas, 1962, 2006, male, rng);
                let id_number = self.unique_person_id(drawn.as_str());
                self.persons.push(Person {
                    id: self.persons.len() as u32,
                    household_id,
                    building_id: id,
                    name,
                    id_number,
                    phone: people::phone(rng),
                    registered: pregistered,
                    registered_on: pregistered.then(|| self.reg_date(grid_id, rng)),
                    permit: pregistered && rng.random_bool((0.93 - 0.28 * weak).clamp(0.05, 1.0)),
                    consistent: pregistered && rng.random_bool((0.84 - 0.35 * weak).clamp(0.05, 1.0)),
                    workplace_id: None,
                });
                persons_here += 1;
            }
        }
        if hidden.units > 0 || hidden.persons > 0 {
            self.hidden.push(hidden);
        }
        if self.persons_in.len() <= id as usize {
            self.persons_in.resize(id as usize + 1, 0);
        }
        self.persons_in[id as usize] = persons_here;
        // Meters: one per occupied dwelling, with a little noise (shared or idle meters); most
        // hidden units are partitioned rooms (隔断/群租) with an account of their own, which is
        // the signal "more meters than registered households" a sweep looks for.
        let noise: i64 = if occupied > 0 { rng.random_range(-1..=1) } else { 0 };
        let partitioned = (0..hidden.units).filter(|_| self.meter_rng.random_bool(HIDDEN_UNIT_METER)).count();
        let utility_accounts = (i64::from(occupied) + noise).max(0) as u32 + partitioned as u32;
        Building {
            id,
            external_id: id.to_string(),
            grid_id,
            kind,
            address,
            floors,
            dwellings,
            utility_accounts,
            footprint,
            point,
        }
    }

    fn assign_employers(
        &mut self,
        workplaces: &[Workplace],
        buildings: &[Building],
        grids: &[Grid],
        communities: &[Community],
        rng: &mut ChaCha8Rng,
    ) {
        let street_of_grid: Vec<&str> = grids
            .iter()
            .map(|g| {
                communities.iter().find(|c| c.code == g.community_code).map(|c| c.street_code.as_str()).unwrap_or("")
            })
            .collect();
        let mut by_street: BTreeMap<&str, Vec<u32>> = BTreeMap::new();
        for w in workplaces {
            by_street.entry(street_of_grid[w.grid_id as usize]).or_default().push(w.id);
        }
        for p in &mut self.persons {
            let street = street_of_grid[buildings[p.building_id as usize].grid_id as usize];
            if let Some(ws) = by_street.get(street)
                && !ws.is_empty()
                && rng.random_bool(0.7)
            {
                p.workplace_id = Some(ws[rng.random_range(0..ws.len())]);
            }
        }
    }
}

/// Roads: arterials follow shortest paths between neighbouring street centres, secondaries run
/// along community boundaries, the rest are local streets.
fn classify_roads(
    lay: &Layout,
    street_of: &BTreeMap<usize, usize>,
    community_of_block: &[usize],
    anchor_blocks: &[usize],
    to_ll: impl Fn(Coord<f64>) -> Coord<f64>,
) -> Vec<Road> {
    // Dense node ids.
    let mut node_id: BTreeMap<usize, u32> = BTreeMap::new();
    let mut node_pos: Vec<Coord<f64>> = Vec::new();
    for r in &lay.roads {
        for (n, p) in [(r.from, r.a), (r.to, r.b)] {
            node_id.entry(n).or_insert_with(|| {
                node_pos.push(p);
                (node_pos.len() - 1) as u32
            });
        }
    }
    let mut adj: Vec<Vec<(usize, usize, f64)>> = vec![Vec::new(); node_pos.len()];
    for (i, r) in lay.roads.iter().enumerate() {
        let (a, b) = (node_id[&r.from] as usize, node_id[&r.to] as usize);
        let len = (r.a.x - r.b.x).hypot(r.a.y - r.b.y);
        adj[a].push((b, i, len));
        adj[b].push((a, i, len));
    }
    let mut arterial = vec![false; lay.roads.len()];
    let nearest_node = |p: Point<f64>| -> Option<usize> {
        (0..node_pos.len()).min_by(|&a, &b| {
            (node_pos[a].x - p.x())
                .hypot(node_pos[a].y - p.y())
                .total_cmp(&(node_pos[b].x - p.x()).hypot(node_pos[b].y - p.y()))
        })
    };
    let anchor_nodes: Vec<Option<usize>> = anchor_blocks.iter().map(|&b| nearest_node(lay.blocks[b].seed)).collect();
    let mut street_pairs: BTreeSet<(usize, usize)> = BTreeSet::new();
    for r in &lay.roads {
        if let (Some(&a), Some(&b)) = (street_of.get(&r.blocks.0), street_of.get(&r.blocks.1))
            && a != b
        {
            street_pairs.insert((a.min(b), a.max(b)));
        }
    }
    for (sa, sb) in street_pairs {
        let (Some(Some(from)), Some(Some(to))) = (anchor_nodes.get(sa), anchor_nodes.get(sb)) else { continue };
        // Dijkstra from `from` to `to`.
        let mut dist = vec![f64::INFINITY; node_pos.len()];
        let mut via: Vec<Option<(usize, usize)>> = vec![None; node_pos.len()];
        let mut heap = BinaryHeap::new();
        dist[*from] = 0.0;
        heap.push(MinCost(0.0, *from));
        while let Some(MinCost(d, n)) = heap.pop() {
            if n == *to {
                break;
            }
            if d > dist[n] {
                continue;
            }
            for &(m, road, len) in &adj[n] {
                if d + len < dist[m] {
                    dist[m] = d + len;
                    via[m] = Some((n, road));
                    heap.push(MinCost(d + len, m));
                }
            }
        }
        let mut n = *to;
        while let Some((prev, road)) = via[n] {
            arterial[road] = true;
            n = prev;
        }
    }
    lay.roads
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let class = if arterial[i] {
                RoadClass::Arterial
            } else if community_of_block.get(r.blocks.0) != community_of_block.get(r.blocks.1) {
                RoadClass::Secondary
            } else {
                RoadClass::Local
            };
            Road {
                id: i as u32,
                from_node: node_id[&r.from],
                to_node: node_id[&r.to],
                class,
                line: LineString(vec![to_ll(r.a), to_ll(r.b)]),
                length_m: (r.a.x - r.b.x).hypot(r.a.y - r.b.y),
            }
        })
        .collect()
}
