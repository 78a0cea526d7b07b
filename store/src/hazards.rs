//! Safety hazards to closure (整治一块) in the store: a case recorded at the door, its moves
//! through the lifecycle ([`rentgrid_analysis::hazard`] says which are allowed), every move kept
//! in `hazard_events`, and the photos' records (the files are the server's). Written once for
//! both backends.
//!
//! A case is recorded and reported rectified from the phone, maybe offline: both carry a client
//! id and are applied at most once, as every field write ([`crate::field`]). Every move is one
//! transaction with its audit row, made against the case as it stands then (its row locked where
//! the backend can), so two supervisors cannot both verify a case.

use crate::audit::{self, AuditEvent};
use crate::backend::{Backend, Tx};
use crate::changes::{self, Change};
use crate::field::{Fix, Written, remember, replay, request_of};
use crate::sql::Sql;
use crate::value::Row;
use crate::{Result, SqlStore, StoreError};
use async_trait::async_trait;
use rentgrid_analysis::hazard::{Deadline, Severity, Status};
use rentgrid_geodata::GridId;
use serde::{Deserialize, Serialize};
use time::Date;

/// A hazard found at the door.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NewHazard {
    /// Client-generated id of the write.
    pub client_id: String,
    /// The building.
    pub building_id: u32,
    /// The rental unit, when the hazard is in one.
    pub unit_id: Option<u32>,
    /// Its kind's code (one of the configured list; checked by the caller).
    pub kind: String,
    /// How serious.
    pub severity: Severity,
    /// What was seen.
    pub note: String,
    /// The day it was found.
    pub found_on: Date,
    /// Its deadline (from the kind, the severity and the day; not part of the request).
    #[serde(skip)]
    pub deadline: Deadline,
    /// Where the phone was.
    #[serde(skip)]
    pub position: Option<Fix>,
}

/// A move of a case.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HazardMove {
    /// Client-generated id of the write.
    pub client_id: String,
    /// The case.
    pub hazard_id: u32,
    /// Where it goes.
    pub to: Status,
    /// The caseworker it is given to (a move to assigned).
    pub assignee_id: Option<u32>,
    /// A note: what was done, why it is sent back.
    pub note: String,
    /// The day of the move.
    pub on: Date,
    /// The severity the supervisor judges a reopened case to have now (`None`: as it is);
    /// checked against the case in the move's transaction by [`Severity::reopened_as`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub severity: Option<Severity>,
    /// The new deadline of a reopened case.
    #[serde(skip)]
    pub deadline: Option<Deadline>,
    /// Where the phone was.
    #[serde(skip)]
    pub position: Option<Fix>,
}

/// A move in a case's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HazardEvent {
    /// Where the case went.
    pub status: Status,
    /// The day.
    pub on: Date,
    /// When it was recorded (RFC 3339 UTC).
    pub at: String,
    /// By whom.
    pub username: String,
    /// The caseworker it was given to.
    pub caseworker_id: Option<u32>,
    /// The severity this move set: the one found, or a reopening's new one (`None`: unchanged,
    /// and for cases found before severities were kept with their moves).
    pub severity: Option<Severity>,
    /// The note.
    pub note: String,
}

/// A photo's record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HazardPhoto {
    /// Its id.
    pub id: u32,
    /// The case.
    pub hazard_id: u32,
    /// The SHA-256 of the file, hex: its name on disk.
    pub sha256: String,
    /// `image/jpeg`, `image/png` or `image/webp`.
    pub content_type: String,
    /// Its size.
    pub bytes: u64,
    /// The case's status when it was taken (a hazard as found, or as rectified).
    pub status: Status,
    /// Who took it.
    pub username: String,
    /// When (RFC 3339 UTC).
    pub created_at: String,
}

/// A case as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredHazard {
    /// Its id.
    pub id: u32,
    /// The building.
    pub building_id: u32,
    /// The building's grid.
    pub grid_id: GridId,
    /// The rental unit, if in one.
    pub unit_id: Option<u32>,
    /// Its kind's code.
    pub kind: String,
    /// How serious.
    pub severity: Severity,
    /// What was seen.
    pub note: String,
    /// Where it stands.
    pub status: Status,
    /// The day it was found.
    pub found_on: Date,
    /// Who found it.
    pub found_by: String,
    /// The caseworker it was given to.
    pub assignee_id: Option<u32>,
    /// Its deadline.
    pub deadline: Deadline,
    /// The day it was verified (closed).
    pub closed_on: Option<Date>,
    /// One more on every move.
    pub version: u32,
}

/// What recording a hazard or a move did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct HazardWritten {
    /// The case.
    pub hazard_id: u32,
    /// Its version after the write.
    pub version: u32,
    /// True when this client id had been recorded before: nothing changed.
    #[serde(skip)]
    pub replayed: bool,
}

/// Which cases to list.
#[derive(Debug, Clone, Copy, Default)]
pub struct HazardFilter<'a> {
    /// Only in these grids (`None`: all).
    pub within: Option<&'a [GridId]>,
    /// Only cases not verified.
    pub open_only: bool,
    /// Only in this building.
    pub building: Option<u32>,
    /// Only those given to this caseworker.
    pub assignee: Option<u32>,
}

/// The most cases one list answers.
pub const MAX_LISTED: u32 = 5_000;

/// Hazards and their cases.
#[async_trait]
pub trait Hazards: Send + Sync {
    /// Records a hazard found at the door (at most once per client id), with its audit row.
    async fn record_hazard(&self, h: &NewHazard, event: &AuditEvent) -> Result<HazardWritten>;
    /// Moves a case (at most once per client id) if its lifecycle allows it from where it
    /// stands, with its audit row; 409 (`Conflict`) when it does not.
    async fn move_hazard(&self, m: &HazardMove, event: &AuditEvent) -> Result<HazardWritten>;
    /// The case `id`.
    async fn hazard(&self, id: u32) -> Result<Option<StoredHazard>>;
    /// A case's moves, the first first.
    async fn hazard_events(&self, id: u32) -> Result<Vec<HazardEvent>>;
    /// The cases `filter` admits, the most recently found first (at most [`MAX_LISTED`]).
    async fn hazards(&self, filter: HazardFilter<'_>) -> Result<Vec<StoredHazard>>;
    /// Records a photo of a case, with its audit row (the same file twice is one photo).
    async fn add_hazard_photo(&self, p: &HazardPhoto, event: &AuditEvent) -> Result<HazardPhoto>;
    /// The photos of a case, the first first.
    async fn hazard_photos(&self, id: u32) -> Result<Vec<HazardPhoto>>;
}

const PHOTO_COLUMNS: &str =
    "SELECT id, hazard_id, sha256, content_type, bytes, status, username, created_at FROM hazard_photos";

const COLUMNS: &str = "SELECT id, building_id, grid_id, unit_id, kind, severity, note, status, found_on, found_by, \
                       assignee_id, due_on, red_on, closed_on, version FROM hazards";

fn corrupt(id: u32, reason: String) -> StoreError {
    StoreError::Corrupt { what: "hazard", id: id.to_string(), reason }
}

fn status_of(id: u32, s: &str) -> Result<Status> {
    Status::parse(s).ok_or_else(|| corrupt(id, format!("status {s:?}")))
}

fn hazard_of(r: &Row) -> Result<StoredHazard> {
    let id = r.u32("id")?;
    let severity = r.text("severity")?;
    Ok(StoredHazard {
        id,
        building_id: r.u32("building_id")?,
        grid_id: r.u32("grid_id")?,
        unit_id: r.opt_u32("unit_id")?,
        kind: r.text("kind")?,
        severity: Severity::parse(&severity).ok_or_else(|| corrupt(id, format!("severity {severity:?}")))?,
        note: r.text("note")?,
        status: status_of(id, &r.text("status")?)?,
        found_on: r.date("found_on")?,
        found_by: r.text("found_by")?,
        assignee_id: r.opt_u32("assignee_id")?,
        deadline: Deadline { due_on: r.date("due_on")?, red_on: r.date("red_on")? },
        closed_on: r.opt_date("closed_on")?,
        version: r.u32("version")?,
    })
}

fn photo_of(r: &Row) -> Result<HazardPhoto> {
    let hazard_id = r.u32("hazard_id")?;
    Ok(HazardPhoto {
        id: r.u32("id")?,
        hazard_id,
        sha256: r.text("sha256")?,
        content_type: r.text("content_type")?,
        bytes: u64::try_from(r.int("bytes")?).unwrap_or(0),
        status: status_of(hazard_id, &r.text("status")?)?,
        username: r.text("username")?,
        created_at: r.text("created_at")?,
    })
}

fn now() -> String {
    crate::dates::fmt_instant(time::OffsetDateTime::now_utc())
}

/// A case's transaction: the audit log's lock first (as every audited write), then the cases'.
async fn begin_write(db: &dyn Backend) -> Result<Tx<'_>> {
    let mut tx = audit::begin(db).await?;
    tx.lock_tables("hazards").await?;
    Ok(tx)
}

/// Appends the audit row `event` of a write that changed case `id`, records that its grid's cases
/// changed, and commits.
async fn finish(mut tx: Tx<'_>, event: &AuditEvent, id: u32) -> Result<()> {
    let row = audit::append(&mut tx, event).await?;
    let grid = tx.fetch_one(Sql::new("SELECT grid_id FROM hazards WHERE id = ").bind(id)).await?.u32("grid_id")?;
    changes::record(&mut tx, &row, &Change::Hazards { grid }).await?;
    tx.commit().await
}

/// Appends the move `seq` of case `id`.
async fn log_event(tx: &mut Tx<'_>, id: u32, seq: u32, e: &HazardEvent) -> Result<()> {
    tx.execute(
        Sql::new(
            "INSERT INTO hazard_events (hazard_id, seq, status, on_day, at, username, caseworker_id, severity, note) ",
        )
        .values([vec![
            id.into(),
            seq.into(),
            e.status.as_str().into(),
            e.on.into(),
            e.at.clone().into(),
            e.username.clone().into(),
            e.caseworker_id.into(),
            e.severity.map(Severity::as_str).into(),
            e.note.clone().into(),
        ]]),
    )
    .await?;
    Ok(())
}

async fn insert(tx: &mut Tx<'_>, h: &NewHazard, username: &str) -> Result<HazardWritten> {
    let grid = tx
        .fetch_optional(Sql::new("SELECT grid_id FROM buildings WHERE id = ").bind(h.building_id))
        .await?
        .ok_or_else(|| StoreError::NotFound { what: "building", id: h.building_id.to_string() })?
        .u32("grid_id")?;
    if let Some(unit) = h.unit_id {
        let in_building = tx
            .fetch_optional(
                Sql::new("SELECT id FROM rental_units WHERE id = ")
                    .bind(unit)
                    .push(" AND building_id = ")
                    .bind(h.building_id),
            )
            .await?
            .is_some();
        if !in_building {
            return Err(StoreError::Rejected(format!(
                "unit_id: rental unit {unit} is not in building {}",
                h.building_id
            )));
        }
    }
    let row = tx
        .fetch_one(
            Sql::new(
                "INSERT INTO hazards (building_id, grid_id, unit_id, kind, severity, note, status, found_on, found_by, \
                 due_on, red_on) ",
            )
            .values([vec![
                h.building_id.into(),
                grid.into(),
                h.unit_id.into(),
                h.kind.clone().into(),
                h.severity.as_str().into(),
                h.note.clone().into(),
                Status::Found.as_str().into(),
                h.found_on.into(),
                username.into(),
                h.deadline.due_on.into(),
                h.deadline.red_on.into(),
            ]])
            .push(" RETURNING id"),
        )
        .await?;
    let id = row.u32("id")?;
    let first = HazardEvent {
        status: Status::Found,
        on: h.found_on,
        at: now(),
        username: username.into(),
        caseworker_id: None,
        severity: Some(h.severity),
        note: h.note.clone(),
    };
    log_event(tx, id, 1, &first).await?;
    Ok(HazardWritten { hazard_id: id, version: 1, replayed: false })
}

async fn locked(tx: &mut Tx<'_>, id: u32) -> Result<StoredHazard> {
    let q = Sql::new(format!("{COLUMNS} WHERE id = ")).bind(id).push(tx.db.for_update());
    let row = tx.fetch_optional(q).await?.ok_or_else(|| StoreError::NotFound { what: "hazard", id: id.to_string() })?;
    hazard_of(&row)
}

async fn apply_move(tx: &mut Tx<'_>, m: &HazardMove, username: &str) -> Result<(HazardWritten, u32)> {
    let h = locked(tx, m.hazard_id).await?;
    let to = h.status.to(m.to).map_err(|e| StoreError::Conflict(format!("hazard {}: {e}", h.id)))?;
    let version = h.version + 1;
    let mut q = Sql::new("UPDATE hazards SET status = ").bind(to.as_str()).push(", version = ").bind(version);
    // A reopening's severity: the same or worse; kept in the history only when it changed.
    let severity = match to {
        Status::Reopened => {
            Some(h.severity.reopened_as(m.severity).map_err(|e| StoreError::Rejected(format!("severity: {e}")))?)
                .filter(|s| *s != h.severity)
        }
        _ => None,
    };
    match to {
        Status::Assigned => q = q.push(", assignee_id = ").bind(m.assignee_id),
        Status::Verified => q = q.push(", closed_on = ").bind(m.on),
        Status::Reopened => {
            let d = m.deadline.unwrap_or(h.deadline);
            q = q.push(", closed_on = NULL, due_on = ").bind(d.due_on).push(", red_on = ").bind(d.red_on);
            if let Some(s) = severity {
                q = q.push(", severity = ").bind(s.as_str());
            }
        }
        Status::Found | Status::Rectified => {}
    }
    tx.execute(q.push(" WHERE id = ").bind(h.id)).await?;
    let event = HazardEvent {
        status: to,
        on: m.on,
        at: now(),
        username: username.into(),
        caseworker_id: if to == Status::Assigned { m.assignee_id } else { None },
        severity,
        note: m.note.clone(),
    };
    log_event(tx, h.id, version, &event).await?;
    Ok((HazardWritten { hazard_id: h.id, version, replayed: false }, h.building_id))
}

/// Open cases red on `today` in the buildings of a campaign's block (the 巩固 gate).
pub(crate) async fn open_red_in_block(tx: &mut Tx<'_>, campaign: u32, block: u32, today: Date) -> Result<u32> {
    let waiting = [Status::Found, Status::Assigned, Status::Reopened].map(|s| s.as_str());
    let q = Sql::new(
        "SELECT COUNT(*) AS n FROM hazards h JOIN campaign_buildings cb ON cb.building_id = h.building_id \
         WHERE cb.campaign_id = ",
    )
    .bind(campaign)
    .push(" AND cb.block_id = ")
    .bind(block)
    .push(" AND h.status IN ")
    .list(waiting)
    .push(" AND h.red_on <= ")
    .bind(today);
    Ok(u32::try_from(tx.fetch_one(q).await?.int("n")?).unwrap_or(u32::MAX))
}

#[async_trait]
impl<B: Backend> Hazards for SqlStore<B> {
    async fn record_hazard(&self, h: &NewHazard, event: &AuditEvent) -> Result<HazardWritten> {
        let _one_at_a_time = self.client_ids.of(&h.client_id).lock().await;
        let mut tx = begin_write(&self.db).await?;
        let request = request_of(h);
        if let Some(mut stored) = replay::<HazardWritten>(&mut tx, &h.client_id, &request).await? {
            stored.replayed = true;
            let event = event.clone().naming(format!("hazard {}", stored.hazard_id)).ending("replayed");
            audit::append(&mut tx, &event).await?;
            tx.commit().await?;
            return Ok(stored);
        }
        let username = event.user.clone().unwrap_or_default();
        let written = insert(&mut tx, h, &username).await?;
        let by = Written { username: event.user.as_deref(), building_id: h.building_id, position: h.position };
        remember(&mut tx, "hazard", &h.client_id, &request, &written, by).await?;
        finish(tx, &event.clone().naming(format!("hazard {}", written.hazard_id)), written.hazard_id).await?;
        Ok(written)
    }

    async fn move_hazard(&self, m: &HazardMove, event: &AuditEvent) -> Result<HazardWritten> {
        let _one_at_a_time = self.client_ids.of(&m.client_id).lock().await;
        let mut tx = begin_write(&self.db).await?;
        let request = request_of(m);
        if let Some(mut stored) = replay::<HazardWritten>(&mut tx, &m.client_id, &request).await? {
            stored.replayed = true;
            audit::append(&mut tx, &event.clone().ending("replayed")).await?;
            tx.commit().await?;
            return Ok(stored);
        }
        let username = event.user.clone().unwrap_or_default();
        let (written, building_id) = apply_move(&mut tx, m, &username).await?;
        let by = Written { username: event.user.as_deref(), building_id, position: m.position };
        remember(&mut tx, "hazard_move", &m.client_id, &request, &written, by).await?;
        finish(tx, &event.clone().naming(format!("to {}", m.to.as_str())), written.hazard_id).await?;
        Ok(written)
    }

    async fn hazard(&self, id: u32) -> Result<Option<StoredHazard>> {
        self.db.fetch(Sql::new(format!("{COLUMNS} WHERE id = ")).bind(id)).await?.first().map(hazard_of).transpose()
    }

    async fn hazard_events(&self, id: u32) -> Result<Vec<HazardEvent>> {
        let q = Sql::new(
            "SELECT status, on_day, at, username, caseworker_id, severity, note FROM hazard_events WHERE hazard_id = ",
        )
        .bind(id)
        .push(" ORDER BY seq");
        self.db
            .fetch(q)
            .await?
            .iter()
            .map(|r| {
                Ok(HazardEvent {
                    status: status_of(id, &r.text("status")?)?,
                    on: r.date("on_day")?,
                    at: r.text("at")?,
                    username: r.text("username")?,
                    caseworker_id: r.opt_u32("caseworker_id")?,
                    severity: match r.opt_text("severity")? {
                        None => None,
                        Some(s) => Some(Severity::parse(&s).ok_or_else(|| corrupt(id, format!("severity {s:?}")))?),
                    },
                    note: r.text("note")?,
                })
            })
            .collect()
    }

    async fn hazards(&self, f: HazardFilter<'_>) -> Result<Vec<StoredHazard>> {
        let mut q = Sql::new(COLUMNS).push(" WHERE TRUE");
        if let Some(grids) = f.within {
            q = if grids.is_empty() {
                q.push(" AND FALSE")
            } else {
                q.push(" AND grid_id IN ").list(grids.iter().copied())
            };
        }
        if f.open_only {
            q = q.push(" AND status <> ").bind(Status::Verified.as_str());
        }
        if let Some(b) = f.building {
            q = q.push(" AND building_id = ").bind(b);
        }
        if let Some(c) = f.assignee {
            q = q.push(" AND assignee_id = ").bind(c);
        }
        q = q.push(format!(" ORDER BY found_on DESC, id DESC LIMIT {MAX_LISTED}"));
        self.db.fetch(q).await?.iter().map(hazard_of).collect()
    }

    async fn add_hazard_photo(&self, p: &HazardPhoto, event: &AuditEvent) -> Result<HazardPhoto> {
        let mut tx = begin_write(&self.db).await?;
        let h = locked(&mut tx, p.hazard_id).await?;
        let same = Sql::new(format!("{PHOTO_COLUMNS} WHERE hazard_id = "))
            .bind(h.id)
            .push(" AND sha256 = ")
            .bind(p.sha256.clone());
        if let Some(row) = tx.fetch_optional(same).await? {
            let stored = photo_of(&row)?;
            audit::append(&mut tx, &event.clone().naming(format!("photo {}", stored.id)).ending("replayed")).await?;
            tx.commit().await?;
            return Ok(stored);
        }
        let row = tx
            .fetch_one(
                Sql::new(
                    "INSERT INTO hazard_photos (hazard_id, sha256, content_type, bytes, status, username, created_at) ",
                )
                .values([vec![
                    h.id.into(),
                    p.sha256.clone().into(),
                    p.content_type.clone().into(),
                    i64::try_from(p.bytes).unwrap_or(i64::MAX).into(),
                    h.status.as_str().into(),
                    p.username.clone().into(),
                    p.created_at.clone().into(),
                ]])
                .push(" RETURNING id"),
            )
            .await?;
        let stored = HazardPhoto { id: row.u32("id")?, status: h.status, ..p.clone() };
        audit::append(&mut tx, &event.clone().naming(format!("photo {}", stored.id))).await?;
        tx.commit().await?;
        Ok(stored)
    }

    async fn hazard_photos(&self, id: u32) -> Result<Vec<HazardPhoto>> {
        let q = Sql::new(format!("{PHOTO_COLUMNS} WHERE hazard_id = ")).bind(id).push(" ORDER BY id");
        self.db.fetch(q).await?.iter().map(photo_of).collect()
    }
}
