//! The cases of `tests/fixtures/dense_maps.json` (made by
//! `tests/fixtures/make_dense_maps.py 25`) run through the public API on any device:
//! shared by the library tests and the backend suite, which each hold the results
//! to their tolerances.

use burn::nn::loss::Reduction;
use burn::tensor::{Device, Int, Tensor, TensorData};
use burn_mixup::{
    BinaryCrossEntropyConfig, LabelSmoothingCrossEntropyConfig, Lambda, MixConfig, MixMode,
    MixParams, Mixer, SegmentationBatch, SmoothingConvention,
};
use serde_json::Value;

use crate::common::{assert_close, assert_f32_exact, flat, to_ints};

pub fn fixture() -> Value {
    serde_json::from_str(include_str!("../fixtures/dense_maps.json"))
        .expect("fixture is valid JSON")
}

/// One value computed here beside the reference's, and its gradient.
pub struct Computed {
    pub what: String,
    pub loss: Vec<f32>,
    pub want_loss: Vec<f64>,
    pub grad: Vec<f32>,
    pub want_grad: Vec<f64>,
}

impl Computed {
    /// Asserts the loss within `loss_rtol` relative (plus `loss_atol`) and the
    /// gradient within `grad_atol` absolute of the reference.
    pub fn assert_within(&self, loss_rtol: f64, loss_atol: f64, grad_atol: f64) {
        assert_close(
            &self.loss,
            &self.want_loss,
            loss_rtol,
            loss_atol,
            &self.what,
        );
        assert_close(&self.grad, &self.want_grad, 0.0, grad_atol, &self.what);
    }
}

pub fn matrix(values: &Value, shape: [usize; 2], device: &Device) -> Tensor<2> {
    let values: Vec<f32> = flat(values).0.iter().map(|&v| v as f32).collect();
    Tensor::from_data(TensorData::new(values, shape), device)
}

pub fn partners(case: &Value) -> Vec<usize> {
    flat(&case["partners"])
        .0
        .iter()
        .map(|&p| p as usize)
        .collect()
}

/// A `dense` case (device with autodiff): the mixed soft and multi-label targets
/// are asserted equal to timm's, bit for bit in f32; the five losses are returned.
pub fn dense_case(case: &Value, device: &Device) -> Vec<Computed> {
    let name = format!("{} on {device:?}", case["name"].as_str().unwrap());
    let k = case["classes"].as_u64().unwrap() as usize;
    let lambdas = flat(&case["lambdas"]).0;
    let b = lambdas.len();
    let params = if case["per_sample"].as_bool().unwrap() {
        MixParams::blend_per_sample(lambdas, partners(case)).unwrap()
    } else {
        MixParams::blend(lambdas[0], partners(case)).unwrap()
    };
    let x = Tensor::<2>::zeros([b, 1], device);
    let soft = params
        .mix_dense(x.clone(), matrix(&case["soft"], [b, k], device))
        .unwrap();
    let mixed = soft.targets().clone().try_into_vec_as::<f32>().unwrap();
    assert_f32_exact(&mixed, &flat(&case["mixed_soft"]).0, &name);
    let multi = params
        .mix_dense(x, matrix(&case["multi_label"], [b, k], device))
        .unwrap();
    let smoothed = multi.multi_label_targets(0.1).unwrap();
    let values = smoothed.clone().try_into_vec_as::<f32>().unwrap();
    assert_f32_exact(&values, &flat(&case["mixed_multi_label_s01"]).0, &name);

    let run = |key: &str, loss: &dyn Fn(Tensor<2>) -> Tensor<1>| {
        let z = matrix(&case["logits"], [b, k], device).require_grad();
        let value = loss(z.clone());
        let grads = value.backward();
        Computed {
            what: format!("{key} {name}"),
            loss: value.try_into_vec_as::<f32>().unwrap(),
            want_loss: vec![case[key]["loss"].as_f64().unwrap()],
            grad: z.grad(&grads).unwrap().try_into_vec_as::<f32>().unwrap(),
            want_grad: flat(&case[key]["grad"]).0,
        }
    };
    let ce = |eps: f64| {
        LabelSmoothingCrossEntropyConfig::new()
            .with_smoothing(eps)
            .init(device)
            .unwrap()
    };
    let bce = |config: BinaryCrossEntropyConfig| config.init(device).unwrap();
    let plain = bce(BinaryCrossEntropyConfig::new().with_smoothing(0.0));
    let threshold = bce(BinaryCrossEntropyConfig::new()
        .with_smoothing(0.0)
        .with_target_threshold(Some(0.2)));
    let dense = bce(BinaryCrossEntropyConfig::new().with_smooth_dense(true));
    vec![
        run("ce_s01", &|z| soft.loss(z, &ce(0.1))),
        run("soft_target_ce", &|z| soft.loss(z, &ce(0.0))),
        run("bce", &|z| plain.forward_probs(z, smoothed.clone())),
        run("bce_thresh02", &|z| {
            threshold.forward_probs(z, smoothed.clone())
        }),
        run("bce_smooth_dense", &|z| multi.bce_loss(z, &dense)),
    ]
}

/// A `maps` case (device with autodiff): the per-pixel loss of its segmentation
/// batch (one map set, or two with a batch or per-map lambda) and its gradient; the
/// batch's own `[B, H, W]` losses for reduction `none` (the gradient is then that of
/// their sum). With one map set the criterion alone must give the same bits.
pub fn map_case(case: &Value, device: &Device) -> Computed {
    let name = format!("{} on {device:?}", case["name"].as_str().unwrap());
    let shape: Vec<usize> = flat(&case["shape"]).0.iter().map(|&v| v as usize).collect();
    let [b, k, h, w] = [shape[0], shape[1], shape[2], shape[3]];
    let logits: Vec<f32> = flat(&case["logits"]).0.iter().map(|&v| v as f32).collect();
    let z = Tensor::<4>::from_data(TensorData::new(logits, [b, k, h, w]), device).require_grad();
    let maps: Vec<i64> = flat(&case["maps"]).0.iter().map(|&v| v as i64).collect();
    let maps = Tensor::<3, Int>::from_data(TensorData::new(maps, [b, h, w]), device);
    let images = Tensor::<4>::zeros([b, 1, h, w], device);
    let batch = if case["lambdas"].is_null() {
        SegmentationBatch::unmixed(images, maps.clone()).unwrap()
    } else {
        let lambdas = flat(&case["lambdas"]).0;
        let params = if lambdas.iter().all(|&l| l == lambdas[0]) {
            MixParams::blend(lambdas[0], partners(case)).unwrap()
        } else {
            MixParams::blend_per_sample(lambdas, partners(case)).unwrap()
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
        .init(device)
        .unwrap();
    let (loss, total) = if reduction == "none" {
        let per_pixel = batch.try_loss_no_reduction(z.clone(), &criterion).unwrap();
        assert_eq!(per_pixel.dims(), [b, h, w], "{name}");
        (
            per_pixel.clone().try_into_vec_as::<f32>().unwrap(),
            per_pixel.sum(),
        )
    } else {
        let loss = batch.loss(z.clone(), &criterion);
        if case["lambdas"].is_null() {
            let direct = criterion.forward_maps(z.clone(), maps);
            assert_eq!(
                direct.try_into_vec_as::<f32>().unwrap(),
                loss.clone().try_into_vec_as::<f32>().unwrap(),
                "{name}"
            );
        }
        (loss.clone().try_into_vec_as::<f32>().unwrap(), loss)
    };
    let grads = total.backward();
    Computed {
        what: name,
        loss,
        want_loss: flat(&case["loss"]).0,
        grad: z.grad(&grads).unwrap().try_into_vec_as::<f32>().unwrap(),
        want_grad: flat(&case["grad"]).0,
    }
}

/// Every mixing method, for the map checks.
pub fn mixing_methods() -> Vec<(&'static str, MixConfig)> {
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

/// One draw of `mixer` on images whose every pixel carries its own code
/// `(i * H + y) * W + x` in both channels, and maps that carry the same codes: a
/// pasted or kept sample's map must equal its first channel everywhere (the map
/// pasted under the image's box, mask or resize, bit for bit), and a blended sample
/// keeps its own map, its partner's, and the blend's lambda.
pub fn maps_follow_their_pixels(mixer: &Mixer, device: &Device, what: &str) {
    let (b, h, w) = (6, 9, 7);
    let plane = h * w;
    let codes: Vec<i64> = (0..(b * plane) as i64).collect();
    let pixels: Vec<f32> = codes.iter().map(|&c| c as f32).collect();
    let images = Tensor::<3>::from_data(TensorData::new(pixels, [b, h, w]), device)
        .reshape([b, 1, h, w])
        .repeat_dim(1, 2);
    let maps = Tensor::<3, Int>::from_data(TensorData::new(codes.clone(), [b, h, w]), device);
    let batch = mixer.apply_segmentation(images, maps).unwrap();
    let pixels = batch.images().clone().try_into_vec_as::<f32>().unwrap();
    let own = to_ints(batch.maps().clone());
    let second = to_ints(batch.partner_maps().clone());
    let params = batch.params();
    for i in 0..b {
        let weight = batch.map_lambda().of_sample(i);
        let blended = params.cut_box(i).is_none()
            && params.fourier_mask(i).is_none()
            && params.lambda().of_sample(i) < 1.0;
        let map = |m: &[i64], s: usize| m[s * plane..(s + 1) * plane].to_vec();
        if blended {
            let j = params.partners()[i];
            assert_eq!(map(&own, i), map(&codes, i), "{what}");
            assert_eq!(map(&second, i), map(&codes, j), "{what}");
            assert_eq!(weight, params.lambda().of_sample(i), "{what}");
        } else {
            let first_channel = &pixels[2 * i * plane..(2 * i + 1) * plane];
            let from_image: Vec<i64> = first_channel.iter().map(|&v| v as i64).collect();
            assert_eq!(map(&own, i), from_image, "{what} sample {i}");
            assert_eq!(map(&second, i), map(&own, i), "{what}");
            assert_eq!(weight, 1.0, "{what}");
        }
    }
    if params.cut_box(0).is_some() && mixer.config().mode == MixMode::Batch {
        assert_eq!(batch.map_lambda(), &Lambda::Batch(1.0), "{what}");
    }
}
