//! Render the systemd units and the crontabs of a config (`trader schedule print`).
//!
//! One template service and timer per job (`trader-<job>@<config name>.service`), a failure
//! unit that raises an alert, and two crontabs: `CRON_TZ=America/New_York`, and UTC lines for
//! both DST offsets for a cron without `CRON_TZ` (the job decides which firing is its slot).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use chrono::{NaiveTime, Timelike};

use super::{Slot, firing_times};
use crate::config::Config;

/// Where the rendered files point: the binary, and the root the config's paths sit under.
#[derive(Debug, Clone)]
pub struct Target {
    pub binary: PathBuf,
    /// The directory the installed config's `root` is (default: the config's own root).
    pub root: PathBuf,
}

/// One rendered file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File {
    pub name: String,
    pub text: String,
}

/// The job names of the units, in cycle order, `health` last.
pub fn jobs() -> Vec<&'static str> {
    Slot::ALL
        .iter()
        .map(|s| s.name())
        .chain(["health"])
        .collect()
}

struct Paths {
    root: PathBuf,
    config: PathBuf,
    /// The config path with its file stem as `%i` (template units).
    config_template: String,
    env_file: String,
    writable: Vec<PathBuf>,
    logs: PathBuf,
    prometheus: Option<PathBuf>,
}

/// `p` moved from the config's root to the target root (paths outside the root stay).
fn rebase(cfg: &Config, t: &Target, p: &Path) -> PathBuf {
    let from = clean(&absolute(&cfg.root_dir));
    let p = clean(&absolute(p));
    match p.strip_prefix(&from) {
        Ok(rest) if rest.as_os_str().is_empty() => t.root.clone(),
        Ok(rest) => t.root.join(rest),
        Err(_) => p,
    }
}

/// Lexically remove `.` and `..` (the config's root is often `config/..`).
pub fn clean(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

fn paths(cfg: &Config, t: &Target) -> Paths {
    let config = rebase(cfg, t, &cfg.source_file);
    let ext = config
        .extension()
        .map(|e| format!(".{}", e.to_string_lossy()))
        .unwrap_or_default();
    let dir = config.parent().map(Path::to_path_buf).unwrap_or_default();
    let config_template = format!("{}/%i{ext}", dir.display());
    let env_file = cfg.schedule.environment_file.as_ref().map_or_else(
        || format!("{}/%i.env", dir.display()),
        |p| rebase(cfg, t, p).display().to_string(),
    );
    let p = &cfg.paths;
    let kill_dir = p
        .kill_switch
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let mut writable: Vec<PathBuf> = Vec::new();
    for d in [
        &p.state_dir,
        &p.bars_dir,
        &p.ledger_dir,
        &p.reports_dir,
        &p.logs_dir,
        &kill_dir,
    ] {
        let d = rebase(cfg, t, d);
        if !writable.iter().any(|w| d.starts_with(w)) {
            writable.retain(|w| !w.starts_with(&d));
            writable.push(d);
        }
    }
    writable.sort();
    Paths {
        root: t.root.clone(),
        config,
        config_template,
        env_file,
        writable,
        logs: rebase(cfg, t, &p.logs_dir),
        prometheus: cfg
            .schedule
            .prometheus_file
            .as_ref()
            .map(|f| rebase(cfg, t, f)),
    }
}

fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

/// The subcommand line of a job (after the global options).
fn job_args(cfg: &Config, p: &Paths, job: &str) -> (Option<Slot>, Vec<String>) {
    match Slot::ALL.iter().find(|s| s.name() == job) {
        Some(s) => (
            Some(*s),
            s.args(cfg).into_iter().map(String::from).collect(),
        ),
        None => {
            let mut a = vec!["health".to_string()];
            if let Some(f) = &p.prometheus {
                a.push("--prometheus".into());
                a.push(f.display().to_string());
            }
            (None, a)
        }
    }
}

fn command(bin: &Path, config: &str, slot: Option<Slot>, args: &[String]) -> String {
    let mut c = format!("{} --config {config}", bin.display());
    if let Some(s) = slot {
        let _ = write!(c, " --slot {}", s.name());
    }
    for a in args {
        let _ = write!(c, " {a}");
    }
    c
}

fn header(cfg: &Config, comment: &str) -> String {
    format!(
        "{comment} Rendered by `trader schedule print` from {} (phase {}): do not edit, render again.\n",
        paths_shown(cfg),
        cfg.phase.as_str()
    )
}

fn paths_shown(cfg: &Config) -> String {
    cfg.source_file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn hardening(p: &Paths) -> String {
    let under_home = p.root.starts_with("/home") || p.root.starts_with("/root");
    let rw: Vec<String> = p
        .writable
        .iter()
        .map(|w| format!("-{}", w.display()))
        .collect();
    format!(
        "NoNewPrivileges=yes\nProtectSystem=strict\nReadWritePaths={}\nPrivateTmp=yes\nProtectHome={}\nRestrictAddressFamilies=AF_UNIX AF_INET AF_INET6\nSystemCallFilter=@system-service\nUMask=0077\n",
        rw.join(" "),
        if under_home { "read-only" } else { "yes" }
    )
}

fn on_calendar(t: NaiveTime, weekdays: bool) -> String {
    format!(
        "{}*-*-* {:02}:{:02}:00 America/New_York",
        if weekdays { "Mon..Fri " } else { "" },
        t.hour(),
        t.minute()
    )
}

/// The `OnCalendar=` values of a job's timer.
pub fn calendars(cfg: &Config, job: &str) -> Vec<String> {
    match Slot::ALL.iter().find(|s| s.name() == job) {
        Some(s) => firing_times(&cfg.schedule, *s)
            .into_iter()
            .map(|t| on_calendar(t, true))
            .collect(),
        None => {
            let every = cfg.schedule.health_every_minutes;
            if every >= 60 {
                vec!["*-*-* *:00:00 America/New_York".into()]
            } else {
                vec![format!("*-*-* *:00/{every}:00 America/New_York")]
            }
        }
    }
}

/// Every systemd unit of the config, sorted by name.
pub fn systemd(cfg: &Config, t: &Target) -> Vec<File> {
    let p = paths(cfg, t);
    let mut out = Vec::new();
    for job in jobs() {
        let (slot, args) = job_args(cfg, &p, job);
        let what = args.join(" ");
        let mut svc = header(cfg, "#");
        let _ = write!(
            svc,
            "[Unit]\nDescription=trader {what} ({job} slot, config %i)\nAfter=network-online.target\nWants=network-online.target\nOnFailure=trader-failure@%i.service\n\n[Service]\nType=oneshot\nWorkingDirectory={}\nEnvironmentFile=-{}\nExecStart={}\n# 7: another run holds the state lock; this firing is skipped, not failed.\nSuccessExitStatus=7\nSyslogIdentifier=trader-{job}\n{}",
            p.root.display(),
            p.env_file,
            command(&t.binary, &p.config_template, slot, &args),
            hardening(&p)
        );
        out.push(File {
            name: format!("trader-{job}@.service"),
            text: svc,
        });
        let mut timer = header(cfg, "#");
        let _ = writeln!(
            timer,
            "[Unit]\nDescription=trader {job} timer (config %i)\n\n[Timer]"
        );
        for c in calendars(cfg, job) {
            let _ = writeln!(timer, "OnCalendar={c}");
        }
        timer.push_str("Persistent=true\nAccuracySec=1s\n\n[Install]\nWantedBy=timers.target\n");
        out.push(File {
            name: format!("trader-{job}@.timer"),
            text: timer,
        });
    }
    let mut fail = header(cfg, "#");
    let _ = write!(
        fail,
        "[Unit]\nDescription=trader alert: a job of config %i failed\n\n[Service]\nType=oneshot\nWorkingDirectory={}\nEnvironmentFile=-{}\n# systemd sets MONITOR_UNIT and MONITOR_EXIT_STATUS for an OnFailure= unit.\nExecStart={} --config {} alert job-failed --unit ${{MONITOR_UNIT}} --exit-status ${{MONITOR_EXIT_STATUS}}\nSyslogIdentifier=trader-failure\n{}",
        p.root.display(),
        p.env_file,
        t.binary.display(),
        p.config_template,
        hardening(&p)
    );
    out.push(File {
        name: "trader-failure@.service".into(),
        text: fail,
    });
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// `%` ends a crontab command line: escape it.
fn cron_escape(s: &str) -> String {
    s.replace('%', "\\%")
}

fn cron_lines(cfg: &Config, t: &Target, shift_hours: &[u32]) -> String {
    let p = paths(cfg, t);
    let config = p.config.display().to_string();
    // One output file per New York day, like the jobs' own logs, so the retention sweep
    // (`log.retention_days`) deletes old cron output too instead of one file growing forever.
    let log = p.logs.join("cron-$(TZ=America/New_York date +%F).log");
    let mut out = String::new();
    for job in jobs() {
        let (slot, args) = job_args(cfg, &p, job);
        let cmd = cron_escape(&format!(
            "cd {} && {} >> {} 2>&1",
            p.root.display(),
            command(&t.binary, &config, slot, &args),
            log.display()
        ));
        let _ = writeln!(out, "# {job}");
        let Some(slot) = slot else {
            let every = cfg.schedule.health_every_minutes;
            let m = if every >= 60 {
                "0".into()
            } else {
                format!("*/{every}")
            };
            let _ = writeln!(out, "{m} * * * * {cmd}");
            continue;
        };
        for time in firing_times(&cfg.schedule, slot) {
            for shift in shift_hours {
                let h = time.hour() + shift;
                let days = if h >= 24 { "2-6" } else { "1-5" };
                let _ = writeln!(out, "{} {} * * {days} {cmd}", time.minute(), h % 24);
            }
        }
    }
    out
}

/// The crontab with `CRON_TZ=America/New_York`, and the UTC alternative.
pub fn cron(cfg: &Config, t: &Target) -> Vec<File> {
    let head = |what: &str| {
        format!(
            "{}# {what}\n# The jobs lock themselves (exit 7: another run holds the lock), so no flock.\n# A firing that is not the day's slot (the other kind of close, a holiday) exits 0 saying so.\nSHELL=/bin/sh\n",
            header(cfg, "#")
        )
    };
    vec![
        File {
            name: "trader.crontab".into(),
            text: format!(
                "{}CRON_TZ=America/New_York\n{}",
                head("For a cron with CRON_TZ (cronie, systemd-cron); times are New York time."),
                cron_lines(cfg, t, &[0])
            ),
        },
        File {
            name: "trader-utc.crontab".into(),
            text: format!(
                "{}{}",
                head(
                    "For a cron without CRON_TZ running in UTC: each New York time at both offsets (EDT +4 h, EST +5 h)."
                ),
                cron_lines(cfg, t, &[4, 5])
            ),
        },
    ]
}
