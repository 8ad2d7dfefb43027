//! Data quality of the bar store, judged against the NYSE calendar: coverage of the
//! universe on the expected session, missing sessions, duplicates, OHLC consistency,
//! staleness, provisional bars left unreplaced, and the corporate-action guard.
//!
//! Pure: callers pass the bars and the expected session; `health`, `preflight` and the
//! risk rules all read the same report.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use serde::Serialize;

use crate::calendar;
use crate::model::Bar;

/// Thresholds of the checks.
#[derive(Debug, Clone)]
pub struct QualityRules {
    /// A close-to-close move beyond this percentage with no split or dividend on record.
    pub corporate_action_move_pct: f64,
    /// How many of the latest bars the corporate-action guard looks at.
    pub corporate_action_lookback: usize,
    /// How many sessions the last bar may lag before the symbol counts as stale.
    pub max_stale_sessions: u32,
}

impl Default for QualityRules {
    fn default() -> Self {
        QualityRules {
            corporate_action_move_pct: 20.0,
            corporate_action_lookback: 5,
            max_stale_sessions: 0,
        }
    }
}

/// One finding about one symbol.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    pub symbol: String,
    pub check: &'static str,
    pub detail: String,
}

/// The quality of a set of symbols against an expected last session.
#[derive(Debug, Clone, Default, Serialize)]
pub struct QualityReport {
    pub expected_session: Option<NaiveDate>,
    pub symbols: usize,
    /// Symbols with a bar on the expected session.
    pub covered: usize,
    pub last_dates: BTreeMap<String, Option<NaiveDate>>,
    pub findings: Vec<Finding>,
    pub stale: BTreeSet<String>,
    pub corporate_actions: BTreeSet<String>,
    /// Sessions missing inside each symbol's first..last bar (the gap policy's input).
    pub gaps: BTreeMap<String, Vec<NaiveDate>>,
    /// Each symbol's first and last bar.
    pub spans: BTreeMap<String, (NaiveDate, NaiveDate)>,
}

impl QualityReport {
    /// Share of the universe with a bar on the expected session, 0..=1.
    pub fn coverage(&self) -> f64 {
        if self.symbols == 0 {
            0.0
        } else {
            self.covered as f64 / self.symbols as f64
        }
    }

    /// Findings of one check.
    pub fn of(&self, check: &str) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(move |f| f.check == check)
    }
}

/// Check every symbol's bars (`None` = no bars stored) against `expected` (the session
/// whose bar must be present).
pub fn assess(
    bars: &BTreeMap<String, Option<Vec<Bar>>>,
    expected: NaiveDate,
    rules: &QualityRules,
) -> QualityReport {
    let mut r = QualityReport {
        expected_session: Some(expected),
        symbols: bars.len(),
        ..QualityReport::default()
    };
    // One session list for the widest range, shared by every symbol.
    let first = bars
        .values()
        .filter_map(|b| b.as_ref().and_then(|v| v.first()).map(|b| b.date))
        .min()
        .unwrap_or(expected);
    // The calendar starts in 1990: older bars are reported one by one below, and a calendar
    // error is a finding of every symbol, never an empty session list taken as the truth.
    let calendar_start =
        NaiveDate::from_ymd_opt(calendar::FIRST_YEAR, 1, 1).unwrap_or(NaiveDate::MIN);
    let (sessions, calendar_error) =
        match calendar::sessions_between(first.max(calendar_start), expected) {
            Ok(s) => (s, None),
            Err(e) => (Vec::new(), Some(e)),
        };
    for (symbol, series) in bars {
        let mut find = |check: &'static str, detail: String| {
            r.findings.push(Finding {
                symbol: symbol.clone(),
                check,
                detail,
            })
        };
        if let Some(e) = calendar_error {
            find(
                "missing_sessions",
                format!("sessions cannot be checked: {e}"),
            );
        }
        let Some(series) = series.as_ref().filter(|s| !s.is_empty()) else {
            find("missing", "no bars stored".into());
            r.stale.insert(symbol.clone());
            r.last_dates.insert(symbol.clone(), None);
            continue;
        };
        let last = series[series.len() - 1].date;
        r.last_dates.insert(symbol.clone(), Some(last));
        if last >= expected {
            r.covered += 1;
        } else {
            let lag = sessions.len() - sessions.partition_point(|d| *d <= last);
            if lag as u32 > rules.max_stale_sessions {
                r.stale.insert(symbol.clone());
            }
            find(
                "stale",
                format!("last bar {last}, expected {expected} ({lag} session(s) behind)"),
            );
        }
        check_series(symbol, series, &sessions, expected, rules, &mut r);
    }
    r
}

fn check_series(
    symbol: &str,
    series: &[Bar],
    sessions: &[NaiveDate],
    expected: NaiveDate,
    rules: &QualityRules,
    r: &mut QualityReport,
) {
    let mut push = |check: &'static str, detail: String| {
        r.findings.push(Finding {
            symbol: symbol.to_string(),
            check,
            detail,
        })
    };
    let first = series[0].date;
    let last = series[series.len() - 1].date;
    let mut missing = Vec::new();
    let start = sessions.partition_point(|d| *d < first);
    let mut i = 0;
    for s in &sessions[start..] {
        if *s > last {
            break;
        }
        while i < series.len() && series[i].date < *s {
            i += 1;
        }
        if i >= series.len() || series[i].date != *s {
            missing.push(*s);
        }
    }
    r.spans.insert(symbol.to_string(), (first, last));
    if !missing.is_empty() {
        r.gaps.insert(symbol.to_string(), missing.clone());
        let shown: Vec<String> = missing.iter().take(5).map(|d| d.to_string()).collect();
        let more = if missing.len() > 5 { ", …" } else { "" };
        push(
            "missing_sessions",
            format!(
                "{} session(s) missing: {}{more}",
                missing.len(),
                shown.join(", ")
            ),
        );
    }
    for w in series.windows(2) {
        if w[1].date <= w[0].date {
            push(
                "duplicates",
                format!("date {} repeats or goes backwards", w[1].date),
            );
        }
    }
    for b in series {
        // `sessions` spans every bar up to `expected`; later bars ask the calendar.
        let in_list = sessions
            .first()
            .is_some_and(|f| b.date >= *f && b.date <= expected);
        let session = if in_list {
            Ok(sessions.binary_search(&b.date).is_ok())
        } else {
            calendar::is_trading_day(b.date)
        };
        match session {
            Ok(true) => {}
            Ok(false) => push(
                "non_session",
                format!("bar on {}, not an NYSE session", b.date),
            ),
            Err(e) => push("non_session", format!("bar on {}: {e}", b.date)),
        }
        let bad = !(b.open > 0.0 && b.high > 0.0 && b.low > 0.0 && b.close > 0.0)
            || b.high < b.open.max(b.close)
            || b.low > b.open.min(b.close);
        if bad {
            push(
                "ohlc",
                format!(
                    "{}: open {} high {} low {} close {}",
                    b.date, b.open, b.high, b.low, b.close
                ),
            );
        }
        if b.provisional && b.date < expected {
            push(
                "provisional",
                format!(
                    "provisional bar of {} was never replaced by the official bar",
                    b.date
                ),
            );
        }
    }
    let from = series
        .len()
        .saturating_sub(rules.corporate_action_lookback + 1);
    for w in series[from..].windows(2) {
        let mv = (w[1].close / w[0].close - 1.0) * 100.0;
        let on_record = w[1].split_factor != 1.0 || w[1].dividend > 0.0;
        if mv.abs() > rules.corporate_action_move_pct && !on_record {
            r.corporate_actions.insert(symbol.to_string());
            push(
                "corporate_action",
                format!(
                    "{}: close moved {mv:+.1}% (limit {}%) with no split or dividend on record",
                    w[1].date, rules.corporate_action_move_pct
                ),
            );
        }
    }
}
