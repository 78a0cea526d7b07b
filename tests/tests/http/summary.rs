//! The command center's big screen over HTTP, on both stores (`GET /api/summary`): its KPIs are
//! the district row of `/api/stats` and its last month that of today's register; its tallies of
//! today and of the month count what the store holds; a visit moves them and heads the feed; a
//! caseworker's figures are their own grids' and a leader's have no feed.

use crate::common::{Backend, Fixture, get, post_json, principal, signed_in};
use axum::http::StatusCode;
use rentgrid_server::access::{Principal, Role};
use serde_json::Value;

on_both_stores!(
    the_summary_is_the_district_row_and_counts_what_the_store_holds,
    a_caseworker_sums_their_grids_and_a_leader_gets_no_feed,
);

/// The KPI fields a card shows.
const KPIS: [&str; 6] = ["persons", "persons_registered", "reg_rate", "permit_rate", "rental_rate", "pledge_rate"];

async fn summary(router: &axum::Router) -> Value {
    let (s, body) = get(router, "/api/summary").await;
    assert_eq!(s, StatusCode::OK, "{body}");
    body
}

/// The store's own count of `table` rows dated `col` in [from, to] (`registered` rows only, where
/// the table registers).
async fn dated(f: &Fixture, table: &str, col: &str, from: &str, to: &str) -> i64 {
    let registered = if table == "visits" { "" } else { " AND registered" };
    f.db.int(&format!("SELECT COUNT(*) FROM {table} WHERE {col} >= '{from}' AND {col} <= '{to}'{registered}")).await
}

async fn the_summary_is_the_district_row_and_counts_what_the_store_holds(backend: Backend) {
    let f = Fixture::seeded(backend).await;
    let before = summary(&f.router).await;
    let (_, stats) = get(&f.router, "/api/stats?level=district").await;
    let district = &stats["rows"][0];
    for k in KPIS {
        assert_eq!(before["kpi"][k], district[k], "kpi {k}");
    }
    for k in ["reg_rate_est", "reg_rate_est_low", "reg_rate_est_high", "reg_rate_verdict", "rental_rate_est"] {
        assert_eq!(before["rates"][k], district[k], "rates {k}");
    }
    assert_eq!(before["district"], district["name"]);
    assert_eq!(before["grids"].as_u64(), Some(f.atlas().grids().len() as u64));
    // Month by month: as many months as the history, the last being today's register.
    let trend = before["trend"].as_array().unwrap();
    let (_, hot) = get(&f.router, "/api/hotspots?method=gi").await;
    let months = hot["description"]["months_available"].as_array().unwrap();
    assert_eq!(trend.iter().map(|p| &p["month"]).collect::<Vec<_>>(), months.iter().collect::<Vec<_>>());
    assert_eq!(trend.last().unwrap()["reg_rate"], district["reg_rate"]);

    // Today's and the month's tallies are the store's counts.
    let day = before["day"].as_str().unwrap().to_string();
    let first = format!("{}-01", &day[..7]);
    let today = &before["today"];
    assert_eq!(today["visits"].as_i64(), Some(dated(&f, "visits", "visited_on", &day, &day).await));
    assert_eq!(today["units_registered"].as_i64(), Some(dated(&f, "rental_units", "registered_on", &day, &day).await));
    assert_eq!(today["persons_registered"].as_i64(), Some(dated(&f, "persons", "registered_on", &day, &day).await));
    assert_eq!(before["month"]["visits"].as_i64(), Some(dated(&f, "visits", "visited_on", &first, &day).await));
    let open = f.db.int("SELECT COUNT(*) FROM hazards WHERE status <> 'verified'").await;
    assert_eq!(before["hazards_open"].as_i64(), Some(open));

    // A visit that registers a new unit: counted today, first in the feed, a newer version.
    let building = f.atlas().buildings()[0].id;
    let visit = format!(
        r#"{{"client_id":"summary-1","building_id":{building},"new_units":[{{"label":"S-1","tenants":1,"registered":true}}]}}"#
    );
    let (s, body) = post_json(&f.router, "/api/visits", &visit).await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    let after = summary(&f.router).await;
    assert!(after["version"].as_u64() > before["version"].as_u64());
    assert_eq!(after["today"]["visits"].as_i64(), today["visits"].as_i64().map(|n| n + 1));
    assert_eq!(after["today"]["units_registered"].as_i64(), today["units_registered"].as_i64().map(|n| n + 1));
    assert_eq!(after["month"]["visits"].as_i64(), before["month"]["visits"].as_i64().map(|n| n + 1));
    let newest = &after["recent"][0];
    assert_eq!(newest["building_id"].as_u64(), Some(u64::from(building)));
    assert_eq!(newest["day"].as_str(), Some(day.as_str()));
    assert_eq!(newest["units_registered"].as_u64(), Some(1));
    assert_eq!(newest["address"].as_str(), Some(f.atlas().buildings()[0].address.as_str()));
    let (_, stats) = get(&f.router, "/api/stats?level=district").await;
    assert_eq!(after["kpi"]["rental_rate"], stats["rows"][0]["rental_rate"]);
    // At most 100 of the latest visits; anything else is a 400 naming the parameter.
    let (s, body) = get(&f.router, "/api/summary?recent=101").await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
    let (s, body) = get(&f.router, "/api/summary?colour=red").await;
    assert!(s == StatusCode::BAD_REQUEST && body.to_string().contains("colour"), "{body}");
    assert_eq!(get(&f.anonymous, "/api/summary").await.0, StatusCode::UNAUTHORIZED);
    f.done().await;
}

async fn a_caseworker_sums_their_grids_and_a_leader_gets_no_feed(backend: Backend) {
    let f = Fixture::seeded(backend).await;
    let caseworkers = f.store.caseworkers().await.unwrap();
    let atlas = f.atlas();
    let me = caseworkers
        .iter()
        .find(|c| atlas.buildings().iter().any(|b| c.grids.contains(&b.grid_id)))
        .expect("a caseworker with buildings in their grids");
    let cw = signed_in(f.anonymous.clone(), Principal { caseworker: Some(me.id), ..principal(Role::Caseworker) });
    let leader = signed_in(f.anonymous.clone(), principal(Role::Leader));
    let (mine_before, theirs_before) = (summary(&cw).await, summary(&leader).await);
    let visits = |s: &Value| s["today"]["visits"].as_u64().unwrap();
    // A visit in their grid and one elsewhere (by the center).
    let inside = atlas.buildings().iter().find(|b| me.grids.contains(&b.grid_id)).unwrap().id;
    let outside = atlas.buildings().iter().find(|b| !me.grids.contains(&b.grid_id)).unwrap().id;
    for (n, b) in [inside, outside].into_iter().enumerate() {
        let (s, body) =
            post_json(&f.router, "/api/visits", &format!(r#"{{"client_id":"scope-{n}","building_id":{b}}}"#)).await;
        assert_eq!(s, StatusCode::CREATED, "{body}");
    }
    let mine = summary(&cw).await;
    assert_eq!(mine["grids"].as_u64(), Some(me.grids.len() as u64));
    assert!(mine["district"].is_null());
    let (_, rows) = get(&cw, "/api/stats?level=grid").await;
    let persons: u64 = rows["rows"].as_array().unwrap().iter().map(|r| r["persons"].as_u64().unwrap()).sum();
    assert_eq!(mine["kpi"]["persons"].as_u64(), Some(persons), "their grids' persons");
    assert_eq!(visits(&mine), visits(&mine_before) + 1, "only the visit in their grid");
    let feed = mine["recent"].as_array().unwrap();
    assert!(
        !feed.is_empty() && feed.iter().all(|v| me.grids.contains(&(v["grid_id"].as_u64().unwrap() as u32))),
        "{feed:?}"
    );
    // A leader: the district's figures, no single visit.
    let theirs = summary(&leader).await;
    assert!(theirs["recent"].is_null(), "{}", theirs["recent"]);
    assert_eq!(visits(&theirs), visits(&theirs_before) + 2);
    f.done().await;
}
