//! Crash-safe files and verified checkpoints.
//!
//! What Burn 0.22 does already, and is used as it is: its checkpoint records
//! (`Checkpoint`: model, optimizer and scheduler as burnpack bytes), and atomic
//! writes of its own `.bpk` files (burnpack's writer writes a scratch file, syncs
//! it, renames it into place and syncs the folder). What it does not do, and
//! [`VerifiedCheckpointer`] adds: a burnpack file carries no checksum (a flipped
//! bit inside a tensor loads silently) and nothing says which run wrote it (another
//! configuration's checkpoint of the same shapes loads silently, of other shapes
//! panics inside burn-train). Each file here is Burn's record bytes framed by a
//! header (magic, the run's configuration fingerprint) and an FNV-1a checksum,
//! written atomically, so a resume refuses a torn, corrupt or foreign checkpoint
//! with an error naming the file before burn-train touches it.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use burn::tensor::Bytes;
use burn::train::checkpoint::{Checkpoint, Checkpointer, CheckpointerError};

/// Writes `bytes` to `path` atomically (temp file in the same folder, fsync, rename,
/// fsync of the folder). On failure the temporary file is removed.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::create_dir_all(dir)?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let temp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut file = fs::File::create(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&temp, path)?;
        sync_dir(dir);
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result
}

/// Makes a rename durable (best effort: not every platform can sync a folder).
pub fn sync_dir(dir: &Path) {
    if let Ok(handle) = fs::File::open(dir) {
        let _ = handle.sync_all();
    }
}

/// FNV-1a, 64-bit: the configuration fingerprint and the checkpoint checksum.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    })
}

/// This version's header: burnpack records (Burn 0.22) in a fingerprinted frame.
const MAGIC: &[u8; 8] = b"BMXCKP03";
/// burn-mixup 0.2's header (Burn 0.21 `BinBytesRecorder` records): refused.
const MAGIC_V02: &[u8; 8] = b"BMXREC01";
const EXTENSION: &str = "bmx";
/// burn-mixup 0.2's extension, looked for to refuse its runs by name.
const EXTENSION_V02: &str = "bin";
/// burn-train checkpoints these parts, each through its own checkpointer.
pub const PARTS: [&str; 3] = ["model", "optim", "scheduler"];

/// The checkpoint file of `part` at `epoch` in run folder `run`.
pub fn checkpoint_path(run: &Path, part: &str, epoch: usize) -> PathBuf {
    run.join("checkpoint")
        .join(format!("{part}-{epoch}.{EXTENSION}"))
}

/// A burn-train `Checkpointer` for one part (`model`, `optim` or `scheduler`) of a
/// run, writing `checkpoint/{part}-{epoch}.bmx`.
#[derive(Debug, Clone)]
pub struct VerifiedCheckpointer {
    run: PathBuf,
    part: &'static str,
    tag: u64,
}

impl VerifiedCheckpointer {
    pub fn new(run: &Path, part: &'static str, tag: u64) -> Self {
        Self {
            run: run.to_path_buf(),
            part,
            tag,
        }
    }

    /// Burn's record bytes inside a checkpoint file, after checking header, tag and
    /// checksum; the reason otherwise.
    pub fn open(&self, bytes: &[u8]) -> Result<Vec<u8>, String> {
        if bytes.starts_with(MAGIC_V02) {
            return Err(written_by_v02());
        }
        if bytes.len() < 24 || &bytes[..8] != MAGIC {
            return Err("not a burn-mixup 0.3 checkpoint (bad header)".into());
        }
        let (body, sum) = bytes.split_at(bytes.len() - 8);
        if fnv1a(body) != u64::from_le_bytes(sum.try_into().expect("8 bytes")) {
            return Err("checksum mismatch (truncated or corrupted)".into());
        }
        let tag = u64::from_le_bytes(body[8..16].try_into().expect("8 bytes"));
        if tag != self.tag {
            return Err(format!(
                "written by a run of another configuration (fingerprint {tag:016x}, \
                 this run's is {:016x})",
                self.tag
            ));
        }
        Ok(body[16..].to_vec())
    }

    fn path(&self, epoch: usize) -> PathBuf {
        checkpoint_path(&self.run, self.part, epoch)
    }
}

fn written_by_v02() -> String {
    "written by burn-mixup 0.2 (Burn 0.21), whose checkpoints 0.3 (Burn 0.22) cannot \
     read: start a new run, or finish this one with burn-mixup 0.2 (commit 86cbb10)"
        .into()
}

/// An I/O error of `path`, named in the message burn-train reports.
fn io_error(path: &Path, error: std::io::Error) -> CheckpointerError {
    CheckpointerError::IOError(std::io::Error::new(
        error.kind(),
        format!("{}: {error}", path.display()),
    ))
}

impl<R: Checkpoint> Checkpointer<R> for VerifiedCheckpointer {
    fn save(&self, epoch: usize, record: R) -> Result<(), CheckpointerError> {
        let path = self.path(epoch);
        let record = record
            .checkpoint_into_bytes()
            .map_err(CheckpointerError::Record)?;
        let mut bytes = Vec::with_capacity(record.len() + 24);
        bytes.extend_from_slice(MAGIC);
        bytes.extend_from_slice(&self.tag.to_le_bytes());
        bytes.extend_from_slice(&record);
        let sum = fnv1a(&bytes);
        bytes.extend_from_slice(&sum.to_le_bytes());
        write_atomically(&path, &bytes).map_err(|e| io_error(&path, e))
    }

    fn delete(&self, epoch: usize) -> Result<(), CheckpointerError> {
        let path = self.path(epoch);
        match fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io_error(&path, e)),
            _ => Ok(()),
        }
    }

    fn restore(&self, epoch: usize) -> Result<R, CheckpointerError> {
        let path = self.path(epoch);
        let bytes = fs::read(&path).map_err(|e| io_error(&path, e))?;
        let body = self.open(&bytes).map_err(|reason| {
            CheckpointerError::Unknown(format!("{}: {reason}", path.display()))
        })?;
        R::checkpoint_from_bytes(Bytes::from_bytes_vec(body)).map_err(CheckpointerError::Record)
    }
}

/// The three checkpointers of a run, as `with_custom_checkpointers` takes them.
pub fn checkpointers(run: &Path, tag: u64) -> [VerifiedCheckpointer; 3] {
    PARTS.map(|part| VerifiedCheckpointer::new(run, part, tag))
}

/// The last epoch (1-based, as burn-train counts) whose model, optimizer and
/// scheduler files all exist and verify; `None` when no epoch finished. Leftover
/// temporary files of killed writes (in the run folder and its checkpoints) and the
/// files of every incomplete set are removed. A burn-mixup 0.2 checkpoint is refused
/// by name.
pub fn last_complete_epoch(run: &Path, tag: u64) -> Result<Option<usize>, (PathBuf, String)> {
    let dir = run.join("checkpoint");
    let is_temp = |name: &str| name.starts_with('.') && name.ends_with(".tmp");
    for entry in fs::read_dir(run).into_iter().flatten().flatten() {
        if is_temp(&entry.file_name().to_string_lossy()) {
            let _ = fs::remove_file(entry.path()); // metrics.csv or curves.svg cut by a kill
        }
    }
    let Ok(entries) = fs::read_dir(&dir) else {
        return Ok(None);
    };
    let mut epochs = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let epoch_of = |extension: &str| {
            PARTS.iter().find_map(|part| {
                name.strip_prefix(&format!("{part}-"))
                    .and_then(|rest| rest.strip_suffix(&format!(".{extension}")))
                    .and_then(|n| n.parse::<usize>().ok())
            })
        };
        if is_temp(&name) {
            let _ = fs::remove_file(entry.path());
        } else if epoch_of(EXTENSION_V02).is_some() {
            return Err((entry.path(), written_by_v02()));
        } else if let Some(epoch) = epoch_of(EXTENSION) {
            epochs.push(epoch);
        }
    }
    epochs.sort_unstable();
    epochs.dedup();
    // A set cut short (killed between the three saves, or a save that failed while
    // another epoch's succeeded: burn-train saves asynchronously) is of no use to any
    // resume: its files are removed, whichever epoch it is.
    let (whole, partial): (Vec<usize>, Vec<usize>) = epochs.into_iter().partition(|&epoch| {
        PARTS
            .iter()
            .all(|part| checkpoint_path(run, part, epoch).is_file())
    });
    for epoch in partial {
        for part in PARTS {
            let _ = fs::remove_file(checkpoint_path(run, part, epoch));
        }
    }
    let checkpointer = VerifiedCheckpointer::new(run, PARTS[0], tag);
    if let Some(&epoch) = whole.last() {
        for path in PARTS.map(|part| checkpoint_path(run, part, epoch)) {
            let bytes = fs::read(&path).map_err(|e| (path.clone(), e.to_string()))?;
            checkpointer
                .open(&bytes)
                .map_err(|reason| (path.clone(), reason))?;
        }
        return Ok(Some(epoch));
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::module::Module;
    use burn::nn::{Linear, LinearConfig};
    use burn::store::ModuleRecord;
    use burn::tensor::Device;

    #[test]
    fn records_round_trip_and_damage_or_foreign_tags_are_refused() {
        // Layers draw from the process-wide generator the training tests seed.
        let _draws = crate::training::random_draws();
        let dir = tempfile::tempdir().unwrap();
        let device = Device::flex();
        let layer: Linear = LinearConfig::new(3, 2).init(&device);
        let expected = layer.weight.val().into_data(); // initialises the lazy parameter
        let model = VerifiedCheckpointer::new(dir.path(), "model", 7);
        Checkpointer::<ModuleRecord>::save(&model, 1, layer.clone().into_record()).unwrap();
        let record: ModuleRecord = model.restore(1).unwrap();
        let loaded = layer.clone().load_record(record);
        assert_eq!(loaded.weight.val().into_data(), expected);
        let path = checkpoint_path(dir.path(), "model", 1);
        // Only the model file of epoch 1: no complete epoch, and it is cleared away.
        assert_eq!(last_complete_epoch(dir.path(), 7), Ok(None));
        assert!(!path.exists());
        Checkpointer::<ModuleRecord>::save(&model, 1, layer.clone().into_record()).unwrap();
        for part in ["optim", "scheduler"] {
            fs::copy(&path, checkpoint_path(dir.path(), part, 1)).unwrap();
        }
        fs::write(dir.path().join("checkpoint/.model-2.bmx.9.tmp"), b"torn").unwrap();
        assert_eq!(last_complete_epoch(dir.path(), 7), Ok(Some(1)));
        assert!(!dir.path().join("checkpoint/.model-2.bmx.9.tmp").exists());
        // An older set cut short next to a whole newer one is removed too.
        for part in PARTS {
            fs::copy(&path, checkpoint_path(dir.path(), part, 3)).unwrap();
        }
        fs::remove_file(checkpoint_path(dir.path(), "optim", 1)).unwrap();
        assert_eq!(last_complete_epoch(dir.path(), 7), Ok(Some(3)));
        assert!(!path.exists() && !checkpoint_path(dir.path(), "scheduler", 1).exists());
        let path = checkpoint_path(dir.path(), "model", 3);
        // Another configuration's files are refused, naming the fingerprint.
        let (_, reason) = last_complete_epoch(dir.path(), 8).unwrap_err();
        assert!(reason.contains("another configuration"), "{reason}");
        // One flipped bit or a cut file: checksum mismatch, named by file.
        let mut bytes = fs::read(&path).unwrap();
        bytes[30] ^= 4;
        fs::write(&path, &bytes).unwrap();
        let (bad, reason) = last_complete_epoch(dir.path(), 7).unwrap_err();
        assert!(
            bad.ends_with("model-3.bmx") && reason.contains("checksum"),
            "{reason}"
        );
        fs::write(&path, &bytes[..10]).unwrap();
        assert!(last_complete_epoch(dir.path(), 7).is_err());
        let error = Checkpointer::<ModuleRecord>::restore(&model, 3).unwrap_err();
        assert!(error.to_string().contains("model-3.bmx"), "{error}");
        // A burn-mixup 0.2 run: refused, saying so.
        fs::write(dir.path().join("checkpoint/model-5.bin"), b"BMXREC01...").unwrap();
        let (bad, reason) = last_complete_epoch(dir.path(), 7).unwrap_err();
        assert!(
            bad.ends_with("model-5.bin") && reason.contains("burn-mixup 0.2"),
            "{reason}"
        );
    }

    #[test]
    fn a_failed_save_names_the_file_and_leaves_nothing_behind() {
        // Layers draw from the process-wide generator the training tests seed.
        let _draws = crate::training::random_draws();
        let dir = tempfile::tempdir().unwrap();
        // `checkpoint` is a file, so nothing can be written inside it.
        fs::write(dir.path().join("checkpoint"), b"").unwrap();
        let layer: Linear = LinearConfig::new(3, 2).init(&Device::flex());
        let model = VerifiedCheckpointer::new(dir.path(), "model", 7);
        let error = Checkpointer::<ModuleRecord>::save(&model, 4, layer.into_record()).unwrap_err();
        assert!(
            error.to_string().contains("checkpoint/model-4.bmx"),
            "{error}"
        );
        let entries: Vec<_> = fs::read_dir(dir.path()).unwrap().flatten().collect();
        assert_eq!(entries.len(), 1);
    }
}
