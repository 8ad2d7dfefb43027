//! Read-only risk status of a target portfolio for `trader risk`: the three ES estimators,
//! the drawdown tier, and the headroom left under each measurable rule. Changes nothing.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::config::{DrawdownTier, RiskConfig};
use super::es;
use super::orders::window_start;
use super::targets::{drawdown_state, legs_of};
use super::{RiskContext, rule};

/// Room left under one rule: `headroom = limit − value` for caps and `value − limit` for floors,
/// so a negative headroom always means "in breach". Same units as the rule's outcomes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Headroom {
    /// Rule id.
    pub rule: String,
    /// Measured value.
    pub value: f64,
    /// Limit.
    pub limit: f64,
    /// Room left (negative = breached).
    pub headroom: f64,
}

/// Risk status of the target portfolio. ES/VaR are 1-day, percent of equity, at the configured
/// confidence over the configured window; `None` with `es_error` when they cannot be computed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RiskSnapshot {
    /// Historical-simulation ES, percent.
    pub es_hist: Option<f64>,
    /// Historical-simulation VaR, percent.
    pub var_hist: Option<f64>,
    /// Normal ES, percent.
    pub es_normal: Option<f64>,
    /// Normal VaR, percent.
    pub var_normal: Option<f64>,
    /// Cornish–Fisher ES, percent.
    pub es_cf: Option<f64>,
    /// Cornish–Fisher VaR, percent.
    pub var_cf: Option<f64>,
    /// Days of returns used.
    pub observations: usize,
    /// Why ES is missing, if it is.
    pub es_error: Option<String>,
    /// Drawdown from the equity peak, percent.
    pub drawdown: f64,
    /// Equity peak.
    pub peak_equity: f64,
    /// Active drawdown tier, if any.
    pub tier: Option<DrawdownTier>,
    /// Exposure the drawdown budget allows, percent of target.
    pub exposure_pct: f64,
    /// Headroom per enabled, measurable rule.
    pub headroom: Vec<Headroom>,
}

fn cap(rule: &str, value: f64, limit: f64) -> Headroom {
    Headroom {
        rule: rule.to_string(),
        value,
        limit,
        headroom: limit - value,
    }
}

/// Measure `targets` (weights, fractions of equity) against `cfg` without adjusting anything.
pub fn risk_snapshot(
    cfg: &RiskConfig,
    ctx: &RiskContext,
    targets: &BTreeMap<String, f64>,
) -> RiskSnapshot {
    let esc = &cfg.expected_shortfall;
    let alpha = esc.confidence_pct / 100.0;
    let report = legs_of(targets, &BTreeSet::new(), ctx, esc)
        .and_then(|legs| es::es_report(&legs.free, alpha));
    let (rep, es_error) = match report {
        Ok(r) => (Some(r), None),
        Err(e) => (None, Some(e.to_string())),
    };
    let p = |f: fn(&es::EsReport) -> f64| rep.as_ref().map(|r| f(r) * 100.0);
    let dd = drawdown_state(&cfg.drawdown_budget, ctx);

    let mut h = Vec::new();
    let gross: f64 = targets.values().map(|w| w.abs()).sum();
    if cfg.max_weight_per_symbol.enabled {
        let largest = targets.values().fold(0.0f64, |m, w| m.max(w.abs())) * 100.0;
        h.push(cap(
            rule::MAX_WEIGHT_PER_SYMBOL,
            largest,
            cfg.max_weight_per_symbol.limit_pct,
        ));
    }
    if cfg.max_gross_leverage.enabled {
        h.push(cap(
            rule::MAX_GROSS_LEVERAGE,
            gross,
            cfg.max_gross_leverage.limit,
        ));
    }
    {
        let cash = (1.0 - targets.values().sum::<f64>()) * 100.0;
        let limit = cfg.min_cash_pct;
        h.push(Headroom {
            rule: rule::MIN_CASH_PCT.to_string(),
            value: cash,
            limit,
            headroom: cash - limit,
        });
    }
    if esc.enabled {
        let enforced = rep.as_ref().map(|r| r.by_method(esc.method).es * 100.0);
        h.push(cap(
            rule::EXPECTED_SHORTFALL,
            enforced.unwrap_or(f64::NAN),
            esc.limit_pct,
        ));
    }
    if cfg.drawdown_budget.enabled {
        // Room to the next tier not yet reached (the last tier when all are reached).
        let next = cfg
            .drawdown_budget
            .tiers
            .iter()
            .map(|t| t.drawdown_pct)
            .find(|t| *t >= dd.drawdown * 100.0);
        let limit = next
            .or(cfg.drawdown_budget.tiers.last().map(|t| t.drawdown_pct))
            .unwrap_or(100.0);
        h.push(cap(rule::DRAWDOWN_BUDGET, dd.drawdown * 100.0, limit));
    }
    if cfg.daily_loss_circuit_breaker.enabled
        && let Some(prev) = ctx.previous_close_equity.filter(|p| *p > 0.0)
    {
        let loss = (prev - ctx.equity) / prev * 100.0;
        h.push(cap(
            rule::DAILY_LOSS_CIRCUIT_BREAKER,
            loss,
            cfg.daily_loss_circuit_breaker.limit_pct,
        ));
    }
    if cfg.pdt_guard.enabled && ctx.equity < cfg.pdt_guard.equity_threshold {
        let start = window_start(ctx.date, cfg.pdt_guard.window_business_days);
        let n = ctx
            .day_trades
            .iter()
            .filter(|d| **d >= start && **d <= ctx.date)
            .count();
        h.push(cap(
            rule::PDT_GUARD,
            n as f64,
            cfg.pdt_guard.max_day_trades as f64,
        ));
    }
    if cfg.max_orders_per_day.enabled {
        let limit = cfg.max_orders_per_day.limit as f64;
        h.push(cap(
            rule::MAX_ORDERS_PER_DAY,
            ctx.orders_already_today as f64,
            limit,
        ));
    }
    RiskSnapshot {
        es_hist: p(|r| r.historical.es),
        var_hist: p(|r| r.historical.var),
        es_normal: p(|r| r.normal.es),
        var_normal: p(|r| r.normal.var),
        es_cf: p(|r| r.cornish_fisher.es),
        var_cf: p(|r| r.cornish_fisher.var),
        observations: rep.as_ref().map_or(0, |r| r.n),
        es_error,
        drawdown: dd.drawdown * 100.0,
        peak_equity: dd.peak,
        tier: dd.active,
        exposure_pct: dd.exposure * 100.0,
        headroom: h,
    }
}
