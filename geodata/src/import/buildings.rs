//! Building footprints (楼栋) from GeoJSON: a FeatureCollection of Polygons (or single-part
//! MultiPolygons) with properties. Each footprint must be a valid polygon inside the district;
//! its grid is the one holding its interior point, found through the Atlas's R-tree.
//!
//! | property | names accepted | required |
//! |---|---|---|
//! | `external_id` | 编号, 楼栋编号, id | yes |
//! | `kind` | 类型, 建筑类型 (高层住宅, 多层住宅, 农民自建房, 厂房, 宿舍, 商铺, or the English names) | no (多层住宅) |
//! | `address` | 地址 | no |
//! | `floors` | 层数 | no (1) |
//! | `dwellings` | 户数 | no (0) |
//! | `utility_accounts` | 水电表, 水电表户数 | no (0) |

use super::{Column, Mapping, RowError};
use crate::atlas::Atlas;
use crate::crs::Crs;
use crate::model::{BuildingKind, GridId};
use geo::{Area, InteriorPoint, MapCoords, Point, Polygon, Validation};
use serde_json::Value;
use std::collections::BTreeMap;

const EXTERNAL_ID: usize = 0;
const KIND: usize = 1;
const ADDRESS: usize = 2;
const FLOORS: usize = 3;
const DWELLINGS: usize = 4;
const UTILITY: usize = 5;

/// The properties read, in the order of the constants above.
pub const COLUMNS: &[Column] = &[
    Column { name: "external_id", aliases: &["编号", "楼栋编号", "id"] },
    Column { name: "kind", aliases: &["类型", "建筑类型"] },
    Column { name: "address", aliases: &["地址"] },
    Column { name: "floors", aliases: &["层数"] },
    Column { name: "dwellings", aliases: &["户数"] },
    Column { name: "utility_accounts", aliases: &["水电表", "水电表户数"] },
];

/// A footprint ready to store.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ImportedBuilding {
    /// 1-based feature number in the file.
    pub feature: usize,
    /// Survey id.
    pub external_id: String,
    /// Grid holding its interior point.
    pub grid_id: GridId,
    /// Kind.
    pub kind: BuildingKind,
    /// Address.
    pub address: String,
    /// Floors.
    pub floors: u16,
    /// Dwellings.
    pub dwellings: u32,
    /// Utility accounts.
    pub utility_accounts: u32,
    /// Footprint (WGS84).
    #[serde(skip)]
    pub footprint: Polygon<f64>,
    /// Interior point.
    #[serde(skip)]
    pub point: Point<f64>,
}

fn parse_kind(s: &str) -> Option<BuildingKind> {
    let t = s.trim();
    BuildingKind::parse(t).or(match t {
        "" | "多层住宅" | "住宅" => Some(BuildingKind::Walkup),
        "高层住宅" | "高层" => Some(BuildingKind::Tower),
        "农民自建房" | "自建房" | "民房" => Some(BuildingKind::VillageHouse),
        "厂房" | "工厂" => Some(BuildingKind::Factory),
        "宿舍" | "集体宿舍" | "民工公寓" => Some(BuildingKind::Dormitory),
        "商铺" | "沿街商铺" | "商住" => Some(BuildingKind::Shop),
        _ => None,
    })
}

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
}

/// Reads and checks every feature; footprints are converted from `crs` and placed in grids.
pub fn parse(bytes: &[u8], crs: Crs, atlas: &Atlas) -> Result<(Vec<ImportedBuilding>, Vec<RowError>), GeoJsonError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let doc: Value = serde_json::from_slice(bytes).map_err(|e| GeoJsonError::Json(e.to_string()))?;
    if doc.get("type").and_then(Value::as_str) != Some("FeatureCollection") {
        return Err(GeoJsonError::NotFeatureCollection);
    }
    let features = doc.get("features").and_then(Value::as_array).ok_or(GeoJsonError::NotFeatureCollection)?;
    if features.is_empty() {
        return Err(GeoJsonError::NoFeatures);
    }
    let mut ok = Vec::new();
    let mut errors = Vec::new();
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for (i, f) in features.iter().enumerate() {
        let n = i + 1;
        let props = f.get("properties").and_then(Value::as_object).cloned().unwrap_or_default();
        let keys: Vec<String> = props.keys().cloned().collect();
        let m = Mapping::new(COLUMNS, &keys);
        let value = |col: usize| -> String {
            if !m.has(col) {
                return String::new();
            }
            match props.get(&m.header(col, "")) {
                Some(Value::String(s)) => s.trim().to_string(),
                Some(Value::Number(x)) => x.to_string(),
                _ => String::new(),
            }
        };
        let mut errs = Vec::new();
        let mut err = |col: Option<usize>, reason: String| {
            errs.push(RowError { row: n, column: col.map(|c| m.header(c, COLUMNS[c].name)), reason });
        };
        let external_id = value(EXTERNAL_ID);
        if external_id.is_empty() {
            err(Some(EXTERNAL_ID), "is missing".into());
        } else if let Some(first) = seen.get(&external_id) {
            err(Some(EXTERNAL_ID), format!("{external_id:?} already appears in feature {first}"));
        } else {
            seen.insert(external_id.clone(), n);
        }
        let kind = parse_kind(&value(KIND)).unwrap_or_else(|| {
            err(
                Some(KIND),
                format!("{:?} is not a building kind (高层住宅, 多层住宅, 农民自建房, 厂房, 宿舍, 商铺)", value(KIND)),
            );
            BuildingKind::Walkup
        });
        let number = |col: usize, default: u32, max: u32, err: &mut dyn FnMut(Option<usize>, String)| -> u32 {
            let v = value(col);
            if v.is_empty() {
                return default;
            }
            match v.parse::<u32>() {
                Ok(x) if x <= max => x,
                _ => {
                    err(Some(col), format!("{v:?} is not a whole number from 0 to {max}"));
                    default
                }
            }
        };
        let floors = number(FLOORS, 1, 200, &mut err) as u16;
        let dwellings = number(DWELLINGS, 0, 10_000, &mut err);
        let utility_accounts = number(UTILITY, 0, 10_000, &mut err);
        let footprint = match f.get("geometry").map(|g| serde_json::from_value::<geojson::Geometry>(g.clone())) {
            Some(Ok(g)) => match geo::Geometry::<f64>::try_from(g) {
                Ok(geo::Geometry::Polygon(p)) => Some(p),
                Ok(geo::Geometry::MultiPolygon(mp)) if mp.0.len() == 1 => mp.0.into_iter().next(),
                Ok(_) => {
                    err(None, "the geometry is not a Polygon".into());
                    None
                }
                Err(e) => {
                    err(None, format!("the geometry is not valid GeoJSON: {e}"));
                    None
                }
            },
            Some(Err(e)) => {
                err(None, format!("the geometry is not valid GeoJSON: {e}"));
                None
            }
            None => {
                err(None, "has no geometry".into());
                None
            }
        };
        let placed = footprint.and_then(|p| {
            let p = p.map_coords(|c| {
                let (x, y) = crs.to_wgs84(c.x, c.y);
                geo::Coord { x, y }
            });
            if let Some(problem) = p.validation_errors().first() {
                err(None, format!("the footprint is not a valid polygon: {problem}"));
                return None;
            }
            let proj = crate::crs::LocalProjection::new(p.exterior().0[0].x, p.exterior().0[0].y);
            let m2 = p.map_coords(|c| {
                let (x, y) = proj.forward(c.x, c.y);
                geo::Coord { x, y }
            });
            let area = m2.unsigned_area();
            if !(4.0..=1_000_000.0).contains(&area) {
                err(None, format!("the footprint covers {area:.1} m²; a building covers 4 m² to 1 km²"));
                return None;
            }
            let point = p.interior_point()?;
            match atlas.grid_at(point.x(), point.y()) {
                Some(grid) => Some((p, point, grid)),
                None => {
                    err(None, format!("({:.6}, {:.6}) is outside {}", point.x(), point.y(), atlas.district().name));
                    None
                }
            }
        });
        match (errs.is_empty(), placed) {
            (true, Some((footprint, point, grid_id))) => ok.push(ImportedBuilding {
                feature: n,
                external_id,
                grid_id,
                kind,
                address: value(ADDRESS),
                floors,
                dwellings,
                utility_accounts,
                footprint,
                point,
            }),
            _ => errors.extend(errs),
        }
    }
    Ok((ok, errors))
}
