//! `kiln-controller`: the same loop as `kiln controller`, as a binary of this crate (tests run it
//! as a process).

use clap::Parser;

#[derive(Parser)]
#[command(
    name = "kiln-controller",
    about = "Follow a branch and keep the cluster equal to it"
)]
struct Cli {
    #[command(flatten)]
    args: kiln_controller::Args,
}

fn main() -> std::process::ExitCode {
    kiln_controller::main(Cli::parse().args)
}
