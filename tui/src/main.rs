//! The `hotplug-lab` binary.

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "hotplug-lab",
    version,
    about = "Simulate Linux 6.12 memory hotplug and the sparse vmemmap on x86_64, arm64, powerpc and s390",
    after_help = "With no command, hotplug-lab opens the terminal UI on x86_64."
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// The terminal UI (the default): a memory map, blocks, totals, dmesg and a Rhai REPL,
    /// with an optional script to step through.
    Tui {
        /// A Rhai script to load into the player (n steps, r runs to the end).
        script: Option<PathBuf>,
        /// An architecture, or several (comma-separated, or "all") side by side.
        #[arg(long, default_value = "x86_64")]
        arch: String,
        /// The kernel command line the machines boot with.
        #[arg(long, default_value = "")]
        cmdline: String,
        /// A /proc/iomem file to boot from.
        #[arg(long)]
        iomem: Option<PathBuf>,
    },
    /// Run a Rhai script headless ("-" reads it from stdin).
    Run {
        script: String,
        /// An architecture, a comma-separated list, or "all" (x86_64, arm64, arm64-64k, powerpc, s390).
        #[arg(long, default_value = "x86_64")]
        arch: String,
        /// The kernel command line (the script sees it as CMDLINE; boot() uses it).
        #[arg(long, default_value = "")]
        cmdline: String,
        /// A /proc/iomem file to boot from (the script sees it as IOMEM).
        #[arg(long)]
        iomem: Option<PathBuf>,
        /// Print one JSON array (one object per architecture) and nothing else on stdout.
        #[arg(long)]
        json: bool,
        /// Export the last machine's sysfs here (DIR/<arch> with several architectures).
        #[arg(long, value_name = "DIR")]
        sysfs_out: Option<PathBuf>,
        /// Raise or lower the sandbox's operation limit.
        #[arg(long, value_name = "N")]
        max_operations: Option<u64>,
    },
    /// A line REPL on stdin/stdout with the machine bound to `m`.
    Repl {
        #[arg(long, default_value = "x86_64")]
        arch: String,
        #[arg(long, default_value = "")]
        cmdline: String,
        #[arg(long)]
        iomem: Option<PathBuf>,
    },
    /// Print the parameters of every architecture as one table.
    Archs,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Archs) => {
            hotplug_lab::runner::emit(&hotplug_lab::archs::table());
            ExitCode::SUCCESS
        }
        Some(Command::Run {
            script,
            arch,
            cmdline,
            iomem,
            json,
            sysfs_out,
            max_operations,
        }) => hotplug_lab::runner::command(
            &script,
            &arch,
            &cmdline,
            iomem.as_deref(),
            json,
            sysfs_out.as_deref(),
            max_operations,
        ),
        Some(Command::Repl {
            arch,
            cmdline,
            iomem,
        }) => hotplug_lab::repl::command(&arch, &cmdline, iomem.as_deref()),
        None => tui(None, "x86_64", "", None),
        Some(Command::Tui {
            script,
            arch,
            cmdline,
            iomem,
        }) => tui(script.as_deref(), &arch, &cmdline, iomem.as_deref()),
    }
}

fn tui(
    script: Option<&std::path::Path>,
    arch: &str,
    cmdline: &str,
    iomem: Option<&std::path::Path>,
) -> ExitCode {
    let archs = match hotplug_lab::runner::arch_list(arch) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("hotplug-lab tui: {e}");
            return ExitCode::from(2);
        }
    };
    let iomem = match iomem.map(std::fs::read_to_string).transpose() {
        Ok(t) => t.unwrap_or_default(),
        Err(e) => {
            eprintln!("hotplug-lab tui: --iomem: {e}");
            return ExitCode::from(2);
        }
    };
    let script = match script {
        Some(p) => match std::fs::read_to_string(p) {
            Ok(src) => Some((p.display().to_string(), src)),
            Err(e) => {
                eprintln!("hotplug-lab tui: {}: {e}", p.display());
                return ExitCode::from(2);
            }
        },
        None => None,
    };
    hotplug_lab::ui::run(hotplug_lab::ui::Options {
        archs,
        cmdline: cmdline.to_string(),
        iomem,
        script,
    })
}
