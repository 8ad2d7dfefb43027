//! Estimators against closed forms and hand-computed samples; timing (ignored).
use super::*;

const A: f64 = 0.975;

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol
}

#[test]
fn normal_matches_closed_form_zero_mean() {
    const PHI_Z: f64 = 0.058_445_069_805_035_38;
    // Φ⁻¹(0.975) = 1.959963984540054, φ(that) = 0.05844506980503538 (computed independently).
    let sigma = 0.02;
    let r = normal_var_es(0.0, sigma, A).unwrap();
    assert!(close(r.var, sigma * 1.959963984540054, 1e-12), "{r:?}");
    assert!(close(r.es, sigma * PHI_Z / 0.025, 1e-12), "{r:?}");
    // ES/σ ≈ 2.3378 at 97.5 % (vs VaR/σ ≈ 1.96): the textbook constant.
    assert!(close(r.es / sigma, 2.337_803, 1e-5));
}

#[test]
fn normal_mean_shifts_both_figures() {
    let r0 = normal_var_es(0.0, 0.01, A).unwrap();
    let r1 = normal_var_es(0.001, 0.01, A).unwrap();
    assert!(close(r0.var - r1.var, 0.001, 1e-15));
    assert!(close(r0.es - r1.es, 0.001, 1e-15));
}

#[test]
fn cornish_fisher_reduces_to_normal() {
    let n = normal_var_es(0.0005, 0.013, A).unwrap();
    let c = cornish_fisher_var_es(0.0005, 0.013, 0.0, 0.0, A).unwrap();
    assert!(
        close(n.var, c.var, 1e-14) && close(n.es, c.es, 1e-14),
        "{n:?} {c:?}"
    );
}

#[test]
fn cornish_fisher_es_equals_numerical_tail_integral() {
    // Check the closed form against a trapezoid integral of g(t)φ(t) over (−12, z].
    for (s, k) in [(-0.8, 3.0), (0.5, 1.0), (-0.2, 6.0)] {
        let p = 1.0 - A;
        let z = std_normal_quantile(p).unwrap();
        let steps = 200_000;
        let (lo, h) = (-12.0, (z + 12.0) / steps as f64);
        let f = |t: f64| cornish_fisher_quantile(t, s, k) * std_normal_pdf(t);
        let mut integral = 0.5 * (f(lo) + f(z));
        for i in 1..steps {
            integral += f(lo + i as f64 * h);
        }
        integral *= h;
        let c = cornish_fisher_var_es(0.0, 1.0, s, k, A).unwrap();
        assert!(
            close(c.es, -integral / p, 1e-6),
            "s={s} k={k}: {} vs {}",
            c.es,
            -integral / p
        );
        assert!(close(c.var, -cornish_fisher_quantile(z, s, k), 1e-15));
    }
}

#[test]
fn negative_skew_and_fat_tails_raise_cf_figures() {
    let n = normal_var_es(0.0, 0.01, A).unwrap();
    let c = cornish_fisher_var_es(0.0, 0.01, -0.5, 2.0, A).unwrap();
    assert!(c.var > n.var && c.es > n.es);
}

#[test]
fn tail_count_is_exact_on_integer_products() {
    assert_eq!(tail_count(40, 0.975), 1);
    assert_eq!(tail_count(41, 0.975), 2);
    assert_eq!(tail_count(40, 0.9), 4);
    assert_eq!(tail_count(500, 0.975), 13);
    assert_eq!(tail_count(200, 0.975), 5);
    assert_eq!(tail_count(1, 0.975), 1);
}

/// 40 returns −0.020, −0.019, …, +0.019 in a scrambled order.
fn forty() -> Vec<f64> {
    (0..40)
        .map(|i| ((i * 17) % 40) as f64 / 1000.0 - 0.020)
        .collect()
}

#[test]
fn historical_by_hand_forty_returns() {
    let r = forty();
    // k = 1: VaR = ES = the worst loss, 2 %.
    let h = historical_var_es(&r, A).unwrap();
    assert!(
        close(h.var, 0.020, 1e-15) && close(h.es, 0.020, 1e-15),
        "{h:?}"
    );
    // α = 0.9 → k = 4: worst losses 0.020, 0.019, 0.018, 0.017.
    let h = historical_var_es(&r, 0.9).unwrap();
    assert!(close(h.var, 0.017, 1e-15), "{h:?}");
    assert!(
        close(h.es, (0.020 + 0.019 + 0.018 + 0.017) / 4.0, 1e-15),
        "{h:?}"
    );
}

/// The one-pass tail (k ≤ 64) and the selection path (k > 64) against a full sort, on series
/// with ties, for many sizes and confidence levels.
#[test]
fn historical_tail_matches_a_full_sort() {
    let mut rng = crate::test_rng::XorShift::new(0x9e37_79b9_7f4a_7c15);
    // Coarse values so ties are common.
    let mut next = || (rng.below(41) as f64 - 20.0) / 1000.0;
    for n in [1usize, 2, 13, 40, 100, 500, 3000] {
        let r: Vec<f64> = (0..n).map(|_| next()).collect();
        for alpha in [0.5, 0.9, 0.95, 0.975, 0.99] {
            let k = tail_count(n, alpha);
            let mut losses: Vec<f64> = r.iter().map(|x| -x).collect();
            losses.sort_by(|a, b| b.total_cmp(a));
            let want_es = losses[..k].iter().sum::<f64>() / k as f64;
            let h = historical_var_es(&r, alpha).unwrap();
            assert_eq!(h.var, losses[k - 1], "n={n} alpha={alpha}");
            assert!(
                close(h.es, want_es, 1e-15),
                "n={n} alpha={alpha}: {h:?} vs {want_es}"
            );
        }
    }
}

/// The kept list against a brute-force multiset: values come and go in random order (with
/// many ties); after every step the list holds the largest `min(capacity, len)` of what is
/// present, and a removal wears the capacity down exactly when the list was full and the
/// value could have been in it.
#[test]
fn kept_list_follows_a_set_as_values_come_and_go() {
    let mut rng = crate::test_rng::XorShift::new(0x51_7cc1_b727_220a);
    for round in 0..200 {
        let mut top = Top::new(1 + rng.below(20) as usize);
        let mut present: Vec<f64> = Vec::new();
        for step in 0..300 {
            if present.is_empty() || rng.below(3) > 0 {
                let x = (rng.below(30) as f64 - 15.0) / 100.0;
                present.push(x);
                top.offer(x);
            } else {
                let x = present.swap_remove(rng.below(present.len() as u64) as usize);
                assert!(top.remove(x), "round {round} step {step}: {x} not found");
            }
            if top.capacity() == 0 {
                break;
            }
            let mut want = present.clone();
            want.sort_by(|a, b| b.total_cmp(a));
            want.truncate(top.capacity());
            assert_eq!(top.values(), want, "round {round} step {step}");
        }
    }
    // A value the list should hold and does not: the caller is told.
    let mut top = Top::new(2);
    top.offer(0.5);
    assert!(!top.remove(0.25));
    assert!(top.remove(0.5) && top.values().is_empty() && top.capacity() == 2);
}

#[test]
fn historical_by_hand_two_hundred_returns() {
    // 200 returns: 195 gains of 1 % and losses 5, 4, 3, 2, 1 % → k = 5.
    let mut r = vec![0.01; 195];
    r.extend([-0.05, -0.01, -0.03, -0.04, -0.02]);
    let h = historical_var_es(&r, A).unwrap();
    assert!(
        close(h.var, 0.01, 1e-15) && close(h.es, 0.03, 1e-15),
        "{h:?}"
    );
}

#[test]
fn historical_is_positively_homogeneous() {
    let r = forty();
    let scaled: Vec<f64> = r.iter().map(|x| 0.37 * x).collect();
    let (a, b) = (
        historical_var_es(&r, 0.9).unwrap(),
        historical_var_es(&scaled, 0.9).unwrap(),
    );
    assert!(close(b.es, 0.37 * a.es, 1e-15) && close(b.var, 0.37 * a.var, 1e-15));
}

#[test]
fn bad_inputs_are_errors_not_panics() {
    assert!(std_normal_quantile(f64::NAN).is_err());
    assert!(std_normal_quantile(1.0).is_err());
    assert!(normal_var_es(0.0, 0.01, 1.5).is_err());
    assert!(normal_var_es(0.0, f64::NAN, A).is_err());
    assert!(cornish_fisher_var_es(0.0, 0.01, f64::INFINITY, 0.0, A).is_err());
    assert!(historical_var_es(&[], A).is_err());
    assert!(historical_var_es(&[0.01, f64::NAN], A).is_err());
    assert!(sample_moments(&[0.01]).is_err());
}

#[test]
fn moments_by_hand() {
    let m = sample_moments(&[1.0, 2.0, 3.0, 4.0]).unwrap();
    assert!(close(m.mean, 2.5, 1e-15));
    assert!(close(m.std_dev, (5.0f64 / 3.0).sqrt(), 1e-15));
    assert!(close(m.skew, 0.0, 1e-15));
    // m2 = 1.25, m4 = 2.5625 → 2.5625 / 1.5625 − 3 = −1.36.
    assert!(close(m.exkurt, -1.36, 1e-12));
    let c = sample_moments(&[0.5; 10]).unwrap();
    assert_eq!((c.std_dev, c.skew, c.exkurt), (0.0, 0.0, 0.0));
}

#[test]
fn portfolio_returns_align_on_the_most_recent_day() {
    let mut rets = Returns::default();
    rets.insert("A".into(), vec![9.0, 0.01, 0.02, 0.03].into());
    rets.insert("B".into(), vec![-0.01, 0.0, 0.01].into());
    rets.insert("C".into(), vec![].into());
    let w = BTreeMap::from([
        ("A".to_string(), 0.5),
        ("B".to_string(), 0.5),
        ("C".to_string(), 0.0),
    ]);
    let p = portfolio_returns(&w, &rets, 500).unwrap();
    assert_eq!(p.len(), 3);
    assert!(close(p[0], 0.0, 1e-15) && close(p[1], 0.01, 1e-15) && close(p[2], 0.02, 1e-15));
    assert_eq!(portfolio_returns(&w, &rets, 2).unwrap().len(), 2);
    let missing = BTreeMap::from([("Z".to_string(), 1.0)]);
    assert!(matches!(
        portfolio_returns(&missing, &rets, 10),
        Err(EsError::MissingReturns(_))
    ));
}

/// Timing: `cargo test --release -- --ignored --nocapture es_timing`.
#[test]
#[ignore]
fn es_timing_4000_positions_500_days() {
    let (syms, days) = (4000usize, 520usize);
    let mut returns = Returns::default();
    let mut weights = BTreeMap::new();
    let mut rng = crate::test_rng::XorShift::new(0x2545_f491_4f6c_dd1d);
    for s in 0..syms {
        let series: Vec<f64> = (0..days)
            .map(|_| rng.below(10_000) as f64 / 250_000.0 - 0.02)
            .collect();
        returns.insert(format!("SYM{s:05}").into(), series.into());
        weights.insert(format!("SYM{s:05}"), 1.0 / syms as f64);
    }
    let start = std::time::Instant::now();
    let runs = 20;
    for _ in 0..runs {
        let p = portfolio_returns(&weights, &returns, 500).unwrap();
        let rep = es_report(&p, A).unwrap();
        std::hint::black_box(rep);
    }
    let per = start.elapsed() / runs;
    println!("ES (hist + normal + CF), 4000 positions x 500 days: {per:?} per run");
    assert!(per.as_millis() <= 50);
}
