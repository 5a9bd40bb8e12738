//! burn-train integration (feature `train`): the training output of a mixed batch
//! and the metrics burn-train's dashboards show for it.
//!
//! - [`MixedClassificationOutput`]: what a `TrainStep` on a [`MixedBatch`] returns.
//!   It implements burn-train's `ItemLazy` and the `Adaptor`s that let Burn's own
//!   `LossMetric` and `AccuracyMetric` work unchanged (accuracy against each sample's
//!   own label), plus [`MixedAccuracyMetric`], the lambda-weighted accuracy.
//! - [`CalibrationErrorMetric`]: expected calibration error (15 equal-width bins,
//!   top-1 confidence) over the epoch; fed by Burn's `ClassificationOutput` (the
//!   validation split) or by [`MixedClassificationOutput`].

use std::sync::Arc;

use burn::tensor::backend::Backend;
use burn::tensor::{ElementConversion, Int, Tensor, Transaction};
use burn::train::ClassificationOutput;
use burn::train::metric::state::{FormatOptions, NumericMetricState};
use burn::train::metric::{
    AccuracyInput, Adaptor, ItemLazy, LossInput, Metric, MetricAttributes, MetricMetadata,
    MetricName, Numeric, NumericAttributes, NumericEntry, SerializedEntry,
};
use burn_flex::Flex;

use crate::batch::{MixedBatch, lambda_weighted_accuracy};
use crate::params::Lambda;

/// The output of a training step on a [`MixedBatch`]: the loss, the logits, both
/// target sets and lambda.
///
/// ```
/// use burn::tensor::{Int, Tensor};
/// use burn::train::metric::{AccuracyInput, Adaptor, LossInput};
/// use burn_mixup::{LabelSmoothingCrossEntropyConfig, MixConfig, MixedClassificationOutput};
/// use burn_ndarray::NdArray;
///
/// let device = Default::default();
/// let mixer = MixConfig::mixup(1.0).with_seed(Some(1)).init()?;
/// let batch = mixer.apply(Tensor::<NdArray, 2>::zeros([4, 3], &device),
///                         Tensor::<NdArray, 1, Int>::from_ints([0, 1, 2, 0], &device))?;
/// let criterion = LabelSmoothingCrossEntropyConfig::new().init::<NdArray>(&device)?;
/// let logits = Tensor::<NdArray, 2>::zeros([4, 3], &device); // model.forward(...)
/// let loss = batch.loss(logits.clone(), &criterion);
/// let output = MixedClassificationOutput::new(&batch, logits, loss);
/// // Burn's own metrics read it through its adaptors.
/// let _: LossInput<NdArray> = output.adapt();
/// let _: AccuracyInput<NdArray> = output.adapt();
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct MixedClassificationOutput<B: Backend> {
    /// The loss, `[1]`.
    pub loss: Tensor<B, 1>,
    /// The logits, `[B, K]`.
    pub logits: Tensor<B, 2>,
    /// Each sample's own targets, `[B]`.
    pub targets: Tensor<B, 1, Int>,
    /// The partners' targets, `[B]`.
    pub partner_targets: Tensor<B, 1, Int>,
    /// The weight of each sample's own target.
    pub lambda: Lambda,
}

impl<B: Backend> MixedClassificationOutput<B> {
    /// The output of a step on `batch` with these logits and loss.
    ///
    /// ```
    /// use burn::tensor::{Int, Tensor};
    /// use burn_mixup::{Lambda, MixedBatch, MixedClassificationOutput};
    /// use burn_ndarray::NdArray;
    ///
    /// let device = Default::default();
    /// let y = Tensor::<NdArray, 1, Int>::from_ints([1, 0], &device);
    /// let batch = MixedBatch::unmixed(Tensor::<NdArray, 2>::zeros([2, 2], &device), y)?;
    /// let output = MixedClassificationOutput::new(&batch, Tensor::zeros([2, 2], &device), Tensor::zeros([1], &device));
    /// assert_eq!(output.lambda, Lambda::Batch(1.0));
    /// # Ok::<(), burn_mixup::MixError>(())
    /// ```
    pub fn new<const D: usize>(
        batch: &MixedBatch<B, D>,
        logits: Tensor<B, 2>,
        loss: Tensor<B, 1>,
    ) -> Self {
        Self {
            loss,
            logits,
            targets: batch.targets().clone(),
            partner_targets: batch.partner_targets().clone(),
            lambda: batch.lambda().clone(),
        }
    }
}

impl<B: Backend> ItemLazy for MixedClassificationOutput<B> {
    // As Burn's `ClassificationOutput`: one read of the device, then the metrics work
    // on burn-flex (CPU) tensors.
    type ItemSync = MixedClassificationOutput<Flex>;

    fn sync(self) -> Self::ItemSync {
        let [logits, loss, targets, partner_targets] = Transaction::default()
            .register(self.logits)
            .register(self.loss)
            .register(self.targets)
            .register(self.partner_targets)
            .execute()
            .try_into()
            .expect("four tensors were registered");
        let device = &Default::default();
        MixedClassificationOutput {
            logits: Tensor::from_data(logits, device),
            loss: Tensor::from_data(loss, device),
            targets: Tensor::from_data(targets, device),
            partner_targets: Tensor::from_data(partner_targets, device),
            lambda: self.lambda,
        }
    }
}

impl<B: Backend> Adaptor<LossInput<B>> for MixedClassificationOutput<B> {
    fn adapt(&self) -> LossInput<B> {
        LossInput::new(self.loss.clone())
    }
}

impl<B: Backend> Adaptor<AccuracyInput<B>> for MixedClassificationOutput<B> {
    fn adapt(&self) -> AccuracyInput<B> {
        AccuracyInput::new(self.logits.clone(), self.targets.clone())
    }
}

impl<B: Backend> Adaptor<MixedAccuracyInput<B>> for MixedClassificationOutput<B> {
    fn adapt(&self) -> MixedAccuracyInput<B> {
        MixedAccuracyInput {
            logits: self.logits.clone(),
            targets: self.targets.clone(),
            partner_targets: self.partner_targets.clone(),
            lambda: self.lambda.clone(),
        }
    }
}

impl<B: Backend> Adaptor<CalibrationInput<B>> for MixedClassificationOutput<B> {
    fn adapt(&self) -> CalibrationInput<B> {
        CalibrationInput::new(self.logits.clone(), self.targets.clone())
    }
}

impl<B: Backend> Adaptor<CalibrationInput<B>> for ClassificationOutput<B> {
    fn adapt(&self) -> CalibrationInput<B> {
        CalibrationInput::new(self.output.clone(), self.targets.clone())
    }
}

/// What [`MixedAccuracyMetric`] reads: logits, both target sets and lambda, adapted
/// from a [`MixedClassificationOutput`].
///
/// ```
/// use burn::tensor::{Int, Tensor};
/// use burn::train::metric::Adaptor;
/// use burn_mixup::{MixedAccuracyInput, MixedBatch, MixedClassificationOutput};
/// use burn_ndarray::NdArray;
///
/// let device = Default::default();
/// let y = Tensor::<NdArray, 1, Int>::from_ints([1, 0], &device);
/// let batch = MixedBatch::unmixed(Tensor::<NdArray, 2>::zeros([2, 2], &device), y)?;
/// let output = MixedClassificationOutput::new(&batch, Tensor::zeros([2, 2], &device), Tensor::zeros([1], &device));
/// let _input: MixedAccuracyInput<NdArray> = output.adapt();
/// # Ok::<(), burn_mixup::MixError>(())
/// ```
#[derive(Debug, Clone)]
pub struct MixedAccuracyInput<B: Backend> {
    logits: Tensor<B, 2>,
    targets: Tensor<B, 1, Int>,
    partner_targets: Tensor<B, 1, Int>,
    lambda: Lambda,
}

/// The lambda-weighted accuracy of mixed batches,
/// `mean_i(lambda_i * hit_i(a) + (1 - lambda_i) * hit_i(b))` in percent, the
/// accuracy the mixup paper's training log reports. Averaged over the epoch,
/// weighted by batch size.
///
/// ```
/// use burn::tensor::{Int, Tensor};
/// use burn::train::metric::{Adaptor, Metric, MetricMetadata, Numeric};
/// use burn_mixup::{MixParams, MixedAccuracyMetric, MixedClassificationOutput};
/// use burn_ndarray::NdArray;
///
/// let device = Default::default();
/// let y = Tensor::<NdArray, 1, Int>::from_ints([0, 1], &device);
/// let batch = MixParams::blend(0.8, vec![1, 0])?.mix_batch(Tensor::<NdArray, 2>::zeros([2, 1], &device), y)?;
/// // Both predict class 0: sample 0 hits its own label, sample 1 its partner's.
/// let logits = Tensor::<NdArray, 2>::from_floats([[5.0, 0.0], [4.0, 0.0]], &device);
/// let output = MixedClassificationOutput::new(&batch, logits, Tensor::zeros([1], &device));
/// let mut metric = MixedAccuracyMetric::<NdArray>::new();
/// # let metadata = burn::train::metric::MetricMetadata {
/// #     progress: burn::data::dataloader::Progress::new(1, 1),
/// #     global_progress: burn::data::dataloader::Progress::new(0, 1),
/// #     iteration: Some(0),
/// #     lr: None,
/// # };
/// metric.update(&output.adapt(), &metadata);
/// assert!((metric.value().current() - 50.0).abs() < 1e-9); // (0.8 + 0.2) / 2
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct MixedAccuracyMetric<B: Backend> {
    name: MetricName,
    state: NumericMetricState,
    _backend: std::marker::PhantomData<B>,
}

impl<B: Backend> Default for MixedAccuracyMetric<B> {
    fn default() -> Self {
        Self::new()
    }
}

impl<B: Backend> MixedAccuracyMetric<B> {
    /// The metric, named "Mixed Accuracy".
    ///
    /// ```
    /// use burn::train::metric::Metric;
    /// let metric = burn_mixup::MixedAccuracyMetric::<burn_ndarray::NdArray>::new();
    /// assert_eq!(metric.name().as_str(), "Mixed Accuracy");
    /// ```
    pub fn new() -> Self {
        Self {
            name: Arc::new("Mixed Accuracy".to_string()),
            state: NumericMetricState::default(),
            _backend: std::marker::PhantomData,
        }
    }
}

fn host_ints<B: Backend>(tensor: Tensor<B, 1, Int>) -> Vec<i64> {
    tensor
        .into_data()
        .convert::<i64>()
        .into_vec::<i64>()
        .expect("converted to i64 just above")
}

fn host_floats<B: Backend>(tensor: Tensor<B, 2>) -> Vec<f64> {
    tensor
        .into_data()
        .convert::<f64>()
        .into_vec::<f64>()
        .expect("converted to f64 just above")
}

impl<B: Backend> Metric for MixedAccuracyMetric<B> {
    type Input = MixedAccuracyInput<B>;

    fn update(&mut self, input: &Self::Input, _metadata: &MetricMetadata) -> SerializedEntry {
        let [batch, _] = input.logits.dims();
        let accuracy = lambda_weighted_accuracy(
            input.logits.clone(),
            &input.targets,
            &input.partner_targets,
            &input.lambda,
        );
        let accuracy = 100.0 * accuracy.into_scalar().elem::<f64>();
        self.state.update(
            accuracy,
            batch,
            FormatOptions::new(self.name()).unit("%").precision(2),
        )
    }

    fn clear(&mut self) {
        self.state.reset();
    }

    fn name(&self) -> MetricName {
        self.name.clone()
    }

    fn attributes(&self) -> MetricAttributes {
        NumericAttributes {
            unit: Some("%".to_string()),
            higher_is_better: true,
        }
        .into()
    }
}

impl<B: Backend> Numeric for MixedAccuracyMetric<B> {
    fn value(&self) -> NumericEntry {
        self.state.current_value()
    }

    fn running_value(&self) -> NumericEntry {
        self.state.running_value()
    }
}

/// What [`CalibrationErrorMetric`] reads: logits and targets, adapted from a
/// [`MixedClassificationOutput`] or Burn's `ClassificationOutput`.
///
/// ```
/// use burn::tensor::{Int, Tensor};
/// use burn::train::metric::Adaptor;
/// use burn::train::ClassificationOutput;
/// use burn_mixup::CalibrationInput;
/// use burn_ndarray::NdArray;
///
/// let device = Default::default();
/// let output = ClassificationOutput::new(Tensor::<NdArray, 1>::zeros([1], &device),
///     Tensor::zeros([2, 3], &device), Tensor::<NdArray, 1, Int>::from_ints([0, 2], &device));
/// let _input: CalibrationInput<NdArray> = output.adapt();
/// ```
#[derive(Debug, Clone)]
pub struct CalibrationInput<B: Backend> {
    logits: Tensor<B, 2>,
    targets: Tensor<B, 1, Int>,
}

impl<B: Backend> CalibrationInput<B> {
    /// Logits `[B, K]` and class-index targets `[B]`.
    ///
    /// ```
    /// use burn::tensor::{Int, Tensor};
    /// use burn_mixup::CalibrationInput;
    /// use burn_ndarray::NdArray;
    /// let device = Default::default();
    /// let input = CalibrationInput::new(Tensor::<NdArray, 2>::zeros([2, 3], &device),
    ///                                   Tensor::<NdArray, 1, Int>::from_ints([0, 2], &device));
    /// ```
    pub fn new(logits: Tensor<B, 2>, targets: Tensor<B, 1, Int>) -> Self {
        Self { logits, targets }
    }
}

/// Number of equal-width confidence bins of [`CalibrationErrorMetric`].
const BINS: usize = 15;

/// Expected calibration error (Guo et al., 2017) in percent: 15 equal-width bins
/// of top-1 confidence (softmax of the logits), `sum_b (n_b / N) * |acc_b - conf_b|`
/// over every sample of the epoch so far. Lower is better; label smoothing and Mixup
/// both lower it.
///
/// ECE is not a mean of per-batch values, but burn-train's epoch summary averages
/// the logged per-batch entries. Each batch therefore logs the increment
/// `(N_t * ECE_t - N_{t-1} * ECE_{t-1}) / n_t`, whose batch-size-weighted mean is
/// exactly the epoch's ECE; the dashboard shows the running ECE.
///
/// ```
/// use burn::tensor::{Int, Tensor};
/// use burn::train::metric::{Metric, Numeric};
/// use burn_mixup::{CalibrationErrorMetric, CalibrationInput};
/// use burn_ndarray::NdArray;
///
/// let device = Default::default();
/// // Two samples, both predicted with confidence 0.5 (logits tied), one right.
/// let input = CalibrationInput::new(Tensor::<NdArray, 2>::zeros([2, 2], &device),
///                                   Tensor::<NdArray, 1, Int>::from_ints([0, 1], &device));
/// let mut metric = CalibrationErrorMetric::<NdArray>::new();
/// # let metadata = burn::train::metric::MetricMetadata {
/// #     progress: burn::data::dataloader::Progress::new(1, 1),
/// #     global_progress: burn::data::dataloader::Progress::new(0, 1),
/// #     iteration: Some(0),
/// #     lr: None,
/// # };
/// metric.update(&input, &metadata);
/// assert!(metric.value().current().abs() < 1e-9); // accuracy 0.5 = confidence 0.5
/// ```
#[derive(Clone)]
pub struct CalibrationErrorMetric<B: Backend> {
    name: MetricName,
    /// Per bin: samples, summed confidence, summed hits.
    bins: [(usize, f64, f64); BINS],
    /// The ECE and sample count after the previous batch.
    previous: (f64, usize),
    _backend: std::marker::PhantomData<B>,
}

impl<B: Backend> Default for CalibrationErrorMetric<B> {
    fn default() -> Self {
        Self::new()
    }
}

impl<B: Backend> CalibrationErrorMetric<B> {
    /// The metric, named "Calibration Error (ECE)".
    ///
    /// ```
    /// use burn::train::metric::Metric;
    /// let metric = burn_mixup::CalibrationErrorMetric::<burn_ndarray::NdArray>::new();
    /// assert_eq!(metric.name().as_str(), "Calibration Error (ECE)");
    /// ```
    pub fn new() -> Self {
        Self {
            name: Arc::new("Calibration Error (ECE)".to_string()),
            bins: [(0, 0.0, 0.0); BINS],
            previous: (0.0, 0),
            _backend: std::marker::PhantomData,
        }
    }

    fn ece(&self) -> (f64, usize) {
        let total: usize = self.bins.iter().map(|b| b.0).sum();
        if total == 0 {
            return (0.0, 0);
        }
        let gap: f64 = self
            .bins
            .iter()
            .map(|&(_, confidence, hits)| (hits - confidence).abs())
            .sum();
        (100.0 * gap / total as f64, total)
    }
}

impl<B: Backend> Metric for CalibrationErrorMetric<B> {
    type Input = CalibrationInput<B>;

    fn update(&mut self, input: &Self::Input, _metadata: &MetricMetadata) -> SerializedEntry {
        let [batch, classes] = input.logits.dims();
        let probabilities = burn::tensor::activation::softmax(input.logits.clone(), 1);
        let probabilities = host_floats(probabilities);
        let targets = host_ints(input.targets.clone());
        for (row, &target) in targets.iter().enumerate() {
            let p = &probabilities[row * classes..(row + 1) * classes];
            // Top-1 class and its confidence; ties go to the first class, as argmax.
            let (predicted, confidence) = p.iter().enumerate().fold(
                (0, f64::MIN),
                |best, (k, &v)| if v > best.1 { (k, v) } else { best },
            );
            // Bins (b/15, (b+1)/15]; a confidence of exactly 0 cannot occur.
            let bin = ((confidence * BINS as f64).ceil() as usize).clamp(1, BINS) - 1;
            let entry = &mut self.bins[bin];
            entry.0 += 1;
            entry.1 += confidence;
            entry.2 += f64::from(u8::from(predicted as i64 == target));
        }
        let (ece, total) = self.ece();
        let (previous_ece, previous_total) = self.previous;
        self.previous = (ece, total);
        let increment =
            (ece * total as f64 - previous_ece * previous_total as f64) / batch.max(1) as f64;
        let serialized = NumericEntry::Aggregated {
            aggregated_value: increment,
            count: batch,
        }
        .serialize();
        SerializedEntry::new(format!("epoch {ece:.2} %"), serialized)
    }

    fn clear(&mut self) {
        self.bins = [(0, 0.0, 0.0); BINS];
        self.previous = (0.0, 0);
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

impl<B: Backend> Numeric for CalibrationErrorMetric<B> {
    fn value(&self) -> NumericEntry {
        NumericEntry::Value(self.ece().0)
    }

    fn running_value(&self) -> NumericEntry {
        let (ece, total) = self.ece();
        NumericEntry::Aggregated {
            aggregated_value: ece,
            count: total,
        }
    }
}
