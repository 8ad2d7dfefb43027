//! The gap policy of `preflight` and the acknowledgement ledger of `trader data ack`.
//!
//! Real feeds have permanent holes (IEX lacks whole sessions for some symbols, and some dates
//! for half the market). Only what today's decision reads can fail the gate:
//! * a gap of a symbol the strategy reads, inside its lookback (the sessions its longest window
//!   spans up to the date), fails unless acknowledged in `data/ledger/data_acks.parquet`;
//! * every other gap (older, or of a symbol the strategy does not read) is a warning;
//! * a date missing for more than `data.market_outage_pct` of the symbols listed on it is a
//!   market-wide outage, reported once as a date rather than per symbol.
//!
//! Pure apart from [`read_acks`]/[`append_acks`]; the input is the quality report's gaps.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use chrono::NaiveDate;

use crate::data::store::from_days;
use crate::ledger::{self, Col, LedgerError, Table};

/// One acknowledged gap: who accepted that `symbol` has no bar on `date`, when and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Ack {
    pub symbol: String,
    pub date: NaiveDate,
    pub reason: String,
    pub by: String,
    pub at: String,
}

/// The acknowledgement ledger under a ledger directory.
pub fn acks_path(ledger_dir: &Path) -> PathBuf {
    ledger_dir.join("data_acks.parquet")
}

/// Every acknowledgement, keyed by (symbol, date); a later one replaces an earlier.
pub fn read_acks(path: &Path) -> Result<BTreeMap<(String, NaiveDate), Ack>, LedgerError> {
    let Some(df) = ledger::read(path)? else {
        return Ok(BTreeMap::new());
    };
    let bad = |e: &dyn std::fmt::Display| LedgerError {
        path: path.display().to_string(),
        message: e.to_string(),
    };
    let text = |name: &str| -> Result<Vec<String>, LedgerError> {
        let col = df.column(name).map_err(|e| bad(&e))?;
        let ca = col.str().map_err(|e| bad(&e))?;
        Ok(ca
            .iter()
            .map(|v| v.unwrap_or_default().to_string())
            .collect())
    };
    let (symbols, reasons, by, at) = (text("symbol")?, text("reason")?, text("by")?, text("at")?);
    let dates = df
        .column("date")
        .map_err(|e| bad(&e))?
        .date()
        .map_err(|e| bad(&e))?
        .physical()
        .iter()
        .collect::<Vec<_>>();
    let mut out = BTreeMap::new();
    for i in 0..df.height() {
        let Some(day) = dates.get(i).copied().flatten() else {
            return Err(bad(&format!("row {i}: date is null")));
        };
        let date = from_days(day);
        out.insert(
            (symbols[i].clone(), date),
            Ack {
                symbol: symbols[i].clone(),
                date,
                reason: reasons[i].clone(),
                by: by[i].clone(),
                at: at[i].clone(),
            },
        );
    }
    Ok(out)
}

/// Append acknowledgements to the ledger (atomically).
pub fn append_acks(path: &Path, acks: &[Ack]) -> Result<(), LedgerError> {
    let mut t = Table::default();
    let s = |f: fn(&Ack) -> &str| Col::Str(acks.iter().map(|a| f(a).to_string()).collect());
    t.push("date", Col::Date(acks.iter().map(|a| a.date).collect()))
        .push("symbol", s(|a| &a.symbol))
        .push("reason", s(|a| &a.reason))
        .push("by", s(|a| &a.by))
        .push("at", s(|a| &a.at));
    ledger::append(path, &t, None)
}

/// What the policy is judged against.
pub struct Policy<'a> {
    /// First session of the lookback of today's decision.
    pub lookback_start: NaiveDate,
    /// Symbols the strategy reads.
    pub required: &'a BTreeSet<String>,
    /// A date missing for more than this percentage of the symbols listed on it is an outage.
    pub outage_pct: f64,
    pub acks: &'a BTreeMap<(String, NaiveDate), Ack>,
}

/// How one gap is judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Read by today's decision and not acknowledged.
    Fail,
    Acknowledged,
    /// Outside the lookback, or of a symbol the strategy does not read.
    Warn,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Fail => "fail",
            Verdict::Acknowledged => "acknowledged",
            Verdict::Warn => "warning",
        }
    }
}

/// One missing session of one symbol, judged.
#[derive(Debug, Clone, PartialEq)]
pub struct Gap {
    pub symbol: String,
    pub date: NaiveDate,
    pub verdict: Verdict,
    /// The date is a market-wide outage.
    pub outage: bool,
}

/// A market-wide outage: `missing` of the `listed` symbols (with bars before and after) lack it.
#[derive(Debug, Clone, PartialEq)]
pub struct Outage {
    pub date: NaiveDate,
    pub missing: usize,
    pub listed: usize,
}

/// Every gap judged, and the outage dates.
#[derive(Debug, Clone, Default)]
pub struct GapReport {
    pub gaps: Vec<Gap>,
    pub outages: Vec<Outage>,
}

impl GapReport {
    pub fn count(&self, v: Verdict) -> usize {
        self.gaps.iter().filter(|g| g.verdict == v).count()
    }

    /// The gate passes when no gap fails.
    pub fn pass(&self) -> bool {
        self.count(Verdict::Fail) == 0
    }

    /// A bounded one-line account: failing gaps per date (first few symbols), acknowledged
    /// ones, outages as dates, and the warnings as counts.
    pub fn summary(&self, lookback: usize) -> String {
        let mut parts = Vec::new();
        let of = |v: Verdict, outage: Option<bool>| {
            self.gaps
                .iter()
                .filter(move |g| g.verdict == v && outage.is_none_or(|o| g.outage == o))
        };
        let fails: Vec<&Gap> = of(Verdict::Fail, None).collect();
        if !fails.is_empty() {
            parts.push(format!(
                "{} gap(s) inside the {lookback}-session lookback, not acknowledged: {} \
                 (`trader data ack SYMBOL DATE... --reason ...` accepts them)",
                fails.len(),
                by_date(&fails, 5, 5)
            ));
        }
        let acked: Vec<&Gap> = of(Verdict::Acknowledged, None).collect();
        if !acked.is_empty() {
            parts.push(format!(
                "{} acknowledged gap(s): {}",
                acked.len(),
                by_date(&acked, 5, 5)
            ));
        }
        if !self.outages.is_empty() {
            let shown: Vec<String> = self
                .outages
                .iter()
                .take(5)
                .map(|o| format!("{} ({} of {} symbols)", o.date, o.missing, o.listed))
                .collect();
            let more = self.outages.len().saturating_sub(5);
            parts.push(format!(
                "market-wide outage(s): {}{}",
                shown.join(", "),
                if more > 0 {
                    format!(", … {more} more")
                } else {
                    String::new()
                }
            ));
        }
        let warns: Vec<&Gap> = of(Verdict::Warn, Some(false)).collect();
        if !warns.is_empty() {
            let syms: BTreeSet<&str> = warns.iter().map(|g| g.symbol.as_str()).collect();
            let first: Vec<&str> = syms.iter().take(5).copied().collect();
            parts.push(format!(
                "warning: {} gap(s) in {} symbol(s) outside the lookback or not read by the strategy ({}{})",
                warns.len(),
                syms.len(),
                first.join(", "),
                if syms.len() > 5 { ", …" } else { "" }
            ));
        }
        if parts.is_empty() {
            "no missing sessions".to_string()
        } else {
            parts.join("; ")
        }
    }
}

/// `2025-03-10: QQQ, TMF; 2025-03-11: TMV (+4 symbols); … 3 more date(s)`
fn by_date(gaps: &[&Gap], dates: usize, per_date: usize) -> String {
    let mut groups: BTreeMap<NaiveDate, Vec<&str>> = BTreeMap::new();
    for g in gaps {
        groups.entry(g.date).or_default().push(&g.symbol);
    }
    let mut out: Vec<String> = groups
        .iter()
        .take(dates)
        .map(|(d, syms)| {
            let shown = syms.iter().take(per_date).copied().collect::<Vec<_>>();
            let more = syms.len().saturating_sub(per_date);
            format!(
                "{d}: {}{}",
                shown.join(", "),
                if more > 0 {
                    format!(" (+{more} symbols)")
                } else {
                    String::new()
                }
            )
        })
        .collect();
    if groups.len() > dates {
        out.push(format!("… {} more date(s)", groups.len() - dates));
    }
    out.join("; ")
}

/// Judge every gap (`gaps`: missing sessions per symbol; `spans`: each symbol's first and
/// last bar, to count the symbols listed on a date).
pub fn assess(
    gaps: &BTreeMap<String, Vec<NaiveDate>>,
    spans: &BTreeMap<String, (NaiveDate, NaiveDate)>,
    policy: &Policy,
) -> GapReport {
    let mut missing_on: BTreeMap<NaiveDate, usize> = BTreeMap::new();
    for dates in gaps.values() {
        for d in dates {
            *missing_on.entry(*d).or_default() += 1;
        }
    }
    let mut outages = Vec::new();
    for (date, missing) in &missing_on {
        let listed = spans
            .values()
            .filter(|(first, last)| first <= date && date <= last)
            .count();
        if listed > 0 && (*missing as f64) * 100.0 > policy.outage_pct * listed as f64 {
            outages.push(Outage {
                date: *date,
                missing: *missing,
                listed,
            });
        }
    }
    let outage_dates: BTreeSet<NaiveDate> = outages.iter().map(|o| o.date).collect();
    let mut out = Vec::new();
    for (symbol, dates) in gaps {
        let read = policy.required.contains(symbol);
        for d in dates {
            let verdict = if !read || *d < policy.lookback_start {
                Verdict::Warn
            } else if policy.acks.contains_key(&(symbol.clone(), *d)) {
                Verdict::Acknowledged
            } else {
                Verdict::Fail
            };
            out.push(Gap {
                symbol: symbol.clone(),
                date: *d,
                verdict,
                outage: outage_dates.contains(d),
            });
        }
    }
    GapReport { gaps: out, outages }
}

/// The first session of the `n` sessions ending at `date` (`date` itself when `n` <= 1).
pub fn lookback_start(date: NaiveDate, n: usize) -> NaiveDate {
    let mut d = date;
    for _ in 1..n {
        match crate::calendar::previous_trading_day(d) {
            Ok(p) => d = p,
            Err(_) => break,
        }
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().expect("date")
    }

    #[test]
    fn gaps_are_judged_by_lookback_reader_ack_and_outage() {
        let mut gaps = BTreeMap::new();
        gaps.insert("QQQ".to_string(), vec![d("2021-04-19"), d("2025-03-10")]);
        gaps.insert("TMV".to_string(), vec![d("2025-03-11")]);
        gaps.insert("AAA".to_string(), vec![d("2021-04-19"), d("2025-03-10")]);
        let mut spans = BTreeMap::new();
        for s in ["QQQ", "TMV", "AAA", "BBB"] {
            spans.insert(s.to_string(), (d("2020-01-02"), d("2025-04-03")));
        }
        let required: BTreeSet<String> = ["QQQ", "TMV"].iter().map(|s| s.to_string()).collect();
        let mut acks = BTreeMap::new();
        acks.insert(
            ("TMV".to_string(), d("2025-03-11")),
            Ack {
                symbol: "TMV".into(),
                date: d("2025-03-11"),
                reason: "IEX".into(),
                by: "me".into(),
                at: "now".into(),
            },
        );
        let policy = Policy {
            lookback_start: d("2023-01-03"),
            required: &required,
            outage_pct: 30.0,
            acks: &acks,
        };
        let r = assess(&gaps, &spans, &policy);
        let verdict = |s: &str, x: &str| {
            r.gaps
                .iter()
                .find(|g| g.symbol == s && g.date == d(x))
                .map(|g| (g.verdict, g.outage))
        };
        assert_eq!(verdict("QQQ", "2021-04-19"), Some((Verdict::Warn, true)));
        assert_eq!(verdict("QQQ", "2025-03-10"), Some((Verdict::Fail, true)));
        assert_eq!(
            verdict("TMV", "2025-03-11"),
            Some((Verdict::Acknowledged, false))
        );
        assert_eq!(verdict("AAA", "2025-03-10"), Some((Verdict::Warn, true)));
        // 2 of 4 listed symbols miss 2021-04-19 and 2025-03-10 (> 30 %); 1 of 4 misses 03-11.
        let dates: Vec<NaiveDate> = r.outages.iter().map(|o| o.date).collect();
        assert_eq!(dates, vec![d("2021-04-19"), d("2025-03-10")]);
        assert!(!r.pass());
        let s = r.summary(520);
        assert!(
            s.starts_with("1 gap(s) inside the 520-session lookback"),
            "{s}"
        );
        assert!(s.contains("2025-03-10: QQQ"), "{s}");
        assert!(s.contains("1 acknowledged gap(s): 2025-03-11: TMV"), "{s}");
        assert!(s.contains("2021-04-19 (2 of 4 symbols)"), "{s}");
    }

    #[test]
    fn lookback_start_counts_sessions_back() {
        // 2025-04-03 (Thu) back 5 sessions: 04-03, 04-02, 04-01, 03-31, 03-28.
        assert_eq!(lookback_start(d("2025-04-03"), 5), d("2025-03-28"));
        assert_eq!(lookback_start(d("2025-04-03"), 1), d("2025-04-03"));
    }
}
