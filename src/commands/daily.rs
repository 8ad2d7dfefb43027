//! What the daily jobs (`dry-run`, `risk`, and next `paper`/`live`) read before deciding a
//! trading date: bars up to the date, the strategy's decision for it, the account, the equity
//! peak and the fills activity. One loader, so every job sees the day the same way.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use chrono::NaiveDate;

use super::Ctx;
use crate::broker::Broker;
use crate::broker::sim::SimBroker;
use crate::data::{history, store::BarStore};
use crate::exit::{Exit, ExitError};
use crate::pipeline::{CloseReturns, DayInputs};
use crate::portfolio::Holdings;
use crate::risk::activity::Activity;
use crate::state::State;
use crate::strategy::{Decision, History, Strategy};

/// The day as the decision path sees it.
pub struct Day {
    pub date: NaiveDate,
    pub history: History,
    pub returns: CloseReturns,
    pub decision: Decision,
    pub tradables: Vec<String>,
    /// Last close on or before the date of every tradable.
    pub closes: BTreeMap<String, f64>,
    pub holdings: Holdings,
    /// Name of the account's broker.
    pub broker: String,
    pub equity_peak: Option<f64>,
    pub previous_close_equity: Option<f64>,
    pub last_targets: Option<BTreeMap<String, f64>>,
    pub activity: Activity,
}

/// Load the day. `persist_account` creates the simulated account on first use (the jobs
/// that record); read-only commands pass false and see the initial capital instead.
pub fn load(ctx: &Ctx, state: &State, date: NaiveDate, persist_account: bool) -> Result<Day> {
    load_at(
        ctx,
        state,
        date,
        persist_account,
        &ctx.config.paths.state_dir.join("sim"),
    )
}

/// [`load`] for the trading runs: the simulated account of the venue in `sim_dir` as it
/// stands (never created here: the venue factory creates it with its id); the runs then
/// decide on the broker's own account.
pub fn load_in(
    ctx: &Ctx,
    state: &State,
    date: NaiveDate,
    sim_dir: &std::path::Path,
) -> Result<Day> {
    load_at(ctx, state, date, false, sim_dir)
}

fn load_at(
    ctx: &Ctx,
    state: &State,
    date: NaiveDate,
    persist_account: bool,
    sim_dir: &std::path::Path,
) -> Result<Day> {
    let cfg = &ctx.config;
    let strategy = cfg.strategy_impl();
    let store = BarStore::new(&cfg.paths.bars_dir);
    let hist = history::load_for_strategy(cfg, Some(date)).context("loading bars")?;
    let decisions = strategy.decide_all(&hist).context("running the strategy")?;
    let signal = &cfg.strategy.params.signal_symbol;
    let Some(decision) = decisions.into_iter().rev().find(|d| d.date == date) else {
        return Err(ExitError::new(
            Exit::Blocked,
            format!(
                "no {signal} bar for {date} in {}: run `trader fetch` first",
                store.dir.display()
            ),
        )
        .into());
    };
    let cost = super::dry_run::cost_model(cfg);
    let initial = super::config_cents(cfg, "account.initial_capital", cfg.account.initial_capital)?;
    let sim = if persist_account || sim_dir.join("account.json").exists() {
        let (sim, created) = SimBroker::open(sim_dir, initial, cost)
            .map_err(|e| ExitError::new(Exit::Unavailable, e.to_string()))?;
        if created {
            ctx.log.info(&format!(
                "created the simulated account with {:.2} cash",
                cfg.account.initial_capital
            ));
        }
        sim
    } else {
        SimBroker::in_memory(initial, cost)
    };
    let tradables = strategy.tradable_symbols();
    let closes = hist.last_closes(&tradables, date);
    let holdings = Holdings {
        // The book as it stands: valued below at the day's closes (the account's own equity
        // needs a quote for every position, which a universe check must come before).
        cash_cents: sim.book.cash_cents,
        positions: sim.book.positions.clone(),
    };
    let account_file = sim_dir.join("account.json");
    let outside = sim.book.check_universe(&cfg.universe());
    if !outside.is_empty() {
        return Err(ExitError::new(
            Exit::Usage,
            format!(
                "{}: {} not in the universe of {} — the account was written for another config",
                account_file.display(),
                outside.join(", "),
                cfg.source_file.display()
            ),
        )
        .into());
    }
    // Checked once here, so the sizing path downstream works on representable amounts.
    if holdings.try_equity_cents(&closes).is_none_or(|e| e < 0) {
        return Err(ExitError::new(
            Exit::Unavailable,
            format!(
                "{}: equity of cash_cents = {} and positions {:?} at the closes of {date} {:?} is not an amount between 0 and {} cents",
                account_file.display(),
                holdings.cash_cents,
                holdings.positions,
                closes,
                crate::money::MAX_CENTS
            ),
        )
        .into());
    }
    let before = || state.equity_history.iter().filter(|p| p.date < date);
    let last_targets = state
        .last_targets
        .as_ref()
        .filter(|t| t.date < date)
        .map(|t| t.weights.clone());
    // Fills come from the paper/live fills ledger; a dry-run account has none of its own.
    let fills = crate::ledger::read_fills(&cfg.paths.ledger_dir.join("fills.parquet"))
        .context("reading the fills ledger")?;
    Ok(Day {
        date,
        returns: CloseReturns::new(&hist),
        history: hist,
        decision,
        tradables,
        closes,
        holdings,
        broker: sim.name().to_string(),
        equity_peak: before().map(|p| p.equity).reduce(f64::max),
        previous_close_equity: before().next_back().map(|p| p.equity),
        last_targets,
        activity: Activity::from_fills(fills.iter().filter(|f| f.date < date)),
    })
}

impl Day {
    /// The decision path's inputs, trading at the day's closes.
    pub fn inputs(&self) -> DayInputs<'_> {
        DayInputs {
            date: self.date,
            decision: &self.decision,
            holdings: &self.holdings,
            valuation_prices: &self.closes,
            trade_prices: &self.closes,
            last_targets: self.last_targets.as_ref(),
            history: &self.history,
            returns: &self.returns,
            equity_peak: self.equity_peak,
            previous_close_equity: self.previous_close_equity,
            orders_already_today: 0,
            activity: &self.activity,
            es_memo: None,
        }
    }

    /// Equity at the day's closes, in cents.
    pub fn equity_cents(&self) -> i64 {
        self.holdings.equity_cents(&self.closes)
    }
}
