//! The district's boundaries from GeoJSON: one FeatureCollection holding the district (区/县),
//! its streets and towns (街道/镇/乡) and its communities and villages (社区/村).
//!
//! The district's geometry (a valid Polygon or MultiPolygon) is its outline. Streets' and
//! communities' geometries are optional and ignored: their outlines are the union of their
//! grids, imported separately. An empty register needs exactly one district feature; a register
//! that has its district may omit it, and a district feature must then have the same code.
//!
//! | property | names accepted | required |
//! |---|---|---|
//! | `level` | 层级: `district`/区/县, `street`/街道/镇/乡, `community`/社区/村 | yes |
//! | `code` | 编码, 行政区划代码 | yes (unique in the file) |
//! | `name` | 名称 | yes |
//! | `street_code` | 所属街道, 街道编码 | for communities: a street of the file or of the register |
//! | `kind` | 类型: `urban`/社区, `urban_village`/城中村, `industrial`/工业区, `rural`/村 | no (urban when the name ends in 社区, rural when it ends in 村); communities only |
//!
//! A street's kind (街道, 镇 or 乡) follows from its name.

use super::cells::{Row, Seen};
use super::features::{self, Feature, GeoJsonError};
use super::{Column, Mapping, RowError};
use crate::atlas::Atlas;
use crate::crs::Crs;
use crate::model::{Community, CommunityKind, District, Street, StreetKind};
use std::collections::BTreeSet;

const LEVEL: usize = 0;
const CODE: usize = 1;
const NAME: usize = 2;
const STREET: usize = 3;
const KIND: usize = 4;

/// The properties read, in the order of the constants above.
pub const COLUMNS: &[Column] = &[
    Column { name: "level", aliases: &["层级"] },
    Column { name: "code", aliases: &["编码", "行政区划代码"] },
    Column { name: "name", aliases: &["名称"] },
    Column { name: "street_code", aliases: &["所属街道", "街道编码"] },
    Column { name: "kind", aliases: &["类型"] },
];

/// The boundaries a file gives, ready to store.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ImportedBoundaries {
    /// The district, when the file has it.
    pub district: Option<District>,
    /// Streets and towns, in file order.
    pub streets: Vec<Street>,
    /// Communities and villages, in file order.
    pub communities: Vec<Community>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Level {
    District,
    Street,
    Community,
}

fn parse_level(s: &str) -> Result<Level, String> {
    match s.trim().to_lowercase().as_str() {
        "district" | "区" | "县" => Ok(Level::District),
        "street" | "街道" | "镇" | "乡" => Ok(Level::Street),
        "community" | "社区" | "村" => Ok(Level::Community),
        "" => Err("is empty".into()),
        _ => Err(format!("{s:?} is not a level (区/县, 街道/镇/乡 or 社区/村)")),
    }
}

fn parse_kind(kind: &str, name: &str) -> Result<CommunityKind, String> {
    match kind.trim().to_lowercase().as_str() {
        "urban" | "社区" => Ok(CommunityKind::Urban),
        "urban_village" | "城中村" => Ok(CommunityKind::UrbanVillage),
        "industrial" | "工业区" => Ok(CommunityKind::Industrial),
        "rural" | "村" => Ok(CommunityKind::Rural),
        "" if name.ends_with("社区") => Ok(CommunityKind::Urban),
        "" if name.ends_with('村') => Ok(CommunityKind::Rural),
        "" => {
            Err(format!("is empty, and the name {name:?} ends in neither 社区 nor 村: give 社区, 城中村, 工业区 or 村"))
        }
        _ => Err(format!("{kind:?} is not a community kind (社区, 城中村, 工业区 or 村)")),
    }
}

enum Boundary {
    District(District),
    Street(Street),
    Community(Community),
}

/// The codes of the streets the file gives.
fn street_codes(features: &[Feature]) -> BTreeSet<String> {
    features
        .iter()
        .filter_map(|f| {
            let m = Mapping::new(COLUMNS, &f.keys);
            (parse_level(m.cell(LEVEL, &f.values)) == Ok(Level::Street)).then(|| m.cell(CODE, &f.values).to_string())
        })
        .collect()
}

/// Reads and checks every feature; the district's outline is converted from `crs`. `existing`
/// is the register's Atlas, when it has a district already.
pub fn parse(
    bytes: &[u8],
    crs: Crs,
    existing: Option<&Atlas>,
) -> Result<(ImportedBoundaries, Vec<RowError>), GeoJsonError> {
    let features = features::read(bytes)?;
    let mut streets = street_codes(&features);
    if let Some(atlas) = existing {
        streets.extend(atlas.streets().iter().map(|s| s.street.code.clone()));
    }
    let mut seen = Seen::features();
    let mut district_at: Option<usize> = None;
    let (items, errors) = features::check_each(&features, COLUMNS, |r: &mut Row<'_>, f| {
        let level = r.check(LEVEL, parse_level(r.cell(LEVEL)));
        let code = r.key(CODE, 32, &mut seen);
        let name = r.required(NAME, 64);
        match level? {
            Level::District => {
                if let Some(first) = district_at {
                    r.err(LEVEL, format!("a file holds one district, and feature {first} is one already"));
                }
                district_at.get_or_insert(f.number);
                if let Some(atlas) = existing.filter(|a| a.district().code != code) {
                    let theirs = &atlas.district().code;
                    r.err(
                        CODE,
                        format!("{code:?} is not this register's district, {theirs} ({})", atlas.district().name),
                    );
                }
                let outline = features::polygons(f.geometry.as_ref(), crs).map_err(|e| r.err_row(e)).ok()?;
                Some(Boundary::District(District { code, name, outline }))
            }
            Level::Street => {
                let kind = StreetKind::from_name(&name);
                Some(Boundary::Street(Street { code, name, kind }))
            }
            Level::Community => {
                let street_code = r.required(STREET, 32);
                if !street_code.is_empty() && !streets.contains(&street_code) {
                    r.err(STREET, format!("street {street_code:?} is neither in the file nor in the register"));
                }
                let kind = r.check(KIND, parse_kind(r.cell(KIND), &name))?;
                Some(Boundary::Community(Community { code, name, street_code, kind }))
            }
        }
    });
    if existing.is_none() && district_at.is_none() {
        return Err(GeoJsonError::NoDistrict);
    }
    let mut out = ImportedBoundaries::default();
    for item in items {
        match item {
            Boundary::District(d) => out.district = Some(d),
            Boundary::Street(s) => out.streets.push(s),
            Boundary::Community(c) => out.communities.push(c),
        }
    }
    Ok((out, errors))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::testing::{BOX, atlas, ring};

    fn collection(features: &[&str]) -> String {
        let fs: Vec<String> = features
            .iter()
            .map(|props| {
                let geometry = if props.contains("区\"") || props.contains("district\"") {
                    let (x0, y0, x1, y1) = BOX;
                    format!(r#"{{"type":"Polygon","coordinates":{}}}"#, ring(x0, y0, x1, y1))
                } else {
                    "null".into()
                };
                format!(r#"{{"type":"Feature","properties":{{{props}}},"geometry":{geometry}}}"#)
            })
            .collect();
        format!(r#"{{"type":"FeatureCollection","features":[{}]}}"#, fs.join(","))
    }

    #[test]
    fn a_new_register_gets_its_district_streets_and_communities() {
        let doc = collection(&[
            r#""层级":"区","编码":"330203","名称":"海曙区""#,
            r#""层级":"街道","编码":"330203001000","名称":"南门街道""#,
            r#""level":"street","code":"330203100000","name":"集士港镇""#,
            r#""层级":"社区","编码":"330203001001","名称":"澄浪社区","所属街道":"330203001000""#,
            r#""level":"community","code":"330203100201","name":"翠峰村","street_code":"330203100000""#,
            r#""层级":"社区","编码":"330203001002","名称":"南苑","街道编码":"330203001000","类型":"城中村""#,
        ]);
        let (b, errors) = parse(doc.as_bytes(), Crs::Wgs84, None).unwrap();
        assert!(errors.is_empty(), "{errors:?}");
        let d = b.district.unwrap();
        assert_eq!((d.code.as_str(), d.name.as_str(), d.outline.0.len()), ("330203", "海曙区", 1));
        let streets: Vec<(&str, StreetKind)> = b.streets.iter().map(|s| (s.code.as_str(), s.kind)).collect();
        assert_eq!(streets, [("330203001000", StreetKind::Subdistrict), ("330203100000", StreetKind::Town)]);
        let kinds: Vec<CommunityKind> = b.communities.iter().map(|c| c.kind).collect();
        assert_eq!(kinds, [CommunityKind::Urban, CommunityKind::Rural, CommunityKind::UrbanVillage]);
        assert_eq!(b.communities[1].street_code, "330203100000");
    }

    #[test]
    fn a_new_register_needs_its_district() {
        let doc = collection(&[r#""层级":"街道","编码":"330203001000","名称":"南门街道""#]);
        assert_eq!(parse(doc.as_bytes(), Crs::Wgs84, None).unwrap_err(), GeoJsonError::NoDistrict);
    }

    #[test]
    fn every_bad_feature_is_reported_with_its_number_and_property() {
        let doc = collection(&[
            r#""层级":"区","编码":"330299","名称":"别的区""#,
            r#""层级":"区","编码":"330203","名称":"海曙区""#,
            r#""层级":"省","编码":"33","名称":"浙江省""#,
            r#""层级":"社区","编码":"330203001001","名称":"澄浪社区","所属街道":"330203999000""#,
            r#""层级":"社区","编码":"330203001001","名称":"某某小区","所属街道":"330203001000""#,
            r#""层级":"社区","编码":"330203001003","名称":"某某","所属街道":"330203001000","类型":"城堡""#,
            r#""层级":"街道","编码":"330203002000""#,
            r#""层级":"社区","编码":"330203100299","名称":"新村","所属街道":"330203100000""#,
        ]);
        let (b, errors) = parse(doc.as_bytes(), Crs::Wgs84, Some(atlas())).unwrap();
        let got: Vec<(usize, Option<&str>)> = errors.iter().map(|e| (e.row, e.column.as_deref())).collect();
        assert_eq!(
            got,
            [
                (1, Some("编码")),
                (2, Some("层级")),
                (3, Some("层级")),
                (4, Some("所属街道")),
                (5, Some("编码")),
                (5, Some("kind")),
                (6, Some("类型")),
                (7, Some("name")),
            ]
        );
        assert!(errors[0].reason.contains("330203 (海曙区)"), "{}", errors[0].reason);
        assert!(errors[1].reason.contains("feature 1"), "{}", errors[1].reason);
        assert!(errors[4].reason.contains("already appears on feature 4"), "{}", errors[4].reason);
        assert_eq!((b.district, b.streets.len(), b.communities.len()), (None, 0, 1));
    }
}
