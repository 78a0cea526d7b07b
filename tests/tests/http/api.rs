//! The HTTP API over the embedded store, driven through the real router with `oneshot`:
//! consistency of KPIs across levels, bad input, and visits (idempotent, all-or-nothing).

use crate::common::{Backend, Db, Fixture, get, post_json, send};
use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use rentgrid_geodata::AtlasInput;
use rentgrid_geodata::demo::DemoOptions;
use rentgrid_server::startup;
use rentgrid_server::store::{AuditEvent, NewUnit, NewVisit};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use tower::ServiceExt;

on_both_stores!(
    grid_kpis_sum_to_community_street_and_district_totals,
    what_the_store_loads_is_what_was_saved,
    bad_requests_get_a_4xx_with_a_message,
    a_visit_updates_the_map_at_once_and_a_replay_changes_nothing,
    a_visit_sent_at_once_through_two_servers_is_recorded_once,
    a_rejected_visit_applies_nothing_of_itself,
    visits_sent_together_are_committed_together_each_on_its_own,
    buildings_in_a_box_and_by_id,
    an_import_through_the_api_updates_the_map_at_once,
    building_footprints_through_the_api_land_in_their_grid,
    person_records_are_masked_unless_revealed_with_a_reason,
    person_exports_are_masked_scoped_and_audited,
    every_answer_carries_the_security_headers,
    the_probes_say_live_and_ready_and_not_ready_without_a_store,
);

const COUNTS: [&str; 8] = [
    "buildings",
    "rental_units",
    "rental_units_registered",
    "pledges_signed",
    "persons",
    "persons_registered",
    "persons_with_permit",
    "persons_consistent",
];

fn n(v: &Value, k: &str) -> u64 {
    v[k].as_u64().unwrap_or_else(|| panic!("{k} missing in {v}"))
}

/// Asserts an error response: the status, a stable code and a message that mentions `hint`.
fn assert_error(res: &(StatusCode, Value), status: StatusCode, hint: &str) {
    assert_eq!(res.0, status, "{}", res.1);
    assert!(res.1["code"].is_string(), "no code in {}", res.1);
    let msg = res.1["message"].as_str().unwrap_or_default();
    assert!(msg.contains(hint), "message {msg:?} does not mention {hint:?}");
}

async fn grid_kpis_sum_to_community_street_and_district_totals(backend: Backend) {
    let f = Fixture::seeded(backend).await;
    let (status, grids) = get(&f.router, "/api/grids").await;
    assert_eq!(status, StatusCode::OK);
    let features = grids["features"].as_array().unwrap();
    assert!(features.len() >= 280, "{} grids", features.len());
    let mut by_street: BTreeMap<String, BTreeMap<&str, u64>> = BTreeMap::new();
    let mut by_community: BTreeMap<String, BTreeMap<&str, u64>> = BTreeMap::new();
    for f in features {
        let p = &f["properties"];
        assert_eq!(f["id"], p["id"]);
        for k in COUNTS {
            *by_street.entry(p["street_code"].as_str().unwrap().into()).or_default().entry(k).or_default() += n(p, k);
            *by_community.entry(p["community_code"].as_str().unwrap().into()).or_default().entry(k).or_default() +=
                n(p, k);
        }
        // The rate is the ratio of the counts shown beside it.
        if n(p, "persons") > 0 {
            let r = n(p, "persons_registered") as f64 / n(p, "persons") as f64;
            assert!((p["reg_rate"].as_f64().unwrap() - r).abs() < 1e-12);
            assert!(p["reg_rate_low"].as_f64().unwrap() <= r && r <= p["reg_rate_high"].as_f64().unwrap());
        } else {
            assert!(p["reg_rate"].is_null() && p["reg_status"] == "none");
        }
    }
    for (level, sums) in [("street", &by_street), ("community", &by_community)] {
        let (status, stats) = get(&f.router, &format!("/api/stats?level={level}")).await;
        assert_eq!(status, StatusCode::OK);
        let rows = stats["rows"].as_array().unwrap();
        assert_eq!(rows.len(), sums.len(), "{level} rows");
        for row in rows {
            let code = row["code"].as_str().unwrap();
            for k in COUNTS {
                assert_eq!(n(row, k), sums[code][k], "{level} {code} {k}");
            }
        }
    }
    let (_, district) = get(&f.router, "/api/stats?level=district").await;
    let d = &district["rows"][0];
    for k in COUNTS {
        let total: u64 = by_street.values().map(|s| s[k]).sum();
        assert_eq!(n(d, k), total, "district {k}");
    }
    assert_eq!(d["code"], "330203");
    assert_eq!(district["targets"]["reg_rate"], 0.9);
    f.done().await;
}

async fn what_the_store_loads_is_what_was_saved(backend: Backend) {
    let f = Fixture::empty(backend).await;
    let store = f.store.as_ref();
    let opts = DemoOptions { scale: 0.05, seed: 3, ..Default::default() };
    let city = startup::seed_demo(store, &opts, &mut |_, _| {}, &|_, _, _| {}).await.unwrap();
    let loaded = store.load_atlas_input().await.unwrap();
    let expected = AtlasInput::from_city(&city);
    assert!(loaded.grids == expected.grids, "grid geometry changed in the store");
    assert_eq!(loaded.buildings, expected.buildings);
    assert_eq!(loaded.building_stats, expected.building_stats);
    assert_eq!(loaded.communities, expected.communities);
    assert_eq!(loaded.streets, expected.streets);
    assert_eq!(loaded.roads, expected.roads);
    assert_eq!(loaded.workplaces, expected.workplaces);
    assert_eq!(loaded.district, expected.district);
    // A second seed into the same store is refused and changes nothing.
    let again = startup::seed_demo(store, &opts, &mut |_, _| {}, &|_, _, _| {}).await;
    assert!(again.is_err());
    assert_eq!(store.load_atlas_input().await.unwrap().building_stats, expected.building_stats);
    f.done().await;
}

async fn bad_requests_get_a_4xx_with_a_message(backend: Backend) {
    let f = Fixture::seeded(backend).await;
    let r = &f.router;
    for bbox in ["1,2,3", "a,b,c,d", "121.6,29.8,121.5,29.9", "200,0,201,1", "1,2,3,inf"] {
        assert_error(&get(r, &format!("/api/buildings?bbox={bbox}")).await, StatusCode::BAD_REQUEST, "bbox");
    }
    assert_error(&get(r, "/api/buildings").await, StatusCode::BAD_REQUEST, "bbox is required");
    assert_error(&get(r, "/api/buildings?bbox=121,29,122,30&limit=0").await, StatusCode::BAD_REQUEST, "limit");
    assert_error(&get(r, "/api/buildings?bbox=121,29,122,30&limit=x").await, StatusCode::BAD_REQUEST, "limit");
    assert_error(&get(r, "/api/grids/999999").await, StatusCode::NOT_FOUND, "grid 999999");
    assert_error(&get(r, "/api/grids/abc").await, StatusCode::BAD_REQUEST, "not a whole number");
    assert_error(&get(r, "/api/buildings/4000000000").await, StatusCode::NOT_FOUND, "building");
    assert_error(&get(r, "/api/stats?level=planet").await, StatusCode::BAD_REQUEST, "level");
    assert_error(&get(r, "/api/nothing-here").await, StatusCode::NOT_FOUND, "/api/nothing-here");
    assert_error(&post_json(r, "/api/visits", "{not json").await, StatusCode::BAD_REQUEST, "JSON");
    assert_error(&post_json(r, "/api/visits", "").await, StatusCode::BAD_REQUEST, "");
    let plain = Request::post("/api/visits").body(Body::from("{}")).unwrap();
    assert_error(&send(r, plain).await, StatusCode::UNSUPPORTED_MEDIA_TYPE, "Content-Type");
    assert_error(
        &post_json(r, "/api/visits", r#"{"building_id":1}"#).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "client_id",
    );
    assert_error(
        &post_json(r, "/api/visits", r#"{"client_id":"a","building_id":1,"colour":"red"}"#).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "colour",
    );
    assert_error(
        &post_json(r, "/api/visits", r#"{"client_id":"a","building_id":-1}"#).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "building_id",
    );
    assert_error(
        &post_json(r, "/api/visits", r#"{"client_id":"a b","building_id":1}"#).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "client_id",
    );
    assert_error(
        &post_json(r, "/api/visits", r#"{"client_id":"a","building_id":99999999}"#).await,
        StatusCode::NOT_FOUND,
        "building 99999999",
    );
    assert_error(
        &post_json(r, "/api/visits", r#"{"client_id":"a","building_id":1,"visited_on":"2999-01-01"}"#).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "future",
    );
    assert_error(
        &post_json(r, "/api/visits", r#"{"client_id":"a","building_id":1,"visited_on":"31/12/2025"}"#).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "YYYY-MM-DD",
    );
    assert_error(
        &post_json(
            r,
            "/api/visits",
            r#"{"client_id":"a","building_id":1,"new_units":[{"label":"1","tenants":2,"pledge_signed":true}]}"#,
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "registered",
    );
    // None of these recorded anything.
    assert_eq!(f.db.int("SELECT COUNT(*) FROM visits WHERE client_id = 'a'").await, 0);
    f.done().await;
}

/// A building holding a known but unregistered person, that person, and the building's grid.
async fn unregistered_person(db: &Db) -> (u32, u32, u32) {
    let (person, building, grid) = db
        .ints3(
            "SELECT CAST(p.id AS BIGINT), CAST(p.building_id AS BIGINT), CAST(b.grid_id AS BIGINT) \
             FROM persons p JOIN buildings b ON b.id = p.building_id WHERE NOT p.registered ORDER BY p.id LIMIT 1",
        )
        .await;
    (person as u32, building as u32, grid as u32)
}

async fn a_visit_updates_the_map_at_once_and_a_replay_changes_nothing(backend: Backend) {
    let f = Fixture::seeded(backend).await;
    let r = &f.router;
    let (person, building, grid) = unregistered_person(&f.db).await;
    let (_, before) = get(r, &format!("/api/grids/{grid}")).await;
    let (_, district_before) = get(r, "/api/stats?level=district").await;
    let body = json!({
        "client_id": "3f1c2a9e-0000-4000-8000-000000000001",
        "building_id": building,
        "visited_on": "2026-11-02",
        "register_persons": [person],
        "new_units": [{ "label": "9-901", "tenants": 3, "registered": true, "pledge_signed": true }],
        "notes": "发现一户未登记出租户，当场登记",
    })
    .to_string();
    let (status, created) = post_json(r, "/api/visits", &body).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["replayed"], false);
    assert_eq!(created["visit"]["units_found"], 1);
    assert_eq!(created["visit"]["persons_found"], 3);
    assert_eq!(created["grid"]["grid_id"], grid);

    let (_, after) = get(r, &format!("/api/grids/{grid}")).await;
    let (b, a) = (&before["properties"], &after["properties"]);
    assert_eq!(n(a, "persons_registered"), n(b, "persons_registered") + 1);
    assert_eq!(n(a, "persons_consistent"), n(b, "persons_consistent") + 1);
    assert_eq!(n(a, "rental_units"), n(b, "rental_units") + 1);
    assert_eq!(n(a, "rental_units_registered"), n(b, "rental_units_registered") + 1);
    assert_eq!(n(a, "pledges_signed"), n(b, "pledges_signed") + 1);
    assert!(a["reg_rate"].as_f64().unwrap() > b["reg_rate"].as_f64().unwrap());
    assert_eq!(created["grid"]["persons_registered"], a["persons_registered"]);

    // The same submission again (a retry after a dropped connection): 200, nothing changes.
    let (status, replay) = post_json(r, "/api/visits", &body).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(replay["replayed"], true);
    assert_eq!(replay["visit"]["id"], created["visit"]["id"]);
    let (_, again) = get(r, &format!("/api/grids/{grid}")).await;
    assert_eq!(again, after);
    // The same client id for different content is a conflict, and changes nothing either.
    let other = body.replace("当场登记", "改了内容");
    assert_error(&post_json(r, "/api/visits", &other).await, StatusCode::CONFLICT, "client_id");
    assert_eq!(get(r, &format!("/api/grids/{grid}")).await.1, after);

    // The district moved by exactly the same amounts.
    let (_, district_after) = get(r, "/api/stats?level=district").await;
    let (db, da) = (&district_before["rows"][0], &district_after["rows"][0]);
    assert_eq!(n(da, "persons_registered"), n(db, "persons_registered") + 1);
    assert_eq!(n(da, "rental_units"), n(db, "rental_units") + 1);

    // It is in the store: a fresh start from the same data sees it.
    let (_, reloaded) = get(&f.router_now().await, &format!("/api/grids/{grid}")).await;
    assert_eq!(reloaded["properties"], after["properties"]);
    f.done().await;
}

/// A phone's retry may reach another server behind the proxy while its first submission is still
/// being written. The same visit sent at once, four times through each of two stores on one
/// database (each with its own connections and in-process locks), is recorded once: one answer
/// records it and seven replay it, and the store holds one visit, one unit found, and one audit
/// row naming the visit for each submission, seven of them `replayed`.
async fn a_visit_sent_at_once_through_two_servers_is_recorded_once(backend: Backend) {
    let f = Fixture::seeded(backend).await;
    let stores = [f.store.clone(), f.another_store().await];
    let building = f.db.int("SELECT MIN(CAST(id AS BIGINT)) FROM buildings").await as u32;
    let visit = NewVisit {
        client_id: "3f1c2a9e-0000-4000-8000-00000000c0c0".into(),
        building_id: building,
        caseworker_id: None,
        visited_on: time::macros::date!(2026 - 11 - 02),
        notes: "sent twice at once".into(),
        register_units: Vec::new(),
        pledge_units: Vec::new(),
        register_persons: Vec::new(),
        new_units: vec![NewUnit { label: "c0-c0".into(), tenants: 2, registered: true, pledge_signed: false }],
        campaign_id: None,
        position: None,
    };
    let sent: Vec<_> = (0..8)
        .map(|i| {
            let (store, visit) = (stores[i % 2].clone(), visit.clone());
            tokio::spawn(async move {
                let event = AuditEvent::new(time::OffsetDateTime::now_utc(), "record visit", "a retry", "ok");
                store.record_visit(&visit, &event).await
            })
        })
        .collect();
    let mut outcomes = Vec::new();
    for s in sent {
        outcomes.push(s.await.unwrap().unwrap_or_else(|e| panic!("a submission failed: {e}")));
    }
    assert_eq!(outcomes.iter().filter(|o| !o.replayed).count(), 1, "one submission records the visit");
    let id = outcomes[0].visit.id;
    assert!(outcomes.iter().all(|o| o.visit.id == id), "every answer names the one visit");
    let stored = format!("SELECT COUNT(*) FROM visits WHERE client_id = '{}'", visit.client_id);
    assert_eq!(f.db.int(&stored).await, 1);
    assert_eq!(f.db.int("SELECT COUNT(*) FROM rental_units WHERE label = 'c0-c0'").await, 1);
    let audited = format!("SELECT COUNT(*) FROM audit_log WHERE target = 'a retry visit {id}'");
    assert_eq!(f.db.int(&audited).await, 8);
    assert_eq!(f.db.int(&format!("{audited} AND outcome = 'replayed'")).await, 7);
    drop(stores);
    f.done().await;
}

/// Visits sent at once are committed together (group commit: one transaction for the visits
/// waiting at a turn of the write lock), each in a savepoint of its own: among sixteen visits
/// to sixteen buildings, each finding a unit, one naming a unit of another building (refused)
/// and one sent twice, every other visit is recorded and acknowledged, the refused one leaves
/// nothing (no visit, no unit, no audit row), the one sent twice is recorded once and replayed
/// once, the map counts each recorded visit, and the audit chain holds. The histogram of visits
/// per commit shows fewer commits than visits.
async fn visits_sent_together_are_committed_together_each_on_its_own(backend: Backend) {
    let f = Fixture::seeded(backend).await;
    let state = f.state().clone();
    let commits = |text: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix("rentgrid_visits_per_commit_count "))
            .map_or(0.0, |v| v.trim().parse::<f64>().unwrap())
    };
    let commits_before = commits(&state.metrics().render(&state.readings(None)).unwrap());
    let buildings = f.db.ints("SELECT CAST(id AS BIGINT) FROM buildings ORDER BY id LIMIT 16").await;
    let foreign_unit =
        f.db.int(&format!("SELECT CAST(MIN(id) AS BIGINT) FROM rental_units WHERE building_id <> {}", buildings[3]))
            .await as u32;
    let visit_to = |i: usize, client_id: String| NewVisit {
        client_id,
        building_id: buildings[i] as u32,
        caseworker_id: None,
        visited_on: time::macros::date!(2026 - 11 - 03),
        notes: String::new(),
        register_units: if i == 3 { vec![foreign_unit] } else { Vec::new() },
        pledge_units: Vec::new(),
        register_persons: Vec::new(),
        new_units: vec![NewUnit {
            label: format!("together-{i}"),
            tenants: 1,
            registered: false,
            pledge_signed: false,
        }],
        campaign_id: None,
        position: None,
    };
    let mut visits: Vec<NewVisit> = (0..16).map(|i| visit_to(i, format!("together-{i}"))).collect();
    visits.push(visits[5].clone());
    let visits_before = |b: i64| f.atlas().building_stats(b as u32).map(|s| s.visits).unwrap();
    let counted_before: Vec<u32> = buildings.iter().map(|b| visits_before(*b)).collect();
    let sent: Vec<_> = visits
        .iter()
        .map(|v| {
            let (state, v) = (state.clone(), v.clone());
            tokio::spawn(async move {
                let event = AuditEvent::new(time::OffsetDateTime::now_utc(), "record visit", "together", "ok");
                state.record_visit(&v, &event).await.map(|(outcome, _)| outcome)
            })
        })
        .collect();
    let mut outcomes = Vec::new();
    for s in sent {
        outcomes.push(s.await.unwrap());
    }
    for (i, outcome) in outcomes.iter().enumerate() {
        match (i, outcome) {
            (3, Err(e)) => assert!(e.to_string().contains("not in building"), "{e}"),
            (3, Ok(o)) => panic!("the visit naming another building's unit was recorded: {o:?}"),
            (_, Err(e)) => panic!("visit {i} failed: {e}"),
            (_, Ok(_)) => {}
        }
    }
    let recorded: Vec<_> = outcomes.iter().filter_map(|o| o.as_ref().ok()).collect();
    assert_eq!(recorded.iter().filter(|o| o.replayed).count(), 1, "the visit sent twice is replayed once");
    assert_eq!(outcomes[5].as_ref().unwrap().visit.id, outcomes[16].as_ref().unwrap().visit.id);
    assert_eq!(f.db.int("SELECT COUNT(*) FROM visits WHERE client_id LIKE 'together-%'").await, 15);
    assert_eq!(f.db.int("SELECT COUNT(*) FROM rental_units WHERE label LIKE 'together-%'").await, 15);
    assert_eq!(f.db.int("SELECT COUNT(*) FROM visits WHERE client_id = 'together-3'").await, 0);
    assert_eq!(f.db.int("SELECT COUNT(*) FROM audit_log WHERE target LIKE 'together visit %'").await, 16);
    let audit_rows = f.db.int("SELECT COUNT(*) FROM audit_log").await as u64;
    assert_eq!(f.store.verify_audit().await.unwrap(), Ok(audit_rows));
    // Each recorded visit is on the map once its answer has come.
    let atlas = state.atlas();
    for (i, b) in buildings.iter().enumerate() {
        let now = atlas.building_stats(*b as u32).map(|s| s.visits).unwrap();
        assert_eq!(now, counted_before[i] + u32::from(i != 3), "building {b}'s visits");
    }
    let commits_after = commits(&state.metrics().render(&state.readings(None)).unwrap());
    assert!(commits_after - commits_before < 17.0, "{commits_before} -> {commits_after} commits for 17 visits");
    f.done().await;
}

async fn a_rejected_visit_applies_nothing_of_itself(backend: Backend) {
    let f = Fixture::seeded(backend).await;
    let r = &f.router;
    let (person, building, grid) = unregistered_person(&f.db).await;
    let foreign_unit =
        f.db.int(&format!("SELECT CAST(id AS BIGINT) FROM rental_units WHERE building_id <> {building} LIMIT 1")).await;
    let (_, before) = get(r, &format!("/api/grids/{grid}")).await;
    // The person is valid, the unit belongs to another building: the whole visit is refused.
    let body = json!({
        "client_id": "reject-1",
        "building_id": building,
        "register_persons": [person],
        "register_units": [foreign_unit],
    });
    assert_error(
        &post_json(r, "/api/visits", &body.to_string()).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "not in building",
    );
    // A pledge for a unit that stays unregistered is refused too.
    let unregistered_unit =
        f.db.ints(&format!(
            "SELECT CAST(id AS BIGINT) FROM rental_units WHERE building_id = {building} AND NOT registered LIMIT 1"
        ))
        .await;
    if let Some(u) = unregistered_unit.first() {
        let body = json!({ "client_id": "reject-2", "building_id": building, "register_persons": [person], "pledge_units": [u] });
        assert_error(&post_json(r, "/api/visits", &body.to_string()).await, StatusCode::UNPROCESSABLE_ENTITY, "pledge");
    }
    assert_eq!(get(r, &format!("/api/grids/{grid}")).await.1, before);
    let registered = f.db.int(&format!("SELECT COUNT(*) FROM persons WHERE id = {person} AND registered")).await;
    assert_eq!(registered, 0, "the rejected visit registered the person anyway");
    assert_eq!(f.db.int("SELECT COUNT(*) FROM visits WHERE client_id LIKE 'reject-%'").await, 0);
    f.done().await;
}

async fn buildings_in_a_box_and_by_id(backend: Backend) {
    let f = Fixture::seeded(backend).await;
    let r = &f.router;
    let (_, grids) = get(r, "/api/grids").await;
    let p = &grids["features"][0]["properties"]["label_point"];
    let (x, y) = (p[0].as_f64().unwrap(), p[1].as_f64().unwrap());
    let (status, fc) =
        get(r, &format!("/api/buildings?bbox={},{},{},{}", x - 0.02, y - 0.02, x + 0.02, y + 0.02)).await;
    assert_eq!(status, StatusCode::OK);
    let matched = n(&fc, "numberMatched");
    assert!(matched > 0);
    assert_eq!(n(&fc, "numberReturned"), fc["features"].as_array().unwrap().len() as u64);
    let (_, limited) =
        get(r, &format!("/api/buildings?bbox={},{},{},{}&limit=1", x - 0.02, y - 0.02, x + 0.02, y + 0.02)).await;
    assert_eq!(limited["features"].as_array().unwrap().len(), 1);
    assert_eq!(n(&limited, "numberMatched"), matched);
    let id = fc["features"][0]["id"].as_u64().unwrap();
    let (status, one) = get(r, &format!("/api/buildings/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(one["properties"]["id"], id);
    // Nothing person-level is served.
    let text = fc.to_string();
    assert!(!text.contains("id_number") && !text.contains("phone"));
    f.done().await;
}

#[tokio::test]
async fn sqlite_and_postgis_serve_byte_identical_responses() {
    let opts = DemoOptions { scale: 0.05, seed: 11, ..Default::default() };
    let lite = Fixture::seeded_with(Backend::Sqlite, &opts).await;
    let pg = Fixture::seeded_with(Backend::Postgis, &opts).await;
    let mut uris: Vec<String> =
        ["district", "street", "community", "grid"].iter().map(|l| format!("/api/stats?level={l}")).collect();
    uris.extend(["/api/grids", "/api/basemap", "/api/district"].map(String::from));
    for uri in uris {
        let a = raw(&lite.router, &uri).await;
        let b = raw(&pg.router, &uri).await;
        assert!(a == b, "{uri} differs between SQLite ({} bytes) and PostGIS ({} bytes)", a.len(), b.len());
    }
    lite.done().await;
    pg.done().await;
}

async fn raw(router: &Router, uri: &str) -> Vec<u8> {
    let res = router.clone().oneshot(Request::get(uri).body(Body::empty()).unwrap()).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK, "{uri}");
    res.into_body().collect().await.unwrap().to_bytes().to_vec()
}

/// A ledger (CSV), or a GeoJSON layer for the layer kinds, posted to an import.
async fn post_bytes(router: &Router, uri: &str, body: Vec<u8>) -> (StatusCode, Value) {
    let kind = if uri.contains("/buildings") { "application/geo+json" } else { "text/csv" };
    let req = Request::post(uri).header(header::CONTENT_TYPE, kind).body(Body::from(body)).unwrap();
    send(router, req).await
}

async fn an_import_through_the_api_updates_the_map_at_once(backend: Backend) {
    let f = Fixture::seeded(backend).await;
    let r = &f.router;
    let (_, building) = get(r, "/api/buildings/1").await;
    let grid = building["properties"]["grid_id"].as_u64().unwrap();
    let (_, before) = get(r, &format!("/api/grids/{grid}")).await;
    let ledger = "编号,楼栋编号,房号,是否登记,登记日期,租住人数\nAPI-1,1,808,是,2025-06-01,3\nAPI-2,424242,809,否,,1\n";
    let (gbk, _, _) = encoding_rs::GBK.encode(ledger);

    let (status, refused) = post_bytes(r, "/api/imports/units", gbk.to_vec()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert_eq!(refused["errors"][0]["row"], 3);
    assert_eq!(refused["errors"][0]["column"], "楼栋编号");
    assert_eq!(get(r, &format!("/api/grids/{grid}")).await.1, before, "a refused import changed the map");

    let (status, done) = post_bytes(r, "/api/imports/units?skip_invalid=true", gbk.to_vec()).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!((done["inserted"].as_u64(), done["skipped_rows"].as_u64()), (Some(1), Some(1)));
    assert_eq!(done["encoding"], "GB18030");
    let (_, after) = get(r, &format!("/api/grids/{grid}")).await;
    let (b, a) = (&before["properties"], &after["properties"]);
    assert_eq!(n(a, "rental_units"), n(b, "rental_units") + 1);
    assert_eq!(n(a, "rental_units_registered"), n(b, "rental_units_registered") + 1);
    // PostgreSQL plans from statistics refreshed after the import: ANALYZE counted its row.
    if let Some(pool) = f.db.pg_pool() {
        let (planned, rows): (f32, i64) = sqlx::query_as(
            "SELECT reltuples, (SELECT COUNT(*) FROM rental_units) FROM pg_class WHERE relname = 'rental_units'",
        )
        .fetch_one(pool)
        .await
        .unwrap();
        assert_eq!(planned as i64, rows, "the planner's row count of rental_units after the import");
    }

    let (_, again) = post_bytes(r, "/api/imports/units?skip_invalid=true", gbk.to_vec()).await;
    assert_eq!((again["inserted"].as_u64(), again["updated"].as_u64()), (Some(0), Some(1)));
    assert_eq!(get(r, &format!("/api/grids/{grid}")).await.1, after, "a re-import duplicated the unit");

    assert_error(
        &post_bytes(r, "/api/imports/units?encoding=latin1", gbk.to_vec()).await,
        StatusCode::BAD_REQUEST,
        "encoding",
    );
    assert_error(
        &post_bytes(r, "/api/imports/units?crs=utm", gbk.to_vec()).await,
        StatusCode::BAD_REQUEST,
        "coordinate",
    );
    assert_error(&post_bytes(r, "/api/imports/units", vec![]).await, StatusCode::UNPROCESSABLE_ENTITY, "empty");
    assert_error(
        &post_bytes(r, "/api/imports/units?encoding=utf-8", gbk.to_vec()).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "UTF-8",
    );
    f.done().await;
}

async fn building_footprints_through_the_api_land_in_their_grid(backend: Backend) {
    let f = Fixture::seeded(backend).await;
    let r = &f.router;
    let (_, grid) = get(r, "/api/grids/0").await;
    let p = &grid["properties"]["label_point"];
    let (x, y, d) = (p[0].as_f64().unwrap(), p[1].as_f64().unwrap(), 0.00005);
    let ring =
        |pts: [(f64, f64); 5]| json!([pts.iter().map(|(a, b)| json!([x + a * d, y + b * d])).collect::<Vec<_>>()]);
    let square = ring([(-1., -1.), (1., -1.), (1., 1.), (-1., 1.), (-1., -1.)]);
    let bowtie = ring([(-1., -1.), (1., 1.), (1., -1.), (-1., 1.), (-1., -1.)]);
    let fc = |geom: &Value| {
        json!({ "type": "FeatureCollection", "features": [
            { "type": "Feature", "properties": { "编号": "API-B1", "层数": 3 }, "geometry": { "type": "Polygon", "coordinates": geom } }
        ]})
        .to_string()
        .into_bytes()
    };
    let (status, refused) = post_bytes(r, "/api/imports/buildings", fc(&bowtie)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert_eq!(refused["errors"][0]["row"], 1);
    assert!(refused["errors"][0]["reason"].as_str().unwrap().contains("not a valid polygon"));

    let (status, done) = post_bytes(r, "/api/imports/buildings", fc(&square)).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(done["inserted"], 1);
    let (_, after) = get(r, "/api/grids/0").await;
    assert_eq!(n(&after["properties"], "buildings"), n(&grid["properties"], "buildings") + 1);
    let bbox = format!("/api/buildings?bbox={},{},{},{}", x - d, y - d, x + d, y + d);
    let (_, found) = get(r, &bbox).await;
    assert!(
        found["features"]
            .as_array()
            .unwrap()
            .iter()
            .any(|b| b["properties"]["floors"] == 3 && b["properties"]["grid_id"] == 0)
    );
    let (_, again) = post_bytes(r, "/api/imports/buildings", fc(&square)).await;
    assert_eq!((again["inserted"].as_u64(), again["updated"].as_u64()), (Some(0), Some(1)));
    assert_error(
        &post_bytes(r, "/api/imports/buildings", b"{}".to_vec()).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "FeatureCollection",
    );
    f.done().await;
}

/// A person's record: lists and single records masked (`330203********1234`, `138****5678`,
/// `张*`), the full record only with `reveal=true` and a reason; the household card holds the
/// person; search takes whole numbers only.
async fn person_records_are_masked_unless_revealed_with_a_reason(backend: Backend) {
    let f = Fixture::seeded(backend).await;
    let (_, grids) = get(&f.router, "/api/grids").await;
    let grid = grids["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| &g["properties"])
        .find(|p| p["persons"].as_u64().unwrap_or(0) >= 3)
        .expect("a grid with persons");
    let (code, grid_id) = (grid["code"].as_str().unwrap(), grid["id"].as_u64().unwrap());
    let in_grid =
        f.db.int(&format!(
            "SELECT COUNT(*) FROM persons p JOIN buildings b ON b.id = p.building_id WHERE b.grid_id = {grid_id}"
        ))
        .await;

    let audited = |action: &'static str| {
        let db = &f.db;
        async move { db.int(&format!("SELECT COUNT(*) FROM audit_log WHERE action = '{action}'")).await }
    };
    let (status, list) = get(&f.router, &format!("/api/persons?grid={code}&limit=2")).await;
    assert_eq!(audited("person_read").await, 1, "a list read is one audit row");
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list["number_matched"].as_i64(), Some(in_grid));
    assert_eq!(list["number_returned"], 2);
    assert_eq!(list["masked"], true);
    let first = &list["persons"][0];
    let id = first["id"].as_u64().unwrap();
    let full =
        f.db.texts(&format!("SELECT id_number || '|' || phone || '|' || name FROM persons WHERE id = {id}")).await;
    let [id_number, phone, name] = full[0].split('|').collect::<Vec<_>>()[..] else { panic!("{full:?}") };
    assert_eq!(first["id_number"], format!("{}********{}", &id_number[..6], &id_number[14..]));
    assert_eq!(first["phone"], format!("{}****{}", &phone[..3], &phone[7..]));
    assert_eq!(first["name"].as_str().unwrap().chars().next(), name.chars().next());
    assert!(first["name"].as_str().unwrap().ends_with('*'));
    let text = list.to_string();
    assert!(!text.contains(id_number) && !text.contains(phone), "a full number leaked into a list: {text}");

    // One record: masked; revealed only with a reason of 4 characters or more.
    let (status, one) = get(&f.router, &format!("/api/persons/{id}")).await;
    assert_eq!(status, StatusCode::OK, "{one}");
    assert_eq!(one["id_number"], first["id_number"]);
    assert_eq!(audited("person_read").await, 2);
    assert_error(&get(&f.router, &format!("/api/persons/{id}?reveal=true")).await, StatusCode::BAD_REQUEST, "reason");
    assert_error(
        &get(&f.router, &format!("/api/persons/{id}?reveal=true&reason=%E6%A0%B8%E6%9F%A5")).await,
        StatusCode::BAD_REQUEST,
        "reason",
    );
    let reason = "%E6%A0%B8%E6%9F%A5%E4%BD%8F%E5%9D%80"; // 核查住址
    let (status, shown) = get(&f.router, &format!("/api/persons/{id}?reveal=true&reason={reason}")).await;
    assert_eq!(status, StatusCode::OK, "{shown}");
    assert_eq!(
        (shown["id_number"].as_str(), shown["phone"].as_str(), shown["name"].as_str()),
        (Some(id_number), Some(phone), Some(name))
    );
    // The refused reveals wrote nothing; the reveal wrote one row with its reason.
    assert_eq!((audited("person_read").await, audited("person_reveal").await), (2, 1));
    let reasons = f.db.texts("SELECT reason FROM audit_log WHERE action = 'person_reveal'").await;
    assert_eq!(reasons, ["核查住址"]);

    // The household card holds the person; its landlord is masked too.
    let unit = first["unit_id"].as_u64().unwrap();
    let (status, card) = get(&f.router, &format!("/api/units/{unit}")).await;
    assert_eq!(status, StatusCode::OK, "{card}");
    assert_eq!(card["masked"], true);
    let members: Vec<u64> = card["households"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|h| h["persons"].as_array().unwrap().iter().map(|p| p["id"].as_u64().unwrap()))
        .collect();
    assert!(members.contains(&id), "unit {unit} lacks person {id}: {card}");
    assert_eq!(audited("person_read").await, 3, "a household card is one audit row");
    let in_unit =
        f.db.int(&format!(
            "SELECT COUNT(*) FROM persons p JOIN households h ON h.id = p.household_id WHERE h.rental_unit_id = {unit}"
        ))
        .await;
    assert_eq!(members.len() as i64, in_unit);
    if let Some(l) = card["landlord"].as_object() {
        assert!(l["id_number"].as_str().unwrap().contains("********"), "{card}");
    }

    // Search: a whole ID number finds the person; a fragment finds nobody.
    let (_, found) = get(&f.router, &format!("/api/persons?q={id_number}")).await;
    assert!(found["persons"].as_array().unwrap().iter().any(|p| p["id"].as_u64() == Some(id)), "{found}");
    let (_, fragment) = get(&f.router, &format!("/api/persons?q={}", &id_number[..8])).await;
    assert_eq!(fragment["number_matched"], 0, "{fragment}");

    assert_error(&get(&f.router, "/api/persons?grid=NO-SUCH-GRID").await, StatusCode::NOT_FOUND, "NO-SUCH-GRID");
    assert_error(&get(&f.router, "/api/persons?limit=501").await, StatusCode::BAD_REQUEST, "limit");
    assert_error(&get(&f.router, "/api/persons?name=x").await, StatusCode::BAD_REQUEST, "unknown parameter");
    assert_error(&get(&f.router, "/api/units/999999999").await, StatusCode::NOT_FOUND, "unit");
    f.done().await;
}

async fn person_exports_are_masked_scoped_and_audited(backend: Backend) {
    use crate::common::{principal, signed_in};
    use rentgrid_server::access::{Principal, Role};
    let f = Fixture::seeded(backend).await;
    let atlas = f.atlas();
    let grid = atlas.grids().iter().max_by_key(|g| g.grid.id % 7).unwrap();
    let (code, grid_id) = (grid.grid.code.clone(), grid.grid.id);
    let in_grid: Vec<String> = f
        .db
        .texts(&format!(
            "SELECT p.id_number FROM persons p JOIN buildings b ON b.id = p.building_id WHERE b.grid_id = {grid_id} ORDER BY p.id"
        ))
        .await;
    assert!(in_grid.len() >= 2, "a grid with persons");
    let audited = |action: &'static str| {
        let db = &f.db;
        async move { db.int(&format!("SELECT COUNT(*) FROM audit_log WHERE action = '{action}'")).await }
    };
    let rows = |body: &Value| -> Vec<Vec<String>> {
        let text = body.as_str().expect("a CSV body");
        text.trim_start_matches('\u{feff}').lines().map(|l| l.split(',').map(str::to_owned).collect()).collect()
    };

    // Masked: every person of the grid, no whole ID number, one audit row.
    let (status, csv) = get(&f.router, &format!("/api/persons?grid={code}&format=csv&lang=en")).await;
    assert_eq!(status, StatusCode::OK, "{csv}");
    let table = rows(&csv);
    let col = table[0].iter().position(|h| h == "id_number").expect("an id_number column");
    assert_eq!(table.len() - 1, in_grid.len());
    for (row, full) in table[1..].iter().zip(&in_grid) {
        assert_eq!(row[col], format!("{}********{}", &full[..6], &full[14..]));
    }
    assert_eq!((audited("person_export").await, audited("person_read").await), (1, 0));
    let (_, zh) = get(&f.router, &format!("/api/persons?grid={code}&format=csv")).await;
    assert!(rows(&zh)[0].contains(&"身份证号".to_owned()), "Chinese headers by default");

    // In full only with a reason, audited with it.
    let (status, body) = get(&f.router, &format!("/api/persons?grid={code}&format=xlsx&reveal=true")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let reason = "%E6%A0%B8%E6%9F%A5%E4%BD%8F%E5%9D%80"; // 核查住址
    let (status, csv) =
        get(&f.router, &format!("/api/persons?grid={code}&format=csv&lang=en&reveal=true&reason={reason}")).await;
    assert_eq!(status, StatusCode::OK, "{csv}");
    let shown: Vec<String> = rows(&csv)[1..].iter().map(|r| r[col].clone()).collect();
    assert_eq!(shown, in_grid);
    assert_eq!(f.db.texts("SELECT reason FROM audit_log WHERE action = 'person_reveal_export'").await, ["核查住址"]);
    let res = f
        .router
        .clone()
        .oneshot(Request::get(format!("/api/persons?grid={code}&format=xlsx")).body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()[header::CACHE_CONTROL], "no-store");
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    assert!(bytes.starts_with(b"PK"), "an XLSX (zip) file");

    // A caseworker exports their grid and nothing else; a leader none at all.
    let cw = signed_in(f.anonymous.clone(), Principal { grids: vec![code.clone()], ..principal(Role::Caseworker) });
    let (status, csv) = get(&cw, "/api/persons?format=csv&lang=en").await;
    assert_eq!(status, StatusCode::OK, "{csv}");
    assert_eq!(rows(&csv).len() - 1, in_grid.len());
    let leader = signed_in(f.anonymous.clone(), principal(Role::Leader));
    assert_eq!(get(&leader, "/api/persons?format=csv").await.0, StatusCode::FORBIDDEN);
    assert_eq!(get(&f.router, "/api/persons?format=pdf").await.0, StatusCode::BAD_REQUEST);
    f.done().await;
}

async fn every_answer_carries_the_security_headers(backend: Backend) {
    let f = Fixture::seeded(backend).await;
    for (router, uri) in [
        (&f.router, "/api/grids"),
        (&f.router, "/tiles/grids/10/857/421.mvt"),
        (&f.router, "/api/no-such-endpoint"),
        (&f.anonymous, "/api/stats"),
        (&f.anonymous, "/"),
    ] {
        let res = router.clone().oneshot(Request::get(uri).body(Body::empty()).unwrap()).await.unwrap();
        let h = res.headers();
        let csp = h.get(header::CONTENT_SECURITY_POLICY).map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
        assert!(csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"), "{uri}: {csp:?}");
        assert!(!csp.contains("script-src 'self' 'unsafe-inline'"), "{uri}: no inline script");
        assert_eq!(h.get(header::X_CONTENT_TYPE_OPTIONS).map(|v| v.as_bytes()), Some(&b"nosniff"[..]), "{uri}");
        assert_eq!(h.get(header::REFERRER_POLICY).map(|v| v.as_bytes()), Some(&b"no-referrer"[..]), "{uri}");
        assert_eq!(h.get(header::X_FRAME_OPTIONS).map(|v| v.as_bytes()), Some(&b"DENY"[..]), "{uri}");
    }
    // Nothing echoes a request: TRACE is 405 everywhere, signed in or not.
    for router in [&f.router, &f.anonymous] {
        let res = router
            .clone()
            .oneshot(Request::builder().method("TRACE").uri("/").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert!(res.headers().contains_key(header::ALLOW));
    }
    // A route asked with a method it does not take is 405 naming those it takes, signed in or
    // not (never a 401 or 403 that would send a client after a login it does not need).
    for router in [&f.router, &f.anonymous] {
        for (method, uri, allow) in [("DELETE", "/health", "GET, HEAD"), ("PUT", "/api/district", "GET, HEAD")] {
            let req = Request::builder().method(method).uri(uri).body(Body::empty()).unwrap();
            let res = router.clone().oneshot(req).await.unwrap();
            assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED, "{method} {uri}");
            assert_eq!(
                res.headers().get(header::ALLOW).map(|v| v.as_bytes()),
                Some(allow.as_bytes()),
                "{method} {uri}"
            );
        }
    }
    // With the web map served: its page and files answer, any other path is 404, not the page
    // (`/metrics` is a route: 401 to an anonymous caller).
    let web = tempfile::tempdir().unwrap();
    std::fs::write(web.path().join("index.html"), "<!doctype html><title>rentgrid</title>").unwrap();
    std::fs::write(web.path().join("report.html"), "<!doctype html><title>report</title>").unwrap();
    let state = startup::state_for(f.store.clone(), Default::default(), Some(web.path().to_path_buf())).await.unwrap();
    let served = rentgrid_server::app(state);
    for (uri, status) in
        [("/", 200), ("/report.html", 200), ("/metrics", 401), ("/index.html/../x", 404), ("/no/such/page", 404)]
    {
        let res = served.clone().oneshot(Request::get(uri).body(Body::empty()).unwrap()).await.unwrap();
        assert_eq!(res.status().as_u16(), status, "{uri}");
    }
    // An acknowledged write is on disk: the GeoPackage syncs every commit (2 = FULL).
    if let Db::Sqlite(_) = f.db {
        assert_eq!(f.db.int("PRAGMA synchronous").await, 2);
    }
    f.done().await;
}

async fn the_probes_say_live_and_ready_and_not_ready_without_a_store(backend: Backend) {
    let f = Fixture::seeded(backend).await;
    assert_eq!(get(&f.anonymous, "/health/live").await, (StatusCode::OK, json!({ "status": "live" })));
    assert_eq!(get(&f.anonymous, "/health/ready").await, (StatusCode::OK, json!({ "status": "ready" })));
    // The database goes away: still live, not ready, with a message.
    match &f.db {
        Db::Sqlite(p) => p.close().await,
        Db::Postgis(p) => p.close().await,
    }
    assert_eq!(get(&f.anonymous, "/health/live").await.0, StatusCode::OK);
    let (status, body) = get(&f.anonymous, "/health/ready").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["code"], "unavailable");
    f.done().await;
}
