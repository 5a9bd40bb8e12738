//! The mixer's draws: sampling statistics, pairings, modes, seeds and streams
//! (schedules, probabilities, replay and errors are in `mixer_options.rs`).
//!
//! Images are built so that sample `i` holds the constant value `i + 1` in every
//! pixel: a mixed pixel then reveals exactly where it came from.

use burn::tensor::{Int, Tensor, TensorData};
use burn_mixup::{Lambda, MixConfig, MixMode, MixParams, Mixer, Pairing};

use crate::common::*;

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

pub fn batch_lambda(mixer: &Mixer, dims: &[usize]) -> f64 {
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
