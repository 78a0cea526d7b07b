//! The visit log: recording a visit and its effects, with the rules of a visit written once: a
//! retry with the same client id is answered from what was stored (and waits for a concurrent
//! one), the checks run in one order (building, caseworker, the units and persons named, the
//! campaign), and a safety pledge needs a registered unit. The visit's audit row is appended in
//! its transaction: `ok` naming the visit, or `replayed` for a retry that changed nothing (so
//! every submission is attributable, and the write it made is recorded once).

use crate::audit::{self, AuditEvent};
use crate::backend::{Backend, Tx};
use crate::campaigns::{after_visit, block_of};
use crate::changes::{self, Change};
use crate::field::Fix;
use crate::records::{VISIT_COLUMNS, changed, dated_homes, dated_units, visit_of};
use crate::sql::Sql;
use crate::{Result, SqlStore, StoreError};
use async_trait::async_trait;
use rentgrid_analysis::registrations::{DatedRecord, DatedUnit, RegistrationChange};
use rentgrid_analysis::view_inputs::InputChange;
use rentgrid_geodata::{StatsDelta, Visit};
use std::collections::HashSet;
use std::hash::{Hash, Hasher};
use time::Date;

/// A rental unit found during a visit that the register lacked.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUnit {
    /// Room or flat label, e.g. `3-302`.
    pub label: String,
    /// Tenants found living there.
    pub tenants: u32,
    /// Registered on the spot.
    #[serde(default)]
    pub registered: bool,
    /// Landlord signed the safety pledge on the spot (only for a registered unit).
    #[serde(default)]
    pub pledge_signed: bool,
}

/// A validated visit to record.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct NewVisit {
    /// Client-generated id: a retry with the same id and content changes nothing.
    pub client_id: String,
    /// Building visited.
    pub building_id: u32,
    /// Caseworker, if recorded.
    pub caseworker_id: Option<u32>,
    /// Day of the visit.
    pub visited_on: Date,
    /// Notes.
    pub notes: String,
    /// Known units of this building registered during the visit.
    pub register_units: Vec<u32>,
    /// Registered units of this building whose landlord signed the pledge.
    pub pledge_units: Vec<u32>,
    /// Known persons of this building registered during the visit.
    pub register_persons: Vec<u32>,
    /// Units found that the register lacked.
    pub new_units: Vec<NewUnit>,
    /// The sweep campaign the visit belongs to (left out of the stored request when `None`, so
    /// submissions from before campaigns replay unchanged).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub campaign_id: Option<u32>,
    /// Where the phone was (not part of the request a retry must repeat).
    #[serde(skip)]
    pub position: Option<Fix>,
}

/// What recording a visit did.
#[derive(Debug, Clone, PartialEq)]
pub struct VisitOutcome {
    /// The visit as stored.
    pub visit: Visit,
    /// True when this submission had been recorded before: nothing changed.
    pub replayed: bool,
    /// The change to the building's counts (all zero for a replay).
    pub delta: StatsDelta,
    /// For a campaign visit, its block's phase after it (`None` for a replay).
    pub campaign_block: Option<rentgrid_analysis::sweep::BlockProgress>,
    /// The dated records it changed (rental units and persons registered, pledges, units
    /// found), for the monthly registrations (nothing for a replay).
    pub registrations: RegistrationChange,
}

/// The visit log.
#[async_trait]
pub trait VisitLog: Send + Sync {
    /// Records a visit and its effects in one transaction with its audit row: `event` naming the
    /// visit, ending `ok`, or `replayed` for a submission recorded before (which changes nothing
    /// else). A refused visit writes nothing, its audit row included.
    async fn record_visit(&self, visit: &NewVisit, event: &AuditEvent) -> Result<VisitOutcome> {
        let outcomes = self.record_visits(&[(visit.clone(), event.clone())]).await?;
        outcomes.into_iter().next().unwrap_or_else(|| {
            Err(StoreError::Corrupt {
                what: "visit",
                id: visit.client_id.clone(),
                reason: "recording it answered no outcome".into(),
            })
        })
    }

    /// Records `visits` in order in one transaction (one commit for all: group commit), each as
    /// [`Self::record_visit`] would with its own audit row, and each in a savepoint of its own,
    /// so that a refused visit writes nothing and leaves the others recorded. Returns each visit's
    /// outcome in order; an error of the whole (the transaction could not begin or commit) means
    /// none of them was recorded.
    async fn record_visits(&self, visits: &[(NewVisit, AuditEvent)]) -> Result<Vec<Result<VisitOutcome>>>;
}

/// Locks by client id within this process, so that a second submission of a client id waits
/// for the first and then replays it, on every backend.
#[derive(Debug)]
pub(crate) struct ClientIdLocks(Vec<tokio::sync::Mutex<()>>);

impl Default for ClientIdLocks {
    fn default() -> Self {
        Self((0..64).map(|_| tokio::sync::Mutex::new(())).collect())
    }
}

impl ClientIdLocks {
    fn index(&self, client_id: &str) -> usize {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        client_id.hash(&mut h);
        (h.finish() % self.0.len() as u64) as usize
    }

    pub(crate) fn of(&self, client_id: &str) -> &tokio::sync::Mutex<()> {
        &self.0[self.index(client_id)]
    }

    /// The locks of all `client_ids`, each taken once, in one order (so that two callers never
    /// wait for each other).
    pub(crate) async fn lock_all(
        &self,
        client_ids: impl Iterator<Item = &str>,
    ) -> Vec<tokio::sync::MutexGuard<'_, ()>> {
        let indices: std::collections::BTreeSet<usize> = client_ids.map(|c| self.index(c)).collect();
        let mut guards = Vec::with_capacity(indices.len());
        for i in indices {
            guards.push(self.0[i].lock().await);
        }
        guards
    }
}

#[async_trait]
impl<B: Backend> VisitLog for SqlStore<B> {
    async fn record_visits(&self, visits: &[(NewVisit, AuditEvent)]) -> Result<Vec<Result<VisitOutcome>>> {
        let _one_at_a_time = self.client_ids.lock_all(visits.iter().map(|(v, _)| v.client_id.as_str())).await;
        // The audit chain's lock, taken first, orders this transaction after any other writing
        // one on the database, from any server: a concurrent submission of the same client id
        // has committed (and is replayed below) or has not begun.
        let mut tx = audit::begin(&self.db).await?;
        let mut outcomes = Vec::with_capacity(visits.len());
        for (v, event) in visits {
            tx.savepoint().await?;
            match recorded(&mut tx, v, event).await {
                Ok(outcome) => {
                    tx.release_savepoint().await?;
                    outcomes.push(Ok(outcome));
                }
                Err(e) => {
                    tx.rollback_to_savepoint().await?;
                    outcomes.push(Err(e));
                }
            }
        }
        tx.commit().await?;
        Ok(outcomes)
    }
}

/// Records visit `v` and its audit row `event` in `tx`, with the change it makes to the log.
async fn recorded(tx: &mut Tx<'_>, v: &NewVisit, event: &AuditEvent) -> Result<VisitOutcome> {
    let outcome = record(tx, v).await?;
    let event = event.clone().naming(format!("visit {}", outcome.visit.id));
    let event = if outcome.replayed { event.ending("replayed") } else { event };
    let row = audit::append(tx, &event).await?;
    if !outcome.replayed {
        let inputs = InputChange {
            registrations: outcome.registrations.clone(),
            visits: vec![(outcome.visit.clone(), v.campaign_id.is_some())],
            contracts: None,
        };
        if let Some(change) = Change::counts(&[outcome.delta], inputs) {
            changes::record(tx, &row, &change).await?;
        }
    }
    Ok(outcome)
}

/// Fails unless every id in `ids` is a row of `table` in `building`.
async fn check_members(tx: &mut Tx<'_>, table: &str, what: &str, building: u32, ids: &[u32]) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let found: HashSet<i64> = tx
        .fetch(
            Sql::new(format!("SELECT id FROM {table} WHERE building_id = "))
                .bind(building)
                .push(" AND id IN ")
                .list(ids.iter().copied()),
        )
        .await?
        .iter()
        .map(|r| r.int("id"))
        .collect::<Result<_>>()?;
    match ids.iter().find(|id| !found.contains(&i64::from(**id))) {
        Some(missing) => Err(StoreError::Rejected(format!("{what} {missing} is not in building {building}"))),
        None => Ok(()),
    }
}

/// Runs `update` (which binds the day when `day` is given) on the rows of `ids` for which `cond`
/// holds; returns how many changed.
async fn update_in(tx: &mut Tx<'_>, update: &str, day: Option<Date>, cond: &str, ids: &[u32]) -> Result<u32> {
    if ids.is_empty() {
        return Ok(0);
    }
    let mut q = Sql::new(update);
    if let Some(d) = day {
        q = q.bind(d);
    }
    let q = q.push(" WHERE ").push(cond).push(" AND id IN ").list(ids.iter().copied());
    Ok(tx.execute(q).await? as u32)
}

async fn record(tx: &mut Tx<'_>, v: &NewVisit) -> Result<VisitOutcome> {
    let request = serde_json::to_string(v).unwrap_or_default();
    let stored = tx
        .fetch_optional(
            Sql::new(format!("SELECT {VISIT_COLUMNS}, request FROM visits WHERE client_id = ")).bind(&v.client_id),
        )
        .await?;
    if let Some(row) = stored {
        if row.opt_text("request")?.as_deref() != Some(request.as_str()) {
            return Err(StoreError::ClientIdConflict(v.client_id.clone()));
        }
        let visit = visit_of(&row)?;
        return Ok(VisitOutcome {
            delta: StatsDelta { building_id: visit.building_id, ..StatsDelta::default() },
            visit,
            replayed: true,
            campaign_block: None,
            registrations: RegistrationChange::default(),
        });
    }
    // The building and the caseworker in one round trip (a visit's transaction holds the audit
    // chain's lock, so each one it saves is a write more a second).
    let found = tx
        .fetch_one(
            Sql::new("SELECT (SELECT COUNT(*) FROM buildings WHERE id = ")
                .bind(v.building_id)
                .push(") AS buildings, (SELECT COUNT(*) FROM caseworkers WHERE id = ")
                .bind(v.caseworker_id)
                .push(") AS caseworkers"),
        )
        .await?;
    if found.int("buildings")? == 0 {
        return Err(StoreError::NotFound { what: "building", id: v.building_id.to_string() });
    }
    if let Some(cw) = v.caseworker_id
        && found.int("caseworkers")? == 0
    {
        return Err(StoreError::Rejected(format!("caseworker {cw} does not exist")));
    }
    check_members(tx, "rental_units", "rental unit", v.building_id, &v.register_units).await?;
    check_members(tx, "rental_units", "rental unit", v.building_id, &v.pledge_units).await?;
    check_members(tx, "persons", "person", v.building_id, &v.register_persons).await?;
    let campaign_block = match v.campaign_id {
        Some(c) => Some((c, block_of(tx, c, v.building_id).await?)),
        None => None,
    };
    if !v.pledge_units.is_empty() {
        let unregistered = tx
            .fetch(
                Sql::new("SELECT id FROM rental_units WHERE NOT registered AND id IN ")
                    .list(v.pledge_units.iter().copied()),
            )
            .await?;
        for r in &unregistered {
            let id = r.u32("id")?;
            if !v.register_units.contains(&id) {
                return Err(StoreError::Rejected(
                    "a safety pledge can only be recorded for a registered rental unit: register it in the same visit"
                        .into(),
                ));
            }
        }
    }
    let units: Vec<u32> = v.register_units.iter().chain(&v.pledge_units).copied().collect();
    let units_before = dated_units(tx, &units).await?;
    let persons_before = dated_homes(tx, &v.register_persons).await?;
    let day = Some(v.visited_on);
    let mut delta = StatsDelta { building_id: v.building_id, visits: 1, ..StatsDelta::default() };
    delta.rental_units_registered += update_in(
        tx,
        "UPDATE rental_units SET registered = TRUE, registered_on = ",
        day,
        "NOT registered",
        &v.register_units,
    )
    .await?;
    delta.pledges_signed +=
        update_in(tx, "UPDATE rental_units SET pledge_signed = TRUE", None, "NOT pledge_signed", &v.pledge_units)
            .await?;
    // A person registered at the door is registered at the address where they were found,
    // so they count as 人户一致 (living at their registered address).
    let newly = update_in(
        tx,
        "UPDATE persons SET consistent = TRUE, registered = TRUE, registered_on = ",
        day,
        "NOT registered",
        &v.register_persons,
    )
    .await?;
    delta.persons_registered += newly;
    delta.persons_consistent += newly;
    let mut registrations = changed(units_before, dated_units(tx, &units).await?);
    registrations.extend(changed(persons_before, dated_homes(tx, &v.register_persons).await?));
    let mut persons_found = 0;
    for u in &v.new_units {
        tx.execute(
            Sql::new(
                "INSERT INTO rental_units (building_id, landlord_id, label, registered, registered_on, pledge_signed, \
                 tenants, mode, concentrated) VALUES (",
            )
            .bind(v.building_id)
            .push(", NULL, ")
            .bind(&u.label)
            .push(", ")
            .bind(u.registered)
            .push(", ")
            .bind(u.registered.then_some(v.visited_on))
            .push(", ")
            .bind(u.registered && u.pledge_signed)
            .push(", ")
            .bind(u.tenants)
            .push(", 'self_managed', FALSE)"),
        )
        .await?;
        registrations.replace(
            None,
            Some(DatedRecord::Unit(DatedUnit {
                building_id: v.building_id,
                registered: u.registered,
                registered_on: u.registered.then_some(v.visited_on),
                pledge_signed: u.registered && u.pledge_signed,
            })),
        );
        delta.rental_units += 1;
        delta.rental_units_registered += u32::from(u.registered);
        delta.pledges_signed += u32::from(u.registered && u.pledge_signed);
        persons_found += u.tenants;
    }
    let units_found = v.new_units.len() as u32;
    let row = tx
        .fetch_one(
            Sql::new(
                "INSERT INTO visits (client_id, building_id, caseworker_id, visited_on, units_registered, \
                 pledges_signed, units_found, persons_found, notes, request, campaign_id, lon, lat, accuracy_m, \
                 distance_m) ",
            )
            .values([vec![
                (&v.client_id).into(),
                v.building_id.into(),
                v.caseworker_id.into(),
                v.visited_on.into(),
                delta.rental_units_registered.into(),
                delta.pledges_signed.into(),
                units_found.into(),
                persons_found.into(),
                (&v.notes).into(),
                request.into(),
                v.campaign_id.into(),
                v.position.map(|f| f.lon).into(),
                v.position.map(|f| f.lat).into(),
                v.position.map(|f| f.accuracy_m).into(),
                v.position.map(|f| f.distance_m).into(),
            ]])
            .push(" RETURNING id"),
        )
        .await?;
    let campaign_block = match campaign_block {
        Some((c, block)) => Some(after_visit(tx, c, block).await?),
        None => None,
    };
    let visit = Visit {
        id: row.u32("id")?,
        client_id: v.client_id.clone(),
        building_id: v.building_id,
        caseworker_id: v.caseworker_id,
        visited_on: v.visited_on,
        units_registered: delta.rental_units_registered,
        pledges_signed: delta.pledges_signed,
        units_found,
        persons_found,
        notes: v.notes.clone(),
    };
    Ok(VisitOutcome { visit, replayed: false, delta, campaign_block, registrations })
}
