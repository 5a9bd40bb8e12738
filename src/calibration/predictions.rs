//! [`Predictions`]: a classifier's top-1 predictions on labelled samples, from
//! logits, probabilities or tensors; what every calibration measure reads.

use burn::tensor::{Int, Tensor};

use super::{BinSums, Binning, Reliability, bin_index, equal_width_edges};
use crate::error::CalibrationError;

/// Top-1 of a row of logits: (softmax confidence, predicted class, NLL of `target`,
/// Brier score against `target`), in f64 after shifting by the row's maximum; ties
/// go to the first class, as `argmax`.
pub(crate) fn top1_of_logits(row: &[f64], target: usize) -> (f64, usize, f64, f64) {
    let (predicted, max) = first_max(row);
    let total: f64 = row.iter().map(|&z| (z - max).exp()).sum();
    let nll = total.ln() - (row[target] - max);
    let brier = brier(row.iter().map(|&z| (z - max).exp() / total), target);
    (1.0 / total, predicted, nll, brier)
}

/// The class and value of a row's maximum; ties go to the first class, as `argmax`
/// (PyTorch's `max(dim)` and torchmetrics' top-1).
fn first_max(row: &[f64]) -> (usize, f64) {
    row.iter()
        .enumerate()
        .fold((0, f64::NEG_INFINITY), |best, (k, &v)| {
            if v > best.1 { (k, v) } else { best }
        })
}

/// `sum_k (p_k - onehot_k)^2` of one row of probabilities against its target.
fn brier(probabilities: impl Iterator<Item = f64>, target: usize) -> f64 {
    probabilities
        .enumerate()
        .map(|(k, p)| (p - f64::from(u8::from(k == target))).powi(2))
        .sum()
}

/// A classifier's top-1 predictions on labelled samples: what every calibration
/// measure reads. Built from logits (softmax taken here, in f64) or probabilities.
///
/// ```
/// use burn_mixup::{Binning, Predictions};
///
/// // 3 samples, 2 classes: logits row by row.
/// let logits = [2.0, 0.0, 0.0, 1.0, 3.0, 0.0];
/// let predictions = Predictions::from_logits(&logits, 2, &[0, 1, 1])?;
/// assert_eq!(predictions.len(), 3);
/// assert!((predictions.accuracy() - 2.0 / 3.0).abs() < 1e-15);
/// let ece = predictions.reliability(15, Binning::EqualWidth)?.ece();
/// assert!(ece > 0.0 && ece < 1.0);
/// # Ok::<(), burn_mixup::CalibrationError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Predictions {
    confidence: Vec<f64>,
    correct: Vec<bool>,
    nll: f64,
    brier: f64,
}

impl Predictions {
    /// From logits, `targets.len()` rows of `num_classes` values (row-major, f32 or
    /// f64).
    ///
    /// # Errors
    /// [`CalibrationError::Empty`], [`TooFewClasses`](CalibrationError::TooFewClasses),
    /// [`LengthMismatch`](CalibrationError::LengthMismatch),
    /// [`NonFinite`](CalibrationError::NonFinite) and
    /// [`TargetOutOfRange`](CalibrationError::TargetOutOfRange).
    ///
    /// ```
    /// use burn_mixup::{CalibrationError, Predictions};
    /// let err = Predictions::from_logits(&[0.0f32; 6], 3, &[0, 3]).unwrap_err();
    /// assert_eq!(err, CalibrationError::TargetOutOfRange { position: 1, value: 3, num_classes: 3 });
    /// ```
    pub fn from_logits<L, T>(
        logits: &[L],
        num_classes: usize,
        targets: &[T],
    ) -> Result<Self, CalibrationError>
    where
        L: Copy + Into<f64>,
        T: Copy + TryInto<i64>,
    {
        let classes = check_logits(logits, num_classes, targets)?;
        let mut out = Self::with_capacity(targets.len());
        let mut row = vec![0.0; num_classes];
        for (values, &target) in logits.chunks_exact(num_classes).zip(&classes) {
            for (slot, &value) in row.iter_mut().zip(values) {
                *slot = value.into();
            }
            let (confidence, predicted, nll, brier) = top1_of_logits(&row, target);
            out.push(confidence, predicted == target, nll, brier);
        }
        Ok(out)
    }

    /// From probabilities, `targets.len()` rows of `num_classes` values in `[0, 1]`
    /// that sum to 1 (within 1e-3). The NLL is `-ln p_target`: infinite where a
    /// target has probability 0.
    ///
    /// # Errors
    /// As [`from_logits`](Self::from_logits), and
    /// [`NotProbabilities`](CalibrationError::NotProbabilities).
    ///
    /// ```
    /// use burn_mixup::Predictions;
    /// let p = Predictions::from_probabilities(&[0.75, 0.25, 0.5, 0.5], 2, &[0, 1])?;
    /// assert_eq!(p.mean_confidence(), 0.625);
    /// assert!(Predictions::from_probabilities(&[2.0, -1.0], 2, &[0]).is_err());
    /// # Ok::<(), burn_mixup::CalibrationError>(())
    /// ```
    pub fn from_probabilities<P, T>(
        probabilities: &[P],
        num_classes: usize,
        targets: &[T],
    ) -> Result<Self, CalibrationError>
    where
        P: Copy + Into<f64>,
        T: Copy + TryInto<i64>,
    {
        check_shape(probabilities, num_classes, targets)?;
        let rows = probabilities.chunks_exact(num_classes);
        let mut out = Self::with_capacity(targets.len());
        for (sample, (values, &target)) in rows
            .zip(&targets_as_classes(targets, num_classes)?)
            .enumerate()
        {
            let row: Vec<f64> = values.iter().map(|&p| p.into()).collect();
            let not = |reason: String| CalibrationError::NotProbabilities { sample, reason };
            if let Some(p) = row.iter().find(|p| !(0.0..=1.0).contains(*p)) {
                return Err(not(format!("{p} is not in [0, 1]")));
            }
            let sum: f64 = row.iter().sum();
            if (sum - 1.0).abs() > 1e-3 {
                return Err(not(format!("it sums to {sum}, not 1")));
            }
            let (predicted, confidence) = first_max(&row);
            let brier = brier(row.iter().copied(), target);
            out.push(confidence, predicted == target, -row[target].ln(), brier);
        }
        Ok(out)
    }

    /// From a batch of logits `[N, K]` and targets `[N]` on any device (read back
    /// once, as f64).
    ///
    /// # Errors
    /// As [`from_logits`](Self::from_logits), and
    /// [`Read`](CalibrationError::Read) when the tensors cannot be read.
    ///
    /// ```
    /// use burn::tensor::{Device, Int, Tensor};
    /// use burn_mixup::Predictions;
    /// let device = Device::flex();
    /// let logits = Tensor::<2>::from_floats([[3.0, 0.0], [0.0, 1.0]], &device);
    /// let p = Predictions::from_tensors(logits, Tensor::<1, Int>::from_ints([0, 0], &device))?;
    /// assert_eq!(p.accuracy(), 0.5);
    /// # Ok::<(), burn_mixup::CalibrationError>(())
    /// ```
    pub fn from_tensors(
        logits: Tensor<2>,
        targets: Tensor<1, Int>,
    ) -> Result<Self, CalibrationError> {
        let (values, targets, classes) = read_back(logits, targets)?;
        Self::from_logits(&values, classes, &targets)
    }

    fn with_capacity(n: usize) -> Self {
        Self {
            confidence: Vec::with_capacity(n),
            correct: Vec::with_capacity(n),
            nll: 0.0,
            brier: 0.0,
        }
    }

    fn push(&mut self, confidence: f64, correct: bool, nll: f64, brier: f64) {
        self.confidence.push(confidence);
        self.correct.push(correct);
        self.nll += nll;
        self.brier += brier;
    }

    /// Number of samples.
    ///
    /// ```
    /// # use burn_mixup::Predictions;
    /// assert_eq!(Predictions::from_logits(&[0.0, 1.0], 2, &[1])?.len(), 1);
    /// # Ok::<(), burn_mixup::CalibrationError>(())
    /// ```
    pub fn len(&self) -> usize {
        self.confidence.len()
    }

    /// Always `false`: an empty set is refused when built.
    ///
    /// ```
    /// # use burn_mixup::Predictions;
    /// assert!(!Predictions::from_logits(&[0.0, 1.0], 2, &[1])?.is_empty());
    /// # Ok::<(), burn_mixup::CalibrationError>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.confidence.is_empty()
    }

    /// Each sample's top-1 confidence.
    ///
    /// ```
    /// # use burn_mixup::Predictions;
    /// assert_eq!(Predictions::from_logits(&[0.0, 0.0], 2, &[1])?.confidences(), &[0.5]);
    /// # Ok::<(), burn_mixup::CalibrationError>(())
    /// ```
    pub fn confidences(&self) -> &[f64] {
        &self.confidence
    }

    /// Share of samples whose top-1 prediction is the target.
    ///
    /// ```
    /// # use burn_mixup::Predictions;
    /// assert_eq!(Predictions::from_logits(&[1.0, 0.0], 2, &[0])?.accuracy(), 1.0);
    /// # Ok::<(), burn_mixup::CalibrationError>(())
    /// ```
    pub fn accuracy(&self) -> f64 {
        self.correct.iter().filter(|&&hit| hit).count() as f64 / self.len() as f64
    }

    /// Mean top-1 confidence: above [`accuracy`](Self::accuracy), over-confident.
    ///
    /// ```
    /// # use burn_mixup::Predictions;
    /// assert_eq!(Predictions::from_logits(&[0.0, 0.0], 2, &[0])?.mean_confidence(), 0.5);
    /// # Ok::<(), burn_mixup::CalibrationError>(())
    /// ```
    pub fn mean_confidence(&self) -> f64 {
        self.confidence.iter().sum::<f64>() / self.len() as f64
    }

    /// Mean negative log-likelihood of the targets (PyTorch's `cross_entropy`).
    ///
    /// ```
    /// # use burn_mixup::Predictions;
    /// let nll = Predictions::from_logits(&[0.0, 0.0], 2, &[0])?.nll();
    /// assert!((nll - 2f64.ln()).abs() < 1e-15);
    /// # Ok::<(), burn_mixup::CalibrationError>(())
    /// ```
    pub fn nll(&self) -> f64 {
        self.nll / self.len() as f64
    }

    /// Mean Brier score, `sum_k (p_k - onehot_k)^2` per sample (0 is perfect, 2 the
    /// worst).
    ///
    /// ```
    /// # use burn_mixup::Predictions;
    /// assert_eq!(Predictions::from_probabilities(&[0.5, 0.5], 2, &[0])?.brier(), 0.5);
    /// # Ok::<(), burn_mixup::CalibrationError>(())
    /// ```
    pub fn brier(&self) -> f64 {
        self.brier / self.len() as f64
    }

    /// The reliability diagram's bins and the calibration errors read from them.
    ///
    /// # Errors
    /// [`CalibrationError::ZeroBins`].
    ///
    /// ```
    /// use burn_mixup::{Binning, Predictions};
    /// // Confidences 0.982, 0.881 and 0.731: three equal-mass bins hold one each.
    /// let p = Predictions::from_logits(&[4.0, 0.0, 0.0, 2.0, 0.0, 1.0], 2, &[0, 0, 1])?;
    /// let adaptive = p.reliability(3, Binning::EqualMass)?;
    /// assert!(adaptive.bins().iter().all(|bin| bin.count == 1));
    /// # Ok::<(), burn_mixup::CalibrationError>(())
    /// ```
    pub fn reliability(
        &self,
        bins: usize,
        binning: Binning,
    ) -> Result<Reliability, CalibrationError> {
        if bins == 0 {
            return Err(CalibrationError::ZeroBins);
        }
        // Both binnings put a confidence in bin `(edges <= c among the searched) - 1`:
        // equal-width searches all B + 1 edges, so that 1 lands in the bin [1, 1]
        // (bucketize); equal-mass the first B, so that 1 stays in the last, closed
        // bin (np.histogram).
        let (edges, searched) = match binning {
            Binning::EqualWidth => (equal_width_edges(bins), bins + 1),
            Binning::EqualMass => (equal_mass_edges(&self.confidence, bins), bins),
        };
        let mut sums = BinSums::new(edges.len() - 1);
        for (&confidence, &hit) in self.confidence.iter().zip(&self.correct) {
            sums.add(bin_index(&edges[..searched], confidence), confidence, hit);
        }
        Ok(sums.reliability(&edges))
    }
}

/// `np.quantile(confidences, np.linspace(0, 1, bins + 1))` (method "linear", numpy's
/// arithmetic step for step), the outer edges then set to 0 and 1 as netcal does.
fn equal_mass_edges(confidences: &[f64], bins: usize) -> Vec<f64> {
    let mut sorted = confidences.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    let step = 1.0 / bins as f64;
    let mut edges: Vec<f64> = (0..=bins)
        .map(|b| {
            let q = if b == bins { 1.0 } else { b as f64 * step };
            // numpy's virtual index, `n q + (alpha + q (1 - alpha - beta)) - 1`, for
            // its "linear" method (alpha = beta = 1), in numpy's order of operations.
            let (alpha, beta) = (1.0, 1.0);
            let virtual_index = n as f64 * q + (alpha + q * (1.0 - alpha - beta)) - 1.0;
            if virtual_index >= (n - 1) as f64 {
                return sorted[n - 1];
            }
            if virtual_index < 0.0 {
                return sorted[0];
            }
            let below = virtual_index.floor();
            let t = virtual_index - below;
            let (a, b) = (sorted[below as usize], sorted[below as usize + 1]);
            // numpy's _lerp: from the nearer end.
            if t >= 0.5 {
                b - (b - a) * (1.0 - t)
            } else {
                a + (b - a) * t
            }
        })
        .collect();
    edges[0] = 0.0;
    edges[bins] = 1.0;
    edges
}

/// Checks that the flat values are `targets.len()` rows of `num_classes` (at least
/// two) and that there is a row at all.
fn check_shape<V, T>(
    values: &[V],
    num_classes: usize,
    targets: &[T],
) -> Result<(), CalibrationError> {
    if targets.is_empty() {
        return Err(CalibrationError::Empty);
    }
    if num_classes < 2 {
        return Err(CalibrationError::TooFewClasses(num_classes));
    }
    if values.len() != targets.len() * num_classes {
        return Err(CalibrationError::LengthMismatch {
            values: values.len(),
            num_classes,
            targets: targets.len(),
        });
    }
    Ok(())
}

/// Checks logits against their targets (the shape, each target a class, every
/// logit finite, in that order) and returns the targets as class indices: the one
/// check of [`Predictions::from_logits`] and
/// [`TemperatureScaling::fit`](crate::TemperatureScaling::fit).
pub(crate) fn check_logits<L, T>(
    logits: &[L],
    num_classes: usize,
    targets: &[T],
) -> Result<Vec<usize>, CalibrationError>
where
    L: Copy + Into<f64>,
    T: Copy + TryInto<i64>,
{
    check_shape(logits, num_classes, targets)?;
    let classes = targets_as_classes(targets, num_classes)?;
    if let Some(index) = logits.iter().position(|&z| !z.into().is_finite()) {
        return Err(CalibrationError::NonFinite {
            sample: index / num_classes,
            class: index % num_classes,
            value: logits[index].into().to_string(),
        });
    }
    Ok(classes)
}

/// The targets as class indices, each checked against `num_classes`.
fn targets_as_classes<T>(targets: &[T], num_classes: usize) -> Result<Vec<usize>, CalibrationError>
where
    T: Copy + TryInto<i64>,
{
    targets
        .iter()
        .enumerate()
        .map(|(position, &target)| {
            let value = target.try_into().unwrap_or(i64::MAX);
            usize::try_from(value)
                .ok()
                .filter(|&class| class < num_classes)
                .ok_or(CalibrationError::TargetOutOfRange {
                    position,
                    value,
                    num_classes,
                })
        })
        .collect()
}

/// Logits `[N, K]` and targets `[N]` read back to the host: (values, targets, K).
pub(crate) fn read_back(
    logits: Tensor<2>,
    targets: Tensor<1, Int>,
) -> Result<(Vec<f64>, Vec<i64>, usize), CalibrationError> {
    let [_, classes] = logits.dims();
    let read = |err: burn::tensor::TensorReadError| CalibrationError::Read(err.to_string());
    let values = logits.try_into_vec_as::<f64>().map_err(read)?;
    let targets = targets.try_into_vec_as::<i64>().map_err(read)?;
    Ok((values, targets, classes))
}
