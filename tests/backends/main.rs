//! The library's numeric checks that matter most, generic over the backend: the
//! losses against the PyTorch/timm reference values (forward and gradient through
//! burn-autodiff), every mixing method replayed on the host (pasted pixels bit for
//! bit, blends to a tolerance), and the batcher.
//!
//! Each function takes the device under test: Burn 0.22 picks the backend by the
//! device value, so one function checks every backend. They run on ndarray and flex
//! in every `cargo test`, and on wgpu with `--features wgpu`: burn-wgpu runs the
//! cubecl kernels of burn-cuda (JIT compiled, 32-bit integers, asynchronous
//! execution), so on Mesa's lavapipe (software Vulkan) it exercises the GPU code
//! path on a machine without a GPU. `.ci/run` runs that when a Vulkan driver is
//! present.
//!
//! Each check measures its largest deviation and asserts the backend's tolerance;
//! `cargo test --test backends -- --nocapture` prints them (BENCHMARKS.md has the
//! table).
#![allow(dead_code)]

#[path = "../library/common.rs"]
mod common;
#[path = "../library/dense_maps_cases.rs"]
mod dense_maps_cases;

use burn::data::dataloader::batcher::Batcher;
use burn::tensor::{Device, Int, Tensor, TensorData};
use burn_mixup::{
    LabelSmoothingCrossEntropyConfig, MixConfig, MixMode, MixParams, MixupBatcher, Pairing,
    SmoothingConvention,
};

use common::{
    check_replay, flat, floats, ints, refs, refs_v2, special_values, timm_bce_config, to_ints,
    to_vec,
};

/// Largest deviations of one backend from the references.
#[derive(Debug, Default)]
struct Deviation {
    /// Relative error of a loss value.
    loss: f64,
    /// Absolute error of a gradient element.
    grad: f64,
}

impl Deviation {
    /// Prints the deviations (the lines BENCHMARKS.md §9 quotes) and asserts them.
    fn assert_within(&self, backend: &str, what: &str, loss_tolerance: f64, grad_tolerance: f64) {
        println!(
            "{backend}: {what}loss relative error {:.2e} (tolerance {loss_tolerance:.0e}), gradient absolute error {:.2e} (tolerance {grad_tolerance:.0e})",
            self.loss, self.grad
        );
        assert!(self.loss <= loss_tolerance, "{self:?}");
        assert!(self.grad <= grad_tolerance, "{self:?}");
    }

    fn loss(&mut self, got: f32, want: &serde_json::Value) {
        let want = want.as_f64().expect("a reference number");
        assert!(got.is_finite(), "loss {got}, reference {want}");
        self.loss = self.loss.max(((got as f64 - want) / want).abs());
    }

    fn grad(&mut self, got: Vec<f32>, want: &serde_json::Value) {
        let want = flat(want).0;
        assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(want) {
            assert!(g.is_finite(), "gradient {g}, reference {w}");
            self.grad = self.grad.max((*g as f64 - w).abs());
        }
    }
}

/// PyTorch's label smoothing and the tutorial's (both conventions), the mixup
/// criterion on a fixed permutation, and timm's BCE on mixup targets (all 8
/// combinations of smoothing, threshold and pos_weight).
fn losses(device: &Device) -> Deviation {
    let autodiff = device.clone().autodiff();
    let mut deviation = Deviation::default();
    let refs = refs();
    for (key, convention) in [
        ("a_pytorch_label_smoothing", SmoothingConvention::Uniform),
        ("b_tutorial_label_smoothing", SmoothingConvention::OffTarget),
    ] {
        let case = &refs[key];
        for result in case["results"].as_array().unwrap() {
            let ce = LabelSmoothingCrossEntropyConfig::new()
                .with_smoothing(result["eps"].as_f64().unwrap())
                .with_convention(convention)
                .init(device)
                .unwrap();
            let logits = floats::<2>(&case["logits"], &autodiff).require_grad();
            let loss = ce.forward(logits.clone(), ints(&case["targets"], &autodiff));
            let grad = logits.grad(&loss.backward()).unwrap();
            deviation.loss(to_vec(loss.without_autodiff())[0], &result["loss_mean"]);
            deviation.grad(to_vec(grad), &result["grad_mean"]);
        }
    }

    let case = &refs["d_mixup_criterion"];
    let permutation: Vec<usize> = flat(&case["perm"]).0.iter().map(|&p| p as usize).collect();
    let params = MixParams::blend(case["lam"].as_f64().unwrap(), permutation).unwrap();
    for result in case["results"].as_array().unwrap() {
        let batch = params
            .mix_batch(
                Tensor::<2>::zeros([8, 1], device),
                ints(&case["y_a"], &autodiff),
            )
            .unwrap();
        let ce = LabelSmoothingCrossEntropyConfig::new()
            .with_smoothing(result["eps"].as_f64().unwrap())
            .init(device)
            .unwrap();
        let logits = floats::<2>(&case["logits"], &autodiff).require_grad();
        let loss = batch.loss(logits.clone(), &ce);
        let grad = logits.grad(&loss.backward()).unwrap();
        deviation.loss(
            to_vec(loss.without_autodiff())[0],
            &result["criterion_loss_mean"],
        );
        deviation.grad(to_vec(grad), &result["criterion_grad_mean"]);
    }

    let refs = refs_v2();
    let case = &refs["j_binary_cross_entropy"];
    let permutation: Vec<usize> = flat(&case["perm"]).0.iter().map(|&p| p as usize).collect();
    let targets = ints(&case["targets"], &autodiff);
    let [size] = targets.dims();
    let batch = MixParams::blend(case["lam"].as_f64().unwrap(), permutation)
        .unwrap()
        .mix_batch(Tensor::<2>::zeros([size, 1], device), targets)
        .unwrap();
    for result in case["results"].as_array().unwrap() {
        let logits = floats::<2>(&case["logits"], &autodiff).require_grad();
        let [_, classes] = logits.dims();
        let bce = timm_bce_config(result, classes).init(device).unwrap();
        let loss = bce.forward_mixed(logits.clone(), &batch);
        let grad = logits.grad(&loss.backward()).unwrap();
        deviation.loss(to_vec(loss.without_autodiff())[0], &result["loss_mean"]);
        deviation.grad(to_vec(grad), &result["grad_mean"]);
    }
    deviation
}

const CHANNELS: usize = 2;

/// Every method in the modes that matter, seeded: returns the largest blend error.
fn mixing(device: &Device) -> f64 {
    let (batch, height, width) = (7, 6, 9);
    let input = special_values(batch * CHANNELS * height * width);
    let x = Tensor::<4>::from_data(
        TensorData::new(input.clone(), [batch, CHANNELS, height, width]),
        device,
    );
    let mut blend_error: f64 = 0.0;
    for (config, mode) in [
        (MixConfig::mixup(1.0), MixMode::Batch),
        (MixConfig::mixup(1.0), MixMode::Elem),
        (MixConfig::cutmix(1.0), MixMode::Batch),
        (MixConfig::new().with_cutmix_alpha(1.0), MixMode::Elem),
        (MixConfig::resizemix(0.3, 0.8), MixMode::Elem),
        (MixConfig::fmix(1.0, 3.0), MixMode::Pair),
        (MixConfig::fmix(1.0, 3.0), MixMode::Elem),
    ] {
        let mixer = config.with_mode(mode).with_seed(Some(7)).init().unwrap();
        for _ in 0..3 {
            let params = mixer.sample(&x.dims()).unwrap();
            let output = to_vec(params.mix(x.clone()).unwrap());
            let seen = check_replay(&params, &input, &output, CHANNELS, (height, width));
            blend_error = blend_error.max(seen.blend_abs);
        }
    }
    blend_error
}

/// An inner batcher of constant images: item `v` is an image of value `v`, label
/// `v % 10`.
#[derive(Clone)]
struct Constant;

impl Batcher<usize, (Tensor<4>, Tensor<1, Int>)> for Constant {
    fn batch(&self, items: Vec<usize>, device: &Device) -> (Tensor<4>, Tensor<1, Int>) {
        let values: Vec<f32> = items
            .iter()
            .flat_map(|&v| vec![v as f32; CHANNELS * 16])
            .collect();
        let labels: Vec<i64> = items.iter().map(|&v| (v % 10) as i64).collect();
        (
            Tensor::from_data(
                TensorData::new(values, [items.len(), CHANNELS, 4, 4]),
                device,
            ),
            Tensor::from_data(TensorData::new(labels, [items.len()]), device),
        )
    }
}

/// `MixupBatcher` on this backend: odd batches, every draw replayed exactly, both
/// target sets the labels of the sample and of its partner.
fn batcher(device: &Device) {
    let mixer = MixConfig::new()
        .with_cutmix_alpha(1.0)
        .with_mode(MixMode::Elem)
        .with_pairing(Pairing::Flip)
        .with_seed(Some(3))
        .init()
        .unwrap();
    let batcher = MixupBatcher::new(Constant, mixer).with_num_classes(10);
    for items in [vec![1, 2, 3], vec![4, 5, 6, 7, 8], vec![9]] {
        let n = items.len();
        let batch: burn_mixup::MixedBatch<4> = batcher.batch(items.clone(), device);
        let input: Vec<f32> = items
            .iter()
            .flat_map(|&v| vec![v as f32; CHANNELS * 16])
            .collect();
        let output = to_vec(batch.inputs().clone());
        check_replay(batch.params(), &input, &output, CHANNELS, (4, 4));
        let labels = |t: &Tensor<1, Int>| -> Vec<i64> { to_ints(t.clone()) };
        let own: Vec<i64> = items.iter().map(|&v| (v % 10) as i64).collect();
        let partners: Vec<i64> = batch.params().partners().iter().map(|&p| own[p]).collect();
        assert_eq!(labels(batch.targets()), own);
        assert_eq!(labels(batch.partner_targets()), partners);
        assert_eq!(batch.batch_size(), n);
    }
}

/// Dense targets and segmentation maps on this backend: the mixed targets bit for
/// bit, the losses on them and the per-pixel criterion against PyTorch/timm (the
/// deviations returned), and maps pasted under exactly the images' regions for
/// every method and mode.
fn dense_and_maps(device: &Device) -> Deviation {
    let fixture = dense_maps_cases::fixture();
    let mut deviation = Deviation::default();
    let mut record = |computed: dense_maps_cases::Computed| {
        for (got, want) in computed.loss.iter().zip(&computed.want_loss) {
            assert!(got.is_finite(), "{}: loss {got}", computed.what);
            deviation.loss = deviation
                .loss
                .max(((*got as f64 - want) / want.abs().max(1e-3)).abs());
        }
        for (got, want) in computed.grad.iter().zip(&computed.want_grad) {
            assert!(got.is_finite(), "{}: gradient {got}", computed.what);
            deviation.grad = deviation.grad.max((*got as f64 - want).abs());
        }
    };
    let autodiff = device.clone().autodiff();
    for case in fixture["dense"].as_array().unwrap() {
        dense_maps_cases::dense_case(case, &autodiff)
            .into_iter()
            .for_each(&mut record);
    }
    for case in fixture["maps"].as_array().unwrap() {
        record(dense_maps_cases::map_case(case, &autodiff));
    }
    for (name, config) in dense_maps_cases::mixing_methods() {
        for mode in [MixMode::Batch, MixMode::Pair, MixMode::Elem] {
            let mixer = config
                .clone()
                .with_mode(mode)
                .with_seed(Some(5))
                .init()
                .unwrap();
            dense_maps_cases::maps_follow_their_pixels(&mixer, device, &format!("{name} {mode:?}"));
        }
    }
    deviation
}

/// One backend's tests, asserting its tolerances: losses relative, gradients and
/// blends absolute.
macro_rules! suite {
    ($name:ident, $device:expr, loss_rtol: $loss:expr, grad_atol: $grad:expr, blend_atol: $blend:expr) => {
        mod $name {
            use super::*;

            #[test]
            fn losses_match_pytorch_and_timm() {
                losses(&$device).assert_within(stringify!($name), "", $loss, $grad);
            }

            #[test]
            fn every_method_replays_exactly() {
                let blend = mixing(&$device);
                println!(
                    "{}: pasted pixels bit for bit, blend absolute error {blend:.2e} (tolerance {:.0e})",
                    stringify!($name), $blend
                );
                assert!(blend <= $blend, "blend error {blend}");
            }

            #[test]
            fn dense_targets_and_maps_match_pytorch_and_timm() {
                dense_and_maps(&$device).assert_within(
                    stringify!($name),
                    "dense targets and maps (mixed targets and pasted maps bit for bit): ",
                    $loss,
                    $grad,
                );
            }

            #[test]
            fn the_batcher_mixes_odd_batches() {
                batcher(&$device);
            }
        }
    };
}

// The reference README's tolerances for a correct f32 implementation (losses 1e-5
// relative, gradients 1e-6 absolute); blends of values up to 5 in f32.
suite!(ndarray, common::device(), loss_rtol: 1e-5, grad_atol: 1e-6, blend_atol: 1e-6);
suite!(flex, Device::flex(), loss_rtol: 1e-5, grad_atol: 1e-6, blend_atol: 1e-6);
#[cfg(feature = "wgpu")]
suite!(wgpu, Device::wgpu(burn::tensor::DeviceKind::DefaultDevice), loss_rtol: 1e-5, grad_atol: 1e-6, blend_atol: 1e-6);
