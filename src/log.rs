//! Log lines to stderr (journald picks them up under systemd) and to `logs/trader.log`.
//!
//! Plain lines, one per event, UTC timestamps. Every line passes through
//! [`crate::redact::scrub`] first, so a secret that reached a message (a server echoing a key
//! in an error body, say) is masked on stderr and in the file alike.

use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

/// Where and how much to log.
#[derive(Debug, Clone)]
pub struct Logger {
    pub file: Option<PathBuf>,
    pub command: String,
    pub verbose: u8,
    pub quiet: bool,
    /// The job clock (`TRADER_NOW` and when the process started), so log lines carry the same
    /// time as the state and the lock; `None` = the wall clock.
    pub clock: Option<(DateTime<Utc>, std::time::Instant)>,
}

impl Logger {
    pub fn new(logs_dir: Option<&Path>, command: &str, verbose: u8, quiet: bool) -> Logger {
        Logger {
            file: logs_dir.map(|d| d.join("trader.log")),
            command: command.to_string(),
            verbose,
            quiet,
            clock: None,
        }
    }

    /// Stamp lines with the job clock: `now` advanced by the time since `started`.
    pub fn with_clock(mut self, now: DateTime<Utc>, started: std::time::Instant) -> Logger {
        self.clock = Some((now, started));
        self
    }

    /// A progress or status line a person may want to see.
    pub fn info(&self, msg: &str) {
        let msg = &crate::redact::scrub(msg);
        if !self.quiet {
            eprintln!("{msg}");
        }
        self.append("INFO", msg);
    }

    /// Something a person should look at; shown even with `--quiet`.
    pub fn warn(&self, msg: &str) {
        let msg = &crate::redact::scrub(msg);
        eprintln!("warning: {msg}");
        self.append("WARN", msg);
    }

    /// Detail shown only with `-v`.
    pub fn debug(&self, msg: &str) {
        let msg = &crate::redact::scrub(msg);
        if self.verbose > 0 && !self.quiet {
            eprintln!("{msg}");
        }
        if self.verbose > 0 {
            self.append("DEBUG", msg);
        }
    }

    fn append(&self, level: &str, msg: &str) {
        let Some(path) = &self.file else { return };
        let now: DateTime<Utc> = match self.clock {
            Some((t, started)) => {
                t + chrono::Duration::from_std(started.elapsed()).unwrap_or_default()
            }
            None => Utc::now(),
        };
        let line = format!(
            "{} {level} {}: {}\n",
            now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            self.command,
            crate::redact::scrub(msg).replace('\n', " | ")
        );
        // Logging must never fail a job: a full disk is caught by `health`.
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
        {
            let _ = f.write_all(line.as_bytes());
        }
    }
}

/// Log a fatal error to the log file when the config can still be read.
pub fn error_line(cli: &crate::cli::Cli, msg: &str) {
    if let Ok((config, _)) = crate::config::load(&cli.config) {
        let mut l = Logger::new(
            Some(&config.paths.logs_dir),
            crate::commands::name(&cli.command),
            0,
            true,
        );
        if let Ok(now) = crate::commands::now() {
            l = l.with_clock(now, std::time::Instant::now());
        }
        l.append("ERROR", msg);
    }
}
