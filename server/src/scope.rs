//! What a request may see. Every read path takes a [`Scope`], derived once per request from the
//! signed-in [`Principal`] (fail closed: no principal, no scope, 401): the command center and
//! leaders see the district (leaders as aggregates only), a supervisor the grids of their
//! street, a caseworker the grids of their 包干 contracts as the store holds them now (and any
//! grids given to them explicitly), an administrator no grid at all.

use crate::access::Principal;
use rentgrid_geodata::{Atlas, Caseworker, CaseworkerId, GridId};
use std::collections::BTreeSet;

pub use crate::access::Role;

/// What one request may see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    /// The role.
    pub role: Role,
    /// The grids it may see; `None` means all of the district.
    pub grids: Option<BTreeSet<GridId>>,
    /// The caseworker a caseworker user is: they see their own assessment row and area only.
    pub caseworker: Option<CaseworkerId>,
}

impl Scope {
    /// The command center's scope: everything.
    pub fn everything() -> Self {
        Self { role: Role::Center, grids: None, caseworker: None }
    }

    /// A scope of `role` limited to `grids`.
    pub fn of_grids(role: Role, grids: impl IntoIterator<Item = GridId>) -> Self {
        Self { role, grids: Some(grids.into_iter().collect()), caseworker: None }
    }

    /// True when this scope may see `grid`.
    pub fn sees_grid(&self, grid: GridId) -> bool {
        self.grids.as_ref().is_none_or(|g| g.contains(&grid))
    }

    /// True when this scope sees every one of `grids` (a place partly outside it is not shown).
    pub fn sees_all(&self, grids: &[GridId]) -> bool {
        grids.iter().all(|&g| self.sees_grid(g))
    }

    /// True when this scope sees aggregates only (a leader): no record of a person, a household
    /// or a building, small counts suppressed.
    pub fn aggregates_only(&self) -> bool {
        self.role.aggregates_only()
    }

    /// The scope of `principal` over `atlas`; `caseworkers` are the contracts as stored now
    /// (read for caseworker users only). Grid codes the Atlas does not know give no grid.
    pub fn derive(principal: &Principal, atlas: &Atlas, caseworkers: &[Caseworker]) -> Self {
        let explicit = || principal.grids.iter().filter_map(|code| atlas.grid_by_code(code));
        match principal.role {
            Role::Center | Role::Leader => Self { role: principal.role, grids: None, caseworker: None },
            Role::Supervisor => {
                let street = principal
                    .street
                    .as_deref()
                    .and_then(|code| atlas.streets().iter().find(|s| s.street.code == code))
                    .map(|s| s.grids.as_slice())
                    .unwrap_or_default();
                Self::of_grids(Role::Supervisor, street.iter().copied().chain(explicit()))
            }
            Role::Caseworker => {
                let me = principal.caseworker;
                let contracted = caseworkers.iter().filter(|c| Some(c.id) == me).flat_map(|c| c.grids.iter().copied());
                Self { caseworker: me, ..Self::of_grids(Role::Caseworker, contracted.chain(explicit())) }
            }
            Role::Sysadmin | Role::Secadmin | Role::Auditor => Self::of_grids(principal.role, []),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::Credential;
    use rentgrid_geodata::AtlasInput;
    use rentgrid_geodata::demo::{self, DemoOptions};

    #[test]
    fn a_limited_scope_sees_only_its_grids() {
        let s = Scope::of_grids(Role::Caseworker, [3, 5]);
        assert!(s.sees_grid(3) && !s.sees_grid(4));
        assert!(Scope::everything().sees_grid(4));
    }

    fn principal(role: Role) -> Principal {
        Principal {
            user_id: 1,
            username: "u".into(),
            role,
            street: None,
            grids: Vec::new(),
            caseworker: None,
            credential: Credential::Token { id: 1 },
        }
    }

    #[test]
    fn each_role_gets_its_part_of_the_district() {
        let city = demo::generate(&DemoOptions { scale: 0.05, ..Default::default() }, &mut |_, _| {}).unwrap();
        let atlas = Atlas::build(AtlasInput::from_city(&city)).unwrap();
        let caseworkers = city.caseworkers.clone();
        let derive = |p: &Principal| Scope::derive(p, &atlas, &caseworkers);

        assert_eq!(derive(&principal(Role::Center)).grids, None);
        let leader = derive(&principal(Role::Leader));
        assert!(leader.grids.is_none() && leader.aggregates_only());
        for admin in [Role::Sysadmin, Role::Secadmin, Role::Auditor] {
            let s = derive(&principal(admin));
            assert_eq!(s.grids, Some(BTreeSet::new()), "{admin}");
        }

        let street = &atlas.streets()[1];
        let sup = derive(&Principal { street: Some(street.street.code.clone()), ..principal(Role::Supervisor) });
        assert_eq!(sup.grids, Some(street.grids.iter().copied().collect()));
        let lost = derive(&Principal { street: Some("nowhere".into()), ..principal(Role::Supervisor) });
        assert_eq!(lost.grids, Some(BTreeSet::new()), "an unknown street sees nothing");

        let me = caseworkers.iter().find(|c| c.grids.len() > 1).unwrap();
        let extra = atlas.grids().iter().find(|g| !me.grids.contains(&g.grid.id)).unwrap();
        let cw = derive(&Principal {
            caseworker: Some(me.id),
            grids: vec![extra.grid.code.clone(), "no-such-grid".into()],
            ..principal(Role::Caseworker)
        });
        let mut want: BTreeSet<GridId> = me.grids.iter().copied().collect();
        want.insert(extra.grid.id);
        assert_eq!(cw.grids, Some(want));
        assert_eq!(cw.caseworker, Some(me.id));
        // Contracts changed: the scope follows them.
        let moved: Vec<Caseworker> = caseworkers
            .iter()
            .cloned()
            .map(|mut c| {
                if c.id == me.id {
                    c.grids = vec![extra.grid.id];
                    c
                } else {
                    c
                }
            })
            .collect();
        let after =
            Scope::derive(&Principal { caseworker: Some(me.id), ..principal(Role::Caseworker) }, &atlas, &moved);
        assert_eq!(after.grids, Some([extra.grid.id].into_iter().collect()));
        let nobody = derive(&principal(Role::Caseworker));
        assert_eq!(nobody.grids, Some(BTreeSet::new()), "a caseworker user who is no caseworker sees nothing");
    }
}
