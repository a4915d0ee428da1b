//! `eventfold`: look inside an eventfold log directory, check it, export it and salvage it,
//! without ever writing into it.
//!
//! Each command parses its flags, calls one function of the eventfold library, and formats
//! what it returns: data on stdout (one JSON object per line with `--json`), progress and
//! diagnostics on stderr. Exit codes: 0 when all went well, 1 when something was found wrong
//! (or could not be read), 2 for a usage error.

mod args;
mod closed;
mod commands;
mod out;
mod time;

use clap::Parser;
use std::io;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = args::Cli::parse();
    let mut out = out::Out::new(&cli.global);
    let result = commands::run(&cli, &mut out);
    let flushed = out.flush();
    match result.and_then(|code| flushed.map(|()| code)) {
        Ok(code) => code,
        // A reader of stdout that went away (`| head`) is not a failure.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            out.error(&e);
            ExitCode::from(1)
        }
    }
}
