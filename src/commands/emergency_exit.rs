//! `trader emergency-exit [--confirm]`: get out of the market now.
//!
//! Positions and open orders come from the broker, never the state. Without `--confirm` it
//! shows what it will do and waits for `CONFIRM` typed on a terminal (no terminal: exit 2,
//! nothing done). Then: the kill switch first (a running job stops before its next
//! submission), the state lock for at most `execution.lock_wait_ms` (then on without it, said
//! loudly), cancel every open order, sell every position with day limits
//! `execution.emergency_collar_pct` below the quote, poll until flat, retry what is left (new
//! ids, bounded), write the orders and fills ledgers (phase `emergency-exit`) and record the
//! broker's account (all cash when flat) in the state — only when the lock is held and the
//! state can be loaded or recovered; an unusable state file is left for a person.
//! Exit 0 flat, 1 something still open (or not recorded), 5 broker unavailable.

mod liquidate;
mod record;
mod report;

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use chrono::{DateTime, NaiveDate, Utc};

use super::Ctx;
use crate::broker::Broker;
use crate::broker::sim::SimBroker;
use crate::cli::EmergencyExitArgs;
use crate::config::BrokerKind;
use crate::exit::{Exit, ExitError};
use crate::state::lock;

use liquidate::Settings;

/// The phase written into the ledgers and the job record.
pub const PHASE: &str = "emergency-exit";

/// Run the emergency exit.
pub fn run(ctx: &Ctx, args: &EmergencyExitArgs) -> Result<Exit> {
    let cfg = &ctx.config;
    let x = &cfg.execution;
    if !args.confirm && !std::io::stdin().is_terminal() {
        return Err(ExitError::new(
            Exit::Usage,
            "emergency-exit: stdin is not a terminal, so nobody can type CONFIRM: rerun with --confirm to act without asking (nothing was done)",
        )
        .into());
    }
    let date = ctx.today();
    if !args.confirm {
        let mut broker = open_broker(ctx, date)?;
        let plan = liquidate::plan(&mut broker, x.emergency_collar_pct)
            .context("reading the broker's open orders and positions")?;
        report::print_plan(cfg.paths.kill_switch.as_path(), broker.name(), &plan);
        if !typed_confirm()? {
            outln!("not confirmed: nothing was done");
            return Ok(Exit::Usage);
        }
    }
    // An exit that refuses to exit is worse than one without the switch: on without it,
    // loudly, and exit 1 at the end.
    let (switch_note, switch_ok) =
        match engage_kill_switch(&cfg.paths.kill_switch, &user(), ctx.clock()) {
            Ok(true) => (format!("created {}", cfg.paths.kill_switch.display()), true),
            Ok(false) => (
                format!(
                    "already present: {} (left as it is)",
                    cfg.paths.kill_switch.display()
                ),
                true,
            ),
            Err(e) => (
                format!(
                    "NOT CREATED: {}: {e} — a running job is not stopped",
                    cfg.paths.kill_switch.display()
                ),
                false,
            ),
        };
    ctx.log
        .warn(&format!("EMERGENCY EXIT: kill switch {switch_note}"));
    let held = wait_for_lock(ctx, Duration::from_millis(x.lock_wait_ms));
    // Opened after the wait: a job that held the lock may have changed the account meanwhile.
    let mut broker = open_broker(ctx, date)?;
    let settings = Settings {
        date,
        collar_pct: x.emergency_collar_pct,
        poll_interval: Duration::from_millis(x.poll_interval_ms),
        fill_timeout: Duration::from_millis(x.fill_timeout_ms),
        max_attempts: liquidate::MAX_ATTEMPTS,
        symbols: cfg.universe(),
    };
    let outcome = liquidate::run(&mut broker, &settings, &mut |m| ctx.log.info(m))
        .context("liquidating at the broker")?;
    let account = broker.account().ok();
    let mut failed = !outcome.flat() || !switch_ok;
    let ledgers = match record::write_ledgers(ctx, date, &outcome) {
        Ok(()) => format!("written to {}", cfg.paths.ledger_dir.display()),
        Err(e) => {
            failed = true;
            ctx.log.warn(&format!("ledgers not written: {e:#}"));
            format!("NOT written: {e:#}")
        }
    };
    let (state_note, recorded) = match &held {
        Ok(_) => record::record_state(ctx, date, broker.name(), &outcome, account),
        Err(why) => (
            format!(
                "NOT recorded: {why}; once that job has ended run `trader emergency-exit --confirm` again (it finds nothing to do at the broker and records the account)"
            ),
            true,
        ),
    };
    failed |= !recorded;
    let ledgers_note = format!("ledgers {ledgers}");
    let report = report::Report::new(&outcome, account, switch_note, &held, ledgers, state_note);
    if ctx.json {
        super::print_json(&report)?;
    } else {
        report::print_report(&report, &outcome);
    }
    ctx.log
        .info(&format!("emergency-exit {date}: {}", report.result));
    // Always a person's business; never blocks the exit (delivery is after it, bounded).
    crate::alert::raise(crate::alert::Alert {
        severity: crate::alert::Severity::Critical,
        key: format!("emergency-exit-{date}"),
        subject: format!("emergency exit {date}: {}", report.result),
        body: format!("{}\n{ledgers_note}\n", report.result),
    });
    Ok(if failed { Exit::Unexpected } else { Exit::Ok })
}

/// The configured broker with the day's quotes: for the simulator, the last close on or
/// before `date` in the bar store of every symbol it holds or has an open order in.
fn open_broker(ctx: &Ctx, date: NaiveDate) -> Result<SimBroker> {
    let cfg = &ctx.config;
    match cfg.account.broker {
        BrokerKind::Sim => {}
        BrokerKind::Alpaca => anyhow::bail!("the alpaca venue is wired by the lead's factory"),
    }
    let initial = super::config_cents(cfg, "account.initial_capital", cfg.account.initial_capital)?;
    let dir = cfg.paths.state_dir.join("sim");
    let cost = super::dry_run::cost_model(cfg);
    // An exit never opens an account: with none yet there is nothing to sell, and the
    // account is what a first run would create (the initial capital, nothing held).
    let mut sim = if dir.join("account.json").exists() {
        SimBroker::open(&dir, initial, cost)
            .context("opening the simulated account")?
            .0
    } else {
        SimBroker::in_memory(initial, cost)
    };
    sim.faults = crate::broker::sim::SimFaults::from_env_or(cfg.account.sim_faults.as_deref())
        .map_err(|e| ExitError::new(Exit::Usage, e))?;
    if sim.faults != crate::broker::sim::SimFaults::default() {
        ctx.log
            .warn(&format!("sim venue faults in force: {:?}", sim.faults));
    }
    sim.now = ctx.clock();
    let mut symbols: Vec<String> = sim.book.positions.keys().cloned().collect();
    symbols.extend(
        sim.book
            .orders
            .values()
            .filter(|o| !o.status.is_final())
            .map(|o| o.symbol.clone()),
    );
    symbols.sort();
    symbols.dedup();
    let store = crate::data::store::BarStore::new(&cfg.paths.bars_dir);
    for sym in symbols {
        match store.read_prices(&sym, false) {
            Ok(Some(p)) => {
                let n = p.dates.partition_point(|d| *d <= date);
                if let Some(close) = n.checked_sub(1).and_then(|i| p.close.get(i)) {
                    sim.quotes.insert(sym, *close);
                }
            }
            Ok(None) => ctx.log.warn(&format!(
                "no bars for {sym} in {}: it has no quote and cannot be sold",
                store.dir.display()
            )),
            Err(e) => ctx.log.warn(&format!("{sym}: no quote: {e}")),
        }
    }
    Ok(sim)
}

/// Create the kill switch with one reason line; returns false when it was already there (a
/// halt's reason is left as it is).
pub fn engage_kill_switch(path: &Path, who: &str, now: DateTime<Utc>) -> std::io::Result<bool> {
    if std::fs::symlink_metadata(path).is_ok() {
        return Ok(false);
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let line = format!(
        "emergency-exit by {who} at {}\n",
        now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    );
    crate::fsutil::write_atomic(path, line.as_bytes())?;
    Ok(true)
}

/// Who runs the command, for the kill switch's reason.
fn user() -> String {
    std::env::var("USER")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "unknown user".into())
}

/// Take the state lock, waiting up to `wait` for a running job; `Err` says why it is not held.
fn wait_for_lock(ctx: &Ctx, wait: Duration) -> std::result::Result<lock::StateLock, String> {
    let dir = &ctx.config.paths.state_dir;
    if let Err(e) = std::fs::create_dir_all(dir) {
        return Err(format!("cannot create {}: {e}", dir.display()));
    }
    let path = dir.join("trader.lock");
    let start = Instant::now();
    let mut said = false;
    loop {
        match lock::acquire(&path, "emergency-exit", ctx.clock()) {
            Ok(l) => return Ok(l),
            Err(e @ lock::LockError::Io { .. }) => {
                ctx.log
                    .warn(&format!("PROCEEDING WITHOUT THE STATE LOCK: {e}"));
                return Err(e.to_string());
            }
            Err(e) => {
                if start.elapsed() >= wait {
                    ctx.log.warn(&format!(
                        "PROCEEDING WITHOUT THE STATE LOCK after waiting {} ms: {e}",
                        wait.as_millis()
                    ));
                    return Err(e.to_string());
                }
                if !said {
                    ctx.log.warn(&format!(
                        "{e}; the kill switch stops it before its next order; waiting up to {} ms for it",
                        wait.as_millis()
                    ));
                    said = true;
                }
                let left = wait.saturating_sub(start.elapsed());
                std::thread::sleep(left.min(Duration::from_millis(50)));
            }
        }
    }
}

/// Ask for `CONFIRM` on the terminal.
fn typed_confirm() -> Result<bool> {
    print!("Type CONFIRM to go ahead: ");
    let _ = std::io::stdout().flush();
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("reading the confirmation from stdin")?;
    Ok(line.trim() == "CONFIRM")
}
