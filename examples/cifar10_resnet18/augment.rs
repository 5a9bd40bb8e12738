//! The batchers: random crop with zero padding, horizontal flip and per-channel
//! normalisation, straight from `u8` into one contiguous `f32` buffer, for any
//! [`ImageFormat`] (CIFAR-10's 3x32x32, Fashion-MNIST's 1x28x28).
//!
//! Each image's crop offset and flip come from a generator seeded by
//! `(seed, epoch, dataset index)`, so a batch's augmentation does not depend on
//! which loader worker built it or in which order: same seed, same batches, and a
//! resumed run sees exactly the images an uninterrupted one would.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use burn::data::dataloader::batcher::Batcher;
use burn::tensor::{Device, Int, Tensor, TensorData};

use crate::images::{ImageFormat, ImageItem, NUM_CLASSES};

/// Zero padding around the image before the crop to its own side.
pub const PAD: usize = 4;

/// A batch of normalised images `[B, C, H, W]` and their labels `[B]`.
#[derive(Debug, Clone)]
pub struct ImageBatch {
    pub images: Tensor<4>,
    pub targets: Tensor<1, Int>,
}

// What `MixupBatcher` takes from the inner batcher: (inputs, targets).
impl From<ImageBatch> for (Tensor<4>, Tensor<1, Int>) {
    fn from(batch: ImageBatch) -> Self {
        (batch.images, batch.targets)
    }
}

/// The augmentation of one image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placement {
    /// Crop offset in the padded image, in `0..=2*PAD`.
    pub dy: usize,
    pub dx: usize,
    pub flip: bool,
}

impl Placement {
    /// No augmentation: the centre crop of the padded image is the image itself.
    pub const IDENTITY: Placement = Placement {
        dy: PAD,
        dx: PAD,
        flip: false,
    };

    /// The placement of image `index` in `epoch` for run `seed`.
    pub fn draw(seed: u64, epoch: usize, index: usize) -> Self {
        let mut z = seed
            ^ (epoch as u64).wrapping_mul(0xD1B5_4A32_D192_ED03)
            ^ (index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        // SplitMix64 finaliser: one well-mixed 64-bit word gives all three choices.
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        let span = (2 * PAD + 1) as u64;
        Placement {
            dy: (z % span) as usize,
            dx: ((z / span) % span) as usize,
            flip: (z >> 63) == 1,
        }
    }
}

/// Per-channel lookup: normalised value of each byte.
#[derive(Clone)]
pub struct Normaliser {
    format: ImageFormat,
    table: Vec<[f32; 256]>,
    padding: Vec<f32>,
}

impl Normaliser {
    pub fn new(format: ImageFormat) -> Self {
        let table: Vec<[f32; 256]> = (0..format.channels)
            .map(|c| std::array::from_fn(|v| (v as f32 / 255.0 - format.mean[c]) / format.std[c]))
            .collect();
        // Zero padding happens before normalisation, as torchvision's
        // RandomCrop(side, padding=4) then Normalize.
        let padding = table.iter().map(|row| row[0]).collect();
        Self {
            format,
            table,
            padding,
        }
    }

    /// Writes the augmented, normalised image into `out` (`format.bytes()` floats).
    pub fn write(&self, pixels: &[u8], placement: Placement, out: &mut [f32]) {
        let side = self.format.side;
        debug_assert_eq!(pixels.len(), self.format.bytes());
        for c in 0..self.format.channels {
            let table = &self.table[c];
            let plane = &pixels[c * side * side..(c + 1) * side * side];
            let out_plane = &mut out[c * side * side..(c + 1) * side * side];
            for y in 0..side {
                let out_row = &mut out_plane[y * side..(y + 1) * side];
                let source_y = (y + placement.dy).wrapping_sub(PAD);
                if source_y >= side {
                    out_row.fill(self.padding[c]);
                    continue;
                }
                let row = &plane[source_y * side..(source_y + 1) * side];
                for (x, value) in out_row.iter_mut().enumerate() {
                    // The flip mirrors the crop: output column x shows crop column
                    // side - 1 - x.
                    let crop_x = if placement.flip { side - 1 - x } else { x };
                    let source_x = (crop_x + placement.dx).wrapping_sub(PAD);
                    *value = if source_x < side {
                        table[row[source_x] as usize]
                    } else {
                        self.padding[c]
                    };
                }
            }
        }
    }
}

/// Builds batches of one format; `augment` on for training, off for testing.
#[derive(Clone)]
pub struct ImageBatcher {
    augment: bool,
    seed: u64,
    epoch: Arc<AtomicUsize>,
    normaliser: Normaliser,
}

impl ImageBatcher {
    pub fn train(seed: u64, format: ImageFormat) -> Self {
        Self {
            augment: true,
            seed,
            epoch: Arc::new(AtomicUsize::new(0)),
            normaliser: Normaliser::new(format),
        }
    }

    pub fn test(format: ImageFormat) -> Self {
        Self {
            augment: false,
            ..Self::train(0, format)
        }
    }

    /// Sets the epoch that seeds the augmentation; shared with all clones.
    pub fn set_epoch(&self, epoch: usize) {
        self.epoch.store(epoch, Ordering::Relaxed);
    }

    /// Host side of a batch: the normalised pixels and the labels.
    pub fn build(&self, items: &[ImageItem]) -> (Vec<f32>, Vec<i64>) {
        let epoch = self.epoch.load(Ordering::Relaxed);
        let bytes = self.normaliser.format.bytes();
        let mut pixels = vec![0.0f32; items.len() * bytes];
        for (item, out) in items.iter().zip(pixels.chunks_exact_mut(bytes)) {
            let placement = if self.augment {
                Placement::draw(self.seed, epoch, item.index)
            } else {
                Placement::IDENTITY
            };
            self.normaliser.write(&item.pixels, placement, out);
        }
        let labels: Vec<i64> = items.iter().map(|item| item.label as i64).collect();
        (pixels, labels)
    }
}

impl Batcher<ImageItem, ImageBatch> for ImageBatcher {
    fn batch(&self, items: Vec<ImageItem>, device: &Device) -> ImageBatch {
        let (pixels, labels) = self.build(&items);
        // Labels were validated when the files were read; this is the cheap host-side
        // guard the library offers to every batcher.
        burn_mixup::check_targets(&labels, NUM_CLASSES)
            .expect("labels validated when the data set was opened");
        let ImageFormat { channels, side, .. } = self.normaliser.format;
        let shape = [items.len(), channels, side, side];
        ImageBatch {
            images: Tensor::from_data(TensorData::new(pixels, shape), device),
            targets: Tensor::from_data(TensorData::new(labels, [items.len()]), device),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CIFAR: ImageFormat = ImageFormat::CIFAR;
    const IMAGE_BYTES: usize = CIFAR.bytes();
    const SIDE: usize = CIFAR.side;

    fn item(pixels: Vec<u8>, index: usize) -> ImageItem {
        ImageItem {
            pixels,
            label: 3,
            index,
        }
    }

    fn ramp() -> Vec<u8> {
        (0..IMAGE_BYTES).map(|i| (i % 251) as u8).collect()
    }

    #[test]
    fn identity_placement_is_plain_normalisation() {
        let n = Normaliser::new(CIFAR);
        let pixels = ramp();
        let mut out = vec![0.0; IMAGE_BYTES];
        n.write(&pixels, Placement::IDENTITY, &mut out);
        for (i, (&p, &o)) in pixels.iter().zip(&out).enumerate() {
            let c = i / 1024;
            assert!((o - (p as f32 / 255.0 - CIFAR.mean[c]) / CIFAR.std[c]).abs() < 1e-6);
        }
    }

    #[test]
    fn constant_image_statistics_match_hand_computation() {
        // A constant image of 128 normalises to (128/255 - mean_c) / std_c everywhere:
        // red (0.501961 - 0.4914) / 0.2470 = 0.042756.
        let n = Normaliser::new(CIFAR);
        let mut out = vec![0.0; IMAGE_BYTES];
        n.write(&vec![128u8; IMAGE_BYTES], Placement::IDENTITY, &mut out);
        assert!((out[0] - 0.042_756).abs() < 1e-5, "{}", out[0]);
        let green = (128.0 / 255.0 - 0.4822) / 0.2435;
        let blue = (128.0 / 255.0 - 0.4465) / 0.2616;
        assert!(out[1024..2048].iter().all(|&v| (v - green).abs() < 1e-6));
        assert!(out[2048..].iter().all(|&v| (v - blue).abs() < 1e-6));
    }

    #[test]
    fn crops_stay_in_bounds_and_padding_is_zero_before_normalisation() {
        let n = Normaliser::new(CIFAR);
        let pixels = vec![200u8; IMAGE_BYTES];
        let zero = [n.table[0][0], n.table[1][0], n.table[2][0]];
        let inside = [n.table[0][200], n.table[1][200], n.table[2][200]];
        for dy in 0..=2 * PAD {
            for dx in 0..=2 * PAD {
                let mut out = vec![f32::NAN; IMAGE_BYTES];
                n.write(
                    &pixels,
                    Placement {
                        dy,
                        dx,
                        flip: false,
                    },
                    &mut out,
                );
                for c in 0..3 {
                    for y in 0..SIDE {
                        for x in 0..SIDE {
                            let (sy, sx) = (
                                y as i64 + dy as i64 - PAD as i64,
                                x as i64 + dx as i64 - PAD as i64,
                            );
                            let in_image =
                                (0..SIDE as i64).contains(&sy) && (0..SIDE as i64).contains(&sx);
                            let v = out[c * 1024 + y * 32 + x];
                            assert_eq!(
                                v,
                                if in_image { inside[c] } else { zero[c] },
                                "({dy},{dx}) c{c} y{y} x{x}"
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn flipped_image_is_the_mirror() {
        let n = Normaliser::new(CIFAR);
        let pixels = ramp();
        let placement = Placement {
            dy: 2,
            dx: 7,
            flip: false,
        };
        let (mut plain, mut flipped) = (vec![0.0; IMAGE_BYTES], vec![0.0; IMAGE_BYTES]);
        n.write(&pixels, placement, &mut plain);
        n.write(
            &pixels,
            Placement {
                flip: true,
                ..placement
            },
            &mut flipped,
        );
        for c in 0..3 {
            for y in 0..SIDE {
                for x in 0..SIDE {
                    assert_eq!(
                        flipped[c * 1024 + y * 32 + x],
                        plain[c * 1024 + y * 32 + (31 - x)]
                    );
                }
            }
        }
    }

    #[test]
    fn placements_cover_every_offset_and_both_flips_and_seeds_reproduce() {
        let mut seen = std::collections::HashSet::new();
        let mut flips = 0;
        for index in 0..5000 {
            let p = Placement::draw(1, 0, index);
            assert!(p.dy <= 2 * PAD && p.dx <= 2 * PAD);
            seen.insert((p.dy, p.dx));
            flips += p.flip as usize;
        }
        assert_eq!(seen.len(), 81);
        assert!((2300..2700).contains(&flips), "{flips}");
        assert_eq!(Placement::draw(1, 3, 17), Placement::draw(1, 3, 17));
        assert!((0..50).any(|i| Placement::draw(1, 3, i) != Placement::draw(1, 4, i)));
    }

    #[test]
    fn batches_reproduce_across_worker_order() {
        let batcher = ImageBatcher::train(9, CIFAR);
        let items: Vec<ImageItem> = (0..6).map(|i| item(ramp(), i)).collect();
        let (a, labels) = batcher.build(&items);
        let reversed: Vec<ImageItem> = items.iter().rev().cloned().collect();
        let (b, _) = batcher.build(&reversed);
        for i in 0..6 {
            assert_eq!(
                &a[i * IMAGE_BYTES..(i + 1) * IMAGE_BYTES],
                &b[(5 - i) * IMAGE_BYTES..(6 - i) * IMAGE_BYTES]
            );
        }
        assert_eq!(labels, vec![3; 6]);
        let (test, _) = ImageBatcher::test(CIFAR).build(&items[..1]);
        let mut expected = vec![0.0; IMAGE_BYTES];
        Normaliser::new(CIFAR).write(&ramp(), Placement::IDENTITY, &mut expected);
        assert_eq!(test, expected);
    }

    /// Fashion-MNIST's one plane of 28x28: (v/255 - 0.1307) / 0.3081, padding at
    /// the value of a zero byte, the crop and flip as for CIFAR at its own side.
    #[test]
    fn one_channel_images_crop_at_their_own_side() {
        let format = ImageFormat::FASHION;
        let n = Normaliser::new(format);
        let pixels: Vec<u8> = (0..784).map(|i| (i % 200) as u8 + 1).collect();
        let mut out = vec![f32::NAN; 784];
        let placement = Placement {
            dy: 0,
            dx: 8,
            flip: true,
        };
        n.write(&pixels, placement, &mut out);
        let normal = |v: u8| (v as f32 / 255.0 - 0.1307) / 0.3081;
        for y in 0..28 {
            for x in 0..28 {
                // Source row y - 4, column (27 - x) + 8 - 4.
                let (sy, sx) = (y as i64 - 4, 27 - x as i64 + 4);
                let expected = if (0..28).contains(&sy) && (0..28).contains(&sx) {
                    normal(pixels[sy as usize * 28 + sx as usize])
                } else {
                    normal(0)
                };
                assert!((out[y * 28 + x] - expected).abs() < 1e-6, "y{y} x{x}");
            }
        }
        let batch = ImageBatcher::test(format).batch(
            vec![ImageItem {
                pixels,
                label: 9,
                index: 0,
            }],
            &Device::flex(),
        );
        assert_eq!(batch.images.dims(), [1, 1, 28, 28]);
    }
}
