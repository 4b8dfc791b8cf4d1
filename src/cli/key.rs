//! Where a command's GTI API key comes from: `--key-file PATH`, else the
//! `GTI_API_KEY` variable, else (discouraged) `--key KEY`.
//!
//! The key is a secret, so this module is the only place that holds it
//! before it becomes [`crate::auth::Credentials`]: `Debug` shows where a key
//! comes from, never the key, and no error names it. Which source wins never
//! depends on the order of the options: `--key` and `--key-file` exclude
//! each other (the parser refuses both).

use std::fmt;
use std::io::Read;

/// Where a command takes the GTI API key from.
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum KeySource {
    /// No option: the `GTI_API_KEY` variable.
    Environment,
    /// `--key-file PATH`: a file holding the key.
    File(String),
    /// `--key KEY`: works, but every user can read it in the process list.
    Argument(String),
}

/// Shows where the key comes from, never the key.
impl fmt::Debug for KeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeySource::Environment => f.write_str("Environment"),
            KeySource::File(path) => f.debug_tuple("File").field(path).finish(),
            KeySource::Argument(_) => f.write_str("Argument(<redacted>)"),
        }
    }
}

/// The warning `--key` earns on stderr.
const KEY_ARGUMENT_WARNING: &str = "warning: --key shows the API key to every user of \
this machine in the process list (ps); use the GTI_API_KEY variable or --key-file PATH instead";

/// A key file holds one key; anything larger is not one, and is not read.
const MAX_KEY_FILE_BYTES: u64 = 64 * 1024;

/// Why no key could be had: a configuration problem (exit code 2). Its text
/// names the source, never a key.
#[derive(Debug)]
pub(crate) enum KeyError {
    /// Neither an option nor `GTI_API_KEY` gives one; holds the command.
    Missing(&'static str),
    /// `GTI_API_KEY` is set but not UTF-8.
    NotUnicode,
    /// The key file cannot be opened or read.
    Unreadable { path: String, error: std::io::Error },
    /// The key file holds no usable key; `problem` says why.
    Unusable { path: String, problem: &'static str },
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyError::Missing(command) => write!(
                f,
                "{command} needs an API key: --key-file PATH or the GTI_API_KEY variable"
            ),
            KeyError::NotUnicode => f.write_str("the GTI_API_KEY variable is not valid UTF-8"),
            KeyError::Unreadable { path, error } => {
                write!(f, "cannot read the key file {path}: {error}")
            }
            KeyError::Unusable { path, problem } => write!(f, "the key file {path} {problem}"),
        }
    }
}

impl KeySource {
    /// What to print on stderr before using the key, if anything.
    pub(crate) fn warning(&self) -> Option<&'static str> {
        match self {
            KeySource::Argument(_) => Some(KEY_ARGUMENT_WARNING),
            KeySource::Environment | KeySource::File(_) => None,
        }
    }

    /// The key this source names, for `command`: an option given wins over
    /// `GTI_API_KEY`.
    pub(crate) fn resolve(&self, command: &'static str) -> Result<String, KeyError> {
        match self {
            KeySource::Argument(key) => Ok(key.clone()),
            KeySource::File(path) => read_key_file(path),
            KeySource::Environment => key_in_variable(command, std::env::var("GTI_API_KEY")),
        }
    }
}

/// The key in `GTI_API_KEY` as `std::env::var` read it; empty is unset.
fn key_in_variable(
    command: &'static str,
    variable: Result<String, std::env::VarError>,
) -> Result<String, KeyError> {
    match variable {
        Ok(key) if !key.is_empty() => Ok(key),
        Err(std::env::VarError::NotUnicode(_)) => Err(KeyError::NotUnicode),
        _ => Err(KeyError::Missing(command)),
    }
}

/// The key in the file at `path` (at most [`MAX_KEY_FILE_BYTES`] are read).
fn read_key_file(path: &str) -> Result<String, KeyError> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|file| file.take(MAX_KEY_FILE_BYTES + 1).read_to_end(&mut bytes))
        .map_err(|error| KeyError::Unreadable {
            path: path.to_owned(),
            error,
        })?;
    key_in_file(&bytes).map_err(|problem| KeyError::Unusable {
        path: path.to_owned(),
        problem,
    })
}

/// A key file's key: its text without surrounding whitespace (the newline
/// that `echo`, editors and secrets made from such files end with). A file
/// of whitespace only, or of more than one line, holds no usable key.
fn key_in_file(bytes: &[u8]) -> Result<String, &'static str> {
    if bytes.len() as u64 > MAX_KEY_FILE_BYTES {
        return Err("is larger than 64 KiB, so it is not an API key");
    }
    let text = std::str::from_utf8(bytes).map_err(|_| "is not UTF-8 text")?;
    let key = text.trim();
    if key.is_empty() {
        return Err("is empty");
    }
    if key.contains(['\n', '\r']) {
        return Err("holds more than one line; it must hold only the key");
    }
    Ok(key.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_never_shows_a_key() {
        let source = KeySource::Argument("SECRET".to_owned());
        assert_eq!(format!("{source:?}"), "Argument(<redacted>)");
    }

    #[test]
    fn a_key_file_holds_one_key_and_surrounding_whitespace() {
        assert_eq!(key_in_file(b"abc\n"), Ok("abc".to_owned()));
        assert_eq!(key_in_file(b"  abc \r\n\n"), Ok("abc".to_owned()));
        assert_eq!(key_in_file(b"abc"), Ok("abc".to_owned()));
        assert_eq!(key_in_file(b""), Err("is empty"));
        assert_eq!(key_in_file(b" \n\t\n"), Err("is empty"));
        assert!(key_in_file(b"abc\ndef\n").is_err());
        assert!(key_in_file(b"ab\xffc").is_err());
        let huge = vec![b'k'; MAX_KEY_FILE_BYTES as usize + 1];
        assert!(key_in_file(&huge).is_err());
    }

    #[test]
    fn the_variable_gives_a_key_unless_empty_or_unset() {
        assert_eq!(
            key_in_variable("health", Ok("k".to_owned())).ok(),
            Some("k".to_owned())
        );
        for unset in [Ok(String::new()), Err(std::env::VarError::NotPresent)] {
            let problem = key_in_variable("health", unset).map_err(|error| error.to_string());
            assert_eq!(
                problem,
                Err(
                    "health needs an API key: --key-file PATH or the GTI_API_KEY variable"
                        .to_owned()
                )
            );
        }
    }

    #[test]
    fn only_a_key_on_the_command_line_is_warned_about() {
        assert!(KeySource::Argument("k".to_owned()).warning().is_some());
        assert!(KeySource::File("f".to_owned()).warning().is_none());
        assert!(KeySource::Environment.warning().is_none());
    }
}
