//! The caseworker roster (综管员花名册): one row per caseworker, with the street team they belong
//! to and the grids they are contracted to (包干法).
//!
//! | column | headers accepted | required |
//! |---|---|---|
//! | `external_id` | 工号, 编号, id | yes (unique in the file) |
//! | `name` | 姓名 | yes |
//! | `street` | 所属街道, 街道, street_code | yes: a street's code or name |
//! | `grids` | 包干网格, 网格, grid_codes | no: grid codes separated by `;` `；` `,` `，` `、` or spaces |

use super::cells::{Seen, check_rows, mapping};
use super::table::{FileError, Table};
use super::{Column, Parsed};
use crate::atlas::Atlas;
use crate::model::GridId;

const EXTERNAL_ID: usize = 0;
const NAME: usize = 1;
const STREET: usize = 2;
const GRIDS: usize = 3;

/// The columns of the roster, in the order of the constants above.
pub const COLUMNS: &[Column] = &[
    Column { name: "external_id", aliases: &["工号", "编号", "id"] },
    Column { name: "name", aliases: &["姓名"] },
    Column { name: "street", aliases: &["所属街道", "街道", "street_code"] },
    Column { name: "grids", aliases: &["包干网格", "网格", "grid_codes"] },
];

/// A valid row: a caseworker with their street and grids resolved.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ImportedCaseworker {
    /// Row in the file.
    pub row: usize,
    /// 工号.
    pub external_id: String,
    /// Name.
    pub name: String,
    /// Code of their street.
    pub street_code: String,
    /// Contracted grids, in the row's order, each once.
    pub grids: Vec<GridId>,
}

/// Checks every row of `table` against the streets and grids of `atlas`.
pub fn parse(table: &Table, atlas: &Atlas) -> Result<Parsed<ImportedCaseworker>, FileError> {
    let m = mapping(table, COLUMNS, &[EXTERNAL_ID, NAME, STREET], None)?;
    let mut seen = Seen::rows();
    Ok(check_rows(table, &m, COLUMNS, |r| {
        let external_id = r.key(EXTERNAL_ID, 64, &mut seen);
        let name = r.required(NAME, 40);
        let street = r.required(STREET, 64);
        let found = atlas.streets().iter().find(|s| s.street.code == street || s.street.name == street);
        if found.is_none() && !street.is_empty() {
            r.err(STREET, format!("{street:?} is not a street of {}", atlas.district().name));
        }
        let mut grids = Vec::new();
        let codes = r.cell(GRIDS).split(|c: char| ";；,，、".contains(c) || c.is_whitespace());
        for code in codes.filter(|c| !c.is_empty()) {
            match atlas.grid_by_code(code) {
                Some(id) if !grids.contains(&id) => grids.push(id),
                Some(_) => {}
                None => r.err(GRIDS, format!("grid {code:?} does not exist")),
            }
        }
        Some(ImportedCaseworker { row: r.row, external_id, name, street_code: found?.street.code.clone(), grids })
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::table::read_csv;
    use crate::import::testing::atlas;

    fn parse_csv(csv: &str) -> Result<Parsed<ImportedCaseworker>, FileError> {
        parse(&read_csv(csv.as_bytes(), None).unwrap(), atlas())
    }

    #[test]
    fn good_rows_in_chinese_and_english() {
        let p = parse_csv(
            "工号,姓名,所属街道,包干网格\nC1,张三,南门街道,\"330203001001001；330203100201001、330203001001001\"\nC2,李四,330203100000,\n",
        )
        .unwrap();
        assert!(p.errors.is_empty(), "{:?}", p.errors);
        let got: Vec<(&str, &str, Vec<GridId>)> =
            p.records.iter().map(|c| (c.external_id.as_str(), c.street_code.as_str(), c.grids.clone())).collect();
        assert_eq!(got, [("C1", "330203001000", vec![0, 1]), ("C2", "330203100000", vec![])]);
        let p =
            parse_csv("id,name,street_code,grid_codes\nC3,Wang,集士港镇,330203100201001 330203001001001\n").unwrap();
        assert_eq!(p.records[0].grids, [1, 0]);
    }

    #[test]
    fn every_bad_row_is_reported_with_its_row_and_column() {
        let p = parse_csv("工号,姓名,街道,网格\nC1,张三,南门街道,\nC1,,北门街道,330203001001001;X9\n").unwrap();
        let bad: Vec<(usize, Option<&str>)> = p.errors.iter().map(|e| (e.row, e.column.as_deref())).collect();
        assert_eq!(bad, [(3, Some("工号")), (3, Some("姓名")), (3, Some("街道")), (3, Some("网格"))]);
        assert!(p.errors[3].reason.contains("\"X9\""), "{}", p.errors[3].reason);
        let e = parse_csv("姓名\n张三\n").unwrap_err().to_string();
        assert!(e.contains("工号 (external_id)") && e.contains("所属街道 (street)"), "{e}");
    }
}
