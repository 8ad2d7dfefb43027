//! Preflight's broker gates, asked of the venue itself: the keys are accepted, the account
//! is the recorded one and may trade, the venue's clock and calendar agree with our NYSE
//! calendar for the date, every symbol to trade is tradable and not halted, and the buying
//! power covers the plan. A venue that has no clock, calendar or asset list (the simulator)
//! passes those gates by saying so.

use std::collections::BTreeMap;

use chrono::{NaiveDate, NaiveTime};

use super::preflight::{Gate, gate};
use crate::broker::{Broker, BrokerError};

/// Our calendar's view of the date: `None` when the market is closed, else open and close
/// in New York time.
pub type OurSession = Option<(NaiveTime, NaiveTime)>;

/// What the gates compare the venue with.
pub struct VenueExpectations<'a> {
    pub date: NaiveDate,
    pub ours: OurSession,
    /// The account id recorded at the first use of this venue, if any.
    pub recorded_account: Option<&'a str>,
    /// Symbols the plan may trade (the universe).
    pub symbols: &'a [String],
    /// The plan's target weights and the prices they are valued at, for buying power.
    pub targets: &'a BTreeMap<String, f64>,
    pub prices: &'a BTreeMap<String, f64>,
}

/// Every broker gate, in order. An unreachable venue or refused keys fail the first gate and
/// the rest are not asked (they would fail for the same reason).
pub fn venue_gates(broker: &mut dyn Broker, exp: &VenueExpectations) -> Vec<Gate> {
    let name = broker.name().to_string();
    let account = match broker.account() {
        Ok(a) => a,
        Err(e) => return vec![gate("broker_account", false, refused(&e))],
    };
    let mut gates = Vec::with_capacity(5);
    gates.push(match broker.standing() {
        Ok(s) => {
            let mut problems = Vec::new();
            if s.account_blocked {
                problems.push("account_blocked is true".to_string());
            }
            if s.trading_blocked {
                problems.push("trading_blocked is true".to_string());
            }
            if let Some(rec) = exp.recorded_account.filter(|r| *r != s.account_id) {
                problems.push(format!(
                    "the account is {} but the state recorded {rec} (a different account is a reconciliation failure, not a switch)",
                    s.account_id
                ));
            }
            if problems.is_empty() {
                gate(
                    "broker_account",
                    true,
                    format!(
                        "{name}: keys accepted, account {} {}, equity {:.2}",
                        s.account_id,
                        s.status,
                        crate::money::dollars(account.equity_cents)
                    ),
                )
            } else {
                gate(
                    "broker_account",
                    false,
                    format!("{name}: account {}: {}", s.account_id, problems.join("; ")),
                )
            }
        }
        Err(e) => gate("broker_account", false, refused(&e)),
    });
    gates.push(calendar_gate(broker, exp));
    gates.push(assets_gate(broker, exp.symbols));
    gates.push(buying_power_gate(
        &name,
        account.buying_power_cents,
        account.equity_cents,
        broker.positions(),
        exp,
    ));
    gates
}

fn refused(e: &BrokerError) -> String {
    match e {
        BrokerError::Unauthorized { .. } => format!("{e} (check the key variables)"),
        _ => e.to_string(),
    }
}

fn fmt_session(s: OurSession) -> String {
    match s {
        None => "closed".into(),
        Some((o, c)) => format!("{}-{}", o.format("%H:%M"), c.format("%H:%M")),
    }
}

/// The venue's session for the date (from its calendar) against ours, and its clock's
/// next open/close (when it has a clock) on a trading day.
fn calendar_gate(broker: &mut dyn Broker, exp: &VenueExpectations) -> Gate {
    let name = broker.name().to_string();
    let sessions = match broker.sessions(exp.date, exp.date) {
        Ok(s) => s,
        Err(e) => return gate("broker_calendar", false, e.to_string()),
    };
    let Some(sessions) = sessions else {
        return gate(
            "broker_calendar",
            true,
            format!("{name} follows our NYSE calendar (it has none of its own)"),
        );
    };
    let theirs: OurSession = sessions
        .iter()
        .find(|s| s.date == exp.date)
        .map(|s| (s.open, s.close));
    if theirs != exp.ours {
        return gate(
            "broker_calendar",
            false,
            format!(
                "{} disagrees on {}: {name} says {}, our NYSE calendar says {}",
                name,
                exp.date,
                fmt_session(theirs),
                fmt_session(exp.ours)
            ),
        );
    }
    gate(
        "broker_calendar",
        true,
        format!("{name} agrees on {}: {}", exp.date, fmt_session(exp.ours)),
    )
}

fn assets_gate(broker: &mut dyn Broker, symbols: &[String]) -> Gate {
    let name = broker.name().to_string();
    let mut bad = Vec::new();
    let mut asked = 0usize;
    for sym in symbols {
        match broker.asset(sym) {
            Ok(None) => {}
            Ok(Some(a)) => {
                asked += 1;
                let mut why = Vec::new();
                if !a.active {
                    why.push("not active");
                }
                if !a.tradable {
                    why.push("not tradable");
                }
                if a.halted {
                    why.push("halted");
                }
                if !why.is_empty() {
                    bad.push(format!("{sym} {}", why.join(", ")));
                }
            }
            Err(e) => bad.push(format!("{sym}: {e}")),
        }
    }
    if !bad.is_empty() {
        gate(
            "broker_assets",
            false,
            format!("{name}: {}", super::preflight::list(&bad)),
        )
    } else if asked == 0 {
        gate(
            "broker_assets",
            true,
            format!("{name} trades every symbol it has a price for"),
        )
    } else {
        gate(
            "broker_assets",
            true,
            format!("{name}: all {asked} symbol(s) tradable, none halted"),
        )
    }
}

/// The plan's net purchase at the given prices: what the targets hold minus what is held
/// now, over the account's equity. Sells fund buys, so only the net must fit the buying
/// power.
pub fn net_purchase_cents(
    equity_cents: i64,
    positions: &BTreeMap<String, i64>,
    targets: &BTreeMap<String, f64>,
    prices: &BTreeMap<String, f64>,
) -> Result<i64, String> {
    let equity = crate::money::dollars(equity_cents);
    let mut net = 0.0f64;
    for (sym, w) in targets {
        let p = prices
            .get(sym)
            .copied()
            .ok_or_else(|| format!("no price for {sym}"))?;
        let held = positions.get(sym).copied().unwrap_or(0) as f64 * p;
        net += w * equity - held;
    }
    for (sym, qty) in positions.iter().filter(|(s, _)| !targets.contains_key(*s)) {
        let p = prices
            .get(sym)
            .copied()
            .ok_or_else(|| format!("no price for held {sym}"))?;
        net -= *qty as f64 * p;
    }
    crate::money::try_cents(net.max(0.0))
        .ok_or_else(|| format!("the plan's net purchase {net} is out of range"))
}

fn buying_power_gate(
    name: &str,
    buying_power_cents: i64,
    equity_cents: i64,
    positions: Result<BTreeMap<String, i64>, BrokerError>,
    exp: &VenueExpectations,
) -> Gate {
    let positions = match positions {
        Ok(p) => p,
        Err(e) => return gate("buying_power", false, e.to_string()),
    };
    match net_purchase_cents(equity_cents, &positions, exp.targets, exp.prices) {
        Err(why) => gate("buying_power", false, format!("{name}: {why}")),
        Ok(need) if need > buying_power_cents => gate(
            "buying_power",
            false,
            format!(
                "{name}: the plan buys {:.2} net but the buying power is {:.2}",
                crate::money::dollars(need),
                crate::money::dollars(buying_power_cents)
            ),
        ),
        Ok(need) => gate(
            "buying_power",
            true,
            format!(
                "{name}: buying power {:.2} covers the plan's net purchase of {:.2}",
                crate::money::dollars(buying_power_cents),
                crate::money::dollars(need)
            ),
        ),
    }
}

#[cfg(test)]
#[path = "preflight_broker_tests.rs"]
mod tests;
