//! Reading what a server keeps in memory (the Atlas's input, the inputs of the derived views) in
//! one snapshot of the database, with the last change of the log it includes, so that the
//! server can follow the log on from exactly there; and the [`Stamp`] that says whether a copy
//! of those parts made earlier (the Atlas snapshot file) is still what the store holds.

use crate::backend::{Backend, Tx};
use crate::changes::{Loaded, Mark, Parts, last, mark_at};
use crate::sql::Sql;
use crate::{Result, SqlStore, register};
use async_trait::async_trait;

/// Where a store's history stands: the last change of its log and what ties that change to
/// this store. Two reads with equal stamps read the same Atlas input: every write that moves
/// what a server keeps records a change, and the history names the store and that change (its
/// audit row's chain hash, the demo city it was seeded with, its grid and building counts), so
/// another store that happens to stand at the same place of its own log does not match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stamp {
    /// The last change recorded.
    pub mark: Mark,
    /// The store's history up to that change, as one text.
    pub history: String,
}

/// Consistent reads of the parts of the register a server keeps.
#[async_trait]
pub trait SnapshotReads: Send + Sync {
    /// Reads `parts` in one snapshot of the database, with the last change they include.
    async fn load(&self, parts: Parts) -> Result<Loaded>;
    /// Where the store's history stands now.
    async fn stamp(&self) -> Result<Stamp>;
    /// The stamp the store had right after change `seq`, if nothing reloaded since then: equal
    /// to a copy's stamp when that copy was made from this store at that change (its history
    /// names the change's audit hash, the store's origin and its grid, building and workplace
    /// counts, which only a reload changes). `None` when the log no longer holds that change
    /// (pruned) or never did. Whether a reload came after it is for the caller's catching up
    /// to find in the log.
    async fn stamp_at(&self, seq: i64) -> Result<Option<Stamp>>;
}

#[async_trait]
impl<B: Backend> SnapshotReads for SqlStore<B> {
    async fn load(&self, parts: Parts) -> Result<Loaded> {
        if parts.atlas
            && let Some(loaded) = self.load_in_parallel(parts).await?
        {
            return Ok(loaded);
        }
        let mut tx = Tx::snapshot(&self.db).await?;
        let stamp = stamp(&mut tx).await?;
        let atlas = if parts.atlas { Some(register::load_atlas_input(&mut tx).await?) } else { None };
        let (registrations, evidence) = if parts.inputs { inputs(&mut tx).await? } else { (None, None) };
        tx.commit().await?;
        Ok(Loaded { atlas, registrations, evidence, mark: stamp.mark, history: stamp.history })
    }

    async fn stamp(&self) -> Result<Stamp> {
        let mut tx = Tx::snapshot(&self.db).await?;
        let stamp = stamp(&mut tx).await?;
        tx.commit().await?;
        Ok(stamp)
    }

    async fn stamp_at(&self, seq: i64) -> Result<Option<Stamp>> {
        let mut tx = Tx::snapshot(&self.db).await?;
        let mark = if seq == 0 { Some(Mark::default()) } else { mark_at(&mut tx, seq).await? };
        let stamp = match mark {
            Some(mark) => Some(stamp_of(&mut tx, mark).await?),
            None => None,
        };
        tx.commit().await?;
        Ok(stamp)
    }
}

impl<B: Backend> SqlStore<B> {
    /// Reads `parts` (the Atlas's input among them) in three snapshots at once, on three
    /// connections: the places, the visits' counts and the inputs; the persons' counts; the
    /// rental units' counts (the two largest tables, each aggregated apart). The three are one
    /// snapshot when each ends at the same [`Stamp`]: every write that moves a count records a
    /// change. `None` when a write came between them (then the caller reads in one snapshot).
    async fn load_in_parallel(&self, parts: Parts) -> Result<Option<Loaded>> {
        let main = async {
            let mut tx = Tx::snapshot(&self.db).await?;
            let stamp = stamp(&mut tx).await?;
            let mut atlas = register::load_places(&mut tx).await?;
            register::visit_counts(&mut tx).await?.add_to(&mut atlas.building_stats)?;
            let inputs = if parts.inputs { inputs(&mut tx).await? } else { (None, None) };
            tx.commit().await?;
            Ok::<_, crate::StoreError>((stamp, atlas, inputs))
        };
        let persons = async {
            let mut tx = Tx::snapshot(&self.db).await?;
            let stamp = stamp(&mut tx).await?;
            let counts = register::person_counts(&mut tx).await?;
            tx.commit().await?;
            Ok((stamp, counts))
        };
        let units = async {
            let mut tx = Tx::snapshot(&self.db).await?;
            let stamp = stamp(&mut tx).await?;
            let counts = register::unit_counts(&mut tx).await?;
            tx.commit().await?;
            Ok((stamp, counts))
        };
        let ((stamp, mut atlas, (registrations, evidence)), (persons_at, persons), (units_at, units)) =
            tokio::try_join!(main, persons, units)?;
        if persons_at != stamp || units_at != stamp {
            tracing::info!(
                first = stamp.mark.seq,
                persons = persons_at.mark.seq,
                units = units_at.mark.seq,
                "a write came between the parallel reads: reading again in one snapshot"
            );
            return Ok(None);
        }
        persons.add_to(&mut atlas.building_stats)?;
        units.add_to(&mut atlas.building_stats)?;
        Ok(Some(Loaded { atlas: Some(atlas), registrations, evidence, mark: stamp.mark, history: stamp.history }))
    }
}

/// The inputs of the derived views as `tx` sees them.
async fn inputs(
    tx: &mut Tx<'_>,
) -> Result<(Option<Vec<rentgrid_geodata::MonthlyRegistrations>>, Option<rentgrid_analysis::evidence::StoredEvidence>)>
{
    let registrations = register::monthly_registrations(tx).await?;
    Ok((Some(registrations), Some(crate::campaigns::evidence(tx).await?)))
}

/// The stamp of what `tx` sees.
async fn stamp(tx: &mut Tx<'_>) -> Result<Stamp> {
    let mark = last(tx).await?;
    stamp_of(tx, mark).await
}

/// The stamp of the store at change `mark`, as `tx` sees the store's origin and counts.
async fn stamp_of(tx: &mut Tx<'_>, mark: Mark) -> Result<Stamp> {
    let hash = match tx.fetch_optional(Sql::new("SELECT hash FROM audit_log WHERE seq = ").bind(mark.seq)).await? {
        Some(r) => r.text("hash")?,
        None => String::new(),
    };
    let origin = match tx.fetch_optional(Sql::new("SELECT value FROM meta WHERE key = 'origin'")).await? {
        Some(r) => r.text("value")?,
        None => String::new(),
    };
    let counts = tx
        .fetch_one(Sql::new(
            "SELECT (SELECT COUNT(*) FROM grids) AS grids, (SELECT COUNT(*) FROM buildings) AS buildings, \
             (SELECT COUNT(*) FROM workplaces) AS workplaces",
        ))
        .await?;
    let history = format!(
        "origin={origin};change={};hash={hash};grids={};buildings={};workplaces={}",
        mark.seq,
        counts.int("grids")?,
        counts.int("buildings")?,
        counts.int("workplaces")?
    );
    Ok(Stamp { mark, history })
}
