//! Faults as they happen to a running server: `kill -9` in the middle of a burst of visits. After
//! it, every visit the server acknowledged (2xx) is in the store exactly once, each with its audit
//! row (none half-applied), the audit chain verifies, and the store serves again. On both stores.
//! PostgreSQL restarted under the server ([`postgres_restart`]) and the disk filling up during an
//! import ([`disk_full`]) are in their own modules.

mod disk_full;
mod postgres_restart;

use crate::http::{Answer, demo_token, request, try_request};
use crate::serve::start;
use rentgrid_server::store::testing::TestDatabase;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_rentgrid");

/// Writers posting visits at once.
const WRITERS: usize = 4;
/// Visits acknowledged before the kill.
const BEFORE_KILL: usize = 150;

fn acknowledged_visits_survive_kill_9(postgis: bool) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let pg = postgis.then(|| rt.block_on(TestDatabase::create(true)).unwrap_or_else(|e| panic!("{e}")).0);
    let data = dir.path().join("data").display().to_string();
    let store: Vec<&str> = match &pg {
        Some(db) => vec!["--database-url", &db.url],
        None => vec!["--data", &data],
    };
    let mut args = vec!["serve", "--listen", "127.0.0.1:0", "--scale", "0.05"];
    args.extend(&store);
    let (mut server, addr, _said) = start(&args, &[]);

    // Buildings of the district, visited as the command center records visits.
    let auth = format!("Bearer {}", demo_token(&addr, "center"));
    let buildings = some_buildings(&addr, &auth);

    // Writers post visits until the server is gone; each keeps the client ids acknowledged.
    let acknowledged = Arc::new(Mutex::new(Vec::<String>::new()));
    let count = Arc::new(AtomicUsize::new(0));
    let gone = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let (addr, auth, buildings) = (addr.clone(), auth.clone(), buildings.clone());
            let (acknowledged, count, gone) = (acknowledged.clone(), count.clone(), gone.clone());
            std::thread::spawn(move || {
                for i in 0.. {
                    let client_id = format!("kill9-{w}-{i}");
                    match post_visit(&addr, &auth, &client_id, buildings[(w + i * WRITERS) % buildings.len()]) {
                        Ok(answer) if (200..300).contains(&answer.status) => {
                            acknowledged.lock().unwrap().push(client_id);
                            count.fetch_add(1, Ordering::AcqRel);
                        }
                        Ok(answer) if !gone.load(Ordering::Acquire) => {
                            panic!("a visit was refused before the kill: {} {}", answer.status, answer.text())
                        }
                        // Refused or cut off: the server is gone.
                        _ => return,
                    }
                }
            })
        })
        .collect();
    let started = Instant::now();
    while count.load(Ordering::Acquire) < BEFORE_KILL {
        assert!(started.elapsed() < Duration::from_secs(300), "the writers did not get going");
        std::thread::sleep(Duration::from_millis(5));
    }
    gone.store(true, Ordering::Release);
    server.0.kill().unwrap(); // SIGKILL, in the middle of the writers' requests
    server.0.wait().unwrap();
    for w in writers {
        let _ = w.join();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(acknowledged.len() >= BEFORE_KILL);

    // The audit chain verifies (the store opens after the kill).
    let mut verify = Command::new(BIN);
    verify.args(["audit", "verify"]).args(&store);
    let out = verify.output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    // Every acknowledged visit once, each with its audit row.
    let (visits, audited) = rt.block_on(async {
        let visits = "SELECT client_id FROM visits WHERE client_id LIKE 'kill9-%'";
        let audited = "SELECT count(*) FROM audit_log WHERE action = 'visit_record' AND target LIKE '%kill9-%'";
        match &pg {
            Some(db) => {
                let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
                let v: Vec<String> = sqlx::query_scalar(visits).fetch_all(&pool).await.unwrap();
                let a: i64 = sqlx::query_scalar(audited).fetch_one(&pool).await.unwrap();
                pool.close().await;
                (v, a)
            }
            None => {
                let file = dir.path().join("data").join("rentgrid.gpkg");
                let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", file.display())).await.unwrap();
                let v: Vec<String> = sqlx::query_scalar(visits).fetch_all(&pool).await.unwrap();
                let a: i64 = sqlx::query_scalar(audited).fetch_one(&pool).await.unwrap();
                pool.close().await;
                (v, a)
            }
        }
    });
    let stored: std::collections::HashSet<&String> = visits.iter().collect();
    assert_eq!(stored.len(), visits.len(), "a visit is stored twice");
    let lost: Vec<&String> = acknowledged.iter().filter(|c| !stored.contains(c)).collect();
    assert!(lost.is_empty(), "{} acknowledged visits lost after kill -9: {lost:?}", lost.len());
    assert_eq!(audited, visits.len() as i64, "a visit without its audit row, or the other way round");
    eprintln!(
        "kill -9 ({}): {} visits acknowledged, {} stored (the rest were in flight), none lost",
        if postgis { "postgis" } else { "gpkg" },
        acknowledged.len(),
        visits.len()
    );
    if let Some(db) = pg {
        rt.block_on(db.drop_database());
    }
}

/// Up to 40 buildings of the district, as the holder of `auth` (`Bearer …`) finds them on the map.
pub fn some_buildings(addr: &str, auth: &str) -> Vec<u64> {
    let headers = [("Accept", "application/json"), ("Authorization", auth)];
    let district = request(addr, "GET", "/api/district", &headers, b"").json();
    let bbox: Vec<String> = district["bbox"].as_array().unwrap().iter().map(|v| v.to_string()).collect();
    let path = format!("/api/buildings?bbox={}&limit=40", bbox.join(","));
    let found = request(addr, "GET", &path, &headers, b"");
    assert_eq!(found.status, 200, "{}", found.text());
    let buildings: Vec<u64> =
        found.json()["features"].as_array().unwrap().iter().map(|f| f["id"].as_u64().unwrap()).collect();
    assert!(!buildings.is_empty(), "no building: {}", found.text());
    buildings
}

/// Posts a visit to `building` under `client_id` as the holder of `auth`; an error when the
/// server cannot be reached or gives no answer.
pub fn post_visit(addr: &str, auth: &str, client_id: &str, building: u64) -> Result<Answer, String> {
    let body = serde_json::json!({"client_id": client_id, "building_id": building, "notes": "fault test"});
    try_request(
        addr,
        "POST",
        "/api/visits",
        &[("Content-Type", "application/json"), ("Authorization", auth)],
        body.to_string().as_bytes(),
    )
}

#[test]
fn acknowledged_visits_survive_kill_9_gpkg() {
    acknowledged_visits_survive_kill_9(false);
}

#[test]
fn acknowledged_visits_survive_kill_9_postgis() {
    acknowledged_visits_survive_kill_9(true);
}
