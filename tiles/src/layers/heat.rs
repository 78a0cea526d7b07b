//! `heat`: the kernel density surface as bands between fixed densities (see [`crate::heat`]),
//! traced through the raster's samples with linear interpolation and cut to the district's
//! outline, so the surface has smooth edges and nothing is drawn outside the district.

use super::Ctx;
use crate::heat::HeatBand;
use crate::layer::{FieldType::*, VectorLayer, field};
use crate::mvt::{LayerEncoder, TileGeometry, Value};
use geo::{Coord, LineString, Polygon};

/// The MVT layer of the `heat` tile set.
pub const VECTOR_LAYERS: &[VectorLayer] = &[VectorLayer {
    id: "heat",
    description: "核密度 kernel density (quartic kernel, metres) of what is counted, as bands between fixed densities \
                  within the district; feature id = the band's number from 1",
    fields: &[
        field("lo", Number, "The band's lowest density, per km²"),
        field("hi", Number, "The density the band stays below, per km² (absent for the top band)"),
    ],
    minzoom: 8,
    maxzoom: 16,
}];

/// A band's parts as polygons.
fn polygons(band: &HeatBand) -> Vec<Polygon<f64>> {
    let ring = |r: &Vec<[f64; 2]>| {
        let mut pts: Vec<Coord<f64>> = r.iter().map(|&[x, y]| Coord { x, y }).collect();
        if let Some(&first) = pts.first() {
            pts.push(first);
        }
        LineString(pts)
    };
    band.shapes
        .iter()
        .filter_map(|shape| {
            let (outer, holes) = shape.split_first()?;
            Some(Polygon::new(ring(outer), holes.iter().map(ring).collect()))
        })
        .collect()
}

/// Draws the bands meeting the tile (none when the sources carry no surface).
pub fn build(ctx: &Ctx) -> Vec<LayerEncoder> {
    let mut layer = ctx.layer("heat");
    let Some(surface) = ctx.src.heat else { return vec![layer] };
    let g = ctx.generalise();
    let b = ctx.buffered_bounds();
    // A leader is not shown a sample standing for fewer than K persons.
    let smallest = if ctx.src.suppress_small_counts && surface.counts_persons() {
        f64::from(rentgrid_analysis::disclosure::K)
    } else {
        0.0
    };
    let district: Vec<Vec<[f64; 2]>> = ctx
        .src
        .atlas
        .district()
        .outline
        .0
        .iter()
        .flat_map(|p| std::iter::once(p.exterior()).chain(p.interiors()))
        .map(|r| r.0.iter().map(|c| [c.x, c.y]).collect())
        .collect();
    for band in surface.bands_in(ctx.tile.z, [b.min().x, b.min().y, b.max().x, b.max().y], smallest, &district) {
        let polygons = g.polygons(&polygons(&band));
        if polygons.is_empty() {
            continue;
        }
        let mut props: Vec<(&str, Value)> = vec![("lo", Value::Double(band.lo))];
        if let Some(hi) = band.hi {
            props.push(("hi", Value::Double(hi)));
        }
        layer.add(band.index as u64 + 1, &TileGeometry::Polygons(polygons), &props);
    }
    vec![layer]
}
