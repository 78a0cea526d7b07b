//! Small statistical building blocks shared by the analysis modules: normal tail probabilities,
//! the Benjamini–Hochberg false discovery rate and Gamma quantiles.

/// Two-tailed p-value of a standard normal z-score: `P(|Z| ≥ |z|) = erfc(|z|/√2)`.
pub fn two_tailed_p(z: f64) -> f64 {
    libm::erfc(z.abs() / std::f64::consts::SQRT_2).clamp(0.0, 1.0)
}

/// Benjamini–Hochberg adjusted p-values (q-values): site `i` is a discovery at false discovery
/// rate `α` exactly when `q[i] ≤ α`, as the step-up procedure at `α` decides.
pub fn benjamini_hochberg(p: &[f64]) -> Vec<f64> {
    let m = p.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| p[a].total_cmp(&p[b]));
    let mut q = vec![1.0; m];
    let mut running = 1.0_f64;
    for rank in (0..m).rev() {
        let i = order[rank];
        running = running.min(p[i] * m as f64 / (rank + 1) as f64);
        q[i] = running.min(1.0);
    }
    q
}

/// The upper 5% point of the standard normal: a two-sided 90% interval is ±`Z90` standard errors.
pub const Z90: f64 = 1.644_853_626_951_472_2;

/// Quantile `z` (as a standard normal score) of a Gamma(shape, rate), by Wilson–Hilferty.
pub(crate) fn gamma_quantile(shape: f64, rate: f64, z: f64) -> f64 {
    let c = 1.0 / (9.0 * shape);
    let q = shape / rate * (1.0 - c + z * c.sqrt()).powi(3);
    q.max(0.0)
}

/// The 90% mid-p interval of a count `N ~ Poisson(t·λ)` whose rate is `λ ~ Gamma(shape, rate)`:
/// the negative binomial `P(N = k) = Γ(k + a) / (Γ(a) k!) (1 − θ)^a θ^k` with `a = shape`,
/// `θ = t / (rate + t)`. A count is discrete, so an interval of whole numbers whose ends are the
/// ordinary 5% and 95% points covers *at least* 90%, and much more for small counts (a count
/// that is 0 or 1 with probability 0.97 has the interval [0, 1] or [0, 2]). The mid-p points
/// (Lancaster) split the probability of the boundary value in half: a point is the least `k`
/// with `P(N < k) + ½ P(N = k) ≥ q`, which makes the coverage 90% on average over many counts
/// rather than at least 90% for each (what a map of many buildings' intervals is judged by).
/// Summed exactly; a count expected above 5,000 takes the Gamma quantiles of `t·λ` instead.
pub(crate) fn neg_binomial_interval90(shape: f64, rate: f64, t: f64) -> (f64, f64) {
    if !(shape > 0.0 && rate > 0.0 && t > 0.0) {
        return (0.0, 0.0);
    }
    let theta = t / (rate + t);
    if shape * t / rate > 5_000.0 {
        return (t * gamma_quantile(shape, rate, -Z90), t * gamma_quantile(shape, rate, Z90));
    }
    // The level q falls in the jump of the distribution function at some value j; j is inside
    // the interval when q lies in the jump's outer half (below its middle for the lower end,
    // above it for the upper end). With mid(k) = P(N < k) + ½ P(N = k), increasing in k: the lower
    // end is the least k with mid(k) ≥ 0.05, the upper end one less than the least k with
    // mid(k) ≥ 0.95.
    let mut pmf = (shape * (1.0 - theta).ln()).exp();
    let mut below = 0.0;
    let mut k = 0.0f64;
    let mut low = None;
    while below + pmf / 2.0 < 0.95 && pmf.is_finite() && k < 1e6 {
        if low.is_none() && below + pmf / 2.0 >= 0.05 {
            low = Some(k);
        }
        below += pmf;
        pmf *= (k + shape) / (k + 1.0) * theta;
        k += 1.0;
    }
    let high = (k - 1.0).max(0.0);
    (low.unwrap_or(k).min(high), high)
}

/// Mean and population standard deviation (divided by n), two-pass.
pub(crate) fn mean_std(y: &[f64]) -> (f64, f64) {
    let n = y.len() as f64;
    if y.is_empty() {
        return (0.0, 0.0);
    }
    let mean = y.iter().sum::<f64>() / n;
    let var = y.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
    (mean, var.sqrt())
}

/// True when the spread of `y` is no more than rounding noise: all values (nearly) equal.
pub(crate) fn zero_spread(y: &[f64], std: f64) -> bool {
    let scale = y.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
    std <= 1e-12 * scale.max(f64::MIN_POSITIVE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_tails() {
        assert!((two_tailed_p(1.959_963_984_540_054) - 0.05).abs() < 1e-15);
        assert!((two_tailed_p(-2.575_829_303_548_901) - 0.01).abs() < 1e-15);
        assert_eq!(two_tailed_p(0.0), 1.0);
        assert!(two_tailed_p(40.0) >= 0.0);
    }

    #[test]
    fn negative_binomial_mid_p_points_match_scipy() {
        // Computed with scipy.stats.nbinom(a, 1 − θ): the least k with cdf(k − 1) + pmf(k)/2 ≥ q.
        // a = 2, θ = 0.5 (rate 1, t 1): mid-p 5% at 0, 95% at 6, so the interval is [0, 5]
        // (ppf gives [0, 6]: 6 has P(N ≤ 5) = 0.9375, and 0.95 lies in the lower half of its jump).
        assert_eq!(neg_binomial_interval90(2.0, 1.0, 1.0), (0.0, 5.0));
        // a = 20, θ = 0.2 (rate 4, t 1): mid-p 5% at 2, 95% at 10: [2, 9] (ppf: [1, 9]).
        assert_eq!(neg_binomial_interval90(20.0, 4.0, 1.0), (2.0, 9.0));
        // a = 0.5, θ = 0.8 (rate 0.25): mid-p 95% at 9: [0, 8].
        assert_eq!(neg_binomial_interval90(0.5, 0.25, 1.0), (0.0, 8.0));
        assert_eq!(neg_binomial_interval90(0.0, 1.0, 1.0), (0.0, 0.0));
    }

    #[test]
    fn mid_p_intervals_cover_ninety_percent_on_average() {
        // Over counts expected from 0.5 to 8 with shapes 1 to 20, the exact coverage of the
        // mid-p intervals averages 92.6% (scipy; the ordinary points' average 95.1%): near 90%,
        // above it only where a count of 0 cannot be left out.
        let (mut sum, mut n) = (0.0, 0.0);
        for i in 1..=16 {
            for shape in [1.0, 2.0, 5.0, 20.0] {
                let mean = 0.5 * f64::from(i);
                let (lo, hi) = neg_binomial_interval90(shape, shape / mean, 1.0);
                let theta = mean / (shape + mean);
                let mut pmf = (shape * (1.0 - theta).ln()).exp();
                let mut cover = 0.0;
                for k in 0..2000 {
                    let k = f64::from(k);
                    if lo <= k && k <= hi {
                        cover += pmf;
                    }
                    pmf *= (k + shape) / (k + 1.0) * theta;
                }
                sum += cover;
                n += 1.0;
            }
        }
        let mean_cover = sum / n;
        assert!((mean_cover - 0.9259).abs() < 0.001, "{mean_cover}");
    }

    #[test]
    fn bh_matches_the_step_up_rule() {
        // p sorted: 0.01 0.02 0.03 0.04 0.2; m = 5: q = 0.05 0.05 0.05 0.05 0.2.
        let q = benjamini_hochberg(&[0.04, 0.01, 0.2, 0.03, 0.02]);
        let want = [0.05, 0.05, 0.2, 0.05, 0.05];
        for (a, b) in q.iter().zip(want) {
            assert!((a - b).abs() < 1e-15, "{q:?}");
        }
        assert!(benjamini_hochberg(&[]).is_empty());
    }
}
