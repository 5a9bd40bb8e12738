//! [`MixConfig`] and the choices it holds: [`MixMode`], [`Pairing`], [`Paste`].

// `Paste`'s variants are the papers' names, which all end in "Mix"; the lint fires in
// the code `#[derive(Config)]` generates, out of reach of an item attribute.
#![allow(clippy::enum_variant_names)]

use std::sync::Arc;
use std::sync::atomic::AtomicUsize;

use burn::config::Config;

use super::Mixer;
use crate::cutmix::check_minmax;
use crate::error::MixError;
use crate::rng::DrawCounter;

/// How many mixing coefficients a batch draws.
///
/// Every mode accepts every batch size >= 1: a sample left without a partner (the
/// middle of an odd batch under [`Pairing::Flip`], the last one of an odd random
/// matching in `Pair` mode, a fixed point of a permutation in `Elem` mode) is paired
/// with itself and left unmixed (lambda 1).
///
/// ```
/// use burn::tensor::{Device, Int, Tensor};
/// use burn_mixup::{Lambda, MixConfig, MixMode};
///
/// let device = Device::flex();
/// let mixer = MixConfig::cutmix(1.0).with_mode(MixMode::Elem).with_seed(Some(1)).init()?;
/// // An odd batch is fine in every mode.
/// let batch = mixer.apply(Tensor::<4>::zeros([5, 3, 8, 8], &device),
///                         Tensor::<1, Int>::from_ints([0, 1, 2, 3, 4], &device))?;
/// assert!(matches!(batch.lambda(), Lambda::PerSample(l) if l.len() == 5));
/// # Ok::<(), burn_mixup::MixError>(())
/// ```
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum MixMode {
    /// One lambda (and one CutMix box) for the whole batch: the cheapest mode.
    Batch,
    /// One lambda per pair; both samples of a pair are mixed with each other with
    /// the same lambda and box (timm's `pair`).
    Pair,
    /// One lambda per sample, each mixed with the original of its partner (timm's
    /// `elem`).
    Elem,
}

// Written out because `#[derive(Config)]` on an enum rejects `#[default]`.
#[allow(clippy::derivable_impls)]
impl Default for MixMode {
    fn default() -> Self {
        MixMode::Batch
    }
}

/// How each sample finds its partner.
///
/// ```
/// use burn_mixup::{MixConfig, Pairing};
///
/// let flip = MixConfig::mixup(1.0).with_pairing(Pairing::Flip).init()?;
/// assert_eq!(flip.sample(&[4, 2])?.partners(), &[3, 2, 1, 0]);
/// let roll = MixConfig::mixup(1.0).with_pairing(Pairing::Roll).init()?;
/// assert_eq!(roll.sample(&[4, 2])?.partners(), &[3, 0, 1, 2]);
/// # Ok::<(), burn_mixup::MixError>(())
/// ```
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum Pairing {
    /// A fresh uniformly random permutation per batch (the default), as the mixup
    /// paper's code (`torch.randperm`); in `Pair` mode, a random matching.
    Permutation,
    /// Sample `i` with sample `B-1-i`, as timm does (`x.flip(0)`).
    Flip,
    /// Sample `i` with sample `i-1` (sample 0 with the last), as torchvision v2's
    /// `MixUp`/`CutMix` (`x.roll(1, 0)`). Not symmetric, so not for `Pair` mode.
    Roll,
}

// Written out because `#[derive(Config)]` on an enum rejects `#[default]`.
#[allow(clippy::derivable_impls)]
impl Default for Pairing {
    fn default() -> Self {
        Pairing::Permutation
    }
}

/// What the CutMix family pastes into a sample: the method behind `cutmix_alpha`.
///
/// ```
/// use burn_mixup::{MixConfig, Paste};
///
/// // ResizeMix: the whole partner, shrunk to a box of side ratio U(0.1, 0.8).
/// let mixer = MixConfig::resizemix(0.1, 0.8).with_seed(Some(1)).init()?;
/// let params = mixer.sample(&[4, 3, 32, 32])?;
/// assert!(params.resizes(0) && params.cut_box(0).is_some());
/// // FMix: the partner's pixels under a mask cut from low-frequency noise.
/// let mixer = MixConfig::fmix(1.0, 3.0).with_seed(Some(1)).init()?;
/// assert!(mixer.sample(&[4, 3, 32, 32])?.fourier_mask(0).is_some());
/// assert_eq!(MixConfig::cutmix(1.0).paste, Paste::CutMix);
/// # Ok::<(), burn_mixup::MixError>(())
/// ```
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum Paste {
    /// CutMix (Yun et al. 2019): the partner's own pixels at the box; the box's area
    /// share follows `1 - lambda`, lambda ~ Beta(`cutmix_alpha`, `cutmix_alpha`).
    CutMix,
    /// ResizeMix (Qin et al. 2020): the whole partner image, resized (nearest
    /// neighbour, so every pasted pixel is one of the partner's, bit for bit) to a
    /// box whose side ratio is `tau ~ U(resizemix_scale)`, at a uniformly random
    /// position; lambda is the kept area.
    ResizeMix,
    /// FMix (Harris et al. 2020): the partner's pixels under a mask cut from
    /// low-frequency Fourier noise (`fmix_decay_power`), of area share drawn from
    /// Beta(`cutmix_alpha`, `cutmix_alpha`); lambda is the mask's exact mean.
    FMix,
}

// Written out because `#[derive(Config)]` on an enum rejects `#[default]`.
#[allow(clippy::derivable_impls)]
impl Default for Paste {
    fn default() -> Self {
        Paste::CutMix
    }
}

/// Configuration of the [`Mixer`]: timm's option names and defaults, plus the
/// pairing, a schedule and explicit randomness.
///
/// An alpha of 0 turns its method off; with both off (and no `cutmix_minmax`) the
/// mixer is disabled and returns every batch unmixed, through the same types.
///
/// ```
/// use burn_mixup::{MixConfig, MixMode};
///
/// // timm's ImageNet recipe: Mixup 0.8 or CutMix 1.0, half the time each.
/// let mixer = MixConfig::new()
///     .with_mixup_alpha(0.8)
///     .with_cutmix_alpha(1.0)
///     .with_mode(MixMode::Batch)
///     .with_seed(Some(0))
///     .init()?;
/// assert!(mixer.is_active());
/// // A plain run: the same types, nothing mixed.
/// assert!(!MixConfig::mixup(0.0).init()?.is_active());
/// # Ok::<(), burn_mixup::MixError>(())
/// ```
///
/// # Every option, with timm's and torchvision's names
///
/// | burn-mixup `MixConfig` | timm `Mixup(...)` | torchvision `transforms.v2` | meaning |
/// |---|---|---|---|
/// | `mixup_alpha` (preset `MixConfig::mixup(α)`) | `mixup_alpha` | `MixUp(alpha=)` | λ ~ Beta(α, α); 0 turns Mixup off |
/// | `cutmix_alpha` (preset `MixConfig::cutmix(α)`) | `cutmix_alpha` | `CutMix(alpha=)` | CutMix's λ ~ Beta(α, α); 0 turns CutMix off |
/// | `cutmix_minmax: Some((min, max))` | `cutmix_minmax` | — | box sides in `[min, max)` of the image sides; λ follows the box |
/// | `paste: Paste::CutMix / ResizeMix / FMix`, `resizemix_scale: (0.1, 0.8)`, `fmix_decay_power: 3.0` (presets `MixConfig::resizemix(lo, hi)`, `MixConfig::fmix(α, decay)`) | — | — | what the CutMix family pastes: the partner's pixels in the box; the whole partner shrunk (nearest neighbour) to a box of side ratio τ ~ U(lo, hi); or the partner's pixels under a mask cut from low-frequency Fourier noise (spectrum ∝ 1/f^decay) of area share ~ Beta(α, α). λ = kept area, exactly. `cutmix_minmax` is refused with ResizeMix and FMix |
/// | `prob` | `prob` | `RandomApply` | chance a batch (pair, element) is mixed |
/// | `switch_prob` | `switch_prob` | `RandomChoice([...], p=)` | chance of CutMix when both are on |
/// | `mode: MixMode::Batch / Pair / Elem` | `mode='batch' / 'pair' / 'elem'` | batch only | one λ per batch / per pair / per sample |
/// | `correct_lambda` | `correct_lam` | always on | λ = kept area after clipping the box |
/// | `pairing: Pairing::Permutation` (default) / `Flip` / `Roll` | flip only | roll only | partner = random permutation (the mixup paper's `randperm`: about one sample per batch draws itself and stays unmixed) / `B−1−i` / `i−1` |
/// | `off_epoch` | `mixup_off_epoch` (train script) | — | clean data from that epoch on (`Mixer::set_epoch`, or `batches_per_epoch`) |
/// | `ramp_epochs` | — | — | alphas grow linearly over the first epochs |
/// | `seed`, `stream`, `Mixer::resume_at` | global NumPy RNG | global torch RNG | explicit, reproducible, resumable, one stream per rank |
/// | `MixedBatch::soft_targets(K, ε)` | `num_classes`, `label_smoothing` | `num_classes` | timm's `mixup_target` (dense `[B, K]` targets) |
/// | `Mixer::apply_dense`, `DenseMixedBatch::multi_label_targets(ε)` | `multi_label=True`, `label_smoothing` | 2-D `labels` | dense targets mixed row by row; multi-label smoothing towards 1/2 ([`guide::multi_label`](crate::guide::multi_label)) |
/// | `Mixer::apply_segmentation` | — | — (masks refused) | maps pasted under the images' regions ([`guide::segmentation`](crate::guide::segmentation)) |
///
/// Modes in short: `Batch` mixes the whole batch with one λ (cheapest); `Pair` draws one
/// λ per pair and mixes both partners with each other (symmetric: `Permutation` draws a
/// random matching, `Flip` pairs `i` with `B−1−i`; `Roll` is refused); `Elem` draws one λ
/// per sample, so `MixedBatch::lambda()` is `Lambda::PerSample` and the loss mixes
/// per-sample losses. **Odd batches:** a sample left without a partner (the middle of an
/// odd batch under `Flip`, the last of an odd random matching) is paired with itself and
/// left unmixed (λ = 1); timm asserts an even batch instead. CutMix pastes one box per
/// image, exactly.
///
#[derive(Config, Debug)]
pub struct MixConfig {
    /// Mixup's Beta(alpha, alpha) concentration; 0 turns Mixup off. 1.0 draws lambda
    /// uniformly, small values (0.2) keep it near 0 or 1.
    #[config(default = 1.0)]
    pub mixup_alpha: f64,
    /// CutMix's Beta concentration; 0 turns CutMix off (unless `cutmix_minmax` is set).
    #[config(default = 0.0)]
    pub cutmix_alpha: f64,
    /// Bounds `(min, max)` on the CutMix box sides as fractions of the image sides.
    /// When set, CutMix is on, box sides are drawn in these bounds and lambda always
    /// follows the box (timm's `cutmix_minmax`).
    pub cutmix_minmax: Option<(f64, f64)>,
    /// What the CutMix family pastes: the partner's pixels at the box (CutMix), the
    /// whole partner resized into it (ResizeMix), or the partner's pixels under a
    /// Fourier mask (FMix). `cutmix_alpha > 0` turns the family on; ResizeMix draws
    /// its box from `resizemix_scale`, not from Beta; `cutmix_minmax` is CutMix's
    /// alone.
    #[config(default = "Paste::CutMix")]
    pub paste: Paste,
    /// ResizeMix's range `(low, high)` of the box's side ratio, `0 < low <= high <= 1`
    /// (the paper's 0.1 and 0.8).
    #[config(default = "(0.1, 0.8)")]
    pub resizemix_scale: (f64, f64),
    /// FMix's decay power: the noise's spectrum falls as `1 / f^decay_power`, so
    /// larger values give smoother, blob-like masks (the paper's default 3; 0 is
    /// white noise). Finite and >= 0.
    #[config(default = 3.0)]
    pub fmix_decay_power: f64,
    /// Chance that a batch (an element or a pair, in `Elem`/`Pair` modes) is mixed.
    #[config(default = 1.0)]
    pub prob: f64,
    /// Chance of CutMix rather than Mixup when both are on.
    #[config(default = 0.5)]
    pub switch_prob: f64,
    /// How many lambdas a batch draws.
    #[config(default = "MixMode::Batch")]
    pub mode: MixMode,
    /// How samples are paired.
    #[config(default = "Pairing::Permutation")]
    pub pairing: Pairing,
    /// Report lambda as the kept area after clipping the CutMix box (timm's
    /// `correct_lam`).
    #[config(default = true)]
    pub correct_lambda: bool,
    /// First epoch (0-based) trained without mixing, as timm's `mixup_off_epoch`
    /// (the last epochs on clean data are a known win); `None` mixes throughout.
    pub off_epoch: Option<usize>,
    /// Alphas grow linearly as `alpha * min(1, (epoch + 1) / ramp_epochs)`; 0 turns
    /// the ramp off.
    #[config(default = 0)]
    pub ramp_epochs: usize,
    /// When set, the schedule's epoch is `draw index / batches_per_epoch` instead of
    /// the value given to [`Mixer::set_epoch`]: for training loops that give the
    /// batcher no epoch (burn-train's), and exact across resumes. At least 1.
    pub batches_per_epoch: Option<usize>,
    /// Seed of the random stream; `None` takes one from the operating system (see
    /// [`Mixer::seed`] to record it).
    pub seed: Option<u64>,
    /// Stream id: mixers with the same seed and different streams draw independent
    /// sequences. Give each rank (process, device) of a distributed run its own.
    #[config(default = 0)]
    pub stream: u64,
}

impl MixConfig {
    /// Mixup only, lambda ~ Beta(alpha, alpha); `mixup(0.0)` is a disabled mixer.
    ///
    /// ```
    /// let config = burn_mixup::MixConfig::mixup(0.2);
    /// assert_eq!((config.mixup_alpha, config.cutmix_alpha), (0.2, 0.0));
    /// ```
    pub fn mixup(alpha: f64) -> Self {
        Self::new().with_mixup_alpha(alpha).with_cutmix_alpha(0.0)
    }

    /// CutMix only, as the CutMix paper trains.
    ///
    /// ```
    /// let config = burn_mixup::MixConfig::cutmix(1.0);
    /// assert_eq!((config.mixup_alpha, config.cutmix_alpha), (0.0, 1.0));
    /// ```
    pub fn cutmix(alpha: f64) -> Self {
        Self::new().with_mixup_alpha(0.0).with_cutmix_alpha(alpha)
    }

    /// ResizeMix only (Qin et al. 2020): the partner shrunk to a box of side ratio
    /// `tau ~ U(low, high)` pasted at a random position; lambda is the kept area.
    ///
    /// ```
    /// let config = burn_mixup::MixConfig::resizemix(0.1, 0.8);
    /// assert_eq!((config.mixup_alpha, config.resizemix_scale), (0.0, (0.1, 0.8)));
    /// ```
    pub fn resizemix(low: f64, high: f64) -> Self {
        Self::cutmix(1.0)
            .with_paste(Paste::ResizeMix)
            .with_resizemix_scale((low, high))
    }

    /// FMix only (Harris et al. 2020), as the paper trains: masks of area share
    /// Beta(`alpha`, `alpha`) cut from noise of decay power `decay_power` (the
    /// paper's defaults are 1 and 3).
    ///
    /// ```
    /// use burn_mixup::{MixConfig, Paste};
    /// let config = MixConfig::fmix(1.0, 3.0);
    /// assert_eq!((config.paste, config.cutmix_alpha, config.fmix_decay_power), (Paste::FMix, 1.0, 3.0));
    /// ```
    pub fn fmix(alpha: f64, decay_power: f64) -> Self {
        Self::cutmix(alpha)
            .with_paste(Paste::FMix)
            .with_fmix_decay_power(decay_power)
    }

    /// Validates the configuration and builds the mixer.
    ///
    /// # Errors
    /// [`MixError::InvalidAlpha`] for a negative or non-finite alpha,
    /// [`MixError::InvalidMinMax`], [`MixError::MinMaxNeedsCutMix`],
    /// [`MixError::InvalidResizeScale`], [`MixError::InvalidDecayPower`],
    /// [`MixError::InvalidProbability`],
    /// [`MixError::ZeroBatchesPerEpoch`], and [`MixError::AsymmetricPairing`] for
    /// `Pair` mode with [`Pairing::Roll`].
    ///
    /// ```
    /// use burn_mixup::{MixConfig, MixError};
    /// let err = MixConfig::mixup(1.0).with_prob(1.5).init().unwrap_err();
    /// assert_eq!(err, MixError::InvalidProbability { name: "prob", value: 1.5 });
    /// ```
    pub fn init(&self) -> Result<Mixer, MixError> {
        for (name, alpha) in [
            ("mixup_alpha", self.mixup_alpha),
            ("cutmix_alpha", self.cutmix_alpha),
        ] {
            if !(alpha.is_finite() && alpha >= 0.0) {
                return Err(MixError::InvalidAlpha { name, value: alpha });
            }
        }
        if let Some(minmax) = self.cutmix_minmax {
            check_minmax(minmax)?;
            // ResizeMix and FMix have no box bounds: refusing beats ignoring.
            if self.paste != Paste::CutMix {
                return Err(MixError::MinMaxNeedsCutMix { paste: self.paste });
            }
        }
        let decay = self.fmix_decay_power;
        if !(decay.is_finite() && decay >= 0.0) {
            return Err(MixError::InvalidDecayPower(decay));
        }
        let (low, high) = self.resizemix_scale;
        if !(low.is_finite() && high.is_finite() && 0.0 < low && low <= high && high <= 1.0) {
            return Err(MixError::InvalidResizeScale { low, high });
        }
        for (name, value) in [("prob", self.prob), ("switch_prob", self.switch_prob)] {
            if !(value.is_finite() && (0.0..=1.0).contains(&value)) {
                return Err(MixError::InvalidProbability { name, value });
            }
        }
        if self.batches_per_epoch == Some(0) {
            return Err(MixError::ZeroBatchesPerEpoch);
        }
        if self.mode == MixMode::Pair && self.pairing == Pairing::Roll {
            return Err(MixError::AsymmetricPairing {
                mode: self.mode,
                pairing: self.pairing,
            });
        }
        Ok(Mixer {
            config: Arc::new(self.clone()),
            draws: Arc::new(DrawCounter::new(self.seed)),
            epoch: Arc::new(AtomicUsize::new(0)),
            failure: Default::default(),
        })
    }
}
