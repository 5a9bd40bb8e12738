//! One process per run folder: an operating-system lock on `run.lock`, held for the
//! run's whole life.
//!
//! The lock is the kernel's (`flock`, through `std::fs::File::try_lock`): it is
//! released however the process ends, `kill -9` included, so a stale lock never
//! blocks a resume, and a second process on the same folder is refused at once,
//! before it reads or cleans anything, with the holder's process id.

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// The lock file inside a run folder.
pub const LOCK_FILE: &str = "run.lock";

/// Why a run folder could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "{dir} is in use by another process ({holder}): one process per run folder; \
         wait for it to finish, or stop it first"
    )]
    InUse { dir: PathBuf, holder: String },
    #[error("cannot write {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The held lock of a run folder; released when dropped or when the process ends.
#[derive(Debug)]
pub struct RunLock {
    _file: File,
}

impl RunLock {
    /// Creates `dir` if needed and takes its lock, writing this process's id into
    /// the lock file for whoever is refused next.
    pub fn acquire(dir: &Path) -> Result<Self, LockError> {
        let path = dir.join(LOCK_FILE);
        let io = |source| LockError::Io {
            path: path.clone(),
            source,
        };
        fs::create_dir_all(dir).map_err(io)?;
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = match holder.trim() {
                    "" => "process id not yet written".to_string(),
                    text => text.to_string(),
                };
                return Err(LockError::InUse {
                    dir: dir.to_path_buf(),
                    holder,
                });
            }
            Err(TryLockError::Error(source)) => return Err(io(source)),
        }
        file.set_len(0).map_err(io)?;
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        writeln!(file, "process {}", std::process::id()).map_err(io)?;
        file.sync_all().map_err(io)?;
        Ok(Self { _file: file })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_folder_is_refused_naming_the_holder_and_freed_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("run");
        let held = RunLock::acquire(&run).unwrap();
        let refused = RunLock::acquire(&run).unwrap_err().to_string();
        let holder = format!("process {}", std::process::id());
        assert!(
            refused.contains("in use") && refused.contains(&holder),
            "{refused}"
        );
        drop(held);
        // A lock file left behind (as after kill -9) does not block.
        assert!(run.join(LOCK_FILE).is_file());
        let again = RunLock::acquire(&run).unwrap();
        drop(again);
        // A folder that cannot be created is an error naming it.
        fs::write(dir.path().join("file"), b"").unwrap();
        let error = RunLock::acquire(&dir.path().join("file/run")).unwrap_err();
        assert!(error.to_string().contains("file/run"), "{error}");
    }
}
