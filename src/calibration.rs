//! Calibration: how far a classifier's confidence is from its accuracy
//! ([`Predictions`], [`Reliability`]), and [`TemperatureScaling`] to repair it.
//!
//! Everything is computed on the host in f64 from logits (or probabilities) and
//! class-index targets, with torchmetrics' definitions: top-1 confidence, equal-width
//! bins `[lo, hi)` as `torch.bucketize(right=True)` makes them, and a bin of its own
//! for a confidence of exactly 1. The burn-train metric
//! ([`CalibrationErrorMetric`](crate::CalibrationErrorMetric), feature `train`)
//! accumulates the same bins.

#[cfg(feature = "train")]
pub(crate) mod metric;
mod predictions;
mod temperature;

pub use predictions::Predictions;
pub(crate) use predictions::{check_logits, read_back, top1_of_logits};
pub use temperature::TemperatureScaling;

/// How [`Predictions::reliability`] groups samples by confidence.
///
/// ```
/// use burn_mixup::Binning;
/// assert_ne!(Binning::EqualWidth, Binning::EqualMass);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Binning {
    /// `B` bins `[b/B, (b+1)/B)` plus the bin `[1, 1]` for confidences of exactly 1,
    /// as torchmetrics' `CalibrationError` (`torch.linspace` edges,
    /// `torch.bucketize(right=True)`). Guo et al.'s code uses `(lo, hi]` instead: the
    /// two differ only for confidences exactly on an edge.
    EqualWidth,
    /// `B` bins holding equal shares of the samples (adaptive ECE): edges at the
    /// confidences' quantiles (`np.quantile`, linear interpolation), the outer ones
    /// 0 and 1, samples binned as `np.histogram` (`[lo, hi)`, the last bin closed).
    /// netcal's `ECE(equal_intervals=False)`; where tied confidences make edges
    /// coincide, netcal raises and this leaves those bins empty.
    EqualMass,
}

/// One bin of a reliability diagram. `confidence` and `accuracy` are the bin's means
/// (0 for an empty bin, as torchmetrics).
///
/// ```
/// use burn_mixup::ReliabilityBin;
/// let bin = ReliabilityBin { lower: 0.8, upper: 0.9, count: 10, confidence: 0.85, accuracy: 0.6 };
/// assert!((bin.gap() - 0.25).abs() < 1e-12);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReliabilityBin {
    /// Lower edge (included).
    pub lower: f64,
    /// Upper edge (excluded, but for the last bin).
    pub upper: f64,
    /// Samples in the bin.
    pub count: usize,
    /// Mean top-1 confidence of the bin's samples.
    pub confidence: f64,
    /// Share of the bin's samples whose top-1 prediction is right.
    pub accuracy: f64,
}

impl ReliabilityBin {
    /// `|accuracy - confidence|`.
    ///
    /// ```
    /// # use burn_mixup::ReliabilityBin;
    /// let bin = ReliabilityBin { lower: 0.0, upper: 1.0, count: 2, confidence: 0.5, accuracy: 0.5 };
    /// assert_eq!(bin.gap(), 0.0);
    /// ```
    pub fn gap(&self) -> f64 {
        (self.accuracy - self.confidence).abs()
    }
}

/// Binned confidence against accuracy: the reliability diagram's data, and the
/// calibration errors read from it (fractions, not percent).
///
/// ```
/// use burn_mixup::{Binning, Predictions};
///
/// // Two samples at confidence 0.5, one right: perfectly calibrated.
/// let predictions = Predictions::from_logits(&[0.0, 0.0, 0.0, 0.0], 2, &[0, 1])?;
/// let reliability = predictions.reliability(15, Binning::EqualWidth)?;
/// assert_eq!((reliability.ece(), reliability.mce(), reliability.rms()), (0.0, 0.0, 0.0));
/// assert_eq!(reliability.bins()[7].count, 2); // [7/15, 8/15)
/// # Ok::<(), burn_mixup::CalibrationError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Reliability {
    bins: Vec<ReliabilityBin>,
    samples: usize,
}

impl Reliability {
    /// The bins, lowest confidence first.
    ///
    /// ```
    /// # use burn_mixup::{Binning, Predictions};
    /// let p = Predictions::from_logits(&[2.0, 0.0], 2, &[0])?;
    /// assert_eq!(p.reliability(10, Binning::EqualWidth)?.bins().len(), 11); // + the [1, 1] bin
    /// assert_eq!(p.reliability(10, Binning::EqualMass)?.bins().len(), 10);
    /// # Ok::<(), burn_mixup::CalibrationError>(())
    /// ```
    pub fn bins(&self) -> &[ReliabilityBin] {
        &self.bins
    }

    /// Expected calibration error: `sum_b (n_b / N) |acc_b - conf_b|` (torchmetrics'
    /// `norm="l1"`).
    ///
    /// ```
    /// # use burn_mixup::{Binning, Predictions};
    /// // One sample, confidence e/(1+e) ≈ 0.731, wrong.
    /// let p = Predictions::from_logits(&[1.0, 0.0], 2, &[1])?;
    /// let ece = p.reliability(15, Binning::EqualWidth)?.ece();
    /// assert!((ece - 1f64.exp() / (1.0 + 1f64.exp())).abs() < 1e-15);
    /// # Ok::<(), burn_mixup::CalibrationError>(())
    /// ```
    pub fn ece(&self) -> f64 {
        self.weighted(ReliabilityBin::gap)
    }

    /// Maximum calibration error: the largest `|acc_b - conf_b|` over the bins that
    /// hold samples (torchmetrics' `norm="max"`).
    ///
    /// ```
    /// # use burn_mixup::{Binning, Predictions};
    /// let p = Predictions::from_logits(&[1.0, 0.0, 0.0, 0.0], 2, &[1, 0])?;
    /// assert!(p.reliability(15, Binning::EqualWidth)?.mce() > 0.7);
    /// # Ok::<(), burn_mixup::CalibrationError>(())
    /// ```
    pub fn mce(&self) -> f64 {
        self.bins
            .iter()
            .filter(|bin| bin.count > 0)
            .map(ReliabilityBin::gap)
            .fold(0.0, f64::max)
    }

    /// Root-mean-square calibration error: `sqrt(sum_b (n_b / N) (acc_b - conf_b)^2)`
    /// (torchmetrics' `norm="l2"`).
    ///
    /// ```
    /// # use burn_mixup::{Binning, Predictions};
    /// let p = Predictions::from_logits(&[1.0, 0.0], 2, &[1])?;
    /// let r = p.reliability(15, Binning::EqualWidth)?;
    /// assert!((r.rms() - r.ece()).abs() < 1e-15); // one bin: the two agree
    /// # Ok::<(), burn_mixup::CalibrationError>(())
    /// ```
    pub fn rms(&self) -> f64 {
        self.weighted(|bin| bin.gap().powi(2)).sqrt()
    }

    fn weighted(&self, of: impl Fn(&ReliabilityBin) -> f64) -> f64 {
        let total = self.samples.max(1) as f64;
        self.bins
            .iter()
            .map(|bin| bin.count as f64 / total * of(bin))
            .sum()
    }
}

/// Sums per bin, for the measures and the burn-train metric alike: samples, summed
/// confidence, summed hits. Equal-width bins are `0..=bins`, the last for a
/// confidence of exactly 1.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct BinSums {
    pub(crate) count: Vec<usize>,
    pub(crate) confidence: Vec<f64>,
    pub(crate) hits: Vec<f64>,
}

impl BinSums {
    pub(crate) fn new(bins: usize) -> Self {
        Self {
            count: vec![0; bins],
            confidence: vec![0.0; bins],
            hits: vec![0.0; bins],
        }
    }

    pub(crate) fn add(&mut self, bin: usize, confidence: f64, hit: bool) {
        self.count[bin] += 1;
        self.confidence[bin] += confidence;
        self.hits[bin] += f64::from(u8::from(hit));
    }

    pub(crate) fn merge(&mut self, other: &BinSums) {
        for b in 0..self.count.len() {
            self.count[b] += other.count[b];
            self.confidence[b] += other.confidence[b];
            self.hits[b] += other.hits[b];
        }
    }

    pub(crate) fn samples(&self) -> usize {
        self.count.iter().sum()
    }

    /// The bins, with `edges[b]..edges[b + 1]` as bin `b`'s range.
    pub(crate) fn reliability(&self, edges: &[f64]) -> Reliability {
        let bins = (0..self.count.len())
            .map(|b| {
                let n = self.count[b];
                let mean = |sum: f64| if n == 0 { 0.0 } else { sum / n as f64 };
                ReliabilityBin {
                    lower: edges[b],
                    upper: edges[b + 1],
                    count: n,
                    confidence: mean(self.confidence[b]),
                    accuracy: mean(self.hits[b]),
                }
            })
            .collect();
        Reliability {
            bins,
            samples: self.samples(),
        }
    }
}

/// `torch.linspace(0, 1, bins + 1)` in f64, value for value (it fills the first
/// half from 0 up and the second from 1 down), followed by 1 again: the upper edge
/// of the bin `[1, 1]`.
pub(crate) fn equal_width_edges(bins: usize) -> Vec<f64> {
    let step = 1.0 / bins as f64;
    let steps = bins + 1;
    let halfway = steps / 2;
    let mut edges: Vec<f64> = (0..=bins)
        .map(|i| {
            if i < halfway {
                i as f64 * step
            } else {
                1.0 - step * (bins - i) as f64
            }
        })
        .collect();
    edges.push(1.0);
    edges
}

/// The bin of a confidence in `[0, 1]`: how many of the `searched` edges are at or
/// below it, less one (`torch.bucketize(right=True) - 1`, `np.searchsorted(side =
/// "right") - 1`). The edges begin at 0, so it is never negative.
pub(crate) fn bin_index(searched: &[f64], confidence: f64) -> usize {
    searched.partition_point(|&edge| edge <= confidence) - 1
}
