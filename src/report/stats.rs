//! Return statistics of an equity history: P&L, drawdown, realised volatility, rolling Sharpe
//! and Sortino, beta to the signal symbol, win rate. Pure functions of dated values.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::Serialize;

/// The rolling window of the risk-adjusted figures, in trading days.
pub const WINDOW: usize = 63;
/// Trading days per year (annualisation).
pub const YEAR: f64 = 252.0;

/// The performance figures of the last day of an equity history.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Performance {
    pub equity: f64,
    pub previous_equity: Option<f64>,
    pub daily_pnl: f64,
    pub daily_return_pct: f64,
    /// Since the first recorded equity.
    pub cumulative_pnl: f64,
    pub cumulative_return_pct: f64,
    pub peak: f64,
    /// Drawdown from the peak, percent (≥ 0).
    pub drawdown_pct: f64,
    pub max_drawdown_pct: f64,
    /// Annualised standard deviation of the last [`WINDOW`] daily returns, percent.
    pub realised_vol_pct: Option<f64>,
    /// Annualised, over the last [`WINDOW`] returns, excess of the risk-free rate.
    pub sharpe_63: Option<f64>,
    pub sortino_63: Option<f64>,
    /// Beta of the daily returns to the signal symbol's over the last [`WINDOW`] common days.
    pub beta: Option<f64>,
    /// Share of days with a positive return, percent.
    pub win_rate_pct: Option<f64>,
    /// Days of equity history.
    pub days: usize,
}

/// Daily simple returns of consecutive values, dated by the later one.
pub fn returns(v: &[(NaiveDate, f64)]) -> Vec<(NaiveDate, f64)> {
    v.windows(2)
        .filter(|w| w[0].1 > 0.0)
        .map(|w| (w[1].0, w[1].1 / w[0].1 - 1.0))
        .collect()
}

/// Drawdown from the running peak at each date, percent (≤ 0).
pub fn drawdown_series(v: &[(NaiveDate, f64)]) -> Vec<(NaiveDate, f64)> {
    let mut peak = f64::NEG_INFINITY;
    v.iter()
        .map(|&(d, e)| {
            peak = peak.max(e);
            (
                d,
                if peak > 0.0 {
                    (e / peak - 1.0) * 100.0
                } else {
                    0.0
                },
            )
        })
        .collect()
}

fn mean(x: &[f64]) -> f64 {
    x.iter().sum::<f64>() / x.len() as f64
}

fn std(x: &[f64]) -> Option<f64> {
    (x.len() >= 2).then(|| {
        let m = mean(x);
        (x.iter().map(|r| (r - m).powi(2)).sum::<f64>() / (x.len() - 1) as f64).sqrt()
    })
}

/// Annualised Sharpe ratio of daily returns over a daily risk-free rate.
pub fn sharpe(r: &[f64], rf_annual: f64) -> Option<f64> {
    let ex: Vec<f64> = r.iter().map(|x| x - rf_annual / YEAR).collect();
    std(&ex)
        .filter(|s| *s > 0.0)
        .map(|s| mean(&ex) / s * YEAR.sqrt())
}

/// Annualised Sortino ratio: mean excess over the downside deviation (root mean square of the
/// negative excess returns over all days).
pub fn sortino(r: &[f64], rf_annual: f64) -> Option<f64> {
    if r.len() < 2 {
        return None;
    }
    let ex: Vec<f64> = r.iter().map(|x| x - rf_annual / YEAR).collect();
    let dd = (ex.iter().map(|x| x.min(0.0).powi(2)).sum::<f64>() / ex.len() as f64).sqrt();
    (dd > 0.0).then(|| mean(&ex) / dd * YEAR.sqrt())
}

/// Beta of `a` to `b` (same length): cov(a, b) / var(b).
pub fn beta(a: &[f64], b: &[f64]) -> Option<f64> {
    if a.len() != b.len() || a.len() < 2 {
        return None;
    }
    let (ma, mb) = (mean(a), mean(b));
    let cov: f64 = a.iter().zip(b).map(|(x, y)| (x - ma) * (y - mb)).sum();
    let var: f64 = b.iter().map(|y| (y - mb).powi(2)).sum();
    (var > 0.0).then(|| cov / var)
}

fn tail(v: &[f64]) -> &[f64] {
    &v[v.len().saturating_sub(WINDOW)..]
}

/// The figures of the last day of `equity` (ascending dates). `signal` holds the signal
/// symbol's closes by date; a day's benchmark return is its close over the close of the
/// previous equity date.
pub fn performance(
    equity: &[(NaiveDate, f64)],
    signal: &BTreeMap<NaiveDate, f64>,
    rf_annual: f64,
) -> Option<Performance> {
    let &(_, last) = equity.last()?;
    let first = equity[0].1;
    let prev = equity.len().checked_sub(2).map(|i| equity[i].1);
    let r: Vec<f64> = returns(equity).into_iter().map(|x| x.1).collect();
    let dd = drawdown_series(equity);
    let peak = equity.iter().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
    let (mut pa, mut pb) = (Vec::new(), Vec::new());
    for w in equity.windows(2) {
        if let (Some(c0), Some(c1)) = (signal.get(&w[0].0), signal.get(&w[1].0))
            && w[0].1 > 0.0
            && *c0 > 0.0
        {
            pa.push(w[1].1 / w[0].1 - 1.0);
            pb.push(c1 / c0 - 1.0);
        }
    }
    let k = pa.len().saturating_sub(WINDOW);
    Some(Performance {
        equity: last,
        previous_equity: prev,
        daily_pnl: prev.map_or(0.0, |p| last - p),
        daily_return_pct: prev
            .filter(|p| *p > 0.0)
            .map_or(0.0, |p| (last / p - 1.0) * 100.0),
        cumulative_pnl: last - first,
        cumulative_return_pct: if first > 0.0 {
            (last / first - 1.0) * 100.0
        } else {
            0.0
        },
        peak,
        drawdown_pct: -dd.last().map_or(0.0, |d| d.1),
        max_drawdown_pct: -dd.iter().map(|d| d.1).fold(0.0, f64::min),
        realised_vol_pct: std(tail(&r)).map(|s| s * YEAR.sqrt() * 100.0),
        sharpe_63: sharpe(tail(&r), rf_annual),
        sortino_63: sortino(tail(&r), rf_annual),
        beta: beta(&pa[k..], &pb[k..]),
        win_rate_pct: (!r.is_empty())
            .then(|| r.iter().filter(|x| **x > 0.0).count() as f64 / r.len() as f64 * 100.0),
        days: equity.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(i: i64) -> NaiveDate {
        NaiveDate::from_ymd_opt(2024, 1, 1).expect("date") + chrono::Duration::days(i)
    }

    #[test]
    fn figures_of_a_small_history() {
        let eq = [(d(0), 100.0), (d(1), 110.0), (d(2), 99.0), (d(3), 104.0)];
        let sig: BTreeMap<_, _> = [(d(0), 10.0), (d(1), 10.5), (d(2), 10.0), (d(3), 10.2)].into();
        let p = performance(&eq, &sig, 0.0).expect("perf");
        assert_eq!(p.daily_pnl, 5.0);
        assert!((p.cumulative_return_pct - 4.0).abs() < 1e-9);
        assert!((p.max_drawdown_pct - 10.0).abs() < 1e-9);
        assert!((p.drawdown_pct - (1.0 - 104.0 / 110.0) * 100.0).abs() < 1e-9);
        assert!((p.win_rate_pct.expect("win") - 200.0 / 3.0).abs() < 1e-9);
        // Twice the signal's return every day: beta 2 exactly.
        let eq2: Vec<_> = [(d(0), 1.0), (d(1), 1.1), (d(2), 1.1 * (1.0 - 2.0 / 21.0))].into();
        let p2 = performance(&eq2, &sig, 0.0).expect("perf");
        assert!((p2.beta.expect("beta") - 2.0).abs() < 1e-9);
    }

    #[test]
    fn sortino_uses_the_downside_only() {
        let r = [0.01, -0.01, 0.02, -0.02];
        let dd = ((0.0001 + 0.0004) / 4.0_f64).sqrt();
        assert!((sortino(&r, 0.0).expect("s") - 0.0).abs() < 1e-12);
        let r2 = [0.02, -0.01, 0.03, -0.02];
        let dd2 = ((0.0001 + 0.0004) / 4.0_f64).sqrt();
        assert_eq!(dd, dd2);
        assert!((sortino(&r2, 0.0).expect("s") - 0.005 / dd2 * YEAR.sqrt()).abs() < 1e-9);
        assert_eq!(sharpe(&[0.01], 0.0), None);
    }
}
