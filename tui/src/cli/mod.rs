//! The command line: the flags, one module per subcommand, and where names become typed
//! values. An architecture or kernel-version name given as a flag is resolved here, once,
//! into [`arch::Target`]s (an unknown name is a usage error with the list and a
//! did-you-mean); the boot flags that run, repl and tui share are one argument group,
//! and each builds one [`BootConfig`] from it.

pub mod archs;
pub mod host;
pub mod kernels;
pub mod picture;
pub mod repl;
pub mod run;
pub mod tui;

use crate::output::warn;
use crate::script::{BootConfig, Limits};
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "hotplug-lab",
    version,
    about = "Simulate Linux memory hotplug and the sparse vmemmap on x86_64, arm64, powerpc and s390, as the Linux versions `hotplug-lab kernels` lists do it",
    after_help = "With no command, hotplug-lab opens the terminal UI on the default architecture."
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// The terminal UI (the default): a memory map, blocks, totals, dmesg and a Rhai REPL,
    /// with an optional script to step through.
    Tui(tui::Args),
    /// Run a Rhai script headless ("-" reads it from stdin).
    #[command(
        after_help = "Exit status: 0 when the script finishes, 1 when it throws or the sandbox stops it \
                      or the --sysfs-out export fails (the error on stderr as FILE:LINE:COLUMN: \
                      ERRNO: reason), 2 on bad usage."
    )]
    Run(run::Args),
    /// A line REPL on stdin/stdout with the machine bound to `m` (history, completion with
    /// Tab, Ctrl-C stops a statement, Ctrl-D quits).
    Repl(repl::Args),
    /// This machine (or a tree captured from one) in the model: what was read, and the model
    /// booted from it; --check compares the two field by field.
    #[command(
        after_help = "Exit status: 0 (with --check: the model agrees with the system), 1 \
                      when --check finds a difference, 2 when the system or tree cannot be read \
                      or is not one the model knows. README, \"Your machine\", gives the command \
                      that captures a tree."
    )]
    Host(host::Args),
    /// List the modelled kernel versions, what each was checked against, and what differs
    /// between them (with the kernel files that decide it).
    Kernels,
    /// Draw a machine booted from the flags (or --host, --sysroot) as SVG: its physical
    /// address map, or the vmemmap of a range.
    #[command(
        after_help = "Exit status: 0 when the picture is written, 1 when the boot or the write \
                            fails, 2 on bad usage."
    )]
    Picture(picture::Args),
    /// Print the parameters of every architecture (or of those named) as a table that fits
    /// the terminal ($COLUMNS, else its width, else 100 columns), or as JSON.
    Archs(archs::Args),
}

/// The binary: parse the command line and run the subcommand.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        None => tui::command(tui::Args::parse_default()),
        Some(Command::Tui(a)) => tui::command(a),
        Some(Command::Run(a)) => run::command(a),
        Some(Command::Repl(a)) => repl::command(a),
        Some(Command::Host(a)) => host::command(a),
        Some(Command::Kernels) => {
            crate::output::emit_or_fail("kernels", &kernels::listing(), ExitCode::SUCCESS)
        }
        Some(Command::Archs(a)) => archs::command(a),
        Some(Command::Picture(a)) => picture::command(a),
    }
}

/// The boot flags run, repl and tui share (each keeps its own --arch and --kernel: lists
/// for run and tui, one for repl).
#[derive(Args, Clone, Debug)]
pub struct BootArgs {
    /// The kernel command line the machines boot with (CMDLINE in scripts; boot() uses it)
    #[arg(long, default_value = "")]
    pub cmdline: String,
    /// A /proc/iomem file to boot from (IOMEM in scripts; "-" reads standard input)
    #[arg(long, value_name = "FILE")]
    pub iomem: Option<PathBuf>,
    /// The boot RAM, laid out as the architecture's default QEMU machine lays it out (RAM in
    /// scripts; boot() takes it; a size: 16G, 0x40000000) [default: 2G]
    #[arg(long, value_name = "SIZE", value_parser = ram_size,
          conflicts_with_all = ["iomem", "host", "sysroot"])]
    pub ram: Option<u64>,
    /// A malformed value of a known kernel parameter fails the boot (the kernel logs it and
    /// keeps the default)
    #[arg(long)]
    pub strict: bool,
    #[command(flatten)]
    pub from: From,
    #[command(flatten)]
    pub sandbox: Sandbox,
}

impl BootArgs {
    /// The configuration every target of this command boots from (its target set by the
    /// caller), with --iomem and --host/--sysroot read once. The error is said (exit 2).
    pub fn config(
        &self,
        command: &str,
        limits: &Limits,
        kernel: Option<&'static arch::Kernel>,
    ) -> Result<BootConfig, ExitCode> {
        let capture = self.from.capture(command, limits, kernel)?;
        let iomem = match &self.iomem {
            Some(p) => Some(
                read_input(&p.to_string_lossy(), limits)
                    .map(Arc::<str>::from)
                    .map_err(|e| {
                        warn(&format!("hotplug-lab {command}: --iomem {e}"));
                        ExitCode::from(2)
                    })?,
            ),
            None => None,
        };
        let mut c = BootConfig::default();
        if let Some(cap) = &capture {
            c.target = cap.target;
        }
        c.cmdline = self.cmdline.clone();
        c.iomem = iomem;
        c.ram = self.ram;
        c.strict = self.strict;
        c.capture = capture;
        Ok(c)
    }
}

/// A real system to start from instead of --arch and --iomem (README, "Your machine").
#[derive(Args, Clone, Debug)]
pub struct From {
    /// Boot from this machine: its architecture, kernel version, RAM, memory parameters and
    /// block states (see `hotplug-lab host`)
    #[arg(long, conflicts_with_all = ["arch", "iomem", "sysroot"])]
    pub host: bool,
    /// Boot from a tree captured from a machine (`hotplug-lab host --capture-command`)
    #[arg(long, value_name = "DIR", conflicts_with_all = ["arch", "iomem"])]
    pub sysroot: Option<PathBuf>,
}

impl From {
    /// The system, read, modelled on `kernel` when one is named; the error already said
    /// (exit 2).
    fn capture(
        &self,
        command: &str,
        limits: &Limits,
        kernel: Option<&'static arch::Kernel>,
    ) -> Result<Option<Arc<crate::host::Capture>>, ExitCode> {
        let root = match (&self.sysroot, self.host) {
            (Some(d), _) => d.clone(),
            (None, true) => PathBuf::from("/"),
            (None, false) => return Ok(None),
        };
        crate::host::read(&root, limits.max_input, kernel)
            .map(|c| Some(Arc::new(c)))
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
pub struct Sandbox {
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
    pub fn limits(&self) -> Limits {
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

/// Architecture configurations a flag named, in order, each once.
#[derive(Debug, Clone)]
pub struct Archs(pub Vec<&'static arch::Config>);

/// Kernel versions a flag named, in order, each once.
#[derive(Debug, Clone)]
pub struct Kernels(pub Vec<&'static arch::Kernel>);

/// `--arch` of run and tui, for clap.
pub fn archs(arg: &str) -> Result<Archs, String> {
    arch_list(arg).map(Archs)
}

/// `--kernel` of run, for clap.
pub fn kernels(arg: &str) -> Result<Kernels, String> {
    kernel_list(arg).map(Kernels)
}

/// `--arch` of run and tui: a name (or a `uname -m` alias, in any case), a comma-separated
/// list, "all" or "every", each configuration once. An unknown name is a usage error with
/// the names and a did-you-mean.
pub fn arch_list(arg: &str) -> Result<Vec<&'static arch::Config>, String> {
    let mut v: Vec<&'static arch::Config> = Vec::new();
    for a in arg.split(',').map(str::trim).filter(|a| !a.is_empty()) {
        let configs: Vec<&'static arch::Config> = match a.to_ascii_lowercase().as_str() {
            "all" => arch::Config::all().collect(),
            "every" => arch::CONFIGS.iter().collect(),
            _ => {
                vec![arch::Config::lookup(a).map_err(|e| also(e, a, "--arch", &["all", "every"]))?]
            }
        };
        for c in configs {
            if !v.iter().any(|x| std::ptr::eq(*x, c)) {
                v.push(c);
            }
        }
    }
    if v.is_empty() {
        return Err("--arch names no architecture".to_string());
    }
    Ok(v)
}

/// A list flag's unknown name: the lookup's error, then the words the list also takes,
/// with a did-you-mean when the name is near one of them.
fn also(e: arch::ArchError, given: &str, flag: &str, words: &[&str]) -> String {
    let near = arch::registry::did_you_mean(given, words.iter().copied())
        .map(|w| format!(" (did you mean {w}?)"))
        .unwrap_or_default();
    format!("{e}; {flag} also takes {}{near}", words.join(" or "))
}

/// `--arch` where one architecture is taken.
pub fn one_arch(arg: &str) -> Result<&'static arch::Config, String> {
    arch::Config::lookup(arg).map_err(|e| e.to_string())
}

/// `--kernel` of run: a version (a release such as 6.1.0-56-amd64 picks its major.minor), a
/// comma-separated list, or "all".
pub fn kernel_list(arg: &str) -> Result<Vec<&'static arch::Kernel>, String> {
    let mut v: Vec<&'static arch::Kernel> = Vec::new();
    for k in arg.split(',').map(str::trim).filter(|k| !k.is_empty()) {
        let ks: Vec<&'static arch::Kernel> = if k.eq_ignore_ascii_case("all") {
            arch::KERNELS.to_vec()
        } else {
            vec![arch::Kernel::lookup(k).map_err(|e| also(e, k, "--kernel", &["all"]))?]
        };
        for k in ks {
            if !v.iter().any(|x| std::ptr::eq(*x, k)) {
                v.push(k);
            }
        }
    }
    if v.is_empty() {
        return Err("--kernel names no version".to_string());
    }
    Ok(v)
}

/// `--kernel` where one version is taken.
pub fn one_kernel(arg: &str) -> Result<&'static arch::Kernel, String> {
    arch::Kernel::lookup(arg).map_err(|e| e.to_string())
}

/// A size flag: the kernel's size syntax (memparse: 4096, 0x1000, 64K, 512M, 2G), not 0.
pub fn size(s: &str) -> Result<u64, String> {
    match mm::cmdline::parse_size(s) {
        Some(0) => Err("must be more than 0".to_string()),
        Some(v) => Ok(v),
        None => Err(format!(
            "{} is not a size like 512M or 2G",
            mm::error::quote(s)
        )),
    }
}

/// `--ram`: a size, and one that is no mere number of bytes a unit was forgotten from.
fn ram_size(s: &str) -> Result<u64, String> {
    let v = size(s)?;
    if v < 1 << 20 {
        return Err(format!(
            "{} is {v} bytes: give a unit, as in {}G or {}M",
            mm::error::quote(s),
            s.trim(),
            s.trim()
        ));
    }
    Ok(v)
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

/// Read a script or an iomem file ("-" is standard input): at most `limits.max_input`
/// bytes of UTF-8, within `limits.max_time` (a FIFO nobody writes to, a slow pipe).
pub fn read_input(path: &str, limits: &Limits) -> Result<String, String> {
    let (p, max) = (path.to_string(), limits.max_input);
    let (tx, rx) = std::sync::mpsc::channel();
    // A reader blocked for good stays behind; the process ends without it.
    std::thread::Builder::new()
        .name("hotplug-lab-input".into())
        .spawn(move || {
            let _ = tx.send(read_whole(&p, max));
        })
        .map_err(|e| format!("{path}: {e}"))?;
    let name = if path == "-" { "standard input" } else { path };
    rx.recv_timeout(limits.max_time).unwrap_or_else(|_| {
        Err(format!(
            "{name}: reading it took longer than {} s (--max-time); a FIFO nobody writes to?",
            limits.max_time.as_secs_f64()
        ))
    })
}

fn read_whole(path: &str, max: u64) -> Result<String, String> {
    use std::io::Read;
    let mut buf = Vec::new();
    let got = if path == "-" {
        std::io::stdin().lock().take(max + 1).read_to_end(&mut buf)
    } else {
        std::fs::File::open(path).and_then(|f| f.take(max + 1).read_to_end(&mut buf))
    };
    let name = if path == "-" { "standard input" } else { path };
    got.map_err(|e| format!("{name}: {e}"))?;
    if buf.len() as u64 > max {
        return Err(format!(
            "{name}: file too large: more than {} (--max-input-size raises the limit)",
            arch::approx(max)
        ));
    }
    String::from_utf8(buf).map_err(|e| {
        format!(
            "{name}: not UTF-8 text (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        )
    })
}

/// Help text for --arch, from the registry.
pub fn arch_help(several: bool) -> String {
    let names: Vec<&str> = arch::Config::names().collect();
    let all: Vec<&str> = arch::Config::all().map(|c| c.name).collect();
    let aliases: Vec<&str> = arch::Config::unames()
        .into_iter()
        .filter(|u| !names.contains(u))
        .collect();
    let mut s = format!(
        "{} (or uname -m's {})",
        names.join(", "),
        aliases.join(", ")
    );
    if several {
        s.push_str(&format!(
            "; several comma-separated; all ({}) or every (all {})",
            all.join(", "),
            names.len()
        ));
    }
    s
}

/// Help text for --kernel, from the version table.
pub fn kernel_help() -> String {
    let names: Vec<&str> = arch::Kernel::names().collect();
    format!(
        "{} (default {}; see hotplug-lab kernels)",
        names.join(", "),
        arch::default_kernel().name
    )
}

#[cfg(test)]
mod tests {
    /// A list flag's near miss of `all` is told so, and the words a list takes are named.
    #[test]
    fn list_flags_name_all_and_every() {
        let e = super::arch_list("x86_64,al").unwrap_err();
        assert!(
            e.contains("--arch also takes all or every (did you mean all?)"),
            "{e}"
        );
        let e = super::kernel_list("6.12,7.3,al").unwrap_err();
        assert!(
            e.contains("--kernel also takes all (did you mean all?)"),
            "{e}"
        );
        let e = super::kernel_list("6.13").unwrap_err();
        assert!(e.contains("did you mean 6.12?"), "{e}");
    }
}
