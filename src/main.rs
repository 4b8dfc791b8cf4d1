//! The `gti-relay` binary: hands the command line to [`gti_relay::cli`] and
//! exits with the code it returns (0 ok, 1 failure, 2 usage).

use std::process::ExitCode;

fn main() -> ExitCode {
    // Lossy, so a stray non-UTF-8 argument is a usage error, not a panic.
    let args: Vec<String> = std::env::args_os()
        .skip(1)
        .map(|arg| arg.to_string_lossy().into_owned())
        .collect();
    ExitCode::from(gti_relay::cli::run(&args))
}
