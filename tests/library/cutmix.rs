//! The CutMix family: boxes and masks are pasted, not added. Outside a box (or an
//! FMix mask) every value is the input's, bit for bit (NaN, inf and -0.0 included);
//! inside, the partner's; unmixed samples are untouched. Plus the box statistics
//! against closed forms (FMix's mask statistics are in `fmix.rs`).

use burn::tensor::{Tensor, TensorData};
use burn_mixup::{CutBox, Lambda, MixConfig, MixError, MixMode, MixParams, Pairing, Paste};

use crate::common::*;
use crate::mixer::{C, constant_images, labels};

/// Images whose values are all distinct and include NaN, +inf, -inf and -0.0.
pub fn special_images(batch: usize, height: usize, width: usize) -> Vec<f32> {
    special_values(batch * C * height * width)
}

/// The shared replay check (`common::check_replay`) with blends to 1e-5 of
/// `max(|value|, 1)`. Returns how many boxes and masks were checked.
pub fn check_exact(
    params: &MixParams,
    input: &[f32],
    output: &[f32],
    height: usize,
    width: usize,
) -> usize {
    let seen = check_replay(params, input, output, C, (height, width));
    assert!(
        seen.blend_scaled <= 1e-5,
        "blend error {}",
        seen.blend_scaled
    );
    seen.regions
}

#[test]
fn boxes_are_pasted_bit_for_bit_in_every_mode() {
    let (batch, height, width) = (7, 9, 11);
    let input = special_images(batch, height, width);
    let x = Tensor::<4>::from_data(
        TensorData::new(input.clone(), [batch, C, height, width]),
        &device(),
    );
    let mut boxes = 0;
    for mode in [MixMode::Batch, MixMode::Pair, MixMode::Elem] {
        for (cutmix_only, prob, paste) in [
            (true, 1.0, Paste::CutMix),
            (false, 0.6, Paste::CutMix),
            (true, 1.0, Paste::ResizeMix),
            (false, 0.6, Paste::ResizeMix),
            (true, 1.0, Paste::FMix),
            (false, 0.6, Paste::FMix),
        ] {
            let config = if cutmix_only {
                MixConfig::cutmix(1.0)
            } else {
                MixConfig::new().with_cutmix_alpha(1.0)
            }
            .with_paste(paste);
            let mixer = config
                .with_mode(mode)
                .with_prob(prob)
                .with_seed(Some(31))
                .init()
                .unwrap();
            for _ in 0..6 {
                let batch_out = mixer.apply(x.clone(), labels(batch)).unwrap();
                let output = to_vec(batch_out.inputs().clone());
                boxes += check_exact(batch_out.params(), &input, &output, height, width);
            }
        }
    }
    assert!(boxes > 100, "only {boxes} boxes checked");
}

/// ResizeMix (Qin et al. 2020): the box's side ratio is tau ~ U(low, high) (rounded
/// to whole pixels, the same ratio on both sides), its position uniform, and lambda
/// exactly the kept area. 4,000 draws on 100 x 100 images: mean tau within 0.01 of
/// (low + high) / 2 (sd of U(0.1, 0.8) is 0.20, 5 se = 0.016 .. here 0.01 with the
/// rounding's 0.005), mean top-left row within 5% of its uniform mean.
#[test]
fn resizemix_boxes_follow_the_paper() {
    let (low, high) = (0.1, 0.8);
    let mixer = MixConfig::resizemix(low, high)
        .with_seed(Some(5))
        .init()
        .unwrap();
    let (n, side) = (4000, 100);
    let (mut tau_sum, mut y0_sum, mut y0_expected) = (0.0, 0.0, 0.0);
    for _ in 0..n {
        let params = mixer.sample(&[2, 3, side, side]).unwrap();
        assert!(params.resizes(0));
        let cut = params.cut_box(0).unwrap();
        let (h, w) = (cut.y1 - cut.y0, cut.x1 - cut.x0);
        assert_eq!(h, w, "one ratio for both sides of a square image");
        assert!((10..=80).contains(&h), "side {h}");
        assert!(cut.y1 <= side && cut.x1 <= side);
        assert_eq!(
            params.lambda().of_sample(0),
            1.0 - (h * w) as f64 / (side * side) as f64
        );
        tau_sum += h as f64 / side as f64;
        y0_sum += cut.y0 as f64;
        y0_expected += (side - h) as f64 / 2.0;
    }
    let mean_tau = tau_sum / n as f64;
    assert!((mean_tau - (low + high) / 2.0).abs() < 0.01, "{mean_tau}");
    assert!(
        (y0_sum / y0_expected - 1.0).abs() < 0.05,
        "{y0_sum} vs {y0_expected}"
    );
    // Seeded: the same seed draws the same boxes, a resumed mixer the same next box.
    let again = MixConfig::resizemix(low, high)
        .with_seed(Some(5))
        .init()
        .unwrap();
    let first = again.sample(&[2, 3, 32, 32]).unwrap();
    let fresh = MixConfig::resizemix(low, high)
        .with_seed(Some(5))
        .init()
        .unwrap();
    assert_eq!(fresh.sample(&[2, 3, 32, 32]).unwrap(), first);
    fresh.resume_at(7);
    again.resume_at(7);
    assert_eq!(
        fresh.sample(&[2, 3, 32, 32]).unwrap(),
        again.sample(&[2, 3, 32, 32]).unwrap()
    );
    // The whole image is allowed (high = 1), bad ranges are refused.
    assert!(MixConfig::resizemix(1.0, 1.0).init().is_ok());
    for (low, high) in [(0.0, 0.5), (0.6, 0.5), (0.5, 1.2), (f64::NAN, 0.5)] {
        let err = MixConfig::resizemix(low, high).init().unwrap_err();
        assert!(matches!(err, MixError::InvalidResizeScale { .. }), "{err}");
    }
}

/// A ResizeMix draw holds the partner's whole image: pasting a constant-per-row
/// ramp, the box shows every source row the nearest map picks, in order.
#[test]
fn resizemix_pastes_the_whole_partner_shrunk() {
    let (batch, side) = (2, 16);
    // Sample 1's pixel (y, x) is 100 + y; sample 0 is all 0.
    let mut values = vec![0.0f32; batch * C * side * side];
    for c in 0..C {
        for y in 0..side {
            for x in 0..side {
                values[((C + c) * side + y) * side + x] = 100.0 + y as f32;
            }
        }
    }
    let x = Tensor::<4>::from_data(TensorData::new(values, [batch, C, side, side]), &device());
    let mixer = MixConfig::resizemix(0.5, 0.5)
        .with_pairing(Pairing::Flip)
        .with_seed(Some(1))
        .init()
        .unwrap();
    let mixed = mixer.apply(x, labels(batch)).unwrap();
    let out = to_vec(mixed.inputs().clone());
    let cut = mixed.params().cut_box(0).unwrap();
    assert_eq!((cut.y1 - cut.y0, cut.x1 - cut.x0), (8, 8));
    for u in 0..8 {
        let value = out[(cut.y0 + u) * side + cut.x0 + 3];
        assert_eq!(
            value,
            100.0 + (2 * u) as f32,
            "box row {u} shows source row {}",
            2 * u
        );
    }
    assert_eq!(mixed.lambda(), &Lambda::Batch(0.75));
}

/// Lambda is the kept fraction of each image, and the pasted pixels form one
/// axis-aligned box, the same in every channel.
#[test]
fn lambda_is_the_kept_area_of_each_box() {
    let (batch, height, width) = (6, 9, 13);
    for mode in [MixMode::Batch, MixMode::Elem] {
        let mixer = MixConfig::cutmix(1.0)
            .with_mode(mode)
            .with_seed(Some(17))
            .init()
            .unwrap();
        let mut saw_a_box = false;
        for _ in 0..20 {
            let mixed = mixer
                .apply(constant_images(batch, height, width), labels(batch))
                .unwrap();
            let pixels = to_vec(mixed.inputs().clone());
            let params = mixed.params();
            for i in 0..batch {
                let (own, partner) = ((i + 1) as f32, (params.partners()[i] + 1) as f32);
                let plane = height * width;
                let first_channel = &pixels[i * C * plane..i * C * plane + plane];
                let pasted = first_channel
                    .iter()
                    .filter(|&&v| v == partner && v != own)
                    .count();
                let lambda = params.lambda().of_sample(i);
                if own != partner {
                    let cut = params.cut_box(i).expect("cutmix-only pastes a box");
                    assert_eq!(pasted, cut.area());
                    assert_eq!(lambda, 1.0 - pasted as f64 / plane as f64);
                    saw_a_box |= pasted > 0;
                }
            }
        }
        assert!(saw_a_box, "{mode:?}");
    }
}

/// Pair mode pastes the same box both ways: each partner gets the other's pixels.
#[test]
fn pair_mode_swaps_the_same_box() {
    let (batch, h, w) = (6, 8, 8);
    let mixer = MixConfig::cutmix(1.0)
        .with_mode(MixMode::Pair)
        .with_pairing(Pairing::Flip)
        .with_seed(Some(2))
        .init()
        .unwrap();
    for _ in 0..10 {
        let mixed = mixer
            .apply(constant_images(batch, h, w), labels(batch))
            .unwrap();
        let params = mixed.params();
        for i in 0..batch {
            let j = params.partners()[i];
            assert_eq!(j, batch - 1 - i);
            assert_eq!(params.cut_box(i), params.cut_box(j));
        }
    }
}

/// With lambda ~ Beta(1, 1) the clipped box covers on average
/// E[(r - r^2/4)^2] with r = sqrt(1 - lambda), u = 1 - lambda ~ U(0, 1):
/// E[u - u^1.5 / 2 + u^2 / 16] = 1/2 - 1/5 + 1/48 = 0.3208. 4,000 draws on a
/// 1000 x 1000 image (integer truncation negligible): sd < 0.3, 5 se < 0.025.
#[test]
fn mean_box_area_matches_the_closed_form() {
    let mixer = MixConfig::cutmix(1.0).with_seed(Some(99)).init().unwrap();
    let n = 4000;
    let mean_area: f64 = (0..n)
        .map(|_| {
            1.0 - mixer
                .sample(&[1, 1, 1000, 1000])
                .unwrap()
                .lambda()
                .of_sample(0)
        })
        .sum::<f64>()
        / n as f64;
    let expected = 0.5 - 0.2 + 1.0 / 48.0;
    assert!(
        (mean_area - expected).abs() < 0.025,
        "{mean_area} vs {expected}"
    );
}

/// On a small image the box's integer sides decide lambda's distribution: at 8x8
/// timm 1.0.31's kept area has mean 0.7198 and leaves 1.5% of batches unmixed
/// (`tests/fixtures/timm_boxes.json`, 200,000 draws by `make_timm_boxes.py`); the
/// CutMix paper's even-sided boxes give 0.7675 and 6.4%. 20,000 draws here: the
/// mean's standard error is 0.0013 (sd 0.178), the share's 0.0009; 5 se each.
#[test]
fn kept_area_on_8x8_images_is_distributed_as_timms() {
    let fixture: serde_json::Value =
        serde_json::from_str(include_str!("../fixtures/timm_boxes.json")).unwrap();
    let timm = &fixture["area_8x8"];
    let (mean, sd, unmixed) = (
        timm["mean"].as_f64().unwrap(),
        timm["sd"].as_f64().unwrap(),
        timm["share_unmixed"].as_f64().unwrap(),
    );
    let mixer = MixConfig::cutmix(1.0).with_seed(Some(8)).init().unwrap();
    let n = 20_000;
    let kept: Vec<f64> = (0..n)
        .map(|_| mixer.sample(&[64, 1, 8, 8]).unwrap().lambda().of_sample(0))
        .collect();
    let ours = kept.iter().sum::<f64>() / n as f64;
    let ours_unmixed = kept.iter().filter(|&&k| k == 1.0).count() as f64 / n as f64;
    let se = |sd: f64| sd / (n as f64).sqrt();
    assert!(
        (ours - mean).abs() < 5.0 * se(sd),
        "mean kept area {ours} vs timm's {mean}"
    );
    let share_sd = (unmixed * (1.0 - unmixed)).sqrt();
    assert!(
        (ours_unmixed - unmixed).abs() < 5.0 * se(share_sd),
        "unmixed share {ours_unmixed} vs timm's {unmixed}"
    );
}

#[test]
fn minmax_bounds_box_sides_and_lambda_follows_the_box() {
    let (height, width) = (40, 40);
    let mixer = MixConfig::cutmix(0.0)
        .with_cutmix_minmax(Some((0.25, 0.5)))
        .with_correct_lambda(false)
        .with_seed(Some(3))
        .init()
        .unwrap();
    for _ in 0..50 {
        let params = mixer.sample(&[2, 1, height, width]).unwrap();
        let cut: CutBox = params.cut_box(0).expect("minmax alone turns CutMix on");
        assert!((10..20).contains(&(cut.y1 - cut.y0)) && (10..20).contains(&(cut.x1 - cut.x0)));
        assert_eq!(
            params.lambda(),
            &Lambda::Batch(cut.kept_fraction(height, width))
        );
    }
}

/// Without `correct_lambda` the same draw keeps the sampled lambda; with it, the
/// kept area of the same box.
#[test]
fn uncorrected_lambda_is_the_sampled_value() {
    let config = MixConfig::cutmix(1.0).with_seed(Some(8));
    let corrected = config.init().unwrap();
    let raw = config.clone().with_correct_lambda(false).init().unwrap();
    let mut differ = 0;
    for _ in 0..100 {
        let (a, b) = (
            corrected.sample(&[2, 1, 31, 29]).unwrap(),
            raw.sample(&[2, 1, 31, 29]).unwrap(),
        );
        let cut = a.cut_box(0).unwrap();
        assert_eq!(b.cut_box(0), Some(cut));
        assert_eq!(a.lambda(), &Lambda::Batch(cut.kept_fraction(31, 29)));
        differ += (a.lambda() != b.lambda()) as usize;
    }
    assert!(
        differ > 90,
        "clipping changes lambda in most draws: {differ}"
    );
}
