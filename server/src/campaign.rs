//! 蚕食法 sweep campaigns on the server: the candidate estimate for the current data, a
//! campaign request checked and planned, what a stored campaign answers, and the day's routes.
//! The handlers in `api::campaigns` stay thin; the analysis is in `rentgrid_analysis::sweep`,
//! `candidates` and `route`.

use crate::error::{ApiError, ApiResult};
use crate::scope::Scope;
use crate::state::AppState;
use crate::store::campaigns::{CampaignRecord, NewCampaign, StoredBlock, StoredCampaign, phase_str};
use crate::store::dates::{fmt_date, parse_date};
use geo::Point;
use rentgrid_analysis::candidates::{BuildingEstimate, Lang, Reason};
use rentgrid_analysis::network::WalkingNetwork;
use rentgrid_analysis::route::{RouteOptions, community_station, route_day_on};
use rentgrid_analysis::sweep::{self, Area, CampaignInput, Phase, SweepError};
use rentgrid_geodata::{Atlas, GridId};
use serde::Deserialize;
use serde_json::{Value, json};
use time::Date;

/// Most working days a campaign may ask for (a year of weekdays).
pub const MAX_WORKING_DAYS: u32 = 260;
/// Most buildings one caseworker can be asked to visit in a day.
pub const MAX_BUILDINGS_PER_DAY: u32 = 200;
/// Most weeks between clearing and the 巩固 re-check.
pub const MAX_RECHECK_WEEKS: u32 = 52;
/// Weeks to the 巩固 re-check when the request names none.
pub const DEFAULT_RECHECK_WEEKS: u32 = 4;

/// A reason as JSON: its code and numbers, and the sentence in Chinese and English.
pub fn reason_json(r: &Reason) -> Value {
    let mut v = serde_json::to_value(r).unwrap_or_else(|_| json!({}));
    v["zh"] = json!(r.text(Lang::Zh));
    v["en"] = json!(r.text(Lang::En));
    v
}

/// A candidate building as a GeoJSON point feature, with its rank (1 = most expected).
pub fn candidate_feature(atlas: &Atlas, e: &BuildingEstimate, rank: usize) -> Value {
    let (point, address) = atlas
        .building(e.building_id)
        .map_or((json!(null), json!(null)), |b| (json!([b.point.x(), b.point.y()]), json!(b.address)));
    let round = |x: f64| (x * 100.0).round() / 100.0;
    json!({
        "type": "Feature",
        "id": e.building_id,
        "geometry": { "type": "Point", "coordinates": point },
        "properties": {
            "rank": rank,
            "building_id": e.building_id,
            "grid_id": e.grid_id,
            "address": address,
            "expected_units": round(e.expected_units),
            "units_low": round(e.units_low),
            "units_high": round(e.units_high),
            "expected_persons": round(e.expected_persons),
            "reasons": e.reasons.iter().map(reason_json).collect::<Vec<_>>(),
        },
    })
}

/// The request body of `POST /api/campaigns`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CampaignRequest {
    /// The area as grid ids …
    #[serde(default)]
    grids: Option<Vec<GridId>>,
    /// … or as a GeoJSON Polygon (a geometry or a Feature holding one).
    #[serde(default)]
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

fn unprocessable(m: impl Into<String>) -> ApiError {
    ApiError::Unprocessable(m.into())
}

fn date_field(name: &str, s: &str) -> ApiResult<Date> {
    parse_date(s).ok_or_else(|| unprocessable(format!("{name} {s:?} is not a date as YYYY-MM-DD")))
}

/// The outer ring of a GeoJSON Polygon (geometry or Feature).
fn polygon_ring(v: &Value) -> ApiResult<Vec<[f64; 2]>> {
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

/// A checked request: the analysis input and what the store keeps besides the plan.
pub struct CheckedRequest {
    input: CampaignInput,
    working_days: u32,
    area_json: Value,
}

impl CampaignRequest {
    /// Checks the request's own fields (the area's grids and the team are checked by the plan).
    pub fn check(self, scope: &Scope) -> ApiResult<CheckedRequest> {
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
                    return Err(ApiError::Forbidden(format!("grids: grid {g} is outside what you may plan")));
                }
                let v = json!({ "grids": grids });
                (Area::Grids { grids }, v)
            }
            (None, Some(p)) => {
                let ring = polygon_ring(&p)?;
                (Area::Polygon { ring }, json!({ "polygon": p }))
            }
        };
        let start = date_field("start_date", &self.start_date)?;
        let holidays = self.holidays.iter().map(|h| date_field("holidays", h)).collect::<ApiResult<Vec<_>>>()?;
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
fn sweep_error(e: SweepError) -> ApiError {
    let field = match &e {
        SweepError::UnknownGrid(_) | SweepError::GridWithoutBlocks(_) => "grids",
        SweepError::UnknownCaseworker(_) | SweepError::DuplicateCaseworker(_) | SweepError::EmptyTeam => "caseworkers",
        SweepError::ZeroCapacity => "buildings_per_day",
        SweepError::NoBlocks => "area",
        SweepError::BadPolygon(_) => "polygon",
        SweepError::SeedOutsideArea(_) => "seed_block",
        SweepError::NoWorkingDay(_) => "start_date",
        SweepError::PhaseOrder { .. } => return ApiError::Conflict(e.to_string()),
        SweepError::CandidatesMismatch { .. } => return ApiError::Internal(e.to_string()),
        SweepError::Parameter(_) => "request",
    };
    unprocessable(format!("{field}: {e}"))
}

/// Plans and stores a campaign; answers what [`campaign_json`] does for it.
pub async fn create(state: &AppState, scope: &Scope, req: CheckedRequest) -> ApiResult<Value> {
    let atlas = state.atlas();
    let estimate = state.estimate(&atlas).await?;
    let (plan_atlas, input) = (atlas.clone(), req.input.clone());
    let plan = tokio::task::spawn_blocking(move || {
        sweep::plan_campaign(&plan_atlas, &estimate.caseworkers, &estimate.candidates, &input)
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))?
    .map_err(sweep_error)?;
    if let Some(g) = plan.grids.iter().find(|&&g| !scope.sees_grid(g)) {
        return Err(ApiError::Forbidden(format!("polygon: it reaches grid {g}, outside what you may plan")));
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
        created_on: crate::api::today(),
        area: req.area_json,
        team: req.input.team.clone(),
        start: req.input.start,
        working_days: req.working_days,
        buildings_per_day: req.input.buildings_per_day,
        recheck_weeks: req.input.consolidate_after_weeks,
        plan,
    };
    let blocks = record.plan.blocks.iter().map(|b| (b.block_id, b.grid_id, b.buildings.clone())).collect();
    let new = NewCampaign { record, blocks };
    let id = state.create_campaign(&new).await?;
    let stored = state.store().campaigns(Some(id)).await?;
    let c = stored.first().ok_or_else(|| ApiError::Internal(format!("campaign {id} vanished")))?;
    Ok(campaign_json(&atlas, c, true))
}

/// Counts of blocks per phase and of buildings visited.
fn progress_json(blocks: &[StoredBlock]) -> Value {
    let count = |p: Option<Phase>| blocks.iter().filter(|b| b.phase == p).count();
    let buildings: u32 = blocks.iter().map(|b| b.buildings).sum();
    let visited: u32 = blocks.iter().map(|b| b.visited).sum();
    json!({
        "blocks": blocks.len(),
        "not_started": count(None),
        "investigate": count(Some(Phase::Investigate)),
        "clear": count(Some(Phase::Clear)),
        "rectify": count(Some(Phase::Rectify)),
        "consolidate": count(Some(Phase::Consolidate)),
        "buildings": buildings,
        "buildings_visited": visited,
        "share_visited": if buildings > 0 { f64::from(visited) / f64::from(buildings) } else { 0.0 },
    })
}

/// The phase as JSON: its code and its Chinese name, `null` before 排查.
fn phase_json(p: Option<Phase>) -> Value {
    p.map_or(Value::Null, |p| json!(phase_str(p)))
}

/// A stored campaign: its request, progress, and with `full` the plan and its blocks as GeoJSON
/// polygons numbered in order and carrying their phase.
pub fn campaign_json(atlas: &Atlas, c: &StoredCampaign, full: bool) -> Value {
    let mut v = json!({
        "id": c.id,
        "created_on": fmt_date(c.record.created_on),
        "area": c.record.area,
        "caseworkers": c.record.team,
        "start_date": fmt_date(c.record.start),
        "working_days": c.record.working_days,
        "buildings_per_day": c.record.buildings_per_day,
        "recheck_weeks": c.record.recheck_weeks,
        "progress": progress_json(&c.blocks),
    });
    if !full {
        return v;
    }
    let plan = &c.record.plan;
    let features: Vec<Value> = c
        .blocks
        .iter()
        .map(|b| {
            let geometry = atlas
                .blocks()
                .get(b.block_id as usize)
                .filter(|g| g.id == b.block_id)
                .or_else(|| atlas.blocks().iter().find(|g| g.id == b.block_id))
                .map_or(Value::Null, |g| crate::api::features::geometry(g.geometry.clone()));
            json!({
                "type": "Feature",
                "id": b.block_id,
                "geometry": geometry,
                "properties": {
                    "block_id": b.block_id,
                    "order": b.seq + 1,
                    "grid_id": b.grid_id,
                    "phase": phase_json(b.phase),
                    "phase_zh": b.phase.map(Phase::name_zh),
                    "buildings": b.buildings,
                    "visited": b.visited,
                    "planned": plan.blocks.get(b.seq as usize).map(|s| &s.phases),
                },
            })
        })
        .collect();
    v["plan"] = json!(plan);
    v["blocks"] = json!({ "type": "FeatureCollection", "features": features });
    v
}

/// Each caseworker's walk on `date`: a LineString through the community station and the stops
/// in order, the station and the numbered stops as points.
pub fn routes_json(atlas: &Atlas, c: &StoredCampaign, date: Date) -> ApiResult<Value> {
    let day_s = fmt_date(date);
    let Some(day) = c.record.plan.days.iter().find(|d| d.date == date) else {
        return Ok(json!({
            "type": "FeatureCollection",
            "campaign_id": c.id,
            "date": day_s,
            "working_day": false,
            "features": [],
        }));
    };
    let net = WalkingNetwork::from_atlas(atlas);
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
            .ok_or_else(|| ApiError::Internal(format!("no station for caseworker {}", a.caseworker_id)))?;
        let route = route_day_on(&net, atlas, station, &a.buildings, &opts)
            .map_err(|e| ApiError::Internal(format!("route of caseworker {}: {e}", a.caseworker_id)))?;
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
        features.push(json!({
            "type": "Feature",
            "geometry": { "type": "LineString", "coordinates": line },
            "properties": {
                "kind": "route",
                "caseworker_id": a.caseworker_id,
                "stops": route.stops.len(),
                "total_m": round(route.total_m),
                "nearest_neighbour_m": round(route.nearest_neighbour_total_m),
                "estimated_legs": route.estimated_legs,
            },
        }));
        features.push(json!({
            "type": "Feature",
            "geometry": { "type": "Point", "coordinates": [station.x(), station.y()] },
            "properties": { "kind": "station", "caseworker_id": a.caseworker_id, "order": 0 },
        }));
        for (i, &b) in route.stops.iter().enumerate() {
            let Some(building) = atlas.building(b) else { continue };
            features.push(json!({
                "type": "Feature",
                "id": b,
                "geometry": { "type": "Point", "coordinates": [building.point.x(), building.point.y()] },
                "properties": {
                    "kind": "stop",
                    "caseworker_id": a.caseworker_id,
                    "order": i + 1,
                    "building_id": b,
                    "grid_id": building.grid_id,
                    "address": building.address,
                    "leg_m": round(route.legs_m.get(i).copied().unwrap_or(0.0)),
                },
            }));
        }
        routes.push(json!({
            "caseworker_id": a.caseworker_id,
            "stops": route.stops,
            "total_m": round(route.total_m),
            "nearest_neighbour_m": round(route.nearest_neighbour_total_m),
        }));
    }
    Ok(json!({
        "type": "FeatureCollection",
        "campaign_id": c.id,
        "date": day_s,
        "working_day": true,
        "routes": routes,
        "features": features,
    }))
}
