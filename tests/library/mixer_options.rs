//! The mixer's options around a draw: a disabled mixer, schedules by epoch and by
//! draw index, `prob`, `switch_prob`, the alpha ramp, replaying a draw on hidden
//! activations (Manifold Mixup), and every configuration and batch error.

use burn::tensor::{Tensor, TensorData};
use burn_mixup::{Lambda, MixConfig, MixError, MixMode, MixParams, Mixer, Pairing};

use crate::common::*;
use crate::losses::int_tensor;
use crate::mixer::batch_lambda;

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
