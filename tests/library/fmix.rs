//! FMix (Harris et al. 2020) against the paper's definitions: the mask's mean is
//! lambda exactly and lambda follows Beta(alpha, alpha); the mask is low-frequency
//! (its power sits at low spatial frequencies, its boundary is short) and with
//! decay 0 it is a uniformly random pixel subset (closed forms); draws are seeded
//! and resumable. Pixel exactness is checked with the rest of the CutMix family in
//! `cutmix.rs`.

use burn::tensor::{Tensor, TensorData};
use burn_mixup::{FourierMask, MixConfig, MixError, MixMode, Pairing, Paste};

use crate::common::*;
use crate::cutmix::{check_exact, special_images};
use crate::mixer::{C, labels};

/// `n` masks of an `side x side` image, batch mode, one per draw.
fn masks(alpha: f64, decay: f64, side: usize, n: usize, seed: u64) -> Vec<(FourierMask, f64)> {
    let mixer = MixConfig::fmix(alpha, decay)
        .with_seed(Some(seed))
        .init()
        .unwrap();
    (0..n)
        .map(|_| {
            let params = mixer.sample(&[2, 1, side, side]).unwrap();
            let mask = params
                .fourier_mask(0)
                .expect("FMix masks every sample")
                .clone();
            (mask, params.lambda().of_sample(0))
        })
        .collect()
}

/// Lambda is the exact share of kept pixels (an integer count over H*W), and over
/// 3,000 draws its mean and variance match Beta(alpha, alpha): mean 1/2, variance
/// 1 / (4 (2 alpha + 1)). Tolerances: 5 standard errors (mean: sd/sqrt(n); variance:
/// sqrt(var((x - 1/2)^2) / n), from the Beta moments).
#[test]
fn lambda_is_the_mask_mean_and_follows_beta() {
    let (side, n) = (8, 3000);
    for alpha in [1.0, 0.2] {
        let draws = masks(alpha, 3.0, side, n, 11);
        let mut lambdas = Vec::new();
        for (mask, lambda) in &draws {
            let kept = mask.partner_pixels().iter().filter(|p| !**p).count();
            assert_eq!(*lambda, kept as f64 / (side * side) as f64);
            assert_eq!(mask.kept_fraction(), *lambda);
            lambdas.push(*lambda);
        }
        let mean = lambdas.iter().sum::<f64>() / n as f64;
        let var = lambdas.iter().map(|l| (l - 0.5).powi(2)).sum::<f64>() / n as f64;
        let want_var = 1.0 / (4.0 * (2.0 * alpha + 1.0));
        // E[(x - 1/2)^4] of Beta(a, a) is 3 / (16 (2a + 1)(2a + 3)).
        let fourth = 3.0 / (16.0 * (2.0 * alpha + 1.0) * (2.0 * alpha + 3.0));
        let var_se = ((fourth - want_var * want_var) / n as f64).sqrt();
        assert!(
            (mean - 0.5).abs() < 5.0 * (want_var / n as f64).sqrt(),
            "alpha {alpha}: mean {mean}"
        );
        assert!(
            (var - want_var).abs() < 5.0 * var_se,
            "alpha {alpha}: var {var} vs {want_var}"
        );
    }
}

/// The share of a mask's (centred) power at spatial frequencies |f| <= 1/8 cycle
/// per pixel, by a plain 2-D DFT written here.
fn low_frequency_share(mask: &FourierMask) -> f64 {
    let (h, w) = (mask.height(), mask.width());
    let mean = mask.partner_pixels().iter().filter(|p| **p).count() as f64 / (h * w) as f64;
    let value = |y: usize, x: usize| mask.takes_partner(y, x) as u8 as f64 - mean;
    let tau = std::f64::consts::TAU;
    let (mut low, mut total) = (0.0, 0.0);
    for ky in 0..h {
        for kx in 0..w {
            let (mut re, mut im) = (0.0, 0.0);
            for y in 0..h {
                for x in 0..w {
                    let angle = tau * ((ky * y) as f64 / h as f64 + (kx * x) as f64 / w as f64);
                    re += value(y, x) * angle.cos();
                    im -= value(y, x) * angle.sin();
                }
            }
            let freq = |k: usize, n: usize| k.min(n - k) as f64 / n as f64;
            let power = re * re + im * im;
            total += power;
            if freq(ky, h).hypot(freq(kx, w)) <= 0.125 {
                low += power;
            }
        }
    }
    low / total
}

/// The paper's masks are low-frequency: with decay 3 over half of a mask's power
/// lies at |f| <= 1/8 (5% of the frequencies; over 10 times the white-noise share),
/// and less with decay 1. With decay 0 the noise is white, so the mask
/// is a uniformly random subset: its power spreads evenly over the non-zero
/// frequencies, and the low band holds its share of them (closed form).
#[test]
fn masks_are_low_frequency() {
    let side = 16;
    // Frequencies |f| <= 1/8 other than 0 (the centred mask has no power there).
    let band = (0..side * side)
        .filter(|k| {
            let f = |k: usize| k.min(side - k) as f64 / side as f64;
            let (ky, kx) = (k / side, k % side);
            (ky, kx) != (0, 0) && f(ky).hypot(f(kx)) <= 0.125
        })
        .count();
    let white_share = band as f64 / (side * side - 1) as f64;
    let mean_share = |decay: f64| {
        // Balanced masks only: a mask of 3 pixels says little about its spectrum.
        let draws: Vec<_> = masks(1.0, decay, side, 400, 3)
            .into_iter()
            .filter(|(_, l)| (0.25..=0.75).contains(l))
            .take(40)
            .collect();
        assert_eq!(draws.len(), 40);
        draws
            .iter()
            .map(|(m, _)| low_frequency_share(m))
            .sum::<f64>()
            / 40.0
    };
    let (white, smooth, smoother) = (mean_share(0.0), mean_share(1.0), mean_share(3.0));
    assert!(
        (white - white_share).abs() < 0.05,
        "decay 0: {white} vs {white_share}"
    );
    assert!(
        smoother > 0.5 && smoother > 10.0 * white_share,
        "decay 3: {smoother}"
    );
    assert!(
        white < smooth && smooth < smoother,
        "{white} < {smooth} < {smoother}"
    );
}

/// A mask's boundary (4-neighbour pairs that disagree) is short. For a uniformly
/// random subset of k of n pixels (decay 0) the chance that two given pixels
/// disagree is 2 k (n - k) / (n (n - 1)), exactly; decay 3 masks are blobs, with a
/// far shorter boundary.
#[test]
fn decay_3_masks_are_blobs_and_decay_0_masks_are_random_subsets() {
    let side = 16;
    let n = (side * side) as f64;
    let boundary_ratio = |decay: f64| {
        let (mut observed, mut random) = (0.0, 0.0);
        for (mask, _) in masks(1.0, decay, side, 300, 8) {
            let k = mask.partner_pixels().iter().filter(|p| **p).count() as f64;
            let mut disagree = 0;
            for y in 0..side {
                for x in 0..side {
                    let here = mask.takes_partner(y, x);
                    disagree += (x + 1 < side && here != mask.takes_partner(y, x + 1)) as usize;
                    disagree += (y + 1 < side && here != mask.takes_partner(y + 1, x)) as usize;
                }
            }
            let pairs = (2 * side * (side - 1)) as f64;
            observed += disagree as f64;
            random += pairs * 2.0 * k * (n - k) / (n * (n - 1.0));
        }
        observed / random
    };
    let white = boundary_ratio(0.0);
    assert!(
        (white - 1.0).abs() < 0.03,
        "decay 0: boundary {white} of a random subset's"
    );
    let blobs = boundary_ratio(3.0);
    assert!(
        blobs < 0.3,
        "decay 3: boundary {blobs} of a random subset's"
    );
}

/// Seeded and resumable like every draw: the same seed and index give the same
/// mask, another seed or stream another one; odd and tiny images work.
#[test]
fn masks_are_seeded_resumable_and_any_size() {
    let config = MixConfig::fmix(1.0, 3.0).with_seed(Some(21));
    let (run, resumed) = (config.init().unwrap(), config.init().unwrap());
    let draws: Vec<_> = (0..5)
        .map(|_| run.sample(&[3, 2, 9, 13]).unwrap())
        .collect();
    resumed.resume_at(3);
    assert_eq!(resumed.sample(&[3, 2, 9, 13]).unwrap(), draws[3]);
    assert_ne!(draws[0].fourier_mask(0), draws[1].fourier_mask(0));
    let other_seed = MixConfig::fmix(1.0, 3.0)
        .with_seed(Some(22))
        .init()
        .unwrap();
    assert_ne!(other_seed.sample(&[3, 2, 9, 13]).unwrap(), draws[0]);
    let other_stream = config.clone().with_stream(1).init().unwrap();
    assert_ne!(other_stream.sample(&[3, 2, 9, 13]).unwrap(), draws[0]);
    for (h, w) in [(1, 1), (1, 7), (5, 1), (3, 32)] {
        let params = config.init().unwrap().sample(&[2, 1, h, w]).unwrap();
        let mask = params.fourier_mask(0).unwrap();
        assert_eq!(mask.partner_pixels().len(), h * w);
        assert_eq!(mask.kept_fraction(), params.lambda().of_sample(0));
    }
}

/// Pair mode: both samples of a pair share one mask and lambda, each taking the
/// other's pixels under it; a mixer switching with Mixup draws both kinds; every
/// value is exact (the shared check of `cutmix.rs`).
#[test]
fn pairs_share_a_mask_and_switching_with_mixup_works() {
    let (batch, h, w) = (5, 6, 10);
    let input = special_images(batch, h, w);
    let x = Tensor::<4>::from_data(TensorData::new(input.clone(), [batch, C, h, w]), &device());
    let mixer = MixConfig::fmix(1.0, 3.0)
        .with_mode(MixMode::Pair)
        .with_pairing(Pairing::Flip)
        .with_seed(Some(2))
        .init()
        .unwrap();
    let mixed = mixer.apply(x.clone(), labels(batch)).unwrap();
    let params = mixed.params();
    assert_eq!(params.partners(), &[4, 3, 2, 1, 0]);
    assert_eq!(params.fourier_mask(0), params.fourier_mask(4));
    assert_eq!(
        params.fourier_mask(2),
        None,
        "the middle of an odd batch is kept"
    );
    check_exact(params, &input, &to_vec(mixed.inputs().clone()), h, w);

    let switching = MixConfig::new()
        .with_cutmix_alpha(1.0)
        .with_paste(Paste::FMix)
        .with_mode(MixMode::Elem)
        .with_seed(Some(6))
        .init()
        .unwrap();
    let (mut masked, mut blended) = (0, 0);
    for _ in 0..10 {
        let mixed = switching.apply(x.clone(), labels(batch)).unwrap();
        let params = mixed.params();
        for i in 0..batch {
            masked += params.fourier_mask(i).is_some() as usize;
            blended +=
                (params.fourier_mask(i).is_none() && params.lambda().of_sample(i) < 1.0) as usize;
        }
        check_exact(params, &input, &to_vec(mixed.inputs().clone()), h, w);
    }
    assert!(
        masked > 5 && blended > 5,
        "{masked} masks, {blended} blends"
    );
}

#[test]
fn bad_fmix_configurations_are_refused_naming_the_value() {
    for decay in [-1.0, f64::NAN, f64::INFINITY] {
        let err = MixConfig::fmix(1.0, decay).init().unwrap_err();
        assert!(
            matches!(err, MixError::InvalidDecayPower(d) if d.to_bits() == decay.to_bits()),
            "{err}"
        );
        assert!(err.to_string().contains("fmix_decay_power"), "{err}");
    }
    assert!(
        MixConfig::fmix(1.0, 0.0).init().is_ok(),
        "decay 0 is white noise, allowed"
    );
    for paste in [Paste::FMix, Paste::ResizeMix] {
        let err = MixConfig::cutmix(1.0)
            .with_paste(paste)
            .with_cutmix_minmax(Some((0.2, 0.8)))
            .init()
            .unwrap_err();
        assert_eq!(err, MixError::MinMaxNeedsCutMix { paste });
    }
    // FMix needs images, whatever this batch draws.
    let err = MixConfig::fmix(1.0, 3.0)
        .init()
        .unwrap()
        .sample(&[4, 10])
        .unwrap_err();
    assert_eq!(err, MixError::NotAnImage { dims: vec![4, 10] });
}
