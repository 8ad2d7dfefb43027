//! The `validation:` and `promotion:` sections and the top-level `phase_override:` (#19):
//! the colours of `trader validate` and the promotion gates between phases.

use serde::Deserialize;

use super::validate::range_issue;
use super::{Issue, Phase};

/// Thresholds of `trader validate`: GREEN, YELLOW, else RED.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ValidationConfig {
    /// GREEN needs a logic match of at least this many percent (100: identical weights).
    pub green_min_match_pct: f64,
    /// GREEN needs a price drift below this many percent.
    pub green_max_drift_pct: f64,
    /// YELLOW needs a logic match of at least this many percent.
    pub yellow_min_match_pct: f64,
    /// YELLOW needs a price drift below this many percent.
    pub yellow_max_drift_pct: f64,
}

impl Default for ValidationConfig {
    fn default() -> Self {
        ValidationConfig {
            green_min_match_pct: 100.0,
            green_max_drift_pct: 0.5,
            yellow_min_match_pct: 95.0,
            yellow_max_drift_pct: 2.0,
        }
    }
}

/// What the state's history must show before a phase may run.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct PromotionConfig {
    /// `paper` needs this many dry-run trading days validated GREEN or YELLOW.
    pub paper_min_days: u32,
    /// ... and no failed or RED day among this many last validated days.
    pub paper_recent_window: u32,
    /// `live` needs this many paper trading days.
    pub live_min_days: u32,
    /// ... and a mean absolute slippage of the paper fills below this many percent.
    pub live_max_mean_slippage_pct: f64,
}

impl Default for PromotionConfig {
    fn default() -> Self {
        PromotionConfig {
            paper_min_days: 20,
            paper_recent_window: 5,
            live_min_days: 30,
            live_max_mean_slippage_pct: 0.5,
        }
    }
}

/// `phase_override: {phase, reason}`: run `phase` although its gate is not met (logged and
/// printed on every run).
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct PhaseOverride {
    pub phase: Phase,
    pub reason: String,
}

/// Range checks of the three sections.
pub fn validate(
    v: &ValidationConfig,
    p: &PromotionConfig,
    o: Option<&PhaseOverride>,
    out: &mut Vec<Issue>,
) {
    range_issue(
        "validation.green_min_match_pct",
        v.green_min_match_pct,
        0.0,
        100.0,
        out,
    );
    range_issue(
        "validation.yellow_min_match_pct",
        v.yellow_min_match_pct,
        0.0,
        v.green_min_match_pct.clamp(0.0, 100.0),
        out,
    );
    range_issue(
        "validation.green_max_drift_pct",
        v.green_max_drift_pct,
        0.0,
        100.0,
        out,
    );
    range_issue(
        "validation.yellow_max_drift_pct",
        v.yellow_max_drift_pct,
        v.green_max_drift_pct.clamp(0.0, 100.0),
        100.0,
        out,
    );
    let days = |key: &str, n: u32, lo: f64, out: &mut Vec<Issue>| {
        range_issue(key, f64::from(n), lo, 10_000.0, out)
    };
    days("promotion.paper_min_days", p.paper_min_days, 0.0, out);
    days(
        "promotion.paper_recent_window",
        p.paper_recent_window,
        0.0,
        out,
    );
    days("promotion.live_min_days", p.live_min_days, 0.0, out);
    range_issue(
        "promotion.live_max_mean_slippage_pct",
        p.live_max_mean_slippage_pct,
        0.0,
        100.0,
        out,
    );
    if let Some(o) = o
        && o.reason.trim().is_empty()
    {
        out.push(Issue {
            key: "phase_override.reason".into(),
            value: format!("{:?}", o.reason),
            allowed: "must say why the gate is overridden".into(),
        });
    }
}
