//! A Linux system as its sysfs and procfs show it (the running one, or a tree captured from
//! one): read into what the model boots from, the block states to restore after boot, and
//! what the kernel reports, so that `hotplug-lab host --check` can compare the two.

mod boot;
mod check;
mod read;

pub use boot::{boot, restore, spec as boot_spec, HostMachine};
pub use check::{check, Report};
pub use read::{capture_command, read, read_by, HostError};

use std::path::PathBuf;

/// One memory block as /sys/devices/system/memory/memoryN shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostBlock {
    pub id: u64,
    /// `state`: online, offline (going-offline is read as it is).
    pub state: String,
    /// `valid_zones`, when the tree has it.
    pub valid_zones: Option<String>,
    /// `removable`, when the tree has it.
    pub removable: Option<String>,
    /// The node of the `nodeN` link inside the block's directory.
    pub node: Option<u32>,
}

/// One zone's page counts from /proc/zoneinfo.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ZonePages {
    pub spanned: u64,
    pub present: u64,
    pub managed: u64,
}

/// (node, zone name) and its pages, in /proc/zoneinfo's order.
pub type Zones = Vec<((u32, String), ZonePages)>;

/// Everything read from one system.
#[derive(Debug, Clone)]
pub struct Capture {
    /// Where it was read: "/" for the running system, else the tree's directory.
    pub root: PathBuf,
    /// `uname -m` (/proc/sys/kernel/arch).
    pub machine: String,
    /// The model's configuration for it, and the modelled version standing for its release.
    pub target: arch::Target,
    /// The base page size in bytes.
    pub page_size: u64,
    /// `uname -r` (/proc/sys/kernel/osrelease).
    pub release: String,
    /// Whether the release is the modelled version itself.
    pub kernel_exact: bool,
    /// The version was chosen with --kernel rather than taken from the release.
    pub kernel_chosen: bool,
    /// The memory parameters of /proc/cmdline (the rest concerns other subsystems).
    pub cmdline: String,
    /// /sys/module/memory_hotplug/parameters, name and value.
    pub params: Vec<(String, String)>,
    /// /sys/devices/system/memory/auto_online_blocks.
    pub auto_online: Option<String>,
    pub block_size: u64,
    /// Sorted by id.
    pub blocks: Vec<HostBlock>,
    /// /proc/iomem when its addresses are real (root reads them; others see zeroes).
    pub iomem: Option<String>,
    /// CPU features from /proc/cpuinfo (x86: pdpe1gb and hypervisor flags).
    pub gbpages: Option<bool>,
    pub hypervisor: Option<bool>,
    /// /proc/zoneinfo: (node, zone name) and its pages, in file order.
    pub zones: Zones,
    /// /proc/meminfo MemTotal in kB.
    pub mem_total_kb: Option<u64>,
    /// /proc/vmstat nr_memmap_pages and nr_memmap_boot_pages (6.12 and later).
    pub memmap: Option<(u64, u64)>,
    /// What the reader had to infer or leave out, said to the user.
    pub notes: Vec<String>,
}

impl Capture {
    /// "this machine" or the tree's directory, for messages.
    pub fn describe(&self) -> String {
        if self.root == std::path::Path::new("/") {
            "this machine".to_string()
        } else {
            self.root.display().to_string()
        }
    }

    /// "this machine" or "the tree DIR", for "comes from ..." messages.
    pub fn source(&self) -> String {
        if self.root == std::path::Path::new("/") {
            "this machine".to_string()
        } else {
            format!("the tree {}", self.root.display())
        }
    }

    /// The kernel version as the user should hear it.
    pub fn kernel_line(&self) -> String {
        if self.kernel_exact {
            format!(
                "Linux {} (modelled as {})",
                self.release, self.target.kernel.name
            )
        } else if self.kernel_chosen {
            format!(
                "Linux {}, modelled as {} (--kernel)",
                self.release, self.target.kernel.name
            )
        } else {
            format!(
                "Linux {}, which is not modelled: modelled as {}, the nearest (--kernel picks another)",
                self.release, self.target.kernel.name
            )
        }
    }
}

/// Runs of consecutive block ids, first and last of each.
pub fn id_runs(ids: impl IntoIterator<Item = u64>) -> Vec<(u64, u64)> {
    let mut out: Vec<(u64, u64)> = Vec::new();
    for id in ids {
        match out.last_mut() {
            Some((_, last)) if id == *last + 1 => *last = id,
            _ => out.push((id, id)),
        }
    }
    out
}

/// Block ids as ranges: "0-23,32-199".
pub fn id_ranges(ids: impl IntoIterator<Item = u64>) -> String {
    id_runs(ids)
        .iter()
        .map(|&(a, b)| {
            if a == b {
                a.to_string()
            } else {
                format!("{a}-{b}")
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    #[test]
    fn ranges_join_runs() {
        assert_eq!(super::id_ranges([0, 1, 2, 5, 7, 8]), "0-2,5,7-8");
        assert_eq!(super::id_ranges([]), "");
    }
}
