//! Map label glyphs from Noto Sans CJK (Debian's fonts-noto-cjk): ranges decode with
//! `pbf_font_tools` (the protobuf types of Stadia's and Martin's glyph tools, an outside decoder),
//! hold the glyphs of Chinese place names, and match FreeType's unhinted rendering (the renderer
//! of Martin and fontnik, through `freetype-py` and `RENTGRID_PYTHON`) in metrics and shape.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use pbf_font_tools::Glyphs;
use pbf_font_tools::prost::Message;
use rentgrid_tiles::glyphs::{Error, Fonts, GlyphRange, LabelFonts};
use serde_json::Value;
use std::path::PathBuf;
use std::sync::OnceLock;

const REGULAR: &str = "Noto Sans CJK SC Regular";
const BOLD: &str = "Noto Sans CJK SC Bold";

/// Noto Sans CJK's collection of `weight` where Debian's fonts-noto-cjk puts it.
fn noto(weight: &str) -> PathBuf {
    let p = PathBuf::from(format!("/usr/share/fonts/opentype/noto/NotoSansCJK-{weight}.ttc"));
    assert!(p.is_file(), "{} is missing: install Debian's fonts-noto-cjk (scripts/ensure-tools does)", p.display());
    p
}

fn fonts() -> &'static Fonts {
    static FONTS: OnceLock<Fonts> = OnceLock::new();
    FONTS.get_or_init(|| {
        let files = ["Regular", "Bold"].map(|w| (w.to_owned(), std::fs::read(noto(w)).unwrap()));
        Fonts::new(files.into()).unwrap()
    })
}

fn decoded(stack: &str, range: GlyphRange) -> pbf_font_tools::Fontstack {
    let bytes = fonts().range(stack, range).unwrap();
    let mut glyphs = Glyphs::decode(bytes.as_slice()).unwrap();
    assert_eq!(glyphs.stacks.len(), 1);
    glyphs.stacks.remove(0)
}

#[test]
fn labels_are_written_in_noto_sans_cjk_sc() {
    let names = fonts().names();
    for name in [REGULAR, BOLD, "Noto Sans CJK TC Regular", "Noto Sans CJK JP Bold"] {
        assert!(names.contains(&name), "{name} not in {names:?}");
    }
    let label = fonts().label_fonts().unwrap();
    assert_eq!(label, LabelFonts { regular: REGULAR.into(), bold: Some(BOLD.into()) });
}

#[test]
fn a_range_decodes_and_holds_every_glyph_of_place_names() {
    for c in "街道社区网格镇村第号海曙".chars() {
        let range = GlyphRange::of(c).unwrap();
        let stack = decoded(REGULAR, range);
        assert_eq!((stack.name.as_str(), stack.range.clone()), (REGULAR, range.to_string()));
        let ids: Vec<u32> = stack.glyphs.iter().map(|g| g.id).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]) && ids.iter().all(|&i| (range.start()..=range.end()).contains(&i)));
        // A CJK block is full in Noto Sans CJK.
        assert!(stack.glyphs.len() > 200, "{c}: {} glyphs in {range}", stack.glyphs.len());
        let g = stack.glyphs.iter().find(|g| g.id == u32::from(c)).unwrap_or_else(|| panic!("{c} missing"));
        assert!((14..=26).contains(&g.width) && (14..=26).contains(&g.height), "{c}: {}×{}", g.width, g.height);
        let bitmap = g.bitmap.as_ref().unwrap();
        assert_eq!(bitmap.len() as u32, (g.width + 6) * (g.height + 6), "{c}: the bitmap has a 3 px border");
        assert_eq!(g.advance, 24, "{c}: an ideograph is one em wide");
        // Inside the outline the field is above the edge value (192), far outside it is 0.
        assert!(bitmap.iter().any(|&v| v > 200) && bitmap[0] < 64, "{c}");
    }
    // Latin and digits, for grid codes; a space has an advance and no ink.
    let latin = decoded(REGULAR, GlyphRange::new(0).unwrap());
    let space = latin.glyphs.iter().find(|g| g.id == 32).unwrap();
    assert_eq!((space.width, space.height, space.bitmap.as_ref()), (0, 0, None));
    assert!(space.advance > 0);
    assert!("0123456789ABCgq-".chars().all(|c| latin.glyphs.iter().any(|g| g.id == u32::from(c) && g.width > 0)));
}

#[test]
fn a_stack_takes_each_glyph_from_its_first_font() {
    let range = GlyphRange::of('街').unwrap();
    let (bold, regular) = (decoded(BOLD, range), decoded(REGULAR, range));
    let both = decoded(&format!("{BOLD} , {REGULAR}"), range);
    assert_eq!(both.glyphs, bold.glyphs);
    assert_ne!(both.glyphs, regular.glyphs);
    assert_eq!(decoded(&format!("{REGULAR},{REGULAR}"), range).glyphs, regular.glyphs);
}

#[test]
fn unknown_fonts_and_malformed_stacks_are_refused() {
    let range = GlyphRange::new(0).unwrap();
    for name in ["Arial Unicode MS Regular", "../../../etc/passwd", "Noto Sans CJK SC", "noto sans cjk sc regular"] {
        match fonts().range(name, range) {
            Err(Error::UnknownFont { name: n, known }) => assert!(n == name && known.contains(REGULAR), "{known}"),
            other => panic!("{name}: {other:?}"),
        }
    }
    let five = [REGULAR; 5].join(",");
    for stack in ["", " ", ",", &format!("{REGULAR},"), five.as_str()] {
        assert!(matches!(fonts().range(stack, range), Err(Error::BadStack(_))), "{stack:?}");
    }
}

#[test]
fn glyphs_match_freetypes_unhinted_rendering() {
    let Some(python) = common::oracle_python("FreeType") else { return };
    let chars = "街道社区网格镇村第海曙0123456789ABgjq";
    for (weight, name) in [("Regular", REGULAR), ("Bold", BOLD)] {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/oracle/freetype_glyphs.py");
        let out =
            std::process::Command::new(&python).arg(script).arg(noto(weight)).arg(name).arg(chars).output().unwrap();
        assert!(out.status.success(), "python: {}", String::from_utf8_lossy(&out.stderr));
        let ft: Value = serde_json::from_slice(&out.stdout).unwrap();
        let ascender = ft["ascender"].as_i64().unwrap();
        for c in chars.chars() {
            let range = GlyphRange::of(c).unwrap();
            let stack = decoded(name, range);
            let ours = stack.glyphs.iter().find(|g| g.id == u32::from(c)).unwrap();
            let theirs = &ft["glyphs"][c.to_string()];
            let n = |k: &str| theirs[k].as_i64().unwrap();
            let what = format!("{name} {c:?}");
            assert_eq!(i64::from(ours.advance), n("advance"), "{what}: advance");
            assert_eq!(i64::from(ours.width), n("width"), "{what}: width");
            assert_eq!(i64::from(ours.height), n("rows"), "{what}: height");
            assert_eq!(i64::from(ours.left), n("left"), "{what}: left");
            assert_eq!(i64::from(ours.top), n("top") - ascender, "{what}: top below the ascender");
            // The same ink: where the distance field is inside the outline (above its edge value,
            // 255 × (1 − cutoff) ≈ 191) FreeType's coverage is at least half, and vice versa.
            let (w, bitmap) = (ours.width as usize, ours.bitmap.as_ref().unwrap());
            let coverage = theirs["coverage"].as_array().unwrap();
            let (mut both, mut either) = (0usize, 0usize);
            for (y, row) in coverage.iter().enumerate() {
                for (x, v) in row.as_array().unwrap().iter().enumerate() {
                    let theirs_in = v.as_u64().unwrap() >= 128;
                    let ours_in = bitmap[(y + 3) * (w + 6) + x + 3] > 191;
                    both += usize::from(ours_in && theirs_in);
                    either += usize::from(ours_in || theirs_in);
                }
            }
            let iou = both as f64 / either.max(1) as f64;
            assert!(iou > 0.9, "{what}: the ink overlaps FreeType's by {iou:.2} (intersection over union)");
        }
    }
}
