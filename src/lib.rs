//! # burn-mixup
//!
//! Input **Mixup**, **CutMix** and **label smoothing** for the [Burn](https://burn.dev)
//! deep-learning framework: the regularisers that raise image-classification
//! accuracy without touching the model, with every option of timm and torchvision,
//! checked against PyTorch's numbers. Built on Burn 0.22: tensors carry their backend
//! in their [`Device`](burn::tensor::Device), so nothing here has a backend
//! parameter, and every backend Burn enables works.
//!
//! - [`MixConfig`] → [`Mixer`]: the one mixer. Mixup, CutMix, ResizeMix and FMix
//!   ([`Paste`], [`FourierMask`]), timm's `batch`/`pair`/`elem` modes ([`MixMode`]), switching,
//!   `cutmix_minmax`, `correct_lam`, schedules over epochs, three pairings
//!   ([`Pairing`]), explicit seeded and resumable randomness. Presets
//!   [`MixConfig::mixup`], [`MixConfig::cutmix`], [`MixConfig::resizemix`] and
//!   [`MixConfig::fmix`]; a
//!   mixer with both alphas 0 is disabled and returns batches unmixed through the
//!   same types.
//! - [`Mixer::sample`] → [`MixParams`]: one draw (partners, [`Lambda`], [`CutBox`]es)
//!   that replays on any tensor with the same batch dimension (Manifold Mixup).
//! - [`MixedBatch`]: mixed inputs, both target sets and the draw, with the mixup
//!   criterion from one log-sum-exp ([`MixedBatch::loss`]), timm's soft targets and
//!   the lambda-weighted accuracy.
//! - [`MixupBatcher`]: wraps any Burn `Batcher`, so mixing is one line in a
//!   `DataLoaderBuilder`.
//! - Beyond one label per image: [`DenseMixedBatch`] (dense `[B, K]` targets,
//!   multi-label or soft, from [`Mixer::apply_dense`] or [`MixupBatcher::dense`]) and
//!   [`SegmentationBatch`] (images and `[B, H, W]` maps mixed by one draw, from
//!   [`Mixer::apply_segmentation`] or [`MixupBatcher::segmentation`]), with the
//!   per-pixel criterion [`LabelSmoothingCrossEntropy::forward_maps`] and the host
//!   checks [`check_maps`] and [`check_dense_targets`].
//! - [`RegMixupBatch`] (RegMixup: the clean batch and its mixed copy in one step,
//!   `CE(clean) + eta * mixup criterion`), from [`Mixer::apply_regmixup`] or
//!   [`MixupBatcher::regmixup`].
//! - [`LabelSmoothingCrossEntropyConfig`] → [`LabelSmoothingCrossEntropy`]: both
//!   smoothing conventions ([`SmoothingConvention`]), class weights, `ignore_index`
//!   and probability targets with PyTorch's semantics, Burn's own `Reduction`.
//! - [`BinaryCrossEntropyConfig`] → [`BinaryCrossEntropy`]: timm's binary
//!   cross-entropy (smoothing, `target_threshold`, `pos_weight`, class weights,
//!   `sum_classes`) on hard, mixed or dense targets.
//! - [`Predictions`] → [`Reliability`]: ECE, MCE, RMS calibration error (equal-width
//!   or equal-mass [`Binning`]), NLL and Brier score with torchmetrics' definitions,
//!   the reliability diagram's bins; [`TemperatureScaling`] fitted to the exact NLL
//!   minimum.
//! - Typed errors ([`MixError`], [`LossError`], [`CalibrationError`]) instead of panics.
//!
//! ## Quick start
//!
//! ```
//! use burn::tensor::{Device, Int, Tensor};
//! use burn_mixup::{LabelSmoothingCrossEntropyConfig, MixConfig};
//!
//! let device = Device::flex();
//! let mixer = MixConfig::mixup(1.0).with_seed(Some(42)).init()?;
//! let criterion = LabelSmoothingCrossEntropyConfig::new()
//!     .with_smoothing(0.1)
//!     .init(&device)?;
//!
//! let images = Tensor::<4>::random([8, 3, 32, 32], burn::tensor::Distribution::Default, &device);
//! let labels = Tensor::<1, Int>::from_ints([0, 1, 2, 3, 4, 5, 6, 7], &device);
//! let batch = mixer.apply(images, labels)?;
//! let logits = Tensor::<2>::zeros([8, 10], &device); // model.forward(batch.inputs().clone())
//! let loss = batch.loss(logits, &criterion); // lambda*CE(a) + (1-lambda)*CE(b)
//! assert!((loss.into_scalar::<f32>() - 10f32.ln()).abs() < 1e-5);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## The manual
//!
//! The [`guide`] module holds one page per topic, every code block a doctest:
//!
//! - [`guide::burn_train`]: Mixup in a burn-train project in five steps (feature `train`).
//! - [`guide::manifold_mixup`]: one draw replayed on hidden activations.
//! - [`guide::resuming`]: exact resumption from a saved draw index; one stream per rank.
//! - [`guide::smoothing`]: the two label-smoothing conventions and the reductions.
//! - [`guide::segmentation`]: images and segmentation maps; the per-pixel criterion.
//! - [`guide::multi_label`]: dense targets with timm's BCE or the soft-target
//!   cross-entropy.
//! - [`guide::calibration`]: measuring calibration, temperature scaling, RegMixup.
//! - [`guide::methods`]: every method and loss beside timm's, torchvision's and
//!   Keras's names.
//! - [`guide::errors`]: typed errors and the `try_` twins.
//! - [`MixConfig`](MixConfig#every-option-with-timms-and-torchvisions-names): every
//!   mixing option with timm's and torchvision's names.
//!
//! ## Feature flags
//! - `train`: what a burn-train project needs to train with mixing:
//!   `MixedClassificationOutput` (burn-train's `ItemLazy`, with the adaptors for
//!   Burn's own `LossMetric` and `AccuracyMetric`), `MixedAccuracyMetric`,
//!   `CalibrationErrorMetric` (ECE) and `MultiStepLrScheduler` (PyTorch's
//!   `MultiStepLR`). Off by default; [`guide::burn_train`] uses them all.
//! - `cuda`: switches on Burn's `cuda` backend, so that the examples can train on
//!   NVIDIA GPUs (`Device::cuda(i)`). The library needs no feature for any backend:
//!   whatever backends the application enables in `burn` work.
//! - `wgpu`: switches on Burn's `wgpu` backend for the backend test suite and the
//!   example's `--backend wgpu` (the GPU code path on any Vulkan driver, a software
//!   one included).
#![warn(missing_docs)]

// One concept per module; every public item is re-exported here, so each has one
// path (`burn_mixup::Name`).
mod batch;
mod batcher;
mod bce;
mod calibration;
mod check;
mod cutmix;
mod dense;
mod error;
mod fmix;
pub mod guide;
mod lambda;
mod loss;
mod mixer;
mod params;
mod regmixup;
mod rng;
#[cfg(feature = "train")]
mod schedule;
mod segmentation;
mod smoothing;
#[cfg(feature = "train")]
mod train;

pub use batch::MixedBatch;
pub use batcher::{DenseMixupBatcher, MixupBatcher, SegmentationMixupBatcher};
pub use bce::{BinaryCrossEntropy, BinaryCrossEntropyConfig};
#[cfg(feature = "train")]
pub use calibration::metric::{CalibrationErrorMetric, CalibrationInput};
pub use calibration::{Binning, Predictions, Reliability, ReliabilityBin, TemperatureScaling};
pub use check::{check_dense_targets, check_maps, check_targets};
pub use cutmix::CutBox;
pub use dense::DenseMixedBatch;
#[cfg(feature = "train")]
pub use error::ScheduleError;
pub use error::{CalibrationError, LossError, MixError};
pub use fmix::FourierMask;
pub use lambda::Lambda;
pub use loss::{LabelSmoothingCrossEntropy, LabelSmoothingCrossEntropyConfig};
pub use mixer::{MixConfig, MixMode, Mixer, Pairing, Paste};
pub use params::MixParams;
pub use regmixup::{RegMixupBatch, RegMixupBatcher};
#[cfg(feature = "train")]
pub use schedule::{MultiStepLrScheduler, MultiStepLrSchedulerConfig};
pub use segmentation::SegmentationBatch;
pub use smoothing::SmoothingConvention;
#[cfg(feature = "train")]
pub use train::{MixedAccuracyInput, MixedAccuracyMetric, MixedClassificationOutput};

/// The README's code blocks, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
