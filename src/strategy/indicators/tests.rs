use super::*;

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * (1.0 + b.abs())
}

fn kcfg(r: f64, q: f64, symmetric: bool) -> KalmanConfig {
    KalmanConfig {
        measurement_noise: r,
        process_noise_1: q,
        process_noise_2: q,
        symmetric_volume_adjustment: symmetric,
        sigma_lookback: 500,
        strength_smoothness: 15,
        trend_lookback: 20,
        osc_smoothness: 10,
    }
}

#[test]
fn wma_weights_newest_most() {
    // (1·1 + 2·2 + 3·3) / (1 + 2 + 3) = 14 / 6
    assert!(close(wma([1.0, 2.0, 3.0]).unwrap(), 14.0 / 6.0));
    assert_eq!(wma([]), None);
}

#[test]
fn rolling_stats_mean_and_sample_std() {
    let mut s = RollingStats::new(3);
    s.push(1.0);
    s.push(2.0);
    assert_eq!(s.mean(), None);
    s.push(3.0); // [1,2,3]: mean 2, squared deviations 1+0+1 = 2, /(3−1) → std 1
    assert!(close(s.mean().unwrap(), 2.0) && close(s.sample_std().unwrap(), 1.0));
    s.push(4.0); // [2,3,4]
    assert!(close(s.mean().unwrap(), 3.0) && close(s.sample_std().unwrap(), 1.0));
    s.push(10.0); // [3,4,10]: mean 17/3, Σd² = (8/3)² + (5/3)² + (13/3)² = 258/9, /2 = 129/9
    assert!(close(s.mean().unwrap(), 17.0 / 3.0));
    assert!(close(s.sample_std().unwrap(), (129.0f64 / 9.0).sqrt()));
}

#[test]
fn rolling_stats_match_naive_over_long_run() {
    let mut seed = 0x9E37_79B9_7F4A_7C15u64;
    let mut s = RollingStats::new(21);
    let mut all = Vec::new();
    for _ in 0..5000 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let x = 100.0 + (seed % 10_000) as f64 / 100.0;
        all.push(x);
        s.push(x);
    }
    let w = &all[all.len() - 21..];
    let m = w.iter().sum::<f64>() / 21.0;
    let sd = (w.iter().map(|x| (x - m).powi(2)).sum::<f64>() / 20.0).sqrt();
    assert!((s.mean().unwrap() - m).abs() < 1e-10);
    assert!((s.sample_std().unwrap() - sd).abs() < 1e-10);
}

#[test]
fn rolling_max_forgets_old_values() {
    let mut m = RollingMax::new(3);
    let mut got = Vec::new();
    for x in [1.0, 5.0, 2.0, 3.0, 1.0, 0.0] {
        m.push(x);
        got.push(m.max().unwrap());
    }
    assert_eq!(got, vec![1.0, 5.0, 5.0, 5.0, 3.0, 3.0]);
    assert_eq!(m.len(), 3);
}

#[test]
fn kalman_first_bar_initialises_level_and_zero_velocity() {
    let mut k = KalmanTrend::new(kcfg(3000.0, 0.01, true));
    let s = k.update(100.0, 1000.0);
    assert_eq!(
        (s.level, s.velocity, s.innovation, s.strength),
        (100.0, 0.0, None, 0.0)
    );
}

#[test]
fn kalman_one_step_with_golden_noise() {
    // P0 = I, Q = 0.01·I → P⁻ = F P Fᵀ + Q = [[1+0+0+1+0.01, 0+1], [0+1, 1+0.01]] = [[2.01, 1], [1, 1.01]].
    // Equal volumes → R = 3000; S = 2.01 + 3000 = 3002.01; K = [2.01, 1] / 3002.01; y = 101 − 100 = 1.
    let mut k = KalmanTrend::new(kcfg(3000.0, 0.01, true));
    k.update(100.0, 1000.0);
    let s = k.update(101.0, 1000.0);
    assert_eq!(s.innovation, Some(1.0));
    assert!(close(s.level, 100.0 + 2.01 / 3002.01));
    assert!(close(s.velocity, 1.0 / 3002.01));
}

#[test]
fn kalman_two_steps_with_volume_adjusted_noise() {
    // Q = 0, R = 2.
    // Step 1 (vol 1000 → 1000, ratio 1): P⁻ = [[2,1],[1,1]], S = 4, K = [0.5, 0.25],
    //   y = 104 − 100 = 4 → x = [102, 1]; P = [[1, 0.5], [0.5, 0.75]].
    // Step 2 (vol 1000 → 500, symmetric ratio 1000/500 = 2 → R = 4): x⁻ = [103, 1],
    //   P⁻ = [[1+0.5+0.5+0.75, 0.5+0.75], [1.25, 0.75]] = [[2.75, 1.25], [1.25, 0.75]],
    //   S = 6.75, K = [2.75, 1.25] / 6.75, y = 109.75 − 103 = 6.75 → x = [105.75, 2.25].
    let mut k = KalmanTrend::new(kcfg(2.0, 0.0, true));
    k.update(100.0, 1000.0);
    let s1 = k.update(104.0, 1000.0);
    assert!(close(s1.level, 102.0) && close(s1.velocity, 1.0));
    let s2 = k.update(109.75, 500.0);
    assert!(close(s2.level, 105.75) && close(s2.velocity, 2.25));
}

#[test]
fn kalman_asymmetric_volume_never_raises_noise() {
    // Asymmetric: ratio = 1000 / max(1000, 500) = 1 → R = 2, S = 2.75 + 2 = 4.75;
    // y = 107.75 − 103 = 4.75 → x = [103 + 2.75, 1 + 1.25].
    let mut k = KalmanTrend::new(kcfg(2.0, 0.0, false));
    k.update(100.0, 1000.0);
    k.update(104.0, 1000.0);
    let s = k.update(107.75, 500.0);
    assert!(close(s.level, 105.75) && close(s.velocity, 2.25));
}

#[test]
fn kalman_zero_volume_means_no_adjustment() {
    // Same as the asymmetric case: volume 0 leaves R = 2.
    let mut k = KalmanTrend::new(kcfg(2.0, 0.0, true));
    k.update(100.0, 1000.0);
    k.update(104.0, 1000.0);
    let s = k.update(107.75, 0.0);
    assert!(close(s.level, 105.75) && close(s.velocity, 2.25));
}

#[test]
fn oscillator_waits_then_wma_of_scaled_innovations() {
    let cfg = KalmanConfig {
        sigma_lookback: 3,
        strength_smoothness: 2,
        trend_lookback: 3,
        osc_smoothness: 2,
        ..kcfg(1.0, 0.0, true)
    };
    let mut o = TrendOscillator::new(&cfg);
    assert_eq!(o.push(2.0), 0.0); // |y| buffer [2]: fewer than 2 values
    assert_eq!(o.push(-4.0), 0.0); // [2,4] → osc −4/4·100 = −100; one osc value only
    // [2,4,1] → osc 25; WMA(−100, 25) = (−100 + 2·25) / 3
    assert!(close(o.push(1.0), -50.0 / 3.0));
    // [4,1,3] → osc 75; WMA(25, 75) = (25 + 150) / 3
    assert!(close(o.push(3.0), 175.0 / 3.0));
    // [1,3,2]: the 4 has left the buffer, max 3 → osc 200/3; WMA(75, 200/3) = (75 + 400/3) / 3
    assert!(close(o.push(2.0), 625.0 / 9.0));
}

#[test]
fn oscillator_all_zero_innovations_give_zero() {
    let cfg = KalmanConfig {
        strength_smoothness: 1,
        osc_smoothness: 1,
        ..kcfg(1.0, 0.0, true)
    };
    let mut o = TrendOscillator::new(&cfg);
    assert_eq!(o.push(0.0), 0.0);
}

#[test]
fn realised_vol_is_annualised_sample_std_of_log_returns() {
    let mut v = RealisedVol::new(2);
    assert_eq!(v.push(100.0), None);
    assert_eq!(v.push(110.0), None); // one return only
    // returns ln 1.1, ln 0.9: sample std of two values = |a − b| / √2
    let expect = (1.1f64.ln() - 0.9f64.ln()).abs() / 2f64.sqrt() * 252f64.sqrt();
    assert!(close(v.push(99.0).unwrap(), expect));
    // = 0.2006707 / 1.4142136 × 15.8745079 ≈ 2.252523
    assert!((expect - 2.252_523).abs() < 1e-6);
}

#[test]
fn z_score_over_window_including_today() {
    let mut z = ZScore::new(3);
    assert_eq!(z.push(1.0), None);
    assert_eq!(z.push(2.0), None);
    assert!(close(z.push(3.0).unwrap(), 1.0)); // (3 − 2) / 1
    // [2,3,3]: mean 8/3, var (4/9 + 1/9 + 1/9) / 2 = 1/3 → z = (1/3) / √(1/3) = √(1/3)
    assert!(close(z.push(3.0).unwrap(), (1.0f64 / 3.0).sqrt()));
    let mut flat = ZScore::new(2);
    flat.push(5.0);
    assert_eq!(flat.push(5.0), Some(0.0));
}

#[test]
fn hysteresis_latch_keeps_state_between_thresholds() {
    let mut l = VolLatch::new(1.0, 0.2);
    assert_eq!(l.state(), VolState::Low);
    assert_eq!(l.update(0.5), VolState::Low);
    assert_eq!(l.update(1.2), VolState::High);
    assert_eq!(l.update(0.5), VolState::High);
    assert_eq!(l.update(1.0), VolState::High);
    assert_eq!(l.update(0.2), VolState::High); // not strictly below
    assert_eq!(l.update(0.19), VolState::Low);
    l.update(2.0);
    l.force_low();
    assert_eq!(l.update(0.5), VolState::Low); // the override is remembered
}

#[test]
fn vol_crush_needs_a_drop_beyond_threshold() {
    let d = vol_change(0.16, Some(0.2)); // (0.16 − 0.2) / 0.2 = −0.2
    assert!(close(d.unwrap(), -0.2) && is_vol_crush(d, -0.15));
    assert!(!is_vol_crush(vol_change(0.18, Some(0.2)), -0.15)); // −0.1
    assert!(!is_vol_crush(vol_change(0.1, None), -0.15));
    assert_eq!(vol_change(0.1, Some(0.0)), None);
}

#[test]
fn lag_buffer_reads_value_lag_bars_back() {
    let mut b = LagBuffer::new(2);
    b.push(Some(1.0));
    b.push(None);
    assert_eq!(b.lagged(), None); // only two bars
    b.push(Some(3.0));
    assert_eq!(b.lagged(), Some(1.0));
    b.push(Some(4.0));
    assert_eq!(b.lagged(), None); // the bar two back had no value
    b.push(Some(5.0));
    assert_eq!(b.lagged(), Some(3.0));
}
