//! The memory block devices by id (drivers/base/memory.c keeps them in an xarray): a
//! two-level table indexed by block id, so that finding a block costs two array reads
//! however many there are, with the ordered iteration the views need.

use crate::memory_block::MemoryBlock;
use crate::units::BlockId;
use std::ops::{Bound, RangeBounds};

/// Blocks per leaf of the table.
const LEAF: u64 = 256;

#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
struct Leaf {
    /// Slots up to the highest one filled so far; the capacity is the whole leaf, allocated
    /// once but written only as blocks arrive (a 60 TiB add fills half a million slots).
    slots: Vec<Option<MemoryBlock>>,
    used: u32,
}

/// Memory blocks by id.
#[derive(Debug, Clone, Default)]
pub struct BlockTable {
    leaves: Vec<Option<Box<Leaf>>>,
    len: usize,
}

impl PartialEq for BlockTable {
    fn eq(&self, other: &Self) -> bool {
        self.len == other.len && self.iter().eq(other.iter())
    }
}

impl Eq for BlockTable {}

impl std::hash::Hash for BlockTable {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.len.hash(h);
        for (_, b) in self.iter() {
            b.hash(h);
        }
    }
}

fn split(id: BlockId) -> (usize, usize) {
    ((id.0 / LEAF) as usize, (id.0 % LEAF) as usize)
}

impl BlockTable {
    pub fn new() -> BlockTable {
        BlockTable::default()
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The first id in `[lo, hi)` with no block, if any. A full leaf is known full by its
    /// count, so a range of present blocks costs a look per 256 of them.
    pub fn first_missing(&self, lo: BlockId, hi: BlockId) -> Option<BlockId> {
        let mut id = lo.0;
        while id < hi.0 {
            let (l, s) = split(BlockId(id));
            let leaf_end = (id - s as u64 + LEAF).min(hi.0);
            match self.leaves.get(l).and_then(|x| x.as_deref()) {
                None => return Some(BlockId(id)),
                Some(leaf) if leaf.used as u64 == LEAF => {}
                Some(leaf) => {
                    let upto = (leaf_end - id) as usize;
                    let slots = leaf.slots.get(s..).unwrap_or(&[]);
                    match slots.iter().take(upto).position(Option::is_none) {
                        Some(k) => return Some(BlockId(id + k as u64)),
                        None if slots.len() < upto => {
                            return Some(BlockId(id + slots.len() as u64))
                        }
                        None => {}
                    }
                }
            }
            id = leaf_end;
        }
        None
    }

    pub fn get(&self, id: &BlockId) -> Option<&MemoryBlock> {
        let (l, s) = split(*id);
        self.leaves.get(l)?.as_ref()?.slots.get(s)?.as_ref()
    }

    pub fn get_mut(&mut self, id: &BlockId) -> Option<&mut MemoryBlock> {
        let (l, s) = split(*id);
        self.leaves.get_mut(l)?.as_mut()?.slots.get_mut(s)?.as_mut()
    }

    pub fn contains_key(&self, id: &BlockId) -> bool {
        self.get(id).is_some()
    }

    /// Insert `b` (whose `id` is its key); returns the block it replaced.
    pub fn insert(&mut self, id: BlockId, b: MemoryBlock) -> Option<MemoryBlock> {
        debug_assert_eq!(id, b.id);
        let (l, s) = split(id);
        if self.leaves.len() <= l {
            self.leaves.resize_with(l + 1, || None);
        }
        let leaf = self.leaves[l].get_or_insert_with(|| {
            Box::new(Leaf {
                slots: Vec::with_capacity(LEAF as usize),
                used: 0,
            })
        });
        // Blocks mostly arrive in order: append the whole slot in one write (filling a
        // gap and then replacing it would read fresh memory before writing it, a second
        // page fault on every page).
        if leaf.slots.len() == s {
            leaf.slots.push(Some(b));
            leaf.used += 1;
            self.len += 1;
            return None;
        }
        if leaf.slots.len() < s {
            leaf.slots.resize_with(s + 1, || None);
        }
        let old = leaf.slots[s].replace(b);
        if old.is_none() {
            leaf.used += 1;
            self.len += 1;
        }
        old
    }

    pub fn remove(&mut self, id: &BlockId) -> Option<MemoryBlock> {
        let (l, s) = split(*id);
        let leaf = self.leaves.get_mut(l)?.as_mut()?;
        let old = leaf.slots.get_mut(s)?.take();
        if old.is_some() {
            leaf.used -= 1;
            self.len -= 1;
            if leaf.used == 0 {
                self.leaves[l] = None;
                while matches!(self.leaves.last(), Some(None)) {
                    self.leaves.pop();
                }
            }
        }
        old
    }

    pub fn extend(&mut self, it: impl IntoIterator<Item = (BlockId, MemoryBlock)>) {
        for (k, v) in it {
            self.insert(k, v);
        }
    }

    /// Blocks with ids in `r`, in order.
    pub fn range(
        &self,
        r: impl RangeBounds<BlockId>,
    ) -> impl DoubleEndedIterator<Item = (&BlockId, &MemoryBlock)> + '_ {
        let lo = match r.start_bound() {
            Bound::Included(b) => b.0,
            Bound::Excluded(b) => b.0.saturating_add(1),
            Bound::Unbounded => 0,
        };
        let hi = match r.end_bound() {
            Bound::Included(b) => b.0.saturating_add(1),
            Bound::Excluded(b) => b.0,
            Bound::Unbounded => u64::MAX,
        };
        let first_leaf = (lo / LEAF) as usize;
        let last_leaf = ((hi.saturating_sub(1) / LEAF) as usize).min(self.leaves.len());
        self.leaves
            .get(first_leaf..(last_leaf + 1).min(self.leaves.len()).max(first_leaf))
            .unwrap_or(&[])
            .iter()
            .flatten()
            .flat_map(|leaf| leaf.slots.iter().flatten())
            .filter(move |b| b.id.0 >= lo && b.id.0 < hi)
            .map(|b| (&b.id, b))
    }

    /// Blocks with ids in `[lo, hi)`, in order, to change.
    pub fn range_mut(
        &mut self,
        lo: BlockId,
        hi: BlockId,
    ) -> impl Iterator<Item = &mut MemoryBlock> {
        let (lo, hi) = (lo.0, hi.0);
        let first_leaf = ((lo / LEAF) as usize).min(self.leaves.len());
        let end_leaf = (hi.div_ceil(LEAF) as usize).clamp(first_leaf, self.leaves.len());
        self.leaves[first_leaf..end_leaf]
            .iter_mut()
            .flatten()
            .flat_map(|leaf| leaf.slots.iter_mut().flatten())
            .filter(move |b| b.id.0 >= lo && b.id.0 < hi)
    }

    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&BlockId, &MemoryBlock)> + '_ {
        self.range(..)
    }

    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &BlockId> + '_ {
        self.iter().map(|(k, _)| k)
    }

    pub fn values(&self) -> impl DoubleEndedIterator<Item = &MemoryBlock> + '_ {
        self.iter().map(|(_, v)| v)
    }
}

/// `blocks[&id]` is for ids the caller has just found in the table (blocks_in(), the
/// sysfs path lookup, a group's or device's own block list); anything that comes from
/// outside goes through [`BlockTable::get`] and gets ENODEV/ENOENT.
impl std::ops::Index<&BlockId> for BlockTable {
    type Output = MemoryBlock;

    fn index(&self, id: &BlockId) -> &MemoryBlock {
        self.get(id)
            .unwrap_or_else(|| panic!("no memory block {}", id.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory_block::BlockState;

    fn block(id: u64) -> MemoryBlock {
        MemoryBlock {
            id: BlockId(id),
            state: BlockState::Offline,
            nid: 0,
            zone: None,
            altmap: None,
            early: false,
            ram_pages: 0,
            reserved_pages: 0,
            fake_offline_pages: 0,
            unmovable_pages: 0,
            movable_pages: 0,
            hugetlb_pages: 0,
            group: None,
            inaccessible: false,
            resource: "System RAM",
        }
    }

    #[test]
    fn ordered_like_a_map() {
        let mut t = BlockTable::new();
        for id in [700u64, 3, 255, 256, 100_000, 4] {
            t.insert(BlockId(id), block(id));
        }
        assert_eq!(t.len(), 6);
        let keys: Vec<u64> = t.keys().map(|k| k.0).collect();
        assert_eq!(keys, vec![3, 4, 255, 256, 700, 100_000]);
        let r: Vec<u64> = t
            .range(BlockId(4)..BlockId(701))
            .map(|(k, _)| k.0)
            .collect();
        assert_eq!(r, vec![4, 255, 256, 700]);
        let back: Vec<u64> = t.range(..=BlockId(256)).rev().map(|(k, _)| k.0).collect();
        assert_eq!(back, vec![256, 255, 4, 3]);
        assert!(t.remove(&BlockId(100_000)).is_some());
        assert!(t.remove(&BlockId(100_000)).is_none());
        assert_eq!(t.leaves.len(), 3, "empty trailing leaves are dropped");
        assert_eq!(t[&BlockId(255)].id, BlockId(255));
        assert!(t.get(&BlockId(5)).is_none());
        assert!(t.get(&BlockId(1 << 40)).is_none());
    }

    #[test]
    fn first_missing_agrees_with_a_scan() {
        let mut t = BlockTable::new();
        // Leaf 0 full, leaf 1 with a hole at 300, leaf 2 filled up to 598 (in reverse, so
        // the slots are not appended), then nothing.
        for id in (0..599u64).rev().filter(|&id| id != 300) {
            t.insert(BlockId(id), block(id));
        }
        let scan = |lo: u64, hi: u64| (lo..hi).find(|&id| t.get(&BlockId(id)).is_none());
        for (lo, hi) in [
            (0, 256),
            (0, 300),
            (0, 301),
            (10, 700),
            (301, 599),
            (301, 600),
            (598, 599),
            (599, 599),
            (700, 900),
        ] {
            let got = t.first_missing(BlockId(lo), BlockId(hi)).map(|b| b.0);
            assert_eq!(got, scan(lo, hi), "[{lo}, {hi})");
        }
    }
}
