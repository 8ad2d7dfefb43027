//! Preflight on feeds with holes (issue #17): the gap policy (inside/outside the strategy's
//! lookback, acknowledged with `trader data ack`, market-wide outages reported once as a date),
//! the coverage threshold `preflight.min_coverage_pct`, and the findings ledger that keeps the
//! full list the bounded gate details leave out.

use std::collections::BTreeMap;
use std::process::{Command, Output};

use serde_json::Value;
use trader::data::store::BarStore;
use trader::model::Bar;

use crate::common::{Sandbox, code, stderr, stdout, table, text_column};

const DATE: &str = "2026-05-01";
const NOW: &str = "2026-05-01T19:50:00Z";

fn trader(sb: &Sandbox, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trader"))
        .arg("--config")
        .arg(sb.config())
        .args(args)
        .env("TRADER_NOW", NOW)
        .env("USER", "tester")
        .output()
        .expect("run trader")
}

/// (exit code, gate name → (pass, detail)).
fn preflight(sb: &Sandbox) -> (i32, BTreeMap<String, (bool, String)>) {
    let out = trader(sb, &["--json", "preflight", "--date", DATE]);
    let v: Value = serde_json::from_str(&stdout(&out))
        .unwrap_or_else(|e| panic!("{e}: {}{}", stdout(&out), stderr(&out)));
    let gates = v["gates"]
        .as_array()
        .expect("gates")
        .iter()
        .map(|g| {
            (
                g["name"].as_str().expect("name").to_string(),
                (
                    g["pass"] == true,
                    g["detail"].as_str().expect("detail").to_string(),
                ),
            )
        })
        .collect();
    (code(&out), gates)
}

fn store(sb: &Sandbox) -> BarStore {
    BarStore::new(&sb.path().join("bars"))
}

fn edit(sb: &Sandbox, symbol: &str, f: impl FnOnce(&mut Vec<Bar>)) {
    let mut bars = store(sb).read(symbol).expect("read").expect("stored");
    f(&mut bars);
    store(sb)
        .write_many(&BTreeMap::from([(symbol.to_string(), bars)]))
        .expect("write");
}

fn drop_dates(sb: &Sandbox, symbol: &str, dates: &[&str]) {
    edit(sb, symbol, |bars| {
        bars.retain(|b| !dates.contains(&b.date.to_string().as_str()))
    });
}

/// Extra (not read by the strategy) symbols as copies of QQQ.
fn with_extras(extras: &[&str], extra_cfg: &str) -> Sandbox {
    let sb = Sandbox::with_sample(&format!(
        "data:\n  extra_symbols: [{}]\n{extra_cfg}",
        extras.join(", ")
    ));
    let qqq = store(&sb).read("QQQ").expect("read").expect("QQQ");
    let map: BTreeMap<String, Vec<Bar>> = extras
        .iter()
        .map(|s| (s.to_string(), qqq.clone()))
        .collect();
    store(&sb).write_many(&map).expect("write extras");
    sb
}

fn findings(sb: &Sandbox) -> Vec<(String, String, String, String)> {
    let df = table(
        &sb.path()
            .join(format!("ledger/preflight_findings/{DATE}.parquet")),
    );
    let (c, s, d, st) = (
        text_column(&df, "check"),
        text_column(&df, "symbol"),
        text_column(&df, "item_date"),
        text_column(&df, "status"),
    );
    (0..c.len())
        .map(|i| (c[i].clone(), s[i].clone(), d[i].clone(), st[i].clone()))
        .collect()
}

#[test]
fn a_gap_inside_the_lookback_fails_until_acknowledged() {
    let sb = Sandbox::with_sample("");
    drop_dates(&sb, "TMF", &["2026-03-10", "2026-03-11"]);
    let (c, gates) = preflight(&sb);
    assert_eq!(c, 3);
    let (pass, detail) = &gates["gaps"];
    assert!(!pass, "{detail}");
    assert!(
        detail.contains("2 gap(s) inside the 520-session lookback")
            && detail.contains("2026-03-10: TMF")
            && detail.contains("2026-03-11: TMF"),
        "{detail}"
    );
    let failed: Vec<&String> = gates.iter().filter(|(_, g)| !g.0).map(|(n, _)| n).collect();
    assert_eq!(failed, ["gaps"], "{gates:?}");
    assert!(findings(&sb).contains(&(
        "gaps".into(),
        "TMF".into(),
        "2026-03-10".into(),
        "fail".into()
    )));

    // Acknowledge one: still NO-GO, naming only the other.
    let out = trader(
        &sb,
        &["data", "ack", "tmf", "2026-03-10", "--reason", "IEX gap"],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let (c, gates) = preflight(&sb);
    assert_eq!(c, 3);
    let detail = &gates["gaps"].1;
    assert!(
        detail.contains("1 gap(s) inside") && detail.contains("2026-03-11: TMF"),
        "{detail}"
    );
    assert!(
        detail.contains("1 acknowledged gap(s): 2026-03-10: TMF"),
        "{detail}"
    );

    let out = trader(
        &sb,
        &["data", "ack", "TMF", "2026-03-11", "--reason", "IEX gap"],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let (c, gates) = preflight(&sb);
    assert_eq!(c, 0, "{gates:?}");
    assert!(
        gates["gaps"].1.contains("2 acknowledged gap(s)"),
        "{gates:?}"
    );

    // The ledger says who, when and why.
    let df = table(&sb.path().join("ledger/data_acks.parquet"));
    assert_eq!(text_column(&df, "symbol"), ["TMF", "TMF"]);
    assert_eq!(text_column(&df, "by"), ["tester", "tester"]);
    assert_eq!(text_column(&df, "reason"), ["IEX gap", "IEX gap"]);
    assert!(text_column(&df, "at")[0].starts_with("2026-05-01T19:50"));
    let f = findings(&sb);
    assert!(f.contains(&(
        "gaps".into(),
        "TMF".into(),
        "2026-03-11".into(),
        "acknowledged".into()
    )));
}

#[test]
fn data_ack_refuses_bad_input_and_records_nothing() {
    let sb = Sandbox::with_sample("");
    for (args, needle) in [
        (
            vec!["data", "ack", "BAD/SYM", "2026-03-10", "--reason", "x"],
            "SYMBOL",
        ),
        (
            vec!["data", "ack", "TMF", "2026-03-08", "--reason", "x"],
            "2026-03-08: not an NYSE session",
        ),
        (
            vec!["data", "ack", "TMF", "2026-03-10", "--reason", "  "],
            "--reason",
        ),
    ] {
        let out = trader(&sb, &args);
        assert_eq!(code(&out), 2, "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(needle), "{}", stderr(&out));
    }
    assert!(!sb.path().join("ledger/data_acks.parquet").exists());
}

#[test]
fn a_gap_before_the_lookback_is_a_warning() {
    let sb = Sandbox::with_sample("");
    // 2023-03-10 is more than 520 sessions before 2026-05-01.
    drop_dates(&sb, "TMV", &["2023-03-10"]);
    let (c, gates) = preflight(&sb);
    assert_eq!(c, 0, "{gates:?}");
    let (pass, detail) = &gates["gaps"];
    assert!(pass);
    assert!(
        detail.contains("warning: 1 gap(s) in 1 symbol(s) outside the lookback")
            && detail.contains("TMV"),
        "{detail}"
    );
    assert!(findings(&sb).contains(&(
        "gaps".into(),
        "TMV".into(),
        "2023-03-10".into(),
        "warning".into()
    )));
}

#[test]
fn a_market_wide_outage_is_reported_once_as_a_date() {
    let extras = ["AAA", "BBB", "CCC", "DDD"];
    let sb = with_extras(&extras, "");
    // 4 of the 9 symbols lack 2026-04-20 (44 % > 30 %); the strategy reads none of them.
    for s in extras {
        drop_dates(&sb, s, &["2026-04-20"]);
    }
    let (c, gates) = preflight(&sb);
    assert_eq!(c, 0, "{gates:?}");
    let detail = &gates["gaps"].1;
    assert!(
        detail.contains("market-wide outage(s): 2026-04-20 (4 of 9 symbols)"),
        "{detail}"
    );
    assert!(!detail.contains("AAA"), "not listed per symbol: {detail}");
    // The same outage in a symbol the strategy reads, inside the lookback, fails.
    drop_dates(&sb, "QQQ", &["2026-04-20"]);
    let (c, gates) = preflight(&sb);
    assert_eq!(c, 3);
    let detail = &gates["gaps"].1;
    assert!(
        detail.contains("2026-04-20: QQQ") && detail.contains("(5 of 9 symbols)"),
        "{detail}"
    );
}

#[test]
fn coverage_takes_a_threshold_but_always_needs_the_strategys_symbols() {
    let extras = ["AAA", "BBB", "CCC", "DDD", "EEE"];
    let sb = with_extras(&extras, "preflight:\n  min_coverage_pct: 80\n");
    // One of ten lacks the day (90 % >= 80 %): GO, with the straggler named.
    drop_dates(&sb, "AAA", &[DATE]);
    let (c, gates) = preflight(&sb);
    assert_eq!(c, 0, "{gates:?}");
    let detail = &gates["coverage"].1;
    assert!(
        detail.contains("9/10 symbols") && detail.contains("AAA"),
        "{detail}"
    );
    // Three of ten (70 % < 80 %): NO-GO.
    drop_dates(&sb, "BBB", &[DATE]);
    drop_dates(&sb, "CCC", &[DATE]);
    let (c, gates) = preflight(&sb);
    assert_eq!(c, 3);
    let (pass, detail) = &gates["coverage"];
    assert!(
        !pass
            && detail.contains("7/10 symbols")
            && detail.contains("3 last at 2026-04-30 (AAA, BBB, CCC)"),
        "{detail}"
    );
    // Threshold met again, but a symbol the strategy reads lacks the day: NO-GO.
    let text = std::fs::read_to_string(sb.config()).expect("config");
    std::fs::write(
        sb.config(),
        text.replace("min_coverage_pct: 80", "min_coverage_pct: 50"),
    )
    .expect("write");
    drop_dates(&sb, "TMV", &[DATE]);
    let (c, gates) = preflight(&sb);
    assert_eq!(c, 3);
    let (pass, detail) = &gates["coverage"];
    assert!(
        !pass && detail.contains("the strategy reads TMV (2026-04-30)"),
        "{detail}"
    );
    let f = findings(&sb);
    assert!(f.contains(&(
        "coverage".into(),
        "TMV".into(),
        "2026-04-30".into(),
        "fail".into()
    )));
    assert!(f.contains(&(
        "coverage".into(),
        "AAA".into(),
        "2026-04-30".into(),
        "warning".into()
    )));
}

#[test]
fn gate_details_stay_bounded_on_a_large_universe() {
    let extras: Vec<String> = (0..60).map(|i| format!("E{i:02}")).collect();
    let names: Vec<&str> = extras.iter().map(String::as_str).collect();
    let sb = with_extras(&names, "");
    for s in &names {
        // Every extra lacks the day and two recent sessions: 180 gaps, 60 coverage misses.
        drop_dates(&sb, s, &[DATE, "2026-04-20", "2026-04-21"]);
    }
    let (c, gates) = preflight(&sb);
    assert_eq!(c, 3);
    let (pass, coverage) = &gates["coverage"];
    assert!(!pass);
    assert!(coverage.len() < 400, "{} bytes: {coverage}", coverage.len());
    assert!(
        coverage.contains("60 last at 2026-04-30 (E00, E01, E02, E03, E04, …)"),
        "{coverage}"
    );
    let gaps = &gates["gaps"].1;
    assert!(gaps.len() < 400, "{} bytes: {gaps}", gaps.len());
    assert!(gaps.contains("2026-04-20 (60 of 65 symbols)"), "{gaps}");
    // The ledger has every one of them.
    let f = findings(&sb);
    assert_eq!(
        f.iter().filter(|r| r.0 == "gaps").count(),
        120,
        "the day itself is not a gap"
    );
    assert_eq!(f.iter().filter(|r| r.0 == "coverage").count(), 60);
}
