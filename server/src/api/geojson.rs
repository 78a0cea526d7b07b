//! GeoJSON answers: [`GeoJson`] sends a body of the typed GeoJSON of [`crate::geojson`] as
//! `application/geo+json`.

use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

pub use crate::geojson::*;

/// A body answered as `application/geo+json`.
#[derive(Debug, Clone)]
pub struct GeoJson<T>(pub T);

impl<T: Serialize> IntoResponse for GeoJson<T> {
    fn into_response(self) -> Response {
        match serde_json::to_vec(&self.0) {
            Ok(bytes) => ([(header::CONTENT_TYPE, GEOJSON)], bytes).into_response(),
            Err(e) => crate::error::AppError::Internal(e.to_string()).into_response(),
        }
    }
}
