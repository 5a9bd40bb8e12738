//! CIFAR-10 in its official binary format: reader, validation, synthetic generator.
//!
//! The binary version (`cifar-10-batches-bin/`) holds `data_batch_1..5.bin` and
//! `test_batch.bin`, each a sequence of 3073-byte records: one label byte, then
//! 1024 red, 1024 green and 1024 blue bytes, each plane a row-major 32x32 image.
//! Images stay `u8` in memory (the train set is 150 MB as bytes, 600 MB as f32).

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use burn::data::dataset::Dataset;
use thiserror::Error;

/// Side of a CIFAR image.
pub const SIDE: usize = 32;
/// Bytes of one image (3 planes of 32x32).
pub const IMAGE_BYTES: usize = 3 * SIDE * SIDE;
/// Bytes of one record: the label, then the image.
pub const RECORD_BYTES: usize = 1 + IMAGE_BYTES;
/// Records in each official file.
pub const OFFICIAL_RECORDS_PER_FILE: usize = 10_000;
/// Number of classes.
pub const NUM_CLASSES: usize = 10;
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
    #[error("{path} holds {records} records; the official CIFAR-10 files hold exactly {expected}")]
    WrongRecordCount {
        path: PathBuf,
        records: usize,
        expected: usize,
    },
    #[error("{path}: record {record} has label {label}, but CIFAR-10 labels are 0..=9")]
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

/// One image and its label.
#[derive(Debug, Clone, PartialEq)]
pub struct CifarItem {
    /// `[3, 32, 32]` channel-major bytes, as stored in the file.
    pub pixels: Box<[u8; IMAGE_BYTES]>,
    /// Class index in `0..10`.
    pub label: u8,
    /// Position in the data set: seeds this image's augmentation.
    pub index: usize,
}

/// A split of CIFAR-10 held in memory as bytes.
#[derive(Debug, Clone, Default)]
pub struct CifarDataset {
    images: Vec<u8>,
    labels: Vec<u8>,
}

impl CifarDataset {
    /// Parses and validates the records of one file; `path` names it in errors.
    pub fn parse(bytes: &[u8], path: &Path, count: RecordCount) -> Result<Self, DataError> {
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
        let mut dataset = CifarDataset {
            images: Vec::with_capacity(records * IMAGE_BYTES),
            labels: Vec::with_capacity(records),
        };
        for (record, chunk) in bytes.chunks_exact(RECORD_BYTES).enumerate() {
            let label = chunk[0];
            if label as usize >= NUM_CLASSES {
                return Err(DataError::BadLabel {
                    path: path.to_path_buf(),
                    record,
                    label,
                });
            }
            dataset.labels.push(label);
            dataset.images.extend_from_slice(&chunk[1..]);
        }
        Ok(dataset)
    }

    /// Appends another split (files are read one after the other).
    pub fn extend(&mut self, other: CifarDataset) {
        self.images.extend(other.images);
        self.labels.extend(other.labels);
    }

    /// Keeps the first `limit` images (after every file was validated).
    pub fn truncate(&mut self, limit: usize) {
        let keep = limit.min(self.labels.len());
        self.labels.truncate(keep);
        self.images.truncate(keep * IMAGE_BYTES);
    }

    /// The raw bytes of image `index`.
    pub fn image(&self, index: usize) -> &[u8] {
        &self.images[index * IMAGE_BYTES..(index + 1) * IMAGE_BYTES]
    }

    /// All labels.
    #[cfg(test)]
    pub fn labels(&self) -> &[u8] {
        &self.labels
    }
}

impl Dataset<CifarItem> for CifarDataset {
    fn get(&self, index: usize) -> Option<CifarItem> {
        let label = *self.labels.get(index)?;
        let pixels: Box<[u8; IMAGE_BYTES]> = self
            .image(index)
            .to_vec()
            .into_boxed_slice()
            .try_into()
            .expect("every image slice is IMAGE_BYTES long");
        Some(CifarItem {
            pixels,
            label,
            index,
        })
    }

    fn len(&self) -> usize {
        self.labels.len()
    }
}

/// The two splits.
#[derive(Debug, Clone)]
pub struct Cifar10 {
    pub train: CifarDataset,
    pub test: CifarDataset,
}

/// The hint shown when the data is not where it should be.
pub fn placement_hint(root: &Path) -> String {
    format!(
        "Put the official binary version there: either the archive {archive} \
         (from {url}) or its unpacked folder {dir}/ with {files} and {test}. \
         Without internet, copy either from another machine; or run with --synthetic.",
        archive = root.join(crate::download::ARCHIVE_NAME).display(),
        url = crate::download::ARCHIVE_URL,
        dir = root.join(BATCHES_DIR).display(),
        files = TRAIN_FILES.join(", "),
        test = TEST_FILE,
    )
}

impl Cifar10 {
    /// Reads `root/cifar-10-batches-bin/` if present, else the archive
    /// `root/cifar-10-binary.tar.gz` without unpacking it. Every file is validated.
    pub fn open(root: &Path, count: RecordCount) -> Result<Self, DataError> {
        let dir = root.join(BATCHES_DIR);
        if dir.is_dir() {
            return Self::open_dir(&dir, count, &placement_hint(root));
        }
        let archive = root.join(crate::download::ARCHIVE_NAME);
        if archive.is_file() {
            return Self::open_archive(&archive, count);
        }
        Err(DataError::Missing {
            path: dir,
            hint: placement_hint(root),
        })
    }

    /// Reads the unpacked folder.
    pub fn open_dir(dir: &Path, count: RecordCount, hint: &str) -> Result<Self, DataError> {
        let read = |name: &str| -> Result<CifarDataset, DataError> {
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
            CifarDataset::parse(&bytes, &path, count)
        };
        let mut train = CifarDataset::default();
        for name in TRAIN_FILES {
            train.extend(read(name)?);
        }
        let test = read(TEST_FILE)?;
        Ok(Self { train, test })
    }

    /// Reads the six data files straight out of the `.tar.gz` (one pass, ~1 s for
    /// the 170 MB archive), validating each as `archive/member`.
    pub fn open_archive(archive: &Path, count: RecordCount) -> Result<Self, DataError> {
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
        let mut members: Vec<Option<CifarDataset>> = vec![None; TRAIN_FILES.len() + 1];
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
                members[slot] = Some(CifarDataset::parse(&bytes, &archive.join(&name), count)?);
            }
        }
        let mut take = |slot: usize, name: &str| {
            members[slot].take().ok_or_else(|| DataError::Missing {
                path: archive.join(BATCHES_DIR).join(name),
                hint: "the archive lacks this member: it is not the CIFAR-10 binary release".into(),
            })
        };
        let mut train = CifarDataset::default();
        for (slot, name) in TRAIN_FILES.iter().enumerate() {
            train.extend(take(slot, name)?);
        }
        let test = take(TRAIN_FILES.len(), TEST_FILE)?;
        Ok(Self { train, test })
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
            let label = (SplitMix(sample ^ 0xC1FA).next() % NUM_CLASSES as u64) as u8;
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
pub(crate) mod tests {
    use super::*;

    /// A record whose pixel bytes encode their own position, so decoding can be
    /// checked exactly: byte `1 + c*1024 + y*32 + x` of record `r` is
    /// `(r*7 + c*31 + y*3 + x) % 256`.
    pub fn position_record(r: usize, label: u8) -> Vec<u8> {
        let mut record = vec![label];
        for c in 0..3 {
            for y in 0..SIDE {
                for x in 0..SIDE {
                    record.push(((r * 7 + c * 31 + y * 3 + x) % 256) as u8);
                }
            }
        }
        record
    }

    pub fn write_tiny_dir(root: &Path, records_per_file: usize) -> PathBuf {
        let dir = root.join(BATCHES_DIR);
        fs::create_dir_all(&dir).unwrap();
        for (f, name) in TRAIN_FILES.iter().chain([&TEST_FILE]).enumerate() {
            let bytes: Vec<u8> = (0..records_per_file)
                .flat_map(|r| position_record(f * 100 + r, ((f + r) % NUM_CLASSES) as u8))
                .collect();
            fs::write(dir.join(name), bytes).unwrap();
        }
        dir
    }

    #[test]
    fn decodes_pixels_labels_and_counts_exactly() {
        let root = tempfile::tempdir().unwrap();
        write_tiny_dir(root.path(), 3);
        let data = Cifar10::open(root.path(), RecordCount::Any).unwrap();
        assert_eq!((data.train.len(), data.test.len()), (15, 3));
        for i in 0..15 {
            let (f, r) = (i / 3, i % 3);
            let item = data.train.get(i).unwrap();
            assert_eq!(item.label as usize, (f + r) % NUM_CLASSES);
            assert_eq!(item.index, i);
            let expected = position_record(f * 100 + r, 0);
            for c in 0..3 {
                for y in 0..SIDE {
                    for x in 0..SIDE {
                        let at = c * 1024 + y * 32 + x;
                        assert_eq!(
                            item.pixels[at],
                            expected[1 + at],
                            "record {i} ({c},{y},{x})"
                        );
                    }
                }
            }
        }
        assert!(data.train.get(15).is_none());
    }

    #[test]
    fn reads_the_tar_gz_without_unpacking() {
        let root = tempfile::tempdir().unwrap();
        let source = tempfile::tempdir().unwrap();
        write_tiny_dir(source.path(), 2);
        let archive = root.path().join(crate::download::ARCHIVE_NAME);
        let gz = flate2::write::GzEncoder::new(
            fs::File::create(&archive).unwrap(),
            flate2::Compression::fast(),
        );
        let mut tar = tar::Builder::new(gz);
        tar.append_dir_all(BATCHES_DIR, source.path().join(BATCHES_DIR))
            .unwrap();
        tar.into_inner().unwrap().finish().unwrap();
        let from_archive = Cifar10::open(root.path(), RecordCount::Any).unwrap();
        let from_dir = Cifar10::open(source.path(), RecordCount::Any).unwrap();
        assert_eq!(from_archive.train.len(), 10);
        assert_eq!(from_archive.train.images, from_dir.train.images);
        assert_eq!(from_archive.test.labels, from_dir.test.labels);
    }

    #[test]
    fn malformed_inputs_give_their_error() {
        let root = tempfile::tempdir().unwrap();
        // Missing everything: names the folder and says how to get the data.
        match Cifar10::open(root.path(), RecordCount::Any) {
            Err(DataError::Missing { hint, .. }) => {
                assert!(hint.contains("cifar-10-binary.tar.gz"))
            }
            other => panic!("{other:?}"),
        }
        let dir = write_tiny_dir(root.path(), 2);
        // One missing file.
        fs::remove_file(dir.join("data_batch_3.bin")).unwrap();
        match Cifar10::open(root.path(), RecordCount::Any) {
            Err(DataError::Missing { path, .. }) => assert!(path.ends_with("data_batch_3.bin")),
            other => panic!("{other:?}"),
        }
        write_tiny_dir(root.path(), 2);
        // Not a whole number of records.
        let mut bytes = fs::read(dir.join("data_batch_2.bin")).unwrap();
        bytes.pop();
        fs::write(dir.join("data_batch_2.bin"), &bytes).unwrap();
        match Cifar10::open(root.path(), RecordCount::Any) {
            Err(DataError::BadSize { path, size }) => {
                assert!(path.ends_with("data_batch_2.bin"));
                assert_eq!(size, 2 * RECORD_BYTES as u64 - 1);
            }
            other => panic!("{other:?}"),
        }
        write_tiny_dir(root.path(), 2);
        // A label > 9 at record 1.
        let mut bytes = fs::read(dir.join(TEST_FILE)).unwrap();
        bytes[RECORD_BYTES] = 10;
        fs::write(dir.join(TEST_FILE), &bytes).unwrap();
        match Cifar10::open(root.path(), RecordCount::Any) {
            Err(DataError::BadLabel {
                path,
                record,
                label,
            }) => {
                assert!(path.ends_with(TEST_FILE));
                assert_eq!((record, label), (1, 10));
            }
            other => panic!("{other:?}"),
        }
        write_tiny_dir(root.path(), 2);
        // Whole records, but not the official count.
        match Cifar10::open(root.path(), RecordCount::Official) {
            Err(DataError::WrongRecordCount {
                records: 2,
                expected: 10_000,
                ..
            }) => {}
            other => panic!("{other:?}"),
        }
        // A corrupt archive.
        let other = tempfile::tempdir().unwrap();
        fs::write(
            other.path().join(crate::download::ARCHIVE_NAME),
            b"not gzip at all",
        )
        .unwrap();
        assert!(matches!(
            Cifar10::open(other.path(), RecordCount::Any),
            Err(DataError::CorruptArchive { .. })
        ));
    }

    #[test]
    fn synthetic_set_is_in_the_real_format_and_balanced() {
        let root = tempfile::tempdir().unwrap();
        write_synthetic(root.path(), 500, 100, 7).unwrap();
        let data = Cifar10::open(root.path(), RecordCount::Any).unwrap();
        assert_eq!((data.train.len(), data.test.len()), (500, 100));
        let mut counts = [0usize; NUM_CLASSES];
        for &label in data.train.labels() {
            counts[label as usize] += 1;
        }
        assert!(counts.iter().all(|&c| c > 20), "{counts:?}");
        // Same seed, same bytes.
        let again = tempfile::tempdir().unwrap();
        write_synthetic(again.path(), 500, 100, 7).unwrap();
        assert_eq!(
            fs::read(root.path().join(BATCHES_DIR).join(TEST_FILE)).unwrap(),
            fs::read(again.path().join(BATCHES_DIR).join(TEST_FILE)).unwrap()
        );
    }

    /// Bounded fuzzing of the reader with a seeded generator: random and mutated
    /// record files through `CifarDataset::parse`, and mutated, truncated and random
    /// archives through `Cifar10::open_archive`. No input may panic, and every failure
    /// is a typed error whose message names the file.
    #[test]
    fn random_and_mutated_files_give_typed_errors_never_panics() {
        let mut rng = SplitMix(2026);
        let mut below = |n: usize| (rng.next() % n.max(1) as u64) as usize;
        let path = Path::new("fuzz/data_batch_1.bin");
        let valid: Vec<u8> = (0..4)
            .flat_map(|r| position_record(r, (r % NUM_CLASSES) as u8))
            .collect();
        let (mut parsed, mut refused) = (0, 0);
        for case in 0..3000 {
            let bytes: Vec<u8> = match case % 4 {
                // Random bytes of a random length, often a whole number of records.
                0 => {
                    let records = below(4);
                    let len = records * RECORD_BYTES
                        + if below(2) == 0 {
                            0
                        } else {
                            below(RECORD_BYTES)
                        };
                    (0..len).map(|_| below(256) as u8).collect()
                }
                // A valid file with a few bytes changed (labels included).
                1 => {
                    let mut bytes = valid.clone();
                    for _ in 0..=below(4) {
                        let at = below(bytes.len());
                        bytes[at] = below(256) as u8;
                    }
                    bytes
                }
                // A valid file cut or extended at a random length.
                2 => {
                    let mut bytes = valid.clone();
                    bytes.resize(below(valid.len() + RECORD_BYTES), 7);
                    bytes
                }
                // A label at every position out of range.
                _ => {
                    let mut bytes = valid.clone();
                    bytes[below(4) * RECORD_BYTES] = 10 + below(246) as u8;
                    bytes
                }
            };
            let count = if below(2) == 0 {
                RecordCount::Any
            } else {
                RecordCount::Official
            };
            let outcome = std::panic::catch_unwind(|| CifarDataset::parse(&bytes, path, count));
            match outcome.expect("the parser must not panic") {
                Ok(data) => {
                    assert_eq!(data.len() * RECORD_BYTES, bytes.len());
                    assert!(data.labels().iter().all(|&l| (l as usize) < NUM_CLASSES));
                    parsed += 1;
                }
                Err(err) => {
                    assert!(err.to_string().contains("fuzz/data_batch_1.bin"), "{err}");
                    refused += 1;
                }
            }
        }
        assert!(
            parsed > 100 && refused > 1000,
            "{parsed} parsed, {refused} refused"
        );

        // Archives: a valid tiny .tar.gz, then mutated, truncated and random versions.
        let root = tempfile::tempdir().unwrap();
        let source = tempfile::tempdir().unwrap();
        write_tiny_dir(source.path(), 2);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        {
            let mut tar = tar::Builder::new(&mut gz);
            tar.append_dir_all(BATCHES_DIR, source.path().join(BATCHES_DIR))
                .unwrap();
            tar.finish().unwrap();
        }
        let archive_bytes = gz.finish().unwrap();
        let archive = root.path().join("fuzz.tar.gz");
        let mut archive_errors = 0;
        for case in 0..300 {
            let bytes: Vec<u8> = match case % 3 {
                0 => {
                    let mut bytes = archive_bytes.clone();
                    for _ in 0..=below(8) {
                        let at = below(bytes.len());
                        bytes[at] ^= 1 << below(8);
                    }
                    bytes
                }
                1 => archive_bytes[..below(archive_bytes.len())].to_vec(),
                _ => (0..below(4096)).map(|_| below(256) as u8).collect(),
            };
            fs::write(&archive, &bytes).unwrap();
            let outcome =
                std::panic::catch_unwind(|| Cifar10::open_archive(&archive, RecordCount::Any));
            if let Err(err) = outcome.expect("reading an archive must not panic") {
                assert!(
                    err.to_string().contains("fuzz.tar.gz"),
                    "case {case}: {err}"
                );
                archive_errors += 1;
            }
        }
        assert!(
            archive_errors > 200,
            "{archive_errors} of 300 archives refused"
        );
    }
}
