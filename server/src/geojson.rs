//! GeoJSON (RFC 7946) bodies with typed properties: a [`Feature`] carries a geometry encoded by
//! the `geojson` crate and properties of a type the API declares, so that the OpenAPI document
//! describes every feature's properties. The HTTP layer answers them as `application/geo+json`
//! (`api::geojson::GeoJson`).

use geo::Geometry as GeoGeometry;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The media type of GeoJSON.
pub const GEOJSON: &str = "application/geo+json";

/// A geometry (WGS84 longitude/latitude), written by the `geojson` crate.
pub fn geometry(g: impl Into<GeoGeometry<f64>>) -> geojson::Geometry {
    let g: GeoGeometry<f64> = g.into();
    geojson::Geometry::from(&g)
}

/// The `type` member of a Feature.
#[derive(Debug, Clone, Copy, Default, Serialize, ToSchema, Deserialize)]
pub enum FeatureType {
    /// The only value.
    #[default]
    Feature,
}

/// The `type` member of a FeatureCollection.
#[derive(Debug, Clone, Copy, Default, Serialize, ToSchema, Deserialize)]
pub enum FeatureCollectionType {
    /// The only value.
    #[default]
    FeatureCollection,
}

/// A feature's id: a number, or a code.
#[derive(Debug, Clone, Serialize, ToSchema, Deserialize)]
#[serde(untagged)]
pub enum FeatureId {
    /// A numeric id (grids, buildings, workplaces).
    Number(u64),
    /// A code (streets, communities).
    Text(String),
}

/// A link of OGC API – Features (and of a paged collection).
#[derive(Debug, Clone, Serialize, ToSchema, Deserialize)]
pub struct Link {
    /// Where it points.
    pub href: String,
    /// The relation: self, next, prev, collection, data, …
    pub rel: String,
    /// The media type of what it points at.
    #[serde(rename = "type")]
    pub media_type: String,
    /// What it is, for people.
    pub title: String,
}

impl Link {
    /// A link.
    pub fn new(href: String, rel: &str, media_type: &str, title: &str) -> Self {
        Self { href, rel: rel.into(), media_type: media_type.into(), title: title.into() }
    }
}

/// A GeoJSON Feature whose properties are `P`.
#[derive(Debug, Clone, Serialize, ToSchema, Deserialize)]
pub struct Feature<P> {
    /// Always `Feature`.
    #[serde(rename = "type")]
    pub kind: FeatureType,
    /// The feature's id, when it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<FeatureId>,
    /// Its geometry (null for an empty area).
    #[schema(value_type = Option<Geometry>)]
    #[schema(required = true)]
    pub geometry: Option<geojson::Geometry>,
    /// Its properties.
    pub properties: P,
    /// Links (OGC API – Features single items).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub links: Option<Vec<Link>>,
}

impl<P> Feature<P> {
    /// A feature without an id.
    pub fn new(geometry: geojson::Geometry, properties: P) -> Self {
        Self::maybe(Some(geometry), properties)
    }

    /// A feature without an id whose geometry may be null.
    pub fn maybe(geometry: Option<geojson::Geometry>, properties: P) -> Self {
        Self { kind: FeatureType::Feature, id: None, geometry, properties, links: None }
    }

    /// This feature with its properties mapped.
    pub fn map<Q>(self, f: impl FnOnce(P) -> Q) -> Feature<Q> {
        Feature {
            kind: self.kind,
            id: self.id,
            geometry: self.geometry,
            properties: f(self.properties),
            links: self.links,
        }
    }

    /// This feature with a numeric id.
    pub fn with_id(mut self, id: u32) -> Self {
        self.id = Some(FeatureId::Number(u64::from(id)));
        self
    }

    /// This feature with a textual id.
    pub fn with_code(mut self, code: String) -> Self {
        self.id = Some(FeatureId::Text(code));
        self
    }
}

/// A GeoJSON FeatureCollection of features with properties `P`; the paging members are those of
/// OGC API – Features and are present where the endpoint pages.
#[derive(Debug, Clone, Serialize, ToSchema, Deserialize)]
pub struct FeatureCollection<P> {
    /// Always `FeatureCollection`.
    #[serde(rename = "type")]
    pub kind: FeatureCollectionType,
    /// When the answer was made (RFC 3339), on paged answers.
    #[serde(rename = "timeStamp", skip_serializing_if = "Option::is_none")]
    pub time_stamp: Option<String>,
    /// How many features match the request, on paged answers.
    #[serde(rename = "numberMatched", skip_serializing_if = "Option::is_none")]
    pub number_matched: Option<usize>,
    /// How many features this answer carries, on paged answers.
    #[serde(rename = "numberReturned", skip_serializing_if = "Option::is_none")]
    pub number_returned: Option<usize>,
    /// Links to this page and its neighbours, on paged answers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub links: Option<Vec<Link>>,
    /// The features.
    pub features: Vec<Feature<P>>,
}

impl<P> FeatureCollection<P> {
    /// A collection of features, without paging members.
    pub fn new(features: Vec<Feature<P>>) -> Self {
        Self {
            kind: FeatureCollectionType::FeatureCollection,
            time_stamp: None,
            number_matched: None,
            number_returned: None,
            links: None,
            features,
        }
    }
}

/// A GeoJSON geometry, as the `geojson` crate writes it (the schema of [`geojson::Geometry`]).
#[derive(Debug, Serialize, ToSchema)]
#[serde(tag = "type")]
#[allow(dead_code)]
pub enum Geometry {
    /// A point.
    Point {
        /// Its position.
        coordinates: Vec<f64>,
    },
    /// Several points.
    MultiPoint {
        /// Their positions.
        coordinates: Vec<Vec<f64>>,
    },
    /// A line.
    LineString {
        /// Its vertices.
        coordinates: Vec<Vec<f64>>,
    },
    /// Several lines.
    MultiLineString {
        /// Their vertices.
        coordinates: Vec<Vec<Vec<f64>>>,
    },
    /// A polygon: an outer ring, then its holes.
    Polygon {
        /// Its rings.
        coordinates: Vec<Vec<Vec<f64>>>,
    },
    /// Several polygons.
    MultiPolygon {
        /// Their rings.
        coordinates: Vec<Vec<Vec<Vec<f64>>>>,
    },
}
