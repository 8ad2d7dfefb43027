//! Steps 7–11 of the strategy: regime → cell → base weights → treasury overlay → leverage scalar.

use super::HierarchicalParams;
use crate::strategy::{TrendState, VolState};

/// Share of the defensive part that the treasury overlay may put into bonds (before the cap).
const BOND_SHARE_OF_DEFENSIVE: f64 = 0.4;

/// Which bond the treasury overlay picked from the bond-signal trend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BondChoice {
    /// Bond signal trending up (fast SMA > slow SMA): leveraged long treasuries.
    BullBond,
    /// Otherwise: leveraged short treasuries.
    BearBond,
}

impl BondChoice {
    /// TMF-like if the fast SMA is strictly above the slow one, TMV-like otherwise.
    pub fn from_smas(fast: f64, slow: f64) -> Self {
        if fast > slow {
            BondChoice::BullBond
        } else {
            BondChoice::BearBond
        }
    }
}

/// Step 7: trend regime from T_norm and SMA structure; a crush day never reports BearStrong.
pub fn trend_state(
    t_norm: f64,
    sma_fast: f64,
    sma_slow: f64,
    crush: bool,
    p: &HierarchicalParams,
) -> TrendState {
    let bull_structure = sma_fast > sma_slow;
    if t_norm > p.t_norm_bull_thresh && bull_structure {
        TrendState::BullStrong
    } else if t_norm < p.t_norm_bear_thresh && !bull_structure && !crush {
        TrendState::BearStrong
    } else {
        TrendState::Sideways
    }
}

/// Step 8: the 3×2 regime grid, numbered 1..=6.
pub fn cell(trend: TrendState, vol: VolState) -> u8 {
    let row = match trend {
        TrendState::BullStrong => 0,
        TrendState::Sideways => 1,
        TrendState::BearStrong => 2,
    };
    row * 2 + if vol == VolState::Low { 1 } else { 2 }
}

/// Target weights of one day by role; cash is what is left.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct CellWeights {
    /// Leveraged bull ETF (TQQQ).
    pub bull: f64,
    /// Core ETF (QQQ).
    pub core: f64,
    /// Inverse ETF (PSQ).
    pub inverse: f64,
    /// Long-treasury ETF (TMF).
    pub bull_bond: f64,
    /// Short-treasury ETF (TMV).
    pub bear_bond: f64,
}

impl CellWeights {
    /// 1 − the sum of the invested weights.
    pub fn cash(&self) -> f64 {
        1.0 - (self.bull + self.core + self.inverse + self.bull_bond + self.bear_bond)
    }
}

/// Steps 9–11 for `cell` (1..=6). `bond` is `None` when the bond signal has fewer than
/// `bond_sma_slow` bars, which leaves the defensive part in cash.
pub fn allocate(cell: u8, bond: Option<BondChoice>, p: &HierarchicalParams) -> CellWeights {
    let hedge = p.use_inverse_hedge;
    // (bull, core, inverse, defensive part eligible for the treasury overlay)
    let (bull, core, inverse, defensive) = match cell {
        1 => (0.6, 0.4, 0.0, 0.0),
        2 => (0.0, 1.0, 0.0, 0.0),
        3 => (0.2, 0.8, 0.0, 0.0),
        4 => (0.0, 0.0, 0.0, 1.0),
        5 => (0.0, 0.5, 0.0, 0.5),
        6 if hedge => (0.0, 0.0, p.w_psq_max.min(0.5), 0.0),
        // Cell 6 without hedge; also any out-of-grid number, defensively all defensive.
        _ => (0.0, 0.0, 0.0, 1.0),
    };
    let mut w = CellWeights {
        bull,
        core,
        inverse,
        ..CellWeights::default()
    };
    if p.allow_treasury && defensive > 0.0 {
        let bond_weight = (BOND_SHARE_OF_DEFENSIVE * defensive).min(p.max_bond_weight);
        match bond {
            Some(BondChoice::BullBond) => w.bull_bond = bond_weight,
            Some(BondChoice::BearBond) => w.bear_bond = bond_weight,
            None => {}
        }
    }
    // Scale the equity legs, then renormalise everything (cash included) back to 1, so the
    // scalar only shifts the mix between equity, bonds and cash.
    let cash = w.cash();
    let s = p.leverage_scalar;
    let total = s * (w.bull + w.core + w.inverse) + w.bull_bond + w.bear_bond + cash;
    if total > 0.0 {
        w = CellWeights {
            bull: s * w.bull / total,
            core: s * w.core / total,
            inverse: s * w.inverse / total,
            bull_bond: w.bull_bond / total,
            bear_bond: w.bear_bond / total,
        };
    }
    w
}
