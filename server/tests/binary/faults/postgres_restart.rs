//! PostgreSQL restarted under a serving `rentgrid`: while it is down, requests that need it are
//! answered 503 (JSON, `Retry-After`) within the wait for a connection, never 500 and never
//! held; once it is back, the same process serves again by itself. Every visit acknowledged
//! before, during or after the outage is stored exactly once with its audit row, and a visit
//! refused with 503 (in flight when the database went, or sent while it was away) is stored once
//! when the client sends it again under its client id.
//!
//! The shared test server is not stopped: the test runs a cluster of its own (initdb into a
//! temporary directory, as the `postgres` user when the tests run as root).

use super::{post_visit, some_buildings};
use crate::http::{Answer, demo_token, request};
use crate::serve::start;
use std::collections::{HashMap, HashSet};
use std::net::TcpListener;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_rentgrid");

/// Writers posting visits throughout.
const WRITERS: usize = 2;
/// Visits the writers get acknowledged before PostgreSQL is stopped.
const BEFORE_STOP: usize = 20;
/// Visits acknowledged after it is back.
const AFTER_RESTART: usize = 10;
/// How long recovery may take at most (each try waits up to the pool's 5 s for a connection).
const RECOVERY: Duration = Duration::from_secs(120);

/// A PostgreSQL cluster of its own in a temporary directory, listening on 127.0.0.1:`port` and
/// on a socket in that directory; stopped and removed when dropped, even when the test panics.
struct Cluster {
    dir: tempfile::TempDir,
    port: u16,
}

impl Cluster {
    /// Creates the cluster (trust authentication) and starts it.
    fn create() -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        for sub in ["data", "socket"] {
            std::fs::create_dir(dir.path().join(sub)).unwrap();
        }
        // The server runs as `postgres` when we are root (PostgreSQL refuses root).
        if as_root() {
            let chown = Command::new("chown").args(["-R", "postgres:"]).arg(dir.path()).output();
            expect_ok(chown, "chown postgres: the cluster's directory");
        }
        let cluster = Cluster { dir, port: free_port() };
        let data = cluster.data();
        let initdb = cluster.run("initdb", &["-D", &data, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync"]);
        expect_ok(initdb, "initdb");
        cluster.start();
        cluster
    }

    /// The URL rentgrid is given.
    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    /// Starts the server and waits until it takes connections.
    fn start(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c max_connections=40",
            self.port,
            self.dir.path().join("socket").display()
        );
        let log = self.dir.path().join("server.log").display().to_string();
        let started = self.run("pg_ctl", &["start", "-w", "-t", "120", "-D", &self.data(), "-l", &log, "-o", &options]);
        if !started.as_ref().is_ok_and(|o| o.status.success()) {
            let said = std::fs::read_to_string(&log).unwrap_or_default();
            expect_ok(started, &format!("pg_ctl start (server log: {said})"));
        }
    }

    /// Stops the server: `fast` ends the sessions at once (their transactions roll back), as a
    /// restart by an administrator or a package upgrade does.
    fn stop(&self, mode: &str) -> Result<Output, std::io::Error> {
        self.run("pg_ctl", &["stop", "-w", "-t", "120", "-m", mode, "-D", &self.data()])
    }

    /// Runs the PostgreSQL program `program` (as `postgres` when we are root).
    fn run(&self, program: &str, args: &[&str]) -> Result<Output, std::io::Error> {
        let program = pg_bin().join(program);
        let mut cmd = if as_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&program);
            c
        } else {
            Command::new(&program)
        };
        cmd.args(args).current_dir(self.dir.path()).output()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self.stop("immediate");
    }
}

/// Whether the tests run as root (then the cluster runs as `postgres`).
fn as_root() -> bool {
    std::fs::metadata("/proc/self").map(|m| m.uid() == 0).unwrap_or(false)
}

/// The directory of PostgreSQL's server programs (`pg_config --bindir`; Debian's for 15).
fn pg_bin() -> PathBuf {
    let found = Command::new("pg_config").arg("--bindir").output().ok().filter(|o| o.status.success());
    let dir = found.map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    let dir = dir.unwrap_or_else(|| PathBuf::from("/usr/lib/postgresql/15/bin"));
    assert!(
        dir.join("initdb").exists() && dir.join("pg_ctl").exists(),
        "PostgreSQL's initdb and pg_ctl are not in {} (install the PostgreSQL server: scripts/ensure-tools --postgis)",
        dir.display()
    );
    dir
}

/// A port nothing listens on, below the ephemeral range (so that no outgoing connection takes it
/// while the cluster is down); different test processes start from different places.
fn free_port() -> u16 {
    let from = 20_000 + (std::process::id() % 10_000) as u16;
    (from..32_000)
        .chain(20_000..from)
        .find(|&p| TcpListener::bind(("127.0.0.1", p)).is_ok())
        .expect("a free port between 20000 and 32000")
}

fn expect_ok(out: Result<Output, std::io::Error>, what: &str) {
    match out {
        Ok(o) if o.status.success() => {}
        Ok(o) => panic!(
            "{what} failed ({}): {}{}",
            o.status,
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ),
        Err(e) => panic!("{what} could not run: {e}"),
    }
}

/// A 503 of the outage: JSON `unavailable` with a message, and `Retry-After`.
fn assert_away(answer: &Answer, what: &str) {
    assert_eq!(answer.status, 503, "{what} while PostgreSQL is down: {}", answer.text());
    let body = answer.json();
    assert_eq!(body["code"], "unavailable", "{what}: {body}");
    let message = body["message"].as_str().unwrap_or_default();
    assert!(message.contains("database") || message.contains("store"), "{what}: {message}");
    assert!(answer.header("retry-after").is_some(), "{what}: no Retry-After in {}", answer.head);
}

/// What the visits sent got: client id → (its building, the status of its answer).
type Outcomes = Arc<Mutex<HashMap<String, (u64, u16)>>>;

#[test]
fn postgres_restarted_under_load_is_503_then_recovers_with_no_write_lost() {
    let cluster = Cluster::create();
    let url = cluster.url();
    let migrate = Command::new(BIN).args(["migrate", "--database-url", &url]).output();
    expect_ok(migrate, "rentgrid migrate");
    let args = ["serve", "--listen", "127.0.0.1:0", "--scale", "0.05", "--database-url", &url];
    let (mut server, addr, said) = start(&args, &[]);
    let auth = format!("Bearer {}", demo_token(&addr, "center"));
    let buildings = some_buildings(&addr, &auth);
    let building = |i: usize| buildings[i % buildings.len()];

    // Writers post visits from before the stop until after the restart; each try is kept.
    let outcomes: Outcomes = Arc::default();
    let acknowledged = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let (addr, auth, buildings) = (addr.clone(), auth.clone(), buildings.clone());
            let (outcomes, acknowledged, done) = (outcomes.clone(), acknowledged.clone(), done.clone());
            std::thread::spawn(move || {
                for i in 0.. {
                    if done.load(Ordering::Acquire) {
                        return Ok(());
                    }
                    let client_id = format!("pgrestart-{w}-{i}");
                    let building = buildings[(w + i * WRITERS) % buildings.len()];
                    let answer = post_visit(&addr, &auth, &client_id, building)
                        .map_err(|e| format!("{client_id}: no answer: {e}"))?;
                    match answer.status {
                        200..300 => {
                            acknowledged.fetch_add(1, Ordering::AcqRel);
                        }
                        503 => assert_away(&answer, &client_id),
                        s => return Err(format!("{client_id}: {s} {}", answer.text())),
                    }
                    outcomes.lock().unwrap().insert(client_id, (building, answer.status));
                }
                Ok(())
            })
        })
        .collect();
    let started = Instant::now();
    while acknowledged.load(Ordering::Acquire) < BEFORE_STOP {
        assert!(started.elapsed() < Duration::from_secs(120), "the writers did not get going");
        std::thread::sleep(Duration::from_millis(5));
    }

    // Down, with the writers' requests in flight.
    expect_ok(cluster.stop("fast"), "pg_ctl stop -m fast");
    let alive = request(&addr, "GET", "/health/live", &[], b"");
    assert_eq!(alive.status, 200, "{}", alive.text());
    let reads = std::thread::scope(|s| {
        // The probe without a credential (it reaches its handler), the rest as the center (the
        // token is checked against the store first).
        let get = |path: &'static str, signed_in: bool| {
            let (addr, auth) = (&addr, &auth);
            s.spawn(move || {
                let mut headers = vec![("Accept", "application/json")];
                if signed_in {
                    headers.push(("Authorization", auth.as_str()));
                }
                (path, request(addr, "GET", path, &headers, b""))
            })
        };
        let probes = [get("/health/ready", false), get("/health", true), get("/api/persons?limit=5", true)];
        let write = s.spawn(|| ("a visit", post_visit(&addr, &auth, "pgrestart-outage", building(0)).unwrap()));
        probes.into_iter().chain([write]).map(|h| h.join().unwrap()).collect::<Vec<_>>()
    });
    for (what, answer) in &reads {
        assert_away(answer, what);
    }
    // Down until a writer, too, has been refused. A write waits for a connection up to the
    // pool's acquire timeout, so on a loaded machine the writers' requests could all start
    // after the probes' and be answered 201 once PostgreSQL was back (seen twice): the outage
    // must outlast one of them for the test to see what a writer gets during it.
    let refused_by = Instant::now() + RECOVERY;
    while !outcomes.lock().unwrap().values().any(|&(_, status)| status == 503) {
        assert!(Instant::now() < refused_by, "no writer was refused {RECOVERY:?} into the outage");
        std::thread::sleep(Duration::from_millis(5));
    }

    // Back: the same process serves again, within a bounded number of tries.
    cluster.start();
    let deadline = Instant::now() + RECOVERY;
    let mut tries = 0;
    loop {
        tries += 1;
        let ready = request(&addr, "GET", "/health/ready", &[], b"");
        if ready.status == 200 {
            break;
        }
        assert_away(&ready, "/health/ready");
        assert!(Instant::now() < deadline, "not ready {RECOVERY:?} after PostgreSQL came back ({tries} tries)");
    }
    assert!(server.0.try_wait().unwrap().is_none(), "rentgrid exited during the outage");
    for i in 0..AFTER_RESTART {
        let client_id = format!("pgrestart-after-{i}");
        let answer = post_visit(&addr, &auth, &client_id, building(i)).unwrap();
        assert_eq!(answer.status, 201, "{client_id} after the restart: {}", answer.text());
    }
    done.store(true, Ordering::Release);
    for w in writers {
        if let Err(e) = w.join().unwrap() {
            panic!("a writer got an answer other than 2xx or 503: {e}");
        }
    }

    // The client's retry: every visit refused with 503 is sent again under its client id, and
    // taken now (201 if it was not kept, 200 if its commit had gone through).
    let mut outcomes = outcomes.lock().unwrap().clone();
    outcomes.insert("pgrestart-outage".into(), (building(0), 503));
    let refused: Vec<(&String, u64)> = outcomes.iter().filter(|(_, o)| o.1 == 503).map(|(c, o)| (c, o.0)).collect();
    assert!(refused.len() > 1, "no writer was refused during the outage: {outcomes:?}");
    for &(client_id, building) in &refused {
        let answer = post_visit(&addr, &auth, client_id, building).unwrap();
        assert!(matches!(answer.status, 200 | 201), "{client_id} sent again: {} {}", answer.status, answer.text());
    }

    // Every visit exactly once, each with its audit row; the chain verifies.
    let mut sent: HashSet<String> = outcomes.keys().cloned().collect();
    sent.extend((0..AFTER_RESTART).map(|i| format!("pgrestart-after-{i}")));
    let (visits, audited) = stored(&url);
    let stored: HashSet<&String> = visits.iter().collect();
    assert_eq!(stored.len(), visits.len(), "a visit is stored twice");
    let lost: Vec<&String> = sent.iter().filter(|c| !stored.contains(c)).collect();
    assert!(lost.is_empty(), "{} visits acknowledged but not stored: {lost:?}", lost.len());
    assert_eq!(stored.len(), sent.len(), "a visit stored that was never sent");
    assert_eq!(audited, visits.len() as i64, "a visit without its audit row, or the other way round");
    let verify = Command::new(BIN).args(["audit", "verify", "--database-url", &url]).output();
    expect_ok(verify, "rentgrid audit verify");
    eprintln!(
        "PostgreSQL restart: {} visits, {} refused with 503 during the outage and taken when sent again, \
         ready again after {tries} tries",
        sent.len(),
        refused.len()
    );
    server.terminate();
    let log = said.join().unwrap();
    assert!(!log.contains("panicked"), "{log}");
    drop(cluster);
}

/// The client ids of the test's visits in `url`, and the audit rows of visits naming them.
fn stored(url: &str) -> (Vec<String>, i64) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let pool = sqlx::PgPool::connect(url).await.unwrap();
        let visits: Vec<String> = sqlx::query_scalar("SELECT client_id FROM visits WHERE client_id LIKE 'pgrestart-%'")
            .fetch_all(&pool)
            .await
            .unwrap();
        let audited: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM audit_log WHERE action = 'visit_record' AND target LIKE '%client_id pgrestart-%'",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        pool.close().await;
        (visits, audited)
    })
}
