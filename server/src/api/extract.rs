//! Extractors whose rejections are our [`AppError`]s: a JSON body (400 for syntax, 422 for
//! data), path parameters and a query that ignores parameters it does not declare (400 with the
//! parser's message), and the request's [`Scope`] (401 without a signed-in user); and a JSON
//! answer ([`ApiJson`] as a response).

use crate::access::{Principal, Role};
use crate::error::AppError;
use crate::scope::Scope;
use crate::state::AppState;
use axum::Json;
use axum::extract::FromRequestParts;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::extract::{Path, Query};
use axum::http::header;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// `Json<T>` with our error body.
#[derive(Debug, Clone)]
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(ApiJson(v)),
            Err(JsonRejection::JsonDataError(e)) => Err(AppError::Unprocessable(e.body_text())),
            Err(JsonRejection::JsonSyntaxError(e)) => Err(AppError::BadRequest(e.body_text())),
            Err(JsonRejection::MissingJsonContentType(_)) => {
                Err(AppError::UnsupportedMediaType("send the body as JSON with Content-Type: application/json".into()))
            }
            Err(other) if other.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE => {
                Err(AppError::PayloadTooLarge(format!("{}: the body is too large", other.body_text())))
            }
            Err(other) => Err(AppError::BadRequest(other.body_text())),
        }
    }
}

/// Answered, `T` is written as JSON into one growing `Vec` (`serde_json::to_vec`), not token by
/// token through a `BytesMut` writer as axum's `Json` does (its `put_slice` was the largest item
/// of a profile of the 14.5 MB assessment).
impl<T: Serialize> IntoResponse for ApiJson<T> {
    fn into_response(self) -> Response {
        match serde_json::to_vec(&self.0) {
            Ok(bytes) => ([(header::CONTENT_TYPE, "application/json")], bytes).into_response(),
            Err(e) => AppError::Internal(format!("writing a JSON answer: {e}")).into_response(),
        }
    }
}

/// `Path<T>` with our error body: a segment that does not parse (a number out of range, bytes
/// that are not UTF-8) is a 400 saying so.
#[derive(Debug, Clone)]
pub struct ApiPath<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(v)) => Ok(ApiPath(v)),
            Err(e) => Err(AppError::BadRequest(format!("the path: {}", e.body_text()))),
        }
    }
}

/// `Query<T>` with our error body, ignoring parameters `T` does not declare (for clients that
/// add their own, as tile clients do); see [`super::query::ApiQuery`] for the strict one.
#[derive(Debug, Clone)]
pub struct LenientQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for LenientQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(v)) => Ok(LenientQuery(v)),
            Err(e) => Err(AppError::BadRequest(format!("the query: {}", e.body_text()))),
        }
    }
}

/// The refusal of a request without a signed-in user.
pub fn unauthenticated() -> AppError {
    AppError::Unauthorized("sign in first: POST /api/login, or send an API token as Authorization: Bearer".into())
}

impl FromRequestParts<AppState> for Scope {
    type Rejection = AppError;

    /// The scope of the request's principal, derived at its first use and kept in the request.
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        if let Some(scope) = parts.extensions.get::<Scope>() {
            return Ok(scope.clone());
        }
        let principal = parts.extensions.get::<Principal>().ok_or_else(unauthenticated)?;
        // A caseworker's contracts as committed: the roster kept in memory, which every write's
        // change (a contract's included) updates before it is acknowledged, so no request reads
        // the whole roster from the store.
        let roster = if principal.role == Role::Caseworker { Some(state.roster().await?) } else { None };
        let caseworkers = roster.as_deref().map_or(&[][..], Vec::as_slice);
        let scope = Scope::derive(principal, &state.atlas(), caseworkers);
        parts.extensions.insert(scope.clone());
        Ok(scope)
    }
}
