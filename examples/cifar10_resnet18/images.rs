//! A labelled image set held in memory as bytes, whatever file it came from
//! (CIFAR-10's records in `data.rs`, Fashion-MNIST's IDX files in `fashion.rs`).
//!
//! Images stay `u8` (CIFAR-10's training set is 150 MB as bytes, 600 MB as f32);
//! the batcher normalises them on the way to the device.

use burn::data::dataset::{Dataset, DatasetError};

use crate::data::DataError;

/// The classes of both data sets.
pub const NUM_CLASSES: usize = 10;

/// A set's square images: channels, side, and the per-channel statistics the
/// batcher normalises with (of pixel / 255, first `channels` entries used).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ImageFormat {
    pub channels: usize,
    pub side: usize,
    pub mean: [f32; 3],
    pub std: [f32; 3],
}

impl ImageFormat {
    /// CIFAR-10: 3 planes of 32x32, its training set's channel statistics.
    pub const CIFAR: ImageFormat = ImageFormat {
        channels: 3,
        side: 32,
        mean: [0.4914, 0.4822, 0.4465],
        std: [0.2470, 0.2435, 0.2616],
    };
    /// Fashion-MNIST: one plane of 28x28, normalised as the FMix paper's code
    /// (`datasets/datasets.py`: mean 0.1307, sd 0.3081, MNIST's figures).
    pub const FASHION: ImageFormat = ImageFormat {
        channels: 1,
        side: 28,
        mean: [0.1307, 0.0, 0.0],
        std: [0.3081, 1.0, 1.0],
    };

    /// Bytes of one image, channel-major.
    pub const fn bytes(self) -> usize {
        self.channels * self.side * self.side
    }
}

/// One image and its label.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageItem {
    /// `[C, H, W]` channel-major bytes, as stored in the file.
    pub pixels: Vec<u8>,
    /// Class index in `0..10`.
    pub label: u8,
    /// Position in the data set: seeds this image's augmentation.
    pub index: usize,
}

/// A split held in memory as bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageSet {
    format: ImageFormat,
    images: Vec<u8>,
    labels: Vec<u8>,
}

impl ImageSet {
    /// A set with no images yet.
    pub fn empty(format: ImageFormat) -> Self {
        Self {
            format,
            images: Vec::new(),
            labels: Vec::new(),
        }
    }

    /// The set of `images` (`labels.len()` images of `format`, back to back) and
    /// their `labels`, which the reader has validated.
    pub fn from_parts(format: ImageFormat, images: Vec<u8>, labels: Vec<u8>) -> Self {
        debug_assert_eq!(images.len(), labels.len() * format.bytes());
        Self {
            format,
            images,
            labels,
        }
    }

    pub fn format(&self) -> ImageFormat {
        self.format
    }

    /// Appends another split (files are read one after the other).
    pub fn extend(&mut self, other: ImageSet) {
        debug_assert_eq!(self.format, other.format);
        self.images.extend(other.images);
        self.labels.extend(other.labels);
    }

    /// Keeps the first `limit` images (after every file was validated).
    pub fn truncate(&mut self, limit: usize) {
        let keep = limit.min(self.labels.len());
        self.labels.truncate(keep);
        self.images.truncate(keep * self.format.bytes());
    }

    /// The raw bytes of image `index`.
    pub fn image(&self, index: usize) -> &[u8] {
        let bytes = self.format.bytes();
        &self.images[index * bytes..(index + 1) * bytes]
    }

    /// All labels.
    pub fn labels(&self) -> &[u8] {
        &self.labels
    }

    /// The images `indices`, in that order, as a new set.
    pub fn select(&self, indices: &[usize]) -> ImageSet {
        ImageSet {
            format: self.format,
            images: indices
                .iter()
                .flat_map(|&i| self.image(i).iter().copied())
                .collect(),
            labels: indices.iter().map(|&i| self.labels[i]).collect(),
        }
    }
}

impl Dataset<ImageItem> for ImageSet {
    fn get(&self, index: usize) -> Result<ImageItem, DatasetError> {
        let len = self.labels.len();
        let label = *self
            .labels
            .get(index)
            .ok_or(DatasetError::new(DataError::NoSuchImage { index, len }))?;
        Ok(ImageItem {
            pixels: self.image(index).to_vec(),
            label,
            index,
        })
    }

    fn len(&self) -> usize {
        self.labels.len()
    }
}

/// The two splits of a data set.
#[derive(Debug, Clone)]
pub struct Splits {
    pub train: ImageSet,
    pub test: ImageSet,
}

/// Splits `set` into (the rest, `n` images chosen class by class): class `c` gives
/// `n / 10` images (the first `n % 10` classes one more; a class with too few passes
/// its share to the next), evenly spaced through its list, the same for every seed.
/// Evenly spaced, not the first or last ones: a file in some order (by writer, say)
/// would give a sample unlike the whole.
pub fn split_balanced(set: &ImageSet, n: usize) -> (ImageSet, ImageSet) {
    let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); NUM_CLASSES];
    for (i, &label) in set.labels().iter().enumerate() {
        by_class[label as usize].push(i);
    }
    // Quotas class by class in turn: n / 10 each (the first n % 10 one more), a
    // class with too few images passing its share on, so exactly n are chosen.
    let mut quota = [0usize; NUM_CLASSES];
    let mut left = n.min(set.labels().len());
    while left > 0 {
        for (c, list) in by_class.iter().enumerate() {
            if left > 0 && quota[c] < list.len() {
                quota[c] += 1;
                left -= 1;
            }
        }
    }
    let mut chosen = Vec::with_capacity(n);
    for (list, &k) in by_class.iter().zip(&quota) {
        chosen.extend((0..k).map(|j| list[(2 * j + 1) * list.len() / (2 * k)]));
    }
    chosen.sort_unstable();
    let rest: Vec<usize> = (0..set.labels().len())
        .filter(|i| chosen.binary_search(i).is_err())
        .collect();
    (set.select(&rest), set.select(&chosen))
}
