//! A small MVT 2.1 reader, written from the spec and independent of the encoder ([`crate::mvt`]):
//! it reads the protobuf wire format field by field and turns a tile into layers of features
//! with ids, properties and integer geometry. Tests (ours and the server's) check tiles with it;
//! malformed input is an error, never a panic.

use std::collections::BTreeMap;

/// Why bytes are not a tile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a vector tile: {0}")]
pub struct DecodeError(String);

fn bad<T>(why: impl Into<String>) -> Result<T, DecodeError> {
    Err(DecodeError(why.into()))
}

/// A property value, by the protobuf field it came in.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    /// `string_value`.
    S(String),
    /// `float_value`.
    F(f32),
    /// `double_value`.
    D(f64),
    /// `int_value`.
    I(i64),
    /// `uint_value`.
    U(u64),
    /// `sint_value`.
    Si(i64),
    /// `bool_value`.
    B(bool),
}

impl Val {
    /// The value as a non-negative integer, if it is one.
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Val::U(n) => Some(*n),
            Val::I(n) | Val::Si(n) => u64::try_from(*n).ok(),
            _ => None,
        }
    }

    /// The value as a number, if it is one.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Val::F(x) => Some(f64::from(*x)),
            Val::D(x) => Some(*x),
            Val::I(n) | Val::Si(n) => Some(*n as f64),
            Val::U(n) => Some(*n as f64),
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

/// A decoded feature: geometry type (1 point, 2 line, 3 polygon), paths in tile units (one per
/// point of a multipoint; rings unclosed for polygons), id and properties.
#[derive(Debug, Clone)]
pub struct DecodedFeature {
    /// The feature id, if set.
    pub id: Option<u64>,
    /// MVT geometry type: 1 point, 2 line string, 3 polygon.
    pub kind: u32,
    /// The geometry's paths.
    pub paths: Vec<Vec<[i32; 2]>>,
    /// The properties.
    pub props: BTreeMap<String, Val>,
}

/// A decoded layer.
#[derive(Debug, Clone)]
pub struct DecodedLayer {
    /// The layer name.
    pub name: String,
    /// The MVT version (2).
    pub version: u32,
    /// Units across the tile.
    pub extent: u32,
    /// Its features, in tile order.
    pub features: Vec<DecodedFeature>,
}

pub(crate) struct Reader<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(b: &'a [u8]) -> Self {
        Self { b, i: 0 }
    }
    pub(crate) fn done(&self) -> bool {
        self.i >= self.b.len()
    }
    pub(crate) fn varint(&mut self) -> Result<u64, DecodeError> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let Some(&byte) = self.b.get(self.i) else { return bad("varint runs past the end") };
            self.i += 1;
            v |= u64::from(byte & 0x7f) << shift;
            if byte < 0x80 {
                return Ok(v);
            }
        }
        bad("varint longer than 10 bytes")
    }
    fn key(&mut self) -> Result<(u32, u8), DecodeError> {
        let k = self.varint()?;
        Ok(((k >> 3) as u32, (k & 7) as u8))
    }
    fn fixed(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let s = self
            .b
            .get(self.i..self.i.saturating_add(n))
            .ok_or_else(|| DecodeError("field runs past the end".into()))?;
        self.i += n;
        Ok(s)
    }
    fn bytes(&mut self) -> Result<&'a [u8], DecodeError> {
        let n = usize::try_from(self.varint()?).map_err(|_| DecodeError("length too large".into()))?;
        self.fixed(n)
    }
    fn string(&mut self) -> Result<String, DecodeError> {
        String::from_utf8(self.bytes()?.to_vec()).map_err(|_| DecodeError("string is not UTF-8".into()))
    }
    fn skip(&mut self, wire: u8) -> Result<(), DecodeError> {
        match wire {
            0 => self.varint().map(drop),
            1 => self.fixed(8).map(drop),
            2 => self.bytes().map(drop),
            5 => self.fixed(4).map(drop),
            w => bad(format!("wire type {w}")),
        }
    }
    fn packed(&mut self) -> Result<Vec<u32>, DecodeError> {
        let mut r = Reader::new(self.bytes()?);
        let mut out = Vec::new();
        while !r.done() {
            out.push(r.varint()? as u32);
        }
        Ok(out)
    }
}

fn decode_value(b: &[u8]) -> Result<Val, DecodeError> {
    let mut r = Reader::new(b);
    let (f, w) = r.key()?;
    let array = |s: &[u8]| -> Result<[u8; 8], DecodeError> {
        let mut a = [0u8; 8];
        a.get_mut(..s.len()).ok_or_else(|| DecodeError("value too long".into()))?.copy_from_slice(s);
        Ok(a)
    };
    let v = match f {
        1 => Val::S(r.string()?),
        2 => {
            let a = array(r.fixed(4)?)?;
            Val::F(f32::from_le_bytes([a[0], a[1], a[2], a[3]]))
        }
        3 => Val::D(f64::from_le_bytes(array(r.fixed(8)?)?)),
        4 => Val::I(r.varint()? as i64),
        5 => Val::U(r.varint()?),
        6 => {
            let n = r.varint()?;
            Val::Si(((n >> 1) as i64) ^ -((n & 1) as i64))
        }
        7 => Val::B(r.varint()? != 0),
        _ => return bad(format!("value field {f} wire {w}")),
    };
    if !r.done() {
        return bad("a Value message holds more than one value");
    }
    Ok(v)
}

fn unzig(n: u32) -> i32 {
    ((n >> 1) as i32) ^ -((n & 1) as i32)
}

fn decode_geometry(cmds: &[u32], kind: u32) -> Result<Vec<Vec<[i32; 2]>>, DecodeError> {
    let (mut x, mut y) = (0i32, 0i32);
    let mut paths: Vec<Vec<[i32; 2]>> = Vec::new();
    let mut it = cmds.iter().copied();
    while let Some(cmd) = it.next() {
        let (id, count) = (cmd & 7, cmd >> 3);
        match id {
            1 | 2 => {
                for _ in 0..count {
                    let (Some(dx), Some(dy)) = (it.next(), it.next()) else { return bad("geometry ends mid-command") };
                    x = x.wrapping_add(unzig(dx));
                    y = y.wrapping_add(unzig(dy));
                    if kind == 1 {
                        paths.push(vec![[x, y]]);
                        continue;
                    }
                    if id == 1 {
                        paths.push(Vec::new());
                    }
                    match paths.last_mut() {
                        Some(p) => p.push([x, y]),
                        None => return bad("LineTo before MoveTo"),
                    }
                }
            }
            7 if kind == 3 => {}
            c => return bad(format!("command {c} in a geometry of type {kind}")),
        }
    }
    Ok(paths)
}

/// Decodes an MVT tile (uncompressed) into its layers.
pub fn decode(bytes: &[u8]) -> Result<Vec<DecodedLayer>, DecodeError> {
    let mut r = Reader::new(bytes);
    let mut layers = Vec::new();
    while !r.done() {
        let (f, w) = r.key()?;
        if f != 3 || w != 2 {
            r.skip(w)?;
            continue;
        }
        let mut l = Reader::new(r.bytes()?);
        let (mut name, mut version, mut extent) = (String::new(), 1u32, 4096u32);
        let (mut keys, mut values, mut raw) = (Vec::new(), Vec::new(), Vec::new());
        while !l.done() {
            let (f, w) = l.key()?;
            match f {
                1 => name = l.string()?,
                2 => raw.push(l.bytes()?),
                3 => keys.push(l.string()?),
                4 => values.push(decode_value(l.bytes()?)?),
                5 => extent = l.varint()? as u32,
                15 => version = l.varint()? as u32,
                _ => l.skip(w)?,
            }
        }
        let mut features = Vec::with_capacity(raw.len());
        for b in raw {
            let mut fr = Reader::new(b);
            let (mut id, mut kind, mut tags, mut geom) = (None, 0, Vec::new(), Vec::new());
            while !fr.done() {
                let (f, w) = fr.key()?;
                match f {
                    1 => id = Some(fr.varint()?),
                    2 => tags = fr.packed()?,
                    3 => kind = fr.varint()? as u32,
                    4 => geom = fr.packed()?,
                    _ => fr.skip(w)?,
                }
            }
            let mut props = BTreeMap::new();
            for kv in tags.chunks(2) {
                let (Some(k), Some(v)) = (kv.first(), kv.get(1)) else { return bad("odd number of tags") };
                let (Some(k), Some(v)) = (keys.get(*k as usize), values.get(*v as usize)) else {
                    return bad("tag index out of range");
                };
                props.insert(k.clone(), v.clone());
            }
            features.push(DecodedFeature { id, kind, paths: decode_geometry(&geom, kind)?, props });
        }
        layers.push(DecodedLayer { name, version, extent, features });
    }
    Ok(layers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for b in [&[0x1a, 0x05, 0x0a][..], &[0xff; 11], &[0x1a, 0x02, 0x12, 0x09]] {
            assert!(decode(b).is_err(), "{b:?}");
        }
        assert!(decode(&[]).is_ok_and(|l| l.is_empty()));
    }
}
