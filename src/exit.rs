//! Exit codes, decided in one place (SPEC "Exit codes").
//!
//! Library code returns typed errors; the command edge wraps them with `anyhow` context.
//! `main` walks the error chain once and maps the first typed error it recognises to a
//! code, so systemd `OnFailure=` and cron mail see a meaningful status.

use std::fmt;

/// The process exit status of every `trader` command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Success, including "not a trading day, nothing to do".
    Ok = 0,
    /// An unexpected error.
    Unexpected = 1,
    /// A usage or configuration error.
    Usage = 2,
    /// Blocked by a gate: preflight failed, prerequisite job missing, critical health check.
    Blocked = 3,
    /// Halted: kill switch or circuit breaker.
    Halted = 4,
    /// Broker or data source unavailable after retries, or the stored data is unusable.
    Unavailable = 5,
    /// Validation RED.
    ValidationRed = 6,
    /// Another run holds the state lock.
    Locked = 7,
}

impl Exit {
    pub fn code(self) -> u8 {
        self as u8
    }
}

/// An error that carries its own exit code: a gate that said no, a held lock, and so on.
#[derive(Debug)]
pub struct ExitError {
    pub exit: Exit,
    pub message: String,
}

impl ExitError {
    pub fn new(exit: Exit, message: impl Into<String>) -> Self {
        ExitError {
            exit,
            message: message.into(),
        }
    }
}

impl fmt::Display for ExitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ExitError {}

/// Map an error chain to an exit code: the first error in the chain that knows its code wins.
pub fn classify(err: &anyhow::Error) -> Exit {
    for cause in err.chain() {
        if let Some(e) = cause.downcast_ref::<ExitError>() {
            return e.exit;
        }
        // A promotion the state's history does not support yet.
        if cause.downcast_ref::<crate::gates::GateRefusal>().is_some() {
            return Exit::Blocked;
        }
        if cause.downcast_ref::<crate::config::ConfigError>().is_some() {
            return Exit::Usage;
        }
        if let Some(e) = cause.downcast_ref::<crate::state::lock::LockError>() {
            // Only a lock another run holds is "locked": a lock file that cannot be opened
            // (its path is a directory, the state directory cannot be created) is a setup
            // problem a person must fix, and retrying later would not help.
            return match e {
                crate::state::lock::LockError::Io { .. } => Exit::Usage,
                _ => Exit::Locked,
            };
        }
        // A broker that refused, could not be reached or answered with something unusable.
        if cause.downcast_ref::<crate::broker::BrokerError>().is_some() {
            return Exit::Unavailable;
        }
        // A source that failed after retries, or answered with unusable data: either way
        // the data source did not deliver, and the store was left as it was. A bad transport
        // setting (e.g. `http.max_attempts: 0`) is the config's fault, not the source's.
        // Stored bars no decision can stand on (a non-finite or non-positive close, a bad
        // volume): the data is unusable, which is exit 5 too.
        if let Some(e) = cause.downcast_ref::<crate::strategy::StrategyError>() {
            use crate::strategy::StrategyError as S;
            if matches!(
                e,
                S::BadClose { .. }
                    | S::BadVolume { .. }
                    | S::Unsorted { .. }
                    | S::RaggedSeries { .. }
            ) {
                return Exit::Unavailable;
            }
        }
        if let Some(crate::data::history::HistoryError::Unusable(_)) =
            cause.downcast_ref::<crate::data::history::HistoryError>()
        {
            return Exit::Unavailable;
        }
        if let Some(e) = cause.downcast_ref::<crate::data::http::FetchError>() {
            return match e {
                crate::data::http::FetchError::Config { .. } => Exit::Usage,
                _ => Exit::Unavailable,
            };
        }
    }
    Exit::Unexpected
}
