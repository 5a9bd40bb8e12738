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
//! **Reproducibility rule:** no tensor of the graph feeds more than two operations.
//! burn-autodiff adds the gradients arriving at a node in an order that differs from
//! process to process; two terms add the same either way, three do not
//! (floating-point addition is not associative).

use burn::config::Config;
use burn::module::Module;
use burn::nn::loss::Reduction;
use burn::tensor::Device;
use burn::tensor::{Bool, Int, Tensor, TensorData};

use crate::error::LossError;

/// Which target distribution a smoothing factor `eps` stands for, with `K` classes.
///
/// ```
/// use burn_mixup::SmoothingConvention;
/// // On-target and off-target probabilities for eps = 0.1, K = 10:
/// let (on, off) = SmoothingConvention::Uniform.target_probabilities(0.1, 10);
/// assert!((on - 0.91).abs() < 1e-12 && (off - 0.01).abs() < 1e-12);
/// let (on, off) = SmoothingConvention::OffTarget.target_probabilities(0.1, 10);
/// assert!((on - 0.9).abs() < 1e-12 && (off - 0.1 / 9.0).abs() < 1e-12);
/// ```
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum SmoothingConvention {
    /// `q = (1 - eps) * onehot + eps / K`: PyTorch's `label_smoothing`, timm, Keras and
    /// Burn's `CrossEntropyLoss` all use this one. The target keeps `1 - eps + eps/K`.
    Uniform,
    /// `q = 1 - eps` on the target and `eps / (K - 1)` on every other class: the
    /// formulation of the common tutorial code (and of Szegedy et al.'s wording).
    /// Needs `K >= 2`.
    OffTarget,
}

// Written out because `#[derive(Config)]` on an enum rejects `#[default]`.
#[allow(clippy::derivable_impls)]
impl Default for SmoothingConvention {
    fn default() -> Self {
        SmoothingConvention::Uniform
    }
}

impl SmoothingConvention {
    /// The on-target and off-target probabilities of the smoothed distribution.
    ///
    /// ```
    /// use burn_mixup::SmoothingConvention;
    /// let (on, off) = SmoothingConvention::Uniform.target_probabilities(0.0, 5);
    /// assert_eq!((on, off), (1.0, 0.0));
    /// ```
    pub fn target_probabilities(&self, eps: f64, num_classes: usize) -> (f64, f64) {
        let (onehot, uniform) = self.coefficients(eps, num_classes);
        (onehot + uniform, uniform)
    }

    /// `(a, u)` with `q = a * onehot + u * ones`.
    pub(crate) fn coefficients(&self, eps: f64, num_classes: usize) -> (f64, f64) {
        let k = num_classes as f64;
        match self {
            SmoothingConvention::Uniform => (1.0 - eps, eps / k),
            SmoothingConvention::OffTarget => {
                let off = eps / (k - 1.0);
                (1.0 - eps - off, off)
            }
        }
    }
}

/// Whether `eps` is a usable smoothing factor: finite and in [0, 1).
pub(crate) fn is_valid_smoothing(eps: f64) -> bool {
    eps.is_finite() && (0.0..1.0).contains(&eps)
}

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

/// The hard targets a loss is taken against: one set, or two mixed by lambda.
// Built once per loss call and consumed at once: boxing the larger variants (Burn
// 0.22's tensors are opaque dispatch handles) would only add an allocation.
#[allow(clippy::large_enum_variant)]
pub(crate) enum HardTargets {
    One(Tensor<1, Int>),
    /// `lambda * onehot(a) + (1 - lambda) * onehot(b)`, one lambda for the batch.
    Pair {
        a: Tensor<1, Int>,
        b: Tensor<1, Int>,
        lambda: f64,
    },
    /// As `Pair`, with one lambda per sample (`[B]`): probability targets.
    PerSample {
        a: Tensor<1, Int>,
        b: Tensor<1, Int>,
        lambda: Tensor<1>,
    },
}

impl HardTargets {
    fn len(&self) -> usize {
        match self {
            HardTargets::One(y) => y.dims()[0],
            HardTargets::Pair { a, .. } | HardTargets::PerSample { a, .. } => a.dims()[0],
        }
    }
}

/// The per-row pieces every cross-entropy here is made of: one log-sum-exp per row,
/// computed once and shared by all the targets of a batch.
struct LogitSummary {
    /// The logits, for the second shifted copy (see [`LogitSummary::centered`]).
    logits: Tensor<2>,
    /// `max(z)`, detached, `[B, 1]`.
    max: Tensor<2>,
    /// `s = z - max(z)`, `[B, K]`; feeds `exp` and one gather (or product).
    shifted: Tensor<2>,
    /// `log(sum_k exp(s))`, `[B, 1]`.
    lse: Tensor<2>,
}

impl LogitSummary {
    fn new(logits: Tensor<2>) -> Self {
        // The max shift only guards exp() against overflow; detaching it keeps a
        // gradient path (whose contribution is exactly zero) out of the graph.
        let max = logits.clone().detach().max_dim(1);
        let shifted = logits.clone() - max.clone();
        let lse = shifted.clone().exp().sum_dim(1).log();
        Self {
            logits,
            max,
            shifted,
            lse,
        }
    }

    fn dims(&self) -> [usize; 2] {
        self.shifted.dims()
    }

    /// `sum_k w_k (lse - s_k) = W * lse - sum_k w_k s_k`, `[B, 1]`: the uniform part
    /// of a class-weighted smoothed loss (`lse` is passed in, so the caller counts
    /// its uses).
    fn weighted_uniform_term(&self, lse: Tensor<2>, weights: &Tensor<1>) -> Tensor<2> {
        let [_, num_classes] = self.dims();
        let weighted_sum = self
            .centered()
            .matmul(weights.clone().reshape([num_classes, 1]));
        let total_weight = weights.clone().sum().reshape([1, 1]);
        lse * total_weight - weighted_sum
    }

    /// A second `z - max(z)`, for the class sums. Taking the sums on shifted values
    /// keeps the digits that `sum_k z_k - K * max` loses when the logits share a
    /// large offset; taking them on a second copy keeps `shifted` at two uses.
    fn centered(&self) -> Tensor<2> {
        self.logits.clone() - self.max.clone()
    }
}

/// How the per-sample losses of one call are combined.
#[derive(Clone, Copy, PartialEq)]
enum Reduce {
    Mean,
    Sum,
    BatchMean,
    None,
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

    /// The mixed-batch loss behind [`MixedBatch::loss`](crate::MixedBatch::loss).
    pub(crate) fn mixed_loss(
        &self,
        logits: Tensor<2>,
        targets: HardTargets,
        reduced: bool,
    ) -> Result<Tensor<1>, LossError> {
        let reduce = if reduced {
            self.configured()
        } else {
            Reduce::None
        };
        self.hard_target_loss(logits, targets, reduce)
    }

    /// Checks that the logits fit this loss (number of classes against the weights
    /// and the convention) and returns the target coefficients `(a, u)`.
    fn coefficients_for(&self, num_classes: usize) -> Result<(f64, f64), LossError> {
        if let Some(weights) = &self.weights {
            let [count] = weights.dims();
            if count != num_classes {
                return Err(LossError::WeightCount {
                    logits: num_classes,
                    weights: count,
                });
            }
        }
        if self.convention == SmoothingConvention::OffTarget
            && num_classes < 2
            && self.smoothing > 0.0
        {
            return Err(LossError::TooFewClasses(num_classes));
        }
        if self.smoothing == 0.0 {
            // Avoid 0/0 for the off-target convention with K = 1.
            return Ok((1.0, 0.0));
        }
        Ok(self.convention.coefficients(self.smoothing, num_classes))
    }

    fn hard_target_loss(
        &self,
        logits: Tensor<2>,
        targets: HardTargets,
        reduce: Reduce,
    ) -> Result<Tensor<1>, LossError> {
        let [batch, num_classes] = logits.dims();
        if batch != targets.len() {
            return Err(LossError::BatchSizeMismatch {
                logits: batch,
                targets: targets.len(),
            });
        }
        let coefficients = self.coefficients_for(num_classes)?;
        let summary = LogitSummary::new(logits);
        match targets {
            HardTargets::PerSample { .. } if self.ignore_index.is_some() => {
                Err(LossError::IgnoreIndexWithProbabilities {
                    ignore_index: self.ignore_index.expect("checked by the guard"),
                })
            }
            HardTargets::PerSample { a, b, lambda } if self.weights.is_some() => {
                Ok(self.weighted_per_sample_loss(&summary, coefficients, a, b, lambda, reduce))
            }
            targets if self.weights.is_some() || self.ignore_index.is_some() => {
                Ok(self.reweighted_loss(&summary, coefficients, targets, reduce))
            }
            targets => Ok(unweighted_loss(&summary, coefficients, targets, reduce)),
        }
    }

    /// Class weights and/or an ignore index, one or two target sets with one lambda:
    /// each set is normalised on its own, exactly as separate calls of PyTorch's
    /// criterion would be, then the sets are mixed by `[lambda, 1 - lambda]`. All
    /// sets are processed together as `[B, J]` columns (one gather).
    fn reweighted_loss(
        &self,
        summary: &LogitSummary,
        (onehot_coef, uniform_coef): (f64, f64),
        targets: HardTargets,
        reduce: Reduce,
    ) -> Tensor<1> {
        let [batch, _] = summary.dims();
        let device = summary.shifted.device();
        let column = |y: Tensor<1, Int>| y.reshape([batch, 1]);
        let (columns, mix) = match targets {
            HardTargets::One(y) => (column(y), vec![1.0]),
            HardTargets::Pair { a, b, lambda } => (
                Tensor::cat(vec![column(a), column(b)], 1),
                vec![lambda, 1.0 - lambda],
            ),
            HardTargets::PerSample { .. } => {
                unreachable!("per-sample lambda never reaches the reweighted path")
            }
        };
        let sets = mix.len();
        let mix = row_of(&mix, &device);

        let ignored: Option<Tensor<2, Bool>> = self
            .ignore_index
            .map(|index| columns.clone().equal_elem(index));
        // Ignored samples may carry any value (PyTorch's default is -100): point them
        // at class 0 so the gathers stay in bounds, then zero their loss.
        let safe = match &ignored {
            Some(mask) => columns.mask_fill(mask.clone(), 0),
            None => columns,
        };
        let gathered = summary.shifted.clone().gather(1, safe.clone());
        let lse = summary.lse.clone();

        let (mut loss, target_weight) = match &self.weights {
            None => {
                // lse - a * s_y - u * sum_k s_k
                let mut loss = lse - gathered * onehot_coef;
                if uniform_coef != 0.0 {
                    loss = loss - summary.centered().sum_dim(1) * uniform_coef;
                }
                (loss, None)
            }
            Some(weights) => {
                // a w_y (lse - s_y) + u (W lse - sum_k w_k s_k)
                let target_weight = weights
                    .clone()
                    .select(0, safe.reshape([batch * sets]))
                    .reshape([batch, sets]);
                let mut loss = (lse.clone() - gathered) * target_weight.clone() * onehot_coef;
                if uniform_coef != 0.0 {
                    loss = loss + summary.weighted_uniform_term(lse, weights) * uniform_coef;
                }
                (loss, Some(target_weight))
            }
        };
        // The weight each sample carries in the mean: w_y, 0 if ignored.
        let mean_weight = match (ignored, target_weight) {
            (Some(mask), weight) => {
                loss = loss.mask_fill(mask.clone(), 0.0);
                let kept = mask.bool_not().float();
                Some(match weight {
                    Some(weight) => weight * kept,
                    None => kept,
                })
            }
            (None, weight) => weight,
        };
        match reduce {
            Reduce::None => (loss * mix).sum_dim(1).reshape([batch]),
            Reduce::Sum => (loss.sum_dim(0) * mix).sum(),
            Reduce::BatchMean => (loss.sum_dim(0) * mix).sum() / batch as f64,
            Reduce::Mean => {
                let denominator = mean_weight
                    .expect("the reweighted path has weights or an ignore index")
                    .sum_dim(0);
                (loss.sum_dim(0) / denominator * mix).sum()
            }
        }
    }

    /// Per-sample lambda with class weights: PyTorch's probability-target
    /// cross-entropy on `lambda_i * onehot(a_i) + (1 - lambda_i) * onehot(b_i)`,
    /// without building that `[B, K]` matrix. The mean divides by the batch size.
    fn weighted_per_sample_loss(
        &self,
        summary: &LogitSummary,
        (onehot_coef, uniform_coef): (f64, f64),
        a: Tensor<1, Int>,
        b: Tensor<1, Int>,
        lambda: Tensor<1>,
        reduce: Reduce,
    ) -> Tensor<1> {
        let [batch, _] = summary.dims();
        let weights = self.weights.as_ref().expect("called with class weights");
        let columns = Tensor::cat(vec![a.reshape([batch, 1]), b.reshape([batch, 1])], 1);
        let gathered = summary.shifted.clone().gather(1, columns.clone());
        let target_weight = weights
            .clone()
            .select(0, columns.reshape([batch * 2]))
            .reshape([batch, 2]);
        let lambda = lambda.reshape([batch, 1]);
        let mix = Tensor::cat(vec![lambda.clone(), lambda.neg() + 1.0], 1);
        let lse = summary.lse.clone();
        // sum_j c_j a w_{y_j} (lse - s_{y_j}) + u (W lse - sum_k w_k s_k)
        let mut loss = ((lse.clone() - gathered) * target_weight * mix).sum_dim(1) * onehot_coef;
        if uniform_coef != 0.0 {
            loss = loss + summary.weighted_uniform_term(lse, weights) * uniform_coef;
        }
        reduce_rows(loss, reduce)
    }

    fn probability_loss(
        &self,
        logits: Tensor<2>,
        targets: Tensor<2>,
        reduce: Reduce,
    ) -> Result<Tensor<1>, LossError> {
        if logits.dims() != targets.dims() {
            return Err(LossError::ShapeMismatch {
                logits: logits.dims(),
                targets: targets.dims(),
            });
        }
        if let Some(ignore_index) = self.ignore_index {
            return Err(LossError::IgnoreIndexWithProbabilities { ignore_index });
        }
        let [_, num_classes] = logits.dims();
        let (onehot_coef, uniform_coef) = self.coefficients_for(num_classes)?;
        let summary = LogitSummary::new(logits);
        let mut q = targets;
        if uniform_coef != 0.0 {
            q = q * onehot_coef + uniform_coef;
        }
        if let Some(weights) = &self.weights {
            q = q * weights.clone().reshape([1, num_classes]);
        }
        // sum_k q_k (lse - s_k) = lse * sum_k q_k - sum_k q_k s_k: exact even for
        // targets that do not sum to one.
        let mass = q.clone().sum_dim(1);
        let dot = (q * summary.shifted).sum_dim(1);
        Ok(reduce_rows(summary.lse * mass - dot, reduce))
    }
}

/// A `[1, n]` row of coefficients, built on the host in f64 and cast once.
fn row_of(values: &[f64], device: &Device) -> Tensor<2> {
    let values: Vec<f32> = values.iter().map(|&v| v as f32).collect();
    let len = values.len();
    Tensor::from_data(TensorData::new(values, [1, len]), device)
}

/// Reduces `[B, 1]` per-sample losses where every sample counts once.
fn reduce_rows(loss: Tensor<2>, reduce: Reduce) -> Tensor<1> {
    let [batch, _] = loss.dims();
    match reduce {
        Reduce::Mean | Reduce::BatchMean => loss.mean(),
        Reduce::Sum => loss.sum(),
        Reduce::None => loss.reshape([batch]),
    }
}

/// The loss without class weights or ignore index, for one target set or a mixed
/// pair, as ONE expression over `[B, 1]`:
/// `lse - u * sum_k s_k - a * sum_j c_j * s_{y_j}` (with `sum_j c_j = 1`), reduced
/// once. At small shapes the cost is the number of autodiff nodes, so nothing is
/// computed twice and nothing is reshaped before the reduction.
fn unweighted_loss(
    summary: &LogitSummary,
    (onehot_coef, uniform_coef): (f64, f64),
    targets: HardTargets,
    reduce: Reduce,
) -> Tensor<1> {
    let [batch, _] = summary.dims();
    let column = |y: Tensor<1, Int>| y.reshape([batch, 1]);
    // One gather for all target sets (the two-uses rule).
    let target_term = match targets {
        HardTargets::One(y) => summary.shifted.clone().gather(1, column(y)) * onehot_coef,
        HardTargets::Pair { a, b, lambda } => {
            let both = summary
                .shifted
                .clone()
                .gather(1, Tensor::cat(vec![column(a), column(b)], 1));
            let coefficients = row_of(
                &[onehot_coef * lambda, onehot_coef * (1.0 - lambda)],
                &both.device(),
            );
            (both * coefficients).sum_dim(1)
        }
        HardTargets::PerSample { a, b, lambda } => {
            let both = summary
                .shifted
                .clone()
                .gather(1, Tensor::cat(vec![column(a), column(b)], 1));
            let lambda = lambda.reshape([batch, 1]);
            let coefficients =
                Tensor::cat(vec![lambda.clone(), lambda.neg() + 1.0], 1) * onehot_coef;
            (both * coefficients).sum_dim(1)
        }
    };
    let mut loss = summary.lse.clone() - target_term;
    if uniform_coef != 0.0 {
        loss = loss - summary.centered().sum_dim(1) * uniform_coef;
    }
    reduce_rows(loss, reduce)
}
