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
    let row_at = |offset: usize| bytes[..offset.min(bytes.len())].iter().filter(|&&b| b == b'\n').count() + 1;
    let utf8 = |b: &[u8]| -> Result<String, FileError> {
        let b = b.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(b);
        String::from_utf8(b.to_vec()).map_err(|e| {
            FileError::Encoding(format!(
                "row {}: the file is not valid UTF-8 (byte {}); if it came from Excel in Chinese, try --encoding gbk",
                row_at(e.utf8_error().valid_up_to()),
                e.utf8_error().valid_up_to()
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
    let mut headers: Option<Vec<String>> = None;
    let mut rows = Vec::new();
    let mut record = csv::ByteRecord::new();
    loop {
        let row = reader.position().line() as usize;
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
        let cells: Vec<String> = record.iter().map(|f| String::from_utf8_lossy(f).trim().to_string()).collect();
        if cells.iter().all(String::is_empty) {
            continue;
        }
        match &headers {
            None => headers = Some(cells),
            Some(_) => rows.push((row, cells)),
        }
    }
    let headers = headers.ok_or(FileError::Empty)?;
    if rows.is_empty() {
        return Err(FileError::NoRows);
    }
    Ok(Table { encoding, headers, rows })
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

    #[test]
    fn quoted_fields_and_blank_rows() {
        let t = read_csv("a,b\n\"x, y\",\"say \"\"hi\"\"\"\n,\n3,4\n".as_bytes(), None).unwrap();
        assert_eq!(t.rows, vec![(2, vec!["x, y".into(), "say \"hi\"".into()]), (4, vec!["3".into(), "4".into()])]);
    }
}
