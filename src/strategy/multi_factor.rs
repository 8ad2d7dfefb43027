//! The multi-factor stock selection strategy: on each rebalance day, the eligible universe is
//! scored on the configured factors ([`super::factors`], [`super::scoring`]), the top N are
//! selected with a sector cap and weighted ([`super::selection`]); between rebalances the targets
//! are held. A decision on date D reads bars dated ≤ D only.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::factors::{self, FACTORS, WINDOW, Window};
use super::scoring::{self, FactorWeight, NonFinite};
use super::selection::{self, CapacityAt, Crowding, Rebalance, Weighting};
use super::{Decision, Diagnostics, History, Strategy, StrategyError};

/// One universe member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    /// Ticker.
    pub symbol: String,
    /// Sector (an empty string counts as one sector of its own).
    pub sector: String,
}

/// Parameters of the strategy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MultiFactorParams {
    /// The universe, with sectors.
    pub universe: Vec<Member>,
    /// Factors of the composite, with weights and signs.
    pub factors: Vec<FactorWeight>,
    /// z-scores within sector instead of over the whole universe.
    pub sector_neutral: bool,
    /// Names held.
    pub top_n: usize,
    /// At most this many names per sector.
    pub max_per_sector: Option<usize>,
    /// Weighting of the selection.
    pub weighting: Weighting,
    /// Factor whose value is the volatility for inverse-vol weights.
    pub vol_factor: String,
    /// Rebalance frequency.
    pub rebalance: Rebalance,
    /// Minimum last close.
    pub min_price: f64,
    /// Minimum 20-day average dollar volume.
    pub min_adv_20: f64,
    /// Capital the capacity cap is taken at.
    pub capital: f64,
    /// A position may be at most this share of its 20-day ADV at `capital` (`None`: no cap).
    pub max_adv_share: Option<f64>,
    /// Crowding HHI above this warns.
    pub crowding_warn: f64,
}

impl Default for MultiFactorParams {
    fn default() -> Self {
        MultiFactorParams {
            universe: Vec::new(),
            factors: FACTORS
                .iter()
                .filter(|f| f.reference)
                .map(|f| FactorWeight {
                    name: f.name.into(),
                    weight: 1.0,
                    sign: f.sign,
                })
                .collect(),
            sector_neutral: false,
            top_n: 20,
            max_per_sector: None,
            weighting: Weighting::Equal,
            vol_factor: "vol_63".into(),
            rebalance: Rebalance::Monthly,
            min_price: 0.0,
            min_adv_20: 0.0,
            capital: 1_000_000.0,
            max_adv_share: None,
            crowding_warn: 0.5,
        }
    }
}

/// Why a universe member was not scored on a date.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Excluded {
    /// Symbol.
    pub symbol: String,
    /// The reason, in words.
    pub reason: String,
}

/// Everything behind one rebalance: the scored universe, the selection and its checks.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Ranking {
    /// The date ranked.
    pub date: NaiveDate,
    /// Scored symbols, in universe order.
    pub symbols: Vec<String>,
    /// Their sectors.
    pub sectors: Vec<String>,
    /// Raw factor values, one column per configured factor.
    pub raw: Vec<Vec<f64>>,
    /// z-scores, same shape.
    pub z: Vec<Vec<f64>>,
    /// Composite per symbol.
    pub composite: Vec<f64>,
    /// 1-based rank per symbol.
    pub rank: Vec<usize>,
    /// Selected symbol indices, best first.
    pub selected: Vec<usize>,
    /// Target weights of the selection (after the capacity cap).
    pub weights: Vec<f64>,
    /// Selected names the capacity cap cut.
    pub capped: Vec<String>,
    /// The capacity at $10M/$50M/$100M (when a cap share is configured).
    pub capacity: Vec<CapacityAt>,
    /// Factor crowding over the selection.
    pub crowding: Crowding,
    /// Members that were not scored, with the reason.
    pub excluded: Vec<Excluded>,
    /// Factor values that were not finite (scored 0).
    pub non_finite: Vec<NonFinite>,
}

/// The strategy.
#[derive(Debug, Clone)]
pub struct MultiFactor {
    params: MultiFactorParams,
    /// Index into [`FACTORS`] of each configured factor.
    idx: Vec<usize>,
    vol_idx: usize,
}

impl MultiFactor {
    /// Checks the parameters: known factor names, positive weights, a non-empty universe.
    pub fn new(params: MultiFactorParams) -> Result<MultiFactor, StrategyError> {
        let bad = |m: String| Err(StrategyError::InvalidParams(m));
        let mut idx = Vec::new();
        for f in &params.factors {
            match factors::index_of(&f.name) {
                Some(i) => idx.push(i),
                None => return bad(format!("multi_factor.factors: unknown factor {:?}", f.name)),
            }
            if !(f.weight > 0.0 && f.weight.is_finite()) || !(f.sign == 1.0 || f.sign == -1.0) {
                return bad(format!(
                    "multi_factor.factors.{}: weight {} must be > 0 and sign {} must be 1 or -1",
                    f.name, f.weight, f.sign
                ));
            }
        }
        if idx.is_empty() {
            return bad("multi_factor.factors: no factor configured".into());
        }
        let Some(vol_idx) = factors::index_of(&params.vol_factor) else {
            return bad(format!(
                "multi_factor.vol_factor: unknown factor {:?}",
                params.vol_factor
            ));
        };
        if params.top_n == 0 || params.universe.is_empty() {
            return bad("multi_factor: top_n and the universe must not be empty".into());
        }
        Ok(MultiFactor {
            params,
            idx,
            vol_idx,
        })
    }

    /// The parameters.
    pub fn params(&self) -> &MultiFactorParams {
        &self.params
    }

    /// The sessions decided: the union of the universe's bar dates.
    pub fn calendar(&self, history: &History) -> Vec<NaiveDate> {
        let mut all = BTreeSet::new();
        for m in &self.params.universe {
            if let Some(s) = history.get(&m.symbol) {
                all.extend(s.dates.iter().copied());
            }
        }
        all.into_iter().collect()
    }

    /// Scores and selects on `calendar[t]`. A member is scored when its last [`WINDOW`] bars
    /// are exactly the sessions `calendar[t−252..=t]` (no gap, no late start), its last close
    /// is at least `min_price` and its 20-day ADV at least `min_adv_20`.
    pub fn rank_on(&self, history: &History, calendar: &[NaiveDate], t: usize) -> Ranking {
        let p = &self.params;
        let date = calendar[t];
        let first = (t + 1).checked_sub(WINDOW).map(|i| calendar[i]);
        let mut excluded = Vec::new();
        let mut members = Vec::new();
        for m in &p.universe {
            let why = match history.get(&m.symbol) {
                None => Some("no bars in the store".to_string()),
                Some(s) => {
                    let n = s.bars_through(date);
                    if n == 0 || s.dates[n - 1] != date {
                        Some(format!("no bar on {date}"))
                    } else if n < WINDOW || first.is_none() || Some(s.dates[n - WINDOW]) != first {
                        Some(format!(
                            "fewer than {WINDOW} sessions of history without a gap"
                        ))
                    } else if s.close[n - 1] < p.min_price {
                        Some(format!(
                            "close {} below min_price {}",
                            s.close[n - 1],
                            p.min_price
                        ))
                    } else {
                        let adv = adv20(&s.close[..n], &s.volume[..n]);
                        if adv < p.min_adv_20 {
                            Some(format!(
                                "20-day ADV {adv:.0} below min_adv_20 {}",
                                p.min_adv_20
                            ))
                        } else {
                            members.push((m, s, n, adv));
                            None
                        }
                    }
                }
            };
            if let Some(reason) = why {
                excluded.push(Excluded {
                    symbol: m.symbol.clone(),
                    reason,
                });
            }
        }
        let closes: Vec<&[f64]> = members
            .iter()
            .map(|(_, s, n, _)| &s.close[n - WINDOW..*n])
            .collect();
        let market = factors::equal_weight_market(&closes);
        let mut raw = vec![Vec::with_capacity(members.len()); self.idx.len()];
        let mut vol = Vec::with_capacity(members.len());
        for (_, s, n, _) in &members {
            let w = Window::new(
                &s.close[..*n],
                &s.high[..*n],
                &s.low[..*n],
                &s.volume[..*n],
                Some(&market),
            );
            for (col, &i) in raw.iter_mut().zip(&self.idx) {
                col.push(w.as_ref().map_or(f64::NAN, |w| (FACTORS[i].compute)(w)));
            }
            vol.push(
                w.as_ref()
                    .map_or(f64::NAN, |w| (FACTORS[self.vol_idx].compute)(w)),
            );
        }
        let symbols: Vec<String> = members.iter().map(|(m, ..)| m.symbol.clone()).collect();
        let sectors: Vec<String> = members.iter().map(|(m, ..)| m.sector.clone()).collect();
        let sc = scoring::score(
            &symbols,
            p.sector_neutral.then_some(&sectors[..]),
            &raw,
            &p.factors,
        );
        let selected = selection::top_n(&sc.order, &sectors, p.top_n, p.max_per_sector);
        let sel_vol: Vec<f64> = selected.iter().map(|&i| vol[i]).collect();
        let sel_score: Vec<f64> = selected.iter().map(|&i| sc.composite[i]).collect();
        let mut weights = selection::weights(p.weighting, &sel_vol, &sel_score);
        let adv: Vec<f64> = selected.iter().map(|&i| members[i].3).collect();
        let (mut capped, mut capacity) = (Vec::new(), Vec::new());
        if let Some(share) = p.max_adv_share {
            let (w, cut) = selection::capacity_cap(&weights, &adv, p.capital, share);
            capped = selected
                .iter()
                .zip(&cut)
                .filter(|(_, c)| **c)
                .map(|(&i, _)| symbols[i].clone())
                .collect();
            capacity = selection::capacity_report(&weights, &adv, share);
            weights = w;
        }
        let names: Vec<String> = p.factors.iter().map(|f| f.name.clone()).collect();
        let wts: Vec<f64> = p.factors.iter().map(|f| f.weight).collect();
        let signs: Vec<f64> = p.factors.iter().map(|f| f.sign).collect();
        let crowding = selection::crowding(&names, &wts, &signs, &sc.z, &selected, p.crowding_warn);
        Ranking {
            date,
            symbols,
            sectors,
            raw,
            z: sc.z,
            composite: sc.composite,
            rank: sc.rank,
            selected,
            weights,
            capped,
            capacity,
            crowding,
            excluded,
            non_finite: sc.non_finite,
        }
    }

    /// The target map of a ranking: every universe symbol, zero unless selected.
    pub fn targets_of(&self, r: &Ranking) -> BTreeMap<String, f64> {
        let mut t: BTreeMap<String, f64> = self
            .params
            .universe
            .iter()
            .map(|m| (m.symbol.clone(), 0.0))
            .collect();
        for (&i, w) in r.selected.iter().zip(&r.weights) {
            t.insert(r.symbols[i].clone(), *w);
        }
        t
    }
}

/// Mean of `c·v` over the last 20 bars (all of them if fewer).
pub fn adv20(c: &[f64], v: &[f64]) -> f64 {
    let n = c.len().min(v.len()).min(20);
    if n == 0 {
        return 0.0;
    }
    let (c, v) = (&c[c.len() - n..], &v[v.len() - n..]);
    c.iter().zip(v).map(|(a, b)| a * b).sum::<f64>() / n as f64
}

impl Strategy for MultiFactor {
    fn name(&self) -> &str {
        "multi_factor"
    }

    fn signal_symbols(&self) -> Vec<String> {
        self.tradable_symbols()
    }

    fn tradable_symbols(&self) -> Vec<String> {
        self.params
            .universe
            .iter()
            .map(|m| m.symbol.clone())
            .collect()
    }

    /// One decision per session of the universe's calendar; targets change on rebalance days and
    /// are held (the same map) in between; `None` before the first rebalance with a full window.
    fn decide_each(
        &self,
        history: &History,
        sink: &mut dyn FnMut(Decision),
    ) -> Result<(), StrategyError> {
        let cal = self.calendar(history);
        let mut current: Option<super::Targets> = None;
        for t in 0..cal.len() {
            let date = cal[t];
            let due = t + 1 >= WINDOW
                && selection::is_rebalance_day(date, self.params.rebalance)
                    .map_err(|e| StrategyError::InvalidParams(e.to_string()))?;
            if due {
                let r = self.rank_on(history, &cal, t);
                current = Some(Arc::new(self.targets_of(&r)));
            }
            sink(Decision {
                date,
                targets: current.clone(),
                diagnostics: Diagnostics::default(),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "multi_factor_tests.rs"]
mod tests;
