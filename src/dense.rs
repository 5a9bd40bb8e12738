//! Dense targets `[B, K]`: multi-label indicators, already-soft labels, or one-hot
//! rows from elsewhere, mixed with the draw's lambda per sample
//! (`lambda_i * t_i + (1 - lambda_i) * t_partner(i)`, timm's `mixup_target` without
//! its one-hot step), for every method and mode: the CutMix family's lambda is the
//! kept area, as for class labels.
//!
//! [`DenseMixedBatch`] holds the mixed inputs and targets; [`Mixer::apply_dense`]
//! and [`MixParams::mix_dense`] make one, and
//! [`MixupBatcher::dense`](crate::MixupBatcher::dense) turns a mixing batcher into a
//! [`DenseMixupBatcher`](crate::DenseMixupBatcher).

use burn::tensor::Tensor;

use crate::bce::BinaryCrossEntropy;
use crate::error::{LossError, MixError};
use crate::lambda::{Lambda, lambda_tensor};
use crate::loss::{LabelSmoothingCrossEntropy, is_valid_smoothing};
use crate::mixer::Mixer;
use crate::params::{MixParams, index_tensor};

/// A batch with dense targets, mixed: the mixed inputs, the mixed targets `[B, K]`
/// and the [`MixParams`] that made them.
///
/// Train it with the soft-target cross-entropy
/// ([`loss`](Self::loss): [`LabelSmoothingCrossEntropy::forward_probs`], timm's
/// `SoftTargetCrossEntropy` at smoothing 0) or, for multi-label targets, timm's
/// binary cross-entropy ([`bce_loss`](Self::bce_loss):
/// [`BinaryCrossEntropy::forward_probs`]).
///
/// ```
/// use burn::tensor::{Device, Tensor};
/// use burn_mixup::{BinaryCrossEntropyConfig, MixConfig};
///
/// let device = Device::flex();
/// let mixer = MixConfig::cutmix(1.0).with_seed(Some(3)).init()?;
/// let images = Tensor::<4>::ones([2, 3, 8, 8], &device);
/// // Two images, four tags each (multi-label).
/// let tags = Tensor::<2>::from_floats([[1.0, 0.0, 1.0, 0.0], [0.0, 1.0, 1.0, 0.0]], &device);
/// let batch = mixer.apply_dense(images, tags)?;
/// // Each row is lambda * own + (1 - lambda) * partner: tag 2, shared, stays 1.
/// let mixed = batch.targets().clone().try_into_vec_as::<f32>()?;
/// assert_eq!((mixed[2], mixed[6]), (1.0, 1.0));
///
/// let bce = BinaryCrossEntropyConfig::new().with_smoothing(0.0).init(&device)?;
/// let loss: f32 = batch.bce_loss(Tensor::zeros([2, 4], &device), &bce).into_scalar();
/// assert!((loss - 2f32.ln()).abs() < 1e-6); // logits 0: ln 2 per element
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct DenseMixedBatch<const D: usize> {
    inputs: Tensor<D>,
    /// The targets as given, before mixing.
    own_targets: Tensor<2>,
    targets: Tensor<2>,
    params: MixParams,
}

impl<const D: usize> DenseMixedBatch<D> {
    /// A batch left as it is (lambda 1): for validation batches.
    ///
    /// # Errors
    /// [`MixError::EmptyBatch`], [`MixError::BatchSizeMismatch`],
    /// [`MixError::InvalidNumClasses`] for targets with no column.
    ///
    /// ```
    /// use burn::tensor::{Device, Tensor};
    /// use burn_mixup::DenseMixedBatch;
    ///
    /// let device = Device::flex();
    /// let batch = DenseMixedBatch::unmixed(Tensor::<2>::zeros([2, 5], &device), Tensor::ones([2, 3], &device))?;
    /// assert_eq!(batch.targets().dims(), [2, 3]);
    /// # Ok::<(), burn_mixup::MixError>(())
    /// ```
    pub fn unmixed(inputs: Tensor<D>, targets: Tensor<2>) -> Result<Self, MixError> {
        let batch_size = check_dense_batch(&inputs.dims(), &targets)?;
        MixParams::identity(batch_size).mix_dense(inputs, targets)
    }

    /// The mixed inputs, same shape as the originals.
    ///
    /// ```
    /// use burn::tensor::{Device, Tensor};
    /// use burn_mixup::DenseMixedBatch;
    /// let device = Device::flex();
    /// let batch = DenseMixedBatch::unmixed(Tensor::<4>::zeros([1, 3, 4, 4], &device), Tensor::ones([1, 2], &device))?;
    /// assert_eq!(batch.inputs().dims(), [1, 3, 4, 4]);
    /// # Ok::<(), burn_mixup::MixError>(())
    /// ```
    pub fn inputs(&self) -> &Tensor<D> {
        &self.inputs
    }

    /// The mixed targets `[B, K]`: `lambda_i * t_i + (1 - lambda_i) * t_partner(i)`.
    ///
    /// ```
    /// use burn::tensor::{Device, Tensor};
    /// use burn_mixup::MixParams;
    /// let device = Device::flex();
    /// let t = Tensor::<2>::from_floats([[1.0, 0.0], [0.0, 1.0]], &device);
    /// let batch = MixParams::blend(0.75, vec![1, 0])?.mix_dense(Tensor::<2>::zeros([2, 1], &device), t)?;
    /// assert_eq!(batch.targets().clone().try_into_vec_as::<f32>().unwrap(), vec![0.75, 0.25, 0.25, 0.75]);
    /// # Ok::<(), burn_mixup::MixError>(())
    /// ```
    pub fn targets(&self) -> &Tensor<2> {
        &self.targets
    }

    /// timm's multi-label targets, `mixup_target(..., smoothing, multi_label=True)`:
    /// every target smoothed towards 1/2 (`t * (1 - smoothing) + smoothing / 2`),
    /// then mixed. For [`BinaryCrossEntropy::forward_probs`] (whose own smoothing
    /// applies to class indices only, as timm's).
    ///
    /// # Errors
    /// [`MixError::InvalidSmoothing`] for `smoothing` outside [0, 1).
    ///
    /// ```
    /// use burn::tensor::{Device, Tensor};
    /// use burn_mixup::MixParams;
    /// let device = Device::flex();
    /// let tags = Tensor::<2>::from_floats([[1.0, 0.0], [1.0, 1.0]], &device);
    /// let batch = MixParams::blend(0.5, vec![1, 0])?.mix_dense(Tensor::<2>::zeros([2, 1], &device), tags)?;
    /// let smoothed = batch.multi_label_targets(0.2)?.try_into_vec_as::<f32>().unwrap();
    /// for (got, want) in smoothed.iter().zip([0.9, 0.5, 0.9, 0.5]) {
    ///     assert!((got - want).abs() < 1e-6); // 1 -> 0.9, 0 -> 0.1, then mixed
    /// }
    /// # Ok::<(), burn_mixup::MixError>(())
    /// ```
    pub fn multi_label_targets(&self, smoothing: f64) -> Result<Tensor<2>, MixError> {
        if !is_valid_smoothing(smoothing) {
            return Err(MixError::InvalidSmoothing(smoothing));
        }
        let smoothed = self.own_targets.clone() * (1.0 - smoothing) + 0.5 * smoothing;
        Ok(self.params.mix_rows(smoothed))
    }

    /// The weight of each sample's own targets.
    ///
    /// ```
    /// use burn::tensor::{Device, Tensor};
    /// use burn_mixup::{Lambda, MixParams};
    /// let device = Device::flex();
    /// let batch = MixParams::blend(0.6, vec![1, 0])?
    ///     .mix_dense(Tensor::<2>::zeros([2, 1], &device), Tensor::ones([2, 4], &device))?;
    /// assert_eq!(batch.lambda(), &Lambda::Batch(0.6));
    /// # Ok::<(), burn_mixup::MixError>(())
    /// ```
    pub fn lambda(&self) -> &Lambda {
        self.params.lambda()
    }

    /// The draw that made the batch (partners, lambda, boxes, masks).
    ///
    /// ```
    /// use burn::tensor::{Device, Tensor};
    /// use burn_mixup::MixConfig;
    /// let device = Device::flex();
    /// let mixer = MixConfig::mixup(1.0).init()?;
    /// let batch = mixer.apply_dense(Tensor::<2>::zeros([2, 4], &device), Tensor::ones([2, 3], &device))?;
    /// assert_eq!(batch.params().draw_index(), Some(0));
    /// # Ok::<(), burn_mixup::MixError>(())
    /// ```
    pub fn params(&self) -> &MixParams {
        &self.params
    }

    /// Splits the batch into `(inputs, mixed targets, params)`.
    ///
    /// ```
    /// use burn::tensor::{Device, Tensor};
    /// use burn_mixup::DenseMixedBatch;
    /// let device = Device::flex();
    /// let (x, t, params) = DenseMixedBatch::unmixed(Tensor::<2>::zeros([3, 2], &device), Tensor::ones([3, 5], &device))?.into_parts();
    /// assert_eq!((x.dims(), t.dims(), params.batch_size()), ([3, 2], [3, 5], 3));
    /// # Ok::<(), burn_mixup::MixError>(())
    /// ```
    pub fn into_parts(self) -> (Tensor<D>, Tensor<2>, MixParams) {
        (self.inputs, self.targets, self.params)
    }

    /// The soft-target cross-entropy against the mixed targets,
    /// [`LabelSmoothingCrossEntropy::forward_probs`]: PyTorch's `cross_entropy` on
    /// probability targets, smoothing (`a * t + u`, which commutes with mixing) and
    /// class weights included; timm's `SoftTargetCrossEntropy` at smoothing 0.
    ///
    /// # Panics
    /// Where [`try_loss`](Self::try_loss) returns an error.
    ///
    /// ```
    /// use burn::tensor::{Device, Tensor};
    /// use burn_mixup::{LabelSmoothingCrossEntropyConfig, MixParams};
    /// let device = Device::flex();
    /// let ce = LabelSmoothingCrossEntropyConfig::new().with_smoothing(0.0).init(&device)?;
    /// let t = Tensor::<2>::from_floats([[1.0, 0.0], [0.0, 1.0]], &device);
    /// let batch = MixParams::blend(0.5, vec![1, 0])?.mix_dense(Tensor::<2>::zeros([2, 1], &device), t)?;
    /// let loss: f32 = batch.loss(Tensor::<2>::from_floats([[3.0, 0.0], [0.0, 3.0]], &device), &ce).into_scalar();
    /// let expected = (1.0 + (-3f32).exp()).ln() + 1.5; // 0.5 (lse - 3) + 0.5 lse
    /// assert!((loss - expected).abs() < 1e-6);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn loss(&self, logits: Tensor<2>, criterion: &LabelSmoothingCrossEntropy) -> Tensor<1> {
        self.try_loss(logits, criterion)
            .unwrap_or_else(|err| panic!("DenseMixedBatch::loss: {err}"))
    }

    /// Like [`loss`](Self::loss), returning errors.
    ///
    /// # Errors
    /// Those of [`LabelSmoothingCrossEntropy::try_forward_probs`].
    ///
    /// ```
    /// use burn::tensor::{Device, Tensor};
    /// use burn_mixup::{DenseMixedBatch, LabelSmoothingCrossEntropyConfig, LossError};
    /// let device = Device::flex();
    /// let ce = LabelSmoothingCrossEntropyConfig::new().init(&device)?;
    /// let batch = DenseMixedBatch::unmixed(Tensor::<2>::zeros([2, 1], &device), Tensor::full([2, 4], 0.25, &device))?;
    /// let err = batch.try_loss(Tensor::zeros([2, 5], &device), &ce).unwrap_err();
    /// assert_eq!(err, LossError::ShapeMismatch { logits: [2, 5], targets: [2, 4] });
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn try_loss(
        &self,
        logits: Tensor<2>,
        criterion: &LabelSmoothingCrossEntropy,
    ) -> Result<Tensor<1>, LossError> {
        criterion.try_forward_probs(logits, self.targets.clone())
    }

    /// timm's binary cross-entropy against the mixed targets,
    /// [`BinaryCrossEntropy::forward_probs`] (the targets taken as given, binarised
    /// by a `target_threshold` if one is set).
    ///
    /// # Panics
    /// Where [`try_bce_loss`](Self::try_bce_loss) returns an error.
    ///
    /// ```
    /// use burn::tensor::{Device, Tensor};
    /// use burn_mixup::{BinaryCrossEntropyConfig, MixParams};
    /// let device = Device::flex();
    /// let bce = BinaryCrossEntropyConfig::new().with_smoothing(0.0).init(&device)?;
    /// let tags = Tensor::<2>::from_floats([[1.0, 0.0], [1.0, 1.0]], &device);
    /// let batch = MixParams::blend(0.5, vec![1, 0])?.mix_dense(Tensor::<2>::zeros([2, 1], &device), tags)?;
    /// // Mixed targets [[1, 0.5], [1, 0.5]]: at logit 0 every element costs ln 2.
    /// let loss: f32 = batch.bce_loss(Tensor::zeros([2, 2], &device), &bce).into_scalar();
    /// assert!((loss - 2f32.ln()).abs() < 1e-6);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn bce_loss(&self, logits: Tensor<2>, criterion: &BinaryCrossEntropy) -> Tensor<1> {
        self.try_bce_loss(logits, criterion)
            .unwrap_or_else(|err| panic!("DenseMixedBatch::bce_loss: {err}"))
    }

    /// Like [`bce_loss`](Self::bce_loss), returning errors.
    ///
    /// # Errors
    /// Those of [`BinaryCrossEntropy::try_forward_probs`].
    ///
    /// ```
    /// use burn::tensor::{Device, Tensor};
    /// use burn_mixup::{BinaryCrossEntropyConfig, DenseMixedBatch, LossError};
    /// let device = Device::flex();
    /// let bce = BinaryCrossEntropyConfig::new().init(&device)?;
    /// let batch = DenseMixedBatch::unmixed(Tensor::<2>::zeros([2, 1], &device), Tensor::ones([2, 3], &device))?;
    /// let err = batch.try_bce_loss(Tensor::zeros([2, 4], &device), &bce).unwrap_err();
    /// assert_eq!(err, LossError::ShapeMismatch { logits: [2, 4], targets: [2, 3] });
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn try_bce_loss(
        &self,
        logits: Tensor<2>,
        criterion: &BinaryCrossEntropy,
    ) -> Result<Tensor<1>, LossError> {
        criterion.try_forward_probs(logits, self.targets.clone())
    }
}

impl MixParams {
    /// Mixes a batch and its dense targets `[B, K]`: the inputs as
    /// [`mix`](Self::mix), the targets as `lambda_i * t_i + (1 - lambda_i) *
    /// t_partner(i)`. Values are not read back: check them with
    /// [`check_dense_targets`](crate::check_dense_targets) where they come from.
    ///
    /// # Errors
    /// [`MixError::BatchSizeMismatch`], [`MixError::InvalidNumClasses`] (no
    /// column), and the errors of [`mix`](Self::mix).
    ///
    /// ```
    /// use burn::tensor::{Device, Tensor};
    /// use burn_mixup::{MixError, MixParams};
    /// let device = Device::flex();
    /// let params = MixParams::blend(0.5, vec![1, 0])?;
    /// let err = params.mix_dense(Tensor::<2>::zeros([2, 1], &device), Tensor::ones([3, 4], &device)).unwrap_err();
    /// assert_eq!(err, MixError::BatchSizeMismatch { inputs: 2, targets: 3 });
    /// # Ok::<(), MixError>(())
    /// ```
    pub fn mix_dense<const D: usize>(
        &self,
        inputs: Tensor<D>,
        targets: Tensor<2>,
    ) -> Result<DenseMixedBatch<D>, MixError> {
        check_dense_batch(&inputs.dims(), &targets)?;
        let inputs = self.mix(inputs)?;
        let mixed = self.mix_rows(targets.clone());
        Ok(DenseMixedBatch {
            inputs,
            own_targets: targets,
            targets: mixed,
            params: self.clone(),
        })
    }

    /// `lambda_i * t_i + (1 - lambda_i) * t_partner(i)` on `[B, K]` rows, with
    /// timm's arithmetic: a batch lambda as a scalar, per-sample lambdas as an f32
    /// column whose `1 - lambda` is taken on the device (timm's `elem` and `pair`).
    pub(crate) fn mix_rows(&self, targets: Tensor<2>) -> Tensor<2> {
        let [batch, _] = targets.dims();
        let device = targets.device();
        let lambda = self.lambda();
        if !lambda.is_mixed() {
            return targets;
        }
        let partners = targets
            .clone()
            .select(0, index_tensor(self.partners(), &device));
        match lambda {
            Lambda::Batch(lambda) => targets * *lambda + partners * (1.0 - *lambda),
            Lambda::PerSample(values) => {
                let own = lambda_tensor(values, &device).reshape([batch, 1]);
                targets * own.clone() + partners * (own.neg() + 1.0)
            }
        }
    }
}

/// Inputs and dense targets agree on a non-zero batch, and the targets have a column.
fn check_dense_batch(dims: &[usize], targets: &Tensor<2>) -> Result<usize, MixError> {
    let [rows, columns] = targets.dims();
    if dims[0] != rows {
        return Err(MixError::BatchSizeMismatch {
            inputs: dims[0],
            targets: rows,
        });
    }
    if rows == 0 {
        return Err(MixError::EmptyBatch);
    }
    if columns == 0 {
        return Err(MixError::InvalidNumClasses(0));
    }
    Ok(rows)
}

impl Mixer {
    /// Draws the next parameters for this batch and mixes it with its dense targets
    /// `[B, K]` (see [`MixParams::mix_dense`]).
    ///
    /// # Errors
    /// Those of [`sample`](Self::sample) and [`MixParams::mix_dense`].
    ///
    /// ```
    /// use burn::tensor::{Device, Tensor};
    /// use burn_mixup::MixConfig;
    /// let device = Device::flex();
    /// let mixer = MixConfig::mixup(1.0).with_seed(Some(1)).init()?;
    /// let batch = mixer.apply_dense(Tensor::<2>::zeros([4, 8], &device), Tensor::ones([4, 3], &device))?;
    /// // Rows of ones stay ones, whatever lambda and the partners are.
    /// assert!(batch.targets().clone().try_into_vec_as::<f32>()?.iter().all(|&t| (t - 1.0).abs() < 1e-6));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn apply_dense<const D: usize>(
        &self,
        inputs: Tensor<D>,
        targets: Tensor<2>,
    ) -> Result<DenseMixedBatch<D>, MixError> {
        check_dense_batch(&inputs.dims(), &targets)?;
        self.sample(&inputs.dims())?.mix_dense(inputs, targets)
    }
}
