//! Who is asking and what they may see. Every read path takes a [`Scope`], derived once per
//! request here. Until login lands there is one role, the command center, which sees the whole
//! district; no endpoint returns person-level records.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use rentgrid_geodata::GridId;
use std::collections::BTreeSet;
use std::convert::Infallible;

pub use crate::access::Role;

/// What one request may see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    /// The role.
    pub role: Role,
    /// The grids it may see; `None` means all of the district.
    pub grids: Option<BTreeSet<GridId>>,
}

impl Scope {
    /// The command center's scope: everything.
    pub fn everything() -> Self {
        Self { role: Role::Center, grids: None }
    }

    /// True when this scope may see `grid`.
    pub fn sees_grid(&self, grid: GridId) -> bool {
        self.grids.as_ref().is_none_or(|g| g.contains(&grid))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Scope {
    type Rejection = Infallible;

    async fn from_request_parts(_parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Scope::everything())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_limited_scope_sees_only_its_grids() {
        let s = Scope { role: Role::Caseworker, grids: Some([3, 5].into_iter().collect()) };
        assert!(s.sees_grid(3) && !s.sees_grid(4));
        assert!(Scope::everything().sees_grid(4));
    }
}
