//! Importers of ledgers (台帐): decode, map columns by Chinese or English header names,
//! validate every row, and report each bad row with its row number, column and reason.
//!
//! - [`table`]: reading CSV files in UTF-8 (with or without BOM), GBK or GB18030.
//! - [`cells`]: checking one row's cells: text, flags, counts, dates, coordinates, ID numbers.
//! - [`features`]: reading GeoJSON FeatureCollections into rows of properties and polygons.
//! - [`units`]: the rental-unit ledger (出租房屋台帐).
//! - [`buildings`]: building footprints from GeoJSON.
//! - [`persons`]: the migrant-person ledger (流动人口台帐).
//! - [`caseworkers`]: the caseworker roster (综管员花名册).
//! - [`workplaces`]: the workplace ledger (单位台帐, 工作地管理法).
//! - [`visits`]: the visit log (走访记录).
//! - [`grids`]: grids (网格) from GeoJSON.
//! - [`boundaries`]: the district, its streets (街道/镇/乡) and communities (社区/村) from GeoJSON.

pub mod boundaries;
pub mod buildings;
pub mod caseworkers;
pub mod cells;
pub mod features;
pub mod grids;
pub mod persons;
pub mod table;
#[cfg(test)]
pub(crate) mod testing;
pub mod units;
pub mod visits;
pub mod workplaces;

use std::fmt;

/// One problem with one row.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RowError {
    /// 1-based row of the file (the header is row 1).
    pub row: usize,
    /// The column's header as written in the file, when one column is at fault.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub column: Option<String>,
    /// What is wrong.
    pub reason: String,
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.column {
            Some(c) => write!(f, "row {}, column {c}: {}", self.row, self.reason),
            None => write!(f, "row {}: {}", self.row, self.reason),
        }
    }
}

/// What a ledger parser returns: the valid rows, the bad ones, and the columns nobody knows.
#[derive(Debug, Clone)]
pub struct Parsed<T> {
    /// Rows that passed every check.
    pub records: Vec<T>,
    /// One entry per problem.
    pub errors: Vec<RowError>,
    /// Headers ignored because they match no column.
    pub ignored_columns: Vec<String>,
}

impl<T> Parsed<T> {
    /// Nothing parsed yet; `ignored_columns` are the headers of `mapping` nobody knows.
    pub fn new(mapping: &Mapping) -> Self {
        Self { records: Vec::new(), errors: Vec::new(), ignored_columns: mapping.unknown.clone() }
    }
}

/// A column of a ledger: its canonical name and the header names it is known by.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    /// Canonical (English) name.
    pub name: &'static str,
    /// Accepted headers, Chinese and English; matching ignores case, spaces and underscores.
    pub aliases: &'static [&'static str],
}

fn normalise(h: &str) -> String {
    h.trim().to_lowercase().replace([' ', '_', '-', '　'], "")
}

/// Where each known column is in a header row, and the headers nobody knows.
#[derive(Debug, Clone)]
pub struct Mapping {
    positions: Vec<Option<usize>>,
    headers: Vec<String>,
    /// Headers that match no column (ignored).
    pub unknown: Vec<String>,
}

impl Mapping {
    /// Maps `headers` onto `columns`.
    pub fn new(columns: &[Column], headers: &[String]) -> Self {
        let norm: Vec<String> = headers.iter().map(|h| normalise(h)).collect();
        let positions: Vec<Option<usize>> = columns
            .iter()
            .map(|c| {
                let names: Vec<String> =
                    std::iter::once(c.name).chain(c.aliases.iter().copied()).map(normalise).collect();
                norm.iter().position(|h| names.contains(h))
            })
            .collect();
        let unknown = headers
            .iter()
            .enumerate()
            .filter(|(i, _)| !positions.contains(&Some(*i)))
            .map(|(_, h)| h.clone())
            .collect();
        Self { positions, headers: headers.to_vec(), unknown }
    }

    /// True when the column at `index` of the column list is present.
    pub fn has(&self, index: usize) -> bool {
        self.positions.get(index).copied().flatten().is_some()
    }

    /// The required columns (indexes into `columns`) that are absent, each named by its first
    /// alias and its canonical name, e.g. `编号 (external_id)`.
    pub fn missing(&self, columns: &[Column], required: &[usize]) -> Vec<String> {
        required
            .iter()
            .filter(|&&i| !self.has(i))
            .filter_map(|&i| columns.get(i))
            .map(|c| format!("{} ({})", c.aliases.first().unwrap_or(&c.name), c.name))
            .collect()
    }

    /// The cell of column `index` in `cells` ("" when absent).
    pub fn cell<'a>(&self, index: usize, cells: &'a [String]) -> &'a str {
        self.positions.get(index).copied().flatten().and_then(|p| cells.get(p)).map(String::as_str).unwrap_or("")
    }

    /// The header of column `index` as the file writes it, or `fallback`.
    pub fn header(&self, index: usize, fallback: &str) -> String {
        self.positions
            .get(index)
            .copied()
            .flatten()
            .and_then(|p| self.headers.get(p))
            .cloned()
            .unwrap_or(fallback.into())
    }
}

/// Parses a yes/no cell: 是/否, 有/无, 已…/未…, yes/no, y/n, true/false, 1/0; empty is `None`.
pub fn parse_flag(s: &str) -> Result<Option<bool>, String> {
    let t = s.trim().to_lowercase();
    if t.is_empty() {
        return Ok(None);
    }
    match t.as_str() {
        "是" | "有" | "y" | "yes" | "true" | "1" | "√" | "✓" => Ok(Some(true)),
        "否" | "无" | "n" | "no" | "false" | "0" | "×" | "✗" => Ok(Some(false)),
        _ if t.starts_with('已') => Ok(Some(true)),
        _ if t.starts_with('未') => Ok(Some(false)),
        _ => Err(format!("{s:?} is not yes or no (是/否)")),
    }
}

/// Parses a date as YYYY-MM-DD, YYYY/MM/DD, YYYY.MM.DD, YYYYMMDD or YYYY年MM月DD日.
pub fn parse_date(s: &str) -> Result<time::Date, String> {
    let t = s.trim();
    let digits: Vec<&str> = t.split(|c: char| !c.is_ascii_digit()).filter(|p| !p.is_empty()).collect();
    let (y, m, d) = match digits.as_slice() {
        [ymd] if ymd.len() == 8 => (&ymd[..4], &ymd[4..6], &ymd[6..]),
        [y, m, d] => (*y, *m, *d),
        _ => return Err(format!("{t:?} is not a date (YYYY-MM-DD)")),
    };
    let bad = || format!("{t:?} is not a date (YYYY-MM-DD)");
    let y: i32 = y.parse().map_err(|_| bad())?;
    let m: u8 = m.parse().map_err(|_| bad())?;
    let d: u8 = d.parse().map_err(|_| bad())?;
    let month = time::Month::try_from(m).map_err(|_| bad())?;
    time::Date::from_calendar_date(y, month, d).map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_and_dates_in_the_forms_ledgers_use() {
        for y in ["是", "有", "已登记", "Yes", "1", "TRUE", "√"] {
            assert_eq!(parse_flag(y), Ok(Some(true)), "{y}");
        }
        for n in ["否", "无", "未登记", "no", "0", "false"] {
            assert_eq!(parse_flag(n), Ok(Some(false)), "{n}");
        }
        assert_eq!(parse_flag(" "), Ok(None));
        assert!(parse_flag("maybe").is_err());
        let d = time::macros::date!(2024 - 03 - 07);
        for s in ["2024-03-07", "2024/3/7", "2024.03.07", "20240307", "2024年3月7日"] {
            assert_eq!(parse_date(s), Ok(d), "{s}");
        }
        for s in ["2024-02-30", "07/03/2024x", "yesterday", "2024-13-01"] {
            assert!(parse_date(s).is_err(), "{s}");
        }
    }

    #[test]
    fn headers_match_in_chinese_or_english_loosely() {
        let cols = [Column { name: "external_id", aliases: &["编号"] }, Column { name: "label", aliases: &["房号"] }];
        let m = Mapping::new(&cols, &["房号".into(), " External ID ".into(), "备注".into()]);
        assert!(m.has(0) && m.has(1));
        let cells = vec!["302".to_string(), "A1".to_string(), "x".to_string()];
        assert_eq!((m.cell(0, &cells), m.cell(1, &cells)), ("A1", "302"));
        assert_eq!(m.unknown, vec!["备注".to_string()]);
        assert_eq!(m.header(1, "label"), "房号");
    }
}
