//! Fashion-MNIST for the trainer: the four IDX files (read by `idx.rs`) looked
//! up in `--data-dir`, then in Debian's `/usr/share/datasets/fashion-mnist/`
//! (package `dataset-fashion-mnist`; `FASHION_MNIST_SYSTEM_DIR` names another
//! folder), and only then downloaded, each verified against its published MD5;
//! and a generator of learnable sets in the same files.

use std::path::{Path, PathBuf};

use crate::data::{DataError, RecordCount};
use crate::download::Source;
pub use crate::idx::system_dir;
use crate::idx::{BASE_URL, FILES, Found, IdxSplit, idx_bytes, open_dir};
use crate::images::{ImageFormat, ImageSet, Splits};

/// The two splits of the four files in `dir`, if all are there and valid; the
/// names of the missing ones if only some are.
pub fn open(dir: &Path, count: RecordCount) -> Result<Found<Splits>, DataError> {
    let set =
        |split: IdxSplit| ImageSet::from_parts(ImageFormat::FASHION, split.images, split.labels);
    Ok(match open_dir(dir, count == RecordCount::Official)? {
        Found::Whole([train, test]) => Found::Whole(Splits {
            train: set(train),
            test: set(test),
        }),
        Found::Partial(missing) => Found::Partial(missing),
        Found::Nothing => Found::Nothing,
    })
}

/// How to get the files when they are nowhere.
pub fn placement_hint(data_dir: &Path, system: &Path) -> String {
    format!(
        "Install Debian's package (`apt-get install dataset-fashion-mnist`, files in {system}), \
         or put the four files {names} (each raw or .gz) in {dir} (from {BASE_URL}); \
         or run with --synthetic.",
        system = system.display(),
        names = FILES.map(|f| f.name).join(", "),
        dir = data_dir.display(),
    )
}

/// Finds the official files: `data_dir`, then the system folder, then (when
/// `download`) Zalando's, fetched into `data_dir`. A `data_dir` holding some of
/// the files is reported, naming the missing ones, before anything is fetched.
/// Returns the splits and the folder they came from. `count` is
/// [`RecordCount::Official`] but in tests.
pub fn locate(
    data_dir: &Path,
    system: &Path,
    download: bool,
    count: RecordCount,
) -> Result<(Splits, PathBuf), DataError> {
    let hint = placement_hint(data_dir, system);
    match open(data_dir, count)? {
        Found::Whole(splits) => return Ok((splits, data_dir.to_path_buf())),
        Found::Partial(missing) => {
            return Err(DataError::Incomplete {
                dir: data_dir.to_path_buf(),
                missing: missing.join(", "),
                hint,
            });
        }
        Found::Nothing => {}
    }
    match open(system, count)? {
        Found::Whole(splits) => return Ok((splits, system.to_path_buf())),
        // A partial system copy is not the user's to fix here: say so, go on.
        Found::Partial(missing) => eprintln!(
            "warning: {} lacks {}; not using it",
            system.display(),
            missing.join(", ")
        ),
        Found::Nothing => {}
    }
    if !download {
        return Err(DataError::Missing {
            path: data_dir.to_path_buf(),
            hint,
        });
    }
    eprintln!(
        "Fashion-MNIST not found in {} or {}: downloading it from {BASE_URL}",
        data_dir.display(),
        system.display()
    );
    // Offline, the way out is the package or a copy of the files: say so.
    fetch_all(BASE_URL, data_dir).map_err(|error| match error {
        DataError::Download { url, reason, .. } => DataError::Download { url, reason, hint },
        other => other,
    })?;
    match open(data_dir, count)? {
        Found::Whole(splits) => Ok((splits, data_dir.to_path_buf())),
        _ => unreachable!("the four files were just written and verified"),
    }
}

/// Downloads the four `.gz` files from `base` (`https://`, `http://` or
/// `file://`) into `dir`, each checked for size and MD5 and renamed into place.
pub fn fetch_all(base: &str, dir: &Path) -> Result<(), DataError> {
    for file in FILES {
        let source = Source {
            label: file.name.to_string(),
            url: format!("{base}/{}.gz", file.name),
            size: file.gz_bytes,
            md5: file.gz_md5.to_string(),
        };
        crate::download::fetch(&source, &dir.join(format!("{}.gz", file.name)), true)?;
    }
    Ok(())
}

/// Writes a learnable synthetic set in the real IDX format (gzip compressed) into
/// `dir`: `train` and `test` images whose class sets the stripes' orientation and
/// period and the brightness (the CIFAR generator's pattern, averaged to grey).
pub fn write_synthetic(dir: &Path, train: usize, test: usize, seed: u64) -> Result<(), DataError> {
    std::fs::create_dir_all(dir).map_err(|source| DataError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let side = ImageFormat::FASHION.side;
    let plane = ImageFormat::CIFAR.side * ImageFormat::CIFAR.side;
    let set = |count: usize, offset: u64| {
        let (mut images, mut labels) = (Vec::new(), Vec::new());
        for i in 0..count as u64 {
            let sample = seed.wrapping_mul(1_000_003).wrapping_add(offset + i);
            let label = crate::data::synthetic_label(sample);
            let record = crate::data::synthetic_record(label, sample);
            for y in 0..side {
                for x in 0..side {
                    let at = 1 + y * ImageFormat::CIFAR.side + x;
                    let sum: u32 = (0..3).map(|c| record[at + c * plane] as u32).sum();
                    images.push((sum / 3) as u8);
                }
            }
            labels.push(label);
        }
        (images, labels)
    };
    let (train, test) = (set(train.max(1), 0), set(test.max(1), 1 << 40));
    for (file, data) in FILES.iter().zip([&train.0, &train.1, &test.0, &test.1]) {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, &idx_bytes(data, file.images)).expect("in memory");
        let path = dir.join(format!("{}.gz", file.name));
        let bytes = gz.finish().expect("in memory");
        crate::checkpoint::write_atomically(&path, &bytes)
            .map_err(|source| DataError::Io { path, source })?;
    }
    Ok(())
}

#[cfg(test)]
#[path = "fashion_tests.rs"]
mod tests;
