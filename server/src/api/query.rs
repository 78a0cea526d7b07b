//! A query-string extractor into a typed parameter struct whose rejections are our
//! [`AppError`]s: a parameter the struct does not declare is a 400 naming it and the ones the
//! endpoint takes (read from the same [`IntoParams`] declaration the OpenAPI document shows), a
//! value that does not parse is a 400 with the parser's message.

use crate::error::{AppError, AppResult};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use utoipa::IntoParams;

/// `Query<T>` that refuses parameters `T` does not declare.
#[derive(Debug, Clone)]
pub(crate) struct ApiQuery<T>(pub T);

/// The names of the query parameters `T` declares.
pub(crate) fn parameter_names<T: IntoParams>() -> Vec<String> {
    T::into_params(|| Some(utoipa::openapi::path::ParameterIn::Query)).into_iter().map(|p| p.name).collect()
}

/// A 400 naming the first parameter of `query` not in `known`, with the ones the endpoint takes.
pub(crate) fn reject_unknown<'a>(keys: impl IntoIterator<Item = &'a str>, known: &[String]) -> AppResult<()> {
    match keys.into_iter().find(|k| !known.iter().any(|n| n == k)) {
        Some(k) => {
            Err(AppError::BadRequest(format!("unknown parameter {k:?}: this endpoint takes {}", known.join(", "))))
        }
        None => Ok(()),
    }
}

/// Parses `raw` (a query string without `?`) into `T`.
pub(crate) fn parse<T: DeserializeOwned + IntoParams>(raw: &str) -> AppResult<T> {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(raw).map_err(|e| AppError::BadRequest(format!("query string: {e}")))?;
    reject_unknown(pairs.iter().map(|(k, _)| k.as_str()), &parameter_names::<T>())?;
    serde_urlencoded::from_str(raw).map_err(|e| AppError::BadRequest(e.to_string()))
}

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned + IntoParams,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parse(parts.uri.query().unwrap_or_default()).map(ApiQuery)
    }
}
