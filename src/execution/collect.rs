//! Collecting what the broker did with orders the journal still has pending — the
//! limit-on-close orders of `close_auction`, which fill at the official close after the run
//! ended: every journaled order that was sent and is not final is looked up by its client
//! order id and the answer adopted (new executions applied to the state's account record
//! once each, by execution id). Shared by `trader sync`, `validate` and `eod`.

use chrono::{DateTime, NaiveDate, Utc};

use super::engine::{ExecError, Saver};
use super::journal::JournalStatus;
use crate::broker::Broker;
use crate::state::State;

/// What a collection found.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Collected {
    /// Orders looked up.
    pub looked_up: usize,
    /// Orders that became final, `date client_order_id status`.
    pub settled: Vec<String>,
    /// Orders still not final (the broker has not filled them yet).
    pub pending: Vec<String>,
    /// Dates whose journal changed (their fills ledger rows are rewritten).
    pub dates: Vec<NaiveDate>,
}

/// The journaled orders of `dates` (every date when `None`) sent and not final.
pub fn pending(state: &State, only: Option<NaiveDate>) -> Vec<(NaiveDate, usize)> {
    state
        .journal
        .iter()
        .filter(|(d, _)| only.is_none_or(|o| o == **d))
        .flat_map(|(d, j)| {
            j.orders
                .iter()
                .enumerate()
                .filter(|(_, o)| !o.status.is_final() && o.status != JournalStatus::Intended)
                .map(move |(i, _)| (*d, i))
        })
        .collect()
}

/// Look every pending order up and adopt the broker's answer, saving after each change.
pub fn collect<B: Broker + ?Sized>(
    broker: &mut B,
    state: &mut State,
    only: Option<NaiveDate>,
    now: DateTime<Utc>,
    save: &mut Saver,
) -> Result<Collected, ExecError> {
    let mut out = Collected::default();
    for (date, i) in pending(state, only) {
        let Some(id) = state
            .journal
            .get(&date)
            .and_then(|j| j.orders.get(i))
            .map(|o| o.client_order_id.clone())
        else {
            continue;
        };
        out.looked_up += 1;
        let Some(b) = broker.order_by_client_id(&id)? else {
            out.pending
                .push(format!("{date} {} (unknown at the broker)", id.0));
            continue;
        };
        let State {
            journal, account, ..
        } = &mut *state;
        let account = account.as_mut().ok_or_else(|| {
            ExecError::State("the state has no account record to apply fills to".into())
        })?;
        let Some(o) = journal.get_mut(&date).and_then(|j| j.orders.get_mut(i)) else {
            continue;
        };
        let changed = o.adopt(&b, account, now).map_err(ExecError::State)?;
        let line = format!("{date} {} {}", id.0, o.status.as_str());
        if o.status.is_final() {
            out.settled.push(line);
        } else {
            out.pending.push(line);
        }
        if changed {
            if !out.dates.contains(&date) {
                out.dates.push(date);
            }
            save(state).map_err(ExecError::Save)?;
        }
    }
    Ok(out)
}
