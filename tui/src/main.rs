//! The `hotplug-lab` binary: the command line (hotplug_lab::cli), with the heap meter the
//! sandbox's memory budget reads installed.

hotplug_lab::install_heap_meter!();

fn main() -> std::process::ExitCode {
    hotplug_lab::cli::main()
}
