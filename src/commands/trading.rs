//! The trading run `paper` and `live` share: the dry-run decision plus execution on the
//! venue ([`super::venue`]). Same prerequisite as dry-run (a passed preflight for the date),
//! then the phase's promotion gate (and for the first live run `--confirm-first-live`). The
//! flow: check the cut-off (`close_auction`), open the venue, check the account's identity,
//! sync the day's journal with the broker (a rerun adopts what the broker has), reconcile the
//! broker with the state (a mismatch stops with exit 3), decide, journal the sells (saved
//! before anything is sent), send and wait, size the buys from the broker's cash, journal,
//! send and wait, then record the account, ledgers and job. A second run of a finished day
//! sends nothing and reports the day's orders.
//!
//! With `execution.order_style: close_auction` every order is limit-on-close: nothing is
//! waited for (the orders stay pending in the journal until `trader sync` collects them after
//! the close) and the buys are sized from the cash before the day plus what the sells bring
//! at the decision price (they fill at the close too), keeping `risk.min_cash_pct`.
//!
//! `live` sizes on `live.capital_fraction` of the broker's equity: the strategy sees the
//! positions it holds and as much cash as makes its equity that fraction.

use anyhow::{Context, Result};
use chrono::NaiveDate;

use super::venue::{self, Quotes, Venue};
use super::{Ctx, Job};
use crate::broker::Broker;
use crate::config::OrderStyle;
use crate::execution::engine::{Engine, ExecError};
use crate::execution::journal::{DayJournal, JournalStatus, OrderPhase};
use crate::execution::{fills, kill_point, plan, reconcile};
use crate::exit::{Exit, ExitError};
use crate::ledger;
use crate::pipeline;
use crate::portfolio::Holdings;
use crate::state::{AccountSnapshot, JobRecord, JobResult};

/// One trading run.
pub struct Run {
    pub venue: Venue,
    pub date: Option<NaiveDate>,
    /// `live --confirm-first-live`.
    pub confirm_first_live: bool,
}

/// Run the trading job of `run.venue` for one date.
pub fn run(ctx: &Ctx, run: &Run) -> Result<Exit> {
    let cfg = &ctx.config;
    let venue = run.venue;
    let job_name = venue.as_str();
    let date = run.date.unwrap_or_else(|| ctx.today());
    if super::report_closed(date)? {
        return Ok(Exit::Ok);
    }
    let mut job = super::open_job(ctx, job_name)?;
    if let Some(rec) = job
        .state
        .job(date, job_name)
        .filter(|r| r.result == JobResult::Ok)
    {
        outln!(
            "{job_name} for {date} already done at {}: {}\n(nothing sent; the day's orders:)",
            rec.finished_at
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            rec.detail
        );
        print_orders(&job, date);
        return Ok(Exit::Ok);
    }
    super::preflight::require_passed(&job.state, date)?;
    // The promotion gate, from the state's history, before anything touches the broker.
    let gate = match crate::gates::require(&job.state, cfg, venue.phase(), date) {
        Ok(g) => g,
        Err(refusal) => {
            record(
                ctx,
                &mut job,
                venue,
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
                "PHASE OVERRIDE: {job_name} runs on {date} although its promotion gate is not met ({why})"
            ));
            format!("phase_override: {why}")
        }
        None => "promotion gate passed".to_string(),
    };
    if venue == Venue::Live && job.state.live_confirmation.is_none() {
        if !run.confirm_first_live {
            let detail = format!(
                "the first live run needs a person's word: rerun `trader live --date {date} --confirm-first-live` (it trades real money, {}% of the account's equity); nothing sent",
                cfg.live.capital_fraction * 100.0
            );
            record(ctx, &mut job, venue, date, JobResult::Blocked, &detail)?;
            return Err(ExitError::new(Exit::Blocked, detail).into());
        }
        let by = super::login_name();
        ctx.log.warn(&format!(
            "FIRST LIVE RUN confirmed by {by} (--confirm-first-live) for {date}"
        ));
        job.state.live_confirmation = Some(crate::state::LiveConfirmation {
            by,
            at: ctx.clock(),
            date,
        });
        job.save(ctx.clock())?;
    }
    if crate::gates::record_promotion(&mut job.state, venue.phase(), &promotion, ctx.clock()) {
        ctx.log
            .info(&format!("phase: {job_name} from {date} ({promotion})"));
    }
    // Halted before the venue is touched: nothing is sent while the kill switch is there (it
    // is checked again before every submission, for one that appears mid-run).
    if cfg.paths.kill_switch.exists() {
        let detail = format!(
            "kill switch {} is present: nothing sent for {date} (`trader resume` removes it)",
            cfg.paths.kill_switch.display()
        );
        record(ctx, &mut job, venue, date, JobResult::Blocked, &detail)?;
        return Err(ExitError::new(Exit::Halted, detail).into());
    }
    let at_close = cfg.execution.order_style == OrderStyle::CloseAuction;
    if at_close
        && let Err(why) = crate::execution::auction::check_cutoff(
            ctx.clock(),
            date,
            &cfg.execution.close_auction_cutoff,
        )
    {
        record(ctx, &mut job, venue, date, JobResult::Blocked, &why)?;
        return Err(ExitError::new(Exit::Blocked, why).into());
    }
    let mut d = super::daily::load_in(ctx, &job.state, date, &venue.sim_dir(cfg))?;
    // The rebalance gate compares with what *this* account last rebalanced to: the dry-run's
    // targets belong to a hypothetical book, so a first day on the venue rebalances in full.
    d.last_targets = venue_last_targets(&job.state, date, job_name);
    let mut broker = venue::open_broker(ctx, venue, date, Quotes::Given(&d.closes))?;
    let label = venue.account_label(broker.name());
    let fraction = match venue {
        Venue::Live => cfg.live.capital_fraction,
        Venue::Paper => 1.0,
    };
    let clock = || ctx.clock();
    let kill_switch = cfg.paths.kill_switch.clone();
    let mut engine = Engine {
        broker: &mut *broker,
        cfg: &cfg.execution,
        kill_switch: &kill_switch,
        date,
        clock: &clock,
    };
    let Job { store, state, .. } = &mut job;
    let mut save =
        |st: &mut crate::state::State| store.save(st, ctx.clock()).map_err(|e| e.to_string());
    let outcome = (|| -> Result<Option<(String, &'static str)>> {
        if let Some(refused) = venue::check_identity(ctx, &mut *engine.broker, state, venue)? {
            return Ok(Some((refused, "broker-account")));
        }
        engine.sync(state, &mut save).map_err(exec_error)?;
        if let Some(blocked) =
            reconcile_or_block(ctx, &mut *engine.broker, state, date, venue, &label)?
        {
            return Ok(Some((blocked, "reconciliation-mismatch")));
        }
        Ok(None)
    })();
    let blocked = match outcome {
        Ok(b) => b,
        Err(e) => return fail(ctx, &mut job, venue, date, e),
    };
    if let Some((detail, key)) = blocked {
        crate::alert::raise(crate::alert::Alert {
            severity: crate::alert::Severity::Critical,
            key: key.into(),
            subject: format!("{job_name} {date}: {}, nothing sent", key.replace('-', " ")),
            body: format!("{detail}\n"),
        });
        record(ctx, &mut job, venue, date, JobResult::Blocked, &detail)?;
        return Err(ExitError::new(Exit::Blocked, detail).into());
    }
    // The strategy decides on the broker's account (the capital fraction of it for live).
    let acct = engine
        .broker
        .account()
        .map_err(|e| ExitError::new(Exit::Unavailable, e.to_string()))?;
    let positions = engine
        .broker
        .positions()
        .map_err(|e| ExitError::new(Exit::Unavailable, e.to_string()))?;
    let pre_trade = Holdings {
        cash_cents: acct.cash_cents,
        positions,
    };
    d.holdings = plan::sleeve(&pre_trade, &d.closes, fraction);
    let pcfg = super::dry_run::pipeline_config(cfg, true);
    let day = pipeline::decide_day(&pcfg, &d.inputs());
    let tag = super::dry_run::STRATEGY_TAG;
    let collar_pct = cfg.execution.max_slippage_pct;
    let traded = (|| -> Result<(), ExecError> {
        if let std::collections::btree_map::Entry::Vacant(e) = state.journal.entry(date) {
            let mut orders = plan::sells(tag, date, &day.orders, collar_pct, ctx.clock());
            for o in &mut orders {
                o.at_close = at_close;
            }
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
            let sells = state.journal.get(&date).map_or(&[][..], |j| &j.orders[..]);
            let (holdings, unsold) = if at_close {
                // The sells fill at the close too: size on the cash before the day plus what
                // they bring at the decision price.
                (
                    plan::after_sells(&pre_trade, sells, &pcfg.cost),
                    Default::default(),
                )
            } else {
                let acct = engine.broker.account()?;
                let unsold = sells
                    .iter()
                    .filter(|o| o.phase == OrderPhase::Sell && o.filled_qty < o.qty)
                    .map(|o| o.symbol.clone())
                    .collect();
                (
                    Holdings {
                        cash_cents: acct.cash_cents,
                        positions: engine.broker.positions()?,
                    },
                    unsold,
                )
            };
            let holdings = plan::sleeve(&holdings, &d.closes, fraction);
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
            let mut buys = plan::buys(tag, date, &day.orders, &inp, collar_pct, ctx.clock());
            for o in &mut buys {
                o.at_close = at_close;
            }
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
                        "the outcome of {} is still unknown: run `trader {job_name}` again later (it asks the broker by the same id and never sends a new one)",
                        unresolved.join(", ")
                    ),
                },
            ));
        }
        Ok(())
    })();
    if let Err(e) = traded {
        return fail(ctx, &mut job, venue, date, exec_error(e));
    }
    // The account as the broker reports it after the day.
    let acct = broker
        .account()
        .map_err(|e| ExitError::new(Exit::Unavailable, e.to_string()))?;
    let positions = broker
        .positions()
        .map_err(|e| ExitError::new(Exit::Unavailable, e.to_string()))?;
    let st = &mut job.state;
    st.account = Some(AccountSnapshot {
        as_of: date,
        broker: label.clone(),
        cash_cents: acct.cash_cents,
        positions,
        equity_cents: acct.equity_cents,
    });
    super::dry_run::record_decision(st, date, &d.decision, &day, acct.equity_cents);
    // What `validate` compares the day against, as for a dry-run day.
    st.decisions.insert(
        date,
        super::dry_run::decision_record(job_name, venue.phase(), ctx.clock(), &d, &day),
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
    let at_close_pending = orders
        .iter()
        .filter(|o| o.at_close && !o.status.is_final())
        .count();
    let mut detail = format!(
        "{}; sent {}: {filled} filled, {partial} partly filled (rest cancelled), {} rejected",
        super::dry_run::one_line(&d.decision, &day),
        orders.len(),
        rejected.len()
    );
    if at_close_pending > 0 {
        detail.push_str(&format!(
            ", {at_close_pending} limit-on-close pending until the close (`trader sync` collects them)"
        ));
    }
    if venue == Venue::Live {
        detail.push_str(&format!(
            "; capital_fraction {} of equity {:.2}",
            fraction,
            crate::money::dollars(acct.equity_cents)
        ));
    }
    if !rejected.is_empty() {
        detail.push_str(&format!(": {}", rejected.join("; ")));
    }
    let ledger_dir = &cfg.paths.ledger_dir;
    super::dry_run::write_ledgers(
        ctx,
        date,
        job_name,
        &d.decision,
        &day,
        &d.tradables,
        fills::orders_table(date, orders, job_name),
    )?;
    // Keyed by order id: a rerun rewrites its own orders' rows and keeps the date's other
    // rows (an emergency-exit's sales the same day).
    ledger::append_replacing(
        &ledger_dir.join("fills.parquet"),
        &fills::fills_table(date, orders),
        "client_order_id",
    )?;
    kill_point("ledgers_written");
    record(ctx, &mut job, venue, date, JobResult::Ok, &detail)?;
    for r in &rejected {
        ctx.log
            .warn(&format!("{job_name} {date}: order rejected: {r}"));
    }
    if !rejected.is_empty() || partial > 0 {
        // A person should look: the book is not what the decision wanted.
        crate::alert::raise(crate::alert::Alert {
            severity: crate::alert::Severity::Warning,
            key: format!("{job_name}-orders-{date}"),
            subject: format!(
                "{job_name} {date}: {} rejected, {partial} partly filled (rest cancelled)",
                rejected.len()
            ),
            body: format!("{detail}\n"),
        });
    }
    ctx.log.info(&format!("{job_name} {date}: {detail}"));
    outln!("{job_name} {date}  ({label} venue)");
    print_orders(&job, date);
    if !rejected.is_empty() {
        outln!(
            "  WARNING  {} order(s) rejected; the others traded (exit 0)",
            rejected.len()
        );
    }
    Ok(Exit::Ok)
}

/// The targets the venue's account last rebalanced to, from its days' decision records
/// before `date`: a day that traded moved to its targets, a day that held kept its previous
/// ones. `None` before the first paper day and after an emergency exit.
fn venue_last_targets(
    state: &crate::state::State,
    date: NaiveDate,
    job_name: &str,
) -> Option<std::collections::BTreeMap<String, f64>> {
    let (rec_date, rec) = state
        .decisions
        .range(..date)
        .rev()
        .find(|(_, r)| r.job == job_name)?;
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
    broker: &mut dyn Broker,
    state: &mut crate::state::State,
    date: NaiveDate,
    venue: Venue,
    label: &str,
) -> Result<Option<String>> {
    let cfg = &ctx.config;
    let acct = broker
        .account()
        .map_err(|e| ExitError::new(Exit::Unavailable, e.to_string()))?;
    let positions = broker
        .positions()
        .map_err(|e| ExitError::new(Exit::Unavailable, e.to_string()))?;
    let broker_name = label.to_string();
    let job_name = venue.as_str();
    let Some(record) = state.account.as_ref().filter(|a| a.broker == broker_name) else {
        ctx.log.info(&format!(
            "first {job_name} run on the {broker_name} venue: adopting its view (cash {:.2}, positions {:?})",
            crate::money::dollars(acct.cash_cents),
            positions
        ));
        outln!(
            "first {job_name} run on the {broker_name} venue: the state adopts its cash and positions"
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
fn fail(ctx: &Ctx, job: &mut Job, venue: Venue, date: NaiveDate, e: anyhow::Error) -> Result<Exit> {
    let result = match e.downcast_ref::<ExitError>().map(|x| x.exit) {
        Some(Exit::Halted | Exit::Blocked) => JobResult::Blocked,
        _ => JobResult::Failed,
    };
    record(ctx, job, venue, date, result, &format!("{e:#}"))?;
    Err(e)
}

fn record(
    ctx: &Ctx,
    job: &mut Job,
    venue: Venue,
    date: NaiveDate,
    result: JobResult,
    detail: &str,
) -> Result<()> {
    job.state.record_job(
        date,
        JobRecord {
            job: venue.as_str().into(),
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
