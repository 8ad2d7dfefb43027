//! Phase-1 rules: they act on target weights (see the parent module for the order and why).

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::config::{DrawdownCfg, DrawdownTier, RestrictedCfg};
use super::{Findings, RiskContext, RuleOutcome, Verdict, exceeds, rule};

/// Working target book: weights plus the symbols later scalings must not touch. The weights
/// are the caller's until a rule changes one (on most days of a backtest none does).
pub(crate) struct Book<'t> {
    pub w: Cow<'t, BTreeMap<String, f64>>,
    pub frozen: BTreeSet<String>,
}

impl<'t> Book<'t> {
    pub fn new(targets: &'t BTreeMap<String, f64>) -> Self {
        Book {
            w: Cow::Borrowed(targets),
            frozen: BTreeSet::new(),
        }
    }

    pub(crate) fn gross(&self) -> f64 {
        self.w.values().map(|w| w.abs()).sum()
    }

    /// (Σ over frozen, Σ over free) of `f(w)`.
    fn split(&self, f: impl Fn(f64) -> f64) -> (f64, f64) {
        self.w.iter().fold((0.0, 0.0), |(fr, fe), (s, w)| {
            if self.frozen.contains(s) {
                (fr + f(*w), fe)
            } else {
                (fr, fe + f(*w))
            }
        })
    }

    /// Multiply every non-frozen weight by `c` (the difference goes to cash). By 1 changes no
    /// weight, so it leaves the book untouched.
    pub(crate) fn scale_free(&mut self, c: f64) {
        if c == 1.0 {
            return;
        }
        for (s, w) in self.w.to_mut().iter_mut() {
            if !self.frozen.contains(s) {
                *w *= c;
            }
        }
    }

    /// Refuse the rebalance: every target (and every holding) at its current weight.
    pub(crate) fn freeze_all(&mut self, ctx: &RiskContext) {
        let syms: BTreeSet<String> = self.w.keys().chain(ctx.positions.keys()).cloned().collect();
        for s in syms {
            let cur = ctx
                .current_weight(&s)
                .unwrap_or_else(|| self.w.get(&s).copied().unwrap_or(0.0));
            self.w.to_mut().insert(s.clone(), cur);
            self.frozen.insert(s);
        }
    }
}

pub(crate) fn pct(x: f64) -> f64 {
    x * 100.0
}

/// Non-finite target weights cannot be measured: freeze them at the current weight.
pub(crate) fn inputs(ctx: &RiskContext, book: &mut Book, out: &mut Findings) {
    if book.w.values().all(|w| w.is_finite()) {
        return; // the usual day
    }
    let bad: Vec<String> = book
        .w
        .iter()
        .filter(|(_, w)| !w.is_finite())
        .map(|(s, _)| s.clone())
        .collect();
    for s in bad {
        let cur = ctx.current_weight(&s).unwrap_or(0.0);
        book.w.to_mut().insert(s.clone(), cur);
        book.frozen.insert(s.clone());
        let msg = format!(
            "{s}: target weight is not a number; frozen at current {:.2} %",
            pct(cur)
        );
        out.push(RuleOutcome::new(rule::INPUTS, Verdict::Block, f64::NAN, 0.0, msg).sym(&s));
    }
}

pub(crate) fn restricted(cfg: &RestrictedCfg, book: &mut Book, out: &mut Findings) {
    let listed = |s: &str| cfg.symbols.iter().any(|r| r.trim().eq_ignore_ascii_case(s));
    let start = out.len();
    let hits: Vec<(String, f64)> = if cfg.symbols.is_empty() {
        Vec::new() // nothing to look for (the usual list)
    } else {
        book.w
            .iter()
            .filter(|(s, w)| **w != 0.0 && listed(s))
            .map(|(s, w)| (s.clone(), *w))
            .collect()
    };
    for (s, w) in hits {
        let msg = format!("{s} is restricted: target {:.2} % set to 0", pct(w));
        out.push(
            RuleOutcome::new(rule::RESTRICTED_SYMBOLS, Verdict::Trim, pct(w), 0.0, msg).sym(&s),
        );
        book.w.to_mut().insert(s, 0.0);
    }
    if out.len() == start {
        out.pass(rule::RESTRICTED_SYMBOLS, 0.0, 0.0, || {
            let list: BTreeSet<String> = cfg
                .symbols
                .iter()
                .map(|s| s.trim().to_ascii_uppercase())
                .collect();
            format!("no target in the {} restricted symbols", list.len())
        });
    }
}

/// `stale_data` / `corporate_action_guard`: a flagged symbol's target is its current weight.
pub(crate) fn freeze_flagged(
    id: &'static str,
    flagged: &BTreeSet<String>,
    ctx: &RiskContext,
    book: &mut Book,
    out: &mut Findings,
) {
    if flagged.is_empty() {
        out.pass(id, 0.0, 0.0, || "no flagged symbol in the targets".into());
        return;
    }
    let start = out.len();
    // Held-but-untargeted symbols count too: an absent target would otherwise mean "sell all".
    let held = ctx
        .positions
        .iter()
        .filter(|(_, q)| **q != 0)
        .map(|(s, _)| s);
    let syms: BTreeSet<String> = book
        .w
        .keys()
        .chain(held)
        .filter(|s| flagged.contains(*s))
        .cloned()
        .collect();
    for s in &syms {
        let target = book.w.get(s).copied().unwrap_or(0.0);
        let (verdict, cur, msg) = match ctx.current_weight(s) {
            Some(cur) if (cur - target).abs() <= 1e-12 => (
                Verdict::Warn,
                cur,
                format!(
                    "{s} flagged by {id}: target already at current {:.2} %",
                    pct(cur)
                ),
            ),
            Some(cur) => (
                Verdict::Trim,
                cur,
                format!(
                    "{s} flagged by {id}: target {:.2} % frozen at current {:.2} %",
                    pct(target),
                    pct(cur)
                ),
            ),
            // Without a usable price the weight cannot be computed; the order phase still blocks
            // buys, and the portfolio cannot size an order without a price anyway.
            None => (
                Verdict::Block,
                target,
                format!("{s} flagged by {id} and has no usable price: not traded"),
            ),
        };
        book.w.to_mut().insert(s.clone(), cur);
        book.frozen.insert(s.clone());
        out.push(RuleOutcome::new(id, verdict, pct(target), pct(cur), msg).sym(s));
    }
    if out.len() == start {
        out.pass(id, 0.0, 0.0, || "no flagged symbol in the targets".into());
    }
}

pub(crate) fn max_weight(limit_pct: f64, book: &mut Book, out: &mut Findings) {
    let id = rule::MAX_WEIGHT_PER_SYMBOL;
    let limit = limit_pct / 100.0;
    let start = out.len();
    let (largest, any_over) = book.w.values().fold((0.0f64, false), |(m, any), w| {
        (m.max(w.abs()), any || exceeds(w.abs(), limit))
    });
    let over: Vec<(String, f64)> = if any_over {
        book.w
            .iter()
            .filter(|(_, w)| exceeds(w.abs(), limit))
            .map(|(s, w)| (s.clone(), *w))
            .collect()
    } else {
        Vec::new() // one pass on the usual day
    };
    for (s, w) in over {
        let before = pct(w);
        if book.frozen.contains(&s) {
            let msg = format!(
                "{s}: frozen weight {before:.2} % is over the {limit_pct} % cap; left as is"
            );
            out.push(RuleOutcome::new(id, Verdict::Warn, before.abs(), limit_pct, msg).sym(&s));
        } else {
            book.w.to_mut().insert(s.clone(), w.signum() * limit);
            let msg = format!(
                "{s}: weight {before:.2} % over the {limit_pct} % cap; clipped, rest to cash"
            );
            out.push(RuleOutcome::new(id, Verdict::Trim, before.abs(), limit_pct, msg).sym(&s));
        }
    }
    if out.len() == start {
        out.pass(id, pct(largest), limit_pct, || {
            format!("largest weight {:.2} % within {limit_pct} %", pct(largest))
        });
    }
}

pub(crate) fn gross_leverage(limit: f64, book: &mut Book, out: &mut Findings) {
    let id = rule::MAX_GROSS_LEVERAGE;
    let gross = book.gross();
    if !exceeds(gross, limit) {
        out.pass(id, gross, limit, || {
            format!("gross {gross:.4} within {limit}")
        });
        return;
    }
    let (frozen, free) = book.split(f64::abs);
    let c = if free > 0.0 {
        ((limit - frozen) / free).clamp(0.0, 1.0)
    } else {
        1.0
    };
    book.scale_free(c);
    let msg =
        format!("gross {gross:.4} over {limit}: risky weights scaled by {c:.4}, rest to cash");
    out.push(RuleOutcome::new(id, Verdict::Trim, gross, limit, msg));
}

/// Drawdown from the equity peak and the tier it falls in.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DrawdownState {
    /// Highest equity in the history (including today's).
    pub peak: f64,
    /// Today's equity.
    pub equity: f64,
    /// `1 − equity/peak`, as a fraction (0 when there is no usable peak).
    pub drawdown: f64,
    /// Index into the configured tiers of the active tier, if any.
    pub tier: Option<usize>,
    /// The active tier.
    pub active: Option<DrawdownTier>,
    /// Exposure multiplier (1.0 with no tier).
    pub exposure: f64,
}

/// Drawdown of `ctx.equity` from the peak of `ctx.equity_peak` and `ctx.equity`; the active
/// tier is the deepest one whose `drawdown_pct` is strictly exceeded.
pub fn drawdown_state(cfg: &DrawdownCfg, ctx: &RiskContext) -> DrawdownState {
    let ok = |v: f64| v.is_finite() && v > 0.0;
    let peak = ctx
        .equity_peak
        .into_iter()
        .chain([ctx.equity])
        .filter(|e| ok(*e))
        .fold(0.0, f64::max);
    // Unusable equity (≤ 0 or NaN) against a real peak is a total loss, not "no drawdown".
    let drawdown = if peak > 0.0 {
        if ok(ctx.equity) {
            1.0 - ctx.equity / peak
        } else {
            1.0
        }
    } else {
        0.0
    };
    let tier = cfg
        .tiers
        .iter()
        .rposition(|t| exceeds(pct(drawdown), t.drawdown_pct));
    let active = tier.and_then(|i| cfg.tiers.get(i)).copied();
    let exposure = active.map_or(1.0, |t| t.exposure_pct / 100.0);
    DrawdownState {
        peak,
        equity: ctx.equity,
        drawdown,
        tier,
        active,
        exposure,
    }
}

pub(crate) fn drawdown(cfg: &DrawdownCfg, ctx: &RiskContext, book: &mut Book, out: &mut Findings) {
    let id = rule::DRAWDOWN_BUDGET;
    let st = drawdown_state(cfg, ctx);
    let dd = pct(st.drawdown);
    match st.active {
        None => {
            let first = cfg.tiers.first().map_or(100.0, |t| t.drawdown_pct);
            out.pass(id, dd, first, || {
                format!("drawdown {dd:.2} % from peak {:.2}: no tier", st.peak)
            });
        }
        Some(t) => {
            book.scale_free(st.exposure);
            let msg = format!(
                "drawdown {dd:.2} % beyond the {} % tier: exposure scaled to {} %",
                t.drawdown_pct, t.exposure_pct
            );
            out.push(RuleOutcome::new(id, Verdict::Trim, dd, t.drawdown_pct, msg));
        }
    }
}

pub(crate) fn min_cash(limit_pct: f64, book: &mut Book, out: &mut Findings) {
    let id = rule::MIN_CASH_PCT;
    let floor = limit_pct / 100.0;
    let cash = 1.0 - book.w.values().sum::<f64>();
    if !exceeds(floor, cash) {
        out.pass(id, pct(cash), limit_pct, || {
            format!("cash {:.2} % at or above {limit_pct} %", pct(cash))
        });
        return;
    }
    let (frozen, free) = book.split(|w| w);
    let c = if free > 0.0 {
        ((1.0 - floor - frozen) / free).clamp(0.0, 1.0)
    } else {
        1.0
    };
    book.scale_free(c);
    let msg = format!(
        "cash {:.2} % under {limit_pct} %: risky weights scaled by {c:.4}",
        pct(cash)
    );
    out.push(RuleOutcome::new(
        id,
        Verdict::Trim,
        pct(cash),
        limit_pct,
        msg,
    ));
}

#[cfg(test)]
use super::config::{EsAction, EsMethod};
#[cfg(test)]
use super::es_rule::es_of;
pub(crate) use super::es_rule::{expected_shortfall, legs_of};

#[cfg(test)]
#[path = "targets_tests.rs"]
mod tests;
