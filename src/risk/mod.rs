//! Pre-trade risk and compliance: named rules configured under `risk:`, run in a fixed order.
//!
//! Pure code: everything comes in through [`RiskContext`] (no I/O, no clock). Two phases,
//! because some rules change target weights (orders must then be re-sized by the portfolio code)
//! and others act on the sized orders:
//!
//! **Phase 1, [`check_targets`]** on the target weights (fractions of equity; cash = 1 − Σw):
//! 0. `inputs` (only reported on failure: a non-finite weight is frozen at the current weight),
//! 1. `restricted_symbols` — target set to 0,
//! 2. `stale_data` — target frozen at the current weight,
//! 3. `corporate_action_guard` — target frozen at the current weight,
//! 4. `max_weight_per_symbol` — |w| clipped to the cap,
//! 5. `max_gross_leverage` — non-frozen weights scaled so Σ|w| ≤ limit,
//! 6. `drawdown_budget` — non-frozen weights scaled by the active tier's exposure,
//! 7. `expected_shortfall` — non-frozen weights scaled until the enforced ES ≤ limit (or block),
//! 8. `min_cash_pct` — non-frozen weights scaled so cash ≥ floor (always on; see the config).
//!
//! Freezing comes before the caps so a symbol whose data cannot be trusted is never traded by a
//! later scaling; the caps then scale only the remaining ("free") weights. ES runs after the
//! leverage and drawdown cuts so it measures the portfolio that would actually be held, and the
//! cash floor runs last because every earlier rule only ever adds cash. "Block" in this phase means
//! the rebalance is refused: every target is set to the current weight, so no orders result.
//!
//! **Phase 2, [`check_orders`]** on the sized orders:
//! 0. `inputs` (only on failure: qty ≤ 0 or a non-positive price blocks the order),
//! 1. `daily_loss_circuit_breaker` — buys blocked, sells allowed, a person must be alerted,
//! 2. `restricted_symbols` — buys blocked (sells allowed: they carry out phase 1's exit),
//! 3. `stale_data`, 4. `corporate_action_guard` — buys blocked ("no new buy" for flagged symbols;
//!    a safety belt in case re-sizing still produced a buy),
//! 5. `max_order_notional` — qty cut to whole shares under the limit,
//! 6. `max_adv_participation` — qty cut to the share of the 20-day ADV,
//! 7. `pdt_guard` — blocks an order that would create one day trade too many,
//! 8. `max_orders_per_day` — keeps sells first, then buys, cuts the rest,
//! 9. `wash_sale_warning` — warn only.
//!
//! Blocking rules run before trimming ones so nothing is trimmed that will be dropped anyway, and
//! the order count runs after everything that can remove orders so it cuts as little as possible.
//!
//! Every enabled rule yields at least one [`RuleOutcome`] (a `pass` when it did nothing, unless
//! the context is [`RiskContext::terse`]); disabled rules yield none. `value` and `limit` are in
//! the unit of the rule's config: percent for `_pct` rules, weights and ES; a ratio for
//! leverage; dollars for notional; counts for counts. A value that could not be measured is NaN
//! (serialised as `null` in JSON). Comparisons allow 1e-9 relative (plus 1e-12 absolute) slack
//! so float noise never flips a verdict: a value exactly at its limit passes.

pub mod activity;
pub mod config;
pub mod es;
mod es_memo;
mod es_rule;
mod orders;
mod pdt;
mod returns;
mod snapshot;
mod targets;
mod validate;

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::model::OrderIntent;

pub use config::{ParamError, RiskConfig};
pub use es_memo::EsMemo;
pub use snapshot::{Headroom, RiskSnapshot, risk_snapshot};
pub use targets::{DrawdownState, drawdown_state};

/// Rule ids as they appear in outcomes, the ledger and the config.
pub mod rule {
    /// Malformed inputs (non-finite weights, non-positive quantities or prices).
    pub const INPUTS: &str = "inputs";
    /// Cap on |weight| per symbol.
    pub const MAX_WEIGHT_PER_SYMBOL: &str = "max_weight_per_symbol";
    /// Cap on Σ|weight|.
    pub const MAX_GROSS_LEVERAGE: &str = "max_gross_leverage";
    /// Floor on cash.
    pub const MIN_CASH_PCT: &str = "min_cash_pct";
    /// Cap on one order's notional.
    pub const MAX_ORDER_NOTIONAL: &str = "max_order_notional";
    /// Cap on order shares vs 20-day ADV.
    pub const MAX_ADV_PARTICIPATION: &str = "max_adv_participation";
    /// Cap on orders per day.
    pub const MAX_ORDERS_PER_DAY: &str = "max_orders_per_day";
    /// Restricted list.
    pub const RESTRICTED_SYMBOLS: &str = "restricted_symbols";
    /// Pattern-day-trader guard.
    pub const PDT_GUARD: &str = "pdt_guard";
    /// Expected Shortfall limit.
    pub const EXPECTED_SHORTFALL: &str = "expected_shortfall";
    /// Drawdown tiers.
    pub const DRAWDOWN_BUDGET: &str = "drawdown_budget";
    /// Loss since the previous close.
    pub const DAILY_LOSS_CIRCUIT_BREAKER: &str = "daily_loss_circuit_breaker";
    /// Stale-data freeze.
    pub const STALE_DATA: &str = "stale_data";
    /// Corporate-action freeze.
    pub const CORPORATE_ACTION_GUARD: &str = "corporate_action_guard";
    /// Wash-sale warning.
    pub const WASH_SALE_WARNING: &str = "wash_sale_warning";
}

/// What a rule decided. Ordered by severity (`Pass < Warn < Trim < Block`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Nothing to do.
    Pass,
    /// Noted, nothing changed.
    Warn,
    /// A weight or quantity was reduced.
    Trim,
    /// An order or the rebalance was refused.
    Block,
}

/// One rule's finding, for the ledger and the JSON output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleOutcome {
    /// Rule id (see [`rule`]); borrowed from the id constants, owned when read back.
    pub rule: Cow<'static, str>,
    /// The decision.
    pub verdict: Verdict,
    /// The measured value (NaN when it could not be measured).
    pub value: f64,
    /// The limit it was compared with.
    pub limit: f64,
    /// One line for a human.
    pub message: String,
    /// The symbol concerned, when the finding is about one symbol or order.
    pub symbol: Option<String>,
    /// A person must be alerted (the circuit breaker sets this).
    #[serde(default)]
    pub alert: bool,
}

impl RuleOutcome {
    pub(crate) fn new(
        rule: &'static str,
        verdict: Verdict,
        value: f64,
        limit: f64,
        message: String,
    ) -> Self {
        RuleOutcome {
            rule: Cow::Borrowed(rule),
            verdict,
            value,
            limit,
            message,
            symbol: None,
            alert: false,
        }
    }

    pub(crate) fn sym(mut self, symbol: &str) -> Self {
        self.symbol = Some(symbol.to_string());
        self
    }
}

/// Everything the rules look at. Plain data filled by the caller; the large parts are borrowed
/// (`Cow`) so a backtest can build one per day without copying the book or the price history.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RiskContext<'a> {
    /// Trading date (America/New_York).
    pub date: NaiveDate,
    /// Account equity now, USD.
    pub equity: f64,
    /// Cash now, USD.
    pub cash: f64,
    /// Shares held per symbol.
    pub positions: Cow<'a, BTreeMap<String, i64>>,
    /// Latest price per symbol.
    pub prices: Cow<'a, BTreeMap<String, f64>>,
    /// Daily simple returns per symbol, oldest first, aligned on the last element (most recent).
    pub returns: es::Returns<'a>,
    /// 20-day average daily volume in shares.
    pub adv20: BTreeMap<Cow<'a, str>, f64>,
    /// Highest recorded end-of-day equity before today (the drawdown budget's peak).
    pub equity_peak: Option<f64>,
    /// Equity at the previous close.
    pub previous_close_equity: Option<f64>,
    /// Dates of past day trades (one entry per day trade).
    pub day_trades: Cow<'a, [NaiveDate]>,
    /// Symbols sold at a loss, with the sale date.
    pub recent_loss_sales: Cow<'a, [(String, NaiveDate)]>,
    /// Symbols the data-quality module flags as stale.
    pub stale_symbols: Cow<'a, BTreeSet<String>>,
    /// Symbols with an unexplained corporate action.
    pub corporate_action_symbols: Cow<'a, BTreeSet<String>>,
    /// Orders already placed today.
    pub orders_already_today: usize,
    /// Passing rules are not recorded, and the others are recorded without their messages (a
    /// backtest that writes no risk table and only counts the findings: formatting every
    /// rule's line every day was a third of its run time, and keeping a pass per rule per day
    /// most of its memory). Verdicts, figures and targets are the same either way.
    pub terse: bool,
    /// The run's ES memo: earlier measurements of the same books, carried forward when today's
    /// windows are theirs moved on or grown (a backtest; daily jobs have none). Changes no
    /// figure.
    #[serde(skip)]
    pub es_memo: Option<&'a EsMemo<'a>>,
}

impl RiskContext<'_> {
    /// Current weight of `symbol` (position × price / equity); 0 when not held, `None` when held
    /// but the price or equity is unusable.
    pub fn current_weight(&self, symbol: &str) -> Option<f64> {
        let qty = self.positions.get(symbol).copied().unwrap_or(0);
        if qty == 0 {
            return Some(0.0);
        }
        let price = *self.prices.get(symbol)?;
        let w = qty as f64 * price / self.equity;
        (price.is_finite()
            && price > 0.0
            && self.equity.is_finite()
            && self.equity > 0.0
            && w.is_finite())
        .then_some(w)
    }
}

/// Findings of one phase, in rule order.
pub(crate) struct Findings {
    list: Vec<RuleOutcome>,
    terse: bool,
}

impl Findings {
    fn new(ctx: &RiskContext) -> Self {
        Findings {
            // A full run has one outcome per enabled rule on a quiet day; a terse one has none.
            list: if ctx.terse {
                Vec::new()
            } else {
                Vec::with_capacity(16)
            },
            terse: ctx.terse,
        }
    }

    /// A non-pass outcome; a terse context keeps it without its message (see [`Self::note`]).
    pub(crate) fn push(&mut self, mut outcome: RuleOutcome) {
        if self.terse {
            outcome.message = String::new();
        }
        self.list.push(outcome);
    }

    /// The message of an outcome about to be pushed, built only when it will be kept.
    pub(crate) fn note(&self, msg: impl FnOnce() -> String) -> String {
        if self.terse { String::new() } else { msg() }
    }

    /// A passing rule; recorded (and its message built) only when the context is not terse.
    /// Rules decide "pass" by counting the outcomes they pushed, never after a pass, so leaving
    /// passes out changes nothing else.
    pub(crate) fn pass(
        &mut self,
        id: &'static str,
        value: f64,
        limit: f64,
        msg: impl FnOnce() -> String,
    ) {
        if !self.terse {
            self.list
                .push(RuleOutcome::new(id, Verdict::Pass, value, limit, msg()));
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.list.len()
    }

    pub(crate) fn terse(&self) -> bool {
        self.terse
    }
}

/// Result of phase 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetCheck {
    /// Target weights after the rules (the portfolio code re-sizes orders from these).
    pub adjusted: BTreeMap<String, f64>,
    /// Findings in rule order.
    pub outcomes: Vec<RuleOutcome>,
}

/// Result of phase 2.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderCheck {
    /// Orders that may be placed (possibly with reduced quantities).
    pub approved: Vec<OrderIntent>,
    /// Findings in rule order.
    pub outcomes: Vec<RuleOutcome>,
}

impl TargetCheck {
    /// The most severe verdict (Pass when there are no outcomes).
    pub fn worst(&self) -> Verdict {
        worst(&self.outcomes)
    }
}

impl OrderCheck {
    /// The most severe verdict (Pass when there are no outcomes).
    pub fn worst(&self) -> Verdict {
        worst(&self.outcomes)
    }

    /// True when some rule asks for a person to be alerted.
    pub fn alert_required(&self) -> bool {
        self.outcomes.iter().any(|o| o.alert)
    }
}

fn worst(outcomes: &[RuleOutcome]) -> Verdict {
    outcomes
        .iter()
        .map(|o| o.verdict)
        .max()
        .unwrap_or(Verdict::Pass)
}

/// `value > limit`, with 1e-9 relative (+1e-12 absolute) slack so a value at its limit, up to
/// float noise, passes.
pub(crate) fn exceeds(value: f64, limit: f64) -> bool {
    value > limit + 1e-9 * limit.abs() + 1e-12
}

/// Phase 1: run the target rules in the documented order on `targets` (weights, fractions of
/// equity) and return the adjusted weights with every finding.
pub fn check_targets(
    cfg: &RiskConfig,
    ctx: &RiskContext,
    targets: &BTreeMap<String, f64>,
) -> TargetCheck {
    let (adjusted, outcomes) = check_targets_cow(cfg, ctx, targets);
    TargetCheck {
        adjusted: adjusted.into_owned(),
        outcomes,
    }
}

/// [`check_targets`], handing back `targets` itself when no rule changed a weight.
pub fn check_targets_cow<'t>(
    cfg: &RiskConfig,
    ctx: &RiskContext,
    targets: &'t BTreeMap<String, f64>,
) -> (Cow<'t, BTreeMap<String, f64>>, Vec<RuleOutcome>) {
    let mut book = targets::Book::new(targets);
    let mut out = Findings::new(ctx);
    targets::inputs(ctx, &mut book, &mut out);
    if cfg.restricted_symbols.enabled {
        targets::restricted(&cfg.restricted_symbols, &mut book, &mut out);
    }
    if cfg.stale_data.enabled {
        targets::freeze_flagged(
            rule::STALE_DATA,
            &ctx.stale_symbols,
            ctx,
            &mut book,
            &mut out,
        );
    }
    if cfg.corporate_action_guard.enabled {
        let flagged = &ctx.corporate_action_symbols;
        targets::freeze_flagged(
            rule::CORPORATE_ACTION_GUARD,
            flagged,
            ctx,
            &mut book,
            &mut out,
        );
    }
    if cfg.max_weight_per_symbol.enabled {
        targets::max_weight(cfg.max_weight_per_symbol.limit_pct, &mut book, &mut out);
    }
    if cfg.max_gross_leverage.enabled {
        targets::gross_leverage(cfg.max_gross_leverage.limit, &mut book, &mut out);
    }
    if cfg.drawdown_budget.enabled {
        targets::drawdown(&cfg.drawdown_budget, ctx, &mut book, &mut out);
    }
    if cfg.expected_shortfall.enabled {
        targets::expected_shortfall(&cfg.expected_shortfall, ctx, &mut book, &mut out);
    }
    // Always on (a plain number in the config); at 0 it only forbids negative cash.
    targets::min_cash(cfg.min_cash_pct, &mut book, &mut out);
    (book.w, out.list)
}

/// Phase 2: run the order rules in the documented order and return the approved orders.
pub fn check_orders(cfg: &RiskConfig, ctx: &RiskContext, orders: Vec<OrderIntent>) -> OrderCheck {
    let mut out = Findings::new(ctx);
    let mut live = orders::inputs(orders, &mut out);
    if cfg.daily_loss_circuit_breaker.enabled {
        live = orders::circuit_breaker(
            cfg.daily_loss_circuit_breaker.limit_pct,
            ctx,
            live,
            &mut out,
        );
    }
    if cfg.restricted_symbols.enabled {
        let set = orders::upper_set(&cfg.restricted_symbols.symbols);
        live = orders::block_buys(rule::RESTRICTED_SYMBOLS, &set, "restricted", live, &mut out);
    }
    if cfg.stale_data.enabled {
        let set = orders::upper_set(ctx.stale_symbols.iter());
        live = orders::block_buys(rule::STALE_DATA, &set, "flagged stale", live, &mut out);
    }
    if cfg.corporate_action_guard.enabled {
        let set = orders::upper_set(ctx.corporate_action_symbols.iter());
        let why = "flagged for an unexplained corporate action";
        live = orders::block_buys(rule::CORPORATE_ACTION_GUARD, &set, why, live, &mut out);
    }
    if cfg.max_order_notional.enabled {
        live = orders::max_notional(cfg.max_order_notional.limit, live, &mut out);
    }
    if cfg.max_adv_participation.enabled {
        live = orders::adv_participation(cfg.max_adv_participation.limit_pct, ctx, live, &mut out);
    }
    if cfg.pdt_guard.enabled {
        live = orders::pdt_guard(&cfg.pdt_guard, ctx, live, &mut out);
    }
    if cfg.max_orders_per_day.enabled {
        live = orders::max_orders(cfg.max_orders_per_day.limit, ctx, live, &mut out);
    }
    if cfg.wash_sale_warning.enabled {
        orders::wash_sale(&cfg.wash_sale_warning, ctx, &live, &mut out);
    }
    OrderCheck {
        approved: live,
        outcomes: out.list,
    }
}

#[cfg(test)]
mod tests;
