//! struct memory_block (include/linux/memory.h, drivers/base/memory.c): the unit user space
//! onlines and offlines, with the altmap memmap_on_memory embeds in it.

use crate::altmap::VmemAltmap;
use crate::units::BlockId;
use arch::ZoneType;

/// MEM_ONLINE / MEM_OFFLINE / MEM_GOING_OFFLINE.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BlockState {
    Online,
    Offline,
    GoingOffline,
}

impl BlockState {
    /// state_show().
    pub fn name(self) -> &'static str {
        match self {
            BlockState::Online => "online",
            BlockState::Offline => "offline",
            BlockState::GoingOffline => "going-offline",
        }
    }
}

/// mem->altmap as a block keeps it: a memmap_on_memory altmap always spans its block, reserves
/// nothing and is inaccessible when the block is, so only its counts are stored (a block is
/// one of half a million; see [`MemoryBlock::vmem_altmap`] for the whole struct).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BlockAltmap {
    /// Pfns at the start of the block for its memmap (vmem_altmap.free).
    pub free: u32,
    /// Pfns handed out.
    pub alloc: u32,
    /// Pfns skipped to align allocations.
    pub align: u32,
}

impl BlockAltmap {
    /// The counts of a block's altmap (which fit: a block holds far fewer than 2^32 pages).
    pub fn of(a: &VmemAltmap) -> BlockAltmap {
        let small = |v: u64| {
            debug_assert!(v <= u64::from(u32::MAX));
            v.min(u64::from(u32::MAX)) as u32
        };
        BlockAltmap {
            free: small(a.free),
            alloc: small(a.alloc),
            align: small(a.align),
        }
    }
}

/// One memory block device.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MemoryBlock {
    pub id: BlockId,
    pub state: BlockState,
    pub nid: u16,
    /// mem->zone: the single zone of an online block; None for a boot block spanning several
    /// zones (it can never be offlined) and for offline blocks.
    pub zone: Option<ZoneType>,
    /// mem->altmap: the memmap_on_memory altmap whose `free` pages hold this block's memmap.
    pub altmap: Option<BlockAltmap>,
    /// Created at boot (add_boot_memory_block) rather than by hot-add.
    pub early: bool,
    /// Pages of the block that are System RAM (boot blocks can have holes).
    pub ram_pages: u64,
    /// Pages memblock reserved inside this boot block (the boot memmap and page tables sit
    /// at the top of memory): PageReserved pages make the block impossible to isolate.
    pub reserved_pages: u64,
    /// Pages a virtio-mem device has not plugged (or has unplugged) inside this block:
    /// PageOffline, never given to the buddy when the block is onlined.
    pub fake_offline_pages: u64,
    /// Pages scripts marked as unmovable kernel allocations in this block.
    pub unmovable_pages: u64,
    /// Pages scripts marked as movable (user) allocations in this block.
    pub movable_pages: u64,
    /// Pages of this block in HugeTLB pages (a gigantic page counts in every block it
    /// covers).
    pub hugetlb_pages: u64,
    /// The memory group (a virtio-mem device or a static DIMM) this block belongs to.
    pub group: Option<u32>,
    /// The memory is inaccessible until onlined (s390 MHP_OFFLINE_INACCESSIBLE); its memmap
    /// on the altmap is initialised in MEM_PREPARE_ONLINE.
    pub inaccessible: bool,
    /// The resource name it was added under ("System RAM", "System RAM (kmem)", ...).
    pub resource: &'static str,
}

impl MemoryBlock {
    /// A copy without the altmap (plain data, no allocation), with nr_vmemmap_pages(): what
    /// onlining and offlining read while they change the block.
    pub(crate) fn without_altmap(&self) -> (MemoryBlock, u64) {
        (
            MemoryBlock {
                altmap: None,
                ..*self
            },
            self.nr_vmemmap_pages(),
        )
    }

    /// The number of memmap pages the block hosts itself (altmap->free), 0 without an altmap.
    pub fn nr_vmemmap_pages(&self) -> u64 {
        self.altmap.map_or(0, |a| u64::from(a.free))
    }

    /// mem->altmap in full, for blocks of `pages_per_block` pages.
    pub fn vmem_altmap(&self, pages_per_block: u64) -> Option<VmemAltmap> {
        let a = self.altmap?;
        let base_pfn = self.id.0 * pages_per_block;
        Some(VmemAltmap {
            base_pfn,
            end_pfn: base_pfn + pages_per_block - 1,
            reserve: 0,
            free: a.free.into(),
            align: a.align.into(),
            alloc: a.alloc.into(),
            inaccessible: self.inaccessible,
        })
    }

    /// Pages the block gives to the buddy allocator when online.
    pub fn usable_pages(&self) -> u64 {
        self.ram_pages - self.nr_vmemmap_pages() - self.reserved_pages - self.fake_offline_pages
    }

    /// Usable pages nothing the model tracks has taken (script allocations, HugeTLB).
    pub fn free_pages(&self) -> u64 {
        self.usable_pages()
            .saturating_sub(self.unmovable_pages + self.movable_pages + self.hugetlb_pages)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_block_stays_small() {
        // One per 128 MiB on x86_64: 60 TiB hot-added is half a million of them.
        let size = std::mem::size_of::<super::MemoryBlock>();
        assert!(size <= 112, "MemoryBlock is {size} bytes");
    }
}
