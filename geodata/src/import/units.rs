//! The rental-unit ledger (出租房屋台帐): one row per rental unit, found by its ledger id
//! (编号), placed in a building by the building's survey id, its internal id, or coordinates.
//!
//! | column | headers accepted | required |
//! |---|---|---|
//! | `external_id` | 编号, 房屋编号, 出租房屋编号, id | yes |
//! | `building` | 楼栋编号, building_external_id (the survey's id of the building) | this, building_id or lon/lat |
//! | `building_id` | 楼栋ID (rentgrid's internal numeric id) | this, building or lon/lat |
//! | `lon`, `lat` | 经度, 纬度, longitude, latitude, lng, x, y | this or a building |
//! | `label` | 房号, 室号, room | yes |
//! | `landlord_name` | 房东姓名, 房东 | with the landlord's ID number |
//! | `landlord_id_number` | 房东身份证号, 房东身份证号码 | no (checked by GB 11643 when given) |
//! | `landlord_phone` | 房东电话, 房东联系电话 | no |
//! | `registered` | 是否登记, 是否备案, 登记, 备案 | no (是/否; default 否) |
//! | `registered_on` | 登记日期, 备案日期 | no |
//! | `pledge_signed` | 保证书, 治安责任保证书, 是否签订保证书 | no (default 否) |
//! | `tenants` | 租住人数, 居住人数, 人数 | no (default 0) |
//! | `mode` | 管理模式 (委托式/自治式/旅馆式) | no (default 自治式) |
//! | `concentrated` | 集中居住, 是否集中居住 | no (default 否) |

use super::cells::{Seen, check_rows, mapping};
use super::table::{FileError, Table};
use super::{Column, Mapping, RowError};
use crate::atlas::Atlas;
use crate::crs::{Crs, LocalProjection};
use crate::model::{BuildingId, ManagementMode};
use geo::{BoundingRect, Contains, Point, Rect};
use time::Date;

const EXTERNAL_ID: usize = 0;
const BUILDING_ID: usize = 1;
const LON: usize = 2;
const LAT: usize = 3;
const LABEL: usize = 4;
const LANDLORD_NAME: usize = 5;
const LANDLORD_ID: usize = 6;
const LANDLORD_PHONE: usize = 7;
const REGISTERED: usize = 8;
const REGISTERED_ON: usize = 9;
const PLEDGE: usize = 10;
const TENANTS: usize = 11;
const MODE: usize = 12;
const CONCENTRATED: usize = 13;
const BUILDING: usize = 14;

/// The columns of the ledger, in the order of the constants above.
pub const COLUMNS: &[Column] = &[
    Column { name: "external_id", aliases: &["编号", "房屋编号", "出租房屋编号", "id"] },
    Column { name: "building_id", aliases: &["楼栋ID", "楼栋id"] },
    Column { name: "lon", aliases: &["经度", "longitude", "lng", "x"] },
    Column { name: "lat", aliases: &["纬度", "latitude", "y"] },
    Column { name: "label", aliases: &["房号", "室号", "room"] },
    Column { name: "landlord_name", aliases: &["房东姓名", "房东"] },
    Column { name: "landlord_id_number", aliases: &["房东身份证号", "房东身份证号码"] },
    Column { name: "landlord_phone", aliases: &["房东电话", "房东联系电话"] },
    Column { name: "registered", aliases: &["是否登记", "是否备案", "登记", "备案"] },
    Column { name: "registered_on", aliases: &["登记日期", "备案日期"] },
    Column { name: "pledge_signed", aliases: &["保证书", "治安责任保证书", "是否签订保证书"] },
    Column { name: "tenants", aliases: &["租住人数", "居住人数", "人数"] },
    Column { name: "mode", aliases: &["管理模式"] },
    Column { name: "concentrated", aliases: &["集中居住", "是否集中居住"] },
    Column { name: "building", aliases: &["楼栋编号", "building_external_id"] },
];

/// How far from a building's footprint a unit's coordinates may be and still be placed in it.
pub const MAX_DISTANCE_M: f64 = 30.0;
/// The most tenants one unit may record.
pub const MAX_TENANTS: u32 = 500;

/// Where a row puts its unit.
#[derive(Debug, Clone, PartialEq)]
pub enum Place {
    /// A building by its survey id (楼栋编号).
    SurveyId(String),
    /// A building by rentgrid's internal id.
    Building(BuildingId),
    /// WGS84 coordinates (converted from the file's system).
    Point(f64, f64),
}

/// A landlord as a row gives them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LandlordRecord {
    /// Name.
    pub name: String,
    /// ID number, valid by GB 11643 (empty when not given).
    pub id_number: String,
    /// Phone (empty when not given).
    pub phone: String,
}

/// A valid row, not yet placed in a building.
#[derive(Debug, Clone, PartialEq)]
pub struct UnitRecord {
    /// Its row in the file.
    pub row: usize,
    /// The ledger's id for the unit: a second import of it updates the same unit.
    pub external_id: String,
    /// Where it is.
    pub place: Place,
    /// The rest of the unit.
    pub unit: UnitFields,
}

/// What a ledger says of a unit.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct UnitFields {
    /// Room label.
    pub label: String,
    /// Landlord, if given.
    pub landlord: Option<LandlordRecord>,
    /// 登记/备案.
    pub registered: bool,
    /// When registered.
    pub registered_on: Option<Date>,
    /// 治安责任保证书 signed.
    pub pledge_signed: bool,
    /// Tenants.
    pub tenants: u32,
    /// Management mode.
    pub mode: ManagementMode,
    /// 集中居住.
    pub concentrated: bool,
}

/// A row placed in its building: what the store writes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ImportedUnit {
    /// Row in the file.
    pub row: usize,
    /// The ledger's id.
    pub external_id: String,
    /// The building.
    pub building_id: BuildingId,
    /// The rest.
    pub unit: UnitFields,
}

/// The valid rows, the bad ones, and the columns nobody knows.
pub type Parsed = super::Parsed<UnitRecord>;

fn parse_mode(s: &str) -> Result<ManagementMode, String> {
    match s.trim().to_lowercase().as_str() {
        "" | "自治式" | "自治" | "self_managed" | "self-managed" => Ok(ManagementMode::SelfManaged),
        "委托式" | "委托" | "entrusted" => Ok(ManagementMode::Entrusted),
        "旅馆式" | "旅馆" | "hotel_style" | "hotel-style" | "hotel" => Ok(ManagementMode::HotelStyle),
        _ => Err(format!("{s:?} is not a management mode (委托式, 自治式 or 旅馆式)")),
    }
}

/// Checks every row of `table`; coordinates are read in `crs`; dates after `today` are refused.
pub fn parse(table: &Table, crs: Crs, today: Date) -> Result<Parsed, FileError> {
    let place: &[&[usize]] = &[&[BUILDING], &[BUILDING_ID], &[LON, LAT]];
    let what = "楼栋编号 (building), 楼栋ID (building_id) or 经度/纬度 (lon/lat)";
    let m = mapping(table, COLUMNS, &[EXTERNAL_ID, LABEL], Some((place, what)))?;
    let mut seen = Seen::rows();
    Ok(check_rows(table, &m, COLUMNS, |r| {
        let external_id = r.key(EXTERNAL_ID, 64, &mut seen);
        let label = r.required(LABEL, 40);
        let (survey_id, building_id) = (r.cell(BUILDING), r.cell(BUILDING_ID));
        let place = if !survey_id.is_empty() {
            Some(Place::SurveyId(r.text(BUILDING, 64)))
        } else if !building_id.is_empty() {
            let id = building_id.parse::<u32>().map_err(|_| format!("{building_id:?} is not a building id"));
            r.check(BUILDING_ID, id).map(Place::Building)
        } else {
            r.lon_lat(LON, LAT, crs).map(|(x, y)| Place::Point(x, y))
        };
        let (name, idn, phone) = (r.cell(LANDLORD_NAME), r.cell(LANDLORD_ID), r.cell(LANDLORD_PHONE));
        let landlord = if name.is_empty() && idn.is_empty() && phone.is_empty() {
            None
        } else {
            if name.is_empty() {
                r.err(LANDLORD_NAME, "is empty while other landlord columns are filled");
            }
            let id_number = r.id_number(LANDLORD_ID);
            let phone = r.phone(LANDLORD_PHONE);
            Some(LandlordRecord { name: name.to_string(), id_number, phone })
        };
        let (registered, registered_on) = r.registration(REGISTERED, REGISTERED_ON, today);
        let pledge_signed = r.flag(PLEDGE).unwrap_or(false);
        let concentrated = r.flag(CONCENTRATED).unwrap_or(false);
        if pledge_signed && !registered {
            r.err(PLEDGE, "a safety pledge is signed for a registered unit, and this one is not registered");
        }
        let tenants = r.count(TENANTS, MAX_TENANTS);
        let mode = parse_mode(r.cell(MODE)).unwrap_or_else(|e| {
            r.err(MODE, e);
            ManagementMode::SelfManaged
        });
        Some(UnitRecord {
            row: r.row,
            external_id,
            place: place?,
            unit: UnitFields { label, landlord, registered, registered_on, pledge_signed, tenants, mode, concentrated },
        })
    }))
}

/// Places each record in a building of `atlas`: by survey id or id, or the building whose footprint holds
/// its coordinates, or the nearest within [`MAX_DISTANCE_M`].
pub fn resolve(
    records: Vec<UnitRecord>,
    atlas: &Atlas,
    mapping_headers: &[String],
) -> (Vec<ImportedUnit>, Vec<RowError>) {
    let m = Mapping::new(COLUMNS, mapping_headers);
    let mut ok = Vec::new();
    let mut errors = Vec::new();
    for r in records {
        let building = match r.place {
            Place::SurveyId(key) => atlas.building_by_external_id(&key).ok_or_else(|| RowError {
                row: r.row,
                column: Some(m.header(BUILDING, "building")),
                reason: format!("building {key:?} does not exist"),
            }),
            Place::Building(id) => atlas.building(id).map(|b| b.id).ok_or_else(|| RowError {
                row: r.row,
                column: Some(m.header(BUILDING_ID, "building_id")),
                reason: format!("building {id} does not exist"),
            }),
            Place::Point(lon, lat) => place_point(atlas, lon, lat).map_err(|reason| RowError {
                row: r.row,
                column: Some(m.header(LON, "lon")),
                reason,
            }),
        };
        match building {
            Ok(building_id) => {
                ok.push(ImportedUnit { row: r.row, external_id: r.external_id, building_id, unit: r.unit })
            }
            Err(e) => errors.push(e),
        }
    }
    (ok, errors)
}

fn place_point(atlas: &Atlas, lon: f64, lat: f64) -> Result<BuildingId, String> {
    if atlas.grid_at(lon, lat).is_none() {
        return Err(format!("({lon:.6}, {lat:.6}) is outside {}", atlas.district().name));
    }
    let p = Point::new(lon, lat);
    let d = 0.0005;
    let near = Rect::new(geo::coord! { x: lon - d, y: lat - d }, geo::coord! { x: lon + d, y: lat + d });
    if let Some(id) =
        atlas.buildings_in(near).into_iter().find(|&id| atlas.building(id).is_some_and(|b| b.footprint.contains(&p)))
    {
        return Ok(id);
    }
    let proj = LocalProjection::new(lon, lat);
    let nearest = atlas.nearest_buildings(lon, lat, 1).into_iter().next().and_then(|id| {
        let fb = atlas.building(id)?.footprint.bounding_rect()?;
        let cx = lon.clamp(fb.min().x, fb.max().x);
        let cy = lat.clamp(fb.min().y, fb.max().y);
        let (x, y) = proj.forward(cx, cy);
        Some((id, x.hypot(y)))
    });
    match nearest {
        Some((id, m)) if m <= MAX_DISTANCE_M => Ok(id),
        Some((_, m)) => {
            Err(format!("no building within {MAX_DISTANCE_M} m of ({lon:.6}, {lat:.6}): the nearest is {m:.0} m away"))
        }
        None => Err("the district has no buildings".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::table::read_csv;

    fn today() -> Date {
        time::macros::date!(2026 - 11 - 01)
    }

    #[test]
    fn english_headers_and_gcj02_coordinates_are_converted_to_wgs84() {
        let (wlon, wlat) = (121.5431, 29.8702);
        let (glon, glat) = crate::crs::wgs84_to_gcj02(wlon, wlat);
        let csv = format!("external_id,lon,lat,label,mode,tenants\nU1,{glon},{glat},3-302,entrusted,4\n");
        let t = read_csv(csv.as_bytes(), None).unwrap();
        let p = parse(&t, Crs::Gcj02, today()).unwrap();
        assert!(p.errors.is_empty(), "{:?}", p.errors);
        let Place::Point(x, y) = p.records[0].place else { panic!("not a point") };
        let proj = LocalProjection::new(wlon, wlat);
        let (dx, dy) = proj.forward(x, y);
        assert!(dx.hypot(dy) < 0.01, "converted point is {} m off", dx.hypot(dy));
        let u = &p.records[0].unit;
        assert_eq!((u.mode, u.tenants, u.registered, u.pledge_signed), (ManagementMode::Entrusted, 4, false, false));
    }

    #[test]
    fn a_registration_date_implies_registered_unless_the_row_says_otherwise() {
        let csv = "编号,楼栋编号,房号,是否登记,登记日期\nA,1,1,,2024-01-02\nB,1,2,否,2024-01-02\n";
        let p = parse(&read_csv(csv.as_bytes(), None).unwrap(), Crs::Wgs84, today()).unwrap();
        assert!(p.records[0].unit.registered);
        assert_eq!(p.errors.len(), 1);
        assert_eq!((p.errors[0].row, p.errors[0].column.as_deref()), (3, Some("是否登记")));
    }

    #[test]
    fn a_unit_is_placed_by_the_buildings_survey_id_or_internal_id() {
        let csv = "编号,楼栋编号,楼栋ID,房号\nA,B-2,,1\nB,,0,2\nC,B-9,,3\nD,,x,4\nA,B-1,,5\n";
        let t = read_csv(csv.as_bytes(), None).unwrap();
        let p = parse(&t, Crs::Wgs84, today()).unwrap();
        let bad: Vec<(usize, Option<&str>)> = p.errors.iter().map(|e| (e.row, e.column.as_deref())).collect();
        assert_eq!(bad, [(5, Some("楼栋ID")), (6, Some("编号"))]);
        let (units, errors) = resolve(p.records, crate::import::testing::atlas(), &t.headers);
        let placed: Vec<(usize, BuildingId)> = units.iter().map(|u| (u.row, u.building_id)).collect();
        assert_eq!(placed, [(2, 1), (3, 0)]);
        assert_eq!(errors.len(), 1);
        assert_eq!((errors[0].row, errors[0].column.as_deref()), (4, Some("楼栋编号")));
        assert!(errors[0].reason.contains("\"B-9\" does not exist"), "{}", errors[0].reason);
    }

    #[test]
    fn required_columns_are_named_when_missing() {
        let p = parse(&read_csv("房号,备注\n1,x\n".as_bytes(), None).unwrap(), Crs::Wgs84, today());
        let e = p.unwrap_err().to_string();
        assert!(
            e.contains("编号 (external_id)") && e.contains("楼栋编号 (building), 楼栋ID (building_id) or 经度/纬度"),
            "{e}"
        );
    }
}
