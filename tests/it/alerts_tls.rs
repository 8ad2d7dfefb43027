//! `trader alert test` against a real SMTP server on 127.0.0.1: it prints the server's
//! answer (code and text), exits 5 when the server refuses or is unreachable and 2 when alerts
//! are not configured; STARTTLS with AUTH and implicit TLS with a CA the test makes; the
//! password never reaches stdout, stderr, the log or the state.

use crate::alerts::{config, run, state};
use crate::common::{Sandbox, code, stderr, stdout};
use crate::smtp_sink::{Sink, closed_port, make_certs};

const T0: &str = "2026-05-01T19:50:00Z";
const PASSWORD: &str = "s3cret-smtp-pw-7741";

#[test]
fn alert_test_prints_the_servers_answer_and_exit_codes_say_what_happened() {
    let mail = tempfile::tempdir().expect("tempdir");
    let Some(s) = Sink::start(mail.path(), 0, &[]) else {
        return;
    };
    let sb = Sandbox::with_sample(&config(s.port, ""));
    let out = run(&sb, T0, &["alert", "test"], &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains(&format!(
            "test message sent to ops@test.example, second@test.example via 127.0.0.1:{} (none)",
            s.port
        )),
        "{text}"
    );
    assert!(
        text.contains("server answered: 250 2.0.0 Ok: queued as test-1"),
        "{text}"
    );
    let got = s.messages();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].subject(), "[trader] INFO: test message");
    // JSON carries the code and text apart.
    let out = run(&sb, T0, &["--json", "alert", "test"], &[]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("json");
    assert_eq!(
        (v["code"].as_str(), v["text"].as_str()),
        (Some("250"), Some("2.0.0 Ok: queued as test-2"))
    );

    // A server that refuses: exit 5 with its code and text.
    let refused_dir = tempfile::tempdir().expect("tempdir");
    let Some(r) = Sink::start(refused_dir.path(), 0, &["--refuse"]) else {
        return;
    };
    let sb = Sandbox::with_sample(&config(r.port, ""));
    let out = run(&sb, T0, &["alert", "test"], &[]);
    assert_eq!(code(&out), 5, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("the server refused: permanent error (554): 5.7.1 Rejected by the test sink"),
        "{err}"
    );

    // Nobody listening: exit 5 naming the server.
    let port = closed_port();
    let sb = Sandbox::with_sample(&config(port, ""));
    let out = run(&sb, T0, &["alert", "test"], &[]);
    assert_eq!(code(&out), 5, "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("SMTP 127.0.0.1:{port} (none)")),
        "{}",
        stderr(&out)
    );

    // Not configured, or switched off: exit 2.
    let sb = Sandbox::with_sample("");
    let out = run(&sb, T0, &["alert", "test"], &[]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("alerts are not configured"),
        "{}",
        stderr(&out)
    );
    let sb = Sandbox::with_sample(&config(port, "    enabled: false\n"));
    let out = run(&sb, T0, &["alert", "test"], &[]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("alerts.email.enabled = false"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn plain_smtp_to_a_remote_host_is_a_config_error() {
    let sb = Sandbox::with_sample(
        "alerts:\n  email:\n    host: smtp.example.com\n    security: none\n    from: t@example.com\n    to: [o@example.com]\n",
    );
    let out = run(&sb, T0, &["alert", "test"], &[]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains(
            "alerts.email.security = none: plain SMTP is allowed only to a loopback host"
        ),
        "{}",
        stderr(&out)
    );
}

fn tls_config(port: u16, security: &str, ca: &std::path::Path, extra: &str) -> String {
    config(port, "").replace("security: none", &format!("security: {security}"))
        + &format!("    ca_file: {}\n{extra}", ca.display())
}

#[test]
fn starttls_with_auth_and_implicit_tls_are_used_and_the_password_is_never_written() {
    let certs = tempfile::tempdir().expect("tempdir");
    let Some((ca, cert, key)) = make_certs(certs.path()) else {
        return;
    };
    let (cert, key) = (cert.display().to_string(), key.display().to_string());
    let mail = tempfile::tempdir().expect("tempdir");
    let Some(s) = Sink::start(
        mail.path(),
        0,
        &["--starttls", &cert, &key, "--auth", "alerts-user", PASSWORD],
    ) else {
        return;
    };
    let creds = "    username_env: TRADER_SMTP_USER\n    password_env: TRADER_SMTP_PASSWORD\n";
    let sb = Sandbox::with_sample(&tls_config(s.port, "starttls", &ca, creds));
    let env = [
        ("TRADER_SMTP_USER", "alerts-user"),
        ("TRADER_SMTP_PASSWORD", PASSWORD),
    ];
    let out = run(&sb, T0, &["alert", "test"], &env);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stdout(&out).contains("server answered: 250"),
        "{}",
        stdout(&out)
    );
    let m = &s.messages()[0];
    assert_eq!(m.meta["tls"], true, "STARTTLS happened: {}", m.meta);
    assert_eq!(m.meta["authenticated"], true);
    assert_eq!(m.meta["login"], "alerts-user");

    // A NO-GO through the same server, then a wrong password: the password is in no output.
    let mut written = vec![stdout(&out), stderr(&out)];
    let out = run(&sb, T0, &["preflight", "--date", "2026-05-01"], &env);
    assert_eq!(code(&out), 3);
    assert_eq!(s.messages().len(), 2, "{}", stderr(&out));
    written.extend([stdout(&out), stderr(&out)]);
    let wrong = [
        ("TRADER_SMTP_USER", "alerts-user"),
        ("TRADER_SMTP_PASSWORD", "wrong-password-99"),
    ];
    let out = run(&sb, T0, &["alert", "test"], &wrong);
    assert_eq!(code(&out), 5, "refused AUTH: {}", stderr(&out));
    assert!(stderr(&out).contains("(535)"), "{}", stderr(&out));
    written.extend([stdout(&out), stderr(&out)]);
    written.push(crate::common::log_text(&sb));
    written.push(state(&sb).to_string());
    for w in &written {
        assert!(!w.contains(PASSWORD), "password leaked: {w}");
    }

    // Without the credential variable: a setup error (exit 2), nothing sent.
    let out = run(&sb, T0, &["alert", "test"], &[("TRADER_SMTP_PASSWORD", "")]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("alerts.email.password_env = TRADER_SMTP_PASSWORD: not set"),
        "{}",
        stderr(&out)
    );

    // STARTTLS required but the server does not offer it: refused before any credential.
    let plain_dir = tempfile::tempdir().expect("tempdir");
    let Some(p) = Sink::start(plain_dir.path(), 0, &[]) else {
        return;
    };
    let sb2 = Sandbox::with_sample(&tls_config(p.port, "starttls", &ca, creds));
    let out = run(&sb2, T0, &["alert", "test"], &env);
    assert_eq!(code(&out), 5, "{}", stderr(&out));
    assert!(p.messages().is_empty());

    // Implicit TLS; and a certificate the client does not trust is refused.
    let tls_dir = tempfile::tempdir().expect("tempdir");
    let Some(t) = Sink::start(tls_dir.path(), 0, &["--tls", &cert, &key]) else {
        return;
    };
    let sb3 = Sandbox::with_sample(&tls_config(t.port, "tls", &ca, ""));
    let out = run(&sb3, T0, &["alert", "test"], &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(t.messages()[0].meta["tls"], true);
    let untrusted = config(t.port, "").replace("security: none", "security: tls");
    let sb4 = Sandbox::with_sample(&untrusted);
    let out = run(&sb4, T0, &["alert", "test"], &[]);
    assert_eq!(code(&out), 5, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("TLS") || stderr(&out).contains("certificate"),
        "{}",
        stderr(&out)
    );
    assert_eq!(t.messages().len(), 1);
}
