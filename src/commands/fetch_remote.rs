//! Downloading bars from Alpaca or Yahoo for `fetch`: a window per symbol (after its last
//! stored bar, minus an overlap for revisions; symbols with the same start share requests),
//! provisional bars before the session has settled, quotes, progress.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use chrono::{Duration, NaiveDate};

use super::Ctx;
use crate::cli::FetchArgs;
use crate::config::DataSource;
use crate::data::http::{Progress, RetryHook, Secret};
use crate::data::store::BarStore;
use crate::data::{alpaca, yahoo};
use crate::exit::{Exit, ExitError};
use crate::model::Bar;

/// What a remote download brought back: bars per requested symbol, and each symbol's window.
pub struct Download {
    pub bars: BTreeMap<String, Vec<Bar>>,
    /// First date requested per symbol (all windows end at `end`).
    pub starts: BTreeMap<String, NaiveDate>,
    pub end: NaiveDate,
    /// The stored bars of the requested symbols, read once for the windows and the merge.
    pub stored: Stored,
    /// Symbols the source said it does not know (Yahoo: HTTP 404).
    pub unknown: Vec<String>,
}

/// Fetch the universe (or `wanted`, the validated `--symbols`) from a remote source.
pub fn download(
    ctx: &Ctx,
    args: &FetchArgs,
    wanted: &[String],
    source: DataSource,
    store: &BarStore,
) -> Result<Download> {
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
    let t = std::time::Instant::now();
    let (starts, stored) = windows(cfg, args, store, &symbols, end)?;
    ctx.log.debug(&format!(
        "read the last bars of {} symbol(s) in {:.2}s",
        symbols.len(),
        t.elapsed().as_secs_f64()
    ));
    let mut groups: BTreeMap<NaiveDate, Vec<String>> = BTreeMap::new();
    for (s, d) in &starts {
        groups.entry(*d).or_default().push(s.clone());
    }
    let groups: Vec<(NaiveDate, Vec<String>)> = groups.into_iter().collect();
    let up_to_date = symbols.len() - starts.len();
    ctx.log.info(&format!(
        "fetching {} symbol(s) to {end} in {} window(s){}",
        starts.len(),
        groups.len(),
        if up_to_date > 0 {
            format!(", {up_to_date} already past {end}")
        } else {
            String::new()
        }
    ));
    for (start, syms) in &groups {
        ctx.log.debug(&format!(
            "window from {start}: {} symbol(s) ({}{})",
            syms.len(),
            syms.iter().take(5).cloned().collect::<Vec<_>>().join(", "),
            if syms.len() > 5 { ", …" } else { "" }
        ));
    }
    let meter = super::progress::Meter::new(&format!("{source:?}").to_lowercase(), &ctx.log);
    let progress = |p: Progress| meter.update(p);
    let log = ctx.log.clone();
    let hook = RetryHook::new(move |m: &str| log.debug(m));
    let mut unknown = Vec::new();
    let mut bars = match source {
        DataSource::Alpaca => {
            let mut a = cfg.data.alpaca.clone();
            let (k, s) = alpaca_keys(ctx)?;
            a.key_id = Some(k);
            a.secret = Some(s);
            a.http.on_retry = hook;
            let mut got = if groups.is_empty() {
                BTreeMap::new()
            } else {
                alpaca::fetch_windows(&a, &groups, end, &progress)
                    .context("downloading bars from alpaca (the store is unchanged)")?
                    .bars
            };
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
            let mut y = cfg.data.yahoo.clone();
            y.http.on_retry = hook;
            if groups.is_empty() {
                BTreeMap::new()
            } else {
                let got = yahoo::fetch_windows(&y, &groups, end, &progress)
                    .context("downloading bars from yahoo (the store is unchanged)")?;
                unknown = got.unknown;
                got.bars
            }
        }
        DataSource::Csv => BTreeMap::new(),
    };
    meter.finish();
    ctx.log
        .debug(&format!("downloaded in {:.2}s", t.elapsed().as_secs_f64()));
    let unsettled = unsettled_date(ctx);
    for v in bars.values_mut() {
        // Stable sort: of two bars on one date (the bars endpoint's and the snapshot's), the
        // later pushed one — the snapshot — is kept, unless only the earlier is official.
        v.sort_by_key(|b| b.date);
        let mut out: Vec<Bar> = Vec::with_capacity(v.len());
        for mut b in v.drain(..) {
            if Some(b.date) == unsettled && !b.provisional {
                b.provisional = true;
            }
            match out.last_mut() {
                // An official bar is never displaced by a provisional one of the same date.
                Some(last) if last.date == b.date => {
                    if !b.provisional || last.provisional {
                        *last = b;
                    }
                }
                _ => out.push(b),
            }
        }
        *v = out;
    }
    Ok(Download {
        bars,
        starts,
        end,
        stored,
        unknown,
    })
}

/// Today's New York date while its session has not settled yet: before the close plus the
/// `data.official_after` margin (early closes shift by the same margin). A bar dated that day
/// is provisional whatever the source says. `None` once settled or on a non-trading day.
pub fn unsettled_date(ctx: &Ctx) -> Option<NaiveDate> {
    let today = ctx.today();
    let close = crate::calendar::close_instant(today).ok().flatten()?;
    let margin = ctx.config.data.official_margin()?;
    (ctx.now < close.with_timezone(&chrono::Utc) + margin).then_some(today)
}

/// Stored bars per symbol.
type Stored = BTreeMap<String, Vec<Bar>>;

/// Each symbol's first date: after its last stored bar minus the overlap, or the history start
/// (`--start`) when nothing is stored. Symbols stored past `end` are left out. Also returns
/// the stored bars of the symbols that are fetched.
fn windows(
    cfg: &crate::config::Config,
    args: &FetchArgs,
    store: &BarStore,
    symbols: &[String],
    end: NaiveDate,
) -> Result<(BTreeMap<String, NaiveDate>, Stored)> {
    let base = args.start.unwrap_or(cfg.data.history_start);
    let overlap = Duration::days(cfg.data.overlap_days as i64);
    let (mut starts, mut stored) = (BTreeMap::new(), BTreeMap::new());
    let mut dedup = symbols.to_vec();
    dedup.sort();
    dedup.dedup();
    for (s, read) in dedup.iter().zip(store.read_many(&dedup)) {
        let bars = read
            .with_context(|| format!("reading stored bars of {s}"))?
            .unwrap_or_default();
        let start = match bars.last() {
            Some(b) => base.max(b.date - overlap),
            None => base,
        };
        if start <= end {
            starts.insert(s.clone(), start);
            stored.insert(s.clone(), bars);
        }
    }
    Ok((starts, stored))
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
