//! Every rate two ways over HTTP, on both stores: `/api/stats` rows carry the estimated actual
//! rates (over the recorded and the estimated unrecorded, issue 20) at every level, consistent
//! with the register's rates, summing up the place hierarchy, judged on their interval; a past
//! month's rows leave them null (the current month's are today's); the grids' tiles, the grid
//! features, the OGC items of grids, streets and communities, and the exports carry the same
//! numbers.

use crate::common::{Backend, Fixture, as_center, get, tile_at};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use rentgrid_analysis::kpi::Targets;
use rentgrid_server::{app, startup};
use rentgrid_tiles::decode::{Val, decode};
use serde_json::Value;
use tower::ServiceExt;

on_both_stores!(
    stats_rows_carry_the_estimated_actual_rates_at_every_level,
    verdicts_follow_the_interval_against_the_target,
    a_past_month_has_no_estimate,
    tiles_and_exports_carry_the_estimates_of_the_stats,
    grid_features_and_ogc_items_carry_the_estimates_of_the_stats,
);

const LEVELS: [&str; 4] = ["district", "street", "community", "grid"];

/// The estimated rates of a row: (estimate, low, high, verdict, the register's rate, target key).
const RATES: [(&str, &str, &str); 3] = [
    ("reg_rate_est", "reg_rate", "reg_rate"),
    ("permit_rate_est", "permit_rate", "permit_rate"),
    ("rental_rate_est", "rental_rate", "rental_rate"),
];

/// The unrecorded counts of a row, with their intervals.
const UNRECORDED: [&str; 2] = ["persons_unrecorded", "rental_units_unrecorded"];

fn num(row: &Value, key: &str) -> Option<f64> {
    let v = row.get(key).unwrap_or_else(|| panic!("{key} missing in {row}"));
    if v.is_null() { None } else { Some(v.as_f64().unwrap_or_else(|| panic!("{key} is not a number in {row}"))) }
}

async fn rows(router: &axum::Router, uri: &str) -> (Value, Vec<Value>) {
    let (status, body) = get(router, uri).await;
    assert_eq!(status, StatusCode::OK, "{uri}: {body}");
    let rows = body["rows"].as_array().unwrap().clone();
    (body, rows)
}

/// The verdict of `[low, high]` against `target`, as the issue words it.
fn verdict(low: f64, high: f64, target: f64) -> &'static str {
    if low >= target {
        "met"
    } else if high < target {
        "missed"
    } else {
        "uncertain"
    }
}

async fn stats_rows_carry_the_estimated_actual_rates_at_every_level(backend: Backend) {
    let f = Fixture::seeded(backend).await;
    let mut sums = Vec::new();
    let mut estimated = 0;
    for level in LEVELS {
        let (body, rows) = rows(&f.router, &format!("/api/stats?level={level}")).await;
        assert!(!rows.is_empty(), "{level}");
        let targets = &body["targets"];
        let (mut persons, mut units) = (0.0, 0.0);
        for row in &rows {
            let code = &row["code"];
            for u in UNRECORDED {
                let (est, low, high) = (
                    num(row, &format!("{u}_est")).unwrap_or_else(|| panic!("{level} {code}: no {u}_est")),
                    num(row, &format!("{u}_low")).unwrap(),
                    num(row, &format!("{u}_high")).unwrap(),
                );
                assert!(
                    0.0 <= low && low <= est + 1e-9 && est <= high + 1e-9,
                    "{level} {code}: {u} {low} {est} {high}"
                );
            }
            persons += num(row, "persons_unrecorded_est").unwrap();
            units += num(row, "rental_units_unrecorded_est").unwrap();
            for (est_key, register_key, target_key) in RATES {
                let est = num(row, est_key);
                let low = num(row, &format!("{est_key}_low"));
                let high = num(row, &format!("{est_key}_high"));
                let verdict_key = format!("{register_key}_verdict");
                let v = row.get(&verdict_key).unwrap_or_else(|| panic!("{verdict_key} missing in {row}"));
                let (Some(est), Some(low), Some(high)) = (est, low, high) else {
                    // No denominator either way (nobody recorded, nobody estimated): no rate.
                    assert!(est.is_none() && low.is_none() && high.is_none() && v.is_null(), "{level} {code}: {row}");
                    assert!(num(row, register_key).is_none(), "{level} {code}: {row}");
                    continue;
                };
                estimated += 1;
                assert!(low <= est && est <= high, "{level} {code}: {est_key} {low} {est} {high}");
                assert!((0.0..=1.0).contains(&low) && high <= 1.0, "{level} {code}: {low} {high}");
                match num(row, register_key) {
                    // The register's rate divides by the recorded only: the actual rate is no higher.
                    Some(register) => {
                        assert!(est <= register + 1e-12, "{level} {code}: {est_key} {est} > {register_key} {register}")
                    }
                    // Nobody recorded but somebody estimated: nobody of them registered.
                    None => assert_eq!((est, high), (0.0, 0.0), "{level} {code}: {row}"),
                }
                let target = targets[target_key].as_f64().unwrap();
                assert_eq!(v.as_str(), Some(verdict(low, high, target)), "{level} {code}: {est_key} [{low}, {high}]");
            }
        }
        sums.push((level, persons, units));
    }
    assert!(estimated > 0, "no row has an estimated rate");
    // Each level's unrecorded sum the same grids: the district's equal the sum over its streets,
    // its communities and its grids.
    let (_, district_persons, district_units) = sums[0];
    assert!(district_persons > 0.0, "the demo district hides somebody: {district_persons}");
    for &(level, persons, units) in &sums[1..] {
        assert!(
            (persons - district_persons).abs() <= 1e-6 * district_persons,
            "{level}: {persons} vs {district_persons}"
        );
        assert!(
            (units - district_units).abs() <= 1e-6 * district_units.max(1.0),
            "{level}: {units} vs {district_units}"
        );
    }
    // Asked again, the same snapshot gives the same estimate.
    let (_, again) = rows(&f.router, "/api/stats?level=district").await;
    assert_eq!(num(&again[0], "persons_unrecorded_est"), Some(district_persons));
    f.done().await;
}

/// The district row of a server judging by `targets`.
async fn district_row(f: &Fixture, targets: Targets) -> Value {
    let state = startup::state_for(f.store.clone(), targets, None).await.unwrap();
    let router = as_center(app(state));
    let (_, rows) = rows(&router, "/api/stats?level=district").await;
    rows[0].clone()
}

async fn verdicts_follow_the_interval_against_the_target(backend: Backend) {
    let f = Fixture::seeded(backend).await;
    let (_, rows) = rows(&f.router, "/api/stats?level=district").await;
    let row = &rows[0];
    let (low, high) = (num(row, "reg_rate_est_low").unwrap(), num(row, "reg_rate_est_high").unwrap());
    assert!(low < high, "the district's interval has a width: [{low}, {high}]");
    // A target under the interval is met, one over it missed, one inside it uncertain, whatever
    // the register's own rate says.
    for (target, want) in [(low - 0.01, "met"), (high + 0.001, "missed"), ((low + high) / 2.0, "uncertain")] {
        let targets = Targets { reg_rate: target, permit_rate: target, rental_rate: target, ..Targets::default() };
        let judged = district_row(&f, targets).await;
        assert_eq!(judged["reg_rate_verdict"], want, "target {target}: {judged}");
        assert_eq!(judged["reg_rate_est_low"], row["reg_rate_est_low"], "the estimate does not depend on the target");
        for key in ["permit_rate", "rental_rate"] {
            let (l, h) =
                (num(&judged, &format!("{key}_est_low")).unwrap(), num(&judged, &format!("{key}_est_high")).unwrap());
            assert_eq!(judged[format!("{key}_verdict")], verdict(l, h, target), "{key} at {target}");
        }
    }
    // The register's rate is at the target, the estimated actual one wholly below it: missed.
    let register = num(row, "reg_rate").unwrap();
    if high < register {
        let judged = district_row(&f, Targets { reg_rate: (high + register) / 2.0, ..Targets::default() }).await;
        assert_eq!(judged["reg_rate_verdict"], "missed");
        assert_eq!(judged["reg_status"], "meets", "the register's rate alone meets it");
    }
    f.done().await;
}

async fn a_past_month_has_no_estimate(backend: Backend) {
    let f = Fixture::seeded(backend).await;
    let (_, hot) = get(&f.router, "/api/hotspots?metric=reg_rate").await;
    let months = hot["description"]["months_available"].as_array().unwrap();
    let month = months[0].as_str().unwrap();
    // The current month, the history's last, is today's register: its rows are today's, estimate
    // and all (the leaders' view and the monthly report ask for it by month).
    let current = months.last().unwrap().as_str().unwrap();
    for level in LEVELS {
        let (_, today) = rows(&f.router, &format!("/api/stats?level={level}")).await;
        let (_, now) = rows(&f.router, &format!("/api/stats?level={level}&month={current}")).await;
        assert_eq!(now, today, "{level} at the end of {current}");
        assert!(now.iter().any(|r| num(r, "reg_rate_est").is_some()), "{level} {current}");
    }
    for level in LEVELS {
        let (body, rows) = rows(&f.router, &format!("/api/stats?level={level}&month={month}")).await;
        assert_eq!(body["month"], month);
        assert!(rows.iter().any(|r| num(r, "reg_rate").is_some()), "{level}: the month has rates");
        for row in &rows {
            for key in [
                "persons_unrecorded_est",
                "persons_unrecorded_low",
                "persons_unrecorded_high",
                "reg_rate_est",
                "reg_rate_est_low",
                "reg_rate_est_high",
                "reg_rate_verdict",
                "permit_rate_est",
                "permit_rate_verdict",
                "rental_units_unrecorded_est",
                "rental_rate_est",
                "rental_rate_est_high",
                "rental_rate_verdict",
            ] {
                assert!(row.get(key).is_some_and(Value::is_null), "{level} {month}: {key} in {row}");
            }
        }
    }
    f.done().await;
}

async fn tiles_and_exports_carry_the_estimates_of_the_stats(backend: Backend) {
    let f = Fixture::seeded(backend).await;
    let (_, grids) = rows(&f.router, "/api/stats?level=grid").await;
    let by_id = |id: u64| grids.iter().find(|r| r["grid_id"].as_u64() == Some(id)).unwrap();

    // The grids' tile at the district's centre: each grid's estimate, rounded as tiles round rates.
    let (_, district) = get(&f.router, "/api/district").await;
    let (lon, lat) = (district["center"][0].as_f64().unwrap(), district["center"][1].as_f64().unwrap());
    let (z, x, y) = tile_at(lon, lat, 14);
    let res =
        f.router.clone().oneshot(Request::get(format!("/tiles/grids/{z}/{x}/{y}.mvt")).body(Body::empty()).unwrap());
    let res = res.await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let body = res.into_body().collect().await.unwrap().to_bytes();
    let layers = decode(&body).unwrap();
    let features = &layers.iter().find(|l| l.name == "grids").unwrap().features;
    let mut checked = 0;
    for feature in features {
        let row = by_id(feature.id.unwrap());
        for key in ["reg_rate_est", "reg_rate_est_low", "reg_rate_est_high", "rental_rate_est", "rental_rate_est_high"]
        {
            match (num(row, key), feature.props.get(key)) {
                (Some(want), Some(Val::D(got))) => {
                    assert!(
                        (got - want).abs() <= 0.00005 + 1e-12,
                        "grid {:?} {key}: tile {got}, stats {want}",
                        feature.id
                    );
                    checked += 1;
                }
                (None, None) => {}
                (want, got) => panic!("grid {:?} {key}: tile {got:?}, stats {want:?}", feature.id),
            }
        }
        let verdict = feature.props.get("reg_rate_verdict").map(|v| match v {
            Val::S(s) => s.clone(),
            other => panic!("{other:?}"),
        });
        assert_eq!(verdict.as_deref(), row["reg_rate_verdict"].as_str(), "grid {:?}", feature.id);
    }
    assert!(checked > 0, "no grid of the tile has an estimate");

    // The grids' and streets' exports: the estimate columns hold the rows' numbers.
    for (file, level, key) in [("grids.csv", "grid", "id"), ("streets.csv", "street", "code")] {
        let res =
            f.router.clone().oneshot(Request::get(format!("/api/exports/{file}?lang=en")).body(Body::empty()).unwrap());
        let res = res.await.unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{file}");
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        let mut reader = csv::Reader::from_reader(&bytes[3..]);
        let headers = reader.headers().unwrap().clone();
        let col = |name: &str| headers.iter().position(|h| h == name).unwrap_or_else(|| panic!("{file}: no {name}"));
        let (key_col, est_col, verdict_col, persons_col) =
            (col(key), col("reg_rate_est"), col("reg_rate_verdict"), col("persons_unrecorded_est"));
        let (_, rows) = rows(&f.router, &format!("/api/stats?level={level}")).await;
        let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        assert_eq!(records.len(), rows.len(), "{file}");
        for r in &records {
            let row = rows
                .iter()
                .find(|row| match level {
                    "grid" => row["grid_id"].as_u64().map(|g| g.to_string()).as_deref() == Some(&r[key_col]),
                    _ => row["code"].as_str() == Some(&r[key_col]),
                })
                .unwrap();
            let cell = |c: usize| (!r[c].is_empty()).then(|| r[c].parse::<f64>().unwrap());
            assert_eq!(cell(est_col), num(row, "reg_rate_est"), "{file} {}", &r[key_col]);
            assert_eq!(cell(persons_col), num(row, "persons_unrecorded_est"), "{file} {}", &r[key_col]);
            assert_eq!(Some(&r[verdict_col]).filter(|v| !v.is_empty()), row["reg_rate_verdict"].as_str(), "{file}");
        }
    }
    f.done().await;
}

/// The estimate's fields every place carries.
const ESTIMATE_FIELDS: [&str; 8] = [
    "persons_unrecorded_est",
    "persons_unrecorded_low",
    "persons_unrecorded_high",
    "reg_rate_est",
    "reg_rate_est_low",
    "reg_rate_est_high",
    "rental_rate_est",
    "rental_units_unrecorded_est",
];

async fn grid_features_and_ogc_items_carry_the_estimates_of_the_stats(backend: Backend) {
    let f = Fixture::seeded(backend).await;
    let same = |what: &str, props: &Value, row: &Value| {
        for key in ESTIMATE_FIELDS.iter().chain(&["reg_rate_verdict", "rental_rate_verdict"]) {
            assert_eq!(props[key], row[key], "{what}: {key}");
        }
    };
    let (_, grids) = rows(&f.router, "/api/stats?level=grid").await;
    let grid_row = |id: &Value| grids.iter().find(|r| &r["grid_id"] == id).unwrap();
    assert!(grids.iter().any(|r| !r["reg_rate_est"].is_null()), "no grid has an estimate: nothing is compared");

    // GET /api/grids and /api/grids/{id}.
    let (status, all) = get(&f.router, "/api/grids").await;
    assert_eq!(status, StatusCode::OK, "{all}");
    let features = all["features"].as_array().unwrap();
    assert_eq!(features.len(), grids.len());
    for feature in features {
        let props = &feature["properties"];
        same(&format!("/api/grids grid {}", props["id"]), props, grid_row(&props["id"]));
    }
    let first = &features[0]["properties"]["id"];
    let (status, one) = get(&f.router, &format!("/api/grids/{first}")).await;
    assert_eq!(status, StatusCode::OK, "{one}");
    same(&format!("/api/grids/{first}"), &one["properties"], grid_row(first));

    // The OGC items of grids, streets and communities.
    for (collection, level, key) in
        [("grids", "grid", "id"), ("streets", "street", "code"), ("communities", "community", "code")]
    {
        let (_, rows) = rows(&f.router, &format!("/api/stats?level={level}")).await;
        let (status, page) = get(&f.router, &format!("/collections/{collection}/items?limit=1000")).await;
        assert_eq!(status, StatusCode::OK, "{collection}: {page}");
        let items = page["features"].as_array().unwrap();
        assert!(!items.is_empty(), "{collection}: no items");
        for item in items {
            let props = &item["properties"];
            let row = rows
                .iter()
                .find(|r| match level {
                    "grid" => r["grid_id"] == props["id"],
                    _ => r["code"] == props["code"],
                })
                .unwrap_or_else(|| panic!("{collection}: no stats row for {}", props[key]));
            same(&format!("{collection} item {}", props[key]), props, row);
        }
    }
    f.done().await;
}
