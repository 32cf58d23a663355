//! The `hotplug-lab` binary.

use clap::{Args, Parser, Subcommand};
use hotplug_lab::runner::warn;
use hotplug_lab::script::Limits;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "hotplug-lab",
    version,
    about = "Simulate Linux 6.12 and 6.1 memory hotplug and the sparse vmemmap on x86_64, arm64, powerpc and s390",
    after_help = "With no command, hotplug-lab opens the terminal UI on x86_64."
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

/// The architectures --arch names, for every subcommand's help.
macro_rules! arch_names {
    () => {
        "x86_64, x86_64-la57, arm64, arm64-16k, arm64-64k, powerpc, powerpc-hash, s390 (or \
         uname -m's aarch64, ppc64le, s390x)"
    };
}
/// What --arch takes where several may be given.
const ARCHS: &str = concat!(
    "An architecture: ",
    arch_names!(),
    "; several comma-separated; all (x86_64, arm64, arm64-64k, powerpc, s390) or every (all \
     eight)"
);

#[derive(Subcommand)]
enum Command {
    /// The terminal UI (the default): a memory map, blocks, totals, dmesg and a Rhai REPL,
    /// with an optional script to step through.
    Tui {
        /// A Rhai script to load into the player (n steps, r runs to the end).
        script: Option<PathBuf>,
        /// Several are shown side by side.
        #[arg(long, default_value = "x86_64", help = ARCHS)]
        arch: String,
        /// The kernel command line the machines boot with.
        #[arg(long, default_value = "")]
        cmdline: String,
        /// A /proc/iomem file to boot from.
        #[arg(long)]
        iomem: Option<PathBuf>,
        /// A malformed value of a known kernel parameter fails the boot (the kernel logs it
        /// and keeps the default).
        #[arg(long)]
        strict: bool,
        /// The kernel version the machines model: 6.12 (default) or 6.1 (see `hotplug-lab
        /// kernels`); the script sees it as KERNEL.
        #[arg(long, value_name = "VERSION", value_parser = kernel_version)]
        kernel: Option<String>,
        #[command(flatten)]
        from: From,
        #[command(flatten)]
        sandbox: Sandbox,
    },
    /// Run a Rhai script headless ("-" reads it from stdin).
    #[command(
        after_help = "Exit status: 0 when the script finishes, 1 when it throws or the sandbox stops it \
                      or the --sysfs-out export fails (the error on stderr as FILE:LINE:COLUMN: \
                      ERRNO: reason), 2 on bad usage."
    )]
    Run {
        /// A Rhai script ("-" reads it from standard input).
        script: String,
        #[arg(long, help = concat!("The script runs once on each, as ARCH. An architecture: ",
            arch_names!(), "; several comma-separated; all (x86_64, arm64, arm64-64k, powerpc, \
            s390) or every (all eight) [default: x86_64]"))]
        arch: Option<String>,
        /// The kernel command line (the script sees it as CMDLINE; boot() uses it).
        #[arg(long, default_value = "")]
        cmdline: String,
        /// A /proc/iomem file to boot from (the script sees it as IOMEM).
        #[arg(long)]
        iomem: Option<PathBuf>,
        /// A malformed value of a known kernel parameter fails the boot (the kernel logs it
        /// and keeps the default).
        #[arg(long)]
        strict: bool,
        /// The kernel version the machines model: 6.12 (default) or 6.1 (see `hotplug-lab
        /// kernels`); the script sees it as KERNEL.
        #[arg(long, value_name = "VERSION", value_parser = kernel_version)]
        kernel: Option<String>,
        /// Print one JSON array (one object per architecture) and nothing else on stdout.
        #[arg(long)]
        json: bool,
        /// Export the last machine's sysfs here (DIR/<arch> with several architectures).
        #[arg(long, value_name = "DIR")]
        sysfs_out: Option<PathBuf>,
        #[command(flatten)]
        from: From,
        #[command(flatten)]
        sandbox: Sandbox,
    },
    /// A line REPL on stdin/stdout with the machine bound to `m` (history, completion with
    /// Tab, Ctrl-C stops a statement, Ctrl-D quits).
    Repl {
        #[arg(long, default_value = "x86_64", help = concat!("The architecture of `m`: ", arch_names!()))]
        arch: String,
        /// The kernel command line `m` boots with (CMDLINE in the REPL).
        #[arg(long, default_value = "")]
        cmdline: String,
        /// A /proc/iomem file `m` boots from (IOMEM in the REPL).
        #[arg(long)]
        iomem: Option<PathBuf>,
        /// A malformed value of a known kernel parameter fails the boot (the kernel logs it
        /// and keeps the default).
        #[arg(long)]
        strict: bool,
        /// The kernel version the machines model: 6.12 (default) or 6.1 (see `hotplug-lab
        /// kernels`); the script sees it as KERNEL.
        #[arg(long, value_name = "VERSION", value_parser = kernel_version)]
        kernel: Option<String>,
        #[command(flatten)]
        from: From,
        #[command(flatten)]
        sandbox: Sandbox,
    },
    /// This machine (or a tree captured from one) in the model: what was read, and the model
    /// booted from it; --check compares the two field by field.
    #[command(
        after_help = "Exit status: 0 (with --check: the model agrees with the system), 1 \
                      when --check finds a difference, 2 when the system or tree cannot be read \
                      or is not one the model knows. README, \"Your machine\", gives the command \
                      that captures a tree."
    )]
    Host {
        /// A tree captured from a system (the layout lsmem --sysroot reads, plus proc/ files)
        /// instead of the running one.
        #[arg(long, value_name = "DIR")]
        sysroot: Option<PathBuf>,
        /// Compare the model with the system: differences as a diff, model "-", system "+".
        #[arg(long)]
        check: bool,
        /// Model this version instead of the one nearest the system's release.
        #[arg(long, value_name = "VERSION", value_parser = kernel_version)]
        kernel: Option<String>,
        /// Print the shell command that captures a tree of this machine into ./host-tree.
        #[arg(long, conflicts_with_all = ["sysroot", "check", "kernel"])]
        capture_command: bool,
        /// Bytes of one file read from the system
        #[arg(long, value_name = "SIZE", default_value = "16M", value_parser = size)]
        max_input_size: u64,
    },
    /// List the modelled kernel versions, what each was checked against, and what differs
    /// between them (with the kernel files that decide it).
    Kernels,
    /// Print the parameters of every architecture (or of those named) as a table that fits
    /// the terminal ($COLUMNS, else its width, else 100 columns), or as JSON.
    Archs {
        /// Architectures to show (x86_64 x86_64-la57 arm64 arm64-16k arm64-64k powerpc
        /// powerpc-hash s390, or aarch64 ppc64le s390x, all, every) [default: every]
        names: Vec<String>,
        /// One JSON array of objects, one per architecture, with sizes in bytes.
        #[arg(long)]
        json: bool,
    },
}

/// A real system to start from instead of --arch and --iomem (README, "Your machine").
#[derive(Args, Clone, Debug)]
struct From {
    /// Boot from this machine: its architecture, kernel version, RAM, memory parameters and
    /// block states (see `hotplug-lab host`)
    #[arg(long, conflicts_with_all = ["arch", "iomem", "sysroot"])]
    host: bool,
    /// Boot from a tree captured from a machine (`hotplug-lab host --capture-command`)
    #[arg(long, value_name = "DIR", conflicts_with_all = ["arch", "iomem"])]
    sysroot: Option<PathBuf>,
}

impl From {
    /// The system, read; the error already said (exit 2).
    fn capture(
        &self,
        command: &str,
        limits: &Limits,
    ) -> Result<Option<std::sync::Arc<hotplug_lab::host::Capture>>, ExitCode> {
        let root = match (&self.sysroot, self.host) {
            (Some(d), _) => d.clone(),
            (None, true) => PathBuf::from("/"),
            (None, false) => return Ok(None),
        };
        hotplug_lab::host::read(&root, limits.max_input, None)
            .map(|c| Some(std::sync::Arc::new(c)))
            .map_err(|e| {
                warn(&format!("hotplug-lab {command}: {e}"));
                ExitCode::from(2)
            })
    }
}

/// The sandbox's limits (README, "Scripts run in a sandbox"). A script that reaches one is
/// stopped with an error that names the flag raising it.
#[derive(Args, Clone, Debug)]
#[command(next_help_heading = "Sandbox")]
struct Sandbox {
    /// Rhai operations a script may run
    #[arg(long, value_name = "N", default_value_t = Limits::default().max_operations,
          value_parser = clap::value_parser!(u64).range(1..))]
    max_operations: u64,
    /// Wall-clock seconds for the whole run (every architecture of --arch all together;
    /// each REPL input on its own)
    #[arg(long, value_name = "SECONDS", default_value = "60", value_parser = seconds)]
    max_time: Duration,
    /// How much the heap may grow: machines and script values together (a size: 512M, 2G)
    #[arg(long, value_name = "SIZE", default_value = "512M", value_parser = size)]
    max_memory: u64,
    /// Bytes of one string
    #[arg(long, value_name = "SIZE", default_value = "4M", value_parser = size)]
    max_string_size: u64,
    /// Entries of one array (bytes of one BLOB, curried arguments of one function value)
    #[arg(long, value_name = "N", default_value_t = Limits::default().max_array_size as u64,
          value_parser = clap::value_parser!(u64).range(1..))]
    max_array_size: u64,
    /// Entries of one map
    #[arg(long, value_name = "N", default_value_t = Limits::default().max_map_size as u64,
          value_parser = clap::value_parser!(u64).range(1..))]
    max_map_size: u64,
    /// How deep arrays, maps and curried functions nest in one value
    #[arg(long, value_name = "N", default_value_t = Limits::default().max_depth as u64,
          value_parser = clap::value_parser!(u64).range(1..=4096))]
    max_depth: u64,
    /// Function calls nested in each other
    #[arg(long, value_name = "N", default_value_t = Limits::default().max_call_levels as u64,
          value_parser = clap::value_parser!(u64).range(1..=256))]
    max_call_depth: u64,
    /// Bytes of a script or an --iomem file, and of one REPL input
    #[arg(long, value_name = "SIZE", default_value = "16M", value_parser = size)]
    max_input_size: u64,
    /// Names (identifiers and keywords, outside strings and comments) in a script or in
    /// one REPL input: the parser, whose time grows with their square and which cannot be
    /// stopped, is given no more
    #[arg(long, value_name = "N", default_value_t = Limits::default().max_names as u64,
          value_parser = clap::value_parser!(u64).range(1..))]
    max_names: u64,
    /// Files and links the run's exports may write (export_sysfs and --sysfs-out together)
    #[arg(long, value_name = "N", default_value_t = Limits::default().max_export_files,
          value_parser = clap::value_parser!(u64).range(1..))]
    max_export_files: u64,
}

impl Sandbox {
    fn limits(&self) -> Limits {
        let n = |v: u64| usize::try_from(v).unwrap_or(usize::MAX);
        Limits {
            max_operations: self.max_operations,
            max_time: self.max_time,
            max_memory: self.max_memory,
            max_string_size: n(self.max_string_size),
            max_array_size: n(self.max_array_size),
            max_map_size: n(self.max_map_size),
            max_depth: n(self.max_depth),
            max_call_levels: n(self.max_call_depth),
            max_input: self.max_input_size,
            max_names: n(self.max_names),
            max_export_files: self.max_export_files,
            ..Limits::default()
        }
    }
}

/// A size flag: the kernel's size syntax (memparse: 4096, 0x1000, 64K, 512M, 2G), not 0.
fn size(s: &str) -> Result<u64, String> {
    match mm::cmdline::parse_size(s) {
        Some(0) => Err("must be more than 0".to_string()),
        Some(v) => Ok(v),
        None => Err(format!(
            "{} is not a size like 512M or 2G",
            mm::error::quote(s)
        )),
    }
}

/// The most --max-time takes: a billion seconds, some 31 years.
const MAX_SECONDS: f64 = 1e9;

/// A time flag: seconds, more than 0 and at most [`MAX_SECONDS`] (fractions allowed).
fn seconds(s: &str) -> Result<Duration, String> {
    match s.parse::<f64>() {
        Ok(v) if v > 0.0 && v <= MAX_SECONDS => Ok(Duration::from_secs_f64(v)),
        Ok(v) if v > 0.0 => Err(format!(
            "{} seconds is too long: at most {MAX_SECONDS:e} (some 31 years)",
            mm::error::quote(s).trim_matches('"')
        )),
        Ok(_) => Err("must be a number of seconds more than 0".to_string()),
        Err(_) => Err(format!(
            "{} is not a number of seconds",
            mm::error::quote(s)
        )),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Host {
            sysroot,
            check,
            kernel,
            capture_command,
            max_input_size,
        }) => {
            if capture_command {
                let text = format!("{}\n", hotplug_lab::host::capture_command());
                return hotplug_lab::runner::emit_or_fail("host", &text, ExitCode::SUCCESS);
            }
            hotplug_lab::host::command(sysroot.as_deref(), check, kernel.as_deref(), max_input_size)
        }
        Some(Command::Kernels) => hotplug_lab::runner::emit_or_fail(
            "kernels",
            &hotplug_lab::kernels::listing(),
            ExitCode::SUCCESS,
        ),
        Some(Command::Archs { names, json }) => {
            let archs = match hotplug_lab::archs::pick(&names) {
                Ok(a) => a,
                Err(e) => {
                    warn(&format!("hotplug-lab archs: {e}"));
                    return ExitCode::from(2);
                }
            };
            let text = if json {
                let v = hotplug_lab::archs::json(&archs);
                format!("{}\n", serde_json::to_string_pretty(&v).unwrap_or_default())
            } else {
                hotplug_lab::archs::layout(&archs, hotplug_lab::archs::width())
            };
            hotplug_lab::runner::emit_or_fail("archs", &text, ExitCode::SUCCESS)
        }
        Some(Command::Run {
            script,
            arch,
            cmdline,
            iomem,
            strict,
            kernel,
            json,
            sysfs_out,
            from,
            sandbox,
        }) => {
            let limits = sandbox.limits();
            let capture = match from.capture("run", &limits) {
                Ok(c) => c,
                Err(code) => return code,
            };
            let arch = capture.as_ref().map(|c| c.arch.to_string()).or(arch);
            hotplug_lab::runner::command(
                &script,
                arch.as_deref(),
                &cmdline,
                iomem.as_deref(),
                json,
                sysfs_out.as_deref(),
                limits,
                strict,
                kernel.as_deref().unwrap_or(""),
                capture,
            )
        }
        Some(Command::Repl {
            arch,
            cmdline,
            iomem,
            strict,
            kernel,
            from,
            sandbox,
        }) => {
            let limits = sandbox.limits();
            let capture = match from.capture("repl", &limits) {
                Ok(c) => c,
                Err(code) => return code,
            };
            let arch = capture.as_ref().map_or(arch, |c| c.arch.to_string());
            hotplug_lab::repl::command(
                &arch,
                &cmdline,
                iomem.as_deref(),
                limits,
                strict,
                kernel.as_deref().unwrap_or(""),
                capture,
            )
        }
        None => tui(None, "x86_64", None, blank_ui(Limits::default())),
        Some(Command::Tui {
            script,
            arch,
            cmdline,
            iomem,
            strict,
            kernel,
            from,
            sandbox,
        }) => {
            let limits = sandbox.limits();
            let capture = match from.capture("tui", &limits) {
                Ok(c) => c,
                Err(code) => return code,
            };
            let arch = capture.as_ref().map_or(arch, |c| c.arch.to_string());
            // L steps on from the captured system's version.
            let kernel = kernel
                .or_else(|| capture.as_ref().map(|c| c.kernel.name.to_string()))
                .unwrap_or_default();
            let opts = hotplug_lab::ui::Options {
                cmdline,
                strict,
                kernel,
                capture,
                ..blank_ui(limits)
            };
            tui(script.as_deref(), &arch, iomem.as_deref(), opts)
        }
    }
}

/// The UI's options before the flags fill them in.
fn blank_ui(limits: Limits) -> hotplug_lab::ui::Options {
    hotplug_lab::ui::Options {
        archs: Vec::new(),
        cmdline: String::new(),
        iomem: String::new(),
        script: None,
        limits,
        strict: false,
        kernel: String::new(),
        capture: None,
    }
}

/// The terminal UI on `arch` (one or several), with `opts` and the files the flags name.
fn tui(
    script: Option<&std::path::Path>,
    arch: &str,
    iomem: Option<&std::path::Path>,
    opts: hotplug_lab::ui::Options,
) -> ExitCode {
    let limits = opts.limits;
    let archs = match hotplug_lab::runner::arch_list(arch) {
        Ok(a) => a,
        Err(e) => {
            warn(&format!("hotplug-lab tui: {e}"));
            return ExitCode::from(2);
        }
    };
    let read = |p: &std::path::Path| hotplug_lab::runner::read_input(&p.to_string_lossy(), &limits);
    let iomem = match iomem.map(read).transpose() {
        Ok(t) => t.unwrap_or_default(),
        Err(e) => {
            warn(&format!("hotplug-lab tui: --iomem {e}"));
            return ExitCode::from(2);
        }
    };
    let script = match script {
        Some(p) => match read(p) {
            Ok(src) => Some((p.display().to_string(), src)),
            Err(e) => {
                warn(&format!("hotplug-lab tui: {e}"));
                return ExitCode::from(2);
            }
        },
        None => None,
    };
    hotplug_lab::ui::run(hotplug_lab::ui::Options {
        archs,
        iomem,
        script,
        ..opts
    })
}

/// `--kernel`: a modelled version (a release such as 6.1.0-56-amd64 picks its major.minor).
fn kernel_version(s: &str) -> Result<String, String> {
    arch::lookup_kernel(s)
        .map(|k| k.name.to_string())
        .ok_or_else(|| {
            format!(
                "not a modelled kernel version (modelled: {})",
                arch::kernel_names().join(", ")
            )
        })
}
