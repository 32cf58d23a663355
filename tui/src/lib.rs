//! hotplug-lab: the command line, the Rhai scripting API, the headless runner and the
//! terminal UI on top of the `mm` model and the `arch` backends.

pub mod archs;
pub mod heap;
pub mod host;
pub mod kernels;
pub mod repl;
pub mod runner;
pub mod script;
pub mod ui;
