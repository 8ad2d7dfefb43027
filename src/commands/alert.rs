//! `trader alert test`: send one test message through `alerts.email` and say exactly what the
//! server answered. Exit 0 when it accepted the message, 5 when it is unreachable or refused,
//! 2 when alerts are not configured (or a credential variable is missing).

use anyhow::Result;
use serde::Serialize;

use super::Ctx;
use crate::alert::smtp::{self, SendError};
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
    }
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
