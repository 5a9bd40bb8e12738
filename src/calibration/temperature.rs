//! [`TemperatureScaling`] (Guo et al. 2017): one scalar `T > 0` that divides the
//! logits, fitted on held-out logits by minimising the NLL.

use burn::tensor::{Int, Tensor};

use super::{check_logits, read_back};
use crate::error::CalibrationError;

/// The searched range of temperatures: wide enough for any model worth scaling
/// (label smoothing leaves T near 0.5-0.8, an over-fitted network 2-10).
const LOWEST: f64 = 1e-3;
const HIGHEST: f64 = 1e3;

/// Temperature scaling: `softmax(z / T)` with the `T` that minimises the NLL of
/// held-out logits. It changes confidence, never the top-1 prediction.
///
/// **How it is fitted.** With `b = 1/T`, the NLL `mean_i [lse(b z_i) - b z_(i,y)]` is
/// convex in `b` (a log-sum-exp of linear functions), so its derivative
/// `mean_i [E_p(b)[z_i] - z_(i,y)]` rises through zero once. The fit bisects `log T`
/// on the sign of that derivative over `T` in `[1e-3, 1e3]` until the interval stops
/// shrinking in f64: no start point, no step size, and the exact minimum (the
/// fixtures check it against a dense float64 search to 1e-6). The reference code of
/// Guo et al. (`gpleiss/temperature_scaling`: `T = 1.5`, `LBFGS(lr=0.01,
/// max_iter=50)`) stops far from the minimum on badly calibrated logits: 1.87 where
/// the minimum lies at 5.0, 1.23 where it lies at 0.25
/// (`tests/fixtures/calibration.json`).
///
/// A minimum outside the range is an error, not a clamped value: separated held-out
/// logits (every sample right, the NLL falling as `T -> 0`) or logits with no signal.
///
/// ```
/// use burn::tensor::{Device, Tensor};
/// use burn_mixup::{Predictions, TemperatureScaling};
///
/// // An over-confident model: margins of 6 at 75% accuracy.
/// let logits = [6.0, 0.0, 6.0, 0.0, 6.0, 0.0, 0.0, 6.0];
/// let targets = [0, 0, 0, 0];
/// let scaling = TemperatureScaling::fit(&logits, 2, &targets)?;
/// assert!(scaling.temperature() > 1.0);
/// // At the fitted T the confidence equals the accuracy: sigmoid(6 / T) = 0.75.
/// let scaled = scaling.apply_host(&logits);
/// let p = Predictions::from_logits(&scaled, 2, &targets)?;
/// assert!((p.mean_confidence() - 0.75).abs() < 1e-9);
/// // On a device: logits / T.
/// let device = Device::flex();
/// let z = scaling.apply(Tensor::<2>::from_floats([[6.0, 0.0]], &device));
/// assert!((z.try_into_vec_as::<f32>()?[0] - 6.0 / scaling.temperature() as f32).abs() < 1e-6);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TemperatureScaling {
    temperature: f64,
}

impl TemperatureScaling {
    /// A given temperature (one fitted earlier and saved, say).
    ///
    /// # Errors
    /// [`CalibrationError::InvalidTemperature`] unless `temperature` is finite and > 0.
    ///
    /// ```
    /// use burn_mixup::{CalibrationError, TemperatureScaling};
    /// assert_eq!(TemperatureScaling::new(1.5)?.temperature(), 1.5);
    /// assert_eq!(TemperatureScaling::new(0.0), Err(CalibrationError::InvalidTemperature(0.0)));
    /// # Ok::<(), CalibrationError>(())
    /// ```
    pub fn new(temperature: f64) -> Result<Self, CalibrationError> {
        if temperature.is_finite() && temperature > 0.0 {
            Ok(Self { temperature })
        } else {
            Err(CalibrationError::InvalidTemperature(temperature))
        }
    }

    /// Fits `T` on held-out logits (`targets.len()` rows of `num_classes`, row-major).
    /// Never fit on the test set: that reports a calibration no one can have.
    ///
    /// # Errors
    /// The input errors of [`Predictions::from_logits`](crate::Predictions::from_logits),
    /// and [`CalibrationError::NoTemperatureMinimum`].
    ///
    /// ```
    /// use burn_mixup::{CalibrationError, TemperatureScaling};
    /// // Every sample right with a margin: the NLL falls all the way to T -> 0.
    /// let err = TemperatureScaling::fit(&[5.0, 0.0, 0.0, 5.0], 2, &[0, 1]).unwrap_err();
    /// assert!(matches!(err, CalibrationError::NoTemperatureMinimum { bound, .. } if bound == 1e-3));
    /// ```
    pub fn fit<L, T>(
        logits: &[L],
        num_classes: usize,
        targets: &[T],
    ) -> Result<Self, CalibrationError>
    where
        L: Copy + Into<f64>,
        T: Copy + TryInto<i64>,
    {
        // The same checks as the measures, through the same code.
        let classes = check_logits(logits, num_classes, targets)?;
        // Rows shifted by their maximum: the derivative needs only z - max.
        let shifted: Vec<f64> = logits
            .chunks_exact(num_classes)
            .flat_map(|row| {
                let row: Vec<f64> = row.iter().map(|&z| z.into()).collect();
                let max = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                row.into_iter().map(move |z| z - max)
            })
            .collect();
        let slope =
            |log_t: f64| nll_slope_in_inverse_t(&shifted, num_classes, &classes, (-log_t).exp());
        let (mut low, mut high) = (LOWEST.ln(), HIGHEST.ln());
        let no_minimum = |bound: f64, why| CalibrationError::NoTemperatureMinimum {
            low: LOWEST,
            high: HIGHEST,
            bound,
            why,
        };
        // The slope in b = 1/T rises through zero once. At the largest T (smallest b)
        // it must still be negative, at the smallest T positive; exactly 0 counts as
        // no crossing (constant rows; or a separated set, where it underflows to 0).
        if slope(high) >= 0.0 {
            return Err(no_minimum(HIGHEST, "carry no usable signal"));
        }
        if slope(low) <= 0.0 {
            return Err(no_minimum(
                LOWEST,
                "are separated: every sample right with a margin",
            ));
        }
        loop {
            let mid = 0.5 * (low + high);
            if mid <= low || mid >= high {
                break;
            }
            // A positive slope: b = 1/T is past its optimum, so T lies above mid.
            if slope(mid) > 0.0 {
                low = mid;
            } else {
                high = mid;
            }
        }
        Self::new((0.5 * (low + high)).exp())
    }

    /// [`fit`](Self::fit) on a batch of logits `[N, K]` and targets `[N]` on any
    /// device (read back once).
    ///
    /// # Errors
    /// As [`fit`](Self::fit), and [`CalibrationError::Read`].
    ///
    /// ```
    /// use burn::tensor::{Device, Int, Tensor};
    /// use burn_mixup::TemperatureScaling;
    /// let device = Device::flex();
    /// let logits = Tensor::<2>::from_floats([[2.0, 0.0], [2.0, 0.0], [0.0, 2.0]], &device);
    /// let t = TemperatureScaling::fit_tensors(logits, Tensor::<1, Int>::from_ints([0, 1, 1], &device))?;
    /// assert!(t.temperature() > 1.0);
    /// # Ok::<(), burn_mixup::CalibrationError>(())
    /// ```
    pub fn fit_tensors(
        logits: Tensor<2>,
        targets: Tensor<1, Int>,
    ) -> Result<Self, CalibrationError> {
        let (values, targets, classes) = read_back(logits, targets)?;
        Self::fit(&values, classes, &targets)
    }

    /// The temperature.
    ///
    /// ```
    /// assert_eq!(burn_mixup::TemperatureScaling::new(2.0)?.temperature(), 2.0);
    /// # Ok::<(), burn_mixup::CalibrationError>(())
    /// ```
    pub fn temperature(&self) -> f64 {
        self.temperature
    }

    /// `logits / T` on the device, shape kept.
    ///
    /// ```
    /// use burn::tensor::{Device, Tensor};
    /// let z = Tensor::<2>::from_floats([[4.0, 2.0]], &Device::flex());
    /// let scaled = burn_mixup::TemperatureScaling::new(2.0)?.apply(z);
    /// assert_eq!(scaled.try_into_vec_as::<f32>()?, vec![2.0, 1.0]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn apply<const D: usize>(&self, logits: Tensor<D>) -> Tensor<D> {
        logits.div_scalar(self.temperature)
    }

    /// `logits / T` on the host, in f64.
    ///
    /// ```
    /// let scaled = burn_mixup::TemperatureScaling::new(4.0)?.apply_host(&[2.0f32, -1.0]);
    /// assert_eq!(scaled, vec![0.5, -0.25]);
    /// # Ok::<(), burn_mixup::CalibrationError>(())
    /// ```
    pub fn apply_host<L: Copy + Into<f64>>(&self, logits: &[L]) -> Vec<f64> {
        logits
            .iter()
            .map(|&z| z.into() / self.temperature)
            .collect()
    }
}

/// `d NLL / d b` at `b = 1/T`: `mean_i [sum_k p_ik z_ik - z_(i,y)]` on max-shifted
/// rows (the shift cancels), increasing in `b`.
fn nll_slope_in_inverse_t(shifted: &[f64], classes: usize, targets: &[usize], b: f64) -> f64 {
    let total: f64 = shifted
        .chunks_exact(classes)
        .zip(targets)
        .map(|(row, &target)| {
            let (mut mass, mut weighted) = (0.0, 0.0);
            for &z in row {
                let w = (b * z).exp();
                mass += w;
                weighted += w * z;
            }
            weighted / mass - row[target]
        })
        .sum();
    total / targets.len() as f64
}
