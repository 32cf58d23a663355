//! `hotplug-lab host --check`: what the model derives beside what the system shows, field by
//! field, as a diff; what the model cannot know is listed apart and does not count.

use super::read::{field, zoneinfo};
use super::{id_ranges, Capture, ZonePages};
use mm::Machine;
use std::fmt::Write as _;

/// The outcome of a check.
pub struct Report {
    /// Fields compared.
    pub compared: usize,
    /// (field, the model's value, the system's value) where they differ.
    pub differ: Vec<(String, String, String)>,
    /// What the model cannot know, with both values, and what the tree did not hold.
    pub unknown: Vec<String>,
}

impl Report {
    pub fn agrees(&self) -> bool {
        self.differ.is_empty()
    }

    /// The report as `diff -u` would show it: the model is "-", the system "+".
    pub fn render(&self, m: &Machine, c: &Capture, restore_notes: &[String]) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "--- model ({}, Linux {})",
            m.target().name(),
            m.kernel().name
        );
        let _ = writeln!(
            out,
            "+++ {} ({}, Linux {})",
            c.describe(),
            c.machine,
            c.release
        );
        for (key, model, host) in &self.differ {
            let _ = writeln!(out, "-{key}: {model}");
            let _ = writeln!(out, "+{key}: {host}");
        }
        let _ = writeln!(
            out,
            "# {} fields compared: {} agree, {} differ",
            self.compared,
            self.compared - self.differ.len(),
            self.differ.len()
        );
        if !c.kernel_exact {
            let _ = writeln!(out, "# {}", c.kernel_line());
        }
        for n in c.notes.iter().chain(restore_notes) {
            let _ = writeln!(out, "# {n}");
        }
        if !self.unknown.is_empty() {
            let _ = writeln!(out, "# not known to the model (not counted):");
            for u in &self.unknown {
                let _ = writeln!(out, "#   {u}");
            }
        }
        out
    }
}

struct Fields {
    compared: usize,
    differ: Vec<(String, String, String)>,
}

impl Fields {
    fn cmp(&mut self, key: impl Into<String>, model: impl Into<String>, host: impl Into<String>) {
        let (model, host) = (model.into(), host.into());
        self.compared += 1;
        if model != host {
            self.differ.push((key.into(), model, host));
        }
    }
}

/// Compare the booted model `m` with the system `c`.
pub fn check(m: &Machine, c: &Capture) -> Report {
    let read = |p: &str| m.read(p).map(|t| t.trim().to_string()).unwrap_or_default();
    let dir = "/sys/devices/system/memory";
    let mut f = Fields {
        compared: 0,
        differ: Vec::new(),
    };
    let mut unknown = Vec::new();

    f.cmp(
        "block_size_bytes",
        read(&format!("{dir}/block_size_bytes")),
        format!("{:x}", c.block_size),
    );
    if let Some(policy) = &c.auto_online {
        f.cmp(
            "auto_online_blocks",
            read(&format!("{dir}/auto_online_blocks")),
            policy.clone(),
        );
    }
    for (name, value) in &c.params {
        let path = format!("/sys/module/memory_hotplug/parameters/{name}");
        match m.read(&path) {
            Ok(v) => f.cmp(
                format!("memory_hotplug/{name}"),
                v.trim().to_string(),
                value.clone(),
            ),
            Err(_) => f.cmp(format!("memory_hotplug/{name}"), "(none)", value.clone()),
        }
    }

    let model_ids: Vec<u64> = m.blocks().keys().map(|b| b.0).collect();
    f.cmp(
        "blocks",
        id_ranges(model_ids.iter().copied()),
        id_ranges(c.blocks.iter().map(|b| b.id)),
    );
    for b in &c.blocks {
        let Some(mb) = m.blocks().get(&mm::units::BlockId(b.id)) else {
            continue;
        };
        let base = format!("memory{}", b.id);
        f.cmp(
            format!("{base}/state"),
            read(&format!("{dir}/{base}/state")),
            b.state.clone(),
        );
        if let Some(z) = &b.valid_zones {
            f.cmp(
                format!("{base}/valid_zones"),
                read(&format!("{dir}/{base}/valid_zones")),
                z.clone(),
            );
        }
        if let Some(r) = &b.removable {
            f.cmp(
                format!("{base}/removable"),
                read(&format!("{dir}/{base}/removable")),
                r.clone(),
            );
        }
        if let Some(n) = b.node {
            f.cmp(
                format!("{base}/node"),
                format!("node{}", mb.nid),
                format!("node{n}"),
            );
        }
    }

    // Zones: spanned and present follow from the RAM layout (when /proc/iomem gave it);
    // managed also from what the kernel reserved early, which the model cannot know.
    if c.zones.is_empty() {
        unknown.push("zone pages: the tree has no proc/zoneinfo".to_string());
    } else {
        let model_zones = zoneinfo(&read("/proc/zoneinfo")).unwrap_or_default();
        let get = |zs: &[((u32, String), ZonePages)], k: &(u32, String)| {
            zs.iter().find(|(key, _)| key == k).map(|(_, z)| *z)
        };
        let mut keys: Vec<(u32, String)> = c.zones.iter().map(|(k, _)| k.clone()).collect();
        for (k, _) in &model_zones {
            if !keys.contains(k) {
                keys.push(k.clone());
            }
        }
        for k in &keys {
            let name = format!("zone Node {} {}", k.0, k.1);
            let (Some(mz), Some(hz)) = (get(&model_zones, k), get(&c.zones, k)) else {
                let has = |zs: &[((u32, String), ZonePages)]| {
                    if get(zs, k).is_some() {
                        "present"
                    } else {
                        "(none)"
                    }
                };
                f.cmp(name, has(&model_zones), has(&c.zones));
                continue;
            };
            if c.iomem.is_some() {
                f.cmp(
                    format!("{name} spanned"),
                    mz.spanned.to_string(),
                    hz.spanned.to_string(),
                );
                f.cmp(
                    format!("{name} present"),
                    mz.present.to_string(),
                    hz.present.to_string(),
                );
            } else if (mz.spanned, mz.present) != (hz.spanned, hz.present) {
                unknown.push(format!(
                    "{name} spanned/present: model {}/{}, machine {}/{} (the RAM layout was \
                     rebuilt from memory blocks: holes inside them are not known)",
                    mz.spanned, mz.present, hz.spanned, hz.present
                ));
            }
            if mz.managed != hz.managed {
                unknown.push(format!(
                    "{name} managed: model {}, machine {} ({:+} pages): pages the kernel \
                     reserved early (its image, initrd, crashkernel, firmware tables) or has \
                     not initialised yet",
                    mz.managed,
                    hz.managed,
                    hz.managed as i128 - mz.managed as i128
                ));
            }
        }
    }

    // The kernel's own memmap counters, where both have them.
    match (c.memmap, m.kernel().vmstat_memmap_counters) {
        (Some((pages, boot)), true) => {
            let vmstat = read("/proc/vmstat");
            let model = |k| field(&vmstat, k).map(|v| v.to_string()).unwrap_or_default();
            f.cmp(
                "vmstat nr_memmap_pages",
                model("nr_memmap_pages"),
                pages.to_string(),
            );
            f.cmp(
                "vmstat nr_memmap_boot_pages",
                model("nr_memmap_boot_pages"),
                boot.to_string(),
            );
        }
        (Some(_), false) => unknown.push(format!(
            "nr_memmap_pages: the machine counts it; Linux {} (the model here) does not",
            m.kernel().name
        )),
        (None, _) => {}
    }

    if let Some(host_kb) = c.mem_total_kb {
        let model_kb = field(&read("/proc/meminfo"), "MemTotal:").unwrap_or(0);
        if host_kb != model_kb {
            let mut known = String::new();
            if let Some(iomem) = &c.iomem {
                let image = iomem_kb(iomem, |n| {
                    matches!(
                        n,
                        "Kernel code" | "Kernel rodata" | "Kernel data" | "Kernel bss"
                    )
                });
                let crash = iomem_kb(iomem, |n| n == "Crash kernel");
                if image > 0 {
                    known = format!("; /proc/iomem shows a {image} kB kernel image");
                    if crash > 0 {
                        known.push_str(&format!(" and a {crash} kB crash kernel"));
                    }
                }
            }
            unknown.push(format!(
                "MemTotal: model {model_kb} kB, machine {host_kb} kB ({:+} kB): the kernel \
                 image, initrd, crashkernel and early memblock reservations{known}",
                host_kb as i128 - model_kb as i128
            ));
        }
    }
    Report {
        compared: f.compared,
        differ: f.differ,
        unknown,
    }
}

/// The kB that /proc/iomem resources of the names `pick` takes span (0 when the text does
/// not parse: the boot that used it would have failed first).
fn iomem_kb(iomem: &str, pick: impl Fn(&str) -> bool) -> u64 {
    mm::resource::ResourceTree::parse(iomem)
        .map(|t| {
            t.walk()
                .into_iter()
                .filter(|(_, r)| pick(&r.name))
                .map(|(_, r)| (r.end - r.start + 1) / 1024)
                .sum()
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_kernel_image_is_summed_from_iomem() {
        // This machine's /proc/iomem (tests/hosts/firecracker-x86_64).
        let iomem = "00100000-bfffffff : System RAM\n  01000000-02276987 : Kernel code\n  \
                     02400000-02e0afff : Kernel rodata\n  03000000-0327c0bf : Kernel data\n  \
                     03b36000-03c66fff : Kernel bss\n";
        let kb = super::iomem_kb(iomem, |n| n.starts_with("Kernel "));
        assert_eq!(kb, (0x1276988 + 0xa0b000 + 0x27c0c0 + 0x131000) / 1024);
    }
}
