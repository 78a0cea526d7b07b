//! Label points: each street's, community's and grid's name is written once, inside its area,
//! at a point as far from the outline as shapely's (GEOS) pole of inaccessibility finds (the
//! outside reference, through `RENTGRID_PYTHON`), and the tiles carry each label in the one tile
//! holding it, from its kind's zoom on, within the caller's scope.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Val, decode, tile_at, world};
use geo::{Area, BoundingRect, Contains, Coord, MapCoords, MultiPolygon, Point, Polygon};
use rentgrid_tiles::{Layer, TileId, TileOptions, TileSources, build_tile};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

/// Metres per degree of latitude, as the label points are found with.
const M_PER_DEG: f64 = 6_378_137.0 * std::f64::consts::PI / 180.0;

/// Every labelled place: (what, its area, its label point).
fn places() -> Vec<(String, MultiPolygon<f64>, Point<f64>)> {
    let w = world();
    let mut out: Vec<(String, MultiPolygon<f64>, Point<f64>)> = Vec::new();
    for a in w.map.areas() {
        out.push((format!("{} {}", a.kind.as_str(), a.name), a.geometry.clone(), a.label.expect("an area's label")));
    }
    let labels: BTreeMap<u32, Point<f64>> = w.map.grid_labels_in(w.atlas.bbox()).into_iter().collect();
    for g in w.atlas.grids() {
        let p = *labels.get(&g.grid.id).unwrap_or_else(|| panic!("grid {} has no label point", g.grid.id));
        out.push((format!("grid {}", g.grid.name), g.grid.geometry.clone(), p));
    }
    out
}

#[test]
fn every_place_is_labelled_once_inside_its_area() {
    let w = world();
    let places = places();
    assert_eq!(places.len(), w.atlas.streets().len() + w.atlas.communities().len() + w.atlas.grids().len());
    for (what, area, p) in &places {
        assert!(area.contains(p), "{what}: label {p:?} outside its area");
    }
}

#[test]
fn label_points_are_as_central_as_shapelys_polylabel() {
    let Some(python) = common::oracle_python("shapely polylabel") else { return };
    let places = places();
    let mut cases = Vec::new();
    let mut tolerances = Vec::new();
    for (_, area, p) in &places {
        // The largest part, on the plane the label was found on: equirectangular about its box's
        // middle. Ours is within 1% of its shorter side (at least 0.5 m) of the best point;
        // shapely is asked for 0.1 m.
        let part = area.0.iter().max_by(|a, b| a.unsigned_area().total_cmp(&b.unsigned_area())).unwrap();
        let bbox = part.bounding_rect().unwrap();
        let o = bbox.center();
        let kx = M_PER_DEG * o.y.to_radians().cos();
        let to_m = |c: Coord<f64>| Coord { x: (c.x - o.x) * kx, y: (c.y - o.y) * M_PER_DEG };
        let plane: Polygon<f64> = part.map_coords(to_m);
        let ring = |l: &geo::LineString<f64>| l.coords().map(|c| [c.x, c.y]).collect::<Vec<_>>();
        let rings: Vec<_> = std::iter::once(plane.exterior()).chain(plane.interiors()).map(ring).collect();
        let q = to_m(p.0);
        cases.push(json!({ "rings": rings, "point": [q.x, q.y], "tolerance": 0.1 }));
        tolerances.push(((bbox.width() * kx).min(bbox.height() * M_PER_DEG) * 0.01).max(0.5));
    }
    let file = std::env::temp_dir().join(format!("rentgrid-polylabel-{}.json", std::process::id()));
    std::fs::write(&file, serde_json::to_vec(&cases).unwrap()).unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/oracle/polylabel.py");
    let out = std::process::Command::new(python).arg(script).arg(&file).output().unwrap();
    std::fs::remove_file(&file).ok();
    assert!(out.status.success(), "python: {}", String::from_utf8_lossy(&out.stderr));
    let theirs: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(theirs.len(), places.len());
    for (((what, _, _), t), tol) in places.iter().zip(&theirs).zip(&tolerances) {
        assert_eq!(t["valid"], true, "{what}: shapely finds the part invalid");
        assert_eq!(t["inside"], true, "{what}: shapely finds the label outside");
        let (ours, best) = (t["ours"].as_f64().unwrap(), t["theirs"].as_f64().unwrap());
        assert!(
            ours >= best - tol - 1e-6,
            "{what}: {ours:.1} m from the outline, shapely's point {best:.1} m (±{tol:.1})"
        );
    }
}

/// The tiles of `z` covering the district.
fn tiles_over_district(z: u8) -> Vec<TileId> {
    let b = world().atlas.bbox();
    let (a, c) = (tile_at(b.min().x, b.max().y, z), tile_at(b.max().x, b.min().y, z));
    (a.x..=c.x).flat_map(|x| (a.y..=c.y).map(move |y| TileId::new(z, x, y).unwrap())).collect()
}

/// The labels of MVT layer `name` of tile set `layer` over the whole district at zoom `z`, with
/// what `src` may see: each label's `kind` (or the layer name) and `name` by feature id.
fn labels_at(src: &TileSources, layer: Layer, name: &str, z: u8) -> BTreeMap<u64, (String, String)> {
    let mut seen = BTreeMap::new();
    for t in tiles_over_district(z) {
        let Some(bytes) = build_tile(src, layer, t, &TileOptions::default()).unwrap() else { continue };
        for l in decode(&bytes).into_iter().filter(|l| l.name == name) {
            for f in &l.features {
                assert_eq!(f.kind, 1, "{name} {t}: labels are points");
                let p = f.paths[0][0];
                assert!(
                    (0..4096).contains(&p[0]) && (0..4096).contains(&p[1]),
                    "{name} {t}: label {p:?} outside its tile"
                );
                let text = |v: &Val| match v {
                    Val::S(s) => s.clone(),
                    other => panic!("{name}: {other:?} is not a string"),
                };
                let kind = f.props.get("kind").map_or(name.to_owned(), text);
                let label = text(&f.props["name"]);
                assert!(
                    seen.insert(f.id.unwrap(), (kind, label)).is_none(),
                    "{name}: {:?} written twice at z{z}",
                    f.id
                );
            }
        }
    }
    seen
}

#[test]
fn tiles_write_streets_then_communities_then_grids_each_once() {
    let w = world();
    let src = w.sources();
    let code = |c: &str| c.parse::<u64>().unwrap();
    let streets: BTreeSet<u64> = w.atlas.streets().iter().map(|s| code(&s.street.code)).collect();
    let communities: BTreeSet<u64> = w.atlas.communities().iter().map(|c| code(&c.community.code)).collect();
    let of = |labels: &BTreeMap<u64, (String, String)>, kind: &str| -> BTreeSet<u64> {
        labels.iter().filter(|(_, (k, _))| k == kind).map(|(id, _)| *id).collect()
    };
    // Below zoom 9 no names; from 9 the streets only; from 12 communities too.
    assert!(labels_at(&src, Layer::Boundaries, "boundary_labels", 8).is_empty());
    let z9 = labels_at(&src, Layer::Boundaries, "boundary_labels", 9);
    assert_eq!(of(&z9, "street"), streets);
    assert!(of(&z9, "community").is_empty());
    let z12 = labels_at(&src, Layer::Boundaries, "boundary_labels", 12);
    assert_eq!((of(&z12, "street"), of(&z12, "community")), (streets, communities));
    for s in w.atlas.streets() {
        assert_eq!(z12[&code(&s.street.code)].1, s.street.name);
    }
    // Grid names from zoom 14, each grid once, within the caller's scope.
    assert!(labels_at(&src, Layer::Grids, "grid_labels", 13).is_empty());
    let grids: BTreeSet<u64> = w.atlas.grids().iter().map(|g| u64::from(g.grid.id)).collect();
    let z14 = labels_at(&src, Layer::Grids, "grid_labels", 14);
    assert_eq!(z14.keys().copied().collect::<BTreeSet<_>>(), grids);
    let mine = |g: u32| g.is_multiple_of(7);
    let scoped = TileSources { visible: Some(&mine), ..w.sources() };
    let theirs = labels_at(&scoped, Layer::Grids, "grid_labels", 14);
    assert_eq!(
        theirs.keys().copied().collect::<BTreeSet<_>>(),
        grids.into_iter().filter(|g| g.is_multiple_of(7)).collect()
    );
}
