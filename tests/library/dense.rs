//! Dense targets `[B, K]` (multi-label, soft, one-hot): mixed as timm's
//! `mixup_target` in every mode and as torchvision's `MixUp`/`CutMix` on 2-D labels
//! (`tests/fixtures/dense_maps.json`, made by `tests/fixtures/make_dense_maps.py
//! 25`), the losses on them with their gradients, the mixer's own draws for every
//! method, the batcher through a `DataLoader` with workers, and the errors; on
//! ndarray and flex.

use burn::data::dataloader::DataLoaderBuilder;
use burn::data::dataloader::batcher::Batcher;
use burn::data::dataset::InMemDataset;
use burn::tensor::{Device, Int, Tensor, TensorData};
use burn_mixup::{
    BinaryCrossEntropyConfig, CutBox, DenseMixedBatch, MixConfig, MixError, MixMode, MixParams,
    MixupBatcher,
};

use crate::common::{assert_f32_exact, autodiff, device, flat, to_vec};
use crate::dense_maps_cases::{dense_case, fixture, matrix, mixing_methods, partners};

/// timm's lambdas and flip pairing replayed: the mixed soft targets are timm's
/// `mixup_target` generalised to soft rows, the multi-label ones its
/// `multi_label=True` targets with smoothing 0.1, both to the last bit of f32; the
/// soft-target cross-entropy (smoothing 0 and 0.1) and the BCE (plain, with a
/// threshold, with `smooth_dense`) match timm/PyTorch with their gradients.
#[test]
fn dense_targets_and_their_losses_match_timm_in_every_mode() {
    for device in [autodiff(), Device::flex().autodiff()] {
        for case in fixture()["dense"].as_array().unwrap() {
            for computed in dense_case(case, &device) {
                computed.assert_within(1e-5, 0.0, 1e-6);
            }
        }
    }
}

/// torchvision v2's `MixUp` and `CutMix` on one-hot and soft 2-D labels, replayed
/// with their lambda, box and `i - 1` pairing: images bit for bit, labels to the
/// last bit, and lambda is torchvision's `lam_adjusted` exactly.
#[test]
fn torchvision_mixup_and_cutmix_on_two_dimensional_labels() {
    for device in [device(), Device::flex()] {
        for case in fixture()["torchvision"].as_array().unwrap() {
            let name = format!("{} on {device:?}", case["name"].as_str().unwrap());
            let k = case["classes"].as_u64().unwrap() as usize;
            let lambda = case["lambda"].as_f64().unwrap();
            let b = partners(case).len();
            let cut = if case["box"].is_null() {
                vec![]
            } else {
                flat(&case["box"]).0
            };
            let params = match cut.as_slice() {
                [y0, y1, x0, x1] => {
                    let cut = CutBox {
                        y0: *y0 as usize,
                        y1: *y1 as usize,
                        x0: *x0 as usize,
                        x1: *x1 as usize,
                    };
                    let params = MixParams::paste(cut, partners(case), (8, 8)).unwrap();
                    assert_eq!(params.lambda().of_sample(0), lambda, "{name}");
                    params
                }
                _ => MixParams::blend(lambda, partners(case)).unwrap(),
            };
            let images = flat(&case["images"])
                .0
                .iter()
                .map(|&v| v as f32)
                .collect::<Vec<_>>();
            let images = Tensor::<4>::from_data(TensorData::new(images, [b, 3, 8, 8]), &device);
            let labels = matrix(&case["labels"], [b, k], &device);
            let batch = params.mix_dense(images, labels).unwrap();
            assert_f32_exact(
                &to_vec(batch.inputs().clone()),
                &flat(&case["mixed_images"]).0,
                &name,
            );
            assert_f32_exact(
                &to_vec(batch.targets().clone()),
                &flat(&case["mixed_labels"]).0,
                &name,
            );
        }
    }
}

/// Through the mixer's own draws, for every method and mode: the inputs are those
/// of the label path with the same draw, and one-hot dense targets mix into
/// exactly the label path's soft targets (`lambda` = the kept area for the CutMix
/// family).
#[test]
fn every_method_and_mode_mixes_one_hot_rows_as_the_label_path() {
    for device in [device(), Device::flex()] {
        for (name, config) in mixing_methods() {
            for mode in [MixMode::Batch, MixMode::Pair, MixMode::Elem] {
                let config = config.clone().with_mode(mode).with_seed(Some(11));
                let images =
                    Tensor::<4>::random([6, 2, 9, 7], burn::tensor::Distribution::Default, &device);
                let labels = [3i64, 0, 4, 4, 1, 2];
                let y = Tensor::<1, Int>::from_ints(labels, &device);
                let one_hot: Vec<f32> = labels
                    .iter()
                    .flat_map(|&l| (0..5).map(move |c| (c == l) as u8 as f32))
                    .collect();
                let dense = Tensor::<2>::from_data(TensorData::new(one_hot, [6, 5]), &device);
                let what = format!("{name} {mode:?} on {device:?}");
                let dense_batch = config
                    .init()
                    .unwrap()
                    .apply_dense(images.clone(), dense)
                    .unwrap();
                let label_batch = config.init().unwrap().apply(images, y).unwrap();
                assert_eq!(dense_batch.params(), label_batch.params(), "{what}");
                assert_eq!(
                    to_vec(dense_batch.inputs().clone()),
                    to_vec(label_batch.inputs().clone()),
                    "{what}"
                );
                let soft = to_vec(label_batch.soft_targets(5, 0.0).unwrap());
                let soft: Vec<f64> = soft.iter().map(|&v| v as f64).collect();
                assert_f32_exact(&to_vec(dense_batch.targets().clone()), &soft, &what);
            }
        }
    }
}

#[derive(Clone)]
struct Tagged;
impl Batcher<(f32, [f32; 4]), (Tensor<4>, Tensor<2>)> for Tagged {
    fn batch(&self, items: Vec<(f32, [f32; 4])>, device: &Device) -> (Tensor<4>, Tensor<2>) {
        let n = items.len();
        let pixels: Vec<f32> = items.iter().flat_map(|(v, _)| [*v; 16]).collect();
        let tags: Vec<f32> = items.iter().flat_map(|(_, t)| *t).collect();
        (
            Tensor::from_data(TensorData::new(pixels, [n, 1, 4, 4]), device),
            Tensor::from_data(TensorData::new(tags, [n, 4]), device),
        )
    }
}

/// A multi-label step on ndarray and flex through a real `DataLoader` with two workers and an odd last
/// batch: every batch is mixed, every target row stays in [0, 1] and a BCE step
/// has a finite loss and gradient.
#[test]
fn the_dense_batcher_trains_through_a_data_loader_with_workers() {
    for device in [autodiff(), Device::flex().autodiff()] {
        let items: Vec<(f32, [f32; 4])> = (0..11)
            .map(|i| {
                (
                    i as f32,
                    [(i % 2) as f32, (i % 3 == 0) as u8 as f32, 1.0, 0.0],
                )
            })
            .collect();
        let mixer = MixConfig::cutmix(1.0).with_seed(Some(6)).init().unwrap();
        let batcher = MixupBatcher::new(Tagged, mixer).with_num_classes(4).dense();
        let loader = DataLoaderBuilder::new(batcher)
            .batch_size(4)
            .num_workers(2)
            .set_device(device.clone())
            .build(InMemDataset::new(items));
        let bce = BinaryCrossEntropyConfig::new().init(&device).unwrap();
        let (mut batches, mut rows) = (0, 0);
        for batch in loader.iter() {
            let batch: DenseMixedBatch<4> = batch.unwrap();
            let targets = to_vec(batch.targets().clone());
            assert!(targets.iter().all(|t| (0.0..=1.0).contains(t)));
            assert!(targets.chunks(4).all(|row| row[2] == 1.0 && row[3] == 0.0));
            let [n, ..] = batch.inputs().dims();
            let weights = Tensor::<2>::ones([16, 4], &device).require_grad();
            let logits = batch
                .inputs()
                .clone()
                .reshape([n, 16])
                .matmul(weights.clone());
            let loss = batch.bce_loss(logits, &bce);
            let grads = loss.backward();
            assert!(
                to_vec(weights.grad(&grads).unwrap())
                    .iter()
                    .all(|g| g.is_finite())
            );
            batches += 1;
            rows += n;
        }
        assert_eq!((batches, rows), (3, 11));
    }
}

#[test]
fn bad_dense_input_is_a_typed_error() {
    let device = device();
    let mixer = MixConfig::cutmix(1.0).init().unwrap();
    let x = Tensor::<4>::zeros([2, 1, 4, 4], &device);
    assert_eq!(
        mixer
            .apply_dense(x.clone(), Tensor::ones([3, 4], &device))
            .unwrap_err(),
        MixError::BatchSizeMismatch {
            inputs: 2,
            targets: 3
        }
    );
    assert_eq!(
        mixer
            .apply_dense(x.clone(), Tensor::ones([2, 0], &device))
            .unwrap_err(),
        MixError::InvalidNumClasses(0)
    );
    assert_eq!(
        mixer
            .apply_dense(
                Tensor::<2>::zeros([2, 3], &device),
                Tensor::ones([2, 4], &device)
            )
            .unwrap_err(),
        MixError::NotAnImage { dims: vec![2, 3] }
    );
    let cut = CutBox {
        y0: 1,
        y1: 5,
        x0: 0,
        x1: 2,
    };
    assert_eq!(
        MixParams::paste(cut, vec![1, 0], (4, 4)).unwrap_err(),
        MixError::BoxOutsideImage { cut, image: (4, 4) }
    );
    let batcher = MixupBatcher::new(Tagged, mixer.clone())
        .with_num_classes(3)
        .dense();
    assert_eq!(
        batcher
            .try_batch::<_, 4>(vec![(0.0, [1.0; 4])], &device)
            .unwrap_err(),
        MixError::DenseTargetWidth {
            expected: 3,
            got: 4
        }
    );
    let batcher = MixupBatcher::new(Tagged, mixer).with_num_classes(4).dense();
    let err = batcher
        .try_batch::<_, 4>(vec![(0.0, [1.0; 4]), (1.0, [0.0, -0.5, 0.0, 0.0])], &device)
        .unwrap_err();
    assert_eq!(
        err,
        MixError::InvalidDenseTarget {
            row: 1,
            class: 1,
            value: -0.5
        }
    );
}
