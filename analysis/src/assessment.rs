//! Monthly assessment (考核) of each caseworker (seed 001): the month's work counts, deductions
//! for what supervisors' spot checks (暗查/反查) found missed or wrong, a configurable score, and
//! the ranking within the street.
//!
//! Where each count comes from:
//! - registrations (登记): person records whose `registered_on` falls in the month, in a grid the
//!   caseworker is contracted to;
//! - rental registrations (出租房屋登记): rental units registered in the month, likewise;
//! - pledges (保证书): `pledges_signed` summed over the caseworker's visits in the month (units
//!   carry no signing date);
//! - inspections (出租房屋检查): the caseworker's visits in the month;
//! - cancellations (注销): registered persons who moved out of a home in one of the
//!   caseworker's grids that month (moved within the district or left it), plus any given as
//!   [`ManualCounts`];
//! - permits issued (办证), certificate checks (查验) and data entries (录入): **the model
//!   records no such events** (a person has a permit flag but no date, and nothing is recorded
//!   when a record is checked or keyed in). They come in as [`ManualCounts`], zero unless given;
//! - deductions: the month's spot checks of the caseworker (missed registrations 漏登记, missed
//!   permits 漏办证, wrong records).
//!
//! A grid contracted to several caseworkers credits the first of them (in the order given).
//! Spot-check rates are per household re-visited, each with a 95% interval: Wilson's (the same
//! as the KPIs') when the count is at most the households checked, otherwise (several persons
//! missed in one household) the Poisson score interval for a rate per household.

use crate::kpi::wilson;
use rentgrid_geodata::{Atlas, Caseworker, CaseworkerId, GridId, Person, RentalUnit, SpotCheck, Visit};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use time::Date;

/// A calendar month.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Month {
    /// Year.
    pub year: i32,
    /// Month, 1–12.
    pub month: u8,
}

impl Month {
    /// The month a date falls in.
    pub fn of(d: Date) -> Self {
        Self { year: d.year(), month: u8::from(d.month()) }
    }
}

impl From<Month> for rentgrid_geodata::Month {
    fn from(m: Month) -> Self {
        Self { year: m.year, month: m.month }
    }
}

/// A registration cancelled (注销): a registered person moved out of a home in `building_id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cancellation {
    /// The building they moved out of.
    pub building_id: u32,
    /// The day.
    pub on: Date,
}

/// Counts the model does not record, given per caseworker and month (zero when absent).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ManualCounts {
    /// 注销 registrations cancelled (persons who left).
    pub cancellations: u32,
    /// 办证 residence permits issued.
    pub permits: u32,
    /// 查验 certificate checks.
    pub certificate_checks: u32,
    /// 录入 data entries.
    pub data_entries: u32,
}

/// The points of each item: the score is `base + Σ points × count − Σ deduction × count`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ScoreFormula {
    /// Points every caseworker starts from.
    pub base: f64,
    /// Per person registered.
    pub registration: f64,
    /// Per registration cancelled.
    pub cancellation: f64,
    /// Per permit issued.
    pub permit: f64,
    /// Per rental unit registered.
    pub rental_registration: f64,
    /// Per pledge signed.
    pub pledge: f64,
    /// Per rental inspection (visit).
    pub inspection: f64,
    /// Per certificate check.
    pub certificate_check: f64,
    /// Per data entry.
    pub data_entry: f64,
    /// Deducted per missed registration a spot check found.
    pub missed_registration: f64,
    /// Deducted per missed permit.
    pub missed_permit: f64,
    /// Deducted per wrong record.
    pub wrong_record: f64,
}

impl Default for ScoreFormula {
    /// A starting point for a city to tune: base 60; 1 point per registration, cancellation,
    /// permit, rental registration and pledge; 0.5 per inspection and certificate check; 0.1 per
    /// data entry; 2 deducted per missed registration or permit, 1 per wrong record.
    fn default() -> Self {
        Self {
            base: 60.0,
            registration: 1.0,
            cancellation: 1.0,
            permit: 1.0,
            rental_registration: 1.0,
            pledge: 1.0,
            inspection: 0.5,
            certificate_check: 0.5,
            data_entry: 0.1,
            missed_registration: 2.0,
            missed_permit: 2.0,
            wrong_record: 1.0,
        }
    }
}

/// What a month's registrations add up to in one grid.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GridRegistrations {
    /// Persons registered (登记).
    pub persons: u32,
    /// Rental units registered (出租房屋登记).
    pub rental_units: u32,
    /// Registrations cancelled (注销): registered persons who moved out of a home there.
    pub cancellations: u32,
}

impl GridRegistrations {
    fn add(&mut self, o: &Self) {
        self.persons += o.persons;
        self.rental_units += o.rental_units;
        self.cancellations += o.cancellations;
    }
}

/// One caseworker's visits and spot checks in a month, summed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Work {
    /// Visits (rental inspections).
    pub inspections: u32,
    /// Pledges signed on them.
    pub pledges: u32,
    /// Spot checks of the caseworker.
    pub checks: u32,
    /// Households they re-visited.
    pub households: u32,
    /// Missed registrations they found.
    pub missed_registration: u32,
    /// Missed permits they found.
    pub missed_permit: u32,
    /// Wrong records they found.
    pub wrong_records: u32,
}

impl Work {
    /// Adds `o`.
    pub fn add(&mut self, o: &Self) {
        self.inspections += o.inspections;
        self.pledges += o.pledges;
        self.checks += o.checks;
        self.households += o.households;
        self.missed_registration += o.missed_registration;
        self.missed_permit += o.missed_permit;
        self.wrong_records += o.wrong_records;
    }

    /// What a visit adds.
    pub fn of_visit(v: &Visit) -> Self {
        Self { inspections: 1, pledges: v.pledges_signed, ..Self::default() }
    }

    /// What a spot check adds.
    pub fn of_spot_check(s: &SpotCheck) -> Self {
        Self {
            checks: 1,
            households: s.households_checked,
            missed_registration: s.missed_registration,
            missed_permit: s.missed_permit,
            wrong_records: s.wrong_records,
            ..Self::default()
        }
    }
}

/// What the assessment counts, summed: the registrations per month and grid, the visits and
/// spot checks per month and caseworker. Summed from the records ([`Activity::of_records`]), or
/// from the registrations and visits kept in memory (`crate::view_inputs`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Activity {
    /// Registrations per month and grid.
    pub grids: BTreeMap<(Month, GridId), GridRegistrations>,
    /// Visits and spot checks per month and caseworker.
    pub work: BTreeMap<(Month, CaseworkerId), Work>,
}

impl Activity {
    /// Adds `r`, registrations of `grid` in `month`.
    pub fn add_registrations(&mut self, month: Month, grid: GridId, r: &GridRegistrations) {
        self.grids.entry((month, grid)).or_default().add(r);
    }

    /// Adds `w`, work of `caseworker` in `month`.
    pub fn add_work(&mut self, month: Month, caseworker: CaseworkerId, w: &Work) {
        self.work.entry((month, caseworker)).or_default().add(w);
    }

    /// Adds a visit (one with no caseworker counts for nobody).
    pub fn add_visit(&mut self, v: &Visit) {
        if let Some(c) = v.caseworker_id {
            self.add_work(Month::of(v.visited_on), c, &Work::of_visit(v));
        }
    }

    /// Adds a spot check.
    pub fn add_spot_check(&mut self, s: &SpotCheck) {
        self.add_work(Month::of(s.checked_on), s.caseworker_id, &Work::of_spot_check(s));
    }

    /// The activity of these records: person records and rental units registered on a day,
    /// cancellations, visits and spot checks. Records in buildings `atlas` lacks count nowhere.
    pub fn of_records(
        atlas: &Atlas,
        persons: &[Person],
        rental_units: &[RentalUnit],
        cancellations: &[Cancellation],
        visits: &[Visit],
        spot_checks: &[SpotCheck],
    ) -> Self {
        let mut a = Self::default();
        let mut add = |building: u32, day: Date, r: GridRegistrations| {
            if let Some(b) = atlas.building(building) {
                a.add_registrations(Month::of(day), b.grid_id, &r);
            }
        };
        for p in persons {
            if let (true, Some(d)) = (p.registered, p.registered_on) {
                add(p.building_id, d, GridRegistrations { persons: 1, ..GridRegistrations::default() });
            }
        }
        for u in rental_units {
            if let (true, Some(d)) = (u.registered, u.registered_on) {
                add(u.building_id, d, GridRegistrations { rental_units: 1, ..GridRegistrations::default() });
            }
        }
        for c in cancellations {
            add(c.building_id, c.on, GridRegistrations { cancellations: 1, ..GridRegistrations::default() });
        }
        for v in visits {
            a.add_visit(v);
        }
        for s in spot_checks {
            a.add_spot_check(s);
        }
        a
    }
}

/// What the assessment reads.
#[derive(Debug, Clone, Copy)]
pub struct AssessmentInput<'a> {
    /// Caseworkers and their contracted grids.
    pub caseworkers: &'a [Caseworker],
    /// The registrations, visits and spot checks of the months assessed (others are ignored).
    pub activity: &'a Activity,
    /// Counts the model lacks, per caseworker and month.
    pub manual: &'a BTreeMap<(CaseworkerId, Month), ManualCounts>,
}

/// A rate measured by spot checks, with its 95% interval.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SpotRate {
    /// What was found.
    pub found: u32,
    /// Households re-visited.
    pub households: u32,
    /// `found / households` (`None` when nothing was checked).
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub rate: Option<f64>,
    /// Lower end of the interval.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub low: Option<f64>,
    /// Upper end.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub high: Option<f64>,
}

impl SpotRate {
    /// The rate of `found` in `households`, with Wilson's interval when `found ≤ households`,
    /// else the Poisson score interval for a rate per household.
    pub fn new(found: u32, households: u32) -> Self {
        let interval = if found <= households {
            wilson(found, households)
        } else {
            let (k, n, z) = (f64::from(found), f64::from(households), 1.959_963_984_540_054);
            let half = z * (k + z * z / 4.0).sqrt();
            Some(((k + z * z / 2.0 - half) / n, (k + z * z / 2.0 + half) / n))
        };
        Self {
            found,
            households,
            rate: (households > 0).then(|| f64::from(found) / f64::from(households)),
            low: interval.map(|i| i.0),
            high: interval.map(|i| i.1),
        }
    }
}

/// One caseworker's month.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Assessment {
    /// The caseworker.
    pub caseworker_id: CaseworkerId,
    /// Name.
    pub name: String,
    /// Street team.
    pub street_code: String,
    /// The month.
    pub month: Month,
    /// Persons registered.
    pub registrations: u32,
    /// Rental units registered.
    pub rental_registrations: u32,
    /// Pledges signed on visits.
    pub pledges: u32,
    /// Visits (rental inspections).
    pub inspections: u32,
    /// Registrations cancelled (persons who moved out of the caseworker's grids), given
    /// ones included.
    pub cancellations: u32,
    /// Counts given from outside the model.
    pub manual: ManualCounts,
    /// Spot checks of the caseworker this month.
    pub spot_checks: u32,
    /// 漏登记 per household re-visited.
    pub missed_registration: SpotRate,
    /// 漏办证 per household re-visited.
    pub missed_permit: SpotRate,
    /// Wrong records per household re-visited.
    pub wrong_records: SpotRate,
    /// Points deducted for what spot checks found.
    pub deductions: f64,
    /// The score.
    pub score: f64,
    /// Rank within the street this month (1 = best; equal scores share a rank).
    pub rank_in_street: usize,
    /// Caseworkers ranked in the street.
    pub street_size: usize,
}

/// Assesses every caseworker for every month in `months`.
pub fn assess(input: &AssessmentInput<'_>, months: &[Month], formula: &ScoreFormula) -> Vec<Assessment> {
    let mut grid_owner: HashMap<GridId, usize> = HashMap::new();
    for (i, cw) in input.caseworkers.iter().enumerate() {
        for &g in &cw.grids {
            grid_owner.entry(g).or_insert(i);
        }
    }
    let index: HashMap<CaseworkerId, usize> = input.caseworkers.iter().enumerate().map(|(i, c)| (c.id, i)).collect();
    let wanted: std::collections::BTreeSet<Month> = months.iter().copied().collect();
    #[derive(Default, Clone, Copy)]
    struct Tally {
        registered: GridRegistrations,
        work: Work,
    }
    let mut tally: HashMap<(usize, Month), Tally> = HashMap::new();
    for &m in &wanted {
        let grids = input.activity.grids.range((m, GridId::MIN)..=(m, GridId::MAX));
        for (&(_, g), r) in grids {
            if let Some(&i) = grid_owner.get(&g) {
                tally.entry((i, m)).or_default().registered.add(r);
            }
        }
        let work = input.activity.work.range((m, CaseworkerId::MIN)..=(m, CaseworkerId::MAX));
        for (&(_, c), w) in work {
            if let Some(&i) = index.get(&c) {
                tally.entry((i, m)).or_default().work.add(w);
            }
        }
    }
    let mut out: Vec<Assessment> = Vec::with_capacity(input.caseworkers.len() * wanted.len());
    for &month in &wanted {
        for (i, cw) in input.caseworkers.iter().enumerate() {
            let Tally { registered: r, work: t } = tally.get(&(i, month)).copied().unwrap_or_default();
            let manual = input.manual.get(&(cw.id, month)).copied().unwrap_or_default();
            let f = formula;
            let deductions = f.missed_registration * f64::from(t.missed_registration)
                + f.missed_permit * f64::from(t.missed_permit)
                + f.wrong_record * f64::from(t.wrong_records);
            let score = f.base
                + f.registration * f64::from(r.persons)
                + f.cancellation * f64::from(r.cancellations + manual.cancellations)
                + f.permit * f64::from(manual.permits)
                + f.rental_registration * f64::from(r.rental_units)
                + f.pledge * f64::from(t.pledges)
                + f.inspection * f64::from(t.inspections)
                + f.certificate_check * f64::from(manual.certificate_checks)
                + f.data_entry * f64::from(manual.data_entries)
                - deductions;
            out.push(Assessment {
                caseworker_id: cw.id,
                name: cw.name.clone(),
                street_code: cw.street_code.clone(),
                month,
                registrations: r.persons,
                cancellations: r.cancellations + manual.cancellations,
                rental_registrations: r.rental_units,
                pledges: t.pledges,
                inspections: t.inspections,
                manual,
                spot_checks: t.checks,
                missed_registration: SpotRate::new(t.missed_registration, t.households),
                missed_permit: SpotRate::new(t.missed_permit, t.households),
                wrong_records: SpotRate::new(t.wrong_records, t.households),
                deductions,
                score,
                rank_in_street: 0,
                street_size: 0,
            });
        }
    }
    rank(&mut out);
    out
}

/// Ranks within each street and month by score, best first; equal scores share the better rank
/// (1, 2, 2, 4).
fn rank(rows: &mut [Assessment]) {
    let mut groups: BTreeMap<(Month, String), Vec<usize>> = BTreeMap::new();
    for (i, r) in rows.iter().enumerate() {
        groups.entry((r.month, r.street_code.clone())).or_default().push(i);
    }
    for members in groups.values() {
        let mut order = members.clone();
        order.sort_by(|&a, &b| rows[b].score.total_cmp(&rows[a].score));
        for (pos, &i) in order.iter().enumerate() {
            let rank = match pos {
                0 => 1,
                _ if rows[order[pos - 1]].score == rows[i].score => rows[order[pos - 1]].rank_in_street,
                _ => pos + 1,
            };
            rows[i].rank_in_street = rank;
            rows[i].street_size = members.len();
        }
    }
}
