//! Carrying the historical ES forward from one day of a run to the next.
//!
//! On most days of a backtest the book is unchanged and every return window is yesterday's
//! moved on by one day, so the portfolio series loses its oldest day and gains one new day. If
//! the day that leaves was not in the worst-k tail, today's tail is yesterday's with the new day
//! offered to it: the same set of losses a full recomputation finds, summed in the same order,
//! so the same figure to the bit. Reuse is decided by comparing the windows element by element
//! (bit patterns), never by where they live, and anything unusual (a frozen leg, another
//! estimator, a different book, window length or tail size, a non-finite value) takes the full
//! path. Pure: a cache, not an input; a run with and without it decides the same (tested).

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;

use super::RiskContext;
use super::config::EsCfg;
use super::es::{self, Top};

/// The memo of one run (one account, one sequence of days). Daily jobs run without one.
#[derive(Debug, Default)]
pub struct EsMemo {
    last: RefCell<Option<Day>>,
    carried: Cell<usize>,
}

/// What yesterday's measurement saw and found.
#[derive(Debug)]
struct Day {
    /// Weighted symbols in book order, with their weight's bits.
    weights: Vec<(String, u64)>,
    /// Their return windows (the last `n` days each), in the same order.
    windows: Vec<Vec<f64>>,
    tail: Top,
    k: usize,
}

/// `Σ w_s · r_s` of one day from its `(w_s, r_s)` terms in book order, accumulated exactly as
/// [`es::weighted_returns`] does (the first term, then additions).
fn portfolio_return(terms: impl Iterator<Item = (f64, f64)>) -> f64 {
    terms
        .fold(None, |acc, (w, r)| {
            Some(acc.map_or(w * r, |a: f64| a + w * r))
        })
        .unwrap_or(0.0)
}

/// Equal bit patterns (no early exit, so the comparison vectorises).
fn same_bits(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .fold(0u64, |diff, (x, y)| diff | (x.to_bits() ^ y.to_bits()))
            == 0
}

impl EsMemo {
    /// How many measurements were carried forward rather than recomputed.
    pub fn days_carried(&self) -> usize {
        self.carried.get()
    }

    /// Historical ES of `book` (nothing frozen) over today's windows, or `None` when the caller
    /// must take the full path (which then also reports any error).
    pub(crate) fn historical(
        &self,
        book: &BTreeMap<String, f64>,
        ctx: &RiskContext,
        cfg: &EsCfg,
        alpha: f64,
    ) -> Option<f64> {
        let n = es::common_length(book, &ctx.returns, cfg.window_days).ok()?;
        let k = es::tail_count(n, alpha);
        es::check_alpha(alpha).ok()?;
        if n < cfg.min_observations.max(2) || k > 64 {
            return None;
        }
        let mut weighted: Vec<(&str, f64, &[f64])> = Vec::new();
        for (sym, &w) in book.iter().filter(|(_, w)| **w != 0.0) {
            let series = ctx.returns.get(sym.as_str())?;
            let window = series.get(series.len().checked_sub(n)?..)?;
            if !w.is_finite() {
                return None;
            }
            weighted.push((sym.as_str(), w, window));
        }
        if weighted.is_empty() {
            return None;
        }
        let mut memo = self.last.borrow_mut();
        let carried = memo.as_ref().and_then(|day| carry(day, &weighted, n, k));
        let tail = match carried {
            Some(tail) => {
                self.carried.set(self.carried.get() + 1);
                tail
            }
            None => {
                *memo = None;
                // Exactly the full path's series (nothing frozen: the whole book is the free leg).
                es::tail(&es::weighted_returns(book, &ctx.returns, n).ok()?, k)
            }
        };
        let es = tail.values().iter().sum::<f64>() / k as f64;
        match memo.as_mut() {
            Some(day) => {
                for (kept, (_, _, window)) in day.windows.iter_mut().zip(&weighted) {
                    kept.clear();
                    kept.extend_from_slice(window);
                }
                day.tail = tail;
            }
            None => {
                *memo = Some(Day {
                    weights: weighted
                        .iter()
                        .map(|(s, w, _)| (s.to_string(), w.to_bits()))
                        .collect(),
                    windows: weighted.iter().map(|(_, _, r)| r.to_vec()).collect(),
                    tail,
                    k,
                });
            }
        }
        Some(es)
    }
}

/// Today's tail from yesterday's, when today's windows are yesterday's moved on by one day and
/// the day that left was not in the tail.
fn carry(day: &Day, weighted: &[(&str, f64, &[f64])], n: usize, k: usize) -> Option<Top> {
    let same_book = day.k == k
        && day.weights.len() == weighted.len()
        && day
            .weights
            .iter()
            .zip(weighted)
            .all(|((s, w), (t, v, _))| s == t && *w == v.to_bits());
    let moved_on = same_book
        && day
            .windows
            .iter()
            .zip(weighted)
            .all(|(old, (_, _, new))| old.len() == n && same_bits(&old[1..], &new[..n - 1]));
    if !moved_on {
        return None;
    }
    let left = -portfolio_return(
        weighted
            .iter()
            .zip(&day.windows)
            .map(|((_, w, _), r)| (*w, r[0])),
    );
    let entering = -portfolio_return(weighted.iter().map(|(_, w, r)| (*w, r[n - 1])));
    // A leaving day at or above the k-th worst may have been in the tail: recompute.
    if !entering.is_finite() || left >= day.tail.kth() {
        return None;
    }
    let mut tail = day.tail.clone();
    tail.offer(entering);
    Some(tail)
}
