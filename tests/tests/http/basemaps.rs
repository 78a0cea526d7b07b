//! The optional Tianditu (天地图) basemap over HTTP: without a key, `GET /api/map-config` offers
//! no basemap but the offline one and the Content-Security-Policy admits no outside host; with
//! one, the config offers Tianditu's web-Mercator (`_w`) vector map and imagery with their labels
//! on the eight tile hosts, to signed-in users only, and the policy admits exactly those hosts.
//! Nothing here asks Tianditu for anything.

use crate::common::{Backend, Fixture, as_center, get};
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use rentgrid_analysis::kpi::Targets;
use rentgrid_server::tianditu::{HOSTS, TiandituKey};
use rentgrid_server::{app, startup};
use tower::ServiceExt;

const KEY: &str = "0123456789abcdef0123456789abcdef";

/// The Content-Security-Policy's sources of one directive.
async fn csp_sources(router: &axum::Router, uri: &str, directive: &str) -> Vec<String> {
    let res = router.clone().oneshot(Request::get(uri).body(Body::empty()).unwrap()).await.unwrap();
    let csp = res.headers().get(header::CONTENT_SECURITY_POLICY).unwrap().to_str().unwrap().to_owned();
    let part = csp.split(';').map(str::trim).find(|p| p.starts_with(&format!("{directive} "))).unwrap();
    part.split_whitespace().skip(1).map(str::to_owned).collect()
}

#[tokio::test]
async fn tianditu_is_offered_and_admitted_only_with_a_key() {
    let f = Fixture::seeded(Backend::Sqlite).await;
    // No key (the default): nothing to choose, nothing outside admitted.
    let (status, body) = get(&f.router, "/api/map-config").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["raster"], serde_json::json!([]), "{body}");
    for uri in ["/", "/api/map-config", "/tiles/grids/10/857/421.mvt"] {
        assert_eq!(csp_sources(&f.router, uri, "img-src").await, ["'self'", "data:", "blob:"], "{uri}");
        assert_eq!(csp_sources(&f.router, uri, "connect-src").await, ["'self'"], "{uri}");
    }
    assert!(!body.to_string().contains("tianditu"));

    // With a key.
    let key = TiandituKey::parse(KEY).unwrap();
    let state = startup::state_for(f.store.clone(), Targets::default(), None).await.unwrap().with_tianditu(Some(key));
    let anonymous = app(state);
    let router = as_center(anonymous.clone());
    let (status, body) = get(&router, "/api/map-config").await;
    assert_eq!(status, StatusCode::OK);
    let raster = body["raster"].as_array().unwrap();
    let ids: Vec<&str> = raster.iter().map(|b| b["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["tianditu_vector", "tianditu_image"]);
    for (b, (map, labels)) in raster.iter().zip([("vec", "cva"), ("img", "cia")]) {
        for (what, layer) in [("tiles", map), ("labels", labels)] {
            let urls: Vec<&str> = b[what].as_array().unwrap().iter().map(|u| u.as_str().unwrap()).collect();
            assert_eq!(urls.len(), 8);
            for (url, host) in urls.iter().zip(HOSTS) {
                // Web Mercator on the WGS84/CGCS2000 datum (`_w`, TILEMATRIXSET=w), never GCJ-02.
                assert!(url.starts_with(&format!("{host}/{layer}_w/wmts?")), "{url}");
                assert!(url.contains("TILEMATRIXSET=w&") && url.contains(&format!("LAYER={layer}&")), "{url}");
                assert!(url.contains("TILEMATRIX={z}&TILEROW={y}&TILECOL={x}") && url.ends_with(&format!("&tk={KEY}")));
            }
        }
        assert!(b["attribution"].as_str().unwrap().contains("天地图"));
    }
    // The key reaches signed-in users only.
    let (status, body) = get(&anonymous, "/api/map-config").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(!body.to_string().contains(KEY));
    // The policy admits exactly the eight tile hosts, for images and fetches, on every answer.
    let mut expected = vec!["'self'".to_owned(), "data:".into(), "blob:".into()];
    expected.extend(HOSTS.iter().map(|h| (*h).to_owned()));
    for (r, uri) in [(&router, "/api/map-config"), (&anonymous, "/"), (&router, "/tiles/grids/10/857/421.mvt")] {
        assert_eq!(csp_sources(r, uri, "img-src").await, expected, "{uri}");
        let mut connect = vec!["'self'".to_owned()];
        connect.extend(HOSTS.iter().map(|h| (*h).to_owned()));
        assert_eq!(csp_sources(r, uri, "connect-src").await, connect, "{uri}");
        assert_eq!(csp_sources(r, uri, "script-src").await, ["'self'"], "{uri}");
        assert_eq!(csp_sources(r, uri, "default-src").await, ["'self'"], "{uri}");
    }
    f.done().await;
}
