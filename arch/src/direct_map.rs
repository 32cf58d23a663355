//! The linear (direct) map split by page size, as `arch_report_meminfo()` counts it for the
//! DirectMap lines of /proc/meminfo.

/// One DirectMap line: bytes of the linear map mapped with one page size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DirectMap {
    /// The line's name as the arch prints it (`DirectMap2M`).
    pub name: &'static str,
    pub bytes: u64,
}

/// Split `ranges` (page-aligned `[start, end)`) the way the arch page-table builders map
/// them: at each address the largest of `sizes` (powers of two, the smallest being the
/// base page) whose alignment and remaining length allow it. Returns the bytes per size, in
/// the order of `sizes`. Linear in ranges x sizes.
pub fn split(ranges: &[(u64, u64)], sizes: &[u64]) -> Vec<u64> {
    let mut order: Vec<usize> = (0..sizes.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(sizes[i]));
    let mut bytes = vec![0u64; sizes.len()];
    for &(s, e) in ranges {
        split_one(s, e, sizes, &order, &mut bytes);
    }
    bytes
}

fn split_one(s: u64, e: u64, sizes: &[u64], order: &[usize], bytes: &mut [u64]) {
    let Some((&i, rest)) = order.split_first() else {
        return;
    };
    if s >= e {
        return;
    }
    if rest.is_empty() {
        bytes[i] += e - s;
        return;
    }
    let size = sizes[i];
    let a = s.next_multiple_of(size);
    let b = e - e % size;
    if a < b {
        bytes[i] += b - a;
        split_one(s, a, sizes, rest, bytes);
        split_one(b, e, sizes, rest, bytes);
    } else {
        split_one(s, e, sizes, rest, bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const K4: u64 = 4 << 10;
    const M2: u64 = 2 << 20;
    const G1: u64 = 1 << 30;

    #[test]
    fn edges_take_the_smaller_pages() {
        // [1M, 3G + 4K): 4K up to 2M, 2M up to 1G, two 1G pages, then one 4K page.
        let r = split(&[(1 << 20, 3 * G1 + K4)], &[K4, M2, G1]);
        assert_eq!(r, vec![(1 << 20) + K4, G1 - M2, 2 * G1]);
        assert_eq!(r.iter().sum::<u64>(), 3 * G1 + K4 - (1 << 20));
    }

    #[test]
    fn a_range_too_small_for_any_large_page() {
        assert_eq!(split(&[(K4, 3 * K4)], &[K4, M2]), vec![2 * K4, 0]);
        assert_eq!(split(&[], &[K4, M2]), vec![0, 0]);
    }
}
