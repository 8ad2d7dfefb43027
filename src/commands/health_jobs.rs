//! The scheduled-job part of `trader health`: which jobs of today's cycle are due by now
//! (their slot passed plus `schedule.missed_grace_minutes`) and whether the state records
//! each as run; and the node_exporter textfile metrics of `health --prometheus FILE`.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result};
use chrono::{DateTime, Duration, Utc};

use super::health::{Check, Status};
use crate::config::Config;
use crate::schedule::{self, Slot};
use crate::state::store::{Loaded, StateStore};
use crate::state::{JobResult, State};

/// The state as a read-only reader sees it (`None` when there is none or it is unusable:
/// the `state` check reports that).
pub fn read_state(cfg: &Config, now: DateTime<Utc>) -> Option<State> {
    match StateStore::new(&cfg.paths.state_dir, cfg.state.backups)
        .at(now)
        .load()
    {
        Ok(Loaded::Ok(s)) => Some(s),
        _ => None,
    }
}

/// One due slot and what the state says about it.
#[derive(Debug, Clone)]
pub struct SlotOutcome {
    pub slot: Slot,
    pub at: DateTime<chrono_tz::Tz>,
    /// `ok`, `missed`, `failed` or `blocked`.
    pub outcome: &'static str,
}

/// The slots due by `now` today and their outcome. A slot counts as run when the state holds a
/// record of its job for today started no earlier than the slot's firing window (a later run
/// of the same job counts: the post-close fetch replaces the near-close fetch's record).
pub fn due_outcomes(
    cfg: &Config,
    state: Option<&State>,
    now: DateTime<Utc>,
) -> Result<Vec<SlotOutcome>, crate::calendar::CalendarError> {
    let s = &cfg.schedule;
    let today = crate::calendar::trading_date_of(now);
    let mut out = Vec::new();
    for (slot, at) in schedule::due_slots(s, today, now)? {
        let from = (at - Duration::minutes(s.early_tolerance_minutes)).with_timezone(&Utc);
        let rec = state
            .and_then(|st| st.job(today, slot.record(cfg)))
            .filter(|r| r.started_at >= from);
        let outcome = match rec.map(|r| r.result) {
            None => "missed",
            Some(JobResult::Ok) => "ok",
            Some(JobResult::Failed) => "failed",
            Some(JobResult::Blocked) => "blocked",
        };
        out.push(SlotOutcome { slot, at, outcome });
    }
    Ok(out)
}

/// The `jobs` check: a missed or failed trading run is critical, any other job a warning.
pub fn jobs_check(cfg: &Config, state: Option<&State>, now: DateTime<Utc>) -> Check {
    let today = crate::calendar::trading_date_of(now);
    let outcomes = match due_outcomes(cfg, state, now) {
        Ok(o) => o,
        Err(e) => {
            return Check {
                name: "jobs",
                status: Status::Critical,
                detail: e.to_string(),
            };
        }
    };
    if let Ok(Some(why)) = super::closed_because(today) {
        return Check {
            name: "jobs",
            status: Status::Ok,
            detail: format!("{today} is not a trading day ({why}): no job expected"),
        };
    }
    if outcomes.is_empty() {
        return Check {
            name: "jobs",
            status: Status::Ok,
            detail: format!("no job of {today} due yet"),
        };
    }
    let mut status = Status::Ok;
    let mut parts = Vec::new();
    for o in &outcomes {
        let job = o.slot.record(cfg);
        if o.outcome != "ok" {
            status = status.max(if o.slot == Slot::Trade {
                Status::Critical
            } else {
                Status::Warn
            });
        }
        let name = if o.slot.name() == job {
            job.to_string()
        } else {
            format!("{} ({job})", o.slot.name())
        };
        let when = o.at.format("%H:%M");
        parts.push(match o.outcome {
            "ok" => format!("{name} {when} ok"),
            "missed" => format!("{name} {when} MISSED (no record since its slot)"),
            other => format!("{name} {when} {}", other.to_uppercase()),
        });
    }
    Check {
        name: "jobs",
        status,
        detail: format!("{today}: {}", parts.join("; ")),
    }
}

fn num(v: Status) -> u8 {
    match v {
        Status::Ok => 0,
        Status::Warn => 1,
        Status::Critical => 2,
    }
}

/// A label value as the text format wants it.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The textfile metrics (Prometheus text format 0.0.4).
pub fn metrics(
    cfg: &Config,
    state: Option<&State>,
    checks: &[Check],
    now: DateTime<Utc>,
) -> String {
    let config = label(
        &cfg.source_file
            .file_stem()
            .map_or_else(|| "trader".into(), |s| s.to_string_lossy().into_owned()),
    );
    let mut o = String::new();
    let family = |o: &mut String, name: &str, help: &str| {
        let _ = writeln!(o, "# HELP {name} {help}\n# TYPE {name} gauge");
    };
    let overall = checks.iter().map(|c| c.status).max().unwrap_or(Status::Ok);
    family(
        &mut o,
        "trader_health_status",
        "Worst health check: 0 ok, 1 warn, 2 critical.",
    );
    let _ = writeln!(
        o,
        "trader_health_status{{config=\"{config}\"}} {}",
        num(overall)
    );
    family(
        &mut o,
        "trader_check_status",
        "Each health check: 0 ok, 1 warn, 2 critical.",
    );
    for c in checks {
        let _ = writeln!(
            o,
            "trader_check_status{{config=\"{config}\",check=\"{}\"}} {}",
            label(c.name),
            num(c.status)
        );
    }
    family(
        &mut o,
        "trader_health_run_timestamp_seconds",
        "When this health run happened.",
    );
    let _ = writeln!(
        o,
        "trader_health_run_timestamp_seconds{{config=\"{config}\"}} {}",
        now.timestamp()
    );
    let kill = u8::from(cfg.paths.kill_switch.exists());
    family(
        &mut o,
        "trader_kill_switch",
        "1 while the kill switch file is present.",
    );
    let _ = writeln!(o, "trader_kill_switch{{config=\"{config}\"}} {kill}");
    if let Some(st) = state {
        // The latest record of each job over all dates.
        let mut last: std::collections::BTreeMap<&str, &crate::state::JobRecord> =
            Default::default();
        let mut last_ok: std::collections::BTreeMap<&str, DateTime<Utc>> = Default::default();
        for recs in st.jobs.values() {
            for (name, r) in recs {
                if last
                    .get(name.as_str())
                    .is_none_or(|p| p.finished_at <= r.finished_at)
                {
                    last.insert(name, r);
                }
                if r.result == JobResult::Ok
                    && last_ok
                        .get(name.as_str())
                        .is_none_or(|t| *t <= r.finished_at)
                {
                    last_ok.insert(name, r.finished_at);
                }
            }
        }
        family(
            &mut o,
            "trader_job_last_success_timestamp_seconds",
            "When each job last finished ok.",
        );
        for (job, t) in &last_ok {
            let _ = writeln!(
                o,
                "trader_job_last_success_timestamp_seconds{{config=\"{config}\",job=\"{}\"}} {}",
                label(job),
                t.timestamp()
            );
        }
        let result_of = |r: &crate::state::JobRecord| match r.result {
            JobResult::Ok => "ok",
            JobResult::Failed => "failed",
            JobResult::Blocked => "blocked",
        };
        family(
            &mut o,
            "trader_job_last_result",
            "Each job's latest result: 1 for the result it had.",
        );
        for (job, r) in &last {
            let _ = writeln!(
                o,
                "trader_job_last_result{{config=\"{config}\",job=\"{}\",result=\"{}\"}} 1",
                label(job),
                result_of(r)
            );
        }
        family(
            &mut o,
            "trader_job_last_exit_ok",
            "1 when each job's latest run ended ok, else 0.",
        );
        for (job, r) in &last {
            let _ = writeln!(
                o,
                "trader_job_last_exit_ok{{config=\"{config}\",job=\"{}\"}} {}",
                label(job),
                u8::from(r.result == JobResult::Ok)
            );
        }
        if let Some(p) = st.equity_history.last() {
            let peak = st
                .equity_history
                .iter()
                .map(|p| p.equity)
                .fold(f64::MIN, f64::max);
            family(
                &mut o,
                "trader_equity_dollars",
                "Account equity at the last trading run.",
            );
            let _ = writeln!(
                o,
                "trader_equity_dollars{{config=\"{config}\"}} {}",
                p.equity
            );
            let dd = if peak > 0.0 {
                (1.0 - p.equity / peak).max(0.0)
            } else {
                0.0
            };
            family(
                &mut o,
                "trader_drawdown_ratio",
                "Drawdown of the last equity from its peak (0.1 = 10 %).",
            );
            let _ = writeln!(o, "trader_drawdown_ratio{{config=\"{config}\"}} {dd}");
        }
        family(
            &mut o,
            "trader_orders_in_flight",
            "Orders sent whose outcome is not final yet.",
        );
        let _ = writeln!(
            o,
            "trader_orders_in_flight{{config=\"{config}\"}} {}",
            st.orders_in_flight.len()
        );
        // The paper gate reads the state alone; the live gate also needs the paper fills'
        // slippage (see `trader status`), so it is left to `status`.
        let today = crate::calendar::trading_date_of(now);
        if let Some(g) = crate::gates::progress(
            st,
            cfg,
            crate::config::Phase::Paper,
            today,
            &crate::gates::Evidence::default(),
        ) {
            family(
                &mut o,
                "trader_gate_open",
                "1 when the promotion gate into the phase is open.",
            );
            let _ = writeln!(
                o,
                "trader_gate_open{{config=\"{config}\",gate=\"paper\"}} {}",
                u8::from(g.open)
            );
            family(
                &mut o,
                "trader_gate_requirements_met",
                "How many of the gate's requirements are met (of trader_gate_requirements).",
            );
            let met = g.counts.iter().filter(|c| c.met).count();
            let _ = writeln!(
                o,
                "trader_gate_requirements_met{{config=\"{config}\",gate=\"paper\"}} {met}"
            );
            family(
                &mut o,
                "trader_gate_requirements",
                "How many requirements the gate has.",
            );
            let _ = writeln!(
                o,
                "trader_gate_requirements{{config=\"{config}\",gate=\"paper\"}} {}",
                g.counts.len()
            );
        }
        if let Ok(outcomes) = due_outcomes(cfg, Some(st), now) {
            family(
                &mut o,
                "trader_slot_missed",
                "1 when a slot due today has no ok run.",
            );
            for s in outcomes {
                let _ = writeln!(
                    o,
                    "trader_slot_missed{{config=\"{config}\",slot=\"{}\"}} {}",
                    s.slot.name(),
                    u8::from(s.outcome != "ok")
                );
            }
        }
    }
    o
}

/// Write the metrics atomically, world-readable (node_exporter runs as its own user).
pub fn write_metrics(path: &Path, text: &str) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    crate::fsutil::write_atomic_with(path, |f| {
        use std::io::Write;
        f.set_permissions(std::fs::Permissions::from_mode(0o644))?;
        f.write_all(text.as_bytes())
    })
    .with_context(|| format!("writing the metrics file {}", path.display()))
}
