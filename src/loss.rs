//! Label-smoothing cross-entropy: hard targets, mixed hard targets and probability
//! targets, with PyTorch's semantics for class weights and `ignore_index`.
//!
//! Every form is computed in closed form from one log-sum-exp per row, never from a
//! materialised `[B, K]` target matrix (except for probability targets, which are
//! one). With `s = z - max(z)` (the max detached, as in Burn's own `log_softmax`) and
//! `lse = log(sum_k exp(s_k))`, the smoothed target `q = a * onehot(y) + u` gives
//!
//! ```text
//! loss = sum_k q_k * (lse - s_k) = lse - a * s_y - u * sum_k s_k      (since a + u*K = 1)
//! ```
//!
//! Every term is taken on the shifted values, so the loss keeps PyTorch's digits on
//! logits that share a large offset (`1e4 + N(0, 1)`), and stays finite for logits
//! of any magnitude.
//!
//! The closed forms live in `closed_form.rs`, with the reproducibility rule they
//! keep.

mod closed_form;
mod pixel;

use burn::config::Config;
use burn::module::Module;
use burn::nn::loss::Reduction;
use burn::tensor::Device;
use burn::tensor::{Int, Tensor};

pub(crate) use closed_form::HardTargets;
use closed_form::Reduce;
pub(crate) use pixel::MapTargets;

use crate::error::LossError;
use crate::smoothing::SmoothingConvention;
pub(crate) use crate::smoothing::is_valid_smoothing;

/// Configuration of a [`LabelSmoothingCrossEntropy`].
///
/// The reduction is Burn's own [`Reduction`]: `Mean` and `Auto` are PyTorch's
/// `'mean'` (divided by the summed target-class weights where class weights are
/// set), `Sum` its `'sum'`, `BatchMean` the sum divided by the batch size. For one
/// loss per sample use [`forward_no_reduction`](LabelSmoothingCrossEntropy::forward_no_reduction).
///
/// ```
/// use burn::tensor::Device;
/// use burn::nn::loss::Reduction;
/// use burn_mixup::{LabelSmoothingCrossEntropyConfig, SmoothingConvention};
///
/// let device = Device::flex();
/// let loss = LabelSmoothingCrossEntropyConfig::new()
///     .with_smoothing(0.1)
///     .with_convention(SmoothingConvention::OffTarget)
///     .with_reduction(Reduction::Sum)
///     .init(&device)?;
/// assert_eq!(loss.smoothing(), 0.1);
/// # Ok::<(), burn_mixup::LossError>(())
/// ```
#[derive(Config, Debug)]
pub struct LabelSmoothingCrossEntropyConfig {
    /// Smoothing factor `eps` in [0, 1); 0 gives plain cross-entropy.
    #[config(default = 0.1)]
    pub smoothing: f64,
    /// Which smoothed distribution `eps` stands for.
    #[config(default = "SmoothingConvention::Uniform")]
    pub convention: SmoothingConvention,
    /// How [`forward`](LabelSmoothingCrossEntropy::forward) reduces the per-sample
    /// losses.
    #[config(default = "Reduction::Mean")]
    pub reduction: Reduction,
    /// Optional per-class weights (finite, >= 0), with PyTorch's semantics: sample `i`
    /// contributes `sum_k q_ik * w_k * -log p_ik`, and the mean over class-index
    /// targets divides by the sum of `w_{y_i}` over the kept samples (over
    /// probability targets, by the batch size).
    pub weights: Option<Vec<f32>>,
    /// Optional target value whose samples are left out (loss 0, not counted in the
    /// mean), as PyTorch's `ignore_index`. A mean over a batch where every sample is
    /// ignored is `NaN`, as in PyTorch. Class-index targets only.
    pub ignore_index: Option<i64>,
}

impl LabelSmoothingCrossEntropyConfig {
    /// Validates the configuration and builds the loss on `device`.
    ///
    /// # Errors
    /// [`LossError::InvalidSmoothing`] for `smoothing` outside [0, 1) or not finite;
    /// [`LossError::EmptyWeights`] or [`LossError::InvalidWeight`] for bad weights.
    ///
    /// ```
    /// use burn::tensor::Device;
    /// use burn_mixup::{LabelSmoothingCrossEntropyConfig, LossError};
    ///
    /// let device = Device::flex();
    /// let err = LabelSmoothingCrossEntropyConfig::new()
    ///     .with_weights(Some(vec![1.0, -2.0]))
    ///     .init(&device)
    ///     .unwrap_err();
    /// assert_eq!(err, LossError::InvalidWeight { index: 1, value: -2.0 });
    /// ```
    /// # use burn::tensor::Device;
    pub fn init(&self, device: &Device) -> Result<LabelSmoothingCrossEntropy, LossError> {
        if !is_valid_smoothing(self.smoothing) {
            return Err(LossError::InvalidSmoothing(self.smoothing));
        }
        let weights = match &self.weights {
            None => None,
            Some(weights) => {
                if weights.is_empty() {
                    return Err(LossError::EmptyWeights);
                }
                if let Some((index, &value)) = weights
                    .iter()
                    .enumerate()
                    .find(|(_, w)| !w.is_finite() || **w < 0.0)
                {
                    return Err(LossError::InvalidWeight {
                        index,
                        value: value as f64,
                    });
                }
                Some(Tensor::<1>::from_floats(weights.as_slice(), device))
            }
        };
        Ok(LabelSmoothingCrossEntropy {
            smoothing: self.smoothing,
            convention: self.convention,
            reduction: self.reduction.clone(),
            weights,
            ignore_index: self.ignore_index,
        })
    }
}

/// Cross-entropy against label-smoothed targets, computed in closed form.
///
/// Built by [`LabelSmoothingCrossEntropyConfig::init`]. With the default
/// [`SmoothingConvention::Uniform`] it matches
/// `torch.nn.functional.cross_entropy(logits, targets, label_smoothing=eps)` (weights,
/// `ignore_index` and probability targets included) and Burn's `CrossEntropyLoss`
/// with `smoothing`. A mixed batch takes it through
/// [`MixedBatch::loss`](crate::MixedBatch::loss).
///
/// ```
/// use burn::tensor::{Device, Int, Tensor};
/// use burn_mixup::LabelSmoothingCrossEntropyConfig;
///
/// let device = Device::flex();
/// let criterion = LabelSmoothingCrossEntropyConfig::new()
///     .with_smoothing(0.1)
///     .init(&device)?;
/// let logits = Tensor::<2>::from_floats([[2.0, 0.0, 0.0], [0.0, 0.0, 0.0]], &device);
/// let targets = Tensor::<1, Int>::from_ints([0, 2], &device);
/// let loss: f32 = criterion.forward(logits, targets).into_scalar();
/// // Row 2 has uniform logits, so its loss is ln 3 whatever the smoothing.
/// let row1 = (2f64.exp() + 2.0).ln() - (0.9 + 0.1 / 3.0) * 2.0;
/// assert!((loss as f64 - (row1 + 3f64.ln()) / 2.0).abs() < 1e-6);
/// # Ok::<(), burn_mixup::LossError>(())
/// ```
#[derive(Module, Debug)]
pub struct LabelSmoothingCrossEntropy {
    smoothing: f64,
    // Configuration, not state: Burn 0.22's derive takes every non-primitive field
    // that is not skipped as a submodule.
    #[module(skip)]
    convention: SmoothingConvention,
    #[module(skip)]
    reduction: Reduction,
    weights: Option<Tensor<1>>,
    ignore_index: Option<i64>,
}

impl LabelSmoothingCrossEntropy {
    /// The smoothing factor `eps`.
    ///
    /// ```
    /// use burn::tensor::Device;
    /// use burn_mixup::LabelSmoothingCrossEntropyConfig;
    /// let loss = LabelSmoothingCrossEntropyConfig::new()
    ///     .init(&Device::flex())?;
    /// assert_eq!(loss.smoothing(), 0.1);
    /// # Ok::<(), burn_mixup::LossError>(())
    /// ```
    pub fn smoothing(&self) -> f64 {
        self.smoothing
    }

    /// The smoothing convention.
    ///
    /// ```
    /// use burn::tensor::Device;
    /// use burn_mixup::{LabelSmoothingCrossEntropyConfig, SmoothingConvention};
    /// let loss = LabelSmoothingCrossEntropyConfig::new()
    ///     .init(&Device::flex())?;
    /// assert_eq!(loss.convention(), SmoothingConvention::Uniform);
    /// # Ok::<(), burn_mixup::LossError>(())
    /// ```
    pub fn convention(&self) -> SmoothingConvention {
        self.convention
    }

    /// The configured reduction (Burn's [`Reduction`]).
    ///
    /// ```
    /// use burn::tensor::Device;
    /// use burn::nn::loss::Reduction;
    /// use burn_mixup::LabelSmoothingCrossEntropyConfig;
    /// let loss = LabelSmoothingCrossEntropyConfig::new()
    ///     .with_reduction(Reduction::Sum)
    ///     .init(&Device::flex())?;
    /// assert!(matches!(loss.reduction(), Reduction::Sum));
    /// # Ok::<(), burn_mixup::LossError>(())
    /// ```
    pub fn reduction(&self) -> &Reduction {
        &self.reduction
    }

    fn configured(&self) -> Reduce {
        match self.reduction {
            Reduction::Mean | Reduction::Auto => Reduce::Mean,
            Reduction::Sum => Reduce::Sum,
            Reduction::BatchMean => Reduce::BatchMean,
        }
    }

    /// The loss against class-index targets, reduced as configured.
    ///
    /// # Shapes
    /// - logits: `[batch_size, num_classes]`
    /// - targets: `[batch_size]`, class indices in `0..num_classes` (or the ignore index)
    /// - output: `[1]`
    ///
    /// # Panics
    /// Where [`try_forward`](Self::try_forward) returns an error, with its message.
    /// Target values are not read back from the device: check them on the host with
    /// [`check_targets`](crate::check_targets) where they come from.
    ///
    /// ```
    /// use burn::tensor::{Device, Int, Tensor};
    /// use burn_mixup::LabelSmoothingCrossEntropyConfig;
    ///
    /// let device = Device::flex();
    /// let criterion = LabelSmoothingCrossEntropyConfig::new()
    ///     .with_smoothing(0.0)
    ///     .init(&device)?;
    /// let logits = Tensor::<2>::from_floats([[0.0, 0.0]], &device);
    /// let targets = Tensor::<1, Int>::from_ints([1], &device);
    /// let loss: f32 = criterion.forward(logits, targets).into_scalar();
    /// assert!((loss - 2f32.ln()).abs() < 1e-6);
    /// # Ok::<(), burn_mixup::LossError>(())
    /// ```
    pub fn forward(&self, logits: Tensor<2>, targets: Tensor<1, Int>) -> Tensor<1> {
        self.try_forward(logits, targets)
            .unwrap_or_else(|err| panic!("LabelSmoothingCrossEntropy::forward: {err}"))
    }

    /// One loss per sample (`[batch_size]`; ignored samples give 0), as PyTorch's
    /// `reduction='none'`.
    ///
    /// # Panics
    /// Where [`try_forward_no_reduction`](Self::try_forward_no_reduction) returns an
    /// error, with its message.
    ///
    /// ```
    /// use burn::tensor::{Device, Int, Tensor};
    /// use burn_mixup::LabelSmoothingCrossEntropyConfig;
    ///
    /// let device = Device::flex();
    /// let criterion = LabelSmoothingCrossEntropyConfig::new().init(&device)?;
    /// let logits = Tensor::<2>::zeros([3, 4], &device);
    /// let targets = Tensor::<1, Int>::from_ints([0, 1, 2], &device);
    /// let per_sample = criterion.forward_no_reduction(logits, targets);
    /// assert_eq!(per_sample.dims(), [3]);
    /// # Ok::<(), burn_mixup::LossError>(())
    /// ```
    pub fn forward_no_reduction(&self, logits: Tensor<2>, targets: Tensor<1, Int>) -> Tensor<1> {
        self.try_forward_no_reduction(logits, targets)
            .unwrap_or_else(|err| panic!("LabelSmoothingCrossEntropy::forward_no_reduction: {err}"))
    }

    /// Like [`forward`](Self::forward), returning shape errors instead of panicking.
    ///
    /// # Errors
    /// [`LossError::BatchSizeMismatch`], [`LossError::WeightCount`],
    /// [`LossError::TooFewClasses`] (the off-target convention with one class).
    ///
    /// ```
    /// use burn::tensor::{Device, Int, Tensor};
    /// use burn_mixup::{LabelSmoothingCrossEntropyConfig, LossError};
    ///
    /// let device = Device::flex();
    /// let criterion = LabelSmoothingCrossEntropyConfig::new().init(&device)?;
    /// let logits = Tensor::<2>::zeros([3, 4], &device);
    /// let targets = Tensor::<1, Int>::from_ints([0, 1], &device);
    /// let err = criterion.try_forward(logits, targets).unwrap_err();
    /// assert_eq!(err, LossError::BatchSizeMismatch { logits: 3, targets: 2 });
    /// # Ok::<(), LossError>(())
    /// ```
    pub fn try_forward(
        &self,
        logits: Tensor<2>,
        targets: Tensor<1, Int>,
    ) -> Result<Tensor<1>, LossError> {
        self.hard_target_loss(logits, HardTargets::One(targets), self.configured())
    }

    /// Like [`forward_no_reduction`](Self::forward_no_reduction), returning errors.
    ///
    /// # Errors
    /// As [`try_forward`](Self::try_forward).
    ///
    /// ```
    /// use burn::tensor::{Device, Int, Tensor};
    /// use burn_mixup::LabelSmoothingCrossEntropyConfig;
    ///
    /// let device = Device::flex();
    /// let criterion = LabelSmoothingCrossEntropyConfig::new().init(&device)?;
    /// let logits = Tensor::<2>::zeros([2, 5], &device);
    /// let targets = Tensor::<1, Int>::from_ints([0, 4], &device);
    /// let losses: Vec<f32> = criterion.try_forward_no_reduction(logits, targets)?.into_data().try_to_vec().unwrap();
    /// assert!(losses.iter().all(|l| (l - 5f32.ln()).abs() < 1e-6));
    /// # Ok::<(), burn_mixup::LossError>(())
    /// ```
    pub fn try_forward_no_reduction(
        &self,
        logits: Tensor<2>,
        targets: Tensor<1, Int>,
    ) -> Result<Tensor<1>, LossError> {
        self.hard_target_loss(logits, HardTargets::One(targets), Reduce::None)
    }

    /// The loss against probability targets `[B, K]` (each row a distribution, e.g.
    /// [`MixedBatch::soft_targets`](crate::MixedBatch::soft_targets)), smoothed as
    /// `a * p + u` and reduced as configured. With the default convention this is
    /// PyTorch's `cross_entropy` with probability targets (class weights and
    /// smoothing included; the mean divides by the batch size) and, at smoothing 0,
    /// timm's `SoftTargetCrossEntropy`.
    ///
    /// # Panics
    /// Where [`try_forward_probs`](Self::try_forward_probs) returns an error.
    ///
    /// ```
    /// use burn::tensor::{Device, Tensor};
    /// use burn_mixup::LabelSmoothingCrossEntropyConfig;
    ///
    /// let device = Device::flex();
    /// let soft_ce = LabelSmoothingCrossEntropyConfig::new().with_smoothing(0.0).init(&device)?;
    /// let logits = Tensor::<2>::from_floats([[0.0, 0.0, 0.0, 0.0]], &device);
    /// let targets = Tensor::<2>::from_floats([[0.5, 0.5, 0.0, 0.0]], &device);
    /// let value: f32 = soft_ce.forward_probs(logits, targets).into_scalar();
    /// assert!((value - 4f32.ln()).abs() < 1e-6);
    /// # Ok::<(), burn_mixup::LossError>(())
    /// ```
    pub fn forward_probs(&self, logits: Tensor<2>, targets: Tensor<2>) -> Tensor<1> {
        self.try_forward_probs(logits, targets)
            .unwrap_or_else(|err| panic!("LabelSmoothingCrossEntropy::forward_probs: {err}"))
    }

    /// Like [`forward_probs`](Self::forward_probs), returning errors.
    ///
    /// # Errors
    /// [`LossError::ShapeMismatch`], [`LossError::WeightCount`],
    /// [`LossError::TooFewClasses`], and [`LossError::IgnoreIndexWithProbabilities`]
    /// when an ignore index is configured.
    ///
    /// ```
    /// use burn::tensor::{Device, Tensor};
    /// use burn_mixup::{LabelSmoothingCrossEntropyConfig, LossError};
    ///
    /// let device = Device::flex();
    /// let ce = LabelSmoothingCrossEntropyConfig::new().init(&device)?;
    /// let err = ce.try_forward_probs(Tensor::zeros([2, 3], &device), Tensor::zeros([2, 4], &device));
    /// assert_eq!(err.unwrap_err(), LossError::ShapeMismatch { logits: [2, 3], targets: [2, 4] });
    /// # Ok::<(), LossError>(())
    /// ```
    pub fn try_forward_probs(
        &self,
        logits: Tensor<2>,
        targets: Tensor<2>,
    ) -> Result<Tensor<1>, LossError> {
        self.probability_loss(logits, targets, self.configured())
    }

    /// One loss per sample against probability targets, `[batch_size]`.
    ///
    /// # Panics
    /// Where [`try_forward_probs_no_reduction`](Self::try_forward_probs_no_reduction)
    /// returns an error.
    ///
    /// ```
    /// use burn::tensor::{Device, Tensor};
    /// use burn_mixup::LabelSmoothingCrossEntropyConfig;
    ///
    /// let device = Device::flex();
    /// let ce = LabelSmoothingCrossEntropyConfig::new().with_smoothing(0.0).init(&device)?;
    /// let targets = Tensor::<2>::from_floats([[1.0, 0.0], [0.5, 0.5]], &device);
    /// let losses: Vec<f32> = ce.forward_probs_no_reduction(Tensor::zeros([2, 2], &device), targets)
    ///     .into_data().try_to_vec().unwrap();
    /// assert!(losses.iter().all(|l| (l - 2f32.ln()).abs() < 1e-6));
    /// # Ok::<(), burn_mixup::LossError>(())
    /// ```
    pub fn forward_probs_no_reduction(&self, logits: Tensor<2>, targets: Tensor<2>) -> Tensor<1> {
        self.try_forward_probs_no_reduction(logits, targets)
            .unwrap_or_else(|err| {
                panic!("LabelSmoothingCrossEntropy::forward_probs_no_reduction: {err}")
            })
    }

    /// Like [`forward_probs_no_reduction`](Self::forward_probs_no_reduction),
    /// returning errors.
    ///
    /// # Errors
    /// As [`try_forward_probs`](Self::try_forward_probs).
    ///
    /// ```
    /// use burn::tensor::{Device, Tensor};
    /// use burn_mixup::LabelSmoothingCrossEntropyConfig;
    ///
    /// let device = Device::flex();
    /// let ce = LabelSmoothingCrossEntropyConfig::new().init(&device)?;
    /// let losses = ce.try_forward_probs_no_reduction(Tensor::zeros([3, 2], &device),
    ///                                                Tensor::full([3, 2], 0.5, &device))?;
    /// assert_eq!(losses.dims(), [3]);
    /// # Ok::<(), burn_mixup::LossError>(())
    /// ```
    /// # use burn::tensor::Device;
    pub fn try_forward_probs_no_reduction(
        &self,
        logits: Tensor<2>,
        targets: Tensor<2>,
    ) -> Result<Tensor<1>, LossError> {
        self.probability_loss(logits, targets, Reduce::None)
    }
}
