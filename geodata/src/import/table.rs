//! Reading a ledger file (台帐) into rows of text: encoding detection and CSV parsing, with
//! errors that name the row.

use std::fmt;

/// Text encodings ledgers arrive in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// UTF-8, with or without a byte-order mark.
    Utf8,
    /// GBK (read as GB18030, its superset).
    Gbk,
    /// GB18030.
    Gb18030,
}

impl std::str::FromStr for Encoding {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().replace(['-', '_'], "").as_str() {
            "utf8" => Ok(Encoding::Utf8),
            "gbk" | "cp936" => Ok(Encoding::Gbk),
            "gb18030" => Ok(Encoding::Gb18030),
            _ => Err(format!("unknown encoding {s:?}: use utf-8, gbk or gb18030")),
        }
    }
}

impl fmt::Display for Encoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Encoding::Utf8 => "UTF-8",
            Encoding::Gbk => "GBK",
            Encoding::Gb18030 => "GB18030",
        })
    }
}

/// The longest record accepted, in bytes: a ledger row is a few hundred.
pub const MAX_RECORD_BYTES: usize = 64 * 1024;

/// Why a file could not be read at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileError {
    /// Nothing in it.
    #[error("the file is empty")]
    Empty,
    /// Only a header row.
    #[error("the file has a header row but no data rows")]
    NoRows,
    /// Not text in the given or any detected encoding.
    #[error("{0}")]
    Encoding(String),
    /// Broken CSV.
    #[error("row {row}: {reason}")]
    Csv {
        /// 1-based row (the header is row 1).
        row: usize,
        /// What is wrong.
        reason: String,
    },
    /// A record longer than [`MAX_RECORD_BYTES`].
    #[error("row {row} is {bytes} bytes long; a ledger row is at most {MAX_RECORD_BYTES}: is this the right file?")]
    RecordTooLong {
        /// 1-based row.
        row: usize,
        /// Its length.
        bytes: usize,
    },
    /// Not a readable workbook.
    #[error("the file is not a readable .xlsx workbook (truncated, or not Excel 2007+): {0}")]
    Xlsx(String),
    /// Required columns are missing.
    #[error("missing column(s): {0}")]
    MissingColumns(String),
}

/// A decoded table: its header and its data rows, each with its 1-based row number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    /// The encoding the text was in.
    pub encoding: Encoding,
    /// Header cells, trimmed.
    pub headers: Vec<String>,
    /// Data rows: (row number, cells).
    pub rows: Vec<(usize, Vec<String>)>,
}

/// Decodes `bytes` as `encoding`, or detects it: a UTF-8 byte-order mark or valid UTF-8 means
/// UTF-8, anything else is tried as GB18030 (which reads GBK too).
pub fn decode(bytes: &[u8], encoding: Option<Encoding>) -> Result<(String, Encoding), FileError> {
    let utf8 = |b: &[u8]| -> Result<String, FileError> {
        let b = b.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(b);
        String::from_utf8(b.to_vec()).map_err(|e| {
            let at = e.utf8_error().valid_up_to();
            FileError::Encoding(format!(
                "row {}: the file is not valid UTF-8 (byte {at}); if it came from Excel in Chinese, try --encoding gbk",
                Lines::new(b).line_of(at),
            ))
        })
    };
    let gb = |b: &[u8], name: Encoding| -> Result<String, FileError> {
        let (text, had_errors) = encoding_rs::GB18030.decode_without_bom_handling(b);
        if had_errors {
            let bad = text.find('\u{FFFD}').map(|i| text[..i].matches('\n').count() + 1).unwrap_or(1);
            return Err(FileError::Encoding(format!("row {bad}: the file is not valid {name}")));
        }
        Ok(text.into_owned())
    };
    match encoding {
        Some(Encoding::Utf8) => utf8(bytes).map(|t| (t, Encoding::Utf8)),
        Some(e) => gb(bytes, e).map(|t| (t, e)),
        None if bytes.starts_with(b"\xEF\xBB\xBF") || std::str::from_utf8(bytes).is_ok() => {
            utf8(bytes).map(|t| (t, Encoding::Utf8))
        }
        None => gb(bytes, Encoding::Gb18030).map(|t| (t, Encoding::Gb18030)).map_err(|_| {
            FileError::Encoding(
                "the file is neither UTF-8 nor GBK/GB18030 text: save it as CSV (UTF-8) or name its encoding with --encoding"
                    .into(),
            )
        }),
    }
}

/// Reads a CSV ledger: decodes it, parses it, trims every cell, drops blank rows.
pub fn read_csv(bytes: &[u8], encoding: Option<Encoding>) -> Result<Table, FileError> {
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(FileError::Empty);
    }
    let (text, encoding) = decode(bytes, encoding)?;
    let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(text.as_bytes());
    let mut lines = Vec::new();
    let mut record = csv::ByteRecord::new();
    let mut line_numbers = Lines::new(text.as_bytes());
    loop {
        // The reader's own line count starts a record before the line breaks it skips and
        // counts only `\n`: count from the record's first byte instead.
        let at = usize::try_from(reader.position().byte()).unwrap_or(usize::MAX);
        let skipped =
            text.as_bytes().get(at..).unwrap_or_default().iter().take_while(|b| matches!(b, b'\r' | b'\n')).count();
        let row = line_numbers.line_of(at.saturating_add(skipped));
        match reader.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => return Err(FileError::Csv { row, reason: e.to_string() }),
        }
        let bytes_len = record.as_slice().len();
        if bytes_len > MAX_RECORD_BYTES {
            return Err(FileError::RecordTooLong { row, bytes: bytes_len });
        }
        // The text was decoded to UTF-8 above, so every field is valid UTF-8.
        lines.push((row, record.iter().map(|f| cell_text(&String::from_utf8_lossy(f))).collect()));
    }
    into_table(encoding, lines)
}

/// A cell's text without the spaces and byte-order marks around it: a second mark (a file
/// saved twice with one) is invisible in Excel but made the header `编号` unknown (found by
/// fuzzing).
fn cell_text(s: &str) -> String {
    s.trim_matches(|c: char| c.is_whitespace() || c == '\u{FEFF}').to_string()
}

/// The 1-based line numbers of byte offsets of a text, counting `\r\n`, `\r` and `\n` each as
/// one line break (as files from Windows, old Macs and Unix end their lines); offsets are asked
/// in increasing order.
struct Lines<'a> {
    text: &'a [u8],
    at: usize,
    line: usize,
}

impl<'a> Lines<'a> {
    fn new(text: &'a [u8]) -> Self {
        Self { text, at: 0, line: 1 }
    }

    /// The line of the byte at `offset` (the last line for an offset past the end).
    fn line_of(&mut self, offset: usize) -> usize {
        while self.at < offset.min(self.text.len()) {
            match self.text[self.at] {
                b'\n' => self.line += 1,
                b'\r' if self.text.get(self.at + 1) != Some(&b'\n') => self.line += 1,
                _ => {}
            }
            self.at += 1;
        }
        self.line
    }
}

/// The first non-blank line is the header, the other non-blank lines are the rows.
fn into_table(encoding: Encoding, lines: Vec<(usize, Vec<String>)>) -> Result<Table, FileError> {
    let mut lines = lines.into_iter().filter(|(_, cells)| !cells.iter().all(String::is_empty));
    let (_, headers) = lines.next().ok_or(FileError::Empty)?;
    let rows: Vec<(usize, Vec<String>)> = lines.collect();
    if rows.is_empty() {
        return Err(FileError::NoRows);
    }
    Ok(Table { encoding, headers, rows })
}

/// Reads a ledger in either format: an XLSX workbook (recognised by its ZIP signature; the
/// first sheet) or CSV text.
pub fn read_ledger(bytes: &[u8], encoding: Option<Encoding>) -> Result<Table, FileError> {
    if bytes.starts_with(b"PK\x03\x04") { read_xlsx(bytes) } else { read_csv(bytes, encoding) }
}

/// Reads the first sheet of an XLSX workbook: numbers without a fraction as integers, dates as
/// YYYY-MM-DD, every cell trimmed, blank rows dropped.
pub fn read_xlsx(bytes: &[u8]) -> Result<Table, FileError> {
    use calamine::{Data, Reader, Xlsx};
    let mut book: Xlsx<_> = calamine::open_workbook_from_rs(std::io::Cursor::new(bytes))
        .map_err(|e: calamine::XlsxError| FileError::Xlsx(e.to_string()))?;
    let first = book.sheet_names().first().cloned().ok_or(FileError::Empty)?;
    let range = book.worksheet_range(&first).map_err(|e| FileError::Xlsx(e.to_string()))?;
    let first_row = range.start().map_or(0, |(r, _)| r as usize);
    let text = |c: &Data| -> String {
        match c {
            Data::Empty => String::new(),
            Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => cell_text(s),
            Data::Int(i) => i.to_string(),
            Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
            Data::Float(f) => f.to_string(),
            Data::Bool(b) => if *b { "是" } else { "否" }.to_string(),
            Data::DateTime(d) => {
                // Excel's serial day 0 is 1899-12-30 (with its 1900 leap-year quirk folded in).
                let epoch = time::macros::date!(1899 - 12 - 30);
                epoch
                    .checked_add(time::Duration::days(d.as_f64().floor() as i64))
                    .map(|day| day.to_string())
                    .unwrap_or_default()
            }
            Data::Error(e) => format!("#{e:?}"),
        }
    };
    let mut lines = Vec::new();
    for (i, r) in range.rows().enumerate() {
        let row = first_row + i + 1;
        let cells: Vec<String> = r.iter().map(text).collect();
        let bytes: usize = cells.iter().map(String::len).sum();
        if bytes > MAX_RECORD_BYTES {
            return Err(FileError::RecordTooLong { row, bytes });
        }
        lines.push((row, cells));
    }
    into_table(Encoding::Utf8, lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_utf8_with_and_without_bom_and_gbk() {
        let text = "编号,房号\nA1,302\n";
        let t = read_csv(text.as_bytes(), None).unwrap();
        assert_eq!((t.encoding, t.headers.clone()), (Encoding::Utf8, vec!["编号".to_string(), "房号".to_string()]));
        assert_eq!(t.rows, vec![(2, vec!["A1".to_string(), "302".to_string()])]);
        let bom = [b"\xEF\xBB\xBF".as_slice(), text.as_bytes()].concat();
        assert_eq!(read_csv(&bom, None).unwrap().headers, t.headers);
        let (gbk, _, _) = encoding_rs::GBK.encode(text);
        let g = read_csv(&gbk, None).unwrap();
        assert_eq!((g.encoding, g.headers, g.rows), (Encoding::Gb18030, t.headers, t.rows));
    }

    #[test]
    fn a_wrong_encoding_flag_is_an_error_with_the_row() {
        let (gbk, _, _) = encoding_rs::GBK.encode("编号,房号\nA1,三楼\n");
        let e = read_csv(&gbk, Some(Encoding::Utf8)).unwrap_err();
        assert!(matches!(e, FileError::Encoding(ref m) if m.starts_with("row 1") && m.contains("gbk")), "{e}");
    }

    #[test]
    fn binary_garbage_empty_files_and_huge_rows_are_refused() {
        assert_eq!(read_csv(b"", None).unwrap_err(), FileError::Empty);
        assert_eq!(read_csv(b"  \n\n", None).unwrap_err(), FileError::Empty);
        assert_eq!(read_csv("编号,房号\n".as_bytes(), None).unwrap_err(), FileError::NoRows);
        assert!(matches!(read_csv(&[0xFF, 0xFE, 0x00, 0x81, 0x30], None).unwrap_err(), FileError::Encoding(_)));
        let mut big = b"a,b\n1,".to_vec();
        big.extend(std::iter::repeat_n(b'x', MAX_RECORD_BYTES + 10));
        assert!(matches!(read_csv(&big, None).unwrap_err(), FileError::RecordTooLong { row: 2, .. }));
    }

    fn workbook() -> Vec<u8> {
        let mut wb = rust_xlsxwriter::Workbook::new();
        let ws = wb.add_worksheet();
        for (c, h) in ["编号", "楼栋编号", "房号", "登记日期", "租住人数"].iter().enumerate() {
            ws.write_string(0, c as u16, *h).unwrap();
        }
        ws.write_string(1, 0, "X-1").unwrap();
        ws.write_number(1, 1, 12.0).unwrap();
        ws.write_string(1, 2, "302").unwrap();
        let date = rust_xlsxwriter::ExcelDateTime::from_ymd(2025, 3, 7).unwrap();
        ws.write_datetime_with_format(1, 3, &date, &rust_xlsxwriter::Format::new().set_num_format("yyyy-mm-dd"))
            .unwrap();
        ws.write_number(1, 4, 3.0).unwrap();
        wb.save_to_buffer().unwrap()
    }

    #[test]
    fn xlsx_ledgers_read_like_csv() {
        let t = read_ledger(&workbook(), None).unwrap();
        assert_eq!(t.headers[..3], ["编号", "楼栋编号", "房号"]);
        assert_eq!(t.rows, vec![(2, vec!["X-1".into(), "12".into(), "302".into(), "2025-03-07".into(), "3".into()])]);
    }

    #[test]
    fn a_truncated_workbook_is_an_error_not_a_panic() {
        let wb = workbook();
        for cut in [10, wb.len() / 3, wb.len() / 2, wb.len() - 10] {
            let e = read_ledger(&wb[..cut], None).unwrap_err();
            assert!(matches!(e, FileError::Xlsx(_)), "cut at {cut}: {e}");
        }
    }

    #[test]
    fn row_numbers_count_crlf_cr_and_blank_lines() {
        // Found by fuzzing: with CRLF endings every row was named one line early, and blank
        // lines and CR-only endings were not counted at all.
        let rows = |text: &str| read_csv(text.as_bytes(), None).unwrap().rows.iter().map(|r| r.0).collect::<Vec<_>>();
        assert_eq!(rows("a,b\r\n1,2\r\n\r\n3,4\r\n"), [2, 4]);
        assert_eq!(rows("a,b\n\n\n1,2\n\"x\ny\",3\n5,6"), [4, 5, 7]);
        assert_eq!(rows("\u{FEFF}a,b\r1,2\r\r3,4\r"), [2, 4]);
        // A file saved twice with a byte-order mark: the second is no part of the header.
        let t = read_csv("\u{FEFF}\u{FEFF}编号\nA1\n".as_bytes(), None).unwrap();
        assert_eq!(t.headers, ["编号"]);
        // A bad byte after a byte-order mark: the row is counted in the text, not 3 bytes off.
        let e = read_csv(b"\xEF\xBB\xBFa\n\x80", Some(Encoding::Utf8)).unwrap_err();
        assert!(matches!(e, FileError::Encoding(ref m) if m.starts_with("row 2:")), "{e}");
    }

    #[test]
    fn quoted_fields_and_blank_rows() {
        let t = read_csv("a,b\n\"x, y\",\"say \"\"hi\"\"\"\n,\n3,4\n".as_bytes(), None).unwrap();
        assert_eq!(t.rows, vec![(2, vec!["x, y".into(), "say \"hi\"".into()]), (4, vec!["3".into(), "4".into()])]);
    }
}
