//! The durable record of the account and the daily process: `state/state.json`.
//!
//! Versioned schema; positions, cash and equity as last reconciled; last targets and
//! regime; orders in flight; per-date job records (so the next job can check its
//! prerequisites and a person can ask "why didn't this run?"); phase history; the
//! equity history the drawdown rules read. Persistence lives in [`store`], the
//! single-writer lock in [`lock`].

pub mod lock;
pub mod records;
pub mod store;

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::config::Phase;
pub use records::{Colour, DecisionRecord, HaltEvent, ValidationRecord};

/// Bumped on every incompatible change of the layout below.
pub const SCHEMA_VERSION: u32 = 1;

/// How far after the job's clock a recorded time may be (clock skew between hosts) before
/// the state is refused as written by a wrong clock or by hand.
pub const MAX_FUTURE_DAYS: i64 = 1;

/// Tolerance of the target weights' bounds (rounding of a sum of weights).
pub const WEIGHT_EPS: f64 = 1e-9;

/// The largest equity a state may record, in dollars (`money::MAX_CENTS`).
pub const MAX_EQUITY: f64 = crate::money::MAX_CENTS as f64 / 100.0;

/// A number as a person reads it in an error: compact for huge or tiny magnitudes (1e300,
/// not 301 digits).
pub fn show_num(x: f64) -> String {
    if x != 0.0 && x.is_finite() && !(1e-6..1e15).contains(&x.abs()) {
        format!("{x:e}")
    } else {
        format!("{x}")
    }
}

/// A cent amount must be within 0..=MAX_CENTS (no margin account: cash is never negative).
pub fn check_cents(out: &mut Vec<String>, field: &str, v: i64) {
    if !(0..=crate::money::MAX_CENTS).contains(&v) {
        out.push(format!(
            "{field} = {v}: must be between 0 and {} cents",
            crate::money::MAX_CENTS
        ));
    }
}

/// A share count must be within min..=MAX_SHARES.
pub fn check_shares(out: &mut Vec<String>, field: &str, v: i64, min: i64) {
    if !(min..=crate::money::MAX_SHARES).contains(&v) {
        out.push(format!(
            "{field} = {v}: must be between {min} and {} shares",
            crate::money::MAX_SHARES
        ));
    }
}

/// Everything `trader` must remember between runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct State {
    pub schema_version: u32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Incremented by every save; a backup with a higher number is newer.
    pub save_seq: u64,
    /// Positions, cash and equity as last read from (reconciled with) the broker.
    #[serde(default)]
    pub account: Option<AccountSnapshot>,
    /// The targets of the last rebalance (what the rebalance gate compares against).
    #[serde(default)]
    pub last_targets: Option<TargetRecord>,
    /// The regime of the last decision.
    #[serde(default)]
    pub regime: Option<RegimeSummary>,
    /// Orders submitted to a broker whose outcome is not final yet (paper/live).
    #[serde(default)]
    pub orders_in_flight: Vec<InFlightOrder>,
    /// Job results per New York trading date, then per job name.
    #[serde(default)]
    pub jobs: BTreeMap<NaiveDate, BTreeMap<String, JobRecord>>,
    /// Every phase change, oldest first.
    #[serde(default)]
    pub phase_history: Vec<PhaseChange>,
    /// Account equity at each trading run, oldest first (drawdown budget, circuit breaker).
    #[serde(default)]
    pub equity_history: Vec<EquityPoint>,
    /// The decision of each trading date as made (what `validate` compares against).
    #[serde(default)]
    pub decisions: BTreeMap<NaiveDate, DecisionRecord>,
    /// `trader validate` figures per trading date.
    #[serde(default)]
    pub validations: BTreeMap<NaiveDate, ValidationRecord>,
    /// Every `halt` and `resume`, oldest first.
    #[serde(default)]
    pub halts: Vec<HaltEvent>,
    /// Alert deduplication and the undelivered alert queue ([`crate::alert::book`]).
    #[serde(default, skip_serializing_if = "crate::alert::AlertBook::is_empty")]
    pub alerts: crate::alert::AlertBook,
    /// The write-ahead order journal per trading date (paper/live).
    #[serde(default)]
    pub journal: crate::execution::journal::Journal,
    /// Reconciliation mismatches found and accepted, oldest first.
    #[serde(default)]
    pub reconciliations: Vec<crate::execution::reconcile::ReconcileRecord>,
    /// The broker's account id per venue (`paper`, `live`), recorded on first use: a
    /// different account later stops the run (exit 3) instead of being adopted.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub broker_accounts: BTreeMap<String, String>,
    /// The person who confirmed the first live run (`trader live --confirm-first-live`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live_confirmation: Option<LiveConfirmation>,
}

/// Who allowed live trading to start, and when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LiveConfirmation {
    /// The login name.
    pub by: String,
    pub at: DateTime<Utc>,
    /// The trading date of the first live run.
    pub date: NaiveDate,
}

/// Positions and cash at one moment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountSnapshot {
    pub as_of: NaiveDate,
    pub broker: String,
    /// Cash in cents: money arithmetic never drifts.
    pub cash_cents: i64,
    /// Whole shares per symbol.
    pub positions: BTreeMap<String, i64>,
    /// Equity at the decision prices, in cents.
    pub equity_cents: i64,
}

/// The targets of a rebalance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetRecord {
    pub date: NaiveDate,
    pub weights: BTreeMap<String, f64>,
}

/// The strategy's regime on a date, for a person reading the state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegimeSummary {
    pub date: NaiveDate,
    pub cell: Option<u8>,
    pub trend: Option<String>,
    pub vol_state: String,
    pub t_norm: Option<f64>,
    pub z_score: Option<f64>,
}

/// An order sent to a broker whose final outcome is not known yet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InFlightOrder {
    pub client_order_id: String,
    pub date: NaiveDate,
    pub symbol: String,
    pub side: crate::model::Side,
    pub qty: i64,
    pub submitted_at: DateTime<Utc>,
}

/// The outcome of one job on one trading date.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobRecord {
    pub job: String,
    #[serde(default)]
    pub phase: Option<Phase>,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub result: JobResult,
    /// One line a person can read: what happened or what was missing.
    pub detail: String,
    /// The run skipped its preflight prerequisite on purpose (`--skip-preflight`).
    #[serde(default)]
    pub skipped_preflight: bool,
}

/// How a job ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobResult {
    Ok,
    Failed,
    Blocked,
}

/// A change of deployment phase.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PhaseChange {
    pub at: DateTime<Utc>,
    pub phase: Phase,
    pub reason: String,
}

/// Equity at the close of a trading run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EquityPoint {
    pub date: NaiveDate,
    pub equity: f64,
}

impl State {
    /// A brand-new state, created explicitly on a first run.
    pub fn new(now: DateTime<Utc>, phase: Phase) -> State {
        State {
            schema_version: SCHEMA_VERSION,
            created_at: now,
            updated_at: now,
            save_seq: 0,
            account: None,
            last_targets: None,
            regime: None,
            orders_in_flight: Vec::new(),
            jobs: BTreeMap::new(),
            phase_history: vec![PhaseChange {
                at: now,
                phase,
                reason: "state created".into(),
            }],
            equity_history: Vec::new(),
            decisions: BTreeMap::new(),
            validations: BTreeMap::new(),
            halts: Vec::new(),
            alerts: Default::default(),
            journal: Default::default(),
            reconciliations: Vec::new(),
            broker_accounts: BTreeMap::new(),
            live_confirmation: None,
        }
    }

    /// The record of `job` on `date`, if it ran.
    pub fn job(&self, date: NaiveDate, job: &str) -> Option<&JobRecord> {
        self.jobs.get(&date).and_then(|m| m.get(job))
    }

    /// Record (or replace) the outcome of a job on a date.
    /// The detail is scrubbed of known secrets ([`crate::redact`]).
    pub fn record_job(&mut self, date: NaiveDate, mut record: JobRecord) {
        record.detail = crate::redact::scrub_owned(record.detail);
        self.jobs
            .entry(date)
            .or_default()
            .insert(record.job.clone(), record);
    }

    /// Set the equity of a date, replacing an earlier value of the same date.
    pub fn record_equity(&mut self, date: NaiveDate, equity: f64) {
        self.equity_history.retain(|p| p.date != date);
        let at = self.equity_history.partition_point(|p| p.date < date);
        self.equity_history.insert(at, EquityPoint { date, equity });
    }

    /// Semantic checks beyond the JSON shape; each problem names its field and value.
    pub fn check(&self) -> Vec<String> {
        self.check_at(None)
    }

    /// [`Self::check`], plus: no time later than one day after `now` (the job's clock).
    pub fn check_at(&self, now: Option<DateTime<Utc>>) -> Vec<String> {
        let mut out = Vec::new();
        if self.schema_version != SCHEMA_VERSION {
            out.push(format!(
                "schema_version = {}: this trader reads version {SCHEMA_VERSION}",
                self.schema_version
            ));
        }
        if let Some(now) = now {
            let limit = now + chrono::Duration::days(MAX_FUTURE_DAYS);
            for (field, t) in [
                ("created_at", self.created_at),
                ("updated_at", self.updated_at),
            ] {
                if t > limit {
                    out.push(format!(
                        "{field} = {}: later than one day after the clock ({})",
                        t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                        now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                    ));
                }
            }
        }
        if let Some(a) = &self.account {
            check_cents(&mut out, "account.cash_cents", a.cash_cents);
            check_cents(&mut out, "account.equity_cents", a.equity_cents);
            for (sym, qty) in &a.positions {
                check_shares(&mut out, &format!("account.positions.{sym}"), *qty, 0);
            }
        }
        if let Some(t) = &self.last_targets {
            for (sym, w) in &t.weights {
                if !(w.is_finite() && (0.0..=1.0 + WEIGHT_EPS).contains(w)) {
                    out.push(format!(
                        "last_targets.weights.{sym} = {}: must be between 0 and 1",
                        show_num(*w)
                    ));
                }
            }
            let sum: f64 = t.weights.values().sum();
            if sum.is_finite() && sum > 1.0 + WEIGHT_EPS {
                out.push(format!(
                    "last_targets.weights sum to {}: must be at most 1 (the rest is cash)",
                    show_num(sum)
                ));
            }
        }
        for (venue, id) in &self.broker_accounts {
            if !matches!(venue.as_str(), "paper" | "live") || id.trim().is_empty() {
                out.push(format!(
                    "broker_accounts.{venue} = {id:?}: the venue must be paper or live and the id not empty"
                ));
            }
        }
        for (i, o) in self.orders_in_flight.iter().enumerate() {
            check_shares(&mut out, &format!("orders_in_flight[{i}].qty"), o.qty, 1);
        }
        records::check(&self.decisions, &self.validations, &mut out);
        for (i, p) in self.equity_history.iter().enumerate() {
            if !(p.equity.is_finite() && (0.0..=MAX_EQUITY).contains(&p.equity)) {
                out.push(format!(
                    "equity_history[{i}] ({}).equity = {}: must be a finite amount between 0 and {MAX_EQUITY:e}",
                    p.date,
                    show_num(p.equity)
                ));
            }
            if i > 0 && self.equity_history[i - 1].date >= p.date {
                let what = if self.equity_history[i - 1].date == p.date {
                    "duplicates the date before it"
                } else {
                    "is before the date before it"
                };
                out.push(format!(
                    "equity_history[{i}].date = {}: {what} (dates must be strictly ascending)",
                    p.date
                ));
            }
        }
        out
    }

    /// Symbols the state refers to that the config's universe does not hold (positions,
    /// targets, orders in flight): a state written for another config.
    pub fn check_universe(&self, universe: &[String]) -> Vec<String> {
        let known = |s: &str| universe.iter().any(|u| u == s);
        let mut out = Vec::new();
        if let Some(a) = &self.account {
            for (sym, qty) in &a.positions {
                if !known(sym) {
                    out.push(format!("account.positions.{sym} = {qty}"));
                }
            }
        }
        if let Some(t) = &self.last_targets {
            for (sym, w) in &t.weights {
                if !known(sym) {
                    out.push(format!("last_targets.weights.{sym} = {w}"));
                }
            }
        }
        for (i, o) in self.orders_in_flight.iter().enumerate() {
            if !known(&o.symbol) {
                out.push(format!("orders_in_flight[{i}].symbol = {}", o.symbol));
            }
        }
        out
    }
}
