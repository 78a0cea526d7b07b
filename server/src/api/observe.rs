//! Observability at the HTTP edge (see [`crate::observe`]): the layers [`around`] puts outside
//! every route and the fallback, and `GET /metrics`. From the outside in:
//! 1. [`assign_id`]: the request's id, the client's `x-request-id` when well formed, else a new
//!    one; kept in the request (its header and extensions) and, while the request is answered,
//!    in [`request_id::current`] for error bodies; echoed in the response's `x-request-id`.
//! 2. The request's span (tower-http's trace layer, [`span`]): its id, method, route template and
//!    path, carried by every log line written while it is answered.
//! 3. [`track`]: counts and times the answer ([`Metrics::observe`](crate::observe::metrics::Metrics::observe))
//!    and logs one line for it, whatever answered it (a handler, the policy's 401, a 405).

use crate::api::error::Exception;
use crate::error::{AppError, AppResult};
use crate::observe::logs::ACCESS_TARGET;
use crate::observe::metrics;
use crate::observe::request_id::{self, RequestId};
use crate::state::AppState;
use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use std::time::{Duration, Instant};
use tower_http::trace::TraceLayer;
use tracing::Span;

/// How long a scrape waits for the store to say the audit log's length.
const STORE_WAIT: Duration = Duration::from_secs(2);

/// `router` with the observing layers outside it (see the module's description for their order).
pub(super) fn around(router: Router<AppState>, state: &AppState) -> Router<AppState> {
    router
        .layer(middleware::from_fn_with_state(state.clone(), track))
        .layer(TraceLayer::new_for_http().make_span_with(span as fn(&Request) -> Span))
        .layer(middleware::from_fn(assign_id))
}

fn header_name() -> HeaderName {
    HeaderName::from_static(request_id::HEADER)
}

/// Gives the request its id (see the module's description).
async fn assign_id(mut req: Request, next: Next) -> Response {
    let sent = req.headers().get(request_id::HEADER).and_then(|v| RequestId::parse(v.as_bytes()));
    let id = sent.unwrap_or_else(RequestId::generate);
    // Letters, digits and `-_.:` only: always a valid header value.
    let value = HeaderValue::from_str(id.as_str()).ok();
    if let Some(v) = &value {
        req.headers_mut().insert(header_name(), v.clone());
    }
    req.extensions_mut().insert(id.clone());
    let mut res = request_id::scope(id, next.run(req)).await;
    if let Some(v) = value {
        res.headers_mut().insert(header_name(), v);
    }
    res
}

/// The span of a request: `request` with its `id`, `method`, `route` (the template matched, or
/// [`metrics::UNMATCHED`]) and `path` (never the query, which may name a person).
fn span(req: &Request) -> Span {
    let id = req.extensions().get::<RequestId>().map_or("", RequestId::as_str);
    let route = req.extensions().get::<MatchedPath>().map_or(metrics::UNMATCHED, MatchedPath::as_str);
    tracing::info_span!("request", id, method = %req.method(), route, path = req.uri().path())
}

/// Counts, times and logs the answer to the request (see the module's description).
async fn track(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    let route = req.extensions().get::<MatchedPath>().cloned();
    let res = next.run(req).await;
    let took = started.elapsed();
    let status = res.status().as_u16();
    state.metrics().observe(method.as_str(), route.as_ref().map(MatchedPath::as_str), status, took);
    let ms = took.as_micros() as f64 / 1e3;
    tracing::info!(target: ACCESS_TARGET, status, ms, "answered");
    res
}

/// `GET /metrics`: the server's figures for Prometheus (text format 0.0.4), for the system
/// administrator and the auditor (a scraper uses an API token of such a user). No label names a
/// user, an address or a record.
#[utoipa::path(get, path = "/metrics", tag = "System", operation_id = "metrics",
    summary = "the server's figures in the Prometheus text format: requests by method, route template and status \
               (count, duration histogram), tile cache hits and misses, the Atlas's version and build time, the \
               store's connection pool, audit rows written, writes waiting and each write's phases timed (sysadmin and \
               auditor; an API token works)",
    responses(
        (status = 200, description = "the figures", content_type = "text/plain; version=0.0.4; charset=utf-8", body = String),
        (status = 401, description = "not signed in", body = Exception),
        (status = 403, description = "neither the system administrator nor the auditor", body = Exception)))]
pub(super) async fn serve_metrics(State(state): State<AppState>) -> AppResult<Response> {
    let audit_rows = match tokio::time::timeout(STORE_WAIT, state.store().audit_length()).await {
        Ok(Ok(n)) => Some(n),
        Ok(Err(e)) => {
            tracing::warn!("metrics: the store did not say the audit log's length: {e}");
            None
        }
        Err(_) => {
            tracing::warn!("metrics: the store did not say the audit log's length within {STORE_WAIT:?}");
            None
        }
    };
    let text = state.metrics().render(&state.readings(audit_rows)).map_err(|e| AppError::Internal(e.to_string()))?;
    Ok(([(header::CONTENT_TYPE, metrics::CONTENT_TYPE), (header::CACHE_CONTROL, "no-store")], text).into_response())
}
