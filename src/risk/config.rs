//! The `risk:` section of the configuration: one block per rule, each with `enabled`.
//!
//! Every rule is a block with `enabled` (except `min_cash_pct`, a plain percent number shared
//! with the portfolio code). Every field has a default (`#[serde(default)]`), unknown keys are rejected
//! (`deny_unknown_fields`) so a typo cannot silently switch a limit off, and [`RiskConfig::validate`]
//! reports every out-of-range value at once with its dotted key. Percentages are percent numbers
//! (`min_cash_pct: 2.0` means 2 %); the defaults do not bind the flagship 60 % TQQQ +
//! 40 % QQQ portfolio except through ES and drawdown, which is their purpose.

use serde::{Deserialize, Serialize};

/// One invalid configuration value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParamError {
    /// Dotted key under `risk:`, e.g. `expected_shortfall.limit_pct`.
    pub key: String,
    /// The offending value as written.
    pub value: String,
    /// What is allowed, e.g. `between 0 and 100`.
    pub allowed: String,
}

impl std::fmt::Display for ParamError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "risk.{} = {}: must be {}",
            self.key, self.value, self.allowed
        )
    }
}

/// Declares a rule block `{ enabled, <field> }` with its own default, so a partial block such
/// as `{enabled: false}` keeps that rule's default limit rather than a shared one.
macro_rules! limit_rule {
    ($(#[$doc:meta])* $name:ident, $field:ident, $default:expr, $fdoc:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[serde(deny_unknown_fields, default)]
        pub struct $name {
            /// Whether the rule runs.
            pub enabled: bool,
            #[doc = $fdoc]
            pub $field: f64,
        }

        impl Default for $name {
            fn default() -> Self {
                $name { enabled: true, $field: $default }
            }
        }
    };
}

limit_rule!(
    /// `max_weight_per_symbol` (default 100 %: must not bind the 60/40 flagship).
    MaxWeightCfg, limit_pct, 100.0, "Cap on |weight|, percent of equity."
);
limit_rule!(
    /// `max_gross_leverage` (default 1.0).
    GrossLeverageCfg, limit, 1.0, "Cap on Σ|weight| as a ratio of equity."
);
limit_rule!(
    /// `max_order_notional` (default 1e12 USD: no practical limit, yet finite so it serialises).
    OrderNotionalCfg, limit, 1.0e12, "Cap on one order's notional, USD."
);
limit_rule!(
    /// `max_adv_participation` (default 5 %).
    AdvCfg, limit_pct, 5.0, "Cap on order shares, percent of the 20-day average daily volume."
);
limit_rule!(
    /// `daily_loss_circuit_breaker` (default 5 %).
    DailyLossCfg, limit_pct, 5.0, "Loss since the previous close, percent of that close."
);

/// A rule with only an on/off switch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Switch {
    /// Whether the rule runs.
    pub enabled: bool,
}

impl Default for Switch {
    fn default() -> Self {
        Switch { enabled: true }
    }
}

/// `restricted_symbols`: symbols that may not be bought or targeted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RestrictedCfg {
    /// Whether the rule runs.
    pub enabled: bool,
    /// Symbols, compared case-insensitively.
    pub symbols: Vec<String>,
}

impl Default for RestrictedCfg {
    fn default() -> Self {
        RestrictedCfg {
            enabled: true,
            symbols: Vec::new(),
        }
    }
}

/// One drawdown tier: beyond `drawdown_pct` from the peak, risky weights are scaled to
/// `exposure_pct` % of the strategy's target.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DrawdownTier {
    /// Drawdown threshold in percent (strictly exceeded to apply).
    pub drawdown_pct: f64,
    /// Exposure kept, in percent of the target (0 = all cash).
    pub exposure_pct: f64,
}

/// `drawdown_budget`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DrawdownCfg {
    /// Whether the rule runs.
    pub enabled: bool,
    /// Tiers in increasing drawdown order.
    pub tiers: Vec<DrawdownTier>,
}

impl Default for DrawdownCfg {
    fn default() -> Self {
        DrawdownCfg {
            enabled: true,
            tiers: vec![
                DrawdownTier {
                    drawdown_pct: 10.0,
                    exposure_pct: 50.0,
                },
                DrawdownTier {
                    drawdown_pct: 20.0,
                    exposure_pct: 0.0,
                },
            ],
        }
    }
}

/// Which ES estimator the `expected_shortfall` rule enforces (all are reported).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EsMethod {
    /// Historical simulation (default).
    #[default]
    Historical,
    /// Parametric normal.
    Normal,
    /// Parametric Cornish–Fisher.
    CornishFisher,
}

/// What `expected_shortfall` does when the enforced ES is over the limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EsAction {
    /// Scale all risky weights proportionally (rest to cash) down to the limit (default).
    #[default]
    Scale,
    /// Refuse the rebalance: targets frozen at the current weights.
    Block,
}

/// `expected_shortfall`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EsCfg {
    /// Whether the rule runs.
    pub enabled: bool,
    /// 1-day ES limit in percent of equity.
    pub limit_pct: f64,
    /// Confidence level in percent.
    pub confidence_pct: f64,
    /// Most recent days of returns used.
    pub window_days: usize,
    /// Fewer aligned days than this → the figure is not trusted and the rule blocks.
    pub min_observations: usize,
    /// Estimator enforced.
    pub method: EsMethod,
    /// Scale or block when over the limit.
    pub action: EsAction,
}

impl Default for EsCfg {
    fn default() -> Self {
        EsCfg {
            enabled: true,
            limit_pct: 8.0,
            confidence_pct: 97.5,
            window_days: 500,
            min_observations: 60,
            method: EsMethod::Historical,
            action: EsAction::Scale,
        }
    }
}

/// `pdt_guard`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PdtCfg {
    /// Whether the rule runs.
    pub enabled: bool,
    /// Accounts with equity strictly below this are guarded (USD).
    pub equity_threshold: f64,
    /// Day trades allowed within the window.
    pub max_day_trades: usize,
    /// Window length in business days, ending today.
    pub window_business_days: u32,
}

impl Default for PdtCfg {
    fn default() -> Self {
        PdtCfg {
            enabled: true,
            equity_threshold: 25_000.0,
            max_day_trades: 3,
            window_business_days: 5,
        }
    }
}

/// `max_orders_per_day`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CountLimit {
    /// Whether the rule runs.
    pub enabled: bool,
    /// Orders per trading day, including those already placed.
    pub limit: usize,
}

impl Default for CountLimit {
    fn default() -> Self {
        CountLimit {
            enabled: true,
            limit: 20,
        }
    }
}

/// `wash_sale_warning`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WashSaleCfg {
    /// Whether the rule runs.
    pub enabled: bool,
    /// Calendar days back from today that a loss sale counts.
    pub lookback_days: u32,
}

impl Default for WashSaleCfg {
    fn default() -> Self {
        WashSaleCfg {
            enabled: true,
            lookback_days: 30,
        }
    }
}

/// The whole `risk:` section. Field names are the rule ids; every block defaults to its rule's
/// defaults.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RiskConfig {
    /// Cap on |weight| per symbol, percent of equity.
    pub max_weight_per_symbol: MaxWeightCfg,
    /// Cap on Σ|weight| (1.0 = no leverage).
    pub max_gross_leverage: GrossLeverageCfg,
    /// Floor on cash, percent of equity (`min_cash_pct: 2.0` = 2 %). A plain number, not a
    /// block: the portfolio code reads the same value to keep the buffer when sizing buys, and
    /// the rule is always on — at 0 it only forbids negative cash (borrowing).
    pub min_cash_pct: f64,
    /// Cap on one order's notional, USD.
    pub max_order_notional: OrderNotionalCfg,
    /// Cap on order shares as percent of the 20-day average daily volume.
    pub max_adv_participation: AdvCfg,
    /// Cap on orders per day.
    pub max_orders_per_day: CountLimit,
    /// Restricted list.
    pub restricted_symbols: RestrictedCfg,
    /// Pattern-day-trader guard.
    pub pdt_guard: PdtCfg,
    /// Expected Shortfall limit.
    pub expected_shortfall: EsCfg,
    /// Drawdown tiers.
    pub drawdown_budget: DrawdownCfg,
    /// Loss since the previous close, percent of that close.
    pub daily_loss_circuit_breaker: DailyLossCfg,
    /// Freeze symbols with stale data.
    pub stale_data: Switch,
    /// Freeze symbols with an unexplained corporate action.
    pub corporate_action_guard: Switch,
    /// Warn on buys after a recent loss sale.
    pub wash_sale_warning: WashSaleCfg,
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
