//! Register reads: what the Atlas is built from, the monthly registrations, whole ledgers for
//! export, and what the store is.

use crate::backend::{Backend, PoolUsage, Tx};
use crate::names::{parse_community_kind, parse_street_kind};
use crate::sql::Sql;
use crate::value::Row;
use crate::{Result, SqlStore, StoreError};
use async_trait::async_trait;
use geo::Geometry;
use rentgrid_geodata::atlas::BuildingStats;
use rentgrid_geodata::{
    AtlasInput, Block, Building, BuildingKind, Community, District, Grid, MonthlyRegistrations, Road, RoadClass,
    Street, Workplace,
};

/// Facts about the data a store holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreInfo {
    /// "sqlite" or "postgis".
    pub backend: &'static str,
    /// Where it is (a path, or a URL without password).
    pub location: String,
    /// How the data was made, e.g. `demo seed=20240601 scale=1`.
    pub origin: Option<String>,
}

/// A ledger the store can write out whole (the CLI's full export).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ledger {
    /// 出租房屋台帐.
    Units,
    /// 流动人口台帐.
    Persons,
    /// 综管员花名册: one row per (caseworker, grid); the exporter joins the grids.
    Caseworkers,
    /// 单位台帐.
    Workplaces,
    /// 走访记录.
    Visits,
}

/// A cell read from the store.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// Text.
    Text(String),
    /// Whole number.
    Int(i64),
    /// Real number (exact: the shortest text that reads back the same).
    Num(f64),
    /// NULL.
    Null,
}

/// Reads of the register.
#[async_trait]
pub trait Register: Send + Sync {
    /// Where and what this store is.
    async fn info(&self) -> Result<StoreInfo>;
    /// Its backend's name (as [`StoreInfo::backend`]) and how busy its connection pool is now.
    fn pool_usage(&self) -> (&'static str, PoolUsage);
    /// Closes the store's connections (at the end of a command; nothing can be asked after).
    async fn close(&self);
    /// True when no district has been saved yet.
    async fn is_empty(&self) -> Result<bool>;
    /// Reads what the Atlas is built from.
    async fn load_atlas_input(&self) -> Result<AtlasInput>;
    /// Registrations with a date, counted per building and month: the monthly history's source.
    async fn monthly_registrations(&self) -> Result<Vec<MonthlyRegistrations>>;
    /// A whole ledger, in the columns of [`ledger_sql`], ordered by id.
    async fn ledger(&self, which: Ledger) -> Result<Vec<Vec<Cell>>>;
    /// Each building with rental units: how many, how many are concentrated housing
    /// (集中居住), and its last visit: what the overdue list is made from.
    async fn last_visits(&self) -> Result<Vec<LastVisit>>;
}

/// A building with rental units and its last visit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LastVisit {
    /// The building.
    pub building_id: u32,
    /// Its rental units.
    pub rental_units: u32,
    /// Of them, concentrated housing (group rentals, dormitories).
    pub concentrated: u32,
    /// The day of its last visit, if it has had one.
    pub last: Option<time::Date>,
}

#[async_trait]
impl<B: Backend> Register for SqlStore<B> {
    async fn info(&self) -> Result<StoreInfo> {
        let row = self.db.fetch(Sql::new("SELECT value FROM meta WHERE key = 'origin'")).await?;
        let origin = row.first().map(|r| r.text("value")).transpose()?;
        Ok(StoreInfo { backend: self.db.name(), location: self.db.location(), origin })
    }

    fn pool_usage(&self) -> (&'static str, PoolUsage) {
        (self.db.name(), self.db.pool_usage())
    }

    async fn close(&self) {
        self.db.close().await;
    }

    async fn is_empty(&self) -> Result<bool> {
        let rows = self.db.fetch(Sql::new("SELECT COUNT(*) AS n FROM districts")).await?;
        Ok(rows.first().map(|r| r.int("n")).transpose()?.unwrap_or(0) == 0)
    }

    async fn load_atlas_input(&self) -> Result<AtlasInput> {
        let mut tx = Tx::snapshot(&self.db).await?;
        let input = load_atlas_input(&mut tx).await?;
        tx.commit().await?;
        Ok(input)
    }

    async fn monthly_registrations(&self) -> Result<Vec<MonthlyRegistrations>> {
        let mut tx = Tx::snapshot(&self.db).await?;
        let rows = monthly_registrations(&mut tx).await?;
        tx.commit().await?;
        Ok(rows)
    }

    async fn ledger(&self, which: Ledger) -> Result<Vec<Vec<Cell>>> {
        Ok(self.db.fetch(Sql::new(ledger_sql(which))).await?.iter().map(Row::cells).collect())
    }

    async fn last_visits(&self) -> Result<Vec<LastVisit>> {
        let units = self
            .db
            .fetch(Sql::new(
                "SELECT building_id, COUNT(*) AS n, SUM(CASE WHEN concentrated THEN 1 ELSE 0 END) AS c \
                 FROM rental_units GROUP BY building_id ORDER BY building_id",
            ))
            .await?;
        let visits = self
            .db
            .fetch(Sql::new("SELECT building_id, MAX(visited_on) AS last FROM visits GROUP BY building_id"))
            .await?;
        let mut last = std::collections::HashMap::new();
        for r in &visits {
            last.insert(r.u32("building_id")?, r.opt_date("last")?);
        }
        units
            .iter()
            .map(|r| {
                let building_id = r.u32("building_id")?;
                Ok(LastVisit {
                    building_id,
                    rental_units: r.u32("n")?,
                    concentrated: r.u32("c")?,
                    last: last.get(&building_id).copied().flatten(),
                })
            })
            .collect()
    }
}

fn corrupt(what: &'static str, id: impl ToString, reason: impl Into<String>) -> StoreError {
    StoreError::Corrupt { what, id: id.to_string(), reason: reason.into() }
}

/// A stored geometry as a MultiPolygon (a Polygon is one of one).
fn multipolygon(r: &Row, col: &str, what: &'static str, id: &str) -> Result<geo::MultiPolygon<f64>> {
    match r.geom(col)? {
        Geometry::MultiPolygon(m) => Ok(m),
        Geometry::Polygon(p) => Ok(geo::MultiPolygon(vec![p])),
        _ => Err(corrupt(what, id, "expected a polygon")),
    }
}

fn polygon(r: &Row, col: &str, what: &'static str, id: &str) -> Result<geo::Polygon<f64>> {
    match r.geom(col)? {
        Geometry::Polygon(p) => Ok(p),
        _ => Err(corrupt(what, id, "expected a Polygon")),
    }
}

fn point(r: &Row, col: &str, what: &'static str, id: &str) -> Result<geo::Point<f64>> {
    match r.geom(col)? {
        Geometry::Point(p) => Ok(p),
        _ => Err(corrupt(what, id, "expected a Point")),
    }
}

/// Counts per building of one table (rental units, persons or visits), to add to the Atlas's
/// input: each row a building's id and its counts ([`BuildingStats`] with only this table's
/// fields set).
#[derive(Debug, Default)]
pub(crate) struct BuildingCounts(Vec<(u32, BuildingStats)>);

impl BuildingCounts {
    /// Adds the counts to `stats` (one per building, by id).
    pub(crate) fn add_to(self, stats: &mut [BuildingStats]) -> Result<()> {
        for (id, c) in self.0 {
            let s = stats.get_mut(id as usize).ok_or_else(|| corrupt("row", id, "refers to a missing building"))?;
            s.add(&c);
        }
        Ok(())
    }
}

/// The rental units of each building, registered and with a pledge signed.
pub(crate) async fn unit_counts(tx: &mut Tx<'_>) -> Result<BuildingCounts> {
    let rows = tx
        .fetch(Sql::new(
            "SELECT building_id, COUNT(*) AS n, SUM(CASE WHEN registered THEN 1 ELSE 0 END) AS reg, \
             SUM(CASE WHEN registered AND pledge_signed THEN 1 ELSE 0 END) AS pledged FROM rental_units GROUP BY building_id",
        ))
        .await?;
    let counts = rows.iter().map(|r| {
        let c = BuildingStats {
            rental_units: r.u32("n")?,
            rental_units_registered: r.u32("reg")?,
            pledges_signed: r.u32("pledged")?,
            ..BuildingStats::default()
        };
        Ok((r.u32("building_id")?, c))
    });
    Ok(BuildingCounts(counts.collect::<Result<_>>()?))
}

/// The persons living in each building (not departed), registered, with a permit, consistent.
pub(crate) async fn person_counts(tx: &mut Tx<'_>) -> Result<BuildingCounts> {
    let rows = tx
        .fetch(Sql::new(
            "SELECT building_id, COUNT(*) AS n, SUM(CASE WHEN registered THEN 1 ELSE 0 END) AS reg, \
             SUM(CASE WHEN registered AND permit THEN 1 ELSE 0 END) AS permit, \
             SUM(CASE WHEN registered AND consistent THEN 1 ELSE 0 END) AS consistent FROM persons \
             WHERE left_on IS NULL GROUP BY building_id",
        ))
        .await?;
    let counts = rows.iter().map(|r| {
        let c = BuildingStats {
            persons: r.u32("n")?,
            persons_registered: r.u32("reg")?,
            persons_with_permit: r.u32("permit")?,
            persons_consistent: r.u32("consistent")?,
            ..BuildingStats::default()
        };
        Ok((r.u32("building_id")?, c))
    });
    Ok(BuildingCounts(counts.collect::<Result<_>>()?))
}

/// The visits to each building.
pub(crate) async fn visit_counts(tx: &mut Tx<'_>) -> Result<BuildingCounts> {
    let rows = tx.fetch(Sql::new("SELECT building_id, COUNT(*) AS n FROM visits GROUP BY building_id")).await?;
    let counts = rows
        .iter()
        .map(|r| Ok((r.u32("building_id")?, BuildingStats { visits: r.u32("n")?, ..BuildingStats::default() })));
    Ok(BuildingCounts(counts.collect::<Result<_>>()?))
}

/// The Atlas's input as `tx` sees it.
pub(crate) async fn load_atlas_input(tx: &mut Tx<'_>) -> Result<AtlasInput> {
    let mut input = load_places(tx).await?;
    for counts in [unit_counts(tx).await?, person_counts(tx).await?, visit_counts(tx).await?] {
        counts.add_to(&mut input.building_stats)?;
    }
    Ok(input)
}

/// The Atlas's input as `tx` sees it, every building's counts zero (see [`unit_counts`],
/// [`person_counts`], [`visit_counts`]).
pub(crate) async fn load_places(tx: &mut Tx<'_>) -> Result<AtlasInput> {
    let Some(d) = tx.fetch(Sql::new("SELECT code, name, outline FROM districts LIMIT 1")).await?.into_iter().next()
    else {
        return Err(StoreError::Empty);
    };
    let code = d.text("code")?;
    let district = District { outline: multipolygon(&d, "outline", "district", &code)?, name: d.text("name")?, code };
    let streets = tx
        .fetch(Sql::new("SELECT code, name, kind FROM streets ORDER BY seq"))
        .await?
        .iter()
        .map(|r| {
            let code = r.text("code")?;
            let kind = r.text("kind")?;
            let kind = parse_street_kind(&kind).ok_or_else(|| corrupt("street", &code, format!("kind {kind:?}")))?;
            Ok(Street { name: r.text("name")?, kind, code })
        })
        .collect::<Result<Vec<_>>>()?;
    let communities = tx
        .fetch(Sql::new("SELECT code, name, street_code, kind FROM communities ORDER BY seq"))
        .await?
        .iter()
        .map(|r| {
            let code = r.text("code")?;
            let kind = r.text("kind")?;
            let kind =
                parse_community_kind(&kind).ok_or_else(|| corrupt("community", &code, format!("kind {kind:?}")))?;
            Ok(Community { name: r.text("name")?, street_code: r.text("street_code")?, kind, code })
        })
        .collect::<Result<Vec<_>>>()?;
    let grids = tx
        .fetch(Sql::new("SELECT id, code, name, community_code, geom FROM grids ORDER BY id"))
        .await?
        .iter()
        .map(|r| {
            let code = r.text("code")?;
            Ok(Grid {
                id: r.u32("id")?,
                geometry: multipolygon(r, "geom", "grid", &code)?,
                name: r.text("name")?,
                community_code: r.text("community_code")?,
                code,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let blocks = tx
        .fetch(Sql::new("SELECT id, grid_id, geom FROM blocks ORDER BY id"))
        .await?
        .iter()
        .map(|r| {
            let id = r.u32("id")?;
            Ok(Block { id, grid_id: r.u32("grid_id")?, geometry: polygon(r, "geom", "block", &id.to_string())? })
        })
        .collect::<Result<Vec<_>>>()?;
    let roads = tx
        .fetch(Sql::new("SELECT id, from_node, to_node, class, length_m, geom FROM roads ORDER BY id"))
        .await?
        .iter()
        .map(|r| {
            let id = r.u32("id")?;
            let class = r.text("class")?;
            let Geometry::LineString(line) = r.geom("geom")? else {
                return Err(corrupt("road", id, "expected a LineString"));
            };
            Ok(Road {
                id,
                from_node: r.u32("from_node")?,
                to_node: r.u32("to_node")?,
                class: RoadClass::parse(&class).ok_or_else(|| corrupt("road", id, format!("class {class:?}")))?,
                length_m: r.real("length_m")?,
                line,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let buildings = tx.fetch(Sql::new(
        "SELECT id, COALESCE(external_id, CAST(id AS TEXT)) AS external_id, grid_id, kind, address, floors, dwellings, \
         utility_accounts, point, footprint FROM buildings ORDER BY id",
    ))
    .await?
    .iter()
    .map(|r| {
        let id = r.u32("id")?;
        let sid = id.to_string();
        let kind = r.text("kind")?;
        Ok(Building {
            id,
            external_id: r.text("external_id")?,
            grid_id: r.u32("grid_id")?,
            kind: BuildingKind::parse(&kind).ok_or_else(|| corrupt("building", id, format!("kind {kind:?}")))?,
            address: r.text("address")?,
            floors: u16::try_from(r.u32("floors")?).unwrap_or(u16::MAX),
            dwellings: r.u32("dwellings")?,
            utility_accounts: r.u32("utility_accounts")?,
            point: point(r, "point", "building", &sid)?,
            footprint: polygon(r, "footprint", "building", &sid)?,
        })
    })
    .collect::<Result<Vec<_>>>()?;
    let stats = vec![BuildingStats::default(); buildings.len()];
    let workplaces = tx
        .fetch(Sql::new(
            "SELECT id, name, building_id, grid_id, point, employees, migrant_workers, \
         responsibility_signed, contracts_signed, insured FROM workplaces ORDER BY id",
        ))
        .await?
        .iter()
        .map(|r| {
            let id = r.u32("id")?;
            Ok(Workplace {
                id,
                name: r.text("name")?,
                building_id: r.opt_u32("building_id")?,
                grid_id: r.u32("grid_id")?,
                point: point(r, "point", "workplace", &id.to_string())?,
                employees: r.u32("employees")?,
                migrant_workers: r.u32("migrant_workers")?,
                responsibility_signed: r.bool("responsibility_signed")?,
                contracts_signed: r.u32("contracts_signed")?,
                insured: r.u32("insured")?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(AtlasInput {
        district,
        streets,
        communities,
        grids,
        blocks,
        roads,
        buildings,
        building_stats: stats,
        workplaces,
    })
}

/// What a row of a [`MonthlyMerge`] counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dated {
    /// Persons registered: (n, permit, consistent).
    Persons,
    /// Rental units registered: (n, pledged).
    Units,
    /// Persons who moved in: (n).
    Arrivals,
    /// Persons who moved out: (n, registered, permit, consistent).
    Departures,
}

/// The rows of dated events — (building, month, n, a, b[, c]) — merged as they come into one
/// record per building and month.
#[derive(Debug, Default)]
struct MonthlyMerge(std::collections::BTreeMap<(u32, rentgrid_geodata::Month), MonthlyRegistrations>);

impl MonthlyMerge {
    /// Adds one row of `kind`.
    fn add(&mut self, kind: Dated, row: &Row) -> Result<()> {
        let num = |v: i64, what: &str| {
            u32::try_from(v).map_err(|_| StoreError::Corrupt {
                what: "registration count",
                id: what.to_string(),
                reason: format!("{v} is out of range"),
            })
        };
        let (building, month, n, a, b) =
            (row.int("building_id")?, row.text("month")?, row.int("n")?, row.int("a")?, row.int("b")?);
        let building_id = num(building, "building_id")?;
        let month: rentgrid_geodata::Month = month.parse().map_err(|reason| StoreError::Corrupt {
            what: "registration date",
            id: building.to_string(),
            reason,
        })?;
        let r = self.0.entry((building_id, month)).or_insert(MonthlyRegistrations::none(building_id, month));
        match kind {
            Dated::Persons => {
                r.persons += num(n, "persons")?;
                r.persons_with_permit += num(a, "permit")?;
                r.persons_consistent += num(b, "consistent")?;
            }
            Dated::Units => {
                r.rental_units += num(n, "rental_units")?;
                r.pledges_signed += num(a, "pledges")?;
            }
            Dated::Arrivals => r.arrived += num(n, "arrived")?,
            Dated::Departures => {
                r.left += num(n, "left")?;
                r.left_registered += num(a, "left registered")?;
                r.left_with_permit += num(b, "left with permit")?;
                r.left_consistent += num(row.int("c")?, "left consistent")?;
            }
        }
        Ok(())
    }

    /// The records, by building and month.
    fn into_records(self) -> Vec<MonthlyRegistrations> {
        self.0.into_values().collect()
    }
}

/// The query that reads a ledger in the columns its importer reads (a workplace's point gives
/// two: its longitude and latitude).
pub fn ledger_sql(which: Ledger) -> &'static str {
    match which {
        Ledger::Units => {
            "SELECT COALESCE(u.external_id, CAST(u.id AS TEXT)), COALESCE(b.external_id, CAST(b.id AS TEXT)), \
             u.label, l.name, l.id_number, l.phone, CASE WHEN u.registered THEN '是' ELSE '否' END, \
             CASE WHEN u.registered THEN u.registered_on END, \
             CASE WHEN u.registered AND u.pledge_signed THEN '是' ELSE '否' END, u.tenants, u.mode, \
             CASE WHEN u.concentrated THEN '是' ELSE '否' END \
             FROM rental_units u JOIN buildings b ON b.id = u.building_id \
             LEFT JOIN landlords l ON l.id = u.landlord_id ORDER BY u.id"
        }
        Ledger::Persons => {
            "SELECT COALESCE(u.external_id, CAST(u.id AS TEXT)), h.card_no, p.name, p.id_number, p.phone, \
             CASE WHEN p.registered THEN '是' ELSE '否' END, CASE WHEN p.registered THEN p.registered_on END, \
             CASE WHEN p.registered AND p.permit THEN '是' ELSE '否' END, \
             CASE WHEN p.registered AND p.consistent THEN '是' ELSE '否' END, \
             COALESCE(w.external_id, CAST(w.id AS TEXT)) \
             FROM persons p JOIN households h ON h.id = p.household_id \
             JOIN rental_units u ON u.id = h.rental_unit_id LEFT JOIN workplaces w ON w.id = p.workplace_id \
             WHERE p.left_on IS NULL ORDER BY p.id"
        }
        Ledger::Caseworkers => {
            "SELECT COALESCE(c.external_id, CAST(c.id AS TEXT)), c.name, c.street_code, g.code \
             FROM caseworkers c LEFT JOIN caseworker_grids cg ON cg.caseworker_id = c.id \
             LEFT JOIN grids g ON g.id = cg.grid_id ORDER BY c.id, g.id"
        }
        Ledger::Workplaces => {
            "SELECT COALESCE(w.external_id, CAST(w.id AS TEXT)), w.name, b.external_id, w.point, w.employees, \
             w.migrant_workers, CASE WHEN w.responsibility_signed THEN '是' ELSE '否' END, w.contracts_signed, w.insured \
             FROM workplaces w LEFT JOIN buildings b ON b.id = w.building_id ORDER BY w.id"
        }
        Ledger::Visits => {
            "SELECT v.client_id, COALESCE(b.external_id, CAST(b.id AS TEXT)), \
             COALESCE(c.external_id, CAST(c.id AS TEXT)), v.visited_on, v.units_registered, v.pledges_signed, \
             v.units_found, v.persons_found, v.notes \
             FROM visits v JOIN buildings b ON b.id = v.building_id LEFT JOIN caseworkers c ON c.id = v.caseworker_id \
             ORDER BY v.id"
        }
    }
}

/// The monthly registrations of every building, as `tx` sees them.
pub(crate) async fn monthly_registrations(tx: &mut Tx<'_>) -> Result<Vec<MonthlyRegistrations>> {
    let month = |col: &str| tx.db.month(col);
    // Registrations at every home a person has had: the present one (unless they left the
    // district) and each one they moved out of.
    let (m, m_in, m_out) = (month("registered_on"), month("moved_in_on"), month("moved_out_on"));
    let mut merged = MonthlyMerge::default();
    let persons = Sql::new(format!(
        "SELECT building_id, {m} AS month, COUNT(*) AS n, \
             SUM(CASE WHEN permit THEN 1 ELSE 0 END) AS a, SUM(CASE WHEN consistent THEN 1 ELSE 0 END) AS b \
             FROM (SELECT building_id, registered_on, permit, consistent FROM persons \
             WHERE registered AND registered_on IS NOT NULL AND left_on IS NULL \
             UNION ALL SELECT building_id, registered_on, permit, consistent FROM residences \
             WHERE registered AND registered_on IS NOT NULL) r GROUP BY building_id, {m}"
    ));
    let units = Sql::new(format!(
        "SELECT building_id, {m} AS month, COUNT(*) AS n, \
             SUM(CASE WHEN pledge_signed THEN 1 ELSE 0 END) AS a, 0 AS b \
             FROM rental_units WHERE registered AND registered_on IS NOT NULL GROUP BY building_id, {m}"
    ));
    let arrivals = Sql::new(format!(
        "SELECT building_id, {m_in} AS month, COUNT(*) AS n, 0 AS a, 0 AS b \
             FROM (SELECT building_id, moved_in_on FROM persons WHERE left_on IS NULL AND moved_in_on IS NOT NULL \
             UNION ALL SELECT building_id, moved_in_on FROM residences WHERE moved_in_on IS NOT NULL) r \
             GROUP BY building_id, {m_in}"
    ));
    let departures = Sql::new(format!(
        "SELECT building_id, {m_out} AS month, COUNT(*) AS n, \
             SUM(CASE WHEN registered THEN 1 ELSE 0 END) AS a, \
             SUM(CASE WHEN registered AND permit THEN 1 ELSE 0 END) AS b, \
             SUM(CASE WHEN registered AND consistent THEN 1 ELSE 0 END) AS c \
             FROM residences GROUP BY building_id, {m_out}"
    ));
    // Each grouped result streamed into the merge as it comes: a city-sized register has
    // millions of groups, which held whole (as rows, then as records) took gigabytes.
    for (kind, q) in
        [(Dated::Persons, persons), (Dated::Units, units), (Dated::Arrivals, arrivals), (Dated::Departures, departures)]
    {
        tx.fetch_each(q, |row| merged.add(kind, &row)).await?;
    }
    Ok(merged.into_records())
}
