//! Emerging hot spots: a monthly series built to fall in each ArcGIS category.

use rentgrid_analysis::emerging::{Category, EmergingOptions, classify, emerging_hot_spots, mann_kendall};
use rentgrid_analysis::weights::Weights;

/// The cell at the centre of the 3×3 block of a 10×10 lattice.
const CENTRE: usize = 44;

/// Ten months over a 10×10 lattice: a fixed background with small spread, and a 3×3 block around
/// [`CENTRE`] raised by `boost[month]` (negative: lowered). With the background fixed, the
/// centre's z moves only with its boost, so a growing boost is a rising z trend.
fn series(boost: &[f64]) -> Vec<Vec<f64>> {
    boost
        .iter()
        .map(|b| {
            (0..100)
                .map(|i| {
                    let (r, c) = (i / 10, i % 10);
                    let background = 50.0 + ((i * 7919) % 13) as f64 / 13.0 - 0.5;
                    if (3..6).contains(&r) && (3..6).contains(&c) { background + b } else { background }
                })
                .collect()
        })
        .collect()
}

fn category(boost: &[f64]) -> Category {
    let w = Weights::lattice(10, 10);
    let out = emerging_hot_spots(&series(boost), &w, &EmergingOptions::default()).unwrap();
    out.cells[CENTRE].category
}

#[test]
fn each_series_falls_in_its_category() {
    let rising: Vec<f64> = (0..10).map(|t| 1.0 + 0.2 * f64::from(t)).collect();
    let falling: Vec<f64> = rising.iter().rev().copied().collect();
    let cases: Vec<(Category, Vec<f64>)> = vec![
        (Category::NoPattern, vec![0.0; 10]),
        (Category::NewHot, [vec![0.0; 9], vec![1.0]].concat()),
        (Category::ConsecutiveHot, [vec![0.0; 7], vec![1.0; 3]].concat()),
        (Category::IntensifyingHot, rising.clone()),
        (Category::PersistentHot, vec![1.0; 10]),
        // 9 of 10 months is 90%: still persistent; the single step up is no significant trend.
        (Category::PersistentHot, [vec![0.0], vec![1.0; 9]].concat()),
        (Category::DiminishingHot, falling.clone()),
        (Category::SporadicHot, vec![0.0, 1.0, 0.0, 0.0, 1.0, 0.0, 1.0, 0.0, 0.0, 1.0]),
        (Category::OscillatingHot, vec![0.0, -1.0, 0.0, 0.0, 1.0, 0.0, -1.0, 0.0, 0.0, 1.0]),
        (Category::HistoricalHot, [vec![1.0; 9], vec![0.0]].concat()),
    ];
    for (want, boost) in cases {
        assert_eq!(category(&boost), want, "hot {boost:?}");
        let cold: Vec<f64> = boost.iter().map(|b| -b).collect();
        let want_cold = match want {
            Category::NoPattern => Category::NoPattern,
            Category::NewHot => Category::NewCold,
            Category::ConsecutiveHot => Category::ConsecutiveCold,
            Category::IntensifyingHot => Category::IntensifyingCold,
            Category::PersistentHot => Category::PersistentCold,
            Category::DiminishingHot => Category::DiminishingCold,
            Category::SporadicHot => Category::SporadicCold,
            Category::OscillatingHot => Category::OscillatingCold,
            Category::HistoricalHot => Category::HistoricalCold,
            other => panic!("{other:?}"),
        };
        assert_eq!(category(&cold), want_cold, "cold {cold:?}");
    }
}

#[test]
fn the_ninety_percent_rule_on_twenty_months() {
    let flat = mann_kendall(&[1.0; 20]);
    let mut sig = vec![1i8; 20];
    sig[0] = 0;
    sig[5] = 0;
    // 18 of 20 = 90%: persistent; 17 of 20 is not: on and off, never cold: sporadic.
    assert_eq!(classify(&sig, &flat, 0.05), Category::PersistentHot);
    sig[9] = 0;
    assert_eq!(classify(&sig, &flat, 0.05), Category::SporadicHot);
    sig[9] = -1;
    assert_eq!(classify(&sig, &flat, 0.05), Category::OscillatingHot);
    // Hot before, cold now: a cold category.
    assert_eq!(classify(&[1, 1, 0, -1], &flat, 0.05), Category::NewCold);
    assert_eq!(classify(&[], &flat, 0.05), Category::NoPattern);
    // Never significant.
    assert_eq!(classify(&[0; 12], &flat, 0.05), Category::NoPattern);
}

#[test]
fn months_must_match_the_weights() {
    let w = Weights::lattice(3, 3);
    assert!(emerging_hot_spots(&[vec![1.0; 9], vec![1.0; 8]], &w, &EmergingOptions::default()).is_err());
    let empty = emerging_hot_spots(&[], &w, &EmergingOptions::default()).unwrap();
    assert!(empty.cells.iter().all(|c| c.category == Category::NoPattern));
}
