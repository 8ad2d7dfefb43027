//! `trader alert test`: send one test message through `alerts.email` and say exactly what the
//! server answered. Exit 0 when it accepted the message, 5 when it is unreachable or refused,
//! 2 when alerts are not configured (or a credential variable is missing).
//!
//! Also the alerts every job raises at its edges: the exit code, the kill switch, a state
//! recovered from a backup (see [`crate::alert`] for the contract).

use anyhow::Result;
use serde::Serialize;

use super::Ctx;
use crate::alert::smtp::{self, SendError};
use crate::alert::{Alert, Severity, raise};
use crate::cli::AlertCommand;
use crate::exit::{Exit, ExitError};

#[derive(Serialize)]
struct Sent<'a> {
    sent: bool,
    server: String,
    to: &'a [String],
    code: String,
    text: String,
}

pub fn run(ctx: &Ctx, cmd: &AlertCommand) -> Result<Exit> {
    match cmd {
        AlertCommand::Test => test(ctx),
        AlertCommand::JobFailed { unit, exit_status } => job_failed(ctx, unit, exit_status),
    }
}

/// A scheduled unit failed (systemd `OnFailure=`): one critical alert per unit, deduplicated
/// and rate-limited like every other, delivered when this command ends.
fn job_failed(ctx: &Ctx, unit: &str, exit_status: &str) -> Result<Exit> {
    let status = if exit_status.is_empty() {
        "unknown exit status".to_string()
    } else {
        format!("exit {exit_status}")
    };
    raise(Alert {
        severity: Severity::Critical,
        key: format!("unit-failed-{unit}"),
        subject: format!("{unit} failed ({status})"),
        body: format!(
            "The scheduled job {unit} failed with {status} at {}.\n\
             See `journalctl -u {unit}` and `trader --config {} status`; README \"Operate it\" lists \
             what each exit code means.\n",
            ctx.clock()
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            ctx.config.source_file.display()
        ),
    });
    ctx.log.warn(&format!(
        "scheduled job {unit} failed ({status}): alert raised"
    ));
    Ok(Exit::Ok)
}

fn test(ctx: &Ctx) -> Result<Exit> {
    let file = ctx.config.source_file.display();
    let email = match &ctx.config.alerts.email {
        None => {
            return Err(ExitError::new(
                Exit::Usage,
                format!("{file}: alerts are not configured: add an alerts.email section (README \"Alerts\")"),
            )
            .into());
        }
        Some(e) if !e.enabled => {
            return Err(ExitError::new(
                Exit::Usage,
                format!(
                    "{file}: alerts.email.enabled = false: alerts are switched off, nothing sent"
                ),
            )
            .into());
        }
        Some(e) => e,
    };
    let server = format!(
        "{}:{} ({})",
        email.host,
        email.port(),
        email.security.as_str()
    );
    let subject = "[trader] INFO: test message";
    let body = format!(
        "This is a test of the trader alert channel, sent by `trader alert test` at {} with {file}.\n\
         If you read this, alerts reach you.\n",
        ctx.clock()
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    );
    match smtp::send(email, &ctx.secrets, subject, &body) {
        Ok(answer) => {
            ctx.log
                .info(&format!("alert test: {server} answered {answer}"));
            if ctx.json {
                super::print_json(&Sent {
                    sent: true,
                    server,
                    to: &email.to,
                    code: answer.code,
                    text: answer.text,
                })?;
            } else {
                outln!("test message sent to {} via {server}", email.to.join(", "));
                outln!("server answered: {answer}");
            }
            Ok(Exit::Ok)
        }
        Err(e @ SendError::Setup(_)) => {
            Err(ExitError::new(Exit::Usage, format!("{file}: {e}")).into())
        }
        Err(e @ SendError::Smtp { .. }) => {
            Err(ExitError::new(Exit::Unavailable, format!("test message not sent: {e}")).into())
        }
    }
}

/// A job that ends with exit 3 (blocked) or 5 (a source or broker unavailable, unusable data)
/// alerts, unless it already raised an alert of warning or above that says why (a preflight
/// NO-GO exits 3 and has its own alert).
pub(super) fn on_exit(ctx: &Ctx, cmd: &str, result: &Result<Exit>) {
    let (exit, why) = match result {
        Ok(e) => (*e, String::new()),
        Err(e) => (
            crate::exit::classify(e),
            crate::redact::scrub_owned(format!("{e:#}")),
        ),
    };
    let severity = match exit {
        Exit::Unavailable => Severity::Critical,
        Exit::Blocked => Severity::Warning,
        _ => return,
    };
    if crate::alert::raised()
        .iter()
        .any(|a| a.severity >= Severity::Warning)
    {
        return;
    }
    let what = match exit {
        Exit::Unavailable => {
            "a data source or broker is unavailable, or the stored data is unusable"
        }
        _ => "blocked by a gate or a missing prerequisite",
    };
    raise(Alert {
        severity,
        key: format!("job-exit-{}-{cmd}", exit.code()),
        subject: format!("trader {cmd} exited {} ({what})", exit.code()),
        body: format!(
            "`trader {cmd}` at {} ended with exit code {}: {what}.\n{}\nThe log is {}.",
            ctx.now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            exit.code(),
            if why.is_empty() {
                "See its output and the log for the detail.".to_string()
            } else {
                format!("Error: {why}")
            },
            ctx.config
                .paths
                .logs_dir
                .join(crate::log::file_name(ctx.today()))
                .display()
        ),
    });
}

/// The kill switch found by a job that took the state lock.
pub(super) fn kill_switch(ctx: &Ctx, command: &str) {
    let path = &ctx.config.paths.kill_switch;
    if !path.exists() {
        return;
    }
    raise(Alert {
        severity: Severity::Warning,
        key: "kill-switch".into(),
        subject: format!("kill switch present: `trader {command}` sends no order"),
        body: format!(
            "`trader {command}` found the kill switch {} at {}: no order is sent until it is removed (emergency-exit excepted).",
            path.display(),
            ctx.now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        ),
    });
}

/// The state was unusable and a backup replaced it: the latest runs may be missing.
pub(super) fn recovered(command: &str, what: &str) {
    raise(Alert {
        severity: Severity::Critical,
        key: "state-recovered".into(),
        subject: "state recovered from a backup: check the latest runs".into(),
        body: format!(
            "`trader {command}` found the state unusable and continued from a backup, which may miss the latest runs:\n{what}"
        ),
    });
}
