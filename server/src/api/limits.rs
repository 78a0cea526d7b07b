//! The limits of [`crate::limits`] applied to requests, and what a write must show.
//!
//! - [`guard`] (outside authentication): a body larger than its route allows is refused (413)
//!   from its declared length, before a byte is read, or when it grows past it; a request that
//!   runs longer than its time is answered 503 with `Retry-After` (its work, if it runs off the
//!   request path, finishes there and its answer is kept where the route keeps answers); a write
//!   sent by a page of another site, or as a form, is refused (403, 415).
//! - [`gate`] (inside the policy, so only an admitted caller waits): the expensive routes take a
//!   place of the [`Gate`](crate::limits::Gate) or are answered 503 with `Retry-After`; the
//!   place is in the request's extensions for the handler to carry into its blocking work.

use crate::error::AppError;
use crate::limits::{Full, MAX_IMPORT_BYTES};
use crate::state::AppState;
use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// What a route costs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cost {
    /// Answered from memory or one query.
    Ordinary,
    /// A computation over the district: takes a place of the gate.
    Heavy,
    /// A file in or out: takes a place and runs as long as [`Limits::file_timeout`].
    File,
}

/// The expensive routes (method, path template).
pub const HEAVY: [(&str, &str); 6] = [
    ("GET", "/api/hotspots"),
    ("GET", "/api/unregistered-candidates"),
    ("GET", "/api/assessment"),
    ("POST", "/api/territory/proposals"),
    ("POST", "/api/campaigns"),
    ("GET", "/api/campaigns/{id}/routes"),
];

/// The routes that read or write files (method, path template).
pub const FILES: [(&str, &str); 2] = [("POST", "/api/imports/{kind}"), ("GET", "/api/exports/{file}")];

/// The listings that are files when they ask for one (`format=csv` or `format=xlsx`).
pub const LISTINGS: [(&str, &str); 2] = [("GET", "/api/persons"), ("GET", "/api/audit")];

/// The route whose bodies are files, with their own size limit.
const IMPORTS: &str = "/api/imports/{kind}";
/// The route of a hazard case's photos: bodies up to the configured photo size.
const HAZARD_PHOTOS: &str = "/api/hazards/{id}/photos";

/// What `method` on `route` with `query` costs.
pub fn cost(method: &Method, route: &str, query: Option<&str>) -> Cost {
    let is = |table: &[(&str, &str)]| table.iter().any(|(m, p)| *m == method.as_str() && *p == route);
    if is(&FILES) || (is(&LISTINGS) && asks_for_file(query)) {
        Cost::File
    } else if is(&HEAVY) {
        Cost::Heavy
    } else {
        Cost::Ordinary
    }
}

/// Whether a listing's query asks for a file (`format=` anything but JSON).
fn asks_for_file(query: Option<&str>) -> bool {
    let pairs: Vec<(String, String)> = query.and_then(|q| serde_urlencoded::from_str(q).ok()).unwrap_or_default();
    pairs.iter().any(|(k, v)| k == "format" && v != "json")
}

/// The route template the router matched, if any.
fn route(req: &Request) -> Option<&str> {
    req.extensions().get::<MatchedPath>().map(MatchedPath::as_str)
}

/// The answer of a request the server cannot take now: 503 with `Retry-After`.
fn busy(message: String, retry_after_s: u64) -> Response {
    let mut res = AppError::Unavailable(message).into_response();
    res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after_s));
    res
}

/// Middleware: body size, time, and the origin and form of writes (see the module).
pub async fn guard(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let limits = *state.limits();
    let route = route(&req).map(str::to_owned);
    let cost = route.as_deref().map_or(Cost::Ordinary, |r| cost(req.method(), r, req.uri().query()));
    if let Err(e) = check_write(&req, state.public_origin()) {
        return e.into_response();
    }
    let max = match route.as_deref() {
        Some(IMPORTS) => MAX_IMPORT_BYTES,
        Some(HAZARD_PHOTOS) => state.photos().map_or(limits.max_body_bytes, |p| p.max_bytes() as usize),
        _ => limits.max_body_bytes,
    };
    if let Some(declared) = declared_length(req.headers())
        && declared > max as u64
    {
        return too_large(declared, max).into_response();
    }
    let mut req = req.map(|body| Body::new(http_body_util::Limited::new(body, max)));
    // Links are built from the Host (see `ogc::base_url`): with a public URL, it is the Host.
    let public = state.public_origin().and_then(|o| o.split_once("://"));
    if let Some((scheme, host)) = public
        && let (Ok(host), Ok(scheme)) = (HeaderValue::from_str(host), HeaderValue::from_str(scheme))
    {
        req.headers_mut().insert(header::HOST, host);
        req.headers_mut().insert(header::HeaderName::from_static("x-forwarded-proto"), scheme);
    }
    let time = if cost == Cost::File { limits.file_timeout } else { limits.request_timeout };
    match tokio::time::timeout(time, next.run(req)).await {
        // Without a public URL, an answer's links follow the Host it was asked at.
        Ok(mut res) if public.is_none() => {
            res.headers_mut().append(header::VARY, HeaderValue::from_static("host"));
            res
        }
        Ok(res) => res,
        Err(_) => busy(
            format!(
                "this request took longer than {} s and was stopped; an analysis goes on and its answer is kept, \
                 so asking again shortly is quicker",
                time.as_secs()
            ),
            5,
        ),
    }
}

/// The refusal of a body over `max` bytes.
pub fn too_large(size: u64, max: usize) -> AppError {
    AppError::PayloadTooLarge(format!("the body is {size} bytes; this endpoint takes at most {max} bytes"))
}

fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers.get(header::CONTENT_LENGTH)?.to_str().ok()?.trim().parse().ok()
}

/// Middleware: an expensive route waits for a place of the gate (see the module).
pub async fn gate(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let cost = route(&req).map_or(Cost::Ordinary, |r| cost(req.method(), r, req.uri().query()));
    if cost == Cost::Ordinary {
        return next.run(req).await;
    }
    match state.gate().enter().await {
        Ok(place) => {
            req.extensions_mut().insert(place);
            next.run(req).await
        }
        Err(full @ Full::QueueFull(_)) => busy(full.to_string(), 5),
        Err(full @ Full::Waited(..)) => busy(full.to_string(), 10),
    }
}

/// A write (any method but GET, HEAD and OPTIONS) must come from this site, not from a page of
/// another (`Origin` or `Sec-Fetch-Site`), and must not be a form an HTML page can post
/// without asking (`text/plain`, `application/x-www-form-urlencoded`, `multipart/form-data`).
fn check_write(req: &Request, public_origin: Option<&str>) -> Result<(), AppError> {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return Ok(());
    }
    let headers = req.headers();
    let text = |name: header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = text(header::HeaderName::from_static("sec-fetch-site"))
        && site.eq_ignore_ascii_case("cross-site")
    {
        return Err(cross_site(site));
    }
    if let Some(origin) = text(header::ORIGIN)
        && !same_origin(origin, public_origin, text(header::HOST))
    {
        return Err(cross_site(origin));
    }
    if let Some(kind) = text(header::CONTENT_TYPE) {
        let essence = kind.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        if ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"].contains(&essence.as_str()) {
            return Err(AppError::UnsupportedMediaType(format!(
                "a write is not taken as {essence}: send JSON (application/json), or a file as its own type \
                 (text/csv, application/geo+json, .xlsx)"
            )));
        }
    }
    Ok(())
}

fn cross_site(from: &str) -> AppError {
    AppError::Forbidden(format!("a write from another site ({from}) is refused: use rentgrid's own pages or the API"))
}

/// Whether the `Origin` of a request is this server: the configured public origin, or else the
/// host the request was sent to (`Host`), on either scheme (a proxy may end TLS).
fn same_origin(origin: &str, public_origin: Option<&str>, host: Option<&str>) -> bool {
    let origin = origin.trim_end_matches('/');
    if let Some(public) = public_origin {
        return origin.eq_ignore_ascii_case(public);
    }
    let Some(host) = host else { return false };
    ["http://", "https://"]
        .iter()
        .any(|scheme| origin.strip_prefix(scheme).is_some_and(|h| h.eq_ignore_ascii_case(host)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_cost_what_they_compute() {
        assert_eq!(cost(&Method::GET, "/api/hotspots", Some("method=gi")), Cost::Heavy);
        assert_eq!(cost(&Method::GET, "/api/grids", None), Cost::Ordinary);
        assert_eq!(cost(&Method::POST, "/api/imports/{kind}", None), Cost::File);
        assert_eq!(cost(&Method::GET, "/api/exports/{file}", None), Cost::File);
        assert_eq!(cost(&Method::GET, "/api/persons", Some("grid=3&format=xlsx")), Cost::File);
        assert_eq!(cost(&Method::GET, "/api/persons", Some("grid=3")), Cost::Ordinary);
        assert_eq!(cost(&Method::GET, "/api/audit", Some("format=json")), Cost::Ordinary);
    }

    #[test]
    fn a_write_from_another_site_or_as_a_form_is_refused() {
        let req = |method: &str, headers: &[(&str, &str)]| {
            let mut b = Request::builder().method(method).uri("/api/visits");
            for (k, v) in headers {
                b = b.header(*k, *v);
            }
            b.body(Body::empty()).unwrap_or_else(|e| panic!("{e}"))
        };
        let json = ("content-type", "application/json");
        let host = ("host", "rentgrid.local:8080");
        assert!(check_write(&req("POST", &[json, host]), None).is_ok(), "a script without Origin");
        assert!(check_write(&req("POST", &[json, host, ("origin", "http://rentgrid.local:8080")]), None).is_ok());
        assert!(check_write(&req("GET", &[host, ("origin", "https://evil.example")]), None).is_ok(), "reads pass");
        for headers in [
            &[json, host, ("origin", "https://evil.example")][..],
            &[json, host, ("origin", "null")][..],
            &[json, host, ("sec-fetch-site", "cross-site")][..],
            &[json, ("origin", "http://rentgrid.local:8080")][..],
        ] {
            assert!(matches!(check_write(&req("POST", headers), None), Err(AppError::Forbidden(_))), "{headers:?}");
        }
        for form in
            ["text/plain", "application/x-www-form-urlencoded; charset=utf-8", "multipart/form-data; boundary=x"]
        {
            let r = req("POST", &[("content-type", form), host]);
            assert!(matches!(check_write(&r, None), Err(AppError::UnsupportedMediaType(_))), "{form}");
        }
        // Behind a proxy with a public URL, the Origin must be that URL.
        let public = Some("https://rentgrid.example.cn");
        let behind = req("POST", &[json, ("host", "127.0.0.1:8080"), ("origin", "https://rentgrid.example.cn")]);
        assert!(check_write(&behind, public).is_ok());
        let other = req("POST", &[json, ("host", "rentgrid.example.cn"), ("origin", "http://127.0.0.1:8080")]);
        assert!(check_write(&other, public).is_err());
    }
}
