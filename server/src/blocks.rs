//! A large JSON answer kept between snapshots in blocks of rows, each block as its JSON and its
//! gzip piece ([`Piece`]): an answer made from a kept one takes every block whose rows are the
//! same and writes and deflates only the others, and is sent as the blocks joined (plain, or
//! their pieces as one gzip member). Every grid's stats ([`crate::grid_stats`], blocks of
//! [`crate::grid_stats::BLOCK`] grids) and the month's assessment ([`crate::assessment_kept`], a
//! block per street) are kept so.

use crate::encoded::{Piece, gzip_of};
use bytes::Bytes;
use serde::Serialize;
use std::sync::Arc;

/// One block of rows: the rows, their JSON (each after the answer's first row led by a comma)
/// and that JSON deflated.
#[derive(Debug)]
pub struct Block<R> {
    rows: Vec<R>,
    first: bool,
    json: Bytes,
    gzip: Piece,
}

impl<R: Serialize> Block<R> {
    /// The block of `rows`, the answer's first block when `first` (CPU-bound: about a millisecond
    /// for 100 KB of JSON).
    pub fn new(rows: Vec<R>, first: bool) -> Result<Self, serde_json::Error> {
        let mut json = Vec::with_capacity(rows.len() * 1_536);
        for (i, row) in rows.iter().enumerate() {
            if i > 0 || !first {
                json.push(b',');
            }
            serde_json::to_writer(&mut json, row)?;
        }
        let gzip = Piece::new(&json);
        Ok(Self { rows, first, json: Bytes::from(json), gzip })
    }
}

impl<R> Block<R> {
    /// Its rows.
    pub fn rows(&self) -> &[R] {
        &self.rows
    }

    /// Whether it can stand at `position` of an answer (its leading comma or none).
    pub fn fits_at(&self, position: usize) -> bool {
        self.first == (position == 0)
    }
}

/// A block of an answer being made: one taken from the answer kept, or new rows to write.
#[derive(Debug)]
pub enum Part<R> {
    /// Taken as it is.
    Kept(Arc<Block<R>>),
    /// Rows to write.
    New(Vec<R>),
}

impl<R: PartialEq> Part<R> {
    /// `rows` at `position`: the block `kept` when it holds the same rows and fits there, else
    /// the rows to write.
    pub fn of(rows: Vec<R>, position: usize, kept: Option<&Arc<Block<R>>>) -> Self {
        match kept {
            Some(k) if k.fits_at(position) && k.rows == rows => Part::Kept(k.clone()),
            _ => Part::New(rows),
        }
    }
}

/// An answer: its JSON up to the first row (ending with `[`), the blocks, the JSON after the
/// last row.
#[derive(Debug)]
pub struct Blocks<R> {
    head: Bytes,
    head_gzip: Piece,
    blocks: Vec<Arc<Block<R>>>,
    tail: Bytes,
    written: usize,
}

impl<R: Serialize + Send + Sync> Blocks<R> {
    /// The answer of `parts` in order, each new one written and deflated (on every core) and the
    /// kept ones taken as they are, between `head` and `tail`. Each part holds a row at least
    /// (the commas between rows are the blocks' own).
    pub fn new(head: Bytes, parts: Vec<Part<R>>, tail: Bytes) -> Result<Self, serde_json::Error> {
        use rayon::prelude::*;
        let written = parts.iter().filter(|p| matches!(p, Part::New(_))).count();
        let blocks = parts
            .into_par_iter()
            .enumerate()
            .map(|(i, part)| match part {
                Part::Kept(block) => Ok(block),
                Part::New(rows) => Block::new(rows, i == 0).map(Arc::new),
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { head_gzip: Piece::new(&head), head, blocks, tail, written })
    }
}

impl<R> Blocks<R> {
    /// The blocks, in order.
    pub fn blocks(&self) -> &[Arc<Block<R>>] {
        &self.blocks
    }

    /// How many blocks were written for it rather than taken from the answer it was made from.
    pub fn written(&self) -> usize {
        self.written
    }

    /// The JSON.
    pub fn json(&self) -> Bytes {
        let size = self.head.len() + self.blocks.iter().map(|b| b.json.len()).sum::<usize>() + self.tail.len();
        let mut out = Vec::with_capacity(size);
        out.extend_from_slice(&self.head);
        self.blocks.iter().for_each(|b| out.extend_from_slice(&b.json));
        out.extend_from_slice(&self.tail);
        Bytes::from(out)
    }

    /// The JSON gzipped, joined from the blocks' pieces.
    pub fn gzip(&self) -> Bytes {
        gzip_of(std::iter::once(&self.head_gzip).chain(self.blocks.iter().map(|b| &b.gzip)), &self.tail)
    }
}

/// The JSON of `envelope`, an answer whose last field is its rows, left empty, split where the
/// rows go: up to its `[`, and the `]}` after. `None` when its JSON does not end so.
pub fn around_rows<T: Serialize>(envelope: &T) -> Result<Option<(Bytes, Bytes)>, serde_json::Error> {
    let json = serde_json::to_vec(envelope)?;
    Ok(json.strip_suffix(b"]}").map(|head| (Bytes::copy_from_slice(head), Bytes::from_static(b"]}"))))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::encoded::tests::gunzip;

    fn answer(kept: Option<&Blocks<u32>>, groups: &[Vec<u32>]) -> Blocks<u32> {
        let parts = groups
            .iter()
            .enumerate()
            .map(|(i, rows)| Part::of(rows.clone(), i, kept.and_then(|k| k.blocks().get(i))))
            .collect();
        Blocks::new(Bytes::from_static(br#"{"rows":["#), parts, Bytes::from_static(b"]}")).unwrap()
    }

    #[test]
    fn blocks_taken_or_written_join_into_the_answer_written_whole() {
        let groups = vec![vec![1, 2], vec![3], vec![8], vec![4, 5, 6]];
        let first = answer(None, &groups);
        assert_eq!(first.written(), 4);
        let whole = |g: &[Vec<u32>]| serde_json::to_vec(&serde_json::json!({ "rows": g.concat() })).unwrap();
        assert_eq!(first.json(), whole(&groups));
        assert_eq!(gunzip(&first.gzip()), whole(&groups));
        // One block's rows changed: only it is written; the others are the kept ones.
        let mut changed = groups.clone();
        changed[1] = vec![3, 7];
        let next = answer(Some(&first), &changed);
        assert_eq!(next.written(), 1);
        assert!(Arc::ptr_eq(&next.blocks()[0], &first.blocks()[0]));
        assert_eq!(next.json(), whole(&changed));
        assert_eq!(gunzip(&next.gzip()), whole(&changed));
        // A kept block never stands where its comma would be wrong.
        let moved = vec![groups[1].clone(), groups[0].clone()];
        let parts = vec![
            Part::of(moved[0].clone(), 0, Some(&first.blocks()[1])),
            Part::of(moved[1].clone(), 1, Some(&first.blocks()[0])),
        ];
        assert!(parts.iter().all(|p| matches!(p, Part::New(_))));
        let swapped = Blocks::new(Bytes::from_static(br#"{"rows":["#), parts, Bytes::from_static(b"]}")).unwrap();
        assert_eq!(swapped.json(), whole(&moved));
    }
}
