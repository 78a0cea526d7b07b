//! Data-change notices for open maps (`GET /api/events`): each committed write that changes the
//! data is announced once, with the new data version, the grids whose figures moved and the tile
//! ranges it touched ([`Change`]), on a broadcast channel every open stream reads. Each stream
//! narrows what it forwards to its subscriber's scope ([`Change::for_scope`]): a caseworker hears
//! only of their grids. A stream that falls behind the channel is told to reload everything
//! ([`EventKind::Resync`]) rather than miss a change, and every stream ends when the server
//! begins to stop ([`Events::close`]), so that open streams never hold up a graceful shutdown.

use crate::scope::Scope;
use crate::tile_cache::Touch;
use rentgrid_geodata::GridId;
use rentgrid_tiles::Layer;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use tokio::sync::{broadcast, watch};
use utoipa::ToSchema;

/// Changes kept for streams that have not read them yet: a stream further behind is sent a
/// [`EventKind::Resync`].
pub const CAPACITY: usize = 256;

/// What one committed write changed, as announced to every stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Counts of some buildings changed: the tiles over them and over their grids.
    Deltas {
        /// The data version the write made.
        version: u64,
        /// The tile ranges it touched, each with the grid whose change touched it.
        touches: Arc<[Touch]>,
    },
    /// The data was rebuilt from the store (an import): anything may have changed.
    Reload {
        /// The data version the rebuild made.
        version: u64,
    },
    /// A hazard case was recorded or moved: the hazard cases of `grid` changed (the counts and
    /// the data version did not).
    Hazards {
        /// The data version when it was written.
        version: u64,
        /// The case's grid.
        grid: GridId,
    },
}

impl Change {
    /// The data version the change made.
    pub fn version(&self) -> u64 {
        match self {
            Change::Deltas { version, .. } | Change::Reload { version } | Change::Hazards { version, .. } => *version,
        }
    }

    /// The change as `scope` may hear of it: only its grids and the tiles their changes touched
    /// (a leader none of single buildings); `None` when none of it is in the scope. A reload
    /// reaches everyone.
    pub fn for_scope(&self, scope: &Scope) -> Option<DataEvent> {
        let (version, touches) = match self {
            Change::Reload { version } => return Some(DataEvent::everything(EventKind::Reload, *version)),
            Change::Hazards { version, grid } => {
                return scope.sees_grid(*grid).then(|| DataEvent {
                    kind: EventKind::Hazards,
                    version: *version,
                    grids: Some(vec![*grid]),
                    tiles: Vec::new(),
                });
            }
            Change::Deltas { version, touches } => (*version, touches),
        };
        let seen: Vec<&Touch> = touches.iter().filter(|t| scope.sees_grid(t.grid)).collect();
        if seen.is_empty() {
            return None;
        }
        let grids: BTreeSet<GridId> = seen.iter().map(|t| t.grid).collect();
        let mut ranges: BTreeMap<Layer, BTreeSet<TileSpan>> = BTreeMap::new();
        for t in seen {
            if scope.aggregates_only() && t.layer.clusters() {
                continue;
            }
            ranges.entry(t.layer).or_default().insert(TileSpan::from(t));
        }
        let mut tiles: Vec<TouchedTiles> = ranges
            .into_iter()
            .map(|(layer, spans)| TouchedTiles {
                layer: layer.as_str(),
                every: false,
                ranges: spans.into_iter().collect(),
            })
            .collect();
        // A count changed anywhere moves the density around it: every heat tile is redrawn.
        tiles.push(TouchedTiles { layer: Layer::Heat.as_str(), every: true, ranges: Vec::new() });
        Some(DataEvent { kind: EventKind::Change, version, grids: Some(grids.into_iter().collect()), tiles })
    }
}

/// What an event of `GET /api/events` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// The first event of a stream: the data version now. A client that knew an older one (it
    /// was disconnected) missed changes and reloads everything.
    Current,
    /// A write changed the figures of `grids` and the tiles in `tiles`: reload those.
    Change,
    /// The data was rebuilt (an import): reload everything.
    Reload,
    /// The stream fell behind and changes were dropped for it: reload everything.
    Resync,
    /// A hazard case in `grids` was recorded or moved: reload the hazard cases (the version
    /// is unchanged: no figure moved).
    Hazards,
}

/// One event of `GET /api/events` (the `data` of a Server-Sent Event, as JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct DataEvent {
    /// What happened.
    pub kind: EventKind,
    /// The data version after it (`GET /health`'s `atlas_version`).
    pub version: u64,
    /// The grids whose figures changed, within the caller's scope; null: any grid may have (a
    /// `current`, `reload` or `resync` event).
    #[schema(required = true)]
    pub grids: Option<Vec<GridId>>,
    /// The tiles the change touched, per tile set (a set not listed was not touched); empty
    /// when `grids` is null (then every tile may have changed).
    pub tiles: Vec<TouchedTiles>,
}

impl DataEvent {
    /// An event after which a client reloads everything.
    pub fn everything(kind: EventKind, version: u64) -> Self {
        Self { kind, version, grids: None, tiles: Vec::new() }
    }
}

/// The tiles of one tile set a change touched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct TouchedTiles {
    /// The tile set, as in `/tiles/{layer}/…`.
    #[schema(value_type = String, example = "grids")]
    pub layer: &'static str,
    /// Every tile of the set (the heat surface, which a change anywhere moves); `ranges` is then
    /// empty.
    pub every: bool,
    /// The touched tiles, as rectangles of columns and rows at one zoom each.
    pub ranges: Vec<TileSpan>,
}

/// The tiles `min_x..=max_x` × `min_y..=max_y` at zoom `z`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, ToSchema)]
pub struct TileSpan {
    /// Zoom.
    pub z: u8,
    /// Westmost column.
    pub min_x: u32,
    /// Northmost row.
    pub min_y: u32,
    /// Eastmost column.
    pub max_x: u32,
    /// Southmost row.
    pub max_y: u32,
}

impl From<&Touch> for TileSpan {
    fn from(t: &Touch) -> Self {
        let r = t.range;
        Self { z: r.z, min_x: r.min_x, min_y: r.min_y, max_x: r.max_x, max_y: r.max_y }
    }
}

/// The broadcast of changes, and the signal that ends every stream. Lives in the server's state.
#[derive(Debug, Clone)]
pub struct Events {
    changes: broadcast::Sender<Change>,
    closing: watch::Sender<bool>,
}

impl Default for Events {
    fn default() -> Self {
        Self { changes: broadcast::Sender::new(CAPACITY), closing: watch::Sender::new(false) }
    }
}

/// What one stream reads: the changes after it subscribed, and the signal to end.
#[derive(Debug)]
pub struct Subscription {
    /// The changes announced since the subscription.
    pub changes: broadcast::Receiver<Change>,
    /// Becomes true when the server begins to stop.
    pub closing: watch::Receiver<bool>,
}

impl Events {
    /// Announces `change` to every open stream (none open: nothing to do).
    pub fn publish(&self, change: Change) {
        let _ = self.changes.send(change);
    }

    /// A subscription to the changes announced from now on.
    pub fn subscribe(&self) -> Subscription {
        Subscription { changes: self.changes.subscribe(), closing: self.closing.subscribe() }
    }

    /// Ends every stream, open or opened later: the server is stopping.
    pub fn close(&self) {
        self.closing.send_replace(true);
    }

    /// Waits for `signal`, then ends every stream: wrap the shutdown signal given to
    /// [`crate::serve::serve`] in it, so that open streams do not hold up the drain.
    pub async fn close_after(&self, signal: impl Future<Output = ()>) {
        signal.await;
        self.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scope::Role;
    use rentgrid_tiles::TileRange;

    fn touch(grid: GridId, layer: Layer, x: u32) -> Touch {
        Touch { grid, layer, range: TileRange { z: 14, min_x: x, min_y: 7, max_x: x + 1, max_y: 8 } }
    }

    #[test]
    fn a_scope_hears_only_of_its_grids_and_their_tiles() {
        let touches: Arc<[Touch]> =
            vec![touch(1, Layer::Grids, 10), touch(1, Layer::Buildings, 10), touch(2, Layer::Grids, 20)].into();
        let change = Change::Deltas { version: 7, touches };

        let mine = change.for_scope(&Scope::of_grids(Role::Caseworker, [1, 3])).unwrap();
        assert_eq!((mine.kind, mine.version, mine.grids.as_deref()), (EventKind::Change, 7, Some(&[1][..])));
        let grids = mine.tiles.iter().find(|t| t.layer == "grids").unwrap();
        assert_eq!(grids.ranges.iter().map(|r| r.min_x).collect::<Vec<_>>(), [10], "not grid 2's tiles");
        assert!(mine.tiles.iter().any(|t| t.layer == "heat" && t.every));

        assert_eq!(change.for_scope(&Scope::of_grids(Role::Caseworker, [3])), None);
        let all = change.for_scope(&Scope::everything()).unwrap();
        assert_eq!(all.grids.as_deref(), Some(&[1, 2][..]));

        let leader = Scope { role: Role::Leader, ..Scope::everything() };
        let theirs = change.for_scope(&leader).unwrap();
        assert!(theirs.tiles.iter().all(|t| t.layer != "buildings"), "no single building for a leader");
    }

    #[test]
    fn a_reload_reaches_every_scope() {
        let reload = Change::Reload { version: 9 };
        let event = reload.for_scope(&Scope::of_grids(Role::Caseworker, [])).unwrap();
        assert_eq!(event, DataEvent::everything(EventKind::Reload, 9));
    }
}
