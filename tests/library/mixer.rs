//! The mixer: sampling statistics, pairings, modes, schedules, seeds and streams,
//! replaying a draw (Manifold Mixup), and every configuration and batch error.
//!
//! Images are built so that sample `i` holds the constant value `i + 1` in every
//! pixel: a mixed pixel then reveals exactly where it came from.

use burn::tensor::{Int, Tensor, TensorData};
use burn_mixup::{Lambda, MixConfig, MixError, MixMode, MixParams, Mixer, Pairing};

use crate::common::*;
use crate::losses::int_tensor;

pub const C: usize = 2;

pub fn constant_images(batch: usize, height: usize, width: usize) -> Tensor<4> {
    let values: Vec<f32> = (0..batch)
        .flat_map(|i| std::iter::repeat_n((i + 1) as f32, C * height * width))
        .collect();
    Tensor::from_data(
        TensorData::new(values, [batch, C, height, width]),
        &device(),
    )
}

pub fn labels(batch: usize) -> Tensor<1, Int> {
    let values: Vec<i64> = (0..batch as i64).map(|i| i % 10).collect();
    Tensor::from_data(TensorData::new(values, [batch]), &device())
}

fn is_permutation(indices: &[usize]) -> bool {
    let mut seen = vec![false; indices.len()];
    indices
        .iter()
        .all(|&i| i < seen.len() && !std::mem::replace(&mut seen[i], true))
}

fn batch_lambda(mixer: &Mixer, dims: &[usize]) -> f64 {
    match mixer.sample(dims).unwrap().lambda() {
        Lambda::Batch(lambda) => *lambda,
        other => panic!("batch mode gives one lambda, got {other:?}"),
    }
}

/// Over 20,000 draws, mean 1/2 and variance 1/(4(2a+1)) of Beta(a, a). Tolerance:
/// 5 standard errors of each estimator, from the Beta's own moments (the variance
/// estimator's error uses the excess kurtosis -6/(2a+3) of a symmetric Beta), so a
/// correct sampler fails with probability below 1e-6 and a wrong alpha is far outside.
#[test]
fn lambda_mean_and_variance_follow_beta() {
    let n = 20_000;
    for alpha in [0.2, 1.0, 2.0] {
        let mixer = MixConfig::mixup(alpha).with_seed(Some(11)).init().unwrap();
        let lambdas: Vec<f64> = (0..n).map(|_| batch_lambda(&mixer, &[2, 1])).collect();
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
fn pairings_are_permutations_flip_reverses_roll_shifts() {
    let mixer = MixConfig::mixup(1.0).with_seed(Some(1)).init().unwrap();
    for batch in 1..=33 {
        let partners = mixer.sample(&[batch, 3]).unwrap().partners().to_vec();
        assert!(is_permutation(&partners), "batch {batch}: {partners:?}");
        assert_eq!(partners.len(), batch);
    }
    // A fresh permutation each batch, not one fixed shuffle.
    let a = mixer.sample(&[32, 1]).unwrap().partners().to_vec();
    let b = mixer.sample(&[32, 1]).unwrap().partners().to_vec();
    assert_ne!(a, b);
    let with = |pairing| MixConfig::mixup(1.0).with_pairing(pairing).init().unwrap();
    let flip = with(Pairing::Flip).sample(&[5, 1]).unwrap();
    assert_eq!(flip.partners(), &[4, 3, 2, 1, 0]);
    let roll = with(Pairing::Roll).sample(&[5, 1]).unwrap();
    assert_eq!(roll.partners(), &[4, 0, 1, 2, 3]);
}

/// Batch mode, any rank: every value is `lambda * own + (1 - lambda) * partner's`.
#[test]
fn any_rank_is_mixed_with_the_same_formula() {
    let mixer = MixConfig::mixup(1.0).with_seed(Some(8)).init().unwrap();
    let values = noise(6 * 8, 3, 2.0);
    let x = Tensor::<3>::from_data(TensorData::new(values.clone(), [6, 2, 4]), &device());
    let batch = mixer.apply(x, labels(6)).unwrap();
    let lambda = batch.lambda().of_sample(0);
    let partners = batch.params().partners().to_vec();
    let mixed = to_vec(batch.inputs().clone());
    for i in 0..6 {
        for k in 0..8 {
            let expected = lambda * values[i * 8 + k] as f64
                + (1.0 - lambda) * values[partners[i] * 8 + k] as f64;
            assert!((mixed[i * 8 + k] as f64 - expected).abs() < 1e-6);
        }
    }
    let partner_labels = to_vec(batch.partner_targets().clone().float());
    for (i, &p) in partners.iter().enumerate() {
        assert_eq!(partner_labels[i], (p % 10) as f32);
    }
}

/// Pair mode: partners form a symmetric matching (random under `Permutation`,
/// `(i, B-1-i)` under `Flip`), both partners share lambda and are mixed with each
/// other's originals; an odd batch leaves one sample alone, untouched.
#[test]
fn pair_mode_is_a_symmetric_matching_for_every_batch_size() {
    for pairing in [Pairing::Permutation, Pairing::Flip] {
        let mixer = MixConfig::mixup(1.0)
            .with_mode(MixMode::Pair)
            .with_pairing(pairing)
            .with_seed(Some(21))
            .init()
            .unwrap();
        for batch in 1..=9 {
            let (h, w) = (2, 3);
            let mixed = mixer
                .apply(constant_images(batch, h, w), labels(batch))
                .unwrap();
            let partners = mixed.params().partners().to_vec();
            let Lambda::PerSample(lambdas) = mixed.lambda().clone() else {
                panic!("pair mode gives per-sample lambda")
            };
            let alone: Vec<usize> = (0..batch).filter(|&i| partners[i] == i).collect();
            assert_eq!(
                alone.len(),
                batch % 2,
                "{pairing:?} batch {batch}: {partners:?}"
            );
            if pairing == Pairing::Flip && batch % 2 == 1 {
                assert_eq!(alone, vec![batch / 2]);
            }
            let pixels = to_vec(mixed.inputs().clone());
            let plane = C * h * w;
            for i in 0..batch {
                let j = partners[i];
                assert_eq!(partners[j], i, "symmetric");
                assert_eq!(lambdas[i], lambdas[j], "shared lambda");
                let expected = if i == j {
                    assert_eq!(lambdas[i], 1.0);
                    (i + 1) as f32
                } else {
                    (lambdas[i] * (i + 1) as f64 + (1.0 - lambdas[i]) * (j + 1) as f64) as f32
                };
                for &v in &pixels[i * plane..(i + 1) * plane] {
                    assert!((v - expected).abs() < 1e-5, "sample {i}: {v} vs {expected}");
                }
            }
        }
    }
}

/// Elem mode: one lambda per sample, each sample mixed with its partner's original
/// with one weight per sample; a sample that is its own partner stays as it is.
#[test]
fn elem_mode_draws_one_lambda_per_sample() {
    for pairing in [Pairing::Permutation, Pairing::Flip, Pairing::Roll] {
        let mixer = MixConfig::mixup(1.0)
            .with_mode(MixMode::Elem)
            .with_pairing(pairing)
            .with_seed(Some(5))
            .init()
            .unwrap();
        let (batch, h, w) = (7, 2, 2);
        let mixed = mixer
            .apply(constant_images(batch, h, w), labels(batch))
            .unwrap();
        let partners = mixed.params().partners().to_vec();
        let Lambda::PerSample(lambdas) = mixed.lambda().clone() else {
            panic!("elem mode gives per-sample lambda")
        };
        let distinct: std::collections::BTreeSet<u64> =
            lambdas.iter().map(|l| l.to_bits()).collect();
        assert!(distinct.len() >= 3, "{pairing:?}: lambdas {lambdas:?}");
        let pixels = to_vec(mixed.inputs().clone());
        let plane = C * h * w;
        for i in 0..batch {
            let j = partners[i];
            let expected = if i == j {
                (i + 1) as f32
            } else {
                (lambdas[i] * (i + 1) as f64 + (1.0 - lambdas[i]) * (j + 1) as f64) as f32
            };
            for &v in &pixels[i * plane..(i + 1) * plane] {
                assert!(
                    (v - expected).abs() < 1e-5,
                    "{pairing:?} sample {i}: {v} vs {expected}"
                );
            }
        }
    }
}

#[test]
fn same_seed_same_draws_streams_differ_and_resume_at_continues() {
    let config = MixConfig::new()
        .with_cutmix_alpha(1.0)
        .with_mode(MixMode::Elem)
        .with_seed(Some(5));
    let draws = |config: &MixConfig| {
        let mixer = config.init().unwrap();
        (0..20)
            .map(|_| mixer.sample(&[6, 1, 8, 8]).unwrap())
            .collect::<Vec<_>>()
    };
    assert_eq!(draws(&config), draws(&config));
    assert_ne!(draws(&config), draws(&config.clone().with_seed(Some(6))));
    // Two ranks with the same seed: independent unless they share a stream.
    let rank1 = draws(&config.clone().with_stream(1));
    assert_ne!(draws(&config), rank1);
    assert_eq!(rank1, draws(&config.clone().with_stream(1)));

    let straight = draws(&config);
    let resumed = config.init().unwrap();
    resumed.resume_at(12);
    let rest: Vec<MixParams> = (0..8)
        .map(|_| resumed.sample(&[6, 1, 8, 8]).unwrap())
        .collect();
    assert_eq!(rest, straight[12..]);
    assert_eq!(rest[0].draw_index(), Some(12));
    assert_eq!(resumed.next_draw(), 20);
    // An OS-seeded mixer reports its seed, which reproduces it.
    let unseeded = MixConfig::mixup(1.0).init().unwrap();
    let first = unseeded.sample(&[4, 1]).unwrap();
    let again = MixConfig::mixup(1.0)
        .with_seed(Some(unseeded.seed()))
        .init()
        .unwrap();
    assert_eq!(again.sample(&[4, 1]).unwrap(), first);
}

/// A disabled mixer (alphas 0, prob 0, schedule off) gives the batch back bit for
/// bit through the same types, still taking a draw index per batch.
#[test]
fn disabled_mixers_return_batches_unmixed() {
    let x = Tensor::<4>::from_data(TensorData::new(noise(48, 3, 1.0), [4, 3, 2, 2]), &device());
    let y = int_tensor(&[0, 1, 2, 3], &device());
    let off_epoch = MixConfig::mixup(1.0)
        .with_off_epoch(Some(3))
        .init()
        .unwrap();
    off_epoch.set_epoch(3);
    let disabled = [
        MixConfig::mixup(0.0).init().unwrap(),
        MixConfig::cutmix(1.0).with_prob(0.0).init().unwrap(),
        off_epoch,
    ];
    for (m, mixer) in disabled.iter().enumerate() {
        assert!(!mixer.is_active(), "mixer {m}");
        for round in 0..5u64 {
            let batch = mixer.apply(x.clone(), y.clone()).unwrap();
            assert_eq!(batch.lambda(), &Lambda::Batch(1.0));
            assert!(!batch.params().is_mixed());
            assert_eq!(batch.params().partners(), &[0, 1, 2, 3]);
            assert_eq!(batch.params().draw_index(), Some(round));
            let bits = |t: Tensor<4>| to_vec(t).iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(batch.inputs().clone()), bits(x.clone()), "mixer {m}");
        }
    }
    // Before the off epoch the same mixer mixes.
    let scheduled = MixConfig::mixup(1.0)
        .with_off_epoch(Some(3))
        .init()
        .unwrap();
    scheduled.set_epoch(2);
    assert!(scheduled.is_active());
}

/// With `batches_per_epoch` the schedule's epoch is the draw index over it: no
/// `set_epoch` needed (burn-train), and a resumed mixer is in the right epoch.
#[test]
fn batches_per_epoch_drives_the_schedule_from_the_draw_index() {
    let config = MixConfig::mixup(1.0)
        .with_off_epoch(Some(2))
        .with_batches_per_epoch(Some(3))
        .with_seed(Some(1));
    let mixer = config.init().unwrap();
    let mixed: Vec<bool> = (0..9)
        .map(|_| mixer.sample(&[4, 1]).unwrap().is_mixed())
        .collect();
    assert_eq!(
        mixed,
        [true, true, true, true, true, true, false, false, false]
    );
    assert_eq!(mixer.epoch(), 3);
    let resumed = config.init().unwrap();
    resumed.resume_at(5);
    assert_eq!(resumed.epoch(), 1);
    assert!(resumed.sample(&[4, 1]).unwrap().is_mixed());
    assert!(!resumed.sample(&[4, 1]).unwrap().is_mixed());
    assert_eq!(
        MixConfig::new()
            .with_batches_per_epoch(Some(0))
            .init()
            .unwrap_err(),
        MixError::ZeroBatchesPerEpoch
    );
}

#[test]
fn prob_half_mixes_about_half_the_batches() {
    // Binomial(4000, 0.5): sd 31.6; 5 sd = 158.
    let half = MixConfig::mixup(1.0)
        .with_prob(0.5)
        .with_seed(Some(2))
        .init()
        .unwrap();
    let mixed = (0..4000)
        .filter(|_| half.sample(&[4, 1]).unwrap().is_mixed())
        .count();
    assert!((mixed as i64 - 2000).abs() < 158, "{mixed} of 4000 mixed");
}

#[test]
fn switch_prob_selects_mixup_or_cutmix() {
    let both = MixConfig::new().with_cutmix_alpha(1.0).with_seed(Some(9));
    let pastes = |switch_prob: f64| {
        let mixer = both.clone().with_switch_prob(switch_prob).init().unwrap();
        (0..400)
            .filter(|_| mixer.sample(&[4, 1, 8, 8]).unwrap().cut_box(0).is_some())
            .count()
    };
    assert_eq!(pastes(0.0), 0);
    assert_eq!(pastes(1.0), 400);
    // Binomial(400, 0.5): 5 sd = 50.
    assert!((pastes(0.5) as i64 - 200).abs() < 50);
}

/// A ramp multiplies alpha: with alpha 1 and scale 0.1 lambda follows Beta(0.1, 0.1),
/// whose variance 1/(4 * 1.2) = 0.208 is far from Beta(1, 1)'s 1/12 = 0.083.
#[test]
fn alpha_ramp_changes_the_lambda_distribution() {
    let mixer = MixConfig::mixup(1.0)
        .with_ramp_epochs(10)
        .with_seed(Some(12))
        .init()
        .unwrap();
    let variance = |mixer: &Mixer| {
        let lambdas: Vec<f64> = (0..3000).map(|_| batch_lambda(mixer, &[2, 1])).collect();
        lambdas.iter().map(|l| (l - 0.5).powi(2)).sum::<f64>() / lambdas.len() as f64
    };
    mixer.set_epoch(0);
    let early = variance(&mixer);
    mixer.set_epoch(9);
    let late = variance(&mixer);
    assert!((early - 0.208).abs() < 0.02, "early {early}");
    assert!((late - 0.0833).abs() < 0.01, "late {late}");
}

/// Manifold Mixup: the draw of the input batch replays on hidden activations of any
/// rank with the same formula, partners and lambda.
#[test]
fn a_draw_replays_on_hidden_activations() {
    for mode in [MixMode::Batch, MixMode::Elem, MixMode::Pair] {
        let mixer = MixConfig::mixup(1.0)
            .with_mode(mode)
            .with_seed(Some(4))
            .init()
            .unwrap();
        let params = mixer.sample(&[6, 3, 8, 8]).unwrap();
        let values = noise(6 * 5 * 2, 17, 3.0);
        let hidden = Tensor::<3>::from_data(TensorData::new(values.clone(), [6, 5, 2]), &device());
        let mixed = to_vec(params.mix(hidden).unwrap());
        for i in 0..6 {
            let (j, lambda) = (params.partners()[i], params.lambda().of_sample(i));
            for k in 0..10 {
                let expected = if params.is_mixed() && j != i {
                    lambda * values[i * 10 + k] as f64 + (1.0 - lambda) * values[j * 10 + k] as f64
                } else {
                    values[i * 10 + k] as f64
                };
                assert!(
                    (mixed[i * 10 + k] as f64 - expected).abs() < 1e-5,
                    "{mode:?} {i}"
                );
            }
        }
        let err = params
            .mix(Tensor::<2>::zeros([5, 4], &device()))
            .unwrap_err();
        assert_eq!(
            err,
            MixError::ParamsBatchSize {
                expected: 6,
                got: 5
            }
        );
    }
}

#[test]
fn bad_configs_are_typed_errors_naming_the_value() {
    let err = |config: MixConfig| config.init().unwrap_err();
    for value in [-1.0, f64::NAN, f64::INFINITY] {
        let e = err(MixConfig::mixup(value));
        assert!(
            matches!(
                e,
                MixError::InvalidAlpha {
                    name: "mixup_alpha",
                    ..
                }
            ),
            "{e}"
        );
        assert!(e.to_string().contains(&value.to_string()), "{e}");
        let e = err(MixConfig::cutmix(value));
        assert!(
            matches!(
                e,
                MixError::InvalidAlpha {
                    name: "cutmix_alpha",
                    ..
                }
            ),
            "{e}"
        );
    }
    for value in [-0.1, 1.1, f64::NAN] {
        let e = err(MixConfig::new().with_prob(value));
        assert!(
            matches!(e, MixError::InvalidProbability { name: "prob", .. }),
            "{e}"
        );
        let e = err(MixConfig::new().with_switch_prob(value));
        assert!(
            matches!(
                e,
                MixError::InvalidProbability {
                    name: "switch_prob",
                    ..
                }
            ),
            "{e}"
        );
    }
    for (min, max) in [(0.0, 0.5), (0.6, 0.5), (0.2, 1.5)] {
        assert_eq!(
            err(MixConfig::new().with_cutmix_minmax(Some((min, max)))),
            MixError::InvalidMinMax { min, max }
        );
    }
    let e = err(MixConfig::new()
        .with_mode(MixMode::Pair)
        .with_pairing(Pairing::Roll));
    assert_eq!(
        e,
        MixError::AsymmetricPairing {
            mode: MixMode::Pair,
            pairing: Pairing::Roll
        }
    );
    assert!(e.to_string().contains("Roll"), "{e}");
}

#[test]
fn bad_batches_and_params_are_typed_errors() {
    let device = device();
    let mixer = MixConfig::new().init().unwrap();
    let err = mixer
        .apply(
            Tensor::<2>::zeros([3, 2], &device),
            int_tensor(&[0, 1], &device),
        )
        .unwrap_err();
    assert_eq!(
        err,
        MixError::BatchSizeMismatch {
            inputs: 3,
            targets: 2
        }
    );
    let err = mixer
        .apply(
            Tensor::<2>::zeros([0, 2], &device),
            int_tensor(&[], &device),
        )
        .unwrap_err();
    assert_eq!(err, MixError::EmptyBatch);
    assert_eq!(mixer.sample(&[]).unwrap_err(), MixError::EmptyBatch);
    // CutMix on non-images is refused whether or not the batch would draw a box.
    let cutmix = MixConfig::cutmix(1.0).with_prob(0.0).init().unwrap();
    assert_eq!(
        cutmix.sample(&[4, 10]).unwrap_err(),
        MixError::NotAnImage { dims: vec![4, 10] }
    );
    assert_eq!(
        cutmix.sample(&[4, 3, 0, 8]).unwrap_err(),
        MixError::NotAnImage {
            dims: vec![4, 3, 0, 8]
        }
    );
    // Boxes replay only on images of their size.
    let boxes = MixConfig::cutmix(1.0)
        .init()
        .unwrap()
        .sample(&[2, 3, 8, 8])
        .unwrap();
    assert_eq!(
        boxes
            .mix(Tensor::<4>::zeros([2, 3, 4, 8], &device))
            .unwrap_err(),
        MixError::ImageSize {
            expected: (8, 8),
            got: (4, 8)
        }
    );
    assert_eq!(
        boxes.mix(Tensor::<2>::zeros([2, 64], &device)).unwrap_err(),
        MixError::NotAnImage { dims: vec![2, 64] }
    );
    // Hand-built parameters are checked.
    assert_eq!(
        MixParams::blend(-0.5, vec![0]).unwrap_err(),
        MixError::InvalidLambda(-0.5)
    );
    assert_eq!(
        MixParams::blend(0.5, vec![1, 1]).unwrap_err(),
        MixError::InvalidPartners {
            partners: vec![1, 1]
        }
    );
    assert_eq!(
        MixParams::blend(0.5, vec![]).unwrap_err(),
        MixError::EmptyBatch
    );
    assert_eq!(
        MixParams::blend_per_sample(vec![0.5], vec![1, 0]).unwrap_err(),
        MixError::LambdaLength {
            expected: 2,
            got: 1
        }
    );
    assert_eq!(
        MixParams::blend_per_sample(vec![0.5, f64::NAN], vec![1, 0])
            .unwrap_err()
            .to_string(),
        "lambda must be in [0, 1], got NaN"
    );
    let params = MixParams::blend(0.5, vec![1, 0]).unwrap();
    assert_eq!(
        params
            .mix_batch(
                Tensor::<2>::zeros([3, 2], &device),
                int_tensor(&[0, 1, 2], &device)
            )
            .unwrap_err(),
        MixError::ParamsBatchSize {
            expected: 2,
            got: 3
        }
    );
}
