use std::collections::BTreeMap;

use chrono::NaiveDate;

use super::*;
use crate::strategy::Series;

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).expect("date")
}

/// 30 symbols on the NYSE sessions of 2016-01-04 … 2017-12-29 with pseudo-random walks; `S05`
/// starts 300 sessions late, `S07` misses one session in 2017, `S11` and `S12` are identical
/// (a tie broken by symbol).
fn panel() -> (History, Vec<NaiveDate>) {
    let cal = crate::calendar::sessions_between(d(2016, 1, 4), d(2017, 12, 29)).expect("calendar");
    let mut history = History::default();
    let mut x: u64 = 42;
    for k in 0..30 {
        let mut s = Series::default();
        let mut c = 20.0 + k as f64;
        for (t, date) in cal.iter().enumerate() {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let u = (x >> 11) as f64 / (1u64 << 53) as f64;
            c *= 1.0 + (u - 0.5) * 0.03 + 0.0001 * k as f64;
            if (k == 5 && t < 300) || (k == 7 && t == 400) {
                continue;
            }
            s.dates.push(*date);
            s.open.push(c);
            s.high.push(c * 1.01);
            s.low.push(c * 0.99);
            s.close.push(c);
            s.volume.push(1e6);
        }
        history.series.insert(format!("S{k:02}"), s);
    }
    let s11 = history.series["S11"].clone();
    history.series.insert("S12".into(), s11);
    (history, cal)
}

fn w1() -> MultiFactor {
    let (history, _) = panel();
    MultiFactor::new(MultiFactorParams {
        universe: history
            .series
            .keys()
            .map(|s| Member {
                symbol: s.clone(),
                sector: "X".into(),
            })
            .collect(),
        factors: vec![FactorWeight {
            name: "mom_12_1".into(),
            weight: 1.0,
            sign: 1.0,
        }],
        top_n: 20,
        ..MultiFactorParams::default()
    })
    .expect("params")
}

/// The reference document's W1 rule, written out independently on the wide close matrix.
fn reference_selections(history: &History, cal: &[NaiveDate]) -> Vec<(NaiveDate, Vec<String>)> {
    let syms: Vec<&String> = history.series.keys().collect();
    let wide: Vec<Vec<Option<f64>>> = syms
        .iter()
        .map(|s| {
            let by: BTreeMap<NaiveDate, f64> = history.series[*s]
                .dates
                .iter()
                .copied()
                .zip(history.series[*s].close.iter().copied())
                .collect();
            cal.iter().map(|d| by.get(d).copied()).collect()
        })
        .collect();
    let mut out = Vec::new();
    for i in 252..cal.len() {
        if (cal[i].format("%Y-%m").to_string()) == cal[i - 1].format("%Y-%m").to_string() {
            continue;
        }
        let mut mom: Vec<(f64, &String)> = Vec::new();
        for (k, s) in syms.iter().enumerate() {
            if (i - 252..=i).all(|t| wide[k][t].is_some()) {
                let (a, b) = (
                    wide[k][i - 21].unwrap_or(f64::NAN),
                    wide[k][i - 252].unwrap_or(f64::NAN),
                );
                mom.push((a / b - 1.0, s));
            }
        }
        mom.sort_by(|x, y| {
            y.0.total_cmp(&x.0)
                .then_with(|| x.1.as_bytes().cmp(y.1.as_bytes()))
        });
        out.push((
            cal[i],
            mom.iter().take(20).map(|(_, s)| (*s).clone()).collect(),
        ));
    }
    out
}

#[test]
fn w1_config_reproduces_the_reference_selection_rule() {
    let (history, cal) = panel();
    let strat = w1();
    let want = reference_selections(&history, &cal);
    assert_eq!(
        want.len(),
        12,
        "monthly rebalances of 2017 after a 253-session window"
    );
    let decisions = strat.decide_all(&history).expect("decisions");
    assert_eq!(decisions.len(), cal.len());
    for (date, names) in &want {
        let t = cal.iter().position(|d| d == date).expect("session");
        let r = strat.rank_on(&history, &cal, t);
        let got: Vec<String> = r.selected.iter().map(|&i| r.symbols[i].clone()).collect();
        assert_eq!(&got, names, "selection on {date}");
        let targets = decisions[t].targets.as_ref().expect("targets");
        for (s, w) in targets.iter() {
            let expect = if names.contains(s) { 0.05 } else { 0.0 };
            assert!((w - expect).abs() < 1e-15, "{s} on {date}: {w}");
        }
        assert!(
            r.excluded
                .iter()
                .any(|e| e.symbol == "S07" || e.symbol == "S05")
                || t > 700
        );
    }
    // Between rebalances the same targets are held; before the first there are none.
    let first = cal.iter().position(|d| *d == want[0].0).expect("first");
    assert!(decisions[first - 1].targets.is_none());
    assert!(Arc::ptr_eq(
        decisions[first].targets.as_ref().expect("t"),
        decisions[first + 1].targets.as_ref().expect("t")
    ));
}

#[test]
fn excluded_members_are_named_with_the_reason() {
    let (history, cal) = panel();
    let strat = w1();
    let t = cal
        .iter()
        .position(|x| *x == d(2017, 9, 1))
        .expect("session");
    let r = strat.rank_on(&history, &cal, t);
    let why: BTreeMap<&str, &str> = r
        .excluded
        .iter()
        .map(|e| (e.symbol.as_str(), e.reason.as_str()))
        .collect();
    assert!(why["S05"].contains("fewer than 253"), "{why:?}");
    assert!(why["S07"].contains("without a gap"), "{why:?}");
    assert_eq!(why.len(), 2);
    assert_eq!(r.symbols.len() + r.excluded.len(), 30);
    // Filters: a minimum price excludes the cheap names, with the value in the reason.
    let mut p = strat.params().clone();
    p.min_price = 1e9;
    let r = MultiFactor::new(p)
        .expect("params")
        .rank_on(&history, &cal, t);
    assert!(r.symbols.is_empty());
    assert!(
        r.excluded
            .iter()
            .filter(|e| e.reason.contains("below min_price"))
            .count()
            >= 28
    );
}

#[test]
fn decisions_do_not_look_ahead() {
    let (history, cal) = panel();
    let strat = w1();
    let cut = cal[430];
    let short = strat.decide_all(&history.truncated_to(cut)).expect("short");
    let long = strat.decide_all(&history).expect("long");
    assert_eq!(short.len(), 431);
    assert_eq!(&long[..431], &short[..]);
}

#[test]
fn sector_cap_crowding_and_capacity_in_a_ranking() {
    let (history, cal) = panel();
    let mut p = w1().params().clone();
    for (i, m) in p.universe.iter_mut().enumerate() {
        m.sector = ["A", "B", "C"][i % 3].into();
    }
    p.top_n = 9;
    p.max_per_sector = Some(2);
    p.max_adv_share = Some(0.01);
    p.capital = 1e8;
    p.factors.push(FactorWeight {
        name: "vol_63".into(),
        weight: 1.0,
        sign: -1.0,
    });
    let strat = MultiFactor::new(p).expect("params");
    let t = cal.len() - 1;
    let r = strat.rank_on(&history, &cal, t);
    assert_eq!(r.selected.len(), 6, "3 sectors × 2");
    let mut per: BTreeMap<&str, usize> = BTreeMap::new();
    for &i in &r.selected {
        *per.entry(r.sectors[i].as_str()).or_default() += 1;
    }
    assert!(per.values().all(|c| *c == 2));
    // ADV ≈ $20–60M·1 %/1e8 → caps of 0.2–0.6 % of equity: every 1/6 weight is cut.
    assert_eq!(r.capped.len(), 6);
    assert!(r.weights.iter().zip(&r.selected).all(|(w, &i)| {
        let s = &history.series[&r.symbols[i]];
        *w <= 0.01 * adv20(&s.close, &s.volume) / 1e8 + 1e-15
    }));
    assert_eq!(r.capacity.len(), 3);
    assert_eq!(r.crowding.shares.len(), 2);
    assert!((r.crowding.shares.values().sum::<f64>() - 1.0).abs() < 1e-12);
    assert!(
        MultiFactor::new(MultiFactorParams {
            universe: Vec::new(),
            ..Default::default()
        })
        .is_err()
    );
}
