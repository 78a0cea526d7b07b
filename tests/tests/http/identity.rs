//! Login, sessions, CSRF, lockout and API tokens through the HTTP API on both stores, with the
//! clock moved by the test (no sleeping): a good login gets a cookie and the user's scope, a bad
//! one 401; five failures lock an account and a source address; a session ends when idle or at
//! logout; a cookie write without its CSRF token is 403; a revoked token is 401; each login,
//! failed login and logout is an audit row, and the chain verifies.

use crate::common::{Backend, Fixture};
use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use rentgrid_analysis::kpi::Targets;
use rentgrid_server::access::Role;
use rentgrid_server::access::lockout::Policy;
use rentgrid_server::access::session::Timeouts;
use rentgrid_server::identity::{Actor, Clock, Identity, NewUserRequest};
use rentgrid_server::{app, startup};
use serde_json::Value;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};
use tower::ServiceExt;

on_both_stores!(
    a_login_gets_a_cookie_and_the_scope_and_a_bad_one_401,
    five_failures_lock_the_account_and_the_address,
    behind_a_trusted_proxy_each_client_is_locked_alone,
    an_idle_session_ends_and_logout_ends_a_session,
    a_cookie_write_needs_the_csrf_token,
    a_revoked_token_is_401,
);

/// A clock the test moves.
#[derive(Clone)]
struct TestClock(Arc<AtomicI64>);

impl TestClock {
    const START: OffsetDateTime = datetime!(2026-12-03 08:00 UTC);

    fn new() -> Self {
        Self(Arc::new(AtomicI64::new(0)))
    }

    fn clock(&self) -> Clock {
        let offset = self.0.clone();
        Arc::new(move || Self::START + Duration::seconds(offset.load(Ordering::SeqCst)))
    }

    fn advance(&self, d: Duration) {
        self.0.fetch_add(d.whole_seconds(), Ordering::SeqCst);
    }
}

/// The seeded fixture, two users (`zhang`, a caseworker; `li`, a supervisor), and a router
/// whose identity runs on `clock`.
async fn setup(backend: Backend, clock: &TestClock) -> (Fixture, Router) {
    setup_behind(backend, clock, Vec::new()).await
}

/// [`setup`] behind the reverse proxies `proxies`.
async fn setup_behind(backend: Backend, clock: &TestClock, proxies: Vec<std::net::IpAddr>) -> (Fixture, Router) {
    let f = Fixture::seeded(backend).await;
    let identity = Identity::new(Timeouts::default(), Policy::default(), clock.clock()).with_trusted_proxies(proxies);
    for (name, role, street, cw) in
        [("zhang", Role::Caseworker, None, Some(1)), ("li", Role::Supervisor, Some("330203001000"), None)]
    {
        let request = NewUserRequest {
            username: name.into(),
            role,
            street: street.map(Into::into),
            grids: Vec::new(),
            caseworker: cw,
            password: format!("{name}-password-1"),
        };
        identity.add_user(f.store.as_ref(), request, &Actor::Cli).await.unwrap();
    }
    let state = startup::state_for(f.store.clone(), Targets::default(), None).await.unwrap().with_identity(identity);
    let router = app(state);
    (f, router)
}

/// A response: status, the `Set-Cookie` values, the body as JSON.
struct Answer {
    status: StatusCode,
    cookies: Vec<String>,
    body: Value,
}

impl Answer {
    /// The session secret this answer sets.
    fn session(&self) -> String {
        let c = self.cookies.iter().find(|c| c.starts_with("rentgrid_session=rgs_")).expect("a session cookie");
        c.split(';').next().unwrap().trim_start_matches("rentgrid_session=").to_owned()
    }
}

/// Sends a request from `ip` with `headers` and an optional JSON body.
async fn call(
    router: &Router,
    method: &str,
    uri: &str,
    ip: [u8; 4],
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> Answer {
    let mut req = Request::builder().method(method).uri(uri);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    if body.is_some() {
        req = req.header(header::CONTENT_TYPE, "application/json");
    }
    let mut req = req.body(Body::from(body.unwrap_or("").to_owned())).unwrap();
    req.extensions_mut().insert(ConnectInfo(SocketAddr::from((ip, 40000))));
    let res = router.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let cookies = res.headers().get_all(header::SET_COOKIE).iter().map(|v| v.to_str().unwrap().to_owned()).collect();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Answer { status, cookies, body }
}

const IP: [u8; 4] = [10, 0, 0, 1];

async fn login(router: &Router, ip: [u8; 4], user: &str, password: &str) -> Answer {
    let body = serde_json::json!({ "username": user, "password": password }).to_string();
    call(router, "POST", "/api/login", ip, &[], Some(&body)).await
}

fn cookie(secret: &str) -> String {
    format!("rentgrid_session={secret}")
}

async fn audit_actions(f: &Fixture) -> Vec<String> {
    f.store.audit_rows(0, 1000).await.unwrap().into_iter().map(|r| r.entry.event.action).collect()
}

async fn a_login_gets_a_cookie_and_the_scope_and_a_bad_one_401(backend: Backend) {
    let clock = TestClock::new();
    let (f, router) = setup(backend, &clock).await;
    let ok = login(&router, IP, "li", "li-password-1").await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    let set = &ok.cookies[0];
    assert!(set.contains("HttpOnly") && set.contains("SameSite=Strict") && set.contains("Path=/"), "{set}");
    assert!(!set.contains("Secure"), "plain HTTP: {set}");
    assert_eq!(ok.body["username"], "li");
    assert_eq!(ok.body["role"], "supervisor");
    assert_eq!(ok.body["scope"]["street"], "330203001000");
    assert_eq!(ok.body["scope"]["role"], "supervisor");
    let csrf = ok.body["csrf"].as_str().unwrap().to_owned();
    assert_eq!(csrf.len(), 64);

    let me = call(&router, "GET", "/api/me", IP, &[("cookie", &cookie(&ok.session()))], None).await;
    assert_eq!(
        (me.status, me.body["username"].as_str(), me.body["csrf"].as_str()),
        (StatusCode::OK, Some("li"), Some(csrf.as_str()))
    );
    let anonymous = call(&router, "GET", "/api/me", IP, &[], None).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    assert_eq!(anonymous.body["code"], "unauthorized");

    let wrong = login(&router, IP, "li", "li-password-2").await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.body["message"].as_str().unwrap().contains("wrong username or password"), "{}", wrong.body);
    assert!(wrong.cookies.is_empty());
    let unknown = login(&router, IP, "nobody", "li-password-1").await;
    assert_eq!(
        (unknown.status, &unknown.body["message"]),
        (StatusCode::UNAUTHORIZED, &wrong.body["message"]),
        "the same answer"
    );
    let bad = call(&router, "POST", "/api/login", IP, &[], Some("{\"user\":\"li\"}")).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);

    let https = call(
        &router,
        "POST",
        "/api/login",
        IP,
        &[("x-forwarded-proto", "https")],
        Some(r#"{"username":"zhang","password":"zhang-password-1"}"#),
    )
    .await;
    assert_eq!(https.status, StatusCode::OK);
    assert!(https.cookies[0].ends_with("; Secure"), "{}", https.cookies[0]);
    assert_eq!(
        (https.body["scope"]["caseworker"].as_u64(), https.body["role"].as_str()),
        (Some(1), Some("caseworker"))
    );

    let actions = audit_actions(&f).await;
    // Two users added, a login, two failed logins, a login.
    assert_eq!(actions, ["user_add", "user_add", "login", "login_failed", "login_failed", "login"]);
    assert_eq!(f.store.verify_audit().await.unwrap(), Ok(6));
    let rows = f.store.audit_rows(0, 10).await.unwrap();
    assert_eq!(rows[2].entry.event.source.as_deref(), Some("10.0.0.1"));
    assert_eq!((rows[3].entry.event.user.as_deref(), rows[3].entry.event.outcome.as_str()), (Some("li"), "denied"));
    f.done().await;
}

async fn five_failures_lock_the_account_and_the_address(backend: Backend) {
    let clock = TestClock::new();
    let (f, router) = setup(backend, &clock).await;
    for i in 0..5 {
        let a = login(&router, [10, 0, 0, 10 + i], "zhang", "not-the-password").await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "failure {i}");
    }
    // Locked, from any address, even with the right password.
    let locked = login(&router, [10, 0, 0, 99], "zhang", "zhang-password-1").await;
    assert_eq!(locked.status, StatusCode::TOO_MANY_REQUESTS, "{}", locked.body);
    assert!(locked.body["message"].as_str().unwrap().contains("locked"), "{}", locked.body);
    assert!(locked.cookies.is_empty());
    clock.advance(Duration::minutes(14));
    assert_eq!(login(&router, [10, 0, 0, 99], "zhang", "zhang-password-1").await.status, StatusCode::TOO_MANY_REQUESTS);
    clock.advance(Duration::minutes(2));
    assert_eq!(login(&router, [10, 0, 0, 99], "zhang", "zhang-password-1").await.status, StatusCode::OK);

    // One address guessing five names is locked out for every name, other addresses are not.
    for name in ["a", "b", "c", "d", "e"] {
        assert_eq!(login(&router, [10, 0, 0, 2], name, "guess-guess").await.status, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(login(&router, [10, 0, 0, 2], "li", "li-password-1").await.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(login(&router, [10, 0, 0, 3], "li", "li-password-1").await.status, StatusCode::OK);
    clock.advance(Duration::minutes(16));
    assert_eq!(login(&router, [10, 0, 0, 2], "li", "li-password-1").await.status, StatusCode::OK);
    let failed = audit_actions(&f).await.iter().filter(|a| *a == "login_failed").count();
    assert_eq!(failed, 5 + 2 + 5 + 1, "each refused login is an audit row");
    f.done().await;
}

async fn behind_a_trusted_proxy_each_client_is_locked_alone(backend: Backend) {
    let clock = TestClock::new();
    const PROXY: [u8; 4] = [10, 0, 0, 50];
    let (f, router) = setup_behind(backend, &clock, vec![PROXY.into()]).await;
    let via_proxy = |client: &'static str, user: &'static str, password: &'static str| {
        let router = router.clone();
        async move {
            let body = serde_json::json!({ "username": user, "password": password }).to_string();
            call(&router, "POST", "/api/login", PROXY, &[("x-forwarded-for", client)], Some(&body)).await.status
        }
    };
    // One client behind the proxy guessing five names locks itself out, not the others.
    for name in ["a", "b", "c", "d", "e"] {
        assert_eq!(via_proxy("203.0.113.7", name, "guess-guess").await, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(via_proxy("203.0.113.7", "li", "li-password-1").await, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(via_proxy("203.0.113.8", "li", "li-password-1").await, StatusCode::OK);
    // A client that forges the header is known by the address the proxy appends.
    assert_eq!(via_proxy("203.0.113.8, 203.0.113.7", "li", "li-password-1").await, StatusCode::TOO_MANY_REQUESTS);
    // A peer that is not a trusted proxy is taken at its own address, whatever it claims.
    for name in ["a", "b", "c", "d", "e"] {
        let body = serde_json::json!({ "username": name, "password": "guess-guess" }).to_string();
        let a = call(&router, "POST", "/api/login", [10, 0, 0, 60], &[("x-forwarded-for", "203.0.113.9")], Some(&body))
            .await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(via_proxy("203.0.113.9", "li", "li-password-1").await, StatusCode::OK);
    assert_eq!(login(&router, [10, 0, 0, 60], "li", "li-password-1").await.status, StatusCode::TOO_MANY_REQUESTS);
    // The audit log names the client, not the proxy.
    let rows = f.store.audit_rows(0, 1000).await.unwrap();
    let sources: Vec<Option<String>> =
        rows.iter().filter(|r| r.entry.event.action == "login").map(|r| r.entry.event.source.clone()).collect();
    assert_eq!(sources.first(), Some(&Some("203.0.113.8".to_owned())), "{sources:?}");
    f.done().await;
}

async fn an_idle_session_ends_and_logout_ends_a_session(backend: Backend) {
    let clock = TestClock::new();
    let (f, router) = setup(backend, &clock).await;
    let secret = login(&router, IP, "zhang", "zhang-password-1").await.session();
    let me = |c: String| {
        let router = router.clone();
        async move { call(&router, "GET", "/api/me", IP, &[("cookie", &c)], None).await }
    };
    // Requests keep it alive; 30 minutes without one end it.
    for _ in 0..3 {
        clock.advance(Duration::minutes(29));
        assert_eq!(me(cookie(&secret)).await.status, StatusCode::OK);
    }
    clock.advance(Duration::minutes(30));
    let ended = me(cookie(&secret)).await;
    assert_eq!(ended.status, StatusCode::UNAUTHORIZED);
    assert!(ended.body["message"].as_str().unwrap().contains("session has ended"), "{}", ended.body);
    assert!(ended.cookies.iter().any(|c| c.contains("Max-Age=0")), "the stale cookie is removed");
    // The web map's files still load, as anonymous, so the login page can show.
    let page = call(&router, "GET", "/index.html", IP, &[("cookie", &cookie(&secret))], None).await;
    assert_ne!(page.status, StatusCode::UNAUTHORIZED);

    // 12 hours after login a session ends however busy.
    let busy = login(&router, IP, "zhang", "zhang-password-1").await.session();
    for _ in 0..(12 * 60 / 20 - 1) {
        clock.advance(Duration::minutes(20));
        assert_eq!(me(cookie(&busy)).await.status, StatusCode::OK);
    }
    clock.advance(Duration::minutes(20));
    assert_eq!(me(cookie(&busy)).await.status, StatusCode::UNAUTHORIZED);

    let a = login(&router, IP, "zhang", "zhang-password-1").await;
    let (secret, csrf) = (a.session(), a.body["csrf"].as_str().unwrap().to_owned());
    let c = cookie(&secret);
    let no_csrf = call(&router, "POST", "/api/logout", IP, &[("cookie", &c)], None).await;
    assert_eq!(no_csrf.status, StatusCode::FORBIDDEN);
    let out = call(&router, "POST", "/api/logout", IP, &[("cookie", &c), ("x-csrf-token", &csrf)], None).await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    assert!(out.cookies.iter().any(|c| c.contains("Max-Age=0")));
    assert_eq!(me(c).await.status, StatusCode::UNAUTHORIZED, "the session ended in the store, not only in the browser");
    assert_eq!(audit_actions(&f).await.last().map(String::as_str), Some("logout"));
    assert_eq!(f.store.verify_audit().await.unwrap().map(|n| n > 0), Ok(true));
    f.done().await;
}

async fn a_cookie_write_needs_the_csrf_token(backend: Backend) {
    let clock = TestClock::new();
    let (f, router) = setup(backend, &clock).await;
    let a = login(&router, IP, "li", "li-password-1").await;
    let (c, csrf) = (cookie(&a.session()), a.body["csrf"].as_str().unwrap().to_owned());
    let body = Some(r#"{"name":"qgis"}"#);
    let none = call(&router, "POST", "/api/tokens", IP, &[("cookie", &c)], body).await;
    assert_eq!((none.status, none.body["code"].as_str()), (StatusCode::FORBIDDEN, Some("forbidden")));
    assert!(none.body["message"].as_str().unwrap().contains("X-CSRF-Token"), "{}", none.body);
    let wrong =
        call(&router, "POST", "/api/tokens", IP, &[("cookie", &c), ("x-csrf-token", &"0".repeat(64))], body).await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    // Also on a route of the register, whatever the route would answer.
    let visit = call(&router, "POST", "/api/visits", IP, &[("cookie", &c)], Some("{}")).await;
    assert_eq!(visit.status, StatusCode::FORBIDDEN);
    let right = call(&router, "POST", "/api/tokens", IP, &[("cookie", &c), ("x-csrf-token", &csrf)], body).await;
    assert_eq!(right.status, StatusCode::CREATED, "{}", right.body);
    // Reads need none.
    assert_eq!(call(&router, "GET", "/api/tokens", IP, &[("cookie", &c)], None).await.status, StatusCode::OK);
    f.done().await;
}

async fn a_revoked_token_is_401(backend: Backend) {
    let clock = TestClock::new();
    let (f, router) = setup(backend, &clock).await;
    let a = login(&router, IP, "li", "li-password-1").await;
    let (c, csrf) = (cookie(&a.session()), a.body["csrf"].as_str().unwrap().to_owned());
    let with_session = [("cookie", c.as_str()), ("x-csrf-token", csrf.as_str())];
    let made = call(&router, "POST", "/api/tokens", IP, &with_session, Some(r#"{"name":"qgis"}"#)).await;
    let token = made.body["token"].as_str().unwrap().to_owned();
    let id = made.body["id"].as_i64().unwrap();
    assert!(token.starts_with("rgt_"));
    let bearer = format!("Bearer {token}");

    let me = call(&router, "GET", "/api/me", IP, &[("authorization", &bearer)], None).await;
    assert_eq!((me.status, me.body["username"].as_str(), &me.body["csrf"]), (StatusCode::OK, Some("li"), &Value::Null));
    let listed = call(&router, "GET", "/api/tokens", IP, &[("authorization", &bearer)], None).await;
    assert_eq!(listed.body["tokens"][0]["name"], "qgis");
    assert!(!listed.body.to_string().contains(&token[4..]), "a list never shows a secret");

    // Another user cannot revoke it.
    let z = login(&router, IP, "zhang", "zhang-password-1").await;
    let zc = cookie(&z.session());
    let zcsrf = z.body["csrf"].as_str().unwrap().to_owned();
    let uri = format!("/api/tokens/{id}");
    let theirs = call(&router, "DELETE", &uri, IP, &[("cookie", &zc), ("x-csrf-token", &zcsrf)], None).await;
    assert_eq!(theirs.status, StatusCode::NOT_FOUND);
    assert_eq!(call(&router, "GET", "/api/me", IP, &[("authorization", &bearer)], None).await.status, StatusCode::OK);

    assert_eq!(call(&router, "DELETE", &uri, IP, &with_session, None).await.status, StatusCode::NO_CONTENT);
    let revoked = call(&router, "GET", "/api/me", IP, &[("authorization", &bearer)], None).await;
    assert_eq!((revoked.status, revoked.body["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("unauthorized")));
    let revoked = call(&router, "GET", "/api/grids", IP, &[("authorization", &bearer)], None).await;
    assert_eq!(revoked.status, StatusCode::UNAUTHORIZED, "on every route");
    let forged = call(&router, "GET", "/api/me", IP, &[("authorization", "Bearer rgt_0000")], None).await;
    assert_eq!(forged.status, StatusCode::UNAUTHORIZED);
    let actions = audit_actions(&f).await;
    assert!(actions.contains(&"token_create".to_string()) && actions.contains(&"token_revoke".to_string()));
    f.done().await;
}
