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
use burn::nn::loss::Reduction;
use burn::tensor::{Device, Int, Tensor, TensorData};
use burn_mixup::{
    LabelSmoothingCrossEntropyConfig, Lambda, LossError, MixConfig, MixError, MixMode, MixParams,
    MixupBatcher, SegmentationBatch, SmoothingConvention,
};

use crate::common::{assert_close, assert_scalar, autodiff, device, flat, to_ints, to_vec};
use crate::dense::fixture;

#[test]
fn the_per_pixel_loss_and_gradient_match_pytorch() {
    for device in [autodiff(), Device::flex().autodiff()] {
        for case in fixture()["maps"].as_array().unwrap() {
            let name = format!("{} on {device:?}", case["name"].as_str().unwrap());
            let shape: Vec<usize> = flat(&case["shape"]).0.iter().map(|&v| v as usize).collect();
            let [b, k, h, w] = [shape[0], shape[1], shape[2], shape[3]];
            let logits: Vec<f32> = flat(&case["logits"]).0.iter().map(|&v| v as f32).collect();
            let z = Tensor::<4>::from_data(TensorData::new(logits, [b, k, h, w]), &device)
                .require_grad();
            let maps: Vec<i64> = flat(&case["maps"]).0.iter().map(|&v| v as i64).collect();
            let maps = Tensor::<3, Int>::from_data(TensorData::new(maps, [b, h, w]), &device);
            let partners: Vec<usize> = flat(&case["partners"])
                .0
                .iter()
                .map(|&v| v as usize)
                .collect();
            let images = Tensor::<4>::zeros([b, 1, h, w], &device);
            let batch = if case["lambdas"].is_null() {
                SegmentationBatch::unmixed(images, maps.clone()).unwrap()
            } else {
                let lambdas = flat(&case["lambdas"]).0;
                let params = if lambdas.iter().all(|&l| l == lambdas[0]) {
                    MixParams::blend(lambdas[0], partners).unwrap()
                } else {
                    MixParams::blend_per_sample(lambdas, partners).unwrap()
                };
                params.mix_segmentation(images, maps.clone()).unwrap()
            };
            let reduction = case["reduction"].as_str().unwrap();
            let criterion = LabelSmoothingCrossEntropyConfig::new()
                .with_smoothing(case["smoothing"].as_f64().unwrap())
                .with_convention(match case["convention"].as_str().unwrap() {
                    "off_target" => SmoothingConvention::OffTarget,
                    _ => SmoothingConvention::Uniform,
                })
                .with_weights(
                    case["weights"]
                        .as_array()
                        .map(|w| w.iter().map(|v| v.as_f64().unwrap() as f32).collect()),
                )
                .with_ignore_index(case["ignore_index"].as_i64())
                .with_reduction(match reduction {
                    "sum" => Reduction::Sum,
                    _ => Reduction::Mean,
                })
                .init(&device)
                .unwrap();
            let loss = if reduction == "none" {
                let per_pixel = batch.try_loss_no_reduction(z.clone(), &criterion).unwrap();
                assert_eq!(per_pixel.dims(), [b, h, w]);
                assert_close(
                    &to_vec(per_pixel.clone()),
                    &flat(&case["loss"]).0,
                    1e-5,
                    1e-6,
                    &name,
                );
                per_pixel.sum()
            } else {
                let loss = batch.loss(z.clone(), &criterion);
                assert_scalar(
                    loss.clone().into_scalar::<f32>(),
                    case["loss"].as_f64().unwrap(),
                    1e-5,
                    &name,
                );
                loss
            };
            if case["lambdas"].is_null() && reduction != "none" {
                // The criterion alone gives the same, to the bit.
                let direct = criterion.forward_maps(z.clone(), maps);
                assert_eq!(to_vec(direct), to_vec(loss.clone()), "{name}");
            }
            let grads = loss.backward();
            let grad = to_vec(z.grad(&grads).expect("gradient"));
            assert_close(&grad, &flat(&case["grad"]).0, 0.0, 1e-6, &name);
        }
    }
}

fn methods() -> Vec<(&'static str, MixConfig)> {
    vec![
        ("mixup", MixConfig::mixup(1.0)),
        ("cutmix", MixConfig::cutmix(1.0)),
        (
            "minmax",
            MixConfig::cutmix(0.0).with_cutmix_minmax(Some((0.2, 0.9))),
        ),
        ("resizemix", MixConfig::resizemix(0.1, 0.8)),
        ("fmix", MixConfig::fmix(1.0, 3.0)),
        ("switch", MixConfig::new().with_prob(0.8)),
    ]
}

/// Every pixel of every image carries its own code `(i * H + y) * W + x` in both
/// channels, and the maps carry the same codes: after mixing, a pasted or kept
/// sample's map equals its first channel everywhere (the map was pasted under the
/// image's box, mask or resize, bit for bit), and a blended sample keeps its own
/// map, its partner's, and the blend's lambda.
#[test]
fn maps_are_pasted_under_exactly_the_images_regions() {
    let (b, h, w) = (6, 9, 7);
    let codes: Vec<i64> = (0..(b * h * w) as i64).collect();
    for device in [device(), Device::flex()] {
        for (name, config) in methods() {
            for mode in [MixMode::Batch, MixMode::Pair, MixMode::Elem] {
                for seed in 0..3 {
                    let what = format!("{name} {mode:?} seed {seed} on {device:?}");
                    let plane: Vec<f32> = codes.iter().map(|&c| c as f32).collect();
                    let images = Tensor::<3>::from_data(TensorData::new(plane, [b, h, w]), &device)
                        .reshape([b, 1, h, w])
                        .repeat_dim(1, 2);
                    let maps = Tensor::<3, Int>::from_data(
                        TensorData::new(codes.clone(), [b, h, w]),
                        &device,
                    );
                    let mixer = config
                        .clone()
                        .with_mode(mode)
                        .with_seed(Some(seed))
                        .init()
                        .unwrap();
                    let batch = mixer.apply_segmentation(images, maps).unwrap();
                    let pixels = to_vec(batch.images().clone());
                    let (own, second) = (
                        to_ints(batch.maps().clone()),
                        to_ints(batch.partner_maps().clone()),
                    );
                    let params = batch.params();
                    for i in 0..b {
                        let weight = batch.map_lambda().of_sample(i);
                        let blended = params.cut_box(i).is_none()
                            && params.fourier_mask(i).is_none()
                            && params.lambda().of_sample(i) < 1.0;
                        let map = |m: &[i64]| m[i * h * w..(i + 1) * h * w].to_vec();
                        if blended {
                            let j = params.partners()[i];
                            assert_eq!(map(&own), codes[i * h * w..(i + 1) * h * w], "{what}");
                            assert_eq!(map(&second), codes[j * h * w..(j + 1) * h * w], "{what}");
                            assert_eq!(weight, params.lambda().of_sample(i), "{what}");
                        } else {
                            let first_channel = &pixels[2 * i * h * w..(2 * i + 1) * h * w];
                            let from_image: Vec<i64> =
                                first_channel.iter().map(|&v| v as i64).collect();
                            assert_eq!(map(&own), from_image, "{what} sample {i}");
                            assert_eq!(map(&second), map(&own), "{what}");
                            assert_eq!(weight, 1.0, "{what}");
                        }
                    }
                    if params.cut_box(0).is_some() && mode == MixMode::Batch {
                        assert_eq!(batch.map_lambda(), &Lambda::Batch(1.0), "{what}");
                        assert!(batch.lambda().mean() <= 1.0);
                    }
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

/// A segmentation step through a real `DataLoader` with two workers and an odd
/// last batch, void pixels included: finite loss and gradient on every batch.
#[test]
fn the_segmentation_batcher_trains_through_a_data_loader_with_workers() {
    let device = Device::flex().autodiff();
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
