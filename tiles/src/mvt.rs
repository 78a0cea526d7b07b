//! Mapbox Vector Tile 2.1 encoding, by hand: the protobuf of `vector_tile.proto` is small enough
//! that writing its few messages directly is shorter and faster than a generated codec.
//!
//! Keys and values are deduplicated per layer (a value by its encoded message, kept once in one
//! buffer, so looking one up allocates nothing); features carry ids; geometry is the command
//! stream of the spec (MoveTo, LineTo, ClosePath with zigzag deltas), written as varints.

use foldhash::HashMap;
use std::hash::BuildHasher;

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

impl Value {
    /// The number it holds, if it holds one.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Double(f) => Some(*f),
            Value::Uint(u) => Some(*u as f64),
            Value::Sint(i) => Some(*i as f64),
            Value::String(_) | Value::Bool(_) => None,
        }
    }
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

pub(crate) fn put_varint(buf: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        buf.push((v as u8 & 0x7f) | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

pub(crate) fn put_tag(buf: &mut Vec<u8>, field: u32, wire: u8) {
    put_varint(buf, (u64::from(field) << 3) | u64::from(wire));
}

pub(crate) fn put_bytes(buf: &mut Vec<u8>, field: u32, bytes: &[u8]) {
    put_tag(buf, field, 2);
    put_varint(buf, bytes.len() as u64);
    buf.extend_from_slice(bytes);
}

fn varint_len(v: u32) -> usize {
    (32 - (v | 1).leading_zeros() as usize).div_ceil(7)
}

fn put_packed(buf: &mut Vec<u8>, field: u32, values: &[u32]) {
    put_tag(buf, field, 2);
    put_varint(buf, values.iter().map(|&v| varint_len(v)).sum::<usize>() as u64);
    for &v in values {
        put_varint(buf, u64::from(v));
    }
}

pub(crate) fn zigzag(n: i32) -> u32 {
    ((n << 1) ^ (n >> 31)) as u32
}

fn command(id: u32, count: usize) -> u32 {
    (id & 0x7) | ((count as u32) << 3)
}

/// The command stream of one geometry, as integers (decoded back from its varints).
#[cfg(test)]
fn geometry_commands(g: &TileGeometry) -> Vec<u32> {
    let mut bytes = Vec::new();
    write_commands(g, &mut bytes);
    let mut reader = crate::decode::Reader::new(&bytes);
    let mut out = Vec::new();
    while !reader.done() {
        out.push(reader.varint().map(|v| v as u32).unwrap_or(u32::MAX));
    }
    out
}

/// Writes the command stream of one geometry into `out` as varints: the body of the packed
/// `geometry` field.
fn write_commands(g: &TileGeometry, out: &mut Vec<u8>) {
    let mut w = Commands { out, cursor: [0, 0] };
    match g {
        TileGeometry::Points(pts) => {
            w.push(command(1, pts.len()));
            for &p in pts {
                w.step(p);
            }
        }
        TileGeometry::Lines(lines) => lines.iter().for_each(|l| w.path(l, false)),
        TileGeometry::Polygons(polys) => polys.iter().flatten().for_each(|r| w.path(r, true)),
    }
}

/// A command stream being written: where the cursor is.
struct Commands<'a> {
    out: &'a mut Vec<u8>,
    cursor: TilePoint,
}

impl Commands<'_> {
    fn push(&mut self, v: u32) {
        put_varint(self.out, u64::from(v));
    }

    fn step(&mut self, p: TilePoint) {
        self.push(zigzag(p[0].wrapping_sub(self.cursor[0])));
        self.push(zigzag(p[1].wrapping_sub(self.cursor[1])));
        self.cursor = p;
    }

    fn path(&mut self, pts: &[TilePoint], close: bool) {
        let Some((&first, rest)) = pts.split_first() else { return };
        self.push(command(1, 1));
        self.step(first);
        if !rest.is_empty() {
            self.push(command(2, rest.len()));
            for &p in rest {
                self.step(p);
            }
        }
        if close {
            self.push(command(7, 1));
        }
    }
}

/// One layer being written: its key and value tables and its encoded features.
#[derive(Debug)]
pub struct LayerEncoder {
    name: String,
    extent: u32,
    keys: Vec<String>,
    key_index: HashMap<String, u32>,
    /// Encoded `Value` messages, one after another: value `i` is
    /// `value_bytes[value_bounds[i]..value_bounds[i + 1]]`.
    value_bytes: Vec<u8>,
    value_bounds: Vec<usize>,
    /// Value indexes by the hash of their message.
    value_index: hashbrown::HashTable<u32>,
    hasher: foldhash::fast::RandomState,
    features: Vec<Vec<u8>>,
    bytes: usize,
    /// Scratch space: the value being looked up, the packed field being written.
    scratch: Vec<u8>,
}

impl LayerEncoder {
    /// An empty layer called `name` with `extent` units across.
    pub fn new(name: &str, extent: u32) -> Self {
        Self {
            name: name.to_owned(),
            extent,
            keys: Vec::new(),
            key_index: HashMap::default(),
            value_bytes: Vec::new(),
            value_bounds: vec![0],
            value_index: hashbrown::HashTable::new(),
            hasher: foldhash::fast::RandomState::default(),
            features: Vec::new(),
            bytes: 0,
            scratch: Vec::new(),
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
            self.scratch.clear();
            put_value(&mut self.scratch, v);
            let hash = self.hasher.hash_one(self.scratch.as_slice());
            let (bytes, bounds) = (&self.value_bytes, &self.value_bounds);
            let found = self.value_index.find(hash, |&i| value_at(bytes, bounds, i) == self.scratch.as_slice());
            let vi = match found.copied() {
                Some(i) => i,
                None => {
                    let i = (self.value_bounds.len() - 1) as u32;
                    self.bytes += self.scratch.len() + 2;
                    self.value_bytes.extend_from_slice(&self.scratch);
                    self.value_bounds.push(self.value_bytes.len());
                    let (bytes, bounds, hasher) = (&self.value_bytes, &self.value_bounds, &self.hasher);
                    self.value_index.insert_unique(hash, i, |&j| hasher.hash_one(value_at(bytes, bounds, j)));
                    i
                }
            };
            tags.push(ki);
            tags.push(vi);
        }
        let mut f = Vec::with_capacity(16 + 2 * tags.len());
        put_tag(&mut f, 1, 0);
        put_varint(&mut f, id);
        if !tags.is_empty() {
            put_packed(&mut f, 2, &tags);
        }
        put_tag(&mut f, 3, 0);
        put_varint(&mut f, geometry.type_code());
        self.scratch.clear();
        write_commands(geometry, &mut self.scratch);
        put_bytes(&mut f, 4, &self.scratch);
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
        for i in 0..self.value_bounds.len() - 1 {
            put_bytes(&mut out, 4, value_at(&self.value_bytes, &self.value_bounds, i as u32));
        }
        put_tag(&mut out, 5, 0);
        put_varint(&mut out, u64::from(self.extent));
        out
    }
}

/// Value `i` of a layer's value table.
fn value_at<'a>(bytes: &'a [u8], bounds: &[usize], i: u32) -> &'a [u8] {
    let i = i as usize;
    &bytes[bounds[i]..bounds[i + 1]]
}

/// Writes the `Value` message of `v` into `m`.
fn put_value(m: &mut Vec<u8>, v: &Value) {
    match v {
        Value::String(s) => put_bytes(m, 1, s.as_bytes()),
        Value::Double(x) => {
            put_tag(m, 3, 1);
            m.extend_from_slice(&x.to_le_bytes());
        }
        Value::Uint(n) => {
            put_tag(m, 5, 0);
            put_varint(m, *n);
        }
        Value::Sint(n) => {
            put_tag(m, 6, 0);
            put_varint(m, ((n << 1) ^ (n >> 63)) as u64);
        }
        Value::Bool(b) => {
            put_tag(m, 7, 0);
            put_varint(m, u64::from(*b));
        }
    }
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
    fn varint_lengths_match_the_encoding() {
        for v in [0, 1, 127, 128, 16_383, 16_384, 2_097_151, 2_097_152, u32::MAX] {
            let mut b = Vec::new();
            put_varint(&mut b, u64::from(v));
            assert_eq!(varint_len(v), b.len(), "{v}");
        }
    }

    #[test]
    fn keys_and_values_are_shared_within_a_layer() {
        let mut l = LayerEncoder::new("x", 4096);
        let g = TileGeometry::Points(vec![[1, 1]]);
        l.add(1, &g, &[("kind", "a".into()), ("n", 3u32.into())]);
        l.add(2, &g, &[("kind", "a".into()), ("n", 4u32.into())]);
        assert_eq!(l.keys.len(), 2);
        assert_eq!(l.value_bounds.len() - 1, 3);
    }
}
