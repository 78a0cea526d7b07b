//! The Atlas snapshot file: a compact binary copy of the Atlas's input (the district's geometry,
//! its places and every building's counts), written next to the store so that a server starts
//! without reading and aggregating the whole register again.
//!
//! The file is never trusted blindly. Its header names the format and the store's [`Stamp`] (the
//! last change of the log it includes and the store's history up to it); it is used only when
//! its length is the length it says and its checksum (CRC-32) matches, what it decodes to builds
//! an Atlas, and its stamp is either the store's stamp now or the stamp the store had at an
//! earlier change of its log ([`crate::store::SnapshotReads::stamp_at`]): then the server
//! applies the changes logged since, as it follows the log while serving (a reload among them,
//! or a log pruned past the file's change, loads everything from the store instead), and the
//! file is written anew off the start-up path. Anything else (no file, a file of another format,
//! another store's file, a file cut short or changed) is reported in one log line and the Atlas
//! is loaded from the store, after which the file is written anew, off the start-up path,
//! atomically (a temporary file renamed over it).
//!
//! Layout (little-endian): the magic `RENTGRID-ATLAS\n\0`, the format ([`FORMAT`], u32), the
//! stamp (change seq i64, data version u64, history text), the payload's length (u64) and
//! CRC-32 (u32), then the payload: each list as a u32 count and its items, texts as a u32 byte
//! length and UTF-8, coordinates as f64 pairs.

use crate::store::changes::Mark;
use crate::store::snapshot_reads::Stamp;
use geo::{Coord, LineString, MultiPolygon, Point, Polygon};
use rentgrid_geodata::{
    Atlas, AtlasInput, Block, Building, BuildingKind, BuildingStats, Community, CommunityKind, District, Grid, Road,
    RoadClass, Street, StreetKind, Workplace,
};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The first bytes of every Atlas snapshot file.
const MAGIC: &[u8; 16] = b"RENTGRID-ATLAS\n\0";

/// The layout's version; a file of another is rebuilt.
pub const FORMAT: u32 = 1;

/// The file's name next to a GeoPackage store.
pub const FILE_NAME: &str = "rentgrid.atlas";

/// Why an Atlas snapshot file was not used or not written.
#[derive(Debug, thiserror::Error)]
pub enum AtlasFileError {
    /// The file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// What failed.
        source: std::io::Error,
    },
    /// The file does not start as an Atlas snapshot does.
    #[error("not an Atlas snapshot")]
    NotASnapshot,
    /// Written by another layout.
    #[error("format {found}, this build reads format {FORMAT}")]
    Format {
        /// The file's format.
        found: u32,
    },
    /// The store was written after the file (or it is another store's).
    #[error(
        "stale: it holds change {file_seq} (data version {file_version}), the store is at change {store_seq} (data version {store_version})"
    )]
    Stale {
        /// The last change the file includes.
        file_seq: i64,
        /// Its data version.
        file_version: u64,
        /// The store's last change.
        store_seq: i64,
        /// Its data version.
        store_version: u64,
    },
    /// Same place in the log, but another store's history.
    #[error("it was made from another store (or one replaced since) at the same change")]
    OtherHistory,
    /// Shorter or longer than its header says.
    #[error("cut short or run on: {found} bytes of payload, the header says {expected}")]
    Length {
        /// Payload bytes in the file.
        found: u64,
        /// Payload bytes the header gives.
        expected: u64,
    },
    /// The payload's checksum does not match.
    #[error("its checksum does not match (the file was changed or damaged)")]
    Checksum,
    /// The payload does not decode.
    #[error("it does not decode: {0}")]
    Malformed(String),
}

type Result<T> = std::result::Result<T, AtlasFileError>;

/// Where a server keeps its Atlas snapshot file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AtlasFile {
    path: PathBuf,
}

impl AtlasFile {
    /// The snapshot file at `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// The snapshot file next to the GeoPackage store of `data_dir`.
    pub fn in_data_dir(data_dir: &Path) -> Self {
        Self::new(data_dir.join(FILE_NAME))
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The Atlas input the file holds, when the file is whole and holds exactly the store's
    /// state at `stamp`.
    pub fn read(&self, stamp: &Stamp) -> Result<AtlasInput> {
        let whole = self.read_whole()?;
        whole.check(stamp)?;
        whole.input()
    }

    /// The file, read and checked whole (format, length, checksum), not yet decoded: its stamp
    /// says which state of which store it holds.
    pub fn read_whole(&self) -> Result<Whole> {
        let bytes = std::fs::read(&self.path).map_err(|source| self.io(source))?;
        let (stamp, payload) = split(&bytes)?;
        let at = bytes.len() - payload.len();
        Ok(Whole { stamp, bytes, at })
    }

    /// Writes `atlas`'s input, which is the store's state at `stamp`, atomically: a temporary
    /// file in the same directory, flushed to disk, renamed over the file.
    pub fn write(&self, atlas: &Atlas, stamp: &Stamp) -> Result<()> {
        let bytes = encode(atlas, stamp);
        let dir = self.path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let tmp = dir.join(format!(".{}.{}.tmp", file_name(&self.path), std::process::id()));
        let written = (|| {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(&bytes)?;
            f.sync_all()?;
            std::fs::rename(&tmp, &self.path)?;
            // The rename itself is durable once the directory is flushed (not possible everywhere).
            if let Ok(d) = std::fs::File::open(dir) {
                let _ = d.sync_all();
            }
            Ok(())
        })();
        written.map_err(|source| {
            let _ = std::fs::remove_file(&tmp);
            self.io(source)
        })
    }

    fn io(&self, source: std::io::Error) -> AtlasFileError {
        AtlasFileError::Io { path: self.path.display().to_string(), source }
    }
}

/// A snapshot file read and checked whole, with the stamp of the state it holds.
#[derive(Debug)]
pub struct Whole {
    stamp: Stamp,
    bytes: Vec<u8>,
    /// Where the payload starts.
    at: usize,
}

impl Whole {
    /// The store's state the file holds.
    pub fn stamp(&self) -> &Stamp {
        &self.stamp
    }

    /// Whether the file holds exactly the state of `stamp` (else why not).
    pub fn check(&self, stamp: &Stamp) -> Result<()> {
        if self.stamp.mark != stamp.mark {
            return Err(AtlasFileError::Stale {
                file_seq: self.stamp.mark.seq,
                file_version: self.stamp.mark.version,
                store_seq: stamp.mark.seq,
                store_version: stamp.mark.version,
            });
        }
        if self.stamp.history != stamp.history {
            return Err(AtlasFileError::OtherHistory);
        }
        Ok(())
    }

    /// The Atlas input it holds.
    pub fn input(&self) -> Result<AtlasInput> {
        decode(&self.bytes[self.at..])
    }
}

fn file_name(p: &Path) -> String {
    p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| FILE_NAME.into())
}

/// The stamp and the checked payload of a file's bytes.
fn split(bytes: &[u8]) -> Result<(Stamp, &[u8])> {
    let mut r = Reader { bytes, at: 0 };
    if r.take(MAGIC.len()).ok() != Some(MAGIC.as_slice()) {
        return Err(AtlasFileError::NotASnapshot);
    }
    let format = r.u32()?;
    if format != FORMAT {
        return Err(AtlasFileError::Format { found: format });
    }
    let seq = r.i64()?;
    let version = r.u64()?;
    let history = r.text()?;
    let expected = r.u64()?;
    let crc = r.u32()?;
    let payload = &bytes[r.at..];
    if payload.len() as u64 != expected {
        return Err(AtlasFileError::Length { found: payload.len() as u64, expected });
    }
    if crc32fast::hash(payload) != crc {
        return Err(AtlasFileError::Checksum);
    }
    Ok((Stamp { mark: Mark { seq, version }, history }, payload))
}

/// The file's bytes for `atlas`'s input at `stamp`.
pub fn encode(atlas: &Atlas, stamp: &Stamp) -> Vec<u8> {
    let mut p = Writer::default();
    let d = atlas.district();
    p.text(&d.code);
    p.text(&d.name);
    p.multipolygon(&d.outline);
    p.count(atlas.streets().len());
    for s in atlas.streets() {
        let s = &s.street;
        p.text(&s.code);
        p.text(&s.name);
        p.u8(street_kind_code(s.kind));
    }
    p.count(atlas.communities().len());
    for c in atlas.communities() {
        let c = &c.community;
        p.text(&c.code);
        p.text(&c.name);
        p.text(&c.street_code);
        p.u8(community_kind_code(c.kind));
    }
    p.count(atlas.grids().len());
    for g in atlas.grids() {
        let g = &g.grid;
        p.u32(g.id);
        p.text(&g.code);
        p.text(&g.name);
        p.text(&g.community_code);
        p.multipolygon(&g.geometry);
    }
    p.count(atlas.blocks().len());
    for b in atlas.blocks() {
        p.u32(b.id);
        p.u32(b.grid_id);
        p.polygon(&b.geometry);
    }
    p.count(atlas.roads().len());
    for r in atlas.roads() {
        p.u32(r.id);
        p.u32(r.from_node);
        p.u32(r.to_node);
        p.u8(road_class_code(r.class));
        p.f64(r.length_m);
        p.line(&r.line);
    }
    p.count(atlas.buildings().len());
    for b in atlas.buildings() {
        p.u32(b.id);
        p.text(&b.external_id);
        p.u32(b.grid_id);
        p.u8(building_kind_code(b.kind));
        p.text(&b.address);
        p.u16(b.floors);
        p.u32(b.dwellings);
        p.u32(b.utility_accounts);
        p.polygon(&b.footprint);
        p.point(b.point);
    }
    for b in atlas.buildings() {
        let s = atlas.building_stats(b.id).copied().unwrap_or_default();
        for n in [
            s.rental_units,
            s.rental_units_registered,
            s.pledges_signed,
            s.persons,
            s.persons_registered,
            s.persons_with_permit,
            s.persons_consistent,
            s.visits,
        ] {
            p.u32(n);
        }
    }
    p.count(atlas.workplaces().len());
    for w in atlas.workplaces() {
        p.u32(w.id);
        p.text(&w.name);
        match w.building_id {
            Some(b) => {
                p.u8(1);
                p.u32(b);
            }
            None => p.u8(0),
        }
        p.u32(w.grid_id);
        p.point(w.point);
        p.u32(w.employees);
        p.u32(w.migrant_workers);
        p.u8(u8::from(w.responsibility_signed));
        p.u32(w.contracts_signed);
        p.u32(w.insured);
    }
    let payload = p.bytes;
    let mut out = Writer::default();
    out.bytes.extend_from_slice(MAGIC);
    out.u32(FORMAT);
    out.bytes.extend_from_slice(&stamp.mark.seq.to_le_bytes());
    out.bytes.extend_from_slice(&stamp.mark.version.to_le_bytes());
    out.text(&stamp.history);
    out.bytes.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    out.u32(crc32fast::hash(&payload));
    out.bytes.extend_from_slice(&payload);
    out.bytes
}

/// The Atlas input a checked payload holds.
fn decode(payload: &[u8]) -> Result<AtlasInput> {
    let mut r = Reader { bytes: payload, at: 0 };
    let district = District { code: r.text()?, name: r.text()?, outline: r.multipolygon()? };
    let streets = r.list(|r| {
        Ok(Street { code: r.text()?, name: r.text()?, kind: code_of(r.u8()?, STREET_KINDS, "street kind")? })
    })?;
    let communities = r.list(|r| {
        Ok(Community {
            code: r.text()?,
            name: r.text()?,
            street_code: r.text()?,
            kind: code_of(r.u8()?, COMMUNITY_KINDS, "community kind")?,
        })
    })?;
    let grids = r.list(|r| {
        Ok(Grid {
            id: r.u32()?,
            code: r.text()?,
            name: r.text()?,
            community_code: r.text()?,
            geometry: r.multipolygon()?,
        })
    })?;
    let blocks = r.list(|r| Ok(Block { id: r.u32()?, grid_id: r.u32()?, geometry: r.polygon()? }))?;
    let roads = r.list(|r| {
        Ok(Road {
            id: r.u32()?,
            from_node: r.u32()?,
            to_node: r.u32()?,
            class: code_of(r.u8()?, ROAD_CLASSES, "road class")?,
            length_m: r.f64()?,
            line: r.line()?,
        })
    })?;
    let buildings = r.list(|r| {
        Ok(Building {
            id: r.u32()?,
            external_id: r.text()?,
            grid_id: r.u32()?,
            kind: code_of(r.u8()?, &BuildingKind::ALL, "building kind")?,
            address: r.text()?,
            floors: r.u16()?,
            dwellings: r.u32()?,
            utility_accounts: r.u32()?,
            footprint: r.polygon()?,
            point: r.point()?,
        })
    })?;
    let building_stats = (0..buildings.len())
        .map(|_| {
            Ok(BuildingStats {
                rental_units: r.u32()?,
                rental_units_registered: r.u32()?,
                pledges_signed: r.u32()?,
                persons: r.u32()?,
                persons_registered: r.u32()?,
                persons_with_permit: r.u32()?,
                persons_consistent: r.u32()?,
                visits: r.u32()?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let workplaces = r.list(|r| {
        Ok(Workplace {
            id: r.u32()?,
            name: r.text()?,
            building_id: match r.u8()? {
                0 => None,
                1 => Some(r.u32()?),
                n => return Err(malformed(format!("workplace building flag {n}"))),
            },
            grid_id: r.u32()?,
            point: r.point()?,
            employees: r.u32()?,
            migrant_workers: r.u32()?,
            responsibility_signed: r.u8()? == 1,
            contracts_signed: r.u32()?,
            insured: r.u32()?,
        })
    })?;
    if r.at != payload.len() {
        return Err(malformed(format!("{} bytes left over", payload.len() - r.at)));
    }
    Ok(AtlasInput { district, streets, communities, grids, blocks, roads, buildings, building_stats, workplaces })
}

const STREET_KINDS: &[StreetKind] = &[StreetKind::Subdistrict, StreetKind::Town, StreetKind::Township];
const COMMUNITY_KINDS: &[CommunityKind] =
    &[CommunityKind::Urban, CommunityKind::UrbanVillage, CommunityKind::Industrial, CommunityKind::Rural];
const ROAD_CLASSES: &[RoadClass] = &[RoadClass::Arterial, RoadClass::Secondary, RoadClass::Local];

fn street_kind_code(k: StreetKind) -> u8 {
    position(STREET_KINDS, k)
}

fn community_kind_code(k: CommunityKind) -> u8 {
    position(COMMUNITY_KINDS, k)
}

fn road_class_code(c: RoadClass) -> u8 {
    position(ROAD_CLASSES, c)
}

fn building_kind_code(k: BuildingKind) -> u8 {
    position(&BuildingKind::ALL, k)
}

/// The code of `v`: its place in `all` (every value is listed there).
fn position<T: PartialEq + Copy>(all: &[T], v: T) -> u8 {
    all.iter().position(|x| *x == v).map_or(u8::MAX, |i| i as u8)
}

fn code_of<T: Copy>(code: u8, all: &[T], what: &str) -> Result<T> {
    all.get(usize::from(code)).copied().ok_or_else(|| malformed(format!("{what} {code}")))
}

fn malformed(what: impl Into<String>) -> AtlasFileError {
    AtlasFileError::Malformed(what.into())
}

#[derive(Default)]
struct Writer {
    bytes: Vec<u8>,
}

impl Writer {
    fn u8(&mut self, v: u8) {
        self.bytes.push(v);
    }
    fn u16(&mut self, v: u16) {
        self.bytes.extend_from_slice(&v.to_le_bytes());
    }
    fn u32(&mut self, v: u32) {
        self.bytes.extend_from_slice(&v.to_le_bytes());
    }
    fn f64(&mut self, v: f64) {
        self.bytes.extend_from_slice(&v.to_le_bytes());
    }
    fn count(&mut self, n: usize) {
        self.u32(u32::try_from(n).unwrap_or(u32::MAX));
    }
    fn text(&mut self, s: &str) {
        self.count(s.len());
        self.bytes.extend_from_slice(s.as_bytes());
    }
    fn point(&mut self, p: Point<f64>) {
        self.f64(p.x());
        self.f64(p.y());
    }
    fn line(&mut self, l: &LineString<f64>) {
        self.count(l.0.len());
        for c in &l.0 {
            self.f64(c.x);
            self.f64(c.y);
        }
    }
    fn polygon(&mut self, p: &Polygon<f64>) {
        self.line(p.exterior());
        self.count(p.interiors().len());
        for i in p.interiors() {
            self.line(i);
        }
    }
    fn multipolygon(&mut self, m: &MultiPolygon<f64>) {
        self.count(m.0.len());
        for p in &m.0 {
            self.polygon(p);
        }
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.bytes.len()).ok_or_else(|| malformed("cut short"))?;
        let s = &self.bytes[self.at..end];
        self.at = end;
        Ok(s)
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut a = [0; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }
    fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16> {
        Ok(u16::from_le_bytes(self.array()?))
    }
    fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array()?))
    }
    fn i64(&mut self) -> Result<i64> {
        Ok(i64::from_le_bytes(self.array()?))
    }
    fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.array()?))
    }
    fn f64(&mut self) -> Result<f64> {
        Ok(f64::from_le_bytes(self.array()?))
    }
    /// A count of items each at least `min_bytes` long, checked against what is left.
    fn count(&mut self, min_bytes: usize) -> Result<usize> {
        let n = self.u32()? as usize;
        if n.saturating_mul(min_bytes) > self.bytes.len() - self.at {
            return Err(malformed(format!("a count of {n} runs past the end")));
        }
        Ok(n)
    }
    fn text(&mut self) -> Result<String> {
        let n = self.count(1)?;
        String::from_utf8(self.take(n)?.to_vec()).map_err(|e| malformed(e.to_string()))
    }
    fn list<T>(&mut self, mut item: impl FnMut(&mut Self) -> Result<T>) -> Result<Vec<T>> {
        let n = self.count(1)?;
        (0..n).map(|_| item(self)).collect()
    }
    fn point(&mut self) -> Result<Point<f64>> {
        Ok(Point::new(self.f64()?, self.f64()?))
    }
    fn line(&mut self) -> Result<LineString<f64>> {
        let n = self.count(16)?;
        (0..n).map(|_| Ok(Coord { x: self.f64()?, y: self.f64()? })).collect::<Result<Vec<_>>>().map(LineString)
    }
    fn polygon(&mut self) -> Result<Polygon<f64>> {
        let exterior = self.line()?;
        let n = self.count(4)?;
        let interiors = (0..n).map(|_| self.line()).collect::<Result<Vec<_>>>()?;
        Ok(Polygon::new(exterior, interiors))
    }
    fn multipolygon(&mut self) -> Result<MultiPolygon<f64>> {
        let n = self.count(8)?;
        (0..n).map(|_| self.polygon()).collect::<Result<Vec<_>>>().map(MultiPolygon)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_cut_anywhere_or_with_a_byte_changed_is_refused() {
        let stamp = Stamp { mark: Mark { seq: 3, version: 2 }, history: "h".into() };
        let input = rentgrid_geodata::demo::generate(
            &rentgrid_geodata::demo::DemoOptions { scale: 0.01, ..Default::default() },
            &mut |_, _| {},
        )
        .map(|c| AtlasInput::from_city(&c))
        .expect("the demo city");
        let atlas = Atlas::build(input).expect("an Atlas");
        let bytes = encode(&atlas, &stamp);
        assert!(split(&bytes).is_ok());
        for cut in [0, 10, 40, bytes.len() / 2, bytes.len() - 1] {
            assert!(split(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut changed = bytes.clone();
        let last = changed.len() - 1;
        changed[last] ^= 1;
        assert!(matches!(split(&changed), Err(AtlasFileError::Checksum)));
    }
}
