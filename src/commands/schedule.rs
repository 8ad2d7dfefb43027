//! `trader schedule print|install|check`: the systemd units and crontab of the daily cycle,
//! rendered from the config so nobody edits them by hand (README "Operate it").

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::Ctx;
use crate::cli::{Cli, ScheduleCmd, TargetArgs};
use crate::exit::{Exit, ExitError};
use crate::schedule::render::{self, File, Target};
use crate::schedule::{self as sched, Slot};

pub fn run(ctx: &Ctx, _cli: &Cli, cmd: &ScheduleCmd) -> Result<Exit> {
    match cmd {
        ScheduleCmd::Print {
            systemd,
            cron,
            utc,
            target,
        } => {
            let t = target_of(ctx, target)?;
            if let Some(dir) = systemd {
                let files = render::systemd(&ctx.config, &t);
                write_files(dir, &files)?;
                for f in &files {
                    outln!("{}", dir.join(&f.name).display());
                }
            } else if *cron {
                let files = render::cron(&ctx.config, &t);
                let f = &files[usize::from(*utc)];
                print!("{}", f.text);
            }
            Ok(Exit::Ok)
        }
        ScheduleCmd::Install {
            user,
            system: _,
            dir,
            no_systemctl,
            target,
        } => {
            let t = target_of(ctx, target)?;
            let into = match dir {
                Some(d) => d.clone(),
                None => unit_dir(*user)?,
            };
            let files = render::systemd(&ctx.config, &t);
            write_files(&into, &files)?;
            outln!("wrote {} unit file(s) into {}", files.len(), into.display());
            if dir.is_some() || *no_systemctl {
                return Ok(Exit::Ok);
            }
            let instance = instance(ctx);
            systemctl(*user, &["daemon-reload"])?;
            let mut args = vec!["enable".to_string(), "--now".to_string()];
            args.extend(
                render::jobs()
                    .iter()
                    .map(|j| format!("trader-{j}@{instance}.timer")),
            );
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            systemctl(*user, &args)?;
            outln!("enabled the timers of config {instance}");
            Ok(Exit::Ok)
        }
        ScheduleCmd::Check {
            user,
            system,
            dir,
            target,
        } => {
            let t = target_of(ctx, target)?;
            let installed = match (dir, user, system) {
                (Some(d), _, _) => Some(d.clone()),
                (None, true, _) => Some(unit_dir(true)?),
                (None, _, true) => Some(unit_dir(false)?),
                _ => None,
            };
            check(ctx, &t, installed.as_deref())
        }
    }
}

/// The config's instance name: its file stem (`config/trader.yaml` → `trader`).
fn instance(ctx: &Ctx) -> String {
    ctx.config
        .source_file
        .file_stem()
        .map_or_else(|| "trader".into(), |s| s.to_string_lossy().into_owned())
}

fn target_of(ctx: &Ctx, a: &TargetArgs) -> Result<Target> {
    let binary = match (&a.binary, &ctx.config.schedule.binary) {
        (Some(b), _) | (None, Some(b)) => b.clone(),
        (None, None) => std::env::current_exe().context("finding this executable's path")?,
    };
    let root = match &a.root {
        Some(r) => render::clean(r),
        None => render::clean(
            &std::path::absolute(&ctx.config.root_dir)
                .context("making the config's root absolute")?,
        ),
    };
    for (what, p) in [("--binary", &binary), ("--root", &root)] {
        if !p.is_absolute() {
            return Err(ExitError::new(
                Exit::Usage,
                format!("{what} {}: must be an absolute path", p.display()),
            )
            .into());
        }
    }
    Ok(Target { binary, root })
}

fn unit_dir(user: bool) -> Result<PathBuf> {
    if !user {
        return Ok(PathBuf::from("/etc/systemd/system"));
    }
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .ok_or_else(|| {
            ExitError::new(
                Exit::Usage,
                "--user: HOME is not set, so ~/.config/systemd/user is unknown",
            )
        })?;
    Ok(PathBuf::from(home).join(".config/systemd/user"))
}

fn write_files(dir: &Path, files: &[File]) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    for f in files {
        let path = dir.join(&f.name);
        // 0644 like every unit file: they hold paths and times, never a secret.
        crate::fsutil::write_atomic_with(&path, |file| {
            use std::io::Write;
            use std::os::unix::fs::PermissionsExt;
            file.set_permissions(std::fs::Permissions::from_mode(0o644))?;
            file.write_all(f.text.as_bytes())
        })
        .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

fn systemctl(user: bool, args: &[&str]) -> Result<()> {
    let mut c = std::process::Command::new("systemctl");
    if user {
        c.arg("--user");
    }
    c.args(args);
    let shown = format!(
        "systemctl {}{}",
        if user { "--user " } else { "" },
        args.join(" ")
    );
    let status = c.status().with_context(|| format!("running {shown}"))?;
    if !status.success() {
        return Err(ExitError::new(Exit::Unexpected, format!("{shown} failed ({status})")).into());
    }
    Ok(())
}

/// Each installed unit against its rendering, then the next run of every job. Exit 3 when an
/// installed unit is missing or differs.
fn check(ctx: &Ctx, t: &Target, dir: Option<&Path>) -> Result<Exit> {
    let mut exit = Exit::Ok;
    if let Some(dir) = dir {
        for f in render::systemd(&ctx.config, t) {
            let path = dir.join(&f.name);
            let status = match std::fs::read_to_string(&path) {
                Ok(text) if text == f.text => "ok",
                Ok(_) => {
                    exit = Exit::Blocked;
                    "differs (run `trader schedule install` again)"
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    exit = Exit::Blocked;
                    "missing"
                }
                Err(e) => {
                    return Err(
                        anyhow::Error::new(e).context(format!("reading {}", path.display()))
                    );
                }
            };
            outln!("{:<32} {status}", f.name);
        }
    }
    let s = &ctx.config.schedule;
    outln!("{:<18} {:<28} COMMAND", "JOB", "NEXT RUN (NEW YORK)");
    for slot in Slot::ALL {
        let next = sched::next_run(s, slot, ctx.now).context("reading the NYSE calendar")?;
        let shown = next.map_or_else(
            || "none in 30 days".into(),
            |t| t.format("%a %Y-%m-%d %H:%M %Z").to_string(),
        );
        outln!(
            "{:<18} {shown:<28} {}",
            slot.name(),
            slot.args(&ctx.config).join(" ")
        );
    }
    let h = sched::next_health(s, ctx.now);
    outln!(
        "{:<18} {:<28} health",
        "health",
        h.format("%a %Y-%m-%d %H:%M %Z").to_string()
    );
    Ok(exit)
}
