//! Users, sessions, tokens and the audit chain on both backends: the same calls, the same
//! answers, and an audit row edited by hand is found.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use rentgrid_store::access::LockRule;
use rentgrid_store::gpkg::GpkgStore;
use rentgrid_store::testing::TestDatabase;
use rentgrid_store::{Access, AuditEvent, AuditLog, ChainError, NewUser, StoreError};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

const T0: OffsetDateTime = datetime!(2026-12-03 08:00 UTC);

fn event(action: &str) -> AuditEvent {
    AuditEvent::new(T0, action, "/api/test", "ok").by("admin", "sysadmin").from_source(Some("127.0.0.1".into()))
}

fn zhang() -> NewUser {
    NewUser {
        username: "zhang".into(),
        role: "caseworker".into(),
        street: None,
        grids: vec!["330203001001".into()],
        caseworker: Some(7),
        password_hash: "$argon2id$v=19$stand-in".into(),
    }
}

/// The scenario, on one store; `edit` changes one audit row's target by hand.
async fn scenario<S: Access + AuditLog>(s: &S, edit: impl AsyncFnOnce(&str)) {
    let id = s.add_user(&zhang(), T0, &event("user_add")).await.unwrap();
    assert!(matches!(s.add_user(&zhang(), T0, &event("user_add")).await, Err(StoreError::Conflict(_))));
    let u = s.user_named("zhang").await.unwrap().unwrap();
    assert_eq!((u.id, u.role.as_str(), u.caseworker, u.grids.clone()), (id, "caseworker", Some(7), zhang().grids));
    assert_eq!((u.disabled, u.failed_logins, u.locked_until, u.created_at), (false, 0, None, T0));

    // Failed logins lock at the fifth, for the rule's time; a session forgets them.
    let rule = LockRule { max_failures: 5, lock_for: Duration::minutes(15) };
    for i in 0..4 {
        assert_eq!(s.login_failed(id, T0 + Duration::seconds(i), rule, &event("login_failed")).await.unwrap(), None);
    }
    let until = s.login_failed(id, T0 + Duration::seconds(4), rule, &event("login_failed")).await.unwrap();
    assert_eq!(until, Some(T0 + Duration::seconds(4) + Duration::minutes(15)));
    assert_eq!(s.user_by_id(id).await.unwrap().unwrap().locked_until, until);

    let sid = s.start_session(id, "hash-of-secret", "csrf-token", T0, &event("login")).await.unwrap();
    let (session, user) = s.session("hash-of-secret").await.unwrap().unwrap();
    assert_eq!(
        (session.id, session.csrf.as_str(), session.ended_at, user.username.as_str()),
        (sid, "csrf-token", None, "zhang")
    );
    assert_eq!(user.locked_until, None, "a login lifts the lock");
    s.touch_session(sid, T0 + Duration::minutes(3)).await.unwrap();
    assert_eq!(s.session("hash-of-secret").await.unwrap().unwrap().0.last_seen, T0 + Duration::minutes(3));
    assert!(s.session("another").await.unwrap().is_none());
    s.end_session(sid, T0 + Duration::minutes(4), Some(&event("logout"))).await.unwrap();
    assert_eq!(s.session("hash-of-secret").await.unwrap().unwrap().0.ended_at, Some(T0 + Duration::minutes(4)));

    let tid = s.create_token(id, "qgis", "token-hash", T0, &event("token_create")).await.unwrap();
    assert_eq!(s.token("token-hash").await.unwrap().unwrap().0.name, "qgis");
    assert!(matches!(s.revoke_token(id + 1, tid, T0, &event("token_revoke")).await, Err(StoreError::NotFound { .. })));
    s.revoke_token(id, tid, T0, &event("token_revoke")).await.unwrap();
    assert_eq!(s.tokens(id).await.unwrap()[0].revoked_at, Some(T0));

    s.set_password("zhang", "$argon2id$v=19$other", T0, &event("user_passwd")).await.unwrap();
    s.set_disabled("zhang", true, T0, &event("user_disable")).await.unwrap();
    assert!(s.user_named("zhang").await.unwrap().unwrap().disabled);
    assert!(matches!(s.set_disabled("li", true, T0, &event("user_disable")).await, Err(StoreError::NotFound { .. })));
    assert_eq!(s.users().await.unwrap().len(), 1);

    // 1 add + 5 failures + login + logout + token create and revoke + passwd + disable; the
    // refused writes left no row.
    let rows = s.audit_rows(0, 100).await.unwrap();
    let actions: Vec<&str> = rows.iter().map(|r| r.entry.event.action.as_str()).collect();
    assert_eq!(actions.len(), 12, "{actions:?}");
    assert_eq!((actions[0], actions[6], actions[7]), ("user_add", "login", "logout"));
    assert_eq!(s.verify_audit().await.unwrap(), Ok(12));
    assert_eq!(rows[3].prev_hash, rows[2].hash);

    edit("UPDATE audit_log SET target = '/api/other' WHERE seq = 4").await;
    assert_eq!(s.verify_audit().await.unwrap(), Err(ChainError::Mismatch { seq: 4 }));
}

#[tokio::test]
async fn on_a_geopackage() {
    let dir = tempfile::tempdir().unwrap();
    let s = GpkgStore::open(dir.path()).await.unwrap();
    let pool = s.pool().clone();
    scenario(&s, async |sql| {
        sqlx::query(sql).execute(&pool).await.unwrap();
    })
    .await;
    // A row removed from the end is found too.
    sqlx::query("UPDATE audit_log SET target = '/api/test' WHERE seq = 4").execute(&pool).await.unwrap();
    assert_eq!(s.verify_audit().await.unwrap(), Ok(12));
    sqlx::query("DELETE FROM audit_log WHERE seq = 12").execute(&pool).await.unwrap();
    assert_eq!(s.verify_audit().await.unwrap(), Err(ChainError::Truncated { last: 11, head: 12 }));
}

#[tokio::test]
async fn on_postgis() {
    let (db, s) = TestDatabase::create(true).await.unwrap_or_else(|e| panic!("{e}"));
    let pool = s.pool().clone();
    scenario(&s, async |sql| {
        sqlx::query(sql).execute(&pool).await.unwrap();
    })
    .await;
    pool.close().await;
    drop(s);
    db.drop_database().await;
}

/// Appends from many tasks at once still make one unbroken chain.
#[tokio::test]
async fn concurrent_appends_chain() {
    let dir = tempfile::tempdir().unwrap();
    let gpkg = std::sync::Arc::new(GpkgStore::open(dir.path()).await.unwrap());
    let (db, pg) = TestDatabase::create(true).await.unwrap_or_else(|e| panic!("{e}"));
    let pg = std::sync::Arc::new(pg);
    for s in [gpkg as std::sync::Arc<dyn AuditLog>, pg.clone() as std::sync::Arc<dyn AuditLog>] {
        let tasks: Vec<_> = (0..24)
            .map(|_| {
                let s = s.clone();
                tokio::spawn(async move { s.append_audit(&event("login")).await.map(|r| r.entry.seq) })
            })
            .collect();
        let mut seqs = Vec::new();
        for t in tasks {
            seqs.push(t.await.unwrap().unwrap());
        }
        seqs.sort_unstable();
        assert_eq!(seqs, (1..=24).collect::<Vec<i64>>());
        assert_eq!(s.verify_audit().await.unwrap(), Ok(24));
    }
    pg.pool().close().await;
    drop(pg);
    db.drop_database().await;
}
