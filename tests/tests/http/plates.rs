//! Door plates (门牌二维码) on both stores: a building's A4 sheet, drawn to pixels (resvg) and read
//! back by a real QR decoder (rqrr), gives one URL per plate, and each URL's token opens the right
//! card, as `GET /api/units/{id}` answers it; a reprint gives the same tokens; a token with one
//! character changed is refused, a revoked one too, and the reprint gives a new one that works;
//! a caseworker outside the building's grid is refused; prints and revocations are audited; the
//! store's key is in no answer.

use crate::common::{Backend, Fixture, get, post_json, principal, send, signed_in};
use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use rentgrid_server::access::{Principal, Role};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

on_both_stores!(a_sheet_decodes_to_plates_that_open_their_cards_and_nothing_else);

/// The origin the sheet's URLs are built on (the request's Host).
const ORIGIN: &str = "http://rentgrid.test:8080";

/// GET `uri` as sent to [`ORIGIN`]: the status, the content type and the body.
async fn get_at_origin(router: &Router, uri: &str) -> (StatusCode, String, Vec<u8>) {
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let req = Request::get(uri).header(header::HOST, "rentgrid.test:8080").body(Body::empty()).unwrap();
    let res = router.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let kind = res.headers().get(header::CONTENT_TYPE).map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    (status, kind, res.into_body().collect().await.unwrap().to_bytes().to_vec())
}

/// Every QR code on an SVG page, decoded: the page drawn at 6 pixels a millimetre, each plate's
/// cell (3 columns by 5 rows inside the dashed cut lines) read on its own (the decoder would
/// otherwise pair finder patterns of neighbouring codes).
fn decode_page(svg: &str) -> Vec<String> {
    use resvg::{tiny_skia, usvg};
    const PX_PER_MM: f32 = 6.0;
    let tree = usvg::Tree::from_str(svg, &usvg::Options::default()).unwrap();
    let scale = PX_PER_MM * 25.4 / 96.0; // usvg reads the page's millimetres at 96 px an inch
    let (w, h) = ((tree.size().width() * scale).ceil() as u32, (tree.size().height() * scale).ceil() as u32);
    assert!((1250..1270).contains(&w) && (1775..1790).contains(&h), "an A4 page: {w}×{h}");
    let mut pixmap = tiny_skia::Pixmap::new(w, h).unwrap();
    pixmap.fill(tiny_skia::Color::WHITE);
    resvg::render(&tree, tiny_skia::Transform::from_scale(scale, scale), &mut pixmap.as_mut());
    let rgba = pixmap.data();
    let luma = |x: usize, y: usize| {
        let i = (y * w as usize + x) * 4;
        ((u16::from(rgba[i]) + u16::from(rgba[i + 1]) + u16::from(rgba[i + 2])) / 3) as u8
    };
    let (cell_w, cell_h) = ((190.0 / 3.0) * PX_PER_MM, (297.0 - 10.0 - 28.0) / 5.0 * PX_PER_MM);
    let mut out = Vec::new();
    for (row, col) in (0..5).flat_map(|r| (0..3).map(move |c| (r, c))) {
        let (x0, y0) =
            ((10.0 * PX_PER_MM + col as f32 * cell_w) as usize, (28.0 * PX_PER_MM + row as f32 * cell_h) as usize);
        let mut img =
            rqrr::PreparedImage::prepare_from_greyscale(cell_w as usize, cell_h as usize, |x, y| luma(x0 + x, y0 + y));
        let codes: Vec<String> = img.detect_grids().iter().map(|g| g.decode().unwrap().1).collect();
        assert!(codes.len() <= 1, "cell {row},{col}: {codes:?}");
        out.extend(codes);
    }
    out
}

/// The token of a plate's URL.
fn token_of(url: &str) -> String {
    let prefix = format!("{ORIGIN}/?view=field&plate=");
    url.strip_prefix(&prefix).unwrap_or_else(|| panic!("{url} is not a plate URL on {ORIGIN}")).to_owned()
}

async fn a_sheet_decodes_to_plates_that_open_their_cards_and_nothing_else(backend: Backend) {
    let f = Fixture::seeded(backend).await;
    let atlas = f.atlas();
    let caseworkers = f.store.caseworkers().await.unwrap();
    // The building with the most rental units (more than a page of plates, if the demo has one)
    // and the caseworker contracted to its grid.
    let building =
        f.db.int(
            "SELECT CAST(building_id AS BIGINT) FROM rental_units GROUP BY building_id \
             ORDER BY COUNT(*) DESC, building_id LIMIT 1",
        )
        .await as u32;
    let units: BTreeSet<u64> =
        f.db.ints(&format!("SELECT CAST(id AS BIGINT) FROM rental_units WHERE building_id = {building}"))
            .await
            .into_iter()
            .map(|i| i as u64)
            .collect();
    let grid = atlas.building(building).unwrap().grid_id;
    let mine = caseworkers.iter().find(|c| c.grids.contains(&grid)).expect("a caseworker of the building's grid");
    let other = caseworkers.iter().find(|c| !c.grids.contains(&grid)).unwrap();
    let as_caseworker =
        |id| signed_in(f.anonymous.clone(), Principal { caseworker: Some(id), ..principal(Role::Caseworker) });
    let cw = as_caseworker(mine.id);

    // The plates as JSON, then every page of the sheet as SVG, decoded.
    let uri = format!("/api/buildings/{building}/plates");
    let (s, _, body) = get_at_origin(&cw, &format!("{uri}?format=json")).await;
    assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let sheet: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(sheet["issued"], units.len() + 1, "the first print issues every plate");
    let listed: BTreeMap<String, Value> = sheet["plates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["url"].as_str().unwrap().to_owned(), p.clone()))
        .collect();
    assert_eq!(listed.len(), units.len() + 1, "one plate for the building and one per unit, each its own");
    let pages = sheet["pages"].as_u64().unwrap();
    assert_eq!(pages, (units.len() as u64 + 1).div_ceil(15));
    let mut decoded = BTreeSet::new();
    for page in 1..=pages {
        let (s, kind, svg) = get_at_origin(&cw, &format!("{uri}?page={page}")).await;
        assert_eq!((s, kind.as_str()), (StatusCode::OK, "image/svg+xml; charset=utf-8"));
        let svg = String::from_utf8(svg).unwrap();
        let address = sheet["address"].as_str().unwrap();
        assert!(svg.contains(address) && address.starts_with(&atlas.district().name), "{address}");
        let urls = decode_page(&svg);
        assert_eq!(
            urls.len(),
            if page < pages { 15 } else { units.len() + 1 - 15 * (pages as usize - 1) },
            "page {page}"
        );
        decoded.extend(urls);
    }
    assert_eq!(decoded, listed.keys().cloned().collect::<BTreeSet<_>>(), "the sheet's codes are the plates");
    let (s, _, _) = get_at_origin(&cw, &format!("{uri}?page={}", pages + 1)).await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // Each decoded token opens its card, exactly as /api/units/{id} shows it; the building's
    // opens the building with its units. Together they open each unit of the building once.
    let mut opened = BTreeSet::new();
    let mut unit_token = None;
    for url in &decoded {
        let token = token_of(url);
        assert!(!token.contains(&building.to_string()), "{token} names no id");
        let (s, plate) = get(&cw, &format!("/api/plates/{token}")).await;
        assert_eq!(s, StatusCode::OK, "{plate}");
        assert_eq!(plate["building_id"], building);
        if plate["kind"] == "unit" {
            let id = plate["unit"]["id"].as_u64().unwrap();
            assert!(opened.insert(id), "unit {id} opened twice");
            let (s, card) = get(&cw, &format!("/api/units/{id}")).await;
            assert_eq!(s, StatusCode::OK);
            assert_eq!(plate["unit"], card, "the plate opens the card /api/units/{id} shows");
            assert_eq!(listed[url]["unit_id"], id);
            unit_token.get_or_insert((token, id));
        } else {
            assert_eq!(plate["kind"], "building");
            let ids: BTreeSet<u64> =
                plate["units"].as_array().unwrap().iter().map(|u| u["id"].as_u64().unwrap()).collect();
            assert_eq!(ids, units);
        }
    }
    assert_eq!(opened, units, "the plates open every unit of the building, each once");
    let (token, unit) = unit_token.expect("the building has a rental unit");

    // A reprint gives the same tokens and issues nothing.
    let (_, _, again) = get_at_origin(&cw, &format!("{uri}?format=json")).await;
    let again: Value = serde_json::from_slice(&again).unwrap();
    assert_eq!((again["issued"].clone(), again["plates"].clone()), (Value::from(0), sheet["plates"].clone()));

    // Forged: one character changed anywhere, lower case, cut short, rubbish.
    let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    for i in [0, 7, 19, token.len() - 1] {
        let c = token.as_bytes()[i] as char;
        let swap = alphabet.chars().find(|&a| a != c).unwrap();
        let forged = format!("{}{swap}{}", &token[..i], &token[i + 1..]);
        let (s, body) = get(&cw, &format!("/api/plates/{forged}")).await;
        assert_eq!((s, body["code"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")), "{forged}: {body}");
        assert!(body["message"].as_str().unwrap().contains("forged"), "{body}");
    }
    for forged in [token.to_lowercase(), token[1..].to_owned(), "x".repeat(32), unit.to_string()] {
        assert_eq!(get(&cw, &format!("/api/plates/{forged}")).await.0, StatusCode::NOT_FOUND, "{forged}");
    }

    // Outside the building's grid: refused, for the plate and the sheet.
    let outsider = as_caseworker(other.id);
    let (s, body) = get(&outsider, &format!("/api/plates/{token}")).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(get(&outsider, &uri).await.0, StatusCode::NOT_FOUND);

    // Revoking: not a caseworker's, nor another street's supervisor's; the center's, with a reason.
    let revoke = format!("/api/plates/{token}/revoke");
    let reason = r#"{"reason":"门牌被盗 stolen"}"#;
    assert_eq!(post_json(&cw, &revoke, reason).await.0, StatusCode::FORBIDDEN);
    let street = atlas.streets().iter().find(|s| !s.grids.contains(&grid)).unwrap();
    let elsewhere = signed_in(
        f.anonymous.clone(),
        Principal { street: Some(street.street.code.clone()), ..principal(Role::Supervisor) },
    );
    assert_eq!(post_json(&elsewhere, &revoke, reason).await.0, StatusCode::FORBIDDEN);
    assert_eq!(post_json(&f.router, &revoke, r#"{"reason":""}"#).await.0, StatusCode::UNPROCESSABLE_ENTITY);
    let (s, done) = post_json(&f.router, &revoke, reason).await;
    assert_eq!(s, StatusCode::OK, "{done}");
    assert_eq!((done["unit_id"].as_u64(), done["generation"].as_u64()), (Some(unit), Some(1)));
    let (s, body) = get(&cw, &format!("/api/plates/{token}")).await;
    assert_eq!((s, body["code"].as_str()), (StatusCode::GONE, Some("gone")), "{body}");
    assert_eq!(post_json(&f.router, &revoke, reason).await.0, StatusCode::GONE);

    // The reprint issues that plate anew: a new token that opens the card; the others stay.
    let (_, _, third) = get_at_origin(&cw, &format!("{uri}?format=json")).await;
    let third: Value = serde_json::from_slice(&third).unwrap();
    assert_eq!(third["issued"], 1);
    let mut changed = Vec::new();
    for (old, new) in sheet["plates"].as_array().unwrap().iter().zip(third["plates"].as_array().unwrap()) {
        if old["token"] != new["token"] {
            changed.push((
                new["unit_id"].as_u64(),
                new["generation"].as_u64(),
                new["url"].as_str().unwrap().to_owned(),
            ));
        }
    }
    assert_eq!(changed.len(), 1, "{changed:?}");
    let (id, generation, url) = changed.pop().unwrap();
    assert_eq!((id, generation), (Some(unit), Some(2)));
    let (s, plate) = get(&cw, &format!("/api/plates/{}", token_of(&url))).await;
    assert_eq!((s, plate["unit"]["id"].as_u64()), (StatusCode::OK, Some(unit)), "{plate}");

    // Audited: every print (the JSON three times, each page, the page past the end, the last
    // SVG below) and the revocation with its reason; the key is in no answer.
    let count = |action: &str| format!("SELECT COUNT(*) FROM audit_log WHERE action = '{action}'");
    assert_eq!(f.db.int(&count("plate_print")).await, 3 + pages as i64 + 1);
    assert_eq!(f.db.texts("SELECT reason FROM audit_log WHERE action = 'plate_revoke'").await, ["门牌被盗 stolen"]);
    let key = f.db.texts("SELECT key FROM door_plate_key").await.pop().unwrap();
    assert_eq!(key.len(), 64);
    for body in [sheet.to_string(), third.to_string(), plate.to_string()] {
        assert!(!body.contains(&key) && !body.to_uppercase().contains(&key.to_uppercase()));
    }
    let (_, svg) = send(&cw, Request::get(&uri).body(Body::empty()).unwrap()).await;
    assert!(!svg.to_string().to_lowercase().contains(&key));
    assert_eq!(f.db.int(&count("plate_print")).await, 3 + pages as i64 + 2);
    f.done().await;
}
