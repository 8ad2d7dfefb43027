//! `trader fetch`: bring daily bars into the store — from CSV files, Alpaca or Yahoo —
//! incrementally, validated, merged and atomically replaced. A failure leaves the store
//! exactly as it was. `--symbols` is validated before anything is read or downloaded.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use serde::Serialize;

use super::Ctx;
use crate::cli::{FetchArgs, SourceArg};
use crate::config::DataSource;
use crate::data::csv_import;
use crate::data::store::{self, BarStore, StoreError};
use crate::data::symbol::Symbol;
use crate::exit::{Exit, ExitError};
use crate::model::Bar;
use crate::state::{JobRecord, JobResult};

/// What a fetch did, for people and for `--json`.
#[derive(Debug, Serialize)]
pub struct FetchSummary {
    pub source: String,
    pub symbols: usize,
    pub rows_added: usize,
    pub rows_replaced: usize,
    /// Bars stored as provisional (dated today before the session settled, or `--quotes`).
    pub rows_provisional: usize,
    /// Share of the fetched symbols with a bar on the last completed session.
    pub coverage: f64,
    pub last_session: Option<chrono::NaiveDate>,
    pub seconds: f64,
    pub skipped_rows: Vec<String>,
    /// Distinct first dates requested (symbols with the same last bar share a window).
    pub windows: usize,
    /// Symbols the source returned no bars for: nothing was written for them.
    pub no_data: Vec<NoData>,
}

/// A symbol the source returned nothing for.
#[derive(Debug, Serialize)]
pub struct NoData {
    pub symbol: String,
    /// The strategy reads it (a required symbol with no data fails the fetch).
    pub required: bool,
    pub reason: String,
}

/// Run the fetch and record it in the state — a failed fetch too, as `failed` with its error.
pub fn run(ctx: &Ctx, args: &FetchArgs) -> Result<Exit> {
    let started = Instant::now();
    let wanted = requested_symbols(&args.symbols)?;
    let source = match args.source {
        Some(SourceArg::Csv) => DataSource::Csv,
        Some(SourceArg::Alpaca) => DataSource::Alpaca,
        Some(SourceArg::Yahoo) => DataSource::Yahoo,
        None => ctx.config.data.source,
    };
    // Missing keys are a configuration error: report it before the lock or the state is touched.
    if source == DataSource::Alpaca {
        super::fetch_remote::alpaca_keys(ctx)?;
    }
    let today = ctx.today();
    let last_session = crate::calendar::last_completed_session(ctx.now)
        .with_context(|| format!("finding the last completed NYSE session before {today}"))?;
    let mut job = super::open_job(ctx, "fetch")?;
    let outcome = fetch_and_store(ctx, args, &wanted, source, last_session, started);
    let (result, detail) = match &outcome {
        Ok((_, detail, exit)) if *exit == Exit::Ok => (JobResult::Ok, detail.clone()),
        Ok((_, detail, _)) => (JobResult::Failed, detail.clone()),
        Err(e) => (JobResult::Failed, one_line(&format!("{e:#}"))),
    };
    job.state.record_job(
        ctx.today(),
        JobRecord {
            job: "fetch".into(),
            phase: None,
            started_at: ctx.now,
            finished_at: ctx.clock(),
            result,
            detail: detail.clone(),
            skipped_preflight: false,
        },
    );
    let saved = job.save(ctx.now);
    let (summary, _, exit) = match outcome {
        Ok(v) => v,
        Err(e) => {
            if let Err(s) = saved {
                ctx.log
                    .warn(&format!("the failed fetch could not be recorded: {s:#}"));
            }
            return Err(e);
        }
    };
    saved?;
    if exit == Exit::Ok {
        ctx.log.info(&format!("fetch: {detail}"));
    }
    if ctx.json {
        super::print_json(&summary)?;
    } else {
        outln!(
            "fetched {} symbol(s) from {}: {} row(s) added, {} replaced, {} provisional, coverage {:.0}% of {} in {:.2}s",
            summary.symbols,
            summary.source,
            summary.rows_added,
            summary.rows_replaced,
            summary.rows_provisional,
            summary.coverage * 100.0,
            summary
                .last_session
                .map(|d| d.to_string())
                .unwrap_or_default(),
            summary.seconds
        );
    }
    if exit != Exit::Ok {
        return Err(ExitError::new(exit, detail).into());
    }
    Ok(Exit::Ok)
}

/// The first line of an error, with a count of the lines left out (CSV problem lists).
fn one_line(text: &str) -> String {
    let mut lines = text.lines();
    let first = lines.next().unwrap_or_default().to_string();
    match lines.count() {
        0 => first,
        n => format!("{first} (+{n} line(s))"),
    }
}

/// Download or import, merge and write; the summary, the job detail, and the exit code
/// (`Unavailable` when a symbol the strategy reads got no bars at all).
fn fetch_and_store(
    ctx: &Ctx,
    args: &FetchArgs,
    wanted: &[String],
    source: DataSource,
    last_session: chrono::NaiveDate,
    started: Instant,
) -> Result<(FetchSummary, String, Exit)> {
    let bar_store = BarStore::new(&ctx.config.paths.bars_dir);
    let mut unknown = BTreeSet::new();
    let (fetched, skipped, starts, end, mut stored_all) = match source {
        DataSource::Csv => {
            let imp = read_csv_dir(ctx, args, wanted)?;
            let names: Vec<String> = imp.bars.keys().cloned().collect();
            let mut stored = BTreeMap::new();
            for (s, read) in names.iter().zip(bar_store.read_many(&names)) {
                let bars = read.with_context(|| format!("reading stored bars of {s}"))?;
                stored.insert(s.clone(), bars.unwrap_or_default());
            }
            (imp.bars, imp.skipped, BTreeMap::new(), None, stored)
        }
        DataSource::Alpaca | DataSource::Yahoo => {
            let dl = super::fetch_remote::download(ctx, args, wanted, source, &bar_store)?;
            unknown.extend(dl.unknown);
            (dl.bars, Vec::new(), dl.starts, Some(dl.end), dl.stored)
        }
    };
    // The sources check their rows; this is the one rule every bar stored passes, whatever
    // it came from (a bar dated after today in New York included).
    let today = ctx.today();
    let unusable: Vec<String> = fetched
        .iter()
        .flat_map(|(sym, bars)| crate::model::unusable_bars(sym, bars, today))
        .collect();
    if !unusable.is_empty() {
        return Err(ExitError::new(
            Exit::Unavailable,
            format!(
                "{} sent unusable bars, the bar store is unchanged:\n{}",
                format!("{source:?}").to_lowercase(),
                bounded_lines(unusable).join("\n")
            ),
        )
        .into());
    }
    let required: BTreeSet<String> =
        crate::strategy::Strategy::required_symbols(&ctx.config.strategy_impl())
            .into_iter()
            .collect();
    let mut merged = BTreeMap::new();
    let mut last_dates = Vec::new();
    let mut no_data = Vec::new();
    let (mut added, mut replaced, mut provisional) = (0, 0, 0);
    // CSV imports every file it read; a remote fetch every symbol it asked for.
    let names: Vec<String> = if source == DataSource::Csv {
        fetched.keys().cloned().collect()
    } else {
        starts.keys().cloned().collect()
    };
    for symbol in &names {
        let fresh = fetched.get(symbol).map(Vec::as_slice).unwrap_or_default();
        let stored = stored_all.remove(symbol).unwrap_or_default();
        if fresh.is_empty() && source != DataSource::Csv {
            let from = starts
                .get(symbol)
                .map(|d| d.to_string())
                .unwrap_or_default();
            let to = end.map(|d| d.to_string()).unwrap_or_default();
            let reason = match stored.last() {
                _ if unknown.contains(symbol) => format!(
                    "unknown to the source (HTTP 404 for {from}..{to}){}",
                    stored
                        .last()
                        .map(|b| format!("; last stored bar {}: delisted?", b.date))
                        .unwrap_or_default()
                ),
                None => format!(
                    "no bars from the source for {from}..{to} and none stored: unknown to the source, delisted, or not traded then"
                ),
                Some(l) => format!(
                    "no bars from the source for {from}..{to}; last stored bar {}: delisted or halted?",
                    l.date
                ),
            };
            last_dates.push(stored.last().map(|b| b.date));
            no_data.push(NoData {
                symbol: symbol.clone(),
                required: required.contains(symbol),
                reason,
            });
            continue;
        }
        // The stored bars are strictly ascending (the store refuses a file that is not): a
        // binary search per fresh bar instead of a map over every stored bar.
        for b in fresh {
            let known = stored
                .binary_search_by_key(&b.date, |s| s.date)
                .ok()
                .map(|i| stored[i].provisional);
            match known {
                // merge keeps the official bar: nothing changes.
                Some(false) if b.provisional => continue,
                Some(_) => replaced += 1,
                None => added += 1,
            }
            if b.provisional {
                provisional += 1;
            }
        }
        let m = store::merge_owned(stored, fresh);
        last_dates.push(m.last().map(|b| b.date));
        merged.insert(symbol.clone(), m);
    }
    let t = Instant::now();
    ctx.log.debug(&format!(
        "downloaded and merged in {:.2}s",
        started.elapsed().as_secs_f64()
    ));
    if let Err(e) = bar_store.write_many(&merged) {
        let what = if matches!(e, StoreError::Partial { .. }) {
            "writing the bar store (some files were replaced, see below)"
        } else {
            "writing the bar store (nothing was replaced)"
        };
        return Err(anyhow::Error::new(e).context(what));
    }
    ctx.log.debug(&format!(
        "wrote {} bar file(s) in {:.2}s",
        merged.len(),
        t.elapsed().as_secs_f64()
    ));
    // Found before the lock: a calendar error is reported there, never swallowed here.
    let last_session = Some(last_session);
    let covered = last_dates
        .iter()
        .filter(|last| matches!((last, last_session), (Some(l), Some(s)) if *l >= s))
        .count();
    let windows = starts.values().collect::<BTreeSet<_>>().len();
    let summary = FetchSummary {
        source: format!("{source:?}").to_lowercase(),
        symbols: names.len(),
        rows_added: added,
        rows_replaced: replaced,
        rows_provisional: provisional,
        coverage: if names.is_empty() {
            0.0
        } else {
            covered as f64 / names.len() as f64
        },
        last_session,
        seconds: started.elapsed().as_secs_f64(),
        skipped_rows: skipped,
        windows,
        no_data,
    };
    for n in &summary.no_data {
        ctx.log.warn(&format!(
            "{}{}: {} (nothing written)",
            n.symbol,
            if n.required {
                " (read by the strategy)"
            } else {
                ""
            },
            n.reason
        ));
    }
    let missing_required: Vec<&str> = summary
        .no_data
        .iter()
        .filter(|n| n.required)
        .map(|n| n.symbol.as_str())
        .collect();
    let mut detail = format!(
        "{}: {} symbol(s), {added} row(s) added, {replaced} replaced{}",
        summary.source,
        summary.symbols,
        if provisional > 0 {
            format!(", {provisional} provisional")
        } else {
            String::new()
        }
    );
    if !summary.no_data.is_empty() {
        let names: Vec<&str> = summary.no_data.iter().map(|n| n.symbol.as_str()).collect();
        detail.push_str(&format!(
            "; no data for {} symbol(s): {}",
            names.len(),
            bounded(&names, 5)
        ));
    }
    let exit = if missing_required.is_empty() {
        Exit::Ok
    } else {
        detail = format!(
            "no bars for {} which the strategy reads (the other symbols were stored); {detail}",
            missing_required.join(", ")
        );
        Exit::Unavailable
    };
    Ok((summary, detail, exit))
}

/// `A, B, C, … 7 more`
pub fn bounded(items: &[&str], n: usize) -> String {
    let mut s = items.iter().take(n).copied().collect::<Vec<_>>().join(", ");
    if items.len() > n {
        s.push_str(&format!(", … {} more", items.len() - n));
    }
    s
}

struct Imports {
    bars: BTreeMap<String, Vec<Bar>>,
    skipped: Vec<String>,
}

fn csv_files(from: &Path) -> Result<Vec<PathBuf>> {
    if from.is_file() {
        return Ok(vec![from.to_path_buf()]);
    }
    let rd = std::fs::read_dir(from).map_err(|e| {
        ExitError::new(
            Exit::Usage,
            format!(
                "--from {}: not a CSV file or directory: {e}",
                from.display()
            ),
        )
    })?;
    let mut files: Vec<PathBuf> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e.eq_ignore_ascii_case("csv")))
        .collect();
    files.sort();
    // Reading a FIFO (or a device) named `x.csv` would block forever: only regular files
    // (or symlinks to them) are read.
    if let Some(odd) = files.iter().find(|p| !p.is_file()) {
        return Err(ExitError::new(
            Exit::Usage,
            format!(
                "{}: not a regular file (nothing was imported)",
                odd.display()
            ),
        )
        .into());
    }
    Ok(files)
}

/// `--symbols` as validated symbols: whitespace trimmed and lower case upper-cased
/// (`"AAPL, msft"` is AAPL and MSFT); anything else that is not a symbol is a usage error
/// before anything is read or downloaded.
fn requested_symbols(given: &[String]) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::with_capacity(given.len());
    let mut bad = Vec::new();
    for s in given {
        match Symbol::from_user(s) {
            Ok(sym) if !out.contains(&sym.to_string()) => out.push(sym.into_string()),
            Ok(_) => {}
            Err(e) => bad.push(e.to_string()),
        }
    }
    if !bad.is_empty() {
        return Err(ExitError::new(
            Exit::Usage,
            format!(
                "--symbols: {} (nothing was fetched or written)",
                bad.join("; ")
            ),
        )
        .into());
    }
    Ok(out)
}

/// At most 50 lines, then a count of the rest.
fn bounded_lines(problems: Vec<String>) -> Vec<String> {
    let n = problems.len();
    let mut shown: Vec<String> = problems.into_iter().take(50).collect();
    if n > 50 {
        shown.push(format!("… and {} more", n - 50));
    }
    shown
}

/// Parse every CSV file; any bad row anywhere refuses the whole import (unless skipping).
/// With `wanted` symbols, only those are imported and each must be found.
fn read_csv_dir(ctx: &Ctx, args: &FetchArgs, wanted: &[String]) -> Result<Imports> {
    let from = args
        .from
        .clone()
        .or_else(|| {
            ctx.config
                .data
                .csv_dir
                .as_ref()
                .map(|d| crate::config::resolve(&ctx.config.root_dir, d))
        })
        .ok_or_else(|| {
            ExitError::new(
                Exit::Usage,
                "fetch --source csv needs --from DIR (or data.csv_dir in the config)",
            )
        })?;
    let files = csv_files(&from)?;
    if files.is_empty() {
        return Err(
            ExitError::new(Exit::Usage, format!("{}: no .csv files", from.display())).into(),
        );
    }
    let today = ctx.today();
    let mut bars = BTreeMap::new();
    let mut problems = Vec::new();
    let mut skipped = Vec::new();
    let mut seen: BTreeMap<String, PathBuf> = BTreeMap::new();
    let mut everything = std::collections::BTreeSet::new();
    for f in files {
        // A regular file only: a FIFO named *.csv must not block the import.
        let bytes = crate::fsutil::read_regular(&f).map_err(|e| {
            ExitError::new(Exit::Usage, format!("{}: cannot read: {e}", f.display()))
        })?;
        match csv_import::import_file(&f, &bytes, args.skip_bad_rows, today) {
            Ok(imp) => {
                let mut kept = false;
                for (symbol, series) in imp.bars {
                    everything.insert(symbol.clone());
                    if !wanted.is_empty() && !wanted.contains(&symbol) {
                        continue;
                    }
                    kept = true;
                    if let Some(first) = seen.insert(symbol.clone(), f.clone()) {
                        problems.push(format!(
                            "{}: symbol {symbol} is also in {}",
                            f.display(),
                            first.display()
                        ));
                    }
                    bars.insert(symbol, series);
                }
                if kept {
                    for s in &imp.skipped {
                        ctx.log.warn(&format!("skipped {s}"));
                    }
                    skipped.extend(imp.skipped);
                }
            }
            Err(e) => problems.extend(e.problems),
        }
    }
    if !problems.is_empty() {
        let n = problems.len();
        return Err(ExitError::new(
            Exit::Usage,
            format!(
                "CSV import refused, the bar store is unchanged ({n} problem(s)):\n{}",
                bounded_lines(problems).join("\n")
            ),
        )
        .into());
    }
    let missing: Vec<&str> = wanted
        .iter()
        .filter(|s| !bars.contains_key(*s))
        .map(String::as_str)
        .collect();
    if !missing.is_empty() {
        let found: Vec<&str> = everything.iter().map(String::as_str).take(10).collect();
        return Err(ExitError::new(
            Exit::Usage,
            format!(
                "--symbols {}: no CSV data in {} (it holds {}), the bar store is unchanged",
                missing.join(","),
                from.display(),
                if found.is_empty() {
                    "no other symbols either".to_string()
                } else if everything.len() > 10 {
                    format!("{}, … ({} symbols)", found.join(", "), everything.len())
                } else {
                    found.join(", ")
                }
            ),
        )
        .into());
    }
    Ok(Imports { bars, skipped })
}
