//! `serve --read-database-url` on a real streaming-replication standby of the test cluster
//! (`scripts/ensure-tools --standby` makes it; `scripts/test` names it in
//! `RENTGRID_TEST_STANDBY`): with the standby's replay paused, the session that recorded a visit
//! reads it at once (its reads go to the primary), while another session's reads are answered by
//! the standby, which does not hold the visit yet; replay resumed, the other session sees it
//! there, and the writer's reads go back to the standby. Where each answer's reads went is the
//! header `x-rentgrid-reads`.

use crate::follow::{a_building, visit};
use crate::http::{demo_token, request};
use crate::serve::start;
use rentgrid_server::store::testing::TestDatabase;
use serde_json::Value;
use sqlx::ConnectOptions;
use sqlx::postgres::PgConnectOptions;
use std::str::FromStr;
use std::time::{Duration, Instant};

/// How long the standby may take to replay before the test gives up: a guard against one that
/// never does, far above the moment it takes.
const DEADLINE: Duration = Duration::from_secs(60);

/// The standby's URL (its admin database), from `RENTGRID_TEST_STANDBY`. Under CI a missing
/// standby fails the test; elsewhere the test says loudly that it did not run.
fn standby_admin_url() -> Option<String> {
    match std::env::var("RENTGRID_TEST_STANDBY") {
        Ok(url) => Some(url),
        Err(_) if std::env::var_os("CI").is_some() => panic!(
            "RENTGRID_TEST_STANDBY is not set under CI: run the tests through scripts/test, which makes the standby \
             (scripts/ensure-tools --standby) and sets it"
        ),
        Err(_) => {
            eprintln!(
                "NOT RUN: RENTGRID_TEST_STANDBY is not set (scripts/ensure-tools --standby makes a standby and prints \
                 its URL)"
            );
            None
        }
    }
}

/// The test's connections to the primary and to the standby.
struct Cluster {
    rt: tokio::runtime::Runtime,
    primary: sqlx::PgPool,
    standby: sqlx::PgPool,
}

impl Cluster {
    /// The first column of the first row of `sql` on `pool`, as text.
    fn one(&self, pool: &sqlx::PgPool, sql: &str) -> String {
        let v: Option<String> =
            self.rt.block_on(sqlx::query_scalar(sql).fetch_one(pool)).unwrap_or_else(|e| panic!("{sql}: {e}"));
        v.unwrap_or_default()
    }

    /// Waits until the standby has replayed everything the primary has written now.
    fn until_replayed(&self) {
        let written = self.one(&self.primary, "SELECT pg_current_wal_lsn()::text");
        let since = Instant::now();
        let replayed = format!("SELECT (pg_last_wal_replay_lsn() >= '{written}'::pg_lsn)::text");
        while self.one(&self.standby, &replayed) != "true" {
            assert!(since.elapsed() < DEADLINE, "the standby has not replayed {written} after {DEADLINE:?}");
        }
    }
}

/// Resumes the standby's replay when the test ends, however it ends.
struct Resume<'a>(&'a Cluster);

impl Drop for Resume<'_> {
    fn drop(&mut self) {
        let c = self.0;
        let _ = c.rt.block_on(sqlx::query("SELECT pg_wal_replay_resume()").execute(&c.standby));
    }
}

/// The big screen's answer for the holder of `auth`: where its reads went, and the ids of the
/// latest visits it lists.
fn latest_visits(addr: &str, auth: &str) -> (String, Vec<u64>) {
    let answer = request(addr, "GET", "/api/summary?recent=100", &[("Authorization", auth)], b"");
    assert_eq!(answer.status, 200, "{}", answer.text());
    let pool = answer.header("x-rentgrid-reads").unwrap_or("none").to_owned();
    let json: Value = answer.json();
    let ids = json["recent"].as_array().expect("the latest visits").iter().filter_map(|v| v["id"].as_u64()).collect();
    (pool, ids)
}

/// Asks until `ok` holds of the latest visits the holder of `auth` is shown.
fn until(addr: &str, auth: &str, what: &str, ok: impl Fn(&(String, Vec<u64>)) -> bool) -> (String, Vec<u64>) {
    let since = Instant::now();
    loop {
        let seen = latest_visits(addr, auth);
        if ok(&seen) {
            return seen;
        }
        assert!(since.elapsed() < DEADLINE, "after {DEADLINE:?}, not yet {what}: reads from {}", seen.0);
    }
}

#[test]
fn a_session_reads_its_own_visit_while_the_standby_is_paused_and_another_reads_the_standby() {
    let Some(standby_admin) = standby_admin_url() else { return };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (db, store) = rt.block_on(TestDatabase::create(true)).unwrap_or_else(|e| panic!("{e}"));
    let standby_url = PgConnectOptions::from_str(&standby_admin).unwrap().database(&db.name).to_url_lossy();
    let standby = rt
        .block_on(sqlx::PgPool::connect(&standby_admin))
        .unwrap_or_else(|e| panic!("the standby at RENTGRID_TEST_STANDBY: {e}"));
    let cluster = Cluster { primary: store.pool().clone(), standby, rt };
    assert_eq!(cluster.one(&cluster.standby, "SELECT pg_is_in_recovery()::text"), "true", "a standby");
    // The standby holds the migrated database before the server reads it.
    cluster.until_replayed();

    let (_server, addr, _said) = start(
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--scale",
            "0.05",
            "--database-url",
            &db.url,
            "--read-database-url",
            standby_url.as_str(),
            // The standby is kept paused for as long as the test takes: no falling back for lag.
            "--read-max-lag",
            "3600",
        ],
        &[],
    );
    let (writer, other) =
        (format!("Bearer {}", demo_token(&addr, "center")), format!("Bearer {}", demo_token(&addr, "center")));
    let (building, _, _) = a_building(&addr, &writer);
    // Both sessions read from the standby once it holds the seeded city.
    cluster.until_replayed();
    until(&addr, &other, "reading from the standby", |(pool, _)| pool == "standby");
    let (_, before) = until(&addr, &writer, "reading from the standby", |(pool, _)| pool == "standby");

    // Replay paused: the standby keeps what it has.
    let _resume = Resume(&cluster);
    cluster.one(&cluster.standby, "SELECT pg_wal_replay_pause()::text");
    let since = Instant::now();
    while cluster.one(&cluster.standby, "SELECT pg_get_wal_replay_pause_state()") != "paused" {
        assert!(since.elapsed() < DEADLINE, "the standby's replay does not pause");
    }
    let recorded = visit(&addr, &writer, building, 1);
    let id = recorded.json()["visit"]["id"].as_u64().expect("the visit's id");
    assert!(!before.contains(&id));

    // The writer reads its visit at once, from the primary.
    let (pool, seen) = latest_visits(&addr, &writer);
    assert_eq!(pool, "primary", "the writer's reads wait for the standby on the primary");
    assert!(seen.contains(&id), "the writer sees its visit {id}: {seen:?}");
    // The other session reads the standby, which does not hold the visit yet.
    let (pool, seen) = latest_visits(&addr, &other);
    assert_eq!(pool, "standby", "another session reads from the standby");
    assert!(!seen.contains(&id), "the paused standby cannot show visit {id}: {seen:?}");
    assert_eq!(seen, before, "the other session is shown what the standby held before the visit");
    // Still the same a moment later, for both.
    assert_eq!(latest_visits(&addr, &writer).0, "primary");
    assert_eq!(latest_visits(&addr, &other), (pool, seen));

    // Replay resumed: the other session sees the visit through the standby, and the writer's
    // reads go back to it.
    cluster.one(&cluster.standby, "SELECT pg_wal_replay_resume()::text");
    let since = Instant::now();
    until(&addr, &other, "showing the visit from the standby", |(pool, ids)| pool == "standby" && ids.contains(&id));
    eprintln!("after replay resumed, the other session saw the visit through the standby in {:?}", since.elapsed());
    let (_, seen) = until(&addr, &writer, "reading from the standby again", |(pool, _)| pool == "standby");
    assert!(seen.contains(&id), "the writer, back on the standby, still sees visit {id}");
}
