//! Gradients against finite differences, in f64.
//!
//! Its own test binary: Burn keeps one default float type per device *type* for the
//! whole process, and `NdArray<f32>` and `NdArray<f64>` share `NdArrayDevice`, so the
//! f64 tests must be the first (and only) users of the device in their process.

mod common;

use burn::backend::Autodiff;
use burn::tensor::{Int, Tensor, TensorData};
use burn_mixup::{LabelSmoothingCrossEntropyConfig, SmoothingConvention};
use burn_ndarray::NdArray;
use common::noise;

fn int_tensor<BK: burn::tensor::backend::Backend>(values: &[i64]) -> Tensor<BK, 1, Int> {
    Tensor::from_data(
        TensorData::new(values.to_vec(), [values.len()]),
        &Default::default(),
    )
}

/// Gradients of the weighted, ignoring, off-target loss against central finite
/// differences, in f64 so that the differences are accurate to ~1e-9.
#[test]
fn gradients_match_finite_differences() {
    type F64 = NdArray<f64>;
    let (batch, k) = (5, 4);
    let values: Vec<f64> = noise(batch * k, 41, 2.0)
        .into_iter()
        .map(|v| v as f64)
        .collect();
    let targets = vec![0i64, 3, -1, 2, 1];
    let config = LabelSmoothingCrossEntropyConfig::new()
        .with_smoothing(0.2)
        .with_convention(SmoothingConvention::OffTarget)
        .with_weights(Some(vec![1.0, 0.5, 2.0, 1.5]))
        .with_ignore_index(Some(-1));
    let loss_ad = config.init::<Autodiff<F64>>(&Default::default()).unwrap();
    let logits = Tensor::<Autodiff<F64>, 2>::from_data(
        TensorData::new(values.clone(), [batch, k]),
        &Default::default(),
    )
    .require_grad();
    let loss = loss_ad.forward(logits.clone(), int_tensor(&targets));
    let grad: Vec<f64> = logits
        .grad(&loss.backward())
        .unwrap()
        .into_data()
        .to_vec()
        .unwrap();

    let loss_plain = config.init::<F64>(&Default::default()).unwrap();
    let eval = |v: &[f64]| -> f64 {
        let t = Tensor::<F64, 2>::from_data(
            TensorData::new(v.to_vec(), [batch, k]),
            &Default::default(),
        );
        loss_plain.forward(t, int_tensor(&targets)).into_scalar()
    };
    let h = 1e-5;
    for i in 0..values.len() {
        let (mut up, mut down) = (values.clone(), values.clone());
        up[i] += h;
        down[i] -= h;
        let numeric = (eval(&up) - eval(&down)) / (2.0 * h);
        assert!(
            (grad[i] - numeric).abs() < 1e-6,
            "d/dz[{i}]: autodiff {} vs numeric {numeric}",
            grad[i]
        );
    }
    // The ignored row gets no gradient at all.
    assert!(grad[2 * k..3 * k].iter().all(|&g| g == 0.0));
}
