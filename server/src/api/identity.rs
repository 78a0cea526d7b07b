//! Login, logout, who am I, and API tokens; and [`authenticate`], the middleware that turns a
//! request's session cookie or bearer token into a [`Principal`] in its extensions (a request
//! without one is anonymous: the policy decides what that may do), checks the CSRF token of a
//! cookie-authenticated write, and notes where the request came from ([`RequestSource`]).

use super::ApiJson;
use super::extract::ApiPath;
use crate::access::session;
use crate::access::{Credential, Principal, Role};
use crate::api::error::Exception;
use crate::error::{AppError, AppResult};
use crate::identity::{Actor, LoginError, TOKEN_PREFIX};
use crate::state::AppState;
use axum::Json;
use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use std::net::{IpAddr, SocketAddr};
use utoipa::ToSchema;

/// The name of the session cookie.
pub const SESSION_COOKIE: &str = "rentgrid_session";
/// The header a cookie-authenticated write carries its session's CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// Where a request came from: the client's address (the peer address when the server was started
/// with connection info, or the address a trusted proxy forwarded) and whether it came over HTTPS
/// (`X-Forwarded-Proto: https` from the proxy in front).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RequestSource {
    /// The peer address.
    pub ip: Option<IpAddr>,
    /// True over HTTPS.
    pub https: bool,
}

impl RequestSource {
    fn of(req: &Request, trusted_proxies: &[IpAddr]) -> Self {
        let peer = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
        let forwarded = req.headers().get_all("x-forwarded-for").iter().filter_map(|v| v.to_str().ok());
        let ip = crate::access::forwarded::client_address(peer, forwarded, trusted_proxies);
        let https = req.uri().scheme_str() == Some("https")
            || req
                .headers()
                .get("x-forwarded-proto")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"));
        Self { ip, https }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for RequestSource {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(parts.extensions.get::<RequestSource>().copied().unwrap_or_default())
    }
}

/// The logged-in user of a request, or 401.
#[derive(Debug, Clone)]
pub struct Authenticated(pub Principal);

impl<S: Send + Sync> FromRequestParts<S> for Authenticated {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Principal>()
            .cloned()
            .map(Authenticated)
            .ok_or_else(|| AppError::Unauthorized("log in first (POST /api/login), or send an API token".into()))
    }
}

/// The value of cookie `name` in the request's `Cookie` headers.
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
}

/// The `Set-Cookie` that gives the browser the session `secret` (or, with `None`, removes it).
fn session_cookie(secret: Option<&str>, https: bool) -> HeaderValue {
    let secure = if https { "; Secure" } else { "" };
    let v = match secret {
        Some(s) => format!("{SESSION_COOKIE}={s}; HttpOnly; SameSite=Strict; Path=/{secure}"),
        None => format!("{SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0{secure}"),
    };
    HeaderValue::from_str(&v).unwrap_or_else(|_| HeaderValue::from_static("rentgrid_session=; Max-Age=0"))
}

/// True for paths whose answer depends on who asks (the API, tiles, OGC API): a session that
/// ended is answered 401 there. Elsewhere (the login itself, the web map's files) the request
/// goes on as anonymous and the stale cookie is removed, so the login page can show.
fn needs_live_credential(path: &str) -> bool {
    let guarded = ["/api", "/tiles", "/collections", "/conformance"];
    let open = ["/api/login", "/api/logout"];
    guarded.iter().any(|p| path == *p || path.starts_with(&format!("{p}/"))) && !open.contains(&path)
}

/// Constant-time equality of two tokens (a CSRF check must not tell how much matched).
fn same_token(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The authentication middleware (`axum::middleware::from_fn_with_state`), layered outside the
/// routes and the policy: `Authorization: Bearer <token>` (an unknown or revoked token is 401),
/// else the session cookie (an ended or expired session is 401 on [guarded
/// paths](needs_live_credential), anonymous elsewhere), else anonymous. A cookie-authenticated
/// request other than GET, HEAD or OPTIONS must carry `X-CSRF-Token` (403 otherwise). Puts the
/// [`Principal`] (if any) and the [`RequestSource`] into the request's extensions.
pub async fn authenticate(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let source = RequestSource::of(&req, state.identity().trusted_proxies());
    req.extensions_mut().insert(source);
    let path = req.uri().path().to_owned();
    if path == "/api/login" {
        return next.run(req).await;
    }
    let identity = state.identity();
    let store = state.store().as_ref();
    if let Some(auth) = req.headers().get(header::AUTHORIZATION) {
        let secret = auth.to_str().ok().and_then(|v| v.strip_prefix("Bearer ")).map(|s| s.trim().to_owned());
        let Some(secret) = secret.filter(|s| s.starts_with(TOKEN_PREFIX)) else {
            return AppError::Unauthorized("send the API token as Authorization: Bearer rgt_…".into()).into_response();
        };
        return match identity.token(store, &secret).await {
            Ok(Some(p)) => {
                req.extensions_mut().insert(p);
                next.run(req).await
            }
            Ok(None) => AppError::Unauthorized("the API token is unknown or revoked".into()).into_response(),
            Err(e) => AppError::from(e).into_response(),
        };
    }
    let Some(secret) = cookie(req.headers(), SESSION_COOKIE).map(str::to_owned) else {
        return next.run(req).await;
    };
    let principal = match identity.session(store, &secret).await {
        Ok(p) => p,
        Err(e) => return AppError::from(e).into_response(),
    };
    let Some(principal) = principal else {
        let mut res = if needs_live_credential(&path) {
            AppError::Unauthorized("your session has ended: log in again".into()).into_response()
        } else {
            next.run(req).await
        };
        res.headers_mut().append(header::SET_COOKIE, session_cookie(None, source.https));
        return res;
    };
    if !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS)
        && let Credential::Session { csrf, .. } = &principal.credential
    {
        let sent = req.headers().get(CSRF_HEADER).and_then(|v| v.to_str().ok()).unwrap_or("");
        if !same_token(sent, csrf) {
            return AppError::Forbidden(
                "a write with a session cookie must send the session's CSRF token (from login or GET /api/me) in \
                 X-CSRF-Token"
                    .into(),
            )
            .into_response();
        }
    }
    req.extensions_mut().insert(principal);
    next.run(req).await
}

/// The body of `POST /api/login`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// Login name.
    username: String,
    /// Password.
    password: String,
}

/// What a user may see, as the server derived it from their account.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UserScope {
    /// The role.
    pub role: Role,
    /// The street (code) a supervisor answers for.
    #[schema(required = true)]
    pub street: Option<String>,
    /// Grid codes given to the user explicitly (a caseworker also sees their contracted grids).
    pub grids: Vec<String>,
    /// The caseworker a caseworker user is.
    #[schema(required = true)]
    pub caseworker: Option<u32>,
}

/// Who is logged in: the answer of login and of `GET /api/me`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Me {
    /// Login name.
    pub username: String,
    /// Role.
    pub role: Role,
    /// What they may see.
    pub scope: UserScope,
    /// With a session: the token every write must send in `X-CSRF-Token` (none with an API token).
    #[schema(required = true)]
    pub csrf: Option<String>,
}

impl Me {
    /// The answer for `p`.
    pub fn of(p: &Principal) -> Self {
        Me {
            username: p.username.clone(),
            role: p.role,
            scope: UserScope {
                role: p.role,
                street: p.street.clone(),
                grids: p.grids.clone(),
                caseworker: p.caseworker,
            },
            csrf: match &p.credential {
                Credential::Session { csrf, .. } => Some(csrf.clone()),
                Credential::Token { .. } => None,
            },
        }
    }
}

/// Logs in with a password: 200 with the session cookie (`HttpOnly; SameSite=Strict`, `Secure`
/// over HTTPS), the user, their scope and the CSRF token; 401 for a wrong name or password; 429
/// while the account or the address is locked (5 failures lock for 15 minutes).
#[utoipa::path(post, path = "/api/login", tag = "Access", operation_id = "login",
    summary = "log in: a session cookie, the user, their scope and the CSRF token",
    request_body = LoginRequest,
    responses((status = 200, description = "logged in; the session cookie is set", body = Me),
        (status = 400, description = "a body that is not the JSON asked for", body = Exception),
        (status = 401, description = "wrong username or password, or a disabled account", body = Exception),
        (status = 429, description = "too many failed logins: the account or the address is locked", body = Exception)))]
pub async fn login(
    State(state): State<AppState>,
    source: RequestSource,
    ApiJson(body): ApiJson<LoginRequest>,
) -> AppResult<Response> {
    let done = state.identity().login(state.store().as_ref(), &body.username, &body.password, source.ip).await;
    match done {
        Ok(l) => {
            let cookie = session_cookie(Some(&l.secret), source.https);
            Ok((
                [(header::SET_COOKIE, cookie), (header::CACHE_CONTROL, HeaderValue::from_static("no-store"))],
                Json(Me::of(&l.principal)),
            )
                .into_response())
        }
        Err(e @ (LoginError::Invalid { .. } | LoginError::Disabled)) => Err(AppError::Unauthorized(e.to_string())),
        Err(e @ (LoginError::AccountLocked { .. } | LoginError::SourceLocked { .. })) => {
            Err(AppError::TooManyRequests(e.to_string()))
        }
        Err(LoginError::Store(e)) => Err(e.into()),
    }
}

/// Ends the caller's session and removes the cookie (204; also without a session).
#[utoipa::path(post, path = "/api/logout", tag = "Access", operation_id = "logout",
    summary = "log out: the session ends and the cookie is removed",
    responses((status = 204, description = "logged out"),
        (status = 403, description = "a session cookie without its X-CSRF-Token", body = Exception)))]
pub async fn logout(
    State(state): State<AppState>,
    source: RequestSource,
    who: Option<axum::Extension<Principal>>,
) -> AppResult<Response> {
    if let Some(axum::Extension(p)) = who {
        state.identity().logout(state.store().as_ref(), &p, source.ip).await?;
    }
    Ok((StatusCode::NO_CONTENT, [(header::SET_COOKIE, session_cookie(None, source.https))]).into_response())
}

/// Who is logged in (by session cookie or API token), their scope and (with a session) the
/// CSRF token.
#[utoipa::path(get, path = "/api/me", tag = "Access", operation_id = "me",
    summary = "the logged-in user, their scope and the CSRF token",
    responses((status = 200, description = "the user", body = Me),
        (status = 401, description = "not logged in, or the session ended", body = Exception)))]
pub async fn me(Authenticated(p): Authenticated) -> Response {
    ([(header::CACHE_CONTROL, "no-store")], Json(Me::of(&p))).into_response()
}

/// The body of `POST /api/tokens`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTokenRequest {
    /// What the token is for (`qgis`, `nightly export`): 1 to 64 characters.
    name: String,
}

/// A new API token: its secret is shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct NewToken {
    /// The token's id (to revoke it).
    id: i64,
    /// Its name.
    name: String,
    /// The secret, for `Authorization: Bearer …`. It is stored only hashed: keep it now.
    token: String,
}

/// An API token of the caller, without its secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenInfo {
    /// Id.
    id: i64,
    /// Name.
    name: String,
    /// When created (RFC 3339).
    created_at: String,
    /// When revoked (RFC 3339), if it was.
    #[schema(required = true)]
    revoked_at: Option<String>,
}

/// The caller's API tokens.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenList {
    /// Oldest first.
    tokens: Vec<TokenInfo>,
}

fn actor(p: &Principal, source: RequestSource) -> Actor {
    Actor::User(p.clone(), source.ip)
}

/// Creates an API token for the caller, with their rights; the secret is in this answer only.
#[utoipa::path(post, path = "/api/tokens", tag = "Access", operation_id = "create_token",
    summary = "create an API token for the caller (the secret is shown once)",
    request_body = NewTokenRequest,
    responses((status = 201, description = "the token", body = NewToken),
        (status = 401, description = "not logged in", body = Exception),
        (status = 403, description = "a session cookie without its X-CSRF-Token", body = Exception),
        (status = 422, description = "a bad name", body = Exception)))]
pub async fn create_token(
    State(state): State<AppState>,
    source: RequestSource,
    Authenticated(p): Authenticated,
    ApiJson(body): ApiJson<NewTokenRequest>,
) -> AppResult<Response> {
    let name = body.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > 64 {
        return Err(AppError::Unprocessable("name the token in 1 to 64 characters".into()));
    }
    let secret = session::new_secret(TOKEN_PREFIX);
    let now = state.identity().now();
    let event = actor(&p, source).event(now, "token_create", format!("/api/tokens name {name:?}"));
    let id = state.store().create_token(p.user_id, &name, &session::secret_hash(&secret), now, &event).await?;
    let body = NewToken { id, name, token: secret };
    Ok((StatusCode::CREATED, [(header::CACHE_CONTROL, "no-store")], Json(body)).into_response())
}

/// The caller's API tokens, without their secrets.
#[utoipa::path(get, path = "/api/tokens", tag = "Access", operation_id = "list_tokens",
    summary = "the caller's API tokens (without secrets)",
    responses((status = 200, description = "the tokens", body = TokenList),
        (status = 401, description = "not logged in", body = Exception)))]
pub async fn list_tokens(State(state): State<AppState>, Authenticated(p): Authenticated) -> AppResult<Json<TokenList>> {
    let fmt = crate::store::dates::fmt_instant;
    let tokens = state
        .store()
        .tokens(p.user_id)
        .await?
        .into_iter()
        .map(|t| TokenInfo { id: t.id, name: t.name, created_at: fmt(t.created_at), revoked_at: t.revoked_at.map(fmt) })
        .collect();
    Ok(Json(TokenList { tokens }))
}

/// Revokes one of the caller's API tokens: 204; 404 when the caller has no such live token.
#[utoipa::path(delete, path = "/api/tokens/{id}", tag = "Access", operation_id = "revoke_token",
    summary = "revoke one of the caller's API tokens",
    params(("id" = i64, Path, description = "the token's id")),
    responses((status = 204, description = "revoked"),
        (status = 401, description = "not logged in", body = Exception),
        (status = 403, description = "a session cookie without its X-CSRF-Token", body = Exception),
        (status = 404, description = "the caller has no such live token", body = Exception)))]
pub async fn revoke_token(
    State(state): State<AppState>,
    source: RequestSource,
    Authenticated(p): Authenticated,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<StatusCode> {
    let now = state.identity().now();
    let event = actor(&p, source).event(now, "token_revoke", format!("/api/tokens/{id}"));
    state.store().revoke_token(p.user_id, id, now, &event).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_and_paths() {
        let mut h = HeaderMap::new();
        h.append(header::COOKIE, HeaderValue::from_static("a=1; rentgrid_session=rgs_x"));
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("rgs_x"));
        assert_eq!(cookie(&h, "b"), None);
        let set = session_cookie(Some("rgs_x"), true);
        assert_eq!(set.to_str().ok(), Some("rentgrid_session=rgs_x; HttpOnly; SameSite=Strict; Path=/; Secure"));
        assert!(needs_live_credential("/api/grids") && needs_live_credential("/tiles/grids/1/2/3.mvt"));
        assert!(!needs_live_credential("/api/login") && !needs_live_credential("/index.html"));
        assert!(!needs_live_credential("/apix") && needs_live_credential("/collections"));
        assert!(same_token("abc", "abc") && !same_token("abc", "abd") && !same_token("abc", "ab"));
    }
}
