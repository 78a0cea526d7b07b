//! The heat surface's bands: every raster sample lies in the band its kernel density (computed
//! apart, by `rentgrid_analysis::density`) falls in, and nothing a heat tile draws lies outside
//! the district.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{tile_at, to_geo, world};
use geo::{BoundingRect, Contains, Coord, Distance, Euclidean, LineString, MultiPolygon, Point, Polygon};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rentgrid_analysis::density::KernelDensity;
use rentgrid_tiles::heat::{BAND_THRESHOLDS, HeatBand, HeatCount, HeatSurface};
use rentgrid_tiles::tile::TileProjection;
use rentgrid_tiles::{Layer, TileId, TileOptions, TileSources, build_tile};
use std::collections::BTreeSet;

fn surface() -> HeatSurface {
    HeatSurface::build(&world().atlas, HeatCount::Persons, None).unwrap().unwrap()
}

/// The band a density falls in (`None` below the first threshold).
fn band_of(v: f64) -> Option<usize> {
    BAND_THRESHOLDS.iter().rposition(|&t| v >= t)
}

/// True when `v` is within `rel` of a threshold: such a sample may sit on a band's edge.
fn near_threshold(v: f64, rel: f64) -> bool {
    BAND_THRESHOLDS.iter().any(|&t| (v - t).abs() <= rel * t)
}

fn band_polygons(b: &HeatBand) -> Vec<(Polygon<f64>, geo::Rect<f64>)> {
    let ring = |r: &Vec<[f64; 2]>| {
        let mut c: Vec<Coord<f64>> = r.iter().map(|&[x, y]| Coord { x, y }).collect();
        c.push(c[0]);
        LineString(c)
    };
    b.shapes
        .iter()
        .map(|s| {
            let p = Polygon::new(ring(&s[0]), s[1..].iter().map(ring).collect());
            let r = p.bounding_rect().unwrap();
            (p, r)
        })
        .collect()
}

#[test]
fn every_sample_lies_in_the_band_of_its_kernel_density() {
    let w = world();
    let s = surface();
    let bb = w.atlas.bbox();
    let bbox = [bb.min().x, bb.min().y, bb.max().x, bb.max().y];
    // No clip: a box far larger than the raster.
    let everywhere = vec![vec![
        [bbox[0] - 1.0, bbox[1] - 1.0],
        [bbox[2] + 1.0, bbox[1] - 1.0],
        [bbox[2] + 1.0, bbox[3] + 1.0],
        [bbox[0] - 1.0, bbox[3] + 1.0],
    ]];
    let points: Vec<(f64, f64, f64)> = w
        .atlas
        .buildings()
        .iter()
        .filter_map(|b| {
            let st = w.atlas.building_stats(b.id)?;
            (st.persons > 0).then(|| (b.point.x(), b.point.y(), f64::from(st.persons)))
        })
        .collect();
    let kd = KernelDensity::from_lonlat(&points, None).unwrap();
    for z in [14u8, 12] {
        let bands = s.bands_in(z, bbox, 0.0, &everywhere);
        assert!(bands.len() >= 3, "zoom {z}: {} bands", bands.len());
        let polys: Vec<(usize, Vec<(Polygon<f64>, geo::Rect<f64>)>)> =
            bands.iter().map(|b| (b.index, band_polygons(b))).collect();
        let samples = s.samples_in(z, bbox);
        let (mut checked, mut in_bands) = (0, 0);
        for (i, &(lon, lat, v)) in samples.iter().enumerate() {
            if z == 14 && i % 97 == 0 {
                // The finest samples are the kernel density at their point.
                let expected = kd.at_lonlat(lon, lat);
                assert!((v - expected).abs() <= 1e-6 * expected.max(1.0), "({lon}, {lat}): {v} vs {expected}");
            }
            if near_threshold(v, 0.005) {
                continue;
            }
            let p = Point::new(lon, lat);
            let holding: Vec<usize> = polys
                .iter()
                .filter(|(_, ps)| ps.iter().any(|(poly, r)| r.contains(&p) && poly.contains(&p)))
                .map(|(i, _)| *i)
                .collect();
            let expected: Vec<usize> = band_of(v).into_iter().collect();
            assert_eq!(holding, expected, "zoom {z}: sample ({lon}, {lat}) of density {v}");
            checked += 1;
            in_bands += usize::from(!expected.is_empty());
        }
        assert!(in_bands > 100, "zoom {z}: only {in_bands} of {checked} samples in a band");
    }
}

/// The tiles at zoom `z` meeting the district.
fn district_tiles(z: u8) -> Vec<TileId> {
    let bb = world().atlas.bbox();
    let a = tile_at(bb.min().x, bb.max().y, z);
    let b = tile_at(bb.max().x, bb.min().y, z);
    (a.x..=b.x).flat_map(|x| (a.y..=b.y).map(move |y| TileId::new(z, x, y).unwrap())).collect()
}

#[test]
fn heat_tiles_draw_nothing_outside_the_district_and_carry_their_bands() {
    let w = world();
    let s = surface();
    let src = TileSources { heat: Some(&s), ..w.sources() };
    let outline = &w.atlas.district().outline;
    let mut tiles: Vec<TileId> = [9u8, 11, 12].into_iter().flat_map(district_tiles).collect();
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    for z in [14u8, 16] {
        for _ in 0..25 {
            let b = w.atlas.building(rng.random_range(0..w.atlas.buildings().len() as u32)).unwrap();
            tiles.push(tile_at(b.point.x(), b.point.y(), z));
        }
    }
    let (mut vertices, mut at_edge, mut bands_seen) = (0usize, 0usize, BTreeSet::new());
    for t in tiles {
        let Some(bytes) = build_tile(&src, Layer::Heat, t, &TileOptions::default()).unwrap() else { continue };
        let layers = common::decode(&bytes);
        let Some(heat) = layers.iter().find(|l| l.name == "heat") else { continue };
        // The district's outline in the tile's units.
        let proj = TileProjection::new(t, 4096);
        let district = MultiPolygon(
            outline
                .0
                .iter()
                .map(|p| {
                    let ring = |r: &LineString<f64>| {
                        LineString(
                            r.0.iter()
                                .map(|c| {
                                    let (x, y) = proj.project(c.x, c.y);
                                    Coord { x, y }
                                })
                                .collect(),
                        )
                    };
                    Polygon::new(ring(p.exterior()), p.interiors().iter().map(ring).collect())
                })
                .collect(),
        );
        for f in &heat.features {
            let lo = f.props["lo"].as_f64().unwrap();
            let index = BAND_THRESHOLDS.iter().position(|&t| t == lo).expect("lo is a threshold");
            assert_eq!(f.id, Some(index as u64 + 1));
            match BAND_THRESHOLDS.get(index + 1) {
                Some(&hi) => assert_eq!(f.props["hi"].as_f64(), Some(hi)),
                None => assert!(!f.props.contains_key("hi")),
            }
            bands_seen.insert(index);
            for poly in to_geo(f).0 {
                for c in poly.exterior().0.iter().chain(poly.interiors().iter().flat_map(|r| r.0.iter())) {
                    let p = Point::new(c.x, c.y);
                    vertices += 1;
                    if district.contains(&p) {
                        continue;
                    }
                    // On the outline, up to the tile grid's rounding and simplification.
                    let d = Euclidean.distance(&p, &district);
                    assert!(d <= 2.0, "tile {t:?}: a vertex {d} units outside the district");
                    at_edge += 1;
                }
            }
        }
    }
    assert!(vertices > 1000 && at_edge > 10, "{vertices} vertices, {at_edge} on the outline");
    assert!(bands_seen.len() >= 3, "bands drawn: {bands_seen:?}");
}
