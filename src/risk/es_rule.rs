//! The `expected_shortfall` target rule: measure the book with all three estimators, enforce the
//! configured one by scaling the free (non-frozen) weights, or refuse the rebalance.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use super::config::{EsAction, EsCfg, EsMethod};
use super::es::{self, EsError};
use super::targets::{Book, pct};
use super::{Findings, RiskContext, RuleOutcome, Verdict, exceeds, rule};

/// ES of one series by the given method, as a fraction.
pub(crate) fn es_of(method: EsMethod, series: &[f64], alpha: f64) -> Result<f64, EsError> {
    Ok(match method {
        EsMethod::Historical => es::historical_var_es(series, alpha)?.es,
        EsMethod::Normal => {
            let m = es::sample_moments(series)?;
            es::normal_var_es(m.mean, m.std_dev, alpha)?.es
        }
        EsMethod::CornishFisher => {
            let m = es::sample_moments(series)?;
            es::cornish_fisher_var_es(m.mean, m.std_dev, m.skew, m.exkurt, alpha)?.es
        }
    })
}

/// The book's daily returns split into the frozen leg and the free leg, aligned.
pub(crate) struct Legs {
    /// `None` when no weighted symbol is frozen (the usual day): the book is the free leg.
    frozen: Option<Vec<f64>>,
    pub(crate) free: Vec<f64>,
}

impl Legs {
    /// Daily returns of the book with the free leg scaled by `c`.
    fn combined(&self, c: f64) -> Cow<'_, [f64]> {
        match &self.frozen {
            None if c == 1.0 => Cow::Borrowed(&self.free),
            None => Cow::Owned(self.free.iter().map(|b| c * b).collect()),
            Some(fr) => Cow::Owned(fr.iter().zip(&self.free).map(|(a, b)| a + c * b).collect()),
        }
    }
}

/// Frozen-leg and free-leg daily returns of the book (errors if data is too short).
pub(crate) fn legs_of(
    book: &BTreeMap<String, f64>,
    frozen: &BTreeSet<String>,
    ctx: &RiskContext,
    cfg: &EsCfg,
) -> Result<Legs, EsError> {
    let n = es::common_length(book, &ctx.returns, cfg.window_days)?;
    if n < cfg.min_observations {
        return Err(EsError::TooFewObservations {
            have: n,
            need: cfg.min_observations,
        });
    }
    let is_frozen = |s: &String, w: &f64| *w != 0.0 && frozen.contains(s);
    let frozen_leg = if book.iter().any(|(s, w)| is_frozen(s, w)) {
        let fr = book.iter().filter(|(s, w)| is_frozen(s, w));
        Some(es::weighted_returns(fr, &ctx.returns, n)?)
    } else {
        None
    };
    let fe = es::weighted_returns(
        book.iter().filter(|(s, _)| !frozen.contains(*s)),
        &ctx.returns,
        n,
    )?;
    Ok(Legs {
        frozen: frozen_leg,
        free: fe,
    })
}

/// An unmeasurable portfolio is not a passing one: refuse the rebalance.
fn unmeasurable(e: &EsError, ctx: &RiskContext, book: &mut Book, out: &mut Findings, limit: f64) {
    book.freeze_all(ctx);
    let msg = format!(
        "ES cannot be computed ({e}): rebalance blocked, targets frozen at current weights"
    );
    out.push(RuleOutcome::new(
        rule::EXPECTED_SHORTFALL,
        Verdict::Block,
        f64::NAN,
        limit,
        msg,
    ));
}

pub(crate) fn expected_shortfall(
    cfg: &EsCfg,
    ctx: &RiskContext,
    book: &mut Book,
    out: &mut Findings,
) {
    let id = rule::EXPECTED_SHORTFALL;
    let (alpha, limit_pct) = (cfg.confidence_pct / 100.0, cfg.limit_pct);
    // All cash: Σ|w| = 0 exactly when every weight is 0 (a NaN weight is neither).
    if book.w.values().all(|w| *w == 0.0) {
        out.pass(id, 0.0, limit_pct, || "all cash: no ES".into());
        return;
    }
    // Only the enforced estimator decides; all three are reported whenever a message is written.
    // A backtest carries the historical figure from day to day when nothing is frozen.
    let carried = match ctx.es_memo {
        Some(memo) if cfg.method == EsMethod::Historical && book.frozen.is_empty() => {
            memo.historical(&book.w, ctx, cfg, alpha)
        }
        _ => None,
    };
    let measured = match &carried {
        Some(worst) => Ok((worst.es(), None)),
        None => legs_of(&book.w, &book.frozen, ctx, cfg)
            .and_then(|legs| Ok((es_of(cfg.method, &legs.combined(1.0), alpha)?, Some(legs)))),
    };
    let (es1, legs) = match measured {
        Ok(m) => m,
        Err(e) => return unmeasurable(&e, ctx, book, out, limit_pct),
    };
    if out.terse() && !exceeds(es1, limit_pct / 100.0) {
        // Nothing to write and nothing to trim: the figure is all a terse run needs.
        out.pass(id, pct(es1), limit_pct, String::new);
        return;
    }
    // A terse run (no message to write) acts on the carried worst days alone: blocking needs
    // only the figure, and with nothing frozen the trim's answer limit/ES checks against the
    // scaled book's ES, which the same days give (see `Worst::es_scaled`).
    if let Some(worst) = carried.as_ref().filter(|_| out.terse()) {
        let limit = limit_pct / 100.0;
        let direct = (limit / es1) * (1.0 - 1e-12);
        let verdict = match cfg.action {
            EsAction::Block => {
                book.freeze_all(ctx);
                Some(Verdict::Block)
            }
            EsAction::Scale if direct >= 0.0 && worst.es_scaled(direct) <= limit => {
                book.scale_free(direct);
                Some(Verdict::Trim)
            }
            // Not expected: the full path below decides.
            EsAction::Scale => None,
        };
        if let Some(v) = verdict {
            let outcome = RuleOutcome::new(id, v, pct(es1), limit_pct, String::new());
            out.push(outcome);
            return;
        }
    }
    // A carried figure has no legs yet; the message or the trim needs them.
    let legs = match legs.map_or_else(|| legs_of(&book.w, &book.frozen, ctx, cfg), Ok) {
        Ok(l) => l,
        Err(e) => return unmeasurable(&e, ctx, book, out, limit_pct),
    };
    let all = || match es::es_report(&legs.combined(1.0), alpha) {
        Ok(report) => format!(
            "ES{} 1d hist {:.2} % normal {:.2} % CF {:.2} % (n={}, enforced {:?})",
            cfg.confidence_pct,
            pct(report.historical.es),
            pct(report.normal.es),
            pct(report.cornish_fisher.es),
            report.n,
            cfg.method
        ),
        Err(e) => format!(
            "ES{} 1d {:?} {:.2} % ({e})",
            cfg.confidence_pct,
            cfg.method,
            pct(es1)
        ),
    };
    let limit = limit_pct / 100.0;
    if !exceeds(es1, limit) {
        out.pass(id, pct(es1), limit_pct, || {
            format!("{} within {limit_pct} %", all())
        });
        return;
    }
    if cfg.action == EsAction::Block {
        book.freeze_all(ctx);
        let msg = out.note(|| {
            format!(
                "{} over {limit_pct} %: rebalance blocked, targets frozen at current weights",
                all()
            )
        });
        out.push(RuleOutcome::new(
            id,
            Verdict::Block,
            pct(es1),
            limit_pct,
            msg,
        ));
        return;
    }
    // ES is positively homogeneous, so with nothing frozen the answer is limit/ES; with a frozen
    // leg it is not, so bisect on the free-leg multiplier (assumes ES non-decreasing in it, true
    // unless the free leg hedges the frozen one). `lo` always stays feasible, and feasibility is
    // strict (no slack) so the scaled book is never above the limit.
    let feasible = |c: f64| es_of(cfg.method, &legs.combined(c), alpha).is_ok_and(|v| v <= limit);
    let mut lo = 0.0;
    // With no frozen leg every estimator is positively homogeneous (mean, σ and returns scale
    // by c; skew and kurtosis do not change), so limit/ES is the answer: take it when it checks.
    let direct = (limit / es1) * (1.0 - 1e-12);
    let note = if legs.frozen.is_none() && direct.is_finite() && feasible(direct) {
        lo = direct;
        ""
    } else if feasible(0.0) {
        let mut hi = 1.0;
        for _ in 0..60 {
            let mid = 0.5 * (lo + hi);
            if feasible(mid) { lo = mid } else { hi = mid }
        }
        ""
    } else {
        " (frozen positions alone exceed the limit)"
    };
    book.scale_free(lo);
    let msg = out.note(|| {
        format!(
            "{} over {limit_pct} %: risky weights scaled by {lo:.4}, rest to cash{note}",
            all()
        )
    });
    out.push(RuleOutcome::new(
        id,
        Verdict::Trim,
        pct(es1),
        limit_pct,
        msg,
    ));
}
