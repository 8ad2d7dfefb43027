//! The broker interface every adapter implements: account, positions, open orders,
//! quote, submit, order status by client order id, cancel.
//!
//! The execution side knows only this trait; `sim` is the built-in adapter, real
//! brokers (Alpaca, Schwab) translate their APIs to these types and nothing more.

pub mod sim;

use std::collections::BTreeMap;

use chrono::NaiveDate;
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

/// An order to send.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderRequest {
    pub client_order_id: ClientOrderId,
    pub symbol: String,
    pub side: Side,
    pub qty: i64,
    /// Marketable limit (the collar); `None` = market.
    pub limit_price: Option<f64>,
}

/// Where an order stands at the broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    New,
    PartiallyFilled,
    Filled,
    Canceled,
    Rejected,
}

impl OrderStatus {
    /// The status as it is serialised (`partially_filled`), for ledgers and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::New => "new",
            OrderStatus::PartiallyFilled => "partially_filled",
            OrderStatus::Filled => "filled",
            OrderStatus::Canceled => "canceled",
            OrderStatus::Rejected => "rejected",
        }
    }
}

/// An order as the broker knows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BrokerOrder {
    pub client_order_id: ClientOrderId,
    pub symbol: String,
    pub side: Side,
    pub qty: i64,
    pub filled_qty: i64,
    pub avg_fill_price: Option<f64>,
    pub commission_cents: i64,
    pub status: OrderStatus,
    pub reason: Option<String>,
}

/// Cash and equity as the broker reports them.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AccountInfo {
    pub cash_cents: i64,
}

/// A broker call that failed.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    #[error("{broker}: no quote for {symbol}")]
    NoQuote { broker: String, symbol: String },
    #[error("{broker}: {message}")]
    Other { broker: String, message: String },
}

/// What every broker adapter offers.
pub trait Broker {
    fn name(&self) -> &str;
    fn account(&mut self) -> Result<AccountInfo, BrokerError>;
    fn positions(&mut self) -> Result<BTreeMap<String, i64>, BrokerError>;
    fn open_orders(&mut self) -> Result<Vec<BrokerOrder>, BrokerError>;
    fn quote(&mut self, symbol: &str) -> Result<f64, BrokerError>;
    /// Submit; submitting an id the broker already knows returns that order unchanged.
    fn submit(&mut self, order: &OrderRequest) -> Result<BrokerOrder, BrokerError>;
    fn order_by_client_id(
        &mut self,
        id: &ClientOrderId,
    ) -> Result<Option<BrokerOrder>, BrokerError>;
    fn cancel(&mut self, id: &ClientOrderId) -> Result<(), BrokerError>;
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
        for s in [New, PartiallyFilled, Filled, Canceled, Rejected] {
            let json = serde_json::to_string(&s).unwrap_or_default();
            assert_eq!(json, format!("\"{}\"", s.as_str()));
        }
    }
}
