//! [`CalibrationErrorMetric`] (feature `train`): expected calibration error over an
//! epoch, as a burn-train metric whose epoch value is computed exactly once, at the
//! end of the epoch (burn-train 0.22's `Metric::compute`, `NumericEntry::Final`).

use std::sync::Arc;

use burn::tensor::{Int, Tensor, TensorReadError};
use burn::train::ClassificationOutput;
use burn::train::metric::{
    Adaptor, Metric, MetricAttributes, MetricMetadata, MetricName, Numeric, NumericAttributes,
    NumericEntry, SerializedEntry,
};

/// What [`CalibrationErrorMetric`] reads: logits and targets, adapted from a
/// [`MixedClassificationOutput`](crate::MixedClassificationOutput) or Burn's
/// `ClassificationOutput`.
///
/// ```
/// use burn::tensor::{Device, Int, Tensor};
/// use burn::train::metric::Adaptor;
/// use burn::train::ClassificationOutput;
/// use burn_mixup::CalibrationInput;
///
/// let device = Device::flex();
/// let output = ClassificationOutput::new(Tensor::<1>::zeros([1], &device),
///     Tensor::zeros([2, 3], &device), Tensor::<1, Int>::from_ints([0, 2], &device));
/// let _input: CalibrationInput = output.adapt();
/// ```
#[derive(Debug, Clone)]
pub struct CalibrationInput {
    logits: Tensor<2>,
    targets: Tensor<1, Int>,
}

impl CalibrationInput {
    /// Logits `[B, K]` and class-index targets `[B]`.
    ///
    /// ```
    /// use burn::tensor::{Device, Int, Tensor};
    /// use burn_mixup::CalibrationInput;
    /// let device = Device::flex();
    /// let input = CalibrationInput::new(Tensor::<2>::zeros([2, 3], &device),
    ///                                   Tensor::<1, Int>::from_ints([0, 2], &device));
    /// ```
    pub fn new(logits: Tensor<2>, targets: Tensor<1, Int>) -> Self {
        Self { logits, targets }
    }
}

impl Adaptor<CalibrationInput> for ClassificationOutput {
    fn adapt(&self) -> CalibrationInput {
        CalibrationInput::new(self.output.clone(), self.targets.clone())
    }
}

/// Number of equal-width confidence bins of [`CalibrationErrorMetric`].
const BINS: usize = 15;

/// Per bin: samples, summed confidence, summed hits; and the samples whose logits
/// were not finite (their confidence has no meaning, so the ECE becomes NaN).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Bins {
    count: [usize; BINS],
    confidence: [f64; BINS],
    hits: [f64; BINS],
    non_finite: usize,
}

impl Bins {
    fn add(&mut self, confidence: f64, hit: bool) {
        if !confidence.is_finite() {
            self.non_finite += 1;
            return;
        }
        // Bins (b/15, (b+1)/15]; a softmax confidence is > 0.
        let bin = ((confidence * BINS as f64).ceil() as usize).clamp(1, BINS) - 1;
        self.count[bin] += 1;
        self.confidence[bin] += confidence;
        self.hits[bin] += f64::from(u8::from(hit));
    }

    fn samples(&self) -> usize {
        self.count.iter().sum::<usize>() + self.non_finite
    }

    /// `100 * sum_b |hits_b - confidence_b| / N`; 0 with no samples; NaN once any
    /// sample's logits were NaN or infinite.
    fn ece(&self) -> f64 {
        if self.non_finite > 0 {
            return f64::NAN;
        }
        let total = self.samples();
        if total == 0 {
            return 0.0;
        }
        let gap: f64 = (0..BINS)
            .map(|b| (self.hits[b] - self.confidence[b]).abs())
            .sum();
        100.0 * gap / total as f64
    }

    fn merge(&mut self, other: &Bins) {
        for b in 0..BINS {
            self.count[b] += other.count[b];
            self.confidence[b] += other.confidence[b];
            self.hits[b] += other.hits[b];
        }
        self.non_finite += other.non_finite;
    }
}

/// Expected calibration error (Guo et al., 2017) in percent: 15 equal-width bins
/// of top-1 confidence (softmax of the logits), `sum_b (n_b / N) * |acc_b - conf_b|`
/// over every sample of the epoch. Lower is better; label smoothing and Mixup both
/// lower it on over-confident models (and can make small ones under-confident).
///
/// ECE is not a mean of per-batch values, so the epoch's value comes from
/// [`Metric::compute`] as a `NumericEntry::Final` over all the epoch's samples:
/// burn-train's epoch summary and loggers take that entry. Each batch logs its own
/// ECE (the dashboard's "batch" figure) next to the running epoch ECE. A sample with
/// NaN or infinite logits makes the ECE NaN, never a number that looks valid.
///
/// ```
/// use burn::data::dataloader::Progress;
/// use burn::tensor::{Device, Int, Tensor};
/// use burn::train::metric::{Metric, MetricMetadata, Numeric};
/// use burn_mixup::{CalibrationErrorMetric, CalibrationInput};
///
/// let device = Device::flex();
/// // Two samples, both predicted with confidence 0.5 (logits tied), one right.
/// let input = CalibrationInput::new(Tensor::<2>::zeros([2, 2], &device),
///                                   Tensor::<1, Int>::from_ints([0, 1], &device));
/// let mut metric = CalibrationErrorMetric::new();
/// let metadata = MetricMetadata { progress: Progress::new(1, 1, None), iteration: Some(0), lr: None };
/// metric.update(&input, &metadata)?;
/// metric.compute()?;
/// assert!(metric.final_value().current().abs() < 1e-9); // accuracy 0.5 = confidence 0.5
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct CalibrationErrorMetric {
    name: MetricName,
    /// The epoch so far.
    epoch: Bins,
    /// The last batch alone.
    batch: Bins,
}

impl Default for CalibrationErrorMetric {
    fn default() -> Self {
        Self::new()
    }
}

impl CalibrationErrorMetric {
    /// The metric, named "Calibration Error (ECE)".
    ///
    /// ```
    /// use burn::train::metric::Metric;
    /// let metric = burn_mixup::CalibrationErrorMetric::new();
    /// assert_eq!(metric.name().as_str(), "Calibration Error (ECE)");
    /// ```
    pub fn new() -> Self {
        Self {
            name: Arc::new("Calibration Error (ECE)".to_string()),
            epoch: Bins::default(),
            batch: Bins::default(),
        }
    }

    fn entry(&self, value: NumericEntry) -> SerializedEntry {
        SerializedEntry::new(
            format!(
                "epoch {:.2} % - batch {:.2} %",
                self.epoch.ece(),
                self.batch.ece()
            ),
            value.serialize(),
        )
    }
}

/// The top-1 softmax confidence and whether it hits, per row: the logits are read
/// back once per batch and the softmax taken on the host in f64. A row with a NaN or
/// infinite logit (a diverged model) has no confidence: NaN.
fn confidences(input: &CalibrationInput) -> Result<Vec<(f64, bool)>, TensorReadError> {
    let [_, classes] = input.logits.dims();
    let logits = input.logits.clone().try_into_vec_as::<f64>()?;
    let targets = input.targets.clone().try_into_vec_as::<i64>()?;
    Ok(targets
        .iter()
        .zip(logits.chunks_exact(classes.max(1)))
        .map(|(&target, row)| {
            if row.iter().any(|z| !z.is_finite()) {
                return (f64::NAN, false);
            }
            // Top-1 class (ties go to the first, as argmax) and its softmax:
            // 1 / sum_k exp(z_k - z_max).
            let (predicted, max) =
                row.iter()
                    .enumerate()
                    .fold((0, f64::NEG_INFINITY), |best, (k, &z)| {
                        if z > best.1 { (k, z) } else { best }
                    });
            let total: f64 = row.iter().map(|&z| (z - max).exp()).sum();
            (1.0 / total, predicted as i64 == target)
        })
        .collect())
}

impl Metric for CalibrationErrorMetric {
    type Input = CalibrationInput;

    fn update(
        &mut self,
        input: &Self::Input,
        _metadata: &MetricMetadata,
    ) -> Result<SerializedEntry, TensorReadError> {
        let mut batch = Bins::default();
        for (confidence, hit) in confidences(input)? {
            batch.add(confidence, hit);
        }
        self.epoch.merge(&batch);
        self.batch = batch;
        Ok(self.entry(NumericEntry::Aggregated {
            aggregated_value: batch.ece(),
            count: batch.samples(),
        }))
    }

    fn compute(&mut self) -> Result<SerializedEntry, TensorReadError> {
        Ok(self.entry(self.final_value()))
    }

    fn clear(&mut self) {
        self.epoch = Bins::default();
        self.batch = Bins::default();
    }

    fn name(&self) -> MetricName {
        self.name.clone()
    }

    fn attributes(&self) -> MetricAttributes {
        NumericAttributes {
            unit: Some("%".to_string()),
            higher_is_better: false,
        }
        .into()
    }
}

impl Numeric for CalibrationErrorMetric {
    fn value(&self) -> Option<NumericEntry> {
        Some(NumericEntry::Aggregated {
            aggregated_value: self.batch.ece(),
            count: self.batch.samples(),
        })
    }

    fn running_value(&self) -> Option<NumericEntry> {
        Some(NumericEntry::Aggregated {
            aggregated_value: self.epoch.ece(),
            count: self.epoch.samples(),
        })
    }

    fn final_value(&self) -> NumericEntry {
        NumericEntry::Final(self.epoch.ece())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Closed form: confidences 0.95 (hit), 0.95 (miss), 0.55 (hit) fall in bins 15,
    /// 15 and 9: `(|1 - 1.9| + |1 - 0.55|) / 3`.
    #[test]
    fn ece_is_the_binned_gap_and_nan_once_a_confidence_is_not_finite() {
        let mut bins = Bins::default();
        for (confidence, hit) in [(0.95, true), (0.95, false), (0.55, true)] {
            bins.add(confidence, hit);
        }
        let expected = 100.0 * ((1.0f64 - 1.9).abs() + (1.0f64 - 0.55).abs()) / 3.0;
        assert!((bins.ece() - expected).abs() < 1e-12, "{}", bins.ece());
        let mut merged = Bins::default();
        merged.merge(&bins);
        assert_eq!(merged, bins);
        bins.add(f64::NAN, false);
        assert!(bins.ece().is_nan() && bins.samples() == 4);
        assert_eq!(Bins::default().ece(), 0.0);
    }
}
