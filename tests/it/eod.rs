//! `trader eod` after two paper days on the sample: the PNGs decode at the chart size, the
//! HTML has no external reference, report.json equals an independent computation from the
//! state, daily.parquet keeps one row per day on a rerun, the weekly rollup, the info alert
//! with the HTML body and the PNGs attached at a real SMTP sink; `backtest --report`.

use std::path::Path;

use serde_json::Value;

use crate::common::{Sandbox, code, stderr, stdout, table};
use crate::paper::{D1, D2, run_env, sandbox, state};
use crate::smtp_sink::Sink;

const AFTER: &str = "2026-05-01T21:30:00Z";

fn eod(sb: &Sandbox, args: &[&str]) -> std::process::Output {
    let mut a = vec!["eod"];
    a.extend_from_slice(args);
    let out = sb.run_at(AFTER, &a);
    assert_eq!(
        code(&out),
        0,
        "eod {args:?}: {}{}",
        stdout(&out),
        stderr(&out)
    );
    out
}

/// Width and height of a PNG, decoded in full (every row read).
fn png_size(path: &Path) -> (u32, u32) {
    let f = std::fs::File::open(path).expect("png file");
    let mut r = png::Decoder::new(f).read_info().expect("PNG header");
    let mut buf = vec![0; r.output_buffer_size()];
    let info = r.next_frame(&mut buf).expect("PNG image data");
    (info.width, info.height)
}

/// Every `src=`/`href=` attribute value and every `url(` of the page must be a `data:` URI;
/// no `@import`, no `<link>`, no `<script>`.
fn assert_self_contained(html: &str) {
    let lower = html.to_ascii_lowercase();
    assert!(!lower.contains("@import"), "@import in the page");
    assert!(
        !lower.contains("<link") && !lower.contains("<script"),
        "link/script tag"
    );
    for attr in ["src=", "href=", "url("] {
        let mut rest = lower.as_str();
        let mut n = 0;
        while let Some(i) = rest.find(attr) {
            rest = &rest[i + attr.len()..];
            let v = rest.trim_start_matches(['"', '\'', ' ']);
            assert!(
                v.starts_with("data:"),
                "{attr} not to a data: URI: {}",
                &v[..v.len().min(60)]
            );
            n += 1;
        }
        if attr == "src=" {
            assert_eq!(n, 2, "both charts inline");
        }
    }
}

fn slippage_bps(side: &str, decision: f64, fill: f64) -> f64 {
    let d = (fill - decision) / decision * 10_000.0;
    if side == "buy" { d } else { -d }
}

#[test]
fn eod_reports_two_paper_days_and_mails_the_summary() {
    let mail = tempfile::tempdir().expect("tempdir");
    let sink = Sink::start(mail.path(), 0, &[]);
    let alerts = sink.as_ref().map_or(String::new(), |s| {
        format!(
            "alerts:\n  min_severity: info\n  email:\n    host: 127.0.0.1\n    port: {}\n    security: none\n    from: trader@test.example\n    to: [ops@test.example]\n    timeout_seconds: 2\n",
            s.port
        )
    });
    let sb = sandbox(&alerts);
    for d in [D1, D2] {
        let out = run_env(&sb, &["paper", "--date", d], &[]);
        assert_eq!(code(&out), 0, "paper {d}: {}", stderr(&out));
    }
    eod(&sb, &["--date", D1]);
    eod(&sb, &["--date", D2]);
    eod(&sb, &["--date", D2, "--period", "week"]);

    let dir = sb.path().join("data/reports").join(D2);
    for png in ["equity.png", "drawdown.png"] {
        assert_eq!(png_size(&dir.join(png)), (900, 360), "{png}");
    }
    let html = std::fs::read_to_string(dir.join("report.html")).expect("report.html");
    assert_self_contained(&html);
    assert!(
        std::fs::read_to_string(dir.join("report.md"))
            .expect("md")
            .contains("## Trades")
    );

    // report.json against the state, computed here.
    let r: Value = serde_json::from_slice(&std::fs::read(dir.join("report.json")).expect("json"))
        .expect("report JSON");
    let st = state(&sb);
    let eq = |d: &str| {
        st.equity_history
            .iter()
            .find(|p| p.date.to_string() == d)
            .expect("equity of the day")
            .equity
    };
    let p = &r["performance"];
    assert_eq!(p["equity"].as_f64(), Some(eq(D2)));
    let pnl = p["daily_pnl"].as_f64().expect("pnl");
    assert!((pnl - (eq(D2) - eq(D1))).abs() < 1e-6, "{pnl}");
    let mut checked = 0;
    for d in [D1, D2] {
        let r: Value = serde_json::from_slice(
            &std::fs::read(sb.path().join("data/reports").join(d).join("report.json"))
                .expect("json"),
        )
        .expect("report JSON");
        let Some(day) = st.journal.get(&d.parse().expect("date")) else {
            assert_eq!(r["execution"]["orders"], serde_json::json!([]), "{d}");
            continue;
        };
        let (ordered, filled): (i64, i64) = day
            .orders
            .iter()
            .fold((0, 0), |(a, b), o| (a + o.qty, b + o.filled_qty));
        let rate = r["execution"]["fill_rate_pct"].as_f64();
        if ordered > 0 {
            assert!(
                (rate.expect("fill rate") - filled as f64 / ordered as f64 * 100.0).abs() < 1e-9
            );
        }
        let orders = r["execution"]["orders"].as_array().expect("orders");
        assert_eq!(orders.len(), day.orders.len());
        for (o, j) in orders.iter().zip(&day.orders) {
            if let Some(fill) = j.avg_fill_price.filter(|_| j.filled_qty > 0) {
                let want = slippage_bps(j.side.as_str(), j.decision_price, fill);
                let got = o["slippage_bps"].as_f64().expect("slippage of a fill");
                assert!((got - want).abs() < 1e-9, "{} {got} vs {want}", j.symbol);
                checked += 1;
            }
        }
    }
    assert!(checked > 0, "no fill to check on either day");

    // One row per day after the rerun.
    let df = table(&sb.path().join("ledger/daily.parquet"));
    assert_eq!(df.height(), 2, "{df}");
    let week: Value =
        serde_json::from_slice(&std::fs::read(dir.join("week.json")).expect("week.json"))
            .expect("json");
    assert_eq!(week["days"], 2);
    assert!(
        st.job(D2.parse().expect("date"), "eod").is_some(),
        "job eod recorded"
    );

    let Some(s) = sink else {
        return;
    };
    let got = s.messages();
    let m = got
        .iter()
        .find(|m| m.subject().starts_with(&format!("[trader] INFO: eod {D2}")))
        .unwrap_or_else(|| {
            panic!(
                "no eod summary among {:?}",
                got.iter().map(|m| m.subject()).collect::<Vec<_>>()
            )
        });
    for want in [
        "text/html",
        "filename=\"equity.png\"",
        "filename=\"drawdown.png\"",
        "image/png",
    ] {
        assert!(m.raw.contains(want), "{want} missing from the message");
    }
}

#[test]
fn eod_refuses_a_date_without_data() {
    let sb = Sandbox::with_sample("");
    let out = sb.run_at(AFTER, &["eod", "--date", D2]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("no equity recorded for 2026-05-01"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn backtest_report_writes_the_tear_sheet() {
    let sb = Sandbox::with_sample("");
    let dir = sb.path().join("sheet");
    let out = sb.run(&[
        "backtest",
        "--from",
        "2025-01-02",
        "--to",
        "2026-04-30",
        "--report",
        dir.to_str().expect("utf-8"),
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    for png in ["equity.png", "drawdown.png"] {
        assert_eq!(png_size(&dir.join(png)), (900, 360), "{png}");
    }
    let html = std::fs::read_to_string(dir.join("report.html")).expect("html");
    assert_self_contained(&html);
    assert!(html.contains("Monthly returns") && html.contains("Regime occupancy"));
    let j: Value = serde_json::from_slice(&std::fs::read(dir.join("report.json")).expect("json"))
        .expect("json");
    assert!(j["yearly_returns_pct"]["2025"].is_number(), "{j}");
}
