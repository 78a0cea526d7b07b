//! Access control through the real router, on both stores: every route the router serves (the
//! paths and methods of the OpenAPI document it is built with, and its undocumented routes) as
//! anonymous and as every role, each answered as the policy table says (a route the table lacks
//! fails it, named); and each role's scope in what it reads and writes. Signing in is a test-only layer that puts a principal into each
//! request (see `common::signed_in`), as the authentication layer does for a session or token.

use crate::common::{Backend, Fixture, get, post_json, principal, signed_in, tile_at};
use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use geo::BoundingRect;
use http_body_util::BodyExt;
use rentgrid_geodata::Caseworker;
use rentgrid_server::access::policy::{self, Decision, Target};
use rentgrid_server::access::{Principal, Role};
use rentgrid_server::api::authorize::AppliedRule;
use rentgrid_tiles::decode::{Val, decode};
use serde_json::Value;
use std::collections::BTreeSet;
use tower::ServiceExt;

on_both_stores!(
    every_route_answers_every_role_as_its_policy_says,
    each_role_reads_and_writes_only_its_own_part,
    tiles_carry_only_the_callers_grids,
    a_leader_is_shown_no_count_of_fewer_than_five_persons,
    every_record_route_answers_inside_the_scope_and_not_outside,
);

/// A caseworker with contracted grids that have buildings.
fn contracted<'a>(f: &Fixture, caseworkers: &'a [Caseworker]) -> &'a Caseworker {
    let atlas = f.atlas();
    caseworkers
        .iter()
        .find(|c| atlas.buildings().iter().any(|b| c.grids.contains(&b.grid_id)))
        .expect("a caseworker with buildings in their grids")
}

/// Anonymous, then one user of each role: a supervisor of the first street, a caseworker with
/// contracts.
fn everyone(f: &Fixture, caseworkers: &[Caseworker]) -> Vec<(String, Option<Principal>)> {
    let mut out = vec![("anonymous".to_string(), None)];
    for role in Role::ALL {
        let p = match role {
            Role::Supervisor => {
                Principal { street: Some(f.atlas().streets()[0].street.code.clone()), ..principal(role) }
            }
            Role::Caseworker => Principal { caseworker: Some(contracted(f, caseworkers).id), ..principal(role) },
            _ => principal(role),
        };
        out.push((role.to_string(), Some(p)));
    }
    out
}

/// A request path for a route template: each parameter given a value the route accepts or
/// answers with a 4xx of its own (never a write: bodies sent are not JSON).
fn concrete(template: &str) -> String {
    let exports = template.starts_with("/api/exports/");
    template
        .split('/')
        .map(|seg| match seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            None => seg.to_string(),
            Some("layer") => "grids".into(),
            Some("z" | "x") => "0".into(),
            Some("y") => "0.mvt".into(),
            Some("file") if exports => "grids.csv".into(),
            Some("file") => "grids.json".into(),
            Some("collectionId" | "id") if template.starts_with("/collections") => "grids".into(),
            Some("*rest") => "no-such-endpoint".into(),
            Some(_) => "1".into(),
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Every route: the document's paths and methods, then the undocumented routes.
fn routes() -> Vec<(String, String)> {
    let doc: Value = serde_json::from_str(&rentgrid_server::api::openapi_json().unwrap()).unwrap();
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in ["get", "post", "put", "patch", "delete"] {
            if item.get(method).is_some() {
                out.push((method.to_uppercase(), path.clone()));
            }
        }
    }
    assert!(out.len() > 30, "the document lists the routes: {out:?}");
    for (method, path) in rentgrid_server::api::UNDOCUMENTED_ROUTES {
        out.push((method.to_string(), path.to_string()));
    }
    out
}

async fn answer(router: &Router, method: &str, path: &str) -> (StatusCode, Option<AppliedRule>, Value) {
    let mut req = Request::builder().method(method).uri(concrete(path));
    if path == "/" {
        req = req.header(header::ACCEPT, "application/json");
    }
    if method != "GET" {
        req = req.header(header::CONTENT_TYPE, "application/json");
    }
    let body = if method == "GET" { Body::empty() } else { Body::from("not json") };
    let res = router.clone().oneshot(req.body(body).unwrap()).await.unwrap();
    let status = res.status();
    let applied = res.extensions().get::<AppliedRule>().copied();
    // An event stream does not end: its status is the answer.
    if res.headers().get(header::CONTENT_TYPE).is_some_and(|t| t == "text/event-stream") {
        return (status, applied, Value::Null);
    }
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    (status, applied, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

async fn every_route_answers_every_role_as_its_policy_says(backend: Backend) {
    let f = Fixture::seeded(backend).await;
    let caseworkers = f.store.caseworkers().await.unwrap();
    let mut failures = Vec::new();
    for (who, p) in everyone(&f, &caseworkers) {
        let role = p.as_ref().map(|p| p.role);
        let router = match p {
            Some(p) => signed_in(f.anonymous.clone(), p),
            None => f.anonymous.clone(),
        };
        for (method, path) in routes() {
            let (status, applied, body) = answer(&router, &method, &path).await;
            let target = if path == "/" {
                Target::Landing
            } else {
                // The rule the router's matched route was decided by: a route without one in
                // the table fails here, named.
                let Some(AppliedRule(Some(rule))) = applied else {
                    failures.push(format!("{method} {path}: no access policy in the table ({who}: {status})"));
                    continue;
                };
                if rule.path == "/api/{*rest}" && path != rule.path {
                    failures.push(format!("{method} {path}: answered by the unknown-endpoint route"));
                    continue;
                }
                Target::Route { method: rule.method, path: rule.path }
            };
            // Beyond the table, a leader's handlers refuse the collections of single places.
            let single_places = ["buildings", "rental_units", "workplaces"]
                .iter()
                .any(|c| path.starts_with(&format!("/collections/{c}/")));
            let ok = match policy::decide(target, role) {
                Decision::Allow if single_places && role == Some(Role::Leader) => {
                    status == StatusCode::FORBIDDEN && body["message"].as_str().unwrap().contains("aggregates only")
                }
                Decision::Allow => {
                    status != StatusCode::UNAUTHORIZED && status != StatusCode::FORBIDDEN && status.as_u16() < 500
                }
                Decision::Unauthenticated => status == StatusCode::UNAUTHORIZED && body["code"] == "unauthorized",
                Decision::Forbidden(_) => status == StatusCode::FORBIDDEN && body["code"] == "forbidden",
                Decision::MethodNotAllowed(_) => {
                    status == StatusCode::METHOD_NOT_ALLOWED && body["code"] == "method_not_allowed"
                }
            };
            if !ok {
                let expected = policy::decide(target, role);
                failures.push(format!("{method} {path} as {who}: {status} {body}, the policy says {expected:?}"));
            }
        }
    }
    assert!(failures.is_empty(), "{} answers differ from the policy:\n{}", failures.len(), failures.join("\n"));

    // Paths no route serves: data prefixes need a signed-in user, the web map's files do not.
    for path in ["/api/", "/tiles/nothing", "/fonts/nothing", "/collections/", "/conformance/x"] {
        let (status, _) = get(&f.anonymous, path).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
    }
    for path in ["/", "/assets/app.js"] {
        let (status, _) = get(&f.anonymous, path).await;
        assert_ne!(status, StatusCode::UNAUTHORIZED, "{path}");
    }
    let res = f.anonymous.clone().oneshot(Request::get("/api/grids").body(Body::empty()).unwrap()).await.unwrap();
    assert!(res.headers().contains_key(header::WWW_AUTHENTICATE), "a 401 says how to authenticate");
    f.done().await;
}

fn ids(features: &Value) -> BTreeSet<u64> {
    features.as_array().unwrap().iter().map(|x| x["id"].as_u64().unwrap()).collect()
}

/// `/api/grids`, `/api/stats?level=grid` and the OGC grids as `router` sees them: the grid ids
/// of each, and `numberMatched`.
async fn grids_seen(router: &Router) -> (BTreeSet<u64>, BTreeSet<u64>, BTreeSet<u64>, u64) {
    let (s, grids) = get(router, "/api/grids").await;
    assert_eq!(s, StatusCode::OK, "{grids}");
    let (s, stats) = get(router, "/api/stats?level=grid").await;
    assert_eq!(s, StatusCode::OK, "{stats}");
    let stat_ids = stats["rows"].as_array().unwrap().iter().map(|r| r["grid_id"].as_u64().unwrap()).collect();
    let (s, items) = get(router, "/collections/grids/items?limit=10000").await;
    assert_eq!(s, StatusCode::OK, "{items}");
    (ids(&grids["features"]), stat_ids, ids(&items["features"]), items["numberMatched"].as_u64().unwrap())
}

async fn each_role_reads_and_writes_only_its_own_part(backend: Backend) {
    let f = Fixture::seeded(backend).await;
    let atlas = f.atlas();
    let caseworkers = f.store.caseworkers().await.unwrap();
    let as_role = |p: Principal| signed_in(f.anonymous.clone(), p);

    // A caseworker: the grids of their contracts, in the API, the stats and OGC.
    let me = contracted(&f, &caseworkers);
    let mine: BTreeSet<u64> = me.grids.iter().map(|&g| u64::from(g)).collect();
    assert!(mine.len() < atlas.grids().len());
    let cw = as_role(Principal { caseworker: Some(me.id), ..principal(Role::Caseworker) });
    let (api, stats, ogc, matched) = grids_seen(&cw).await;
    assert_eq!((&api, &stats, &ogc, matched), (&mine, &mine, &mine, mine.len() as u64));
    // Their grids' rows (made for their grids alone) are the district's, figure for figure.
    let (_, theirs) = get(&cw, "/api/stats?level=grid").await;
    let (_, whole) = get(&as_role(principal(Role::Center)), "/api/stats?level=grid").await;
    let of_mine: Vec<&Value> =
        whole["rows"].as_array().unwrap().iter().filter(|r| mine.contains(&r["grid_id"].as_u64().unwrap())).collect();
    assert_eq!(theirs["rows"].as_array().unwrap().iter().collect::<Vec<_>>(), of_mine);
    assert!(of_mine.iter().any(|r| r["reg_rate_est"].is_number()), "no estimated rate compared");
    // Exports and hot spots: their grids' features and nothing else.
    let (s, export) = get(&cw, "/api/exports/grids.geojson").await;
    assert_eq!(s, StatusCode::OK, "{export}");
    let exported: BTreeSet<u64> =
        export["features"].as_array().unwrap().iter().map(|x| x["properties"]["id"].as_u64().unwrap()).collect();
    assert_eq!(exported, mine, "exports/grids.geojson");
    let (s, hot) = get(&cw, "/api/hotspots?method=gi").await;
    assert_eq!(s, StatusCode::OK, "{hot}");
    let hot_grids: BTreeSet<u64> =
        hot["features"].as_array().unwrap().iter().map(|x| x["properties"]["grid_id"].as_u64().unwrap()).collect();
    assert_eq!(hot_grids, mine, "hot spots");
    let (s, district) = get(&cw, "/api/stats?level=district").await;
    assert_eq!((s, district["rows"].as_array().unwrap().len()), (StatusCode::OK, 0), "the district is not theirs");
    // Their own assessment row only.
    let month = rentgrid_geodata::clock::today();
    let uri = format!("/api/assessment?month={}-{:02}", month.year(), u8::from(month.month()));
    let (s, a) = get(&cw, &uri).await;
    assert_eq!(s, StatusCode::OK, "{a}");
    let rows: Vec<&Value> = a["rows"].as_array().unwrap().iter().collect();
    assert!(rows.len() == 1 && rows[0]["caseworker_id"] == me.id, "{a}");
    // Their own spot checks only, in any month.
    let (s, checks) = get(&cw, &uri.replace("assessment?", "spot-checks?")).await;
    assert_eq!(s, StatusCode::OK, "{checks}");
    assert!(checks["rows"].as_array().unwrap().iter().all(|r| r["caseworker_id"] == me.id), "{checks}");
    // Visits: in their grids, as themselves; nowhere else.
    let inside = atlas.buildings().iter().find(|b| me.grids.contains(&b.grid_id)).unwrap().id;
    let outside = atlas.buildings().iter().find(|b| !me.grids.contains(&b.grid_id)).unwrap().id;
    let visit = |b: u32, n: u32| format!(r#"{{"client_id":"access-{n}","building_id":{b}}}"#);
    let (s, body) = post_json(&cw, "/api/visits", &visit(outside, 1)).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{body}");
    let other = caseworkers.iter().find(|c| c.id != me.id).unwrap().id;
    let as_other = format!(r#"{{"client_id":"access-2","building_id":{inside},"caseworker_id":{other}}}"#);
    assert_eq!(post_json(&cw, "/api/visits", &as_other).await.0, StatusCode::FORBIDDEN);
    let (s, body) = post_json(&cw, "/api/visits", &visit(inside, 3)).await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    assert_eq!(post_json(&cw, "/api/imports/grids", "{}").await.0, StatusCode::FORBIDDEN);

    // A supervisor: their street's grids, and of the streets their own only.
    let street = &atlas.streets()[1];
    let sup = as_role(Principal { street: Some(street.street.code.clone()), ..principal(Role::Supervisor) });
    let theirs: BTreeSet<u64> = street.grids.iter().map(|&g| u64::from(g)).collect();
    let (api, stats, ogc, matched) = grids_seen(&sup).await;
    assert_eq!((&api, &stats, &ogc, matched), (&theirs, &theirs, &theirs, theirs.len() as u64));
    let (_, streets) = get(&sup, "/api/stats?level=street").await;
    let codes: Vec<&str> = streets["rows"].as_array().unwrap().iter().map(|r| r["code"].as_str().unwrap()).collect();
    assert_eq!(codes, [street.street.code.as_str()]);
    let (_, items) = get(&sup, "/collections/streets/items").await;
    assert_eq!(items["numberMatched"], 1);
    let (_, export) = get(&sup, "/api/exports/grids.geojson").await;
    let exported: BTreeSet<u64> =
        export["features"].as_array().unwrap().iter().map(|x| x["properties"]["id"].as_u64().unwrap()).collect();
    assert_eq!(exported, theirs, "a supervisor's export");

    // A leader: the district's areas, no single building.
    let leader = as_role(principal(Role::Leader));
    let all = atlas.grids().len() as u64;
    let (api, _, _, matched) = grids_seen(&leader).await;
    assert_eq!((api.len() as u64, matched), (all, all));
    for uri in [
        "/api/buildings",
        "/api/coverage",
        "/tiles/buildings/0/0/0.mvt",
        "/collections/buildings/items",
        "/api/exports/buildings.csv",
    ] {
        assert_eq!(get(&leader, uri).await.0, StatusCode::FORBIDDEN, "{uri}");
    }
    assert_eq!(get(&leader, &uri.replace("assessment?", "exports/assessment.csv?")).await.0, StatusCode::FORBIDDEN);
    // Nor the spot checks, which name caseworkers.
    assert_eq!(get(&leader, &uri.replace("assessment?", "spot-checks?")).await.0, StatusCode::FORBIDDEN);
    assert_eq!(get(&leader, &uri.replace("assessment?", "exports/spot_checks.csv?")).await.0, StatusCode::FORBIDDEN);

    // Administrators read no register data at all.
    for role in [Role::Sysadmin, Role::Secadmin, Role::Auditor] {
        let admin = as_role(principal(role));
        for uri in ["/api/grids", "/api/stats", "/collections/grids/items", "/tiles/grids/0/0/0.mvt"] {
            assert_eq!(get(&admin, uri).await.0, StatusCode::FORBIDDEN, "{role} {uri}");
        }
    }
    f.done().await;
}

/// The grid a decoded feature of `layer` belongs to: a grid's own id, else its `grid_id`.
fn grid_of(layer: &str, f: &rentgrid_tiles::decode::DecodedFeature) -> Option<u64> {
    let key = if layer == "grids" || layer == "grid_labels" { "id" } else { "grid_id" };
    match f.props.get(key)? {
        Val::U(v) => Some(*v),
        Val::I(v) | Val::Si(v) => u64::try_from(*v).ok(),
        Val::D(v) => Some(*v as u64),
        Val::F(v) => Some(*v as u64),
        other => panic!("{layer}: {key} is {other:?}"),
    }
}

async fn tiles_carry_only_the_callers_grids(backend: Backend) {
    let f = Fixture::seeded(backend).await;
    let atlas = f.atlas();
    let caseworkers = f.store.caseworkers().await.unwrap();
    let me = contracted(&f, &caseworkers);
    let mine: BTreeSet<u64> = me.grids.iter().map(|&g| u64::from(g)).collect();
    let cw = signed_in(f.anonymous.clone(), Principal { caseworker: Some(me.id), ..principal(Role::Caseworker) });
    let bbox = me
        .grids
        .iter()
        .filter_map(|&g| atlas.grid(g)?.grid.geometry.bounding_rect())
        .reduce(|a, b| {
            geo::Rect::new(
                geo::coord! { x: a.min().x.min(b.min().x), y: a.min().y.min(b.min().y) },
                geo::coord! { x: a.max().x.max(b.max().x), y: a.max().y.max(b.max().y) },
            )
        })
        .unwrap();
    let mut seen: BTreeSet<u64> = BTreeSet::new();
    let mut features = 0;
    for z in 12..=16u8 {
        let (_, x0, y0) = tile_at(bbox.min().x, bbox.max().y, z);
        let (_, x1, y1) = tile_at(bbox.max().x, bbox.min().y, z);
        for (x, y) in (x0..=x1).flat_map(|x| (y0..=y1).map(move |y| (x, y))) {
            for layer in ["grids", "buildings", "rental_units", "workplaces"] {
                let uri = format!("/tiles/{layer}/{z}/{x}/{y}.mvt");
                // The command center asks first, so its tile is in the cache: the caseworker
                // must get their own.
                let (s, _) = get(&f.router, &uri).await;
                assert!(s == StatusCode::OK || s == StatusCode::NO_CONTENT, "{uri}: {s}");
                let res = cw.clone().oneshot(Request::get(&uri).body(Body::empty()).unwrap()).await.unwrap();
                let status = res.status();
                let bytes = res.into_body().collect().await.unwrap().to_bytes();
                match status {
                    StatusCode::NO_CONTENT => continue,
                    StatusCode::OK => {}
                    other => panic!("{uri}: {other}"),
                }
                for l in decode(&bytes).unwrap() {
                    for feat in &l.features {
                        features += 1;
                        if let Some(g) = grid_of(&l.name, feat) {
                            assert!(mine.contains(&g), "{uri}: {} feature of grid {g}, not the caseworker's", l.name);
                            if l.name == "grids" {
                                seen.insert(g);
                            }
                        }
                    }
                }
            }
        }
    }
    assert!(features > mine.len(), "the tiles draw their grids");
    assert_eq!(seen, mine, "every grid of theirs is drawn");
    f.done().await;
}

/// The person counts in `v` (at any depth) with where they are, and how many figures are null
/// where the command center's answer `center` (the same shape) has a value.
fn person_counts(v: &Value, center: &Value, at: &str, counts: &mut Vec<(String, f64)>, nulled: &mut usize) {
    match (v, center) {
        (Value::Object(m), Value::Object(c)) => {
            for (k, x) in m {
                let here = format!("{at}.{k}");
                let other = c.get(k).unwrap_or(&Value::Null);
                let count = k.starts_with("persons") || k.starts_with("unregistered_persons");
                if count
                    && !k.ends_with("_per_km2")
                    && let Some(n) = x.as_f64()
                {
                    counts.push((here.clone(), n));
                }
                if x.is_null() && !other.is_null() {
                    *nulled += 1;
                }
                person_counts(x, other, &here, counts, nulled);
            }
        }
        (Value::Array(a), Value::Array(c)) => {
            for (i, (x, y)) in a.iter().zip(c).enumerate() {
                person_counts(x, y, &format!("{at}[{i}]"), counts, nulled);
            }
        }
        _ => {}
    }
}

async fn a_leader_is_shown_no_count_of_fewer_than_five_persons(backend: Backend) {
    let f = Fixture::seeded(backend).await;
    let leader = signed_in(f.anonymous.clone(), principal(Role::Leader));
    let mut nulled_total = 0;
    for uri in [
        "/api/stats?level=grid",
        "/api/stats?level=community",
        "/api/stats?level=street",
        "/api/stats?level=district",
        "/api/grids",
        "/collections/grids/items?limit=10000",
        "/collections/communities/items?limit=10000",
        "/api/staffing",
        "/api/exports/grids.geojson",
        "/api/hotspots?metric=persons&tessellation=h3&resolution=10",
    ] {
        let (s, theirs) = get(&leader, uri).await;
        assert_eq!(s, StatusCode::OK, "{uri}: {theirs}");
        let (_, full) = get(&f.router, uri).await;
        let (mut counts, mut nulled) = (Vec::new(), 0);
        person_counts(&theirs, &full, "", &mut counts, &mut nulled);
        assert!(!counts.is_empty() || uri.contains("hotspots"), "{uri}: the leader sees person counts");
        for (at, n) in &counts {
            assert!(*n >= 5.0, "{uri}: {at} = {n} shown to a leader");
        }
        nulled_total += nulled;
        if uri.contains("hotspots") {
            // The metric's value per hexagon is a count of persons: none under 5.
            let values: Vec<f64> = theirs["features"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|x| x["properties"]["value"].as_f64())
                .collect();
            assert!(!values.is_empty() && values.iter().all(|&v| v >= 5.0), "{uri}: {values:?}");
            assert!(nulled > 0, "{uri}: the demo has hexagons of fewer than 5 persons");
        }
    }
    assert!(nulled_total > 0, "the demo has places with small counts to hide");

    // A hot-spot answer is kept gzipped, and so is every grid's stats (in blocks); asked for
    // with gzip, the leader's is the same suppressed answer as without.
    for uri in ["/api/hotspots?metric=persons&tessellation=h3&resolution=10", "/api/stats?level=grid"] {
        let (status, with_gzip, _) = crate::common::get_gzip(&leader, uri).await;
        assert_eq!(status, StatusCode::OK, "{uri}");
        assert_eq!(with_gzip, get(&leader, uri).await.1, "{uri}");
    }

    // Tables: "<5" where a person count is under 5, never the count.
    let res = leader
        .clone()
        .oneshot(Request::get("/api/exports/grids.csv?lang=en").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let csv = String::from_utf8(res.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let persons_cols: Vec<usize> = header
        .iter()
        .enumerate()
        .filter(|(_, h)| h.starts_with("persons") && !h.ends_with("km2"))
        .map(|(i, _)| i)
        .collect();
    // Four counts, and the three figures of the unrecorded persons' estimate.
    assert_eq!(persons_cols.len(), 4 + 3, "{header:?}");
    let mut small = 0;
    for line in lines {
        let cells: Vec<&str> = line.split(',').collect();
        for &i in &persons_cols {
            match cells[i] {
                "<5" => small += 1,
                n => assert!(n.parse::<f64>().unwrap() >= 5.0, "{} = {n}: {line}", header[i]),
            }
        }
    }
    assert!(small > 0, "some grid has a small count");

    // Staffing: a place's persons and the caseworkers they call for go together.
    let (_, staffing) = get(&leader, "/api/staffing").await;
    let rows: Vec<&Value> = staffing["rows"].as_array().unwrap().iter().collect();
    assert!(!rows.is_empty(), "{staffing}");
    let mut hidden_rows = 0;
    for r in rows {
        if r["population"]["persons"].is_null() {
            hidden_rows += 1;
            assert!(r["ratio_required"].is_null() && r["required"].is_null(), "{r}");
        }
    }
    assert!(hidden_rows > 0, "some grid's staffing is hidden");
    let res = leader
        .clone()
        .oneshot(Request::get("/api/exports/staffing.csv?lang=en").body(Body::empty()).unwrap())
        .await
        .unwrap();
    let csv = String::from_utf8(res.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let (p, r) = (
        header.iter().position(|h| *h == "persons").unwrap(),
        header.iter().position(|h| *h == "ratio_required").unwrap(),
    );
    let mut hidden_lines = 0;
    for line in lines {
        let cells: Vec<&str> = line.split(',').collect();
        if cells[p] == "<5" {
            hidden_lines += 1;
            assert_eq!(cells[r], "<5", "{line}");
        } else {
            assert!(cells[p].parse::<f64>().unwrap() >= 5.0, "{line}");
        }
    }
    assert_eq!(hidden_lines, hidden_rows, "the file hides what the API hides");

    // Tiles: the grids layer over the whole district at z12.
    let bb = f.atlas().bbox();
    let (z, x0, y0) = tile_at(bb.min().x, bb.max().y, 12);
    let (_, x1, y1) = tile_at(bb.max().x, bb.min().y, 12);
    let mut drawn = 0;
    for (x, y) in (x0..=x1).flat_map(|x| (y0..=y1).map(move |y| (x, y))) {
        let uri = format!("/tiles/grids/{z}/{x}/{y}.mvt");
        let res = leader.clone().oneshot(Request::get(&uri).body(Body::empty()).unwrap()).await.unwrap();
        if res.status() == StatusCode::NO_CONTENT {
            continue;
        }
        assert_eq!(res.status(), StatusCode::OK, "{uri}");
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        for l in decode(&bytes).unwrap() {
            for feat in &l.features {
                drawn += 1;
                if let Some(v) = feat.props.get("persons") {
                    let n = match v {
                        Val::U(n) => *n as f64,
                        Val::I(n) | Val::Si(n) => *n as f64,
                        Val::D(n) => *n,
                        Val::F(n) => f64::from(*n),
                        other => panic!("{other:?}"),
                    };
                    assert!(n >= 5.0, "{uri}: a grid of {n} persons");
                }
            }
        }
    }
    assert!(drawn > 0);
    f.done().await;
}

/// Routes with a path parameter that do not name a record located in grids, or whose in- and
/// out-of-scope answers another test checks (named), so the test below need not.
const NOT_LOCATED: &[(&str, &str)] = &[
    ("/api/tokens/{id}", "a user's own token: identity::a_revoked_token_is_401"),
    ("/api/exports/{file}", "a file name: each_role_reads_and_writes_only_its_own_part"),
    ("/api/imports/{kind}", "a ledger kind, center only"),
    ("/collections/{collectionId}", "a collection's description, the same for everyone"),
    ("/tiles/{file}", "TileJSON, the same for everyone"),
    (
        "/fonts/{fontstack}/{range}",
        "glyphs, the same for everyone: fonts::a_glyph_range_holds_the_glyphs_of_place_names",
    ),
    ("/tiles/{layer}/{z}/{x}/{y}", "tiles_carry_only_the_callers_grids"),
    ("/api/territory/proposals/{id}", "coverage: a proposal is its street's supervisor's"),
    ("/api/territory/proposals/{id}/accept", "coverage: a proposal is its street's supervisor's"),
    ("/api/campaigns/{id}/blocks/{block}/phase", "campaigns::a_caller_sees_the_part_of_a_campaign_in_their_grids"),
    ("/api/units/{id}/persons", "a write: field::a_person_is_registered_moved_left_and_back_as_one_record"),
    ("/api/persons/{id}/departure", "a write: field::a_person_is_registered_moved_left_and_back_as_one_record"),
    (
        "/api/conflicts/{id}/resolve",
        "a write: field::a_stale_edit_of_the_same_field_is_a_conflict_and_of_another_merges",
    ),
    ("/api/plates/{token}/revoke", "plates::a_sheet_decodes_to_plates_that_open_their_cards_and_nothing_else"),
    ("/api/buildings/{id}/hazards", "a write: hazards::a_hazard_case_runs_from_found_to_verified_and_is_reopened"),
    ("/api/hazards/{id}/assign", "a write: hazards::a_hazard_case_runs_from_found_to_verified_and_is_reopened"),
    ("/api/hazards/{id}/rectified", "a write: hazards::a_hazard_case_runs_from_found_to_verified_and_is_reopened"),
    ("/api/hazards/{id}/verify", "a write: hazards::a_hazard_case_runs_from_found_to_verified_and_is_reopened"),
    ("/api/hazards/{id}/reopen", "a write: hazards::a_hazard_case_runs_from_found_to_verified_and_is_reopened"),
    ("/api/hazards/{id}/photos", "a write: hazards::a_photo_is_kept_once_and_served_within_scope"),
    (
        "/api/hazards/{id}/photos/{photo}",
        "hazards::a_photo_is_kept_once_and_served_within_scope (needs a photo directory)",
    ),
    (
        rentgrid_server::api::UNDOCUMENTED_ROUTES[1].1,
        "a listing: numberMatched in scope, each_role_reads_and_writes_only_its_own_part",
    ),
    (rentgrid_server::api::UNDOCUMENTED_ROUTES[2].1, "each collection's items/{featureId} below"),
];

/// The ids of a listing's features.
fn feature_ids(v: &Value) -> BTreeSet<String> {
    v["features"].as_array().unwrap().iter().map(|f| f["id"].to_string().trim_matches('"').to_owned()).collect()
}

async fn every_record_route_answers_inside_the_scope_and_not_outside(backend: Backend) {
    let f = Fixture::seeded(backend).await;
    let caseworkers = f.store.caseworkers().await.unwrap();
    let me = contracted(&f, &caseworkers);
    let cw = signed_in(f.anonymous.clone(), Principal { caseworker: Some(me.id), ..principal(Role::Caseworker) });
    inside_and_outside(&f, &cw, me.grids.clone(), &caseworkers).await;
    let street = &f.atlas().streets()[1];
    let sup = signed_in(
        f.anonymous.clone(),
        Principal { street: Some(street.street.code.clone()), ..principal(Role::Supervisor) },
    );
    inside_and_outside(&f, &sup, street.grids.clone(), &caseworkers).await;
    f.done().await;
}

/// Each located route as `user`, who sees the grids `mine`: a record inside answers 200, one
/// outside 403 or 404 (and 200 to the command center).
async fn inside_and_outside(f: &Fixture, user: &Router, mine: Vec<u32>, caseworkers: &[Caseworker]) {
    let atlas = f.atlas();
    let list = mine.iter().map(u32::to_string).collect::<Vec<_>>().join(",");
    let cw = user;
    let inside = |g: u32| mine.contains(&g);

    // One campaign in their grid, one elsewhere, planned by the command center.
    let other_grid = atlas
        .grids()
        .iter()
        .map(|g| g.grid.id)
        .find(|&g| !inside(g) && atlas.blocks().iter().any(|b| b.grid_id == g))
        .unwrap();
    let my_grid = *mine.iter().find(|&&g| atlas.blocks().iter().any(|b| b.grid_id == g)).unwrap();
    let team: Vec<u32> = caseworkers.iter().take(2).map(|c| c.id).collect();
    let mut campaigns = Vec::new();
    for g in [my_grid, other_grid] {
        let body = serde_json::json!({ "grids": [g], "caseworkers": team, "start_date": "2026-09-07", "working_days": 260, "buildings_per_day": 6 });
        let (s, c) = post_json(&f.router, "/api/campaigns", &body.to_string()).await;
        assert_eq!(s, StatusCode::CREATED, "{c}");
        campaigns.push(c["id"].as_u64().unwrap());
    }

    let one = |sql: String| {
        let db = &f.db;
        async move { db.int(&sql).await }
    };
    let building_in = atlas.buildings().iter().find(|b| inside(b.grid_id)).unwrap().id;
    let building_out = atlas.buildings().iter().find(|b| !inside(b.grid_id)).unwrap().id;
    let located = |table: &str, within: bool| {
        let not = if within { "" } else { "NOT " };
        format!(
            "SELECT MIN(CAST(t.id AS BIGINT)) FROM {table} t JOIN buildings b ON b.id = t.building_id WHERE b.grid_id {not}IN ({list})"
        )
    };
    let (person_in, person_out) = (one(located("persons", true)).await, one(located("persons", false)).await);
    let (unit_in, unit_out) = (one(located("rental_units", true)).await, one(located("rental_units", false)).await);
    let grid_out = atlas.grids().iter().map(|g| g.grid.id).find(|&g| !inside(g)).unwrap();
    // The door plate of a building inside and of one outside, printed by the command center.
    let mut plates = Vec::new();
    for b in [building_in, building_out] {
        let (s, sheet) = get(&f.router, &format!("/api/buildings/{b}/plates?format=json")).await;
        assert_eq!(s, StatusCode::OK, "{sheet}");
        plates.push(sheet["plates"][0]["token"].as_str().unwrap().to_owned());
    }

    // A hazard case at a building inside and at one outside, recorded by the command center.
    let mut hazards = Vec::new();
    for (i, b) in [building_in, building_out].into_iter().enumerate() {
        let body =
            serde_json::json!({ "client_id": format!("scope-{}-{i}", mine[0]), "kind": "gas", "severity": "minor" });
        let (s, h) = post_json(&f.router, &format!("/api/buildings/{b}/hazards"), &body.to_string()).await;
        assert!(s.is_success(), "{h}");
        hazards.push(h["hazard"]["id"].as_u64().unwrap());
    }

    // Each located route: a path inside the caseworker's grids and one outside.
    let mut cases: Vec<(String, Option<String>, String)> = vec![
        ("/api/grids/{id}".into(), Some(format!("/api/grids/{my_grid}")), format!("/api/grids/{grid_out}")),
        (
            "/api/places/{place}".into(),
            Some(format!("/api/places/grid:{}", atlas.grid(my_grid).unwrap().grid.code)),
            format!("/api/places/grid:{}", atlas.grid(grid_out).unwrap().grid.code),
        ),
        (
            "/api/buildings/{id}".into(),
            Some(format!("/api/buildings/{building_in}")),
            format!("/api/buildings/{building_out}"),
        ),
        ("/api/persons/{id}".into(), Some(format!("/api/persons/{person_in}")), format!("/api/persons/{person_out}")),
        ("/api/units/{id}".into(), Some(format!("/api/units/{unit_in}")), format!("/api/units/{unit_out}")),
        (
            "/api/buildings/{id}/units".into(),
            Some(format!("/api/buildings/{building_in}/units")),
            format!("/api/buildings/{building_out}/units"),
        ),
        (
            "/api/buildings/{id}/trend".into(),
            Some(format!("/api/buildings/{building_in}/trend")),
            format!("/api/buildings/{building_out}/trend"),
        ),
        (
            "/api/buildings/{id}/plates".into(),
            Some(format!("/api/buildings/{building_in}/plates")),
            format!("/api/buildings/{building_out}/plates"),
        ),
        (
            "/api/plates/{token}".into(),
            Some(format!("/api/plates/{}", plates[0])),
            format!("/api/plates/{}", plates[1]),
        ),
        (
            "/api/hazards/{id}".into(),
            Some(format!("/api/hazards/{}", hazards[0])),
            format!("/api/hazards/{}", hazards[1]),
        ),
        (
            "/api/campaigns/{id}".into(),
            Some(format!("/api/campaigns/{}", campaigns[0])),
            format!("/api/campaigns/{}", campaigns[1]),
        ),
        (
            "/api/campaigns/{id}/routes".into(),
            Some(format!("/api/campaigns/{}/routes?date=2026-09-07", campaigns[0])),
            format!("/api/campaigns/{}/routes?date=2026-09-07", campaigns[1]),
        ),
        (
            "/api/campaigns/{id}/visits".into(),
            Some(format!("/api/campaigns/{}/visits?date=2026-09-07", campaigns[0])),
            format!("/api/campaigns/{}/visits?date=2026-09-07", campaigns[1]),
        ),
    ];
    // OGC items of every collection: one of the caseworker's own listing, one of the command
    // center's that the caseworker's listing lacks.
    let (_, collections) = get(&f.router, "/collections").await;
    for c in collections["collections"].as_array().unwrap() {
        let id = c["id"].as_str().unwrap();
        let (_, all) = get(&f.router, &format!("/collections/{id}/items?limit=10000")).await;
        let (_, theirs) = get(cw, &format!("/collections/{id}/items?limit=10000")).await;
        let (all, theirs) = (feature_ids(&all), feature_ids(&theirs));
        let out = all.difference(&theirs).next().expect("a feature outside the caseworker's grids").clone();
        let template = format!("/collections/{id}/items/{{featureId}}");
        cases.push((
            template,
            theirs.iter().next().map(|fid| format!("/collections/{id}/items/{fid}")),
            format!("/collections/{id}/items/{out}"),
        ));
    }

    // Every route with a path parameter has a case here or a reason above: a new one fails.
    let covered: BTreeSet<&str> = cases.iter().map(|c| c.0.as_str()).chain(NOT_LOCATED.iter().map(|n| n.0)).collect();
    for (method, path) in routes() {
        if path.contains('{') && path != "/api/{*rest}" {
            assert!(covered.contains(path.as_str()), "{method} {path}: no in/out-of-scope case");
        }
    }
    let mut checked_inside = 0;
    for (route, inside_path, outside_path) in &cases {
        if let Some(p) = inside_path {
            let (s, body) = get(cw, p).await;
            assert_eq!(s, StatusCode::OK, "{route}: {p} is the caseworker's: {body}");
            checked_inside += 1;
        }
        let (s, body) = get(cw, outside_path).await;
        assert!(
            s == StatusCode::NOT_FOUND || s == StatusCode::FORBIDDEN,
            "{route}: {outside_path} answered {s}: {body}"
        );
        let (s, body) = get(&f.router, outside_path).await;
        assert_eq!(s, StatusCode::OK, "{route}: {outside_path} exists for the command center: {body}");
    }
    assert!(checked_inside >= 8, "inside cases run: {checked_inside}");
}
