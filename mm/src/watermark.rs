//! Zone watermarks and lowmem reserves (mm/page_alloc.c init_per_zone_wmark_min,
//! calculate_min_free_kbytes, __setup_per_zone_wmarks, setup_per_zone_lowmem_reserve),
//! recomputed at boot and whenever memory goes online or offline.

use crate::machine::Machine;
use arch::ZoneType;

/// watermark_scale_factor's default (10 = 0.1% of a zone).
const WATERMARK_SCALE_FACTOR: u64 = 10;
/// SWAP_CLUSTER_MAX.
const SWAP_CLUSTER_MAX: u64 = 32;

/// sysctl_lowmem_reserve_ratio.
fn lowmem_reserve_ratio(t: ZoneType) -> u64 {
    match t {
        ZoneType::Dma | ZoneType::Dma32 => 256,
        ZoneType::Normal => 32,
        ZoneType::Movable | ZoneType::Device => 0,
    }
}

/// int_sqrt().
fn int_sqrt(x: u64) -> u64 {
    if x < 2 {
        return x;
    }
    let mut r = (x as f64).sqrt() as u64;
    while r * r > x {
        r -= 1;
    }
    while (r + 1) * (r + 1) <= x {
        r += 1;
    }
    r
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
        self.min_free_kbytes = int_sqrt(buffer_pages * ps_kb * 16).clamp(128, 262144);
        let pages_min = self.min_free_kbytes / ps_kb;
        for node in &mut self.nodes {
            // setup_per_zone_lowmem_reserve(): what the zones above each zone manage.
            let n = node.zones.len();
            let mut upper = [0u64; 8];
            for i in (0..n.saturating_sub(1)).rev() {
                upper[i] = upper[i + 1] + node.zones[i + 1].managed_pages;
            }
            for i in 0..n {
                let z = &mut node.zones[i];
                let mut tmp = (pages_min * z.managed_pages)
                    .checked_div(lowmem)
                    .unwrap_or(0);
                z.wmark_min = if z.ztype == ZoneType::Movable {
                    (z.managed_pages / 1024).clamp(SWAP_CLUSTER_MAX, 128)
                } else {
                    tmp
                };
                tmp = (tmp >> 2).max(z.managed_pages * WATERMARK_SCALE_FACTOR / 10000);
                z.wmark_low = z.wmark_min + tmp;
                z.wmark_high = z.wmark_low + tmp;
                z.wmark_promo = z.wmark_high + tmp;
                let ratio = lowmem_reserve_ratio(z.ztype);
                let clear = ratio == 0 || z.managed_pages == 0;
                let mut reserve = [0u64; 5];
                for (j, r) in reserve.iter_mut().enumerate().take(n).skip(i + 1) {
                    // What zones i+1..=j manage.
                    let sum = upper[i] - upper[j];
                    *r = if clear { 0 } else { sum / ratio };
                }
                z.lowmem_reserve = reserve;
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
    use super::int_sqrt;

    #[test]
    fn sqrt() {
        assert_eq!(int_sqrt(31245312), 5589);
        assert_eq!(int_sqrt(16), 4);
        assert_eq!(int_sqrt(17), 4);
        assert_eq!(int_sqrt(0), 0);
    }
}
