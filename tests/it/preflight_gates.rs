//! Preflight: one test per gate that can fail. Each starts from the sample sandbox, on
//! which preflight passes, breaks exactly one thing, and checks that preflight exits 3
//! with exactly that gate failed, that the gate's detail names the culprit, and that the
//! NO-GO verdict is recorded in `state/state.json` and `ledger/preflight.parquet`.
//!
//! `trading_day` and `config` never fail as gates: a non-trading day exits 0 and an invalid
//! config exits 2 before any gate runs; both are tested here too, and neither records anything.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Command, Output};

use polars::prelude::DataFrame;
use serde_json::{Value, json};
use trader::data::store::BarStore;
use trader::model::Bar;

use crate::common::{Sandbox, code, stderr, stdout, table, text_column};

const DATE: &str = "2026-05-01";
/// 15:50 in New York on `DATE`: the instant every run here happens at.
const NOW: &str = "2026-05-01T19:50:00Z";
const KEYS: [&str; 2] = ["APCA_API_KEY_ID", "APCA_API_SECRET_KEY"];
/// Config extra that makes the data source remote.
const ALPACA: &str = "data:\n  source: alpaca\n";

/// `trader --config <sandbox> --json preflight --date DATE` at `NOW`, with the Alpaca keys
/// removed from the inherited environment and `env` added.
fn preflight(sb: &Sandbox, env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_trader"));
    cmd.arg("--config")
        .arg(sb.config())
        .args(["--json", "preflight", "--date", DATE])
        .env("TRADER_NOW", NOW);
    for k in KEYS {
        cmd.env_remove(k);
    }
    cmd.envs(env.iter().copied()).output().expect("run trader")
}

/// The parsed verdict and the names of the failed gates.
fn verdict(out: &Output) -> (Value, Vec<String>) {
    let v: Value = serde_json::from_str(&stdout(out))
        .unwrap_or_else(|e| panic!("verdict is not JSON ({e}): {}{}", stdout(out), stderr(out)));
    let failed = v["gates"]
        .as_array()
        .expect("gates array")
        .iter()
        .filter(|g| g["pass"] == false)
        .map(|g| g["name"].as_str().expect("gate name").to_string())
        .collect();
    (v, failed)
}

/// Run preflight, which must pass: used to create the state before editing it.
fn passing_preflight(sb: &Sandbox) {
    let out = preflight(sb, &[]);
    let (v, failed) = verdict(&out);
    assert_eq!(code(&out), 0, "{v}");
    assert!(failed.is_empty(), "{v}");
}

/// Run preflight and check that `gate`, and only it, failed and that the verdict was
/// recorded; returns the gate's detail.
fn fails_alone(sb: &Sandbox, env: &[(&str, &str)], gate: &str) -> String {
    let out = preflight(sb, env);
    let (v, failed) = verdict(&out);
    assert_eq!(code(&out), 3, "NO-GO exits 3: {v}\n{}", stderr(&out));
    assert_eq!(v["pass"], false, "{v}");
    assert_eq!(failed, [gate], "exactly one gate fails: {v}");
    assert_recorded(sb, gate);
    v["gates"]
        .as_array()
        .expect("gates array")
        .iter()
        .find(|g| g["name"] == gate)
        .and_then(|g| g["detail"].as_str())
        .expect("detail of the failed gate")
        .to_string()
}

/// The state holds a blocked preflight for `DATE` naming `gate`, and the preflight ledger
/// holds the failed gate with a no-go verdict.
fn assert_recorded(sb: &Sandbox, gate: &str) {
    let state = read_state(sb);
    let rec = &state["jobs"][DATE]["preflight"];
    assert_ne!(rec["result"], "ok", "{rec}");
    assert_eq!(rec["result"], "blocked", "{rec}");
    assert_eq!(rec["detail"], format!("failed: {gate}"), "{rec}");

    let ledger = sb.path().join("ledger/preflight.parquet");
    let dates = trader::ledger::dates(&ledger).expect("preflight ledger");
    assert!(
        dates.iter().any(|d| d.to_string() == DATE),
        "no row of {DATE}: {dates:?}"
    );
    let df = table(&ledger);
    let rows = ledger_rows(&df);
    assert!(
        rows.iter()
            .any(|(check, pass, verdict)| check == gate && !pass && verdict == "no-go"),
        "no failed `{gate}` row with a no-go verdict: {rows:?}"
    );
}

/// (check, pass, verdict) of every ledger row.
fn ledger_rows(df: &DataFrame) -> Vec<(String, bool, String)> {
    let strs = |name: &str| text_column(df, name);
    let pass: Vec<bool> = df
        .column("pass")
        .and_then(|c| c.bool().cloned())
        .expect("pass")
        .iter()
        .map(|b| b.unwrap_or(false))
        .collect();
    strs("check")
        .into_iter()
        .zip(pass)
        .zip(strs("verdict"))
        .map(|((c, p), v)| (c, p, v))
        .collect()
}

fn state_path(sb: &Sandbox) -> PathBuf {
    sb.path().join("state/state.json")
}

fn read_state(sb: &Sandbox) -> Value {
    let bytes = std::fs::read(state_path(sb)).expect("state/state.json");
    serde_json::from_slice(&bytes).expect("state is JSON")
}

/// Edit state/state.json (created by an earlier run) as JSON.
fn edit_state(sb: &Sandbox, edit: impl FnOnce(&mut Value)) {
    let mut state = read_state(sb);
    edit(&mut state);
    let bytes = serde_json::to_vec_pretty(&state).expect("render state");
    std::fs::write(state_path(sb), bytes).expect("write state");
}

/// Record a successful fetch of `DATE` that finished at `finished_at`.
fn record_fetch(sb: &Sandbox, finished_at: &str) {
    edit_state(sb, |s| {
        s["jobs"][DATE]["fetch"] = json!({
            "job": "fetch",
            "started_at": finished_at,
            "finished_at": finished_at,
            "result": "ok",
            "detail": "recorded by the test",
        });
    });
}

/// Rewrite one symbol's bars in the sandbox's store.
fn edit_bars(sb: &Sandbox, symbol: &str, edit: impl FnOnce(&mut Vec<Bar>)) {
    let store = BarStore::new(&sb.path().join("bars"));
    let mut bars = store
        .read(symbol)
        .expect("read bars")
        .expect("symbol stored");
    edit(&mut bars);
    store
        .write_many(&BTreeMap::from([(symbol.to_string(), bars)]))
        .expect("write bars");
}

fn bar_of<'a>(bars: &'a mut [Bar], date: &str) -> &'a mut Bar {
    bars.iter_mut()
        .find(|b| b.date.to_string() == date)
        .unwrap_or_else(|| panic!("no bar of {date}"))
}

fn set_mode_0600(path: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).expect("chmod 600");
}

#[test]
fn fetch_today_fails_without_a_fetch_when_the_source_is_remote() {
    let sb = Sandbox::with_sample(ALPACA);
    let env = [
        ("APCA_API_KEY_ID", "test-key-id-3141"),
        ("APCA_API_SECRET_KEY", "test-secret-2718"),
    ];
    let detail = fails_alone(&sb, &env, "fetch_today");
    assert!(detail.contains(&format!("no fetch for {DATE}")), "{detail}");
    // The keys passed the secrets gate and were written nowhere.
    let out = preflight(&sb, &env);
    let written = [
        stdout(&out),
        stderr(&out),
        std::fs::read_to_string(state_path(&sb)).expect("state"),
        super::common::log_text(&sb),
    ];
    for (_, secret) in env {
        for w in &written {
            assert!(!w.contains(secret), "{secret} leaked: {w}");
        }
    }
}

/// Alpaca without keys fails `secrets`; a fetch is recorded in the state so that
/// `fetch_today` passes and `secrets` fails alone. Keys from a 0600 env file then pass it.
#[test]
fn secrets_fails_when_the_alpaca_keys_are_missing() {
    let sb = Sandbox::with_sample(&format!("env_file: secrets.env\n{ALPACA}"));
    let env_file = sb.path().join("secrets.env");
    std::fs::write(&env_file, "# no keys yet\n").expect("env file");
    set_mode_0600(&env_file);
    let out = preflight(&sb, &[]);
    let (v, failed) = verdict(&out);
    assert_eq!(failed, ["fetch_today", "secrets"], "{v}");
    record_fetch(&sb, "2026-05-01T19:40:00Z");
    let detail = fails_alone(&sb, &[], "secrets");
    for k in KEYS {
        assert!(detail.contains(k), "{detail}");
    }

    std::fs::write(
        &env_file,
        "APCA_API_KEY_ID=test-key-id\nAPCA_API_SECRET_KEY=test-secret\n",
    )
    .expect("env file");
    set_mode_0600(&env_file);
    let out = preflight(&sb, &[]);
    let (v, failed) = verdict(&out);
    assert_eq!(code(&out), 0, "keys from the env file pass: {v}");
    assert!(failed.is_empty(), "{v}");
}

#[test]
fn coverage_fails_when_a_symbol_lacks_the_day() {
    let sb = Sandbox::with_sample("");
    edit_bars(&sb, "TMF", |bars| {
        bars.retain(|b| b.date.to_string().as_str() < DATE)
    });
    let detail = fails_alone(&sb, &[], "coverage");
    assert!(detail.contains("4/5 symbols"), "{detail}");
    assert!(detail.contains("TMF (2026-04-30)"), "{detail}");
}

/// Provisional bars for the day, fetched 110 minutes ago with a 30-minute limit.
#[test]
fn freshness_fails_when_provisional_bars_are_old() {
    let sb = Sandbox::with_sample("data:\n  provisional_max_age_minutes: 30\n");
    passing_preflight(&sb);
    for sym in ["QQQ", "TLT", "TMF", "TMV", "TQQQ"] {
        edit_bars(&sb, sym, |bars| bar_of(bars, DATE).provisional = true);
    }
    record_fetch(&sb, "2026-05-01T18:00:00Z");
    let detail = fails_alone(&sb, &[], "freshness");
    assert!(detail.contains("110 min ago (limit 30)"), "{detail}");

    assert!(
        detail.contains("QQQ; TLT; TMF; TMV; TQQQ"),
        "names the symbols: {detail}"
    );

    // A fetch recorded after the check's time (a replay) is no evidence of freshness.
    record_fetch(&sb, "2026-05-01T21:00:00Z");
    let detail = fails_alone(&sb, &[], "freshness");
    assert!(detail.contains("after this check's time"), "{detail}");

    // The same bars fetched 10 minutes ago are fresh.
    record_fetch(&sb, "2026-05-01T19:40:00Z");
    let out = preflight(&sb, &[]);
    let (v, failed) = verdict(&out);
    assert_eq!(code(&out), 0, "{v}");
    assert!(failed.is_empty(), "{v}");
}

/// A bar file the store refuses fails the data gates with the store's message; the
/// preflight still records its NO-GO instead of stopping unrecorded.
#[test]
fn unreadable_bars_fail_coverage_and_data_quality_and_are_recorded() {
    let sb = Sandbox::with_sample("");
    std::fs::write(sb.path().join("bars/TLT.parquet"), b"not parquet").expect("corrupt");
    let out = preflight(&sb, &[]);
    let (v, failed) = verdict(&out);
    assert_eq!(code(&out), 3, "{v}");
    assert_eq!(failed, ["coverage", "data_quality"], "{v}");
    let detail = v["gates"]
        .as_array()
        .expect("gates")
        .iter()
        .find(|g| g["name"] == "data_quality")
        .and_then(|g| g["detail"].as_str())
        .expect("detail")
        .to_string();
    assert!(
        detail.contains("TLT unreadable") && detail.contains("TLT.parquet"),
        "{detail}"
    );
    let rec = &read_state(&sb)["jobs"][DATE]["preflight"];
    assert_eq!(rec["detail"], "failed: coverage, data_quality", "{rec}");
}

/// An OHLC-inconsistent bar (high below low) a few sessions back in one symbol.
#[test]
fn data_quality_fails_on_an_inconsistent_bar() {
    let sb = Sandbox::with_sample("");
    edit_bars(&sb, "TLT", |bars| {
        let b = bar_of(bars, "2026-04-28");
        b.high = b.low - 1.0;
    });
    let detail = fails_alone(&sb, &[], "data_quality");
    assert!(detail.contains("TLT ohlc: 2026-04-28"), "{detail}");
}

/// The last close 30 % above the one before, with no split or dividend on record.
#[test]
fn corporate_actions_fails_on_an_unexplained_jump() {
    let sb = Sandbox::with_sample("");
    edit_bars(&sb, "TQQQ", |bars| {
        let b = bar_of(bars, DATE);
        b.close *= 1.3;
        b.high = b.high.max(b.close);
    });
    let detail = fails_alone(&sb, &[], "corporate_actions");
    assert!(detail.contains("TQQQ 2026-05-01"), "{detail}");
    assert!(detail.contains("(limit 20%)"), "{detail}");
}

#[test]
fn broker_fails_on_an_unreadable_sim_account() {
    let sb = Sandbox::with_sample("");
    let sim = sb.path().join("state/sim");
    std::fs::create_dir_all(&sim).expect("mkdir state/sim");
    std::fs::write(sim.join("account.json"), "{ not json").expect("garbage");
    let detail = fails_alone(&sb, &[], "broker");
    assert!(detail.contains("state/sim/account.json"), "{detail}");
}

/// A state.json of the right shape with a negative position. Loading falls back to the
/// backup the first run wrote; the gate must still fail and name the file and the field.
#[test]
fn state_fails_on_a_semantically_invalid_state_file() {
    let sb = Sandbox::with_sample("");
    passing_preflight(&sb);
    edit_state(&sb, |s| {
        s["account"] = json!({
            "as_of": "2026-04-30",
            "broker": "sim",
            "cash_cents": 1_000_000,
            "positions": { "QQQ": -5 },
            "equity_cents": 1_000_000,
        });
    });
    let detail = fails_alone(&sb, &[], "state");
    assert!(detail.contains("state/state.json"), "{detail}");
    assert!(detail.contains("account.positions.QQQ = -5"), "{detail}");
}

#[test]
fn kill_switch_fails_while_the_file_exists() {
    let sb = Sandbox::with_sample("");
    std::fs::create_dir_all(sb.path().join("state")).expect("mkdir state");
    std::fs::write(sb.path().join("state/KILL"), "").expect("kill");
    let detail = fails_alone(&sb, &[], "kill_switch");
    assert!(detail.contains("state/KILL"), "{detail}");
}

#[test]
fn disk_fails_below_the_configured_minimum() {
    let sb = Sandbox::with_sample("health:\n  min_free_disk_mb: 1000000000000\n");
    let detail = fails_alone(&sb, &[], "disk");
    assert!(detail.contains("minimum 1000000000000 MiB"), "{detail}");
}

/// An invalid config stops preflight before any gate (exit 2) and records nothing.
#[test]
fn config_invalid_exits_2_before_any_gate() {
    let sb = Sandbox::with_sample("risk:\n  min_cash_pct: 150\n");
    let out = preflight(&sb, &[]);
    assert_eq!(code(&out), 2, "{}{}", stdout(&out), stderr(&out));
    assert!(
        stderr(&out).contains("trader.yaml: risk.min_cash_pct = 150: must be between 0 and 100"),
        "{}",
        stderr(&out)
    );
    assert!(stdout(&out).is_empty(), "no gate ran: {}", stdout(&out));
    assert!(!state_path(&sb).exists(), "no state is created");
    assert!(!sb.path().join("ledger/preflight.parquet").exists());
}

#[test]
fn non_trading_day_exits_0_and_records_nothing() {
    let sb = Sandbox::with_sample("");
    let out = sb.run(&["--json", "preflight", "--date", "2026-05-02"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stdout(&out).contains("2026-05-02 is not a trading day"),
        "{}",
        stdout(&out)
    );
    assert!(!state_path(&sb).exists(), "no state is created");
    assert!(!sb.path().join("ledger/preflight.parquet").exists());
}

/// On a trading phase the venue itself is asked: keys, account identity, calendar, assets
/// and buying power are gates; an account other than the recorded one is a NO-GO.
#[test]
fn broker_gates_ask_the_venue_of_the_trading_phase() {
    let sb =
        Sandbox::with_sample("phase: paper\nphase_override: { phase: paper, reason: \"test\" }\n");
    let out = preflight(&sb, &[]);
    let (v, failed) = verdict(&out);
    assert_eq!(code(&out), 0, "{v}");
    assert!(failed.is_empty(), "{v}");
    let names: Vec<&str> = v["gates"]
        .as_array()
        .expect("gates")
        .iter()
        .filter_map(|g| g["name"].as_str())
        .collect();
    for g in [
        "broker_account",
        "broker_calendar",
        "broker_assets",
        "buying_power",
    ] {
        assert!(names.contains(&g), "{g} missing: {names:?}");
    }
    edit_state(&sb, |s| {
        s["broker_accounts"] = json!({"paper": "PA-SOMEONE-ELSE"})
    });
    let detail = fails_alone(&sb, &[], "broker_account");
    assert!(detail.contains("recorded PA-SOMEONE-ELSE"), "{detail}");
}
