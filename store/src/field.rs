//! Field writes at the door (一户一卡): a person registered in a rental unit, a person who left
//! (流出), an edit of a person's fields, and the conflicts between edits made offline.
//!
//! The rules, written once for both backends:
//! - **One person, one record.** An ID number already in the register is the same person: if
//!   they live elsewhere it is a move (their present home is closed with the day, kept in
//!   `residences`, and the new one opened), if they had left it is a return; never a second row.
//! - **At most once.** Each write carries a client id; a retry with the same id and the same
//!   request is answered from what was stored and changes nothing (a different request under a
//!   used id is refused). The answer, the write and its audit row are one transaction.
//! - **Conflicts are kept, never overwritten.** Every write bumps the person's `version` and logs
//!   which fields it changed. An edit made against an older version that touches a field changed
//!   since to another value is not applied: it is stored whole as a conflict, to be resolved by
//!   keeping either side; an edit of other fields merges.
//!
//! Each write returns the [`StatsDelta`]s of the buildings whose counts it changed, so the
//! caller can publish them to the Atlas after the commit, and the dated records it changed
//! ([`RegistrationChange`]), so the caller can change the monthly registrations it keeps.

use crate::audit::{self, AuditEvent};
use crate::backend::{Backend, Tx};
use crate::changes::{self, Change};
use crate::imports::next_id;
use crate::sql::Sql;
use crate::value::Row;
use crate::{Result, SqlStore, StoreError};
use async_trait::async_trait;
use rentgrid_analysis::registrations::{DatedPerson, DatedRecord, RegistrationChange};
use rentgrid_analysis::view_inputs::InputChange;
use rentgrid_geodata::{BuildingStats, GridId, StatsDelta};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use time::Date;

/// Where the phone was when a field write was made (when its user allowed it).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Fix {
    /// Longitude (WGS84).
    pub lon: f64,
    /// Latitude.
    pub lat: f64,
    /// The phone's accuracy, metres.
    pub accuracy_m: f64,
    /// Distance to the building's entrance, metres.
    pub distance_m: f64,
}

/// Farther than this from the building (metres), a field write is flagged for the supervisor
/// (accepted all the same).
pub const FAR_M: f64 = 150.0;

/// What a caseworker records of a person at the door (the ID number aside).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonDetails {
    /// Name.
    pub name: String,
    /// Phone.
    pub phone: String,
    /// Where they come from (户籍地), if said.
    pub origin: Option<String>,
    /// Their workplace, if one of the register's.
    pub workplace_id: Option<u32>,
    /// Holds a residence permit (居住证).
    pub permit: bool,
}

/// A person registered in a rental unit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewResident {
    /// Client-generated id of the write.
    pub client_id: String,
    /// The rental unit.
    pub unit_id: u32,
    /// The household card (一户一卡) to add them to; `None`: the unit's first, or a new one.
    pub card_no: Option<String>,
    /// A valid ID number (checked by the caller).
    pub id_number: String,
    /// The rest of the record.
    pub details: PersonDetails,
    /// The day they moved in (and were registered).
    pub moved_in_on: Date,
    /// Where the phone was (not part of the request a retry must repeat).
    #[serde(skip)]
    pub position: Option<Fix>,
}

/// How a registered person came to the unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Arrival {
    /// New to the register.
    Registered,
    /// Lived elsewhere in the district: moved.
    Moved,
    /// Had left the district and came back.
    Returned,
    /// Lives in this household already (registered now if they were not).
    AlreadyHere,
}

/// A home a person left.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EarlierHome {
    /// The rental unit.
    pub unit_id: u32,
    /// Its label.
    pub unit_label: String,
    /// Its building.
    pub building_id: u32,
    /// The building's grid.
    pub grid_id: GridId,
    /// When they moved in (`None`: before the records began).
    pub moved_in_on: Option<Date>,
    /// When they moved out.
    pub moved_out_on: Date,
}

/// What registering a person did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResidentOutcome {
    /// The person's record.
    pub person_id: u32,
    /// How they came.
    pub arrival: Arrival,
    /// The home they had before, for a move or a return.
    pub earlier: Option<EarlierHome>,
    /// The record's version after the write.
    pub version: u32,
    /// True when this client id had been recorded before: nothing changed.
    #[serde(skip)]
    pub replayed: bool,
    /// The changes to building counts (none for a replay).
    #[serde(skip)]
    pub deltas: Vec<StatsDelta>,
    /// The dated records it changed, for the monthly registrations (none for a replay).
    #[serde(skip)]
    pub registrations: RegistrationChange,
}

/// A person who left the district (流出).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Departure {
    /// Client-generated id of the write.
    pub client_id: String,
    /// The person.
    pub person_id: u32,
    /// The day they left.
    pub on: Date,
    /// Where the phone was.
    #[serde(skip)]
    pub position: Option<Fix>,
}

/// What recording a departure did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DepartureOutcome {
    /// The person.
    pub person_id: u32,
    /// The home they left.
    pub left: EarlierHome,
    /// The record's version after the write.
    pub version: u32,
    /// True for a replay.
    #[serde(skip)]
    pub replayed: bool,
    /// The changes to building counts.
    #[serde(skip)]
    pub deltas: Vec<StatsDelta>,
    /// The dated records it changed, for the monthly registrations (none for a replay).
    #[serde(skip)]
    pub registrations: RegistrationChange,
}

/// A field of a person an edit may change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PersonField {
    /// Name.
    Name,
    /// Phone.
    Phone,
    /// Where they come from.
    Origin,
    /// Workplace id.
    WorkplaceId,
    /// Residence permit.
    Permit,
}

impl PersonField {
    /// Every field.
    pub const ALL: [PersonField; 5] =
        [PersonField::Name, PersonField::Phone, PersonField::Origin, PersonField::WorkplaceId, PersonField::Permit];

    /// Its column (and name in the API).
    pub fn column(self) -> &'static str {
        match self {
            PersonField::Name => "name",
            PersonField::Phone => "phone",
            PersonField::Origin => "origin",
            PersonField::WorkplaceId => "workplace_id",
            PersonField::Permit => "permit",
        }
    }

    /// The field of a column name.
    pub fn of(column: &str) -> Option<PersonField> {
        Self::ALL.into_iter().find(|f| f.column() == column)
    }

    /// The field's value in `d`, as JSON.
    fn of_details(self, d: &PersonDetails) -> serde_json::Value {
        match self {
            PersonField::Name => d.name.clone().into(),
            PersonField::Phone => d.phone.clone().into(),
            PersonField::Origin => d.origin.clone().into(),
            PersonField::WorkplaceId => d.workplace_id.into(),
            PersonField::Permit => d.permit.into(),
        }
    }
}

/// An edit of some of a person's fields, made against the record's `base_version`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PersonEdit {
    /// Client-generated id of the write.
    pub client_id: String,
    /// The person.
    pub person_id: u32,
    /// The version the editor saw.
    pub base_version: u32,
    /// The new values (checked by the caller: text for name, phone and origin or null for
    /// origin, a workplace id or null, a flag for the permit).
    pub changes: BTreeMap<PersonField, serde_json::Value>,
    /// Where the phone was.
    #[serde(skip)]
    pub position: Option<Fix>,
}

/// One field two edits changed differently.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldConflict {
    /// The field.
    pub field: PersonField,
    /// The value the edit asked for.
    pub yours: serde_json::Value,
    /// The value stored since the edit's base version.
    pub theirs: serde_json::Value,
    /// The version that stored it.
    pub their_version: u32,
}

/// What an edit did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum EditOutcome {
    /// Applied (merged with whatever changed since on other fields).
    Applied {
        /// The person.
        person_id: u32,
        /// The record's version after the edit.
        version: u32,
        /// The fields the edit changed.
        changed: Vec<PersonField>,
    },
    /// Not applied: a field it touches was changed since to another value. Kept as conflict `id`.
    Conflict {
        /// The person.
        person_id: u32,
        /// The stored conflict.
        conflict_id: u32,
        /// The record's present version.
        version: u32,
        /// The fields in conflict, with both values.
        fields: Vec<FieldConflict>,
    },
}

/// An edit and the changes to building counts it made (a permit changed).
#[derive(Debug, Clone, PartialEq)]
pub struct Edited {
    /// What it did.
    pub outcome: EditOutcome,
    /// True for a replay.
    pub replayed: bool,
    /// The changes to building counts.
    pub deltas: Vec<StatsDelta>,
    /// The dated records it changed, for the monthly registrations.
    pub registrations: RegistrationChange,
}

/// A stored conflict.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredConflict {
    /// Its id.
    pub id: u32,
    /// The person.
    pub person_id: u32,
    /// Their grid when the conflict was found.
    pub grid_id: GridId,
    /// Who made the edit.
    pub username: String,
    /// When (RFC 3339 UTC).
    pub created_at: String,
    /// The edit, whole.
    pub edit: PersonEdit,
    /// The fields in conflict.
    pub fields: Vec<FieldConflict>,
    /// When it was resolved, by whom, how (`mine`: the edit applied; `theirs`: the stored kept).
    pub resolved: Option<(String, String, String)>,
}

/// Which side of a conflict to keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Keep {
    /// The conflicting edit's values.
    Mine,
    /// What is stored.
    Theirs,
}

/// A visit or field write made farther than [`FAR_M`] from its building: a lead for the
/// supervisor's spot checks.
#[derive(Debug, Clone, PartialEq)]
pub struct FarWrite {
    /// `visit`, `resident`, `departure` or `edit`.
    pub kind: String,
    /// Its client id.
    pub client_id: String,
    /// The building.
    pub building_id: u32,
    /// Its grid.
    pub grid_id: GridId,
    /// The caseworker of a visit.
    pub caseworker_id: Option<u32>,
    /// The user of a field write.
    pub username: Option<String>,
    /// The day of a visit (`YYYY-MM-DD`) or the instant of a field write (RFC 3339 UTC).
    pub at: String,
    /// How far, metres.
    pub distance_m: f64,
    /// The phone's accuracy, metres.
    pub accuracy_m: f64,
}

/// Field writes.
#[async_trait]
pub trait FieldWrites: Send + Sync {
    /// Registers a person in a rental unit (a move or a return when their ID number is known).
    async fn add_resident(&self, r: &NewResident, event: &AuditEvent) -> Result<ResidentOutcome>;
    /// Records that a person left the district.
    async fn depart(&self, d: &Departure, event: &AuditEvent) -> Result<DepartureOutcome>;
    /// Edits a person's fields, or stores the edit as a conflict.
    async fn edit_person(&self, e: &PersonEdit, event: &AuditEvent) -> Result<Edited>;
    /// The conflicts of persons in `within` (`None`: all), open ones only unless `all`.
    async fn conflicts(&self, within: Option<&[GridId]>, all: bool) -> Result<Vec<StoredConflict>>;
    /// One conflict.
    async fn conflict(&self, id: u32) -> Result<Option<StoredConflict>>;
    /// Resolves an open conflict by keeping one side (`Mine` applies its fields over what is
    /// stored now).
    async fn resolve_conflict(&self, id: u32, keep: Keep, event: &AuditEvent) -> Result<Edited>;
    /// The newest visits and field writes made farther than [`FAR_M`] from their building, in
    /// `within` (`None`: all), at most `limit` of each kind, newest first.
    async fn far_writes(&self, within: Option<&[GridId]>, limit: u32) -> Result<Vec<FarWrite>>;
}

/// A person's row as the writes read it.
struct Current {
    id: u32,
    household_id: u32,
    building_id: u32,
    grid_id: GridId,
    unit_id: u32,
    unit_label: String,
    name: String,
    moved_in_on: Option<Date>,
    left_on: Option<Date>,
    registered: bool,
    registered_on: Option<Date>,
    permit: bool,
    consistent: bool,
    version: u32,
    values: BTreeMap<PersonField, serde_json::Value>,
}

const CURRENT: &str = "SELECT p.id, p.household_id, p.building_id, b.grid_id, h.rental_unit_id AS unit_id, \
     u.label AS unit_label, p.name, p.phone, p.origin, p.workplace_id, p.moved_in_on, p.left_on, p.registered, \
     p.registered_on, p.permit, p.consistent, p.version \
     FROM persons p JOIN households h ON h.id = p.household_id JOIN rental_units u ON u.id = h.rental_unit_id \
     JOIN buildings b ON b.id = p.building_id WHERE ";

fn current_of(r: &Row) -> Result<Current> {
    let name = r.text("name")?;
    let permit = r.bool("permit")?;
    let values = BTreeMap::from([
        (PersonField::Name, name.clone().into()),
        (PersonField::Phone, r.text("phone")?.into()),
        (PersonField::Origin, r.opt_text("origin")?.into()),
        (PersonField::WorkplaceId, r.opt_u32("workplace_id")?.into()),
        (PersonField::Permit, permit.into()),
    ]);
    Ok(Current {
        id: r.u32("id")?,
        household_id: r.u32("household_id")?,
        building_id: r.u32("building_id")?,
        grid_id: r.u32("grid_id")?,
        unit_id: r.u32("unit_id")?,
        unit_label: r.text("unit_label")?,
        name,
        moved_in_on: r.opt_date("moved_in_on")?,
        left_on: r.opt_date("left_on")?,
        registered: r.bool("registered")?,
        registered_on: r.opt_date("registered_on")?,
        permit,
        consistent: r.bool("consistent")?,
        version: r.u32("version")?,
        values,
    })
}

impl Current {
    /// What this person adds to their building's counts.
    fn counts(&self) -> BuildingStats {
        BuildingStats {
            persons: 1,
            persons_registered: u32::from(self.registered),
            persons_with_permit: u32::from(self.registered && self.permit),
            persons_consistent: u32::from(self.registered && self.consistent),
            ..BuildingStats::default()
        }
    }

    /// Their present home as the monthly registrations count it (`None` once they left).
    fn dated(&self) -> Option<DatedRecord> {
        self.left_on.is_none().then_some(DatedRecord::Home(self.dated_person()))
    }

    fn dated_person(&self) -> DatedPerson {
        DatedPerson {
            building_id: self.building_id,
            registered: self.registered,
            registered_on: self.registered_on,
            permit: self.permit,
            consistent: self.consistent,
            moved_in_on: self.moved_in_on,
        }
    }

    /// Their present home, as left on `on`.
    fn home_left(&self, on: Date) -> EarlierHome {
        EarlierHome {
            unit_id: self.unit_id,
            unit_label: self.unit_label.clone(),
            building_id: self.building_id,
            grid_id: self.grid_id,
            moved_in_on: self.moved_in_on,
            moved_out_on: on,
        }
    }
}

/// A person registered at the door, as they add to their building's counts.
fn registered_counts(permit: bool) -> StatsDelta {
    StatsDelta {
        persons: 1,
        persons_registered: 1,
        persons_with_permit: u32::from(permit),
        persons_consistent: 1,
        ..StatsDelta::default()
    }
}

async fn current(tx: &mut Tx<'_>, cond: &str, key: crate::value::Value) -> Result<Option<Current>> {
    tx.fetch_optional(Sql::new(format!("{CURRENT}{cond} = ")).bind(key)).await?.as_ref().map(current_of).transpose()
}

/// The stored answer to `client_id` if it was written before with the same request; a
/// different request under it is refused.
pub(crate) async fn replay<T: serde::de::DeserializeOwned>(
    tx: &mut Tx<'_>,
    client_id: &str,
    request: &str,
) -> Result<Option<T>> {
    let Some(row) = tx
        .fetch_optional(Sql::new("SELECT request, answer FROM field_writes WHERE client_id = ").bind(client_id))
        .await?
    else {
        return Ok(None);
    };
    if row.text("request")? != request {
        return Err(StoreError::ClientIdConflict(client_id.to_owned()));
    }
    let answer = row.text("answer")?;
    serde_json::from_str(&answer).map(Some).map_err(|e| StoreError::Corrupt {
        what: "field write",
        id: client_id.to_owned(),
        reason: e.to_string(),
    })
}

/// Who wrote a field write and where: the user, the building it concerns, the phone's fix.
pub(crate) struct Written<'a> {
    pub(crate) username: Option<&'a str>,
    pub(crate) building_id: u32,
    pub(crate) position: Option<Fix>,
}

pub(crate) async fn remember(
    tx: &mut Tx<'_>,
    kind: &str,
    client_id: &str,
    request: &str,
    answer: &impl Serialize,
    by: Written<'_>,
) -> Result<()> {
    let answer = serde_json::to_string(answer).unwrap_or_default();
    let now = crate::dates::fmt_instant(time::OffsetDateTime::now_utc());
    let fix = by.position;
    tx.execute(
        Sql::new(
            "INSERT INTO field_writes (client_id, kind, request, answer, written_at, username, building_id, lon, lat, \
             accuracy_m, distance_m) ",
        )
        .values([vec![
            client_id.into(),
            kind.into(),
            request.into(),
            answer.into(),
            now.into(),
            by.username.map(str::to_owned).into(),
            by.building_id.into(),
            fix.map(|f| f.lon).into(),
            fix.map(|f| f.lat).into(),
            fix.map(|f| f.accuracy_m).into(),
            fix.map(|f| f.distance_m).into(),
        ]]),
    )
    .await?;
    Ok(())
}

/// Logs that `version` of person `id` set `fields` to their values.
async fn log_fields(
    tx: &mut Tx<'_>,
    id: u32,
    version: u32,
    fields: &BTreeMap<PersonField, serde_json::Value>,
) -> Result<()> {
    if fields.is_empty() {
        return Ok(());
    }
    let rows = fields
        .iter()
        .map(|(f, v)| vec![id.into(), version.into(), f.column().into(), v.to_string().into()])
        .collect::<Vec<_>>();
    tx.execute(Sql::new("INSERT INTO person_edits (person_id, version, field, value) ").values(rows)).await?;
    Ok(())
}

/// Closes `p`'s present home on `on`, keeping it in `residences`; returns the change to the
/// dated records (the home ends, the residence begins).
async fn close_home(tx: &mut Tx<'_>, p: &Current, on: Date) -> Result<RegistrationChange> {
    if p.moved_in_on.is_some_and(|d| on < d) {
        return Err(StoreError::Rejected(format!(
            "person {} moved into their present home on {}: they cannot leave it on {} (a date before)",
            p.id,
            crate::dates::fmt_date(p.moved_in_on.unwrap_or(on)),
            crate::dates::fmt_date(on)
        )));
    }
    let id = next_id(tx, "residences").await?;
    tx.execute(
        Sql::new(
            "INSERT INTO residences (id, person_id, household_id, building_id, moved_in_on, moved_out_on, \
             registered, registered_on, permit, consistent) ",
        )
        .values([vec![
            id.into(),
            p.id.into(),
            p.household_id.into(),
            p.building_id.into(),
            p.moved_in_on.into(),
            on.into(),
            p.registered.into(),
            p.registered_on.into(),
            p.permit.into(),
            p.consistent.into(),
        ]]),
    )
    .await?;
    let mut change = RegistrationChange::default();
    change.replace(p.dated(), None);
    change.replace(None, Some(DatedRecord::Residence { person: p.dated_person(), moved_out_on: on }));
    Ok(change)
}

/// The household of `unit` with `card_no` (or its first one when `None`), made when missing.
async fn household(tx: &mut Tx<'_>, unit: u32, card_no: Option<&str>) -> Result<u32> {
    let mut q = Sql::new("SELECT id FROM households WHERE rental_unit_id = ").bind(unit);
    if let Some(c) = card_no {
        q = q.push(" AND card_no = ").bind(c);
    }
    if let Some(r) = tx.fetch_optional(q.push(" ORDER BY card_no, id LIMIT 1")).await? {
        return r.u32("id");
    }
    let id = next_id(tx, "households").await?;
    let card = card_no.map_or_else(|| format!("HS{:08}", id + 1), str::to_owned);
    tx.execute(Sql::new("INSERT INTO households (id, rental_unit_id, card_no) ").values([vec![
        id.into(),
        unit.into(),
        card.into(),
    ]]))
    .await?;
    u32::try_from(id).map_err(|_| StoreError::Corrupt { what: "household", id: id.to_string(), reason: "id".into() })
}

async fn add_resident(tx: &mut Tx<'_>, r: &NewResident) -> Result<(ResidentOutcome, u32)> {
    let unit = tx
        .fetch_optional(
            Sql::new(
                "SELECT u.id, u.building_id, u.label, b.grid_id FROM rental_units u \
                 JOIN buildings b ON b.id = u.building_id WHERE u.id = ",
            )
            .bind(r.unit_id),
        )
        .await?
        .ok_or_else(|| StoreError::NotFound { what: "rental unit", id: r.unit_id.to_string() })?;
    let building = unit.u32("building_id")?;
    if let Some(w) = r.details.workplace_id
        && tx.fetch_optional(Sql::new("SELECT id FROM workplaces WHERE id = ").bind(w)).await?.is_none()
    {
        return Err(StoreError::Rejected(format!("workplace_id: workplace {w} does not exist")));
    }
    let household = household(tx, r.unit_id, r.card_no.as_deref()).await?;
    let d = &r.details;
    let day = r.moved_in_on;
    let known = current(tx, "p.id_number", r.id_number.as_str().into()).await?;
    let Some(p) = known else {
        let id = next_id(tx, "persons").await?;
        tx.execute(
            Sql::new(
                "INSERT INTO persons (id, household_id, building_id, name, id_number, phone, registered, \
                 registered_on, permit, consistent, workplace_id, moved_in_on, origin, version) ",
            )
            .values([vec![
                id.into(),
                household.into(),
                building.into(),
                (&d.name).into(),
                (&r.id_number).into(),
                (&d.phone).into(),
                true.into(),
                day.into(),
                d.permit.into(),
                true.into(),
                d.workplace_id.into(),
                day.into(),
                d.origin.clone().into(),
                1_i64.into(),
            ]]),
        )
        .await?;
        let id = u32::try_from(id).unwrap_or(u32::MAX);
        let fields = PersonField::ALL.into_iter().map(|f| (f, f.of_details(d))).collect();
        log_fields(tx, id, 1, &fields).await?;
        let outcome = ResidentOutcome {
            person_id: id,
            arrival: Arrival::Registered,
            earlier: None,
            version: 1,
            replayed: false,
            deltas: vec![StatsDelta { building_id: building, ..registered_counts(d.permit) }],
            registrations: RegistrationChange {
                removed: Vec::new(),
                added: vec![DatedRecord::Home(DatedPerson {
                    building_id: building,
                    registered: true,
                    registered_on: Some(day),
                    permit: d.permit,
                    consistent: true,
                    moved_in_on: Some(day),
                })],
            },
        };
        return Ok((outcome, building));
    };
    if p.name.trim() != d.name.trim() {
        return Err(StoreError::Conflict(format!(
            "id_number: this ID number is registered to person {} under another name; check the number \
             (a person keeps one record)",
            p.id
        )));
    }
    let here = p.left_on.is_none() && p.household_id == household;
    if here && p.registered {
        let outcome = ResidentOutcome {
            person_id: p.id,
            arrival: Arrival::AlreadyHere,
            earlier: None,
            version: p.version,
            replayed: false,
            deltas: Vec::new(),
            registrations: RegistrationChange::default(),
        };
        return Ok((outcome, building));
    }
    let mut deltas = Vec::new();
    let mut registrations = RegistrationChange::default();
    let (arrival, earlier) = if here {
        (Arrival::AlreadyHere, None)
    } else if p.left_on.is_none() {
        registrations = close_home(tx, &p, day).await?;
        deltas.push(StatsDelta { building_id: p.building_id, removed: p.counts(), ..StatsDelta::default() });
        (Arrival::Moved, Some(p.home_left(day)))
    } else {
        let last = tx
            .fetch_optional(
                Sql::new(
                    "SELECT r.building_id, r.moved_in_on, r.moved_out_on, h.rental_unit_id AS unit_id, \
                     u.label AS unit_label, b.grid_id FROM residences r JOIN households h ON h.id = r.household_id \
                     JOIN rental_units u ON u.id = h.rental_unit_id JOIN buildings b ON b.id = r.building_id \
                     WHERE r.person_id = ",
                )
                .bind(p.id)
                .push(" ORDER BY r.moved_out_on DESC, r.id DESC LIMIT 1"),
            )
            .await?;
        let earlier = match last {
            Some(l) => {
                let moved_out_on = l.date("moved_out_on")?;
                if day < moved_out_on {
                    return Err(StoreError::Rejected(format!(
                        "moved_in_on: person {} left on {}; they cannot come back on {}",
                        p.id,
                        crate::dates::fmt_date(moved_out_on),
                        crate::dates::fmt_date(day)
                    )));
                }
                Some(EarlierHome {
                    unit_id: l.u32("unit_id")?,
                    unit_label: l.text("unit_label")?,
                    building_id: l.u32("building_id")?,
                    grid_id: l.u32("grid_id")?,
                    moved_in_on: l.opt_date("moved_in_on")?,
                    moved_out_on,
                })
            }
            None => None,
        };
        (Arrival::Returned, earlier)
    };
    let version = p.version + 1;
    tx.execute(
        Sql::new("UPDATE persons SET household_id = ")
            .bind(household)
            .push(", building_id = ")
            .bind(building)
            .push(", phone = ")
            .bind(&d.phone)
            .push(", origin = ")
            .bind(d.origin.clone())
            .push(", workplace_id = ")
            .bind(d.workplace_id)
            .push(", permit = ")
            .bind(d.permit)
            .push(", registered = TRUE, registered_on = ")
            .bind(day)
            .push(", consistent = TRUE, moved_in_on = ")
            .bind(if here { p.moved_in_on } else { Some(day) })
            .push(", left_on = NULL, version = ")
            .bind(version)
            .push(" WHERE id = ")
            .bind(p.id),
    )
    .await?;
    let changed = PersonField::ALL
        .into_iter()
        .map(|f| (f, f.of_details(d)))
        .filter(|(f, v)| p.values.get(f) != Some(v))
        .collect();
    log_fields(tx, p.id, version, &changed).await?;
    let now_home = DatedPerson {
        building_id: building,
        registered: true,
        registered_on: Some(day),
        permit: d.permit,
        consistent: true,
        moved_in_on: if here { p.moved_in_on } else { Some(day) },
    };
    // A person moved has no present home any more (closed above), one who returns had none.
    registrations.replace(if here { p.dated() } else { None }, Some(DatedRecord::Home(now_home)));
    if here {
        // Found unregistered in their own household: registered now, nothing else moves.
        let before = p.counts();
        let after = Current { registered: true, consistent: true, permit: d.permit, ..p };
        deltas.push(StatsDelta {
            building_id: building,
            persons_registered: after.counts().persons_registered,
            persons_with_permit: after.counts().persons_with_permit,
            persons_consistent: after.counts().persons_consistent,
            removed: BuildingStats { persons: 0, ..before },
            ..StatsDelta::default()
        });
        let outcome =
            ResidentOutcome { person_id: after.id, arrival, earlier, version, replayed: false, deltas, registrations };
        return Ok((outcome, building));
    }
    deltas.push(StatsDelta { building_id: building, ..registered_counts(d.permit) });
    Ok((
        ResidentOutcome { person_id: p.id, arrival, earlier, version, replayed: false, deltas, registrations },
        building,
    ))
}

async fn depart(tx: &mut Tx<'_>, d: &Departure) -> Result<DepartureOutcome> {
    let p = current(tx, "p.id", d.person_id.into())
        .await?
        .ok_or_else(|| StoreError::NotFound { what: "person", id: d.person_id.to_string() })?;
    if let Some(left) = p.left_on {
        return Err(StoreError::Conflict(format!(
            "person {} left the district on {} already",
            p.id,
            crate::dates::fmt_date(left)
        )));
    }
    let registrations = close_home(tx, &p, d.on).await?;
    let version = p.version + 1;
    tx.execute(
        Sql::new("UPDATE persons SET left_on = ")
            .bind(d.on)
            .push(", version = ")
            .bind(version)
            .push(" WHERE id = ")
            .bind(p.id),
    )
    .await?;
    Ok(DepartureOutcome {
        person_id: p.id,
        left: p.home_left(d.on),
        version,
        replayed: false,
        deltas: vec![StatsDelta { building_id: p.building_id, removed: p.counts(), ..StatsDelta::default() }],
        registrations,
    })
}

/// What applying an edit did: the version, the fields changed, the count changes (a permit)
/// and the dated records changed.
type Applied = (u32, Vec<PersonField>, Vec<StatsDelta>, RegistrationChange);

/// Applies `changes` to `p` as version `p.version + 1`.
async fn apply(tx: &mut Tx<'_>, p: &Current, changes: &BTreeMap<PersonField, serde_json::Value>) -> Result<Applied> {
    let changed: BTreeMap<PersonField, serde_json::Value> =
        changes.iter().filter(|(f, v)| p.values.get(f) != Some(v)).map(|(f, v)| (*f, v.clone())).collect();
    if changed.is_empty() {
        return Ok((p.version, Vec::new(), Vec::new(), RegistrationChange::default()));
    }
    let version = p.version + 1;
    let mut q = Sql::new("UPDATE persons SET version = ").bind(version);
    for (f, v) in &changed {
        q = q.push(format!(", {} = ", f.column()));
        q = match (f, v) {
            (PersonField::Permit, v) => q.bind(v.as_bool().unwrap_or(false)),
            (PersonField::WorkplaceId, v) => q.bind(v.as_u64().and_then(|w| u32::try_from(w).ok())),
            (PersonField::Origin, v) => q.bind(v.as_str().map(str::to_owned)),
            (_, v) => q.bind(v.as_str().unwrap_or_default().to_owned()),
        };
    }
    tx.execute(q.push(" WHERE id = ").bind(p.id)).await?;
    log_fields(tx, p.id, version, &changed).await?;
    let mut deltas = Vec::new();
    let mut registrations = RegistrationChange::default();
    if let Some(permit) = changed.get(&PersonField::Permit).and_then(serde_json::Value::as_bool) {
        let after = p.dated().map(|_| DatedRecord::Home(DatedPerson { permit, ..p.dated_person() }));
        registrations.replace(p.dated(), after);
    }
    if let Some(permit) = changed.get(&PersonField::Permit).and_then(serde_json::Value::as_bool)
        && p.registered
        && p.left_on.is_none()
    {
        let one = BuildingStats { persons_with_permit: 1, ..BuildingStats::default() };
        deltas.push(if permit {
            StatsDelta { building_id: p.building_id, persons_with_permit: 1, ..StatsDelta::default() }
        } else {
            StatsDelta { building_id: p.building_id, removed: one, ..StatsDelta::default() }
        });
    }
    Ok((version, changed.into_keys().collect(), deltas, registrations))
}

async fn edit(tx: &mut Tx<'_>, e: &PersonEdit, username: &str) -> Result<(EditOutcome, Applied, u32)> {
    let p = current(tx, "p.id", e.person_id.into())
        .await?
        .ok_or_else(|| StoreError::NotFound { what: "person", id: e.person_id.to_string() })?;
    if e.base_version > p.version {
        return Err(StoreError::Rejected(format!(
            "base_version: person {} is at version {}; {} is not one of theirs",
            p.id, p.version, e.base_version
        )));
    }
    if let Some(w) = e.changes.get(&PersonField::WorkplaceId).and_then(serde_json::Value::as_u64)
        && tx.fetch_optional(Sql::new("SELECT id FROM workplaces WHERE id = ").bind(w as i64)).await?.is_none()
    {
        return Err(StoreError::Rejected(format!("workplace_id: workplace {w} does not exist")));
    }
    // The latest value of each field changed after the edit's base version.
    let since = tx
        .fetch(
            Sql::new("SELECT field, value, version FROM person_edits WHERE person_id = ")
                .bind(p.id)
                .push(" AND version > ")
                .bind(e.base_version)
                .push(" ORDER BY version"),
        )
        .await?;
    let mut theirs: BTreeMap<PersonField, u32> = BTreeMap::new();
    for r in &since {
        if let Some(f) = PersonField::of(&r.text("field")?) {
            theirs.insert(f, r.u32("version")?);
        }
    }
    let fields: Vec<FieldConflict> = e
        .changes
        .iter()
        .filter_map(|(f, yours)| {
            let their_version = *theirs.get(f)?;
            let stored = p.values.get(f)?;
            (stored != yours).then(|| FieldConflict {
                field: *f,
                yours: yours.clone(),
                theirs: stored.clone(),
                their_version,
            })
        })
        .collect();
    if fields.is_empty() {
        let (version, changed, deltas, registrations) = apply(tx, &p, &e.changes).await?;
        let outcome = EditOutcome::Applied { person_id: p.id, version, changed: changed.clone() };
        return Ok((outcome, (version, changed, deltas, registrations), p.building_id));
    }
    let id = next_id(tx, "person_conflicts").await?;
    let now = crate::dates::fmt_instant(time::OffsetDateTime::now_utc());
    tx.execute(
        Sql::new(
            "INSERT INTO person_conflicts (id, person_id, grid_id, client_id, username, base_version, edit, fields, \
             created_at) ",
        )
        .values([vec![
            id.into(),
            p.id.into(),
            p.grid_id.into(),
            (&e.client_id).into(),
            username.into(),
            e.base_version.into(),
            serde_json::to_string(e).unwrap_or_default().into(),
            serde_json::to_string(&fields).unwrap_or_default().into(),
            now.into(),
        ]]),
    )
    .await?;
    let conflict_id = u32::try_from(id).unwrap_or(u32::MAX);
    let nothing = (p.version, Vec::new(), Vec::new(), RegistrationChange::default());
    Ok((EditOutcome::Conflict { person_id: p.id, conflict_id, version: p.version, fields }, nothing, p.building_id))
}

const CONFLICT_COLUMNS: &str = "SELECT id, person_id, grid_id, username, created_at, edit, fields, resolved_at, resolved_by, resolution \
     FROM person_conflicts";

fn conflict_of(r: &Row) -> Result<StoredConflict> {
    let id = r.u32("id")?;
    let corrupt =
        |e: serde_json::Error| StoreError::Corrupt { what: "conflict", id: id.to_string(), reason: e.to_string() };
    let resolved = match (r.opt_text("resolved_at")?, r.opt_text("resolved_by")?, r.opt_text("resolution")?) {
        (Some(at), Some(by), Some(how)) => Some((at, by, how)),
        _ => None,
    };
    Ok(StoredConflict {
        id,
        person_id: r.u32("person_id")?,
        grid_id: r.u32("grid_id")?,
        username: r.text("username")?,
        created_at: r.text("created_at")?,
        edit: serde_json::from_str(&r.text("edit")?).map_err(corrupt)?,
        fields: serde_json::from_str(&r.text("fields")?).map_err(corrupt)?,
        resolved,
    })
}

/// A field write's transaction: the audit log's lock first (as every audited write), then the
/// persons table's, so that writes of persons take their turns on every backend.
async fn begin_write(db: &dyn Backend) -> Result<Tx<'_>> {
    let mut tx = audit::begin(db).await?;
    if let Some(q) = db.lock_tables("persons") {
        tx.execute(q).await?;
    }
    Ok(tx)
}

/// Appends the write's audit row `event`, records the change to counts and dated records it
/// made (`deltas`, `registrations`; nothing when they are empty) and commits.
async fn finish(
    mut tx: Tx<'_>,
    event: &AuditEvent,
    deltas: &[StatsDelta],
    registrations: &RegistrationChange,
) -> Result<()> {
    let row = audit::append(&mut tx, event).await?;
    if let Some(change) = Change::counts(deltas, InputChange::of(registrations)) {
        changes::record(&mut tx, &row, &change).await?;
    }
    tx.commit().await
}

/// The request as stored for replay: the write's own JSON.
pub(crate) fn request_of(v: &impl Serialize) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

#[async_trait]
impl<B: Backend> FieldWrites for SqlStore<B> {
    async fn add_resident(&self, r: &NewResident, event: &AuditEvent) -> Result<ResidentOutcome> {
        let _one_at_a_time = self.client_ids.of(&r.client_id).lock().await;
        let mut tx = begin_write(&self.db).await?;
        let request = request_of(r);
        if let Some(mut stored) = replay::<ResidentOutcome>(&mut tx, &r.client_id, &request).await? {
            stored.replayed = true;
            let event = event.clone().naming(format!("person {}", stored.person_id)).ending("replayed");
            finish(tx, &event, &[], &RegistrationChange::default()).await?;
            return Ok(stored);
        }
        let (outcome, building_id) = add_resident(&mut tx, r).await?;
        let by = Written { username: event.user.as_deref(), building_id, position: r.position };
        remember(&mut tx, "resident", &r.client_id, &request, &outcome, by).await?;
        let how = match outcome.arrival {
            Arrival::Registered => "registered",
            Arrival::Moved => "moved",
            Arrival::Returned => "returned",
            Arrival::AlreadyHere => "already_here",
        };
        let event = event.clone().naming(format!("person {} {how}", outcome.person_id));
        finish(tx, &event, &outcome.deltas, &outcome.registrations).await?;
        Ok(outcome)
    }

    async fn depart(&self, d: &Departure, event: &AuditEvent) -> Result<DepartureOutcome> {
        let _one_at_a_time = self.client_ids.of(&d.client_id).lock().await;
        let mut tx = begin_write(&self.db).await?;
        let request = request_of(d);
        if let Some(mut stored) = replay::<DepartureOutcome>(&mut tx, &d.client_id, &request).await? {
            stored.replayed = true;
            finish(tx, &event.clone().ending("replayed"), &[], &RegistrationChange::default()).await?;
            return Ok(stored);
        }
        let outcome = depart(&mut tx, d).await?;
        let by =
            Written { username: event.user.as_deref(), building_id: outcome.left.building_id, position: d.position };
        remember(&mut tx, "departure", &d.client_id, &request, &outcome, by).await?;
        finish(tx, event, &outcome.deltas, &outcome.registrations).await?;
        Ok(outcome)
    }

    async fn edit_person(&self, e: &PersonEdit, event: &AuditEvent) -> Result<Edited> {
        let _one_at_a_time = self.client_ids.of(&e.client_id).lock().await;
        let mut tx = begin_write(&self.db).await?;
        let request = request_of(e);
        if let Some(outcome) = replay::<EditOutcome>(&mut tx, &e.client_id, &request).await? {
            finish(tx, &event.clone().ending("replayed"), &[], &RegistrationChange::default()).await?;
            return Ok(Edited {
                outcome,
                replayed: true,
                deltas: Vec::new(),
                registrations: RegistrationChange::default(),
            });
        }
        let user = event.user.clone().unwrap_or_default();
        let (outcome, (_, _, deltas, registrations), building_id) = edit(&mut tx, e, &user).await?;
        let by = Written { username: event.user.as_deref(), building_id, position: e.position };
        remember(&mut tx, "edit", &e.client_id, &request, &outcome, by).await?;
        let event = match &outcome {
            EditOutcome::Applied { .. } => event.clone(),
            EditOutcome::Conflict { conflict_id, .. } => {
                event.clone().naming(format!("conflict {conflict_id}")).ending("conflict")
            }
        };
        finish(tx, &event, &deltas, &registrations).await?;
        Ok(Edited { outcome, replayed: false, deltas, registrations })
    }

    async fn conflicts(&self, within: Option<&[GridId]>, all: bool) -> Result<Vec<StoredConflict>> {
        let mut q = Sql::new(CONFLICT_COLUMNS).push(" WHERE TRUE");
        if !all {
            q = q.push(" AND resolved_at IS NULL");
        }
        if let Some(grids) = within {
            q = if grids.is_empty() {
                q.push(" AND FALSE")
            } else {
                q.push(" AND grid_id IN ").list(grids.iter().copied())
            };
        }
        self.db.fetch(q.push(" ORDER BY id LIMIT 1000")).await?.iter().map(conflict_of).collect()
    }

    async fn far_writes(&self, within: Option<&[GridId]>, limit: u32) -> Result<Vec<FarWrite>> {
        let scoped = |q: Sql| match within {
            None => q,
            Some([]) => q.push(" AND FALSE"),
            Some(grids) => q.push(" AND b.grid_id IN ").list(grids.iter().copied()),
        };
        let visits = scoped(
            Sql::new(
                "SELECT v.client_id, v.building_id, b.grid_id, v.caseworker_id, v.visited_on, v.distance_m, v.accuracy_m \
                 FROM visits v JOIN buildings b ON b.id = v.building_id WHERE v.distance_m > ",
            )
            .bind(FAR_M),
        )
        .push(" ORDER BY v.id DESC LIMIT ")
        .bind(i64::from(limit));
        let writes = scoped(
            Sql::new(
                "SELECT f.kind, f.client_id, f.building_id, b.grid_id, f.username, f.written_at, f.distance_m, \
                 f.accuracy_m FROM field_writes f JOIN buildings b ON b.id = f.building_id WHERE f.distance_m > ",
            )
            .bind(FAR_M),
        )
        .push(" ORDER BY f.written_at DESC LIMIT ")
        .bind(i64::from(limit));
        let mut out = Vec::new();
        for r in self.db.fetch(visits).await? {
            out.push(FarWrite {
                kind: "visit".into(),
                client_id: r.text("client_id")?,
                building_id: r.u32("building_id")?,
                grid_id: r.u32("grid_id")?,
                caseworker_id: r.opt_u32("caseworker_id")?,
                username: None,
                at: crate::dates::fmt_date(r.date("visited_on")?),
                distance_m: r.real("distance_m")?,
                accuracy_m: r.real("accuracy_m")?,
            });
        }
        for r in self.db.fetch(writes).await? {
            out.push(FarWrite {
                kind: r.text("kind")?,
                client_id: r.text("client_id")?,
                building_id: r.u32("building_id")?,
                grid_id: r.u32("grid_id")?,
                caseworker_id: None,
                username: r.opt_text("username")?,
                at: r.text("written_at")?,
                distance_m: r.real("distance_m")?,
                accuracy_m: r.real("accuracy_m")?,
            });
        }
        // Newest first: a day sorts before the instants of the same day.
        out.sort_by(|a, b| b.at.cmp(&a.at));
        Ok(out)
    }

    async fn conflict(&self, id: u32) -> Result<Option<StoredConflict>> {
        self.db
            .fetch(Sql::new(CONFLICT_COLUMNS).push(" WHERE id = ").bind(id))
            .await?
            .first()
            .map(conflict_of)
            .transpose()
    }

    async fn resolve_conflict(&self, id: u32, keep: Keep, event: &AuditEvent) -> Result<Edited> {
        let mut tx = begin_write(&self.db).await?;
        let c = tx
            .fetch_optional(Sql::new(CONFLICT_COLUMNS).push(" WHERE id = ").bind(id))
            .await?
            .as_ref()
            .map(conflict_of)
            .transpose()?
            .ok_or_else(|| StoreError::NotFound { what: "conflict", id: id.to_string() })?;
        if let Some((at, by, _)) = &c.resolved {
            return Err(StoreError::Conflict(format!("conflict {id} was resolved by {by} at {at} already")));
        }
        let p = current(&mut tx, "p.id", c.person_id.into())
            .await?
            .ok_or_else(|| StoreError::NotFound { what: "person", id: c.person_id.to_string() })?;
        let (version, changed, deltas, registrations) = match keep {
            Keep::Mine => {
                let mine: BTreeMap<PersonField, serde_json::Value> =
                    c.fields.iter().map(|f| (f.field, f.yours.clone())).collect();
                apply(&mut tx, &p, &mine).await?
            }
            Keep::Theirs => (p.version, Vec::new(), Vec::new(), RegistrationChange::default()),
        };
        let how = match keep {
            Keep::Mine => "mine",
            Keep::Theirs => "theirs",
        };
        let now = crate::dates::fmt_instant(time::OffsetDateTime::now_utc());
        tx.execute(
            Sql::new("UPDATE person_conflicts SET resolved_at = ")
                .bind(now)
                .push(", resolved_by = ")
                .bind(event.user.clone().unwrap_or_default())
                .push(", resolution = ")
                .bind(how)
                .push(" WHERE id = ")
                .bind(id),
        )
        .await?;
        finish(tx, &event.clone().naming(format!("keep {how}")), &deltas, &registrations).await?;
        Ok(Edited {
            outcome: EditOutcome::Applied { person_id: p.id, version, changed },
            replayed: false,
            deltas,
            registrations,
        })
    }
}
