//! Test helpers: the demo city, and decoded tiles (`rentgrid_tiles::decode`, written from the
//! spec apart from the encoder) as layers of features printable as WKT.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use rentgrid_analysis::kpi::{Counts, Targets, grid_counts};
use rentgrid_geodata::demo::{DemoOptions, generate};
use rentgrid_geodata::{Atlas, AtlasInput};
use rentgrid_tiles::{Layer, MapGeometry, TileId, TileOptions, TileSources, build_tile};
use std::fmt::Write;
use std::sync::OnceLock;

/// The scale of the test city: small, so the suite runs in seconds in a debug build.
pub const SCALE: f64 = 0.15;

/// The demo city's Atlas, its grid counts and derived map geometry, built once.
pub struct World {
    pub atlas: Atlas,
    pub counts: Vec<Counts>,
    pub targets: Targets,
    pub map: MapGeometry,
}

impl World {
    pub fn sources(&self) -> TileSources<'_> {
        TileSources {
            atlas: &self.atlas,
            grid_counts: &self.counts,
            targets: &self.targets,
            map: &self.map,
            visible: None,
            heat: None,
            suppress_small_counts: false,
            unrecorded: None,
        }
    }

    /// Builds and decodes a tile with default options.
    pub fn tile(&self, layer: Layer, t: TileId) -> Vec<DecodedLayer> {
        build_tile(&self.sources(), layer, t, &TileOptions::default()).unwrap().map(|b| decode(&b)).unwrap_or_default()
    }
}

pub fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let city = generate(&DemoOptions { scale: SCALE, ..Default::default() }, &mut |_, _| {}).unwrap();
        let atlas = Atlas::build(AtlasInput::from_city(&city)).unwrap();
        let counts = grid_counts(&atlas);
        let map = MapGeometry::derive(&atlas);
        World { atlas, counts, targets: Targets::default(), map }
    })
}

/// The Python the oracles run in (`RENTGRID_PYTHON`, with `oracle`'s packages), or `None` when
/// the run says `RENTGRID_SKIP_ORACLES=1` (the cross-check is then skipped, saying so). Without
/// either the test fails: a run that forgot the oracles must not pass.
pub fn oracle_python(oracle: &str) -> Option<String> {
    match std::env::var("RENTGRID_PYTHON") {
        Ok(p) if !p.is_empty() => Some(p),
        _ if std::env::var("RENTGRID_SKIP_ORACLES").is_ok_and(|v| v == "1") => {
            eprintln!("RENTGRID_SKIP_ORACLES=1: skipping the {oracle} cross-check");
            None
        }
        _ => panic!(
            "RENTGRID_PYTHON is not set: the {oracle} oracle cannot run. Run scripts/ensure-python and set \
             RENTGRID_PYTHON to the python it prints, or set RENTGRID_SKIP_ORACLES=1 to skip the oracles"
        ),
    }
}

/// The tile at zoom `z` holding `(lon, lat)`.
pub fn tile_at(lon: f64, lat: f64, z: u8) -> TileId {
    let n = 2f64.powi(i32::from(z));
    let x = ((lon + 180.0) / 360.0 * n).floor() as u32;
    let phi = lat.to_radians();
    let y = ((1.0 - (phi.tan() + 1.0 / phi.cos()).ln() / std::f64::consts::PI) / 2.0 * n).floor() as u32;
    TileId::new(z, x, y).unwrap()
}

#[allow(unused_imports)] // Val: for the Python oracle test only.
pub use rentgrid_tiles::decode::{DecodedFeature, DecodedLayer, Val};

/// Decodes an MVT tile with the crate's reader (written from the spec, apart from the encoder).
pub fn decode(bytes: &[u8]) -> Vec<DecodedLayer> {
    rentgrid_tiles::decode::decode(bytes).expect("a valid tile")
}

/// Twice the signed area of an open ring by the MVT formula (the spec's shoelace sum).
pub use rentgrid_tiles::geometry::twice_area as ring_area2;

/// A polygon feature's rings grouped into polygons (each exterior followed by its holes).
pub fn polygons(f: &DecodedFeature) -> Vec<Vec<Vec<[i32; 2]>>> {
    let mut out: Vec<Vec<Vec<[i32; 2]>>> = Vec::new();
    for r in &f.paths {
        if ring_area2(r) > 0 || out.is_empty() {
            out.push(vec![r.clone()]);
        } else if let Some(last) = out.last_mut() {
            last.push(r.clone());
        }
    }
    out
}

/// The feature's geometry as a geo MultiPolygon (polygons only), rings closed.
pub fn to_geo(f: &DecodedFeature) -> geo::MultiPolygon<f64> {
    let ring = |r: &Vec<[i32; 2]>| {
        let mut c: Vec<(f64, f64)> = r.iter().map(|p| (f64::from(p[0]), f64::from(p[1]))).collect();
        c.push(c[0]);
        geo::LineString::from(c)
    };
    geo::MultiPolygon(
        polygons(f).iter().map(|p| geo::Polygon::new(ring(&p[0]), p[1..].iter().map(ring).collect())).collect(),
    )
}

fn wkt_path(p: &[[i32; 2]], close: bool) -> String {
    let mut pts: Vec<String> = p.iter().map(|c| format!("{} {}", c[0], c[1])).collect();
    if close {
        pts.push(format!("{} {}", p[0][0], p[0][1]));
    }
    format!("({})", pts.join(", "))
}

/// The feature's geometry as WKT.
pub fn wkt(f: &DecodedFeature) -> String {
    match f.kind {
        1 if f.paths.len() == 1 => format!("POINT({} {})", f.paths[0][0][0], f.paths[0][0][1]),
        1 => format!("MULTIPOINT({})", f.paths.iter().map(|p| wkt_path(p, false)).collect::<Vec<_>>().join(", ")),
        2 if f.paths.len() == 1 => format!("LINESTRING{}", wkt_path(&f.paths[0], false)),
        2 => format!("MULTILINESTRING({})", f.paths.iter().map(|p| wkt_path(p, false)).collect::<Vec<_>>().join(", ")),
        _ => {
            let polys: Vec<String> = polygons(f)
                .iter()
                .map(|p| format!("({})", p.iter().map(|r| wkt_path(r, true)).collect::<Vec<_>>().join(", ")))
                .collect();
            if polys.len() == 1 {
                format!("POLYGON{}", polys[0])
            } else {
                format!("MULTIPOLYGON({})", polys.join(", "))
            }
        }
    }
}

/// A readable dump of decoded layers: per layer its features' ids, properties and WKT.
pub fn dump(layers: &[DecodedLayer]) -> String {
    let mut s = String::new();
    for l in layers {
        writeln!(s, "layer {} (version {}, extent {}): {} features", l.name, l.version, l.extent, l.features.len())
            .unwrap();
        for f in &l.features {
            let props: Vec<String> = f.props.iter().map(|(k, v)| format!("{k}={v}")).collect();
            writeln!(s, "  id={} {{{}}}", f.id.map_or("-".into(), |i| i.to_string()), props.join(", ")).unwrap();
            writeln!(s, "    {}", wkt(f)).unwrap();
        }
    }
    s
}
