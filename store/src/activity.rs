//! The day's work as the command center's big screen (大屏) shows it: per grid, the persons and
//! rental units registered and the visits made on a day and in its month so far, the hazard
//! cases still open, and the latest visits. Counts are per grid, so the caller sums the grids a
//! user may see; none of it names a person.

use crate::backend::Backend;
use crate::sql::Sql;
use crate::{Result, SqlStore};
use async_trait::async_trait;
use rentgrid_geodata::GridId;
use std::collections::BTreeMap;
use time::Date;

/// What happened in one grid on a day and in its month up to that day.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GridActivity {
    /// Persons whose registration is dated the day (at their present home).
    pub persons_today: u32,
    /// … dated from the first of the month to the day.
    pub persons_month: u32,
    /// Rental units registered on the day.
    pub units_today: u32,
    /// … from the first of the month to the day.
    pub units_month: u32,
    /// Visits made on the day.
    pub visits_today: u32,
    /// … from the first of the month to the day.
    pub visits_month: u32,
    /// Hazard cases not yet verified as rectified (whatever the day).
    pub hazards_open: u32,
}

/// One of the latest visits, without notes (they stay with the visit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecentVisit {
    /// The visit.
    pub id: u32,
    /// Its day.
    pub visited_on: Date,
    /// The building visited and its grid.
    pub building_id: u32,
    /// The building's grid.
    pub grid_id: GridId,
    /// Who visited (`None` when not recorded).
    pub caseworker: Option<String>,
    /// Rental units registered during the visit.
    pub units_registered: u32,
    /// Safety pledges signed.
    pub pledges_signed: u32,
    /// Rental units found that the register lacked.
    pub units_found: u32,
    /// Persons found that the register lacked.
    pub persons_found: u32,
}

/// The most recent visits one answer lists.
pub const MAX_RECENT: u32 = 100;

/// The day's work, read from the register.
#[async_trait]
pub trait Activity: Send + Sync {
    /// Per grid (grids with nothing to count are absent): registrations and visits on `day` and
    /// from the first of its month to `day`, and the open hazard cases.
    async fn activity(&self, day: Date) -> Result<BTreeMap<GridId, GridActivity>>;
    /// The latest visits (at most `limit`, capped at [`MAX_RECENT`]), the newest first, in the
    /// grids `within` (`None`: all).
    async fn recent_visits(&self, within: Option<&[GridId]>, limit: u32) -> Result<Vec<RecentVisit>>;
}

#[async_trait]
impl<B: Backend> Activity for SqlStore<B> {
    async fn activity(&self, day: Date) -> Result<BTreeMap<GridId, GridActivity>> {
        let first = day.replace_day(1).unwrap_or(day);
        let mut out: BTreeMap<GridId, GridActivity> = BTreeMap::new();
        // (table, date column, what it must also be, the counts it fills)
        type Fill = fn(&mut GridActivity, u32, u32);
        let dated: [(&str, &str, &str, Fill); 3] = [
            ("persons", "registered_on", " AND t.registered", |a, d, m| (a.persons_today, a.persons_month) = (d, m)),
            ("rental_units", "registered_on", " AND t.registered", |a, d, m| (a.units_today, a.units_month) = (d, m)),
            ("visits", "visited_on", "", |a, d, m| (a.visits_today, a.visits_month) = (d, m)),
        ];
        for (table, col, also, fill) in dated {
            let q = Sql::new(format!("SELECT b.grid_id AS grid, SUM(CASE WHEN t.{col} = "))
                .bind(day)
                .push(format!(
                    " THEN 1 ELSE 0 END) AS today, COUNT(*) AS month FROM {table} t \
                     JOIN buildings b ON b.id = t.building_id WHERE t.{col} >= "
                ))
                .bind(first)
                .push(format!(" AND t.{col} <= "))
                .bind(day)
                .push(format!("{also} GROUP BY b.grid_id"));
            for r in self.db.fetch(q).await? {
                fill(out.entry(r.u32("grid")?).or_default(), r.u32("today")?, r.u32("month")?);
            }
        }
        let open =
            Sql::new("SELECT grid_id AS grid, COUNT(*) AS n FROM hazards WHERE status <> 'verified' GROUP BY grid_id");
        for r in self.db.fetch(open).await? {
            out.entry(r.u32("grid")?).or_default().hazards_open = r.u32("n")?;
        }
        Ok(out)
    }

    async fn recent_visits(&self, within: Option<&[GridId]>, limit: u32) -> Result<Vec<RecentVisit>> {
        let mut q = Sql::new(
            "SELECT v.id, v.visited_on, v.building_id, b.grid_id, c.name AS caseworker, v.units_registered, \
             v.pledges_signed, v.units_found, v.persons_found FROM visits v JOIN buildings b ON b.id = v.building_id \
             LEFT JOIN caseworkers c ON c.id = v.caseworker_id WHERE TRUE",
        );
        if let Some(grids) = within {
            q = if grids.is_empty() {
                q.push(" AND FALSE")
            } else {
                q.push(" AND b.grid_id IN ").list(grids.iter().copied())
            };
        }
        q = q.push(format!(" ORDER BY v.id DESC LIMIT {}", limit.min(MAX_RECENT)));
        self.db
            .fetch(q)
            .await?
            .iter()
            .map(|r| {
                Ok(RecentVisit {
                    id: r.u32("id")?,
                    visited_on: r.date("visited_on")?,
                    building_id: r.u32("building_id")?,
                    grid_id: r.u32("grid_id")?,
                    caseworker: r.opt_text("caseworker")?,
                    units_registered: r.u32("units_registered")?,
                    pledges_signed: r.u32("pledges_signed")?,
                    units_found: r.u32("units_found")?,
                    persons_found: r.u32("persons_found")?,
                })
            })
            .collect()
    }
}
