//! [`CalibrationErrorMetric`] (feature `train`): expected calibration error over an
//! epoch, as a burn-train metric whose epoch value is computed exactly once, at the
//! end of the epoch (burn-train 0.22's `Metric::compute`, `NumericEntry::Final`).

use std::sync::Arc;

use burn::tensor::{Int, Tensor, TensorReadError};

use super::{BinSums, bin_index, equal_width_edges, top1_of_logits};
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

/// The epoch's (or a batch's) bins, and the samples whose logits were not finite
/// (their confidence has no meaning, so the ECE becomes NaN).
#[derive(Clone, Debug, PartialEq)]
struct Bins {
    sums: BinSums,
    non_finite: usize,
}

impl Default for Bins {
    fn default() -> Self {
        Self {
            sums: BinSums::new(BINS + 1),
            non_finite: 0,
        }
    }
}

impl Bins {
    fn add(&mut self, edges: &[f64], confidence: f64, hit: bool) {
        if confidence.is_finite() {
            self.sums
                .add(bin_index(&edges[..=BINS], confidence), confidence, hit);
        } else {
            self.non_finite += 1;
        }
    }

    fn samples(&self) -> usize {
        self.sums.samples() + self.non_finite
    }

    /// ECE in percent, as [`Reliability::ece`](crate::Reliability::ece) computes it
    /// from the same bins; 0 with no samples; NaN once any sample's logits were NaN
    /// or infinite.
    fn ece(&self, edges: &[f64]) -> f64 {
        if self.non_finite > 0 {
            return f64::NAN;
        }
        100.0 * self.sums.reliability(edges).ece()
    }

    fn merge(&mut self, other: &Bins) {
        self.sums.merge(&other.sums);
        self.non_finite += other.non_finite;
    }
}

/// Expected calibration error (Guo et al., 2017) in percent: 15 equal-width bins
/// of top-1 confidence (softmax of the logits), `sum_b (n_b / N) * |acc_b - conf_b|`
/// over every sample of the epoch, binned as torchmetrics' `CalibrationError` and
/// computed by the same code as [`Reliability::ece`](crate::Reliability::ece). Lower is better; label smoothing and Mixup both
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
    /// The bins' edges, `torch.linspace(0, 1, 16)` and the bin `[1, 1]`.
    edges: Vec<f64>,
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
            edges: equal_width_edges(BINS),
        }
    }

    fn entry(&self, value: NumericEntry) -> SerializedEntry {
        SerializedEntry::new(
            format!(
                "epoch {:.2} % - batch {:.2} %",
                self.epoch.ece(&self.edges),
                self.batch.ece(&self.edges)
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
            if !row.iter().all(|z| z.is_finite()) {
                return (f64::NAN, false);
            }
            // A label outside the logits cannot be hit; its confidence still counts.
            let target = usize::try_from(target).ok().filter(|&t| t < classes);
            let (confidence, predicted, _, _) = top1_of_logits(row, target.unwrap_or(0));
            (confidence, target == Some(predicted))
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
            batch.add(&self.edges, confidence, hit);
        }
        self.epoch.merge(&batch);
        let entry = NumericEntry::Aggregated {
            aggregated_value: batch.ece(&self.edges),
            count: batch.samples(),
        };
        self.batch = batch;
        Ok(self.entry(entry))
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
            aggregated_value: self.batch.ece(&self.edges),
            count: self.batch.samples(),
        })
    }

    fn running_value(&self) -> Option<NumericEntry> {
        Some(NumericEntry::Aggregated {
            aggregated_value: self.epoch.ece(&self.edges),
            count: self.epoch.samples(),
        })
    }

    fn final_value(&self) -> NumericEntry {
        NumericEntry::Final(self.epoch.ece(&self.edges))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Closed form: confidences 0.95 (hit), 0.95 (miss), 0.55 (hit) fall in bins 15,
    /// 15 and 9: `(|1 - 1.9| + |1 - 0.55|) / 3`; a confidence of exactly 1 goes to
    /// the bin `[1, 1]`, as torchmetrics puts it.
    #[test]
    fn ece_is_the_binned_gap_and_nan_once_a_confidence_is_not_finite() {
        let edges = equal_width_edges(BINS);
        let mut bins = Bins::default();
        for (confidence, hit) in [(0.95, true), (0.95, false), (0.55, true)] {
            bins.add(&edges, confidence, hit);
        }
        let expected = 100.0 * ((1.0f64 - 1.9).abs() + (1.0f64 - 0.55).abs()) / 3.0;
        assert!(
            (bins.ece(&edges) - expected).abs() < 1e-12,
            "{}",
            bins.ece(&edges)
        );
        let mut merged = Bins::default();
        merged.merge(&bins);
        assert_eq!(merged, bins);
        bins.add(&edges, 1.0, false);
        assert_eq!(bins.sums.count[BINS], 1);
        bins.add(&edges, f64::NAN, false);
        assert!(bins.ece(&edges).is_nan() && bins.samples() == 5);
        assert_eq!(Bins::default().ece(&edges), 0.0);
    }
}
