//! Value-at-Risk and Expected Shortfall estimators for the `expected_shortfall` rule.
//!
//! All figures are **one-day losses as positive fractions of equity** (0.05 = a 5 % loss); a
//! negative figure means even the tail is a gain. `alpha` is the confidence level (0.975).
//!
//! Estimators (chosen once here so every report and test means the same thing):
//!
//! * **Historical simulation.** Losses `L_i = −r_i`, `k = max(1, ⌈n·(1−α)⌉)`.
//!   `VaR` = the k-th largest loss, `ES` = the mean of the k largest losses. With n = 500 and
//!   α = 0.975, k = 13; with n = 40, k = 1 (VaR = ES = worst loss). This "mean of the worst k"
//!   estimator is always ≥ VaR and is positively homogeneous (scaling every weight by c > 0
//!   scales both figures by c), which the scaling rule relies on.
//! * **Normal.** `z = Φ⁻¹(α)`; `VaR = −μ + σ·z`, `ES = −μ + σ·φ(z)/(1−α)`.
//! * **Cornish–Fisher.** With `p = 1−α`, `z = Φ⁻¹(p)` (negative) and sample skew `S`, excess
//!   kurtosis `K`, the adjusted standard quantile is
//!   `g(z) = z + (z²−1)S/6 + (z³−3z)K/24 − (2z³−5z)S²/36`, and `VaR = −(μ + σ·g(z))`.
//!   `ES` is the **exact tail mean of that quantile function**, `ES = −(μ + σ·(1/p)∫₀ᵖ g(Φ⁻¹(u))du)`,
//!   which, because `g` is a cubic, integrates in closed form with the truncated normal moments
//!   `∫_{−∞}^{z} tφ = −φ`, `∫ t²φ = p − zφ`, `∫ t³φ = −(z²+2)φ`:
//!   `(1/p)∫ g = −(φ(z)/p)·[1 + zS/6 − (1−z²)K/24 + (1−2z²)S²/36]`.
//!   It reduces to the normal ES when `S = K = 0`. Like every Cornish–Fisher figure it is only
//!   trustworthy for moderate skew/kurtosis (the expansion stops being monotone otherwise).
//!
//! Moments: `μ` = sample mean, `σ` = sample standard deviation (n−1), skew `m₃/m₂^{3/2}` and
//! excess kurtosis `m₄/m₂² − 3` from the central moments `m_k` (the plain moment estimators);
//! a constant series has skew = excess kurtosis = 0.
//!
//! Portfolio returns are `Σ_s w_s · r_{s,t}` per day over the last `n` aligned days (series are
//! oldest first and aligned on their last element); cash earns nothing in the simulation.
//! Cost: O(positions × days) for the dot product, then O(days) for the tail: the worst loss of
//! each 8-day block bounds the k-th worst day, and only blocks that reach the bound are
//! scanned (an O(n) selection when k > 64); no full sort.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use statrs::distribution::{Continuous, ContinuousCDF, Normal};
use thiserror::Error;

/// Why a risk figure could not be computed. The rule layer turns these into a fail-safe verdict.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum EsError {
    /// The confidence level is not strictly between 0 and 1.
    #[error("confidence level {0} must be strictly between 0 and 1")]
    BadAlpha(f64),
    /// Fewer observations than the estimator needs.
    #[error("{have} return observations, need at least {need}")]
    TooFewObservations { have: usize, need: usize },
    /// A NaN or infinite value in the inputs.
    #[error("non-finite input: {0}")]
    NonFinite(String),
    /// A held symbol has no return series at all.
    #[error("no return history for {0}")]
    MissingReturns(String),
}

pub use super::returns::Returns;

/// A Value-at-Risk / Expected-Shortfall pair, losses as positive fractions.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct VarEs {
    /// Value-at-Risk at the confidence level.
    pub var: f64,
    /// Expected Shortfall (mean loss beyond VaR) at the confidence level.
    pub es: f64,
}

/// Sample moments of a return series (see the module doc for the estimators).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Moments {
    /// Number of observations.
    pub n: usize,
    /// Sample mean.
    pub mean: f64,
    /// Sample standard deviation (n−1 denominator).
    pub std_dev: f64,
    /// Skewness `m₃/m₂^{3/2}`.
    pub skew: f64,
    /// Excess kurtosis `m₄/m₂² − 3`.
    pub exkurt: f64,
}

pub(crate) fn check_alpha(alpha: f64) -> Result<(), EsError> {
    if alpha.is_finite() && alpha > 0.0 && alpha < 1.0 {
        Ok(())
    } else {
        Err(EsError::BadAlpha(alpha))
    }
}

/// Standard normal quantile, guarded: statrs `inverse_cdf` panics outside [0, 1] (and on NaN).
pub fn std_normal_quantile(p: f64) -> Result<f64, EsError> {
    check_alpha(p)?;
    Ok(Normal::standard().inverse_cdf(p))
}

fn std_normal_pdf(x: f64) -> f64 {
    Normal::standard().pdf(x)
}

/// Tail size `k = max(1, ⌈n·(1−α)⌉)` of the historical estimator, capped at `n`.
pub fn tail_count(n: usize, alpha: f64) -> usize {
    // n·(1−α) can land a hair above an integer in floating point (40 × (1 − 0.975) =
    // 1.0000000000000009) and ceil would then take one observation too many.
    let raw = n as f64 * (1.0 - alpha) - 1e-9;
    (raw.ceil().max(1.0) as usize).min(n.max(1))
}

/// Historical-simulation VaR and ES: VaR = k-th largest loss, ES = mean of the k largest losses.
pub fn historical_var_es(returns: &[f64], alpha: f64) -> Result<VarEs, EsError> {
    check_alpha(alpha)?;
    if returns.is_empty() {
        return Err(EsError::TooFewObservations { have: 0, need: 1 });
    }
    if !all_finite(returns) {
        let i = returns.iter().position(|r| !r.is_finite()).unwrap_or(0);
        return Err(EsError::NonFinite(format!("return at index {i}")));
    }
    let k = tail_count(returns.len(), alpha);
    let worst = worst_losses(returns, k);
    // Summed largest first, so the figure does not depend on the order of the input.
    let es = worst.iter().sum::<f64>() / k as f64;
    Ok(VarEs {
        var: worst[k - 1],
        es,
    })
}

/// The `k` largest losses (`−r`) of `returns`, largest first (1 ≤ k ≤ len).
fn worst_losses(returns: &[f64], k: usize) -> Vec<f64> {
    if k > 64 {
        // A long tail: partial selection (O(n)), then order the tail.
        let mut losses: Vec<f64> = returns.iter().map(|r| -r).collect();
        losses.select_nth_unstable_by(k - 1, |a, b| b.total_cmp(a));
        losses.truncate(k);
        losses.sort_unstable_by(|a, b| b.total_cmp(a));
        return losses;
    }
    tail(returns, k).values().to_vec()
}

/// The `k` (≤ 64) largest losses of `returns`, on the stack.
///
/// Each block of 8 days has a worst loss; the k-th largest of those is a floor under the k-th
/// worst day (k blocks reach it, each with a day at least that bad), so only days at or above
/// it can be in the tail: a few blocks' worth. (The caller checked that every value is
/// finite, so plain comparisons order them.)
pub(crate) fn tail(returns: &[f64], k: usize) -> Top {
    const BLOCK: usize = 8;
    let block_worst: Vec<f64> = returns
        .chunks(BLOCK)
        .map(|b| {
            -b.iter()
                .fold(f64::INFINITY, |m, r| if *r < m { *r } else { m })
        })
        .collect();
    let floor = if block_worst.len() >= k {
        let mut top = Top::new(k);
        block_worst.iter().for_each(|w| top.offer(*w));
        top.kth()
    } else {
        f64::NEG_INFINITY
    };
    let mut top = Top::new(k);
    for (block, worst) in returns.chunks(BLOCK).zip(&block_worst) {
        if *worst >= floor {
            block
                .iter()
                .map(|r| -r)
                .filter(|l| *l >= floor)
                .for_each(|l| top.offer(l));
        }
    }
    top
}

/// The k (≤ 64) largest values offered so far, largest first, on the stack.
#[derive(Debug, Clone)]
pub(crate) struct Top {
    worst: [f64; 64],
    len: usize,
    k: usize,
}

impl Top {
    pub(crate) fn new(k: usize) -> Self {
        Top {
            worst: [0.0; 64],
            len: 0,
            k,
        }
    }

    pub(crate) fn offer(&mut self, x: f64) {
        let k = self.k;
        if k == 0 || (self.len == k && x <= self.worst[k - 1]) {
            return;
        }
        // Shift the smaller values down one slot (the k-th falls off a full list).
        let mut j = self.len.min(k - 1);
        while j > 0 && self.worst[j - 1] < x {
            self.worst[j] = self.worst[j - 1];
            j -= 1;
        }
        self.worst[j] = x;
        self.len = (self.len + 1).min(k);
    }

    /// The values kept, largest first.
    pub(crate) fn values(&self) -> &[f64] {
        &self.worst[..self.len]
    }

    /// The k-th largest value (the list is full).
    pub(crate) fn kth(&self) -> f64 {
        self.worst[self.k - 1]
    }

    /// How many values the list keeps when full.
    pub(crate) fn capacity(&self) -> usize {
        self.k
    }

    /// Forget one copy of `x`, a value that left the set the list was offered: while the list
    /// holds the largest `min(k, len)` values of a set, it then holds those of the set without
    /// `x`. A full list whose last value is `x` or below it kept `x` (or an equal value), which
    /// it drops and keeps one value fewer from then on (it cannot know the next one); a value
    /// below the last was never kept. False when `x` should be in the list and is not (the
    /// list was not what the caller thinks it is).
    pub(crate) fn remove(&mut self, x: f64) -> bool {
        let full = self.len == self.k;
        if full && x < self.worst[self.k - 1] {
            return true;
        }
        let Some(i) = self.values().iter().position(|v| *v == x) else {
            return false;
        };
        self.worst.copy_within(i + 1..self.len, i);
        self.len -= 1;
        if full {
            self.k -= 1;
        }
        true
    }
}

/// True when no value is NaN or infinite. Counts all-ones exponents with integer arithmetic
/// and no early exit, so the loop vectorises.
fn all_finite(x: &[f64]) -> bool {
    const EXPONENT: u64 = 0x7ff0_0000_0000_0000;
    x.iter()
        .map(|v| u64::from(v.to_bits() & EXPONENT == EXPONENT))
        .sum::<u64>()
        == 0
}

fn check_params(mu: f64, sigma: f64) -> Result<(), EsError> {
    if !mu.is_finite() {
        return Err(EsError::NonFinite(format!("mean {mu}")));
    }
    if !sigma.is_finite() || sigma < 0.0 {
        return Err(EsError::NonFinite(format!("volatility {sigma}")));
    }
    Ok(())
}

/// Parametric normal VaR and ES (closed forms in the module doc).
pub fn normal_var_es(mu: f64, sigma: f64, alpha: f64) -> Result<VarEs, EsError> {
    check_params(mu, sigma)?;
    let z = std_normal_quantile(alpha)?;
    Ok(VarEs {
        var: -mu + sigma * z,
        es: -mu + sigma * std_normal_pdf(z) / (1.0 - alpha),
    })
}

/// Cornish–Fisher adjusted standard quantile `g(z)`.
pub fn cornish_fisher_quantile(z: f64, skew: f64, exkurt: f64) -> f64 {
    z + (z * z - 1.0) * skew / 6.0 + (z.powi(3) - 3.0 * z) * exkurt / 24.0
        - (2.0 * z.powi(3) - 5.0 * z) * skew * skew / 36.0
}

/// Cornish–Fisher VaR and ES (ES = exact tail mean of the CF quantile; see module doc).
pub fn cornish_fisher_var_es(
    mu: f64,
    sigma: f64,
    skew: f64,
    exkurt: f64,
    alpha: f64,
) -> Result<VarEs, EsError> {
    check_params(mu, sigma)?;
    if !skew.is_finite() || !exkurt.is_finite() {
        return Err(EsError::NonFinite(format!(
            "skew {skew} / kurtosis {exkurt}"
        )));
    }
    let p = 1.0 - alpha;
    let z = std_normal_quantile(p)?;
    let phi = std_normal_pdf(z);
    let g = cornish_fisher_quantile(z, skew, exkurt);
    let tail_mean = -(phi / p)
        * (1.0 + z * skew / 6.0 - (1.0 - z * z) * exkurt / 24.0
            + (1.0 - 2.0 * z * z) * skew * skew / 36.0);
    Ok(VarEs {
        var: -(mu + sigma * g),
        es: -(mu + sigma * tail_mean),
    })
}

/// Sample mean, standard deviation, skew and excess kurtosis (needs n ≥ 2, finite values).
pub fn sample_moments(x: &[f64]) -> Result<Moments, EsError> {
    let n = x.len();
    if n < 2 {
        return Err(EsError::TooFewObservations { have: n, need: 2 });
    }
    if let Some(i) = x.iter().position(|r| !r.is_finite()) {
        return Err(EsError::NonFinite(format!("return at index {i}")));
    }
    let nf = n as f64;
    let mean = x.iter().sum::<f64>() / nf;
    let (mut m2, mut m3, mut m4) = (0.0, 0.0, 0.0);
    for v in x {
        let d = v - mean;
        let d2 = d * d;
        m2 += d2;
        m3 += d2 * d;
        m4 += d2 * d2;
    }
    let std_dev = (m2 / (nf - 1.0)).sqrt();
    let (m2, m3, m4) = (m2 / nf, m3 / nf, m4 / nf);
    // A constant series has no shape; report it as normal rather than dividing by zero.
    let (skew, exkurt) = if m2 > 0.0 {
        (m3 / m2.powf(1.5), m4 / (m2 * m2) - 3.0)
    } else {
        (0.0, 0.0)
    };
    Ok(Moments {
        n,
        mean,
        std_dev,
        skew,
        exkurt,
    })
}

/// Number of aligned days usable for the symbols with a non-zero weight: the shortest of their
/// series, capped at `window`. Errors if a weighted symbol has no series.
pub fn common_length<'a>(
    weights: impl IntoIterator<Item = (&'a String, &'a f64)>,
    returns: &Returns<'_>,
    window: usize,
) -> Result<usize, EsError> {
    let mut n = window;
    for (sym, w) in weights {
        if *w == 0.0 {
            continue;
        }
        let series = returns
            .get(sym.as_str())
            .ok_or_else(|| EsError::MissingReturns(sym.clone()))?;
        n = n.min(series.len());
    }
    Ok(n)
}

/// `Σ_s w_s · r_{s,t}` over the last `n` days of each series (caller ensures every weighted
/// symbol has ≥ n observations, e.g. with [`common_length`]).
pub fn weighted_returns<'a>(
    weights: impl IntoIterator<Item = (&'a String, &'a f64)>,
    returns: &Returns<'_>,
    n: usize,
) -> Result<Vec<f64>, EsError> {
    // Filled by the first weighted symbol (w·r, which is what 0 + w·r gives), so the buffer
    // is never zeroed first.
    let mut acc: Vec<f64> = Vec::with_capacity(n);
    let mut first = true;
    for (sym, &w) in weights {
        if w == 0.0 {
            continue;
        }
        if !w.is_finite() {
            return Err(EsError::NonFinite(format!("weight of {sym}")));
        }
        let series = returns
            .get(sym.as_str())
            .ok_or_else(|| EsError::MissingReturns(sym.clone()))?;
        let tail = series
            .get(series.len().saturating_sub(n)..)
            .filter(|t| t.len() == n)
            .ok_or(EsError::TooFewObservations {
                have: series.len(),
                need: n,
            })?;
        // Symbol-major loop: both slices are contiguous, so this is a straight AXPY.
        if first {
            acc.extend(tail.iter().map(|r| w * r));
            first = false;
        } else {
            for (a, r) in acc.iter_mut().zip(tail) {
                *a += w * r;
            }
        }
    }
    if first {
        acc.resize(n, 0.0);
    }
    if !all_finite(&acc) {
        let t = acc.iter().position(|v| !v.is_finite()).unwrap_or(0);
        return Err(EsError::NonFinite(format!(
            "portfolio return on day {t} of the window"
        )));
    }
    Ok(acc)
}

/// Daily portfolio returns of `weights` over the last `min(window, shortest series)` days.
pub fn portfolio_returns(
    weights: &BTreeMap<String, f64>,
    returns: &Returns<'_>,
    window: usize,
) -> Result<Vec<f64>, EsError> {
    let n = common_length(weights, returns, window)?;
    weighted_returns(weights, returns, n)
}

/// The three estimators on one return series, as reported by the ES rule and the snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EsReport {
    /// Observations used.
    pub n: usize,
    /// Historical simulation.
    pub historical: VarEs,
    /// Parametric normal.
    pub normal: VarEs,
    /// Parametric Cornish–Fisher.
    pub cornish_fisher: VarEs,
}

impl EsReport {
    /// The estimator a rule enforces.
    pub fn by_method(&self, method: super::config::EsMethod) -> VarEs {
        use super::config::EsMethod;
        match method {
            EsMethod::Historical => self.historical,
            EsMethod::Normal => self.normal,
            EsMethod::CornishFisher => self.cornish_fisher,
        }
    }
}

/// All three estimators on `series` at confidence `alpha`.
pub fn es_report(series: &[f64], alpha: f64) -> Result<EsReport, EsError> {
    let m = sample_moments(series)?;
    Ok(EsReport {
        n: m.n,
        historical: historical_var_es(series, alpha)?,
        normal: normal_var_es(m.mean, m.std_dev, alpha)?,
        cornish_fisher: cornish_fisher_var_es(m.mean, m.std_dev, m.skew, m.exkurt, alpha)?,
    })
}

#[cfg(test)]
#[path = "es_tests.rs"]
mod tests;
