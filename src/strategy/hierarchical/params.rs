//! Parameters of Hierarchical Adaptive v3.5b: the golden defaults and their sane ranges.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Every tunable of the strategy. Defaults are the published "golden" values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HierarchicalParams {
    /// Kalman measurement noise R.
    pub measurement_noise: f64,
    /// Kalman process noise of the level.
    pub process_noise_1: f64,
    /// Kalman process noise of the velocity.
    pub process_noise_2: f64,
    /// WMA length of the oscillator.
    pub osc_smoothness: usize,
    /// Minimum buffered innovations before the oscillator starts.
    pub strength_smoothness: usize,
    /// Innovation buffer capacity.
    pub sigma_lookback: usize,
    /// Oscillator buffer capacity.
    pub trend_lookback: usize,
    /// R × prev_volume/volume (true) or × prev_volume/max(prev_volume, volume) (false).
    pub symmetric_volume_adjustment: bool,
    /// Trend strength normaliser (`T_max` in the original configs).
    #[serde(alias = "T_max")]
    pub t_max: f64,
    /// Fast structural SMA length (signal closes).
    pub sma_fast: usize,
    /// Slow structural SMA length (signal closes).
    pub sma_slow: usize,
    /// T_norm above this (with bull structure) → BullStrong.
    pub t_norm_bull_thresh: f64,
    /// T_norm below this (without bull structure) → BearStrong.
    pub t_norm_bear_thresh: f64,
    /// Days of log returns in realised vol.
    pub realized_vol_window: usize,
    /// Days of realised vol in the z-score baseline.
    pub vol_baseline_window: usize,
    /// z above this → High vol.
    pub upper_thresh_z: f64,
    /// z below this → Low vol.
    pub lower_thresh_z: f64,
    /// Relative vol drop below this → vol crush.
    pub vol_crush_threshold: f64,
    /// Bars back for the vol-crush comparison.
    pub vol_crush_lookback: usize,
    /// Treasury overlay on the defensive part of cells 4, 5, 6.
    pub allow_treasury: bool,
    /// Fast SMA length of the bond signal.
    pub bond_sma_fast: usize,
    /// Slow SMA length of the bond signal (also the bars needed before any bond is held).
    pub bond_sma_slow: usize,
    /// Cap on the bond sleeve.
    pub max_bond_weight: f64,
    /// Scales bull, core and inverse weights before renormalising.
    pub leverage_scalar: f64,
    /// Hold the inverse ETF in cell 6 instead of the treasury overlay.
    pub use_inverse_hedge: bool,
    /// Cap on the inverse weight.
    pub w_psq_max: f64,
    /// Σ|Δw| that triggers a rebalance (used by portfolio construction, not here).
    pub rebalance_threshold: f64,
    /// Symbol driving the Kalman filter, SMAs and vol (and the decision dates).
    pub signal_symbol: String,
    /// Symbol whose trend picks the bond.
    pub bond_signal_symbol: String,
    /// Leveraged bull ETF.
    pub bull: String,
    /// Unleveraged core ETF.
    pub core: String,
    /// Leveraged long-treasury ETF.
    pub bull_bond: String,
    /// Leveraged short-treasury ETF.
    pub bear_bond: String,
    /// Inverse ETF (only with `use_inverse_hedge`).
    pub inverse: String,
}

impl Default for HierarchicalParams {
    fn default() -> Self {
        Self {
            measurement_noise: 3000.0,
            process_noise_1: 0.01,
            process_noise_2: 0.01,
            osc_smoothness: 10,
            strength_smoothness: 15,
            sigma_lookback: 500,
            trend_lookback: 20,
            symmetric_volume_adjustment: true,
            t_max: 50.0,
            sma_fast: 40,
            sma_slow: 140,
            t_norm_bull_thresh: 0.05,
            t_norm_bear_thresh: -0.30,
            realized_vol_window: 21,
            vol_baseline_window: 200,
            upper_thresh_z: 1.0,
            lower_thresh_z: 0.2,
            vol_crush_threshold: -0.15,
            vol_crush_lookback: 5,
            allow_treasury: true,
            bond_sma_fast: 20,
            bond_sma_slow: 60,
            max_bond_weight: 0.4,
            leverage_scalar: 1.0,
            use_inverse_hedge: false,
            w_psq_max: 0.5,
            rebalance_threshold: 0.025,
            signal_symbol: "QQQ".into(),
            bond_signal_symbol: "TLT".into(),
            bull: "TQQQ".into(),
            core: "QQQ".into(),
            bull_bond: "TMF".into(),
            bear_bond: "TMV".into(),
            inverse: "PSQ".into(),
        }
    }
}

/// One parameter outside its allowed range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamError {
    /// Config key, e.g. "sma_fast".
    pub key: String,
    /// The value given.
    pub value: String,
    /// What would be accepted, e.g. "between 2 and 500".
    pub allowed: String,
}

impl fmt::Display for ParamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} = {}: must be {}", self.key, self.value, self.allowed)
    }
}

/// Collects range violations; NaN fails every check because `contains` is false for it.
struct Checker(Vec<ParamError>);

impl Checker {
    fn fail(&mut self, key: &str, value: impl fmt::Display, allowed: String) {
        self.0.push(ParamError {
            key: key.into(),
            value: value.to_string(),
            allowed,
        });
    }
    fn int(&mut self, key: &str, v: usize, lo: usize, hi: usize) {
        if !(lo..=hi).contains(&v) {
            self.fail(key, v, format!("between {lo} and {hi}"));
        }
    }
    fn real(&mut self, key: &str, v: f64, lo: f64, hi: f64) {
        if !(lo..=hi).contains(&v) {
            self.fail(key, v, format!("between {lo} and {hi}"));
        }
    }
    fn positive(&mut self, key: &str, v: f64) {
        if !(v > 0.0 && v.is_finite()) {
            self.fail(key, v, "a finite number > 0".into());
        }
    }
}

impl HierarchicalParams {
    /// Sessions of history the longest window of today's decision reads (innovation buffer
    /// plus oscillator, vol baseline over realised vol plus the crush lookback, the slow SMAs).
    /// A gap older than this cannot change today's decision's windows; `preflight` treats such
    /// gaps as warnings.
    pub fn lookback_sessions(&self) -> usize {
        [
            self.sigma_lookback + self.trend_lookback,
            self.vol_baseline_window + self.realized_vol_window + self.vol_crush_lookback,
            self.sma_slow,
            self.bond_sma_slow,
        ]
        .into_iter()
        .max()
        .unwrap_or(0)
    }

    /// Every out-of-range parameter (empty = valid). Bounds are sanity limits, not tuning advice.
    pub fn validate(&self) -> Vec<ParamError> {
        let mut c = Checker(Vec::new());
        c.positive("measurement_noise", self.measurement_noise);
        c.real("process_noise_1", self.process_noise_1, 0.0, 1e6);
        c.real("process_noise_2", self.process_noise_2, 0.0, 1e6);
        c.int("sigma_lookback", self.sigma_lookback, 1, 10_000);
        c.int(
            "strength_smoothness",
            self.strength_smoothness,
            1,
            self.sigma_lookback,
        );
        c.int("trend_lookback", self.trend_lookback, 1, 1_000);
        // The WMA reads the oscillator buffer, so it cannot be longer than the buffer.
        c.int(
            "osc_smoothness",
            self.osc_smoothness,
            1,
            self.trend_lookback,
        );
        c.positive("T_max", self.t_max);
        c.int("sma_fast", self.sma_fast, 2, 500);
        c.int("sma_slow", self.sma_slow, self.sma_fast + 1, 1_000);
        c.real("t_norm_bull_thresh", self.t_norm_bull_thresh, -1.0, 1.0);
        c.real("t_norm_bear_thresh", self.t_norm_bear_thresh, -1.0, 1.0);
        if self.t_norm_bear_thresh >= self.t_norm_bull_thresh {
            let allowed = format!("below t_norm_bull_thresh ({})", self.t_norm_bull_thresh);
            c.fail("t_norm_bear_thresh", self.t_norm_bear_thresh, allowed);
        }
        c.int("realized_vol_window", self.realized_vol_window, 2, 252);
        c.int("vol_baseline_window", self.vol_baseline_window, 2, 2_520);
        c.real("upper_thresh_z", self.upper_thresh_z, -10.0, 10.0);
        c.real(
            "lower_thresh_z",
            self.lower_thresh_z,
            -10.0,
            self.upper_thresh_z,
        );
        c.real("vol_crush_threshold", self.vol_crush_threshold, -1.0, 0.0);
        c.int("vol_crush_lookback", self.vol_crush_lookback, 1, 100);
        c.int("bond_sma_fast", self.bond_sma_fast, 2, 500);
        c.int(
            "bond_sma_slow",
            self.bond_sma_slow,
            self.bond_sma_fast + 1,
            1_000,
        );
        c.real("max_bond_weight", self.max_bond_weight, 0.0, 1.0);
        c.real("leverage_scalar", self.leverage_scalar, 0.5, 1.5);
        c.real("w_psq_max", self.w_psq_max, 0.0, 1.0);
        // Σ|Δw| of two fully invested portfolios is at most 2.
        c.real("rebalance_threshold", self.rebalance_threshold, 0.0, 2.0);
        let symbols = [
            ("signal_symbol", &self.signal_symbol),
            ("bond_signal_symbol", &self.bond_signal_symbol),
            ("bull", &self.bull),
            ("core", &self.core),
            ("bull_bond", &self.bull_bond),
            ("bear_bond", &self.bear_bond),
            ("inverse", &self.inverse),
        ];
        for (i, (key, sym)) in symbols.iter().enumerate() {
            if let Err(e) = crate::data::Symbol::parse(sym) {
                // The value is shown quoted: it may be empty or hold spaces.
                c.fail(
                    key,
                    &e.shown,
                    format!("a symbol ({}): {}", crate::data::symbol::RULE, e.reason),
                );
            } else if i >= 2
                && let Some((other, _)) = symbols[2..]
                    .iter()
                    .enumerate()
                    .find(|(j, (_, s))| j + 2 != i && s == sym)
                    .map(|(_, kv)| kv)
            {
                // Tradables are ledger columns: two roles on one symbol would merge weights.
                // Each role is named with the other, so the key a person edited is on the line.
                c.fail(
                    key,
                    sym,
                    format!("different from the other tradables ({other} is {sym} too)"),
                );
            }
        }
        c.0
    }
}
