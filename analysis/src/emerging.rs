//! Emerging hot spots (时空热点趋势) over a monthly series: Gi\* per month with FDR, the
//! Mann-Kendall trend of each cell's z-scores, and the categories of ArcGIS's Emerging Hot Spot
//! Analysis.
//!
//! The input is a matrix of values, one row per month (oldest first), one column per cell, with
//! the same spatial weights every month (neighbourhood time step 1: neighbours in space only).
//! A cell is a significant hot (cold) spot in a month when its Gi\* bin is at least
//! [`EmergingOptions::min_bin`] (at most its negative). With `n` months, `h` of them hot, "at
//! least 90% of the months" means `10 h ≥ 9 n`. The hot categories, checked in this order
//! (cold twins: swap hot and cold, and read the trend the other way):
//!
//! 1. **Intensifying**: hot in ≥ 90% of the months, the last included, and the z trend increases
//!    significantly (Mann-Kendall p ≤ `trend_alpha`, S > 0).
//! 2. **Diminishing**: hot in ≥ 90%, the last included, and the z trend decreases significantly.
//! 3. **Persistent**: hot in ≥ 90%, the last included, no significant trend.
//! 4. **Historical**: hot in ≥ 90% of the months, but not in the last.
//! 5. **New**: hot in the last month and never before.
//! 6. **Consecutive**: a single unbroken run of at least two hot months at the end, never hot
//!    before the run, and hot in < 90% of the months.
//! 7. **Oscillating**: hot in the last month, hot in < 90%, and a significant cold spot in some
//!    earlier month.
//! 8. **Sporadic**: hot in the last month, hot in < 90%, on and off, never cold.
//! 9. **No pattern**: none of these, hot or cold.
//!
//! A cell hot in the last month is a hot category; one cold in the last month a cold category;
//! otherwise hot categories are tried before cold ones (only Historical applies then).

use crate::error::{StatsError, StatsResult, check_len};
use crate::hotspot::{GiOptions, GiStar, gi_star};
use crate::stats::two_tailed_p;
use crate::weights::{Weights, WeightsDescription};
use serde::Serialize;

/// Options of [`emerging_hot_spots`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct EmergingOptions {
    /// Gi\* options for each month (FDR on by default).
    pub gi: GiOptions,
    /// The smallest |bin| that counts as significant: 1 (90%, ArcGIS's default), 2 or 3.
    pub min_bin: i8,
    /// Significance level of the Mann-Kendall trend (0.05).
    pub trend_alpha: f64,
}

impl Default for EmergingOptions {
    /// FDR, significance at 90% confidence, trend at 5%.
    fn default() -> Self {
        Self { gi: GiOptions::default(), min_bin: 1, trend_alpha: 0.05 }
    }
}

/// An Emerging Hot Spot Analysis category.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// No hot or cold pattern.
    NoPattern,
    /// Hot in the last month only.
    NewHot,
    /// A final run of ≥ 2 hot months, never hot before.
    ConsecutiveHot,
    /// Hot ≥ 90% of months, last included, z rising.
    IntensifyingHot,
    /// Hot ≥ 90% of months, last included, no trend.
    PersistentHot,
    /// Hot ≥ 90% of months, last included, z falling.
    DiminishingHot,
    /// Hot in the last month, on and off before, never cold.
    SporadicHot,
    /// Hot in the last month, cold in some earlier month.
    OscillatingHot,
    /// Hot ≥ 90% of months but not the last.
    HistoricalHot,
    /// Cold in the last month only.
    NewCold,
    /// A final run of ≥ 2 cold months, never cold before.
    ConsecutiveCold,
    /// Cold ≥ 90% of months, last included, z falling.
    IntensifyingCold,
    /// Cold ≥ 90% of months, last included, no trend.
    PersistentCold,
    /// Cold ≥ 90% of months, last included, z rising.
    DiminishingCold,
    /// Cold in the last month, on and off before, never hot.
    SporadicCold,
    /// Cold in the last month, hot in some earlier month.
    OscillatingCold,
    /// Cold ≥ 90% of months but not the last.
    HistoricalCold,
}

impl Category {
    /// Its name as serialised: `new_hot`, `persistent_cold`, …
    pub fn as_str(self) -> &'static str {
        match self {
            Category::NoPattern => "no_pattern",
            Category::NewHot => "new_hot",
            Category::ConsecutiveHot => "consecutive_hot",
            Category::IntensifyingHot => "intensifying_hot",
            Category::PersistentHot => "persistent_hot",
            Category::DiminishingHot => "diminishing_hot",
            Category::SporadicHot => "sporadic_hot",
            Category::OscillatingHot => "oscillating_hot",
            Category::HistoricalHot => "historical_hot",
            Category::NewCold => "new_cold",
            Category::ConsecutiveCold => "consecutive_cold",
            Category::IntensifyingCold => "intensifying_cold",
            Category::PersistentCold => "persistent_cold",
            Category::DiminishingCold => "diminishing_cold",
            Category::SporadicCold => "sporadic_cold",
            Category::OscillatingCold => "oscillating_cold",
            Category::HistoricalCold => "historical_cold",
        }
    }
}

/// Mann-Kendall trend test of one series.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct MannKendall {
    /// `S = Σ_{i<j} sign(x_j − x_i)`.
    pub s: i64,
    /// Variance of S under no trend, with the ties correction.
    pub var_s: f64,
    /// Continuity-corrected z: `(S − sign S)/√var`, 0 when S = 0 or var = 0.
    pub z: f64,
    /// Two-tailed p-value of z.
    pub p: f64,
}

/// The Mann-Kendall test: `var S = (n(n−1)(2n+5) − Σ_t t(t−1)(2t+5)) / 18` over groups of `t`
/// tied values. Fewer than 3 values: S = 0, z = 0, p = 1.
pub fn mann_kendall(x: &[f64]) -> MannKendall {
    let n = x.len();
    if n < 3 {
        return MannKendall { s: 0, var_s: 0.0, z: 0.0, p: 1.0 };
    }
    let mut s: i64 = 0;
    for i in 0..n {
        for j in i + 1..n {
            s += match x[j].partial_cmp(&x[i]) {
                Some(std::cmp::Ordering::Greater) => 1,
                Some(std::cmp::Ordering::Less) => -1,
                _ => 0,
            };
        }
    }
    let mut sorted = x.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mut ties = 0.0;
    let mut run = 1.0_f64;
    for k in 1..=n {
        if k < n && sorted[k] == sorted[k - 1] {
            run += 1.0;
        } else {
            ties += run * (run - 1.0) * (2.0 * run + 5.0);
            run = 1.0;
        }
    }
    let nf = n as f64;
    let var_s = ((nf * (nf - 1.0) * (2.0 * nf + 5.0) - ties) / 18.0).max(0.0);
    let z = if s == 0 || var_s == 0.0 { 0.0 } else { (s - s.signum()) as f64 / var_s.sqrt() };
    MannKendall { s, var_s, z, p: two_tailed_p(z) }
}

/// The category of one cell from its monthly significance (+1 hot, −1 cold, 0 neither; oldest
/// first) and the trend of its z-scores, by the rules in the module doc.
pub fn classify(significance: &[i8], trend: &MannKendall, trend_alpha: f64) -> Category {
    let Some(&last) = significance.last() else { return Category::NoPattern };
    let rising = trend.p <= trend_alpha && trend.s > 0;
    let falling = trend.p <= trend_alpha && trend.s < 0;
    let hot = classify_side(significance, 1, rising, falling);
    let cold = classify_side(significance, -1, falling, rising);
    match (last, hot, cold) {
        (1, Some(c), _) => c.0,
        (-1, _, Some(c)) => c.1,
        (_, Some(c), _) => c.0,
        (_, _, Some(c)) => c.1,
        _ => Category::NoPattern,
    }
}

/// The category for one side (`side` = +1 hot, −1 cold), as (hot name, cold name).
fn classify_side(sig: &[i8], side: i8, intensifying: bool, diminishing: bool) -> Option<(Category, Category)> {
    use Category::*;
    let n = sig.len();
    let count = sig.iter().filter(|&&s| s == side).count();
    let last = sig.last() == Some(&side);
    let mostly = 10 * count >= 9 * n;
    if mostly && last {
        return Some(if intensifying {
            (IntensifyingHot, IntensifyingCold)
        } else if diminishing {
            (DiminishingHot, DiminishingCold)
        } else {
            (PersistentHot, PersistentCold)
        });
    }
    if mostly {
        return Some((HistoricalHot, HistoricalCold));
    }
    if !last {
        return None;
    }
    let run = sig.iter().rev().take_while(|&&s| s == side).count();
    let before = &sig[..n - run];
    if !before.contains(&side) {
        return Some(if run == 1 { (NewHot, NewCold) } else { (ConsecutiveHot, ConsecutiveCold) });
    }
    Some(if before.contains(&-side) { (OscillatingHot, OscillatingCold) } else { (SporadicHot, SporadicCold) })
}

/// One cell's result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EmergingCell {
    /// Its category.
    pub category: Category,
    /// The Mann-Kendall trend of its monthly Gi\* z-scores.
    pub trend: MannKendall,
    /// Months it was a significant hot spot.
    pub hot_months: usize,
    /// Months it was a significant cold spot.
    pub cold_months: usize,
}

/// The analysis of a series.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EmergingHotSpots {
    /// One result per cell.
    pub cells: Vec<EmergingCell>,
    /// Gi\* of each month, oldest first.
    pub months: Vec<GiStar>,
    /// The options used.
    pub options: EmergingOptions,
    /// The weights used.
    pub weights: WeightsDescription,
}

/// Emerging hot spots of `values[month][cell]` (oldest month first) with weights `w`.
pub fn emerging_hot_spots(values: &[Vec<f64>], w: &Weights, opts: &EmergingOptions) -> StatsResult<EmergingHotSpots> {
    if !(1..=3).contains(&opts.min_bin) {
        return Err(StatsError::Parameter {
            name: "min_bin",
            value: f64::from(opts.min_bin),
            reason: "must be 1, 2 or 3",
        });
    }
    let months: Vec<GiStar> = values
        .iter()
        .map(|row| {
            check_len("cells in a month", w.n(), row.len())?;
            gi_star(row, w, &opts.gi)
        })
        .collect::<StatsResult<_>>()?;
    let cells = (0..w.n())
        .map(|cell| {
            let sig: Vec<i8> = months
                .iter()
                .map(|m| {
                    let b = m.bin[cell];
                    if b >= opts.min_bin {
                        1
                    } else if b <= -opts.min_bin {
                        -1
                    } else {
                        0
                    }
                })
                .collect();
            let z: Vec<f64> = months.iter().map(|m| m.z[cell]).collect();
            let trend = mann_kendall(&z);
            EmergingCell {
                category: classify(&sig, &trend, opts.trend_alpha),
                trend,
                hot_months: sig.iter().filter(|&&s| s == 1).count(),
                cold_months: sig.iter().filter(|&&s| s == -1).count(),
            }
        })
        .collect();
    Ok(EmergingHotSpots { cells, months, options: *opts, weights: w.describe() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mann_kendall_matches_a_hand_computation() {
        // 1..=10 rising: S = 45, var = 10·9·25/18 = 125, z = 44/√125.
        let x: Vec<f64> = (1..=10).map(f64::from).collect();
        let mk = mann_kendall(&x);
        assert_eq!(mk.s, 45);
        assert!((mk.var_s - 125.0).abs() < 1e-12);
        assert!((mk.z - 44.0 / 125f64.sqrt()).abs() < 1e-12);
        // Ties: [1, 1, 2]: S = 2, var = (3·2·11 − 2·1·9)/18 = 48/18.
        let mk = mann_kendall(&[1.0, 1.0, 2.0]);
        assert_eq!(mk.s, 2);
        assert!((mk.var_s - 48.0 / 18.0).abs() < 1e-12);
        assert_eq!(mann_kendall(&[3.0, 3.0, 3.0]).p, 1.0);
        assert_eq!(mann_kendall(&[1.0, 2.0]).z, 0.0);
    }
}
