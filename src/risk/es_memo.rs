//! Carrying the historical ES forward from one day of a run to a later one.
//!
//! On most days of a backtest the book is unchanged and every return window is yesterday's
//! moved on by one day (or, while a series is shorter than the window, grown by one day), so
//! the portfolio series loses its oldest day, if any, and gains one new day. The memo keeps
//! more of the worst days than the tail needs (the worst `k + 16`, at most 64): a day that
//! leaves is taken out of that list if it is in it, and the new day is offered to it. While
//! the list still holds at least `k` days, its first `k` are exactly the worst `k` of today's
//! window (a list of the worst `m` days of a set, less one of its own days, is the worst
//! `m − 1` of what remains), so the ES is the same set of losses a full recomputation finds,
//! summed in the same order: the same figure to the bit. The same holds over several days, so
//! the memo keeps the last measurement of the few most recent books and picks one up again
//! when the strategy comes back to it within weeks.
//!
//! "Moved on" is decided by where each window sits in the run's return series, which the memo
//! borrows for its whole life: a window is recognised only if it lies inside its symbol's
//! series, and then it *is* `series[off..off + n]` (a live, immutably borrowed buffer cannot
//! share memory with any other allocation, and cannot change or move while borrowed). The same
//! `g` days dropped at the start of every window and the same `e` added at the end
//! (`1 ≤ g + e ≤ n/4`) means the windows moved on. Anything else (a window copied from
//! elsewhere, a frozen leg, another estimator, an unseen book, a list worn down below `k`, a
//! non-finite value) takes the full path. Pure: a cache, not an input; a run with and without
//! it decides the same (tested).

use std::cell::{Cell, Ref, RefCell};
use std::collections::BTreeMap;

use super::RiskContext;
use super::config::EsCfg;
use super::es::{self, Top};

/// The memo of one run (one account, one sequence of days) over that run's return series
/// (`symbol → daily returns`, oldest first). Daily jobs run without one.
#[derive(Debug)]
pub struct EsMemo<'r> {
    /// Every symbol's whole series, in symbol order.
    series: Vec<(&'r str, &'r [f64])>,
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
    /// The weighted legs in book order: weight bits, the symbol's series (its index in
    /// [`EsMemo::series`]), and where the window started in it. A leg is known by its series:
    /// distinct symbols' series are distinct live buffers, so a window inside one belongs to
    /// that symbol (no names compared).
    legs: Vec<(u64, usize, usize)>,
    /// Window length.
    n: usize,
    /// The worst days of the window, more than the tail needs (see [`kept`]).
    tail: Top,
}

/// A day's legs: `(symbol, weight, returns)`. A regime book has a few, kept on the stack;
/// a larger book spills to the heap.
#[allow(clippy::large_enum_variant)] // the inline variant is the point: one per call, on the stack
enum LegBuf<'a> {
    Stack([(&'a str, f64, &'a [f64]); 8], usize),
    Heap(Vec<(&'a str, f64, &'a [f64])>),
}

impl Default for LegBuf<'_> {
    fn default() -> Self {
        LegBuf::Stack([("", 0.0, &[]); 8], 0)
    }
}

impl<'a> LegBuf<'a> {
    fn push(&mut self, leg: (&'a str, f64, &'a [f64])) {
        match self {
            LegBuf::Stack(a, n) if *n < a.len() => {
                a[*n] = leg;
                *n += 1;
            }
            LegBuf::Stack(a, n) => {
                let mut v = a[..*n].to_vec();
                v.push(leg);
                *self = LegBuf::Heap(v);
            }
            LegBuf::Heap(v) => v.push(leg),
        }
    }

    fn as_mut_slice(&mut self) -> &mut [(&'a str, f64, &'a [f64])] {
        match self {
            LegBuf::Stack(a, n) => &mut a[..*n],
            LegBuf::Heap(v) => v,
        }
    }
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

/// Where `window` starts in `series`, if it lies inside it.
fn offset_in(series: &[f64], window: &[f64]) -> Option<usize> {
    let size = std::mem::size_of::<f64>();
    let bytes = (window.as_ptr() as usize).checked_sub(series.as_ptr() as usize)?;
    let off = bytes / size;
    (bytes % size == 0 && off + window.len() <= series.len()).then_some(off)
}

impl<'r> EsMemo<'r> {
    /// A memo for windows cut from `series`.
    pub fn over(series: impl IntoIterator<Item = (&'r str, &'r [f64])>) -> Self {
        let mut series: Vec<(&'r str, &'r [f64])> = series.into_iter().collect();
        // Looked up by symbol (binary search) when a book is first seen.
        series.sort_by(|a, b| a.0.cmp(b.0));
        EsMemo {
            series,
            books: RefCell::new(Vec::with_capacity(BOOKS + 1)),
            carried: Cell::new(0),
        }
    }

    /// The same weights on windows that lie in the same series, leg by leg.
    fn same_book(&self, day: &Day, legs: &[(&str, f64, &[f64])]) -> bool {
        day.legs.len() == legs.len()
            && day
                .legs
                .iter()
                .zip(legs)
                .all(|((bits, s, _), (_, w, window))| {
                    *bits == w.to_bits() && offset_in(self.series[*s].1, window).is_some()
                })
    }

    /// How many measurements were carried forward rather than recomputed.
    pub fn days_carried(&self) -> usize {
        self.carried.get()
    }

    /// The worst days of `book` (nothing frozen) over today's windows, for its historical ES,
    /// or `None` when the caller must take the full path (which then also reports any error).
    pub(crate) fn historical(
        &self,
        book: &BTreeMap<String, f64>,
        ctx: &RiskContext,
        cfg: &EsCfg,
        alpha: f64,
    ) -> Option<Worst<'_>> {
        // The weighted symbols with their return windows, in one walk of the two ordered maps
        // (a weighted symbol without returns: the full path reports it).
        let mut series = ctx.returns.iter().peekable();
        // (symbol, weight, returns; then today's window of them)
        let mut buf = LegBuf::default();
        for (sym, &w) in book.iter().filter(|(_, w)| **w != 0.0) {
            if !w.is_finite() {
                return None;
            }
            while series.next_if(|(s, _)| *s < sym.as_str()).is_some() {}
            let (_, r) = series.next_if(|(s, _)| *s == sym.as_str())?;
            buf.push((sym.as_str(), w, r));
        }
        let legs = buf.as_mut_slice();
        let n = legs
            .iter()
            .fold(cfg.window_days, |n, (_, _, r)| n.min(r.len()));
        let k = es::tail_count(n, alpha);
        es::check_alpha(alpha).ok()?;
        if legs.is_empty() || n < cfg.min_observations.max(2) || k > 64 {
            return None;
        }
        for (_, _, r) in legs.iter_mut() {
            *r = &r[r.len() - n..];
        }
        let legs = &*legs;
        let mut books = self.books.borrow_mut();
        // The last measurement of this same book, if it was taken on an earlier day.
        match books.iter().position(|day| self.same_book(day, legs)) {
            Some(i) => {
                let day = &mut books[i];
                let measured = if self.carry(day, legs, n, k) {
                    self.carried.set(self.carried.get() + 1);
                    true
                } else if let Some(tail) = full_tail(book, ctx, n, kept(k)) {
                    day.tail = tail;
                    true
                } else {
                    false
                };
                // Today's windows become the remembered ones (they lie in its series).
                day.n = n;
                let moved = day.legs.iter_mut().zip(legs).all(|(leg, (_, _, window))| {
                    offset_in(self.series[leg.1].1, window)
                        .map(|off| leg.2 = off)
                        .is_some()
                });
                if !(measured && moved) {
                    // A day the full path refuses (or a tail half carried) is not remembered.
                    books.remove(i);
                    return None;
                }
                // Most recent first (usually it already is).
                if i > 0 {
                    books[..=i].rotate_right(1);
                }
            }
            None => {
                // A book not seen lately: find each window in its symbol's series (a window
                // that lies elsewhere, e.g. a copy, is never remembered).
                let mut day_legs = Vec::with_capacity(legs.len());
                for (sym, w, window) in legs {
                    let i = self.series.binary_search_by(|(s, _)| s.cmp(sym)).ok()?;
                    day_legs.push((w.to_bits(), i, offset_in(self.series[i].1, window)?));
                }
                let tail = full_tail(book, ctx, n, kept(k))?;
                if books.len() == BOOKS {
                    // The least recently measured book is forgotten.
                    books.pop();
                }
                books.insert(
                    0,
                    Day {
                        legs: day_legs,
                        n,
                        tail,
                    },
                );
            }
        }
        drop(books);
        Ref::filter_map(self.books.borrow(), |books| {
            books.first()?.tail.values().get(..k)
        })
        .ok()
        .map(Worst)
    }

    /// Bring an earlier day's tail of the same book to today's windows of `n` days (tail size
    /// `k`), when each of them is that day's window with the same `g ≥ 0` oldest days gone and
    /// `e ≥ 0` new days added (the window moved on and/or grew; `g + e ≤ n/4`): the days that
    /// left are taken out of the kept list, the new days offered to it. False when that does
    /// not hold, a new day is not finite, or the list no longer keeps `k` values: the tail
    /// may then be half carried, and the caller must measure it in full or forget it.
    fn carry(&self, day: &mut Day, legs: &[(&str, f64, &[f64])], n: usize, k: usize) -> bool {
        let series = |i: usize| self.series[i].1;
        let Some(((_, s, off), (_, _, window))) = day.legs.first().zip(legs.first()) else {
            return false;
        };
        let Some(g) = offset_in(series(*s), window).and_then(|now| now.checked_sub(*off)) else {
            return false;
        };
        let Some(e) = (g + n).checked_sub(day.n) else {
            return false;
        };
        let moved_on = (1..=n / 4).contains(&(g + e))
            && g <= day.n
            && day
                .legs
                .iter()
                .zip(legs)
                .all(|((_, s, off), (_, _, window))| {
                    offset_in(series(*s), window) == Some(off + g)
                });
        if !moved_on {
            return false;
        }
        // Day t of the old window, which left, is its series' `off + t`; the day that entered
        // t-th is today's window's n − e + t.
        let left = |t: usize| {
            -portfolio_return(
                day.legs
                    .iter()
                    .zip(legs)
                    .map(|((_, s, off), (_, w, _))| (*w, series(*s)[off + t])),
            )
        };
        let entering =
            |t: usize| -portfolio_return(legs.iter().map(|(_, w, window)| (*w, window[n - e + t])));
        for t in 0..g {
            let loss = left(t);
            if !day.tail.remove(loss) {
                return false;
            }
        }
        if day.tail.capacity() < k {
            return false;
        }
        for t in 0..e {
            let loss = entering(t);
            if !loss.is_finite() {
                return false;
            }
            day.tail.offer(loss);
        }
        true
    }
}

/// Today's worst `k` daily losses of a book, largest first, exactly as the full path finds
/// them in the book's daily returns: lent by the memo from its newest book (the one just
/// measured).
pub(crate) struct Worst<'m>(Ref<'m, [f64]>);

impl Worst<'_> {
    /// The historical ES: their mean, summed largest first as [`es::historical_var_es`] does.
    pub(crate) fn es(&self) -> f64 {
        let v = &*self.0;
        v.iter().sum::<f64>() / v.len() as f64
    }

    /// The historical ES of the book with every weight scaled by `c ≥ 0`, as measuring the
    /// scaled book finds it: its daily returns are `c·r` (rounded), rounding keeps their order,
    /// so its worst days are these, each `c·l`, summed in the same order.
    pub(crate) fn es_scaled(&self, c: f64) -> f64 {
        let v = &*self.0;
        v.iter().map(|l| c * l).sum::<f64>() / v.len() as f64
    }
}

/// How many of the worst days a measurement keeps for a tail of `k`: some to spare, so that
/// tail days can leave the window (each costs the list one place) before it must be measured
/// again in full.
fn kept(k: usize) -> usize {
    (k + 16).min(64)
}

/// The full path's tail: exactly the series the ES rule measures (nothing frozen: the whole
/// book is the free leg), which refuses a non-finite day, so the tail sees only finite values.
fn full_tail(book: &BTreeMap<String, f64>, ctx: &RiskContext, n: usize, k: usize) -> Option<Top> {
    Some(es::tail(
        &es::weighted_returns(book, &ctx.returns, n).ok()?,
        k,
    ))
}
