//! The fonts of map labels over HTTP: the catalog names the faces labels use, a glyph range is a
//! protobuf with the glyphs of Chinese place names (decoded by `pbf_font_tools`, an outside
//! decoder), and bad font stacks, bad ranges and paths that climb out are refused with 4xx,
//! never read from disk. Fonts are the same on either store: the GeoPackage one serves them.

use crate::common::{Backend, Fixture, as_center, get};
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use pbf_font_tools::Glyphs;
use pbf_font_tools::prost::Message;
use rentgrid_analysis::kpi::Targets;
use rentgrid_server::{app, startup};
use tower::ServiceExt;

const REGULAR: &str = "Noto%20Sans%20CJK%20SC%20Regular";

#[tokio::test]
async fn the_catalog_names_the_label_fonts_and_the_glyph_url() {
    let f = Fixture::seeded(Backend::Sqlite).await;
    let req = Request::get("/fonts.json").header(header::HOST, "maps.example:8080").body(Body::empty()).unwrap();
    let res = f.router.clone().oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let body: serde_json::Value = serde_json::from_slice(&res.into_body().collect().await.unwrap().to_bytes()).unwrap();
    assert_eq!(body["regular"], "Noto Sans CJK SC Regular");
    assert_eq!(body["bold"], "Noto Sans CJK SC Bold");
    assert_eq!(body["glyphs"], "http://maps.example:8080/fonts/{fontstack}/{range}.pbf");
    assert!(body["fonts"].as_array().unwrap().iter().any(|n| n == "Noto Sans CJK TC Regular"), "{body}");
    // Fonts are for signed-in users, as the map is.
    assert_eq!(get(&f.anonymous, "/fonts.json").await.0, StatusCode::UNAUTHORIZED);
    f.done().await;
}

#[tokio::test]
async fn a_glyph_range_holds_the_glyphs_of_place_names() {
    let f = Fixture::seeded(Backend::Sqlite).await;
    // 街 is U+8857, in the range 0x8800–0x88FF.
    let uri = format!("/fonts/{REGULAR}/34816-35071.pbf");
    let res = f.router.clone().oneshot(Request::get(&uri).body(Body::empty()).unwrap()).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK, "{uri}");
    assert_eq!(res.headers()[header::CONTENT_TYPE], "application/x-protobuf");
    assert!(res.headers()[header::CACHE_CONTROL].to_str().unwrap().contains("max-age="));
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    let glyphs = Glyphs::decode(bytes.as_ref()).unwrap();
    let stack = &glyphs.stacks[0];
    assert_eq!((stack.name.as_str(), stack.range.as_str()), ("Noto Sans CJK SC Regular", "34816-35071"));
    let jie = stack.glyphs.iter().find(|g| g.id == 0x8857).expect("街");
    assert_eq!(jie.bitmap.as_ref().unwrap().len() as u32, (jie.width + 6) * (jie.height + 6));
    // The same range asked again is the same bytes (kept, not made again); a stack of two fonts
    // is served too.
    let again = f.router.clone().oneshot(Request::get(&uri).body(Body::empty()).unwrap()).await.unwrap();
    assert_eq!(again.into_body().collect().await.unwrap().to_bytes(), bytes);
    let two = format!("/fonts/Noto%20Sans%20CJK%20SC%20Bold,{REGULAR}/0-255.pbf");
    assert_eq!(get(&f.router, &two).await.0, StatusCode::OK);
    f.done().await;
}

#[tokio::test]
async fn bad_stacks_ranges_and_climbing_paths_are_refused() {
    let f = Fixture::seeded(Backend::Sqlite).await;
    let cases = [
        (format!("/fonts/{REGULAR}/1-256.pbf"), StatusCode::BAD_REQUEST),
        (format!("/fonts/{REGULAR}/0-511.pbf"), StatusCode::BAD_REQUEST),
        (format!("/fonts/{REGULAR}/65536-65791.pbf"), StatusCode::BAD_REQUEST),
        (format!("/fonts/{REGULAR}/x-y.pbf"), StatusCode::BAD_REQUEST),
        (format!("/fonts/{REGULAR}/0-255.mvt"), StatusCode::NOT_FOUND),
        ("/fonts/Arial%20Regular/0-255.pbf".into(), StatusCode::NOT_FOUND),
        (format!("/fonts/{REGULAR},,/0-255.pbf"), StatusCode::NOT_FOUND),
        ("/fonts/..%2F..%2F..%2Fetc%2Fpasswd/0-255.pbf".into(), StatusCode::NOT_FOUND),
        (
            "/fonts/%2Fusr%2Fshare%2Ffonts%2Fopentype%2Fnoto%2FNotoSansCJK-Regular.ttc/0-255.pbf".into(),
            StatusCode::NOT_FOUND,
        ),
        ("/fonts/..%2F..%2Fetc/passwd".into(), StatusCode::NOT_FOUND),
        ("/fonts/../../etc/passwd".into(), StatusCode::NOT_FOUND),
    ];
    for (uri, want) in cases {
        let (status, body) = get(&f.router, &uri).await;
        assert_eq!(status, want, "{uri}: {body}");
        // An error in the API's shape, nothing read from a file.
        assert!(body["code"].is_string() && !body.to_string().contains("root:"), "{uri}: {body}");
    }
    f.done().await;
}

#[tokio::test]
async fn a_server_without_fonts_says_so_and_draws_no_labels() {
    let f = Fixture::seeded(Backend::Sqlite).await;
    let state = startup::state_for(f.store.clone(), Targets::default(), None).await.unwrap().with_fonts(Vec::new());
    let router = as_center(app(state));
    let (status, body) = get(&router, "/fonts.json").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!((body["fonts"].as_array().unwrap().len(), &body["regular"]), (0, &serde_json::Value::Null));
    let (status, body) = get(&router, &format!("/fonts/{REGULAR}/0-255.pbf")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert!(body["message"].as_str().unwrap().contains("fonts-noto-cjk"), "{body}");
    f.done().await;
}
