//! Alerts from jobs through a real SMTP server on 127.0.0.1 (`smtp_sink`): a preflight NO-GO
//! sends one message, repeats within `alerts.rate_limit_minutes` send nothing and the next
//! message carries their count, an unreachable server changes no exit code and leaves the
//! alert queued in the state for the next job, which delivers it once.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

use crate::common::{Sandbox, code, stderr, stdout};
use crate::smtp_sink::{Sink, closed_port};

const DATE: &str = "2026-05-01";
const T0: &str = "2026-05-01T19:50:00Z";
const KEYS: [(&str, &str); 2] = [
    ("APCA_API_KEY_ID", "test-key-id-3141"),
    ("APCA_API_SECRET_KEY", "test-secret-2718"),
];

/// A remote source and no fetch: preflight is NO-GO (fetch_today) on the sample store.
pub fn config(port: u16, email_extra: &str) -> String {
    format!(
        "data:\n  source: alpaca\nalerts:\n  rate_limit_minutes: 60\n  email:\n    host: 127.0.0.1\n    port: {port}\n    security: none\n    from: trader <trader@test.example>\n    to: [ops@test.example, second@test.example]\n    timeout_seconds: 2\n{email_extra}"
    )
}

/// `trader --config <sb> args…` at `now` with the Alpaca test keys and `env`.
pub fn run(sb: &Sandbox, now: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trader"))
        .arg("--config")
        .arg(sb.config())
        .args(args)
        .env("TRADER_NOW", now)
        .envs(KEYS)
        .envs(env.iter().copied())
        .output()
        .expect("run trader")
}

fn preflight(sb: &Sandbox, now: &str) -> Output {
    let out = run(sb, now, &["preflight", "--date", DATE], &[]);
    assert_eq!(
        code(&out),
        3,
        "NO-GO exits 3, alerts or not: {}{}",
        stdout(&out),
        stderr(&out)
    );
    out
}

pub fn state(sb: &Sandbox) -> Value {
    let text = std::fs::read_to_string(sb.path().join("state/state.json")).expect("state");
    serde_json::from_str(&text).expect("state JSON")
}

fn sink(dir: &Path, port: u16) -> Option<Sink> {
    Sink::start(dir, port, &[])
}

#[test]
fn a_no_go_sends_one_message_repeats_in_the_window_send_none_and_the_next_carries_the_count() {
    let mail = tempfile::tempdir().expect("tempdir");
    let Some(s) = sink(mail.path(), 0) else {
        return;
    };
    let sb = Sandbox::with_sample(&config(s.port, ""));

    preflight(&sb, T0);
    let got = s.messages();
    assert_eq!(got.len(), 1, "one message for one NO-GO");
    let m = &got[0];
    assert_eq!(
        m.subject(),
        format!("[trader] CRITICAL: preflight NO-GO for {DATE} (failed: fetch_today)")
    );
    let body = m.body();
    assert!(
        body.contains("fetch_today: no fetch for 2026-05-01"),
        "{body}"
    );
    assert!(body.contains("key: preflight-no-go"), "{body}");
    assert_eq!(
        m.meta["rcpt_tos"],
        serde_json::json!(["ops@test.example", "second@test.example"])
    );
    assert_eq!(m.meta["mail_from"], "trader@test.example");
    assert_eq!(
        state(&sb)["alerts"]["sent"]["preflight-no-go"]["last_sent"],
        T0
    );

    // Two more NO-GOs within the hour: nothing sent, both counted.
    for now in ["2026-05-01T20:00:00Z", "2026-05-01T20:40:00Z"] {
        let out = preflight(&sb, now);
        assert!(
            stderr(&out).contains("alert preflight-no-go held back"),
            "{}",
            stderr(&out)
        );
    }
    assert_eq!(s.messages().len(), 1, "nothing sent within the window");
    assert_eq!(
        state(&sb)["alerts"]["sent"]["preflight-no-go"]["suppressed"],
        2
    );

    // After the window: one message that says two were held back.
    preflight(&sb, "2026-05-01T20:51:00Z");
    let got = s.messages();
    assert_eq!(got.len(), 2);
    assert!(
        got[1].subject().ends_with("(+2 repeats held back)"),
        "{}",
        got[1].subject()
    );
    assert!(
        got[1].body().contains(
            "2 more alert(s) with this key were held back since the message of 2026-05-01T19:50:00Z"
        ),
        "{}",
        got[1].body()
    );
    let book = &state(&sb)["alerts"];
    assert_eq!(book["sent"]["preflight-no-go"]["suppressed"], 0);
    assert_eq!(
        book["sent"]["preflight-no-go"]["last_sent"],
        "2026-05-01T20:51:00Z"
    );
}

#[test]
fn smtp_down_keeps_the_exit_code_queues_the_alert_and_the_next_job_delivers_it_once() {
    let mail = tempfile::tempdir().expect("tempdir");
    let port = closed_port();
    let sb = Sandbox::with_sample(&config(port, ""));

    let started = std::time::Instant::now();
    let out = preflight(&sb, T0);
    assert!(
        started.elapsed().as_secs() < 20,
        "a dead server must not hold the job"
    );
    let err = stderr(&out);
    assert!(
        err.contains("alert preflight-no-go not delivered, queued in the state for the next job")
            && err.contains(&format!("127.0.0.1:{port}")),
        "{err}"
    );
    let queue = state(&sb)["alerts"]["queue"].clone();
    assert_eq!(queue.as_array().map(Vec::len), Some(1), "{queue}");
    assert_eq!(queue[0]["key"], "preflight-no-go");
    assert_eq!(queue[0]["attempts"], 1);
    assert!(
        state(&sb)["alerts"]["sent"]
            .get("preflight-no-go")
            .is_none()
    );

    // The server comes back; the next job (one that raises nothing) delivers it.
    let Some(s) = sink(mail.path(), port) else {
        return;
    };
    let out = run(&sb, "2026-05-01T20:05:00Z", &["risk", "--date", DATE], &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let got = s.messages();
    assert_eq!(got.len(), 1, "the queued alert, once");
    assert!(got[0].subject().contains("preflight NO-GO for 2026-05-01"));
    assert!(
        got[0]
            .body()
            .contains("Delivery of this message failed 1 time(s) before"),
        "{}",
        got[0].body()
    );
    assert!(
        got[0]
            .body()
            .contains("raised by: trader preflight at 2026-05-01T19:50:00Z")
    );
    let book = &state(&sb)["alerts"];
    assert_eq!(book["queue"], serde_json::json!([]));
    assert_eq!(
        book["sent"]["preflight-no-go"]["last_sent"],
        "2026-05-01T20:05:00Z"
    );

    // And never again.
    let out = run(&sb, "2026-05-01T20:06:00Z", &["risk", "--date", DATE], &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(s.messages().len(), 1);
}

#[test]
fn a_server_that_never_answers_is_given_up_on_within_the_timeout() {
    // Accepts the connection and says nothing.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let hold = std::thread::spawn(move || {
        let mut held = Vec::new();
        for c in listener.incoming().take(2) {
            held.extend(c.ok());
        }
        std::thread::sleep(std::time::Duration::from_secs(8));
        drop(held);
    });
    let sb = Sandbox::with_sample(&config(port, ""));
    let started = std::time::Instant::now();
    let out = preflight(&sb, T0);
    let took = started.elapsed();
    assert!(
        took.as_secs() < 7,
        "timeout_seconds: 2 bounds the send, took {took:?}"
    );
    assert!(stderr(&out).contains("timed out"), "{}", stderr(&out));
    assert_eq!(state(&sb)["alerts"]["queue"][0]["key"], "preflight-no-go");
    drop(hold);
}

#[test]
fn a_failed_job_alerts_with_its_exit_code_and_alerts_not_configured_change_nothing() {
    let mail = tempfile::tempdir().expect("tempdir");
    let Some(s) = sink(mail.path(), 0) else {
        return;
    };
    // An empty store: dry-run without a preflight is blocked (exit 3) and says why.
    let sb = Sandbox::with_sample(&config(s.port, ""));
    let out = run(&sb, T0, &["dry-run", "--date", DATE], &[]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    let got = s.messages();
    assert_eq!(got.len(), 1);
    assert_eq!(
        got[0].subject(),
        "[trader] WARNING: trader dry-run exited 3 (blocked by a gate or a missing prerequisite)"
    );
    assert!(
        got[0].body().contains("no preflight for 2026-05-01"),
        "{}",
        got[0].body()
    );

    // The kill switch found by a job alerts (warning), beside the NO-GO it causes.
    std::fs::write(sb.path().join("state/KILL"), "").expect("kill");
    preflight(&sb, "2026-05-01T19:51:00Z");
    let got = s.messages();
    let subjects: Vec<String> = got[1..].iter().map(|m| m.subject()).collect();
    assert_eq!(subjects.len(), 2, "{subjects:?}");
    assert!(
        subjects[0].starts_with(
            "[trader] WARNING: kill switch present: `trader preflight` sends no order"
        ),
        "{subjects:?}"
    );
    assert!(
        subjects[1].contains("failed: fetch_today, kill_switch"),
        "{subjects:?}"
    );

    // Without an alerts section the same runs behave as before and the state has no book.
    let plain = Sandbox::with_sample("data:\n  source: alpaca\n");
    let out = run(&plain, T0, &["preflight", "--date", DATE], &[]);
    assert_eq!(code(&out), 3);
    assert!(state(&plain).get("alerts").is_none());
}

#[test]
fn a_source_down_a_critical_health_and_a_recovered_state_each_alert() {
    let mail = tempfile::tempdir().expect("tempdir");
    let Some(s) = sink(mail.path(), 0) else {
        return;
    };
    let http = "{ timeout_ms: 500, connect_timeout_ms: 300, max_attempts: 2, backoff_base_ms: 1, backoff_max_ms: 2 }";
    let extra = config(s.port, "").replace(
        "data:\n  source: alpaca\n",
        &format!(
            "data:\n  source: alpaca\n  alpaca:\n    base_url: http://127.0.0.1:{}\n    http: {http}\n",
            closed_port()
        ),
    );
    let sb = Sandbox::with_sample(&extra);

    // A data source that is down: exit 5 and a critical alert naming the job and the error.
    let out = run(&sb, T0, &["fetch"], &[]);
    assert_eq!(code(&out), 5, "{}", stderr(&out));
    let got = s.messages();
    assert_eq!(got.len(), 1, "{}", stderr(&out));
    assert!(
        got[0].subject().starts_with(
            "[trader] CRITICAL: trader fetch exited 5 (a data source or broker is unavailable"
        ),
        "{}",
        got[0].subject()
    );
    assert!(got[0].body().contains("Error: "), "{}", got[0].body());
    assert!(
        !got[0].raw.contains("test-secret-2718"),
        "the key is masked"
    );

    // A preflight leaves backups; then state.json is damaged.
    preflight(&sb, T0);
    assert_eq!(s.messages().len(), 2);
    std::fs::write(sb.path().join("state/state.json"), "{ not json").expect("damage");

    let out = run(&sb, "2026-05-01T19:55:00Z", &["health"], &[]);
    assert_eq!(code(&out), 3, "{}", stdout(&out));
    let got = s.messages();
    assert_eq!(got.len(), 3, "{}", stderr(&out));
    assert!(
        got[2]
            .subject()
            .starts_with("[trader] CRITICAL: health critical: state"),
        "{}",
        got[2].subject()
    );

    // The next job recovers the state from a backup: a critical alert says so.
    let out = preflight(&sb, "2026-05-01T19:56:00Z");
    let got = s.messages();
    let subjects: Vec<String> = got[3..].iter().map(|m| m.subject()).collect();
    assert_eq!(
        subjects,
        ["[trader] CRITICAL: state recovered from a backup: check the latest runs"],
        "the NO-GO is within its window: {}",
        stderr(&out)
    );
    assert!(
        got[3].body().contains("continued from backup"),
        "{}",
        got[3].body()
    );
}

#[test]
fn alerts_below_min_severity_are_only_logged() {
    let mail = tempfile::tempdir().expect("tempdir");
    let Some(s) = sink(mail.path(), 0) else {
        return;
    };
    let extra = config(s.port, "").replace("alerts:\n", "alerts:\n  min_severity: critical\n");
    let sb = Sandbox::with_sample(&extra);
    // Exit 3 without a preflight is a warning: not sent.
    let out = run(&sb, T0, &["-v", "dry-run", "--date", DATE], &[]);
    assert_eq!(code(&out), 3);
    assert!(
        stderr(&out)
            .contains("alert job-exit-3-dry-run (warning) below alerts.min_severity: not sent"),
        "{}",
        stderr(&out)
    );
    assert!(s.messages().is_empty());
    // A NO-GO is critical: sent.
    preflight(&sb, T0);
    assert_eq!(s.messages().len(), 1);
}

/// What `trader-failure@.service` runs when a scheduled unit fails (systemd `OnFailure=`): one
/// critical message naming the unit and its exit status, deduplicated per unit.
#[test]
fn a_failed_scheduled_unit_sends_one_critical_alert_naming_it() {
    let mail = tempfile::tempdir().expect("tempdir");
    let Some(s) = sink(mail.path(), 0) else {
        return;
    };
    let sb = Sandbox::with_sample(&config(s.port, ""));
    // An installed setup has a state (the dedup book lives there): a NO-GO creates it here.
    preflight(&sb, "2026-05-01T19:40:00Z");
    let before = s.messages().len();
    let args = [
        "alert",
        "job-failed",
        "--unit",
        "trader-trade@demo.service",
        "--exit-status",
        "3",
    ];
    let out = run(&sb, T0, &args, &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let got = s.messages();
    let subjects: Vec<String> = got.iter().map(|m| m.subject()).collect();
    assert_eq!(got.len(), before + 1, "{subjects:?}");
    let m = &got[before];
    assert_eq!(
        m.subject(),
        "[trader] CRITICAL: trader-trade@demo.service failed (exit 3)"
    );
    assert!(m.body().contains("journalctl -u trader-trade@demo.service"));
    // The same unit failing again within the window is held back, not resent.
    let out = run(&sb, "2026-05-01T19:55:00Z", &args, &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(s.messages().len(), before + 1, "deduplicated per unit");
}
