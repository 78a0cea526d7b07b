//! Work made off the request path (an estimate, a heat surface or hot spots remade for newer
//! data while the older answer is served) runs on threads of their own at a lower OS priority,
//! so on a busy machine the requests' threads get the cores first and a background analysis
//! takes what they leave. Work a request waits for runs on tokio's blocking pool as before.
//!
//! On Linux a thread's nice value is its own: the background threads are made nicer once, when
//! they start, and every parallel loop inside their work (rayon's) runs on them too.

use std::sync::OnceLock;
use thread_priority::{ThreadPriority, ThreadPriorityValue};
use tokio::sync::oneshot;

/// How much nicer than the server the background threads are by default: at nice 10 above a
/// request's thread they weigh 110 against its 1,024, so under full load an analysis gets about
/// a tenth of a core, and all it asks of an idle one.
pub const DEFAULT_NICE: u8 = 10;

/// The highest nice value Linux has.
pub const MAX_NICE: u8 = 19;

/// Whether a request waits for a piece of work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Priority {
    /// A request waits for it: the blocking pool, at the server's priority.
    Request,
    /// Nobody waits for it: the background threads.
    Background,
}

/// The background threads of the process, made at the first background work, nicer than the
/// server by what was given to [`configure`] (or [`DEFAULT_NICE`]); `None` when they could not be
/// started (the blocking pool takes the work then).
static POOL: OnceLock<Option<rayon::ThreadPool>> = OnceLock::new();
static NICER_BY: OnceLock<u8> = OnceLock::new();

/// Sets how much nicer than the server the background threads are (0: as the server), before
/// any background work; later calls change nothing.
pub fn configure(nicer_by: u8) {
    let _ = NICER_BY.set(nicer_by.min(MAX_NICE));
}

/// The calling thread's nice value as the kernel keeps it (field 19 of its stat line).
#[cfg(target_os = "linux")]
fn current_nice() -> Option<i32> {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").ok()?;
    // The command name (field 2) is in brackets and may hold spaces: count after it.
    let after = stat.get(stat.rfind(')')? + 2..)?;
    after.split(' ').nth(16)?.parse().ok()
}

#[cfg(not(target_os = "linux"))]
fn current_nice() -> Option<i32> {
    Some(0)
}

/// The value `thread-priority` maps onto the nice value `nice` for a normal (SCHED_OTHER)
/// thread: it spreads its 0–99 over nice 19 down to −20 and truncates, so this is the smallest
/// value it maps to `nice` exactly (checked against the kernel in the tests).
fn crossplatform_value(nice: i32) -> Option<u8> {
    // The crate: niceness = trunc(39 × (1 − p / 99)) − 20.
    (0u8..=99).find(|&p| ((39.0f32 * (1.0 - f32::from(p) / 99.0)) as i32) - 20 == nice)
}

/// Makes the calling thread (a background thread, when it starts) nicer by `by`, up to 19.
fn lower_current_thread(by: u8) {
    if by == 0 {
        return;
    }
    let Some(now) = current_nice() else { return };
    let nice = (now + i32::from(by)).min(i32::from(MAX_NICE));
    if nice <= now {
        return;
    }
    let Some(value) = crossplatform_value(nice).and_then(|p| ThreadPriorityValue::try_from(p).ok()) else { return };
    if let Err(e) = ThreadPriority::Crossplatform(value).set_for_current() {
        tracing::warn!(error = ?e, "a background thread keeps the server's priority");
    }
}

fn pool() -> Option<&'static rayon::ThreadPool> {
    POOL.get_or_init(|| threads("background", *NICER_BY.get_or_init(|| DEFAULT_NICE))).as_ref()
}

/// One named thread per core (`{name}-0`, `{name}-1`, …), nicer than the server by `nicer_by`,
/// whose panics are logged; `None` (with a warning) when they could not be started, and the
/// caller's work then goes to tokio's blocking pool. The tile builders are made here too, at
/// the server's priority.
pub fn threads(name: &'static str, nicer_by: u8) -> Option<rayon::ThreadPool> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get))
        .thread_name(move |i| format!("{name}-{i}"))
        .start_handler(move |_| lower_current_thread(nicer_by))
        .panic_handler(move |_| tracing::error!("work on the {name} threads panicked"))
        .build()
        .map_err(|e| tracing::warn!("no {name} threads ({e}): their work runs on the blocking pool"))
        .ok()
}

/// The work ended without an answer (it panicked).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the work ended without an answer")]
pub struct Lost;

/// Runs `job` at `priority` and waits for its answer.
pub async fn run<T: Send + 'static>(priority: Priority, job: impl FnOnce() -> T + Send + 'static) -> Result<T, Lost> {
    match (priority, pool()) {
        (Priority::Background, Some(pool)) => {
            let (tx, rx) = oneshot::channel();
            pool.spawn(move || {
                let _ = tx.send(job());
            });
            rx.await.map_err(|_| Lost)
        }
        _ => tokio::task::spawn_blocking(job).await.map_err(|_| Lost),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The nice value of a new thread of this process (what the server's threads run at).
    #[cfg(target_os = "linux")]
    fn base() -> i32 {
        std::thread::spawn(current_nice).join().expect("the thread").expect("read from the kernel")
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_thread_made_nicer_has_that_nice_value_in_the_kernel() {
        let base = base();
        for by in [0u8, 1, 5, 10, 15, 19] {
            let seen = std::thread::spawn(move || {
                lower_current_thread(by);
                current_nice()
            })
            .join()
            .expect("the thread");
            assert_eq!(seen, Some((base + i32::from(by)).min(19)), "nicer by {by}");
        }
    }

    #[tokio::test]
    async fn work_at_either_priority_gives_its_answer() {
        assert_eq!(run(Priority::Background, || 6 * 7).await, Ok(42));
        assert_eq!(run(Priority::Request, || 6 * 7).await, Ok(42));
        assert_eq!(run(Priority::Background, || -> u8 { panic!("lost") }).await, Err(Lost));
    }

    /// Background work runs nicer (nothing in this test binary configures another value); a
    /// request's work at the server's priority.
    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn background_work_runs_nicer_than_a_requests() {
        let base = base();
        assert_eq!(run(Priority::Background, current_nice).await, Ok(Some((base + i32::from(DEFAULT_NICE)).min(19))));
        assert_eq!(run(Priority::Request, current_nice).await, Ok(Some(base)));
    }
}
