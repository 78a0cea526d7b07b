//! Hazards to closure (整治一块) through the real router on both stores: a hazard recorded at a
//! building opens a case with the deadline of its kind and severity; it is yellow past the
//! deadline and red past it by more than the kind allows; a supervisor assigns it, the caseworker
//! reports it rectified, a supervisor verifies it or reopens it (with a new deadline); a replayed
//! client id changes nothing; a campaign block with red cases cannot move to 巩固; photos are
//! kept on disk and served within scope.

use crate::campaigns::{campaign, phase, weakest_grids};
use crate::common::{Backend, Db, Fixture, get, post_json, principal, send, signed_in};
use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use rentgrid_analysis::hazard::HazardKinds;
use rentgrid_geodata::clock::today;
use rentgrid_server::access::{Principal, Role};
use rentgrid_server::hazard_photos::PhotoDir;
use serde_json::{Value, json};
use time::{Date, Duration};

on_both_stores!(
    a_hazard_case_runs_from_found_to_verified_and_is_reopened,
    a_block_with_red_cases_cannot_move_to_consolidate,
    a_photo_is_kept_once_and_served_within_scope,
);

async fn post(r: &Router, uri: &str, body: &Value) -> (StatusCode, Value) {
    post_json(r, uri, &body.to_string()).await
}

/// Asserts an error answer: its status and a message naming `hint`.
fn refused(res: &(StatusCode, Value), status: StatusCode, hint: &str) {
    assert_eq!(res.0, status, "{}", res.1);
    let msg = res.1["message"].as_str().unwrap_or_default();
    assert!(msg.contains(hint), "message {msg:?} does not mention {hint:?}");
}

fn day(d: Date) -> String {
    d.to_string()
}

fn ago(days: i64) -> Date {
    today() - Duration::days(days)
}

/// A caseworker with grids, a building in one of them and one outside all of them.
async fn caseworker_and_buildings(db: &Db) -> (u32, u32, u32) {
    let inside = db
        .int("SELECT CAST(MIN(b.id) AS BIGINT) FROM buildings b JOIN caseworker_grids cg ON cg.grid_id = b.grid_id")
        .await as u32;
    let cw = db
        .int(&format!(
            "SELECT CAST(MIN(caseworker_id) AS BIGINT) FROM caseworker_grids WHERE grid_id = \
             (SELECT grid_id FROM buildings WHERE id = {inside})"
        ))
        .await as u32;
    let outside = db
        .int(&format!(
            "SELECT CAST(MIN(id) AS BIGINT) FROM buildings WHERE grid_id NOT IN \
             (SELECT grid_id FROM caseworker_grids WHERE caseworker_id = {cw})"
        ))
        .await as u32;
    (cw, inside, outside)
}

fn caseworker(f: &Fixture, id: u32) -> Router {
    signed_in(f.anonymous.clone(), Principal { caseworker: Some(id), ..principal(Role::Caseworker) })
}

fn hazard(client: &str, kind: &str, severity: &str, found_on: Date) -> Value {
    json!({ "client_id": client, "kind": kind, "severity": severity, "found_on": day(found_on), "note": "楼道堆物" })
}

async fn a_hazard_case_runs_from_found_to_verified_and_is_reopened(backend: Backend) {
    let f = Fixture::seeded(backend).await;
    let center = &f.router;
    let (cw, building, outside) = caseworker_and_buildings(&f.db).await;
    let me = &caseworker(&f, cw);
    let at = format!("/api/buildings/{building}/hazards");

    let (s, kinds) = get(me, "/api/hazard-kinds").await;
    assert_eq!(s, StatusCode::OK);
    let fire = kinds["kinds"].as_array().unwrap().iter().find(|k| k["code"] == "fire_exit").unwrap().clone();
    assert_eq!(fire["days"]["severe"], 1);
    assert_eq!(fire["red_after_days"], 3);

    // Bad fields are named; a building outside the caseworker's grids is not theirs to see.
    refused(&post(me, &at, &hazard("h-0", "flood", "severe", today())).await, StatusCode::UNPROCESSABLE_ENTITY, "kind");
    refused(&post(me, &at, &hazard("h-0", "gas", "huge", today())).await, StatusCode::UNPROCESSABLE_ENTITY, "severity");
    let tomorrow = today() + Duration::days(1);
    refused(
        &post(me, &at, &hazard("h-0", "gas", "minor", tomorrow)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "found_on",
    );
    let elsewhere = format!("/api/buildings/{outside}/hazards");
    refused(&post(me, &elsewhere, &hazard("h-0", "gas", "minor", today())).await, StatusCode::NOT_FOUND, "building");

    // A severe blocked fire exit found ten days ago: due the next day, red four days after that.
    let found = ago(10);
    let (s, red) = post(me, &at, &hazard("h-1", "fire_exit", "重大", found)).await;
    assert_eq!(s, StatusCode::CREATED, "{red}");
    let h = &red["hazard"];
    assert_eq!((h["status"].as_str(), h["severity"].as_str()), (Some("found"), Some("severe")));
    assert_eq!(h["due_on"], day(found + Duration::days(1)));
    assert_eq!(h["red_on"], day(found + Duration::days(5)));
    assert_eq!((h["urgency"].as_str(), h["days_overdue"].as_u64()), (Some("red"), Some(9)));
    assert_eq!(h["kind_zh"], "消防通道堵塞");
    let id = h["id"].as_u64().unwrap();
    // The same client id again: the same case, nothing new.
    let (s, again) = post(me, &at, &hazard("h-1", "fire_exit", "重大", found)).await;
    assert_eq!((s, &again["replayed"], &again["hazard"]["id"]), (StatusCode::OK, &json!(true), &json!(id)));
    refused(&post(me, &at, &hazard("h-1", "gas", "minor", found)).await, StatusCode::CONFLICT, "h-1");
    assert_eq!(f.db.int("SELECT CAST(COUNT(*) AS BIGINT) FROM hazards").await, 1);

    // Two more: one past its deadline but not yet red, one within it.
    let (_, yellow) = post(me, &at, &hazard("h-2", "fire_exit", "severe", ago(2))).await;
    assert_eq!(
        (yellow["hazard"]["urgency"].as_str(), yellow["hazard"]["days_overdue"].as_u64()),
        (Some("yellow"), Some(1))
    );
    let (_, fresh) = post(me, &at, &hazard("h-3", "gas", "minor", today())).await;
    assert_eq!(fresh["hazard"]["urgency"], "on_time");
    assert_eq!(fresh["hazard"]["due_on"], day(today() + Duration::days(7)));
    let (_, listed) = get(me, "/api/hazards").await;
    assert_eq!(listed["counts"], json!({ "open": 3, "yellow": 1, "red": 1 }));
    let (_, reds) = get(me, "/api/hazards?urgency=red").await;
    assert_eq!(reds["hazards"].as_array().unwrap().len(), 1);
    assert_eq!(reds["hazards"][0]["id"], id);

    // A caseworker does not assign or verify; a supervisor (here the center) does, to a
    // caseworker of the building's grid only.
    let moved = |to: &str| format!("/api/hazards/{id}/{to}");
    assert_eq!(
        post(me, &moved("assign"), &json!({ "client_id": "m-0", "caseworker_id": cw })).await.0,
        StatusCode::FORBIDDEN
    );
    let stranger = f.db.int(&format!(
        "SELECT CAST(MIN(id) AS BIGINT) FROM caseworkers WHERE id NOT IN \
         (SELECT caseworker_id FROM caseworker_grids WHERE grid_id = (SELECT grid_id FROM buildings WHERE id = {building}))"
    )).await;
    refused(
        &post(center, &moved("assign"), &json!({ "client_id": "m-1", "caseworker_id": stranger })).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "caseworker_id",
    );
    let (s, assigned) = post(center, &moved("assign"), &json!({ "client_id": "m-2", "caseworker_id": cw })).await;
    assert_eq!(s, StatusCode::OK, "{assigned}");
    assert_eq!(
        (assigned["hazard"]["status"].as_str(), assigned["hazard"]["assignee_id"].as_u64()),
        (Some("assigned"), Some(cw.into()))
    );
    // Not verified before it is rectified.
    refused(&post(center, &moved("verify"), &json!({ "client_id": "m-3" })).await, StatusCode::CONFLICT, "已交办");
    let (s, fixed) = post(me, &moved("rectified"), &json!({ "client_id": "m-4", "note": "已清理杂物" })).await;
    assert_eq!(s, StatusCode::OK, "{fixed}");
    // Rectified, it waits for the supervisor: no longer the caseworker's lateness.
    assert_eq!(
        (fixed["hazard"]["status"].as_str(), fixed["hazard"]["urgency"].as_str()),
        (Some("rectified"), Some("on_time"))
    );
    let (_, replayed) = post(me, &moved("rectified"), &json!({ "client_id": "m-4", "note": "已清理杂物" })).await;
    assert_eq!((&replayed["replayed"], &replayed["hazard"]["version"]), (&json!(true), &json!(3)));
    let (s, closed) = post(center, &moved("verify"), &json!({ "client_id": "m-5" })).await;
    assert_eq!(s, StatusCode::OK, "{closed}");
    assert_eq!(
        (closed["hazard"]["status"].as_str(), closed["hazard"]["closed_on"].as_str()),
        (Some("verified"), Some(day(today()).as_str()))
    );
    let (_, open) = get(me, "/api/hazards").await;
    assert!(open["hazards"].as_array().unwrap().iter().all(|h| h["id"] != id), "a verified case is not open");
    let (_, all) = get(me, "/api/hazards?open=false").await;
    assert_eq!(all["hazards"].as_array().unwrap().len(), 3);

    // Reopened (the 巩固 re-check found it again): a note says why; a new deadline from today.
    refused(
        &post(center, &moved("reopen"), &json!({ "client_id": "m-6" })).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "note",
    );
    let (s, reopened) = post(center, &moved("reopen"), &json!({ "client_id": "m-7", "note": "复查又堵" })).await;
    assert_eq!(s, StatusCode::OK, "{reopened}");
    let h = &reopened["hazard"];
    assert_eq!((h["status"].as_str(), h["closed_on"].is_null()), (Some("reopened"), true));
    assert_eq!(h["due_on"], day(today() + Duration::days(1)));
    assert_eq!(h["urgency"], "on_time");
    let (_, detail) = get(me, &format!("/api/hazards/{id}")).await;
    let steps: Vec<&str> = detail["events"].as_array().unwrap().iter().map(|e| e["status"].as_str().unwrap()).collect();
    assert_eq!(steps, ["found", "assigned", "rectified", "verified", "reopened"]);
    assert_eq!(detail["events"][4]["note"], "复查又堵");

    // Another caseworker's grids do not hold it.
    let them = caseworker(&f, stranger as u32);
    refused(&get(&them, &format!("/api/hazards/{id}")).await, StatusCode::NOT_FOUND, "hazard");
    refused(&post(&them, &moved("rectified"), &json!({ "client_id": "m-8" })).await, StatusCode::NOT_FOUND, "hazard");
    // Every write is in the audit log; the replays as such.
    let audit = |action: &str, outcome: &str| {
        format!("SELECT CAST(COUNT(*) AS BIGINT) FROM audit_log WHERE action = '{action}' AND outcome = '{outcome}'")
    };
    assert_eq!(f.db.int(&audit("hazard_record", "ok")).await, 3);
    assert_eq!(f.db.int(&audit("hazard_record", "replayed")).await, 1);
    assert_eq!(f.db.int(&audit("hazard_move", "ok")).await, 4);

    // A supervisor reopening a case may judge it worse: the new deadline counts from the new
    // severity and the history keeps the change. Milder is refused; only a reopening changes it.
    let gas = fresh["hazard"]["id"].as_u64().unwrap();
    let at_gas = |to: &str| format!("/api/hazards/{gas}/{to}");
    refused(
        &post(me, &at_gas("rectified"), &json!({ "client_id": "s-1", "severity": "major" })).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "severity: only a reopening",
    );
    assert_eq!(post(me, &at_gas("rectified"), &json!({ "client_id": "s-2" })).await.0, StatusCode::OK);
    let worse = json!({ "client_id": "s-3", "note": "燃气管仍漏", "severity": "较大" });
    refused(
        &post(center, &at_gas("reopen"), &json!({ "client_id": "s-3", "note": "燃气管仍漏", "severity": "grave" }))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "severity",
    );
    let (s, reopened) = post(center, &at_gas("reopen"), &worse).await;
    assert_eq!(s, StatusCode::OK, "{reopened}");
    let h = &reopened["hazard"];
    assert_eq!((h["severity"].as_str(), h["severity_zh"].as_str()), (Some("major"), Some("较大")));
    assert_eq!(h["due_on"], day(today() + Duration::days(3)), "a major gas hazard: 3 days (it was 7 as minor)");
    // The same client id with another severity is another write: refused.
    let (s, _) =
        post(center, &at_gas("reopen"), &json!({ "client_id": "s-3", "note": "燃气管仍漏", "severity": "severe" }))
            .await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_eq!(post(me, &at_gas("rectified"), &json!({ "client_id": "s-4" })).await.0, StatusCode::OK);
    refused(
        &post(center, &at_gas("reopen"), &json!({ "client_id": "s-5", "note": "复查", "severity": "minor" })).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "not milder",
    );
    // Reopened again without one: as it is now (major), a new deadline from the day.
    let (s, again) = post(center, &at_gas("reopen"), &json!({ "client_id": "s-6", "note": "复查" })).await;
    assert_eq!((s, again["hazard"]["severity"].as_str()), (StatusCode::OK, Some("major")));
    let (_, detail) = get(me, &format!("/api/hazards/{gas}")).await;
    let history: Vec<(&str, Option<&str>)> = detail["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["status"].as_str().unwrap(), e["severity"].as_str()))
        .collect();
    assert_eq!(
        history,
        [
            ("found", Some("minor")),
            ("rectified", None),
            ("reopened", Some("major")),
            ("rectified", None),
            ("reopened", None)
        ]
    );
    f.done().await;
}

async fn a_block_with_red_cases_cannot_move_to_consolidate(backend: Backend) {
    let f = Fixture::seeded(backend).await;
    let r = &f.router;
    let c = campaign(r, &f.db, &weakest_grids(r).await[..1], "2026-09-07").await;
    let id = c["id"].as_u64().unwrap();
    let block = &c["plan"]["blocks"][0];
    let (block_id, building) = (block["block_id"].as_u64().unwrap(), block["buildings"][0].as_u64().unwrap());
    for p in ["排查", "清理", "整治"] {
        assert_eq!(phase(r, id, block_id, p).await.0, StatusCode::OK);
    }
    // A yellow case does not hold the block back; a red one does.
    let at = format!("/api/buildings/{building}/hazards");
    let (s, _) = post(r, &at, &hazard("g-1", "gas", "severe", ago(2))).await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, red) = post(r, &at, &hazard("g-2", "electrical", "severe", ago(30))).await;
    assert_eq!((s, red["hazard"]["urgency"].as_str()), (StatusCode::CREATED, Some("red")));
    let red_id = red["hazard"]["id"].as_u64().unwrap();
    refused(&phase(r, id, block_id, "巩固").await, StatusCode::CONFLICT, "1 hazard case(s) are red");
    let (_, one) = get(r, &format!("/api/campaigns/{id}")).await;
    assert_eq!(one["progress"]["rectify"], 1, "the block stays in 整治");
    // Rectified, it no longer holds the block.
    let (s, _) = post(r, &format!("/api/hazards/{red_id}/rectified"), &json!({ "client_id": "g-3" })).await;
    assert_eq!(s, StatusCode::OK);
    let (s, moved) = phase(r, id, block_id, "巩固").await;
    assert_eq!((s, moved["phase"].as_str()), (StatusCode::OK, Some("consolidate")));
    f.done().await;
}

/// A 1×1 PNG.
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89\0\0\0\rIDATx\x9cc\xf8\xff\xff?\0\x05\xfe\x02\xfe\xa7\x35\x81\x84\0\0\0\0IEND\xaeB`\x82";

async fn a_photo_is_kept_once_and_served_within_scope(backend: Backend) {
    let f = Fixture::seeded(backend).await;
    let photos = PhotoDir::new(f.dir.path().join("photos"), 64 * 1024);
    let state = rentgrid_server::startup::state_for(f.store.clone(), Default::default(), None)
        .await
        .unwrap()
        .with_hazards(HazardKinds::default(), Some(photos));
    let anonymous = rentgrid_server::app(state);
    let (cw, building, _) = caseworker_and_buildings(&f.db).await;
    let me = signed_in(anonymous.clone(), Principal { caseworker: Some(cw), ..principal(Role::Caseworker) });
    let (_, h) =
        post(&me, &format!("/api/buildings/{building}/hazards"), &hazard("p-1", "gas", "minor", today())).await;
    let id = h["hazard"]["id"].as_u64().unwrap();
    let upload = |bytes: Vec<u8>, kind: &str| {
        Request::post(format!("/api/hazards/{id}/photos"))
            .header(header::CONTENT_TYPE, kind)
            .body(Body::from(bytes))
            .unwrap()
    };
    let (s, added) = send(&me, upload(PNG.to_vec(), "image/png")).await;
    assert_eq!(s, StatusCode::CREATED, "{added}");
    let href = added["photo"]["href"].as_str().unwrap().to_owned();
    assert_eq!(added["photo"]["content_type"], "image/png");
    // The same photo again is the same photo.
    let (_, again) = send(&me, upload(PNG.to_vec(), "image/png")).await;
    assert_eq!(again["photo"]["id"], added["photo"]["id"]);
    // Not an image, or too large: refused, nothing kept.
    refused(
        &send(&me, upload(b"GIF89a not kept".to_vec(), "image/jpeg")).await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "JPEG, PNG or WebP",
    );
    let mut big = PNG.to_vec();
    big.resize(65 * 1024, 0);
    assert_eq!(send(&me, upload(big, "image/png")).await.0, StatusCode::PAYLOAD_TOO_LARGE);
    let (_, detail) = get(&me, &format!("/api/hazards/{id}")).await;
    assert_eq!(detail["photos"].as_array().unwrap().len(), 1);
    // Served as the image it is, to whoever sees the case.
    let res = tower::ServiceExt::oneshot(me.clone(), Request::get(&href).body(Body::empty()).unwrap()).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()[header::CONTENT_TYPE], "image/png");
    let body = axum::body::to_bytes(res.into_body(), usize::MAX).await.unwrap();
    assert_eq!(&body[..], PNG);
    // A photo of someone's home: each look is audited, as a person read is.
    let photo = added["photo"]["id"].as_u64().unwrap();
    let looked = "SELECT target FROM audit_log WHERE action = 'hazard_photo_read' AND outcome = 'ok'";
    assert_eq!(f.db.texts(looked).await, [format!("GET /api/hazards/{id}/photos/{photo}")]);
    let other = f.db.int(&format!(
        "SELECT CAST(MIN(caseworker_id) AS BIGINT) FROM caseworker_grids WHERE grid_id <> \
         (SELECT grid_id FROM buildings WHERE id = {building}) AND caseworker_id NOT IN \
         (SELECT caseworker_id FROM caseworker_grids WHERE grid_id = (SELECT grid_id FROM buildings WHERE id = {building}))"
    )).await as u32;
    let them = signed_in(anonymous, Principal { caseworker: Some(other), ..principal(Role::Caseworker) });
    assert_eq!(get(&them, &href).await.0, StatusCode::NOT_FOUND);
    assert_eq!(f.db.texts(looked).await.len(), 1, "a refused look shows nothing and is not a read");
    f.done().await;
}
