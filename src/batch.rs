//! [`MixedBatch`]: the mixed inputs, both target sets and the draw that made them,
//! with the mixup criterion, the soft targets and the lambda-weighted accuracy.

use burn::tensor::{Device, Int, Tensor};

use crate::SmoothingConvention;
use crate::error::{LossError, MixError};
use crate::lambda::{Lambda, lambda_tensor};
use crate::loss::{HardTargets, LabelSmoothingCrossEntropy, is_valid_smoothing};
use crate::params::{MixParams, check_batch};
use crate::smoothing::smoothed_one_hot;

/// A mixed batch: the mixed inputs, each sample's own targets, its partner's
/// targets, and the [`MixParams`] that made it.
///
/// The target of sample `i` is `targets()[i]` with weight `lambda_i` and
/// `partner_targets()[i]` with weight `1 - lambda_i`. A batch that was not mixed
/// (a disabled mixer, `prob` 0, a schedule that is off, or
/// [`MixedBatch::unmixed`]) has lambda 1 and goes through the same methods, so a
/// plain run needs no second code path.
///
/// ```
/// use burn::tensor::{Device, Int, Tensor};
/// use burn_mixup::{LabelSmoothingCrossEntropyConfig, MixConfig};
///
/// let device = Device::flex();
/// let mixer = MixConfig::mixup(1.0).with_seed(Some(1)).init()?;
/// let criterion = LabelSmoothingCrossEntropyConfig::new().init(&device)?;
/// let x = Tensor::<2>::ones([4, 3], &device);
/// let y = Tensor::<1, Int>::from_ints([0, 1, 2, 0], &device);
/// let batch = mixer.apply(x, y)?;
/// let logits = batch.inputs().clone(); // stand-in for model.forward(batch.inputs().clone())
/// let loss = batch.loss(logits.clone(), &criterion);
/// let accuracy: f32 = batch.accuracy(logits).into_scalar();
/// assert!(loss.into_scalar::<f32>().is_finite() && (0.0..=1.0).contains(&accuracy));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct MixedBatch<const D: usize> {
    inputs: Tensor<D>,
    targets: Tensor<1, Int>,
    partner_targets: Tensor<1, Int>,
    params: MixParams,
}

impl<const D: usize> MixedBatch<D> {
    pub(crate) fn from_parts(
        inputs: Tensor<D>,
        targets: Tensor<1, Int>,
        partner_targets: Tensor<1, Int>,
        params: MixParams,
    ) -> Self {
        Self {
            inputs,
            targets,
            partner_targets,
            params,
        }
    }

    /// A batch left as it is (lambda 1, every sample its own partner): for
    /// validation batches, or an inner batcher that should not mix.
    ///
    /// # Errors
    /// [`MixError::EmptyBatch`], [`MixError::BatchSizeMismatch`].
    ///
    /// ```
    /// use burn::tensor::{Device, Int, Tensor};
    /// use burn_mixup::{Lambda, MixedBatch};
    ///
    /// let device = Device::flex();
    /// let y = Tensor::<1, Int>::from_ints([0, 1], &device);
    /// let batch = MixedBatch::unmixed(Tensor::<2>::zeros([2, 5], &device), y)?;
    /// assert_eq!((batch.batch_size(), batch.lambda()), (2, &Lambda::Batch(1.0)));
    /// # Ok::<(), burn_mixup::MixError>(())
    /// ```
    pub fn unmixed(inputs: Tensor<D>, targets: Tensor<1, Int>) -> Result<Self, MixError> {
        let batch_size = check_batch(&inputs.dims(), &targets)?;
        Ok(Self::from_parts(
            inputs,
            targets.clone(),
            targets,
            MixParams::identity(batch_size),
        ))
    }

    /// The mixed inputs, same shape as the originals.
    ///
    /// ```
    /// use burn::tensor::{Device, Int, Tensor};
    /// use burn_mixup::MixedBatch;
    ///
    /// let device = Device::flex();
    /// let y = Tensor::<1, Int>::from_ints([3], &device);
    /// let batch = MixedBatch::unmixed(Tensor::<4>::zeros([1, 3, 8, 8], &device), y)?;
    /// assert_eq!(batch.inputs().dims(), [1, 3, 8, 8]);
    /// # Ok::<(), burn_mixup::MixError>(())
    /// ```
    pub fn inputs(&self) -> &Tensor<D> {
        &self.inputs
    }

    /// Each sample's own targets `[B]`.
    ///
    /// ```
    /// use burn::tensor::{Device, Int, Tensor};
    /// use burn_mixup::MixedBatch;
    ///
    /// let device = Device::flex();
    /// let y = Tensor::<1, Int>::from_ints([3, 1], &device);
    /// let batch = MixedBatch::unmixed(Tensor::<2>::zeros([2, 1], &device), y)?;
    /// assert_eq!(batch.targets().dims(), [2]);
    /// # Ok::<(), burn_mixup::MixError>(())
    /// ```
    pub fn targets(&self) -> &Tensor<1, Int> {
        &self.targets
    }

    /// The partners' targets `[B]` (equal to [`targets`](Self::targets) where
    /// nothing was mixed in).
    ///
    /// ```
    /// use burn::tensor::{Device, Int, Tensor};
    /// use burn_mixup::MixParams;
    ///
    /// let device = Device::flex();
    /// let y = Tensor::<1, Int>::from_ints([3, 1], &device);
    /// let batch = MixParams::blend(0.5, vec![1, 0])?.mix_batch(Tensor::<2>::zeros([2, 1], &device), y)?;
    /// let b: Vec<i64> = batch.partner_targets().clone().into_data().try_into_vec_as::<i64>().unwrap();
    /// assert_eq!(b, vec![1, 3]);
    /// # Ok::<(), burn_mixup::MixError>(())
    /// ```
    pub fn partner_targets(&self) -> &Tensor<1, Int> {
        &self.partner_targets
    }

    /// The weight of each sample's own target.
    ///
    /// ```
    /// use burn::tensor::{Device, Int, Tensor};
    /// use burn_mixup::{Lambda, MixParams};
    ///
    /// let device = Device::flex();
    /// let y = Tensor::<1, Int>::from_ints([3, 1], &device);
    /// let batch = MixParams::blend(0.6, vec![1, 0])?.mix_batch(Tensor::<2>::zeros([2, 1], &device), y)?;
    /// assert_eq!(batch.lambda(), &Lambda::Batch(0.6));
    /// # Ok::<(), burn_mixup::MixError>(())
    /// ```
    pub fn lambda(&self) -> &Lambda {
        self.params.lambda()
    }

    /// The draw that made the batch: replay it on hidden activations (Manifold
    /// Mixup), or record its [`draw_index`](MixParams::draw_index) to resume.
    ///
    /// ```
    /// use burn::tensor::{Device, Int, Tensor};
    /// use burn_mixup::MixConfig;
    ///
    /// let device = Device::flex();
    /// let mixer = MixConfig::mixup(1.0).init()?;
    /// let y = Tensor::<1, Int>::from_ints([0, 1], &device);
    /// let batch = mixer.apply(Tensor::<2>::zeros([2, 4], &device), y)?;
    /// assert_eq!(batch.params().draw_index(), Some(0));
    /// # Ok::<(), burn_mixup::MixError>(())
    /// ```
    pub fn params(&self) -> &MixParams {
        &self.params
    }

    /// Batch size.
    ///
    /// ```
    /// use burn::tensor::{Device, Int, Tensor};
    /// use burn_mixup::MixedBatch;
    ///
    /// let device = Device::flex();
    /// let y = Tensor::<1, Int>::from_ints([0, 1, 1], &device);
    /// assert_eq!(MixedBatch::unmixed(Tensor::<2>::zeros([3, 1], &device), y)?.batch_size(), 3);
    /// # Ok::<(), burn_mixup::MixError>(())
    /// ```
    pub fn batch_size(&self) -> usize {
        self.params.batch_size()
    }

    /// Splits the batch into `(inputs, targets, partner_targets, params)`.
    ///
    /// ```
    /// use burn::tensor::{Device, Int, Tensor};
    /// use burn_mixup::MixedBatch;
    ///
    /// let device = Device::flex();
    /// let y = Tensor::<1, Int>::from_ints([0], &device);
    /// let (x, _, _, params) = MixedBatch::unmixed(Tensor::<2>::zeros([1, 2], &device), y)?.into_parts();
    /// assert_eq!((x.dims(), params.batch_size()), ([1, 2], 1));
    /// # Ok::<(), burn_mixup::MixError>(())
    /// ```
    /// # use burn::tensor::Device;
    pub fn into_parts(self) -> (Tensor<D>, Tensor<1, Int>, Tensor<1, Int>, MixParams) {
        (self.inputs, self.targets, self.partner_targets, self.params)
    }

    /// The targets for the loss: one set where nothing is mixed (an `Elem`/`Pair`
    /// batch that drew nothing included), two sets otherwise.
    pub(crate) fn hard_targets(&self, device: &Device) -> HardTargets {
        let (a, b) = (self.targets.clone(), self.partner_targets.clone());
        match self.lambda() {
            lambda if !lambda.is_mixed() => HardTargets::One(a),
            Lambda::Batch(lambda) => HardTargets::Pair {
                a,
                b,
                lambda: *lambda,
            },
            Lambda::PerSample(values) => HardTargets::PerSample {
                a,
                b,
                lambda: lambda_tensor(values, device),
            },
        }
    }

    /// The mixup criterion `lambda * CE(logits, a) + (1 - lambda) * CE(logits, b)`,
    /// with `CE` the given label-smoothing criterion and its reduction, computed from
    /// ONE log-sum-exp of the logits (the tutorial formulation runs the whole
    /// criterion twice).
    ///
    /// With one lambda per batch and class weights or an ignore index, each term is
    /// normalised on its own, exactly as two calls of PyTorch's criterion. With
    /// per-sample lambda (CutMix, `Pair`/`Elem` modes) the targets are probabilities,
    /// and the loss is PyTorch's `cross_entropy` on them (class weights allowed; the
    /// mean divides by the batch size).
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
    /// let x = Tensor::<2>::zeros([2, 2], &device);
    /// let y = Tensor::<1, Int>::from_ints([0, 1], &device);
    /// let batch = MixParams::blend(0.3, vec![1, 0])?.mix_batch(x, y)?;
    /// let logits = Tensor::<2>::from_floats([[1.0, 0.0], [1.0, 0.0]], &device);
    /// let loss: f32 = batch.loss(logits, &ce).into_scalar();
    /// let (good, bad) = ((1.0 + (-1f32).exp()).ln(), (1.0 + 1f32.exp()).ln());
    /// let expected = 0.3 * (good + bad) / 2.0 + 0.7 * (bad + good) / 2.0;
    /// assert!((loss - expected).abs() < 1e-6);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn loss(&self, logits: Tensor<2>, criterion: &LabelSmoothingCrossEntropy) -> Tensor<1> {
        self.try_loss(logits, criterion)
            .unwrap_or_else(|err| panic!("MixedBatch::loss: {err}"))
    }

    /// Like [`loss`](Self::loss), returning shape and option errors.
    ///
    /// # Errors
    /// The errors of [`LabelSmoothingCrossEntropy::try_forward`], and
    /// [`LossError::IgnoreIndexWithProbabilities`] for per-sample lambda with an
    /// ignore index.
    ///
    /// ```
    /// use burn::tensor::{Device, Int, Tensor};
    /// use burn_mixup::{LabelSmoothingCrossEntropyConfig, LossError, MixParams};
    ///
    /// let device = Device::flex();
    /// let ce = LabelSmoothingCrossEntropyConfig::new().init(&device)?;
    /// let y = Tensor::<1, Int>::from_ints([0, 1], &device);
    /// let batch = MixParams::blend(0.5, vec![1, 0])?.mix_batch(Tensor::<2>::zeros([2, 3], &device), y)?;
    /// let err = batch.try_loss(Tensor::zeros([3, 3], &device), &ce).unwrap_err();
    /// assert_eq!(err, LossError::BatchSizeMismatch { logits: 3, targets: 2 });
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn try_loss(
        &self,
        logits: Tensor<2>,
        criterion: &LabelSmoothingCrossEntropy,
    ) -> Result<Tensor<1>, LossError> {
        let targets = self.hard_targets(&logits.device());
        criterion.mixed_loss(logits, targets, true)
    }

    /// One mixed loss per sample, `[B]`:
    /// `lambda_i * CE_i(a) + (1 - lambda_i) * CE_i(b)`.
    ///
    /// # Panics
    /// Where [`try_loss_no_reduction`](Self::try_loss_no_reduction) returns an error.
    ///
    /// ```
    /// use burn::tensor::{Device, Int, Tensor};
    /// use burn_mixup::{LabelSmoothingCrossEntropyConfig, MixedBatch};
    ///
    /// let device = Device::flex();
    /// let ce = LabelSmoothingCrossEntropyConfig::new().init(&device)?;
    /// let y = Tensor::<1, Int>::from_ints([0, 1], &device);
    /// let batch = MixedBatch::unmixed(Tensor::<2>::zeros([2, 4], &device), y)?;
    /// assert_eq!(batch.loss_no_reduction(Tensor::zeros([2, 4], &device), &ce).dims(), [2]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn loss_no_reduction(
        &self,
        logits: Tensor<2>,
        criterion: &LabelSmoothingCrossEntropy,
    ) -> Tensor<1> {
        self.try_loss_no_reduction(logits, criterion)
            .unwrap_or_else(|err| panic!("MixedBatch::loss_no_reduction: {err}"))
    }

    /// Like [`loss_no_reduction`](Self::loss_no_reduction), returning errors.
    ///
    /// # Errors
    /// As [`try_loss`](Self::try_loss).
    ///
    /// ```
    /// use burn::tensor::{Device, Int, Tensor};
    /// use burn_mixup::{LabelSmoothingCrossEntropyConfig, MixParams};
    ///
    /// let device = Device::flex();
    /// let ce = LabelSmoothingCrossEntropyConfig::new().init(&device)?;
    /// let y = Tensor::<1, Int>::from_ints([0, 1, 2], &device);
    /// let batch = MixParams::blend(0.5, vec![1, 2, 0])?.mix_batch(Tensor::<2>::zeros([3, 3], &device), y)?;
    /// let losses = batch.try_loss_no_reduction(Tensor::zeros([3, 3], &device), &ce)?;
    /// assert_eq!(losses.dims(), [3]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn try_loss_no_reduction(
        &self,
        logits: Tensor<2>,
        criterion: &LabelSmoothingCrossEntropy,
    ) -> Result<Tensor<1>, LossError> {
        let targets = self.hard_targets(&logits.device());
        criterion.mixed_loss(logits, targets, false)
    }

    /// The mixed target distribution `[B, K]`:
    /// `lambda * q(a) + (1 - lambda) * q(b)` with `q = (1 - eps) * onehot + eps / K`,
    /// exactly timm's `mixup_target` (with its pairing, [`Pairing::Flip`](crate::Pairing::Flip)).
    /// Feed it to [`LabelSmoothingCrossEntropy::forward_probs`] with smoothing 0 (the
    /// smoothing is already in it). Labels are not read back: check them with
    /// [`check_targets`](crate::check_targets) where they come from.
    ///
    /// # Errors
    /// [`MixError::InvalidSmoothing`] for `smoothing` outside [0, 1);
    /// [`MixError::InvalidNumClasses`] for 0 classes.
    ///
    /// ```
    /// use burn::tensor::{Device, Int, Tensor};
    /// use burn_mixup::MixParams;
    ///
    /// let device = Device::flex();
    /// let x = Tensor::<2>::zeros([2, 1], &device);
    /// let y = Tensor::<1, Int>::from_ints([0, 2], &device);
    /// let batch = MixParams::blend(0.75, vec![1, 0])?.mix_batch(x, y)?;
    /// let q: Vec<f32> = batch.soft_targets(3, 0.0)?.into_data().try_to_vec().unwrap();
    /// assert_eq!(q, vec![0.75, 0.0, 0.25, 0.25, 0.0, 0.75]);
    /// # Ok::<(), burn_mixup::MixError>(())
    /// ```
    pub fn soft_targets(&self, num_classes: usize, smoothing: f64) -> Result<Tensor<2>, MixError> {
        if num_classes == 0 {
            return Err(MixError::InvalidNumClasses(num_classes));
        }
        if !is_valid_smoothing(smoothing) {
            return Err(MixError::InvalidSmoothing(smoothing));
        }
        let device = self.targets.device();
        let (on, off) = SmoothingConvention::Uniform.target_probabilities(smoothing, num_classes);
        let q_a = smoothed_one_hot(self.targets.clone(), num_classes, on, off);
        Ok(match self.lambda() {
            lambda if !lambda.is_mixed() => q_a,
            Lambda::Batch(lambda) => {
                let q_b = smoothed_one_hot(self.partner_targets.clone(), num_classes, on, off);
                q_a * *lambda + q_b * (1.0 - *lambda)
            }
            Lambda::PerSample(values) => {
                let q_b = smoothed_one_hot(self.partner_targets.clone(), num_classes, on, off);
                let [batch] = self.targets.dims();
                // `1 - lambda` on the f32 tensor, as timm's elementwise lambda.
                let own = lambda_tensor(values, &device).reshape([batch, 1]);
                q_a * own.clone() + q_b * (own.neg() + 1.0)
            }
        })
    }

    /// The lambda-weighted accuracy `mean_i(lambda_i * hit_i(a) + (1 - lambda_i) * hit_i(b))`,
    /// a hit being an arg-max logit equal to the target. Shape `[1]`; stays on the
    /// device until you read it.
    ///
    /// ```
    /// use burn::tensor::{Device, Int, Tensor};
    /// use burn_mixup::MixParams;
    ///
    /// let device = Device::flex();
    /// let x = Tensor::<2>::zeros([2, 1], &device);
    /// let y = Tensor::<1, Int>::from_ints([0, 1], &device);
    /// let batch = MixParams::blend(0.8, vec![1, 0])?.mix_batch(x, y)?;
    /// let logits = Tensor::<2>::from_floats([[5.0, 0.0], [4.0, 0.0]], &device);
    /// let acc: f32 = batch.accuracy(logits).into_scalar();
    /// assert!((acc - (0.8 * 0.5 + 0.2 * 0.5)).abs() < 1e-6);
    /// # Ok::<(), burn_mixup::MixError>(())
    /// ```
    /// # use burn::tensor::Device;
    pub fn accuracy(&self, logits: Tensor<2>) -> Tensor<1> {
        lambda_weighted_accuracy(logits, &self.targets, &self.partner_targets, self.lambda())
    }
}

/// `mean_i(lambda_i * hit_i(a) + (1 - lambda_i) * hit_i(b))`, `[1]`: the accuracy of
/// [`MixedBatch::accuracy`] and of the `train` feature's `MixedAccuracyMetric`.
pub(crate) fn lambda_weighted_accuracy(
    logits: Tensor<2>,
    targets: &Tensor<1, Int>,
    partner_targets: &Tensor<1, Int>,
    lambda: &Lambda,
) -> Tensor<1> {
    let [batch, _] = logits.dims();
    let device = logits.device();
    let predicted = logits.argmax(1).reshape([batch]);
    let hit_a = predicted.clone().equal(targets.clone()).float();
    match lambda {
        lambda if !lambda.is_mixed() => hit_a.mean(),
        Lambda::Batch(lambda) => {
            let hit_b = predicted.equal(partner_targets.clone()).float();
            hit_a.mean() * *lambda + hit_b.mean() * (1.0 - *lambda)
        }
        Lambda::PerSample(values) => {
            let hit_b = predicted.equal(partner_targets.clone()).float();
            let lambda = lambda_tensor(values, &device);
            (hit_a * lambda.clone() + hit_b * (lambda.neg() + 1.0)).mean()
        }
    }
}
