//! H3 hexagons (六边形网格, via `h3o`) as an alternative tessellation to the drawn grids: points
//! aggregated per hexagon, with geodesic cell areas, densities per km² and the weights of
//! hexagons sharing an edge (for a hexagon Rook and Queen are the same), ready for Gi\*, Local
//! Moran or emerging hot spots.
//!
//! Only cells holding points exist unless `ring > 0` adds the empty cells within `ring` steps of
//! them with weight 0: for counts an empty cell is a true zero and belongs in a hot-spot analysis.

use crate::error::{StatsError, StatsResult, check_finite};
use crate::weights::{Units, Weights, WeightsKind};
use h3o::{CellIndex, LatLng, Resolution};
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
    let res = Resolution::try_from(resolution).map_err(|_| StatsError::Parameter {
        name: "resolution",
        value: f64::from(resolution),
        reason: "must be 0 to 15",
    })?;
    let flat: Vec<f64> = points.iter().flat_map(|p| [p.0, p.1, p.2]).collect();
    check_finite("point coordinate or weight", &flat)?;
    let mut sums: BTreeMap<CellIndex, (u32, f64)> = BTreeMap::new();
    for (index, p) in points.iter().enumerate() {
        if p.1.abs() > 90.0 || p.0.abs() > 180.0 {
            return Err(StatsError::Parameter { name: "latitude/longitude", value: p.1, reason: "out of range" });
        }
        let ll = LatLng::new(p.1, p.0).map_err(|_| StatsError::NotFinite { what: "latitude/longitude", index })?;
        let e = sums.entry(ll.to_cell(res)).or_insert((0, 0.0));
        e.0 += 1;
        e.1 += p.2;
    }
    if ring > 0 {
        let occupied: Vec<CellIndex> = sums.keys().copied().collect();
        for c in occupied {
            for n in c.grid_disk::<Vec<_>>(ring) {
                sums.entry(n).or_insert((0, 0.0));
            }
        }
    }
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
        let position: BTreeMap<CellIndex, u32> = self.indexes.iter().enumerate().map(|(i, &c)| (c, i as u32)).collect();
        let lists: Vec<Vec<u32>> = self
            .indexes
            .iter()
            .map(|c| c.grid_disk::<Vec<_>>(1).iter().filter_map(|n| position.get(n).copied()).collect())
            .collect();
        Weights::from_lists(&lists, WeightsKind::H3 { resolution: self.resolution }, Units::Metres)
    }

    /// The weights per cell, for hot spots of counts.
    pub fn values(&self) -> Vec<f64> {
        self.cells.iter().map(|c| c.weight).collect()
    }
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
}
