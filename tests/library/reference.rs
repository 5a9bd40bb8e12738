//! Every applicable case of the PyTorch / timm reference file
//! (`tests/fixtures/torch_refs.json`): losses to rtol 1e-5, gradients through
//! burn-autodiff to atol 1e-6, as the fixture's README says a correct f32
//! implementation achieves. Both smoothing conventions differ by ~1e-3 on these
//! logits, so these tolerances tell them apart.

use burn::tensor::{Int, Tensor};
use burn_mixup::{
    LabelSmoothingCrossEntropy, LabelSmoothingCrossEntropyConfig, MixParams, SmoothingConvention,
};
use serde_json::Value;

use crate::common::*;

const LOSS_RTOL: f64 = 1e-5;
const GRAD_ATOL: f64 = 1e-6;

fn criterion(eps: f64, convention: SmoothingConvention) -> LabelSmoothingCrossEntropy {
    LabelSmoothingCrossEntropyConfig::new()
        .with_smoothing(eps)
        .with_convention(convention)
        .init(&device())
        .expect("valid config")
}

/// timm's `mixup_target` pairing: sample `i` with sample `B-1-i`.
fn flip(batch: usize) -> Vec<usize> {
    (0..batch).rev().collect()
}

/// Loss (mean), per-sample losses and d(mean)/d(logits) for hard targets.
fn smoothed(case: &Value, eps: f64, convention: SmoothingConvention) -> (f32, Vec<f32>, Vec<f32>) {
    let logits = floats::<2>(&case["logits"], &autodiff()).require_grad();
    let targets = ints(&case["targets"], &autodiff());
    let ce = criterion(eps, convention);
    let mean = ce.forward(logits.clone(), targets.clone());
    let none = ce.forward_no_reduction(logits.clone(), targets);
    let grads = mean.backward();
    let grad = logits.grad(&grads).expect("logits require grad");
    (to_vec(mean.inner())[0], to_vec(none.inner()), to_vec(grad))
}

/// The three checks every reference result gets (here and in `reference_v2.rs`): mean loss and per-sample losses
/// to rtol 1e-5, the gradient of the mean to atol 1e-6.
pub(crate) fn assert_matches_result(
    result: &Value,
    mean: f32,
    none: &[f32],
    grad: &[f32],
    what: &str,
) {
    assert_scalar(
        mean,
        result["loss_mean"].as_f64().unwrap(),
        LOSS_RTOL,
        &format!("mean {what}"),
    );
    assert_close(
        none,
        &flat(&result["loss_none"]).0,
        LOSS_RTOL,
        0.0,
        &format!("none {what}"),
    );
    assert_close(
        grad,
        &flat(&result["grad_mean"]).0,
        0.0,
        GRAD_ATOL,
        &format!("grad {what}"),
    );
}

#[test]
fn pytorch_label_smoothing_losses_and_gradients() {
    let refs = refs();
    let case = &refs["a_pytorch_label_smoothing"];
    let results = case["results"].as_array().unwrap();
    assert_eq!(results.len(), 3);
    for result in results {
        let eps = result["eps"].as_f64().unwrap();
        let (mean, none, grad) = smoothed(case, eps, SmoothingConvention::Uniform);
        assert_matches_result(result, mean, &none, &grad, &format!("eps={eps}"));
    }
}

#[test]
fn tutorial_off_target_convention_losses_and_gradients() {
    let refs = refs();
    let case = &refs["b_tutorial_label_smoothing"];
    for result in case["results"].as_array().unwrap() {
        let eps = result["eps"].as_f64().unwrap();
        let (mean, none, grad) = smoothed(case, eps, SmoothingConvention::OffTarget);
        assert_matches_result(result, mean, &none, &grad, &format!("eps={eps}"));

        // The other convention gives PyTorch's number at the same eps, and the two
        // are told apart at this tolerance.
        let (uniform, _, _) = smoothed(case, eps, SmoothingConvention::Uniform);
        let pytorch = result["pytorch_convention_loss_mean_same_eps"]
            .as_f64()
            .unwrap();
        assert_scalar(uniform, pytorch, LOSS_RTOL, "uniform at same eps");
        assert!(((mean as f64) - pytorch).abs() > 10.0 * LOSS_RTOL * pytorch);
    }
}

#[test]
fn tutorial_target_distribution_matches() {
    let refs = refs();
    let case = &refs["b_tutorial_label_smoothing"];
    for result in case["results"].as_array().unwrap() {
        let eps = result["eps"].as_f64().unwrap();
        let (probs, shape) = flat(&result["true_probs"]);
        let (on, off) = SmoothingConvention::OffTarget.target_probabilities(eps, shape[1]);
        let (targets, _) = flat(&case["targets"]);
        for (row, &target) in targets.iter().enumerate() {
            for class in 0..shape[1] {
                let expected = probs[row * shape[1] + class];
                let ours = if class == target as usize { on } else { off };
                assert!((ours - expected).abs() < 1e-7, "row {row} class {class}");
            }
        }
    }
}

#[test]
fn timm_label_smoothing_cross_entropy() {
    let refs = refs();
    let case = &refs["c_timm_losses"];
    let expected = &case["label_smoothing_ce"];
    let (mean, _, grad) = smoothed(case, 0.1, SmoothingConvention::Uniform);
    assert_scalar(
        mean,
        expected["loss_mean"].as_f64().unwrap(),
        LOSS_RTOL,
        "timm lsce",
    );
    assert_scalar(
        mean,
        expected["pytorch_builtin_same_eps"].as_f64().unwrap(),
        LOSS_RTOL,
        "builtin",
    );
    assert_close(
        &grad,
        &flat(&expected["grad_mean"]).0,
        0.0,
        GRAD_ATOL,
        "timm lsce grad",
    );
}

#[test]
fn timm_mixup_target_and_soft_target_cross_entropy() {
    let refs = refs();
    let case = &refs["c_timm_losses"];
    let expected = &case["soft_target_ce"];
    let lam = expected["lam"].as_f64().unwrap();
    let smoothing = expected["smoothing"].as_f64().unwrap();
    let targets = ints(&case["targets"], &autodiff());

    let batch = MixParams::blend(lam, flip(8))
        .unwrap()
        .mix_batch(Tensor::<2>::zeros([8, 1], &autodiff()), targets)
        .unwrap();
    let soft = batch.soft_targets(10, smoothing).unwrap();
    assert_close(
        &to_vec(soft.clone().inner()),
        &flat(&expected["soft_targets"]).0,
        1e-6,
        1e-7,
        "soft targets",
    );
    let sums = to_vec(soft.clone().sum_dim(1).inner());
    assert_close(
        &sums,
        &flat(&expected["soft_targets_row_sums"]).0,
        0.0,
        2e-7,
        "row sums",
    );

    let logits = floats::<2>(&case["logits"], &autodiff()).require_grad();
    let soft_ce = criterion(0.0, SmoothingConvention::Uniform);
    let loss = soft_ce.forward_probs(logits.clone(), soft.clone());
    let none = soft_ce.forward_probs_no_reduction(logits.clone(), soft);
    assert_scalar(
        to_vec(loss.clone().inner())[0],
        expected["loss_mean"].as_f64().unwrap(),
        LOSS_RTOL,
        "soft mean",
    );
    assert_close(
        &to_vec(none.inner()),
        &flat(&expected["loss_none"]).0,
        LOSS_RTOL,
        0.0,
        "soft none",
    );
    let grad = logits.grad(&loss.backward()).unwrap();
    assert_close(
        &to_vec(grad),
        &flat(&expected["grad_mean"]).0,
        0.0,
        GRAD_ATOL,
        "soft grad",
    );

    // The same number from the one-pass mixup criterion with timm's flip pairing.
    let logits = floats::<2>(&case["logits"], &autodiff()).require_grad();
    let one_pass = batch.loss(
        logits.clone(),
        &criterion(smoothing, SmoothingConvention::Uniform),
    );
    assert_scalar(
        to_vec(one_pass.clone().inner())[0],
        expected["loss_mean"].as_f64().unwrap(),
        LOSS_RTOL,
        "one pass",
    );
    let grad = logits.grad(&one_pass.backward()).unwrap();
    assert_close(
        &to_vec(grad),
        &flat(&expected["grad_mean"]).0,
        0.0,
        GRAD_ATOL,
        "one-pass grad",
    );
}

#[test]
fn mixup_criterion_with_explicit_permutation() {
    let refs = refs();
    let case = &refs["d_mixup_criterion"];
    let lam = case["lam"].as_f64().unwrap();
    let permutation: Vec<usize> = flat(&case["perm"]).0.iter().map(|&p| p as usize).collect();
    let y_a = ints(&case["y_a"], &autodiff());
    let params = MixParams::blend(lam, permutation).unwrap();

    for result in case["results"].as_array().unwrap() {
        let eps = result["eps"].as_f64().unwrap();
        let inputs = Tensor::<2>::zeros([8, 1], &autodiff());
        let batch = params.mix_batch(inputs, y_a.clone()).unwrap();
        assert_eq!(
            to_vec(batch.partner_targets().clone().float().inner()),
            flat(&case["y_b"])
                .0
                .iter()
                .map(|&v| v as f32)
                .collect::<Vec<_>>()
        );
        let ce = criterion(eps, SmoothingConvention::Uniform);
        let logits = floats::<2>(&case["logits"], &autodiff()).require_grad();
        let loss = batch.loss(logits.clone(), &ce);
        let what = format!("criterion eps={eps}");
        assert_scalar(
            to_vec(loss.clone().inner())[0],
            result["criterion_loss_mean"].as_f64().unwrap(),
            LOSS_RTOL,
            &what,
        );
        let grad = logits.grad(&loss.backward()).unwrap();
        assert_close(
            &to_vec(grad),
            &flat(&result["criterion_grad_mean"]).0,
            0.0,
            GRAD_ATOL,
            &what,
        );

        // Each half on its own.
        let logits = floats::<2>(&case["logits"], &autodiff());
        let ce_a = ce.forward(logits.clone(), batch.targets().clone());
        let ce_b = ce.forward(logits.clone(), batch.partner_targets().clone());
        assert_scalar(
            to_vec(ce_a.inner())[0],
            result["ce_y_a"].as_f64().unwrap(),
            LOSS_RTOL,
            "ce_y_a",
        );
        assert_scalar(
            to_vec(ce_b.inner())[0],
            result["ce_y_b"].as_f64().unwrap(),
            LOSS_RTOL,
            "ce_y_b",
        );

        // Soft targets and the soft-target loss on them.
        let soft = batch.soft_targets(10, eps).unwrap();
        assert_close(
            &to_vec(soft.clone().inner()),
            &flat(&result["mixed_soft_targets"]).0,
            1e-6,
            1e-7,
            "mixed soft",
        );
        let soft_loss = criterion(0.0, SmoothingConvention::Uniform).forward_probs(logits, soft);
        assert_scalar(
            to_vec(soft_loss.inner())[0],
            result["soft_target_loss_mean"].as_f64().unwrap(),
            LOSS_RTOL,
            "soft",
        );
    }
}

#[test]
fn extreme_logits_stay_finite_and_match_pytorch() {
    let refs = refs();
    let case = &refs["e_extreme_logits"];
    let results = &case["results"];
    let cases = [
        ("pytorch_eps_0.0", 0.0, SmoothingConvention::Uniform),
        ("pytorch_eps_0.1", 0.1, SmoothingConvention::Uniform),
        ("tutorial_eps_0.1", 0.1, SmoothingConvention::OffTarget),
    ];
    for (key, eps, convention) in cases {
        let expected = &results[key];
        let (mean, none, grad) = smoothed(case, eps, convention);
        assert_scalar(
            mean,
            expected["loss_mean"].as_f64().unwrap(),
            LOSS_RTOL,
            key,
        );
        // Row 0 of eps 0 is exactly -0.0: give it an absolute floor.
        assert_close(&none, &flat(&expected["loss_none"]).0, LOSS_RTOL, 1e-6, key);
        assert_close(&grad, &flat(&expected["grad_mean"]).0, 0.0, GRAD_ATOL, key);
        assert!(grad.iter().all(|g| g.is_finite()));
    }
    let (mean, _, _) = smoothed(case, 0.1, SmoothingConvention::Uniform);
    assert_scalar(
        mean,
        results["timm_lsce_0.1"]["loss_mean"].as_f64().unwrap(),
        LOSS_RTOL,
        "timm extreme",
    );

    // The naive formulation the fixture records as a pitfall is not finite here.
    let pitfalls = flat(&results["pitfalls_f32"]["naive_exp_normalise_log_per_sample"]).0;
    assert!(pitfalls.iter().any(|v| !v.is_finite()));
}

#[test]
fn mixed_inputs_match_reference_for_permutation_and_flip() {
    let refs = refs();
    let case = &refs["f_mixup_inputs"];
    let lam = case["lam"].as_f64().unwrap();
    let index: Vec<usize> = flat(&case["index"]).0.iter().map(|&p| p as usize).collect();
    let x = floats::<4>(&case["x"], &device());
    let labels = Tensor::<1, Int>::from_ints([0, 1, 2, 3], &device());

    let mixed = MixParams::blend(lam, index)
        .unwrap()
        .mix_batch(x.clone(), labels.clone())
        .unwrap();
    assert_close(
        &to_vec(mixed.inputs().clone()),
        &flat(&case["mixed_x"]).0,
        0.0,
        1e-6,
        "mixed_x",
    );

    let mixed = MixParams::blend(lam, flip(4)).unwrap().mix(x).unwrap();
    assert_close(
        &to_vec(mixed),
        &flat(&case["mixed_x_flip"]).0,
        0.0,
        1e-6,
        "mixed_x_flip",
    );
}
