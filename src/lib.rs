//! # burn-mixup
//!
//! Input **Mixup**, **CutMix** and **label smoothing** for the [Burn](https://burn.dev)
//! deep-learning framework: the two regularisers that raise image-classification
//! accuracy without touching the model, with the options of timm and torchvision,
//! checked against PyTorch's numbers, generic over every Burn backend.
//!
//! - [`MixupConfig`] → [`Mixup`]: lambda ~ Beta(alpha, alpha) and a pairing per batch,
//!   yielding a [`MixedBatch`] (mixed inputs, both target sets, lambda) whose
//!   [`loss`](MixedBatch::loss) is the mixup criterion from one log-softmax.
//! - [`MixupBatcher`]: wraps any Burn `Batcher`, so mixing is one line in a
//!   `DataLoaderBuilder`.
//! - [`LabelSmoothingCrossEntropyConfig`] → [`LabelSmoothingCrossEntropy`]: both
//!   smoothing conventions ([`SmoothingConvention`]), class weights and
//!   `ignore_index` with PyTorch's semantics, closed-form and finite on any logits.
//! - [`SoftTargetCrossEntropy`] for probability targets.
//! - [`MixConfig`] → [`Mixer`]: Mixup and CutMix with timm's `batch`/`pair`/`elem`
//!   modes, `switch_prob`, `cutmix_minmax`, `correct_lam` and schedules.
//! - Typed errors ([`MixupError`], [`LossError`], [`TargetError`]) instead of panics.
//!
//! ## Quick start
//!
//! ```
//! use burn::tensor::{Int, Tensor};
//! use burn_mixup::{LabelSmoothingCrossEntropyConfig, MixupConfig};
//! use burn_ndarray::NdArray;
//!
//! let device = Default::default();
//! let mixup = MixupConfig::new().with_alpha(1.0).with_seed(Some(42)).init()?;
//! let criterion = LabelSmoothingCrossEntropyConfig::new()
//!     .with_smoothing(0.1)
//!     .init::<NdArray>(&device)?;
//!
//! let images = Tensor::<NdArray, 4>::random([8, 3, 32, 32], burn::tensor::Distribution::Default, &device);
//! let labels = Tensor::<NdArray, 1, Int>::from_ints([0, 1, 2, 3, 4, 5, 6, 7], &device);
//! let batch = mixup.apply(images, labels)?;
//! let logits = Tensor::<NdArray, 2>::zeros([8, 10], &device); // model.forward(batch.inputs.clone())
//! let loss = batch.loss(logits, &criterion); // lambda*CE(a) + (1-lambda)*CE(b)
//! assert!((loss.into_scalar() - 10f32.ln()).abs() < 1e-5);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Feature flags
//! - `cuda`: pulls in `burn-cuda` so that the examples can train on NVIDIA GPUs. The
//!   library itself is generic over `B: Backend` and needs no feature for any backend.
#![warn(missing_docs)]

pub mod batcher;
pub mod cutmix;
pub mod error;
pub mod loss;
pub mod mix;
pub mod mixup;
pub mod rng;

pub use batcher::{BatchMixer, IntoClassificationBatch, MixupBatcher};
pub use cutmix::CutBox;
pub use error::{check_targets, LossError, MixupError, TargetError};
pub use loss::{
    LabelSmoothingCrossEntropy, LabelSmoothingCrossEntropyConfig, Reduction, SmoothingConvention,
    SoftTargetCrossEntropy, SoftTargetCrossEntropyConfig,
};
pub use mix::{MixConfig, MixMode, MixScheduleConfig, Mixer};
pub use mixup::{Lambda, MixedBatch, Mixup, MixupConfig, MixupParams, Pairing};
pub use rng::RngState;
