//! The visit log (走访记录): one row per caseworker visit to a building, keyed by the id the
//! client gave it so a re-imported visit is recognised. Caseworkers are resolved by the store.
//!
//! | column | headers accepted | required |
//! |---|---|---|
//! | `client_id` | 走访编号, 编号, id | yes (unique in the file) |
//! | `building` | 楼栋编号 | yes: a building's survey id |
//! | `caseworker` | 综管员工号, 工号 | no |
//! | `visited_on` | 走访日期, 日期 | yes (not in the future, not before 1990) |
//! | `units_registered` | 登记房屋数 | no (default 0; at most 10,000) |
//! | `pledges_signed` | 签订保证书数 | no (default 0; at most 10,000) |
//! | `units_found` | 新发现房屋数 | no (default 0; at most 10,000) |
//! | `persons_found` | 新发现人数 | no (default 0; at most 10,000) |
//! | `notes` | 备注 | no (at most 500 characters) |

use super::cells::{Seen, check_rows, mapping};
use super::table::{FileError, Table};
use super::{Column, Parsed};
use crate::atlas::Atlas;
use crate::model::BuildingId;
use time::Date;

const CLIENT_ID: usize = 0;
const BUILDING: usize = 1;
const CASEWORKER: usize = 2;
const VISITED_ON: usize = 3;
const UNITS_REGISTERED: usize = 4;
const PLEDGES: usize = 5;
const UNITS_FOUND: usize = 6;
const PERSONS_FOUND: usize = 7;
const NOTES: usize = 8;

/// The columns of the log, in the order of the constants above.
pub const COLUMNS: &[Column] = &[
    Column { name: "client_id", aliases: &["走访编号", "编号", "id"] },
    Column { name: "building", aliases: &["楼栋编号"] },
    Column { name: "caseworker", aliases: &["综管员工号", "工号"] },
    Column { name: "visited_on", aliases: &["走访日期", "日期"] },
    Column { name: "units_registered", aliases: &["登记房屋数"] },
    Column { name: "pledges_signed", aliases: &["签订保证书数"] },
    Column { name: "units_found", aliases: &["新发现房屋数"] },
    Column { name: "persons_found", aliases: &["新发现人数"] },
    Column { name: "notes", aliases: &["备注"] },
];

/// The most of anything one visit may record.
pub const MAX_COUNT: u32 = 10_000;

/// A valid row: a visit to a building of the Atlas.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ImportedVisit {
    /// Row in the file.
    pub row: usize,
    /// The client's id for the visit.
    pub client_id: String,
    /// Building visited.
    pub building_id: BuildingId,
    /// The caseworker's 工号, when recorded.
    pub caseworker: Option<String>,
    /// When.
    pub visited_on: Date,
    /// Rental units registered during the visit.
    pub units_registered: u32,
    /// Safety pledges signed during the visit.
    pub pledges_signed: u32,
    /// Rental units found that the register lacked.
    pub units_found: u32,
    /// Persons found that the register lacked.
    pub persons_found: u32,
    /// Free-text notes.
    pub notes: String,
}

/// Checks every row of `table`; dates after `today` are refused, buildings found in `atlas`.
pub fn parse(table: &Table, today: Date, atlas: &Atlas) -> Result<Parsed<ImportedVisit>, FileError> {
    let m = mapping(table, COLUMNS, &[CLIENT_ID, BUILDING, VISITED_ON], None)?;
    let mut seen = Seen::rows();
    Ok(check_rows(table, &m, COLUMNS, |r| {
        let client_id = r.key(CLIENT_ID, 64, &mut seen);
        let key = r.required(BUILDING, 64);
        let building_id = atlas.building_by_external_id(&key);
        if building_id.is_none() && !key.is_empty() {
            r.err(BUILDING, format!("building {key:?} does not exist"));
        }
        let caseworker = Some(r.text(CASEWORKER, 64)).filter(|c| !c.is_empty());
        if r.cell(VISITED_ON).is_empty() {
            r.err(VISITED_ON, "is empty");
        }
        let visited_on = r.past_date(VISITED_ON, today);
        let [units_registered, pledges_signed, units_found, persons_found] =
            [UNITS_REGISTERED, PLEDGES, UNITS_FOUND, PERSONS_FOUND].map(|col| r.count(col, MAX_COUNT));
        let notes = r.text(NOTES, 500);
        Some(ImportedVisit {
            row: r.row,
            client_id,
            building_id: building_id?,
            caseworker,
            visited_on: visited_on?,
            units_registered,
            pledges_signed,
            units_found,
            persons_found,
            notes,
        })
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::table::read_csv;
    use crate::import::testing::atlas;
    use time::macros::date;

    fn parse_csv(csv: &str) -> Result<Parsed<ImportedVisit>, FileError> {
        parse(&read_csv(csv.as_bytes(), None).unwrap(), date!(2026 - 11 - 01), atlas())
    }

    #[test]
    fn good_rows_in_chinese_and_english() {
        let p = parse_csv(
            "走访编号,楼栋编号,综管员工号,走访日期,登记房屋数,签订保证书数,新发现房屋数,新发现人数,备注\n\
             V1,B-2,C1,2026-10-31,3,2,1,4,三楼新租户\n",
        )
        .unwrap();
        assert!(p.errors.is_empty(), "{:?}", p.errors);
        let v = &p.records[0];
        assert_eq!((v.building_id, v.caseworker.as_deref(), v.visited_on), (1, Some("C1"), date!(2026 - 10 - 31)));
        assert_eq!((v.units_registered, v.pledges_signed, v.units_found, v.persons_found), (3, 2, 1, 4));
        let p = parse_csv("id,building,visited_on,notes\nV2,B-1,2025/1/2,\n").unwrap();
        assert_eq!((p.records[0].building_id, p.records[0].caseworker.clone()), (0, None));
    }

    #[test]
    fn every_bad_row_is_reported_with_its_row_and_column() {
        let long = "x".repeat(501);
        let csv = format!(
            "编号,楼栋编号,日期,新发现人数,备注\nV1,B-1,2026-01-01,,\nV1,B-9,2026-12-01,,\nV3,,1989-05-05,10001,{long}\nV4,B-1,,,\n"
        );
        let p = parse_csv(&csv).unwrap();
        let bad: Vec<(usize, Option<&str>)> = p.errors.iter().map(|e| (e.row, e.column.as_deref())).collect();
        assert_eq!(
            bad,
            [
                (3, Some("编号")),
                (3, Some("楼栋编号")),
                (3, Some("日期")),
                (4, Some("楼栋编号")),
                (4, Some("日期")),
                (4, Some("新发现人数")),
                (4, Some("备注")),
                (5, Some("日期")),
            ]
        );
        assert!(p.errors[2].reason.contains("future") && p.errors[4].reason.contains("1990"));
        let e = parse_csv("编号,备注\nV1,x\n").unwrap_err().to_string();
        assert!(e.contains("楼栋编号 (building)") && e.contains("走访日期 (visited_on)"), "{e}");
    }
}
