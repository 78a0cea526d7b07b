//! Fuzz targets of the parsers that read outside input (issue 18): the ledger files (CSV in
//! UTF-8 or GBK, XLSX) and every ledger's row checks, the GeoJSON importers, the encoding
//! detection, the ID-number validator and the coordinate converters. No input may panic; where
//! a parser has an invariant, it is checked (see each target). Seeds are in `fuzz/corpus/`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::crs::{self, Crs, LocalProjection};
use crate::fuzz_inputs;
use crate::fuzzing::{Count, corpus, run_corpus};
use crate::idcard::IdNumber;
use crate::import::table::{self, Encoding, FileError, Table};
use crate::import::testing::atlas;
use crate::import::{
    RowError, boundaries, buildings, caseworkers, features, grids, persons, units, visits, workplaces,
};
use std::collections::BTreeSet;
use std::path::PathBuf;

fn seeds(target: &str) -> Vec<(String, Vec<u8>)> {
    corpus(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus").join(target))
}

/// Tokens that matter to CSV and to the cells' checks.
const CSV_WORDS: &[&[u8]] = &[
    b"\"",
    b",",
    b"\n",
    b"\r\n",
    b"\r",
    b"\"\"",
    b"\xEF\xBB\xBF",
    b"\xFF",
    b"\x81\x30",
    b"\xB1\xE0\xBA\xC5",
    "是".as_bytes(),
    "否".as_bytes(),
    "已登记".as_bytes(),
    b"2024-02-30",
    b"2024/3/7",
    b"99999999999999999999",
    b"-1",
    b"NaN",
    b"inf",
    b"1e309",
    b"-0",
    b"121.51",
    b"29.81",
    b"330203199001010014",
    b"11010519491231002X",
    b"B-1",
    b"B-2",
    b"0",
    b" ",
    "　".as_bytes(),
    "编号".as_bytes(),
    "房号".as_bytes(),
    "楼栋编号".as_bytes(),
    "经度".as_bytes(),
    "纬度".as_bytes(),
    "姓名".as_bytes(),
    "身份证号".as_bytes(),
    "330203001001001".as_bytes(),
    "南门街道".as_bytes(),
    b"\x00",
];

/// Every ledger's row checks over `t`: no panic, every error names one of the table's rows and,
/// when it names a column, one of the file's headers (or the column's own name when the file
/// lacks it), and every row gives a record or an error.
fn check_ledgers(t: &Table) {
    let today = time::macros::date!(2026 - 11 - 01);
    let rows: BTreeSet<usize> = t.rows.iter().map(|(r, _)| *r).collect();
    let check = |ledger: &str, columns: &[crate::import::Column], records: Vec<usize>, errors: &[RowError]| {
        for e in errors {
            assert!(rows.contains(&e.row), "{ledger}: an error names row {}, not in the file: {e}", e.row);
            assert!(!e.reason.is_empty(), "{ledger}: an error without a reason: {e}");
            if let Some(c) = &e.column {
                let known = t.headers.contains(c) || columns.iter().any(|k| k.name == c);
                assert!(known, "{ledger}: an error names column {c:?}, not in the file: {e}");
            }
        }
        let failed: BTreeSet<usize> = errors.iter().map(|e| e.row).collect();
        for r in &records {
            assert!(!failed.contains(r), "{ledger}: row {r} gave a record and an error");
        }
        let accounted: BTreeSet<usize> = records.into_iter().chain(failed).collect();
        assert_eq!(accounted, rows, "{ledger}: a row gave neither a record nor an error");
    };
    if let Ok(p) = persons::parse(t, today) {
        check("persons", persons::COLUMNS, p.records.iter().map(|r| r.row).collect(), &p.errors);
    }
    for crs in [Crs::Wgs84, Crs::Gcj02, Crs::Bd09] {
        if let Ok(p) = units::parse(t, crs, today) {
            check("units", units::COLUMNS, p.records.iter().map(|r| r.row).collect(), &p.errors);
            let (placed, errors) = units::resolve(p.records, atlas(), &t.headers);
            assert!(placed.iter().all(|u| atlas().building(u.building_id).is_some()));
            check("units placed", units::COLUMNS, placed.iter().map(|r| r.row).collect(), &[p.errors, errors].concat());
        }
        if let Ok(p) = workplaces::parse(t, crs, atlas()) {
            check("workplaces", workplaces::COLUMNS, p.records.iter().map(|r| r.row).collect(), &p.errors);
        }
    }
    if let Ok(p) = visits::parse(t, today, atlas()) {
        check("visits", visits::COLUMNS, p.records.iter().map(|r| r.row).collect(), &p.errors);
    }
    if let Ok(p) = caseworkers::parse(t, atlas()) {
        check("caseworkers", caseworkers::COLUMNS, p.records.iter().map(|r| r.row).collect(), &p.errors);
    }
}

/// What every table read from a file holds: a header with a cell, data rows in file order
/// after it, each with a cell, every cell trimmed.
fn check_table(t: &Table) {
    assert!(t.headers.iter().any(|h| !h.is_empty()), "a blank header row: {t:?}");
    assert!(!t.rows.is_empty());
    let mut last = 1;
    for (row, cells) in &t.rows {
        assert!(*row > last, "row numbers out of order: {t:?}");
        last = *row;
        assert!(cells.iter().any(|c| !c.is_empty()), "a blank row kept: {t:?}");
        assert!(cells.iter().all(|c| c.trim() == c), "an untrimmed cell: {t:?}");
    }
}

/// The table written back as CSV.
fn to_csv(t: &Table) -> Vec<u8> {
    let mut w = csv::WriterBuilder::new().flexible(true).from_writer(Vec::new());
    w.write_record(&t.headers).unwrap();
    for (_, cells) in &t.rows {
        w.write_record(cells).unwrap();
    }
    w.into_inner().unwrap()
}

/// The encoding detection and decoding (GBK/GB18030 or UTF-8): never panics; UTF-8 text comes
/// back as it was (without a byte-order mark); text that GBK encodes into bytes that are not
/// UTF-8 is detected as GB18030 and comes back as it was; an error names the row.
#[test]
fn fuzz_decode() {
    fuzz_inputs!("decode", &seeds("decode"), CSV_WORDS, (3000, 0), |bytes| {
        let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        for e in [Some(Encoding::Utf8), Some(Encoding::Gbk), Some(Encoding::Gb18030)] {
            if let Err(FileError::Encoding(m)) = table::decode(bytes, e) {
                assert!(m.starts_with("row "), "{m}");
            }
        }
        // Not UTF-8: the error names the line of the first bad byte.
        if let Err(bad) = std::str::from_utf8(body) {
            let before = String::from_utf8_lossy(&body[..bad.valid_up_to()]).replace("\r\n", "\n").replace('\r', "\n");
            let line = before.matches('\n').count() + 1;
            let Err(FileError::Encoding(m)) = table::decode(bytes, Some(Encoding::Utf8)) else { panic!("accepted") };
            assert!(m.starts_with(&format!("row {line}:")), "{m}, expected row {line}");
        }
        let detected = table::decode(bytes, None);
        if let Ok(text) = std::str::from_utf8(body) {
            assert_eq!(detected, Ok((text.to_string(), Encoding::Utf8)));
        }
        let Ok((text, _)) = detected else { return };
        let (gbk, _, unmappable) = encoding_rs::GBK.encode(&text);
        if !unmappable && std::str::from_utf8(&gbk).is_err() && !gbk.starts_with(b"\xEF\xBB\xBF") {
            assert_eq!(table::decode(&gbk, None), Ok((text, Encoding::Gb18030)));
        }
    });
}

/// A CSV ledger: reading never panics; a table read holds [`check_table`], every ledger's
/// checks hold [`check_ledgers`], and the table written back as CSV reads back the same.
#[test]
fn fuzz_ledger_csv() {
    fuzz_inputs!("ledger_csv", &seeds("ledger_csv"), CSV_WORDS, (1500, 0), |bytes| {
        let t = match table::read_ledger(bytes, None) {
            Ok(t) => t,
            Err(FileError::Csv { row, .. } | FileError::RecordTooLong { row, .. }) => return assert!(row >= 1),
            Err(_) => return,
        };
        check_table(&t);
        check_ledgers(&t);
        let again = table::read_csv(&to_csv(&t), None).unwrap();
        let cells = |t: &Table| (t.headers.clone(), t.rows.iter().map(|(_, c)| c.clone()).collect::<Vec<_>>());
        assert_eq!(cells(&again), cells(&t), "written back as {:?}", String::from_utf8_lossy(&to_csv(&t)));
    });
}

/// Small workbooks of real-looking ledgers: a units ledger with a date and numbers, a persons
/// ledger.
fn workbooks() -> Vec<(String, Vec<u8>)> {
    let book = |rows: &[&[&str]]| {
        let mut wb = rust_xlsxwriter::Workbook::new();
        let ws = wb.add_worksheet();
        for (r, cells) in rows.iter().enumerate() {
            for (c, cell) in cells.iter().enumerate() {
                match cell.parse::<f64>() {
                    Ok(x) if r > 0 && cell.len() < 6 => ws.write_number(r as u32, c as u16, x),
                    _ => ws.write_string(r as u32, c as u16, *cell),
                }
                .unwrap();
            }
        }
        let date = rust_xlsxwriter::ExcelDateTime::from_ymd(2025, 3, 7).unwrap();
        let format = rust_xlsxwriter::Format::new().set_num_format("yyyy-mm-dd");
        ws.write_datetime_with_format(1, rows[0].len() as u16, &date, &format).unwrap();
        wb.save_to_buffer().unwrap()
    };
    vec![
        (
            "units.xlsx".into(),
            book(&[
                &["编号", "楼栋编号", "房号", "租住人数", "登记日期"],
                &["X-1", "B-1", "302", "3"],
                &["X-2", "", "1", "0"],
            ]),
        ),
        ("persons.xlsx".into(), book(&[&["房屋编号", "姓名", "身份证号"], &["U1", "张三", "330203199001010014"]])),
    ]
}

/// An XLSX ledger: reading never panics (a broken workbook is [`FileError::Xlsx`]); a table read
/// holds [`check_table`] and [`check_ledgers`].
#[test]
fn fuzz_ledger_xlsx() {
    let dict: &[&[u8]] =
        &[b"PK\x03\x04", b"\x00\x00\x00\x00", b"\xFF\xFF\xFF\xFF", b"<row>", b"<c r=\"A1\">", b"\"", b"<"];
    fuzz_inputs!("ledger_xlsx", &workbooks(), dict, (300, 0), |bytes| {
        if let Ok(t) = table::read_ledger(bytes, None) {
            check_table(&t);
            check_ledgers(&t);
        }
    });
}

/// Workbooks written cell by cell from random cells (text, numbers, dates, formulas) under a
/// ledger's real header: reading them never panics; a table read holds [`check_table`] and
/// [`check_ledgers`].
#[test]
fn fuzz_ledger_xlsx_cells() {
    let headers = ["编号", "楼栋编号", "房号", "房屋编号", "姓名", "身份证号", "登记日期", "租住人数", "经度", "纬度"];
    let count = Count::new("ledger_xlsx_cells");
    bolero::check!().with_type::<Vec<(u8, u8, u8, String, f64)>>().with_iterations(200).for_each(|cells| {
        count.add();
        let mut wb = rust_xlsxwriter::Workbook::new();
        let ws = wb.add_worksheet();
        for (c, h) in headers.iter().enumerate() {
            ws.write_string(0, c as u16, *h).unwrap();
        }
        for (row, col, kind, text, number) in cells {
            let (r, c) = (1 + u32::from(*row % 8), u16::from(*col % 12));
            // rust_xlsxwriter refuses some values (strings too long, NaN): those cells stay empty.
            let _ = match kind % 4 {
                0 => ws.write_string(r, c, text).map(|_| ()),
                1 => ws.write_number(r, c, *number).map(|_| ()),
                2 => rust_xlsxwriter::ExcelDateTime::from_serial_datetime(*number)
                    .and_then(|d| ws.write_datetime(r, c, &d).map(|_| ())),
                _ => ws.write_formula(r, c, text.as_str()).map(|_| ()),
            };
        }
        let Ok(bytes) = wb.save_to_buffer() else { return };
        if let Ok(t) = table::read_ledger(&bytes, None) {
            check_table(&t);
            check_ledgers(&t);
        }
    });
}

/// The GeoJSON importers (buildings, grids, boundaries): never panic; every error names one of
/// the file's features.
#[test]
fn fuzz_geojson() {
    let dict: &[&[u8]] = &[
        b"null",
        b"NaN",
        b"1e400",
        b"-1e308",
        b"1e308",
        b"[]",
        b"[[",
        b"]]",
        b"{",
        b"}",
        b",",
        b"\"",
        b"0",
        b"-0",
        b"[121.5,29.8]",
        b"[121.51,29.81]",
        b"\"type\":\"Polygon\"",
        b"\"type\":\"MultiPolygon\"",
        b"\"coordinates\":",
        "\"层数\":".as_bytes(),
        "\"层级\":\"区\"".as_bytes(),
        "\"层级\":\"社区\"".as_bytes(),
        b"\"geometry\":",
    ];
    fuzz_inputs!("geojson", &seeds("geojson"), dict, (400, 600), |bytes| {
        let Ok(fs) = features::read(bytes) else { return };
        let named = |errors: &[RowError]| {
            for e in errors {
                assert!((1..=fs.len()).contains(&e.row), "an error names feature {}: {e}", e.row);
            }
        };
        // Every feature gives a record or an error.
        let accounted = |records: Vec<usize>, errors: &[RowError]| {
            named(errors);
            let all: BTreeSet<usize> = records.into_iter().chain(errors.iter().map(|e| e.row)).collect();
            assert_eq!(all.len(), fs.len(), "a feature gave neither a record nor an error");
        };
        for crs in [Crs::Wgs84, Crs::Gcj02, Crs::Bd09] {
            let (ok, errors) = buildings::parse(bytes, crs, atlas()).unwrap();
            accounted(ok.iter().map(|b| b.feature).collect(), &errors);
            let (ok, errors) = grids::parse(bytes, crs, atlas()).unwrap();
            accounted(ok.iter().map(|g| g.feature).collect(), &errors);
            for existing in [None, Some(atlas())] {
                if let Ok((_, errors)) = boundaries::parse(bytes, crs, existing) {
                    named(&errors);
                }
            }
        }
    });
}

/// GB 11643 computed another way: the weight of place i (from the left, 0-based) is
/// 2^(17−i) mod 11 and the check value is (12 − sum mod 11) mod 11, 10 written X.
fn reference_check(body: &[u8]) -> char {
    let sum: u32 = body.iter().enumerate().map(|(i, b)| u32::from(b - b'0') * ((1u32 << (17 - i)) % 11)).sum();
    match (12 - sum % 11) % 11 {
        10 => 'X',
        v => char::from_digit(v, 10).unwrap(),
    }
}

/// The ID-number validator: never panics; a number it accepts is 17 digits and the check
/// character GB 11643 gives them, with a real birth date, and parses back to itself; a body it
/// completes is accepted.
#[test]
fn fuzz_id_number() {
    let dict: &[&[u8]] = &[b"X", b"x", b"0", b"9", b" ", "４".as_bytes(), b"19900101", b"20000229", b"330203", b"\t"];
    fuzz_inputs!("id_number", &seeds("id_number"), dict, (5000, 0), |bytes| {
        let text = String::from_utf8_lossy(bytes);
        for s in [text.as_ref(), text.trim_end_matches('\n')] {
            if let Ok(id) = IdNumber::parse(s) {
                let b = id.as_str().as_bytes();
                assert!(b.len() == 18 && b[..17].iter().all(u8::is_ascii_digit), "{id}");
                assert_eq!(char::from(b[17]), reference_check(&b[..17]), "{id}");
                assert_eq!(IdNumber::parse(id.as_str()).as_ref(), Ok(&id));
                assert_eq!(IdNumber::from_body(&id.as_str()[..17]).as_ref(), Some(&id));
                let born = id.birth_date();
                assert_eq!(format!("{:04}{:02}{:02}", born.year(), born.month() as u8, born.day()), id.as_str()[6..14]);
                assert_eq!(id.masked().chars().count(), 18);
            }
            let digits: String = s.chars().filter(char::is_ascii_digit).take(17).collect();
            if let Some(id) = IdNumber::from_body(&digits) {
                assert_eq!(IdNumber::parse(id.as_str()).as_ref(), Ok(&id));
            }
        }
    });
}

/// Metres between two nearby points.
fn metres(a: (f64, f64), b: (f64, f64)) -> f64 {
    let (x, y) = LocalProjection::new(a.0, a.1).forward(b.0, b.1);
    x.hypot(y)
}

/// The coordinate converters on a pair: finite outputs for finite inputs, and inside China
/// WGS84 → GCJ-02 → WGS84 within a millimetre and GCJ-02 → BD-09 → GCJ-02 within half a metre.
fn check_coordinates(lon: f64, lat: f64) {
    let finite = |(x, y): (f64, f64)| x.is_finite() && y.is_finite();
    if finite((lon, lat)) {
        for crs in [Crs::Wgs84, Crs::Cgcs2000, Crs::Gcj02, Crs::Bd09] {
            assert!(finite(crs.to_wgs84(lon, lat)), "{crs:?} ({lon}, {lat}) → {:?}", crs.to_wgs84(lon, lat));
        }
        assert!(finite(crs::wgs84_to_gcj02(lon, lat)), "GCJ-02 of ({lon}, {lat})");
        assert!(finite(crs::gcj02_to_bd09(lon, lat)), "BD-09 of ({lon}, {lat})");
    }
    // The same pair folded into China (73–135° E, 18–53° N).
    let fold = |v: f64, lo: f64, span: f64| if v.is_finite() { lo + v.abs() % span } else { lo };
    let p = (fold(lon, 73.0, 62.0), fold(lat, 18.0, 35.0));
    let g = crs::wgs84_to_gcj02(p.0, p.1);
    let back = crs::gcj02_to_wgs84(g.0, g.1);
    assert!(metres(p, back) < 1e-3, "{p:?} → GCJ-02 {g:?} → {back:?}: {} m", metres(p, back));
    let bd = crs::gcj02_to_bd09(g.0, g.1);
    let back = crs::bd09_to_gcj02(bd.0, bd.1);
    assert!(metres(g, back) < 0.5, "{g:?} → BD-09 {bd:?} → {back:?}: {} m", metres(g, back));
}

/// The coordinate converters: seeds are lines of `lon lat`; random pairs are any two f64.
#[test]
fn fuzz_coordinates() {
    let count = Count::new("coordinates");
    run_corpus("coordinates", &seeds("coordinates"), |bytes| {
        for line in String::from_utf8_lossy(bytes).lines() {
            count.add();
            let v: Vec<f64> = line.split_whitespace().map(|s| s.parse().unwrap()).collect();
            check_coordinates(v[0], v[1]);
        }
    });
    bolero::check!().with_type::<(f64, f64, String)>().with_iterations(5000).for_each(|(lon, lat, name)| {
        count.add();
        check_coordinates(*lon, *lat);
        let _ = name.parse::<Crs>();
    });
}
