//! The command center's big screen (指挥中心大屏) in one answer: over the grids a user may see,
//! the register's KPIs against the targets with the estimated actual rates beside them, what was
//! registered and visited today and this month, the hazard cases still open, the KPIs month by
//! month, and the latest visits (not for a role that sees aggregates only). The figures are those
//! of one data snapshot, whose version and time the answer names, so the cards agree with
//! `/api/stats` at that version.

use crate::error::AppError;
use crate::scope::Scope;
use crate::state::AppState;
use rentgrid_analysis::actual_rates::PlaceRates;
use rentgrid_analysis::history::History;
use rentgrid_analysis::kpi::{self, Kpi, Targets};
use rentgrid_geodata::{Atlas, GridId};
use rentgrid_store::activity::{GridActivity, MAX_RECENT, RecentVisit};
use serde::Serialize;
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// Registrations and visits over a span of days.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct Tally {
    /// Persons whose registration is dated in the span (at their present home).
    pub persons_registered: u32,
    /// Rental units registered in the span.
    pub units_registered: u32,
    /// Visits made in the span.
    pub visits: u32,
}

/// The KPIs at the end of one month of the history (the last month: today's register).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TrendPoint {
    /// The month, `YYYY-MM`.
    pub month: String,
    /// Its KPIs over the caller's grids.
    #[serde(flatten)]
    pub kpi: Kpi,
}

/// One of the latest visits, as the big screen's feed shows it (no notes, no person).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FeedVisit {
    /// The visit.
    pub id: u32,
    /// Its day, `YYYY-MM-DD`.
    pub day: String,
    /// The building.
    pub building_id: u32,
    /// Its standard address.
    pub address: String,
    /// The grid.
    pub grid_id: GridId,
    /// The grid's code.
    pub grid_code: String,
    /// The grid's name.
    pub grid_name: String,
    /// Who visited (null when not recorded).
    #[schema(required = true)]
    pub caseworker: Option<String>,
    /// Rental units registered during the visit.
    pub units_registered: u32,
    /// Safety pledges signed.
    pub pledges_signed: u32,
    /// Rental units found that the register lacked.
    pub units_found: u32,
    /// Persons found that the register lacked.
    pub persons_found: u32,
}

/// `GET /api/summary`: the big screen's figures.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Summary {
    /// Today (China time), `YYYY-MM-DD`: the day `today` counts.
    pub day: String,
    /// When the data snapshot behind the figures was made (RFC 3339, UTC).
    pub updated: String,
    /// Its data version.
    pub version: u64,
    /// The district's name when the caller sees all of it (null for a limited scope).
    #[schema(required = true)]
    pub district: Option<String>,
    /// Grids in the caller's scope.
    pub grids: usize,
    /// The targets the rates are judged against.
    pub targets: Targets,
    /// The register's KPIs over those grids (the district's equal `/api/stats?level=district`).
    pub kpi: Kpi,
    /// The estimated actual rates with their 90% intervals and verdicts.
    pub rates: PlaceRates,
    /// Registered and visited today.
    pub today: Tally,
    /// Registered and visited from the first of this month to today.
    pub month: Tally,
    /// Hazard cases not yet verified as rectified.
    pub hazards_open: u32,
    /// The KPIs at the end of each month of the history, oldest first.
    pub trend: Vec<TrendPoint>,
    /// The latest visits, the newest first (null for a role that sees aggregates only).
    #[schema(required = true)]
    pub recent: Option<Vec<FeedVisit>>,
}

/// The big screen's figures for `scope`, with at most `recent` latest visits.
pub async fn summary(state: &AppState, scope: &Scope, recent: u32) -> Result<Summary, AppError> {
    let snapshot = state.snapshot();
    let atlas = snapshot.atlas().clone();
    let grids: Vec<GridId> = atlas.grids().iter().map(|g| g.grid.id).filter(|&g| scope.sees_grid(g)).collect();
    let counts = snapshot.grid_counts();
    let targets = *state.targets();
    let estimate = state.estimate(&atlas).await?;
    let history = state.history(&snapshot).await?;
    let day = rentgrid_geodata::clock::today();
    let reads = crate::standby::reads(state).await;
    let activity = reads.activity(day).await?;
    let (today, month, hazards_open) = tally(&activity, &grids);
    let recent = if scope.aggregates_only() {
        None
    } else {
        let within = scope.grids.as_ref().map(|_| grids.as_slice());
        let visits = reads.recent_visits(within, recent.min(MAX_RECENT)).await?;
        Some(visits.iter().filter_map(|v| feed_visit(&atlas, v)).collect())
    };
    let trend = trend(&history, &grids, &targets);
    Ok(Summary {
        day: rentgrid_store::dates::fmt_date(day),
        updated: rentgrid_store::dates::fmt_instant(snapshot.made().into()),
        version: snapshot.version(),
        district: scope.grids.is_none().then(|| atlas.district().name.clone()),
        grids: grids.len(),
        targets,
        kpi: Kpi::from_counts(kpi::sum_of(&counts, &grids), &targets),
        rates: PlaceRates::of_area(&counts, &grids, Some(&estimate.unrecorded), &targets),
        today,
        month,
        hazards_open,
        trend,
        recent,
    })
}

/// The KPIs of `grids` summed at the end of each month of `history`, oldest first.
pub fn trend(history: &History, grids: &[GridId], targets: &Targets) -> Vec<TrendPoint> {
    history
        .months
        .iter()
        .zip(&history.counts)
        .map(|(m, c)| TrendPoint { month: m.to_string(), kpi: Kpi::from_counts(kpi::sum_of(c, grids), targets) })
        .collect()
}

/// Today's and the month's tallies and the open hazard cases over `grids`.
fn tally(activity: &BTreeMap<GridId, GridActivity>, grids: &[GridId]) -> (Tally, Tally, u32) {
    let (mut today, mut month, mut hazards) = (Tally::default(), Tally::default(), 0);
    for a in grids.iter().filter_map(|g| activity.get(g)) {
        today.persons_registered += a.persons_today;
        today.units_registered += a.units_today;
        today.visits += a.visits_today;
        month.persons_registered += a.persons_month;
        month.units_registered += a.units_month;
        month.visits += a.visits_month;
        hazards += a.hazards_open;
    }
    (today, month, hazards)
}

/// A visit as the feed shows it (`None` for a building the Atlas no longer holds).
fn feed_visit(atlas: &Atlas, v: &RecentVisit) -> Option<FeedVisit> {
    let building = atlas.building(v.building_id)?;
    let grid = atlas.grid(v.grid_id)?;
    Some(FeedVisit {
        id: v.id,
        day: rentgrid_store::dates::fmt_date(v.visited_on),
        building_id: v.building_id,
        address: building.address.clone(),
        grid_id: v.grid_id,
        grid_code: grid.grid.code.clone(),
        grid_name: grid.grid.name.clone(),
        caseworker: v.caseworker.clone(),
        units_registered: v.units_registered,
        pledges_signed: v.pledges_signed,
        units_found: v.units_found,
        persons_found: v.persons_found,
    })
}
