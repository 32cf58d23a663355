//! What the model runs: an architecture configuration and the kernel version modelled on
//! it, resolved from names once where they come in (a flag, a script's boot key, a TUI
//! key). Every hook that can differ by version is asked through it, and the geometry is
//! derived for the pair (Linux 7.3 halves s390's sections).

use crate::{ArchError, Config, Geometry, Kernel};

/// An architecture configuration on a kernel version.
#[derive(Debug, Clone, Copy)]
pub struct Target {
    pub config: &'static Config,
    pub kernel: &'static Kernel,
    /// The geometry of this configuration on this version.
    pub geometry: Geometry,
}

impl Target {
    pub fn new(config: &'static Config, kernel: &'static Kernel) -> Target {
        Target {
            config,
            kernel,
            geometry: Geometry::new(&config.arch.params(kernel)),
        }
    }

    /// The target two names give (an empty kernel name is the default version).
    pub fn parse(arch: &str, kernel: &str) -> Result<Target, ArchError> {
        let config = Config::lookup(arch)?;
        let kernel = if kernel.trim().is_empty() {
            crate::default_kernel()
        } else {
            Kernel::lookup(kernel)?
        };
        Ok(Target::new(config, kernel))
    }

    /// The default target: the first configuration on the default version.
    pub fn default_target() -> Target {
        Target::new(Config::default_config(), crate::default_kernel())
    }

    /// The same configuration on another version.
    pub fn on(&self, kernel: &'static Kernel) -> Target {
        Target::new(self.config, kernel)
    }

    pub fn arch(&self) -> &'static dyn crate::Arch {
        self.config.arch
    }

    pub fn name(&self) -> &'static str {
        self.config.name
    }

    /// The device-dax alignments this target offers (see [`crate::Arch::dax_alignments`]).
    pub fn dax_alignments(&self) -> Vec<u64> {
        self.config.arch.dax_alignments(self)
    }

    /// The node stat items of /proc/vmstat and /proc/zoneinfo: the version's, less
    /// NUMA_BALANCING's pgpromote_* where the arch's build has no NUMA.
    pub fn node_stat_items(&self) -> impl Iterator<Item = &'static str> + '_ {
        let numa = self.config.arch.numa();
        self.kernel
            .node_stat_items()
            .filter(move |n| numa || !n.starts_with("pgpromote_"))
    }

    /// Whether this target has ZONE_DEVICE.
    pub fn zone_device(&self) -> bool {
        self.config.arch.zone_device(self.kernel)
    }
}

impl PartialEq for Target {
    fn eq(&self, other: &Target) -> bool {
        std::ptr::eq(self.config, other.config) && std::ptr::eq(self.kernel, other.kernel)
    }
}

impl Eq for Target {}

impl std::fmt::Display for Target {
    /// `arm64 on Linux 6.1`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} on Linux {}", self.config.name, self.kernel.name)
    }
}
