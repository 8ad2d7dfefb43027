//! `trader halt --reason "..."` and `trader resume`: create and remove the kill switch
//! (`paths.kill_switch`). The file holds the reason, who ($USER) and when (the job's clock);
//! both are recorded in the state's `halts` and in the log.
//!
//! The kill switch must go in even while another job holds the state lock (that is when it
//! is needed most): it is created first, then the state is updated if the lock is free; if it
//! is not, the halt stands and says that the state did not record it.

use std::io::{Read, Write};
use std::path::Path;

use anyhow::{Context, Result};
use chrono::SecondsFormat;
use serde::Serialize;

use super::Ctx;
use crate::cli::HaltArgs;
use crate::exit::{Exit, ExitError};
use crate::state::HaltEvent;

/// What a kill switch file says (fields absent in a file made by hand, e.g. `touch`).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct KillSwitch {
    pub reason: Option<String>,
    pub who: Option<String>,
    pub at: Option<String>,
}

/// Read a kill switch file; unreadable or free-form content is shown as its reason.
pub fn read_kill_switch(path: &Path) -> KillSwitch {
    let text = match crate::fsutil::open_regular(path) {
        Ok(f) => {
            let mut s = String::new();
            // A kill switch is a few lines: never read a huge file whole.
            let _ = f.take(4096).read_to_string(&mut s);
            s
        }
        Err(e) => {
            return KillSwitch {
                reason: Some(format!("(cannot read: {e})")),
                ..Default::default()
            };
        }
    };
    let mut k = KillSwitch::default();
    for line in text.lines() {
        let field = |name: &str| line.strip_prefix(name).map(|v| v.trim().to_string());
        if let Some(v) = field("reason:") {
            k.reason = Some(v);
        } else if let Some(v) = field("who:") {
            k.who = Some(v);
        } else if let Some(v) = field("at:") {
            k.at = Some(v);
        }
    }
    if k.reason.is_none() && !text.trim().is_empty() {
        k.reason = Some(text.trim().chars().take(200).collect());
    }
    k
}

fn who() -> String {
    std::env::var("USER")
        .ok()
        .filter(|u| !u.trim().is_empty())
        .unwrap_or_else(|| "unknown".into())
}

/// Create `path` holding `body` only if it does not exist: a temp file linked into place
/// (atomic, never replaces). `Ok(false)` when it already existed.
fn create_new(path: &Path, body: &str) -> std::io::Result<bool> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".tmp-")
        .suffix(".partial")
        .tempfile_in(dir)?;
    tmp.write_all(body.as_bytes())?;
    tmp.as_file().sync_all()?;
    match std::fs::hard_link(tmp.path(), path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Ok(false),
        Err(e) => return Err(e),
    }
    drop(tmp);
    crate::fsutil::sync_dir(dir)?;
    Ok(true)
}

/// Append a halt or resume to the state's `halts` when the lock can be taken; otherwise say
/// the state does not record it (the kill switch file and the log do).
fn record(ctx: &Ctx, event: HaltEvent) {
    let what = event.action.clone();
    let saved = super::open_job(ctx, &what).and_then(|mut job| {
        job.state.halts.push(event);
        job.save(ctx.now)
    });
    if let Err(e) = saved {
        ctx.log.warn(&format!(
            "the {what} is in effect but not recorded in the state ({e:#}); the log has it"
        ));
    }
}

#[derive(Serialize)]
struct Outcome<'a> {
    action: &'a str,
    kill_switch: String,
    /// False when nothing changed (already halted / nothing to resume).
    changed: bool,
    #[serde(flatten)]
    file: KillSwitch,
}

/// `trader halt --reason`.
pub fn halt(ctx: &Ctx, args: &HaltArgs) -> Result<Exit> {
    let path = &ctx.config.paths.kill_switch;
    let reason = args.reason.split_whitespace().collect::<Vec<_>>().join(" ");
    if reason.is_empty() {
        return Err(
            ExitError::new(Exit::Usage, "halt --reason is empty: say why trading stops").into(),
        );
    }
    let who = who();
    let at = ctx.clock();
    let at_s = at.to_rfc3339_opts(SecondsFormat::Secs, true);
    let body = format!("reason: {reason}\nwho: {who}\nat: {at_s}\n");
    let created = create_new(path, &body)
        .with_context(|| format!("creating the kill switch {}", path.display()))?;
    let file = read_kill_switch(path);
    if created {
        ctx.log.warn(&format!(
            "HALT: kill switch {} created by {who}: {reason}",
            path.display()
        ));
        record(
            ctx,
            HaltEvent {
                at,
                action: "halt".into(),
                reason: reason.clone(),
                who,
            },
        );
    } else {
        ctx.log.warn(&format!(
            "halt: kill switch {} already present (reason: {}); kept as it is, the new reason \"{reason}\" is not written",
            path.display(),
            file.reason.as_deref().unwrap_or("none given")
        ));
    }
    if ctx.json {
        super::print_json(&Outcome {
            action: "halt",
            kill_switch: path.display().to_string(),
            changed: created,
            file,
        })?;
    } else if created {
        outln!(
            "halted: kill switch {} created (reason: {reason}). No order is sent until `trader resume`.",
            path.display()
        );
    } else {
        outln!(
            "already halted: kill switch {} present since {} by {} (reason: {}); kept the first reason",
            path.display(),
            file.at.as_deref().unwrap_or("?"),
            file.who.as_deref().unwrap_or("?"),
            file.reason.as_deref().unwrap_or("none given")
        );
    }
    Ok(Exit::Ok)
}

/// `trader resume`.
pub fn resume(ctx: &Ctx) -> Result<Exit> {
    let path = &ctx.config.paths.kill_switch;
    if std::fs::symlink_metadata(path).is_err() {
        if ctx.json {
            super::print_json(&Outcome {
                action: "resume",
                kill_switch: path.display().to_string(),
                changed: false,
                file: KillSwitch::default(),
            })?;
        } else {
            outln!(
                "no kill switch at {}: there was nothing to resume",
                path.display()
            );
        }
        return Ok(Exit::Ok);
    }
    let file = read_kill_switch(path);
    std::fs::remove_file(path)
        .with_context(|| format!("removing the kill switch {}", path.display()))?;
    if let Some(dir) = path.parent() {
        let _ = crate::fsutil::sync_dir(dir);
    }
    let reason = file.reason.clone().unwrap_or_else(|| "none given".into());
    let who = who();
    ctx.log.warn(&format!(
        "RESUME: kill switch {} removed by {who} (it said: {reason})",
        path.display()
    ));
    record(
        ctx,
        HaltEvent {
            at: ctx.clock(),
            action: "resume".into(),
            reason: reason.clone(),
            who,
        },
    );
    if ctx.json {
        super::print_json(&Outcome {
            action: "resume",
            kill_switch: path.display().to_string(),
            changed: true,
            file,
        })?;
    } else {
        outln!(
            "resumed: kill switch {} removed (it was set{}{} with reason: {reason})",
            path.display(),
            file.who
                .as_deref()
                .map_or(String::new(), |w| format!(" by {w}")),
            file.at
                .as_deref()
                .map_or(String::new(), |a| format!(" at {a}"))
        );
    }
    Ok(Exit::Ok)
}
