//! The daily job and the backtest share one decision path: for 50 random dates of the
//! sample data, a `dry-run --date D` on a state and account rebuilt from the backtest as of
//! the close before D gives exactly the backtest's decision, targets, orders and risk
//! outcomes for D.

use std::collections::BTreeMap;

use chrono::{NaiveDate, TimeZone, Utc};
use serde_json::Value;

use crate::common::{Sandbox, code, stderr, stdout};
use trader::backtest::{self, Fill, Outcome, Spec};
use trader::broker::sim::SimBook;
use trader::data::history;
use trader::model::Side;
use trader::state::store::StateStore;
use trader::state::{State, TargetRecord};
use trader::strategy::{History, Strategy};

/// A small deterministic generator, so a failure names a reproducible date.
struct Lcg(u64);
impl Lcg {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) as usize) % n
    }
}

/// The configuration and the whole sample's bars.
fn load(sb: &Sandbox) -> (trader::config::Config, History) {
    let (cfg, _) = trader::config::load(&sb.config()).expect("config");
    let hist = history::load_for_strategy(&cfg, None).expect("history");
    (cfg, hist)
}

fn backtest(cfg: &trader::config::Config, hist: &History) -> Outcome {
    let strategy = cfg.strategy_impl();
    let spec = Spec {
        from: NaiveDate::from_ymd_opt(2010, 1, 4).expect("date"),
        to: NaiveDate::from_ymd_opt(2026, 5, 1).expect("date"),
        fill: Fill::Close,
        initial_cents: trader::money::try_cents(cfg.account.initial_capital).expect("in range"),
        risk_free: 0.0,
        pipeline: trader::commands::dry_run::pipeline_config(cfg, true),
    };
    let tradables = strategy.tradable_symbols();
    let decisions = strategy.decide_all(hist).expect("decisions");
    backtest::run(&spec, hist, decisions, &tradables, "QQQ")
}

/// Write the account, state and fills ledger as they stood after the close before `date`.
fn rebuild(sb: &Sandbox, cfg: &trader::config::Config, out: &Outcome, date: NaiveDate) {
    let prior: Vec<_> = out.equity.iter().filter(|e| e.date < date).collect();
    let last = prior.last().expect("a prior day");
    let mut positions: BTreeMap<String, i64> = BTreeMap::new();
    let fills: Vec<_> = out
        .fills
        .iter()
        .filter(|f| f.date < date && f.status == "filled")
        .cloned()
        .collect();
    for f in &fills {
        let q = positions.entry(f.symbol.clone()).or_default();
        *q += if f.side == Side::Buy { f.qty } else { -f.qty };
    }
    positions.retain(|_, q| *q != 0);
    let book = SimBook {
        cash_cents: trader::money::try_cents(last.cash).expect("in range"),
        positions,
        orders: BTreeMap::new(),
        polls: BTreeMap::new(),
        ..SimBook::default()
    };
    let sim = sb.path().join("state/sim");
    std::fs::create_dir_all(&sim).expect("mkdir sim");
    std::fs::write(
        sim.join("account.json"),
        serde_json::to_vec(&book).expect("book json"),
    )
    .expect("write account");
    let now = Utc
        .with_ymd_and_hms(2026, 5, 1, 19, 50, 0)
        .single()
        .expect("instant");
    let mut st = State::new(now, cfg.phase);
    for e in &prior {
        st.record_equity(e.date, e.equity);
    }
    st.last_targets = out
        .rebalance_dates
        .iter()
        .rev()
        .find(|d| **d < date)
        .and_then(|d| out.decisions.iter().find(|(dec, _)| dec.date == *d))
        .map(|(dec, w)| TargetRecord {
            date: dec.date,
            weights: BTreeMap::clone(w),
        });
    StateStore::new(&sb.path().join("state"), 3)
        .save(&mut st, now)
        .expect("save state");
    trader::ledger::write(
        &sb.path().join("ledger/fills.parquet"),
        &trader::commands::backtest::fills_table(&fills),
    )
    .expect("fills ledger");
}

#[test]
fn dry_run_replays_the_backtest_decision_on_50_random_dates() {
    let sb = Sandbox::with_sample("");
    let (cfg, hist) = load(&sb);
    let out = backtest(&cfg, &hist);
    let mut rng = Lcg(20260501);
    // Dates with at least a year of prior history in the run, so every rule has data.
    let days: Vec<NaiveDate> = out.equity.iter().skip(260).map(|e| e.date).collect();
    let mut checked_orders = 0;
    for _ in 0..50 {
        let date = days[rng.below(days.len())];
        rebuild(&sb, &cfg, &out, date);
        let d = date.to_string();
        let run = sb.run(&[
            "--json",
            "-q",
            "dry-run",
            "--date",
            &d,
            "--skip-preflight",
            "--force",
        ]);
        assert_eq!(code(&run), 0, "{date}: {}", stderr(&run));
        let v: Value = serde_json::from_str(&stdout(&run)).expect("json");
        let (dec, final_targets) = out
            .decisions
            .iter()
            .find(|(x, _)| x.date == date)
            .expect("backtest decision");
        assert_eq!(
            v["decision"],
            serde_json::to_value(dec).expect("decision json"),
            "{date}: decision"
        );
        let got: BTreeMap<String, f64> =
            serde_json::from_value(v["plan"]["final_targets"].clone()).expect("targets");
        assert_eq!(&got, &**final_targets, "{date}: targets after risk");
        let want_orders: Vec<Value> = out
            .orders
            .iter()
            .filter(|o| o.date == date)
            .map(|o| serde_json::to_value(&o.order).expect("order json"))
            .collect();
        assert_eq!(
            v["plan"]["orders"].as_array().expect("orders"),
            &want_orders,
            "{date}: orders"
        );
        checked_orders += want_orders.len();
        let want_risk: Vec<Value> = out
            .risk
            .iter()
            .filter(|(d, _)| *d == date)
            .map(|(_, o)| serde_json::to_value(o).expect("risk json"))
            .collect();
        assert_eq!(
            v["plan"]["risk_outcomes"].as_array().expect("risk"),
            &want_risk,
            "{date}: risk outcomes"
        );
    }
    assert!(checked_orders > 0, "some sampled day must trade");
}

/// `trader backtest` loads, decides and simulates on two threads; the library's one-thread
/// run over `decide_all` with the same settings must give the same figures to the bit.
#[test]
fn two_thread_backtest_equals_the_one_thread_run() {
    let sb = Sandbox::with_sample("");
    let (cfg, hist) = load(&sb);
    let strategy = cfg.strategy_impl();
    let (from, to) = ("2012-03-01", "2026-05-01");
    for (fill, flag) in [(Fill::Close, "close"), (Fill::NextOpen, "next-open")] {
        let spec = Spec {
            from: from.parse().expect("date"),
            to: to.parse().expect("date"),
            fill,
            initial_cents: trader::money::try_cents(cfg.backtest.initial_capital)
                .expect("in range"),
            risk_free: cfg.backtest.risk_free_rate,
            pipeline: trader::pipeline::PipelineConfig {
                terse: true,
                ..trader::commands::dry_run::pipeline_config(&cfg, true)
            },
        };
        let decisions = strategy.decide_all(&hist).expect("decisions");
        let one = backtest::run(&spec, &hist, decisions, &strategy.tradable_symbols(), "QQQ");
        let run = sb.run(&[
            "--json", "backtest", "--from", from, "--to", to, "--fill", flag,
        ]);
        assert_eq!(code(&run), 0, "{}", stderr(&run));
        let v: Value = serde_json::from_str(&stdout(&run)).expect("json");
        let last = one.equity.last().expect("days");
        assert_eq!(v["final_equity"].as_f64(), Some(last.equity), "{flag}");
        for (key, want) in [
            ("cagr", one.metrics.cagr),
            ("sharpe", one.metrics.sharpe),
            ("max_drawdown", one.metrics.max_drawdown),
            ("turnover", one.turnover),
        ] {
            assert_eq!(v[key].as_f64(), Some(want), "{flag} {key}");
        }
        let filled = one.fills.iter().filter(|f| f.status == "filled").count();
        assert_eq!(v["trades"].as_u64(), Some(filled as u64), "{flag}");
        assert!(filled > 100, "{flag}: {filled} fills");
    }
}
