//! Geometry the map layers derive once from an Atlas's (immutable) geometry: street and community
//! areas, the boundary lines between them, where each street, community and grid is labelled
//! ([`crate::label_point`]), and R-tree indexes of grids, grid labels, roads and blocks, which
//! the Atlas does not keep. Counts are not in here, so one `MapGeometry` serves every snapshot
//! that shares the Atlas's geometry (all those made by `Atlas::with_deltas`).

use crate::label_point::label_point;
use geo::{BoundingRect, Coord, LineString, MultiPolygon, Point, Rect};
use rentgrid_geodata::{Atlas, GridId};
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{AABB, RTree};

/// Whether an area is a street (街道/镇) or a community (社区/村).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AreaKind {
    /// 街道/镇.
    Street,
    /// 社区/村.
    Community,
}

impl AreaKind {
    /// `"street"` or `"community"`.
    pub fn as_str(self) -> &'static str {
        match self {
            AreaKind::Street => "street",
            AreaKind::Community => "community",
        }
    }
}

/// A street's or community's area: the union of its grids.
#[derive(Debug, Clone)]
pub struct Area {
    /// Street or community.
    pub kind: AreaKind,
    /// 12-digit code.
    pub code: String,
    /// Name.
    pub name: String,
    /// The street's code (its own for a street).
    pub street_code: String,
    /// The union of its grids.
    pub geometry: MultiPolygon<f64>,
    /// Its bounding box.
    pub bbox: Rect<f64>,
    /// Where its name is written (`None` for an area without grids).
    pub label: Option<Point<f64>>,
}

/// What a boundary line separates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum BoundaryKind {
    /// The district's outline.
    District,
    /// Between two streets.
    Street,
    /// Between two communities of one street.
    Community,
}

impl BoundaryKind {
    /// `"district"`, `"street"` or `"community"`.
    pub fn as_str(self) -> &'static str {
        match self {
            BoundaryKind::District => "district",
            BoundaryKind::Street => "street",
            BoundaryKind::Community => "community",
        }
    }
}

/// A boundary line, each piece of boundary drawn once.
#[derive(Debug, Clone)]
pub struct BoundaryLine {
    /// What it separates.
    pub kind: BoundaryKind,
    /// The line.
    pub line: LineString<f64>,
    /// Its bounding box.
    pub bbox: Rect<f64>,
}

type Indexed = GeomWithData<Rectangle<[f64; 2]>, u32>;
type IndexedPoint = GeomWithData<[f64; 2], GridId>;

/// Derived geometry and indexes of one Atlas's geometry; see the module docs.
#[derive(Debug)]
pub struct MapGeometry {
    areas: Vec<Area>,
    lines: Vec<BoundaryLine>,
    grids: RTree<Indexed>,
    grid_labels: RTree<IndexedPoint>,
    roads: RTree<Indexed>,
    blocks: RTree<Indexed>,
}

fn aabb(r: Rect<f64>) -> AABB<[f64; 2]> {
    AABB::from_corners([r.min().x, r.min().y], [r.max().x, r.max().y])
}

fn indexed(r: Option<Rect<f64>>, id: u32) -> Option<Indexed> {
    r.map(|r| GeomWithData::new(Rectangle::from_corners([r.min().x, r.min().y], [r.max().x, r.max().y]), id))
}

fn ids_in(tree: &RTree<Indexed>, bbox: Rect<f64>) -> Vec<u32> {
    let mut ids: Vec<u32> = tree.locate_in_envelope_intersecting(aabb(bbox)).map(|i| i.data).collect();
    ids.sort_unstable();
    ids
}

fn empty_rect() -> Rect<f64> {
    Rect::new(Coord { x: 0.0, y: 0.0 }, Coord { x: 0.0, y: 0.0 })
}

impl MapGeometry {
    /// Derives the areas (unions of grids) and boundary lines and builds the indexes. Costly
    /// (unions of every street's and community's grids): do it once per Atlas geometry.
    pub fn derive(atlas: &Atlas) -> Self {
        let mut areas = Vec::with_capacity(atlas.streets().len() + atlas.communities().len());
        let union =
            |grids: &[u32]| geo::unary_union(grids.iter().filter_map(|&g| atlas.grid(g)).map(|g| &g.grid.geometry));
        for s in atlas.streets() {
            let geometry = union(&s.grids);
            let bbox = geometry.bounding_rect().unwrap_or_else(empty_rect);
            let (code, name) = (s.street.code.clone(), s.street.name.clone());
            let label = label_point(&geometry);
            areas.push(Area { kind: AreaKind::Street, street_code: code.clone(), code, name, geometry, bbox, label });
        }
        for c in atlas.communities() {
            let geometry = union(&c.grids);
            let bbox = geometry.bounding_rect().unwrap_or_else(empty_rect);
            let label = label_point(&geometry);
            let c = &c.community;
            areas.push(Area {
                kind: AreaKind::Community,
                code: c.code.clone(),
                name: c.name.clone(),
                street_code: c.street_code.clone(),
                geometry,
                bbox,
                label,
            });
        }

        let mut lines: Vec<BoundaryLine> = Vec::new();
        for p in &atlas.district().outline.0 {
            for ring in std::iter::once(p.exterior()).chain(p.interiors()) {
                lines.push(boundary_line(BoundaryKind::District, ring.clone()));
            }
        }
        // Shared edges come ring by ring: consecutive pieces of one boundary chain into a line.
        type Chain = (BoundaryKind, (u32, u32), Vec<Coord<f64>>);
        let mut current: Option<Chain> = None;
        for e in atlas.shared_edges() {
            let (Some(a), Some(b)) = (atlas.grid(e.a), atlas.grid(e.b)) else { continue };
            let kind = if a.street != b.street {
                BoundaryKind::Street
            } else if a.community != b.community {
                BoundaryKind::Community
            } else {
                continue;
            };
            let pair = (e.a, e.b);
            match &mut current {
                Some((k, p, pts)) if *k == kind && *p == pair && pts.last() == Some(&e.line.start) => {
                    pts.push(e.line.end);
                }
                _ => {
                    if let Some((k, _, pts)) = current.take() {
                        lines.push(boundary_line(k, LineString(pts)));
                    }
                    current = Some((kind, pair, vec![e.line.start, e.line.end]));
                }
            }
        }
        if let Some((k, _, pts)) = current {
            lines.push(boundary_line(k, LineString(pts)));
        }

        let grids = RTree::bulk_load(
            atlas.grids().iter().filter_map(|g| indexed(g.grid.geometry.bounding_rect(), g.grid.id)).collect(),
        );
        let grid_labels = RTree::bulk_load(
            atlas
                .grids()
                .iter()
                .filter_map(|g| label_point(&g.grid.geometry).map(|p| GeomWithData::new([p.x(), p.y()], g.grid.id)))
                .collect(),
        );
        let at = |i: usize| u32::try_from(i).unwrap_or(u32::MAX);
        let roads = atlas.roads().iter().enumerate().filter_map(|(i, r)| indexed(r.line.bounding_rect(), at(i)));
        let blocks = atlas.blocks().iter().enumerate().filter_map(|(i, b)| indexed(b.geometry.bounding_rect(), at(i)));
        let (roads, blocks) = (RTree::bulk_load(roads.collect()), RTree::bulk_load(blocks.collect()));
        Self { areas, lines, grids, grid_labels, roads, blocks }
    }

    /// Street areas first, then community areas.
    pub fn areas(&self) -> &[Area] {
        &self.areas
    }

    /// District outline, street and community boundary lines.
    pub fn boundary_lines(&self) -> &[BoundaryLine] {
        &self.lines
    }

    /// Ids of grids whose bounding box meets `bbox`, ascending.
    pub fn grids_in(&self, bbox: Rect<f64>) -> Vec<u32> {
        ids_in(&self.grids, bbox)
    }

    /// The grids labelled inside `bbox` and their label points, by ascending grid id.
    pub fn grid_labels_in(&self, bbox: Rect<f64>) -> Vec<(GridId, Point<f64>)> {
        let mut found: Vec<(GridId, Point<f64>)> = self
            .grid_labels
            .locate_in_envelope(aabb(bbox))
            .map(|p| (p.data, Point::new(p.geom()[0], p.geom()[1])))
            .collect();
        found.sort_unstable_by_key(|(id, _)| *id);
        found
    }

    /// Positions in `Atlas::roads()` of roads whose bounding box meets `bbox`, ascending.
    pub fn roads_in(&self, bbox: Rect<f64>) -> Vec<u32> {
        ids_in(&self.roads, bbox)
    }

    /// Positions in `Atlas::blocks()` of blocks whose bounding box meets `bbox`, ascending.
    pub fn blocks_in(&self, bbox: Rect<f64>) -> Vec<u32> {
        ids_in(&self.blocks, bbox)
    }
}

fn boundary_line(kind: BoundaryKind, line: LineString<f64>) -> BoundaryLine {
    let bbox = line.bounding_rect().unwrap_or_else(empty_rect);
    BoundaryLine { kind, line, bbox }
}

/// Whether two boxes meet.
pub(crate) fn meets(a: Rect<f64>, b: Rect<f64>) -> bool {
    a.min().x <= b.max().x && b.min().x <= a.max().x && a.min().y <= b.max().y && b.min().y <= a.max().y
}
