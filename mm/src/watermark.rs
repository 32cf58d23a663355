//! Zone watermarks and lowmem reserves (mm/page_alloc.c init_per_zone_wmark_min,
//! calculate_min_free_kbytes, __setup_per_zone_wmarks, setup_per_zone_lowmem_reserve),
//! recomputed at boot and whenever memory goes online or offline.

use crate::machine::Machine;
use arch::ZoneType;

/// watermark_scale_factor's default (10 = 0.1% of a zone).
const WATERMARK_SCALE_FACTOR: u64 = 10;
/// SWAP_CLUSTER_MAX.
const SWAP_CLUSTER_MAX: u64 = 32;

/// sysctl_lowmem_reserve_ratio, as a shift (every default ratio is a power of two: 256 for
/// DMA and DMA32, 32 for Normal); None for 0 (Movable, Device: no reserve).
fn lowmem_reserve_shift(t: ZoneType) -> Option<u32> {
    match t {
        ZoneType::Dma | ZoneType::Dma32 => Some(256u64.trailing_zeros()),
        ZoneType::Normal => Some(32u64.trailing_zeros()),
        ZoneType::Movable | ZoneType::Device => None,
    }
}

/// calculate_min_free_kbytes()'s clamp(int_sqrt(x), 128, 262144), without the square root
/// when the clamp decides.
fn clamped_sqrt(x: u64) -> u64 {
    const LO: u64 = 128;
    const HI: u64 = 262144;
    if x >= HI * HI {
        HI
    } else if x < LO * LO {
        LO
    } else {
        int_sqrt(x)
    }
}

/// int_sqrt().
fn int_sqrt(x: u64) -> u64 {
    // The hardware square root, corrected to the exact floor (u64::isqrt is slower here).
    let mut r = (x as f64).sqrt() as u64;
    while r.checked_mul(r).is_none_or(|rr| rr > x) {
        r -= 1;
    }
    while (r + 1).checked_mul(r + 1).is_some_and(|rr| rr <= x) {
        r += 1;
    }
    r
}

/// The last inputs and results of the costly steps (a square root and a division per zone),
/// which repeat from one block to the next when a range goes online or offline, and the
/// state of a deferred recomputation (see [`Machine::wmark_batch`]). Changes no result.
#[derive(Debug, Clone, Default)]
pub(crate) struct WmarkMemo {
    sqrt: Memo,
    shares: Vec<((u64, u64), u64)>,
    /// Inside [`Machine::wmark_batch`].
    batch: bool,
    /// Never defer (the reference the tests compare against).
    eager: bool,
    /// A recomputation was deferred and is still owed.
    pending: bool,
    /// Managed pages of every zone, node by node, at the last full recomputation (ZONE_MOVABLE's
    /// entries are not compared).
    managed: Vec<u64>,
    /// Debug builds: managed pages of every zone at the last deferred call, which the owed
    /// call must find unchanged.
    #[cfg(debug_assertions)]
    deferred: Vec<u64>,
}

impl WmarkMemo {
    /// After a failed transaction put the zones back: nothing is owed, and the next call is
    /// made in full.
    pub(crate) fn reset(&mut self) {
        self.pending = false;
        self.managed.clear();
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct Memo {
    arg: Option<u64>,
    value: u64,
}

impl Memo {
    fn get(&mut self, arg: u64, f: impl Fn(u64) -> u64) -> u64 {
        if self.arg != Some(arg) {
            self.arg = Some(arg);
            self.value = f(arg);
        }
        self.value
    }
}

impl WmarkMemo {
    /// `num / den` (0 when `den` is 0), remembered in `slot`.
    fn share(&mut self, slot: usize, num: u64, den: u64) -> u64 {
        if self.shares.len() <= slot {
            self.shares.resize(slot + 1, ((0, 0), 0));
        }
        let (key, value) = &mut self.shares[slot];
        if *key != (num, den) {
            *key = (num, den);
            *value = num.checked_div(den).unwrap_or(0);
        }
        *value
    }
}

impl Machine {
    /// Run `f`, a range operation that onlines or offlines block after block, calling
    /// init_per_zone_wmark_min() after each as the kernel does. Within it, a call may be
    /// deferred when it is settled (see `wmark_settled`): all it would change then are
    /// ZONE_MOVABLE's watermarks and the lowmem reserves held against ZONE_MOVABLE
    /// allocations, which depend only on the zones as they are, so the one call owed at the
    /// end writes what the last of the deferred calls would have. The kernel zones'
    /// watermarks, which the next call reads back through nr_free_buffer_pages(), and the
    /// lowmem reserve a kernel allocation checks are exact throughout.
    pub(crate) fn wmark_batch<R>(&mut self, f: impl FnOnce(&mut Machine) -> R) -> R {
        let outer = std::mem::replace(&mut self.wmark_memo.batch, true);
        let r = f(self);
        self.wmark_memo.batch = outer;
        if !outer {
            self.wmark_flush();
        }
        r
    }

    /// Make a deferred recomputation now (before a transaction saves the zones, and at the
    /// end of a batch).
    pub(crate) fn wmark_flush(&mut self) {
        if std::mem::take(&mut self.wmark_memo.pending) {
            // The memo's snapshot exists only in debug builds.
            #[cfg(debug_assertions)]
            debug_assert!(
                self.state
                    .nodes
                    .iter()
                    .flat_map(|n| n.zones.iter().map(|z| z.managed_pages))
                    .eq(self.wmark_memo.deferred.iter().copied()),
                "managed pages changed after a deferred init_per_zone_wmark_min()"
            );
            self.init_per_zone_wmark_min_now();
        }
    }

    /// Whether a call now would leave min_free_kbytes and every zone outside ZONE_MOVABLE
    /// as they are: those zones manage what they did at the last full recomputation (so
    /// their watermarks, and nr_free_buffer_pages() read from them, are what that call left)
    /// and the new min_free_kbytes equals the old. ZONE_MOVABLE counts in neither
    /// nr_free_buffer_pages() nor the lowmem total.
    fn wmark_settled(&mut self) -> bool {
        let ps_kb = self.u.g.page_size >> 10;
        let memo = &mut self.wmark_memo;
        let mut buffer_pages = 0u64;
        let mut i = 0;
        for z in self.state.nodes.iter().flat_map(|n| n.zones.iter()) {
            if z.ztype != ZoneType::Movable && memo.managed.get(i) != Some(&z.managed_pages) {
                return false;
            }
            if z.ztype.is_kernel_zone() {
                buffer_pages += z.managed_pages.saturating_sub(z.wmark_high);
            }
            i += 1;
        }
        i == memo.managed.len()
            && memo.sqrt.get(buffer_pages * ps_kb * 16, clamped_sqrt) == self.state.min_free_kbytes
    }

    /// init_per_zone_wmark_min(), deferred inside [`Machine::wmark_batch`] when settled.
    pub(crate) fn init_per_zone_wmark_min(&mut self) {
        self.init_per_zone_wmark_min_deferred();
    }

    /// init_per_zone_wmark_min(); true if the call was deferred. A deferred call changes
    /// nothing, so another call with nothing changed in between is deferred too.
    pub(crate) fn init_per_zone_wmark_min_deferred(&mut self) -> bool {
        if self.wmark_memo.batch && !self.wmark_memo.eager && self.wmark_settled() {
            #[cfg(debug_assertions)]
            self.check_settled();
            self.wmark_memo.pending = true;
            return true;
        }
        self.wmark_memo.pending = false;
        self.init_per_zone_wmark_min_now();
        false
    }

    /// Debug builds: a settled call, made in full on a copy, changes nothing outside
    /// ZONE_MOVABLE's watermarks and the lowmem reserves for ZONE_MOVABLE allocations.
    #[cfg(debug_assertions)]
    fn check_settled(&mut self) {
        let (nodes, min_free) = (self.state.nodes.clone(), self.state.min_free_kbytes);
        let memo = self.wmark_memo.clone();
        self.init_per_zone_wmark_min_now();
        for (a, b) in self.state.nodes.iter().zip(&nodes) {
            let movable = a.zones.iter().position(|z| z.ztype == ZoneType::Movable);
            let below = movable.unwrap_or(a.zones.len()).min(5);
            for (za, zb) in a.zones.iter().zip(&b.zones) {
                if za.ztype != ZoneType::Movable {
                    let w = |z: &crate::zone::Zone| {
                        (z.wmark_min, z.wmark_low, z.wmark_high, z.wmark_promo)
                    };
                    debug_assert_eq!(w(za), w(zb), "a deferred call would move {:?}", za.ztype);
                }
                debug_assert_eq!(za.lowmem_reserve[..below], zb.lowmem_reserve[..below]);
            }
        }
        debug_assert_eq!(self.state.min_free_kbytes, min_free);
        self.state.nodes = nodes;
        self.wmark_memo = memo;
        self.wmark_memo.deferred = self
            .state
            .nodes
            .iter()
            .flat_map(|n| n.zones.iter().map(|z| z.managed_pages))
            .collect();
    }

    /// init_per_zone_wmark_min(), now.
    fn init_per_zone_wmark_min_now(&mut self) {
        let ps_kb = self.u.g.page_size >> 10;
        // nr_free_buffer_pages() (managed pages above the high watermark in zones up to
        // ZONE_NORMAL) and the managed pages outside ZONE_MOVABLE, in one pass.
        let (mut buffer_pages, mut lowmem) = (0u64, 0u64);
        for z in self.state.nodes.iter().flat_map(|n| n.zones.iter()) {
            if z.ztype.is_kernel_zone() {
                buffer_pages += z.managed_pages.saturating_sub(z.wmark_high);
            }
            if z.ztype != ZoneType::Movable {
                lowmem += z.managed_pages;
            }
        }
        let memo = &mut self.wmark_memo;
        memo.managed.clear();
        memo.managed.extend(
            self.state
                .nodes
                .iter()
                .flat_map(|n| n.zones.iter().map(|z| z.managed_pages)),
        );
        self.state.min_free_kbytes = memo.sqrt.get(buffer_pages * ps_kb * 16, clamped_sqrt);
        let pages_min = self.state.min_free_kbytes / ps_kb;
        for (nid, node) in self.state.nodes.iter_mut().enumerate() {
            // setup_per_zone_lowmem_reserve(): what the zones above each zone manage.
            let n = node.zones.len();
            let mut upper = [0u64; 8];
            for i in (0..n.saturating_sub(1)).rev() {
                upper[i] = upper[i + 1] + node.zones[i + 1].managed_pages;
            }
            for i in 0..n {
                let z = &mut node.zones[i];
                let mut tmp = memo.share(nid * 8 + i, pages_min * z.managed_pages, lowmem);
                z.wmark_min = if z.ztype == ZoneType::Movable {
                    (z.managed_pages / 1024).clamp(SWAP_CLUSTER_MAX, 128)
                } else {
                    tmp
                };
                tmp = (tmp >> 2).max(z.managed_pages * WATERMARK_SCALE_FACTOR / 10000);
                z.wmark_low = z.wmark_min + tmp;
                z.wmark_high = z.wmark_low + tmp;
                z.wmark_promo = z.wmark_high + tmp;
                let shift = lowmem_reserve_shift(z.ztype).filter(|_| z.managed_pages != 0);
                // Written in place: building the array on the stack and copying it stalls
                // store forwarding, which showed in profiles of 60 TiB cycles.
                z.lowmem_reserve = [0; 5];
                if let Some(shift) = shift {
                    for j in i + 1..n.min(5) {
                        // What zones i+1..=j manage, over the ratio.
                        z.lowmem_reserve[j] = (upper[i] - upper[j]) >> shift;
                    }
                }
            }
        }
    }

    /// Make init_per_zone_wmark_min() in full after every block, never deferred: the
    /// reference that tests compare range operations against.
    #[doc(hidden)]
    pub fn set_wmark_eager(&mut self, eager: bool) {
        self.wmark_flush();
        self.wmark_memo.eager = eager;
    }

    /// min_free_kbytes as the kernel computed it last.
    pub fn min_free_kbytes(&self) -> u64 {
        self.state.min_free_kbytes
    }
}

#[cfg(test)]
mod tests {
    use super::{clamped_sqrt, int_sqrt};

    #[test]
    fn clamp_without_sqrt_agrees() {
        for x in [
            0,
            1,
            16383,
            16384,
            16385,
            1 << 30,
            (1 << 36) - 1,
            1 << 36,
            u64::MAX / 2,
        ] {
            assert_eq!(clamped_sqrt(x), int_sqrt(x).clamp(128, 262144), "x = {x}");
        }
    }

    #[test]
    fn sqrt() {
        assert_eq!(int_sqrt(31245312), 5589);
        assert_eq!(int_sqrt(16), 4);
        assert_eq!(int_sqrt(17), 4);
        assert_eq!(int_sqrt(0), 0);
        for x in [
            1,
            2,
            3,
            u64::MAX,
            u64::MAX - 1,
            (1 << 52) + 1,
            4_294_967_295 * 4_294_967_295,
        ] {
            assert_eq!(int_sqrt(x), x.isqrt(), "x = {x}");
        }
    }
}
