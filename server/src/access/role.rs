//! The roles of rentgrid's users. Four work with the register (指挥中心, 流管办, 综管员, 领导);
//! three administer it, separated as MLPS level 3 (等保三级 三员分立) asks: none of them reads a
//! person's record.

use std::fmt;
use std::str::FromStr;

/// A user's role.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// 指挥中心 command center: every record of the district.
    Center,
    /// 流管办 supervisor: their street.
    Supervisor,
    /// 综管员 caseworker: their contracted grids (包干网格).
    Caseworker,
    /// 领导 leader: aggregates of the district only, small counts suppressed.
    Leader,
    /// 系统管理员 system administrator: users and tokens only.
    Sysadmin,
    /// 安全管理员 security administrator: roles and scopes only.
    Secadmin,
    /// 安全审计员 auditor: reads the audit log only.
    Auditor,
}

impl Role {
    /// Every role, in a fixed order.
    pub const ALL: [Role; 7] =
        [Role::Center, Role::Supervisor, Role::Caseworker, Role::Leader, Role::Sysadmin, Role::Secadmin, Role::Auditor];

    /// The name used in the CLI, the API and the store.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Center => "center",
            Role::Supervisor => "supervisor",
            Role::Caseworker => "caseworker",
            Role::Leader => "leader",
            Role::Sysadmin => "sysadmin",
            Role::Secadmin => "secadmin",
            Role::Auditor => "auditor",
        }
    }

    /// The Chinese name shown in the web map.
    pub fn zh(self) -> &'static str {
        match self {
            Role::Center => "指挥中心",
            Role::Supervisor => "流管办",
            Role::Caseworker => "综管员",
            Role::Leader => "领导",
            Role::Sysadmin => "系统管理员",
            Role::Secadmin => "安全管理员",
            Role::Auditor => "安全审计员",
        }
    }

    /// True for the three administrators, who never read the register.
    pub fn is_administrator(self) -> bool {
        matches!(self, Role::Sysadmin | Role::Secadmin | Role::Auditor)
    }

    /// True when the role may read person-level records (masked) within its scope.
    pub fn reads_persons(self) -> bool {
        matches!(self, Role::Center | Role::Supervisor | Role::Caseworker)
    }

    /// True when the role may see a person's fields unmasked, with a stated reason.
    pub fn may_reveal(self) -> bool {
        self.reads_persons()
    }

    /// True when the role sees aggregates only, with counts under [`SUPPRESS_BELOW`] suppressed.
    pub fn aggregates_only(self) -> bool {
        self == Role::Leader
    }
}

/// Counts of persons under this are suppressed in what a leader sees (k-anonymity, k = 5).
pub const SUPPRESS_BELOW: u64 = 5;

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL.into_iter().find(|r| r.as_str() == s).ok_or_else(|| {
            let names: Vec<&str> = Role::ALL.iter().map(|r| r.as_str()).collect();
            format!("unknown role {s:?}: the roles are {}", names.join(", "))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_administrators_read_no_person() {
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>(), Ok(r));
            assert_eq!(serde_json::to_value(r).ok(), Some(serde_json::Value::from(r.as_str())));
            assert!(!(r.is_administrator() && r.reads_persons()), "{r}");
        }
        assert!("admin".parse::<Role>().is_err_and(|e| e.contains("sysadmin")));
        assert!(!Role::Leader.reads_persons() && Role::Leader.aggregates_only());
    }
}
