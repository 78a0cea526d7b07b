//! Well-Known Binary for the geometry PostGIS stores: exact doubles both ways (GeoJSON text
//! from PostGIS rounds to 15 digits), little-endian on write, either byte order on read.

use geo::{Coord, Geometry, LineString, MultiPolygon, Point, Polygon};

const POINT: u32 = 1;
const LINESTRING: u32 = 2;
const POLYGON: u32 = 3;
const MULTIPOLYGON: u32 = 6;
/// The EWKB flag for an embedded SRID.
const EWKB_SRID: u32 = 0x2000_0000;

/// Encodes a point, line string, polygon or multipolygon; other kinds are not stored.
pub fn encode(g: &Geometry<f64>) -> Vec<u8> {
    let mut out = Vec::new();
    write(&mut out, g);
    out
}

fn header(out: &mut Vec<u8>, kind: u32) {
    out.push(1);
    out.extend_from_slice(&kind.to_le_bytes());
}

fn coords(out: &mut Vec<u8>, ls: &LineString<f64>) {
    out.extend_from_slice(&(ls.0.len() as u32).to_le_bytes());
    for c in &ls.0 {
        out.extend_from_slice(&c.x.to_le_bytes());
        out.extend_from_slice(&c.y.to_le_bytes());
    }
}

fn polygon(out: &mut Vec<u8>, p: &Polygon<f64>) {
    header(out, POLYGON);
    out.extend_from_slice(&(1 + p.interiors().len() as u32).to_le_bytes());
    coords(out, p.exterior());
    for r in p.interiors() {
        coords(out, r);
    }
}

fn write(out: &mut Vec<u8>, g: &Geometry<f64>) {
    match g {
        Geometry::Point(p) => {
            header(out, POINT);
            out.extend_from_slice(&p.x().to_le_bytes());
            out.extend_from_slice(&p.y().to_le_bytes());
        }
        Geometry::LineString(ls) => {
            header(out, LINESTRING);
            coords(out, ls);
        }
        Geometry::Polygon(p) => polygon(out, p),
        Geometry::MultiPolygon(mp) => {
            header(out, MULTIPOLYGON);
            out.extend_from_slice(&(mp.0.len() as u32).to_le_bytes());
            for p in &mp.0 {
                polygon(out, p);
            }
        }
        // The store writes only the four kinds above.
        _ => header(out, 0),
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
    little: bool,
}

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N], String> {
        let end = self.at + N;
        let slice = self.bytes.get(self.at..end).ok_or("WKB ends too soon")?;
        self.at = end;
        let mut a = [0u8; N];
        a.copy_from_slice(slice);
        Ok(a)
    }

    fn u32(&mut self) -> Result<u32, String> {
        let b = self.take::<4>()?;
        Ok(if self.little { u32::from_le_bytes(b) } else { u32::from_be_bytes(b) })
    }

    fn f64(&mut self) -> Result<f64, String> {
        let b = self.take::<8>()?;
        Ok(if self.little { f64::from_le_bytes(b) } else { f64::from_be_bytes(b) })
    }

    fn header(&mut self) -> Result<u32, String> {
        self.little = match self.take::<1>()?[0] {
            0 => false,
            1 => true,
            b => return Err(format!("bad WKB byte order {b}")),
        };
        let kind = self.u32()?;
        if kind & EWKB_SRID != 0 {
            self.u32()?;
        }
        Ok(kind & 0xFFFF)
    }

    fn count(&mut self) -> Result<usize, String> {
        let n = self.u32()? as usize;
        // Each element takes at least 4 bytes: a count larger than what is left is corrupt.
        if n > (self.bytes.len() - self.at) / 4 + 1 {
            return Err(format!("WKB count {n} exceeds the data"));
        }
        Ok(n)
    }

    fn line(&mut self) -> Result<LineString<f64>, String> {
        let n = self.count()?;
        (0..n).map(|_| Ok(Coord { x: self.f64()?, y: self.f64()? })).collect::<Result<Vec<_>, String>>().map(LineString)
    }

    fn polygon_body(&mut self) -> Result<Polygon<f64>, String> {
        let rings = self.count()?;
        if rings == 0 {
            return Ok(Polygon::new(LineString(vec![]), vec![]));
        }
        let ext = self.line()?;
        let ints = (1..rings).map(|_| self.line()).collect::<Result<Vec<_>, _>>()?;
        Ok(Polygon::new(ext, ints))
    }
}

/// Decodes WKB (or EWKB) of a point, line string, polygon or multipolygon.
pub fn decode(bytes: &[u8]) -> Result<Geometry<f64>, String> {
    let mut r = Reader { bytes, at: 0, little: true };
    let g = match r.header()? {
        POINT => Geometry::Point(Point::new(r.f64()?, r.f64()?)),
        LINESTRING => Geometry::LineString(r.line()?),
        POLYGON => Geometry::Polygon(r.polygon_body()?),
        MULTIPOLYGON => {
            let n = r.count()?;
            let mut parts = Vec::with_capacity(n);
            for _ in 0..n {
                if r.header()? != POLYGON {
                    return Err("a MultiPolygon part is not a Polygon".into());
                }
                parts.push(r.polygon_body()?);
            }
            Geometry::MultiPolygon(MultiPolygon(parts))
        }
        k => return Err(format!("unsupported WKB geometry type {k}")),
    };
    Ok(g)
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::wkt;

    #[test]
    fn round_trips_exactly() {
        let geoms: Vec<Geometry<f64>> = vec![
            wkt!(POINT(121.54078138914325 29.85576247873143)).into(),
            wkt!(LINESTRING(121.1 29.1,121.2 29.3)).into(),
            wkt!(POLYGON((0. 0.,1. 0.,1. 1.,0. 0.),(0.1 0.1,0.2 0.1,0.2 0.2,0.1 0.1))).into(),
            wkt!(MULTIPOLYGON(((0. 0.,1. 0.,1. 1.,0. 0.)),((5. 5.,6. 5.,6. 6.,5. 5.)))).into(),
        ];
        for g in geoms {
            assert_eq!(decode(&encode(&g)).unwrap(), g);
        }
    }

    #[test]
    fn reads_big_endian_and_ewkb() {
        // POINT(1 2), big-endian, with SRID 4326 (EWKB).
        let mut b = vec![0u8];
        b.extend_from_slice(&(POINT | EWKB_SRID).to_be_bytes());
        b.extend_from_slice(&4326u32.to_be_bytes());
        b.extend_from_slice(&1.0f64.to_be_bytes());
        b.extend_from_slice(&2.0f64.to_be_bytes());
        assert_eq!(decode(&b).unwrap(), Geometry::Point(Point::new(1.0, 2.0)));
    }

    #[test]
    fn corrupt_input_is_an_error_not_a_panic() {
        let good = encode(&wkt!(POLYGON((0. 0.,1. 0.,1. 1.,0. 0.))).into());
        for cut in 0..good.len() {
            assert!(decode(&good[..cut]).is_err(), "cut at {cut}");
        }
        let mut huge = good.clone();
        huge[5..9].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(decode(&huge).is_err());
        assert!(decode(&[7, 1, 0, 0, 0]).is_err());
    }
}
