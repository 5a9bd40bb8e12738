//! The training loader: the shuffled order of each epoch, and the per-device
//! pipelines burn-train slices it into.
//!
//! Everything random in a batch is a function of the seed, the epoch and the
//! device's rank, so a run resumed at an epoch boundary sees the batches the
//! uninterrupted run saw, on one device or several. burn-train calls a training
//! loader's `iter` once per epoch and gives the batcher no epoch, so each loader
//! counts its own epochs from the one it starts at.

use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};

use burn::data::dataloader::{DataLoader, DataLoaderBuilder, DataLoaderIterator};
use burn::data::dataset::{Dataset, DatasetError};
use burn::tensor::Device;
use burn_mixup::{MixConfig, MixedBatch, Mixer, MixupBatcher};
use rand::SeedableRng;
use rand::seq::SliceRandom;

use crate::augment::ImageBatcher;
use crate::images::{ImageItem, ImageSet};

/// The shuffled order of the whole training set in `epoch`, a function of
/// `(seed, epoch)` alone.
pub fn epoch_order(len: usize, seed: u64, epoch: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..len).collect();
    let salt = (epoch as u64).wrapping_mul(0xA24B_AED4_963E_E407);
    order.shuffle(&mut rand::rngs::Xoshiro256PlusPlus::seed_from_u64(
        seed ^ salt,
    ));
    order
}

/// One device's share (`range`) of the epoch's order.
pub struct EpochSlice {
    data: Arc<ImageSet>,
    range: Range<usize>,
    seed: u64,
    order: RwLock<Vec<usize>>,
}

impl EpochSlice {
    pub fn new(data: Arc<ImageSet>, range: Range<usize>, seed: u64) -> Self {
        let order = RwLock::new(range.clone().collect());
        Self {
            data,
            range,
            seed,
            order,
        }
    }

    pub fn set_epoch(&self, epoch: usize) {
        let order = epoch_order(self.data.len(), self.seed, epoch)[self.range.clone()].to_vec();
        *self.order.write().expect("no panic while holding the lock") = order;
    }
}

impl Dataset<ImageItem> for EpochSlice {
    fn get(&self, index: usize) -> Result<ImageItem, DatasetError> {
        let order = self.order.read().expect("no panic while holding the lock");
        let at = *order.get(index).ok_or_else(|| {
            DatasetError::new(crate::data::DataError::NoSuchImage {
                index,
                len: order.len(),
            })
        })?;
        self.data.get(at)
    }

    fn len(&self) -> usize {
        self.range.len()
    }
}

/// What every device's pipeline is built from.
#[derive(Clone)]
struct Recipe {
    data: Arc<ImageSet>,
    mixing: MixConfig,
    seed: u64,
    batch_size: usize,
    workers: usize,
    devices: usize,
}

/// One device's training pipeline: its slice of the order, its augmentation and
/// its mixer, on mixing stream `rank`.
struct Pipeline {
    slice: Arc<EpochSlice>,
    batcher: ImageBatcher,
    mixer: Mixer,
    inner: Arc<dyn DataLoader<MixedBatch<4>>>,
}

/// A training loader of slice `range` (rank `rank`) of the training set.
pub struct EpochLoader {
    recipe: Recipe,
    range: Range<usize>,
    rank: usize,
    device: Device,
    next_epoch: AtomicUsize,
    pipeline: Pipeline,
}

impl EpochLoader {
    fn build(
        recipe: Recipe,
        range: Range<usize>,
        rank: usize,
        device: Device,
        next_epoch: usize,
    ) -> Result<Self, burn_mixup::MixError> {
        let slice = Arc::new(EpochSlice::new(
            recipe.data.clone(),
            range.clone(),
            recipe.seed,
        ));
        let batcher = ImageBatcher::train(recipe.seed, recipe.data.format());
        let stream = recipe.mixing.stream + rank as u64;
        let mixer = recipe.mixing.clone().with_stream(stream).init()?;
        let inner = DataLoaderBuilder::new(MixupBatcher::new(batcher.clone(), mixer.clone()))
            .batch_size(recipe.batch_size)
            .num_workers(recipe.workers)
            .set_device(device.clone())
            .build(slice.clone());
        Ok(Self {
            recipe,
            range,
            rank,
            device,
            next_epoch: AtomicUsize::new(next_epoch),
            pipeline: Pipeline {
                slice,
                batcher,
                mixer,
                inner,
            },
        })
    }

    /// Batches per epoch of this slice.
    fn batches(&self) -> u64 {
        self.range.len().div_ceil(self.recipe.batch_size) as u64
    }

    fn rebuilt(
        &self,
        range: Range<usize>,
        rank: usize,
        device: &Device,
    ) -> Arc<dyn DataLoader<MixedBatch<4>>> {
        let next = self.next_epoch.load(Ordering::SeqCst);
        Arc::new(
            Self::build(self.recipe.clone(), range, rank, device.clone(), next)
                .expect("the mixing configuration was validated when the run started"),
        )
    }
}

impl DataLoader<MixedBatch<4>> for EpochLoader {
    fn iter<'a>(&'a self) -> Box<dyn DataLoaderIterator<MixedBatch<4>> + 'a> {
        let epoch = self.next_epoch.fetch_add(1, Ordering::SeqCst);
        let pipeline = &self.pipeline;
        pipeline.slice.set_epoch(epoch);
        pipeline.batcher.set_epoch(epoch);
        pipeline.mixer.set_epoch(epoch);
        pipeline.mixer.resume_at(epoch as u64 * self.batches());
        pipeline.inner.iter()
    }

    fn num_items(&self) -> usize {
        self.range.len()
    }

    fn to_device(&self, device: &Device) -> Arc<dyn DataLoader<MixedBatch<4>>> {
        self.rebuilt(self.range.clone(), self.rank, device)
    }

    /// burn-train's `split_dataloader` cuts the set into one slice per device at
    /// multiples of `len / devices`: the slice starting there is that device's rank.
    fn slice(&self, start: usize, end: usize) -> Arc<dyn DataLoader<MixedBatch<4>>> {
        let step = (self.recipe.data.len() / self.recipe.devices).max(1);
        let offset = self.range.start;
        let rank = (offset + start) / step;
        self.rebuilt(offset + start..offset + end, rank, &self.device)
    }
}

/// Batches per epoch on each device, as burn-train's `split_dataloader` cuts the set.
pub fn batches_per_device(images: usize, devices: usize, per_device: usize) -> Vec<usize> {
    let step = images / devices;
    (0..devices)
        .map(|i| {
            if i + 1 == devices {
                images - step * i
            } else {
                step
            }
        })
        .map(|n| n.div_ceil(per_device))
        .collect()
}

/// The training loader of a run on `devices` devices, starting at epoch
/// `first_epoch` (0-based) on `device`, and the optimizer steps of one epoch.
#[allow(clippy::too_many_arguments)]
pub fn training_loader(
    train_set: ImageSet,
    mixing: MixConfig,
    seed: u64,
    batch_size: usize,
    workers: usize,
    devices: usize,
    first_epoch: usize,
    device: &Device,
) -> Result<(Arc<dyn DataLoader<MixedBatch<4>>>, usize), burn_mixup::MixError> {
    let per_device = batch_size / devices;
    let batches = batches_per_device(train_set.len(), devices, per_device);
    let len = train_set.len();
    let recipe = Recipe {
        data: Arc::new(train_set),
        mixing,
        seed,
        batch_size: per_device,
        workers,
        devices,
    };
    let loader = EpochLoader::build(recipe, 0..len, 0, device.clone(), first_epoch)?;
    Ok((
        Arc::new(loader),
        batches.into_iter().max().unwrap_or(1).max(1),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{Cifar10, RecordCount, write_synthetic};
    use crate::images::ImageSet;

    fn synthetic(train: usize) -> ImageSet {
        let dir = tempfile::tempdir().unwrap();
        write_synthetic(dir.path(), train, 5, 11).unwrap();
        Cifar10::open(dir.path(), RecordCount::Any).unwrap().train
    }

    /// The epoch order is a permutation, a function of (seed, epoch); a slice sees
    /// its range of it.
    #[test]
    fn epoch_order_is_a_seeded_permutation_per_epoch() {
        let data = Arc::new(synthetic(50));
        let whole = EpochSlice::new(data.clone(), 0..50, 4);
        let indices = |slice: &EpochSlice| {
            (0..slice.len())
                .map(|i| slice.get(i).unwrap().index)
                .collect::<Vec<_>>()
        };
        whole.set_epoch(1);
        let first = indices(&whole);
        let mut sorted = first.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..50).collect::<Vec<_>>());
        whole.set_epoch(2);
        assert_ne!(indices(&whole), first);
        whole.set_epoch(1);
        assert_eq!(indices(&whole), first);
        let tail = EpochSlice::new(data, 30..50, 4);
        tail.set_epoch(1);
        assert_eq!(indices(&tail), first[30..]);
        assert!(tail.get(20).is_err());
    }

    #[test]
    fn batches_per_device_follow_burns_split() {
        assert_eq!(batches_per_device(100, 2, 8), vec![7, 7]);
        assert_eq!(batches_per_device(101, 2, 8), vec![7, 7]);
        assert_eq!(batches_per_device(103, 3, 8), vec![5, 5, 5]);
        assert_eq!(batches_per_device(10, 1, 4), vec![3]);
    }

    /// Sliced as burn-train slices it, each device draws on its own mixing stream,
    /// and every device's batches are the same whatever order the slices are
    /// iterated in.
    #[test]
    fn each_slice_mixes_on_its_own_stream_whatever_the_order() {
        let draws = |order: [usize; 2]| {
            let (loader, _) = training_loader(
                synthetic(40),
                MixConfig::mixup(1.0).with_seed(Some(5)),
                5,
                8,
                0,
                2,
                0,
                &Device::flex(),
            )
            .unwrap();
            let slices = [loader.slice(0, 20), loader.slice(20, 40)];
            let mut seen = vec![Vec::new(); 2];
            for rank in order {
                for batch in slices[rank].iter() {
                    let batch = batch.unwrap();
                    seen[rank].push((batch.params().draw_index(), batch.lambda().mean()));
                }
            }
            seen
        };
        let forward = draws([0, 1]);
        assert_eq!(forward, draws([1, 0]));
        // Same draw indices, other streams: other lambdas.
        assert_eq!(forward[0].len(), 5);
        assert_eq!(
            forward[0].iter().map(|d| d.0).collect::<Vec<_>>(),
            forward[1].iter().map(|d| d.0).collect::<Vec<_>>()
        );
        assert_ne!(forward[0], forward[1]);
    }
}
