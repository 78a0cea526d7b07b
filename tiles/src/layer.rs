//! The map layers the tiles serve, and the vocabulary of what each holds, as TileJSON 3.0
//! `vector_layers` say it (each layer's own table is in its builder module, [`crate::layers`]).

use crate::Error;
use std::str::FromStr;

/// A tile set: the path segment of `/tiles/{layer}/{z}/{x}/{y}.mvt`. Each draws one or more MVT
/// layers ([`Layer::vector_layers`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Layer {
    /// 网格 grids with their KPIs.
    Grids,
    /// 楼栋 building footprints (clustered points at low zoom).
    Buildings,
    /// 出租房屋 rental units, one point per building that has any.
    RentalUnits,
    /// 单位 workplaces.
    Workplaces,
    /// 街道 and 社区 areas and the lines between them.
    Boundaries,
    /// The base map drawn from our own data: district outline, blocks, roads.
    Basemap,
    /// 核密度 the kernel density surface of persons, rental units or unregistered persons.
    Heat,
}

impl Layer {
    /// Every layer, in a fixed order.
    pub const ALL: [Layer; 7] = [
        Layer::Grids,
        Layer::Buildings,
        Layer::RentalUnits,
        Layer::Workplaces,
        Layer::Boundaries,
        Layer::Basemap,
        Layer::Heat,
    ];

    /// The name in URLs and TileJSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Layer::Grids => "grids",
            Layer::Buildings => "buildings",
            Layer::RentalUnits => "rental_units",
            Layer::Workplaces => "workplaces",
            Layer::Boundaries => "boundaries",
            Layer::Basemap => "basemap",
            Layer::Heat => "heat",
        }
    }

    /// True for point layers, which cluster (a change moves clusters up to a tile away).
    pub fn clusters(self) -> bool {
        matches!(self, Layer::Buildings | Layer::RentalUnits | Layer::Workplaces)
    }
}

impl std::fmt::Display for Layer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Layer {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Layer::ALL.into_iter().find(|l| l.as_str() == s).ok_or_else(|| Error::UnknownLayer(s.to_owned()))
    }
}

/// The type of a property, as TileJSON and tippecanoe name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    /// A number (integer or double).
    Number,
    /// A string.
    String,
    /// A boolean.
    Boolean,
}

impl FieldType {
    /// `"Number"`, `"String"` or `"Boolean"`.
    pub fn as_str(self) -> &'static str {
        match self {
            FieldType::Number => "Number",
            FieldType::String => "String",
            FieldType::Boolean => "Boolean",
        }
    }
}

/// A property of an MVT layer's features.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    /// The key.
    pub name: &'static str,
    /// Its type.
    pub kind: FieldType,
    /// What it means (TileJSON `fields` maps names to such descriptions).
    pub description: &'static str,
}

/// One entry of TileJSON 3.0 `vector_layers`: an MVT layer, its fields and zooms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VectorLayer {
    /// The MVT layer's name.
    pub id: &'static str,
    /// What it draws.
    pub description: &'static str,
    /// Its properties; a feature may lack one (a rate with no denominator is left out).
    pub fields: &'static [Field],
    /// Lowest zoom it appears at.
    pub minzoom: u8,
    /// Highest zoom it is built at.
    pub maxzoom: u8,
}

/// Shorthand for the field tables of the layer modules.
pub(crate) const fn field(name: &'static str, kind: FieldType, description: &'static str) -> Field {
    Field { name, kind, description }
}

/// The flag every clustered point layer sets on a cluster.
pub(crate) const CLUSTER: Field = field("cluster", FieldType::Boolean, "True on a cluster (absent on a lone point)");
/// How many points a cluster stands for.
pub(crate) const POINT_COUNT: Field = field("point_count", FieldType::Number, "Points in the cluster");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for l in Layer::ALL {
            assert_eq!(l.as_str().parse::<Layer>().unwrap(), l);
        }
        assert!("roads".parse::<Layer>().is_err());
    }
}
