//! One trading day's decision path, shared by `backtest` and every daily phase:
//! strategy targets → risk rules on targets → rebalance gate → whole-share orders →
//! risk rules on orders. Pure: inputs in, plan out.

use std::borrow::Cow;
use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::NaiveDate;
use serde::Serialize;

use crate::model::OrderIntent;
use crate::portfolio::{self, CostModel, Gate, Holdings, Plan};
use crate::risk::activity::Activity;
use crate::risk::{self, RiskConfig, RiskContext, RuleOutcome};
use crate::strategy::{Decision, History, Targets};

/// Settings of the path, from the config.
#[derive(Debug, Clone)]
pub struct PipelineConfig {
    /// Short strategy tag used in client order ids.
    pub strategy_tag: String,
    pub cost: CostModel,
    pub rebalance_threshold: f64,
    pub drift_pct: Option<f64>,
    /// `None` runs without risk rules (`backtest --no-risk`).
    pub risk: Option<RiskConfig>,
    /// Symbols the data-quality checks flagged (stale, corporate action).
    pub stale_symbols: BTreeSet<String>,
    pub corporate_action_symbols: BTreeSet<String>,
    /// Passing risk rules are not recorded ([`RiskContext::terse`]): a backtest that writes
    /// no risk table. Every daily job keeps them all.
    pub terse: bool,
}

/// What the path needs to know about the day.
pub struct DayInputs<'a> {
    pub date: NaiveDate,
    pub decision: &'a Decision,
    pub holdings: &'a Holdings,
    /// Last close on or before the date of every tradable (valuation).
    pub valuation_prices: &'a BTreeMap<String, f64>,
    /// Prices orders are sized and filled at (empty: cannot trade).
    pub trade_prices: &'a BTreeMap<String, f64>,
    pub last_targets: Option<&'a BTreeMap<String, f64>>,
    pub history: &'a History,
    /// Close-to-close returns of `history`, computed once per run.
    pub returns: &'a CloseReturns,
    /// Highest end-of-day equity recorded before the date, and the previous close's equity.
    pub equity_peak: Option<f64>,
    pub previous_close_equity: Option<f64>,
    pub orders_already_today: usize,
    /// Past fills' activity (loss sales, day trades) for the compliance rules.
    pub activity: &'a Activity,
    /// The run's ES memo (a backtest; `None` for a daily job). Changes no figure.
    pub es_memo: Option<&'a risk::EsMemo<'a>>,
}

/// Simple close-to-close returns of every series of a [`History`]: `r[i] = close[i+1] / close[i] − 1`.
/// Computed once per run (a backtest, a daily job) so each day's risk context borrows its
/// window instead of dividing 500 closes per symbol again. Keeps each series' dates, so a day's
/// windows are found in one ordered walk without going back to the history.
#[derive(Debug, Clone, Default)]
pub struct CloseReturns {
    /// One entry per symbol, in symbol order (a list: it is walked every day of a run).
    series: Vec<SymbolReturns>,
}

#[derive(Debug, Clone)]
struct SymbolReturns {
    symbol: String,
    returns: Vec<f64>,
    /// The bar dates the returns were taken from.
    dates: Vec<NaiveDate>,
    /// How many bars the last day asked for had (a run asks day after day, so the next answer
    /// is found by stepping on from there).
    seen: Cell<usize>,
}

/// How many of `dates` (ascending) are on or before `date`: `dates.partition_point(|d| *d <=
/// date)`, found by stepping on from `hint` (the answer for an earlier day) when it is close.
fn bars_through(dates: &[NaiveDate], date: NaiveDate, hint: usize) -> usize {
    let hint = hint.min(dates.len());
    if hint > 0 && dates[hint - 1] > date {
        return dates[..hint].partition_point(|d| *d <= date);
    }
    // dates[..hint] are all on or before the date: step over the next few.
    let mut i = hint;
    for _ in 0..8 {
        match dates.get(i) {
            Some(d) if *d <= date => i += 1,
            _ => return i,
        }
    }
    i + dates[i..].partition_point(|d| *d <= date)
}

impl CloseReturns {
    pub fn new(history: &History) -> Self {
        // The history is a map: its series come in symbol order.
        CloseReturns {
            series: history
                .series
                .iter()
                .map(|(sym, s)| SymbolReturns {
                    symbol: sym.clone(),
                    returns: s.close.windows(2).map(|w| w[1] / w[0] - 1.0).collect(),
                    dates: s.dates.clone(),
                    seen: Cell::new(0),
                })
                .collect(),
        }
    }

    /// An ES memo for a run whose risk contexts cut their windows from these returns.
    pub fn es_memo(&self) -> risk::EsMemo<'_> {
        risk::EsMemo::over(
            self.series
                .iter()
                .map(|s| (s.symbol.as_str(), s.returns.as_slice())),
        )
    }

    /// Each of `symbols` (ascending, as a map's keys are) that has bars, with its returns from
    /// bars dated on or before `date`: one walk of both ordered lists, no lookups.
    fn through_date<'s>(
        &'s self,
        symbols: impl Iterator<Item = &'s String> + 's,
        date: NaiveDate,
    ) -> impl Iterator<Item = (&'s String, &'s [f64])> + 's {
        let mut mine = self.series.iter().peekable();
        symbols.filter_map(move |sym| {
            while mine.next_if(|s| s.symbol.as_str() < sym.as_str()).is_some() {}
            let s = mine.next_if(|s| s.symbol == *sym)?;
            let closes = bars_through(&s.dates, date, s.seen.get());
            s.seen.set(closes);
            let r = &s.returns;
            Some((&s.symbol, r.get(..closes.saturating_sub(1)).unwrap_or(&[])))
        })
    }
}

/// The day's plan. Targets are the decision's own (shared) map when no rule ran on them.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DayPlan<'a> {
    pub strategy_targets: Option<&'a BTreeMap<String, f64>>,
    /// Targets after the risk rules.
    pub final_targets: Option<Targets>,
    pub gate: Option<Gate>,
    pub rebalance: bool,
    pub plan: Option<Plan>,
    /// Orders after the order rules, sells first.
    pub orders: Vec<OrderIntent>,
    pub risk_outcomes: Vec<RuleOutcome>,
}

/// Decide the day.
pub fn decide_day<'a>(cfg: &PipelineConfig, inp: &DayInputs<'a>) -> DayPlan<'a> {
    let mut day = DayPlan::default();
    let Some(targets) = inp.decision.targets.as_ref() else {
        return day;
    };
    let mut ctx = cfg.risk.as_ref().map(|rc| target_context(cfg, rc, inp));
    let final_targets = match (&cfg.risk, &ctx) {
        (Some(rc), Some(ctx)) => {
            let (adjusted, outcomes) = risk::check_targets_cow(rc, ctx, targets);
            day.risk_outcomes.extend(outcomes);
            match adjusted {
                Cow::Borrowed(_) => Arc::clone(targets),
                Cow::Owned(w) => Arc::new(w),
            }
        }
        _ => Arc::clone(targets),
    };
    day.strategy_targets = Some(targets);
    // Current weights only matter to the drift trigger.
    let actual = match cfg.drift_pct {
        Some(_) => inp.holdings.weights(inp.valuation_prices),
        None => BTreeMap::new(),
    };
    let gate = portfolio::rebalance_gate(
        &final_targets,
        inp.last_targets,
        &actual,
        cfg.rebalance_threshold,
        cfg.drift_pct,
    );
    day.rebalance = gate.rebalance && !inp.trade_prices.is_empty();
    day.gate = Some(gate);
    if day.rebalance {
        let min_cash = cfg.risk.as_ref().map_or(0.0, |r| r.min_cash_pct);
        let plan = portfolio::plan_orders(
            inp.holdings,
            inp.trade_prices,
            &final_targets,
            &cfg.cost,
            min_cash,
        );
        day.orders = match (&cfg.risk, &mut ctx) {
            (Some(rc), Some(ctx)) => {
                ctx.adv20 = adv20(inp);
                let checked = risk::check_orders(rc, ctx, plan.orders.clone());
                day.risk_outcomes.extend(checked.outcomes);
                checked.approved
            }
            _ => plan.orders.clone(),
        };
        day.plan = Some(plan);
    }
    day.final_targets = Some(final_targets);
    day
}

/// 20-day average volume (shares) through the date of each valued symbol.
pub fn adv20<'a>(inp: &DayInputs<'a>) -> BTreeMap<Cow<'a, str>, f64> {
    let mut adv = BTreeMap::new();
    for sym in inp.valuation_prices.keys() {
        let Some(s) = inp.history.get(sym) else {
            continue;
        };
        let end = s.bars_through(inp.date);
        let vols = &s.volume[end.saturating_sub(20)..end];
        if !vols.is_empty() {
            adv.insert(
                Cow::Borrowed(sym.as_str()),
                vols.iter().sum::<f64>() / vols.len() as f64,
            );
        }
    }
    adv
}

/// The risk rules' view of the day, built from bars dated ≤ the decision date only.
pub fn build_risk_context<'a>(
    cfg: &'a PipelineConfig,
    rc: &RiskConfig,
    inp: &DayInputs<'a>,
) -> RiskContext<'a> {
    RiskContext {
        adv20: adv20(inp),
        ..target_context(cfg, rc, inp)
    }
}

/// [`build_risk_context`] without the volumes, which only the order rules read: a day with
/// no orders (most days of a backtest) never averages them.
fn target_context<'a>(
    cfg: &'a PipelineConfig,
    rc: &RiskConfig,
    inp: &DayInputs<'a>,
) -> RiskContext<'a> {
    // Returns through the date per symbol (in symbol order, as the prices are); the windows are
    // aligned on their common tail so portfolio returns use the same days.
    let mut returns = risk::es::Returns::with_capacity(inp.valuation_prices.len());
    let mut n = rc.expected_shortfall.window_days;
    for (sym, r) in inp
        .returns
        .through_date(inp.valuation_prices.keys(), inp.date)
    {
        n = n.min(r.len());
        returns.insert(Cow::Borrowed(sym.as_str()), Cow::Borrowed(r));
    }
    returns.keep_last(n);
    let equity = crate::money::dollars(inp.holdings.equity_cents(inp.valuation_prices));
    RiskContext {
        date: inp.date,
        equity,
        cash: crate::money::dollars(inp.holdings.cash_cents),
        positions: Cow::Borrowed(&inp.holdings.positions),
        prices: Cow::Borrowed(inp.valuation_prices),
        returns,
        adv20: BTreeMap::new(),
        equity_peak: inp.equity_peak,
        previous_close_equity: inp.previous_close_equity,
        // The rules filter by their own windows; these cut-offs only bound the copies.
        day_trades: Cow::Borrowed(
            inp.activity
                .day_trades_since(inp.date - chrono::Days::new(14)),
        ),
        recent_loss_sales: Cow::Borrowed(inp.activity.loss_sales_since(
            inp.date - chrono::Days::new(u64::from(rc.wash_sale_warning.lookback_days) + 1),
        )),
        stale_symbols: Cow::Borrowed(&cfg.stale_symbols),
        corporate_action_symbols: Cow::Borrowed(&cfg.corporate_action_symbols),
        orders_already_today: inp.orders_already_today,
        terse: cfg.terse,
        es_memo: inp.es_memo,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::strategy::Series;

    /// Stepping on from any hint finds what a binary search finds, on dates with gaps and
    /// repeats, for dates before, inside and after the series.
    #[test]
    fn bars_through_is_partition_point_from_any_hint() {
        let base = NaiveDate::from_ymd_opt(2020, 1, 1).expect("date");
        let mut rng = crate::test_rng::XorShift::new(0xfeed_beef);
        let mut dates = Vec::new();
        let mut d = 0u64;
        for _ in 0..60 {
            d += rng.below(4); // 0: the same date again
            dates.push(base + chrono::Days::new(d));
        }
        for q in 0..(d + 3) {
            let date = base + chrono::Days::new(q) - chrono::Days::new(1);
            let want = dates.partition_point(|x| *x <= date);
            for hint in 0..=dates.len() + 2 {
                assert_eq!(bars_through(&dates, date, hint), want, "q {q} hint {hint}");
            }
        }
        assert_eq!(bars_through(&[], base, 3), 0);
    }

    /// The ordered walk finds, for each priced symbol with bars, exactly its returns from the
    /// bars dated on or before the day (what searching the history finds), and skips the rest.
    #[test]
    fn returns_through_a_date_by_one_walk() {
        let day = |d: u32| NaiveDate::from_ymd_opt(2024, 1, d).expect("date");
        let mut history = History::default();
        for (sym, days) in [
            ("B", vec![2, 3, 5, 8]),
            ("D", vec![1, 2]),
            ("F", vec![4, 6, 7]),
        ] {
            let mut s = Series::default();
            for (i, d) in days.into_iter().enumerate() {
                s.dates.push(day(d));
                s.close.push(100.0 + i as f64 * 10.0);
            }
            history.series.insert(sym.to_string(), s);
        }
        let returns = CloseReturns::new(&history);
        let prices: BTreeMap<String, f64> = ["A", "B", "C", "F", "G"]
            .iter()
            .map(|s| (s.to_string(), 1.0))
            .collect();
        // Forward, as a run asks, then backward and jumping (the remembered step is a hint).
        for d in (1..=9).chain((1..=9).rev()).chain([5, 1, 9, 2]) {
            let got: Vec<(&String, &[f64])> = returns.through_date(prices.keys(), day(d)).collect();
            let want: Vec<(&String, Vec<f64>)> = prices
                .keys()
                .filter_map(|sym| {
                    let s = history.get(sym)?;
                    let closes = &s.close[..s.bars_through(day(d))];
                    Some((sym, closes.windows(2).map(|w| w[1] / w[0] - 1.0).collect()))
                })
                .collect();
            assert_eq!(got.len(), want.len(), "day {d}");
            for ((gs, gr), (ws, wr)) in got.iter().zip(&want) {
                assert_eq!((gs, *gr), (ws, wr.as_slice()), "day {d}");
            }
        }
    }
}

#[cfg(test)]
mod perf {
    use super::*;
    use crate::config::PriceField;
    use crate::data::{history, store::BarStore};
    use crate::strategy::Strategy;
    use crate::strategy::hierarchical::{HierarchicalAdaptive, HierarchicalParams};

    /// What the risk rules add to one day's decision on the sample data (the dry-run's day).
    /// `cargo test --release --lib -- --ignored --nocapture risk_overhead`
    #[test]
    #[ignore = "timing; run in release"]
    fn risk_overhead_on_the_sample_day() {
        let sample = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/sample");
        let strategy = HierarchicalAdaptive::new(HierarchicalParams::default());
        let start = NaiveDate::from_ymd_opt(2008, 9, 10).expect("date");
        let hist = history::load(
            &BarStore::new(&sample),
            &strategy.required_symbols(),
            PriceField::Close,
            start,
            None,
        )
        .expect("sample bars");
        let decisions = strategy.decide_all(&hist).expect("decisions");
        let decision = decisions.last().expect("a decision");
        let closes = hist.last_closes(&strategy.tradable_symbols(), decision.date);
        let holdings = Holdings {
            cash_cents: 1_000_000,
            positions: BTreeMap::new(),
        };
        let activity = Activity::default();
        let inputs = DayInputs {
            date: decision.date,
            decision,
            holdings: &holdings,
            valuation_prices: &closes,
            trade_prices: &closes,
            last_targets: None,
            history: &hist,
            returns: &CloseReturns::new(&hist),
            equity_peak: Some(12_000.0),
            previous_close_equity: Some(10_100.0),
            orders_already_today: 0,
            activity: &activity,
            es_memo: None,
        };
        let cfg = |risk: Option<RiskConfig>| PipelineConfig {
            strategy_tag: "t".into(),
            cost: CostModel {
                slippage: 0.001,
                commission_per_share: 0.01,
            },
            rebalance_threshold: 0.05,
            drift_pct: None,
            risk,
            stale_symbols: BTreeSet::new(),
            corporate_action_symbols: BTreeSet::new(),
            terse: false,
        };
        let median = |c: &PipelineConfig| {
            let mut t: Vec<std::time::Duration> = (0..301)
                .map(|_| {
                    let s = std::time::Instant::now();
                    std::hint::black_box(decide_day(c, &inputs));
                    s.elapsed()
                })
                .collect();
            t.sort();
            t[t.len() / 2]
        };
        let rc = RiskConfig::default();
        let pc = cfg(Some(rc.clone()));
        let time = |f: &dyn Fn()| {
            let s = std::time::Instant::now();
            for _ in 0..301 {
                f();
            }
            s.elapsed() / 301
        };
        let ctx = build_risk_context(&pc, &rc, &inputs);
        let targets = decision.targets.clone().unwrap_or_default();
        println!(
            "context {:?}  targets {:?}  snapshot {:?}",
            time(&|| {
                std::hint::black_box(build_risk_context(&pc, &rc, &inputs));
            }),
            time(&|| {
                std::hint::black_box(risk::check_targets(&rc, &ctx, &targets));
            }),
            time(&|| {
                std::hint::black_box(risk::risk_snapshot(&rc, &ctx, &targets));
            }),
        );
        let with = median(&cfg(Some(RiskConfig::default())));
        let without = median(&cfg(None));
        println!(
            "decide_day on {}: {with:?} with the risk rules, {without:?} without (median of 301)",
            decision.date
        );
        assert!(with.saturating_sub(without) <= std::time::Duration::from_millis(5));
    }
}
