//! The manual: one page per topic, every code block a doctest.
//!
//! | page | what it covers |
//! |---|---|
//! | [`burn_train`] | Mixup in a burn-train project in five steps: batchers, `TrainStep`, metrics, schedule |
//! | [`manifold_mixup`] | replaying one draw on hidden activations |
//! | [`resuming`] | exact resumption from a saved draw index; one stream per rank |
//! | [`smoothing`] | the two label-smoothing conventions, reductions, class weights on mixed batches |
//! | [`segmentation`] | images and segmentation maps mixed together; the per-pixel criterion with void labels |
//! | [`multi_label`] | dense targets (multi-label, soft, one-hot) mixed; timm's BCE and the soft-target cross-entropy on them |
//! | [`calibration`] | ECE, MCE, NLL, Brier and reliability diagrams; temperature scaling; RegMixup |
//! | [`methods`] | every method and loss beside timm's and torchvision's names |
//! | [`errors`] | typed errors and the `try_` twins |
//!
//! The options of the mixer are documented where they are set, on
//! [`MixConfig`](crate::MixConfig#every-option-with-timms-and-torchvisions-names).
//! The examples keep their own details (flags, data formats, run folders, full
//! result tables) in their READMEs:
//! [`cifar10_resnet18`](https://github.com/burn-mixup/burn-mixup/tree/main/examples/cifar10_resnet18)
//! and [`digits_ablation`](https://github.com/burn-mixup/burn-mixup/tree/main/examples/digits_ablation).

// Each page is a Markdown file beside this one, so that it reads as prose in the
// source and on docs.rs alike; its code blocks run as doctests.

#[doc = include_str!("guide/burn_train.md")]
#[cfg(feature = "train")]
pub mod burn_train {}

#[doc = include_str!("guide/manifold_mixup.md")]
pub mod manifold_mixup {}

#[doc = include_str!("guide/resuming.md")]
pub mod resuming {}

#[doc = include_str!("guide/smoothing.md")]
pub mod smoothing {}

#[doc = include_str!("guide/segmentation.md")]
pub mod segmentation {}

#[doc = include_str!("guide/multi_label.md")]
pub mod multi_label {}

#[doc = include_str!("guide/calibration.md")]
pub mod calibration {}

#[doc = include_str!("guide/methods.md")]
pub mod methods {}

#[doc = include_str!("guide/errors.md")]
pub mod errors {}
