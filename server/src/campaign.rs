//! 蚕食法 sweep campaigns on the server: the candidate estimate for the current data, a
//! campaign request checked and planned, what a stored campaign answers, and the day's routes.
//! The handlers in `api::campaigns` stay thin; the analysis is in `rentgrid_analysis::sweep`,
//! `candidates` and `route`.

use crate::access::audit::AuditEvent;
use crate::error::{AppError, AppResult};
use crate::geojson::{Feature, FeatureCollection, geometry};
use crate::scope::Scope;
use crate::snapshot::Snapshot;
use crate::state::AppState;
use crate::store::campaigns::{CampaignRecord, NewCampaign, StoredBlock, StoredCampaign, phase_str};
use crate::store::dates::{fmt_date, parse_date};
use geo::{LineString, Point};
use rentgrid_analysis::candidates::{BuildingEstimate, Lang, Reason};
use rentgrid_analysis::route::{RouteOptions, community_station, route_day_on};
use rentgrid_analysis::sweep::{self, Area, CampaignInput, Phase, SweepError};
use rentgrid_geodata::{Atlas, GridId};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::Date;
use utoipa::ToSchema;

/// Most working days a campaign may ask for (a year of weekdays).
pub const MAX_WORKING_DAYS: u32 = 260;
/// Most buildings one caseworker can be asked to visit in a day.
pub const MAX_BUILDINGS_PER_DAY: u32 = 200;
/// Most weeks between clearing and the 巩固 re-check.
pub const MAX_RECHECK_WEEKS: u32 = 52;
/// Weeks to the 巩固 re-check when the request names none.
pub const DEFAULT_RECHECK_WEEKS: u32 = 4;

/// A reason a building is a candidate: its code and numbers, and the sentence in Chinese and
/// English.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WordedReason {
    /// The code and its numbers.
    #[serde(flatten)]
    pub reason: Reason,
    /// The sentence in Chinese.
    pub zh: String,
    /// The sentence in English.
    pub en: String,
}

impl From<&Reason> for WordedReason {
    fn from(r: &Reason) -> Self {
        Self { reason: r.clone(), zh: r.text(Lang::Zh), en: r.text(Lang::En) }
    }
}

/// A building likely to hide unregistered rentals.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CandidateProperties {
    /// 1 = the most expected hidden units.
    pub rank: usize,
    /// The building.
    pub building_id: u32,
    /// Its grid.
    pub grid_id: u32,
    /// Its door-plate address.
    #[schema(required = true)]
    pub address: Option<String>,
    /// Expected unregistered rental units.
    pub expected_units: f64,
    /// Lower end of the 90% interval.
    pub units_low: f64,
    /// Upper end of the 90% interval.
    pub units_high: f64,
    /// Expected unregistered persons.
    pub expected_persons: f64,
    /// Why.
    pub reasons: Vec<WordedReason>,
}

/// A candidate building as a GeoJSON point feature, with its rank (1 = most expected).
pub fn candidate_feature(atlas: &Atlas, e: &BuildingEstimate, rank: usize) -> Feature<CandidateProperties> {
    let building = atlas.building(e.building_id);
    let round = |x: f64| (x * 100.0).round() / 100.0;
    let props = CandidateProperties {
        rank,
        building_id: e.building_id,
        grid_id: e.grid_id,
        address: building.map(|b| b.address.clone()),
        expected_units: round(e.expected_units),
        units_low: round(e.units_low),
        units_high: round(e.units_high),
        expected_persons: round(e.expected_persons),
        reasons: e.reasons.iter().map(WordedReason::from).collect(),
    };
    Feature::maybe(building.map(|b| geometry(b.point)), props).with_id(e.building_id)
}

/// The request body of `POST /api/campaigns`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CampaignRequest {
    /// The area as grid ids …
    #[serde(default)]
    grids: Option<Vec<GridId>>,
    /// … or as a GeoJSON Polygon (a geometry or a Feature holding one).
    #[serde(default)]
    #[schema(value_type = Option<crate::geojson::Geometry>)]
    polygon: Option<Value>,
    /// The team.
    caseworkers: Vec<u32>,
    /// First day, YYYY-MM-DD.
    start_date: String,
    /// Working days the campaign may take.
    working_days: u32,
    /// Buildings per caseworker per day.
    buildings_per_day: u32,
    /// Weeks from clearing to the 巩固 re-check.
    #[serde(default)]
    recheck_weeks: Option<u32>,
    /// The block to start from instead of the weakest.
    #[serde(default)]
    seed_block: Option<u32>,
    /// Days off besides weekends, YYYY-MM-DD.
    #[serde(default)]
    holidays: Vec<String>,
}

fn unprocessable(m: impl Into<String>) -> AppError {
    AppError::Unprocessable(m.into())
}

fn date_field(name: &str, s: &str) -> AppResult<Date> {
    parse_date(s).ok_or_else(|| unprocessable(format!("{name} {s:?} is not a date as YYYY-MM-DD")))
}

/// The outer ring of a GeoJSON Polygon (geometry or Feature).
fn polygon_ring(v: &Value) -> AppResult<Vec<[f64; 2]>> {
    let geometry = if v["type"] == "Feature" { &v["geometry"] } else { v };
    if geometry["type"] != "Polygon" {
        return Err(unprocessable("polygon must be a GeoJSON Polygon (or a Feature holding one)"));
    }
    let ring = geometry["coordinates"][0]
        .as_array()
        .ok_or_else(|| unprocessable("polygon.coordinates must hold a ring of [lon, lat] positions"))?;
    ring.iter()
        .enumerate()
        .map(|(i, p)| match (p[0].as_f64(), p[1].as_f64()) {
            (Some(x), Some(y)) if (-180.0..=180.0).contains(&x) && (-90.0..=90.0).contains(&y) => Ok([x, y]),
            _ => Err(unprocessable(format!("polygon.coordinates[0][{i}] is not a [lon, lat] position in degrees"))),
        })
        .collect()
}

/// The area as it was asked for, as the store keeps it: `{"grids": [ids]}` or
/// `{"polygon": GeoJSON}`.
#[derive(Serialize)]
#[serde(rename_all = "lowercase")]
enum RequestedArea {
    Grids(Vec<u32>),
    Polygon(Value),
}

/// A checked request: the analysis input and what the store keeps besides the plan.
pub struct CheckedRequest {
    input: CampaignInput,
    working_days: u32,
    area_json: Value,
}

impl CampaignRequest {
    /// Checks the request's own fields (the area's grids and the team are checked by the plan).
    pub fn check(self, scope: &Scope) -> AppResult<CheckedRequest> {
        let (area, area_json) = match (self.grids, self.polygon) {
            (Some(_), Some(_)) => return Err(unprocessable("give the area as grids or as polygon, not both")),
            (None, None) => {
                return Err(unprocessable("the area is missing: give grids (grid ids) or polygon (GeoJSON)"));
            }
            (Some(grids), None) => {
                if grids.is_empty() {
                    return Err(unprocessable("grids is empty: name at least one grid"));
                }
                if let Some(g) = grids.iter().find(|&&g| !scope.sees_grid(g)) {
                    return Err(AppError::Forbidden(format!("grids: grid {g} is outside what you may plan")));
                }
                let requested = RequestedArea::Grids(grids.clone());
                (Area::Grids { grids }, requested)
            }
            (None, Some(p)) => {
                let ring = polygon_ring(&p)?;
                (Area::Polygon { ring }, RequestedArea::Polygon(p))
            }
        };
        let area_json = serde_json::to_value(area_json).map_err(|e| AppError::Internal(e.to_string()))?;
        let start = date_field("start_date", &self.start_date)?;
        let holidays = self.holidays.iter().map(|h| date_field("holidays", h)).collect::<AppResult<Vec<_>>>()?;
        if !(1..=MAX_WORKING_DAYS).contains(&self.working_days) {
            return Err(unprocessable(format!("working_days must be 1 to {MAX_WORKING_DAYS}")));
        }
        if !(1..=MAX_BUILDINGS_PER_DAY).contains(&self.buildings_per_day) {
            return Err(unprocessable(format!("buildings_per_day must be 1 to {MAX_BUILDINGS_PER_DAY}")));
        }
        let recheck_weeks = self.recheck_weeks.unwrap_or(DEFAULT_RECHECK_WEEKS);
        if recheck_weeks > MAX_RECHECK_WEEKS {
            return Err(unprocessable(format!("recheck_weeks must be 0 to {MAX_RECHECK_WEEKS}")));
        }
        let mut input = CampaignInput::new(area, self.caseworkers, start, self.buildings_per_day);
        input.holidays = holidays;
        input.consolidate_after_weeks = recheck_weeks;
        input.seed_block = self.seed_block;
        Ok(CheckedRequest { input, working_days: self.working_days, area_json })
    }
}

/// A planning error as the API answers it, naming the request field at fault.
fn sweep_error(e: SweepError) -> AppError {
    let field = match &e {
        SweepError::UnknownGrid(_) | SweepError::GridWithoutBlocks(_) => "grids",
        SweepError::UnknownCaseworker(_) | SweepError::DuplicateCaseworker(_) | SweepError::EmptyTeam => "caseworkers",
        SweepError::ZeroCapacity => "buildings_per_day",
        SweepError::NoBlocks => "area",
        SweepError::BadPolygon(_) => "polygon",
        SweepError::SeedOutsideArea(_) => "seed_block",
        SweepError::NoWorkingDay(_) => "start_date",
        SweepError::PhaseOrder { .. } => return AppError::Conflict(e.to_string()),
        SweepError::CandidatesMismatch { .. } => return AppError::Internal(e.to_string()),
        SweepError::Parameter(_) => "request",
    };
    unprocessable(format!("{field}: {e}"))
}

/// Plans and stores a campaign with its audit row `event`; answers what [`campaign_json`] does
/// for it.
pub async fn create(state: &AppState, scope: &Scope, req: CheckedRequest, event: &AuditEvent) -> AppResult<Campaign> {
    let atlas = state.atlas();
    let estimate = state.estimate(&atlas).await?;
    let (plan_atlas, input) = (atlas.clone(), req.input.clone());
    let plan = tokio::task::spawn_blocking(move || {
        sweep::plan_campaign(&plan_atlas, &estimate.caseworkers, &estimate.candidates, &input)
    })
    .await
    .map_err(|e| AppError::Internal(e.to_string()))?
    .map_err(sweep_error)?;
    if let Some(g) = plan.grids.iter().find(|&&g| !scope.sees_grid(g)) {
        return Err(AppError::Forbidden(format!("polygon: it reaches grid {g}, outside what you may plan")));
    }
    if plan.days.len() > req.working_days as usize {
        return Err(unprocessable(format!(
            "working_days: the area needs {} working days with {} caseworker(s) at {} buildings a day; allow more \
             days, more caseworkers or more buildings per day",
            plan.days.len(),
            req.input.team.len(),
            req.input.buildings_per_day
        )));
    }
    let record = CampaignRecord {
        created_on: rentgrid_geodata::clock::today(),
        area: req.area_json,
        team: req.input.team.clone(),
        start: req.input.start,
        working_days: req.working_days,
        buildings_per_day: req.input.buildings_per_day,
        recheck_weeks: req.input.consolidate_after_weeks,
        plan: plan.clone(),
    };
    let new = NewCampaign {
        record,
        blocks: plan.blocks.iter().map(|b| (b.block_id, b.grid_id, b.buildings.clone())).collect(),
    };
    let id = state.create_campaign(&new, event).await?;
    let stored = state.store().campaigns(Some(id)).await?;
    let c = stored.first().ok_or_else(|| AppError::Internal(format!("campaign {id} vanished")))?;
    Ok(campaign_json(&atlas, c, true))
}

/// How far a campaign has come: blocks per phase and buildings visited.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Progress {
    /// Blocks in the campaign.
    pub blocks: usize,
    /// Blocks not started.
    pub not_started: usize,
    /// Blocks in 排查.
    pub investigate: usize,
    /// Blocks in 清理.
    pub clear: usize,
    /// Blocks in 整治.
    pub rectify: usize,
    /// Blocks in 巩固.
    pub consolidate: usize,
    /// Buildings of all blocks.
    pub buildings: u32,
    /// Of which visited.
    pub buildings_visited: u32,
    /// The share visited (0 with no buildings).
    pub share_visited: f64,
}

/// Counts of blocks per phase and of buildings visited.
fn progress(blocks: &[StoredBlock]) -> Progress {
    let count = |p: Option<Phase>| blocks.iter().filter(|b| b.phase == p).count();
    let buildings: u32 = blocks.iter().map(|b| b.buildings).sum();
    let visited: u32 = blocks.iter().map(|b| b.visited).sum();
    Progress {
        blocks: blocks.len(),
        not_started: count(None),
        investigate: count(Some(Phase::Investigate)),
        clear: count(Some(Phase::Clear)),
        rectify: count(Some(Phase::Rectify)),
        consolidate: count(Some(Phase::Consolidate)),
        buildings,
        buildings_visited: visited,
        share_visited: if buildings > 0 { f64::from(visited) / f64::from(buildings) } else { 0.0 },
    }
}

/// A block of a campaign: its place in the order, its phase and its progress.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BlockProperties {
    /// The block.
    pub block_id: u32,
    /// Its place in the nibbling order, from 1.
    pub order: u32,
    /// Its grid.
    pub grid_id: u32,
    /// Its phase: investigate, clear, rectify or consolidate (null before 排查).
    #[schema(required = true)]
    pub phase: Option<&'static str>,
    /// The phase in Chinese.
    #[schema(required = true)]
    pub phase_zh: Option<&'static str>,
    /// Its buildings.
    pub buildings: u32,
    /// Of which visited.
    pub visited: u32,
    /// The planned dates of its phases.
    #[schema(value_type = Option<Vec<sweep::PhaseDates>>)]
    pub planned: Value,
}

/// A stored campaign: its request, its progress and, in full, its plan and blocks.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Campaign {
    /// Its id.
    pub id: u32,
    /// When it was planned (YYYY-MM-DD).
    pub created_on: String,
    /// The area asked for: `{"grids": [...]}` or `{"polygon": ...}`.
    #[schema(value_type = Object)]
    pub area: Value,
    /// The team.
    #[schema(value_type = Vec<u32>)]
    pub caseworkers: Value,
    /// First day (YYYY-MM-DD).
    pub start_date: String,
    /// Working days allowed.
    pub working_days: u32,
    /// Buildings per caseworker per day.
    pub buildings_per_day: u32,
    /// Weeks from clearing to the 巩固 re-check.
    pub recheck_weeks: u32,
    /// Blocks per phase and buildings visited.
    pub progress: Progress,
    /// The plan (in full answers).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<sweep::CampaignPlan>)]
    pub plan: Option<Value>,
    /// The blocks as polygons numbered in order (in full answers).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blocks: Option<FeatureCollection<BlockProperties>>,
}

/// A plain data struct as a JSON value (serialising such a struct cannot fail).
fn value<T: Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

/// The part of campaign `c` that `scope` sees: its blocks, their buildings in each day's
/// assignments and the plan's grids within the scope; a day's and the plan's expected finds are
/// summed over what is left. `None` when the scope sees none of it. The area's KPIs before and
/// after stay those of the whole campaign area (aggregates, never a record).
pub fn within_scope(atlas: &Atlas, c: &StoredCampaign, scope: &Scope) -> Option<StoredCampaign> {
    if !c.blocks.iter().any(|b| scope.sees_grid(b.grid_id)) {
        return None;
    }
    if c.blocks.iter().all(|b| scope.sees_grid(b.grid_id)) {
        return Some(c.clone());
    }
    let mut c = c.clone();
    let sees_building = |b: u32| atlas.building(b).is_some_and(|b| scope.sees_grid(b.grid_id));
    c.blocks.retain(|b| scope.sees_grid(b.grid_id));
    let plan = &mut c.record.plan;
    plan.grids.retain(|&g| scope.sees_grid(g));
    plan.blocks.retain(|b| scope.sees_grid(b.grid_id));
    plan.expected_finds = plan.blocks.iter().map(|b| b.expected_finds).sum();
    for day in &mut plan.days {
        for a in &mut day.assignments {
            let before = a.buildings.len();
            a.buildings.retain(|&b| sees_building(b));
            if a.buildings.len() < before && before > 0 {
                a.expected_finds *= a.buildings.len() as f64 / before as f64;
            }
        }
        day.assignments.retain(|a| !a.buildings.is_empty());
        day.expected_finds = day.assignments.iter().map(|a| a.expected_finds).sum();
    }
    Some(c)
}

/// A stored campaign: its request, progress, and with `full` the plan and its blocks as GeoJSON
/// polygons numbered in order and carrying their phase.
pub fn campaign_json(atlas: &Atlas, c: &StoredCampaign, full: bool) -> Campaign {
    let mut v = Campaign {
        id: c.id,
        created_on: fmt_date(c.record.created_on),
        area: c.record.area.clone(),
        caseworkers: value(&c.record.team),
        start_date: fmt_date(c.record.start),
        working_days: c.record.working_days,
        buildings_per_day: c.record.buildings_per_day,
        recheck_weeks: c.record.recheck_weeks,
        progress: progress(&c.blocks),
        plan: None,
        blocks: None,
    };
    if !full {
        return v;
    }
    let plan = &c.record.plan;
    let features = c
        .blocks
        .iter()
        .map(|b| {
            let geometry = atlas
                .blocks()
                .get(b.block_id as usize)
                .filter(|g| g.id == b.block_id)
                .or_else(|| atlas.blocks().iter().find(|g| g.id == b.block_id))
                .map(|g| geometry(g.geometry.clone()));
            let props = BlockProperties {
                block_id: b.block_id,
                order: b.seq + 1,
                grid_id: b.grid_id,
                phase: b.phase.map(phase_str),
                phase_zh: b.phase.map(Phase::name_zh),
                buildings: b.buildings,
                visited: b.visited,
                planned: plan
                    .blocks
                    .get(b.seq as usize)
                    .filter(|s| s.block_id == b.block_id)
                    .or_else(|| plan.blocks.iter().find(|s| s.block_id == b.block_id))
                    .map_or(Value::Null, |s| value(&s.phases)),
            };
            Feature::maybe(geometry, props).with_id(b.block_id)
        })
        .collect();
    v.plan = Some(value(plan));
    v.blocks = Some(FeatureCollection::new(features));
    v
}

/// A feature of a day's routes: a caseworker's walk, their station or a numbered stop.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RouteProperties {
    /// The walk from the station through the stops and back, along the streets.
    Route {
        /// Who walks it.
        caseworker_id: u32,
        /// Stops on it.
        stops: usize,
        /// Its length, metres.
        total_m: f64,
        /// The length of the nearest-neighbour tour, metres (the baseline).
        nearest_neighbour_m: f64,
        /// Legs whose length was estimated (no street path).
        estimated_legs: usize,
    },
    /// The community station the walk starts and ends at.
    Station {
        /// Whose.
        caseworker_id: u32,
        /// Always 0.
        order: usize,
    },
    /// A building on the walk.
    Stop {
        /// Whose.
        caseworker_id: u32,
        /// Its place on the walk, from 1.
        order: usize,
        /// The building.
        building_id: u32,
        /// Its grid.
        grid_id: u32,
        /// Its door-plate address.
        address: String,
        /// The leg to it, metres.
        leg_m: f64,
    },
}

/// One caseworker's walk in brief.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RouteSummary {
    /// Who.
    pub caseworker_id: u32,
    /// The buildings in order.
    pub stops: Vec<u32>,
    /// Its length, metres.
    pub total_m: f64,
    /// The nearest-neighbour baseline, metres.
    pub nearest_neighbour_m: f64,
}

/// Each caseworker's walk on one day of a campaign, as GeoJSON.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DayRoutes {
    /// Always `FeatureCollection`.
    #[serde(rename = "type")]
    pub kind: crate::geojson::FeatureCollectionType,
    /// The campaign.
    pub campaign_id: u32,
    /// The day (YYYY-MM-DD).
    pub date: String,
    /// Whether the plan has work that day.
    pub working_day: bool,
    /// Each walk in brief (on working days).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub routes: Option<Vec<RouteSummary>>,
    /// The walks, stations and stops.
    pub features: Vec<Feature<RouteProperties>>,
}

/// Each caseworker's walk on `date`: a LineString through the community station and the stops
/// in order, the station and the numbered stops as points. The walks follow the snapshot's walking
/// network, built once per district geometry.
pub fn routes_json(snapshot: &Snapshot, c: &StoredCampaign, date: Date) -> AppResult<DayRoutes> {
    let atlas = snapshot.atlas();
    let day_s = fmt_date(date);
    let mut answer = DayRoutes {
        kind: crate::geojson::FeatureCollectionType::FeatureCollection,
        campaign_id: c.id,
        date: day_s.clone(),
        working_day: false,
        routes: None,
        features: Vec::new(),
    };
    let Some(day) = c.record.plan.days.iter().find(|d| d.date == date) else {
        return Ok(answer);
    };
    let net = snapshot.walking_network();
    let opts = RouteOptions::default();
    let mut features = Vec::new();
    let mut routes = Vec::new();
    for a in &day.assignments {
        let community = a
            .buildings
            .first()
            .and_then(|&b| atlas.building(b))
            .and_then(|b| atlas.grid(b.grid_id))
            .map(|g| g.community);
        let station = community
            .and_then(|k| community_station(atlas, k))
            .ok_or_else(|| AppError::Internal(format!("no station for caseworker {}", a.caseworker_id)))?;
        let route = route_day_on(&net, atlas, station, &a.buildings, &opts)
            .map_err(|e| AppError::Internal(format!("route of caseworker {}: {e}", a.caseworker_id)))?;
        let points: Vec<Point<f64>> = std::iter::once(station)
            .chain(route.stops.iter().filter_map(|&b| atlas.building(b).map(|x| x.point)))
            .chain(std::iter::once(station))
            .collect();
        // The walk along the streets, leg by leg.
        let mut line: Vec<[f64; 2]> = vec![];
        for leg in points.windows(2) {
            for p in net.path(leg[0], leg[1]) {
                if line.last() != Some(&[p.x(), p.y()]) {
                    line.push([p.x(), p.y()]);
                }
            }
        }
        let round = |x: f64| x.round();
        let walk = RouteProperties::Route {
            caseworker_id: a.caseworker_id,
            stops: route.stops.len(),
            total_m: round(route.total_m),
            nearest_neighbour_m: round(route.nearest_neighbour_total_m),
            estimated_legs: route.estimated_legs,
        };
        features.push(Feature::new(geometry(LineString::from(line)), walk));
        let at_station = RouteProperties::Station { caseworker_id: a.caseworker_id, order: 0 };
        features.push(Feature::new(geometry(station), at_station));
        for (i, &b) in route.stops.iter().enumerate() {
            let Some(building) = atlas.building(b) else { continue };
            let stop = RouteProperties::Stop {
                caseworker_id: a.caseworker_id,
                order: i + 1,
                building_id: b,
                grid_id: building.grid_id,
                address: building.address.clone(),
                leg_m: round(route.legs_m.get(i).copied().unwrap_or(0.0)),
            };
            features.push(Feature::new(geometry(building.point), stop).with_id(b));
        }
        routes.push(RouteSummary {
            caseworker_id: a.caseworker_id,
            stops: route.stops.clone(),
            total_m: round(route.total_m),
            nearest_neighbour_m: round(route.nearest_neighbour_total_m),
        });
    }
    answer.working_day = true;
    answer.routes = Some(routes);
    answer.features = features;
    Ok(answer)
}
