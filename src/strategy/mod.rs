//! The pure decision core: strategies turn a read-only bar history into daily target weights.
//!
//! Nothing here does I/O, reads a clock or keeps global state, so the backtest and every daily phase
//! run the same code and get the same answer for the same day. A strategy makes one forward pass over
//! the whole stored history (indicators are never re-warmed on a short tail), and the decision for
//! date D depends only on bars dated on or before D.

pub mod factors;
pub mod hierarchical;
pub mod indicators;
pub mod multi_factor;
pub mod scoring;
pub mod selection;

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use thiserror::Error;

pub use hierarchical::{HierarchicalAdaptive, HierarchicalParams, ParamError};

/// One symbol's daily bars, ascending by date, no duplicate dates.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Series {
    /// Trading dates, strictly ascending.
    pub dates: Vec<NaiveDate>,
    /// Opening prices.
    pub open: Vec<f64>,
    /// Daily highs.
    pub high: Vec<f64>,
    /// Daily lows.
    pub low: Vec<f64>,
    /// Closing prices (split-adjusted, or total-return adjusted if the loader chose so).
    pub close: Vec<f64>,
    /// Traded volume in shares.
    pub volume: Vec<f64>,
}

impl Series {
    /// Number of bars (the length of `dates`).
    pub fn len(&self) -> usize {
        self.dates.len()
    }

    /// True when the series holds no bars.
    pub fn is_empty(&self) -> bool {
        self.dates.is_empty()
    }

    /// How many bars are dated on or before `date` (dates are ascending).
    pub fn bars_through(&self, date: NaiveDate) -> usize {
        self.dates.partition_point(|d| *d <= date)
    }

    /// The bars dated on or before `last`.
    pub fn truncated_to(&self, last: NaiveDate) -> Series {
        let n = self.bars_through(last);
        let cut = |v: &Vec<f64>| v.iter().take(n).copied().collect();
        Series {
            dates: self.dates[..n].to_vec(),
            open: cut(&self.open),
            high: cut(&self.high),
            low: cut(&self.low),
            close: cut(&self.close),
            volume: cut(&self.volume),
        }
    }

    /// Checks what a strategy relies on: equal column lengths, strictly ascending dates, positive
    /// finite closes and finite non-negative volumes. Errors name the symbol and the offending date.
    pub fn validate(&self, symbol: &str) -> Result<(), StrategyError> {
        let n = self.dates.len();
        let columns = [&self.open, &self.high, &self.low, &self.close, &self.volume];
        if columns.iter().any(|c| c.len() != n) {
            return Err(StrategyError::RaggedSeries {
                symbol: symbol.to_string(),
                dates: n,
                close: self.close.len(),
                volume: self.volume.len(),
            });
        }
        if let Some(w) = self.dates.windows(2).find(|w| w[1] <= w[0]) {
            return Err(StrategyError::Unsorted {
                symbol: symbol.to_string(),
                date: w[1],
            });
        }
        for (i, date) in self.dates.iter().enumerate() {
            let (close, volume) = (self.close[i], self.volume[i]);
            // `!(x > 0)` also catches NaN, which every ordinary comparison lets through.
            if !(close > 0.0 && close.is_finite()) {
                return Err(StrategyError::BadClose {
                    symbol: symbol.to_string(),
                    date: *date,
                    value: close,
                });
            }
            if !(volume >= 0.0 && volume.is_finite()) {
                return Err(StrategyError::BadVolume {
                    symbol: symbol.to_string(),
                    date: *date,
                    value: volume,
                });
            }
        }
        Ok(())
    }
}

/// Read-only bar history up to and including the decision date.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct History {
    /// Bars by symbol.
    pub series: BTreeMap<String, Series>,
}

impl History {
    /// The same history with every series cut after `last` (what a run on date `last` would see).
    pub fn truncated_to(&self, last: NaiveDate) -> History {
        History {
            series: self
                .series
                .iter()
                .map(|(k, s)| (k.clone(), s.truncated_to(last)))
                .collect(),
        }
    }

    /// Last close of `symbol` on or before `date` (a price for days it did not trade).
    pub fn last_close(&self, symbol: &str, date: NaiveDate) -> Option<f64> {
        let s = self.get(symbol)?;
        let i = s.bars_through(date);
        (i > 0).then(|| s.close[i - 1])
    }

    /// [`History::last_close`] of each of `symbols` that has one (the valuation prices).
    pub fn last_closes(&self, symbols: &[String], date: NaiveDate) -> BTreeMap<String, f64> {
        symbols
            .iter()
            .filter_map(|s| self.last_close(s, date).map(|c| (s.clone(), c)))
            .collect()
    }

    /// The bars of `symbol`, if any were loaded.
    pub fn get(&self, symbol: &str) -> Option<&Series> {
        self.series.get(symbol)
    }

    /// The bars of `symbol`, validated; missing or empty is an error.
    pub fn require(&self, symbol: &str) -> Result<&Series, StrategyError> {
        match self.get(symbol) {
            Some(s) if !s.is_empty() => {
                s.validate(symbol)?;
                Ok(s)
            }
            _ => Err(StrategyError::MissingSymbol {
                symbol: symbol.to_string(),
            }),
        }
    }
}

/// A daily allocation rule.
pub trait Strategy {
    /// Short stable name, used in reports and ledgers.
    fn name(&self) -> &str;
    /// Symbols whose bars the decisions read; the first is the driving series (a decision per
    /// bar of it).
    fn signal_symbols(&self) -> Vec<String>;
    /// Symbols that can receive weight, in a fixed order (column order of ledgers).
    fn tradable_symbols(&self) -> Vec<String>;
    /// Symbols whose bars a run needs: the signals, then the tradables not among them.
    fn required_symbols(&self) -> Vec<String> {
        let mut out = self.signal_symbols();
        for s in self.tradable_symbols() {
            if !out.contains(&s) {
                out.push(s);
            }
        }
        out
    }
    /// One forward pass over the history: a Decision for every date of the driving (signal) series,
    /// ascending, each handed to `sink` as soon as it is made. The decision for date D must
    /// depend only on bars dated <= D. An error comes before any decision (bad parameters, a
    /// missing series).
    fn decide_each(
        &self,
        history: &History,
        sink: &mut dyn FnMut(Decision),
    ) -> Result<(), StrategyError>;

    /// [`Strategy::decide_each`]'s decisions, collected.
    fn decide_all(&self, history: &History) -> Result<Vec<Decision>, StrategyError> {
        let driving = self.signal_symbols().first().and_then(|s| history.get(s));
        let mut out = Vec::with_capacity(driving.map_or(0, Series::len));
        self.decide_each(history, &mut |d| out.push(d))?;
        Ok(out)
    }
}

/// Target weight per symbol (fractions of equity; cash is 1 − sum). Shared: a strategy that
/// decides the same weights on many days hands out one map, not a copy per day (thousands of
/// days of a backtest would otherwise each own one).
pub type Targets = Arc<BTreeMap<String, f64>>;

/// What the strategy wants held at the close of one trading date, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decision {
    /// The trading date decided.
    pub date: NaiveDate,
    /// Target weight of every tradable symbol (zeros included); cash is 1 − sum.
    /// `None` = not enough history for a decision: hold whatever is held.
    pub targets: Option<Targets>,
    /// The indicator values behind the decision.
    pub diagnostics: Diagnostics,
}

impl Decision {
    /// Cash weight implied by the targets (1 − sum), if there are targets.
    pub fn cash(&self) -> Option<f64> {
        self.targets.as_ref().map(|t| 1.0 - t.values().sum::<f64>())
    }
}

/// Trend regime of the signal symbol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TrendState {
    /// Strong Kalman trend and fast SMA above slow SMA.
    BullStrong,
    /// Neither strong bull nor strong bear.
    Sideways,
    /// Strongly negative Kalman trend and fast SMA not above slow SMA.
    BearStrong,
}

/// Latched volatility regime.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum VolState {
    /// Realised vol well above its baseline.
    High,
    /// Normal or low realised vol (the initial state).
    #[default]
    Low,
}

/// Indicator values of one day; enough to see why a cell was chosen. `None` = not computable yet.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Diagnostics {
    /// Regime cell 1..=6 (None on days without a decision).
    pub cell: Option<u8>,
    /// Trend regime (None on days without a decision).
    pub trend: Option<TrendState>,
    /// Latched vol regime after today's update (and crush override).
    pub vol_state: VolState,
    /// Kalman level (filtered price).
    pub kalman_level: Option<f64>,
    /// Kalman velocity (price change per day).
    pub kalman_velocity: Option<f64>,
    /// Kalman trend strength (WMA of the innovation oscillator, −100..100).
    pub strength: Option<f64>,
    /// strength / T_max, clamped to −1..1.
    pub t_norm: Option<f64>,
    /// Fast SMA of the signal close.
    pub sma_fast: Option<f64>,
    /// Slow SMA of the signal close.
    pub sma_slow: Option<f64>,
    /// Annualised realised vol of the signal's log returns.
    pub sigma: Option<f64>,
    /// z-score of sigma against its baseline window.
    pub z_score: Option<f64>,
    /// Relative change of sigma over the crush lookback.
    pub vol_crush_delta: Option<f64>,
    /// True when the vol-crush override fired today.
    pub vol_crush: bool,
    /// Number of bond-signal bars dated on or before today.
    pub bond_bars: usize,
    /// Fast SMA of the bond signal close.
    pub bond_sma_fast: Option<f64>,
    /// Slow SMA of the bond signal close.
    pub bond_sma_slow: Option<f64>,
    /// Bond symbol chosen by the treasury overlay (None if the cell has no bond sleeve).
    pub bond: Option<String>,
}

/// Why a strategy could not decide.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum StrategyError {
    /// A symbol the strategy reads is absent or empty.
    #[error("required symbol {symbol} has no bars")]
    MissingSymbol {
        /// The symbol.
        symbol: String,
    },
    /// The columns of a series differ in length.
    #[error(
        "series {symbol} is misaligned: {dates} dates but {close} closes and {volume} volumes (or other columns differ)"
    )]
    RaggedSeries {
        /// The symbol.
        symbol: String,
        /// Number of dates.
        dates: usize,
        /// Number of closes.
        close: usize,
        /// Number of volumes.
        volume: usize,
    },
    /// Dates are not strictly ascending.
    #[error("series {symbol} is not strictly ascending by date at {date}")]
    Unsorted {
        /// The symbol.
        symbol: String,
        /// First date not after its predecessor.
        date: NaiveDate,
    },
    /// A close is NaN, infinite, zero or negative.
    #[error("{symbol} on {date}: close {value} is not a positive finite price")]
    BadClose {
        /// The symbol.
        symbol: String,
        /// The bar's date.
        date: NaiveDate,
        /// The offending value.
        value: f64,
    },
    /// A volume is NaN, infinite or negative.
    #[error("{symbol} on {date}: volume {value} is not a finite non-negative number")]
    BadVolume {
        /// The symbol.
        symbol: String,
        /// The bar's date.
        date: NaiveDate,
        /// The offending value.
        value: f64,
    },
    /// Parameters failed validation.
    #[error("invalid strategy parameters: {0}")]
    InvalidParams(String),
}
