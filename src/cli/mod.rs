//! The command line: `gti-relay [COMMAND …]`. The binary hands its
//! arguments to [`run`] and exits with the code it returns.
//!
//! Kept apart by concern so each can change alone: `args` reads the words
//! into a command (lexopt; no message echoes an option's value), `key`
//! finds the GTI API key (`--key-file`, `GTI_API_KEY`, `--key`) and keeps it
//! out of every message, `usage` is the help text over the configuration's
//! own defaults, `commands` runs the one-shot lookups and owns the output
//! contract, `serve` the long-running relay, the demo and the container
//! probe. Settings still come from the environment (`Config`); the only
//! variable read here is `GTI_API_KEY`, a command's default key.

mod args;
mod commands;
mod key;
mod serve;
mod stop;
mod usage;

/// Success.
const EXIT_OK: u8 = 0;
/// GTI or the relay failed (message on stderr).
const EXIT_FAILURE: u8 = 1;
/// Wrong command line or configuration.
const EXIT_USAGE: u8 = 2;

/// Runs the command line `args` (without the program name) and returns the
/// process exit code: 0 ok, 1 GTI or relay failure, 2 usage or
/// configuration error.
pub fn run(args: &[String]) -> u8 {
    match args::parse(args) {
        Ok(command) => commands::run(command),
        Err(problem) => {
            eprintln!("gti-relay: {problem}\n\n{}", usage::text());
            EXIT_USAGE
        }
    }
}
