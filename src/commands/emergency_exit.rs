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

use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use super::Ctx;
use crate::broker::sim::SimBroker;
use crate::broker::{AccountInfo, Broker};
use crate::cli::EmergencyExitArgs;
use crate::config::BrokerKind;
use crate::exit::{Exit, ExitError};
use crate::ledger::{self, Col, Table};
use crate::model::{OrderIntent, Side};
use crate::state::store::{Loaded, StateStore};
use crate::state::{AccountSnapshot, JobRecord, JobResult, State, lock};

use liquidate::{Outcome, Placed, Plan, Settings};

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
        print_plan(cfg.paths.kill_switch.as_path(), broker.name(), &plan);
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
    let ledgers = match write_ledgers(ctx, date, &outcome) {
        Ok(()) => format!("written to {}", cfg.paths.ledger_dir.display()),
        Err(e) => {
            failed = true;
            ctx.log.warn(&format!("ledgers not written: {e:#}"));
            format!("NOT written: {e:#}")
        }
    };
    let (state_note, recorded) = match &held {
        Ok(_) => record_state(ctx, date, broker.name(), &outcome, account),
        Err(why) => (
            format!(
                "NOT recorded: {why}; once that job has ended run `trader emergency-exit --confirm` again (it finds nothing to do at the broker and records the account)"
            ),
            true,
        ),
    };
    failed |= !recorded;
    let report = Report::new(&outcome, account, switch_note, &held, ledgers, state_note);
    if ctx.json {
        super::print_json(&report)?;
    } else {
        print_report(&report, &outcome);
    }
    ctx.log
        .info(&format!("emergency-exit {date}: {}", report.result));
    Ok(if failed { Exit::Unexpected } else { Exit::Ok })
}

/// The configured broker with the day's quotes: for the simulator, the last close on or
/// before `date` in the bar store of every symbol it holds or has an open order in.
fn open_broker(ctx: &Ctx, date: NaiveDate) -> Result<SimBroker> {
    let cfg = &ctx.config;
    match cfg.account.broker {
        BrokerKind::Sim => {}
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

fn print_plan(kill_switch: &Path, broker: &str, plan: &Plan) {
    outln!("emergency-exit on {broker} will:");
    outln!("  1. create the kill switch {}", kill_switch.display());
    if plan.cancels.is_empty() {
        outln!("  2. cancel: no open order");
    }
    for o in &plan.cancels {
        outln!(
            "  2. cancel {} ({} {} {}, {} filled, {})",
            o.client_order_id.0,
            o.side.as_str(),
            o.qty,
            o.symbol,
            o.filled_qty,
            o.status.as_str()
        );
    }
    if plan.sells.is_empty() {
        outln!("  3. sell: no position");
    }
    for s in &plan.sells {
        match (s.quote, s.limit) {
            (Some(q), Some(l)) => outln!(
                "  3. sell {} {} at limit {l:.2} (quote {q:.2})",
                s.qty,
                s.symbol
            ),
            _ => outln!(
                "  3. sell {} {}: NO QUOTE, cannot be priced",
                s.qty,
                s.symbol
            ),
        }
    }
    outln!("  (positions are re-read from the broker before acting)");
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

/// Orders and fills rows of the liquidation orders, keyed by client order id (every id is
/// new, and a rewrite of one replaces its rows).
///
/// Orders an earlier run of the date sent but did not record (killed before its ledger
/// write) are recorded too, their quote taken back from the limit it was priced at.
fn write_ledgers(ctx: &Ctx, date: NaiveDate, out: &Outcome) -> Result<()> {
    let dir = &ctx.config.paths.ledger_dir;
    let recorded: Vec<String> = match ledger::read(&dir.join("orders.parquet"))? {
        Some(df) => df
            .column("client_order_id")
            .and_then(|c| c.str().cloned())
            .map(|c| c.iter().flatten().map(str::to_string).collect())
            .unwrap_or_default(),
        None => Vec::new(),
    };
    let collar = ctx.config.execution.emergency_collar_pct;
    let mut placed: Vec<Placed> = out.placed.clone();
    for o in &out.earlier {
        if recorded.contains(&o.client_order_id.0) {
            continue;
        }
        let quote = o
            .limit_price
            .map(|l| (l / (1.0 - collar / 100.0) * 100.0).round() / 100.0)
            .or(o.avg_fill_price)
            .unwrap_or(0.0);
        if quote > 0.0 {
            ctx.log.warn(&format!(
                "recording {} of an earlier run that was not in the ledgers",
                o.client_order_id.0
            ));
            placed.push(Placed {
                order: o.clone(),
                quote,
            });
        }
    }
    if placed.is_empty() {
        return Ok(());
    }
    let intents: Vec<(String, OrderIntent)> = placed
        .iter()
        .map(|p| {
            (
                p.order.client_order_id.0.clone(),
                OrderIntent {
                    symbol: p.order.symbol.clone(),
                    side: p.order.side,
                    qty: p.order.qty,
                    ref_price: p.quote,
                },
            )
        })
        .collect();
    let mut t = super::dry_run::orders_table(intents.iter().map(|(id, o)| (date, id.clone(), o)));
    t.push("phase", Col::Str(vec![PHASE.into(); intents.len()]));
    ledger::append_replacing(&dir.join("orders.parquet"), &t, "client_order_id")?;
    let f = fills_table(date, &placed);
    if f.cols
        .first()
        .is_some_and(|(_, c)| matches!(c, Col::Date(v) if !v.is_empty()))
    {
        ledger::append_replacing(&dir.join("fills.parquet"), &f, "client_order_id")?;
    }
    Ok(())
}

/// One row per execution, in the columns of the engine's fills ledger (h19core's
/// `execution::fills`): date, ids, symbol, side, qty, price, commission (dollars), the quote
/// as the decision price, slippage against it in bps (positive = worse), status `filled`.
/// The phase is in the orders ledger (and in the `emx-` ids).
fn fills_table(date: NaiveDate, placed: &[Placed]) -> Table {
    struct Row<'a> {
        order: &'a crate::broker::BrokerOrder,
        exec: String,
        qty: i64,
        price: f64,
        commission_cents: i64,
        quote: f64,
    }
    let mut rows = Vec::new();
    for p in placed {
        let o = &p.order;
        let row = |exec: String, qty, price, commission_cents| Row {
            order: o,
            exec,
            qty,
            price,
            commission_cents,
            quote: p.quote,
        };
        if o.executions.is_empty() {
            // A venue that reports only the order's totals: one row for them.
            if let Some(px) = o.avg_fill_price.filter(|_| o.filled_qty > 0) {
                rows.push(row(
                    o.broker_order_id.clone(),
                    o.filled_qty,
                    px,
                    o.commission_cents,
                ));
            }
        } else {
            for e in &o.executions {
                rows.push(row(e.id.clone(), e.qty, e.price, e.commission_cents));
            }
        }
    }
    let n = rows.len();
    let s = |f: &dyn Fn(&Row) -> String| Col::Str(rows.iter().map(f).collect());
    let x = |f: &dyn Fn(&Row) -> f64| Col::F64(rows.iter().map(|r| Some(f(r))).collect());
    let mut t = Table::default();
    t.push("date", Col::Date(vec![date; n]))
        .push("client_order_id", s(&|r| r.order.client_order_id.0.clone()))
        .push("broker_order_id", s(&|r| r.order.broker_order_id.clone()))
        .push("execution_id", s(&|r| r.exec.clone()))
        .push("symbol", s(&|r| r.order.symbol.clone()))
        .push("side", s(&|r| r.order.side.as_str().into()))
        .push("qty", Col::I64(rows.iter().map(|r| r.qty).collect()))
        .push("price", x(&|r| r.price))
        .push(
            "commission",
            x(&|r| crate::money::dollars(r.commission_cents)),
        )
        .push("decision_price", x(&|r| r.quote))
        .push(
            "slippage_bps",
            x(&|r| {
                let d = (r.price - r.quote) / r.quote * 10_000.0;
                if r.order.side == Side::Sell { -d } else { d }
            }),
        )
        .push("status", Col::Str(vec!["filled".into(); n]));
    t
}

/// Record the broker's account in the state (holding the lock). Returns the note and
/// whether nothing went wrong (an unusable state left for a person is not a failure).
fn record_state(
    ctx: &Ctx,
    date: NaiveDate,
    broker: &str,
    out: &Outcome,
    account: Option<AccountInfo>,
) -> (String, bool) {
    let cfg = &ctx.config;
    let store = StateStore::new(&cfg.paths.state_dir, cfg.state.backups).at(ctx.now);
    let (mut state, how) = match store.open(ctx.now) {
        Ok(Loaded::Ok(s)) => (s, String::new()),
        Ok(Loaded::Fresh) => (
            State::new(ctx.now, cfg.phase),
            " (new state: none existed)".into(),
        ),
        Ok(Loaded::Recovered {
            state,
            from,
            problem,
            moved_to,
        }) => {
            let kept = moved_to.map_or(String::new(), |p| {
                format!(", the unusable file kept as {}", p.display())
            });
            let what = format!(
                "{} was unusable ({problem}): recovered from {}{kept}",
                store.path.display(),
                from.display()
            );
            ctx.log.warn(&format!("STATE RECOVERED: {what}"));
            (state, format!(" ({what})"))
        }
        Err(e) => {
            let msg = format!(
                "NOT recorded: {e} — the file is left as it is for a person; the broker is the record of what was done"
            );
            ctx.log.warn(&msg);
            return (msg, true);
        }
    };
    if let Some(a) = account {
        state.account = Some(AccountSnapshot {
            as_of: date,
            broker: broker.to_string(),
            cash_cents: a.cash_cents,
            positions: out.positions_left.clone(),
            equity_cents: a.equity_cents,
        });
        state.record_equity(date, crate::money::dollars(a.equity_cents));
    }
    // The holdings no longer follow the last rebalance: without this the rebalance gate
    // would compare new targets with the old ones and hold cash after a `resume`.
    state.last_targets = None;
    let open: Vec<&str> = out
        .orders_left
        .iter()
        .map(|o| o.client_order_id.0.as_str())
        .collect();
    state
        .orders_in_flight
        .retain(|o| open.contains(&o.client_order_id.as_str()));
    state.record_job(
        date,
        JobRecord {
            job: PHASE.into(),
            phase: Some(cfg.phase),
            started_at: ctx.now,
            finished_at: ctx.clock(),
            result: if out.flat() {
                JobResult::Ok
            } else {
                JobResult::Failed
            },
            detail: one_line(out),
            skipped_preflight: false,
        },
    );
    match store.save(&mut state, ctx.now) {
        Ok(()) => (format!("recorded as save #{}{how}", state.save_seq), true),
        Err(e) => {
            ctx.log.warn(&format!("state not saved: {e}"));
            (format!("NOT recorded: {e}"), false)
        }
    }
}

fn one_line(out: &Outcome) -> String {
    let sold = out.sold();
    if out.flat() && out.canceled.is_empty() && out.placed.is_empty() {
        "nothing to do: no position and no open order at the broker".into()
    } else if out.flat() {
        format!(
            "flat: {} order(s) canceled, {} position(s) sold",
            out.canceled.len(),
            sold.len()
        )
    } else {
        format!(
            "STILL OPEN after {} attempt(s): positions {:?}, {} open order(s)",
            out.attempts,
            out.positions_left,
            out.orders_left.len()
        )
    }
}

#[derive(Serialize)]
struct Report {
    result: String,
    flat: bool,
    kill_switch: String,
    lock: String,
    canceled: Vec<String>,
    sold: BTreeMap<String, i64>,
    proceeds: Option<f64>,
    cash: Option<f64>,
    positions_left: BTreeMap<String, i64>,
    orders_left: Vec<String>,
    problems: Vec<String>,
    ledgers: String,
    state: String,
}

impl Report {
    fn new(
        out: &Outcome,
        account: Option<AccountInfo>,
        kill_switch: String,
        held: &std::result::Result<lock::StateLock, String>,
        ledgers: String,
        state: String,
    ) -> Report {
        Report {
            result: one_line(out),
            flat: out.flat(),
            kill_switch,
            lock: match held {
                Ok(_) => "held".into(),
                Err(why) => format!("NOT HELD: {why}"),
            },
            canceled: out
                .canceled
                .iter()
                .map(|o| {
                    format!(
                        "{} ({} {} {}) {}",
                        o.client_order_id.0,
                        o.side.as_str(),
                        o.qty,
                        o.symbol,
                        o.status.as_str()
                    )
                })
                .collect(),
            sold: out.sold(),
            proceeds: out.proceeds_cents().map(crate::money::dollars),
            cash: account.map(|a| crate::money::dollars(a.cash_cents)),
            positions_left: out.positions_left.clone(),
            orders_left: out
                .orders_left
                .iter()
                .map(|o| {
                    format!(
                        "{} ({} {} {}) {}",
                        o.client_order_id.0,
                        o.side.as_str(),
                        o.remaining(),
                        o.symbol,
                        o.status.as_str()
                    )
                })
                .collect(),
            problems: out.problems.clone(),
            ledgers,
            state,
        }
    }
}

fn print_report(r: &Report, out: &Outcome) {
    outln!("emergency-exit: {}", r.result);
    outln!("  kill switch  {}", r.kill_switch);
    outln!("  lock         {}", r.lock);
    if r.canceled.is_empty() {
        outln!("  canceled     no open order");
    }
    for c in &r.canceled {
        outln!("  canceled     {c}");
    }
    if out.placed.is_empty() {
        outln!("  sold         nothing to sell");
    }
    for p in &out.placed {
        let o = &p.order;
        outln!(
            "  sell         {} {} {}: {} filled{} (limit {}, quote {:.2})",
            o.client_order_id.0,
            o.qty,
            o.symbol,
            o.filled_qty,
            o.avg_fill_price
                .map_or(String::new(), |px| format!(" at {px:.4}")),
            o.limit_price.map_or("-".into(), |l| format!("{l:.2}")),
            p.quote
        );
    }
    outln!(
        "  proceeds     {}",
        r.proceeds.map_or("out of range".into(), |p| format!(
            "{p:.2} after commission"
        ))
    );
    if let Some(c) = r.cash {
        outln!("  cash         {c:.2}");
    }
    for (s, q) in &r.positions_left {
        outln!("  STILL HELD   {q} {s}");
    }
    for o in &r.orders_left {
        outln!("  STILL OPEN   {o}");
    }
    for p in &r.problems {
        outln!("  problem      {p}");
    }
    outln!("  ledgers      {}", r.ledgers);
    outln!("  state        {}", r.state);
}
