//! `hotplug-lab picture`: a machine booted from the flags (or --host, --sysroot: your own)
//! drawn as SVG, its address map or the vmemmap of a range.

use crate::output::warn;
use crate::picture::View;
use crate::script::run::{run_target, RunOptions};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[arg(long, value_parser = super::one_arch, help = format!("The architecture: {} [default: the --host or --sysroot system's, else {}]", super::arch_help(false), arch::Config::default_config().name))]
    arch: Option<&'static arch::Config>,
    #[arg(long, value_name = "VERSION", value_parser = super::one_kernel, help = format!("The kernel version modelled: {}", super::kernel_help()))]
    kernel: Option<&'static arch::Kernel>,
    /// What to draw: the physical address map, or the vmemmap of --range (default: the
    /// first memory block)
    #[arg(long, default_value = "map", value_parser = ["map", "vmemmap"])]
    view: String,
    /// The range to draw, START,SIZE in the kernel's size syntax (0x100000000,1G)
    #[arg(long, value_name = "START,SIZE")]
    range: Option<String>,
    /// The SVG file to write (a link there is not followed)
    #[arg(short = 'o', long = "output", value_name = "FILE.svg")]
    output: PathBuf,
    #[command(flatten)]
    boot: super::BootArgs,
}

/// START,SIZE in the kernel's size syntax.
fn parse_range(text: &str) -> Result<(u64, u64), String> {
    let (a, b) = text
        .split_once(',')
        .ok_or_else(|| format!("--range {text:?}: give START,SIZE (0x100000000,1G)"))?;
    let size = |s: &str| {
        mm::cmdline::parse_size_or_why(s.trim()).map_err(|why| format!("--range {s:?}: {why}"))
    };
    let (start, len) = (size(a)?, size(b)?);
    if len == 0 {
        return Err("--range: the size must not be 0".to_string());
    }
    if start.checked_add(len).is_none() {
        return Err(format!(
            "--range {text:?}: the range runs past the end of a 64-bit address space"
        ));
    }
    Ok((start, len))
}

pub fn command(a: Args) -> ExitCode {
    let limits = a.boot.sandbox.limits();
    let mut boot = match a.boot.config("picture", &limits, a.kernel) {
        Ok(c) => c,
        Err(code) => return code,
    };
    boot.target = arch::Target::new(
        a.arch.unwrap_or(boot.target.config),
        a.kernel.unwrap_or(boot.target.kernel),
    );
    let range = match a.range.as_deref().map(parse_range).transpose() {
        Ok(r) => r,
        Err(e) => {
            warn(&format!("hotplug-lab picture: {e}"));
            return ExitCode::from(2);
        }
    };
    let view = View::parse(&a.view).unwrap_or(View::Map);
    let mut o = RunOptions::new(boot);
    o.limits = limits;
    let r = run_target("boot()", &o);
    if let Some(e) = r.error_line("picture") {
        warn(&format!("hotplug-lab picture: {e}"));
        return ExitCode::from(1);
    }
    for w in &r.warnings {
        warn(&format!("hotplug-lab picture: warning: {w}"));
    }
    let Some(m) = r.machine else {
        warn("hotplug-lab picture: no machine booted");
        return ExitCode::from(1);
    };
    if let Some((s, n)) = range {
        let end = m.geometry().physmem_end;
        if s > end || n - 1 > end - s {
            warn(&format!(
                "hotplug-lab picture: --range [{s:#x}, +{}) runs past {}'s physical address \
                 space (MAX_PHYSMEM_BITS: up to {end:#x})",
                arch::human(n),
                m.target().name()
            ));
            return ExitCode::from(2);
        }
        if m.memmap_extents(s, n).is_empty() {
            warn(&format!(
                "hotplug-lab picture: note: nothing in [{s:#x}, +{}) has a struct page on this \
                 machine; the picture shows what is there (a hole, or a range without a memmap)",
                arch::human(n)
            ));
        }
    }
    let svg = crate::picture::machine_svg(&m, view, range);
    match crate::output::write_new_file(&a.output, svg.as_bytes()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            warn(&format!("hotplug-lab picture: {}: {e}", a.output.display()));
            ExitCode::from(1)
        }
    }
}
