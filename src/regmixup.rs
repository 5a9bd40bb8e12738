//! RegMixup (Pinto et al. 2022, *Using Mixup as a Regularizer Can Surprisingly
//! Improve Accuracy and Out-of-Distribution Robustness*): the clean batch and its
//! mixed copy in one forward pass, `loss = CE(clean) + eta * mixup criterion(mixed)`.
//!
//! [`RegMixupBatch`] holds both halves; [`Mixer::apply_regmixup`] makes one, and
//! [`MixupBatcher::regmixup`] turns a mixing batcher into a [`RegMixupBatcher`].

use std::marker::PhantomData;

use burn::data::dataloader::batcher::Batcher;
use burn::tensor::{Device, Int, Tensor};

use crate::batch::{MixedBatch, lambda_weighted_accuracy};
use crate::batcher::MixupBatcher;
use crate::error::{LossError, MixError};
use crate::lambda::Lambda;
use crate::loss::LabelSmoothingCrossEntropy;
use crate::mixer::Mixer;
use crate::params::check_batch;

/// A RegMixup batch: `inputs()` are the `B` clean samples followed by their `B`
/// mixed copies (`[2B, ...]`), as the authors' code concatenates them
/// (`FrancescoPinto/RegMixup`, `models/regmixup.py`), so BatchNorm normalises over
/// all `2B` rows. The model's logits for those rows go to [`loss`](Self::loss):
/// `CE(clean logits, y) + eta * (lambda CE(mixed, y) + (1 - lambda) CE(mixed, y_b))`,
/// each term with the criterion's smoothing, weights and reduction.
///
/// **Cost:** every step runs the model on twice the batch: a ResNet-18 step took
/// 1.80x to 1.86x a Mixup step at the same batch size (`cargo bench --bench
/// resnet_step`, BENCHMARKS.md §14).
/// The paper uses Mixup with a large alpha (20 for CIFAR-10, 10 for CIFAR-100) and
/// `eta = 1`; every method of the mixer works. With a disabled mixer the mixed half
/// is a clean copy and the loss is `(1 + eta) CE`.
///
/// ```
/// use burn::tensor::{Device, Int, Tensor};
/// use burn_mixup::{LabelSmoothingCrossEntropyConfig, MixConfig};
///
/// let device = Device::flex();
/// let mixer = MixConfig::mixup(20.0).with_seed(Some(0)).init()?;
/// let images = Tensor::<4>::ones([4, 3, 8, 8], &device);
/// let labels = Tensor::<1, Int>::from_ints([0, 1, 2, 3], &device);
/// let batch = mixer.apply_regmixup(images, labels, 1.0)?;
/// assert_eq!(batch.inputs().dims(), [8, 3, 8, 8]); // clean rows, then mixed rows
///
/// let ce = LabelSmoothingCrossEntropyConfig::new().with_smoothing(0.0).init(&device)?;
/// let logits = Tensor::<2>::zeros([8, 10], &device); // model.forward(batch.inputs().clone())
/// let loss: f32 = batch.loss(logits, &ce).into_scalar();
/// assert!((loss - 2.0 * 10f32.ln()).abs() < 1e-5); // CE + 1.0 * CE on uniform logits
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct RegMixupBatch<const D: usize> {
    inputs: Tensor<D>,
    clean_targets: Tensor<1, Int>,
    mixed: MixedBatch<D>,
    eta: f64,
}

impl<const D: usize> RegMixupBatch<D> {
    /// The `2B` rows the model sees: clean samples, then mixed ones.
    ///
    /// ```
    /// # use burn::tensor::{Device, Int, Tensor};
    /// # let device = Device::flex();
    /// let mixer = burn_mixup::MixConfig::mixup(1.0).init()?;
    /// let batch = mixer.apply_regmixup(Tensor::<2>::zeros([3, 4], &device),
    ///                                  Tensor::<1, Int>::from_ints([0, 1, 2], &device), 1.0)?;
    /// assert_eq!(batch.inputs().dims(), [6, 4]);
    /// # Ok::<(), burn_mixup::MixError>(())
    /// ```
    pub fn inputs(&self) -> &Tensor<D> {
        &self.inputs
    }

    /// The clean samples' targets, `[B]`.
    ///
    /// ```
    /// # use burn::tensor::{Device, Int, Tensor};
    /// # let device = Device::flex();
    /// let batch = burn_mixup::MixConfig::mixup(1.0).init()?.apply_regmixup(
    ///     Tensor::<2>::zeros([2, 4], &device), Tensor::<1, Int>::from_ints([5, 7], &device), 1.0)?;
    /// assert_eq!(batch.clean_targets().clone().try_into_vec_as::<i64>().unwrap(), vec![5, 7]);
    /// # Ok::<(), burn_mixup::MixError>(())
    /// ```
    pub fn clean_targets(&self) -> &Tensor<1, Int> {
        &self.clean_targets
    }

    /// The mixed half as a [`MixedBatch`]: its inputs, both target sets, lambda
    /// and the draw (record its [`draw_index`](crate::MixParams::draw_index) to
    /// resume).
    ///
    /// ```
    /// # use burn::tensor::{Device, Int, Tensor};
    /// # let device = Device::flex();
    /// let batch = burn_mixup::MixConfig::mixup(1.0).init()?.apply_regmixup(
    ///     Tensor::<2>::zeros([2, 4], &device), Tensor::<1, Int>::from_ints([5, 7], &device), 1.0)?;
    /// assert_eq!(batch.mixed().params().draw_index(), Some(0));
    /// # Ok::<(), burn_mixup::MixError>(())
    /// ```
    pub fn mixed(&self) -> &MixedBatch<D> {
        &self.mixed
    }

    /// The weight of the mixed term.
    ///
    /// ```
    /// # use burn::tensor::{Device, Int, Tensor};
    /// # let device = Device::flex();
    /// let batch = burn_mixup::MixConfig::mixup(1.0).init()?.apply_regmixup(
    ///     Tensor::<2>::zeros([2, 4], &device), Tensor::<1, Int>::from_ints([5, 7], &device), 0.5)?;
    /// assert_eq!(batch.eta(), 0.5);
    /// # Ok::<(), burn_mixup::MixError>(())
    /// ```
    pub fn eta(&self) -> f64 {
        self.eta
    }

    /// The number of clean samples `B` (the model sees `2B` rows).
    ///
    /// ```
    /// # use burn::tensor::{Device, Int, Tensor};
    /// # let device = Device::flex();
    /// let batch = burn_mixup::MixConfig::mixup(1.0).init()?.apply_regmixup(
    ///     Tensor::<2>::zeros([2, 4], &device), Tensor::<1, Int>::from_ints([5, 7], &device), 1.0)?;
    /// assert_eq!(batch.batch_size(), 2);
    /// # Ok::<(), burn_mixup::MixError>(())
    /// ```
    pub fn batch_size(&self) -> usize {
        self.mixed.batch_size()
    }

    /// `CE(logits[..B], y) + eta * mixup criterion(logits[B..])` for the model's
    /// logits `[2B, K]` on [`inputs`](Self::inputs).
    ///
    /// # Panics
    /// Where [`try_loss`](Self::try_loss) returns an error, with its message.
    ///
    /// ```
    /// use burn::tensor::{Device, Int, Tensor};
    /// use burn_mixup::{LabelSmoothingCrossEntropyConfig, MixParams};
    ///
    /// let device = Device::flex();
    /// let ce = LabelSmoothingCrossEntropyConfig::new().with_smoothing(0.0).init(&device)?;
    /// let (x, y) = (Tensor::<2>::zeros([2, 2], &device), Tensor::<1, Int>::from_ints([0, 1], &device));
    /// let mixed = MixParams::blend(0.3, vec![1, 0])?.mix_batch(x.clone(), y.clone())?;
    /// let batch = burn_mixup::RegMixupBatch::new(x, y, mixed, 2.0)?;
    /// let logits = Tensor::<2>::from_floats([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 0.0]], &device);
    /// let (good, bad) = ((1.0 + (-1f32).exp()).ln(), (1.0 + 1f32.exp()).ln());
    /// let expected = good + 2.0 * (0.3 * (good + bad) / 2.0 + 0.7 * (bad + good) / 2.0);
    /// assert!((batch.loss(logits, &ce).into_scalar::<f32>() - expected).abs() < 1e-6);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn loss(&self, logits: Tensor<2>, criterion: &LabelSmoothingCrossEntropy) -> Tensor<1> {
        self.try_loss(logits, criterion)
            .unwrap_or_else(|err| panic!("RegMixupBatch::loss: {err}"))
    }

    /// Like [`loss`](Self::loss), returning shape and option errors.
    ///
    /// # Errors
    /// [`LossError::BatchSizeMismatch`] unless the logits have `2B` rows, and the
    /// errors of [`MixedBatch::try_loss`].
    ///
    /// ```
    /// # use burn::tensor::{Device, Int, Tensor};
    /// # use burn_mixup::{LabelSmoothingCrossEntropyConfig, LossError};
    /// # let device = Device::flex();
    /// let batch = burn_mixup::MixConfig::mixup(1.0).init()?.apply_regmixup(
    ///     Tensor::<2>::zeros([2, 4], &device), Tensor::<1, Int>::from_ints([0, 1], &device), 1.0)?;
    /// let ce = LabelSmoothingCrossEntropyConfig::new().init(&device)?;
    /// let err = batch.try_loss(Tensor::zeros([2, 3], &device), &ce).unwrap_err();
    /// assert_eq!(err, LossError::BatchSizeMismatch { logits: 2, targets: 4 });
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn try_loss(
        &self,
        logits: Tensor<2>,
        criterion: &LabelSmoothingCrossEntropy,
    ) -> Result<Tensor<1>, LossError> {
        let (clean, mixed) = self.split(logits)?;
        let clean = criterion.try_forward(clean, self.clean_targets.clone())?;
        let mixed = self.mixed.try_loss(mixed, criterion)?;
        Ok(clean + mixed.mul_scalar(self.eta))
    }

    /// Top-1 accuracy of the clean rows against their labels, `[1]`: what the model
    /// would score on unmixed data.
    ///
    /// # Panics
    /// Unless the logits have `2B` rows.
    ///
    /// ```
    /// # use burn::tensor::{Device, Int, Tensor};
    /// # let device = Device::flex();
    /// let batch = burn_mixup::MixConfig::mixup(1.0).init()?.apply_regmixup(
    ///     Tensor::<2>::zeros([2, 4], &device), Tensor::<1, Int>::from_ints([0, 1], &device), 1.0)?;
    /// let logits = Tensor::<2>::from_floats([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]], &device);
    /// assert_eq!(batch.accuracy(logits).into_scalar::<f32>(), 0.5);
    /// # Ok::<(), burn_mixup::MixError>(())
    /// ```
    pub fn accuracy(&self, logits: Tensor<2>) -> Tensor<1> {
        let (clean, _) = self
            .split(logits)
            .unwrap_or_else(|err| panic!("RegMixupBatch::accuracy: {err}"));
        let targets = &self.clean_targets;
        lambda_weighted_accuracy(clean, targets, targets, &Lambda::Batch(1.0))
    }

    /// Logits `[2B, K]` split into the clean rows and the mixed rows.
    pub(crate) fn split(&self, logits: Tensor<2>) -> Result<(Tensor<2>, Tensor<2>), LossError> {
        let [rows, _] = logits.dims();
        let b = self.batch_size();
        if rows != 2 * b {
            return Err(LossError::BatchSizeMismatch {
                logits: rows,
                targets: 2 * b,
            });
        }
        Ok((logits.clone().narrow(0, 0, b), logits.narrow(0, b, b)))
    }

    /// A RegMixup batch from its parts: the clean inputs and targets, their mixed
    /// copy (from [`Mixer::apply`] or [`MixParams::mix_batch`](crate::MixParams::mix_batch)
    /// on the same samples) and `eta`.
    ///
    /// # Errors
    /// [`MixError::InvalidEta`] unless `eta` is finite and >= 0;
    /// [`MixError::BatchSizeMismatch`] when the parts disagree on the batch.
    ///
    /// ```
    /// use burn::tensor::{Device, Int, Tensor};
    /// use burn_mixup::{MixError, MixParams, RegMixupBatch};
    /// let device = Device::flex();
    /// let (x, y) = (Tensor::<2>::zeros([2, 3], &device), Tensor::<1, Int>::from_ints([0, 1], &device));
    /// let mixed = MixParams::blend(0.5, vec![1, 0])?.mix_batch(x.clone(), y.clone())?;
    /// assert_eq!(RegMixupBatch::new(x, y, mixed, -1.0).unwrap_err(), MixError::InvalidEta(-1.0));
    /// # Ok::<(), MixError>(())
    /// ```
    pub fn new(
        inputs: Tensor<D>,
        targets: Tensor<1, Int>,
        mixed: MixedBatch<D>,
        eta: f64,
    ) -> Result<Self, MixError> {
        check_eta(eta)?;
        check_batch(&inputs.dims(), &targets)?;
        check_batch(&mixed.inputs().dims(), &targets)?;
        Ok(Self {
            inputs: Tensor::cat(vec![inputs, mixed.inputs().clone()], 0),
            clean_targets: targets,
            mixed,
            eta,
        })
    }
}

impl Mixer {
    /// Mixes a batch for RegMixup: the clean batch, its mixed copy (this mixer's next
    /// draw) and `eta`, the weight of the mixed term.
    ///
    /// # Errors
    /// The errors of [`apply`](Self::apply) and of [`RegMixupBatch::new`].
    ///
    /// ```
    /// use burn::tensor::{Device, Int, Tensor};
    /// let device = Device::flex();
    /// let mixer = burn_mixup::MixConfig::mixup(10.0).init()?;
    /// let batch = mixer.apply_regmixup(Tensor::<2>::ones([4, 2], &device),
    ///                                  Tensor::<1, Int>::from_ints([0, 1, 0, 1], &device), 1.0)?;
    /// assert_eq!(batch.mixed().batch_size(), 4);
    /// # Ok::<(), burn_mixup::MixError>(())
    /// ```
    pub fn apply_regmixup<const D: usize>(
        &self,
        inputs: Tensor<D>,
        targets: Tensor<1, Int>,
        eta: f64,
    ) -> Result<RegMixupBatch<D>, MixError> {
        // Checked before the draw too, so that a bad eta takes no draw index.
        check_eta(eta)?;
        let mixed = self.apply(inputs.clone(), targets.clone())?;
        RegMixupBatch::new(inputs, targets, mixed, eta)
    }
}

/// A [`MixupBatcher`] that makes [`RegMixupBatch`]es: built by
/// [`MixupBatcher::regmixup`].
///
/// ```
/// use burn::data::dataloader::batcher::Batcher;
/// use burn::tensor::{Device, Int, Tensor};
/// use burn_mixup::{MixConfig, MixupBatcher, RegMixupBatch};
///
/// #[derive(Clone)]
/// struct Rows;
/// impl Batcher<i64, (Tensor<2>, Tensor<1, Int>)> for Rows {
///     fn batch(&self, items: Vec<i64>, device: &Device) -> (Tensor<2>, Tensor<1, Int>) {
///         (Tensor::ones([items.len(), 3], device), Tensor::from_ints(items.as_slice(), device))
///     }
/// }
/// let batcher = MixupBatcher::new(Rows, MixConfig::mixup(20.0).init()?).regmixup(1.0)?;
/// let batch: RegMixupBatch<2> = batcher.batch(vec![0, 1, 2], &Device::flex());
/// assert_eq!(batch.inputs().dims(), [6, 3]);
/// # Ok::<(), burn_mixup::MixError>(())
/// ```
#[derive(Debug, Clone)]
pub struct RegMixupBatcher<Inner, O> {
    batcher: MixupBatcher<Inner, O>,
    eta: f64,
    output: PhantomData<fn() -> O>,
}

impl<Inner, O> MixupBatcher<Inner, O> {
    /// RegMixup with this batcher's inner batcher, label check and mixer: each batch
    /// is the clean batch and its mixed copy, the mixed term weighted by `eta`.
    ///
    /// # Errors
    /// [`MixError::InvalidEta`] unless `eta` is finite and >= 0.
    ///
    /// ```
    /// use burn::tensor::{Int, Tensor};
    /// use burn_mixup::{MixConfig, MixError, MixupBatcher};
    /// # #[derive(Clone, Debug)] struct Inner;
    /// let batcher: MixupBatcher<Inner, (Tensor<4>, Tensor<1, Int>)> =
    ///     MixupBatcher::new(Inner, MixConfig::mixup(20.0).init()?);
    /// assert_eq!(batcher.regmixup(f64::NAN).unwrap_err().to_string(),
    ///            "RegMixup's eta must be a finite number >= 0, got NaN");
    /// # Ok::<(), MixError>(())
    /// ```
    pub fn regmixup(self, eta: f64) -> Result<RegMixupBatcher<Inner, O>, MixError> {
        check_eta(eta)?;
        Ok(RegMixupBatcher {
            batcher: self,
            eta,
            output: PhantomData,
        })
    }
}

impl<Inner, O> RegMixupBatcher<Inner, O> {
    /// Batches with the inner batcher, checks the labels if asked, and makes the
    /// RegMixup batch.
    ///
    /// # Errors
    /// Those of [`MixupBatcher::try_batch`].
    ///
    /// ```
    /// use burn::data::dataloader::batcher::Batcher;
    /// use burn::tensor::{Device, Int, Tensor};
    /// use burn_mixup::{MixConfig, MixError, MixupBatcher};
    /// #[derive(Clone)]
    /// struct Labels;
    /// impl Batcher<i64, (Tensor<2>, Tensor<1, Int>)> for Labels {
    ///     fn batch(&self, items: Vec<i64>, device: &Device) -> (Tensor<2>, Tensor<1, Int>) {
    ///         (Tensor::zeros([items.len(), 3], device), Tensor::from_ints(items.as_slice(), device))
    ///     }
    /// }
    /// let batcher = MixupBatcher::new(Labels, MixConfig::mixup(1.0).init()?).with_num_classes(3).regmixup(1.0)?;
    /// let err = batcher.try_batch::<i64, 2>(vec![0, 9], &Device::flex()).unwrap_err();
    /// assert_eq!(err, MixError::TargetOutOfRange { position: 1, value: 9, num_classes: 3 });
    /// # Ok::<(), MixError>(())
    /// ```
    pub fn try_batch<I, const D: usize>(
        &self,
        items: Vec<I>,
        device: &Device,
    ) -> Result<RegMixupBatch<D>, MixError>
    where
        Inner: Batcher<I, O>,
        O: Into<(Tensor<D>, Tensor<1, Int>)>,
    {
        let (inputs, targets) = self.batcher.plain_batch(items, device)?;
        self.batcher
            .mixer()
            .apply_regmixup(inputs, targets, self.eta)
    }
}

impl<I, O, Inner, const D: usize> Batcher<I, RegMixupBatch<D>> for RegMixupBatcher<Inner, O>
where
    Inner: Batcher<I, O>,
    O: Into<(Tensor<D>, Tensor<1, Int>)>,
{
    fn batch(&self, items: Vec<I>, device: &Device) -> RegMixupBatch<D> {
        self.try_batch(items, device)
            .unwrap_or_else(|err| self.batcher.mixer().fail("RegMixupBatcher", err))
    }
}

/// RegMixup's `eta`: a finite weight >= 0.
fn check_eta(eta: f64) -> Result<(), MixError> {
    if eta.is_finite() && eta >= 0.0 {
        Ok(())
    } else {
        Err(MixError::InvalidEta(eta))
    }
}
