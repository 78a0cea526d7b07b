//! Exports as supervisors use them: CSV that Excel opens (BOM, Chinese headers), XLSX read back
//! with a reader crate, GeoJSON; totals that match the API; the caller's scope respected.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use calamine::{Data, Reader, Xlsx};
use http_body_util::BodyExt;
use rentgrid_analysis::kpi::Targets;
use rentgrid_geodata::demo::DemoOptions;
use rentgrid_server::export::{self, Format, Lang, Layer};
use rentgrid_server::scope::{Role, Scope};
use rentgrid_server::store::gpkg::GpkgStore;
use rentgrid_server::{app, startup};
use std::io::Cursor;
use std::sync::Arc;
use tower::ServiceExt;

async fn fixture() -> (tempfile::TempDir, axum::Router, rentgrid_geodata::Atlas) {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(GpkgStore::open(dir.path()).await.unwrap());
    let opts = DemoOptions { scale: 0.05, ..Default::default() };
    startup::seed_demo(store.as_ref(), &opts, &mut |_, _| {}, &|_, _, _| {}).await.unwrap();
    let atlas = startup::load_atlas(store.as_ref()).await.unwrap();
    let state = startup::state_for(store, Targets::default(), None).await.unwrap();
    (dir, crate::common::as_center(app(state)), atlas)
}

async fn download(router: &axum::Router, uri: &str) -> (StatusCode, String, Vec<u8>) {
    let res = router.clone().oneshot(Request::get(uri).body(Body::empty()).unwrap()).await.unwrap();
    let status = res.status();
    let ct = res.headers().get(header::CONTENT_TYPE).map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    (status, ct, res.into_body().collect().await.unwrap().to_bytes().to_vec())
}

#[tokio::test]
async fn csv_xlsx_and_geojson_exports_agree_with_the_register() {
    let (_dir, router, atlas) = fixture().await;
    let n_grids = atlas.grids().len();
    let (_, _, stats) = download(&router, "/api/stats?level=district").await;
    let stats: serde_json::Value = serde_json::from_slice(&stats).unwrap();
    let persons = stats["rows"][0]["persons"].as_u64().unwrap();

    let (status, ct, csv_bytes) = download(&router, "/api/exports/grids.csv").await;
    assert_eq!(status, StatusCode::OK);
    assert!(ct.starts_with("text/csv"));
    assert!(csv_bytes.starts_with(b"\xEF\xBB\xBF"), "CSV without a BOM: Excel would garble the Chinese");
    let mut reader = csv::Reader::from_reader(&csv_bytes[3..]);
    let headers = reader.headers().unwrap().clone();
    assert_eq!(&headers[0], "网格ID");
    assert_eq!(headers.iter().next_back(), Some("几何（WKT）"));
    let col = headers.iter().position(|h| h == "实有流动人口").unwrap();
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), n_grids);
    assert_eq!(rows.iter().map(|r| r[col].parse::<u64>().unwrap()).sum::<u64>(), persons);
    assert!(rows[0][headers.len() - 1].starts_with("MULTIPOLYGON((("));

    let (status, ct, xlsx) = download(&router, "/api/exports/grids.xlsx").await;
    assert_eq!(status, StatusCode::OK);
    assert!(ct.contains("spreadsheetml"));
    let mut book: Xlsx<_> = calamine::open_workbook_from_rs(Cursor::new(xlsx)).unwrap();
    assert_eq!(book.sheet_names(), vec!["网格".to_string()]);
    let range = book.worksheet_range("网格").unwrap();
    assert_eq!(range.height(), n_grids + 1);
    let head: Vec<String> = range.rows().next().unwrap().iter().map(|c| c.to_string()).collect();
    assert_eq!(&head[..3], ["网格ID", "网格编码", "网格名称"]);
    let pcol = head.iter().position(|h| h == "实有流动人口").unwrap();
    let total: f64 = range
        .rows()
        .skip(1)
        .map(|r| match &r[pcol] {
            Data::Float(f) => *f,
            other => panic!("persons cell is {other:?}"),
        })
        .sum();
    assert_eq!(total as u64, persons);

    let (_, _, en) = download(&router, "/api/exports/streets.xlsx?lang=en").await;
    let mut book: Xlsx<_> = calamine::open_workbook_from_rs(Cursor::new(en)).unwrap();
    let range = book.worksheet_range("streets").unwrap();
    assert_eq!(range.height(), 18, "17 streets and a header");
    assert_eq!(range.get((0, 0)), Some(&Data::String("code".into())));

    let (status, ct, gj) = download(&router, "/api/exports/buildings.geojson").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ct, "application/geo+json");
    let gj: serde_json::Value = serde_json::from_slice(&gj).unwrap();
    assert_eq!(gj["features"].as_array().unwrap().len(), atlas.buildings().len());
    assert_eq!(gj["features"][0]["geometry"]["type"], "Polygon");
}

#[tokio::test]
async fn exports_stay_within_the_scope_and_bad_names_are_404() {
    let (_dir, router, atlas) = fixture().await;
    let scope = Scope::of_grids(Role::Caseworker, [0, 1]);
    let counts = rentgrid_analysis::kpi::grid_counts(&atlas);
    let targets = Targets::default();
    let src = export::Sources { atlas: &atlas, counts: &counts, targets: &targets, unrecorded: None };
    let csv_bytes = export::export(&src, Layer::Grids, Format::Csv, Lang::En, &scope).unwrap();
    let mut reader = csv::Reader::from_reader(&csv_bytes[3..]);
    let ids: Vec<String> = reader.records().map(|r| r.unwrap()[0].to_string()).collect();
    assert_eq!(ids, vec!["0", "1"]);
    let buildings = export::export(&src, Layer::Buildings, Format::GeoJson, Lang::En, &scope).unwrap();
    let gj: serde_json::Value = serde_json::from_slice(&buildings).unwrap();
    assert!(gj["features"].as_array().unwrap().iter().all(|f| f["properties"]["grid_id"].as_u64().unwrap() <= 1));
    // A street with grids outside the scope is not exported partly counted.
    let streets = export::export(&src, Layer::Streets, Format::Csv, Lang::En, &scope).unwrap();
    assert_eq!(csv::Reader::from_reader(&streets[3..]).records().count(), 0);

    for (uri, status) in [
        ("/api/exports/grids", StatusCode::NOT_FOUND),
        ("/api/exports/planets.csv", StatusCode::NOT_FOUND),
        ("/api/exports/grids.pdf", StatusCode::NOT_FOUND),
        ("/api/exports/grids.csv?lang=fr", StatusCode::BAD_REQUEST),
        // Person-level ledgers leave only through the CLI until login lands.
        ("/api/exports/persons.csv", StatusCode::FORBIDDEN),
        ("/api/exports/units.xlsx", StatusCode::FORBIDDEN),
    ] {
        let (got, _, body) = download(&router, uri).await;
        assert_eq!(got, status, "{uri}");
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert!(v["message"].as_str().unwrap().len() > 10, "{uri}: {v}");
    }
}

#[tokio::test]
async fn a_place_table_exported_for_a_month_has_that_months_figures() {
    let (_dir, router, _) = fixture().await;
    let (_, _, hot) = download(&router, "/api/hotspots?metric=reg_rate").await;
    let hot: serde_json::Value = serde_json::from_slice(&hot).unwrap();
    let month = hot["description"]["months_available"][0].as_str().unwrap().to_string();
    for (level, table) in [("street", "streets"), ("community", "communities")] {
        let (_, _, stats) = download(&router, &format!("/api/stats?level={level}&month={month}")).await;
        let stats: serde_json::Value = serde_json::from_slice(&stats).unwrap();
        let want: std::collections::BTreeMap<String, u64> = stats["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| (r["code"].as_str().unwrap().to_string(), r["persons"].as_u64().unwrap()))
            .collect();
        let (status, _, csv_bytes) = download(&router, &format!("/api/exports/{table}.csv?month={month}")).await;
        assert_eq!(status, StatusCode::OK);
        let mut reader = csv::Reader::from_reader(&csv_bytes[3..]);
        let headers = reader.headers().unwrap().clone();
        let code = headers.iter().position(|h| h.ends_with("编码")).unwrap();
        let col = headers.iter().position(|h| h == "实有流动人口").unwrap();
        let got: std::collections::BTreeMap<String, u64> =
            reader.records().map(Result::unwrap).map(|r| (r[code].to_string(), r[col].parse().unwrap())).collect();
        assert_eq!(got, want, "{table} at the end of {month}");
        let (_, _, today) = download(&router, &format!("/api/exports/{table}.csv")).await;
        assert_ne!(today, csv_bytes, "{table}: the first month's table is today's");
    }
    let (status, _, _) = download(&router, &format!("/api/exports/boundaries.geojson?month={month}")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _, _) = download(&router, "/api/exports/streets.csv?month=1999-01").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}
