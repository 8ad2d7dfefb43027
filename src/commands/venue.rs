//! The broker factory: every command that touches the account opens the configured venue
//! here, behind `Box<dyn Broker>`. A venue is the paper or the live side of the configured
//! broker; the two never share an account (the simulator keeps paper in `state/sim` and
//! live in `state/sim-live`), so a paper account can never be traded by `live` and the
//! reverse. A new adapter is one arm of [`open_broker`].
//!
//! Also the account-identity check every trading run makes before it sends anything: the
//! broker's `standing().account_id` is recorded per venue on first use; a different id later,
//! or an account the broker marks blocked, stops the run (exit 3).

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, Result};
use chrono::NaiveDate;

use super::Ctx;
use crate::broker::Broker;
use crate::broker::sim::{SimBroker, SimFaults};
use crate::config::{BrokerKind, Config, Phase};
use crate::exit::{Exit, ExitError};
use crate::state::State;

/// Which side of the broker a command acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Venue {
    Paper,
    Live,
}

impl Venue {
    /// The venue of the configured `phase`: `live` trades live, every other phase the paper
    /// side (what `emergency-exit`, `reconcile` and `sync` act on).
    pub fn configured(cfg: &Config) -> Venue {
        match cfg.phase {
            Phase::Live => Venue::Live,
            Phase::DryRun | Phase::Paper => Venue::Paper,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Venue::Paper => "paper",
            Venue::Live => "live",
        }
    }

    /// The phase that trades on this venue.
    pub fn phase(self) -> Phase {
        match self {
            Venue::Paper => Phase::Paper,
            Venue::Live => Phase::Live,
        }
    }

    /// The simulator's account directory of this venue.
    pub fn sim_dir(self, cfg: &Config) -> PathBuf {
        cfg.paths.state_dir.join(match self {
            Venue::Paper => "sim",
            Venue::Live => "sim-live",
        })
    }

    /// The name the state's account record carries for `broker` on this venue (`sim`,
    /// `sim-live`): a first run on the other venue adopts its view instead of reconciling
    /// one account against the other.
    pub fn account_label(self, broker: &str) -> String {
        match self {
            Venue::Paper => broker.to_string(),
            Venue::Live => format!("{broker}-live"),
        }
    }
}

/// Where the venue's quotes come from.
pub enum Quotes<'a> {
    /// The day's decision prices (the trading runs).
    Given(&'a BTreeMap<String, f64>),
    /// The venue's own (emergency-exit, reconcile, sync). For the simulator: the last close
    /// on or before the date in the bar store of every symbol it holds or has an open order
    /// in; and an account that does not exist yet is not created (nothing to act on).
    Venue,
}

/// Open the configured broker on `venue` for `date`.
pub fn open_broker(
    ctx: &Ctx,
    venue: Venue,
    date: NaiveDate,
    quotes: Quotes,
) -> Result<Box<dyn Broker>> {
    let cfg = &ctx.config;
    match cfg.account.broker {
        BrokerKind::Sim => Ok(Box::new(open_sim(ctx, venue, date, quotes)?)),
        BrokerKind::Alpaca => {
            let side = match venue {
                Venue::Paper => crate::broker::alpaca::Venue::Paper,
                Venue::Live => crate::broker::alpaca::Venue::Live,
            };
            let mut b = crate::broker::alpaca::AlpacaBroker::connect(
                &cfg.account.alpaca,
                side,
                &ctx.secrets,
            )
            .map_err(|e| broker_refusal(&e))?;
            if let Quotes::Given(q) = quotes {
                b.set_quotes(q.clone());
            }
            Ok(Box::new(b))
        }
    }
}

/// A broker that cannot be opened: refused keys are exit 5 like an unreachable broker, with
/// the adapter's message (which names the variables to check).
fn broker_refusal(e: &crate::broker::BrokerError) -> anyhow::Error {
    ExitError::new(Exit::Unavailable, e.to_string()).into()
}

/// The simulator's account of `venue`, with the faults in force and the job's clock.
pub fn open_sim(ctx: &Ctx, venue: Venue, date: NaiveDate, quotes: Quotes) -> Result<SimBroker> {
    let cfg = &ctx.config;
    let initial = super::config_cents(cfg, "account.initial_capital", cfg.account.initial_capital)?;
    let cost = super::dry_run::cost_model(cfg);
    let dir = venue.sim_dir(cfg);
    let exists = dir.join("account.json").exists();
    let mut sim = match quotes {
        Quotes::Venue if !exists => SimBroker::in_memory(initial, cost),
        _ => {
            let (mut sim, created) = SimBroker::open(&dir, initial, cost)
                .map_err(|e| ExitError::new(Exit::Unavailable, e.to_string()))?;
            if created {
                // Each venue's account has its own id, so the identity check tells them apart.
                sim.book.account_id = Some(format!("sim-{}", venue.as_str()));
                sim.persist()
                    .map_err(|e| ExitError::new(Exit::Unavailable, e.to_string()))?;
                ctx.log.info(&format!(
                    "created the simulated {} account in {} with {:.2} cash",
                    venue.as_str(),
                    dir.display(),
                    cfg.account.initial_capital
                ));
            }
            sim
        }
    };
    sim.faults = SimFaults::from_env_or(cfg.account.sim_faults.as_deref())
        .map_err(|e| ExitError::new(Exit::Usage, e))?;
    if sim.faults != SimFaults::default() {
        ctx.log
            .warn(&format!("sim venue faults in force: {:?}", sim.faults));
    }
    sim.now = ctx.clock();
    sim.session_close = crate::calendar::close_instant(date)
        .ok()
        .flatten()
        .map(|t| t.with_timezone(&chrono::Utc));
    sim.quotes = match quotes {
        Quotes::Given(q) => q.clone(),
        Quotes::Venue => store_quotes(ctx, &sim, date),
    };
    let mut symbols: Vec<&String> = sim.quotes.keys().collect();
    symbols.extend(
        sim.book
            .orders
            .values()
            .filter(|o| !o.status.is_final())
            .map(|o| &o.symbol),
    );
    sim.official_closes = store_closes_on(ctx, date, symbols.into_iter());
    Ok(sim)
}

/// The last close on or before `date` of every symbol the sim holds or has an open order in.
fn store_quotes(ctx: &Ctx, sim: &SimBroker, date: NaiveDate) -> BTreeMap<String, f64> {
    let mut symbols: Vec<String> = sim.book.positions.keys().cloned().collect();
    symbols.extend(
        sim.book
            .orders
            .values()
            .filter(|o| !o.status.is_final())
            .map(|o| o.symbol.clone()),
    );
    symbols.sort();
    symbols.dedup();
    let store = crate::data::store::BarStore::new(&ctx.config.paths.bars_dir);
    let mut out = BTreeMap::new();
    for sym in symbols {
        match store.read_prices(&sym, false) {
            Ok(Some(p)) => {
                let n = p.dates.partition_point(|d| *d <= date);
                if let Some(close) = n.checked_sub(1).and_then(|i| p.close.get(i)) {
                    out.insert(sym, *close);
                }
            }
            Ok(None) => ctx.log.warn(&format!(
                "no bars for {sym} in {}: it has no quote and cannot be sold",
                store.dir.display()
            )),
            Err(e) => ctx.log.warn(&format!("{sym}: no quote: {e}")),
        }
    }
    out
}

/// The official close of `date` itself (no earlier bar) for each symbol the store has it
/// for: what the simulated closing auction fills at.
fn store_closes_on<'a>(
    ctx: &Ctx,
    date: NaiveDate,
    symbols: impl Iterator<Item = &'a String>,
) -> BTreeMap<String, f64> {
    let store = crate::data::store::BarStore::new(&ctx.config.paths.bars_dir);
    let mut out = BTreeMap::new();
    for sym in symbols {
        if let Ok(Some(p)) = store.read_prices(sym, false)
            && let Ok(i) = p.dates.binary_search(&date)
            && let Some(close) = p.close.get(i)
        {
            out.insert(sym.clone(), *close);
        }
    }
    out
}

/// The account at the broker must be the one this venue traded before and may trade: the
/// id is recorded on first use; a different id or a blocked account is returned as the
/// refusal's one-line detail (the caller stops with exit 3 and sends nothing).
pub fn check_identity(
    ctx: &Ctx,
    broker: &mut dyn Broker,
    state: &mut State,
    venue: Venue,
) -> Result<Option<String>> {
    let s = broker
        .standing()
        .map_err(|e| ExitError::new(Exit::Unavailable, e.to_string()))
        .context("reading the account's standing at the broker")?;
    for (flag, on) in [
        ("account_blocked", s.account_blocked),
        ("trading_blocked", s.trading_blocked),
    ] {
        if on {
            return Ok(Some(format!(
                "{} account {} is blocked ({flag} = true, status {}): nothing sent",
                broker.name(),
                s.account_id,
                s.status
            )));
        }
    }
    match state.broker_accounts.get(venue.as_str()) {
        Some(known) if *known != s.account_id => Ok(Some(format!(
            "the {} {} account is {} but this state traded {known} there: nothing sent (a different account is never adopted silently; check account.broker and its keys, or move the state aside to start over)",
            broker.name(),
            venue.as_str(),
            s.account_id
        ))),
        Some(_) => Ok(None),
        None => {
            ctx.log.info(&format!(
                "{} account {} recorded as the {} venue's account",
                broker.name(),
                s.account_id,
                venue.as_str()
            ));
            state
                .broker_accounts
                .insert(venue.as_str().to_string(), s.account_id);
            Ok(None)
        }
    }
}
