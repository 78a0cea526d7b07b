//! 蚕食法 sweep campaigns in the store, written once for both backends like the ledgers: a
//! campaign with its request and plan, its blocks in nibbling order with the phase each has
//! reached, the buildings of each block, and what a campaign visit does to its block. Also the
//! evidence the candidate estimate reads (visits, sweep visits, spot checks, tips, caseworkers).
//!
//! The rule for visits (a campaign visit names its campaign): the first visit to a building of
//! a block not started moves the block to 排查; when every building of a block in 排查 has a
//! visit of the campaign, the block moves to 清理. The later phases advance only when asked
//! ([`crate::Store::advance_block`]). A replayed visit is answered before any of this, so
//! it changes no phase.

use rentgrid_analysis::sweep::{BlockProgress, Phase};
use rentgrid_geodata::{Caseworker, SpotCheck, Tip, Visit};
use time::Date;

/// What a campaign was asked for and planned, as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct CampaignRecord {
    /// The day it was planned.
    pub created_on: Date,
    /// The area as requested (JSON).
    pub area: String,
    /// The caseworker ids (JSON array).
    pub team: String,
    /// First day.
    pub start: Date,
    /// Working days the campaign may take.
    pub working_days: u32,
    /// Buildings per caseworker per day.
    pub buildings_per_day: u32,
    /// Weeks from clearing to the 巩固 re-check.
    pub recheck_weeks: u32,
    /// The plan (JSON).
    pub plan: String,
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

/// What the candidate estimate reads besides the Atlas.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StoredEvidence {
    /// Routine visits (no campaign).
    pub visits: Vec<Visit>,
    /// Visits of a sweep campaign.
    pub sweeps: Vec<Visit>,
    /// Spot checks.
    pub spot_checks: Vec<SpotCheck>,
    /// Tips.
    pub tips: Vec<Tip>,
    /// The roster, with contracted grids.
    pub caseworkers: Vec<Caseworker>,
}

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

fn corrupt(what: &'static str, id: impl ToString, reason: String) -> super::StoreError {
    super::StoreError::Corrupt { what, id: id.to_string(), reason }
}

fn date_of(what: &'static str, id: u32, s: &str) -> super::Result<Date> {
    crate::dates::parse_date(s).ok_or_else(|| corrupt(what, id, format!("date {s:?}")))
}

/// The progress of `block` with its stored phase.
fn progress_of(what: &'static str, block: u32, phase: Option<String>) -> super::Result<BlockProgress> {
    let phase = match phase {
        None => None,
        Some(s) => Some(parse_phase(&s).ok_or_else(|| corrupt(what, block, format!("phase {s:?}")))?),
    };
    Ok(BlockProgress { block_id: block, phase })
}

macro_rules! campaign_store {
    ($module:ident, $db:ty, $conn:ty, date = $date:expr, for_update = $for_update:literal) => {
        /// Campaigns on one backend.
        pub(super) mod $module {
            use super::super::{IMPORT_CHUNK, Result, StoreError};
            use super::{
                CampaignRecord, NewCampaign, StoredBlock, StoredCampaign, StoredEvidence, corrupt, date_of, phase_str, progress_of,
            };
            use rentgrid_analysis::sweep::{BlockProgress, Phase};
            use rentgrid_geodata::{Caseworker, SpotCheck, Tip, Visit};
            use sqlx::{QueryBuilder, Row};

            type Db = $db;
            type Conn = $conn;

            fn int(v: u32) -> i64 {
                i64::from(v)
            }

            fn u32_at(r: &<Db as sqlx::Database>::Row, col: &str) -> Result<u32> {
                let v: i64 = r.try_get(col)?;
                u32::try_from(v).map_err(|_| corrupt("campaign row", col, format!("{v} is out of range")))
            }

            /// Stores a planned campaign, its blocks and their buildings in one transaction.
            pub async fn create(pool: &sqlx::Pool<Db>, c: &NewCampaign) -> Result<u32> {
                let mut tx = pool.begin().await?;
                let mut qb = QueryBuilder::<Db>::new(
                    "INSERT INTO campaigns (created_on, area, team, start_on, working_days, buildings_per_day, \
                     recheck_weeks, plan) VALUES (",
                );
                let (r, mut s) = (&c.record, qb.separated(", "));
                s.push_bind(($date)(r.created_on))
                    .push_bind(r.area.clone())
                    .push_bind(r.team.clone())
                    .push_bind(($date)(r.start))
                    .push_bind(int(r.working_days))
                    .push_bind(int(r.buildings_per_day))
                    .push_bind(int(r.recheck_weeks))
                    .push_bind(r.plan.clone());
                qb.push(") RETURNING CAST(id AS BIGINT)");
                let id: i64 = qb.build_query_scalar().fetch_one(&mut *tx).await?;
                let id = u32::try_from(id).map_err(|_| corrupt("campaign", id, "id out of range".into()))?;
                let blocks: Vec<(usize, &(u32, u32, Vec<u32>))> = c.blocks.iter().enumerate().collect();
                for chunk in blocks.chunks(IMPORT_CHUNK) {
                    let mut qb = QueryBuilder::<Db>::new(
                        "INSERT INTO campaign_blocks (campaign_id, block_id, seq, grid_id, phase) ",
                    );
                    qb.push_values(chunk, |mut b, (seq, (block, grid, _))| {
                        b.push_bind(int(id))
                            .push_bind(int(*block))
                            .push_bind(*seq as i64)
                            .push_bind(int(*grid))
                            .push_bind(None::<String>);
                    });
                    qb.build().execute(&mut *tx).await?;
                }
                let members: Vec<(u32, u32)> =
                    c.blocks.iter().flat_map(|(block, _, bs)| bs.iter().map(move |b| (*block, *b))).collect();
                for chunk in members.chunks(IMPORT_CHUNK) {
                    let mut qb =
                        QueryBuilder::<Db>::new("INSERT INTO campaign_buildings (campaign_id, building_id, block_id) ");
                    qb.push_values(chunk, |mut b, (block, building)| {
                        b.push_bind(int(id)).push_bind(int(*building)).push_bind(int(*block));
                    });
                    qb.build().execute(&mut *tx).await?;
                }
                tx.commit().await?;
                Ok(id)
            }

            const CAMPAIGN_COLUMNS: &str = "SELECT CAST(id AS BIGINT) AS id, CAST(created_on AS TEXT) AS created_on, \
                area, team, CAST(start_on AS TEXT) AS start_on, CAST(working_days AS BIGINT) AS working_days, \
                CAST(buildings_per_day AS BIGINT) AS buildings_per_day, CAST(recheck_weeks AS BIGINT) AS recheck_weeks, \
                plan FROM campaigns";

            const BLOCK_COLUMNS: &str = "SELECT CAST(cb.campaign_id AS BIGINT) AS campaign_id, \
                CAST(cb.block_id AS BIGINT) AS block_id, CAST(cb.seq AS BIGINT) AS seq, \
                CAST(cb.grid_id AS BIGINT) AS grid_id, cb.phase, \
                CAST(COUNT(DISTINCT cbu.building_id) AS BIGINT) AS buildings, \
                CAST(COUNT(DISTINCT v.building_id) AS BIGINT) AS visited \
                FROM campaign_blocks cb \
                LEFT JOIN campaign_buildings cbu ON cbu.campaign_id = cb.campaign_id AND cbu.block_id = cb.block_id \
                LEFT JOIN visits v ON v.campaign_id = cb.campaign_id AND v.building_id = cbu.building_id";

            fn campaign_of(r: &<Db as sqlx::Database>::Row) -> Result<StoredCampaign> {
                let id = u32_at(r, "id")?;
                let record = CampaignRecord {
                    created_on: date_of("campaign", id, &r.try_get::<String, _>("created_on")?)?,
                    area: r.try_get("area")?,
                    team: r.try_get("team")?,
                    start: date_of("campaign", id, &r.try_get::<String, _>("start_on")?)?,
                    working_days: u32_at(r, "working_days")?,
                    buildings_per_day: u32_at(r, "buildings_per_day")?,
                    recheck_weeks: u32_at(r, "recheck_weeks")?,
                    plan: r.try_get("plan")?,
                };
                Ok(StoredCampaign { id, record, blocks: vec![] })
            }

            fn block_row(r: &<Db as sqlx::Database>::Row) -> Result<(u32, StoredBlock)> {
                let block_id = u32_at(r, "block_id")?;
                let p = progress_of("campaign block", block_id, r.try_get("phase")?)?;
                Ok((
                    u32_at(r, "campaign_id")?,
                    StoredBlock {
                        block_id,
                        seq: u32_at(r, "seq")?,
                        grid_id: u32_at(r, "grid_id")?,
                        phase: p.phase,
                        buildings: u32_at(r, "buildings")?,
                        visited: u32_at(r, "visited")?,
                    },
                ))
            }

            /// Campaigns (all, or the one with `only`), with their blocks in order.
            pub async fn read(pool: &sqlx::Pool<Db>, only: Option<u32>) -> Result<Vec<StoredCampaign>> {
                let filter = |col: &str| only.map_or(String::new(), |id| format!(" WHERE {col} = {id}"));
                let sql = format!("{CAMPAIGN_COLUMNS}{} ORDER BY id", filter("id"));
                let mut out: Vec<StoredCampaign> =
                    sqlx::query(&sql).fetch_all(pool).await?.iter().map(campaign_of).collect::<Result<_>>()?;
                let sql = format!(
                    "{BLOCK_COLUMNS}{} GROUP BY cb.campaign_id, cb.block_id, cb.seq, cb.grid_id, cb.phase \
                     ORDER BY cb.campaign_id, cb.seq",
                    filter("cb.campaign_id")
                );
                for r in sqlx::query(&sql).fetch_all(pool).await? {
                    let (campaign, block) = block_row(&r)?;
                    if let Some(c) = out.iter_mut().find(|c| c.id == campaign) {
                        c.blocks.push(block);
                    }
                }
                Ok(out)
            }

            /// The phase of a block, locked for the rest of the transaction where the backend can.
            async fn locked_phase(c: &mut Conn, campaign: u32, block: u32) -> Result<Option<BlockProgress>> {
                let sql = format!(
                    "SELECT phase FROM campaign_blocks WHERE campaign_id = {campaign} AND block_id = {block}{}",
                    $for_update
                );
                let row = sqlx::query(&sql).fetch_optional(&mut *c).await?;
                row.map(|r| progress_of("campaign block", block, r.try_get("phase")?)).transpose()
            }

            async fn set_phase(c: &mut Conn, campaign: u32, block: u32, from: Option<Phase>, to: Phase) -> Result<()> {
                let mut qb = QueryBuilder::<Db>::new("UPDATE campaign_blocks SET phase = ");
                qb.push_bind(phase_str(to));
                qb.push(" WHERE campaign_id = ").push_bind(int(campaign));
                qb.push(" AND block_id = ").push_bind(int(block));
                qb.push(" AND COALESCE(phase, '') = ").push_bind(from.map_or("", phase_str));
                let done = qb.build().execute(&mut *c).await?.rows_affected();
                if done != 1 {
                    return Err(StoreError::Conflict(format!(
                        "block {block} of campaign {campaign} changed phase meanwhile; read it again"
                    )));
                }
                Ok(())
            }

            async fn campaign_exists(c: &mut Conn, campaign: u32) -> Result<bool> {
                let sql = format!("SELECT CAST(COUNT(*) AS BIGINT) FROM campaigns WHERE id = {campaign}");
                Ok(sqlx::query_scalar::<_, i64>(&sql).fetch_one(&mut *c).await? > 0)
            }

            /// Moves `block` of `campaign` to `to`, the next phase in order, atomically.
            pub async fn advance(pool: &sqlx::Pool<Db>, campaign: u32, block: u32, to: Phase) -> Result<BlockProgress> {
                let mut tx = pool.begin().await?;
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
                set_phase(&mut tx, campaign, block, from, to).await?;
                tx.commit().await?;
                Ok(p)
            }

            /// The block of `building` in `campaign`, for a visit about to be written; fails when
            /// the campaign does not exist or the building is not in it.
            pub async fn block_of(c: &mut Conn, campaign: u32, building: u32) -> Result<u32> {
                let sql = format!(
                    "SELECT CAST(block_id AS BIGINT) FROM campaign_buildings WHERE campaign_id = {campaign} \
                     AND building_id = {building}"
                );
                let Some(block) = sqlx::query_scalar::<_, i64>(&sql).fetch_optional(&mut *c).await? else {
                    if !campaign_exists(&mut *c, campaign).await? {
                        return Err(StoreError::Rejected(format!("campaign {campaign} does not exist")));
                    }
                    return Err(StoreError::Rejected(format!("building {building} is not in campaign {campaign}")));
                };
                u32::try_from(block).map_err(|_| corrupt("campaign block", block, "out of range".into()))
            }

            /// Applies the phase rule (module docs) to `block` after a visit of `campaign` was
            /// written in the caller's transaction. Returns the block's progress after the visit.
            pub async fn after_visit(c: &mut Conn, campaign: u32, block: u32) -> Result<BlockProgress> {
                let Some(mut p) = locked_phase(&mut *c, campaign, block).await? else {
                    return Err(corrupt("campaign block", block, "missing".into()));
                };
                if p.phase.is_none() {
                    set_phase(&mut *c, campaign, block, None, Phase::Investigate).await?;
                    p.phase = Some(Phase::Investigate);
                }
                if p.phase == Some(Phase::Investigate) {
                    let sql = format!(
                        "SELECT CAST(COUNT(*) AS BIGINT) FROM campaign_buildings cbu WHERE cbu.campaign_id = {campaign} \
                         AND cbu.block_id = {block} AND NOT EXISTS (SELECT 1 FROM visits v \
                         WHERE v.campaign_id = cbu.campaign_id AND v.building_id = cbu.building_id)"
                    );
                    let left: i64 = sqlx::query_scalar(&sql).fetch_one(&mut *c).await?;
                    if left == 0 {
                        set_phase(&mut *c, campaign, block, p.phase, Phase::Clear).await?;
                        p.phase = Some(Phase::Clear);
                    }
                }
                Ok(p)
            }

            /// Visits (split into routine and campaign ones), spot checks, tips and the roster.
            pub async fn evidence(
                pool: &sqlx::Pool<Db>,
                visit_of: fn(&<Db as sqlx::Database>::Row) -> Result<Visit>,
            ) -> Result<StoredEvidence> {
                let mut ev = StoredEvidence::default();
                // The columns `visit_of` reads (not the stored request), and whether it swept.
                let sql = "SELECT id, client_id, building_id, caseworker_id, visited_on, units_registered, \
                    pledges_signed, units_found, persons_found, notes, campaign_id IS NOT NULL AS sweep \
                    FROM visits ORDER BY id";
                for r in sqlx::query(sql).fetch_all(pool).await? {
                    let v = visit_of(&r)?;
                    if r.try_get::<bool, _>("sweep")? { ev.sweeps.push(v) } else { ev.visits.push(v) }
                }
                let sql = "SELECT CAST(id AS BIGINT) AS id, CAST(caseworker_id AS BIGINT) AS caseworker_id, \
                    CAST(grid_id AS BIGINT) AS grid_id, CAST(checked_on AS TEXT) AS checked_on, \
                    CAST(households_checked AS BIGINT) AS households_checked, \
                    CAST(missed_registration AS BIGINT) AS missed_registration, \
                    CAST(missed_permit AS BIGINT) AS missed_permit, CAST(wrong_records AS BIGINT) AS wrong_records \
                    FROM spot_checks ORDER BY id";
                for r in sqlx::query(sql).fetch_all(pool).await? {
                    let id = u32_at(&r, "id")?;
                    ev.spot_checks.push(SpotCheck {
                        id,
                        caseworker_id: u32_at(&r, "caseworker_id")?,
                        grid_id: u32_at(&r, "grid_id")?,
                        checked_on: date_of("spot check", id, &r.try_get::<String, _>("checked_on")?)?,
                        households_checked: u32_at(&r, "households_checked")?,
                        missed_registration: u32_at(&r, "missed_registration")?,
                        missed_permit: u32_at(&r, "missed_permit")?,
                        wrong_records: u32_at(&r, "wrong_records")?,
                    });
                }
                let sql = "SELECT CAST(id AS BIGINT) AS id, CAST(building_id AS BIGINT) AS building_id, \
                    CAST(received_on AS TEXT) AS received_on, text FROM tips ORDER BY id";
                for r in sqlx::query(sql).fetch_all(pool).await? {
                    let id = u32_at(&r, "id")?;
                    ev.tips.push(Tip {
                        id,
                        building_id: u32_at(&r, "building_id")?,
                        received_on: date_of("tip", id, &r.try_get::<String, _>("received_on")?)?,
                        text: r.try_get("text")?,
                    });
                }
                let sql = "SELECT CAST(id AS BIGINT) AS id, name, street_code FROM caseworkers ORDER BY id";
                for r in sqlx::query(sql).fetch_all(pool).await? {
                    ev.caseworkers.push(Caseworker {
                        id: u32_at(&r, "id")?,
                        name: r.try_get("name")?,
                        street_code: r.try_get("street_code")?,
                        grids: vec![],
                    });
                }
                let sql = "SELECT CAST(caseworker_id AS BIGINT) AS caseworker_id, CAST(grid_id AS BIGINT) AS grid_id \
                    FROM caseworker_grids ORDER BY caseworker_id, grid_id";
                for r in sqlx::query(sql).fetch_all(pool).await? {
                    let (cw, grid) = (u32_at(&r, "caseworker_id")?, u32_at(&r, "grid_id")?);
                    if let Some(c) = ev.caseworkers.iter_mut().find(|c| c.id == cw) {
                        c.grids.push(grid);
                    }
                }
                Ok(ev)
            }
        }
    };
}

campaign_store!(sqlite, sqlx::Sqlite, sqlx::SqliteConnection, date = crate::dates::fmt_date, for_update = "");
campaign_store!(
    postgres,
    sqlx::Postgres,
    sqlx::PgConnection,
    date = std::convert::identity,
    for_update = " FOR UPDATE"
);
