//! Saving and loading `state.json` without ever losing it.
//!
//! Save: serialise, replace the file atomically (temp file, fsync, rename, fsync of
//! the directory), then write the same bytes as a backup with a unique sub-second name
//! and prune old backups. Load: validate the schema; if the file is corrupt, truncated
//! or missing while backups exist, say so loudly and use the newest valid backup.
//! An empty default is only ever created when no state has existed at all.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use super::State;
use crate::fsutil;

/// A state file that cannot be used and could not be recovered.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error(
        "{path}: {problem}; no valid backup in {backups} to recover from — fix or restore the file by hand"
    )]
    Unrecoverable {
        path: String,
        problem: String,
        backups: String,
    },
    /// The cause is in the message only, so it is printed once.
    #[error("{path}: cannot save state: {cause}")]
    Save { path: String, cause: std::io::Error },
}

/// Where the state lives and how many backups to keep.
#[derive(Debug, Clone)]
pub struct StateStore {
    pub path: PathBuf,
    pub backups_dir: PathBuf,
    pub keep: usize,
}

/// What `load` found.
#[derive(Debug)]
pub enum Loaded {
    /// No state file and no backups: a first run.
    Fresh,
    /// The state file was valid.
    Ok(State),
    /// The state file was unusable; `state` came from the backup `from`.
    Recovered {
        state: State,
        from: PathBuf,
        problem: String,
    },
}

impl StateStore {
    pub fn new(state_dir: &Path, keep: usize) -> StateStore {
        StateStore {
            path: state_dir.join("state.json"),
            backups_dir: state_dir.join("backups"),
            keep: keep.max(1),
        }
    }

    /// Read the state, recovering from the newest valid backup when needed.
    pub fn load(&self) -> Result<Loaded, StateError> {
        let problem = match std::fs::read(&self.path) {
            Ok(bytes) => match parse(&bytes) {
                Ok(state) => return Ok(Loaded::Ok(state)),
                Err(p) => p,
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if self.backup_files().is_empty() {
                    return Ok(Loaded::Fresh);
                }
                "file is missing although backups exist".to_string()
            }
            Err(e) => format!("cannot read: {e}"),
        };
        for backup in self.backup_files().iter().rev() {
            if let Ok(bytes) = std::fs::read(backup)
                && let Ok(state) = parse(&bytes)
            {
                return Ok(Loaded::Recovered {
                    state,
                    from: backup.clone(),
                    problem,
                });
            }
        }
        Err(StateError::Unrecoverable {
            path: self.path.display().to_string(),
            problem,
            backups: self.backups_dir.display().to_string(),
        })
    }

    /// Save atomically, then back up and prune. Bumps `save_seq` and `updated_at`.
    pub fn save(&self, state: &mut State, now: DateTime<Utc>) -> Result<(), StateError> {
        state.save_seq += 1;
        state.updated_at = now;
        let err = |cause| StateError::Save {
            path: self.path.display().to_string(),
            cause,
        };
        let mut bytes = serde_json::to_vec_pretty(state).map_err(|e| err(e.into()))?;
        bytes.push(b'\n');
        fsutil::write_atomic(&self.path, &bytes).map_err(err)?;
        let name = format!(
            "state-{}-{:09}.json",
            now.format("%Y%m%dT%H%M%S%.9fZ"),
            state.save_seq
        );
        fsutil::write_atomic(&self.backups_dir.join(name), &bytes).map_err(err)?;
        self.prune();
        Ok(())
    }

    /// Backup files, oldest first (names sort by time, then by save number).
    pub fn backup_files(&self) -> Vec<PathBuf> {
        let Ok(rd) = std::fs::read_dir(&self.backups_dir) else {
            return Vec::new();
        };
        let mut files: Vec<PathBuf> = rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("state-") && n.ends_with(".json"))
            })
            .collect();
        files.sort();
        files
    }

    fn prune(&self) {
        let files = self.backup_files();
        if files.len() > self.keep {
            for old in &files[..files.len() - self.keep] {
                // A backup that cannot be removed is only clutter, never a reason to fail a save.
                let _ = std::fs::remove_file(old);
            }
        }
    }
}

/// Parse and validate bytes as a state; the error says what is wrong.
pub fn parse(bytes: &[u8]) -> Result<State, String> {
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Err("file is empty (truncated?)".into());
    }
    let state: State =
        serde_json::from_slice(bytes).map_err(|e| format!("not a valid state: {e}"))?;
    let problems = state.check();
    if problems.is_empty() {
        Ok(state)
    } else {
        Err(format!("invalid state: {}", problems.join("; ")))
    }
}
