//! Through the entry point users touch: `MixupBatcher` inside a real Burn
//! `DataLoaderBuilder`, with and without worker threads. Burn's loader always
//! emits the final partial batch: every mode must train on it. Resuming must give
//! the draws an uninterrupted run would have made, whatever the loader prefetched.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use burn::data::dataloader::batcher::Batcher;
use burn::data::dataloader::{DataLoader, DataLoaderBuilder};
use burn::data::dataset::InMemDataset;
use burn::tensor::{Device, Int, Tensor, TensorData};
use burn_mixup::{
    LabelSmoothingCrossEntropyConfig, MixConfig, MixMode, MixParams, MixedBatch, Mixer,
    MixupBatcher, Pairing,
};

use crate::common::*;

const SIDE: usize = 4;

/// Item `i` is a one-channel image of constant value `i + 1` with label `i % 3`.
#[derive(Clone)]
struct Images;

impl Batcher<usize, (Tensor<4>, Tensor<1, Int>)> for Images {
    fn batch(&self, items: Vec<usize>, device: &Device) -> (Tensor<4>, Tensor<1, Int>) {
        let n = items.len();
        let pixels: Vec<f32> = items
            .iter()
            .flat_map(|&i| std::iter::repeat_n((i + 1) as f32, SIDE * SIDE))
            .collect();
        let labels: Vec<i64> = items.iter().map(|&i| (i % 3) as i64).collect();
        (
            Tensor::from_data(TensorData::new(pixels, [n, 1, SIDE, SIDE]), device),
            Tensor::from_data(TensorData::new(labels, [n]), device),
        )
    }
}

fn loader(
    mixer: Mixer,
    items: usize,
    batch_size: usize,
    workers: usize,
) -> Arc<dyn DataLoader<MixedBatch<4>>> {
    DataLoaderBuilder::new(MixupBatcher::new(Images, mixer).with_num_classes(3))
        .batch_size(batch_size)
        .shuffle(3)
        .num_workers(workers)
        .set_device(device())
        .build(InMemDataset::new((0..items).collect::<Vec<_>>()))
}

/// Every batch of one pass over `loader` (a dataset error fails the test).
fn epoch(loader: &dyn DataLoader<MixedBatch<4>>) -> Vec<MixedBatch<4>> {
    loader
        .iter()
        .collect::<Result<_, _>>()
        .expect("the in-memory dataset has every item")
}

/// 11 items in batches of 4 leave a final batch of 3 (or, split over two workers,
/// odd batches on each): every mode, pairing and method (Mixup, CutMix, both,
/// ResizeMix, FMix) trains on them.
#[test]
fn odd_final_batches_train_in_every_mode_with_0_and_2_workers() {
    let criterion = LabelSmoothingCrossEntropyConfig::new()
        .init(&device())
        .unwrap();
    let methods = [
        MixConfig::mixup(1.0),
        MixConfig::cutmix(1.0),
        MixConfig::new().with_cutmix_alpha(1.0),
        MixConfig::resizemix(0.1, 0.8),
        MixConfig::fmix(1.0, 3.0),
    ];
    let mut runs = 0;
    for workers in [0, 2] {
        for mode in [MixMode::Batch, MixMode::Pair, MixMode::Elem] {
            for pairing in [Pairing::Permutation, Pairing::Flip, Pairing::Roll] {
                if mode == MixMode::Pair && pairing == Pairing::Roll {
                    continue; // refused at init (asymmetric)
                }
                for method in &methods {
                    let mixer = method
                        .clone()
                        .with_mode(mode)
                        .with_pairing(pairing)
                        .with_seed(Some(runs))
                        .init()
                        .unwrap();
                    let what = format!("{workers} workers, {mode:?}, {pairing:?}, run {runs}");
                    let batches = epoch(&*loader(mixer, 11, 4, workers));
                    let sizes: Vec<usize> = batches.iter().map(MixedBatch::batch_size).collect();
                    assert_eq!(sizes.iter().sum::<usize>(), 11, "{what}: {sizes:?}");
                    assert!(sizes.iter().any(|s| s % 2 == 1), "{what}: {sizes:?}");
                    for batch in &batches {
                        let n = batch.batch_size();
                        for i in 0..n {
                            let lambda = batch.lambda().of_sample(i);
                            assert!((0.0..=1.0).contains(&lambda), "{what}");
                        }
                        let pixels = to_vec(batch.inputs().clone());
                        assert!(pixels.iter().all(|v| (1.0..=11.0).contains(v)), "{what}");
                        let logits = Tensor::<2>::zeros([n, 3], &device());
                        let loss = batch.loss(logits, &criterion).into_scalar::<f32>();
                        assert!((loss - 3f32.ln()).abs() < 1e-5, "{what}: loss {loss}");
                    }
                    runs += 1;
                }
            }
        }
    }
    assert_eq!(runs, 2 * 8 * 5);
}

fn wait_for(mixer: &Mixer, draws: u64) {
    let start = Instant::now();
    while mixer.next_draw() < draws && start.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// One worker thread prefetches the whole epoch while the training has consumed
/// only two batches; resuming from the draw index of the last consumed batch gives
/// exactly the draws of the uninterrupted run (saving the mixer's counter would
/// skip the prefetched ones).
#[test]
fn resume_after_a_prefetching_worker_continues_the_uninterrupted_draws() {
    for workers in [0, 1] {
        let config = MixConfig::new()
            .with_cutmix_alpha(1.0)
            .with_mode(MixMode::Elem)
            .with_seed(Some(7));
        let uninterrupted: Vec<MixParams> = epoch(&*loader(config.init().unwrap(), 10, 2, workers))
            .iter()
            .map(|batch| batch.params().clone())
            .collect();
        assert_eq!(uninterrupted.len(), 5);

        let interrupted = config.init().unwrap();
        let loader_a = loader(interrupted.clone(), 10, 2, workers);
        let mut iter = loader_a.iter();
        let consumed: Vec<MixParams> = (0..2)
            .map(|_| iter.next().expect("two batches").unwrap().params().clone())
            .collect();
        if workers == 1 {
            // The worker runs ahead of the training loop.
            wait_for(&interrupted, 5);
            assert_eq!(interrupted.next_draw(), 5, "prefetched the epoch");
        }
        drop(iter);
        assert_eq!(consumed[..], uninterrupted[..2]);

        let next = consumed
            .last()
            .unwrap()
            .draw_index()
            .expect("drawn by the mixer")
            + 1;
        let resumed = config.init().unwrap();
        resumed.resume_at(next);
        let rest: Vec<MixParams> = epoch(&*loader(resumed, 6, 2, workers))
            .iter()
            .map(|batch| batch.params().clone())
            .collect();
        assert_eq!(rest, uninterrupted[2..], "{workers} workers");
    }
}

/// With two workers the batches arrive in an order that depends on thread timing.
/// What holds: every draw index of an epoch is used once, each draw is a function
/// of its index alone, and an epoch boundary resumes exactly.
#[test]
fn two_workers_use_each_draw_once_and_resume_at_epoch_boundaries() {
    let config = MixConfig::mixup(1.0).with_seed(Some(13));
    let by_index = |batches: Vec<MixedBatch<4>>| -> BTreeMap<u64, MixParams> {
        batches
            .into_iter()
            .map(|b| (b.params().draw_index().unwrap(), b.params().clone()))
            .collect()
    };
    let mixer = config.init().unwrap();
    let two_epochs = loader(mixer.clone(), 12, 2, 2);
    let first = by_index(epoch(&*two_epochs));
    assert_eq!(
        first.keys().copied().collect::<Vec<_>>(),
        (0..6).collect::<Vec<_>>()
    );
    let boundary = mixer.next_draw();
    assert_eq!(boundary, 6, "every batch produced was consumed");
    let second = by_index(epoch(&*two_epochs));

    let resumed = config.init().unwrap();
    resumed.resume_at(boundary);
    let after_resume = by_index(epoch(&*loader(resumed, 12, 2, 2)));
    assert_eq!(after_resume, second);

    // Mid-epoch: consume 2 batches, resume after the highest index consumed. What
    // holds: every draw of the resumed run is the uninterrupted run's draw of the
    // same index. (Which indices the workers had drawn but not delivered is timing.)
    let interrupted = config.init().unwrap();
    let loader_a = loader(interrupted, 12, 2, 2);
    let mut iter = loader_a.iter();
    let consumed: Vec<u64> = (0..2)
        .map(|_| iter.next().unwrap().unwrap().params().draw_index().unwrap())
        .collect();
    drop(iter);
    let next = consumed.iter().max().unwrap() + 1;
    let resumed = config.init().unwrap();
    resumed.resume_at(next);
    let uninterrupted: BTreeMap<u64, MixParams> = first.into_iter().chain(second).collect();
    for (index, params) in by_index(epoch(&*loader(resumed, 12, 2, 2))) {
        assert!(index >= next);
        assert_eq!(Some(&params), uninterrupted.get(&index), "draw {index}");
    }
}
