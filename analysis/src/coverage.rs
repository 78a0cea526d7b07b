//! 包干法 coverage: each caseworker's contracted area as one dissolved (multi)polygon, its load
//! against the staffing rule, and what the contracts leave out or double up: grids nobody covers,
//! grids covered more than once, caseworkers over their ratio.
//!
//! Load is the fractional caseworkers the area's grids need under the rule (see
//! [`crate::staffing`]) carried by one person: 1.0 is exactly the ratio, 1.2 is 20% over. A grid
//! contracted to several caseworkers splits its requirement evenly between them.

use crate::staffing::{StaffingError, StaffingRule, grid_requirements};
use geo::{Area, BooleanOps, Coord, LineString, MultiPolygon, Polygon, Validation};
use rentgrid_geodata::atlas::geodesic_area_m2;
use rentgrid_geodata::{Atlas, Caseworker, CaseworkerId, GridId};
use serde::Serialize;

/// One caseworker's contracted area.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CoverageArea {
    /// The caseworker.
    pub caseworker_id: CaseworkerId,
    /// Name.
    pub name: String,
    /// Street team.
    pub street_code: String,
    /// Contracted grids the Atlas knows, ascending, each once.
    pub grids: Vec<GridId>,
    /// Contracted grid ids the Atlas does not know (a stale contract).
    pub unknown_grids: Vec<GridId>,
    /// The union of the grids, dissolved (no internal boundaries), WGS84.
    #[serde(skip)]
    pub geometry: MultiPolygon<f64>,
    /// Separate pieces of the area (1 when contiguous).
    pub parts: usize,
    /// Whether the geometry passed geo's validity check (OGC simple-feature rules).
    pub valid: bool,
    /// Geodesic area of the union, km².
    pub area_km2: f64,
    /// Sum of the grids' own areas, km² (equals `area_km2` when grids do not overlap).
    pub grids_area_km2: f64,
    /// Fractional caseworkers the grids need under the rule (shared grids split evenly).
    pub required: f64,
    /// Load: `required` carried by this one caseworker (1.0 = exactly the ratio).
    pub load: f64,
}

/// A grid contracted to more than one caseworker.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SharedGrid {
    /// The grid.
    pub grid_id: GridId,
    /// The caseworkers it is contracted to, ascending.
    pub caseworkers: Vec<CaseworkerId>,
}

/// Coverage of a district by its caseworkers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CoverageReport {
    /// The rule loads are measured against.
    pub rule: String,
    /// One area per caseworker, in the order given.
    pub areas: Vec<CoverageArea>,
    /// Grids nobody covers, ascending.
    pub uncovered: Vec<GridId>,
    /// Grids covered more than once, ascending.
    pub covered_twice: Vec<SharedGrid>,
    /// Caseworkers whose load exceeds 1.0, heaviest first.
    pub overloaded: Vec<CaseworkerId>,
}

/// Each caseworker's area and load, and the gaps and overlaps of the contracts.
pub fn coverage(
    atlas: &Atlas,
    caseworkers: &[Caseworker],
    rule: &StaffingRule,
) -> Result<CoverageReport, StaffingError> {
    rule.validate()?;
    let required = grid_requirements(atlas, rule);
    let n = atlas.grids().len();
    let mut holders: Vec<Vec<CaseworkerId>> = vec![Vec::new(); n];
    let mut own: Vec<(Vec<GridId>, Vec<GridId>)> = Vec::with_capacity(caseworkers.len());
    for cw in caseworkers {
        let mut known: Vec<GridId> = cw.grids.iter().copied().filter(|&g| (g as usize) < n).collect();
        known.sort_unstable();
        known.dedup();
        let mut unknown: Vec<GridId> = cw.grids.iter().copied().filter(|&g| (g as usize) >= n).collect();
        unknown.sort_unstable();
        unknown.dedup();
        for &g in &known {
            holders[g as usize].push(cw.id);
        }
        own.push((known, unknown));
    }
    let areas: Vec<CoverageArea> = caseworkers
        .iter()
        .zip(own)
        .map(|(cw, (grids, unknown_grids))| {
            let geometry = dissolve(atlas, &grids);
            let req: f64 = grids.iter().map(|&g| required[g as usize] / holders[g as usize].len() as f64).sum();
            CoverageArea {
                caseworker_id: cw.id,
                name: cw.name.clone(),
                street_code: cw.street_code.clone(),
                parts: geometry.0.len(),
                valid: geometry.is_valid(),
                area_km2: geodesic_area_m2(&geometry) / 1e6,
                grids_area_km2: grids.iter().filter_map(|&g| atlas.grid(g)).map(|g| g.area_km2).sum(),
                geometry,
                grids,
                unknown_grids,
                required: req,
                load: req,
            }
        })
        .collect();
    let uncovered = (0..n as GridId).filter(|&g| holders[g as usize].is_empty()).collect();
    let covered_twice = holders
        .iter()
        .enumerate()
        .filter(|(_, h)| h.len() > 1)
        .map(|(g, h)| {
            let mut caseworkers = h.clone();
            caseworkers.sort_unstable();
            SharedGrid { grid_id: g as GridId, caseworkers }
        })
        .collect();
    let mut over: Vec<&CoverageArea> = areas.iter().filter(|a| a.load > 1.0).collect();
    over.sort_by(|a, b| b.load.total_cmp(&a.load).then(a.caseworker_id.cmp(&b.caseworker_id)));
    let overloaded = over.iter().map(|a| a.caseworker_id).collect();
    Ok(CoverageReport { rule: rule.name.clone(), areas, uncovered, covered_twice, overloaded })
}

/// The dissolved union of some grids: one (multi)polygon without the boundaries between them,
/// cleaned of the rounding-scale debris boolean operations leave (see [`clean`]).
pub fn dissolve(atlas: &Atlas, grids: &[GridId]) -> MultiPolygon<f64> {
    let union = geo::unary_union(grids.iter().filter_map(|&g| atlas.grid(g)).map(|g| &g.grid.geometry));
    if union.is_valid() { union } else { clean(union) }
}

/// Distance (degrees) under which vertices merge and spikes fold: about a millimetre.
const CLEAN_TOLERANCE: f64 = 1e-8;

/// Removes what boolean operations leave at rounding scale: duplicate and collinear vertices,
/// spikes and rings of no area; then re-unions the parts so that what remains is valid.
pub fn clean(mp: MultiPolygon<f64>) -> MultiPolygon<f64> {
    let polys: Vec<Polygon<f64>> =
        mp.0.into_iter()
            .filter_map(|p| {
                let (ext, ints) = p.into_inner();
                let ext = clean_ring(&ext)?;
                Some(Polygon::new(ext, ints.iter().filter_map(clean_ring).collect()))
            })
            .collect();
    let cleaned = MultiPolygon(polys);
    if cleaned.is_valid() {
        return cleaned;
    }
    // A self-touching ring left after cleaning: the overlay engine splits it into valid parts.
    cleaned.union(&MultiPolygon(vec![]))
}

fn clean_ring(ring: &LineString<f64>) -> Option<LineString<f64>> {
    let mut pts: Vec<Coord<f64>> = ring.0.clone();
    if pts.len() > 1 && pts.first() == pts.last() {
        pts.pop();
    }
    let dist = |a: Coord<f64>, b: Coord<f64>| (a.x - b.x).hypot(a.y - b.y);
    let mut i = 0;
    let mut since_drop = 0;
    while pts.len() >= 3 && since_drop < pts.len() {
        let n = pts.len();
        let (a, b, c) = (pts[(i + n - 1) % n], pts[i % n], pts[(i + 1) % n]);
        let ac = dist(a, c);
        let cross = ((b.x - a.x) * (c.y - a.y) - (b.y - a.y) * (c.x - a.x)).abs();
        if dist(a, b) < CLEAN_TOLERANCE || ac < CLEAN_TOLERANCE || cross / ac < CLEAN_TOLERANCE {
            pts.remove(i % n);
            since_drop = 0;
            i = (i + n - 1) % n.saturating_sub(1).max(1);
        } else {
            i = (i + 1) % n;
            since_drop += 1;
        }
    }
    if pts.len() < 3 {
        return None;
    }
    pts.push(pts[0]);
    let ls = LineString(pts);
    (Polygon::new(ls.clone(), vec![]).unsigned_area() > CLEAN_TOLERANCE * CLEAN_TOLERANCE).then_some(ls)
}
