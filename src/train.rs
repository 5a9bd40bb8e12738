//! burn-train integration (feature `train`): the training output of a mixed batch
//! and the lambda-weighted accuracy burn-train's dashboards show for it.
//!
//! [`MixedClassificationOutput`] is what a `TrainStep` on a [`MixedBatch`] returns. It
//! implements burn-train's `ItemLazy` and the `Adaptor`s that let Burn's own
//! `LossMetric` and `AccuracyMetric` work unchanged (accuracy against each sample's
//! own label), plus [`MixedAccuracyMetric`], the lambda-weighted accuracy. The
//! calibration metric is in [`CalibrationErrorMetric`](crate::CalibrationErrorMetric).

use std::sync::Arc;

use burn::tensor::{ExecutionError, Int, Tensor, TensorReadError};
use burn::train::metric::state::{FormatOptions, NumericMetricState};
use burn::train::metric::{
    AccuracyInput, Adaptor, ItemLazy, LossInput, Metric, MetricAttributes, MetricMetadata,
    MetricName, Numeric, NumericAttributes, NumericEntry, SerializedEntry,
};

use crate::batch::{MixedBatch, lambda_weighted_accuracy};
use crate::calibration::metric::CalibrationInput;
use crate::lambda::Lambda;
use crate::regmixup::RegMixupBatch;

/// The output of a training step on a [`MixedBatch`]: the loss, the logits, both
/// target sets and lambda.
///
/// ```
/// use burn::tensor::{Device, Int, Tensor};
/// use burn::train::metric::{AccuracyInput, Adaptor, LossInput};
/// use burn_mixup::{LabelSmoothingCrossEntropyConfig, MixConfig, MixedClassificationOutput};
///
/// let device = Device::flex();
/// let mixer = MixConfig::mixup(1.0).with_seed(Some(1)).init()?;
/// let batch = mixer.apply(Tensor::<2>::zeros([4, 3], &device),
///                         Tensor::<1, Int>::from_ints([0, 1, 2, 0], &device))?;
/// let criterion = LabelSmoothingCrossEntropyConfig::new().init(&device)?;
/// let logits = Tensor::<2>::zeros([4, 3], &device); // model.forward(...)
/// let loss = batch.loss(logits.clone(), &criterion);
/// let output = MixedClassificationOutput::new(&batch, logits, loss);
/// // Burn's own metrics read it through its adaptors.
/// let _: LossInput = output.adapt();
/// let _: AccuracyInput = output.adapt();
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct MixedClassificationOutput {
    /// The loss, `[1]`.
    pub loss: Tensor<1>,
    /// The logits, `[B, K]`.
    pub logits: Tensor<2>,
    /// Each sample's own targets, `[B]`.
    pub targets: Tensor<1, Int>,
    /// The partners' targets, `[B]`.
    pub partner_targets: Tensor<1, Int>,
    /// The weight of each sample's own target.
    pub lambda: Lambda,
}

impl MixedClassificationOutput {
    /// The output of a step on `batch` with these logits and loss.
    ///
    /// ```
    /// use burn::tensor::{Device, Int, Tensor};
    /// use burn_mixup::{Lambda, MixedBatch, MixedClassificationOutput};
    ///
    /// let device = Device::flex();
    /// let y = Tensor::<1, Int>::from_ints([1, 0], &device);
    /// let batch = MixedBatch::unmixed(Tensor::<2>::zeros([2, 2], &device), y)?;
    /// let output = MixedClassificationOutput::new(&batch, Tensor::zeros([2, 2], &device), Tensor::zeros([1], &device));
    /// assert_eq!(output.lambda, Lambda::Batch(1.0));
    /// # Ok::<(), burn_mixup::MixError>(())
    /// ```
    pub fn new<const D: usize>(batch: &MixedBatch<D>, logits: Tensor<2>, loss: Tensor<1>) -> Self {
        Self {
            loss,
            logits,
            targets: batch.targets().clone(),
            partner_targets: batch.partner_targets().clone(),
            lambda: batch.lambda().clone(),
        }
    }
}

impl MixedClassificationOutput {
    /// The output of a RegMixup step: the loss over all `2B` rows, and the clean
    /// rows' logits and labels for the metrics (lambda 1), so accuracy and
    /// calibration are those of unmixed data.
    ///
    /// # Panics
    /// Unless the logits have `2B` rows.
    ///
    /// ```
    /// use burn::tensor::{Device, Int, Tensor};
    /// use burn_mixup::{Lambda, MixConfig, MixedClassificationOutput};
    ///
    /// let device = Device::flex();
    /// let batch = MixConfig::mixup(20.0).init()?.apply_regmixup(
    ///     Tensor::<2>::zeros([3, 4], &device), Tensor::<1, Int>::from_ints([0, 1, 2], &device), 1.0)?;
    /// let logits = Tensor::<2>::zeros([6, 3], &device); // model.forward(batch.inputs().clone())
    /// let output = MixedClassificationOutput::from_regmixup(&batch, logits, Tensor::zeros([1], &device));
    /// assert_eq!((output.logits.dims(), output.lambda), ([3, 3], Lambda::Batch(1.0)));
    /// # Ok::<(), burn_mixup::MixError>(())
    /// ```
    pub fn from_regmixup<const D: usize>(
        batch: &RegMixupBatch<D>,
        logits: Tensor<2>,
        loss: Tensor<1>,
    ) -> Self {
        let (clean, _) = batch
            .split(logits)
            .unwrap_or_else(|err| panic!("MixedClassificationOutput::from_regmixup: {err}"));
        Self {
            loss,
            logits: clean,
            targets: batch.clean_targets().clone(),
            partner_targets: batch.clean_targets().clone(),
            lambda: Lambda::Batch(1.0),
        }
    }
}

impl ItemLazy for MixedClassificationOutput {
    /// As Burn's `ClassificationOutput`: no read-back here (the metrics read their
    /// scalars on the device), only a flush of the producing stream, and the tensors
    /// leave the autodiff graph so the metric thread holds no tape.
    fn sync(self) -> Result<Self, ExecutionError> {
        self.loss.device().flush()?;
        Ok(Self {
            loss: self.loss.without_autodiff(),
            logits: self.logits.without_autodiff(),
            targets: self.targets.without_autodiff(),
            partner_targets: self.partner_targets.without_autodiff(),
            lambda: self.lambda,
        })
    }
}

impl Adaptor<LossInput> for MixedClassificationOutput {
    fn adapt(&self) -> LossInput {
        LossInput::new(self.loss.clone())
    }
}

impl Adaptor<AccuracyInput> for MixedClassificationOutput {
    fn adapt(&self) -> AccuracyInput {
        AccuracyInput::new(self.logits.clone(), self.targets.clone())
    }
}

impl Adaptor<MixedAccuracyInput> for MixedClassificationOutput {
    fn adapt(&self) -> MixedAccuracyInput {
        MixedAccuracyInput {
            logits: self.logits.clone(),
            targets: self.targets.clone(),
            partner_targets: self.partner_targets.clone(),
            lambda: self.lambda.clone(),
        }
    }
}

impl Adaptor<CalibrationInput> for MixedClassificationOutput {
    fn adapt(&self) -> CalibrationInput {
        CalibrationInput::new(self.logits.clone(), self.targets.clone())
    }
}

/// What [`MixedAccuracyMetric`] reads: logits, both target sets and lambda, adapted
/// from a [`MixedClassificationOutput`].
///
/// ```
/// use burn::tensor::{Device, Int, Tensor};
/// use burn::train::metric::Adaptor;
/// use burn_mixup::{MixedAccuracyInput, MixedBatch, MixedClassificationOutput};
///
/// let device = Device::flex();
/// let y = Tensor::<1, Int>::from_ints([1, 0], &device);
/// let batch = MixedBatch::unmixed(Tensor::<2>::zeros([2, 2], &device), y)?;
/// let output = MixedClassificationOutput::new(&batch, Tensor::zeros([2, 2], &device), Tensor::zeros([1], &device));
/// let _input: MixedAccuracyInput = output.adapt();
/// # Ok::<(), burn_mixup::MixError>(())
/// ```
#[derive(Debug, Clone)]
pub struct MixedAccuracyInput {
    logits: Tensor<2>,
    targets: Tensor<1, Int>,
    partner_targets: Tensor<1, Int>,
    lambda: Lambda,
}

/// The lambda-weighted accuracy of mixed batches,
/// `mean_i(lambda_i * hit_i(a) + (1 - lambda_i) * hit_i(b))` in percent, the
/// accuracy the mixup paper's training log reports. Averaged over the epoch,
/// weighted by batch size.
///
/// ```
/// use burn::data::dataloader::Progress;
/// use burn::tensor::{Device, Int, Tensor};
/// use burn::train::metric::{Adaptor, Metric, MetricMetadata, Numeric};
/// use burn_mixup::{MixParams, MixedAccuracyMetric, MixedClassificationOutput};
///
/// let device = Device::flex();
/// let y = Tensor::<1, Int>::from_ints([0, 1], &device);
/// let batch = MixParams::blend(0.8, vec![1, 0])?.mix_batch(Tensor::<2>::zeros([2, 1], &device), y)?;
/// // Both predict class 0: sample 0 hits its own label, sample 1 its partner's.
/// let logits = Tensor::<2>::from_floats([[5.0, 0.0], [4.0, 0.0]], &device);
/// let output = MixedClassificationOutput::new(&batch, logits, Tensor::zeros([1], &device));
/// let mut metric = MixedAccuracyMetric::new();
/// let metadata = MetricMetadata { progress: Progress::new(1, 1, None), iteration: Some(0), lr: None };
/// metric.update(&output.adapt(), &metadata)?;
/// assert!((metric.value().unwrap().current() - 50.0).abs() < 1e-9); // (0.8 + 0.2) / 2
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct MixedAccuracyMetric {
    name: MetricName,
    state: NumericMetricState,
}

impl Default for MixedAccuracyMetric {
    fn default() -> Self {
        Self::new()
    }
}

impl MixedAccuracyMetric {
    /// The metric, named "Mixed Accuracy".
    ///
    /// ```
    /// use burn::train::metric::Metric;
    /// let metric = burn_mixup::MixedAccuracyMetric::new();
    /// assert_eq!(metric.name().as_str(), "Mixed Accuracy");
    /// ```
    pub fn new() -> Self {
        Self {
            name: Arc::new("Mixed Accuracy".to_string()),
            state: NumericMetricState::default(),
        }
    }

    fn format(&self) -> FormatOptions {
        FormatOptions::new(self.name()).unit("%").precision(2)
    }
}

impl Metric for MixedAccuracyMetric {
    type Input = MixedAccuracyInput;

    fn update(
        &mut self,
        input: &Self::Input,
        _metadata: &MetricMetadata,
    ) -> Result<SerializedEntry, TensorReadError> {
        let [batch, _] = input.logits.dims();
        let accuracy = lambda_weighted_accuracy(
            input.logits.clone(),
            &input.targets,
            &input.partner_targets,
            &input.lambda,
        );
        let accuracy = 100.0 * accuracy.try_into_scalar::<f64>()?;
        self.state.update(accuracy, batch);
        Ok(self.state.compute_update(self.format()))
    }

    fn compute(&mut self) -> Result<SerializedEntry, TensorReadError> {
        Ok(self.state.compute_final(self.format()))
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

impl Numeric for MixedAccuracyMetric {
    fn value(&self) -> Option<NumericEntry> {
        Some(self.state.current_value())
    }

    fn running_value(&self) -> Option<NumericEntry> {
        Some(self.state.running_value())
    }

    fn final_value(&self) -> NumericEntry {
        self.state.final_value()
    }
}
