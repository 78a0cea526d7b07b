//! Following the store's change log, so that a server sees the writes of the other servers on
//! its database: woken by the database's announcement of each change (PostgreSQL's
//! `LISTEN`/`NOTIFY`), and at the latest every [`SAFETY_NET`], it catches up
//! ([`AppState::catch_up`]): the changes after the last one it applied, in order (an announced
//! change it applied already, its own write's, wakes nothing). A lost
//! listening connection is made again, and the server then catches up with whatever it missed
//! meanwhile; a GeoPackage (one server) announces nothing, and is read every [`SAFETY_NET`].

use crate::state::AppState;
use crate::store::changes::Wakeups;
use std::time::Duration;

/// The longest a server goes without reading the change log, announcement or not.
pub const SAFETY_NET: Duration = Duration::from_secs(2);

/// Why the follower woke.
enum Woke {
    /// Change `seq` was announced.
    Announced(i64),
    /// The listening connection was lost and made again: announcements may have been missed.
    Reconnected,
    /// Nothing was announced for [`SAFETY_NET`].
    Quiet,
    /// Listening failed (the database is away); the next wait tries again.
    Failed(crate::store::StoreError),
}

/// Waits for the next announcement, or [`SAFETY_NET`].
async fn wait(wakeups: &mut Option<Box<dyn Wakeups>>) -> Woke {
    let Some(w) = wakeups else {
        tokio::time::sleep(SAFETY_NET).await;
        return Woke::Quiet;
    };
    match tokio::time::timeout(SAFETY_NET, w.next()).await {
        Err(_) => Woke::Quiet,
        Ok(Ok(Some(seq))) => Woke::Announced(seq),
        Ok(Ok(None)) => Woke::Reconnected,
        Ok(Err(e)) => Woke::Failed(e),
    }
}

/// Follows the change log of `state`'s store for as long as the task runs (abort it at
/// shutdown).
pub async fn follow(state: AppState) {
    // `None` and `listening`: not listening yet (or it failed); not `listening`: the store
    // announces nothing.
    let mut wakeups: Option<Box<dyn Wakeups>> = None;
    let mut listening = true;
    // Whether the last catching up failed, so that an outage is logged once, not every wait.
    let mut failing = false;
    loop {
        if listening && wakeups.is_none() {
            match state.store().listen().await {
                Ok(Some(w)) => wakeups = Some(w),
                Ok(None) => listening = false,
                Err(e) => tracing::debug!(error = %e, "cannot listen for changes yet"),
            }
        }
        let caught_up = match wait(&mut wakeups).await {
            // This server's own write (mostly applied already, under the write lock, by the
            // time its announcement arrives), or one caught up with: no turn of the lock, no
            // read of the log.
            Woke::Announced(seq) if state.has_applied(seq) => continue,
            // Its own write being applied now (the announcement comes at the commit) is applied
            // by the time the lock is had: then the log is not read either.
            Woke::Announced(seq) => state.catch_up_to(seq).await,
            Woke::Quiet => state.catch_up().await,
            Woke::Reconnected => {
                tracing::info!("listening for changes again: catching up with the change log");
                state.catch_up().await
            }
            Woke::Failed(e) => {
                tracing::debug!(error = %e, "listening for changes failed");
                tokio::time::sleep(SAFETY_NET).await;
                state.catch_up().await
            }
        };
        match caught_up {
            Ok(()) if failing => {
                failing = false;
                tracing::info!("caught up with the change log again");
            }
            Ok(()) => {}
            Err(e) if !failing => {
                failing = true;
                tracing::warn!(error = %e, "cannot read the change log: the data served may be behind until it can");
            }
            Err(e) => tracing::debug!(error = %e, "still cannot read the change log"),
        }
    }
}
