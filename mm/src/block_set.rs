//! A set of memory block ids kept as runs of consecutive blocks: what a driver (virtio-mem,
//! a DIMM, DLPAR) holds. A device's blocks come in runs, so copying the set (every
//! transaction saves it) costs its runs, not its blocks.

use crate::units::BlockId;
use rangemap::RangeSet;

/// Memory block ids, as runs.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct BlockSet {
    runs: RangeSet<u64>,
    len: u64,
}

impl BlockSet {
    pub fn new() -> BlockSet {
        BlockSet::default()
    }

    pub fn insert(&mut self, b: BlockId) {
        if !self.contains(b) {
            self.runs.insert(b.0..b.0 + 1);
            self.len += 1;
        }
    }

    pub fn remove(&mut self, b: BlockId) -> bool {
        if !self.contains(b) {
            return false;
        }
        self.runs.remove(b.0..b.0 + 1);
        self.len -= 1;
        true
    }

    pub fn contains(&self, b: BlockId) -> bool {
        self.runs.contains(&b.0)
    }

    /// How many blocks.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Every block, lowest first.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = BlockId> + '_ {
        self.runs.iter().flat_map(|r| r.clone().map(BlockId))
    }

    /// The runs `[first, end)`, lowest first.
    pub fn runs(&self) -> impl DoubleEndedIterator<Item = std::ops::Range<u64>> + '_ {
        self.runs.iter().cloned()
    }
}

impl Extend<BlockId> for BlockSet {
    fn extend<I: IntoIterator<Item = BlockId>>(&mut self, it: I) {
        for b in it {
            self.insert(b);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_and_members() {
        let mut s = BlockSet::new();
        s.extend((10..20).map(BlockId));
        s.insert(BlockId(30));
        s.insert(BlockId(15));
        assert_eq!(s.len(), 11);
        assert_eq!(s.runs().collect::<Vec<_>>(), vec![10..20, 30..31]);
        assert!(s.remove(BlockId(12)));
        assert!(!s.remove(BlockId(12)));
        assert_eq!(s.len(), 10);
        assert_eq!(s.runs().count(), 3);
        assert_eq!(s.iter().next_back(), Some(BlockId(30)));
        assert_eq!(
            s.iter().take(3).collect::<Vec<_>>(),
            vec![BlockId(10), BlockId(11), BlockId(13)]
        );
        assert!(s.contains(BlockId(19)) && !s.contains(BlockId(20)));
    }
}
