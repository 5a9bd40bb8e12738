//! The training loader: the shuffled order of each epoch, and the clock that tells
//! the data pipeline (order, augmentation, mixer) which epoch burn-train is on.
//!
//! Everything random in a batch is a function of the seed and the epoch, so a run
//! resumed at an epoch boundary sees the batches the uninterrupted run saw.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};

use burn::data::dataloader::{DataLoader, DataLoaderBuilder, DataLoaderIterator};
use burn::data::dataset::Dataset;
use burn::tensor::backend::Backend;
use burn_mixup::{MixedBatch, Mixer, MixupBatcher};
use rand::SeedableRng;
use rand::seq::SliceRandom;

use crate::augment::CifarBatcher;
use crate::data::{CifarDataset, CifarItem};

/// The training set in the shuffled order of the current epoch, a function of
/// `(seed, epoch)` alone.
pub struct EpochOrder {
    data: CifarDataset,
    order: RwLock<Vec<usize>>,
    seed: u64,
}

impl EpochOrder {
    pub fn new(data: CifarDataset, seed: u64) -> Self {
        let order = RwLock::new((0..data.len()).collect());
        Self { data, order, seed }
    }

    pub fn set_epoch(&self, epoch: usize) {
        let mut order: Vec<usize> = (0..self.data.len()).collect();
        let salt = (epoch as u64).wrapping_mul(0xA24B_AED4_963E_E407);
        order.shuffle(&mut rand::rngs::Xoshiro256PlusPlus::seed_from_u64(
            self.seed ^ salt,
        ));
        *self.order.write().expect("no panic while holding the lock") = order;
    }
}

impl Dataset<CifarItem> for EpochOrder {
    fn get(&self, index: usize) -> Option<CifarItem> {
        let order = self.order.read().expect("no panic while holding the lock");
        self.data.get(*order.get(index)?)
    }

    fn len(&self) -> usize {
        self.data.len()
    }
}

/// Tells the data pipeline which epoch it serves: burn-train calls the training
/// loader's `iter` once per epoch and gives the batcher no epoch.
struct EpochClock {
    next: AtomicUsize,
    order: Arc<EpochOrder>,
    batcher: CifarBatcher,
    mixer: Mixer,
    draws_per_epoch: u64,
}

/// burn-train's training loader wrapped with the [`EpochClock`]. Under several
/// devices burn-train slices it; the slice starting at 0 is iterated first and
/// advances the clock for all.
struct EpochLoader<B: Backend> {
    inner: Arc<dyn DataLoader<B, MixedBatch<B, 4>>>,
    clock: Arc<EpochClock>,
    leads: bool,
}

impl<B: Backend> DataLoader<B, MixedBatch<B, 4>> for EpochLoader<B> {
    fn iter<'a>(&'a self) -> Box<dyn DataLoaderIterator<MixedBatch<B, 4>> + 'a> {
        if self.leads {
            let clock = &self.clock;
            let epoch = clock.next.fetch_add(1, Ordering::SeqCst);
            clock.order.set_epoch(epoch);
            clock.batcher.set_epoch(epoch);
            clock.mixer.set_epoch(epoch);
            clock.mixer.resume_at(epoch as u64 * clock.draws_per_epoch);
        }
        self.inner.iter()
    }

    fn num_items(&self) -> usize {
        self.inner.num_items()
    }

    fn to_device(&self, device: &B::Device) -> Arc<dyn DataLoader<B, MixedBatch<B, 4>>> {
        let inner = self.inner.to_device(device);
        Arc::new(Self {
            inner,
            clock: self.clock.clone(),
            leads: self.leads,
        })
    }

    fn slice(&self, start: usize, end: usize) -> Arc<dyn DataLoader<B, MixedBatch<B, 4>>> {
        let inner = self.inner.slice(start, end);
        Arc::new(Self {
            inner,
            clock: self.clock.clone(),
            leads: self.leads && start == 0,
        })
    }
}

/// Batches per epoch on each device, as burn-train's `split_dataloader` cuts the set.
fn batches_per_device(images: usize, devices: usize, per_device: usize) -> Vec<usize> {
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
/// `first_epoch` (0-based), and the optimizer steps of one epoch.
pub fn training_loader<B: Backend>(
    train_set: CifarDataset,
    mixer: Mixer,
    seed: u64,
    batch_size: usize,
    workers: usize,
    devices: usize,
    first_epoch: usize,
) -> (Arc<dyn DataLoader<B, MixedBatch<B, 4>>>, usize) {
    let per_device = batch_size / devices;
    let batches = batches_per_device(train_set.len(), devices, per_device);
    let batcher = CifarBatcher::train(seed);
    let order = Arc::new(EpochOrder::new(train_set, seed));
    let clock = Arc::new(EpochClock {
        next: AtomicUsize::new(first_epoch),
        order: order.clone(),
        batcher: batcher.clone(),
        mixer: mixer.clone(),
        draws_per_epoch: batches.iter().sum::<usize>() as u64,
    });
    let inner = DataLoaderBuilder::new(MixupBatcher::new(batcher, mixer))
        .batch_size(per_device)
        .num_workers(workers)
        .build(order);
    let loader = Arc::new(EpochLoader {
        inner,
        clock,
        leads: true,
    });
    (loader, batches.into_iter().max().unwrap_or(1).max(1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{Cifar10, RecordCount, write_synthetic};

    fn synthetic(train: usize) -> CifarDataset {
        let dir = tempfile::tempdir().unwrap();
        write_synthetic(dir.path(), train, 5, 11).unwrap();
        Cifar10::open(dir.path(), RecordCount::Any).unwrap().train
    }

    /// The epoch order is a permutation, a function of (seed, epoch).
    #[test]
    fn epoch_order_is_a_seeded_permutation_per_epoch() {
        let data = synthetic(50);
        let order = EpochOrder::new(data, 4);
        let indices = |order: &EpochOrder| {
            (0..order.len())
                .map(|i| order.get(i).unwrap().index)
                .collect::<Vec<_>>()
        };
        order.set_epoch(1);
        let first = indices(&order);
        let mut sorted = first.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..50).collect::<Vec<_>>());
        order.set_epoch(2);
        assert_ne!(indices(&order), first);
        order.set_epoch(1);
        assert_eq!(indices(&order), first);
    }

    #[test]
    fn batches_per_device_follow_burns_split() {
        assert_eq!(batches_per_device(100, 2, 8), vec![7, 7]);
        assert_eq!(batches_per_device(101, 2, 8), vec![7, 7]);
        assert_eq!(batches_per_device(103, 3, 8), vec![5, 5, 5]);
        assert_eq!(batches_per_device(10, 1, 4), vec![3]);
    }
}
