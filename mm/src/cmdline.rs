//! The kernel command line parameters that shape memory hotplug, parsed as the kernel parses
//! them (memparse(), kstrtobool(), the memory_hotplug.* module parameters, x86's memmap=).
//! Unknown parameters are kept and ignored, as the kernel does; malformed values of known
//! ones are an error.

use crate::error::{MmError, Result};

/// memory_hotplug.memmap_on_memory (mm/memory_hotplug.c memmap_mode).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum MemmapMode {
    #[default]
    Disable,
    Enable,
    Force,
}

impl MemmapMode {
    /// What /sys/module/memory_hotplug/parameters/memmap_on_memory shows.
    pub fn show(self) -> &'static str {
        match self {
            MemmapMode::Disable => "N",
            MemmapMode::Enable => "Y",
            MemmapMode::Force => "force",
        }
    }
}

/// enum mmop: how a memory block is onlined (drivers/base/memory.c online_type_to_str).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OnlineType {
    Offline,
    Online,
    OnlineKernel,
    OnlineMovable,
}

impl OnlineType {
    pub fn name(self) -> &'static str {
        match self {
            OnlineType::Offline => "offline",
            OnlineType::Online => "online",
            OnlineType::OnlineKernel => "online_kernel",
            OnlineType::OnlineMovable => "online_movable",
        }
    }

    /// mhp_online_type_from_str(): sysfs_streq() against the four names (a trailing
    /// newline is allowed).
    pub fn parse(s: &str) -> Option<OnlineType> {
        let s = s.strip_suffix('\n').unwrap_or(s);
        [
            OnlineType::Offline,
            OnlineType::Online,
            OnlineType::OnlineKernel,
            OnlineType::OnlineMovable,
        ]
        .into_iter()
        .find(|t| t.name() == s)
    }
}

/// memory_hotplug.online_policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum OnlinePolicy {
    #[default]
    ContigZones,
    AutoMovable,
}

impl OnlinePolicy {
    pub fn name(self) -> &'static str {
        match self {
            OnlinePolicy::ContigZones => "contig-zones",
            OnlinePolicy::AutoMovable => "auto-movable",
        }
    }

    pub fn parse(s: &str) -> Option<OnlinePolicy> {
        let s = s.strip_suffix('\n').unwrap_or(s);
        match s {
            "contig-zones" => Some(OnlinePolicy::ContigZones),
            "auto-movable" => Some(OnlinePolicy::AutoMovable),
            _ => None,
        }
    }
}

/// An x86 `memmap=` entry (arch/x86/kernel/e820.c parse_memmap_one()).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MemmapKind {
    /// `nn!ss`: E820_TYPE_PRAM, "Persistent Memory (legacy)".
    Pmem,
    /// `nn$ss`: E820_TYPE_RESERVED.
    Reserved,
    /// `nn@ss`: E820_TYPE_RAM.
    Ram,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MemmapEntry {
    pub kind: MemmapKind,
    pub start: u64,
    pub size: u64,
}

/// A `kernelcore=` or `movablecore=` value (cmdline_parse_core()).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CoreSize {
    /// Bytes (memparse()), kept as pages by the kernel.
    Bytes(u64),
    /// `nn%` of the memory memblock knows at boot (the kernel WARNs past 100).
    Percent(u64),
    /// `kernelcore=mirror`: the kernel memory is the mirrored memory.
    Mirror,
}

/// `cma=`'s size, and the range the area must lie in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CmaArg {
    pub size: u64,
    pub base: u64,
    /// 0: no limit beyond the arch's.
    pub limit: u64,
}

impl CmaArg {
    /// early_cma(): memparse() the size, then `@base` (the area is then fixed at base unless
    /// a `-limit` follows). A value that is not a number reads as size 0 (no area).
    fn parse(v: &str) -> CmaArg {
        let (size, rest) = memparse_wrapping(v);
        let Some(rest) = rest.strip_prefix('@') else {
            return CmaArg {
                size,
                base: 0,
                limit: 0,
            };
        };
        let (base, rest) = memparse_wrapping(rest);
        let limit = match rest.strip_prefix('-') {
            Some(l) => memparse_wrapping(l).0,
            None => base.wrapping_add(size),
        };
        CmaArg { size, base, limit }
    }
}

/// cmdline_parse_core(): `nn%` (simple_strtoull, any base, then '%') or a memparse() size,
/// both wrapping past 2^64 as the kernel's unsigned arithmetic does.
fn parse_core(v: &str) -> CoreSize {
    let t = v.trim_end_matches('\n');
    let (n, rest) = strtoull_wrapping(t);
    if rest.starts_with('%') {
        return CoreSize::Percent(n);
    }
    CoreSize::Bytes(memparse_wrapping(t).0)
}

/// The parsed command line.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Cmdline {
    /// The text it was parsed from.
    pub text: String,
    /// `mem=`.
    pub mem_limit: Option<u64>,
    /// x86 `memmap=` entries, in order.
    pub memmap: Vec<MemmapEntry>,
    pub memmap_on_memory: MemmapMode,
    /// `memhp_default_state=`; None keeps the Kconfig default.
    pub memhp_default_state: Option<OnlineType>,
    pub online_policy: OnlinePolicy,
    pub auto_movable_ratio: u64,
    pub auto_movable_numa_aware: bool,
    pub movable_node: bool,
    /// `hugetlb_free_vmemmap=`; None keeps the Kconfig default (off in Debian's config).
    pub hugetlb_free_vmemmap: Option<bool>,
    /// `hugepagesz=`/`hugepages=` pairs: (size, count); size None means the default size.
    pub hugepages: Vec<(Option<u64>, u64)>,
    /// The texts of those pairs as given (`hugepagesz=`'s value, `hugepages=`'s value), for
    /// the kernel's messages about them.
    pub hugepages_text: Vec<(Option<String>, String)>,
    pub default_hugepagesz: Option<u64>,
    /// hotplug-lab's own options (not kernel parameters): `hotplug_lab.design=`.
    pub design: String,
    /// `hotplug_lab.block_size=`: the block size the platform firmware reports (pseries LMB
    /// size, s390 storage increment, an x86 platform's set_memory_block_size_order()).
    pub firmware_block_size: Option<u64>,
    /// `hotplug_lab.hypervisor=0|1`: whether the CPU reports X86_FEATURE_HYPERVISOR.
    pub hypervisor: Option<bool>,
    /// `gbpages` / `nogbpages` (x86 early_param_on_off, arch/x86/mm/init.c): whether the
    /// linear map may use 1 GiB pages; the last one given wins, any value is ignored.
    pub direct_gbpages: Option<bool>,
    /// `hotplug_lab.gbpages=0|1`: whether the CPU has X86_FEATURE_GBPAGES.
    pub cpu_gbpages: Option<bool>,
    /// `hotplug_lab.nodes=N`: NUMA nodes the firmware declares (all memory boots on node 0).
    pub nodes: Option<u16>,
    /// `kernelcore=` (mm/mm_init.c cmdline_parse_kernelcore()).
    pub kernelcore: Option<CoreSize>,
    /// `movablecore=` (cmdline_parse_movablecore(); `mirror` is not one of its values).
    pub movablecore: Option<CoreSize>,
    /// `cma=size[@base[-limit]]` (kernel/dma/contiguous.c early_cma(), with DMA_CMA).
    pub cma: Option<CmaArg>,
    /// Parameters the kernel does not know; ignored.
    pub unknown: Vec<String>,
    /// Known parameters with a value their handler refused; the default stays.
    pub malformed: Vec<Malformed>,
}

/// A known parameter whose value its handler refused: the kernel keeps the default and
/// goes on booting, saying so in its log or not at all.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Malformed {
    /// `param=value` as given.
    pub arg: String,
    /// What was expected.
    pub why: String,
    /// The kernel's log line, if its handler prints one.
    pub log: Option<String>,
}

impl Default for Cmdline {
    fn default() -> Self {
        Cmdline {
            text: String::new(),
            mem_limit: None,
            memmap: Vec::new(),
            memmap_on_memory: MemmapMode::Disable,
            memhp_default_state: None,
            online_policy: OnlinePolicy::ContigZones,
            auto_movable_ratio: 301,
            auto_movable_numa_aware: true,
            movable_node: false,
            hugetlb_free_vmemmap: None,
            hugepages: Vec::new(),
            hugepages_text: Vec::new(),
            default_hugepagesz: None,
            design: "mainline".to_string(),
            firmware_block_size: None,
            hypervisor: None,
            direct_gbpages: None,
            cpu_gbpages: None,
            nodes: None,
            kernelcore: None,
            movablecore: None,
            cma: None,
            unknown: Vec::new(),
            malformed: Vec::new(),
        }
    }
}

/// memparse(): a number (decimal, 0x hex or 0 octal, as simple_strtoull with base 0) with an
/// optional K/M/G/T/P/E suffix. Returns the value and the rest of the string.
pub fn memparse(s: &str) -> Option<(u64, &str)> {
    let (digits_start, radix) = if s.starts_with("0x") || s.starts_with("0X") {
        (2, 16)
    } else if s.starts_with('0') && s.len() > 1 && s.as_bytes()[1].is_ascii_digit() {
        (1, 8)
    } else {
        (0, 10)
    };
    let body = &s[digits_start..];
    let n = body.chars().take_while(|c| c.is_digit(radix)).count();
    if n == 0 {
        return None;
    }
    let value = u64::from_str_radix(&body[..n], radix).ok()?;
    let rest = &body[n..];
    let (shift, rest) = match rest.chars().next() {
        Some('K' | 'k') => (10, &rest[1..]),
        Some('M' | 'm') => (20, &rest[1..]),
        Some('G' | 'g') => (30, &rest[1..]),
        Some('T' | 't') => (40, &rest[1..]),
        Some('P' | 'p') => (50, &rest[1..]),
        Some('E' | 'e') => (60, &rest[1..]),
        _ => (0, rest),
    };
    let v = value.checked_mul(1u64 << shift)?;
    Some((v, rest))
}

/// simple_strtoull() with base 0: decimal, 0x hex or 0 octal digits, wrapping past 2^64 as
/// the kernel's does. A value without digits is 0 with nothing consumed.
pub fn strtoull_wrapping(s: &str) -> (u64, &str) {
    let (body, radix) = if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        (h, 16)
    } else if s.len() > 1 && s.starts_with('0') {
        (&s[1..], 8)
    } else {
        (s, 10)
    };
    let n = body.chars().take_while(|c| c.is_digit(radix)).count();
    if n == 0 {
        return (0, s);
    }
    let value = body[..n].chars().fold(0u64, |v, c| {
        v.wrapping_mul(radix.into())
            .wrapping_add(c.to_digit(radix).unwrap_or(0).into())
    });
    (value, &body[n..])
}

/// memparse() as the kernel computes it: simple_strtoull() and the suffix's shift, wrapping
/// past 2^64 instead of failing.
pub fn memparse_wrapping(s: &str) -> (u64, &str) {
    let (value, rest) = strtoull_wrapping(s);
    if rest.len() == s.len() {
        return (0, s);
    }
    let (shift, rest) = match rest.chars().next() {
        Some('K' | 'k') => (10, &rest[1..]),
        Some('M' | 'm') => (20, &rest[1..]),
        Some('G' | 'g') => (30, &rest[1..]),
        Some('T' | 't') => (40, &rest[1..]),
        Some('P' | 'p') => (50, &rest[1..]),
        Some('E' | 'e') => (60, &rest[1..]),
        _ => (0, rest),
    };
    (value << shift, rest)
}

/// A whole size: memparse() that must consume everything.
pub fn parse_size(s: &str) -> Option<u64> {
    match memparse(s.trim()) {
        Some((v, "")) => Some(v),
        _ => None,
    }
}

/// A whole size, or why it is not one: not a number with a K/M/G/T/P/E suffix, or one past
/// 2^64 - 1 (simple_strtoull would wrap it; the model refuses).
pub fn parse_size_or_why(s: &str) -> std::result::Result<u64, String> {
    if let Some(v) = parse_size(s) {
        return Ok(v);
    }
    let t = s.trim();
    // Overflow: digits (and a suffix) that memparse reads, but whose value does not fit.
    let (body, radix) = if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        (h, 16)
    } else if t.len() > 1 && t.starts_with('0') {
        (&t[1..], 8)
    } else {
        (t, 10)
    };
    let n = body.chars().take_while(|c| c.is_digit(radix)).count();
    let rest = &body[n..];
    let suffix_ok = rest.is_empty() || (rest.len() == 1 && "KkMmGgTtPpEe".contains(rest));
    if n > 0 && suffix_ok {
        return Err(format!(
            "{} overflows: sizes go up to 16E - 1 (0xffffffffffffffff)",
            crate::error::quote(s)
        ));
    }
    Err(format!(
        "{} is not a size (a number with K, M, G, T, P or E, like \"4G\" or 0x100000)",
        crate::error::quote(s)
    ))
}

/// kstrtobool() (lib/kstrtox.c): y/Y/t/T/1/on → true, n/N/f/F/0/off → false, by the
/// first character (the second for on/off).
pub fn kstrtobool(s: &str) -> Option<bool> {
    let s = s.strip_suffix('\n').unwrap_or(s);
    let b = s.as_bytes();
    match b.first()? {
        // lib/kstrtox.c: 'YyTt1' and 'NnFf0' (so 6.1's bool memmap_on_memory reads "force" as
        // false, as a real 6.1 guest shows).
        b'y' | b'Y' | b't' | b'T' | b'1' => Some(true),
        b'n' | b'N' | b'f' | b'F' | b'0' => Some(false),
        b'o' | b'O' => match b.get(1)? {
            b'n' | b'N' => Some(true),
            b'f' | b'F' => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// Split a command line into parameters, honouring double quotes as the kernel's
/// next_arg() does.
pub fn split_args(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_quote = false;
    for c in text.chars() {
        match c {
            '"' => in_quote = !in_quote,
            c if c.is_whitespace() && !in_quote => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

impl Cmdline {
    /// Parse a kernel command line as `kernel` reads it.
    pub fn parse(text: &str, target: &arch::Target) -> Result<Cmdline> {
        let (arch, kernel) = (target.arch(), target.kernel);
        let mut c = Cmdline {
            text: text.trim().to_string(),
            ..Cmdline::default()
        };
        let bad = |p: &str, v: &str, why: &str| {
            MmError::Invalid(format!(
                "kernel command line: {p}={}: {why}",
                crate::error::quote(v).trim_matches('"')
            ))
        };
        let mut pending_size: Option<u64> = None;
        let mut pending_text: Option<String> = None;
        // parse_args() (kernel/params.c) for module and core parameters: the handler's error
        // is logged and the default stays.
        let invalid_param = |param: &str, v: &str| {
            Some(format!(
                "Booting kernel: `{v}' invalid for parameter `{param}'"
            ))
        };
        let mut malformed: Vec<Malformed> = Vec::new();
        for arg in split_args(text) {
            let (key, val) = match arg.split_once('=') {
                Some((k, v)) => (k.to_string(), Some(v.to_string())),
                None => (arg.clone(), None),
            };
            // The kernel treats '-' and '_' in parameter names alike.
            let norm = key.replace('-', "_");
            let need = |v: &Option<String>| {
                v.clone()
                    .ok_or_else(|| bad(&key, "", "a value is required"))
            };
            match norm.as_str() {
                "mem" => {
                    let v = need(&val)?;
                    c.mem_limit = Some(parse_size(&v).ok_or_else(|| bad(&key, &v, "not a size"))?);
                }
                "memmap" => {
                    let v = need(&val)?;
                    for part in v.split(',') {
                        let e = parse_memmap(part)
                            .ok_or_else(|| bad(&key, part, "expected nn!ss, nn$ss or nn@ss"))?;
                        if e.start.checked_add(e.size).is_none() {
                            return Err(MmError::OutOfRange(format!(
                                "kernel command line: {key}={part}: the range ends past the \
                                 top of the 64-bit address space"
                            )));
                        }
                        c.memmap.push(e);
                    }
                }
                "memory_hotplug.memmap_on_memory" => {
                    let v = val.clone().unwrap_or_default();
                    // 6.12's parameter takes "force"; 6.1's is a bool (param_set_bool()).
                    let force = kernel.memmap_on_memory_force && (v == "force" || v == "FORCE");
                    let mode = if force {
                        Some(MemmapMode::Force)
                    } else {
                        kstrtobool(&v).map(|on| {
                            if on {
                                MemmapMode::Enable
                            } else {
                                MemmapMode::Disable
                            }
                        })
                    };
                    match mode {
                        Some(m) => c.memmap_on_memory = m,
                        None => malformed.push(Malformed {
                            arg: arg.clone(),
                            why: if kernel.memmap_on_memory_force {
                                "expected a boolean or \"force\"".into()
                            } else {
                                "expected a boolean".into()
                            },
                            log: invalid_param(&key, &v),
                        }),
                    }
                }
                "memhp_default_state" => {
                    // setup_memhp_default_state() keeps the default without a word.
                    let v = val.clone().unwrap_or_default();
                    match OnlineType::parse(&v) {
                        Some(t) => c.memhp_default_state = Some(t),
                        None => malformed.push(Malformed {
                            arg: arg.clone(),
                            why: "expected online, online_kernel, online_movable or offline".into(),
                            log: None,
                        }),
                    }
                }
                "memory_hotplug.online_policy" => {
                    let v = val.clone().unwrap_or_default();
                    match OnlinePolicy::parse(&v) {
                        Some(p) => c.online_policy = p,
                        None => malformed.push(Malformed {
                            arg: arg.clone(),
                            why: "expected contig-zones or auto-movable".into(),
                            log: invalid_param(&key, &v),
                        }),
                    }
                }
                "memory_hotplug.auto_movable_ratio" => {
                    let v = val.clone().unwrap_or_default();
                    match v.parse::<u32>() {
                        Ok(r) => c.auto_movable_ratio = r.into(),
                        Err(_) => malformed.push(Malformed {
                            arg: arg.clone(),
                            why: "expected an unsigned integer".into(),
                            log: invalid_param(&key, &v),
                        }),
                    }
                }
                "memory_hotplug.auto_movable_numa_aware" => {
                    // param_set_bool(): no value means true.
                    match val.as_deref().map_or(Some(true), kstrtobool) {
                        Some(b) => c.auto_movable_numa_aware = b,
                        None => malformed.push(Malformed {
                            arg: arg.clone(),
                            why: "expected a boolean".into(),
                            log: invalid_param(&key, val.as_deref().unwrap_or("")),
                        }),
                    }
                }
                "movable_node" => c.movable_node = true,
                "gbpages" => c.direct_gbpages = Some(true),
                "nogbpages" => c.direct_gbpages = Some(false),
                "hugetlb_free_vmemmap" => {
                    // A core_param bool (mm/hugetlb_vmemmap.c): no value means on.
                    match val.as_deref().map_or(Some(true), kstrtobool) {
                        Some(b) => c.hugetlb_free_vmemmap = Some(b),
                        None => malformed.push(Malformed {
                            arg: arg.clone(),
                            why: "expected on or off".into(),
                            log: invalid_param(&key, val.as_deref().unwrap_or("")),
                        }),
                    }
                }
                "hugepagesz" => {
                    let v = need(&val)?;
                    pending_size = Some(parse_size(&v).ok_or_else(|| bad(&key, &v, "not a size"))?);
                    pending_text = Some(v);
                }
                "hugepages" => {
                    let v = need(&val)?;
                    let n = v
                        .parse::<u64>()
                        .map_err(|_| bad(&key, &v, "expected a count"))?;
                    c.hugepages.push((pending_size.take(), n));
                    c.hugepages_text.push((pending_text.take(), v));
                }
                "default_hugepagesz" => {
                    let v = need(&val)?;
                    c.default_hugepagesz =
                        Some(parse_size(&v).ok_or_else(|| bad(&key, &v, "not a size"))?);
                }
                "hotplug_lab.design" => {
                    let v = need(&val)?;
                    if crate::design::lookup(&v).is_none() {
                        return Err(bad(
                            &key,
                            &v,
                            &format!("designs are {}", crate::design::names().join(", ")),
                        ));
                    }
                    c.design = v;
                }
                "hotplug_lab.block_size" => {
                    let v = need(&val)?;
                    c.firmware_block_size =
                        Some(parse_size(&v).ok_or_else(|| bad(&key, &v, "not a size"))?);
                }
                "hotplug_lab.hypervisor" => {
                    let v = need(&val)?;
                    c.hypervisor =
                        Some(kstrtobool(&v).ok_or_else(|| bad(&key, &v, "expected 0 or 1"))?);
                }
                "hotplug_lab.gbpages" => {
                    let v = need(&val)?;
                    c.cpu_gbpages =
                        Some(kstrtobool(&v).ok_or_else(|| bad(&key, &v, "expected 0 or 1"))?);
                }
                "hotplug_lab.nodes" => {
                    let v = need(&val)?;
                    let n = v
                        .parse::<u16>()
                        .map_err(|_| bad(&key, &v, "expected a node count"))?;
                    if n == 0 || n > 64 {
                        return Err(bad(&key, &v, "between 1 and 64 nodes"));
                    }
                    c.nodes = Some(n);
                }
                "kernelcore" => {
                    // cmdline_parse_kernelcore() hands a missing value to parse_option_str(),
                    // which dereferences it: the kernel does not boot.
                    let v = val.clone().ok_or_else(|| {
                        MmError::Invalid(format!(
                            "kernel command line: {key} needs a value (a size, nn% or mirror): \
                             without one cmdline_parse_kernelcore() passes NULL to \
                             parse_option_str(), and the kernel crashes before it boots"
                        ))
                    })?;
                    if v == "mirror" {
                        c.kernelcore = Some(CoreSize::Mirror);
                        if !kernel.kernelcore_mirror_check {
                            malformed.push(Malformed {
                                arg: arg.clone(),
                                why: "kernelcore=mirror is not modelled on this version: \
                                      without mirrored memory its kernel makes the memory \
                                      above 4 GiB ZONE_MOVABLE while the kernel zones still \
                                      span it; the model boots without it"
                                    .into(),
                                log: None,
                            });
                        }
                    } else {
                        c.kernelcore = Some(parse_core(&v));
                    }
                }
                "movablecore" => match val.as_deref() {
                    Some(v) => c.movablecore = Some(parse_core(v)),
                    // cmdline_parse_core() refuses NULL; do_early_param() says so.
                    None => malformed.push(Malformed {
                        arg: arg.clone(),
                        why: "a size or nn% is required".into(),
                        log: Some(format!("Malformed early option '{key}'")),
                    }),
                },
                // Only where the build has DMA_CMA: elsewhere the kernel does not know it.
                "cma" if arch.cma(kernel).is_some_and(|a| a.dma.is_some()) => {
                    match val.as_deref() {
                        Some(v) => c.cma = Some(CmaArg::parse(v)),
                        None => malformed.push(Malformed {
                            arg: arg.clone(),
                            why: "a size is required".into(),
                            log: Some(format!(
                                "cma: Config string not provided\nMalformed early option '{key}'"
                            )),
                        }),
                    }
                }
                _ => c.unknown.push(arg.clone()),
            }
        }
        c.malformed = malformed;
        Ok(c)
    }

    /// Parse as [`Cmdline::parse`], and make a malformed value of a known parameter an error
    /// (`--strict`), where the kernel would keep the default.
    pub fn parse_strict(text: &str, target: &arch::Target) -> Result<Cmdline> {
        let c = Cmdline::parse(text, target)?;
        match c.malformed.first() {
            Some(m) => Err(MmError::Invalid(format!(
                "kernel command line: {}: {} (the kernel would keep the default; --strict \
                 makes it an error)",
                crate::error::quote(&m.arg),
                m.why
            ))),
            None => Ok(c),
        }
    }
}

/// The parameters the model knows (as Cmdline::parse spells them, '-' read as '_'), for
/// suggestions when a user misspells one.
pub const PARAMETERS: &[&str] = &[
    "mem",
    "memmap",
    "memory_hotplug.memmap_on_memory",
    "memhp_default_state",
    "memory_hotplug.online_policy",
    "memory_hotplug.auto_movable_ratio",
    "memory_hotplug.auto_movable_numa_aware",
    "movable_node",
    "gbpages",
    "nogbpages",
    "hugetlb_free_vmemmap",
    "hugepagesz",
    "hugepages",
    "default_hugepagesz",
    "hotplug_lab.design",
    "hotplug_lab.block_size",
    "hotplug_lab.hypervisor",
    "hotplug_lab.gbpages",
    "hotplug_lab.nodes",
    "kernelcore",
    "movablecore",
    "cma",
];

/// The known parameter an unknown one is probably a misspelling of.
pub fn did_you_mean(name: &str) -> Option<&'static str> {
    let norm = name.replace('-', "_");
    PARAMETERS
        .iter()
        .map(|p| (strsim::levenshtein(&norm, p), *p))
        .filter(|&(d, p)| d <= 2.max(p.len() / 8))
        .min()
        .map(|(_, p)| p)
}

impl Cmdline {
    /// What init/main.c's print_unknown_bootoptions() lists: the unknown parameters that
    /// unknown_bootoption() hands to init, first those without a value (argv), then those
    /// with one (envp, a repeated name keeping its first place and its last value). Names
    /// with a '.' (unused module parameters) and bootloader identifiers (BOOT_IMAGE=,
    /// kexec) are dropped without a word.
    pub fn unknown_for_init(&self) -> Vec<String> {
        let (mut argv, mut envp): (Vec<String>, Vec<String>) = (Vec::new(), Vec::new());
        for p in &self.unknown {
            let name = p.split('=').next().unwrap_or(p);
            if name.contains('.') || p.starts_with("BOOT_IMAGE=") || p.starts_with("kexec") {
                continue;
            }
            if p.contains('=') {
                match envp.iter_mut().find(|e| e.split('=').next() == Some(name)) {
                    Some(e) => *e = p.clone(),
                    None => envp.push(p.clone()),
                }
            } else {
                argv.push(p.clone());
            }
        }
        argv.extend(envp);
        argv
    }
}

/// One `memmap=` entry: `nn!ss`, `nn$ss` or `nn@ss`.
fn parse_memmap(s: &str) -> Option<MemmapEntry> {
    let (size, rest) = memparse(s)?;
    let mut chars = rest.chars();
    let kind = match chars.next()? {
        '!' => MemmapKind::Pmem,
        '$' => MemmapKind::Reserved,
        '@' => MemmapKind::Ram,
        _ => return None,
    };
    let start = parse_size(chars.as_str())?;
    if size == 0 {
        return None;
    }
    Some(MemmapEntry { kind, start, size })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The target the tests read command lines on.
    fn k() -> arch::Target {
        arch::Target::parse("x86_64", "6.12").unwrap()
    }

    #[test]
    fn memparse_like_the_kernel() {
        assert_eq!(parse_size("4G"), Some(4 << 30));
        assert_eq!(parse_size("0xfc000000"), Some(0xfc00_0000));
        assert_eq!(parse_size("128m"), Some(128 << 20));
        // simple_strtoull with base 0: a leading 0 means octal.
        assert_eq!(parse_size("010M"), Some(8 << 20));
        assert_eq!(parse_size("0"), Some(0));
        assert_eq!(parse_size("G"), None);
        assert_eq!(parse_size("4Q"), None);
        assert_eq!(parse_size("99999999999999999999"), None);
        assert_eq!(parse_size("16E"), None);
    }

    #[test]
    fn kstrtobool_values() {
        for t in ["1", "y", "Y", "yes", "on", "ON", "true", "T"] {
            assert_eq!(kstrtobool(t), Some(true), "{t}");
        }
        for f in ["0", "n", "N", "off", "OFF", "false", "F", "force"] {
            assert_eq!(kstrtobool(f), Some(false), "{f}");
        }
        assert_eq!(kstrtobool("maybe"), None);
        assert_eq!(kstrtobool("o"), None);
        assert_eq!(kstrtobool(""), None);
    }

    /// 6.1's memmap_on_memory is a bool module parameter: "force" is kstrtobool's 'f', off,
    /// without a word (tests/fixtures/oracle-x86_64-6.1-force.txt shows N).
    #[test]
    fn force_is_false_on_6_1() {
        let c = Cmdline::parse(
            "memory_hotplug.memmap_on_memory=force",
            &arch::Target::parse("x86_64", "6.1").unwrap(),
        )
        .unwrap();
        assert_eq!(c.memmap_on_memory, MemmapMode::Disable);
        assert!(c.malformed.is_empty());
        let c = Cmdline::parse("memory_hotplug.memmap_on_memory=force", &k()).unwrap();
        assert_eq!(c.memmap_on_memory, MemmapMode::Force);
    }

    #[test]
    fn full_line() {
        let c = Cmdline::parse(
            "console=ttyS0 memory_hotplug.memmap_on_memory=force memhp_default_state=offline \
             memory-hotplug.online_policy=auto-movable movable_node memmap=0xfc000000!8G \
             hugepagesz=1G hugepages=4 hugepages=16 hugetlb_free_vmemmap=on quiet",
            &k(),
        )
        .unwrap();
        assert_eq!(c.memmap_on_memory, MemmapMode::Force);
        assert_eq!(c.memhp_default_state, Some(OnlineType::Offline));
        assert_eq!(c.online_policy, OnlinePolicy::AutoMovable);
        assert!(c.movable_node);
        assert_eq!(
            c.memmap,
            vec![MemmapEntry {
                kind: MemmapKind::Pmem,
                start: 8 << 30,
                size: 0xfc00_0000
            }]
        );
        assert_eq!(c.hugepages, vec![(Some(1 << 30), 4), (None, 16)]);
        assert_eq!(c.hugetlb_free_vmemmap, Some(true));
        assert_eq!(
            c.unknown,
            vec!["console=ttyS0".to_string(), "quiet".to_string()]
        );
    }

    #[test]
    fn malformed_known_values_keep_the_default_as_the_kernel_does() {
        // A module or core parameter's refused value: parse_args() logs it, the default
        // stays (kernel/params.c).
        let c = Cmdline::parse(
            "memory_hotplug.memmap_on_memory=2 memhp_default_state=onlin",
            &k(),
        )
        .unwrap();
        assert_eq!(c.memmap_on_memory, MemmapMode::Disable);
        assert_eq!(c.memhp_default_state, None);
        assert_eq!(c.malformed.len(), 2);
        assert_eq!(
            c.malformed[0].log.as_deref(),
            Some("Booting kernel: `2' invalid for parameter `memory_hotplug.memmap_on_memory'")
        );
        // setup_memhp_default_state() says nothing (mm/memory_hotplug.c).
        assert_eq!(c.malformed[1].log, None);
        let c = Cmdline::parse(
            "memory_hotplug.auto_movable_ratio=-1 hugetlb_free_vmemmap=maybe",
            &k(),
        )
        .unwrap();
        assert_eq!(c.auto_movable_ratio, Cmdline::default().auto_movable_ratio);
        assert_eq!(c.hugetlb_free_vmemmap, None);
        assert_eq!(c.malformed.len(), 2);
        // A bool parameter without a value is true (param_set_bool()).
        let c = Cmdline::parse("hugetlb_free_vmemmap", &k()).unwrap();
        assert_eq!(c.hugetlb_free_vmemmap, Some(true));
        // --strict refuses them.
        let e = Cmdline::parse_strict("memory_hotplug.memmap_on_memory=maybe", &k()).unwrap_err();
        assert!(e.to_string().contains("--strict"), "{e}");
        assert!(Cmdline::parse_strict("memory_hotplug.memmap_on_memory=force", &k()).is_ok());
    }

    #[test]
    fn malformed_values_the_model_cannot_place_are_errors() {
        // Arch early parameters and hugetlb's boot allocation stay errors (not yet modelled
        // per arch), as do hotplug-lab's own options.
        assert!(Cmdline::parse("mem=lots", &k()).is_err());
        assert!(Cmdline::parse("memmap=4G", &k()).is_err());
        assert!(Cmdline::parse("mem", &k()).is_err());
        assert!(Cmdline::parse("hotplug_lab.nodes=0", &k()).is_err());
        // Unknown parameters, even odd ones, are ignored.
        assert!(Cmdline::parse("whatever=%% \"a b\"", &k()).is_ok());
    }
}
