//! Plain domain values shared by every layer: order sides, order intents, bars.
//!
//! These are data only — no I/O, no clock — so the decision core, the backtest and
//! the daily jobs all speak the same types.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// Which way an order trades.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    Buy,
    Sell,
}

impl Side {
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Buy => "buy",
            Side::Sell => "sell",
        }
    }
}

/// An order the portfolio wants to place: whole shares at a reference price.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderIntent {
    pub symbol: String,
    pub side: Side,
    /// Whole shares, always > 0.
    pub qty: i64,
    /// The price the order was sized at (the decision's close or quote).
    pub ref_price: f64,
}

impl OrderIntent {
    /// Absolute notional at the reference price.
    pub fn notional(&self) -> f64 {
        self.qty as f64 * self.ref_price
    }
}

/// One daily bar of one symbol, keyed by its New York trading date.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bar {
    pub date: NaiveDate,
    pub open: f64,
    pub high: f64,
    pub low: f64,
    pub close: f64,
    pub volume: f64,
    /// Split- and dividend-adjusted close, where the source gives one.
    pub adj_close: Option<f64>,
    /// Cash dividend per share with its ex-date on this bar (0 when none).
    pub dividend: f64,
    /// Split ratio taking effect on this bar (new shares per old share; 1 when none).
    pub split_factor: f64,
    /// True for a bar built from an intraday quote before the official close.
    pub provisional: bool,
}
