use std::fs;
use std::path::Path;

use burn::data::dataset::Dataset;

use super::*;
use crate::idx::{DEBIAN_DIR, IdxError, IdxFile, find, parse_idx};

/// `n` 28x28 images whose pixel p of image i is (i * 7 + p) % 256, and labels i % 10.
fn images_and_labels(n: usize) -> (Vec<u8>, Vec<u8>) {
    let images = (0..n * 784)
        .map(|k| ((k / 784) * 7 + k % 784) as u8)
        .collect();
    let labels = (0..n).map(|i| (i % 10) as u8).collect();
    (images, labels)
}

/// Writes the four files into `dir`: the training files raw, the test files gzip
/// compressed (both forms are read).
fn write_set(dir: &Path, train: usize, test: usize) {
    fs::create_dir_all(dir).unwrap();
    let (train_images, train_labels) = images_and_labels(train);
    let (test_images, test_labels) = images_and_labels(test);
    fs::write(dir.join(FILES[0].name), idx_bytes(&train_images, true)).unwrap();
    fs::write(dir.join(FILES[1].name), idx_bytes(&train_labels, false)).unwrap();
    for (file, data) in [(&FILES[2], &test_images), (&FILES[3], &test_labels)] {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut gz, &idx_bytes(data, file.images)).unwrap();
        fs::write(dir.join(format!("{}.gz", file.name)), gz.finish().unwrap()).unwrap();
    }
}

fn whole(found: Found<Splits>) -> Splits {
    match found {
        Found::Whole(splits) => splits,
        Found::Nothing => panic!("nothing found"),
        Found::Partial(missing) => panic!("missing {missing:?}"),
    }
}

#[test]
fn raw_and_gzip_files_read_back_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    write_set(dir.path(), 30, 12);
    let splits = whole(open(dir.path(), RecordCount::Any).unwrap());
    assert_eq!((splits.train.len(), splits.test.len()), (30, 12));
    assert_eq!(splits.train.format(), ImageFormat::FASHION);
    let (images, labels) = images_and_labels(30);
    for i in [0, 1, 17, 29] {
        let item = splits.train.get(i).unwrap();
        assert_eq!(item.pixels, images[i * 784..(i + 1) * 784]);
        assert_eq!(item.label, labels[i]);
    }
    assert_eq!(splits.test.get(11).unwrap().label, 1);
}

/// Every way a file can be wrong is an error naming the file and what was
/// expected; none panics.
#[test]
fn bad_files_are_typed_errors_naming_the_file() {
    let (images, labels) = images_and_labels(5);
    let good_images = idx_bytes(&images, true);
    let good_labels = idx_bytes(&labels, false);
    let path = Path::new("dir/train-images-idx3-ubyte");
    let parse = |bytes: &[u8], file: &IdxFile| parse_idx(bytes, file, path, false);

    // Truncated: inside the header, and inside the data.
    let err = parse(&good_images[..10], &FILES[0]).unwrap_err();
    assert!(
        matches!(
            err,
            IdxError::Header {
                needed: 16,
                actual: 10,
                ..
            }
        ),
        "{err}"
    );
    let err = parse(&good_images[..good_images.len() - 1], &FILES[0]).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("dir/train-images-idx3-ubyte declares 5 images, which take 3920 bytes")
            && text.contains("holds 3919"),
        "{text}"
    );
    // Padded.
    let mut padded = good_labels.clone();
    padded.push(0);
    assert!(matches!(
        parse(&padded, &FILES[1]).unwrap_err(),
        IdxError::Length {
            expected: 5,
            actual: 6,
            ..
        }
    ));
    // A label file where the images should be: the wrong magic.
    let err = parse(&good_labels, &FILES[0]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "dir/train-images-idx3-ubyte is not an IDX image file: its magic number is 0x00000801, \
         expected 0x00000803"
    );
    // Images of another size.
    let mut wide = good_images.clone();
    wide[15] = 27;
    assert!(matches!(
        parse(&wide, &FILES[0]).unwrap_err(),
        IdxError::ImageSize {
            rows: 28,
            cols: 27,
            ..
        }
    ));
    // A label over 9, named with its position.
    let mut bad = good_labels.clone();
    bad[8 + 3] = 10;
    let err = parse(&bad, &FILES[1]).unwrap_err();
    assert!(
        matches!(
            err,
            IdxError::Label {
                item: 3,
                label: 10,
                ..
            }
        ),
        "{err}"
    );
    // The official release's counts, when asked for.
    let err = parse_idx(&good_labels, &FILES[3], path, true).unwrap_err();
    assert!(matches!(
        err,
        IdxError::Count {
            items: 5,
            expected: 10_000,
            ..
        }
    ));

    // Images and labels that disagree in number, each file named.
    let dir = tempfile::tempdir().unwrap();
    write_set(dir.path(), 6, 4);
    let (_, labels) = images_and_labels(7);
    fs::write(dir.path().join(FILES[1].name), idx_bytes(&labels, false)).unwrap();
    let err = open(dir.path(), RecordCount::Any).err().unwrap();
    assert!(
        matches!(
            err,
            DataError::Idx(IdxError::CountMismatch {
                image_count: 6,
                label_count: 7,
                ..
            })
        ),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("train-labels-idx1-ubyte holds 7 labels")
    );
    // A .gz that is not gzip inside.
    let gz = dir.path().join(format!("{}.gz", FILES[3].name));
    let mut broken = fs::read(&gz).unwrap();
    broken.truncate(broken.len() / 2);
    fs::write(&gz, broken).unwrap();
    fs::write(
        dir.path().join(FILES[1].name),
        idx_bytes(&images_and_labels(6).1, false),
    )
    .unwrap();
    let err = open(dir.path(), RecordCount::Any).err().unwrap();
    assert!(
        matches!(
            err,
            DataError::Idx(IdxError::Gzip { .. } | IdxError::Length { .. })
        ),
        "{err}"
    );
}

/// Random flips, cuts and lengths of real-format files: an error or a set, never a
/// panic.
#[test]
fn mutated_files_never_panic() {
    let (images, labels) = images_and_labels(3);
    let files = [idx_bytes(&images, true), idx_bytes(&labels, false)];
    let mut state = 0x5EED_u64;
    let mut next = move || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1);
        (state >> 33) as usize
    };
    for round in 0..3_000 {
        let which = round % 2;
        let mut bytes = files[which].clone();
        match next() % 3 {
            0 => {
                let at = next() % bytes.len();
                bytes[at] = next() as u8;
            }
            1 => bytes.truncate(next() % bytes.len()),
            _ => bytes.extend((0..next() % 9).map(|_| next() as u8)),
        }
        let file = FILES[which];
        let outcome = std::panic::catch_unwind(|| parse_idx(&bytes, &file, Path::new("f"), false));
        assert!(outcome.is_ok(), "round {round} panicked");
    }
}

/// A folder with some of the four files is reported, naming the missing ones,
/// before anything is looked up elsewhere or downloaded; an empty one falls back to
/// the system folder, and nothing anywhere says how to get the data.
#[test]
fn lookup_reports_partial_folders_and_falls_back_to_the_system_copy() {
    let (data, system, empty) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    write_set(system.path(), 20, 10);
    write_set(data.path(), 8, 4);
    fs::remove_file(data.path().join(FILES[1].name)).unwrap();
    fs::remove_file(data.path().join(format!("{}.gz", FILES[3].name))).unwrap();
    let err = locate(data.path(), system.path(), true, RecordCount::Any)
        .err()
        .unwrap();
    let text = err.to_string();
    assert!(
        text.contains("is incomplete: train-labels-idx1-ubyte, t10k-labels-idx1-ubyte missing"),
        "{text}"
    );
    assert_eq!(
        fs::read_dir(data.path()).unwrap().count(),
        2,
        "nothing fetched"
    );

    let (splits, from) = locate(empty.path(), system.path(), false, RecordCount::Any).unwrap();
    assert_eq!(
        (splits.train.len(), from),
        (20, system.path().to_path_buf())
    );

    let nowhere = empty.path().join("none");
    let err = locate(empty.path(), &nowhere, false, RecordCount::Any)
        .err()
        .unwrap();
    let text = err.to_string();
    assert!(
        text.contains("apt-get install dataset-fashion-mnist") && text.contains("--synthetic"),
        "{text}"
    );
}

/// A mirror serving other bytes than Zalando's is refused by the published MD5s,
/// and nothing is left behind.
#[test]
fn downloads_are_checked_against_the_published_checksums() {
    let (mirror, dest) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    for file in FILES {
        let bytes = vec![7u8; file.gz_bytes as usize];
        fs::write(mirror.path().join(format!("{}.gz", file.name)), bytes).unwrap();
    }
    let base = format!("file://{}", mirror.path().display());
    let err = fetch_all(&base, dest.path()).unwrap_err();
    assert!(
        matches!(&err, DataError::ChecksumMismatch { expected, .. } if expected == FILES[0].gz_md5),
        "{err}"
    );
    assert_eq!(fs::read_dir(dest.path()).unwrap().count(), 0);
}

/// The generated set is in the real format and learnable: every class present.
#[test]
fn synthetic_files_are_real_idx_files() {
    let dir = tempfile::tempdir().unwrap();
    write_synthetic(dir.path(), 200, 40, 3).unwrap();
    let splits = whole(open(dir.path(), RecordCount::Any).unwrap());
    assert_eq!((splits.train.len(), splits.test.len()), (200, 40));
    let mut seen = [0; 10];
    for &l in splits.train.labels() {
        seen[l as usize] += 1;
    }
    assert!(seen.iter().all(|&n| n > 5), "{seen:?}");
}

/// The real files, when Debian's package is installed: 60,000 + 10,000 images,
/// 6,000 and 1,000 per class, and the pixel sums and first labels NumPy reads
/// (`np.frombuffer(gzip.open(f).read(), np.uint8, offset=16).sum()`).
#[test]
fn the_debian_package_reads_as_the_official_release() {
    let dir = Path::new(DEBIAN_DIR);
    if FILES.iter().any(|f| find(dir, f).is_none()) {
        println!("skipped: {DEBIAN_DIR} lacks the files (apt-get install dataset-fashion-mnist)");
        return;
    }
    let splits = whole(open(dir, RecordCount::Official).unwrap());
    assert_eq!((splits.train.len(), splits.test.len()), (60_000, 10_000));
    for (set, per_class, first, sum) in [
        (&splits.train, 6_000, [9, 0, 0, 3, 0], 3_431_114_169u64),
        (&splits.test, 1_000, [9, 2, 1, 1, 6], 573_469_082),
    ] {
        let mut counts = [0; 10];
        set.labels().iter().for_each(|&l| counts[l as usize] += 1);
        assert_eq!(counts, [per_class; 10]);
        assert_eq!(set.labels()[..5], first);
        let pixels: u64 = (0..set.len())
            .map(|i| set.image(i).iter().map(|&p| p as u64).sum::<u64>())
            .sum();
        assert_eq!(pixels, sum);
    }
}
