//! Small statistical building blocks shared by the hot-spot modules: normal tail
//! probabilities and the Benjamini–Hochberg false discovery rate.

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
