//! H3 hexagons (六边形网格, via `h3o`) as an alternative tessellation to the drawn grids: points
//! aggregated per hexagon, with geodesic cell areas, densities per km² and the weights of
//! hexagons sharing an edge (for a hexagon Rook and Queen are the same), ready for Gi\*, Local
//! Moran or emerging hot spots.
//!
//! Only cells holding points exist unless `ring > 0` adds the empty cells within `ring` steps of
//! them with weight 0: for counts an empty cell is a true zero and belongs in a hot-spot analysis.

use crate::error::{StatsError, StatsResult, check_finite};
use crate::kpi::Counts;
use crate::weights::{Units, Weights, WeightsKind};
use geo::{LineString, Polygon};
use h3o::{CellIndex, LatLng, Resolution};
use rentgrid_geodata::BuildingStats;
use serde::Serialize;
use std::collections::BTreeMap;

/// One hexagon's aggregate.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HexCell {
    /// The H3 index in its usual hexadecimal form.
    pub index: String,
    /// Points inside it.
    pub points: u32,
    /// Sum of their weights.
    pub weight: f64,
    /// Geodesic area in km².
    pub area_km2: f64,
    /// `weight / area_km2`.
    pub per_km2: f64,
}

/// Points aggregated on H3 hexagons of one resolution, ordered by H3 index.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HexAggregate {
    /// The H3 resolution.
    pub resolution: u8,
    /// The hexagons.
    pub cells: Vec<HexCell>,
    #[serde(skip)]
    indexes: Vec<CellIndex>,
}

/// Aggregates (longitude, latitude, weight) points on H3 cells of `resolution` (0–15; 9 is
/// about 0.1 km², 8 about 0.7 km²), adding the empty cells within `ring` steps of occupied ones.
pub fn aggregate(points: &[(f64, f64, f64)], resolution: u8, ring: u32) -> StatsResult<HexAggregate> {
    let res = resolution_of(resolution)?;
    let flat: Vec<f64> = points.iter().flat_map(|p| [p.0, p.1, p.2]).collect();
    check_finite("point coordinate or weight", &flat)?;
    let mut sums: BTreeMap<CellIndex, (u32, f64)> = BTreeMap::new();
    for (index, p) in points.iter().enumerate() {
        let e = sums.entry(cell_of(p.0, p.1, res, index)?).or_insert((0, 0.0));
        e.0 += 1;
        e.1 += p.2;
    }
    add_ring(&mut sums, ring, (0, 0.0));
    let indexes: Vec<CellIndex> = sums.keys().copied().collect();
    let cells = sums
        .iter()
        .map(|(c, &(n, w))| {
            let area_km2 = c.area_km2();
            HexCell {
                index: c.to_string(),
                points: n,
                weight: w,
                area_km2,
                per_km2: if area_km2 > 0.0 { w / area_km2 } else { 0.0 },
            }
        })
        .collect();
    Ok(HexAggregate { resolution, cells, indexes })
}

impl HexAggregate {
    /// Binary weights of the hexagons sharing an edge, in the order of `cells`.
    pub fn weights(&self) -> StatsResult<Weights> {
        edge_weights(&self.indexes, self.resolution)
    }

    /// The weights per cell, for hot spots of counts.
    pub fn values(&self) -> Vec<f64> {
        self.cells.iter().map(|c| c.weight).collect()
    }
}

/// The register summed per hexagon: each hexagon's buildings' [`BuildingStats`] as [`Counts`]
/// with its geodesic area, so the KPI metrics of [`crate::metrics`] apply to hexagons as to grids
/// (the alternative tessellation that shows whether a pattern is an effect of the grids' shapes).
#[derive(Debug, Clone)]
pub struct HexCounts {
    /// The H3 resolution.
    pub resolution: u8,
    /// H3 indexes in hexadecimal, ordered.
    pub index: Vec<String>,
    /// Counts per hexagon, in the same order.
    pub counts: Vec<Counts>,
    /// Hexagon centres (longitude, latitude).
    pub centres: Vec<(f64, f64)>,
    indexes: Vec<CellIndex>,
}

/// Sums buildings `(longitude, latitude, stats)` per H3 cell of `resolution`, adding the empty
/// cells within `ring` steps of occupied ones (counts of zero there, rates undefined).
pub fn hex_counts<'a>(
    buildings: impl IntoIterator<Item = (f64, f64, &'a BuildingStats)>,
    resolution: u8,
    ring: u32,
) -> StatsResult<HexCounts> {
    let res = resolution_of(resolution)?;
    let mut sums: BTreeMap<CellIndex, Counts> = BTreeMap::new();
    for (index, (lon, lat, stats)) in buildings.into_iter().enumerate() {
        sums.entry(cell_of(lon, lat, res, index)?).or_default().add_building(stats);
    }
    add_ring(&mut sums, ring, Counts::default());
    let indexes: Vec<CellIndex> = sums.keys().copied().collect();
    let counts = sums.iter().map(|(c, counts)| Counts { area_km2: c.area_km2(), ..*counts }).collect();
    let centres = indexes
        .iter()
        .map(|&c| {
            let ll = LatLng::from(c);
            (ll.lng(), ll.lat())
        })
        .collect();
    Ok(HexCounts { resolution, index: indexes.iter().map(ToString::to_string).collect(), counts, centres, indexes })
}

impl HexCounts {
    /// Binary weights of the hexagons sharing an edge, in index order.
    pub fn weights(&self) -> StatsResult<Weights> {
        edge_weights(&self.indexes, self.resolution)
    }

    /// Hexagon `i`'s boundary as a closed polygon in longitude/latitude.
    pub fn boundary(&self, i: usize) -> Polygon<f64> {
        let ring: Vec<(f64, f64)> = self.indexes[i].boundary().iter().map(|ll| (ll.lng(), ll.lat())).collect();
        Polygon::new(LineString::from(ring), vec![])
    }
}

fn resolution_of(resolution: u8) -> StatsResult<Resolution> {
    Resolution::try_from(resolution).map_err(|_| StatsError::Parameter {
        name: "resolution",
        value: f64::from(resolution),
        reason: "must be 0 to 15",
    })
}

fn cell_of(lon: f64, lat: f64, res: Resolution, index: usize) -> StatsResult<CellIndex> {
    if !lon.is_finite() || !lat.is_finite() {
        return Err(StatsError::NotFinite { what: "building coordinate", index });
    }
    if lat.abs() > 90.0 || lon.abs() > 180.0 {
        return Err(StatsError::Parameter { name: "latitude/longitude", value: lat, reason: "out of range" });
    }
    let ll = LatLng::new(lat, lon).map_err(|_| StatsError::NotFinite { what: "latitude/longitude", index })?;
    Ok(ll.to_cell(res))
}

/// Adds the cells within `ring` steps of the occupied ones, holding `empty`.
fn add_ring<T: Clone>(cells: &mut BTreeMap<CellIndex, T>, ring: u32, empty: T) {
    if ring == 0 {
        return;
    }
    let occupied: Vec<CellIndex> = cells.keys().copied().collect();
    for c in occupied {
        for n in c.grid_disk::<Vec<_>>(ring) {
            cells.entry(n).or_insert_with(|| empty.clone());
        }
    }
}

/// Binary weights of the cells sharing an edge.
fn edge_weights(indexes: &[CellIndex], resolution: u8) -> StatsResult<Weights> {
    let position: BTreeMap<CellIndex, u32> = indexes.iter().enumerate().map(|(i, &c)| (c, i as u32)).collect();
    let lists: Vec<Vec<u32>> = indexes
        .iter()
        .map(|c| c.grid_disk::<Vec<_>>(1).iter().filter_map(|n| position.get(n).copied()).collect())
        .collect();
    Weights::from_lists(&lists, WeightsKind::H3 { resolution }, Units::Metres)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_land_in_hexagons_with_six_neighbours() {
        // Two points a few metres apart in Ningbo share a resolution-9 cell; a ring of 2 adds
        // 18 empty cells around it (1 + 6 + 12 = 19 cells).
        let agg = aggregate(&[(121.55, 29.87, 1.0), (121.55001, 29.87001, 2.0)], 9, 2).unwrap();
        assert_eq!(agg.cells.len(), 19);
        let full = agg.cells.iter().find(|c| c.points == 2).unwrap();
        assert_eq!(full.weight, 3.0);
        assert!((0.08..0.13).contains(&full.area_km2), "{}", full.area_km2);
        let w = agg.weights().unwrap();
        let centre = agg.cells.iter().position(|c| c.points == 2).unwrap();
        assert_eq!(w.cardinality(centre), 6);
        assert!(w.is_symmetric());
        assert_eq!(w.describe().kind, WeightsKind::H3 { resolution: 9 });
        assert!(aggregate(&[], 16, 0).is_err());
        assert!(aggregate(&[(121.0, 95.0, 1.0)], 9, 0).is_err());
    }

    #[test]
    fn hexagon_counts_sum_the_buildings_and_keep_rates_undefined_where_empty() {
        let a = BuildingStats { persons: 10, persons_registered: 9, rental_units: 3, ..BuildingStats::default() };
        let b = BuildingStats { persons: 4, persons_registered: 1, ..BuildingStats::default() };
        let far = BuildingStats { persons: 7, ..BuildingStats::default() };
        let hex = hex_counts([(121.55, 29.87, &a), (121.55001, 29.87001, &b), (121.60, 29.90, &far)], 9, 1).unwrap();
        // Two occupied cells, each with a ring of six (they are kilometres apart).
        assert_eq!(hex.counts.len(), 14);
        assert_eq!(hex.counts.iter().map(|c| c.stats.persons).sum::<u32>(), 21);
        assert_eq!(hex.counts.iter().map(|c| c.buildings).sum::<u32>(), 3);
        let both = hex.counts.iter().position(|c| c.buildings == 2).unwrap();
        assert_eq!((hex.counts[both].stats.persons, hex.counts[both].stats.persons_registered), (14, 10));
        assert!(hex.counts.iter().all(|c| (0.08..0.13).contains(&c.area_km2)));
        let w = hex.weights().unwrap();
        assert_eq!(w.cardinality(both), 6);
        // The boundary is a closed hexagon around the centre.
        let poly = hex.boundary(both);
        assert_eq!(poly.exterior().0.len(), 7);
        let (lon, lat) = hex.centres[both];
        assert!(geo::Contains::contains(&poly, &geo::Point::new(lon, lat)));
        assert!(geo::Contains::contains(&poly, &geo::Point::new(121.55, 29.87)));
        assert!(hex_counts([(121.55, 95.0, &a)], 9, 0).is_err());
    }
}
