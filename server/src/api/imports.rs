//! `POST /api/imports/units` (a rental-unit ledger, XLSX or CSV) and `POST /api/imports/buildings`
//! (footprints, GeoJSON): the file is the request body, checked row by row (feature by feature)
//! against the current Atlas and written in one transaction.
//!
//! Query parameters: `encoding` (utf-8, gbk, gb18030; detected when absent), `crs` (wgs84,
//! cgcs2000, gcj-02, bd-09; default wgs84), `skip_invalid` (true to import the good rows when
//! some are bad). Answers 200 with the counts and any skipped rows, or 422 with every bad row
//! and nothing written.

use super::json_status;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use rentgrid_geodata::crs::Crs;
use rentgrid_geodata::import::table::{self, Encoding};
use rentgrid_geodata::import::units;
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

/// Sorts problems by row and counts the rows (or features) that have any.
fn sort_and_count(errors: &mut [rentgrid_geodata::import::RowError]) -> usize {
    errors.sort_by_key(|e| e.row);
    errors.iter().map(|e| e.row).collect::<std::collections::BTreeSet<_>>().len()
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

/// Imports building footprints (GeoJSON FeatureCollection).
pub async fn buildings(
    State(state): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
    body: Bytes,
) -> ApiResult<Response> {
    let (crs, skip_invalid) = options(&q)?;
    let atlas = state.atlas();
    let (good, mut errors) = rentgrid_geodata::import::buildings::parse(&body, crs, &atlas)
        .map_err(|e| ApiError::Unprocessable(e.to_string()))?;
    let bad = sort_and_count(&mut errors);
    if bad > 0 && !skip_invalid {
        return Ok(refused(&errors, bad, good.len() + bad, "features"));
    }
    let counts = state.import_buildings(&good).await.map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(json_status(
        StatusCode::OK,
        json!({
            "imported": good.len(),
            "inserted": counts.inserted,
            "updated": counts.updated,
            "skipped_features": bad,
            "errors": errors,
        }),
    ))
}

/// Imports a rental-unit ledger.
pub async fn units(
    State(state): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
    body: Bytes,
) -> ApiResult<Response> {
    let encoding = q.get("encoding").map(|e| e.parse::<Encoding>()).transpose().map_err(ApiError::BadRequest)?;
    let (crs, skip_invalid) = options(&q)?;
    let table = table::read_ledger(&body, encoding).map_err(|e| ApiError::Unprocessable(e.to_string()))?;
    let today = time::OffsetDateTime::now_utc().date();
    let parsed = units::parse(&table, crs, today).map_err(|e| ApiError::Unprocessable(e.to_string()))?;
    let atlas = state.atlas();
    let (good, resolve_errors) = units::resolve(parsed.records, &atlas, &table.headers);
    let mut errors = parsed.errors;
    errors.extend(resolve_errors);
    let bad_rows = sort_and_count(&mut errors);
    if bad_rows > 0 && !skip_invalid {
        return Ok(refused(&errors, bad_rows, table.rows.len(), "rows"));
    }
    let counts = state.import_units(&good).await.map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(json_status(
        StatusCode::OK,
        json!({
            "imported": good.len(),
            "inserted": counts.inserted,
            "updated": counts.updated,
            "landlords_added": counts.landlords_added,
            "skipped_rows": bad_rows,
            "errors": errors,
            "ignored_columns": parsed.ignored_columns,
            "encoding": table.encoding.to_string(),
        }),
    ))
}
