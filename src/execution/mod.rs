//! The execution engine: the write-ahead order journal ([`journal`]), reconciliation with
//! the broker before trading ([`reconcile`]), the sells → wait → buys loop with polling,
//! cancels and the kill switch before every submission ([`engine`]), and the fills ledger
//! rows ([`fills`]). Pure parts (collar, slippage, diffs, applying executions) do no I/O.

pub mod auction;
pub mod collect;
pub mod engine;
pub mod fills;
pub mod journal;
pub mod plan;
pub mod reconcile;

/// The env variable naming a step at which a debug build kills itself with SIGKILL (crash
/// tests): `STEP` or `STEP:N` (the N-th time the step is reached, 1-based). Steps:
/// `journal_saved`, `before_send`, `submitted`, `polled`, `partial`, `buys_planned`,
/// `cancelled`, `ledgers_written`. Compiled out of release builds.
pub const KILL_AT_ENV: &str = "TRADER_KILL_AT";

/// Kill the process at `step` when [`KILL_AT_ENV`] names it (debug builds only).
pub fn kill_point(step: &str) {
    #[cfg(debug_assertions)]
    {
        use std::sync::Mutex;
        static HITS: Mutex<Vec<(String, u32)>> = Mutex::new(Vec::new());
        let Ok(spec) = std::env::var(KILL_AT_ENV) else {
            return;
        };
        let (name, n) = match spec.split_once(':') {
            Some((s, n)) => (s, n.parse::<u32>().unwrap_or(1)),
            None => (spec.as_str(), 1),
        };
        if name != step {
            return;
        }
        let hits = {
            let Ok(mut h) = HITS.lock() else { return };
            match h.iter_mut().find(|(s, _)| s == step) {
                Some(e) => {
                    e.1 += 1;
                    e.1
                }
                None => {
                    h.push((step.to_string(), 1));
                    1
                }
            }
        };
        if hits == n {
            // SAFETY: kill(2) on our own pid with SIGKILL; no memory is touched.
            unsafe {
                libc::kill(libc::getpid(), libc::SIGKILL);
            }
        }
    }
    #[cfg(not(debug_assertions))]
    let _ = step;
}
