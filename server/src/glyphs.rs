//! The fonts map labels are drawn with, served from our own origin: the font files given at start
//! (by default Debian's Noto Sans CJK, package `fonts-noto-cjk`), read on the first request for
//! glyphs, and each range of glyphs made once ([`rentgrid_tiles::glyphs`]) and kept, bounded in
//! bytes. No font comes from elsewhere, and no glyph is made before a map asks for it.

use bytes::Bytes;
use quick_cache::Weighter;
use rentgrid_tiles::glyphs::{self, Fonts, GlyphRange, LabelFonts};
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

/// Where Debian's `fonts-noto-cjk` puts Noto Sans CJK: the regular and the bold weight, every
/// regional face (SC, TC, HK, JP, KR) in each collection.
pub const DEBIAN_NOTO_CJK: [&str; 2] =
    ["/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc"];

/// The default bound of kept glyph ranges: a CJK range of 256 glyphs is about 200 kB, and the
/// names of a district use a few dozen ranges.
pub const DEFAULT_CAPACITY_BYTES: u64 = 64 << 20;

/// The font files found at Debian's paths ([`DEBIAN_NOTO_CJK`]); none when the package is missing.
pub fn default_font_files() -> Vec<PathBuf> {
    DEBIAN_NOTO_CJK.iter().map(PathBuf::from).filter(|p| p.is_file()).collect()
}

/// Why glyphs are not served.
#[derive(Debug, thiserror::Error)]
pub enum GlyphSourceError {
    /// No font file was configured or found.
    #[error(
        "no fonts are loaded: install Debian's fonts-noto-cjk or start the server with --fonts FILE (an OpenType \
         font with Chinese glyphs)"
    )]
    NoFonts,
    /// A font file that could not be read.
    #[error("font file {path}: {error}")]
    Unreadable {
        /// The file.
        path: String,
        /// What went wrong.
        error: String,
    },
    /// What the glyph maker refused (an unknown font, a bad range).
    #[error(transparent)]
    Glyphs(#[from] glyphs::Error),
}

#[derive(Clone)]
struct ByBytes;

impl Weighter<(String, GlyphRange), Bytes> for ByBytes {
    fn weight(&self, key: &(String, GlyphRange), b: &Bytes) -> u64 {
        (64 + key.0.len() + b.len()) as u64
    }
}

/// The font files and the glyph ranges made from them. Lives in the server's state.
pub struct GlyphSource {
    files: Vec<PathBuf>,
    fonts: OnceLock<Result<Arc<Fonts>, String>>,
    ranges: quick_cache::sync::Cache<(String, GlyphRange), Bytes, ByBytes>,
}

impl std::fmt::Debug for GlyphSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GlyphSource").field("files", &self.files).field("ranges", &self.ranges.len()).finish()
    }
}

impl GlyphSource {
    /// Glyphs from `files` (read when first asked for), keeping up to `capacity_bytes` of ranges.
    pub fn new(files: Vec<PathBuf>, capacity_bytes: u64) -> Self {
        let ranges = quick_cache::sync::Cache::with_weighter(1024, capacity_bytes.max(1), ByBytes);
        Self { files, fonts: OnceLock::new(), ranges }
    }

    /// The configured font files.
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }

    /// The loaded fonts, reading the files the first time (blocking: call off the async threads).
    pub fn fonts(&self) -> Result<Arc<Fonts>, GlyphSourceError> {
        if self.files.is_empty() {
            return Err(GlyphSourceError::NoFonts);
        }
        let loaded = self.fonts.get_or_init(|| {
            let mut read = Vec::with_capacity(self.files.len());
            for path in &self.files {
                let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
                read.push((path.display().to_string(), bytes));
            }
            Fonts::new(read).map(Arc::new).map_err(|e| e.to_string())
        });
        loaded.clone().map_err(|error| GlyphSourceError::Unreadable { path: self.describe(), error })
    }

    /// The faces labels are written in, if the fonts have any (blocking, as [`Self::fonts`]).
    pub fn label_fonts(&self) -> Result<Option<LabelFonts>, GlyphSourceError> {
        Ok(self.fonts()?.label_fonts())
    }

    /// The glyph range `range` of the font stack `stack`, made on the first request for it
    /// (blocking: call off the async threads; concurrent requests for one range make it once).
    pub fn range(&self, stack: &str, range: GlyphRange) -> Result<Bytes, GlyphSourceError> {
        let fonts = self.fonts()?;
        let key: String = stack.split(',').map(str::trim).collect::<Vec<_>>().join(",");
        self.ranges
            .get_or_insert_with(&(key.clone(), range), || fonts.range(&key, range).map(Bytes::from).map_err(Into::into))
    }

    fn describe(&self) -> String {
        self.files.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
    }
}
