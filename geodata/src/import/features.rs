//! Reading a GeoJSON FeatureCollection as rows: each feature's properties become a header row
//! and cells (so the ledgers' column mapping and [`Row`](super::cells::Row) checks apply), and
//! its geometry is read as polygons converted to WGS84.

use super::cells::Row;
use super::{Column, Mapping, RowError};
use crate::crs::Crs;
use geo::{MapCoords, MultiPolygon, Validation};
use geojson::GeometryValue;
use serde_json::Value;

/// Why a GeoJSON file could not be read at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GeoJsonError {
    /// Not JSON.
    #[error("the file is not JSON: {0}")]
    Json(String),
    /// JSON, but no FeatureCollection.
    #[error("the file is not a GeoJSON FeatureCollection")]
    NotFeatureCollection,
    /// No features.
    #[error("the FeatureCollection has no features")]
    NoFeatures,
    /// A boundary file for an empty register without the district.
    #[error("the file has no district feature (层级 区/县), and the register has no district yet")]
    NoDistrict,
}

/// One feature of a collection.
#[derive(Debug, Clone, PartialEq)]
pub struct Feature {
    /// 1-based feature number: the "row" its errors name.
    pub number: usize,
    /// Property names, the feature's header row.
    pub keys: Vec<String>,
    /// Property values as text (strings trimmed, numbers written out, anything else empty).
    pub values: Vec<String>,
    /// The geometry, as JSON.
    pub geometry: Option<Value>,
}

/// Reads the features of a FeatureCollection (a UTF-8 byte-order mark is allowed).
pub fn read(bytes: &[u8]) -> Result<Vec<Feature>, GeoJsonError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let doc: Value = serde_json::from_slice(bytes).map_err(|e| GeoJsonError::Json(e.to_string()))?;
    if doc.get("type").and_then(Value::as_str) != Some("FeatureCollection") {
        return Err(GeoJsonError::NotFeatureCollection);
    }
    let features = doc.get("features").and_then(Value::as_array).ok_or(GeoJsonError::NotFeatureCollection)?;
    if features.is_empty() {
        return Err(GeoJsonError::NoFeatures);
    }
    Ok(features
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let props = f.get("properties").and_then(Value::as_object);
            let (keys, values) = props
                .into_iter()
                .flatten()
                .map(|(k, v)| {
                    let text = match v {
                        Value::String(s) => s.trim().to_string(),
                        Value::Number(x) => x.to_string(),
                        _ => String::new(),
                    };
                    (k.clone(), text)
                })
                .unzip();
            Feature { number: i + 1, keys, values, geometry: f.get("geometry").filter(|g| !g.is_null()).cloned() }
        })
        .collect())
}

/// Reads every feature and checks it with `check` (see [`check_each`]).
pub fn check_features<T>(
    bytes: &[u8],
    columns: &[Column],
    check: impl FnMut(&mut Row<'_>, &Feature) -> Option<T>,
) -> Result<(Vec<T>, Vec<RowError>), GeoJsonError> {
    Ok(check_each(&read(bytes)?, columns, check))
}

/// Checks every feature with `check`, which returns the record when it could build one; a
/// feature yields its record only when no check reported a problem.
pub fn check_each<T>(
    features: &[Feature],
    columns: &[Column],
    mut check: impl FnMut(&mut Row<'_>, &Feature) -> Option<T>,
) -> (Vec<T>, Vec<RowError>) {
    let mut ok = Vec::new();
    let mut errors = Vec::new();
    for f in features {
        let m = Mapping::new(columns, &f.keys);
        let mut r = Row::new(f.number, &f.values, &m, columns);
        match (check(&mut r, f), r.errors.is_empty()) {
            (Some(record), true) => ok.push(record),
            _ => errors.extend(r.errors),
        }
    }
    (ok, errors)
}

/// A Polygon or MultiPolygon geometry converted from `crs` to WGS84, and valid; the problem
/// otherwise.
pub fn polygons(geometry: Option<&Value>, crs: Crs) -> Result<MultiPolygon<f64>, String> {
    let g = geometry.ok_or("has no geometry")?;
    let g = serde_json::from_value::<geojson::Geometry>(g.clone())
        .map_err(|e| format!("the geometry is not valid GeoJSON: {e}"))?;
    let positions: Vec<&geojson::Position> = match &g.value {
        GeometryValue::Polygon { coordinates } => coordinates.iter().flatten().collect(),
        GeometryValue::MultiPolygon { coordinates } => coordinates.iter().flatten().flatten().collect(),
        _ => return Err("the geometry is not a Polygon or MultiPolygon".into()),
    };
    // The conversion below indexes the first two numbers of each position (found by fuzzing:
    // `[121.5]` panicked it).
    if positions.iter().any(|p| p.len() < 2) {
        return Err("the geometry has a position with fewer than two numbers (longitude, latitude)".into());
    }
    let mp = match geo::Geometry::<f64>::try_from(g) {
        Ok(geo::Geometry::Polygon(p)) => MultiPolygon(vec![p]),
        Ok(geo::Geometry::MultiPolygon(mp)) if !mp.0.is_empty() => mp,
        Ok(_) => return Err("the geometry is not a Polygon or MultiPolygon".into()),
        Err(e) => return Err(format!("the geometry is not valid GeoJSON: {e}")),
    };
    let mp = mp.map_coords(|c| {
        let (x, y) = crs.to_wgs84(c.x, c.y);
        geo::Coord { x, y }
    });
    // An empty ring passes validation as an empty polygon (found by fuzzing: `[[]]` panicked
    // the buildings' importer, which reads a footprint's first point).
    if mp.0.iter().any(|p| p.exterior().0.is_empty()) {
        return Err("the geometry has a polygon without points".into());
    }
    match mp.validation_errors().first() {
        Some(problem) => Err(format!("the geometry is not a valid polygon: {problem}")),
        None => Ok(mp),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn properties_become_cells_and_bad_files_are_refused() {
        let doc = r#"{"type":"FeatureCollection","features":[
            {"type":"Feature","properties":{"编号":" A1 ","层数":6,"x":null},"geometry":null}]}"#;
        let f = read(doc.as_bytes()).unwrap();
        assert_eq!((f[0].number, f[0].geometry.is_none()), (1, true));
        let cell = |k: &str| f[0].keys.iter().position(|x| x == k).map(|i| f[0].values[i].as_str());
        assert_eq!((cell("编号"), cell("层数"), cell("x")), (Some("A1"), Some("6"), Some("")));
        assert!(matches!(read(b"{").unwrap_err(), GeoJsonError::Json(_)));
        assert_eq!(read(br#"{"type":"Feature"}"#).unwrap_err(), GeoJsonError::NotFeatureCollection);
        assert_eq!(read(br#"{"type":"FeatureCollection","features":[]}"#).unwrap_err(), GeoJsonError::NoFeatures);
    }

    #[test]
    fn polygons_are_checked_and_converted() {
        let bowtie = serde_json::json!({"type":"Polygon","coordinates":[[[0,0],[1,1],[1,0],[0,1],[0,0]]]});
        assert!(polygons(Some(&bowtie), Crs::Wgs84).unwrap_err().contains("not a valid polygon"));
        let point = serde_json::json!({"type":"Point","coordinates":[121.5,29.8]});
        assert!(polygons(Some(&point), Crs::Wgs84).unwrap_err().contains("not a Polygon"));
        assert_eq!(polygons(None, Crs::Wgs84).unwrap_err(), "has no geometry");
        let short = serde_json::json!({"type":"Polygon","coordinates":[[[121.5],[121.6,29.8],[121.6,29.9],[121.5]]]});
        assert!(polygons(Some(&short), Crs::Wgs84).unwrap_err().contains("fewer than two numbers"));
        let empty = serde_json::json!({"type":"MultiPolygon","coordinates":[[[]]]});
        assert!(polygons(Some(&empty), Crs::Wgs84).unwrap_err().contains("without points"));
        let sq =
            serde_json::json!({"type":"Polygon","coordinates":[[[121.5,29.8],[121.6,29.8],[121.6,29.9],[121.5,29.8]]]});
        let (glon, glat) = crate::crs::wgs84_to_gcj02(121.5, 29.8);
        let mp = polygons(Some(&sq), Crs::Gcj02).unwrap();
        assert!((mp.0[0].exterior().0[0].x - (2.0 * 121.5 - glon)).abs() < 1e-4, "{glat}");
    }
}
