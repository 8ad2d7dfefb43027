use super::allocation::{BondChoice, CellWeights, allocate, cell, trend_state};
use super::*;
use crate::strategy::{Series, TrendState, VolState};
use chrono::{Days, NaiveDate};

const EPS: f64 = 1e-12;

fn near(a: f64, b: f64) -> bool {
    (a - b).abs() < EPS
}

/// Tiny deterministic PRNG (xorshift64) so property tests need no extra crates.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    /// Uniform in [-1, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 52) as f64 - 1.0
    }
}

fn day(i: usize) -> NaiveDate {
    NaiveDate::from_ymd_opt(2010, 1, 4).unwrap() + Days::new(i as u64)
}

/// A price path with a calm rise, a volatile crash and a calm recovery, so every regime shows up.
fn synthetic(n: usize, seed: u64, skip_every: usize) -> Series {
    let mut rng = XorShift(seed);
    let mut s = Series::default();
    let mut price = 100.0;
    for i in 0..n {
        let (drift, vol) = match i {
            _ if i < 300 => (0.0015, 0.006),
            _ if i < 420 => (-0.006, 0.035),
            _ => (0.001, 0.008),
        };
        price *= (drift + vol * rng.unit()).exp();
        if skip_every > 0 && i % skip_every == 3 {
            continue; // a missing day
        }
        s.dates.push(day(i));
        for col in [&mut s.open, &mut s.high, &mut s.low, &mut s.close] {
            col.push(price);
        }
        s.volume.push(1.0e6 * (1.5 + 0.5 * rng.unit()));
    }
    s
}

fn history(qqq: Series, tlt: Series) -> History {
    let mut h = History::default();
    h.series.insert("QQQ".into(), qqq);
    h.series.insert("TLT".into(), tlt);
    h
}

fn weights(cell: u8, bond: Option<BondChoice>, p: &HierarchicalParams) -> (CellWeights, f64) {
    let w = allocate(cell, bond, p);
    (w, w.cash())
}

#[test]
fn cells_number_the_regime_grid() {
    use TrendState::*;
    use VolState::*;
    let got: Vec<u8> = [(BullStrong, Low), (BullStrong, High), (Sideways, Low)]
        .into_iter()
        .chain([(Sideways, High), (BearStrong, Low), (BearStrong, High)])
        .map(|(t, v)| cell(t, v))
        .collect();
    assert_eq!(got, vec![1, 2, 3, 4, 5, 6]);
}

#[test]
fn trend_state_needs_strength_and_structure_and_crush_softens_bear() {
    let p = HierarchicalParams::default();
    assert_eq!(
        trend_state(0.06, 101.0, 100.0, false, &p),
        TrendState::BullStrong
    );
    assert_eq!(
        trend_state(0.06, 99.0, 100.0, false, &p),
        TrendState::Sideways
    );
    assert_eq!(
        trend_state(0.05, 101.0, 100.0, false, &p),
        TrendState::Sideways
    );
    assert_eq!(
        trend_state(-0.31, 99.0, 100.0, false, &p),
        TrendState::BearStrong
    );
    assert_eq!(
        trend_state(-0.31, 100.0, 100.0, false, &p),
        TrendState::BearStrong
    );
    assert_eq!(
        trend_state(-0.31, 101.0, 100.0, false, &p),
        TrendState::Sideways
    );
    assert_eq!(
        trend_state(-0.31, 99.0, 100.0, true, &p),
        TrendState::Sideways
    );
}

#[test]
fn base_weights_of_every_cell_with_tmf_overlay() {
    let p = HierarchicalParams::default();
    let tmf = Some(BondChoice::BullBond);
    // (cell, TQQQ, QQQ, TMF, cash)
    let expected = [
        (1, 0.6, 0.4, 0.0, 0.0),
        (2, 0.0, 1.0, 0.0, 0.0),
        (3, 0.2, 0.8, 0.0, 0.0),
        (4, 0.0, 0.0, 0.4, 0.6),
        (5, 0.0, 0.5, 0.2, 0.3),
        (6, 0.0, 0.0, 0.4, 0.6),
    ];
    for (c, bull, core, bond, cash) in expected {
        let (w, got_cash) = weights(c, tmf, &p);
        assert!(near(w.bull, bull) && near(w.core, core), "cell {c}: {w:?}");
        assert!(
            near(w.bull_bond, bond) && w.bear_bond == 0.0,
            "cell {c}: {w:?}"
        );
        assert!(w.inverse == 0.0 && near(got_cash, cash), "cell {c}: {w:?}");
    }
}

#[test]
fn inverse_hedge_replaces_the_overlay_in_cell_6_only() {
    let p = HierarchicalParams {
        use_inverse_hedge: true,
        ..HierarchicalParams::default()
    };
    let (w, cash) = weights(6, Some(BondChoice::BullBond), &p);
    assert!(near(w.inverse, 0.5) && near(cash, 0.5) && w.bull_bond == 0.0);
    let capped = HierarchicalParams {
        w_psq_max: 0.3,
        ..p.clone()
    };
    assert!(near(allocate(6, None, &capped).inverse, 0.3));
    let (w4, cash4) = weights(4, Some(BondChoice::BullBond), &p);
    assert!(near(w4.bull_bond, 0.4) && near(cash4, 0.6) && w4.inverse == 0.0);
    let (w1, _) = weights(1, None, &p);
    assert!(near(w1.bull, 0.6) && near(w1.core, 0.4) && w1.inverse == 0.0);
}

#[test]
fn treasury_overlay_picks_tmv_when_bonds_trend_down() {
    assert_eq!(BondChoice::from_smas(101.0, 100.0), BondChoice::BullBond);
    assert_eq!(BondChoice::from_smas(100.0, 100.0), BondChoice::BearBond);
    let (w, cash) = weights(
        5,
        Some(BondChoice::BearBond),
        &HierarchicalParams::default(),
    );
    assert!(near(w.core, 0.5) && near(w.bear_bond, 0.2) && w.bull_bond == 0.0 && near(cash, 0.3));
}

#[test]
fn treasury_overlay_without_enough_bond_bars_or_disabled_is_cash() {
    let p = HierarchicalParams::default();
    let (w, cash) = weights(4, None, &p);
    assert!(w.bull_bond == 0.0 && w.bear_bond == 0.0 && near(cash, 1.0));
    let off = HierarchicalParams {
        allow_treasury: false,
        ..p.clone()
    };
    let (w, cash) = weights(5, Some(BondChoice::BullBond), &off);
    assert!(near(w.core, 0.5) && w.bull_bond == 0.0 && near(cash, 0.5));
    let capped = HierarchicalParams {
        max_bond_weight: 0.1,
        ..p
    };
    let (w, cash) = weights(6, Some(BondChoice::BullBond), &capped);
    assert!(near(w.bull_bond, 0.1) && near(cash, 0.9));
}

#[test]
fn leverage_scalar_scales_equity_legs_then_renormalises() {
    let p = |s: f64, hedge: bool| HierarchicalParams {
        leverage_scalar: s,
        use_inverse_hedge: hedge,
        ..HierarchicalParams::default()
    };
    let tmf = Some(BondChoice::BullBond);
    // Fully invested equity cells are unchanged: (0.9, 0.6) / 1.5 = (0.6, 0.4).
    let (w, cash) = weights(1, tmf, &p(1.5, false));
    assert!(near(w.bull, 0.6) && near(w.core, 0.4) && near(cash, 0.0));
    // Cell 5 at 1.5: QQQ 0.75, TMF 0.2, cash 0.3, total 1.25 → 0.6, 0.16, 0.24.
    let (w, cash) = weights(5, tmf, &p(1.5, false));
    assert!(near(w.core, 0.6) && near(w.bull_bond, 0.16) && near(cash, 0.24));
    // Cell 5 at 0.5: QQQ 0.25, TMF 0.2, cash 0.3, total 0.75 → 1/3, 4/15, 0.4.
    let (w, cash) = weights(5, tmf, &p(0.5, false));
    assert!(near(w.core, 1.0 / 3.0) && near(w.bull_bond, 4.0 / 15.0) && near(cash, 0.4));
    // Cell 6 hedged at 1.5: PSQ 0.75, cash 0.5, total 1.25 → 0.6, 0.4.
    let (w, cash) = weights(6, tmf, &p(1.5, true));
    assert!(near(w.inverse, 0.6) && near(cash, 0.4));
    // Cells 4 (no equity) are untouched.
    let (w, cash) = weights(4, tmf, &p(1.5, false));
    assert!(near(w.bull_bond, 0.4) && near(cash, 0.6));
}

#[test]
fn first_decision_waits_for_sma_slow_and_200_sigmas() {
    let h = history(synthetic(600, 7, 0), synthetic(600, 8, 0));
    let d = HierarchicalAdaptive::default().decide_all(&h).unwrap();
    assert_eq!(d.len(), 600);
    // σ needs 22 closes (index 21); the 200th σ is at index 21 + 199 = 220.
    assert!(
        d[..220]
            .iter()
            .all(|x| x.targets.is_none() && x.diagnostics.cell.is_none())
    );
    assert!(d[220..].iter().all(|x| x.targets.is_some()));
    assert!(d[0].diagnostics.t_norm.is_some() && d[0].diagnostics.sigma.is_none());
    assert!(d[20].diagnostics.sigma.is_none() && d[21].diagnostics.sigma.is_some());
    assert!(d[139].diagnostics.sma_slow.is_some() && d[138].diagnostics.sma_slow.is_none());
}

#[test]
fn targets_list_every_tradable_and_sum_with_cash_to_one() {
    let s = HierarchicalAdaptive::default();
    assert_eq!(s.tradable_symbols(), vec!["TQQQ", "QQQ", "TMF", "TMV"]);
    assert_eq!(s.signal_symbols(), vec!["QQQ", "TLT"]);
    assert_eq!(
        s.required_symbols(),
        vec!["QQQ", "TLT", "TQQQ", "TMF", "TMV"]
    );
    let d = s
        .decide_all(&history(synthetic(700, 1, 0), synthetic(700, 2, 0)))
        .unwrap();
    let cells: Vec<u8> = d.iter().filter_map(|x| x.diagnostics.cell).collect();
    assert!(cells.iter().any(|&c| c >= 4) && cells.iter().any(|&c| c <= 3));
    for x in d.iter().filter(|x| x.targets.is_some()) {
        let t = x.targets.as_ref().unwrap();
        assert_eq!(t.len(), 4);
        assert!(x.cash().unwrap() > -EPS && t.values().all(|w| *w >= 0.0));
    }
}

#[test]
fn short_bond_history_keeps_defensive_part_in_cash() {
    let tlt = synthetic(59, 3, 0); // one bar short of bond_sma_slow
    let d = HierarchicalAdaptive::default()
        .decide_all(&history(synthetic(700, 1, 0), tlt))
        .unwrap();
    let defensive: Vec<_> = d.iter().filter(|x| x.diagnostics.cell >= Some(4)).collect();
    assert!(!defensive.is_empty());
    for x in defensive {
        let t = x.targets.as_ref().unwrap();
        assert_eq!((t["TMF"], t["TMV"]), (0.0, 0.0));
        assert_eq!(
            (x.diagnostics.bond.as_ref(), x.diagnostics.bond_bars),
            (None, 59)
        );
    }
}

#[test]
fn bond_signal_aligns_by_date_despite_missing_days() {
    let tlt = synthetic(700, 3, 10); // every 10th day missing
    let d = HierarchicalAdaptive::default()
        .decide_all(&history(synthetic(700, 1, 0), tlt.clone()))
        .unwrap();
    for x in &d {
        let known = tlt.dates.iter().filter(|t| **t <= x.date).count();
        assert_eq!(x.diagnostics.bond_bars, known);
    }
    let x = d.iter().find(|x| x.diagnostics.bond.is_some()).unwrap();
    let t = x.targets.as_ref().unwrap();
    let fast = x.diagnostics.bond_sma_fast.unwrap();
    let slow = x.diagnostics.bond_sma_slow.unwrap();
    let chosen = if fast > slow { "TMF" } else { "TMV" };
    assert_eq!(x.diagnostics.bond.as_deref(), Some(chosen));
    assert!(t[chosen] > 0.0);
}

#[test]
fn decision_for_d_ignores_every_bar_after_d() {
    let mut rng = XorShift(0x2545_F491_4F6C_DD1D);
    let s = HierarchicalAdaptive::default();
    let base = history(synthetic(600, 11, 0), synthetic(600, 12, 7));
    let reference = s.decide_all(&base).unwrap();
    for _ in 0..25 {
        let cut = 200 + (rng.next() % 399) as usize;
        let d = reference[cut].date;
        let mut h = base.clone();
        for series in h.series.values_mut() {
            for i in 0..series.len() {
                if series.dates[i] > d {
                    series.close[i] *= 1.0 + 0.5 * rng.unit();
                    series.volume[i] *= 1.0 + 0.9 * rng.unit();
                }
            }
        }
        let perturbed = s.decide_all(&h).unwrap();
        assert_eq!(perturbed[..=cut], reference[..=cut], "cut at {d}");
        let truncated = s.decide_all(&base.truncated_to(d)).unwrap();
        assert_eq!(truncated[..], reference[..=cut], "truncated at {d}");
    }
}

#[test]
fn bad_inputs_are_errors_naming_symbol_and_date() {
    let s = HierarchicalAdaptive::default();
    let mut h = history(synthetic(300, 1, 0), synthetic(300, 2, 0));
    h.series.remove("QQQ");
    let err = s.decide_all(&h).unwrap_err();
    assert_eq!(err.to_string(), "required symbol QQQ has no bars");

    let mut h = history(synthetic(300, 1, 0), synthetic(300, 2, 0));
    h.series.get_mut("TLT").unwrap().close[5] = f64::NAN;
    let err = s.decide_all(&h).unwrap_err().to_string();
    assert!(
        err.contains("TLT") && err.contains(&day(5).to_string()),
        "{err}"
    );

    let mut h = history(synthetic(300, 1, 0), synthetic(300, 2, 0));
    h.series.get_mut("QQQ").unwrap().close[9] = 0.0;
    assert!(matches!(
        s.decide_all(&h),
        Err(StrategyError::BadClose { .. })
    ));

    let mut h = history(synthetic(300, 1, 0), synthetic(300, 2, 0));
    h.series.get_mut("QQQ").unwrap().dates.swap(3, 4);
    assert!(matches!(
        s.decide_all(&h),
        Err(StrategyError::Unsorted { .. })
    ));

    let mut h = history(synthetic(300, 1, 0), synthetic(300, 2, 0));
    h.series.get_mut("QQQ").unwrap().volume.pop();
    assert!(matches!(
        s.decide_all(&h),
        Err(StrategyError::RaggedSeries { .. })
    ));
}

#[test]
fn default_params_are_valid_and_bad_ones_are_named() {
    assert!(HierarchicalParams::default().validate().is_empty());
    let bad = HierarchicalParams {
        sma_fast: 150,
        leverage_scalar: 2.0,
        max_bond_weight: f64::NAN,
        t_norm_bear_thresh: 0.1,
        bear_bond: "TMF".into(),
        ..HierarchicalParams::default()
    };
    let keys: Vec<String> = bad.validate().into_iter().map(|e| e.key).collect();
    let expect = ["sma_slow", "t_norm_bear_thresh", "max_bond_weight"];
    assert!(
        expect.iter().all(|k| keys.iter().any(|x| x == k)),
        "{keys:?}"
    );
    assert!(keys.iter().any(|k| k == "leverage_scalar") && keys.iter().any(|k| k == "bear_bond"));
    let lev = bad
        .validate()
        .into_iter()
        .find(|e| e.key == "leverage_scalar")
        .unwrap();
    assert_eq!(
        lev.to_string(),
        "leverage_scalar = 2: must be between 0.5 and 1.5"
    );
    let s = HierarchicalAdaptive::new(bad);
    let h = history(synthetic(300, 1, 0), synthetic(300, 2, 0));
    assert!(matches!(
        s.decide_all(&h),
        Err(StrategyError::InvalidParams(_))
    ));
}

#[test]
fn params_deserialise_with_defaults_alias_and_no_unknown_keys() {
    let p: HierarchicalParams = serde_json::from_str(r#"{"sma_fast": 30, "T_max": 60}"#).unwrap();
    assert_eq!((p.sma_fast, p.t_max, p.sma_slow), (30, 60.0, 140));
    assert!(serde_json::from_str::<HierarchicalParams>(r#"{"sma_fats": 30}"#).is_err());
    let round: HierarchicalParams =
        serde_json::from_str(&serde_json::to_string(&HierarchicalParams::default()).unwrap())
            .unwrap();
    assert_eq!(round, HierarchicalParams::default());
}
