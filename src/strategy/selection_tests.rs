use chrono::NaiveDate;

use super::*;

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).expect("date")
}

#[test]
fn top_n_respects_the_sector_cap_in_rank_order() {
    let sectors = s(&["T", "T", "E", "T", "E", "F"]);
    let order = [0, 1, 3, 2, 4, 5];
    assert_eq!(top_n(&order, &sectors, 4, Some(2)), vec![0, 1, 2, 4]);
    assert_eq!(top_n(&order, &sectors, 4, None), vec![0, 1, 3, 2]);
    assert_eq!(top_n(&order, &sectors, 10, Some(1)), vec![0, 2, 5]);
}

#[test]
fn equal_inverse_vol_and_score_weights() {
    assert_eq!(
        weights(Weighting::Equal, &[0.1; 4], &[0.0; 4]),
        vec![0.25; 4]
    );
    // 1/0.1 : 1/0.2 : 1/0.4 = 10 : 5 : 2.5 → /17.5.
    let w = weights(Weighting::InverseVol, &[0.1, 0.2, 0.4], &[0.0; 3]);
    for (a, b) in w.iter().zip([10.0 / 17.5, 5.0 / 17.5, 2.5 / 17.5]) {
        assert!((a - b).abs() < 1e-12);
    }
    // scores 3, 2, 1: spread 2 → 4, 3, 2 → /9.
    let w = weights(Weighting::Score, &[0.1; 3], &[3.0, 2.0, 1.0]);
    for (a, b) in w.iter().zip([4.0 / 9.0, 3.0 / 9.0, 2.0 / 9.0]) {
        assert!((a - b).abs() < 1e-12);
    }
    assert_eq!(
        weights(Weighting::Score, &[0.1; 2], &[1.0, 1.0]),
        vec![0.5, 0.5]
    );
}

#[test]
fn capacity_cap_cuts_positions_above_their_share_of_adv() {
    // $1M capital, 10 % of ADV: caps are 0.1·ADV/1e6 → 0.5, 0.05, 1.0.
    let (w, cut) = capacity_cap(&[0.4, 0.4, 0.2], &[5e6, 5e5, 1e7], 1e6, 0.1);
    assert_eq!(cut, vec![false, true, false]);
    assert!((w[1] - 0.05).abs() < 1e-15 && w[0] == 0.4 && w[2] == 0.2);
    // Capacity = min(0.1·5e6/0.4, 0.1·5e5/0.4, 0.1·1e7/0.2) = 125,000.
    assert!((capacity(&[0.4, 0.4, 0.2], &[5e6, 5e5, 1e7], 0.1) - 125_000.0).abs() < 1e-6);
    let rep = capacity_report(&[0.5, 0.5], &[1e9, 2e8], 0.05);
    // cap at $10M: 5 (huge) and 1.0 → fits; at $50M: 0.2 for the second; at $100M: 0.1.
    assert_eq!(rep[0].capped, 0);
    assert!((rep[1].cut - 0.3).abs() < 1e-12 && rep[1].capped == 1);
    assert!((rep[2].cut - 0.4).abs() < 1e-12);
}

#[test]
fn beta_neutral_book_has_zero_beta() {
    let (lw, lb) = (vec![0.5, 0.5], vec![1.2, 1.6]);
    let (sw, sb) = (vec![0.25; 4], vec![0.8, 0.9, 1.0, 1.1]);
    let (a, b) = beta_neutral(&lw, &lb, &sw, &sb, 2.0).expect("positive betas");
    let beta: f64 = lw.iter().zip(&lb).map(|(w, x)| a * w * x).sum::<f64>()
        - sw.iter().zip(&sb).map(|(w, x)| b * w * x).sum::<f64>();
    assert!(beta.abs() <= 0.05 && beta.abs() < 1e-12, "beta {beta}");
    assert!((a + b - 2.0).abs() < 1e-12);
    assert!(beta_neutral(&lw, &[-1.0, 0.5], &sw, &sb, 2.0).is_none());
}

#[test]
fn crowding_hhi_and_shares() {
    // Two factors, equal weights; over names 0 and 1: |z_f| sums 2 and 2 → shares ½ each, HHI ½.
    let z = vec![vec![1.0, -1.0, 5.0], vec![2.0, 0.0, 5.0]];
    let c = crowding(&s(&["a", "b"]), &[1.0, 1.0], &[1.0, -1.0], &z, &[0, 1], 0.6);
    assert!((c.hhi - 0.5).abs() < 1e-12 && !c.warning);
    assert_eq!(c.shares["a"], 0.5);
    // Weights 3:1 → A = 3·2/4, 1·2/4 → shares ¾, ¼ → HHI 10/16 > 0.6.
    let c = crowding(&s(&["a", "b"]), &[3.0, 1.0], &[1.0, 1.0], &z, &[0, 1], 0.6);
    assert!((c.hhi - 0.625).abs() < 1e-12 && c.warning);
}

#[test]
fn rebalance_days_are_the_first_session_of_the_week_or_month() {
    // 2018-01-02 (Tue) is the first session of January 2018 and of its ISO week (Mon 1st is a holiday).
    assert!(is_rebalance_day(d(2018, 1, 2), Rebalance::Monthly).expect("cal"));
    assert!(is_rebalance_day(d(2018, 1, 2), Rebalance::Weekly).expect("cal"));
    assert!(!is_rebalance_day(d(2018, 1, 3), Rebalance::Monthly).expect("cal"));
    assert!(!is_rebalance_day(d(2018, 1, 3), Rebalance::Weekly).expect("cal"));
    assert!(is_rebalance_day(d(2018, 1, 8), Rebalance::Weekly).expect("cal"));
    assert!(is_rebalance_day(d(2018, 1, 3), Rebalance::Daily).expect("cal"));
    // 2014-03-03, the reference's first W1 rebalance.
    assert!(is_rebalance_day(d(2014, 3, 3), Rebalance::Monthly).expect("cal"));
}
