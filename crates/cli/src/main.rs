//! `warrenctl`: a rabbitmqadmin-style client of the management HTTP API,
//! for Warren and for RabbitMQ alike.
//!
//! ```text
//! warrenctl [--host H --port P --username U --password P --vhost V --format table|json|tsv] <verb> <noun> [options]
//! warrenctl declare queue --name q --queue-type quorum
//! warrenctl --format json list queues
//! ```
//!
//! Layout:
//! - `args`: the `<verb> <noun>` grammar (clap), options named after the API's fields;
//! - `client`: a blocking HTTP client (ureq) with basic auth and percent-encoded paths;
//! - `commands`: one function per verb and noun: path, body, what is printed;
//! - `output`: tables, JSON and TSV, with the columns chosen per noun;
//! - `error`: failures and their sysexits exit codes (see that module for the table).

mod args;
mod client;
mod commands;
mod error;
mod output;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = match args::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // Help and version go to stdout and succeed; anything else is a usage error.
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(error::USAGE)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match commands::run(&cli) {
        Ok(out) => {
            let mut stdout = std::io::stdout().lock();
            match stdout.write_all(out.as_bytes()).and_then(|_| stdout.flush()) {
                // A reader that stopped early (`| head`) is not a failure.
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                    eprintln!("error: cannot write to standard output: {e}");
                    ExitCode::from(error::IO_ERR)
                }
                _ => ExitCode::SUCCESS,
            }
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
