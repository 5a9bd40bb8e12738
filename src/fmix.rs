//! FMix (Harris et al. 2020, *FMix: Enhancing Mixed Sample Data Augmentation*):
//! masks cut from low-frequency Fourier noise.
//!
//! A mask is drawn as the paper's reference code (`fmix.py`) draws it:
//! 1. a random complex spectrum over the image's frequencies (the half plane of a
//!    real 2-D FFT), each coefficient `N(0, 1) + i N(0, 1)` scaled by
//!    `1 / max(f, 1 / max(H, W))^decay_power`, `f` the frequency's magnitude in
//!    cycles per pixel, so that large `decay_power` leaves only low frequencies;
//! 2. an inverse real 2-D FFT back to a smooth `H x W` noise image;
//! 3. the `num` highest values of the noise keep the sample's own pixels, the others
//!    receive the partner's. `num` is `share * H * W` rounded up or down with equal
//!    chance (as the reference does), `share ~ Beta(alpha, alpha)`.
//!
//! The reported lambda is `num / (H W)`, the mask's exact mean, so the targets weigh
//! exactly the pixels each image contributes.
//!
//! The noise is built on the host with `rustfft` (f64) and the flags sent once per
//! batch. Measured on 2 cores (`benches/losses.rs`, BENCHMARKS.md): 28 us for one
//! 32 x 32 mask and 2.9 ms for 128, against 0.43 ms and 24 ms for the same masks
//! built with Burn tensors on burn-ndarray (the inverse DFT as matrix products, a
//! sort for the threshold). The host also ranks ties exactly, so lambda is exact.

use std::cell::RefCell;
use std::cmp::Ordering;
use std::rc::Rc;

use rand::{Rng, RngExt};
use rand_distr::StandardNormal;
use rustfft::FftPlanner;
use rustfft::num_complex::Complex64;

/// One FMix mask: which pixels of an `H x W` image take the partner's values.
///
/// Read it from a draw with [`MixParams::fourier_mask`](crate::MixParams::fourier_mask).
///
/// ```
/// use burn_mixup::MixConfig;
///
/// let mixer = MixConfig::fmix(1.0, 3.0).with_seed(Some(4)).init()?;
/// let params = mixer.sample(&[2, 3, 16, 16])?;
/// let mask = params.fourier_mask(0).expect("FMix masks every mixed sample");
/// let taken = mask.partner_pixels().iter().filter(|&&p| p).count();
/// // Lambda is the mask's exact mean: the share of pixels the sample keeps.
/// assert_eq!(params.lambda().of_sample(0), 1.0 - taken as f64 / 256.0);
/// assert_eq!(mask.kept_fraction(), params.lambda().of_sample(0));
/// # Ok::<(), burn_mixup::MixError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct FourierMask {
    height: usize,
    width: usize,
    /// Row-major: true where the partner's pixel is taken.
    partner: Vec<bool>,
}

impl FourierMask {
    /// Draws a mask for an `height x width` image keeping about `share` of the
    /// image's own pixels (see the module's steps). Both sides at least 1, `share`
    /// in [0, 1].
    pub(crate) fn draw(
        height: usize,
        width: usize,
        decay_power: f64,
        share: f64,
        rng: &mut impl Rng,
    ) -> Self {
        let noise = low_frequency_noise(height, width, decay_power, rng);
        let pixels = height * width;
        let exact = share * pixels as f64;
        // The reference's `ceil if random() > 0.5 else floor`.
        let kept = if rng.random::<f64>() > 0.5 {
            exact.ceil()
        } else {
            exact.floor()
        };
        let kept = (kept as usize).min(pixels);
        Self {
            height,
            width,
            partner: partner_pixels(&noise, kept),
        }
    }

    /// Image height the mask was drawn for.
    ///
    /// ```
    /// let params = burn_mixup::MixConfig::fmix(1.0, 3.0).init()?.sample(&[2, 1, 6, 10])?;
    /// let mask = params.fourier_mask(0).unwrap();
    /// assert_eq!((mask.height(), mask.width()), (6, 10));
    /// # Ok::<(), burn_mixup::MixError>(())
    /// ```
    pub fn height(&self) -> usize {
        self.height
    }

    /// Image width the mask was drawn for.
    ///
    /// ```
    /// let params = burn_mixup::MixConfig::fmix(1.0, 3.0).init()?.sample(&[2, 1, 6, 10])?;
    /// assert_eq!(params.fourier_mask(1).unwrap().width(), 10);
    /// # Ok::<(), burn_mixup::MixError>(())
    /// ```
    pub fn width(&self) -> usize {
        self.width
    }

    /// Row-major `H x W` flags: `true` where the sample takes its partner's pixel.
    ///
    /// ```
    /// let params = burn_mixup::MixConfig::fmix(1.0, 3.0).init()?.sample(&[2, 1, 4, 4])?;
    /// assert_eq!(params.fourier_mask(0).unwrap().partner_pixels().len(), 16);
    /// # Ok::<(), burn_mixup::MixError>(())
    /// ```
    pub fn partner_pixels(&self) -> &[bool] {
        &self.partner
    }

    /// Whether pixel `(y, x)` takes the partner's value.
    ///
    /// # Panics
    /// If `(y, x)` is outside the image.
    ///
    /// ```
    /// let params = burn_mixup::MixConfig::fmix(1.0, 3.0).init()?.sample(&[2, 1, 4, 4])?;
    /// let mask = params.fourier_mask(0).unwrap();
    /// assert_eq!(mask.takes_partner(1, 2), mask.partner_pixels()[1 * 4 + 2]);
    /// # Ok::<(), burn_mixup::MixError>(())
    /// ```
    pub fn takes_partner(&self, y: usize, x: usize) -> bool {
        assert!(
            y < self.height && x < self.width,
            "pixel ({y}, {x}) outside the mask"
        );
        self.partner[y * self.width + x]
    }

    /// The share of pixels the sample keeps: the mask's exact mean, FMix's lambda.
    ///
    /// ```
    /// let params = burn_mixup::MixConfig::fmix(1.0, 3.0).init()?.sample(&[2, 1, 8, 8])?;
    /// let mask = params.fourier_mask(0).unwrap();
    /// assert_eq!(mask.kept_fraction() * 64.0, mask.partner_pixels().iter().filter(|p| !**p).count() as f64);
    /// # Ok::<(), burn_mixup::MixError>(())
    /// ```
    pub fn kept_fraction(&self) -> f64 {
        let kept = self.partner.iter().filter(|&&p| !p).count();
        kept as f64 / self.partner.len() as f64
    }
}

/// The frequency of FFT bin `k` of `n`, in cycles per sample (numpy's `fftfreq`).
fn fft_frequency(k: usize, n: usize) -> f64 {
    if k < n.div_ceil(2) {
        k as f64 / n as f64
    } else {
        (k as f64 - n as f64) / n as f64
    }
}

/// The last amplitude table a thread built, with its `(height, width, decay bits)`.
type AmplitudeCache = Option<((usize, usize, u64), Rc<Vec<f64>>)>;

thread_local! {
    // Plans are cached by size; loader threads each keep their own.
    static PLANNER: RefCell<FftPlanner<f64>> = RefCell::new(FftPlanner::new());
    // A batch draws its masks at one size: the powers are computed once per batch,
    // not once per mask (a third of a 32 x 32 mask's time otherwise).
    static AMPLITUDES: RefCell<AmplitudeCache> = const { RefCell::new(None) };
}

/// `1 / max(f, 1 / max(H, W))^decay` for every bin of the half spectrum, row-major
/// `H x (W / 2 + 1)`.
fn amplitudes(height: usize, width: usize, decay_power: f64) -> Rc<Vec<f64>> {
    let key = (height, width, decay_power.to_bits());
    AMPLITUDES.with(|cache| {
        let mut cache = cache.borrow_mut();
        if let Some((cached, table)) = cache.as_ref()
            && *cached == key
        {
            return Rc::clone(table);
        }
        let half = width / 2 + 1;
        let lowest = 1.0 / height.max(width) as f64;
        let table: Vec<f64> = (0..height * half)
            .map(|bin| {
                let fy = fft_frequency(bin / half, height);
                let fx = (bin % half) as f64 / width as f64;
                1.0 / (fx * fx + fy * fy).sqrt().max(lowest).powf(decay_power)
            })
            .collect();
        let table = Rc::new(table);
        *cache = Some((key, Rc::clone(&table)));
        table
    })
}

/// The smooth noise image, row-major `H x W`: the real inverse 2-D FFT of a random
/// half-plane spectrum whose amplitude falls as `1 / max(f, 1 / max(H, W))^decay`.
/// Normals are drawn in the reference's order (row, column, real then imaginary).
pub(crate) fn low_frequency_noise(
    height: usize,
    width: usize,
    decay_power: f64,
    rng: &mut impl Rng,
) -> Vec<f64> {
    let half = width / 2 + 1;
    let scales = amplitudes(height, width, decay_power);
    let mut spectrum: Vec<Complex64> = scales
        .iter()
        .map(|scale| {
            let re: f64 = rng.sample(StandardNormal);
            let im: f64 = rng.sample(StandardNormal);
            Complex64::new(scale * re, scale * im)
        })
        .collect();
    PLANNER.with(|planner| {
        let mut planner = planner.borrow_mut();
        // Along the rows' axis (complex to complex), one column at a time.
        let columns = planner.plan_fft_inverse(height);
        let mut column = vec![Complex64::new(0.0, 0.0); height];
        for kx in 0..half {
            for ky in 0..height {
                column[ky] = spectrum[ky * half + kx];
            }
            columns.process(&mut column);
            for y in 0..height {
                spectrum[y * half + kx] = column[y];
            }
        }
        // Along each row, complex to real: the full Hermitian row, whose real part is
        // the signal. As numpy's `irfft`, the imaginary parts of the zero and
        // Nyquist bins are dropped (they have no Hermitian partner).
        let rows = planner.plan_fft_inverse(width);
        let mut row = vec![Complex64::new(0.0, 0.0); width];
        let mut noise = vec![0.0; height * width];
        for y in 0..height {
            let half_row = &spectrum[y * half..(y + 1) * half];
            row[0] = Complex64::new(half_row[0].re, 0.0);
            for k in 1..half {
                if 2 * k == width {
                    row[k] = Complex64::new(half_row[k].re, 0.0);
                } else {
                    row[k] = half_row[k];
                    row[width - k] = half_row[k].conj();
                }
            }
            rows.process(&mut row);
            for (value, z) in noise[y * width..(y + 1) * width].iter_mut().zip(&row) {
                *value = z.re;
            }
        }
        noise
    })
}

/// Flags every pixel but the `kept` highest of `noise` (ties: the lower index
/// ranks higher, so the result never depends on the sort's internals).
fn partner_pixels(noise: &[f64], kept: usize) -> Vec<bool> {
    let mut order: Vec<usize> = (0..noise.len()).collect();
    let rank =
        |a: &usize, b: &usize| -> Ordering { noise[*b].total_cmp(&noise[*a]).then(a.cmp(b)) };
    if kept > 0 && kept < noise.len() {
        order.select_nth_unstable_by(kept - 1, rank);
    }
    let mut partner = vec![true; noise.len()];
    for &i in &order[..kept] {
        partner[i] = false;
    }
    partner
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::Xoshiro256PlusPlus;

    /// The noise equals the inverse DFT written out from its definition, with the
    /// same normals: `sum_k w_kx Re(S[ky, kx] e^{2 pi i (ky y / H + kx x / W)})`,
    /// `w` 1 at the zero and Nyquist columns (real part only) and 2 elsewhere.
    #[test]
    fn noise_is_the_inverse_dft_of_the_scaled_spectrum() {
        for (height, width, decay) in [(6, 8, 3.0), (5, 7, 1.5), (1, 4, 2.0), (4, 1, 0.0)] {
            let mut rng = Xoshiro256PlusPlus::seed_from_u64(9);
            let noise = low_frequency_noise(height, width, decay, &mut rng);
            let mut rng = Xoshiro256PlusPlus::seed_from_u64(9);
            let half = width / 2 + 1;
            let lowest = 1.0 / height.max(width) as f64;
            let mut spectrum = Vec::new();
            for ky in 0..height {
                for kx in 0..half {
                    let fy = fft_frequency(ky, height);
                    let f = ((kx as f64 / width as f64).powi(2) + fy * fy).sqrt();
                    let scale = f.max(lowest).powf(-decay);
                    let re: f64 = rng.sample(StandardNormal);
                    let im: f64 = rng.sample(StandardNormal);
                    spectrum.push((scale * re, scale * im));
                }
            }
            let tau = std::f64::consts::TAU;
            // Rounding is relative to the noise's size, not to each value's.
            let size = noise.iter().fold(1.0f64, |m, v| m.max(v.abs()));
            for y in 0..height {
                for x in 0..width {
                    let mut want = 0.0;
                    for ky in 0..height {
                        for kx in 0..half {
                            let (re, im) = spectrum[ky * half + kx];
                            let edge = kx == 0 || 2 * kx == width;
                            // Zero/Nyquist columns: the imaginary part is dropped
                            // after the first axis's transform, as numpy does.
                            let angle_x = tau * (kx * x) as f64 / width as f64;
                            let angle_y = tau * (ky * y) as f64 / height as f64;
                            if edge {
                                // Re(sum_ky S e^{i ay}) * cos(ax) (sin(ax) = 0 at
                                // Nyquist; ax = 0 at the zero column).
                                let column_re = re * angle_y.cos() - im * angle_y.sin();
                                want += column_re * angle_x.cos();
                            } else {
                                let angle = angle_x + angle_y;
                                want += 2.0 * (re * angle.cos() - im * angle.sin());
                            }
                        }
                    }
                    let got = noise[y * width + x];
                    assert!(
                        (got - want).abs() < 1e-11 * size,
                        "{height}x{width} ({y}, {x}): {got} vs {want}"
                    );
                }
            }
        }
    }

    #[test]
    fn the_kept_pixels_are_the_highest_and_ties_go_to_the_lower_index() {
        let noise = [0.5, 2.0, -1.0, 2.0, 0.5, 0.5];
        let flags = |kept| partner_pixels(&noise, kept);
        assert_eq!(flags(0), vec![true; 6]);
        assert_eq!(flags(1), vec![true, false, true, true, true, true]);
        assert_eq!(flags(2), vec![true, false, true, false, true, true]);
        assert_eq!(flags(3), vec![false, false, true, false, true, true]);
        assert_eq!(flags(5), vec![false, false, true, false, false, false]);
        assert_eq!(flags(6), vec![false; 6]);
    }
}
