//! The names the store writes for the domain's kinds, and reading them back.

use rentgrid_geodata::{CommunityKind, StreetKind};

/// The stored name of a street kind.
pub fn street_kind_str(k: StreetKind) -> &'static str {
    match k {
        StreetKind::Subdistrict => "subdistrict",
        StreetKind::Town => "town",
        StreetKind::Township => "township",
    }
}

/// Parses [`street_kind_str`].
pub fn parse_street_kind(s: &str) -> Option<StreetKind> {
    [StreetKind::Subdistrict, StreetKind::Town, StreetKind::Township].into_iter().find(|k| street_kind_str(*k) == s)
}

/// The stored name of a community kind.
pub fn community_kind_str(k: CommunityKind) -> &'static str {
    match k {
        CommunityKind::Urban => "urban",
        CommunityKind::UrbanVillage => "urban_village",
        CommunityKind::Industrial => "industrial",
        CommunityKind::Rural => "rural",
    }
}

/// Parses [`community_kind_str`].
pub fn parse_community_kind(s: &str) -> Option<CommunityKind> {
    [CommunityKind::Urban, CommunityKind::UrbanVillage, CommunityKind::Industrial, CommunityKind::Rural]
        .into_iter()
        .find(|k| community_kind_str(*k) == s)
}
