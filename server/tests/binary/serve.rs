//! `rentgrid serve` as a user runs it: on an empty data directory it says it seeds the default
//! demo city, prints where it listens, and serves 400+ grids whose KPIs add up to the street and
//! district totals; at SIGTERM it answers the request in flight, then exits 0; on a PostGIS database it refuses a schema it does not know until migrated;
//! with `--log-format json` each log line is a JSON object naming its request's id and route;
//! it starts from its Atlas snapshot file, and refuses a damaged one.

use crate::http::{demo_token, get_with, request};
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `rentgrid`, killed when dropped.
pub struct Server(pub Child);

impl Server {
    /// Stops it with SIGTERM, as systemd does, and waits until it exits.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let pid = self.0.id().to_string();
        assert!(Command::new("kill").args(["-TERM", &pid]).status().expect("run kill").success());
        self.0.wait().expect("wait for rentgrid")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A JSON GET as the holder of `token`, which must answer 200.
fn json(addr: &str, token: &str, path: &str) -> Value {
    let answer = get_with(addr, path, token, "application/json");
    assert_eq!(answer.status, 200, "{path}: {}", answer.text());
    answer.json()
}

/// Starts `rentgrid` with `args`; returns it, the address it listens on, and a thread
/// collecting what it says on stderr.
pub fn start(args: &[&str], envs: &[(&str, &std::path::Path)]) -> (Server, String, std::thread::JoinHandle<String>) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rentgrid"));
    cmd.args(args).stdout(Stdio::piped()).stderr(Stdio::piped());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let mut server = Server(cmd.spawn().expect("start rentgrid"));
    let stdout = server.0.stdout.take().expect("stdout");
    let stderr = server.0.stderr.take().expect("stderr");
    let said = std::thread::spawn(move || {
        let mut all = String::new();
        let _ = BufReader::new(stderr).read_to_string(&mut all);
        all
    });
    let started = Instant::now();
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("a line");
        if let Some(url) = line.strip_prefix("listening on http://") {
            return (server, url.trim().to_string(), said);
        }
        assert!(started.elapsed() < Duration::from_secs(300), "no listening line");
    }
    drop(server);
    panic!("rentgrid exited without listening: {}", said.join().unwrap_or_default());
}

#[test]
fn serve_seeds_an_empty_directory_and_serves_consistent_kpis() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let data_arg = data.to_string_lossy().to_string();
    let no_web = dir.path().join("no-web-map");
    let (server, addr, said) = start(
        &["serve", "--listen", "127.0.0.1:0", "--data", &data_arg, "--header-timeout", "1"],
        &[("RENTGRID_WEB", no_web.as_path())],
    );

    // Signed out, the register is closed; the demo center's token opens it.
    let anonymous = request(&addr, "GET", "/api/grids", &[("Accept", "application/json")], b"");
    assert_eq!(anonymous.status, 401, "{}", anonymous.text());
    let token = demo_token(&addr, "center");
    let grids = json(&addr, &token, "/api/grids");
    let features = grids["features"].as_array().expect("features");
    assert!(features.len() >= 400, "only {} grids", features.len());
    let streets = json(&addr, &token, "/api/stats?level=street");
    let district = json(&addr, &token, "/api/stats?level=district");
    for k in ["persons", "persons_registered", "rental_units", "rental_units_registered", "pledges_signed"] {
        let from_grids: u64 = features.iter().map(|f| f["properties"][k].as_u64().expect(k)).sum();
        let from_streets: u64 = streets["rows"].as_array().expect("rows").iter().map(|r| r[k].as_u64().expect(k)).sum();
        assert_eq!(from_grids, from_streets, "{k}: grids vs streets");
        assert_eq!(from_grids, district["rows"][0][k].as_u64().expect(k), "{k}: grids vs district");
    }
    // The default demo city is the one the README describes.
    let persons = district["rows"][0]["persons"].as_u64().expect("persons");
    assert!((200_000..400_000).contains(&persons), "{persons} persons");
    let page = request(&addr, "GET", "/", &[("Accept", "text/html")], b"");
    assert_eq!(page.status, 200);
    assert!(page.text().contains("web map"), "without a built map, / explains how to build it");
    // A client asking for JSON gets the OGC API landing page instead.
    let landing = json(&addr, &token, "/");
    assert!(landing["links"].as_array().expect("links").iter().any(|l| l["rel"] == "conformance"), "{landing}");

    // Every answer carries the security headers.
    let head = page.head.to_ascii_lowercase();
    for h in ["content-security-policy: default-src 'self'", "x-content-type-options: nosniff", "x-frame-options: deny"]
    {
        assert!(head.contains(h), "no {h:?} in {head}");
    }

    // Slow clients (slowloris) cannot hold it: beside 200 connections that never finish their
    // headers, a probe answers, and each of them is closed once its header time is up.
    let mut slow: Vec<TcpStream> = (0..200)
        .map(|_| {
            let mut s = TcpStream::connect(&addr).expect("connect");
            s.write_all(b"GET /health/live HTTP/1.1\r\nHost: slow\r\nX-Slow: ").expect("write");
            s
        })
        .collect();
    let asked = Instant::now();
    assert_eq!(request(&addr, "GET", "/health/live", &[], b"").status, 200);
    eprintln!("/health/live answered in {:?} beside 200 slow clients", asked.elapsed());
    for s in &mut slow {
        s.set_read_timeout(Some(Duration::from_secs(60))).expect("timeout");
        let mut rest = Vec::new();
        // The server ends the connection (with or without a 408 first); a read error other than
        // our own timeout also means it was closed.
        match s.read_to_end(&mut rest) {
            Ok(_) => {
                assert!(rest.is_empty() || rest.starts_with(b"HTTP/1.1 408"), "{}", String::from_utf8_lossy(&rest))
            }
            Err(e) => assert!(
                !matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut),
                "a slow client was held: {e}"
            ),
        }
    }

    // SIGTERM (systemd, Docker) stops it cleanly, as Ctrl-C does, and a request in flight is
    // answered first: here a login whose handler is reading its body (the server has said
    // `100 Continue`) when the signal comes, the body sent only after it.
    let body = br#"{"username":"nobody","password":"not the password"}"#;
    let mut in_flight = TcpStream::connect(&addr).expect("connect");
    in_flight.set_read_timeout(Some(Duration::from_secs(60))).expect("timeout");
    let head = format!(
        "POST /api/login HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Expect: 100-continue\r\nConnection: close\r\n\r\n",
        body.len()
    );
    in_flight.write_all(head.as_bytes()).expect("write the head");
    let mut interim = Vec::new();
    let mut byte = [0u8; 1];
    while !interim.ends_with(b"\r\n\r\n") {
        in_flight.read_exact(&mut byte).expect("an interim answer");
        interim.push(byte[0]);
    }
    assert!(interim.starts_with(b"HTTP/1.1 100"), "{}", String::from_utf8_lossy(&interim));
    let mut server = server;
    let pid = server.0.id().to_string();
    let killed = Command::new("kill").args(["-TERM", &pid]).status().expect("run kill");
    assert!(killed.success());
    in_flight.write_all(body).expect("the body after the signal");
    let mut answer = Vec::new();
    in_flight.read_to_end(&mut answer).expect("the answer");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 401"), "the login in flight was not answered: {answer:?}");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = server.0.try_wait().expect("wait") {
            break status;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "rentgrid did not stop at SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "rentgrid exited with {status} at SIGTERM");
    let log = said.join().expect("stderr");
    assert!(log.contains("seeding the demo city"), "serve did not say it seeds: {log}");
    assert!(log.contains("finishing the requests in flight"), "{log}");
}

#[test]
fn postgis_serve_refuses_an_unknown_schema_until_migrated_then_seeds_itself() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let (db, _store) =
        rt.block_on(rentgrid_server::store::testing::TestDatabase::create(false)).unwrap_or_else(|e| panic!("{e}"));
    let rentgrid = env!("CARGO_BIN_EXE_rentgrid");
    let refused = Command::new(rentgrid)
        .args(["serve", "--listen", "127.0.0.1:0", "--database-url", &db.url])
        .output()
        .expect("run rentgrid");
    assert!(!refused.status.success());
    let message = String::from_utf8_lossy(&refused.stderr);
    assert!(message.contains("rentgrid migrate --database-url"), "{message}");
    let migrated = Command::new(rentgrid).args(["migrate", "--database-url", &db.url]).output().expect("run rentgrid");
    assert!(migrated.status.success(), "{}", String::from_utf8_lossy(&migrated.stderr));

    let (server, addr, said) =
        start(&["serve", "--listen", "127.0.0.1:0", "--scale", "0.05", "--database-url", &db.url], &[]);
    let health = request(&addr, "GET", "/health", &[("Accept", "application/json")], b"");
    assert_eq!(health.status, 200, "/health needs no sign-in: {}", health.text());
    let health = health.json();
    assert_eq!(health["store"], "postgis");
    assert!(health["grids"].as_u64().expect("grids") >= 280);
    drop(server);
    assert!(said.join().expect("stderr").contains("seeding the demo city"));
    rt.block_on(db.drop_database());
}

#[test]
fn serve_writes_json_log_lines_carrying_each_requests_id_and_route() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data").display().to_string();
    let (mut server, addr, said) = start(
        &["serve", "--listen", "127.0.0.1:0", "--scale", "0.05", "--data", &data, "--log-format", "json"],
        &[
            ("RENTGRID_WEB", &dir.path().join("no-web-map")),
            ("RUST_LOG", std::path::Path::new("rentgrid=info,tower_http=warn")),
        ],
    );
    let health = request(&addr, "GET", "/health", &[("X-Request-Id", "json-log-probe-1")], b"");
    assert_eq!(health.status, 200);
    assert_eq!(health.header("x-request-id"), Some("json-log-probe-1"));
    let refused = request(&addr, "GET", "/api/grids/7", &[("X-Request-Id", "json-log-probe-2")], b"");
    assert_eq!(refused.status, 401);
    assert_eq!(refused.json()["request_id"], "json-log-probe-2");
    let made = request(&addr, "GET", "/api/grids/7", &[], b"");
    let made_id = made.header("x-request-id").expect("an id made by the server").to_owned();

    server.terminate();
    let log = said.join().expect("stderr");
    // Every log event is one JSON object on one line (other lines are the start's messages to
    // the person at the terminal).
    let events: Vec<Value> = log
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let answered = |id: &str| {
        events
            .iter()
            .find(|e| e["span"]["id"] == id && e["message"] == "answered")
            .unwrap_or_else(|| panic!("no log line of request {id}: {log}"))
            .clone()
    };
    let one = answered("json-log-probe-1");
    assert_eq!((one["level"].as_str(), one["status"].as_u64()), (Some("INFO"), Some(200)), "{one}");
    assert_eq!(
        (one["span"]["route"].as_str(), one["span"]["method"].as_str()),
        (Some("/health"), Some("GET")),
        "{one}"
    );
    assert!(one["timestamp"].is_string() && one["ms"].is_number(), "{one}");
    let two = answered("json-log-probe-2");
    assert_eq!((two["status"].as_u64(), two["span"]["route"].as_str()), (Some(401), Some("/api/grids/{id}")), "{two}");
    assert_eq!(two["span"]["path"], "/api/grids/7");
    assert_eq!(answered(&made_id)["status"], 401);
}

/// Waits until `done` holds, for at most five minutes.
fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < Duration::from_secs(300), "{what}: not within five minutes");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The Atlas snapshot file: written next to the GeoPackage after the first start, read at the
/// next one; cut short, it is refused with a log line, the Atlas loaded from the store and the
/// file written anew; `--atlas-snapshot off` neither reads nor writes it.
#[test]
fn serve_starts_from_its_atlas_snapshot_file_and_refuses_a_damaged_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let data_arg = data.to_string_lossy().to_string();
    let args = ["serve", "--listen", "127.0.0.1:0", "--data", &data_arg, "--scale", "0.05"];
    let file = data.join("rentgrid.atlas");
    let (mut server, _, said) = start(&args, &[]);
    wait_until("the snapshot file written", || file.is_file());
    assert!(server.terminate().success());
    let said = said.join().expect("stderr");
    assert!(said.contains("no Atlas snapshot file yet"), "{said}");
    let whole = std::fs::read(&file).expect("the snapshot file");

    let (mut server, addr, said) = start(&args, &[]);
    assert_eq!(request(&addr, "GET", "/health/ready", &[], b"").status, 200);
    assert!(server.terminate().success());
    let said = said.join().expect("stderr");
    assert!(said.contains("the Atlas was read from its snapshot file"), "{said}");

    std::fs::write(&file, &whole[..whole.len() / 2]).expect("cut the file");
    let (mut server, addr, said) = start(&args, &[]);
    assert_eq!(request(&addr, "GET", "/health/ready", &[], b"").status, 200);
    wait_until("the snapshot file written anew", || std::fs::read(&file).is_ok_and(|b| b == whole));
    assert!(server.terminate().success());
    let said = said.join().expect("stderr");
    assert!(said.contains("the Atlas snapshot file was not used") && said.contains("cut short"), "{said}");

    std::fs::remove_file(&file).expect("remove the file");
    let mut off = args.to_vec();
    off.extend(["--atlas-snapshot", "off"]);
    let (mut server, addr, said) = start(&off, &[]);
    assert_eq!(request(&addr, "GET", "/health/ready", &[], b"").status, 200);
    assert!(server.terminate().success());
    let said = said.join().expect("stderr");
    assert!(!said.contains("snapshot file") && !file.exists(), "{said}");
}
