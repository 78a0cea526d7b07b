//! The migrant-person ledger (流动人口台帐): one row per person, placed in a rental unit by the
//! unit's ledger id and, within it, in a household by its card number. Units, households and
//! workplaces are resolved by the store, not here.
//!
//! | column | headers accepted | required |
//! |---|---|---|
//! | `unit` | 出租房屋编号, 房屋编号, unit_external_id | yes: the rental unit's ledger id |
//! | `household` | 户号, 卡号, card_no | no (empty: the unit's default household) |
//! | `name` | 姓名 | yes |
//! | `id_number` | 身份证号, 身份证号码, 公民身份号码 | yes (GB 11643; unique in the file) |
//! | `phone` | 联系电话, 电话, 手机 | no |
//! | `registered` | 是否登记, 登记 | no (是/否; default 否, or 是 when a date is given) |
//! | `registered_on` | 登记日期 | no |
//! | `permit` | 是否办证, 办证, 居住证 | no (default 否; registered persons only) |
//! | `consistent` | 人户一致, 是否人户一致 | no (default 是 for registered persons; registered only) |
//! | `workplace` | 工作单位编号, 单位编号, workplace_external_id | no: the workplace's ledger id |

use super::cells::{Seen, check_rows, mapping};
use super::table::{FileError, Table};
use super::{Column, Parsed};
use time::Date;

const UNIT: usize = 0;
const HOUSEHOLD: usize = 1;
const NAME: usize = 2;
const ID_NUMBER: usize = 3;
const PHONE: usize = 4;
const REGISTERED: usize = 5;
const REGISTERED_ON: usize = 6;
const PERMIT: usize = 7;
const CONSISTENT: usize = 8;
const WORKPLACE: usize = 9;

/// The columns of the ledger, in the order of the constants above.
pub const COLUMNS: &[Column] = &[
    Column { name: "unit", aliases: &["出租房屋编号", "房屋编号", "unit_external_id"] },
    Column { name: "household", aliases: &["户号", "卡号", "card_no"] },
    Column { name: "name", aliases: &["姓名"] },
    Column { name: "id_number", aliases: &["身份证号", "身份证号码", "公民身份号码"] },
    Column { name: "phone", aliases: &["联系电话", "电话", "手机"] },
    Column { name: "registered", aliases: &["是否登记", "登记"] },
    Column { name: "registered_on", aliases: &["登记日期"] },
    Column { name: "permit", aliases: &["是否办证", "办证", "居住证"] },
    Column { name: "consistent", aliases: &["人户一致", "是否人户一致"] },
    Column { name: "workplace", aliases: &["工作单位编号", "单位编号", "workplace_external_id"] },
];

/// A valid row: a person, with the ledger ids of their unit and workplace.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ImportedPerson {
    /// Row in the file.
    pub row: usize,
    /// The rental unit's ledger id.
    pub unit: String,
    /// Household card number (empty: the unit's default household).
    pub household: String,
    /// Name.
    pub name: String,
    /// 身份证号, normalised.
    pub id_number: String,
    /// Phone (empty when not given).
    pub phone: String,
    /// 登记.
    pub registered: bool,
    /// When registered.
    pub registered_on: Option<Date>,
    /// 办证.
    pub permit: bool,
    /// 人户一致.
    pub consistent: bool,
    /// The workplace's ledger id.
    pub workplace: Option<String>,
}

/// Checks every row of `table`; dates after `today` are refused.
pub fn parse(table: &Table, today: Date) -> Result<Parsed<ImportedPerson>, FileError> {
    let m = mapping(table, COLUMNS, &[UNIT, NAME, ID_NUMBER], None)?;
    let mut seen = Seen::rows();
    Ok(check_rows(table, &m, COLUMNS, |r| {
        let unit = r.required(UNIT, 64);
        let household = r.text(HOUSEHOLD, 64);
        let name = r.required(NAME, 40);
        let id_number = match r.cell(ID_NUMBER) {
            "" => {
                r.err(ID_NUMBER, "is empty");
                String::new()
            }
            _ => r.id_number(ID_NUMBER),
        };
        if !id_number.is_empty() {
            let row = r.row;
            r.check(ID_NUMBER, seen.check(&id_number, row));
        }
        let phone = r.phone(PHONE);
        let (registered, registered_on) = r.registration(REGISTERED, REGISTERED_ON, today);
        let permit = r.flag(PERMIT);
        let consistent = r.flag(CONSISTENT);
        for (col, given) in [(PERMIT, permit), (CONSISTENT, consistent)] {
            if given == Some(true) && !registered {
                r.err(col, "is recorded for registered persons, and this one is not registered");
            }
        }
        let workplace = Some(r.text(WORKPLACE, 64)).filter(|w| !w.is_empty());
        Some(ImportedPerson {
            row: r.row,
            unit,
            household,
            name,
            id_number,
            phone,
            registered,
            registered_on,
            permit: permit.unwrap_or(false),
            consistent: registered && consistent.unwrap_or(true),
            workplace,
        })
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::table::read_csv;
    use time::macros::date;

    fn parse_csv(csv: &str) -> Result<Parsed<ImportedPerson>, FileError> {
        parse(&read_csv(csv.as_bytes(), None).unwrap(), date!(2026 - 11 - 01))
    }

    fn bad(p: &Parsed<ImportedPerson>) -> Vec<(usize, Option<&str>)> {
        p.errors.iter().map(|e| (e.row, e.column.as_deref())).collect()
    }

    #[test]
    fn good_rows_with_chinese_headers() {
        let p = parse_csv(
            "出租房屋编号,户号,姓名,身份证号码,手机,登记日期,办证,人户一致,单位编号\n\
             U1,H1,张三,330203199001010014,13800000000,2024-05-06,是,,W1\n\
             U1,,李四,330203198512310022,,,,,\n",
        )
        .unwrap();
        assert!(p.errors.is_empty(), "{:?}", p.errors);
        let a = &p.records[0];
        assert_eq!((a.row, a.unit.as_str(), a.household.as_str(), a.workplace.as_deref()), (2, "U1", "H1", Some("W1")));
        assert_eq!(
            (a.registered, a.registered_on, a.permit, a.consistent),
            (true, Some(date!(2024 - 05 - 06)), true, true)
        );
        let b = &p.records[1];
        assert_eq!((b.registered, b.permit, b.consistent, b.workplace.clone()), (false, false, false, None));
    }

    #[test]
    fn good_rows_with_english_headers_and_a_normalised_id_number() {
        let p = parse_csv(
            "unit_external_id,card_no,name,id_number,registered,consistent\nU2,7,Li Si,11010519491231002x,yes,no\n",
        )
        .unwrap();
        assert!(p.errors.is_empty(), "{:?}", p.errors);
        let r = &p.records[0];
        assert_eq!((r.id_number.as_str(), r.registered, r.consistent), ("11010519491231002X", true, false));
    }

    #[test]
    fn every_bad_row_is_reported_with_its_row_and_column() {
        let p = parse_csv(
            "房屋编号,姓名,身份证号,电话,是否登记,登记日期,是否办证,是否人户一致\n\
             U1,张三,330203199001010014,,,,,\n\
             ,李四,330203199001010014,12ab,,,,\n\
             U1,,330203199001010015,,否,2024-01-01,,\n\
             U1,王五,,,,2099-01-01,是,是\n\
             U1,赵六,440524198001010013,,否,,是,\n",
        )
        .unwrap();
        assert_eq!(p.records.len(), 1);
        assert_eq!(
            bad(&p),
            [
                (3, Some("房屋编号")),
                (3, Some("身份证号")),
                (3, Some("电话")),
                (4, Some("姓名")),
                (4, Some("身份证号")),
                (4, Some("是否登记")),
                (5, Some("身份证号")),
                (5, Some("登记日期")),
                (5, Some("是否办证")),
                (5, Some("是否人户一致")),
                (6, Some("是否办证")),
            ]
        );
        assert!(p.errors[1].reason.contains("already appears on row 2"), "{}", p.errors[1].reason);
        assert!(p.errors[7].reason.contains("future"), "{}", p.errors[7].reason);
    }

    #[test]
    fn required_columns_are_named_when_missing() {
        let e = parse_csv("姓名,电话\n张三,1\n").unwrap_err().to_string();
        assert!(e.contains("出租房屋编号 (unit)") && e.contains("身份证号 (id_number)") && !e.contains("姓名"), "{e}");
    }
}
