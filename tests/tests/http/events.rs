//! `GET /api/events` through the real router, on both stores: a caseworker's open stream first
//! says the data version now, then tells of a visit in their grid (the grid, the new version,
//! the tiles over it) and of nothing in another caseworker's grid; signed out, 401. Served on a
//! socket, an open stream ends when the server begins to stop, so the drain does not wait for it.

use crate::common::{Backend, Fixture, get, post_json, principal, signed_in};
use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use rentgrid_analysis::kpi::Targets;
use rentgrid_geodata::Caseworker;
use rentgrid_server::access::{Principal, Role};
use rentgrid_server::serve::{self, Connections};
use rentgrid_server::{app, startup};
use serde_json::{Value, json};
use std::time::Duration;
use tower::ServiceExt;

on_both_stores!(a_caseworker_hears_of_writes_in_their_grids_only, open_streams_end_when_the_server_stops,);

/// An open event stream: the response body, read event by event.
struct Stream {
    body: Body,
    buffer: String,
}

impl Stream {
    /// Opens `GET /api/events` on `router`, which must answer 200 with an event stream.
    async fn open(router: &Router) -> Stream {
        let res = router.clone().oneshot(Request::get("/api/events").body(Body::empty()).unwrap()).await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.headers()[header::CONTENT_TYPE], "text/event-stream");
        Stream { body: res.into_body(), buffer: String::new() }
    }

    /// The `data` of the next event, as JSON (keep-alive comments skipped).
    async fn next(&mut self) -> Value {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let data: Vec<&str> = block.lines().filter_map(|l| l.strip_prefix("data:")).map(str::trim).collect();
                if !data.is_empty() {
                    return serde_json::from_str(&data.join("\n")).unwrap();
                }
                continue;
            }
            let frame = self.body.frame().await.expect("the stream goes on").unwrap();
            if let Ok(bytes) = frame.into_data() {
                self.buffer.push_str(std::str::from_utf8(&bytes).unwrap());
            }
        }
    }
}

/// Two caseworkers whose grids both have buildings, with a building in a grid of each that
/// the other does not hold.
fn two_caseworkers(f: &Fixture, caseworkers: &[Caseworker]) -> [(u32, u32, u32); 2] {
    let atlas = f.atlas();
    let building_of = |c: &Caseworker, other: &Caseworker| {
        atlas
            .buildings()
            .iter()
            .find(|b| c.grids.contains(&b.grid_id) && !other.grids.contains(&b.grid_id))
            .map(|b| (b.id, b.grid_id))
    };
    for a in caseworkers {
        for b in caseworkers.iter().filter(|b| b.id != a.id) {
            if let (Some((ba, ga)), Some((bb, gb))) = (building_of(a, b), building_of(b, a)) {
                return [(a.id, ba, ga), (b.id, bb, gb)];
            }
        }
    }
    panic!("two caseworkers with buildings in grids of their own");
}

/// A visit to `building` that finds a new registered rental unit (so the counts change).
fn visit(building: u32, n: u32) -> String {
    json!({
        "client_id": format!("events-{n}"),
        "building_id": building,
        "new_units": [{ "label": format!("E-{n}"), "tenants": 2, "registered": true, "pledge_signed": true }],
    })
    .to_string()
}

/// The data version `GET /health` reports.
async fn version(router: &Router) -> u64 {
    get(router, "/health").await.1["atlas_version"].as_u64().unwrap()
}

async fn a_caseworker_hears_of_writes_in_their_grids_only(backend: Backend) {
    let f = Fixture::seeded(backend).await;
    let caseworkers = f.store.caseworkers().await.unwrap();
    let [(me, my_building, my_grid), (other, their_building, their_grid)] = two_caseworkers(&f, &caseworkers);
    let as_caseworker =
        |id: u32| signed_in(f.anonymous.clone(), Principal { caseworker: Some(id), ..principal(Role::Caseworker) });
    let (mine, theirs) = (as_caseworker(me), as_caseworker(other));

    // Signed out: 401, no stream.
    let (status, _) = get(&f.anonymous, "/api/events").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // First the version now, with nothing named: a client that knew another reloads everything.
    let mut stream = Stream::open(&mine).await;
    let first = stream.next().await;
    assert_eq!(first["kind"], "current", "{first}");
    assert_eq!(first["version"], version(&f.router).await);
    assert_eq!(first["grids"], Value::Null);

    // A visit in their grid: its grid, the new version and the grid tiles over it.
    let (s, body) = post_json(&mine, "/api/visits", &visit(my_building, 1)).await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    let after_mine = version(&f.router).await;
    let event = stream.next().await;
    assert_eq!(event["kind"], "change", "{event}");
    assert_eq!(event["version"], after_mine);
    assert_eq!(event["grids"], json!([my_grid]));
    let tiles = event["tiles"].as_array().unwrap();
    let grid_tiles = tiles.iter().find(|t| t["layer"] == "grids").expect("the grid's tiles");
    assert!(!grid_tiles["ranges"].as_array().unwrap().is_empty(), "{event}");
    assert!(tiles.iter().any(|t| t["layer"] == "buildings"), "{event}");

    // A visit in the other caseworker's grid, then one in theirs again: the next event they
    // hear is their own (the other was never sent to them).
    let (s, body) = post_json(&theirs, "/api/visits", &visit(their_building, 2)).await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    let (s, body) = post_json(&mine, "/api/visits", &visit(my_building, 3)).await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    let now = version(&f.router).await;
    assert_eq!(now, after_mine + 2, "two more writes");
    let event = stream.next().await;
    assert_eq!((event["version"].as_u64(), &event["grids"]), (Some(now), &json!([my_grid])), "{event}");
    assert_ne!(my_grid, their_grid);

    // The command center hears of every grid.
    let mut center = Stream::open(&f.router).await;
    assert_eq!(center.next().await["version"], now);
    let (s, body) = post_json(&theirs, "/api/visits", &visit(their_building, 4)).await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    assert_eq!(center.next().await["grids"], json!([their_grid]));

    // A hazard recorded in the other caseworker's grid, then one in theirs: the next event they
    // hear is their own case's, at the same version (no figure moved); a replay tells no one.
    let hazard = |client: &str| json!({ "client_id": client, "kind": "gas", "severity": "minor" }).to_string();
    let (s, body) = post_json(&theirs, &format!("/api/buildings/{their_building}/hazards"), &hazard("hz-1")).await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    let at = format!("/api/buildings/{my_building}/hazards");
    let (s, body) = post_json(&mine, &at, &hazard("hz-2")).await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    assert_eq!(post_json(&mine, &at, &hazard("hz-2")).await.0, StatusCode::OK);
    let event = stream.next().await;
    assert_eq!(event["kind"], "hazards", "{event}");
    assert_eq!((event["version"].as_u64(), &event["grids"]), (Some(now + 1), &json!([my_grid])), "{event}");
    // A move of the case too; then a visit, whose change is the next event (the replay was not).
    let id = body["hazard"]["id"].as_u64().unwrap();
    let rectified = json!({ "client_id": "hz-3" }).to_string();
    assert_eq!(post_json(&mine, &format!("/api/hazards/{id}/rectified"), &rectified).await.0, StatusCode::OK);
    assert_eq!(stream.next().await["kind"], "hazards");
    let (s, body) = post_json(&mine, "/api/visits", &visit(my_building, 5)).await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    assert_eq!(stream.next().await["kind"], "change");
    drop((stream, center));
    f.done().await;
}

async fn open_streams_end_when_the_server_stops(backend: Backend) {
    let f = Fixture::seeded(backend).await;
    let state = startup::state_for(f.store.clone(), Targets::default(), None).await.unwrap();
    let router = signed_in(app(state.clone()), principal(Role::Center));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    // The drain would wait an hour for a request still in flight.
    let connections = Connections { drain: Duration::from_secs(3600), ..Connections::default() };
    let events = state.events().clone();
    let server = tokio::spawn(async move {
        let shutdown = events.close_after(async {
            let _ = stopped.await;
        });
        serve::serve(listener, router, connections, shutdown).await
    });

    // A client on a socket of its own (blocking reads, on a thread of their own).
    let (opened, open) = std::sync::mpsc::channel::<String>();
    let client = tokio::task::spawn_blocking(move || {
        use std::io::{Read, Write};
        let mut socket = std::net::TcpStream::connect(addr).unwrap();
        socket.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        socket.write_all(b"GET /api/events HTTP/1.1\r\nHost: test\r\n\r\n").unwrap();
        let mut said = Vec::new();
        let mut chunk = [0u8; 4096];
        while !String::from_utf8_lossy(&said).contains("\"kind\":\"current\"") {
            let n = socket.read(&mut chunk).unwrap();
            assert!(n > 0, "the stream ended before its first event: {}", String::from_utf8_lossy(&said));
            said.extend_from_slice(&chunk[..n]);
        }
        opened.send(String::from_utf8_lossy(&said).into_owned()).unwrap();
        // Then to its end: a read that times out (the stream stayed open) fails the test.
        socket.read_to_end(&mut said).map(|_| ())
    });
    let head = tokio::task::spawn_blocking(move || open.recv().unwrap()).await.unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");

    // At the signal the stream ends (the connection closes) and the server returns.
    stop.send(()).unwrap();
    let ended = client.await.unwrap();
    assert!(ended.is_ok(), "the stream stayed open after the shutdown signal: {ended:?}");
    let served = tokio::time::timeout(Duration::from_secs(60), server).await;
    assert!(matches!(served, Ok(Ok(Ok(())))), "the server did not stop: {served:?}");
    f.done().await;
}
