//! The Atlas: an in-memory snapshot of a district for reading, built with `RTree::bulk_load`.
//!
//! Geometry and indexes (grids, blocks, roads, building footprints, workplaces) are immutable and
//! shared between snapshots; per-building counters live in a copy-on-write vector, so applying a
//! committed write makes a new snapshot that shares everything but the chunk it touched.
//!
//! Rental units have no location of their own: they are found through their building, whose
//! footprint is in the index, and counted in its [`BuildingStats`].

use crate::cow::CowVec;
use crate::model::{
    Block, Building, BuildingId, City, Community, CommunityKind, District, Grid, GridId, Road, Street, Workplace,
};
use geo::{BoundingRect, GeodesicArea, InteriorPoint, Intersects, LineString, MultiPolygon, Point, Rect};
use rstar::primitives::{GeomWithData, Line, Rectangle};
use rstar::{AABB, RTree};
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

/// Counts the register holds for one building; KPIs are sums of these.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BuildingStats {
    /// Rental units known to the register.
    pub rental_units: u32,
    /// Of which registered (备案).
    pub rental_units_registered: u32,
    /// Of the registered ones, with the landlord's safety pledge signed.
    pub pledges_signed: u32,
    /// Person records. Null in what a leader sees where under 5 (small-count suppression).
    #[cfg_attr(feature = "openapi", schema(nullable))]
    pub persons: u32,
    /// Of which registered (登记). Null in what a leader sees where under 5 (small-count suppression).
    #[cfg_attr(feature = "openapi", schema(nullable))]
    pub persons_registered: u32,
    /// Of the registered, holding a residence permit (办证). Null in what a leader sees where under 5 (small-count suppression).
    #[cfg_attr(feature = "openapi", schema(nullable))]
    pub persons_with_permit: u32,
    /// Of the registered, living at their registered address (人户一致). Null in what a leader sees where under 5 (small-count suppression).
    #[cfg_attr(feature = "openapi", schema(nullable))]
    pub persons_consistent: u32,
    /// Visits recorded.
    pub visits: u32,
}

impl BuildingStats {
    /// Adds another building's counts to these.
    pub fn add(&mut self, o: &BuildingStats) {
        self.rental_units += o.rental_units;
        self.rental_units_registered += o.rental_units_registered;
        self.pledges_signed += o.pledges_signed;
        self.persons += o.persons;
        self.persons_registered += o.persons_registered;
        self.persons_with_permit += o.persons_with_permit;
        self.persons_consistent += o.persons_consistent;
        self.visits += o.visits;
    }

    /// Takes another building's counts from these (never below zero).
    pub fn sub(&mut self, o: &BuildingStats) {
        self.rental_units = self.rental_units.saturating_sub(o.rental_units);
        self.rental_units_registered = self.rental_units_registered.saturating_sub(o.rental_units_registered);
        self.pledges_signed = self.pledges_signed.saturating_sub(o.pledges_signed);
        self.persons = self.persons.saturating_sub(o.persons);
        self.persons_registered = self.persons_registered.saturating_sub(o.persons_registered);
        self.persons_with_permit = self.persons_with_permit.saturating_sub(o.persons_with_permit);
        self.persons_consistent = self.persons_consistent.saturating_sub(o.persons_consistent);
        self.visits = self.visits.saturating_sub(o.visits);
    }
}

/// A piece of boundary two grids share, from the lower id's side.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SharedEdge {
    /// The grid with the lower id.
    pub a: GridId,
    /// The grid with the higher id.
    pub b: GridId,
    /// The segment, as it lies on `a`'s boundary.
    pub line: geo::Line<f64>,
}

/// What an Atlas is built from: the register without person-level records.
#[derive(Debug, Clone)]
pub struct AtlasInput {
    /// The district.
    pub district: District,
    /// Streets and towns.
    pub streets: Vec<Street>,
    /// Communities.
    pub communities: Vec<Community>,
    /// Grids, `grids[i].id == i`.
    pub grids: Vec<Grid>,
    /// Blocks.
    pub blocks: Vec<Block>,
    /// Roads.
    pub roads: Vec<Road>,
    /// Buildings, `buildings[i].id == i`.
    pub buildings: Vec<Building>,
    /// Counts per building, parallel to `buildings`.
    pub building_stats: Vec<BuildingStats>,
    /// Workplaces.
    pub workplaces: Vec<Workplace>,
}

impl AtlasInput {
    /// Derives the input from a whole city, counting units and persons per building.
    pub fn from_city(city: &City) -> Self {
        let mut stats = vec![BuildingStats::default(); city.buildings.len()];
        for u in &city.rental_units {
            if let Some(s) = stats.get_mut(u.building_id as usize) {
                s.rental_units += 1;
                s.rental_units_registered += u32::from(u.registered);
                s.pledges_signed += u32::from(u.registered && u.pledge_signed);
            }
        }
        for p in &city.persons {
            if let Some(s) = stats.get_mut(p.building_id as usize) {
                s.persons += 1;
                s.persons_registered += u32::from(p.registered);
                s.persons_with_permit += u32::from(p.registered && p.permit);
                s.persons_consistent += u32::from(p.registered && p.consistent);
            }
        }
        for v in &city.visits {
            if let Some(s) = stats.get_mut(v.building_id as usize) {
                s.visits += 1;
            }
        }
        Self {
            district: city.district.clone(),
            streets: city.streets.clone(),
            communities: city.communities.clone(),
            grids: city.grids.clone(),
            blocks: city.blocks.clone(),
            roads: city.roads.clone(),
            buildings: city.buildings.clone(),
            building_stats: stats,
            workplaces: city.workplaces.clone(),
        }
    }
}

/// Why an Atlas could not be built.
#[derive(Debug, thiserror::Error)]
pub enum AtlasError {
    /// Records are not indexed by their ids.
    #[error("{kind} #{index} has id {id}: ids must be dense and in order")]
    IdOrder {
        /// Which records.
        kind: &'static str,
        /// Position.
        index: usize,
        /// The id found there.
        id: u32,
    },
    /// A reference to a record that does not exist.
    #[error("{kind} {id} refers to unknown {target} {reference}")]
    Dangling {
        /// Which record.
        kind: &'static str,
        /// Its id or code.
        id: String,
        /// What it refers to.
        target: &'static str,
        /// The missing reference.
        reference: String,
    },
    /// Stats and buildings differ in length.
    #[error("{stats} building stats for {buildings} buildings")]
    StatsLength {
        /// Stats rows.
        stats: usize,
        /// Buildings.
        buildings: usize,
    },
}

/// A grid with what the Atlas derives for it.
#[derive(Debug, Clone)]
pub struct GridEntry {
    /// The grid.
    pub grid: Grid,
    /// Index of its community in [`Atlas::communities`].
    pub community: usize,
    /// Index of its street in [`Atlas::streets`].
    pub street: usize,
    /// Geodesic area in km².
    pub area_km2: f64,
    /// A point inside it, for labels and clicks.
    pub label_point: Point<f64>,
    /// Its buildings.
    pub buildings: Vec<BuildingId>,
    /// Grids sharing a boundary segment with it (Rook adjacency), ascending.
    pub neighbours: Vec<GridId>,
}

/// A community with its derived links.
#[derive(Debug, Clone)]
pub struct CommunityEntry {
    /// The community.
    pub community: Community,
    /// Index of its street.
    pub street: usize,
    /// Its grids, ascending.
    pub grids: Vec<GridId>,
}

/// A street with its derived links.
#[derive(Debug, Clone)]
pub struct StreetEntry {
    /// The street.
    pub street: Street,
    /// Indexes of its communities.
    pub communities: Vec<usize>,
    /// Its grids, ascending.
    pub grids: Vec<GridId>,
}

type GridBox = GeomWithData<Rectangle<[f64; 2]>, GridId>;
type BuildingBox = GeomWithData<Rectangle<[f64; 2]>, BuildingId>;
type PointItem = GeomWithData<[f64; 2], u32>;

/// The immutable part of an Atlas, shared by all its snapshots.
#[derive(Debug)]
struct Fixed {
    district: District,
    streets: Vec<StreetEntry>,
    communities: Vec<CommunityEntry>,
    grids: Vec<GridEntry>,
    blocks: Vec<Block>,
    roads: Vec<Road>,
    buildings: Vec<Building>,
    workplaces: Vec<Workplace>,
    grid_index: RTree<GridBox>,
    building_index: RTree<BuildingBox>,
    workplace_index: RTree<PointItem>,
    shared_edges: Vec<SharedEdge>,
    bbox: Rect<f64>,
    grid_codes: HashMap<String, GridId>,
    building_keys: HashMap<String, BuildingId>,
}

/// A read-only snapshot of a district: geometry, indexes and counts.
#[derive(Debug, Clone)]
pub struct Atlas {
    fixed: Arc<Fixed>,
    stats: CowVec<BuildingStats>,
    version: u64,
}

/// A change to one building's counts, from a committed write.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StatsDelta {
    /// The building.
    pub building_id: BuildingId,
    /// Rental units added to the register.
    pub rental_units: u32,
    /// Rental units that became registered (including new ones registered at once).
    pub rental_units_registered: u32,
    /// Pledges newly signed on registered units.
    pub pledges_signed: u32,
    /// Person records added (persons a visit found that the register lacked).
    pub persons: u32,
    /// Persons that became registered.
    pub persons_registered: u32,
    /// Of those, holding a residence permit (办证).
    pub persons_with_permit: u32,
    /// Of those, living at the address they registered (人户一致).
    pub persons_consistent: u32,
    /// Visits recorded.
    pub visits: u32,
    /// Counts taken away: persons who moved out of the building or left the district.
    pub removed: BuildingStats,
}

impl StatsDelta {
    /// The change as counts to add.
    pub fn as_stats(&self) -> BuildingStats {
        BuildingStats {
            rental_units: self.rental_units,
            rental_units_registered: self.rental_units_registered,
            pledges_signed: self.pledges_signed,
            persons: self.persons,
            persons_registered: self.persons_registered,
            persons_with_permit: self.persons_with_permit,
            persons_consistent: self.persons_consistent,
            visits: self.visits,
        }
    }

    /// True when the change changes nothing.
    pub fn is_empty(&self) -> bool {
        self.as_stats() == BuildingStats::default() && self.removed == BuildingStats::default()
    }
}

fn rect_to_aabb(r: Rect<f64>) -> AABB<[f64; 2]> {
    AABB::from_corners([r.min().x, r.min().y], [r.max().x, r.max().y])
}

impl Atlas {
    /// Builds the Atlas: bulk-loaded R-trees, the hierarchy links, areas and grid adjacency.
    pub fn build(input: AtlasInput) -> Result<Self, AtlasError> {
        let AtlasInput { district, streets, communities, grids, blocks, roads, buildings, building_stats, workplaces } =
            input;
        for (i, g) in grids.iter().enumerate() {
            if g.id as usize != i {
                return Err(AtlasError::IdOrder { kind: "grid", index: i, id: g.id });
            }
        }
        for (i, b) in buildings.iter().enumerate() {
            if b.id as usize != i {
                return Err(AtlasError::IdOrder { kind: "building", index: i, id: b.id });
            }
            if b.grid_id as usize >= grids.len() {
                return Err(AtlasError::Dangling {
                    kind: "building",
                    id: b.id.to_string(),
                    target: "grid",
                    reference: b.grid_id.to_string(),
                });
            }
        }
        if building_stats.len() != buildings.len() {
            return Err(AtlasError::StatsLength { stats: building_stats.len(), buildings: buildings.len() });
        }
        let street_ix: HashMap<&str, usize> = streets.iter().enumerate().map(|(i, s)| (s.code.as_str(), i)).collect();
        let community_ix: HashMap<&str, usize> =
            communities.iter().enumerate().map(|(i, c)| (c.code.as_str(), i)).collect();

        let mut street_entries: Vec<StreetEntry> =
            streets.iter().map(|s| StreetEntry { street: s.clone(), communities: vec![], grids: vec![] }).collect();
        let mut community_entries = Vec::with_capacity(communities.len());
        for (ci, c) in communities.iter().enumerate() {
            let Some(&si) = street_ix.get(c.street_code.as_str()) else {
                return Err(AtlasError::Dangling {
                    kind: "community",
                    id: c.code.clone(),
                    target: "street",
                    reference: c.street_code.clone(),
                });
            };
            street_entries[si].communities.push(ci);
            community_entries.push(CommunityEntry { community: c.clone(), street: si, grids: vec![] });
        }

        let mut by_grid: Vec<Vec<BuildingId>> = vec![Vec::new(); grids.len()];
        for b in &buildings {
            by_grid[b.grid_id as usize].push(b.id);
        }
        let (neighbours, shared_edges) = rook_adjacency(&grids);
        let mut grid_entries = Vec::with_capacity(grids.len());
        for ((g, bs), nb) in grids.into_iter().zip(by_grid).zip(neighbours) {
            let Some(&ci) = community_ix.get(g.community_code.as_str()) else {
                return Err(AtlasError::Dangling {
                    kind: "grid",
                    id: g.code.clone(),
                    target: "community",
                    reference: g.community_code.clone(),
                });
            };
            let si = community_entries[ci].street;
            community_entries[ci].grids.push(g.id);
            street_entries[si].grids.push(g.id);
            let area_km2 = geodesic_area_m2(&g.geometry) / 1e6;
            let label_point = largest_part_interior_point(&g.geometry);
            grid_entries.push(GridEntry {
                grid: g,
                community: ci,
                street: si,
                area_km2,
                label_point,
                buildings: bs,
                neighbours: nb,
            });
        }

        let grid_index = RTree::bulk_load(
            grid_entries
                .iter()
                .filter_map(|e| {
                    e.grid.geometry.bounding_rect().map(|r| {
                        GeomWithData::new(
                            Rectangle::from_corners([r.min().x, r.min().y], [r.max().x, r.max().y]),
                            e.grid.id,
                        )
                    })
                })
                .collect(),
        );
        let building_index = RTree::bulk_load(
            buildings
                .iter()
                .filter_map(|b| {
                    b.footprint.bounding_rect().map(|r| {
                        GeomWithData::new(Rectangle::from_corners([r.min().x, r.min().y], [r.max().x, r.max().y]), b.id)
                    })
                })
                .collect(),
        );
        let workplace_index =
            RTree::bulk_load(workplaces.iter().map(|w| GeomWithData::new([w.point.x(), w.point.y()], w.id)).collect());
        let bbox = district
            .outline
            .bounding_rect()
            .unwrap_or_else(|| Rect::new(geo::coord! { x: 0.0, y: 0.0 }, geo::coord! { x: 0.0, y: 0.0 }));
        let grid_codes = grid_entries.iter().map(|e| (e.grid.code.clone(), e.grid.id)).collect();
        let building_keys = buildings.iter().map(|b| (b.external_id.clone(), b.id)).collect();
        let fixed = Fixed {
            district,
            streets: street_entries,
            communities: community_entries,
            grids: grid_entries,
            blocks,
            roads,
            buildings,
            workplaces,
            grid_index,
            building_index,
            workplace_index,
            shared_edges,
            bbox,
            grid_codes,
            building_keys,
        };
        Ok(Self { fixed: Arc::new(fixed), stats: CowVec::from_vec(building_stats), version: 0 })
    }

    /// The grid with this code (网格编码).
    pub fn grid_by_code(&self, code: &str) -> Option<GridId> {
        self.fixed.grid_codes.get(code).copied()
    }

    /// The building with this survey id (楼栋编号).
    pub fn building_by_external_id(&self, external_id: &str) -> Option<BuildingId> {
        self.fixed.building_keys.get(external_id).copied()
    }

    /// A snapshot counter: each applied write increments it (caches key on it).
    pub fn version(&self) -> u64 {
        self.version
    }

    /// Sets the snapshot counter (a rebuilt Atlas continues the count of the one it replaces).
    pub fn set_version(&mut self, version: u64) {
        self.version = version;
    }

    /// The district.
    pub fn district(&self) -> &District {
        &self.fixed.district
    }

    /// The district's bounding box.
    pub fn bbox(&self) -> Rect<f64> {
        self.fixed.bbox
    }

    /// Streets, in the order given at build.
    pub fn streets(&self) -> &[StreetEntry] {
        &self.fixed.streets
    }

    /// Communities, in the order given at build.
    pub fn communities(&self) -> &[CommunityEntry] {
        &self.fixed.communities
    }

    /// Grids, indexed by id.
    pub fn grids(&self) -> &[GridEntry] {
        &self.fixed.grids
    }

    /// One grid.
    pub fn grid(&self, id: GridId) -> Option<&GridEntry> {
        self.fixed.grids.get(id as usize)
    }

    /// Blocks.
    pub fn blocks(&self) -> &[Block] {
        &self.fixed.blocks
    }

    /// Roads.
    pub fn roads(&self) -> &[Road] {
        &self.fixed.roads
    }

    /// Buildings, indexed by id.
    pub fn buildings(&self) -> &[Building] {
        &self.fixed.buildings
    }

    /// One building.
    pub fn building(&self, id: BuildingId) -> Option<&Building> {
        self.fixed.buildings.get(id as usize)
    }

    /// A building's counts.
    pub fn building_stats(&self, id: BuildingId) -> Option<&BuildingStats> {
        self.stats.get(id as usize)
    }

    /// Workplaces.
    pub fn workplaces(&self) -> &[Workplace] {
        &self.fixed.workplaces
    }

    /// The community kind of a grid.
    pub fn grid_community_kind(&self, id: GridId) -> Option<CommunityKind> {
        self.grid(id).map(|g| self.fixed.communities[g.community].community.kind)
    }

    /// The grid that holds `(lon, lat)`: the lowest-id grid whose polygon contains or touches it.
    pub fn grid_at(&self, lon: f64, lat: f64) -> Option<GridId> {
        let p = Point::new(lon, lat);
        self.fixed
            .grid_index
            .locate_all_at_point([lon, lat])
            .map(|item| item.data)
            .filter(|&id| self.fixed.grids[id as usize].grid.geometry.intersects(&p))
            .min()
    }

    /// Buildings whose footprint's bounding box meets `bbox`, ascending by id.
    pub fn buildings_in(&self, bbox: Rect<f64>) -> Vec<BuildingId> {
        let mut ids: Vec<BuildingId> =
            self.fixed.building_index.locate_in_envelope_intersecting(rect_to_aabb(bbox)).map(|b| b.data).collect();
        ids.sort_unstable();
        ids
    }

    /// The `k` buildings nearest to `(lon, lat)` (by distance to their footprint's box), nearest first.
    pub fn nearest_buildings(&self, lon: f64, lat: f64, k: usize) -> Vec<BuildingId> {
        self.fixed.building_index.nearest_neighbor_iter([lon, lat]).take(k).map(|b| b.data).collect()
    }

    /// Workplaces within `bbox`, ascending by id.
    pub fn workplaces_in(&self, bbox: Rect<f64>) -> Vec<u32> {
        let mut ids: Vec<u32> =
            self.fixed.workplace_index.locate_in_envelope(rect_to_aabb(bbox)).map(|w| w.data).collect();
        ids.sort_unstable();
        ids
    }

    /// Every boundary segment two grids share, once. Boundaries between streets or communities
    /// are the shared edges whose grids lie in different ones.
    pub fn shared_edges(&self) -> &[SharedEdge] {
        &self.fixed.shared_edges
    }

    /// Grids sharing a boundary segment with `id`.
    pub fn neighbours(&self, id: GridId) -> &[GridId] {
        self.grid(id).map(|g| g.neighbours.as_slice()).unwrap_or(&[])
    }

    /// Whether `other` is of the same places as this Atlas (one is the other with counts
    /// changed, as [`Self::with_deltas`] makes them), so that what is indexed by their buildings
    /// and grids fits both.
    pub fn same_places(&self, other: &Atlas) -> bool {
        Arc::ptr_eq(&self.fixed, &other.fixed)
    }

    /// A new snapshot with `deltas` applied; `self` is unchanged.
    pub fn with_deltas(&self, deltas: &[StatsDelta]) -> Atlas {
        let mut next = self.clone();
        for d in deltas {
            if let Some(s) = next.stats.get_mut(d.building_id as usize) {
                s.add(&d.as_stats());
                s.sub(&d.removed);
            }
        }
        next.version += 1;
        next
    }
}

/// The surface of the WGS84 ellipsoid, m².
const EARTH_AREA_M2: f64 = 510_065_621_724_088.5;

/// Geodesic area in m², ring by ring: each exterior less its holes. A ring's area is taken as
/// the smaller side of the globe it bounds, so a ring of either winding, or a degenerate
/// sliver left by boolean operations, never counts as the rest of the Earth.
pub fn geodesic_area_m2(mp: &MultiPolygon<f64>) -> f64 {
    let ring = |r: &LineString<f64>| {
        let a = geo::Polygon::new(r.clone(), vec![]).geodesic_area_unsigned();
        a.min(EARTH_AREA_M2 - a).max(0.0)
    };
    mp.0.iter().map(|p| (ring(p.exterior()) - p.interiors().iter().map(ring).sum::<f64>()).max(0.0)).sum()
}

fn largest_part_interior_point(mp: &MultiPolygon<f64>) -> Point<f64> {
    use geo::Area;
    mp.0.iter()
        .max_by(|a, b| a.unsigned_area().total_cmp(&b.unsigned_area()))
        .and_then(|p| p.interior_point())
        .or_else(|| mp.interior_point())
        .unwrap_or_else(|| Point::new(0.0, 0.0))
}

/// Distance (degrees) within which boundaries count as shared: about a centimetre.
const SHARED_TOLERANCE: f64 = 1e-7;

/// Rook adjacency: two grids are neighbours when a piece of boundary of positive length is
/// common to both. Also returns the shared segments, each once (from the lower id's side).
fn rook_adjacency(grids: &[Grid]) -> (Vec<Vec<GridId>>, Vec<SharedEdge>) {
    let rings: Vec<Vec<LineString<f64>>> = grids.iter().map(|g| multipolygon_rings(&g.geometry)).collect();
    shared_boundaries(&rings)
}

fn multipolygon_rings(mp: &MultiPolygon<f64>) -> Vec<LineString<f64>> {
    mp.0.iter().flat_map(polygon_rings).collect()
}

fn polygon_rings(p: &geo::Polygon<f64>) -> Vec<LineString<f64>> {
    std::iter::once(p.exterior().clone()).chain(p.interiors().iter().cloned()).collect()
}

/// Rook adjacency of polygons by position (blocks, or any other tessellation): `out[i]` lists,
/// ascending, the positions of the polygons that share a piece of boundary of positive length
/// with polygon `i`. The same test as the Atlas's grid adjacency.
pub fn polygon_neighbours(polygons: &[&geo::Polygon<f64>]) -> Vec<Vec<u32>> {
    let rings: Vec<Vec<LineString<f64>>> = polygons.iter().map(|p| polygon_rings(p)).collect();
    shared_boundaries(&rings).0
}

/// Neighbours and shared segments of shapes given by their rings, identified by position. Found
/// by testing the midpoint of every boundary segment against the other shapes' segments in an
/// R-tree, which tolerates T-junctions and differing vertices.
fn shared_boundaries(shapes: &[Vec<LineString<f64>>]) -> (Vec<Vec<u32>>, Vec<SharedEdge>) {
    type Seg = GeomWithData<Line<[f64; 2]>, u32>;
    let mut segs: Vec<Seg> = Vec::new();
    for (id, rings) in shapes.iter().enumerate() {
        for ring in rings {
            for l in ring.lines() {
                if l.start != l.end {
                    segs.push(GeomWithData::new(Line::new([l.start.x, l.start.y], [l.end.x, l.end.y]), id as u32));
                }
            }
        }
    }
    let tree = RTree::bulk_load(segs);
    let mut out: Vec<BTreeSet<u32>> = vec![BTreeSet::new(); shapes.len()];
    let mut edges = Vec::new();
    for (id, rings) in shapes.iter().enumerate() {
        let id = id as u32;
        for ring in rings {
            for l in ring.lines() {
                let mid = [(l.start.x + l.end.x) / 2.0, (l.start.y + l.end.y) / 2.0];
                let others: BTreeSet<u32> = tree
                    .locate_within_distance(mid, SHARED_TOLERANCE * SHARED_TOLERANCE)
                    .map(|s| s.data)
                    .filter(|&o| o != id)
                    .collect();
                for o in others {
                    out[id as usize].insert(o);
                    out[o as usize].insert(id);
                    if id < o {
                        edges.push(SharedEdge { a: id, b: o, line: l });
                    }
                }
            }
        }
    }
    (out.into_iter().map(|s| s.into_iter().collect()).collect(), edges)
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{LineString, Polygon};

    fn square(x: f64, y: f64, d: f64) -> LineString<f64> {
        LineString::from(vec![(x, y), (x + d, y), (x + d, y + d), (x, y + d), (x, y)])
    }

    #[test]
    fn area_ignores_winding_and_degenerate_holes() {
        let outer = square(121.5, 29.8, 0.01);
        let reversed = LineString::from(outer.0.iter().rev().copied().collect::<Vec<_>>());
        // A sliver hole of (almost) no area, in both windings, as boolean operations leave them.
        let sliver =
            LineString::from(vec![(121.502, 29.802), (121.503, 29.803), (121.502, 29.802 + 1e-13), (121.502, 29.802)]);
        let sliver_rev = LineString::from(sliver.0.iter().rev().copied().collect::<Vec<_>>());
        let plain = geodesic_area_m2(&MultiPolygon(vec![Polygon::new(outer.clone(), vec![])]));
        // 0.01° × 0.01° at 29.8°N: about 1.107 km × 0.966 km.
        assert!((plain - 1.07e6).abs() < 0.02e6, "{plain}");
        for (ext, hole) in [(&outer, &sliver), (&reversed, &sliver_rev), (&outer, &sliver_rev), (&reversed, &sliver)] {
            let a = geodesic_area_m2(&MultiPolygon(vec![Polygon::new(ext.clone(), vec![hole.clone()])]));
            assert!((a - plain).abs() < 1.0, "{a} vs {plain}");
        }
        let holed = Polygon::new(outer.clone(), vec![square(121.502, 29.802, 0.005)]);
        let quarter = geodesic_area_m2(&MultiPolygon(vec![Polygon::new(square(121.502, 29.802, 0.005), vec![])]));
        assert!((geodesic_area_m2(&MultiPolygon(vec![holed])) - (plain - quarter)).abs() < 1.0);
    }
}
