//! The drill-down over HTTP, on both stores (`GET /api/places/{place}`): from the district down to
//! a grid each place has its breadcrumb, the figures `/api/stats` gives it, a trend whose last
//! month is today's, and the places one level down; a grid lists its buildings, each with a trend
//! of its own over the same months (`GET /api/buildings/{id}/trend`), whose units and households
//! are read from their own endpoints (masked, audited). A caseworker cannot open a place outside
//! their grids, and a leader sees places and figures only.

use crate::common::{Fixture, get, principal, signed_in};
use axum::Router;
use axum::http::StatusCode;
use rentgrid_server::access::{Principal, Role};
use serde_json::Value;
use std::collections::BTreeMap;

on_both_stores!(
    the_center_drills_from_the_district_to_a_household,
    a_caseworker_opens_only_their_own_grids,
    a_leader_sees_places_and_figures_only,
    a_buildings_trend_counts_a_registration_from_its_month_on,
);

/// The fields a place's figures share with its `/api/stats` row.
const FIGURES: [&str; 7] =
    ["persons", "persons_registered", "reg_rate", "rental_rate", "pledge_rate", "reg_rate_est", "reg_rate_verdict"];

async fn place(router: &Router, place: &str) -> Value {
    let (s, body) = get(router, &format!("/api/places/{place}")).await;
    assert_eq!(s, StatusCode::OK, "{place}: {body}");
    body
}

/// The `/api/stats` row of `code` at `level`.
async fn stats_row(router: &Router, level: &str, code: &str) -> Value {
    let (_, stats) = get(router, &format!("/api/stats?level={level}")).await;
    stats["rows"].as_array().unwrap().iter().find(|r| r["code"] == code).cloned().unwrap()
}

/// The months of a place's or a building's trend.
fn months(v: &Value) -> Vec<String> {
    v["trend"].as_array().unwrap().iter().map(|p| p["month"].as_str().unwrap().to_owned()).collect()
}

/// A building's trend, as `router` answers it.
async fn building_trend(router: &Router, building: i64) -> Value {
    let (s, body) = get(router, &format!("/api/buildings/{building}/trend")).await;
    assert_eq!(s, StatusCode::OK, "building {building}: {body}");
    body
}

/// The levels of a breadcrumb.
fn levels(path: &Value) -> Vec<&str> {
    path.as_array().unwrap().iter().map(|p| p["level"].as_str().unwrap()).collect()
}

async fn the_center_drills_from_the_district_to_a_household(backend: crate::common::Backend) {
    let f = Fixture::seeded(backend).await;
    let r = &f.router;
    let district = place(r, "district").await;
    assert_eq!(district["level"], "district");
    assert!(levels(&district["path"]).is_empty());
    assert_eq!(district["targets"]["reg_rate"], 0.9);
    assert_eq!(district["targets"]["rental_rate"], 0.95);
    let row = stats_row(r, "district", district["code"].as_str().unwrap()).await;
    for k in FIGURES {
        assert_eq!(district[k], row[k], "district {k}");
    }
    // The trend: the history's months, the last being today's register.
    let (_, summary) = get(r, "/api/summary").await;
    assert_eq!(months(&district), months(&summary));
    assert_eq!(district["trend"].as_array().unwrap().last().unwrap()["reg_rate"], district["reg_rate"]);
    assert_eq!(district["children"].as_array().unwrap().len(), f.atlas().streets().len());
    assert!(district["grid_buildings"].is_null());

    // A rental unit with a household living in it, and the places above it.
    let unit =
        f.db.int(
            "SELECT CAST(MIN(h.rental_unit_id) AS BIGINT) FROM households h JOIN persons p ON p.household_id = h.id \
         WHERE p.left_on IS NULL",
        )
        .await;
    let building = f.db.int(&format!("SELECT CAST(building_id AS BIGINT) FROM rental_units WHERE id = {unit}")).await;
    let atlas = f.atlas();
    let g = atlas.grid(atlas.building(building as u32).unwrap().grid_id).unwrap();
    let chain = [
        ("street", atlas.streets()[g.street].street.code.clone()),
        ("community", atlas.communities()[g.community].community.code.clone()),
        ("grid", g.grid.code.clone()),
    ];

    // Down its street, community and grid, each a child of the one before, each with its figures.
    let mut at = district;
    for (level, code) in &chain {
        let child = at["children"].as_array().unwrap().iter().find(|c| c["code"] == *code).cloned();
        let child = child.unwrap_or_else(|| panic!("{level} {code} among the children of {}", at["code"]));
        let here = place(r, &format!("{level}:{code}")).await;
        assert_eq!((here["level"].as_str(), here["name"].clone()), (Some(*level), child["name"].clone()));
        let row = stats_row(r, level, code).await;
        for k in FIGURES {
            assert_eq!(here[k], row[k], "{level} {k}");
            assert_eq!(here[k], child[k], "{level} {k} as its parent's child");
        }
        assert_eq!(here["path"].as_array().unwrap().last().unwrap()["code"], at["code"]);
        assert!(here["children"].as_array().unwrap().iter().all(|c| c["parent_code"] == *code), "children of {code}");
        at = here;
    }
    let grid = at;
    assert_eq!(levels(&grid["path"]), ["district", "street", "community"]);
    assert!(grid["path"].as_array().unwrap().iter().all(|p| p["in_scope"] == true));
    assert!(grid["children"].as_array().unwrap().is_empty());
    let buildings = grid["grid_buildings"].as_array().unwrap();
    assert_eq!(grid["grid_id"].as_u64(), Some(u64::from(g.grid.id)));
    assert_eq!(buildings.len(), g.buildings.len());
    let sum: u64 = buildings.iter().map(|b| b["persons"].as_u64().unwrap()).sum();
    assert_eq!(Some(sum), grid["persons"].as_u64(), "a grid's persons are its buildings'");

    // The building: its trend over the grid's months, the last being its figures today.
    let listed = buildings.iter().find(|b| b["id"] == building).expect("the unit's building is the grid's");
    let trend = building_trend(r, building).await;
    assert_eq!(
        (trend["building_id"].as_i64(), trend["grid_code"].as_str()),
        (Some(building), Some(g.grid.code.as_str()))
    );
    assert_eq!(months(&trend), months(&grid));
    assert_eq!(trend["targets"], grid["targets"]);
    let today = trend["trend"].as_array().unwrap().last().unwrap();
    for k in ["persons", "persons_registered", "rental_units", "rental_units_registered"] {
        assert_eq!(today[k], listed[k], "the building's {k} today");
    }
    let rate = |k: &str, n: &str| listed[k].as_f64().unwrap() / listed[n].as_f64().unwrap();
    assert_eq!(today["reg_rate"].as_f64(), Some(rate("persons_registered", "persons")));
    assert_eq!(today["rental_rate"].as_f64(), Some(rate("rental_units_registered", "rental_units")));

    // Its units, then the household card, masked and audited.
    let (s, units) = get(r, &format!("/api/buildings/{building}/units")).await;
    assert_eq!(s, StatusCode::OK, "{units}");
    assert!(units["units"].as_array().unwrap().iter().any(|u| u["id"] == unit));
    let reads = "SELECT COUNT(*) FROM audit_log WHERE action = 'person_read'";
    let before = f.db.int(reads).await;
    let (s, card) = get(r, &format!("/api/units/{unit}")).await;
    assert_eq!((s, &card["masked"]), (StatusCode::OK, &Value::Bool(true)), "{card}");
    let person = &card["households"][0]["persons"][0];
    assert!(person["name"].as_str().unwrap().contains('*') && person["id_number"].as_str().unwrap().contains('*'));
    assert_eq!(f.db.int(reads).await, before + 1, "the household card's read is audited");

    // Bad and unknown places.
    for (p, status) in [
        ("grid", StatusCode::BAD_REQUEST),
        ("planet:1", StatusCode::BAD_REQUEST),
        ("grid:0000", StatusCode::NOT_FOUND),
        ("street:0000", StatusCode::NOT_FOUND),
    ] {
        let (s, body) = get(r, &format!("/api/places/{p}")).await;
        assert_eq!(s, status, "{p}: {body}");
        assert!(!body["message"].as_str().unwrap().is_empty());
    }
    assert_eq!(get(&f.anonymous, "/api/places/district").await.0, StatusCode::UNAUTHORIZED);
    f.done().await;
}

async fn a_caseworker_opens_only_their_own_grids(backend: crate::common::Backend) {
    let f = Fixture::seeded(backend).await;
    let atlas = f.atlas();
    let caseworkers = f.store.caseworkers().await.unwrap();
    // A caseworker with a grid of buildings.
    let built = |g: &u32| atlas.grid(*g).is_some_and(|e| !e.buildings.is_empty());
    let me = caseworkers.iter().find(|c| c.grids.iter().any(built)).expect("a caseworker with buildings");
    let cw = signed_in(f.anonymous.clone(), Principal { caseworker: Some(me.id), ..principal(Role::Caseworker) });
    let mine = atlas.grid(*me.grids.iter().find(|g| built(g)).unwrap()).unwrap();
    let here = place(&cw, &format!("grid:{}", mine.grid.code)).await;
    assert!(here["grid_buildings"].is_array());
    // Their breadcrumb names the places above, which they do not see whole.
    assert_eq!(levels(&here["path"]), ["district", "street", "community"]);
    assert_eq!(here["path"][0]["in_scope"], false);

    let theirs = atlas.grids().iter().find(|g| !me.grids.contains(&g.grid.id)).unwrap();
    for p in [format!("grid:{}", theirs.grid.code), "district".into()] {
        let (s, body) = get(&cw, &format!("/api/places/{p}")).await;
        assert_eq!((s, body["code"].as_str()), (StatusCode::FORBIDDEN, Some("forbidden")), "{p}: {body}");
        assert!(body["message"].as_str().unwrap().contains("outside your scope"), "{body}");
    }
    // A building of their grid has its trend; one of another's grid is not found, as everywhere.
    assert_eq!(months(&building_trend(&cw, i64::from(mine.buildings[0])).await), months(&here));
    let b = atlas.buildings().iter().find(|b| !me.grids.contains(&b.grid_id)).unwrap();
    for path in [format!("/api/buildings/{}/units", b.id), format!("/api/buildings/{}/trend", b.id)] {
        assert_eq!(get(&cw, &path).await.0, StatusCode::NOT_FOUND, "{path}");
    }
    f.done().await;
}

async fn a_leader_sees_places_and_figures_only(backend: crate::common::Backend) {
    let f = Fixture::seeded(backend).await;
    let leader = signed_in(f.anonymous.clone(), principal(Role::Leader));
    let reads = "SELECT COUNT(*) FROM audit_log WHERE action IN ('person_read', 'person_reveal')";
    let before = f.db.int(reads).await;
    let district = place(&leader, "district").await;
    let street = district["children"][0]["code"].as_str().unwrap().to_string();
    let street = place(&leader, &format!("street:{street}")).await;
    let community = street["children"][0]["code"].as_str().unwrap().to_string();
    let community = place(&leader, &format!("community:{community}")).await;
    let grid = community["children"][0]["code"].as_str().unwrap().to_string();
    let grid = place(&leader, &format!("grid:{grid}")).await;
    assert!(grid["grid_buildings"].is_null(), "no building for a leader: {grid}");
    assert!(!grid["trend"].as_array().unwrap().is_empty());
    // Below the grid: refused, and nothing of a person is read.
    let b = f.atlas().buildings()[0].id;
    for path in [
        format!("/api/buildings/{b}/units"),
        "/api/units/1".into(),
        format!("/api/buildings/{b}"),
        format!("/api/buildings/{b}/trend"),
    ] {
        assert_eq!(get(&leader, &path).await.0, StatusCode::FORBIDDEN, "{path}");
    }
    assert_eq!(f.db.int(reads).await, before, "a leader's drill reads no person");
    f.done().await;
}

async fn a_buildings_trend_counts_a_registration_from_its_month_on(backend: crate::common::Backend) {
    let f = Fixture::seeded(backend).await;
    let r = &f.router;
    let months = months(&place(r, "district").await);
    // Persons registered at home, by building and month of the registration, in buildings nobody
    // moved out of (so that only registrations change their registered persons month by month).
    let rows =
        f.db.texts(
            "SELECT CAST(building_id AS TEXT) || ' ' || CAST(registered_on AS TEXT) FROM persons \
             WHERE registered AND registered_on IS NOT NULL AND left_on IS NULL \
             AND building_id NOT IN (SELECT building_id FROM residences)",
        )
        .await;
    let mut registered: BTreeMap<(i64, String), i64> = BTreeMap::new();
    for row in rows {
        let (b, day) = row.split_once(' ').unwrap();
        *registered.entry((b.parse().unwrap(), day[..7].to_owned())).or_default() += 1;
    }
    // A building with registrations dated in a month of the trend after its first.
    let ((building, month), n) = registered.iter().find(|((_, m), _)| months[1..].contains(m)).expect("a registration");
    let i = months.iter().position(|m| m == month).unwrap();
    let trend = building_trend(r, *building).await;
    assert_eq!(trend["trend"].as_array().unwrap().len(), months.len());
    let at = |i: usize| trend["trend"][i]["persons_registered"].as_i64().unwrap();
    assert!(at(i) >= *n, "{month}: {trend}");
    assert_eq!(
        at(i - 1),
        at(i) - n,
        "at the end of {}, the {n} registered in {month} are not yet registered",
        months[i - 1]
    );
    f.done().await;
}
