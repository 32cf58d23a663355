//! dax/kmem (drivers/dax/kmem.c): a device-dax namespace given to the page allocator.

mod common;

use mm::cmdline::OnlineType;
use mm::kmem::KmemOptions;
use mm::{Errno, Machine, MemmapLocation, MemremapOptions, NamespaceMode};

const GIB: u64 = 1 << 30;

fn boot(cmdline: &str) -> Machine {
    common::boot("x86_64", 16 * GIB, cmdline)
}

fn mem_total_kb(m: &Machine) -> u64 {
    common::model_meminfo_kb(m, "MemTotal")
}

fn devdax(m: &mut Machine, mode: NamespaceMode) -> u32 {
    let o = MemremapOptions {
        map: Some(MemmapLocation::Dev),
        mode: Some(mode),
        align: Some(2 << 20),
        node: None,
    };
    m.memremap_pages(256 * GIB, 256 * GIB, &o).unwrap()
}

/// A 256 GiB device with its struct pages in RAM (the default) and on the device
/// (memmap_on_memory, with memory_hotplug.memmap_on_memory=1): 64 bytes per 4 KiB page,
/// 4 GiB of memmap either way; only where it comes from differs.
#[test]
fn kmem_gives_a_256g_device_to_the_buddy() {
    for on_device in [false, true] {
        let mut m = boot("memhp_default_state=offline memory_hotplug.memmap_on_memory=1");
        let id = devdax(&mut m, NamespaceMode::DevDax);
        let total0 = mem_total_kb(&m);
        let d = m
            .dax_kmem(
                id,
                &KmemOptions {
                    memmap_on_memory: on_device,
                    online: Some(OnlineType::OnlineMovable),
                },
            )
            .unwrap();
        m.check().unwrap();
        assert_eq!(d.memmap_on_memory, on_device);
        assert!(m.pgmaps().is_empty());
        // The data range, after the 2 MiB info block + altmap reserve, trimmed to blocks.
        assert_eq!(d.start % m.block_size(), 0);
        assert!(d.start > 256 * GIB && d.start + d.size <= 512 * GIB);
        let blocks = d.size / m.block_size();
        let v = m.vmstat();
        assert_eq!(v.nr_memmap_pages(), d.size / 4096 * 64 / 4096);
        if on_device {
            assert_eq!(v.memmap_altmap, v.nr_memmap_pages());
        } else {
            assert_eq!(v.memmap_buddy, v.nr_memmap_pages());
        }
        assert!(m
            .read("/proc/iomem")
            .unwrap()
            .contains(" : System RAM (kmem)"));
        let group = &m.groups()[&d.group];
        assert_eq!(group.max_pages, d.size / 4096);
        let vm = if on_device { v.memmap_altmap } else { 0 };
        assert_eq!(mem_total_kb(&m) - total0, (d.size / 4096 - vm) * 4);
        // 2048 blocks of namespace; map=dev reserved 4 GiB of it (and the info block) at
        // the front for the ZONE_DEVICE memmap, which the dax device's range starts after:
        // 32 blocks and the partial one are lost to kmem.
        assert_eq!(blocks, 2015);
    }
}

#[test]
fn kmem_takes_only_device_dax() {
    let mut m = boot("");
    let id = devdax(&mut m, NamespaceMode::FsDax);
    let before = m.state_hash();
    let e = m.dax_kmem(id, &KmemOptions::default()).unwrap_err();
    assert_eq!(e.errno(), Errno::EINVAL);
    assert_eq!(m.state_hash(), before);
    assert_eq!(
        m.dax_kmem(99, &KmemOptions::default()).unwrap_err().errno(),
        Errno::ENODEV
    );
}

/// dev_dax_kmem_probe() (drivers/dax/kmem.c) trims each range to whole memory blocks
/// (dax_kmem_range()) and, when nothing is left, warns "rejecting DAX region without any
/// memory after alignment" and returns -EINVAL.
#[test]
fn kmem_rejects_a_namespace_smaller_than_a_block() {
    let mut m = boot("");
    let o = MemremapOptions {
        map: Some(MemmapLocation::Mem),
        mode: Some(NamespaceMode::DevDax),
        align: Some(2 << 20),
        node: None,
    };
    let id = m.memremap_pages(256 * GIB, 64 << 20, &o).unwrap();
    let before = m.state_hash();
    let e = m.dax_kmem(id, &KmemOptions::default()).unwrap_err();
    assert_eq!(e.errno(), Errno::EINVAL);
    assert_eq!(m.state_hash(), before);
    assert!(m.dmesg().iter().any(
        |l| l.ends_with("kmem dax0.0: rejecting DAX region without any memory after alignment")
    ));
}

/// Offlining and removing a kmem device's memory (daxctl offline-memory, then the driver's
/// remove) leaves no kmem device behind.
#[test]
fn removing_kmem_memory_ends_the_device() {
    let mut m = boot("memhp_default_state=offline");
    let id = devdax(&mut m, NamespaceMode::DevDax);
    let d = m
        .dax_kmem(
            id,
            &KmemOptions {
                memmap_on_memory: false,
                online: Some(OnlineType::OnlineMovable),
            },
        )
        .unwrap();
    assert_eq!(m.kmem_devices().count(), 1);
    m.offline(d.start, d.size).unwrap();
    m.remove_memory(d.start, d.size).unwrap();
    m.check().unwrap();
    assert_eq!(m.kmem_devices().count(), 0);
}

/// /proc/iomem as the drivers build it: the pmem driver keeps the namespace claimed, kmem
/// requests the memory-block-aligned data range under the dax device's name and the RAM
/// nests inside it (drivers/dax/kmem.c dev_dax_kmem_probe(), drivers/dax/bus.c). The
/// expected lines are a real x86_64 6.12 guest's with memmap=0xfc000000!8G, quoted in
/// issue 20 (not re-run here: this machine has no x86_64 oracle build). Once the memory is
/// offlined and removed, kmem lets go and the namespace with it.
#[test]
fn kmem_nests_the_ram_in_its_dax_resource() {
    let mut m = common::boot("x86_64", 4 * GIB, "memmap=0xfc000000!8G");
    let o = MemremapOptions {
        map: Some(MemmapLocation::Mem),
        mode: Some(NamespaceMode::DevDax),
        align: None,
        node: None,
    };
    let id = m.memremap_pages(8 * GIB, 0xfc00_0000, &o).unwrap();
    let k = m.dax_kmem(id, &KmemOptions::default()).unwrap();
    let iomem = m.read("/proc/iomem").unwrap();
    let tree: Vec<&str> = iomem
        .lines()
        .skip_while(|l| !l.contains("Persistent Memory"))
        .take(4)
        .collect();
    assert_eq!(
        tree,
        [
            "200000000-2fbffffff : Persistent Memory (legacy)",
            "  200000000-2001fffff : namespace0.0",
            "  208000000-2f7ffffff : dax0.0",
            "    208000000-2f7ffffff : System RAM (kmem)",
        ]
    );
    m.offline(k.start, k.size).unwrap();
    m.remove_memory(k.start, k.size).unwrap();
    let after = m.read("/proc/iomem").unwrap();
    assert!(after.contains("200000000-2fbffffff : Persistent Memory (legacy)\n"));
    assert!(
        !after.contains("namespace0.0") && !after.contains("dax0.0"),
        "{after}"
    );
    // The range can be mapped again.
    m.memremap_pages(8 * GIB, 0xfc00_0000, &o).unwrap();
    m.check().unwrap();
}

/// A dax_kmem() whose hot-add fails (here: 4 GiB of memmap for 252 GiB, on a 4 GiB machine)
/// leaves the machine as it was, the device-dax mapping and its resources included; the
/// rollback covers only the namespace's range.
#[test]
fn a_failed_kmem_probe_leaves_the_machine_as_it_was() {
    let mut m = common::boot("x86_64", 4 * GIB, "memhp_default_state=offline");
    let id = devdax(&mut m, NamespaceMode::DevDax);
    let before = m.state_hash();
    let iomem = m.read("/proc/iomem").unwrap();
    let e = m.dax_kmem(id, &KmemOptions::default()).unwrap_err();
    assert_eq!(e.errno(), Errno::ENOMEM, "{e}");
    assert_eq!(m.state_hash(), before);
    assert_eq!(m.read("/proc/iomem").unwrap(), iomem);
    m.check().unwrap();
    // With its memmap on the device it fits.
    let mut m = common::boot(
        "x86_64",
        4 * GIB,
        "memhp_default_state=offline memory_hotplug.memmap_on_memory=1",
    );
    let id = devdax(&mut m, NamespaceMode::DevDax);
    let opts = KmemOptions {
        memmap_on_memory: true,
        ..KmemOptions::default()
    };
    m.dax_kmem(id, &opts).unwrap();
}
