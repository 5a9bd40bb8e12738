//! Tests of the CIFAR-10 reader: exact decoding, the archive path, each malformed
//! input's error, the synthetic set, and a bounded fuzz run.

use super::*;
use burn::data::dataset::Dataset;

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
    let err = data.train.get(15).unwrap_err().to_string();
    assert!(
        err.contains("image 15") && err.contains("15 images"),
        "{err}"
    );
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
    assert_eq!(from_archive.train, from_dir.train);
    assert_eq!(from_archive.test, from_dir.test);
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
    // Missing files in a folder that is there: named, all of them, and not a
    // `Missing` (which the trainer answers with a download).
    fs::remove_file(dir.join("data_batch_3.bin")).unwrap();
    fs::remove_file(dir.join("test_batch.bin")).unwrap();
    match Cifar10::open(root.path(), RecordCount::Any) {
        Err(DataError::Incomplete { missing, .. }) => {
            assert_eq!(missing, "data_batch_3.bin, test_batch.bin")
        }
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
/// record files through `ImageSet::parse`, and mutated, truncated and random
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
        let outcome = std::panic::catch_unwind(|| parse_records(&bytes, path, count));
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
