//! `trader`: parse the command line, run one job, exit with a code that means something.

use std::process::ExitCode;

use clap::Parser;

use trader::cli::Cli;
use trader::exit::{self, Exit};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() {
                Exit::Usage
            } else {
                Exit::Ok
            };
            // Printing --help/--version or a usage error is clap's job.
            let _ = e.print();
            return ExitCode::from(code.code());
        }
    };
    match trader::commands::run(&cli) {
        Ok(code) => ExitCode::from(code.code()),
        Err(err) => {
            let code = exit::classify(&err);
            // Scrubbed: an error may quote what a server or the config said, keys included.
            let text = trader::redact::scrub_owned(format!("{err:#}"));
            eprintln!("trader: error: {text}");
            trader::log::error_line(&cli, &text);
            ExitCode::from(code.code())
        }
    }
}
