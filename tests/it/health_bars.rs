//! `health`'s bars check on a large universe (issue #17): a bounded summary (counts, the worst
//! few) instead of one note per symbol, graded by how far behind: one session is a warning,
//! more than `health.max_stale_sessions` critical.

use std::collections::BTreeMap;

use serde_json::Value;
use trader::data::store::BarStore;

use crate::common::{Sandbox, code, stdout};

fn bars_check(out: &std::process::Output) -> (String, String) {
    let v: Value = serde_json::from_str(&stdout(out)).expect("json");
    let c = v["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|c| c["name"] == "bars")
        .expect("bars check")
        .clone();
    (
        c["status"].as_str().expect("status").to_string(),
        c["detail"].as_str().expect("detail").to_string(),
    )
}

#[test]
fn many_lagging_symbols_are_summarised_and_graded_by_lag() {
    let extras: Vec<String> = (0..300).map(|i| format!("X{i:03}")).collect();
    let sb = Sandbox::with_sample(&format!(
        "data:\n  extra_symbols: [{}, ZZZZ]\n",
        extras.join(", ")
    ));
    let store = BarStore::new(&sb.path().join("bars"));
    let qqq = store.read("QQQ").expect("read").expect("QQQ");
    let mut map = BTreeMap::new();
    for (i, s) in extras.iter().enumerate() {
        let mut bars = qqq.clone();
        // Three symbols stopped a week or more earlier, X000 furthest.
        let cut = match i {
            0 => "2026-04-10",
            1 => "2026-04-17",
            2 => "2026-04-24",
            _ => "9999-12-31",
        };
        bars.retain(|b| b.date.to_string().as_str() <= cut);
        map.insert(s.clone(), bars);
    }
    store.write_many(&map).expect("write");

    // Tuesday 11:00 New York: the last completed session is Monday 2026-05-04; the sample
    // ends Friday 2026-05-01, one session behind.
    let now = "2026-05-05T15:00:00Z";
    let sb_out = sb.run_at(now, &["--json", "health"]);
    let (status, detail) = bars_check(&sb_out);
    assert_eq!(status, "critical", "{detail}");
    assert_eq!(code(&sb_out), 3);
    assert!(
        detail.len() < 700,
        "bounded: {} bytes: {detail}",
        detail.len()
    );
    assert!(
        detail.starts_with("0 of 306 symbol(s) current through 2026-05-04"),
        "{detail}"
    );
    assert!(
        detail.contains("302 behind by at most 1 session(s)"),
        "{detail}"
    );
    assert!(
        detail.contains(
            "3 more than 1 session(s) behind, worst: X000 2026-04-10 (16 session(s)), X001 2026-04-17 (11 session(s)), X002 2026-04-24 (6 session(s))"
        ),
        "{detail}"
    );
    assert!(detail.contains("1 with no bars"), "{detail}");
    assert!(detail.contains("ZZZZ"), "{detail}");

    // Without the stale three and ZZZZ (not read by the strategy: a warning), one session
    // behind is a warning, not critical.
    let text = std::fs::read_to_string(sb.config()).expect("config");
    std::fs::write(
        sb.config(),
        text.replace("X000, X001, X002, ", "")
            .replace(", ZZZZ]", "]"),
    )
    .expect("write");
    let out = sb.run_at(now, &["--json", "health"]);
    let (status, detail) = bars_check(&out);
    assert_eq!(status, "warn", "{detail}");
    assert!(
        detail.contains("302 behind by at most 1 session(s)"),
        "{detail}"
    );
}
