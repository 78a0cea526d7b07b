//! The one place where the access policy ([`crate::access::policy`]) is applied: a middleware
//! on every route and on the fallback, run before any handler. It reads the route the router
//! matched ([`MatchedPath`]) and the [`Principal`] the authentication layer put into the
//! request (none: anonymous), and answers 401 or 403 itself, in the API's error shape, when the
//! table refuses. Handlers then narrow what the caller sees with its [`crate::scope::Scope`].

use crate::access::Principal;
use crate::access::policy::{self, Decision, Rule, Target};
use crate::error::AppError;
use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// The rule a request was decided by, kept in its response's extensions (never sent) so that
/// tests can check that every route the router serves is in the table. `None`: no route
/// matched (the web map's files, the landing page, 404).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppliedRule(pub Option<&'static Rule>);

/// Middleware: lets the request through when the policy admits its caller, else answers 401
/// (with `WWW-Authenticate`), 403, or 405 (with `Allow`) for a method the route does not take.
pub async fn authorize(req: Request, next: Next) -> Response {
    let role = req.extensions().get::<Principal>().map(|p| p.role);
    let method = req.method().as_str().to_owned();
    let matched = req.extensions().get::<MatchedPath>().map(|m| m.as_str().to_owned());
    let target = match &matched {
        Some(path) => Target::Route { method: &method, path },
        None if super::ogc::asks_for_landing(&req) => Target::Landing,
        None => Target::Unrouted { path: req.uri().path() },
    };
    let applied = AppliedRule(matched.as_deref().and_then(|path| policy::rule_for(&method, path)));
    let mut res = match policy::decide(target, role) {
        Decision::Allow => next.run(req).await,
        Decision::Unauthenticated => {
            let mut res = super::extract::unauthenticated().into_response();
            res.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"rentgrid\""));
            res
        }
        Decision::Forbidden(why) => AppError::Forbidden(why).into_response(),
        Decision::MethodNotAllowed(allowed) => {
            let path = matched.as_deref().unwrap_or_default();
            let why = format!("{path} does not take {method}: it takes {}", allowed.join(", "));
            let mut res = AppError::MethodNotAllowed(why).into_response();
            if let Ok(allow) = HeaderValue::from_str(&allowed.join(", ")) {
                res.headers_mut().insert(header::ALLOW, allow);
            }
            res
        }
    };
    res.extensions_mut().insert(applied);
    res
}
