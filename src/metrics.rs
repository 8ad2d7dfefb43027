//! Performance metrics of an equity curve, defined once (README "Metrics").
//!
//! Daily simple returns r_t = E_t / E_{t−1} − 1. CAGR over calendar time:
//! (E_end / E_start)^(365.25 / days) − 1. Volatility = sample std (ddof 1) × √252.
//! Sharpe = mean(r − rf/252) / std(r) × √252. Sortino = mean(r − rf/252) /
//! sqrt(mean(min(r − rf/252, 0)²)) × √252. Max drawdown = min over t of E_t / max_{s≤t} E_s − 1
//! (a negative fraction). Calmar = CAGR / |max drawdown|.

use chrono::NaiveDate;
use serde::Serialize;

/// Risk and return of one equity curve.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Metrics {
    pub cagr: f64,
    pub sharpe: f64,
    pub sortino: f64,
    pub max_drawdown: f64,
    pub calmar: f64,
    pub volatility: f64,
}

/// Metrics of `equity` (dated, ascending), starting from `start_value` before the first day.
pub fn compute(equity: &[(NaiveDate, f64)], start_value: f64, risk_free: f64) -> Metrics {
    if equity.is_empty() || start_value <= 0.0 {
        return Metrics::default();
    }
    let mut rets = Vec::with_capacity(equity.len());
    let mut prev = start_value;
    let mut peak = start_value;
    let mut mdd: f64 = 0.0;
    for &(_, e) in equity {
        rets.push(if prev > 0.0 { e / prev - 1.0 } else { 0.0 });
        prev = e;
        peak = peak.max(e);
        if peak > 0.0 {
            mdd = mdd.min(e / peak - 1.0);
        }
    }
    let first = equity[0].0;
    let last = equity[equity.len() - 1].0;
    let days = ((last - first).num_days() as f64).max(1.0);
    let end = equity[equity.len() - 1].1;
    let cagr = (end / start_value).powf(365.25 / days) - 1.0;
    let rf = risk_free / 252.0;
    let n = rets.len() as f64;
    let mean_ex = rets.iter().map(|r| r - rf).sum::<f64>() / n;
    let mean = rets.iter().sum::<f64>() / n;
    let sd = if rets.len() > 1 {
        (rets.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
    } else {
        0.0
    };
    let dd = (rets.iter().map(|r| (r - rf).min(0.0).powi(2)).sum::<f64>() / n).sqrt();
    let ann = 252f64.sqrt();
    Metrics {
        cagr,
        sharpe: if sd > 0.0 { mean_ex / sd * ann } else { 0.0 },
        sortino: if dd > 0.0 { mean_ex / dd * ann } else { 0.0 },
        max_drawdown: mdd,
        calmar: if mdd < 0.0 { cagr / mdd.abs() } else { 0.0 },
        volatility: sd * ann,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(i: i64) -> NaiveDate {
        NaiveDate::from_ymd_opt(2020, 1, 1).unwrap_or_default() + chrono::Duration::days(i)
    }

    #[test]
    fn drawdown_is_negative_fraction_from_peak() {
        let eq = [(d(1), 110.0), (d(2), 88.0), (d(3), 121.0), (d(4), 99.0)];
        let m = compute(&eq, 100.0, 0.0);
        assert!((m.max_drawdown - (88.0 / 110.0 - 1.0)).abs() < 1e-12);
    }

    #[test]
    fn cagr_uses_calendar_years() {
        // Doubling over 365.25 * 2 days is 41.42 % a year.
        let eq = [(d(0), 100.0), (d(730), 200.0)];
        let m = compute(&eq, 100.0, 0.0);
        assert!((m.cagr - (2f64.powf(365.25 / 730.0) - 1.0)).abs() < 1e-12);
    }

    #[test]
    fn sharpe_by_hand() {
        // Returns +1 %, −1 %, +2 %: mean 0.6667 %, sd 1.5275 %.
        let eq = [(d(1), 101.0), (d(2), 99.99), (d(3), 101.9898)];
        let m = compute(&eq, 100.0, 0.0);
        let r = [0.01, -0.01, 0.02];
        let mean: f64 = r.iter().sum::<f64>() / 3.0;
        let sd = (r.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / 2.0).sqrt();
        assert!((m.sharpe - mean / sd * 252f64.sqrt()).abs() < 1e-9);
    }
}
