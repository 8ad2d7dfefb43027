//! The `alerts:` section of the config: severity threshold, rate limit and the e-mail channel.
//!
//! Credentials never live in the file: `username_env` / `password_env` name environment
//! variables (or env-file keys) that are read when a message is sent. Plain SMTP
//! (`security: none`) is accepted only to a loopback host (a local relay such as postfix on
//! 127.0.0.1) unless `plaintext_remote: true` says a person chose it, and never with
//! credentials to a remote host: a password is not sent in clear over a network.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::Severity;
use crate::config::Issue;

/// `alerts:`.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertsConfig {
    /// Alerts below this severity are not sent (they are still in the job's log).
    pub min_severity: Severity,
    /// The same alert key is sent at most once per this many minutes; 0 sends every one.
    pub rate_limit_minutes: u32,
    /// The e-mail channel; absent means alerts are not configured.
    pub email: Option<EmailConfig>,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        AlertsConfig {
            min_severity: Severity::Warning,
            rate_limit_minutes: 60,
            email: None,
        }
    }
}

/// How the SMTP connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Security {
    /// Implicit TLS from the first byte (SMTPS, port 465).
    Tls,
    /// Plain connection upgraded with STARTTLS, which is required (port 587): a server that
    /// does not offer it gets no message and no credentials.
    Starttls,
    /// No encryption: loopback relays only (see the module doc).
    None,
}

impl Security {
    pub fn as_str(self) -> &'static str {
        match self {
            Security::Tls => "tls",
            Security::Starttls => "starttls",
            Security::None => "none",
        }
    }

    /// The port when the config names none.
    pub fn default_port(self) -> u16 {
        match self {
            Security::Tls => 465,
            Security::Starttls => 587,
            Security::None => 25,
        }
    }
}

/// `alerts.email:`.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct EmailConfig {
    /// `false` keeps the settings but sends nothing (and `alert test` exits 2).
    #[serde(default = "yes")]
    pub enabled: bool,
    pub host: String,
    /// Default by `security`: 465, 587 or 25.
    #[serde(default)]
    pub port: Option<u16>,
    pub security: Security,
    pub from: String,
    pub to: Vec<String>,
    /// Environment variable holding the SMTP user name (AUTH only when both are set).
    #[serde(default)]
    pub username_env: Option<String>,
    /// Environment variable holding the SMTP password; the value is masked everywhere.
    #[serde(default)]
    pub password_env: Option<String>,
    /// A PEM file of extra trusted root certificates (a private relay's own CA), added to the
    /// system's roots. Relative to `root`.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Bound of each network step (connect, each read and write), in seconds.
    #[serde(default = "default_timeout")]
    pub timeout_seconds: u32,
    /// Allow `security: none` to a host that is not loopback (never with credentials).
    #[serde(default)]
    pub plaintext_remote: bool,
}

fn yes() -> bool {
    true
}

fn default_timeout() -> u32 {
    10
}

impl EmailConfig {
    pub fn port(&self) -> u16 {
        self.port.unwrap_or_else(|| self.security.default_port())
    }

    /// True for `localhost` and loopback addresses.
    pub fn host_is_loopback(&self) -> bool {
        let h = self.host.trim_start_matches('[').trim_end_matches(']');
        h.eq_ignore_ascii_case("localhost") || h.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
    }

    fn has_credentials(&self) -> bool {
        self.username_env.is_some() || self.password_env.is_some()
    }
}

impl AlertsConfig {
    /// Resolve `ca_file` against the root.
    pub fn resolve_against(&mut self, root: &Path) {
        if let Some(e) = &mut self.email
            && let Some(p) = &mut e.ca_file
        {
            *p = crate::config::resolve(root, p);
        }
    }

    /// Every invalid value of the section (key, value, what is allowed).
    pub fn validate(&self, out: &mut Vec<Issue>) {
        let mut issue = |key: &str, value: String, allowed: &str| {
            out.push(Issue {
                key: format!("alerts.{key}"),
                value,
                allowed: allowed.to_string(),
            })
        };
        if self.rate_limit_minutes > 10_080 {
            issue(
                "rate_limit_minutes",
                self.rate_limit_minutes.to_string(),
                "must be between 0 and 10080 (one week)",
            );
        }
        let Some(e) = &self.email else { return };
        if e.host.trim().is_empty() || e.host.contains(char::is_whitespace) {
            issue(
                "email.host",
                format!("{:?}", e.host),
                "must be a host name or address",
            );
        }
        if e.port == Some(0) {
            issue("email.port", "0".into(), "must be between 1 and 65535");
        }
        if e.from.parse::<lettre::message::Mailbox>().is_err() {
            issue(
                "email.from",
                e.from.clone(),
                "must be an e-mail address (`trader <trader@example.com>` or `trader@example.com`)",
            );
        }
        if e.to.is_empty() {
            issue("email.to", "[]".into(), "must list at least one address");
        }
        for (i, t) in e.to.iter().enumerate() {
            if t.parse::<lettre::message::Mailbox>().is_err() {
                issue(
                    &format!("email.to[{i}]"),
                    t.clone(),
                    "must be an e-mail address",
                );
            }
        }
        for (key, v) in [
            ("email.username_env", &e.username_env),
            ("email.password_env", &e.password_env),
        ] {
            if let Some(name) = v
                && (name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
            {
                issue(
                    key,
                    name.clone(),
                    "must be the name of an environment variable (letters, digits, _), not the credential itself",
                );
            }
        }
        if e.username_env.is_some() != e.password_env.is_some() {
            issue(
                "email.password_env",
                e.password_env.clone().unwrap_or_else(|| "null".into()),
                "username_env and password_env go together (both or neither)",
            );
        }
        if !(1..=120).contains(&e.timeout_seconds) {
            issue(
                "email.timeout_seconds",
                e.timeout_seconds.to_string(),
                "must be between 1 and 120",
            );
        }
        if e.security == Security::None && !e.host_is_loopback() {
            if e.has_credentials() {
                issue(
                    "email.security",
                    "none".into(),
                    "must be tls or starttls to send credentials to a host that is not loopback",
                );
            } else if !e.plaintext_remote {
                issue(
                    "email.security",
                    "none".into(),
                    "plain SMTP is allowed only to a loopback host (set plaintext_remote: true to send in clear over the network)",
                );
            }
        }
        if let Some(p) = &e.ca_file
            && !p.is_file()
        {
            issue(
                "email.ca_file",
                p.display().to_string(),
                "must be a readable PEM file of root certificates",
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn email(host: &str, security: Security) -> EmailConfig {
        EmailConfig {
            enabled: true,
            host: host.into(),
            port: None,
            security,
            from: "trader@example.com".into(),
            to: vec!["ops@example.com".into()],
            username_env: None,
            password_env: None,
            ca_file: None,
            timeout_seconds: 10,
            plaintext_remote: false,
        }
    }

    fn issues(e: EmailConfig) -> Vec<String> {
        let c = AlertsConfig {
            email: Some(e),
            ..AlertsConfig::default()
        };
        let mut out = Vec::new();
        c.validate(&mut out);
        out.iter().map(|i| i.to_string()).collect()
    }

    #[test]
    fn plaintext_only_to_loopback_unless_stated_and_never_with_credentials_remotely() {
        assert!(issues(email("127.0.0.1", Security::None)).is_empty());
        assert!(issues(email("localhost", Security::None)).is_empty());
        assert!(issues(email("::1", Security::None)).is_empty());
        let remote = issues(email("smtp.example.com", Security::None));
        assert_eq!(remote.len(), 1, "{remote:?}");
        assert!(
            remote[0].starts_with("alerts.email.security = none"),
            "{remote:?}"
        );
        let mut stated = email("smtp.example.com", Security::None);
        stated.plaintext_remote = true;
        assert!(issues(stated.clone()).is_empty());
        stated.username_env = Some("SMTP_USER".into());
        stated.password_env = Some("SMTP_PASSWORD".into());
        let creds = issues(stated);
        assert!(creds[0].contains("to send credentials"), "{creds:?}");
    }

    #[test]
    fn addresses_env_names_and_ports_are_checked() {
        let mut e = email("smtp.example.com", Security::Starttls);
        e.from = "not an address".into();
        e.to = vec!["ops@example.com".into(), "nope".into()];
        e.password_env = Some("hunter2 pass".into());
        e.port = Some(0);
        let got = issues(e);
        let keys: Vec<&str> = got
            .iter()
            .map(|s| s.split(" = ").next().unwrap_or(""))
            .collect();
        assert_eq!(
            keys,
            [
                "alerts.email.port",
                "alerts.email.from",
                "alerts.email.to[1]",
                "alerts.email.password_env",
                "alerts.email.password_env"
            ],
            "{got:?}"
        );
        assert_eq!(email("h", Security::Tls).port(), 465);
        assert_eq!(email("h", Security::Starttls).port(), 587);
    }
}
