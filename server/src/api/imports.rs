//! `POST /api/imports/{kind}`: the file is the request body — GeoJSON for `boundaries`, `grids`
//! and `buildings`; an XLSX or CSV ledger for `units`, `persons`, `caseworkers`, `workplaces` and
//! `visits` — checked row by row (feature by feature) against the current Atlas and the
//! register's keys, and written in one transaction (see [`crate::ingest`]).
//!
//! Query parameters: `encoding` (utf-8, gbk, gb18030; detected when absent), `crs` (wgs84,
//! cgcs2000, gcj-02, bd-09; default wgs84), `skip_invalid` (true to import the good rows when
//! some are bad). Answers 200 with the counts and any skipped rows, or 422 with every bad row
//! and nothing written; 507 when the disk under the store fills up while it writes (the
//! transaction is rolled back: nothing written). A written import is one audit row (`import`)
//! in its transaction.

use super::extract::{ApiPath, LenientQuery};
use super::identity::{Authenticated, RequestSource};
use crate::access::audit::action;
use crate::api::error::Exception;
use crate::error::{AppError, AppResult};
use crate::identity::Actor;
use crate::ingest::{self, IngestError, Kind, Options};
use crate::limits::MAX_IMPORT_BYTES;
use crate::startup::StartupError;
use crate::state::AppState;
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rentgrid_geodata::crs::Crs;
use rentgrid_geodata::import::RowError;
use rentgrid_geodata::import::table::Encoding;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// The query of an import (other parameters are ignored).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportQuery {
    /// The coordinate system of the file: wgs84 (default), cgcs2000, gcj-02 or bd-09 (any case).
    crs: Option<String>,
    /// A ledger's text encoding: utf-8, gbk or gb18030 (detected when absent).
    encoding: Option<String>,
    /// true to import the good rows when some are bad (default false).
    #[param(value_type = Option<bool>)]
    skip_invalid: Option<String>,
}

/// Parses the `crs` and `skip_invalid` query parameters.
fn options(q: &ImportQuery) -> Result<(Crs, bool), AppError> {
    let crs = q.crs.as_deref().map_or(Ok(Crs::Wgs84), str::parse::<Crs>).map_err(AppError::BadRequest)?;
    let skip_invalid = match q.skip_invalid.as_deref() {
        None | Some("false") | Some("0") => false,
        Some("true") | Some("1") => true,
        Some(other) => return Err(AppError::BadRequest(format!("skip_invalid={other:?}: use true or false"))),
    };
    Ok((crs, skip_invalid))
}

/// The most problems an answer lists: a file of a million bad rows is answered with the first
/// ones and how many more there are, not a body of a hundred megabytes.
pub const MAX_LISTED_ERRORS: usize = 1_000;

/// The first [`MAX_LISTED_ERRORS`] of `errors`, and how many are left out.
fn listed(errors: &[RowError]) -> (Vec<RowError>, usize) {
    let shown = errors.len().min(MAX_LISTED_ERRORS);
    (errors[..shown].to_vec(), errors.len() - shown)
}

/// A refused import: its problems, nothing written.
#[derive(Debug, Serialize, ToSchema)]
pub struct Refused {
    /// Always `invalid_rows`.
    code: &'static str,
    /// How many rows have problems.
    message: String,
    /// The problems, by row (the first 1,000).
    errors: Vec<RowError>,
    /// Problems not listed (beyond the first 1,000).
    errors_not_listed: usize,
}

/// What a 422 of an import holds: bad rows (nothing written), or a file that cannot be read as
/// its kind at all (an error body).
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
#[allow(dead_code)]
enum Refusal {
    /// Bad rows.
    Rows(Refused),
    /// A file that cannot be read as this kind.
    Unreadable(crate::api::error::Exception),
}

/// The `kind` path parameter: the names of [`Kind::ALL`].
struct KindName;

impl utoipa::PartialSchema for KindName {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .enum_values(Some(Kind::ALL.map(Kind::as_str)))
            .into()
    }
}

impl ToSchema for KindName {}

/// The 422 answer of a refused import: its problems, nothing written.
fn refused(errors: &[RowError], bad: usize, total: usize, what: &str) -> Response {
    let (errors, errors_not_listed) = listed(errors);
    let more = if errors_not_listed > 0 {
        format!(" (the first {MAX_LISTED_ERRORS} problems are listed, {errors_not_listed} more are not)")
    } else {
        String::new()
    };
    let body = Refused {
        code: "invalid_rows",
        message: format!("nothing was imported: {bad} of {total} {what} have problems{more}"),
        errors,
        errors_not_listed,
    };
    (StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response()
}

/// The media types a file of `kind` is taken as: GeoJSON for the layers; for a ledger CSV (and
/// the type Windows browsers give a .csv file) or an .xlsx workbook. Anything else, forms in
/// particular (a page of another site can post those), is refused with 415.
fn check_media_type(kind: Kind, given: Option<&HeaderValue>) -> AppResult<()> {
    let essence = given
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or("").trim().to_ascii_lowercase())
        .unwrap_or_default();
    let takes: &[&str] = if kind.is_geojson() {
        &["application/geo+json", "application/json"]
    } else {
        &["text/csv", "application/vnd.ms-excel", XLSX]
    };
    if takes.contains(&essence.as_str()) {
        return Ok(());
    }
    let given = if essence.is_empty() { "no Content-Type".to_owned() } else { essence };
    Err(AppError::UnsupportedMediaType(format!("{} are imported as {}, not {given}", kind.noun(), takes.join(" or "))))
}

/// The media type of an .xlsx workbook.
const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// What an import wrote.
#[derive(Debug, Serialize, ToSchema)]
pub struct Imported {
    /// What the file held.
    kind: &'static str,
    /// Records imported.
    imported: usize,
    /// Of which new.
    inserted: u64,
    /// Of which updated.
    updated: u64,
    /// Landlords added.
    landlords_added: u64,
    /// Features skipped as bad (GeoJSON layers, with skip_invalid).
    #[serde(skip_serializing_if = "Option::is_none")]
    skipped_features: Option<usize>,
    /// Rows skipped as bad (ledgers, with skip_invalid).
    #[serde(skip_serializing_if = "Option::is_none")]
    skipped_rows: Option<usize>,
    /// The problems of the skipped rows (the first 1,000).
    errors: Vec<RowError>,
    /// Problems not listed (beyond the first 1,000).
    errors_not_listed: usize,
    /// Headers that match no column.
    ignored_columns: Vec<String>,
    /// The encoding a ledger was read in.
    #[schema(required = true)]
    encoding: Option<String>,
}

/// Imports a file of `kind` (the request body).
#[utoipa::path(post, path = "/api/imports/{kind}", tag = "API", operation_id = "import",
    summary = "import a file: GeoJSON for boundaries, grids and buildings; an XLSX or CSV ledger for units, persons, \
               caseworkers, workplaces and visits",
    params(("kind" = inline(KindName), Path, description = "what the file holds"), ImportQuery),
    request_body(content(
        (crate::api::geojson::FeatureCollection<serde_json::Value> = "application/geo+json"),
        (crate::api::openapi::Binary = "text/csv"),
        (crate::api::openapi::Binary = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))),
    responses(
        (status = 200, description = "what was imported", body = Imported),
        (status = 400, description = "a bad crs, encoding or skip_invalid", body = Exception),
        (status = 404, description = "no such kind", body = Exception),
        (status = 413, description = "a file larger than 256 MiB", body = Exception),
        (status = 415, description = "a body that is not GeoJSON (layers) or CSV/XLSX (ledgers)", body = Exception),
        (status = 422, description = "bad rows (nothing was written), or a file that cannot be read as this kind", body = Refusal),
        (status = 507, description = "the disk under the store filled up during the import: nothing was written", body = Exception)))]
pub async fn import(
    State(state): State<AppState>,
    source: RequestSource,
    Authenticated(who): Authenticated,
    ApiPath(kind): ApiPath<String>,
    LenientQuery(q): LenientQuery<ImportQuery>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> AppResult<Response> {
    let kind: Kind = kind.parse().map_err(AppError::NotFound)?;
    check_media_type(kind, headers.get(header::CONTENT_TYPE))?;
    let body = body.map_err(|e| match e.status() {
        StatusCode::PAYLOAD_TOO_LARGE => super::limits::too_large(MAX_IMPORT_BYTES as u64 + 1, MAX_IMPORT_BYTES),
        _ => AppError::BadRequest(format!("the file did not arrive whole: {}", e.body_text())),
    })?;
    let encoding = q.encoding.as_deref().map(str::parse::<Encoding>).transpose().map_err(AppError::BadRequest)?;
    let (crs, skip_invalid) = options(&q)?;
    let opts = Options { encoding, crs, today: rentgrid_geodata::clock::today() };
    let atlas = state.atlas();
    let checked =
        ingest::check(kind, &body, &opts, state.store().as_ref(), Some(&atlas)).await.map_err(|e| match e {
            IngestError::Store(e) => AppError::from(e),
            e => AppError::Unprocessable(e.to_string()),
        })?;
    let what = if kind.is_geojson() { "features" } else { "rows" };
    if checked.bad > 0 && !skip_invalid {
        return Ok(refused(&checked.errors, checked.bad, checked.total, what));
    }
    let target = format!("POST /api/imports/{}: {} {};", kind.as_str(), checked.batch.len(), kind.noun());
    let event = Actor::User(who, source.ip).event(state.identity().now(), action::IMPORT, target);
    let counts = state.import(&checked.batch, &event).await.map_err(|e| match e {
        StartupError::Store(e) => AppError::from(e),
        e => AppError::Internal(e.to_string()),
    })?;
    let geojson = kind.is_geojson();
    let (errors, errors_not_listed) = listed(&checked.errors);
    let body = Imported {
        kind: kind.as_str(),
        imported: checked.batch.len(),
        inserted: counts.inserted,
        updated: counts.updated,
        landlords_added: counts.landlords_added,
        skipped_features: geojson.then_some(checked.bad),
        skipped_rows: (!geojson).then_some(checked.bad),
        errors,
        errors_not_listed,
        ignored_columns: checked.ignored_columns,
        encoding: checked.encoding.map(|e| e.to_string()),
    };
    Ok((StatusCode::OK, Json(body)).into_response())
}
