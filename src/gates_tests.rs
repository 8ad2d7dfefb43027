//! The promotion gates over hand-built histories: 19 validated days block, 20 open, a RED
//! or failed day among the last 5 closes the gate again, the override is reported.

use chrono::{DateTime, Duration, NaiveDate, Utc};

use super::*;
use crate::config::Config;
use crate::state::{Colour, JobRecord, JobResult, RegimeSummary, State, ValidationRecord};

fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-05-01T21:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn day(i: i64) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 1, 1).unwrap() + Duration::days(i)
}

fn cfg(extra: serde_json::Value) -> Config {
    serde_json::from_value(extra).unwrap()
}

fn regime(date: NaiveDate) -> RegimeSummary {
    RegimeSummary {
        date,
        cell: Some(1),
        trend: None,
        vol_state: "Low".into(),
        t_norm: None,
        z_score: None,
    }
}

fn validate(st: &mut State, i: i64, colour: Colour) {
    let d = day(i);
    st.validations.insert(
        d,
        ValidationRecord {
            validated_at: t0(),
            phase: Phase::DryRun,
            colour,
            match_pct: 100.0,
            drift_pct: 0.0,
            drift_symbol: None,
            recorded_regime: regime(d),
            official_regime: regime(d),
        },
    );
}

fn job(st: &mut State, i: i64, name: &str, result: JobResult) {
    st.record_job(
        day(i),
        JobRecord {
            job: name.into(),
            phase: None,
            started_at: t0(),
            finished_at: t0(),
            result,
            detail: String::new(),
            skipped_preflight: false,
        },
    );
}

fn green_days(n: i64) -> State {
    let mut st = State::new(t0(), Phase::DryRun);
    for i in 0..n {
        validate(
            &mut st,
            i,
            if i % 3 == 0 {
                Colour::Yellow
            } else {
                Colour::Green
            },
        );
    }
    st
}

#[test]
fn nineteen_validated_days_block_and_twenty_open() {
    let c = cfg(serde_json::json!({}));
    let st = green_days(19);
    let refused = require(&st, &c, Phase::Paper, day(30)).unwrap_err();
    assert!(!refused.progress.open);
    assert_eq!(refused.progress.counts[0].have, "19");
    let text = refused.to_string();
    assert!(
        text.contains("dry-run days validated GREEN/YELLOW: 19 (need >= 20)"),
        "{text}"
    );
    assert!(text.contains("1 more dry-run trading day"), "{text}");
    let st = green_days(20);
    let ok = require(&st, &c, Phase::Paper, day(30)).unwrap();
    assert!(ok.progress.as_ref().unwrap().open);
    assert_eq!(ok.overridden, None);
    // Days validated after the gate's date do not count.
    assert!(require(&st, &c, Phase::Paper, day(18)).is_err());
}

#[test]
fn a_red_day_in_the_last_window_closes_the_gate_until_it_leaves_the_window() {
    let c = cfg(serde_json::json!({}));
    let mut st = green_days(25);
    validate(&mut st, 22, Colour::Red);
    let r = require(&st, &c, Phase::Paper, day(30)).unwrap_err();
    assert_eq!(r.progress.counts[0].have, "24", "24 good days, enough");
    assert!(r.to_string().contains(&format!("{} RED", day(22))), "{r}");
    // Three more good days: the RED day is 6th from the end, outside the window of 5.
    for i in 25..28 {
        validate(&mut st, i, Colour::Green);
    }
    assert!(require(&st, &c, Phase::Paper, day(30)).is_ok());
    // The window is configurable.
    let wide = cfg(serde_json::json!({"promotion": {"paper_recent_window": 6}}));
    assert!(require(&st, &wide, Phase::Paper, day(30)).is_err());
}

#[test]
fn a_failed_dry_run_inside_the_window_closes_the_gate() {
    let c = cfg(serde_json::json!({}));
    let mut st = green_days(22);
    job(&mut st, 20, "dry-run", JobResult::Failed);
    let r = require(&st, &c, Phase::Paper, day(30)).unwrap_err();
    assert!(
        r.to_string().contains(&format!("{} failed", day(20))),
        "{r}"
    );
    // Before the window (the last 5 validated are days 17..=21): no effect.
    let mut st = green_days(22);
    job(&mut st, 3, "dry-run", JobResult::Failed);
    assert!(require(&st, &c, Phase::Paper, day(30)).is_ok());
}

#[test]
fn paper_validations_do_not_count_toward_paper() {
    let c = cfg(serde_json::json!({}));
    let mut st = green_days(20);
    if let Some(v) = st.validations.get_mut(&day(5)) {
        v.phase = Phase::Paper;
    }
    assert!(require(&st, &c, Phase::Paper, day(30)).is_err());
}

#[test]
fn the_override_is_accepted_and_reported_only_for_its_phase() {
    let c = cfg(serde_json::json!({"phase_override": {"phase": "paper", "reason": "demo"}}));
    let st = green_days(3);
    let ok = require(&st, &c, Phase::Paper, day(30)).unwrap();
    assert_eq!(ok.overridden.as_deref(), Some("demo"));
    assert!(!ok.progress.unwrap().open);
    assert!(require(&st, &c, Phase::Live, day(30)).is_err());
    // An open gate needs no override, and none is reported.
    let st = green_days(20);
    assert_eq!(
        require(&st, &c, Phase::Paper, day(30)).unwrap().overridden,
        None
    );
}

#[test]
fn dry_run_has_no_gate() {
    let c = cfg(serde_json::json!({}));
    let st = State::new(t0(), Phase::DryRun);
    let r = require(&st, &c, Phase::DryRun, day(0)).unwrap();
    assert_eq!(r.progress, None);
}

#[test]
fn live_needs_days_slippage_and_reconciliation() {
    let c = cfg(serde_json::json!({"promotion": {"live_min_days": 3}}));
    let mut st = State::new(t0(), Phase::Paper);
    for i in 0..3 {
        job(&mut st, i, "paper", JobResult::Ok);
        job(&mut st, i, "reconcile", JobResult::Ok);
    }
    let ev = |bps: &[f64]| Evidence {
        paper_slippage_bps: bps.to_vec(),
    };
    let r = require_with(&st, &c, Phase::Live, day(5), &ev(&[])).unwrap_err();
    assert!(r.to_string().contains("none yet"), "{r}");
    // Mean |slippage| 0.45 % passes, 0.55 % does not (signs do not cancel out).
    assert!(require_with(&st, &c, Phase::Live, day(5), &ev(&[40.0, -50.0])).is_ok());
    let r = require_with(&st, &c, Phase::Live, day(5), &ev(&[50.0, -60.0])).unwrap_err();
    assert!(r.to_string().contains("now 0.550%"), "{r}");
    job(&mut st, 1, "reconcile", JobResult::Failed);
    let r = require_with(&st, &c, Phase::Live, day(5), &ev(&[10.0])).unwrap_err();
    assert!(
        r.to_string().contains(&format!("none on {}", day(1))),
        "{r}"
    );
    assert_eq!(r.progress.counts[0].have, "3");
    let r = require_with(&st, &c, Phase::Live, day(1), &ev(&[10.0])).unwrap_err();
    assert!(r.to_string().contains("1 more paper trading day"), "{r}");
}

#[test]
fn record_promotion_appends_only_on_a_change() {
    let mut st = State::new(t0(), Phase::DryRun);
    assert!(!record_promotion(&mut st, Phase::DryRun, "again", t0()));
    assert!(record_promotion(&mut st, Phase::Paper, "gate open", t0()));
    assert!(!record_promotion(&mut st, Phase::Paper, "again", t0()));
    assert_eq!(st.phase_history.len(), 2);
    assert_eq!(st.phase_history[1].reason, "gate open");
}

#[test]
fn a_refusal_exits_3() {
    let c = cfg(serde_json::json!({}));
    let st = green_days(1);
    let e = anyhow::Error::new(require(&st, &c, Phase::Paper, day(30)).unwrap_err())
        .context("paper for 2026-01-31");
    assert_eq!(crate::exit::classify(&e), crate::exit::Exit::Blocked);
}
