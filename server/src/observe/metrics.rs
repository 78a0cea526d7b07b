//! The figures `GET /metrics` serves, in the Prometheus text format (0.0.4): requests counted and
//! timed by method, route and status ([`Metrics::observe`]), and what is read at each scrape
//! ([`Readings`]): the Atlas's version and build time, the tile cache's hits and misses, the
//! store's connection pool, the audit log's length and the writes waiting for their turn; and the
//! writes' time by phase ([`Metrics::observe_write`]): waiting for the write lock, the store's
//! transaction, applying the change to what is kept in memory; and how many visits each
//! transaction committed together ([`Metrics::observe_visits_committed_together`]).
//!
//! Cardinality stays bounded and nothing personal is carried: a route is the path template the
//! router matched (`/api/grids/{id}`, never `/api/grids/7`), every path no route matched is
//! [`UNMATCHED`], and a method outside the standard ones is `OTHER`. No label holds a user, an
//! address, a query or a record's id.

use crate::store::PoolUsage;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::prometheus_text;
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};
use std::time::{Duration, SystemTime};

/// The `Content-Type` of what [`Metrics::render`] writes.
pub const CONTENT_TYPE: &str = prometheus_text::CONTENT_TYPE;

/// The route label of a request no route matched (the web map's files, unknown paths).
pub const UNMATCHED: &str = "(unmatched)";

/// The upper bounds of the request duration histogram's buckets, in seconds: from a cached tile
/// (a millisecond) to a district-wide hot-spot analysis (tens of seconds).
pub const DURATION_BUCKETS: [f64; 14] =
    [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

/// The upper bounds of the buckets of visits committed in one transaction.
const VISITS_PER_COMMIT_BUCKETS: [f64; 7] = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0];

/// The labels of a request's count and duration.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: &'static str,
    route: String,
    status: u16,
}

/// A phase of a write, each timed on its own: the write lock is held through `Store` and
/// `Apply`, so their sum over a span of time is the share of it during which writes were serial.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WritePhase {
    /// Waiting for the write lock (behind the writes before it).
    Wait,
    /// The store's transaction, its commit included.
    Store,
    /// Catching up with the change log (after a write of this server, or on hearing of another
    /// server's): the changes applied to the Atlas, the kept inputs and caches, and announced.
    Apply,
}

impl WritePhase {
    fn label(self) -> &'static str {
        match self {
            Self::Wait => "wait",
            Self::Store => "store",
            Self::Apply => "apply",
        }
    }
}

/// The labels of a write's phase.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct WriteLabels {
    phase: &'static str,
}

/// The labels of a pool's connections.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PoolLabels {
    store: &'static str,
    state: &'static str,
}

/// The labels of a store's figure.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StoreLabels {
    store: &'static str,
}

fn duration_histogram() -> Histogram {
    Histogram::new(DURATION_BUCKETS)
}

/// The request figures, kept from the start of the process (one set per served router).
#[derive(Debug)]
pub struct Metrics {
    requests: Family<RequestLabels, Counter>,
    durations: Family<RequestLabels, Histogram>,
    writes: Family<WriteLabels, Histogram>,
    visits_per_commit: Histogram,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            requests: Family::default(),
            durations: Family::new_with_constructor(duration_histogram),
            writes: Family::new_with_constructor(duration_histogram),
            visits_per_commit: Histogram::new(VISITS_PER_COMMIT_BUCKETS),
        }
    }
}

/// What the tile cache has counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TileCounts {
    /// Tiles served from the cache.
    pub hits: u64,
    /// Tiles built because the cache did not hold them.
    pub misses: u64,
    /// Tiles held now.
    pub held: u64,
}

/// What a scrape reads from the running server, beside the request figures.
#[derive(Debug, Clone)]
pub struct Readings {
    /// The Atlas snapshot's data version (it changes with every visit and import).
    pub atlas_version: u64,
    /// When that snapshot was made.
    pub atlas_built: SystemTime,
    /// The tile cache's counts.
    pub tiles: TileCounts,
    /// The store's backend name and its connection pool.
    pub pool: (&'static str, PoolUsage),
    /// Rows ever appended to the audit log; `None` when the store did not answer.
    pub audit_rows: Option<i64>,
    /// Writes waiting for the write lock (visits, imports, campaign and territory changes).
    pub writes_waiting: usize,
}

impl Metrics {
    /// Counts one answered request: its method, the route template it matched (`None`: no
    /// route), its status and how long it took.
    pub fn observe(&self, method: &str, route: Option<&str>, status: u16, took: Duration) {
        let labels =
            RequestLabels { method: method_label(method), route: route.unwrap_or(UNMATCHED).to_owned(), status };
        self.requests.get_or_create(&labels).inc();
        self.durations.get_or_create(&labels).observe(took.as_secs_f64());
    }

    /// Times one phase of a write.
    pub fn observe_write(&self, phase: WritePhase, took: Duration) {
        self.writes.get_or_create(&WriteLabels { phase: phase.label() }).observe(took.as_secs_f64());
    }

    /// Counts one transaction of `n` visits committed together.
    pub fn observe_visits_committed_together(&self, n: usize) {
        self.visits_per_commit.observe(n as f64);
    }

    /// The Prometheus text of the request figures and of `now`.
    pub fn render(&self, now: &Readings) -> Result<String, std::fmt::Error> {
        let mut r = Registry::with_prefix("rentgrid");
        r.register(
            "http_requests",
            "HTTP requests answered, by method, route template and status",
            self.requests.clone(),
        );
        r.register_with_unit(
            "http_request_duration",
            "Time from a request's arrival to its response's head, by method, route template and status",
            Unit::Seconds,
            self.durations.clone(),
        );
        r.register_with_unit(
            "write_duration",
            "Time of each write's phase: waiting for the write lock (wait), the store's transaction with its commit \
             (store), applying its change to what is kept in memory (apply); the lock is held through store and apply",
            Unit::Seconds,
            self.writes.clone(),
        );
        r.register(
            "visits_per_commit",
            "Visits committed together in one transaction (group commit: the visits waiting at a turn of the write lock)",
            self.visits_per_commit.clone(),
        );
        r.register("atlas_version", "The data version of the Atlas snapshot served", gauge_u64(now.atlas_version));
        let built = now.atlas_built.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default().as_secs_f64();
        r.register(
            "atlas_build_timestamp_seconds",
            "When the Atlas snapshot served was made (at start, an import or a visit), in Unix seconds",
            ConstGauge::new(built),
        );
        r.register("tile_cache_hits", "Vector tiles served from the cache", ConstCounter::new(now.tiles.hits));
        r.register(
            "tile_cache_misses",
            "Vector tiles built because the cache lacked them",
            ConstCounter::new(now.tiles.misses),
        );
        r.register("tile_cache_tiles", "Vector tiles held in the cache", gauge_u64(now.tiles.held));
        let (store, pool) = now.pool;
        let connections = Family::<PoolLabels, Gauge>::default();
        connections.get_or_create(&PoolLabels { store, state: "in_use" }).set(i64::from(pool.in_use()));
        connections.get_or_create(&PoolLabels { store, state: "idle" }).set(i64::from(pool.idle));
        r.register("db_connections", "Connections of the store's pool, in use or idle", connections);
        let max = Family::<StoreLabels, Gauge>::default();
        max.get_or_create(&StoreLabels { store }).set(i64::from(pool.max));
        r.register("db_connections_max", "The most connections the store's pool opens", max);
        let up = Family::<StoreLabels, Gauge>::default();
        up.get_or_create(&StoreLabels { store }).set(i64::from(now.audit_rows.is_some()));
        r.register("store_up", "1 when the store answered this scrape's query, else 0", up);
        if let Some(rows) = now.audit_rows {
            let rows = u64::try_from(rows).unwrap_or_default();
            r.register(
                "audit_rows",
                "Rows ever written to the audit log (its chain's length)",
                ConstCounter::new(rows),
            );
        }
        r.register("write_queue_depth", "Writes waiting for their turn to write", gauge_u64(now.writes_waiting as u64));
        let mut text = String::new();
        prometheus_text::encode(&mut text, &r)?;
        Ok(text)
    }
}

/// A gauge of an unsigned figure (saturating at `i64::MAX`).
fn gauge_u64(v: u64) -> ConstGauge {
    ConstGauge::new(i64::try_from(v).unwrap_or(i64::MAX))
}

/// The method's label: a standard method's name, or `OTHER` (a client may send any token).
fn method_label(method: &str) -> &'static str {
    const KNOWN: [&str; 9] = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE"];
    KNOWN.into_iter().find(|m| *m == method).unwrap_or("OTHER")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn readings() -> Readings {
        Readings {
            atlas_version: 7,
            atlas_built: SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
            tiles: TileCounts { hits: 5, misses: 2, held: 2 },
            pool: ("sqlite", PoolUsage { open: 3, idle: 1, max: 4 }),
            audit_rows: Some(42),
            writes_waiting: 1,
        }
    }

    #[test]
    fn labels_stay_bounded_whatever_the_client_sends() {
        let m = Metrics::default();
        m.observe("BREW", None, 405, Duration::from_millis(3));
        m.observe_write(WritePhase::Store, Duration::from_millis(3));
        m.observe("GET", Some("/api/grids/{id}"), 200, Duration::from_millis(3));
        let text = m.render(&readings()).unwrap();
        assert!(
            text.contains(r#"rentgrid_http_requests_total{method="OTHER",route="(unmatched)",status="405"} 1"#),
            "{text}"
        );
        assert!(text.contains(r#"rentgrid_http_requests_total{method="GET",route="/api/grids/{id}",status="200"} 1"#));
        assert!(!text.contains("BREW"));
        assert!(text.contains(r#"rentgrid_write_duration_seconds_count{phase="store"} 1"#), "{text}");
        assert!(!text.contains(r#"phase="wait""#), "a phase not yet timed has no series: {text}");
    }

    #[test]
    fn the_readings_are_written_as_prometheus_reads_them() {
        let text = Metrics::default().render(&readings()).unwrap();
        for line in [
            "# TYPE rentgrid_tile_cache_hits_total counter",
            "rentgrid_tile_cache_hits_total 5",
            "rentgrid_tile_cache_misses_total 2",
            "rentgrid_atlas_version 7",
            "rentgrid_atlas_build_timestamp_seconds 1700000000",
            r#"rentgrid_db_connections{store="sqlite",state="in_use"} 2"#,
            r#"rentgrid_db_connections{store="sqlite",state="idle"} 1"#,
            r#"rentgrid_db_connections_max{store="sqlite"} 4"#,
            r#"rentgrid_store_up{store="sqlite"} 1"#,
            "rentgrid_audit_rows_total 42",
            "rentgrid_write_queue_depth 1",
        ] {
            assert!(text.lines().any(|l| l == line || l.starts_with(&format!("{line}."))), "no {line:?} in\n{text}");
        }
        let away = Metrics::default().render(&Readings { audit_rows: None, ..readings() }).unwrap();
        assert!(away.contains(r#"rentgrid_store_up{store="sqlite"} 0"#) && !away.contains("audit_rows"), "{away}");
    }
}
