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
/// which repeat from one block to the next when a range goes online or offline. A pure
/// cache: it changes no result.
#[derive(Debug, Clone, Default)]
pub(crate) struct WmarkMemo {
    sqrt: Memo,
    shares: Vec<((u64, u64), u64)>,
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
    /// init_per_zone_wmark_min().
    pub(crate) fn init_per_zone_wmark_min(&mut self) {
        let ps_kb = self.u.g.page_size >> 10;
        // nr_free_buffer_pages() (managed pages above the high watermark in zones up to
        // ZONE_NORMAL) and the managed pages outside ZONE_MOVABLE, in one pass.
        let (mut buffer_pages, mut lowmem) = (0u64, 0u64);
        for z in self.nodes.iter().flat_map(|n| n.zones.iter()) {
            if z.ztype.is_kernel_zone() {
                buffer_pages += z.managed_pages.saturating_sub(z.wmark_high);
            }
            if z.ztype != ZoneType::Movable {
                lowmem += z.managed_pages;
            }
        }
        let memo = &mut self.wmark_memo;
        self.min_free_kbytes = memo.sqrt.get(buffer_pages * ps_kb * 16, clamped_sqrt);
        let pages_min = self.min_free_kbytes / ps_kb;
        for (nid, node) in self.nodes.iter_mut().enumerate() {
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

    /// min_free_kbytes as the kernel computed it last.
    pub fn min_free_kbytes(&self) -> u64 {
        self.min_free_kbytes
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
