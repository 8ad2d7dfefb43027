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

/// The earliest bar date any input may carry: older dates are typos or epoch junk.
pub const FIRST_BAR_DATE: NaiveDate = match NaiveDate::from_ymd_opt(1900, 1, 1) {
    Some(d) => d,
    None => NaiveDate::MIN,
};

impl Bar {
    /// Why this bar cannot be used, or `None`: every price (and the adjusted close) finite
    /// and > 0, high/low bracketing open and close, volume finite and ≥ 0, dividend finite
    /// and ≥ 0, split factor finite and > 0, and the date between [`FIRST_BAR_DATE`] and
    /// `latest` (today in New York: no bar exists for a later date). The one row check that
    /// fetch, CSV import and preflight share.
    pub fn unusable(&self, latest: NaiveDate) -> Option<String> {
        let adj = self.adj_close.map(|a| ("adj_close", a));
        for (name, v) in [
            ("open", self.open),
            ("high", self.high),
            ("low", self.low),
            ("close", self.close),
        ]
        .into_iter()
        .chain(adj)
        {
            if !(v.is_finite() && v > 0.0) {
                return Some(format!("{name} = {v}: must be a finite price > 0"));
            }
        }
        let (top, bottom) = (self.open.max(self.close), self.open.min(self.close));
        if self.high < top || self.low > bottom || self.low > self.high {
            return Some(format!(
                "OHLC inconsistent: open {}, high {}, low {}, close {}",
                self.open, self.high, self.low, self.close
            ));
        }
        if !(self.volume.is_finite() && self.volume >= 0.0) {
            return Some(format!(
                "volume = {}: must be a finite number >= 0",
                self.volume
            ));
        }
        if !(self.dividend.is_finite() && self.dividend >= 0.0) {
            return Some(format!(
                "dividend = {}: must be a finite number >= 0",
                self.dividend
            ));
        }
        if !(self.split_factor.is_finite() && self.split_factor > 0.0) {
            return Some(format!(
                "split factor = {}: must be a finite number > 0",
                self.split_factor
            ));
        }
        if self.date < FIRST_BAR_DATE {
            return Some(format!("date {} is before {FIRST_BAR_DATE}", self.date));
        }
        if self.date > latest {
            return Some(format!(
                "date {} is after today ({latest}, New York)",
                self.date
            ));
        }
        None
    }
}

/// `symbol date: reason` for every unusable bar of a series ([`Bar::unusable`]).
pub fn unusable_bars(symbol: &str, bars: &[Bar], latest: NaiveDate) -> Vec<String> {
    bars.iter()
        .filter_map(|b| {
            b.unusable(latest)
                .map(|why| format!("{symbol} {}: {why}", b.date))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn good() -> Bar {
        Bar {
            date: NaiveDate::from_ymd_opt(2024, 1, 2).expect("date"),
            open: 10.0,
            high: 11.0,
            low: 9.0,
            close: 10.5,
            volume: 100.0,
            adj_close: Some(10.0),
            dividend: 0.0,
            split_factor: 1.0,
            provisional: false,
        }
    }

    #[test]
    fn each_unusable_field_is_named() {
        let today = NaiveDate::from_ymd_opt(2024, 1, 2).expect("date");
        assert_eq!(good().unusable(today), None);
        type Edit = fn(&mut Bar);
        let cases: [(&str, Edit); 12] = [
            ("close = inf", |b| b.close = f64::INFINITY),
            ("close = NaN", |b| b.close = f64::NAN),
            ("open = -1", |b| b.open = -1.0),
            ("adj_close = 0", |b| b.adj_close = Some(0.0)),
            ("OHLC inconsistent", |b| b.high = 10.0),
            ("volume = -1", |b| b.volume = -1.0),
            ("volume = NaN", |b| b.volume = f64::NAN),
            ("dividend = -0.5", |b| b.dividend = -0.5),
            ("split factor = 0", |b| b.split_factor = 0.0),
            ("split factor = -2", |b| b.split_factor = -2.0),
            ("is after today", |b| {
                b.date = NaiveDate::from_ymd_opt(2024, 1, 3).expect("date")
            }),
            ("is before 1900-01-01", |b| {
                b.date = NaiveDate::from_ymd_opt(1899, 12, 29).expect("date")
            }),
        ];
        for (want, edit) in cases {
            let mut b = good();
            edit(&mut b);
            let got = b.unusable(today).unwrap_or_default();
            assert!(got.contains(want), "want {want:?}, got {got:?}");
        }
    }
}
