//! Label-smoothing and soft-target cross-entropy losses.
//!
//! Both losses are computed in closed form from one log-sum-exp per row, never from a
//! materialised `[B, K]` target matrix. With `s = z - max(z)` (the max detached, as in
//! Burn's own `log_softmax`) and `lse = log(sum_k exp(s_k))`, the smoothed target
//! `q = a * onehot(y) + u` gives
//!
//! ```text
//! loss = sum_k q_k * (lse - s_k) = lse - a * s_y - u * sum_k s_k      (since a + u*K = 1)
//! ```
//!
//! which stays finite for logits of any magnitude (PyTorch's `log_softmax` does the
//! same shift) and costs two `[B, K]` reductions instead of a `[B, K]` product.

use burn::config::Config;
use burn::module::Module;
use burn::tensor::backend::Backend;
use burn::tensor::{Bool, Int, Tensor, TensorData};

use crate::error::LossError;

/// How a loss reduces the per-sample values to its output.
///
/// ```
/// use burn_mixup::Reduction;
/// assert_eq!(Reduction::default(), Reduction::Mean);
/// ```
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum Reduction {
    /// The mean over the samples (weighted by the target-class weights where class
    /// weights are set, over the kept samples where an ignore index is set), as
    /// PyTorch's `reduction='mean'`. Output shape `[1]`.
    Mean,
    /// The sum over the samples. Output shape `[1]`.
    Sum,
    /// No reduction: one loss per sample, ignored samples give 0. Output shape `[B]`.
    None,
}

// Written out because `#[derive(Config)]` on an enum rejects `#[default]`.
#[allow(clippy::derivable_impls)]
impl Default for Reduction {
    fn default() -> Self {
        Reduction::Mean
    }
}

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

fn check_smoothing(eps: f64) -> Result<(), LossError> {
    if is_valid_smoothing(eps) {
        Ok(())
    } else {
        Err(LossError::InvalidSmoothing(eps))
    }
}

/// Configuration of a [`LabelSmoothingCrossEntropy`].
///
/// ```
/// use burn_mixup::{LabelSmoothingCrossEntropyConfig, SmoothingConvention};
/// use burn_ndarray::NdArray;
///
/// let device = Default::default();
/// let loss = LabelSmoothingCrossEntropyConfig::new()
///     .with_smoothing(0.1)
///     .with_convention(SmoothingConvention::OffTarget)
///     .init::<NdArray>(&device)
///     .expect("0.1 is a valid smoothing factor");
/// assert_eq!(loss.smoothing(), 0.1);
/// ```
#[derive(Config, Debug)]
pub struct LabelSmoothingCrossEntropyConfig {
    /// Smoothing factor `eps` in [0, 1); 0 gives plain cross-entropy.
    #[config(default = 0.1)]
    pub smoothing: f64,
    /// Which smoothed distribution `eps` stands for.
    #[config(default = "SmoothingConvention::Uniform")]
    pub convention: SmoothingConvention,
    /// How the per-sample losses are reduced.
    #[config(default = "Reduction::Mean")]
    pub reduction: Reduction,
    /// Optional per-class weights (finite, >= 0), with PyTorch's semantics: sample `i`
    /// contributes `sum_k q_ik * w_k * -log p_ik` and the mean divides by the sum of
    /// `w_{y_i}` over the kept samples.
    pub weights: Option<Vec<f32>>,
    /// Optional target value whose samples are left out (loss 0, not counted in the
    /// mean), as PyTorch's `ignore_index`. A mean over a batch where every sample is
    /// ignored is `NaN`, as in PyTorch.
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
    /// use burn_mixup::{LabelSmoothingCrossEntropyConfig, LossError};
    /// use burn_ndarray::NdArray;
    ///
    /// let device = Default::default();
    /// let err = LabelSmoothingCrossEntropyConfig::new()
    ///     .with_weights(Some(vec![1.0, -2.0]))
    ///     .init::<NdArray>(&device)
    ///     .unwrap_err();
    /// assert_eq!(err, LossError::InvalidWeight { index: 1, value: -2.0 });
    /// ```
    pub fn init<B: Backend>(
        &self,
        device: &B::Device,
    ) -> Result<LabelSmoothingCrossEntropy<B>, LossError> {
        check_smoothing(self.smoothing)?;
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
                Some(Tensor::<B, 1>::from_floats(weights.as_slice(), device))
            }
        };
        Ok(LabelSmoothingCrossEntropy {
            smoothing: self.smoothing,
            convention: self.convention,
            reduction: self.reduction,
            weights,
            ignore_index: self.ignore_index,
        })
    }
}

/// Cross-entropy against label-smoothed targets, computed in closed form.
///
/// Built by [`LabelSmoothingCrossEntropyConfig::init`]. With the default
/// [`SmoothingConvention::Uniform`] it matches
/// `torch.nn.functional.cross_entropy(logits, targets, label_smoothing=eps)` (weights
/// and `ignore_index` included) and Burn's `CrossEntropyLoss` with `smoothing`.
///
/// ```
/// use burn::tensor::{Int, Tensor};
/// use burn_mixup::LabelSmoothingCrossEntropyConfig;
/// use burn_ndarray::NdArray;
///
/// let device = Default::default();
/// let criterion = LabelSmoothingCrossEntropyConfig::new()
///     .with_smoothing(0.1)
///     .init::<NdArray>(&device)?;
/// let logits = Tensor::<NdArray, 2>::from_floats([[2.0, 0.0, 0.0], [0.0, 0.0, 0.0]], &device);
/// let targets = Tensor::<NdArray, 1, Int>::from_ints([0, 2], &device);
/// let loss: f32 = criterion.forward(logits, targets).into_scalar();
/// // Row 2 has uniform logits, so its loss is ln 3 whatever the smoothing.
/// let row1 = (2f64.exp() + 2.0).ln() - (0.9 + 0.1 / 3.0) * 2.0;
/// assert!((loss as f64 - (row1 + 3f64.ln()) / 2.0).abs() < 1e-6);
/// # Ok::<(), burn_mixup::LossError>(())
/// ```
#[derive(Module, Debug)]
pub struct LabelSmoothingCrossEntropy<B: Backend> {
    smoothing: f64,
    convention: SmoothingConvention,
    reduction: Reduction,
    weights: Option<Tensor<B, 1>>,
    ignore_index: Option<i64>,
}

/// The per-row pieces every smoothed or mixed cross-entropy is made of: one
/// log-sum-exp per row, computed once and shared by all the targets of a batch.
///
/// Reproducibility rule: no tensor of the graph feeds more than two operations.
/// burn-autodiff adds the gradients arriving at a node in an order that differs
/// from process to process; two terms add the same either way, three do not
/// (floating-point addition is not associative). So the class sum is taken on the
/// raw logits (whose other use is the shift) and all target sets are gathered at once.
pub(crate) struct LogitSummary<B: Backend> {
    /// The logits, kept for `sum_k z_k`.
    logits: Tensor<B, 2>,
    /// `max(z)`, detached, `[B, 1]`.
    max: Tensor<B, 2>,
    /// `z - max(z)`, `[B, K]`.
    shifted: Tensor<B, 2>,
    /// `log(sum_k exp(shifted))`, `[B, 1]`.
    lse: Tensor<B, 2>,
}

impl<B: Backend> LogitSummary<B> {
    pub(crate) fn new(logits: Tensor<B, 2>) -> Self {
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

    /// `sum_k s_k = sum_k z_k - K * max`, `[B, 1]`, from the raw logits.
    fn shifted_sum(&self) -> Tensor<B, 2> {
        let [_, num_classes] = self.dims();
        self.logits.clone().sum_dim(1) - self.max.clone() * num_classes as f64
    }

    /// `sum_k w_k s_k = sum_k w_k z_k - (sum_k w_k) * max`, `[B, 1]`.
    fn weighted_shifted_sum(&self, weights: &Tensor<B, 1>) -> Tensor<B, 2> {
        let [_, num_classes] = self.dims();
        let total = weights.clone().sum().reshape([1, 1]);
        self.logits
            .clone()
            .matmul(weights.clone().reshape([num_classes, 1]))
            - self.max.clone() * total
    }

    fn dims(&self) -> [usize; 2] {
        self.shifted.dims()
    }

    /// `sum_k q_ik * -log p_ik` for soft targets `q`, `[B]`.
    pub(crate) fn soft_target_loss(&self, targets: Tensor<B, 2>) -> Tensor<B, 1> {
        let [batch, _] = self.dims();
        // sum_k q_k (lse - s_k) = lse * sum_k q_k - sum_k q_k s_k: exact even for
        // targets that do not sum to one.
        let mass = targets.clone().sum_dim(1);
        let dot = (targets * self.shifted.clone()).sum_dim(1);
        (self.lse.clone() * mass - dot).reshape([batch])
    }
}

/// The hard targets a loss is taken against: one set, or two mixed by lambda.
pub(crate) enum TargetMix<B: Backend> {
    One(Tensor<B, 1, Int>),
    /// `lambda * onehot(a) + (1 - lambda) * onehot(b)`.
    Pair {
        a: Tensor<B, 1, Int>,
        b: Tensor<B, 1, Int>,
        lambda: f64,
    },
    /// As `Pair`, with one lambda per sample (`[B]`).
    PerSample {
        a: Tensor<B, 1, Int>,
        b: Tensor<B, 1, Int>,
        lambda: Tensor<B, 1>,
    },
}

/// Per-sample losses plus the denominator their mean divides by.
pub(crate) struct PerSample<B: Backend> {
    /// `[B]`, zero on ignored samples.
    pub(crate) loss: Tensor<B, 1>,
    /// `[B]` weight each sample carries in the mean (1, `w_y`, or 0 if ignored);
    /// `None` when every sample counts once.
    pub(crate) mean_weight: Option<Tensor<B, 1>>,
}

impl<B: Backend> PerSample<B> {
    pub(crate) fn reduce(self, reduction: Reduction) -> Tensor<B, 1> {
        match reduction {
            Reduction::None => self.loss,
            Reduction::Sum => self.loss.sum(),
            Reduction::Mean => match self.mean_weight {
                None => self.loss.mean(),
                Some(weight) => self.loss.sum() / weight.sum(),
            },
        }
    }
}

impl<B: Backend> LabelSmoothingCrossEntropy<B> {
    /// The smoothing factor `eps`.
    ///
    /// ```
    /// use burn_mixup::LabelSmoothingCrossEntropyConfig;
    /// let loss = LabelSmoothingCrossEntropyConfig::new()
    ///     .init::<burn_ndarray::NdArray>(&Default::default()).unwrap();
    /// assert_eq!(loss.smoothing(), 0.1);
    /// ```
    pub fn smoothing(&self) -> f64 {
        self.smoothing
    }

    /// The smoothing convention.
    ///
    /// ```
    /// use burn_mixup::{LabelSmoothingCrossEntropyConfig, SmoothingConvention};
    /// let loss = LabelSmoothingCrossEntropyConfig::new()
    ///     .init::<burn_ndarray::NdArray>(&Default::default()).unwrap();
    /// assert_eq!(loss.convention(), SmoothingConvention::Uniform);
    /// ```
    pub fn convention(&self) -> SmoothingConvention {
        self.convention
    }

    /// The configured reduction.
    ///
    /// ```
    /// use burn_mixup::{LabelSmoothingCrossEntropyConfig, Reduction};
    /// let loss = LabelSmoothingCrossEntropyConfig::new()
    ///     .with_reduction(Reduction::Sum)
    ///     .init::<burn_ndarray::NdArray>(&Default::default()).unwrap();
    /// assert_eq!(loss.reduction(), Reduction::Sum);
    /// ```
    pub fn reduction(&self) -> Reduction {
        self.reduction
    }

    /// Whether class weights or an ignore index change how samples are counted.
    pub(crate) fn reweights_samples(&self) -> bool {
        self.weights.is_some() || self.ignore_index.is_some()
    }

    /// Computes the loss with the configured reduction.
    ///
    /// # Shapes
    /// - logits: `[batch_size, num_classes]`
    /// - targets: `[batch_size]`, class indices in `0..num_classes` (or the ignore index)
    /// - output: `[1]` for [`Reduction::Mean`] and [`Reduction::Sum`], `[batch_size]`
    ///   for [`Reduction::None`]
    ///
    /// # Panics
    /// On shapes that [`try_forward`](Self::try_forward) rejects, with its message.
    /// Target values are not read back from the device: check them on the host with
    /// [`check_targets`](crate::check_targets) where they come from.
    ///
    /// ```
    /// use burn::tensor::{Int, Tensor};
    /// use burn_mixup::LabelSmoothingCrossEntropyConfig;
    /// use burn_ndarray::NdArray;
    ///
    /// let device = Default::default();
    /// let criterion = LabelSmoothingCrossEntropyConfig::new()
    ///     .with_smoothing(0.0)
    ///     .init::<NdArray>(&device)?;
    /// let logits = Tensor::<NdArray, 2>::from_floats([[0.0, 0.0]], &device);
    /// let targets = Tensor::<NdArray, 1, Int>::from_ints([1], &device);
    /// let loss: f32 = criterion.forward(logits, targets).into_scalar();
    /// assert!((loss - 2f32.ln()).abs() < 1e-6);
    /// # Ok::<(), burn_mixup::LossError>(())
    /// ```
    pub fn forward(&self, logits: Tensor<B, 2>, targets: Tensor<B, 1, Int>) -> Tensor<B, 1> {
        self.try_forward(logits, targets)
            .unwrap_or_else(|err| panic!("LabelSmoothingCrossEntropy::forward: {err}"))
    }

    /// Like [`forward`](Self::forward), but returns shape errors instead of panicking.
    ///
    /// # Errors
    /// [`LossError::BatchSizeMismatch`], [`LossError::WeightCount`],
    /// [`LossError::TooFewClasses`] (the off-target convention with one class).
    ///
    /// ```
    /// use burn::tensor::{Int, Tensor};
    /// use burn_mixup::{LabelSmoothingCrossEntropyConfig, LossError};
    /// use burn_ndarray::NdArray;
    ///
    /// let device = Default::default();
    /// let criterion = LabelSmoothingCrossEntropyConfig::new().init::<NdArray>(&device)?;
    /// let logits = Tensor::<NdArray, 2>::zeros([3, 4], &device);
    /// let targets = Tensor::<NdArray, 1, Int>::from_ints([0, 1], &device);
    /// let err = criterion.try_forward(logits, targets).unwrap_err();
    /// assert_eq!(err, LossError::BatchSizeMismatch { logits: 3, targets: 2 });
    /// # Ok::<(), LossError>(())
    /// ```
    pub fn try_forward(
        &self,
        logits: Tensor<B, 2>,
        targets: Tensor<B, 1, Int>,
    ) -> Result<Tensor<B, 1>, LossError> {
        self.try_forward_reduced(logits, targets, self.reduction)
    }

    /// Computes the loss with an explicit reduction instead of the configured one.
    ///
    /// # Errors
    /// As [`try_forward`](Self::try_forward).
    ///
    /// ```
    /// use burn::tensor::{Int, Tensor};
    /// use burn_mixup::{LabelSmoothingCrossEntropyConfig, Reduction};
    /// use burn_ndarray::NdArray;
    ///
    /// let device = Default::default();
    /// let criterion = LabelSmoothingCrossEntropyConfig::new().init::<NdArray>(&device)?;
    /// let logits = Tensor::<NdArray, 2>::zeros([3, 4], &device);
    /// let targets = Tensor::<NdArray, 1, Int>::from_ints([0, 1, 2], &device);
    /// let per_sample = criterion.try_forward_reduced(logits, targets, Reduction::None)?;
    /// assert_eq!(per_sample.dims(), [3]);
    /// # Ok::<(), burn_mixup::LossError>(())
    /// ```
    pub fn try_forward_reduced(
        &self,
        logits: Tensor<B, 2>,
        targets: Tensor<B, 1, Int>,
        reduction: Reduction,
    ) -> Result<Tensor<B, 1>, LossError> {
        let [batch, _] = logits.dims();
        let [num_targets] = targets.dims();
        if batch != num_targets {
            return Err(LossError::BatchSizeMismatch {
                logits: batch,
                targets: num_targets,
            });
        }
        let summary = LogitSummary::new(logits);
        if !self.reweights_samples() {
            return self.unweighted_loss(&summary, TargetMix::One(targets), reduction);
        }
        Ok(self.per_sample(&summary, targets)?.reduce(reduction))
    }

    /// The loss without class weights or ignore index, for one target set or a
    /// lambda-weighted pair, as ONE expression over `[B, 1]`:
    /// `lse - u * sum_k s_k - a * sum_j c_j * s_{y_j}` (with `sum_j c_j = 1`), reduced
    /// once. At small shapes the cost is the number of autodiff nodes, so nothing is
    /// computed twice and nothing is reshaped before the reduction.
    pub(crate) fn unweighted_loss(
        &self,
        summary: &LogitSummary<B>,
        targets: TargetMix<B>,
        reduction: Reduction,
    ) -> Result<Tensor<B, 1>, LossError> {
        let [batch, num_classes] = summary.dims();
        let (onehot_coef, uniform_coef) = self.coefficients_for(num_classes)?;
        let column = |y: Tensor<B, 1, Int>| y.reshape([batch, 1]);
        // One gather for all target sets (see `LogitSummary` on why).
        let target_term = match targets {
            TargetMix::One(y) => summary.shifted.clone().gather(1, column(y)) * onehot_coef,
            TargetMix::Pair { a, b, lambda } => {
                let both = summary
                    .shifted
                    .clone()
                    .gather(1, Tensor::cat(vec![column(a), column(b)], 1));
                let weights = vec![
                    (onehot_coef * lambda) as f32,
                    (onehot_coef * (1.0 - lambda)) as f32,
                ];
                let coefficients =
                    Tensor::<B, 2>::from_data(TensorData::new(weights, [1, 2]), &both.device());
                (both * coefficients).sum_dim(1)
            }
            TargetMix::PerSample { a, b, lambda } => {
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
            loss = loss - summary.shifted_sum() * uniform_coef;
        }
        Ok(match reduction {
            Reduction::Mean => loss.mean(),
            Reduction::Sum => loss.sum(),
            Reduction::None => loss.reshape([batch]),
        })
    }

    /// Checks that the logits fit this loss (number of classes against the weights
    /// and the convention) and returns the target coefficients `(a, u)`.
    pub(crate) fn coefficients_for(&self, num_classes: usize) -> Result<(f64, f64), LossError> {
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

    /// Per-sample smoothed losses for hard `targets` from a shared summary.
    pub(crate) fn per_sample(
        &self,
        summary: &LogitSummary<B>,
        targets: Tensor<B, 1, Int>,
    ) -> Result<PerSample<B>, LossError> {
        let [batch, num_classes] = summary.dims();
        let (onehot_coef, uniform_coef) = self.coefficients_for(num_classes)?;

        let ignored: Option<Tensor<B, 1, Bool>> = self
            .ignore_index
            .map(|index| targets.clone().equal_elem(index));
        // Ignored samples may carry any value (PyTorch's default is -100): point them
        // at class 0 so the gathers stay in bounds, then zero their loss.
        let safe_targets = match &ignored {
            Some(mask) => targets.mask_fill(mask.clone(), 0),
            None => targets,
        };

        let shifted_target = summary
            .shifted
            .clone()
            .gather(1, safe_targets.clone().reshape([batch, 1]));
        let lse = summary.lse.clone();

        let (loss, target_weight) = match &self.weights {
            None => {
                // lse - a * s_y - u * sum_k s_k
                let mut loss = lse - shifted_target * onehot_coef;
                if uniform_coef != 0.0 {
                    loss = loss - summary.shifted_sum() * uniform_coef;
                }
                (loss.reshape([batch]), None)
            }
            Some(weights) => {
                // (a w_y + u W) lse - a w_y s_y - u sum_k w_k s_k
                let target_weight = weights.clone().select(0, safe_targets).reshape([batch, 1]);
                let mut loss = (lse.clone() - shifted_target) * target_weight.clone() * onehot_coef;
                if uniform_coef != 0.0 {
                    let weighted_sum = summary.weighted_shifted_sum(weights);
                    let total_weight = weights.clone().sum().reshape([1, 1]);
                    loss = loss + (lse * total_weight - weighted_sum) * uniform_coef;
                }
                (loss.reshape([batch]), Some(target_weight.reshape([batch])))
            }
        };

        Ok(match ignored {
            None => PerSample {
                loss,
                mean_weight: target_weight,
            },
            Some(mask) => {
                let kept = mask.clone().bool_not().float();
                PerSample {
                    loss: loss.mask_fill(mask, 0.0),
                    mean_weight: Some(match target_weight {
                        Some(weight) => weight * kept,
                        None => kept,
                    }),
                }
            }
        })
    }
}

/// Configuration of a [`SoftTargetCrossEntropy`].
///
/// ```
/// use burn_mixup::{Reduction, SoftTargetCrossEntropyConfig};
/// let loss = SoftTargetCrossEntropyConfig::new().with_reduction(Reduction::Sum).init();
/// assert_eq!(loss.reduction(), Reduction::Sum);
/// ```
#[derive(Config, Debug)]
pub struct SoftTargetCrossEntropyConfig {
    /// How the per-sample losses are reduced.
    #[config(default = "Reduction::Mean")]
    pub reduction: Reduction,
}

impl SoftTargetCrossEntropyConfig {
    /// Builds the loss; it holds no tensor, so it needs no device.
    ///
    /// ```
    /// use burn_mixup::SoftTargetCrossEntropyConfig;
    /// let loss = SoftTargetCrossEntropyConfig::new().init();
    /// ```
    pub fn init(&self) -> SoftTargetCrossEntropy {
        SoftTargetCrossEntropy {
            reduction: self.reduction,
        }
    }
}

/// Cross-entropy against probability targets `[B, K]`: `sum_k -q_k log softmax(z)_k`,
/// as timm's `SoftTargetCrossEntropy` and PyTorch's `cross_entropy` with probability
/// targets. This is what Mixup with smoothing, CutMix and the element-wise modes
/// produce.
///
/// ```
/// use burn::tensor::Tensor;
/// use burn_mixup::SoftTargetCrossEntropyConfig;
/// use burn_ndarray::NdArray;
///
/// let device = Default::default();
/// let loss = SoftTargetCrossEntropyConfig::new().init();
/// let logits = Tensor::<NdArray, 2>::from_floats([[0.0, 0.0, 0.0, 0.0]], &device);
/// let targets = Tensor::<NdArray, 2>::from_floats([[0.5, 0.5, 0.0, 0.0]], &device);
/// let value: f32 = loss.forward(logits, targets).into_scalar();
/// assert!((value - 4f32.ln()).abs() < 1e-6);
/// ```
#[derive(Module, Clone, Debug)]
pub struct SoftTargetCrossEntropy {
    reduction: Reduction,
}

// Written out because `#[derive(Config)]` on an enum rejects `#[default]`.
#[allow(clippy::derivable_impls)]
impl Default for SoftTargetCrossEntropy {
    fn default() -> Self {
        SoftTargetCrossEntropyConfig::new().init()
    }
}

impl SoftTargetCrossEntropy {
    /// The configured reduction.
    ///
    /// ```
    /// use burn_mixup::{Reduction, SoftTargetCrossEntropy};
    /// assert_eq!(SoftTargetCrossEntropy::default().reduction(), Reduction::Mean);
    /// ```
    pub fn reduction(&self) -> Reduction {
        self.reduction
    }

    /// Computes the loss with the configured reduction.
    ///
    /// # Shapes
    /// - logits: `[batch_size, num_classes]`
    /// - targets: `[batch_size, num_classes]`, each row a probability distribution
    /// - output: `[1]` for Mean and Sum, `[batch_size]` for None
    ///
    /// # Panics
    /// If the shapes differ; [`try_forward`](Self::try_forward) returns the error instead.
    ///
    /// ```
    /// use burn::tensor::Tensor;
    /// use burn_mixup::SoftTargetCrossEntropy;
    /// use burn_ndarray::NdArray;
    ///
    /// let device = Default::default();
    /// let logits = Tensor::<NdArray, 2>::from_floats([[1.0, 1.0]], &device);
    /// let targets = Tensor::<NdArray, 2>::from_floats([[0.0, 1.0]], &device);
    /// let value: f32 = SoftTargetCrossEntropy::default().forward(logits, targets).into_scalar();
    /// assert!((value - 2f32.ln()).abs() < 1e-6);
    /// ```
    pub fn forward<B: Backend>(&self, logits: Tensor<B, 2>, targets: Tensor<B, 2>) -> Tensor<B, 1> {
        self.try_forward(logits, targets)
            .unwrap_or_else(|err| panic!("SoftTargetCrossEntropy::forward: {err}"))
    }

    /// Like [`forward`](Self::forward), but returns a shape mismatch as an error.
    ///
    /// # Errors
    /// [`LossError::ShapeMismatch`] when the targets do not have the logits' shape.
    ///
    /// ```
    /// use burn::tensor::Tensor;
    /// use burn_mixup::{LossError, SoftTargetCrossEntropy};
    /// use burn_ndarray::NdArray;
    ///
    /// let device = Default::default();
    /// let logits = Tensor::<NdArray, 2>::zeros([2, 3], &device);
    /// let targets = Tensor::<NdArray, 2>::zeros([2, 4], &device);
    /// let err = SoftTargetCrossEntropy::default().try_forward(logits, targets).unwrap_err();
    /// assert_eq!(err, LossError::ShapeMismatch { logits: [2, 3], targets: [2, 4] });
    /// ```
    pub fn try_forward<B: Backend>(
        &self,
        logits: Tensor<B, 2>,
        targets: Tensor<B, 2>,
    ) -> Result<Tensor<B, 1>, LossError> {
        if logits.dims() != targets.dims() {
            return Err(LossError::ShapeMismatch {
                logits: logits.dims(),
                targets: targets.dims(),
            });
        }
        let summary = LogitSummary::new(logits);
        let per_sample = PerSample {
            loss: summary.soft_target_loss(targets),
            mean_weight: None,
        };
        Ok(per_sample.reduce(self.reduction))
    }
}
