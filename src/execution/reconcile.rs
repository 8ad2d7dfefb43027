//! Reconciliation before trading: the broker's positions and cash against the state's
//! account record (which carries every fill recorded since the last account read). Shares
//! must agree exactly, cash within a tolerance; the broker is the source of truth, and
//! `trader reconcile --accept --reason` adopts its view on a person's word.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::ledger::{Col, Table};
use crate::state::AccountSnapshot;

/// One line that differs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Difference {
    /// `cash` or the symbol.
    pub item: String,
    /// The state's value (dollars for cash, shares otherwise).
    pub state: f64,
    pub broker: f64,
}

/// A mismatch found, or one accepted by a person, as the state keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReconcileRecord {
    pub at: DateTime<Utc>,
    pub date: NaiveDate,
    /// `mismatch` (a run stopped) or `accepted` (the broker's view adopted).
    pub outcome: String,
    /// Who accepted (the login name), when accepted.
    #[serde(default)]
    pub by: Option<String>,
    #[serde(default)]
    pub reason: Option<String>,
    pub differences: Vec<Difference>,
}

/// What differs between the state's record and the broker: shares exactly, cash beyond
/// `tolerance_cents`.
pub fn diff(
    state: &AccountSnapshot,
    broker_cash_cents: i64,
    broker_positions: &BTreeMap<String, i64>,
    tolerance_cents: i64,
) -> Vec<Difference> {
    let mut out = Vec::new();
    if (state.cash_cents - broker_cash_cents).abs() > tolerance_cents {
        out.push(Difference {
            item: "cash".into(),
            state: crate::money::dollars(state.cash_cents),
            broker: crate::money::dollars(broker_cash_cents),
        });
    }
    let symbols: std::collections::BTreeSet<&String> = state
        .positions
        .keys()
        .chain(broker_positions.keys())
        .collect();
    for s in symbols {
        let a = state.positions.get(s).copied().unwrap_or(0);
        let b = broker_positions.get(s).copied().unwrap_or(0);
        if a != b {
            out.push(Difference {
                item: s.clone(),
                state: a as f64,
                broker: b as f64,
            });
        }
    }
    out
}

/// The differences as a table a person reads.
pub fn render(diffs: &[Difference]) -> String {
    let mut s = format!(
        "  {:<8} {:>14} {:>14} {:>14}\n",
        "item", "state", "broker", "difference"
    );
    for d in diffs {
        let fmt = |v: f64| {
            if d.item == "cash" {
                format!("{v:.2}")
            } else {
                format!("{v:.0}")
            }
        };
        s.push_str(&format!(
            "  {:<8} {:>14} {:>14} {:>14}\n",
            d.item,
            fmt(d.state),
            fmt(d.broker),
            fmt(d.broker - d.state)
        ));
    }
    s
}

/// Rows of `data/ledger/reconciliations.parquet` for one record.
pub fn ledger_table(r: &ReconcileRecord) -> Table {
    let n = r.differences.len();
    let mut t = Table::default();
    t.push("date", Col::Date(vec![r.date; n]))
        .push(
            "at",
            Col::Str(vec![
                r.at.to_rfc3339_opts(
                    chrono::SecondsFormat::Millis,
                    true
                );
                n
            ]),
        )
        .push("outcome", Col::Str(vec![r.outcome.clone(); n]))
        .push(
            "item",
            Col::Str(r.differences.iter().map(|d| d.item.clone()).collect()),
        )
        .push(
            "state",
            Col::F64(r.differences.iter().map(|d| Some(d.state)).collect()),
        )
        .push(
            "broker",
            Col::F64(r.differences.iter().map(|d| Some(d.broker)).collect()),
        )
        .push("by", Col::Str(vec![r.by.clone().unwrap_or_default(); n]))
        .push(
            "reason",
            Col::Str(vec![r.reason.clone().unwrap_or_default(); n]),
        );
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_exact_cash_within_tolerance() {
        let st = AccountSnapshot {
            as_of: NaiveDate::from_ymd_opt(2026, 5, 1).unwrap_or_default(),
            broker: "sim".into(),
            cash_cents: 10_000,
            positions: BTreeMap::from([("QQQ".to_string(), 5)]),
            equity_cents: 0,
        };
        let pos = BTreeMap::from([("QQQ".to_string(), 5)]);
        assert!(diff(&st, 10_100, &pos, 100).is_empty());
        let d = diff(&st, 10_101, &pos, 100);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].item, "cash");
        let pos2 = BTreeMap::from([("QQQ".to_string(), 4), ("TLT".to_string(), 1)]);
        let d = diff(&st, 10_000, &pos2, 100);
        assert_eq!(
            d.iter().map(|d| d.item.as_str()).collect::<Vec<_>>(),
            ["QQQ", "TLT"]
        );
        assert!(render(&d).contains("QQQ"));
    }
}
