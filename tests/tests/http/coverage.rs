//! 包干法 over HTTP on both stores: staffing rows that add up the hierarchy and equal the
//! analysis, valid coverage areas whose area is their grids', balanced contiguous proposals,
//! accepting one as a single audited write (once; a stale one refused), the monthly assessment
//! and its spot checks, their and the staffing table's exports read back with calamine and csv, and bad parameters.

use crate::common::{Backend, Fixture};
use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use calamine::{Data, Reader, Xlsx};
use geo::{Area, Validation};
use http_body_util::BodyExt;
use rentgrid_analysis::assessment::{self, Activity, AssessmentInput, ScoreFormula};
use rentgrid_analysis::staffing::{self, StaffingRule};
use rentgrid_geodata::{Atlas, Caseworker};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::io::Cursor;
use tower::ServiceExt;

on_both_stores!(
    staffing_rows_add_up_the_hierarchy_and_equal_the_analysis,
    coverage_areas_are_valid_and_as_large_as_their_grids,
    a_proposal_is_balanced_and_accepting_it_is_one_audited_write,
    the_assessment_equals_the_analysis_of_the_same_month,
    staffing_and_assessment_export_as_xlsx_and_csv,
    the_spot_checks_are_the_months_within_scope_and_export,
    bad_parameters_get_a_4xx_naming_them,
    a_narrower_scope_sees_its_own_places_only,
);

async fn send(router: &Router, req: Request<Body>) -> (StatusCode, Vec<u8>) {
    let res = router.clone().oneshot(req).await.unwrap();
    let status = res.status();
    (status, res.into_body().collect().await.unwrap().to_bytes().to_vec())
}

async fn get(router: &Router, uri: &str) -> (StatusCode, Value) {
    let (s, b) = send(router, Request::get(uri).body(Body::empty()).unwrap()).await;
    (s, serde_json::from_slice(&b).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&b).into())))
}

async fn post(router: &Router, uri: &str, body: Value) -> (StatusCode, Value) {
    let req =
        Request::post(uri).header(header::CONTENT_TYPE, "application/json").body(Body::from(body.to_string())).unwrap();
    let (s, b) = send(router, req).await;
    (s, serde_json::from_slice(&b).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&b).into())))
}

fn assert_error(res: &(StatusCode, Value), status: StatusCode, hint: &str) {
    assert_eq!(res.0, status, "{}", res.1);
    let msg = res.1["message"].as_str().unwrap_or_default();
    assert!(msg.contains(hint), "message {msg:?} does not mention {hint:?}");
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

/// The contracts as the database holds them, read with plain SQL (not through the store's
/// own reader): caseworker → grids.
async fn contracts(f: &Fixture) -> Vec<Caseworker> {
    let pairs = f.db.ints("SELECT CAST(caseworker_id AS BIGINT) * 1000000 + grid_id FROM caseworker_grids").await;
    let ids = f.db.ints("SELECT CAST(id AS BIGINT) FROM caseworkers ORDER BY id").await;
    let mut by: BTreeMap<u32, Vec<u32>> = ids.iter().map(|&i| (i as u32, Vec::new())).collect();
    for p in pairs {
        by.entry((p / 1_000_000) as u32).or_default().push((p % 1_000_000) as u32);
    }
    by.into_iter()
        .map(|(id, mut grids)| {
            grids.sort_unstable();
            Caseworker { id, name: String::new(), street_code: String::new(), grids }
        })
        .collect()
}

fn f64_of(v: &Value, k: &str) -> f64 {
    v[k].as_f64().unwrap_or_else(|| panic!("{k} missing in {v}"))
}

async fn staffing_rows_add_up_the_hierarchy_and_equal_the_analysis(backend: Backend) {
    let f = Fixture::seeded(backend).await;
    let atlas = f.atlas();
    for rule in ["ningbo", "nanjing", "wuxi", "taizhou"] {
        let (s, body) = get(&f.router, &format!("/api/staffing?rule={rule}&cost_per_caseworker=30000")).await;
        assert_eq!(s, StatusCode::OK, "{body}");
        let rows = body["rows"].as_array().unwrap();
        let by_level = |l: &str| rows.iter().filter(|r| r["level"] == l).collect::<Vec<_>>();
        let (district, streets, communities, grids) =
            (by_level("district"), by_level("street"), by_level("community"), by_level("grid"));
        assert_eq!(district.len(), 1);
        assert_eq!(
            (streets.len(), communities.len(), grids.len()),
            (atlas.streets().len(), atlas.communities().len(), atlas.grids().len())
        );
        // Up the hierarchy: persons, rental units and assigned caseworkers add up; a street
        // needs what its communities need (after the community floor), the district its streets.
        for (children, parents) in [(&grids, &communities), (&communities, &streets), (&streets, &district)] {
            for p in parents.iter() {
                let mine: Vec<&&Value> = children.iter().filter(|c| c["parent_code"] == p["code"]).collect();
                assert!(!mine.is_empty(), "{} has no children", p["code"]);
                for k in ["persons", "persons_concentrated", "rental_units"] {
                    let sum: f64 = mine.iter().map(|c| f64_of(&c["population"], k)).sum();
                    assert!(close(sum, f64_of(&p["population"], k)), "{rule} {k} of {}", p["code"]);
                }
                let assigned: f64 = mine.iter().map(|c| f64_of(c, "assigned")).sum();
                assert!((assigned - f64_of(p, "assigned")).abs() < 1e-6, "{rule} assigned of {}", p["code"]);
                if p["level"] != "community" {
                    let required: f64 = mine.iter().map(|c| f64_of(c, "required")).sum();
                    assert!((required - f64_of(p, "required")).abs() < 1e-6, "{rule} required of {}", p["code"]);
                }
            }
        }
        for r in rows {
            assert_eq!(f64_of(r, "yearly_cost_yuan"), 30000.0 * f64_of(r, "to_hire"), "{r}");
            assert!(f64_of(r, "required_rounded") + 1e-9 >= f64_of(r, "required"));
        }
        if rule == "ningbo" {
            // At least one per community, however few live there.
            assert!(communities.iter().all(|c| f64_of(c, "required_rounded") >= 1.0));
        }
        // The same numbers as the analysis run on the same contracts.
        let mut r = StaffingRule::preset(rule).unwrap();
        r.cost_per_caseworker_yuan = 30000.0;
        let report = staffing::staffing(atlas, &contracts(&f).await, &r).unwrap();
        let expected: Vec<_> = std::iter::once(&report.district)
            .chain(&report.streets)
            .chain(&report.communities)
            .chain(&report.grids)
            .collect();
        assert_eq!(expected.len(), rows.len());
        for (e, got) in expected.iter().zip(rows) {
            assert_eq!(got["code"], e.code.as_str());
            assert_eq!(got["required_rounded"], e.required_rounded, "{rule} {}", e.code);
            assert_eq!(got["to_hire"], e.to_hire, "{rule} {}", e.code);
            for (k, v) in [
                ("ratio_required", e.ratio_required),
                ("required", e.required),
                ("assigned", e.assigned),
                ("gap", e.gap),
            ] {
                assert!(close(f64_of(got, k), v), "{rule} {k} of {}: {} vs {v}", e.code, got[k]);
            }
        }
    }
    f.done().await;
}

/// A feature's geometry as geo's MultiPolygon.
fn multipolygon(feature: &Value) -> geo::MultiPolygon<f64> {
    let g: geojson::Geometry = serde_json::from_value(feature["geometry"].clone()).unwrap();
    match geo::Geometry::<f64>::try_from(g).unwrap() {
        geo::Geometry::Polygon(p) => geo::MultiPolygon(vec![p]),
        geo::Geometry::MultiPolygon(mp) => mp,
        other => panic!("not a polygon: {other:?}"),
    }
}

fn grid_ids(v: &Value) -> Vec<u32> {
    v.as_array().unwrap().iter().map(|g| g.as_u64().unwrap() as u32).collect()
}

async fn coverage_areas_are_valid_and_as_large_as_their_grids(backend: Backend) {
    let f = Fixture::seeded(backend).await;
    let atlas = f.atlas();
    let (s, body) = get(&f.router, "/api/coverage?rule=ningbo").await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let areas: Vec<&Value> =
        body["features"].as_array().unwrap().iter().filter(|x| x["properties"]["kind"] == "area").collect();
    let stored = contracts(&f).await;
    assert_eq!(areas.len(), stored.len());
    for (a, c) in areas.iter().zip(&stored) {
        let p = &a["properties"];
        assert_eq!(p["caseworker_id"], c.id);
        assert_eq!(grid_ids(&p["grids"]), c.grids);
        if c.grids.is_empty() {
            continue;
        }
        let mp = multipolygon(a);
        assert!(mp.is_valid(), "caseworker {}: {:?}", c.id, mp.validation_errors());
        let sum: f64 = c.grids.iter().map(|&g| atlas.grid(g).unwrap().grid.geometry.unsigned_area()).sum();
        let area = mp.unsigned_area();
        assert!((area - sum).abs() <= 1e-6 * sum, "caseworker {}: area {area} against its grids' {sum}", c.id);
        assert_eq!(p["overloaded"], f64_of(p, "load") > 1.0);
    }
    let held: BTreeSet<u32> = stored.iter().flat_map(|c| c.grids.iter().copied()).collect();
    let uncovered: Vec<u32> = (0..atlas.grids().len() as u32).filter(|g| !held.contains(g)).collect();
    assert_eq!(grid_ids(&body["uncovered"]), uncovered);
    let mut holders: BTreeMap<u32, usize> = BTreeMap::new();
    for g in stored.iter().flat_map(|c| &c.grids) {
        *holders.entry(*g).or_default() += 1;
    }
    let twice: Vec<u32> = holders.iter().filter(|(_, n)| **n > 1).map(|(g, _)| *g).collect();
    let got: Vec<u32> =
        body["covered_twice"].as_array().unwrap().iter().map(|s| s["grid_id"].as_u64().unwrap() as u32).collect();
    assert_eq!(got, twice);
    f.done().await;
}

/// True when `grids` form one piece over the Atlas's grid adjacency.
fn contiguous(atlas: &Atlas, grids: &[u32]) -> bool {
    let set: BTreeSet<u32> = grids.iter().copied().collect();
    let Some(&first) = grids.first() else { return true };
    let mut seen = BTreeSet::from([first]);
    let mut queue = VecDeque::from([first]);
    while let Some(g) = queue.pop_front() {
        for &n in &atlas.grid(g).unwrap().neighbours {
            if set.contains(&n) && seen.insert(n) {
                queue.push_back(n);
            }
        }
    }
    seen.len() == set.len()
}

/// Checks a proposal for one street: every grid once, contiguous areas, loads within the stated
/// deviation (and ±ε when it says so). Returns its proposed contracts.
fn check_proposal(atlas: &Atlas, p: &Value, street: usize) -> BTreeSet<(u32, u32)> {
    let summary = &p["streets"][0];
    assert_eq!(p["streets"].as_array().unwrap().len(), 1);
    let areas = p["proposed"]["features"].as_array().unwrap();
    let mut seen: Vec<u32> = areas.iter().flat_map(|a| grid_ids(&a["properties"]["grids"])).collect();
    seen.sort_unstable();
    let mut expected = atlas.streets()[street].grids.clone();
    expected.sort_unstable();
    assert_eq!(seen, expected, "every grid of the street once");
    let target = f64_of(summary, "target");
    let max_dev = f64_of(&summary["proposed"], "max_deviation");
    let mut pairs = BTreeSet::new();
    for a in areas {
        let props = &a["properties"];
        let grids = grid_ids(&props["grids"]);
        assert!(contiguous(atlas, &grids), "area {props} is not one piece");
        assert!(((f64_of(props, "load") / target - 1.0).abs()) <= max_dev + 1e-9, "{props} beyond {max_dev}");
        if let Some(c) = props["caseworker_id"].as_u64() {
            pairs.extend(grids.iter().map(|&g| (c as u32, g)));
        }
    }
    if summary["within_epsilon"] == true {
        assert!(max_dev <= f64_of(p, "epsilon") + 1e-9);
    }
    pairs
}

async fn a_proposal_is_balanced_and_accepting_it_is_one_audited_write(backend: Backend) {
    let f = Fixture::seeded(backend).await;
    let atlas = f.atlas();
    // The street with the largest team.
    let (_, cov) = get(&f.router, "/api/coverage").await;
    let mut team: HashMap<String, usize> = HashMap::new();
    for a in cov["features"].as_array().unwrap().iter().filter(|x| x["properties"]["kind"] == "area") {
        *team.entry(a["properties"]["street_code"].as_str().unwrap().to_owned()).or_default() += 1;
    }
    let (code, size) = team.iter().max_by_key(|(c, n)| (**n, std::cmp::Reverse((*c).clone()))).unwrap();
    assert!(*size >= 2, "the small demo city has a street with two caseworkers");
    let street = atlas.streets().iter().position(|s| &s.street.code == code).unwrap();

    let (s, scratch) = post(&f.router, "/api/territory/proposals", json!({ "street": code, "mode": "scratch" })).await;
    assert_eq!(s, StatusCode::CREATED, "{scratch}");
    check_proposal(atlas, &scratch, street);
    let (s, minimal) =
        post(&f.router, "/api/territory/proposals", json!({ "street": code, "mode": "minimal", "epsilon": 0.1 })).await;
    assert_eq!(s, StatusCode::CREATED, "{minimal}");
    let proposed = check_proposal(atlas, &minimal, street);
    let id = minimal["id"].as_i64().unwrap();
    let (s, again) = get(&f.router, &format!("/api/territory/proposals/{id}")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(again["status"], "open");
    assert_eq!(again["proposed"], minimal["proposed"]);

    let (s, done) = post(&f.router, &format!("/api/territory/proposals/{id}/accept"), json!({ "by": "王主任" })).await;
    assert_eq!(s, StatusCode::OK, "{done}");
    // The street's contracts are now exactly the proposal's.
    let street_grids: BTreeSet<u32> = atlas.streets()[street].grids.iter().copied().collect();
    let now: BTreeSet<(u32, u32)> = contracts(&f)
        .await
        .iter()
        .flat_map(|c| c.grids.iter().map(move |&g| (c.id, g)))
        .filter(|(_, g)| street_grids.contains(g))
        .collect();
    assert_eq!(now, proposed);
    // One audit row, naming who and which proposal.
    let audit =
        f.db.int(&format!(
            "SELECT CAST(COUNT(*) AS BIGINT) FROM territory_audit WHERE proposal_id = {id} AND accepted_by = '王主任'"
        ))
        .await;
    assert_eq!(audit, 1);
    // Coverage and staffing answer with the new contracts at once.
    let (_, cov) = get(&f.router, "/api/coverage").await;
    let shown: BTreeSet<(u32, u32)> = cov["features"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["properties"]["kind"] == "area")
        .flat_map(|a| {
            let c = a["properties"]["caseworker_id"].as_u64().unwrap() as u32;
            grid_ids(&a["properties"]["grids"]).into_iter().map(move |g| (c, g))
        })
        .filter(|(_, g)| street_grids.contains(g))
        .collect();
    assert_eq!(shown, proposed);
    let (_, staffing) = get(&f.router, "/api/staffing").await;
    let assigned: f64 = staffing["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["level"] == "street" && r["code"] == code.as_str())
        .map(|r| f64_of(r, "assigned"))
        .unwrap();
    let team_ids: BTreeSet<u32> = proposed.iter().map(|(c, _)| *c).collect();
    let expected: f64 = contracts(&f)
        .await
        .iter()
        .filter(|c| team_ids.contains(&c.id))
        .map(|c| c.grids.iter().filter(|g| street_grids.contains(g)).count() as f64 / c.grids.len() as f64)
        .sum();
    assert!((assigned - expected).abs() < 1e-9, "{assigned} vs {expected}");

    // Accepting again is a conflict and writes nothing.
    let after_rows = f.db.int("SELECT CAST(COUNT(*) AS BIGINT) FROM caseworker_grids").await;
    let res = post(&f.router, &format!("/api/territory/proposals/{id}/accept"), json!({ "by": "李科长" })).await;
    assert_error(&res, StatusCode::CONFLICT, "already accepted");
    assert_eq!(f.db.int("SELECT CAST(COUNT(*) AS BIGINT) FROM territory_audit").await, 1);
    assert_eq!(f.db.int("SELECT CAST(COUNT(*) AS BIGINT) FROM caseworker_grids").await, after_rows);
    let (_, again) = get(&f.router, &format!("/api/territory/proposals/{id}")).await;
    assert_eq!((again["status"].as_str(), again["accepted_by"].as_str()), (Some("accepted"), Some("王主任")));

    // A proposal whose street's contracts change before it is accepted is stale: refused whole.
    let (s, fresh) = post(&f.router, "/api/territory/proposals", json!({ "street": code })).await;
    assert_eq!(s, StatusCode::CREATED, "{fresh}");
    let cws = f.store.caseworkers().await.unwrap();
    let who = cws.iter().find(|c| team_ids.contains(&c.id) && c.grids.len() >= 2).unwrap();
    let keep: Vec<&str> = who.grids[1..].iter().map(|&g| atlas.grid(g).unwrap().grid.code.as_str()).collect();
    let csv = format!("工号,姓名,所属街道,包干网格\n{},{},{},{}\n", who.id, who.name, who.street_code, keep.join(";"));
    let req = Request::post("/api/imports/caseworkers")
        .header(header::CONTENT_TYPE, "text/csv")
        .body(Body::from(csv))
        .unwrap();
    let (s, body) = send(&f.router, req).await;
    assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let rows_now = f.db.int("SELECT CAST(COUNT(*) AS BIGINT) FROM caseworker_grids").await;
    let (_, read) = get(&f.router, &format!("/api/territory/proposals/{}", fresh["id"])).await;
    assert_eq!(read["status"], "stale");
    let res =
        post(&f.router, &format!("/api/territory/proposals/{}/accept", fresh["id"]), json!({ "by": "李科长" })).await;
    assert_error(&res, StatusCode::CONFLICT, "stale");
    assert_eq!(f.db.int("SELECT CAST(COUNT(*) AS BIGINT) FROM territory_audit").await, 1);
    assert_eq!(f.db.int("SELECT CAST(COUNT(*) AS BIGINT) FROM caseworker_grids").await, rows_now);
    let accepted = "SELECT CAST(COUNT(*) AS BIGINT) FROM territory_proposals WHERE accepted_at IS NOT NULL";
    assert_eq!(f.db.int(accepted).await, 1);
    f.done().await;
}

async fn the_assessment_equals_the_analysis_of_the_same_month(backend: Backend) {
    let f = Fixture::seeded(backend).await;
    let city = rentgrid_geodata::demo::generate(&crate::common::small(), &mut |_, _| {}).unwrap();
    let month = city.spot_checks.iter().map(|s| assessment::Month::of(s.checked_on)).max().unwrap();
    let m = format!("{:04}-{:02}", month.year, month.month);
    let (s, body) = get(&f.router, &format!("/api/assessment?month={m}&rule=ningbo")).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["month"], m.as_str());
    let rows = body["rows"].as_array().unwrap();
    let manual = BTreeMap::new();
    let activity =
        Activity::of_records(f.atlas(), &city.persons, &city.rental_units, &[], &city.visits, &city.spot_checks);
    let input = AssessmentInput { caseworkers: &city.caseworkers, activity: &activity, manual: &manual };
    let expected = assessment::assess(&input, &[month], &ScoreFormula::default());
    assert_eq!(rows.len(), expected.len());
    let by_id: HashMap<u64, &Value> = rows.iter().map(|r| (r["caseworker_id"].as_u64().unwrap(), r)).collect();
    let mut checked = 0;
    for e in &expected {
        let r = by_id[&u64::from(e.caseworker_id)];
        for (k, v) in [
            ("registrations", e.registrations),
            ("rental_registrations", e.rental_registrations),
            ("pledges", e.pledges),
            ("inspections", e.inspections),
            ("spot_checks", e.spot_checks),
        ] {
            assert_eq!(r[k], v, "{k} of caseworker {}", e.caseworker_id);
        }
        assert!(close(f64_of(r, "score"), e.score));
        assert!(close(f64_of(r, "deductions"), e.deductions));
        assert_eq!(r["rank_in_street"], e.rank_in_street);
        let rate = &r["missed_registration"];
        assert_eq!(rate["found"], e.missed_registration.found);
        if e.missed_registration.households > 0 {
            let (lo, x, hi) = (f64_of(rate, "low"), f64_of(rate, "rate"), f64_of(rate, "high"));
            assert!(lo <= x && x <= hi, "{rate}");
            checked += 1;
        }
    }
    assert!(checked > 0, "the month has spot checks");
    // A past month is not judged on today's estimate.
    assert!(rows.iter().all(|r| r["reg_rate_est"].is_null() && r["reg_rate_verdict"].is_null()), "{body}");

    // The current month judges each contracted area on its estimated actual rate too, with its
    // interval and verdict: for an area of one grid, exactly that grid's figures in /api/stats.
    let today = rentgrid_geodata::clock::today();
    let now = format!("{:04}-{:02}", today.year(), u8::from(today.month()));
    let (s, body) = get(&f.router, &format!("/api/assessment?month={now}&rule=ningbo")).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let (_, stats) = get(&f.router, "/api/stats?level=grid").await;
    let by_grid: HashMap<u64, &Value> =
        stats["rows"].as_array().unwrap().iter().map(|r| (r["grid_id"].as_u64().unwrap(), r)).collect();
    let (mut judged, mut one_grid) = (0, 0);
    for cw in city.caseworkers.iter().filter(|c| !c.grids.is_empty()) {
        let r = body["rows"].as_array().unwrap().iter().find(|r| r["caseworker_id"] == cw.id).unwrap();
        if r["reg_rate_est"].is_null() {
            continue;
        }
        let (lo, x, hi) = (f64_of(r, "reg_rate_est_low"), f64_of(r, "reg_rate_est"), f64_of(r, "reg_rate_est_high"));
        assert!(lo <= x && x <= hi, "{r}");
        assert!(["met", "missed", "uncertain"].contains(&r["reg_rate_verdict"].as_str().unwrap()), "{r}");
        judged += 1;
        if let [g] = cw.grids[..] {
            let grid = by_grid[&u64::from(g)];
            for k in
                ["reg_rate_est", "reg_rate_est_low", "reg_rate_est_high", "reg_rate_verdict", "persons_unrecorded_est"]
            {
                assert_eq!(r[k], grid[k], "{k} of caseworker {} (grid {g})", cw.id);
            }
            one_grid += 1;
        }
    }
    assert!(judged > 0, "no area is judged on the estimate");
    assert!(one_grid > 0, "no caseworker holds exactly one grid: the cross-check did not run");

    // The export of the current month carries the same estimates, interval and verdict.
    let (s, csv_bytes) = download(&f.router, &format!("/api/exports/assessment.csv?month={now}&rule=ningbo")).await;
    assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&csv_bytes));
    let mut reader = csv::Reader::from_reader(&csv_bytes[3..]);
    let head = reader.headers().unwrap().clone();
    let col = |name: &str| head.iter().position(|h| h == name).unwrap_or_else(|| panic!("{name} not in {head:?}"));
    let (id, est, low, high, verdict) = (
        col("综管员ID"),
        col("估计实际登记率"),
        col("估计实际登记率90%下限"),
        col("估计实际登记率90%上限"),
        col("登记率判定"),
    );
    let mut exported = 0;
    for rec in reader.records().map(Result::unwrap) {
        let r = body["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["caseworker_id"].as_u64() == rec[id].parse().ok())
            .unwrap();
        if r["reg_rate_est"].is_null() {
            assert_eq!(&rec[est], "", "{r}");
            continue;
        }
        for (k, c) in [("reg_rate_est", est), ("reg_rate_est_low", low), ("reg_rate_est_high", high)] {
            assert_eq!(rec[c].parse::<f64>().unwrap(), f64_of(r, k), "{k} of caseworker {}", &rec[id]);
        }
        assert!(["达标", "未达标", "不确定"].contains(&&rec[verdict]), "{:?}", &rec[verdict]);
        exported += 1;
    }
    assert_eq!(exported, judged, "every area judged on the estimate is exported with it");
    f.done().await;
}

async fn download(router: &Router, uri: &str) -> (StatusCode, Vec<u8>) {
    send(router, Request::get(uri).body(Body::empty()).unwrap()).await
}

fn sheet_headers(book: &mut Xlsx<Cursor<Vec<u8>>>, name: &str) -> (Vec<String>, usize) {
    let range = book.worksheet_range(name).unwrap();
    let head = range.rows().next().unwrap().iter().map(|c| c.to_string()).collect();
    (head, range.height())
}

async fn staffing_and_assessment_export_as_xlsx_and_csv(backend: Backend) {
    let f = Fixture::seeded(backend).await;
    let atlas = f.atlas();
    let street_names: Vec<String> = atlas.streets().iter().map(|s| s.street.name.clone()).collect();
    let (_, staffing) = get(&f.router, "/api/staffing?rule=wuxi").await;
    let rows = staffing["rows"].as_array().unwrap();

    let (s, xlsx) = download(&f.router, "/api/exports/staffing.xlsx?rule=wuxi").await;
    assert_eq!(s, StatusCode::OK);
    let mut book: Xlsx<_> = calamine::open_workbook_from_rs(Cursor::new(xlsx)).unwrap();
    let mut expected_sheets = vec!["汇总".to_string()];
    expected_sheets.extend(street_names.iter().cloned());
    assert_eq!(book.sheet_names(), expected_sheets);
    let (head, height) = sheet_headers(&mut book, "汇总");
    assert_eq!(&head[..4], ["层级", "编码", "名称", "上级编码"]);
    assert!(head.contains(&"缺口（人）".to_string()) && head.contains(&"年度经费（元）".to_string()));
    assert_eq!(height, 1 + 1 + atlas.streets().len());
    // Each street's sheet: its street, communities and grids.
    let s0 = &atlas.streets()[0];
    let range = book.worksheet_range(&street_names[0]).unwrap();
    assert_eq!(range.height(), 1 + 1 + s0.communities.len() + s0.grids.len());
    let gap_col = head.iter().position(|h| h == "缺口（人）").unwrap();
    let street_row = range.rows().nth(1).unwrap();
    let api_gap = rows.iter().find(|r| r["level"] == "street" && r["code"] == s0.street.code.as_str()).unwrap()["gap"]
        .as_f64()
        .unwrap();
    match &street_row[gap_col] {
        Data::Float(g) => assert!((g - api_gap).abs() < 1e-3),
        other => panic!("gap cell {other:?}"),
    }

    let (s, csv_bytes) = download(&f.router, "/api/exports/staffing.csv?rule=wuxi").await;
    assert_eq!(s, StatusCode::OK);
    assert!(csv_bytes.starts_with(b"\xEF\xBB\xBF"), "CSV without a BOM");
    let mut reader = csv::Reader::from_reader(&csv_bytes[3..]);
    assert_eq!(&reader.headers().unwrap()[0], "层级");
    assert_eq!(reader.records().map(Result::unwrap).count(), rows.len());

    let city = rentgrid_geodata::demo::generate(&crate::common::small(), &mut |_, _| {}).unwrap();
    let month = city.spot_checks.iter().map(|s| s.checked_on).max().unwrap();
    let m = format!("{:04}-{:02}", month.year(), u8::from(month.month()));
    let (s, xlsx) = download(&f.router, &format!("/api/exports/assessment.xlsx?month={m}")).await;
    assert_eq!(s, StatusCode::OK);
    let mut book: Xlsx<_> = calamine::open_workbook_from_rs(Cursor::new(xlsx)).unwrap();
    let names = book.sheet_names();
    assert_eq!(names[0], "汇总");
    let teams: BTreeSet<&str> = city.caseworkers.iter().map(|c| c.street_code.as_str()).collect();
    let expected: Vec<String> = atlas
        .streets()
        .iter()
        .filter(|s| teams.contains(s.street.code.as_str()))
        .map(|s| s.street.name.clone())
        .collect();
    assert_eq!(names[1..], expected[..]);
    let (head, _) = sheet_headers(&mut book, &names[1]);
    assert_eq!(&head[..2], ["综管员ID", "姓名"]);
    for h in ["登记人数", "漏登记率", "漏登记率95%下限", "扣分", "得分", "街道排名"] {
        assert!(head.contains(&h.to_string()), "{h} missing from {head:?}");
    }
    let (s, csv_bytes) = download(&f.router, &format!("/api/exports/assessment.csv?month={m}")).await;
    assert_eq!(s, StatusCode::OK);
    assert!(csv_bytes.starts_with(b"\xEF\xBB\xBF"));
    let mut reader = csv::Reader::from_reader(&csv_bytes[3..]);
    assert_eq!(&reader.headers().unwrap()[1], "姓名");
    assert_eq!(reader.records().map(Result::unwrap).count(), city.caseworkers.len());

    let (s, body) = download(&f.router, "/api/exports/assessment.csv").await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{}", String::from_utf8_lossy(&body));
    f.done().await;
}

async fn bad_parameters_get_a_4xx_naming_them(backend: Backend) {
    let f = Fixture::seeded(backend).await;
    let r = &f.router;
    assert_error(&get(r, "/api/staffing?rule=paris").await, StatusCode::BAD_REQUEST, "rule");
    assert_error(&get(r, "/api/staffing?cost_per_caseworker=-5").await, StatusCode::BAD_REQUEST, "cost_per_caseworker");
    assert_error(
        &get(r, "/api/staffing?cost_per_caseworker=lots").await,
        StatusCode::BAD_REQUEST,
        "cost_per_caseworker",
    );
    assert_error(&get(r, "/api/staffing?level=grid").await, StatusCode::BAD_REQUEST, "level");
    assert_error(&get(r, "/api/coverage?rule=").await, StatusCode::BAD_REQUEST, "rule");
    assert_error(&get(r, "/api/assessment").await, StatusCode::BAD_REQUEST, "month");
    assert_error(&get(r, "/api/assessment?month=2026-13").await, StatusCode::BAD_REQUEST, "month");
    assert_error(&get(r, "/api/assessment?month=2026-05&rule=x").await, StatusCode::BAD_REQUEST, "rule");
    let p = "/api/territory/proposals";
    assert_error(&post(r, p, json!({ "mode": "fast" })).await, StatusCode::UNPROCESSABLE_ENTITY, "mode");
    assert_error(&post(r, p, json!({ "epsilon": -0.1 })).await, StatusCode::UNPROCESSABLE_ENTITY, "epsilon");
    assert_error(&post(r, p, json!({ "street": "999" })).await, StatusCode::UNPROCESSABLE_ENTITY, "street");
    assert_error(&post(r, p, json!({ "rule": "paris" })).await, StatusCode::UNPROCESSABLE_ENTITY, "rule");
    assert_error(&post(r, p, json!({ "streets": "all" })).await, StatusCode::UNPROCESSABLE_ENTITY, "streets");
    assert_error(&get(r, "/api/territory/proposals/abc").await, StatusCode::BAD_REQUEST, "abc");
    assert_error(&get(r, "/api/territory/proposals/4242").await, StatusCode::NOT_FOUND, "4242");
    assert_error(
        &post(r, "/api/territory/proposals/4242/accept", json!({ "by": "王" })).await,
        StatusCode::NOT_FOUND,
        "4242",
    );
    let code = &f.atlas().streets()[0].street.code;
    let (s, made) = post(r, p, json!({ "street": code })).await;
    assert_eq!(s, StatusCode::CREATED, "{made}");
    let accept = format!("{p}/{}/accept", made["id"]);
    assert_error(&post(r, &accept, json!({ "by": "  " })).await, StatusCode::UNPROCESSABLE_ENTITY, "by");
    assert_error(&post(r, &accept, json!({})).await, StatusCode::UNPROCESSABLE_ENTITY, "by");
    assert_eq!(f.db.int("SELECT CAST(COUNT(*) AS BIGINT) FROM territory_audit").await, 0);
    f.done().await;
}

async fn a_narrower_scope_sees_its_own_places_only(backend: Backend) {
    use rentgrid_server::coverage as cov;
    use rentgrid_server::scope::{Role, Scope};
    let f = Fixture::seeded(backend).await;
    let atlas = f.atlas();
    let cws = f.store.caseworkers().await.unwrap();
    let rule = StaffingRule::ningbo();
    // A supervisor of the first street: its street row, communities and grids, nothing else.
    let street = &atlas.streets()[0];
    let scope = Scope::of_grids(Role::Supervisor, street.grids.iter().copied());
    let rows = cov::staffing_rows(atlas, &cws, &rule, &scope).unwrap();
    let count = |l| rows.iter().filter(|r| r.row.level == l).count();
    use rentgrid_analysis::staffing::PlaceLevel;
    assert_eq!(count(PlaceLevel::District), 0);
    assert_eq!(count(PlaceLevel::Street), 1);
    assert_eq!(count(PlaceLevel::Community), street.communities.len());
    assert_eq!(count(PlaceLevel::Grid), street.grids.len());
    assert!(rows.iter().all(|r| r.street_code.as_deref() == Some(street.street.code.as_str())));
    let areas = serde_json::to_value(cov::coverage_geojson(atlas, &cws, &rule, &scope).unwrap()).unwrap();
    let team = cws.iter().filter(|c| c.street_code == street.street.code).count();
    let shown: Vec<&Value> =
        areas["features"].as_array().unwrap().iter().filter(|x| x["properties"]["kind"] == "area").collect();
    assert!(shown.len() >= team, "the street's team is shown");
    // A caseworker sees their own area and no grid outside it.
    let me = cws.iter().find(|c| !c.grids.is_empty()).unwrap();
    let mine: BTreeSet<u32> = me.grids.iter().copied().collect();
    let scope = Scope { caseworker: Some(me.id), ..Scope::of_grids(Role::Caseworker, mine.clone()) };
    let rows = cov::staffing_rows(atlas, &cws, &rule, &scope).unwrap();
    assert_eq!(rows.iter().filter(|r| r.row.level == PlaceLevel::Grid).count(), mine.len());
    let areas = serde_json::to_value(cov::coverage_geojson(atlas, &cws, &rule, &scope).unwrap()).unwrap();
    let shown: Vec<&Value> =
        areas["features"].as_array().unwrap().iter().filter(|x| x["properties"]["kind"] == "area").collect();
    assert!(shown.iter().any(|a| a["properties"]["caseworker_id"] == me.id));
    for a in shown {
        assert!(grid_ids(&a["properties"]["grids"]).iter().all(|g| mine.contains(g)), "{}", a["properties"]);
    }
    f.done().await;
}

/// `GET /api/spot-checks?month=` lists the month's spot checks as the register holds them (the
/// ones the assessment counts), a supervisor's scope its street's only, and exports as CSV and
/// XLSX with Chinese headers.
async fn the_spot_checks_are_the_months_within_scope_and_export(backend: Backend) {
    use rentgrid_server::coverage as cov;
    use rentgrid_server::scope::{Role, Scope};
    let f = Fixture::seeded(backend).await;
    let city = rentgrid_geodata::demo::generate(&crate::common::small(), &mut |_, _| {}).unwrap();
    let month = city.spot_checks.iter().map(|s| assessment::Month::of(s.checked_on)).max().unwrap();
    let m = format!("{:04}-{:02}", month.year, month.month);
    let expected: BTreeSet<u64> = city
        .spot_checks
        .iter()
        .filter(|s| assessment::Month::of(s.checked_on) == month)
        .map(|s| u64::from(s.id))
        .collect();
    assert!(!expected.is_empty(), "the demo month has spot checks");
    let (s, body) = get(&f.router, &format!("/api/spot-checks?month={m}")).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["month"], m.as_str());
    let rows = body["rows"].as_array().unwrap();
    let ids: BTreeSet<u64> = rows.iter().map(|r| r["id"].as_u64().unwrap()).collect();
    assert_eq!(ids, expected);
    // Each row is the register's, with the names of who and where.
    let atlas = f.atlas();
    for r in rows {
        let s = city.spot_checks.iter().find(|s| u64::from(s.id) == r["id"].as_u64().unwrap()).unwrap();
        assert_eq!(r["caseworker_id"], s.caseworker_id);
        assert_eq!(r["grid_id"], s.grid_id);
        assert_eq!(r["grid_name"], atlas.grid(s.grid_id).unwrap().grid.name.as_str());
        assert_eq!(r["households_checked"], s.households_checked);
        assert_eq!(r["missed_registration"], s.missed_registration);
        assert_eq!(r["missed_permit"], s.missed_permit);
        assert_eq!(r["wrong_records"], s.wrong_records);
        assert!(!r["name"].as_str().unwrap().is_empty() && !r["street_name"].as_str().unwrap().is_empty());
    }
    // The rows add up to what the assessment counts for the month.
    let (_, a) = get(&f.router, &format!("/api/assessment?month={m}")).await;
    let assessed: u64 = a["rows"].as_array().unwrap().iter().map(|r| r["spot_checks"].as_u64().unwrap()).sum();
    assert_eq!(assessed, rows.len() as u64);

    // A supervisor's scope: their street's caseworkers only.
    let cws = f.store.caseworkers().await.unwrap();
    let activity =
        f.store.month_activity(rentgrid_geodata::Month { year: month.year, month: month.month }).await.unwrap();
    let street = &atlas.streets()[0];
    let scope = Scope::of_grids(Role::Supervisor, street.grids.iter().copied());
    let checks: Vec<_> = activity.spot_checks.iter().collect();
    let theirs = cov::spot_check_rows(atlas, &cws, &checks, &scope);
    assert!(theirs.len() < rows.len(), "the other streets' spot checks are left out");
    assert!(theirs.iter().all(|r| r.street_code == street.street.code));

    // Exported: one CSV row per spot check, an XLSX sheet per street with Chinese headers.
    let (s, csv_bytes) = download(&f.router, &format!("/api/exports/spot_checks.csv?month={m}")).await;
    assert_eq!(s, StatusCode::OK);
    assert!(csv_bytes.starts_with(b"\xEF\xBB\xBF"));
    let mut reader = csv::Reader::from_reader(&csv_bytes[3..]);
    let headers: Vec<String> = reader.headers().unwrap().iter().map(str::to_owned).collect();
    assert_eq!(&headers[..4], ["抽查编号", "抽查日期", "综管员ID", "姓名"]);
    assert_eq!(reader.records().count(), rows.len());
    let (s, xlsx) = download(&f.router, &format!("/api/exports/spot_checks.xlsx?month={m}")).await;
    assert_eq!(s, StatusCode::OK);
    let mut book: Xlsx<_> = Xlsx::new(Cursor::new(xlsx)).unwrap();
    let sheets = book.sheet_names();
    let mut total = 0;
    for name in &sheets {
        let (head, height) = sheet_headers(&mut book, name);
        assert_eq!(head[9], "漏登记");
        total += height - 1;
    }
    assert_eq!(total, rows.len());
    assert_error(&get(&f.router, "/api/spot-checks").await, StatusCode::BAD_REQUEST, "month");
    assert_error(&get(&f.router, "/api/spot-checks?month=2026-13").await, StatusCode::BAD_REQUEST, "month");
    f.done().await;
}
