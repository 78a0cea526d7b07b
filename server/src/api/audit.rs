//! `GET /api/audit`: the audit log (留痕) for the auditor, filtered in the store by time, user
//! and action, a page at a time in chain order, as JSON or exported as CSV or XLSX (Chinese
//! headers unless `lang=en`). Each read is itself one audit row (`audit_read`, `audit_export`),
//! written after the rows are read and before the answer leaves.

use super::identity::{Authenticated, RequestSource};
use super::query::ApiQuery;
use crate::access::audit::{AuditQuery, AuditRow, action};
use crate::api::error::Exception;
use crate::error::{AppError, AppResult};
use crate::export::{Book, Cell, Lang, Sheet};
use crate::identity::Actor;
use crate::state::AppState;
use crate::store::dates::{fmt_instant, parse_date};
use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use rentgrid_geodata::clock::CHINA;
use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime, PrimitiveDateTime, Time};
use utoipa::{IntoParams, ToSchema};

/// Rows of one JSON page when the request names no limit.
const DEFAULT_PAGE: u32 = 100;
/// The most rows of one JSON page.
const MAX_PAGE: u32 = 1_000;
/// The most rows of one export (and its default): a longer log is exported in parts with `after`.
pub const MAX_EXPORT: u32 = 100_000;
/// The header naming the `after` of the next part of an export cut at its limit.
pub const NEXT_AFTER_HEADER: &str = "x-next-after";

/// The query of `GET /api/audit`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditParams {
    /// From this day (`YYYY-MM-DD`, China time, the whole day) or instant (RFC 3339), inclusive.
    from: Option<String>,
    /// To this day (`YYYY-MM-DD`, China time, the whole day) or instant (RFC 3339), inclusive.
    to: Option<String>,
    /// Only the rows of this user (the exact username).
    user: Option<String>,
    /// Only the rows of this action: `login`, `login_failed`, `logout`, `token_create`,
    /// `user_add`, `person_read`, `person_reveal`, `visit_record`, `import`, `proposal_accept`,
    /// `campaign_create`, `campaign_phase`, `audit_read`, `audit_export`, …
    action: Option<String>,
    /// Only rows after this place in the chain (paging: the previous page's `next_after`).
    #[param(value_type = Option<u64>)]
    after: Option<String>,
    /// The most rows answered: 1 to 1000 (default 100); an export 1 to 100000 (default 100000).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100_000)]
    limit: Option<String>,
    /// `json` (default), or a file: `csv` (UTF-8 with a BOM) or `xlsx`.
    #[param(pattern = "^(json|csv|xlsx)$")]
    format: Option<String>,
    /// The headers of a file: `zh` (default) or `en`.
    #[param(pattern = "^(zh|en)$")]
    lang: Option<String>,
}

/// One row of the audit log.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditRecord {
    /// Its place in the chain, from 1, without gaps.
    pub seq: i64,
    /// When (RFC 3339, UTC).
    pub at: String,
    /// Who (none for the command line or an unknown user).
    #[schema(required = true)]
    pub user: Option<String>,
    /// Their role.
    #[schema(required = true)]
    pub role: Option<String>,
    /// Where from: the source address, or `cli`.
    #[schema(required = true)]
    pub source: Option<String>,
    /// What was done.
    pub action: String,
    /// What it was done to: the route and the ids.
    pub target: String,
    /// The reason given.
    #[schema(required = true)]
    pub reason: Option<String>,
    /// How it ended: `ok`, `denied`, `replayed`, …
    pub outcome: String,
    /// The row's chain hash (SHA-256 of the row before's hash and its content).
    pub hash: String,
}

impl From<AuditRow> for AuditRecord {
    fn from(r: AuditRow) -> Self {
        let e = r.entry.event;
        Self {
            seq: r.entry.seq,
            at: e.at,
            user: e.user,
            role: e.role,
            source: e.source,
            action: e.action,
            target: e.target,
            reason: e.reason,
            outcome: e.outcome,
            hash: r.hash,
        }
    }
}

/// A page of the audit log.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    /// Rows on this page.
    pub number_returned: usize,
    /// The `after` of the next page; none when this page is the last.
    #[schema(required = true)]
    pub next_after: Option<i64>,
    /// The rows, in chain order.
    pub rows: Vec<AuditRecord>,
}

/// The columns of an export: key (English header) and Chinese header.
const COLUMNS: [(&str, &str); 10] = [
    ("seq", "序号"),
    ("at", "时间（UTC）"),
    ("user", "用户"),
    ("role", "角色"),
    ("source", "来源地址"),
    ("action", "操作"),
    ("target", "对象"),
    ("reason", "事由"),
    ("outcome", "结果"),
    ("hash", "哈希"),
];

/// The audit log as one sheet.
fn book(rows: &[AuditRecord], lang: Lang) -> Book {
    let text = |s: &Option<String>| s.clone().map_or(Cell::Empty, Cell::Text);
    let cells = rows
        .iter()
        .map(|r| {
            vec![
                Cell::Int(r.seq.max(0) as u64),
                Cell::Text(r.at.clone()),
                text(&r.user),
                text(&r.role),
                text(&r.source),
                Cell::Text(r.action.clone()),
                Cell::Text(r.target.clone()),
                text(&r.reason),
                Cell::Text(r.outcome.clone()),
                Cell::Text(r.hash.clone()),
            ]
        })
        .collect();
    let name = if lang == Lang::En { "audit log" } else { "审计日志" };
    Book::single(Sheet { name: name.into(), columns: COLUMNS.to_vec(), rows: cells })
}

/// Which end of a range a bound is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    From,
    To,
}

/// The instant a `from` starts at, or a `to` ends before: a day in China from its first second
/// (`from`) or to its last (`to`), or an RFC 3339 instant, to the second.
fn bound(name: &str, raw: &str, end: End) -> AppResult<OffsetDateTime> {
    let raw = raw.trim();
    if let Some(day) = parse_date(raw) {
        let day = if end == End::To { day.next_day() } else { Some(day) };
        return day
            .map(|d| PrimitiveDateTime::new(d, Time::MIDNIGHT).assume_offset(CHINA))
            .ok_or_else(|| AppError::BadRequest(format!("{name} {raw:?} is past the last day there is")));
    }
    let t = OffsetDateTime::parse(raw, &Rfc3339).map_err(|_| {
        AppError::BadRequest(format!(
            "{name} {raw:?} is not a day (YYYY-MM-DD, China time) or an instant (RFC 3339, e.g. 2026-12-03T08:00:00Z)"
        ))
    })?;
    let t = t.replace_nanosecond(0).unwrap_or(t);
    Ok(if end == End::To { t + Duration::SECOND } else { t })
}

fn whole(name: &str, raw: &str, max: u64) -> AppResult<u64> {
    match raw.trim().parse::<u64>() {
        Ok(n) if n <= max => Ok(n),
        _ => Err(AppError::BadRequest(format!("{name} {raw:?} must be a whole number from 0 to {max}"))),
    }
}

/// The store's query for the parameters, with the page size asked (one more row is read to know
/// whether a next page exists).
fn query(q: &AuditParams, file: bool) -> AppResult<AuditQuery> {
    let (default, max) = if file { (MAX_EXPORT, MAX_EXPORT) } else { (DEFAULT_PAGE, MAX_PAGE) };
    let limit = match q.limit.as_deref() {
        None => default,
        Some(raw) => match whole("limit", raw, u64::from(max))? {
            0 => return Err(AppError::BadRequest(format!("limit {raw:?} must be a whole number from 1 to {max}"))),
            n => n as u32,
        },
    };
    let after = q.after.as_deref().map(|raw| whole("after", raw, i64::MAX as u64)).transpose()?.unwrap_or(0);
    let since = q.from.as_deref().map(|raw| bound("from", raw, End::From)).transpose()?;
    let until = q.to.as_deref().map(|raw| bound("to", raw, End::To)).transpose()?;
    if let (Some(s), Some(u)) = (since, until)
        && s >= u
    {
        return Err(AppError::BadRequest("from is after to: nothing lies between them".into()));
    }
    let text = |v: &Option<String>| v.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned);
    Ok(AuditQuery {
        after: after as i64,
        limit: limit + 1,
        since: since.map(fmt_instant),
        until: until.map(fmt_instant),
        user: text(&q.user),
        action: text(&q.action),
    })
}

/// `GET /api/audit`: the audit log for the auditor.
#[utoipa::path(get, path = "/api/audit", tag = "Audit", operation_id = "audit",
    summary = "the audit log (auditor only): filtered by from/to (days in China time or RFC 3339), user and action, \
               paged by after; format=csv|xlsx exports it (Chinese headers, lang=en for English)",
    params(AuditParams),
    responses(
        (status = 200, description = "a page of rows (or the file, with x-next-after when more rows follow)", content(
            (AuditPage = "application/json"), (crate::api::openapi::Binary = "text/csv"),
            (crate::api::openapi::Binary = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))),
        (status = 400, description = "a bad date, number, format or lang, or an unknown parameter", body = Exception),
        (status = 401, description = "not signed in", body = Exception),
        (status = 403, description = "not the auditor", body = Exception)))]
pub async fn audit(
    State(state): State<AppState>,
    source: RequestSource,
    Authenticated(who): Authenticated,
    RawQuery(raw): RawQuery,
    ApiQuery(q): ApiQuery<AuditParams>,
) -> AppResult<Response> {
    let format = super::table_format(q.format.as_deref())?;
    let lang = q.lang.as_deref().map(str::parse::<Lang>).transpose().map_err(AppError::BadRequest)?.unwrap_or(Lang::Zh);
    let asked = query(&q, format.is_some())?;
    let mut rows: Vec<AuditRecord> =
        crate::standby::reads(&state).await.audit_query(&asked).await?.into_iter().map(Into::into).collect();
    let more = rows.len() > (asked.limit - 1) as usize;
    rows.truncate((asked.limit - 1) as usize);
    let next_after = if more { rows.last().map(|r| r.seq) } else { None };
    let range = match (rows.first(), rows.last()) {
        (Some(a), Some(b)) => format!("rows {}-{}", a.seq, b.seq),
        _ => "no rows".to_owned(),
    };
    let what = if format.is_some() { action::AUDIT_EXPORT } else { action::AUDIT_READ };
    let target = format!("GET /api/audit?{} {range}", raw.unwrap_or_default());
    // A read that cannot be audited is not answered.
    state.store().append_audit(&Actor::User(who, source.ip).event(state.identity().now(), what, target)).await?;
    let Some(format) = format else {
        return Ok(super::no_store(Json(AuditPage { number_returned: rows.len(), next_after, rows }).into_response()));
    };
    let mut res = super::records_file("audit", book(&rows, lang), format, lang).await?;
    if let Some(next) = next_after.and_then(|n| HeaderValue::from_str(&n.to_string()).ok()) {
        res.headers_mut().insert(NEXT_AFTER_HEADER, next);
    }
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_are_whole_days_in_china_and_instants_whole_seconds() {
        let from = bound("from", "2026-12-03", End::From).unwrap();
        assert_eq!(fmt_instant(from), "2026-12-02T16:00:00Z");
        let to = bound("to", "2026-12-03", End::To).unwrap();
        assert_eq!(fmt_instant(to), "2026-12-03T16:00:00Z");
        let to = bound("to", "2026-12-03T08:00:00.5+08:00", End::To).unwrap();
        assert_eq!(fmt_instant(to), "2026-12-03T00:00:01Z");
        for bad in ["2026-13-01", "yesterday", "2026-12-03 08:00"] {
            assert!(matches!(bound("from", bad, End::From), Err(AppError::BadRequest(m)) if m.contains("RFC 3339")));
        }
    }
}
