//! 包干法 as the API and the exports serve it, each cut to the caller's [`Scope`]: staffing rows
//! of every grid, community and street; caseworkers' contracted areas as GeoJSON; territory
//! proposals (made, stored, accepted); the monthly assessment (考核). The numbers come from
//! `rentgrid_analysis` (`staffing`, `coverage`, `territory`, `assessment`); this module chooses
//! what a caller sees and how it is laid out.

use crate::error::{AppError, AppResult};
use crate::export::{self, Book, Cell, Lang, Sheet};
use crate::geojson::{Feature, FeatureCollection, FeatureCollectionType, geometry};
use crate::scope::Scope;
use crate::store::contracts::{NewProposal, StoredProposal, basis_of};
use geo::MultiPolygon;
use rentgrid_analysis::actual_rates::PlaceRates;
use rentgrid_analysis::assessment::{self, Activity, Assessment, AssessmentInput, ScoreFormula, SpotRate};
use rentgrid_analysis::coverage::{self, SharedGrid, dissolve};
use rentgrid_analysis::disclosure;
use rentgrid_analysis::kpi::{Counts, Targets};
use rentgrid_analysis::staffing::{self, PlaceLevel, StaffingError, StaffingRow, StaffingRule};
use rentgrid_analysis::territory::{self, Mode, PlanQuality, ProposedArea, TerritoryOptions};
use rentgrid_analysis::unrecorded::Unrecorded;
use rentgrid_geodata::{Atlas, Caseworker, CaseworkerId, GridId, Month, SpotCheck};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use utoipa::ToSchema;

/// The staffing rule of a request: `rule=ningbo|nanjing|wuxi|taizhou` (default ningbo) and
/// `cost_per_caseworker` in yuan a year (default 22,000).
pub fn rule_from_query(rule: Option<&str>, cost: Option<&str>) -> AppResult<StaffingRule> {
    let mut rule = match rule {
        None => StaffingRule::ningbo(),
        Some(name) => StaffingRule::preset(name).map_err(|e| AppError::BadRequest(format!("rule: {e}")))?,
    };
    if let Some(raw) = cost {
        let cost: f64 = raw
            .trim()
            .parse()
            .map_err(|_| AppError::BadRequest(format!("cost_per_caseworker={raw:?} is not a number of yuan a year")))?;
        if !(cost.is_finite() && cost >= 0.0) {
            return Err(AppError::BadRequest(format!("cost_per_caseworker={raw:?} must be a non-negative number")));
        }
        rule.cost_per_caseworker_yuan = cost;
    }
    Ok(rule)
}

fn rule_error(e: StaffingError) -> AppError {
    AppError::BadRequest(format!("rule: {e}"))
}

/// True when `scope` sees every grid of `grids` (a place partly outside is left out whole).
fn sees_all(scope: &Scope, grids: &[GridId]) -> bool {
    grids.iter().all(|&g| scope.sees_grid(g))
}

/// True when `scope` may see caseworker `c`: their street whole, or their own grids; a
/// caseworker sees only themself.
fn sees_caseworker(atlas: &Atlas, scope: &Scope, c: &Caseworker) -> bool {
    if scope.role == crate::scope::Role::Caseworker {
        return scope.caseworker == Some(c.id);
    }
    let street = atlas.streets().iter().find(|s| s.street.code == c.street_code);
    street.is_some_and(|s| sees_all(scope, &s.grids)) || (!c.grids.is_empty() && sees_all(scope, &c.grids))
}

/// One staffing row with its place in the hierarchy.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct PlaceRow {
    /// The code of the place one level up (none for the district).
    #[schema(required = true)]
    pub parent_code: Option<String>,
    /// The street the place lies in (none for the district).
    #[schema(required = true)]
    pub street_code: Option<String>,
    /// Required, assigned, gap and cost.
    #[serde(flatten)]
    pub row: StaffingRow,
}

/// Staffing of the district, its streets, communities and grids that `scope` sees whole, in
/// that order.
pub fn staffing_rows(
    atlas: &Atlas,
    caseworkers: &[Caseworker],
    rule: &StaffingRule,
    scope: &Scope,
) -> AppResult<Vec<PlaceRow>> {
    let report = staffing::staffing(atlas, caseworkers, rule).map_err(rule_error)?;
    let d = atlas.district();
    let mut rows = Vec::new();
    if scope.grids.is_none() {
        rows.push(PlaceRow { parent_code: None, street_code: None, row: report.district });
    }
    for (s, row) in atlas.streets().iter().zip(report.streets) {
        if sees_all(scope, &s.grids) {
            let code = Some(s.street.code.clone());
            rows.push(PlaceRow { parent_code: Some(d.code.clone()), street_code: code, row });
        }
    }
    for (c, row) in atlas.communities().iter().zip(report.communities) {
        if sees_all(scope, &c.grids) {
            let street = Some(c.community.street_code.clone());
            rows.push(PlaceRow { parent_code: street.clone(), street_code: street, row });
        }
    }
    for (g, row) in atlas.grids().iter().zip(report.grids) {
        if scope.sees_grid(g.grid.id) {
            let street = Some(atlas.streets()[g.street].street.code.clone());
            rows.push(PlaceRow { parent_code: Some(g.grid.community_code.clone()), street_code: street, row });
        }
    }
    Ok(rows)
}

/// An area's geometry: a Polygon when it is one piece, else a MultiPolygon; none when empty.
fn area_geometry(grids: &[GridId], mp: impl FnOnce() -> MultiPolygon<f64>) -> Option<geojson::Geometry> {
    if grids.is_empty() {
        return None;
    }
    let mp = mp();
    Some(match mp.0.as_slice() {
        [one] => geometry(one.clone()),
        _ => geometry(mp),
    })
}

fn round(x: f64, places: i32) -> f64 {
    let k = 10f64.powi(places);
    (x * k).round() / k
}

/// The `kind` of an area feature: always `area`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AreaTag {
    /// A caseworker's (or a proposed) contracted area.
    Area,
}

/// A caseworker's contracted area (包干), or a grid nobody or several cover, by `kind`.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CoverageProperties {
    /// A caseworker's area.
    Area(ContractedArea),
    /// A grid nobody covers.
    Uncovered(GridCover),
    /// A grid covered by more than one caseworker.
    Shared(GridCover),
}

/// A caseworker's contracted area, dissolved, with its grids and load.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ContractedArea {
    /// The caseworker.
    pub caseworker_id: CaseworkerId,
    /// Their name.
    pub name: String,
    /// Their street.
    pub street_code: String,
    /// The grids contracted.
    pub grids: Vec<GridId>,
    /// Contracted grids the Atlas does not know.
    pub unknown_grids: Vec<GridId>,
    /// Pieces of the dissolved area.
    pub parts: usize,
    /// Whether the dissolved area is a valid geometry.
    pub valid: bool,
    /// Its area, km².
    pub area_km2: f64,
    /// The sum of its grids' areas, km².
    pub grids_area_km2: f64,
    /// Caseworkers the rule requires for it.
    pub required: f64,
    /// Load: required per caseworker (1.0 = exactly the ratio).
    pub load: f64,
    /// The load to two decimals.
    pub load_label: String,
    /// Whether the load is over 1.0.
    pub overloaded: bool,
}

/// An uncovered or shared grid.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct GridCover {
    /// The grid.
    pub grid_id: GridId,
    /// Its code.
    pub code: String,
    /// Its name.
    pub name: String,
    /// The caseworkers covering it (shared grids).
    pub caseworkers: Vec<CaseworkerId>,
}

/// Coverage (包干): every caseworker's area, the uncovered and shared grids, as GeoJSON.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Coverage {
    /// Always `FeatureCollection`.
    #[serde(rename = "type")]
    pub kind: FeatureCollectionType,
    /// The staffing rule loads are measured by.
    pub rule: StaffingRule,
    /// Caseworkers shown.
    pub caseworkers: usize,
    /// Grids nobody covers.
    pub uncovered: Vec<GridId>,
    /// Grids covered more than once, with their caseworkers.
    pub covered_twice: Vec<SharedGrid>,
    /// Caseworkers whose load is over 1.0.
    pub overloaded: Vec<CaseworkerId>,
    /// The areas, then the uncovered and shared grids.
    pub features: Vec<Feature<CoverageProperties>>,
}

/// Coverage as GeoJSON: one feature per caseworker (`kind: area`, the dissolved contracted
/// area, its grids and load, `overloaded` when over 1.0), then the grids nobody covers (`kind:
/// uncovered`) and those covered more than once (`kind: shared`); top-level lists of their ids.
pub fn coverage_geojson(
    atlas: &Atlas,
    caseworkers: &[Caseworker],
    rule: &StaffingRule,
    scope: &Scope,
) -> AppResult<Coverage> {
    let visible: Vec<Caseworker> = caseworkers.iter().filter(|c| sees_caseworker(atlas, scope, c)).cloned().collect();
    let report = coverage::coverage(atlas, caseworkers, rule).map_err(rule_error)?;
    let shown: BTreeSet<CaseworkerId> = visible.iter().map(|c| c.id).collect();
    let over: BTreeSet<CaseworkerId> = report.overloaded.iter().copied().collect();
    let mut features = Vec::new();
    for a in report.areas.iter().filter(|a| shown.contains(&a.caseworker_id)) {
        let props = ContractedArea {
            caseworker_id: a.caseworker_id,
            name: a.name.clone(),
            street_code: a.street_code.clone(),
            grids: a.grids.clone(),
            unknown_grids: a.unknown_grids.clone(),
            parts: a.parts,
            valid: a.valid,
            area_km2: a.area_km2,
            grids_area_km2: a.grids_area_km2,
            required: a.required,
            load: a.load,
            load_label: format!("{:.2}", round(a.load, 2)),
            overloaded: over.contains(&a.caseworker_id),
        };
        let geometry = area_geometry(&a.grids, || a.geometry.clone());
        features.push(Feature::maybe(geometry, CoverageProperties::Area(props)).with_id(a.caseworker_id));
    }
    let grid_feature = |g: GridId, kind: fn(GridCover) -> CoverageProperties, holders: &[CaseworkerId]| {
        atlas.grid(g).map(|e| {
            let props = GridCover {
                grid_id: g,
                code: e.grid.code.clone(),
                name: e.grid.name.clone(),
                caseworkers: holders.to_vec(),
            };
            Feature::maybe(area_geometry(&[g], || e.grid.geometry.clone()), kind(props))
        })
    };
    let uncovered: Vec<GridId> = report.uncovered.iter().copied().filter(|&g| scope.sees_grid(g)).collect();
    features.extend(uncovered.iter().filter_map(|&g| grid_feature(g, CoverageProperties::Uncovered, &[])));
    let shared: Vec<SharedGrid> = report.covered_twice.iter().filter(|s| scope.sees_grid(s.grid_id)).cloned().collect();
    features.extend(shared.iter().filter_map(|s| grid_feature(s.grid_id, CoverageProperties::Shared, &s.caseworkers)));
    let overloaded: Vec<CaseworkerId> = report.overloaded.iter().copied().filter(|c| shown.contains(c)).collect();
    Ok(Coverage {
        kind: FeatureCollectionType::FeatureCollection,
        rule: rule.clone(),
        caseworkers: shown.len(),
        uncovered,
        covered_twice: shared,
        overloaded,
        features,
    })
}

/// A proposed (or today's) area of a territory proposal.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ProposedAreaProperties {
    /// Always `area`.
    pub kind: AreaTag,
    /// Whether its load is over 1.0.
    pub overloaded: bool,
    /// Its caseworker, if it has one.
    #[schema(required = true)]
    pub caseworker_id: Option<CaseworkerId>,
    /// Their name.
    #[schema(required = true)]
    pub name: Option<String>,
    /// Its street.
    pub street_code: String,
    /// Its grids.
    pub grids: Vec<GridId>,
    /// Load: required per caseworker.
    pub load: f64,
    /// The load to two decimals.
    pub load_label: String,
    /// Deviation of the load from the street's even share.
    pub deviation: f64,
    /// Polsby-Popper compactness.
    pub polsby_popper: f64,
    /// Whether it is one piece.
    pub contiguous: bool,
    /// Grids that change hands (0 for today's areas).
    pub grids_changed: usize,
}

/// One street of a proposal: its staff, requirement and quality today and proposed.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct StreetSummary {
    /// The street.
    pub street_code: String,
    /// Its name.
    pub name: String,
    /// Caseworkers in it.
    pub staff: usize,
    /// Grids in it.
    pub grids: usize,
    /// Caseworkers required.
    pub required: f64,
    /// The even share of each caseworker.
    pub target: f64,
    /// The least max deviation possible with whole grids.
    pub best_possible_deviation: f64,
    /// Whether the proposal is within epsilon.
    pub within_epsilon: bool,
    /// Quality today.
    pub today: PlanQuality,
    /// Quality proposed.
    pub proposed: PlanQuality,
}

/// A territory proposal as made and stored.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ProposalDocument {
    /// When it was made (RFC 3339).
    pub created_at: String,
    /// The staffing rule balanced.
    pub rule: String,
    /// minimal or scratch.
    pub mode: String,
    /// The deviation allowed.
    pub epsilon: f64,
    /// Per street.
    pub streets: Vec<StreetSummary>,
    /// Today's areas.
    pub today: FeatureCollection<ProposedAreaProperties>,
    /// The proposed areas.
    pub proposed: FeatureCollection<ProposedAreaProperties>,
}

/// What `POST /api/territory/proposals` takes.
#[derive(Debug, Clone, Default, serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProposalRequest {
    /// One street's code; all streets the caller sees when absent.
    pub street: Option<String>,
    /// `minimal` (few grids change hands; default) or `scratch`.
    pub mode: Option<String>,
    /// Allowed deviation of a load from the street's even share (default 0.05).
    #[schema(minimum = 0, maximum = 1)]
    pub epsilon: Option<f64>,
    /// Staffing rule preset whose requirements are balanced (default ningbo).
    pub rule: Option<String>,
}

/// The most a request's `epsilon` may be.
pub const MAX_EPSILON: f64 = 1.0;

/// A proposal made for the request, ready to store, and the current RFC 3339 time.
pub fn make_proposal(
    atlas: &Atlas,
    caseworkers: &[Caseworker],
    req: &ProposalRequest,
    scope: &Scope,
    now: &str,
) -> AppResult<NewProposal> {
    let mode = match req.mode.as_deref() {
        None | Some("minimal") => Mode::MinimalChange,
        Some("scratch") => Mode::FromScratch,
        Some(other) => {
            return Err(AppError::Unprocessable(format!("mode {other:?}: use \"minimal\" or \"scratch\"")));
        }
    };
    let epsilon = req.epsilon.unwrap_or(0.05);
    if !(epsilon.is_finite() && (0.0..=MAX_EPSILON).contains(&epsilon)) {
        return Err(AppError::Unprocessable(format!("epsilon {epsilon} must be between 0 and {MAX_EPSILON}")));
    }
    let rule = match req.rule.as_deref() {
        None => StaffingRule::ningbo(),
        Some(r) => StaffingRule::preset(r).map_err(|e| AppError::Unprocessable(format!("rule: {e}")))?,
    };
    let streets: Vec<usize> = match req.street.as_deref() {
        Some(code) => {
            let i =
                atlas.streets().iter().position(|s| s.street.code == code).ok_or_else(|| {
                    AppError::Unprocessable(format!("street {code:?} is not a street of this district"))
                })?;
            if !sees_all(scope, &atlas.streets()[i].grids) {
                return Err(AppError::Forbidden(format!("street {code:?} lies outside what you may see")));
            }
            vec![i]
        }
        None => (0..atlas.streets().len()).filter(|&i| sees_all(scope, &atlas.streets()[i].grids)).collect(),
    };
    if streets.is_empty() {
        return Err(AppError::Forbidden("no street lies wholly within what you may see".into()));
    }
    let codes: Vec<String> = streets.iter().map(|&i| atlas.streets()[i].street.code.clone()).collect();
    let opts = TerritoryOptions { mode, epsilon, streets: Some(codes.clone()), ..TerritoryOptions::default() };
    let plan =
        territory::propose(atlas, caseworkers, &rule, &opts).map_err(|e| AppError::Unprocessable(e.to_string()))?;
    let street_grids: BTreeSet<GridId> =
        streets.iter().flat_map(|&i| atlas.streets()[i].grids.iter().copied()).collect();
    let names: HashMap<CaseworkerId, &str> = caseworkers.iter().map(|c| (c.id, c.name.as_str())).collect();
    let today_owner: HashMap<GridId, CaseworkerId> = {
        let mut m = HashMap::new();
        for c in caseworkers {
            for &g in &c.grids {
                m.entry(g).or_insert(c.id);
            }
        }
        m
    };
    let area_features =
        |areas: &[ProposedArea], street: &str, proposed: bool| -> Vec<Feature<ProposedAreaProperties>> {
            areas
                .iter()
                .map(|a| {
                    let changed = a.grids.iter().filter(|g| today_owner.get(g) != a.caseworker_id.as_ref()).count();
                    let props = ProposedAreaProperties {
                        kind: AreaTag::Area,
                        overloaded: a.load > 1.0,
                        caseworker_id: a.caseworker_id,
                        name: a.caseworker_id.and_then(|c| names.get(&c).map(|n| (*n).to_owned())),
                        street_code: street.to_owned(),
                        grids: a.grids.clone(),
                        load: a.load,
                        load_label: format!("{:.2}", round(a.load, 2)),
                        deviation: a.deviation,
                        polsby_popper: a.polsby_popper,
                        contiguous: a.contiguous,
                        grids_changed: if proposed { changed } else { 0 },
                    };
                    Feature::maybe(area_geometry(&a.grids, || dissolve(atlas, &a.grids)), props)
                })
                .collect()
        };
    let mut today = Vec::new();
    let mut proposed = Vec::new();
    let mut summaries = Vec::new();
    let mut assignments = Vec::new();
    for s in &plan.streets {
        today.extend(area_features(&s.today_areas, &s.street_code, false));
        proposed.extend(area_features(&s.areas, &s.street_code, true));
        for a in &s.areas {
            if let Some(c) = a.caseworker_id {
                assignments.extend(a.grids.iter().map(|&g| (c, g)));
            }
        }
        summaries.push(StreetSummary {
            street_code: s.street_code.clone(),
            name: s.name.clone(),
            staff: s.staff,
            grids: s.grids,
            required: s.required,
            target: s.target,
            best_possible_deviation: s.best_possible_deviation,
            within_epsilon: s.within_epsilon,
            today: s.today,
            proposed: s.proposed,
        });
    }
    assignments.sort_unstable();
    let mode_name = if mode == Mode::MinimalChange { "minimal" } else { "scratch" };
    let document = ProposalDocument {
        created_at: now.to_owned(),
        rule: rule.name.clone(),
        mode: mode_name.to_owned(),
        epsilon,
        streets: summaries,
        today: FeatureCollection::new(today),
        proposed: FeatureCollection::new(proposed),
    };
    Ok(NewProposal {
        created_at: now.to_owned(),
        rule: rule.name.clone(),
        mode: mode_name.into(),
        epsilon,
        basis: basis_of(caseworkers, &codes, &street_grids),
        streets: codes,
        street_grids: street_grids.into_iter().collect(),
        assignments,
        document: serde_json::to_string(&document).map_err(|e| AppError::Internal(e.to_string()))?,
    })
}

/// Where a stored proposal stands.
pub fn proposal_status(p: &StoredProposal, caseworkers: &[Caseworker]) -> &'static str {
    if p.accepted_at.is_some() {
        "accepted"
    } else {
        let grids: BTreeSet<GridId> = p.proposal.street_grids.iter().copied().collect();
        if basis_of(caseworkers, &p.proposal.streets, &grids) == p.proposal.basis { "open" } else { "stale" }
    }
}

/// A stored proposal with where it stands.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Proposal {
    /// Its id.
    pub id: i64,
    /// open, stale (the contracts changed since) or accepted.
    pub status: &'static str,
    /// Who accepted it.
    #[schema(required = true)]
    pub accepted_by: Option<String>,
    /// When (RFC 3339).
    #[schema(required = true)]
    pub accepted_at: Option<String>,
    /// The proposal.
    #[serde(flatten)]
    pub document: ProposalDocument,
}

/// The stored document of a proposal.
fn document(p: &StoredProposal) -> AppResult<ProposalDocument> {
    serde_json::from_str(&p.proposal.document)
        .map_err(|e| AppError::Internal(format!("stored proposal {} is unreadable: {e}", p.id)))
}

/// A stored proposal as the API answers it: its document with its id and status.
pub fn proposal_json(p: &StoredProposal, status: &'static str) -> AppResult<Proposal> {
    Ok(Proposal {
        id: p.id,
        status,
        accepted_by: p.accepted_by.clone(),
        accepted_at: p.accepted_at.clone(),
        document: document(p)?,
    })
}

/// The before/after summary an accepted proposal leaves in the audit log: per street, the
/// quality figures today and proposed (fields in alphabetical order, as the log has always had them).
#[derive(Serialize)]
struct AuditSummary<'a> {
    mode: &'a str,
    proposal_id: i64,
    rule: &'a str,
    streets: Vec<StreetChange<'a>>,
}

/// One street of an [`AuditSummary`].
#[derive(Serialize)]
struct StreetChange<'a> {
    after: &'a PlanQuality,
    before: &'a PlanQuality,
    street_code: &'a str,
}

/// The text of an accepted proposal's [`AuditSummary`].
pub fn audit_summary(p: &StoredProposal) -> String {
    let document = document(p).ok();
    let streets = document.as_ref().map_or_else(Vec::new, |d| {
        d.streets
            .iter()
            .map(|s| StreetChange { after: &s.proposed, before: &s.today, street_code: &s.street_code })
            .collect()
    });
    let summary = AuditSummary { mode: &p.proposal.mode, proposal_id: p.id, rule: &p.proposal.rule, streets };
    serde_json::to_string(&summary).unwrap_or_default()
}

/// One caseworker's month with their load under the rule.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct AssessmentRow {
    /// The assessment.
    #[serde(flatten)]
    pub assessment: Assessment,
    /// Street name.
    pub street_name: String,
    /// Load of the contracted area under the rule (1.0 = exactly the ratio).
    pub load: f64,
    /// The contracted area judged on its estimated actual rates (over the recorded and the
    /// estimated unrecorded), with their 90% intervals and verdicts: for the current month only
    /// (the estimate is of today's register), null for a past one.
    #[serde(flatten)]
    pub area: PlaceRates,
}

/// What the assessment of the current month judges each area on: the grids' counts today, their
/// unrecorded estimate, the targets.
#[derive(Debug, Clone, Copy)]
pub struct AreaEstimate<'a> {
    /// Today's counts per grid.
    pub grid_counts: &'a [Counts],
    /// The unrecorded persons and units per grid.
    pub unrecorded: &'a Unrecorded,
    /// The KPI targets.
    pub targets: &'a Targets,
}

/// The month's assessment of every caseworker `scope` may see, by street then rank.
pub fn assessment_rows(
    atlas: &Atlas,
    caseworkers: &[Caseworker],
    activity: &Activity,
    month: Month,
    rule: &StaffingRule,
    scope: &Scope,
    estimate: Option<AreaEstimate<'_>>,
) -> AppResult<Vec<AssessmentRow>> {
    let manual = BTreeMap::new();
    let input = AssessmentInput { caseworkers, activity, manual: &manual };
    let m = assessment::Month { year: month.year, month: month.month };
    let loads = loads(atlas, caseworkers, rule)?;
    let street_names: HashMap<&str, &str> =
        atlas.streets().iter().map(|s| (s.street.code.as_str(), s.street.name.as_str())).collect();
    let visible: BTreeSet<CaseworkerId> =
        caseworkers.iter().filter(|c| sees_caseworker(atlas, scope, c)).map(|c| c.id).collect();
    let area_of: HashMap<CaseworkerId, &[GridId]> = caseworkers.iter().map(|c| (c.id, c.grids.as_slice())).collect();
    let mut rows: Vec<AssessmentRow> = assessment::assess(&input, &[m], &ScoreFormula::default())
        .into_iter()
        .filter(|a| visible.contains(&a.caseworker_id))
        .map(|a| AssessmentRow {
            street_name: street_names.get(a.street_code.as_str()).copied().unwrap_or_default().to_owned(),
            load: loads.get(&a.caseworker_id).copied().unwrap_or(0.0),
            area: match (estimate, area_of.get(&a.caseworker_id)) {
                (Some(e), Some(grids)) => PlaceRates::of_area(e.grid_counts, grids, Some(e.unrecorded), e.targets),
                _ => PlaceRates::default(),
            },
            assessment: a,
        })
        .collect();
    rows.sort_by(|a, b| {
        (a.assessment.street_code.as_str(), a.assessment.rank_in_street, a.assessment.caseworker_id).cmp(&(
            b.assessment.street_code.as_str(),
            b.assessment.rank_in_street,
            b.assessment.caseworker_id,
        ))
    });
    Ok(rows)
}

/// Each caseworker's load under `rule` (shared grids split evenly), without drawing areas.
fn loads(atlas: &Atlas, caseworkers: &[Caseworker], rule: &StaffingRule) -> AppResult<HashMap<CaseworkerId, f64>> {
    rule.validate().map_err(rule_error)?;
    let required = staffing::grid_requirements(atlas, rule);
    let mut holders = vec![0usize; required.len()];
    for c in caseworkers {
        let mut gs = c.grids.clone();
        gs.dedup();
        for g in gs {
            if let Some(h) = holders.get_mut(g as usize) {
                *h += 1;
            }
        }
    }
    Ok(caseworkers
        .iter()
        .map(|c| {
            let mut gs = c.grids.clone();
            gs.dedup();
            let load = gs
                .iter()
                .filter_map(|&g| Some(required.get(g as usize)? / *holders.get(g as usize)?.max(&1) as f64))
                .sum();
            (c.id, load)
        })
        .collect())
}

/// The columns of the staffing table (English key, Chinese header).
const STAFFING_COLUMNS: [(&str, &str); 15] = [
    ("level", "层级"),
    ("code", "编码"),
    ("name", "名称"),
    ("parent_code", "上级编码"),
    ("persons", "流动人口"),
    ("persons_concentrated", "集中居住人口"),
    ("rental_units", "出租房屋（户）"),
    ("ratio_required", "按比例需配（人）"),
    ("required", "应配（人，含社区保底）"),
    ("required_rounded", "应配（人，取整）"),
    ("assigned", "已配（人）"),
    ("gap", "缺口（人）"),
    ("to_hire", "需增配（人）"),
    ("yearly_cost_yuan", "年度经费（元）"),
    ("rule", "配备标准"),
];

fn level_name(l: PlaceLevel) -> &'static str {
    match l {
        PlaceLevel::Grid => "网格",
        PlaceLevel::Community => "社区",
        PlaceLevel::Street => "街道",
        PlaceLevel::District => "区",
    }
}

/// A staffing row's cells; for a leader (`suppress`), what comes from fewer than
/// [`disclosure::K`] persons reads "<5".
fn staffing_cells(r: &PlaceRow, rule: &str, suppress: bool) -> Vec<Cell> {
    let cells = staffing_values(r, rule);
    if !suppress {
        return cells;
    }
    let persons = r.row.population.persons;
    STAFFING_COLUMNS
        .iter()
        .zip(cells)
        .map(|((name, _), c)| {
            if disclosure::hides_in_staffing(name, persons, c.number()) {
                Cell::Text(format!("<{}", disclosure::K))
            } else {
                c
            }
        })
        .collect()
}

fn staffing_values(r: &PlaceRow, rule: &str) -> Vec<Cell> {
    let s = &r.row;
    vec![
        Cell::Text(level_name(s.level).into()),
        Cell::Text(s.code.clone()),
        Cell::Text(s.name.clone()),
        r.parent_code.clone().map_or(Cell::Empty, Cell::Text),
        Cell::Num(s.population.persons),
        Cell::Num(s.population.persons_concentrated),
        Cell::Num(s.population.rental_units),
        Cell::Num(round(s.ratio_required, 4)),
        Cell::Num(round(s.required, 4)),
        Cell::Int(s.required_rounded.into()),
        Cell::Num(round(s.assigned, 4)),
        Cell::Num(round(s.gap, 4)),
        Cell::Int(s.to_hire.into()),
        Cell::Num(s.yearly_cost_yuan),
        Cell::Text(rule.to_owned()),
    ]
}

/// The staffing table as a book: every row (CSV); a summary sheet of the district and its
/// streets, then one sheet per street with its street, communities and grids (XLSX).
/// For a leader (`suppress`), small counts of persons read "<5".
pub fn staffing_book(atlas: &Atlas, rows: &[PlaceRow], rule: &str, lang: Lang, suppress: bool) -> Book {
    let columns = STAFFING_COLUMNS.to_vec();
    let all = Sheet {
        name: "staffing".into(),
        columns: columns.clone(),
        rows: rows.iter().map(|r| staffing_cells(r, rule, suppress)).collect(),
    };
    let summary = Sheet {
        name: summary_name(lang),
        columns: columns.clone(),
        rows: rows
            .iter()
            .filter(|r| matches!(r.row.level, PlaceLevel::District | PlaceLevel::Street))
            .map(|r| staffing_cells(r, rule, suppress))
            .collect(),
    };
    let streets = per_street(
        atlas,
        rows,
        |r| r.street_code.as_deref().filter(|_| r.row.level != PlaceLevel::District),
        |r| staffing_cells(r, rule, suppress),
        &columns,
    );
    Book { all, summary: Some(summary), streets }
}

/// One sheet per street holding rows, named by the street, in the Atlas's order.
fn per_street<T>(
    atlas: &Atlas,
    rows: &[T],
    street_of: impl Fn(&T) -> Option<&str>,
    cells: impl Fn(&T) -> Vec<Cell>,
    columns: &[(&'static str, &'static str)],
) -> Vec<Sheet> {
    atlas
        .streets()
        .iter()
        .filter_map(|s| {
            let mine: Vec<Vec<Cell>> =
                rows.iter().filter(|r| street_of(r) == Some(s.street.code.as_str())).map(&cells).collect();
            (!mine.is_empty()).then(|| Sheet { name: s.street.name.clone(), columns: columns.to_vec(), rows: mine })
        })
        .collect()
}

/// The columns of the assessment table.
const ASSESSMENT_COLUMNS: [(&str, &str); 32] = [
    ("caseworker_id", "综管员ID"),
    ("name", "姓名"),
    ("street_code", "街道编码"),
    ("street_name", "街道"),
    ("month", "月份"),
    ("registrations", "登记人数"),
    ("cancellations", "注销人数"),
    ("permits", "办证数"),
    ("rental_registrations", "出租房屋登记数"),
    ("pledges", "签订保证书数"),
    ("inspections", "出租房屋检查数"),
    ("certificate_checks", "查验数"),
    ("data_entries", "录入数"),
    ("spot_checks", "抽查次数"),
    ("households_checked", "抽查户数"),
    ("missed_registration", "漏登记"),
    ("missed_registration_rate", "漏登记率"),
    ("missed_registration_low", "漏登记率95%下限"),
    ("missed_registration_high", "漏登记率95%上限"),
    ("missed_permit", "漏办证"),
    ("missed_permit_rate", "漏办证率"),
    ("missed_permit_low", "漏办证率95%下限"),
    ("missed_permit_high", "漏办证率95%上限"),
    ("wrong_records", "错误记录"),
    ("wrong_record_rate", "错误记录率"),
    ("wrong_record_low", "错误记录率95%下限"),
    ("wrong_record_high", "错误记录率95%上限"),
    ("deductions", "扣分"),
    ("score", "得分"),
    ("rank_in_street", "街道排名"),
    ("street_size", "街道人数"),
    ("load", "负荷"),
];

fn rate_cells(r: &SpotRate) -> [Cell; 4] {
    [Cell::Int(r.found.into()), Cell::from(r.rate), Cell::from(r.low), Cell::from(r.high)]
}

/// A caseworker's assessment row, then their contracted area's estimated actual rates (empty for a
/// past month).
fn assessment_cells(r: &AssessmentRow, lang: Lang) -> Vec<Cell> {
    let a = &r.assessment;
    let mut v = vec![
        Cell::Int(a.caseworker_id.into()),
        Cell::Text(a.name.clone()),
        Cell::Text(a.street_code.clone()),
        Cell::Text(r.street_name.clone()),
        Cell::Text(format!("{:04}-{:02}", a.month.year, a.month.month)),
        Cell::Int(a.registrations.into()),
        Cell::Int(a.cancellations.into()),
        Cell::Int(a.manual.permits.into()),
        Cell::Int(a.rental_registrations.into()),
        Cell::Int(a.pledges.into()),
        Cell::Int(a.inspections.into()),
        Cell::Int(a.manual.certificate_checks.into()),
        Cell::Int(a.manual.data_entries.into()),
        Cell::Int(a.spot_checks.into()),
        Cell::Int(a.missed_registration.households.into()),
    ];
    v.extend(rate_cells(&a.missed_registration));
    v.extend(rate_cells(&a.missed_permit));
    v.extend(rate_cells(&a.wrong_records));
    v.extend([
        Cell::Num(a.deductions),
        Cell::Num(a.score),
        Cell::Int(a.rank_in_street as u64),
        Cell::Int(a.street_size as u64),
        Cell::Num(round(r.load, 4)),
    ]);
    v.extend(export::estimate_cells(&r.area, lang));
    v
}

/// The assessment as a book: every caseworker (CSV); a summary per street, then one sheet per
/// street with its caseworkers by rank (XLSX). For the current month each row ends with the
/// contracted area's estimated actual rates, intervals and verdicts.
pub fn assessment_book(atlas: &Atlas, rows: &[AssessmentRow], lang: Lang) -> Book {
    let columns: Vec<_> = ASSESSMENT_COLUMNS.iter().chain(&export::ESTIMATE_COLUMNS).copied().collect();
    let cells = |r: &AssessmentRow| assessment_cells(r, lang);
    let all = Sheet { name: "assessment".into(), columns: columns.clone(), rows: rows.iter().map(cells).collect() };
    let summary_rows = atlas
        .streets()
        .iter()
        .filter_map(|s| {
            let mine: Vec<&AssessmentRow> = rows.iter().filter(|r| r.assessment.street_code == s.street.code).collect();
            if mine.is_empty() {
                return None;
            }
            let n = mine.len() as f64;
            let sum = |f: &dyn Fn(&Assessment) -> f64| mine.iter().map(|r| f(&r.assessment)).sum::<f64>();
            Some(vec![
                Cell::Text(s.street.code.clone()),
                Cell::Text(s.street.name.clone()),
                Cell::Int(mine.len() as u64),
                Cell::Num(round(sum(&|a| a.score) / n, 2)),
                Cell::Num(sum(&|a| a.deductions)),
                Cell::Num(sum(&|a| f64::from(a.registrations))),
                Cell::Num(sum(&|a| f64::from(a.missed_registration.households))),
                Cell::Num(sum(&|a| f64::from(a.missed_registration.found))),
            ])
        })
        .collect();
    let summary = Sheet {
        name: summary_name(lang),
        columns: vec![
            ("street_code", "街道编码"),
            ("street_name", "街道"),
            ("caseworkers", "综管员人数"),
            ("mean_score", "平均得分"),
            ("deductions", "扣分合计"),
            ("registrations", "登记人数"),
            ("households_checked", "抽查户数"),
            ("missed_registration", "漏登记"),
        ],
        rows: summary_rows,
    };
    let streets = per_street(atlas, rows, |r| Some(r.assessment.street_code.as_str()), cells, &columns);
    Book { all, summary: Some(summary), streets }
}

fn summary_name(lang: Lang) -> String {
    if lang == Lang::Zh { "汇总".into() } else { "summary".into() }
}

/// One spot check (暗查/反查) of a caseworker's area, as a supervisor reads it: who was checked,
/// where, when, and what the re-visit found.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct SpotCheckRow {
    /// The spot check.
    pub id: u32,
    /// The day of the re-visit (YYYY-MM-DD).
    pub checked_on: String,
    /// The caseworker checked.
    pub caseworker_id: CaseworkerId,
    /// Their name.
    pub name: String,
    /// Their street's code.
    pub street_code: String,
    /// Their street's name.
    pub street_name: String,
    /// The grid sampled.
    pub grid_id: GridId,
    /// Its name.
    pub grid_name: String,
    /// Households re-visited.
    pub households_checked: u32,
    /// 漏登记: persons found unregistered.
    pub missed_registration: u32,
    /// 漏办证: registered persons found without the permit they should have.
    pub missed_permit: u32,
    /// Records found wrong.
    pub wrong_records: u32,
}

/// The month's spot checks of every caseworker `scope` may see (as the assessment counts them),
/// by street, then day, then id.
pub fn spot_check_rows(
    atlas: &Atlas,
    caseworkers: &[Caseworker],
    spot_checks: &[&SpotCheck],
    scope: &Scope,
) -> Vec<SpotCheckRow> {
    let street_names: HashMap<&str, &str> =
        atlas.streets().iter().map(|s| (s.street.code.as_str(), s.street.name.as_str())).collect();
    let visible: HashMap<CaseworkerId, &Caseworker> =
        caseworkers.iter().filter(|c| sees_caseworker(atlas, scope, c)).map(|c| (c.id, c)).collect();
    let mut rows: Vec<SpotCheckRow> = spot_checks
        .iter()
        .filter_map(|s| {
            let c = visible.get(&s.caseworker_id)?;
            Some(SpotCheckRow {
                id: s.id,
                checked_on: crate::store::dates::fmt_date(s.checked_on),
                caseworker_id: c.id,
                name: c.name.clone(),
                street_code: c.street_code.clone(),
                street_name: street_names.get(c.street_code.as_str()).copied().unwrap_or_default().to_owned(),
                grid_id: s.grid_id,
                grid_name: atlas.grid(s.grid_id).map(|g| g.grid.name.clone()).unwrap_or_default(),
                households_checked: s.households_checked,
                missed_registration: s.missed_registration,
                missed_permit: s.missed_permit,
                wrong_records: s.wrong_records,
            })
        })
        .collect();
    rows.sort_by(|a, b| (&a.street_code, &a.checked_on, a.id).cmp(&(&b.street_code, &b.checked_on, b.id)));
    rows
}

/// The columns of the spot-check table.
const SPOT_CHECK_COLUMNS: [(&str, &str); 12] = [
    ("id", "抽查编号"),
    ("checked_on", "抽查日期"),
    ("caseworker_id", "综管员ID"),
    ("name", "姓名"),
    ("street_code", "街道编码"),
    ("street_name", "街道"),
    ("grid_id", "网格ID"),
    ("grid_name", "网格"),
    ("households_checked", "抽查户数"),
    ("missed_registration", "漏登记"),
    ("missed_permit", "漏办证"),
    ("wrong_records", "错误信息"),
];

/// The spot-check table: every row for CSV; in XLSX one sheet per street.
pub fn spot_check_book(atlas: &Atlas, rows: &[SpotCheckRow]) -> Book {
    let cells = |r: &SpotCheckRow| {
        vec![
            Cell::Int(r.id.into()),
            Cell::Text(r.checked_on.clone()),
            Cell::Int(r.caseworker_id.into()),
            Cell::Text(r.name.clone()),
            Cell::Text(r.street_code.clone()),
            Cell::Text(r.street_name.clone()),
            Cell::Int(r.grid_id.into()),
            Cell::Text(r.grid_name.clone()),
            Cell::Int(r.households_checked.into()),
            Cell::Int(r.missed_registration.into()),
            Cell::Int(r.missed_permit.into()),
            Cell::Int(r.wrong_records.into()),
        ]
    };
    let columns = SPOT_CHECK_COLUMNS.to_vec();
    let all = Sheet { name: "spot_checks".into(), columns: columns.clone(), rows: rows.iter().map(cells).collect() };
    let streets = per_street(atlas, rows, |r| Some(r.street_code.as_str()), cells, &columns);
    // A month without spot checks is still a workbook: one empty sheet.
    let summary = streets.is_empty().then(|| all.clone());
    Book { all, summary, streets }
}
