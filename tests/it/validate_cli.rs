//! `trader validate` through the binary (#19 item 7): a replayed day is 100 % GREEN; an
//! official close edited after the dry-run drifts YELLOW, then RED (exit 6); a provisional
//! bar, a run before the close and a date without a decision are refused (exit 3); the
//! figures go to the state and to `validations.parquet` once per date.

use std::collections::BTreeMap;

use serde_json::Value;
use trader::data::store::BarStore;

use crate::common::{Sandbox, code, stderr, stdout, table, text_column};

const DATE: &str = "2026-05-01";
/// After the close of 2026-05-01 (16:00 New York = 20:00Z).
const AFTER: &str = "2026-05-01T21:30:00Z";

/// Multiply `symbol`'s close of `date` by `factor` (high/low widened), or mark it provisional.
pub fn edit_bar(sb: &Sandbox, symbol: &str, date: &str, factor: f64, provisional: bool) {
    let store = BarStore::new(&sb.path().join("bars"));
    let mut bars = store.read(symbol).expect("read").expect("stored");
    let b = bars
        .iter_mut()
        .find(|b| b.date.to_string() == date)
        .expect("bar of the date");
    b.close *= factor;
    b.high = b.high.max(b.close);
    b.low = b.low.min(b.close);
    b.provisional = provisional;
    store
        .write_many(&BTreeMap::from([(symbol.to_string(), bars)]))
        .expect("write");
}

/// Preflight and dry-run of `date`, after its close.
pub fn decide(sb: &Sandbox, date: &str) {
    for args in [["preflight", "--date", date], ["dry-run", "--date", date]] {
        let out = sb.run_at(AFTER, &args);
        assert_eq!(code(&out), 0, "{args:?}: {}{}", stdout(&out), stderr(&out));
    }
}

fn validate(sb: &Sandbox, date: &str) -> (i32, Value, String) {
    let out = sb.run_at(AFTER, &["--json", "validate", "--date", date]);
    let v = serde_json::from_str(&stdout(&out)).unwrap_or(Value::Null);
    (code(&out), v, stderr(&out))
}

fn state(sb: &Sandbox) -> Value {
    serde_json::from_slice(&std::fs::read(sb.path().join("state/state.json")).expect("state"))
        .expect("json")
}

/// A symbol traded on DATE other than the signal symbol QQQ: moving its close changes the
/// price drift but not the regime.
fn traded(sb: &Sandbox) -> String {
    let st = state(sb);
    st["decisions"][DATE]["traded"]
        .as_array()
        .expect("traded")
        .iter()
        .filter_map(|s| s.as_str())
        .find(|s| *s != "QQQ")
        .expect("a non-signal symbol traded on the first dry-run")
        .to_string()
}

#[test]
fn a_replayed_day_is_green_and_recorded_once() {
    let sb = Sandbox::with_sample("");
    decide(&sb, DATE);
    let (rc, v, err) = validate(&sb, DATE);
    assert_eq!(rc, 0, "{err}");
    assert_eq!(v["colour"], "GREEN", "{v}");
    assert_eq!(v["match_pct"], 100.0);
    assert_eq!(v["drift_pct"], 0.0);
    assert_eq!(v["recorded_regime"], v["official_regime"]);
    let st = state(&sb);
    assert_eq!(st["validations"][DATE]["colour"], "GREEN");
    assert_eq!(st["jobs"][DATE]["validate"]["result"], "ok");
    // The decision prices were recorded at decision time, per tradable.
    let prices = st["decisions"][DATE]["decision_prices"]
        .as_object()
        .expect("prices");
    assert_eq!(prices.len(), 4, "{prices:?}");
    // Human report: one screen.
    let out = sb.run_at(AFTER, &["validate", "--date", DATE]);
    assert_eq!(code(&out), 0);
    let s = stdout(&out);
    assert!(s.starts_with(&format!("validate {DATE}  GREEN")), "{s}");
    assert!(
        s.contains("logic match  100.0%") && s.contains("regime"),
        "{s}"
    );
    assert!(s.lines().count() < 25, "{s}");
    // Run twice: one row for the date.
    let df = table(&sb.path().join("ledger/validations.parquet"));
    assert_eq!(df.height(), 1);
    assert_eq!(text_column(&df, "colour"), ["GREEN"]);
}

#[test]
fn an_edited_official_close_drifts_yellow_then_red_with_exit_6() {
    let sb = Sandbox::with_sample("");
    decide(&sb, DATE);
    let sym = traded(&sb);
    // +1 %: match unchanged, drift 1 % → YELLOW (>= 0.5, < 2).
    edit_bar(&sb, &sym, DATE, 1.01, false);
    let (rc, v, err) = validate(&sb, DATE);
    assert_eq!(rc, 0, "{err}");
    assert_eq!(v["colour"], "YELLOW", "{v}");
    assert_eq!(v["drift_symbol"], sym.as_str());
    let drift = v["drift_pct"].as_f64().expect("drift");
    assert!((drift - 1.0).abs() < 1e-6, "{drift}");
    // Thresholds come from the config: a green band of 1.5 % makes the same day GREEN.
    let cfg = std::fs::read_to_string(sb.config()).expect("config");
    std::fs::write(
        sb.config(),
        format!("{cfg}validation:\n  green_max_drift_pct: 1.5\n"),
    )
    .expect("config");
    let (rc, v, _) = validate(&sb, DATE);
    assert_eq!((rc, v["colour"].as_str()), (0, Some("GREEN")), "{v}");
    std::fs::write(sb.config(), cfg).expect("config");
    // A further +3 % (4.03 % in all): RED, exit 6, recorded as a failed validate; the
    // ledger's row of the date replaced.
    edit_bar(&sb, &sym, DATE, 1.03, false);
    let (rc, v, _) = validate(&sb, DATE);
    assert_eq!(rc, 6, "{v}");
    assert_eq!(v["colour"], "RED", "{v}");
    assert_eq!(v["match_pct"], 100.0, "the regime did not move: {v}");
    let st = state(&sb);
    assert_eq!(st["validations"][DATE]["colour"], "RED");
    assert_eq!(st["jobs"][DATE]["validate"]["result"], "failed");
    let df = table(&sb.path().join("ledger/validations.parquet"));
    assert_eq!(text_column(&df, "colour"), ["RED"]);
}

#[test]
fn provisional_bars_early_runs_and_missing_decisions_are_refused_with_exit_3() {
    let sb = Sandbox::with_sample("");
    let (rc, _, err) = validate(&sb, DATE);
    assert_eq!(rc, 3, "{err}");
    assert!(
        err.contains(&format!("no recorded decision for {DATE}")) && err.contains("dry-run"),
        "{err}"
    );
    decide(&sb, DATE);
    // Before the close (15:50 New York).
    let out = sb.run(&["validate", "--date", DATE]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(stderr(&out).contains("closes at 16:00"), "{}", stderr(&out));
    edit_bar(&sb, "QQQ", DATE, 1.0, true);
    let (rc, _, err) = validate(&sb, DATE);
    assert_eq!(rc, 3, "{err}");
    assert!(
        err.contains(&format!("the official bar of {DATE} is not in yet")) && err.contains("QQQ"),
        "{err}"
    );
    assert!(
        state(&sb)["validations"]
            .as_object()
            .is_none_or(|m| m.is_empty()),
        "nothing recorded"
    );
}

#[test]
fn bad_validation_promotion_and_override_keys_are_config_errors() {
    for (extra, message) in [
        (
            "validation:\n  yellow_min_match_pct: 150\n",
            "validation.yellow_min_match_pct = 150: must be between 0 and 100",
        ),
        (
            "validation:\n  yellow_max_drift_pct: 0.1\n",
            "validation.yellow_max_drift_pct = 0.1: must be between 0.5 and 100",
        ),
        (
            "promotion:\n  live_max_mean_slippage_pct: -1\n",
            "promotion.live_max_mean_slippage_pct = -1: must be between 0 and 100",
        ),
        (
            "phase_override:\n  phase: paper\n  reason: \" \"\n",
            "phase_override.reason = \" \": must say why",
        ),
        (
            "phase_override:\n  phase: moon\n  reason: x\n",
            "phase_override.phase",
        ),
    ] {
        let sb = Sandbox::with_sample(extra);
        let out = sb.run_at(AFTER, &["validate", "--date", DATE]);
        assert_eq!(code(&out), 2, "{extra}: {}", stderr(&out));
        assert!(stderr(&out).contains(message), "{extra}: {}", stderr(&out));
    }
}
