//! The `recert` binary: parse, run, map the outcome to an exit code. All logic is in the
//! library.

use std::process::ExitCode;

use clap::Parser;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = recert::cli::Cli::parse();
    match recert::cli::run(cli) {
        Ok(outcome) => ExitCode::from(outcome as u8),
        Err(error) => {
            #[allow(
                clippy::print_stderr,
                reason = "the last resort for an error that escaped the command"
            )]
            {
                eprintln!("recert: error: {error:#}");
            }
            ExitCode::from(recert::cli::Outcome::Error as u8)
        }
    }
}
