//! Every grid's KPI row as one answer (`GET /api/stats?level=grid` of today for a scope that sees
//! every grid: the command center's map and tables), kept between snapshots in blocks of grids,
//! each as its JSON and its gzip piece. At scale 20 the answer is 27 MB of JSON for 20,002 grids:
//! writing it and gzipping it whole took about half a second at each request after a write. Made
//! from the answer kept, only the blocks holding a grid whose row changed are written and deflated
//! again (one block for a visit; after a new estimate, those whose estimated rates moved), and the
//! answer is the blocks joined.

use crate::blocks::{Blocks, Part};
use bytes::Bytes;
use rentgrid_analysis::actual_rates::{RatesRow, grid_rows};
use rentgrid_analysis::kpi::{Counts, Targets};
use rentgrid_analysis::unrecorded::Unrecorded;
use rentgrid_geodata::Atlas;
use std::sync::Arc;

/// Grids per block: about 22 KB of JSON. Under a city's load (50 visits a second) the command
/// center asks again every few seconds, after some hundred visits in as many grids: with blocks
/// of 64 grids those touched a quarter of the answer's blocks, with 16 a thirteenth (made after
/// 100 visits at scale 20: 62.8 → 26.3 ms, `--bench grid_stats`), for a gzip 4% larger (8.1
/// against 7.8 MB: each block's deflate starts without the one before as its dictionary).
pub const BLOCK: usize = 16;

/// What an answer is made of: the district's snapshot, its grid counts and the estimate beside
/// them, and the JSON around the rows (the level, month and targets before them, the end after).
#[derive(Debug, Clone)]
pub struct Inputs {
    /// The snapshot.
    pub atlas: Arc<Atlas>,
    /// Its counts per grid id.
    pub counts: Arc<Vec<Counts>>,
    /// The estimate of the unrecorded, when the rows carry one.
    pub unrecorded: Option<Arc<Unrecorded>>,
    /// The KPI targets.
    pub targets: Targets,
    /// The answer's JSON up to its first row (ending with `[`).
    pub head: Bytes,
    /// After its last row.
    pub tail: Bytes,
}

/// Whether two answers' estimates are the same one (both none, or one estimate made once).
fn same(a: Option<&Arc<Unrecorded>>, b: Option<&Arc<Unrecorded>>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => Arc::ptr_eq(a, b),
        _ => false,
    }
}

/// Every grid's rows, in the Atlas's order, as one answer.
#[derive(Debug)]
pub struct EveryGrid {
    inputs: Inputs,
    answer: Blocks<RatesRow>,
}

impl EveryGrid {
    /// The answer of `inputs`, taking from `kept` (an answer of earlier inputs) every block whose
    /// rows are the same. CPU-bound: at scale 20 a few milliseconds when one grid's counts
    /// changed, the whole answer's writing and deflating when nothing can be taken. `None` when
    /// the inputs do not give a row for every grid (counts not of this snapshot).
    pub fn make(kept: Option<&EveryGrid>, inputs: Inputs) -> Result<Option<Self>, serde_json::Error> {
        let grids: Vec<u32> = inputs.atlas.grids().iter().map(|g| g.grid.id).collect();
        let rows_of = |ids: &[u32]| {
            let rows =
                grid_rows(&inputs.atlas, &inputs.counts, inputs.unrecorded.as_deref(), &inputs.targets, ids.to_vec());
            (rows.len() == ids.len()).then_some(rows)
        };
        let kept = kept.filter(|k| {
            k.inputs.atlas.same_places(&inputs.atlas)
                && k.inputs.targets == inputs.targets
                && k.answer.blocks().len() == grids.len().div_ceil(BLOCK)
        });
        let same_estimate = kept.is_some_and(|k| same(k.inputs.unrecorded.as_ref(), inputs.unrecorded.as_ref()));
        // Each block kept, or its new rows.
        let parts: Option<Vec<Part<RatesRow>>> = grids
            .chunks(BLOCK)
            .enumerate()
            .map(|(i, ids)| {
                let Some(k) = kept else { return rows_of(ids).map(Part::New) };
                let block = &k.answer.blocks()[i];
                let counts_same = ids.iter().all(|&g| {
                    let at = g as usize;
                    k.inputs.counts.get(at).is_some_and(|c| inputs.counts.get(at) == Some(c))
                });
                if same_estimate && counts_same {
                    return Some(Part::Kept(block.clone()));
                }
                Some(Part::of(rows_of(ids)?, i, Some(block)))
            })
            .collect();
        let Some(parts) = parts else { return Ok(None) };
        let answer = Blocks::new(inputs.head.clone(), parts, inputs.tail.clone())?;
        Ok(Some(Self { inputs, answer }))
    }

    /// What it was made of.
    pub fn inputs(&self) -> &Inputs {
        &self.inputs
    }

    /// The snapshot version it reflects.
    pub fn version(&self) -> u64 {
        self.inputs.atlas.version()
    }

    /// Whether it is the answer of `atlas` with the estimate `unrecorded`.
    pub fn answers(&self, atlas: &Atlas, unrecorded: Option<&Arc<Unrecorded>>) -> bool {
        self.version() == atlas.version()
            && atlas.same_places(&self.inputs.atlas)
            && same(self.inputs.unrecorded.as_ref(), unrecorded)
    }

    /// How many blocks were written for it rather than taken from the answer it was made from.
    pub fn written(&self) -> usize {
        self.answer.written()
    }

    /// The JSON.
    pub fn json(&self) -> Bytes {
        self.answer.json()
    }

    /// The JSON gzipped, joined from the blocks' pieces.
    pub fn gzip(&self) -> Bytes {
        self.answer.gzip()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::encoded::tests::gunzip;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};
    use rentgrid_geodata::demo::{self, DemoOptions};
    use rentgrid_geodata::{AtlasInput, StatsDelta};

    /// The answer written whole, as the handler wrote it before: the head, every row, the tail.
    fn whole(i: &Inputs) -> Vec<u8> {
        let ids = i.atlas.grids().iter().map(|g| g.grid.id);
        let rows = grid_rows(&i.atlas, &i.counts, i.unrecorded.as_deref(), &i.targets, ids);
        let rows = serde_json::to_vec(&rows).unwrap();
        [&i.head[..], &rows[1..rows.len() - 1], &i.tail[..]].concat()
    }

    fn inputs(atlas: Atlas, unrecorded: Option<Arc<Unrecorded>>) -> Inputs {
        let counts = Arc::new(rentgrid_analysis::kpi::grid_counts(&atlas));
        Inputs {
            atlas: Arc::new(atlas),
            counts,
            unrecorded,
            targets: Targets::default(),
            head: Bytes::from_static(br#"{"level":"grid","rows":["#),
            tail: Bytes::from_static(b"]}"),
        }
    }

    #[test]
    fn an_answer_made_from_the_one_kept_equals_one_made_whole_after_random_writes() {
        let city = demo::generate(&DemoOptions { scale: 0.1, ..Default::default() }, &mut |_, _| {}).unwrap();
        let mut atlas = Atlas::build(AtlasInput::from_city(&city)).unwrap();
        assert!(atlas.grids().len() > 2 * BLOCK, "several blocks: {}", atlas.grids().len());
        let as_of = time::macros::date!(2026 - 06 - 30);
        let none =
            rentgrid_analysis::candidates::Evidence { visits: &[], sweeps: &[], spot_checks: &[], tips: &[], as_of };
        let estimate = Arc::new(rentgrid_analysis::unrecorded::estimate(&atlas, &none, &Default::default()).unwrap());
        for seed in [1u64, 2, 3] {
            let mut rng = StdRng::seed_from_u64(seed);
            let mut unrecorded = Some(estimate.clone());
            let mut kept = EveryGrid::make(None, inputs(atlas.clone(), unrecorded.clone())).unwrap().unwrap();
            assert_eq!(kept.written(), kept.answer.blocks().len(), "the first answer is written whole");
            for step in 0..12 {
                // A few visits' deltas; now and then a new estimate (some grids' rates moved) or none.
                let n = atlas.buildings().len();
                let deltas: Vec<StatsDelta> = (0..rng.random_range(1..4))
                    .map(|_| StatsDelta {
                        building_id: atlas.buildings()[rng.random_range(0..n)].id,
                        persons: rng.random_range(1..5),
                        persons_registered: rng.random_range(0..2),
                        ..StatsDelta::default()
                    })
                    .collect();
                atlas = atlas.with_deltas(&deltas);
                match step % 4 {
                    1 => {
                        let mut moved = (*estimate).clone();
                        let g = rng.random_range(0..moved.grids.len());
                        moved.grids[g].persons += 1.5;
                        unrecorded = Some(Arc::new(moved));
                    }
                    3 => unrecorded = None,
                    _ => {}
                }
                let next = inputs(atlas.clone(), unrecorded.clone());
                let made = EveryGrid::make(Some(&kept), next.clone()).unwrap().unwrap();
                let want = whole(&next);
                assert_eq!(made.json(), want, "seed {seed}, step {step}: plain");
                assert_eq!(gunzip(&made.gzip()), want, "seed {seed}, step {step}: gzipped");
                assert!(made.answers(&next.atlas, next.unrecorded.as_ref()));
                if step % 4 == 0 || step % 4 == 2 {
                    assert!(made.written() <= deltas.len(), "only the blocks of the grids written: {}", made.written());
                }
                kept = made;
            }
        }
    }

    #[test]
    fn counts_of_another_snapshot_give_no_answer() {
        let city = demo::generate(&DemoOptions { scale: 0.02, ..Default::default() }, &mut |_, _| {}).unwrap();
        let atlas = Atlas::build(AtlasInput::from_city(&city)).unwrap();
        let mut i = inputs(atlas, None);
        i.counts = Arc::new(Vec::new());
        assert!(EveryGrid::make(None, i).unwrap().is_none());
    }
}
