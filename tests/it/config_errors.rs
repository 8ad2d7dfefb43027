//! Bad configs and their exact messages: file, key path, value, allowed range.

use std::os::unix::fs::PermissionsExt;

fn load_err(body: &str) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path().join("bad.yaml");
    std::fs::write(&p, body).expect("write");
    match trader::config::load(&p) {
        Ok(_) => panic!("config should be rejected:\n{body}"),
        Err(e) => e.to_string().replace(&p.display().to_string(), "bad.yaml"),
    }
}

#[test]
fn table_of_bad_configs() {
    let cases: &[(&str, &str)] = &[
        (
            "risk:\n  min_cash_pct: 150\n",
            "bad.yaml: risk.min_cash_pct = 150: must be between 0 and 100",
        ),
        (
            "account:\n  initial_capital: 0\n",
            "bad.yaml: account.initial_capital = 0: must be between 1 and 1000000000000",
        ),
        (
            "portfolio:\n  slippage_pct: -1\n",
            "bad.yaml: portfolio.slippage_pct = -1: must be between 0 and 10",
        ),
        (
            "strategy:\n  params:\n    leverage_scalar: 2\n",
            "bad.yaml: strategy.params.leverage_scalar = 2: must be between 0.5 and 1.5",
        ),
        (
            "strategy:\n  name: momentum\n",
            "bad.yaml: strategy.name = momentum: must be hierarchical_adaptive_v3_5b",
        ),
        (
            "state:\n  backups: 0\n",
            "bad.yaml: state.backups = 0: must be between 1 and 1000",
        ),
        (
            "data:\n  extra_symbols: [spy]\n",
            "bad.yaml: data.extra_symbols[0] = \"spy\": must be a symbol (1-12 characters A-Z, 0-9, '.' or '-', starting with a letter or digit, e.g. QQQ or BRK.B): lower case (write SPY)",
        ),
        (
            "strategy:\n  params:\n    signal_symbol: ../../../../tmp/x\n",
            "bad.yaml: strategy.params.signal_symbol = \"../../../../tmp/x\": must be a symbol (1-12 characters A-Z, 0-9, '.' or '-', starting with a letter or digit, e.g. QQQ or BRK.B): '/' is not allowed",
        ),
        (
            "risk:\n  restricted_symbols:\n    symbols: [tqqq, \"A B\"]\n",
            "bad.yaml: risk.restricted_symbols.symbols[1] = \"A B\": must be a symbol (1-12 characters A-Z, 0-9, '.' or '-', starting with a letter or digit, e.g. QQQ or BRK.B): ' ' is not allowed",
        ),
    ];
    for (body, want) in cases {
        assert_eq!(load_err(body), *want, "config:\n{body}");
    }
}

#[test]
fn unknown_keys_and_loose_booleans_are_rejected() {
    let e = load_err("risk:\n  min_cash_pc: 5\n");
    assert!(
        e.starts_with("bad.yaml: ") && e.contains("min_cash_pc"),
        "{e}"
    );
    let e = load_err("strategy:\n  params:\n    allow_treasury: yes\n");
    assert!(
        e.starts_with("bad.yaml: ") && e.contains("allow_treasury") || e.contains("bool"),
        "{e}"
    );
}

#[test]
fn env_file_must_be_private() {
    let dir = tempfile::tempdir().expect("tempdir");
    let env = dir.path().join("trader.env");
    std::fs::write(&env, "TRADER_TEST_CAP=25000\n").expect("write env");
    std::fs::set_permissions(&env, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let cfg = dir.path().join("c.yaml");
    std::fs::write(
        &cfg,
        "env_file: trader.env\naccount:\n  initial_capital: ${TRADER_TEST_CAP}\n",
    )
    .expect("write");
    let e = trader::config::load(&cfg)
        .expect_err("0644 refused")
        .to_string();
    assert!(e.contains("has mode 0644") && e.contains("0600"), "{e}");
    std::fs::set_permissions(&env, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let (c, _) = trader::config::load(&cfg).expect("0600 accepted");
    assert_eq!(c.account.initial_capital, 25_000.0);
}

#[test]
fn relative_paths_resolve_against_root_not_the_working_directory() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("config")).expect("mkdir");
    let cfg = dir.path().join("config/t.yaml");
    std::fs::write(&cfg, "root: ..\n").expect("write");
    let (c, _) = trader::config::load(&cfg).expect("loads");
    assert_eq!(c.paths.state_dir, dir.path().join("config/../state"));
}

#[test]
fn invalid_config_exits_2_from_the_cli() {
    let sb = crate::common::Sandbox::empty("risk:\n  min_cash_pct: 150\n");
    let out = sb.run(&["preflight"]);
    assert_eq!(crate::common::code(&out), 2);
    assert!(
        crate::common::stderr(&out).contains("risk.min_cash_pct = 150: must be between 0 and 100")
    );
}
