//! The `hotplug-lab` binary.

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "hotplug-lab",
    version,
    about = "Simulate Linux memory hotplug and the sparse vmemmap on x86_64, arm64, powerpc and s390"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Print the parameters of every architecture as one table.
    Archs,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Archs) => {
            print!("{}", hotplug_lab::archs::table());
            ExitCode::SUCCESS
        }
        None => {
            eprintln!("hotplug-lab: the terminal UI is not built yet; try `hotplug-lab archs`");
            ExitCode::from(2)
        }
    }
}
