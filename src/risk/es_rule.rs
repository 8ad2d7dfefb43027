//! The `expected_shortfall` target rule: measure the book with all three estimators, enforce the
//! configured one by scaling the free (non-frozen) weights, or refuse the rebalance.

use std::collections::{BTreeMap, BTreeSet};

use super::config::{EsAction, EsCfg, EsMethod};
use super::es::{self, EsError};
use super::targets::{Book, pct};
use super::{RiskContext, RuleOutcome, Verdict, exceeds, rule};

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

/// Frozen-leg and free-leg daily returns of the book, aligned (errors if data is too short).
pub(crate) fn legs(
    book: &BTreeMap<String, f64>,
    frozen: &BTreeSet<String>,
    ctx: &RiskContext,
    cfg: &EsCfg,
) -> Result<(Vec<f64>, Vec<f64>), EsError> {
    let n = es::common_length(book, &ctx.returns, cfg.window_days)?;
    if n < cfg.min_observations {
        return Err(EsError::TooFewObservations {
            have: n,
            need: cfg.min_observations,
        });
    }
    let fr = es::weighted_returns(
        book.iter().filter(|(s, _)| frozen.contains(*s)),
        &ctx.returns,
        n,
    )?;
    let fe = es::weighted_returns(
        book.iter().filter(|(s, _)| !frozen.contains(*s)),
        &ctx.returns,
        n,
    )?;
    Ok((fr, fe))
}

fn combine(frozen: &[f64], free: &[f64], c: f64) -> Vec<f64> {
    frozen.iter().zip(free).map(|(a, b)| a + c * b).collect()
}

pub(crate) fn expected_shortfall(
    cfg: &EsCfg,
    ctx: &RiskContext,
    book: &mut Book,
    out: &mut Vec<RuleOutcome>,
) {
    let id = rule::EXPECTED_SHORTFALL;
    let (alpha, limit_pct) = (cfg.confidence_pct / 100.0, cfg.limit_pct);
    if book.gross() == 0.0 {
        out.push(RuleOutcome::new(
            id,
            Verdict::Pass,
            0.0,
            limit_pct,
            "all cash: no ES".into(),
        ));
        return;
    }
    let measured = legs(&book.w, &book.frozen, ctx, cfg).and_then(|(fr, fe)| {
        let full = combine(&fr, &fe, 1.0);
        let report = es::es_report(&full, alpha)?;
        // The enforced estimator is one of the three just computed.
        Ok((report, report.by_method(cfg.method).es, fr, fe))
    });
    let (report, es1, fr, fe) = match measured {
        Ok(m) => m,
        Err(e) => {
            // An unmeasurable portfolio is not a passing one: refuse the rebalance.
            book.freeze_all(ctx);
            let msg = format!(
                "ES cannot be computed ({e}): rebalance blocked, targets frozen at current weights"
            );
            out.push(RuleOutcome::new(
                id,
                Verdict::Block,
                f64::NAN,
                limit_pct,
                msg,
            ));
            return;
        }
    };
    let all = format!(
        "ES{} 1d hist {:.2} % normal {:.2} % CF {:.2} % (n={}, enforced {:?})",
        cfg.confidence_pct,
        pct(report.historical.es),
        pct(report.normal.es),
        pct(report.cornish_fisher.es),
        report.n,
        cfg.method
    );
    let limit = limit_pct / 100.0;
    if !exceeds(es1, limit) {
        out.push(RuleOutcome::new(
            id,
            Verdict::Pass,
            pct(es1),
            limit_pct,
            format!("{all} within {limit_pct} %"),
        ));
        return;
    }
    if cfg.action == EsAction::Block {
        book.freeze_all(ctx);
        let msg = format!(
            "{all} over {limit_pct} %: rebalance blocked, targets frozen at current weights"
        );
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
    let feasible =
        |c: f64| es_of(cfg.method, &combine(&fr, &fe, c), alpha).is_ok_and(|v| v <= limit);
    let mut lo = 0.0;
    // With no frozen leg every estimator is positively homogeneous (mean, σ and returns scale
    // by c; skew and kurtosis do not change), so limit/ES is the answer: take it when it checks.
    let direct = (limit / es1) * (1.0 - 1e-12);
    let note = if fr.iter().all(|r| *r == 0.0) && direct.is_finite() && feasible(direct) {
        lo = direct;
        String::new()
    } else if feasible(0.0) {
        let mut hi = 1.0;
        for _ in 0..60 {
            let mid = 0.5 * (lo + hi);
            if feasible(mid) { lo = mid } else { hi = mid }
        }
        String::new()
    } else {
        " (frozen positions alone exceed the limit)".to_string()
    };
    book.scale_free(lo);
    let msg =
        format!("{all} over {limit_pct} %: risky weights scaled by {lo:.4}, rest to cash{note}");
    out.push(RuleOutcome::new(
        id,
        Verdict::Trim,
        pct(es1),
        limit_pct,
        msg,
    ));
}
