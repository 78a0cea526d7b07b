//! `GET /api/events`: the data changes an open map should show, as Server-Sent Events (see
//! [`crate::events`]). The first event is the data version now; then one event per committed
//! write within the caller's scope, a `reload` after an import, a `resync` when the stream fell
//! behind. Comments keep idle connections open through proxies. A stream ends when the server
//! begins to stop, and after [`STREAM_LIFETIME`]: the browser reconnects by itself, signed in
//! afresh and with its scope derived again (contracts may have moved).

use crate::api::error::Exception;
use crate::events::{Change, DataEvent, EventKind, Subscription};
use crate::scope::Scope;
use crate::state::AppState;
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use std::convert::Infallible;
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;
use tokio::time::Instant;

/// How often an idle stream sends a comment (proxies close connections silent for a minute).
const KEEP_ALIVE: Duration = Duration::from_secs(20);

/// How long one stream lasts before the server ends it and the browser reconnects.
pub const STREAM_LIFETIME: Duration = Duration::from_secs(10 * 60);

/// How long a browser waits before it reconnects a stream that ended.
const RECONNECT: Duration = Duration::from_secs(2);

/// `GET /api/events`: Server-Sent Events of data changes within the caller's scope.
#[utoipa::path(get, path = "/api/events", tag = "API", operation_id = "events",
    summary = "data changes as Server-Sent Events (text/event-stream): first the version now, then each write's \
               version, grids and tiles within the caller's scope; reload or resync: reload everything",
    responses(
        (status = 200, description = "a stream of events, each `data:` one DataEvent as JSON", content_type = "text/event-stream", body = DataEvent),
        (status = 401, description = "not signed in", body = Exception),
        (status = 403, description = "a role that does not read the map", body = Exception)))]
pub(crate) async fn events(
    State(state): State<AppState>,
    scope: Scope,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    // Subscribed before the version is read: no change falls between the two.
    let subscription = state.events().subscribe();
    let now = state.atlas().version();
    let reader = Reader {
        state,
        scope,
        subscription,
        seen: now,
        first: Some(DataEvent::everything(EventKind::Current, now)),
        ends: Instant::now() + STREAM_LIFETIME,
    };
    Sse::new(futures_util::stream::unfold(reader, Reader::next)).keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
}

/// One stream's place in the changes.
struct Reader {
    state: AppState,
    scope: Scope,
    subscription: Subscription,
    /// The newest version the stream has told of (or skipped as out of scope).
    seen: u64,
    /// The event to send first.
    first: Option<DataEvent>,
    /// When the stream ends.
    ends: Instant,
}

impl Reader {
    /// The next event, or `None` when the stream ends.
    async fn next(mut self) -> Option<(Result<Event, Infallible>, Self)> {
        if let Some(first) = self.first.take() {
            return Some((Ok(sse(&first).retry(RECONNECT)), self));
        }
        loop {
            let received = tokio::select! {
                biased;
                _ = self.subscription.closing.wait_for(|closing| *closing) => return None,
                () = tokio::time::sleep_until(self.ends) => return None,
                received = self.subscription.changes.recv() => received,
            };
            let event = match received {
                Ok(change) => self.narrow(&change),
                Err(RecvError::Lagged(_)) => {
                    self.seen = self.state.atlas().version();
                    Some(DataEvent::everything(EventKind::Resync, self.seen))
                }
                Err(RecvError::Closed) => return None,
            };
            if let Some(event) = event {
                return Some((Ok(sse(&event)), self));
            }
        }
    }

    /// `change` as this stream tells it: `None` when already told (the version it started
    /// with includes it) or outside the scope. A hazard case's change moves no version: each is
    /// told once, as it comes.
    fn narrow(&mut self, change: &Change) -> Option<DataEvent> {
        if matches!(change, Change::Hazards { .. }) {
            return change.for_scope(&self.scope);
        }
        if change.version() <= self.seen {
            return None;
        }
        self.seen = change.version();
        change.for_scope(&self.scope)
    }
}

/// `event` as a Server-Sent Event: its JSON as the data, its version as the id.
fn sse(event: &DataEvent) -> Event {
    let id = Event::default().id(event.version.to_string());
    match serde_json::to_string(event) {
        Ok(json) => id.data(json),
        // Not seen (the event is plain data); a client still hears that something changed.
        Err(_) => id.data(format!(r#"{{"kind":"resync","version":{},"grids":null,"tiles":[]}}"#, event.version)),
    }
}
