//! Two `rentgrid serve` on one PostGIS database stay consistent: a visit recorded through one is
//! seen through the other's API and vector tiles (it hears of it by `NOTIFY` and reads the change
//! from the store's change log); and the other, cut off from the database (its connections
//! killed and kept out while the write is made, so it cannot hear of it), catches up from the
//! log once it is connected again. Each time from the write's answer to the other's first
//! showing it is printed (a measurement, not an assertion).

use crate::http::{Answer, demo_token, request};
use crate::serve::start;
use rentgrid_server::store::testing::TestDatabase;
use serde_json::{Value, json};
use sqlx::ConnectOptions;
use sqlx::postgres::PgConnectOptions;
use std::str::FromStr;
use std::time::{Duration, Instant};

/// How long a server may take to show a write before the test gives up: a guard against a
/// server that never catches up, far above the second it is meant to take.
const DEADLINE: Duration = Duration::from_secs(60);

/// The database of the test, and a role of its own for the second server (so that the test can
/// keep that server out); both dropped at the end, even when the test panics.
struct Database {
    db: Option<TestDatabase>,
    role: String,
}

impl Drop for Database {
    fn drop(&mut self) {
        drop(self.db.take());
        let role = self.role.clone();
        let _ = std::thread::spawn(move || admin(&format!("DROP ROLE IF EXISTS {role}"))).join();
    }
}

/// Runs `sql` on the test cluster's admin database.
fn admin(sql: &str) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let pool = sqlx::PgPool::connect(&rentgrid_server::store::testing::admin_url()).await.unwrap();
        sqlx::query(sql).execute(&pool).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
        pool.close().await;
    });
}

/// The test's own connections to its database.
struct Sql {
    rt: tokio::runtime::Runtime,
    pool: sqlx::PgPool,
}

impl Sql {
    /// Runs `sql`; returns the first column of its rows, as text.
    fn query(&self, sql: &str) -> Vec<String> {
        let rows: Vec<Option<String>> =
            self.rt.block_on(sqlx::query_scalar(sql).fetch_all(&self.pool)).unwrap_or_else(|e| panic!("{sql}: {e}"));
        rows.into_iter().flatten().collect()
    }

    /// The backends of the server with process id `pid`, as `pg_stat_activity` names them.
    fn backends_of(&self, pid: u32) -> Vec<String> {
        self.query(&format!("SELECT pid::text FROM pg_stat_activity WHERE application_name = 'rentgrid {pid}'"))
    }
}

/// A JSON GET as the holder of `auth`, which must answer 200.
pub(crate) fn get_json(addr: &str, auth: &str, path: &str) -> Value {
    let answer = request(addr, "GET", path, &[("Accept", "application/json"), ("Authorization", auth)], b"");
    assert_eq!(answer.status, 200, "{path}: {}", answer.text());
    answer.json()
}

/// A building of the district with its grid and a point of it.
pub(crate) fn a_building(addr: &str, auth: &str) -> (u64, u64, (f64, f64)) {
    let district = get_json(addr, auth, "/api/district");
    let bbox: Vec<String> = district["bbox"].as_array().unwrap().iter().map(Value::to_string).collect();
    let found = get_json(addr, auth, &format!("/api/buildings?bbox={}&limit=1", bbox.join(",")));
    let b = &found["features"][0];
    let mut position = &b["geometry"]["coordinates"];
    while position[0].is_array() {
        position = &position[0];
    }
    let point = (position[0].as_f64().unwrap(), position[1].as_f64().unwrap());
    (b["id"].as_u64().unwrap(), b["properties"]["grid_id"].as_u64().unwrap(), point)
}

/// Records a visit to `building` that finds one new registered rental unit.
pub(crate) fn visit(addr: &str, auth: &str, building: u64, n: usize) -> Answer {
    let body = json!({
        "client_id": format!("follow-{n}"),
        "building_id": building,
        "new_units": [{ "label": format!("F-{n}"), "tenants": 2, "registered": true }],
    });
    let headers = [("Content-Type", "application/json"), ("Authorization", auth)];
    let answer = request(addr, "POST", "/api/visits", &headers, body.to_string().as_bytes());
    assert_eq!(answer.status, 201, "visit {n}: {}", answer.text());
    answer
}

/// What a server shows of `grid`: the rental units its API and its grid tile at zoom 12 over
/// `point` count.
fn shown(addr: &str, auth: &str, grid: u64, point: (f64, f64)) -> (u64, Option<u64>) {
    let api = get_json(addr, auth, &format!("/api/grids/{grid}"))["properties"]["rental_units"].as_u64().unwrap();
    let at = geo::Rect::new(geo::coord! { x: point.0, y: point.1 }, geo::coord! { x: point.0, y: point.1 });
    let t = rentgrid_tiles::tile::tiles_touching_at(at, 12, 0.0).tiles().next().unwrap();
    let path = format!("/tiles/grids/{}/{}/{}.pbf", t.z, t.x, t.y);
    let headers = [("Accept", "application/vnd.mapbox-vector-tile"), ("Authorization", auth)];
    let answer = request(addr, "GET", &path, &headers, b"");
    assert_eq!(answer.status, 200, "{path}: {}", answer.text());
    let layers = rentgrid_tiles::decode::decode(&answer.body).unwrap();
    let tile = layers
        .iter()
        .flat_map(|l| &l.features)
        .find(|f| f.id == Some(grid))
        .and_then(|f| f.props.get("rental_units"))
        .and_then(|v| v.as_u64());
    (api, tile)
}

/// Waits until the server at `addr` shows `units` rental units in `grid` by its API and its
/// tile; returns how long that took from `since`.
fn until_shown(addr: &str, auth: &str, grid: u64, point: (f64, f64), units: u64, since: Instant) -> Duration {
    let mut seen = shown(addr, auth, grid, point);
    while seen != (units, Some(units)) {
        assert!(since.elapsed() < DEADLINE, "after {DEADLINE:?} the server still shows {seen:?}, not {units}");
        seen = shown(addr, auth, grid, point);
    }
    since.elapsed()
}

#[test]
fn two_servers_on_one_postgis_see_each_others_writes_and_catch_up_after_a_cut() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (db, store) = rt.block_on(TestDatabase::create(true)).unwrap_or_else(|e| panic!("{e}"));
    let (url, role) = (db.url.clone(), format!("{}_b", db.name));
    let database = Database { db: Some(db), role: role.clone() };
    let sql = Sql { rt, pool: store.pool().clone() };

    // A seeds the demo city; B logs in as a role of its own.
    let serve = |url: &str| start(&["serve", "--listen", "127.0.0.1:0", "--scale", "0.05", "--database-url", url], &[]);
    let (a, addr_a, said_a) = serve(&url);
    sql.query(&format!("CREATE ROLE {role} LOGIN PASSWORD 'follow-test'"));
    sql.query(&format!("GRANT ALL ON ALL TABLES IN SCHEMA public TO {role}"));
    sql.query(&format!("GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO {role}"));
    let url_b = PgConnectOptions::from_str(&url).unwrap().username(&role).password("follow-test").to_url_lossy();
    let (mut b, addr_b, said_b) = serve(url_b.as_str());
    let (auth_a, auth_b) =
        (format!("Bearer {}", demo_token(&addr_a, "center")), format!("Bearer {}", demo_token(&addr_b, "center")));
    let (building, grid, point) = a_building(&addr_a, &auth_a);
    let (before, _) = shown(&addr_b, &auth_b, grid, point);
    assert_eq!(shown(&addr_a, &auth_a, grid, point), (before, Some(before)));

    // Visits through A are seen through B's API and tiles, each within a moment.
    let mut latencies = Vec::new();
    for n in 1..=5 {
        let since = Instant::now();
        visit(&addr_a, &auth_a, building, n);
        let answered = since.elapsed();
        latencies.push(until_shown(&addr_b, &auth_b, grid, point, before + n as u64, since) - answered);
    }
    latencies.sort();
    eprintln!(
        "a visit through A is shown through B's API and tile after {:?} (median of {}, min {:?}, max {:?}, counted \
         from A's answer; debug build)",
        latencies[latencies.len() / 2],
        latencies.len(),
        latencies[0],
        latencies[latencies.len() - 1]
    );
    // And the other way round.
    let since = Instant::now();
    visit(&addr_b, &auth_b, building, 6);
    eprintln!(
        "a visit through B is shown through A after {:?}",
        until_shown(&addr_a, &auth_a, grid, point, before + 6, since)
    );

    // B is cut off: its connections killed and kept out, so it cannot hear of the next visits.
    let b_pid = b.0.id();
    assert!(!sql.backends_of(b_pid).is_empty(), "B's connections carry its name");
    sql.query(&format!("ALTER ROLE {role} NOLOGIN"));
    let killed = sql.query(&format!(
        "SELECT pg_terminate_backend(pid)::text FROM pg_stat_activity WHERE application_name = 'rentgrid {b_pid}'"
    ));
    assert!(killed.iter().all(|k| k == "true"), "{killed:?}");
    let cut = Instant::now();
    while !sql.backends_of(b_pid).is_empty() {
        assert!(cut.elapsed() < DEADLINE, "B's connections are still there");
    }
    visit(&addr_a, &auth_a, building, 7);
    visit(&addr_a, &auth_a, building, 8);
    let since = Instant::now();
    sql.query(&format!("ALTER ROLE {role} LOGIN"));
    let caught_up = until_shown(&addr_b, &auth_b, grid, point, before + 8, since);
    eprintln!("B, let in again, caught up with the visits it missed after {caught_up:?}");
    assert!(!sql.backends_of(b_pid).is_empty(), "B is connected again");
    // Listening again: the next visit is heard of as before.
    let since = Instant::now();
    visit(&addr_a, &auth_a, building, 9);
    eprintln!(
        "after the cut, a visit through A is shown through B after {:?}",
        until_shown(&addr_b, &auth_b, grid, point, before + 9, since)
    );

    // Both agree on the data version and on every grid's figures.
    let health = |addr: &str| request(addr, "GET", "/health", &[("Accept", "application/json")], b"").json();
    assert_eq!(health(&addr_a)["atlas_version"], health(&addr_b)["atlas_version"]);
    assert_eq!(
        get_json(&addr_a, &auth_a, "/api/stats?level=grid"),
        get_json(&addr_b, &auth_b, "/api/stats?level=grid")
    );
    b.terminate();
    drop(a);
    for said in [said_a.join().unwrap(), said_b.join().unwrap()] {
        assert!(!said.contains("panicked"), "{said}");
    }
    sql.rt.block_on(sql.pool.close());
    drop(database);
}
