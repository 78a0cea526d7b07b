//! The audit log (留痕) through the real router, on both stores: each kind of write (a visit, an
//! import, a campaign planned, a block's phase moved, a territory proposal accepted) leaves
//! exactly one audit row in its own transaction, naming who, their role and what, and a refused
//! write leaves none; `GET /api/audit` answers the auditor only, filters by time (days in China
//! time, RFC 3339 instants), user and action, pages, refuses bad values, exports CSV and XLSX,
//! and is itself audited; the chain verifies throughout.

use crate::common::{Backend, Fixture, get, post_json, principal, send, signed_in};
use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use calamine::{Data, Reader, Xlsx};
use http_body_util::BodyExt;
use rentgrid_server::access::audit::{AuditEvent, AuditRow};
use rentgrid_server::access::{Principal, Role};
use serde_json::{Value, json};
use std::io::Cursor;
use tower::ServiceExt;

on_both_stores!(
    each_write_is_one_audit_row_and_a_refused_one_none,
    the_audit_log_answers_the_auditor_only_filtered_in_the_store,
    the_audit_log_exports_as_csv_and_xlsx,
);

/// The rows appended after place `after`.
async fn rows_after(f: &Fixture, after: i64) -> Vec<AuditRow> {
    f.store.audit_rows(after, 10_000).await.unwrap()
}

/// The last place in the log.
async fn head(f: &Fixture) -> i64 {
    f.db.int("SELECT CAST(COALESCE(MAX(seq), 0) AS BIGINT) FROM audit_log").await
}

/// Checks that exactly one row was appended after `before`, by the command center, with `action`
/// and `outcome` and a target holding each of `names`; returns the new head.
async fn one_row(f: &Fixture, before: i64, action: &str, outcome: &str, names: &[&str]) -> i64 {
    one_row_by(f, before, Role::Center, action, outcome, names).await
}

/// [`one_row`] by the test user of `role`.
async fn one_row_by(f: &Fixture, before: i64, role: Role, action: &str, outcome: &str, names: &[&str]) -> i64 {
    let rows = rows_after(f, before).await;
    assert_eq!(rows.len(), 1, "{action}: {rows:#?}");
    let e = &rows[0].entry.event;
    assert_eq!((e.action.as_str(), e.outcome.as_str()), (action, outcome), "{e:?}");
    let user = format!("test-{role}");
    assert_eq!((e.user.as_deref(), e.role.as_deref()), (Some(user.as_str()), Some(role.as_str())), "{e:?}");
    for n in names {
        assert!(e.target.contains(n), "the target {:?} does not name {n:?}", e.target);
    }
    let n = rows[0].entry.seq;
    assert_eq!(f.store.verify_audit().await.unwrap(), Ok(n as u64), "the chain after {action}");
    n
}

/// Asserts an error answer: the status and a message mentioning `hint`.
fn refused(res: &(StatusCode, Value), status: StatusCode, hint: &str) {
    assert_eq!(res.0, status, "{}", res.1);
    let msg = res.1["message"].as_str().unwrap_or_default();
    assert!(msg.contains(hint), "message {msg:?} does not mention {hint:?}");
}

async fn post_csv(router: &Router, uri: &str, body: &str) -> (StatusCode, Value) {
    let req = Request::post(uri).header(header::CONTENT_TYPE, "text/csv").body(Body::from(body.to_owned())).unwrap();
    send(router, req).await
}

async fn each_write_is_one_audit_row_and_a_refused_one_none(backend: Backend) {
    let f = Fixture::seeded(backend).await;
    let r = &f.router;
    let mut seq = head(&f).await;

    // A visit: one row naming the building, the client id and the visit.
    let (person, building, _) =
        f.db.ints3(
            "SELECT CAST(id AS BIGINT), CAST(building_id AS BIGINT), CAST(0 AS BIGINT) FROM persons \
             WHERE NOT registered ORDER BY id LIMIT 1",
        )
        .await;
    let visit = json!({ "client_id": "audit-1", "building_id": building, "register_persons": [person] }).to_string();
    let (status, created) = post_json(r, "/api/visits", &visit).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["visit"]["id"].as_u64().unwrap();
    let names = [format!("building {building}"), "client_id audit-1".into(), format!("visit {id}")];
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    seq = one_row(&f, seq, "visit_record", "ok", &names).await;
    // Its replay changes nothing but is attributable: one row, `replayed`.
    assert_eq!(post_json(r, "/api/visits", &visit).await.0, StatusCode::OK);
    seq = one_row(&f, seq, "visit_record", "replayed", &names).await;
    // Refused visits (another's client id, a unit of another building) leave no row and no write.
    let other = json!({ "client_id": "audit-1", "building_id": building, "notes": "changed" }).to_string();
    refused(&post_json(r, "/api/visits", &other).await, StatusCode::CONFLICT, "client_id");
    let foreign =
        f.db.int(&format!("SELECT CAST(id AS BIGINT) FROM rental_units WHERE building_id <> {building} LIMIT 1")).await;
    let bad = json!({ "client_id": "audit-2", "building_id": building, "register_units": [foreign] }).to_string();
    refused(&post_json(r, "/api/visits", &bad).await, StatusCode::UNPROCESSABLE_ENTITY, "not in building");
    assert_eq!(head(&f).await, seq, "a refused visit wrote an audit row");
    assert_eq!(f.db.int("SELECT COUNT(*) FROM visits WHERE client_id = 'audit-2'").await, 0);

    // An import: one row naming the kind and what it wrote; a refused one none.
    let ledger = "编号,楼栋编号,房号,是否登记,登记日期,租住人数\nAUDIT-1,1,808,是,2025-06-01,3\n";
    let (status, done) = post_csv(r, "/api/imports/units", ledger).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    seq = one_row(&f, seq, "import", "ok", &["POST /api/imports/units", "1 new, 0 updated"]).await;
    let broken = "编号,楼栋编号,房号,是否登记,登记日期,租住人数\nAUDIT-2,424242,809,否,,1\n";
    assert_eq!(post_csv(r, "/api/imports/units", broken).await.0, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(head(&f).await, seq, "a refused import wrote an audit row");

    // A campaign planned, then a block moved: one row each; a phase out of order none.
    let grid = f.db.int("SELECT CAST(grid_id AS BIGINT) FROM buildings ORDER BY id LIMIT 1").await;
    let team = f.db.ints("SELECT CAST(id AS BIGINT) FROM caseworkers ORDER BY id LIMIT 2").await;
    let plan = json!({ "grids": [grid], "caseworkers": team, "start_date": "2026-12-07", "working_days": 260,
        "buildings_per_day": 6, "recheck_weeks": 3 });
    let (status, c) = post_json(r, "/api/campaigns", &plan.to_string()).await;
    assert_eq!(status, StatusCode::CREATED, "{c}");
    let cid = c["id"].as_u64().unwrap();
    seq = one_row(&f, seq, "campaign_create", "ok", &["POST /api/campaigns", &format!("campaign {cid}")]).await;
    let block = c["plan"]["blocks"][0]["block_id"].as_u64().unwrap();
    let uri = format!("/api/campaigns/{cid}/blocks/{block}/phase");
    refused(&post_json(r, &uri, r#"{"phase":"清理"}"#).await, StatusCode::CONFLICT, "排查");
    assert_eq!(head(&f).await, seq, "a refused phase move wrote an audit row");
    assert_eq!(post_json(r, &uri, r#"{"phase":"排查"}"#).await.0, StatusCode::OK);
    one_row(&f, seq, "campaign_phase", "ok", &[&uri, "from not started to investigate"]).await;

    // A territory proposal accepted: the territory audit row and one chained row, in one
    // transaction; accepting it again is refused and writes nothing.
    let street = f
        .db
        .texts("SELECT street_code FROM caseworkers GROUP BY street_code HAVING COUNT(*) >= 2 ORDER BY street_code")
        .await;
    let body = json!({ "street": street[0], "mode": "minimal", "epsilon": 0.1 }).to_string();
    let (status, proposal) = post_json(r, "/api/territory/proposals", &body).await;
    assert_eq!(status, StatusCode::CREATED, "{proposal}");
    let pid = proposal["id"].as_i64().unwrap();
    let seq = head(&f).await;
    let accept = format!("/api/territory/proposals/{pid}/accept");
    let (status, done) = post_json(r, &accept, r#"{"by":"王主任"}"#).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    let audit_id = done["audit_id"].as_i64().unwrap();
    let seq =
        one_row(&f, seq, "proposal_accept", "ok", &[&accept, &street[0], &format!("territory_audit {audit_id}")]).await;
    refused(&post_json(r, &accept, r#"{"by":"王主任"}"#).await, StatusCode::CONFLICT, "already accepted");
    assert_eq!(head(&f).await, seq, "a refused acceptance wrote an audit row");

    // A caseworker's visit in their grids is theirs; one outside them is refused and leaves none.
    let caseworkers = f.store.caseworkers().await.unwrap();
    let atlas = f.atlas();
    let (me, inside) = caseworkers
        .iter()
        .find_map(|c| atlas.buildings().iter().find(|b| c.grids.contains(&b.grid_id)).map(|b| (c, b.id)))
        .expect("a caseworker with buildings in their grids");
    let outside = atlas.buildings().iter().find(|b| !me.grids.contains(&b.grid_id)).unwrap().id;
    let cw = signed_in(f.anonymous.clone(), Principal { caseworker: Some(me.id), ..principal(Role::Caseworker) });
    let visit = |b: u32, id: &str| json!({ "client_id": id, "building_id": b, "caseworker_id": me.id }).to_string();
    assert_eq!(post_json(&cw, "/api/visits", &visit(outside, "audit-cw-1")).await.0, StatusCode::FORBIDDEN);
    assert_eq!(head(&f).await, seq, "a visit outside the caseworker's grids wrote an audit row");
    let (status, body) = post_json(&cw, "/api/visits", &visit(inside, "audit-cw-2")).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    one_row_by(&f, seq, Role::Caseworker, "visit_record", "ok", &[&format!("building {inside}"), "audit-cw-2"]).await;
    f.done().await;
}

/// The auditor's router.
fn auditor(f: &Fixture) -> Router {
    signed_in(f.anonymous.clone(), principal(Role::Auditor))
}

/// Reads one person as the command center (one `person_read` row).
async fn read_a_person(f: &Fixture) {
    let id = f.db.int("SELECT CAST(MIN(id) AS BIGINT) FROM persons").await;
    let (status, body) = get(&f.router, &format!("/api/persons/{id}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// The seqs of a page.
fn seqs(page: &Value) -> Vec<i64> {
    page["rows"].as_array().unwrap().iter().map(|r| r["seq"].as_i64().unwrap()).collect()
}

async fn the_audit_log_answers_the_auditor_only_filtered_in_the_store(backend: Backend) {
    let f = Fixture::seeded(backend).await;
    let a = auditor(&f);
    // Two rows of a January day, around midnight in China (16:00 UTC).
    for at in [time::macros::datetime!(2026-01-05 15:59:59 UTC), time::macros::datetime!(2026-01-05 16:00 UTC)] {
        let e = AuditEvent::new(at, "person_read", "GET /api/persons/1", "ok").by("old-user", "caseworker");
        f.store.append_audit(&e).await.unwrap();
    }
    // A person read as the command center.
    read_a_person(&f).await;

    // Nobody else reads the log.
    assert_eq!(get(&f.anonymous, "/api/audit").await.0, StatusCode::UNAUTHORIZED);
    for role in Role::ALL.into_iter().filter(|r| *r != Role::Auditor) {
        let res = get(&signed_in(f.anonymous.clone(), principal(role)), "/api/audit").await;
        assert_eq!((res.0, res.1["code"].as_str()), (StatusCode::FORBIDDEN, Some("forbidden")), "{role}");
    }

    // The whole log, in chain order, with each row's hash as stored.
    let all_seqs = f.db.ints("SELECT CAST(seq AS BIGINT) FROM audit_log ORDER BY seq").await;
    let (status, page) = get(&a, "/api/audit?limit=1000").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(seqs(&page), all_seqs);
    assert_eq!(page["next_after"], Value::Null);
    assert_eq!(page["number_returned"].as_u64(), Some(all_seqs.len() as u64));
    let last = &page["rows"][all_seqs.len() - 1];
    assert_eq!(last["action"], "person_read");
    assert_eq!((last["user"].as_str(), last["role"].as_str()), (Some("test-center"), Some("center")));
    let hash = f.db.texts(&format!("SELECT hash FROM audit_log WHERE seq = {}", last["seq"])).await;
    assert_eq!(last["hash"].as_str(), Some(hash[0].as_str()));
    for key in ["seq", "at", "user", "role", "source", "action", "target", "reason", "outcome", "hash"] {
        assert!(last.get(key).is_some(), "no {key} in {last}");
    }

    // Reading was audited: one row by the auditor, after what it read.
    let read = f.store.audit_rows(*all_seqs.last().unwrap(), 10).await.unwrap();
    assert_eq!(read.len(), 1, "{read:#?}");
    let e = &read[0].entry.event;
    assert_eq!(
        (e.action.as_str(), e.user.as_deref(), e.role.as_deref()),
        ("audit_read", Some("test-auditor"), Some("auditor"))
    );

    // Days are whole days in China time; instants are RFC 3339.
    let at = |page: &Value| -> Vec<String> {
        page["rows"].as_array().unwrap().iter().map(|r| r["at"].as_str().unwrap().to_owned()).collect()
    };
    let (_, day) = get(&a, "/api/audit?from=2026-01-05&to=2026-01-05").await;
    assert_eq!(at(&day), ["2026-01-05T15:59:59Z"]);
    let (_, next_day) = get(&a, "/api/audit?from=2026-01-06&to=2026-01-06").await;
    assert_eq!(at(&next_day), ["2026-01-05T16:00:00Z"]);
    let (_, instant) = get(&a, "/api/audit?from=2026-01-05T16:00:00Z&to=2026-01-06T00:00:00%2B08:00").await;
    assert_eq!(at(&instant), ["2026-01-05T16:00:00Z"]);
    let (_, january) = get(&a, "/api/audit?to=2026-01-31").await;
    assert_eq!(january["number_returned"], 2);

    // By user and by action, as the database holds them.
    let (_, theirs) = get(&a, "/api/audit?user=test-center&limit=1000").await;
    let want = f.db.ints("SELECT CAST(seq AS BIGINT) FROM audit_log WHERE username = 'test-center' ORDER BY seq").await;
    assert_eq!(seqs(&theirs), want);
    assert!(!want.is_empty());
    let (_, reads) = get(&a, "/api/audit?action=person_read&user=old-user").await;
    assert_eq!(reads["number_returned"], 2);
    let (_, none) = get(&a, "/api/audit?action=no_such_action").await;
    assert_eq!((none["number_returned"].as_u64(), &none["next_after"]), (Some(0), &Value::Null));

    // Paging by `after`: pages follow each other without gaps or repeats.
    let everything = f.db.ints("SELECT CAST(seq AS BIGINT) FROM audit_log ORDER BY seq").await;
    let (mut after, mut paged) = (0i64, Vec::new());
    loop {
        let (status, page) = get(&a, &format!("/api/audit?limit=2&after={after}")).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        paged.extend(seqs(&page));
        match page["next_after"].as_i64() {
            Some(n) => after = n,
            None => break,
        }
    }
    // Each page read appends its own row; the pages read every row there was before the last.
    assert_eq!(&paged[..everything.len()], &everything[..]);
    assert!(paged.windows(2).all(|w| w[1] == w[0] + 1), "{paged:?}");

    // Bad values: 400 naming the parameter, and no audit row.
    let before = f.db.int("SELECT COUNT(*) FROM audit_log").await;
    for (query, hint) in [
        ("from=yesterday", "from"),
        ("to=2026-02-30", "to"),
        ("from=2026-01-06&to=2026-01-05", "from is after to"),
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("after=-1", "after"),
        ("format=pdf", "format"),
        ("format=csv&lang=fr", "lang"),
        ("username=x", "unknown parameter"),
    ] {
        refused(&get(&a, &format!("/api/audit?{query}")).await, StatusCode::BAD_REQUEST, hint);
    }
    assert_eq!(f.db.int("SELECT COUNT(*) FROM audit_log").await, before);
    let n = f.db.int("SELECT CAST(COUNT(*) AS BIGINT) FROM audit_log").await;
    assert_eq!(f.store.verify_audit().await.unwrap(), Ok(n as u64));
    f.done().await;
}

async fn download(router: &Router, uri: &str) -> (StatusCode, String, Vec<u8>) {
    let res = router.clone().oneshot(Request::get(uri).body(Body::empty()).unwrap()).await.unwrap();
    let status = res.status();
    let ct = res.headers().get(header::CONTENT_TYPE).map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    (status, ct, res.into_body().collect().await.unwrap().to_bytes().to_vec())
}

async fn the_audit_log_exports_as_csv_and_xlsx(backend: Backend) {
    let f = Fixture::seeded(backend).await;
    let a = auditor(&f);
    read_a_person(&f).await;
    let rows = f.db.int("SELECT COUNT(*) FROM audit_log").await as usize;

    let (status, ct, csv_bytes) = download(&a, "/api/audit?format=csv").await;
    assert_eq!(status, StatusCode::OK);
    assert!(ct.starts_with("text/csv"), "{ct}");
    assert!(csv_bytes.starts_with(b"\xEF\xBB\xBF"), "CSV without a BOM");
    let mut reader = csv::Reader::from_reader(&csv_bytes[3..]);
    let headers: Vec<String> = reader.headers().unwrap().iter().map(str::to_owned).collect();
    assert_eq!(headers, ["序号", "时间（UTC）", "用户", "角色", "来源地址", "操作", "对象", "事由", "结果", "哈希"]);
    let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(records.len(), rows);
    let last = records.last().unwrap();
    assert_eq!((&last[2], &last[3], &last[5]), ("test-center", "center", "person_read"));
    let hash = f.db.texts(&format!("SELECT hash FROM audit_log WHERE seq = {}", &last[0])).await;
    assert_eq!(&last[9], hash[0].as_str());
    // The export was audited as one.
    let exported = f.db.int("SELECT COUNT(*) FROM audit_log WHERE action = 'audit_export'").await;
    assert_eq!(exported, 1);

    let (_, _, en) = download(&a, "/api/audit?format=csv&lang=en&action=person_read").await;
    let mut reader = csv::Reader::from_reader(&en[3..]);
    let headers: Vec<String> = reader.headers().unwrap().iter().map(str::to_owned).collect();
    assert_eq!(headers, ["seq", "at", "user", "role", "source", "action", "target", "reason", "outcome", "hash"]);
    assert_eq!(reader.records().count(), 1);

    let (status, ct, xlsx) = download(&a, "/api/audit?format=xlsx&limit=3").await;
    assert_eq!(status, StatusCode::OK);
    assert!(ct.contains("spreadsheetml"), "{ct}");
    let mut book: Xlsx<_> = calamine::open_workbook_from_rs(Cursor::new(xlsx)).unwrap();
    assert_eq!(book.sheet_names(), ["审计日志"]);
    let range = book.worksheet_range("审计日志").unwrap();
    let grid: Vec<&[Data]> = range.rows().collect();
    assert_eq!(grid.len(), 4, "the header and three rows");
    assert_eq!(grid[0][0], Data::String("序号".into()));
    assert_eq!(grid[1][0], Data::Float(1.0));
    let res = a.clone().oneshot(Request::get("/api/audit?format=xlsx&limit=3").body(Body::empty()).unwrap()).await;
    assert_eq!(res.unwrap().headers().get("x-next-after").map(|v| v.to_str().unwrap().to_owned()), Some("3".into()));
    assert_eq!(f.db.int("SELECT COUNT(*) FROM audit_log WHERE action = 'audit_export'").await, 4);
    f.done().await;
}
