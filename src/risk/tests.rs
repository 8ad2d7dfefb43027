//! Cross-rule tests: rule order, interactions, defaults on the flagship, serialisation.
//! `ctx()` and helpers are shared with the per-phase test modules.

use std::collections::BTreeMap;

use chrono::NaiveDate;

use super::config::{EsAction, EsMethod};
use super::*;
use crate::model::Side;

pub(crate) fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default()
}

/// Alternating ±1 % returns: 1-day historical ES = 1 %, far from every default limit.
pub(crate) fn mild(n: usize) -> Vec<f64> {
    (0..n)
        .map(|i| if i % 2 == 0 { 0.01 } else { -0.01 })
        .collect()
}

/// 80 returns: 78 × +0.1 % and losses of 10 % and 6 % → k = 2, historical ES = 8 % exactly.
pub(crate) fn fat(n_pos: usize) -> Vec<f64> {
    let mut r = vec![0.001; n_pos];
    r.insert(10, -0.10);
    r.insert(40, -0.06);
    r
}

/// Tuesday 2026-03-10, equity 100 000, no positions, mild returns for TQQQ/QQQ/A/B.
pub(crate) fn ctx() -> RiskContext<'static> {
    let mut c = RiskContext {
        date: day(2026, 3, 10),
        equity: 100_000.0,
        cash: 100_000.0,
        ..Default::default()
    };
    for s in ["TQQQ", "QQQ", "A", "B", "C", "D", "X"] {
        c.returns.insert(s.into(), mild(100).into());
        c.prices.to_mut().insert(s.to_string(), 100.0);
        c.adv20.insert(s.into(), 1_000_000.0);
    }
    c
}

pub(crate) fn w(pairs: &[(&str, f64)]) -> BTreeMap<String, f64> {
    pairs.iter().map(|(s, x)| (s.to_string(), *x)).collect()
}

pub(crate) fn rules(outcomes: &[RuleOutcome]) -> Vec<&str> {
    let mut v: Vec<&str> = outcomes.iter().map(|o| o.rule.as_ref()).collect();
    v.dedup();
    v
}

pub(crate) fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9
}

#[test]
fn defaults_do_not_bind_the_flagship() {
    let t = w(&[("TQQQ", 0.6), ("QQQ", 0.4)]);
    let r = check_targets(&RiskConfig::default(), &ctx(), &t);
    assert_eq!(r.adjusted, t);
    assert_eq!(r.worst(), Verdict::Pass, "{:#?}", r.outcomes);
}

#[test]
fn target_rules_report_in_documented_order() {
    let t = w(&[("TQQQ", 0.6), ("QQQ", 0.4)]);
    let r = check_targets(&RiskConfig::default(), &ctx(), &t);
    assert_eq!(
        rules(&r.outcomes),
        [
            rule::RESTRICTED_SYMBOLS,
            rule::STALE_DATA,
            rule::CORPORATE_ACTION_GUARD,
            rule::MAX_WEIGHT_PER_SYMBOL,
            rule::MAX_GROSS_LEVERAGE,
            rule::DRAWDOWN_BUDGET,
            rule::EXPECTED_SHORTFALL,
            rule::MIN_CASH_PCT
        ]
    );
}

#[test]
fn order_rules_report_in_documented_order() {
    let o = vec![OrderIntent {
        symbol: "A".into(),
        side: Side::Buy,
        qty: 10,
        ref_price: 100.0,
    }];
    let mut c = ctx();
    c.equity = 10_000.0;
    let r = check_orders(&RiskConfig::default(), &c, o);
    assert_eq!(
        rules(&r.outcomes),
        [
            rule::DAILY_LOSS_CIRCUIT_BREAKER,
            rule::RESTRICTED_SYMBOLS,
            rule::STALE_DATA,
            rule::CORPORATE_ACTION_GUARD,
            rule::MAX_ORDER_NOTIONAL,
            rule::MAX_ADV_PARTICIPATION,
            rule::PDT_GUARD,
            rule::MAX_ORDERS_PER_DAY,
            rule::WASH_SALE_WARNING
        ]
    );
    assert_eq!(r.approved.len(), 1);
}

#[test]
fn disabled_rules_report_nothing() {
    let mut cfg = RiskConfig::default();
    cfg.stale_data.enabled = false;
    cfg.wash_sale_warning.enabled = false;
    let r = check_targets(&cfg, &ctx(), &w(&[("A", 0.5)]));
    assert!(!r.outcomes.iter().any(|o| o.rule == rule::STALE_DATA));
    let o = check_orders(&cfg, &ctx(), vec![]);
    assert!(!o.outcomes.iter().any(|o| o.rule == rule::WASH_SALE_WARNING));
}

#[test]
fn drawdown_runs_before_es_so_es_sees_the_scaled_book() {
    // A alone has ES 8 %; the limit is 4 %. Drawdown 11 % halves A first, so ES (4 %) passes.
    // Run the other way round, ES would halve A and the drawdown tier would halve it again.
    let mut cfg = RiskConfig::default();
    cfg.expected_shortfall.limit_pct = 4.0;
    let mut c = ctx();
    c.returns.insert("A".into(), fat(78).into());
    c.equity_peak = Some(100_000.0);
    c.equity = 89_000.0;
    let r = check_targets(&cfg, &c, &w(&[("A", 1.0)]));
    assert!(close(r.adjusted["A"], 0.5), "{:?}", r.adjusted);
    let es = r
        .outcomes
        .iter()
        .find(|o| o.rule == rule::EXPECTED_SHORTFALL)
        .map(|o| (o.verdict, o.value));
    assert_eq!(es.map(|e| e.0), Some(Verdict::Pass));
    assert!(es.is_some_and(|e| close(e.1, 4.0)));
}

#[test]
fn gross_leverage_runs_before_min_cash() {
    let cfg = RiskConfig {
        min_cash_pct: 10.0,
        ..Default::default()
    };
    let r = check_targets(&cfg, &ctx(), &w(&[("A", 0.8), ("B", 0.6)]));
    // 1.4 gross → scaled to 1.0 → cash floor 10 % → scaled to 0.9 in total.
    assert!(close(r.adjusted["A"], 0.8 / 1.4 * 0.9) && close(r.adjusted["B"], 0.6 / 1.4 * 0.9));
    let trims: Vec<&str> = r
        .outcomes
        .iter()
        .filter(|o| o.verdict == Verdict::Trim)
        .map(|o| o.rule.as_ref())
        .collect();
    assert_eq!(trims, [rule::MAX_GROSS_LEVERAGE, rule::MIN_CASH_PCT]);
}

#[test]
fn freeze_runs_before_caps_and_caps_leave_frozen_symbols_alone() {
    // A is stale and held at 70 %; the cap is 50 %. A stays at 70 % (warned), B absorbs the cut.
    let mut cfg = RiskConfig::default();
    cfg.max_weight_per_symbol.limit_pct = 50.0;
    let mut c = ctx();
    c.positions.to_mut().insert("A".into(), 700);
    c.stale_symbols.to_mut().insert("A".into());
    let r = check_targets(&cfg, &c, &w(&[("A", 0.2), ("B", 0.6)]));
    assert!(close(r.adjusted["A"], 0.7));
    assert!(close(r.adjusted["B"], 0.3), "{:?}", r.adjusted);
    let mw: Vec<Verdict> = r
        .outcomes
        .iter()
        .filter(|o| o.rule == rule::MAX_WEIGHT_PER_SYMBOL)
        .map(|o| o.verdict)
        .collect();
    assert_eq!(mw, [Verdict::Warn, Verdict::Trim]);
}

#[test]
fn outcomes_serialise_with_nan_as_null() {
    let mut c = ctx();
    c.returns.clear();
    let r = check_targets(&RiskConfig::default(), &c, &w(&[("A", 0.5)]));
    let json = serde_json::to_string(&r).unwrap_or_default();
    assert!(
        json.contains(r#""rule":"expected_shortfall","verdict":"block","value":null"#),
        "{json}"
    );
}

#[test]
fn snapshot_reports_all_estimators_and_headroom() {
    let mut c = ctx();
    c.returns.insert("A".into(), fat(78).into());
    c.equity_peak = Some(100_000.0);
    c.equity = 95_000.0;
    c.previous_close_equity = Some(100_000.0);
    let s = risk_snapshot(&RiskConfig::default(), &c, &w(&[("A", 1.0)]));
    assert!(s.es_hist.is_some_and(|e| close(e, 8.0)));
    assert!(s.var_hist.is_some_and(|v| close(v, 6.0)));
    assert!(s.es_normal.is_some() && s.es_cf.is_some() && s.es_error.is_none());
    assert_eq!(s.observations, 80);
    assert!(close(s.drawdown, 5.0) && s.tier.is_none() && close(s.exposure_pct, 100.0));
    let h: BTreeMap<&str, f64> = s
        .headroom
        .iter()
        .map(|h| (h.rule.as_str(), h.headroom))
        .collect();
    assert!(close(h[rule::EXPECTED_SHORTFALL], 0.0));
    assert!(close(h[rule::DRAWDOWN_BUDGET], 5.0));
    assert!(close(h[rule::DAILY_LOSS_CIRCUIT_BREAKER], 0.0));
    assert!(close(h[rule::MIN_CASH_PCT], 0.0));
    let mut cfg = RiskConfig::default();
    cfg.expected_shortfall.method = EsMethod::Normal;
    let s2 = risk_snapshot(&cfg, &c, &w(&[("A", 1.0)]));
    let hn = s2
        .headroom
        .iter()
        .find(|h| h.rule == rule::EXPECTED_SHORTFALL)
        .map(|h| h.value);
    assert_eq!(hn, s2.es_normal);
}

/// A terse context (a backtest writing no risk table) changes no verdict, number or target:
/// it only leaves out the passing rules, and every other outcome is the full one without its
/// message.
#[test]
fn terse_context_leaves_out_only_passes() {
    let mut cfg = RiskConfig::default();
    cfg.expected_shortfall.limit_pct = 4.0; // A alone has ES 8 %: trimmed
    let mut c = ctx();
    c.returns.insert("A".into(), fat(78).into());
    c.positions.to_mut().insert("B".into(), 100);
    let targets = w(&[("A", 0.9), ("B", 0.05)]);
    let full = check_targets(&cfg, &c, &targets);
    c.terse = true;
    let terse = check_targets(&cfg, &c, &targets);
    assert_eq!(full.adjusted, terse.adjusted);
    assert!(full.outcomes.iter().any(|o| o.verdict == Verdict::Pass));
    let not_passes: Vec<RuleOutcome> = full
        .outcomes
        .iter()
        .filter(|o| o.verdict != Verdict::Pass)
        .map(|o| RuleOutcome {
            message: String::new(),
            ..o.clone()
        })
        .collect();
    assert!(not_passes.iter().any(|o| o.verdict == Verdict::Trim));
    assert!(full.outcomes.iter().all(|o| !o.message.is_empty()));
    assert_eq!(not_passes, terse.outcomes);
}

/// The ES memo changes no figure: 400 consecutive days of windows sliding over one long
/// series, with the book changing now and then, give the same outcomes bit for bit with and
/// without it (and the memo is actually used: most days carry the tail forward). Windows
/// copied out of the series (equal values, other memory) are never carried, and a NaN in the
/// data gives the full path's finding with the memo too.
#[test]
fn es_memo_gives_the_full_computation_to_the_bit() {
    for (copied, nan) in [(false, false), (true, false), (false, true)] {
        es_memo_over_400_days(copied, nan);
    }
}

fn es_memo_over_400_days(copied: bool, nan: bool) {
    let mut rng = crate::test_rng::XorShift::new(0x1234_5678_9abc_def1);
    let mut next = || rng.below(2001) as f64 / 50_000.0 - 0.02;
    // Calm for 800 days, then three times as wild: ES crosses the limit as windows slide.
    let long: Vec<Vec<f64>> = (0..3)
        .map(|_| {
            (0..1000)
                .map(|i| next() * if i < 800 { 0.5 } else { 1.5 })
                .collect()
        })
        .collect();
    let mut cfg = RiskConfig::default();
    cfg.expected_shortfall.limit_pct = 1.5; // binds on some days: trims go through the legs
    let mut series: BTreeMap<String, Vec<f64>> = ["A", "B", "C"]
        .iter()
        .map(|s| s.to_string())
        .zip(long)
        .collect();
    if nan {
        series.get_mut("B").expect("B")[700] = f64::NAN;
    }
    let series = series;
    let memo = EsMemo::over(series.iter().map(|(s, r)| (s.as_str(), r.as_slice())));
    let mut verdicts = std::collections::BTreeSet::new();
    for day in 0..400 {
        let end = 500 + day;
        let mut c = ctx();
        c.terse = day % 3 == 0;
        for (sym, r) in &series {
            let window = &r[end - 500..end];
            let window = if copied {
                Cow::Owned(window.to_vec())
            } else {
                Cow::Borrowed(window)
            };
            c.returns.insert(sym.as_str().into(), window);
        }
        let book = if day % 97 < 60 {
            w(&[("A", 0.5), ("B", 0.3)])
        } else {
            w(&[("A", 0.2), ("C", 0.6)])
        };
        let plain = check_targets(&cfg, &c, &book);
        c.es_memo = Some(&memo);
        let memoised = check_targets(&cfg, &c, &book);
        assert_eq!(plain.adjusted, memoised.adjusted, "day {day}");
        assert_eq!(plain.outcomes.len(), memoised.outcomes.len(), "day {day}");
        verdicts.extend(
            memoised
                .outcomes
                .iter()
                .filter(|o| o.rule == rule::EXPECTED_SHORTFALL)
                .map(|o| o.verdict),
        );
        for (a, b) in plain.outcomes.iter().zip(&memoised.outcomes) {
            assert_eq!(
                (&a.rule, a.verdict, &a.message),
                (&b.rule, b.verdict, &b.message)
            );
            assert_eq!(
                a.value.to_bits(),
                b.value.to_bits(),
                "day {day}: {a:?} vs {b:?}"
            );
        }
    }
    if copied {
        assert_eq!(memo.days_carried(), 0);
    } else if nan {
        assert!(memo.days_carried() > 100, "{}", memo.days_carried());
    } else {
        assert!(memo.days_carried() > 250, "{}", memo.days_carried());
    }
    assert!(verdicts.contains(&Verdict::Pass) && verdicts.contains(&Verdict::Trim));
}

/// A book the strategy comes back to is picked up where it was left: A for 10 days, B for 5,
/// A again. On its return A's windows have moved on by 6 days, none of which held a big loss,
/// so only the first day of each book is measured in full, and every figure is the full one.
#[test]
fn es_memo_picks_up_a_book_it_comes_back_to() {
    // Small daily gains and a big loss every 25 days: 20 in each window, more than the tail's
    // k = 13, and none among the days that leave (indices 0 to 18).
    let series: BTreeMap<String, Vec<f64>> = ["A", "B"]
        .iter()
        .map(|s| {
            let r = (0..600)
                .map(|i| if i % 25 == 20 { -0.05 } else { 0.001 })
                .collect();
            (s.to_string(), r)
        })
        .collect();
    let cfg = RiskConfig::default();
    let memo = EsMemo::over(series.iter().map(|(s, r)| (s.as_str(), r.as_slice())));
    for day in 0..20 {
        let mut c = ctx();
        c.returns.clear();
        for (sym, r) in &series {
            c.returns
                .insert(sym.as_str().into(), Cow::Borrowed(&r[day..day + 500]));
        }
        let book = if (10..15).contains(&day) {
            w(&[("B", 0.5)])
        } else {
            w(&[("A", 0.5)])
        };
        let plain = check_targets(&cfg, &c, &book);
        c.es_memo = Some(&memo);
        assert_eq!(plain, check_targets(&cfg, &c, &book), "day {day}");
    }
    // Full: day 0 (A) and day 10 (B); carried: 9 + 4 + 5 (day 15 included).
    assert_eq!(memo.days_carried(), 18);
}

/// Windows that first grow (a series younger than the window) and then slide, over returns
/// with a big loss every 17 days so that tail days keep leaving the window: every figure and
/// every trimmed or blocked book is the full computation's to the bit, terse or not, and only
/// a few days are measured in full.
#[test]
fn es_memo_follows_growing_windows_and_leaving_tail_days() {
    for action in [EsAction::Scale, EsAction::Block] {
        es_memo_over_growing_windows(action);
    }
}

fn es_memo_over_growing_windows(action: EsAction) {
    let mut rng = crate::test_rng::XorShift::new(0x0dd_ba11_cafe_f00d);
    let series: BTreeMap<String, Vec<f64>> = ["A", "B"]
        .iter()
        .map(|s| {
            let r = (0..900)
                .map(|i| {
                    let noise = rng.below(2001) as f64 / 100_000.0 - 0.01;
                    if i % 17 == 3 { noise - 0.04 } else { noise }
                })
                .collect();
            (s.to_string(), r)
        })
        .collect();
    let mut cfg = RiskConfig::default();
    cfg.expected_shortfall.limit_pct = 2.0;
    cfg.expected_shortfall.action = action;
    let memo = EsMemo::over(series.iter().map(|(s, r)| (s.as_str(), r.as_slice())));
    let mut verdicts = std::collections::BTreeSet::new();
    for end in 60..900usize {
        let mut c = ctx();
        c.terse = end % 2 == 0;
        c.returns.clear();
        for (sym, r) in &series {
            let start = end.saturating_sub(cfg.expected_shortfall.window_days);
            c.returns
                .insert(sym.as_str().into(), Cow::Borrowed(&r[start..end]));
        }
        let book = w(&[("A", 0.4), ("B", 0.3)]);
        let memoised = memo_matches_full_path(&cfg, c, &book, &memo, end);
        verdicts.extend(memoised.outcomes.iter().map(|o| o.verdict));
    }
    // 840 days: more than 90 % carried although a tail day leaves every 17 days.
    assert!(memo.days_carried() > 760, "{}", memo.days_carried());
    let acted = match action {
        EsAction::Scale => Verdict::Trim,
        EsAction::Block => Verdict::Block,
    };
    assert!(verdicts.contains(&Verdict::Pass) && verdicts.contains(&acted));
}

/// A book of more legs than the memo keeps on the stack (12) is carried all the same.
#[test]
fn es_memo_carries_a_book_of_many_symbols() {
    let mut rng = crate::test_rng::XorShift::new(0x1ea5_e0f1_0ca1);
    let names: Vec<String> = (0..12).map(|i| format!("S{i:02}")).collect();
    let series: BTreeMap<String, Vec<f64>> = names
        .iter()
        .map(|s| {
            let r = (0..700)
                .map(|_| rng.below(2001) as f64 / 100_000.0 - 0.01)
                .collect();
            (s.clone(), r)
        })
        .collect();
    let cfg = RiskConfig::default();
    let memo = EsMemo::over(series.iter().map(|(s, r)| (s.as_str(), r.as_slice())));
    let book: BTreeMap<String, f64> = names.iter().map(|s| (s.clone(), 1.0 / 24.0)).collect();
    for end in 500..700usize {
        let mut c = ctx();
        c.returns.clear();
        for (sym, r) in &series {
            c.returns
                .insert(sym.as_str().into(), Cow::Borrowed(&r[end - 500..end]));
        }
        memo_matches_full_path(&cfg, c, &book, &memo, end);
    }
    assert!(memo.days_carried() > 150, "{}", memo.days_carried());
}

/// Check `book` in `c` without and then with `memo`: equal outcomes and targets, every value
/// and weight to the bit (the contexts here hold no NaN). Gives back the memoised check.
fn memo_matches_full_path<'a>(
    cfg: &RiskConfig,
    mut c: RiskContext<'a>,
    book: &BTreeMap<String, f64>,
    memo: &'a EsMemo<'a>,
    end: usize,
) -> TargetCheck {
    let plain = check_targets(cfg, &c, book);
    c.es_memo = Some(memo);
    let memoised = check_targets(cfg, &c, book);
    assert_eq!(plain, memoised, "window ending {end}");
    for (a, b) in plain.outcomes.iter().zip(&memoised.outcomes) {
        assert_eq!(a.value.to_bits(), b.value.to_bits(), "window ending {end}");
    }
    for ((s, a), (t, b)) in plain.adjusted.iter().zip(&memoised.adjusted) {
        assert_eq!((s, a.to_bits()), (t, b.to_bits()), "window ending {end}");
    }
    memoised
}
