//! Mapbox Vector Tile 2.1 encoding, by hand: the protobuf of `vector_tile.proto` is small enough
//! that writing its few messages directly is shorter and faster than a generated codec.
//!
//! Keys and values are deduplicated per layer; features carry ids; geometry is the command
//! stream of the spec (MoveTo, LineTo, ClosePath with zigzag deltas).

use std::collections::HashMap;

/// A property value, as the `Value` message holds it.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `string_value`.
    String(String),
    /// `double_value`.
    Double(f64),
    /// `uint_value`.
    Uint(u64),
    /// `sint_value`.
    Sint(i64),
    /// `bool_value`.
    Bool(bool),
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::String(s.to_owned())
    }
}

impl From<u32> for Value {
    fn from(n: u32) -> Self {
        Value::Uint(u64::from(n))
    }
}

impl From<u64> for Value {
    fn from(n: u64) -> Self {
        Value::Uint(n)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

impl From<f64> for Value {
    fn from(x: f64) -> Self {
        Value::Double(x)
    }
}

/// The hashable identity of a [`Value`] (a double by its bits).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum ValueKey {
    String(String),
    Double(u64),
    Uint(u64),
    Sint(i64),
    Bool(bool),
}

impl From<&Value> for ValueKey {
    fn from(v: &Value) -> Self {
        match v {
            Value::String(s) => ValueKey::String(s.clone()),
            Value::Double(x) => ValueKey::Double(x.to_bits()),
            Value::Uint(n) => ValueKey::Uint(*n),
            Value::Sint(n) => ValueKey::Sint(*n),
            Value::Bool(b) => ValueKey::Bool(*b),
        }
    }
}

/// A point of the tile's integer grid.
pub type TilePoint = [i32; 2];

/// Geometry in tile coordinates, ready to encode. Rings are open (the first point is not
/// repeated); a polygon is its exterior ring (positive area by the spec's formula) followed by
/// its holes (negative area).
#[derive(Debug, Clone, PartialEq)]
pub enum TileGeometry {
    /// One or more points.
    Points(Vec<TilePoint>),
    /// One or more lines of two or more points.
    Lines(Vec<Vec<TilePoint>>),
    /// One or more polygons.
    Polygons(Vec<Vec<Vec<TilePoint>>>),
}

impl TileGeometry {
    fn type_code(&self) -> u64 {
        match self {
            TileGeometry::Points(_) => 1,
            TileGeometry::Lines(_) => 2,
            TileGeometry::Polygons(_) => 3,
        }
    }

    /// True when there is nothing to draw.
    pub fn is_empty(&self) -> bool {
        match self {
            TileGeometry::Points(p) => p.is_empty(),
            TileGeometry::Lines(l) => l.is_empty(),
            TileGeometry::Polygons(p) => p.is_empty(),
        }
    }
}

fn put_varint(buf: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        buf.push((v as u8 & 0x7f) | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

fn put_tag(buf: &mut Vec<u8>, field: u32, wire: u8) {
    put_varint(buf, (u64::from(field) << 3) | u64::from(wire));
}

fn put_bytes(buf: &mut Vec<u8>, field: u32, bytes: &[u8]) {
    put_tag(buf, field, 2);
    put_varint(buf, bytes.len() as u64);
    buf.extend_from_slice(bytes);
}

fn put_packed(buf: &mut Vec<u8>, field: u32, values: &[u32]) {
    let mut body = Vec::with_capacity(values.len() * 2);
    for &v in values {
        put_varint(&mut body, u64::from(v));
    }
    put_bytes(buf, field, &body);
}

fn zigzag(n: i32) -> u32 {
    ((n << 1) ^ (n >> 31)) as u32
}

fn command(id: u32, count: usize) -> u32 {
    (id & 0x7) | ((count as u32) << 3)
}

/// The command stream of one geometry.
fn geometry_commands(g: &TileGeometry) -> Vec<u32> {
    let mut out = Vec::new();
    let mut cursor = [0i32, 0i32];
    let mut step = |out: &mut Vec<u32>, p: TilePoint| {
        out.push(zigzag(p[0].wrapping_sub(cursor[0])));
        out.push(zigzag(p[1].wrapping_sub(cursor[1])));
        cursor = p;
    };
    let mut path = |out: &mut Vec<u32>, pts: &[TilePoint], close: bool| {
        let Some((&first, rest)) = pts.split_first() else { return };
        out.push(command(1, 1));
        step(out, first);
        if !rest.is_empty() {
            out.push(command(2, rest.len()));
            for &p in rest {
                step(out, p);
            }
        }
        if close {
            out.push(command(7, 1));
        }
    };
    match g {
        TileGeometry::Points(pts) => {
            out.push(command(1, pts.len()));
            for &p in pts {
                step(&mut out, p);
            }
        }
        TileGeometry::Lines(lines) => lines.iter().for_each(|l| path(&mut out, l, false)),
        TileGeometry::Polygons(polys) => polys.iter().flatten().for_each(|r| path(&mut out, r, true)),
    }
    out
}

/// One layer being written: its key and value tables and its encoded features.
#[derive(Debug)]
pub struct LayerEncoder {
    name: String,
    extent: u32,
    keys: Vec<String>,
    key_index: HashMap<String, u32>,
    values: Vec<Value>,
    value_index: HashMap<ValueKey, u32>,
    features: Vec<Vec<u8>>,
    bytes: usize,
}

impl LayerEncoder {
    /// An empty layer called `name` with `extent` units across.
    pub fn new(name: &str, extent: u32) -> Self {
        Self {
            name: name.to_owned(),
            extent,
            keys: Vec::new(),
            key_index: HashMap::new(),
            values: Vec::new(),
            value_index: HashMap::new(),
            features: Vec::new(),
            bytes: 0,
        }
    }

    /// Adds a feature; an empty geometry adds nothing.
    pub fn add(&mut self, id: u64, geometry: &TileGeometry, properties: &[(&str, Value)]) {
        if geometry.is_empty() {
            return;
        }
        let mut tags = Vec::with_capacity(properties.len() * 2);
        for (k, v) in properties {
            let ki = match self.key_index.get(*k) {
                Some(&i) => i,
                None => {
                    let i = self.keys.len() as u32;
                    self.keys.push((*k).to_owned());
                    self.key_index.insert((*k).to_owned(), i);
                    self.bytes += k.len() + 2;
                    i
                }
            };
            let vk = ValueKey::from(v);
            let vi = match self.value_index.get(&vk) {
                Some(&i) => i,
                None => {
                    let i = self.values.len() as u32;
                    self.bytes += value_message(v).len() + 2;
                    self.values.push(v.clone());
                    self.value_index.insert(vk, i);
                    i
                }
            };
            tags.push(ki);
            tags.push(vi);
        }
        let mut f = Vec::new();
        put_tag(&mut f, 1, 0);
        put_varint(&mut f, id);
        if !tags.is_empty() {
            put_packed(&mut f, 2, &tags);
        }
        put_tag(&mut f, 3, 0);
        put_varint(&mut f, geometry.type_code());
        put_packed(&mut f, 4, &geometry_commands(geometry));
        self.bytes += f.len() + 4;
        self.features.push(f);
    }

    /// Features added so far.
    pub fn len(&self) -> usize {
        self.features.len()
    }

    /// True when no feature was added.
    pub fn is_empty(&self) -> bool {
        self.features.is_empty()
    }

    /// About how many bytes the layer will take (an upper bound within a few bytes).
    pub fn approx_bytes(&self) -> usize {
        self.bytes + self.name.len() + 16
    }

    /// Keeps only the first `n` features.
    pub fn truncate(&mut self, n: usize) {
        for f in self.features.drain(n.min(self.features.len())..) {
            self.bytes -= f.len() + 4;
        }
    }

    /// The `Layer` message.
    pub fn finish(self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.approx_bytes());
        put_tag(&mut out, 15, 0);
        put_varint(&mut out, 2);
        put_bytes(&mut out, 1, self.name.as_bytes());
        for f in &self.features {
            put_bytes(&mut out, 2, f);
        }
        for k in &self.keys {
            put_bytes(&mut out, 3, k.as_bytes());
        }
        for v in &self.values {
            put_bytes(&mut out, 4, &value_message(v));
        }
        put_tag(&mut out, 5, 0);
        put_varint(&mut out, u64::from(self.extent));
        out
    }
}

fn value_message(v: &Value) -> Vec<u8> {
    let mut m = Vec::new();
    match v {
        Value::String(s) => put_bytes(&mut m, 1, s.as_bytes()),
        Value::Double(x) => {
            put_tag(&mut m, 3, 1);
            m.extend_from_slice(&x.to_le_bytes());
        }
        Value::Uint(n) => {
            put_tag(&mut m, 5, 0);
            put_varint(&mut m, *n);
        }
        Value::Sint(n) => {
            put_tag(&mut m, 6, 0);
            put_varint(&mut m, ((n << 1) ^ (n >> 63)) as u64);
        }
        Value::Bool(b) => {
            put_tag(&mut m, 7, 0);
            put_varint(&mut m, u64::from(*b));
        }
    }
    m
}

/// A `Tile` message of the given finished layers (empty layers left out).
pub fn encode_tile(layers: Vec<LayerEncoder>) -> Vec<u8> {
    let mut out = Vec::new();
    for l in layers.into_iter().filter(|l| !l.is_empty()) {
        put_bytes(&mut out, 3, &l.finish());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_spec_examples_encode_as_written() {
        // MVT 2.1 §4.3.5: a point at (25, 17) is [9, 50, 34].
        assert_eq!(geometry_commands(&TileGeometry::Points(vec![[25, 17]])), vec![9, 50, 34]);
        // A line (2,2) (2,10) (10,10): [9, 4, 4, 18, 0, 16, 16, 0].
        let line = TileGeometry::Lines(vec![vec![[2, 2], [2, 10], [10, 10]]]);
        assert_eq!(geometry_commands(&line), vec![9, 4, 4, 18, 0, 16, 16, 0]);
        // A polygon (3,6) (8,12) (20,34): [9, 6, 12, 18, 10, 12, 24, 44, 15].
        let poly = TileGeometry::Polygons(vec![vec![vec![[3, 6], [8, 12], [20, 34]]]]);
        assert_eq!(geometry_commands(&poly), vec![9, 6, 12, 18, 10, 12, 24, 44, 15]);
    }

    #[test]
    fn keys_and_values_are_shared_within_a_layer() {
        let mut l = LayerEncoder::new("x", 4096);
        let g = TileGeometry::Points(vec![[1, 1]]);
        l.add(1, &g, &[("kind", "a".into()), ("n", 3u32.into())]);
        l.add(2, &g, &[("kind", "a".into()), ("n", 4u32.into())]);
        assert_eq!(l.keys.len(), 2);
        assert_eq!(l.values.len(), 3);
    }
}
