//! The glyphs map labels are drawn with, as MapLibre asks for them: a range of 256 code points of
//! a font stack (`{fontstack}/{start}-{end}.pbf`), each glyph a signed distance field of its
//! outline at 24 px, in the `glyphs.proto` protobuf of Mapbox's fontnik.
//!
//! Glyphs are made here from OpenType fonts (TrueType or CFF outlines, single files or
//! collections such as Noto Sans CJK's `.ttc`): outlines read by `ttf-parser`, rasterised to
//! coverage by `ab_glyph_rasterizer`, turned into a distance field by `sdf_glyph_renderer` (the
//! Felzenszwalb–Huttenlocher transform that Martin's glyph server uses) with fontnik's settings:
//! a 3 px border, a radius of 8 px and a cutoff of 0.25. The metrics are FreeType's for an
//! unhinted glyph (`FT_LOAD_NO_HINTING`): the bitmap is the outline's control box rounded out to
//! whole pixels, `top` is measured from the ascender rounded up, the advance is rounded down.

use crate::mvt::{put_bytes, put_tag, put_varint, zigzag};
use ab_glyph_rasterizer::{Rasterizer, point};
use sdf_glyph_renderer::{BitmapGlyph, clamp_to_u8};
use ttf_parser::{Face, OutlineBuilder, name_id};

/// Glyphs are drawn for a text size of 24 px (MapLibre's `ONE_EM`).
pub const SIZE_PX: f32 = 24.0;
/// Pixels of distance field around each glyph's bitmap (MapLibre's glyph border).
pub const BORDER: usize = 3;
/// How far from the outline distances are recorded, in pixels.
pub const RADIUS: usize = 8;
/// The share of the byte range given to distances inside the outline.
pub const CUTOFF: f64 = 0.25;
/// Code points in one range.
pub const RANGE: u32 = 256;
/// The highest code point a range may reach (MapLibre asks for the Basic Multilingual Plane).
pub const MAX_CODE_POINT: u32 = 0xFFFF;
/// Fonts one stack may name (MapLibre's `text-font` lists them; the first having a glyph wins).
pub const MAX_STACK: usize = 4;
/// A glyph wider or taller than this many pixels at 24 px is left out (no text glyph is).
const MAX_GLYPH_PX: i64 = 256;

/// Why glyphs could not be made or served.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file that holds no font this module can read.
    #[error("{0} holds no readable OpenType or TrueType font")]
    NotAFont(String),
    /// A font stack naming a font that is not loaded.
    #[error("no font is named {name:?}; the fonts are: {known}")]
    UnknownFont {
        /// The name asked for.
        name: String,
        /// The names there are, comma-separated.
        known: String,
    },
    /// A font stack that is empty or names too many fonts.
    #[error("font stack {0:?}: name 1 to 4 fonts, separated by commas")]
    BadStack(String),
    /// A range that is not `{start}-{end}` of 256 code points starting at a multiple of 256.
    #[error(
        "glyph range {0:?}: ask for {{start}}-{{end}} with start a multiple of 256 up to 65280 and end = start + 255"
    )]
    BadRange(String),
}

/// Results of this module.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A range of code points, `start..=start + 255`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GlyphRange {
    start: u32,
}

impl GlyphRange {
    /// The range starting at `start` (a multiple of 256 within the Basic Multilingual Plane).
    pub fn new(start: u32) -> Result<Self> {
        if !start.is_multiple_of(RANGE) || start > MAX_CODE_POINT {
            return Err(Error::BadRange(format!("{start}-{}", start.saturating_add(RANGE - 1))));
        }
        Ok(Self { start })
    }

    /// The range holding `c`.
    pub fn of(c: char) -> Option<Self> {
        Self::new(u32::from(c) / RANGE * RANGE).ok()
    }

    /// The first code point.
    pub fn start(self) -> u32 {
        self.start
    }

    /// The last code point.
    pub fn end(self) -> u32 {
        self.start + RANGE - 1
    }
}

impl std::str::FromStr for GlyphRange {
    type Err = Error;

    /// Parses `{start}-{end}` as MapLibre writes it in a glyph URL.
    fn from_str(s: &str) -> Result<Self> {
        let bad = || Error::BadRange(s.to_owned());
        let (a, b) = s.split_once('-').ok_or_else(bad)?;
        let whole = |t: &str| {
            let digits = !t.is_empty() && t.len() <= 5 && t.bytes().all(|c| c.is_ascii_digit());
            digits.then(|| t.parse::<u32>().ok()).flatten()
        };
        let (Some(start), Some(end)) = (whole(a), whole(b)) else { return Err(bad()) };
        let range = Self::new(start).map_err(|_| bad())?;
        if end != range.end() {
            return Err(bad());
        }
        Ok(range)
    }
}

impl std::fmt::Display for GlyphRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.start(), self.end())
    }
}

/// One face of a loaded font file.
#[derive(Debug, Clone)]
struct FaceEntry {
    /// Its name in font stacks: family and style, e.g. `Noto Sans CJK SC Regular`.
    name: String,
    /// The file it is in.
    file: usize,
    /// Its index in that file (a collection holds several).
    index: u32,
    /// OS/2 weight class (400 regular, 700 bold).
    weight: u16,
    /// Whether it draws the label test characters and is proportional.
    for_labels: bool,
}

/// Characters a face must draw to be offered for labels: those of every place kind's name.
const LABEL_TEST: &str = "街道镇乡社区村网格第0123456789";

/// The two faces labels are written in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelFonts {
    /// For names: the face of weight nearest 400.
    pub regular: String,
    /// For the most important names (streets): the face of weight 600 or more nearest 700, if any.
    pub bold: Option<String>,
}

/// Loaded font files and the faces in them, by name.
pub struct Fonts {
    files: Vec<Vec<u8>>,
    faces: Vec<FaceEntry>,
}

impl std::fmt::Debug for Fonts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fonts").field("faces", &self.names()).finish()
    }
}

/// A face's name in one language: English (United States) if it has one, else any Unicode one.
fn name_of(face: &Face, id: u16) -> Option<String> {
    let names = || face.names().into_iter().filter(move |n| n.name_id == id && n.is_unicode());
    let english = names().find(|n| n.language() == ttf_parser::Language::English_UnitedStates);
    english.or_else(|| names().next()).and_then(|n| n.to_string())
}

/// `Family Style`, as fontnik and Martin name a face: the typographic family and subfamily
/// where the font has them, else the legacy ones.
fn face_name(face: &Face) -> Option<String> {
    let family = name_of(face, name_id::TYPOGRAPHIC_FAMILY).or_else(|| name_of(face, name_id::FAMILY))?;
    let style = name_of(face, name_id::TYPOGRAPHIC_SUBFAMILY).or_else(|| name_of(face, name_id::SUBFAMILY));
    Some(match style {
        Some(s) if !s.is_empty() => format!("{family} {s}"),
        _ => family,
    })
}

impl Fonts {
    /// Loads font files, each `(what, bytes)` (`what` names it in errors): every face of each
    /// (a collection has several). A file with no readable face is an error; a face whose name
    /// another already has is left out.
    pub fn new(files: Vec<(String, Vec<u8>)>) -> Result<Self> {
        let mut faces: Vec<FaceEntry> = Vec::new();
        let mut data = Vec::with_capacity(files.len());
        for (file, (what, bytes)) in files.into_iter().enumerate() {
            let count = ttf_parser::fonts_in_collection(&bytes).unwrap_or(1);
            let mut readable = false;
            for index in 0..count {
                let Ok(face) = Face::parse(&bytes, index) else { continue };
                readable = true;
                let Some(name) = face_name(&face) else { continue };
                if faces.iter().any(|f| f.name == name) {
                    continue;
                }
                let for_labels = !face.is_monospaced() && LABEL_TEST.chars().all(|c| face.glyph_index(c).is_some());
                faces.push(FaceEntry { name, file, index, weight: face.weight().to_number(), for_labels });
            }
            if !readable {
                return Err(Error::NotAFont(what));
            }
            data.push(bytes);
        }
        Ok(Self { files: data, faces })
    }

    /// The names of the faces, in the order of the files and the faces in them.
    pub fn names(&self) -> Vec<&str> {
        self.faces.iter().map(|f| f.name.as_str()).collect()
    }

    /// The faces labels are written in: of the proportional faces that draw Chinese place names,
    /// Simplified Chinese ones (` SC` in their name) first, the regular and the bold weight.
    /// `None` when no face draws them.
    pub fn label_fonts(&self) -> Option<LabelFonts> {
        let fit = |f: &&FaceEntry| f.for_labels;
        let traditional_or_other = |f: &FaceEntry| !f.name.contains(" SC");
        let pick = |want: u16, keep: &dyn Fn(&FaceEntry) -> bool| {
            self.faces
                .iter()
                .filter(fit)
                .filter(|f| keep(f))
                .min_by_key(|f| (traditional_or_other(f), f.weight.abs_diff(want)))
                .map(|f| f.name.clone())
        };
        let regular = pick(400, &|f| f.weight < 600)?;
        Some(LabelFonts { regular, bold: pick(700, &|f| f.weight >= 600) })
    }

    /// The glyphs of `range` in the font stack `stack` (font names separated by commas, the
    /// first holding a glyph drawing it), as the protobuf MapLibre reads. A code point no font
    /// of the stack has is left out.
    pub fn range(&self, stack: &str, range: GlyphRange) -> Result<Vec<u8>> {
        let faces = self.stack(stack)?;
        let parsed: Vec<Face> = faces
            .iter()
            .filter_map(|f| self.files.get(f.file).and_then(|bytes| Face::parse(bytes, f.index).ok()))
            .collect();
        let mut glyphs = Vec::new();
        for cp in range.start()..=range.end() {
            let Some(c) = char::from_u32(cp) else { continue };
            let Some(g) = parsed.iter().find_map(|face| face.glyph_index(c).map(|id| (face, id))) else { continue };
            if let Some(glyph) = render(g.0, g.1, cp) {
                glyphs.push(glyph);
            }
        }
        Ok(encode(stack, range, &glyphs))
    }

    /// The faces a stack names, each once.
    fn stack(&self, stack: &str) -> Result<Vec<&FaceEntry>> {
        let names: Vec<&str> = stack.split(',').map(str::trim).collect();
        if names.is_empty() || names.len() > MAX_STACK || names.iter().any(|n| n.is_empty()) {
            return Err(Error::BadStack(stack.to_owned()));
        }
        let mut faces: Vec<&FaceEntry> = Vec::new();
        for name in names {
            let face = self
                .faces
                .iter()
                .find(|f| f.name == name)
                .ok_or_else(|| Error::UnknownFont { name: name.to_owned(), known: self.names().join(", ") })?;
            if !faces.iter().any(|f| std::ptr::eq(*f, face)) {
                faces.push(face);
            }
        }
        Ok(faces)
    }
}

/// One glyph as `glyphs.proto` holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glyph {
    /// Its code point.
    pub id: u32,
    /// The distance field, `(width + 6) × (height + 6)` bytes; empty for a glyph without ink.
    pub bitmap: Vec<u8>,
    /// Bitmap width without the border, px.
    pub width: u32,
    /// Bitmap height without the border, px.
    pub height: u32,
    /// From the pen to the bitmap's left edge, px.
    pub left: i32,
    /// From the ascender down to the bitmap's top edge (negative below it), px.
    pub top: i32,
    /// How far the pen moves, px.
    pub advance: u32,
}

/// A path segment of an outline, in font units.
enum Segment {
    Move(f32, f32),
    Line(f32, f32),
    Quad(f32, f32, f32, f32),
    Cubic(f32, f32, f32, f32, f32, f32),
    Close,
}

/// An outline's segments and control box (every point, control points too, as FreeType's).
#[derive(Default)]
struct Outline {
    segments: Vec<Segment>,
    min: (f32, f32),
    max: (f32, f32),
}

impl Outline {
    fn extend(&mut self, x: f32, y: f32) {
        if self.segments.is_empty() {
            (self.min, self.max) = ((x, y), (x, y));
        }
        self.min = (self.min.0.min(x), self.min.1.min(y));
        self.max = (self.max.0.max(x), self.max.1.max(y));
    }
}

impl OutlineBuilder for Outline {
    fn move_to(&mut self, x: f32, y: f32) {
        self.extend(x, y);
        self.segments.push(Segment::Move(x, y));
    }

    fn line_to(&mut self, x: f32, y: f32) {
        self.extend(x, y);
        self.segments.push(Segment::Line(x, y));
    }

    fn quad_to(&mut self, x1: f32, y1: f32, x: f32, y: f32) {
        self.extend(x1, y1);
        self.extend(x, y);
        self.segments.push(Segment::Quad(x1, y1, x, y));
    }

    fn curve_to(&mut self, x1: f32, y1: f32, x2: f32, y2: f32, x: f32, y: f32) {
        self.extend(x1, y1);
        self.extend(x2, y2);
        self.extend(x, y);
        self.segments.push(Segment::Cubic(x1, y1, x2, y2, x, y));
    }

    fn close(&mut self) {
        self.segments.push(Segment::Close);
    }
}

/// Draws glyph `id` of `face` for code point `cp`: `None` if it cannot be drawn at text sizes.
fn render(face: &Face, id: ttf_parser::GlyphId, cp: u32) -> Option<Glyph> {
    let scale = SIZE_PX / f32::from(face.units_per_em().max(1));
    let advance = (f32::from(face.glyph_hor_advance(id).unwrap_or(0)) * scale).floor().max(0.0) as u32;
    let ascender = (f32::from(face.tables().hhea.ascender) * scale).ceil() as i32;
    let mut outline = Outline::default();
    let drawn = face.outline_glyph(id, &mut outline).is_some() && !outline.segments.is_empty();
    let empty = Glyph { id: cp, bitmap: Vec::new(), width: 0, height: 0, left: 0, top: -ascender, advance };
    if !drawn {
        return Some(empty);
    }
    let x0 = (outline.min.0 * scale).floor() as i64;
    let y0 = (outline.min.1 * scale).floor() as i64;
    let x1 = (outline.max.0 * scale).ceil() as i64;
    let y1 = (outline.max.1 * scale).ceil() as i64;
    let (w, h) = (x1 - x0, y1 - y0);
    if w > MAX_GLYPH_PX || h > MAX_GLYPH_PX {
        return None;
    }
    if w <= 0 || h <= 0 {
        return Some(empty);
    }
    let (w, h) = (w as usize, h as usize);
    // Font units (y up) to bitmap pixels (y down, origin at the control box's top left).
    let (ox, oy) = (x0 as f32, y1 as f32);
    let at = |x: f32, y: f32| point(x * scale - ox, oy - y * scale);
    let mut raster = Rasterizer::new(w, h);
    let (mut start, mut pen) = (point(0.0, 0.0), point(0.0, 0.0));
    for s in &outline.segments {
        match *s {
            Segment::Move(x, y) => {
                if pen != start {
                    raster.draw_line(pen, start);
                }
                start = at(x, y);
                pen = start;
            }
            Segment::Line(x, y) => {
                let p = at(x, y);
                raster.draw_line(pen, p);
                pen = p;
            }
            Segment::Quad(x1, y1, x, y) => {
                let p = at(x, y);
                raster.draw_quad(pen, at(x1, y1), p);
                pen = p;
            }
            Segment::Cubic(x1, y1, x2, y2, x, y) => {
                let p = at(x, y);
                raster.draw_cubic(pen, at(x1, y1), at(x2, y2), p);
                pen = p;
            }
            Segment::Close => {
                if pen != start {
                    raster.draw_line(pen, start);
                }
                pen = start;
            }
        }
    }
    if pen != start {
        raster.draw_line(pen, start);
    }
    let mut alpha = vec![0u8; w * h];
    raster.for_each_pixel(|i, c| {
        if let Some(a) = alpha.get_mut(i) {
            *a = (c.clamp(0.0, 1.0) * 255.0).round() as u8;
        }
    });
    let sdf = BitmapGlyph::from_unbuffered(&alpha, w, h, BORDER).ok()?.render_sdf(RADIUS);
    let bitmap = clamp_to_u8(&sdf, CUTOFF).ok()?;
    Some(Glyph {
        id: cp,
        bitmap,
        width: w as u32,
        height: h as u32,
        left: x0 as i32,
        top: y1 as i32 - ascender,
        advance,
    })
}

/// The `glyphs` message: one `fontstack` named `name` holding `glyphs`.
fn encode(name: &str, range: GlyphRange, glyphs: &[Glyph]) -> Vec<u8> {
    let mut stack = Vec::new();
    put_bytes(&mut stack, 1, name.as_bytes());
    put_bytes(&mut stack, 2, range.to_string().as_bytes());
    let mut g = Vec::new();
    for glyph in glyphs {
        g.clear();
        let mut uint = |field: u32, v: u32| {
            put_tag(&mut g, field, 0);
            put_varint(&mut g, u64::from(v));
        };
        uint(1, glyph.id);
        if !glyph.bitmap.is_empty() {
            put_bytes(&mut g, 2, &glyph.bitmap);
        }
        for (field, v) in [(3, glyph.width), (4, glyph.height), (5, zigzag(glyph.left)), (6, zigzag(glyph.top))] {
            put_tag(&mut g, field, 0);
            put_varint(&mut g, u64::from(v));
        }
        put_tag(&mut g, 7, 0);
        put_varint(&mut g, u64::from(glyph.advance));
        put_bytes(&mut stack, 3, &g);
    }
    let mut out = Vec::with_capacity(stack.len() + 8);
    put_bytes(&mut out, 1, &stack);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_whole_blocks_of_256_code_points() {
        assert_eq!("0-255".parse::<GlyphRange>().unwrap(), GlyphRange::new(0).unwrap());
        let r: GlyphRange = "34816-35071".parse().unwrap();
        assert_eq!((r.start(), r.end()), (0x8800, 0x88FF));
        assert_eq!(GlyphRange::of('街'), Some(r));
        assert_eq!("65280-65535".parse::<GlyphRange>().unwrap().end(), 0xFFFF);
        for bad in [
            "",
            "0",
            "0-254",
            "1-256",
            "256-255",
            "65536-65791",
            "-1-254",
            "0-0255x",
            "a-b",
            "0-255-511",
            "00000000-255",
        ] {
            assert!(matches!(bad.parse::<GlyphRange>(), Err(Error::BadRange(_))), "{bad}");
        }
    }

    #[test]
    fn no_font_file_is_refused_by_name() {
        let e = Fonts::new(vec![("notes.txt".into(), b"not a font at all".to_vec())]).unwrap_err();
        assert!(matches!(e, Error::NotAFont(ref what) if what == "notes.txt"), "{e}");
    }
}
