//! Grids (网格) from GeoJSON: a FeatureCollection of Polygons or MultiPolygons with properties.
//! Each grid must be a valid polygon whose interior point lies inside the district's outline,
//! and belong to a community the district already has.
//!
//! | property | names accepted | required |
//! |---|---|---|
//! | `code` | 网格编码, 编码, code | yes (unique in the file) |
//! | `name` | 网格名称, 名称 | yes |
//! | `community_code` | 社区编码, 所属社区, community | yes: a community of the district |

use super::cells::Seen;
use super::features::{self, GeoJsonError};
use super::{Column, RowError};
use crate::atlas::Atlas;
use crate::crs::Crs;
use geo::{Contains, InteriorPoint, MultiPolygon};

const CODE: usize = 0;
const NAME: usize = 1;
const COMMUNITY: usize = 2;

/// The properties read, in the order of the constants above.
pub const COLUMNS: &[Column] = &[
    Column { name: "code", aliases: &["网格编码", "编码"] },
    Column { name: "name", aliases: &["网格名称", "名称"] },
    Column { name: "community_code", aliases: &["社区编码", "所属社区", "community"] },
];

/// A grid ready to store.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ImportedGrid {
    /// 1-based feature number in the file.
    pub feature: usize,
    /// 网格编码.
    pub code: String,
    /// Name.
    pub name: String,
    /// Code of its community.
    pub community_code: String,
    /// Its area (WGS84).
    #[serde(skip)]
    pub geometry: MultiPolygon<f64>,
}

/// Reads and checks every feature; geometries are converted from `crs`.
pub fn parse(bytes: &[u8], crs: Crs, atlas: &Atlas) -> Result<(Vec<ImportedGrid>, Vec<RowError>), GeoJsonError> {
    let mut seen = Seen::features();
    features::check_features(bytes, COLUMNS, |r, f| {
        let code = r.key(CODE, 32, &mut seen);
        let name = r.required(NAME, 64);
        let community_code = r.required(COMMUNITY, 32);
        if !community_code.is_empty() && !atlas.communities().iter().any(|c| c.community.code == community_code) {
            r.err(COMMUNITY, format!("community {community_code:?} is not in {}", atlas.district().name));
        }
        let geometry = features::polygons(f.geometry.as_ref(), crs).map_err(|e| r.err_row(e)).ok()?;
        match geometry.interior_point() {
            Some(p) if atlas.district().outline.contains(&p) => {}
            p => {
                let at = p.map(|p| format!("({:.6}, {:.6})", p.x(), p.y())).unwrap_or_default();
                r.err_row(format!("its interior point {at} is outside {}", atlas.district().name));
            }
        }
        Some(ImportedGrid { feature: f.number, code, name, community_code, geometry })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::testing::{atlas, ring};

    fn collection(features: &[(&str, String)]) -> String {
        let fs: Vec<String> = features
            .iter()
            .map(|(props, coords)| {
                format!(r#"{{"type":"Feature","properties":{{{props}}},"geometry":{{"type":"Polygon","coordinates":{coords}}}}}"#)
            })
            .collect();
        format!(r#"{{"type":"FeatureCollection","features":[{}]}}"#, fs.join(","))
    }

    #[test]
    fn grids_with_chinese_or_english_properties() {
        let doc = collection(&[
            (
                r#""网格编码":"G1","网格名称":"澄浪社区第1网格","社区编码":"330203001001""#,
                ring(121.50, 29.80, 121.51, 29.81),
            ),
            (r#""code":"G2","name":"翠峰村第1网格","community":"330203100201""#, ring(121.53, 29.83, 121.54, 29.84)),
        ]);
        let (ok, errors) = parse(doc.as_bytes(), Crs::Wgs84, atlas()).unwrap();
        assert!(errors.is_empty(), "{errors:?}");
        let got: Vec<(usize, &str, &str)> =
            ok.iter().map(|g| (g.feature, g.code.as_str(), g.community_code.as_str())).collect();
        assert_eq!(got, [(1, "G1", "330203001001"), (2, "G2", "330203100201")]);
        assert_eq!(ok[1].name, "翠峰村第1网格");
    }

    #[test]
    fn every_bad_feature_is_reported_with_its_number_and_property() {
        let inside = ring(121.50, 29.80, 121.51, 29.81);
        let bowtie = "[[[121.50,29.80],[121.51,29.81],[121.51,29.80],[121.50,29.81],[121.50,29.80]]]".to_string();
        let doc = collection(&[
            (r#""编码":"G1","名称":"a","所属社区":"330203001001""#, inside.clone()),
            (r#""编码":"G1","名称":"b","所属社区":"330203001001""#, inside.clone()),
            (r#""编码":"G3","所属社区":"999""#, inside.clone()),
            (r#""编码":"G4","名称":"d","所属社区":"330203001001""#, ring(121.60, 29.90, 121.61, 29.91)),
            (r#""编码":"G5","名称":"e","所属社区":"330203001001""#, bowtie),
        ]);
        let (ok, errors) = parse(doc.as_bytes(), Crs::Wgs84, atlas()).unwrap();
        assert_eq!(ok.len(), 1);
        let got: Vec<(usize, Option<&str>)> = errors.iter().map(|e| (e.row, e.column.as_deref())).collect();
        assert_eq!(got, [(2, Some("编码")), (3, Some("name")), (3, Some("所属社区")), (4, None), (5, None)]);
        assert!(errors[0].reason.contains("already appears on feature 1"), "{}", errors[0].reason);
        assert!(errors[3].reason.contains("(121.605000, 29.905000) is outside 海曙区"), "{}", errors[3].reason);
        assert!(errors[4].reason.contains("not a valid polygon"), "{}", errors[4].reason);
    }

    #[test]
    fn a_file_that_is_not_a_feature_collection_is_refused() {
        assert_eq!(parse(b"[]", Crs::Wgs84, atlas()).unwrap_err(), GeoJsonError::NotFeatureCollection);
    }
}
