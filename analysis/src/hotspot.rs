//! Getis-Ord Gi\* hot spots (热点分析): where high (or low) values cluster, with analytic
//! z-scores, two-tailed p-values, Benjamini–Hochberg FDR and ArcGIS's confidence bins.
//!
//! For site `i` with neighbour set `N(i)` and itself included, `c_i = |N(i)| + 1`:
//!
//! ```text
//! z_i = (Σ_{j ∈ N(i) ∪ {i}} y_j − ȳ c_i) / (S √(c_i (n − c_i) / (n − 1))),   S² = Σ (y_j − ȳ)² / n
//! ```
//!
//! the binary-weights form of Getis & Ord (1995) that ArcGIS's Hot Spot Analysis reports and
//! that PySAL esda computes as `G_Local(y, w, transform='B', star=True).Zs` (esda's default
//! `transform='R'` differs; for `ȳ < 0` esda's z changes sign, ours does not). The weights'
//! structure is used, not their values: every neighbour and the site itself weigh 1.
//!
//! Defined answers where the statistic is not: fewer than 3 sites, all values equal (zero
//! variance), or a site whose neighbourhood is every site (`c_i = n`) give `z = 0`, `p = 1`,
//! bin 0. An island (no neighbours) has `c_i = 1` and `z_i = (y_i − ȳ)/S`: its own value
//! standardised, as in esda; [`crate::weights::WeightsDescription::islands`] says how many there were.

use crate::error::{StatsResult, check_finite, check_len};
use crate::stats::{benjamini_hochberg, mean_std, two_tailed_p, zero_spread};
use crate::weights::{Weights, WeightsDescription};
use serde::Serialize;

/// Options of [`gi_star`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct GiOptions {
    /// Bin by Benjamini–Hochberg adjusted p-values (ArcGIS's "Apply False Discovery Rate
    /// correction") rather than raw p-values.
    pub fdr: bool,
}

impl Default for GiOptions {
    /// FDR on, as ArcGIS recommends for many features.
    fn default() -> Self {
        Self { fdr: true }
    }
}

/// Why every z-score is 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Degenerate {
    /// Fewer than 3 sites.
    TooFewSites,
    /// All values equal: no variance to test against.
    ZeroVariance,
}

/// Gi\* for every site.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GiStar {
    /// z-scores (ArcGIS `GiZScore`).
    pub z: Vec<f64>,
    /// Two-tailed p-values (ArcGIS `GiPValue`).
    pub p: Vec<f64>,
    /// Benjamini–Hochberg adjusted p-values.
    pub q: Vec<f64>,
    /// Confidence bins (ArcGIS `Gi_Bin`): ±3 at 99%, ±2 at 95%, ±1 at 90%, 0 not significant;
    /// positive hot, negative cold. From `q` when `fdr`, else from `p`.
    pub bin: Vec<i8>,
    /// Whether `bin` used the FDR correction.
    pub fdr: bool,
    /// Set when the statistic is undefined and every z is 0.
    pub degenerate: Option<Degenerate>,
    /// The weights used.
    pub weights: WeightsDescription,
}

/// The confidence bin of a z-score with its (raw or adjusted) p-value: ±3 at p ≤ 0.01, ±2 at
/// p ≤ 0.05, ±1 at p ≤ 0.10, else 0; the sign is the sign of `z`.
pub fn confidence_bin(z: f64, p: f64) -> i8 {
    let level = if p <= 0.01 {
        3
    } else if p <= 0.05 {
        2
    } else if p <= 0.10 {
        1
    } else {
        0
    };
    if z > 0.0 {
        level
    } else if z < 0.0 {
        -level
    } else {
        0
    }
}

/// The words for a bin, as ArcGIS's legend has them.
pub fn bin_label(bin: i8) -> &'static str {
    match bin {
        3 => "hot spot, 99% confidence",
        2 => "hot spot, 95% confidence",
        1 => "hot spot, 90% confidence",
        -1 => "cold spot, 90% confidence",
        -2 => "cold spot, 95% confidence",
        -3 => "cold spot, 99% confidence",
        _ => "not significant",
    }
}

/// Getis-Ord Gi\* of `y` over the binary structure of `w` (self included).
pub fn gi_star(y: &[f64], w: &Weights, opts: &GiOptions) -> StatsResult<GiStar> {
    check_len("values", w.n(), y.len())?;
    check_finite("value", y)?;
    let n = y.len();
    let (mean, s) = mean_std(y);
    let degenerate = if n < 3 {
        Some(Degenerate::TooFewSites)
    } else if zero_spread(y, s) {
        Some(Degenerate::ZeroVariance)
    } else {
        None
    };
    let nf = n as f64;
    let z: Vec<f64> = (0..n)
        .map(|i| {
            let c = (w.cardinality(i) + 1) as f64;
            if degenerate.is_some() || c >= nf {
                return 0.0;
            }
            let sum = y[i] + w.neighbours(i).iter().map(|&j| y[j as usize]).sum::<f64>();
            (sum - mean * c) / (s * (c * (nf - c) / (nf - 1.0)).sqrt())
        })
        .collect();
    let p: Vec<f64> = z.iter().map(|&z| two_tailed_p(z)).collect();
    let q = benjamini_hochberg(&p);
    let bin = z.iter().zip(if opts.fdr { &q } else { &p }).map(|(&z, &p)| confidence_bin(z, p)).collect();
    Ok(GiStar { z, p, q, bin, fdr: opts.fdr, degenerate, weights: w.describe() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bins_follow_the_thresholds() {
        assert_eq!(confidence_bin(2.7, 0.007), 3);
        assert_eq!(confidence_bin(-2.0, 0.045), -2);
        assert_eq!(confidence_bin(1.7, 0.09), 1);
        assert_eq!(confidence_bin(1.0, 0.3), 0);
        assert_eq!(confidence_bin(0.0, 0.0), 0);
        assert_eq!(bin_label(-3), "cold spot, 99% confidence");
    }
}
