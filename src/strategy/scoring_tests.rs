use super::*;

fn syms(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("S{i:03}")).collect()
}

fn near(a: &[f64], b: &[f64]) {
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(b) {
        assert!((x - y).abs() < 1e-12, "{a:?} vs {b:?}");
    }
}

#[test]
fn type7_quantiles_and_winsorising_by_hand() {
    // h = 4·0.99 = 3.96 → 4 + 0.96·(10 − 4) = 9.76; h = 0.04 → 1 + 0.04·1 = 1.04.
    let s = [1.0, 2.0, 3.0, 4.0, 10.0];
    assert!((quantile7(&s, 0.99) - 9.76).abs() < 1e-12);
    assert!((quantile7(&s, 0.01) - 1.04).abs() < 1e-12);
    near(
        &winsorise(&[10.0, 1.0, 3.0, 2.0, 4.0]),
        &[9.76, 1.04, 3.0, 2.0, 4.0],
    );
    // 0..=100: the quantiles are exactly 1 and 99; a NaN is left alone and not counted.
    let mut x: Vec<f64> = (0..=100).map(f64::from).collect();
    x.push(f64::NAN);
    let w = winsorise(&x);
    assert_eq!((w[0], w[1], w[99], w[100]), (1.0, 1.0, 99.0, 99.0));
    assert!(w[101].is_nan());
}

#[test]
fn zscores_use_ddof_one_and_zero_for_what_is_not_finite() {
    near(&zscore(&[1.0, 2.0, 3.0]), &[-1.0, 0.0, 1.0]);
    near(
        &zscore(&[1.0, f64::NAN, 3.0]),
        &[-0.5f64.sqrt(), 0.0, 0.5f64.sqrt()],
    );
    near(&zscore(&[4.0, 4.0]), &[0.0, 0.0]);
    near(&zscore(&[f64::INFINITY]), &[0.0]);
}

#[test]
fn sector_neutral_zscores_are_taken_within_each_sector() {
    let sectors: Vec<String> = ["A", "B", "A", "B", "A", "C"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let x = [1.0, 10.0, 2.0, 30.0, 3.0, 7.0];
    // A: 1,2,3 → −1,0,1; B: 10,30 → mean 20, s = √200; C alone → 0.
    let b = 10.0 / 200f64.sqrt();
    near(
        &zscore_by_sector(&x, &sectors),
        &[-1.0, -b, 0.0, b, 1.0, 0.0],
    );
}

#[test]
fn composite_weights_signs_ranks_ties_and_reports() {
    let s: Vec<String> = ["B", "A", "C", "D"].iter().map(|x| x.to_string()).collect();
    let raw = vec![vec![1.0, 1.0, 3.0, f64::NAN], vec![4.0, 4.0, 2.0, 0.0]];
    let weights = vec![
        FactorWeight {
            name: "f".into(),
            weight: 3.0,
            sign: 1.0,
        },
        FactorWeight {
            name: "g".into(),
            weight: 1.0,
            sign: -1.0,
        },
    ];
    let out = score(&s, None, &raw, &weights);
    // Winsorised by hand: f over [1,1,3] (NaN excluded): q99 at h = 1.98 → 1 + 0.98·2 = 2.96;
    // g over [4,4,2,0]: q01 at h = 0.03 → 0.06, q99 = 4.
    let zf = zscore(&[1.0, 1.0, 2.96]);
    let zg = zscore(&[4.0, 4.0, 2.0, 0.06]);
    let want = [
        (3.0 * zf[0] - zg[0]) / 4.0,
        (3.0 * zf[1] - zg[1]) / 4.0,
        (3.0 * zf[2] - zg[2]) / 4.0,
        (0.0 - zg[3]) / 4.0,
    ];
    near(&out.composite, &want);
    assert_eq!(
        out.non_finite,
        vec![NonFinite {
            symbol: "D".into(),
            factor: "f".into()
        }]
    );
    // C best, then D, then the tie between B and A broken by symbol: A before B.
    let names: Vec<&str> = out.order.iter().map(|&i| s[i].as_str()).collect();
    assert_eq!(names, ["C", "D", "A", "B"]);
    assert_eq!(out.rank, vec![4, 3, 1, 2]);
}

#[test]
fn ties_break_by_byte_order_of_the_symbol() {
    let s: Vec<String> = ["BHF", "BF.B", "AAP_0", "AAPL_0"]
        .iter()
        .map(|x| x.to_string())
        .collect();
    let order = rank_order(&s, &[1.0; 4]);
    let names: Vec<&str> = order.iter().map(|&i| s[i].as_str()).collect();
    assert_eq!(names, ["AAPL_0", "AAP_0", "BF.B", "BHF"]);
    assert_eq!(syms(2), ["S000", "S001"]);
}
