//! Hot spots, Local Moran and their edge cases on hand-made data, with the hard numbers of
//! esda's docstring example so that the reference runs without Python.

use rentgrid_analysis::hotspot::{Degenerate, GiOptions, gi_star};
use rentgrid_analysis::moran::{MoranOptions, Quadrant, local_moran};
use rentgrid_analysis::weights::{Weights, WeightsKind};

const DOC_POINTS: [[f64; 2]; 6] = [[10.0, 10.0], [20.0, 10.0], [40.0, 10.0], [15.0, 20.0], [30.0, 20.0], [30.0, 30.0]];
const DOC_Y: [f64; 6] = [2.0, 3.0, 3.2, 5.0, 8.0, 7.0];

fn all_finite(v: &[f64]) -> bool {
    v.iter().all(|x| x.is_finite())
}

#[test]
fn gi_star_matches_esda_docstring_example() {
    // esda: G_Local(y, DistanceBand(points, threshold=15), transform='B', star=True).Zs
    let want = [-1.397276262, -0.2891776156, 0.6506496352, -0.2891776156, 1.2345208835, 2.0242433094];
    let w = Weights::distance_band_planar(&DOC_POINTS, 15.0).unwrap();
    // The band is inclusive: (15,20) and (30,20) are exactly 15 apart.
    assert_eq!(w.neighbours(3), &[0, 1, 4]);
    let g = gi_star(&DOC_Y, &w, &GiOptions::default()).unwrap();
    for (got, want) in g.z.iter().zip(want) {
        assert!((got - want).abs() < 1e-9, "{got} vs {want}");
    }
    assert_eq!(g.weights.kind, WeightsKind::DistanceBand { threshold: 15.0 });
    assert!(g.p.iter().zip(&g.z).all(|(p, z)| (*p - 2.0 * (1.0 - normal_cdf(z.abs()))).abs() < 2e-7));
}

/// A plain normal CDF (Abramowitz–Stegun 26.2.17, error < 7.5e-8) to cross-check the p-values.
fn normal_cdf(x: f64) -> f64 {
    let t = 1.0 / (1.0 + 0.231_641_9 * x);
    let poly =
        t * (0.319_381_530 + t * (-0.356_563_782 + t * (1.781_477_937 + t * (-1.821_255_978 + t * 1.330_274_429))));
    1.0 - (-x * x / 2.0).exp() / (2.0 * std::f64::consts::PI).sqrt() * poly
}

#[test]
fn local_moran_matches_esda_docstring_example() {
    // esda: Moran_Local(y, DistanceBand(points, 15)) with its default row standardisation.
    let want = [
        0.32926829268292696,
        -0.08885017421602777,
        -0.8623693379790942,
        -0.019163763066202096,
        -0.08623693379790952,
        1.3222996515679442,
    ];
    let w = Weights::distance_band_planar(&DOC_POINTS, 15.0).unwrap().row_standardised();
    let m = local_moran(&DOC_Y, &w, &MoranOptions::default()).unwrap();
    for (got, want) in m.i.iter().zip(want) {
        assert!((got - want).abs() < 1e-9, "{got} vs {want}");
    }
    let codes: Vec<u8> = m.quadrant.iter().map(|q| q.unwrap().esda_code()).collect();
    assert_eq!(codes, vec![3, 2, 2, 4, 4, 1]);
    assert!(m.p_sim.iter().all(|p| *p > 0.0 && *p <= 0.5 + 1e-12));
}

#[test]
fn a_lone_hot_grid_is_hot_and_a_high_outlier() {
    let w = Weights::lattice(9, 9);
    let mut y = vec![1.0; 81];
    y[40] = 100.0;
    let g = gi_star(&y, &w, &GiOptions::default()).unwrap();
    assert!(all_finite(&g.z));
    // The grid and its four neighbours share the same neighbourhood sum: they tie at the top.
    let top = g.z.iter().copied().fold(f64::MIN, f64::max);
    for k in [31, 39, 40, 41, 49] {
        assert!((g.z[k] - top).abs() < 1e-12 && g.bin[k] == 3, "{k}");
    }
    assert_eq!(g.bin[40], 3);
    let m = local_moran(&y, &w.row_standardised(), &MoranOptions::default()).unwrap();
    assert_eq!(m.quadrant[40], Some(Quadrant::HighLow));
    assert!(m.i[40] < 0.0);
    assert!(all_finite(&m.i) && all_finite(&m.p_sim) && all_finite(&m.z_sim));
}

#[test]
fn a_checkerboard_is_all_outliers_with_negative_i() {
    let w = Weights::lattice(8, 8).row_standardised();
    let y: Vec<f64> = (0..64).map(|i| f64::from(((i / 8) + (i % 8)) % 2)).collect();
    let m = local_moran(&y, &w, &MoranOptions::default()).unwrap();
    for k in 0..64 {
        // z = ±1 and every neighbour is the other colour: I = −(n − 1)/n.
        assert!((m.i[k] + 63.0 / 64.0).abs() < 1e-12, "{}", m.i[k]);
        assert!(matches!(m.quadrant[k], Some(Quadrant::HighLow | Quadrant::LowHigh)));
    }
    let g = gi_star(&y, &w, &GiOptions::default()).unwrap();
    assert!(all_finite(&g.z) && g.bin.iter().all(|&b| b == 0), "{:?}", g.bin);
}

#[test]
fn islands_get_defined_answers() {
    // Sites 0–1–2 in a chain, 3 alone.
    let w = Weights::from_neighbours(&[vec![1], vec![0, 2], vec![1], vec![]]).unwrap();
    assert_eq!(w.describe().islands, 1);
    let y = [1.0, 2.0, 3.0, 10.0];
    let g = gi_star(&y, &w, &GiOptions::default()).unwrap();
    // An island's Gi* is its own standardised value: (10 − 4)/√12.5.
    assert!((g.z[3] - 6.0 / 12.5f64.sqrt()).abs() < 1e-12, "{}", g.z[3]);
    let m = local_moran(&y, &w.row_standardised(), &MoranOptions::default()).unwrap();
    assert_eq!((m.i[3], m.p_sim[3]), (0.0, 1.0));
    assert!(all_finite(&m.i) && all_finite(&m.z_sim));
}

#[test]
fn all_equal_values_and_tiny_inputs_are_not_significant() {
    let w = Weights::lattice(5, 5);
    for y in [vec![7.0; 25], vec![0.0; 25], vec![0.1; 25]] {
        let g = gi_star(&y, &w, &GiOptions::default()).unwrap();
        assert_eq!(g.degenerate, Some(Degenerate::ZeroVariance));
        assert!(g.z.iter().all(|&z| z == 0.0) && g.p.iter().all(|&p| p == 1.0) && g.bin.iter().all(|&b| b == 0));
        let m = local_moran(&y, &w, &MoranOptions::default()).unwrap();
        assert!(m.i.iter().all(|&i| i == 0.0) && m.p_sim.iter().all(|&p| p == 1.0));
        assert!(m.quadrant.iter().all(Option::is_none));
    }
    for n in 0..3 {
        let w = Weights::lattice(1, n);
        let y: Vec<f64> = (0..n).map(|i| i as f64).collect();
        let g = gi_star(&y, &w, &GiOptions::default()).unwrap();
        assert!(g.z.iter().all(|&z| z == 0.0));
        assert_eq!(g.degenerate, Some(Degenerate::TooFewSites));
        let m = local_moran(&y, &w, &MoranOptions::default()).unwrap();
        assert!(m.p_sim.iter().all(|&p| p == 1.0));
    }
}

#[test]
fn bad_input_is_an_error_not_nan() {
    let w = Weights::lattice(2, 2);
    assert!(gi_star(&[1.0, 2.0, f64::NAN, 3.0], &w, &GiOptions::default()).is_err());
    assert!(gi_star(&[1.0, 2.0], &w, &GiOptions::default()).is_err());
    assert!(local_moran(&[1.0, f64::INFINITY, 2.0, 3.0], &w, &MoranOptions::default()).is_err());
    let too_many = MoranOptions { permutations: 10_000_000, ..MoranOptions::default() };
    assert!(local_moran(&[1.0, 4.0, 2.0, 3.0], &w, &too_many).is_err());
}

#[test]
fn permutation_p_values_are_reproducible_and_need_the_seed() {
    let w = Weights::lattice(12, 12).row_standardised();
    let level = |col: usize| {
        if col < 4 {
            100.0
        } else if col < 8 {
            50.0
        } else {
            0.0
        }
    };
    let y: Vec<f64> = (0..144).map(|i| level(i % 12) + ((i * 7919) % 101) as f64 / 10.0).collect();
    let a = local_moran(&y, &w, &MoranOptions::default()).unwrap();
    let b = local_moran(&y, &w, &MoranOptions::default()).unwrap();
    assert_eq!(a.p_sim, b.p_sim);
    let c = local_moran(&y, &w, &MoranOptions { seed: 1, ..MoranOptions::default() }).unwrap();
    assert_ne!(a.p_sim, c.p_sim);
    // The high columns on the left and the low ones on the right are clusters.
    let clusters = a.clusters(0.05);
    assert_eq!(clusters[12 + 1], Some(Quadrant::HighHigh));
    assert_eq!(clusters[5 * 12 + 10], Some(Quadrant::LowLow));
}
