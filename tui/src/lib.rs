//! hotplug-lab: the command line, the Rhai scripting API, the headless runner and the
//! terminal UI on top of the `mm` model and the `arch` backends.
//!
//! Each job is its own module tree, with one direction of dependency: [`script`] (the API,
//! its sandbox and the session every front end holds) knows nothing of the UI or the
//! command line; [`host`] reads a live system or a captured tree; [`ui`] is the terminal
//! UI on a script session; [`cli`] is the command line, one module per subcommand, on all
//! of them; [`output`] is how the binary writes. The binary installs [`heap`]'s counting
//! allocator.
//!
//! ```
//! use hotplug_lab::script::{run::{run_target, RunOptions}, BootConfig};
//! let boot = BootConfig::new(arch::Target::parse("s390", "6.12").unwrap());
//! let r = run_target("let m = boot(); m.block_size", &RunOptions::new(boot));
//! assert_eq!(r.result.unwrap(), 256 << 20);
//! ```

pub mod cli;
pub mod heap;
pub mod host;
pub mod output;
pub mod picture;
pub mod script;
pub mod ui;

#[cfg(test)]
install_heap_meter!();
