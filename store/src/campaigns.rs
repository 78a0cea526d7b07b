//! 蚕食法 sweep campaigns in the store: a campaign with its request and plan, its blocks in
//! nibbling order with the phase each has reached, the buildings of each block, and what a
//! campaign visit does to its block. Also the evidence the candidate estimate reads (visits,
//! sweep visits, spot checks, tips, caseworkers).
//!
//! The rule for visits (a campaign visit names its campaign): the first visit to a building of
//! a block not started moves the block to 排查; when every building of a block in 排查 has a
//! visit of the campaign, the block moves to 清理. The later phases advance only when asked
//! ([`Campaigns::advance_block`]). A replayed visit is answered before any of this, so it
//! changes no phase.

use crate::audit::{self, AuditEvent};
use crate::backend::{Backend, Tx};
use crate::records::{VISIT_COLUMNS, caseworkers, spot_check_of, visit_of};
use crate::sql::Sql;
use crate::value::{Row, Value};
use crate::{IMPORT_CHUNK, Result, SqlStore, StoreError};
use async_trait::async_trait;
use rentgrid_analysis::sweep::{BlockProgress, CampaignPlan, Phase};
use rentgrid_geodata::{Tip, Visit};
use time::Date;

/// What a campaign was asked for and planned, as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct CampaignRecord {
    /// The day it was planned.
    pub created_on: Date,
    /// The area as requested (a JSON document: grid ids or a GeoJSON polygon).
    pub area: serde_json::Value,
    /// The caseworker ids.
    pub team: Vec<u32>,
    /// First day.
    pub start: Date,
    /// Working days the campaign may take.
    pub working_days: u32,
    /// Buildings per caseworker per day.
    pub buildings_per_day: u32,
    /// Weeks from clearing to the 巩固 re-check.
    pub recheck_weeks: u32,
    /// The plan.
    pub plan: CampaignPlan,
}

/// A planned campaign to store.
#[derive(Debug, Clone, PartialEq)]
pub struct NewCampaign {
    /// The request and the plan.
    pub record: CampaignRecord,
    /// The blocks in nibbling order: block id, grid id, buildings.
    pub blocks: Vec<(u32, u32, Vec<u32>)>,
}

/// A stored campaign.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredCampaign {
    /// Its id.
    pub id: u32,
    /// The request and the plan.
    pub record: CampaignRecord,
    /// Its blocks in nibbling order, with their progress.
    pub blocks: Vec<StoredBlock>,
}

/// Where one block of a campaign stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredBlock {
    /// The block.
    pub block_id: u32,
    /// Its place in the nibbling order, from 0.
    pub seq: u32,
    /// Its grid.
    pub grid_id: u32,
    /// The phase reached (`None`: not started).
    pub phase: Option<Phase>,
    /// Buildings to visit.
    pub buildings: u32,
    /// Buildings with a visit of the campaign.
    pub visited: u32,
}

pub use rentgrid_analysis::evidence::StoredEvidence;

/// The stored name of a phase.
pub fn phase_str(p: Phase) -> &'static str {
    match p {
        Phase::Investigate => "investigate",
        Phase::Clear => "clear",
        Phase::Rectify => "rectify",
        Phase::Consolidate => "consolidate",
    }
}

fn parse_phase(s: &str) -> Option<Phase> {
    Phase::ALL.into_iter().find(|p| phase_str(*p) == s)
}

fn corrupt(what: &'static str, id: impl ToString, reason: String) -> StoreError {
    StoreError::Corrupt { what, id: id.to_string(), reason }
}

/// The progress of `block` with its stored phase.
fn progress_of(what: &'static str, block: u32, phase: Option<String>) -> Result<BlockProgress> {
    let phase = match phase {
        None => None,
        Some(s) => Some(parse_phase(&s).ok_or_else(|| corrupt(what, block, format!("phase {s:?}")))?),
    };
    Ok(BlockProgress { block_id: block, phase })
}

/// Sweep campaigns, and the evidence the candidate estimate reads.
#[async_trait]
pub trait Campaigns: Send + Sync {
    /// The records the candidate estimate reads besides the Atlas, and the roster.
    async fn evidence(&self) -> Result<StoredEvidence>;
    /// Stores a planned campaign with its blocks and their buildings in one transaction, with
    /// its audit row (`event` naming the campaign).
    async fn create_campaign(&self, c: &NewCampaign, event: &AuditEvent) -> Result<u32>;
    /// Campaigns with their blocks' progress: all, or only the one with id `only`.
    async fn campaigns(&self, only: Option<u32>) -> Result<Vec<StoredCampaign>>;
    /// Moves a block of a campaign to `to`, which must be its next phase, atomically, with its
    /// audit row (`event` naming the phase it left). A block with hazard cases red on `today`
    /// and not rectified cannot move to 巩固.
    async fn advance_block(
        &self,
        campaign: u32,
        block: u32,
        to: Phase,
        today: Date,
        event: &AuditEvent,
    ) -> Result<BlockProgress>;
    /// The visits of a campaign recorded for `day`, by `caseworker` when given, in the order
    /// they were recorded (the phone view's "which stops are done today").
    async fn campaign_visits(&self, campaign: u32, day: Date, caseworker: Option<u32>) -> Result<Vec<Visit>>;
}

#[async_trait]
impl<B: Backend> Campaigns for SqlStore<B> {
    async fn evidence(&self) -> Result<StoredEvidence> {
        let mut tx = Tx::snapshot(&self.db).await?;
        let ev = evidence(&mut tx).await?;
        tx.commit().await?;
        Ok(ev)
    }

    async fn create_campaign(&self, c: &NewCampaign, event: &AuditEvent) -> Result<u32> {
        let mut tx = audit::begin(&self.db).await?;
        let id = create(&mut tx, c).await?;
        audit::append(&mut tx, &event.clone().naming(format!("campaign {id}"))).await?;
        tx.commit().await?;
        Ok(id)
    }

    async fn campaigns(&self, only: Option<u32>) -> Result<Vec<StoredCampaign>> {
        read(&self.db, only).await
    }

    async fn advance_block(
        &self,
        campaign: u32,
        block: u32,
        to: Phase,
        today: Date,
        event: &AuditEvent,
    ) -> Result<BlockProgress> {
        let mut tx = audit::begin(&self.db).await?;
        let Some(mut p) = locked_phase(&mut tx, campaign, block).await? else {
            if !campaign_exists(&mut tx, campaign).await? {
                return Err(StoreError::NotFound { what: "campaign", id: campaign.to_string() });
            }
            return Err(StoreError::NotFound {
                what: "block in the campaign",
                id: format!("{block} (campaign {campaign})"),
            });
        };
        let from = p.phase;
        p.advance(to).map_err(|e| StoreError::Conflict(format!("block {block}: {e}")))?;
        if to == Phase::Consolidate {
            let red = crate::hazards::open_red_in_block(&mut tx, campaign, block, today).await?;
            if red > 0 {
                return Err(StoreError::Conflict(format!(
                    "block {block} cannot move to 巩固 (consolidate): {red} hazard case(s) are red (overdue) \
                     and not rectified; rectify them first"
                )));
            }
        }
        set_phase(&mut tx, campaign, block, from, to).await?;
        let left = from.map_or("not started", phase_str);
        audit::append(&mut tx, &event.clone().naming(format!("from {left} to {}", phase_str(to)))).await?;
        tx.commit().await?;
        Ok(p)
    }

    async fn campaign_visits(&self, campaign: u32, day: Date, caseworker: Option<u32>) -> Result<Vec<Visit>> {
        let mut q = Sql::new(format!("SELECT {VISIT_COLUMNS} FROM visits WHERE campaign_id = "))
            .bind(campaign)
            .push(" AND visited_on = ")
            .bind(day);
        if let Some(c) = caseworker {
            q = q.push(" AND caseworker_id = ").bind(c);
        }
        self.db.fetch(q.push(" ORDER BY id")).await?.iter().map(visit_of).collect()
    }
}

async fn create(tx: &mut Tx<'_>, c: &NewCampaign) -> Result<u32> {
    let r = &c.record;
    let row = tx
        .fetch_one(
            Sql::new(
                "INSERT INTO campaigns (created_on, area, team, start_on, working_days, buildings_per_day, \
                 recheck_weeks, plan) ",
            )
            .values([vec![
                r.created_on.into(),
                Value::json(&r.area)?,
                Value::json(&r.team)?,
                r.start.into(),
                r.working_days.into(),
                r.buildings_per_day.into(),
                r.recheck_weeks.into(),
                Value::json(&r.plan)?,
            ]])
            .push(" RETURNING id"),
        )
        .await?;
    let id = row.u32("id")?;
    for chunk in c.blocks.iter().enumerate().collect::<Vec<_>>().chunks(IMPORT_CHUNK) {
        let rows = chunk.iter().map(|(seq, (block, grid, _))| {
            vec![id.into(), (*block).into(), (*seq as i64).into(), (*grid).into(), Value::Text(None)]
        });
        tx.execute(Sql::new("INSERT INTO campaign_blocks (campaign_id, block_id, seq, grid_id, phase) ").values(rows))
            .await?;
    }
    let members: Vec<(u32, u32)> =
        c.blocks.iter().flat_map(|(block, _, bs)| bs.iter().map(move |b| (*block, *b))).collect();
    for chunk in members.chunks(IMPORT_CHUNK) {
        let rows = chunk.iter().map(|(block, building)| vec![id.into(), (*building).into(), (*block).into()]);
        tx.execute(Sql::new("INSERT INTO campaign_buildings (campaign_id, building_id, block_id) ").values(rows))
            .await?;
    }
    Ok(id)
}

fn campaign_of(r: &Row) -> Result<StoredCampaign> {
    let id = r.u32("id")?;
    let record = CampaignRecord {
        created_on: r.date("created_on")?,
        area: r.json("area")?,
        team: r.json("team")?,
        start: r.date("start_on")?,
        working_days: r.u32("working_days")?,
        buildings_per_day: r.u32("buildings_per_day")?,
        recheck_weeks: r.u32("recheck_weeks")?,
        plan: r.json("plan")?,
    };
    Ok(StoredCampaign { id, record, blocks: vec![] })
}

fn block_row(r: &Row) -> Result<(u32, StoredBlock)> {
    let block_id = r.u32("block_id")?;
    let p = progress_of("campaign block", block_id, r.opt_text("phase")?)?;
    Ok((
        r.u32("campaign_id")?,
        StoredBlock {
            block_id,
            seq: r.u32("seq")?,
            grid_id: r.u32("grid_id")?,
            phase: p.phase,
            buildings: r.u32("buildings")?,
            visited: r.u32("visited")?,
        },
    ))
}

/// Campaigns (all, or the one with `only`), with their blocks in order.
async fn read(db: &dyn Backend, only: Option<u32>) -> Result<Vec<StoredCampaign>> {
    let filter = |q: Sql, col: &str| match only {
        Some(id) => q.push(format!(" WHERE {col} = ")).bind(id),
        None => q,
    };
    let q = Sql::new(
        "SELECT id, created_on, area, team, start_on, working_days, buildings_per_day, recheck_weeks, plan \
         FROM campaigns",
    );
    let mut out: Vec<StoredCampaign> =
        db.fetch(filter(q, "id").push(" ORDER BY id")).await?.iter().map(campaign_of).collect::<Result<_>>()?;
    let q = Sql::new(
        "SELECT cb.campaign_id, cb.block_id, cb.seq, cb.grid_id, cb.phase, \
         COUNT(DISTINCT cbu.building_id) AS buildings, COUNT(DISTINCT v.building_id) AS visited \
         FROM campaign_blocks cb \
         LEFT JOIN campaign_buildings cbu ON cbu.campaign_id = cb.campaign_id AND cbu.block_id = cb.block_id \
         LEFT JOIN visits v ON v.campaign_id = cb.campaign_id AND v.building_id = cbu.building_id",
    );
    let q = filter(q, "cb.campaign_id")
        .push(" GROUP BY cb.campaign_id, cb.block_id, cb.seq, cb.grid_id, cb.phase ORDER BY cb.campaign_id, cb.seq");
    for r in db.fetch(q).await? {
        let (campaign, block) = block_row(&r)?;
        if let Some(c) = out.iter_mut().find(|c| c.id == campaign) {
            c.blocks.push(block);
        }
    }
    Ok(out)
}

/// The phase of a block, locked for the rest of the transaction where the backend can.
async fn locked_phase(tx: &mut Tx<'_>, campaign: u32, block: u32) -> Result<Option<BlockProgress>> {
    let q = Sql::new("SELECT phase FROM campaign_blocks WHERE campaign_id = ")
        .bind(campaign)
        .push(" AND block_id = ")
        .bind(block)
        .push(tx.db.for_update());
    let row = tx.fetch_optional(q).await?;
    row.map(|r| progress_of("campaign block", block, r.opt_text("phase")?)).transpose()
}

async fn set_phase(tx: &mut Tx<'_>, campaign: u32, block: u32, from: Option<Phase>, to: Phase) -> Result<()> {
    let q = Sql::new("UPDATE campaign_blocks SET phase = ")
        .bind(phase_str(to))
        .push(" WHERE campaign_id = ")
        .bind(campaign)
        .push(" AND block_id = ")
        .bind(block)
        .push(" AND COALESCE(phase, '') = ")
        .bind(from.map_or("", phase_str));
    if tx.execute(q).await? != 1 {
        return Err(StoreError::Conflict(format!(
            "block {block} of campaign {campaign} changed phase meanwhile; read it again"
        )));
    }
    Ok(())
}

async fn campaign_exists(tx: &mut Tx<'_>, campaign: u32) -> Result<bool> {
    Ok(tx.fetch_optional(Sql::new("SELECT id FROM campaigns WHERE id = ").bind(campaign)).await?.is_some())
}

/// The block of `building` in `campaign`, for a visit about to be written; fails when the
/// campaign does not exist or the building is not in it.
pub(crate) async fn block_of(tx: &mut Tx<'_>, campaign: u32, building: u32) -> Result<u32> {
    let q = Sql::new("SELECT block_id FROM campaign_buildings WHERE campaign_id = ")
        .bind(campaign)
        .push(" AND building_id = ")
        .bind(building);
    let Some(row) = tx.fetch_optional(q).await? else {
        if !campaign_exists(tx, campaign).await? {
            return Err(StoreError::Rejected(format!("campaign {campaign} does not exist")));
        }
        return Err(StoreError::Rejected(format!("building {building} is not in campaign {campaign}")));
    };
    row.u32("block_id")
}

/// Applies the phase rule (module docs) to `block` after a visit of `campaign` was written in
/// the caller's transaction. Returns the block's progress after the visit.
pub(crate) async fn after_visit(tx: &mut Tx<'_>, campaign: u32, block: u32) -> Result<BlockProgress> {
    let Some(mut p) = locked_phase(tx, campaign, block).await? else {
        return Err(corrupt("campaign block", block, "missing".into()));
    };
    if p.phase.is_none() {
        set_phase(tx, campaign, block, None, Phase::Investigate).await?;
        p.phase = Some(Phase::Investigate);
    }
    if p.phase == Some(Phase::Investigate) {
        let q = Sql::new("SELECT COUNT(*) AS n FROM campaign_buildings cbu WHERE cbu.campaign_id = ")
            .bind(campaign)
            .push(" AND cbu.block_id = ")
            .bind(block)
            .push(
                " AND NOT EXISTS (SELECT 1 FROM visits v \
                 WHERE v.campaign_id = cbu.campaign_id AND v.building_id = cbu.building_id)",
            );
        if tx.fetch_one(q).await?.int("n")? == 0 {
            set_phase(tx, campaign, block, p.phase, Phase::Clear).await?;
            p.phase = Some(Phase::Clear);
        }
    }
    Ok(p)
}

/// Visits (split into routine and campaign ones), spot checks, tips and the roster.
/// The evidence as `tx` sees it.
pub(crate) async fn evidence(tx: &mut Tx<'_>) -> Result<StoredEvidence> {
    let mut ev = StoredEvidence::default();
    let q = Sql::new(format!("SELECT {VISIT_COLUMNS}, campaign_id IS NOT NULL AS sweep FROM visits ORDER BY id"));
    // Streamed: a city has close to a million visits.
    tx.fetch_each(q, |r| {
        let v = visit_of(&r)?;
        if r.bool("sweep")? {
            ev.sweeps.push(v)
        } else {
            ev.visits.push(v)
        }
        Ok(())
    })
    .await?;
    let q = Sql::new(
        "SELECT id, caseworker_id, grid_id, checked_on, households_checked, missed_registration, missed_permit, \
         wrong_records FROM spot_checks ORDER BY id",
    );
    for r in tx.fetch(q).await? {
        ev.spot_checks.push(spot_check_of(&r)?);
    }
    for r in tx.fetch(Sql::new("SELECT id, building_id, received_on, text FROM tips ORDER BY id")).await? {
        ev.tips.push(Tip {
            id: r.u32("id")?,
            building_id: r.u32("building_id")?,
            received_on: r.date("received_on")?,
            text: r.text("text")?,
        });
    }
    ev.caseworkers = caseworkers(tx).await?;
    Ok(ev)
}
