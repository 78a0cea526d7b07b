//! Real reference data for the demo district, 海曙区 (Ningbo), shipped in `data/haishu.json`:
//! its outline and the official names and 12-digit codes of its streets, towns and communities.
//! See `data/derive-haishu.mjs` for where it comes from and its attribution.

use crate::crs::Crs;
use geo::orient::{Direction, Orient};
use geo::{Coord, LineString, MultiPolygon, Polygon};
use serde::Deserialize;

const HAISHU: &str = include_str!("../data/haishu.json");

/// The reference data of one district.
#[derive(Debug, Clone)]
pub struct Reference {
    /// Where the data comes from, to be shown with it.
    pub attribution: Vec<String>,
    /// 6-digit district code.
    pub code: String,
    /// District name.
    pub name: String,
    /// Outline in WGS84.
    pub outline: MultiPolygon<f64>,
    /// Streets and towns: (12-digit code, name).
    pub streets: Vec<(String, String)>,
    /// Communities: (12-digit code, name, street code).
    pub communities: Vec<(String, String, String)>,
    /// Real 6-digit area codes of the provinces migrants come from (for synthetic ID numbers).
    pub origin_areas: Vec<String>,
}

#[derive(Deserialize)]
struct Raw {
    attribution: Vec<String>,
    district: RawDistrict,
    streets: Vec<RawStreet>,
    communities: Vec<RawCommunity>,
    origin_areas: Vec<String>,
}

#[derive(Deserialize)]
struct RawDistrict {
    code: String,
    name: String,
    crs: Crs,
    outline: Vec<Vec<Vec<[f64; 2]>>>,
}

#[derive(Deserialize)]
struct RawStreet {
    code: String,
    name: String,
}

#[derive(Deserialize)]
struct RawCommunity {
    code: String,
    name: String,
    street: String,
}

/// 海曙区, converted to WGS84. The file is compiled in and checked by a test, so this cannot
/// fail at run time unless the binary was built from a corrupted file.
pub fn haishu() -> Reference {
    let raw: Raw = match serde_json::from_str(HAISHU) {
        Ok(r) => r,
        Err(e) => unreachable!("data/haishu.json is compiled in and tested: {e}"),
    };
    let crs = raw.district.crs;
    let ring = |pts: &Vec<[f64; 2]>| -> LineString<f64> {
        pts.iter()
            .map(|&[lon, lat]| {
                let (x, y) = crs.to_wgs84(lon, lat);
                Coord { x, y }
            })
            .collect()
    };
    let parts = MultiPolygon(
        raw.district
            .outline
            .iter()
            .filter(|rings| !rings.is_empty())
            .map(|rings| Polygon::new(ring(&rings[0]), rings[1..].iter().map(ring).collect()))
            .collect(),
    );
    // The source's coordinates are quantised to 1/1024°, which makes its rings touch themselves;
    // a union resolves that into valid polygons. Then RFC 7946 winding: exteriors counter-clockwise.
    let outline = geo::unary_union(&parts.0).orient(Direction::Default);
    Reference {
        attribution: raw.attribution,
        code: raw.district.code,
        name: raw.district.name,
        outline,
        streets: raw.streets.into_iter().map(|s| (s.code, s.name)).collect(),
        communities: raw.communities.into_iter().map(|c| (c.code, c.name, c.street)).collect(),
        origin_areas: raw.origin_areas,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{GeodesicArea, Validation};

    #[test]
    fn haishu_is_the_real_district() {
        let r = haishu();
        assert_eq!(r.code, "330203");
        assert_eq!(r.streets.len(), 17);
        assert_eq!(r.communities.len(), 280);
        assert!(r.communities.iter().all(|(code, _, street)| code.starts_with(&street[..9])));
        // 海曙区 after the 2016 re-division covers about 595 km².
        let km2 = r.outline.geodesic_area_unsigned() / 1e6;
        assert!((560.0..640.0).contains(&km2), "{km2} km²");
        let problems: Vec<String> = r.outline.validation_errors().iter().map(|e| e.to_string()).collect();
        assert!(problems.is_empty(), "{problems:?}");
        assert!(!r.attribution.is_empty());
    }
}
