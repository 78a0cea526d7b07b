//! Person-level reads: the persons of a place (for a caseworker's list), one person, the
//! household card of a rental unit (一户一卡: the unit, its landlord, its households and their
//! persons, its last visit), and the rental units of a building with how many live in each. The
//! store returns the full record; the HTTP layer masks and audits it. Every read is bounded by
//! the grids the caller may see, passed in by the caller.

use crate::backend::Backend;
use crate::records::{VISIT_COLUMNS, visit_of};
use crate::sql::Sql;
use crate::value::Row;
use crate::{Result, SqlStore};
use async_trait::async_trait;
use rentgrid_geodata::{GridId, Visit};

/// Which persons to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PersonQuery {
    /// Only persons living in these grids (`None`: the whole district). An empty list matches
    /// nobody: a scope that sees nothing reads nothing.
    pub within: Option<Vec<GridId>>,
    /// Only the persons of this grid.
    pub grid: Option<GridId>,
    /// Only the persons of this rental unit.
    pub unit: Option<u32>,
    /// A full ID number, a full phone number, or the beginning of a name.
    pub text: Option<String>,
    /// A whole name (indexed).
    pub name: Option<String>,
    /// The last 4 characters of the ID number (indexed: [`ID_TAIL`]).
    pub id_tail: Option<String>,
    /// At most this many rows.
    pub limit: u32,
    /// Skipping this many first (ordered by id).
    pub offset: u32,
}

/// A person as the register holds them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonRecord {
    /// Row id.
    pub id: u32,
    /// Name.
    pub name: String,
    /// ID number (身份证号).
    pub id_number: String,
    /// Phone.
    pub phone: String,
    /// Registered (登记) as living here.
    pub registered: bool,
    /// When they were registered (`YYYY-MM-DD`).
    pub registered_on: Option<String>,
    /// Holds a residence permit (居住证).
    pub permit: bool,
    /// Their record matches what a check found (人证相符).
    pub consistent: bool,
    /// The building they live in.
    pub building_id: u32,
    /// The grid of that building.
    pub grid_id: GridId,
    /// Their household's rental unit.
    pub unit_id: u32,
    /// The unit's label (room number).
    pub unit_label: String,
    /// Their household's card number (一户一卡).
    pub card_no: String,
    /// Where they work, if known.
    pub workplace: Option<String>,
    /// Where they come from (户籍地), if recorded.
    pub origin: Option<String>,
    /// When they moved into their home (`YYYY-MM-DD`; `None`: before the records began).
    pub moved_in_on: Option<String>,
    /// When they left the district (流出), if they have.
    pub left_on: Option<String>,
    /// The record's version (one more on every change; an edit names the version it saw).
    pub version: u32,
}

/// A landlord (房东).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Landlord {
    /// Name.
    pub name: String,
    /// ID number.
    pub id_number: String,
    /// Phone.
    pub phone: String,
}

/// A household of a unit, with its persons.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Household {
    /// Card number (一户一卡).
    pub card_no: String,
    /// Its persons.
    pub persons: Vec<PersonRecord>,
}

/// The household card of a rental unit.
#[derive(Debug, Clone, PartialEq)]
pub struct UnitCard {
    /// Row id.
    pub id: u32,
    /// Label (room number).
    pub label: String,
    /// The building.
    pub building_id: u32,
    /// The building's grid.
    pub grid_id: GridId,
    /// Registered as a rental (出租房屋登记).
    pub registered: bool,
    /// When (`YYYY-MM-DD`).
    pub registered_on: Option<String>,
    /// Safety pledge signed (治安责任保证书).
    pub pledge_signed: bool,
    /// Tenants counted on the unit.
    pub tenants: u32,
    /// How it is let (whole, shared, group…).
    pub mode: String,
    /// A group rental (群租).
    pub concentrated: bool,
    /// The landlord, if known.
    pub landlord: Option<Landlord>,
    /// Its households and their persons.
    pub households: Vec<Household>,
    /// The last visit to its building.
    pub last_visit: Option<Visit>,
}

/// A rental unit of a building, as the list a caseworker opens its cards from shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitEntry {
    /// Row id.
    pub id: u32,
    /// Label (room number).
    pub label: String,
    /// Persons living in it now (not those who left).
    pub persons: u32,
    /// Tenants counted on the unit.
    pub tenants: u32,
    /// Registered as a rental (出租房屋登记).
    pub registered: bool,
    /// A group rental (群租).
    pub concentrated: bool,
}

/// Person-level reads.
#[async_trait]
pub trait Persons: Send + Sync {
    /// The persons `q` asks for, ordered by id, and how many match in all.
    async fn persons(&self, q: &PersonQuery) -> Result<(u64, Vec<PersonRecord>)>;
    /// One person.
    async fn person(&self, id: u32) -> Result<Option<PersonRecord>>;
    /// The household card of one rental unit.
    async fn unit_card(&self, id: u32) -> Result<Option<UnitCard>>;
    /// The rental units of building `building`, empty ones too, by label and id, each with how
    /// many persons live in it.
    async fn units_of_building(&self, building: u32) -> Result<Vec<UnitEntry>>;
}

/// The columns [`person_of`] reads, over `persons p` joined to their household, unit, building
/// and workplace.
const PERSON_FROM: &str = "SELECT p.id, p.name, p.id_number, p.phone, p.registered, p.registered_on, p.permit, \
     p.consistent, p.building_id, b.grid_id, h.rental_unit_id AS unit_id, u.label AS unit_label, h.card_no, \
     w.name AS workplace, p.origin, p.moved_in_on, p.left_on, p.version \
     FROM persons p JOIN households h ON h.id = p.household_id JOIN rental_units u ON u.id = h.rental_unit_id \
     JOIN buildings b ON b.id = p.building_id LEFT JOIN workplaces w ON w.id = p.workplace_id";

fn person_of(r: &Row) -> Result<PersonRecord> {
    Ok(PersonRecord {
        id: r.u32("id")?,
        name: r.text("name")?,
        id_number: r.text("id_number")?,
        phone: r.text("phone")?,
        registered: r.bool("registered")?,
        registered_on: r.opt_date("registered_on")?.map(crate::dates::fmt_date),
        permit: r.bool("permit")?,
        consistent: r.bool("consistent")?,
        building_id: r.u32("building_id")?,
        grid_id: r.u32("grid_id")?,
        unit_id: r.u32("unit_id")?,
        unit_label: r.text("unit_label")?,
        card_no: r.text("card_no")?,
        workplace: r.opt_text("workplace")?,
        origin: r.opt_text("origin")?,
        moved_in_on: r.opt_date("moved_in_on")?.map(crate::dates::fmt_date),
        left_on: r.opt_date("left_on")?.map(crate::dates::fmt_date),
        version: r.u32("version")?,
    })
}

/// The last 4 characters of a person's ID number, as the index `persons_id_tail` holds them
/// (the same expression in both dialects).
pub const ID_TAIL: &str = "substr(p.id_number, length(p.id_number) - 3)";

/// `q`'s conditions after `WHERE TRUE`: persons living in the district (not those who left).
fn conditions(mut s: Sql, q: &PersonQuery) -> Sql {
    s = s.push(" AND p.left_on IS NULL");
    if let Some(within) = &q.within {
        s = if within.is_empty() {
            s.push(" AND FALSE")
        } else {
            s.push(" AND b.grid_id IN ").list(within.iter().copied())
        };
    }
    if let Some(g) = q.grid {
        s = s.push(" AND b.grid_id = ").bind(g);
    }
    if let Some(u) = q.unit {
        s = s.push(" AND h.rental_unit_id = ").bind(u);
    }
    if let Some(text) = q.text.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        // Whole ID or phone numbers only: a fragment would let a caller enumerate them.
        s = s
            .push(" AND (p.id_number = ")
            .bind(text)
            .push(" OR p.phone = ")
            .bind(text)
            .push(" OR p.name LIKE ")
            .bind(format!("{}%", text.replace(['%', '_', '\\'], "")))
            .push(")");
    }
    if let Some(name) = &q.name {
        s = s.push(" AND p.name = ").bind(name.as_str());
    }
    if let Some(tail) = &q.id_tail {
        s = s.push(format!(" AND {ID_TAIL} = ")).bind(tail.as_str());
    }
    s
}

#[async_trait]
impl<B: Backend> Persons for SqlStore<B> {
    async fn persons(&self, q: &PersonQuery) -> Result<(u64, Vec<PersonRecord>)> {
        let count = conditions(
            Sql::new(
                "SELECT COUNT(*) AS n FROM persons p JOIN households h ON h.id = p.household_id \
                 JOIN buildings b ON b.id = p.building_id WHERE TRUE",
            ),
            q,
        );
        let total = self.db.fetch(count).await?.first().map(|r| r.int("n")).transpose()?.unwrap_or(0);
        let page = conditions(Sql::new(PERSON_FROM).push(" WHERE TRUE"), q)
            .push(" ORDER BY p.id LIMIT ")
            .bind(i64::from(q.limit))
            .push(" OFFSET ")
            .bind(i64::from(q.offset));
        let rows = self.db.fetch(page).await?;
        Ok((u64::try_from(total).unwrap_or(0), rows.iter().map(person_of).collect::<Result<_>>()?))
    }

    async fn person(&self, id: u32) -> Result<Option<PersonRecord>> {
        let rows = self.db.fetch(Sql::new(PERSON_FROM).push(" WHERE p.id = ").bind(id)).await?;
        rows.first().map(person_of).transpose()
    }

    async fn unit_card(&self, id: u32) -> Result<Option<UnitCard>> {
        let unit = self
            .db
            .fetch(
                Sql::new(
                    "SELECT u.id, u.label, u.building_id, b.grid_id, u.registered, u.registered_on, u.pledge_signed, \
                     u.tenants, u.mode, u.concentrated, l.name AS landlord_name, l.id_number AS landlord_id_number, \
                     l.phone AS landlord_phone \
                     FROM rental_units u JOIN buildings b ON b.id = u.building_id \
                     LEFT JOIN landlords l ON l.id = u.landlord_id WHERE u.id = ",
                )
                .bind(id),
            )
            .await?;
        let Some(u) = unit.first() else { return Ok(None) };
        let landlord = match u.opt_text("landlord_name")? {
            Some(name) => {
                Some(Landlord { name, id_number: u.text("landlord_id_number")?, phone: u.text("landlord_phone")? })
            }
            None => None,
        };
        let persons = self
            .db
            .fetch(
                Sql::new(PERSON_FROM)
                    .push(" WHERE p.left_on IS NULL AND h.rental_unit_id = ")
                    .bind(id)
                    .push(" ORDER BY h.card_no, p.id"),
            )
            .await?;
        let cards = self
            .db
            .fetch(
                Sql::new("SELECT card_no FROM households WHERE rental_unit_id = ").bind(id).push(" ORDER BY card_no"),
            )
            .await?;
        let mut households: Vec<Household> = cards
            .iter()
            .map(|r| Ok(Household { card_no: r.text("card_no")?, persons: Vec::new() }))
            .collect::<Result<_>>()?;
        for r in &persons {
            let p = person_of(r)?;
            if let Some(h) = households.iter_mut().find(|h| h.card_no == p.card_no) {
                h.persons.push(p);
            }
        }
        let building_id = u.u32("building_id")?;
        let visits = self
            .db
            .fetch(
                Sql::new(format!("SELECT {VISIT_COLUMNS} FROM visits WHERE building_id = "))
                    .bind(building_id)
                    .push(" ORDER BY visited_on DESC, id DESC LIMIT 1"),
            )
            .await?;
        Ok(Some(UnitCard {
            id: u.u32("id")?,
            label: u.text("label")?,
            building_id,
            grid_id: u.u32("grid_id")?,
            registered: u.bool("registered")?,
            registered_on: u.opt_date("registered_on")?.map(crate::dates::fmt_date),
            pledge_signed: u.bool("pledge_signed")?,
            tenants: u.u32("tenants")?,
            mode: u.text("mode")?,
            concentrated: u.bool("concentrated")?,
            landlord,
            households,
            last_visit: visits.first().map(visit_of).transpose()?,
        }))
    }

    async fn units_of_building(&self, building: u32) -> Result<Vec<UnitEntry>> {
        let units = self
            .db
            .fetch(
                Sql::new("SELECT id, label, tenants, registered, concentrated FROM rental_units WHERE building_id = ")
                    .bind(building)
                    .push(" ORDER BY label, id"),
            )
            .await?;
        // Counted through the persons of the building (indexed), not per unit.
        let living = self
            .db
            .fetch(
                Sql::new(
                    "SELECT h.rental_unit_id AS unit_id, COUNT(*) AS n FROM persons p \
                     JOIN households h ON h.id = p.household_id WHERE p.left_on IS NULL AND p.building_id = ",
                )
                .bind(building)
                .push(" GROUP BY h.rental_unit_id"),
            )
            .await?;
        let living: std::collections::HashMap<u32, u32> =
            living.iter().map(|r| Ok((r.u32("unit_id")?, r.u32("n")?))).collect::<Result<_>>()?;
        units
            .iter()
            .map(|r| {
                let id = r.u32("id")?;
                Ok(UnitEntry {
                    id,
                    label: r.text("label")?,
                    persons: living.get(&id).copied().unwrap_or(0),
                    tenants: r.u32("tenants")?,
                    registered: r.bool("registered")?,
                    concentrated: r.bool("concentrated")?,
                })
            })
            .collect()
    }
}
