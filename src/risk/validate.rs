//! [`RiskConfig::validate`]: every out-of-range value of the `risk:` section, with its dotted key.

use super::config::{DrawdownTier, ParamError, RiskConfig};

struct Errors(Vec<ParamError>);

impl Errors {
    fn push(&mut self, key: &str, value: impl ToString, allowed: &str) {
        self.0.push(ParamError {
            key: key.to_string(),
            value: value.to_string(),
            allowed: allowed.to_string(),
        });
    }

    /// `lo ≤ v ≤ hi` (or `lo < v` when `open_lo`); NaN always fails.
    fn range(&mut self, key: &str, v: f64, lo: f64, hi: f64, open_lo: bool) {
        let ok = v.is_finite() && (if open_lo { v > lo } else { v >= lo }) && v <= hi;
        if !ok {
            let allowed = if open_lo {
                format!("greater than {lo} and at most {hi}")
            } else {
                format!("between {lo} and {hi}")
            };
            self.push(key, v, &allowed);
        }
    }
}

impl RiskConfig {
    /// Every out-of-range value, with its dotted key; empty when the configuration is usable.
    pub fn validate(&self) -> Vec<ParamError> {
        let mut e = Errors(Vec::new());
        e.range(
            "max_weight_per_symbol.limit_pct",
            self.max_weight_per_symbol.limit_pct,
            0.0,
            100.0,
            true,
        );
        e.range(
            "max_gross_leverage.limit",
            self.max_gross_leverage.limit,
            0.0,
            10.0,
            true,
        );
        e.range("min_cash_pct", self.min_cash_pct, 0.0, 100.0, false);
        e.range(
            "max_order_notional.limit",
            self.max_order_notional.limit,
            0.0,
            1.0e15,
            true,
        );
        e.range(
            "max_adv_participation.limit_pct",
            self.max_adv_participation.limit_pct,
            0.0,
            100.0,
            true,
        );
        if self.max_orders_per_day.limit == 0 {
            e.push("max_orders_per_day.limit", 0, "at least 1");
        }
        // Compared case-insensitively, so `tqqq` is TQQQ; anything else must be a symbol.
        for (i, s) in self.restricted_symbols.symbols.iter().enumerate() {
            if let Err(err) = crate::data::Symbol::parse(&s.to_ascii_uppercase()) {
                e.push(
                    &format!("restricted_symbols.symbols[{i}]"),
                    format!("{s:?}"),
                    &format!("a symbol ({}): {}", crate::data::symbol::RULE, err.reason),
                );
            }
        }
        let pdt = &self.pdt_guard;
        e.range(
            "pdt_guard.equity_threshold",
            pdt.equity_threshold,
            0.0,
            1.0e12,
            false,
        );
        if pdt.window_business_days == 0 {
            e.push("pdt_guard.window_business_days", 0, "at least 1");
        }
        let es = &self.expected_shortfall;
        e.range(
            "expected_shortfall.limit_pct",
            es.limit_pct,
            0.0,
            100.0,
            true,
        );
        if !(es.confidence_pct.is_finite()
            && es.confidence_pct >= 50.0
            && es.confidence_pct < 100.0)
        {
            e.push(
                "expected_shortfall.confidence_pct",
                es.confidence_pct,
                "at least 50 and below 100",
            );
        }
        if es.window_days < 2 {
            e.push(
                "expected_shortfall.window_days",
                es.window_days,
                "at least 2",
            );
        }
        if es.min_observations < 2 || es.min_observations > es.window_days {
            e.push(
                "expected_shortfall.min_observations",
                es.min_observations,
                "at least 2 and at most expected_shortfall.window_days",
            );
        }
        let mut prev: Option<DrawdownTier> = None;
        for (i, t) in self.drawdown_budget.tiers.iter().enumerate() {
            let key = format!("drawdown_budget.tiers[{i}]");
            e.range(
                &format!("{key}.drawdown_pct"),
                t.drawdown_pct,
                0.0,
                100.0,
                true,
            );
            e.range(
                &format!("{key}.exposure_pct"),
                t.exposure_pct,
                0.0,
                100.0,
                false,
            );
            if let Some(p) = prev {
                // Deeper drawdowns must never allow more exposure than shallower ones.
                if t.drawdown_pct <= p.drawdown_pct {
                    e.push(
                        &format!("{key}.drawdown_pct"),
                        t.drawdown_pct,
                        "greater than the previous tier's",
                    );
                }
                if t.exposure_pct > p.exposure_pct {
                    e.push(
                        &format!("{key}.exposure_pct"),
                        t.exposure_pct,
                        "at most the previous tier's",
                    );
                }
            }
            prev = Some(*t);
        }
        e.range(
            "daily_loss_circuit_breaker.limit_pct",
            self.daily_loss_circuit_breaker.limit_pct,
            0.0,
            100.0,
            true,
        );
        if self.wash_sale_warning.lookback_days == 0 {
            e.push("wash_sale_warning.lookback_days", 0, "at least 1");
        }
        e.0
    }
}
