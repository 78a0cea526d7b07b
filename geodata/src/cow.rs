//! A vector split into shared chunks: cloning it is cheap, and changing one element copies
//! only that element's chunk. Atlas snapshots use it so that a write does not copy the city.

use std::sync::Arc;

const CHUNK: usize = 1024;

/// A copy-on-write vector of `T` in chunks of 1024.
#[derive(Debug, Clone, Default)]
pub struct CowVec<T> {
    chunks: Vec<Arc<Vec<T>>>,
    len: usize,
}

impl<T: Clone> CowVec<T> {
    /// Builds from a vector.
    pub fn from_vec(items: Vec<T>) -> Self {
        let len = items.len();
        let mut chunks = Vec::with_capacity(len.div_ceil(CHUNK));
        let mut items = items.into_iter().peekable();
        while items.peek().is_some() {
            chunks.push(Arc::new(items.by_ref().take(CHUNK).collect()));
        }
        Self { chunks, len }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The element at `i`, if any.
    pub fn get(&self, i: usize) -> Option<&T> {
        self.chunks.get(i / CHUNK).and_then(|c| c.get(i % CHUNK))
    }

    /// A mutable reference to the element at `i`, copying its chunk if it is shared.
    pub fn get_mut(&mut self, i: usize) -> Option<&mut T> {
        self.chunks.get_mut(i / CHUNK).and_then(|c| Arc::make_mut(c).get_mut(i % CHUNK))
    }

    /// Appends an element.
    pub fn push(&mut self, item: T) {
        match self.chunks.last_mut() {
            Some(last) if last.len() < CHUNK => Arc::make_mut(last).push(item),
            _ => self.chunks.push(Arc::new(vec![item])),
        }
        self.len += 1;
    }

    /// Iterates in order.
    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.chunks.iter().flat_map(|c| c.iter())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_copies_one_chunk_and_leaves_the_original_alone() {
        let a = CowVec::from_vec((0..3000).collect::<Vec<u32>>());
        let mut b = a.clone();
        *b.get_mut(2500).unwrap() = 7;
        b.push(99);
        assert_eq!(a.get(2500), Some(&2500));
        assert_eq!(b.get(2500), Some(&7));
        assert_eq!((a.len(), b.len()), (3000, 3001));
        assert!(Arc::ptr_eq(&a.chunks[0], &b.chunks[0]));
        assert!(!Arc::ptr_eq(&a.chunks[2], &b.chunks[2]));
        assert_eq!(b.iter().count(), 3001);
        assert_eq!(b.get(3000), Some(&99));
    }
}
