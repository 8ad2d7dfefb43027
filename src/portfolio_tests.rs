//! Portfolio construction by hand-computed examples, plus a randomized check that cash is
//! accounted to the cent.

use super::*;

fn map<T: Copy>(pairs: &[(&str, T)]) -> BTreeMap<String, T> {
    pairs.iter().map(|(s, v)| (s.to_string(), *v)).collect()
}

const COST: CostModel = CostModel {
    slippage: 0.001,
    commission_per_share: 0.01,
};

#[test]
fn buys_are_floored_then_scaled_to_keep_the_cash_buffer() {
    let h = Holdings {
        cash_cents: 1_000_000,
        positions: BTreeMap::new(),
    };
    let prices = map(&[("A", 33.33), ("B", 100.0)]);
    // Wanted: A ⌊6000 / 33.33⌋ = 180, B ⌊3500 / 100⌋ = 35, costing (at 33.36 and 100.10 after
    // slippage, 1 ¢ a share) $6,006.60 + $3,503.85 = $9,510.45 > the $9,500 left above the 5 %
    // buffer. Scaled by 9500 / 9510.45 and floored: A 179, B 34 = $5,973.23 + $3,403.74.
    let p = plan_orders(&h, &prices, &map(&[("A", 0.6), ("B", 0.35)]), &COST, 5.0);
    let got: Vec<(&str, Side, i64)> = p
        .orders
        .iter()
        .map(|o| (o.symbol.as_str(), o.side, o.qty))
        .collect();
    assert_eq!(got, [("A", Side::Buy, 179), ("B", Side::Buy, 34)]);
    assert_eq!(p.cash_after_cents, 1_000_000 - 597_323 - 340_374);
    assert_eq!(p.cash_after_cents, 62_303);
    assert!((p.cash_after_pct - 6.2303).abs() < 1e-9);
    assert_eq!(p.shares_after, map(&[("A", 179), ("B", 34)]));
}

#[test]
fn sells_come_first_and_fund_the_buys() {
    let h = Holdings {
        cash_cents: 0,
        positions: map(&[("A", 100)]),
    };
    let prices = map(&[("A", 50.0), ("B", 20.0)]);
    // Selling A at 49.95 less $1 leaves $4,994; B at 20.02 + 1 ¢: 250 shares would cost
    // $5,007.50, so 249 ($4,987.47) are bought and $6.53 stays cash.
    let p = plan_orders(&h, &prices, &map(&[("B", 1.0)]), &COST, 0.0);
    let got: Vec<(&str, Side, i64)> = p
        .orders
        .iter()
        .map(|o| (o.symbol.as_str(), o.side, o.qty))
        .collect();
    assert_eq!(got, [("A", Side::Sell, 100), ("B", Side::Buy, 249)]);
    assert_eq!(p.cash_after_cents, 653);
    assert_eq!(p.shares_after, map(&[("B", 249)]));
}

#[test]
fn a_held_symbol_without_a_price_is_kept() {
    let h = Holdings {
        cash_cents: 100_000,
        positions: map(&[("X", 7)]),
    };
    let p = plan_orders(&h, &map(&[("A", 10.0)]), &map(&[("A", 0.5)]), &COST, 0.0);
    assert_eq!(p.shares_after.get("X"), Some(&7));
    assert!(p.orders.iter().all(|o| o.symbol != "X"));
}

/// Random books, prices and targets: cash after the plan is the starting cash plus each
/// order's cash move to the cent, sells precede buys, no order is empty, the buffer holds
/// whenever the sells leave enough cash for it, and shares after are the holdings moved by
/// the orders.
#[test]
fn cash_is_accounted_to_the_cent() {
    let mut rng = crate::test_rng::XorShift::new(0x2545_f491_4f6c_dd1d);
    let mut next = |n: u64| rng.below(n);
    let syms = ["A", "B", "C", "D"];
    for _ in 0..2000 {
        let prices: BTreeMap<String, f64> = syms
            .iter()
            .map(|s| (s.to_string(), (1 + next(50_000)) as f64 / 100.0))
            .collect();
        let mut positions = BTreeMap::new();
        for s in syms {
            if next(2) == 0 {
                positions.insert(s.to_string(), next(300) as i64);
            }
        }
        let h = Holdings {
            cash_cents: next(5_000_000) as i64,
            positions,
        };
        let mut left = 1.0;
        let mut targets = BTreeMap::new();
        for s in syms {
            if next(3) > 0 {
                let w = left * next(100) as f64 / 100.0;
                left -= w;
                targets.insert(s.to_string(), w);
            }
        }
        let min_cash = next(10) as f64;
        let p = plan_orders(&h, &prices, &targets, &COST, min_cash);
        let moved: i64 = p
            .orders
            .iter()
            .map(|o| COST.cash_delta_cents(o.side, o.qty, o.ref_price))
            .sum();
        assert_eq!(p.cash_after_cents, h.cash_cents + moved);
        let first_buy = p.orders.iter().position(|o| o.side == Side::Buy);
        let last_sell = p.orders.iter().rposition(|o| o.side == Side::Sell);
        assert!(first_buy.is_none() || last_sell.is_none() || last_sell < first_buy);
        assert!(p.orders.iter().all(|o| o.qty > 0));
        let sells: i64 = p
            .orders
            .iter()
            .filter(|o| o.side == Side::Sell)
            .map(|o| COST.cash_delta_cents(o.side, o.qty, o.ref_price))
            .sum();
        let floor =
            money::try_cents(money::dollars(p.equity_cents) * min_cash / 100.0).expect("in range");
        if h.cash_cents + sells >= floor {
            assert!(p.cash_after_cents >= floor, "{p:?}");
        }
        let mut after = h.positions.clone();
        for o in &p.orders {
            let q = after.entry(o.symbol.clone()).or_default();
            *q += if o.side == Side::Buy { o.qty } else { -o.qty };
        }
        after.retain(|_, q| *q != 0);
        assert_eq!(after, p.shares_after);
    }
}

#[test]
fn gate_reasons_read_as_one_line() {
    let new = map(&[("A", 0.6), ("B", 0.4)]);
    let none = BTreeMap::new();
    let g = rebalance_gate(&new, None, &none, 0.05, None);
    assert!(g.rebalance);
    assert_eq!(g.reason.to_string(), "no previous targets");
    let last = map(&[("A", 0.5), ("B", 0.5)]);
    let g = rebalance_gate(&new, Some(&last), &none, 0.05, None);
    assert!(g.rebalance && (g.weight_change - 0.2).abs() < 1e-12);
    assert_eq!(g.reason.to_string(), "targets changed by 0.200 > 0.05");
    let g = rebalance_gate(&new, Some(&new), &none, 0.05, None);
    assert!(!g.rebalance);
    assert_eq!(
        serde_json::to_value(&g)
            .ok()
            .and_then(|v| v["reason"].as_str().map(String::from)),
        Some("targets changed by 0.000 <= 0.05: hold".to_string())
    );
    let actual = map(&[("A", 0.52), ("B", 0.48)]);
    let g = rebalance_gate(&new, Some(&new), &actual, 0.05, Some(5.0));
    assert!(g.rebalance);
    assert_eq!(
        g.reason.to_string(),
        "A drifted -8.0 pp from target (limit 5)"
    );
}

/// Weight change by definition: each new symbol against the old weight (0 if absent), then
/// each symbol only the old map has.
fn weight_change_by_lookup(new: &BTreeMap<String, f64>, old: &BTreeMap<String, f64>) -> f64 {
    let mut total = 0.0;
    for (s, w) in new {
        total += (w - old.get(s).copied().unwrap_or(0.0)).abs();
    }
    for (_, w) in old.iter().filter(|(s, _)| !new.contains_key(*s)) {
        total += w.abs();
    }
    total
}

/// The side-by-side walk over maps with the same symbols gives the definition's figure to
/// the bit, and maps with different symbols still count every symbol of both.
#[test]
fn weight_change_is_the_definition_to_the_bit() {
    let mut rng = crate::test_rng::XorShift::new(0x9e37_79b9_7f4a_7c15);
    let mut next = |n: u64| rng.below(n);
    let symbols = ["QQQ", "TLT", "TMF", "TMV", "TQQQ", "PSQ"];
    let mut draw = |keep_all: bool| -> BTreeMap<String, f64> {
        let mut m = BTreeMap::new();
        for s in symbols {
            if keep_all || next(3) > 0 {
                m.insert(s.to_string(), next(10_001) as f64 / 10_000.0 - 0.2);
            }
        }
        m
    };
    for round in 0..2000 {
        let same_keys = round % 2 == 0;
        let (new, old) = (draw(same_keys), draw(same_keys));
        let got = weight_change(&new, &old);
        assert_eq!(
            got.to_bits(),
            weight_change_by_lookup(&new, &old).to_bits(),
            "{new:?} {old:?}"
        );
    }
    let (a, b) = (map(&[("A", 0.5)]), map(&[("B", 0.25)]));
    assert_eq!(weight_change(&a, &b), 0.75);
}
