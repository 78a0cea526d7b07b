//! The demo city's users: one per role with a documented password, and one per caseworker
//! (`cw<id>`), so that every view can be shown. The README lists [`DEMO_USERS`]; nothing but a
//! demo city gets them.

use super::Role;

/// A demo user of one role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DemoUser {
    /// Login name.
    pub username: &'static str,
    /// Role.
    pub role: Role,
    /// Password (public: this is a demo).
    pub password: &'static str,
    /// What their scope is in the demo city.
    pub sees: &'static str,
}

/// One demo user per role. The supervisor answers for the demo city's first street; the
/// caseworker is the first caseworker of that street.
pub const DEMO_USERS: [DemoUser; 7] = [
    DemoUser { username: "center", role: Role::Center, password: "center-demo-2026", sees: "the whole district" },
    DemoUser {
        username: "supervisor",
        role: Role::Supervisor,
        password: "supervisor-demo-2026",
        sees: "the first street",
    },
    DemoUser {
        username: "caseworker",
        role: Role::Caseworker,
        password: "caseworker-demo-2026",
        sees: "the contracted grids of the first caseworker of the first street",
    },
    DemoUser { username: "leader", role: Role::Leader, password: "leader-demo-2026", sees: "district aggregates" },
    DemoUser { username: "sysadmin", role: Role::Sysadmin, password: "sysadmin-demo-2026", sees: "users and tokens" },
    DemoUser { username: "secadmin", role: Role::Secadmin, password: "secadmin-demo-2026", sees: "roles and scopes" },
    DemoUser { username: "auditor", role: Role::Auditor, password: "auditor-demo-2026", sees: "the audit log" },
];

/// The demo login of caseworker `id`: (username, password), e.g. (`cw12`, `cw12-demo-2026`).
pub fn caseworker_login(id: u32) -> (String, String) {
    (format!("cw{id}"), format!("cw{id}-demo-2026"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_user_per_role_each_password_long_enough() {
        for (u, r) in DEMO_USERS.iter().zip(Role::ALL) {
            assert_eq!(u.role, r);
            assert!(u.password.chars().count() >= super::super::password::MIN_LENGTH, "{}", u.username);
        }
        let (name, password) = caseworker_login(1);
        assert_eq!(name, "cw1");
        assert!(password.chars().count() >= super::super::password::MIN_LENGTH);
    }
}
