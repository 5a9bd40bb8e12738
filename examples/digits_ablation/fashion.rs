//! Fashion-MNIST for the ablation: the four IDX files read by the trainer's reader
//! (`../cifar10_resnet18/idx.rs`) into the ablation's [`ImageData`].

use std::path::Path;

use crate::data::{DigitsError, ImageData};

/// Fashion-MNIST's training images followed by its test images, from the IDX
/// files in `dir` (raw or .gz; the trainer's reader), else in Debian's
/// `/usr/share/datasets/fashion-mnist/` (package `dataset-fashion-mnist`).
pub fn read(dir: &Path) -> Result<ImageData, DigitsError> {
    use crate::idx::{Found, open_dir, system_dir};
    let system = system_dir();
    for folder in [dir, system.as_path()] {
        match open_dir(folder, false)? {
            Found::Whole([train, test]) => {
                let side = crate::idx::SIDE;
                let test_from = train.labels.len();
                let chunks = |split: &crate::idx::IdxSplit| {
                    split
                        .images
                        .chunks(side * side)
                        .map(<[u8]>::to_vec)
                        .collect::<Vec<_>>()
                };
                return Ok(ImageData {
                    side,
                    scale: 255.0,
                    pixels: [chunks(&train), chunks(&test)].concat(),
                    labels: [train.labels, test.labels].concat(),
                    test_from: Some(test_from),
                });
            }
            Found::Partial(missing) => {
                return Err(DigitsError::Incomplete {
                    dir: folder.to_path_buf(),
                    missing: missing.join(", "),
                });
            }
            Found::Nothing => {}
        }
    }
    Err(DigitsError::NoFashion {
        dir: dir.to_path_buf(),
        system,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fashion-MNIST through the trainer's reader: the files of a folder, training
    /// images first, the split where the test images start; a folder with some of
    /// the four files is an error naming the missing ones.
    #[test]
    fn fashion_files_are_read_in_order_and_a_partial_folder_is_named() {
        use crate::idx::{FILES, idx_bytes};
        let dir = tempfile::tempdir().unwrap();
        let images = |n: usize, base: u8| -> Vec<u8> {
            (0..n * 784)
                .map(|k| base.wrapping_add((k / 784) as u8))
                .collect()
        };
        let sets = [
            (images(12, 0), true),
            ((0..12).map(|i| (i % 10) as u8).collect(), false),
            (images(5, 100), true),
            ((0..5).map(|i| 9 - i as u8).collect(), false),
        ];
        for (file, (data, is_images)) in FILES.iter().zip(&sets) {
            std::fs::write(dir.path().join(file.name), idx_bytes(data, *is_images)).unwrap();
        }
        let data = read(dir.path()).unwrap();
        assert_eq!(
            (data.side, data.scale, data.test_from),
            (28, 255.0, Some(12))
        );
        let (train, test) = data.split();
        assert_eq!((train.len(), test.len()), (12, 5));
        assert_eq!(data.pixels[13][0], 101);
        assert_eq!(data.labels[12..], [9, 8, 7, 6, 5]);
        let set = data.standardised(&test, &train);
        assert_eq!(
            (set.side, set.items.len(), set.items[0].0.len()),
            (28, 5, 784)
        );
        std::fs::remove_file(dir.path().join(FILES[3].name)).unwrap();
        let text = read(dir.path()).unwrap_err().to_string();
        assert!(
            text.contains("incomplete: t10k-labels-idx1-ubyte missing"),
            "{text}"
        );
    }
}
