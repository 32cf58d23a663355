//! online_pages() and offline_pages() (mm/memory_hotplug.c) end with
//! init_per_zone_wmark_min() (mm/page_alloc.c), once per memory block. Onlining or offlining
//! a range in one call must leave the watermarks, lowmem reserves and min_free_kbytes that
//! writing each block's state in turn leaves: the model defers the calls it can prove change
//! nothing but ZONE_MOVABLE's figures.

mod common;

use mm::cmdline::OnlineType;
use mm::Machine;

fn zones(m: &Machine) -> String {
    m.read("/proc/zoneinfo").unwrap() + &m.read("/proc/sys/vm/min_free_kbytes").unwrap()
}

/// Each block's state written in turn.
fn per_block(m: &mut Machine, start: u64, size: u64, t: Option<OnlineType>) {
    let bs = m.block_size();
    for s in (start..start + size).step_by(bs as usize) {
        match t {
            Some(t) => m.online(s, bs, t).map(|_| ()),
            None => m.offline(s, bs),
        }
        .unwrap();
    }
}

#[test]
fn a_range_leaves_the_watermarks_that_block_by_block_leaves() {
    for arch in ["x86_64", "arm64-64k", "s390"] {
        // Little boot memory: min_free_kbytes moves while kernel zones grow.
        let m0 = common::boot(arch, 1 << 30, "memhp_default_state=offline");
        let bs = m0.block_size();
        let start = m0.boot_info().hotplug_base.next_multiple_of(bs);
        let (kernel, movable) = (8 * bs, 24 * bs);
        let mut whole = m0.clone();
        whole
            .add_memory(start, kernel + movable, &mm::AddOptions::default())
            .unwrap();
        let mut step = whole.clone();
        step.set_wmark_eager(true);
        let before = whole.min_free_kbytes();

        whole
            .online(start, kernel, OnlineType::OnlineKernel)
            .unwrap();
        per_block(&mut step, start, kernel, Some(OnlineType::OnlineKernel));
        assert!(
            whole.min_free_kbytes() > before,
            "{arch}: kernel zones grew"
        );
        assert_eq!(zones(&whole), zones(&step), "{arch}: online_kernel");

        let at = start + kernel;
        whole
            .online(at, movable, OnlineType::OnlineMovable)
            .unwrap();
        per_block(&mut step, at, movable, Some(OnlineType::OnlineMovable));
        assert_eq!(zones(&whole), zones(&step), "{arch}: online_movable");
        assert_eq!(whole.state_hash(), step.state_hash(), "{arch}");

        whole.offline(start, kernel + movable).unwrap();
        per_block(&mut step, start, kernel + movable, None);
        assert_eq!(zones(&whole), zones(&step), "{arch}: offline");
        assert_eq!(whole.state_hash(), step.state_hash(), "{arch}");
        whole.check().unwrap();
    }
}

#[test]
fn auto_onlining_at_add_leaves_what_onlining_afterwards_leaves() {
    let mut auto = common::boot("x86_64", 1 << 30, "memhp_default_state=online_movable");
    let mut by_hand = common::boot("x86_64", 1 << 30, "memhp_default_state=offline");
    by_hand.set_wmark_eager(true);
    let bs = auto.block_size();
    let start = auto.boot_info().hotplug_base.next_multiple_of(bs);
    let opts = mm::AddOptions::default();
    auto.add_memory(start, 16 * bs, &opts).unwrap();
    by_hand.add_memory(start, 16 * bs, &opts).unwrap();
    per_block(
        &mut by_hand,
        start,
        16 * bs,
        Some(OnlineType::OnlineMovable),
    );
    assert_eq!(zones(&auto), zones(&by_hand));
}
