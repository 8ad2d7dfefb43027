//! The single-writer lock `state/trader.lock`: an flock held for a whole command.
//!
//! flock (std `File::try_lock`) is released by the kernel when the process dies, so a
//! crashed run never leaves a stale lock behind. The holder writes who it is into the
//! file so a second run can name it.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Who holds the lock, as written into the lock file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Holder {
    pub pid: u32,
    pub command: String,
    pub since: DateTime<Utc>,
}

/// The lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("another trader run holds {path}: pid {pid}, `{command}`, since {since}")]
    Held {
        path: String,
        pid: u32,
        command: String,
        since: String,
    },
    #[error("another trader run holds {path} (holder unknown)")]
    HeldUnknown { path: String },
    /// The cause is in the message only, so it is printed once.
    #[error("cannot open lock file {path}: {cause}")]
    Io { path: String, cause: std::io::Error },
}

/// A held lock; dropping it releases the lock.
#[derive(Debug)]
pub struct StateLock {
    _file: File,
    pub path: PathBuf,
}

/// Take the lock without waiting, or say who has it.
pub fn acquire(path: &Path, command: &str, now: DateTime<Utc>) -> Result<StateLock, LockError> {
    let shown = path.display().to_string();
    let io = |cause| LockError::Io {
        path: shown.clone(),
        cause,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(io)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => return Err(held_error(path)),
        Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
    }
    let holder = Holder {
        pid: std::process::id(),
        command: command.to_string(),
        since: now,
    };
    let body = serde_json::to_string(&holder).unwrap_or_default();
    file.set_len(0).map_err(io)?;
    file.seek(SeekFrom::Start(0)).map_err(io)?;
    file.write_all(body.as_bytes()).map_err(io)?;
    file.flush().map_err(io)?;
    Ok(StateLock {
        _file: file,
        path: path.to_path_buf(),
    })
}

/// The holder recorded in the lock file, if any can be read.
pub fn read_holder(path: &Path) -> Option<Holder> {
    let mut s = String::new();
    File::open(path).ok()?.read_to_string(&mut s).ok()?;
    serde_json::from_str(&s).ok()
}

/// Whether the lock is free right now (probing takes and releases it).
pub fn probe(path: &Path) -> Result<Option<Holder>, std::io::Error> {
    if !path.exists() {
        return Ok(None);
    }
    let file = OpenOptions::new().read(true).write(true).open(path)?;
    match file.try_lock() {
        Ok(()) => Ok(None),
        Err(std::fs::TryLockError::WouldBlock) => Ok(Some(read_holder(path).unwrap_or(Holder {
            pid: 0,
            command: "unknown".into(),
            since: DateTime::<Utc>::MIN_UTC,
        }))),
        Err(std::fs::TryLockError::Error(e)) => Err(e),
    }
}

/// Whether a process with this pid is alive (Linux /proc).
pub fn pid_alive(pid: u32) -> bool {
    pid != 0 && Path::new(&format!("/proc/{pid}")).exists()
}

fn held_error(path: &Path) -> LockError {
    let shown = path.display().to_string();
    // The holder writes its record just after taking the lock: a refusal in between finds the
    // file empty, so look again for a moment before calling the holder unknown.
    let mut holder = read_holder(path);
    for _ in 0..20 {
        if holder.is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
        holder = read_holder(path);
    }
    match holder {
        Some(h) => LockError::Held {
            path: shown,
            pid: h.pid,
            command: h.command,
            since: h.since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        },
        None => LockError::HeldUnknown { path: shown },
    }
}
