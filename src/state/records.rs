//! Per-date records of #19 kept in the state: the decision as the dry-run (or paper) run
//! made it (targets, decision prices, the holdings it decided from), its validation against
//! the official bars, and the kill-switch history of `halt`/`resume`.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::RegimeSummary;
use crate::config::Phase;

/// A decision as recorded at decision time, so `validate` can recompute it later.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecisionRecord {
    /// The job that decided (`dry-run` or `paper`).
    pub job: String,
    pub phase: Phase,
    pub decided_at: DateTime<Utc>,
    /// Final target weights per tradable (after the risk rules); `None`: not enough history.
    pub targets: Option<BTreeMap<String, f64>>,
    /// The previous rebalance's targets the decision compared against (the rebalance gate).
    #[serde(default)]
    pub previous_targets: Option<BTreeMap<String, f64>>,
    /// The price each tradable was decided and sized at (the last close on or before the date
    /// as the decision saw it: a provisional bar near the close, or the official one).
    pub decision_prices: BTreeMap<String, f64>,
    /// Symbols with an order that day.
    pub traded: Vec<String>,
    /// Cash and positions the decision was made from.
    pub cash_cents: i64,
    pub positions: BTreeMap<String, i64>,
    pub regime: RegimeSummary,
}

/// The colour of a validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Colour {
    Green,
    Yellow,
    Red,
}

impl Colour {
    pub fn as_str(self) -> &'static str {
        match self {
            Colour::Green => "GREEN",
            Colour::Yellow => "YELLOW",
            Colour::Red => "RED",
        }
    }
}

/// The figures of `trader validate` for one date.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValidationRecord {
    pub validated_at: DateTime<Utc>,
    /// Phase of the decision validated (the promotion gates count dry-run days).
    pub phase: Phase,
    pub colour: Colour,
    pub match_pct: f64,
    pub drift_pct: f64,
    /// The symbol of the largest drift (`None`: no traded or held symbol).
    pub drift_symbol: Option<String>,
    pub recorded_regime: RegimeSummary,
    pub official_regime: RegimeSummary,
}

/// One `halt` or `resume`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HaltEvent {
    pub at: DateTime<Utc>,
    /// `halt` or `resume`.
    pub action: String,
    pub reason: String,
    pub who: String,
}

/// Problems of the records, each naming its field (see [`super::State::check`]).
pub fn check(
    decisions: &BTreeMap<NaiveDate, DecisionRecord>,
    validations: &BTreeMap<NaiveDate, ValidationRecord>,
    out: &mut Vec<String>,
) {
    for (date, d) in decisions {
        for (sym, w) in d.targets.iter().flatten() {
            if !(w.is_finite() && (0.0..=1.0 + super::WEIGHT_EPS).contains(w)) {
                out.push(format!(
                    "decisions.{date}.targets.{sym} = {}: must be between 0 and 1",
                    super::show_num(*w)
                ));
            }
        }
        for (sym, p) in &d.decision_prices {
            if !(p.is_finite() && *p > 0.0) {
                out.push(format!(
                    "decisions.{date}.decision_prices.{sym} = {}: must be a positive price",
                    super::show_num(*p)
                ));
            }
        }
        super::check_cents(out, &format!("decisions.{date}.cash_cents"), d.cash_cents);
        for (sym, q) in &d.positions {
            super::check_shares(out, &format!("decisions.{date}.positions.{sym}"), *q, 0);
        }
    }
    for (date, v) in validations {
        for (field, x) in [("match_pct", v.match_pct), ("drift_pct", v.drift_pct)] {
            if !(x.is_finite() && x >= 0.0) {
                out.push(format!(
                    "validations.{date}.{field} = {}: must be a finite percentage",
                    super::show_num(x)
                ));
            }
        }
    }
}
