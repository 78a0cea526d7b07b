//! Checking one row's cells, shared by every ledger: each check reports its problem against the
//! column's header as the file writes it and gives back a usable value (a default when bad), so
//! a row's every problem is reported at once.

use super::table::{FileError, Table};
use super::{Column, Mapping, Parsed, RowError, parse_date, parse_flag};
use crate::crs::Crs;
use crate::idcard::IdNumber;
use std::collections::BTreeMap;
use time::Date;

/// The earliest year a ledger's dates may fall in.
pub const MIN_YEAR: i32 = 1990;

/// One row being checked: its cells, where the columns are, and the problems found so far.
#[derive(Debug)]
pub struct Row<'a> {
    /// 1-based row of the file (or feature number of a GeoJSON file).
    pub row: usize,
    cells: &'a [String],
    mapping: &'a Mapping,
    columns: &'a [Column],
    /// The problems found so far.
    pub errors: Vec<RowError>,
}

impl<'a> Row<'a> {
    /// Starts checking row `row`, whose `cells` are laid out as `mapping` says.
    pub fn new(row: usize, cells: &'a [String], mapping: &'a Mapping, columns: &'a [Column]) -> Self {
        Self { row, cells, mapping, columns, errors: Vec::new() }
    }

    /// The cell of column `col` ("" when the column is absent).
    pub fn cell(&self, col: usize) -> &'a str {
        self.mapping.cell(col, self.cells)
    }

    /// Reports a problem with column `col`.
    pub fn err(&mut self, col: usize, reason: impl Into<String>) {
        let fallback = self.columns.get(col).map_or("", |c| c.name);
        let column = Some(self.mapping.header(col, fallback));
        self.errors.push(RowError { row: self.row, column, reason: reason.into() });
    }

    /// Reports a problem with the row as a whole (or a GeoJSON feature's geometry).
    pub fn err_row(&mut self, reason: impl Into<String>) {
        self.errors.push(RowError { row: self.row, column: None, reason: reason.into() });
    }

    /// The value of `result`, or `None` with its error reported against column `col`.
    pub fn check<T>(&mut self, col: usize, result: Result<T, String>) -> Option<T> {
        result.map_err(|e| self.err(col, e)).ok()
    }

    /// A text cell that may be empty, at most `max_chars` long.
    pub fn text(&mut self, col: usize, max_chars: usize) -> String {
        let s = self.cell(col);
        if s.chars().count() > max_chars {
            self.err(col, format!("is longer than {max_chars} characters"));
        }
        s.to_string()
    }

    /// A text cell that must not be empty, at most `max_chars` long.
    pub fn required(&mut self, col: usize, max_chars: usize) -> String {
        if self.cell(col).is_empty() {
            self.err(col, "is empty");
            return String::new();
        }
        self.text(col, max_chars)
    }

    /// A required key that must be unique in the file (a duplicate is reported against `seen`).
    pub fn key(&mut self, col: usize, max_chars: usize, seen: &mut Seen) -> String {
        let key = self.required(col, max_chars);
        if !key.is_empty() {
            let row = self.row;
            self.check(col, seen.check(&key, row));
        }
        key
    }

    /// A yes/no cell ([`parse_flag`]); `None` when empty or bad.
    pub fn flag(&mut self, col: usize) -> Option<bool> {
        self.check(col, parse_flag(self.cell(col))).flatten()
    }

    /// A whole number from 0 to `max`; 0 when empty or bad.
    pub fn count(&mut self, col: usize, max: u32) -> u32 {
        self.check(col, parse_count(self.cell(col), max)).flatten().unwrap_or(0)
    }

    /// A date ([`parse_date`]) not after `today` nor before [`MIN_YEAR`]; `None` when empty or bad.
    pub fn past_date(&mut self, col: usize, today: Date) -> Option<Date> {
        self.check(col, parse_past_date(self.cell(col), today)).flatten()
    }

    /// A phone number, or empty.
    pub fn phone(&mut self, col: usize) -> String {
        let phone = self.cell(col);
        let ok = phone.is_empty()
            || (phone.chars().all(|c| c.is_ascii_digit() || "+- ".contains(c)) && (7..=20).contains(&phone.len()));
        if !ok {
            self.err(col, format!("{phone:?} is not a phone number"));
        }
        phone.to_string()
    }

    /// An ID number valid by GB 11643, normalised; empty when the cell is empty or bad.
    pub fn id_number(&mut self, col: usize) -> String {
        let s = self.cell(col);
        if s.is_empty() {
            return String::new();
        }
        self.check(col, IdNumber::parse(s).map(|id| id.as_str().to_string()).map_err(|e| e.to_string()))
            .unwrap_or_default()
    }

    /// 登记 and its date: a date implies registered, unless the flag says 否 (an error).
    pub fn registration(&mut self, flag_col: usize, date_col: usize, today: Date) -> (bool, Option<Date>) {
        let flag = self.flag(flag_col);
        let on = self.past_date(date_col, today);
        let registered = match flag {
            Some(false) if on.is_some() => {
                self.err(flag_col, "says not registered, but a registration date is given");
                false
            }
            Some(r) => r,
            None => on.is_some(),
        };
        (registered, on)
    }

    /// A longitude/latitude pair in `crs`, converted to WGS84; `None` when bad or empty.
    pub fn lon_lat(&mut self, lon_col: usize, lat_col: usize, crs: Crs) -> Option<(f64, f64)> {
        let (lon, lat) = (self.cell(lon_col), self.cell(lat_col));
        if lon.is_empty() || lat.is_empty() {
            let col = if lon.is_empty() { lon_col } else { lat_col };
            self.err(col, "is empty: give the building or both coordinates");
            return None;
        }
        match (lon.parse::<f64>(), lat.parse::<f64>()) {
            (Ok(x), Ok(y)) if x.is_finite() && y.is_finite() => {
                let in_china = |x: f64, y: f64| (73.0..=136.0).contains(&x) && (3.0..=54.0).contains(&y);
                if in_china(x, y) {
                    Some(crs.to_wgs84(x, y))
                } else if in_china(y, x) {
                    self.err(lon_col, format!("({x}, {y}) looks like latitude and longitude swapped"));
                    None
                } else {
                    self.err(lon_col, format!("({x}, {y}) is not a longitude/latitude in China"));
                    None
                }
            }
            (Ok(_), Ok(_)) | (Err(_), _) => {
                self.err(lon_col, format!("{lon:?} is not a number"));
                None
            }
            (Ok(_), Err(_)) => {
                self.err(lat_col, format!("{lat:?} is not a number"));
                None
            }
        }
    }
}

/// Maps `table`'s headers onto `columns`, or names the missing ones: each of `required`, and
/// `place`'s description unless one of its groups of columns is wholly present.
pub fn mapping(
    table: &Table,
    columns: &[Column],
    required: &[usize],
    place: Option<(&[&[usize]], &str)>,
) -> Result<Mapping, FileError> {
    let m = Mapping::new(columns, &table.headers);
    let mut missing = m.missing(columns, required);
    if let Some((_, what)) = place.filter(|(groups, _)| !groups.iter().any(|g| g.iter().all(|&i| m.has(i)))) {
        missing.push(what.to_string());
    }
    if !missing.is_empty() {
        return Err(FileError::MissingColumns(missing.join(", ")));
    }
    Ok(m)
}

/// Checks every row of `table` with `check`, which returns the record when it could build one;
/// a row yields its record only when no check reported a problem.
pub fn check_rows<T>(
    table: &Table,
    mapping: &Mapping,
    columns: &[Column],
    mut check: impl FnMut(&mut Row<'_>) -> Option<T>,
) -> Parsed<T> {
    let mut out = Parsed::new(mapping);
    for (row, cells) in &table.rows {
        let mut r = Row::new(*row, cells, mapping, columns);
        match (check(&mut r), r.errors.is_empty()) {
            (Some(record), true) => out.records.push(record),
            _ => out.errors.extend(r.errors),
        }
    }
    out
}

/// Parses a whole number from 0 to `max`; empty is `None`.
pub fn parse_count(s: &str, max: u32) -> Result<Option<u32>, String> {
    if s.is_empty() {
        return Ok(None);
    }
    match s.parse::<u32>() {
        Ok(n) if n <= max => Ok(Some(n)),
        _ => Err(format!("{s:?} is not a whole number from 0 to {max}")),
    }
}

/// Parses a date ([`parse_date`]) not after `today` nor before [`MIN_YEAR`]; empty is `None`.
pub fn parse_past_date(s: &str, today: Date) -> Result<Option<Date>, String> {
    if s.is_empty() {
        return Ok(None);
    }
    match parse_date(s)? {
        d if d > today => Err(format!("{s} is in the future")),
        d if d.year() < MIN_YEAR => Err(format!("{s} is before {MIN_YEAR}")),
        d => Ok(Some(d)),
    }
}

/// The first row (or feature) each key was seen on, to report duplicates within a file.
#[derive(Debug, Clone)]
pub struct Seen {
    noun: &'static str,
    first: BTreeMap<String, usize>,
}

impl Seen {
    /// For a table's rows.
    pub fn rows() -> Self {
        Self { noun: "row", first: BTreeMap::new() }
    }

    /// For a GeoJSON file's features.
    pub fn features() -> Self {
        Self { noun: "feature", first: BTreeMap::new() }
    }

    /// Records `key` as seen at `at`; an error naming the first place when it was seen before.
    pub fn check(&mut self, key: &str, at: usize) -> Result<(), String> {
        match self.first.get(key) {
            Some(first) => Err(format!("{key:?} already appears on {} {first}", self.noun)),
            None => {
                self.first.insert(key.to_string(), at);
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn counts_and_dates_are_checked_against_their_range() {
        assert_eq!(parse_count("", 10), Ok(None));
        assert_eq!(parse_count("10", 10), Ok(Some(10)));
        for bad in ["11", "-1", "2.5", "x"] {
            assert!(parse_count(bad, 10).is_err(), "{bad}");
        }
        let today = date!(2026 - 01 - 01);
        assert_eq!(parse_past_date("2025-12-31", today), Ok(Some(date!(2025 - 12 - 31))));
        assert_eq!(parse_past_date("", today), Ok(None));
        assert!(parse_past_date("2026-01-02", today).unwrap_err().contains("future"));
        assert!(parse_past_date("1989-12-31", today).unwrap_err().contains("1990"));
    }

    #[test]
    fn a_row_reports_every_problem_against_the_header_as_written() {
        let cols = [Column { name: "lon", aliases: &["经度"] }, Column { name: "lat", aliases: &["纬度"] }];
        let m = Mapping::new(&cols, &["纬度".into(), "经度".into()]);
        let cells = vec!["121.5".to_string(), "29.8".to_string()];
        let mut r = Row::new(7, &cells, &m, &cols);
        assert_eq!(r.lon_lat(0, 1, Crs::Wgs84), None);
        assert_eq!(r.errors.len(), 1);
        assert_eq!((r.errors[0].row, r.errors[0].column.as_deref()), (7, Some("经度")));
        assert!(r.errors[0].reason.contains("swapped"));
        let mut seen = Seen::rows();
        assert!(seen.check("a", 2).is_ok());
        assert_eq!(seen.check("a", 5), Err("\"a\" already appears on row 2".into()));
    }
}
