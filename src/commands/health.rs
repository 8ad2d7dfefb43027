//! `trader health`: is the system fit to run unattended? Exit 3 when a person is needed.
//!
//! Read-only: it does not take the state lock for its checks (it reports who holds it
//! instead), so it can run hourly beside the trading jobs. Only when it has an alert to deliver
//! (a critical check, or alerts queued by earlier jobs) does [`crate::alert::flush`] take the
//! lock for the moment it needs to update the alert book, never while sending.

use anyhow::Result;
use serde::Serialize;

use crate::cli::{Cli, HealthArgs};
use crate::config::{self, Config};
use crate::data::store::BarStore;
use crate::exit::Exit;
use crate::state::lock;
use crate::state::store::{Loaded, StateStore};

/// How bad a check is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Warn,
    Critical,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warn => "warn",
            Status::Critical => "critical",
        }
    }
}

/// One line of the health report.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub name: &'static str,
    pub status: Status,
    pub detail: String,
}

#[derive(Serialize)]
struct Report<'a> {
    status: Status,
    checks: &'a [Check],
}

/// Run every check, print the table (or JSON) and return 0 or 3.
pub fn run(cli: &Cli, args: &HealthArgs) -> Result<Exit> {
    let now = super::now()?;
    let mut checks = Vec::new();
    let mut loaded = None;
    let mut metrics = None;
    match config::load(&cli.config) {
        Ok((cfg, secrets)) => {
            checks.push(Check {
                name: "config",
                status: Status::Ok,
                detail: format!("{} is valid", cli.config.display()),
            });
            crate::alert::register_password(&cfg, &secrets);
            checks.extend(system_checks(&cfg, now));
            let state = super::health_jobs::read_state(&cfg, now);
            checks.push(super::health_jobs::jobs_check(&cfg, state.as_ref(), now));
            if args.prometheus.is_some() {
                metrics = Some(super::health_jobs::metrics(
                    &cfg,
                    state.as_ref(),
                    &checks,
                    now,
                ));
            }
            loaded = Some((cfg, secrets));
        }
        Err(e) => checks.push(Check {
            name: "config",
            status: Status::Critical,
            detail: e.to_string(),
        }),
    }
    let overall = checks.iter().map(|c| c.status).max().unwrap_or(Status::Ok);
    if let Some(path) = &args.prometheus {
        // Without a config only the overall status is known.
        let text = metrics.unwrap_or_else(|| {
            "# HELP trader_health_status Worst health check: 0 ok, 1 warn, 2 critical.\n# TYPE trader_health_status gauge\ntrader_health_status 2\n".to_string()
        });
        super::health_jobs::write_metrics(path, &text)?;
    }
    if cli.json {
        super::print_json(&Report {
            status: overall,
            checks: &checks,
        })?;
    } else {
        let w = checks
            .iter()
            .map(|c| c.name.len())
            .max()
            .unwrap_or(5)
            .max(5);
        outln!("{:<w$}  {:<8}  DETAIL", "CHECK", "STATUS");
        for c in &checks {
            outln!("{:<w$}  {:<8}  {}", c.name, c.status.as_str(), c.detail);
        }
        outln!("health: {}", overall.as_str());
    }
    // A critical check alerts (a broken config cannot: it holds the alert settings).
    if let Some((cfg, secrets)) = &loaded {
        if overall == Status::Critical {
            let lines: Vec<String> = checks
                .iter()
                .filter(|c| c.status == Status::Critical)
                .map(|c| format!("  {}: {}", c.name, c.detail))
                .collect();
            let names: Vec<&str> = checks
                .iter()
                .filter(|c| c.status == Status::Critical)
                .map(|c| c.name)
                .collect();
            crate::alert::raise(crate::alert::Alert {
                severity: crate::alert::Severity::Critical,
                key: "health-critical".into(),
                subject: format!("health critical: {}", names.join(", ")),
                body: format!(
                    "`trader health` at {} needs a person:\n{}",
                    now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    lines.join("\n")
                ),
            });
        }
        let log =
            crate::log::Logger::new(Some(&cfg.paths.logs_dir), "health", cli.verbose, cli.quiet);
        crate::alert::flush(cfg, secrets, &log, now);
    }
    Ok(if overall == Status::Critical {
        Exit::Blocked
    } else {
        Exit::Ok
    })
}

/// The checks that need a valid config.
pub fn system_checks(cfg: &Config, now: chrono::DateTime<chrono::Utc>) -> Vec<Check> {
    vec![
        state_check(cfg, now),
        sim_check(cfg),
        lock_check(cfg),
        disk_check(cfg),
        bars_check(cfg, now),
        kill_check(cfg),
    ]
}

fn state_check(cfg: &Config, now: chrono::DateTime<chrono::Utc>) -> Check {
    let store = StateStore::new(&cfg.paths.state_dir, cfg.state.backups).at(now);
    let (status, detail) = match store.load() {
        Ok(Loaded::Ok(s)) if !s.check_universe(&cfg.universe()).is_empty() => (
            Status::Critical,
            format!(
                "{}: {} not in the universe of {}",
                store.path.display(),
                s.check_universe(&cfg.universe()).join(", "),
                cfg.source_file.display()
            ),
        ),
        Ok(Loaded::Ok(s)) => {
            let n = store.backup_files().len();
            if n == 0 {
                (
                    Status::Warn,
                    format!(
                        "{} valid (save #{}), but no backup yet",
                        store.path.display(),
                        s.save_seq
                    ),
                )
            } else {
                (
                    Status::Ok,
                    format!(
                        "{} valid (save #{}), {n} backup(s)",
                        store.path.display(),
                        s.save_seq
                    ),
                )
            }
        }
        Ok(Loaded::Fresh) => (
            Status::Warn,
            format!(
                "no state yet at {} (created by the first job)",
                store.path.display()
            ),
        ),
        Ok(Loaded::Recovered { from, problem, .. }) => (
            Status::Critical,
            format!(
                "{} is unusable ({problem}); the next job will continue from backup {}",
                store.path.display(),
                from.display()
            ),
        ),
        Err(e) => (Status::Critical, e.to_string()),
    };
    Check {
        name: "state",
        status,
        detail,
    }
}

/// The simulated account, read and checked as the jobs read it (read-only).
fn sim_check(cfg: &Config) -> Check {
    let path = cfg.paths.state_dir.join("sim").join("account.json");
    let (status, detail) = match crate::broker::sim::read_book(&path) {
        Ok(None) => (
            Status::Ok,
            format!("no simulated account yet at {}", path.display()),
        ),
        Ok(Some(b)) if !b.check_universe(&cfg.universe()).is_empty() => (
            Status::Critical,
            format!(
                "{}: {} not in the universe of {}",
                path.display(),
                b.check_universe(&cfg.universe()).join(", "),
                cfg.source_file.display()
            ),
        ),
        Ok(Some(b)) => (
            Status::Ok,
            format!(
                "{} valid: cash {:.2}, {} position(s)",
                path.display(),
                crate::money::dollars(b.cash_cents),
                b.positions.len()
            ),
        ),
        Err(e) => (Status::Critical, e.to_string()),
    };
    Check {
        name: "sim_account",
        status,
        detail,
    }
}

fn lock_check(cfg: &Config) -> Check {
    let path = cfg.paths.state_dir.join("trader.lock");
    // A held flock always has a live holder (the kernel releases it when the process dies),
    // so a held lock is never critical: it is a job running.
    let (status, detail) = match lock::probe(&path) {
        Ok(None) => (Status::Ok, "free".to_string()),
        Ok(Some(h)) if h.pid == 0 => (
            Status::Ok,
            "held by a job that has not recorded itself yet".to_string(),
        ),
        Ok(Some(h)) if h.since == chrono::DateTime::<chrono::Utc>::MIN_UTC => (
            Status::Ok,
            format!("held by pid {} (starting, not recorded yet)", h.pid),
        ),
        Ok(Some(h)) => (
            Status::Ok,
            format!("held by pid {} (`{}`) since {}", h.pid, h.command, h.since),
        ),
        Err(e) => (Status::Critical, format!("{}: {e}", path.display())),
    };
    Check {
        name: "lock",
        status,
        detail,
    }
}

/// Whether the state's file system has at least `health.min_free_disk_mb` free, and a
/// line saying so (shared by `health` and `preflight`).
pub fn free_disk(cfg: &Config) -> (bool, String) {
    let dir = &cfg.paths.state_dir;
    let probe = if dir.exists() {
        dir.as_path()
    } else {
        cfg.root_dir.as_path()
    };
    let min = cfg.health.min_free_disk_mb;
    match crate::fsutil::free_disk_bytes(probe) {
        Ok(b) => {
            let mb = b / (1024 * 1024);
            (mb >= min, format!("{mb} MiB free (minimum {min} MiB)"))
        }
        Err(e) => (false, format!("{}: {e}", probe.display())),
    }
}

fn disk_check(cfg: &Config) -> Check {
    let (ok, detail) = free_disk(cfg);
    Check {
        name: "disk",
        status: if ok { Status::Ok } else { Status::Critical },
        detail,
    }
}

/// How far behind the last completed session each symbol's last bar is, summarised: one
/// session behind is a warning (today's fetch may simply not have run yet), more than
/// `health.max_stale_sessions` (at least 1) is critical; a symbol the strategy reads with no
/// bars is critical, another one a warning. Counts and the worst few, never every symbol.
fn bars_check(cfg: &Config, now: chrono::DateTime<chrono::Utc>) -> Check {
    let store = BarStore::new(&cfg.paths.bars_dir);
    let expected = match crate::calendar::last_completed_session(now) {
        Ok(d) => d,
        Err(e) => {
            return Check {
                name: "bars",
                status: Status::Critical,
                detail: e.to_string(),
            };
        }
    };
    let universe = cfg.universe();
    let required: std::collections::BTreeSet<String> =
        crate::strategy::Strategy::required_symbols(&cfg.strategy_impl())
            .into_iter()
            .collect();
    let mut lasts = Vec::new();
    let mut empty = Vec::new();
    let mut errors = Vec::new();
    // A chunk at a time: only the last dates are kept.
    for part in universe.chunks(256) {
        for (sym, read) in part.iter().zip(store.read_many(part)) {
            match read {
                Ok(Some(bars)) if !bars.is_empty() => {
                    lasts.push((sym.clone(), bars[bars.len() - 1].date))
                }
                Ok(_) => empty.push(sym.clone()),
                Err(e) => errors.push(e.to_string()),
            }
        }
    }
    let first = lasts.iter().map(|(_, d)| *d).min().unwrap_or(expected);
    let sessions = crate::calendar::sessions_between(first, expected).unwrap_or_default();
    let allowed = cfg.health.max_stale_sessions.max(1) as usize;
    let (mut current, mut behind, mut stale) = (0usize, Vec::new(), Vec::new());
    for (sym, last) in &lasts {
        let lag = sessions.len() - sessions.partition_point(|d| d <= last);
        match lag {
            0 => current += 1,
            l if l <= allowed => behind.push((sym.clone(), *last, l)),
            l => stale.push((sym.clone(), *last, l)),
        }
    }
    let mut status = Status::Ok;
    let mut parts = vec![format!(
        "{current} of {} symbol(s) current through {expected}",
        universe.len()
    )];
    if !behind.is_empty() {
        status = status.max(Status::Warn);
        parts.push(format!(
            "{} behind by at most {allowed} session(s) ({})",
            behind.len(),
            worst(&mut behind)
        ));
    }
    if !stale.is_empty() {
        status = Status::Critical;
        parts.push(format!(
            "{} more than {allowed} session(s) behind, worst: {}",
            stale.len(),
            worst(&mut stale)
        ));
    }
    if !empty.is_empty() {
        let read: Vec<&String> = empty.iter().filter(|s| required.contains(*s)).collect();
        status = status.max(if read.is_empty() {
            Status::Warn
        } else {
            Status::Critical
        });
        let shown: Vec<&str> = empty.iter().take(5).map(String::as_str).collect();
        parts.push(format!(
            "{} with no bars in {} ({}{}){}",
            empty.len(),
            store.dir.display(),
            shown.join(", "),
            if empty.len() > 5 { ", …" } else { "" },
            if read.is_empty() {
                String::new()
            } else {
                format!(
                    ", read by the strategy: {}",
                    read.iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }
        ));
    }
    if !errors.is_empty() {
        status = Status::Critical;
        parts.push(format!(
            "{} unreadable: {}{}",
            errors.len(),
            errors
                .iter()
                .take(3)
                .cloned()
                .collect::<Vec<_>>()
                .join("; "),
            if errors.len() > 3 { "; …" } else { "" }
        ));
    }
    Check {
        name: "bars",
        status,
        detail: parts.join("; "),
    }
}

/// The five furthest behind, furthest first: `OLD 2021-06-01 (980 sessions), …`.
fn worst(items: &mut [(String, chrono::NaiveDate, usize)]) -> String {
    items.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| a.0.cmp(&b.0)));
    let mut s: Vec<String> = items
        .iter()
        .take(5)
        .map(|(sym, last, lag)| format!("{sym} {last} ({lag} session(s))"))
        .collect();
    if items.len() > 5 {
        s.push(format!("… {} more", items.len() - 5));
    }
    s.join(", ")
}

fn kill_check(cfg: &Config) -> Check {
    let p = &cfg.paths.kill_switch;
    if p.exists() {
        Check {
            name: "kill_switch",
            status: Status::Warn,
            detail: format!("{} present: no order will be sent", p.display()),
        }
    } else {
        Check {
            name: "kill_switch",
            status: Status::Ok,
            detail: format!("absent ({})", p.display()),
        }
    }
}
