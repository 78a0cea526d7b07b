//! How the application's error is answered over HTTP: a status, a stable machine code and a
//! human message, and the request's id, as JSON. Database text never reaches the client; it goes
//! to the log, under the same request id.

use crate::error::AppError;
use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

/// The status and machine code `e` is answered with.
fn status_and_code(e: &AppError) -> (StatusCode, &'static str) {
    match e {
        AppError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
        AppError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
        AppError::Unprocessable(_) => (StatusCode::UNPROCESSABLE_ENTITY, "unprocessable"),
        AppError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
        AppError::Gone(_) => (StatusCode::GONE, "gone"),
        AppError::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized"),
        AppError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
        AppError::MethodNotAllowed(_) => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
        AppError::PayloadTooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
        AppError::UnsupportedMediaType(_) => (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"),
        AppError::TooManyRequests(_) => (StatusCode::TOO_MANY_REQUESTS, "too_many_requests"),
        AppError::Unavailable(_) | AppError::StoreAway(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
        AppError::InsufficientStorage(_) => (StatusCode::INSUFFICIENT_STORAGE, "insufficient_storage"),
        AppError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, code) = status_and_code(&self);
        let message = match &self {
            AppError::Internal(detail) => {
                tracing::error!(%detail, "internal error");
                "internal error; see the server log".to_string()
            }
            other => other.to_string(),
        };
        let request_id = crate::observe::request_id::current();
        let mut res = (status, Json(Exception { code, message, request_id })).into_response();
        if let AppError::StoreAway(_) = self {
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
