//! Hot spots and the heat surface over HTTP, on both stores: `/api/hotspots` against the
//! statistics of `rentgrid-analysis` run on the store's own data, its bad parameters, the
//! monthly history and emerging hot spots, and heat tiles whose band at a place holds the
//! kernel density there at every zoom.

use crate::common::{Backend, Fixture, principal, signed_in};
use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use geo::{Contains, Coord, LineString, Point, Polygon};
use http_body_util::BodyExt;
use rentgrid_analysis::density::KernelDensity;
use rentgrid_analysis::hexgrid::hex_counts;
use rentgrid_analysis::hotspot::{GiOptions, gi_star};
use rentgrid_analysis::kpi::grid_counts;
use rentgrid_analysis::metrics::{Metric, RateGuard, complete_cases, grid_metrics};
use rentgrid_analysis::moran::{MoranOptions, local_moran};
use rentgrid_analysis::weights::Weights;
use rentgrid_server::access::Role;
use rentgrid_server::api::{LEADERS_VIEW_METRICS, prepare_leaders_view};
use rentgrid_tiles::decode::decode;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use tower::ServiceExt;

on_both_stores!(
    gi_z_scores_are_those_of_the_analysis_on_the_same_metric,
    lisa_is_reproducible_from_its_description,
    every_bad_parameter_gets_a_4xx_with_a_message,
    the_history_has_twelve_months_and_emerging_hot_spots_classify_them,
    hexagons_hold_every_building_and_their_gi_is_the_analysis,
    heat_tiles_hold_the_kernel_density_at_every_zoom,
    the_leaders_views_hot_spots_are_made_before_a_leader_asks,
);

async fn get_raw(router: &Router, uri: &str) -> (StatusCode, Option<String>, Vec<u8>) {
    let res = router.clone().oneshot(Request::get(uri).body(Body::empty()).unwrap()).await.unwrap();
    let status = res.status();
    let ct = res.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_owned);
    (status, ct, res.into_body().collect().await.unwrap().to_bytes().to_vec())
}

async fn get(router: &Router, uri: &str) -> (StatusCode, Value) {
    let (status, _, bytes) = get_raw(router, uri).await;
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

/// Features by grid id.
fn by_grid(fc: &Value) -> BTreeMap<u64, &Value> {
    fc["features"].as_array().unwrap().iter().map(|f| (f["id"].as_u64().unwrap(), &f["properties"])).collect()
}

async fn gi_z_scores_are_those_of_the_analysis_on_the_same_metric(backend: Backend) {
    let f = Fixture::seeded(backend).await;
    let (status, ct, bytes) =
        get_raw(&f.router, "/api/hotspots?metric=unregistered_per_km2&weights=queen&method=gi").await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&bytes));
    assert_eq!(ct.as_deref(), Some("application/geo+json"));
    let fc: Value = serde_json::from_slice(&bytes).unwrap();
    // The same statistic computed here from the store's data.
    let counts = grid_counts(f.atlas());
    let values: Vec<Option<f64>> = grid_metrics(f.atlas(), &counts, &RateGuard::default())
        .iter()
        .map(|m| m.value(Metric::UnregisteredPerKm2))
        .collect();
    let (y, w, ids) = complete_cases(&values, &Weights::queen(f.atlas())).unwrap();
    let gi = gi_star(&y, &w, &GiOptions { fdr: true }).unwrap();
    let features = by_grid(&fc);
    assert_eq!(features.len(), f.atlas().grids().len());
    let mut hot = 0;
    for (k, id) in ids.iter().enumerate() {
        let p = features[&u64::from(*id)];
        assert!((p["z"].as_f64().unwrap() - gi.z[k]).abs() < 1e-9, "grid {id}: {} vs {}", p["z"], gi.z[k]);
        assert!((p["value"].as_f64().unwrap() - y[k]).abs() < 1e-9 * y[k].abs().max(1.0));
        assert_eq!(p["class"].as_i64().unwrap(), i64::from(gi.bin[k]));
        assert_eq!(p["fdr_significant"].as_bool().unwrap(), gi.q[k] <= 0.05);
        hot += usize::from(gi.bin[k] > 0);
    }
    assert!(hot > 0, "the demo's weak communities should be hot spots of unregistered persons");
    let d = &fc["description"];
    assert_eq!(d["method"], "gi");
    assert_eq!(d["metric"], "unregistered_per_km2");
    assert_eq!(d["weights"]["kind"], "queen");
    assert_eq!(d["weights"]["transform"], "binary");
    assert_eq!(d["weights"]["self_weight"], 1);
    assert_eq!(d["weights"]["structure"]["sites"].as_u64().unwrap() as usize, ids.len());
    assert_eq!(d["n"].as_u64().unwrap() as usize, ids.len());
    assert_eq!(d["alpha"], 0.05);
    f.done().await;
}

async fn lisa_is_reproducible_from_its_description(backend: Backend) {
    let f = Fixture::seeded(backend).await;
    let uri = "/api/hotspots?method=lisa&metric=reg_rate&weights=knn:6&permutations=199&seed=7&alpha=0.10";
    let (status, fc) = get(&f.router, uri).await;
    assert_eq!(status, StatusCode::OK, "{fc}");
    let d = &fc["description"];
    assert_eq!((d["permutations"].as_u64(), d["seed"].as_u64()), (Some(199), Some(7)));
    assert_eq!(d["weights"]["parameters"]["k"], 6);
    assert_eq!(d["weights"]["transform"], "row");
    assert_eq!(d["weights"]["self_weight"], 0);
    // Run again from what the description says.
    let counts = grid_counts(f.atlas());
    let values: Vec<Option<f64>> =
        grid_metrics(f.atlas(), &counts, &RateGuard::default()).iter().map(|m| m.value(Metric::RegRate)).collect();
    let points: Vec<(f64, f64)> = f.atlas().grids().iter().map(|g| (g.label_point.x(), g.label_point.y())).collect();
    let w = Weights::knn_lonlat(&points, 6).unwrap().row_standardised();
    let (y, w, ids) = complete_cases(&values, &w).unwrap();
    let m = local_moran(&y, &w, &MoranOptions { permutations: 199, seed: 7 }).unwrap();
    let features = by_grid(&fc);
    let classes: BTreeSet<&str> = features.values().filter_map(|p| p["class"].as_str()).collect();
    assert!(classes.iter().all(|c| ["high_high", "low_low", "high_low", "low_high", "not_significant"].contains(c)));
    for (k, id) in ids.iter().enumerate() {
        let p = features[&u64::from(*id)];
        assert!((p["statistic"].as_f64().unwrap() - m.i[k]).abs() < 1e-9);
        assert_eq!(p["p"].as_f64().unwrap(), m.p_sim[k]);
    }
    // Grids under the rate guard are present, marked, and not analysed.
    let excluded = features.values().filter(|p| p["class"].is_null()).count();
    assert_eq!(excluded, f.atlas().grids().len() - ids.len());
    f.done().await;
}

async fn every_bad_parameter_gets_a_4xx_with_a_message(backend: Backend) {
    let f = Fixture::seeded(backend).await;
    for (query, hint) in [
        ("method=kriging", "method"),
        ("metric=happiness", "metric"),
        ("weights=hexagons", "weights"),
        ("weights=knn:0", "k must"),
        ("weights=knn:1000", "k must"),
        ("weights=distance", "metres"),
        ("weights=distance:-5", "metres"),
        ("weights=queen,cubic", "transform"),
        ("alpha=0.5", "alpha"),
        ("month=2026-13", "YYYY-MM"),
        ("month=1999-01", "history covers"),
        ("permutations=1000000", "permutations"),
        ("seed=abc", "seed"),
        ("tessellation=voronoi", "tessellation"),
        ("colour=red", "unknown parameter"),
        ("method=emerging&month=1999-01", "history covers"),
        ("resolution=9", "tessellation=h3"),
        ("tessellation=h3&resolution=15", "resolution"),
        ("tessellation=h3&method=emerging", "h3"),
        ("tessellation=h3&month=2026-05", "h3"),
    ] {
        let (status, body) = get(&f.router, &format!("/api/hotspots?{query}")).await;
        assert!(status.is_client_error(), "{query}: {status} {body}");
        assert!(body["code"].is_string(), "{query}: {body}");
        let msg = body["message"].as_str().unwrap_or_default();
        assert!(msg.contains(hint), "{query}: message {msg:?} does not mention {hint:?}");
    }
    // Heat tiles take only a known count.
    let (status, body) = get(&f.router, "/tiles/heat/14/13700/6770.mvt?count=dogs").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, _) = get(&f.router, "/tiles/grids/14/13700/6770.mvt?count=persons").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    f.done().await;
}

async fn the_history_has_twelve_months_and_emerging_hot_spots_classify_them(backend: Backend) {
    let f = Fixture::seeded(backend).await;
    let (status, fc) = get(&f.router, "/api/hotspots?method=emerging&metric=reg_rate").await;
    assert_eq!(status, StatusCode::OK, "{fc}");
    let months: Vec<String> = serde_json::from_value(fc["description"]["months"].clone()).unwrap();
    assert_eq!(months.len(), 12, "{months:?}");
    assert_eq!(months.last().map(String::as_str), Some("2026-10"), "the demo's history ends on its as-of day");
    assert_eq!(fc["description"]["months_available"], fc["description"]["months"]);
    let features = by_grid(&fc);
    let categories: BTreeMap<String, usize> =
        features.values().filter_map(|p| p["class"].as_str()).fold(BTreeMap::new(), |mut m, c| {
            *m.entry(c.to_string()).or_default() += 1;
            m
        });
    // The demo's communities improve or stall through the year: the pattern is not the same
    // everywhere, and some trend is significant.
    assert!(categories.len() >= 2, "{categories:?}");
    for p in features.values().filter(|p| !p["class"].is_null()) {
        assert_eq!(p["z_by_month"].as_array().unwrap().len(), 12);
    }
    // Registration rates at the end of each month never fall (the register only adds dates),
    // rise somewhere over the year, and the last month is today's register.
    let (_, first) = get(&f.router, &format!("/api/hotspots?metric=reg_rate&month={}", months[0])).await;
    let (_, last) = get(&f.router, &format!("/api/hotspots?metric=reg_rate&month={}", months[11])).await;
    let (_, now) = get(&f.router, "/api/hotspots?metric=reg_rate").await;
    let (first, last, now) = (by_grid(&first), by_grid(&last), by_grid(&now));
    let mut rose = 0;
    for (id, p) in &last {
        assert_eq!(p["value"], now[id]["value"], "grid {id}");
        if let (Some(a), Some(b)) = (first[id]["value"].as_f64(), p["value"].as_f64()) {
            assert!(a <= b + 1e-12, "grid {id}: {a} then {b}");
            rose += usize::from(b > a);
        }
    }
    assert!(rose * 2 > last.len(), "{rose} of {} grids registered someone during the year", last.len());
    // The street ranking of a month is the rollup of that month's grids: registered persons at
    // the end of the first month never exceed the last month's, and the last month is today.
    let (status, streets_first) = get(&f.router, &format!("/api/stats?level=street&month={}", months[0])).await;
    assert_eq!(status, StatusCode::OK, "{streets_first}");
    assert_eq!(streets_first["month"], months[0].as_str());
    let (_, streets_last) = get(&f.router, &format!("/api/stats?level=street&month={}", months[11])).await;
    let (_, streets_now) = get(&f.router, "/api/stats?level=street").await;
    let registered = |v: &Value| -> Vec<u64> {
        v["rows"].as_array().unwrap().iter().map(|r| r["persons_registered"].as_u64().unwrap()).collect()
    };
    assert_eq!(registered(&streets_last), registered(&streets_now));
    let (a, b) = (registered(&streets_first), registered(&streets_last));
    assert!(a.iter().zip(&b).all(|(a, b)| a <= b), "{a:?} then {b:?}");
    assert!(a.iter().sum::<u64>() < b.iter().sum::<u64>(), "someone registered during the year");
    let (status, body) = get(&f.router, "/api/stats?level=street&month=1999-01").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["message"].as_str().unwrap_or_default().contains("history covers"), "{body}");
    f.done().await;
}

async fn hexagons_hold_every_building_and_their_gi_is_the_analysis(backend: Backend) {
    let f = Fixture::seeded(backend).await;
    let (status, fc) = get(&f.router, "/api/hotspots?tessellation=h3&resolution=9&metric=persons&method=gi").await;
    assert_eq!(status, StatusCode::OK, "{fc}");
    let d = &fc["description"];
    assert_eq!((d["tessellation"]["kind"].as_str(), d["tessellation"]["resolution"].as_u64()), (Some("h3"), Some(9)));
    assert_eq!(d["weights"]["kind"], "h3_edge");
    let features = fc["features"].as_array().unwrap();
    // Each hexagon's polygon holds exactly the buildings it counts, and every building is in one.
    let atlas = f.atlas();
    let mut counted = 0;
    for feature in features {
        let ring: Vec<(f64, f64)> = feature["geometry"]["coordinates"][0][0]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| (c[0].as_f64().unwrap(), c[1].as_f64().unwrap()))
            .collect();
        let hexagon = Polygon::new(LineString::from(ring), vec![]);
        let inside = atlas.buildings().iter().filter(|b| hexagon.contains(&b.point)).count() as u64;
        let claimed = feature["properties"]["buildings"].as_u64().unwrap();
        assert_eq!(inside, claimed, "hexagon {}", feature["id"]);
        counted += claimed;
        assert_eq!(feature["id"], feature["properties"]["h3"]);
    }
    assert_eq!(counted as usize, atlas.buildings().len());
    // Gi* on the hexagons is the analysis's on the same hexagon counts.
    let stats: Vec<_> = atlas
        .buildings()
        .iter()
        .filter_map(|b| atlas.building_stats(b.id).map(|s| (b.point.x(), b.point.y(), s)))
        .collect();
    let hex = hex_counts(stats.iter().map(|&(x, y, s)| (x, y, s)), 9, 1).unwrap();
    let y: Vec<f64> = hex.counts.iter().map(|c| f64::from(c.stats.persons)).collect();
    let gi = gi_star(&y, &hex.weights().unwrap(), &GiOptions { fdr: true }).unwrap();
    assert_eq!(features.len(), hex.index.len());
    let mut hot = 0;
    for (k, index) in hex.index.iter().enumerate() {
        let p = &features.iter().find(|f| f["id"] == index.as_str()).unwrap()["properties"];
        assert!((p["z"].as_f64().unwrap() - gi.z[k]).abs() < 1e-9, "{index}: {} vs {}", p["z"], gi.z[k]);
        assert_eq!(p["value"].as_f64().unwrap(), y[k]);
        hot += usize::from(gi.bin[k] > 0);
    }
    assert!(hot > 0, "the demo's dense communities make hot hexagons of persons");
    // Rates stay undefined on the empty ring of hexagons.
    let (_, rates) = get(&f.router, "/api/hotspots?tessellation=h3&metric=reg_rate&method=lisa&permutations=99").await;
    let empty: Vec<&Value> =
        rates["features"].as_array().unwrap().iter().filter(|f| f["properties"]["buildings"] == 0).collect();
    assert!(!empty.is_empty());
    assert!(empty.iter().all(|f| f["properties"]["value"].is_null() && f["properties"]["class"].is_null()));
    f.done().await;
}

/// The tile holding a point at zoom `z`, and the point's position in it (extent 4096).
fn tile_of(lon: f64, lat: f64, z: u8) -> (u32, u32, f64, f64) {
    let n = 2f64.powi(i32::from(z));
    let fx = (lon + 180.0) / 360.0 * n;
    let phi = lat.to_radians();
    let fy = (1.0 - (phi.tan() + 1.0 / phi.cos()).ln() / std::f64::consts::PI) / 2.0 * n;
    (fx.floor() as u32, fy.floor() as u32, (fx - fx.floor()) * 4096.0, (fy - fy.floor()) * 4096.0)
}

/// The heat band holding a point at zoom `z`: its lowest density and the one it stays below.
async fn heat_band(router: &Router, lon: f64, lat: f64, z: u8, count: &str) -> Option<(f64, Option<f64>)> {
    let (x, y, px, py) = tile_of(lon, lat, z);
    let (status, _, bytes) = get_raw(router, &format!("/tiles/heat/{z}/{x}/{y}.mvt?count={count}")).await;
    assert_eq!(status, StatusCode::OK, "heat tile {z}/{x}/{y}");
    let layers = decode(&bytes).unwrap();
    let heat = layers.iter().find(|l| l.name == "heat").unwrap();
    let here = Point::new(px, py);
    let ring = |r: &Vec<[i32; 2]>| {
        LineString::from(r.iter().map(|p| Coord { x: f64::from(p[0]), y: f64::from(p[1]) }).collect::<Vec<_>>())
    };
    for f in &heat.features {
        // Even-odd over all the feature's rings: inside an exterior and not in its holes.
        let inside = f.paths.iter().filter(|r| Polygon::new(ring(r), vec![]).contains(&here)).count() % 2 == 1;
        if inside {
            return Some((f.props["lo"].as_f64().unwrap(), f.props.get("hi").and_then(|v| v.as_f64())));
        }
    }
    None
}

async fn heat_tiles_hold_the_kernel_density_at_every_zoom(backend: Backend) {
    let f = Fixture::seeded(backend).await;
    // A point where people live, well inside its tile at every zoom checked: the most populous
    // such building.
    let inside = |b: &&rentgrid_geodata::Building| {
        (12..=16).all(|z| {
            let (_, _, px, py) = tile_of(b.point.x(), b.point.y(), z);
            (700.0..3400.0).contains(&px) && (700.0..3400.0).contains(&py)
        })
    };
    let busiest = f
        .atlas()
        .buildings()
        .iter()
        .filter(inside)
        .max_by_key(|b| f.atlas().building_stats(b.id).map_or(0, |s| s.persons))
        .unwrap();
    let (lon, lat) = (busiest.point.x(), busiest.point.y());
    // The density computed here, from the same buildings, with the same default radius.
    let points: Vec<(f64, f64, f64)> = f
        .atlas()
        .buildings()
        .iter()
        .filter_map(|b| {
            let s = f.atlas().building_stats(b.id)?;
            (s.persons > 0).then(|| (b.point.x(), b.point.y(), f64::from(s.persons)))
        })
        .collect();
    let kd = KernelDensity::from_lonlat(&points, None).unwrap();
    let v = kd.at_lonlat(lon, lat);
    // The band holding the point is the one its kernel density falls in, up to the linear
    // interpolation between the 100 m samples the bands are traced through (within 15%).
    let (lo, hi) = heat_band(&f.router, lon, lat, 14, "persons").await.expect("a band holds the busiest building");
    assert!(lo <= v * 1.15 && hi.is_none_or(|hi| v * 0.85 < hi), "band {lo}..{hi:?} vs kernel density {v}");
    // From zoom 12 up the bands are traced through the same samples: the same band at every zoom.
    for z in [12, 13, 15, 16] {
        assert_eq!(heat_band(&f.router, lon, lat, z, "persons").await, Some((lo, hi)), "zoom {z}");
    }
    // What is counted is a parameter: rental units give another surface; TileJSON says so.
    let (x, y, _, _) = tile_of(lon, lat, 14);
    let persons = get_raw(&f.router, &format!("/tiles/heat/14/{x}/{y}.mvt?count=persons")).await.2;
    let units = get_raw(&f.router, &format!("/tiles/heat/14/{x}/{y}.mvt?count=rental_units")).await.2;
    assert_ne!(persons, units);
    let (status, tj) = get(&f.router, "/tiles/heat.json?count=unregistered").await;
    assert_eq!(status, StatusCode::OK);
    assert!(tj["tiles"][0].as_str().unwrap().ends_with("/tiles/heat/{z}/{x}/{y}.mvt?count=unregistered"), "{tj}");
    assert_eq!(tj["vector_layers"][0]["id"], "heat");
    f.done().await;
}

/// What the server makes once the inputs are read at start-up is what the leaders' view asks
/// for (`fetchHotspots` in web-map/src/api.ts: Gi*, each metric it offers, queen weights): a
/// leader's request is then answered with it, and no run is made for the request.
async fn the_leaders_views_hot_spots_are_made_before_a_leader_asks(backend: Backend) {
    let f = Fixture::seeded(backend).await;
    let state = f.state();
    assert!(state.hotspots_kept().is_empty(), "nothing is made before it is asked for");
    prepare_leaders_view(state).await;
    let kept = state.hotspots_kept();
    assert_eq!(kept.len(), LEADERS_VIEW_METRICS.len());
    let leader = signed_in(f.anonymous.clone(), principal(Role::Leader));
    for metric in LEADERS_VIEW_METRICS {
        // As the web map asks (`fetchHotspots` in web-map/src/api.ts): grids drawn from tiles.
        let uri = format!("/api/hotspots?method=gi&metric={}&weights=queen&geometry=false", metric.as_str());
        let (status, _, bytes) = get_raw(&leader, &uri).await;
        assert_eq!(status, StatusCode::OK, "{uri}");
        assert!(kept.iter().any(|k| k.json == bytes), "{uri} is answered with what was made at start-up");
        let fc: Value = serde_json::from_slice(&bytes).unwrap();
        let features = fc["features"].as_array().unwrap();
        assert_eq!(features.len(), f.atlas().grids().len());
        assert!(features.iter().all(|f| f["geometry"].is_null() && f["id"].is_u64()), "{uri}: outlines sent");
    }
    assert_eq!(state.hotspots_kept().len(), kept.len(), "no run was made for a leader's request");
    // With outlines, another answer (and the same figures).
    let uri = "/api/hotspots?method=gi&metric=reg_rate&weights=queen";
    let (status, outlined) = get(&leader, uri).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(state.hotspots_kept().len(), kept.len() + 1, "{uri} was answered without outlines");
    let (_, bare) = get(&leader, &format!("{uri}&geometry=false")).await;
    assert!(outlined["features"].as_array().unwrap().iter().all(|f| f["geometry"]["type"].is_string()));
    assert_eq!(by_grid(&outlined), by_grid(&bare));
    // Made again, nothing is run twice; the command center's answer is its own (not suppressed).
    prepare_leaders_view(state).await;
    assert_eq!(state.hotspots_kept().len(), kept.len() + 1);
    let (status, _, _) =
        get_raw(&f.router, "/api/hotspots?method=gi&metric=reg_rate&weights=queen&geometry=false").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(state.hotspots_kept().len(), kept.len() + 2, "the center's answer is another");
    f.done().await;
}
