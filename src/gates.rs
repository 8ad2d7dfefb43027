//! Promotion gates (#19 item 8), pure functions over the state and the config (no I/O).
//!
//! `paper` needs `promotion.paper_min_days` dry-run trading days validated GREEN or YELLOW
//! and no failed or RED day among the last `promotion.paper_recent_window` validated days.
//! `live` needs `promotion.live_min_days` paper days, a mean absolute slippage of the paper
//! fills below `promotion.live_max_mean_slippage_pct`, and a reconciliation on every paper
//! day. `phase_override: {phase, reason}` lets one phase run without its gate; the caller
//! logs and prints it (see [`GateReport::overridden`]).

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use crate::config::{Config, Phase};
use crate::state::{Colour, JobResult, PhaseChange, State};

/// One requirement of a gate and how far the history is.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Count {
    pub what: String,
    pub have: String,
    pub need: String,
    pub met: bool,
}

/// The state of one gate on one date.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Progress {
    /// The phase the gate lets run.
    pub phase: Phase,
    pub open: bool,
    pub counts: Vec<Count>,
    /// What is missing, one sentence each (empty when open).
    pub missing: Vec<String>,
}

/// A phase may run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GateReport {
    pub phase: Phase,
    pub date: NaiveDate,
    /// The gate's figures (`None` for `dry-run`, which has no gate).
    pub progress: Option<Progress>,
    /// `Some(reason)` when the phase runs by `phase_override` although its gate is not met.
    pub overridden: Option<String>,
}

/// A promotion the history does not support yet (exit 3).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}", refusal_text(.progress, *.date))]
pub struct GateRefusal {
    pub date: NaiveDate,
    pub progress: Progress,
}

fn refusal_text(p: &Progress, date: NaiveDate) -> String {
    let counts: Vec<String> = p
        .counts
        .iter()
        .map(|c| format!("{}: {} (need {})", c.what, c.have, c.need))
        .collect();
    format!(
        "the {} gate is closed for {date}: {}; missing: {} (a person may set `phase_override: {{phase: {}, reason: \"...\"}}` in the config)",
        p.phase.as_str(),
        counts.join("; "),
        p.missing.join("; "),
        p.phase.as_str()
    )
}

/// What the live gate reads outside the state: the slippage of every paper fill, in bps
/// against the decision price (`slippage_bps` of `data/ledger/fills.parquet`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Evidence {
    pub paper_slippage_bps: Vec<f64>,
}

/// One paper trading day as the live gate sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PaperDay {
    pub date: NaiveDate,
    /// The broker's account agreed with the state that day (job record `reconcile` ok).
    pub reconciled: bool,
}

/// The phase after `phase`, if any.
pub fn next_phase(phase: Phase) -> Option<Phase> {
    match phase {
        Phase::DryRun => Some(Phase::Paper),
        Phase::Paper => Some(Phase::Live),
        Phase::Live => None,
    }
}

/// The gate of `phase` on `date`; `None` for `dry-run` (no gate).
pub fn progress(
    state: &State,
    cfg: &Config,
    phase: Phase,
    date: NaiveDate,
    ev: &Evidence,
) -> Option<Progress> {
    match phase {
        Phase::DryRun => None,
        Phase::Paper => Some(paper_gate(state, cfg, date)),
        Phase::Live => Some(live_gate(state, cfg, date, ev)),
    }
}

/// May `phase` run on `date`? [`require_with`] without outside evidence (enough for
/// `paper`; `live` needs the paper fills' slippage).
pub fn require(
    state: &State,
    cfg: &Config,
    phase: Phase,
    date: NaiveDate,
) -> Result<GateReport, GateRefusal> {
    require_with(state, cfg, phase, date, &Evidence::default())
}

/// May `phase` run on `date`: its gate is open, or `phase_override` names it.
pub fn require_with(
    state: &State,
    cfg: &Config,
    phase: Phase,
    date: NaiveDate,
    ev: &Evidence,
) -> Result<GateReport, GateRefusal> {
    let progress = progress(state, cfg, phase, date, ev);
    let overridden = cfg
        .phase_override
        .as_ref()
        .filter(|o| o.phase == phase)
        .map(|o| o.reason.clone());
    match progress {
        Some(p) if !p.open && overridden.is_none() => Err(GateRefusal { date, progress: p }),
        progress => Ok(GateReport {
            phase,
            date,
            overridden: overridden.filter(|_| progress.as_ref().is_some_and(|p| !p.open)),
            progress,
        }),
    }
}

/// Record a change of phase in `phase_history`; nothing when the last recorded phase is
/// already `phase`. Returns whether a change was recorded.
pub fn record_promotion(state: &mut State, phase: Phase, reason: &str, now: DateTime<Utc>) -> bool {
    if state.phase_history.last().is_some_and(|c| c.phase == phase) {
        return false;
    }
    state.phase_history.push(PhaseChange {
        at: now,
        phase,
        reason: reason.to_string(),
    });
    true
}

fn count(what: &str, have: String, need: String, met: bool) -> Count {
    Count {
        what: what.into(),
        have,
        need,
        met,
    }
}

fn paper_gate(state: &State, cfg: &Config, date: NaiveDate) -> Progress {
    let p = &cfg.promotion;
    let validated: Vec<(NaiveDate, Colour)> = state
        .validations
        .iter()
        .filter(|(d, v)| **d <= date && v.phase == Phase::DryRun)
        .map(|(d, v)| (*d, v.colour))
        .collect();
    let good = validated.iter().filter(|(_, c)| *c != Colour::Red).count();
    let need = p.paper_min_days as usize;
    let window = p.paper_recent_window as usize;
    let recent = &validated[validated.len().saturating_sub(window)..];
    let mut bad: Vec<String> = recent
        .iter()
        .filter(|(_, c)| *c == Colour::Red)
        .map(|(d, _)| format!("{d} RED"))
        .collect();
    // A dry-run or validate that failed inside the window's span is a failed day too.
    if let Some((first, _)) = recent.first() {
        for (d, jobs) in state.jobs.range(*first..=date) {
            let failed = ["dry-run", "validate"]
                .iter()
                .any(|j| jobs.get(*j).is_some_and(|r| r.result == JobResult::Failed));
            if failed && !bad.iter().any(|b| b.starts_with(&d.to_string())) {
                bad.push(format!("{d} failed"));
            }
        }
    }
    bad.sort();
    let mut missing = Vec::new();
    if good < need {
        missing.push(format!(
            "{} more dry-run trading day(s) validated GREEN or YELLOW (`trader validate` after each dry-run)",
            need - good
        ));
    }
    if !bad.is_empty() {
        missing.push(format!(
            "the last {window} validated day(s) without a failed or RED day (now: {})",
            bad.join(", ")
        ));
    }
    Progress {
        phase: Phase::Paper,
        open: missing.is_empty(),
        counts: vec![
            count(
                "dry-run days validated GREEN/YELLOW",
                good.to_string(),
                format!(">= {need}"),
                good >= need,
            ),
            count(
                &format!("failed or RED among the last {window} validated"),
                bad.len().to_string(),
                "0".into(),
                bad.is_empty(),
            ),
        ],
        missing,
    }
}

/// The paper trading days up to `date` (job record `paper` ok), with their reconciliation.
pub fn paper_days(state: &State, date: NaiveDate) -> Vec<PaperDay> {
    let ok = |jobs: &std::collections::BTreeMap<String, crate::state::JobRecord>, j: &str| {
        jobs.get(j).is_some_and(|r| r.result == JobResult::Ok)
    };
    state
        .jobs
        .range(..=date)
        .filter(|(_, jobs)| ok(jobs, "paper"))
        .map(|(d, jobs)| PaperDay {
            date: *d,
            reconciled: ok(jobs, "reconcile"),
        })
        .collect()
}

fn live_gate(state: &State, cfg: &Config, date: NaiveDate, ev: &Evidence) -> Progress {
    let p = &cfg.promotion;
    let days = paper_days(state, date);
    let need = p.live_min_days as usize;
    let unreconciled: Vec<String> = days
        .iter()
        .filter(|d| !d.reconciled)
        .map(|d| d.date.to_string())
        .collect();
    let fills: Vec<f64> = ev
        .paper_slippage_bps
        .iter()
        .copied()
        .filter(|x| x.is_finite())
        .collect();
    let mean_pct = (!fills.is_empty())
        .then(|| fills.iter().map(|x| x.abs()).sum::<f64>() / fills.len() as f64 / 100.0);
    let max = p.live_max_mean_slippage_pct;
    let slippage_ok = mean_pct.is_some_and(|m| m < max);
    let mut missing = Vec::new();
    if days.len() < need {
        missing.push(format!("{} more paper trading day(s)", need - days.len()));
    }
    match mean_pct {
        None => missing.push("paper fills to measure the slippage on (none yet)".into()),
        Some(m) if !slippage_ok => missing.push(format!(
            "a mean absolute slippage below {max}% (now {m:.3}% over {} fill(s))",
            fills.len()
        )),
        Some(_) => {}
    }
    if !unreconciled.is_empty() {
        missing.push(format!(
            "a reconciliation on every paper day (none on {})",
            unreconciled.join(", ")
        ));
    }
    Progress {
        phase: Phase::Live,
        open: missing.is_empty(),
        counts: vec![
            count(
                "paper days",
                days.len().to_string(),
                format!(">= {need}"),
                days.len() >= need,
            ),
            count(
                "mean |slippage| of paper fills",
                mean_pct.map_or("no fills".into(), |m| format!("{m:.3}%")),
                format!("< {max}%"),
                slippage_ok,
            ),
            count(
                "paper days not reconciled",
                unreconciled.len().to_string(),
                "0".into(),
                unreconciled.is_empty(),
            ),
        ],
        missing,
    }
}

#[cfg(test)]
#[path = "gates_tests.rs"]
mod tests;
