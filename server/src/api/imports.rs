//! `POST /api/imports/{kind}`: the file is the request body — GeoJSON for `boundaries`, `grids`
//! and `buildings`; an XLSX or CSV ledger for `units`, `persons`, `caseworkers`, `workplaces` and
//! `visits` — checked row by row (feature by feature) against the current Atlas and the
//! register's keys, and written in one transaction (see [`crate::ingest`]).
//!
//! Query parameters: `encoding` (utf-8, gbk, gb18030; detected when absent), `crs` (wgs84,
//! cgcs2000, gcj-02, bd-09; default wgs84), `skip_invalid` (true to import the good rows when
//! some are bad). Answers 200 with the counts and any skipped rows, or 422 with every bad row
//! and nothing written.

use super::json_status;
use crate::error::{ApiError, ApiResult};
use crate::ingest::{self, IngestError, Kind, Options};
use crate::startup::StartupError;
use crate::state::AppState;
use crate::store::StoreError;
use axum::body::Bytes;
use axum::extract::Path;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use rentgrid_geodata::crs::Crs;
use rentgrid_geodata::import::table::Encoding;
use serde_json::json;
use std::collections::HashMap;

/// The largest ledger accepted in one request (about a million rows).
pub const MAX_BYTES: usize = 256 * 1024 * 1024;

/// Parses the `crs` and `skip_invalid` query parameters.
fn options(q: &HashMap<String, String>) -> Result<(Crs, bool), ApiError> {
    let crs = q.get("crs").map_or(Ok(Crs::Wgs84), |c| c.parse::<Crs>()).map_err(ApiError::BadRequest)?;
    let skip_invalid = match q.get("skip_invalid").map(String::as_str) {
        None | Some("false") | Some("0") => false,
        Some("true") | Some("1") => true,
        Some(other) => return Err(ApiError::BadRequest(format!("skip_invalid={other:?}: use true or false"))),
    };
    Ok((crs, skip_invalid))
}

/// The 422 answer of a refused import: every problem, nothing written.
fn refused(errors: &[rentgrid_geodata::import::RowError], bad: usize, total: usize, what: &str) -> Response {
    json_status(
        StatusCode::UNPROCESSABLE_ENTITY,
        json!({
            "code": "invalid_rows",
            "message": format!("nothing was imported: {bad} of {total} {what} have problems"),
            "errors": errors,
        }),
    )
}

/// Imports a file of `kind` (the request body).
pub async fn import(
    State(state): State<AppState>,
    Path(kind): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    body: Bytes,
) -> ApiResult<Response> {
    let kind: Kind = kind.parse().map_err(ApiError::NotFound)?;
    let encoding = q.get("encoding").map(|e| e.parse::<Encoding>()).transpose().map_err(ApiError::BadRequest)?;
    let (crs, skip_invalid) = options(&q)?;
    let opts = Options { encoding, crs, today: rentgrid_geodata::clock::today() };
    let atlas = state.atlas();
    let checked =
        ingest::check(kind, &body, &opts, state.store().as_ref(), Some(&atlas)).await.map_err(|e| match e {
            IngestError::Store(e) => ApiError::Internal(e.to_string()),
            e => ApiError::Unprocessable(e.to_string()),
        })?;
    let what = if kind.is_geojson() { "features" } else { "rows" };
    if checked.bad > 0 && !skip_invalid {
        return Ok(refused(&checked.errors, checked.bad, checked.total, what));
    }
    let counts = state.import(&checked.batch).await.map_err(|e| match e {
        StartupError::Store(StoreError::Rejected(m)) => ApiError::Unprocessable(m),
        e => ApiError::Internal(e.to_string()),
    })?;
    Ok(json_status(
        StatusCode::OK,
        json!({
            "kind": kind.as_str(),
            "imported": checked.batch.len(),
            "inserted": counts.inserted,
            "updated": counts.updated,
            "landlords_added": counts.landlords_added,
            (if kind.is_geojson() { "skipped_features" } else { "skipped_rows" }): checked.bad,
            "errors": checked.errors,
            "ignored_columns": checked.ignored_columns,
            "encoding": checked.encoding.map(|e| e.to_string()),
        }),
    ))
}
