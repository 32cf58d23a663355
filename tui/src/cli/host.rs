//! `hotplug-lab host`: what was read from a system, and the model booted from it.

use crate::host::{boot, check, id_ranges, read, Capture};
use crate::output::{emit_or_fail, warn};
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// A tree captured from a system (the layout lsmem --sysroot reads, plus proc/ files)
    /// instead of the running one.
    #[arg(long, value_name = "DIR")]
    sysroot: Option<PathBuf>,
    /// Compare the model with the system: differences as a diff, model "-", system "+".
    #[arg(long)]
    check: bool,
    /// Model this version instead of the one nearest the system's release.
    #[arg(long, value_name = "VERSION", value_parser = super::one_kernel)]
    kernel: Option<&'static arch::Kernel>,
    /// Print the shell command that captures a tree of this machine into ./host-tree.
    #[arg(long, conflicts_with_all = ["sysroot", "check", "kernel"])]
    capture_command: bool,
    /// Bytes of one file read from the system
    #[arg(long, value_name = "SIZE", default_value = "16M", value_parser = super::size)]
    max_input_size: u64,
}

/// What was read, in a few lines.
pub fn summary(c: &Capture, m: &mm::Machine, restore_notes: &[String]) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}: {} ({} with {}K pages), {}",
        c.describe(),
        c.target.name(),
        c.machine,
        c.page_size / 1024,
        c.kernel_line()
    );
    let cmdline = if c.cmdline.is_empty() {
        "(none)"
    } else {
        c.cmdline.as_str()
    };
    let _ = writeln!(out, "  memory parameters on the command line: {cmdline}");
    if !c.params.is_empty() {
        let params: Vec<String> = c.params.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let _ = writeln!(out, "  memory_hotplug: {}", params.join(" "));
    }
    if let Some(a) = &c.auto_online {
        let _ = writeln!(out, "  auto_online_blocks: {a}");
    }
    let _ = writeln!(
        out,
        "  memory blocks: {} of {}",
        c.blocks.len(),
        arch::approx(c.block_size)
    );
    let mut states: Vec<(String, Vec<u64>)> = Vec::new();
    for b in &c.blocks {
        let key = match (&b.state[..], b.valid_zones.as_deref()) {
            ("online", Some("none")) => "online, spanning zones".to_string(),
            ("online", Some(z)) => format!("online {z}"),
            (s, _) => s.to_string(),
        };
        match states.iter_mut().find(|(k, _)| *k == key) {
            Some((_, ids)) => ids.push(b.id),
            None => states.push((key, vec![b.id])),
        }
    }
    for (key, ids) in &states {
        let _ = writeln!(
            out,
            "    {key}: {} ({})",
            ids.len(),
            id_ranges(ids.iter().copied())
        );
    }
    let _ = writeln!(
        out,
        "  RAM layout: {}",
        if c.iomem.is_some() {
            "from /proc/iomem"
        } else {
            "rebuilt from the memory blocks"
        }
    );
    for n in c.notes.iter().chain(restore_notes) {
        let _ = writeln!(out, "  note: {n}");
    }
    let v = m.vmstat();
    let _ = writeln!(
        out,
        "the model: MemTotal {} kB, {} boot memmap pages, hot-plug area from {:#x}",
        m.mem_total_kb(),
        v.nr_memmap_boot_pages,
        m.boot_info().hotplug_base.next_multiple_of(m.block_size())
    );
    out
}

/// `hotplug-lab host`: exit 0, or with --check 0 when model and system agree and 1 when
/// not; 2 when the system cannot be read or booted.
pub fn command(a: Args) -> std::process::ExitCode {
    use std::process::ExitCode;
    if a.capture_command {
        let text = format!("{}\n", crate::host::capture_command());
        return emit_or_fail("host", &text, ExitCode::SUCCESS);
    }
    let (sysroot, do_check, kernel, max_file) =
        (a.sysroot.as_deref(), a.check, a.kernel, a.max_input_size);
    let root = sysroot.unwrap_or(std::path::Path::new("/"));
    let c = match read(root, max_file, kernel) {
        Ok(c) => c,
        Err(e) => {
            warn(&format!("hotplug-lab host: {e}"));
            return ExitCode::from(2);
        }
    };
    let hm = match boot(&c) {
        Ok(hm) => hm,
        Err(e) => {
            let from = if c.iomem.is_some() {
                format!(" (RAM from {})", c.root.join("proc/iomem").display())
            } else {
                " (RAM rebuilt from its memory blocks)".to_string()
            };
            warn(&format!(
                "hotplug-lab host: the model cannot boot {}{from}: {e}",
                c.describe()
            ));
            return ExitCode::from(2);
        }
    };
    if do_check {
        let report = check(&hm.machine, &c);
        let code = if report.agrees() {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        };
        return emit_or_fail("host", &report.render(&hm.machine, &c, &hm.notes), code);
    }
    let mut text = summary(&c, &hm.machine, &hm.notes);
    let from = match sysroot {
        Some(d) => format!("--sysroot {}", shell_word(&d.display().to_string())),
        None => "--host".to_string(),
    };
    text.push_str(&format!(
        "next: `hotplug-lab repl {from}`, then m.add_memory(m.hotplug_base, 64 * GiB); \
         `hotplug-lab host{} --check` compares the model with it\n",
        sysroot
            .map(|d| format!(" --sysroot {}", shell_word(&d.display().to_string())))
            .unwrap_or_default()
    ));
    emit_or_fail("host", &text, ExitCode::SUCCESS)
}

/// A path as one shell word: quoted unless it is plain.
fn shell_word(s: &str) -> String {
    let plain = !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-+,:@%".contains(&b));
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}
