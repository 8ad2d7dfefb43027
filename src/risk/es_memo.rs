//! Carrying the historical ES forward from one day of a run to a later one.
//!
//! On most days of a backtest the book is unchanged and every return window is yesterday's
//! moved on by one day, so the portfolio series loses its oldest day and gains one new day. If
//! the day that leaves was not in the worst-k tail, today's tail is yesterday's with the new day
//! offered to it: the same set of losses a full recomputation finds, summed in the same order,
//! so the same figure to the bit. The same holds over `g` days (none of the `g` leaving days in
//! the tail, the `g` new days offered), so the memo keeps the last measurement of the few most
//! recent books and picks one up again when the strategy comes back to it within weeks.
//!
//! "Moved on" is decided by where each window sits in the run's return series, which the memo
//! borrows for its whole life: a window is recognised only if it lies inside its symbol's
//! series, and then it *is* `series[off..off + n]` (a live, immutably borrowed buffer cannot
//! share memory with any other allocation, and cannot change or move while borrowed). Every
//! offset `g` past the remembered one, with the same `n`, means the windows moved on by `g`
//! days. Anything else (a window copied from elsewhere, a frozen leg, another estimator, an
//! unseen book, window length or tail size, a non-finite value) takes the full path. Pure: a
//! cache, not an input; a run with and without it decides the same (tested).

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
    /// The last measurement of each of the most recently measured books, newest first.
    books: RefCell<Vec<Day>>,
    carried: Cell<usize>,
}

/// How many books the memo remembers: a regime strategy moves between a few allocations and
/// often comes back to one within weeks.
const BOOKS: usize = 8;

/// What the last measurement of one book saw and found.
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
            books: RefCell::new(Vec::with_capacity(BOOKS + 1)),
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
        let mut books = self.books.borrow_mut();
        // The last measurement of this same book, if it was taken on an earlier day.
        match books.iter().position(|day| day.same_book(&legs, n, k)) {
            Some(i) => {
                let day = &mut books[i];
                if Self::carry(day, &legs, n) {
                    self.carried.set(self.carried.get() + 1);
                } else {
                    day.tail = full_tail(book, ctx, n, k)?;
                }
                for (kept, leg) in day.legs.iter_mut().zip(&legs) {
                    kept.2 = leg.3.off;
                }
                // Most recent first (usually it already is).
                books[..=i].rotate_right(1);
            }
            None => {
                let tail = full_tail(book, ctx, n, k)?;
                if books.len() == BOOKS {
                    // The least recently measured book is forgotten.
                    books.pop();
                }
                books.insert(
                    0,
                    Day {
                        legs: legs
                            .iter()
                            .map(|(s, w, _, leg)| (s.to_string(), w.to_bits(), leg.off))
                            .collect(),
                        n,
                        tail,
                        k,
                    },
                );
            }
        }
        let es = books.first()?.tail.values().iter().sum::<f64>() / k as f64;
        Some(es)
    }

    /// Bring an earlier day's tail of the same book to today, when each of today's windows is
    /// that day's moved on by the same `g` days (1 ≤ g ≤ n/4) and none of the `g` days that
    /// left could have been in the tail: the tail then loses nothing and is offered the `g` new
    /// days. False (and the tail untouched) otherwise.
    fn carry(day: &mut Day, legs: &[(&str, f64, &[f64], Leg)], n: usize) -> bool {
        let Some(((_, _, off), (_, _, _, leg))) = day.legs.first().zip(legs.first()) else {
            return false;
        };
        let Some(g) = leg.off.checked_sub(*off) else {
            return false;
        };
        let moved_on = (1..=n / 4).contains(&g)
            && day
                .legs
                .iter()
                .zip(legs)
                .all(|((_, _, off), (_, _, _, leg))| *off + g == leg.off);
        // Day t of the old window, which left, sits g − t days before today's windows; the day
        // that entered t-th is today's n − g + t.
        let left = |t: usize| {
            -portfolio_return(
                legs.iter()
                    .map(|(_, w, _, leg)| (*w, leg.series[leg.off - g + t])),
            )
        };
        let entering =
            |t: usize| -portfolio_return(legs.iter().map(|(_, w, r, _)| (*w, r[n - g + t])));
        // A leaving day at or above the k-th worst may have been in the tail: recompute.
        let kth = day.tail.kth();
        if !moved_on || (0..g).any(|t| left(t) >= kth || !entering(t).is_finite()) {
            return false;
        }
        for t in 0..g {
            day.tail.offer(entering(t));
        }
        true
    }
}

/// The full path's tail: exactly the series the ES rule measures (nothing frozen: the whole
/// book is the free leg), which refuses a non-finite day, so the tail sees only finite values.
fn full_tail(book: &BTreeMap<String, f64>, ctx: &RiskContext, n: usize, k: usize) -> Option<Top> {
    Some(es::tail(
        &es::weighted_returns(book, &ctx.returns, n).ok()?,
        k,
    ))
}

impl Day {
    /// The same weighted symbols with the same weights, window length and tail size.
    fn same_book(&self, legs: &[(&str, f64, &[f64], Leg)], n: usize, k: usize) -> bool {
        self.k == k
            && self.n == n
            && self.legs.len() == legs.len()
            && self
                .legs
                .iter()
                .zip(legs)
                .all(|((s, w, _), (t, v, _, _))| s == t && *w == v.to_bits())
    }
}
