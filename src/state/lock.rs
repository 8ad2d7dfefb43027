//! The single-writer lock `state/trader.lock`: an flock held for a whole command.
//!
//! flock (std `File::try_lock`) is released by the kernel when the process dies, so a
//! crashed run never leaves a stale lock behind. The holder writes who it is into the
//! file (while holding the lock) so a second run can name it.
//!
//! The record alone cannot be trusted by a reader: between the winner's flock and its write
//! the file still holds the previous (dead) holder's record, or nothing. So the holder's pid
//! is taken from the kernel (`/proc/locks`, which lists every flock with its pid and inode),
//! and the record is read with a short retry until it names that pid; `health` finds the
//! holder the same way without taking the lock itself.

use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
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
    let s = crate::fsutil::read_regular_to_string(path).ok()?;
    serde_json::from_str(&s).ok()
}

/// Who holds the lock right now, without taking it (a probe must never make a starting job
/// fail with "lock held"): the kernel's lock table names the holder's pid. Where that table
/// is not available, the lock is taken and released to find out.
pub fn probe(path: &Path) -> Result<Option<Holder>, std::io::Error> {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    if !meta.is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a regular file",
        ));
    }
    match kernel_holders(&meta) {
        // A holder outside our pid namespace shows as pid 0: held, by a pid we cannot see.
        Some(pids) => Ok(pids
            .first()
            .map(|pid| holder_record(path, Some(*pid).filter(|p| *p != 0)))),
        None => {
            let file = OpenOptions::new().read(true).write(true).open(path)?;
            match file.try_lock() {
                Ok(()) => Ok(None),
                Err(std::fs::TryLockError::WouldBlock) => Ok(Some(holder_record(path, None))),
                Err(std::fs::TryLockError::Error(e)) => Err(e),
            }
        }
    }
}

/// Whether a process with this pid is alive (Linux /proc).
pub fn pid_alive(pid: u32) -> bool {
    pid != 0 && Path::new(&format!("/proc/{pid}")).exists()
}

/// The pids holding an flock on the file of `meta`, from `/proc/locks`; `None` when the
/// table cannot be read (not Linux, /proc not mounted).
#[cfg(unix)]
fn kernel_holders(meta: &std::fs::Metadata) -> Option<Vec<u32>> {
    use std::os::unix::fs::MetadataExt;
    let table = std::fs::read_to_string("/proc/locks").ok()?;
    let dev = meta.dev();
    // Linux dev_t encoding (glibc's gnu_dev_major/minor).
    let major = ((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff);
    let minor = (dev & 0xff) | ((dev >> 12) & !0xff);
    let id = format!("{major:02x}:{minor:02x}:{}", meta.ino());
    Some(
        table
            .lines()
            .filter_map(|line| {
                let f: Vec<&str> = line.split_whitespace().collect();
                // "N: FLOCK ADVISORY WRITE <pid> <maj:min:ino> <start> <end>"; waiters ("->")
                // and POSIX locks are skipped.
                (f.len() >= 6 && f[1] == "FLOCK" && f[5] == id)
                    .then(|| f[4].parse().ok())
                    .flatten()
            })
            .collect(),
    )
}

#[cfg(not(unix))]
fn kernel_holders(_meta: &std::fs::Metadata) -> Option<Vec<u32>> {
    None
}

/// The holder as truthfully as it can be named: the record is read again for up to about a
/// second until it names the kernel's pid (or, without one, a live process); a record that
/// never becomes consistent is replaced by what is known for sure (the pid, command unknown).
fn holder_record(path: &Path, kernel_pid: Option<u32>) -> Holder {
    let consistent = |h: &Holder| match kernel_pid {
        Some(pid) => h.pid == pid,
        None => pid_alive(h.pid),
    };
    for _ in 0..100 {
        if let Some(h) = read_holder(path).filter(|h| consistent(h)) {
            return h;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    Holder {
        pid: kernel_pid.unwrap_or(0),
        command: "unknown (not recorded yet)".into(),
        since: DateTime::<Utc>::MIN_UTC,
    }
}

fn held_error(path: &Path) -> LockError {
    let shown = path.display().to_string();
    let kernel_pid = std::fs::metadata(path)
        .ok()
        .and_then(|m| kernel_holders(&m))
        .and_then(|pids| pids.first().copied())
        .filter(|pid| *pid != 0);
    let h = holder_record(path, kernel_pid);
    if h.pid == 0 {
        return LockError::HeldUnknown { path: shown };
    }
    LockError::Held {
        path: shown,
        pid: h.pid,
        command: h.command,
        since: if h.since == DateTime::<Utc>::MIN_UTC {
            "an unknown time".into()
        } else {
            h.since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        },
    }
}
