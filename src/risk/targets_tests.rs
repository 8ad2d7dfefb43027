//! Phase-1 rules at their boundaries (just under, at, just over the limit).

use super::super::tests::{close, ctx, fat, w};
use super::super::{RiskConfig, Verdict, check_targets, es, rule};
use super::*;

fn verdict_of(outcomes: &[RuleOutcome], id: &str) -> Vec<Verdict> {
    outcomes
        .iter()
        .filter(|o| o.rule == id)
        .map(|o| o.verdict)
        .collect()
}

/// Only the one rule under test enabled.
fn only(id: &str) -> RiskConfig {
    let mut c = RiskConfig::default();
    c.restricted_symbols.enabled = id == rule::RESTRICTED_SYMBOLS;
    c.stale_data.enabled = id == rule::STALE_DATA;
    c.corporate_action_guard.enabled = id == rule::CORPORATE_ACTION_GUARD;
    c.max_weight_per_symbol.enabled = id == rule::MAX_WEIGHT_PER_SYMBOL;
    c.max_gross_leverage.enabled = id == rule::MAX_GROSS_LEVERAGE;
    c.drawdown_budget.enabled = id == rule::DRAWDOWN_BUDGET;
    c.expected_shortfall.enabled = id == rule::EXPECTED_SHORTFALL;
    c
}

#[test]
fn max_weight_boundaries() {
    let mut cfg = only(rule::MAX_WEIGHT_PER_SYMBOL);
    cfg.max_weight_per_symbol.limit_pct = 50.0;
    for (x, v, out) in [
        (0.4999, Verdict::Pass, 0.4999),
        (0.5, Verdict::Pass, 0.5),
        (0.5001, Verdict::Trim, 0.5),
    ] {
        let r = check_targets(&cfg, &ctx(), &w(&[("A", x), ("B", 0.1)]));
        assert_eq!(
            verdict_of(&r.outcomes, rule::MAX_WEIGHT_PER_SYMBOL),
            [v],
            "x={x}"
        );
        assert!(close(r.adjusted["A"], out) && close(r.adjusted["B"], 0.1));
    }
}

#[test]
fn gross_leverage_boundaries() {
    let cfg = only(rule::MAX_GROSS_LEVERAGE);
    for (b, v) in [
        (0.4999, Verdict::Pass),
        (0.5, Verdict::Pass),
        (0.5001, Verdict::Trim),
    ] {
        let r = check_targets(&cfg, &ctx(), &w(&[("A", 0.5), ("B", b)]));
        assert_eq!(
            verdict_of(&r.outcomes, rule::MAX_GROSS_LEVERAGE),
            [v],
            "b={b}"
        );
        let gross: f64 = r.adjusted.values().sum();
        assert!(gross <= 1.0 + 1e-12);
        // Proportional: the ratio of the weights is kept.
        assert!(close(r.adjusted["A"] / r.adjusted["B"], 0.5 / b));
    }
}

#[test]
fn min_cash_boundaries() {
    let mut cfg = only(rule::MIN_CASH_PCT);
    cfg.min_cash_pct = 2.0;
    for (x, v, out) in [
        (0.97, Verdict::Pass, 0.97),
        (0.98, Verdict::Pass, 0.98),
        (0.9801, Verdict::Trim, 0.98),
    ] {
        let r = check_targets(&cfg, &ctx(), &w(&[("A", x / 2.0), ("B", x / 2.0)]));
        assert_eq!(verdict_of(&r.outcomes, rule::MIN_CASH_PCT), [v], "x={x}");
        assert!(close(r.adjusted.values().sum::<f64>(), out));
    }
}

#[test]
fn restricted_target_goes_to_zero() {
    let mut cfg = only(rule::RESTRICTED_SYMBOLS);
    cfg.restricted_symbols.symbols = vec!["a".into()];
    let r = check_targets(&cfg, &ctx(), &w(&[("A", 0.5), ("B", 0.5)]));
    assert_eq!(r.adjusted, w(&[("A", 0.0), ("B", 0.5)]));
    assert_eq!(
        verdict_of(&r.outcomes, rule::RESTRICTED_SYMBOLS),
        [Verdict::Trim]
    );
    let r = check_targets(&cfg, &ctx(), &w(&[("B", 1.0)]));
    assert_eq!(
        verdict_of(&r.outcomes, rule::RESTRICTED_SYMBOLS),
        [Verdict::Pass]
    );
}

#[test]
fn stale_and_corporate_action_freeze_at_current_weight() {
    for id in [rule::STALE_DATA, rule::CORPORATE_ACTION_GUARD] {
        let mut c = ctx();
        c.positions.to_mut().insert("A".into(), 300); // 30 % at 100 × 300 / 100 000
        c.positions.to_mut().insert("C".into(), 100); // held, not targeted: must not be sold
        c.positions.to_mut().insert("X".into(), 50); // targeted at its current 5 %: nothing to change
        let flagged: BTreeSet<String> =
            ["A", "C", "D", "X"].iter().map(|s| s.to_string()).collect();
        if id == rule::STALE_DATA {
            c.stale_symbols = std::borrow::Cow::Owned(flagged)
        } else {
            c.corporate_action_symbols = std::borrow::Cow::Owned(flagged)
        }
        let r = check_targets(&only(id), &c, &w(&[("A", 0.6), ("B", 0.35), ("X", 0.05)]));
        assert!(
            close(r.adjusted["A"], 0.3)
                && close(r.adjusted["C"], 0.1)
                && close(r.adjusted["B"], 0.35)
        );
        assert!(close(r.adjusted["X"], 0.05));
        assert!(
            !r.adjusted.contains_key("D"),
            "D is neither held nor targeted"
        );
        assert_eq!(
            verdict_of(&r.outcomes, id),
            [Verdict::Trim, Verdict::Trim, Verdict::Warn]
        );
    }
}

#[test]
fn drawdown_tiers_along_an_equity_path() {
    // Peak 100 → 95 → 89 → 79 → recovery to 92, plus the exact tier boundaries.
    let cfg = only(rule::DRAWDOWN_BUDGET);
    let mut c = ctx();
    c.equity_peak = Some(100.0);
    let path = [
        (100.0, None, 1.0),
        (95.0, None, 1.0),
        (90.0, None, 1.0), // exactly 10 %: not beyond
        (89.99, Some(0), 0.5),
        (89.0, Some(0), 0.5),
        (80.0, Some(0), 0.5), // exactly 20 %
        (79.99, Some(1), 0.0),
        (79.0, Some(1), 0.0),
        (92.0, None, 1.0), // recovery
    ];
    for (eq, tier, exposure) in path {
        c.equity = eq;
        let st = drawdown_state(&cfg.drawdown_budget, &c);
        assert_eq!(st.tier, tier, "equity {eq}");
        assert!(close(st.peak, 100.0) && close(st.drawdown, 1.0 - eq / 100.0));
        let r = check_targets(&cfg, &c, &w(&[("TQQQ", 0.6), ("QQQ", 0.4)]));
        assert!(
            close(r.adjusted["TQQQ"], 0.6 * exposure) && close(r.adjusted["QQQ"], 0.4 * exposure)
        );
        let v = if tier.is_some() {
            Verdict::Trim
        } else {
            Verdict::Pass
        };
        assert_eq!(verdict_of(&r.outcomes, rule::DRAWDOWN_BUDGET), [v]);
        c.equity_peak = c.equity_peak.map(|p| p.max(eq));
    }
    // A new high resets the peak.
    c.equity = 110.0;
    assert_eq!(drawdown_state(&cfg.drawdown_budget, &c).tier, None);
}

fn es_ctx() -> RiskContext<'static> {
    let mut c = ctx();
    c.returns.insert("A".into(), fat(78).into()); // historical ES of A alone = 8 %
    c
}

#[test]
fn es_boundaries_scale_to_the_limit() {
    let mut cfg = only(rule::EXPECTED_SHORTFALL);
    cfg.expected_shortfall.limit_pct = 4.0;
    for (x, v) in [
        (0.4999, Verdict::Pass),
        (0.5, Verdict::Pass),
        (0.5001, Verdict::Trim),
        (0.9, Verdict::Trim),
    ] {
        let r = check_targets(&cfg, &es_ctx(), &w(&[("A", x)]));
        let o = r
            .outcomes
            .iter()
            .find(|o| o.rule == rule::EXPECTED_SHORTFALL);
        assert_eq!(o.map(|o| o.verdict), Some(v), "x={x}");
        assert!(o.is_some_and(|o| close(o.value, 8.0 * x) && o.limit == 4.0));
        assert!(
            close(r.adjusted["A"], x.min(0.5)),
            "x={x}: {:?}",
            r.adjusted
        );
        // After scaling the enforced ES is at (never above) the limit.
        let after = es::historical_var_es(
            &fat(78)
                .iter()
                .map(|y| y * r.adjusted["A"])
                .collect::<Vec<_>>(),
            0.975,
        );
        assert!(after.is_ok_and(|e| e.es <= 0.04 + 1e-12));
    }
}

#[test]
fn es_scaling_keeps_frozen_leg_and_bisects_free_leg() {
    let mut cfg = only(rule::EXPECTED_SHORTFALL);
    cfg.stale_data.enabled = true;
    cfg.expected_shortfall.limit_pct = 4.0;
    let mut c = es_ctx();
    c.returns.insert("B".into(), fat(78).into()); // perfectly correlated with A
    c.positions.to_mut().insert("B".into(), 200); // 20 %, stale → frozen
    c.stale_symbols.to_mut().insert("B".into());
    let r = check_targets(&cfg, &c, &w(&[("A", 0.8), ("B", 0.5)]));
    // ES = 8 % × (0.2 + a) ≤ 4 % → a = 0.3.
    assert!(close(r.adjusted["B"], 0.2));
    assert!((r.adjusted["A"] - 0.3).abs() < 1e-12, "{:?}", r.adjusted);
}

#[test]
fn es_block_action_and_missing_data_freeze_the_book() {
    let mut cfg = only(rule::EXPECTED_SHORTFALL);
    cfg.expected_shortfall.limit_pct = 4.0;
    cfg.expected_shortfall.action = EsAction::Block;
    let mut c = es_ctx();
    c.positions.to_mut().insert("A".into(), 100); // current 10 %
    let r = check_targets(&cfg, &c, &w(&[("A", 0.9)]));
    assert_eq!(
        verdict_of(&r.outcomes, rule::EXPECTED_SHORTFALL),
        [Verdict::Block]
    );
    assert!(close(r.adjusted["A"], 0.1));
    // Too few observations (default minimum 60) blocks too, whatever the action.
    cfg.expected_shortfall.action = EsAction::Scale;
    c.returns.insert("A".into(), vec![0.001; 59].into());
    let r = check_targets(&cfg, &c, &w(&[("A", 0.9)]));
    assert_eq!(
        verdict_of(&r.outcomes, rule::EXPECTED_SHORTFALL),
        [Verdict::Block]
    );
    assert!(close(r.adjusted["A"], 0.1));
    // All cash needs no data.
    let r = check_targets(&cfg, &c, &w(&[("A", 0.0)]));
    assert_eq!(
        verdict_of(&r.outcomes, rule::EXPECTED_SHORTFALL),
        [Verdict::Pass]
    );
}

#[test]
fn es_enforces_the_configured_method() {
    let mut cfg = only(rule::EXPECTED_SHORTFALL);
    let c = es_ctx();
    for method in [
        EsMethod::Historical,
        EsMethod::Normal,
        EsMethod::CornishFisher,
    ] {
        cfg.expected_shortfall.method = method;
        let r = check_targets(&cfg, &c, &w(&[("A", 1.0)]));
        let expect = es_of(method, &fat(78), 0.975)
            .map(|e| e * 100.0)
            .unwrap_or(f64::NAN);
        let o = r
            .outcomes
            .iter()
            .find(|o| o.rule == rule::EXPECTED_SHORTFALL);
        assert!(o.is_some_and(|o| close(o.value, expect)), "{method:?}");
        assert!(o.is_some_and(|o| o.message.contains("hist 8.00 %")));
    }
}

#[test]
fn non_finite_target_is_frozen_by_inputs() {
    let mut c = ctx();
    c.positions.to_mut().insert("A".into(), 100);
    let r = check_targets(&only("none"), &c, &w(&[("A", f64::NAN)]));
    assert!(close(r.adjusted["A"], 0.1));
    assert_eq!(verdict_of(&r.outcomes, rule::INPUTS), [Verdict::Block]);
}
