//! Small-count suppression on every JSON answer a leader gets, in one place: whatever route made
//! the body (statistics, GeoJSON features, OGC items, staffing, …), each object that carries
//! figures computed from persons has those under [`disclosure::K`] persons replaced by null, by
//! the rule of [`rentgrid_analysis::disclosure`]. A field computed from persons whose count the
//! object does not carry is hidden too (fail closed); KPI `targets` are policy and stay. Vector tiles, exports and hot-spot inputs
//! apply the same rule where they are built.

use crate::access::Principal;
use axum::body::{Body, to_bytes};
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rentgrid_analysis::disclosure;
use rentgrid_geodata::BuildingStats;
use serde_json::{Map, Value};

/// The largest JSON body rewritten (a leader's whole-district GeoJSON is well under it).
const MAX_BODY: usize = 512 * 1024 * 1024;

/// Marks a response whose body was made by [`suppress`] already (an answer kept for leaders,
/// suppressed once when it was made rather than parsed and rewritten for each request): the
/// middleware passes it on as it is. Only a handler that ran [`suppress`] on the very body it
/// answers with may set it.
#[derive(Debug, Clone, Copy)]
pub struct Suppressed;

/// The middleware: a leader's JSON responses with small person counts nulled.
pub async fn small_counts(req: Request, next: Next) -> Response {
    let leader = req.extensions().get::<Principal>().is_some_and(|p| p.role.aggregates_only());
    let res = next.run(req).await;
    if !leader || !is_json(&res) || res.extensions().get::<Suppressed>().is_some() {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    let bytes = match to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(e) => {
            return crate::error::AppError::Internal(format!("reading a response to suppress: {e}")).into_response();
        }
    };
    // An answer kept gzipped (`crate::encoded`) is read as the JSON it holds and rewritten plain.
    let bytes = match parts.headers.remove(header::CONTENT_ENCODING) {
        None => bytes.to_vec(),
        Some(v) if v == "gzip" => {
            let mut plain = Vec::new();
            if let Err(e) = std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&bytes[..]), &mut plain) {
                return crate::error::AppError::Internal(format!("reading a gzipped response to suppress: {e}"))
                    .into_response();
            }
            plain
        }
        Some(other) => {
            return crate::error::AppError::Internal(format!("a response to suppress is encoded as {other:?}"))
                .into_response();
        }
    };
    let Ok(mut value) = serde_json::from_slice::<Value>(&bytes) else {
        // Not JSON after all: nothing of it is shown to the leader.
        return crate::error::AppError::Internal("a response declared as JSON is not JSON".into()).into_response();
    };
    suppress(&mut value);
    let Ok(out) = serde_json::to_vec(&value) else {
        return crate::error::AppError::Internal("writing a suppressed response".into()).into_response();
    };
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.remove(header::ETAG);
    parts.headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-cache"));
    Response::from_parts(parts, Body::from(out))
}

fn is_json(res: &Response) -> bool {
    res.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|t| t == "application/json" || t.ends_with("+json"))
}

/// Nulls, in `value` and everything it holds, each figure computed from fewer than
/// [`disclosure::K`] persons.
pub fn suppress(value: &mut Value) {
    match value {
        Value::Object(map) => {
            suppress_object(map);
            // KPI targets are policy, not counts: their rates come from no one.
            map.iter_mut().filter(|(k, _)| k.as_str() != "targets").for_each(|(_, v)| suppress(v));
        }
        Value::Array(items) => items.iter_mut().for_each(suppress),
        _ => {}
    }
}

/// The person counts an object carries (a missing one reads as 0, so what depends on it is hidden).
fn counts(map: &Map<String, Value>) -> BuildingStats {
    // Counts may come as floats (staffing's populations): whole persons, rounded down.
    let n = |k: &str| map.get(k).and_then(Value::as_f64).map_or(0, |v| v.clamp(0.0, f64::from(u32::MAX)) as u32);
    BuildingStats {
        persons: n("persons"),
        persons_registered: n("persons_registered"),
        persons_with_permit: n("persons_with_permit"),
        persons_consistent: n("persons_consistent"),
        ..BuildingStats::default()
    }
}

fn suppress_object(map: &mut Map<String, Value>) {
    if !map.keys().any(|k| !disclosure::sources(k).is_empty() || k == "population") {
        return;
    }
    let s = counts(map);
    // A staffing row: what its place's persons call for goes with them.
    let population = map.get("population").and_then(Value::as_object).map(|p| p.get("persons").and_then(Value::as_f64));
    if let Some(persons) = population {
        for (k, v) in map.iter_mut() {
            if disclosure::FROM_POPULATION.contains(&k.as_str())
                && disclosure::hides_in_staffing(k, persons.unwrap_or(0.0), v.as_f64())
            {
                *v = Value::Null;
            }
        }
    }
    for (k, v) in map.iter_mut() {
        if !v.is_null() && !v.is_object() && !v.is_array() && disclosure::hides_value(k, &s, v.as_f64()) {
            *v = Value::Null;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn small_person_counts_and_their_rates_are_nulled_at_any_depth() {
        let mut v = json!({"rows": [
            {"code": "a", "persons": 40, "persons_registered": 38, "persons_with_permit": 3,
             "persons_consistent": 30, "reg_rate": 0.95, "permit_rate": 0.075, "rental_units": 2},
            {"code": "b", "persons": 4, "persons_registered": 4, "persons_with_permit": 4,
             "persons_consistent": 4, "reg_rate": 1.0, "reg_status": "meets", "rental_units": 3,
             "persons_per_km2": 12.5},
            {"population": {"persons": 60.0, "persons_concentrated": 2.0, "rental_units": 1.0}, "required": 0.6},
            {"population": {"persons": 3.0, "rental_units": 1.0}, "ratio_required": 0.03, "assigned": 1.0},
        ], "features": [{"properties": {"reg_rate": 0.5}}], "targets": {"reg_rate": 0.9}});
        suppress(&mut v);
        let a = &v["rows"][0];
        assert_eq!((a["persons"].as_u64(), a["reg_rate"].as_f64()), (Some(40), Some(0.95)));
        assert!(a["persons_with_permit"].is_null() && a["permit_rate"].is_null());
        let b = &v["rows"][1];
        for k in ["persons", "persons_registered", "reg_rate", "reg_status", "persons_per_km2"] {
            assert!(b[k].is_null(), "{k}");
        }
        assert_eq!((b["rental_units"].as_u64(), b["code"].as_str()), (Some(3), Some("b")));
        let p = &v["rows"][2]["population"];
        assert_eq!((p["persons"].as_f64(), p["rental_units"].as_f64()), (Some(60.0), Some(1.0)));
        assert!(p["persons_concentrated"].is_null());
        assert_eq!(v["rows"][2]["required"].as_f64(), Some(0.6));
        let small = &v["rows"][3];
        assert!(small["population"]["persons"].is_null() && small["ratio_required"].is_null());
        assert_eq!(small["assigned"].as_f64(), Some(1.0), "caseworkers assigned are not persons");
        // A rate whose counts are not beside it is not shown.
        assert!(v["features"][0]["properties"]["reg_rate"].is_null());
        assert_eq!(v["targets"]["reg_rate"].as_f64(), Some(0.9));
    }
}
