//! CutMix and the combined mixer: boxes, modes, switching, schedules, timm's targets.
//!
//! Images are built so that sample `i` holds the constant value `i + 1` in every
//! pixel: a mixed pixel then reveals exactly where it came from (own value, the
//! partner's value, or a blend of both).

mod common;

use burn::tensor::{Int, Tensor, TensorData};
use burn_mixup::cutmix::{cutmix_bbox_and_lambda, rand_bbox};
use burn_mixup::mixup::mixup_target;
use burn_mixup::{
    Lambda, MixConfig, MixMode, MixScheduleConfig, MixedBatch, MixupBatcher, MixupError, Pairing,
};
use common::*;
use rand::SeedableRng;

const C: usize = 2;

fn constant_images(batch: usize, height: usize, width: usize) -> Tensor<B, 4> {
    let values: Vec<f32> = (0..batch)
        .flat_map(|i| std::iter::repeat_n((i + 1) as f32, C * height * width))
        .collect();
    Tensor::from_data(
        TensorData::new(values, [batch, C, height, width]),
        &device(),
    )
}

fn labels(batch: usize) -> Tensor<B, 1, Int> {
    let values: Vec<i64> = (0..batch as i64).map(|i| i % 10).collect();
    Tensor::from_data(TensorData::new(values, [batch]), &device())
}

/// Pixels of image `i` (all channels) as a flat vector.
fn image(pixels: &[f32], i: usize, height: usize, width: usize) -> &[f32] {
    let size = C * height * width;
    &pixels[i * size..(i + 1) * size]
}

/// Checks the CutMix invariants of one output image whose own value is `own` and
/// partner value is `partner`: every pixel is exactly one of the two, the partner's
/// pixels form one axis-aligned box (the same in every channel), and the returned
/// kept fraction is exact.
fn check_cutmix_image(pixels: &[f32], own: f32, partner: f32, height: usize, width: usize) -> f64 {
    let plane = height * width;
    let mut pasted = Vec::new();
    for (p, &v) in pixels.iter().enumerate() {
        assert!(
            v == own || v == partner,
            "pixel {p} = {v}: neither {own} nor {partner}"
        );
        if v == partner && own != partner {
            pasted.push(p % plane);
        }
    }
    if !pasted.is_empty() {
        // Same box in every channel.
        assert_eq!(pasted.len() % C, 0);
        let first: Vec<usize> = pasted[..pasted.len() / C].to_vec();
        for c in 1..C {
            assert_eq!(&pasted[c * first.len()..(c + 1) * first.len()], &first[..]);
        }
        let ys: Vec<usize> = first.iter().map(|p| p / width).collect();
        let xs: Vec<usize> = first.iter().map(|p| p % width).collect();
        let (y0, y1) = (*ys.iter().min().unwrap(), *ys.iter().max().unwrap() + 1);
        let (x0, x1) = (*xs.iter().min().unwrap(), *xs.iter().max().unwrap() + 1);
        assert_eq!(
            first.len(),
            (y1 - y0) * (x1 - x0),
            "pasted pixels are a full box"
        );
    }
    1.0 - (pasted.len() / C.max(1)) as f64 / (height * width) as f64
}

#[test]
fn batch_cutmix_pastes_one_box_and_reports_its_kept_area() {
    let (batch, height, width) = (6, 9, 13);
    let mixer = MixConfig::cutmix(10, 1.0)
        .with_seed(Some(17))
        .init()
        .unwrap();
    let mut saw_a_box = false;
    for _ in 0..40 {
        let mixed = mixer
            .apply(constant_images(batch, height, width), labels(batch))
            .unwrap();
        let pixels = to_vec(mixed.inputs.clone());
        let Lambda::Batch(lambda) = mixed.lambda else {
            panic!("batch mode gives one lambda")
        };
        for i in 0..batch {
            let partner = (batch - 1 - i) as f32 + 1.0; // timm's flip pairing
            let kept = check_cutmix_image(
                image(&pixels, i, height, width),
                (i + 1) as f32,
                partner,
                height,
                width,
            );
            if (i + 1) as f32 != partner {
                assert_eq!(kept, lambda, "lambda equals the kept fraction exactly");
                saw_a_box |= kept < 1.0;
            }
        }
    }
    assert!(saw_a_box);
}

#[test]
fn uncorrected_lambda_is_the_sampled_value_and_the_box_follows_it() {
    let (height, width) = (64, 48);
    // The same seed draws the same lambda and box with and without the correction.
    for seed in 0..30 {
        let draw = |correct| {
            let mut rng = rand::rngs::Xoshiro256PlusPlus::seed_from_u64(seed);
            cutmix_bbox_and_lambda(
                height,
                width,
                0.3 + seed as f64 / 100.0,
                None,
                correct,
                &mut rng,
            )
        };
        let (box_a, corrected) = draw(true);
        let (box_b, sampled) = draw(false);
        assert_eq!(box_a, box_b);
        assert_eq!(sampled, 0.3 + seed as f64 / 100.0);
        assert_eq!(corrected, box_a.kept_fraction(height, width));
        // Unclipped side: 2 * (floor(side * sqrt(1 - lambda)) / 2), as timm.
        let cut_h = (height as f64 * (1.0 - sampled).sqrt()) as usize;
        assert!(box_a.y1 - box_a.y0 <= cut_h / 2 * 2);
    }
}

/// The clipped box of a uniformly drawn centre keeps, per axis, an expected
/// `r - r^2/4` of the side (r = sqrt(1 - lambda)), so E[1 - lambda_reported] =
/// (r - r^2/4)^2; a large image keeps the integer truncation negligible. 4,000 draws:
/// the area fraction has sd < 0.2, so the mean is within 0.015 (5 se).
#[test]
fn box_area_distribution_matches_closed_form() {
    let side = 1000;
    let mut rng = rand::rngs::Xoshiro256PlusPlus::seed_from_u64(99);
    for lambda in [0.2, 0.5, 0.8] {
        let n = 4000;
        let mean_area: f64 = (0..n)
            .map(|_| 1.0 - cutmix_bbox_and_lambda(side, side, lambda, None, true, &mut rng).1)
            .sum::<f64>()
            / n as f64;
        let r = (1.0f64 - lambda).sqrt();
        let expected = (r - r * r / 4.0).powi(2);
        assert!(
            (mean_area - expected).abs() < 0.015,
            "lambda {lambda}: {mean_area} vs {expected}"
        );
        // An unclipped box (centre in the middle) has area (1 - lambda) to within the truncation.
        let mut centred = rand::rngs::Xoshiro256PlusPlus::seed_from_u64(0);
        let cut = loop {
            let cut = rand_bbox(side, side, lambda, &mut centred);
            if cut.y0 > 0 && cut.x0 > 0 && cut.y1 < side && cut.x1 < side {
                break cut;
            }
        };
        assert!((cut.area() as f64 / (side * side) as f64 - (1.0 - lambda)).abs() < 0.005);
    }
}

#[test]
fn minmax_bounds_box_sides_and_lambda_follows_the_box() {
    let (height, width) = (40, 40);
    let mixer = MixConfig::cutmix(10, 0.0)
        .with_cutmix_minmax(Some((0.25, 0.5)))
        .with_correct_lambda(false)
        .with_seed(Some(3))
        .init()
        .unwrap();
    for _ in 0..20 {
        let mixed = mixer
            .apply(constant_images(2, height, width), labels(2))
            .unwrap();
        let pixels = to_vec(mixed.inputs.clone());
        let kept = check_cutmix_image(image(&pixels, 0, height, width), 1.0, 2.0, height, width);
        assert_eq!(
            mixed.lambda,
            Lambda::Batch(kept),
            "minmax: lambda always follows the box"
        );
        let area = (1.0 - kept) * (height * width) as f64;
        assert!(
            (100.0..=400.0).contains(&area.round()),
            "box sides in [10, 20): area {area}"
        );
    }
}

#[test]
fn pair_mode_partners_share_lambda_and_mix_symmetrically() {
    let batch = 8;
    let mixer = MixConfig::new(10)
        .with_mode(MixMode::Pair)
        .with_seed(Some(5))
        .init()
        .unwrap();
    let mixed = mixer
        .apply(constant_images(batch, 2, 2), labels(batch))
        .unwrap();
    let Lambda::PerSample(lambdas) = &mixed.lambda else {
        panic!("per-sample lambda")
    };
    let pixels = to_vec(mixed.inputs.clone());
    for i in 0..batch {
        let j = batch - 1 - i;
        assert_eq!(lambdas[i], lambdas[j]);
        let (own, partner) = ((i + 1) as f64, (j + 1) as f64);
        let expected = lambdas[i] * own + (1.0 - lambdas[i]) * partner;
        for &v in image(&pixels, i, 2, 2) {
            assert!((v as f64 - expected).abs() < 1e-5, "sample {i}");
        }
    }
    // Pair-mode CutMix: both partners swap the same box.
    let mixer = MixConfig::cutmix(10, 1.0)
        .with_mode(MixMode::Pair)
        .with_seed(Some(6))
        .init()
        .unwrap();
    let (height, width) = (8, 8);
    let mixed = mixer
        .apply(constant_images(batch, height, width), labels(batch))
        .unwrap();
    let pixels = to_vec(mixed.inputs.clone());
    let Lambda::PerSample(lambdas) = &mixed.lambda else {
        panic!()
    };
    for i in 0..batch / 2 {
        let j = batch - 1 - i;
        let kept_i = check_cutmix_image(
            image(&pixels, i, height, width),
            (i + 1) as f32,
            (j + 1) as f32,
            height,
            width,
        );
        let kept_j = check_cutmix_image(
            image(&pixels, j, height, width),
            (j + 1) as f32,
            (i + 1) as f32,
            height,
            width,
        );
        assert_eq!((kept_i, kept_j), (lambdas[i], lambdas[j]));
        let mask = |img: &[f32], own: f32| img.iter().map(|&v| v == own).collect::<Vec<_>>();
        assert_eq!(
            mask(image(&pixels, i, height, width), (i + 1) as f32),
            mask(image(&pixels, j, height, width), (j + 1) as f32)
        );
    }
}

#[test]
fn elem_mode_soft_targets_mix_row_by_row_and_sum_to_one() {
    let (batch, classes, eps) = (6, 10, 0.1);
    let mixer = MixConfig::new(classes)
        .with_cutmix_alpha(1.0)
        .with_mode(MixMode::Elem)
        .with_label_smoothing(eps)
        .with_seed(Some(8))
        .init()
        .unwrap();
    let y: Vec<i64> = vec![3, 1, 4, 1, 5, 9];
    let targets = Tensor::<B, 1, Int>::from_data(TensorData::new(y.clone(), [batch]), &device());
    let mixed = mixer.apply(constant_images(batch, 6, 6), targets).unwrap();
    let Lambda::PerSample(lambdas) = &mixed.lambda else {
        panic!()
    };
    let soft = to_vec(mixer.soft_targets(&mixed));
    let (off, on) = (eps / classes as f64, 1.0 - eps + eps / classes as f64);
    for i in 0..batch {
        let (a, b) = (y[i] as usize, y[batch - 1 - i] as usize);
        let row = &soft[i * classes..(i + 1) * classes];
        for (k, &q) in row.iter().enumerate() {
            let qa = if k == a { on } else { off };
            let qb = if k == b { on } else { off };
            let expected = lambdas[i] * qa + (1.0 - lambdas[i]) * qb;
            assert!((q as f64 - expected).abs() < 1e-6, "row {i} class {k}");
        }
        let sum: f64 = row.iter().map(|&q| q as f64).sum();
        assert!((sum - 1.0).abs() < 1e-6);
    }
    // Elem mode draws lambdas independently.
    assert!(lambdas.windows(2).any(|w| w[0] != w[1]));
}

#[test]
fn per_sample_lambda_loss_equals_soft_target_loss() {
    let (batch, classes) = (4, 5);
    let mixer = MixConfig::new(classes)
        .with_mode(MixMode::Elem)
        .with_label_smoothing(0.0)
        .with_seed(Some(2))
        .init()
        .unwrap();
    let mixed = mixer
        .apply(Tensor::<B, 2>::zeros([batch, 3], &device()), labels(batch))
        .unwrap();
    let logits = Tensor::<B, 2>::from_data(
        TensorData::new(noise(batch * classes, 4, 3.0), [batch, classes]),
        &device(),
    );
    let ce = burn_mixup::LabelSmoothingCrossEntropyConfig::new()
        .with_smoothing(0.0)
        .init::<B>(&device())
        .unwrap();
    let one_pass = mixed.loss(logits.clone(), &ce).into_scalar();
    let soft = burn_mixup::SoftTargetCrossEntropy::default()
        .forward(logits, mixer.soft_targets(&mixed))
        .into_scalar();
    assert_close(&[one_pass], &[soft as f64], 1e-5, 0.0, "per-sample");
}

fn is_blend(pixels: &[f32], batch: usize, plane: usize) -> bool {
    (0..batch).any(|i| {
        pixels[i * plane..(i + 1) * plane]
            .iter()
            .any(|v| v.fract() != 0.0)
    })
}

#[test]
fn switch_prob_selects_mixup_or_cutmix() {
    let (batch, height, width) = (4, 8, 8);
    let plane = C * height * width;
    let only = |switch_prob| {
        MixConfig::new(10)
            .with_mixup_alpha(1.0)
            .with_cutmix_alpha(1.0)
            .with_switch_prob(switch_prob)
            .with_seed(Some(4))
            .init()
            .unwrap()
    };
    let mixup_only = only(0.0);
    let cutmix_only = only(1.0);
    for _ in 0..30 {
        let pixels = to_vec(
            mixup_only
                .apply(constant_images(batch, height, width), labels(batch))
                .unwrap()
                .inputs,
        );
        // Mixup blends: every pixel of a mixed image is the same non-integer blend.
        assert!(
            is_blend(&pixels, batch, plane)
                || pixels == to_vec(constant_images(batch, height, width))
        );
        let pixels = to_vec(
            cutmix_only
                .apply(constant_images(batch, height, width), labels(batch))
                .unwrap()
                .inputs,
        );
        assert!(!is_blend(&pixels, batch, plane), "CutMix never blends");
    }
}

#[test]
fn prob_zero_and_schedule_off_leave_inputs_unchanged() {
    let original = to_vec(constant_images(4, 4, 4));
    let never = MixConfig::new(10)
        .with_cutmix_alpha(1.0)
        .with_prob(0.0)
        .init()
        .unwrap();
    for mode in [MixMode::Batch, MixMode::Pair, MixMode::Elem] {
        let mixer = MixConfig::new(10)
            .with_cutmix_alpha(1.0)
            .with_prob(0.0)
            .with_mode(mode)
            .init()
            .unwrap();
        let mixed = mixer.apply(constant_images(4, 4, 4), labels(4)).unwrap();
        assert_eq!(to_vec(mixed.inputs), original, "{mode:?}");
        assert!((mixed.lambda.mean() - 1.0).abs() < 1e-12);
    }
    assert_eq!(
        to_vec(
            never
                .apply(constant_images(4, 4, 4), labels(4))
                .unwrap()
                .inputs
        ),
        original
    );

    let scheduled = MixConfig::new(10)
        .with_schedule(MixScheduleConfig::new().with_off_epoch(Some(3)))
        .with_seed(Some(1))
        .init()
        .unwrap();
    let handle = scheduled.clone();
    handle.set_epoch(2);
    assert!(
        scheduled
            .apply(constant_images(4, 4, 4), labels(4))
            .unwrap()
            .lambda
            != Lambda::Batch(1.0)
    );
    handle.set_epoch(3);
    let mixed = scheduled
        .apply(constant_images(4, 4, 4), labels(4))
        .unwrap();
    assert_eq!(
        (to_vec(mixed.inputs), mixed.lambda),
        (original, Lambda::Batch(1.0))
    );
}

/// A ramp multiplies alpha: with alpha 1 and scale 0.1 lambda follows Beta(0.1, 0.1),
/// whose variance 1/(4 * 1.2) = 0.208 is far from Beta(1, 1)'s 1/12 = 0.083.
#[test]
fn alpha_ramp_changes_the_lambda_distribution() {
    let mixer = MixConfig::new(10)
        .with_schedule(MixScheduleConfig::new().with_ramp_epochs(10))
        .with_seed(Some(12))
        .init()
        .unwrap();
    let variance = |mixer: &burn_mixup::Mixer| {
        let lambdas: Vec<f64> = (0..3000)
            .map(|_| {
                mixer
                    .apply(Tensor::<B, 2>::zeros([2, 1], &device()), labels(2))
                    .unwrap()
                    .lambda
                    .mean()
            })
            .collect();
        lambdas.iter().map(|l| (l - 0.5).powi(2)).sum::<f64>() / lambdas.len() as f64
    };
    mixer.set_epoch(0);
    let early = variance(&mixer);
    mixer.set_epoch(9);
    let late = variance(&mixer);
    assert!((early - 0.208).abs() < 0.02, "early {early}");
    assert!((late - 0.0833).abs() < 0.01, "late {late}");
}

#[test]
fn soft_targets_equal_timm_mixup_target_fixture() {
    let refs = refs();
    let case = &refs["c_timm_losses"]["soft_target_ce"];
    let targets = ints::<B>(&refs["c_timm_losses"]["targets"]);
    let mixer = MixConfig::new(10).with_label_smoothing(0.1).init().unwrap();
    let batch = MixedBatch::<B, 1> {
        inputs: Tensor::zeros([8], &device()),
        targets_b: targets.clone().flip([0]),
        targets_a: targets.clone(),
        lambda: Lambda::Batch(case["lam"].as_f64().unwrap()),
    };
    assert_close(
        &to_vec(mixer.soft_targets(&batch)),
        &flat(&case["soft_targets"]).0,
        1e-6,
        1e-7,
        "mixer targets",
    );
    let helper = mixup_target(targets, 10, 0.7, 0.1).unwrap();
    assert_close(
        &to_vec(helper),
        &flat(&case["soft_targets"]).0,
        1e-6,
        1e-7,
        "helper targets",
    );
}

#[test]
fn bad_mixer_configs_and_batches_are_typed_errors() {
    let err = |config: MixConfig| config.init().unwrap_err();
    assert!(matches!(
        err(MixConfig::new(10).with_mixup_alpha(-1.0)),
        MixupError::InvalidAlpha {
            name: "mixup_alpha",
            ..
        }
    ));
    assert!(matches!(
        err(MixConfig::new(10).with_cutmix_alpha(f64::NAN)),
        MixupError::InvalidAlpha {
            name: "cutmix_alpha",
            ..
        }
    ));
    assert_eq!(
        err(MixConfig::new(10).with_mixup_alpha(0.0)),
        MixupError::NothingToMix
    );
    for (min, max) in [(0.0, 0.5), (0.6, 0.5), (0.2, 1.5), (f64::NAN, 0.5)] {
        assert!(matches!(
            err(MixConfig::new(10).with_cutmix_minmax(Some((min, max)))),
            MixupError::InvalidMinMax { .. }
        ));
    }
    assert!(matches!(
        err(MixConfig::new(10).with_switch_prob(2.0)),
        MixupError::InvalidProbability {
            name: "switch_prob",
            ..
        }
    ));
    assert!(matches!(
        err(MixConfig::new(10).with_prob(-1.0)),
        MixupError::InvalidProbability { name: "prob", .. }
    ));
    assert_eq!(
        err(MixConfig::new(10).with_label_smoothing(1.0)),
        MixupError::InvalidSmoothing(1.0)
    );
    assert_eq!(err(MixConfig::new(1)), MixupError::InvalidNumClasses(1));
    // minmax alone is enough to mix.
    assert!(MixConfig::new(10)
        .with_mixup_alpha(0.0)
        .with_cutmix_minmax(Some((0.2, 0.8)))
        .init()
        .is_ok());

    for mode in [MixMode::Pair, MixMode::Elem] {
        let mixer = MixConfig::new(10).with_mode(mode).init().unwrap();
        let e = mixer
            .apply(constant_images(3, 2, 2), labels(3))
            .unwrap_err();
        assert!(matches!(e, MixupError::OddBatch { batch_size: 3, .. }));
    }
    // Batch mode takes odd batches (the middle sample pairs with itself).
    assert!(MixConfig::new(10)
        .init()
        .unwrap()
        .apply(constant_images(3, 2, 2), labels(3))
        .is_ok());
    let cutmix = MixConfig::cutmix(10, 1.0).init().unwrap();
    let e = cutmix
        .apply(Tensor::<B, 2>::zeros([2, 4], &device()), labels(2))
        .unwrap_err();
    assert_eq!(e, MixupError::NotAnImage { dims: vec![2, 4] });
}

#[test]
fn seeded_mixers_are_reproducible_and_resumable() {
    let run = |seed| {
        let mixer = MixConfig::new(10)
            .with_cutmix_alpha(1.0)
            .with_mode(MixMode::Elem)
            .with_seed(Some(seed))
            .init()
            .unwrap();
        (0..5)
            .map(|_| {
                let m = mixer.apply(constant_images(4, 6, 6), labels(4)).unwrap();
                (to_vec(m.inputs), m.lambda)
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(run(1), run(1));
    assert_ne!(run(1), run(2));

    let mixer = MixConfig::new(10)
        .with_cutmix_alpha(1.0)
        .with_seed(Some(1))
        .init()
        .unwrap();
    mixer.apply(constant_images(4, 6, 6), labels(4)).unwrap();
    let state = mixer.rng_state();
    let next = to_vec(
        mixer
            .apply(constant_images(4, 6, 6), labels(4))
            .unwrap()
            .inputs,
    );
    let resumed = MixConfig::new(10).with_cutmix_alpha(1.0).init().unwrap();
    resumed.set_rng_state(state);
    assert_eq!(
        to_vec(
            resumed
                .apply(constant_images(4, 6, 6), labels(4))
                .unwrap()
                .inputs
        ),
        next
    );
}

#[test]
fn permutation_pairing_in_batch_mode_and_batcher_with_mixer() {
    let mixer = MixConfig::new(10)
        .with_pairing(Pairing::Permutation)
        .with_seed(Some(9))
        .init()
        .unwrap();
    let mixed = mixer.apply(constant_images(16, 2, 2), labels(16)).unwrap();
    let partner_labels = to_vec(mixed.targets_b.clone().float());
    let mut sorted = partner_labels.clone();
    sorted.sort_by(f32::total_cmp);
    let mut own = to_vec(mixed.targets_a.float());
    own.sort_by(f32::total_cmp);
    assert_eq!(sorted, own, "targets_b is a permutation of targets_a");

    #[derive(Clone)]
    struct Pass;
    impl burn::data::dataloader::batcher::Batcher<B, usize, (Tensor<B, 4>, Tensor<B, 1, Int>)>
        for Pass
    {
        fn batch(
            &self,
            items: Vec<usize>,
            _device: &burn_ndarray::NdArrayDevice,
        ) -> (Tensor<B, 4>, Tensor<B, 1, Int>) {
            (constant_images(items.len(), 4, 4), labels(items.len()))
        }
    }
    let batcher = MixupBatcher::new(
        Pass,
        MixConfig::cutmix(10, 1.0)
            .with_mode(MixMode::Elem)
            .init()
            .unwrap(),
    );
    let batch: MixedBatch<B, 4> = batcher.try_batch(vec![0, 1, 2, 3], &device()).unwrap();
    assert!(matches!(batch.lambda, Lambda::PerSample(ref l) if l.len() == 4));
}
