//! Every sysfs and procfs file the model serves, declared once, the way drivers/base/memory.c
//! and mm/hugetlb.c declare their attribute groups: its path, how it is shown, whether and
//! how a write stores it, and whether the sysfs export writes it. read, write, the export,
//! directory lookups and path completion all walk these tables.

use crate::cmdline::{kstrtobool, OnlinePolicy, OnlineType};
use crate::error::{quote, MmError, Result};
use crate::machine::Machine;
use crate::memory_block::BlockState;
use crate::units::BlockId;

pub(crate) const MEMORY: &str = "/sys/devices/system/memory";
pub(crate) const HUGEPAGES: &str = "/sys/kernel/mm/hugepages";
pub(crate) const DAX_DEVICES: &str = "/sys/bus/dax/devices";

/// How a write to a file of object `K` is stored.
pub(crate) type Store<K> = fn(&mut Machine, K, &str) -> Result<()>;

/// One file. `K` says which object it belongs to: `()` for the machine, a [`BlockId`] for a
/// file in `memoryN/`, an hstate index for one in `hugepages-<size>kB/`, a kmem device's
/// pgmap id for one in `daxX.Y/`.
pub(crate) struct Attr<K: 'static> {
    /// The full path for a machine file; the name within the object's directory otherwise.
    pub name: &'static str,
    pub show: fn(&Machine, K) -> String,
    /// None: the file is read-only (mode 0444).
    pub store: Option<Store<K>>,
    /// Whether the sysfs export (what `lsmem --sysroot` reads) writes it.
    pub export: bool,
    /// Whether this kernel configuration has the file at all.
    pub present: fn(&Machine) -> bool,
    /// Whether it can be read (a write-only file, mode 0200, cannot: EACCES).
    pub readable: bool,
}

fn always(_: &Machine) -> bool {
    true
}

fn line(v: impl std::fmt::Display) -> String {
    format!("{v}\n")
}

/// Files that exist once per machine.
pub(crate) static MACHINE_FILES: &[Attr<()>] = &[
    Attr {
        name: "/sys/devices/system/memory/block_size_bytes",
        show: |m, ()| format!("{:x}\n", m.u.block_size),
        store: None,
        export: true,
        present: always,
        readable: true,
    },
    Attr {
        name: "/sys/devices/system/memory/auto_online_blocks",
        show: |m, ()| line(m.state.settings.default_online.name()),
        store: Some(|m, (), v| {
            m.state.settings.default_online = OnlineType::parse(v)
                .ok_or_else(|| MmError::Invalid(format!("{} is not an online type", quote(v))))?;
            Ok(())
        }),
        export: true,
        present: always,
        readable: true,
    },
    Attr {
        name: "/sys/devices/system/memory/crash_hotplug",
        // crash_check_hotplug_support(): 0 with no crash kernel loaded (the model loads
        // none).
        show: |_, ()| line(0),
        store: None,
        export: false,
        // CONFIG_CRASH_HOTPLUG (kernel/Kconfig.kexec, from 6.5) on an arch that supports it.
        present: |m| m.target.kernel.crash_hotplug && m.target.arch().crash_hotplug(),
        readable: true,
    },
    Attr {
        name: "/sys/devices/system/memory/soft_offline_page",
        show: |_, ()| String::new(),
        store: Some(|_, (), _| Err(poison_not_modelled("soft_offline_page"))),
        export: false,
        // CONFIG_MEMORY_FAILURE (drivers/base/memory.c memory_root_attrs); mode 0200.
        present: |m| m.target.arch().memory_failure(),
        readable: false,
    },
    Attr {
        name: "/sys/devices/system/memory/hard_offline_page",
        show: |_, ()| String::new(),
        store: Some(|_, (), _| Err(poison_not_modelled("hard_offline_page"))),
        export: false,
        present: |m| m.target.arch().memory_failure(),
        readable: false,
    },
    Attr {
        name: "/sys/module/memory_hotplug/parameters/memmap_on_memory",
        show: |m, ()| line(m.cmdline.memmap_on_memory.show()),
        store: None,
        export: false,
        // CONFIG_MHP_MEMMAP_ON_MEMORY depends on ARCH_MHP_MEMMAP_ON_MEMORY_ENABLE.
        present: |m| m.target.arch().memmap_on_memory_enable(m.target.kernel),
        readable: true,
    },
    Attr {
        name: "/sys/module/memory_hotplug/parameters/online_policy",
        show: |m, ()| line(m.state.settings.online_policy.name()),
        store: Some(|m, (), v| {
            m.state.settings.online_policy = OnlinePolicy::parse(v).ok_or_else(|| {
                MmError::Invalid(format!("{} is not contig-zones or auto-movable", quote(v)))
            })?;
            Ok(())
        }),
        export: false,
        present: always,
        readable: true,
    },
    Attr {
        name: "/sys/module/memory_hotplug/parameters/auto_movable_ratio",
        show: |m, ()| line(m.state.settings.auto_movable_ratio),
        store: Some(|m, (), v| {
            m.state.settings.auto_movable_ratio = v
                .trim_end()
                .parse::<u32>()
                .map_err(|_| MmError::Invalid(format!("{} is not an unsigned integer", quote(v))))?
                .into();
            Ok(())
        }),
        export: false,
        present: always,
        readable: true,
    },
    Attr {
        name: "/sys/module/memory_hotplug/parameters/auto_movable_numa_aware",
        show: |m, ()| {
            line(if m.state.settings.auto_movable_numa_aware {
                'Y'
            } else {
                'N'
            })
        },
        store: Some(|m, (), v| {
            m.state.settings.auto_movable_numa_aware = kstrtobool(v)
                .ok_or_else(|| MmError::Invalid(format!("{} is not a boolean", quote(v))))?;
            Ok(())
        }),
        export: false,
        present: always,
        readable: true,
    },
    Attr {
        name: "/proc/iomem",
        show: |m, ()| m.state.iomem.render(),
        store: None,
        export: true,
        present: always,
        readable: true,
    },
    Attr {
        name: "/proc/meminfo",
        show: |m, ()| m.meminfo(),
        store: None,
        export: true,
        present: always,
        readable: true,
    },
    Attr {
        name: "/proc/zoneinfo",
        show: |m, ()| m.zoneinfo(),
        store: None,
        export: true,
        present: always,
        readable: true,
    },
    Attr {
        name: "/proc/vmstat",
        show: |m, ()| m.vmstat_text(),
        store: None,
        export: false,
        present: always,
        readable: true,
    },
    Attr {
        name: "/proc/cmdline",
        show: |m, ()| line(&m.cmdline.text),
        store: None,
        export: false,
        present: always,
        readable: true,
    },
    Attr {
        name: "/proc/sys/vm/min_free_kbytes",
        show: |m, ()| line(m.state.min_free_kbytes),
        store: Some(|_, (), _| {
            Err(MmError::NotSupported(
                "writing min_free_kbytes is not modelled: the model keeps the value \
                 init_per_zone_wmark_min() computes (the kernel's file is writable, 0644)"
                    .to_string(),
            ))
        }),
        export: false,
        present: always,
        readable: true,
    },
    Attr {
        // The default hstate's max_huge_pages (hugetlb_sysctl_handler()).
        name: "/proc/sys/vm/nr_hugepages",
        show: |m, ()| {
            m.state
                .hstates
                .get(m.default_hstate())
                .map_or_else(String::new, |h| line(h.persistent()))
        },
        store: Some(|m, (), v| {
            let i = m.default_hstate();
            store_sysctl_nr_hugepages(m, i, v)
        }),
        export: false,
        present: |m| !m.state.hstates.is_empty(),
        readable: true,
    },
    Attr {
        name: "/proc/sys/vm/hugetlb_optimize_vmemmap",
        show: |m, ()| line(u8::from(m.state.hugetlb_optimize_vmemmap)),
        // proc_dobool() (kernel/sysctl.c): one integer as proc_dointvec() reads it, any
        // that is not 0 meaning on.
        store: Some(|m, (), v| {
            let n = proc_get_int(v).ok_or_else(|| {
                MmError::Invalid(format!(
                    "{} is not an integer (proc_dobool reads one, 0 for off, any other for on)",
                    quote(v)
                ))
            })?;
            m.state.hugetlb_optimize_vmemmap = n != 0;
            Ok(())
        }),
        export: false,
        present: Machine::hugetlb_vmemmap_sysctl,
        readable: true,
    },
];

/// The attributes of each memory block (memory_memblk_attrs and the device core's
/// `online`), all of which the export writes for lsmem.
pub(crate) static BLOCK_FILES: &[Attr<BlockId>] = &[
    Attr {
        name: "state",
        show: |m, id| line(m.state.blocks[&id].state.name()),
        store: Some(store_state),
        export: true,
        present: always,
        readable: true,
    },
    Attr {
        name: "online",
        show: |m, id| line(u8::from(m.state.blocks[&id].state == BlockState::Online)),
        store: Some(store_online),
        export: true,
        present: always,
        readable: true,
    },
    Attr {
        name: "phys_index",
        show: |_, id| format!("{}\n", phys_index(id)),
        store: None,
        export: true,
        present: always,
        readable: true,
    },
    Attr {
        name: "phys_device",
        show: |_, _| line(0),
        store: None,
        export: true,
        present: always,
        readable: true,
    },
    Attr {
        name: "removable",
        show: |_, _| line(1),
        store: None,
        export: true,
        present: always,
        readable: true,
    },
    Attr {
        name: "valid_zones",
        show: |m, id| line(m.valid_zones(id).unwrap_or_default()),
        store: None,
        export: true,
        present: always,
        readable: true,
    },
];

/// Why writing a page-poisoning file is refused.
/// 7.x's s390 SCLP memory files (drivers/s390/char/sclp_mem.c), one directory per memory
/// block id boot memory or usable standby memory has.
pub(crate) static SCLP_FILES: &[Attr<BlockId>] = &[
    Attr {
        name: "config",
        show: |m, id| line(u8::from(m.sclp_config(id))),
        store: Some(|m, id, v| m.sclp_set_config(id, v)),
        export: false,
        present: always,
        readable: true,
    },
    Attr {
        name: "memmap_on_memory",
        show: |m, id| line(u8::from(m.sclp_memmap_on_memory(id))),
        store: Some(|m, id, v| m.sclp_set_memmap_on_memory(id, v)),
        export: false,
        present: always,
        readable: true,
    },
];

/// The files the kmem driver adds to a dax device it holds (drivers/dax/kmem.c
/// dax_kmem_groups, 7.x).
pub(crate) static DAX_FILES: &[Attr<u32>] = &[Attr {
    name: "state",
    show: |m, id| line(m.state.kmem[&id].state.name()),
    store: Some(|m, id, v| m.set_kmem_state(id, v)),
    export: false,
    present: |m| m.target.kernel.dax_kmem_state,
    readable: true,
}];

fn poison_not_modelled(file: &str) -> MmError {
    MmError::NotSupported(format!(
        "{file}: taking a page out of use (memory_failure(), soft_offline_page()) is not \
         modelled; the file is there, write-only, as the kernel has it"
    ))
}

/// The attributes of each HugeTLB page size (hstate_attrs in mm/hugetlb.c). The model
/// has no reservations and no overcommit, and every page in the pool is free.
pub(crate) static HSTATE_FILES: &[Attr<usize>] = &[
    Attr {
        name: "nr_hugepages",
        show: |m, i| line(m.state.hstates[i].nr),
        store: Some(store_nr_hugepages),
        export: false,
        present: always,
        readable: true,
    },
    Attr {
        name: "nr_overcommit_hugepages",
        show: |_, _| line(0),
        store: Some(|_, _, _| {
            Err(MmError::NotSupported(
                "writing nr_overcommit_hugepages is not modelled: the model has no \
                 overcommitted surplus pages (the kernel's file is writable, 0644)"
                    .to_string(),
            ))
        }),
        export: false,
        present: always,
        readable: true,
    },
    Attr {
        name: "free_hugepages",
        show: |m, i| line(m.state.hstates[i].nr),
        store: None,
        export: false,
        present: always,
        readable: true,
    },
    Attr {
        name: "resv_hugepages",
        show: |_, _| line(0),
        store: None,
        export: false,
        present: always,
        readable: true,
    },
    Attr {
        name: "surplus_hugepages",
        show: |m, i| line(m.state.hstates[i].surplus),
        store: None,
        export: false,
        present: always,
        readable: true,
    },
    Attr {
        // The pool under the task's mempolicy: every node, for the model's tasks.
        name: "nr_hugepages_mempolicy",
        show: |m, i| line(m.state.hstates[i].nr),
        store: Some(store_nr_hugepages),
        export: false,
        // CONFIG_NUMA, which every modelled configuration has.
        present: always,
        readable: true,
    },
];

/// The demote attributes, of an hstate that has a smaller one to demote to (hstate_demote_attrs
/// in mm/hugetlb.c).
pub(crate) static DEMOTE_FILES: &[Attr<usize>] = &[
    Attr {
        name: "demote",
        show: |_, _| String::new(),
        store: Some(|m, i, v| {
            let n = kstrtoul10(v)
                .ok_or_else(|| MmError::Invalid(format!("{} is not a count", quote(v))))?;
            m.demote_huge_pages(i, n)
        }),
        export: false,
        present: always,
        readable: false,
    },
    Attr {
        name: "demote_size",
        show: |m, i| format!("{}kB\n", m.state.hstates[i].demote_size.unwrap_or(0) >> 10),
        store: Some(|m, i, v| {
            let size = crate::cmdline::memparse(v.trim_end()).map_or(0, |(n, _)| n);
            let ok = m
                .state
                .hstates
                .iter()
                .any(|h| h.size == size && h.size < m.state.hstates[i].size)
                && size >= m.target.arch().default_hugepage_size(&m.target);
            if !ok {
                return Err(MmError::Invalid(format!(
                    "{}: no smaller huge page size to demote to",
                    quote(v)
                )));
            }
            m.state.hstates[i].demote_size = Some(size);
            Ok(())
        }),
        export: false,
        present: always,
        readable: true,
    },
];

fn store_state(m: &mut Machine, id: BlockId, v: &str) -> Result<()> {
    let t = OnlineType::parse(v).ok_or_else(|| {
        MmError::Invalid(format!(
            "{} is not one of online, online_kernel, online_movable, offline",
            quote(v)
        ))
    })?;
    let start = m.u.block_start(id);
    if t == OnlineType::Offline {
        m.offline(start, m.u.block_size)
    } else {
        m.online(start, m.u.block_size, t).map(|_| ())
    }
}

/// The device core's `online`: 1 onlines with the default type, 0 offlines; a block already
/// in the asked state is left alone.
fn store_online(m: &mut Machine, id: BlockId, v: &str) -> Result<()> {
    let want = match v.trim_end() {
        "1" => BlockState::Online,
        "0" => BlockState::Offline,
        _ => return Err(MmError::Invalid(format!("{} is not 0 or 1", quote(v)))),
    };
    if m.state.blocks[&id].state == want {
        return Ok(());
    }
    let start = m.u.block_start(id);
    if want == BlockState::Online {
        m.online(start, m.u.block_size, OnlineType::Online)
            .map(|_| ())
    } else {
        m.offline(start, m.u.block_size)
    }
}

/// hstate's nr_hugepages: kstrtoul(buf, 10) (mm/hugetlb_sysfs via __nr_hugepages_store_common).
fn store_nr_hugepages(m: &mut Machine, i: usize, v: &str) -> Result<()> {
    let n = kstrtoul10(v).ok_or_else(|| {
        MmError::Invalid(format!(
            "{} is not a number of huge pages (decimal digits, then at most a newline)",
            quote(v)
        ))
    })?;
    m.set_nr_hugepages(i, n);
    Ok(())
}

/// vm.nr_hugepages: proc_doulongvec_minmax() (kernel/sysctl.c).
fn store_sysctl_nr_hugepages(m: &mut Machine, i: usize, v: &str) -> Result<()> {
    let n = proc_get_ulong(v)
        .ok_or_else(|| MmError::Invalid(format!("{} is not a number of huge pages", quote(v))))?;
    m.set_nr_hugepages(i, n);
    Ok(())
}

/// kstrtoul(s, 10): an optional '+', decimal digits, then at most one newline.
pub(crate) fn kstrtoul10(v: &str) -> Option<u64> {
    let s = v.strip_suffix('\n').unwrap_or(v);
    let s = s.strip_prefix('+').unwrap_or(s);
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// proc_get_long() for one unsigned value: leading white space skipped, the base taken from
/// the prefix (0x hex, 0 octal), a white-space character or the end after the number; what
/// follows the first value is ignored.
pub(crate) fn proc_get_ulong(v: &str) -> Option<u64> {
    let s = v.trim_start_matches(|c: char| c.is_ascii_whitespace());
    let end = s.find(|c: char| c.is_ascii_whitespace()).unwrap_or(s.len());
    let tok = &s[..end];
    let (digits, radix) = if let Some(h) = tok.strip_prefix("0x").or(tok.strip_prefix("0X")) {
        (h, 16)
    } else if tok.len() > 1 && tok.starts_with('0') {
        (&tok[1..], 8)
    } else {
        (tok, 10)
    };
    if digits.is_empty() || digits.starts_with('+') {
        return None;
    }
    u64::from_str_radix(digits, radix).ok()
}

/// proc_dointvec() for one int (kernel/sysctl.c __do_proc_dointvec, proc_get_long,
/// do_proc_dointvec_conv): white space skipped, an optional '-', digits in the base their
/// prefix gives (0x hex, 0 octal), then a space, tab, newline or the end; at most 21
/// characters; within an int. What follows the first value is left unread, as a write
/// that stops there.
pub(crate) fn proc_get_int(v: &str) -> Option<i64> {
    let s = v.trim_start_matches(|c: char| c.is_ascii_whitespace());
    let end = s.find([' ', '\t', '\n']).unwrap_or(s.len());
    let tok = &s[..end];
    // TMPBUFLEN - 1: a longer number could be two run together.
    if tok.len() >= 21 {
        return None;
    }
    let (neg, body) = match tok.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, tok),
    };
    if !body.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    let (digits, radix) = if let Some(h) = body.strip_prefix("0x").or(body.strip_prefix("0X")) {
        (h, 16)
    } else if body.len() > 1 && body.starts_with('0') {
        (&body[1..], 8)
    } else {
        (body, 10)
    };
    let n = i64::try_from(u64::from_str_radix(digits, radix).ok()?).ok()?;
    let n = if neg { -n } else { n };
    i32::try_from(n).ok().map(i64::from)
}

/// memoryN/phys_index: the block's first section number in 8 hex digits
/// (drivers/base/memory.c phys_index_show(), "%08lx"; the model numbers blocks so that
/// this is the block id).
pub fn phys_index(id: BlockId) -> String {
    format!("{:08x}", id.0)
}

/// A file found by its canonical path, with the object it belongs to.
pub(crate) enum File {
    Machine(&'static Attr<()>),
    Block(&'static Attr<BlockId>, BlockId),
    Hstate(&'static Attr<usize>, usize),
    Dax(&'static Attr<u32>, u32),
    Sclp(&'static Attr<BlockId>, BlockId),
}

impl File {
    /// Whether the file can be read at all (mode 0200 files cannot).
    pub fn readable(&self) -> bool {
        match *self {
            File::Machine(a) => a.readable,
            File::Block(a, _) => a.readable,
            File::Hstate(a, _) => a.readable,
            File::Dax(a, _) => a.readable,
            File::Sclp(a, _) => a.readable,
        }
    }

    pub fn show(&self, m: &Machine) -> String {
        match *self {
            File::Machine(a) => (a.show)(m, ()),
            File::Block(a, id) => (a.show)(m, id),
            File::Hstate(a, i) => (a.show)(m, i),
            File::Dax(a, id) => (a.show)(m, id),
            File::Sclp(a, id) => (a.show)(m, id),
        }
    }

    /// None when the file is read-only.
    pub fn store(&self, m: &mut Machine, v: &str) -> Option<Result<()>> {
        Some(match *self {
            File::Machine(a) => (a.store?)(m, (), v),
            File::Block(a, id) => (a.store?)(m, id, v),
            File::Hstate(a, i) => (a.store?)(m, i, v),
            File::Dax(a, id) => (a.store?)(m, id, v),
            File::Sclp(a, id) => (a.store?)(m, id, v),
        })
    }
}

impl Machine {
    /// The file at canonical path `canon`, if this machine has it.
    pub(crate) fn file(&self, canon: &str) -> Option<File> {
        if let Some(a) = MACHINE_FILES
            .iter()
            .find(|a| a.name == canon && (a.present)(self))
        {
            return Some(File::Machine(a));
        }
        let (dir, name) = canon.rsplit_once('/')?;
        if let Some(id) = self.block_dir(dir) {
            let a = BLOCK_FILES
                .iter()
                .find(|a| a.name == name && (a.present)(self))?;
            return Some(File::Block(a, id));
        }
        if let Some(id) = self.sclp_dir(dir) {
            let a = SCLP_FILES.iter().find(|a| a.name == name)?;
            return Some(File::Sclp(a, id));
        }
        if let Some(id) = self.dax_dir(dir) {
            let a = DAX_FILES
                .iter()
                .find(|a| a.name == name && (a.present)(self))?;
            return Some(File::Dax(a, id));
        }
        let i = self.hstate_dir(dir)?;
        let a = self
            .hstate_files(i)
            .find(|a| a.name == name && (a.present)(self))?;
        Some(File::Hstate(a, i))
    }

    /// The kmem device whose directory `dir` is (`/sys/bus/dax/devices/daxX.Y`), where the
    /// kernel gives it files.
    fn dax_dir(&self, dir: &str) -> Option<u32> {
        let name = dir.strip_prefix(DAX_DEVICES)?.strip_prefix('/')?;
        if !DAX_FILES.iter().any(|a| (a.present)(self)) {
            return None;
        }
        self.kmem_by_name(name)
    }

    /// The block whose /sys/firmware/memory/memoryN directory `dir` is (7.x s390).
    fn sclp_dir(&self, dir: &str) -> Option<BlockId> {
        let num = dir
            .strip_prefix(crate::sclp::FIRMWARE_MEMORY)?
            .strip_prefix("/memory")?;
        if num.is_empty()
            || !num.bytes().all(|b| b.is_ascii_digit())
            || (num.len() > 1 && num.starts_with('0'))
        {
            return None;
        }
        let id = BlockId(num.parse().ok()?);
        self.sclp_mem_dir(id).then_some(id)
    }

    /// The block ids /sys/firmware/memory has directories for, ascending.
    fn sclp_dirs(&self) -> Vec<BlockId> {
        if !self.sclp_mem_files() {
            return Vec::new();
        }
        let mut ids: Vec<BlockId> = self
            .state
            .blocks
            .iter()
            .filter(|(_, b)| b.early)
            .map(|(id, _)| *id)
            .collect();
        if let Some(s) = &self.state.standby {
            let bs = self.u.block_size;
            ids.extend((s.added.0 / bs..s.added.1 / bs).map(BlockId));
        }
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    /// Whether /sys/bus/dax/devices holds a directory the model serves.
    fn has_dax_dirs(&self) -> bool {
        !self.state.kmem.is_empty() && DAX_FILES.iter().any(|a| (a.present)(self))
    }

    /// The files of hstate `i`'s directory: the demote ones only where it has a size to
    /// demote to.
    pub(crate) fn hstate_files(&self, i: usize) -> impl Iterator<Item = &'static Attr<usize>> {
        let demote = self.state.hstates[i].demote_size.is_some();
        HSTATE_FILES
            .iter()
            .chain(DEMOTE_FILES.iter().filter(move |_| demote))
    }

    /// The block whose directory `dir` is (`/sys/devices/system/memory/memoryN`).
    pub(crate) fn block_dir(&self, dir: &str) -> Option<BlockId> {
        let num = dir.strip_prefix(MEMORY)?.strip_prefix("/memory")?;
        if num.is_empty()
            || !num.bytes().all(|b| b.is_ascii_digit())
            || (num.len() > 1 && num.starts_with('0'))
        {
            return None;
        }
        let id = BlockId(num.parse().ok()?);
        self.state.blocks.contains_key(&id).then_some(id)
    }

    /// The hstate whose directory `dir` is (`/sys/kernel/mm/hugepages/hugepages-<kB>kB`).
    fn hstate_dir(&self, dir: &str) -> Option<usize> {
        let name = dir.strip_prefix(HUGEPAGES)?.strip_prefix('/')?;
        self.state.hstates.iter().position(|h| h.dir_name() == name)
    }

    /// Whether `canon` (a canonical path) is a directory that holds some file.
    pub(crate) fn is_directory(&self, canon: &str) -> bool {
        if canon == "/"
            || self.block_dir(canon).is_some()
            || self.hstate_dir(canon).is_some()
            || self.dax_dir(canon).is_some()
            || self.sclp_dir(canon).is_some()
        {
            return true;
        }
        let fw = crate::sclp::FIRMWARE_MEMORY;
        if self.sclp_mem_files() && fw.starts_with(canon) && {
            let rest = &fw[canon.len()..];
            rest.is_empty() || rest.starts_with('/')
        } {
            return true;
        }
        if self.has_dax_dirs() && DAX_DEVICES.starts_with(canon) && {
            let rest = &DAX_DEVICES[canon.len()..];
            rest.is_empty() || rest.starts_with('/')
        } {
            return true;
        }
        let prefix = format!("{canon}/");
        MACHINE_FILES
            .iter()
            .any(|a| (a.present)(self) && a.name.starts_with(&prefix))
            || (!self.state.hstates.is_empty()
                && (HUGEPAGES == canon || HUGEPAGES.starts_with(&prefix)))
    }

    /// What directory `dir` holds, as `ls` would name it: files, and directories with a
    /// trailing `/` (every memoryN of the machine, every hstate's directory); empty when
    /// `dir` is no directory the machine serves. For completion, which goes a component at
    /// a time.
    pub fn list_dir(&self, dir: &str) -> Vec<String> {
        let dir = dir.trim_end_matches('/');
        let mut out = std::collections::BTreeSet::new();
        let mut child = |path: &str| {
            if let Some(rest) = path.strip_prefix(dir).and_then(|r| r.strip_prefix('/')) {
                match rest.split_once('/') {
                    Some((d, _)) => out.insert(format!("{d}/")),
                    None => out.insert(rest.to_string()),
                };
            }
        };
        for a in MACHINE_FILES.iter().filter(|a| (a.present)(self)) {
            child(a.name);
        }
        for (i, h) in self.state.hstates.iter().enumerate() {
            for a in self.hstate_files(i).filter(|a| (a.present)(self)) {
                child(&format!("{HUGEPAGES}/{}/{}", h.dir_name(), a.name));
            }
        }
        if self.has_dax_dirs() {
            for d in self.state.kmem.values() {
                for a in DAX_FILES.iter().filter(|a| (a.present)(self)) {
                    child(&format!("{DAX_DEVICES}/{}/{}", d.dax, a.name));
                }
            }
        }
        let fw = crate::sclp::FIRMWARE_MEMORY;
        if self.sclp_mem_files() {
            if dir != fw {
                child(&format!("{fw}/"));
            }
            if dir == fw {
                for id in self.sclp_dirs() {
                    out.insert(format!("memory{}/", id.0));
                }
            } else if self.sclp_dir(dir).is_some() {
                for a in SCLP_FILES {
                    out.insert(a.name.to_string());
                }
            }
        }
        if dir == MEMORY {
            for id in self.state.blocks.keys() {
                out.insert(format!("memory{}/", id.0));
            }
        } else if self.block_dir(dir).is_some() {
            for a in BLOCK_FILES.iter().filter(|a| (a.present)(self)) {
                out.insert(a.name.to_string());
            }
        }
        out.into_iter().collect()
    }

    /// Every readable path, for completion and help: the machine's files, each hstate's,
    /// and those of the first memory block (each block has the same).
    pub fn readable_paths(&self) -> Vec<String> {
        let mut v: Vec<String> = MACHINE_FILES
            .iter()
            .filter(|a| (a.present)(self) && a.readable)
            .map(|a| a.name.to_string())
            .collect();
        for (i, h) in self.state.hstates.iter().enumerate() {
            for a in self
                .hstate_files(i)
                .filter(|a| (a.present)(self) && a.readable)
            {
                v.push(format!("{HUGEPAGES}/{}/{}", h.dir_name(), a.name));
            }
        }
        if let Some(id) = self.sclp_dirs().first() {
            for a in SCLP_FILES {
                v.push(format!(
                    "{}/memory{}/{}",
                    crate::sclp::FIRMWARE_MEMORY,
                    id.0,
                    a.name
                ));
            }
        }
        if let Some(d) = self.state.kmem.values().next() {
            for a in DAX_FILES.iter().filter(|a| (a.present)(self) && a.readable) {
                v.push(format!("{DAX_DEVICES}/{}/{}", d.dax, a.name));
            }
        }
        if let Some(id) = self.state.blocks.keys().next() {
            for a in BLOCK_FILES
                .iter()
                .filter(|a| (a.present)(self) && a.readable)
            {
                v.push(format!("{MEMORY}/memory{}/{}", id.0, a.name));
            }
        }
        v
    }
}

/// One file of the tables, its path written with `memoryN` and `hugepages-<size>kB` for the
/// per-object directories (what `help("read")` and `help("write")` list).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilePattern {
    pub path: String,
    pub writable: bool,
    /// False for a write-only file (mode 0200).
    pub readable: bool,
}

/// Every file any machine may have, in table order: the machine's, then one block's, then
/// one hstate's, then one kmem dax device's, then one s390 SCLP memory block's (7.x).
pub fn patterns() -> Vec<FilePattern> {
    let machine = MACHINE_FILES.iter().map(|a| FilePattern {
        path: a.name.to_string(),
        writable: a.store.is_some(),
        readable: a.readable,
    });
    let block = BLOCK_FILES.iter().map(|a| FilePattern {
        path: format!("{MEMORY}/memoryN/{}", a.name),
        writable: a.store.is_some(),
        readable: a.readable,
    });
    let hstate = HSTATE_FILES
        .iter()
        .chain(DEMOTE_FILES)
        .map(|a| FilePattern {
            path: format!("{HUGEPAGES}/hugepages-<size>kB/{}", a.name),
            writable: a.store.is_some(),
            readable: a.readable,
        });
    let dax = DAX_FILES.iter().map(|a| FilePattern {
        path: format!("{DAX_DEVICES}/daxX.Y/{}", a.name),
        writable: a.store.is_some(),
        readable: a.readable,
    });
    let sclp = SCLP_FILES.iter().map(|a| FilePattern {
        path: format!("{}/memoryN/{}", crate::sclp::FIRMWARE_MEMORY, a.name),
        writable: a.store.is_some(),
        readable: a.readable,
    });
    machine
        .chain(block)
        .chain(hstate)
        .chain(dax)
        .chain(sclp)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sysfs_numbers_are_kstrtoul_base_10() {
        // lib/kstrtox.c: an optional '+', digits, at most one trailing newline.
        assert_eq!(kstrtoul10("3\n"), Some(3));
        assert_eq!(kstrtoul10("+3"), Some(3));
        for bad in ["3 ", " 3", "0x5", "", "\n", "3\n\n", "-1"] {
            assert_eq!(kstrtoul10(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn sysctl_numbers_are_proc_get_long() {
        // kernel/sysctl.c: spaces skipped, base from the prefix, the first value taken.
        // kernel/sysctl.c proc_dobool() -> proc_dointvec(): any int, nothing else.
        assert_eq!(proc_get_int("2"), Some(2));
        assert_eq!(proc_get_int("-1\n"), Some(-1));
        assert_eq!(proc_get_int("  0x10 7"), Some(16));
        assert_eq!(proc_get_int("-2147483648"), Some(-2147483648));
        for bad in [
            "yes",
            "offline",
            "1e9",
            "",
            "+1",
            "08",
            "2147483648",
            "1x",
            "- 1",
        ] {
            assert_eq!(proc_get_int(bad), None, "{bad:?}");
        }
        assert_eq!(proc_get_ulong(" 3 "), Some(3));
        assert_eq!(proc_get_ulong("0x4\n"), Some(4));
        assert_eq!(proc_get_ulong("010"), Some(8));
        assert_eq!(proc_get_ulong("0"), Some(0));
        assert_eq!(proc_get_ulong("5 junk"), Some(5));
        for bad in ["", " ", "x", "0x", "+5", "1.5"] {
            assert_eq!(proc_get_ulong(bad), None, "{bad:?}");
        }
    }
}
