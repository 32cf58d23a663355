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
        // nr_free_buffer_pages(): managed pages above the high watermark in zones up to
        // ZONE_NORMAL.
        let buffer_pages: u64 = self
            .nodes
            .iter()
            .flat_map(|n| n.zones.iter())
            .filter(|z| z.ztype.is_kernel_zone())
            .map(|z| z.managed_pages.saturating_sub(z.wmark_high))
            .sum();
        self.min_free_kbytes = int_sqrt(buffer_pages * ps_kb * 16).clamp(128, 262144);
        let pages_min = self.min_free_kbytes / ps_kb;
        let lowmem: u64 = self
            .nodes
            .iter()
            .flat_map(|n| n.zones.iter())
            .filter(|z| z.ztype != ZoneType::Movable)
            .map(|z| z.managed_pages)
            .sum();
        for z in self.nodes.iter_mut().flat_map(|n| n.zones.iter_mut()) {
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
        }
        for node in &mut self.nodes {
            let managed: Vec<u64> = node.zones.iter().map(|z| z.managed_pages).collect();
            for i in 0..node.zones.len() {
                let ratio = lowmem_reserve_ratio(node.zones[i].ztype);
                let clear = ratio == 0 || managed[i] == 0;
                let mut reserve = [0u64; 5];
                let mut upper = 0;
                for j in i + 1..node.zones.len() {
                    upper += managed[j];
                    reserve[j] = if clear { 0 } else { upper / ratio };
                }
                node.zones[i].lowmem_reserve = reserve;
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
