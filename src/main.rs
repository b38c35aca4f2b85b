use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = pgdeck::cli::Cli::parse();
    match pgdeck::cli::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("pgdeck: {e:#}");
            ExitCode::from(1)
        }
    }
}
