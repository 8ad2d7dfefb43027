//! The factor table: every factor's name, sign (the direction a composite rewards), whether it is
//! one of the 20 reference factors, its formula (the text `docs/factors.md` lists) and its
//! computation over a 253-row window. Window rows are `k = 0..252` (`k = 252` is the decision
//! date); `r_k = c_k/c_{k−1} − 1` for `k = 1..252`; "the last n" means rows `253−n ..= 252`.

use super::Window;
use super::stats::{corr, kurt, max, mean, min, ols, skew, std, wilder};

/// One factor definition.
#[derive(Debug, Clone, Copy)]
pub struct FactorDef {
    /// Stable name (the reference factors use the reference document's names).
    pub name: &'static str,
    /// +1 when a higher value is better in the default composite, −1 otherwise.
    pub sign: f64,
    /// One of the 20 factors of the reference document.
    pub reference: bool,
    /// The formula, as documented in docs/factors.md.
    pub formula: &'static str,
    /// The computation over a window.
    pub compute: fn(&Window) -> f64,
}

const A: f64 = 252.0;

fn ret(w: &Window, n: usize) -> f64 {
    w.c[252] / w.c[252 - n] - 1.0
}
fn vol(w: &Window, n: usize) -> f64 {
    std(w.last_r(n), 1) * A.sqrt()
}
fn downvol(w: &Window, n: usize) -> f64 {
    let sq: Vec<f64> = w.last_r(n).iter().map(|r| r.min(0.0).powi(2)).collect();
    mean(&sq).sqrt() * A.sqrt()
}
fn upvol(w: &Window, n: usize) -> f64 {
    let sq: Vec<f64> = w.last_r(n).iter().map(|r| r.max(0.0).powi(2)).collect();
    mean(&sq).sqrt() * A.sqrt()
}
fn beta(w: &Window, n: usize) -> f64 {
    match w.m {
        Some(m) => ols(&m[253 - n..], w.last_r(n)).0,
        None => f64::NAN,
    }
}
fn idio(w: &Window, n: usize) -> f64 {
    match w.m {
        Some(m) => {
            let rss = ols(&m[253 - n..], w.last_r(n)).3;
            (rss / (n as f64 - 2.0)).sqrt() * A.sqrt()
        }
        None => f64::NAN,
    }
}
fn amihud(w: &Window, n: usize) -> f64 {
    let x: Vec<f64> = (253 - n..253)
        .map(|k| w.r[k].abs() / (w.c[k] * w.v[k]))
        .collect();
    mean(&x) * 1e6
}
fn dollar_vol(w: &Window, n: usize) -> f64 {
    let x: Vec<f64> = (253 - n..253).map(|k| w.c[k] * w.v[k]).collect();
    mean(&x)
}
fn last(x: &[f64], n: usize) -> &[f64] {
    &x[x.len() - n..]
}
fn rsi(w: &Window, p: usize) -> f64 {
    let d: Vec<f64> = (1..253).map(|k| w.c[k] - w.c[k - 1]).collect();
    let g: Vec<f64> = d.iter().map(|x| x.max(0.0)).collect();
    let l: Vec<f64> = d.iter().map(|x| (-x).max(0.0)).collect();
    let (g, l) = (wilder(&g, p), wilder(&l, p));
    if l == 0.0 {
        100.0
    } else {
        100.0 - 100.0 / (1.0 + g / l)
    }
}
fn pctb(w: &Window, n: usize) -> f64 {
    let x = last(w.c, n);
    let (mu, sd) = (mean(x), std(x, 0));
    (w.c[252] - (mu - 2.0 * sd)) / (4.0 * sd)
}
fn atr_pct(w: &Window, p: usize) -> f64 {
    let tr: Vec<f64> = (1..253)
        .map(|k| {
            let pc = w.c[k - 1];
            (w.h[k] - w.l[k])
                .max((w.h[k] - pc).abs())
                .max((w.l[k] - pc).abs())
        })
        .collect();
    wilder(&tr, p) / w.c[252]
}
fn sma_ratio(w: &Window, fast: usize, slow: usize) -> f64 {
    mean(last(w.c, fast)) / mean(last(w.c, slow)) - 1.0
}
fn dist_high(w: &Window, n: usize) -> f64 {
    w.c[252] / max(last(w.c, n)) - 1.0
}
fn dist_low(w: &Window, n: usize) -> f64 {
    w.c[252] / min(last(w.c, n)) - 1.0
}
fn trend(w: &Window, n: usize) -> (f64, f64) {
    let x: Vec<f64> = (0..n).map(|i| i as f64).collect();
    let y: Vec<f64> = last(w.c, n).iter().map(|c| c.ln()).collect();
    let (slope, _, r2, _) = ols(&x, &y);
    (slope * A, r2)
}

macro_rules! f {
    ($name:expr, $sign:expr, $reference:expr, $formula:expr, $body:expr) => {
        FactorDef {
            name: $name,
            sign: $sign,
            reference: $reference,
            formula: $formula,
            compute: $body,
        }
    };
}

/// Every factor, reference factors first in the reference document's order.
pub const FACTORS: &[FactorDef] = &[
    f!("ret_5", -1.0, true, "c_252 / c_247 − 1", |w| ret(w, 5)),
    f!("ret_21", -1.0, true, "c_252 / c_231 − 1", |w| ret(w, 21)),
    f!("ret_63", 1.0, true, "c_252 / c_189 − 1", |w| ret(w, 63)),
    f!("ret_126", 1.0, true, "c_252 / c_126 − 1", |w| ret(w, 126)),
    f!("ret_252", 1.0, true, "c_252 / c_0 − 1", |w| ret(w, 252)),
    f!("mom_12_1", 1.0, true, "c_231 / c_0 − 1", |w| w.c[231]
        / w.c[0]
        - 1.0),
    f!(
        "vol_21",
        -1.0,
        true,
        "std(last 21 r, ddof 1)·√252",
        |w| vol(w, 21)
    ),
    f!(
        "vol_63",
        -1.0,
        true,
        "std(last 63 r, ddof 1)·√252",
        |w| vol(w, 63)
    ),
    f!(
        "downvol_63",
        -1.0,
        true,
        "√(mean over last 63 r of min(r,0)²)·√252",
        |w| downvol(w, 63)
    ),
    f!("maxret_21", -1.0, true, "max of the last 21 r", |w| max(
        w.last_r(21)
    )),
    f!(
        "skew_63",
        -1.0,
        true,
        "n/((n−1)(n−2))·Σ((r−r̄)/s)³ over the last 63 r, s ddof 1",
        |w| skew(w.last_r(63))
    ),
    f!(
        "beta_252",
        -1.0,
        true,
        "Σ(r_k−r̄)(m_k−m̄) / Σ(m_k−m̄)², k = 1..252, m = equal-weight market return",
        |w| beta(w, 252)
    ),
    f!(
        "amihud_21",
        -1.0,
        true,
        "mean over k = 232..252 of |r_k| / (c_k·v_k) · 1e6",
        |w| amihud(w, 21)
    ),
    f!(
        "log_dollar_vol_21",
        1.0,
        true,
        "ln(mean over k = 232..252 of c_k·v_k)",
        |w| dollar_vol(w, 21).ln()
    ),
    f!(
        "volume_trend_5_63",
        1.0,
        true,
        "mean(v_248..v_252) / mean(v_190..v_252)",
        |w| mean(last(w.v, 5)) / mean(last(w.v, 63))
    ),
    f!(
        "dist_high_252",
        1.0,
        true,
        "c_252 / max(c_1..c_252) − 1",
        |w| dist_high(w, 252)
    ),
    f!(
        "rsi_14",
        -1.0,
        true,
        "d_k = c_k − c_{k−1}; 100 − 100/(1 + Wilder14(max(d,0))/Wilder14(max(−d,0))), 100 if the loss average is 0",
        |w| rsi(w, 14)
    ),
    f!(
        "bb_pctb_20",
        -1.0,
        true,
        "(c_252 − (μ−2σ)) / (4σ), μ, σ = mean and population std of c_233..c_252",
        |w| pctb(w, 20)
    ),
    f!(
        "atr_14_pct",
        -1.0,
        true,
        "Wilder14(TR_k, k = 1..252) / c_252, TR_k = max(h_k−l_k, |h_k−c_{k−1}|, |l_k−c_{k−1}|)",
        |w| atr_pct(w, 14)
    ),
    f!(
        "sma_50_200",
        1.0,
        true,
        "mean(c_203..c_252) / mean(c_53..c_252) − 1",
        |w| sma_ratio(w, 50, 200)
    ),
    // Returns and momentum at more horizons.
    f!("ret_1", -1.0, false, "c_252 / c_251 − 1", |w| ret(w, 1)),
    f!("ret_10", -1.0, false, "c_252 / c_242 − 1", |w| ret(w, 10)),
    f!("ret_42", 1.0, false, "c_252 / c_210 − 1", |w| ret(w, 42)),
    f!("ret_189", 1.0, false, "c_252 / c_63 − 1", |w| ret(w, 189)),
    f!("mom_6_1", 1.0, false, "c_231 / c_126 − 1", |w| w.c[231]
        / w.c[126]
        - 1.0),
    f!("mom_3_1", 1.0, false, "c_231 / c_189 − 1", |w| w.c[231]
        / w.c[189]
        - 1.0),
    f!("mom_12_6", 1.0, false, "c_126 / c_0 − 1", |w| w.c[126]
        / w.c[0]
        - 1.0),
    f!(
        "rev_21_5",
        -1.0,
        false,
        "c_247 / c_231 − 1 (the month's return without its last week)",
        |w| w.c[247] / w.c[231] - 1.0
    ),
    // Volatility.
    f!("vol_5", -1.0, false, "std(last 5 r, ddof 1)·√252", |w| {
        vol(w, 5)
    }),
    f!(
        "vol_10",
        -1.0,
        false,
        "std(last 10 r, ddof 1)·√252",
        |w| vol(w, 10)
    ),
    f!(
        "vol_126",
        -1.0,
        false,
        "std(last 126 r, ddof 1)·√252",
        |w| vol(w, 126)
    ),
    f!(
        "vol_252",
        -1.0,
        false,
        "std(r_1..r_252, ddof 1)·√252",
        |w| vol(w, 252)
    ),
    f!(
        "downvol_21",
        -1.0,
        false,
        "√(mean over last 21 r of min(r,0)²)·√252",
        |w| downvol(w, 21)
    ),
    f!(
        "downvol_252",
        -1.0,
        false,
        "√(mean over r_1..r_252 of min(r,0)²)·√252",
        |w| downvol(w, 252)
    ),
    f!(
        "upvol_63",
        -1.0,
        false,
        "√(mean over last 63 r of max(r,0)²)·√252",
        |w| upvol(w, 63)
    ),
    f!(
        "vol_ratio_21_252",
        -1.0,
        false,
        "vol_21 / vol_252",
        |w| vol(w, 21) / vol(w, 252)
    ),
    f!(
        "beta_63",
        -1.0,
        false,
        "OLS slope of the last 63 r on the last 63 m",
        |w| beta(w, 63)
    ),
    f!(
        "corr_63",
        -1.0,
        false,
        "Pearson correlation of the last 63 r and m",
        |w| match w.m {
            Some(m) => corr(w.last_r(63), &m[190..]),
            None => f64::NAN,
        }
    ),
    f!(
        "idio_vol_63",
        -1.0,
        false,
        "√(RSS/(n−2))·√252 of the OLS of the last 63 r on m (n = 63)",
        |w| idio(w, 63)
    ),
    f!(
        "idio_vol_252",
        -1.0,
        false,
        "√(RSS/(n−2))·√252 of the OLS of r_1..r_252 on m (n = 252)",
        |w| idio(w, 252)
    ),
    f!("maxret_63", -1.0, false, "max of the last 63 r", |w| max(
        w.last_r(63)
    )),
    f!("minret_21", 1.0, false, "min of the last 21 r", |w| min(
        w.last_r(21)
    )),
    f!("minret_63", 1.0, false, "min of the last 63 r", |w| min(
        w.last_r(63)
    )),
    f!(
        "skew_21",
        -1.0,
        false,
        "skewness (as skew_63) of the last 21 r",
        |w| skew(w.last_r(21))
    ),
    f!(
        "skew_252",
        -1.0,
        false,
        "skewness (as skew_63) of r_1..r_252",
        |w| skew(w.last_r(252))
    ),
    f!(
        "kurt_63",
        -1.0,
        false,
        "excess kurtosis (pandas Series.kurt) of the last 63 r",
        |w| kurt(w.last_r(63))
    ),
    f!(
        "kurt_252",
        -1.0,
        false,
        "excess kurtosis (pandas Series.kurt) of r_1..r_252",
        |w| kurt(w.last_r(252))
    ),
    // Liquidity and volume.
    f!(
        "amihud_63",
        -1.0,
        false,
        "mean over k = 190..252 of |r_k| / (c_k·v_k) · 1e6",
        |w| amihud(w, 63)
    ),
    f!(
        "log_dollar_vol_63",
        1.0,
        false,
        "ln(mean over k = 190..252 of c_k·v_k)",
        |w| dollar_vol(w, 63).ln()
    ),
    f!(
        "dollar_vol_trend_21_252",
        1.0,
        false,
        "mean(c_k·v_k, k = 232..252) / mean(c_k·v_k, k = 1..252)",
        |w| dollar_vol(w, 21) / dollar_vol(w, 252)
    ),
    f!(
        "volume_trend_21_252",
        1.0,
        false,
        "mean(v_232..v_252) / mean(v_1..v_252)",
        |w| mean(last(w.v, 21)) / mean(last(w.v, 252))
    ),
    f!(
        "log_volume_21",
        1.0,
        false,
        "ln(mean(v_232..v_252)) (turnover proxy: no share counts)",
        |w| mean(last(w.v, 21)).ln()
    ),
    f!(
        "volume_cv_21",
        -1.0,
        false,
        "std(v_232..v_252, ddof 1) / mean(v_232..v_252)",
        |w| std(last(w.v, 21), 1) / mean(last(w.v, 21))
    ),
    // Price position.
    f!(
        "dist_high_63",
        1.0,
        false,
        "c_252 / max(c_190..c_252) − 1",
        |w| dist_high(w, 63)
    ),
    f!(
        "dist_low_252",
        1.0,
        false,
        "c_252 / min(c_1..c_252) − 1",
        |w| dist_low(w, 252)
    ),
    f!(
        "dist_low_63",
        1.0,
        false,
        "c_252 / min(c_190..c_252) − 1",
        |w| dist_low(w, 63)
    ),
    f!(
        "range_pos_252",
        1.0,
        false,
        "(c_252 − min(c_1..c_252)) / (max(c_1..c_252) − min(c_1..c_252))",
        |w| {
            let x = last(w.c, 252);
            (w.c[252] - min(x)) / (max(x) - min(x))
        }
    ),
    // Oscillators and bands.
    f!(
        "rsi_28",
        -1.0,
        false,
        "as rsi_14 with Wilder period 28",
        |w| rsi(w, 28)
    ),
    f!(
        "bb_pctb_50",
        -1.0,
        false,
        "as bb_pctb_20 over c_203..c_252",
        |w| pctb(w, 50)
    ),
    f!(
        "bb_width_20",
        -1.0,
        false,
        "4σ/μ, μ, σ = mean and population std of c_233..c_252",
        |w| {
            let x = last(w.c, 20);
            4.0 * std(x, 0) / mean(x)
        }
    ),
    f!(
        "atr_21_pct",
        -1.0,
        false,
        "as atr_14_pct with Wilder period 21",
        |w| atr_pct(w, 21)
    ),
    // Moving averages.
    f!(
        "sma_5_20",
        1.0,
        false,
        "mean(c_248..c_252) / mean(c_233..c_252) − 1",
        |w| sma_ratio(w, 5, 20)
    ),
    f!(
        "sma_20_50",
        1.0,
        false,
        "mean(c_233..c_252) / mean(c_203..c_252) − 1",
        |w| sma_ratio(w, 20, 50)
    ),
    f!(
        "sma_20_200",
        1.0,
        false,
        "mean(c_233..c_252) / mean(c_53..c_252) − 1",
        |w| sma_ratio(w, 20, 200)
    ),
    f!(
        "price_sma_50",
        1.0,
        false,
        "c_252 / mean(c_203..c_252) − 1",
        |w| sma_ratio(w, 1, 50)
    ),
    f!(
        "price_sma_200",
        1.0,
        false,
        "c_252 / mean(c_53..c_252) − 1",
        |w| sma_ratio(w, 1, 200)
    ),
    // Bar shape and trend quality.
    f!(
        "hl_range_21",
        -1.0,
        false,
        "mean over k = 232..252 of (h_k − l_k) / c_k",
        |w| {
            mean(
                &(232..253)
                    .map(|k| (w.h[k] - w.l[k]) / w.c[k])
                    .collect::<Vec<_>>(),
            )
        }
    ),
    f!(
        "close_loc_21",
        1.0,
        false,
        "mean over k = 232..252 of (c_k − l_k)/(h_k − l_k), 0.5 when h_k = l_k",
        |w| {
            mean(
                &(232..253)
                    .map(|k| {
                        let span = w.h[k] - w.l[k];
                        if span == 0.0 {
                            0.5
                        } else {
                            (w.c[k] - w.l[k]) / span
                        }
                    })
                    .collect::<Vec<_>>(),
            )
        }
    ),
    f!(
        "up_frac_63",
        1.0,
        false,
        "share of the last 63 r that are > 0",
        |w| { w.last_r(63).iter().filter(|r| **r > 0.0).count() as f64 / 63.0 }
    ),
    f!(
        "sharpe_252",
        1.0,
        false,
        "mean(r_1..r_252) / std(r_1..r_252, ddof 1)·√252",
        |w| {
            let r = w.last_r(252);
            mean(r) / std(r, 1) * A.sqrt()
        }
    ),
    f!(
        "trend_slope_126",
        1.0,
        false,
        "OLS slope of ln c_k on k over k = 127..252, × 252",
        |w| trend(w, 126).0
    ),
    f!("trend_r2_126", 1.0, false, "R² of that regression", |w| {
        trend(w, 126).1
    }),
    f!("log_price", 1.0, false, "ln c_252", |w| w.c[252].ln()),
];
