//! `GET /api/summary`: the command center's big screen (see [`crate::summary`]).

use crate::api::error::Exception;
use crate::api::query::ApiQuery;
use crate::error::{AppError, AppResult};
use crate::scope::Scope;
use crate::state::AppState;
use crate::summary::Summary;
use axum::Json;
use axum::extract::State;
use rentgrid_store::activity::MAX_RECENT;
use serde::Deserialize;
use utoipa::IntoParams;

/// `GET /api/summary?recent=`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SummaryQuery {
    /// How many of the latest visits to list (default 20, at most 100).
    #[serde(default)]
    #[param(minimum = 0, maximum = 100)]
    recent: Option<u32>,
}

/// `GET /api/summary`: the big screen's figures over the caller's grids.
#[utoipa::path(get, path = "/api/summary", tag = "API", operation_id = "summary",
    summary = "the command center's big screen: KPIs against targets with the estimated actual rates, today's and \
               this month's registrations and visits, open hazard cases, the KPIs by month and the latest visits, \
               over the caller's grids",
    params(SummaryQuery),
    responses(
        (status = 200, description = "the figures of one data snapshot", body = Summary),
        (status = 400, description = "a bad query", body = Exception),
        (status = 401, description = "not signed in", body = Exception),
        (status = 403, description = "a role that does not read the register", body = Exception)))]
pub(crate) async fn summary(
    State(state): State<AppState>,
    scope: Scope,
    ApiQuery(q): ApiQuery<SummaryQuery>,
) -> AppResult<Json<Summary>> {
    let recent = q.recent.unwrap_or(20);
    if recent > MAX_RECENT {
        return Err(AppError::BadRequest(format!("recent: {recent} is more than {MAX_RECENT}")));
    }
    Ok(Json(crate::summary::summary(&state, &scope, recent).await?))
}
