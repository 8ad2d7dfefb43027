//! One e-mail over SMTP with lettre's blocking transport, rustls (ring) for TLS.
//!
//! Every network step is bounded by `alerts.email.timeout_seconds` (connect, and each read and
//! write), so a server that accepts the connection and then says nothing cannot hold a job.
//! The password is read from the environment at send time and registered with
//! [`crate::redact`], so an error that quotes it is masked like every other secret.

use std::time::Duration;

use lettre::message::{Mailbox, header::ContentType};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{Message, SmtpTransport, Transport};

use super::config::{EmailConfig, Security};
use crate::config::Secrets;

/// What the server said to the accepted message.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// The reply code, e.g. `250`.
    pub code: String,
    /// The reply text, lines joined by ` / `.
    pub text: String,
}

impl std::fmt::Display for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.code, self.text)
    }
}

/// Why a message was not delivered.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The setup is wrong (a person must fix the config or the environment).
    #[error("{0}")]
    Setup(String),
    /// The server could not be reached, or refused (its code and text are in the message).
    #[error("SMTP {server}: {detail}")]
    Smtp { server: String, detail: String },
}

/// Send one message with `subject` and `body` to every `to` address.
pub fn send(
    cfg: &EmailConfig,
    secrets: &Secrets,
    subject: &str,
    body: &str,
) -> Result<Answer, SendError> {
    send_with_files(cfg, secrets, subject, body, &[])
}

/// [`send`] with files: an `.html` file is the HTML alternative of the body, the others are
/// attachments (by file name; PNGs as `image/png`). A file that cannot be read is named in
/// the text body instead of failing the message.
pub fn send_with_files(
    cfg: &EmailConfig,
    secrets: &Secrets,
    subject: &str,
    body: &str,
    files: &[std::path::PathBuf],
) -> Result<Answer, SendError> {
    let message = build_message(cfg, subject, body, files)?;
    let transport = transport(cfg, secrets)?;
    let server = format!("{}:{} ({})", cfg.host, cfg.port(), cfg.security.as_str());
    match transport.send(&message) {
        Ok(r) => Ok(Answer {
            code: r.code().to_string(),
            text: r.message().collect::<Vec<_>>().join(" / "),
        }),
        Err(e) => Err(SendError::Smtp {
            server,
            detail: crate::redact::scrub_owned(describe(&e)),
        }),
    }
}

/// lettre's error with its causes, and a word on what kind of failure it is.
fn describe(e: &lettre::transport::smtp::Error) -> String {
    let io_timeout = {
        let mut c = std::error::Error::source(e);
        let mut found = false;
        while let Some(x) = c {
            if let Some(io) = x.downcast_ref::<std::io::Error>() {
                found |= matches!(
                    io.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                );
            }
            c = x.source();
        }
        found
    };
    let mut s = if e.is_timeout() || io_timeout {
        format!("timed out ({e})")
    } else if e.is_permanent() || e.is_transient() {
        format!("the server refused: {e}")
    } else if e.is_tls() {
        format!("TLS failed: {e}")
    } else {
        format!("{e}")
    };
    let mut cause = std::error::Error::source(e);
    // lettre's Display already shows its direct source; add the deeper ones.
    if let Some(c) = cause {
        cause = c.source();
    }
    while let Some(c) = cause {
        s.push_str(&format!(": {c}"));
        cause = c.source();
    }
    s
}

fn build_message(
    cfg: &EmailConfig,
    subject: &str,
    body: &str,
    files: &[std::path::PathBuf],
) -> Result<Message, SendError> {
    let setup = |key: &str, v: &str, e: &dyn std::fmt::Display| {
        SendError::Setup(format!("alerts.email.{key} = {v}: {e}"))
    };
    let from: Mailbox = cfg.from.parse().map_err(|e| setup("from", &cfg.from, &e))?;
    let mut b = Message::builder()
        .from(from)
        .subject(crate::redact::scrub(subject).into_owned());
    for t in &cfg.to {
        b = b.to(t.parse().map_err(|e| setup("to", t, &e))?);
    }
    let built =
        |e: lettre::error::Error| SendError::Setup(format!("building the alert message: {e}"));
    if files.is_empty() {
        return b
            .header(ContentType::TEXT_PLAIN)
            .body(crate::redact::scrub(body).into_owned())
            .map_err(built);
    }
    use lettre::message::{Attachment, MultiPart, SinglePart};
    let mut text = body.to_string();
    let (mut html, mut parts) = (None, Vec::new());
    for f in files {
        let name = f
            .file_name()
            .map_or("attachment".into(), |n| n.to_string_lossy().into_owned());
        match crate::fsutil::read_regular(f) {
            Err(e) => text.push_str(&format!("(file {} not sent: {e})\n", f.display())),
            Ok(bytes) if name.ends_with(".html") => {
                html = Some(String::from_utf8_lossy(&bytes).into_owned());
            }
            Ok(bytes) => {
                let ct = if name.ends_with(".png") {
                    "image/png"
                } else {
                    "application/octet-stream"
                };
                let ct = ContentType::parse(ct).map_err(|e| SendError::Setup(e.to_string()))?;
                parts.push(Attachment::new(name).body(bytes, ct));
            }
        }
    }
    let plain = SinglePart::plain(crate::redact::scrub(&text).into_owned());
    let mut mixed = match html {
        Some(h) => MultiPart::mixed().multipart(
            MultiPart::alternative()
                .singlepart(plain)
                .singlepart(SinglePart::html(crate::redact::scrub(&h).into_owned())),
        ),
        None => MultiPart::mixed().singlepart(plain),
    };
    for p in parts {
        mixed = mixed.singlepart(p);
    }
    b.multipart(mixed).map_err(built)
}

fn transport(cfg: &EmailConfig, secrets: &Secrets) -> Result<SmtpTransport, SendError> {
    let tls = match cfg.security {
        Security::None => Tls::None,
        Security::Tls => Tls::Wrapper(tls_params(cfg)?),
        Security::Starttls => Tls::Required(tls_params(cfg)?),
    };
    let mut b = SmtpTransport::builder_dangerous(cfg.host.as_str())
        .port(cfg.port())
        .tls(tls)
        .timeout(Some(Duration::from_secs(u64::from(cfg.timeout_seconds))))
        .hello_name(hello_name());
    if let (Some(user_env), Some(pass_env)) = (&cfg.username_env, &cfg.password_env) {
        let get = |key: &str, name: &str| {
            secrets.get(name).ok_or_else(|| {
                SendError::Setup(format!(
                    "alerts.email.{key} = {name}: not set in the environment (nor in env_file)"
                ))
            })
        };
        let password = get("password_env", pass_env)?;
        crate::redact::register(&password);
        let user = get("username_env", user_env)?;
        b = b.credentials(Credentials::new(user, password));
    }
    Ok(b.build())
}

fn tls_params(cfg: &EmailConfig) -> Result<TlsParameters, SendError> {
    let mut b = TlsParameters::builder(cfg.host.clone());
    if let Some(path) = &cfg.ca_file {
        let setup = |e: &dyn std::fmt::Display| {
            SendError::Setup(format!("alerts.email.ca_file = {}: {e}", path.display()))
        };
        let pem = crate::fsutil::read_regular(path).map_err(|e| setup(&e))?;
        b = b.add_root_certificate(Certificate::from_pem(&pem).map_err(|e| setup(&e))?);
    }
    b.build_rustls()
        .map_err(|e| SendError::Setup(format!("TLS setup: {e}")))
}

/// The EHLO name: this host's name, or the address literal `[127.0.0.1]` when it has none.
fn hello_name() -> ClientId {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let name = name.trim();
    if !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
    {
        ClientId::Domain(name.to_string())
    } else {
        ClientId::default()
    }
}
