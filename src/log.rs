//! Log lines to stderr (journald picks them up under systemd, named by the unit's
//! `SyslogIdentifier=`) and to one file per New York day, `logs/trader-YYYY-MM-DD.log`.
//!
//! Plain lines (`<time> <LEVEL> <job>: <message>`) or JSON lines (`log.format: json`), one per
//! event, UTC timestamps on the job clock. Files older than `log.retention_days` are deleted
//! by the next job (the cron output files `cron-YYYY-MM-DD.log` too). Every line passes
//! through [`crate::redact::scrub`] first, so a secret that reached a message (a server
//! echoing a key in an error body, say) is masked on stderr and in the file alike.
//!
//! Built on `tracing`: [`Logger`] is a thin facade whose `info`/`warn`/`debug` emit
//! `tracing` events into the logger's own dispatcher, a `tracing-subscriber` registry with two
//! layers, [`StderrLayer`] and [`DayFileLayer`]. The file layer is our own rather than
//! `tracing-appender`'s daily rotation, which names files by the UTC date of the wall clock:
//! the day here is the New York date of the job clock (`TRADER_NOW`), the one the state and
//! the reports use. The dispatcher is scoped to the logger (never installed globally), so the
//! `tracing` events of dependencies (hyper-util) stay disabled as before.

use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, Utc};
use tracing::{Dispatch, Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

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
    /// The registry with the stderr and file layers for these settings.
    dispatch: Dispatch,
}

/// The day's file name: `trader-2026-05-01.log`.
pub fn file_name(date: NaiveDate) -> String {
    format!("trader-{date}.log")
}

/// What the file layer needs to name, stamp and render a line.
#[derive(Debug, Clone)]
struct Sink {
    dir: Option<PathBuf>,
    command: String,
    verbose: u8,
    clock: Option<(DateTime<Utc>, std::time::Instant)>,
    format: LogFormat,
}

impl Sink {
    fn now(&self) -> DateTime<Utc> {
        match self.clock {
            Some((t, started)) => {
                t + chrono::Duration::from_std(started.elapsed()).unwrap_or_default()
            }
            None => Utc::now(),
        }
    }

    fn render(&self, now: DateTime<Utc>, level: &str, msg: &str) -> String {
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
}

/// The `message` field of an event (the facade puts everything there).
#[derive(Default)]
struct Message(String);

impl tracing::field::Visit for Message {
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        if field.name() == "message" {
            self.0.push_str(value);
        }
    }

    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            use std::fmt::Write as _;
            let _ = write!(self.0, "{value:?}");
        }
    }
}

fn message(event: &Event<'_>) -> String {
    let mut m = Message::default();
    event.record(&mut m);
    m.0
}

/// Stderr: INFO unless `--quiet`, WARN always (`warning: ` prefix), DEBUG with `-v`. ERROR is
/// not printed here: `main` prints the fatal error itself.
#[derive(Debug)]
pub struct StderrLayer {
    verbose: u8,
    quiet: bool,
}

impl<S: Subscriber> Layer<S> for StderrLayer {
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        let level = *event.metadata().level();
        let shown = match level {
            Level::WARN => true,
            Level::INFO => !self.quiet,
            Level::DEBUG | Level::TRACE => self.verbose > 0 && !self.quiet,
            Level::ERROR => false,
        };
        if !shown {
            return;
        }
        let msg = crate::redact::scrub_owned(message(event));
        if level == Level::WARN {
            eprintln!("warning: {msg}");
        } else {
            eprintln!("{msg}");
        }
    }
}

/// The day's file: appends the rendered line to `logs/trader-<New York date>.log`, the date
/// from the job clock. DEBUG only with `-v`.
#[derive(Debug)]
pub struct DayFileLayer {
    sink: Sink,
}

impl<S: Subscriber> Layer<S> for DayFileLayer {
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        let level = *event.metadata().level();
        if matches!(level, Level::DEBUG | Level::TRACE) && self.sink.verbose == 0 {
            return;
        }
        let Some(dir) = &self.sink.dir else { return };
        let now = self.sink.now();
        let path = dir.join(file_name(crate::calendar::trading_date_of(now)));
        let line = self.sink.render(now, level.as_str(), &message(event));
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
            dispatch: Dispatch::none(),
        }
        .rebuilt()
    }

    /// The dispatcher for the current settings.
    fn rebuilt(mut self) -> Logger {
        let registry = tracing_subscriber::registry()
            .with(StderrLayer {
                verbose: self.verbose,
                quiet: self.quiet,
            })
            .with(DayFileLayer { sink: self.sink() });
        self.dispatch = Dispatch::new(registry);
        self
    }

    fn sink(&self) -> Sink {
        Sink {
            dir: self.dir.clone(),
            command: self.command.clone(),
            verbose: self.verbose,
            clock: self.clock,
            format: self.format,
        }
    }

    /// Stamp lines with the job clock: `now` advanced by the time since `started`.
    pub fn with_clock(mut self, now: DateTime<Utc>, started: std::time::Instant) -> Logger {
        self.clock = Some((now, started));
        self.rebuilt()
    }

    pub fn with_format(mut self, format: LogFormat) -> Logger {
        self.format = format;
        self.rebuilt()
    }

    /// Emit `msg` at `level` through this logger's dispatcher. The message is scrubbed here
    /// and again by each layer on the rendered line.
    fn emit(&self, level: Level, msg: &str) {
        let msg = crate::redact::scrub(msg);
        let job = self.command.as_str();
        tracing::dispatcher::with_default(&self.dispatch, || match level {
            Level::ERROR => tracing::error!(job, "{msg}"),
            Level::WARN => tracing::warn!(job, "{msg}"),
            Level::INFO => tracing::info!(job, "{msg}"),
            _ => tracing::debug!(job, "{msg}"),
        });
    }

    /// A progress or status line a person may want to see.
    pub fn info(&self, msg: &str) {
        self.emit(Level::INFO, msg);
    }

    /// Something a person should look at; shown even with `--quiet`.
    pub fn warn(&self, msg: &str) {
        self.emit(Level::WARN, msg);
    }

    /// Detail shown only with `-v`.
    pub fn debug(&self, msg: &str) {
        self.emit(Level::DEBUG, msg);
    }

    /// A fatal error, to the file only (`main` prints it).
    pub fn error(&self, msg: &str) {
        self.emit(Level::ERROR, msg);
    }

    /// The line as written to the file.
    pub fn render(&self, now: DateTime<Utc>, level: &str, msg: &str) -> String {
        self.sink().render(now, level, msg)
    }

    /// Delete the per-day files dated more than `days` days before `today` (New York); only
    /// names of the form `trader-YYYY-MM-DD.log` (the jobs') and `cron-YYYY-MM-DD.log` (the
    /// crontab's output) are touched. Returns how many went.
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
                .or_else(|| name.strip_prefix("cron-"))
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
        l.error(msg);
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

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("time")
            .with_timezone(&Utc)
    }

    #[test]
    fn events_go_to_the_file_of_the_job_clocks_new_york_day_scrubbed() {
        let dir = tempfile::tempdir().expect("tmp");
        crate::redact::register("sk-live-0123456789abcdef");
        // 01:30 UTC on 2 May is still 1 May in New York.
        let l = Logger::new(Some(dir.path()), "eod", 0, true)
            .with_clock(at("2026-05-02T01:30:00Z"), std::time::Instant::now());
        l.info("key sk-live-0123456789abcdef echoed");
        l.debug("not without -v");
        l.error("fatal");
        let text = std::fs::read_to_string(dir.path().join("trader-2026-05-01.log")).expect("file");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert!(lines[0].starts_with("2026-05-02T01:30:00."), "{text}");
        assert!(lines[0].contains(" INFO eod: key "), "{text}");
        assert!(!text.contains("sk-live-0123456789abcdef"), "{text}");
        assert!(lines[1].contains(" ERROR eod: fatal"), "{text}");
        assert!(!dir.path().join("trader-2026-05-02.log").exists());
        let v = Logger::new(Some(dir.path()), "eod", 1, true)
            .with_clock(at("2026-05-02T01:30:00Z"), std::time::Instant::now())
            .with_format(LogFormat::Json);
        v.debug("shown with -v");
        let text = std::fs::read_to_string(dir.path().join("trader-2026-05-01.log")).expect("file");
        let last: serde_json::Value =
            serde_json::from_str(text.lines().last().expect("line")).expect("json");
        assert_eq!(last["level"], "DEBUG");
        assert_eq!(last["msg"], "shown with -v");
    }

    #[test]
    fn prune_removes_old_job_and_cron_files_only() {
        let dir = tempfile::tempdir().expect("tmp");
        for n in [
            "trader-2026-03-01.log",
            "cron-2026-03-01.log",
            "trader-2026-04-20.log",
            "cron-2026-04-20.log",
            "cron.log",
            "other-2026-03-01.log",
        ] {
            std::fs::write(dir.path().join(n), "x").expect("write");
        }
        let l = Logger::new(Some(dir.path()), "health", 0, true);
        let today = NaiveDate::from_ymd_opt(2026, 5, 1).expect("date");
        assert_eq!(l.prune(today, 30), 2);
        let mut left: Vec<String> = std::fs::read_dir(dir.path())
            .expect("dir")
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(
            left,
            [
                "cron-2026-04-20.log",
                "cron.log",
                "other-2026-03-01.log",
                "trader-2026-04-20.log"
            ]
        );
    }
}
