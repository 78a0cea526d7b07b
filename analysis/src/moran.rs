//! Local Moran's I (LISA, 局部莫兰指数): clusters of like values (high-high, low-low) and
//! outliers (high-low, low-high), with conditional permutation inference.
//!
//! With `z = (y − ȳ)/S` (S the population standard deviation) and `lag_i = Σ_j w_ij z_j`,
//! `I_i = (n − 1) z_i lag_i / Σ_j z_j²`, as PySAL esda's `Moran_Local` (which row-standardises
//! by default: pass [`Weights::row_standardised`] to match it). Inference is esda's conditional
//! randomisation: `permutations` draws, each a random set of `max cardinality` sites other than
//! `i`, shared by all sites (so the result does not depend on the thread count); the values at the
//! first `|N(i)|` of them replace `i`'s neighbours. The p-value is esda's folded one,
//! `(min(#{I_sim ≥ I_i}, P − #{I_sim ≥ I_i}) + 1) / (P + 1)`. Tail counts, mean and spread of the
//! simulated I are streamed: no simulation is stored, no value vector copied per site.
//!
//! Defined answers where esda gives NaN or a spurious p: fewer than 3 sites or all values equal
//! give `I = 0`, `p = 1` and no quadrant; an island (no neighbour) or a site with `z_i = 0` has
//! `I = 0` and `p = 1` (esda reports `p = 1/(P + 1)` there); `permutations = 0` gives `p = 1`.

use crate::error::{StatsError, StatsResult, check_finite, check_len};
use crate::stats::{mean_std, zero_spread};
use crate::weights::{Weights, WeightsDescription};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::Serialize;

/// The most permutations [`local_moran`] accepts.
pub const MAX_PERMUTATIONS: usize = 99_999;

/// Options of [`local_moran`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct MoranOptions {
    /// Number of conditional permutations (999 by default).
    pub permutations: usize,
    /// Seed of the permutations: the same seed gives the same p-values.
    pub seed: u64,
}

impl Default for MoranOptions {
    /// 999 permutations, seed 12345 (esda's default seed).
    fn default() -> Self {
        Self { permutations: 999, seed: 12345 }
    }
}

/// The Moran scatterplot quadrant of a site: its own value and its neighbours' against the mean.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Quadrant {
    /// High value among high values (esda q = 1): part of a hot cluster.
    HighHigh,
    /// Low value among high values (q = 2): a low outlier.
    LowHigh,
    /// Low value among low values (q = 3): part of a cold cluster.
    LowLow,
    /// High value among low values (q = 4): a high outlier.
    HighLow,
}

impl Quadrant {
    /// Its name as serialised: `high_high`, `low_high`, `low_low` or `high_low`.
    pub fn as_str(self) -> &'static str {
        match self {
            Quadrant::HighHigh => "high_high",
            Quadrant::LowHigh => "low_high",
            Quadrant::LowLow => "low_low",
            Quadrant::HighLow => "high_low",
        }
    }

    /// esda's quadrant number (1 HH, 2 LH, 3 LL, 4 HL).
    pub fn esda_code(self) -> u8 {
        match self {
            Quadrant::HighHigh => 1,
            Quadrant::LowHigh => 2,
            Quadrant::LowLow => 3,
            Quadrant::HighLow => 4,
        }
    }
}

/// Local Moran's I for every site.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LocalMoran {
    /// The local statistics `I_i`.
    pub i: Vec<f64>,
    /// The standardised values `z_i`.
    pub z: Vec<f64>,
    /// Their spatial lags `Σ_j w_ij z_j`.
    pub lag: Vec<f64>,
    /// Scatterplot quadrants as esda assigns them (`z > 0` is high; no quadrant when undefined).
    pub quadrant: Vec<Option<Quadrant>>,
    /// Folded pseudo p-values from the permutations.
    pub p_sim: Vec<f64>,
    /// Mean of the simulated I.
    pub ei_sim: Vec<f64>,
    /// Standard deviation of the simulated I.
    pub se_sim: Vec<f64>,
    /// `(I_i − ei_sim) / se_sim` (0 where `se_sim` is 0).
    pub z_sim: Vec<f64>,
    /// Number of permutations.
    pub permutations: usize,
    /// The weights used.
    pub weights: WeightsDescription,
}

impl LocalMoran {
    /// The quadrant of each site whose `p_sim ≤ alpha`, none elsewhere: the LISA cluster map.
    pub fn clusters(&self, alpha: f64) -> Vec<Option<Quadrant>> {
        self.quadrant.iter().zip(&self.p_sim).map(|(&q, &p)| if p <= alpha { q } else { None }).collect()
    }
}

/// Local Moran's I of `y` with weights `w` as given, and conditional permutation p-values.
pub fn local_moran(y: &[f64], w: &Weights, opts: &MoranOptions) -> StatsResult<LocalMoran> {
    check_len("values", w.n(), y.len())?;
    check_finite("value", y)?;
    if opts.permutations > MAX_PERMUTATIONS {
        let value = opts.permutations as f64;
        return Err(StatsError::Parameter { name: "permutations", value, reason: "at most 99,999" });
    }
    let n = y.len();
    let (mean, s) = mean_std(y);
    let weights = w.describe();
    if n < 3 || zero_spread(y, s) {
        return Ok(LocalMoran {
            i: vec![0.0; n],
            z: vec![0.0; n],
            lag: vec![0.0; n],
            quadrant: vec![None; n],
            p_sim: vec![1.0; n],
            ei_sim: vec![0.0; n],
            se_sim: vec![0.0; n],
            z_sim: vec![0.0; n],
            permutations: opts.permutations,
            weights,
        });
    }
    let z: Vec<f64> = y.iter().map(|v| (v - mean) / s).collect();
    let den: f64 = z.iter().map(|v| v * v).sum();
    let scale = (n - 1) as f64 / den;
    let lag = w.lag(&z)?;
    let i: Vec<f64> = (0..n).map(|k| scale * z[k] * lag[k]).collect();
    let quadrant = z
        .iter()
        .zip(&lag)
        .map(|(&z, &l)| {
            Some(match (z > 0.0, l > 0.0) {
                (true, true) => Quadrant::HighHigh,
                (false, true) => Quadrant::LowHigh,
                (false, false) => Quadrant::LowLow,
                (true, false) => Quadrant::HighLow,
            })
        })
        .collect();
    let table = DrawTable::new(&z, weights.max_neighbours, opts.permutations, opts.seed)?;
    let sims: Vec<Sim> = (0..n).into_par_iter().map(|k| table.simulate(k, z[k], i[k], scale, w)).collect();
    Ok(LocalMoran {
        i,
        z,
        lag,
        quadrant,
        p_sim: sims.iter().map(|s| s.p).collect(),
        ei_sim: sims.iter().map(|s| s.mean).collect(),
        se_sim: sims.iter().map(|s| s.sd).collect(),
        z_sim: sims.iter().map(|s| s.z).collect(),
        permutations: opts.permutations,
        weights,
    })
}

/// The shared random draws: `permutations` rows of `k` distinct ids in `0..n−1`, with the values
/// each id stands for: `pair[0]` when the site's own index is above it, `pair[1]` (the next
/// value) when the site's index is at or below it, since the site itself is left out.
struct DrawTable {
    k: usize,
    permutations: usize,
    ids: Vec<u32>,
    pairs: Vec<[f64; 2]>,
}

struct Sim {
    p: f64,
    mean: f64,
    sd: f64,
    z: f64,
}

impl DrawTable {
    fn new(z: &[f64], k: usize, permutations: usize, seed: u64) -> StatsResult<Self> {
        let n = z.len();
        if k >= n {
            return Err(StatsError::Parameter { name: "max neighbours", value: k as f64, reason: "must be below n" });
        }
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut ids = Vec::with_capacity(permutations * k);
        let mut row: Vec<u32> = Vec::with_capacity(k);
        let mut seen = std::collections::HashSet::new();
        let others = (n - 1) as u32;
        for _ in 0..permutations {
            // Floyd's algorithm: k distinct ids out of n − 1, then shuffled so that which value
            // meets which neighbour weight is random too.
            row.clear();
            seen.clear();
            for j in (others - k as u32)..others {
                let t = rng.random_range(0..=j);
                let pick = if if k <= 32 { row.contains(&t) } else { seen.contains(&t) } { j } else { t };
                row.push(pick);
                if k > 32 {
                    seen.insert(pick);
                }
            }
            for a in (1..row.len()).rev() {
                let b = rng.random_range(0..=a);
                row.swap(a, b);
            }
            ids.extend_from_slice(&row);
        }
        let pairs = ids.iter().map(|&r| [z[r as usize], z[r as usize + 1]]).collect();
        Ok(Self { k, permutations, ids, pairs })
    }

    /// Streams the simulated I of site `site` against its observed `observed`.
    fn simulate(&self, site: usize, zi: f64, observed: f64, scale: f64, w: &Weights) -> Sim {
        let weights = w.weights(site);
        let card = weights.len();
        if self.permutations == 0 || card == 0 || zi == 0.0 {
            return Sim { p: 1.0, mean: 0.0, sd: 0.0, z: 0.0 };
        }
        let (mut larger, mut sum, mut sumsq) = (0usize, 0.0, 0.0);
        let site = site as u32;
        // Binary and row-standardised rows weigh every neighbour alike: sum, then scale once.
        let uniform = weights.iter().all(|&x| x == weights[0]);
        let factor = zi * scale * if uniform { weights[0] } else { 1.0 };
        for p in 0..self.permutations {
            let base = p * self.k;
            let ids = &self.ids[base..base + card];
            let pairs = &self.pairs[base..base + card];
            let lag: f64 = if uniform {
                ids.iter().zip(pairs).map(|(&id, pair)| pair[usize::from(id >= site)]).sum()
            } else {
                ids.iter().zip(pairs).zip(weights).map(|((&id, pair), w)| w * pair[usize::from(id >= site)]).sum()
            };
            let sim = factor * lag;
            larger += usize::from(sim >= observed);
            sum += sim;
            sumsq += sim * sim;
        }
        let perms = self.permutations as f64;
        let folded = larger.min(self.permutations - larger);
        let mean = sum / perms;
        let sd = (sumsq / perms - mean * mean).max(0.0).sqrt();
        let z = if sd > 0.0 { (observed - mean) / sd } else { 0.0 };
        Sim { p: (folded as f64 + 1.0) / (perms + 1.0), mean, sd, z }
    }
}
