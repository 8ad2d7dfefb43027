//! Price/volume factors of one symbol on one date, computed from the 253 bars that end on that
//! date (so a factor on date D reads bars dated ≤ D only). The definitions are in [`defs`] and
//! documented in `docs/factors.md`; the first 20 follow `factors-reference.md` exactly.

pub mod defs;
pub mod stats;

use chrono::NaiveDate;

pub use defs::{FACTORS, FactorDef};

use super::Series;

/// Rows in a factor window: the decision date and the 252 before it.
pub const WINDOW: usize = 253;

/// The 253 rows `k = 0..252` a factor reads, with the returns and (optionally) the market.
#[derive(Debug, Clone)]
pub struct Window<'a> {
    /// Closes.
    pub c: &'a [f64],
    /// Highs.
    pub h: &'a [f64],
    /// Lows.
    pub l: &'a [f64],
    /// Volumes.
    pub v: &'a [f64],
    /// `r[k] = c[k]/c[k−1] − 1` for `k ≥ 1`; `r[0]` is NaN.
    pub r: Vec<f64>,
    /// The equal-weight market return on the same rows (`m[0]` unused), if known.
    pub m: Option<&'a [f64]>,
}

impl<'a> Window<'a> {
    /// A window over the last [`WINDOW`] entries of the columns (`None` if shorter or ragged;
    /// `market` must then have [`WINDOW`] entries too).
    pub fn new(
        c: &'a [f64],
        h: &'a [f64],
        l: &'a [f64],
        v: &'a [f64],
        market: Option<&'a [f64]>,
    ) -> Option<Window<'a>> {
        let n = c.len();
        if n < WINDOW || h.len() != n || l.len() != n || v.len() != n {
            return None;
        }
        if market.is_some_and(|m| m.len() != WINDOW) {
            return None;
        }
        let s = n - WINDOW;
        let c = &c[s..];
        Some(Window {
            c,
            h: &h[s..],
            l: &l[s..],
            v: &v[s..],
            r: returns(c),
            m: market,
        })
    }

    /// The last `n` returns, `r_{253−n} ..= r_252`.
    pub fn last_r(&self, n: usize) -> &[f64] {
        &self.r[WINDOW - n..]
    }
}

/// Simple returns of a close column: `r[0]` NaN, `r[k] = c[k]/c[k−1] − 1`.
pub fn returns(c: &[f64]) -> Vec<f64> {
    let mut r = Vec::with_capacity(c.len());
    r.push(f64::NAN);
    r.extend(c.windows(2).map(|w| w[1] / w[0] - 1.0));
    r
}

/// Every factor of [`FACTORS`] on a window, in table order.
pub fn compute(w: &Window) -> Vec<f64> {
    FACTORS.iter().map(|f| (f.compute)(w)).collect()
}

/// The equal-weight market return over aligned close windows (each [`WINDOW`] long, same dates):
/// `m[k]` = mean over the windows of `r[k]`; `m[0]` is NaN.
pub fn equal_weight_market(closes: &[&[f64]]) -> Vec<f64> {
    let mut m = vec![0.0; WINDOW];
    m[0] = f64::NAN;
    if closes.is_empty() {
        return vec![f64::NAN; WINDOW];
    }
    for c in closes {
        let c = &c[c.len() - WINDOW..];
        for k in 1..WINDOW {
            m[k] += c[k] / c[k - 1] - 1.0;
        }
    }
    let n = closes.len() as f64;
    for x in m.iter_mut().skip(1) {
        *x /= n;
    }
    m
}

/// The factors of `series` on `date`, from its bars dated ≤ `date` only; `None` if it has fewer
/// than [`WINDOW`] of them or its last bar before `date` is not dated `date`.
pub fn compute_at(series: &Series, date: NaiveDate, market: Option<&[f64]>) -> Option<Vec<f64>> {
    let n = series.bars_through(date);
    if n == 0 || series.dates[n - 1] != date {
        return None;
    }
    let w = Window::new(
        &series.close[..n],
        &series.high[..n],
        &series.low[..n],
        &series.volume[..n],
        market,
    )?;
    Some(compute(&w))
}

/// Index of a factor by name.
pub fn index_of(name: &str) -> Option<usize> {
    FACTORS.iter().position(|f| f.name == name)
}

/// A content hash (FNV-1a 64, hex) of the named factors' definitions (name, sign, formula), so a
/// changed definition under an unchanged name is noticed.
pub fn definitions_hash(names: &[String]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for name in names {
        let text = match FACTORS.iter().find(|f| f.name == name) {
            Some(f) => format!("{}|{}|{}\n", f.name, f.sign, f.formula),
            None => format!("{name}|unknown\n"),
        };
        for b in text.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    format!("{h:016x}")
}

#[cfg(test)]
mod tests;
