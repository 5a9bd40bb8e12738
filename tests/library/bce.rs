//! `BinaryCrossEntropy` against timm's `BinaryCrossEntropy` (the
//! `j_binary_cross_entropy` case of `tests/fixtures/torch_refs_v2.json`, made by
//! `tests/fixtures/make_refs_v2.py 777` with timm 1.0.31): mixup targets with
//! smoothing, `target_threshold` and `pos_weight`, losses and gradients, through the
//! closed form on a `MixedBatch` and through dense targets; timm's smoothing of hard
//! targets; extreme logits.

use burn::tensor::{Int, Tensor};
use burn_mixup::{BinaryCrossEntropyConfig, LossError, MixParams, MixedBatch};
use serde_json::Value;

use crate::common::*;

const LOSS_RTOL: f64 = 1e-5;
const GRAD_ATOL: f64 = 1e-6;

fn mixed(case: &Value) -> MixedBatch<2> {
    let perm: Vec<usize> = flat(&case["perm"]).0.iter().map(|&p| p as usize).collect();
    let lambda = case["lam"].as_f64().unwrap();
    let targets = ints(&case["targets"], &autodiff());
    let [batch] = targets.dims();
    MixParams::blend(lambda, perm)
        .unwrap()
        .mix_batch(Tensor::zeros([batch, 1], &device()), targets)
        .unwrap()
}

/// Every combination of smoothing {0, 0.1} x threshold {none, 0.2} x pos_weight
/// {none, 2}: the closed form on the mixed batch and the dense path give timm's loss
/// and gradient.
#[test]
fn timm_binary_cross_entropy_on_mixup_targets_losses_and_gradients() {
    let refs = refs_v2();
    let case = &refs["j_binary_cross_entropy"];
    let batch = mixed(case);
    let results = case["results"].as_array().unwrap();
    assert_eq!(results.len(), 8);
    for result in results {
        let what = format!(
            "smoothing {} threshold {} pos_weight {}",
            result["smoothing"], result["target_threshold"], result["pos_weight"]
        );
        let logits = floats::<2>(&case["logits"], &autodiff()).require_grad();
        let [_, classes] = logits.dims();
        let with_smoothing = timm_bce_config(result, classes).init(&autodiff()).unwrap();
        let loss = with_smoothing.forward_mixed(logits.clone(), &batch);
        let grad = to_vec(logits.grad(&loss.backward()).unwrap());
        let expected = result["loss_mean"].as_f64().unwrap();
        assert_scalar(
            to_vec(loss.inner())[0],
            expected,
            LOSS_RTOL,
            &format!("mixed {what}"),
        );
        assert_close(
            &grad,
            &flat(&result["grad_mean"]).0,
            0.0,
            GRAD_ATOL,
            &format!("grad {what}"),
        );

        // Dense targets as timm's mixup_target built them (smoothing folded in), so
        // the loss takes them as given: smoothing 0 here.
        let logits = floats::<2>(&case["logits"], &autodiff()).require_grad();
        let dense = floats::<2>(&result["dense_targets"], &autodiff());
        let as_given = timm_bce_config(result, classes)
            .with_smoothing(0.0)
            .init(&autodiff())
            .unwrap();
        let loss = as_given.forward_probs(logits.clone(), dense);
        let grad = to_vec(logits.grad(&loss.backward()).unwrap());
        assert_scalar(
            to_vec(loss.inner())[0],
            expected,
            LOSS_RTOL,
            &format!("dense {what}"),
        );
        assert_close(
            &grad,
            &flat(&result["grad_mean"]).0,
            0.0,
            GRAD_ATOL,
            &format!("dense grad {what}"),
        );
    }
}

#[test]
fn timm_smoothing_of_hard_targets_and_extreme_logits() {
    let refs = refs_v2();
    let case = &refs["j_binary_cross_entropy"];
    let bce = BinaryCrossEntropyConfig::new()
        .with_smoothing(0.1)
        .init(&device())
        .unwrap();
    let loss = to_vec(bce.forward(
        floats::<2>(&case["logits"], &device()),
        ints(&case["targets"], &device()),
    ))[0];
    let expected = case["timm_hard_targets_smoothing_0.1"]["loss_mean"]
        .as_f64()
        .unwrap();
    assert_scalar(loss, expected, LOSS_RTOL, "hard targets, smoothing 0.1");

    // Logits of +-1e4 and 80: finite, PyTorch's value.
    let extreme = &case["extreme"];
    let logits = floats::<2>(&extreme["logits"], &autodiff()).require_grad();
    let plain = BinaryCrossEntropyConfig::new()
        .with_smoothing(0.0)
        .init(&autodiff())
        .unwrap();
    let loss = plain.forward_probs(
        logits.clone(),
        floats::<2>(&extreme["targets"], &autodiff()),
    );
    let value = to_vec(loss.clone().inner())[0];
    assert!(value.is_finite());
    assert_scalar(
        value,
        extreme["loss_mean"].as_f64().unwrap(),
        LOSS_RTOL,
        "extreme logits",
    );
    let grad = to_vec(logits.grad(&loss.backward()).unwrap());
    assert!(grad.iter().all(|g| g.is_finite()), "{grad:?}");
}

/// Closed forms against hand computations: at logit 0 every element costs ln 2; per
/// sample lambda (CutMix) equals the dense targets it stands for; `sum_classes` and
/// `Sum` rescale the mean by K and by B*K; class weights scale each column.
#[test]
fn closed_forms_match_dense_targets_and_hand_values() {
    let d = device();
    let logits = Tensor::<2>::from_floats([[1.5, -0.5, 3.0], [0.0, 2.0, -1.0]], &d);
    let y = Tensor::<1, Int>::from_ints([2, 0], &d);
    let per_sample = MixParams::blend_per_sample(vec![0.25, 0.75], vec![1, 0])
        .unwrap()
        .mix_batch(Tensor::<2>::zeros([2, 1], &d), y)
        .unwrap();
    // Sample 0: 0.25 * onehot(2) + 0.75 * onehot(0); sample 1: 0.75 * onehot(0) + 0.25 * onehot(2).
    for (smoothing, threshold) in [(0.0, None), (0.1, None), (0.1, Some(0.3)), (0.0, Some(0.5))] {
        let config = BinaryCrossEntropyConfig::new()
            .with_target_threshold(threshold)
            .with_weights(Some(vec![0.5, 1.0, 2.0]));
        let bce = config.clone().with_smoothing(smoothing).init(&d).unwrap();
        // Dense targets come smoothed already.
        let as_given = config.with_smoothing(0.0).init(&d).unwrap();
        let (off, on) = (smoothing / 3.0, 1.0 - smoothing + smoothing / 3.0);
        let dense: Vec<f32> = [[0.75, 0.0, 0.25], [0.75, 0.0, 0.25]]
            .iter()
            .flat_map(|row| row.map(|v: f64| (off + (on - off) * v) as f32))
            .collect();
        let dense = Tensor::<1>::from_floats(dense.as_slice(), &d).reshape([2, 3]);
        let closed = to_vec(bce.forward_mixed(logits.clone(), &per_sample))[0];
        let from_dense = to_vec(as_given.forward_probs(logits.clone(), dense))[0];
        assert!(
            (closed - from_dense).abs() < 1e-6,
            "{smoothing} {threshold:?}: {closed} vs {from_dense}"
        );
    }
    let zeros = Tensor::<2>::zeros([4, 5], &d);
    let targets = Tensor::<1, Int>::from_ints([0, 1, 4, 2], &d);
    let mean = BinaryCrossEntropyConfig::new().init(&d).unwrap();
    let per_row = BinaryCrossEntropyConfig::new()
        .with_sum_classes(true)
        .init(&d)
        .unwrap();
    let sum = BinaryCrossEntropyConfig::new()
        .with_reduction(burn::nn::loss::Reduction::Sum)
        .init(&d)
        .unwrap();
    let ln2 = 2f32.ln();
    assert!((to_vec(mean.forward(zeros.clone(), targets.clone()))[0] - ln2).abs() < 1e-6);
    assert!((to_vec(per_row.forward(zeros.clone(), targets.clone()))[0] - 5.0 * ln2).abs() < 1e-5);
    assert!((to_vec(sum.forward(zeros, targets))[0] - 20.0 * ln2).abs() < 1e-5);
}

#[test]
fn bad_options_and_shapes_are_typed_errors() {
    let d = device();
    let err = |config: BinaryCrossEntropyConfig| config.init(&d).unwrap_err();
    assert_eq!(
        err(BinaryCrossEntropyConfig::new().with_smoothing(1.0)),
        LossError::InvalidSmoothing(1.0)
    );
    assert_eq!(
        err(BinaryCrossEntropyConfig::new().with_target_threshold(Some(f64::INFINITY))),
        LossError::InvalidThreshold(f64::INFINITY)
    );
    assert_eq!(
        err(BinaryCrossEntropyConfig::new().with_weights(Some(vec![1.0, -1.0]))),
        LossError::InvalidWeight {
            index: 1,
            value: -1.0
        }
    );
    assert_eq!(
        err(BinaryCrossEntropyConfig::new().with_pos_weight(Some(vec![]))),
        LossError::EmptyWeights
    );
    let bce = BinaryCrossEntropyConfig::new()
        .with_pos_weight(Some(vec![1.0; 4]))
        .init(&d)
        .unwrap();
    let batch = MixedBatch::unmixed(
        Tensor::<2>::zeros([3, 1], &d),
        Tensor::from_ints([0, 1, 2], &d),
    )
    .unwrap();
    assert_eq!(
        bce.try_forward_mixed(Tensor::zeros([2, 4], &d), &batch)
            .unwrap_err(),
        LossError::BatchSizeMismatch {
            logits: 2,
            targets: 3
        }
    );
    assert_eq!(
        bce.try_forward_mixed(Tensor::zeros([3, 5], &d), &batch)
            .unwrap_err(),
        LossError::WeightCount {
            logits: 5,
            weights: 4
        }
    );
}
