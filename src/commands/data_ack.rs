//! `trader data ack SYMBOL DATE... --reason "..."`: accept known gaps of the feed. Each
//! (symbol, date) is appended to `data/ledger/data_acks.parquet` with who (`$USER`, else
//! `unknown`), when (the job clock) and why; preflight's `gaps` gate then lists those gaps as
//! acknowledged instead of failing on them. Holds the state lock while it writes, so it never
//! races a preflight.

use anyhow::{Context, Result};
use serde::Serialize;

use super::Ctx;
use crate::cli::AckArgs;
use crate::data::gaps::{self, Ack};
use crate::exit::{Exit, ExitError};
use crate::state::lock;

#[derive(Serialize)]
struct Acked<'a> {
    symbol: &'a str,
    dates: Vec<String>,
    reason: &'a str,
    by: &'a str,
    at: &'a str,
    ledger: String,
}

pub fn run(ctx: &Ctx, args: &AckArgs) -> Result<Exit> {
    let symbol = args.symbol.trim().to_ascii_uppercase();
    if !crate::data::valid_symbol(&symbol) {
        return Err(ExitError::new(
            Exit::Usage,
            format!(
                "data ack: SYMBOL = {:?}: must be a ticker of letters, digits, '.' or '-' (nothing recorded)",
                args.symbol
            ),
        )
        .into());
    }
    let reason = args.reason.trim();
    if reason.is_empty() {
        return Err(ExitError::new(
            Exit::Usage,
            "data ack: --reason must say why the gap is acceptable (nothing recorded)",
        )
        .into());
    }
    for d in &args.dates {
        if !crate::calendar::is_trading_day(*d).context("checking the calendar")? {
            return Err(ExitError::new(
                Exit::Usage,
                format!("data ack: DATE = {d}: not an NYSE session, so it cannot be a gap (nothing recorded)"),
            )
            .into());
        }
    }
    let by = std::env::var("USER")
        .ok()
        .filter(|u| !u.trim().is_empty())
        .unwrap_or_else(|| "unknown".to_string());
    let at = ctx
        .clock()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let mut dates = args.dates.clone();
    dates.sort();
    dates.dedup();
    let acks: Vec<Ack> = dates
        .iter()
        .map(|d| Ack {
            symbol: symbol.clone(),
            date: *d,
            reason: reason.to_string(),
            by: by.clone(),
            at: at.clone(),
        })
        .collect();
    let cfg = &ctx.config;
    let _lock = lock::acquire(
        &cfg.paths.state_dir.join("trader.lock"),
        "data ack",
        ctx.now,
    )?;
    let path = gaps::acks_path(&cfg.paths.ledger_dir);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    gaps::append_acks(&path, &acks).context("recording the acknowledgements")?;
    let shown: Vec<String> = dates.iter().map(|d| d.to_string()).collect();
    ctx.log.info(&format!(
        "data ack: {symbol} {} acknowledged by {by}: {reason}",
        shown.join(", ")
    ));
    if ctx.json {
        super::print_json(&Acked {
            symbol: &symbol,
            dates: shown,
            reason,
            by: &by,
            at: &at,
            ledger: path.display().to_string(),
        })?;
    } else {
        outln!(
            "acknowledged {} gap(s) of {symbol}: {} ({reason}; by {by} at {at}) in {}",
            acks.len(),
            shown.join(", "),
            path.display()
        );
    }
    Ok(Exit::Ok)
}
