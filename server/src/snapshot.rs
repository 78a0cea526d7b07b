//! One published state of the district: an Atlas snapshot and every view derived from it alone,
//! each made at most once, when first asked for.
//!
//! A write publishes a new [`Snapshot`] ([`Snapshot::with_deltas`]): its counts change, so its
//! per-grid counts and heat surfaces are made again, while the views of the district's geometry
//! (map geometry, base map, walking network, the grids' outlines as GeoJSON and their
//! contiguity for hot spots), which no visit changes, are shared with the
//! snapshot before it. An import publishes a snapshot of new geometry ([`Snapshot::new`]), whose
//! geometry views are made afresh. Readers take one snapshot for a whole request, so nothing they
//! answer mixes two snapshots.
//!
//! The search index is one of the geometry views: the places it finds (streets, communities,
//! grids, buildings and the caseworkers' names) change only by an import, which publishes a new
//! snapshot; a visit adds rental units and persons, which search reads from the store.
//!
//! Views that depend on more than the snapshot (the history and the estimate read the kept view
//! inputs; hot-spot answers are kept across snapshots) live in the server's state.

use crate::geojson::geometry;
use rentgrid_analysis::hotspot_run::Contiguity;
use rentgrid_analysis::kpi::{self, Counts};
use rentgrid_analysis::network::WalkingNetwork;
use rentgrid_analysis::search::SearchIndex;
use rentgrid_geodata::{Atlas, Caseworker, StatsDelta};
use rentgrid_tiles::MapGeometry;
use rentgrid_tiles::heat::{HeatCount, HeatSurface};
use serde_json::value::RawValue;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::SystemTime;

/// A heat surface of one count (`None`: nothing to count).
type HeatEntry = (HeatCount, Option<Arc<HeatSurface>>);

/// An Atlas snapshot and the views derived from it.
#[derive(Debug)]
pub struct Snapshot {
    atlas: Arc<Atlas>,
    /// When it was published.
    made: SystemTime,
    grid_counts: OnceLock<Arc<Vec<Counts>>>,
    /// Heat surfaces by count, each built on first use.
    heat: Mutex<Vec<HeatEntry>>,
    geometry: Arc<GeometryViews>,
}

/// The views of the district's geometry (boundaries, grids, roads), shared by every snapshot
/// until an import replaces the geometry.
#[derive(Default)]
struct GeometryViews {
    /// Street and community areas and boundary lines, for tiles, OGC items and the base map.
    map: tokio::sync::OnceCell<Arc<MapGeometry>>,
    /// The base map answer (GeoJSON bytes).
    basemap: OnceLock<Arc<Vec<u8>>>,
    /// The road network that caseworkers' routes walk.
    walking: OnceLock<Arc<WalkingNetwork>>,
    /// The places search finds, and the caseworkers by name.
    search: OnceLock<Arc<SearchIndex>>,
    /// Each grid's outline written as GeoJSON.
    outlines: OnceLock<Arc<GridOutlines>>,
    /// The grids' contiguity, for hot spots.
    contiguity: Contiguity,
}

/// Each grid's outline written as GeoJSON once, in the Atlas's grid order: an answer made of
/// every grid (hot spots: 20,002 grids and 10 MB of outlines at scale 20) then writes its
/// figures only.
#[derive(Debug)]
pub struct GridOutlines {
    /// By grid id.
    pub each: Vec<Box<RawValue>>,
    /// Their length together, bytes.
    pub bytes: usize,
}

impl std::fmt::Debug for GeometryViews {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeometryViews")
            .field("map", &self.map.initialized())
            .field("basemap", &self.basemap.get().is_some())
            .field("walking", &self.walking.get().is_some())
            .field("search", &self.search.get().is_some())
            .field("outlines", &self.outlines.get().is_some())
            .field("contiguity", &self.contiguity)
            .finish()
    }
}

impl Snapshot {
    /// The first snapshot of `atlas`'s geometry (at start-up, and after an import).
    pub fn new(atlas: Atlas) -> Self {
        Self::over(Arc::new(atlas), Arc::default())
    }

    fn over(atlas: Arc<Atlas>, geometry: Arc<GeometryViews>) -> Self {
        Self { atlas, made: SystemTime::now(), grid_counts: OnceLock::new(), heat: Mutex::default(), geometry }
    }

    /// The next snapshot, of data version `version`: this one with `deltas` applied to its
    /// buildings' counts. The geometry views are carried over (counts do not move a line of them).
    pub fn with_deltas(&self, deltas: &[StatsDelta], version: u64) -> Self {
        let mut atlas = self.atlas.with_deltas(deltas);
        atlas.set_version(version);
        Self::over(Arc::new(atlas), self.geometry.clone())
    }

    /// The Atlas.
    pub fn atlas(&self) -> &Arc<Atlas> {
        &self.atlas
    }

    /// The Atlas's version: each published snapshot has its own.
    pub fn version(&self) -> u64 {
        self.atlas.version()
    }

    /// When this snapshot was published.
    pub fn made(&self) -> SystemTime {
        self.made
    }

    /// The per-grid counts, made once (concurrent first callers wait for the one computation).
    pub fn grid_counts(&self) -> Arc<Vec<Counts>> {
        self.grid_counts.get_or_init(|| Arc::new(kpi::grid_counts(&self.atlas))).clone()
    }

    /// The map geometry (street and community areas, boundary lines), derived once per district
    /// geometry on tokio's blocking pool while concurrent callers wait asynchronously.
    ///
    /// Tile builds are given what this returns and never derive: the derivation's unions run on
    /// rayon (`geo` through `i_overlay`), and a build thread of the tile pool waiting inside them
    /// takes other queued builds meanwhile; one of those waiting for the derivation its own
    /// thread is running would never end (seen as tiles answered 503 after 30 s).
    pub async fn map_geometry(&self) -> Result<Arc<MapGeometry>, String> {
        let atlas = self.atlas.clone();
        self.geometry
            .map
            .get_or_try_init(|| async move {
                tokio::task::spawn_blocking(move || Arc::new(MapGeometry::derive(&atlas)))
                    .await
                    .map_err(|e| format!("deriving the map geometry failed: {e}"))
            })
            .await
            .cloned()
    }

    /// The base map answer, built by `build` once per district geometry.
    pub fn basemap(&self, build: impl FnOnce(&Atlas) -> Vec<u8>) -> Arc<Vec<u8>> {
        self.geometry.basemap.get_or_init(|| Arc::new(build(&self.atlas))).clone()
    }

    /// The walking network of the district's roads, built once per district geometry. Blocking.
    pub fn walking_network(&self) -> Arc<WalkingNetwork> {
        self.geometry.walking.get_or_init(|| Arc::new(WalkingNetwork::from_atlas(&self.atlas))).clone()
    }

    /// The search index, if it has been built for this district geometry.
    pub fn search_index(&self) -> Option<Arc<SearchIndex>> {
        self.geometry.search.get().cloned()
    }

    /// The search index of the district's places and `caseworkers` (as the store holds them
    /// now: their names change only by an import, which makes a new snapshot), built once per
    /// district geometry. Blocking.
    pub fn search_index_with(&self, caseworkers: &[Caseworker]) -> Arc<SearchIndex> {
        self.geometry.search.get_or_init(|| Arc::new(SearchIndex::of_atlas(&self.atlas, caseworkers))).clone()
    }

    /// Each grid's outline as GeoJSON, written once per district geometry. Blocking.
    pub fn grid_outlines(&self) -> Result<Arc<GridOutlines>, serde_json::Error> {
        if let Some(kept) = self.geometry.outlines.get() {
            return Ok(kept.clone());
        }
        let each = self
            .atlas
            .grids()
            .iter()
            .map(|g| serde_json::value::to_raw_value(&geometry(g.grid.geometry.clone())))
            .collect::<Result<Vec<_>, _>>()?;
        let bytes = each.iter().map(|o| o.get().len()).sum();
        Ok(self.geometry.outlines.get_or_init(|| Arc::new(GridOutlines { each, bytes })).clone())
    }

    /// The grids' contiguity weights, found once per district geometry (at the first hot-spot
    /// run that asks for them).
    pub fn contiguity(&self) -> &Contiguity {
        &self.geometry.contiguity
    }

    /// The heat surface of `count`, built once per snapshot. Blocking.
    pub fn heat_surface(&self, count: HeatCount) -> Result<Option<Arc<HeatSurface>>, rentgrid_tiles::Error> {
        let mut heat = self.heat.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((_, s)) = heat.iter().find(|(c, _)| *c == count) {
            return Ok(s.clone());
        }
        let surface = HeatSurface::build(&self.atlas, count, None)
            .map_err(|e| rentgrid_tiles::Error::Options(format!("heat surface: {e}")))?
            .map(Arc::new);
        heat.push((count, surface.clone()));
        Ok(surface)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rentgrid_geodata::AtlasInput;
    use rentgrid_geodata::demo::{self, DemoOptions};

    fn small() -> Atlas {
        let city = demo::generate(&DemoOptions { scale: 0.02, ..Default::default() }, &mut |_, _| {}).unwrap();
        Atlas::build(AtlasInput::from_city(&city)).unwrap()
    }

    #[tokio::test]
    async fn counts_are_made_per_snapshot_and_geometry_views_are_shared_until_new_geometry() {
        let first = Snapshot::new(small());
        let b = first.atlas().buildings()[0].id;
        let counts = first.grid_counts();
        assert!(Arc::ptr_eq(&counts, &first.grid_counts()), "made once");
        let map = first.map_geometry().await.unwrap();
        let walking = first.walking_network();
        let basemap = first.basemap(|_| b"{}".to_vec());
        assert!(first.search_index().is_none(), "built when first asked for");
        let search = first.search_index_with(&[]);
        let outlines = first.grid_outlines().unwrap();
        assert_eq!(outlines.each.len(), first.atlas().grids().len());
        let g = &first.atlas().grids()[3];
        let written: serde_json::Value = serde_json::from_str(outlines.each[3].get()).unwrap();
        assert_eq!(written, serde_json::to_value(geometry(g.grid.geometry.clone())).unwrap(), "grid 3's outline");
        assert_eq!(outlines.bytes, outlines.each.iter().map(|o| o.get().len()).sum::<usize>());

        let delta = StatsDelta { building_id: b, persons: 1, ..StatsDelta::default() };
        let next = first.with_deltas(&[delta], first.version() + 1);
        assert_ne!(next.version(), first.version());
        assert!(!Arc::ptr_eq(&counts, &next.grid_counts()), "counts are made again for the new snapshot");
        assert!(Arc::ptr_eq(&map, &next.map_geometry().await.unwrap()), "the geometry is the same");
        assert!(Arc::ptr_eq(&walking, &next.walking_network()));
        assert!(next.search_index().is_some_and(|s| Arc::ptr_eq(&search, &s)), "places do not move with counts");
        assert!(Arc::ptr_eq(&basemap, &next.basemap(|_| unreachable!("built once per geometry"))));
        assert!(Arc::ptr_eq(&outlines, &next.grid_outlines().unwrap()), "written once per geometry");
        assert!(std::ptr::eq(first.contiguity(), next.contiguity()), "the grids' contiguity is shared");

        let reloaded = Snapshot::new((**next.atlas()).clone());
        assert!(!Arc::ptr_eq(&map, &reloaded.map_geometry().await.unwrap()), "new geometry, views made again");
        assert_eq!(*reloaded.basemap(|_| b"[]".to_vec()), b"[]".to_vec());
        assert!(reloaded.search_index().is_none(), "an import's new places are indexed anew");
        assert!(!Arc::ptr_eq(&outlines, &reloaded.grid_outlines().unwrap()), "an import's grids are written anew");
        assert!(!std::ptr::eq(first.contiguity(), reloaded.contiguity()), "and their contiguity found anew");
    }
}
