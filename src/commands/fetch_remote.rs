//! Downloading bars from Alpaca or Yahoo for `fetch`: the incremental window (after the
//! last stored bar, minus an overlap for revisions), provisional quotes, progress.

use std::collections::BTreeMap;
use std::io::IsTerminal;

use anyhow::{Context, Result};
use chrono::{Duration, NaiveDate};

use super::Ctx;
use crate::cli::FetchArgs;
use crate::config::DataSource;
use crate::data::http::Secret;
use crate::data::store::BarStore;
use crate::data::{alpaca, yahoo};
use crate::exit::{Exit, ExitError};
use crate::model::Bar;

/// Fetch the universe (or `wanted`, the validated `--symbols`) from a remote source.
pub fn download(
    ctx: &Ctx,
    args: &FetchArgs,
    wanted: &[String],
    source: DataSource,
    store: &BarStore,
) -> Result<BTreeMap<String, Vec<Bar>>> {
    let cfg = &ctx.config;
    let symbols: Vec<String> = if wanted.is_empty() {
        cfg.universe()
    } else {
        wanted.to_vec()
    };
    let today = ctx.today();
    let calendar = || format!("the NYSE calendar has no answer for {today}");
    let end = if crate::calendar::is_trading_day(today).with_context(calendar)? {
        today
    } else {
        crate::calendar::previous_trading_day(today).with_context(calendar)?
    };
    // One window for all symbols: from the oldest "last bar" minus the overlap.
    let mut start = args.start.unwrap_or(cfg.data.history_start);
    let mut all_stored = true;
    let mut earliest_last: Option<NaiveDate> = None;
    for s in &symbols {
        match store.read(s)?.and_then(|b| b.last().map(|b| b.date)) {
            Some(d) => earliest_last = Some(earliest_last.map_or(d, |e| e.min(d))),
            None => all_stored = false,
        }
    }
    if all_stored && let Some(d) = earliest_last {
        start = start.max(d - Duration::days(cfg.data.overlap_days as i64));
    }
    let tty = std::io::stderr().is_terminal() && !ctx.log.quiet;
    let progress = |done: usize, total: usize| {
        if tty {
            eprint!("\r{source:?}: {done}/{total} symbols");
            if done == total {
                eprintln!();
            }
        }
    };
    ctx.log.info(&format!(
        "fetching {} symbol(s) from {start} to {end}",
        symbols.len()
    ));
    let mut bars = match source {
        DataSource::Alpaca => {
            let mut a = cfg.data.alpaca.clone();
            let (k, s) = alpaca_keys(ctx)?;
            a.key_id = Some(k);
            a.secret = Some(s);
            let mut got =
                alpaca::fetch_daily_bars_with_progress(&a, &symbols, start, end, &progress)
                    .context("downloading bars from alpaca (the store is unchanged)")?
                    .bars;
            if args.quotes {
                let prov = alpaca::fetch_provisional(&a, &symbols, today)
                    .context("downloading latest quotes from alpaca")?;
                if !prov.missing.is_empty() {
                    ctx.log
                        .warn(&format!("no quote today for: {}", prov.missing.join(", ")));
                }
                for (sym, bar) in prov.bars {
                    got.entry(sym).or_default().push(bar);
                }
            }
            got
        }
        DataSource::Yahoo => {
            if args.quotes {
                return Err(ExitError::new(
                    Exit::Usage,
                    "fetch --quotes needs --source alpaca (Yahoo has no snapshot endpoint here)",
                )
                .into());
            }
            yahoo::fetch_daily_bars_with_progress(&cfg.data.yahoo, &symbols, start, end, &progress)
                .context("downloading bars from yahoo (the store is unchanged)")?
                .bars
        }
        DataSource::Csv => BTreeMap::new(),
    };
    for v in bars.values_mut() {
        v.sort_by_key(|b| b.date);
    }
    Ok(bars)
}

/// The environment variables holding the Alpaca key pair (id, secret).
pub const ALPACA_KEY_VARS: [&str; 2] = ["APCA_API_KEY_ID", "APCA_API_SECRET_KEY"];

/// The Alpaca key pair from the environment or the env file; the error names exactly the
/// variables that are missing.
pub fn alpaca_keys(ctx: &Ctx) -> Result<(Secret, Secret)> {
    let names = ALPACA_KEY_VARS;
    match names.map(|n| ctx.secrets.get(n)) {
        [Some(k), Some(s)] => Ok((Secret::new(k), Secret::new(s))),
        values => {
            let missing: Vec<&str> = names
                .iter()
                .zip(&values)
                .filter(|(_, v)| v.is_none())
                .map(|(n, _)| *n)
                .collect();
            Err(ExitError::new(
                Exit::Usage,
                format!(
                    "alpaca needs {} in the environment or the env file (nothing was fetched or written)",
                    missing.join(" and ")
                ),
            )
            .into())
        }
    }
}
