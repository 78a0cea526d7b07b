//! `rentgrid user …` and `rentgrid audit verify` as an operator runs them, on a GeoPackage data
//! directory and on PostGIS: users added with a password on standard input, listed, given a new
//! password and disabled, each change an audit row; the chain verifies, and after one row is
//! edited by hand in the database `audit verify` fails naming it. A demo city comes with its
//! documented users.

use rentgrid_server::access::demo_users::DEMO_USERS;
use rentgrid_server::store::testing::TestDatabase;
use std::io::Write;
use std::process::{Command, Output, Stdio};

/// Runs `rentgrid args` with `stdin`.
fn run<S: AsRef<std::ffi::OsStr>>(args: &[S], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_rentgrid"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run rentgrid");
    child.stdin.take().expect("stdin").write_all(stdin.as_bytes()).expect("write stdin");
    child.wait_with_output().expect("rentgrid ends")
}

fn ok<S: AsRef<std::ffi::OsStr> + std::fmt::Debug>(args: &[S], stdin: &str) -> String {
    let out = run(args, stdin);
    let (o, e) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "rentgrid {args:?} failed:\n{o}\n{e}");
    format!("{o}{e}")
}

fn refused<S: AsRef<std::ffi::OsStr> + std::fmt::Debug>(args: &[S], stdin: &str) -> String {
    let out = run(args, stdin);
    assert!(!out.status.success(), "rentgrid {args:?} should fail");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Asserts that `rentgrid args` with `stdin` fails saying `words`.
fn refused_saying<S: AsRef<std::ffi::OsStr> + std::fmt::Debug>(args: &[S], stdin: &str, words: &str) {
    let said = refused(args, stdin);
    assert!(said.contains(words), "rentgrid {args:?} should say {words:?}, it said:\n{said}");
}

/// The scenario on the store named by `at` (`--data DIR` or `--database-url URL`); `edit` runs
/// one SQL statement on that store's database.
fn scenario(at: &[&str], edit: &dyn Fn(&str)) {
    let with = |args: &[&'static str]| -> Vec<String> { args.iter().chain(at).map(|s| s.to_string()).collect() };
    let add_li = with(&[
        "user",
        "add",
        "--username",
        "li",
        "--role",
        "supervisor",
        "--street",
        "330203001000",
        "--password-stdin",
    ]);
    ok(&add_li, "li-password-1\n");
    refused_saying(&add_li, "li-password-1\n", "exists already");
    let short = with(&["user", "add", "--username", "wu", "--role", "center", "--password-stdin"]);
    refused_saying(&short, "short\n", "at least 10 characters");
    let admin = with(&["user", "add", "--username", "wu", "--role", "admin", "--password-stdin"]);
    refused_saying(&admin, "long enough password\n", "the roles are");
    let scoped = with(&["user", "add", "--username", "wu", "--role", "auditor", "--street", "1", "--password-stdin"]);
    refused_saying(&scoped, "long enough password\n", "takes no --street");
    let cw =
        with(&["user", "add", "--username", "zhang", "--role", "caseworker", "--caseworker", "3", "--password-stdin"]);
    ok(&cw, "zhang-password-1\r\n");

    let listed = ok(&with(&["user", "list"]), "");
    assert!(listed.contains("li\tsupervisor\t330203001000\t\t\tactive"), "{listed}");
    assert!(listed.contains("zhang\tcaseworker\t\t\t3\tactive"), "{listed}");
    assert!(!listed.contains("argon2"), "never a password hash");
    ok(&with(&["user", "passwd", "--username", "zhang", "--password-stdin"]), "zhang-password-2\n");
    ok(&with(&["user", "disable", "--username", "li"]), "");
    refused_saying(&with(&["user", "disable", "--username", "nobody"]), "", "does not exist");
    assert!(ok(&with(&["user", "list"]), "").contains("li\tsupervisor\t330203001000\t\t\tdisabled"));

    let verified = ok(&with(&["audit", "verify"]), "");
    assert!(verified.contains("4 rows, chain intact"), "{verified}");
    edit("UPDATE audit_log SET target = 'user li role center' WHERE seq = 1");
    let broken = refused(&with(&["audit", "verify"]), "");
    assert!(broken.contains("audit row 1 was changed"), "{broken}");
}

#[test]
fn users_and_the_audit_chain_on_a_geopackage() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().to_str().unwrap().to_owned();
    let file = tmp.path().join("rentgrid.gpkg");
    scenario(&["--data", &data], &|sql| {
        // By hand, as someone with the file would: the sqlite3 shell.
        let out = Command::new("sqlite3").arg(&file).arg(sql).output().expect("sqlite3");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    });
}

#[test]
fn users_and_the_audit_chain_on_postgis() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (db, store) = rt.block_on(TestDatabase::create(true)).unwrap_or_else(|e| panic!("{e}"));
    let pool = store.pool().clone();
    scenario(&["--database-url", &db.url], &|sql| {
        rt.block_on(sqlx::query(sql).execute(&pool)).unwrap();
    });
    rt.block_on(pool.close());
    drop(store);
    rt.block_on(db.drop_database());
}

#[test]
fn a_demo_city_comes_with_its_documented_users() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().to_str().unwrap();
    ok(&["demo", "--scale", "0.05", "--data", data], "");
    let listed = ok(&["user", "list", "--data", data], "");
    for u in DEMO_USERS {
        assert!(listed.contains(&format!("\n{}\t{}\t", u.username, u.role)), "{} missing from:\n{listed}", u.username);
    }
    let caseworkers = listed.lines().filter(|l| l.starts_with("cw")).count();
    assert!(caseworkers >= 10, "a user per caseworker: {listed}");
    let verified = ok(&["audit", "verify", "--data", data], "");
    assert!(verified.contains(&format!("{} rows, chain intact", DEMO_USERS.len() + caseworkers)), "{verified}");
}
