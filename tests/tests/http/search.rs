//! `GET /api/search`: places by code, pinyin initials, survey id and address with a room; what
//! each role finds (its scope; persons masked and audited for the roles that read them, none for
//! a leader); bad queries refused; and places added after the start (an import's building, a
//! visit's rental unit) found at once.

use crate::common::{Backend, Fixture, get, post_json, principal, send, signed_in};
use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use rentgrid_server::access::{Principal, Role};
use serde_json::{Value, json};

on_both_stores!(
    places_are_found_by_code_pinyin_initials_survey_id_and_address,
    persons_are_found_masked_and_audited_only_by_roles_that_read_them,
    a_caseworker_and_a_supervisor_find_nothing_outside_their_scope,
    a_building_imported_and_a_unit_found_at_the_door_are_found_at_once,
);

/// `s` percent-encoded for a query string.
fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The results of searching `q` as `router`'s caller (asserting a 200).
async fn search(router: &Router, q: &str) -> Vec<Value> {
    let (status, body) = get(router, &format!("/api/search?q={}&limit=20", enc(q))).await;
    assert_eq!(status, StatusCode::OK, "{q}: {body}");
    body["results"].as_array().unwrap().clone()
}

/// True when `results` hold a `kind` with `field` equal to `value`.
fn holds(results: &[Value], kind: &str, field: &str, value: &Value) -> bool {
    results.iter().any(|r| r["kind"] == kind && &r[field] == value)
}

async fn places_are_found_by_code_pinyin_initials_survey_id_and_address(backend: Backend) {
    let f = Fixture::seeded(backend).await;
    let atlas = f.atlas();
    let r = &f.router;

    // A grid by its code: first, whole, with where to fly and what to show.
    let g = &atlas.grids()[atlas.grids().len() / 2];
    let found = search(r, &g.grid.code).await;
    let first = &found[0];
    assert_eq!((first["kind"].as_str(), first["id"].as_u64()), (Some("grid"), Some(u64::from(g.grid.id))));
    assert_eq!((first["matched"].as_str(), first["name"].as_str()), (Some("exact"), Some(g.grid.name.as_str())));
    let p = first["point"].as_array().unwrap();
    assert_eq!((p[0].as_f64(), p[1].as_f64()), (Some(g.label_point.x()), Some(g.label_point.y())));
    let bbox: Vec<f64> = first["bbox"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    assert!(bbox[0] <= p[0].as_f64().unwrap() && p[0].as_f64().unwrap() <= bbox[2]);

    // A street by its pinyin initials (鼓楼街道: gu lou jie dao) and by a part of its name.
    let gulou = atlas.streets().iter().find(|s| s.street.name == "鼓楼街道").expect("鼓楼街道 in the demo city");
    let code = json!(gulou.street.code);
    for q in ["gljd", "gl", "鼓楼", "楼街道"] {
        assert!(holds(&search(r, q).await, "street", "code", &code), "{q}");
    }
    assert_eq!(search(r, "gljd").await[0]["matched"], "pinyin");

    // A building by its survey id, and by its standard address.
    let b = &atlas.buildings()[atlas.buildings().len() / 3];
    let by_id = search(r, &b.external_id).await;
    assert_eq!((by_id[0]["kind"].as_str(), by_id[0]["id"].as_u64()), (Some("building"), Some(u64::from(b.id))));
    assert_eq!(by_id[0]["point"], json!([b.point.x(), b.point.y()]));
    let street = &atlas.streets()[atlas.grid(b.grid_id).unwrap().street].street.name;
    let standard = format!("{}{street}{}", atlas.district().name, b.address);
    assert_eq!(search(r, &standard).await[0]["id"], b.id);

    // A rental unit by its building's address and room.
    let unit_id =
        f.db.int(&format!("SELECT CAST(MIN(id) AS BIGINT) FROM rental_units WHERE building_id = {}", b.id)).await;
    let label = f.db.texts(&format!("SELECT label FROM rental_units WHERE id = {unit_id}")).await.remove(0);
    let units = search(r, &format!("{standard}{label}室")).await;
    assert!(holds(&units, "unit", "id", &json!(unit_id)), "{units:?}");

    // Bad queries: a 400 that says why; anonymous: 401.
    for (q, why) in [("", "empty"), ("%20%20", "empty"), (&"x".repeat(65), "65")] {
        let (status, body) = get(r, &format!("/api/search?q={q}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{q}");
        assert!(body["message"].as_str().unwrap().contains(why), "{body}");
    }
    assert_eq!(get(r, "/api/search").await.0, StatusCode::BAD_REQUEST);
    assert_eq!(get(r, "/api/search?q=gl&limit=0").await.0, StatusCode::BAD_REQUEST);
    assert_eq!(get(r, "/api/search?q=gl&kinds=planet").await.0, StatusCode::BAD_REQUEST);
    let (status, body) = get(&f.anonymous, "/api/search?q=gl").await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("unauthorized")));
    f.done().await;
}

async fn audit_rows(f: &Fixture) -> i64 {
    f.db.int("SELECT COUNT(*) FROM audit_log WHERE action = 'person_read'").await
}

async fn persons_are_found_masked_and_audited_only_by_roles_that_read_them(backend: Backend) {
    let f = Fixture::seeded(backend).await;
    // A person whose name is theirs alone, and the grid of their home.
    let id = f.db.int("SELECT CAST(MIN(id) AS BIGINT) FROM persons WHERE left_on IS NULL AND name IN (SELECT name FROM persons GROUP BY name HAVING COUNT(*) = 1)").await;
    let name = f.db.texts(&format!("SELECT name FROM persons WHERE id = {id}")).await.remove(0);
    let number = f.db.texts(&format!("SELECT id_number FROM persons WHERE id = {id}")).await.remove(0);
    let grid =
        f.db.int(&format!(
            "SELECT CAST(b.grid_id AS BIGINT) FROM persons p JOIN buildings b ON b.id = p.building_id WHERE p.id = {id}"
        ))
        .await;
    let tail = &number[number.len() - 4..];

    let masked_name: String = name.chars().take(1).chain(name.chars().skip(1).map(|_| '*')).collect();
    let masked_number = format!("{}********{tail}", &number[..6]);
    for (role, street, mine) in [
        (Role::Center, None, None),
        (Role::Supervisor, Some(street_of(&f, grid)), None),
        (Role::Caseworker, None, Some(grid)),
    ] {
        let p = Principal {
            street,
            grids: mine.map(|g| vec![f.atlas().grid(g as u32).unwrap().grid.code.clone()]).unwrap_or_default(),
            ..principal(role)
        };
        let router = signed_in(f.anonymous.clone(), p);
        let before = audit_rows(&f).await;
        let (status, body) = get(&router, &format!("/api/search?q={}", enc(&name))).await;
        assert_eq!(status, StatusCode::OK, "{role}: {body}");
        assert_eq!(body["searched_persons"], true);
        let hit = body["results"].as_array().unwrap().iter().find(|r| r["kind"] == "person" && r["id"] == id);
        let hit = hit.unwrap_or_else(|| panic!("{role} finds {name}: {body}"));
        assert_eq!(hit["name"], masked_name.as_str(), "{role}");
        assert!(hit["context"].as_str().unwrap().starts_with(&masked_number), "{hit}");
        let results = body["results"].to_string();
        assert!(!results.contains(&number) && !results.contains(&name), "nothing unmasked: {body}");
        assert_eq!(audit_rows(&f).await, before + 1, "{role}: one audit row per person search");

        // By the last 4 characters of the ID number.
        let found = search(&router, tail).await;
        assert!(holds(&found, "person", "id", &json!(id)), "{role} by {tail}: {found:?}");
        assert_eq!(audit_rows(&f).await, before + 2);
    }
    let target =
        f.db.texts("SELECT target FROM audit_log WHERE action = 'person_read' ORDER BY seq DESC LIMIT 1").await;
    assert!(target[0].starts_with("GET /api/search?q=") && target[0].contains(&id.to_string()), "{target:?}");

    // A caseworker elsewhere: searched and audited, but not found.
    let other = f.atlas().grids().iter().find(|g| i64::from(g.grid.id) != grid).unwrap();
    let elsewhere = signed_in(
        f.anonymous.clone(),
        Principal { grids: vec![other.grid.code.clone()], ..principal(Role::Caseworker) },
    );
    assert!(!holds(&search(&elsewhere, &name).await, "person", "id", &json!(id)));

    // A leader: no person is searched, nothing audited; asking for persons is refused.
    let leader = signed_in(f.anonymous.clone(), principal(Role::Leader));
    let before = audit_rows(&f).await;
    let (status, body) = get(&leader, &format!("/api/search?q={}", enc(&name))).await;
    assert_eq!((status, &body["searched_persons"]), (StatusCode::OK, &json!(false)), "{body}");
    assert!(
        body["results"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| ["street", "community", "grid"].contains(&r["kind"].as_str().unwrap()))
    );
    assert!(search(&leader, tail).await.iter().all(|r| r["kind"] != "person"));
    let (status, body) = get(&leader, &format!("/api/search?q={tail}&kinds=person")).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::FORBIDDEN, Some("forbidden")), "{body}");
    let b = &f.atlas().buildings()[0];
    assert!(search(&leader, &b.external_id).await.iter().all(|r| r["kind"] != "building"), "no building for a leader");
    assert_eq!(audit_rows(&f).await, before, "a leader's searches read no person");
    // The administrators: refused by the policy.
    let auditor = signed_in(f.anonymous.clone(), principal(Role::Auditor));
    assert_eq!(get(&auditor, "/api/search?q=gl").await.0, StatusCode::FORBIDDEN);
    f.done().await;
}

/// The code of the street of `grid`.
fn street_of(f: &Fixture, grid: i64) -> String {
    let atlas = f.atlas();
    atlas.streets()[atlas.grid(grid as u32).unwrap().street].street.code.clone()
}

async fn a_caseworker_and_a_supervisor_find_nothing_outside_their_scope(backend: Backend) {
    let f = Fixture::seeded(backend).await;
    let atlas = f.atlas();
    let caseworkers = f.store.caseworkers().await.unwrap();
    let me = caseworkers
        .iter()
        .find(|c| atlas.buildings().iter().any(|b| c.grids.contains(&b.grid_id)))
        .expect("a caseworker with buildings in their grids");
    let cw = signed_in(f.anonymous.clone(), Principal { caseworker: Some(me.id), ..principal(Role::Caseworker) });
    let mine = atlas.grid(me.grids[0]).unwrap();
    let theirs = atlas.grids().iter().find(|g| !me.grids.contains(&g.grid.id)).unwrap();
    assert!(holds(&search(&cw, &mine.grid.code).await, "grid", "id", &json!(mine.grid.id)));
    assert!(search(&cw, &theirs.grid.code).await.is_empty(), "another's grid");
    let my_building = atlas.buildings().iter().find(|b| me.grids.contains(&b.grid_id)).unwrap();
    let other_building = atlas.buildings().iter().find(|b| !me.grids.contains(&b.grid_id)).unwrap();
    assert!(holds(&search(&cw, &my_building.external_id).await, "building", "id", &json!(my_building.id)));
    assert!(search(&cw, &other_building.external_id).await.iter().all(|r| r["id"] != other_building.id));
    // Themself, by name, with their area; no other caseworker.
    let by_name = search(&cw, &me.name).await;
    assert!(holds(&by_name, "caseworker", "id", &json!(me.id)), "{by_name:?}");
    assert!(by_name.iter().filter(|r| r["kind"] == "caseworker").all(|r| r["id"] == me.id));
    // Every result a caseworker gets lies in their grids (a community or street only when all of
    // its grids are theirs).
    let all_mine = |grids: &[u32]| grids.iter().all(|g| me.grids.contains(g));
    for q in ["gl", "社区", "1"] {
        for r in search(&cw, q).await {
            match r["kind"].as_str().unwrap() {
                "community" => {
                    let c = atlas.communities().iter().find(|c| r["code"] == c.community.code.as_str()).unwrap();
                    assert!(all_mine(&c.grids), "{q}: {r}");
                }
                "street" => {
                    let s = atlas.streets().iter().find(|s| r["code"] == s.street.code.as_str()).unwrap();
                    assert!(all_mine(&s.grids), "{q}: {r}");
                }
                "grid" => assert!(me.grids.contains(&(r["id"].as_u64().unwrap() as u32))),
                "building" => {
                    let b = atlas.building(r["id"].as_u64().unwrap() as u32).unwrap();
                    assert!(me.grids.contains(&b.grid_id), "{q}: {r}");
                }
                "caseworker" => assert_eq!(r["id"], me.id),
                other => panic!("{q}: a caseworker finds a {other}: {r}"),
            }
        }
    }

    // A supervisor of one street: its places, not another street's.
    let (own, other) = (&atlas.streets()[0], &atlas.streets()[1]);
    let sup = signed_in(
        f.anonymous.clone(),
        Principal { street: Some(own.street.code.clone()), ..principal(Role::Supervisor) },
    );
    assert!(holds(&search(&sup, &own.street.name).await, "street", "code", &json!(own.street.code)));
    assert!(search(&sup, &other.street.name).await.iter().all(|r| r["code"] != json!(other.street.code)));
    let outside = atlas.grid(other.grids[0]).unwrap();
    assert!(search(&sup, &outside.grid.code).await.is_empty());
    let team = caseworkers.iter().find(|c| c.street_code == other.street.code).unwrap();
    assert!(search(&sup, &team.name).await.iter().all(|r| r["kind"] != "caseworker" || r["id"] != team.id));
    f.done().await;
}

async fn a_building_imported_and_a_unit_found_at_the_door_are_found_at_once(backend: Backend) {
    let f = Fixture::seeded(backend).await;
    let r = &f.router;
    // The index is built before the new places come.
    assert!(search(r, "SEARCH-B1").await.is_empty());

    let g = &f.atlas().grids()[0];
    let (x, y, d) = (g.label_point.x(), g.label_point.y(), 0.00005);
    let square = json!([[[x - d, y - d], [x + d, y - d], [x + d, y + d], [x - d, y + d], [x - d, y - d]]]);
    let fc = json!({ "type": "FeatureCollection", "features": [
        { "type": "Feature", "properties": { "编号": "SEARCH-B1", "层数": 3, "地址": "搜索路1号" }, "geometry": { "type": "Polygon", "coordinates": square } }
    ]});
    let req = Request::post("/api/imports/buildings")
        .header(header::CONTENT_TYPE, "application/geo+json")
        .body(Body::from(fc.to_string()))
        .unwrap();
    let (status, done) = send(r, req).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    let found = search(r, "search-b1").await;
    assert_eq!(
        (found[0]["kind"].as_str(), found[0]["code"].as_str()),
        (Some("building"), Some("SEARCH-B1")),
        "{found:?}"
    );
    let building = found[0]["id"].as_u64().unwrap();
    assert_eq!(found[0]["name"], "搜索路1号");
    assert!(holds(&search(r, "搜索路").await, "building", "id", &json!(building)), "by the beginning of its address");
    let address = "搜索路1号";

    // A visit finds an unregistered unit in it: found by its building's address and room.
    let body = json!({ "client_id": "search-unit-1", "building_id": building, "new_units": [{ "label": "9-901", "tenants": 2 }] });
    let (status, created) = post_json(r, "/api/visits", &body.to_string()).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let units = search(r, &format!("{address}9-901室")).await;
    assert!(
        units.iter().any(|u| u["kind"] == "unit" && u["name"] == "9-901室" && u["building_id"] == building),
        "{units:?}"
    );
    f.done().await;
}
