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

use super::cells::Seen;
pub use super::features::GeoJsonError;
use super::{Column, RowError, features};
use crate::atlas::Atlas;
use crate::crs::Crs;
use crate::model::{BuildingKind, GridId};
use geo::{Area, InteriorPoint, MapCoords, Point, Polygon};

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

/// Reads and checks every feature; footprints are converted from `crs` and placed in grids.
pub fn parse(bytes: &[u8], crs: Crs, atlas: &Atlas) -> Result<(Vec<ImportedBuilding>, Vec<RowError>), GeoJsonError> {
    let mut seen = Seen::features();
    features::check_features(bytes, COLUMNS, |r, f| {
        let external_id = r.key(EXTERNAL_ID, 64, &mut seen);
        let kind = parse_kind(r.cell(KIND)).unwrap_or_else(|| {
            let reason =
                format!("{:?} is not a building kind (高层住宅, 多层住宅, 农民自建房, 厂房, 宿舍, 商铺)", r.cell(KIND));
            r.err(KIND, reason);
            BuildingKind::Walkup
        });
        let floors = match r.cell(FLOORS) {
            "" => 1,
            _ => r.count(FLOORS, 200) as u16,
        };
        let dwellings = r.count(DWELLINGS, 10_000);
        let utility_accounts = r.count(UTILITY, 10_000);
        let footprint = match features::polygons(f.geometry.as_ref(), crs) {
            Ok(mp) if mp.0.len() == 1 => mp.0.into_iter().next(),
            Ok(_) => {
                r.err_row("the geometry has more than one polygon: a footprint is one Polygon");
                None
            }
            Err(e) => {
                r.err_row(e);
                None
            }
        };
        let p = footprint?;
        let Some(&first) = p.exterior().0.first() else {
            r.err_row("the footprint has no points");
            return None;
        };
        let proj = crate::crs::LocalProjection::new(first.x, first.y);
        let m2 = p.map_coords(|c| {
            let (x, y) = proj.forward(c.x, c.y);
            geo::Coord { x, y }
        });
        let area = m2.unsigned_area();
        if !(4.0..=1_000_000.0).contains(&area) {
            r.err_row(format!("the footprint covers {area:.1} m²; a building covers 4 m² to 1 km²"));
            return None;
        }
        let Some(point) = p.interior_point() else {
            r.err_row("the footprint has no interior point");
            return None;
        };
        let Some(grid_id) = atlas.grid_at(point.x(), point.y()) else {
            r.err_row(format!("({:.6}, {:.6}) is outside {}", point.x(), point.y(), atlas.district().name));
            return None;
        };
        Some(ImportedBuilding {
            feature: f.number,
            external_id,
            grid_id,
            kind,
            address: r.cell(ADDRESS).to_string(),
            floors,
            dwellings,
            utility_accounts,
            footprint: p,
            point,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::testing::{atlas, ring};

    fn feature(props: &str, coords: &str) -> String {
        format!(
            r#"{{"type":"Feature","properties":{{{props}}},"geometry":{{"type":"Polygon","coordinates":{coords}}}}}"#
        )
    }

    #[test]
    fn footprints_are_placed_in_grids_and_bad_features_reported() {
        let good = ring(121.531, 29.831, 121.5313, 29.8313);
        let doc = format!(
            r#"{{"type":"FeatureCollection","features":[{},{},{},{}]}}"#,
            feature(r#""编号":"N1","层数":5,"类型":"厂房""#, &good),
            feature(r#""编号":"N1","层数":500"#, &good),
            feature(r#""id":"N3""#, &ring(121.60, 29.90, 121.6003, 29.9003)),
            feature(
                r#""id":"N4","类型":"城堡""#,
                "[[[121.51,29.81],[121.5103,29.8103],[121.5103,29.81],[121.51,29.8103],[121.51,29.81]]]"
            ),
        );
        let (ok, errors) = parse(doc.as_bytes(), Crs::Wgs84, atlas()).unwrap();
        assert_eq!(ok.len(), 1);
        assert_eq!((ok[0].grid_id, ok[0].floors, ok[0].kind), (1, 5, BuildingKind::Factory));
        let got: Vec<(usize, Option<&str>)> = errors.iter().map(|e| (e.row, e.column.as_deref())).collect();
        assert_eq!(got, [(2, Some("编号")), (2, Some("层数")), (3, None), (4, Some("类型")), (4, None)]);
        assert!(errors[2].reason.contains("outside 海曙区"), "{}", errors[2].reason);
        assert!(errors[4].reason.contains("not a valid polygon"), "{}", errors[4].reason);
    }
}
