//! Hostile configs and leaky servers (#18 items 1 and 3): secrets never shown, credentials never
//! sent across a redirect, nonsense refused with exit 2 naming the file, the key and the value,
//! and nothing created on the way.

use std::process::{Command, Output};

use crate::common::{Sandbox, code, stderr, stdout};
use crate::http_double::{HttpDouble, Reply};

const KEY_ID: &str = "PKHOSTILE0000KEYID";
const SECRET: &str = "hostile-sEcReT-value-0123456789";

/// `trader --config CONFIG args…` at the sample's date with the Alpaca keys set.
fn run_with_keys(config: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trader"))
        .arg("--config")
        .arg(config)
        .args(args)
        .env("TRADER_NOW", "2022-03-10T03:00:00Z")
        .env("APCA_API_KEY_ID", KEY_ID)
        .env("APCA_API_SECRET_KEY", SECRET)
        .output()
        .expect("run trader")
}

fn alpaca_sandbox(base: &str) -> Sandbox {
    Sandbox::empty(&format!(
        "data:\n  source: alpaca\n  history_start: 2022-02-01\n  alpaca:\n    base_url: {base}\n    \
         http: {{ timeout_ms: 2000, connect_timeout_ms: 500, max_attempts: 2, backoff_base_ms: 1, \
         backoff_max_ms: 2, min_interval_ms: 0, concurrency: 1 }}\n"
    ))
}

fn fetch(sb: &Sandbox) -> Output {
    run_with_keys(
        &sb.config(),
        &["fetch", "--source", "alpaca", "--symbols", "AAPL"],
    )
}

/// Every text the run printed or wrote: stdout, stderr, the log, the state, the ledgers.
fn everything_written(sb: &Sandbox, out: &Output) -> String {
    let mut all = stdout(out) + &stderr(out);
    for f in walk(sb.path()) {
        if let Ok(bytes) = std::fs::read(&f) {
            all.push_str(&String::from_utf8_lossy(&bytes));
        }
    }
    all
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

#[test]
fn an_error_body_that_echoes_the_keys_is_masked_everywhere() {
    let body =
        format!("{{\"message\":\"forbidden: key {KEY_ID} with secret {SECRET} is not entitled\"}}");
    let server = HttpDouble::scripted(vec![Reply::json(403, body)]);
    let sb = alpaca_sandbox(&server.base_url());
    let out = fetch(&sb);
    let err = stderr(&out);
    assert_eq!(code(&out), 5, "{err}");
    assert!(
        err.contains("forbidden: key *** with secret *** is not"),
        "{err}"
    );
    let log = super::common::log_text(&sb);
    assert!(log.contains("forbidden: key ***"), "{log}");
    let all = everything_written(&sb, &out);
    assert!(
        !all.contains(SECRET) && !all.contains(KEY_ID),
        "a key leaked"
    );
    // The request itself did carry the keys: masking is for what leaves, not what is sent.
    assert_eq!(
        server.requests()[0].header("APCA-API-SECRET-KEY"),
        Some(SECRET)
    );
}

#[test]
fn a_redirect_to_another_port_never_receives_the_keys() {
    let elsewhere = HttpDouble::scripted(vec![Reply::json(200, "{\"bars\":{}}")]);
    let target = format!("{}/v2/stocks/bars?symbols=AAPL", elsewhere.base_url());
    let server = HttpDouble::scripted(vec![Reply::json(302, "").header("Location", &target)]);
    let sb = alpaca_sandbox(&server.base_url());
    let out = fetch(&sb);
    let err = stderr(&out);
    assert_eq!(code(&out), 5, "{err}");
    assert!(
        err.contains(&format!(
            "HTTP 302 redirect to {} refused: credentials are never sent to another origin",
            elsewhere.base_url()
        )),
        "{err}"
    );
    assert!(
        elsewhere.requests().is_empty(),
        "the other origin was asked"
    );
    assert_eq!(
        server.requests().len(),
        1,
        "a refused redirect is not retried"
    );
    assert!(!walk(&sb.path().join("bars")).iter().any(|p| p.exists()));
}

#[test]
fn a_secret_expanded_into_the_config_is_never_shown() {
    let sb = Sandbox::empty("data:\n  alpaca:\n    feed: ${APCA_API_SECRET_KEY}\n");
    let out = run_with_keys(&sb.config(), &["preflight"]);
    let err = stderr(&out);
    assert_eq!(code(&out), 2, "{err}");
    assert!(err.contains("data.alpaca.feed (line"), "{err}");
    assert!(err.contains("unknown variant `***`"), "{err}");
    assert!(!everything_written(&sb, &out).contains(SECRET));
}

/// A config the CLI must refuse with exit 2 and a message containing `want`.
fn refused(extra: &str, args: &[&str], want: &str) {
    let sb = Sandbox::empty(extra);
    let out = sb.run(args);
    let err = stderr(&out);
    assert_eq!(code(&out), 2, "config:\n{extra}\nstderr:\n{err}");
    assert!(
        err.contains(want),
        "config:\n{extra}\nwant: {want}\nstderr:\n{err}"
    );
    assert_eq!(
        err.matches("trader: error:").count(),
        1,
        "one error line: {err}"
    );
}

#[test]
fn nonsense_values_are_refused_at_their_key_path() {
    let pre = &["preflight", "--date", "2026-05-01"][..];
    refused(
        "strategy:\n  history_start: 2030-01-01\n",
        pre,
        "strategy.history_start = 2030-01-01: must be before today (2026-05-01)",
    );
    refused(
        "data:\n  history_start: 2027-01-01\n",
        pre,
        "data.history_start = 2027-01-01: must be before today",
    );
    refused(
        "risk:\n  max_gross_leverage:\n    enabled: \"true\"\n",
        pre,
        "risk.max_gross_leverage.enabled (line 10): invalid type: string \"true\", expected a boolean",
    );
    refused(
        "risk:\n  min_cash_pct: abc\n",
        pre,
        "risk.min_cash_pct (line 9): invalid type: string \"abc\", expected f64",
    );
    refused(
        "risk:\n  min_cash_pct: .nan\n",
        pre,
        "risk.min_cash_pct (line 9): invalid type: string \".nan\"",
    );
    refused(
        "risk:\n  min_cash_pct: 1e300\n",
        pre,
        "risk.min_cash_pct = 1e300: must be between 0 and 100",
    );
    refused(
        "account:\n  initial_capital: 1e40\n",
        pre,
        "account.initial_capital = 1e40: must be between",
    );
    refused(
        "strategy:\n  params:\n    bul: QQQ\n",
        pre,
        "strategy.params.bul (line 10): unknown field `bul`",
    );
    refused(
        "strategy:\n  params:\n    bull: QQQ\n",
        pre,
        "strategy.params.bull = QQQ: must be different from the other tradables (core is QQQ too)",
    );
    refused(
        "data:\n  alpaca:\n    base_url: ftp://example.com\n",
        &["fetch", "--source", "alpaca", "--symbols", "AAPL"],
        "data.alpaca.base_url = ftp://example.com: must be an http(s) URL, not ftp://",
    );
    refused(
        "data:\n  yahoo:\n    base_url: http://user:pw@127.0.0.1:1\n",
        pre,
        "data.yahoo.base_url = http://user:pw@127.0.0.1:1: must not carry credentials",
    );
}

#[test]
fn an_empty_config_creates_nothing_and_says_so() {
    let dir = tempfile::tempdir().expect("tempdir");
    for body in ["", "# only a comment\n\n"] {
        let cfg = dir.path().join("empty.yaml");
        std::fs::write(&cfg, body).expect("write");
        let out = run_with_keys(&cfg, &["preflight"]);
        let err = stderr(&out);
        assert_eq!(code(&out), 2, "{err}");
        assert!(err.contains("empty.yaml: the file is empty"), "{err}");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .expect("list")
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(names, vec!["empty.yaml"], "nothing else is created");
    }
}

#[test]
fn a_root_that_does_not_exist_is_refused_not_created() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("no/such/root");
    let cfg = dir.path().join("c.yaml");
    std::fs::write(&cfg, format!("root: {}\n", missing.display())).expect("write");
    let out = run_with_keys(&cfg, &["preflight"]);
    let err = stderr(&out);
    assert_eq!(code(&out), 2, "{err}");
    assert!(
        err.contains(&format!(
            "root = {}: must be an existing directory",
            missing.display()
        )),
        "{err}"
    );
    assert!(!dir.path().join("no").exists(), "root was created");
}

#[test]
fn a_missing_config_names_its_cause_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = run_with_keys(&dir.path().join("nope.yaml"), &["preflight"]);
    let err = stderr(&out);
    assert_eq!(code(&out), 2, "{err}");
    assert_eq!(err.matches("No such file or directory").count(), 1, "{err}");
}

#[test]
fn a_state_path_that_is_not_a_directory_is_a_setup_error_not_a_held_lock() {
    let sb = Sandbox::with_sample("");
    std::fs::write(sb.path().join("state"), "a file").expect("write");
    let out = sb.run(&["preflight", "--date", "2026-05-01"]);
    let err = stderr(&out);
    assert_eq!(code(&out), 2, "{err}");
    assert!(err.contains("paths.state_dir = ") && err.contains("is not a directory"));

    let sb = Sandbox::with_sample("");
    std::fs::create_dir_all(sb.path().join("state/trader.lock")).expect("mkdir");
    let out = sb.run(&["preflight", "--date", "2026-05-01"]);
    let err = stderr(&out);
    assert_eq!(code(&out), 2, "{err}");
    assert!(err.contains("cannot open lock file") && err.contains("Is a directory"));
    assert_eq!(err.matches("Is a directory").count(), 1, "{err}");
}
