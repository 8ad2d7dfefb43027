//! Alerts: one place every job calls when a person is needed, delivered by e-mail (SMTP).
//!
//! # Contract (for every command)
//!
//! * Call [`raise`] with an [`Alert`] wherever the event is found — any module, any time in
//!   the process. It only records the alert in memory: it never blocks, never fails and never
//!   touches the network, so calling it cannot change a job's outcome.
//! * The command edge ([`crate::commands::run`]) calls [`flush`] once at the end of the
//!   process, after the job released the state lock, whatever the job's result. A command
//!   with its own entry point (like `health`) calls [`flush`] itself. `flush` never returns an
//!   error and never changes the exit code: a failed delivery is logged and queued.
//! * `key` identifies the event for deduplication: the same key is sent at most once per
//!   `alerts.rate_limit_minutes`; repeats within the window are counted and the count is
//!   reported in the next message of that key. Use a stable key per kind of event
//!   (`preflight-no-go`, `kill-switch`), not one with a time in it.
//! * Alerts below `alerts.min_severity` are not sent. Secrets are masked in subject and body.
//!
//! # Delivery
//!
//! `flush` takes the state lock briefly (retrying for up to [`LOCK_WAIT`]), plans the
//! deliveries from `state.alerts` (see [`book`]), puts them in the state's queue and saves, then
//! sends **without** the lock (each network step bounded by `alerts.email.timeout_seconds`),
//! and finally takes the lock again to record each outcome. A crash while sending therefore
//! loses nothing (the message is still queued and is retried by the next job; at worst it is
//! delivered twice). After the first failed delivery of a flush, the remaining messages are not
//! tried (they stay queued), so a dead server costs one timeout per job. When the state
//! cannot be locked or read, the alerts of this job are sent directly without deduplication,
//! so a person still hears of them.

pub mod book;
pub mod config;
pub mod smtp;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use book::{AlertBook, PendingAlert};
pub use config::{AlertsConfig, EmailConfig, Security};

use crate::config::{Config, Secrets};
use crate::log::Logger;
use crate::state::lock;
use crate::state::store::{Loaded, StateStore};

/// How long [`flush`] waits for the state lock held by another run.
pub const LOCK_WAIT: Duration = Duration::from_secs(3);

/// How urgent an alert is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// For the record (a daily summary).
    Info,
    /// A person should look today.
    #[default]
    Warning,
    /// A person is needed now (no trading run, state damaged, a source down).
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

/// One event a person should hear of.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    pub severity: Severity,
    /// Deduplication key (see the module doc).
    pub key: String,
    /// One line; `[trader] SEVERITY: ` is put in front of it.
    pub subject: String,
    /// Plain text.
    pub body: String,
}

static RAISED: Mutex<Vec<Alert>> = Mutex::new(Vec::new());
/// Files of raised alerts by key (see [`raise_with_files`]).
static FILES: Mutex<Vec<(String, Vec<PathBuf>)>> = Mutex::new(Vec::new());

/// [`raise`] with files sent along: an `.html` file becomes the HTML alternative of the body,
/// every other file an attachment. The paths (not the contents) are kept in the queue, so a
/// retried message reads them again; a file gone by then is named in the body instead.
pub fn raise_with_files(alert: Alert, files: Vec<PathBuf>) {
    FILES
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push((alert.key.clone(), files));
    raise(alert);
}

fn files_of(key: &str) -> Vec<PathBuf> {
    FILES
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .rev()
        .find(|(k, _)| k == key)
        .map(|(_, f)| f.clone())
        .unwrap_or_default()
}

/// Record an alert for delivery at the end of the job (see the module doc).
pub fn raise(alert: Alert) {
    RAISED.lock().unwrap_or_else(|p| p.into_inner()).push(alert);
}

/// The alerts raised so far and not yet flushed.
pub fn raised() -> Vec<Alert> {
    RAISED.lock().unwrap_or_else(|p| p.into_inner()).clone()
}

fn take_raised() -> Vec<Alert> {
    std::mem::take(&mut *RAISED.lock().unwrap_or_else(|p| p.into_inner()))
}

/// The e-mail settings when alerts are configured and enabled.
pub fn email(cfg: &Config) -> Option<&EmailConfig> {
    cfg.alerts.email.as_ref().filter(|e| e.enabled)
}

/// Register the SMTP password (from `alerts.email.password_env`) as a secret, so that it is
/// masked in every output from the start of the command, whatever the variable is called.
pub fn register_password(cfg: &Config, secrets: &Secrets) {
    if let Some(name) = cfg
        .alerts
        .email
        .as_ref()
        .and_then(|e| e.password_env.as_ref())
        && let Some(v) = secrets.get(name)
    {
        crate::redact::register(&v);
    }
}

/// Deliver this job's alerts and the queued ones of earlier jobs (see the module doc).
/// Never fails; everything that goes wrong is logged.
pub fn flush(cfg: &Config, secrets: &Secrets, log: &Logger, now: DateTime<Utc>) {
    let raised: Vec<(Alert, String)> = take_raised()
        .into_iter()
        .filter(|a| {
            let keep = a.severity >= cfg.alerts.min_severity;
            if !keep {
                log.debug(&format!(
                    "alert {} ({}) below alerts.min_severity: not sent",
                    a.key,
                    a.severity.as_str()
                ));
            }
            keep
        })
        .map(|a| (a, log.command.clone()))
        .collect();
    let Some(email) = email(cfg) else {
        if !raised.is_empty() {
            log.debug("alerts are not configured (alerts.email): nothing sent");
        }
        return;
    };
    register_password(cfg, secrets);
    let store = StateStore::new(&cfg.paths.state_dir, cfg.state.backups).at(now);
    if raised.is_empty() {
        // Nothing new: only lock and save when earlier jobs left messages queued.
        match store.load() {
            Ok(Loaded::Ok(s)) if !s.alerts.queue.is_empty() => {}
            _ => return,
        }
    }
    let window = chrono::Duration::minutes(i64::from(cfg.alerts.rate_limit_minutes));
    // Phase 1, under the lock: decide, queue what will be sent, save.
    let planned = with_state(cfg, &store, log, now, |state| {
        let (out, decisions) = state.alerts.plan(raised.clone(), now, window);
        for (key, d) in &decisions {
            match d {
                book::Decision::Send => {}
                book::Decision::Suppressed { since, count } => log.info(&format!(
                    "alert {key} held back: sent at {} and alerts.rate_limit_minutes = {} ({count} held back since)",
                    since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    cfg.alerts.rate_limit_minutes
                )),
                book::Decision::Merged { count } => log.info(&format!(
                    "alert {key} is already queued: counted with it ({count} repeat(s))"
                )),
            }
        }
        let mut out = out;
        for p in out.iter_mut().filter(|p| p.files.is_empty()) {
            p.files = files_of(&p.key);
        }
        state.alerts.queue = out.clone();
        out
    });
    let Some(planned) = planned else {
        // No state to keep the book in: send this job's alerts as they are.
        for (a, job) in raised {
            let p = direct(a, job, now);
            if let Err(e) = deliver(email, secrets, cfg, &p) {
                log.warn(&format!("alert {} not delivered: {e}", p.key));
            }
        }
        return;
    };
    if planned.is_empty() {
        return;
    }
    // Phase 2, without the lock: send, stopping at the first failure.
    let mut outcomes = Vec::new();
    let mut counts = BTreeMap::new();
    let mut failure: Option<String> = None;
    for p in &planned {
        counts.insert(p.id.clone(), p.suppressed);
        let outcome = match &failure {
            Some(e) => Err(format!("not tried after an earlier failure this run: {e}")),
            None => match deliver(email, secrets, cfg, p) {
                Ok(answer) => {
                    log.info(&format!(
                        "alert {} ({}) sent to {}: the server answered {answer}",
                        p.key,
                        p.severity.as_str(),
                        email.to.join(", ")
                    ));
                    Ok(())
                }
                Err(e) => {
                    let e = e.to_string();
                    log.warn(&format!(
                        "alert {} not delivered, queued in the state for the next job: {e}",
                        p.key
                    ));
                    failure = Some(e.clone());
                    Err(e)
                }
            },
        };
        outcomes.push((p.id.clone(), outcome));
    }
    // Phase 3, under the lock: record the outcomes.
    let done = with_state(cfg, &store, log, now, |state| {
        for dropped in state.alerts.settle(&outcomes, now, &counts) {
            log.warn(&format!(
                "alert queue full ({} messages): dropped the oldest, {} ({}) raised by {} at {}: {}",
                book::MAX_QUEUE,
                dropped.key,
                dropped.severity.as_str(),
                dropped.job,
                dropped.raised_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                dropped.subject
            ));
        }
    });
    if done.is_none() {
        log.warn("the outcome of the alert deliveries could not be recorded: the delivered ones stay queued and may be sent again by the next job");
    }
}

/// Run `f` on the state under the state lock and save it; `None` (logged) when the lock or
/// the state cannot be had.
fn with_state<T>(
    cfg: &Config,
    store: &StateStore,
    log: &Logger,
    now: DateTime<Utc>,
    f: impl FnOnce(&mut crate::state::State) -> T,
) -> Option<T> {
    if !store.path.exists() {
        // No state yet (a command that keeps none, or a fresh machine): alerts create none.
        return None;
    }
    let path = cfg.paths.state_dir.join("trader.lock");
    let start = Instant::now();
    let _lock = loop {
        match lock::acquire(&path, &format!("{} (alerts)", log.command), now) {
            Ok(l) => break l,
            Err(e @ lock::LockError::Io { .. }) => {
                log.warn(&format!("alerts: {e}: the alert book is not updated"));
                return None;
            }
            Err(_) if start.elapsed() >= LOCK_WAIT => {
                log.warn(&format!(
                    "alerts: cannot take the state lock {} within {} s: the alert book is not updated",
                    path.display(),
                    LOCK_WAIT.as_secs()
                ));
                return None;
            }
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    };
    let mut state = match store.load() {
        Ok(Loaded::Ok(s)) => s,
        Ok(Loaded::Fresh) | Ok(Loaded::Recovered { .. }) | Err(_) => {
            // The job itself reports (and repairs) a damaged state; alerts do not touch it.
            log.warn(&format!(
                "alerts: {} is not readable as it is: the alert book is not updated",
                store.path.display()
            ));
            return None;
        }
    };
    let out = f(&mut state);
    if let Err(e) = store.save(&mut state, now) {
        log.warn(&format!("alerts: saving the alert book: {e}"));
        return None;
    }
    Some(out)
}

fn direct(a: Alert, job: String, now: DateTime<Utc>) -> PendingAlert {
    PendingAlert {
        files: files_of(&a.key),
        id: String::new(),
        severity: a.severity,
        key: a.key,
        subject: a.subject,
        body: a.body,
        job,
        raised_at: now,
        suppressed: 0,
        suppressed_since: None,
        attempts: 0,
        last_error: String::new(),
    }
}

/// Send one message of the book.
fn deliver(
    email: &EmailConfig,
    secrets: &Secrets,
    cfg: &Config,
    p: &PendingAlert,
) -> Result<smtp::Answer, smtp::SendError> {
    let (subject, body) = compose(cfg, p);
    smtp::send_with_files(email, secrets, &subject, &body, &p.files)
}

/// The subject and body of a message: the alert, the held-back count, where it came from.
pub fn compose(cfg: &Config, p: &PendingAlert) -> (String, String) {
    let ts = |t: DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let mut subject = format!(
        "[trader] {}: {}",
        p.severity.as_str().to_uppercase(),
        p.subject
    );
    let mut body = p.body.trim_end().to_string();
    body.push_str("\n\n");
    if p.suppressed > 0 {
        subject.push_str(&format!(" (+{} repeats held back)", p.suppressed));
        body.push_str(&format!(
            "{} more alert(s) with this key were held back{} (alerts.rate_limit_minutes = {}).\n",
            p.suppressed,
            p.suppressed_since.map_or(String::new(), |t| format!(
                " since the message of {}",
                ts(t)
            )),
            cfg.alerts.rate_limit_minutes
        ));
    }
    if p.attempts > 0 {
        body.push_str(&format!(
            "Delivery of this message failed {} time(s) before; last error: {}\n",
            p.attempts, p.last_error
        ));
    }
    body.push_str(&format!(
        "--\nseverity: {}\nkey: {}\nraised by: trader {} at {}\nconfig: {}\n",
        p.severity.as_str(),
        p.key,
        p.job,
        ts(p.raised_at),
        cfg.source_file.display()
    ));
    (subject, body)
}
