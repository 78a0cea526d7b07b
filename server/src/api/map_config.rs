//! `GET /api/map-config`: how the web map may draw: the basemaps the web map may draw under its layers. The offline basemap
//! (our own `basemap` tiles) always, first and the default; Tianditu's vector map and imagery
//! with their labels when the server has a key ([`crate::tianditu`]). Only signed-in users ask,
//! so the key reaches no one else.

use crate::state::AppState;
use crate::tianditu;
use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;

/// One raster basemap from outside: its tiles and the labels drawn over them.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RasterBasemap {
    /// `tianditu_vector` or `tianditu_image`.
    id: String,
    /// URL templates of its 256-px tiles (`{z}`, `{x}`, `{y}`), one per host.
    tiles: Vec<String>,
    /// URL templates of its label tiles, drawn over it.
    labels: Vec<String>,
    /// The attribution to show with it.
    attribution: String,
}

/// The basemaps on offer.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct MapConfig {
    /// The offline basemap is always there and is the default; these may be chosen instead
    /// (none unless the server has a Tianditu key).
    raster: Vec<RasterBasemap>,
}

/// `GET /api/map-config`.
#[utoipa::path(get, path = "/api/map-config", tag = "Tiles", operation_id = "map_config",
    summary = "the basemaps the web map may draw: the offline one always, Tianditu's when configured",
    responses((status = 200, description = "the raster basemaps on offer besides the offline one", body = MapConfig)))]
pub(crate) async fn map_config(State(state): State<AppState>) -> Json<MapConfig> {
    let raster = match state.tianditu() {
        None => Vec::new(),
        Some(key) => [("tianditu_vector", "vec", "cva"), ("tianditu_image", "img", "cia")]
            .into_iter()
            .map(|(id, map, labels)| RasterBasemap {
                id: id.into(),
                tiles: key.tile_urls(map),
                labels: key.tile_urls(labels),
                attribution: tianditu::ATTRIBUTION.into(),
            })
            .collect(),
    };
    Json(MapConfig { raster })
}
