//! Trading activity the compliance rules need, derived from fills: average cost per symbol,
//! sales at a loss (`wash_sale_warning`) and past day trades (`pdt_guard`). Pure: the backtest
//! feeds it the simulator's fills as they happen; the daily jobs replay the fills ledger.

use std::collections::BTreeMap;

use chrono::NaiveDate;

use crate::model::Side;

/// One executed fill, in the units of the fills ledger.
#[derive(Debug, Clone, PartialEq)]
pub struct FillEvent {
    pub date: NaiveDate,
    pub symbol: String,
    pub side: Side,
    /// Shares, > 0.
    pub qty: i64,
    /// Average fill price, USD per share.
    pub price: f64,
}

/// Positions at average cost, plus the loss sales and day trades seen so far.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Activity {
    /// Shares and total cost (USD) of what is held, per symbol.
    held: BTreeMap<String, (i64, f64)>,
    /// (symbol, date) of every sale below average cost.
    pub loss_sales: Vec<(String, NaiveDate)>,
    /// One date per day trade (a buy and a sell of one symbol on one date).
    pub day_trades: Vec<NaiveDate>,
    /// The date of the latest fill, and what each symbol did on it.
    today: Option<(NaiveDate, BTreeMap<String, Sides>)>,
}

/// One symbol's fills on one date.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Sides {
    bought: bool,
    sold: bool,
    /// Already counted as that date's day trade.
    counted: bool,
}

impl Activity {
    /// Replay `fills` in date order.
    pub fn from_fills<'a>(fills: impl IntoIterator<Item = &'a FillEvent>) -> Activity {
        let mut a = Activity::default();
        for f in fills {
            a.record(f);
        }
        a
    }

    /// Account for one fill (fills arrive in date order). Fills of zero or negative quantity
    /// are ignored.
    pub fn record(&mut self, f: &FillEvent) {
        if f.qty <= 0 || !f.price.is_finite() {
            return;
        }
        let (shares, cost) = self.held.entry(f.symbol.clone()).or_insert((0, 0.0));
        match f.side {
            Side::Buy => {
                *shares += f.qty;
                *cost += f.qty as f64 * f.price;
            }
            Side::Sell => {
                let avg = if *shares > 0 {
                    *cost / *shares as f64
                } else {
                    f.price
                };
                // Compare in cents so that a round trip at the same price is not a "loss".
                if (f.price * 100.0).round() < (avg * 100.0).round() {
                    self.loss_sales.push((f.symbol.clone(), f.date));
                }
                let sold = f.qty.min(*shares);
                *cost -= avg * sold as f64;
                *shares -= sold;
                if *shares == 0 {
                    *cost = 0.0;
                }
            }
        }
        // Only the latest date's sides matter for day trades: a new date starts afresh.
        if self.today.as_ref().is_none_or(|(d, _)| *d != f.date) {
            self.today = Some((f.date, BTreeMap::new()));
        }
        if let Some((_, sides)) = &mut self.today {
            let s = sides.entry(f.symbol.clone()).or_default();
            match f.side {
                Side::Buy => s.bought = true,
                Side::Sell => s.sold = true,
            }
            if s.bought && s.sold && !s.counted {
                s.counted = true;
                self.day_trades.push(f.date);
            }
        }
    }

    /// Average cost per share of `symbol`, if held.
    pub fn average_cost(&self, symbol: &str) -> Option<f64> {
        self.held
            .get(symbol)
            .filter(|(s, _)| *s > 0)
            .map(|(s, c)| c / *s as f64)
    }

    /// Loss sales on or after `since` (the wash-sale window), newest last.
    pub fn loss_sales_since(&self, since: NaiveDate) -> &[(String, NaiveDate)] {
        let from = self.loss_sales.partition_point(|(_, d)| *d < since);
        &self.loss_sales[from..]
    }

    /// Day trades on or after `since`.
    pub fn day_trades_since(&self, since: NaiveDate) -> &[NaiveDate] {
        let from = self.day_trades.partition_point(|d| *d < since);
        &self.day_trades[from..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 3, day).expect("date")
    }
    fn fill(day: u32, sym: &str, side: Side, qty: i64, price: f64) -> FillEvent {
        FillEvent {
            date: d(day),
            symbol: sym.into(),
            side,
            qty,
            price,
        }
    }

    #[test]
    fn average_cost_and_loss_sales() {
        let a = Activity::from_fills(&[
            fill(2, "A", Side::Buy, 10, 100.0),
            fill(3, "A", Side::Buy, 10, 110.0),
        ]);
        assert_eq!(a.average_cost("A"), Some(105.0));
        let mut a = a;
        a.record(&fill(4, "A", Side::Sell, 5, 105.0)); // at cost: no loss
        assert!(a.loss_sales.is_empty());
        a.record(&fill(5, "A", Side::Sell, 5, 104.99)); // one cent below
        assert_eq!(a.loss_sales, vec![("A".to_string(), d(5))]);
        assert_eq!(
            a.average_cost("A"),
            Some(105.0),
            "selling keeps the average"
        );
        a.record(&fill(6, "A", Side::Sell, 10, 120.0));
        assert_eq!(a.average_cost("A"), None);
        assert_eq!(a.loss_sales_since(d(6)), vec![]);
        assert_eq!(a.loss_sales_since(d(5)).len(), 1);
    }

    #[test]
    fn a_buy_and_a_sell_of_one_symbol_on_one_day_is_one_day_trade() {
        let a = Activity::from_fills(&[
            fill(2, "A", Side::Buy, 10, 100.0),
            fill(3, "A", Side::Sell, 5, 101.0),
            fill(3, "A", Side::Buy, 5, 100.0), // day trade on the 3rd
            fill(3, "A", Side::Sell, 5, 102.0), // same symbol, same day: still one
            fill(3, "B", Side::Buy, 5, 10.0),
            fill(4, "B", Side::Sell, 5, 10.0), // overnight: none
        ]);
        assert_eq!(a.day_trades, vec![d(3)]);
        assert_eq!(a.day_trades_since(d(4)), vec![]);
    }
}
