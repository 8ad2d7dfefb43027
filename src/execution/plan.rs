//! Turning the day's decision into journal orders: the sells as decided, the buys sized
//! again from the cash the broker reports once the sells are done, through the one sizing
//! rule of [`crate::portfolio::plan_orders`] (whole shares, `risk.min_cash_pct` kept). A buy
//! never exceeds what the decision path (with its order rules) planned for the symbol.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDate, Utc};

use super::journal::{JournalOrder, collar};
use crate::model::{OrderIntent, Side};
use crate::portfolio::{CostModel, Holdings, plan_orders};

/// The journal orders of the decided sells.
pub fn sells(
    strategy: &str,
    date: NaiveDate,
    orders: &[OrderIntent],
    collar_pct: f64,
    now: DateTime<Utc>,
) -> Vec<JournalOrder> {
    orders
        .iter()
        .filter(|o| o.side == Side::Sell)
        .map(|o| {
            let limit = collar(o.side, o.ref_price, collar_pct);
            JournalOrder::intended(
                strategy,
                date,
                &o.symbol,
                o.side,
                o.qty,
                limit,
                o.ref_price,
                now,
            )
        })
        .collect()
}

/// What the buys are sized from.
pub struct BuyInputs<'a> {
    /// The broker's account after the sells.
    pub holdings: &'a Holdings,
    pub prices: &'a BTreeMap<String, f64>,
    pub targets: &'a BTreeMap<String, f64>,
    /// Symbols whose sale did not fill completely: left out of the sizing (neither valued
    /// nor traded), so no buy counts on proceeds that did not come.
    pub unsold: &'a BTreeSet<String>,
    pub cost: &'a CostModel,
    pub min_cash_pct: f64,
}

/// The journal orders of the buys: each decided buy capped at what the broker's cash buys.
pub fn buys(
    strategy: &str,
    date: NaiveDate,
    decided: &[OrderIntent],
    inp: &BuyInputs,
    collar_pct: f64,
    now: DateTime<Utc>,
) -> Vec<JournalOrder> {
    let prices: BTreeMap<String, f64> = inp
        .prices
        .iter()
        .filter(|(s, _)| !inp.unsold.contains(*s))
        .map(|(s, p)| (s.clone(), *p))
        .collect();
    let plan = plan_orders(
        inp.holdings,
        &prices,
        inp.targets,
        inp.cost,
        inp.min_cash_pct,
    );
    decided
        .iter()
        .filter(|o| o.side == Side::Buy)
        .filter_map(|o| {
            let affordable = plan
                .orders
                .iter()
                .find(|p| p.side == Side::Buy && p.symbol == o.symbol)
                .map_or(0, |p| p.qty);
            let qty = o.qty.min(affordable);
            (qty > 0).then(|| {
                let limit = collar(Side::Buy, o.ref_price, collar_pct);
                JournalOrder::intended(
                    strategy,
                    date,
                    &o.symbol,
                    Side::Buy,
                    qty,
                    limit,
                    o.ref_price,
                    now,
                )
            })
        })
        .collect()
}

/// The part of the account the strategy trades: its positions and as much of the cash as
/// makes its equity `fraction` of the account's at `prices` (all of it at 1; never more cash
/// than there is, never less than none).
pub fn sleeve(h: &Holdings, prices: &BTreeMap<String, f64>, fraction: f64) -> Holdings {
    if fraction >= 1.0 {
        return h.clone();
    }
    let equity = h.equity_cents(prices);
    let held = equity.saturating_sub(h.cash_cents);
    // One multiplication of a whole-cent amount, floored: the sleeve never exceeds it.
    let target = (equity as f64 * fraction.max(0.0)).floor() as i64;
    Holdings {
        cash_cents: target.saturating_sub(held).clamp(0, h.cash_cents.max(0)),
        positions: h.positions.clone(),
    }
}

/// The account once the journaled sells have filled at their decision prices: what the buys
/// of a close-auction day are sized from (the sells fill at the close too, after the run).
pub fn after_sells(h: &Holdings, orders: &[JournalOrder], cost: &CostModel) -> Holdings {
    let mut out = h.clone();
    for o in orders
        .iter()
        .filter(|o| o.side == Side::Sell && !o.status.is_final())
    {
        let proceeds = cost.cash_delta_cents(Side::Sell, o.qty, o.decision_price);
        out.cash_cents = out.cash_cents.saturating_add(proceeds);
        if let Some(q) = out.positions.get_mut(&o.symbol) {
            *q -= o.qty;
            if *q <= 0 {
                out.positions.remove(&o.symbol);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_sleeve_is_the_fraction_of_equity_and_sells_count_at_the_decision_price() {
        let prices = BTreeMap::from([("QQQ".to_string(), 100.0)]);
        let h = Holdings {
            cash_cents: 1_000_000,
            positions: BTreeMap::from([("QQQ".to_string(), 10)]),
        };
        // Equity 11,000: a quarter is 2,750, 1,000 of it in QQQ, so 1,750 cash.
        assert_eq!(sleeve(&h, &prices, 0.25).cash_cents, 175_000);
        assert_eq!(sleeve(&h, &prices, 1.0), h);
        // Holding more than the fraction: no cash at all.
        assert_eq!(sleeve(&h, &prices, 0.05).cash_cents, 0);
        let date = NaiveDate::from_ymd_opt(2026, 5, 1).unwrap_or_default();
        let sell = JournalOrder::intended(
            "t",
            date,
            "QQQ",
            Side::Sell,
            4,
            99.0,
            100.0,
            DateTime::UNIX_EPOCH,
        );
        let a = after_sells(&h, &[sell], &CostModel::default());
        assert_eq!((a.cash_cents, a.positions["QQQ"]), (1_040_000, 6));
    }

    use super::*;

    #[test]
    fn buys_are_capped_by_the_brokers_cash_and_the_decision() {
        let date = NaiveDate::from_ymd_opt(2026, 5, 1).unwrap_or_default();
        let prices = BTreeMap::from([("QQQ".to_string(), 100.0), ("TLT".to_string(), 50.0)]);
        let targets = BTreeMap::from([("QQQ".to_string(), 0.5), ("TLT".to_string(), 0.5)]);
        let decided = vec![
            OrderIntent {
                symbol: "QQQ".into(),
                side: Side::Buy,
                qty: 50,
                ref_price: 100.0,
            },
            OrderIntent {
                symbol: "TLT".into(),
                side: Side::Buy,
                qty: 10,
                ref_price: 50.0,
            },
        ];
        let cost = CostModel::default();
        // 10,000 cash: QQQ 50 affordable, TLT 100 affordable but capped at the decided 10.
        let h = Holdings {
            cash_cents: 1_000_000,
            positions: BTreeMap::new(),
        };
        let none = BTreeSet::new();
        let inp = BuyInputs {
            holdings: &h,
            prices: &prices,
            targets: &targets,
            unsold: &none,
            cost: &cost,
            min_cash_pct: 0.0,
        };
        let b = buys("t", date, &decided, &inp, 1.0, DateTime::UNIX_EPOCH);
        assert_eq!(
            b.iter()
                .map(|o| (o.symbol.as_str(), o.qty))
                .collect::<Vec<_>>(),
            [("QQQ", 50), ("TLT", 10)]
        );
        assert_eq!(b[0].limit_price, 101.0);
        // Half the cash (a sale that filled less) and 10 % kept as cash.
        let h = Holdings {
            cash_cents: 500_000,
            positions: BTreeMap::new(),
        };
        let inp = BuyInputs {
            holdings: &h,
            min_cash_pct: 10.0,
            ..inp
        };
        let b = buys("t", date, &decided, &inp, 1.0, DateTime::UNIX_EPOCH);
        let spent: f64 = b.iter().map(|o| o.qty as f64 * o.decision_price).sum();
        assert!(spent <= 4_500.0, "{spent}");
        // plan_orders scales both wishes (25 QQQ + 50 TLT = 5,000) to the 4,500 budget: 22 and
        // 45, then TLT is capped at the decided 10.
        assert_eq!((b[0].qty, b[1].qty), (22, 10));
    }
}
