//! Walking distances along the street network against a plain Dijkstra oracle (on a hand-made
//! network and on the demo city), and a day's route on the demo city.

use geo::{Distance, Haversine, LineString, Point, coord};
use rentgrid_analysis::network::{NetworkError, NetworkOptions, StreetDistances, WalkingNetwork};
use rentgrid_analysis::route::{RouteError, RouteOptions, community_station, route_day, route_day_on};
use rentgrid_geodata::demo::{DemoOptions, generate};
use rentgrid_geodata::model::{Road, RoadClass};
use rentgrid_geodata::{Atlas, AtlasInput};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashSet};

/// About 0.001° of latitude is 111 m; longitude at 29.87° N is about 96.5 m per 0.001°.
const LON0: f64 = 121.50;
const LAT0: f64 = 29.87;

fn road(id: u32, from: u32, to: u32, pts: &[(f64, f64)], length_m: f64) -> Road {
    Road {
        id,
        from_node: from,
        to_node: to,
        class: RoadClass::Local,
        line: LineString::from(pts.iter().map(|&(x, y)| coord! { x: LON0 + x, y: LAT0 + y }).collect::<Vec<_>>()),
        length_m,
    }
}

fn haversine_len(r: &Road) -> f64 {
    r.line.0.windows(2).map(|w| Haversine.distance(Point::from(w[0]), Point::from(w[1]))).sum()
}

/// A 3 × 3 lattice of junctions 0.002° apart with one bent road and one missing link, plus a
/// separate two-junction road far away (another component).
fn lattice() -> Vec<Road> {
    let node = |i: u32, j: u32| i * 3 + j;
    let at = |i: u32, j: u32| (f64::from(j) * 0.002, f64::from(i) * 0.002);
    let mut roads = Vec::new();
    for i in 0..3 {
        for j in 0..3 {
            if j + 1 < 3 && !(i == 1 && j == 0) {
                roads.push((node(i, j), node(i, j + 1), vec![at(i, j), at(i, j + 1)]));
            }
            if i + 1 < 3 {
                let mut pts = vec![at(i, j), at(i + 1, j)];
                if i == 0 && j == 2 {
                    // A bend: the road swings east on its way north.
                    let (x, y) = at(i, j);
                    pts.insert(1, (x + 0.0007, y + 0.001));
                }
                roads.push((node(i, j), node(i + 1, j), pts));
            }
        }
    }
    roads.push((100, 101, vec![(0.02, 0.02), (0.022, 0.02)]));
    roads
        .into_iter()
        .enumerate()
        .map(|(k, (a, b, pts))| {
            let mut r = road(k as u32, a, b, &pts, 0.0);
            r.length_m = haversine_len(&r);
            r
        })
        .collect()
}

/// The oracle: a graph with every stop's join point as a node of its own (splitting its road) and
/// its access leg as an edge, and a textbook Dijkstra from each stop over all of it (no early
/// stop, no special case for stops on the same road).
fn oracle(net: &WalkingNetwork, roads: &[Road], stops: &[Point<f64>]) -> Vec<Vec<f64>> {
    let mut nodes: BTreeMap<u32, usize> = BTreeMap::new();
    for r in roads {
        let k = nodes.len();
        nodes.entry(r.from_node).or_insert(k);
        let k = nodes.len();
        nodes.entry(r.to_node).or_insert(k);
    }
    let base = nodes.len();
    let n_all = base + 2 * stops.len();
    let mut adj: Vec<Vec<(usize, f64)>> = vec![Vec::new(); n_all];
    let link = |a: usize, b: usize, w: f64, adj: &mut Vec<Vec<(usize, f64)>>| {
        adj[a].push((b, w));
        adj[b].push((a, w));
    };
    // Join points per road, sorted by offset, chained between the road's ends.
    let mut on_road: BTreeMap<usize, Vec<(f64, usize)>> = BTreeMap::new();
    for (s, p) in stops.iter().enumerate() {
        if let Some(snap) = net.snap(*p) {
            let join = base + 2 * s + 1;
            link(base + 2 * s, join, snap.access_m, &mut adj);
            on_road.entry(snap.road).or_default().push((snap.offset_m, join));
        }
    }
    for (k, r) in roads.iter().enumerate() {
        let mut chain = vec![(0.0, nodes[&r.from_node])];
        let mut joins = on_road.remove(&k).unwrap_or_default();
        joins.sort_by(|a, b| a.0.total_cmp(&b.0));
        chain.extend(joins);
        chain.push((r.length_m, nodes[&r.to_node]));
        for w in chain.windows(2) {
            link(w[0].1, w[1].1, w[1].0 - w[0].0, &mut adj);
        }
    }
    (0..stops.len())
        .map(|s| {
            // Non-negative f64s order like their bit patterns.
            let mut dist = vec![f64::INFINITY; n_all];
            let mut heap = BinaryHeap::new();
            dist[base + 2 * s] = 0.0;
            heap.push(Reverse((0f64.to_bits(), base + 2 * s)));
            while let Some(Reverse((bits, v))) = heap.pop() {
                let dv = f64::from_bits(bits);
                if dv > dist[v] {
                    continue;
                }
                for &(w, len) in &adj[v] {
                    if dv + len < dist[w] {
                        dist[w] = dv + len;
                        heap.push(Reverse(((dv + len).to_bits(), w)));
                    }
                }
            }
            (0..stops.len()).map(|t| dist[base + 2 * t]).collect()
        })
        .collect()
}

fn assert_matches_oracle(d: &StreetDistances, want: &[Vec<f64>], stops: &[Point<f64>]) {
    let n = stops.len();
    for i in 0..n {
        for j in 0..n {
            let got = d.matrix.get(i, j);
            assert_eq!(got, d.matrix.get(j, i), "symmetric");
            if want[i][j].is_finite() {
                assert!(!d.is_estimated(i, j));
                assert!(
                    (got - want[i][j]).abs() < 1e-6 * want[i][j].max(1.0),
                    "{i}→{j}: {got} vs oracle {}",
                    want[i][j]
                );
            } else {
                assert!(d.is_estimated(i, j), "{i}→{j} is unreachable and must be flagged");
                let crow = Haversine.distance(stops[i], stops[j]);
                assert!((got - crow * 1.4).abs() < 1e-6 * got.max(1.0));
            }
        }
    }
}

#[test]
fn a_hand_made_network_agrees_with_the_oracle() {
    let roads = lattice();
    let net = WalkingNetwork::from_roads(&roads, LAT0);
    assert_eq!(net.junctions(), 11);
    let p = |x: f64, y: f64| Point::new(LON0 + x, LAT0 + y);
    let stops = vec![
        p(0.0005, -0.0003), // south of the bottom-left road
        p(0.0015, 0.0002),  // same road, further east: walks straight along it
        p(0.0041, 0.0011),  // beside the bent road
        p(0.0009, 0.0021),  // near the missing link's middle row
        p(0.0035, 0.0039),  // top right
        p(0.021, 0.0203),   // beside the far-away road: another component
        p(0.0, 0.0),        // exactly on a junction
    ];
    let d = net.distances(&stops, &NetworkOptions::default()).unwrap();
    let want = oracle(&net, &roads, &stops);
    assert_matches_oracle(&d, &want, &stops);
    // The first two share a road: access legs plus the walk between their join points.
    let (a, b) = (d.snaps[0].unwrap(), d.snaps[1].unwrap());
    assert_eq!(a.road, b.road);
    assert!((d.matrix.get(0, 1) - (a.access_m + b.access_m + (a.offset_m - b.offset_m).abs())).abs() < 1e-6);
    // Only the pairs with the far-away stop are estimates.
    assert_eq!(d.estimated_pairs(), 6);
}

#[test]
fn snapping_projects_onto_the_nearest_segment() {
    let roads = vec![road(0, 0, 1, &[(0.0, 0.0), (0.01, 0.0)], 965.0)];
    let net = WalkingNetwork::from_roads(&roads, LAT0);
    let s = net.snap(Point::new(LON0 + 0.004, LAT0 + 0.0005)).unwrap();
    assert_eq!(s.road, 0);
    // 0.4 of the way along a road of 965 m, 0.0005° (≈ 55.6 m) north of it.
    assert!((s.offset_m - 386.0).abs() < 1e-6, "{}", s.offset_m);
    assert!((s.access_m - 55.6).abs() < 0.2, "{}", s.access_m);
    assert!((s.point.x() - (LON0 + 0.004)).abs() < 1e-9 && (s.point.y() - LAT0).abs() < 1e-9);
    // Beyond the end: the join point is the end junction.
    let end = net.snap(Point::new(LON0 + 0.012, LAT0)).unwrap();
    assert!((end.offset_m - 965.0).abs() < 1e-6);
    assert!(net.snap(Point::new(f64::NAN, LAT0)).is_none());
}

#[test]
fn without_roads_every_pair_is_an_estimate() {
    let net = WalkingNetwork::from_roads(&[], LAT0);
    let stops = vec![Point::new(LON0, LAT0), Point::new(LON0 + 0.001, LAT0), Point::new(LON0, LAT0 + 0.001)];
    let d = net.distances(&stops, &NetworkOptions { detour_factor: 1.0 }).unwrap();
    assert_eq!(d.estimated_pairs(), 3);
    assert!((d.matrix.get(0, 2) - Haversine.distance(stops[0], stops[2])).abs() < 1e-9);
    assert_eq!(
        net.distances(&[Point::new(f64::INFINITY, 0.0)], &NetworkOptions::default()),
        Err(NetworkError::NotFinite { index: 0 })
    );
    assert_eq!(net.distances(&stops, &NetworkOptions { detour_factor: 0.5 }), Err(NetworkError::DetourFactor(0.5)));
}

fn demo_atlas() -> Atlas {
    let city = generate(&DemoOptions { scale: 0.1, ..Default::default() }, &mut |_, _| {}).unwrap();
    Atlas::build(AtlasInput::from_city(&city)).unwrap()
}

/// The buildings of the community with the most of them (at most `max`), and that community.
fn busy_community(atlas: &Atlas, max: usize) -> (usize, Vec<u32>) {
    let (c, entry) = atlas
        .communities()
        .iter()
        .enumerate()
        .max_by_key(|(_, c)| c.grids.iter().map(|&g| atlas.grid(g).unwrap().buildings.len()).sum::<usize>())
        .unwrap();
    let ids: Vec<u32> = entry.grids.iter().flat_map(|&g| atlas.grid(g).unwrap().buildings.clone()).take(max).collect();
    (c, ids)
}

#[test]
fn the_demo_city_distances_agree_with_the_oracle_and_the_crow() {
    let atlas = demo_atlas();
    let net = WalkingNetwork::from_atlas(&atlas);
    let (c, ids) = busy_community(&atlas, 30);
    assert!(ids.len() >= 10, "a community with buildings");
    let mut stops = vec![community_station(&atlas, c).unwrap()];
    stops.extend(ids.iter().map(|&b| atlas.building(b).unwrap().point));
    let d = net.distances(&stops, &NetworkOptions::default()).unwrap();
    assert_eq!(d.estimated_pairs(), 0, "the demo streets are connected");
    let want = oracle(&net, atlas.roads(), &stops);
    assert_matches_oracle(&d, &want, &stops);
    for i in 0..stops.len() {
        for j in i + 1..stops.len() {
            let (a, b) = (d.snaps[i].unwrap(), d.snaps[j].unwrap());
            // Walking is never shorter than the crow flies between the join points (0.5%:
            // demo road lengths come from a local projection, not the haversine).
            let crow = Haversine.distance(a.point, b.point);
            assert!(d.matrix.get(i, j) >= a.access_m + b.access_m + crow * 0.995, "{i}→{j}");
        }
    }
}

#[test]
fn a_day_visits_every_building_once_and_never_walks_more_than_nearest_neighbour() {
    let atlas = demo_atlas();
    let (c, ids) = busy_community(&atlas, 120);
    let station = community_station(&atlas, c).unwrap();
    let route = route_day(&atlas, station, &ids).unwrap();
    assert_eq!(route.stops.len(), ids.len());
    assert_eq!(route.stops.iter().collect::<HashSet<_>>(), ids.iter().collect::<HashSet<_>>());
    assert_eq!(route.legs_m.len(), ids.len() + 1);
    assert!((route.total_m - route.legs_m.iter().sum::<f64>()).abs() < 1e-6);
    assert!(route.total_m <= route.nearest_neighbour_total_m + 1e-9);
    assert!(route.total_m > 0.0);
    assert_eq!(route.estimated_legs, 0);

    // Split the same buildings into two days: each building in exactly one of them.
    let net = WalkingNetwork::from_atlas(&atlas);
    let (first, second) = ids.split_at(ids.len() / 2);
    let days: Vec<_> = [first, second]
        .iter()
        .map(|b| route_day_on(&net, &atlas, station, b, &RouteOptions::default()).unwrap())
        .collect();
    let mut all: Vec<u32> = days.iter().flat_map(|d| d.stops.clone()).collect();
    all.sort_unstable();
    let mut want = ids.clone();
    want.sort_unstable();
    assert_eq!(all, want);

    let empty = route_day_on(&net, &atlas, station, &[], &RouteOptions::default()).unwrap();
    assert!(empty.stops.is_empty() && empty.total_m == 0.0);
    assert_eq!(route_day(&atlas, station, &[ids[0], ids[0]]), Err(RouteError::DuplicateBuilding(ids[0])));
    assert_eq!(route_day(&atlas, station, &[u32::MAX]), Err(RouteError::UnknownBuilding(u32::MAX)));
    assert!(matches!(
        route_day(&atlas, Point::new(f64::NAN, 0.0), &ids[..2]),
        Err(RouteError::Network(NetworkError::NotFinite { index: 0 }))
    ));
}

/// Haversine metres along a path.
fn path_length(path: &[Point<f64>]) -> f64 {
    path.windows(2).map(|w| Haversine.distance(w[0], w[1])).sum()
}

#[test]
fn a_drawn_path_walks_the_streets_as_far_as_the_matrix_says() {
    let atlas = demo_atlas();
    let net = WalkingNetwork::from_atlas(&atlas);
    let (c, ids) = busy_community(&atlas, 12);
    let mut stops = vec![community_station(&atlas, c).unwrap()];
    stops.extend(ids.iter().map(|&b| atlas.building(b).unwrap().point));
    let d = net.distances(&stops, &NetworkOptions::default()).unwrap();
    for i in 0..stops.len() {
        for j in 0..stops.len() {
            if i == j {
                continue;
            }
            let path = net.path(stops[i], stops[j]);
            assert_eq!((path[0], *path.last().unwrap()), (stops[i], stops[j]));
            // The drawn walk is the matrix's walk: the same length within the 0.5% by which demo
            // road lengths (a local projection) differ from the haversine.
            let (drawn, walked) = (path_length(&path), d.matrix.get(i, j));
            assert!(
                (drawn - walked).abs() <= walked * 0.005 + 0.5,
                "{i}→{j}: drawn {drawn:.1} m, walked {walked:.1} m"
            );
        }
    }
    // Without roads the path is the straight line.
    let bare = WalkingNetwork::from_roads(&[], LAT0);
    let (a, b) = (Point::new(LON0, LAT0), Point::new(LON0 + 0.001, LAT0));
    assert_eq!(bare.path(a, b), vec![a, b]);
}
