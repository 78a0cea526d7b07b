//! The disk filling up during an import, on the GeoPackage store: the data directory lives on a
//! small tmpfs that other files have nearly filled, and a large ledger is imported over HTTP and
//! then with the command line. Both fail with a clear message (HTTP 507 `insufficient_storage`,
//! and the command's error), never a panic or a 500; the server goes on answering; and the store,
//! opened again by a new `rentgrid serve`, holds exactly what it held before (the import's
//! transaction is rolled back, its audit row with it).
//!
//! (PostGIS is not tested here: filling the disk under a PostgreSQL cluster is not practical in
//! the test command; its `disk_full` error maps to the same 507.)

use crate::http::{Answer, demo_token, request};
use crate::import::big_ledger;
use crate::serve::start;
use serde_json::Value;
use std::io::Write;
use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_rentgrid");

/// The size of the small disk, in MiB: the demo city at scale 0.05 and its write-ahead log fit.
const DISK_MIB: u64 = 64;
/// What the filler leaves free, in bytes: a few of the import's pages.
const LEFT_FREE: u64 = 1 << 20;
/// Rental units in the ledger: several times what fits in [`LEFT_FREE`].
const UNITS: usize = 30_000;

/// A tmpfs mounted on a temporary directory; unmounted when dropped, even when the test panics.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    /// Mounts a tmpfs of `mib` MiB, or fails the test saying why (it needs root).
    fn mount(mib: u64) -> Tmpfs {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={mib}m"), "tmpfs"])
            .arg(dir.path())
            .output();
        match out {
            Ok(o) if o.status.success() => Tmpfs { dir },
            Ok(o) => panic!(
                "cannot mount a {mib} MiB tmpfs on {} to fill it ({}); this test needs root (or CAP_SYS_ADMIN): {}",
                dir.path().display(),
                o.status,
                String::from_utf8_lossy(&o.stderr)
            ),
            Err(e) => panic!("cannot run mount for the disk-full test: {e}"),
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Fills the file system but `left` bytes, as other files do: writes a filler until there is
    /// no space, then cuts it short by `left`.
    fn fill_leaving(&self, left: u64) {
        let path = self.path().join("filler");
        let mut filler = std::fs::File::create(&path).unwrap();
        let chunk = vec![0xA5u8; 1 << 20];
        let mut written = 0u64;
        loop {
            match filler.write(&chunk) {
                Ok(0) => break,
                Ok(n) => written += n as u64,
                Err(e) if e.kind() == std::io::ErrorKind::StorageFull => break,
                Err(e) => panic!("filling the disk: {e}"),
            }
        }
        assert!(written > left, "the disk had only {written} bytes free");
        filler.set_len(written - left).unwrap();
        filler.sync_all().unwrap();
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let unmounted = Command::new("umount").arg(self.dir.path()).status().is_ok_and(|s| s.success());
        if !unmounted {
            let _ = Command::new("umount").arg("-l").arg(self.dir.path()).status();
        }
    }
}

/// What the register counts, as the API reports it: the district's figures and the Atlas's size.
fn counts(addr: &str, auth: &str) -> (Value, Value) {
    let headers = [("Accept", "application/json"), ("Authorization", auth)];
    let stats = request(addr, "GET", "/api/stats?level=district", &headers, b"");
    assert_eq!(stats.status, 200, "{}", stats.text());
    let health = request(addr, "GET", "/health", &headers, b"");
    assert_eq!(health.status, 200, "{}", health.text());
    let health = health.json();
    (stats.json(), serde_json::json!([health["grids"], health["buildings"]]))
}

/// A refusal for want of space: 507, JSON `insufficient_storage`, a message that says so.
fn assert_disk_full(answer: &Answer) {
    assert_eq!(answer.status, 507, "an import that fills the disk: {}", answer.text());
    let body = answer.json();
    assert_eq!(body["code"], "insufficient_storage", "{body}");
    let message = body["message"].as_str().unwrap_or_default();
    assert!(message.contains("disk") && message.contains("full") && message.contains("nothing"), "{message}");
}

#[test]
fn an_import_that_fills_the_disk_fails_clearly_and_changes_nothing() {
    let disk = Tmpfs::mount(DISK_MIB);
    let data = disk.path().join("data").display().to_string();
    let seeded = Command::new(BIN).args(["demo", "--scale", "0.05", "--data", &data]).output().unwrap();
    assert!(seeded.status.success(), "{}", String::from_utf8_lossy(&seeded.stderr));
    let serve = ["serve", "--listen", "127.0.0.1:0", "--data", &data];
    let (mut server, addr, said) = start(&serve, &[]);
    let auth = format!("Bearer {}", demo_token(&addr, "center"));
    let before = counts(&addr, &auth);
    let buildings = before.1[1].as_u64().unwrap() as usize;
    let ledger = big_ledger(UNITS, buildings);

    // Over HTTP: 507 with a message, and the server goes on answering the same figures.
    disk.fill_leaving(LEFT_FREE);
    let answer = request(
        &addr,
        "POST",
        "/api/imports/units",
        &[("Content-Type", "text/csv"), ("Authorization", &auth)],
        ledger.as_bytes(),
    );
    assert_disk_full(&answer);
    let ready = request(&addr, "GET", "/health/ready", &[], b"");
    assert_eq!(ready.status, 200, "{}", ready.text());
    assert_eq!(counts(&addr, &auth), before, "the failed import changed what the server reports");
    server.terminate();
    let log = said.join().unwrap();
    assert!(!log.contains("panicked"), "{log}");

    // With the command line, server stopped: the same, as an error naming the cause.
    let files = tempfile::tempdir().unwrap();
    let file = files.path().join("units.csv");
    std::fs::write(&file, &ledger).unwrap();
    let out = Command::new(BIN).args(["import", "units"]).arg(&file).args(["--data", &data]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stderr.contains("disk") && stderr.contains("full"), "the error does not say the disk is full: {stderr}");

    // The store opens again, on the same nearly full disk, and holds what it held.
    let (_server, addr, _said) = start(&serve, &[]);
    assert_eq!(counts(&addr, &auth), before, "the store changed after imports that filled the disk");
    let verify = Command::new(BIN).args(["audit", "verify", "--data", &data]).output().unwrap();
    assert!(verify.status.success(), "{}", String::from_utf8_lossy(&verify.stderr));
}
