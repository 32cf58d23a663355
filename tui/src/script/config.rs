//! What a session's machines boot from unless a script says otherwise: the target and what
//! the flags (or the TUI's keys) gave, resolved once where they came in and passed down as
//! one value. A script sees it as ARCH, KERNEL, CMDLINE and IOMEM.

use crate::host::Capture;
use arch::Target;
use std::sync::Arc;

/// The boot configuration of a session.
#[derive(Debug, Clone)]
pub struct BootConfig {
    /// The architecture configuration and kernel version.
    pub target: Target,
    /// The kernel command line.
    pub cmdline: String,
    /// /proc/iomem text to boot from (`--iomem`, read once and shared).
    pub iomem: Option<Arc<str>>,
    /// Boot RAM in bytes (the arch's QEMU layout of that much).
    pub ram: Option<u64>,
    /// A malformed value of a known kernel parameter fails the boot.
    pub strict: bool,
    /// The system a boot that names no other RAM or architecture models (`--host`,
    /// `--sysroot`).
    pub capture: Option<Arc<Capture>>,
}

impl BootConfig {
    pub fn new(target: Target) -> BootConfig {
        BootConfig {
            target,
            cmdline: String::new(),
            iomem: None,
            ram: None,
            strict: false,
            capture: None,
        }
    }

    /// The same on another target.
    pub fn on(&self, target: Target) -> BootConfig {
        BootConfig {
            target,
            ..self.clone()
        }
    }
}

impl Default for BootConfig {
    fn default() -> BootConfig {
        BootConfig::new(Target::default_target())
    }
}
