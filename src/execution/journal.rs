//! The write-ahead order journal, kept in the state per trading date.
//!
//! The day's orders are written with status `intended` and the state saved (fsync) before
//! anything is sent; after every broker reply the order is updated and saved. The client
//! order id is deterministic, so a rerun asks the broker by id instead of sending again.
//! New executions of an adopted order are applied to the state's account record in the same
//! save, so the record always equals the last account read plus every fill recorded since.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::broker::{BrokerOrder, ClientOrderId, Execution, OrderStatus};
use crate::model::Side;
use crate::state::AccountSnapshot;

/// Where a journaled order stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JournalStatus {
    /// Planned and saved, not sent.
    Intended,
    /// Being sent; the reply was not seen.
    Submitted,
    /// The broker said the outcome is unknown: look the id up, never send a new one.
    Unknown,
    New,
    PartiallyFilled,
    Filled,
    Canceled,
    Expired,
    Rejected,
    PendingCancel,
}

impl JournalStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            JournalStatus::Intended => "intended",
            JournalStatus::Submitted => "submitted",
            JournalStatus::Unknown => "unknown",
            JournalStatus::New => "new",
            JournalStatus::PartiallyFilled => "partially_filled",
            JournalStatus::Filled => "filled",
            JournalStatus::Canceled => "canceled",
            JournalStatus::Expired => "expired",
            JournalStatus::Rejected => "rejected",
            JournalStatus::PendingCancel => "pending_cancel",
        }
    }

    /// Nothing more will happen to the order.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            JournalStatus::Filled
                | JournalStatus::Canceled
                | JournalStatus::Expired
                | JournalStatus::Rejected
        )
    }
}

impl From<OrderStatus> for JournalStatus {
    fn from(s: OrderStatus) -> Self {
        match s {
            OrderStatus::New => JournalStatus::New,
            OrderStatus::PartiallyFilled => JournalStatus::PartiallyFilled,
            OrderStatus::Filled => JournalStatus::Filled,
            OrderStatus::Canceled => JournalStatus::Canceled,
            OrderStatus::Expired => JournalStatus::Expired,
            OrderStatus::Rejected => JournalStatus::Rejected,
            OrderStatus::PendingCancel => JournalStatus::PendingCancel,
        }
    }
}

/// Which half of the day's execution an order belongs to (sells run first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OrderPhase {
    Sell,
    Buy,
}

/// One order of the day's plan and what became of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JournalOrder {
    pub client_order_id: ClientOrderId,
    pub symbol: String,
    pub side: Side,
    pub qty: i64,
    /// The collar: the marketable limit sent.
    pub limit_price: f64,
    /// The price the decision was sized at (slippage is measured against it).
    pub decision_price: f64,
    pub phase: OrderPhase,
    pub status: JournalStatus,
    #[serde(default)]
    pub broker_order_id: Option<String>,
    #[serde(default)]
    pub filled_qty: i64,
    #[serde(default)]
    pub avg_fill_price: Option<f64>,
    #[serde(default)]
    pub commission_cents: i64,
    /// The executions already applied to the state's account record.
    #[serde(default)]
    pub executions: Vec<Execution>,
    #[serde(default)]
    pub last_error: Option<String>,
    pub updated_at: DateTime<Utc>,
    /// A limit-on-close order (`execution.order_style: close_auction`): it stays pending
    /// through the run and is collected after the close (`trader sync`, `validate`, `eod`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub at_close: bool,
}

/// The journal of one trading date.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DayJournal {
    pub started_at: DateTime<Utc>,
    /// The buys were sized and written (possibly none): a rerun never sizes them again.
    #[serde(default)]
    pub buys_planned: bool,
    pub orders: Vec<JournalOrder>,
}

/// The journal of every date.
pub type Journal = BTreeMap<NaiveDate, DayJournal>;

impl JournalOrder {
    /// A planned order, not sent.
    #[allow(clippy::too_many_arguments)]
    pub fn intended(
        strategy: &str,
        date: NaiveDate,
        symbol: &str,
        side: Side,
        qty: i64,
        limit_price: f64,
        decision_price: f64,
        now: DateTime<Utc>,
    ) -> JournalOrder {
        JournalOrder {
            client_order_id: ClientOrderId::new(strategy, date, symbol, side, 1),
            symbol: symbol.to_string(),
            side,
            qty,
            limit_price,
            decision_price,
            phase: match side {
                Side::Sell => OrderPhase::Sell,
                Side::Buy => OrderPhase::Buy,
            },
            status: JournalStatus::Intended,
            broker_order_id: None,
            filled_qty: 0,
            avg_fill_price: None,
            commission_cents: 0,
            executions: Vec::new(),
            last_error: None,
            updated_at: now,
            at_close: false,
        }
    }

    /// Take the broker's view of the order; the executions not seen before are applied to
    /// `account` (cash and shares). Returns whether anything changed.
    pub fn adopt(
        &mut self,
        b: &BrokerOrder,
        account: &mut AccountSnapshot,
        now: DateTime<Utc>,
    ) -> Result<bool, String> {
        let new: Vec<Execution> = b
            .executions
            .iter()
            .filter(|e| !self.executions.iter().any(|k| k.id == e.id))
            .cloned()
            .collect();
        for e in &new {
            apply_execution(account, &self.symbol, self.side, e)?;
        }
        let status = JournalStatus::from(b.status);
        let changed = !new.is_empty()
            || status != self.status
            || self.broker_order_id.as_deref() != Some(b.broker_order_id.as_str());
        self.executions.extend(new);
        self.status = status;
        self.broker_order_id = Some(b.broker_order_id.clone());
        self.filled_qty = b.filled_qty;
        self.avg_fill_price = b.avg_fill_price;
        self.commission_cents = b.commission_cents;
        if b.status == OrderStatus::Rejected {
            self.last_error = b.reason.clone();
        }
        if changed {
            self.updated_at = now;
        }
        Ok(changed)
    }
}

/// Apply one execution to an account record: shares exact, cash in checked cents
/// (notional at the execution price, commission included).
pub fn apply_execution(
    account: &mut AccountSnapshot,
    symbol: &str,
    side: Side,
    e: &Execution,
) -> Result<(), String> {
    let out = || {
        format!(
            "execution {} of {} {symbol} at {}: amount out of range",
            e.id, e.qty, e.price
        )
    };
    let gross = crate::money::notional_cents(e.qty, e.price).ok_or_else(out)?;
    let delta = match side {
        Side::Buy => gross
            .checked_neg()
            .and_then(|g| g.checked_sub(e.commission_cents)),
        Side::Sell => gross.checked_sub(e.commission_cents),
    }
    .ok_or_else(out)?;
    account.cash_cents = account.cash_cents.checked_add(delta).ok_or_else(out)?;
    let held = account.positions.entry(symbol.to_string()).or_default();
    *held = match side {
        Side::Buy => held.checked_add(e.qty),
        Side::Sell => held.checked_sub(e.qty),
    }
    .ok_or_else(out)?;
    if *held == 0 {
        account.positions.remove(symbol);
    }
    Ok(())
}

/// The collar of a marketable limit order: `pct` percent through the decision price, at
/// broker precision.
pub fn collar(side: Side, decision_price: f64, pct: f64) -> f64 {
    let f = pct / 100.0;
    crate::money::round_price(match side {
        Side::Buy => decision_price * (1.0 + f),
        Side::Sell => decision_price * (1.0 - f),
    })
}

/// Realised slippage of a fill against the decision price, in basis points; positive is
/// adverse (a buy above, a sale below the decision price).
pub fn slippage_bps(side: Side, decision_price: f64, price: f64) -> f64 {
    if decision_price <= 0.0 {
        return 0.0;
    }
    let d = (price - decision_price) / decision_price * 10_000.0;
    match side {
        Side::Buy => d,
        Side::Sell => -d,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account() -> AccountSnapshot {
        AccountSnapshot {
            as_of: NaiveDate::from_ymd_opt(2026, 5, 1).unwrap_or_default(),
            broker: "sim".into(),
            cash_cents: 100_000,
            positions: BTreeMap::new(),
            equity_cents: 100_000,
        }
    }

    fn exec(id: &str, qty: i64, price: f64) -> Execution {
        Execution {
            id: id.into(),
            qty,
            price,
            commission_cents: 5,
            at: DateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn adopting_applies_each_execution_once() {
        let date = NaiveDate::from_ymd_opt(2026, 5, 1).unwrap_or_default();
        let mut j = JournalOrder::intended(
            "t",
            date,
            "QQQ",
            Side::Buy,
            10,
            101.0,
            100.0,
            DateTime::UNIX_EPOCH,
        );
        let mut b = BrokerOrder {
            client_order_id: j.client_order_id.clone(),
            broker_order_id: "sim-1".into(),
            symbol: "QQQ".into(),
            side: Side::Buy,
            qty: 10,
            order_type: Default::default(),
            time_in_force: Default::default(),
            limit_price: Some(101.0),
            filled_qty: 4,
            avg_fill_price: Some(100.0),
            commission_cents: 5,
            status: OrderStatus::PartiallyFilled,
            reason: None,
            executions: vec![exec("e1", 4, 100.0)],
            submitted_at: None,
            updated_at: None,
        };
        let mut a = account();
        assert_eq!(j.adopt(&b, &mut a, DateTime::UNIX_EPOCH), Ok(true));
        assert_eq!(
            (a.cash_cents, a.positions["QQQ"]),
            (100_000 - 40_000 - 5, 4)
        );
        // The same reply again changes nothing.
        assert_eq!(j.adopt(&b, &mut a, DateTime::UNIX_EPOCH), Ok(false));
        assert_eq!(a.positions["QQQ"], 4);
        b.executions.push(exec("e2", 6, 100.5));
        b.status = OrderStatus::Filled;
        assert_eq!(j.adopt(&b, &mut a, DateTime::UNIX_EPOCH), Ok(true));
        assert_eq!(a.positions["QQQ"], 10);
        assert_eq!(a.cash_cents, 100_000 - 40_000 - 5 - 60_300 - 5);
        assert_eq!(j.status, JournalStatus::Filled);
    }

    #[test]
    fn collar_and_slippage() {
        assert_eq!(collar(Side::Buy, 100.0, 1.0), 101.0);
        assert_eq!(collar(Side::Sell, 100.0, 1.0), 99.0);
        assert!((slippage_bps(Side::Buy, 100.0, 100.1) - 10.0).abs() < 1e-9);
        assert!((slippage_bps(Side::Sell, 100.0, 99.9) - 10.0).abs() < 1e-9);
        assert_eq!(slippage_bps(Side::Sell, 0.0, 99.9), 0.0);
    }
}
