//! The caseworker at the door, through the real router on both stores: a person registered in a
//! rental unit (one person, one record: the same ID number in another unit is a move, with both
//! homes and their dates kept; after leaving the district, a return), a bad check digit named,
//! each client id applied once, a person who left, a stale edit of the same field kept as a
//! conflict with both values while an edit of another field merges, and the conflict resolved.
//! Counts on the map, the monthly history and the assessment's cancellations follow each write.

use crate::common::{Db, Fixture, get, post_json, principal, send, signed_in};
use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use rentgrid_geodata::idcard::IdNumber;
use rentgrid_server::access::{Principal, Role};
use serde_json::{Value, json};

on_both_stores!(
    a_person_is_registered_moved_left_and_back_as_one_record,
    a_stale_edit_of_the_same_field_is_a_conflict_and_of_another_merges,
    a_write_far_from_its_building_is_accepted_and_flagged,
    buildings_not_visited_within_their_limit_are_overdue,
    a_buildings_units_are_listed_empty_ones_too_within_scope,
);

/// PATCH `body` as JSON to `uri`.
async fn patch_json(router: &Router, uri: &str, body: &Value) -> (StatusCode, Value) {
    let req = Request::patch(uri)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    send(router, req).await
}

/// Two rental units with their building and grid: the first unit of the first two grids that a
/// caseworker holds (so the assessment credits what happens there).
async fn two_units(db: &Db) -> [(u32, u32, u32); 2] {
    let rows = db
        .ints(
            "SELECT CAST(MIN(u.id) AS BIGINT) FROM rental_units u JOIN buildings b ON b.id = u.building_id \
             WHERE b.grid_id IN (SELECT grid_id FROM caseworker_grids) GROUP BY b.grid_id ORDER BY b.grid_id LIMIT 2",
        )
        .await;
    assert_eq!(rows.len(), 2, "two held grids with rental units");
    let mut out = [(0, 0, 0); 2];
    for (i, unit) in rows.into_iter().enumerate() {
        let (u, b, g) = db
            .ints3(&format!(
                "SELECT CAST(u.id AS BIGINT), CAST(u.building_id AS BIGINT), CAST(b.grid_id AS BIGINT) \
                 FROM rental_units u JOIN buildings b ON b.id = u.building_id WHERE u.id = {unit}"
            ))
            .await;
        out[i] = (u as u32, b as u32, g as u32);
    }
    out
}

/// The grid's persons and registered persons, as `/api/grids/{id}` gives them.
async fn grid_counts(r: &Router, grid: u32) -> (u64, u64) {
    let (s, g) = get(r, &format!("/api/grids/{grid}")).await;
    assert_eq!(s, StatusCode::OK, "{g}");
    let p = &g["properties"];
    (p["persons"].as_u64().unwrap(), p["persons_registered"].as_u64().unwrap())
}

/// A valid ID number (GB 11643) of a man born on 1990-01-01 (the sequence digit is odd).
fn id_number() -> String {
    IdNumber::from_body("33020319900101123").unwrap().as_str().to_owned()
}

async fn a_person_is_registered_moved_left_and_back_as_one_record(backend: crate::common::Backend) {
    let f = Fixture::seeded(backend).await;
    let r = &f.router;
    let [(unit_a, _, grid_a), (unit_b, _, grid_b)] = two_units(&f.db).await;
    assert_ne!(grid_a, grid_b);
    let id = id_number();
    let (a0, b0) = (grid_counts(r, grid_a).await, grid_counts(r, grid_b).await);
    let (_, before_month) = get(r, "/api/stats?level=grid").await;
    let writes = "SELECT CAST(COUNT(*) AS BIGINT) FROM audit_log WHERE action IN ('person_register', 'person_depart')";
    let audit_before = f.db.int(writes).await;

    // A bad check digit is named, and nothing is written.
    let mut bad = id.clone();
    let last = if bad.ends_with('0') { '1' } else { '0' };
    bad.replace_range(17..18, &last.to_string());
    let new_person = |client: &str, number: &str, name: &str| {
        json!({ "client_id": client, "id_number": number, "name": name, "phone": "13800001111", "permit": true,
                "origin": "安徽省阜阳市" })
        .to_string()
    };
    let (s, e) = post_json(r, &format!("/api/units/{unit_a}/persons"), &new_person("c1", &bad, "王小明")).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    let msg = e["message"].as_str().unwrap();
    assert!(msg.starts_with("id_number:") && msg.contains("check digit"), "{msg}");

    // Registered: a new record in unit A, counted in grid A at once.
    let (s, added) = post_json(r, &format!("/api/units/{unit_a}/persons"), &new_person("c1", &id, "王小明")).await;
    assert_eq!(s, StatusCode::CREATED, "{added}");
    assert_eq!(added["arrival"], "registered");
    assert_eq!(added["replayed"], false);
    assert_eq!(added["from_id_number"], json!({ "sex": "male", "birth_date": "1990-01-01" }));
    let person = added["person"]["id"].as_u64().unwrap();
    assert_eq!(added["person"]["unit_id"], unit_a);
    assert_eq!(added["person"]["registered"], true);
    assert_eq!(added["person"]["version"], 1);
    assert_ne!(added["person"]["id_number"], id, "masked as the center's reads are");
    assert_eq!(grid_counts(r, grid_a).await, (a0.0 + 1, a0.1 + 1));

    // The same client id again: nothing changes. Under another request: refused.
    let (s, replay) = post_json(r, &format!("/api/units/{unit_a}/persons"), &new_person("c1", &id, "王小明")).await;
    assert_eq!(s, StatusCode::OK, "{replay}");
    assert_eq!((replay["replayed"].clone(), replay["person"]["id"].clone()), (json!(true), json!(person)));
    let (s, _) = post_json(r, &format!("/api/units/{unit_b}/persons"), &new_person("c1", &id, "王小明")).await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_eq!(grid_counts(r, grid_a).await, (a0.0 + 1, a0.1 + 1));
    let records = format!("SELECT CAST(COUNT(*) AS BIGINT) FROM persons WHERE id_number = '{id}'");
    assert_eq!(f.db.int(&records).await, 1);

    // The same number under another name is refused: a person keeps one record.
    let (s, e) = post_json(r, &format!("/api/units/{unit_b}/persons"), &new_person("c2", &id, "李四")).await;
    assert_eq!(s, StatusCode::CONFLICT, "{e}");
    assert!(e["message"].as_str().unwrap().contains("id_number"), "{e}");

    // Found in unit B: a move. Still one record; the home in A is closed with the day.
    let (s, moved) = post_json(r, &format!("/api/units/{unit_b}/persons"), &new_person("c3", &id, "王小明")).await;
    assert_eq!(s, StatusCode::CREATED, "{moved}");
    assert_eq!(moved["arrival"], "moved");
    assert_eq!(moved["person"]["id"], person);
    assert_eq!(moved["person"]["unit_id"], unit_b);
    assert_eq!(moved["person"]["version"], 2);
    let today = moved["person"]["moved_in_on"].as_str().unwrap().to_owned();
    assert_eq!(moved["earlier"]["unit_id"], unit_a);
    assert_eq!(moved["earlier"]["moved_in_on"], today.as_str());
    assert_eq!(moved["earlier"]["moved_out_on"], today.as_str());
    assert_eq!(f.db.int(&records).await, 1);
    let homes =
        f.db.texts(&format!(
            "SELECT CAST(h.rental_unit_id AS TEXT) FROM residences r JOIN households h ON h.id = r.household_id \
             WHERE r.person_id = {person}"
        ))
        .await;
    assert_eq!(homes, vec![unit_a.to_string()], "one earlier home, with its dates");
    assert_eq!(grid_counts(r, grid_a).await, a0);
    assert_eq!(grid_counts(r, grid_b).await, (b0.0 + 1, b0.1 + 1));

    // A caseworker of grid A only does not see unit B or the person in it.
    let code_a = f.db.texts(&format!("SELECT code FROM grids WHERE id = {grid_a}")).await.remove(0);
    let caseworker = signed_in(
        f.anonymous.clone(),
        rentgrid_server::access::Principal { grids: vec![code_a], ..principal(Role::Caseworker) },
    );
    let (s, _) =
        post_json(&caseworker, &format!("/api/units/{unit_b}/persons"), &new_person("c9", &id, "王小明")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = post_json(&caseworker, &format!("/api/persons/{person}/departure"), r#"{"client_id":"c9"}"#).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let edit = json!({"client_id": "c9", "base_version": 2, "phone": "13900000009"});
    let (s, _) = patch_json(&caseworker, &format!("/api/persons/{person}"), &edit).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // A leader registers nobody.
    let leader = signed_in(f.anonymous.clone(), principal(Role::Leader));
    let (s, _) = post_json(&leader, &format!("/api/units/{unit_a}/persons"), &new_person("c9", &id, "王小明")).await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    // Left the district (流出): no longer counted or listed; leaving twice is refused.
    let (s, left) = post_json(r, &format!("/api/persons/{person}/departure"), r#"{"client_id":"c4"}"#).await;
    assert_eq!(s, StatusCode::CREATED, "{left}");
    assert_eq!(left["person"]["left_on"], today.as_str());
    assert_eq!(left["left"]["unit_id"], unit_b);
    assert_eq!(grid_counts(r, grid_b).await, b0);
    let (_, listed) = get(r, &format!("/api/persons?unit={unit_b}")).await;
    assert!(listed["persons"].as_array().unwrap().iter().all(|p| p["id"] != person), "{listed}");
    let (s, _) = post_json(r, &format!("/api/persons/{person}/departure"), r#"{"client_id":"c5"}"#).await;
    assert_eq!(s, StatusCode::CONFLICT);
    let (s, again) = post_json(r, &format!("/api/persons/{person}/departure"), r#"{"client_id":"c4"}"#).await;
    assert_eq!((s, again["replayed"].clone()), (StatusCode::OK, json!(true)));

    // Back in unit A: a return, the same record again.
    let (s, back) = post_json(r, &format!("/api/units/{unit_a}/persons"), &new_person("c6", &id, "王小明")).await;
    assert_eq!(s, StatusCode::CREATED, "{back}");
    assert_eq!(back["arrival"], "returned");
    assert_eq!(back["earlier"]["unit_id"], unit_b);
    assert_eq!(back["person"]["left_on"], Value::Null);
    assert_eq!(f.db.int(&records).await, 1);
    assert_eq!(grid_counts(r, grid_a).await, (a0.0 + 1, a0.1 + 1));
    assert_eq!(grid_counts(r, grid_b).await, b0);

    // Each accepted write is one audit row (registered, replay, move, departure, replay, return);
    // a refused one (the bad check digit, the other name, the caseworker outside) none.
    assert_eq!(f.db.int(writes).await - audit_before, 6);

    // The monthly history: at the end of last month the person was nowhere yet, and the months
    // before this one are as they were before the writes.
    let month = &today[..7];
    let previous = {
        let (y, m): (i32, u32) = (today[..4].parse().unwrap(), today[5..7].parse().unwrap());
        if m == 1 { format!("{}-12", y - 1) } else { format!("{y}-{:02}", m - 1) }
    };
    let (s, past) = get(r, &format!("/api/stats?level=grid&month={previous}")).await;
    assert_eq!(s, StatusCode::OK, "{past}");
    let row =
        |stats: &Value, g: u32| stats["rows"].as_array().unwrap().iter().find(|x| x["grid_id"] == g).cloned().unwrap();
    for g in [grid_a, grid_b] {
        assert_eq!(row(&past, g)["persons"], row(&before_month, g)["persons"], "grid {g} in {previous}");
    }
    let (_, now) = get(r, &format!("/api/stats?level=grid&month={month}")).await;
    assert_eq!(row(&now, grid_a)["persons"].as_u64().unwrap(), a0.0 + 1);

    // The assessment counts the two homes left this month as cancellations (注销).
    let (s, assessed) = get(r, &format!("/api/assessment?month={month}")).await;
    assert_eq!(s, StatusCode::OK, "{assessed}");
    let cancellations: u64 =
        assessed["rows"].as_array().unwrap().iter().map(|x| x["cancellations"].as_u64().unwrap()).sum();
    assert_eq!(cancellations, 2, "the move out of A and the departure from B");
    f.done().await;
}

async fn a_stale_edit_of_the_same_field_is_a_conflict_and_of_another_merges(backend: crate::common::Backend) {
    let f = Fixture::seeded(backend).await;
    let r = &f.router;
    let person = f.db.int("SELECT CAST(MIN(id) AS BIGINT) FROM persons").await;
    let uri = format!("/api/persons/{person}");
    let (_, p) = get(r, &uri).await;
    assert_eq!(p["version"], 1);
    let phone = |n: i64| {
        let (db, q) = (&f.db, format!("SELECT phone FROM persons WHERE id = {n}"));
        async move { db.texts(&q).await }
    };

    // One phone edit from version 1 lands.
    let (s, first) = patch_json(r, &uri, &json!({"client_id": "e1", "base_version": 1, "phone": "13900000001"})).await;
    assert_eq!(s, StatusCode::OK, "{first}");
    assert_eq!(first["changed"], json!(["phone"]));
    assert_eq!(first["person"]["version"], 2);

    // A second, made offline against version 1, asks for another phone: a conflict, not applied.
    let stale = json!({"client_id": "e2", "base_version": 1, "phone": "13900000002"});
    let (s, conflict) = patch_json(r, &uri, &stale).await;
    assert_eq!(s, StatusCode::CONFLICT, "{conflict}");
    assert_eq!(conflict["error"], "conflict");
    let field = &conflict["fields"][0];
    assert_eq!((field["field"].as_str(), field["yours"].as_str()), (Some("phone"), Some("13900000002")));
    assert_eq!(field["theirs"], "139****0001", "the stored value, masked as the caller's reads are");
    assert_eq!(field["their_version"], 2);
    assert_eq!(phone(person).await, vec!["13900000001".to_owned()]);
    // Sent again (a retry): the same answer, and still one conflict.
    let (s, again) = patch_json(r, &uri, &stale).await;
    assert_eq!(
        (s, again["conflict_id"].clone(), again["replayed"].clone()),
        (StatusCode::CONFLICT, conflict["conflict_id"].clone(), json!(true))
    );

    // An edit of another field from version 1 merges.
    let (s, merged) =
        patch_json(r, &uri, &json!({"client_id": "e3", "base_version": 1, "origin": "浙江省宁波市"})).await;
    assert_eq!(s, StatusCode::OK, "{merged}");
    assert_eq!(merged["changed"], json!(["origin"]));
    assert_eq!(merged["person"]["origin"], "浙江省宁波市");
    assert_eq!(merged["person"]["version"], 3);
    // An edit that asks for the value stored since is no conflict.
    let (s, same) = patch_json(r, &uri, &json!({"client_id": "e4", "base_version": 1, "phone": "13900000001"})).await;
    assert_eq!((s, same["changed"].clone()), (StatusCode::OK, json!([])), "{same}");
    // Bad edits are named.
    let (s, e) = patch_json(r, &uri, &json!({"client_id": "e5", "base_version": 3, "phone": "call me"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(e["message"].as_str().unwrap().starts_with("phone:"), "{e}");
    let (s, _) = patch_json(r, &uri, &json!({"client_id": "e6", "base_version": 3})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);

    // The conflict is listed (to the caseworker and the center) and resolved by keeping the edit.
    let (_, open) = get(r, "/api/conflicts").await;
    let listed = open["conflicts"].as_array().unwrap();
    assert_eq!(listed.len(), 1, "{open}");
    assert_eq!(listed[0]["person_id"], person);
    let id = listed[0]["id"].as_u64().unwrap();
    // A caseworker of another grid neither sees nor resolves it.
    let grid = f.db.int(&format!("SELECT CAST(grid_id AS BIGINT) FROM person_conflicts WHERE id = {id}")).await;
    let other = f.db.texts(&format!("SELECT code FROM grids WHERE id <> {grid} ORDER BY id LIMIT 1")).await.remove(0);
    let outsider = signed_in(
        f.anonymous.clone(),
        rentgrid_server::access::Principal { grids: vec![other], ..principal(Role::Caseworker) },
    );
    let (s, theirs) = get(&outsider, "/api/conflicts").await;
    assert_eq!((s, theirs["conflicts"].clone()), (StatusCode::OK, json!([])));
    let (s, _) = post_json(&outsider, &format!("/api/conflicts/{id}/resolve"), r#"{"keep":"theirs"}"#).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, resolved) = post_json(r, &format!("/api/conflicts/{id}/resolve"), r#"{"keep":"mine"}"#).await;
    assert_eq!(s, StatusCode::OK, "{resolved}");
    assert_eq!(resolved["changed"], json!(["phone"]));
    assert_eq!(phone(person).await, vec!["13900000002".to_owned()]);
    let (_, open) = get(r, "/api/conflicts").await;
    assert_eq!(open["conflicts"], json!([]));
    let (s, _) = post_json(r, &format!("/api/conflicts/{id}/resolve"), r#"{"keep":"theirs"}"#).await;
    assert_eq!(s, StatusCode::CONFLICT, "resolved already");
    let (_, all) = get(r, "/api/conflicts?all=true").await;
    assert_eq!(all["conflicts"][0]["resolution"], "mine");
    // Each read of the list shows persons' values (masked): one audit row, naming the persons.
    let read =
        f.db.texts("SELECT target FROM audit_log WHERE action = 'conflict_read' AND outcome = 'ok' ORDER BY seq").await;
    assert_eq!(read.len(), 4, "{read:?}");
    assert_eq!(read[0], format!("GET /api/conflicts conflicts {id} persons {person}"));
    assert_eq!(read[1], "GET /api/conflicts conflicts  persons ", "the outsider's empty list");
    assert_eq!(read[3], format!("GET /api/conflicts?all=true conflicts {id} persons {person}"));
    f.done().await;
}

async fn a_write_far_from_its_building_is_accepted_and_flagged(backend: crate::common::Backend) {
    let f = Fixture::seeded(backend).await;
    let r = &f.router;
    let [(unit, building, _), (_, other, _)] = two_units(&f.db).await;
    let at = f.atlas().building(building).unwrap().point;
    // About 1.1 km north of the entrance, and 5 m from it.
    let far = json!({ "lon": at.x(), "lat": at.y() + 0.01, "accuracy_m": 20.0 });
    let near = json!({ "lon": at.x(), "lat": at.y() + 0.000_045, "accuracy_m": 8.0 });
    let person = json!({ "client_id": "far-1", "id_number": id_number(), "name": "赵六", "phone": "13700000000",
                         "position": far });
    let (s, added) = post_json(r, &format!("/api/units/{unit}/persons"), &person.to_string()).await;
    assert_eq!(s, StatusCode::CREATED, "accepted all the same: {added}");
    let visit = |client: &str, b: u32, position: &Value| {
        json!({ "client_id": client, "building_id": b, "position": position }).to_string()
    };
    let (s, v) = post_json(r, "/api/visits", &visit("near-1", building, &near)).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    // At the first building's entrance is far from the second building (unless they stand together).
    let distance = geo::Distance::distance(&geo::Haversine, at, f.atlas().building(other).unwrap().point);
    let (s, v) = post_json(r, "/api/visits", &visit("far-2", other, &near)).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let bad = json!({ "lon": 200.0, "lat": 0.0, "accuracy_m": 5.0 });
    let (s, e) = post_json(r, "/api/visits", &visit("bad-1", building, &bad)).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(e["message"].as_str().unwrap().starts_with("position:"), "{e}");

    let (s, flags) = get(r, "/api/field/flags").await;
    assert_eq!(s, StatusCode::OK, "{flags}");
    assert_eq!(flags["far_m"], 150.0);
    let flagged: Vec<(&str, &str)> = flags["writes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| (w["kind"].as_str().unwrap(), w["client_id"].as_str().unwrap()))
        .collect();
    assert!(flagged.contains(&("resident", "far-1")), "{flags}");
    assert!(!flagged.iter().any(|w| w.1 == "near-1"), "5 m away is not flagged: {flags}");
    assert_eq!(flagged.iter().any(|w| w.1 == "far-2"), distance > 150.0, "{distance} m: {flags}");
    let one = flags["writes"].as_array().unwrap().iter().find(|w| w["client_id"] == "far-1").unwrap();
    let metres = one["distance_m"].as_f64().unwrap();
    assert!((1_100.0..1_125.0).contains(&metres), "0.01° of latitude is about 1,112 m: {metres}");
    assert_eq!(one["username"], "test-center");
    // Leads for supervisors and the center: a caseworker does not list them.
    let caseworker = signed_in(f.anonymous.clone(), principal(Role::Caseworker));
    let (s, _) = get(&caseworker, "/api/field/flags").await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    f.done().await;
}

async fn buildings_not_visited_within_their_limit_are_overdue(backend: crate::common::Backend) {
    let f = Fixture::seeded(backend).await;
    let r = &f.router;
    let (s, list) = get(r, "/api/overdue").await;
    assert_eq!(s, StatusCode::OK, "{list}");
    assert_eq!((list["days"].as_u64(), list["concentrated_days"].as_u64()), (Some(90), Some(30)));
    let today =
        time::Date::parse(list["as_of"].as_str().unwrap(), &time::format_description::well_known::Iso8601::DATE)
            .unwrap();

    // The same list worked out here from the tables: buildings with rental units whose last
    // visit is older than their limit (30 days with concentrated housing, else 90), or none.
    let units = f.db.ints("SELECT CAST(building_id AS BIGINT) FROM rental_units GROUP BY building_id").await;
    let concentrated =
        f.db.ints("SELECT CAST(building_id AS BIGINT) FROM rental_units WHERE concentrated GROUP BY building_id").await;
    let last: std::collections::HashMap<i64, time::Date> =
        f.db.texts(
            "SELECT CAST(building_id AS TEXT) || ' ' || CAST(MAX(visited_on) AS TEXT) FROM visits GROUP BY building_id",
        )
        .await
        .iter()
        .map(|t| {
            let (b, d) = t.split_once(' ').unwrap();
            let d = time::Date::parse(d, &time::format_description::well_known::Iso8601::DATE).unwrap();
            (b.parse().unwrap(), d)
        })
        .collect();
    let expected: std::collections::BTreeSet<i64> = units
        .iter()
        .copied()
        .filter(|b| {
            let limit = if concentrated.contains(b) { 30 } else { 90 };
            last.get(b).is_none_or(|d| (today - *d).whole_days() > limit)
        })
        .collect();
    assert!(!expected.is_empty(), "the demo city has overdue buildings");
    let listed: std::collections::BTreeSet<i64> =
        list["buildings"].as_array().unwrap().iter().map(|b| b["building_id"].as_i64().unwrap()).collect();
    assert_eq!(list["number_matched"].as_u64(), Some(expected.len() as u64));
    assert!(listed.is_subset(&expected), "{list}");
    assert_eq!(listed.len(), expected.len().min(2_000));
    // Each where a map shows it: the building's point.
    for b in list["buildings"].as_array().unwrap() {
        let point = f.atlas().building(b["building_id"].as_u64().unwrap() as u32).unwrap().point;
        assert_eq!((b["lon"].as_f64(), b["lat"].as_f64()), (Some(point.x()), Some(point.y())), "{b}");
    }
    // Never visited first, then the longest overdue.
    let since: Vec<Option<u64>> =
        list["buildings"].as_array().unwrap().iter().map(|b| b["days_since"].as_u64()).collect();
    let first_visited = since.iter().position(Option::is_some).unwrap_or(since.len());
    assert!(since[first_visited..].iter().all(Option::is_some), "never-visited first");
    assert!(since[first_visited..].windows(2).all(|w| w[0] >= w[1]), "then the longest overdue");

    // A visit today takes a building off the list.
    let b = list["buildings"][0]["building_id"].as_u64().unwrap();
    let (s, v) = post_json(r, "/api/visits", &json!({ "client_id": "overdue-1", "building_id": b }).to_string()).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (_, after) = get(r, "/api/overdue").await;
    assert_eq!(after["number_matched"].as_u64(), Some(expected.len() as u64 - 1));
    assert!(after["buildings"].as_array().unwrap().iter().all(|x| x["building_id"] != b));

    // One caseworker's list is their grids' part; the counts per caseworker add up.
    let cw = &after["caseworkers"][0];
    let id = cw["caseworker_id"].as_u64().unwrap();
    let (s, theirs) = get(r, &format!("/api/overdue?caseworker={id}")).await;
    assert_eq!(s, StatusCode::OK, "{theirs}");
    assert_eq!(theirs["number_matched"], cw["overdue"]);
    assert!(
        theirs["buildings"].as_array().unwrap().iter().all(|x| x["caseworker_ids"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c.as_u64() == Some(id)))
    );
    // A shorter list counts them all the same.
    let (s, three) = get(r, &format!("/api/overdue?caseworker={id}&limit=3")).await;
    assert_eq!(s, StatusCode::OK, "{three}");
    assert_eq!(three["number_matched"], theirs["number_matched"]);
    assert_eq!(three["buildings"].as_array().unwrap()[..], theirs["buildings"].as_array().unwrap()[..3]);
    let (s, e) = get(r, "/api/overdue?limit=0").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(e["message"].as_str().unwrap().starts_with("limit:"), "{e}");
    let (s, e) = get(r, "/api/overdue?days=0").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(e["message"].as_str().unwrap().starts_with("days:"), "{e}");
    f.done().await;
}

async fn a_buildings_units_are_listed_empty_ones_too_within_scope(backend: crate::common::Backend) {
    let f = Fixture::seeded(backend).await;
    let caseworkers = f.store.caseworkers().await.unwrap();
    let atlas = f.atlas();
    // A caseworker holding a building with a rental unit where nobody lives (no person recorded)
    // beside another unit.
    let empty =
        f.db.texts(
            "SELECT CAST(u.id AS TEXT) || ' ' || CAST(u.building_id AS TEXT) FROM rental_units u \
             WHERE u.id NOT IN (SELECT h.rental_unit_id FROM households h JOIN persons p ON p.household_id = h.id \
                                WHERE p.left_on IS NULL) \
             AND u.building_id IN (SELECT building_id FROM rental_units GROUP BY building_id HAVING COUNT(*) > 1) \
             ORDER BY u.id",
        )
        .await;
    let (me, unit, building) = empty
        .iter()
        .find_map(|t| {
            let (u, b) = t.split_once(' ')?;
            let (u, b): (u32, u32) = (u.parse().ok()?, b.parse().ok()?);
            let grid = atlas.building(b)?.grid_id;
            Some((caseworkers.iter().find(|c| c.grids.contains(&grid))?, u, b))
        })
        .expect("a caseworker's building with an empty rental unit beside another");
    let cw = signed_in(f.anonymous.clone(), Principal { caseworker: Some(me.id), ..principal(Role::Caseworker) });
    let path = format!("/api/buildings/{building}/units");

    // Every unit of the building, empty ones too, each with the persons living in it now.
    let (s, list) = get(&cw, &path).await;
    assert_eq!(s, StatusCode::OK, "{list}");
    assert_eq!(list["building_id"], building);
    assert_eq!(list["address"], atlas.building(building).unwrap().address.as_str());
    let ids = f.db.ints(&format!("SELECT CAST(id AS BIGINT) FROM rental_units WHERE building_id = {building}")).await;
    let units = list["units"].as_array().unwrap();
    let listed: std::collections::BTreeSet<i64> = units.iter().map(|u| u["id"].as_i64().unwrap()).collect();
    assert_eq!(listed, ids.iter().copied().collect(), "{list}");
    for u in units {
        let id = u["id"].as_u64().unwrap();
        let living =
            f.db.int(&format!(
                "SELECT CAST(COUNT(*) AS BIGINT) FROM persons p JOIN households h ON h.id = p.household_id \
                 WHERE h.rental_unit_id = {id} AND p.left_on IS NULL"
            ))
            .await;
        assert_eq!(u["persons"].as_i64(), Some(living), "unit {id}: {u}");
        assert!(u.get("name").is_none() && u.get("persons_list").is_none(), "no person is named: {u}");
    }
    let empty = units.iter().find(|u| u["id"] == unit).unwrap();
    assert_eq!(empty["persons"], 0);

    // Someone registered into the empty unit from its card is counted there at once.
    let body = json!({ "client_id": "units-1", "id_number": id_number(), "name": "王小明", "phone": "13800001111" });
    let (s, added) = post_json(&cw, &format!("/api/units/{unit}/persons"), &body.to_string()).await;
    assert_eq!(s, StatusCode::CREATED, "{added}");
    let (_, list) = get(&cw, &path).await;
    let now = list["units"].as_array().unwrap().iter().find(|u| u["id"] == unit).unwrap().clone();
    assert_eq!(now["persons"], 1, "{list}");

    // Outside the caseworker's grids, or no such building: 404 (the command center sees it).
    let outside = atlas.buildings().iter().find(|b| !me.grids.contains(&b.grid_id)).unwrap().id;
    let (s, e) = get(&cw, &format!("/api/buildings/{outside}/units")).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{e}");
    let (s, _) = get(&f.router, &format!("/api/buildings/{outside}/units")).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = get(&f.router, "/api/buildings/4000000000/units").await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // A role that works with no single building: 403.
    for role in [Role::Leader, Role::Auditor] {
        let (s, e) = get(&signed_in(f.anonymous.clone(), principal(role)), &path).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{role}: {e}");
    }
    f.done().await;
}
