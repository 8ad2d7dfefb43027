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

#[cfg(test)]
mod tests {
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
