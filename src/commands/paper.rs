//! `trader paper [--date D]`: the dry-run decision plus execution on the paper broker (the
//! sim venue). Same prerequisite as dry-run (a passed preflight for the date). The flow:
//! sync the day's journal with the broker (a rerun adopts what the broker has), reconcile
//! the broker with the state (a mismatch stops with exit 3), decide, journal the sells
//! (saved before anything is sent), send and wait, size the buys from the broker's cash,
//! journal, send and wait, then record the account, ledgers and job. A second run of a
//! finished day sends nothing and reports the day's orders.

use anyhow::{Context, Result};
use chrono::NaiveDate;

use super::{Ctx, Job};
use crate::broker::Broker;
use crate::broker::sim::{SimBroker, SimFaults};
use crate::cli::PaperArgs;
use crate::config::Phase;
use crate::execution::engine::{Engine, ExecError};
use crate::execution::journal::{DayJournal, JournalStatus, OrderPhase};
use crate::execution::{fills, kill_point, plan, reconcile};
use crate::exit::{Exit, ExitError};
use crate::ledger;
use crate::pipeline;
use crate::portfolio::Holdings;
use crate::state::{AccountSnapshot, JobRecord, JobResult};

const JOB: &str = "paper";

/// Open the persistent sim venue with the day's quotes, the faults in force and the job's clock.
pub fn open_sim(ctx: &Ctx, quotes: &std::collections::BTreeMap<String, f64>) -> Result<SimBroker> {
    let cfg = &ctx.config;
    let initial = super::config_cents(cfg, "account.initial_capital", cfg.account.initial_capital)?;
    let cost = super::dry_run::cost_model(cfg);
    let (mut sim, _) = SimBroker::open(&cfg.paths.state_dir.join("sim"), initial, cost)
        .map_err(|e| ExitError::new(Exit::Unavailable, e.to_string()))?;
    sim.faults = SimFaults::from_env_or(cfg.account.sim_faults.as_deref())
        .map_err(|e| ExitError::new(Exit::Usage, e))?;
    if sim.faults != SimFaults::default() {
        ctx.log
            .warn(&format!("sim venue faults in force: {:?}", sim.faults));
    }
    sim.quotes = quotes.clone();
    sim.now = ctx.clock();
    Ok(sim)
}

/// Run the paper job for one date.
pub fn run(ctx: &Ctx, args: &PaperArgs) -> Result<Exit> {
    let cfg = &ctx.config;
    let date = args.date.unwrap_or_else(|| ctx.today());
    if super::report_closed(date)? {
        return Ok(Exit::Ok);
    }
    let mut job = super::open_job(ctx, JOB)?;
    if let Some(rec) = job
        .state
        .job(date, JOB)
        .filter(|r| r.result == JobResult::Ok)
    {
        outln!(
            "paper for {date} already done at {}: {}\n(nothing sent; the day's orders:)",
            rec.finished_at
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            rec.detail
        );
        print_orders(&job, date);
        return Ok(Exit::Ok);
    }
    super::preflight::require_passed(&job.state, date)?;
    // The promotion gate, from the state's history, before anything touches the broker.
    let gate = match crate::gates::require(&job.state, cfg, Phase::Paper, date) {
        Ok(g) => g,
        Err(refusal) => {
            record(
                ctx,
                &mut job,
                date,
                JobResult::Blocked,
                &refusal.to_string(),
            )?;
            return Err(refusal.into());
        }
    };
    let promotion = match &gate.overridden {
        Some(why) => {
            ctx.log.warn(&format!(
                "PHASE OVERRIDE: paper runs on {date} although its promotion gate is not met ({why})"
            ));
            format!("phase_override: {why}")
        }
        None => "promotion gate passed".to_string(),
    };
    if crate::gates::record_promotion(&mut job.state, Phase::Paper, &promotion, ctx.clock()) {
        ctx.log
            .info(&format!("phase: paper from {date} ({promotion})"));
    }
    // Halted before the venue is touched: nothing is sent while the kill switch is there (it
    // is checked again before every submission, for one that appears mid-run).
    if cfg.paths.kill_switch.exists() {
        let detail = format!(
            "kill switch {} is present: nothing sent for {date} (`trader resume` removes it)",
            cfg.paths.kill_switch.display()
        );
        record(ctx, &mut job, date, JobResult::Blocked, &detail)?;
        return Err(ExitError::new(Exit::Halted, detail).into());
    }
    let mut d = super::daily::load(ctx, &job.state, date, true)?;
    // The rebalance gate compares with what *this* account last rebalanced to: the dry-run's
    // targets belong to a hypothetical book, so a first paper day rebalances in full.
    d.last_targets = paper_last_targets(&job.state, date);
    let mut sim = open_sim(ctx, &d.closes)?;
    let clock = || ctx.clock();
    let kill_switch = cfg.paths.kill_switch.clone();
    let mut engine = Engine {
        broker: &mut sim,
        cfg: &cfg.execution,
        kill_switch: &kill_switch,
        date,
        clock: &clock,
    };
    let Job { store, state, .. } = &mut job;
    let mut save =
        |st: &mut crate::state::State| store.save(st, ctx.clock()).map_err(|e| e.to_string());
    let outcome = (|| -> Result<Option<String>> {
        engine.sync(state, &mut save).map_err(exec_error)?;
        if let Some(blocked) = reconcile_or_block(ctx, engine.broker, state, date)? {
            return Ok(Some(blocked));
        }
        Ok(None)
    })();
    let blocked = match outcome {
        Ok(b) => b,
        Err(e) => return fail(ctx, &mut job, date, e),
    };
    if let Some(detail) = blocked {
        crate::alert::raise(crate::alert::Alert {
            severity: crate::alert::Severity::Critical,
            key: "reconciliation-mismatch".into(),
            subject: format!("paper {date}: reconciliation mismatch, nothing sent"),
            body: format!("{detail}\n"),
        });
        record(ctx, &mut job, date, JobResult::Blocked, &detail)?;
        return Err(ExitError::new(Exit::Blocked, detail).into());
    }
    let pcfg = super::dry_run::pipeline_config(cfg, true);
    let day = pipeline::decide_day(&pcfg, &d.inputs());
    let tag = super::dry_run::STRATEGY_TAG;
    let collar_pct = cfg.execution.max_slippage_pct;
    let traded = (|| -> Result<(), ExecError> {
        if let std::collections::btree_map::Entry::Vacant(e) = state.journal.entry(date) {
            let orders = plan::sells(tag, date, &day.orders, collar_pct, ctx.clock());
            let any = !orders.is_empty();
            e.insert(DayJournal {
                started_at: ctx.clock(),
                buys_planned: false,
                orders,
            });
            // Nothing to sell: the buys' plan is the first save before a submission.
            if any {
                save(state).map_err(ExecError::Save)?;
                kill_point("journal_saved");
            }
        }
        engine.submit_phase(state, OrderPhase::Sell, &mut save)?;
        engine.wait_phase(state, OrderPhase::Sell, &mut save)?;
        if !state.journal.get(&date).is_some_and(|j| j.buys_planned) {
            let acct = engine.broker.account()?;
            let holdings = Holdings {
                cash_cents: acct.cash_cents,
                positions: engine.broker.positions()?,
            };
            let unsold = state.journal.get(&date).map_or(Default::default(), |j| {
                j.orders
                    .iter()
                    .filter(|o| o.phase == OrderPhase::Sell && o.filled_qty < o.qty)
                    .map(|o| o.symbol.clone())
                    .collect()
            });
            let empty = Default::default();
            let targets = day.final_targets.as_deref().unwrap_or(&empty);
            let inp = plan::BuyInputs {
                holdings: &holdings,
                prices: &d.closes,
                targets,
                unsold: &unsold,
                cost: &pcfg.cost,
                min_cash_pct: cfg.risk.min_cash_pct,
            };
            let buys = plan::buys(tag, date, &day.orders, &inp, collar_pct, ctx.clock());
            if let Some(j) = state.journal.get_mut(&date) {
                j.orders.extend(buys);
                j.buys_planned = true;
            }
            save(state).map_err(ExecError::Save)?;
            kill_point("buys_planned");
        }
        engine.submit_phase(state, OrderPhase::Buy, &mut save)?;
        engine.wait_phase(state, OrderPhase::Buy, &mut save)?;
        let unresolved = engine.unresolved(state);
        if !unresolved.is_empty() {
            return Err(ExecError::Broker(
                crate::broker::BrokerError::OutcomeUnknown {
                    broker: engine.broker.name().to_string(),
                    detail: format!(
                        "the outcome of {} is still unknown: run `trader paper` again later (it asks the broker by the same id and never sends a new one)",
                        unresolved.join(", ")
                    ),
                },
            ));
        }
        Ok(())
    })();
    if let Err(e) = traded {
        return fail(ctx, &mut job, date, exec_error(e));
    }
    // The account as the broker reports it after the day.
    let acct = sim
        .account()
        .map_err(|e| ExitError::new(Exit::Unavailable, e.to_string()))?;
    let positions = sim
        .positions()
        .map_err(|e| ExitError::new(Exit::Unavailable, e.to_string()))?;
    let st = &mut job.state;
    st.account = Some(AccountSnapshot {
        as_of: date,
        broker: sim.name().to_string(),
        cash_cents: acct.cash_cents,
        positions,
        equity_cents: acct.equity_cents,
    });
    super::dry_run::record_decision(st, date, &d.decision, &day, acct.equity_cents);
    // What `validate` compares the day against, as for a dry-run day.
    st.decisions.insert(
        date,
        super::dry_run::decision_record(JOB, Phase::Paper, ctx.clock(), &d, &day),
    );
    let orders = st.journal.get(&date).map_or(&[][..], |j| &j.orders[..]);
    let rejected: Vec<String> = orders
        .iter()
        .filter(|o| o.status == JournalStatus::Rejected)
        .map(|o| {
            format!(
                "{} {} ({})",
                o.side.as_str(),
                o.symbol,
                o.last_error.clone().unwrap_or_default()
            )
        })
        .collect();
    let filled = orders
        .iter()
        .filter(|o| o.status == JournalStatus::Filled)
        .count();
    let partial = orders
        .iter()
        .filter(|o| o.status != JournalStatus::Filled && o.filled_qty > 0)
        .count();
    let mut detail = format!(
        "{}; sent {}: {filled} filled, {partial} partly filled (rest cancelled), {} rejected",
        super::dry_run::one_line(&d.decision, &day),
        orders.len(),
        rejected.len()
    );
    if !rejected.is_empty() {
        detail.push_str(&format!(": {}", rejected.join("; ")));
    }
    let ledger_dir = &cfg.paths.ledger_dir;
    super::dry_run::write_ledgers(
        ctx,
        date,
        JOB,
        &d.decision,
        &day,
        &d.tradables,
        fills::orders_table(date, orders, JOB),
    )?;
    // Keyed by order id: a rerun rewrites its own orders' rows and keeps the date's other
    // rows (an emergency-exit's sales the same day).
    ledger::append_replacing(
        &ledger_dir.join("fills.parquet"),
        &fills::fills_table(date, orders),
        "client_order_id",
    )?;
    kill_point("ledgers_written");
    record(ctx, &mut job, date, JobResult::Ok, &detail)?;
    for r in &rejected {
        ctx.log.warn(&format!("paper {date}: order rejected: {r}"));
    }
    if !rejected.is_empty() || partial > 0 {
        // A person should look: the book is not what the decision wanted.
        crate::alert::raise(crate::alert::Alert {
            severity: crate::alert::Severity::Warning,
            key: format!("paper-orders-{date}"),
            subject: format!(
                "paper {date}: {} rejected, {partial} partly filled (rest cancelled)",
                rejected.len()
            ),
            body: format!("{detail}\n"),
        });
    }
    ctx.log.info(&format!("paper {date}: {detail}"));
    outln!("paper {date}  (sim venue)");
    print_orders(&job, date);
    if !rejected.is_empty() {
        outln!(
            "  WARNING  {} order(s) rejected; the others traded (exit 0)",
            rejected.len()
        );
    }
    Ok(Exit::Ok)
}

/// The targets the paper account last rebalanced to, from the paper days' decision records
/// before `date`: a day that traded moved to its targets, a day that held kept its previous
/// ones. `None` before the first paper day and after an emergency exit.
fn paper_last_targets(
    state: &crate::state::State,
    date: NaiveDate,
) -> Option<std::collections::BTreeMap<String, f64>> {
    let (rec_date, rec) = state
        .decisions
        .range(..date)
        .rev()
        .find(|(_, r)| r.job == JOB)?;
    // An emergency exit since then left the account all cash: rebalance in full. Days order
    // the two; on the paper day itself the exit is the later one when it cleared the targets
    // (it does; a paper rebalance after it sets them again). Job clocks of two processes are
    // not compared: a replay's `TRADER_NOW` gives them the same start.
    let exited = state.jobs.iter().any(|(day, m)| {
        m.get("emergency-exit")
            .is_some_and(|j| j.result == JobResult::Ok)
            && (day > rec_date || (day == rec_date && state.last_targets.is_none()))
    });
    if exited {
        return None;
    }
    if rec.traded.is_empty() {
        rec.previous_targets.clone()
    } else {
        rec.targets.clone()
    }
}

/// Reconcile before trading. The first paper run on the venue adopts its view; otherwise a
/// mismatch is recorded and returned as the block's one-line detail.
fn reconcile_or_block(
    ctx: &Ctx,
    broker: &mut SimBroker,
    state: &mut crate::state::State,
    date: NaiveDate,
) -> Result<Option<String>> {
    let cfg = &ctx.config;
    let acct = broker
        .account()
        .map_err(|e| ExitError::new(Exit::Unavailable, e.to_string()))?;
    let positions = broker
        .positions()
        .map_err(|e| ExitError::new(Exit::Unavailable, e.to_string()))?;
    let broker_name = broker.name().to_string();
    let Some(record) = state.account.as_ref().filter(|a| a.broker == broker_name) else {
        ctx.log.info(&format!(
            "first paper run on the {broker_name} venue: adopting its view (cash {:.2}, positions {:?})",
            crate::money::dollars(acct.cash_cents),
            positions
        ));
        outln!(
            "first paper run on the {broker_name} venue: the state adopts its cash and positions"
        );
        state.account = Some(AccountSnapshot {
            as_of: date,
            broker: broker_name,
            cash_cents: acct.cash_cents,
            positions,
            equity_cents: acct.equity_cents,
        });
        return Ok(None);
    };
    let tol = crate::money::try_cents(cfg.execution.reconcile_cash_tolerance).unwrap_or(0);
    let diffs = reconcile::diff(record, acct.cash_cents, &positions, tol);
    if diffs.is_empty() {
        return Ok(None);
    }
    let rec = reconcile::ReconcileRecord {
        at: ctx.clock(),
        date,
        outcome: "mismatch".into(),
        by: None,
        reason: None,
        differences: diffs.clone(),
    };
    ledger::append(
        &cfg.paths.ledger_dir.join("reconciliations.parquet"),
        &reconcile::ledger_table(&rec),
        None,
    )?;
    state.reconciliations.push(rec);
    errln(&format!(
        "reconciliation: the {broker_name} venue and the state differ:\n{}nothing was sent. If the broker is right, run: trader reconcile --accept --reason \"...\"",
        reconcile::render(&diffs)
    ));
    Ok(Some(format!(
        "reconciliation mismatch ({}): run `trader reconcile --accept --reason \"...\"`",
        diffs
            .iter()
            .map(|d| d.item.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    )))
}

fn errln(s: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{s}");
}

fn exec_error(e: ExecError) -> anyhow::Error {
    let exit = match &e {
        ExecError::Halted(_) => Exit::Halted,
        ExecError::Broker(_) => Exit::Unavailable,
        ExecError::Save(_) | ExecError::State(_) => Exit::Unexpected,
    };
    ExitError::new(exit, e.to_string()).into()
}

/// Record the failed or halted run (the journal keeps its progress) and return the error.
fn fail(ctx: &Ctx, job: &mut Job, date: NaiveDate, e: anyhow::Error) -> Result<Exit> {
    let result = match e.downcast_ref::<ExitError>().map(|x| x.exit) {
        Some(Exit::Halted | Exit::Blocked) => JobResult::Blocked,
        _ => JobResult::Failed,
    };
    record(ctx, job, date, result, &format!("{e:#}"))?;
    Err(e)
}

fn record(
    ctx: &Ctx,
    job: &mut Job,
    date: NaiveDate,
    result: JobResult,
    detail: &str,
) -> Result<()> {
    job.state.record_job(
        date,
        JobRecord {
            job: JOB.into(),
            phase: Some(ctx.config.phase),
            started_at: ctx.now,
            finished_at: ctx.clock(),
            result,
            detail: detail.to_string(),
            skipped_preflight: false,
        },
    );
    job.save(ctx.clock()).context("saving the state")
}

/// The day's journal as a table.
fn print_orders(job: &Job, date: NaiveDate) {
    let Some(j) = job.state.journal.get(&date) else {
        outln!("  orders   none");
        return;
    };
    if j.orders.is_empty() {
        outln!("  orders   none");
    }
    for o in &j.orders {
        outln!(
            "  order    {:<4} {:>7} {:<5} limit {:.2}  filled {:>7} @ {}  {}{}",
            o.side.as_str(),
            o.qty,
            o.symbol,
            o.limit_price,
            o.filled_qty,
            o.avg_fill_price.map_or("-".into(), |p| format!("{p:.2}")),
            o.status.as_str(),
            o.last_error
                .as_ref()
                .map_or(String::new(), |e| format!("  ({e})"))
        );
    }
}
