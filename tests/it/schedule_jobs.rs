//! The job side of unattended operation (#22): a `--slot` firing that is not today's slot
//! exits 0 saying why, missed and failed jobs in `health`, the Prometheus textfile, the
//! per-day log files.

use crate::common::{Sandbox, code, log_text, stderr, stdout};

fn state_json(sb: &Sandbox) -> Option<serde_json::Value> {
    std::fs::read_to_string(sb.path().join("state/state.json"))
        .ok()
        .map(|t| serde_json::from_str(&t).expect("state json"))
}

#[test]
fn a_firing_outside_the_slot_exits_0_with_the_reason_and_runs_nothing() {
    let sb = Sandbox::with_sample("");
    // Friday 2026-05-01 closes at 16:00 (EDT): 12:40 is the early-close firing.
    let out = sb.run_at(
        "2026-05-01T16:40:00Z",
        &["--slot", "preflight", "preflight"],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stderr(&out)
            .contains("this firing (12:40) is not today's preflight slot (15:40, close 16:00)"),
        "{}",
        stderr(&out)
    );
    assert!(
        state_json(&sb).is_none(),
        "nothing ran, no state was created"
    );
    // The same firing on the normal-day time runs the job.
    let out = sb.run_at(
        "2026-05-01T19:40:00Z",
        &["--slot", "preflight", "preflight"],
    );
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
    let st = state_json(&sb).expect("state");
    assert_eq!(st["jobs"]["2026-05-01"]["preflight"]["result"], "ok");
    // --slot is refused where it means nothing.
    let out = sb.run_at("2026-05-01T19:40:00Z", &["--slot", "fetch", "health"]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
}

#[test]
fn on_an_early_close_the_early_firing_runs_and_the_normal_one_is_skipped() {
    // 2026-11-27 closes at 13:00 (EST): the 12:40 preflight firing is the slot.
    let sb = Sandbox::with_sample("");
    let out = sb.run_at(
        "2026-11-27T20:40:00Z",
        &["--slot", "preflight", "preflight"],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("(15:40) is not today's preflight slot (12:40, close 13:00)"),
        "{}",
        stderr(&out)
    );
    assert!(state_json(&sb).is_none());
    let out = sb.run_at(
        "2026-11-27T17:40:00Z",
        &["--slot", "preflight", "preflight"],
    );
    // The sample bars end before November: the gate may block, but the job ran and recorded.
    assert!(matches!(code(&out), 0 | 3), "{}", stderr(&out));
    let st = state_json(&sb).expect("state");
    assert!(st["jobs"]["2026-11-27"]["preflight"].is_object(), "{st}");
    // A holiday: nothing runs.
    let out = sb.run_at(
        "2026-11-26T17:40:00Z",
        &["--slot", "preflight", "preflight"],
    );
    assert_eq!(code(&out), 0);
    assert!(
        stderr(&out).contains("not a trading day (Thanksgiving"),
        "{}",
        stderr(&out)
    );
}

fn jobs_check(sb: &Sandbox, now: &str) -> (i32, serde_json::Value) {
    let out = sb.run_at(now, &["--json", "health"]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("json");
    let c = v["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|c| c["name"] == "jobs")
        .cloned()
        .expect("jobs check");
    (code(&out), c)
}

#[test]
fn health_reports_missed_jobs_critical_when_the_trading_run_is_missed() {
    let sb = Sandbox::with_sample("");
    // Preflight ran in its slot; fetch was never run, and the trading run is missing.
    let out = sb.run_at("2026-05-01T19:40:00Z", &["preflight"]);
    assert_eq!(code(&out), 0, "{}", stdout(&out));
    // 15:55: fetch (15:35) and preflight (15:40) are due, the trading run (15:50) not yet.
    let (exit, c) = jobs_check(&sb, "2026-05-01T19:55:00Z");
    assert_eq!(c["status"], "warn", "{c}");
    assert_eq!(
        c["detail"],
        "2026-05-01: fetch 15:35 MISSED (no record since its slot); preflight 15:40 ok"
    );
    assert_eq!(exit, 0);
    // 16:10: the trading run's slot passed its grace with no dry-run record: critical.
    let (exit, c) = jobs_check(&sb, "2026-05-01T20:10:00Z");
    assert_eq!(c["status"], "critical", "{c}");
    assert!(
        c["detail"]
            .as_str()
            .expect("detail")
            .contains("trade (dry-run) 15:50 MISSED"),
        "{c}"
    );
    assert_eq!(exit, 3);
    // The trading run, late but within the tolerance, fills the gap.
    let out = sb.run_at("2026-05-01T20:12:00Z", &["--slot", "trade", "dry-run"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let (_, c) = jobs_check(&sb, "2026-05-01T20:13:00Z");
    assert_eq!(c["status"], "warn", "only the fetch is missing now: {c}");
    assert!(
        c["detail"]
            .as_str()
            .expect("detail")
            .contains("trade (dry-run) 15:50 ok")
    );
    // Before the first slot, and on a weekend, nothing is expected.
    let (_, c) = jobs_check(&sb, "2026-05-01T14:00:00Z");
    assert_eq!(c["detail"], "no job of 2026-05-01 due yet");
    let (_, c) = jobs_check(&sb, "2026-05-02T22:00:00Z");
    assert_eq!(c["status"], "ok");
    assert!(
        c["detail"]
            .as_str()
            .expect("d")
            .contains("not a trading day (weekend)")
    );
}

#[test]
fn health_expects_the_eod_report_after_validate_on_both_kinds_of_close() {
    let sb = Sandbox::with_sample("");
    // 16:42: validate (16:25) is past its grace, eod (16:30) not yet.
    let (_, c) = jobs_check(&sb, "2026-05-01T20:42:00Z");
    let d = c["detail"].as_str().expect("detail");
    assert!(d.contains("validate 16:25 MISSED"), "{c}");
    assert!(!d.contains("eod"), "{c}");
    let (_, c) = jobs_check(&sb, "2026-05-01T20:50:00Z");
    assert!(
        c["detail"]
            .as_str()
            .expect("detail")
            .ends_with("eod 16:30 MISSED (no record since its slot)"),
        "{c}"
    );
    // The day after Thanksgiving closes at 13:00: eod is expected at 13:30 EST.
    let (_, c) = jobs_check(&sb, "2026-11-27T18:50:00Z");
    assert!(
        c["detail"]
            .as_str()
            .expect("detail")
            .contains("eod 13:30 MISSED"),
        "{c}"
    );
}

/// Parse the textfile with Python's prometheus_client; `None` when it is not installed.
fn prometheus_parse(path: &std::path::Path) -> Option<String> {
    let script = "import sys\nfrom prometheus_client.parser import text_string_to_metric_families as p\nfor f in p(open(sys.argv[1]).read()):\n    for s in f.samples:\n        print(s.name, sorted(s.labels.items()), s.value)\n";
    let have = std::process::Command::new("python3")
        .args(["-c", "import prometheus_client"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !have {
        eprintln!("prometheus_client unavailable: skipping the parser check");
        return None;
    }
    let out = std::process::Command::new("python3")
        .args(["-c", script])
        .arg(path)
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "prometheus_client refused the file: {}",
        stderr(&out)
    );
    Some(stdout(&out))
}

#[test]
fn health_prometheus_writes_a_textfile_a_real_parser_reads() {
    let sb = Sandbox::with_sample("");
    assert_eq!(code(&sb.run_at("2026-05-01T19:40:00Z", &["preflight"])), 0);
    let file = sb.path().join("metrics/trader.prom");
    let out = sb.run_at(
        "2026-05-01T20:10:00Z",
        &["health", "--prometheus", file.to_str().expect("utf-8")],
    );
    assert_eq!(code(&out), 3, "the trading run is missed: {}", stdout(&out));
    let text = std::fs::read_to_string(&file).expect("metrics written");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&file).expect("meta").permissions().mode() & 0o777;
    assert_eq!(mode, 0o644, "node_exporter must be able to read it");
    for want in [
        "trader_health_status{config=\"trader\"} 2",
        "trader_check_status{config=\"trader\",check=\"jobs\"} 2",
        "trader_slot_missed{config=\"trader\",slot=\"trade\"} 1",
        "trader_slot_missed{config=\"trader\",slot=\"preflight\"} 0",
        "trader_job_last_exit_ok{config=\"trader\",job=\"preflight\"} 1",
        "trader_kill_switch{config=\"trader\"} 0",
        "trader_orders_in_flight{config=\"trader\"} 0",
        "trader_gate_open{config=\"trader\",gate=\"paper\"} 0",
    ] {
        assert!(text.contains(want), "{want} missing:\n{text}");
    }
    assert!(text.contains("trader_job_last_success_timestamp_seconds{config=\"trader\",job=\"preflight\"} 1777664400"), "{text}");
    let no_temp = std::fs::read_dir(sb.path().join("metrics"))
        .expect("dir")
        .flatten()
        .all(|e| e.file_name() == "trader.prom");
    assert!(no_temp, "only the metrics file, no temp file");
    if let Some(parsed) = prometheus_parse(&file) {
        assert!(
            parsed.contains("trader_slot_missed [('config', 'trader'), ('slot', 'trade')] 1"),
            "{parsed}"
        );
        // After the trading run: equity and drawdown appear.
        assert_eq!(code(&sb.run_at("2026-05-01T19:50:00Z", &["dry-run"])), 0);
        sb.run_at(
            "2026-05-01T20:30:00Z",
            &["health", "--prometheus", file.to_str().expect("utf-8")],
        );
        let parsed = prometheus_parse(&file).expect("parsed");
        assert!(
            parsed.contains("trader_equity_dollars [('config', 'trader')]"),
            "{parsed}"
        );
        assert!(
            parsed.contains("trader_drawdown_ratio [('config', 'trader')] 0"),
            "{parsed}"
        );
    }
}

#[test]
fn logs_go_to_one_file_per_new_york_day_pruned_by_retention_in_json_when_asked() {
    let sb = Sandbox::with_sample("log:\n  retention_days: 10\n  format: json\n");
    let logs = sb.path().join("logs");
    std::fs::create_dir_all(&logs).expect("mkdir");
    for old in [
        "trader-2026-04-01.log",
        "trader-2026-04-21.log",
        "notes.log",
    ] {
        std::fs::write(logs.join(old), "old\n").expect("write");
    }
    // 2026-05-02T01:00Z is still 2026-05-01 in New York.
    let out = sb.run_at(
        "2026-05-02T01:00:00Z",
        &["preflight", "--date", "2026-05-01"],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        !logs.join("trader-2026-04-01.log").exists(),
        "older than 10 days: deleted"
    );
    assert!(
        logs.join("trader-2026-04-21.log").exists(),
        "within 10 days: kept"
    );
    assert!(logs.join("notes.log").exists(), "not a log of ours: kept");
    let today = std::fs::read_to_string(logs.join("trader-2026-05-01.log")).expect("today's log");
    assert!(!today.is_empty());
    for l in today.lines() {
        let v: serde_json::Value = serde_json::from_str(l).expect("a JSON line");
        assert_eq!(v["job"], "preflight", "{l}");
        assert!(
            v["ts"]
                .as_str()
                .expect("ts")
                .starts_with("2026-05-02T01:00"),
            "{l}"
        );
    }
    assert!(log_text(&sb).contains("\"level\":"));
}

#[test]
fn health_with_a_last_bar_after_the_last_completed_session_is_current() {
    // Before Friday's close the last completed session is Thursday 2026-04-30, and the
    // sample's last bar is Friday's (a `fetch --quotes` stores one like it): never
    // "18446744073709551615 session(s) behind".
    let sb = Sandbox::with_sample("");
    let out = sb.run_at("2026-05-01T15:00:00Z", &["--json", "health"]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("json");
    let bars = v["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|c| c["name"] == "bars")
        .cloned()
        .expect("bars");
    assert_eq!(bars["status"], "ok", "{bars}");
    assert!(
        !bars["detail"]
            .as_str()
            .expect("d")
            .contains("18446744073709551615")
    );
}

#[test]
fn the_trading_slot_runs_the_phase_of_the_config_and_bad_schedule_keys_are_named() {
    let sb = Sandbox::empty("phase: paper\n");
    let out = sb.run(&["schedule", "print", "--cron"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stdout(&out).contains("--slot trade paper >>"),
        "{}",
        stdout(&out)
    );
    let sb = Sandbox::empty("schedule:\n  late_tolerance_minutes: 500\n  validate_minutes: 10\n");
    let out = sb.run(&["schedule", "print", "--cron"]);
    assert_eq!(code(&out), 2);
    let err = stderr(&out);
    assert!(
        err.contains("schedule.late_tolerance_minutes = 500: must be between 0 and 120"),
        "{err}"
    );
    assert!(
        err.contains("schedule.validate_minutes = 10: must be after post_close_fetch_minutes (20)"),
        "{err}"
    );
}
