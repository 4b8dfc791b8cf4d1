//! Why a command stopped short of success: the value every command returns
//! instead of printing and exiting itself, so that one place
//! (`commands::run`) owns stderr and the exit code.

use super::key::KeyError;
use crate::config::ConfigError;
use crate::error::StartError;

/// Why a command stopped short of success.
#[derive(Debug)]
pub(crate) enum Stop {
    /// A usage or configuration problem: exit code 2.
    Usage(String),
    /// GTI or the relay failed: exit code 1.
    Failure(String),
    /// Failures already on stderr (a lookup's per-observable errors): exit
    /// code 1.
    Reported,
}

impl From<ConfigError> for Stop {
    fn from(error: ConfigError) -> Self {
        Stop::Usage(error.to_string())
    }
}

/// A configuration problem is a usage error; anything else that kept the
/// relay from starting is a failure.
impl From<StartError> for Stop {
    fn from(error: StartError) -> Self {
        match error {
            StartError::Config(error) => Stop::from(error),
            other => Stop::Failure(other.to_string()),
        }
    }
}

impl From<KeyError> for Stop {
    fn from(error: KeyError) -> Self {
        Stop::Usage(error.to_string())
    }
}
