//! OGC API – Features (Part 1: Core, GeoJSON, OpenAPI 3.0) over the Atlas, so that QGIS and
//! GDAL's `OAPIF:` driver read every layer as it is: the landing page at `/` (for clients that
//! ask for JSON), `/conformance`, `/collections`, `/collections/{id}`,
//! `/collections/{id}/items` (with `bbox`, `limit`, `offset` and per-collection property
//! filters) and `/collections/{id}/items/{fid}`.
//!
//! Every read goes through the caller's [`Scope`]. No collection holds person-level records:
//! grids, streets and communities carry KPIs, buildings and rental units counts, workplaces
//! their aggregates.

use super::OPENAPI_JSON;
use super::extract::{ApiPath, LenientQuery};
use super::features::{self, BuildingProperties, GridProperties};
use super::geojson::{Feature, FeatureCollection, GEOJSON, GeoJson, Link, geometry};
use crate::api::error::Exception;
use crate::error::{AppError, AppResult};
use crate::scope::Scope;
use crate::state::AppState;
use axum::Json;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use geo::{BoundingRect, Intersects, MultiPolygon, Rect};
use rentgrid_analysis::actual_rates::{self, PlaceRates, RatesRow};
use rentgrid_analysis::kpi::{Counts, Kpi, Level, Targets};
use rentgrid_analysis::unrecorded::Unrecorded;
use rentgrid_geodata::Atlas;
use rentgrid_tiles::MapGeometry;
use serde::Serialize;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::sync::{Arc, OnceLock};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// CRS84: longitude and latitude on WGS84, the only CRS served.
pub(super) const CRS84: &str = "http://www.opengis.net/def/crs/OGC/1.3/CRS84";

/// `limit` when a request names none.
pub(super) const DEFAULT_LIMIT: usize = 10;

/// The most features one page carries; a larger `limit` is answered with this many.
pub(super) const MAX_LIMIT: usize = 10_000;

/// The conformance classes implemented.
pub(super) const CONFORMANCE: [&str; 3] = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
];

/// The query parameters every items request may carry besides the collection's queryables.
pub(super) const ITEMS_PARAMETERS: [&str; 4] = ["bbox", "limit", "offset", "f"];

/// The OGC routes. The landing page is not among them: [`landing_at_root`] answers it at `/`.
/// The items paths are documented once per collection, with its own filters and properties
/// (see [`super::openapi`]), so they are routed here without an operation of their own.
pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(conformance))
        .routes(routes!(collections))
        .routes(routes!(collection))
        .route(ITEMS_PATH, get(items))
        .route(ITEM_PATH, get(item))
}

/// The route of a collection's items.
pub(super) const ITEMS_PATH: &str = "/collections/{id}/items";
/// The route of one item.
pub(super) const ITEM_PATH: &str = "/collections/{id}/items/{fid}";

/// The landing page of OGC API – Features.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct LandingPage {
    /// The service's title.
    title: String,
    /// What it serves.
    description: String,
    /// The API definition, the conformance classes, the collections.
    links: Vec<Link>,
}

/// The conformance classes implemented.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct ConfClasses {
    /// Their URIs.
    #[serde(rename = "conformsTo")]
    conforms_to: Vec<&'static str>,
}

/// The collections.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct Collections {
    /// A link to this document.
    links: Vec<Link>,
    /// Each collection.
    collections: Vec<CollectionInfo>,
}

/// One collection: what it holds, where, and links to it and its items.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Collection)]
pub(super) struct CollectionInfo {
    /// Its id in paths.
    id: &'static str,
    /// A short title.
    title: &'static str,
    /// What its features are.
    description: &'static str,
    /// Always `feature`.
    #[serde(rename = "itemType")]
    item_type: &'static str,
    /// The CRSs served: CRS84.
    crs: Vec<&'static str>,
    /// The CRS stored: CRS84.
    #[serde(rename = "storageCrs")]
    storage_crs: &'static str,
    /// Where its features lie.
    extent: Extent,
    /// To itself and its items.
    links: Vec<Link>,
}

/// The extent of a collection.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct Extent {
    /// Its spatial extent.
    spatial: SpatialExtent,
}

/// A spatial extent.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct SpatialExtent {
    /// One box: minLon, minLat, maxLon, maxLat.
    bbox: Vec<[f64; 4]>,
    /// CRS84.
    crs: &'static str,
}

/// `f`: the format asked for.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct FormatParam {
    /// The format: JSON (GeoJSON for features).
    #[param(value_type = Option<String>, pattern = "^json$")]
    #[allow(dead_code)]
    f: Option<String>,
}

/// `collectionId`: one of the collections.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub(super) struct CollectionParam {
    /// grids, streets, communities, buildings, rental_units or workplaces.
    #[serde(rename = "collectionId")]
    #[param(rename = "collectionId")]
    #[allow(dead_code)]
    collection_id: String,
}

/// The properties of a feature of some collection.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(untagged)]
pub(super) enum ItemProperties {
    /// A grid.
    Grid(GridProperties),
    /// A street.
    Street(StreetProperties),
    /// A community.
    Community(CommunityProperties),
    /// A building.
    Building(BuildingProperties),
    /// The rental units of a building.
    RentalUnit(RentalUnitProperties),
    /// A workplace.
    Workplace(WorkplaceProperties),
}

/// The properties of a street (街道/镇): its code and rolled-up KPIs.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(super) struct StreetProperties {
    /// Its code.
    code: String,
    /// Its name.
    name: String,
    /// The district's code.
    #[schema(required = true)]
    parent_code: Option<String>,
    /// Its counts and KPIs.
    #[serde(flatten)]
    kpi: Kpi,
    /// Its rates over the actual counts, with their 90% intervals and verdicts (today's estimate).
    #[serde(flatten)]
    rates: PlaceRates,
}

/// The properties of a community (社区/村): its code, its street's and rolled-up KPIs.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(super) struct CommunityProperties {
    /// Its code.
    code: String,
    /// Its name.
    name: String,
    /// Its street's code.
    #[schema(required = true)]
    street_code: Option<String>,
    /// Its counts and KPIs.
    #[serde(flatten)]
    kpi: Kpi,
    /// Its rates over the actual counts, with their 90% intervals and verdicts (today's estimate).
    #[serde(flatten)]
    rates: PlaceRates,
}

/// The rental units (出租房屋) of one building, at its point.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(super) struct RentalUnitProperties {
    /// The building.
    building_id: u32,
    /// The grid it lies in.
    grid_id: u32,
    /// Its door-plate address.
    address: String,
    /// Rental units known to the register.
    rental_units: u32,
    /// Of which registered (备案).
    rental_units_registered: u32,
    /// Of the registered ones, with the landlord's safety pledge signed.
    pledges_signed: u32,
}

/// A workplace (用工单位).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(super) struct WorkplaceProperties {
    /// Its id.
    id: u32,
    /// Its name.
    name: String,
    /// The grid it lies in.
    grid_id: u32,
    /// The building it is in, if known.
    #[schema(required = true)]
    building_id: Option<u32>,
    /// Employees.
    employees: u32,
    /// Of which migrant workers.
    migrant_workers: u32,
    /// Whether the management responsibility letter is signed.
    responsibility_signed: bool,
}

/// A layer served as a collection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Collection {
    /// 网格 grids with their KPIs.
    Grids,
    /// Streets (街道/镇): the union of their grids, with rolled-up KPIs.
    Streets,
    /// Communities (社区/村): the union of their grids, with rolled-up KPIs.
    Communities,
    /// Building footprints with their counts.
    Buildings,
    /// Rental units (出租房屋) counted per building, at the building's point.
    RentalUnits,
    /// Workplaces (用工单位): employees, migrant workers, the responsibility letter.
    Workplaces,
}

/// The type of a queryable property, which says how its filter value is read.
#[derive(Debug, Clone, Copy)]
pub(super) enum Kind {
    /// Text, matched exactly.
    Text,
    /// A whole number.
    Integer,
    /// `true` or `false`.
    Boolean,
    /// One of these words.
    OneOf(&'static [&'static str]),
}

/// A property a collection's items can be filtered on with `?name=value`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Queryable {
    /// The property (and query parameter) name.
    pub name: &'static str,
    /// Its type.
    pub kind: Kind,
    /// What it is.
    pub description: &'static str,
}

const BUILDING_KINDS: &[&str] = &["tower", "walkup", "village_house", "factory", "dormitory", "shop"];
const REG_STATUSES: &[&str] = &["meets", "near", "below", "none"];

const GRID_ID: Queryable = Queryable { name: "grid_id", kind: Kind::Integer, description: "the grid it lies in" };

impl Collection {
    /// Every collection, in the order `/collections` lists them.
    pub(super) const ALL: [Collection; 6] = [
        Collection::Grids,
        Collection::Streets,
        Collection::Communities,
        Collection::Buildings,
        Collection::RentalUnits,
        Collection::Workplaces,
    ];

    /// The collection's id in paths.
    pub(super) fn id(self) -> &'static str {
        match self {
            Collection::Grids => "grids",
            Collection::Streets => "streets",
            Collection::Communities => "communities",
            Collection::Buildings => "buildings",
            Collection::RentalUnits => "rental_units",
            Collection::Workplaces => "workplaces",
        }
    }

    fn from_id(id: &str) -> AppResult<Self> {
        Self::ALL.into_iter().find(|c| c.id() == id).ok_or_else(|| {
            let ids: Vec<&str> = Self::ALL.iter().map(|c| c.id()).collect();
            AppError::NotFound(format!("no collection {id:?}: the collections are {}", ids.join(", ")))
        })
    }

    /// A short title.
    pub(super) fn title(self) -> &'static str {
        match self {
            Collection::Grids => "Grids (网格) with their KPIs",
            Collection::Streets => "Streets and towns (街道/镇) with rolled-up KPIs",
            Collection::Communities => "Communities and villages (社区/村) with rolled-up KPIs",
            Collection::Buildings => "Buildings with their counts",
            Collection::RentalUnits => "Rental units (出租房屋) counted per building",
            Collection::Workplaces => "Workplaces (用工单位)",
        }
    }

    /// What its features are.
    pub(super) fn description(self) -> &'static str {
        match self {
            Collection::Grids => {
                "Grid polygons with counts of rental units and migrants and the KPIs derived from them \
                 (registration, permit, rental registration, consistency and pledge rates)."
            }
            Collection::Streets => "Street areas (the union of their grids) with the KPIs of their grids' counts.",
            Collection::Communities => {
                "Community areas (the union of their grids) with the KPIs of their grids' counts."
            }
            Collection::Buildings => "Building footprints with counts of rental units, migrants and visits.",
            Collection::RentalUnits => {
                "One point per building that has rental units, with how many and how many are registered."
            }
            Collection::Workplaces => {
                "Workplaces with their employees and migrant workers and whether the responsibility letter is signed."
            }
        }
    }

    /// The GeoJSON geometry type of its features.
    pub(super) fn geometry_type(self) -> &'static str {
        match self {
            Collection::Grids | Collection::Streets | Collection::Communities => "MultiPolygon",
            Collection::Buildings => "Polygon",
            Collection::RentalUnits | Collection::Workplaces => "Point",
        }
    }

    /// The properties its items can be filtered on.
    pub(super) fn queryables(self) -> &'static [Queryable] {
        const CODE: Queryable = Queryable { name: "code", kind: Kind::Text, description: "its 12-digit code" };
        const STREET_CODE: Queryable =
            Queryable { name: "street_code", kind: Kind::Text, description: "the code of its street" };
        match self {
            Collection::Grids => &[
                Queryable { name: "code", kind: Kind::Text, description: "the grid code (网格编码)" },
                Queryable { name: "community_code", kind: Kind::Text, description: "the code of its community" },
                STREET_CODE,
                Queryable {
                    name: "reg_status",
                    kind: Kind::OneOf(REG_STATUSES),
                    description: "the registration rate against its target",
                },
            ],
            Collection::Streets => &[CODE],
            Collection::Communities => &[CODE, STREET_CODE],
            Collection::Buildings => &[
                Queryable { name: "kind", kind: Kind::OneOf(BUILDING_KINDS), description: "the building's kind" },
                GRID_ID,
            ],
            Collection::RentalUnits => &[GRID_ID],
            Collection::Workplaces => &[
                GRID_ID,
                Queryable {
                    name: "responsibility_signed",
                    kind: Kind::Boolean,
                    description: "whether the management responsibility letter is signed",
                },
            ],
        }
    }
}

/// Geometry a request needs besides the Atlas: the street and community areas of the tile
/// cache's [`MapGeometry`] (derived once per district geometry and re-derived when an import
/// reloads the Atlas), and the grids' bounding boxes, computed once per request when asked.
#[derive(Debug)]
struct Derived {
    map: Arc<MapGeometry>,
    grid_bboxes: OnceLock<Vec<Option<Rect<f64>>>>,
}

impl Derived {
    fn new(map: Arc<MapGeometry>) -> Self {
        Self { map, grid_bboxes: OnceLock::new() }
    }

    fn grid_bboxes(&self, atlas: &Atlas) -> &[Option<Rect<f64>>] {
        self.grid_bboxes.get_or_init(|| atlas.grids().iter().map(|g| g.grid.geometry.bounding_rect()).collect())
    }

    /// The bounding box of some grids.
    fn bbox_of(&self, atlas: &Atlas, grids: &[u32]) -> Option<Rect<f64>> {
        let boxes = self.grid_bboxes(atlas);
        grids.iter().filter_map(|&g| boxes.get(g as usize).copied().flatten()).reduce(union_rect)
    }

    /// The area of street `i` (streets come first in [`MapGeometry::areas`], in Atlas order).
    fn street_area(&self, i: usize) -> Option<&MultiPolygon<f64>> {
        self.map.areas().get(i).map(|a| &a.geometry)
    }

    /// The area of community `i` (after the streets, in Atlas order).
    fn community_area(&self, atlas: &Atlas, i: usize) -> Option<&MultiPolygon<f64>> {
        self.map.areas().get(atlas.streets().len() + i).map(|a| &a.geometry)
    }
}

/// Extracts the request's [`Derived`] geometry from the state's tile cache.
struct Fresh(Arc<Derived>);

impl axum::extract::FromRequestParts<AppState> for Fresh {
    type Rejection = AppError;

    async fn from_request_parts(
        _parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let map = state.snapshot().map_geometry().await.map_err(AppError::Internal)?;
        Ok(Fresh(Arc::new(Derived::new(map))))
    }
}

fn union_rect(a: Rect<f64>, b: Rect<f64>) -> Rect<f64> {
    Rect::new(
        geo::coord! { x: a.min().x.min(b.min().x), y: a.min().y.min(b.min().y) },
        geo::coord! { x: a.max().x.max(b.max().x), y: a.max().y.max(b.max().y) },
    )
}

/// One request's view of a collection: the snapshot, the KPI inputs and the scope.
struct View<'a> {
    collection: Collection,
    atlas: &'a Atlas,
    counts: &'a [Counts],
    targets: &'a Targets,
    scope: &'a Scope,
    derived: &'a Derived,
    /// Today's estimate of the unrecorded, for the estimated actual rates (`None` where only the
    /// collection's metadata is answered).
    unrecorded: Option<&'a Unrecorded>,
    /// Rolled-up KPIs and estimated actual rates of streets or communities, in the Atlas's order
    /// (empty for other layers).
    rows: Vec<RatesRow>,
}

impl<'a> View<'a> {
    fn new(
        collection: Collection,
        atlas: &'a Atlas,
        counts: &'a [Counts],
        targets: &'a Targets,
        scope: &'a Scope,
        derived: &'a Derived,
        unrecorded: Option<&'a Unrecorded>,
    ) -> Self {
        let rows = match collection {
            Collection::Streets => actual_rates::rollup(atlas, counts, unrecorded, Level::Street, targets),
            Collection::Communities => actual_rates::rollup(atlas, counts, unrecorded, Level::Community, targets),
            _ => Vec::new(),
        };
        Self { collection, atlas, counts, targets, scope, derived, unrecorded, rows }
    }

    /// The grids a street's or community's key covers.
    fn area_grids(&self, key: usize) -> &[u32] {
        match self.collection {
            Collection::Streets => self.atlas.streets().get(key).map_or(&[], |s| &s.grids),
            _ => self.atlas.communities().get(key).map_or(&[], |c| &c.grids),
        }
    }

    /// Whether the scope sees the item with this key. A street or community is seen whole or
    /// not at all, never partly counted.
    fn visible(&self, key: usize) -> bool {
        let atlas = self.atlas;
        match self.collection {
            Collection::Grids => key < atlas.grids().len() && self.scope.sees_grid(key as u32),
            Collection::Buildings => atlas.building(key as u32).is_some_and(|b| self.scope.sees_grid(b.grid_id)),
            Collection::RentalUnits => {
                atlas.building(key as u32).is_some_and(|b| self.scope.sees_grid(b.grid_id))
                    && atlas.building_stats(key as u32).is_some_and(|s| s.rental_units > 0)
            }
            Collection::Workplaces => atlas.workplaces().get(key).is_some_and(|w| self.scope.sees_grid(w.grid_id)),
            Collection::Streets | Collection::Communities => {
                key < self.rows.len() && self.area_grids(key).iter().all(|&g| self.scope.sees_grid(g))
            }
        }
    }

    /// Keys of the visible items meeting `bbox`, in the collection's stable order (by feature
    /// id). Polygons meet the box when their bounding boxes do, as in the Atlas's own queries.
    fn keys(&self, bbox: Option<Rect<f64>>) -> Vec<usize> {
        let atlas = self.atlas;
        let mut keys: Vec<usize> = match (self.collection, bbox) {
            (Collection::Grids, _) => {
                let boxes = self.derived.grid_bboxes(atlas);
                (0..atlas.grids().len())
                    .filter(|&i| bbox.is_none_or(|r| boxes.get(i).copied().flatten().is_some_and(|b| b.intersects(&r))))
                    .collect()
            }
            (Collection::Buildings | Collection::RentalUnits, Some(r)) => {
                atlas.buildings_in(r).into_iter().map(|id| id as usize).collect()
            }
            (Collection::Buildings | Collection::RentalUnits, None) => (0..atlas.buildings().len()).collect(),
            (Collection::Workplaces, _) => {
                let mut keys: Vec<usize> = (0..atlas.workplaces().len())
                    .filter(|&i| bbox.is_none_or(|r| atlas.workplaces().get(i).is_some_and(|w| r.intersects(&w.point))))
                    .collect();
                keys.sort_by_key(|&i| atlas.workplaces().get(i).map(|w| w.id));
                keys
            }
            (Collection::Streets | Collection::Communities, _) => {
                let mut keys: Vec<usize> = (0..self.rows.len())
                    .filter(|&i| {
                        bbox.is_none_or(|r| {
                            self.derived.bbox_of(atlas, self.area_grids(i)).is_some_and(|b| b.intersects(&r))
                        })
                    })
                    .collect();
                keys.sort_by(|&a, &b| self.rows[a].row.code.cmp(&self.rows[b].row.code));
                keys
            }
        };
        keys.retain(|&k| self.visible(k));
        keys
    }

    /// The key of the feature with id `fid`, if it exists and the scope sees it.
    fn key_of(&self, fid: &str) -> Option<usize> {
        let key = match self.collection {
            Collection::Grids | Collection::Buildings | Collection::RentalUnits => fid.parse::<u32>().ok()? as usize,
            Collection::Workplaces => {
                let id = fid.parse::<u32>().ok()?;
                self.atlas.workplaces().iter().position(|w| w.id == id)?
            }
            Collection::Streets | Collection::Communities => self.rows.iter().position(|r| r.row.code == fid)?,
        };
        self.visible(key).then_some(key)
    }

    fn grid_kpi(&self, id: u32) -> Kpi {
        Kpi::from_counts(self.counts.get(id as usize).copied().unwrap_or_default(), self.targets)
    }

    /// The value of a queryable property of the item `key`, as its feature carries it.
    fn queryable(&self, key: usize, name: &str) -> Value {
        let atlas = self.atlas;
        let building = || atlas.building(key as u32);
        match (self.collection, name) {
            (Collection::Grids, _) => match atlas.grid(key as u32) {
                None => Value::Null,
                Some(g) => match name {
                    "code" => json!(g.grid.code),
                    "community_code" => json!(g.grid.community_code),
                    "street_code" => json!(atlas.streets()[g.street].street.code),
                    "reg_status" => json!(self.grid_kpi(g.grid.id).reg_status),
                    _ => Value::Null,
                },
            },
            (Collection::Buildings, "kind") => building().map_or(Value::Null, |b| json!(b.kind.as_str())),
            (Collection::Buildings | Collection::RentalUnits, "grid_id") => {
                building().map_or(Value::Null, |b| json!(b.grid_id))
            }
            (Collection::Workplaces, "grid_id") => {
                atlas.workplaces().get(key).map_or(Value::Null, |w| json!(w.grid_id))
            }
            (Collection::Workplaces, "responsibility_signed") => {
                atlas.workplaces().get(key).map_or(Value::Null, |w| json!(w.responsibility_signed))
            }
            (Collection::Streets | Collection::Communities, "code") => {
                self.rows.get(key).map_or(Value::Null, |r| json!(r.row.code))
            }
            (Collection::Communities, "street_code") => {
                self.rows.get(key).map_or(Value::Null, |r| json!(r.row.parent_code))
            }
            _ => Value::Null,
        }
    }

    /// The feature of the item `key`.
    fn feature(&self, key: usize) -> Option<Feature<ItemProperties>> {
        let atlas = self.atlas;
        match self.collection {
            Collection::Grids => {
                let g = atlas.grid(key as u32)?;
                let counts = self.counts.get(key)?;
                Some(features::grid_feature(atlas, g, counts, self.targets, self.unrecorded).map(ItemProperties::Grid))
            }
            Collection::Buildings => {
                features::building_feature(atlas, key as u32).map(|f| f.map(ItemProperties::Building))
            }
            Collection::RentalUnits => {
                let b = atlas.building(key as u32)?;
                let s = atlas.building_stats(b.id).copied().unwrap_or_default();
                let props = RentalUnitProperties {
                    building_id: b.id,
                    grid_id: b.grid_id,
                    address: b.address.clone(),
                    rental_units: s.rental_units,
                    rental_units_registered: s.rental_units_registered,
                    pledges_signed: s.pledges_signed,
                };
                Some(Feature::new(geometry(b.point), ItemProperties::RentalUnit(props)).with_id(b.id))
            }
            Collection::Workplaces => {
                let w = atlas.workplaces().get(key)?;
                let props = WorkplaceProperties {
                    id: w.id,
                    name: w.name.clone(),
                    grid_id: w.grid_id,
                    building_id: w.building_id,
                    employees: w.employees,
                    migrant_workers: w.migrant_workers,
                    responsibility_signed: w.responsibility_signed,
                };
                Some(Feature::new(geometry(w.point), ItemProperties::Workplace(props)).with_id(w.id))
            }
            Collection::Streets | Collection::Communities => {
                let RatesRow { row, actual } = self.rows.get(key)?;
                let area = match self.collection {
                    Collection::Streets => self.derived.street_area(key),
                    _ => self.derived.community_area(atlas, key),
                }?;
                let props = if self.collection == Collection::Communities {
                    ItemProperties::Community(CommunityProperties {
                        code: row.code.clone(),
                        name: row.name.clone(),
                        street_code: row.parent_code.clone(),
                        kpi: row.kpi,
                        rates: *actual,
                    })
                } else {
                    ItemProperties::Street(StreetProperties {
                        code: row.code.clone(),
                        name: row.name.clone(),
                        parent_code: row.parent_code.clone(),
                        kpi: row.kpi,
                        rates: *actual,
                    })
                };
                Some(Feature::new(geometry(area.clone()), props).with_code(row.code.clone()))
            }
        }
    }

    /// The collection's extent: the bounding box of the grids the scope sees.
    fn extent(&self) -> Option<Rect<f64>> {
        let grids: Vec<u32> =
            self.atlas.grids().iter().map(|g| g.grid.id).filter(|&g| self.scope.sees_grid(g)).collect();
        self.derived.bbox_of(self.atlas, &grids)
    }
}

/// Where this server is, as the client reached it: `http://host:port`, from the `Host` header
/// (and `X-Forwarded-Proto` behind a proxy; with `--public-url`, the guard has put that URL's
/// host and scheme there); empty when the request names no plain host, so links are then
/// absolute paths.
pub(super) fn base_url(headers: &HeaderMap) -> String {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).filter(|h| is_host(h));
    let proto = headers
        .get("x-forwarded-proto")
        .and_then(|h| h.to_str().ok())
        .filter(|p| *p == "https" || *p == "http")
        .unwrap_or("http");
    host.map_or_else(String::new, |h| format!("{proto}://{h}"))
}

/// A Host header we may echo into URLs: a name or address and an optional port, nothing else.
fn is_host(h: &str) -> bool {
    !h.is_empty() && h.len() <= 255 && h.chars().all(|c| c.is_ascii_alphanumeric() || "-.:[]_".contains(c))
}

fn link(href: String, rel: &str, media: &str, title: &str) -> Link {
    Link::new(href, rel, media, title)
}

/// Rejects every query parameter but `f=json` (and its GeoJSON alias where `geojson` holds).
fn only_format(q: &[(String, String)], geojson: bool) -> AppResult<()> {
    for (k, v) in q {
        match k.as_str() {
            "f" => check_format(v, geojson)?,
            other => {
                return Err(AppError::BadRequest(format!("unknown query parameter {other:?}: only f=json is taken")));
            }
        }
    }
    Ok(())
}

fn check_format(v: &str, geojson: bool) -> AppResult<()> {
    match v {
        "json" => Ok(()),
        "geojson" if geojson => Ok(()),
        other => Err(AppError::BadRequest(format!(
            "f={other:?}: this server answers {} only",
            if geojson { "f=json (GeoJSON)" } else { "f=json" }
        ))),
    }
}

/// Whether a request to `/` wants the landing page as JSON rather than the web map:
/// `?f=json`, or an `Accept` header that ranks a JSON type above `text/html`.
fn wants_json(req: &Request) -> bool {
    let query = req.uri().query().unwrap_or("");
    for pair in query.split('&') {
        match pair {
            "f=json" => return true,
            "f=html" => return false,
            _ => {}
        }
    }
    let accept = req.headers().get(header::ACCEPT).and_then(|h| h.to_str().ok()).unwrap_or("");
    let (mut json_q, mut html_q) = (0.0f64, 0.0f64);
    for part in accept.split(',') {
        let mut fields = part.split(';').map(str::trim);
        let media = fields.next().unwrap_or("").to_ascii_lowercase();
        let q = fields.filter_map(|f| f.strip_prefix("q=")).find_map(|v| v.parse::<f64>().ok()).unwrap_or(1.0);
        match media.as_str() {
            "application/json" | "application/geo+json" => json_q = json_q.max(q),
            "text/html" => html_q = html_q.max(q),
            _ => {}
        }
    }
    json_q > 0.0 && json_q > html_q
}

/// Whether `req` asks `/` for the landing page (as JSON), not for the web map.
pub(super) fn asks_for_landing(req: &Request) -> bool {
    req.uri().path() == "/" && (req.method() == Method::GET || req.method() == Method::HEAD) && wants_json(req)
}

/// Middleware answering `GET /` with the landing page for clients that want JSON; everything
/// else (browsers) goes on to the web map.
pub(super) async fn landing_at_root(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if req.uri().path() != "/" {
        return next.run(req).await;
    }
    // The answer at `/` depends on Accept: say so to caches, whichever it is.
    let vary = (header::VARY, axum::http::HeaderValue::from_static("accept"));
    if !asks_for_landing(&req) {
        let mut res = next.run(req).await;
        res.headers_mut().append(vary.0, vary.1);
        return res;
    }
    let base = base_url(req.headers());
    let atlas = state.atlas();
    let d = atlas.district();
    let body = LandingPage {
        title: format!("rentgrid: {}", d.name),
        description: format!(
            "Rental housing and grid management of {} ({}): grids, streets and communities with their KPIs, \
             buildings, rental units and workplaces as OGC API – Features.",
            d.name, d.code
        ),
        links: vec![
            link(format!("{base}/?f=json"), "self", "application/json", "this document"),
            link(format!("{base}/"), "alternate", "text/html", "the web map"),
            link(format!("{base}/api"), "service-desc", OPENAPI_JSON, "the API definition (OpenAPI 3.1)"),
            link(format!("{base}/conformance"), "conformance", "application/json", "conformance classes implemented"),
            link(format!("{base}/collections"), "data", "application/json", "the collections"),
        ],
    };
    let mut res = Json(body).into_response();
    res.headers_mut().append(vary.0, vary.1);
    res
}

#[utoipa::path(get, path = "/conformance", tag = "Capabilities", operation_id = "conformance",
    summary = "the conformance classes implemented", params(FormatParam),
    responses((status = 200, description = "the conformance classes", body = ConfClasses),
        (status = 400, description = "an unknown parameter or format", body = Exception)))]
async fn conformance(LenientQuery(q): LenientQuery<Vec<(String, String)>>) -> AppResult<Json<ConfClasses>> {
    only_format(&q, false)?;
    Ok(Json(ConfClasses { conforms_to: CONFORMANCE.to_vec() }))
}

fn collection_json(view: &View<'_>, base: &str) -> CollectionInfo {
    let c = view.collection;
    let bbox = view.extent().map_or([-180.0, -90.0, 180.0, 90.0], |r| [r.min().x, r.min().y, r.max().x, r.max().y]);
    let href = format!("{base}/collections/{}", c.id());
    CollectionInfo {
        id: c.id(),
        title: c.title(),
        description: c.description(),
        item_type: "feature",
        crs: vec![CRS84],
        storage_crs: CRS84,
        extent: Extent { spatial: SpatialExtent { bbox: vec![bbox], crs: CRS84 } },
        links: vec![
            link(href.clone(), "self", "application/json", c.title()),
            link(format!("{href}/items"), "items", GEOJSON, "its features"),
        ],
    }
}

#[utoipa::path(get, path = "/collections", tag = "Capabilities", operation_id = "collections",
    summary = "the collections", params(FormatParam),
    responses((status = 200, description = "the collections", body = Collections),
        (status = 400, description = "an unknown parameter or format", body = Exception)))]
async fn collections(
    State(state): State<AppState>,
    scope: Scope,
    Fresh(derived): Fresh,
    headers: HeaderMap,
    LenientQuery(q): LenientQuery<Vec<(String, String)>>,
) -> AppResult<Json<Collections>> {
    only_format(&q, false)?;
    let base = base_url(&headers);
    let snapshot = state.snapshot();
    let atlas = snapshot.atlas().clone();
    let counts = snapshot.grid_counts();
    let list: Vec<CollectionInfo> = Collection::ALL
        .into_iter()
        .map(|c| collection_json(&View::new(c, &atlas, &counts, state.targets(), &scope, &derived, None), &base))
        .collect();
    let links = vec![link(format!("{base}/collections"), "self", "application/json", "the collections")];
    Ok(Json(Collections { links, collections: list }))
}

#[utoipa::path(get, path = "/collections/{collectionId}", tag = "Capabilities", operation_id = "collection",
    summary = "one collection: its extent (CRS84) and links", params(CollectionParam, FormatParam),
    responses((status = 200, description = "the collection", body = CollectionInfo),
        (status = 400, description = "an unknown parameter or format", body = Exception),
        (status = 404, description = "no such collection", body = Exception)))]
async fn collection(
    State(state): State<AppState>,
    scope: Scope,
    Fresh(derived): Fresh,
    headers: HeaderMap,
    ApiPath(id): ApiPath<String>,
    LenientQuery(q): LenientQuery<Vec<(String, String)>>,
) -> AppResult<Json<CollectionInfo>> {
    let c = Collection::from_id(&id)?;
    only_format(&q, false)?;
    let snapshot = state.snapshot();
    let atlas = snapshot.atlas().clone();
    let counts = snapshot.grid_counts();
    let view = View::new(c, &atlas, &counts, state.targets(), &scope, &derived, None);
    Ok(Json(collection_json(&view, &base_url(&headers))))
}

/// `c` when `scope` may read its items: a leader (aggregates only) reads the areas' collections,
/// not single buildings, rental units or workplaces.
fn leader_may_read(scope: &Scope, c: Collection) -> AppResult<Collection> {
    match c {
        Collection::Buildings | Collection::RentalUnits | Collection::Workplaces if scope.aggregates_only() => {
            Err(AppError::Forbidden(format!("collection {} holds single places: leaders see aggregates only", c.id())))
        }
        _ => Ok(c),
    }
}

/// What an items request asks for.
#[derive(Debug)]
pub(super) struct ItemsQuery {
    bbox: Option<Rect<f64>>,
    limit: usize,
    offset: usize,
    /// Property filters, each a queryable and the value its property must equal.
    filters: Vec<(&'static Queryable, Value)>,
}

pub(super) fn parse_items_query(c: Collection, q: &[(String, String)]) -> AppResult<ItemsQuery> {
    let mut out = ItemsQuery { bbox: None, limit: DEFAULT_LIMIT, offset: 0, filters: Vec::new() };
    let mut seen = BTreeSet::new();
    for (k, v) in q {
        if !seen.insert(k.as_str()) {
            return Err(AppError::BadRequest(format!("query parameter {k:?} is given twice")));
        }
        match k.as_str() {
            "f" => check_format(v, true)?,
            "bbox" => out.bbox = Some(super::parse_bbox(v)?),
            "limit" => {
                out.limit = match v.parse::<u64>() {
                    Ok(n) if n >= 1 => usize::try_from(n).unwrap_or(MAX_LIMIT).min(MAX_LIMIT),
                    _ => {
                        return Err(AppError::BadRequest(format!(
                            "limit {v:?} must be a whole number from 1 (at most {MAX_LIMIT} are returned)"
                        )));
                    }
                }
            }
            "offset" => {
                out.offset = v
                    .parse::<usize>()
                    .map_err(|_| AppError::BadRequest(format!("offset {v:?} must be a whole number from 0")))?
            }
            name => {
                let Some(qb) = c.queryables().iter().find(|qb| qb.name == name) else {
                    let mut known: Vec<&str> = ITEMS_PARAMETERS.to_vec();
                    known.extend(c.queryables().iter().map(|qb| qb.name));
                    return Err(AppError::BadRequest(format!(
                        "unknown query parameter {name:?} for collection {}: use {}",
                        c.id(),
                        known.join(", ")
                    )));
                };
                out.filters.push((qb, filter_value(c, qb, v)?));
            }
        }
    }
    Ok(out)
}

fn filter_value(c: Collection, qb: &Queryable, v: &str) -> AppResult<Value> {
    let bad = |want: String| AppError::BadRequest(format!("{}={v:?} in {}: {want}", qb.name, c.id()));
    match qb.kind {
        Kind::Text => Ok(json!(v)),
        Kind::Integer => v.parse::<u64>().map(|n| json!(n)).map_err(|_| bad("expected a whole number".into())),
        Kind::Boolean => match v {
            "true" => Ok(json!(true)),
            "false" => Ok(json!(false)),
            _ => Err(bad("expected true or false".into())),
        },
        Kind::OneOf(words) if words.contains(&v) => Ok(json!(v)),
        Kind::OneOf(words) => Err(bad(format!("expected one of {}", words.join(", ")))),
    }
}

/// Percent-encodes a query value (RFC 3986 unreserved characters stay as they are).
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The href of a page of these items: the same request with another offset.
fn page_href(base: &str, c: Collection, q: &[(String, String)], limit: usize, offset: usize) -> String {
    let mut parts: Vec<String> = q
        .iter()
        .filter(|(k, _)| k != "limit" && k != "offset")
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect();
    parts.push(format!("limit={limit}"));
    parts.push(format!("offset={offset}"));
    format!("{base}/collections/{}/items?{}", c.id(), parts.join("&"))
}

async fn items(
    State(state): State<AppState>,
    scope: Scope,
    Fresh(derived): Fresh,
    headers: HeaderMap,
    ApiPath(id): ApiPath<String>,
    LenientQuery(q): LenientQuery<Vec<(String, String)>>,
) -> AppResult<GeoJson<FeatureCollection<ItemProperties>>> {
    let c = leader_may_read(&scope, Collection::from_id(&id)?)?;
    let query = parse_items_query(c, &q)?;
    let base = base_url(&headers);
    let body = on_view(&state, scope, derived, c, move |view| {
        let mut keys = view.keys(query.bbox);
        keys.retain(|&k| query.filters.iter().all(|(qb, want)| &view.queryable(k, qb.name) == want));
        let matched = keys.len();
        let features: Vec<Feature<ItemProperties>> =
            keys.iter().skip(query.offset).take(query.limit).filter_map(|&k| view.feature(k)).collect();
        let (limit, offset) = (query.limit, query.offset);
        let mut links = vec![
            link(page_href(&base, c, &q, limit, offset), "self", GEOJSON, "this page"),
            link(format!("{base}/collections/{}", c.id()), "collection", "application/json", c.title()),
        ];
        if offset.saturating_add(limit) < matched {
            links.push(link(page_href(&base, c, &q, limit, offset + limit), "next", GEOJSON, "the next page"));
        }
        if offset > 0 {
            let prev = offset.saturating_sub(limit);
            links.push(link(page_href(&base, c, &q, limit, prev), "prev", GEOJSON, "the previous page"));
        }
        let mut page = FeatureCollection::new(features);
        page.time_stamp = Some(super::now_rfc3339());
        page.number_matched = Some(matched);
        page.number_returned = Some(page.features.len());
        page.links = Some(links);
        page
    })
    .await?;
    Ok(GeoJson(body))
}

/// Runs `work` on a view of `c` in the current snapshot, on a blocking thread: street and
/// community areas are unions of polygons, costly the first time, and large pages take a while
/// to serialise.
async fn on_view<T: Send + 'static>(
    state: &AppState,
    scope: Scope,
    derived: Arc<Derived>,
    c: Collection,
    work: impl FnOnce(&View<'_>) -> T + Send + 'static,
) -> AppResult<T> {
    let snapshot = state.snapshot();
    let atlas = snapshot.atlas().clone();
    let estimate = state.estimate(&atlas).await?;
    let counts = snapshot.grid_counts();
    let targets = *state.targets();
    tokio::task::spawn_blocking(move || {
        work(&View::new(c, &atlas, &counts, &targets, &scope, &derived, Some(&estimate.unrecorded)))
    })
    .await
    .map_err(|e| AppError::Internal(e.to_string()))
}

async fn item(
    State(state): State<AppState>,
    scope: Scope,
    Fresh(derived): Fresh,
    headers: HeaderMap,
    ApiPath((id, fid)): ApiPath<(String, String)>,
    LenientQuery(q): LenientQuery<Vec<(String, String)>>,
) -> AppResult<GeoJson<Feature<ItemProperties>>> {
    let c = leader_may_read(&scope, Collection::from_id(&id)?)?;
    only_format(&q, true)?;
    let base = base_url(&headers);
    let feature = on_view(&state, scope, derived, c, move |view| {
        view.key_of(&fid)
            .and_then(|k| view.feature(k))
            .map(|mut f| {
                let href = format!("{base}/collections/{}/items/{}", c.id(), encode(&fid));
                f.links = Some(vec![
                    link(href, "self", GEOJSON, "this feature"),
                    link(format!("{base}/collections/{}", c.id()), "collection", "application/json", c.title()),
                ]);
                f
            })
            .ok_or_else(|| AppError::NotFound(format!("collection {} has no feature {fid:?}", c.id())))
    })
    .await??;
    Ok(GeoJson(feature))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(uri: &str, accept: Option<&str>) -> Request {
        let mut b = axum::http::Request::get(uri);
        if let Some(a) = accept {
            b = b.header(header::ACCEPT, a);
        }
        b.body(axum::body::Body::empty()).unwrap()
    }

    #[test]
    fn only_plain_hosts_are_echoed() {
        assert!(is_host("127.0.0.1:8080") && is_host("[::1]:80") && is_host("rentgrid.example"));
        assert!(!is_host("evil.example/x?") && !is_host("") && !is_host("a@b"));
    }

    #[test]
    fn root_negotiates_json_or_the_web_map() {
        assert!(wants_json(&req("/?f=json", None)));
        assert!(wants_json(&req("/?f=json", Some("text/html"))));
        assert!(!wants_json(&req("/?f=html", Some("application/json"))));
        assert!(wants_json(&req("/", Some("application/json"))));
        assert!(wants_json(&req("/", Some("text/html;q=0.5, application/json"))));
        let firefox = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
        assert!(!wants_json(&req("/", Some(firefox))));
        assert!(!wants_json(&req("/", Some("*/*"))));
        assert!(!wants_json(&req("/", None)));
    }

    #[test]
    fn every_queryable_filter_value_is_checked() {
        let q = |s: &[(&str, &str)]| -> Vec<(String, String)> {
            s.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
        };
        let ok =
            parse_items_query(Collection::Buildings, &q(&[("kind", "shop"), ("grid_id", "3"), ("limit", "99999")]))
                .unwrap();
        assert_eq!(ok.limit, MAX_LIMIT);
        assert_eq!(ok.filters.len(), 2);
        for bad in [
            &[("kind", "castle")][..],
            &[("grid_id", "x")],
            &[("limit", "0")],
            &[("limit", "-1")],
            &[("offset", "-1")],
            &[("colour", "red")],
            &[("f", "html")],
            &[("limit", "5"), ("limit", "6")],
        ] {
            assert!(parse_items_query(Collection::Buildings, &q(bad)).is_err(), "{bad:?}");
        }
        assert!(parse_items_query(Collection::Workplaces, &q(&[("responsibility_signed", "yes")])).is_err());
    }

    #[test]
    fn a_limited_scope_sees_its_grids_and_only_whole_places() {
        use crate::scope::Role;
        use rentgrid_geodata::AtlasInput;
        use rentgrid_geodata::demo::{self, DemoOptions};
        let city = demo::generate(&DemoOptions { scale: 0.05, ..Default::default() }, &mut |_, _| {}).unwrap();
        let atlas = Atlas::build(AtlasInput::from_city(&city)).unwrap();
        let counts = rentgrid_analysis::kpi::grid_counts(&atlas);
        let targets = Targets::default();
        let derived = Derived::new(Arc::new(MapGeometry::derive(&atlas)));
        // A supervisor of the first street: its grids, and one grid of the next street.
        let street = &atlas.streets()[0];
        let outside = atlas.streets()[1].grids[0];
        let mut grids: BTreeSet<u32> = street.grids.iter().copied().collect();
        grids.insert(outside);
        let scope = Scope::of_grids(Role::Supervisor, grids.clone());
        let view = |c| View::new(c, &atlas, &counts, &targets, &scope, &derived, None);

        let seen: Vec<u32> = view(Collection::Grids).keys(None).into_iter().map(|k| k as u32).collect();
        assert_eq!(seen, grids.iter().copied().collect::<Vec<_>>());
        let buildings = view(Collection::Buildings).keys(None);
        let want = atlas.buildings().iter().filter(|b| grids.contains(&b.grid_id)).count();
        assert_eq!(buildings.len(), want);
        assert!(
            view(Collection::Workplaces).keys(None).iter().all(|&k| grids.contains(&atlas.workplaces()[k].grid_id))
        );
        assert!(view(Collection::RentalUnits).keys(None).iter().all(|&k| buildings.binary_search(&k).is_ok()));
        // The other street is partly visible, so it is not shown at all; communities are shown
        // when all their grids are visible: the first street's, and the outside grid's if it is
        // the only one of its community.
        assert_eq!(view(Collection::Streets).keys(None), vec![0]);
        let mut communities = view(Collection::Communities).keys(None);
        communities.sort_unstable();
        let mut want = street.communities.clone();
        want.extend(atlas.grid(outside).map(|g| g.community).filter(|&c| atlas.communities()[c].grids == [outside]));
        want.sort_unstable();
        assert_eq!(communities, want);
        // Single features outside the scope do not exist for it.
        let hidden = atlas.grids().iter().map(|g| g.grid.id).find(|g| !grids.contains(g)).unwrap();
        assert_eq!(view(Collection::Grids).key_of(&hidden.to_string()), None);
        assert_eq!(view(Collection::Streets).key_of(&atlas.streets()[1].street.code), None);
        assert!(view(Collection::Streets).key_of(&street.street.code).is_some());
        // The extent is that of the grids it sees.
        let extent = view(Collection::Grids).extent().unwrap();
        assert!(extent.width() < atlas.bbox().width() || extent.height() < atlas.bbox().height());
    }

    #[test]
    fn links_keep_filters_and_encode_values() {
        let q = vec![("code".to_string(), "a b&c".to_string()), ("limit".to_string(), "5".to_string())];
        assert_eq!(
            page_href("http://h:1", Collection::Streets, &q, 5, 10),
            "http://h:1/collections/streets/items?code=a%20b%26c&limit=5&offset=10"
        );
    }
}
