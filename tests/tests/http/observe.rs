//! What operators see, through the real router: `GET /metrics` read by an outside parser
//! (Python's `prometheus_client`, run by `$RENTGRID_PYTHON`) after known requests, on both
//! stores; who may scrape it; and the request id every answer carries, quoted by every error body.

use crate::common::{Backend, Db, Fixture, post_json, principal, signed_in, tile_at};
use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use rentgrid_server::access::Role;
use serde_json::Value;
use std::collections::BTreeSet;
use tower::ServiceExt;

on_both_stores!(metrics_count_what_was_asked_and_report_the_server, a_scrape_answers_while_the_store_is_away);

/// One sample as the outside parser read it.
#[derive(Debug, Clone)]
struct Sample {
    family: String,
    kind: String,
    name: String,
    labels: serde_json::Map<String, Value>,
    value: f64,
}

/// Reads Prometheus text with Python's `prometheus_client` parser: every sample with its family's
/// name and type. A missing parser fails the test unless the run says `RENTGRID_SKIP_ORACLES=1`
/// (then `None`).
fn parse_with_python(text: &str, dir: &std::path::Path) -> Option<Vec<Sample>> {
    let python = std::env::var("RENTGRID_PYTHON").unwrap_or_else(|_| "python3".into());
    let found = std::process::Command::new(&python).args(["-c", "import prometheus_client.parser"]).output();
    if !found.as_ref().is_ok_and(|o| o.status.success()) {
        assert!(
            std::env::var("RENTGRID_SKIP_ORACLES").as_deref() == Ok("1"),
            "prometheus_client does not run with {python}: run scripts/ensure-python and set RENTGRID_PYTHON, or \
             say RENTGRID_SKIP_ORACLES=1"
        );
        eprintln!("the prometheus_client parser skipped (RENTGRID_SKIP_ORACLES=1)");
        return None;
    }
    let file = dir.join("metrics.txt");
    std::fs::write(&file, text).unwrap();
    let script = "import json, sys\n\
        from prometheus_client.parser import text_string_to_metric_families\n\
        out = [dict(family=f.name, kind=f.type, name=s.name, labels=s.labels, value=s.value)\n\
               for f in text_string_to_metric_families(open(sys.argv[1], encoding='utf-8').read()) for s in f.samples]\n\
        print(json.dumps(out))";
    let out = std::process::Command::new(&python).args(["-c", script]).arg(&file).output().unwrap();
    assert!(
        out.status.success(),
        "prometheus_client rejects /metrics: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    let parsed: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    Some(
        parsed
            .into_iter()
            .map(|s| Sample {
                family: s["family"].as_str().unwrap().to_owned(),
                kind: s["kind"].as_str().unwrap().to_owned(),
                name: s["name"].as_str().unwrap().to_owned(),
                labels: s["labels"].as_object().unwrap().clone(),
                value: s["value"].as_f64().unwrap(),
            })
            .collect(),
    )
}

/// The value of sample `name` whose labels include `labels` (0 when there is none: a counter
/// not yet counted).
fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .find(|s| s.name == name && labels.iter().all(|(k, v)| s.labels.get(*k).and_then(Value::as_str) == Some(*v)))
        .map_or(0.0, |s| s.value)
}

/// The text `/metrics` answers the system administrator, with its content type.
async fn scrape(router: &Router) -> (String, String) {
    let res = router.clone().oneshot(Request::get("/metrics").body(Body::empty()).unwrap()).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let kind = res.headers()[header::CONTENT_TYPE].to_str().unwrap().to_owned();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    (String::from_utf8(bytes.to_vec()).unwrap(), kind)
}

async fn status_of(router: &Router, uri: &str) -> StatusCode {
    router.clone().oneshot(Request::get(uri).body(Body::empty()).unwrap()).await.unwrap().status()
}

async fn metrics_count_what_was_asked_and_report_the_server(backend: Backend) {
    let f = Fixture::seeded(backend).await;
    let sysadmin = signed_in(f.anonymous.clone(), principal(Role::Sysadmin));
    let grid = f.atlas().grids()[0].grid.id;
    let b = &f.atlas().buildings()[0];
    let (z, x, y) = tile_at(b.point.x(), b.point.y(), 14);
    let tile = format!("/tiles/buildings/{z}/{x}/{y}.mvt");

    let (before, _) = scrape(&sysadmin).await;
    let Some(before) = parse_with_python(&before, f.dir.path()) else { return f.done().await };
    let ok = [("method", "GET"), ("route", "/api/grids/{id}"), ("status", "200")];
    let missing = [("method", "GET"), ("route", "/api/grids/{id}"), ("status", "404")];
    for _ in 0..3 {
        assert_eq!(status_of(&f.router, &format!("/api/grids/{grid}")).await, StatusCode::OK);
    }
    for _ in 0..2 {
        assert_eq!(status_of(&f.router, "/api/grids/999999").await, StatusCode::NOT_FOUND);
    }
    assert_eq!(status_of(&f.anonymous, &format!("/api/grids/{grid}")).await, StatusCode::UNAUTHORIZED);
    assert_eq!(status_of(&f.router, "/no/such/page/12345").await, StatusCode::NOT_FOUND);
    for _ in 0..2 {
        assert!(status_of(&f.router, &tile).await.is_success());
    }
    let (text, kind) = scrape(&sysadmin).await;
    assert!(kind.starts_with("text/plain; version=0.0.4"), "{kind}");
    let after = parse_with_python(&text, f.dir.path()).unwrap();
    let counted = |s: &[Sample], labels: &[(&str, &str)]| value(s, "rentgrid_http_requests_total", labels);
    assert_eq!(counted(&after, &ok) - counted(&before, &ok), 3.0, "{text}");
    assert_eq!(counted(&after, &missing) - counted(&before, &missing), 2.0, "{text}");
    let refused = [("route", "/api/grids/{id}"), ("status", "401")];
    assert_eq!(counted(&after, &refused) - counted(&before, &refused), 1.0, "the policy's 401 is counted: {text}");
    assert_eq!(counted(&after, &[("route", "(unmatched)"), ("status", "404")]), 1.0, "{text}");
    // The families are of the types Prometheus expects, and the histogram counts what the counter does.
    let kind_of = |family: &str| after.iter().find(|s| s.family == family).map(|s| s.kind.clone());
    assert_eq!(kind_of("rentgrid_http_requests").as_deref(), Some("counter"));
    assert_eq!(kind_of("rentgrid_http_request_duration_seconds").as_deref(), Some("histogram"));
    let buckets: Vec<&Sample> = after
        .iter()
        .filter(|s| s.name == "rentgrid_http_request_duration_seconds_bucket" && s.labels["route"] == "/api/grids/{id}")
        .filter(|s| s.labels["status"] == "200")
        .collect();
    assert!(buckets.len() > 10, "{buckets:?}");
    assert_eq!(buckets.iter().find(|s| s.labels["le"] == "+Inf").map(|s| s.value), Some(3.0));
    assert_eq!(value(&after, "rentgrid_http_request_duration_seconds_count", &ok), 3.0);
    assert!(value(&after, "rentgrid_http_request_duration_seconds_sum", &ok) > 0.0);
    // Routes are templates or one label for the rest: no request's own path becomes a series.
    let routes: BTreeSet<&str> = after
        .iter()
        .filter_map(|s| s.labels.get("route").and_then(Value::as_str))
        .filter(|r| *r != "(unmatched)")
        .collect();
    for r in &routes {
        assert!(rentgrid_server::access::policy::TABLE.iter().any(|rule| rule.path == *r), "route label {r:?}");
    }
    let labels: Vec<&str> = after.iter().flat_map(|s| s.labels.values()).filter_map(Value::as_str).collect();
    assert!(!labels.iter().any(|l| l.contains("999999") || l.contains("12345")), "{labels:?}");

    // The tile: built once (a miss), then served from the cache (a hit).
    let tiles = |s: &[Sample], name: &str| value(s, name, &[]);
    assert_eq!(
        tiles(&after, "rentgrid_tile_cache_misses_total") - tiles(&before, "rentgrid_tile_cache_misses_total"),
        1.0
    );
    assert_eq!(tiles(&after, "rentgrid_tile_cache_hits_total") - tiles(&before, "rentgrid_tile_cache_hits_total"), 1.0);
    assert!(tiles(&after, "rentgrid_tile_cache_tiles") >= 1.0);
    // The Atlas, the store, the audit log, the write queue.
    assert_eq!(value(&after, "rentgrid_atlas_version", &[]), f.atlas().version() as f64);
    let built = value(&after, "rentgrid_atlas_build_timestamp_seconds", &[]);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64();
    assert!(built > now - 600.0 && built <= now, "{built} vs {now}");
    let store = match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgis => "postgis",
    };
    assert_eq!(value(&after, "rentgrid_store_up", &[("store", store)]), 1.0);
    assert!(value(&after, "rentgrid_db_connections_max", &[("store", store)]) >= 1.0);
    let in_use = value(&after, "rentgrid_db_connections", &[("store", store), ("state", "in_use")]);
    let idle = value(&after, "rentgrid_db_connections", &[("store", store), ("state", "idle")]);
    assert!(in_use >= 0.0 && idle >= 0.0 && in_use + idle >= 1.0, "{in_use} in use, {idle} idle");
    let audit_rows = f.db.int("SELECT COUNT(*) FROM audit_log").await as f64;
    assert_eq!(value(&after, "rentgrid_audit_rows_total", &[]), audit_rows);
    assert_eq!(value(&after, "rentgrid_write_queue_depth", &[]), 0.0);

    // A visit, then the same submission again (answered as before, a replay): each is stored and
    // applied, and waits for its turn, each phase timed once per write.
    let visit = format!(r#"{{"client_id":"metrics-1","building_id":{}}}"#, b.id);
    assert_eq!(post_json(&f.router, "/api/visits", &visit).await.0, StatusCode::CREATED);
    assert_eq!(post_json(&f.router, "/api/visits", &visit).await.0, StatusCode::OK);
    let (text, _) = scrape(&sysadmin).await;
    let written = parse_with_python(&text, f.dir.path()).unwrap();
    let timed = |s: &[Sample], phase: &str| value(s, "rentgrid_write_duration_seconds_count", &[("phase", phase)]);
    assert_eq!(
        written.iter().find(|s| s.family == "rentgrid_write_duration_seconds").map(|s| s.kind.as_str()),
        Some("histogram")
    );
    for phase in ["store", "apply"] {
        assert_eq!(timed(&written, phase) - timed(&after, phase), 2.0, "{phase}: {text}");
        assert!(value(&written, "rentgrid_write_duration_seconds_sum", &[("phase", phase)]) > 0.0, "{text}");
    }
    assert!(timed(&written, "wait") - timed(&after, "wait") >= 2.0, "{text}");
    // Sent one after the other, each visit is a commit of its own.
    let commits = |s: &[Sample], what: &str| value(s, &format!("rentgrid_visits_per_commit_{what}"), &[]);
    assert_eq!(commits(&written, "count") - commits(&after, "count"), 2.0, "{text}");
    assert_eq!(commits(&written, "sum") - commits(&after, "sum"), 2.0, "{text}");
    f.done().await;
}

/// The database goes away: the scrape still answers, saying so (`store_up` 0, no audit rows).
async fn a_scrape_answers_while_the_store_is_away(backend: Backend) {
    let f = Fixture::seeded(backend).await;
    let sysadmin = signed_in(f.anonymous.clone(), principal(Role::Sysadmin));
    let (up, _) = scrape(&sysadmin).await;
    assert!(up.contains("rentgrid_audit_rows_total ") && up.contains("rentgrid_store_up{"), "{up}");
    match &f.db {
        Db::Sqlite(p) => p.close().await,
        Db::Postgis(p) => p.close().await,
    }
    let (text, _) = scrape(&sysadmin).await;
    let Some(samples) = parse_with_python(&text, f.dir.path()) else { return f.done().await };
    let store_up: Vec<f64> = samples.iter().filter(|s| s.name == "rentgrid_store_up").map(|s| s.value).collect();
    assert_eq!(store_up, [0.0], "{text}");
    assert!(!samples.iter().any(|s| s.family == "rentgrid_audit_rows"), "{text}");
    assert!(value(&samples, "rentgrid_http_requests_total", &[("route", "/metrics"), ("status", "200")]) >= 1.0);
    f.done().await;
}

#[tokio::test]
async fn only_the_system_administrator_and_the_auditor_may_scrape() {
    let f = Fixture::seeded(Backend::Sqlite).await;
    let res = f.anonymous.clone().oneshot(Request::get("/metrics").body(Body::empty()).unwrap()).await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(res.headers().contains_key(header::WWW_AUTHENTICATE));
    for role in Role::ALL {
        let expected =
            if matches!(role, Role::Sysadmin | Role::Auditor) { StatusCode::OK } else { StatusCode::FORBIDDEN };
        assert_eq!(status_of(&signed_in(f.anonymous.clone(), principal(role)), "/metrics").await, expected, "{role}");
    }
    f.done().await;
}

/// Sends a GET with `x-request-id: sent` (raw bytes) if given: the status, the id answered in
/// the header, and the body as JSON (`Null` if it is not).
async fn ask(router: &Router, uri: &str, sent: Option<&[u8]>) -> (StatusCode, String, Value) {
    let mut req = Request::get(uri);
    if let Some(sent) = sent {
        req = req.header("x-request-id", axum::http::HeaderValue::from_bytes(sent).unwrap());
    }
    let res = router.clone().oneshot(req.body(Body::empty()).unwrap()).await.unwrap();
    let status = res.status();
    let ids: Vec<String> =
        res.headers().get_all("x-request-id").iter().map(|v| v.to_str().unwrap().to_owned()).collect();
    assert_eq!(ids.len(), 1, "{uri}: one x-request-id, not {ids:?}");
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    (status, ids[0].clone(), serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

fn is_uuid(id: &str) -> bool {
    let parts: Vec<usize> = id.split('-').map(str::len).collect();
    parts == [8, 4, 4, 4, 12] && id.chars().all(|c| c == '-' || c.is_ascii_hexdigit())
}

#[tokio::test]
async fn every_answer_carries_a_request_id_that_its_error_body_quotes() {
    let f = Fixture::seeded(Backend::Sqlite).await;
    // A success and errors of several makers (a handler, the policy, an unknown path, a refused method).
    let (status, ok_id, _) = ask(&f.router, "/api/district", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(is_uuid(&ok_id), "{ok_id}");
    for (router, uri, expected) in [
        (&f.router, "/api/grids/999999", StatusCode::NOT_FOUND),
        (&f.router, "/api/grids/seven", StatusCode::BAD_REQUEST),
        (&f.anonymous, "/api/district", StatusCode::UNAUTHORIZED),
        (&f.router, "/api/no-such-endpoint", StatusCode::NOT_FOUND),
    ] {
        let (status, id, body) = ask(router, uri, None).await;
        assert_eq!(status, expected, "{uri}: {body}");
        assert!(is_uuid(&id) && id != ok_id, "{uri}: {id}");
        assert_eq!(body["request_id"], id.as_str(), "{uri}: {body}");
        assert!(body["code"].is_string() && body["message"].is_string(), "{body}");
    }
    let trace = Request::builder().method("TRACE").uri("/").body(Body::empty()).unwrap();
    let res = f.router.clone().oneshot(trace).await.unwrap();
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
    let id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    let body: Value = serde_json::from_slice(&res.into_body().collect().await.unwrap().to_bytes()).unwrap();
    assert_eq!(body["request_id"], id.as_str());

    // A well-formed id the client sent is kept, on a success and in an error body.
    for sent in ["client-id-1", "0b5e2c9e-54b5-4f9b-9d7a-2f0c6c1d2e3f", "trace:span.7_x", &"a".repeat(64)] {
        let (_, id, _) = ask(&f.router, "/api/district", Some(sent.as_bytes())).await;
        assert_eq!(id, sent);
        let (status, id, body) = ask(&f.router, "/api/grids/999999", Some(sent.as_bytes())).await;
        assert_eq!((status, id.as_str()), (StatusCode::NOT_FOUND, sent));
        assert_eq!(body["request_id"], sent);
    }
    // One that is not (too long, empty, a tab, a space, a quote, bytes beyond ASCII) is replaced.
    let long = "b".repeat(65);
    for sent in [long.as_bytes(), b"", b"a\tb", b"a b", b"a\"b", "编号".as_bytes(), b"id\xff"] {
        let (_, id, body) = ask(&f.router, "/api/grids/999999", Some(sent)).await;
        assert!(is_uuid(&id), "{sent:?} answered {id}");
        assert_eq!(body["request_id"], id.as_str());
    }
    f.done().await;
}
