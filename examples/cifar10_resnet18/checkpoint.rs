//! Crash-safe files and verified checkpoints.
//!
//! Every file is written to a temporary name, synced, then renamed over the old one,
//! so a crash leaves the old file or the new one, never half of one. Burn's file
//! checkpointer writes through [`VerifiedRecorder`], which adds that atomicity plus a
//! header naming the run's configuration and a checksum, so a resume refuses a torn,
//! corrupt or foreign checkpoint with an error instead of a panic deep in burn-train.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use burn::record::{
    BinBytesRecorder, FileRecorder, FullPrecisionSettings, Recorder, RecorderError,
};
use burn::serde::{Serialize, de::DeserializeOwned};
use burn::tensor::backend::Backend;

/// Writes `bytes` to `path` atomically (temp file in the same folder, fsync, rename,
/// fsync of the folder).
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

const MAGIC: &[u8; 8] = b"BMXREC01";
const EXTENSION: &str = "bin";
/// Burn's file checkpointer names its files `{model,optim,scheduler}-{epoch}`.
pub const PARTS: [&str; 3] = ["model", "optim", "scheduler"];

/// A Burn file recorder whose files are written atomically and start with a header:
/// magic, the run's configuration fingerprint (`tag`), then Burn's binary record,
/// then an FNV-1a checksum of everything before it.
#[derive(Debug, Default, Clone)]
pub struct VerifiedRecorder {
    tag: u64,
}

impl VerifiedRecorder {
    pub fn new(tag: u64) -> Self {
        Self { tag }
    }

    /// The record inside a checkpoint file, after checking header, tag and checksum.
    pub fn open(&self, bytes: &[u8]) -> Result<Vec<u8>, String> {
        if bytes.len() < 24 || &bytes[..8] != MAGIC {
            return Err("not a burn-mixup checkpoint (bad header)".into());
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
}

type Inner = BinBytesRecorder<FullPrecisionSettings>;

impl<B: Backend> Recorder<B> for VerifiedRecorder {
    type Settings = FullPrecisionSettings;
    type RecordArgs = PathBuf;
    type RecordOutput = ();
    type LoadArgs = PathBuf;

    fn save_item<I: Serialize>(&self, item: I, mut file: PathBuf) -> Result<(), RecorderError> {
        let record = <Inner as Recorder<B>>::save_item(&Inner::default(), item, ())?;
        let mut bytes = MAGIC.to_vec();
        bytes.extend_from_slice(&self.tag.to_le_bytes());
        bytes.extend_from_slice(&record);
        let sum = fnv1a(&bytes);
        bytes.extend_from_slice(&sum.to_le_bytes());
        file.set_extension(EXTENSION);
        write_atomically(&file, &bytes)
            .map_err(|e| RecorderError::Unknown(format!("{}: {e}", file.display())))
    }

    fn load_item<I: DeserializeOwned>(&self, file: &mut PathBuf) -> Result<I, RecorderError> {
        file.set_extension(EXTENSION);
        let bytes = fs::read(&*file)
            .map_err(|e| RecorderError::FileNotFound(format!("{}: {e}", file.display())))?;
        let mut record = self
            .open(&bytes)
            .map_err(|e| RecorderError::Unknown(format!("{}: {e}", file.display())))?;
        <Inner as Recorder<B>>::load_item(&Inner::default(), &mut record)
    }
}

impl<B: Backend> FileRecorder<B> for VerifiedRecorder {
    fn file_extension() -> &'static str {
        EXTENSION
    }
}

/// The checkpoint file of `part` at `epoch` in run folder `run`.
pub fn checkpoint_path(run: &Path, part: &str, epoch: usize) -> PathBuf {
    run.join("checkpoint")
        .join(format!("{part}-{epoch}.{EXTENSION}"))
}

/// The last epoch (1-based, as burn-train counts) whose model, optimizer and
/// scheduler files all exist, after verifying those three files; `None` when no
/// epoch finished. Leftover temporary files of killed writes (in the run folder and
/// its checkpoints) are removed.
pub fn last_complete_epoch(
    run: &Path,
    recorder: &VerifiedRecorder,
) -> Result<Option<usize>, (PathBuf, String)> {
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
        if is_temp(&name) {
            let _ = fs::remove_file(entry.path());
        } else if let Some(epoch) = name
            .strip_prefix("model-")
            .and_then(|rest| rest.strip_suffix(".bin"))
            .and_then(|n| n.parse::<usize>().ok())
        {
            epochs.push(epoch);
        }
    }
    epochs.sort_unstable();
    for &epoch in epochs.iter().rev() {
        let paths = PARTS.map(|part| checkpoint_path(run, part, epoch));
        if !paths.iter().all(|p| p.is_file()) {
            continue; // killed between the three saves: the epoch before is whole
        }
        for path in paths {
            let bytes = fs::read(&path).map_err(|e| (path.clone(), e.to_string()))?;
            recorder
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
    use burn_flex::Flex;

    #[test]
    fn records_round_trip_and_damage_or_foreign_tags_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let device = Default::default();
        let layer: Linear<Flex> = LinearConfig::new(3, 2).init(&device);
        let expected = layer.weight.val().into_data(); // initialises the lazy parameter
        let recorder = VerifiedRecorder::new(7);
        let path = checkpoint_path(dir.path(), "model", 1);
        Recorder::<Flex>::record(&recorder, layer.clone().into_record(), path.clone()).unwrap();
        let loaded: Linear<Flex> = layer
            .clone()
            .load_record(Recorder::<Flex>::load(&recorder, path.clone(), &device).unwrap());
        assert_eq!(loaded.weight.val().into_data(), expected);
        // Only the model file of epoch 1: no complete epoch yet.
        assert_eq!(last_complete_epoch(dir.path(), &recorder), Ok(None));
        for part in ["optim", "scheduler"] {
            fs::copy(&path, checkpoint_path(dir.path(), part, 1)).unwrap();
        }
        fs::write(dir.path().join("checkpoint/.model-2.bin.9.tmp"), b"torn").unwrap();
        assert_eq!(last_complete_epoch(dir.path(), &recorder), Ok(Some(1)));
        assert!(!dir.path().join("checkpoint/.model-2.bin.9.tmp").exists());
        // Another configuration's recorder refuses the files, naming the fingerprint.
        let (_, reason) = last_complete_epoch(dir.path(), &VerifiedRecorder::new(8)).unwrap_err();
        assert!(reason.contains("another configuration"), "{reason}");
        // One flipped bit or a cut file: checksum mismatch, named by file.
        let mut bytes = fs::read(&path).unwrap();
        bytes[30] ^= 4;
        fs::write(&path, &bytes).unwrap();
        let (bad, reason) = last_complete_epoch(dir.path(), &recorder).unwrap_err();
        assert!(
            bad.ends_with("model-1.bin") && reason.contains("checksum"),
            "{reason}"
        );
        fs::write(&path, &bytes[..10]).unwrap();
        assert!(last_complete_epoch(dir.path(), &recorder).is_err());
        assert!(
            Recorder::<Flex>::load::<<Linear<Flex> as Module<Flex>>::Record>(
                &recorder, path, &device
            )
            .is_err()
        );
    }
}
