//! Properties of the losses that need no reference file: equivalences between
//! formulations (one-pass mixup criterion = probability-target loss on the soft
//! targets, uniform convention = Burn's own `CrossEntropyLoss`), reductions, the
//! lambda-weighted accuracy, and every error. PyTorch's own numbers are in
//! `reference.rs` / `reference_v2.rs`; finite differences in `tests/gradients_f64.rs`.

use burn::nn::loss::{CrossEntropyLossConfig, Reduction};
use burn::tensor::{Device, Int, Tensor, TensorData};
use burn_mixup::{
    LabelSmoothingCrossEntropy, LabelSmoothingCrossEntropyConfig, LossError, MixConfig, MixError,
    MixMode, MixParams, MixedBatch, Pairing, SmoothingConvention, check_targets,
};

use crate::common::*;

pub fn random_logits(
    batch: usize,
    classes: usize,
    seed: u64,
    scale: f32,
    device: &Device,
) -> Tensor<2> {
    Tensor::from_data(
        TensorData::new(noise(batch * classes, seed, scale), [batch, classes]),
        device,
    )
}

pub fn random_targets(batch: usize, classes: usize, seed: u64) -> Vec<i64> {
    noise(batch, seed, 1.0)
        .iter()
        .map(|u| (((u + 1.0) / 2.0 * classes as f32) as i64).min(classes as i64 - 1))
        .collect()
}

pub fn int_tensor(values: &[i64], device: &Device) -> Tensor<1, Int> {
    Tensor::from_data(TensorData::new(values.to_vec(), [values.len()]), device)
}

fn smoothing_ce(eps: f64) -> LabelSmoothingCrossEntropy {
    LabelSmoothingCrossEntropyConfig::new()
        .with_smoothing(eps)
        .init(&device())
        .unwrap()
}

/// A mixed batch of `batch` samples over `classes` classes from a seeded mixer.
fn mixed(mixer: &MixConfig, batch: usize, classes: usize, seed: u64) -> MixedBatch<4> {
    let targets = int_tensor(&random_targets(batch, classes, seed + 100), &device());
    mixer
        .clone()
        .with_seed(Some(seed))
        .init()
        .unwrap()
        .apply(Tensor::<4>::zeros([batch, 1, 4, 4], &device()), targets)
        .unwrap()
}

#[test]
fn one_pass_criterion_equals_probability_target_loss() {
    let configs = [
        MixConfig::mixup(1.0),
        MixConfig::mixup(1.0).with_mode(MixMode::Elem),
        MixConfig::cutmix(1.0).with_mode(MixMode::Pair),
        MixConfig::new()
            .with_cutmix_alpha(1.0)
            .with_mode(MixMode::Elem)
            .with_prob(0.7),
    ];
    for (c, config) in configs.iter().enumerate() {
        for (seed, eps) in [(1u64, 0.0), (2, 0.1), (3, 0.3)] {
            let (batch, classes) = (9, 7);
            let logits = random_logits(batch, classes, seed, 4.0, &device());
            let mixed = mixed(config, batch, classes, seed);
            let one_pass = mixed
                .loss(logits.clone(), &smoothing_ce(eps))
                .into_scalar::<f32>();
            let soft = smoothing_ce(0.0)
                .forward_probs(logits, mixed.soft_targets(classes, eps).unwrap())
                .into_scalar::<f32>();
            assert_close(
                &[one_pass],
                &[soft as f64],
                1e-5,
                0.0,
                &format!("config {c} seed {seed} eps {eps}"),
            );
        }
    }
}

/// Per-sample lambda with class weights is PyTorch's probability-target loss on the
/// soft targets with the same weights (no `[B, K]` matrix on our side).
#[test]
fn per_sample_lambda_with_weights_equals_weighted_probability_loss() {
    let weights = vec![0.5f32, 2.0, 1.0, 0.25, 1.5];
    for eps in [0.0, 0.2] {
        let config = LabelSmoothingCrossEntropyConfig::new()
            .with_weights(Some(weights.clone()))
            .with_smoothing(eps);
        let ours = config.init(&device()).unwrap();
        let mixed = mixed(&MixConfig::cutmix(1.0).with_mode(MixMode::Elem), 7, 5, 11);
        assert!(mixed.lambda().is_mixed());
        let logits = random_logits(7, 5, 12, 3.0, &device());
        let one_pass = to_vec(mixed.loss_no_reduction(logits.clone(), &ours));
        // forward_probs smooths its targets itself: give it the unsmoothed mix.
        let reference =
            to_vec(ours.forward_probs_no_reduction(logits, mixed.soft_targets(5, 0.0).unwrap()));
        let reference: Vec<f64> = reference.iter().map(|&v| v as f64).collect();
        assert_close(&one_pass, &reference, 1e-5, 1e-7, &format!("eps {eps}"));
    }
}

#[test]
fn uniform_convention_equals_burn_cross_entropy() {
    for (seed, eps) in [(7u64, 0.0), (8, 0.1), (9, 0.25), (10, 0.9)] {
        let (batch, classes) = (12, 5);
        let logits = random_logits(batch, classes, seed, 3.0, &device());
        let targets = int_tensor(&random_targets(batch, classes, seed), &device());
        let ours = smoothing_ce(eps)
            .forward(logits.clone(), targets.clone())
            .into_scalar::<f32>();
        let burn_smoothing = if eps == 0.0 { None } else { Some(eps as f32) };
        let burn = CrossEntropyLossConfig::new()
            .with_smoothing(burn_smoothing)
            .init(&device())
            .forward(logits, targets)
            .into_scalar::<f32>();
        assert_close(&[ours], &[burn as f64], 1e-5, 0.0, &format!("eps {eps}"));
    }
}

/// Burn's four reductions against the per-sample values, with and without class
/// weights: Mean/Auto divide by the summed target weights, BatchMean by the batch.
#[test]
fn reductions_are_consistent() {
    let (batch, classes) = (6, 4);
    let logits = random_logits(batch, classes, 21, 2.0, &device());
    let targets_vec = random_targets(batch, classes, 22);
    let targets = int_tensor(&targets_vec, &device());
    let weights = [0.5f32, 2.0, 1.0, 0.25];
    for weighted in [false, true] {
        let config = LabelSmoothingCrossEntropyConfig::new()
            .with_weights(weighted.then(|| weights.to_vec()));
        let with = |reduction| {
            config
                .clone()
                .with_reduction(reduction)
                .init(&device())
                .unwrap()
                .forward(logits.clone(), targets.clone())
                .into_scalar::<f32>()
        };
        let none = to_vec(
            config
                .init(&device())
                .unwrap()
                .forward_no_reduction(logits.clone(), targets.clone()),
        );
        let sum: f64 = none.iter().map(|&v| v as f64).sum();
        let weight_sum: f64 = if weighted {
            targets_vec
                .iter()
                .map(|&y| weights[y as usize] as f64)
                .sum()
        } else {
            batch as f64
        };
        let what = |name| format!("{name} weighted={weighted}");
        assert_eq!(none.len(), batch);
        assert_close(&[with(Reduction::Sum)], &[sum], 1e-6, 0.0, &what("sum"));
        assert_close(
            &[with(Reduction::Mean)],
            &[sum / weight_sum],
            1e-6,
            0.0,
            &what("mean"),
        );
        assert_close(
            &[with(Reduction::Auto)],
            &[sum / weight_sum],
            1e-6,
            0.0,
            &what("auto"),
        );
        assert_close(
            &[with(Reduction::BatchMean)],
            &[sum / batch as f64],
            1e-6,
            0.0,
            &what("batch mean"),
        );
    }
}

/// With one lambda per batch and class weights, the mixed loss is exactly two
/// calls of the (PyTorch-checked) weighted criterion, each normalised on its own.
#[test]
fn batch_lambda_with_weights_and_ignore_index_is_two_pytorch_calls() {
    let (batch, classes) = (8, 4);
    let logits = random_logits(batch, classes, 41, 3.0, &device());
    let mut labels = random_targets(batch, classes, 42);
    labels[2] = -100;
    let ce = LabelSmoothingCrossEntropyConfig::new()
        .with_weights(Some(vec![0.5, 2.0, 1.0, 0.25]))
        .with_ignore_index(Some(-100))
        .init(&device())
        .unwrap();
    let params = MixParams::blend(0.3, vec![3, 0, 1, 2, 7, 6, 5, 4]).unwrap();
    let batch = params
        .mix_batch(
            Tensor::<2>::zeros([batch, 1], &device()),
            int_tensor(&labels, &device()),
        )
        .unwrap();
    let mixed = batch.loss(logits.clone(), &ce).into_scalar::<f32>() as f64;
    let a = ce
        .forward(logits.clone(), batch.targets().clone())
        .into_scalar::<f32>() as f64;
    let b = ce
        .forward(logits, batch.partner_targets().clone())
        .into_scalar::<f32>() as f64;
    assert_close(
        &[mixed as f32],
        &[0.3 * a + 0.7 * b],
        1e-6,
        0.0,
        "two calls",
    );
}

/// An `Elem` batch that drew nothing to mix is a plain batch for the loss, also
/// with an ignore index (which probability targets refuse).
#[test]
fn unmixed_per_sample_batch_takes_the_plain_path() {
    let ce = LabelSmoothingCrossEntropyConfig::new()
        .with_ignore_index(Some(-100))
        .init(&device())
        .unwrap();
    // A batch of one is paired with itself: per-sample lambda, all 1.
    let mixer = MixConfig::mixup(1.0)
        .with_mode(MixMode::Elem)
        .init()
        .unwrap();
    let batch = mixer
        .apply(
            Tensor::<2>::zeros([1, 3], &device()),
            int_tensor(&[2], &device()),
        )
        .unwrap();
    assert!(!batch.lambda().is_mixed());
    let logits = random_logits(1, 3, 5, 1.0, &device());
    let mixed = batch
        .try_loss(logits.clone(), &ce)
        .unwrap()
        .into_scalar::<f32>();
    let plain = ce
        .forward(logits, int_tensor(&[2], &device()))
        .into_scalar::<f32>();
    assert_eq!(mixed, plain);
}

#[test]
fn accuracy_is_lambda_weighted() {
    let device = device();
    let params = MixParams::blend(0.6, vec![1, 2, 0]).unwrap();
    let batch = |params: &MixParams| {
        params
            .mix_batch(
                Tensor::<2>::zeros([3, 1], &device),
                int_tensor(&[0, 1, 2], &device),
            )
            .unwrap()
    };
    // predictions: 0, 0, 0 -> hits a: [1,0,0] (1/3); b = [1,2,0]: hits [0,0,1] (1/3)
    let logits = Tensor::<2>::from_floats([[1.0, 0.0, 0.0]; 3], &device);
    let acc = batch(&params).accuracy(logits.clone()).into_scalar::<f32>() as f64;
    assert!((acc - (0.6 / 3.0 + 0.4 / 3.0)).abs() < 1e-6);
    // predictions 1, 2, 0 hit b everywhere, a nowhere
    let shifted =
        Tensor::<2>::from_floats([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]], &device);
    assert!((batch(&params).accuracy(shifted).into_scalar::<f32>() as f64 - 0.4).abs() < 1e-6);
    // Per sample: lambda 0.2, 1, 0.5 -> hits a [1,0,0], b [1,2,0] hits [0,0,1].
    let per_sample = MixParams::blend_per_sample(vec![0.2, 1.0, 0.5], vec![1, 2, 0]).unwrap();
    let acc = batch(&per_sample).accuracy(logits).into_scalar::<f32>() as f64;
    assert!((acc - (0.2 + 0.0 + 0.5) / 3.0).abs() < 1e-6, "{acc}");
}

#[test]
fn bad_loss_configs_and_shapes_are_typed_errors() {
    let device = device();
    for eps in [-0.1, 1.0, 1.5, f64::NAN] {
        let err = LabelSmoothingCrossEntropyConfig::new()
            .with_smoothing(eps)
            .init(&device)
            .unwrap_err();
        assert!(matches!(err, LossError::InvalidSmoothing(_)), "{eps}");
        assert!(err.to_string().contains(&eps.to_string()));
    }
    let err = LabelSmoothingCrossEntropyConfig::new()
        .with_weights(Some(vec![]))
        .init(&device)
        .unwrap_err();
    assert_eq!(err, LossError::EmptyWeights);
    let err = LabelSmoothingCrossEntropyConfig::new()
        .with_weights(Some(vec![1.0, f32::NAN]))
        .init(&device)
        .unwrap_err();
    assert!(matches!(err, LossError::InvalidWeight { index: 1, .. }));

    let weighted = LabelSmoothingCrossEntropyConfig::new()
        .with_weights(Some(vec![1.0, 1.0, 1.0]))
        .init(&device)
        .unwrap();
    let err = weighted
        .try_forward(Tensor::zeros([2, 4], &device), int_tensor(&[0, 1], &device))
        .unwrap_err();
    assert_eq!(
        err,
        LossError::WeightCount {
            logits: 4,
            weights: 3
        }
    );
    let err = weighted
        .try_forward_probs(
            Tensor::zeros([2, 3], &device),
            Tensor::zeros([3, 3], &device),
        )
        .unwrap_err();
    assert_eq!(
        err,
        LossError::ShapeMismatch {
            logits: [2, 3],
            targets: [3, 3]
        }
    );
    let off = LabelSmoothingCrossEntropyConfig::new()
        .with_convention(SmoothingConvention::OffTarget)
        .init(&device)
        .unwrap();
    let err = off
        .try_forward(Tensor::zeros([2, 1], &device), int_tensor(&[0, 0], &device))
        .unwrap_err();
    assert_eq!(err, LossError::TooFewClasses(1));

    // ignore_index names a class index: refused for probability targets and for
    // per-sample lambda, which makes them.
    let ignoring = LabelSmoothingCrossEntropyConfig::new()
        .with_ignore_index(Some(-100))
        .init(&device)
        .unwrap();
    let expected = LossError::IgnoreIndexWithProbabilities { ignore_index: -100 };
    let err = ignoring
        .try_forward_probs(
            Tensor::zeros([2, 2], &device),
            Tensor::zeros([2, 2], &device),
        )
        .unwrap_err();
    assert_eq!(err, expected);
    let per_sample = MixParams::blend_per_sample(vec![0.3, 0.7], vec![1, 0])
        .unwrap()
        .mix_batch(
            Tensor::<2>::zeros([2, 1], &device),
            int_tensor(&[0, 1], &device),
        )
        .unwrap();
    assert_eq!(
        per_sample
            .try_loss(Tensor::zeros([2, 2], &device), &ignoring)
            .unwrap_err(),
        expected
    );
    assert_eq!(
        per_sample
            .try_loss(Tensor::zeros([3, 2], &device), &off)
            .unwrap_err(),
        LossError::BatchSizeMismatch {
            logits: 3,
            targets: 2
        }
    );
    assert_eq!(
        per_sample.soft_targets(2, 1.0).unwrap_err(),
        MixError::InvalidSmoothing(1.0)
    );
    assert_eq!(
        per_sample.soft_targets(0, 0.1).unwrap_err(),
        MixError::InvalidNumClasses(0)
    );
}

#[test]
fn check_targets_names_position_and_value() {
    assert_eq!(check_targets(&[0u8, 9], 10), Ok(()));
    assert_eq!(
        check_targets(&[1i32, -3], 10),
        Err(MixError::TargetOutOfRange {
            position: 1,
            value: -3,
            num_classes: 10
        })
    );
    assert_eq!(
        check_targets(&[0usize], 0),
        Err(MixError::InvalidNumClasses(0))
    );
    assert_eq!(
        check_targets(&[u64::MAX], 10),
        Err(MixError::TargetOutOfRange {
            position: 0,
            value: i64::MAX,
            num_classes: 10
        })
    );
    let message = check_targets(&[0i64, 10], 10).unwrap_err().to_string();
    assert!(
        message.contains("position 1") && message.contains("10"),
        "{message}"
    );
}

/// Soft targets of an odd `Pair` batch under timm's flip pairing sum to one (the
/// middle sample, left alone, keeps its own label).
#[test]
fn timm_flip_pairing_soft_targets_sum_to_one() {
    let mixer = MixConfig::cutmix(1.0)
        .with_mode(MixMode::Pair)
        .with_pairing(Pairing::Flip)
        .with_seed(Some(4))
        .init()
        .unwrap();
    let batch = mixer
        .apply(
            Tensor::<4>::zeros([5, 1, 6, 6], &device()),
            int_tensor(&[0, 1, 2, 3, 4], &device()),
        )
        .unwrap();
    for eps in [0.0, 0.1] {
        let sums = to_vec(batch.soft_targets(5, eps).unwrap().sum_dim(1));
        assert!(sums.iter().all(|s| (s - 1.0).abs() < 1e-6), "{sums:?}");
    }
}
