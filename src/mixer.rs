//! The one mixer: Mixup and the CutMix family (CutMix, ResizeMix, FMix) with timm's
//! modes, switching and schedules.
//!
//! [`MixConfig`] holds every option of timm's `Mixup` (`mixup_alpha`, `cutmix_alpha`,
//! `cutmix_minmax`, `prob`, `switch_prob`, `mode`, `correct_lam`) plus what the
//! CutMix family pastes ([`Paste`]), the pairing, a schedule over epochs, and
//! explicit randomness (seed and stream). [`Mixer`] draws [`MixParams`] per batch
//! and applies them.
//!
//! | mode | lambda | partners | timm |
//! |------|--------|----------|------|
//! | [`MixMode::Batch`] | one per batch | the pairing | `mode='batch'` |
//! | [`MixMode::Pair`]  | one per pair, both partners mixed with each other | a symmetric pairing | `mode='pair'` |
//! | [`MixMode::Elem`]  | one per sample | the pairing | `mode='elem'` |

mod config;
mod failure;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use burn::tensor::{Int, Tensor};
use rand::seq::SliceRandom;
use rand::{Rng, RngExt};
use rand_distr::{Beta, Distribution};

pub use config::{MixConfig, MixMode, Pairing, Paste};

use crate::batch::MixedBatch;
use crate::cutmix::{CutBox, cutmix_bbox_and_lambda};
use crate::error::MixError;
use crate::fmix::FourierMask;
use crate::params::{MixParams, Op, check_batch};
use crate::rng::{DrawCounter, draw_rng};

/// The Beta distributions of one draw (after the schedule's ramp).
struct Betas {
    mixup: Option<Beta<f64>>,
    cutmix: Option<Beta<f64>>,
}

/// Mixup and CutMix in every mode timm offers. Built by [`MixConfig::init`].
///
/// Every batch takes the next *draw index* of the mixer's stream, and everything
/// random about it is a function of `(seed, stream, draw index)`. Clones share the
/// stream and the epoch, so a training loop can keep a clone as a handle on the copy
/// inside a `DataLoader`.
///
/// **Resuming, the one right way:** record
/// [`MixParams::draw_index`] of the last batch the training consumed (or, at an
/// epoch boundary, [`next_draw`](Self::next_draw): every batch produced has then
/// been consumed) and call [`resume_at`](Self::resume_at) with the index that
/// follows before the loader is built again. With a loader of 0 or 1 workers the
/// batches are produced in order, so the resumed run draws exactly what the
/// uninterrupted one would, mid-epoch too. With more workers, batches are produced
/// in an order that depends on thread timing: each batch's draw is still a pure
/// function of its index and every index is used once, and an epoch boundary
/// resumes exactly, but which batch of data gets which draw, and so a mid-epoch
/// resume, is not reproducible.
///
/// ```
/// use burn::tensor::{Device, Int, Tensor};
/// use burn_mixup::{LabelSmoothingCrossEntropyConfig, MixConfig, MixMode};
///
/// let device = Device::flex();
/// let mixer = MixConfig::cutmix(1.0).with_mode(MixMode::Elem).with_seed(Some(3)).init()?;
/// let images = Tensor::<4>::ones([4, 3, 8, 8], &device);
/// let labels = Tensor::<1, Int>::from_ints([0, 1, 2, 3], &device);
/// let batch = mixer.apply(images, labels)?;
/// let criterion = LabelSmoothingCrossEntropyConfig::new().init(&device)?;
/// let loss: f32 = batch.loss(Tensor::zeros([4, 10], &device), &criterion).into_scalar();
/// assert!((loss - 10f32.ln()).abs() < 1e-5);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct Mixer {
    config: Arc<MixConfig>,
    draws: Arc<DrawCounter>,
    epoch: Arc<AtomicUsize>,
    failure: failure::Failure,
}

impl Mixer {
    /// The configuration the mixer was built from.
    ///
    /// ```
    /// let mixer = burn_mixup::MixConfig::mixup(0.4).init()?;
    /// assert_eq!(mixer.config().mixup_alpha, 0.4);
    /// # Ok::<(), burn_mixup::MixError>(())
    /// ```
    pub fn config(&self) -> &MixConfig {
        &self.config
    }

    /// The seed in use: the configured one, or the one taken from the operating
    /// system (record it to reproduce the run).
    ///
    /// ```
    /// let mixer = burn_mixup::MixConfig::mixup(1.0).with_seed(Some(9)).init()?;
    /// assert_eq!(mixer.seed(), 9);
    /// # Ok::<(), burn_mixup::MixError>(())
    /// ```
    pub fn seed(&self) -> u64 {
        self.draws.seed()
    }

    /// The index the next batch's draw will take.
    ///
    /// ```
    /// let mixer = burn_mixup::MixConfig::mixup(1.0).init()?;
    /// mixer.sample(&[8, 4])?;
    /// assert_eq!(mixer.next_draw(), 1);
    /// # Ok::<(), burn_mixup::MixError>(())
    /// ```
    pub fn next_draw(&self) -> u64 {
        self.draws.next()
    }

    /// Makes the next batch take draw `next_draw`: resume a run where its consumed
    /// batches stopped (see the type's docs). Shared by all clones.
    ///
    /// ```
    /// use burn_mixup::MixConfig;
    /// let config = MixConfig::mixup(1.0).with_seed(Some(5));
    /// let (run, resumed) = (config.init()?, config.init()?);
    /// let _first = run.sample(&[8, 4])?;
    /// resumed.resume_at(1);
    /// assert_eq!(run.sample(&[8, 4])?, resumed.sample(&[8, 4])?);
    /// # Ok::<(), burn_mixup::MixError>(())
    /// ```
    pub fn resume_at(&self, next_draw: u64) {
        self.draws.set_next(next_draw);
    }

    /// Tells the mixer which epoch (0-based) the next batches belong to, for the
    /// schedule (`off_epoch`, `ramp_epochs`). Shared by all clones.
    ///
    /// ```
    /// use burn_mixup::MixConfig;
    /// let mixer = MixConfig::mixup(1.0).with_off_epoch(Some(2)).init()?;
    /// let handle = mixer.clone();
    /// handle.set_epoch(2);
    /// assert!(!mixer.is_active());
    /// # Ok::<(), burn_mixup::MixError>(())
    /// ```
    pub fn set_epoch(&self, epoch: usize) {
        self.epoch.store(epoch, Ordering::Relaxed);
    }

    /// The schedule's epoch for the next batch: the one last given to
    /// [`set_epoch`](Self::set_epoch) (0 at first), or, with `batches_per_epoch`,
    /// the next draw index divided by it.
    ///
    /// ```
    /// use burn_mixup::MixConfig;
    /// assert_eq!(MixConfig::new().init()?.epoch(), 0);
    /// let counted = MixConfig::new().with_batches_per_epoch(Some(10)).init()?;
    /// counted.resume_at(25);
    /// assert_eq!(counted.epoch(), 2);
    /// # Ok::<(), burn_mixup::MixError>(())
    /// ```
    pub fn epoch(&self) -> usize {
        self.epoch_of(self.next_draw())
    }

    /// The schedule's epoch of draw `index`.
    fn epoch_of(&self, index: u64) -> usize {
        match self.config.batches_per_epoch {
            Some(per_epoch) => (index / per_epoch as u64) as usize,
            None => self.epoch.load(Ordering::Relaxed),
        }
    }

    /// Whether the next batch can be mixed: a method is on, `prob > 0`, and the
    /// schedule mixes at the current epoch.
    ///
    /// ```
    /// use burn_mixup::MixConfig;
    /// assert!(MixConfig::new().init()?.is_active());
    /// assert!(!MixConfig::new().with_prob(0.0).init()?.is_active());
    /// # Ok::<(), burn_mixup::MixError>(())
    /// ```
    pub fn is_active(&self) -> bool {
        self.active_at(self.epoch())
    }

    fn active_at(&self, epoch: usize) -> bool {
        let config = &self.config;
        let method_on = config.mixup_alpha > 0.0 || self.cutmix_on();
        let scheduled = config.off_epoch.is_none_or(|off| epoch < off);
        method_on && config.prob > 0.0 && scheduled
    }

    fn cutmix_on(&self) -> bool {
        self.config.cutmix_alpha > 0.0 || self.config.cutmix_minmax.is_some()
    }

    /// The Beta distributions at `epoch`'s ramp.
    fn betas(&self, epoch: usize) -> Betas {
        let config = &self.config;
        let scale = if config.ramp_epochs == 0 {
            1.0
        } else {
            ((epoch + 1) as f64 / config.ramp_epochs as f64).min(1.0)
        };
        let beta = |alpha: f64| {
            (alpha > 0.0).then(|| {
                Beta::new(alpha * scale, alpha * scale)
                    .expect("alpha > 0 was validated at init and the scale is in (0, 1]")
            })
        };
        Betas {
            mixup: beta(config.mixup_alpha),
            // timm forces cutmix_alpha = 1 when only minmax is set; lambda is then
            // replaced by the box's kept fraction anyway.
            cutmix: beta(config.cutmix_alpha).or_else(|| {
                config
                    .cutmix_minmax
                    .map(|_| Beta::new(1.0, 1.0).expect("Beta(1, 1) is valid"))
            }),
        }
    }

    /// One operation and its lambda, as timm's `_params_per_batch` / one element of
    /// `_params_per_elem`.
    fn draw_op(
        &self,
        rng: &mut impl Rng,
        betas: &Betas,
        image: Option<(usize, usize)>,
    ) -> (Op, f64) {
        let config = &self.config;
        if rng.random::<f64>() >= config.prob {
            return (Op::Keep, 1.0);
        }
        let cutmix = match (&betas.mixup, &betas.cutmix) {
            (Some(_), Some(_)) => rng.random::<f64>() < config.switch_prob,
            (Some(_), None) => false,
            (None, Some(_)) => true,
            (None, None) => unreachable!("draws are taken only while a method is on"),
        };
        if cutmix && config.paste == Paste::ResizeMix {
            let (height, width) = image.expect("CutMix draws are checked to be images");
            let (low, high) = config.resizemix_scale;
            let tau = low + (high - low) * rng.random::<f64>();
            let side = |n: usize| ((tau * n as f64).round() as usize).clamp(1, n);
            let (box_height, box_width) = (side(height), side(width));
            let y0 = rng.random_range(0..=height - box_height);
            let x0 = rng.random_range(0..=width - box_width);
            let cut = CutBox {
                y0,
                y1: y0 + box_height,
                x0,
                x1: x0 + box_width,
            };
            let lambda = 1.0 - cut.area() as f64 / (height * width) as f64;
            return (Op::Resize(cut), lambda);
        }
        if cutmix && config.paste == Paste::FMix {
            let (height, width) = image.expect("CutMix draws are checked to be images");
            let share = betas.cutmix.as_ref().expect("chosen above").sample(rng);
            let mask = FourierMask::draw(height, width, config.fmix_decay_power, share, rng);
            let lambda = mask.kept_fraction();
            return (Op::Mask(Arc::new(mask)), lambda);
        }
        if cutmix {
            let lambda = betas.cutmix.as_ref().expect("chosen above").sample(rng);
            let (height, width) = image.expect("CutMix draws are checked to be images");
            let (cut, lambda) = cutmix_bbox_and_lambda(
                height,
                width,
                lambda,
                config.cutmix_minmax,
                config.correct_lambda,
                rng,
            );
            (Op::Paste(cut), lambda)
        } else {
            let lambda = betas.mixup.as_ref().expect("chosen above").sample(rng);
            (Op::Blend(lambda), lambda)
        }
    }

    /// Partner of every sample under the configured pairing (`Batch`/`Elem` modes).
    fn permutation(&self, batch_size: usize, rng: &mut impl Rng) -> Vec<usize> {
        match self.config.pairing {
            Pairing::Permutation => {
                let mut indices: Vec<usize> = (0..batch_size).collect();
                indices.shuffle(rng);
                indices
            }
            Pairing::Flip => (0..batch_size).rev().collect(),
            Pairing::Roll => (0..batch_size)
                .map(|i| (i + batch_size - 1) % batch_size)
                .collect(),
        }
    }

    /// The pairs of `Pair` mode: `(i, B-1-i)` under `Flip`, a random matching under
    /// `Permutation`. An odd batch leaves one sample alone.
    fn matching(&self, batch_size: usize, rng: &mut impl Rng) -> Vec<(usize, usize)> {
        let order: Vec<usize> = match self.config.pairing {
            Pairing::Permutation => {
                let mut indices: Vec<usize> = (0..batch_size).collect();
                indices.shuffle(rng);
                indices
            }
            // Pairs (i, B-1-i) in timm's order.
            _ => (0..batch_size / 2)
                .flat_map(|i| [i, batch_size - 1 - i])
                .collect(),
        };
        order
            .chunks_exact(2)
            .map(|pair| (pair[0], pair[1]))
            .collect()
    }

    /// Draws the parameters of the next batch, of dimensions `dims` (batch first;
    /// `[B, C, H, W]` when CutMix is configured). Takes one draw index whatever
    /// the outcome, so runs stay aligned across resumes.
    ///
    /// # Errors
    /// [`MixError::EmptyBatch`]; [`MixError::NotAnImage`] when CutMix is configured
    /// and `dims` is not `[B, C, H, W]` (checked whether or not this batch happens to
    /// draw CutMix, so the error never depends on chance).
    ///
    /// ```
    /// use burn_mixup::{Lambda, MixConfig, MixMode};
    ///
    /// let mixer = MixConfig::mixup(1.0).with_mode(MixMode::Pair).with_seed(Some(3)).init()?;
    /// let params = mixer.sample(&[6, 10])?;
    /// let Lambda::PerSample(lambda) = params.lambda() else { unreachable!() };
    /// for (i, &j) in params.partners().iter().enumerate() {
    ///     assert_eq!(params.partners()[j], i); // pairs are symmetric
    ///     assert_eq!(lambda[i], lambda[j]);   // and share lambda
    /// }
    /// # Ok::<(), burn_mixup::MixError>(())
    /// ```
    pub fn sample(&self, dims: &[usize]) -> Result<MixParams, MixError> {
        let batch_size = dims.first().copied().unwrap_or(0);
        if batch_size == 0 {
            return Err(MixError::EmptyBatch);
        }
        let image = match dims {
            [_, _, height, width] if *height > 0 && *width > 0 => Some((*height, *width)),
            _ if self.cutmix_on() => {
                return Err(MixError::NotAnImage {
                    dims: dims.to_vec(),
                });
            }
            _ => None,
        };
        let index = self.draws.take();
        let epoch = self.epoch_of(index);
        if !self.active_at(epoch) {
            let identity: Vec<usize> = (0..batch_size).collect();
            return Ok(MixParams::batch_op(index, identity, Op::Keep, 1.0, None));
        }
        let mut rng = draw_rng(self.seed(), self.config.stream, index);
        let betas = self.betas(epoch);
        Ok(match self.config.mode {
            MixMode::Batch => {
                let (op, lambda) = self.draw_op(&mut rng, &betas, image);
                let partners = if op == Op::Keep {
                    (0..batch_size).collect()
                } else {
                    self.permutation(batch_size, &mut rng)
                };
                MixParams::batch_op(index, partners, op, lambda, image)
            }
            MixMode::Elem => {
                let partners = self.permutation(batch_size, &mut rng);
                let (mut ops, mut lambdas) = (Vec::new(), Vec::new());
                for (i, &partner) in partners.iter().enumerate() {
                    let (op, lambda) = self.draw_op(&mut rng, &betas, image);
                    // A sample paired with itself stays as it is.
                    let (op, lambda) = if partner == i {
                        (Op::Keep, 1.0)
                    } else {
                        (op, lambda)
                    };
                    ops.push(op);
                    lambdas.push(lambda);
                }
                MixParams::per_sample_ops(index, partners, ops, lambdas, image)
            }
            MixMode::Pair => {
                let mut partners: Vec<usize> = (0..batch_size).collect();
                let mut ops = vec![Op::Keep; batch_size];
                let mut lambdas = vec![1.0; batch_size];
                for (i, j) in self.matching(batch_size, &mut rng) {
                    let (op, lambda) = self.draw_op(&mut rng, &betas, image);
                    partners[i] = j;
                    partners[j] = i;
                    ops[i] = op.clone();
                    ops[j] = op;
                    lambdas[i] = lambda;
                    lambdas[j] = lambda;
                }
                MixParams::per_sample_ops(index, partners, ops, lambdas, image)
            }
        })
    }

    /// Draws the next parameters for this batch and mixes it: the mixed inputs,
    /// both target sets and the draw. Inputs of any rank work for Mixup; CutMix
    /// needs `[B, C, H, W]`.
    ///
    /// # Errors
    /// [`MixError::BatchSizeMismatch`], and the errors of [`sample`](Self::sample).
    ///
    /// ```
    /// use burn::tensor::{Device, Int, Tensor};
    /// use burn_mixup::{MixConfig, MixError};
    ///
    /// let device = Device::flex();
    /// let mixer = MixConfig::cutmix(1.0).init()?;
    /// let x = Tensor::<2>::zeros([3, 4], &device);
    /// let y = Tensor::<1, Int>::from_ints([0, 1, 2], &device);
    /// assert_eq!(mixer.apply(x, y).unwrap_err(), MixError::NotAnImage { dims: vec![3, 4] });
    /// # Ok::<(), MixError>(())
    /// ```
    pub fn apply<const D: usize>(
        &self,
        inputs: Tensor<D>,
        targets: Tensor<1, Int>,
    ) -> Result<MixedBatch<D>, MixError> {
        check_batch(&inputs.dims(), &targets)?;
        self.sample(&inputs.dims())?.mix_batch(inputs, targets)
    }
}
