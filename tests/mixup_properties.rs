//! Properties of Mixup and the losses that need no reference file: sampling
//! statistics, bijections, seeds, equivalences between formulations, Burn's own
//! loss, PyTorch's weight/ignore semantics (re-derived in f64 below) and finite
//! differences. Shapes are tiny: every test runs in well under a second.

mod common;

use burn::data::dataloader::batcher::Batcher;
use burn::data::dataloader::DataLoaderBuilder;
use burn::data::dataset::InMemDataset;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor, TensorData};
use burn_mixup::mixup::is_permutation;
use burn_mixup::{
    check_targets, LabelSmoothingCrossEntropyConfig, Lambda, LossError, MixedBatch, Mixup,
    MixupBatcher, MixupConfig, MixupError, MixupParams, Pairing, Reduction, RngState,
    SmoothingConvention, SoftTargetCrossEntropy, TargetError,
};
use common::*;

fn random_logits<BK: Backend>(
    batch: usize,
    classes: usize,
    seed: u64,
    scale: f32,
) -> Tensor<BK, 2> {
    Tensor::from_data(
        TensorData::new(noise(batch * classes, seed, scale), [batch, classes]),
        &Default::default(),
    )
}

fn random_targets(batch: usize, classes: usize, seed: u64) -> Vec<i64> {
    noise(batch, seed, 1.0)
        .iter()
        .map(|u| (((u + 1.0) / 2.0 * classes as f32) as i64).min(classes as i64 - 1))
        .collect()
}

fn int_tensor<BK: Backend>(values: &[i64]) -> Tensor<BK, 1, Int> {
    Tensor::from_data(
        TensorData::new(values.to_vec(), [values.len()]),
        &Default::default(),
    )
}

// ---------------------------------------------------------------- sampling

/// Over 20,000 draws, mean 1/2 and variance 1/(4(2a+1)) of Beta(a, a). Tolerance:
/// 5 standard errors of each estimator, from the Beta's own moments (the variance
/// estimator's error uses the excess kurtosis -6/(2a+3) of a symmetric Beta), so a
/// correct sampler fails with probability below 1e-6 and a wrong alpha (e.g. Beta(a, 1)
/// or a uniform) is far outside.
#[test]
fn lambda_mean_and_variance_follow_beta() {
    let n = 20_000;
    for alpha in [0.2, 1.0, 2.0] {
        let mixup = MixupConfig::new()
            .with_alpha(alpha)
            .with_seed(Some(11))
            .init()
            .unwrap();
        let lambdas: Vec<f64> = (0..n).map(|_| mixup.sample(2).lambda).collect();
        assert!(lambdas.iter().all(|l| (0.0..=1.0).contains(l)));
        let mean = lambdas.iter().sum::<f64>() / n as f64;
        let var = lambdas.iter().map(|l| (l - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
        let expected_var = 1.0 / (4.0 * (2.0 * alpha + 1.0));
        let excess_kurtosis = -6.0 / (2.0 * alpha + 3.0);
        let se_mean = (expected_var / n as f64).sqrt();
        let se_var = (expected_var.powi(2) * (2.0 + excess_kurtosis) / n as f64).sqrt();
        assert!(
            (mean - 0.5).abs() < 5.0 * se_mean,
            "alpha {alpha}: mean {mean}"
        );
        assert!(
            (var - expected_var).abs() < 5.0 * se_var,
            "alpha {alpha}: var {var} vs {expected_var}"
        );
    }
}

#[test]
fn permutations_are_bijections_and_flip_reverses() {
    let mixup = MixupConfig::new().with_seed(Some(1)).init().unwrap();
    for batch in 1..=33 {
        let params = mixup.sample(batch);
        assert!(is_permutation(&params.permutation), "batch {batch}");
        assert_eq!(params.permutation.len(), batch);
    }
    let flip = MixupConfig::new()
        .with_pairing(Pairing::Flip)
        .init()
        .unwrap();
    assert_eq!(flip.sample(5).permutation, vec![4, 3, 2, 1, 0]);
    // A fresh permutation each batch, not one fixed shuffle.
    let a = mixup.sample(32).permutation;
    let b = mixup.sample(32).permutation;
    assert_ne!(a, b);
}

#[test]
fn same_seed_same_sequence_and_resume_continues_it() {
    let draw = |seed| {
        let m = MixupConfig::new().with_seed(Some(seed)).init().unwrap();
        (0..50).map(|_| m.sample(8)).collect::<Vec<_>>()
    };
    assert_eq!(draw(5), draw(5));
    assert_ne!(draw(5), draw(6));

    let straight = MixupConfig::new().with_seed(Some(5)).init().unwrap();
    let first: Vec<_> = (0..10).map(|_| straight.sample(8)).collect();
    let saved = straight.rng_state();
    assert_eq!(saved, RngState { seed: 5, draws: 10 });
    let rest: Vec<_> = (0..10).map(|_| straight.sample(8)).collect();

    let resumed = MixupConfig::new().init().unwrap(); // OS seed, then restored
    resumed.set_rng_state(saved);
    assert_eq!((0..10).map(|_| resumed.sample(8)).collect::<Vec<_>>(), rest);
    assert_eq!(draw(5)[..10], first[..]);
}

#[test]
fn prob_zero_never_mixes_and_half_mixes_about_half() {
    let device = device();
    let never = MixupConfig::new()
        .with_prob(0.0)
        .with_seed(Some(2))
        .init()
        .unwrap();
    let x = Tensor::<B, 2>::from_data(TensorData::new(noise(12, 3, 1.0), [4, 3]), &device);
    let y = int_tensor::<B>(&[0, 1, 2, 3]);
    for _ in 0..100 {
        assert_eq!(never.sample(4), MixupParams::identity(4));
        let batch = never.apply(x.clone(), y.clone()).unwrap();
        assert_eq!(batch.lambda, Lambda::Batch(1.0));
        assert_eq!(to_vec(batch.inputs), to_vec(x.clone()));
    }
    // Binomial(4000, 0.5): sd 31.6; 5 sd = 158.
    let half = MixupConfig::new()
        .with_prob(0.5)
        .with_seed(Some(2))
        .init()
        .unwrap();
    let mixed = (0..4000).filter(|_| half.sample(4).lambda != 1.0).count();
    assert!((mixed as i64 - 2000).abs() < 158, "{mixed} of 4000 mixed");
}

#[test]
fn batch_of_one_comes_back_unchanged() {
    let mixup = MixupConfig::new().with_seed(Some(0)).init().unwrap();
    let x = Tensor::<B, 4>::from_data(TensorData::new(noise(12, 9, 1.0), [1, 3, 2, 2]), &device());
    let batch = mixup.apply(x.clone(), int_tensor::<B>(&[4])).unwrap();
    assert_eq!(to_vec(batch.inputs), to_vec(x));
    assert_eq!(to_vec(batch.targets_b.float()), vec![4.0]);
}

#[test]
fn any_rank_is_mixed_with_the_same_formula() {
    let device = device();
    let params = MixupParams::new(0.25, vec![2, 0, 1]).unwrap();
    let y = int_tensor::<B>(&[0, 1, 2]);
    // [B, T, C] sequences
    let values = noise(3 * 4 * 2, 4, 1.0);
    let x = Tensor::<B, 3>::from_data(TensorData::new(values.clone(), [3, 4, 2]), &device);
    let mixed = to_vec(Mixup::apply_params(&params, x, y).unwrap().inputs);
    for i in 0..3 {
        for k in 0..8 {
            let expected = 0.25 * values[i * 8 + k] as f64
                + 0.75 * values[params.permutation[i] * 8 + k] as f64;
            assert!((mixed[i * 8 + k] as f64 - expected).abs() < 1e-6);
        }
    }
}

// ---------------------------------------------------------------- equivalences

#[test]
fn one_pass_criterion_equals_soft_target_loss_on_random_inputs() {
    let ce_soft = SoftTargetCrossEntropy::default();
    for (seed, eps) in [(1u64, 0.0), (2, 0.1), (3, 0.3), (4, 0.05)] {
        let (batch, classes) = (16, 7);
        let logits = random_logits::<B>(batch, classes, seed, 4.0);
        let targets = int_tensor::<B>(&random_targets(batch, classes, seed + 100));
        let mixup = MixupConfig::new().with_seed(Some(seed)).init().unwrap();
        let mixed = mixup
            .apply(Tensor::<B, 2>::zeros([batch, 3], &device()), targets)
            .unwrap();
        let criterion = LabelSmoothingCrossEntropyConfig::new()
            .with_smoothing(eps)
            .init::<B>(&device())
            .unwrap();
        let one_pass = mixed.loss(logits.clone(), &criterion).into_scalar();
        let soft = ce_soft
            .forward(logits, mixed.soft_targets(classes, eps).unwrap())
            .into_scalar();
        assert_close(
            &[one_pass],
            &[soft as f64],
            1e-5,
            0.0,
            &format!("seed {seed} eps {eps}"),
        );
    }
}

#[test]
fn uniform_convention_equals_burn_cross_entropy() {
    for (seed, eps) in [(7u64, 0.0), (8, 0.1), (9, 0.25), (10, 0.9)] {
        let (batch, classes) = (12, 5);
        let logits = random_logits::<B>(batch, classes, seed, 3.0);
        let targets = int_tensor::<B>(&random_targets(batch, classes, seed));
        let ours = LabelSmoothingCrossEntropyConfig::new()
            .with_smoothing(eps)
            .init::<B>(&device())
            .unwrap()
            .forward(logits.clone(), targets.clone())
            .into_scalar();
        let burn_smoothing = if eps == 0.0 { None } else { Some(eps as f32) };
        let burn = CrossEntropyLossConfig::new()
            .with_smoothing(burn_smoothing)
            .init::<B>(&device())
            .forward(logits, targets)
            .into_scalar();
        assert_close(&[ours], &[burn as f64], 1e-5, 0.0, &format!("eps {eps}"));
    }
}

#[test]
fn reductions_are_consistent() {
    let (batch, classes) = (6, 4);
    let logits = random_logits::<B>(batch, classes, 21, 2.0);
    let targets = int_tensor::<B>(&random_targets(batch, classes, 22));
    let with = |reduction| {
        LabelSmoothingCrossEntropyConfig::new()
            .with_reduction(reduction)
            .init::<B>(&device())
            .unwrap()
            .forward(logits.clone(), targets.clone())
    };
    let none = to_vec(with(Reduction::None));
    let sum: f64 = none.iter().map(|&v| v as f64).sum();
    assert_eq!(none.len(), batch);
    assert_close(
        &[with(Reduction::Sum).into_scalar()],
        &[sum],
        1e-6,
        0.0,
        "sum",
    );
    assert_close(
        &[with(Reduction::Mean).into_scalar()],
        &[sum / batch as f64],
        1e-6,
        0.0,
        "mean",
    );
}

/// PyTorch's `cross_entropy(weight=w, ignore_index=i, label_smoothing=eps)`,
/// re-derived in f64 from its documented definition: per sample
/// `(1-eps) * w_y * -log p_y + eps/K * sum_k w_k * -log p_k`, ignored samples 0, and the
/// mean divided by the sum of `w_y` over kept samples.
fn pytorch_weighted(
    logits: &[f32],
    targets: &[i64],
    k: usize,
    eps: f64,
    w: &[f64],
    ignore: i64,
) -> (Vec<f64>, f64) {
    let mut per_sample = Vec::new();
    let mut weight_sum = 0.0;
    for (row, &y) in targets.iter().enumerate() {
        if y == ignore {
            per_sample.push(0.0);
            continue;
        }
        let z: Vec<f64> = logits[row * k..(row + 1) * k]
            .iter()
            .map(|&v| v as f64)
            .collect();
        let max = z.iter().cloned().fold(f64::MIN, f64::max);
        let lse = max + z.iter().map(|v| (v - max).exp()).sum::<f64>().ln();
        let nll: Vec<f64> = z.iter().map(|v| lse - v).collect();
        let smooth: f64 = (0..k).map(|c| w[c] * nll[c]).sum();
        per_sample.push((1.0 - eps) * w[y as usize] * nll[y as usize] + eps / k as f64 * smooth);
        weight_sum += w[y as usize];
    }
    let mean = per_sample.iter().sum::<f64>() / weight_sum;
    (per_sample, mean)
}

#[test]
fn class_weights_and_ignore_index_follow_pytorch_semantics() {
    let (batch, k) = (10, 4);
    let values = noise(batch * k, 31, 3.0);
    let mut targets = random_targets(batch, k, 32);
    targets[3] = -100;
    targets[7] = -100;
    let weights = [0.5f32, 2.0, 1.0, 0.25];
    let w64: Vec<f64> = weights.iter().map(|&w| w as f64).collect();
    for eps in [0.0, 0.1, 0.4] {
        let (per_sample, mean) = pytorch_weighted(&values, &targets, k, eps, &w64, -100);
        let config = LabelSmoothingCrossEntropyConfig::new()
            .with_smoothing(eps)
            .with_weights(Some(weights.to_vec()))
            .with_ignore_index(Some(-100));
        let logits =
            Tensor::<B, 2>::from_data(TensorData::new(values.clone(), [batch, k]), &device());
        let loss = config.init::<B>(&device()).unwrap();
        let ours_mean = loss
            .forward(logits.clone(), int_tensor(&targets))
            .into_scalar();
        assert_close(
            &[ours_mean],
            &[mean],
            1e-5,
            0.0,
            &format!("weighted mean eps {eps}"),
        );
        let ours_none = loss
            .try_forward_reduced(logits.clone(), int_tensor(&targets), Reduction::None)
            .unwrap();
        assert_close(
            &to_vec(ours_none),
            &per_sample,
            1e-5,
            1e-6,
            &format!("weighted none eps {eps}"),
        );
        let sum: f64 = per_sample.iter().sum();
        let ours_sum = loss
            .try_forward_reduced(logits, int_tensor(&targets), Reduction::Sum)
            .unwrap();
        assert_close(&[ours_sum.into_scalar()], &[sum], 1e-5, 0.0, "weighted sum");
    }
    // ignore_index alone: mean over kept samples only.
    let (_, mean) = pytorch_weighted(&values, &targets, k, 0.1, &[1.0; 4], -100);
    let logits = Tensor::<B, 2>::from_data(TensorData::new(values, [batch, k]), &device());
    let ours = LabelSmoothingCrossEntropyConfig::new()
        .with_ignore_index(Some(-100))
        .init::<B>(&device())
        .unwrap()
        .forward(logits, int_tensor(&targets))
        .into_scalar();
    assert_close(&[ours], &[mean], 1e-5, 0.0, "ignore only");
}

#[test]
fn accuracy_is_lambda_weighted() {
    let device = device();
    let params = MixupParams::new(0.6, vec![1, 2, 0]).unwrap();
    let y = int_tensor::<B>(&[0, 1, 2]);
    let batch = Mixup::apply_params(&params, Tensor::<B, 2>::zeros([3, 1], &device), y).unwrap();
    // predictions: 0, 0, 0 -> hits a: [1,0,0] (1/3); b = [1,2,0]: hits [0,0,1] (1/3)
    let logits =
        Tensor::<B, 2>::from_floats([[1.0, 0.0, 0.0], [1.0, 0.0, 0.0], [1.0, 0.0, 0.0]], &device);
    let acc = batch.accuracy(logits).into_scalar() as f64;
    assert!((acc - (0.6 / 3.0 + 0.4 / 3.0)).abs() < 1e-6);
    // predictions 1, 2, 0 hit b everywhere, a nowhere
    let logits =
        Tensor::<B, 2>::from_floats([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]], &device);
    let batch = Mixup::apply_params(
        &params,
        Tensor::<B, 2>::zeros([3, 1], &device),
        int_tensor(&[0, 1, 2]),
    )
    .unwrap();
    assert!((batch.accuracy(logits).into_scalar() as f64 - 0.4).abs() < 1e-6);
}

// ---------------------------------------------------------------- batcher

#[derive(Clone)]
struct ToyBatcher;

impl<BK: Backend> Batcher<BK, (Vec<f32>, i64), (Tensor<BK, 4>, Tensor<BK, 1, Int>)> for ToyBatcher {
    fn batch(
        &self,
        items: Vec<(Vec<f32>, i64)>,
        device: &BK::Device,
    ) -> (Tensor<BK, 4>, Tensor<BK, 1, Int>) {
        let n = items.len();
        let pixels: Vec<f32> = items.iter().flat_map(|(p, _)| p.clone()).collect();
        let labels: Vec<i64> = items.iter().map(|(_, y)| *y).collect();
        (
            Tensor::from_data(TensorData::new(pixels, [n, 1, 2, 2]), device),
            Tensor::from_data(TensorData::new(labels, [n]), device),
        )
    }
}

#[test]
fn mixup_batcher_plugs_into_a_dataloader() {
    let items: Vec<(Vec<f32>, i64)> = (0..10).map(|i| (vec![i as f32; 4], i % 3)).collect();
    let mixup = MixupConfig::new().with_seed(Some(3)).init().unwrap();
    let handle = mixup.clone();
    let loader = DataLoaderBuilder::new(MixupBatcher::new(ToyBatcher, mixup).with_num_classes(3))
        .batch_size(4)
        .build(InMemDataset::new(items));
    let batches: Vec<MixedBatch<B, 4>> = loader.iter().collect();
    assert_eq!(batches.len(), 3); // 4 + 4 + 2
    for batch in &batches {
        let lambda = batch.lambda.mean();
        assert!((0.0..=1.0).contains(&lambda));
        // Every pixel of a mixed image is lambda * own + (1 - lambda) * partner's value.
        let a = to_vec(batch.targets_a.clone().float());
        assert_eq!(batch.inputs.dims()[0], a.len());
    }
    // The handle shares the loader's random stream: three draws happened.
    assert_eq!(handle.rng_state().draws, 3);
}

#[test]
fn mixup_batcher_reports_bad_labels() {
    let mixup = MixupConfig::new().init().unwrap();
    let batcher = MixupBatcher::new(ToyBatcher, mixup).with_num_classes(3);
    let err = batcher
        .try_batch::<B, _, 4>(vec![(vec![0.0; 4], 1), (vec![0.0; 4], 5)], &device())
        .unwrap_err();
    assert_eq!(
        err,
        MixupError::Target(TargetError::OutOfRange {
            position: 1,
            value: 5,
            num_classes: 3
        })
    );
    let err = batcher.try_batch::<B, (Vec<f32>, i64), 4>(vec![], &device());
    assert!(err.is_err());
}

// ---------------------------------------------------------------- errors

#[test]
fn bad_mixup_configs_are_typed_errors() {
    for alpha in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        let err = MixupConfig::new().with_alpha(alpha).init().unwrap_err();
        assert!(
            matches!(err, MixupError::InvalidAlpha { name: "alpha", .. }),
            "{alpha}"
        );
        assert!(err.to_string().contains(&alpha.to_string()));
    }
    for prob in [-0.1, 1.1, f64::NAN] {
        let err = MixupConfig::new().with_prob(prob).init().unwrap_err();
        assert!(
            matches!(err, MixupError::InvalidProbability { name: "prob", .. }),
            "{prob}"
        );
    }
    assert_eq!(
        MixupParams::new(-0.5, vec![0]).unwrap_err(),
        MixupError::InvalidLambda(-0.5)
    );
    assert!(matches!(
        MixupParams::new(0.5, vec![1, 1]),
        Err(MixupError::InvalidPermutation { .. })
    ));
}

#[test]
fn bad_batches_are_typed_errors() {
    let mixup = MixupConfig::new().init().unwrap();
    let device = device();
    let err = mixup
        .apply(
            Tensor::<B, 2>::zeros([3, 2], &device),
            int_tensor::<B>(&[0, 1]),
        )
        .unwrap_err();
    assert_eq!(
        err,
        MixupError::BatchSizeMismatch {
            inputs: 3,
            targets: 2
        }
    );
    let err = mixup
        .apply(Tensor::<B, 2>::zeros([0, 2], &device), int_tensor::<B>(&[]))
        .unwrap_err();
    assert_eq!(err, MixupError::EmptyBatch);
    let params = MixupParams::new(0.5, vec![1, 0]).unwrap();
    let err = Mixup::apply_params(
        &params,
        Tensor::<B, 2>::zeros([3, 2], &device),
        int_tensor::<B>(&[0, 1, 2]),
    );
    assert!(matches!(
        err,
        Err(MixupError::InvalidPermutation { batch_size: 3, .. })
    ));
}

#[test]
fn bad_loss_configs_and_shapes_are_typed_errors() {
    let device = device();
    for eps in [-0.1, 1.0, 1.5, f64::NAN] {
        let err = LabelSmoothingCrossEntropyConfig::new()
            .with_smoothing(eps)
            .init::<B>(&device)
            .unwrap_err();
        assert!(matches!(err, LossError::InvalidSmoothing(_)), "{eps}");
    }
    let err = LabelSmoothingCrossEntropyConfig::new()
        .with_weights(Some(vec![]))
        .init::<B>(&device)
        .unwrap_err();
    assert_eq!(err, LossError::EmptyWeights);
    let err = LabelSmoothingCrossEntropyConfig::new()
        .with_weights(Some(vec![1.0, f32::NAN]))
        .init::<B>(&device)
        .unwrap_err();
    assert!(matches!(err, LossError::InvalidWeight { index: 1, .. }));

    let weighted = LabelSmoothingCrossEntropyConfig::new()
        .with_weights(Some(vec![1.0, 1.0, 1.0]))
        .init::<B>(&device)
        .unwrap();
    let err = weighted
        .try_forward(Tensor::zeros([2, 4], &device), int_tensor(&[0, 1]))
        .unwrap_err();
    assert_eq!(
        err,
        LossError::WeightCount {
            logits: 4,
            weights: 3
        }
    );
    let off = LabelSmoothingCrossEntropyConfig::new()
        .with_convention(SmoothingConvention::OffTarget)
        .init::<B>(&device)
        .unwrap();
    let err = off
        .try_forward(Tensor::zeros([2, 1], &device), int_tensor(&[0, 0]))
        .unwrap_err();
    assert_eq!(err, LossError::TooFewClasses(1));

    // Per-sample lambda cannot be combined with weights (no PyTorch definition).
    let y = int_tensor::<B>(&[0, 1]);
    let batch = MixedBatch {
        inputs: Tensor::<B, 2>::zeros([2, 1], &device),
        targets_a: y.clone(),
        targets_b: y,
        lambda: Lambda::PerSample(vec![0.3, 0.7]),
    };
    let weighted2 = LabelSmoothingCrossEntropyConfig::new()
        .with_weights(Some(vec![1.0, 2.0]))
        .init::<B>(&device)
        .unwrap();
    assert_eq!(
        batch
            .try_loss(Tensor::zeros([2, 2], &device), &weighted2)
            .unwrap_err(),
        LossError::PerSampleLambdaUnsupported
    );
    assert_eq!(
        batch.soft_targets(2, 1.0).unwrap_err(),
        MixupError::InvalidSmoothing(1.0)
    );
    assert_eq!(
        batch.soft_targets(0, 0.1).unwrap_err(),
        MixupError::InvalidNumClasses(0)
    );
}

#[test]
fn check_targets_names_position_and_value() {
    assert_eq!(check_targets(&[0u8, 9], 10), Ok(()));
    assert_eq!(
        check_targets(&[1i32, -3], 10),
        Err(TargetError::OutOfRange {
            position: 1,
            value: -3,
            num_classes: 10
        })
    );
    assert_eq!(check_targets(&[0usize], 0), Err(TargetError::NoClasses));
    assert_eq!(
        check_targets(&[u64::MAX], 10),
        Err(TargetError::OutOfRange {
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
