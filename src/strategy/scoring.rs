//! Cross-sectional scoring of factor values over a universe: winsorising at the 1 %/99 %
//! quantiles (type-7 linear interpolation), z-scores (ddof 1), optional sector neutralising (z
//! within each sector), a composite of weights and signs, and ranks (composite descending, ties by
//! symbol ascending in byte order). A value that is not finite scores z = 0 and is reported.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Lower and upper winsorising quantiles.
pub const WINSOR: (f64, f64) = (0.01, 0.99);

/// One factor in the composite.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FactorWeight {
    /// Factor name (see `strategy::factors::FACTORS`).
    pub name: String,
    /// Weight in the composite (> 0).
    pub weight: f64,
    /// +1 rewards high values, −1 low values.
    pub sign: f64,
}

/// A factor value that was not finite (scored as z = 0).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NonFinite {
    /// Symbol.
    pub symbol: String,
    /// Factor name.
    pub factor: String,
}

/// The scores of a universe.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Scores {
    /// z-scores, one column per factor (in the order of the weights), one entry per symbol.
    pub z: Vec<Vec<f64>>,
    /// `Σ_f w_f·sign_f·z_f / Σ_f w_f` per symbol.
    pub composite: Vec<f64>,
    /// Symbol indices best first.
    pub order: Vec<usize>,
    /// 1-based rank per symbol.
    pub rank: Vec<usize>,
    /// Values that were not finite.
    pub non_finite: Vec<NonFinite>,
}

/// Type-7 quantile of ascending `sorted` values: `h = (N−1)p`,
/// `x_⌊h⌋ + (h−⌊h⌋)(x_⌊h⌋+1 − x_⌊h⌋)`. NaN if empty.
pub fn quantile7(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let h = (sorted.len() - 1) as f64 * p;
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
}

/// Clips the finite values to their [`WINSOR`] quantiles (non-finite values are left as they are).
pub fn winsorise(x: &[f64]) -> Vec<f64> {
    let mut sorted: Vec<f64> = x.iter().copied().filter(|v| v.is_finite()).collect();
    sorted.sort_by(f64::total_cmp);
    let (lo, hi) = (quantile7(&sorted, WINSOR.0), quantile7(&sorted, WINSOR.1));
    x.iter()
        .map(|v| if v.is_finite() { v.clamp(lo, hi) } else { *v })
        .collect()
}

/// z-scores of the finite values among `idx` with ddof 1, written into `out`; non-finite values,
/// and every value when fewer than 2 are finite or they do not vary, get 0.
fn zscore_into(x: &[f64], idx: &[usize], out: &mut [f64]) {
    let fin: Vec<f64> = idx
        .iter()
        .map(|&i| x[i])
        .filter(|v| v.is_finite())
        .collect();
    let n = fin.len();
    let mean = fin.iter().sum::<f64>() / n.max(1) as f64;
    let sd = if n < 2 {
        0.0
    } else {
        (fin.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / (n - 1) as f64).sqrt()
    };
    for &i in idx {
        out[i] = if x[i].is_finite() && sd > 0.0 && sd.is_finite() {
            (x[i] - mean) / sd
        } else {
            0.0
        };
    }
}

/// z-scores (ddof 1) over all entries.
pub fn zscore(x: &[f64]) -> Vec<f64> {
    let mut out = vec![0.0; x.len()];
    let idx: Vec<usize> = (0..x.len()).collect();
    zscore_into(x, &idx, &mut out);
    out
}

/// z-scores (ddof 1) within each sector group.
pub fn zscore_by_sector(x: &[f64], sectors: &[String]) -> Vec<f64> {
    let mut groups: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, s) in sectors.iter().enumerate() {
        groups.entry(s.as_str()).or_default().push(i);
    }
    let mut out = vec![0.0; x.len()];
    for idx in groups.values() {
        zscore_into(x, idx, &mut out);
    }
    out
}

/// Scores `raw` (one column per weight, one entry per symbol). With `sectors`, z-scores are
/// taken within each sector (after winsorising over the whole universe).
pub fn score(
    symbols: &[String],
    sectors: Option<&[String]>,
    raw: &[Vec<f64>],
    weights: &[FactorWeight],
) -> Scores {
    let n = symbols.len();
    let mut non_finite = Vec::new();
    let mut z = Vec::with_capacity(weights.len());
    for (f, w) in weights.iter().enumerate() {
        let col = &raw[f];
        for (i, v) in col.iter().enumerate() {
            if !v.is_finite() {
                non_finite.push(NonFinite {
                    symbol: symbols[i].clone(),
                    factor: w.name.clone(),
                });
            }
        }
        let win = winsorise(col);
        z.push(match sectors {
            Some(s) => zscore_by_sector(&win, s),
            None => zscore(&win),
        });
    }
    let total: f64 = weights.iter().map(|w| w.weight).sum();
    let composite: Vec<f64> = (0..n)
        .map(|i| {
            let s: f64 = weights
                .iter()
                .enumerate()
                .map(|(f, w)| w.weight * w.sign * z[f][i])
                .sum();
            if total > 0.0 { s / total } else { 0.0 }
        })
        .collect();
    let order = rank_order(symbols, &composite);
    let mut rank = vec![0; n];
    for (r, &i) in order.iter().enumerate() {
        rank[i] = r + 1;
    }
    Scores {
        z,
        composite,
        order,
        rank,
        non_finite,
    }
}

/// Symbol indices by `value` descending, ties by symbol ascending (byte order).
pub fn rank_order(symbols: &[String], value: &[f64]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..symbols.len()).collect();
    order.sort_by(|&a, &b| {
        value[b]
            .total_cmp(&value[a])
            .then_with(|| symbols[a].as_bytes().cmp(symbols[b].as_bytes()))
    });
    order
}

#[cfg(test)]
#[path = "scoring_tests.rs"]
mod tests;
