//! Every architecture configuration the model has, one row each: its name, how a live
//! system shows it (`uname -m`, the page size, a CPU or MMU mark), its family, whether
//! `--arch all` takes it, and its description. Names, aliases, `all`, the lookup, the
//! error for an unknown name and the host's identification all come from these rows.

use crate::{arm64, powerpc, s390, x86_64, Arch, ArchError};

/// The architecture a configuration belongs to (`hotplug-lab kernels` shows one column
/// per family).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    X86,
    Arm64,
    Powerpc,
    S390,
}

/// What tells one configuration from another of the same `uname -m` and page size on a
/// live system.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mark {
    /// The CPU has 57-bit virtual addresses and the kernel runs 5-level paging (no
    /// `no5lvl`).
    La57,
    /// /proc/cpuinfo says `MMU : Hash`.
    HashMmu,
}

/// One architecture configuration.
#[derive(Debug)]
pub struct Config {
    /// The name flags, scripts and the TUI take.
    pub name: &'static str,
    /// What `uname -m` prints on it; the first configuration to list a name is what that
    /// name means when given as an architecture (`aarch64` is arm64 with 4K pages).
    pub uname: &'static [&'static str],
    /// What else people call it (Debian's architecture names): accepted as its name, never
    /// used to identify a live system.
    pub aliases: &'static [&'static str],
    /// Its base page size.
    pub page_size: u64,
    /// What else marks it on a live system (none: the plain configuration).
    pub mark: Option<Mark>,
    pub family: Family,
    /// Whether `--arch all` takes it (one per architecture, and arm64's 64K pages).
    pub in_all: bool,
    /// One line saying which configuration this is.
    pub description: &'static str,
    /// Its backend.
    pub arch: &'static dyn Arch,
}

/// The configurations, in the order tables and `--arch every` list them. The first is the
/// default.
pub static CONFIGS: &[Config] = &[
    Config {
        name: "x86_64",
        uname: &["x86_64"],
        aliases: &["amd64"],
        page_size: 4096,
        mark: None,
        family: Family::X86,
        in_all: true,
        description: "x86_64, 4 KiB pages, 4-level paging (46-bit physical addresses)",
        arch: &x86_64::X86_64,
    },
    Config {
        name: "x86_64-la57",
        uname: &["x86_64"],
        aliases: &[],
        page_size: 4096,
        mark: Some(Mark::La57),
        family: Family::X86,
        in_all: false,
        description: "x86_64, 4 KiB pages, 5-level paging (52-bit physical addresses)",
        arch: &x86_64::X86_64_LA57,
    },
    Config {
        name: "arm64",
        uname: &["aarch64", "arm64"],
        aliases: &[],
        page_size: 4096,
        mark: None,
        family: Family::Arm64,
        in_all: true,
        description: "arm64, 4 KiB pages, 48-bit VA/PA",
        arch: &arm64::ARM64_4K,
    },
    Config {
        name: "arm64-16k",
        uname: &["aarch64", "arm64"],
        aliases: &[],
        page_size: 16384,
        mark: None,
        family: Family::Arm64,
        in_all: false,
        description: "arm64, 16 KiB pages, 48-bit VA/PA",
        arch: &arm64::ARM64_16K,
    },
    Config {
        name: "arm64-64k",
        uname: &["aarch64", "arm64"],
        aliases: &[],
        page_size: 65536,
        mark: None,
        family: Family::Arm64,
        in_all: true,
        description: "arm64, 64 KiB pages, 48-bit VA/PA",
        arch: &arm64::ARM64_64K,
    },
    Config {
        name: "powerpc",
        uname: &["ppc64le", "ppc64"],
        aliases: &["ppc64el"],
        page_size: 65536,
        mark: None,
        family: Family::Powerpc,
        in_all: true,
        description: "powerpc64 book3s, 64 KiB pages, radix MMU",
        arch: &powerpc::POWERPC_RADIX,
    },
    Config {
        name: "powerpc-hash",
        uname: &["ppc64le", "ppc64"],
        aliases: &[],
        page_size: 65536,
        mark: Some(Mark::HashMmu),
        family: Family::Powerpc,
        in_all: false,
        description: "powerpc64 book3s, 64 KiB pages, hash MMU (disable_radix)",
        arch: &powerpc::POWERPC_HASH,
    },
    Config {
        name: "s390",
        uname: &["s390x"],
        aliases: &[],
        page_size: 4096,
        mark: None,
        family: Family::S390,
        in_all: true,
        description: "s390x, 4 KiB pages, EDAT1 (1 MiB segments)",
        arch: &s390::S390,
    },
];

impl Config {
    /// The default configuration (x86_64).
    pub fn default_config() -> &'static Config {
        &CONFIGS[0]
    }

    /// Every configuration's name.
    pub fn names() -> impl Iterator<Item = &'static str> {
        CONFIGS.iter().map(|c| c.name)
    }

    /// What `--arch all` means.
    pub fn all() -> impl Iterator<Item = &'static Config> {
        CONFIGS.iter().filter(|c| c.in_all)
    }

    /// The first configuration of each family, in table order.
    pub fn one_per_family() -> impl Iterator<Item = &'static Config> {
        CONFIGS
            .iter()
            .enumerate()
            .filter(|(i, c)| !CONFIGS[..*i].iter().any(|d| d.family == c.family))
            .map(|(_, c)| c)
    }

    /// The configuration a name means: its own name or a `uname -m` name, in any case,
    /// `_` and `-` alike. An unknown name is an error that lists the names and says which
    /// one was probably meant.
    pub fn lookup(name: &str) -> Result<&'static Config, ArchError> {
        let want = name.trim().to_ascii_lowercase().replace('_', "-");
        let norm = |n: &str| n.to_ascii_lowercase().replace('_', "-");
        CONFIGS
            .iter()
            .find(|c| norm(c.name) == want)
            .or_else(|| {
                CONFIGS
                    .iter()
                    .find(|c| c.uname.iter().any(|u| norm(u) == want))
            })
            .or_else(|| {
                CONFIGS
                    .iter()
                    .find(|c| c.aliases.iter().any(|a| norm(a) == want))
            })
            .ok_or_else(|| ArchError::Unknown(name.to_string()))
    }

    /// The configuration a live system is: `uname -m`, its page size, and the marks it
    /// shows. None when the model has no such configuration.
    pub fn identify(uname: &str, page_size: u64, marks: &[Mark]) -> Option<&'static Config> {
        let mut fits = CONFIGS
            .iter()
            .filter(|c| c.uname.contains(&uname) && c.page_size == page_size);
        let fits: Vec<&Config> = fits.by_ref().collect();
        fits.iter()
            .find(|c| c.mark.is_some_and(|m| marks.contains(&m)))
            .or_else(|| fits.iter().find(|c| c.mark.is_none()))
            .copied()
    }

    /// Whether a live system of this `uname -m` name is one the model has at all.
    pub fn known_uname(uname: &str) -> bool {
        CONFIGS.iter().any(|c| c.uname.contains(&uname))
    }

    /// The `uname -m` names the model knows, each once.
    pub fn unames() -> Vec<&'static str> {
        let mut v: Vec<&str> = Vec::new();
        for u in CONFIGS.iter().flat_map(|c| c.uname.iter().copied()) {
            if !v.contains(&u) {
                v.push(u);
            }
        }
        v
    }
}

/// The name among `names` that `given` is probably a misspelling of.
pub fn did_you_mean<'a>(given: &str, names: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    if given.len() > 64 {
        return None;
    }
    let given = given.to_ascii_lowercase();
    names
        .map(|n| (strsim::levenshtein(&given, n), n))
        .filter(|&(d, n)| d <= 2.max(n.len() / 3))
        .min()
        .map(|(_, n)| n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_aliases_and_identification_come_from_the_rows() {
        assert_eq!(Config::lookup("AArch64").unwrap().name, "arm64");
        assert_eq!(Config::lookup("ppc64le").unwrap().name, "powerpc");
        assert_eq!(Config::lookup("s390x").unwrap().name, "s390");
        assert_eq!(Config::lookup("x86-64").unwrap().name, "x86_64");
        assert_eq!(Config::lookup("ARM64_16K").unwrap().name, "arm64-16k");
        let e = Config::lookup("arm46").unwrap_err().to_string();
        assert!(e.contains("did you mean arm64?"), "{e}");
        assert!(e.contains("x86_64-la57"), "{e}");
        assert_eq!(
            Config::all().map(|c| c.name).collect::<Vec<_>>(),
            ["x86_64", "arm64", "arm64-64k", "powerpc", "s390"]
        );
        assert_eq!(
            Config::one_per_family().map(|c| c.name).collect::<Vec<_>>(),
            ["x86_64", "arm64", "powerpc", "s390"]
        );
        let id = |u, p, m: &[Mark]| Config::identify(u, p, m).map(|c| c.name);
        assert_eq!(id("x86_64", 4096, &[]), Some("x86_64"));
        assert_eq!(id("x86_64", 4096, &[Mark::La57]), Some("x86_64-la57"));
        assert_eq!(id("aarch64", 16384, &[]), Some("arm64-16k"));
        assert_eq!(id("ppc64le", 65536, &[Mark::HashMmu]), Some("powerpc-hash"));
        assert_eq!(id("ppc64le", 65536, &[]), Some("powerpc"));
        assert_eq!(id("ppc64le", 4096, &[]), None);
        assert_eq!(id("riscv64", 4096, &[]), None);
        // Every row's page size is its backend's.
        for c in CONFIGS {
            let g = crate::Target::new(c, crate::default_kernel()).geometry;
            assert_eq!(g.page_size, c.page_size, "{}", c.name);
        }
    }
}
