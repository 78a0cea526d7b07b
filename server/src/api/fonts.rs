//! The fonts of map labels: `GET /fonts.json`, which fonts there are and which labels are
//! written in, and `GET /fonts/{fontstack}/{start}-{end}.pbf`, a range of 256 glyphs as
//! MapLibre's style `glyphs` URL asks for it. Both from our own origin: the web map's labels need
//! no font from elsewhere, offline too.

use super::extract::ApiPath;
use crate::api::error::Exception;
use crate::error::{AppError, AppResult};
use crate::glyphs::GlyphSourceError;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use rentgrid_tiles::glyphs::{self, GlyphRange};
use serde::Serialize;
use utoipa::ToSchema;

/// The media type of glyph ranges (protobuf).
pub const GLYPHS_CONTENT_TYPE: &str = "application/x-protobuf";

/// How long a client keeps a glyph range: glyphs change only with the server's fonts.
const GLYPHS_CACHE_CONTROL: &str = "public, max-age=86400";

/// The fonts the server draws labels with.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct FontCatalog {
    /// Every face, by the name a font stack gives it (e.g. `Noto Sans CJK SC Regular`); empty
    /// when the server has no fonts (the map then draws no labels).
    fonts: Vec<String>,
    /// The face names are written in: proportional, drawing Chinese place names, Simplified
    /// Chinese first, the weight nearest regular.
    #[schema(required = true)]
    regular: Option<String>,
    /// The bold face, for the most important names (streets), if there is one.
    #[schema(required = true)]
    bold: Option<String>,
    /// The URL template of glyph ranges, for a MapLibre style's `glyphs`.
    glyphs: String,
}

/// `GET /fonts.json`: the fonts and the faces labels are written in.
#[utoipa::path(get, path = "/fonts.json", tag = "Tiles", operation_id = "fonts",
    summary = "the fonts of map labels: every face, the regular and bold face labels use, the glyph URL template",
    responses(
        (status = 200, description = "the fonts (none when the server has none: no labels)", body = FontCatalog),
        (status = 500, description = "a configured font file cannot be read", body = Exception)))]
pub(crate) async fn catalog(State(state): State<AppState>, headers: HeaderMap) -> AppResult<Response> {
    let glyphs = format!("{}/fonts/{{fontstack}}/{{range}}.pbf", super::ogc::base_url(&headers));
    let source = state.clone();
    let found = tokio::task::spawn_blocking(move || {
        let fonts = source.glyphs().fonts()?;
        Ok::<_, GlyphSourceError>((fonts.names().into_iter().map(str::to_owned).collect(), fonts.label_fonts()))
    })
    .await
    .map_err(|e| AppError::Internal(format!("fonts: {e}")))?;
    let (fonts, label) = match found {
        Ok(found) => found,
        Err(GlyphSourceError::NoFonts) => (Vec::new(), None),
        Err(e) => return Err(e.into()),
    };
    let (regular, bold) = label.map_or((None, None), |l| (Some(l.regular), l.bold));
    let body = FontCatalog { fonts, regular, bold, glyphs };
    Ok(([(header::CACHE_CONTROL, "no-cache")], Json(body)).into_response())
}

/// `GET /fonts/{fontstack}/{start}-{end}.pbf`: 256 glyphs of a font stack (names separated by
/// commas; the first font holding a glyph draws it), signed distance fields at 24 px.
#[utoipa::path(get, path = "/fonts/{fontstack}/{range}", tag = "Tiles", operation_id = "glyphs",
    summary = "a range of 256 glyphs of a font stack (MapLibre glyphs PBF)",
    params(
        ("fontstack" = String, Path, description = "1 to 4 font names from /fonts.json, separated by commas"),
        ("range" = String, Path, description = "{start}-{end}.pbf: start a multiple of 256 up to 65280, end = start + 255")),
    responses(
        (status = 200, description = "the glyphs", content_type = "application/x-protobuf", body = crate::api::openapi::Binary),
        (status = 400, description = "a range that is not 256 code points from a multiple of 256", body = Exception),
        (status = 404, description = "a font the server does not have, no fonts at all, or a file that is not .pbf", body = Exception)))]
pub(crate) async fn glyph_range(
    State(state): State<AppState>,
    ApiPath((fontstack, file)): ApiPath<(String, String)>,
) -> AppResult<Response> {
    let range = file
        .strip_suffix(".pbf")
        .ok_or_else(|| AppError::NotFound(format!("no glyphs at {file:?}: name them {{start}}-{{end}}.pbf")))?;
    let range: GlyphRange = range.parse().map_err(|e: glyphs::Error| AppError::BadRequest(e.to_string()))?;
    let source = state.clone();
    let bytes = tokio::task::spawn_blocking(move || source.glyphs().range(&fontstack, range))
        .await
        .map_err(|e| AppError::Internal(format!("glyphs {range}: {e}")))??;
    let headers = [(header::CONTENT_TYPE, GLYPHS_CONTENT_TYPE), (header::CACHE_CONTROL, GLYPHS_CACHE_CONTROL)];
    Ok((headers, bytes).into_response())
}
