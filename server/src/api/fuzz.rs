//! Fuzz targets of what the API parses from a request (issue 18): query strings into every
//! endpoint's typed parameters and their own checks (hot spots, bounding boxes, OGC items),
//! the tile path `{layer}/{z}/{x}/{y}.mvt` and numeric ids, and the bodies of a visit and of
//! the field writes with their validation. No input may panic, a refusal is a 4xx, and what is
//! accepted holds the documented bounds. Seeds are in `server/fuzz/corpus/`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::field::{DepartureRequest, NewPersonRequest, PersonEditRequest, ResolveRequest};
use super::ogc::{Collection, parse_items_query};
use super::position::Position;
use crate::error::AppError;
use rentgrid_analysis::hotspot_run::{H3_RESOLUTIONS, Tessellation};
use rentgrid_analysis::moran::MAX_PERMUTATIONS;
use rentgrid_geodata::Atlas;
use rentgrid_geodata::fuzz_inputs;
use rentgrid_geodata::fuzzing::{Count, corpus};
use rentgrid_geodata::idcard::IdNumber;
use rentgrid_tiles::tile::MAX_ZOOM;
use std::path::PathBuf;
use std::sync::OnceLock;

fn seeds(target: &str) -> Vec<(String, Vec<u8>)> {
    corpus(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus").join(target))
}

/// A refusal of what the client sent: a 4xx, never a 5xx.
fn refusal(e: &AppError) {
    assert!(!matches!(e, AppError::Internal(_) | AppError::Unavailable(_)), "a 5xx for bad input: {e:?}");
}

/// `$m!(…, T1, T2, …)` over the parameter types of every endpoint with a strict query.
macro_rules! with_query_types {
    ($m:ident!($($args:tt)*)) => {
        $m!(
            $($args)*
            super::coverage::AssessmentQuery,
            super::audit::AuditParams,
            super::features::BuildingsQuery,
            super::campaigns::CandidatesQuery,
            super::field::ConflictQuery,
            super::hazards::HazardQuery,
            super::hotspots::HotspotsQuery,
            super::field::OverdueQuery,
            super::persons::PersonsQuery,
            super::persons::RevealQuery,
            super::campaigns::RoutesQuery,
            super::coverage::RuleQuery,
            super::plates::SheetQuery,
            super::StatsQuery,
            super::campaigns::VisitsQuery,
            super::imports::ImportQuery,
        )
    };
}

/// The parameter names of each type.
macro_rules! names_of {
    ($($t:ty),+ $(,)?) => {
        [$(super::query::parameter_names::<$t>()),+]
    };
}

/// `query::parse::<T>` of `raw` for each of the endpoints' parameter types.
macro_rules! parse_each {
    ($raw:expr, $($t:ty),+ $(,)?) => {
        $( if let Err(e) = super::query::parse::<$t>($raw) { refusal(&e) } )+
    };
}

/// A query string: every endpoint's parameters parse or are refused with a 4xx; hot-spot
/// parameters that parse are within their bounds; a bounding box that parses is finite, on
/// the globe and not upside down; OGC items queries parse or are refused for every collection.
fn check_query(bytes: &[u8]) {
    let raw = String::from_utf8_lossy(bytes);
    let raw = raw.as_ref();
    with_query_types!(parse_each!(raw,));
    if let Ok(tq) = serde_urlencoded::from_str::<super::tiles::TileQuery>(raw) {
        let _ = format!("{tq:?}");
    }
    match super::query::parse::<super::hotspots::HotspotsQuery>(raw).and_then(|q| super::hotspots::parse(&q)) {
        Ok(p) => {
            assert!([0.10, 0.05, 0.01].contains(&p.alpha) && p.permutations <= MAX_PERMUTATIONS, "{p:?}");
            if let Tessellation::H3(r) = p.tessellation {
                assert!(H3_RESOLUTIONS.contains(&r), "{p:?}");
            }
        }
        Err(e) => refusal(&e),
    }
    let Ok(pairs) = serde_urlencoded::from_str::<Vec<(String, String)>>(raw) else { return };
    for c in Collection::ALL {
        if let Err(e) = parse_items_query(c, &pairs) {
            refusal(&e);
        }
    }
    for (_, v) in &pairs {
        match super::parse_bbox(v) {
            Ok(r) => {
                let (a, b) = (r.min(), r.max());
                assert!([a.x, a.y, b.x, b.y].iter().all(|v| v.is_finite()), "{v:?}");
                assert!((-180.0..=180.0).contains(&a.x) && (-180.0..=180.0).contains(&b.x), "{v:?}");
                assert!((-90.0..=90.0).contains(&a.y) && (-90.0..=90.0).contains(&b.y), "{v:?}");
                assert!(a.x <= b.x && a.y <= b.y, "{v:?}");
            }
            Err(e) => refusal(&e),
        }
    }
}

/// Tokens that matter to query strings and their values.
const QUERY_WORDS: &[&[u8]] = &[
    b"&",
    b"=",
    b"%",
    b"%FF",
    b"%00",
    b"%2C",
    b"+",
    b",",
    b"NaN",
    b"inf",
    b"-0",
    b"1e309",
    b"18446744073709551616",
    b"bbox=",
    b"limit=",
    b"offset=",
    b"weights=",
    b"tessellation=h3",
    b"resolution=",
    b"distance:",
    b"knn:",
    b"method=",
    b"month=",
    b"2026-13",
    b"reveal=true",
    b"reason=",
    b"level=",
    b"count=",
    b"f=json",
];

/// Query strings: byte edits of real ones ([`check_query`]).
#[test]
fn fuzz_query_strings() {
    fuzz_inputs!("query_strings", &seeds("query_strings"), QUERY_WORDS, (3000, 0), check_query);
}

/// The parameter names every endpoint declares, as the OpenAPI document lists them, and the
/// OGC items query's.
fn query_keys() -> Vec<String> {
    let mut keys = with_query_types!(names_of!()).concat();
    keys.extend(super::query::parameter_names::<super::tiles::TileQuery>());
    keys.extend(["bbox", "limit", "offset", "f"].map(String::from));
    keys.sort();
    keys.dedup();
    keys
}

/// Query strings made of known parameter names with random or telling values, encoded as a
/// client would ([`check_query`]).
#[test]
fn fuzz_query_pairs() {
    let keys = query_keys();
    let count = Count::new("query_pairs");
    bolero::check!().with_type::<Vec<(u8, u8, String)>>().with_iterations(2000).for_each(|pairs| {
        count.add();
        let pairs: Vec<(&str, String)> = pairs
            .iter()
            .map(|(k, v, text)| {
                let key = keys[usize::from(*k) % keys.len()].as_str();
                let word = QUERY_WORDS[usize::from(*v) % QUERY_WORDS.len()];
                let value = if v % 2 == 0 { text.clone() } else { String::from_utf8_lossy(word).into_owned() };
                (key, value)
            })
            .collect();
        check_query(serde_urlencoded::to_string(&pairs).unwrap_or_default().as_bytes());
    });
}

/// Paths: a seed is `layer/z/x/file` (a tile) or one segment (an id). A tile that parses is
/// within its zoom's range and is the numbers written; an id is the number written.
#[test]
fn fuzz_paths() {
    let dict: &[&[u8]] =
        &[b"/", b".mvt", b".pbf", b"+", b"-", b"0", b"24", b"25", b"4294967295", b"4294967296", b"%2F"];
    fuzz_inputs!("paths", &seeds("paths"), dict, (5000, 0), |bytes| {
        let raw = String::from_utf8_lossy(bytes);
        let parts: Vec<&str> = raw.trim_end_matches('\n').split('/').collect();
        if let [layer, z, x, file] = parts.as_slice() {
            if let Err(e) = super::tiles::parse_layer(layer) {
                refusal(&e);
            }
            match super::tiles::parse_tile(z, x, file) {
                Ok(t) => {
                    assert!(t.z <= MAX_ZOOM && u64::from(t.x) < 1u64 << t.z && u64::from(t.y) < 1u64 << t.z, "{t:?}");
                    let y = file.trim_end_matches(".mvt").trim_end_matches(".pbf");
                    assert_eq!((z.parse(), x.parse(), y.parse()), (Ok(t.z), Ok(t.x), Ok(t.y)), "{raw:?}");
                }
                Err(e) => refusal(&e),
            }
        }
        for segment in &parts {
            match super::parse_id("person", segment) {
                Ok(id) => assert_eq!(segment.parse::<u32>(), Ok(id)),
                Err(e) => refusal(&e),
            }
        }
    });
}

/// The tiny demo city, built once, for the positions of field writes.
fn atlas() -> &'static Atlas {
    static ATLAS: OnceLock<Atlas> = OnceLock::new();
    ATLAS.get_or_init(|| {
        use rentgrid_geodata::demo::{self, DemoOptions};
        let city = demo::generate(&DemoOptions { scale: 0.05, ..Default::default() }, &mut |_, _| {}).unwrap();
        Atlas::build(rentgrid_geodata::AtlasInput::from_city(&city)).unwrap()
    })
}

/// A position's fix: refused with a 4xx, or finite and on the globe.
fn check_position(p: Position) {
    match p.fix(atlas(), 0) {
        Ok(f) => {
            assert!((-180.0..=180.0).contains(&f.lon) && (-90.0..=90.0).contains(&f.lat), "{f:?}");
            assert!(f.accuracy_m.is_finite() && f.distance_m.is_finite() && f.distance_m >= 0.0, "{f:?}");
        }
        Err(e) => refusal(&e),
    }
}

/// A client id as accepted: 1 to 64 letters, digits and `-_.:`.
fn check_client_id(id: &str) {
    assert!((1..=64).contains(&id.len()), "{id:?}");
    assert!(id.chars().all(|c| c.is_ascii_alphanumeric() || "-_.:".contains(c)), "{id:?}");
}

/// Field-write and visit bodies: any bytes are deserialised as each body the API takes; a body
/// that deserialises is validated as its handler does, without a panic; what validation accepts
/// holds the documented bounds (client ids, dates from 2000 to today, trimmed text, valid ID
/// numbers, 7–20 digit phones, at most 500 deduplicated ids per list, notes of at most 2,000
/// characters).
#[test]
fn fuzz_field_bodies() {
    let dict: &[&[u8]] = &[
        b"{",
        b"}",
        b"[",
        b"]",
        b",",
        b":",
        b"\"",
        b"null",
        b"true",
        b"-1",
        b"4294967296",
        b"1e999",
        b"NaN",
        b"\\u0000",
        b"\\ud800",
        b"\"client_id\":",
        b"\"position\":",
        b"\"lon\":",
        b"\"accuracy_m\":",
        b"\"visited_on\":",
        b"\"2000-01-01\"",
        b"\"1999-12-31\"",
        b"\"9999-12-31\"",
        b"\"new_units\":",
        b"\"id_number\":",
        b"\"330203199001010014\"",
        b"\"phone\":",
        b"\"+86 138-0000-0000\"",
        "\"　\"".as_bytes(),
    ];
    let today = crate::api::today();
    fuzz_inputs!("field_bodies", &seeds("field_bodies"), dict, (2000, 3000), |bytes| {
        let day_ok = |d: time::Date, latest: time::Date| d.year() >= 2000 && d <= latest;
        if let Ok(v) = serde_json::from_slice::<super::visits::VisitRequest>(bytes) {
            match super::visits::validate(v) {
                Ok(n) => {
                    check_client_id(&n.client_id);
                    assert!(day_ok(n.visited_on, today + time::Duration::days(1)), "{n:?}");
                    assert!(n.notes.chars().count() <= 2_000 && n.new_units.len() <= 500);
                    for list in [&n.register_units, &n.pledge_units, &n.register_persons] {
                        assert!(list.len() <= 500 && list.windows(2).all(|w| w[0] < w[1]), "{list:?}");
                    }
                    for u in &n.new_units {
                        assert!(!u.label.trim().is_empty() && u.tenants <= 200 && (u.registered || !u.pledge_signed));
                    }
                }
                Err(e) => refusal(&e),
            }
        }
        if let Ok(r) = serde_json::from_slice::<NewPersonRequest>(bytes) {
            match super::field::validate_new(1, r) {
                Ok((resident, id)) => {
                    check_client_id(&resident.client_id);
                    assert_eq!(IdNumber::parse(&resident.id_number).as_ref(), Ok(&id));
                    let d = &resident.details;
                    assert!(!d.name.is_empty() && d.name.trim() == d.name && d.name.chars().count() <= 100);
                    let digits = d.phone.chars().filter(char::is_ascii_digit).count();
                    assert!((7..=20).contains(&digits), "{:?}", d.phone);
                    assert!(day_ok(resident.moved_in_on, today), "{resident:?}");
                }
                Err(e) => refusal(&e),
            }
        }
        if let Ok(r) = serde_json::from_slice::<PersonEditRequest>(bytes) {
            match super::field::validate_edit(1, r) {
                Ok(edit) => {
                    check_client_id(&edit.client_id);
                    assert!(!edit.changes.is_empty());
                }
                Err(e) => refusal(&e),
            }
        }
        if let Ok(r) = serde_json::from_slice::<DepartureRequest>(bytes) {
            match super::field::validate_departure(1, &r) {
                Ok(d) => {
                    check_client_id(&d.client_id);
                    assert!(day_ok(d.on, today), "{d:?}");
                }
                Err(e) => refusal(&e),
            }
        }
        let _ = serde_json::from_slice::<ResolveRequest>(bytes);
        // The position of any of these bodies, and a bare one.
        let body = serde_json::from_slice::<serde_json::Value>(bytes).ok();
        for p in [body.as_ref().and_then(|b| b.get("position")), body.as_ref()].into_iter().flatten() {
            if let Ok(p) = serde_json::from_value::<Position>(p.clone()) {
                check_position(p);
            }
        }
    });
}
