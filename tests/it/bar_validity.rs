//! #18 item 8 through the binary: a stored bar that no trade may stand on (close inf or
//! NaN, negative or NaN volume, negative dividend, split factor <= 0, a date after today in
//! New York) fails preflight's `data_quality` gate naming symbol, date and field, and
//! `dry-run --skip-preflight` on unusable prices exits 5 (data unusable), not 1.

use std::collections::BTreeMap;

use serde_json::Value;
use trader::data::store::BarStore;
use trader::model::Bar;

use crate::common::{Sandbox, code, stderr, stdout};

const DATE: &str = "2026-05-01";

fn edit_bars(sb: &Sandbox, symbol: &str, edit: impl FnOnce(&mut Vec<Bar>)) {
    let store = BarStore::new(&sb.path().join("bars"));
    let mut bars = store.read(symbol).expect("read").expect("stored");
    edit(&mut bars);
    store
        .write_many(&BTreeMap::from([(symbol.to_string(), bars)]))
        .expect("write");
}

fn at<'a>(bars: &'a mut [Bar], date: &str) -> &'a mut Bar {
    bars.iter_mut()
        .find(|b| b.date.to_string() == date)
        .unwrap_or_else(|| panic!("no bar of {date}"))
}

/// Preflight for DATE: (exit code, failed gate names, data_quality detail).
fn preflight(sb: &Sandbox) -> (i32, Vec<String>, String) {
    let out = sb.run(&["--json", "preflight", "--date", DATE]);
    let v: Value = serde_json::from_str(&stdout(&out))
        .unwrap_or_else(|e| panic!("{e}: {}{}", stdout(&out), stderr(&out)));
    let gates = v["gates"].as_array().expect("gates");
    let failed = gates
        .iter()
        .filter(|g| g["pass"] == false)
        .map(|g| g["name"].as_str().expect("name").to_string())
        .collect();
    let dq = gates
        .iter()
        .find(|g| g["name"] == "data_quality")
        .and_then(|g| g["detail"].as_str())
        .expect("data_quality gate")
        .to_string();
    (code(&out), failed, dq)
}

#[test]
fn preflight_passes_on_the_sample_then_fails_data_quality_on_each_unusable_bar() {
    let sb = Sandbox::with_sample("");
    let (c, failed, _) = preflight(&sb);
    assert_eq!((c, failed.len()), (0, 0), "{failed:?}");
    type Edit = fn(&mut Bar);
    let cases: [(&str, Edit, &str); 7] = [
        (
            "TQQQ",
            |b| b.close = f64::INFINITY,
            "TQQQ 2026-04-27: close = inf",
        ),
        ("TLT", |b| b.close = f64::NAN, "TLT 2026-04-27: close = NaN"),
        ("TMF", |b| b.volume = -5.0, "TMF 2026-04-27: volume = -5"),
        (
            "TMV",
            |b| b.volume = f64::NAN,
            "TMV 2026-04-27: volume = NaN",
        ),
        (
            "QQQ",
            |b| b.dividend = -0.25,
            "QQQ 2026-04-27: dividend = -0.25",
        ),
        (
            "TQQQ",
            |b| b.split_factor = 0.0,
            "TQQQ 2026-04-27: split factor = 0",
        ),
        (
            "TLT",
            |b| b.split_factor = -2.0,
            "TLT 2026-04-27: split factor = -2",
        ),
    ];
    for (symbol, edit, want) in cases {
        let sb = Sandbox::with_sample("");
        edit_bars(&sb, symbol, |bars| edit(at(bars, "2026-04-27")));
        let (c, failed, dq) = preflight(&sb);
        assert_eq!(c, 3, "{want}: {failed:?} {dq}");
        assert!(
            failed.contains(&"data_quality".to_string()),
            "{want}: {failed:?}"
        );
        assert!(dq.contains(want), "want `{want}` in: {dq}");
    }
}

#[test]
fn a_bar_dated_after_today_fails_preflight_even_when_checking_an_earlier_date() {
    let sb = Sandbox::with_sample("");
    edit_bars(&sb, "TMF", |bars| {
        let mut b = bars[bars.len() - 1].clone();
        b.date = chrono::NaiveDate::from_ymd_opt(2026, 5, 4).expect("date");
        bars.push(b);
    });
    let (c, failed, dq) = preflight(&sb);
    assert_eq!(c, 3, "{failed:?}");
    assert_eq!(failed, ["data_quality"], "{dq}");
    assert!(
        dq.contains("TMF 2026-05-04: date 2026-05-04 is after today (2026-05-01, New York)"),
        "{dq}"
    );
}

#[test]
fn dry_run_on_unusable_prices_exits_5() {
    for (symbol, value) in [
        ("QQQ", f64::NAN),
        ("QQQ", f64::INFINITY),
        ("QQQ", -1.0),
        ("TQQQ", f64::NAN),
        ("TMF", f64::INFINITY),
    ] {
        let sb = Sandbox::with_sample("");
        edit_bars(&sb, symbol, |bars| at(bars, "2026-04-27").close = value);
        let out = sb.run(&["dry-run", "--date", DATE, "--skip-preflight"]);
        assert_eq!(code(&out), 5, "{value}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.contains(&format!("{symbol} on 2026-04-27: close")),
            "{err}"
        );
        assert!(!err.contains("panicked"), "{err}");
    }
}

/// A bar older than the calendar (1990) is named on its own; it does not make every other
/// bar of every symbol a "non-session" (the calendar error used to become an empty list).
#[test]
fn a_bar_before_the_calendar_is_named_and_the_rest_still_checked() {
    let sb = Sandbox::with_sample("");
    edit_bars(&sb, "TLT", |bars| {
        let mut b = bars[0].clone();
        b.date = chrono::NaiveDate::from_ymd_opt(1985, 1, 2).expect("date");
        bars.insert(0, b);
    });
    let (c, failed, dq) = preflight(&sb);
    assert_eq!(c, 3, "{failed:?}");
    assert_eq!(failed, ["data_quality"], "{dq}");
    assert!(
        dq.contains("TLT non_session: bar on 1985-01-02: date 1985-01-02 is outside the supported NYSE calendar range"),
        "{dq}"
    );
    for other in ["QQQ", "TQQQ", "TMF", "TMV"] {
        assert!(!dq.contains(other), "{other} flagged: {dq}");
    }
}
