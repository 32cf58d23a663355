//! Reading a system's memory files: the running one under "/", or a captured tree laid out
//! the same way (what `lsmem --sysroot` reads, plus a few proc files). Every file is read
//! only if it is a regular file, up to a size limit, and a file that is not what the kernel
//! writes is an error that names it.

use super::{Capture, HostBlock, ZonePages, Zones};
use mm::error::quote;
use std::io::Read as _;
use std::path::{Path, PathBuf};

/// Why a system could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{}: {why}", if *.errno == mm::Errno::EPERM { "EPERM: " } else { "" }, .file.display())]
pub struct HostError {
    /// The file (or directory) at fault.
    pub file: PathBuf,
    /// What was wrong, and what was expected there.
    pub why: String,
    /// The errno a script's boot() throws with it: EPERM for a link that leaves the tree,
    /// EINVAL for a file that is not what the kernel writes.
    pub errno: mm::Errno,
}

/// Memory blocks a tree may list: 2^21 blocks of 128 MiB are 256 TiB.
const MAX_BLOCKS: usize = 1 << 21;

/// The shell command that captures exactly the files [`read`] uses into ./host-tree (README,
/// "Your machine"). `cat`, not `cp`: sysfs and procfs files report sizes that are not theirs.
pub fn capture_command() -> &'static str {
    "sh -c 'D=$PWD/host-tree; m=sys/devices/system/memory; cd / && for f in \
     proc/sys/kernel/osrelease proc/sys/kernel/arch proc/self/smaps proc/cpuinfo proc/cmdline \
     proc/iomem proc/meminfo proc/zoneinfo proc/vmstat sys/module/memory_hotplug/parameters/* \
     $m/*_b* $m/memory*/state $m/memory*/online $m/memory*/phys_* $m/memory*/removable \
     $m/memory*/valid_zones $m/memory*/node*; do mkdir -p \"$D/${f%/*}\"; if [ -L \"$f\" ]; \
     then ln -sf \"$(readlink \"$f\")\" \"$D/$f\"; elif [ -f \"$f\" ]; then cat \"$f\" > \"$D/$f\"; fi; done'"
}

struct Tree<'a> {
    root: &'a Path,
    max_file: u64,
    /// When reading must have ended (a script's --max-time).
    deadline: Option<std::time::Instant>,
}

impl Tree<'_> {
    fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    fn err(&self, rel: &str, why: impl Into<String>) -> HostError {
        HostError {
            file: self.path(rel),
            why: why.into(),
            errno: mm::Errno::EINVAL,
        }
    }

    /// Where `rel` is, every symbolic link on the way followed only while it stays inside
    /// the tree (captured trees hold memoryN/nodeX links, and /proc/self is one); a link
    /// that leads out of it is refused (EPERM) with its name. None when something on the
    /// way does not exist.
    fn resolve(&self, rel: &str) -> Result<Option<PathBuf>, HostError> {
        use std::path::Component;
        /// Links followed for one path, as the VFS allows (ELOOP past it).
        const MAX_LINKS: usize = 40;
        let outside = |link: &Path, target: &Path| HostError {
            file: self.root.join(link),
            why: format!(
                "is a symbolic link to {} outside the tree: only links that stay inside {} \
                 are followed",
                quote(&target.to_string_lossy()),
                self.root.display()
            ),
            errno: mm::Errno::EPERM,
        };
        let mut todo: Vec<std::ffi::OsString> = Path::new(rel)
            .components()
            .rev()
            .map(|c| c.as_os_str().to_os_string())
            .collect();
        let mut at = PathBuf::new();
        let mut links = 0;
        while let Some(c) = todo.pop() {
            match Path::new(&c).components().next() {
                None | Some(Component::CurDir) => continue,
                Some(Component::ParentDir) => {
                    if !at.pop() && self.root != Path::new("/") {
                        return Err(outside(Path::new(rel), Path::new(rel)));
                    }
                    continue;
                }
                Some(Component::RootDir | Component::Prefix(_)) => {
                    at = PathBuf::new();
                    continue;
                }
                Some(Component::Normal(_)) => {}
            }
            let here = at.join(&c);
            let meta = match std::fs::symlink_metadata(self.root.join(&here)) {
                Ok(m) => m,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => return Ok(None),
                Err(e) => {
                    return Err(self.err(&here.to_string_lossy(), format!("cannot be read: {e}")))
                }
            };
            if !meta.file_type().is_symlink() {
                at = here;
                continue;
            }
            links += 1;
            let target = std::fs::read_link(self.root.join(&here))
                .map_err(|e| self.err(&here.to_string_lossy(), format!("cannot be read: {e}")))?;
            if links > MAX_LINKS {
                return Err(self.err(
                    &here.to_string_lossy(),
                    format!("more than {MAX_LINKS} symbolic links on the way (a loop)"),
                ));
            }
            // An absolute target is the tree's own only on the running system.
            if target.is_absolute() && self.root != Path::new("/") {
                return Err(outside(&here, &target));
            }
            // A relative one goes on from the link's directory, and may not climb out.
            let mut depth = at.components().count();
            for c in target.components() {
                match c {
                    Component::ParentDir if depth == 0 && self.root != Path::new("/") => {
                        return Err(outside(&here, &target))
                    }
                    Component::ParentDir => depth = depth.saturating_sub(1),
                    Component::Normal(_) => depth += 1,
                    _ => {}
                }
            }
            todo.extend(
                target
                    .components()
                    .rev()
                    .map(|c| c.as_os_str().to_os_string()),
            );
        }
        Ok(Some(self.root.join(at)))
    }

    /// The file's text, None when it does not exist.
    fn optional(&self, rel: &str) -> Result<Option<String>, HostError> {
        use std::os::unix::fs::{FileTypeExt as _, OpenOptionsExt as _};
        if self.deadline.is_some_and(|d| std::time::Instant::now() > d) {
            return Err(self.err(
                rel,
                "reached after the run's --max-time; the tree is too large to read in it",
            ));
        }
        let Some(p) = self.resolve(rel)? else {
            return Ok(None);
        };
        let meta = match std::fs::symlink_metadata(&p) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(self.err(rel, format!("cannot be read: {e}"))),
        };
        if meta.is_dir() {
            return Err(self.err(rel, "is a directory where the kernel has a file"));
        }
        let ft = meta.file_type();
        if !meta.is_file() || ft.is_fifo() || ft.is_block_device() || ft.is_char_device() {
            return Err(self.err(
                rel,
                "is not a regular file (a FIFO or device is never read)",
            ));
        }
        // Nothing on the way is a link now; O_NOFOLLOW and O_NONBLOCK keep a link or a FIFO
        // swapped in since from being followed or waited on.
        let flags = (rustix::fs::OFlags::NOFOLLOW | rustix::fs::OFlags::NONBLOCK).bits();
        let mut buf = Vec::new();
        let file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(flags as i32)
            .open(&p)
            .map_err(|e| self.err(rel, format!("cannot be read: {e}")))?;
        if !file.metadata().is_ok_and(|m| m.is_file()) {
            return Err(self.err(rel, "is not a regular file"));
        }
        file.take(self.max_file + 1)
            .read_to_end(&mut buf)
            .map_err(|e| self.err(rel, format!("cannot be read: {e}")))?;
        if buf.len() as u64 > self.max_file {
            return Err(self.err(
                rel,
                format!(
                    "is larger than {} (--max-input-size)",
                    arch::approx(self.max_file)
                ),
            ));
        }
        String::from_utf8(buf)
            .map(Some)
            .map_err(|_| self.err(rel, "is not text"))
    }

    fn required(&self, rel: &str, what: &str) -> Result<String, HostError> {
        self.optional(rel)?
            .ok_or_else(|| self.err(rel, format!("missing; it gives {what}")))
    }
}

/// Read the system under `root` ("/" for the running one). `max_file` bounds each file.
pub fn read(
    root: &Path,
    max_file: u64,
    kernel: Option<&'static arch::Kernel>,
) -> Result<Capture, HostError> {
    read_by(root, max_file, kernel, None)
}

/// [`read`], giving up at `deadline`.
pub fn read_by(
    root: &Path,
    max_file: u64,
    kernel: Option<&'static arch::Kernel>,
    deadline: Option<std::time::Instant>,
) -> Result<Capture, HostError> {
    let t = Tree {
        root,
        max_file,
        deadline,
    };
    if !root.is_dir() {
        let why = if root.exists() {
            "is not a directory (a tree captured as README's \"Your machine\" says)"
        } else {
            "does not exist (capture a tree with the command `hotplug-lab host --capture-command` prints)"
        };
        return Err(HostError {
            file: root.to_path_buf(),
            why: why.to_string(),
            errno: mm::Errno::ENOENT,
        });
    }
    let mut notes = Vec::new();
    let release = t
        .required("proc/sys/kernel/osrelease", "the kernel release (uname -r)")?
        .trim()
        .to_string();
    if release.is_empty() {
        return Err(t.err("proc/sys/kernel/osrelease", "is empty; it gives uname -r"));
    }
    let kernel_arg = kernel;
    let (kernel, kernel_exact) = match kernel {
        Some(k) => (k, arch::kernel::find(&release) == Some(k)),
        None => arch::nearest_kernel(&release).ok_or_else(|| {
            t.err(
                "proc/sys/kernel/osrelease",
                format!(
                    "Linux {} is not near a modelled version ({}); --kernel models it as one \
                     of them",
                    quote(&release),
                    arch::Kernel::names().collect::<Vec<_>>().join(", ")
                ),
            )
        })?,
    };
    let machine = t
        .required("proc/sys/kernel/arch", "the architecture (uname -m)")?
        .trim()
        .to_string();
    let cpuinfo = t.optional("proc/cpuinfo")?.unwrap_or_default();
    let page_size = page_size(&t, &machine)?;
    let cmdline_full = t.optional("proc/cmdline")?;
    if cmdline_full.is_none() {
        notes.push("proc/cmdline is missing: booted with an empty command line".to_string());
    }
    let config = configuration(
        &t,
        &machine,
        page_size,
        &cpuinfo,
        cmdline_full.as_deref().unwrap_or(""),
    )?;
    let target = arch::Target::new(config, kernel);
    let cmdline = memory_parameters(cmdline_full.as_deref().unwrap_or(""), &target, &mut notes);
    let flag = |f: &str| {
        cpuinfo
            .lines()
            .find(|l| l.starts_with("flags"))
            .map(|l| l.split_whitespace().any(|w| w == f))
    };
    let (gbpages, hypervisor) = if config.family == arch::Family::X86 {
        (flag("pdpe1gb"), flag("hypervisor"))
    } else {
        (None, None)
    };

    let mut params = Vec::new();
    for name in [
        "memmap_on_memory",
        "online_policy",
        "auto_movable_ratio",
        "auto_movable_numa_aware",
    ] {
        let rel = format!("sys/module/memory_hotplug/parameters/{name}");
        if let Some(v) = t.optional(&rel)? {
            let v = v.trim().to_string();
            let ok = match name {
                "memmap_on_memory" => matches!(v.as_str(), "Y" | "N" | "force"),
                "online_policy" => matches!(v.as_str(), "contig-zones" | "auto-movable"),
                "auto_movable_ratio" => v.parse::<u32>().is_ok(),
                _ => matches!(v.as_str(), "Y" | "N"),
            };
            if !ok {
                let want = match name {
                    "memmap_on_memory" => "Y, N or force",
                    "online_policy" => "contig-zones or auto-movable",
                    "auto_movable_ratio" => "a percentage, a number from 0 to 4294967295",
                    _ => "Y or N",
                };
                return Err(t.err(
                    &rel,
                    format!("{} is not what the kernel prints ({want})", quote(&v)),
                ));
            }
            params.push((name.to_string(), v));
        }
    }
    let ao_rel = "sys/devices/system/memory/auto_online_blocks";
    let auto_online = t.optional(ao_rel)?.map(|v| v.trim().to_string());
    if let Some(v) = &auto_online {
        if !matches!(
            v.as_str(),
            "online" | "offline" | "online_kernel" | "online_movable"
        ) {
            return Err(t.err(
                ao_rel,
                format!(
                    "{} is not online, offline, online_kernel or online_movable",
                    quote(v)
                ),
            ));
        }
    }
    let bs_rel = "sys/devices/system/memory/block_size_bytes";
    let bs_text = t.required(bs_rel, "the memory block size")?;
    let block_size = u64::from_str_radix(bs_text.trim(), 16)
        .ok()
        .filter(|b| b.is_power_of_two() && *b >= page_size)
        .ok_or_else(|| {
            t.err(
                bs_rel,
                format!(
                    "{} is not a block size in hex, a power of two (8000000 for 128 MiB)",
                    quote(bs_text.trim())
                ),
            )
        })?;
    let geometry = target.geometry;
    if block_size < geometry.section_size || block_size > 1 << 40 {
        return Err(t.err(
            bs_rel,
            format!(
                "{} is not a memory block size {} has (a power of two from its {} section to \
                 1 TiB)",
                arch::approx(block_size),
                config.name,
                arch::approx(geometry.section_size)
            ),
        ));
    }
    let blocks = blocks(&t, block_size, geometry.physmem_end)?;
    if blocks.is_empty() {
        return Err(t.err(
            "sys/devices/system/memory",
            "holds no memoryN block directories",
        ));
    }
    let off_node0 = blocks
        .iter()
        .filter(|b| b.node.is_some_and(|n| n > 0))
        .count();
    if off_node0 > 0 {
        notes.push(format!(
            "{off_node0} blocks are on nodes other than 0: the model boots all memory on node 0 \
             (its other nodes are there for hot-adds), so their node and zone fields differ"
        ));
    }
    let iomem = match t.optional("proc/iomem")? {
        Some(text) if ram_lines_are_real(&text) => Some(text),
        Some(_) => {
            notes.push(format!(
                "/proc/iomem shows no addresses (they read as zeroes without root): the RAM \
                 layout is rebuilt from the {} memory blocks, so holes inside a block are not known",
                blocks.len()
            ));
            None
        }
        None => {
            notes.push(format!(
                "proc/iomem is missing: the RAM layout is rebuilt from the {} memory blocks, so \
                 holes inside a block are not known",
                blocks.len()
            ));
            None
        }
    };
    let zones = match t.optional("proc/zoneinfo")? {
        Some(z) => {
            let zones = zoneinfo(&z).map_err(|why| t.err("proc/zoneinfo", why))?;
            if zones.is_empty() {
                return Err(t.err("proc/zoneinfo", "has no \"Node N, zone NAME\" line"));
            }
            zones
        }
        None => Vec::new(),
    };
    let mem_total_kb = match t.optional("proc/meminfo")? {
        Some(text) => Some(
            field(&text, "MemTotal:")
                .ok_or_else(|| t.err("proc/meminfo", "has no \"MemTotal: N kB\" line"))?,
        ),
        None => None,
    };
    let memmap = match t.optional("proc/vmstat")? {
        Some(text) => {
            for key in ["nr_memmap_pages", "nr_memmap_boot_pages"] {
                let present = text
                    .lines()
                    .any(|l| l.split_whitespace().next() == Some(key));
                if present && field(&text, key).is_none() {
                    return Err(t.err("proc/vmstat", format!("{key} is not followed by a number")));
                }
            }
            field(&text, "nr_memmap_pages").zip(field(&text, "nr_memmap_boot_pages"))
        }
        None => None,
    };
    Ok(Capture {
        root: root.to_path_buf(),
        machine,
        target,
        page_size,
        release,
        kernel_exact,
        kernel_chosen: kernel_arg.is_some(),
        cmdline,
        params,
        auto_online,
        block_size,
        blocks,
        iomem,
        gbpages,
        hypervisor,
        zones,
        mem_total_kb,
        memmap,
        notes,
    })
}

/// The base page size: KernelPageSize in /proc/self/smaps (that of the process that read
/// it), else the only one the architecture builds.
fn page_size(t: &Tree, machine: &str) -> Result<u64, HostError> {
    let rel = "proc/self/smaps";
    if let Some(text) = t.optional(rel)? {
        // The base page size is the smallest: a HugeTLB mapping shows its own.
        let kb = text
            .lines()
            .filter_map(|l| field(l, "KernelPageSize:"))
            .min()
            .ok_or_else(|| t.err(rel, "has no \"KernelPageSize: N kB\" line"))?;
        if !matches!(kb, 4 | 16 | 64) {
            return Err(t.err(
                rel,
                format!("KernelPageSize {kb} kB is not a base page size (4, 16 or 64 kB)"),
            ));
        }
        return Ok(kb * 1024);
    }
    // Where every configuration of this `uname -m` has one page size, that is it.
    let mut sizes: Vec<u64> = arch::CONFIGS
        .iter()
        .filter(|c| c.uname.contains(&machine))
        .map(|c| c.page_size)
        .collect();
    sizes.dedup();
    match sizes.as_slice() {
        [one] => Ok(*one),
        _ => Err(t.err(
            rel,
            format!(
                "missing; it gives the page size, which {} kernels build in several sizes",
                quote(machine)
            ),
        )),
    }
}

/// The model's configuration for `uname -m`, the page size and what /proc/cpuinfo and the
/// command line mark (the registry's rows decide; this reads the marks).
fn configuration(
    t: &Tree,
    machine: &str,
    page_size: u64,
    cpuinfo: &str,
    cmdline: &str,
) -> Result<&'static arch::Config, HostError> {
    let mut marks = Vec::new();
    // A CPU with 57-bit virtual addresses runs 5-level paging unless no5lvl is given.
    let la57 = cpuinfo
        .lines()
        .any(|l| l.starts_with("address sizes") && l.contains("57 bits virtual"));
    if la57 && !cmdline.split_whitespace().any(|p| p == "no5lvl") {
        marks.push(arch::Mark::La57);
    }
    let mmu = cpuinfo
        .lines()
        .find(|l| l.starts_with("MMU"))
        .and_then(|l| l.split(':').nth(1))
        .map(str::trim);
    match mmu {
        Some("Hash") => marks.push(arch::Mark::HashMmu),
        Some("Radix") | None => {}
        Some(other) => {
            return Err(t.err(
                "proc/cpuinfo",
                format!("MMU {} is neither Radix nor Hash", quote(other)),
            ))
        }
    }
    if let Some(c) = arch::Config::identify(machine, page_size, &marks) {
        return Ok(c);
    }
    let why = if arch::Config::known_uname(machine) {
        format!(
            "{machine} with {}K pages is not modelled (see hotplug-lab archs)",
            page_size / 1024
        )
    } else {
        format!(
            "{} is not a modelled architecture ({})",
            quote(machine),
            arch::Config::unames().join(", ")
        )
    };
    Err(t.err("proc/sys/kernel/arch", why))
}

/// The parameters of a kernel command line that the model reads, in their order; the
/// model's own hotplug_lab.* switches are never taken from a machine.
fn memory_parameters(cmdline: &str, target: &arch::Target, notes: &mut Vec<String>) -> String {
    let mut out = Vec::new();
    for arg in mm::cmdline::split_args(cmdline) {
        let name = arg.split('=').next().unwrap_or("").replace('-', "_");
        let known = !name.starts_with("hotplug_lab.")
            && (mm::cmdline::PARAMETERS.contains(&name.as_str()) || name == "memory_block_size");
        if !known {
            continue;
        }
        // The machine booted, so its kernel ignored what it could not parse: so does the model.
        match mm::cmdline::Cmdline::parse(&arg, target) {
            // mem=0 is refused by x86's parse_memopt() and ignored by arm64's
            // memblock_mem_limit_remove_map().
            Ok(c) if c.malformed.is_empty() && c.mem_limit != Some(0) => out.push(arg),
            Ok(c) => notes.push(format!(
                "the command line's {arg} is malformed ({}): the kernel ignored it, and so does the model",
                c.malformed.first().map_or("0 bytes", |m| m.why.as_str())
            )),
            Err(e) => notes.push(format!(
                "the command line's {arg} is malformed ({e}): the kernel ignored it, and so does the model"
            )),
        }
    }
    out.join(" ")
}

/// The first number after `key` at the start of a line ("MemTotal:  24683584 kB").
pub(super) fn field(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let rest = l.trim_start().strip_prefix(key)?;
        if !rest.starts_with([' ', '\t']) && !key.ends_with(':') {
            return None;
        }
        rest.split_whitespace().next()?.parse().ok()
    })
}

/// Whether the System RAM lines of /proc/iomem carry addresses (not all zero).
fn ram_lines_are_real(text: &str) -> bool {
    text.lines()
        .filter(|l| l.trim_start() == *l && l.ends_with(": System RAM"))
        .any(|l| {
            !l.split(':')
                .next()
                .unwrap_or("")
                .bytes()
                .all(|b| matches!(b, b'0' | b'-' | b' '))
        })
}

/// The memoryN directories, sorted by N.
fn blocks(t: &Tree, block_size: u64, physmem_end: u64) -> Result<Vec<HostBlock>, HostError> {
    let rel = "sys/devices/system/memory";
    let dir = t
        .resolve(rel)?
        .ok_or_else(|| t.err(rel, "missing; it holds the memory blocks"))?;
    let entries = std::fs::read_dir(&dir).map_err(|e| {
        t.err(
            rel,
            format!("cannot be listed ({e}); it holds the memory blocks"),
        )
    })?;
    let mut out = Vec::new();
    for e in entries {
        let e = e.map_err(|e| t.err(rel, format!("cannot be listed: {e}")))?;
        let name = e.file_name();
        let Some(num) = name
            .to_str()
            .and_then(|n| n.strip_prefix("memory"))
            .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        else {
            continue;
        };
        let beyond = || {
            t.err(
                &format!("{rel}/memory{num}"),
                format!(
                    "block {num} of {} lies beyond the {} the architecture addresses",
                    arch::approx(block_size),
                    arch::approx(physmem_end.saturating_add(1))
                ),
            )
        };
        if num.len() > 1 && num.starts_with('0') {
            return Err(t.err(
                &format!("{rel}/memory{num}"),
                "is not a name the kernel gives a block (memoryN, N without leading zeros)",
            ));
        }
        let id: u64 = num.parse().map_err(|_| beyond())?;
        if id
            .checked_add(1)
            .and_then(|n| n.checked_mul(block_size))
            .is_none_or(|end| end - 1 > physmem_end)
        {
            return Err(beyond());
        }
        if out.len() == MAX_BLOCKS {
            return Err(t.err(rel, format!("lists more than {MAX_BLOCKS} memory blocks")));
        }
        let b = format!("{rel}/memory{id}");
        let state = t
            .required(&format!("{b}/state"), "the block's state")?
            .trim()
            .to_string();
        if !matches!(state.as_str(), "online" | "offline" | "going-offline") {
            return Err(t.err(
                &format!("{b}/state"),
                format!("{} is not online, offline or going-offline", quote(&state)),
            ));
        }
        let vz_rel = format!("{b}/valid_zones");
        let valid_zones = t.optional(&vz_rel)?.map(|v| v.trim().to_string());
        if let Some(v) = &valid_zones {
            let zone = |w: &str| matches!(w, "DMA" | "DMA32" | "Normal" | "Movable" | "Device");
            if !(v == "none" || (!v.is_empty() && v.split(' ').all(zone))) {
                return Err(t.err(
                    &vz_rel,
                    format!(
                        "{} is not \"none\" or zone names (DMA, DMA32, Normal, Movable)",
                        quote(v)
                    ),
                ));
            }
        }
        let rm_rel = format!("{b}/removable");
        let removable = t.optional(&rm_rel)?.map(|v| v.trim().to_string());
        if let Some(v) = removable.as_deref().filter(|v| !matches!(*v, "0" | "1")) {
            return Err(t.err(&rm_rel, format!("{} is not 0 or 1", quote(v))));
        }
        let mut node = None;
        if let Some(Ok(inner)) = t.resolve(&b)?.map(std::fs::read_dir) {
            for n in inner.flatten().take(4096) {
                if let Some(nid) = n
                    .file_name()
                    .to_str()
                    .and_then(|n| n.strip_prefix("node"))
                    .and_then(|n| n.parse::<u32>().ok())
                {
                    if node.is_some_and(|n| n != nid) {
                        return Err(t.err(&b, "links to two nodes; a block lies in one"));
                    }
                    node = Some(nid);
                }
            }
        }
        out.push(HostBlock {
            id,
            state,
            valid_zones,
            removable,
            node,
        });
    }
    out.sort_by_key(|b| b.id);
    Ok(out)
}

/// The spanned, present and managed pages of every zone in /proc/zoneinfo.
pub(super) fn zoneinfo(text: &str) -> Result<Zones, String> {
    let mut out: Zones = Vec::new();
    // Which of spanned, present and managed each zone has shown.
    let mut seen: Vec<u8> = Vec::new();
    for l in text.lines() {
        if let Some(rest) = l.strip_prefix("Node ") {
            let (nid, zone) = rest
                .split_once(", zone")
                .and_then(|(n, z)| Some((n.trim().parse::<u32>().ok()?, z.trim().to_string())))
                .ok_or_else(|| format!("{} is not a \"Node N, zone NAME\" line", quote(l)))?;
            if out.iter().any(|(k, _)| *k == (nid, zone.clone())) {
                return Err(format!("Node {nid}, zone {zone} appears twice"));
            }
            out.push(((nid, zone), ZonePages::default()));
            seen.push(0u8);
            continue;
        }
        let Some((_, z)) = out.last_mut() else {
            continue;
        };
        let mut words = l.split_whitespace();
        let (Some(key), Some(v), None) = (words.next(), words.next(), words.next()) else {
            continue;
        };
        let (slot, bit) = match key {
            "spanned" => (&mut z.spanned, 1),
            "present" => (&mut z.present, 2),
            "managed" => (&mut z.managed, 4),
            _ => continue,
        };
        if let Some(b) = seen.last_mut() {
            *b |= bit;
        }
        *slot = v
            .parse()
            .map_err(|_| format!("{}: {key} is not a number of pages", quote(l)))?;
    }
    for (((nid, zone), _), bits) in out.iter().zip(&seen) {
        if *bits != 7 {
            return Err(format!(
                "Node {nid}, zone {zone} lacks one of its spanned, present and managed lines"
            ));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_memory_parameters_are_taken_from_a_command_line() {
        let mut notes = Vec::new();
        assert_eq!(
            memory_parameters(
                "BOOT_IMAGE=/vmlinuz root=/dev/vda1 quiet memhp_default_state=online \
                 memory_hotplug.memmap_on_memory=1 hotplug_lab.nodes=4 movable_node mem=0",
                &arch::Target::default_target(),
                &mut notes
            ),
            "memhp_default_state=online memory_hotplug.memmap_on_memory=1 movable_node"
        );
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(notes[0].contains("mem=0 is malformed"), "{notes:?}");
    }

    #[test]
    fn zeroed_iomem_is_told_apart() {
        assert!(!ram_lines_are_real(
            "00000000-00000000 : Reserved\n00000000-00000000 : System RAM\n"
        ));
        assert!(ram_lines_are_real("00100000-bfffffff : System RAM\n"));
    }

    #[test]
    fn fields_are_found_by_their_key() {
        let vmstat = "nr_memmap_pages 0\nnr_memmap_boot_pages 98304\n";
        assert_eq!(field(vmstat, "nr_memmap_pages"), Some(0));
        assert_eq!(field(vmstat, "nr_memmap_boot_pages"), Some(98304));
        assert_eq!(
            field("MemTotal:       24683584 kB\n", "MemTotal:"),
            Some(24683584)
        );
    }
}
