//! Vector tiles over HTTP, on both stores: TileJSON, tiles as MVT (gzip, ETag, 304, 204, errors),
//! the tile cache dropping exactly the tiles a visit touches, and, on PostGIS, our tiles against
//! `ST_AsMVTGeom` of the same rows.

use crate::common::{Backend, Fixture, tile_at};
use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use geo::{
    BooleanOps, BoundingRect, Coord, Distance, Euclidean, Geometry, LineString, MultiPolygon, Point, Polygon, Rect,
};
use geozero::wkb::{FromWkb, WkbDialect};
use http_body_util::BodyExt;
use rentgrid_tiles::decode::{DecodedFeature, DecodedLayer, decode};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use tower::ServiceExt;

on_both_stores!(
    tilejson_describes_every_layer,
    tiles_are_mvt_with_etags_gzip_and_errors,
    a_visit_changes_the_tiles_over_its_grid_and_no_others,
);

/// A response's status, headers and body.
async fn send(router: &Router, req: Request<Body>) -> (StatusCode, HeaderMap, Vec<u8>) {
    let res = router.clone().oneshot(req).await.unwrap();
    let (parts, body) = res.into_parts();
    (parts.status, parts.headers, body.collect().await.unwrap().to_bytes().to_vec())
}

async fn get(router: &Router, uri: &str) -> (StatusCode, HeaderMap, Vec<u8>) {
    send(router, Request::get(uri).body(Body::empty()).unwrap()).await
}

async fn json(router: &Router, uri: &str) -> Value {
    let (status, _, body) = get(router, uri).await;
    assert_eq!(status, StatusCode::OK, "{uri}: {}", String::from_utf8_lossy(&body));
    serde_json::from_slice(&body).unwrap()
}

fn layer<'a>(layers: &'a [DecodedLayer], name: &str) -> &'a DecodedLayer {
    layers.iter().find(|l| l.name == name).unwrap_or_else(|| panic!("no layer {name}"))
}

async fn tilejson_describes_every_layer(backend: Backend) {
    let f = Fixture::seeded(backend).await;
    let district = json(&f.router, "/api/district").await;
    for name in ["grids", "buildings", "rental_units", "workplaces", "boundaries", "basemap"] {
        let req =
            Request::get(format!("/tiles/{name}.json")).header(header::HOST, "maps.example:8080").body(Body::empty());
        let (status, _, body) = send(&f.router, req.unwrap()).await;
        assert_eq!(status, StatusCode::OK, "{name}");
        let tj: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(tj["tilejson"], "3.0.0");
        assert_eq!(tj["tiles"][0], format!("http://maps.example:8080/tiles/{name}/{{z}}/{{x}}/{{y}}.mvt"));
        assert_eq!(tj["bounds"], district["bbox"], "{name}");
        let (minzoom, maxzoom) = (tj["minzoom"].as_u64().unwrap(), tj["maxzoom"].as_u64().unwrap());
        assert!(minzoom <= maxzoom && maxzoom <= 16);
        let center = tj["center"].as_array().unwrap();
        assert_eq!(center.len(), 3);
        assert!((minzoom..=maxzoom).contains(&center[2].as_u64().unwrap()));
        assert!(tj["attribution"].as_str().is_some_and(|a| !a.is_empty()));
        let layers = tj["vector_layers"].as_array().unwrap();
        assert!(!layers.is_empty());
        for l in layers {
            assert!(l["id"].is_string() && l["fields"].is_object(), "{l}");
        }
    }
    let grids = json(&f.router, "/tiles/grids.json").await;
    assert!(grids["vector_layers"][0]["fields"]["reg_rate"].is_string());
    // Without a Host header the tile URL is relative to the server.
    assert_eq!(grids["tiles"][0], "/tiles/grids/{z}/{x}/{y}.mvt");
    let (status, _, body) = get(&f.router, "/tiles/roads.json").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{}", String::from_utf8_lossy(&body));
    f.done().await;
}

async fn tiles_are_mvt_with_etags_gzip_and_errors(backend: Backend) {
    let f = Fixture::seeded(backend).await;
    let district = json(&f.router, "/api/district").await;
    let (lon, lat) = (district["center"][0].as_f64().unwrap(), district["center"][1].as_f64().unwrap());
    let (z, x, y) = tile_at(lon, lat, 14);
    let uri = format!("/tiles/grids/{z}/{x}/{y}.mvt");
    let (status, headers, body) = get(&f.router, &uri).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "application/vnd.mapbox-vector-tile");
    assert!(headers[header::CACHE_CONTROL].to_str().unwrap().contains("must-revalidate"));
    let etag = headers[header::ETAG].to_str().unwrap().to_owned();
    let grids = layer(&decode(&body).unwrap(), "grids").features.clone();
    assert!(!grids.is_empty());
    assert!(grids.iter().all(|g| g.id.is_some() && g.props.contains_key("reg_status")));
    // .pbf is the same tile.
    let (_, pbf_headers, pbf) = get(&f.router, &format!("/tiles/grids/{z}/{x}/{y}.pbf")).await;
    assert_eq!((pbf, pbf_headers[header::ETAG].to_str().unwrap()), (body.clone(), etag.as_str()));
    // gzip when asked, the same tile inside and the same tag.
    let req = Request::get(&uri).header(header::ACCEPT_ENCODING, "gzip, br").body(Body::empty()).unwrap();
    let (status, gz_headers, gz) = send(&f.router, req).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(gz_headers[header::CONTENT_ENCODING], "gzip");
    assert_eq!(gz_headers[header::ETAG], etag.as_str());
    let mut plain = Vec::new();
    flate2::read::GzDecoder::new(gz.as_slice()).read_to_end(&mut plain).unwrap();
    assert_eq!(plain, body);
    // 304 for the tag the client holds, with no body.
    let req = Request::get(&uri).header(header::IF_NONE_MATCH, &etag).body(Body::empty()).unwrap();
    let (status, headers_304, body_304) = send(&f.router, req).await;
    assert_eq!((status, body_304.len()), (StatusCode::NOT_MODIFIED, 0));
    assert_eq!(headers_304[header::ETAG], etag.as_str());
    // Empty tiles: far from the district, and below a layer's zooms.
    for empty in ["/tiles/grids/14/0/0.mvt", "/tiles/buildings/3/6/3.mvt"] {
        let (status, _, body) = get(&f.router, empty).await;
        assert_eq!((status, body.len()), (StatusCode::NO_CONTENT, 0), "{empty}");
    }
    // Bad requests: JSON errors with a code.
    for (bad, want) in [
        ("/tiles/roads/14/1/1.mvt", StatusCode::NOT_FOUND),
        ("/tiles/grids/14/1/1.png", StatusCode::NOT_FOUND),
        ("/tiles/grids/2/4/0.mvt", StatusCode::NOT_FOUND),
        ("/tiles/grids/25/0/0.mvt", StatusCode::NOT_FOUND),
        ("/tiles/grids/z/1/1.mvt", StatusCode::BAD_REQUEST),
        ("/tiles/grids/14/-1/1.mvt", StatusCode::BAD_REQUEST),
        ("/tiles/grids/14/1/a.mvt", StatusCode::BAD_REQUEST),
    ] {
        let (status, headers, body) = get(&f.router, bad).await;
        assert_eq!(status, want, "{bad}: {}", String::from_utf8_lossy(&body));
        assert!(headers[header::CONTENT_TYPE].to_str().unwrap().starts_with("application/json"), "{bad}");
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert!(v["code"].is_string() && v["message"].is_string(), "{bad}: {v}");
    }
    f.done().await;
}

/// The tile URLs of `layer` over the district at `z`, with their tags.
async fn etags(router: &Router, layer: &str, tiles: &[(u8, u32, u32)]) -> BTreeMap<(u8, u32, u32), String> {
    let mut out = BTreeMap::new();
    for &(z, x, y) in tiles {
        let (status, headers, _) = get(router, &format!("/tiles/{layer}/{z}/{x}/{y}.mvt")).await;
        if status == StatusCode::OK {
            out.insert((z, x, y), headers[header::ETAG].to_str().unwrap().to_owned());
        }
    }
    out
}

async fn a_visit_changes_the_tiles_over_its_grid_and_no_others(backend: Backend) {
    let f = Fixture::seeded(backend).await;
    let district = json(&f.router, "/api/district").await;
    let bbox: Vec<f64> = district["bbox"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    // A grid with unregistered persons: registering them changes its colour and counts.
    let grids = json(&f.router, "/api/grids").await;
    let grid = grids["features"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| {
            let p = &g["properties"];
            p["persons"].as_u64().unwrap() > p["persons_registered"].as_u64().unwrap()
        })
        .expect("a grid with someone to register")
        .clone();
    let grid_id = grid["id"].as_u64().unwrap();
    let ring: Vec<Coord> = grid["geometry"]["coordinates"][0][0]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| Coord { x: c[0].as_f64().unwrap(), y: c[1].as_f64().unwrap() })
        .collect();
    let grid_box = LineString::new(ring).bounding_rect().unwrap();
    let buildings = json(
        &f.router,
        &format!(
            "/api/buildings?bbox={},{},{},{}",
            grid_box.min().x,
            grid_box.min().y,
            grid_box.max().x,
            grid_box.max().y
        ),
    )
    .await;
    let building = buildings["features"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| {
            b["properties"]["grid_id"].as_u64() == Some(grid_id) && b["properties"]["rental_units"].as_u64() > Some(0)
        })
        .or_else(|| {
            buildings["features"]
                .as_array()
                .unwrap()
                .iter()
                .find(|b| b["properties"]["grid_id"].as_u64() == Some(grid_id))
        })
        .expect("a building in the grid");
    let building_id = building["id"].as_u64().unwrap();

    // Every grids tile over the district at z13, and the z15 tiles of the grid and a far corner.
    let z13: Vec<_> = {
        let (_, x0, y0) = tile_at(bbox[0], bbox[3], 13);
        let (_, x1, y1) = tile_at(bbox[2], bbox[1], 13);
        (y0..=y1).flat_map(|y| (x0..=x1).map(move |x| (13, x, y))).collect()
    };
    let centre = grid_box.center();
    let here = tile_at(centre.x, centre.y, 15);
    let far_corner = if centre.x < (bbox[0] + bbox[2]) / 2.0 { bbox[2] } else { bbox[0] };
    let far = tile_at(far_corner, if centre.y < (bbox[1] + bbox[3]) / 2.0 { bbox[3] } else { bbox[1] }, 13);
    let before = etags(&f.router, "grids", &z13).await;
    let before_here = etags(&f.router, "grids", &[here]).await;
    assert!(before.contains_key(&far), "the far tile {far:?} draws grids");
    // Cached: asking again gives the same tags.
    assert_eq!(etags(&f.router, "grids", &z13).await, before);

    // Register a new unit with tenants in the building: its grid's counts change.
    let body = serde_json::json!({
        "client_id": "tile-visit-1",
        "building_id": building_id,
        "new_units": [{ "label": "9-901", "tenants": 3, "registered": true }],
    });
    let req = Request::post("/api/visits")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    let (status, _, resp) = send(&f.router, req).await;
    assert_eq!(status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&resp));

    let after = etags(&f.router, "grids", &z13).await;
    let after_here = etags(&f.router, "grids", &[here]).await;
    assert_ne!(before_here[&here], after_here[&here], "the grid's own tile changed");
    assert_eq!(before[&far], after[&far], "a far tile kept its tag");
    // Exactly the z13 tiles that draw the grid changed: decode both sides to know which do.
    for (t, tag) in &after {
        let (_, _, bytes) = get(&f.router, &format!("/tiles/grids/{}/{}/{}.mvt", t.0, t.1, t.2)).await;
        let draws_grid = layer(&decode(&bytes).unwrap(), "grids").features.iter().any(|g| g.id == Some(grid_id));
        assert_eq!(
            draws_grid,
            before[t] != *tag,
            "tile {t:?}: draws the grid {draws_grid}, tag changed {}",
            before[t] != *tag
        );
    }
    // The new tile shows the new counts.
    let (_, _, bytes) = get(&f.router, &format!("/tiles/grids/{}/{}/{}.mvt", here.0, here.1, here.2)).await;
    let decoded = decode(&bytes).unwrap();
    let g = layer(&decoded, "grids").features.iter().find(|g| g.id == Some(grid_id)).unwrap();
    let grid_after = json(&f.router, &format!("/api/grids/{grid_id}")).await;
    assert_eq!(g.props["persons"].as_u64(), grid_after["properties"]["persons"].as_u64());
    assert_eq!(g.props["rental_units"].as_u64(), grid_after["properties"]["rental_units"].as_u64());
    assert_eq!(g.props["rental_units"].as_u64(), grid["properties"]["rental_units"].as_u64().map(|n| n + 1));
    f.done().await;
}

/// Our clip box: the tiles crate cuts one unit inside the 64-unit buffer (its overlay may round
/// a crossing one unit outward), PostGIS on it. Both are compared inside ours.
const CLIP: (f64, f64) = (-63.0, 4096.0 + 63.0);

/// A decoded polygon feature as geometry: exterior rings are clockwise on screen (positive by
/// the MVT formula), each followed by its holes.
fn our_polygons(f: &DecodedFeature) -> MultiPolygon<f64> {
    let ring = |r: &Vec<[i32; 2]>| {
        let mut c: Vec<Coord> = r.iter().map(|p| Coord { x: f64::from(p[0]), y: f64::from(p[1]) }).collect();
        c.extend(c.first().copied());
        LineString::new(c)
    };
    let mut polys: Vec<Polygon<f64>> = Vec::new();
    for r in &f.paths {
        match polys.last_mut() {
            Some(p) if rentgrid_tiles::geometry::twice_area(r) < 0 => p.interiors_push(ring(r)),
            _ => polys.push(Polygon::new(ring(r), vec![])),
        }
    }
    MultiPolygon(polys)
}

/// PostGIS's polygon or multipolygon as a multipolygon, cut to our clip box.
fn their_polygons(g: &Geometry<f64>) -> MultiPolygon<f64> {
    let mp = match g {
        Geometry::Polygon(p) => MultiPolygon(vec![p.clone()]),
        Geometry::MultiPolygon(mp) => mp.clone(),
        other => panic!("PostGIS gave {other:?}"),
    };
    let clip = Rect::new(Coord { x: CLIP.0, y: CLIP.0 }, Coord { x: CLIP.1, y: CLIP.1 }).to_polygon();
    mp.intersection(&clip)
}

/// How far our tile's geometry lies from PostGIS's, in tile units: the largest distance from a
/// vertex of either to the other's boundary (a vertex-sampled Hausdorff distance of the two
/// boundaries, both cut to the same box).
fn vertex_hausdorff(ours: &DecodedFeature, theirs: &Geometry<f64>) -> f64 {
    let rings = |mp: &MultiPolygon<f64>| -> Vec<LineString<f64>> {
        mp.0.iter().flat_map(|p| std::iter::once(p.exterior().clone()).chain(p.interiors().iter().cloned())).collect()
    };
    let (our_rings, their_rings) = (rings(&our_polygons(ours)), rings(&their_polygons(theirs)));
    let directed = |a: &[LineString<f64>], b: &[LineString<f64>]| {
        a.iter()
            .flat_map(|r| r.0.iter())
            .map(|c| b.iter().map(|r| Euclidean.distance(&Point::from(*c), r)).fold(f64::INFINITY, f64::min))
            .fold(0.0, f64::max)
    };
    directed(&our_rings, &their_rings).max(directed(&their_rings, &our_rings))
}

/// How far (tile units) a vertex may lie from the other geometry's boundary: our Douglas–Peucker
/// tolerance (1 unit; PostGIS only snaps to the grid) plus snapping to the integer grid on each
/// side (√½ each) is 2.41. A pixel of a 512-pixel tile is 8 units.
const MAX_UNITS: f64 = 1.0 + 2.0 * std::f64::consts::FRAC_1_SQRT_2;

/// Our grids and building footprints against PostGIS's `ST_AsMVTGeom` of the same rows, at
/// zooms 12 to 16 (buildings from 14, where we draw footprints rather than clusters). The ids
/// must match, except features PostGIS keeps whose clipped area is under our smallest ring (64
/// square units, one pixel of a 512-pixel tile), which we drop. Every vertex of either must lie
/// within [`MAX_UNITS`] of the other's boundary, and at most a tenth of the features more than
/// one unit off.
#[tokio::test]
async fn tiles_match_postgis_st_asmvtgeom() {
    let f = Fixture::seeded(Backend::Postgis).await;
    let pool = f.db.pg_pool().unwrap().clone();
    let district = json(&f.router, "/api/district").await;
    let (lon, lat) = (district["center"][0].as_f64().unwrap(), district["center"][1].as_f64().unwrap());
    let bbox: Vec<f64> = district["bbox"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    let mut tiles = Vec::new();
    for z in 12..=16u8 {
        tiles.push(tile_at(lon, lat, z));
        // And one off-centre, towards the district's north-west edge.
        tiles.push(tile_at(lon * 0.7 + bbox[0] * 0.3, lat * 0.7 + bbox[3] * 0.3, z));
    }
    let (mut compared, mut worst, mut over_one) = (0usize, 0.0f64, 0usize);
    for (z, x, y) in tiles {
        for (layer, table, geom, from) in
            [("grids", "grids", "geom", 12u8), ("buildings", "buildings", "footprint", 14)]
        {
            if z < from {
                continue;
            }
            let (status, _, bytes) = get(&f.router, &format!("/tiles/{layer}/{z}/{x}/{y}.mvt")).await;
            let ours: BTreeMap<u64, DecodedFeature> = if status == StatusCode::OK {
                layer_features(&decode(&bytes).unwrap(), layer)
            } else {
                BTreeMap::new()
            };
            let sql = format!(
                "SELECT CAST(id AS BIGINT), ST_AsBinary(g) FROM (SELECT id, \
                 ST_AsMVTGeom(ST_Transform({geom}, 3857), ST_TileEnvelope({z}, {x}, {y}), 4096, 64, true) AS g \
                 FROM {table} WHERE {geom} && ST_Transform(ST_TileEnvelope({z}, {x}, {y}, margin => 64.0 / 4096), 4326)) t \
                 WHERE g IS NOT NULL ORDER BY id"
            );
            let rows: Vec<(i64, Vec<u8>)> = sqlx::query_as(&sql).fetch_all(&pool).await.unwrap();
            let theirs: BTreeMap<u64, Geometry<f64>> = rows
                .into_iter()
                .map(|(id, b)| (id as u64, Geometry::from_wkb(&mut b.as_slice(), WkbDialect::Wkb).unwrap()))
                .collect();
            let what = format!("{layer} {z}/{x}/{y}");
            let extra: BTreeSet<_> = ours.keys().filter(|id| !theirs.contains_key(id)).collect();
            assert!(extra.is_empty(), "{what}: we draw {extra:?}, PostGIS does not");
            for (id, g) in &theirs {
                match ours.get(id) {
                    Some(mine) => {
                        let d = vertex_hausdorff(mine, g);
                        assert!(d <= MAX_UNITS, "{what} feature {id}: {d:.2} units from PostGIS's geometry");
                        worst = worst.max(d);
                        compared += 1;
                        over_one += usize::from(d > 1.0);
                    }
                    None => {
                        let a = geo::Area::unsigned_area(&their_polygons(g));
                        assert!(a < 64.0, "{what}: PostGIS draws feature {id} ({a:.0} units²), we do not");
                    }
                }
            }
        }
    }
    assert!(compared >= 100, "only {compared} features compared");
    eprintln!(
        "{compared} features compared with ST_AsMVTGeom; largest vertex distance {worst:.2} tile units, \
         {over_one} over 1 unit"
    );
    // Most features agree within a unit: the bound is for the few where simplification and both
    // roundings add up.
    assert!(over_one * 10 <= compared, "{over_one} of {compared} features are more than 1 unit off");
    f.done().await;
}

fn layer_features(layers: &[DecodedLayer], name: &str) -> BTreeMap<u64, DecodedFeature> {
    layers
        .iter()
        .filter(|l| l.name == name)
        .flat_map(|l| l.features.iter())
        .filter_map(|f| Some((f.id?, f.clone())))
        .collect()
}
