//! What one request may cost (issue 18): a body over its limit is 413 (from its declared length,
//! before a byte is read, or when it grows past it); a write from a page of another site, or
//! sent as a form, is refused; an expensive route finds its places taken and is answered 503
//! with Retry-After; a request over its time is 503 while its run goes on, keeps its place and
//! keeps its answer; after a write, hot spots answer at once with the answer kept (saying
//! which data it reflects) while one run per interval makes the new one off the request path,
//! and heat tiles are drawn from the heat surface kept the same way;
//! a hot-spot run that would link too many sites is 422; behind HTTPS the
//! answers carry HSTS and links follow the public URL. These are layers of the router, above
//! the store: they run on the embedded store.

use crate::common::*;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use rentgrid_analysis::kpi::Targets;
use rentgrid_server::limits::Limits;
use rentgrid_server::{AppState, app, startup};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use tower::ServiceExt;

async fn state(f: &Fixture) -> AppState {
    startup::state_for(f.store.clone(), Targets::default(), None).await.unwrap()
}

/// A POST of `body` as `content_type` (none when `None`) with `headers`.
fn post(uri: &str, content_type: Option<&str>, headers: &[(&str, &str)], body: Body) -> Request<Body> {
    let mut b = Request::post(uri);
    if let Some(t) = content_type {
        b = b.header(header::CONTENT_TYPE, t);
    }
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(body).unwrap()
}

/// Asserts an error answer of `status` with `code` and a message holding `says`.
fn refused(answer: (StatusCode, serde_json::Value), status: StatusCode, code: &str, says: &str) {
    let (s, body) = answer;
    assert_eq!(s, status, "{body}");
    assert_eq!(body["code"], code, "{body}");
    let message = body["message"].as_str().unwrap_or_default();
    assert!(message.contains(says), "{message:?} does not say {says:?}");
}

#[tokio::test]
async fn bodies_over_their_limit_and_writes_from_elsewhere_are_refused() {
    let f = Fixture::seeded(Backend::Sqlite).await;
    let r = &f.router;
    let json = Some("application/json");
    // Declared too large: refused before a byte is read.
    let declared = post("/api/visits", json, &[("content-length", "10000000000")], Body::empty());
    refused(send(r, declared).await, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", "at most 1048576 bytes");
    // Not declared (chunked), and growing past the limit while read.
    let streamed = post("/api/visits", json, &[], Body::from(vec![b' '; 2 << 20]));
    refused(send(r, streamed).await, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", "too large");
    // Imports take files far larger than a JSON body: 2 MiB reaches the import, which reads it.
    let csv = format!("编号\n{}", "x\n".repeat(1 << 20));
    let (status, body) = send(r, post("/api/imports/units", Some("text/csv"), &[], Body::from(csv))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");

    // A ledger of 1,500 bad rows: the first 1,000 problems are listed and the rest counted, not
    // a body that grows with the file.
    let mut ledger = String::from("编号,楼栋编号,房号,房东姓名,房东电话,是否登记,租住人数\n");
    for i in 0..1_500 {
        ledger.push_str(&format!("BAD-{i},999999999,101,房东,13800000000,是,2\n"));
    }
    let (status, body) = send(r, post("/api/imports/units", Some("text/csv"), &[], Body::from(ledger))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["errors"].as_array().unwrap().len(), 1_000);
    assert_eq!(body["errors_not_listed"], 500, "{}", body["message"]);
    assert!(body["message"].as_str().unwrap().contains("1500 of 1500 rows"), "{}", body["message"]);

    // Forms (which a page of any site can post) and bodies of the wrong type: 415.
    for (uri, kind) in [
        ("/api/imports/units", Some("text/plain")),
        ("/api/imports/units", Some("application/x-www-form-urlencoded")),
        ("/api/imports/buildings", Some("text/csv")),
        ("/api/imports/units", None),
        ("/api/visits", Some("multipart/form-data; boundary=x")),
        ("/api/visits", None),
    ] {
        let answer = send(r, post(uri, kind, &[], Body::from("{}"))).await;
        assert_eq!(answer.0, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{uri} as {kind:?}: {}", answer.1);
        assert_eq!(answer.1["code"], "unsupported_media_type");
    }
    // A write from a page of another site: 403, whatever it carries.
    for (k, v) in [("origin", "https://evil.example"), ("sec-fetch-site", "cross-site")] {
        let from_elsewhere = post("/api/visits", json, &[(k, v), ("host", "rentgrid.local")], Body::from("{}"));
        refused(send(r, from_elsewhere).await, StatusCode::FORBIDDEN, "forbidden", "another site");
    }
    // From its own pages it reaches the handler (which judges the body).
    let own =
        post("/api/visits", json, &[("origin", "http://rentgrid.local"), ("host", "rentgrid.local")], "{}".into());
    assert_eq!(send(r, own).await.0, StatusCode::UNPROCESSABLE_ENTITY);
    f.done().await;
}

/// A visit through `router` to the district's first building (its client id `n`).
async fn a_visit(f: &Fixture, router: &axum::Router, n: u32) {
    let b = &f.atlas().buildings()[0];
    let body = serde_json::json!({
        "client_id": format!("limits-{n}"),
        "building_id": b.id,
        "new_units": [{ "label": format!("L-{n}"), "tenants": 2, "registered": true }],
    });
    let (status, answer) = post_json(router, "/api/visits", &body.to_string()).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
}

#[tokio::test]
async fn after_a_write_hot_spots_answer_at_once_with_the_kept_answer_while_one_run_makes_the_new_one() {
    let f = Fixture::seeded(Backend::Sqlite).await;
    let gi = "/api/hotspots?method=gi";

    // One run an hour at most: after a write, the answer kept is served, saying it reflects the
    // data before the write, and no run starts.
    let hourly = Limits { analysis_interval: Duration::from_secs(3600), ..Limits::default() };
    let state = self::state(&f).await.with_limits(hourly);
    let router = as_center(app(state.clone()));
    let (status, first) = get(&router, gi).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    let before = state.atlas().version();
    assert_eq!(first["data_version"].as_u64(), Some(before), "a first answer is run for the data now");
    a_visit(&f, &router, 1).await;
    assert!(state.atlas().version() > before, "the visit made new data");
    let served = get(&router, gi).await.1;
    assert!(served == first, "not the answer kept, of the data before the visit: {}", served["data_version"]);
    assert!(!state.hotspots_refreshing(), "no run within the interval");

    // No interval: the answer kept is served and one run starts off the request path; once it
    // ends, the answer of the new data is served.
    let eager = Limits { analysis_interval: Duration::ZERO, ..Limits::default() };
    let state = self::state(&f).await.with_limits(eager);
    let router = as_center(app(state.clone()));
    let first = get(&router, gi).await.1;
    let before = state.atlas().version();
    assert_eq!(first["data_version"].as_u64(), Some(before));
    a_visit(&f, &router, 2).await;
    let after = state.atlas().version();
    let (status, served) = get(&router, gi).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(served["data_version"].as_u64(), Some(before), "served at once from what was kept");
    while state.hotspots_refreshing() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let fresh = get(&router, gi).await.1;
    assert_eq!(fresh["data_version"].as_u64(), Some(after), "the run made the answer of the new data");
    assert_eq!(state.hotspots_kept().len(), 1);
    f.done().await;
}

/// A heat tile at building 0 as `router` answers it: its data version and its bytes.
async fn heat_tile(f: &Fixture, router: &axum::Router) -> (u64, Vec<u8>) {
    let p = f.atlas().buildings()[0].point;
    let n = 2f64.powi(14);
    let x = ((p.x() + 180.0) / 360.0 * n).floor();
    let phi = p.y().to_radians();
    let y = ((1.0 - (phi.tan() + 1.0 / phi.cos()).ln() / std::f64::consts::PI) / 2.0 * n).floor();
    let req = Request::get(format!("/tiles/heat/14/{x}/{y}.mvt?count=persons")).body(Body::empty()).unwrap();
    let res = router.clone().oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let version = res.headers()[rentgrid_server::api::DATA_VERSION].to_str().unwrap().parse().unwrap();
    (version, axum::body::to_bytes(res.into_body(), usize::MAX).await.unwrap().to_vec())
}

#[tokio::test]
async fn after_a_write_heat_tiles_come_from_the_kept_surface_while_one_build_makes_the_new_one() {
    let f = Fixture::seeded(Backend::Sqlite).await;
    // One build an hour at most: after a write, the heat tile is the one drawn before it, and
    // says so; no build starts.
    let hourly = Limits { analysis_interval: Duration::from_secs(3600), ..Limits::default() };
    let state = self::state(&f).await.with_limits(hourly);
    let router = as_center(app(state.clone()));
    let before = state.atlas().version();
    let first = heat_tile(&f, &router).await;
    assert_eq!(first.0, before, "a first surface is built for the data now");
    a_visit(&f, &router, 3).await;
    assert!(state.atlas().version() > before);
    assert_eq!(heat_tile(&f, &router).await, first, "the tile of the surface kept");
    assert!(!state.heat_refreshing(), "no build within the interval");

    // No interval: the kept surface's tile at once, and one build off the request path; then
    // the surface of the new data.
    let eager = Limits { analysis_interval: Duration::ZERO, ..Limits::default() };
    let state = self::state(&f).await.with_limits(eager);
    let router = as_center(app(state.clone()));
    let before = heat_tile(&f, &router).await.0;
    a_visit(&f, &router, 4).await;
    let after = state.atlas().version();
    assert!(after > before);
    assert_eq!(heat_tile(&f, &router).await.0, before, "served at once from the surface kept");
    while state.heat_refreshing() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(heat_tile(&f, &router).await.0, after, "the build made the surface of the new data");
    f.done().await;
}

#[tokio::test]
async fn expensive_requests_wait_for_a_place_and_a_slow_one_keeps_its_answer() {
    let f = Fixture::seeded(Backend::Sqlite).await;
    let lisa = "/api/hotspots?method=lisa&seed=7";

    // One place, no queue: while it is taken, a hot-spot request is 503 with Retry-After, and
    // an ordinary request is served.
    let limits = Limits { heavy_at_once: 1, heavy_queue: 0, ..Limits::default() };
    let state = state(&f).await.with_limits(limits);
    let router = as_center(app(state.clone()));
    let held = state.gate().enter().await.unwrap();
    let res = router.clone().oneshot(Request::get(lisa).body(Body::empty()).unwrap()).await.unwrap();
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(res.headers().get(header::RETRY_AFTER).is_some(), "503 says when to come back");
    assert_eq!(get(&router, "/api/grids").await.0, StatusCode::OK);
    drop(held);
    assert_eq!(get(&router, lisa).await.0, StatusCode::OK, "a freed place is taken");

    // Out of time: the request is answered 503, its run goes on off the request path and
    // holds its place until it is done, and its answer is kept for the next request.
    let slow = Limits { request_timeout: Duration::from_millis(50), ..Limits::default() };
    let state = self::state(&f).await.with_limits(slow);
    let router = as_center(app(state.clone()));
    // What the run starts from is at hand (as after any earlier request), and the run itself
    // (99,999 permutations of 16 neighbours each) takes far longer than its 50 ms.
    let snapshot = state.snapshot();
    state.history(&snapshot).await.unwrap();
    snapshot.grid_counts();
    let uncached = "/api/hotspots?method=lisa&weights=knn:16&permutations=99999&seed=8";
    refused(get(&router, uncached).await, StatusCode::SERVICE_UNAVAILABLE, "unavailable", "took longer than");
    while state.gate().running() > 0 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let kept = state.hotspots_kept();
    assert_eq!(kept.len(), 1, "the run's answer is kept");
    let (_, fresh) = get(&f.router, uncached).await;
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&kept[0].json).unwrap(),
        fresh,
        "the answer kept is the run's"
    );

    // Parameters that ask for more than one run may do: 422 naming what, before the memory goes.
    let (status, body) = get(&f.router, "/api/hotspots?weights=distance:50000&tessellation=h3&resolution=10").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["message"].as_str().unwrap().contains("neighbour pairs"), "{body}");
    f.done().await;
}

#[tokio::test]
async fn behind_https_answers_carry_hsts_and_links_follow_the_public_url() {
    let f = Fixture::seeded(Backend::Sqlite).await;
    // By default: no HSTS, links from the Host asked at, and answers vary by it.
    let res = f
        .router
        .clone()
        .oneshot(Request::get("/tiles/grids.json").header("host", "10.0.0.5:8080").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert!(res.headers().get(header::STRICT_TRANSPORT_SECURITY).is_none());
    let vary: Vec<_> = res.headers().get_all(header::VARY).iter().filter_map(|v| v.to_str().ok()).collect();
    assert!(vary.iter().any(|v| v.eq_ignore_ascii_case("host")), "{vary:?}");
    let body = axum::body::to_bytes(res.into_body(), usize::MAX).await.unwrap();
    let tilejson: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert!(tilejson["tiles"][0].as_str().unwrap().starts_with("http://10.0.0.5:8080/tiles/"), "{tilejson}");

    // Behind a proxy that ends TLS, with a public URL: HSTS, and every link on that URL whatever
    // Host the proxy passes.
    let public = "https://rentgrid.example.cn";
    let state = state(&f).await.with_https(true).with_public_origin(Some(public.into()));
    let router = as_center(app(state));
    for uri in ["/tiles/grids.json", "/collections?f=json"] {
        let res = router
            .clone()
            .oneshot(Request::get(uri).header("host", "127.0.0.1:8080").body(Body::empty()).unwrap())
            .await
            .unwrap();
        let hsts = res.headers().get(header::STRICT_TRANSPORT_SECURITY).and_then(|v| v.to_str().ok());
        assert_eq!(hsts, Some(rentgrid_server::api::HSTS), "{uri}");
        let body = axum::body::to_bytes(res.into_body(), usize::MAX).await.unwrap();
        let text = String::from_utf8_lossy(&body);
        assert!(text.contains(public) && !text.contains("127.0.0.1"), "{uri}: {text}");
    }
    f.done().await;
}

/// A grid stats row without what the estimate gives (the register's counts and rates only).
fn register_part(row: &Value) -> Value {
    let mut row = row.clone();
    if let Some(o) = row.as_object_mut() {
        o.retain(|k, _| !(k.contains("_est") || k.contains("unrecorded") || k.contains("verdict")));
    }
    row
}

#[tokio::test]
async fn every_grids_stats_show_a_write_at_once_and_a_new_estimate_once_made_off_the_request_path() {
    let f = Fixture::seeded(Backend::Sqlite).await;
    let grids = "/api/stats?level=grid";
    let eager = Limits { estimate_interval: Duration::from_nanos(1), ..Limits::default() };
    let state = self::state(&f).await.with_limits(eager);
    let router = as_center(app(state.clone()));
    let (status, first) = get(&router, grids).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    a_visit(&f, &router, 21).await;
    // What a server started now answers (its estimate made for the data now): the truth.
    let truth = get(&as_center(app(self::state(&f).await)), grids).await.1;
    let register = |answer: &Value| answer["rows"].as_array().unwrap().iter().map(register_part).collect::<Vec<_>>();
    assert_ne!(register(&first), register(&truth), "the visit changed a grid's counts");

    // At once: the write's counts, with the estimate kept (the new one is being made).
    let (_, at_once) = get(&router, grids).await;
    assert_eq!(register(&at_once), register(&truth), "the write shows at once");
    while state.estimate_refreshing() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The new estimate made: the next answer still has the kept one's rates (the counts are
    // the write's) while every grid's rates are written off the request path; then the truth.
    let (_, meanwhile) = get(&router, grids).await;
    assert_eq!(register(&meanwhile), register(&truth), "the counts stay the write's");
    while state.every_grid_refreshing() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (_, made) = get(&router, grids).await;
    assert_eq!(made, truth, "every grid's rates of the new estimate, once made");
    let gzipped = crate::common::get_gzip(&router, grids).await;
    assert!(gzipped.2 && gzipped.1 == truth, "and the same gzipped");
    f.done().await;
}

#[tokio::test]
async fn after_a_write_the_estimate_is_served_at_once_while_one_making_of_it_runs_off_the_request_path() {
    let f = Fixture::seeded(Backend::Sqlite).await;
    let stats = "/api/stats?level=district";

    // No interval (the default of the tests): each write's data waits for its own estimate.
    let state = self::state(&f).await;
    let router = as_center(app(state.clone()));
    let first = state.estimate(&state.atlas()).await.unwrap();
    assert!(Arc::ptr_eq(&first, &state.estimate(&state.atlas()).await.unwrap()), "made once per snapshot");
    a_visit(&f, &router, 11).await;
    let own = state.estimate(&state.atlas()).await.unwrap();
    assert!(!Arc::ptr_eq(&first, &own), "the write's data has an estimate of its own");

    // One making an hour at most: after a write, the newest estimate is served and none starts.
    let hourly = Limits { estimate_interval: Duration::from_secs(3600), ..Limits::default() };
    let state = self::state(&f).await.with_limits(hourly);
    let router = as_center(app(state.clone()));
    let (status, before) = get(&router, stats).await;
    assert_eq!(status, StatusCode::OK, "{before}");
    let kept = state.estimate(&state.atlas()).await.unwrap();
    a_visit(&f, &router, 12).await;
    let (status, after) = get(&router, stats).await;
    assert_eq!(status, StatusCode::OK, "{after}");
    assert!(Arc::ptr_eq(&kept, &state.estimate(&state.atlas()).await.unwrap()), "the newest estimate is served");
    assert!(!state.estimate_refreshing(), "no making within the interval");

    // Spaced by its own making: a short interval, but the next making waits a million times the
    // last one's, so a write right after an estimate starts none.
    let spaced = Limits { estimate_interval: Duration::from_nanos(1), estimate_share: 1_000_000, ..Limits::default() };
    let state = self::state(&f).await.with_limits(spaced);
    let router = as_center(app(state.clone()));
    let kept = state.estimate(&state.atlas()).await.unwrap();
    a_visit(&f, &router, 14).await;
    assert!(Arc::ptr_eq(&kept, &state.estimate(&state.atlas()).await.unwrap()), "the newest estimate is served");
    assert!(!state.estimate_refreshing(), "no making before its share allows");

    // A short interval: the newest estimate is served at once and one making starts off the
    // request path; once it ends, the estimate of the new data is served.
    let eager = Limits { estimate_interval: Duration::from_nanos(1), ..Limits::default() };
    let state = self::state(&f).await.with_limits(eager);
    let router = as_center(app(state.clone()));
    let kept = state.estimate(&state.atlas()).await.unwrap();
    a_visit(&f, &router, 13).await;
    assert!(Arc::ptr_eq(&kept, &state.estimate(&state.atlas()).await.unwrap()), "served at once from what was kept");
    while state.estimate_refreshing() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let fresh = state.estimate(&state.atlas()).await.unwrap();
    assert!(!Arc::ptr_eq(&kept, &fresh), "the making off the request path made the estimate of the new data");
    assert!(Arc::ptr_eq(&fresh, &state.estimate(&state.atlas()).await.unwrap()), "and it is kept");
    f.done().await;
}
