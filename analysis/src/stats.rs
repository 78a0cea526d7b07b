//! Small statistical building blocks shared by the analysis modules: normal tail probabilities,
//! the Benjamini–Hochberg false discovery rate, Gamma quantiles, the digamma function, 90%
//! intervals of counts and a BFGS minimiser.

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

/// The digamma function `ψ(x) = d ln Γ(x) / dx` for `x > 0`: the recurrence `ψ(x) = ψ(x + 1) − 1/x`
/// up to `x ≥ 6`, then the asymptotic series (error below 1e-12).
pub(crate) fn digamma(mut x: f64) -> f64 {
    let mut acc = 0.0;
    while x < 6.0 {
        acc -= 1.0 / x;
        x += 1.0;
    }
    let f = 1.0 / (x * x);
    let tail = f * (1.0 / 12.0 - f * (1.0 / 120.0 - f * (1.0 / 252.0 - f * (1.0 / 240.0 - f / 132.0))));
    acc + x.ln() - 0.5 / x - tail
}

/// The 90% interval of a count with probabilities `pmf[k] = P(N = k)` (summing to 1, up to a
/// negligible tail): whole numbers, so no interval holds exactly 90%. Its ends start at the
/// mid-p points (Lancaster: the lower end the least `k` with `P(N < k) + ½ P(N = k) ≥ 0.05`, the
/// upper end one less than the least `k` with that at or above 0.95, each tail as near 5% as
/// whole numbers allow), and each end then moves by at most one where that brings the
/// interval's probability nearer 90% (ties: the more even tails, then the mid-p points). Mid-p
/// points alone hold 92.6% on average over negative binomial counts and 94.3% over binomial
/// ones (a count at 0 cannot give up its lower tail, and narrow counts round up); this rule
/// holds 91.1% and 91.7% (the tests' exact sums), so that about 90% of many buildings' counts
/// fall inside.
pub(crate) fn count_interval90(pmf: &[f64]) -> (f64, f64) {
    if pmf.is_empty() {
        return (0.0, 0.0);
    }
    let (mut below, mut low, mut high) = (0.0, None, None);
    for (k, &p) in pmf.iter().enumerate() {
        let mid = below + p / 2.0;
        if low.is_none() && mid >= 0.05 {
            low = Some(k);
        }
        if mid >= 0.95 {
            high = Some(k.saturating_sub(1));
            break;
        }
        below += p;
    }
    let last = pmf.len() - 1;
    let high = high.unwrap_or(last);
    let low = low.unwrap_or(last).min(high);
    let mut prefix = Vec::with_capacity(pmf.len() + 1);
    prefix.push(0.0);
    for &p in pmf {
        prefix.push(prefix.last().copied().unwrap_or(0.0) + p);
    }
    let total = prefix[pmf.len()];
    let mut best = (low, high);
    let mut best_key = (f64::INFINITY, f64::INFINITY, 1usize);
    for a in low.saturating_sub(1)..=(low + 1).min(last) {
        for b in high.saturating_sub(1)..=(high + 1).min(last) {
            if a > b {
                continue;
            }
            let mass = prefix[b + 1] - prefix[a];
            let tails = (prefix[a] - (total - prefix[b + 1])).abs();
            let key = ((mass - 0.9).abs(), tails, usize::from((a, b) != (low, high)));
            if key.0 < best_key.0 - 1e-12
                || ((key.0 - best_key.0).abs() <= 1e-12
                    && (key.1 < best_key.1 - 1e-12 || ((key.1 - best_key.1).abs() <= 1e-12 && key.2 < best_key.2)))
            {
                (best, best_key) = ((a, b), key);
            }
        }
    }
    (best.0 as f64, best.1 as f64)
}

/// A function to minimise: its value and gradient at a point.
pub(crate) type Objective<'a> = dyn Fn(&[f64]) -> (f64, Vec<f64>) + 'a;

/// Minimises a smooth `f` (returning its value and gradient) from `x0` by BFGS with a
/// backtracking (Armijo) line search; stops when the gradient's largest component is below
/// `tol`, when a step no longer lowers `f`, or after `max_iter` steps. Returns the best point.
pub(crate) fn bfgs(f: &Objective, x0: &[f64], tol: f64, max_iter: usize) -> Vec<f64> {
    let n = x0.len();
    let mut x = x0.to_vec();
    let (mut fx, mut g) = f(&x);
    if !fx.is_finite() {
        return x;
    }
    // The inverse Hessian's estimate, row-major: to start, the identity scaled so that the
    // first step moves no coordinate by more than 1.
    let first = 1.0 / g.iter().fold(1.0f64, |m, v| m.max(v.abs()));
    let mut h = vec![0.0; n * n];
    for i in 0..n {
        h[i * n + i] = first;
    }
    for _ in 0..max_iter {
        if g.iter().fold(0.0f64, |m, v| m.max(v.abs())) < tol {
            break;
        }
        let mut d: Vec<f64> = (0..n).map(|i| -(0..n).map(|j| h[i * n + j] * g[j]).sum::<f64>()).collect();
        let mut slope: f64 = d.iter().zip(&g).map(|(a, b)| a * b).sum();
        if slope >= 0.0 {
            // Not a descent direction: restart from steepest descent.
            let scale = 1.0 / g.iter().fold(1.0f64, |m, v| m.max(v.abs()));
            h.iter_mut().enumerate().for_each(|(k, v)| *v = if k % (n + 1) == 0 { scale } else { 0.0 });
            d = g.iter().map(|v| -scale * v).collect();
            slope = -scale * g.iter().map(|v| v * v).sum::<f64>();
        }
        let mut step = 1.0;
        let mut next = None;
        for _ in 0..40 {
            let xn: Vec<f64> = x.iter().zip(&d).map(|(a, b)| a + step * b).collect();
            let (fx_n, g_n) = f(&xn);
            if fx_n.is_finite() && fx_n <= fx + 1e-4 * step * slope {
                next = Some((xn, fx_n, g_n));
                break;
            }
            step *= 0.5;
        }
        let Some((xn, fx_n, g_n)) = next else { break };
        let s: Vec<f64> = xn.iter().zip(&x).map(|(a, b)| a - b).collect();
        let y: Vec<f64> = g_n.iter().zip(&g).map(|(a, b)| a - b).collect();
        let sy: f64 = s.iter().zip(&y).map(|(a, b)| a * b).sum();
        let improved = fx - fx_n;
        (x, fx, g) = (xn, fx_n, g_n);
        if sy > 1e-12 {
            // H ← (I − ρ s yᵀ) H (I − ρ y sᵀ) + ρ s sᵀ.
            let rho = 1.0 / sy;
            let hy: Vec<f64> = (0..n).map(|i| (0..n).map(|j| h[i * n + j] * y[j]).sum()).collect();
            let yhy: f64 = y.iter().zip(&hy).map(|(a, b)| a * b).sum();
            for i in 0..n {
                for j in 0..n {
                    h[i * n + j] += -rho * (hy[i] * s[j] + s[i] * hy[j]) + (rho * rho * yhy + rho) * s[i] * s[j];
                }
            }
        }
        if improved.abs() <= 1e-9 * (1.0 + fx.abs()) {
            break;
        }
    }
    x
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

    /// Negative binomial probabilities `P(N = k)`, `k < len`, of mean `mean` and shape `shape`.
    fn neg_binomial(mean: f64, shape: f64, len: usize) -> Vec<f64> {
        let theta = mean / (shape + mean);
        let mut pmf = (shape * (1.0 - theta).ln()).exp();
        (0..len)
            .map(|k| {
                let p = pmf;
                pmf *= (k as f64 + shape) / (k as f64 + 1.0) * theta;
                p
            })
            .collect()
    }

    /// Binomial probabilities of `n` trials with success probability `q`.
    fn binomial(n: usize, q: f64) -> Vec<f64> {
        let mut pmf = (1.0 - q).powi(n as i32);
        (0..=n)
            .map(|k| {
                let p = pmf;
                pmf *= (n - k) as f64 / (k as f64 + 1.0) * q / (1.0 - q);
                p
            })
            .collect()
    }

    fn mass(pmf: &[f64], (lo, hi): (f64, f64)) -> f64 {
        pmf[lo as usize..=hi as usize].iter().sum()
    }

    #[test]
    fn intervals_of_whole_numbers_hold_the_probability_nearest_ninety_percent() {
        // A count at 0 with probability 0.85: [0, 0] holds 0.85, [0, 1] 0.97; 0.85 is nearer.
        assert_eq!(count_interval90(&[0.85, 0.12, 0.03]), (0.0, 0.0));
        // Binomial(4, ½) = 1, 4, 6, 4, 1 sixteenths: mid-p points 1 and 3 hold 14/16 = 0.875,
        // nearer 0.9 than [0, 3] or [1, 4] (15/16).
        assert_eq!(count_interval90(&binomial(4, 0.5)), (1.0, 3.0));
        // Binomial(6, 0.4) (scipy.stats.binom): [1, 4] holds 0.9128.
        assert_eq!(count_interval90(&binomial(6, 0.4)), (1.0, 4.0));
        // Negative binomial of shape 2 and mean 3 (scipy.stats.nbinom(2, 0.4)): mid-p points 0
        // and 8 hold 0.9614; [0, 7] holds 0.9295, nearer.
        let nb = neg_binomial(3.0, 2.0, 400);
        assert_eq!(count_interval90(&nb), (0.0, 7.0));
        assert!((mass(&nb, (0.0, 7.0)) - 0.929_456).abs() < 1e-5);
        // A certain count, and nothing.
        assert_eq!(count_interval90(&[0.0, 0.0, 1.0]), (2.0, 2.0));
        assert_eq!(count_interval90(&[]), (0.0, 0.0));
    }

    #[test]
    fn intervals_hold_ninety_percent_on_average() {
        // Exact sums (the same averages as scipy's pmfs give): over negative binomials of means
        // 0.5 to 8 and shapes 1 to 20, the intervals hold 91.1% on average (mid-p points alone
        // 92.6%); over binomials of 1 to 12 trials, 91.7% (mid-p points 94.3%).
        let mut nb = Vec::new();
        for i in 1..=16 {
            for shape in [1.0, 2.0, 5.0, 20.0] {
                let pmf = neg_binomial(0.5 * f64::from(i), shape, 2000);
                nb.push(mass(&pmf, count_interval90(&pmf)));
            }
        }
        let nb = nb.iter().sum::<f64>() / nb.len() as f64;
        assert!((nb - 0.9109).abs() < 0.001, "{nb}");
        let mut bin = Vec::new();
        for n in 1..=12 {
            for q in [0.1, 0.3, 0.5, 0.7, 0.9] {
                let pmf = binomial(n, q);
                bin.push(mass(&pmf, count_interval90(&pmf)));
            }
        }
        let bin = bin.iter().sum::<f64>() / bin.len() as f64;
        assert!((bin - 0.9167).abs() < 0.001, "{bin}");
    }

    #[test]
    fn digamma_matches_scipy() {
        // scipy.special.digamma.
        for (x, want) in [
            (1.0, -0.577_215_664_901_532_9),
            (0.5, -1.963_510_026_021_423_5),
            (10.0, 2.251_752_589_066_721),
            (0.01, -100.560_885_457_868_68),
            (123.4, 4.811_373_775_116_277_5),
        ] {
            assert!((digamma(x) - want).abs() < 1e-11, "{x}: {}", digamma(x));
        }
    }

    #[test]
    fn bfgs_finds_the_minimum_of_rosenbrocks_valley() {
        let f = |x: &[f64]| {
            let (a, b) = (1.0 - x[0], x[1] - x[0] * x[0]);
            (a * a + 100.0 * b * b, vec![-2.0 * a - 400.0 * x[0] * b, 200.0 * b])
        };
        let x = bfgs(&f, &[-1.2, 1.0], 1e-10, 500);
        assert!((x[0] - 1.0).abs() < 1e-5 && (x[1] - 1.0).abs() < 1e-5, "{x:?}");
        // A start where the function is not finite stays where it is.
        let nan = |_: &[f64]| (f64::NAN, vec![0.0]);
        assert_eq!(bfgs(&nan, &[3.0], 1e-6, 10), vec![3.0]);
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
