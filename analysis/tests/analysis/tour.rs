//! The tour solver against outside references: TSPLIB instances with proven optima, exhaustive
//! search on small random instances, and the nearest-neighbour baseline it must never lose to.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rentgrid_analysis::tour::{DistanceMatrix, SolveOptions, TourError, nearest_neighbour, solve};
use rentgrid_analysis::tsplib::{Instance, TsplibError};

fn instance(name: &str) -> Instance {
    let path = format!("{}/tests/data/tsplib/{name}.tsp", env!("CARGO_MANIFEST_DIR"));
    Instance::parse(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn random_points(n: usize, seed: u64) -> Vec<(f64, f64)> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n).map(|_| (rng.random_range(0.0..1000.0), rng.random_range(0.0..1000.0))).collect()
}

fn euclidean(p: &[(f64, f64)]) -> DistanceMatrix {
    DistanceMatrix::from_fn(p.len(), |i, j| (p[i].0 - p[j].0).hypot(p[i].1 - p[j].1)).unwrap()
}

/// A permutation of 0..n starting with the depot.
fn assert_tour(order: &[usize], n: usize, depot: usize) {
    assert_eq!(order.len(), n);
    assert_eq!(order[0], depot);
    let mut seen = vec![false; n];
    for &c in order {
        assert!(!seen[c], "stop {c} twice");
        seen[c] = true;
    }
}

#[test]
fn tours_are_permutations_from_the_depot_and_never_lose_to_nearest_neighbour() {
    for (n, seed) in [(1, 1), (2, 2), (3, 3), (4, 4), (5, 5), (12, 6), (60, 7), (200, 8)] {
        let m = euclidean(&random_points(n, seed));
        for depot in [0, n / 2, n - 1] {
            let t = solve(&m, depot, &SolveOptions::default()).unwrap();
            assert_tour(&t.order, n, depot);
            let nn = nearest_neighbour(&m, depot).unwrap();
            assert_tour(&nn, n, depot);
            assert!((t.length - m.tour_length(&t.order)).abs() < 1e-6, "reported length is the tour's");
            assert!((t.nearest_neighbour_length - m.tour_length(&nn)).abs() < 1e-6);
            assert!(
                t.length <= t.nearest_neighbour_length + 1e-9,
                "n={n}: {} > {}",
                t.length,
                t.nearest_neighbour_length
            );
        }
    }
}

/// The shortest closed tour by trying every order (n ≤ 9).
fn brute_force(m: &DistanceMatrix) -> f64 {
    fn go(m: &DistanceMatrix, path: &mut Vec<usize>, used: &mut [bool], len: f64, best: &mut f64) {
        if len >= *best {
            return;
        }
        if path.len() == m.len() {
            *best = best.min(len + m.get(*path.last().unwrap(), 0));
            return;
        }
        for c in 1..m.len() {
            if !used[c] {
                used[c] = true;
                let last = *path.last().unwrap();
                path.push(c);
                go(m, path, used, len + m.get(last, c), best);
                path.pop();
                used[c] = false;
            }
        }
    }
    let mut best = f64::INFINITY;
    let mut used = vec![false; m.len()];
    used[0] = true;
    go(m, &mut vec![0], &mut used, 0.0, &mut best);
    best
}

#[test]
fn small_instances_are_solved_to_optimality() {
    for seed in 0..12 {
        let n = 4 + (seed as usize % 6);
        let m = euclidean(&random_points(n, 100 + seed));
        let t = solve(&m, 0, &SolveOptions::default()).unwrap();
        let opt = brute_force(&m);
        assert!((t.length - opt).abs() < 1e-6, "n={n} seed={seed}: {} vs optimum {opt}", t.length);
    }
}

#[test]
fn the_same_seed_gives_the_same_tour() {
    let m = euclidean(&random_points(150, 9));
    let a = solve(&m, 3, &SolveOptions::default()).unwrap();
    let b = solve(&m, 3, &SolveOptions::default()).unwrap();
    assert_eq!(a, b);
}

/// Proven optima of the TSPLIB instances (TSPLIB95).
const OPTIMA: &[(&str, f64)] = &[("berlin52", 7542.0), ("kroA100", 21282.0), ("kroA200", 29368.0), ("a280", 2579.0)];

#[test]
fn tsplib_instances_within_one_percent_of_the_optimum() {
    for &(name, optimum) in OPTIMA {
        let inst = instance(name);
        let m = inst.matrix().unwrap();
        let t = solve(&m, 0, &SolveOptions::default()).unwrap();
        assert_tour(&t.order, inst.len(), 0);
        let gap = t.length / optimum - 1.0;
        // Below the proven optimum would mean a wrong instance file or a wrong length.
        assert!(gap >= 0.0, "{name}: {} is below the optimum {optimum}", t.length);
        assert!(gap <= 0.01, "{name}: {} is {:.2}% above the optimum {optimum}", t.length, gap * 100.0);
        assert!(t.length <= t.nearest_neighbour_length);
    }
}

#[test]
fn tsplib_pr1002_within_two_and_a_half_percent() {
    let inst = instance("pr1002");
    assert_eq!(inst.len(), 1002);
    let m = inst.matrix().unwrap();
    let t = solve(&m, 0, &SolveOptions::default()).unwrap();
    assert_tour(&t.order, 1002, 0);
    let gap = t.length / 259_045.0 - 1.0;
    assert!((0.0..=0.025).contains(&gap), "pr1002: {} is {:.2}% above the optimum", t.length, gap * 100.0);
}

#[test]
fn the_tsplib_distance_is_rounded_euclidean() {
    let inst = instance("berlin52");
    assert_eq!(inst.name, "berlin52");
    assert_eq!(inst.coords[0], (565.0, 575.0));
    // Nodes 1 and 2: sqrt(540² + 390²) = 666.1…
    assert_eq!(inst.distance(0, 1), 666.0);
    // The optimal berlin52 tour published with TSPLIB has length 7542.
    let opt_tour = [
        1, 49, 32, 45, 19, 41, 8, 9, 10, 43, 33, 51, 11, 52, 14, 13, 47, 26, 27, 28, 12, 25, 4, 6, 15, 5, 24, 48, 38,
        37, 40, 39, 36, 35, 34, 44, 46, 16, 29, 50, 20, 23, 30, 2, 7, 42, 21, 17, 3, 18, 31, 22,
    ];
    let order: Vec<usize> = opt_tour.iter().map(|c| c - 1).collect();
    assert_eq!(inst.matrix().unwrap().tour_length(&order), 7542.0);
}

#[test]
fn bad_matrices_and_depots_are_errors() {
    assert!(matches!(DistanceMatrix::new(2, vec![0.0; 3]), Err(TourError::MatrixSize { n: 2, expected: 4, got: 3 })));
    assert!(matches!(
        DistanceMatrix::new(2, vec![0.0, f64::NAN, 1.0, 0.0]),
        Err(TourError::BadDistance { from: 0, to: 1, .. })
    ));
    assert!(matches!(DistanceMatrix::new(2, vec![0.0, -1.0, -1.0, 0.0]), Err(TourError::BadDistance { .. })));
    assert!(matches!(DistanceMatrix::new(2, vec![0.0, 1.0, 2.0, 0.0]), Err(TourError::Asymmetric { a: 0, b: 1, .. })));
    let m = euclidean(&random_points(5, 1));
    assert_eq!(solve(&m, 5, &SolveOptions::default()), Err(TourError::Depot { depot: 5, n: 5 }));
    let empty = DistanceMatrix::new(0, vec![]).unwrap();
    assert_eq!(nearest_neighbour(&empty, 0), Err(TourError::Empty));
}

#[test]
fn bad_tsplib_files_are_errors() {
    let head = "NAME: t\nTYPE: TSP\nDIMENSION: 2\nEDGE_WEIGHT_TYPE: EUC_2D\nNODE_COORD_SECTION\n";
    assert!(Instance::parse(&format!("{head}1 0 0\n2 3 4\nEOF\n")).is_ok());
    assert!(matches!(Instance::parse("NAME: t\nTYPE: ATSP\n"), Err(TsplibError::Unsupported { line: 2, .. })));
    assert!(matches!(
        Instance::parse("NAME: t\nTYPE: TSP\nDIMENSION: 2\nEDGE_WEIGHT_TYPE: GEO\n"),
        Err(TsplibError::Unsupported { line: 4, .. })
    ));
    assert!(matches!(Instance::parse(&format!("{head}1 0 0\nEOF\n")), Err(TsplibError::Nodes { expected: 2, got: 1 })));
    assert!(matches!(Instance::parse(&format!("{head}1 0 0\n1 3 4\n")), Err(TsplibError::Syntax { line: 7, .. })));
    assert!(matches!(Instance::parse(&format!("{head}1 0 x\n2 3 4\n")), Err(TsplibError::Syntax { line: 6, .. })));
    assert!(matches!(Instance::parse(&format!("{head}3 0 0\n2 3 4\n")), Err(TsplibError::Syntax { line: 6, .. })));
    assert!(matches!(Instance::parse(&format!("{head}1 0\n")), Err(TsplibError::Syntax { line: 6, .. })));
    assert!(matches!(Instance::parse("NAME: t\n"), Err(TsplibError::Missing("DIMENSION"))));
    assert!(matches!(Instance::parse("garbage\n"), Err(TsplibError::Syntax { line: 1, .. })));
}
