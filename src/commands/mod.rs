//! One module per subcommand; each reads like a short script of calls into the domain
//! modules. This file holds what every job shares: the run context, the state lock and
//! state loading, the kill-switch notice.

/// `println!` for a job's report on stdout, which never panics: a reader that went away
/// (`trader backtest --json | head -1`) must not stop a job, least of all between its ledger and
/// state writes. See [`out_line`].
macro_rules! outln {
    () => {
        $crate::commands::out_line(format_args!(""))
    };
    ($($arg:tt)*) => {
        $crate::commands::out_line(format_args!($($arg)*))
    };
}

pub mod alert;
pub mod backtest;
mod backtest_report;
mod daily;
mod data_ack;
pub mod dry_run;
pub mod emergency_exit;
pub mod eod;
mod eod_read;
pub mod fetch;
mod fetch_remote;
pub mod halt;
pub mod health;
mod health_jobs;
pub mod live;
pub mod paper;
pub mod preflight;
mod preflight_broker;
mod preflight_data;
mod progress;
pub mod reconcile;
pub mod risk;
pub mod schedule;
pub mod status;
pub mod sync;
mod trading;
pub mod validate;
pub mod venue;

use anyhow::{Context, Result};
use chrono::{DateTime, NaiveDate, Utc};

use crate::cli::{Cli, Command};
use crate::config::{self, Config, Secrets};
use crate::exit::Exit;
use crate::log::Logger;
use crate::state::store::{Loaded, StateStore};
use crate::state::{State, lock};

/// Everything a job needs from the command line and the config.
pub struct Ctx {
    pub config: Config,
    pub secrets: Secrets,
    pub json: bool,
    pub log: Logger,
    /// The instant the job runs at (`TRADER_NOW` overrides it for replays and tests).
    pub now: DateTime<Utc>,
    /// When the process started, to advance `now` consistently.
    pub started: std::time::Instant,
}

impl Ctx {
    /// `now` advanced by the time the job has run: finish times stay on the job's clock, so a
    /// replay at `TRADER_NOW` records times comparable with its other times.
    pub fn clock(&self) -> DateTime<Utc> {
        self.now + chrono::Duration::from_std(self.started.elapsed()).unwrap_or_default()
    }

    /// The New York trading date of `now`.
    pub fn today(&self) -> NaiveDate {
        crate::calendar::trading_date_of(self.now)
    }

    /// Say so when the kill switch is present (with its reason); returns whether it is.
    pub fn report_kill_switch(&self) -> bool {
        let path = &self.config.paths.kill_switch;
        let on = std::fs::symlink_metadata(path).is_ok();
        if on {
            let why = halt::read_kill_switch(path)
                .reason
                .map_or(String::new(), |r| format!(" (reason: {r})"));
            self.log.warn(&format!(
                "kill switch {} is present{why}: no order will be sent",
                path.display()
            ));
        }
        on
    }
}

/// A job holding the state lock with the loaded state.
pub struct Job {
    pub _lock: lock::StateLock,
    pub store: StateStore,
    pub state: State,
    /// Set when state.json was unusable and the state came from a backup: what was wrong.
    pub recovered: Option<String>,
}

impl Job {
    /// Save the state atomically.
    pub fn save(&mut self, now: DateTime<Utc>) -> Result<()> {
        self.store
            .save(&mut self.state, now)
            .context("saving the state")
    }
}

/// The subcommand's name as typed.
pub fn name(cmd: &Command) -> &'static str {
    match cmd {
        Command::Fetch(_) => "fetch",
        Command::Preflight(_) => "preflight",
        Command::DryRun(_) => "dry-run",
        Command::Paper(_) => "paper",
        Command::Live(_) => "live",
        Command::Sync(_) => "sync",
        Command::Reconcile(_) => "reconcile",
        Command::Backtest(_) => "backtest",
        Command::Risk(_) => "risk",
        Command::Health(_) => "health",
        Command::Schedule(_) => "schedule",
        Command::Validate(_) => "validate",
        Command::Eod(_) => "eod",
        Command::Status => "status",
        Command::Halt(_) => "halt",
        Command::Resume => "resume",
        Command::Alert(crate::cli::AlertCommand::Test) => "alert test",
        Command::Alert(crate::cli::AlertCommand::JobFailed { .. }) => "alert job-failed",
        Command::Data(_) => "data",
        Command::EmergencyExit(_) => "emergency-exit",
    }
}

/// Read `TRADER_NOW` (RFC 3339) or the clock.
pub fn now() -> Result<DateTime<Utc>> {
    match std::env::var("TRADER_NOW") {
        Ok(s) if !s.is_empty() => DateTime::parse_from_rfc3339(&s)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| {
                anyhow::Error::new(crate::exit::ExitError::new(
                    Exit::Usage,
                    format!("TRADER_NOW = {s}: not an RFC 3339 instant ({e})"),
                ))
            }),
        _ => Ok(Utc::now()),
    }
}

/// Dispatch to the subcommand.
pub fn run(cli: &Cli) -> Result<Exit> {
    let cmd = name(&cli.command);
    if matches!(cli.command, Command::Health(_) | Command::Schedule(_)) && cli.slot.is_some() {
        return Err(crate::exit::ExitError::new(
            Exit::Usage,
            format!("--slot is for the jobs of the daily cycle, not for `{cmd}`"),
        )
        .into());
    }
    if let Command::Health(a) = &cli.command {
        // Health must report a broken config rather than stop at it.
        return health::run(cli, a);
    }
    let (config, secrets) = config::load(&cli.config)?;
    let (now, started) = (now()?, std::time::Instant::now());
    let dated = config.validate_at(crate::calendar::trading_date_of(now));
    if !dated.is_empty() {
        return Err(config::ConfigError::Invalid {
            file: cli.config.display().to_string(),
            issues: dated,
        }
        .into());
    }
    crate::alert::register_password(&config, &secrets);
    let log = Logger::new(Some(&config.paths.logs_dir), cmd, cli.verbose, cli.quiet)
        .with_clock(now, started)
        .with_format(config.log.format);
    log.prune(
        crate::calendar::trading_date_of(now),
        config.log.retention_days,
    );
    let ctx = Ctx {
        config,
        secrets,
        json: cli.json,
        log,
        now,
        started,
    };
    if let Some(slot) = cli.slot
        && let crate::schedule::Firing::Skip(why) =
            crate::schedule::decide(&ctx.config.schedule, slot, ctx.now)
                .context("checking the NYSE calendar for the slot")?
    {
        ctx.log.info(&why);
        return Ok(Exit::Ok);
    }
    // Every command says so while the kill switch is present (health reports it as a check;
    // halt and resume say it themselves).
    // Emergency-exit creates it and sends its orders regardless, and says so itself.
    if !matches!(
        cli.command,
        Command::Halt(_) | Command::Resume | Command::EmergencyExit(_)
    ) {
        ctx.report_kill_switch();
    }
    if let Some(o) = &ctx.config.phase_override {
        ctx.log.warn(&format!(
            "PHASE OVERRIDE in {}: {} may run without its promotion gate ({})",
            ctx.config.source_file.display(),
            o.phase.as_str(),
            o.reason
        ));
    }
    let result = match &cli.command {
        Command::Fetch(a) => fetch::run(&ctx, a),
        Command::Preflight(a) => preflight::run(&ctx, a),
        Command::DryRun(a) => dry_run::run(&ctx, a),
        Command::Paper(a) => paper::run(&ctx, a),
        Command::Live(a) => live::run(&ctx, a),
        Command::Sync(a) => sync::run(&ctx, a),
        Command::Reconcile(a) => reconcile::run(&ctx, a),
        Command::Backtest(a) => backtest::run(&ctx, a),
        Command::Risk(a) => risk::run(&ctx, a),
        Command::Health(a) => health::run(cli, a),
        Command::Data(crate::cli::DataCommand::Ack(a)) => data_ack::run(&ctx, a),
        Command::Schedule(a) => schedule::run(&ctx, cli, a),
        Command::Validate(a) => validate::run(&ctx, a),
        Command::Eod(a) => eod::run(&ctx, a),
        Command::Status => status::run(&ctx),
        Command::Halt(a) => halt::halt(&ctx, a),
        Command::Resume => halt::resume(&ctx),
        Command::EmergencyExit(a) => emergency_exit::run(&ctx, a),
        // Sends its one message itself; the queue waits for the next job.
        Command::Alert(a @ crate::cli::AlertCommand::Test) => return alert::run(&ctx, a),
        // Raises an alert and delivers it (and any queued ones) like every job.
        Command::Alert(a) => alert::run(&ctx, a),
    };
    let locked = matches!(&result, Err(e) if crate::exit::classify(e) == Exit::Locked);
    // A run that found the lock held leaves the queue to the run that holds it.
    if !locked {
        alert::on_exit(&ctx, cmd, &result);
        crate::alert::flush(&ctx.config, &ctx.secrets, &ctx.log, ctx.now);
    }
    result
}

/// Who runs the command (the login name), for records a person is answerable for.
pub fn login_name() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

/// A capital amount of the config in cents (the config's range check already bounds it; this
/// keeps the conversion checked all the same).
pub fn config_cents(cfg: &Config, key: &str, dollars: f64) -> Result<i64> {
    crate::money::try_cents(dollars).ok_or_else(|| {
        crate::exit::ExitError::new(
            Exit::Usage,
            format!(
                "{}: {key} = {dollars}: not a representable amount of money",
                cfg.source_file.display()
            ),
        )
        .into()
    })
}

/// Take the state lock and load the state (creating it explicitly on a first run).
///
/// Holding the lock, it first removes the temp files killed runs left (state, backup, sim,
/// ledger and bar directories) and prunes the backups to the configured count. An unusable
/// state.json is moved aside and replaced by the newest valid backup, saved at once. A state
/// naming symbols outside the config's universe is refused (exit 2).
pub fn open_job(ctx: &Ctx, command: &str) -> Result<Job> {
    let cfg = &ctx.config;
    ensure_state_dir(&cfg.paths.state_dir)?;
    let lock = lock::acquire(&cfg.paths.state_dir.join("trader.lock"), command, ctx.now)?;
    let store = StateStore::new(&cfg.paths.state_dir, cfg.state.backups).at(ctx.now);
    let removed = store.clean_partials()
        + [
            cfg.paths.state_dir.join("sim"),
            cfg.paths.ledger_dir.clone(),
            cfg.paths.bars_dir.clone(),
        ]
        .iter()
        .map(|d| crate::fsutil::remove_partials(d))
        .sum::<usize>();
    if removed > 0 {
        ctx.log.warn(&format!(
            "removed {removed} temp file(s) (.tmp-*.partial) left by an interrupted run"
        ));
    }
    store.prune();
    alert::kill_switch(ctx, command);
    let mut recovered = None;
    let state = match store.open(ctx.now)? {
        Loaded::Ok(s) => s,
        Loaded::Fresh => {
            ctx.log.info(&format!(
                "no state yet: creating {} (first run)",
                store.path.display()
            ));
            let mut s = State::new(ctx.now, cfg.phase);
            store
                .save(&mut s, ctx.now)
                .context("creating the first state")?;
            s
        }
        Loaded::Recovered {
            mut state,
            from,
            problem,
            moved_to,
        } => {
            let kept = moved_to.map_or(String::new(), |p| {
                format!(" (the unusable file is kept as {})", p.display())
            });
            store
                .save(&mut state, ctx.now)
                .context("saving the state recovered from a backup")?;
            let what = format!(
                "{} is unusable ({problem}); continued from backup {}, saved as save #{}{kept}",
                store.path.display(),
                from.display(),
                state.save_seq
            );
            ctx.log.warn(&format!("STATE RECOVERED: {what}"));
            alert::recovered(command, &what);
            recovered = Some(what);
            state
        }
    };
    let outside = state.check_universe(&cfg.universe());
    if !outside.is_empty() {
        return Err(crate::exit::ExitError::new(
            Exit::Usage,
            format!(
                "{}: {} not in the universe of {} — the state was written for another config; restore that config or move the state aside",
                store.path.display(),
                outside.join(", "),
                cfg.source_file.display()
            ),
        )
        .into());
    }
    Ok(Job {
        _lock: lock,
        store,
        state,
        recovered,
    })
}

/// The state directory exists as a directory (created on a first run), or the job stops with
/// exit 2 and a message naming it: a path that is a file, or that cannot be created, is a
/// setup problem, never "another run holds the lock".
fn ensure_state_dir(dir: &std::path::Path) -> Result<()> {
    let usage = |what: String| {
        anyhow::Error::new(crate::exit::ExitError::new(
            Exit::Usage,
            format!("paths.state_dir = {}: {what}", dir.display()),
        ))
    };
    match std::fs::metadata(dir) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(usage("exists but is not a directory".into())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => std::fs::create_dir_all(dir)
            .map_err(|e| usage(format!("cannot create the state directory: {e}"))),
        Err(e) => Err(usage(format!("cannot read: {e}"))),
    }
}

/// `None` on a trading day; otherwise why the exchange is closed (holiday name or "closed").
pub fn closed_because(date: NaiveDate) -> Result<Option<&'static str>> {
    if crate::calendar::is_trading_day(date).context("checking the calendar")? {
        return Ok(None);
    }
    Ok(Some(
        crate::calendar::closure_reason(date)
            .context("checking the calendar")?
            .unwrap_or("closed"),
    ))
}

/// On a non-trading day, say why in one line and return true: the job has nothing to do.
pub fn report_closed(date: NaiveDate) -> Result<bool> {
    let Some(why) = closed_because(date)? else {
        return Ok(false);
    };
    outln!("{date} is not a trading day ({why}): nothing to do");
    Ok(true)
}

/// Print a value as pretty JSON on stdout.
pub fn print_json(v: &impl serde::Serialize) -> Result<()> {
    outln!(
        "{}",
        serde_json::to_string_pretty(v).context("rendering JSON")?
    );
    Ok(())
}

/// Write one line of a job's report to stdout. A closed pipe is not an error (the reader
/// wanted no more); any other write error is said once on stderr. Either way the job goes on:
/// what it decided is in its ledgers and state, and its exit code still tells the outcome.
pub fn out_line(args: std::fmt::Arguments) {
    use std::io::Write;
    use std::sync::atomic::{AtomicBool, Ordering};
    static WARNED: AtomicBool = AtomicBool::new(false);
    let mut out = std::io::stdout().lock();
    if let Err(e) = writeln!(out, "{args}").and_then(|()| out.flush())
        && e.kind() != std::io::ErrorKind::BrokenPipe
        && !WARNED.swap(true, Ordering::Relaxed)
    {
        let _ = writeln!(
            std::io::stderr(),
            "trader: warning: cannot write the report to stdout: {e}"
        );
    }
}
