//! `hotplug-lab tui` (and no subcommand): the terminal UI on the targets the flags name.

use crate::output::warn;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// A Rhai script to load into the player (n steps, r runs to the end).
    script: Option<PathBuf>,
    /// Several are shown side by side.
    #[arg(long, value_parser = super::archs, help = format!("The architectures on screen (several side by side): {} [default: the --host or --sysroot system's, else {}]", super::arch_help(true), arch::Config::default_config().name))]
    arch: Option<super::Archs>,
    /// The kernel version the machines model; L switches it
    #[arg(long, value_name = "VERSION", value_parser = super::one_kernel, help = format!("The kernel version the machines model (L switches it): {}", super::kernel_help()))]
    kernel: Option<&'static arch::Kernel>,
    /// Where `p` writes pictures (hotplug-lab-N.svg)
    #[arg(long, value_name = "DIR", default_value = ".")]
    svg_out: PathBuf,
    #[command(flatten)]
    boot: super::BootArgs,
}

/// `tui` with every flag at its default.
#[derive(clap::Parser)]
struct Defaults {
    #[command(flatten)]
    args: Args,
}

impl Args {
    /// What `hotplug-lab` with no subcommand means: `tui` with its defaults.
    pub fn parse_default() -> Args {
        use clap::Parser;
        Defaults::parse_from(["hotplug-lab"]).args
    }
}

pub fn command(a: Args) -> ExitCode {
    let limits = a.boot.sandbox.limits();
    let base = match a.boot.config("tui", &limits, a.kernel) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let kernel = a.kernel.unwrap_or(base.target.kernel);
    let targets: Vec<arch::Target> = match &a.arch {
        Some(archs) => archs
            .0
            .iter()
            .map(|c| arch::Target::new(c, kernel))
            .collect(),
        None => vec![arch::Target::new(base.target.config, kernel)],
    };
    let script = match &a.script {
        Some(p) => match super::read_input(&p.to_string_lossy(), &limits) {
            Ok(src) => Some((p.display().to_string(), src)),
            Err(e) => {
                warn(&format!("hotplug-lab tui: {e}"));
                return ExitCode::from(2);
            }
        },
        None => None,
    };
    crate::ui::run(crate::ui::Options {
        targets,
        boot: base,
        script,
        limits,
        svg_out: a.svg_out,
    })
}
