//! Benchmarks of glyph ranges: making one range of 256 glyphs of Noto Sans CJK SC Regular
//! (Debian's fonts-noto-cjk), as the server does the first time a map asks for it: Basic Latin
//! and Latin-1 (`0-255`, digits of grid codes), and two CJK blocks of place names (街 in
//! `34816-35071`, 社 in `31232-31487`). Before measuring it prints each range's size in bytes
//! and glyphs to stderr.
//!
//! ```sh
//! cargo bench -p rentgrid-tiles --bench glyphs
//! ```

#![allow(clippy::expect_used)]

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use rentgrid_tiles::glyphs::{Fonts, GlyphRange};
use std::hint::black_box;

const FONT: &str = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc";
const STACK: &str = "Noto Sans CJK SC Regular";

fn ranges(c: &mut Criterion) {
    let bytes = std::fs::read(FONT).expect("Debian's fonts-noto-cjk (scripts/ensure-tools installs it)");
    let fonts = Fonts::new(vec![(FONT.to_owned(), bytes)]).expect("Noto Sans CJK");
    let mut group = c.benchmark_group("glyphs");
    group.sample_size(10);
    for start in [0, 0x8800, 0x7A00] {
        let range = GlyphRange::new(start).expect("a range");
        let pbf = fonts.range(STACK, range).expect("the range");
        eprintln!("{STACK} {range}: {} bytes", pbf.len());
        group.bench_with_input(BenchmarkId::from_parameter(range), &range, |b, &r| {
            b.iter(|| fonts.range(black_box(STACK), r).expect("the range"))
        });
    }
    group.finish();
}

criterion_group!(benches, ranges);
criterion_main!(benches);
