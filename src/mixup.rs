//! Input Mixup (Zhang et al., 2018): train on convex combinations of sample pairs.
//!
//! A batch `x` with labels `y` becomes `lambda * x + (1 - lambda) * x[perm]`, with
//! `lambda ~ Beta(alpha, alpha)` and a random pairing `perm`; the loss is
//! `lambda * CE(y) + (1 - lambda) * CE(y[perm])`. Read top to bottom:
//! [`MixupConfig`] → [`Mixup`] (draws [`MixupParams`]) → [`MixedBatch`] (the mixed
//! inputs, both target sets and lambda, with the loss, the soft targets and the
//! accuracy of the mix). Helpers [`one_hot`] and [`mixup_target`] mirror timm's.

use burn::config::Config;
use burn::tensor::backend::Backend;
use burn::tensor::{IndexingUpdateOp, Int, Tensor, TensorData};
use rand::seq::SliceRandom;
use rand::RngExt;
use rand_distr::{Beta, Distribution};

use crate::error::{LossError, MixupError};
use crate::loss::{
    is_valid_smoothing, LabelSmoothingCrossEntropy, LogitSummary, SmoothingConvention, TargetMix,
};
use std::sync::Arc;

use crate::rng::{DrawCounter, RngState};

/// How each sample finds the partner it is mixed with.
///
/// ```
/// use burn_mixup::{MixupConfig, Pairing};
///
/// let mixup = MixupConfig::new().with_pairing(Pairing::Flip).with_seed(Some(1)).init()?;
/// assert_eq!(mixup.sample(4).permutation, vec![3, 2, 1, 0]);
/// # Ok::<(), burn_mixup::MixupError>(())
/// ```
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum Pairing {
    /// A fresh uniformly random permutation each batch, as the mixup paper's code
    /// (`torch.randperm`). A sample may be paired with itself.
    Permutation,
    /// Sample `i` with sample `B-1-i`, as timm does (`x.flip(0)`): cheaper and
    /// deterministic, and fine when the loader already shuffles.
    Flip,
}

// Written out because `#[derive(Config)]` on an enum rejects `#[default]`.
#[allow(clippy::derivable_impls)]
impl Default for Pairing {
    fn default() -> Self {
        Pairing::Permutation
    }
}

/// Configuration of [`Mixup`].
///
/// ```
/// use burn_mixup::{MixupConfig, MixupError};
///
/// let mixup = MixupConfig::new().with_alpha(0.2).with_prob(0.5).with_seed(Some(42)).init()?;
/// assert_eq!(mixup.alpha(), 0.2);
/// assert!(matches!(MixupConfig::new().with_prob(1.5).init(),
///                  Err(MixupError::InvalidProbability { name: "prob", .. })));
/// # Ok::<(), MixupError>(())
/// ```
#[derive(Config, Debug)]
pub struct MixupConfig {
    /// Concentration of the symmetric Beta(alpha, alpha) that lambda is drawn from;
    /// finite and > 0. 1.0 is uniform; small values (0.2) keep lambda near 0 or 1.
    #[config(default = 1.0)]
    pub alpha: f64,
    /// Chance that a batch is mixed at all, in [0, 1]. An unmixed batch has
    /// lambda = 1 and the identity permutation.
    #[config(default = 1.0)]
    pub prob: f64,
    /// How samples are paired.
    #[config(default = "Pairing::Permutation")]
    pub pairing: Pairing,
    /// Seed of the random stream; `None` takes one from the operating system (still
    /// recorded in [`Mixup::rng_state`], so the run can be resumed).
    pub seed: Option<u64>,
}

impl MixupConfig {
    /// Validates the configuration and builds the sampler.
    ///
    /// # Errors
    /// [`MixupError::InvalidAlpha`] for `alpha <= 0` or not finite;
    /// [`MixupError::InvalidProbability`] for `prob` outside [0, 1] or not finite.
    ///
    /// ```
    /// use burn_mixup::{MixupConfig, MixupError};
    /// let err = MixupConfig::new().with_alpha(f64::NAN).init().unwrap_err();
    /// assert!(matches!(err, MixupError::InvalidAlpha { name: "alpha", .. }));
    /// ```
    pub fn init(&self) -> Result<Mixup, MixupError> {
        let beta = beta_distribution("alpha", self.alpha)?;
        check_probability("prob", self.prob)?;
        Ok(Mixup {
            beta,
            alpha: self.alpha,
            prob: self.prob,
            pairing: self.pairing,
            draws: Arc::new(DrawCounter::new(self.seed)),
        })
    }
}

pub(crate) fn beta_distribution(name: &'static str, alpha: f64) -> Result<Beta<f64>, MixupError> {
    if !(alpha.is_finite() && alpha > 0.0) {
        return Err(MixupError::InvalidAlpha { name, value: alpha });
    }
    Beta::new(alpha, alpha).map_err(|_| MixupError::InvalidAlpha { name, value: alpha })
}

pub(crate) fn check_probability(name: &'static str, value: f64) -> Result<(), MixupError> {
    if value.is_finite() && (0.0..=1.0).contains(&value) {
        Ok(())
    } else {
        Err(MixupError::InvalidProbability { name, value })
    }
}

/// What one batch is mixed with: lambda and the partner of each sample.
///
/// ```
/// use burn_mixup::MixupParams;
///
/// let params = MixupParams::new(0.7, vec![1, 0, 2])?;
/// assert!(params.is_mixed());
/// assert!(MixupParams::new(0.7, vec![0, 0, 1]).is_err()); // not a permutation
/// # Ok::<(), burn_mixup::MixupError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct MixupParams {
    /// Weight of the original sample, in [0, 1].
    pub lambda: f64,
    /// `permutation[i]` is the sample that sample `i` is mixed with.
    pub permutation: Vec<usize>,
}

impl MixupParams {
    /// Checked constructor: lambda in [0, 1], a bijection of `0..len`.
    ///
    /// # Errors
    /// [`MixupError::InvalidLambda`], [`MixupError::InvalidPermutation`].
    ///
    /// ```
    /// use burn_mixup::{MixupError, MixupParams};
    /// assert_eq!(MixupParams::new(1.5, vec![0]).unwrap_err(), MixupError::InvalidLambda(1.5));
    /// ```
    pub fn new(lambda: f64, permutation: Vec<usize>) -> Result<Self, MixupError> {
        check_lambda(lambda)?;
        if !is_permutation(&permutation) {
            let batch_size = permutation.len();
            return Err(MixupError::InvalidPermutation {
                permutation,
                batch_size,
            });
        }
        Ok(Self {
            lambda,
            permutation,
        })
    }

    /// The parameters of an unmixed batch: lambda = 1, identity permutation.
    ///
    /// ```
    /// use burn_mixup::MixupParams;
    /// let params = MixupParams::identity(3);
    /// assert_eq!((params.lambda, params.permutation), (1.0, vec![0, 1, 2]));
    /// ```
    pub fn identity(batch_size: usize) -> Self {
        Self {
            lambda: 1.0,
            permutation: (0..batch_size).collect(),
        }
    }

    /// Whether applying these parameters changes anything.
    ///
    /// ```
    /// use burn_mixup::MixupParams;
    /// assert!(!MixupParams::identity(4).is_mixed());
    /// ```
    pub fn is_mixed(&self) -> bool {
        self.lambda != 1.0 && self.permutation.iter().enumerate().any(|(i, &p)| i != p)
    }
}

pub(crate) fn check_lambda(lambda: f64) -> Result<(), MixupError> {
    if lambda.is_finite() && (0.0..=1.0).contains(&lambda) {
        Ok(())
    } else {
        Err(MixupError::InvalidLambda(lambda))
    }
}

/// Whether `indices` is a bijection of `0..indices.len()`.
///
/// ```
/// use burn_mixup::mixup::is_permutation;
/// assert!(is_permutation(&[2, 0, 1]));
/// assert!(!is_permutation(&[0, 2]));
/// ```
pub fn is_permutation(indices: &[usize]) -> bool {
    let mut seen = vec![false; indices.len()];
    indices
        .iter()
        .all(|&i| i < seen.len() && !std::mem::replace(&mut seen[i], true))
}

/// Samples lambda and pairings, and mixes batches. Built by [`MixupConfig::init`].
///
/// All methods take `&self` (the random state is an atomic counter, see
/// [`RngState`]), so one `Mixup` can sit inside a Burn `Batcher` shared by loader
/// workers, or inside a model's training step. Clones share the random stream:
/// keep one as a handle to checkpoint the copy a `DataLoader` owns.
///
/// ```
/// use burn::tensor::{Int, Tensor};
/// use burn_mixup::MixupConfig;
/// use burn_ndarray::NdArray;
///
/// let device = Default::default();
/// let mixup = MixupConfig::new().with_seed(Some(0)).init()?;
/// let images = Tensor::<NdArray, 4>::ones([8, 3, 4, 4], &device);
/// let labels = Tensor::<NdArray, 1, Int>::from_ints([0, 1, 2, 3, 4, 5, 6, 7], &device);
/// let batch = mixup.apply(images, labels)?;
/// assert_eq!(batch.inputs.dims(), [8, 3, 4, 4]);
/// # Ok::<(), burn_mixup::MixupError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Mixup {
    beta: Beta<f64>,
    alpha: f64,
    prob: f64,
    pairing: Pairing,
    draws: Arc<DrawCounter>,
}

impl Mixup {
    /// The Beta concentration.
    ///
    /// ```
    /// let mixup = burn_mixup::MixupConfig::new().init()?;
    /// assert_eq!(mixup.alpha(), 1.0);
    /// # Ok::<(), burn_mixup::MixupError>(())
    /// ```
    pub fn alpha(&self) -> f64 {
        self.alpha
    }

    /// The chance a batch is mixed.
    ///
    /// ```
    /// let mixup = burn_mixup::MixupConfig::new().with_prob(0.25).init()?;
    /// assert_eq!(mixup.prob(), 0.25);
    /// # Ok::<(), burn_mixup::MixupError>(())
    /// ```
    pub fn prob(&self) -> f64 {
        self.prob
    }

    /// The pairing.
    ///
    /// ```
    /// use burn_mixup::{MixupConfig, Pairing};
    /// assert_eq!(MixupConfig::new().init()?.pairing(), Pairing::Permutation);
    /// # Ok::<(), burn_mixup::MixupError>(())
    /// ```
    pub fn pairing(&self) -> Pairing {
        self.pairing
    }

    /// Draws the parameters of the next batch: with probability `prob`,
    /// lambda ~ Beta(alpha, alpha) and a pairing; otherwise
    /// [`MixupParams::identity`]. One call advances the random state by one draw
    /// whatever the outcome, so runs stay aligned across resumes.
    ///
    /// ```
    /// use burn_mixup::{mixup::is_permutation, MixupConfig};
    ///
    /// let mixup = MixupConfig::new().with_seed(Some(3)).init()?;
    /// let params = mixup.sample(16);
    /// assert!((0.0..=1.0).contains(&params.lambda));
    /// assert!(is_permutation(&params.permutation));
    /// # Ok::<(), burn_mixup::MixupError>(())
    /// ```
    pub fn sample(&self, batch_size: usize) -> MixupParams {
        let mut rng = self.draws.next_rng();
        if rng.random::<f64>() >= self.prob {
            return MixupParams::identity(batch_size);
        }
        let lambda = self.beta.sample(&mut rng);
        let permutation = match self.pairing {
            Pairing::Permutation => {
                let mut indices: Vec<usize> = (0..batch_size).collect();
                indices.shuffle(&mut rng);
                indices
            }
            Pairing::Flip => (0..batch_size).rev().collect(),
        };
        MixupParams {
            lambda,
            permutation,
        }
    }

    /// Draws parameters with [`sample`](Self::sample) and mixes the batch.
    ///
    /// Works for inputs of any rank whose first dimension is the batch: images
    /// `[B, C, H, W]`, features `[B, F]`, sequences `[B, T, C]`. A batch of one is
    /// valid: its only permutation is the identity, so it comes back unchanged.
    ///
    /// # Errors
    /// [`MixupError::EmptyBatch`], [`MixupError::BatchSizeMismatch`].
    ///
    /// ```
    /// use burn::tensor::{Int, Tensor};
    /// use burn_mixup::MixupConfig;
    /// use burn_ndarray::NdArray;
    ///
    /// let device = Default::default();
    /// let mixup = MixupConfig::new().init()?;
    /// let features = Tensor::<NdArray, 2>::zeros([4, 16], &device);
    /// let labels = Tensor::<NdArray, 1, Int>::from_ints([0, 1, 0, 1], &device);
    /// let batch = mixup.apply(features, labels)?;
    /// assert!((0.0..=1.0).contains(&batch.lambda.mean()));
    /// # Ok::<(), burn_mixup::MixupError>(())
    /// ```
    pub fn apply<B: Backend, const D: usize>(
        &self,
        inputs: Tensor<B, D>,
        targets: Tensor<B, 1, Int>,
    ) -> Result<MixedBatch<B, D>, MixupError> {
        let batch_size = check_batch(&inputs, &targets)?;
        let params = self.sample(batch_size);
        Self::apply_params(&params, inputs, targets)
    }

    /// Mixes a batch with given parameters (for replaying a draw, or for tests).
    ///
    /// # Errors
    /// [`MixupError::EmptyBatch`], [`MixupError::BatchSizeMismatch`], and
    /// [`MixupError::InvalidPermutation`] when the permutation's length is not the
    /// batch size.
    ///
    /// ```
    /// use burn::tensor::{Int, Tensor};
    /// use burn_mixup::{Mixup, MixupParams};
    /// use burn_ndarray::NdArray;
    ///
    /// let device = Default::default();
    /// let x = Tensor::<NdArray, 2>::from_floats([[0.0], [10.0]], &device);
    /// let y = Tensor::<NdArray, 1, Int>::from_ints([0, 1], &device);
    /// let batch = Mixup::apply_params(&MixupParams::new(0.75, vec![1, 0])?, x, y)?;
    /// let mixed: Vec<f32> = batch.inputs.into_data().to_vec().unwrap();
    /// assert_eq!(mixed, vec![2.5, 7.5]);
    /// # Ok::<(), burn_mixup::MixupError>(())
    /// ```
    pub fn apply_params<B: Backend, const D: usize>(
        params: &MixupParams,
        inputs: Tensor<B, D>,
        targets: Tensor<B, 1, Int>,
    ) -> Result<MixedBatch<B, D>, MixupError> {
        let batch_size = check_batch(&inputs, &targets)?;
        if params.permutation.len() != batch_size {
            return Err(MixupError::InvalidPermutation {
                permutation: params.permutation.clone(),
                batch_size,
            });
        }
        if !params.is_mixed() {
            return Ok(MixedBatch {
                inputs,
                targets_b: targets.clone(),
                targets_a: targets,
                lambda: Lambda::Batch(1.0),
            });
        }
        let device = inputs.device();
        let index = index_tensor::<B>(&params.permutation, &device);
        let lambda = params.lambda;
        // Same operation order as the reference `lam * x + (1 - lam) * x[index]`.
        let partners = inputs.clone().select(0, index.clone());
        let mixed = inputs * lambda + partners * (1.0 - lambda);
        Ok(MixedBatch {
            inputs: mixed,
            targets_b: targets.clone().select(0, index),
            targets_a: targets,
            lambda: Lambda::Batch(lambda),
        })
    }

    /// The random state, for checkpoints.
    ///
    /// ```
    /// let mixup = burn_mixup::MixupConfig::new().with_seed(Some(9)).init()?;
    /// assert_eq!(mixup.rng_state().seed, 9);
    /// # Ok::<(), burn_mixup::MixupError>(())
    /// ```
    pub fn rng_state(&self) -> RngState {
        self.draws.state()
    }

    /// Restores a random state saved by [`rng_state`](Self::rng_state).
    ///
    /// ```
    /// let a = burn_mixup::MixupConfig::new().with_seed(Some(9)).init()?;
    /// let b = burn_mixup::MixupConfig::new().init()?;
    /// a.sample(8);
    /// b.set_rng_state(a.rng_state());
    /// assert_eq!(a.sample(8), b.sample(8));
    /// # Ok::<(), burn_mixup::MixupError>(())
    /// ```
    pub fn set_rng_state(&self, state: RngState) {
        self.draws.restore(state);
    }
}

pub(crate) fn check_batch<B: Backend, const D: usize>(
    inputs: &Tensor<B, D>,
    targets: &Tensor<B, 1, Int>,
) -> Result<usize, MixupError> {
    let batch_size = inputs.dims()[0];
    let [num_targets] = targets.dims();
    if batch_size != num_targets {
        return Err(MixupError::BatchSizeMismatch {
            inputs: batch_size,
            targets: num_targets,
        });
    }
    if batch_size == 0 {
        return Err(MixupError::EmptyBatch);
    }
    Ok(batch_size)
}

pub(crate) fn index_tensor<B: Backend>(indices: &[usize], device: &B::Device) -> Tensor<B, 1, Int> {
    let values: Vec<i64> = indices.iter().map(|&i| i as i64).collect();
    Tensor::from_data(TensorData::new(values, [indices.len()]), device)
}

/// The mixing coefficient of a batch: one for the whole batch, or one per sample
/// (CutMix and the `Pair`/`Elem` modes of [`Mixer`](crate::Mixer)).
///
/// ```
/// use burn_mixup::Lambda;
/// assert_eq!(Lambda::Batch(0.3).mean(), 0.3);
/// assert_eq!(Lambda::PerSample(vec![0.2, 0.4]).mean(), 0.30000000000000004);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum Lambda {
    /// One lambda for every sample.
    Batch(f64),
    /// `lambda[i]` weights sample `i`'s own content and target.
    PerSample(Vec<f64>),
}

impl Lambda {
    /// The mean lambda (the value itself for [`Lambda::Batch`]).
    ///
    /// ```
    /// assert_eq!(burn_mixup::Lambda::Batch(1.0).mean(), 1.0);
    /// ```
    pub fn mean(&self) -> f64 {
        match self {
            Lambda::Batch(lambda) => *lambda,
            Lambda::PerSample(values) => values.iter().sum::<f64>() / values.len().max(1) as f64,
        }
    }

    /// Lambda of sample `index`.
    ///
    /// ```
    /// use burn_mixup::Lambda;
    /// assert_eq!(Lambda::Batch(0.5).of_sample(3), 0.5);
    /// assert_eq!(Lambda::PerSample(vec![0.1, 0.9]).of_sample(1), 0.9);
    /// ```
    pub fn of_sample(&self, index: usize) -> f64 {
        match self {
            Lambda::Batch(lambda) => *lambda,
            Lambda::PerSample(values) => values[index],
        }
    }

    /// The lambda in the form the tensor code needs.
    fn on_device<B: Backend>(&self, device: &B::Device) -> LambdaOnDevice<B> {
        match self {
            Lambda::Batch(lambda) if *lambda == 1.0 => LambdaOnDevice::Unmixed,
            Lambda::Batch(lambda) => LambdaOnDevice::Batch(*lambda),
            Lambda::PerSample(values) => {
                let values: Vec<f32> = values.iter().map(|&v| v as f32).collect();
                let len = values.len();
                LambdaOnDevice::PerSample(Tensor::from_data(TensorData::new(values, [len]), device))
            }
        }
    }
}

/// [`Lambda`] for the tensor code: an unmixed batch skips the partner's half.
enum LambdaOnDevice<B: Backend> {
    Unmixed,
    Batch(f64),
    /// `[B]`
    PerSample(Tensor<B, 1>),
}

/// A mixed batch: the mixed inputs, both target sets and lambda.
///
/// The targets of sample `i` are `targets_a[i]` with weight `lambda` and
/// `targets_b[i]` with weight `1 - lambda`.
///
/// ```
/// use burn::tensor::{Int, Tensor};
/// use burn_mixup::{LabelSmoothingCrossEntropyConfig, MixupConfig};
/// use burn_ndarray::NdArray;
///
/// let device = Default::default();
/// let mixup = MixupConfig::new().with_seed(Some(1)).init()?;
/// let criterion = LabelSmoothingCrossEntropyConfig::new().init::<NdArray>(&device)?;
/// let x = Tensor::<NdArray, 2>::ones([4, 3], &device);
/// let y = Tensor::<NdArray, 1, Int>::from_ints([0, 1, 2, 0], &device);
/// let batch = mixup.apply(x, y)?;
/// let logits = batch.inputs.clone(); // stand-in for model.forward(batch.inputs)
/// let loss = batch.loss(logits.clone(), &criterion);
/// let accuracy: f32 = batch.accuracy(logits).into_scalar();
/// assert!(loss.into_scalar().is_finite() && (0.0..=1.0).contains(&accuracy));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct MixedBatch<B: Backend, const D: usize> {
    /// The mixed inputs, same shape as the originals.
    pub inputs: Tensor<B, D>,
    /// Each sample's own targets `[B]`.
    pub targets_a: Tensor<B, 1, Int>,
    /// The partners' targets `[B]`.
    pub targets_b: Tensor<B, 1, Int>,
    /// The weight of `targets_a`.
    pub lambda: Lambda,
}

impl<B: Backend, const D: usize> MixedBatch<B, D> {
    /// Batch size.
    ///
    /// ```
    /// use burn::tensor::{Int, Tensor};
    /// use burn_mixup::{Lambda, MixedBatch};
    /// use burn_ndarray::NdArray;
    ///
    /// let device = Default::default();
    /// let y = Tensor::<NdArray, 1, Int>::from_ints([0, 1], &device);
    /// let batch = MixedBatch { inputs: Tensor::<NdArray, 2>::zeros([2, 5], &device),
    ///     targets_a: y.clone(), targets_b: y, lambda: Lambda::Batch(1.0) };
    /// assert_eq!(batch.batch_size(), 2);
    /// ```
    pub fn batch_size(&self) -> usize {
        self.inputs.dims()[0]
    }

    /// The mixup criterion `lambda * CE(logits, a) + (1 - lambda) * CE(logits, b)`,
    /// with `CE` the given (label-smoothing) criterion and its reduction, computed
    /// from ONE log-sum-exp of the logits (the tutorial formulation runs the whole
    /// criterion twice). With per-sample lambda the per-sample losses are mixed
    /// before the reduction.
    ///
    /// # Panics
    /// Where [`try_loss`](Self::try_loss) returns an error, with its message.
    ///
    /// ```
    /// use burn::tensor::{Int, Tensor};
    /// use burn_mixup::{LabelSmoothingCrossEntropyConfig, Mixup, MixupParams};
    /// use burn_ndarray::NdArray;
    ///
    /// let device = Default::default();
    /// let ce = LabelSmoothingCrossEntropyConfig::new().with_smoothing(0.0).init::<NdArray>(&device)?;
    /// let x = Tensor::<NdArray, 2>::zeros([2, 2], &device);
    /// let y = Tensor::<NdArray, 1, Int>::from_ints([0, 1], &device);
    /// let batch = Mixup::apply_params(&MixupParams::new(0.3, vec![1, 0])?, x, y)?;
    /// let logits = Tensor::<NdArray, 2>::from_floats([[1.0, 0.0], [1.0, 0.0]], &device);
    /// let loss: f32 = batch.loss(logits, &ce).into_scalar();
    /// let (good, bad) = ((1.0 + (-1f32).exp()).ln(), (1.0 + 1f32.exp()).ln());
    /// let expected = 0.3 * (good + bad) / 2.0 + 0.7 * (bad + good) / 2.0;
    /// assert!((loss - expected).abs() < 1e-6);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn loss(
        &self,
        logits: Tensor<B, 2>,
        criterion: &LabelSmoothingCrossEntropy<B>,
    ) -> Tensor<B, 1> {
        self.try_loss(logits, criterion)
            .unwrap_or_else(|err| panic!("MixedBatch::loss: {err}"))
    }

    /// Like [`loss`](Self::loss), returning shape and option errors.
    ///
    /// # Errors
    /// The errors of [`LabelSmoothingCrossEntropy::try_forward`], and
    /// [`LossError::PerSampleLambdaUnsupported`] for per-sample lambda with class
    /// weights or an ignore index.
    ///
    /// ```
    /// use burn::tensor::{Int, Tensor};
    /// use burn_mixup::{LabelSmoothingCrossEntropyConfig, Lambda, LossError, MixedBatch};
    /// use burn_ndarray::NdArray;
    ///
    /// let device = Default::default();
    /// let ce = LabelSmoothingCrossEntropyConfig::new().init::<NdArray>(&device)?;
    /// let y = Tensor::<NdArray, 1, Int>::from_ints([0, 1], &device);
    /// let batch = MixedBatch { inputs: Tensor::<NdArray, 2>::zeros([2, 3], &device),
    ///     targets_a: y.clone(), targets_b: y, lambda: Lambda::Batch(0.5) };
    /// let err = batch.try_loss(Tensor::zeros([3, 3], &device), &ce).unwrap_err();
    /// assert_eq!(err, LossError::BatchSizeMismatch { logits: 3, targets: 2 });
    /// # Ok::<(), LossError>(())
    /// ```
    pub fn try_loss(
        &self,
        logits: Tensor<B, 2>,
        criterion: &LabelSmoothingCrossEntropy<B>,
    ) -> Result<Tensor<B, 1>, LossError> {
        let [batch, _] = logits.dims();
        let [num_targets] = self.targets_a.dims();
        if batch != num_targets {
            return Err(LossError::BatchSizeMismatch {
                logits: batch,
                targets: num_targets,
            });
        }
        let device = logits.device();
        let summary = LogitSummary::new(logits);
        let reduction = criterion.reduction();
        if !criterion.reweights_samples() {
            let (a, b) = (self.targets_a.clone(), self.targets_b.clone());
            let targets = match self.lambda.on_device::<B>(&device) {
                LambdaOnDevice::Unmixed => TargetMix::One(a),
                LambdaOnDevice::Batch(lambda) => TargetMix::Pair { a, b, lambda },
                LambdaOnDevice::PerSample(lambda) => TargetMix::PerSample { a, b, lambda },
            };
            return criterion.unweighted_loss(&summary, targets, reduction);
        }
        // Class weights or an ignore index: each target set is normalised on its own,
        // exactly as two calls of PyTorch's criterion would be.
        match self.lambda.on_device::<B>(&device) {
            LambdaOnDevice::PerSample(_) => Err(LossError::PerSampleLambdaUnsupported),
            LambdaOnDevice::Unmixed => Ok(criterion
                .per_sample(&summary, self.targets_a.clone())?
                .reduce(reduction)),
            LambdaOnDevice::Batch(lambda) => {
                let loss_a = criterion.per_sample(&summary, self.targets_a.clone())?;
                let loss_b = criterion.per_sample(&summary, self.targets_b.clone())?;
                Ok(loss_a.reduce(reduction) * lambda + loss_b.reduce(reduction) * (1.0 - lambda))
            }
        }
    }

    /// The mixed target distribution `[B, K]`:
    /// `lambda * q(a) + (1 - lambda) * q(b)` with `q = (1 - eps) * onehot + eps / K`,
    /// exactly timm's `mixup_target` (pairs given by `targets_b`). Feed it to
    /// [`SoftTargetCrossEntropy`](crate::SoftTargetCrossEntropy).
    ///
    /// # Errors
    /// [`MixupError::InvalidSmoothing`] for `smoothing` outside [0, 1);
    /// [`MixupError::InvalidNumClasses`] for fewer than 1 class.
    ///
    /// ```
    /// use burn::tensor::{Int, Tensor};
    /// use burn_mixup::{Mixup, MixupParams};
    /// use burn_ndarray::NdArray;
    ///
    /// let device = Default::default();
    /// let x = Tensor::<NdArray, 2>::zeros([2, 1], &device);
    /// let y = Tensor::<NdArray, 1, Int>::from_ints([0, 2], &device);
    /// let batch = Mixup::apply_params(&MixupParams::new(0.75, vec![1, 0])?, x, y)?;
    /// let q: Vec<f32> = batch.soft_targets(3, 0.0)?.into_data().to_vec().unwrap();
    /// assert_eq!(q, vec![0.75, 0.0, 0.25, 0.25, 0.0, 0.75]);
    /// # Ok::<(), burn_mixup::MixupError>(())
    /// ```
    pub fn soft_targets(
        &self,
        num_classes: usize,
        smoothing: f64,
    ) -> Result<Tensor<B, 2>, MixupError> {
        if num_classes == 0 {
            return Err(MixupError::InvalidNumClasses(num_classes));
        }
        if !is_valid_smoothing(smoothing) {
            return Err(MixupError::InvalidSmoothing(smoothing));
        }
        let device = self.targets_a.device();
        let q_a = smooth_one_hot(self.targets_a.clone(), num_classes, smoothing);
        Ok(match self.lambda.on_device::<B>(&device) {
            LambdaOnDevice::Unmixed => q_a,
            LambdaOnDevice::Batch(lambda) => {
                let q_b = smooth_one_hot(self.targets_b.clone(), num_classes, smoothing);
                q_a * lambda + q_b * (1.0 - lambda)
            }
            LambdaOnDevice::PerSample(lambda) => {
                let q_b = smooth_one_hot(self.targets_b.clone(), num_classes, smoothing);
                let column = lambda.unsqueeze_dim::<2>(1);
                q_a * column.clone() + q_b * (column.neg() + 1.0)
            }
        })
    }

    /// The lambda-weighted accuracy `lambda * acc(a) + (1 - lambda) * acc(b)`, with
    /// `acc` the fraction of samples whose arg-max logit is the target. Shape `[1]`;
    /// stays on the device until you read it.
    ///
    /// ```
    /// use burn::tensor::{Int, Tensor};
    /// use burn_mixup::{Mixup, MixupParams};
    /// use burn_ndarray::NdArray;
    ///
    /// let device = Default::default();
    /// let x = Tensor::<NdArray, 2>::zeros([2, 1], &device);
    /// let y = Tensor::<NdArray, 1, Int>::from_ints([0, 1], &device);
    /// let batch = Mixup::apply_params(&MixupParams::new(0.8, vec![1, 0])?, x, y)?;
    /// let logits = Tensor::<NdArray, 2>::from_floats([[5.0, 0.0], [4.0, 0.0]], &device);
    /// let acc: f32 = batch.accuracy(logits).into_scalar();
    /// assert!((acc - (0.8 * 0.5 + 0.2 * 0.5)).abs() < 1e-6);
    /// # Ok::<(), burn_mixup::MixupError>(())
    /// ```
    pub fn accuracy(&self, logits: Tensor<B, 2>) -> Tensor<B, 1> {
        let [batch, _] = logits.dims();
        let device = logits.device();
        let predicted = logits.argmax(1).reshape([batch]);
        let hit_a = predicted.clone().equal(self.targets_a.clone()).float();
        match self.lambda.on_device::<B>(&device) {
            LambdaOnDevice::Unmixed => hit_a.mean(),
            LambdaOnDevice::Batch(lambda) => {
                let hit_b = predicted.equal(self.targets_b.clone()).float();
                hit_a.mean() * lambda + hit_b.mean() * (1.0 - lambda)
            }
            LambdaOnDevice::PerSample(lambda) => {
                let hit_b = predicted.equal(self.targets_b.clone()).float();
                (hit_a * lambda.clone() + hit_b * (lambda.neg() + 1.0)).mean()
            }
        }
    }
}

/// One-hot rows `[B, K]`: `on` at each target, `off` elsewhere (timm's `one_hot`).
///
/// Built on the device with a scatter (Burn's `Tensor::one_hot` reads the targets
/// back to the host).
///
/// ```
/// use burn::tensor::{Int, Tensor};
/// use burn_mixup::mixup::one_hot;
/// use burn_ndarray::NdArray;
///
/// let device = Default::default();
/// let y = Tensor::<NdArray, 1, Int>::from_ints([2, 0], &device);
/// let rows: Vec<f32> = one_hot(y, 3, 1.0, 0.0).into_data().to_vec().unwrap();
/// assert_eq!(rows, vec![0.0, 0.0, 1.0, 1.0, 0.0, 0.0]);
/// ```
pub fn one_hot<B: Backend>(
    targets: Tensor<B, 1, Int>,
    num_classes: usize,
    on: f64,
    off: f64,
) -> Tensor<B, 2> {
    let [batch] = targets.dims();
    let device = targets.device();
    // Scatter exact ones, then write `on` and `off` as given: adding `on - off` to
    // `off` would round (0.1 + 0.8 != 0.9 in f32) where timm's `scatter_` does not.
    let hits = Tensor::<B, 2>::zeros([batch, num_classes], &device).scatter(
        1,
        targets.reshape([batch, 1]),
        Tensor::ones([batch, 1], &device),
        IndexingUpdateOp::Add,
    );
    Tensor::<B, 2>::full([batch, num_classes], off, &device).mask_fill(hits.equal_elem(1.0), on)
}

/// Label-smoothed one-hot rows, `(1 - eps) * onehot + eps / K` (the uniform
/// convention of PyTorch and timm).
///
/// ```
/// use burn::tensor::{Int, Tensor};
/// use burn_mixup::mixup::smooth_one_hot;
/// use burn_ndarray::NdArray;
///
/// let device = Default::default();
/// let y = Tensor::<NdArray, 1, Int>::from_ints([1], &device);
/// let row: Vec<f32> = smooth_one_hot(y, 2, 0.2).into_data().to_vec().unwrap();
/// assert_eq!(row, vec![0.1, 0.9]);
/// ```
pub fn smooth_one_hot<B: Backend>(
    targets: Tensor<B, 1, Int>,
    num_classes: usize,
    smoothing: f64,
) -> Tensor<B, 2> {
    let (on, off) = SmoothingConvention::Uniform.target_probabilities(smoothing, num_classes);
    one_hot(targets, num_classes, on, off)
}

/// timm's `mixup_target`: `lambda * q(y) + (1 - lambda) * q(y.flip(0))` with
/// smoothed one-hot rows `q`. [`MixedBatch::soft_targets`] is the general form.
///
/// # Errors
/// As [`MixedBatch::soft_targets`], plus [`MixupError::InvalidLambda`].
///
/// ```
/// use burn::tensor::{Int, Tensor};
/// use burn_mixup::mixup::mixup_target;
/// use burn_ndarray::NdArray;
///
/// let device = Default::default();
/// let y = Tensor::<NdArray, 1, Int>::from_ints([0, 1], &device);
/// let q: Vec<f32> = mixup_target(y, 2, 0.75, 0.0)?.into_data().to_vec().unwrap();
/// assert_eq!(q, vec![0.75, 0.25, 0.25, 0.75]);
/// # Ok::<(), burn_mixup::MixupError>(())
/// ```
pub fn mixup_target<B: Backend>(
    targets: Tensor<B, 1, Int>,
    num_classes: usize,
    lambda: f64,
    smoothing: f64,
) -> Result<Tensor<B, 2>, MixupError> {
    check_lambda(lambda)?;
    let batch = MixedBatch::<B, 1> {
        inputs: Tensor::zeros([targets.dims()[0]], &targets.device()),
        targets_b: targets.clone().flip([0]),
        targets_a: targets,
        lambda: Lambda::Batch(lambda),
    };
    batch.soft_targets(num_classes, smoothing)
}
