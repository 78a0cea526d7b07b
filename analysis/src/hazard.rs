//! Safety hazards found at the door, to closure (整治一块): the configurable list of kinds with
//! their rectification deadlines, a case's lifecycle (found → assigned → rectified → verified, or
//! reopened), and when an open case turns yellow (past its deadline) and red (past it by more than
//! its kind allows). No HTTP or SQL here: the store keeps the cases, the API calls these rules.
//!
//! The lifecycle, as a district's 整治 work runs it: a caseworker records a hazard (found); a
//! supervisor assigns it to someone (assigned, again to reassign); the caseworker reports it
//! rectified, on the spot when it was (found → rectified is allowed); a supervisor verifies it
//! (verified: closed) or sends it back (reopened), and a closed case found again at the 巩固
//! re-check is reopened. A reopened case gets a new deadline from the day it was reopened, at
//! its severity as the supervisor judges it then (the same or worse, never milder).
//! Only cases waiting for rectification (found, assigned, reopened) can be overdue: a rectified
//! case waits for the supervisor, not for the caseworker.

use serde::{Deserialize, Serialize};
use std::fmt;
use time::{Date, Duration};

/// How serious a hazard is.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// 一般: rectify within weeks.
    Minor,
    /// 较大: within days.
    Major,
    /// 重大: at once (a blocked fire exit, a gas leak).
    Severe,
}

impl Severity {
    /// The three, least serious first.
    pub const ALL: [Severity; 3] = [Severity::Minor, Severity::Major, Severity::Severe];

    /// The stored and API name.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Minor => "minor",
            Severity::Major => "major",
            Severity::Severe => "severe",
        }
    }

    /// The Chinese name: 一般, 较大, 重大.
    pub fn name_zh(self) -> &'static str {
        match self {
            Severity::Minor => "一般",
            Severity::Major => "较大",
            Severity::Severe => "重大",
        }
    }

    /// The severity named `s` (its code or its Chinese name).
    pub fn parse(s: &str) -> Option<Severity> {
        let s = s.trim();
        Self::ALL.into_iter().find(|v| s.eq_ignore_ascii_case(v.as_str()) || s == v.name_zh())
    }

    /// The severity of a case of this severity once reopened, judged `judged` by the supervisor
    /// (`None`: as it was). A rectification that did not hold may be judged worse, never milder:
    /// a milder severity would give the case a longer deadline than the one it failed.
    pub fn reopened_as(self, judged: Option<Severity>) -> Result<Severity, MilderOnReopen> {
        match judged {
            Some(j) if j < self => Err(MilderOnReopen { was: self, judged: j }),
            Some(j) => Ok(j),
            None => Ok(self),
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name_zh(), self.as_str())
    }
}

/// A case reopened with a milder severity than it had (see [`Severity::reopened_as`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a reopened case may be judged worse, not milder: it is {was}, not {judged}")]
pub struct MilderOnReopen {
    /// Its severity.
    pub was: Severity,
    /// The one asked.
    pub judged: Severity,
}

/// Days to rectify, per severity.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DaysBySeverity {
    /// 一般.
    pub minor: u32,
    /// 较大.
    pub major: u32,
    /// 重大.
    pub severe: u32,
}

impl DaysBySeverity {
    /// The days for `s`.
    pub fn of(&self, s: Severity) -> u32 {
        match s {
            Severity::Minor => self.minor,
            Severity::Major => self.major,
            Severity::Severe => self.severe,
        }
    }
}

/// A kind of hazard and its deadlines.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HazardKind {
    /// Its code, stored with each case (letters, digits and `_`).
    pub code: String,
    /// Its Chinese name.
    pub name_zh: String,
    /// Its English name.
    pub name_en: String,
    /// Days from finding (or reopening) to the deadline, per severity.
    pub days: DaysBySeverity,
    /// Days past the deadline after which an open case is red (yellow until then).
    pub red_after_days: u32,
}

/// What is wrong with a configured list of kinds.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KindsError {
    /// The list is empty.
    #[error("the list of hazard kinds is empty")]
    Empty,
    /// A code is not letters, digits and `_`, or too long.
    #[error("hazard kind {0:?}: a code is 1 to 32 letters, digits or _")]
    BadCode(String),
    /// Two kinds share a code.
    #[error("hazard kind {0:?} is listed twice")]
    Duplicate(String),
    /// A name is empty.
    #[error("hazard kind {0:?}: name_zh and name_en must not be empty")]
    NoName(String),
    /// A deadline is 0 days or over a year, or more serious hazards get longer.
    #[error("hazard kind {0:?}: days must be 1 to 365, and no longer for a more serious severity")]
    BadDays(String),
    /// `red_after_days` is over a year.
    #[error("hazard kind {0:?}: red_after_days must be 0 to 365")]
    BadRed(String),
}

/// The kinds a district records, each checked once when configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HazardKinds(Vec<HazardKind>);

impl HazardKinds {
    /// Checks `kinds`: codes unique and plain, names given, deadlines from 1 to 365 days and no
    /// longer for a more serious severity.
    pub fn new(kinds: Vec<HazardKind>) -> Result<Self, KindsError> {
        if kinds.is_empty() {
            return Err(KindsError::Empty);
        }
        for (i, k) in kinds.iter().enumerate() {
            let plain = |c: char| c.is_ascii_alphanumeric() || c == '_';
            if k.code.is_empty() || k.code.len() > 32 || !k.code.chars().all(plain) {
                return Err(KindsError::BadCode(k.code.clone()));
            }
            if kinds[..i].iter().any(|o| o.code == k.code) {
                return Err(KindsError::Duplicate(k.code.clone()));
            }
            if k.name_zh.trim().is_empty() || k.name_en.trim().is_empty() {
                return Err(KindsError::NoName(k.code.clone()));
            }
            let d = k.days;
            let in_range = [d.minor, d.major, d.severe].iter().all(|n| (1..=365).contains(n));
            if !in_range || d.major > d.minor || d.severe > d.major {
                return Err(KindsError::BadDays(k.code.clone()));
            }
            if k.red_after_days > 365 {
                return Err(KindsError::BadRed(k.code.clone()));
            }
        }
        Ok(Self(kinds))
    }

    /// The kinds, in the configured order.
    pub fn all(&self) -> &[HazardKind] {
        &self.0
    }

    /// The kind with code `code`.
    pub fn get(&self, code: &str) -> Option<&HazardKind> {
        self.0.iter().find(|k| k.code == code)
    }
}

impl Default for HazardKinds {
    /// The kinds the rental-housing safety rules name: blocked fire exits, overcrowding over a
    /// unit's person limit, illegal group renting, gas, electrical wiring, e-bikes charged
    /// indoors, and anything else.
    fn default() -> Self {
        let kind = |code: &str, zh: &str, en: &str, days: [u32; 3], red: u32| HazardKind {
            code: code.into(),
            name_zh: zh.into(),
            name_en: en.into(),
            days: DaysBySeverity { minor: days[0], major: days[1], severe: days[2] },
            red_after_days: red,
        };
        Self(vec![
            kind("fire_exit", "消防通道堵塞", "Fire exit blocked", [7, 3, 1], 3),
            kind("overcrowding", "超员居住", "Overcrowding over the unit's person limit", [30, 15, 7], 7),
            kind("group_renting", "违规群租", "Illegal group renting", [30, 15, 7], 7),
            kind("gas", "燃气隐患", "Gas hazard", [7, 3, 1], 3),
            kind("electrical", "电气隐患（私拉乱接）", "Electrical hazard (improvised wiring)", [7, 3, 1], 3),
            kind("ebike_charging", "电动自行车违规充电", "E-bike charged indoors", [7, 3, 1], 3),
            kind("other", "其他隐患", "Other hazard", [30, 15, 7], 7),
        ])
    }
}

/// Where a case stands.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
// Named apart from the KPI `Status` in the OpenAPI document (one schema per name).
#[cfg_attr(feature = "openapi", schema(as = HazardStatus))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// 发现: recorded at the door.
    Found,
    /// 已交办: a supervisor gave it to someone to rectify.
    Assigned,
    /// 已整改: reported rectified, waiting for the supervisor.
    Rectified,
    /// 已验收: verified; the case is closed.
    Verified,
    /// 重新打开: the rectification did not hold.
    Reopened,
}

impl Status {
    /// All, in lifecycle order.
    pub const ALL: [Status; 5] =
        [Status::Found, Status::Assigned, Status::Rectified, Status::Verified, Status::Reopened];

    /// The stored and API name.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Found => "found",
            Status::Assigned => "assigned",
            Status::Rectified => "rectified",
            Status::Verified => "verified",
            Status::Reopened => "reopened",
        }
    }

    /// The Chinese name.
    pub fn name_zh(self) -> &'static str {
        match self {
            Status::Found => "发现",
            Status::Assigned => "已交办",
            Status::Rectified => "已整改",
            Status::Verified => "已验收",
            Status::Reopened => "重新打开",
        }
    }

    /// The status stored as `s`.
    pub fn parse(s: &str) -> Option<Status> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }

    /// True until verified.
    pub fn is_open(self) -> bool {
        self != Status::Verified
    }

    /// True while the case waits for rectification (its deadline runs).
    pub fn awaits_rectification(self) -> bool {
        matches!(self, Status::Found | Status::Assigned | Status::Reopened)
    }

    /// The statuses a case in this one may move to.
    pub fn next(self) -> &'static [Status] {
        match self {
            Status::Found | Status::Reopened => &[Status::Assigned, Status::Rectified],
            Status::Assigned => &[Status::Assigned, Status::Rectified],
            Status::Rectified => &[Status::Verified, Status::Reopened],
            Status::Verified => &[Status::Reopened],
        }
    }

    /// The move to `to`, if the lifecycle allows it.
    pub fn to(self, to: Status) -> Result<Status, MoveError> {
        if self.next().contains(&to) { Ok(to) } else { Err(MoveError { from: self, to }) }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name_zh(), self.as_str())
    }
}

/// A move the lifecycle does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a case {from} cannot become {to}")]
pub struct MoveError {
    /// Where the case stands.
    pub from: Status,
    /// Where it was asked to go.
    pub to: Status,
}

/// When a case must be rectified, and when it turns red.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadline {
    /// The last day to rectify it; yellow after it.
    pub due_on: Date,
    /// The first day it is red.
    pub red_on: Date,
}

impl HazardKind {
    /// The deadline of a case of this kind at `severity` found (or reopened) on `from`.
    pub fn deadline(&self, severity: Severity, from: Date) -> Deadline {
        let due_on = from.saturating_add(Duration::days(i64::from(self.days.of(severity))));
        let red_on = due_on.saturating_add(Duration::days(i64::from(self.red_after_days) + 1));
        Deadline { due_on, red_on }
    }
}

/// How late an open case is.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Urgency {
    /// Within its deadline, rectified or closed.
    OnTime,
    /// 黄: past its deadline.
    Yellow,
    /// 红: past its deadline by more than its kind allows.
    Red,
}

impl Urgency {
    /// The stored and API name.
    pub fn as_str(self) -> &'static str {
        match self {
            Urgency::OnTime => "on_time",
            Urgency::Yellow => "yellow",
            Urgency::Red => "red",
        }
    }

    /// How late a case in `status` with `deadline` is on `today`.
    pub fn of(status: Status, deadline: Deadline, today: Date) -> Urgency {
        if !status.awaits_rectification() || today <= deadline.due_on {
            Urgency::OnTime
        } else if today < deadline.red_on {
            Urgency::Yellow
        } else {
            Urgency::Red
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn a_severe_fire_exit_is_due_the_next_day_and_red_after_three_more() {
        let kinds = HazardKinds::default();
        let k = kinds.get("fire_exit").unwrap();
        let d = k.deadline(Severity::Severe, date!(2026 - 11 - 30));
        assert_eq!(d.due_on, date!(2026 - 12 - 01));
        assert_eq!(d.red_on, date!(2026 - 12 - 05));
        let at = |day| Urgency::of(Status::Found, d, day);
        assert_eq!(at(date!(2026 - 12 - 01)), Urgency::OnTime);
        assert_eq!(at(date!(2026 - 12 - 02)), Urgency::Yellow);
        assert_eq!(at(date!(2026 - 12 - 04)), Urgency::Yellow);
        assert_eq!(at(date!(2026 - 12 - 05)), Urgency::Red);
        // Rectified, the case waits for the supervisor: not the caseworker's lateness.
        assert_eq!(Urgency::of(Status::Rectified, d, date!(2026 - 12 - 30)), Urgency::OnTime);
        assert_eq!(Urgency::of(Status::Reopened, d, date!(2026 - 12 - 30)), Urgency::Red);
    }

    #[test]
    fn a_reopened_case_may_be_judged_worse_and_is_due_by_its_new_severity() {
        let kinds = HazardKinds::default();
        let gas = kinds.get("gas").unwrap();
        assert_eq!(Severity::Minor.reopened_as(None), Ok(Severity::Minor));
        assert_eq!(Severity::Major.reopened_as(Some(Severity::Major)), Ok(Severity::Major));
        let worse = Severity::Minor.reopened_as(Some(Severity::Severe)).unwrap();
        // Reopened on 1 December as 重大: due the next day (it was due in 7 as 一般).
        let d = gas.deadline(worse, date!(2026 - 12 - 01));
        assert_eq!((d.due_on, d.red_on), (date!(2026 - 12 - 02), date!(2026 - 12 - 06)));
        let milder = Severity::Severe.reopened_as(Some(Severity::Minor)).unwrap_err();
        assert_eq!(milder, MilderOnReopen { was: Severity::Severe, judged: Severity::Minor });
        assert_eq!(
            milder.to_string(),
            "a reopened case may be judged worse, not milder: it is 重大 (severe), not 一般 (minor)"
        );
    }

    #[test]
    fn the_lifecycle_allows_only_its_moves() {
        use Status::*;
        let allowed = [
            (Found, Assigned),
            (Found, Rectified),
            (Assigned, Assigned),
            (Assigned, Rectified),
            (Rectified, Verified),
            (Rectified, Reopened),
            (Verified, Reopened),
            (Reopened, Assigned),
            (Reopened, Rectified),
        ];
        for from in Status::ALL {
            for to in Status::ALL {
                assert_eq!(from.to(to).is_ok(), allowed.contains(&(from, to)), "{from} → {to}");
            }
        }
        assert_eq!(Found.to(Verified).unwrap_err().to_string(), "a case 发现 (found) cannot become 已验收 (verified)");
        assert!(Status::ALL.iter().all(|s| Status::parse(s.as_str()) == Some(*s)));
    }

    #[test]
    fn a_configured_list_is_checked() {
        let mut kinds = HazardKinds::default().all().to_vec();
        assert!(HazardKinds::new(kinds.clone()).is_ok());
        assert_eq!(HazardKinds::new(Vec::new()), Err(KindsError::Empty));
        kinds.push(kinds[0].clone());
        assert_eq!(HazardKinds::new(kinds.clone()), Err(KindsError::Duplicate("fire_exit".into())));
        kinds.pop();
        kinds[1].days.severe = 40;
        assert_eq!(HazardKinds::new(kinds.clone()), Err(KindsError::BadDays("overcrowding".into())));
        kinds[1].days.severe = 7;
        kinds[2].code = "group renting".into();
        assert_eq!(HazardKinds::new(kinds), Err(KindsError::BadCode("group renting".into())));
        assert_eq!(Severity::parse("重大"), Some(Severity::Severe));
        assert_eq!(Severity::parse("MAJOR"), Some(Severity::Major));
    }
}
