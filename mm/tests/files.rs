//! The sysfs and procfs files, declared once in mm/src/files.rs: every path the machine
//! lists reads, its directories are directories, what is not declared is not there, and
//! the export writes the declared files.

mod common;

use mm::{BootSpec, Errno, Machine};

#[test]
fn every_listed_path_reads_and_its_directories_are_directories() {
    for arch in arch::Config::names() {
        let m = Machine::boot(&BootSpec::new(arch::Target::parse(arch, "").unwrap())).unwrap();
        let paths = m.readable_paths();
        assert!(paths.len() > 20, "{arch}: {paths:?}");
        for p in &paths {
            let text = m.read(p).unwrap_or_else(|e| panic!("{arch} {p}: {e}"));
            assert!(text.ends_with('\n'), "{arch} {p}: {text:?}");
            let mut dir = p.as_str();
            while let Some((parent, _)) = dir.rsplit_once('/') {
                if parent.is_empty() {
                    break;
                }
                let err = m.read(parent).unwrap_err();
                assert_eq!(err.errno(), Errno::EISDIR, "{arch} {parent}");
                dir = parent;
            }
        }
        // One entry per hstate registered at boot (sysfs hugepages-<size>kB directories).
        for size in m.hstates().iter().map(|h| h.size) {
            let p = format!(
                "/sys/kernel/mm/hugepages/hugepages-{}kB/nr_hugepages",
                size >> 10
            );
            assert!(paths.contains(&p), "{arch}: no {p}");
        }
    }
}

/// Only what the kernel has: hstate_attrs (mm/hugetlb.c) has no max_huge_pages file, the
/// memory block directory has no "size", and a hugepages size the arch lacks is absent.
#[test]
fn what_is_not_declared_is_not_there() {
    let m = Machine::boot(&BootSpec::new(arch::Target::parse("x86_64", "").unwrap())).unwrap();
    for p in [
        "/sys/kernel/mm/hugepages/hugepages-2048kB/max_huge_pages",
        "/sys/devices/system/memory/memory0/size",
        "/sys/kernel/mm/hugepages/hugepages-64kB/nr_hugepages",
        "/proc/sys/vm/nr_overcommit",
    ] {
        assert_eq!(m.read(p).unwrap_err().errno(), Errno::ENOENT, "{p}");
    }
    for f in mm::files::patterns() {
        // The 1 GiB hstate has every hstate file (demote ones too: it has a smaller size).
        let listed = f
            .path
            .replace("memoryN", "memory0")
            .replace("<size>", "1048576");
        if listed.contains("hugetlb_optimize_vmemmap") {
            continue; // present only where HVO frees something (hugetlb_vmemmap.c)
        }
        if listed.contains("daxX.Y") || listed.starts_with("/sys/firmware/memory") {
            continue; // a kmem device's, on 7.x (tests/linux_7_3.rs reads it)
        }
        match f.readable {
            true => assert!(m.read(&listed).is_ok(), "{listed}"),
            false => assert_eq!(
                m.read(&listed).unwrap_err().errno(),
                Errno::EACCES,
                "{listed}"
            ),
        }
    }
}

/// Read-only files refuse writes the way their filesystem does, and leave the machine as
/// it was; writable ones are the ones the table says.
#[test]
fn read_only_files_refuse_writes() {
    let mut m = Machine::boot(&BootSpec::new(arch::Target::parse("x86_64", "").unwrap())).unwrap();
    let before = m.state_hash();
    for (p, errno) in [
        ("/sys/devices/system/memory/block_size_bytes", Errno::EACCES),
        (
            "/sys/devices/system/memory/memory0/phys_index",
            Errno::EACCES,
        ),
        (
            "/sys/devices/system/memory/memory0/valid_zones",
            Errno::EACCES,
        ),
        (
            "/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages",
            Errno::EACCES,
        ),
        ("/proc/iomem", Errno::EIO),
        ("/proc/zoneinfo", Errno::EIO),
    ] {
        assert_eq!(m.write(p, "1").unwrap_err().errno(), errno, "{p}");
    }
    assert_eq!(m.state_hash(), before);
    let writable: Vec<String> = mm::files::patterns()
        .into_iter()
        .filter(|f| f.writable)
        .map(|f| f.path)
        .collect();
    assert!(writable.contains(&"/sys/devices/system/memory/memoryN/state".to_string()));
    assert!(writable.contains(&"/proc/sys/vm/nr_hugepages".to_string()));
    assert!(!writable.iter().any(|p| p.starts_with("/proc/meminfo")));
}

/// The export writes the files the table marks for it, with the text read() serves.
#[cfg(unix)]
#[test]
fn the_export_writes_the_declared_files() {
    let m = Machine::boot(&BootSpec::new(arch::Target::parse("x86_64", "").unwrap())).unwrap();
    let dir = std::env::temp_dir().join(format!("hl-files-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    m.export_sysfs(&dir).unwrap();
    for p in [
        "/sys/devices/system/memory/block_size_bytes",
        "/sys/devices/system/memory/auto_online_blocks",
        "/sys/devices/system/memory/memory0/valid_zones",
        "/proc/iomem",
        "/proc/meminfo",
        "/proc/zoneinfo",
    ] {
        let on_disk = std::fs::read_to_string(dir.join(&p[1..])).unwrap();
        assert_eq!(on_disk, m.read(p).unwrap(), "{p}");
    }
    assert!(!dir.join("proc/vmstat").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// list_dir() names what a directory holds, a component at a time (what completion offers):
/// every memory block of the machine, each block's files, the hstates' directories.
#[test]
fn directories_list_what_they_hold() {
    let mut spec = mm::BootSpec::new(arch::Target::parse("x86_64", "").unwrap());
    spec.ram = Some(4 << 30);
    let mut m = mm::Machine::boot(&spec).unwrap();
    m.add_memory(8 << 30, 1 << 30, &Default::default()).unwrap();
    let root = m.list_dir("/");
    assert!(
        root.contains(&"proc/".to_string()) && root.contains(&"sys/".to_string()),
        "{root:?}"
    );
    let mem = m.list_dir("/sys/devices/system/memory/");
    for name in [
        "block_size_bytes",
        "auto_online_blocks",
        "memory0/",
        "memory64/",
        "memory71/",
    ] {
        assert!(mem.contains(&name.to_string()), "{name} in {mem:?}");
    }
    assert_eq!(
        mem.iter().filter(|n| n.starts_with("memory")).count(),
        m.blocks().len()
    );
    let block = m.list_dir("/sys/devices/system/memory/memory64");
    assert!(block.contains(&"state".to_string()) && block.contains(&"valid_zones".to_string()));
    for f in &block {
        assert!(
            m.read(&format!("/sys/devices/system/memory/memory64/{f}"))
                .is_ok(),
            "{f}"
        );
    }
    let huge = m.list_dir("/sys/kernel/mm/hugepages");
    assert!(huge.contains(&"hugepages-2048kB/".to_string()), "{huge:?}");
    assert!(m
        .list_dir("/sys/devices/system/memory/memory999")
        .is_empty());
}
