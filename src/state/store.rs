//! Saving and loading `state.json` without ever losing it.
//!
//! Save: serialise, replace the file atomically (temp file, fsync, rename, fsync of
//! the directory), then write the same bytes as a backup named by time and save number
//! and prune old backups (by save number, keeping exactly the configured count). Load:
//! validate the schema and the invariants; if the file is corrupt, truncated or missing
//! while backups exist, say so loudly and use the newest valid backup (highest save
//! number); the lock holder first moves the unusable file aside. `save_seq` only grows:
//! every save goes past the highest number in the file and every backup.
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
    #[error(
        "{path}: refusing to save an invalid state ({problems}); the file on disk is unchanged"
    )]
    Invalid { path: String, problems: String },
    /// The cause is in the message only, so it is printed once.
    #[error("{path}: cannot save state: {cause}")]
    Save { path: String, cause: std::io::Error },
}

/// Where the state lives, how many backups to keep and the clock times are checked against.
#[derive(Debug, Clone)]
pub struct StateStore {
    pub path: PathBuf,
    pub backups_dir: PathBuf,
    pub keep: usize,
    /// The job's clock: a state recording a time more than a day after it is refused.
    pub now: Option<DateTime<Utc>>,
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
        /// Where the unusable file was moved (by [`StateStore::open`]; `load` moves nothing).
        moved_to: Option<PathBuf>,
    },
}

impl StateStore {
    pub fn new(state_dir: &Path, keep: usize) -> StateStore {
        StateStore {
            path: state_dir.join("state.json"),
            backups_dir: state_dir.join("backups"),
            keep: keep.max(1),
            now: None,
        }
    }

    /// Check recorded times against `now` (the job's clock).
    pub fn at(mut self, now: DateTime<Utc>) -> StateStore {
        self.now = Some(now);
        self
    }

    /// Read the state, recovering from the newest valid backup when needed. Read-only.
    /// `save_seq` of what is returned is the highest known (file and every backup), so the
    /// next save never reuses a number.
    pub fn load(&self) -> Result<Loaded, StateError> {
        let problem = match fsutil::read_regular(&self.path) {
            Ok(bytes) => match parse_at(&bytes, self.now) {
                Ok(mut state) => {
                    state.save_seq = state.save_seq.max(self.highest_seq());
                    return Ok(Loaded::Ok(state));
                }
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
            if let Ok(bytes) = fsutil::read_regular(backup)
                && let Ok(mut state) = parse_at(&bytes, self.now)
            {
                state.save_seq = state.save_seq.max(self.highest_seq());
                return Ok(Loaded::Recovered {
                    state,
                    from: backup.clone(),
                    problem,
                    moved_to: None,
                });
            }
        }
        Err(StateError::Unrecoverable {
            path: self.path.display().to_string(),
            problem,
            backups: self.backups_dir.display().to_string(),
        })
    }

    /// [`Self::load`] for the holder of the state lock: an unusable state file that a backup
    /// replaces is first moved aside to `state.json.corrupt-<save_seq>-<time>` (evidence is
    /// never deleted). A file that nothing replaces stays where it is.
    pub fn open(&self, now: DateTime<Utc>) -> Result<Loaded, StateError> {
        let loaded = self.load()?;
        let Loaded::Recovered {
            state,
            from,
            problem,
            ..
        } = loaded
        else {
            return Ok(loaded);
        };
        let mut moved_to = None;
        if std::fs::symlink_metadata(&self.path).is_ok() {
            let stem = format!(
                "state.json.corrupt-{}-{}",
                state.save_seq,
                now.format("%Y%m%dT%H%M%SZ")
            );
            let dir = self.path.parent().unwrap_or(Path::new("."));
            let mut to = dir.join(&stem);
            let mut n = 1;
            while std::fs::symlink_metadata(&to).is_ok() {
                to = dir.join(format!("{stem}-{n}"));
                n += 1;
            }
            std::fs::rename(&self.path, &to)
                .and_then(|()| fsutil::sync_dir(dir))
                .map_err(|cause| StateError::Save {
                    path: self.path.display().to_string(),
                    cause,
                })?;
            moved_to = Some(to);
        }
        Ok(Loaded::Recovered {
            state,
            from,
            problem,
            moved_to,
        })
    }

    /// Save atomically, then back up and prune. Bumps `save_seq` (past every number seen)
    /// and sets `updated_at`.
    /// A state that breaks an invariant is never written (the next load would refuse it).
    pub fn save(&self, state: &mut State, now: DateTime<Utc>) -> Result<(), StateError> {
        let problems = state.check();
        if !problems.is_empty() {
            return Err(StateError::Invalid {
                path: self.path.display().to_string(),
                problems: problems.join("; "),
            });
        }
        state.save_seq = state.save_seq.max(self.highest_seq()) + 1;
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

    /// Backup files, oldest first: by the save number in their name (never by name order or
    /// clock, which can step back), then by name.
    pub fn backup_files(&self) -> Vec<PathBuf> {
        let Ok(rd) = std::fs::read_dir(&self.backups_dir) else {
            return Vec::new();
        };
        let mut files: Vec<(u64, PathBuf)> = rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter_map(|p| Some((backup_seq(&p)?, p)))
            .collect();
        files.sort();
        files.into_iter().map(|(_, p)| p).collect()
    }

    /// The highest save number known: the state file's (even when it is otherwise unusable)
    /// and every backup's.
    pub fn highest_seq(&self) -> u64 {
        let in_file = fsutil::read_regular(&self.path)
            .ok()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .and_then(|v| v.get("save_seq")?.as_u64())
            .unwrap_or(0);
        self.backup_files()
            .iter()
            .filter_map(|p| backup_seq(p))
            .fold(in_file, u64::max)
    }

    /// Keep the `keep` backups with the highest save numbers.
    pub fn prune(&self) {
        let files = self.backup_files();
        if files.len() > self.keep {
            for old in &files[..files.len() - self.keep] {
                // A backup that cannot be removed is only clutter, never a reason to fail a save.
                let _ = std::fs::remove_file(old);
            }
        }
    }

    /// Remove the temp files (`.tmp-*.partial`) killed runs left in the state and backup
    /// directories; only the holder of the state lock may call this. Returns the count.
    pub fn clean_partials(&self) -> usize {
        let dir = self.path.parent().unwrap_or(Path::new("."));
        fsutil::remove_partials(dir) + fsutil::remove_partials(&self.backups_dir)
    }
}

/// The save number in a backup's name `state-<time>-<seq>.json`.
pub fn backup_seq(p: &Path) -> Option<u64> {
    let name = p.file_name()?.to_str()?;
    let core = name.strip_prefix("state-")?.strip_suffix(".json")?;
    core.rsplit_once('-')?.1.parse().ok()
}

/// Parse and validate bytes as a state; the error says what is wrong.
pub fn parse(bytes: &[u8]) -> Result<State, String> {
    parse_at(bytes, None)
}

/// [`parse`], also refusing times more than a day after `now`.
pub fn parse_at(bytes: &[u8], now: Option<DateTime<Utc>>) -> Result<State, String> {
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Err("file is empty (truncated?)".into());
    }
    let state: State = from_json(bytes).map_err(|e| format!("not a valid state: {e}"))?;
    let problems = state.check_at(now);
    if problems.is_empty() {
        Ok(state)
    } else {
        Err(format!("invalid state: {}", problems.join("; ")))
    }
}

/// Deserialise JSON whose errors name the field they are at (`account.cash_cents: invalid
/// type: …`), not only a line and column.
pub fn from_json<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let v: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        if path.is_empty() || path == "." {
            e.inner().to_string()
        } else {
            format!("{path}: {}", e.inner())
        }
    })?;
    de.end().map_err(|e| e.to_string())?;
    Ok(v)
}
