//! Indicator building blocks: small, pure, incremental (one `push` per bar, O(1) or amortised O(1)),
//! so a strategy makes a single forward pass over any length of history.

use std::collections::VecDeque;

use super::VolState;

/// Weighted moving average with weights 1..n, the last value weighing most. `None` if empty.
pub fn wma(values: impl IntoIterator<Item = f64>) -> Option<f64> {
    let (mut num, mut den, mut w) = (0.0, 0.0, 0.0);
    for v in values {
        w += 1.0;
        num += w * v;
        den += w;
    }
    (den > 0.0).then(|| num / den)
}

/// Mean and sample standard deviation (ddof 1) of the last `cap` values pushed.
///
/// Uses a sliding Welford update so each push costs O(1) without the cancellation of a running
/// sum of squares.
#[derive(Debug, Clone)]
pub struct RollingStats {
    cap: usize,
    buf: VecDeque<f64>,
    mean: f64,
    m2: f64,
}

impl RollingStats {
    /// A window over the last `cap` values (`cap` ≥ 1).
    pub fn new(cap: usize) -> Self {
        Self {
            cap: cap.max(1),
            buf: VecDeque::with_capacity(cap + 1),
            mean: 0.0,
            m2: 0.0,
        }
    }

    /// Adds a value, evicting the oldest once the window is full.
    pub fn push(&mut self, x: f64) {
        if self.buf.len() == self.cap {
            let y = self.buf.pop_front().unwrap_or(x);
            let old_mean = self.mean;
            self.mean += (x - y) / self.cap as f64;
            self.m2 = (self.m2 + (x - y) * (x - self.mean + y - old_mean)).max(0.0);
        } else {
            let d = x - self.mean;
            self.mean += d / (self.buf.len() + 1) as f64;
            self.m2 += d * (x - self.mean);
        }
        self.buf.push_back(x);
    }

    /// True once `cap` values have been pushed.
    pub fn is_full(&self) -> bool {
        self.buf.len() == self.cap
    }

    /// Mean of the full window (a simple moving average); `None` until full.
    pub fn mean(&self) -> Option<f64> {
        self.is_full().then_some(self.mean)
    }

    /// Sample standard deviation (ddof 1) of the full window; `None` until full or if `cap` < 2.
    pub fn sample_std(&self) -> Option<f64> {
        (self.is_full() && self.cap >= 2).then(|| (self.m2 / (self.cap - 1) as f64).sqrt())
    }
}

/// Maximum of the last `cap` values pushed (monotonic deque: amortised O(1) per push).
#[derive(Debug, Clone)]
pub struct RollingMax {
    cap: usize,
    pushed: usize,
    // (index of the push, value), values strictly decreasing from front to back.
    deque: VecDeque<(usize, f64)>,
}

impl RollingMax {
    /// A window over the last `cap` values (`cap` ≥ 1).
    pub fn new(cap: usize) -> Self {
        Self {
            cap: cap.max(1),
            pushed: 0,
            deque: VecDeque::new(),
        }
    }

    /// Adds a value, forgetting the one that falls out of the window.
    pub fn push(&mut self, x: f64) {
        while self.deque.back().is_some_and(|&(_, v)| v <= x) {
            self.deque.pop_back();
        }
        self.deque.push_back((self.pushed, x));
        self.pushed += 1;
        while self
            .deque
            .front()
            .is_some_and(|&(i, _)| i + self.cap < self.pushed)
        {
            self.deque.pop_front();
        }
    }

    /// Number of values currently in the window.
    pub fn len(&self) -> usize {
        self.pushed.min(self.cap)
    }

    /// True before the first push.
    pub fn is_empty(&self) -> bool {
        self.pushed == 0
    }

    /// Maximum of the window, `None` if empty.
    pub fn max(&self) -> Option<f64> {
        self.deque.front().map(|&(_, v)| v)
    }
}

/// Settings of the volume-adjusted Kalman trend filter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KalmanConfig {
    /// Base measurement noise R.
    pub measurement_noise: f64,
    /// Process noise of the level (`Q[0][0]`).
    pub process_noise_1: f64,
    /// Process noise of the velocity (`Q[1][1]`).
    pub process_noise_2: f64,
    /// R scales by prev_volume/volume (true) or prev_volume/max(prev_volume, volume) (false).
    pub symmetric_volume_adjustment: bool,
    /// Capacity of the |innovation| buffer.
    pub sigma_lookback: usize,
    /// Minimum buffered innovations before the oscillator starts.
    pub strength_smoothness: usize,
    /// Capacity of the oscillator buffer.
    pub trend_lookback: usize,
    /// WMA length over the oscillator.
    pub osc_smoothness: usize,
}

/// Kalman state after one bar.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KalmanStep {
    /// Filtered level.
    pub level: f64,
    /// Filtered velocity.
    pub velocity: f64,
    /// close − predicted level (`None` on the first bar).
    pub innovation: Option<f64>,
    /// Trend strength (0 until the oscillator has `osc_smoothness` values).
    pub strength: f64,
}

/// The innovation oscillator: |y| buffer, osc = y / max|y| × 100 buffer, WMA strength.
#[derive(Debug, Clone)]
pub struct TrendOscillator {
    strength_smoothness: usize,
    osc_smoothness: usize,
    trend_lookback: usize,
    abs_innovations: RollingMax,
    osc: VecDeque<f64>,
}

impl TrendOscillator {
    /// An empty oscillator with the buffer sizes of `cfg`.
    pub fn new(cfg: &KalmanConfig) -> Self {
        Self {
            strength_smoothness: cfg.strength_smoothness,
            osc_smoothness: cfg.osc_smoothness,
            trend_lookback: cfg.trend_lookback.max(1),
            abs_innovations: RollingMax::new(cfg.sigma_lookback),
            osc: VecDeque::with_capacity(cfg.trend_lookback + 1),
        }
    }

    /// Feeds one innovation and returns the current strength.
    pub fn push(&mut self, innovation: f64) -> f64 {
        self.abs_innovations.push(innovation.abs());
        if self.abs_innovations.len() >= self.strength_smoothness {
            let max = self.abs_innovations.max().unwrap_or(0.0);
            // All-zero innovations carry no direction: oscillate at 0 rather than divide by 0.
            let osc = if max > 0.0 {
                innovation / max * 100.0
            } else {
                0.0
            };
            if self.osc.len() == self.trend_lookback {
                self.osc.pop_front();
            }
            self.osc.push_back(osc);
        }
        if self.osc_smoothness > 0 && self.osc.len() >= self.osc_smoothness {
            let skip = self.osc.len() - self.osc_smoothness;
            wma(self.osc.iter().skip(skip).copied()).unwrap_or(0.0)
        } else {
            0.0
        }
    }
}

/// Two-state (level, velocity) Kalman filter with volume-adjusted measurement noise.
#[derive(Debug, Clone)]
pub struct KalmanTrend {
    cfg: KalmanConfig,
    x: [f64; 2],
    p: [[f64; 2]; 2],
    prev_volume: Option<f64>,
    started: bool,
    oscillator: TrendOscillator,
}

impl KalmanTrend {
    /// A filter that initialises on its first bar.
    pub fn new(cfg: KalmanConfig) -> Self {
        Self {
            oscillator: TrendOscillator::new(&cfg),
            cfg,
            x: [0.0, 0.0],
            p: [[1.0, 0.0], [0.0, 1.0]],
            prev_volume: None,
            started: false,
        }
    }

    /// R × volume ratio; unadjusted when volume is 0 or there is no previous volume.
    fn adjusted_r(&self, volume: f64) -> f64 {
        let r = self.cfg.measurement_noise;
        match self.prev_volume {
            Some(prev) if volume > 0.0 => {
                let ratio = if self.cfg.symmetric_volume_adjustment {
                    prev / volume
                } else {
                    prev / prev.max(volume)
                };
                r * ratio
            }
            _ => r,
        }
    }

    /// Processes one bar (close, volume).
    pub fn update(&mut self, close: f64, volume: f64) -> KalmanStep {
        if !self.started {
            // First bar: x = [close, 0], P = I, strength 0.
            self.started = true;
            self.x = [close, 0.0];
            self.prev_volume = Some(volume);
            return KalmanStep {
                level: close,
                velocity: 0.0,
                innovation: None,
                strength: 0.0,
            };
        }
        let [[p00, p01], [p10, p11]] = self.p;
        // Predict with F = [[1,1],[0,1]]: x⁻ = F x, P⁻ = F P Fᵀ + Q.
        let xp = [self.x[0] + self.x[1], self.x[1]];
        let pp00 = p00 + p01 + p10 + p11 + self.cfg.process_noise_1;
        let pp01 = p01 + p11;
        let pp10 = p10 + p11;
        let pp11 = p11 + self.cfg.process_noise_2;
        // Update with H = [1, 0].
        let s = pp00 + self.adjusted_r(volume);
        let (k0, k1) = (pp00 / s, pp10 / s);
        let y = close - xp[0];
        self.x = [xp[0] + k0 * y, xp[1] + k1 * y];
        self.p = [
            [(1.0 - k0) * pp00, (1.0 - k0) * pp01],
            [pp10 - k1 * pp00, pp11 - k1 * pp01],
        ];
        self.prev_volume = Some(volume);
        let strength = self.oscillator.push(y);
        KalmanStep {
            level: self.x[0],
            velocity: self.x[1],
            innovation: Some(y),
            strength,
        }
    }
}

/// Annualised realised vol: sample std of the last `window` log returns × √252.
#[derive(Debug, Clone)]
pub struct RealisedVol {
    prev_close: Option<f64>,
    returns: RollingStats,
}

impl RealisedVol {
    /// Vol over `window` daily log returns (needs `window + 1` closes).
    pub fn new(window: usize) -> Self {
        Self {
            prev_close: None,
            returns: RollingStats::new(window),
        }
    }

    /// Feeds one (positive) close; returns σ once `window` returns exist.
    pub fn push(&mut self, close: f64) -> Option<f64> {
        if let Some(prev) = self.prev_close {
            self.returns.push((close / prev).ln());
        }
        self.prev_close = Some(close);
        self.returns.sample_std().map(|s| s * 252f64.sqrt())
    }
}

/// z-score of the newest value against the mean and sample std of the last `window` values
/// (the window includes the newest value); 0 when the std is 0.
#[derive(Debug, Clone)]
pub struct ZScore {
    stats: RollingStats,
}

impl ZScore {
    /// A z-score over a `window`-value baseline.
    pub fn new(window: usize) -> Self {
        Self {
            stats: RollingStats::new(window),
        }
    }

    /// Feeds one value; returns its z-score once the window is full.
    pub fn push(&mut self, x: f64) -> Option<f64> {
        self.stats.push(x);
        let (mu, s) = (self.stats.mean()?, self.stats.sample_std()?);
        Some(if s == 0.0 { 0.0 } else { (x - mu) / s })
    }
}

/// Hysteresis latch on the vol z-score: above `upper` → High, below `lower` → Low, else keep.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VolLatch {
    upper: f64,
    lower: f64,
    state: VolState,
}

impl VolLatch {
    /// A latch starting Low.
    pub fn new(upper: f64, lower: f64) -> Self {
        Self {
            upper,
            lower,
            state: VolState::Low,
        }
    }

    /// Applies one z-score and returns the new state.
    pub fn update(&mut self, z: f64) -> VolState {
        if z > self.upper {
            self.state = VolState::High;
        } else if z < self.lower {
            self.state = VolState::Low;
        }
        self.state
    }

    /// Overrides the state to Low; the override is remembered for the next day.
    pub fn force_low(&mut self) {
        self.state = VolState::Low;
    }

    /// Current state.
    pub fn state(&self) -> VolState {
        self.state
    }
}

/// Relative change (σ_now − σ_then) / σ_then; `None` if σ_then is unknown or not positive.
pub fn vol_change(sigma_now: f64, sigma_then: Option<f64>) -> Option<f64> {
    sigma_then.filter(|t| *t > 0.0).map(|t| (sigma_now - t) / t)
}

/// Vol-crush test: a relative vol change strictly below `threshold` (e.g. −0.15).
pub fn is_vol_crush(change: Option<f64>, threshold: f64) -> bool {
    change.is_some_and(|d| d < threshold)
}

/// The last `lag + 1` values of an optional series, to read the value `lag` bars back.
#[derive(Debug, Clone)]
pub struct LagBuffer {
    lag: usize,
    buf: VecDeque<Option<f64>>,
}

impl LagBuffer {
    /// Remembers enough to look `lag` bars back.
    pub fn new(lag: usize) -> Self {
        Self {
            lag,
            buf: VecDeque::with_capacity(lag + 2),
        }
    }

    /// Records today's value (possibly unknown).
    pub fn push(&mut self, x: Option<f64>) {
        if self.buf.len() == self.lag + 1 {
            self.buf.pop_front();
        }
        self.buf.push_back(x);
    }

    /// The value `lag` bars before the newest, if that bar exists and had a value.
    pub fn lagged(&self) -> Option<f64> {
        if self.buf.len() == self.lag + 1 {
            self.buf.front().copied().flatten()
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests;
