//! Where a place's name is written: the pole of inaccessibility (the interior point farthest from
//! the outline, Mapbox's polylabel) of its largest part, found on a local metric plane so that
//! "farthest" means metres on the ground and on the map, not degrees.

use geo::{Area, BoundingRect, Coord, MapCoords, MultiPolygon, Point, Polygon};

/// The label is placed to within this share of the part's shorter side (at least
/// [`MIN_TOLERANCE_M`]): a label needs no finer place, and polylabel's work grows as it shrinks.
const TOLERANCE_SHARE: f64 = 0.01;
/// The finest tolerance, in metres.
const MIN_TOLERANCE_M: f64 = 0.5;
/// Metres per degree of latitude (spherical Earth of the WGS84 semi-major axis).
const M_PER_DEG: f64 = 6_378_137.0 * std::f64::consts::PI / 180.0;

/// The label point of `area` (WGS84 longitude/latitude): the pole of inaccessibility of its
/// largest polygon, holes counted. `None` for an empty area.
pub fn label_point(area: &MultiPolygon<f64>) -> Option<Point<f64>> {
    let largest = area.0.iter().max_by(|a, b| a.unsigned_area().total_cmp(&b.unsigned_area()))?;
    let bbox = largest.bounding_rect()?;
    // An equirectangular plane about the part's middle: a metre east is a metre north, as on the
    // Web Mercator map (locally), so the point is central where the reader sees it.
    let origin = bbox.center();
    let kx = M_PER_DEG * origin.y.to_radians().cos();
    let to_m = |c: Coord<f64>| Coord { x: (c.x - origin.x) * kx, y: (c.y - origin.y) * M_PER_DEG };
    let plane: Polygon<f64> = largest.map_coords(to_m);
    let side = (bbox.width() * kx).min(bbox.height() * M_PER_DEG);
    let tolerance = (side * TOLERANCE_SHARE).max(MIN_TOLERANCE_M);
    let p = polylabel::polylabel(&plane, &tolerance).ok()?;
    Some(Point::new(origin.x + p.x() / kx, origin.y + p.y() / M_PER_DEG))
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{Contains, Distance, Euclidean, polygon};

    #[test]
    fn an_l_shape_is_labelled_inside_its_thick_corner() {
        // An L whose centroid lies outside it.
        let l = polygon![(x: 121.5, y: 29.8), (x: 121.504, y: 29.8), (x: 121.504, y: 29.801), (x: 121.501, y: 29.801),
            (x: 121.501, y: 29.804), (x: 121.5, y: 29.804)];
        let p = label_point(&MultiPolygon(vec![l.clone()])).unwrap();
        assert!(l.contains(&p), "{p:?}");
        // The arms are about 97 m (east–west) and 111 m thick: the widest circle inside sits in the
        // corner, touching both outer sides and the inner corner, about 61 m in radius.
        let plane =
            l.exterior().map_coords(|c| Coord { x: c.x * M_PER_DEG * 29.8f64.to_radians().cos(), y: c.y * M_PER_DEG });
        let q = Point::new(p.x() * M_PER_DEG * 29.8f64.to_radians().cos(), p.y() * M_PER_DEG);
        let d = Euclidean.distance(&q, &plane);
        assert!((58.0..=62.0).contains(&d), "{d} m from the outline");
    }

    #[test]
    fn the_largest_part_carries_the_label_and_holes_are_avoided() {
        let small = polygon![(x: 0.0, y: 0.0), (x: 0.001, y: 0.0), (x: 0.001, y: 0.001), (x: 0.0, y: 0.001)];
        let ring = polygon!(
            exterior: [(x: 1.0, y: 0.0), (x: 1.01, y: 0.0), (x: 1.01, y: 0.01), (x: 1.0, y: 0.01)],
            interiors: [[(x: 1.004, y: 0.004), (x: 1.006, y: 0.004), (x: 1.006, y: 0.006), (x: 1.004, y: 0.006)]],
        );
        let p = label_point(&MultiPolygon(vec![small, ring.clone()])).unwrap();
        assert!(ring.contains(&p), "{p:?} is not in the large part, outside its hole");
        assert_eq!(label_point(&MultiPolygon::<f64>(vec![])), None);
    }
}
