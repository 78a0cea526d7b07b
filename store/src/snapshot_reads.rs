//! Reading what a server keeps in memory (the Atlas's input, the inputs of the derived views) in
//! one snapshot of the database, with the last change of the log it includes, so that the
//! server can follow the log on from exactly there.

use crate::backend::{Backend, Tx};
use crate::changes::{Loaded, Parts, last};
use crate::{Result, SqlStore};
use async_trait::async_trait;

/// Consistent reads of the parts of the register a server keeps.
#[async_trait]
pub trait SnapshotReads: Send + Sync {
    /// Reads `parts` in one snapshot of the database, with the last change they include.
    async fn load(&self, parts: Parts) -> Result<Loaded>;
}

#[async_trait]
impl<B: Backend> SnapshotReads for SqlStore<B> {
    async fn load(&self, parts: Parts) -> Result<Loaded> {
        let mut tx = Tx::snapshot(&self.db).await?;
        let mark = last(&mut tx).await?;
        let atlas = if parts.atlas { Some(crate::register::load_atlas_input(&mut tx).await?) } else { None };
        let (registrations, evidence) = if parts.inputs {
            let registrations = crate::register::monthly_registrations(&mut tx).await?;
            (Some(registrations), Some(crate::campaigns::evidence(&mut tx).await?))
        } else {
            (None, None)
        };
        tx.commit().await?;
        Ok(Loaded { atlas, registrations, evidence, mark })
    }
}
