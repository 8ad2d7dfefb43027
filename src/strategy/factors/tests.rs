use std::collections::BTreeMap;
use std::path::Path;

use chrono::NaiveDate;

use super::stats::{kurt, skew, wilder};
use super::*;

fn value(w: &Window, name: &str) -> f64 {
    let i = index_of(name).expect("known factor");
    (FACTORS[i].compute)(w)
}

fn close(a: f64, b: f64, what: &str) {
    let tol = 1e-10 * b.abs().max(1.0);
    assert!((a - b).abs() <= tol, "{what}: got {a}, expected {b}");
}

#[test]
fn table_has_sixty_unique_factors_with_the_twenty_reference_ones_first() {
    assert!(FACTORS.len() >= 60, "{} factors", FACTORS.len());
    let mut names: Vec<_> = FACTORS.iter().map(|f| f.name).collect();
    let reference: Vec<_> = FACTORS
        .iter()
        .filter(|f| f.reference)
        .map(|f| f.name)
        .collect();
    assert_eq!(reference.len(), 20);
    assert!(FACTORS[..20].iter().all(|f| f.reference));
    names.sort();
    names.dedup();
    assert_eq!(names.len(), FACTORS.len(), "duplicate factor names");
}

#[test]
fn docs_list_every_factor_with_its_formula() {
    let doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/factors.md"))
            .expect("docs/factors.md");
    for f in FACTORS {
        let row = format!("| `{}` | {} |", f.name, f.formula);
        assert!(doc.contains(&row), "docs/factors.md lacks the row {row}");
    }
}

#[test]
fn moments_and_wilder_by_hand() {
    // [0,0,3]: mean 1, s = √3, Σ((x−1)/s)³ = 6/(3√3); × 3/(2·1) = √3.
    close(skew(&[0.0, 0.0, 3.0]), 3f64.sqrt(), "skew");
    close(skew(&[1.0, 2.0, 3.0]), 0.0, "symmetric skew");
    // [0,0,0,4]: mean 1, s = 2, Σ((x−1)/2)⁴ = 5.25; 20/6·5.25 − 3·9/2 = 4.
    close(kurt(&[0.0, 0.0, 0.0, 4.0]), 4.0, "kurt");
    // mean(1..14) = 7.5, then (7.5·13 + 15)/14.
    let x: Vec<f64> = (1..=15).map(f64::from).collect();
    close(wilder(&x, 14), 112.5 / 14.0, "wilder");
    assert!(skew(&[1.0, 1.0, 1.0]).is_nan() && wilder(&x, 16).is_nan());
}

struct Cols {
    c: Vec<f64>,
    h: Vec<f64>,
    l: Vec<f64>,
    v: Vec<f64>,
}

fn cols(c: Vec<f64>, spread: f64, v: Vec<f64>) -> Cols {
    Cols {
        h: c.iter().map(|x| x + spread).collect(),
        l: c.iter().map(|x| x - spread).collect(),
        c,
        v,
    }
}

fn window<'a>(p: &'a Cols, m: Option<&'a [f64]>) -> Window<'a> {
    Window::new(&p.c, &p.h, &p.l, &p.v, m).expect("253 rows")
}

#[test]
fn linear_panel_by_hand() {
    // c_k = 100 + k, h = c + 1, l = c − 1, v = 1000: every quantity below has a closed form.
    let p = cols(
        (0..253).map(|k| 100.0 + k as f64).collect(),
        1.0,
        vec![1000.0; 253],
    );
    let w = window(&p, None);
    for n in [1usize, 5, 10, 21, 42, 63, 126, 189, 252] {
        close(
            value(&w, &format!("ret_{n}")),
            n as f64 / (352 - n) as f64,
            "ret",
        );
    }
    close(value(&w, "mom_12_1"), 331.0 / 100.0 - 1.0, "mom_12_1");
    close(value(&w, "mom_6_1"), 331.0 / 226.0 - 1.0, "mom_6_1");
    close(value(&w, "mom_3_1"), 331.0 / 289.0 - 1.0, "mom_3_1");
    close(value(&w, "mom_12_6"), 226.0 / 100.0 - 1.0, "mom_12_6");
    close(value(&w, "rev_21_5"), 347.0 / 331.0 - 1.0, "rev_21_5");
    close(
        value(&w, "maxret_21"),
        1.0 / 331.0,
        "maxret_21 (r_232 = 1/331)",
    );
    close(value(&w, "minret_21"), 1.0 / 351.0, "minret_21");
    close(value(&w, "maxret_63"), 1.0 / 289.0, "maxret_63");
    close(value(&w, "minret_63"), 1.0 / 351.0, "minret_63");
    close(value(&w, "downvol_63"), 0.0, "downvol");
    close(value(&w, "downvol_21"), 0.0, "downvol_21");
    close(value(&w, "downvol_252"), 0.0, "downvol_252");
    close(value(&w, "dist_high_252"), 0.0, "dist_high_252");
    close(value(&w, "dist_high_63"), 0.0, "dist_high_63");
    close(
        value(&w, "dist_low_252"),
        352.0 / 101.0 - 1.0,
        "dist_low_252",
    );
    close(value(&w, "dist_low_63"), 352.0 / 290.0 - 1.0, "dist_low_63");
    close(value(&w, "range_pos_252"), 1.0, "range_pos");
    close(value(&w, "rsi_14"), 100.0, "rsi_14 (no losses)");
    close(value(&w, "rsi_28"), 100.0, "rsi_28");
    // 20 consecutive integers: population σ = √(399/12); c_252 − μ = 9.5.
    let s20 = (399.0f64 / 12.0).sqrt();
    close(
        value(&w, "bb_pctb_20"),
        (9.5 + 2.0 * s20) / (4.0 * s20),
        "bb_pctb_20",
    );
    let s50 = (2499.0f64 / 12.0).sqrt();
    close(
        value(&w, "bb_pctb_50"),
        (24.5 + 2.0 * s50) / (4.0 * s50),
        "bb_pctb_50",
    );
    close(value(&w, "bb_width_20"), 4.0 * s20 / 342.5, "bb_width_20");
    // TR_k = max(2, |101+k − (99+k)|, |99+k − (99+k)|) = 2.
    close(value(&w, "atr_14_pct"), 2.0 / 352.0, "atr_14_pct");
    close(value(&w, "atr_21_pct"), 2.0 / 352.0, "atr_21_pct");
    close(value(&w, "sma_50_200"), 327.5 / 252.5 - 1.0, "sma_50_200");
    close(value(&w, "sma_5_20"), 350.0 / 342.5 - 1.0, "sma_5_20");
    close(value(&w, "sma_20_50"), 342.5 / 327.5 - 1.0, "sma_20_50");
    close(value(&w, "sma_20_200"), 342.5 / 252.5 - 1.0, "sma_20_200");
    close(
        value(&w, "price_sma_50"),
        352.0 / 327.5 - 1.0,
        "price_sma_50",
    );
    close(
        value(&w, "price_sma_200"),
        352.0 / 252.5 - 1.0,
        "price_sma_200",
    );
    let hl: f64 = (232..253).map(|k| 2.0 / (100.0 + k as f64)).sum::<f64>() / 21.0;
    close(value(&w, "hl_range_21"), hl, "hl_range_21");
    close(value(&w, "close_loc_21"), 0.5, "close_loc_21");
    close(value(&w, "up_frac_63"), 1.0, "up_frac_63");
    close(value(&w, "volume_trend_5_63"), 1.0, "volume_trend_5_63");
    close(value(&w, "volume_trend_21_252"), 1.0, "volume_trend_21_252");
    close(value(&w, "volume_cv_21"), 0.0, "volume_cv_21");
    close(value(&w, "log_volume_21"), 1000f64.ln(), "log_volume_21");
    // mean(c_232..c_252) = 342, mean(c_190..c_252) = 321, mean(c_1..c_252) = 226.5.
    close(
        value(&w, "log_dollar_vol_21"),
        (342.0f64 * 1000.0).ln(),
        "log_dollar_vol_21",
    );
    close(
        value(&w, "log_dollar_vol_63"),
        (321.0f64 * 1000.0).ln(),
        "log_dollar_vol_63",
    );
    close(
        value(&w, "dollar_vol_trend_21_252"),
        342.0 / 226.5,
        "dollar_vol_trend",
    );
    // |r_k|/(c_k v_k)·1e6 = 1/((99+k)(100+k))·1e3.
    let am = |n: usize| {
        (253 - n..253)
            .map(|k| 1e3 / ((99.0 + k as f64) * (100.0 + k as f64)))
            .sum::<f64>()
            / n as f64
    };
    close(value(&w, "amihud_21"), am(21), "amihud_21");
    close(value(&w, "amihud_63"), am(63), "amihud_63");
    close(value(&w, "log_price"), 352f64.ln(), "log_price");
    for name in [
        "beta_252",
        "beta_63",
        "corr_63",
        "idio_vol_63",
        "idio_vol_252",
    ] {
        assert!(value(&w, name).is_nan(), "{name} without a market is NaN");
    }
}

#[test]
fn geometric_and_alternating_panels_by_hand() {
    // Constant 1 % growth: every return is 0.01, the log-price trend is exact.
    let g: f64 = 1.01;
    let p = cols(
        (0..253).map(|k| 100.0 * g.powi(k)).collect(),
        0.0,
        vec![5.0; 253],
    );
    let w = window(&p, None);
    close(value(&w, "ret_252"), g.powi(252) - 1.0, "ret_252");
    close(value(&w, "upvol_63"), 0.01 * 252f64.sqrt(), "upvol_63");
    close(
        value(&w, "trend_slope_126"),
        252.0 * g.ln(),
        "trend_slope_126",
    );
    close(value(&w, "trend_r2_126"), 1.0, "trend_r2_126");
    close(value(&w, "close_loc_21"), 0.5, "close_loc_21 with h = l");
    for name in ["vol_5", "vol_10", "vol_21", "vol_63", "vol_126", "vol_252"] {
        assert!(value(&w, name).abs() < 1e-12, "{name} of constant returns");
    }
    // Falling by 1 a day: all losses.
    let p = cols(
        (0..253).map(|k| 400.0 - k as f64).collect(),
        1.0,
        vec![5.0; 253],
    );
    let w = window(&p, None);
    close(value(&w, "rsi_14"), 0.0, "rsi_14 (no gains)");
    close(
        value(&w, "dist_high_252"),
        148.0 / 399.0 - 1.0,
        "dist_high_252",
    );
    close(value(&w, "range_pos_252"), 0.0, "range_pos_252");
    close(value(&w, "up_frac_63"), 0.0, "up_frac_63");
    // Alternating 100/110: returns +0.1 on odd k, −1/11 on even k; a stock with twice the
    // market's return each day has beta 2, correlation 1 and no idiosyncratic volatility.
    let mc: Vec<f64> = (0..253)
        .map(|k| if k % 2 == 0 { 100.0 } else { 110.0 })
        .collect();
    let m = returns(&mc);
    let mut c = vec![50.0];
    for k in 1..253 {
        c.push(c[k - 1] * (1.0 + 2.0 * m[k]));
    }
    let p = cols(c, 0.5, vec![5.0; 253]);
    let w = window(&p, Some(&m));
    close(value(&w, "beta_252"), 2.0, "beta_252");
    close(value(&w, "beta_63"), 2.0, "beta_63");
    close(value(&w, "corr_63"), 1.0, "corr_63");
    assert!(value(&w, "idio_vol_63") < 1e-7 && value(&w, "idio_vol_252") < 1e-7);
    // The market's own last 21 returns: 11 of −1/11 (even k) and 10 of +0.1, so with a = 0.1,
    // b = −1/11 the mean is (10a + 11b)/21; vol is the sample std of that two-point sample.
    let mw = cols(mc.clone(), 0.0, vec![5.0; 253]);
    let w = window(&mw, None);
    let (a, b): (f64, f64) = (0.1, -1.0 / 11.0);
    let mu = (10.0 * a + 11.0 * b) / 21.0;
    let var = (10.0 * (a - mu) * (a - mu) + 11.0 * (b - mu) * (b - mu)) / 20.0;
    close(value(&w, "vol_21"), var.sqrt() * 252f64.sqrt(), "vol_21");
    let dv = (11.0 * b * b / 21.0f64).sqrt() * 252f64.sqrt();
    close(value(&w, "downvol_21"), dv, "downvol_21");
    close(value(&w, "maxret_21"), a, "maxret_21");
    close(value(&w, "minret_21"), b, "minret_21");
    close(
        value(&w, "vol_ratio_21_252"),
        value(&w, "vol_21") / value(&w, "vol_252"),
        "ratio",
    );
    // Sharpe of 126 pairs (+0.1, −1/11): mean (a+b)/2 over std of the 252 returns.
    let mu = (a + b) / 2.0;
    let sd = ((126.0 * ((a - mu).powi(2) + (b - mu).powi(2))) / 251.0).sqrt();
    close(
        value(&w, "sharpe_252"),
        mu / sd * 252f64.sqrt(),
        "sharpe_252",
    );
    // Skewness of a two-point sample is finite; kurtosis too (checked by the moments test).
    assert!(value(&w, "skew_21").is_finite() && value(&w, "kurt_63").is_finite());
    assert!(value(&w, "skew_63").is_finite() && value(&w, "skew_252").is_finite());
    assert!(value(&w, "kurt_252").is_finite());
}

fn series(n: usize, seed: u64) -> Series {
    let mut x = seed;
    let mut next = || {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (x >> 11) as f64 / (1u64 << 53) as f64
    };
    let start = NaiveDate::from_ymd_opt(2020, 1, 1).expect("date");
    let mut s = Series::default();
    let mut c = 50.0;
    for i in 0..n {
        c *= 1.0 + (next() - 0.5) * 0.04;
        s.dates.push(start + chrono::Days::new(i as u64));
        s.open.push(c);
        s.high.push(c * (1.0 + next() * 0.02));
        s.low.push(c * (1.0 - next() * 0.02));
        s.close.push(c);
        s.volume.push(1e5 * (0.5 + next()));
    }
    s
}

#[test]
fn appending_future_bars_changes_nothing_on_earlier_dates() {
    let long = series(400, 7);
    let short = long.truncated_to(long.dates[300]);
    for i in [252usize, 280, 300] {
        let d = long.dates[i];
        let a = compute_at(&short, d, None).expect("enough bars");
        let b = compute_at(&long, d, None).expect("enough bars");
        assert_eq!(a.len(), b.len());
        for (k, (x, y)) in a.iter().zip(&b).enumerate() {
            assert!(
                x.to_bits() == y.to_bits(),
                "{} on {d}: {x} vs {y}",
                FACTORS[k].name
            );
        }
    }
    assert!(
        compute_at(&long, long.dates[251], None).is_none(),
        "252 bars are too few"
    );
}

fn load_fixture(dir: &Path) -> BTreeMap<String, Series> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(dir).expect("fixture dir") {
        let path = entry.expect("entry").path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("")
            .to_string();
        let Some(sym) = name.strip_suffix("_data.csv") else {
            continue;
        };
        let text = std::fs::read_to_string(&path).expect("csv");
        let mut s = Series::default();
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split(',').collect();
            let num = |i: usize| f[i].parse::<f64>().unwrap_or(f64::NAN);
            s.dates
                .push(NaiveDate::parse_from_str(f[0], "%Y-%m-%d").expect("date"));
            s.open.push(num(1));
            s.high.push(num(2));
            s.low.push(num(3));
            s.close.push(num(4));
            s.volume.push(num(5));
        }
        out.insert(sym.to_string(), s);
    }
    out
}

#[test]
fn reference_factors_match_an_independent_python_computation() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/panel");
    let script = dir.join("reference_factors.py");
    let out = match std::process::Command::new("python3").arg(&script).output() {
        Ok(o) if o.status.success() => o,
        Ok(o) => panic!(
            "reference script failed: {}",
            String::from_utf8_lossy(&o.stderr)
        ),
        Err(e) => {
            eprintln!("skipped: python3 is not available ({e})");
            return;
        }
    };
    let expected: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let panel = load_fixture(&dir);
    // Every fixture symbol has every session of the last 253, as the universe rule asks.
    let closes: Vec<&[f64]> = panel.values().map(|s| s.close.as_slice()).collect();
    let market = equal_weight_market(&closes);
    let date = NaiveDate::parse_from_str(expected["date"].as_str().expect("date"), "%Y-%m-%d")
        .expect("date");
    let universe = expected["universe"].as_array().expect("universe");
    assert_eq!(universe.len(), panel.len());
    let mut checked = 0;
    for (sym, s) in &panel {
        let got = compute_at(s, date, Some(&market)).expect("factors");
        for f in FACTORS.iter().filter(|f| f.reference) {
            let want = expected["factors"][sym][f.name].as_f64().expect("value");
            let v = got[index_of(f.name).expect("index")];
            assert!(
                (v - want).abs() <= 1e-9 * want.abs().max(1e-12),
                "{sym} {}: {v} vs python {want}",
                f.name
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 20 * panel.len());
}
