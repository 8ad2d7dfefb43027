//! The broker interface every adapter implements: account, positions, open orders,
//! quote, submit, order status by client order id, cancel.
//!
//! The execution side knows only this trait; `sim` is the built-in adapter, real
//! brokers (Alpaca, Schwab) translate their APIs to these types and nothing more.

pub mod alpaca;
pub mod sim;
mod sim_book;
mod sim_faults;

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use serde::{Deserialize, Serialize};

use crate::model::Side;

/// Deterministic per (strategy, trading date, symbol, side, attempt): a rerun after a
/// crash looks the id up at the broker instead of sending a second order.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ClientOrderId(pub String);

/// Append `n` in decimal, zero-padded to at least `width` digits (at most 10), without the
/// format machinery.
fn push_decimal(out: &mut String, mut n: u32, width: usize) {
    let mut digits = [b'0'; 10];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    let start = i.min(digits.len().saturating_sub(width));
    out.extend(digits[start..].iter().map(|d| char::from(*d)));
}

impl ClientOrderId {
    pub fn new(strategy: &str, date: NaiveDate, symbol: &str, side: Side, attempt: u32) -> Self {
        use chrono::Datelike;
        let side = side.as_str();
        let (y, m, d) = (date.year(), date.month(), date.day());
        ClientOrderId(if (0..=9999).contains(&y) {
            // `%Y%m%d` spelled digit by digit: no format machinery per order (a backtest
            // makes hundreds).
            let mut id = String::with_capacity(strategy.len() + symbol.len() + 24);
            id.push_str(strategy);
            id.push('-');
            push_decimal(&mut id, y as u32 * 10_000 + m * 100 + d, 8);
            id.push('-');
            id.push_str(symbol);
            id.push('-');
            id.push_str(side);
            id.push('-');
            push_decimal(&mut id, attempt, 1);
            id
        } else {
            format!(
                "{strategy}-{}-{symbol}-{side}-{attempt}",
                date.format("%Y%m%d")
            )
        })
    }
}

/// How the order is priced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderType {
    Market,
    /// Marketable limit: the collar around the decision price.
    #[default]
    Limit,
}

/// How long the order may rest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeInForce {
    #[default]
    Day,
    /// At the close (closing auction).
    Cls,
    /// At the open (opening auction).
    Opg,
    /// Immediate or cancel.
    Ioc,
}

/// An order to send.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderRequest {
    pub client_order_id: ClientOrderId,
    pub symbol: String,
    pub side: Side,
    pub qty: i64,
    /// The collar for a limit order; `None` with [`OrderType::Market`].
    pub limit_price: Option<f64>,
    #[serde(default)]
    pub order_type: OrderType,
    #[serde(default)]
    pub time_in_force: TimeInForce,
}

impl OrderRequest {
    /// A day limit order at `limit_price` (a market order when `None`).
    pub fn day(
        client_order_id: ClientOrderId,
        symbol: &str,
        side: Side,
        qty: i64,
        limit_price: Option<f64>,
    ) -> OrderRequest {
        OrderRequest {
            client_order_id,
            symbol: symbol.to_string(),
            side,
            qty,
            limit_price,
            order_type: if limit_price.is_some() {
                OrderType::Limit
            } else {
                OrderType::Market
            },
            time_in_force: TimeInForce::Day,
        }
    }
}

/// Where an order stands at the broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    /// Accepted, nothing filled yet.
    New,
    PartiallyFilled,
    Filled,
    Canceled,
    /// The time in force ran out.
    Expired,
    Rejected,
    /// A cancel was asked for and is not confirmed yet.
    PendingCancel,
}

impl OrderStatus {
    /// The status as it is serialised (`partially_filled`), for ledgers and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::New => "new",
            OrderStatus::PartiallyFilled => "partially_filled",
            OrderStatus::Filled => "filled",
            OrderStatus::Canceled => "canceled",
            OrderStatus::Expired => "expired",
            OrderStatus::Rejected => "rejected",
            OrderStatus::PendingCancel => "pending_cancel",
        }
    }

    /// Nothing more will happen to the order: no more fills, no cancel needed.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            OrderStatus::Filled
                | OrderStatus::Canceled
                | OrderStatus::Expired
                | OrderStatus::Rejected
        )
    }
}

/// One fill of an order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Execution {
    /// The broker's id of this execution (unique within the order).
    pub id: String,
    pub qty: i64,
    pub price: f64,
    pub commission_cents: i64,
    pub at: DateTime<Utc>,
}

/// An order as the broker knows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BrokerOrder {
    pub client_order_id: ClientOrderId,
    /// The broker's own id (the simulator uses `sim-<n>`).
    #[serde(default)]
    pub broker_order_id: String,
    pub symbol: String,
    pub side: Side,
    pub qty: i64,
    #[serde(default)]
    pub order_type: OrderType,
    #[serde(default)]
    pub time_in_force: TimeInForce,
    #[serde(default)]
    pub limit_price: Option<f64>,
    pub filled_qty: i64,
    pub avg_fill_price: Option<f64>,
    pub commission_cents: i64,
    pub status: OrderStatus,
    pub reason: Option<String>,
    #[serde(default)]
    pub executions: Vec<Execution>,
    #[serde(default)]
    pub submitted_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub updated_at: Option<DateTime<Utc>>,
}

impl BrokerOrder {
    /// Shares not filled yet.
    pub fn remaining(&self) -> i64 {
        (self.qty - self.filled_qty).max(0)
    }
}

/// Cash, buying power and equity as the broker reports them, in cents.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AccountInfo {
    pub cash_cents: i64,
    pub buying_power_cents: i64,
    pub equity_cents: i64,
}

/// Who the account at the broker is and whether it may trade (Alpaca `GET /v2/account`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountStanding {
    /// The broker's account id (or number); recorded in the state on first use, and a
    /// different one later is a reconciliation failure.
    pub account_id: String,
    pub trading_blocked: bool,
    pub account_blocked: bool,
    /// The broker's own word for the account's status (`ACTIVE`), for messages.
    pub status: String,
}

/// The venue's market clock at the moment it was asked (Alpaca `GET /v2/clock`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarketClock {
    pub now: DateTime<Utc>,
    pub is_open: bool,
    pub next_open: DateTime<Utc>,
    pub next_close: DateTime<Utc>,
}

/// One trading session of the venue's calendar, in New York local time (Alpaca
/// `GET /v2/calendar`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct VenueSession {
    pub date: NaiveDate,
    pub open: NaiveTime,
    pub close: NaiveTime,
}

/// Whether a symbol can be traded at the venue now (Alpaca `GET /v2/assets/{symbol}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssetStatus {
    pub symbol: String,
    /// Listed and active at the venue.
    pub active: bool,
    pub tradable: bool,
    /// Trading in it is halted now.
    pub halted: bool,
}

/// A broker call that failed, classified by what the caller may do next.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    /// The broker refused the order; resubmitting the same order would be refused again.
    #[error("{broker}: order for {symbol} rejected: {reason}")]
    Rejected {
        broker: String,
        symbol: String,
        reason: String,
    },
    /// The request did not reach the broker (429, 5xx or a timeout before it was sent): safe
    /// to retry as it is.
    #[error("{broker}: {detail} (retryable)")]
    Retryable { broker: String, detail: String },
    /// The request may have reached the broker (a timeout or a dropped reply after sending):
    /// never resubmit blindly — look the client order id up first.
    #[error("{broker}: outcome unknown: {detail}")]
    OutcomeUnknown { broker: String, detail: String },
    /// The credentials were refused.
    #[error("{broker}: unauthorized: {detail}")]
    Unauthorized { broker: String, detail: String },
    /// The broker could not be reached after the retries.
    #[error("{broker}: unavailable: {detail}")]
    Unavailable { broker: String, detail: String },
    #[error("{broker}: no quote for {symbol}")]
    NoQuote { broker: String, symbol: String },
    /// An answer or a persisted account that cannot be used.
    #[error("{broker}: {message}")]
    Other { broker: String, message: String },
}

/// What every broker adapter offers.
pub trait Broker {
    fn name(&self) -> &str;
    fn account(&mut self) -> Result<AccountInfo, BrokerError>;
    fn positions(&mut self) -> Result<BTreeMap<String, i64>, BrokerError>;
    /// Orders that are not final.
    fn open_orders(&mut self) -> Result<Vec<BrokerOrder>, BrokerError>;
    fn quote(&mut self, symbol: &str) -> Result<f64, BrokerError>;
    /// Submit; submitting an id the broker already knows returns that order as it stands.
    fn submit(&mut self, order: &OrderRequest) -> Result<BrokerOrder, BrokerError>;
    fn order_by_client_id(
        &mut self,
        id: &ClientOrderId,
    ) -> Result<Option<BrokerOrder>, BrokerError>;
    /// Cancel what is left of an order; a final order is left as it is.
    fn cancel(&mut self, id: &ClientOrderId) -> Result<(), BrokerError>;
    /// The account's identity and standing. A venue without accounts (the simulator) is one
    /// account named after itself that is never blocked.
    fn standing(&mut self) -> Result<AccountStanding, BrokerError> {
        Ok(AccountStanding {
            account_id: self.name().to_string(),
            trading_blocked: false,
            account_blocked: false,
            status: "ACTIVE".to_string(),
        })
    }
    /// The venue's market clock; `None` when the venue has none (the simulator follows ours).
    fn clock(&mut self) -> Result<Option<MarketClock>, BrokerError> {
        Ok(None)
    }
    /// The venue's sessions from `from` to `to` inclusive; `None` when it has no calendar.
    fn sessions(
        &mut self,
        _from: NaiveDate,
        _to: NaiveDate,
    ) -> Result<Option<Vec<VenueSession>>, BrokerError> {
        Ok(None)
    }
    /// Whether `symbol` is tradable now; `None` when the venue does not say (the simulator
    /// trades every symbol it has a quote for).
    fn asset(&mut self, _symbol: &str) -> Result<Option<AssetStatus>, BrokerError> {
        Ok(None)
    }
    /// Cancel every open order; returns the ids asked to cancel.
    fn cancel_all(&mut self) -> Result<Vec<ClientOrderId>, BrokerError> {
        let open = self.open_orders()?;
        let mut ids = Vec::with_capacity(open.len());
        for o in open {
            self.cancel(&o.client_order_id)?;
            ids.push(o.client_order_id);
        }
        Ok(ids)
    }
}

#[cfg(test)]
mod tests {
    use super::OrderStatus;

    /// The id spells the date as `%Y%m%d` does.
    #[test]
    fn client_order_ids_spell_the_date_as_chrono_does() {
        for (y, m, d) in [
            (2026, 3, 9),
            (1999, 12, 31),
            (5, 1, 2),
            (12345, 6, 7),
            (-3, 1, 1),
        ] {
            let date = chrono::NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default();
            let id = super::ClientOrderId::new("s", date, "QQQ", crate::model::Side::Buy, 2);
            assert_eq!(id.0, format!("s-{}-QQQ-buy-2", date.format("%Y%m%d")));
        }
        for n in [0, 1, 9, 10, 99, 100, 12_345, u32::MAX] {
            for width in [0, 1, 3, 8, 10] {
                let mut s = String::from("x");
                super::push_decimal(&mut s, n, width);
                assert_eq!(s, format!("x{n:0width$}"));
            }
        }
    }

    /// Ledgers write the status as serde spells it.
    #[test]
    fn status_names_are_the_serialised_ones() {
        use OrderStatus::*;
        for s in [
            New,
            PartiallyFilled,
            Filled,
            Canceled,
            Expired,
            Rejected,
            PendingCancel,
        ] {
            let json = serde_json::to_string(&s).unwrap_or_default();
            assert_eq!(json, format!("\"{}\"", s.as_str()));
        }
    }
}
