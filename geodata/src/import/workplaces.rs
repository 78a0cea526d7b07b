//! The workplace ledger (单位台帐, 工作地管理法): one row per employer of migrants, placed in a
//! building by its survey id or by coordinates inside the district.
//!
//! | column | headers accepted | required |
//! |---|---|---|
//! | `external_id` | 统一社会信用代码, 单位编号, 编号, id | yes (unique in the file) |
//! | `name` | 单位名称, 名称 | yes |
//! | `building` | 楼栋编号, building | this or lon/lat: the building's survey id |
//! | `lon`, `lat` | 经度, 纬度, longitude, latitude, lng, x, y | this or building (with both, the coordinates place it) |
//! | `employees` | 职工人数, 员工人数 | no (default 0) |
//! | `migrant_workers` | 流动人口数, 外来务工人数 | no (default 0; at most employees) |
//! | `responsibility_signed` | 责任书, 是否签订责任书 | no (是/否; default 否) |
//! | `contracts_signed` | 签订劳动合同人数, 劳动合同 | no (default 0; at most the employees) |
//! | `insured` | 参保人数, 社保 | no (default 0; at most the employees) |

use super::cells::{Seen, check_rows, mapping};
use super::table::{FileError, Table};
use super::{Column, Parsed};
use crate::atlas::Atlas;
use crate::crs::Crs;
use crate::model::{BuildingId, GridId};
use geo::Point;

const EXTERNAL_ID: usize = 0;
const NAME: usize = 1;
const BUILDING: usize = 2;
const LON: usize = 3;
const LAT: usize = 4;
const EMPLOYEES: usize = 5;
const MIGRANTS: usize = 6;
const RESPONSIBILITY: usize = 7;
const CONTRACTS: usize = 8;
const INSURED: usize = 9;

/// The columns of the ledger, in the order of the constants above.
pub const COLUMNS: &[Column] = &[
    Column { name: "external_id", aliases: &["统一社会信用代码", "单位编号", "编号", "id"] },
    Column { name: "name", aliases: &["单位名称", "名称"] },
    Column { name: "building", aliases: &["楼栋编号"] },
    Column { name: "lon", aliases: &["经度", "longitude", "lng", "x"] },
    Column { name: "lat", aliases: &["纬度", "latitude", "y"] },
    Column { name: "employees", aliases: &["职工人数", "员工人数"] },
    Column { name: "migrant_workers", aliases: &["流动人口数", "外来务工人数"] },
    Column { name: "responsibility_signed", aliases: &["责任书", "是否签订责任书"] },
    Column { name: "contracts_signed", aliases: &["签订劳动合同人数", "劳动合同"] },
    Column { name: "insured", aliases: &["参保人数", "社保"] },
];

/// The most employees one workplace may record.
pub const MAX_EMPLOYEES: u32 = 100_000;

/// A valid row, placed in its grid.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ImportedWorkplace {
    /// Row in the file.
    pub row: usize,
    /// The ledger's id (统一社会信用代码 or the ledger's own number).
    pub external_id: String,
    /// Name.
    pub name: String,
    /// The building it occupies, when the row names one.
    pub building_id: Option<BuildingId>,
    /// The grid it lies in.
    pub grid_id: GridId,
    /// Location (WGS84): the building's point, or the row's coordinates.
    #[serde(skip)]
    pub point: Point<f64>,
    /// Employees.
    pub employees: u32,
    /// Migrant workers among them.
    pub migrant_workers: u32,
    /// Signed the management responsibility letter.
    pub responsibility_signed: bool,
    /// 五清: labour contracts signed.
    pub contracts_signed: u32,
    /// 五清: social insurance paid for.
    pub insured: u32,
}

/// Checks every row of `table`; coordinates are read in `crs` and placed in grids of `atlas`.
pub fn parse(table: &Table, crs: Crs, atlas: &Atlas) -> Result<Parsed<ImportedWorkplace>, FileError> {
    let place: &[&[usize]] = &[&[BUILDING], &[LON, LAT]];
    let m = mapping(table, COLUMNS, &[EXTERNAL_ID, NAME], Some((place, "楼栋编号 (building) or 经度/纬度 (lon/lat)")))?;
    let mut seen = Seen::rows();
    Ok(check_rows(table, &m, COLUMNS, |r| {
        let external_id = r.key(EXTERNAL_ID, 64, &mut seen);
        let name = r.required(NAME, 100);
        let employees = r.count(EMPLOYEES, MAX_EMPLOYEES);
        let migrant_workers = r.count(MIGRANTS, MAX_EMPLOYEES);
        if migrant_workers > employees {
            r.err(MIGRANTS, format!("{migrant_workers} migrant workers is more than the {employees} employees"));
        }
        let responsibility_signed = r.flag(RESPONSIBILITY).unwrap_or(false);
        let contracts_signed = r.count(CONTRACTS, MAX_EMPLOYEES);
        let insured = r.count(INSURED, MAX_EMPLOYEES);
        // 五清 counts the employer's whole staff: contracts and insurance of all employees.
        for (col, n) in [(CONTRACTS, contracts_signed), (INSURED, insured)] {
            if n > employees {
                r.err(col, format!("{n} is more than the {employees} employees"));
            }
        }
        let key = r.cell(BUILDING);
        let (building_id, grid_id, point) = if !key.is_empty() {
            let Some(b) = atlas.building_by_external_id(key).and_then(|id| atlas.building(id)) else {
                r.err(BUILDING, format!("building {key:?} does not exist"));
                return None;
            };
            // Coordinates, when given too, say where in (or at) the building it is.
            let point = if r.cell(LON).is_empty() && r.cell(LAT).is_empty() {
                b.point
            } else {
                let (lon, lat) = r.lon_lat(LON, LAT, crs)?;
                Point::new(lon, lat)
            };
            (Some(b.id), b.grid_id, point)
        } else {
            let (lon, lat) = r.lon_lat(LON, LAT, crs)?;
            let Some(grid) = atlas.grid_at(lon, lat) else {
                r.err(LON, format!("({lon:.6}, {lat:.6}) is outside {}", atlas.district().name));
                return None;
            };
            (None, grid, Point::new(lon, lat))
        };
        Some(ImportedWorkplace {
            row: r.row,
            external_id,
            name,
            building_id,
            grid_id,
            point,
            employees,
            migrant_workers,
            responsibility_signed,
            contracts_signed,
            insured,
        })
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::table::read_csv;
    use crate::import::testing::atlas;

    fn parse_csv(csv: &str) -> Result<Parsed<ImportedWorkplace>, FileError> {
        parse(&read_csv(csv.as_bytes(), None).unwrap(), Crs::Wgs84, atlas())
    }

    #[test]
    fn good_rows_in_a_building_or_at_coordinates() {
        let p = parse_csv(
            "统一社会信用代码,单位名称,楼栋编号,经度,纬度,职工人数,外来务工人数,是否签订责任书,劳动合同,社保\n\
             91330203MA1,甬江制衣厂,B-2,,,120,80,是,70,60\n\
             91330203MA2,小吃店,,121.51,29.81,,,,,\n",
        )
        .unwrap();
        assert!(p.errors.is_empty(), "{:?}", p.errors);
        let a = &p.records[0];
        assert_eq!((a.building_id, a.grid_id, a.point), (Some(1), 1, atlas().buildings()[1].point));
        assert_eq!(
            (a.employees, a.migrant_workers, a.responsibility_signed, a.contracts_signed, a.insured),
            (120, 80, true, 70, 60)
        );
        let b = &p.records[1];
        assert_eq!((b.building_id, b.grid_id, b.employees), (None, 0, 0));
        let p = parse_csv("id,name,building,employees,migrant_workers\nW1,Shop,B-1,3,2\n").unwrap();
        assert_eq!((p.records[0].building_id, p.records[0].migrant_workers), (Some(0), 2));
    }

    #[test]
    fn every_bad_row_is_reported_with_its_row_and_column() {
        let p = parse_csv(
            "编号,名称,楼栋编号,经度,纬度,员工人数,流动人口数,签订劳动合同人数,参保人数\n\
             W1,甲,B-1,,,10,5,5,5\n\
             W1,,B-9,,,10,11,,\n\
             W3,丙,,29.81,121.51,5,5,6,9\n\
             W4,丁,,121.70,29.90,x,,,\n",
        )
        .unwrap();
        let bad: Vec<(usize, Option<&str>)> = p.errors.iter().map(|e| (e.row, e.column.as_deref())).collect();
        assert_eq!(
            bad,
            [
                (3, Some("编号")),
                (3, Some("名称")),
                (3, Some("流动人口数")),
                (3, Some("楼栋编号")),
                (4, Some("签订劳动合同人数")),
                (4, Some("参保人数")),
                (4, Some("经度")),
                (5, Some("员工人数")),
                (5, Some("经度")),
            ]
        );
        assert!(p.errors[6].reason.contains("swapped"), "{}", p.errors[6].reason);
        assert!(p.errors[8].reason.contains("outside 海曙区"), "{}", p.errors[8].reason);
        let e = parse_csv("名称,职工人数\n甲,1\n").unwrap_err().to_string();
        assert!(e.contains("统一社会信用代码 (external_id)") && e.contains("楼栋编号 (building) or 经度/纬度"), "{e}");
    }
}
