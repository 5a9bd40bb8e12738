//! [`BinaryCrossEntropy`]: timm's `BinaryCrossEntropy` (one sigmoid per class), the
//! loss of the ResNet Strikes Back and DeiT III recipes, on hard, mixed or dense
//! targets.

use burn::config::Config;
use burn::module::Module;
use burn::nn::loss::Reduction;
use burn::tensor::Device;
use burn::tensor::{Int, Tensor};

use crate::batch::MixedBatch;
use crate::error::LossError;
use crate::loss::{HardTargets, is_valid_smoothing};

/// Configuration of a [`BinaryCrossEntropy`], with timm's option names.
///
/// Targets are smoothed as timm's (`off = eps / K` everywhere, `on = 1 - eps + eps/K`
/// on the target class), mixed as timm's `mixup_target`, then, with a
/// `target_threshold`, binarised (`> threshold` becomes 1, the rest 0).
///
/// ```
/// use burn::tensor::Device;
/// use burn_mixup::BinaryCrossEntropyConfig;
///
/// // ResNet Strikes Back A1: BCE on mixed targets binarised at 0.2, no smoothing.
/// let bce = BinaryCrossEntropyConfig::new()
///     .with_smoothing(0.0)
///     .with_target_threshold(Some(0.2))
///     .init(&Device::flex())?;
/// assert_eq!(bce.target_threshold(), Some(0.2));
/// # Ok::<(), burn_mixup::LossError>(())
/// ```
/// # use burn::tensor::Device;
#[derive(Config, Debug)]
pub struct BinaryCrossEntropyConfig {
    /// Smoothing `eps` in [0, 1) (timm's default 0.1). Applied to class-index and
    /// mixed targets; dense targets are taken as given (smooth them upstream)
    /// unless `smooth_dense` is set.
    #[config(default = 0.1)]
    pub smoothing: f64,
    /// Also smooth dense targets, each towards 1/2 (`t * (1 - eps) + eps / 2`,
    /// timm's `smooth_dense` for multi-label targets), before any threshold.
    #[config(default = false)]
    pub smooth_dense: bool,
    /// Targets above this value become 1, the others 0 (timm's
    /// `--bce-target-thresh`); finite.
    pub target_threshold: Option<f64>,
    /// Weight of the positive term per class (PyTorch's `pos_weight`), finite, >= 0.
    pub pos_weight: Option<Vec<f32>>,
    /// Weight of each class's term (PyTorch's `weight`), finite, >= 0.
    pub weights: Option<Vec<f32>>,
    /// Mean over every (sample, class) element, as PyTorch, or their sum.
    #[config(default = "Reduction::Mean")]
    pub reduction: Reduction,
    /// Sum over classes, then mean over samples (timm's `sum_classes`); overrides
    /// `reduction`.
    #[config(default = false)]
    pub sum_classes: bool,
}

fn class_values(
    values: &Option<Vec<f32>>,
    bad: impl Fn(usize, f64) -> LossError,
    device: &Device,
) -> Result<Option<Tensor<2>>, LossError> {
    let Some(values) = values else {
        return Ok(None);
    };
    if values.is_empty() {
        return Err(LossError::EmptyWeights);
    }
    if let Some((index, &value)) = values
        .iter()
        .enumerate()
        .find(|(_, v)| !v.is_finite() || **v < 0.0)
    {
        return Err(bad(index, value as f64));
    }
    Ok(Some(
        Tensor::<1>::from_floats(values.as_slice(), device).unsqueeze(),
    ))
}

impl BinaryCrossEntropyConfig {
    /// Validates the configuration and builds the loss on `device`.
    ///
    /// # Errors
    /// [`LossError::InvalidSmoothing`], [`LossError::InvalidThreshold`],
    /// [`LossError::EmptyWeights`], [`LossError::InvalidWeight`] and
    /// [`LossError::InvalidPosWeight`].
    ///
    /// ```
    /// use burn::tensor::Device;
    /// use burn_mixup::{BinaryCrossEntropyConfig, LossError};
    ///
    /// let err = BinaryCrossEntropyConfig::new()
    ///     .with_pos_weight(Some(vec![1.0, f32::NAN]))
    ///     .init(&Device::flex())
    ///     .unwrap_err();
    /// assert!(matches!(err, LossError::InvalidPosWeight { index: 1, .. }));
    /// ```
    /// # use burn::tensor::Device;
    pub fn init(&self, device: &Device) -> Result<BinaryCrossEntropy, LossError> {
        if !is_valid_smoothing(self.smoothing) {
            return Err(LossError::InvalidSmoothing(self.smoothing));
        }
        if let Some(threshold) = self.target_threshold.filter(|t| !t.is_finite()) {
            return Err(LossError::InvalidThreshold(threshold));
        }
        let weight = |index, value| LossError::InvalidWeight { index, value };
        let pos = |index, value| LossError::InvalidPosWeight { index, value };
        Ok(BinaryCrossEntropy {
            smoothing: self.smoothing,
            smooth_dense: self.smooth_dense,
            target_threshold: self.target_threshold,
            weights: class_values(&self.weights, weight, device)?,
            pos_weight: class_values(&self.pos_weight, pos, device)?,
            sum: self.sum_classes || matches!(self.reduction, Reduction::Sum),
            per_sample: self.sum_classes,
        })
    }
}

/// Binary cross-entropy with logits, one sigmoid per class: timm's
/// `BinaryCrossEntropy` and PyTorch's `binary_cross_entropy_with_logits`, in the
/// stable form `(1 - y) x + (1 + (p - 1) y) softplus(-x)` (finite at logits of
/// ±1e4).
///
/// On a [`MixedBatch`] ([`forward_mixed`](Self::forward_mixed)) the loss is summed in
/// closed form from the two target classes and lambda, without building the dense
/// `[B, K]` target matrix, also with a threshold and per-sample lambda.
///
/// ```
/// use burn::tensor::{Device, Int, Tensor};
/// use burn_mixup::BinaryCrossEntropyConfig;
///
/// let device = Device::flex();
/// let bce = BinaryCrossEntropyConfig::new().with_smoothing(0.0).init(&device)?;
/// let logits = Tensor::<2>::zeros([2, 4], &device);
/// let targets = Tensor::<1, Int>::from_ints([0, 3], &device);
/// // Every element is log(2) at logit 0, whatever its target.
/// let loss: f32 = bce.forward(logits, targets).into_scalar();
/// assert!((loss - 2f32.ln()).abs() < 1e-6);
/// # Ok::<(), burn_mixup::LossError>(())
/// ```
#[derive(Module, Debug)]
pub struct BinaryCrossEntropy {
    smoothing: f64,
    smooth_dense: bool,
    target_threshold: Option<f64>,
    weights: Option<Tensor<2>>,
    pos_weight: Option<Tensor<2>>,
    /// Sum the elements (`Reduction::Sum` or `sum_classes`) rather than average them.
    sum: bool,
    /// Divide the sum by the batch size (`sum_classes`).
    per_sample: bool,
}

/// The per-element pieces: `base = w (x + s)` and `slope = w ((p - 1) s - x)`, so
/// that the loss of an element with target `y` is `base + y * slope`.
struct Terms {
    base: Tensor<2>,
    slope: Tensor<2>,
}

impl BinaryCrossEntropy {
    /// The threshold targets are binarised at, if any.
    ///
    /// ```
    /// use burn::tensor::Device;
    /// use burn_mixup::BinaryCrossEntropyConfig;
    /// let bce = BinaryCrossEntropyConfig::new().init(&Device::flex())?;
    /// assert_eq!(bce.target_threshold(), None);
    /// # Ok::<(), burn_mixup::LossError>(())
    /// ```
    pub fn target_threshold(&self) -> Option<f64> {
        self.target_threshold
    }

    /// The loss against class indices `[B]`, smoothed as timm's.
    ///
    /// # Panics
    /// Where [`try_forward`](Self::try_forward) returns an error.
    pub fn forward(&self, logits: Tensor<2>, targets: Tensor<1, Int>) -> Tensor<1> {
        self.try_forward(logits, targets)
            .unwrap_or_else(|err| panic!("BinaryCrossEntropy::forward: {err}"))
    }

    /// Like [`forward`](Self::forward), returning shape errors.
    ///
    /// # Errors
    /// [`LossError::BatchSizeMismatch`], [`LossError::WeightCount`].
    ///
    /// ```
    /// use burn::tensor::{Device, Int, Tensor};
    /// use burn_mixup::{BinaryCrossEntropyConfig, LossError};
    ///
    /// let device = Device::flex();
    /// let bce = BinaryCrossEntropyConfig::new().with_weights(Some(vec![1.0; 3])).init(&device)?;
    /// let err = bce.try_forward(Tensor::zeros([2, 4], &device), Tensor::<1, Int>::zeros([2], &device));
    /// assert_eq!(err.unwrap_err(), LossError::WeightCount { logits: 4, weights: 3 });
    /// # Ok::<(), LossError>(())
    /// ```
    pub fn try_forward(
        &self,
        logits: Tensor<2>,
        targets: Tensor<1, Int>,
    ) -> Result<Tensor<1>, LossError> {
        self.hard_loss(logits, HardTargets::One(targets))
    }

    /// The loss of a mixed batch: the targets of timm's `mixup_target`
    /// (`lambda * smooth(a) + (1 - lambda) * smooth(b)`), binarised with a
    /// threshold, in closed form.
    ///
    /// # Panics
    /// Where [`try_forward_mixed`](Self::try_forward_mixed) returns an error.
    ///
    /// ```
    /// use burn::tensor::{Device, Int, Tensor};
    /// use burn_mixup::{BinaryCrossEntropyConfig, MixParams};
    ///
    /// let device = Device::flex();
    /// let bce = BinaryCrossEntropyConfig::new().with_smoothing(0.0).init(&device)?;
    /// let y = Tensor::<1, Int>::from_ints([0, 1], &device);
    /// let batch = MixParams::blend(0.7, vec![1, 0])?.mix_batch(Tensor::<2>::zeros([2, 2], &device), y)?;
    /// let logits = Tensor::<2>::from_floats([[2.0, -1.0], [0.5, 0.0]], &device);
    /// // The same as the dense targets [[0.7, 0.3], [0.3, 0.7]].
    /// let dense = Tensor::<2>::from_floats([[0.7, 0.3], [0.3, 0.7]], &device);
    /// let (mixed, probs): (f32, f32) = (bce.forward_mixed(logits.clone(), &batch).into_scalar(),
    ///                                   bce.forward_probs(logits, dense).into_scalar());
    /// assert!((mixed - probs).abs() < 1e-6);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn forward_mixed<const D: usize>(
        &self,
        logits: Tensor<2>,
        batch: &MixedBatch<D>,
    ) -> Tensor<1> {
        self.try_forward_mixed(logits, batch)
            .unwrap_or_else(|err| panic!("BinaryCrossEntropy::forward_mixed: {err}"))
    }

    /// Like [`forward_mixed`](Self::forward_mixed), returning shape errors.
    ///
    /// # Errors
    /// [`LossError::BatchSizeMismatch`], [`LossError::WeightCount`].
    pub fn try_forward_mixed<const D: usize>(
        &self,
        logits: Tensor<2>,
        batch: &MixedBatch<D>,
    ) -> Result<Tensor<1>, LossError> {
        let targets = batch.hard_targets(&logits.device());
        self.hard_loss(logits, targets)
    }

    /// The loss against dense targets `[B, K]` (taken as given, or smoothed towards
    /// 1/2 with `smooth_dense`, then binarised if a threshold is set): timm's
    /// `BinaryCrossEntropy` on targets of the logits' shape, PyTorch's
    /// `binary_cross_entropy_with_logits`.
    ///
    /// # Panics
    /// Where [`try_forward_probs`](Self::try_forward_probs) returns an error.
    pub fn forward_probs(&self, logits: Tensor<2>, targets: Tensor<2>) -> Tensor<1> {
        self.try_forward_probs(logits, targets)
            .unwrap_or_else(|err| panic!("BinaryCrossEntropy::forward_probs: {err}"))
    }

    /// Like [`forward_probs`](Self::forward_probs), returning shape errors.
    ///
    /// # Errors
    /// [`LossError::ShapeMismatch`], [`LossError::WeightCount`].
    ///
    /// ```
    /// use burn::tensor::{Device, Tensor};
    /// use burn_mixup::{BinaryCrossEntropyConfig, LossError};
    ///
    /// let device = Device::flex();
    /// let bce = BinaryCrossEntropyConfig::new().init(&device)?;
    /// let err = bce.try_forward_probs(Tensor::zeros([2, 3], &device), Tensor::zeros([2, 4], &device));
    /// assert_eq!(err.unwrap_err(), LossError::ShapeMismatch { logits: [2, 3], targets: [2, 4] });
    /// # Ok::<(), LossError>(())
    /// ```
    pub fn try_forward_probs(
        &self,
        logits: Tensor<2>,
        targets: Tensor<2>,
    ) -> Result<Tensor<1>, LossError> {
        if logits.dims() != targets.dims() {
            return Err(LossError::ShapeMismatch {
                logits: logits.dims(),
                targets: targets.dims(),
            });
        }
        let dims = logits.dims();
        let terms = self.terms(logits)?;
        let targets = if self.smooth_dense && self.smoothing > 0.0 {
            targets * (1.0 - self.smoothing) + 0.5 * self.smoothing
        } else {
            targets
        };
        let targets = match self.target_threshold {
            Some(t) => targets.greater_elem(t).float(),
            None => targets,
        };
        Ok(self.reduce((terms.base + targets * terms.slope).sum(), dims))
    }

    fn terms(&self, logits: Tensor<2>) -> Result<Terms, LossError> {
        let [_, classes] = logits.dims();
        for values in [&self.weights, &self.pos_weight].into_iter().flatten() {
            let [_, count] = values.dims();
            if count != classes {
                return Err(LossError::WeightCount {
                    logits: classes,
                    weights: count,
                });
            }
        }
        // softplus(-x) = max(-x, 0) + log1p(exp(-|x|)): no overflow at any logit. Its
        // gradient, -sigmoid(-x) = -exp(-x - softplus(-x)), is attached exactly:
        // autodiff differentiates log1p through `recip`, which burn-ndarray computes
        // to only ~2e-4 relative (measured), too coarse for PyTorch's digits.
        let x = logits.clone().detach();
        let value = x.clone().neg().clamp_min(0.0) + x.clone().abs().neg().exp().log1p();
        let derivative = (x.neg() - value.clone()).exp().neg();
        let linear = logits.clone() * derivative;
        let softplus = value + linear.clone() - linear.detach();
        let mut slope = match &self.pos_weight {
            Some(p) => softplus.clone() * (p.clone() - 1.0) - logits.clone(),
            None => logits.clone().neg(),
        };
        let mut base = logits + softplus;
        if let Some(w) = &self.weights {
            base = base * w.clone();
            slope = slope * w.clone();
        }
        Ok(Terms { base, slope })
    }

    fn binarise(&self, target: f64) -> f64 {
        match self.target_threshold {
            Some(t) => ((target as f32) > t as f32) as u8 as f64,
            None => target,
        }
    }

    /// Closed form over hard targets: each row's target is `y0` everywhere, `ya` at
    /// class `a` and `yb` at class `b` (`a != b`), or `on` at `a == b`.
    fn hard_loss(&self, logits: Tensor<2>, targets: HardTargets) -> Result<Tensor<1>, LossError> {
        let [batch, classes] = logits.dims();
        let device = logits.device();
        let (a, b, lambda) = match targets {
            HardTargets::One(a) => (a.clone(), a, Tensor::ones([batch], &device)),
            HardTargets::Pair { a, b, lambda } => (a, b, Tensor::full([batch], lambda, &device)),
            HardTargets::PerSample { a, b, lambda } | HardTargets::PerRow { a, b, lambda } => {
                (a, b, lambda)
            }
        };
        let [count] = a.dims();
        if count != batch {
            return Err(LossError::BatchSizeMismatch {
                logits: batch,
                targets: count,
            });
        }
        let off = self.smoothing / classes as f64;
        let on = 1.0 - self.smoothing + off;
        let terms = self.terms(logits)?;
        let column = |y: Tensor<1, Int>| y.reshape([batch, 1]);
        let same = a.clone().equal(b.clone()).float().reshape([batch, 1]);
        let lambda = lambda.reshape([batch, 1]);
        let raw_a = lambda.clone() * (on - off) + off;
        let raw_b = lambda.neg() * (on - off) + on;
        let (y0, y_on) = (self.binarise(off), self.binarise(on));
        let (ya, yb) = match self.target_threshold {
            Some(t) => (raw_a.greater_elem(t).float(), raw_b.greater_elem(t).float()),
            None => (raw_a, raw_b),
        };
        // Where a == b the row's target is `on` at a, and nothing extra at b.
        let ya = ya * (same.clone().neg() + 1.0) + same.clone() * y_on - y0;
        let yb = (yb - y0) * (same.neg() + 1.0);
        let both = terms
            .slope
            .clone()
            .gather(1, Tensor::cat(vec![column(a), column(b)], 1));
        let total =
            terms.base.sum() + terms.slope.sum() * y0 + (both * Tensor::cat(vec![ya, yb], 1)).sum();
        Ok(self.reduce(total, [batch, classes]))
    }

    fn reduce(&self, total: Tensor<1>, [batch, classes]: [usize; 2]) -> Tensor<1> {
        match (self.sum, self.per_sample) {
            (_, true) => total / batch as f64,
            (true, false) => total,
            (false, false) => total / (batch * classes) as f64,
        }
    }
}
