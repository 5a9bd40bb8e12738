//! Segmentation maps: the per-pixel criterion against PyTorch's `F.cross_entropy`
//! on `[B, K, H, W]` (`tests/fixtures/dense_maps.json`, made by
//! `tests/fixtures/make_dense_maps.py 25`: one map set, two with a batch lambda,
//! one lambda per map; smoothing in both conventions, class weights, void pixels
//! in one map and not its partner, every reduction; loss and gradient), maps pasted
//! under exactly the images' regions for every method and mode, the batcher through
//! a `DataLoader` with workers, and the errors; on ndarray and flex.

use burn::data::dataloader::DataLoaderBuilder;
use burn::data::dataloader::batcher::Batcher;
use burn::data::dataset::InMemDataset;
use burn::tensor::{Device, Int, Tensor, TensorData};
use burn_mixup::{
    LabelSmoothingCrossEntropyConfig, LossError, MixConfig, MixError, MixMode, MixupBatcher,
    SegmentationBatch,
};

use crate::common::{autodiff, device, to_ints, to_vec};
use crate::dense_maps_cases::{fixture, map_case, maps_follow_their_pixels, mixing_methods};

#[test]
fn the_per_pixel_loss_and_gradient_match_pytorch() {
    for device in [autodiff(), Device::flex().autodiff()] {
        for case in fixture()["maps"].as_array().unwrap() {
            let computed = map_case(case, &device);
            computed.assert_within(1e-5, 1e-6, 1e-6);
        }
    }
}

/// Every method in every mode, three seeds: maps pasted under exactly the images'
/// regions, Mixup keeping both maps (see `maps_follow_their_pixels`).
#[test]
fn maps_are_pasted_under_exactly_the_images_regions() {
    for device in [device(), Device::flex()] {
        for (name, config) in mixing_methods() {
            for mode in [MixMode::Batch, MixMode::Pair, MixMode::Elem] {
                for seed in 0..3 {
                    let mixer = config
                        .clone()
                        .with_mode(mode)
                        .with_seed(Some(seed))
                        .init()
                        .unwrap();
                    let what = format!("{name} {mode:?} seed {seed} on {device:?}");
                    maps_follow_their_pixels(&mixer, &device, &what);
                }
            }
        }
    }
}

#[derive(Clone)]
struct Scenes;
impl Batcher<i64, (Tensor<4>, Tensor<3, Int>)> for Scenes {
    fn batch(&self, items: Vec<i64>, device: &Device) -> (Tensor<4>, Tensor<3, Int>) {
        let n = items.len();
        let labels: Vec<i64> = items
            .iter()
            .flat_map(|&i| (0..16).map(move |p| if p % 5 == 0 { 255 } else { (i + p) % 3 }))
            .collect();
        let pixels: Vec<f32> = labels.iter().map(|&l| l as f32 / 255.0).collect();
        (
            Tensor::from_data(TensorData::new(pixels, [n, 1, 4, 4]), device),
            Tensor::from_data(TensorData::new(labels, [n, 4, 4]), device),
        )
    }
}

/// A segmentation step on ndarray and flex through a real `DataLoader` with two workers and an odd
/// last batch, void pixels included: finite loss and gradient on every batch.
#[test]
fn the_segmentation_batcher_trains_through_a_data_loader_with_workers() {
    for device in [autodiff(), Device::flex().autodiff()] {
        let mixer = MixConfig::new()
            .with_mode(MixMode::Elem)
            .with_seed(Some(2))
            .init()
            .unwrap();
        let batcher = MixupBatcher::new(Scenes, mixer)
            .with_num_classes(3)
            .segmentation(Some(255));
        let loader = DataLoaderBuilder::new(batcher)
            .batch_size(4)
            .num_workers(2)
            .set_device(device.clone())
            .build(InMemDataset::new((0..11).collect()));
        let criterion = LabelSmoothingCrossEntropyConfig::new()
            .with_ignore_index(Some(255))
            .init(&device)
            .unwrap();
        let mut samples = 0;
        for batch in loader.iter() {
            let batch: SegmentationBatch = batch.unwrap();
            let [n, _, h, w] = batch.images().dims();
            // A 1x1 convolution as the model: 3 class logits per pixel.
            let weights = Tensor::<3>::ones([1, 3, 1], &device).require_grad();
            let logits = weights
                .clone()
                .repeat_dim(0, n)
                .matmul(batch.images().clone().reshape([n, 1, h * w]))
                .reshape([n, 3, h, w]);
            let loss = batch.loss(logits, &criterion);
            let value = loss.clone().into_scalar::<f32>();
            let grads = loss.backward();
            assert!(
                value.is_finite()
                    && to_vec(weights.grad(&grads).unwrap())
                        .iter()
                        .all(|g| g.is_finite())
            );
            samples += n;
        }
        assert_eq!(samples, 11);
    }
}

#[test]
fn bad_maps_are_a_typed_error() {
    let device = device();
    let mixer = MixConfig::cutmix(1.0).init().unwrap();
    let images = Tensor::<4>::zeros([2, 3, 4, 4], &device);
    assert_eq!(
        mixer
            .apply_segmentation(images.clone(), Tensor::zeros([2, 4, 5], &device))
            .unwrap_err(),
        MixError::MapSize {
            images: (4, 4),
            maps: (4, 5)
        }
    );
    assert_eq!(
        mixer
            .apply_segmentation(images.clone(), Tensor::zeros([3, 4, 4], &device))
            .unwrap_err(),
        MixError::BatchSizeMismatch {
            inputs: 2,
            targets: 3
        }
    );
    // Refused before the draw: no draw index was taken.
    assert_eq!(mixer.next_draw(), 0);
    // Boxes drawn for 4x4 replayed on 6x6 images.
    let params = mixer.sample(&[2, 3, 4, 4]).unwrap();
    assert_eq!(
        params
            .mix_segmentation(
                Tensor::zeros([2, 3, 6, 6], &device),
                Tensor::zeros([2, 6, 6], &device)
            )
            .unwrap_err(),
        MixError::ImageSize {
            expected: (4, 4),
            got: (6, 6)
        }
    );
    // A label that is neither a class nor the void label, through the batcher.
    let batcher = MixupBatcher::new(Scenes, mixer.clone())
        .with_num_classes(2)
        .segmentation(Some(255));
    let err = batcher.try_batch(vec![0, 1], &device).unwrap_err();
    assert_eq!(
        err,
        MixError::MapLabelOutOfRange {
            sample: 0,
            y: 0,
            x: 2,
            value: 2,
            num_classes: 2,
            ignore_index: Some(255)
        }
    );
    assert_eq!(
        err.to_string(),
        "map 0 holds 2 at (row 0, column 2), outside the classes 0..2 and not the void label 255"
    );
    // Without a void label, 255 itself is out of range.
    let batcher = MixupBatcher::new(Scenes, mixer)
        .with_num_classes(3)
        .segmentation(None);
    assert!(matches!(
        batcher.try_batch(vec![0], &device).unwrap_err(),
        MixError::MapLabelOutOfRange { value: 255, .. }
    ));
    let criterion = LabelSmoothingCrossEntropyConfig::new()
        .init(&device)
        .unwrap();
    assert_eq!(
        criterion
            .try_forward_maps(
                Tensor::zeros([2, 3, 4, 4], &device),
                Tensor::zeros([2, 4, 4 + 1], &device)
            )
            .unwrap_err(),
        LossError::MapShapeMismatch {
            logits: [2, 3, 4, 4],
            targets: [2, 4, 5]
        }
    );
}

/// The reductions relate as their definitions say: `Sum` is the sum of the
/// per-pixel losses, `BatchMean` that sum over the number of maps, `Mean` over the
/// kept pixels (void left out), on ndarray and flex.
#[test]
fn the_reductions_of_the_per_pixel_loss() {
    use burn::nn::loss::Reduction;
    for device in [device(), Device::flex()] {
        let (b, k, h, w) = (3, 4, 5, 6);
        let logits = Tensor::<4>::random(
            [b, k, h, w],
            burn::tensor::Distribution::Normal(0.0, 2.0),
            &device,
        );
        let labels: Vec<i64> = (0..(b * h * w) as i64)
            .map(|p| if p % 7 == 0 { 255 } else { p % 4 })
            .collect();
        let kept = labels.iter().filter(|&&l| l != 255).count() as f64;
        let maps = Tensor::<3, Int>::from_data(TensorData::new(labels, [b, h, w]), &device);
        let criterion = |reduction: Reduction| {
            LabelSmoothingCrossEntropyConfig::new()
                .with_ignore_index(Some(255))
                .with_reduction(reduction)
                .init(&device)
                .unwrap()
        };
        let value = |reduction: Reduction| -> f64 {
            criterion(reduction)
                .forward_maps(logits.clone(), maps.clone())
                .into_scalar::<f32>() as f64
        };
        let per_pixel = to_vec(
            criterion(Reduction::Mean).forward_maps_no_reduction(logits.clone(), maps.clone()),
        );
        let total: f64 = per_pixel.iter().map(|&l| l as f64).sum();
        let what = format!("{device:?}");
        assert!(
            (value(Reduction::Sum) - total).abs() <= 1e-4 * total,
            "{what}"
        );
        assert!(
            (value(Reduction::BatchMean) - total / b as f64).abs() <= 1e-4 * total,
            "{what}"
        );
        assert!(
            (value(Reduction::Mean) - total / kept).abs() <= 1e-5 * total,
            "{what}"
        );
    }
}

/// The pixel accuracy against its definition computed on the host from the
/// batch's maps, map weights and the logits' arg-max, void pixels left out, for
/// every mode of switching Mixup/CutMix, on ndarray and flex.
#[test]
fn the_pixel_accuracy_is_weighted_as_the_loss() {
    let (b, k, h, w) = (4, 3, 6, 5);
    for device in [device(), Device::flex()] {
        for mode in [MixMode::Batch, MixMode::Pair, MixMode::Elem] {
            let mixer = MixConfig::new()
                .with_mode(mode)
                .with_seed(Some(4))
                .init()
                .unwrap();
            let labels: Vec<i64> = (0..(b * h * w) as i64)
                .map(|p| if p % 9 == 4 { 255 } else { (p * 7 / 5) % 3 })
                .collect();
            let maps = Tensor::<3, Int>::from_data(TensorData::new(labels, [b, h, w]), &device);
            let images = Tensor::<4>::zeros([b, 1, h, w], &device);
            let batch = mixer.apply_segmentation(images, maps).unwrap();
            let logits =
                Tensor::<4>::random([b, k, h, w], burn::tensor::Distribution::Default, &device);
            let values = to_vec(logits.clone());
            let own = to_ints(batch.maps().clone());
            let second = to_ints(batch.partner_maps().clone());
            let (mut hits, mut total) = (0.0f64, 0.0f64);
            for i in 0..b {
                let weight = batch.map_lambda().of_sample(i);
                for p in 0..h * w {
                    let class = (0..k)
                        .max_by(|&x, &y| {
                            values[(i * k + x) * h * w + p]
                                .total_cmp(&values[(i * k + y) * h * w + p])
                        })
                        .unwrap() as i64;
                    for (map, share) in [(&own, weight), (&second, 1.0 - weight)] {
                        let label = map[i * h * w + p];
                        if label != 255 {
                            total += share;
                            hits += share * (label == class) as u8 as f64;
                        }
                    }
                }
            }
            let accuracy: f32 = batch
                .pixel_accuracy(logits, Some(255))
                .unwrap()
                .into_scalar();
            assert!(
                (accuracy as f64 - hits / total).abs() < 1e-6,
                "{mode:?} on {device:?}"
            );
        }
    }
}

/// A bad map through a real `DataLoader` with two workers: `Batcher::batch` cannot
/// return an error and Burn's loader ends the epoch when its workers panic, so the
/// mixer keeps the typed error, naming the map, the pixel and the value.
#[test]
fn a_bad_map_through_a_data_loader_with_workers_is_kept_by_the_mixer() {
    let device = Device::flex();
    let mixer = MixConfig::cutmix(1.0).with_seed(Some(2)).init().unwrap();
    let handle = mixer.clone();
    // Scenes holds labels 0..3 and 255; with two classes, label 2 is out of range.
    let batcher = MixupBatcher::new(Scenes, mixer)
        .with_num_classes(2)
        .segmentation(Some(255));
    let loader = DataLoaderBuilder::new(batcher)
        .batch_size(4)
        .num_workers(2)
        .set_device(device)
        .build(InMemDataset::new((0..8).collect()));
    let batches = loader.iter().filter(Result::is_ok).count();
    assert_eq!(batches, 0, "every batch holds a bad pixel");
    let error = handle
        .failure()
        .expect("the mixer keeps the batcher's error");
    assert!(matches!(
        error,
        MixError::MapLabelOutOfRange {
            value: 2,
            num_classes: 2,
            ignore_index: Some(255),
            ..
        }
    ));
    assert!(
        error
            .to_string()
            .contains("outside the classes 0..2 and not the void label 255")
    );
}
