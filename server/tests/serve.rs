//! `rentgrid serve` as a user runs it: on an empty data directory it says it seeds the default
//! demo city, prints where it listens, and serves 400+ grids whose KPIs add up to the street and
//! district totals.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A plain HTTP/1.0 GET (the server then closes the connection after the body).
fn get(addr: &str, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(60))).expect("timeout");
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\nAccept: application/json\r\n\r\n").expect("write");
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read");
    let text = String::from_utf8(raw).expect("utf-8");
    let (head, body) = text.split_once("\r\n\r\n").expect("a response head");
    let status = head.split(' ').nth(1).and_then(|c| c.parse().ok()).expect("a status");
    (status, body.to_string())
}

fn json(addr: &str, path: &str) -> Value {
    let (status, body) = get(addr, path);
    assert_eq!(status, 200, "{path}: {body}");
    serde_json::from_str(&body).expect("JSON")
}

#[test]
fn serve_seeds_an_empty_directory_and_serves_consistent_kpis() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let child = Command::new(env!("CARGO_BIN_EXE_rentgrid"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(&data)
        .env("RENTGRID_WEB", dir.path().join("no-web-map"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start rentgrid");
    let mut server = Server(child);
    let stdout = server.0.stdout.take().expect("stdout");
    let stderr = server.0.stderr.take().expect("stderr");
    let said = std::thread::spawn(move || {
        let mut all = String::new();
        let _ = BufReader::new(stderr).read_to_string(&mut all);
        all
    });
    let started = Instant::now();
    let mut addr = None;
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("a line");
        if let Some(url) = line.strip_prefix("listening on http://") {
            addr = Some(url.trim().to_string());
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(300), "no listening line");
    }
    let addr = addr.expect("rentgrid printed where it listens");

    let grids = json(&addr, "/api/grids");
    let features = grids["features"].as_array().expect("features");
    assert!(features.len() >= 400, "only {} grids", features.len());
    let streets = json(&addr, "/api/stats?level=street");
    let district = json(&addr, "/api/stats?level=district");
    for k in ["persons", "persons_registered", "rental_units", "rental_units_registered", "pledges_signed"] {
        let from_grids: u64 = features.iter().map(|f| f["properties"][k].as_u64().expect(k)).sum();
        let from_streets: u64 = streets["rows"].as_array().expect("rows").iter().map(|r| r[k].as_u64().expect(k)).sum();
        assert_eq!(from_grids, from_streets, "{k}: grids vs streets");
        assert_eq!(from_grids, district["rows"][0][k].as_u64().expect(k), "{k}: grids vs district");
    }
    // The default demo city is the one the README describes.
    let persons = district["rows"][0]["persons"].as_u64().expect("persons");
    assert!((200_000..400_000).contains(&persons), "{persons} persons");
    let (status, page) = get(&addr, "/");
    assert_eq!(status, 200);
    assert!(page.contains("web map"), "without a built map, / explains how to build it");

    drop(server);
    let log = said.join().expect("stderr");
    assert!(log.contains("seeding the demo city"), "serve did not say it seeds: {log}");
}
