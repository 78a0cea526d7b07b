//! Geometry as GeoJSON text in store columns, and back.

use super::{Result, StoreError};
use geo::{Geometry, LineString, MultiPolygon, Polygon};

/// Serialises a geometry as a GeoJSON geometry object.
pub fn to_geojson(g: impl Into<Geometry<f64>>) -> String {
    let g: Geometry<f64> = g.into();
    geojson::Geometry::from(&g).to_string()
}

fn parse(what: &'static str, id: &str, text: &str) -> Result<Geometry<f64>> {
    let corrupt = |reason: String| StoreError::Corrupt { what, id: id.to_string(), reason };
    let g: geojson::Geometry = text.parse().map_err(|e: geojson::Error| corrupt(e.to_string()))?;
    Geometry::<f64>::try_from(g).map_err(|e| corrupt(e.to_string()))
}

/// Reads a Polygon or MultiPolygon as a MultiPolygon.
pub fn multipolygon(what: &'static str, id: &str, text: &str) -> Result<MultiPolygon<f64>> {
    match parse(what, id, text)? {
        Geometry::MultiPolygon(m) => Ok(m),
        Geometry::Polygon(p) => Ok(MultiPolygon(vec![p])),
        other => Err(StoreError::Corrupt {
            what,
            id: id.to_string(),
            reason: format!("expected a polygon, found {other:?}"),
        }),
    }
}

/// Reads a Polygon.
pub fn polygon(what: &'static str, id: &str, text: &str) -> Result<Polygon<f64>> {
    match parse(what, id, text)? {
        Geometry::Polygon(p) => Ok(p),
        _ => Err(StoreError::Corrupt { what, id: id.to_string(), reason: "expected a Polygon".into() }),
    }
}

/// Reads a LineString.
pub fn line(what: &'static str, id: &str, text: &str) -> Result<LineString<f64>> {
    match parse(what, id, text)? {
        Geometry::LineString(l) => Ok(l),
        _ => Err(StoreError::Corrupt { what, id: id.to_string(), reason: "expected a LineString".into() }),
    }
}
