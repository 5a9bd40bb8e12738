//! CIFAR-10 in its official binary format: reader, validation, synthetic generator.
//!
//! The binary version (`cifar-10-batches-bin/`) holds `data_batch_1..5.bin` and
//! `test_batch.bin`, each a sequence of 3073-byte records: one label byte, then
//! 1024 red, 1024 green and 1024 blue bytes, each plane a row-major 32x32 image.
//! Images stay `u8` in memory (the train set is 150 MB as bytes, 600 MB as f32).

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use thiserror::Error;

pub use crate::images::NUM_CLASSES;
use crate::images::{ImageFormat, ImageSet, Splits};

/// Side of a CIFAR image.
pub const SIDE: usize = 32;
/// Bytes of one image (3 planes of 32x32).
pub const IMAGE_BYTES: usize = 3 * SIDE * SIDE;
/// Bytes of one record: the label, then the image.
pub const RECORD_BYTES: usize = 1 + IMAGE_BYTES;
/// Records in each official file.
pub const OFFICIAL_RECORDS_PER_FILE: usize = 10_000;
/// Folder of the binary version inside the archive.
pub const BATCHES_DIR: &str = "cifar-10-batches-bin";
/// The five training files, in order.
pub const TRAIN_FILES: [&str; 5] = [
    "data_batch_1.bin",
    "data_batch_2.bin",
    "data_batch_3.bin",
    "data_batch_4.bin",
    "data_batch_5.bin",
];
/// The test file.
pub const TEST_FILE: &str = "test_batch.bin";
/// The class names, as in `batches.meta.txt`.
pub const CLASS_NAMES: [&str; NUM_CLASSES] = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
];

/// Everything that can be wrong with the data, each naming the file (and record).
#[derive(Debug, Error)]
pub enum DataError {
    #[error("{path} is missing.\n{hint}")]
    Missing { path: PathBuf, hint: String },
    /// The unpacked folder is there without all six files: nothing is downloaded
    /// over it (the folder may hold a user's partial copy).
    #[error("{dir} is incomplete: {missing} missing.\n{hint}")]
    Incomplete {
        dir: PathBuf,
        missing: String,
        hint: String,
    },
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{path} holds {size} bytes, not a whole number of {RECORD_BYTES}-byte records (a truncated or foreign file)"
    )]
    BadSize { path: PathBuf, size: u64 },
    #[error("{path} holds {records} records; the official file holds exactly {expected}")]
    WrongRecordCount {
        path: PathBuf,
        records: usize,
        expected: usize,
    },
    #[error("{path}: record {record} has label {label}, but the 10 classes are 0..=9")]
    BadLabel {
        path: PathBuf,
        record: usize,
        label: u8,
    },
    #[error("{path}: MD5 is {actual}, expected {expected} (a corrupt or different file)")]
    ChecksumMismatch {
        path: PathBuf,
        expected: String,
        actual: String,
    },
    #[error("{path} is not a readable gzip/tar archive: {reason}")]
    CorruptArchive { path: PathBuf, reason: String },
    #[error("{path} is {actual} bytes long, expected {expected}: the transfer was cut short")]
    Truncated {
        path: PathBuf,
        expected: u64,
        actual: u64,
    },
    #[error("download of {url} failed: {reason}\n{hint}")]
    Download {
        url: String,
        reason: String,
        hint: String,
    },
    /// A Fashion-MNIST file that is not what it should be.
    #[error(transparent)]
    Idx(#[from] crate::idx::IdxError),
    #[error("image {index} was asked of a set of {len} images")]
    NoSuchImage { index: usize, len: usize },
}

/// How many records each file must hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordCount {
    /// Exactly 10,000, as the official release (catches a file cut at a record
    /// boundary).
    Official,
    /// Any positive whole number (synthetic sets and test fixtures).
    Any,
}

/// Parses and validates the records of one file; `path` names it in errors.
pub fn parse_records(bytes: &[u8], path: &Path, count: RecordCount) -> Result<ImageSet, DataError> {
    if bytes.is_empty() || !bytes.len().is_multiple_of(RECORD_BYTES) {
        return Err(DataError::BadSize {
            path: path.to_path_buf(),
            size: bytes.len() as u64,
        });
    }
    let records = bytes.len() / RECORD_BYTES;
    if count == RecordCount::Official && records != OFFICIAL_RECORDS_PER_FILE {
        return Err(DataError::WrongRecordCount {
            path: path.to_path_buf(),
            records,
            expected: OFFICIAL_RECORDS_PER_FILE,
        });
    }
    let mut images = Vec::with_capacity(records * IMAGE_BYTES);
    let mut labels = Vec::with_capacity(records);
    for (record, chunk) in bytes.chunks_exact(RECORD_BYTES).enumerate() {
        let label = chunk[0];
        if label as usize >= NUM_CLASSES {
            return Err(DataError::BadLabel {
                path: path.to_path_buf(),
                record,
                label,
            });
        }
        labels.push(label);
        images.extend_from_slice(&chunk[1..]);
    }
    Ok(ImageSet::from_parts(ImageFormat::CIFAR, images, labels))
}

/// CIFAR-10's files.
pub struct Cifar10;

impl Cifar10 {
    /// Reads `root/cifar-10-batches-bin/` if present, else the archive
    /// `root/cifar-10-binary.tar.gz` without unpacking it. Every file is validated.
    pub fn open(root: &Path, count: RecordCount) -> Result<Splits, DataError> {
        let dir = root.join(BATCHES_DIR);
        let hint = crate::download::placement_hint(root);
        if dir.is_dir() {
            let files = TRAIN_FILES.iter().chain([&TEST_FILE]);
            let missing: Vec<&str> = files.filter(|f| !dir.join(f).is_file()).copied().collect();
            if !missing.is_empty() {
                let missing = missing.join(", ");
                return Err(DataError::Incomplete { dir, missing, hint });
            }
            return Cifar10::open_dir(&dir, count, &hint);
        }
        let archive = root.join(crate::download::ARCHIVE_NAME);
        if archive.is_file() {
            return Cifar10::open_archive(&archive, count);
        }
        Err(DataError::Missing { path: dir, hint })
    }

    /// Reads the unpacked folder.
    pub fn open_dir(dir: &Path, count: RecordCount, hint: &str) -> Result<Splits, DataError> {
        let read = |name: &str| -> Result<ImageSet, DataError> {
            let path = dir.join(name);
            let bytes = fs::read(&path).map_err(|source| match source.kind() {
                std::io::ErrorKind::NotFound => DataError::Missing {
                    path: path.clone(),
                    hint: hint.to_string(),
                },
                _ => DataError::Io {
                    path: path.clone(),
                    source,
                },
            })?;
            parse_records(&bytes, &path, count)
        };
        let mut train = ImageSet::empty(ImageFormat::CIFAR);
        for name in TRAIN_FILES {
            train.extend(read(name)?);
        }
        let test = read(TEST_FILE)?;
        Ok(Splits { train, test })
    }

    /// Reads the six data files straight out of the `.tar.gz` (one pass, ~1 s for
    /// the 170 MB archive), validating each as `archive/member`.
    pub fn open_archive(archive: &Path, count: RecordCount) -> Result<Splits, DataError> {
        let corrupt = |reason: String| DataError::CorruptArchive {
            path: archive.to_path_buf(),
            reason,
        };
        let file = fs::File::open(archive).map_err(|source| DataError::Io {
            path: archive.to_path_buf(),
            source,
        })?;
        let mut tar =
            tar::Archive::new(flate2::read::GzDecoder::new(std::io::BufReader::new(file)));
        let mut members: Vec<Option<ImageSet>> = vec![None; TRAIN_FILES.len() + 1];
        let entries = tar.entries().map_err(|e| corrupt(e.to_string()))?;
        for entry in entries {
            let mut entry = entry.map_err(|e| corrupt(e.to_string()))?;
            let name = entry
                .path()
                .map_err(|e| corrupt(e.to_string()))?
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default()
                .to_string();
            let slot = TRAIN_FILES
                .iter()
                .position(|f| *f == name)
                .or((name == TEST_FILE).then_some(TRAIN_FILES.len()));
            if let Some(slot) = slot {
                let mut bytes = Vec::with_capacity(entry.size() as usize);
                entry
                    .read_to_end(&mut bytes)
                    .map_err(|e| corrupt(format!("{name}: {e}")))?;
                members[slot] = Some(parse_records(&bytes, &archive.join(&name), count)?);
            }
        }
        let mut take = |slot: usize, name: &str| {
            members[slot].take().ok_or_else(|| DataError::Missing {
                path: archive.join(BATCHES_DIR).join(name),
                hint: "the archive lacks this member: it is not the CIFAR-10 binary release".into(),
            })
        };
        let mut train = ImageSet::empty(ImageFormat::CIFAR);
        for (slot, name) in TRAIN_FILES.iter().enumerate() {
            train.extend(take(slot, name)?);
        }
        let test = take(TRAIN_FILES.len(), TEST_FILE)?;
        Ok(Splits { train, test })
    }
}

/// A small pseudo-random generator for the synthetic set (no global state).
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// The class of synthetic sample `sample`.
pub fn synthetic_label(sample: u64) -> u8 {
    (SplitMix(sample ^ 0xC1FA).next() % NUM_CLASSES as u64) as u8
}

/// One synthetic record: class-dependent colour and stripe pattern plus noise.
///
/// Class `k` has a base colour (from a fixed palette) and stripes whose orientation
/// and frequency depend on `k`; each image is shifted at random and noised, so a
/// small CNN must learn the pattern, not memorise pixels.
pub fn synthetic_record(label: u8, rng_seed: u64) -> [u8; RECORD_BYTES] {
    let mut rng = SplitMix(rng_seed);
    let k = label as usize;
    let palette = [
        [200, 60, 60],
        [60, 200, 60],
        [60, 60, 200],
        [200, 200, 60],
        [200, 60, 200],
        [60, 200, 200],
        [230, 140, 40],
        [120, 120, 120],
        [40, 140, 230],
        [140, 40, 230],
    ];
    let period = 4 + (k % 5) as i64 * 2;
    let horizontal = k.is_multiple_of(2);
    let shift = (rng.next() % 32) as i64;
    let mut record = [0u8; RECORD_BYTES];
    record[0] = label;
    for y in 0..SIDE as i64 {
        for x in 0..SIDE as i64 {
            let coordinate = if horizontal { y } else { x } + shift;
            let stripe = if (coordinate / (period / 2)) % 2 == 0 {
                1.0
            } else {
                0.45
            };
            for c in 0..3 {
                let noise = (rng.next() % 61) as f32 - 30.0;
                let value = palette[k][c] as f32 * stripe + noise;
                record[1 + c * SIDE * SIDE + (y as usize) * SIDE + x as usize] =
                    value.clamp(0.0, 255.0) as u8;
            }
        }
    }
    record
}

/// Writes a learnable synthetic CIFAR-shaped set in the real binary format under
/// `root/cifar-10-batches-bin/`: `train` images over the five training files and
/// `test` in the test file. Files are written atomically.
pub fn write_synthetic(
    root: &Path,
    train: usize,
    test: usize,
    seed: u64,
) -> Result<PathBuf, DataError> {
    let dir = root.join(BATCHES_DIR);
    fs::create_dir_all(&dir).map_err(|source| DataError::Io {
        path: dir.clone(),
        source,
    })?;
    let write = |name: &str, count: usize, offset: u64| -> Result<(), DataError> {
        let mut bytes = Vec::with_capacity(count * RECORD_BYTES);
        for i in 0..count as u64 {
            let sample = seed.wrapping_mul(1_000_003).wrapping_add(offset + i);
            let label = synthetic_label(sample);
            bytes.extend_from_slice(&synthetic_record(label, sample));
        }
        crate::checkpoint::write_atomically(&dir.join(name), &bytes).map_err(|source| {
            DataError::Io {
                path: dir.join(name),
                source,
            }
        })
    };
    let per_file = train.div_ceil(TRAIN_FILES.len()).max(1);
    let mut written = 0;
    for (i, name) in TRAIN_FILES.iter().enumerate() {
        let count = per_file.min(train.saturating_sub(written)).max(1);
        write(name, count, (i * per_file) as u64)?;
        written += count;
    }
    write(TEST_FILE, test.max(1), 1 << 40)?;
    let meta = CLASS_NAMES.join("\n") + "\n\n";
    crate::checkpoint::write_atomically(&dir.join("batches.meta.txt"), meta.as_bytes()).map_err(
        |source| DataError::Io {
            path: dir.join("batches.meta.txt"),
            source,
        },
    )?;
    Ok(dir)
}

#[cfg(test)]
#[path = "data_tests.rs"]
mod tests;
