//! Who may call which route: one table, [`TABLE`], with one [`Rule`] per route (method and path
//! template as the router registers them), and the one decision made from it, [`decide`]. A
//! route without a rule refuses everyone (fail closed); an anonymous caller is refused on every
//! route that is not [`Access::Public`]. The HTTP layer applies it to every request before any
//! handler runs; handlers then narrow what the caller sees with its scope.

use super::Role;

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, signed in or not: `/health`, the login, the web map's files.
    Public,
    /// Any signed-in user, whatever their role (their own session and tokens, the API's
    /// description, unknown API paths answered 404).
    Authenticated,
    /// Signed-in users of these roles only.
    Roles(&'static [Role]),
}

impl Access {
    /// True when a caller of `role` (`None`: anonymous) passes.
    pub fn admits(self, role: Option<Role>) -> bool {
        match (self, role) {
            (Access::Public, _) => true,
            (_, None) => false,
            (Access::Authenticated, Some(_)) => true,
            (Access::Roles(roles), Some(r)) => roles.contains(&r),
        }
    }
}

/// One route's policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// The HTTP method, upper case (`HEAD` is decided as `GET`).
    pub method: &'static str,
    /// The path template as the router registers it, e.g. `/api/grids/{id}`.
    pub path: &'static str,
    /// Who may call it.
    pub access: Access,
}

use Role::{Auditor, Caseworker, Center, Leader, Supervisor, Sysadmin};

/// The roles that work with the register: the district's places and their counts, each within
/// its scope (a leader's aggregates only). Administrators are not among them.
pub const REGISTER: &[Role] = &[Center, Supervisor, Caseworker, Leader];
/// The roles that see places below the grid (buildings, candidates) and the caseworkers of
/// their scope: not leaders (aggregates only), not administrators.
pub const OPERATIONS: &[Role] = &[Center, Supervisor, Caseworker];
/// The roles that plan territory and campaigns: a supervisor for their street, the center.
pub const PLANNERS: &[Role] = &[Center, Supervisor];
/// Who records visits: a caseworker in their grids, the center.
pub const VISITORS: &[Role] = &[Center, Caseworker];
/// Who rewrites the register by import: the center only.
pub const IMPORTERS: &[Role] = &[Center];
/// Who reads the audit log: the auditor only.
pub const AUDITORS: &[Role] = &[Auditor];
/// Who scrapes the server's operational figures (`/metrics`, no register data): the system
/// administrator and the auditor.
pub const MONITORS: &[Role] = &[Sysadmin, Auditor];

const fn rule(method: &'static str, path: &'static str, access: Access) -> Rule {
    Rule { method, path, access }
}

const PUBLIC: Access = Access::Public;
const ANY: Access = Access::Authenticated;
const fn roles(r: &'static [Role]) -> Access {
    Access::Roles(r)
}

/// Every route's policy. A route the router gains without a rule here refuses everyone with
/// 403, and the route-by-role test names it.
pub const TABLE: &[Rule] = &[
    // System and identity.
    rule("GET", "/health", PUBLIC),
    rule("GET", "/health/live", PUBLIC),
    rule("GET", "/health/ready", PUBLIC),
    rule("GET", "/metrics", roles(MONITORS)),
    rule("POST", "/api/login", PUBLIC),
    rule("POST", "/api/logout", ANY),
    rule("GET", "/api/me", ANY),
    rule("POST", "/api/tokens", ANY),
    rule("GET", "/api/tokens", ANY),
    rule("DELETE", "/api/tokens/{id}", ANY),
    rule("GET", "/api/audit", roles(AUDITORS)),
    rule("GET", "/api", ANY),
    rule("GET", "/api/{*rest}", ANY),
    // The district and its places: aggregates, within scope.
    rule("GET", "/api/district", roles(REGISTER)),
    rule("GET", "/api/grids", roles(REGISTER)),
    rule("GET", "/api/grids/{id}", roles(REGISTER)),
    rule("GET", "/api/basemap", roles(REGISTER)),
    // The basemaps on offer, with the Tianditu key when there is one: signed-in map users only.
    rule("GET", "/api/map-config", roles(REGISTER)),
    rule("GET", "/api/stats", roles(REGISTER)),
    rule("GET", "/api/summary", roles(REGISTER)),
    // A place for the drill-down: its breadcrumb, figures and trend; a grid's buildings not for leaders.
    rule("GET", "/api/places/{place}", roles(REGISTER)),
    // Search within scope: a leader finds areas only, persons only the roles that read them.
    rule("GET", "/api/search", roles(REGISTER)),
    // What changed, for open maps: versions, grids and tiles, within scope.
    rule("GET", "/api/events", roles(REGISTER)),
    rule("GET", "/api/hotspots", roles(REGISTER)),
    rule("GET", "/api/staffing", roles(REGISTER)),
    rule("GET", "/api/exports/{file}", roles(REGISTER)),
    // Below the grid, and the caseworkers by name: not for leaders.
    rule("GET", "/api/buildings", roles(OPERATIONS)),
    rule("GET", "/api/buildings/{id}", roles(OPERATIONS)),
    rule("GET", "/api/coverage", roles(OPERATIONS)),
    rule("GET", "/api/assessment", roles(OPERATIONS)),
    rule("GET", "/api/spot-checks", roles(OPERATIONS)),
    rule("GET", "/api/unregistered-candidates", roles(OPERATIONS)),
    // Person records and household cards: masked, audited, within scope.
    rule("GET", "/api/persons", roles(OPERATIONS)),
    rule("GET", "/api/persons/{id}", roles(OPERATIONS)),
    rule("GET", "/api/units/{id}", roles(OPERATIONS)),
    // A building's rental units, empty ones too (no person named): where a card is opened from.
    rule("GET", "/api/buildings/{id}/units", roles(OPERATIONS)),
    // A building's KPIs month by month, for the drill-down (no person named).
    rule("GET", "/api/buildings/{id}/trend", roles(OPERATIONS)),
    // Door plates: printed and scanned within scope; revoked by who answers for the area.
    rule("GET", "/api/buildings/{id}/plates", roles(OPERATIONS)),
    rule("GET", "/api/plates/{token}", roles(OPERATIONS)),
    rule("POST", "/api/plates/{token}/revoke", roles(PLANNERS)),
    // Territory and campaigns.
    rule("POST", "/api/territory/proposals", roles(PLANNERS)),
    rule("GET", "/api/territory/proposals/{id}", roles(PLANNERS)),
    rule("POST", "/api/territory/proposals/{id}/accept", roles(PLANNERS)),
    rule("GET", "/api/campaigns", roles(OPERATIONS)),
    rule("POST", "/api/campaigns", roles(PLANNERS)),
    rule("GET", "/api/campaigns/{id}", roles(OPERATIONS)),
    rule("GET", "/api/campaigns/{id}/routes", roles(OPERATIONS)),
    rule("GET", "/api/campaigns/{id}/visits", roles(OPERATIONS)),
    rule("POST", "/api/campaigns/{id}/blocks/{block}/phase", roles(OPERATIONS)),
    // Writes to the register.
    rule("POST", "/api/visits", roles(VISITORS)),
    // At the door (一户一卡): persons registered, moved, left and edited, by whoever records
    // visits; conflicts between edits resolved by them or a supervisor, within scope.
    rule("POST", "/api/units/{id}/persons", roles(VISITORS)),
    rule("PATCH", "/api/persons/{id}", roles(VISITORS)),
    rule("POST", "/api/persons/{id}/departure", roles(VISITORS)),
    rule("GET", "/api/conflicts", roles(OPERATIONS)),
    rule("POST", "/api/conflicts/{id}/resolve", roles(OPERATIONS)),
    // Writes made far from their building: leads for a supervisor's spot checks.
    rule("GET", "/api/field/flags", roles(PLANNERS)),
    // Buildings not visited for too long, per caseworker.
    rule("GET", "/api/overdue", roles(OPERATIONS)),
    // Hazards to closure (整治): recorded, reported rectified and photographed by whoever records
    // visits; assigned, verified and reopened by who answers for the area; read within scope.
    rule("GET", "/api/hazard-kinds", roles(OPERATIONS)),
    rule("POST", "/api/buildings/{id}/hazards", roles(VISITORS)),
    rule("GET", "/api/hazards", roles(OPERATIONS)),
    rule("GET", "/api/hazards/{id}", roles(OPERATIONS)),
    rule("POST", "/api/hazards/{id}/assign", roles(PLANNERS)),
    rule("POST", "/api/hazards/{id}/rectified", roles(VISITORS)),
    rule("POST", "/api/hazards/{id}/verify", roles(PLANNERS)),
    rule("POST", "/api/hazards/{id}/reopen", roles(PLANNERS)),
    rule("POST", "/api/hazards/{id}/photos", roles(VISITORS)),
    rule("GET", "/api/hazards/{id}/photos/{photo}", roles(OPERATIONS)),
    rule("POST", "/api/imports/{kind}", roles(IMPORTERS)),
    // Vector tiles (a leader's layers are narrowed by the handler).
    rule("GET", "/tiles/{layer}/{z}/{x}/{y}", roles(REGISTER)),
    rule("GET", "/tiles/{file}", roles(REGISTER)),
    // The fonts map labels are drawn with: the same for everyone who draws the map.
    rule("GET", "/fonts.json", roles(REGISTER)),
    rule("GET", "/fonts/{fontstack}/{range}", roles(REGISTER)),
    // OGC API – Features (a leader's collections are narrowed by the handler).
    rule("GET", "/conformance", roles(REGISTER)),
    rule("GET", "/collections", roles(REGISTER)),
    rule("GET", "/collections/{collectionId}", roles(REGISTER)),
    rule("GET", "/collections/{id}/items", roles(REGISTER)),
    rule("GET", "/collections/{id}/items/{fid}", roles(REGISTER)),
];

/// Who may ask `/` for the OGC landing page (JSON); browsers asking for the web map pass.
pub const LANDING: Access = Access::Roles(REGISTER);

/// Paths the router answers without a route (its fallback) that still need a signed-in caller:
/// everything under them is data, or says what data there is.
pub const PROTECTED_PREFIXES: [&str; 5] = ["/api", "/tiles", "/fonts", "/collections", "/conformance"];

/// What a request asks for, as the policy sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target<'a> {
    /// A route: its method and path template.
    Route {
        /// The method.
        method: &'a str,
        /// The template the router matched.
        path: &'a str,
    },
    /// The OGC landing page at `/` (a client asking for JSON).
    Landing,
    /// No route matched: the web map's files, or a 404, at this path.
    Unrouted {
        /// The request's path.
        path: &'a str,
    },
}

/// The outcome of [`decide`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Go on.
    Allow,
    /// Anonymous where a signed-in user is needed: 401.
    Unauthenticated,
    /// Signed in, but not allowed: 403, with the reason.
    Forbidden(String),
    /// A route the table has, asked with a method it has no rule for: 405, with the methods
    /// it has (whoever asks: the table is public in the OpenAPI document).
    MethodNotAllowed(Vec<&'static str>),
}

/// The rule of `method` (`HEAD` as `GET`) on the path template `path`, if the table has one.
pub fn rule_for(method: &str, path: &str) -> Option<&'static Rule> {
    let method = if method.eq_ignore_ascii_case("HEAD") { "GET" } else { method };
    TABLE.iter().find(|r| r.method.eq_ignore_ascii_case(method) && r.path == path)
}

/// The methods the table has rules for on the path template `path` (`GET` with `HEAD`).
pub fn methods_on(path: &str) -> Vec<&'static str> {
    let mut methods: Vec<&'static str> = TABLE.iter().filter(|r| r.path == path).map(|r| r.method).collect();
    if methods.contains(&"GET") {
        methods.push("HEAD");
    }
    methods
}

/// True when `path` lies under one of [`PROTECTED_PREFIXES`] (the prefix itself, or below it).
fn protected(path: &str) -> bool {
    PROTECTED_PREFIXES.iter().any(|p| path.strip_prefix(p).is_some_and(|rest| rest.is_empty() || rest.starts_with('/')))
}

/// May a caller of `role` (`None`: anonymous) have `target`?
pub fn decide(target: Target<'_>, role: Option<Role>) -> Decision {
    let (access, what) = match target {
        Target::Route { method, path } => match rule_for(method, path) {
            Some(r) => (r.access, format!("{} {}", r.method, r.path)),
            None if TABLE.iter().any(|r| r.path == path) => return Decision::MethodNotAllowed(methods_on(path)),
            None if role.is_none() => return Decision::Unauthenticated,
            None => return Decision::Forbidden(format!("{method} {path} has no access policy, so it is refused")),
        },
        Target::Landing => (LANDING, "the landing page".to_owned()),
        Target::Unrouted { path } if protected(path) => (Access::Authenticated, path.to_owned()),
        Target::Unrouted { .. } => (Access::Public, String::new()),
    };
    match role {
        _ if access.admits(role) => Decision::Allow,
        None => Decision::Unauthenticated,
        Some(r) => Decision::Forbidden(format!("the role {r} may not use {what}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn route<'a>(method: &'a str, path: &'a str) -> Target<'a> {
        Target::Route { method, path }
    }

    #[test]
    fn each_route_has_one_rule() {
        let mut seen = BTreeSet::new();
        for r in TABLE {
            assert!(seen.insert((r.method, r.path)), "{} {} twice", r.method, r.path);
            assert!(r.path.starts_with('/') && r.method.chars().all(|c| c.is_ascii_uppercase()), "{r:?}");
        }
    }

    #[test]
    fn anonymous_callers_get_only_what_is_public() {
        assert_eq!(decide(route("GET", "/health"), None), Decision::Allow);
        assert_eq!(decide(route("HEAD", "/health"), None), Decision::Allow);
        assert_eq!(decide(route("POST", "/api/login"), None), Decision::Allow);
        for r in TABLE.iter().filter(|r| r.access != Access::Public) {
            assert_eq!(decide(route(r.method, r.path), None), Decision::Unauthenticated, "{r:?}");
        }
        assert_eq!(decide(route("GET", "/api/none-such"), None), Decision::Unauthenticated);
        // A route asked with a method it does not take: 405 naming those it takes, to anyone.
        for role in [None, Some(Role::Center)] {
            assert_eq!(decide(route("DELETE", "/health"), role), Decision::MethodNotAllowed(vec!["GET", "HEAD"]));
        }
        assert_eq!(decide(Target::Landing, None), Decision::Unauthenticated);
        for path in ["/api", "/api/x", "/tiles/x", "/fonts/x", "/collections", "/collections/x/y", "/conformance/"] {
            assert_eq!(decide(Target::Unrouted { path }, None), Decision::Unauthenticated, "{path}");
        }
        for path in ["/", "/index.html", "/assets/app.js", "/apix", "/tilesets.json"] {
            assert_eq!(decide(Target::Unrouted { path }, None), Decision::Allow, "{path}");
        }
    }

    #[test]
    fn a_route_without_a_rule_refuses_every_role() {
        for r in Role::ALL {
            assert!(matches!(decide(route("GET", "/api/new-thing"), Some(r)), Decision::Forbidden(_)));
            // A method of a known route without a rule (say, a handler added without one) never
            // reaches a handler either: 405, naming only the methods that have rules.
            assert_eq!(decide(route("DELETE", "/api/grids"), Some(r)), Decision::MethodNotAllowed(vec!["GET", "HEAD"]));
        }
    }

    #[test]
    fn roles_get_what_the_issue_gives_them() {
        let allowed = |method: &str, path: &str| -> Vec<Role> {
            Role::ALL.into_iter().filter(|&r| decide(route(method, path), Some(r)) == Decision::Allow).collect()
        };
        assert_eq!(allowed("POST", "/api/imports/{kind}"), [Center]);
        assert_eq!(allowed("POST", "/api/visits"), [Center, Caseworker]);
        assert_eq!(allowed("POST", "/api/territory/proposals/{id}/accept"), [Center, Supervisor]);
        assert_eq!(allowed("GET", "/api/assessment"), [Center, Supervisor, Caseworker]);
        assert_eq!(allowed("GET", "/api/spot-checks"), [Center, Supervisor, Caseworker]);
        assert_eq!(allowed("GET", "/api/plates/{token}"), [Center, Supervisor, Caseworker]);
        assert_eq!(allowed("POST", "/api/plates/{token}/revoke"), [Center, Supervisor]);
        assert_eq!(allowed("GET", "/api/grids"), [Center, Supervisor, Caseworker, Leader]);
        assert_eq!(allowed("GET", "/api/audit"), [Auditor]);
        assert_eq!(allowed("GET", "/metrics"), [Sysadmin, Auditor]);
        assert_eq!(allowed("GET", "/api/me"), Role::ALL);
        // No administrator reads the register, and a leader nothing below the grid.
        for r in TABLE {
            if let Access::Roles(roles) = r.access {
                let reads_register = !matches!(r.path, "/api/audit" | "/metrics");
                assert!(!reads_register || roles.iter().all(|r| !r.is_administrator()), "{r:?}");
                if roles.contains(&Leader) {
                    assert!(r.method == "GET", "a leader only reads: {r:?}");
                }
            }
        }
        for path in ["/api/buildings", "/api/buildings/{id}", "/api/coverage", "/api/unregistered-candidates"] {
            assert!(!allowed("GET", path).contains(&Leader), "{path}");
        }
    }
}
