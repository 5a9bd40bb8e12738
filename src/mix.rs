//! One mixer for Mixup and CutMix, with timm's modes, switching and schedules.
//!
//! [`MixConfig`] holds every option of timm's `Mixup` (`mixup_alpha`, `cutmix_alpha`,
//! `cutmix_minmax`, `prob`, `switch_prob`, `mode`, `correct_lam`, `label_smoothing`,
//! `num_classes`), plus an explicit seed and a [`MixScheduleConfig`]. [`Mixer`] yields
//! a [`MixedBatch`] whose [`soft_targets`](Mixer::soft_targets) are exactly timm's
//! `mixup_target`.
//!
//! | mode | lambda | partner of `i` | timm |
//! |------|--------|----------------|------|
//! | [`MixMode::Batch`] | one per batch | `B-1-i` (or a permutation) | `mode='batch'` |
//! | [`MixMode::Pair`]  | one per pair `(i, B-1-i)`, both mixed symmetrically | `B-1-i` | `mode='pair'` |
//! | [`MixMode::Elem`]  | one per sample | `B-1-i` (its original) | `mode='elem'` |

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use burn::config::Config;
use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor, TensorData};
use rand::seq::SliceRandom;
use rand::{Rng, RngExt};
use rand_distr::{Beta, Distribution};

use crate::cutmix::{check_minmax, cutmix_bbox_and_lambda, CutBox};
use crate::error::MixupError;
use crate::loss::is_valid_smoothing;
use crate::mixup::{
    beta_distribution, check_batch, check_probability, Lambda, MixedBatch, Mixup, MixupParams,
    Pairing,
};
use crate::rng::{DrawCounter, RngState};

/// How many mixing coefficients a batch draws.
///
/// ```
/// use burn_mixup::{MixConfig, MixMode};
/// let mixer = MixConfig::new(10).with_mode(MixMode::Elem).init()?;
/// assert_eq!(mixer.mode(), MixMode::Elem);
/// # Ok::<(), burn_mixup::MixupError>(())
/// ```
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum MixMode {
    /// One lambda (and one CutMix box) for the whole batch: the cheapest mode.
    ///
    /// ```
    /// use burn::tensor::{Int, Tensor};
    /// use burn_mixup::{Lambda, MixConfig, MixMode};
    /// use burn_ndarray::NdArray;
    ///
    /// let device = Default::default();
    /// let mixer = MixConfig::new(10).with_mode(MixMode::Batch).with_seed(Some(1)).init()?;
    /// let batch = mixer.apply(Tensor::<NdArray, 4>::zeros([4, 3, 8, 8], &device),
    ///                         Tensor::<NdArray, 1, Int>::from_ints([0, 1, 2, 3], &device))?;
    /// assert!(matches!(batch.lambda, Lambda::Batch(_)));
    /// # Ok::<(), burn_mixup::MixupError>(())
    /// ```
    Batch,
    /// One lambda per pair `(i, B-1-i)`; both samples of a pair are mixed with each
    /// other with the same lambda and box. Needs an even batch.
    ///
    /// ```
    /// use burn::tensor::{Int, Tensor};
    /// use burn_mixup::{Lambda, MixConfig, MixMode};
    /// use burn_ndarray::NdArray;
    ///
    /// let device = Default::default();
    /// let mixer = MixConfig::new(10).with_mode(MixMode::Pair).with_seed(Some(1)).init()?;
    /// let batch = mixer.apply(Tensor::<NdArray, 4>::zeros([4, 3, 8, 8], &device),
    ///                         Tensor::<NdArray, 1, Int>::from_ints([0, 1, 2, 3], &device))?;
    /// let Lambda::PerSample(l) = batch.lambda else { unreachable!() };
    /// assert!(l[0] == l[3] && l[1] == l[2]); // partners share lambda
    /// # Ok::<(), burn_mixup::MixupError>(())
    /// ```
    Pair,
    /// One lambda per sample, each mixed with the original of sample `B-1-i`. Needs
    /// an even batch.
    ///
    /// ```
    /// use burn::tensor::{Int, Tensor};
    /// use burn_mixup::{Lambda, MixConfig, MixMode};
    /// use burn_ndarray::NdArray;
    ///
    /// let device = Default::default();
    /// let mixer = MixConfig::new(10).with_cutmix_alpha(1.0).with_mode(MixMode::Elem).init()?;
    /// let batch = mixer.apply(Tensor::<NdArray, 4>::zeros([4, 3, 8, 8], &device),
    ///                         Tensor::<NdArray, 1, Int>::from_ints([0, 1, 2, 3], &device))?;
    /// assert!(matches!(batch.lambda, Lambda::PerSample(ref l) if l.len() == 4));
    /// # Ok::<(), burn_mixup::MixupError>(())
    /// ```
    Elem,
}

// Written out because `#[derive(Config)]` on an enum rejects `#[default]`.
#[allow(clippy::derivable_impls)]
impl Default for MixMode {
    fn default() -> Self {
        MixMode::Batch
    }
}

impl MixMode {
    fn name(&self) -> &'static str {
        match self {
            MixMode::Batch => "batch",
            MixMode::Pair => "pair",
            MixMode::Elem => "elem",
        }
    }
}

/// When mixing happens over a training run: off from `off_epoch` on (timm's
/// `mixup_off_epoch`: the last epochs on clean data are a known win), and an
/// optional linear ramp of the alphas over the first epochs.
///
/// ```
/// use burn_mixup::MixScheduleConfig;
///
/// let schedule = MixScheduleConfig::new().with_off_epoch(Some(140)).with_ramp_epochs(4);
/// assert!(schedule.is_enabled(139) && !schedule.is_enabled(140));
/// assert_eq!(schedule.alpha_scale(0), 0.25);
/// assert_eq!(schedule.alpha_scale(10), 1.0);
/// ```
#[derive(Config, Debug, PartialEq)]
pub struct MixScheduleConfig {
    /// First epoch (0-based) trained without mixing; `None` mixes throughout.
    pub off_epoch: Option<usize>,
    /// Alphas grow linearly as `alpha * min(1, (epoch + 1) / ramp_epochs)`; 0 turns
    /// the ramp off.
    #[config(default = 0)]
    pub ramp_epochs: usize,
}

impl MixScheduleConfig {
    /// Whether mixing is on during `epoch` (0-based).
    ///
    /// ```
    /// assert!(burn_mixup::MixScheduleConfig::new().is_enabled(1000));
    /// ```
    pub fn is_enabled(&self, epoch: usize) -> bool {
        self.off_epoch.is_none_or(|off| epoch < off)
    }

    /// The factor the alphas are multiplied by during `epoch`, in (0, 1].
    ///
    /// ```
    /// let s = burn_mixup::MixScheduleConfig::new().with_ramp_epochs(2);
    /// assert_eq!((s.alpha_scale(0), s.alpha_scale(1)), (0.5, 1.0));
    /// ```
    pub fn alpha_scale(&self, epoch: usize) -> f64 {
        if self.ramp_epochs == 0 {
            1.0
        } else {
            ((epoch + 1) as f64 / self.ramp_epochs as f64).min(1.0)
        }
    }
}

/// Configuration of a [`Mixer`]; the names and defaults are timm's `Mixup`'s, except
/// `cutmix_alpha` whose timm default 0 is kept, and the explicit `seed`.
///
/// ```
/// use burn_mixup::{MixConfig, MixMode};
///
/// // timm's recipe for ImageNet: mixup 0.8, cutmix 1.0, switch half the time.
/// let mixer = MixConfig::new(1000)
///     .with_mixup_alpha(0.8)
///     .with_cutmix_alpha(1.0)
///     .with_mode(MixMode::Batch)
///     .with_seed(Some(0))
///     .init()?;
/// # Ok::<(), burn_mixup::MixupError>(())
/// ```
#[derive(Config, Debug)]
pub struct MixConfig {
    /// Number of classes of the soft targets.
    pub num_classes: usize,
    /// Mixup's Beta concentration; 0 turns Mixup off.
    #[config(default = 1.0)]
    pub mixup_alpha: f64,
    /// CutMix's Beta concentration; 0 turns CutMix off (unless `cutmix_minmax` is set).
    #[config(default = 0.0)]
    pub cutmix_alpha: f64,
    /// Bounds `(min, max)` on the CutMix box sides as fractions of the image sides.
    /// When set, CutMix is on, box sides are drawn in these bounds and lambda always
    /// follows the box (timm's `cutmix_minmax`).
    pub cutmix_minmax: Option<(f64, f64)>,
    /// Chance that a batch (or an element, in `Pair`/`Elem` modes) is mixed at all.
    #[config(default = 1.0)]
    pub prob: f64,
    /// Chance of CutMix rather than Mixup when both are on.
    #[config(default = 0.5)]
    pub switch_prob: f64,
    /// How many lambdas a batch draws.
    #[config(default = "MixMode::Batch")]
    pub mode: MixMode,
    /// Report lambda as the kept area after clipping the CutMix box (timm's
    /// `correct_lam`).
    #[config(default = true)]
    pub correct_lambda: bool,
    /// Label smoothing of the soft targets, in [0, 1).
    #[config(default = 0.1)]
    pub label_smoothing: f64,
    /// Partner choice in `Batch` mode (`Pair`/`Elem` always use `B-1-i`).
    #[config(default = "Pairing::Flip")]
    pub pairing: Pairing,
    /// When mixing is on and how strong it is over the epochs.
    #[config(default = "MixScheduleConfig::new()")]
    pub schedule: MixScheduleConfig,
    /// Seed of the random stream; `None` takes one from the operating system.
    pub seed: Option<u64>,
}

impl MixConfig {
    /// A CutMix-only configuration (`mixup_alpha` 0), as the CutMix paper trains.
    ///
    /// ```
    /// let mixer = burn_mixup::MixConfig::cutmix(10, 1.0).init()?;
    /// assert!(mixer.config().mixup_alpha == 0.0 && mixer.config().cutmix_alpha == 1.0);
    /// # Ok::<(), burn_mixup::MixupError>(())
    /// ```
    pub fn cutmix(num_classes: usize, alpha: f64) -> Self {
        Self::new(num_classes)
            .with_mixup_alpha(0.0)
            .with_cutmix_alpha(alpha)
    }

    /// Validates the configuration and builds the mixer.
    ///
    /// # Errors
    /// [`MixupError::InvalidAlpha`] for a negative or non-finite alpha,
    /// [`MixupError::NothingToMix`] when both alphas are 0 and no minmax is set,
    /// [`MixupError::InvalidMinMax`], [`MixupError::InvalidProbability`],
    /// [`MixupError::InvalidSmoothing`], [`MixupError::InvalidNumClasses`].
    ///
    /// ```
    /// use burn_mixup::{MixConfig, MixupError};
    /// let err = MixConfig::new(10).with_mixup_alpha(0.0).init().unwrap_err();
    /// assert_eq!(err, MixupError::NothingToMix);
    /// ```
    pub fn init(&self) -> Result<Mixer, MixupError> {
        for (name, alpha) in [
            ("mixup_alpha", self.mixup_alpha),
            ("cutmix_alpha", self.cutmix_alpha),
        ] {
            if !(alpha.is_finite() && alpha >= 0.0) {
                return Err(MixupError::InvalidAlpha { name, value: alpha });
            }
        }
        if let Some(minmax) = self.cutmix_minmax {
            check_minmax(minmax)?;
        }
        if self.mixup_alpha == 0.0 && self.cutmix_alpha == 0.0 && self.cutmix_minmax.is_none() {
            return Err(MixupError::NothingToMix);
        }
        check_probability("prob", self.prob)?;
        check_probability("switch_prob", self.switch_prob)?;
        if !is_valid_smoothing(self.label_smoothing) {
            return Err(MixupError::InvalidSmoothing(self.label_smoothing));
        }
        if self.num_classes < 2 {
            return Err(MixupError::InvalidNumClasses(self.num_classes));
        }
        Ok(Mixer {
            config: Arc::new(self.clone()),
            draws: Arc::new(DrawCounter::new(self.seed)),
            epoch: Arc::new(AtomicUsize::new(0)),
        })
    }
}

/// How one sample (or the batch) is mixed.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Draw {
    Unmixed,
    Mixup(f64),
    CutMix(f64),
}

/// Mixup and CutMix in every mode timm offers. Built by [`MixConfig::init`].
///
/// Clones share the random stream and the current epoch, so a training loop can keep
/// a clone to call [`set_epoch`](Self::set_epoch) on the copy inside a `DataLoader`.
///
/// ```
/// use burn::tensor::{Int, Tensor};
/// use burn_mixup::{MixConfig, MixMode, SoftTargetCrossEntropy};
/// use burn_ndarray::NdArray;
///
/// let device = Default::default();
/// let mixer = MixConfig::new(10).with_cutmix_alpha(1.0).with_mode(MixMode::Elem)
///     .with_seed(Some(3)).init()?;
/// let images = Tensor::<NdArray, 4>::ones([4, 3, 8, 8], &device);
/// let labels = Tensor::<NdArray, 1, Int>::from_ints([0, 1, 2, 3], &device);
/// let batch = mixer.apply(images, labels)?;
/// let targets = mixer.soft_targets(&batch);
/// let logits = Tensor::<NdArray, 2>::zeros([4, 10], &device);
/// let loss: f32 = SoftTargetCrossEntropy::default().forward(logits, targets).into_scalar();
/// assert!((loss - 10f32.ln()).abs() < 1e-5);
/// # Ok::<(), burn_mixup::MixupError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Mixer {
    config: Arc<MixConfig>,
    draws: Arc<DrawCounter>,
    epoch: Arc<AtomicUsize>,
}

impl Mixer {
    /// The configuration the mixer was built from.
    ///
    /// ```
    /// assert_eq!(burn_mixup::MixConfig::new(7).init()?.config().num_classes, 7);
    /// # Ok::<(), burn_mixup::MixupError>(())
    /// ```
    pub fn config(&self) -> &MixConfig {
        &self.config
    }

    /// The mode.
    ///
    /// ```
    /// use burn_mixup::{MixConfig, MixMode};
    /// assert_eq!(MixConfig::new(7).init()?.mode(), MixMode::Batch);
    /// # Ok::<(), burn_mixup::MixupError>(())
    /// ```
    pub fn mode(&self) -> MixMode {
        self.config.mode
    }

    /// Tells the mixer which epoch (0-based) the next batches belong to, for the
    /// schedule. Shared by all clones.
    ///
    /// ```
    /// use burn_mixup::{MixConfig, MixScheduleConfig};
    /// let mixer = MixConfig::new(10)
    ///     .with_schedule(MixScheduleConfig::new().with_off_epoch(Some(2)))
    ///     .init()?;
    /// let handle = mixer.clone();
    /// handle.set_epoch(2);
    /// assert!(!mixer.is_enabled());
    /// # Ok::<(), burn_mixup::MixupError>(())
    /// ```
    pub fn set_epoch(&self, epoch: usize) {
        self.epoch.store(epoch, Ordering::Relaxed);
    }

    /// The epoch last given to [`set_epoch`](Self::set_epoch) (0 at first).
    ///
    /// ```
    /// assert_eq!(burn_mixup::MixConfig::new(10).init()?.epoch(), 0);
    /// # Ok::<(), burn_mixup::MixupError>(())
    /// ```
    pub fn epoch(&self) -> usize {
        self.epoch.load(Ordering::Relaxed)
    }

    /// Whether the schedule mixes at the current epoch.
    ///
    /// ```
    /// assert!(burn_mixup::MixConfig::new(10).init()?.is_enabled());
    /// # Ok::<(), burn_mixup::MixupError>(())
    /// ```
    pub fn is_enabled(&self) -> bool {
        self.config.schedule.is_enabled(self.epoch())
    }

    /// The random state, for checkpoints.
    ///
    /// ```
    /// let mixer = burn_mixup::MixConfig::new(10).with_seed(Some(4)).init()?;
    /// assert_eq!(mixer.rng_state().draws, 0);
    /// # Ok::<(), burn_mixup::MixupError>(())
    /// ```
    pub fn rng_state(&self) -> RngState {
        self.draws.state()
    }

    /// Restores a random state saved by [`rng_state`](Self::rng_state).
    ///
    /// ```
    /// use burn_mixup::RngState;
    /// let mixer = burn_mixup::MixConfig::new(10).init()?;
    /// mixer.set_rng_state(RngState { seed: 1, draws: 5 });
    /// assert_eq!(mixer.rng_state(), RngState { seed: 1, draws: 5 });
    /// # Ok::<(), burn_mixup::MixupError>(())
    /// ```
    pub fn set_rng_state(&self, state: RngState) {
        self.draws.restore(state);
    }

    fn scaled_beta(&self, name: &'static str, alpha: f64) -> Option<Beta<f64>> {
        let scaled = alpha * self.config.schedule.alpha_scale(self.epoch());
        // Validated at init: alpha > 0 here, and the scale is in (0, 1].
        (alpha > 0.0)
            .then(|| beta_distribution(name, scaled).expect("alpha > 0 was validated at init"))
    }

    fn cutmix_on(&self) -> bool {
        self.config.cutmix_alpha > 0.0 || self.config.cutmix_minmax.is_some()
    }

    /// One draw, as timm's `_params_per_batch` / one element of `_params_per_elem`.
    fn draw(
        &self,
        rng: &mut impl Rng,
        mixup: &Option<Beta<f64>>,
        cutmix: &Option<Beta<f64>>,
    ) -> Draw {
        if rng.random::<f64>() >= self.config.prob {
            return Draw::Unmixed;
        }
        let cutmix = cutmix.as_ref();
        match (mixup, cutmix) {
            (Some(mixup), Some(cutmix)) => {
                if rng.random::<f64>() < self.config.switch_prob {
                    Draw::CutMix(cutmix.sample(rng))
                } else {
                    Draw::Mixup(mixup.sample(rng))
                }
            }
            (Some(mixup), None) => Draw::Mixup(mixup.sample(rng)),
            (None, Some(cutmix)) => Draw::CutMix(cutmix.sample(rng)),
            (None, None) => unreachable!("MixConfig::init rejects configurations that mix nothing"),
        }
    }

    /// Mixes a batch: draws the lambdas (and boxes) for the current epoch and
    /// applies them. Inputs of any rank work for Mixup; CutMix needs `[B, C, H, W]`.
    ///
    /// # Errors
    /// [`MixupError::EmptyBatch`], [`MixupError::BatchSizeMismatch`],
    /// [`MixupError::OddBatch`] (`Pair`/`Elem` modes), [`MixupError::NotAnImage`]
    /// (CutMix on inputs that are not `[B, C, H, W]`; checked whether or not this
    /// batch happens to draw CutMix, so the error never depends on chance).
    ///
    /// ```
    /// use burn::tensor::{Int, Tensor};
    /// use burn_mixup::{MixConfig, MixMode, MixupError};
    /// use burn_ndarray::NdArray;
    ///
    /// let device = Default::default();
    /// let mixer = MixConfig::new(10).with_mode(MixMode::Pair).init()?;
    /// let x = Tensor::<NdArray, 2>::zeros([3, 4], &device);
    /// let y = Tensor::<NdArray, 1, Int>::from_ints([0, 1, 2], &device);
    /// assert_eq!(mixer.apply(x, y).unwrap_err(), MixupError::OddBatch { mode: "pair", batch_size: 3 });
    /// # Ok::<(), MixupError>(())
    /// ```
    pub fn apply<B: Backend, const D: usize>(
        &self,
        inputs: Tensor<B, D>,
        targets: Tensor<B, 1, Int>,
    ) -> Result<MixedBatch<B, D>, MixupError> {
        let batch_size = check_batch(&inputs, &targets)?;
        let mode = self.config.mode;
        if mode != MixMode::Batch && batch_size % 2 != 0 {
            return Err(MixupError::OddBatch {
                mode: mode.name(),
                batch_size,
            });
        }
        let dims = inputs.dims();
        if self.cutmix_on() && (D != 4 || dims[2] == 0 || dims[3] == 0) {
            return Err(MixupError::NotAnImage {
                dims: dims.to_vec(),
            });
        }
        let image = if D == 4 { (dims[2], dims[3]) } else { (0, 0) };

        let mut rng = self.draws.next_rng();
        let unmixed = || MixedBatch {
            inputs: inputs.clone(),
            targets_a: targets.clone(),
            targets_b: targets.clone(),
            lambda: Lambda::Batch(1.0),
        };
        if !self.is_enabled() {
            return Ok(unmixed());
        }
        let mixup_beta = self.scaled_beta("mixup_alpha", self.config.mixup_alpha);
        // timm forces cutmix_alpha = 1 when only minmax is set; lambda is then
        // replaced by the box's kept fraction anyway.
        let cutmix_beta = self
            .scaled_beta("cutmix_alpha", self.config.cutmix_alpha)
            .or_else(|| {
                self.config
                    .cutmix_minmax
                    .map(|_| Beta::new(1.0, 1.0).expect("Beta(1, 1) is valid"))
            });

        if mode == MixMode::Batch {
            let draw = self.draw(&mut rng, &mixup_beta, &cutmix_beta);
            let permutation: Vec<usize> = match self.config.pairing {
                Pairing::Flip => (0..batch_size).rev().collect(),
                Pairing::Permutation => {
                    let mut indices: Vec<usize> = (0..batch_size).collect();
                    indices.shuffle(&mut rng);
                    indices
                }
            };
            return match draw {
                Draw::Unmixed => Ok(unmixed()),
                Draw::Mixup(lambda) => {
                    Mixup::apply_params(&MixupParams::new(lambda, permutation)?, inputs, targets)
                }
                Draw::CutMix(lambda) => {
                    let (cut, lambda) = self.sample_box(image, lambda, &mut rng);
                    let keep = box_mask(image, cut);
                    let batch = paste(inputs, targets, &permutation, keep, 1, image)?;
                    Ok(MixedBatch {
                        lambda: Lambda::Batch(lambda),
                        ..batch
                    })
                }
            };
        }

        // Pair / Elem: every sample i is mixed with the original of B-1-i.
        let draws_needed = if mode == MixMode::Pair {
            batch_size / 2
        } else {
            batch_size
        };
        let mut lambdas = Vec::with_capacity(batch_size);
        let mut weights: Vec<Vec<f32>> = Vec::with_capacity(batch_size);
        let pixels = (image.0 * image.1).max(1);
        for _ in 0..draws_needed {
            let (lambda, weight) = match self.draw(&mut rng, &mixup_beta, &cutmix_beta) {
                Draw::Unmixed => (1.0, vec![1.0; pixels]),
                Draw::Mixup(lambda) => (lambda, vec![lambda as f32; pixels]),
                Draw::CutMix(lambda) => {
                    let (cut, lambda) = self.sample_box(image, lambda, &mut rng);
                    (lambda, box_mask(image, cut))
                }
            };
            lambdas.push(lambda);
            weights.push(weight);
        }
        if mode == MixMode::Pair {
            // The second half mirrors the first: sample B-1-i shares pair i's draw.
            for i in (0..batch_size / 2).rev() {
                lambdas.push(lambdas[i]);
                weights.push(weights[i].clone());
            }
        }
        let permutation: Vec<usize> = (0..batch_size).rev().collect();
        let keep: Vec<f32> = weights.concat();
        let batch = paste(inputs, targets, &permutation, keep, batch_size, image)?;
        Ok(MixedBatch {
            lambda: Lambda::PerSample(lambdas),
            ..batch
        })
    }

    fn sample_box(
        &self,
        (height, width): (usize, usize),
        lambda: f64,
        rng: &mut impl Rng,
    ) -> (CutBox, f64) {
        cutmix_bbox_and_lambda(
            height,
            width,
            lambda,
            self.config.cutmix_minmax,
            self.config.correct_lambda,
            rng,
        )
    }

    /// The soft targets of a batch this mixer made: timm's `mixup_target` with this
    /// configuration's `num_classes` and `label_smoothing`.
    ///
    /// ```
    /// use burn::tensor::{Int, Tensor};
    /// use burn_mixup::MixConfig;
    /// use burn_ndarray::NdArray;
    ///
    /// let device = Default::default();
    /// let mixer = MixConfig::new(3).with_seed(Some(0)).init()?;
    /// let batch = mixer.apply(Tensor::<NdArray, 2>::zeros([2, 1], &device),
    ///                         Tensor::<NdArray, 1, Int>::from_ints([0, 2], &device))?;
    /// let sums: Vec<f32> = mixer.soft_targets(&batch).sum_dim(1).into_data().to_vec().unwrap();
    /// assert!(sums.iter().all(|s| (s - 1.0).abs() < 1e-6));
    /// # Ok::<(), burn_mixup::MixupError>(())
    /// ```
    pub fn soft_targets<B: Backend, const D: usize>(
        &self,
        batch: &MixedBatch<B, D>,
    ) -> Tensor<B, 2> {
        batch
            .soft_targets(self.config.num_classes, self.config.label_smoothing)
            .expect("num_classes and label_smoothing were validated at init")
    }

    /// timm's `Mixup.__call__`: the mixed inputs and their soft targets.
    ///
    /// # Errors
    /// As [`apply`](Self::apply).
    ///
    /// ```
    /// use burn::tensor::{Int, Tensor};
    /// use burn_mixup::MixConfig;
    /// use burn_ndarray::NdArray;
    ///
    /// let device = Default::default();
    /// let mixer = MixConfig::new(5).init()?;
    /// let (x, q) = mixer.mix(Tensor::<NdArray, 2>::zeros([4, 2], &device),
    ///                        Tensor::<NdArray, 1, Int>::from_ints([0, 1, 2, 3], &device))?;
    /// assert_eq!((x.dims(), q.dims()), ([4, 2], [4, 5]));
    /// # Ok::<(), burn_mixup::MixupError>(())
    /// ```
    pub fn mix<B: Backend, const D: usize>(
        &self,
        inputs: Tensor<B, D>,
        targets: Tensor<B, 1, Int>,
    ) -> Result<(Tensor<B, D>, Tensor<B, 2>), MixupError> {
        let batch = self.apply(inputs, targets)?;
        let targets = self.soft_targets(&batch);
        Ok((batch.inputs, targets))
    }
}

/// Per-pixel weights of an image's own content: 0 inside the box, 1 outside, for
/// one `height x width` image, row-major.
fn box_mask((height, width): (usize, usize), cut: CutBox) -> Vec<f32> {
    let mut keep = vec![1.0f32; height * width];
    for y in cut.y0..cut.y1 {
        keep[y * width + cut.x0..y * width + cut.x1].fill(0.0);
    }
    keep
}

/// `inputs * keep + inputs[permutation] * (1 - keep)` with a host-built weight per
/// sample and pixel (`rows` = 1 broadcasts one weight map over the batch). For
/// inputs that are not images (`image` = (0, 0)) there is one weight per sample.
fn paste<B: Backend, const D: usize>(
    inputs: Tensor<B, D>,
    targets: Tensor<B, 1, Int>,
    permutation: &[usize],
    keep: Vec<f32>,
    rows: usize,
    (height, width): (usize, usize),
) -> Result<MixedBatch<B, D>, MixupError> {
    let device = inputs.device();
    let dims = inputs.dims();
    // Weight shape: [rows, 1, H, W] for images, [rows, 1, ..., 1] otherwise.
    let mut shape = [1usize; D];
    shape[0] = rows;
    if height * width > 0 {
        shape[D - 2] = height;
        shape[D - 1] = width;
    }
    // 1 - keep on the host too, so that a weight of 0.3 pairs with exactly
    // f32(0.7), as in the reference formula `x * lam + x' * (1 - lam)`.
    let other: Vec<f32> = keep.iter().map(|&k| (1.0 - k as f64) as f32).collect();
    let keep = Tensor::<B, D>::from_data(TensorData::new(keep, shape), &device).expand(dims);
    let other = Tensor::<B, D>::from_data(TensorData::new(other, shape), &device).expand(dims);
    let index = crate::mixup::index_tensor::<B>(permutation, &device);
    let partners = inputs.clone().select(0, index.clone());
    Ok(MixedBatch {
        inputs: inputs * keep + partners * other,
        targets_b: targets.clone().select(0, index),
        targets_a: targets,
        lambda: Lambda::Batch(1.0),
    })
}
