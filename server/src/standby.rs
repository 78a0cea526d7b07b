//! Reads from a streaming-replication standby (`serve --read-database-url`, 只读备库), with
//! read-your-writes for the session that wrote.
//!
//! The reads that may lag a little behind the latest write go to the standby: the request-path
//! reads of whole lists from the store (the person search, the audit listing, the big screen's
//! activity and latest visits, the field's conflicts and far writes, a hazard case's history,
//! the campaigns, the units of a building, a month's activity). Everything else stays on the
//! primary: every write, the reads a write checks before it writes, sign-in and credentials,
//! and what servers keep in memory (the Atlas, the derived views' inputs and the change log are
//! read in one snapshot of the primary, so that the log applies on top of them).
//!
//! Read-your-writes: after a request of a session (its bearer token or session cookie) that may
//! write (any method but GET, HEAD, OPTIONS), the primary's WAL position X is noted for that
//! session; until the standby has replayed X, that session's reads go to the primary. Fail
//! closed: while the standby does not answer, or its data is older than [`Standby`]'s bound
//! (measured against the primary's positions sampled every [`PROBE`]), every read goes to the
//! primary. A write older than the bound is in the standby whenever the standby is within the
//! bound, so a session's note is dropped after it.
//!
//! Each answer whose reads were routed says where they went in the header [`READS_HEADER`]
//! (`primary` or `standby`).

use crate::AppState;
use crate::store::Store;
use crate::store::replication::WalPosition;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::Response;
use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The response header naming where a request's routed reads went.
pub const READS_HEADER: &str = "x-rentgrid-reads";

/// How often the primary's position and the standby's replay are sampled.
pub const PROBE: Duration = Duration::from_millis(250);

/// Where a request's routed reads went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadPool {
    /// The primary (the writer's database).
    Primary,
    /// The streaming-replication standby.
    Standby,
}

impl ReadPool {
    /// Its name in [`READS_HEADER`].
    pub fn name(self) -> &'static str {
        match self {
            ReadPool::Primary => "primary",
            ReadPool::Standby => "standby",
        }
    }
}

/// What the probe last learnt of the standby.
#[derive(Debug, Default)]
struct Replay {
    /// The position the standby has replayed (none: it did not answer at the last probe).
    replayed: Option<WalPosition>,
    /// The standby holds every write made before this instant (none: not known).
    fresh_as_of: Option<Instant>,
}

/// The primary's positions, each with when it was sampled (oldest first).
type Samples = VecDeque<(Instant, WalPosition)>;

/// The standby, the primary, and which sessions wait for the standby to replay their writes.
pub struct Standby {
    primary: Arc<dyn Store>,
    standby: Arc<dyn Store>,
    /// The oldest the standby's data may be for reads to go there.
    max_lag: Duration,
    replay: Mutex<Replay>,
    samples: Mutex<Samples>,
    /// Per session (a keyed hash of its credential): the primary's position after its last
    /// write, and when it was noted.
    pending: Mutex<HashMap<u64, (WalPosition, Instant)>>,
    hasher: RandomState,
    /// The name of the session cookie.
    cookie: &'static str,
}

impl std::fmt::Debug for Standby {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Standby").field("max_lag", &self.max_lag).finish_non_exhaustive()
    }
}

/// Locks `m`, whatever panicked while it was held (the data is a cache of positions).
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Standby {
    /// Reads from `standby` while its data is at most `max_lag` older than `primary`'s; a
    /// session is its bearer token, or its cookie named `cookie`.
    pub fn new(
        primary: Arc<dyn Store>,
        standby: Arc<dyn Store>,
        max_lag: Duration,
        cookie: &'static str,
    ) -> Arc<Standby> {
        Arc::new(Standby {
            primary,
            standby,
            max_lag,
            replay: Mutex::new(Replay::default()),
            samples: Mutex::new(Samples::new()),
            pending: Mutex::new(HashMap::new()),
            hasher: RandomState::new(),
            cookie,
        })
    }

    /// Samples the primary's position and the standby's replay every [`PROBE`], for as long
    /// as the task runs (abort it at shutdown).
    pub async fn probe(self: Arc<Self>) {
        let mut down = false;
        loop {
            match self.probe_once().await {
                Ok(()) if down => {
                    down = false;
                    tracing::info!("the standby answers again: reads go to it");
                }
                Err(e) if !down => {
                    down = true;
                    tracing::warn!(error = %e, "the standby cannot be used: reads go to the primary");
                }
                _ => {}
            }
            tokio::time::sleep(PROBE).await;
        }
    }

    /// One sample of both positions.
    async fn probe_once(&self) -> Result<(), String> {
        let now = Instant::now();
        let written = self.primary.wal_position().await.map_err(|e| e.to_string())?;
        let replayed = self.standby.wal_position().await;
        let mut replay = lock(&self.replay);
        let mut samples = lock(&self.samples);
        if let Some(p) = written {
            samples.push_back((now, p));
        }
        // Samples older than the bound no longer tell whether the standby is within it.
        let keep = self.max_lag + 2 * PROBE;
        while samples.front().is_some_and(|(t, _)| now.duration_since(*t) > keep) {
            samples.pop_front();
        }
        match replayed {
            Ok(Some(r)) => {
                replay.replayed = Some(r);
                replay.fresh_as_of = fresh_as_of(&samples, r);
                Ok(())
            }
            Ok(None) => {
                *replay = Replay::default();
                Err("the standby has replayed nothing yet, or is no database with a write-ahead log".into())
            }
            Err(e) => {
                *replay = Replay::default();
                Err(e.to_string())
            }
        }
    }

    /// The session of a request: a keyed hash of its bearer token or session cookie.
    fn session_of(&self, req: &Request) -> Option<u64> {
        let headers = req.headers();
        let credential = headers.get(header::AUTHORIZATION).map(HeaderValue::as_bytes).or_else(|| {
            headers
                .get_all(header::COOKIE)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(';'))
                .map(str::trim)
                .find(|c| c.strip_prefix(self.cookie).is_some_and(|rest| rest.starts_with('=')))
                .map(str::as_bytes)
        })?;
        Some(self.hasher.hash_one(credential))
    }

    /// Where the reads of `session` go now.
    async fn choose(&self, session: Option<u64>) -> ReadPool {
        let now = Instant::now();
        let (replayed, fresh) = {
            let replay = lock(&self.replay);
            (replay.replayed, replay.fresh_as_of)
        };
        if fresh.is_none_or(|t| now.duration_since(t) > self.max_lag) {
            return ReadPool::Primary;
        }
        let Some(session) = session else { return ReadPool::Standby };
        let waits_for = lock(&self.pending).get(&session).copied();
        let Some((x, noted)) = waits_for else { return ReadPool::Standby };
        if now.duration_since(noted) > self.max_lag || replayed.is_some_and(|r| r >= x) {
            lock(&self.pending).remove(&session);
            return ReadPool::Standby;
        }
        // Not replayed at the last probe: ask the standby now.
        match self.standby.wal_position().await {
            Ok(Some(r)) if r >= x => {
                lock(&self.pending).remove(&session);
                ReadPool::Standby
            }
            _ => ReadPool::Primary,
        }
    }

    /// Notes that `session` may have written: its reads go to the primary until the standby
    /// replays the primary's present position. When that position cannot be read, the session's
    /// reads go to the primary for the whole bound.
    async fn wrote(&self, session: u64) {
        let x = self.primary.wal_position().await.ok().flatten().unwrap_or(WalPosition::MAX);
        let now = Instant::now();
        let mut pending = lock(&self.pending);
        pending.retain(|_, (_, noted)| now.duration_since(*noted) <= self.max_lag);
        let entry = pending.entry(session).or_insert((x, now));
        *entry = (entry.0.max(x), now);
    }

    /// The store for `pool`.
    fn store(&self, pool: ReadPool) -> &Arc<dyn Store> {
        match pool {
            ReadPool::Primary => &self.primary,
            ReadPool::Standby => &self.standby,
        }
    }
}

/// The instant of the newest sample of the primary at or before position `replayed`: the
/// standby holds every write made before it (none: older than every sample kept).
fn fresh_as_of(samples: &Samples, replayed: WalPosition) -> Option<Instant> {
    samples.iter().rev().find(|(_, p)| *p <= replayed).map(|(t, _)| *t)
}

/// How one request's reads are routed: chosen at its first routed read.
struct Route {
    standby: Arc<Standby>,
    session: Option<u64>,
    chosen: tokio::sync::OnceCell<ReadPool>,
}

tokio::task_local! {
    /// The route of the request being answered.
    static ROUTE: Arc<Route>;
}

/// The store for a read that may lag a little: the standby, unless this request's session
/// waits for its own writes or the standby is away or too far behind; the primary when the
/// server has no standby (or outside a request).
pub async fn reads(state: &AppState) -> Arc<dyn Store> {
    let Ok(route) = ROUTE.try_with(Arc::clone) else { return state.store().clone() };
    let pool = *route.chosen.get_or_init(|| route.standby.choose(route.session)).await;
    route.standby.store(pool).clone()
}

/// The middleware (`axum::middleware::from_fn_with_state`) that routes a request's reads
/// ([`reads`]), notes a session's writes, and names the pool read in [`READS_HEADER`].
pub async fn route(State(standby): State<Arc<Standby>>, req: Request, next: Next) -> Response {
    let session = standby.session_of(&req);
    let writes = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let route = Arc::new(Route { standby: standby.clone(), session, chosen: tokio::sync::OnceCell::new() });
    let mut res = ROUTE.scope(route.clone(), next.run(req)).await;
    if writes && let Some(s) = session {
        standby.wrote(s).await;
    }
    if let Some(pool) = route.chosen.get() {
        res.headers_mut().insert(READS_HEADER, HeaderValue::from_static(pool.name()));
    }
    res
}
