//! Tiles of the demo city, decoded and checked: snapshots as WKT, geometry within the buffer,
//! valid polygons wound as MVT 2.1 wants, completeness at the highest zoom against the Atlas's
//! own box queries, clusters that keep counts, size limits at every zoom, exact invalidation.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{DecodedLayer, dump, polygons, ring_area2, tile_at, to_geo, world};
use geo::{BoundingRect, Contains, Point, Validation};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rentgrid_tiles::{Layer, TileId, TileOptions, TileSources, build_tile, tiles_to_invalidate};
use std::collections::BTreeSet;

/// The old city centre (月湖), the densest part of the demo city.
const CORE: (f64, f64) = (121.541, 29.870);

/// The building nearest the centre: snapshots are taken around it.
fn core_building() -> (f64, f64) {
    let a = &world().atlas;
    let id = a.nearest_buildings(CORE.0, CORE.1, 1)[0];
    let b = a.building(id).unwrap();
    (b.point.x(), b.point.y())
}

fn layer<'a>(layers: &'a [DecodedLayer], name: &str) -> Option<&'a DecodedLayer> {
    layers.iter().find(|l| l.name == name)
}

/// Tiles to check: around the core and at random buildings, for every zoom of every layer.
fn sample_tiles(per_zoom: usize) -> Vec<(Layer, TileId)> {
    let a = &world().atlas;
    let mut rng = ChaCha8Rng::seed_from_u64(42);
    let mut out = Vec::new();
    for l in Layer::ALL {
        for z in l.minzoom()..=l.maxzoom() {
            out.push((l, tile_at(core_building().0, core_building().1, z)));
            for _ in 0..per_zoom {
                let b = a.building(rng.random_range(0..a.buildings().len() as u32)).unwrap();
                out.push((l, tile_at(b.point.x(), b.point.y(), z)));
            }
        }
    }
    out
}

#[test]
fn small_tiles_snapshot_as_wkt() {
    let (lon, lat) = core_building();
    let w = world();
    for (l, z) in [(Layer::Grids, 16), (Layer::Buildings, 16), (Layer::RentalUnits, 15), (Layer::Workplaces, 16)] {
        let t = tile_at(lon, lat, z);
        insta::assert_snapshot!(format!("{}_z{z}", l.as_str()), dump(&w.tile(l, t)));
    }
    let t = tile_at(lon, lat, 14);
    insta::assert_snapshot!("rental_units_z14_clusters", dump(&w.tile(Layer::RentalUnits, t)));
}

#[test]
fn geometry_stays_within_the_buffer_and_polygons_are_valid() {
    let w = world();
    let (mut polygons_seen, mut features) = (0usize, 0usize);
    for (l, t) in sample_tiles(2) {
        for dl in w.tile(l, t) {
            assert_eq!(dl.version, 2);
            assert_eq!(dl.extent, 4096);
            let mut ids = BTreeSet::new();
            for f in &dl.features {
                features += 1;
                assert!(f.id.is_some_and(|id| ids.insert(id)), "{l} {t} {}: feature ids set and unique", dl.name);
                for p in f.paths.iter().flatten() {
                    assert!((-64..=4160).contains(&p[0]) && (-64..=4160).contains(&p[1]), "{l} {t}: {p:?}");
                }
                match f.kind {
                    1 => assert!(f.paths.iter().all(|p| p.len() == 1)),
                    2 => assert!(f.paths.iter().all(|p| p.len() >= 2 && p.windows(2).all(|w| w[0] != w[1]))),
                    3 => {
                        polygons_seen += 1;
                        for (i, poly) in polygons(f).iter().enumerate() {
                            assert!(ring_area2(&poly[0]) >= 2 * 64, "{l} {t} #{i}: exterior positive, ≥ 1 px");
                            for hole in &poly[1..] {
                                assert!(ring_area2(hole) < 0, "{l} {t}: holes negative");
                            }
                            for r in poly {
                                assert!(r.len() >= 3);
                                let mut closed = r.clone();
                                closed.push(r[0]);
                                assert!(closed.windows(2).all(|w| w[0] != w[1]), "{l} {t}: repeated point");
                            }
                        }
                        let mp = to_geo(f);
                        assert!(mp.is_valid(), "{l} {t} id {:?}: {:?}", f.id, mp.validation_errors());
                    }
                    k => panic!("geometry type {k}"),
                }
            }
        }
    }
    assert!(polygons_seen > 500 && features > 2000, "{polygons_seen} polygons, {features} features");
}

/// Whether a WGS84 box lies inside the tile.
fn inside(t: TileId, r: geo::Rect<f64>) -> bool {
    let b = t.bounds();
    b.min().x < r.min().x && r.max().x < b.max().x && b.min().y < r.min().y && r.max().y < b.max().y
}

#[test]
fn every_feature_in_the_tile_is_drawn_at_the_highest_zoom() {
    let w = world();
    let (lon, lat) = core_building();
    for t in [tile_at(lon, lat, 16), tile_at(CORE.0 + 0.01, CORE.1 - 0.004, 16), tile_at(121.45, 29.81, 16)] {
        let ids = |l: Layer, name: &str| -> BTreeSet<u64> {
            w.tile(l, t)
                .iter()
                .filter(|d| d.name == name)
                .flat_map(|d| d.features.iter().filter_map(|f| f.id))
                .collect()
        };
        // Buildings: every footprint inside the tile (by the Atlas's box query).
        let drawn = ids(Layer::Buildings, "buildings");
        let expected: Vec<u32> = w
            .atlas
            .buildings_in(t.bounds())
            .into_iter()
            .filter(|&b| inside(t, w.atlas.building(b).unwrap().footprint.bounding_rect().unwrap()))
            .collect();
        for b in &expected {
            assert!(drawn.contains(&u64::from(*b)), "{t}: building {b} missing");
        }
        // Rental units: every building in the tile that has any.
        let drawn_units = ids(Layer::RentalUnits, "rental_units");
        for b in w.atlas.buildings_in(t.bounds()) {
            let bl = w.atlas.building(b).unwrap();
            if t.bounds().contains(&bl.point) && w.atlas.building_stats(b).unwrap().rental_units > 0 {
                assert!(drawn_units.contains(&u64::from(b)), "{t}: units of building {b} missing");
            }
        }
        // Workplaces: all of them, lone.
        let drawn_w = ids(Layer::Workplaces, "workplaces");
        let expected_w: BTreeSet<u64> = w.atlas.workplaces_in(t.bounds()).into_iter().map(u64::from).collect();
        assert!(expected_w.is_subset(&drawn_w), "{t}: workplaces {expected_w:?} ⊄ {drawn_w:?}");
        // Grids: every grid holding one of a lattice of points across the tile.
        let drawn_g = ids(Layer::Grids, "grids");
        let b = t.bounds();
        for i in 0..8 {
            for j in 0..8 {
                let (x, y) = (
                    b.min().x + b.width() * (f64::from(i) + 0.5) / 8.0,
                    b.min().y + b.height() * (f64::from(j) + 0.5) / 8.0,
                );
                if let Some(g) = w.atlas.grid_at(x, y) {
                    assert!(drawn_g.contains(&u64::from(g)), "{t}: grid {g} at ({x}, {y}) missing");
                }
            }
        }
        assert!(!expected.is_empty() || t.z == 16 && !drawn_g.is_empty(), "{t}: a tile with something in it");
    }
}

#[test]
fn clusters_keep_the_counts_of_the_points_in_the_tile() {
    let w = world();
    let (lon, lat) = core_building();
    let a = &w.atlas;
    for z in [10u8, 11, 12, 13, 14] {
        let t = tile_at(lon, lat, z);
        let b = t.bounds();
        let in_tile = |f: &common::DecodedFeature| f.paths[0][0].iter().all(|&c| (0..4096).contains(&c));
        let count = |f: &common::DecodedFeature| f.props.get("point_count").map_or(1, |v| v.as_u64().unwrap());
        let sum = |layers: &[DecodedLayer], name: &str, key: &str| -> (u64, u64, usize) {
            let l = layer(layers, name).unwrap();
            let feats: Vec<_> = l.features.iter().filter(|f| in_tile(f)).collect();
            let clusters = feats.iter().filter(|f| f.props.contains_key("point_count")).count();
            (feats.iter().map(|f| count(f)).sum(), feats.iter().map(|f| f.props[key].as_u64().unwrap()).sum(), clusters)
        };

        let wp: Vec<u32> = a.workplaces_in(b);
        let migrants: u64 = wp.iter().map(|&i| u64::from(a.workplaces()[i as usize].migrant_workers)).sum();
        let (n, m, clusters) = sum(&w.tile(Layer::Workplaces, t), "workplaces", "migrant_workers");
        assert_eq!((n, m), (wp.len() as u64, migrants), "z{z} workplaces");
        assert!(z >= 14 || clusters > 0, "z{z}: workplaces clustered");

        let buildings: Vec<u32> =
            a.buildings_in(b).into_iter().filter(|&i| b.contains(&a.building(i).unwrap().point)).collect();
        let persons: u64 = buildings.iter().map(|&i| u64::from(a.building_stats(i).unwrap().persons)).sum();
        if z < 14 {
            let (n, p, _) = sum(&w.tile(Layer::Buildings, t), "buildings", "persons");
            assert_eq!((n, p), (buildings.len() as u64, persons), "z{z} buildings");
        }
        let with_units: Vec<u32> =
            buildings.iter().copied().filter(|&i| a.building_stats(i).unwrap().rental_units > 0).collect();
        let units: u64 = with_units.iter().map(|&i| u64::from(a.building_stats(i).unwrap().rental_units)).sum();
        let (n, u, _) = sum(&w.tile(Layer::RentalUnits, t), "rental_units", "units");
        assert_eq!((n, u), (with_units.len() as u64, units), "z{z} rental units");
    }
}

#[test]
fn no_tile_is_over_the_limits_at_any_zoom() {
    let w = world();
    let opts = TileOptions::default();
    let mut largest = (0usize, String::new());
    for (l, t) in sample_tiles(3) {
        let Some(bytes) = build_tile(&w.sources(), l, t, &opts).unwrap() else { continue };
        let features: usize = common::decode(&bytes).iter().map(|d| d.features.len()).sum();
        assert!(
            bytes.len() <= opts.max_bytes && features <= opts.max_features,
            "{l} {t}: {} B, {features}",
            bytes.len()
        );
        if bytes.len() > largest.0 {
            largest = (bytes.len(), format!("{l} {t}"));
        }
    }
    eprintln!("largest tile: {} bytes ({})", largest.0, largest.1);
    // Tight limits force coarsening, then cutting: still within them.
    let tight = TileOptions { max_features: 40, max_bytes: 4_000, ..opts };
    let (lon, lat) = core_building();
    for (l, z) in [(Layer::Buildings, 12), (Layer::Buildings, 16), (Layer::Grids, 10), (Layer::Basemap, 14)] {
        let bytes = build_tile(&w.sources(), l, tile_at(lon, lat, z), &tight).unwrap().unwrap();
        let features: usize = common::decode(&bytes).iter().map(|d| d.features.len()).sum();
        assert!(features <= 40 && bytes.len() <= 4_000, "{l} z{z}: {} B, {features} features", bytes.len());
    }
}

#[test]
fn outside_the_zooms_or_the_district_a_tile_is_empty() {
    let w = world();
    let opts = TileOptions::default();
    assert!(build_tile(&w.sources(), Layer::Buildings, TileId::new(3, 6, 3).unwrap(), &opts).unwrap().is_none());
    assert!(build_tile(&w.sources(), Layer::Grids, tile_at(0.0, 0.0, 14), &opts).unwrap().is_none());
    assert!(build_tile(&w.sources(), Layer::Basemap, tile_at(CORE.0, CORE.1, 17), &opts).unwrap().is_none());
    assert!(build_tile(&w.sources(), Layer::Basemap, tile_at(CORE.0, CORE.1, 4), &opts).unwrap().is_some());
}

#[test]
fn a_scope_sees_only_its_grids() {
    let w = world();
    let (lon, lat) = core_building();
    let mine = w.atlas.grid_at(lon, lat).unwrap();
    let only = move |g: u32| g == mine;
    let src = TileSources { visible: Some(&only), ..w.sources() };
    for (l, z, name, key) in [
        (Layer::Grids, 14, "grids", "id"),
        (Layer::Buildings, 16, "buildings", "grid_id"),
        (Layer::RentalUnits, 16, "rental_units", "grid_id"),
    ] {
        let bytes = build_tile(&src, l, tile_at(lon, lat, z), &TileOptions::default()).unwrap().unwrap();
        let d = common::decode(&bytes);
        let feats = &layer(&d, name).unwrap().features;
        assert!(!feats.is_empty());
        assert!(feats.iter().all(|f| f.props[key].as_u64() == Some(u64::from(mine))), "{l}");
    }
}

#[test]
fn invalidation_covers_every_tile_that_draws_a_changed_building() {
    let w = world();
    let opts = TileOptions::default();
    let a = &w.atlas;
    let id = a.nearest_buildings(CORE.0, CORE.1, 1)[0];
    let b = a.building(id).unwrap();
    let bbox = b.footprint.bounding_rect().unwrap();
    for l in [Layer::Buildings, Layer::RentalUnits] {
        let ranges = tiles_to_invalidate(l, bbox, &opts);
        assert_eq!(ranges.len(), usize::from(l.maxzoom() - l.minzoom() + 1));
        for r in &ranges {
            assert!(r.len() <= 9, "{l} z{}: {} tiles", r.z, r.len());
            // Every tile around that draws the building (alone or in a cluster) is in the range.
            let centre = tile_at(b.point.x(), b.point.y(), r.z);
            for dx in -1i64..=1 {
                for dy in -1i64..=1 {
                    let (x, y) = (i64::from(centre.x) + dx, i64::from(centre.y) + dy);
                    let t = TileId::new(r.z, x as u32, y as u32).unwrap();
                    let draws = w.tile(l, t).iter().flat_map(|d| &d.features).any(|f| {
                        f.id == Some(u64::from(id)) || f.id.is_some_and(|i| i >= 1 << 40) && covers(t, f, b.point)
                    });
                    if draws {
                        assert!(r.contains(t), "{l}: {t} draws building {id} but is not invalidated");
                    }
                }
            }
        }
    }
    // A grid's KPI change: its whole box.
    let g = a.grid(b.grid_id).unwrap();
    let r = tiles_to_invalidate(Layer::Grids, g.grid.geometry.bounding_rect().unwrap(), &opts);
    for range in &r {
        assert!(range.contains(tile_at(b.point.x(), b.point.y(), range.z)));
    }
}

/// Whether a cluster feature's cell (128 units around it) could hold the point.
fn covers(t: TileId, f: &common::DecodedFeature, p: Point<f64>) -> bool {
    let proj = rentgrid_tiles::tile::TileProjection::new(t, 4096);
    let (x, y) = proj.project(p.x(), p.y());
    let c = f.paths[0][0];
    (x / 128.0).floor() == (f64::from(c[0]) / 128.0).floor() && (y / 128.0).floor() == (f64::from(c[1]) / 128.0).floor()
}

#[test]
fn tilejson_descriptions_are_complete() {
    let w = world();
    let b = rentgrid_tiles::bounds(&w.atlas);
    assert!(b[0] < b[2] && b[1] < b[3] && (121.0..122.0).contains(&b[0]));
    let (lon, lat) = core_building();
    for l in Layer::ALL {
        assert!(l.minzoom() <= l.maxzoom());
        let z = l.maxzoom().min(16);
        let declared: BTreeSet<&str> = l.vector_layers().iter().map(|v| v.id).collect();
        for d in w.tile(l, tile_at(lon, lat, z)) {
            assert!(declared.contains(d.name.as_str()), "{l}: layer {} undeclared", d.name);
            let v = l.vector_layers().iter().find(|v| v.id == d.name).unwrap();
            for f in &d.features {
                for k in f.props.keys() {
                    assert!(v.fields.iter().any(|fd| fd.name == k), "{l}/{}: field {k} undeclared", d.name);
                }
            }
        }
    }
}

#[test]
fn a_leaders_grid_tiles_carry_no_figure_from_fewer_than_five_persons() {
    use rentgrid_analysis::disclosure;
    let w = world();
    let src = TileSources { suppress_small_counts: true, ..w.sources() };
    let range = rentgrid_tiles::tile::tiles_touching_at(w.atlas.bbox(), 12, 0.0);
    let (mut seen, mut hidden) = (BTreeSet::new(), 0);
    for tile in range.tiles() {
        let Some(bytes) = build_tile(&src, Layer::Grids, tile, &TileOptions::default()).unwrap() else { continue };
        for f in &layer(&common::decode(&bytes), "grids").unwrap().features {
            let id = f.props["id"].as_u64().unwrap() as usize;
            let stats = &w.counts[id].stats;
            for field in ["persons", "reg_rate", "permit_rate", "consistency_rate", "reg_status"] {
                if disclosure::hides(field, stats) {
                    assert!(!f.props.contains_key(field), "grid {id}: {field} shown from {stats:?}");
                    hidden += 1;
                } else {
                    assert!(f.props.contains_key(field), "grid {id}: {field} missing from {stats:?}");
                }
            }
            assert!(f.props.contains_key("rental_units"), "grid {id}: counts of units stay");
            seen.insert(id);
        }
    }
    assert_eq!(seen.len(), w.atlas.grids().len(), "every grid is drawn");
    assert!(hidden > 0, "the demo has grids with small counts to hide");
}
