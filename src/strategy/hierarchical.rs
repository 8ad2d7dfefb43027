//! Hierarchical Adaptive v3.5b: a regime allocator over QQQ / TQQQ / TMF / TMV / (PSQ) / cash.
//!
//! A Kalman trend filter and two SMAs on the signal symbol give the trend regime, a latched
//! z-score of realised vol gives the vol regime, the pair picks one of six cells, and the defensive
//! part of cells 4–6 may go into a leveraged treasury ETF chosen by the bond signal's SMA trend.
//! See `strategy-hierarchical-adaptive.md` (steps 1–11; the rebalance gate is portfolio construction's).

pub mod allocation;
mod params;

use std::collections::BTreeMap;
use std::sync::Arc;

use super::indicators::{
    KalmanConfig, KalmanTrend, LagBuffer, RealisedVol, RollingStats, VolLatch, ZScore,
    is_vol_crush, vol_change,
};
use super::{Decision, Diagnostics, History, Strategy, StrategyError, Targets};
use allocation::{BondChoice, CellWeights, allocate, cell, trend_state};
pub use params::{HierarchicalParams, ParamError};

/// The strategy with its parameters.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HierarchicalAdaptive {
    /// Parameters (validated again on every forward pass).
    pub params: HierarchicalParams,
}

impl HierarchicalAdaptive {
    /// A strategy with the given parameters.
    pub fn new(params: HierarchicalParams) -> Self {
        Self { params }
    }

    fn kalman_config(&self) -> KalmanConfig {
        let p = &self.params;
        KalmanConfig {
            measurement_noise: p.measurement_noise,
            process_noise_1: p.process_noise_1,
            process_noise_2: p.process_noise_2,
            symmetric_volume_adjustment: p.symmetric_volume_adjustment,
            sigma_lookback: p.sigma_lookback,
            strength_smoothness: p.strength_smoothness,
            trend_lookback: p.trend_lookback,
            osc_smoothness: p.osc_smoothness,
        }
    }

    /// An all-zero target map and, for each of its (sorted) keys, the role index into
    /// `role_weights`. Tradables are distinct (validated), so every key has exactly one role.
    fn target_template(&self) -> (BTreeMap<String, f64>, Vec<usize>) {
        let roles = self.tradable_symbols();
        let template: BTreeMap<String, f64> = roles.iter().map(|s| (s.clone(), 0.0)).collect();
        let order = template
            .keys()
            .filter_map(|k| roles.iter().position(|r| r == k))
            .collect();
        (template, order)
    }
}

/// Weights in `tradable_symbols` order: bull, core, bull bond, bear bond, inverse.
fn role_weights(w: &CellWeights) -> [f64; 5] {
    [w.bull, w.core, w.bull_bond, w.bear_bond, w.inverse]
}

impl Strategy for HierarchicalAdaptive {
    fn name(&self) -> &str {
        "hierarchical_adaptive_v3_5b"
    }

    fn signal_symbols(&self) -> Vec<String> {
        let p = &self.params;
        let mut out = vec![p.signal_symbol.clone()];
        if p.allow_treasury {
            out.push(p.bond_signal_symbol.clone());
        }
        out
    }

    fn tradable_symbols(&self) -> Vec<String> {
        let p = &self.params;
        let mut out = vec![
            p.bull.clone(),
            p.core.clone(),
            p.bull_bond.clone(),
            p.bear_bond.clone(),
        ];
        if p.use_inverse_hedge {
            out.push(p.inverse.clone());
        }
        out
    }

    /// Reads only the signal and bond-signal bars: tradables' prices matter to order sizing, not here.
    fn decide_each(
        &self,
        history: &History,
        sink: &mut dyn FnMut(Decision),
    ) -> Result<(), StrategyError> {
        let p = &self.params;
        let errors = p.validate();
        if !errors.is_empty() {
            let msgs: Vec<String> = errors.iter().map(ToString::to_string).collect();
            return Err(StrategyError::InvalidParams(msgs.join("; ")));
        }
        let signal = history.require(&p.signal_symbol)?;
        let bond_signal = if p.allow_treasury {
            Some(history.require(&p.bond_signal_symbol)?)
        } else {
            None
        };

        let mut kalman = KalmanTrend::new(self.kalman_config());
        let mut sma_fast = RollingStats::new(p.sma_fast);
        let mut sma_slow = RollingStats::new(p.sma_slow);
        let mut vol = RealisedVol::new(p.realized_vol_window);
        let mut vol_z = ZScore::new(p.vol_baseline_window);
        let mut sigma_lag = LagBuffer::new(p.vol_crush_lookback);
        let mut latch = VolLatch::new(p.upper_thresh_z, p.lower_thresh_z);
        let mut bond_fast = RollingStats::new(p.bond_sma_fast);
        let mut bond_slow = RollingStats::new(p.bond_sma_slow);
        let (mut bond_next, mut bond_bars) = (0usize, 0usize);

        // Cloning a prebuilt map is much cheaper than building one per day (allocation dominates),
        // and a day with yesterday's weights (most days) shares yesterday's map.
        let (template, order) = self.target_template();
        let mut shared: Option<([u64; 5], Targets)> = None;
        for (i, &date) in signal.dates.iter().enumerate() {
            let close = signal.close[i];
            // Step 1–2: the filter runs from the very first bar, decided or not.
            let k = kalman.update(close, signal.volume[i]);
            let t_norm = (k.strength / p.t_max).clamp(-1.0, 1.0);
            // Step 3.
            sma_fast.push(close);
            sma_slow.push(close);
            // Step 4: σ needs `realized_vol_window` returns, z needs `vol_baseline_window` σ values.
            let sigma = vol.push(close);
            sigma_lag.push(sigma);
            let z = sigma.and_then(|s| vol_z.push(s));
            // Step 5–6: the latch advances on every day with a z-score; a crush overrides it to Low,
            // and the override is what the latch remembers.
            if let Some(z) = z {
                latch.update(z);
            }
            let crush_delta = sigma.and_then(|s| vol_change(s, sigma_lag.lagged()));
            let crush = is_vol_crush(crush_delta, p.vol_crush_threshold);
            if crush {
                latch.force_low();
            }
            // The bond signal contributes only its bars dated <= D (it may lack some days).
            if let Some(b) = bond_signal {
                while bond_next < b.len() && b.dates[bond_next] <= date {
                    bond_fast.push(b.close[bond_next]);
                    bond_slow.push(b.close[bond_next]);
                    bond_next += 1;
                    bond_bars += 1;
                }
            }

            let mut diag = Diagnostics {
                vol_state: latch.state(),
                kalman_level: Some(k.level),
                kalman_velocity: Some(k.velocity),
                strength: Some(k.strength),
                t_norm: Some(t_norm),
                sma_fast: sma_fast.mean(),
                sma_slow: sma_slow.mean(),
                sigma,
                z_score: z,
                vol_crush_delta: crush_delta,
                vol_crush: crush,
                bond_bars,
                bond_sma_fast: bond_fast.mean(),
                bond_sma_slow: bond_slow.mean(),
                ..Diagnostics::default()
            };
            let targets = match (sma_fast.mean(), sma_slow.mean(), z) {
                (Some(fast), Some(slow), Some(_)) => {
                    // Step 7–8.
                    let trend = trend_state(t_norm, fast, slow, crush, p);
                    let c = cell(trend, latch.state());
                    // Step 9–11.
                    let bond = match (bond_fast.mean(), bond_slow.mean()) {
                        (Some(f), Some(s)) => Some(BondChoice::from_smas(f, s)),
                        _ => None,
                    };
                    let w = allocate(c, bond, p);
                    diag.trend = Some(trend);
                    diag.cell = Some(c);
                    diag.bond = if w.bull_bond > 0.0 {
                        Some(p.bull_bond.clone())
                    } else if w.bear_bond > 0.0 {
                        Some(p.bear_bond.clone())
                    } else {
                        None
                    };
                    let weights = role_weights(&w);
                    let bits = weights.map(f64::to_bits);
                    match &shared {
                        Some((b, t)) if *b == bits => Some(Arc::clone(t)),
                        _ => {
                            let mut targets = template.clone();
                            for (v, &role) in targets.values_mut().zip(&order) {
                                *v = weights[role];
                            }
                            let targets = Arc::new(targets);
                            shared = Some((bits, Arc::clone(&targets)));
                            Some(targets)
                        }
                    }
                }
                // Step 3/4: not enough bars → no decision, hold.
                _ => None,
            };
            sink(Decision {
                date,
                targets,
                diagnostics: diag,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
