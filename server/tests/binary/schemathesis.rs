//! The live API against its own OpenAPI document, probed by an outside fuzzer: schemathesis
//! (`scripts/python-requirements.txt`, run by `$RENTGRID_PYTHON`) reads `GET /api` from a running
//! `rentgrid serve` and sends a bounded number of generated requests per operation, valid and
//! invalid, as the demo `center`, a `caseworker` and anonymously, on a throwaway embedded store
//! and a throwaway PostGIS database (so writes are exercised, not skipped). Every answer must be
//! below 500 and conform to the document: a documented status, content type and schema. A
//! failure fails the test with schemathesis's report, which names each failing request as a
//! `curl` command. The document is the one `GET /api` serves (to a signed-in caller: it is not
//! public), read once and given to every role's run.

use crate::http::{demo_token, get_with};
use crate::serve::start;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

/// Requests generated per operation and phase: enough to reach every documented parameter and
/// its edges, small enough that all roles on both stores take a few minutes in a debug build.
const MAX_EXAMPLES: &str = "8";
/// The generator's seed: the same requests every run.
const SEED: &str = "18";
/// What every answer is held to.
const CHECKS: &str = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance";

/// The Python that has schemathesis, or `None` when the run says `RENTGRID_SKIP_ORACLES=1`.
fn python() -> Option<String> {
    let python = std::env::var("RENTGRID_PYTHON").unwrap_or_else(|_| "python3".into());
    let found = Command::new(&python).args(["-c", "import schemathesis"]).output();
    if found.as_ref().is_ok_and(|o| o.status.success()) {
        return Some(python);
    }
    assert!(
        std::env::var("RENTGRID_SKIP_ORACLES").as_deref() == Ok("1"),
        "schemathesis does not run with {python}: run scripts/ensure-python and set RENTGRID_PYTHON, or say \
         RENTGRID_SKIP_ORACLES=1"
    );
    eprintln!("schemathesis skipped (RENTGRID_SKIP_ORACLES=1)");
    None
}

/// The operations that end the caller's own sign-in (a fuzzed id may be the run's own token):
/// each role's run sends them last, in a run of their own, so they cannot hide the others.
const ENDING_SIGN_IN: [&str; 2] = ["revoke_token", "logout"];

/// The operations left out: the event stream does not end (its events are checked by the HTTP
/// tests, `tests/tests/http/events.rs`).
const ENDLESS: [&str; 1] = ["events"];

/// Runs schemathesis with the document `api` against the server at `addr` as the holder of
/// `token` (anonymous without) on the operations `select` picks; panics with its report when
/// any check fails.
fn fuzz(python: &str, api: &Path, addr: &str, who: &str, token: Option<&str>, select: &[String]) {
    let mut st = Command::new(python);
    st.args(["-m", "schemathesis.cli", "run"])
        .arg(api)
        .args(["--url", &format!("http://{addr}")])
        .args(["--checks", CHECKS, "--max-examples", MAX_EXAMPLES, "--seed", SEED, "--workers", "1"])
        .args(["--phases", "examples,coverage,fuzzing", "--suppress-health-check", "all", "--no-color"])
        .args(["--request-timeout", "60"])
        .args(select)
        // Its cache of earlier failures (replayed first) stays in the run's own directory: each
        // run starts from the seed alone, and nothing is written into the source tree.
        .current_dir(api.parent().expect("the document's directory"))
        // Only the server on 127.0.0.1: no proxy from the environment.
        .env("NO_PROXY", "*")
        .env_remove("HTTP_PROXY")
        .env_remove("HTTPS_PROXY")
        .env_remove("http_proxy")
        .env_remove("https_proxy");
    if let Some(token) = token {
        st.args(["--header", &format!("Authorization: Bearer {token}")]);
    }
    let started = Instant::now();
    let out = st.output().expect("run schemathesis");
    let said = String::from_utf8_lossy(&out.stdout);
    let cases = said.lines().skip_while(|l| !l.starts_with("Test cases:")).nth(1).unwrap_or("").trim();
    eprintln!("schemathesis as {who}: {cases} ({:.1?})", started.elapsed());
    assert!(
        out.status.success(),
        "schemathesis as {who} found answers that break the API's own document:\n{said}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Fuzzes the server at `addr` as each role, with the document it serves the center.
fn fuzz_every_role(python: &str, addr: &str, store: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    let center = demo_token(addr, "center");
    let answer = get_with(addr, "/api", &center, "application/json");
    assert_eq!(answer.status, 200, "GET /api: {}", answer.text());
    let api = dir.path().join("api.json");
    std::fs::write(&api, &answer.body).expect("write the document");
    let option =
        |flag: &str| ENDING_SIGN_IN.iter().flat_map(|id| [flag.to_owned(), (*id).to_owned()]).collect::<Vec<_>>();
    let (mut most, last) = (option("--exclude-operation-id"), option("--include-operation-id"));
    most.extend(ENDLESS.iter().flat_map(|id| ["--exclude-operation-id".to_owned(), (*id).to_owned()]));
    // Every token first: the fuzzed logins fail often enough to lock this address out of
    // signing in for a while (as they should).
    let tokens = [("anonymous", None), ("caseworker", Some(demo_token(addr, "caseworker"))), ("center", Some(center))];
    let started = Instant::now();
    for (role, token) in tokens {
        let who = format!("{role} on the {store} store");
        fuzz(python, &api, addr, &who, token.as_deref(), &most);
        fuzz(python, &api, addr, &format!("{who}, ending its sign-in"), token.as_deref(), &last);
    }
    eprintln!("schemathesis on the {store} store, every role: {:.1?}", started.elapsed());
}

#[test]
fn schemathesis_finds_no_server_error_nor_undocumented_answer_on_the_embedded_store() {
    let Some(python) = python() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data").display().to_string();
    let (server, addr, _said) = start(
        &["serve", "--listen", "127.0.0.1:0", "--scale", "0.05", "--data", &data],
        &[("RENTGRID_WEB", &dir.path().join("no-web-map"))],
    );
    fuzz_every_role(&python, &addr, "embedded");
    drop(server);
}

#[test]
fn schemathesis_finds_no_server_error_nor_undocumented_answer_on_postgis() {
    let Some(python) = python() else { return };
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let (db, _store) =
        rt.block_on(rentgrid_server::store::testing::TestDatabase::create(true)).unwrap_or_else(|e| panic!("{e}"));
    let dir = tempfile::tempdir().expect("tempdir");
    let (server, addr, _said) = start(
        &["serve", "--listen", "127.0.0.1:0", "--scale", "0.05", "--database-url", &db.url],
        &[("RENTGRID_WEB", &dir.path().join("no-web-map"))],
    );
    fuzz_every_role(&python, &addr, "postgis");
    drop(server);
    rt.block_on(db.drop_database());
}
