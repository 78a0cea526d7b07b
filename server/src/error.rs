//! The API's one error type and its one `IntoResponse`: a status, a stable machine code and a
//! human message, and the request's id, as JSON. Database text never reaches the client; it goes
//! to the log, under the same request id.

use crate::store::StoreError;
use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rentgrid_analysis::hotspot_run::RunError;
use rentgrid_geodata::AtlasError;
use rentgrid_geodata::demo;
use serde::Serialize;
use utoipa::ToSchema;

/// An error answered to an HTTP client.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request is malformed (bad query, bad JSON).
    #[error("{0}")]
    BadRequest(String),
    /// Something named in the path or body does not exist.
    #[error("{0}")]
    NotFound(String),
    /// Well-formed but not acceptable (refers to the wrong things, out of range).
    #[error("{0}")]
    Unprocessable(String),
    /// Conflicts with what is stored.
    #[error("{0}")]
    Conflict(String),
    /// Existed, and is withdrawn for good (a revoked door plate).
    #[error("{0}")]
    Gone(String),
    /// The caller is not logged in, or their credential is wrong, expired or revoked.
    #[error("{0}")]
    Unauthorized(String),
    /// The caller may not have this.
    #[error("{0}")]
    Forbidden(String),
    /// The method is not served (TRACE, CONNECT).
    #[error("{0}")]
    MethodNotAllowed(String),
    /// The body is larger than the endpoint takes.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// The body is of a type the endpoint does not take.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// Too many attempts (failed logins): try again later.
    #[error("{0}")]
    TooManyRequests(String),
    /// A part the answer needs is not there or too busy for now: try again.
    #[error("{0}")]
    Unavailable(String),
    /// The database does not answer for now (stopped, restarting, unreachable): 503 with
    /// `Retry-After`; the pool reconnects by itself once it is back.
    #[error("{0}")]
    StoreAway(String),
    /// The disk under the store is full: nothing of the write was kept (507).
    #[error("{0}")]
    InsufficientStorage(String),
    /// Our fault.
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::Unprocessable(_) => (StatusCode::UNPROCESSABLE_ENTITY, "unprocessable"),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            ApiError::Gone(_) => (StatusCode::GONE, "gone"),
            ApiError::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            ApiError::MethodNotAllowed(_) => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            ApiError::PayloadTooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            ApiError::UnsupportedMediaType(_) => (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"),
            ApiError::TooManyRequests(_) => (StatusCode::TOO_MANY_REQUESTS, "too_many_requests"),
            ApiError::Unavailable(_) | ApiError::StoreAway(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            ApiError::InsufficientStorage(_) => (StatusCode::INSUFFICIENT_STORAGE, "insufficient_storage"),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound { .. } => ApiError::NotFound(e.to_string()),
            StoreError::Rejected(m) => ApiError::Unprocessable(m),
            StoreError::ClientIdConflict(_) => ApiError::Conflict(e.to_string()),
            StoreError::Conflict(m) => ApiError::Conflict(m),
            StoreError::Unavailable(_) => {
                tracing::warn!(error = %e, "the database does not answer");
                ApiError::StoreAway("the database does not answer for now: try again shortly".into())
            }
            StoreError::DiskFull(_) => {
                tracing::error!(error = %e, "the disk under the store is full");
                ApiError::InsufficientStorage(
                    "the disk under the store is full: nothing of this request was written; once space is freed \
                     on the server, send it again"
                        .into(),
                )
            }
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<RunError> for ApiError {
    fn from(e: RunError) -> Self {
        match e {
            RunError::Unfit(m) => ApiError::Unprocessable(m),
            RunError::Internal(m) => ApiError::Internal(m),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let message = match &self {
            ApiError::Internal(detail) => {
                tracing::error!(%detail, "internal error");
                "internal error; see the server log".to_string()
            }
            other => other.to_string(),
        };
        let request_id = crate::observe::request_id::current();
        let mut res = (status, Json(Exception { code, message, request_id })).into_response();
        if let ApiError::StoreAway(_) = self {
            res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(STORE_RETRY_AFTER_S));
        }
        res
    }
}

/// The `Retry-After` of an answer given while the database is away, in seconds.
const STORE_RETRY_AFTER_S: u64 = 5;

/// The body of every error answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct Exception {
    /// A stable machine code: bad_request, unauthorized, not_found, unprocessable, conflict, gone, forbidden,
    /// method_not_allowed, payload_too_large, unsupported_media_type, too_many_requests, unavailable,
    /// insufficient_storage, internal.
    pub code: &'static str,
    /// What went wrong, for people.
    pub message: String,
    /// The request's id, as in its `x-request-id` header and the server's log: quote it when
    /// reporting the error. Null only for an error made outside a request.
    #[schema(required = true)]
    pub request_id: Option<String>,
}

/// Result of handlers.
pub type ApiResult<T> = Result<T, ApiError>;

/// Errors while starting.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The stored data does not make a consistent Atlas.
    #[error("the stored data is inconsistent: {0}")]
    Atlas(#[from] AtlasError),
    /// The demo generator refused its options.
    #[error(transparent)]
    Demo(#[from] demo::DemoError),
    /// A user could not be added.
    #[error(transparent)]
    User(#[from] crate::identity::UserError),
}
