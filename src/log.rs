//! Log lines to stderr (journald picks them up under systemd, named by the unit's
//! `SyslogIdentifier=`) and to one file per New York day, `logs/trader-YYYY-MM-DD.log`.
//!
//! Plain lines (`<time> <LEVEL> <job>: <message>`) or JSON lines (`log.format: json`), one per
//! event, UTC timestamps on the job clock. Files older than `log.retention_days` are deleted
//! by the next job. Every line passes through [`crate::redact::scrub`] first, so a secret
//! that reached a message (a server echoing a key in an error body, say) is masked on stderr
//! and in the file alike.
//!
//! A small writer of its own rather than `tracing`: the jobs log a few dozen lines each, the
//! scrubbing, the job clock and the file per New York day are what matter here.

use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, Utc};

use crate::config::LogFormat;

/// Where and how much to log.
#[derive(Debug, Clone)]
pub struct Logger {
    /// The directory of the per-day files (`None`: stderr only).
    pub dir: Option<PathBuf>,
    pub command: String,
    pub verbose: u8,
    pub quiet: bool,
    /// The job clock (`TRADER_NOW` and when the process started), so log lines carry the same
    /// time as the state and the lock; `None` = the wall clock.
    pub clock: Option<(DateTime<Utc>, std::time::Instant)>,
    pub format: LogFormat,
}

/// The day's file name: `trader-2026-05-01.log`.
pub fn file_name(date: NaiveDate) -> String {
    format!("trader-{date}.log")
}

impl Logger {
    pub fn new(logs_dir: Option<&Path>, command: &str, verbose: u8, quiet: bool) -> Logger {
        Logger {
            dir: logs_dir.map(Path::to_path_buf),
            command: command.to_string(),
            verbose,
            quiet,
            clock: None,
            format: LogFormat::Plain,
        }
    }

    /// Stamp lines with the job clock: `now` advanced by the time since `started`.
    pub fn with_clock(mut self, now: DateTime<Utc>, started: std::time::Instant) -> Logger {
        self.clock = Some((now, started));
        self
    }

    pub fn with_format(mut self, format: LogFormat) -> Logger {
        self.format = format;
        self
    }

    fn now(&self) -> DateTime<Utc> {
        match self.clock {
            Some((t, started)) => {
                t + chrono::Duration::from_std(started.elapsed()).unwrap_or_default()
            }
            None => Utc::now(),
        }
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

    /// The line as written to the file.
    pub fn render(&self, now: DateTime<Utc>, level: &str, msg: &str) -> String {
        let ts = now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let msg = crate::redact::scrub(msg);
        match self.format {
            LogFormat::Plain => format!(
                "{ts} {level} {}: {}\n",
                self.command,
                msg.replace('\n', " | ")
            ),
            LogFormat::Json => format!(
                "{}\n",
                serde_json::json!({"ts": ts, "level": level, "job": self.command, "msg": msg})
            ),
        }
    }

    fn append(&self, level: &str, msg: &str) {
        let Some(dir) = &self.dir else { return };
        let now = self.now();
        let path = dir.join(file_name(crate::calendar::trading_date_of(now)));
        let line = self.render(now, level, msg);
        // Logging must never fail a job: a full disk is caught by `health`.
        let _ = std::fs::create_dir_all(dir);
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
        {
            let _ = f.write_all(line.as_bytes());
        }
    }

    /// Delete the per-day files dated more than `days` days before `today` (New York); only
    /// names of the form `trader-YYYY-MM-DD.log` are touched. Returns how many went.
    pub fn prune(&self, today: NaiveDate, days: u32) -> usize {
        let Some(dir) = &self.dir else { return 0 };
        let Ok(entries) = std::fs::read_dir(dir) else {
            return 0;
        };
        let oldest = today - chrono::Duration::days(i64::from(days));
        let mut n = 0;
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let date = name
                .strip_prefix("trader-")
                .and_then(|r| r.strip_suffix(".log"))
                .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok());
            if date.is_some_and(|d| d < oldest)
                && e.file_type().is_ok_and(|t| t.is_file())
                && std::fs::remove_file(e.path()).is_ok()
            {
                n += 1;
            }
        }
        n
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
        )
        .with_format(config.log.format);
        if let Ok(now) = crate::commands::now() {
            l = l.with_clock(now, std::time::Instant::now());
        }
        l.append("ERROR", msg);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_lines_are_json_and_scrubbed_lines_stay_one_line() {
        let l = Logger::new(None, "fetch", 0, true).with_format(LogFormat::Json);
        let t = DateTime::parse_from_rfc3339("2026-05-01T19:50:00Z")
            .expect("time")
            .with_timezone(&Utc);
        let line = l.render(t, "INFO", "two\nlines");
        let v: serde_json::Value = serde_json::from_str(line.trim_end()).expect("json");
        assert_eq!(v["job"], "fetch");
        assert_eq!(v["msg"], "two\nlines");
        assert_eq!(v["ts"], "2026-05-01T19:50:00.000Z");
        let plain = Logger::new(None, "fetch", 0, true).render(t, "WARN", "a\nb");
        assert_eq!(plain, "2026-05-01T19:50:00.000Z WARN fetch: a | b\n");
    }
}
