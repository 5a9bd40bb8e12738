//! Gradients against finite differences, in f64.
//!
//! Its own test binary: Burn 0.22 sets a device's default float type once per
//! process (`Device::configure`, before any tensor is made on it), so the f64 tests
//! must be the first (and only) users of the ndarray device in their process.

#[path = "library/common.rs"]
#[allow(dead_code)]
mod common;

use std::sync::OnceLock;

use burn::tensor::{Device, FloatDType, Int, Tensor, TensorData};
use burn_mixup::{LabelSmoothingCrossEntropyConfig, MixParams, SmoothingConvention};
use common::noise;

/// The ndarray device with f64 floats and autodiff, configured once.
fn f64_device() -> Device {
    static DEVICE: OnceLock<Device> = OnceLock::new();
    DEVICE
        .get_or_init(|| {
            let mut device = common::device();
            device
                .configure(FloatDType::F64)
                .expect("no tensor was made on the ndarray device before this binary's test");
            device.autodiff()
        })
        .clone()
}

fn int_tensor(values: &[i64]) -> Tensor<1, Int> {
    Tensor::from_data(
        TensorData::new(values.to_vec(), [values.len()]),
        &f64_device(),
    )
}

/// Autodiff's gradient of `loss_of` at `values` against central finite differences
/// (h = 1e-5 in f64: accurate to ~1e-9). Returns the gradient.
fn check_gradient(
    what: &str,
    values: &[f64],
    shape: [usize; 2],
    loss_of: impl Fn(Tensor<2>) -> Tensor<1>,
) -> Vec<f64> {
    let tensor =
        |v: &[f64]| Tensor::<2>::from_data(TensorData::new(v.to_vec(), shape), &f64_device());
    let logits = tensor(values).require_grad();
    let loss = loss_of(logits.clone());
    let grad = logits.grad(&loss.backward()).unwrap();
    assert_eq!(
        grad.dtype(),
        burn::tensor::DType::F64,
        "{what}: gradients in f64"
    );
    let grad: Vec<f64> = grad.into_data().try_to_vec().unwrap();
    let eval = |v: &[f64]| -> f64 { loss_of(tensor(v)).into_scalar::<f64>() };
    let h = 1e-5;
    for i in 0..values.len() {
        let (mut up, mut down) = (values.to_vec(), values.to_vec());
        up[i] += h;
        down[i] -= h;
        let numeric = (eval(&up) - eval(&down)) / (2.0 * h);
        assert!(
            (grad[i] - numeric).abs() < 1e-6,
            "{what}: d/dz[{i}]: autodiff {} vs numeric {numeric}",
            grad[i]
        );
    }
    grad
}

/// Every loss path: weighted + ignoring + off-target hard targets; a mixed batch with
/// one lambda, class weights and an ignore index; per-sample lambda with class
/// weights; weighted probability targets.
#[test]
fn gradients_match_finite_differences() {
    let (batch, k) = (5, 4);
    let values: Vec<f64> = noise(batch * k, 41, 2.0)
        .into_iter()
        .map(|v| v as f64)
        .collect();
    let weights = Some(vec![1.0, 0.5, 2.0, 1.5]);
    let device = f64_device();

    let targets = [0i64, 3, -1, 2, 1];
    let ignoring = LabelSmoothingCrossEntropyConfig::new()
        .with_smoothing(0.2)
        .with_convention(SmoothingConvention::OffTarget)
        .with_weights(weights.clone())
        .with_ignore_index(Some(-1))
        .init(&device)
        .unwrap();
    let grad = check_gradient("hard targets", &values, [batch, k], |z| {
        ignoring.forward(z, int_tensor(&targets))
    });
    // The ignored row gets no gradient at all.
    assert!(grad[2 * k..3 * k].iter().all(|&g| g == 0.0));

    let pair = MixParams::blend(0.35, vec![4, 2, 3, 0, 1])
        .unwrap()
        .mix_batch(
            Tensor::<2>::zeros([batch, 1], &device),
            int_tensor(&targets),
        )
        .unwrap();
    check_gradient("batch lambda, weights, ignore", &values, [batch, k], |z| {
        pair.loss(z, &ignoring)
    });

    let weighted = LabelSmoothingCrossEntropyConfig::new()
        .with_smoothing(0.1)
        .with_weights(weights)
        .init(&device)
        .unwrap();
    let per_sample =
        MixParams::blend_per_sample(vec![0.2, 0.9, 1.0, 0.5, 0.7], vec![1, 2, 3, 4, 0])
            .unwrap()
            .mix_batch(
                Tensor::<2>::zeros([batch, 1], &device),
                int_tensor(&[0, 3, 1, 2, 1]),
            )
            .unwrap();
    check_gradient("per-sample lambda, weights", &values, [batch, k], |z| {
        per_sample.loss(z, &weighted)
    });

    let probs: Vec<f64> = noise(batch * k, 5, 1.0)
        .iter()
        .map(|v| (v.abs() as f64) / 2.0)
        .collect();
    let probs = Tensor::<2>::from_data(TensorData::new(probs, [batch, k]), &device);
    check_gradient("probability targets, weights", &values, [batch, k], |z| {
        weighted.forward_probs(z, probs.clone())
    });
}
