//! What one request may cost: how long it may run, how large its body may be, and how many
//! expensive requests (hot spots, proposals, campaigns, imports, exports) run at once, with a
//! short queue behind them. The HTTP layer applies these; nothing here knows HTTP.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The largest file an import takes, bytes (a district's ledger of a million rows is ~200 MB).
pub const MAX_IMPORT_BYTES: usize = 256 * 1024 * 1024;

/// The limits of a server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The longest an ordinary request may run before it is answered 503.
    pub request_timeout: Duration,
    /// The longest a file request (an import, an export) may run.
    pub file_timeout: Duration,
    /// The longest a request body may take to arrive once its headers have.
    pub body_timeout: Duration,
    /// The largest body of a request other than an import, bytes.
    pub max_body_bytes: usize,
    /// Expensive requests running at once.
    pub heavy_at_once: usize,
    /// Expensive requests waiting for one of those places; one more is answered 503 at once.
    pub heavy_queue: usize,
    /// The longest an expensive request waits in that queue.
    pub heavy_wait: Duration,
    /// While writes arrive, a hot-spot answer is run again at most once per this interval (off
    /// the request path; requests get the newest answer kept meanwhile).
    pub analysis_interval: Duration,
    /// While writes arrive, the unregistered-candidate and unrecorded estimate (behind the
    /// estimated actual rates, the grid tiles and the candidates) is made again at most once per
    /// this interval, off the request path; requests get the newest one made meanwhile. Zero:
    /// every request waits for the estimate of the data it reads (one per write).
    pub estimate_interval: Duration,
    /// An estimate made off the request path takes at most one part in this many of a core:
    /// the next one also waits this many times the last one's making after it started (at
    /// scale 20 one takes 6–10 s, and every 10 s it kept one of two cores busy). Zero: the
    /// interval alone decides.
    pub estimate_share: u32,
}

impl Default for Limits {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get);
        Self {
            request_timeout: Duration::from_secs(30),
            file_timeout: Duration::from_secs(600),
            body_timeout: Duration::from_secs(30),
            max_body_bytes: 1 << 20,
            heavy_at_once: cores.max(2),
            heavy_queue: 4 * cores.max(2),
            heavy_wait: Duration::from_secs(10),
            analysis_interval: Duration::from_secs(10),
            estimate_interval: Duration::ZERO,
            estimate_share: 0,
        }
    }
}

/// The places of the expensive requests: [`Limits::heavy_at_once`] running, at most
/// [`Limits::heavy_queue`] waiting.
#[derive(Debug)]
pub struct Gate {
    places: Arc<Semaphore>,
    size: usize,
    waiting: AtomicUsize,
    max_waiting: usize,
    wait: Duration,
}

/// A place of the [`Gate`]: the work holding it (or any clone) counts as running until every
/// clone is dropped, so work that goes on after its request was answered keeps its place.
#[derive(Debug, Clone)]
pub struct Place(#[allow(dead_code)] Arc<OwnedSemaphorePermit>);

/// Why no place was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Full {
    /// Every place is taken and the queue is full.
    #[error("the server is running {0} expensive requests and as many wait: try again in a moment")]
    QueueFull(usize),
    /// The request waited its longest in the queue.
    #[error("waited {0:?} for one of {1} expensive requests to finish: try again in a moment")]
    Waited(Duration, usize),
}

impl Gate {
    /// A gate with the places of `limits`.
    pub fn new(limits: &Limits) -> Self {
        let size = limits.heavy_at_once.max(1);
        Self {
            places: Arc::new(Semaphore::new(size)),
            size,
            waiting: AtomicUsize::new(0),
            max_waiting: limits.heavy_queue,
            wait: limits.heavy_wait,
        }
    }

    /// A place, now or after waiting in the queue; [`Full`] when the queue is full or the wait
    /// ran out.
    pub async fn enter(&self) -> Result<Place, Full> {
        if let Ok(p) = self.places.clone().try_acquire_owned() {
            return Ok(Place(Arc::new(p)));
        }
        if self.waiting.fetch_add(1, Ordering::AcqRel) >= self.max_waiting {
            self.waiting.fetch_sub(1, Ordering::AcqRel);
            return Err(Full::QueueFull(self.running()));
        }
        let got = tokio::time::timeout(self.wait, self.places.clone().acquire_owned()).await;
        self.waiting.fetch_sub(1, Ordering::AcqRel);
        match got {
            Ok(Ok(p)) => Ok(Place(Arc::new(p))),
            // The semaphore is never closed; a closed one counts as a full queue.
            Ok(Err(_)) => Err(Full::QueueFull(self.running())),
            Err(_) => Err(Full::Waited(self.wait, self.running())),
        }
    }

    /// Expensive requests running now.
    pub fn running(&self) -> usize {
        self.size - self.places.available_permits()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(at_once: usize, queue: usize) -> Limits {
        Limits {
            heavy_at_once: at_once,
            heavy_queue: queue,
            heavy_wait: Duration::from_millis(50),
            ..Limits::default()
        }
    }

    #[tokio::test]
    async fn places_are_given_then_queued_then_refused() {
        let gate = Arc::new(Gate::new(&limits(1, 1)));
        let first = gate.enter().await.unwrap_or_else(|e| panic!("{e}"));
        // The second waits in the queue; with the queue taken, a third is refused at once.
        let second = tokio::spawn({
            let gate = gate.clone();
            async move { gate.enter().await }
        });
        while gate.waiting.load(Ordering::Acquire) == 0 {
            tokio::task::yield_now().await;
        }
        assert_eq!(gate.enter().await.err(), Some(Full::QueueFull(1)));
        // A place held by a clone (work gone on after its request was answered) stays taken
        // until both are dropped; then the one waiting gets it.
        let work = first.clone();
        drop(first);
        tokio::task::yield_now().await;
        assert_eq!(gate.running(), 1);
        drop(work);
        let second = second.await.unwrap_or_else(|e| panic!("{e}")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(gate.running(), 1);
        // One that finds every place taken and the queue free waits its time, then is refused.
        assert!(matches!(gate.enter().await, Err(Full::Waited(..))));
        drop(second);
        assert_eq!(gate.running(), 0);
        assert!(gate.enter().await.is_ok(), "a freed place is given");
    }
}
