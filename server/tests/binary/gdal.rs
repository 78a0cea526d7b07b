//! GDAL as a real OGC API – Features client of the real binary: `ogrinfo OAPIF:` lists every
//! collection of `rentgrid serve`, and reading a layer page by page (a small `PAGE_SIZE`, so it
//! follows many `next` links) yields exactly as many features as the API's `numberMatched`.
//!
//! GDAL's MVT driver reads one of our vector tiles by its URL (`ogrinfo MVT:http://…/z/x/y.pbf`)
//! and finds the same features, ids and properties as our own decoder.
//!
//! Needs GDAL's `ogrinfo` (`scripts/ensure-tools --gdal` installs it). Without it the test
//! fails, saying so, unless `RENTGRID_SKIP_GDAL=1`.

use crate::http::get_with;
use serde_json::Value;
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

const COLLECTIONS: [&str; 6] = ["grids", "streets", "communities", "buildings", "rental_units", "workplaces"];

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Whether `ogrinfo` runs; fails the test when it does not unless RENTGRID_SKIP_GDAL=1.
fn have_ogrinfo() -> bool {
    match Command::new("ogrinfo").arg("--version").output() {
        Ok(out) if out.status.success() => {
            eprintln!("using {}", String::from_utf8_lossy(&out.stdout).trim());
            true
        }
        _ if std::env::var("RENTGRID_SKIP_GDAL").is_ok_and(|v| v == "1") => {
            eprintln!("RENTGRID_SKIP_GDAL=1: skipping the GDAL client test");
            false
        }
        _ => panic!(
            "GDAL's ogrinfo is missing, so the OGC API – Features client test cannot run: install it with \
             `scripts/ensure-tools --gdal` (apt-get install gdal-bin), or set RENTGRID_SKIP_GDAL=1 to skip"
        ),
    }
}

fn rentgrid(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rentgrid"));
    cmd.args(args);
    cmd
}

/// A GET as the holder of `token` that must answer 200: the body's bytes.
fn get_ok(addr: &str, token: &str, path: &str, accept: &str) -> Vec<u8> {
    let answer = get_with(addr, path, token, accept);
    assert_eq!(answer.status, 200, "{path}: {}\n{}", answer.head, answer.text());
    answer.body
}

/// A JSON GET as the holder of `token`.
fn get_json(addr: &str, token: &str, path: &str) -> Value {
    serde_json::from_slice(&get_ok(addr, token, path, "application/json")).expect("JSON")
}

/// `ogrinfo` reading over HTTP with `Authorization: Bearer token`, as QGIS and GDAL users are
/// told to (README): the header is GDAL's `GDAL_HTTP_HEADERS` configuration option.
fn ogrinfo_http(token: &str, args: &[&str]) -> String {
    let out = Command::new("ogrinfo")
        .args(args)
        .env("CPL_DEBUG", "OFF")
        .env("GDAL_HTTP_HEADERS", format!("Authorization: Bearer {token}"))
        .output()
        .expect("run ogrinfo");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "ogrinfo {args:?} failed: {stderr}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A tile property as ogrinfo prints it.
fn text(v: &rentgrid_tiles::decode::Val) -> String {
    use rentgrid_tiles::decode::Val;
    match v {
        Val::S(s) => s.clone(),
        Val::F(f) => f.to_string(),
        Val::D(d) => d.to_string(),
        Val::I(n) | Val::Si(n) => n.to_string(),
        Val::U(n) => n.to_string(),
        Val::B(b) => b.to_string(),
    }
}

/// Runs ogrinfo; returns its standard output, failing on a non-zero exit.
fn ogrinfo(args: &[&str]) -> String {
    let out = Command::new("ogrinfo").args(args).env("CPL_DEBUG", "OFF").output().expect("run ogrinfo");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "ogrinfo {args:?} failed: {stderr}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn gdal_lists_every_collection_and_reads_every_feature_across_pages() {
    if !have_ogrinfo() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let data_arg = data.to_string_lossy().to_string();
    let demo = rentgrid(&["demo", "--scale", "0.05", "--data", &data_arg]).output().expect("run rentgrid demo");
    assert!(demo.status.success(), "{}", String::from_utf8_lossy(&demo.stderr));

    let mut cmd = rentgrid(&["serve", "--data", &data_arg, "--listen", "127.0.0.1:0"]);
    cmd.env("RENTGRID_WEB", dir.path().join("no-web-map")).stdout(Stdio::piped()).stderr(Stdio::null());
    let mut server = Server(cmd.spawn().expect("start rentgrid"));
    let stdout = server.0.stdout.take().expect("stdout");
    let addr = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .find_map(|l| l.strip_prefix("listening on http://").map(|a| a.trim().to_string()))
        .expect("rentgrid did not say where it listens");
    let root = format!("OAPIF:http://{addr}/");

    // Without a token GDAL is refused (401); with the demo center's token it reads everything.
    let refused = Command::new("ogrinfo").args(["-ro", "-so", &root, "grids"]).output().expect("run ogrinfo");
    assert!(!refused.status.success(), "ogrinfo read the grids without a token");
    assert!(String::from_utf8_lossy(&refused.stderr).contains("401"), "{}", String::from_utf8_lossy(&refused.stderr));
    let token = crate::http::demo_token(&addr, "center");

    // Every collection is a layer.
    let summary = ogrinfo_http(&token, &["-ro", "-so", &root]);
    eprintln!("ogrinfo -ro -so {root}\n{summary}");
    let layers: BTreeSet<&str> = summary
        .lines()
        .filter_map(|l| l.split_once(": ").map(|(_, rest)| rest))
        .filter_map(|rest| rest.split(" (").next())
        .collect();
    for c in COLLECTIONS {
        assert!(layers.contains(c), "ogrinfo does not list {c}: {summary}");
    }

    // Reading a layer whole, 50 features a page, gives every feature once.
    for (layer, page_size) in [("grids", "50"), ("streets", "3"), ("buildings", "500")] {
        let matched = get_json(&addr, &token, &format!("/collections/{layer}/items?limit=1"))["numberMatched"]
            .as_u64()
            .expect("numberMatched");
        let dump = ogrinfo_http(
            &token,
            &["-ro", "-al", "-geom=SUMMARY", "-oo", &format!("PAGE_SIZE={page_size}"), &root, layer],
        );
        let fids: Vec<&str> =
            dump.lines().filter_map(|l| l.strip_prefix(&format!("OGRFeature({layer}):"))).map(str::trim).collect();
        let distinct: BTreeSet<&str> = fids.iter().copied().collect();
        eprintln!(
            "{layer}: ogrinfo read {} features ({} distinct), numberMatched {matched}",
            fids.len(),
            distinct.len()
        );
        assert_eq!(fids.len() as u64, matched, "{layer}: features read across pages vs numberMatched");
        assert_eq!(distinct.len(), fids.len(), "{layer}: a feature came twice");
        let count = ogrinfo_http(&token, &["-ro", "-so", "-oo", &format!("PAGE_SIZE={page_size}"), &root, layer]);
        let reported = count
            .lines()
            .find_map(|l| l.strip_prefix("Feature Count: "))
            .and_then(|n| n.trim().parse::<u64>().ok())
            .unwrap_or_else(|| panic!("no feature count for {layer}: {count}"));
        assert_eq!(reported, matched, "{layer}: ogrinfo's feature count");
    }

    // A property filter: GDAL learns from the OpenAPI document (`service-desc`) that `reg_status`
    // is a query parameter of the grids' items and sends the -where clause to the server.
    let below = get_json(&addr, &token, "/collections/grids/items?limit=1&reg_status=below")["numberMatched"]
        .as_u64()
        .expect("numberMatched");
    let out = Command::new("ogrinfo")
        .args(["-ro", "-al", "-geom=NO", "--debug", "on", "-where", "reg_status = 'below'", &root, "grids"])
        .env("GDAL_HTTP_HEADERS", format!("Authorization: Bearer {token}"))
        .output()
        .expect("run ogrinfo");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let read = String::from_utf8_lossy(&out.stdout).lines().filter(|l| l.starts_with("OGRFeature(grids):")).count();
    let debug = String::from_utf8_lossy(&out.stderr);
    let fetched: Vec<&str> = debug.lines().filter(|l| l.contains("Fetch(")).collect();
    eprintln!("grids below target: ogrinfo read {read}, numberMatched {below}; requests:\n{}", fetched.join("\n"));
    assert!(below > 0 && read as u64 == below, "{read} vs {below}");
    assert!(fetched.iter().any(|l| l.contains("/api)")), "GDAL did not read the OpenAPI document");
    assert!(fetched.iter().any(|l| l.contains("reg_status=below")), "the filter did not reach the server");

    // A bbox: ogrinfo -spat reads what the API finds in the box.
    let grids = get_json(&addr, &token, "/collections/grids?f=json");
    let b: Vec<f64> = grids["extent"]["spatial"]["bbox"][0]
        .as_array()
        .expect("bbox")
        .iter()
        .map(|v| v.as_f64().expect("number"))
        .collect();
    let (cx, cy) = ((b[0] + b[2]) / 2.0, (b[1] + b[3]) / 2.0);
    let (w, h) = ((b[2] - b[0]) / 10.0, (b[3] - b[1]) / 10.0);
    let spat = [cx - w, cy - h, cx + w, cy + h].map(|v| v.to_string());
    let in_box = get_json(
        &addr,
        &token,
        &format!("/collections/buildings/items?limit=1&bbox={},{},{},{}", spat[0], spat[1], spat[2], spat[3]),
    )["numberMatched"]
        .as_u64()
        .expect("numberMatched");
    let dump = ogrinfo_http(
        &token,
        &[
            "-ro",
            "-al",
            "-geom=NO",
            "-oo",
            "PAGE_SIZE=100",
            "-spat",
            &spat[0],
            &spat[1],
            &spat[2],
            &spat[3],
            &root,
            "buildings",
        ],
    );
    let read = dump.lines().filter(|l| l.starts_with("OGRFeature(buildings):")).count() as u64;
    eprintln!("buildings in the box: ogrinfo read {read}, numberMatched {in_box}");
    // GDAL keeps features whose geometry meets the box: at most those whose bounding box does.
    assert!(read > 0 && read <= in_box, "{read} vs {in_box}");

    // GDAL's MVT driver reads a grid tile at zoom 12 and a building tile at zoom 16 straight from
    // their URLs: the same features (ids) and properties as our decoder finds in those bytes.
    // Both at a building's corner, so neither tile is empty.
    let building = get_json(&addr, &token, "/collections/buildings/items?limit=1");
    let corner = &building["features"][0]["geometry"]["coordinates"][0][0];
    let (bx, by) = (corner[0].as_f64().expect("longitude"), corner[1].as_f64().expect("latitude"));
    let centre = geo::Rect::new(geo::coord! { x: bx, y: by }, geo::coord! { x: bx, y: by });
    for (layer, z, field) in [("grids", 12, "code"), ("buildings", 16, "kind")] {
        let t = rentgrid_tiles::tile::tiles_touching_at(centre, z, 0.0).tiles().next().expect("a tile");
        let path = format!("/tiles/{layer}/{}/{}/{}.pbf", t.z, t.x, t.y);
        let ours = rentgrid_tiles::decode::decode(&get_ok(&addr, &token, &path, "application/vnd.mapbox-vector-tile"))
            .expect("our tile decodes");
        let ours = ours.iter().find(|l| l.name == layer).unwrap_or_else(|| panic!("{path} has no {layer} layer"));
        let expected: BTreeSet<(u64, String)> = ours
            .features
            .iter()
            .map(|f| (f.id.expect("feature id"), f.props.get(field).map(text).unwrap_or_default()))
            .collect();
        let dump = ogrinfo_http(&token, &["-ro", "-al", "-geom=SUMMARY", &format!("MVT:http://{addr}{path}"), layer]);
        // Each `OGRFeature(grids):N` (GDAL's own numbering) is followed by indented fields, the
        // tile's feature id among them as `mvt_id (Integer64) = 17`.
        let mut read = BTreeSet::new();
        let (mut id, mut value) = (None, None);
        let field_value = |line: &str, name: &str| {
            line.trim()
                .strip_prefix(name)
                .filter(|rest| rest.starts_with(" ("))
                .and_then(|rest| rest.split_once(" = "))
                .map(|(_, v)| v.to_string())
        };
        for line in dump.lines().chain(["OGRFeature(end):"]) {
            if line.starts_with("OGRFeature(") {
                if let Some(id) = id.take() {
                    read.insert((id, value.take().unwrap_or_default()));
                }
            } else if let Some(v) = field_value(line, "mvt_id") {
                id = Some(v.parse::<u64>().expect("a numeric mvt_id"));
            } else if let Some(v) = field_value(line, field) {
                value = Some(v);
            }
        }
        eprintln!("ogrinfo MVT:{path}: {} features, ours {}", read.len(), expected.len());
        assert!(!expected.is_empty(), "{path} holds no {layer}");
        let ids = |s: &BTreeSet<(u64, String)>| s.iter().map(|(id, _)| *id).collect::<BTreeSet<u64>>();
        assert_eq!(ids(&read), ids(&expected), "{path}: feature ids GDAL read vs ours");
        assert_eq!(read, expected, "{path}: the {field} of each feature, GDAL's vs ours");
    }
}

/// The feature count `ogrinfo -so` reports for `layer` of the GeoPackage, checking that GDAL
/// opened it with its GeoPackage driver.
fn gpkg_count(gpkg: &str, layer: &str, geometry: &str) -> u64 {
    let out = ogrinfo(&["-ro", "-so", gpkg, layer]);
    assert!(out.contains("using driver `GPKG' successful"), "{gpkg} is not read as a GeoPackage: {out}");
    assert!(out.contains(&format!("Geometry: {geometry}")), "{layer}: expected {geometry} geometry: {out}");
    assert!(out.contains("WGS 84"), "{layer}: expected EPSG:4326: {out}");
    out.lines()
        .find_map(|l| l.strip_prefix("Feature Count: "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no feature count for {layer}: {out}"))
}

#[test]
fn the_data_directory_is_a_geopackage_gdal_opens() {
    if !have_ogrinfo() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let data_arg = data.to_string_lossy().to_string();
    let demo = rentgrid(&["demo", "--scale", "0.05", "--data", &data_arg]).output().expect("run rentgrid demo");
    assert!(demo.status.success(), "{}", String::from_utf8_lossy(&demo.stderr));
    let gpkg = data.join("rentgrid.gpkg").to_string_lossy().to_string();

    let mut cmd = rentgrid(&["serve", "--data", &data_arg, "--listen", "127.0.0.1:0"]);
    cmd.env("RENTGRID_WEB", dir.path().join("no-web-map")).stdout(Stdio::piped()).stderr(Stdio::null());
    let mut server = Server(cmd.spawn().expect("start rentgrid"));
    let stdout = server.0.stdout.take().expect("stdout");
    let addr = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .find_map(|l| l.strip_prefix("listening on http://").map(|a| a.trim().to_string()))
        .expect("rentgrid did not say where it listens");
    let health = crate::http::request(&addr, "GET", "/health", &[("Accept", "application/json")], b"").json();
    let token = crate::http::demo_token(&addr, "center");
    let matched = |c: &str| {
        get_json(&addr, &token, &format!("/collections/{c}/items?limit=1"))["numberMatched"]
            .as_u64()
            .expect("numberMatched")
    };
    let workplaces = matched("workplaces");
    drop(server);

    // Every layer is listed, each with as many features as the register holds.
    let layers = ogrinfo(&["-ro", &gpkg]);
    eprintln!("ogrinfo -ro {gpkg}\n{layers}");
    for layer in [
        "grids (Multi Polygon)",
        "buildings (Polygon)",
        "workplaces (Point)",
        "blocks (Polygon)",
        "roads (Line String)",
        "boundaries (Multi Polygon)",
    ] {
        assert!(layers.lines().any(|l| l.ends_with(&format!(": {layer}"))), "ogrinfo does not list {layer}: {layers}");
    }
    assert_eq!(gpkg_count(&gpkg, "grids", "Multi Polygon"), health["grids"].as_u64().expect("grids"), "grids");
    assert_eq!(gpkg_count(&gpkg, "buildings", "Polygon"), health["buildings"].as_u64().expect("buildings"));
    assert_eq!(gpkg_count(&gpkg, "workplaces", "Point"), workplaces, "workplaces");
    assert_eq!(gpkg_count(&gpkg, "boundaries", "Multi Polygon"), 1, "the district");
    // Blocks and roads: as many as the Atlas the store loads holds.
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let input = rt.block_on(async {
        use rentgrid_server::store::Register;
        let store = rentgrid_server::store::gpkg::GpkgStore::open(&data).await.expect("open the store");
        store.load_atlas_input().await.expect("read the register")
    });
    assert_eq!(gpkg_count(&gpkg, "blocks", "Polygon"), input.blocks.len() as u64, "blocks");
    assert_eq!(gpkg_count(&gpkg, "roads", "Line String"), input.roads.len() as u64, "roads");
}
