//! Carrying the historical ES forward from one day of a run to the next.
//!
//! On most days of a backtest the book is unchanged and every return window is yesterday's
//! moved on by one day, so the portfolio series loses its oldest day and gains one new day. If
//! the day that leaves was not in the worst-k tail, today's tail is yesterday's with the new day
//! offered to it: the same set of losses a full recomputation finds, summed in the same order,
//! so the same figure to the bit.
//!
//! "Moved on by one day" is decided by where each window sits in the run's return series, which
//! the memo borrows for its whole life: a window is recognised only if it lies inside its
//! symbol's series, and then it *is* `series[off..off + n]` (a live, immutably borrowed buffer
//! cannot share memory with any other allocation, and cannot change or move while borrowed).
//! Today's offset one past yesterday's, with the same `n`, means the windows moved on. Anything
//! else (a window copied from elsewhere, a frozen leg, another estimator, a different book,
//! window length or tail size, a non-finite value) takes the full path. Pure: a cache, not an
//! input; a run with and without it decides the same (tested).

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;

use super::RiskContext;
use super::config::EsCfg;
use super::es::{self, Top};

/// The memo of one run (one account, one sequence of days) over that run's return series
/// (`symbol → daily returns`, oldest first). Daily jobs run without one.
#[derive(Debug)]
pub struct EsMemo<'r> {
    series: &'r BTreeMap<String, Vec<f64>>,
    last: RefCell<Option<Day>>,
    carried: Cell<usize>,
}

/// What yesterday's measurement saw and found.
#[derive(Debug)]
struct Day {
    /// Weighted symbols in book order: weight bits and where the window starts in the series.
    legs: Vec<(String, u64, usize)>,
    n: usize,
    tail: Top,
    k: usize,
}

/// Where a window sits: its symbol's whole series, and the window's first index in it.
struct Leg<'r> {
    series: &'r [f64],
    off: usize,
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

impl<'r> EsMemo<'r> {
    /// A memo for windows cut from `series`.
    pub fn over(series: &'r BTreeMap<String, Vec<f64>>) -> Self {
        EsMemo {
            series,
            last: RefCell::new(None),
            carried: Cell::new(0),
        }
    }

    /// How many measurements were carried forward rather than recomputed.
    pub fn days_carried(&self) -> usize {
        self.carried.get()
    }

    /// `symbol`'s series and where `window` starts in it, if it lies inside it.
    fn locate(&self, symbol: &str, window: &[f64]) -> Option<Leg<'r>> {
        let series = self.series.get(symbol)?;
        let size = std::mem::size_of::<f64>();
        let bytes = (window.as_ptr() as usize).checked_sub(series.as_ptr() as usize)?;
        let off = bytes / size;
        (bytes % size == 0 && off + window.len() <= series.len()).then_some(Leg { series, off })
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
        // The weighted symbols with their whole series, in one walk of the two ordered maps
        // (a weighted symbol without returns: the full path reports it).
        let mut series = ctx.returns.iter().peekable();
        let mut weighted: Vec<(&str, f64, &[f64])> = Vec::with_capacity(book.len());
        for (sym, &w) in book.iter().filter(|(_, w)| **w != 0.0) {
            while series.next_if(|(s, _)| *s < sym.as_str()).is_some() {}
            let (_, r) = series.next_if(|(s, _)| *s == sym.as_str())?;
            weighted.push((sym.as_str(), w, r));
        }
        let n = weighted
            .iter()
            .fold(cfg.window_days, |n, (_, _, r)| n.min(r.len()));
        let k = es::tail_count(n, alpha);
        es::check_alpha(alpha).ok()?;
        if n < cfg.min_observations.max(2) || k > 64 {
            return None;
        }
        // (symbol, weight, today's window, where it sits)
        let mut legs: Vec<(&str, f64, &[f64], Leg)> = Vec::with_capacity(weighted.len());
        for (sym, w, r) in weighted {
            if !w.is_finite() {
                return None;
            }
            let window = &r[r.len() - n..];
            legs.push((sym, w, window, self.locate(sym, window)?));
        }
        if legs.is_empty() {
            return None;
        }
        let mut memo = self.last.borrow_mut();
        let carried = memo.as_ref().and_then(|day| Self::carry(day, &legs, n, k));
        let tail = match carried {
            Some(tail) => {
                self.carried.set(self.carried.get() + 1);
                tail
            }
            None => {
                *memo = None;
                // Exactly the full path's series (nothing frozen: the whole book is the free
                // leg); it refuses a non-finite day, so the tail sees only finite values.
                es::tail(&es::weighted_returns(book, &ctx.returns, n).ok()?, k)
            }
        };
        let es = tail.values().iter().sum::<f64>() / k as f64;
        match memo.as_mut() {
            Some(day) => {
                for (kept, leg) in day.legs.iter_mut().zip(&legs) {
                    kept.2 = leg.3.off;
                }
                day.tail = tail;
            }
            None => {
                *memo = Some(Day {
                    legs: legs
                        .iter()
                        .map(|(s, w, _, leg)| (s.to_string(), w.to_bits(), leg.off))
                        .collect(),
                    n,
                    tail,
                    k,
                });
            }
        }
        Some(es)
    }

    /// Today's tail from yesterday's, when today's windows are yesterday's moved on by one day
    /// and the day that left was not in the tail.
    fn carry(day: &Day, legs: &[(&str, f64, &[f64], Leg)], n: usize, k: usize) -> Option<Top> {
        let moved_on = day.k == k
            && day.n == n
            && day.legs.len() == legs.len()
            && day
                .legs
                .iter()
                .zip(legs)
                .all(|((s, w, off), (t, v, _, leg))| {
                    s == t && *w == v.to_bits() && *off + 1 == leg.off
                });
        if !moved_on {
            return None;
        }
        // The day that left sits just before each of today's windows.
        let left = -portfolio_return(
            legs.iter()
                .map(|(_, w, _, leg)| (*w, leg.series[leg.off - 1])),
        );
        let entering = -portfolio_return(legs.iter().map(|(_, w, r, _)| (*w, r[n - 1])));
        // A leaving day at or above the k-th worst may have been in the tail: recompute.
        if !entering.is_finite() || left >= day.tail.kth() {
            return None;
        }
        let mut tail = day.tail.clone();
        tail.offer(entering);
        Some(tail)
    }
}
