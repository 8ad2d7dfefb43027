//! `trader preflight`: today's go/no-go. Every gate is checked and shown, the verdict is
//! recorded in the state and in `data/ledger/preflight.parquet`, and the trading run
//! refuses to start without a passed preflight for the same trading date.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Context, Result};
use chrono::NaiveDate;
use serde::Serialize;

use super::Ctx;
use super::preflight_data::{Finding, coverage_gate, gaps_gate};
use crate::cli::PreflightArgs;
use crate::data::quality::{self, QualityRules};
use crate::data::store::BarStore;
use crate::exit::{Exit, ExitError};
use crate::ledger::{self, Col, Table};
use crate::state::{JobRecord, JobResult, State};

/// One gate.
#[derive(Debug, Clone, Serialize)]
pub struct Gate {
    pub name: &'static str,
    pub pass: bool,
    pub detail: String,
}

#[derive(Serialize)]
struct Verdict<'a> {
    date: NaiveDate,
    pass: bool,
    gates: &'a [Gate],
}

/// Fail unless a preflight for `date` passed (the trading run's prerequisite).
pub fn require_passed(state: &State, date: NaiveDate) -> Result<()> {
    match state.job(date, "preflight") {
        Some(r) if r.result == JobResult::Ok => Ok(()),
        Some(r) => Err(ExitError::new(
            Exit::Blocked,
            format!("preflight for {date} did not pass ({}): fix it and run `trader preflight` again", r.detail),
        )
        .into()),
        None => Err(ExitError::new(
            Exit::Blocked,
            format!("no preflight for {date}: run `trader preflight` first (or `dry-run --skip-preflight` for an experiment)"),
        )
        .into()),
    }
}

pub(super) fn gate(name: &'static str, pass: bool, detail: impl Into<String>) -> Gate {
    Gate {
        name,
        pass,
        detail: detail.into(),
    }
}

/// Run every gate for the date and record the verdict.
pub fn run(ctx: &Ctx, args: &PreflightArgs) -> Result<Exit> {
    let cfg = &ctx.config;
    let date = args.date.unwrap_or_else(|| ctx.today());
    if super::report_closed(date)? {
        return Ok(Exit::Ok);
    }
    let mut job = super::open_job(ctx, "preflight")?;
    let mut gates = Vec::new();
    let calendar = || format!("reading the NYSE calendar for {date}");
    let close = crate::calendar::close_time(date).with_context(calendar)?;
    let early = crate::calendar::is_early_close(date).with_context(calendar)?;
    gates.push(gate(
        "trading_day",
        true,
        format!(
            "{date} is a trading day, close {}{}",
            close.map_or("?".into(), |t| t.format("%H:%M").to_string()),
            if early { " (early close)" } else { "" }
        ),
    ));
    // The fetch prerequisite only applies to remote sources: a CSV store is filled by hand.
    if cfg.data.source.is_remote() {
        let ok = job
            .state
            .job(date, "fetch")
            .is_some_and(|r| r.result == JobResult::Ok);
        gates.push(gate(
            "fetch_today",
            ok,
            if ok {
                format!("fetch ran for {date}")
            } else {
                format!("no fetch for {date}: run `trader fetch` first")
            },
        ));
    }
    let mut findings = Vec::new();
    gates.extend(data_gates(ctx, &job.state, date, &mut findings)?);
    gates.push(gate(
        "config",
        true,
        format!(
            "{} and its risk parameters are valid",
            cfg.source_file.display()
        ),
    ));
    gates.push(secrets_gate(ctx));
    gates.push(broker_gate(ctx));
    gates.extend(venue_gates(ctx, &job.state, date));
    // A loaded state always passes `check` (loading enforces it): an invalid state.json is
    // replaced by the newest valid backup, which may miss the latest runs. `health` calls
    // that critical; so does this gate.
    let mut state_problems = job.state.check();
    state_problems.extend(job.recovered.clone());
    gates.push(gate(
        "state",
        state_problems.is_empty(),
        if state_problems.is_empty() {
            format!(
                "{} valid (save #{})",
                job.store.path.display(),
                job.state.save_seq
            )
        } else {
            state_problems.join("; ")
        },
    ));
    let kill = cfg.paths.kill_switch.exists();
    gates.push(gate(
        "kill_switch",
        !kill,
        if kill {
            format!(
                "{} present: trading halted",
                cfg.paths.kill_switch.display()
            )
        } else {
            "absent".into()
        },
    ));
    let (disk_ok, disk_detail) = super::health::free_disk(cfg);
    gates.push(gate("disk", disk_ok, disk_detail));
    let pass = gates.iter().all(|g| g.pass);
    let failed: Vec<&str> = gates.iter().filter(|g| !g.pass).map(|g| g.name).collect();
    let detail = if pass {
        format!("all {} gates passed", gates.len())
    } else {
        format!("failed: {}", failed.join(", "))
    };
    record(ctx, date, &gates, pass)?;
    super::preflight_data::record_findings(ctx, date, &findings)?;
    job.state.record_job(
        date,
        JobRecord {
            job: "preflight".into(),
            phase: Some(cfg.phase),
            started_at: ctx.now,
            finished_at: ctx.clock(),
            result: if pass {
                JobResult::Ok
            } else {
                JobResult::Blocked
            },
            detail: detail.clone(),
            skipped_preflight: false,
        },
    );
    job.save(ctx.now)?;
    ctx.log.info(&format!("preflight {date}: {detail}"));
    if !pass {
        // No trading run can happen today without a person: critical.
        let lines: Vec<String> = gates
            .iter()
            .filter(|g| !g.pass)
            .map(|g| format!("  {}: {}", g.name, g.detail))
            .collect();
        crate::alert::raise(crate::alert::Alert {
            severity: crate::alert::Severity::Critical,
            key: "preflight-no-go".into(),
            subject: format!("preflight NO-GO for {date} ({detail})"),
            body: format!(
                "Preflight for {date} ({} phase) says NO-GO: the trading run will not start.\nFailed gates:\n{}\nFix them and run `trader preflight` again.",
                cfg.phase.as_str(),
                lines.join("\n")
            ),
        });
    }
    if ctx.json {
        super::print_json(&Verdict {
            date,
            pass,
            gates: &gates,
        })?;
    } else {
        let w = gates.iter().map(|g| g.name.len()).max().unwrap_or(4);
        outln!("preflight {date}");
        for g in &gates {
            outln!(
                "  {:<w$}  {}  {}",
                g.name,
                if g.pass { "pass" } else { "FAIL" },
                g.detail
            );
        }
        outln!("verdict: {}", if pass { "GO" } else { "NO-GO" });
    }
    Ok(if pass { Exit::Ok } else { Exit::Blocked })
}

fn data_gates(
    ctx: &Ctx,
    state: &State,
    date: NaiveDate,
    findings: &mut Vec<Finding>,
) -> Result<Vec<Gate>> {
    let cfg = &ctx.config;
    let store = BarStore::new(&cfg.paths.bars_dir);
    // A file the store refuses (unreadable, dates out of order, duplicates) fails the data
    // gates with the store's message instead of stopping the preflight unrecorded.
    let mut unreadable = Vec::new();
    let universe = cfg.universe();
    let today = ctx.today();
    let rules = QualityRules {
        corporate_action_move_pct: cfg.data.corporate_action_move_pct,
        corporate_action_lookback: 1,
        max_stale_sessions: 0,
    };
    // Judged a chunk of symbols at a time, so a large universe is never all in memory; the
    // chunks are read and judged on all cores, their reports joined in the universe's order.
    let parts = store.map_chunks(&universe, 128, |part, reads| {
        let (mut unreadable, mut provisional_today) = (Vec::new(), Vec::new());
        let mut bars = BTreeMap::new();
        for (sym, read) in part.iter().cloned().zip(reads) {
            let b = match read {
                Ok(b) => b,
                Err(e) => {
                    unreadable.push(format!("{sym} unreadable: {e}"));
                    None
                }
            };
            // Row validity (non-finite prices, negative volume, dividend or split, dates after
            // today in New York) over every stored bar: `crate::model::Bar::unusable`.
            unreadable.extend(
                b.iter()
                    .flat_map(|v| crate::model::unusable_bars(&sym, v, today)),
            );
            // Bars after the checked date are ignored so replays judge the data as it was
            // (in place: the usual series ends on or before it and is kept as read).
            let b = b.map(|mut v| {
                let keep = v.partition_point(|b| b.date <= date);
                v.truncate(keep);
                v
            });
            if b.as_ref()
                .and_then(|v| v.last())
                .is_some_and(|b| b.date == date && b.provisional)
            {
                provisional_today.push(sym.clone());
            }
            bars.insert(sym, b);
        }
        (
            quality::assess(&bars, date, &rules),
            unreadable,
            provisional_today,
        )
    });
    let mut q = quality::QualityReport::default();
    let mut provisional_today = Vec::new();
    for (report, bad, prov) in parts {
        super::preflight_data::absorb(&mut q, report);
        unreadable.extend(bad);
        provisional_today.extend(prov);
    }
    let mut gates = Vec::new();
    let required: BTreeSet<String> =
        crate::strategy::Strategy::required_symbols(&cfg.strategy_impl())
            .into_iter()
            .collect();
    gates.push(coverage_gate(cfg, &q, &required, date, findings));
    provisional_today.sort();
    if !provisional_today.is_empty() {
        let fetched_at = state.job(date, "fetch").map(|r| r.finished_at);
        let max = cfg.data.provisional_max_age_minutes as i64;
        let age = fetched_at.map(|t| (ctx.now - t).num_minutes());
        // A fetch recorded after this check's time (a replay against a later fetch) is no
        // evidence of freshness at this time.
        let fresh = age.is_some_and(|a| (0..=max).contains(&a));
        let syms = list(&provisional_today);
        gates.push(gate(
            "freshness",
            fresh,
            match (fetched_at, age) {
                (Some(t), Some(a)) if a < 0 => format!(
                    "provisional bars of {syms} fetched at {}, after this check's time",
                    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                ),
                (Some(_), Some(a)) => {
                    format!("provisional bars of {syms} fetched {a} min ago (limit {max})")
                }
                _ => format!("provisional bars of {syms} with no fetch recorded for {date}"),
            },
        ));
    }
    let bad: Vec<String> = q
        .findings
        .iter()
        .filter(|f| {
            matches!(
                f.check,
                "duplicates" | "ohlc" | "non_session" | "provisional"
            )
        })
        .map(|f| format!("{} {}: {}", f.symbol, f.check, f.detail))
        .chain(unreadable)
        .collect();
    for b in &bad {
        findings.push(Finding::new("data_quality", "", None, "fail", b));
    }
    gates.push(gate(
        "data_quality",
        bad.is_empty(),
        if bad.is_empty() {
            "no duplicates, inconsistent or unreplaced provisional bars".to_string()
        } else {
            list(&bad)
        },
    ));
    gates.push(gaps_gate(cfg, &q, &required, date, findings)?);
    let ca: Vec<String> = q
        .of("corporate_action")
        .map(|f| format!("{} {}", f.symbol, f.detail))
        .collect();
    gates.push(gate(
        "corporate_actions",
        ca.is_empty(),
        if ca.is_empty() {
            format!(
                "no unexplained move beyond {}%",
                cfg.data.corporate_action_move_pct
            )
        } else {
            list(&ca)
        },
    ));
    Ok(gates)
}

pub(super) fn list(items: &[String]) -> String {
    let mut s: Vec<String> = items.iter().take(5).cloned().collect();
    if items.len() > 5 {
        s.push(format!("… {} more", items.len() - 5));
    }
    s.join("; ")
}

/// The built-in simulator is always reachable; its persistent account must be readable,
/// pass its invariants (`sim::read_book`) and hold only symbols of the universe.
fn broker_gate(ctx: &Ctx) -> Gate {
    let cfg = &ctx.config;
    let path = cfg.paths.state_dir.join("sim").join("account.json");
    match crate::broker::sim::read_book(&path) {
        Ok(None) => gate(
            "broker",
            true,
            format!(
                "sim: no account yet; the first run creates it with {:.2}",
                cfg.account.initial_capital
            ),
        ),
        Ok(Some(book)) => {
            let outside = book.check_universe(&cfg.universe());
            if outside.is_empty() {
                gate(
                    "broker",
                    true,
                    format!(
                        "sim: account readable, cash {:.2}, {} position(s)",
                        crate::money::dollars(book.cash_cents),
                        book.positions.len()
                    ),
                )
            } else {
                gate(
                    "broker",
                    false,
                    format!(
                        "sim: {}: {} not in the universe of {}",
                        path.display(),
                        outside.join(", "),
                        cfg.source_file.display()
                    ),
                )
            }
        }
        Err(e) => gate("broker", false, e.to_string()),
    }
}

/// The broker gates of the venue the configured phase trades on (none in dry-run: nothing is
/// sent). The plan's targets are the strategy's decision for the date (the risk rules only
/// scale them down), valued at the day's closes; `live` sizes on its capital fraction.
fn venue_gates(ctx: &Ctx, state: &State, date: NaiveDate) -> Vec<Gate> {
    use super::venue::{Quotes, Venue};
    let cfg = &ctx.config;
    if cfg.phase == crate::config::Phase::DryRun {
        return Vec::new();
    }
    let venue = Venue::configured(cfg);
    let mut broker = match super::venue::open_broker(ctx, venue, date, Quotes::Venue) {
        Ok(b) => b,
        Err(e) => return vec![gate("broker_account", false, format!("{e:#}"))],
    };
    let (targets, prices) = match super::daily::load_in(ctx, state, date, &venue.sim_dir(cfg)) {
        Ok(d) => {
            let fraction = match venue {
                Venue::Live => cfg.live.capital_fraction,
                Venue::Paper => 1.0,
            };
            let targets = d
                .decision
                .targets
                .as_ref()
                .map(|t| t.iter().map(|(s, w)| (s.clone(), w * fraction)).collect())
                .unwrap_or_default();
            (targets, d.closes)
        }
        Err(e) => {
            return vec![gate(
                "broker_account",
                false,
                format!("the day cannot be loaded to check the broker against the plan: {e:#}"),
            )];
        }
    };
    let ours = match (
        crate::calendar::open_instant(date),
        crate::calendar::close_instant(date),
    ) {
        (Ok(Some(o)), Ok(Some(c))) => Some((o.time(), c.time())),
        _ => None,
    };
    let symbols = cfg.universe();
    let recorded = state
        .broker_accounts
        .get(venue.as_str())
        .map(String::as_str);
    super::preflight_broker::venue_gates(
        broker.as_mut(),
        &super::preflight_broker::VenueExpectations {
            date,
            ours,
            recorded_account: recorded,
            symbols: &symbols,
            targets: &targets,
            prices: &prices,
        },
    )
}

fn secrets_gate(ctx: &Ctx) -> Gate {
    let needed: &[&str] = match ctx.config.data.source {
        crate::config::DataSource::Alpaca => &super::fetch_remote::ALPACA_KEY_VARS,
        _ => &[],
    };
    let missing: Vec<&str> = needed
        .iter()
        .copied()
        .filter(|k| ctx.secrets.get(k).is_none())
        .collect();
    if missing.is_empty() {
        gate(
            "secrets",
            true,
            if needed.is_empty() {
                "none needed for sim broker and this data source".to_string()
            } else {
                format!("{} present", needed.join(", "))
            },
        )
    } else {
        gate(
            "secrets",
            false,
            format!(
                "missing from the environment and env file: {}",
                missing.join(", ")
            ),
        )
    }
}

fn record(ctx: &Ctx, date: NaiveDate, gates: &[Gate], pass: bool) -> Result<()> {
    let n = gates.len();
    let mut t = Table::default();
    t.push("date", Col::Date(vec![date; n]))
        .push(
            "run_at",
            Col::Str(vec![
                ctx.now
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
                n
            ]),
        )
        .push(
            "check",
            Col::Str(gates.iter().map(|g| g.name.to_string()).collect()),
        )
        .push("pass", Col::Bool(gates.iter().map(|g| g.pass).collect()))
        .push(
            "detail",
            Col::Str(gates.iter().map(|g| g.detail.clone()).collect()),
        )
        .push(
            "verdict",
            Col::Str(vec![
                if pass {
                    "go".to_string()
                } else {
                    "no-go".to_string()
                };
                n
            ]),
        );
    ledger::append(
        &ctx.config.paths.ledger_dir.join("preflight.parquet"),
        &t,
        None,
    )?;
    Ok(())
}
