//! Phase-2 rules at their boundaries (just under, at, just over the limit).

use super::super::tests::{ctx, day};
use super::super::{OrderCheck, RiskConfig, check_orders, rule};
use super::*;

fn o(sym: &str, side: Side, qty: i64, px: f64) -> OrderIntent {
    OrderIntent {
        symbol: sym.into(),
        side,
        qty,
        ref_price: px,
    }
}

fn verdicts(r: &OrderCheck, id: &str) -> Vec<Verdict> {
    r.outcomes
        .iter()
        .filter(|o| o.rule == id)
        .map(|o| o.verdict)
        .collect()
}

fn qtys(r: &OrderCheck) -> Vec<(String, i64)> {
    r.approved
        .iter()
        .map(|o| (o.symbol.clone(), o.qty))
        .collect()
}

#[test]
fn circuit_breaker_blocks_buys_allows_sells_and_alerts() {
    let cfg = RiskConfig::default();
    let mut c = ctx();
    c.previous_close_equity = Some(100_000.0);
    let orders = vec![
        o("A", Side::Sell, 10, 100.0),
        o("B", Side::Buy, 10, 100.0),
        o("C", Side::Sell, 5, 100.0),
    ];
    // 4.999 % and exactly 5 %: pass; 5.001 %: tripped.
    for (eq, tripped) in [(95_001.0, false), (95_000.0, false), (94_999.0, true)] {
        c.equity = eq;
        let r = check_orders(&cfg, &c, orders.clone());
        assert_eq!(r.alert_required(), tripped, "equity {eq}");
        let syms: Vec<&str> = r.approved.iter().map(|o| o.symbol.as_str()).collect();
        if tripped {
            assert_eq!(syms, ["A", "C"]);
            assert_eq!(
                verdicts(&r, rule::DAILY_LOSS_CIRCUIT_BREAKER),
                [Verdict::Block, Verdict::Block]
            );
        } else {
            assert_eq!(syms, ["A", "B", "C"]);
            assert_eq!(
                verdicts(&r, rule::DAILY_LOSS_CIRCUIT_BREAKER),
                [Verdict::Pass]
            );
        }
    }
    // No previous close (first day): nothing to compare, pass.
    c.previous_close_equity = None;
    assert_eq!(check_orders(&cfg, &c, orders).approved.len(), 3);
}

#[test]
fn restricted_stale_and_corporate_action_block_buys_only() {
    let mut cfg = RiskConfig::default();
    cfg.restricted_symbols.symbols = vec!["a".into()];
    let mut c = ctx();
    c.stale_symbols.to_mut().insert("B".into());
    c.corporate_action_symbols.to_mut().insert("C".into());
    let mut orders = Vec::new();
    for s in ["A", "B", "C"] {
        orders.push(o(s, Side::Buy, 1, 100.0));
        orders.push(o(s, Side::Sell, 1, 100.0));
    }
    let r = check_orders(&cfg, &c, orders);
    assert!(r.approved.iter().all(|o| o.side == Side::Sell) && r.approved.len() == 3);
    for id in [
        rule::RESTRICTED_SYMBOLS,
        rule::STALE_DATA,
        rule::CORPORATE_ACTION_GUARD,
    ] {
        assert_eq!(verdicts(&r, id), [Verdict::Block], "{id}");
    }
}

#[test]
fn max_order_notional_trims_to_whole_shares() {
    let mut cfg = RiskConfig::default();
    cfg.max_order_notional.limit = 10_000.0;
    for (q, v, out) in [
        (99, Verdict::Pass, 99),
        (100, Verdict::Pass, 100),
        (101, Verdict::Trim, 100),
    ] {
        let r = check_orders(&cfg, &ctx(), vec![o("A", Side::Buy, q, 100.0)]);
        assert_eq!(verdicts(&r, rule::MAX_ORDER_NOTIONAL), [v], "qty {q}");
        assert_eq!(qtys(&r), [("A".to_string(), out)]);
    }
    // 10 000 / 33.33 = 300.03 → 300 shares, on a sell too.
    let r = check_orders(&cfg, &ctx(), vec![o("A", Side::Sell, 1000, 33.33)]);
    assert_eq!(qtys(&r), [("A".to_string(), 300)]);
    // Not even one share fits: blocked.
    let r = check_orders(&cfg, &ctx(), vec![o("A", Side::Buy, 1, 10_000.01)]);
    assert!(r.approved.is_empty());
    assert_eq!(verdicts(&r, rule::MAX_ORDER_NOTIONAL), [Verdict::Block]);
}

#[test]
fn adv_participation_trims_and_blocks_without_volume() {
    let cfg = RiskConfig::default(); // 5 %
    let mut c = ctx();
    c.adv20.insert("A".into(), 1_000.0); // 50 shares allowed
    for (q, v, out) in [
        (49, Verdict::Pass, 49),
        (50, Verdict::Pass, 50),
        (51, Verdict::Trim, 50),
    ] {
        let r = check_orders(&cfg, &c, vec![o("A", Side::Buy, q, 10.0)]);
        assert_eq!(verdicts(&r, rule::MAX_ADV_PARTICIPATION), [v], "qty {q}");
        assert_eq!(qtys(&r), [("A".to_string(), out)]);
    }
    c.adv20.remove("A");
    c.adv20.insert("B".into(), 10.0); // 0.5 share: nothing fits
    let r = check_orders(
        &cfg,
        &c,
        vec![o("A", Side::Buy, 1, 10.0), o("B", Side::Buy, 1, 10.0)],
    );
    assert!(r.approved.is_empty());
    assert_eq!(
        verdicts(&r, rule::MAX_ADV_PARTICIPATION),
        [Verdict::Block, Verdict::Block]
    );
}

#[test]
fn pdt_window_is_five_business_days() {
    assert_eq!(window_start(day(2026, 3, 10), 5), day(2026, 3, 4)); // Tue → previous Wed
    assert_eq!(window_start(day(2026, 3, 13), 5), day(2026, 3, 9)); // Fri → Mon
    assert_eq!(window_start(day(2026, 3, 10), 1), day(2026, 3, 10));
}

#[test]
fn pdt_guard_blocks_the_fourth_day_trade() {
    let cfg = RiskConfig::default();
    let mut c = ctx();
    // Selling X and buying it back the same day is a day trade; A is a plain buy.
    let round_trip = vec![
        o("X", Side::Sell, 1, 100.0),
        o("A", Side::Buy, 1, 100.0),
        o("X", Side::Buy, 1, 100.0),
    ];
    // 3 Mar is outside the window ending Tue 10 Mar; 4, 6 and 9 Mar are inside.
    let inside = [day(2026, 3, 4), day(2026, 3, 6), day(2026, 3, 9)];
    for (past, equity, verdict, approved) in [
        (2, 24_999.99, Verdict::Warn, 3), // makes day trade 3: at the limit, allowed
        (3, 24_999.99, Verdict::Block, 2), // would make the 4th: blocked
        (3, 25_000.0, Verdict::Pass, 3),  // not under 25 000: guard inactive
    ] {
        c.equity = equity;
        c.day_trades = inside[..past].to_vec().into();
        c.day_trades.to_mut().push(day(2026, 3, 3));
        let r = check_orders(&cfg, &c, round_trip.clone());
        assert_eq!(
            verdicts(&r, rule::PDT_GUARD),
            [verdict],
            "past {past}, equity {equity}"
        );
        assert_eq!(r.approved.len(), approved);
        if verdict == Verdict::Block {
            // The order completing the round trip is the one refused; the sell goes out.
            assert_eq!(qtys(&r), [("X".to_string(), 1), ("A".to_string(), 1)]);
            assert_eq!(r.approved[0].side, Side::Sell);
        }
    }
}

#[test]
fn max_orders_keeps_sells_first() {
    let cfg = RiskConfig::default(); // 20 per day
    let mut c = ctx();
    let orders = vec![
        o("A", Side::Buy, 1, 100.0),
        o("B", Side::Sell, 1, 100.0),
        o("C", Side::Buy, 1, 100.0),
        o("D", Side::Sell, 1, 100.0),
    ];
    for (already, kept, cut) in [
        (15, 4, 0),
        (16, 4, 0),
        (17, 3, 1),
        (18, 2, 2),
        (19, 1, 3),
        (20, 0, 4),
    ] {
        c.orders_already_today = already;
        let r = check_orders(&cfg, &c, orders.clone());
        assert_eq!(r.approved.len(), kept, "already {already}");
        let blocks = verdicts(&r, rule::MAX_ORDERS_PER_DAY)
            .iter()
            .filter(|v| **v == Verdict::Block)
            .count();
        assert_eq!(blocks, cut);
        let sells = r.approved.iter().filter(|o| o.side == Side::Sell).count();
        assert_eq!(sells, kept.min(2), "sells are kept before buys");
    }
    c.orders_already_today = 17;
    let r = check_orders(&cfg, &c, orders);
    let syms: Vec<&str> = r.approved.iter().map(|o| o.symbol.as_str()).collect();
    assert_eq!(
        syms,
        ["A", "B", "D"],
        "first buy kept, original order preserved"
    );
}

#[test]
fn wash_sale_warns_within_thirty_days_and_never_blocks() {
    let cfg = RiskConfig::default();
    let mut c = ctx();
    for (sold, warn) in [
        (day(2026, 2, 8), true),
        (day(2026, 2, 7), false),
        (day(2026, 3, 10), true),
    ] {
        // 10 Mar − 8 Feb = 30 days (warn), 31 days (no), same day (warn).
        c.recent_loss_sales = vec![("A".into(), sold), ("B".into(), sold)].into();
        let r = check_orders(
            &cfg,
            &c,
            vec![o("A", Side::Buy, 1, 100.0), o("B", Side::Sell, 1, 100.0)],
        );
        assert_eq!(r.approved.len(), 2);
        let v = if warn { Verdict::Warn } else { Verdict::Pass };
        assert_eq!(verdicts(&r, rule::WASH_SALE_WARNING), [v], "sold {sold}");
    }
}

#[test]
fn malformed_orders_are_blocked_by_inputs() {
    let r = check_orders(
        &RiskConfig::default(),
        &ctx(),
        vec![
            o("A", Side::Buy, 0, 100.0),
            o("B", Side::Buy, 1, f64::NAN),
            o("C", Side::Buy, 1, 100.0),
        ],
    );
    assert_eq!(verdicts(&r, rule::INPUTS), [Verdict::Block, Verdict::Block]);
    assert_eq!(qtys(&r), [("C".to_string(), 1)]);
}
