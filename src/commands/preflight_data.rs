//! The data gates of `preflight` that judge many symbols: `coverage` (threshold
//! `preflight.min_coverage_pct`, the strategy's own symbols always required) and `gaps` (the
//! gap policy of [`crate::data::gaps`]). Gate details stay bounded (counts per date, the first
//! few symbols); every finding goes to `data/ledger/preflight_findings/DATE.parquet`.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Context, Result};
use chrono::NaiveDate;

use super::Ctx;
use super::preflight::{Gate, gate};
use crate::config::Config;
use crate::data::gaps::{self, Policy, Verdict};
use crate::data::quality::QualityReport;
use crate::ledger::{self, Col, Table};

/// One row of the findings ledger.
#[derive(Debug, Clone)]
pub struct Finding {
    pub check: &'static str,
    pub symbol: String,
    pub item_date: Option<NaiveDate>,
    /// `fail`, `acknowledged`, `warning`.
    pub status: &'static str,
    pub detail: String,
}

impl Finding {
    pub fn new(
        check: &'static str,
        symbol: &str,
        item_date: Option<NaiveDate>,
        status: &'static str,
        detail: &str,
    ) -> Finding {
        Finding {
            check,
            symbol: symbol.to_string(),
            item_date,
            status,
            detail: detail.to_string(),
        }
    }
}

/// Add the report of another chunk of symbols (judged against the same session) to `into`.
pub fn absorb(into: &mut QualityReport, part: QualityReport) {
    into.expected_session = into.expected_session.or(part.expected_session);
    into.symbols += part.symbols;
    into.covered += part.covered;
    into.last_dates.extend(part.last_dates);
    into.findings.extend(part.findings);
    into.stale.extend(part.stale);
    into.corporate_actions.extend(part.corporate_actions);
    into.gaps.extend(part.gaps);
    into.spans.extend(part.spans);
}

/// `coverage`: every symbol the strategy reads has a bar for `date`, and at least
/// `preflight.min_coverage_pct` of the universe does.
pub fn coverage_gate(
    cfg: &Config,
    q: &QualityReport,
    required: &BTreeSet<String>,
    date: NaiveDate,
    findings: &mut Vec<Finding>,
) -> Gate {
    let min = cfg.preflight.min_coverage_pct;
    // Missing symbols grouped by their last bar (None = no bars stored).
    let mut by_last: BTreeMap<Option<NaiveDate>, Vec<&str>> = BTreeMap::new();
    let mut required_missing = Vec::new();
    for (s, last) in &q.last_dates {
        if last.is_some_and(|d| d >= date) {
            continue;
        }
        let read = required.contains(s);
        if read {
            required_missing.push(format!(
                "{s} ({})",
                last.map_or("none".into(), |d| d.to_string())
            ));
        }
        by_last.entry(*last).or_default().push(s);
        findings.push(Finding::new(
            "coverage",
            s,
            *last,
            if read { "fail" } else { "warning" },
            &format!(
                "no bar for {date}; last bar {}",
                last.map_or("none".into(), |d| d.to_string())
            ),
        ));
    }
    let pct = q.coverage() * 100.0;
    let pass = required_missing.is_empty() && pct + 1e-9 >= min;
    let mut detail = format!(
        "{}/{} symbols have a bar for {date} ({pct:.1}%, minimum {}%; the strategy's {} always)",
        q.covered,
        q.symbols,
        crate::config::format_num(min),
        required.len()
    );
    if !required_missing.is_empty() {
        detail.push_str(&format!(
            "; the strategy reads {} which lack it",
            required_missing.join(", ")
        ));
    }
    if !by_last.is_empty() {
        let groups: Vec<String> = by_last
            .iter()
            .rev()
            .take(5)
            .map(|(last, syms)| {
                let head = syms.iter().take(5).copied().collect::<Vec<_>>().join(", ");
                format!(
                    "{} {} ({head}{})",
                    syms.len(),
                    last.map_or("with no bars".to_string(), |d| format!("last at {d}")),
                    if syms.len() > 5 { ", …" } else { "" }
                )
            })
            .collect();
        let more = by_last.len().saturating_sub(5);
        detail.push_str(&format!(
            "; missing: {}{}",
            groups.join("; "),
            if more > 0 {
                format!("; … {more} more last date(s)")
            } else {
                String::new()
            }
        ));
    }
    gate("coverage", pass, detail)
}

/// `gaps`: missing sessions judged by the gap policy.
pub fn gaps_gate(
    cfg: &Config,
    q: &QualityReport,
    required: &BTreeSet<String>,
    date: NaiveDate,
    findings: &mut Vec<Finding>,
) -> Result<Gate> {
    let path = gaps::acks_path(&cfg.paths.ledger_dir);
    let acks = match gaps::read_acks(&path) {
        Ok(a) => a,
        Err(e) => return Ok(gate("gaps", false, format!("acknowledgements: {e}"))),
    };
    let lookback = cfg.strategy.params.lookback_sessions();
    let policy = Policy {
        lookback_start: gaps::lookback_start(date, lookback),
        required,
        outage_pct: cfg.data.market_outage_pct,
        acks: &acks,
    };
    let report = gaps::assess(&q.gaps, &q.spans, &policy);
    for g in &report.gaps {
        let why = match g.verdict {
            Verdict::Fail => "read by today's decision".to_string(),
            Verdict::Acknowledged => acks
                .get(&(g.symbol.clone(), g.date))
                .map(|a| format!("acknowledged by {} at {}: {}", a.by, a.at, a.reason))
                .unwrap_or_default(),
            Verdict::Warn if required.contains(&g.symbol) => {
                format!("before the lookback (from {})", policy.lookback_start)
            }
            Verdict::Warn => "not read by the strategy".to_string(),
        };
        let outage = if g.outage {
            " (market-wide outage)"
        } else {
            ""
        };
        findings.push(Finding::new(
            "gaps",
            &g.symbol,
            Some(g.date),
            g.verdict.as_str(),
            &format!("missing session{outage}: {why}"),
        ));
    }
    Ok(gate("gaps", report.pass(), report.summary(lookback)))
}

/// Write every finding of this run to `ledger/preflight_findings/DATE.parquet` (replacing
/// the previous run of that date), so the bounded gate details lose nothing.
pub fn record_findings(ctx: &Ctx, date: NaiveDate, findings: &[Finding]) -> Result<()> {
    let dir = ctx.config.paths.ledger_dir.join("preflight_findings");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let n = findings.len();
    let run_at = ctx.now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let mut t = Table::default();
    let s = |f: &dyn Fn(&Finding) -> String| Col::Str(findings.iter().map(f).collect());
    t.push("date", Col::Date(vec![date; n]))
        .push("run_at", Col::Str(vec![run_at; n]))
        .push("check", s(&|f| f.check.to_string()))
        .push("symbol", s(&|f| f.symbol.clone()))
        .push(
            "item_date",
            s(&|f| f.item_date.map(|d| d.to_string()).unwrap_or_default()),
        )
        .push("status", s(&|f| f.status.to_string()))
        .push("detail", s(&|f| f.detail.clone()));
    let path = dir.join(format!("{date}.parquet"));
    ledger::write(&path, &t).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}
