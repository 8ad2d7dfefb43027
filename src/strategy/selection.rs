//! Portfolio construction for the multi-factor strategy: the top N by rank with a maximum per
//! sector, equal / inverse-volatility / score weights, a capacity cap against 20-day average
//! dollar volume (ADV), an optional beta-neutral long/short book, the rebalance calendar and
//! factor crowding (the HHI of the composite's absolute factor contributions).

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::calendar::{self, CalendarError};

/// How the selected names are weighted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Weighting {
    /// 1/N each.
    #[default]
    Equal,
    /// Proportional to 1/volatility.
    InverseVol,
    /// Proportional to the composite score minus the lowest selected score plus its spread
    /// (so every weight is positive); equal when all scores are equal.
    Score,
}

/// How often the book is rebuilt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Rebalance {
    /// Every session.
    Daily,
    /// The first session of each ISO week.
    Weekly,
    /// The first session of each month.
    #[default]
    Monthly,
}

/// Whether `date` (a session) is a rebalance day: daily always; weekly/monthly when the previous
/// NYSE session lies in another ISO week / month.
pub fn is_rebalance_day(date: NaiveDate, every: Rebalance) -> Result<bool, CalendarError> {
    let prev = calendar::previous_trading_day(date)?;
    Ok(match every {
        Rebalance::Daily => true,
        Rebalance::Weekly => prev.iso_week() != date.iso_week(),
        Rebalance::Monthly => (prev.year(), prev.month()) != (date.year(), date.month()),
    })
}

/// Indices of the first `top_n` of `order` (best first) with at most `max_per_sector` per sector.
pub fn top_n(
    order: &[usize],
    sectors: &[String],
    top_n: usize,
    max_per_sector: Option<usize>,
) -> Vec<usize> {
    let mut count: BTreeMap<&str, usize> = BTreeMap::new();
    let mut out = Vec::with_capacity(top_n);
    for &i in order {
        if out.len() == top_n {
            break;
        }
        let c = count.entry(sectors[i].as_str()).or_default();
        if max_per_sector.is_some_and(|m| *c >= m) {
            continue;
        }
        *c += 1;
        out.push(i);
    }
    out
}

/// Weights summing to 1 over the selection (`vol` and `score` per selected name).
pub fn weights(how: Weighting, vol: &[f64], score: &[f64]) -> Vec<f64> {
    let n = vol.len().max(score.len());
    let raw: Vec<f64> = match how {
        Weighting::Equal => vec![1.0; n],
        Weighting::InverseVol => vol
            .iter()
            .map(|v| {
                if v.is_finite() && *v > 0.0 {
                    1.0 / v
                } else {
                    0.0
                }
            })
            .collect(),
        Weighting::Score => {
            let lo = score.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = score.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let spread = hi - lo;
            if spread > 0.0 && spread.is_finite() {
                score.iter().map(|s| s - lo + spread).collect()
            } else {
                vec![1.0; n]
            }
        }
    };
    let total: f64 = raw.iter().sum();
    if total > 0.0 {
        raw.iter().map(|w| w / total).collect()
    } else {
        vec![1.0 / n.max(1) as f64; n]
    }
}

/// Caps each |weight| at `share·adv/capital` (a position may be at most `share` of its 20-day ADV
/// at `capital`); what is cut stays in cash. Returns the capped weights and which were cut.
pub fn capacity_cap(w: &[f64], adv: &[f64], capital: f64, share: f64) -> (Vec<f64>, Vec<bool>) {
    w.iter()
        .zip(adv)
        .map(|(w, a)| {
            let cap = if capital > 0.0 {
                share * a.max(0.0) / capital
            } else {
                f64::INFINITY
            };
            if w.abs() > cap {
                (cap.copysign(*w), true)
            } else {
                (*w, false)
            }
        })
        .unzip()
}

/// The largest capital at which no position exceeds `share` of its ADV: `min_i share·adv_i/|w_i|`.
pub fn capacity(w: &[f64], adv: &[f64], share: f64) -> f64 {
    w.iter()
        .zip(adv)
        .filter(|(w, _)| **w != 0.0)
        .map(|(w, a)| share * a.max(0.0) / w.abs())
        .fold(f64::INFINITY, f64::min)
}

/// The capacity check at one capital: the share of the book's gross weight the cap would cut.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CapacityAt {
    /// Capital in dollars.
    pub capital: f64,
    /// Gross weight cut by the cap at that capital (0 = fits).
    pub cut: f64,
    /// Names that would be cut.
    pub capped: usize,
}

/// [`CapacityAt`] at $10 M, $50 M and $100 M.
pub fn capacity_report(w: &[f64], adv: &[f64], share: f64) -> Vec<CapacityAt> {
    [10e6, 50e6, 100e6]
        .into_iter()
        .map(|capital| {
            let (c, cut) = capacity_cap(w, adv, capital, share);
            CapacityAt {
                capital,
                cut: w.iter().zip(&c).map(|(a, b)| a.abs() - b.abs()).sum(),
                capped: cut.iter().filter(|x| **x).count(),
            }
        })
        .collect()
}

/// Combines a long leg and a short leg (each summing to 1) into a book of gross `gross` whose
/// beta is zero: long scale `a`, short scale `b` with `a·β_L = b·β_S` and `a + b = gross`.
/// `None` when a leg's beta is not positive (no such book exists without leverage games).
pub fn beta_neutral(
    long_w: &[f64],
    long_beta: &[f64],
    short_w: &[f64],
    short_beta: &[f64],
    gross: f64,
) -> Option<(f64, f64)> {
    let bl: f64 = long_w.iter().zip(long_beta).map(|(w, b)| w * b).sum();
    let bs: f64 = short_w.iter().zip(short_beta).map(|(w, b)| w * b).sum();
    if !(bl > 0.0 && bs > 0.0 && bl.is_finite() && bs.is_finite()) {
        return None;
    }
    let a = gross * bs / (bl + bs);
    Some((a, gross - a))
}

/// Factor crowding over the selection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Crowding {
    /// `Σ_f share_f²` (1/F when every factor contributes equally, 1 when one dominates).
    pub hhi: f64,
    /// Each factor's share of `Σ_s Σ_f |contribution|`.
    pub shares: BTreeMap<String, f64>,
    /// The warning level in force.
    pub warn_level: f64,
    /// `hhi > warn_level`.
    pub warning: bool,
}

/// Crowding of the selection: contribution of factor f to name s is `w_f·sign_f·z_{f,s}/Σw`;
/// `A_f = Σ_s |contribution|`, `share_f = A_f / Σ A`, `HHI = Σ share_f²`.
pub fn crowding(
    names: &[String],
    weights: &[f64],
    signs: &[f64],
    z: &[Vec<f64>],
    selected: &[usize],
    warn_level: f64,
) -> Crowding {
    let total_w: f64 = weights.iter().sum();
    let a: Vec<f64> = (0..names.len())
        .map(|f| {
            selected
                .iter()
                .map(|&s| (weights[f] * signs[f] * z[f][s] / total_w).abs())
                .sum()
        })
        .collect();
    let sum: f64 = a.iter().sum();
    let shares: BTreeMap<String, f64> = names
        .iter()
        .zip(&a)
        .map(|(n, x)| (n.clone(), if sum > 0.0 { x / sum } else { 0.0 }))
        .collect();
    let hhi = shares.values().map(|s| s * s).sum();
    Crowding {
        hhi,
        shares,
        warn_level,
        warning: hhi > warn_level,
    }
}

#[cfg(test)]
#[path = "selection_tests.rs"]
mod tests;
