//! Booting the model as a captured system booted, then bringing its memory blocks to the
//! states the system shows now (offlined, or onlined to another zone, at run time).

use super::{id_runs, Capture};
use mm::boot::BootSpec;
use mm::Machine;

/// The model of a captured system, and what could not be made to match.
pub struct HostMachine {
    pub machine: Machine,
    /// Steps of the restore that the model refused, as the user should hear them.
    pub notes: Vec<String>,
}

/// What to boot: the system's RAM, command line memory parameters, module parameters and
/// CPU, and its kernel version.
pub fn spec(c: &Capture) -> BootSpec {
    let mut spec = BootSpec::new(c.target);
    let mut cmdline = c.cmdline.clone();
    let mut add = |p: String| {
        if !cmdline.is_empty() {
            cmdline.push(' ');
        }
        cmdline.push_str(&p);
    };
    // Module parameters win over the command line, which set them at boot; the defaults are
    // left out, so that a version without the parameter is not told of it.
    for (name, value) in &c.params {
        let default = match name.as_str() {
            "memmap_on_memory" => "N",
            "online_policy" => "contig-zones",
            "auto_movable_ratio" => "301",
            "auto_movable_numa_aware" => "Y",
            _ => continue,
        };
        if value != default {
            let value = match (name.as_str(), value.as_str()) {
                ("memmap_on_memory", "Y") => "1",
                (_, v) => v,
            };
            add(format!("memory_hotplug.{name}={value}"));
        }
    }
    // The machine's nodes exist in the model (for a hot-add with #{ node }); its boot memory
    // is all on node 0 there (read() says so when the machine's is not).
    let nodes = c.blocks.iter().filter_map(|b| b.node).max().unwrap_or(0);
    if nodes > 0 {
        add(format!("hotplug_lab.nodes={}", (nodes + 1).min(64)));
    }
    spec.cmdline = cmdline;
    spec.iomem = Some(c.iomem.clone().unwrap_or_else(|| rebuilt_iomem(c)));
    spec.gbpages = c.gbpages;
    spec.hypervisor = c.hypervisor;
    spec
}

/// /proc/iomem's System RAM lines, one per run of consecutive memory blocks.
fn rebuilt_iomem(c: &Capture) -> String {
    // read() bounded every block's end by the arch's physical address limit.
    id_runs(c.blocks.iter().map(|b| b.id))
        .into_iter()
        .map(|(a, b)| {
            let start = a * c.block_size;
            let end = (b + 1) * c.block_size - 1;
            format!("{start:08x}-{end:08x} : System RAM\n")
        })
        .collect()
}

/// Bring the booted model's blocks and auto_online_blocks to what the system shows.
pub fn restore(m: &mut Machine, c: &Capture) -> Vec<String> {
    let mut notes = Vec::new();
    if let Some(policy) = &c.auto_online {
        let path = "/sys/devices/system/memory/auto_online_blocks";
        if let Err(e) = m.write(path, policy) {
            notes.push(format!(
                "auto_online_blocks {}: the model refuses it: {e}",
                mm::error::quote(policy)
            ));
        }
    }
    let dir = "/sys/devices/system/memory";
    for b in &c.blocks {
        let state_file = format!("{dir}/memory{}/state", b.id);
        let Ok(now) = m.read(&state_file) else {
            continue; // A block the model has not: --check shows it.
        };
        let now = now.trim().to_string();
        let zone_now = m
            .read(&format!("{dir}/memory{}/valid_zones", b.id))
            .unwrap_or_default();
        let want_movable = b.valid_zones.as_deref() == Some("Movable");
        let is_movable = zone_now.trim() == "Movable";
        let steps: &[&str] = match (b.state.as_str(), now.as_str()) {
            ("offline", "online") => &["offline"],
            ("online", "offline") if want_movable => &["online_movable"],
            ("online", "offline") => &["online_kernel"],
            ("online", "online") if want_movable && !is_movable => &["offline", "online_movable"],
            ("online", "online") if !want_movable && is_movable => &["offline", "online_kernel"],
            _ => &[],
        };
        for step in steps {
            if let Err(e) = m.write(&state_file, step) {
                notes.push(format!(
                    "memory{} is {} {} there; the model cannot make it so: {e}",
                    b.id,
                    b.state,
                    b.valid_zones.as_deref().unwrap_or("")
                ));
                break;
            }
        }
    }
    notes
}

/// Boot the model of `c`.
pub fn boot(c: &Capture) -> Result<HostMachine, mm::MmError> {
    let mut machine = Machine::boot(&spec(c))?;
    let notes = restore(&mut machine, c);
    Ok(HostMachine { machine, notes })
}
