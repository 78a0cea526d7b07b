//! 蚕食法 sweep campaigns through the HTTP API on both stores: the unregistered candidates, a
//! plan that nibbles the area contiguously and covers each block once, the day's routes, phases
//! that advance only in order, idempotent campaign visits, and a campaign run end to end against
//! the demo city's hidden ground truth.

use crate::common::{Backend, Db, Fixture, get, post_json, principal, signed_in};
use axum::Router;
use axum::http::StatusCode;
use geo::BoundingRect as _;
use rentgrid_geodata::{Atlas, polygon_neighbours};
use rentgrid_server::access::{Principal, Role};
use serde_json::{Value, json};
use std::collections::{BTreeSet, HashMap};

on_both_stores!(
    a_caller_sees_the_part_of_a_campaign_in_their_grids,
    candidates_are_ranked_with_reasons_and_refuse_bad_parameters,
    a_plan_nibbles_contiguously_and_covers_the_area_once,
    each_building_of_a_day_is_on_exactly_one_route,
    phases_advance_only_in_order,
    a_replayed_campaign_visit_changes_nothing,
    a_days_campaign_visits_are_listed_within_scope,
    bad_campaign_requests_name_the_field,
    a_campaign_registers_what_the_weakest_grid_hides,
);

async fn post(router: &Router, uri: &str, body: &Value) -> (StatusCode, Value) {
    post_json(router, uri, &body.to_string()).await
}

/// Asserts an error response: the status, a stable code and a message that mentions `hint`.
fn assert_error(res: &(StatusCode, Value), status: StatusCode, hint: &str) {
    assert_eq!(res.0, status, "{}", res.1);
    assert!(res.1["code"].is_string(), "no code in {}", res.1);
    let msg = res.1["message"].as_str().unwrap_or_default();
    assert!(msg.contains(hint), "message {msg:?} does not mention {hint:?}");
}

fn ids(v: &Value) -> Vec<u32> {
    v.as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as u32).collect()
}

/// The grids with people, weakest 流动人口登记率 first.
pub(crate) async fn weakest_grids(r: &Router) -> Vec<u32> {
    let (_, stats) = get(r, "/api/stats?level=grid").await;
    let mut rows: Vec<(f64, u32)> = stats["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|row| Some((row["reg_rate"].as_f64()?, row["grid_id"].as_u64()? as u32)))
        .collect();
    rows.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    rows.into_iter().map(|r| r.1).collect()
}

/// Two caseworkers of the district.
async fn team(db: &Db) -> Vec<u32> {
    db.ints("SELECT CAST(id AS BIGINT) FROM caseworkers ORDER BY id LIMIT 2")
        .await
        .into_iter()
        .map(|i| i as u32)
        .collect()
}

/// A campaign over `grids`, planned and stored through the API.
pub(crate) async fn campaign(r: &Router, db: &Db, grids: &[u32], start: &str) -> Value {
    let body = json!({
        "grids": grids,
        "caseworkers": team(db).await,
        "start_date": start,
        "working_days": 260,
        "buildings_per_day": 6,
        "recheck_weeks": 3,
    });
    let (status, c) = post(r, "/api/campaigns", &body).await;
    assert_eq!(status, StatusCode::CREATED, "{c}");
    c
}

/// Block ids of `grids` in the Atlas, and Rook adjacency between block ids.
fn area_blocks(atlas: &Atlas, grids: &[u32]) -> (BTreeSet<u32>, HashMap<u32, BTreeSet<u32>>) {
    let blocks: Vec<_> = atlas.blocks().iter().filter(|b| grids.contains(&b.grid_id)).collect();
    let polys: Vec<_> = blocks.iter().map(|b| &b.geometry).collect();
    let adjacency = polygon_neighbours(&polys)
        .into_iter()
        .enumerate()
        .map(|(i, nbs)| (blocks[i].id, nbs.into_iter().map(|j| blocks[j as usize].id).collect()))
        .collect();
    (blocks.iter().map(|b| b.id).collect(), adjacency)
}

async fn candidates_are_ranked_with_reasons_and_refuse_bad_parameters(backend: Backend) {
    let f = Fixture::seeded(backend).await;
    let r = &f.router;
    let (status, all) = get(r, "/api/unregistered-candidates?limit=50").await;
    assert_eq!(status, StatusCode::OK, "{all}");
    let features = all["features"].as_array().unwrap();
    assert_eq!(features.len(), 50);
    assert!(all["numberMatched"].as_u64().unwrap() >= 50);
    let values: Vec<f64> = features.iter().map(|x| x["properties"]["expected_units"].as_f64().unwrap()).collect();
    assert!(values.windows(2).all(|w| w[0] >= w[1]), "ranked by expected units: {values:?}");
    for (i, x) in features.iter().enumerate() {
        let p = &x["properties"];
        assert_eq!(p["rank"], i + 1);
        assert_eq!(x["geometry"]["type"], "Point");
        let (lo, mid, hi) = (
            p["units_low"].as_f64().unwrap(),
            p["expected_units"].as_f64().unwrap(),
            p["units_high"].as_f64().unwrap(),
        );
        assert!(lo <= mid && mid <= hi, "interval {lo} {mid} {hi}");
        let building = f.atlas().building(p["building_id"].as_u64().unwrap() as u32).unwrap();
        assert_eq!(p["grid_id"], building.grid_id);
    }
    // The strongest candidate says why, in both languages.
    let reasons = features[0]["properties"]["reasons"].as_array().unwrap();
    assert!(!reasons.is_empty());
    assert!(reasons.iter().all(|x| x["code"].is_string() && x["zh"].is_string() && x["en"].is_string()));
    // A box holds only its own buildings, ranked the same way.
    let b = f.atlas().building(features[0]["properties"]["building_id"].as_u64().unwrap() as u32).unwrap();
    let (x, y) = (b.point.x(), b.point.y());
    let (_, boxed) =
        get(r, &format!("/api/unregistered-candidates?bbox={},{},{},{}", x - 0.002, y - 0.002, x + 0.002, y + 0.002))
            .await;
    assert_eq!(boxed["features"][0]["properties"]["building_id"], b.id);
    for bad in ["bbox=1,2,3", "bbox=121.6,29.8,121.5,29.9", "limit=0", "limit=x", "limit=100001"] {
        let res = get(r, &format!("/api/unregistered-candidates?{bad}")).await;
        assert_error(&res, StatusCode::BAD_REQUEST, bad.split('=').next().unwrap());
    }
    f.done().await;
}

async fn a_plan_nibbles_contiguously_and_covers_the_area_once(backend: Backend) {
    let f = Fixture::seeded(backend).await;
    let r = &f.router;
    let weakest = weakest_grids(r).await[0];
    let mut grids = vec![weakest];
    grids.extend(f.atlas().neighbours(weakest).iter().take(2));
    let c = campaign(r, &f.db, &grids, "2026-09-07").await;
    let plan = &c["plan"];
    let order: Vec<u32> =
        plan["blocks"].as_array().unwrap().iter().map(|b| b["block_id"].as_u64().unwrap() as u32).collect();
    let (expected, adjacency) = area_blocks(f.atlas(), &grids);
    assert_eq!(order.len(), expected.len(), "each block once");
    assert_eq!(order.iter().copied().collect::<BTreeSet<_>>(), expected);
    // 以点带面: each block touches one swept before it, unless it starts a new connected part
    // (and then no unswept block touched the swept area).
    let mut swept = BTreeSet::new();
    for (k, b) in plan["blocks"].as_array().unwrap().iter().enumerate() {
        let id = order[k];
        let touches = adjacency[&id].iter().any(|n| swept.contains(n));
        if b["starts_part"] == true {
            let frontier_left = swept.iter().any(|s| adjacency[s].iter().any(|n| !swept.contains(n)));
            assert!(k == 0 || !frontier_left, "block {id} jumps away while the swept area still has neighbours");
        } else {
            assert!(touches, "block {id} does not touch the swept area");
        }
        swept.insert(id);
        let phases: Vec<&str> = b["phases"].as_array().unwrap().iter().map(|p| p["phase"].as_str().unwrap()).collect();
        assert_eq!(phases, ["investigate", "clear", "rectify", "consolidate"]);
    }
    // Every building of the area is in exactly one block and on exactly one day.
    let mut in_blocks: Vec<u32> =
        plan["blocks"].as_array().unwrap().iter().flat_map(|b| ids(&b["buildings"])).collect();
    let mut on_days: Vec<u32> = plan["days"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|d| d["assignments"].as_array().unwrap().iter().flat_map(|a| ids(&a["buildings"])))
        .collect();
    let mut area: Vec<u32> = grids.iter().flat_map(|&g| f.atlas().grid(g).unwrap().buildings.clone()).collect();
    for v in [&mut in_blocks, &mut on_days, &mut area] {
        v.sort_unstable();
    }
    assert_eq!(in_blocks, area);
    assert_eq!(on_days, area);
    // The 巩固 re-check comes the asked weeks after clearing; the KPI the area should reach is there.
    let first = &plan["blocks"][0]["phases"];
    assert!(first[3]["start"].as_str().unwrap() > first[1]["end"].as_str().unwrap());
    assert!(plan["days"][0]["projected_rental_rate"].is_number());
    // The stored campaign reads back, listed and alone, every block not started yet.
    let id = c["id"].as_u64().unwrap();
    let (_, one) = get(r, &format!("/api/campaigns/{id}")).await;
    assert_eq!(one["plan"], c["plan"]);
    assert_eq!(one["progress"]["not_started"], order.len());
    assert_eq!(one["blocks"]["features"].as_array().unwrap().len(), order.len());
    assert_eq!(one["blocks"]["features"][0]["properties"]["order"], 1);
    let (_, list) = get(r, "/api/campaigns").await;
    assert_eq!(list["campaigns"][0]["id"], id);
    f.done().await;
}

async fn each_building_of_a_day_is_on_exactly_one_route(backend: Backend) {
    let f = Fixture::seeded(backend).await;
    let r = &f.router;
    let grids = weakest_grids(r).await[..2].to_vec();
    let c = campaign(r, &f.db, &grids, "2026-09-07").await;
    let id = c["id"].as_u64().unwrap();
    for day in c["plan"]["days"].as_array().unwrap().iter().take(3) {
        let date = day["date"].as_str().unwrap();
        let (status, routes) = get(r, &format!("/api/campaigns/{id}/routes?date={date}")).await;
        assert_eq!(status, StatusCode::OK, "{routes}");
        let mut planned: Vec<u32> =
            day["assignments"].as_array().unwrap().iter().flat_map(|a| ids(&a["buildings"])).collect();
        let mut stops: Vec<u32> = routes["features"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|x| x["properties"]["kind"] == "stop")
            .map(|x| x["properties"]["building_id"].as_u64().unwrap() as u32)
            .collect();
        planned.sort_unstable();
        stops.sort_unstable();
        assert_eq!(stops, planned, "{date}: every building once");
        for route in routes["features"].as_array().unwrap().iter().filter(|x| x["properties"]["kind"] == "route") {
            let p = &route["properties"];
            assert!(p["total_m"].as_f64().unwrap() <= p["nearest_neighbour_m"].as_f64().unwrap(), "{p}");
            // The line walks from the station through every stop of this caseworker and back.
            let line = route["geometry"]["coordinates"].as_array().unwrap();
            let station = routes["features"].as_array().unwrap().iter().find(|x| {
                x["properties"]["kind"] == "station" && x["properties"]["caseworker_id"] == p["caseworker_id"]
            });
            let station = &station.unwrap()["geometry"]["coordinates"];
            assert_eq!((&line[0], line.last().unwrap()), (station, station));
            let mine = routes["features"].as_array().unwrap().iter().filter(|x| {
                x["properties"]["kind"] == "stop" && x["properties"]["caseworker_id"] == p["caseworker_id"]
            });
            let mut at = 0;
            for stop in mine {
                let found = line[at..].iter().position(|c| c == &stop["geometry"]["coordinates"]);
                at += found.unwrap_or_else(|| panic!("the line skips stop {}", stop["properties"]["order"]));
            }
        }
    }
    let (_, none) = get(r, &format!("/api/campaigns/{id}/routes?date=2026-09-06")).await;
    assert_eq!(none["working_day"], false, "a Sunday");
    assert_error(&get(r, &format!("/api/campaigns/{id}/routes?date=6.9.2026")).await, StatusCode::BAD_REQUEST, "date");
    assert_error(&get(r, &format!("/api/campaigns/{id}/routes")).await, StatusCode::BAD_REQUEST, "date");
    assert_error(&get(r, "/api/campaigns/999/routes?date=2026-09-07").await, StatusCode::NOT_FOUND, "999");
    f.done().await;
}

pub(crate) async fn phase(r: &Router, campaign: u64, block: u64, phase: &str) -> (StatusCode, Value) {
    post(r, &format!("/api/campaigns/{campaign}/blocks/{block}/phase"), &json!({ "phase": phase })).await
}

async fn phases_advance_only_in_order(backend: Backend) {
    let f = Fixture::seeded(backend).await;
    let r = &f.router;
    let c = campaign(r, &f.db, &weakest_grids(r).await[..1], "2026-09-07").await;
    let id = c["id"].as_u64().unwrap();
    let block = c["plan"]["blocks"][0]["block_id"].as_u64().unwrap();
    assert_error(&phase(r, id, block, "清理").await, StatusCode::CONFLICT, "排查");
    assert_eq!(phase(r, id, block, "排查").await.1["phase"], "investigate");
    assert_error(&phase(r, id, block, "investigate").await, StatusCode::CONFLICT, "phase");
    assert_error(&phase(r, id, block, "巩固").await, StatusCode::CONFLICT, "phase");
    assert_eq!(phase(r, id, block, "cleanup").await.1["phase"], "clear");
    assert_eq!(phase(r, id, block, "整治").await.1["phase"], "rectify");
    assert_error(&phase(r, id, block, "清理").await, StatusCode::CONFLICT, "phase");
    assert_eq!(phase(r, id, block, "consolidate").await.1["phase"], "consolidate");
    assert_error(&phase(r, id, block, "巩固").await, StatusCode::CONFLICT, "phase");
    assert_error(&phase(r, id, block, "sleep").await, StatusCode::UNPROCESSABLE_ENTITY, "phase");
    assert_error(&phase(r, id, 999_999, "排查").await, StatusCode::NOT_FOUND, "999999");
    assert_error(&phase(r, 999, block, "排查").await, StatusCode::NOT_FOUND, "campaign 999");
    let (_, one) = get(r, &format!("/api/campaigns/{id}")).await;
    assert_eq!(one["progress"]["consolidate"], 1);
    assert_eq!(one["blocks"]["features"][0]["properties"]["phase"], "consolidate");
    f.done().await;
}

/// A visit of campaign `id` to `building`, registering nothing.
fn visit(id: u64, building: u32, client: &str) -> Value {
    json!({ "client_id": client, "building_id": building, "campaign_id": id, "visited_on": "2026-09-08" })
}

async fn block_phase(r: &Router, id: u64, block: u64) -> Value {
    let (_, one) = get(r, &format!("/api/campaigns/{id}")).await;
    let features = one["blocks"]["features"].as_array().unwrap().clone();
    features.into_iter().find(|x| x["id"] == block).unwrap()["properties"]["phase"].clone()
}

async fn a_replayed_campaign_visit_changes_nothing(backend: Backend) {
    let f = Fixture::seeded(backend).await;
    let r = &f.router;
    let c = campaign(r, &f.db, &weakest_grids(r).await[..1], "2026-09-07").await;
    let id = c["id"].as_u64().unwrap();
    // A block of two buildings or more: the first visit starts 排查, the last moves it to 清理.
    let blocks = c["plan"]["blocks"].as_array().unwrap();
    let b = blocks.iter().find(|b| b["buildings"].as_array().unwrap().len() >= 2).expect("a block of 2+ buildings");
    let (block, buildings) = (b["block_id"].as_u64().unwrap(), ids(&b["buildings"]));
    let first = visit(id, buildings[0], "sweep-0");
    let (status, created) = post(r, "/api/visits", &first).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["campaign_block"]["phase"], "investigate");
    let before = get(r, &format!("/api/campaigns/{id}")).await.1;
    let (status, replay) = post(r, "/api/visits", &first).await;
    assert_eq!((status, &replay["replayed"]), (StatusCode::OK, &json!(true)));
    assert_eq!(get(r, &format!("/api/campaigns/{id}")).await.1, before);
    for (i, &bd) in buildings.iter().enumerate().skip(1) {
        assert_eq!(post(r, "/api/visits", &visit(id, bd, &format!("sweep-{i}"))).await.0, StatusCode::CREATED);
    }
    assert_eq!(block_phase(r, id, block).await, "clear");
    assert_eq!(phase(r, id, block, "整治").await.0, StatusCode::OK);
    // Replaying every visit now moves nothing back or on.
    let settled = get(r, &format!("/api/campaigns/{id}")).await.1;
    for (i, &bd) in buildings.iter().enumerate() {
        assert_eq!(post(r, "/api/visits", &visit(id, bd, &format!("sweep-{i}"))).await.0, StatusCode::OK);
    }
    assert_eq!(get(r, &format!("/api/campaigns/{id}")).await.1, settled);
    assert_eq!(block_phase(r, id, block).await, "rectify");
    // A building outside the campaign is refused whole.
    let outside = f
        .atlas()
        .buildings()
        .iter()
        .find(|x| !c["plan"]["grids"].as_array().unwrap().contains(&json!(x.grid_id)))
        .unwrap();
    let res = post(r, "/api/visits", &visit(id, outside.id, "sweep-outside")).await;
    assert_error(&res, StatusCode::UNPROCESSABLE_ENTITY, "not in campaign");
    assert_eq!(f.db.int("SELECT COUNT(*) FROM visits WHERE client_id = 'sweep-outside'").await, 0);
    // The checks of a visit run in one order on both stores: a unit not in the building is named
    // before the campaign the building is not in.
    let mut both = visit(id, outside.id, "sweep-outside-unit");
    both["register_units"] = json!([u32::MAX]);
    let res = post(r, "/api/visits", &both).await;
    assert_error(&res, StatusCode::UNPROCESSABLE_ENTITY, "is not in building");
    f.done().await;
}

/// What the phone view reads after a reload: the campaign's visits of a day, one caseworker's
/// if asked, each with its client id, within the caller's grids.
async fn a_days_campaign_visits_are_listed_within_scope(backend: Backend) {
    let f = Fixture::seeded(backend).await;
    let r = &f.router;
    let grid = weakest_grids(r).await[0];
    let c = campaign(r, &f.db, &[grid], "2026-09-07").await;
    let id = c["id"].as_u64().unwrap();
    let cws = team(&f.db).await;
    let buildings: Vec<u32> =
        c["plan"]["blocks"].as_array().unwrap().iter().flat_map(|b| ids(&b["buildings"])).collect();
    let by = |client: &str, building: u32, cw: u32, day: &str| json!({ "client_id": client, "building_id": building, "caseworker_id": cw, "campaign_id": id, "visited_on": day });
    for body in [
        by("day-a", buildings[0], cws[0], "2026-09-08"),
        by("day-b", buildings[1], cws[1], "2026-09-08"),
        by("day-c", buildings[2], cws[0], "2026-09-09"),
    ] {
        assert_eq!(post(r, "/api/visits", &body).await.0, StatusCode::CREATED);
    }
    let clients = |v: &Value| -> Vec<String> {
        v["visits"].as_array().unwrap().iter().map(|x| x["client_id"].as_str().unwrap().to_owned()).collect()
    };
    let (s, day) = get(r, &format!("/api/campaigns/{id}/visits?date=2026-09-08")).await;
    assert_eq!(s, StatusCode::OK, "{day}");
    assert_eq!(clients(&day), ["day-a", "day-b"]);
    assert_eq!(day["visits"][0]["building_id"], buildings[0]);
    let (_, one) = get(r, &format!("/api/campaigns/{id}/visits?date=2026-09-08&caseworker={}", cws[0])).await;
    assert_eq!(clients(&one), ["day-a"]);
    assert_error(&get(r, &format!("/api/campaigns/{id}/visits")).await, StatusCode::BAD_REQUEST, "date");
    assert_error(
        &get(r, &format!("/api/campaigns/{id}/visits?date=2026-09-08&caseworker=x")).await,
        StatusCode::BAD_REQUEST,
        "caseworker",
    );
    assert_error(&get(r, "/api/campaigns/999/visits?date=2026-09-08").await, StatusCode::NOT_FOUND, "999");
    // Someone whose grids the campaign does not touch does not see it.
    let atlas = f.atlas();
    let elsewhere = atlas.grids().iter().find(|g| g.grid.id != grid).unwrap().grid.code.clone();
    let outsider = signed_in(f.anonymous.clone(), Principal { grids: vec![elsewhere], ..principal(Role::Caseworker) });
    assert_eq!(get(&outsider, &format!("/api/campaigns/{id}/visits?date=2026-09-08")).await.0, StatusCode::NOT_FOUND);
    f.done().await;
}

async fn bad_campaign_requests_name_the_field(backend: Backend) {
    let f = Fixture::seeded(backend).await;
    let r = &f.router;
    let team = team(&f.db).await;
    let grid = weakest_grids(r).await[0];
    let good = json!({ "grids": [grid], "caseworkers": team, "start_date": "2026-09-07", "working_days": 260, "buildings_per_day": 6 });
    let with = |k: &str, v: Value| {
        let mut b = good.clone();
        b[k] = v;
        b
    };
    let cases = [
        (with("grids", json!([])), "grids"),
        (with("grids", json!([999_999])), "grids"),
        (with("caseworkers", json!([999_999])), "caseworkers"),
        (with("caseworkers", json!([])), "caseworkers"),
        (with("start_date", json!("2026-13-01")), "start_date"),
        (with("buildings_per_day", json!(0)), "buildings_per_day"),
        (with("working_days", json!(1)), "working_days"),
        (with("seed_block", json!(999_999)), "seed_block"),
        (with("polygon", json!({ "type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]] })), "polygon"),
    ];
    for (body, field) in cases {
        assert_error(&post(r, "/api/campaigns", &body).await, StatusCode::UNPROCESSABLE_ENTITY, field);
    }
    // A polygon far from every block holds no block.
    let mut far = good.clone();
    far.as_object_mut().unwrap().remove("grids");
    far["polygon"] =
        json!({ "type": "Polygon", "coordinates": [[[100.0, 10.0], [100.01, 10.0], [100.01, 10.01], [100.0, 10.0]]] });
    assert_error(&post(r, "/api/campaigns", &far).await, StatusCode::UNPROCESSABLE_ENTITY, "area");
    assert_eq!(f.db.int("SELECT COUNT(*) FROM campaigns").await, 0);
    f.done().await;
}

/// The known unregistered units and persons of a building, and what the demo hides there.
async fn hidden_in(db: &Db, building: u32) -> (Vec<u32>, Vec<u32>, (i64, i64)) {
    let units = db
        .ints(&format!(
            "SELECT CAST(id AS BIGINT) FROM rental_units WHERE building_id = {building} AND NOT registered ORDER BY id"
        ))
        .await;
    let persons = db
        .ints(&format!(
            "SELECT CAST(id AS BIGINT) FROM persons WHERE building_id = {building} AND NOT registered ORDER BY id"
        ))
        .await;
    let hidden = db.ints(&format!("SELECT CAST(units AS BIGINT) FROM demo_hidden WHERE building_id = {building} UNION ALL SELECT CAST(persons AS BIGINT) FROM demo_hidden WHERE building_id = {building}")).await;
    let to_u32 = |v: Vec<i64>| v.into_iter().map(|i| i as u32).collect();
    (to_u32(units), to_u32(persons), (hidden.first().copied().unwrap_or(0), hidden.get(1).copied().unwrap_or(0)))
}

/// Sum of the candidates' expected units in `grid`.
async fn expected_in(r: &Router, atlas: &Atlas, grid: u32) -> f64 {
    let bb = atlas.grid(grid).unwrap().grid.geometry.bounding_rect().unwrap();
    let uri = format!(
        "/api/unregistered-candidates?bbox={},{},{},{}&limit=10000",
        bb.min().x,
        bb.min().y,
        bb.max().x,
        bb.max().y
    );
    let (_, c) = get(r, &uri).await;
    c["features"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["properties"]["grid_id"] == grid)
        .map(|x| x["properties"]["expected_units"].as_f64().unwrap())
        .sum()
}

/// The Monday three weeks before today.
fn recent_monday() -> String {
    let day = time::OffsetDateTime::now_utc().date() - time::Duration::days(21);
    (day - time::Duration::days(i64::from(day.weekday().number_days_from_monday()))).to_string()
}

async fn a_campaign_registers_what_the_weakest_grid_hides(backend: Backend) {
    let f = Fixture::seeded(backend).await;
    let r = &f.router;
    // The weakest grid where the demo hides something.
    let mut grid = None;
    for g in weakest_grids(r).await {
        let hidden = f.db.int(&format!("SELECT CAST(COALESCE(SUM(h.units), 0) AS BIGINT) FROM demo_hidden h JOIN buildings b ON b.id = h.building_id WHERE b.grid_id = {g}")).await;
        if hidden > 0 {
            grid = Some(g);
            break;
        }
    }
    let grid = grid.expect("the demo hides units somewhere");
    let kpi = |v: &Value, k: &str| v["properties"][k].as_f64().unwrap_or(0.0);
    let before = get(r, &format!("/api/grids/{grid}")).await.1;
    let expected_before = expected_in(r, f.atlas(), grid).await;
    // Three weeks ago: the sweep's visits are recent, as the estimate weighs them.
    let c = campaign(r, &f.db, &[grid], &recent_monday()).await;
    let id = c["id"].as_u64().unwrap();
    let mut found_units = 0;
    for day in c["plan"]["days"].as_array().unwrap() {
        let date = day["date"].as_str().unwrap();
        // Each caseworker walks the day's route and records each stop.
        let (_, routes) = get(r, &format!("/api/campaigns/{id}/routes?date={date}")).await;
        for stop in routes["features"].as_array().unwrap().iter().filter(|x| x["properties"]["kind"] == "stop") {
            let building = stop["properties"]["building_id"].as_u64().unwrap() as u32;
            let (units, persons, (hidden_units, hidden_persons)) = hidden_in(&f.db, building).await;
            let new_units: Vec<Value> = (0..hidden_units)
                .map(|k| {
                    let tenants =
                        hidden_persons / hidden_units.max(1) + i64::from(k < hidden_persons % hidden_units.max(1));
                    json!({ "label": format!("暗-{k}"), "tenants": tenants, "registered": true, "pledge_signed": true })
                })
                .collect();
            found_units += hidden_units;
            let body = json!({
                "client_id": format!("e2e-{building}"),
                "building_id": building,
                "caseworker_id": stop["properties"]["caseworker_id"],
                "campaign_id": id,
                "visited_on": date,
                "register_units": units,
                "pledge_units": units,
                "register_persons": persons,
                "new_units": new_units,
                "notes": "逐户清查",
            });
            let (status, v) = post(r, "/api/visits", &body).await;
            assert_eq!(status, StatusCode::CREATED, "{v}");
        }
    }
    assert!(found_units > 0);
    let after = get(r, &format!("/api/grids/{grid}")).await.1;
    assert!(kpi(&after, "rental_rate") > kpi(&before, "rental_rate"), "{before} → {after}");
    assert!(kpi(&after, "reg_rate") >= kpi(&before, "reg_rate"));
    assert_eq!(after["properties"]["rental_rate"], 1.0, "every known unit and every found one is registered");
    let expected_after = expected_in(r, f.atlas(), grid).await;
    assert!(expected_after < expected_before, "candidates {expected_before} → {expected_after}");
    // Every block was investigated to the end and moved to 清理.
    let (_, one) = get(r, &format!("/api/campaigns/{id}")).await;
    assert_eq!(one["progress"]["buildings_visited"], one["progress"]["buildings"]);
    let with_buildings = c["plan"]["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| !b["buildings"].as_array().unwrap().is_empty())
        .count();
    assert_eq!(one["progress"]["clear"], with_buildings);
    f.done().await;
}

async fn a_caller_sees_the_part_of_a_campaign_in_their_grids(backend: Backend) {
    let f = Fixture::seeded(backend).await;
    let atlas = f.atlas();
    let with_blocks: Vec<u32> =
        weakest_grids(&f.router).await.into_iter().filter(|&g| atlas.blocks().iter().any(|b| b.grid_id == g)).collect();
    let (mine, theirs) = (with_blocks[0], with_blocks[1]);
    let c = campaign(&f.router, &f.db, &[mine, theirs], "2026-09-07").await;
    let id = c["id"].as_u64().unwrap();
    let code = |g: u32| atlas.grid(g).unwrap().grid.code.clone();
    let user = |grids: Vec<String>| {
        let p = Principal { grids, ..principal(Role::Caseworker) };
        signed_in(f.anonymous.clone(), p)
    };
    let me = user(vec![code(mine)]);
    let (s, part) = get(&me, &format!("/api/campaigns/{id}")).await;
    assert_eq!(s, StatusCode::OK, "{part}");
    let blocks = part["blocks"]["features"].as_array().unwrap();
    assert!(!blocks.is_empty());
    assert!(blocks.iter().all(|b| b["properties"]["grid_id"] == mine), "only the blocks of their grid");
    for b in blocks {
        assert!(b["properties"]["planned"].is_array(), "each block keeps its own planned dates: {b}");
    }
    let in_mine = |b: &Value| atlas.building(b.as_u64().unwrap() as u32).unwrap().grid_id == mine;
    let days = part["plan"]["days"].as_array().unwrap();
    let stops: Vec<&Value> = days
        .iter()
        .flat_map(|d| d["assignments"].as_array().unwrap())
        .flat_map(|a| a["buildings"].as_array().unwrap())
        .collect();
    assert!(!stops.is_empty() && stops.iter().all(|b| in_mine(b)), "only the buildings of their grid");
    assert!(part["plan"]["blocks"].as_array().unwrap().iter().all(|b| b["grid_id"] == mine));
    let (_, list) = get(&me, "/api/campaigns").await;
    let listed = list["campaigns"].as_array().unwrap().iter().find(|x| x["id"] == id).expect("listed");
    assert_eq!(listed["progress"]["blocks"].as_u64(), Some(blocks.len() as u64), "{listed}");
    // Their block moves; the other grid's does not, and looks like no block of theirs.
    let (_, whole) = get(&f.router, &format!("/api/campaigns/{id}")).await;
    let block_of = |g: u32| {
        whole["blocks"]["features"].as_array().unwrap().iter().find(|b| b["properties"]["grid_id"] == g).unwrap()["id"]
            .as_u64()
            .unwrap()
    };
    let phase = json!({ "phase": "排查" });
    let (s, body) = post(&me, &format!("/api/campaigns/{id}/blocks/{}/phase", block_of(theirs)), &phase).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{body}");
    let (s, body) = post(&me, &format!("/api/campaigns/{id}/blocks/{}/phase", block_of(mine)), &phase).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    // Someone with neither grid does not see the campaign at all.
    let elsewhere = atlas.grids().iter().map(|g| g.grid.id).find(|g| *g != mine && *g != theirs).unwrap();
    let (s, _) = get(&user(vec![code(elsewhere)]), &format!("/api/campaigns/{id}")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    f.done().await;
}
