//! The page allocator as far as the model needs it: kernel (GFP_KERNEL) allocations for the
//! memmap and vmemmap page tables charged to zones in zonelist order, and freed back.

use crate::error::{MmError, Result};
use crate::machine::{Faults, Machine};
use crate::zone::Node;
use arch::ZoneType;

/// The zones a GFP_KERNEL allocation may use, preferred first (build_zonelists: the highest
/// kernel zone first, never ZONE_MOVABLE).
const KERNEL_ZONES: [ZoneType; 3] = [ZoneType::Normal, ZoneType::Dma32, ZoneType::Dma];

/// The nodes in the order an allocation on `nid` falls back to them.
fn node_order(nodes: &[Node], nid: u16) -> impl Iterator<Item = usize> + '_ {
    let n = nodes.len();
    let first = (nid as usize).min(n.saturating_sub(1));
    (0..n)
        .map(move |i| (first + i) % n)
        .filter(move |&i| nodes[i].online)
}

/// Pages a GFP_KERNEL allocation may take from a zone: it must leave the min watermark and
/// the lowmem reserve for ZONE_NORMAL allocations free (zone_watermark_ok() with
/// ALLOC_WMARK_MIN, as vmemmap_alloc_block()'s GFP_KERNEL | __GFP_RETRY_MAYFAIL gets), and
/// cannot take CMA pageblocks.
fn kernel_room(node: &Node, z: &crate::zone::Zone) -> u64 {
    let normal_idx = node
        .zones
        .iter()
        .position(|x| x.ztype == ZoneType::Normal)
        .unwrap_or(0);
    // Free CMA pageblocks serve movable allocations only (the model's CMA pages are free).
    z.free_pages()
        .saturating_sub(z.free_cma_pages())
        .saturating_sub(z.wmark_min + z.lowmem_reserve[normal_idx])
}

/// Free pages a GFP_KERNEL allocation could take on any node.
pub(crate) fn kernel_free(nodes: &[Node]) -> u64 {
    nodes
        .iter()
        .filter(|n| n.online)
        .flat_map(|n| {
            n.zones
                .iter()
                .filter(|z| z.ztype.is_kernel_zone())
                .map(move |z| kernel_room(n, z))
        })
        .sum()
}

/// Where the pages of one allocation came from: (node, zone, pages).
pub(crate) type Placement = Vec<(u16, ZoneType, u64)>;

/// Charge `pages` of GFP_KERNEL memory for node `nid`, falling back to lower zones and other
/// nodes. Returns where they came from, or None, changing nothing, when there is not enough.
pub(crate) fn charge_kernel(nodes: &mut [Node], nid: u16, pages: u64) -> Option<Placement> {
    if pages == 0 {
        return Some(Vec::new());
    }
    if kernel_free(nodes) < pages {
        return None;
    }
    let order: Vec<usize> = node_order(nodes, nid).collect();
    let mut left = pages;
    let mut placed = Vec::new();
    for ni in order {
        for zt in KERNEL_ZONES {
            let Some(z) = nodes[ni].zone(zt) else {
                continue;
            };
            let take = kernel_room(&nodes[ni], z).min(left);
            if take == 0 {
                continue;
            }
            let node_id = nodes[ni].nid;
            let Some(z) = nodes[ni].zone_mut(zt) else {
                continue;
            };
            z.kernel_pages += take;
            placed.push((node_id, zt, take));
            left -= take;
            if left == 0 {
                return Some(placed);
            }
        }
    }
    (left == 0).then_some(placed)
}

/// How the reason of a kernel allocation that found the zones short ends, and what a
/// vmemmap population that found them short says (sparse.rs).
const SHORT: &str = "free in the kernel zones";
const VMEMMAP_SHORT: &str = "vmemmap alloc failure: order:";
const TABLES_SHORT: &str = "vmemmap page-table pages";

impl Machine {
    /// Free pages a GFP_KERNEL allocation could take.
    pub fn kernel_free_pages(&self) -> u64 {
        kernel_free(&self.state.nodes)
    }

    /// Allocate `pages` for the kernel on node `nid` (falling back to other nodes and lower
    /// zones) and charge them. -ENOMEM, changing nothing, if there is not enough.
    pub(crate) fn alloc_kernel_pages(&mut self, nid: u16, pages: u64, what: &str) -> Result<()> {
        if let Some(placed) = charge_kernel(&mut self.state.nodes, nid, pages) {
            self.events.alloc_placed(&placed);
            return Ok(());
        }
        Err(MmError::NoMemory(format!(
            "{what}: {pages} pages needed, {} {SHORT}",
            self.kernel_free_pages()
        )))
    }

    /// When `err` is a kernel allocation that found the zones short, say what the whole
    /// operation needs (measured by running `op` on a copy whose kernel zones have room for
    /// anything), what was free, and what would do instead. Other errors pass unchanged.
    pub(crate) fn explain_short<R>(
        &self,
        err: MmError,
        what: &str,
        instead: &str,
        op: impl FnOnce(&mut Machine) -> Result<R>,
    ) -> MmError {
        let MmError::NoMemory(why) = &err else {
            return err;
        };
        if !why.ends_with(SHORT) && !why.contains(VMEMMAP_SHORT) && !why.contains(TABLES_SHORT) {
            return err;
        }
        // The copy's kernel zones get room for anything: what they hand out is the need.
        const ROOM: u64 = 1 << 36;
        let mut twin = self.clone();
        twin.faults = Faults::default();
        let kernel = |m: &Machine| -> u64 {
            m.state
                .nodes
                .iter()
                .flat_map(|n| &n.zones)
                .map(|z| z.kernel_pages)
                .sum()
        };
        for z in twin.state.nodes.iter_mut().flat_map(|n| n.zones.iter_mut()) {
            if KERNEL_ZONES.contains(&z.ztype) && z.managed_pages > 0 {
                z.managed_pages += ROOM;
            }
        }
        let before = kernel(&twin);
        let Ok(_) = op(&mut twin) else {
            return err;
        };
        let need = kernel(&twin) - before;
        let ps = self.u.g.page_size;
        MmError::NoMemory(format!(
            "{what} needs {} ({need} pages) of memmap and vmemmap page tables from the kernel \
             zones, which have {} free above their watermarks; {instead} (failed at: {why})",
            arch::approx(need * ps),
            arch::approx(self.kernel_free_pages() * ps),
        ))
    }

    /// Give back `pages` of kernel allocations made for node `nid`: the most recently
    /// filled zones (the lowest) first.
    pub(crate) fn free_kernel_pages(&mut self, nid: u16, pages: u64) {
        self.free_kernel_pages_to(nid, pages, None);
    }

    /// Give back `pages` of kernel allocations, to zone `hint` (where they were taken from)
    /// first.
    pub(crate) fn free_kernel_pages_to(
        &mut self,
        nid: u16,
        pages: u64,
        hint: Option<(u16, ZoneType)>,
    ) {
        self.events.free(pages);
        let mut left = pages;
        if let Some((hn, hz)) = hint {
            if let Some(z) = self
                .state
                .nodes
                .get_mut(hn as usize)
                .and_then(|n| n.zone_mut(hz))
            {
                let give = z.kernel_pages.min(left);
                z.kernel_pages -= give;
                left -= give;
            }
        }
        let order: Vec<usize> = node_order(&self.state.nodes, nid).collect();
        for ni in order {
            for zt in KERNEL_ZONES.iter().rev() {
                let Some(z) = self.state.nodes[ni].zone_mut(*zt) else {
                    continue;
                };
                let give = z.kernel_pages.min(left);
                z.kernel_pages -= give;
                left -= give;
                if left == 0 {
                    return;
                }
            }
        }
        debug_assert_eq!(left, 0, "freed more kernel pages than were allocated");
    }

    /// Pages memblock gave out at boot come back to the page allocator
    /// (free_reserved_page()): they become managed pages of the zone that holds them.
    pub(crate) fn free_boot_pages(&mut self, nid: u16, pages: u64) {
        if pages == 0 {
            return;
        }
        // free_reserved_page() hands each to the buddy.
        self.events.free(pages);
        let node = &mut self.state.nodes[nid as usize];
        let zt = node.boot_reserve_zone;
        if let Some(z) = zt.and_then(|t| node.zone_mut(t)) {
            z.managed_pages += pages;
            z.managed_early_pages += pages;
        }
    }
}
