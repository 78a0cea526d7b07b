//! Test helpers: the demo city, and a small MVT decoder written from the spec (independent of the
//! encoder: it reads the protobuf wire format field by field) that turns tiles into layers of
//! features with geometry, ids and properties, printable as WKT.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use rentgrid_analysis::kpi::{Counts, Targets, grid_counts};
use rentgrid_geodata::demo::{DemoOptions, generate};
use rentgrid_geodata::{Atlas, AtlasInput};
use rentgrid_tiles::{Layer, MapGeometry, TileId, TileOptions, TileSources, build_tile};
use std::collections::BTreeMap;
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

/// The tile at zoom `z` holding `(lon, lat)`.
pub fn tile_at(lon: f64, lat: f64, z: u8) -> TileId {
    let n = 2f64.powi(i32::from(z));
    let x = ((lon + 180.0) / 360.0 * n).floor() as u32;
    let phi = lat.to_radians();
    let y = ((1.0 - (phi.tan() + 1.0 / phi.cos()).ln() / std::f64::consts::PI) / 2.0 * n).floor() as u32;
    TileId::new(z, x, y).unwrap()
}

/// A decoded property value.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    S(String),
    F(f32),
    D(f64),
    I(i64),
    U(u64),
    Si(i64),
    B(bool),
}

impl Val {
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Val::U(n) => Some(*n),
            Val::I(n) | Val::Si(n) => u64::try_from(*n).ok(),
            _ => None,
        }
    }
}

impl std::fmt::Display for Val {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Val::S(s) => write!(f, "{s:?}"),
            Val::F(x) => write!(f, "{x}"),
            Val::D(x) => write!(f, "{x}"),
            Val::I(n) | Val::Si(n) => write!(f, "{n}"),
            Val::U(n) => write!(f, "{n}"),
            Val::B(b) => write!(f, "{b}"),
        }
    }
}

/// A decoded feature: geometry type (1 point, 2 line, 3 polygon), paths (rings unclosed for
/// polygons), id and properties.
#[derive(Debug, Clone)]
pub struct DecodedFeature {
    pub id: Option<u64>,
    pub kind: u32,
    pub paths: Vec<Vec<[i32; 2]>>,
    pub props: BTreeMap<String, Val>,
}

/// A decoded layer.
#[derive(Debug, Clone)]
pub struct DecodedLayer {
    pub name: String,
    pub version: u32,
    pub extent: u32,
    pub features: Vec<DecodedFeature>,
}

struct Reader<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Reader<'a> {
    fn new(b: &'a [u8]) -> Self {
        Self { b, i: 0 }
    }
    fn done(&self) -> bool {
        self.i >= self.b.len()
    }
    fn varint(&mut self) -> u64 {
        let mut v = 0u64;
        let mut shift = 0;
        loop {
            let byte = self.b[self.i];
            self.i += 1;
            v |= u64::from(byte & 0x7f) << shift;
            if byte < 0x80 {
                return v;
            }
            shift += 7;
        }
    }
    fn key(&mut self) -> (u32, u8) {
        let k = self.varint();
        ((k >> 3) as u32, (k & 7) as u8)
    }
    fn bytes(&mut self) -> &'a [u8] {
        let n = self.varint() as usize;
        let s = &self.b[self.i..self.i + n];
        self.i += n;
        s
    }
    fn fixed(&mut self, n: usize) -> &'a [u8] {
        let s = &self.b[self.i..self.i + n];
        self.i += n;
        s
    }
    fn skip(&mut self, wire: u8) {
        match wire {
            0 => {
                self.varint();
            }
            1 => {
                self.fixed(8);
            }
            2 => {
                self.bytes();
            }
            5 => {
                self.fixed(4);
            }
            w => panic!("wire type {w}"),
        }
    }
    fn packed(&mut self) -> Vec<u32> {
        let mut r = Reader::new(self.bytes());
        let mut out = Vec::new();
        while !r.done() {
            out.push(r.varint() as u32);
        }
        out
    }
}

fn decode_value(b: &[u8]) -> Val {
    let mut r = Reader::new(b);
    let (f, w) = r.key();
    let v = match f {
        1 => Val::S(String::from_utf8(r.bytes().to_vec()).unwrap()),
        2 => Val::F(f32::from_le_bytes(r.fixed(4).try_into().unwrap())),
        3 => Val::D(f64::from_le_bytes(r.fixed(8).try_into().unwrap())),
        4 => Val::I(r.varint() as i64),
        5 => Val::U(r.varint()),
        6 => {
            let n = r.varint();
            Val::Si(((n >> 1) as i64) ^ -((n & 1) as i64))
        }
        7 => Val::B(r.varint() != 0),
        _ => panic!("value field {f} wire {w}"),
    };
    assert!(r.done(), "one value per Value message");
    v
}

fn unzig(n: u32) -> i32 {
    ((n >> 1) as i32) ^ -((n & 1) as i32)
}

fn decode_geometry(cmds: &[u32], kind: u32) -> Vec<Vec<[i32; 2]>> {
    let (mut x, mut y) = (0i32, 0i32);
    let mut paths: Vec<Vec<[i32; 2]>> = Vec::new();
    let mut i = 0;
    while i < cmds.len() {
        let (id, count) = (cmds[i] & 7, cmds[i] >> 3);
        i += 1;
        match id {
            1 | 2 => {
                for _ in 0..count {
                    x += unzig(cmds[i]);
                    y += unzig(cmds[i + 1]);
                    i += 2;
                    if id == 1 && kind != 1 {
                        paths.push(Vec::new());
                    }
                    if kind == 1 {
                        paths.push(vec![[x, y]]);
                    } else {
                        paths.last_mut().expect("LineTo after MoveTo").push([x, y]);
                    }
                }
            }
            7 => assert_eq!(kind, 3, "ClosePath only in polygons"),
            c => panic!("command {c}"),
        }
    }
    paths
}

/// Decodes an MVT tile.
pub fn decode(bytes: &[u8]) -> Vec<DecodedLayer> {
    let mut r = Reader::new(bytes);
    let mut layers = Vec::new();
    while !r.done() {
        let (f, w) = r.key();
        if f != 3 {
            r.skip(w);
            continue;
        }
        let mut l = Reader::new(r.bytes());
        let (mut name, mut version, mut extent) = (String::new(), 1u32, 4096u32);
        let (mut keys, mut values, mut raw) = (Vec::new(), Vec::new(), Vec::new());
        while !l.done() {
            let (f, w) = l.key();
            match f {
                1 => name = String::from_utf8(l.bytes().to_vec()).unwrap(),
                2 => raw.push(l.bytes()),
                3 => keys.push(String::from_utf8(l.bytes().to_vec()).unwrap()),
                4 => values.push(decode_value(l.bytes())),
                5 => extent = l.varint() as u32,
                15 => version = l.varint() as u32,
                _ => l.skip(w),
            }
        }
        let features = raw
            .into_iter()
            .map(|b| {
                let mut fr = Reader::new(b);
                let (mut id, mut kind, mut tags, mut geom) = (None, 0, Vec::new(), Vec::new());
                while !fr.done() {
                    let (f, w) = fr.key();
                    match f {
                        1 => id = Some(fr.varint()),
                        2 => tags = fr.packed(),
                        3 => kind = fr.varint() as u32,
                        4 => geom = fr.packed(),
                        _ => fr.skip(w),
                    }
                }
                let props =
                    tags.chunks(2).map(|kv| (keys[kv[0] as usize].clone(), values[kv[1] as usize].clone())).collect();
                DecodedFeature { id, kind, paths: decode_geometry(&geom, kind), props }
            })
            .collect();
        layers.push(DecodedLayer { name, version, extent, features });
    }
    layers
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
