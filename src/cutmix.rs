//! CutMix (Yun et al., 2019): paste a box from the paired image.
//!
//! Pure box helpers that mirror timm's `rand_bbox`, `rand_bbox_minmax` and
//! `cutmix_bbox_and_lam`, with an explicit generator instead of NumPy's global one.
//! The tensor side lives in [`MixParams`](crate::MixParams), which pastes every box
//! of a batch with one selection (a host-built `[B, 1, H, W]` boolean mask), so
//! pixels outside a box are the input's bit for bit (NaN, inf and -0.0 included) and
//! pixels inside are the partner's bit for bit.

use rand::{Rng, RngExt};

use crate::error::MixError;

/// A box `[y0, y1) x [x0, x1)` in pixel coordinates, already clipped to the image.
///
/// ```
/// use burn_mixup::CutBox;
/// let b = CutBox { y0: 2, y1: 6, x0: 0, x1: 3 };
/// assert_eq!(b.area(), 12);
/// assert!(b.contains(2, 0) && !b.contains(6, 0));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CutBox {
    /// First row inside the box.
    pub y0: usize,
    /// First row below the box.
    pub y1: usize,
    /// First column inside the box.
    pub x0: usize,
    /// First column right of the box.
    pub x1: usize,
}

impl CutBox {
    /// Number of pixels in the box.
    ///
    /// ```
    /// assert_eq!(burn_mixup::CutBox { y0: 0, y1: 0, x0: 0, x1: 5 }.area(), 0);
    /// ```
    pub fn area(&self) -> usize {
        (self.y1 - self.y0) * (self.x1 - self.x0)
    }

    /// Whether pixel `(y, x)` lies in the box.
    ///
    /// ```
    /// assert!(burn_mixup::CutBox { y0: 0, y1: 1, x0: 0, x1: 1 }.contains(0, 0));
    /// ```
    pub fn contains(&self, y: usize, x: usize) -> bool {
        (self.y0..self.y1).contains(&y) && (self.x0..self.x1).contains(&x)
    }

    /// The fraction of an `height x width` image that lies outside the box: the
    /// lambda that matches the pasted area exactly.
    ///
    /// ```
    /// let b = burn_mixup::CutBox { y0: 0, y1: 2, x0: 0, x1: 2 };
    /// assert_eq!(b.kept_fraction(4, 4), 0.75);
    /// ```
    pub fn kept_fraction(&self, height: usize, width: usize) -> f64 {
        1.0 - self.area() as f64 / (height * width) as f64
    }
}

/// Checks CutMix box-size bounds: `0 < min <= max <= 1`.
pub(crate) fn check_minmax((min, max): (f64, f64)) -> Result<(), MixError> {
    if min.is_finite() && max.is_finite() && 0.0 < min && min <= max && max <= 1.0 {
        Ok(())
    } else {
        Err(MixError::InvalidMinMax { min, max })
    }
}

/// Uniform integer in `[low, high)`, or `low` when the range is empty (where NumPy's
/// `randint` would raise).
fn randint(rng: &mut impl Rng, low: i64, high: i64) -> i64 {
    if high > low {
        rng.random_range(low..high)
    } else {
        low
    }
}

/// timm's `rand_bbox` (timm 1.0.31): side ratio `sqrt(1 - lambda)`, a uniformly drawn
/// centre, then clipped to the image.
pub(crate) fn rand_bbox(height: usize, width: usize, lambda: f64, rng: &mut impl Rng) -> CutBox {
    let cy = randint(rng, 0, height as i64);
    let cx = randint(rng, 0, width as i64);
    bbox_at(height, width, lambda, cy, cx)
}

/// The box of `rand_bbox` around the centre `(cy, cx)`: sides `cut = int(side *
/// sqrt(1 - lambda))`, from `c - cut / 2` to `c + (cut + 1) / 2` (integer division),
/// clipped to the image. The unclipped box is `cut` wide, odd or even, as in timm
/// 1.0.31; the CutMix paper's code and torchvision end at `c + cut / 2`, one pixel
/// short on odd sides (an 8x8 image then never gets a box wider than 6).
fn bbox_at(height: usize, width: usize, lambda: f64, cy: i64, cx: i64) -> CutBox {
    let ratio = (1.0 - lambda).max(0.0).sqrt();
    let (h, w) = (height as i64, width as i64);
    let cut_h = (height as f64 * ratio) as i64;
    let cut_w = (width as f64 * ratio) as i64;
    CutBox {
        y0: (cy - cut_h / 2).clamp(0, h) as usize,
        y1: (cy + (cut_h + 1) / 2).clamp(0, h) as usize,
        x0: (cx - cut_w / 2).clamp(0, w) as usize,
        x1: (cx + (cut_w + 1) / 2).clamp(0, w) as usize,
    }
}

/// timm's `rand_bbox_minmax`: box sides drawn uniformly in
/// `[min * side, max * side)` (the lower bound when that range is empty, where
/// NumPy would raise), placed uniformly with its top-left corner in
/// `[0, side - cut]` inclusive, as timm 1.0.31's `randint(0, img - cut + 1)`: a box
/// can touch the last row and column. Never clipped.
pub(crate) fn rand_bbox_minmax(
    height: usize,
    width: usize,
    minmax: (f64, f64),
    rng: &mut impl Rng,
) -> CutBox {
    bbox_minmax_with(height, width, minmax, |low, high| randint(rng, low, high))
}

/// [`rand_bbox_minmax`] with its four draws (cut height, cut width, top, left) taken
/// from `randint(low, high)`, `[low, high)` as NumPy's: the tests force them.
fn bbox_minmax_with(
    height: usize,
    width: usize,
    (min, max): (f64, f64),
    mut randint: impl FnMut(i64, i64) -> i64,
) -> CutBox {
    let (h, w) = (height as i64, width as i64);
    let cut_h = randint((height as f64 * min) as i64, (height as f64 * max) as i64);
    let cut_w = randint((width as f64 * min) as i64, (width as f64 * max) as i64);
    let y0 = randint(0, h - cut_h + 1);
    let x0 = randint(0, w - cut_w + 1);
    CutBox {
        y0: y0 as usize,
        y1: (y0 + cut_h) as usize,
        x0: x0 as usize,
        x1: (x0 + cut_w) as usize,
    }
}

/// timm's `cutmix_bbox_and_lam`: draws the box for a sampled `lambda` and returns
/// it with the lambda to report. With `correct_lambda` (or `minmax`), that is the
/// kept fraction of the image after clipping, `1 - area / (H * W)`; otherwise the
/// sampled value.
pub(crate) fn cutmix_bbox_and_lambda(
    height: usize,
    width: usize,
    lambda: f64,
    minmax: Option<(f64, f64)>,
    correct_lambda: bool,
    rng: &mut impl Rng,
) -> (CutBox, f64) {
    let cut = match minmax {
        Some(minmax) => rand_bbox_minmax(height, width, minmax, rng),
        None => rand_bbox(height, width, lambda, rng),
    };
    if correct_lambda || minmax.is_some() {
        (cut, cut.kept_fraction(height, width))
    } else {
        (cut, lambda)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn rng(seed: u64) -> rand::rngs::Xoshiro256PlusPlus {
        rand::rngs::Xoshiro256PlusPlus::seed_from_u64(seed)
    }

    /// Every box of `tests/fixtures/timm_boxes.json` (made by `make_timm_boxes.py`
    /// beside it: timm 1.0.31's `cutmix_bbox_and_lam` with the centre forced), and
    /// its corrected lambda, exactly.
    #[test]
    fn boxes_are_timms_for_every_centre() {
        let fixture: serde_json::Value =
            serde_json::from_str(include_str!("../tests/fixtures/timm_boxes.json")).unwrap();
        let cases = fixture["boxes"].as_array().unwrap();
        assert!(cases.len() > 1000);
        for case in cases {
            let n: Vec<f64> = case
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap())
                .collect();
            let (height, width, lambda) = (n[0] as usize, n[1] as usize, n[2]);
            let cut = bbox_at(height, width, lambda, n[3] as i64, n[4] as i64);
            let expected = [n[5], n[6], n[7], n[8]].map(|v| v as usize);
            assert_eq!([cut.y0, cut.y1, cut.x0, cut.x1], expected, "{case}");
            // One ulp: serde_json's default float parser may round the last bit.
            let kept = cut.kept_fraction(height, width);
            assert!((kept - n[9]).abs() <= f64::EPSILON, "{case}: {kept}");
        }
    }

    #[test]
    fn minmax_bounds_are_checked() {
        assert!(check_minmax((0.2, 0.8)).is_ok());
        assert!(check_minmax((1.0, 1.0)).is_ok());
        for (min, max) in [(0.0, 0.8), (0.9, 0.8), (0.2, 1.5), (f64::NAN, 0.5)] {
            assert!(check_minmax((min, max)).is_err(), "({min}, {max})");
        }
    }

    #[test]
    fn rand_bbox_side_follows_lambda_and_stays_inside() {
        for seed in 0..200 {
            let b = rand_bbox(32, 32, 0.75, &mut rng(seed));
            // cut = 16, half-sides 8: at most 16 x 16 once clipped.
            assert!(b.y0 <= b.y1 && b.y1 <= 32 && b.x0 <= b.x1 && b.x1 <= 32);
            assert!(b.y1 - b.y0 <= 16 && b.x1 - b.x0 <= 16);
        }
        // lambda 1: an empty box.
        assert_eq!(rand_bbox(8, 8, 1.0, &mut rng(1)).area(), 0);
    }

    #[test]
    fn rand_bbox_minmax_sides_are_in_bounds_and_unclipped() {
        let (mut bottom, mut right) = (0, 0);
        for seed in 0..2000 {
            let b = rand_bbox_minmax(8, 8, (0.25, 0.5), &mut rng(seed));
            assert!((2..4).contains(&(b.y1 - b.y0)) && (2..4).contains(&(b.x1 - b.x0)));
            assert!(b.y1 <= 8 && b.x1 <= 8);
            bottom += usize::from(b.y1 == 8);
            right += usize::from(b.x1 == 8);
        }
        // As timm's: the last row and column are reached (0.2's boxes never did).
        // Exactly: P(y1 = 8) = (1/7 + 1/6) / 2 for cut 2 or 3, so about 310 of 2000.
        assert!(
            (200..420).contains(&bottom) && (200..420).contains(&right),
            "{bottom} {right}"
        );
    }

    /// The `cutmix_minmax` box of timm 1.0.31 for forced draws (every cut size in
    /// range, placements at both ends and in the middle): the same four `randint`
    /// ranges asked for, the same box (`tests/fixtures/timm_boxes.json`, `minmax`).
    #[test]
    fn minmax_boxes_and_draw_ranges_are_timms() {
        let fixture: serde_json::Value =
            serde_json::from_str(include_str!("../tests/fixtures/timm_boxes.json")).unwrap();
        let cases = fixture["minmax"].as_array().unwrap();
        assert!(cases.len() > 2000);
        let ints = |v: &serde_json::Value| -> Vec<i64> {
            v.as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_i64().unwrap())
                .collect()
        };
        for case in cases {
            let (height, width) = (case[0].as_u64().unwrap(), case[1].as_u64().unwrap());
            let minmax = (case[2].as_f64().unwrap(), case[3].as_f64().unwrap());
            let (draws, expected) = (ints(&case[5]), ints(&case[6]));
            let mut asked = Vec::new();
            let cut = bbox_minmax_with(height as usize, width as usize, minmax, |low, high| {
                asked.push(serde_json::json!([low, high]));
                draws[asked.len() - 1]
            });
            assert_eq!(serde_json::Value::from(asked), case[4], "{case}");
            let got = [cut.y0, cut.y1, cut.x0, cut.x1].map(|v| v as i64);
            assert_eq!(got[..], expected[..], "{case}");
        }
    }

    #[test]
    fn corrected_lambda_is_the_kept_fraction() {
        for seed in 0..50 {
            let (cut, lambda) = cutmix_bbox_and_lambda(32, 32, 0.6, None, true, &mut rng(seed));
            assert_eq!(lambda, cut.kept_fraction(32, 32));
            let (_, raw) = cutmix_bbox_and_lambda(32, 32, 0.6, None, false, &mut rng(seed));
            assert_eq!(raw, 0.6);
        }
    }
}
