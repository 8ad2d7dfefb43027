//! Config defaults, parsing and validation.
use super::*;

#[test]
fn defaults_are_valid_and_match_the_issue() {
    let c = RiskConfig::default();
    assert!(c.validate().is_empty(), "{:?}", c.validate());
    assert_eq!(c.max_weight_per_symbol.limit_pct, 100.0);
    assert_eq!(c.expected_shortfall.limit_pct, 8.0);
    assert_eq!(c.expected_shortfall.window_days, 500);
    assert_eq!(c.drawdown_budget.tiers.len(), 2);
    assert_eq!(c.pdt_guard.equity_threshold, 25_000.0);
}

#[test]
fn partial_config_fills_defaults_and_rejects_unknown_keys() {
    let c: RiskConfig = serde_json::from_str(
        r#"{"min_cash_pct":2.0,"expected_shortfall":{"method":"cornish_fisher"}}"#,
    )
    .unwrap();
    assert_eq!(c.min_cash_pct, 2.0);
    let off: RiskConfig =
        serde_json::from_str(r#"{"max_adv_participation":{"enabled":false}}"#).unwrap();
    assert_eq!(
        off.max_adv_participation.limit_pct, 5.0,
        "a partial block keeps the rule's default"
    );
    assert_eq!(c.expected_shortfall.method, EsMethod::CornishFisher);
    assert_eq!(c.expected_shortfall.limit_pct, 8.0);
    assert!(serde_json::from_str::<RiskConfig>(r#"{"min_cash":{"limit_pct":2.0}}"#).is_err());
    assert!(
        serde_json::from_str::<RiskConfig>(r#"{"max_adv_participation":{"limit":2.0}}"#).is_err()
    );
    let back: RiskConfig = serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
    assert_eq!(back, c);
}

#[test]
fn validate_reports_dotted_keys() {
    let mut c = RiskConfig {
        min_cash_pct: 120.0,
        ..Default::default()
    };
    c.expected_shortfall.limit_pct = f64::NAN;
    c.drawdown_budget.tiers[1].exposure_pct = 80.0;
    c.max_orders_per_day.limit = 0;
    let errs = c.validate();
    let keys: Vec<&str> = errs.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "min_cash_pct",
            "max_orders_per_day.limit",
            "expected_shortfall.limit_pct",
            "drawdown_budget.tiers[1].exposure_pct"
        ]
    );
    assert_eq!(errs[0].allowed, "between 0 and 100");
    assert_eq!(errs[0].value, "120");
}
