//! Sending the day's journaled orders and following them to a final status.
//!
//! Every step is written ahead: the plan is saved as `intended` before anything is sent,
//! and every broker reply is adopted into the journal (and its new executions into the
//! state's account record) and saved. The kill switch is checked immediately
//! before each submission. After `fill_timeout_ms` the unfilled rest of a phase is cancelled
//! and the final status recorded.

use std::path::Path;
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, Utc};

use super::journal::{JournalOrder, JournalStatus, OrderPhase};
use super::kill_point;
use crate::broker::{Broker, BrokerError, ClientOrderId, OrderRequest, OrderType, TimeInForce};
use crate::config::ExecutionConfig;
use crate::state::State;

/// Why the engine stopped.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    #[error(transparent)]
    Broker(#[from] BrokerError),
    #[error("{0}")]
    Save(String),
    #[error("kill switch {0} is present: nothing more was sent")]
    Halted(String),
    /// The state cannot take a reply (no account record, an amount out of range).
    #[error("{0}")]
    State(String),
}

/// Saves the state (atomically, fsync'd); the engine calls it after every change.
pub type Saver<'a> = dyn FnMut(&mut State) -> Result<(), String> + 'a;

/// The engine's view of a run.
pub struct Engine<'a, B: Broker + ?Sized> {
    pub broker: &'a mut B,
    pub cfg: &'a ExecutionConfig,
    pub kill_switch: &'a Path,
    pub date: NaiveDate,
    /// The job's clock for `updated_at`.
    pub clock: &'a dyn Fn() -> DateTime<Utc>,
}

/// How many extra look-ups an order whose submission's outcome is unknown gets before the
/// run gives up on it for now (it is never sent under another id).
const UNKNOWN_LOOKUPS: u32 = 3;

impl<B: Broker + ?Sized> Engine<'_, B> {
    fn save(&self, state: &mut State, save: &mut Saver) -> Result<(), ExecError> {
        save(state).map_err(ExecError::Save)
    }

    fn order<'s>(&self, state: &'s mut State, i: usize) -> Result<&'s mut JournalOrder, ExecError> {
        state
            .journal
            .get_mut(&self.date)
            .and_then(|d| d.orders.get_mut(i))
            .ok_or_else(|| ExecError::State(format!("journal of {} has no order {i}", self.date)))
    }

    /// Ask the broker about order `i` and adopt its answer; `Ok(false)` when the broker does
    /// not know the id.
    fn look_up(&mut self, state: &mut State, i: usize) -> Result<bool, ExecError> {
        let id = self.order(state, i)?.client_order_id.clone();
        let Some(b) = self.broker.order_by_client_id(&id)? else {
            return Ok(false);
        };
        let now = (self.clock)();
        let State {
            journal, account, ..
        } = state;
        let account = account.as_mut().ok_or_else(|| {
            ExecError::State("the state has no account record to apply fills to".into())
        })?;
        let o = journal
            .get_mut(&self.date)
            .and_then(|d| d.orders.get_mut(i))
            .ok_or_else(|| {
                ExecError::State(format!("journal of {} has no order {i}", self.date))
            })?;
        o.adopt(&b, account, now).map_err(ExecError::State)?;
        Ok(true)
    }

    /// A rerun: every order of the day not final is looked up. Found → adopted. Not found
    /// and `intended` → stays to be sent. Not found and `submitted`/`unknown` → asked again a
    /// few times; when the broker still does not know the id the request never reached it,
    /// and it goes back to `intended` to be sent under the SAME id (the broker refuses a
    /// second order with a known client id, so it cannot be doubled).
    pub fn sync(&mut self, state: &mut State, save: &mut Saver) -> Result<(), ExecError> {
        let n = state.journal.get(&self.date).map_or(0, |d| d.orders.len());
        for i in 0..n {
            let before = self.order(state, i)?.clone();
            let status = before.status;
            if status.is_final() {
                continue;
            }
            let mut found = self.look_up(state, i)?;
            if !found && matches!(status, JournalStatus::Submitted | JournalStatus::Unknown) {
                for _ in 0..UNKNOWN_LOOKUPS {
                    std::thread::sleep(Duration::from_millis(self.cfg.poll_interval_ms));
                    found = self.look_up(state, i)?;
                    if found {
                        break;
                    }
                }
                if !found {
                    let o = self.order(state, i)?;
                    o.status = JournalStatus::Intended;
                    o.last_error = Some(format!(
                        "{} did not know the order after {} look-ups: it never arrived",
                        self.broker.name(),
                        UNKNOWN_LOOKUPS + 1
                    ));
                }
            }
            if *self.order(state, i)? != before {
                self.save(state, save)?;
            }
        }
        Ok(())
    }

    /// Send every `intended` order of `phase`, the kill switch checked before each.
    pub fn submit_phase(
        &mut self,
        state: &mut State,
        phase: OrderPhase,
        save: &mut Saver,
    ) -> Result<(), ExecError> {
        let n = state.journal.get(&self.date).map_or(0, |d| d.orders.len());
        for i in 0..n {
            let o = self.order(state, i)?;
            if o.phase != phase || o.status != JournalStatus::Intended {
                continue;
            }
            if self.kill_switch.exists() {
                return Err(ExecError::Halted(self.kill_switch.display().to_string()));
            }
            let req = OrderRequest {
                client_order_id: o.client_order_id.clone(),
                symbol: o.symbol.clone(),
                side: o.side,
                qty: o.qty,
                limit_price: Some(o.limit_price),
                order_type: OrderType::Limit,
                time_in_force: if o.at_close {
                    TimeInForce::Cls
                } else {
                    TimeInForce::Day
                },
            };
            // Not saved before sending: a crash here leaves the order `intended`, and the
            // rerun looks its id up first (found → adopted; not found → sent under the same
            // id, which the broker never books twice).
            o.status = JournalStatus::Submitted;
            o.updated_at = (self.clock)();
            kill_point("before_send");
            let reply = self.broker.submit(&req);
            kill_point("submitted");
            match reply {
                Ok(b) => {
                    let now = (self.clock)();
                    let State {
                        journal, account, ..
                    } = &mut *state;
                    let account = account.as_mut().ok_or_else(|| {
                        ExecError::State("the state has no account record to apply fills to".into())
                    })?;
                    if let Some(o) = journal
                        .get_mut(&self.date)
                        .and_then(|d| d.orders.get_mut(i))
                    {
                        o.adopt(&b, account, now).map_err(ExecError::State)?;
                    }
                }
                Err(BrokerError::OutcomeUnknown { detail, .. }) => {
                    let o = self.order(state, i)?;
                    o.status = JournalStatus::Unknown;
                    o.last_error = Some(detail);
                }
                Err(BrokerError::Rejected { reason, .. }) => {
                    let o = self.order(state, i)?;
                    o.status = JournalStatus::Rejected;
                    o.last_error = Some(reason);
                }
                Err(e) => {
                    // Saved as `submitted`: the rerun looks the id up before anything else.
                    let o = self.order(state, i)?;
                    o.last_error = Some(e.to_string());
                    self.save(state, save)?;
                    return Err(e.into());
                }
            }
            self.save(state, save)?;
            if self.order(state, i)?.status == JournalStatus::PartiallyFilled {
                kill_point("partial");
            }
        }
        Ok(())
    }

    /// Poll the sent orders of `phase` until each is final or the timeout passes; then
    /// cancel what is left and record the final status.
    pub fn wait_phase(
        &mut self,
        state: &mut State,
        phase: OrderPhase,
        save: &mut Saver,
    ) -> Result<(), ExecError> {
        let deadline = Instant::now() + Duration::from_millis(self.cfg.fill_timeout_ms);
        loop {
            let open = self.open_in(state, phase);
            if open.is_empty() {
                return Ok(());
            }
            for i in &open {
                let before = self.order(state, *i)?.clone();
                self.look_up(state, *i)?;
                let after = self.order(state, *i)?;
                if *after != before {
                    let partial = after.status == JournalStatus::PartiallyFilled;
                    self.save(state, save)?;
                    kill_point("polled");
                    if partial {
                        kill_point("partial");
                    }
                }
            }
            if Instant::now() >= deadline {
                break;
            }
            std::thread::sleep(Duration::from_millis(self.cfg.poll_interval_ms));
        }
        for i in self.open_in(state, phase) {
            // An order whose submission's outcome is unknown and that the broker does not
            // know has nothing to cancel: the rerun asks for it again.
            if !self.look_up(state, i)? || self.order(state, i)?.status.is_final() {
                self.save(state, save)?;
                continue;
            }
            let id: ClientOrderId = self.order(state, i)?.client_order_id.clone();
            self.broker.cancel(&id)?;
            kill_point("cancelled");
            self.look_up(state, i)?;
            self.save(state, save)?;
        }
        Ok(())
    }

    /// Orders of the day sent but not final (after the timeouts: outcome still unknown).
    pub fn unresolved(&self, state: &State) -> Vec<String> {
        state.journal.get(&self.date).map_or(Vec::new(), |d| {
            d.orders
                .iter()
                .filter(|o| !o.status.is_final() && o.status != JournalStatus::Intended)
                // A limit-on-close order the broker has is pending until the close.
                .filter(|o| {
                    !o.at_close
                        || matches!(o.status, JournalStatus::Submitted | JournalStatus::Unknown)
                })
                .map(|o| o.client_order_id.0.clone())
                .collect()
        })
    }

    /// Orders of `phase` that were sent and are not final.
    fn open_in(&self, state: &State, phase: OrderPhase) -> Vec<usize> {
        state.journal.get(&self.date).map_or(Vec::new(), |d| {
            d.orders
                .iter()
                .enumerate()
                // Limit-on-close orders are not waited for: they fill at the close.
                .filter(|(_, o)| {
                    o.phase == phase
                        && !o.at_close
                        && !o.status.is_final()
                        && o.status != JournalStatus::Intended
                })
                .map(|(i, _)| i)
                .collect()
        })
    }
}
