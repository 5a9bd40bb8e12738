//! Typed errors: one enum per concept, one variant per way things go wrong.
//!
//! Every message names the offending value and the range that was expected, so a
//! user reading a log line knows what to change without opening the source.

use thiserror::Error;

/// Errors from building or applying a [`Mixup`](crate::mixup::Mixup) or a
/// [`Mixer`](crate::mix::Mixer).
///
/// ```
/// use burn_mixup::{MixupConfig, MixupError};
///
/// let err = MixupConfig::new().with_alpha(-1.0).init().unwrap_err();
/// assert_eq!(err, MixupError::InvalidAlpha { name: "alpha", value: -1.0 });
/// assert!(err.to_string().contains("-1"));
/// ```
#[derive(Debug, Clone, PartialEq, Error)]
pub enum MixupError {
    /// A Beta-distribution concentration (`alpha`, `mixup_alpha`, `cutmix_alpha`)
    /// is negative, zero where it must be positive, or not finite.
    #[error("{name} must be a finite number > 0, got {value}")]
    InvalidAlpha {
        /// Which parameter was wrong.
        name: &'static str,
        /// The value that was given.
        value: f64,
    },
    /// A probability (`prob`, `switch_prob`) is outside [0, 1] or not finite.
    #[error("{name} must be a probability in [0, 1], got {value}")]
    InvalidProbability {
        /// Which parameter was wrong.
        name: &'static str,
        /// The value that was given.
        value: f64,
    },
    /// Both the mixup and the CutMix alpha are zero (and no CutMix min/max is set):
    /// there is nothing to mix with.
    #[error(
        "mixup_alpha and cutmix_alpha are both 0 (and cutmix_minmax is unset): enable at least one"
    )]
    NothingToMix,
    /// CutMix `minmax` bounds must satisfy 0 < min <= max <= 1.
    #[error("cutmix_minmax must satisfy 0 < min <= max <= 1, got ({min}, {max})")]
    InvalidMinMax {
        /// Lower bound on the box side, as a fraction of the image side.
        min: f64,
        /// Upper bound on the box side, as a fraction of the image side.
        max: f64,
    },
    /// Label smoothing given to a mixer is outside [0, 1) or not finite.
    #[error("label_smoothing must be in [0, 1), got {0}")]
    InvalidSmoothing(f64),
    /// A mixer that builds soft targets needs at least two classes.
    #[error("num_classes must be at least 2, got {0}")]
    InvalidNumClasses(usize),
    /// The batch holds no sample.
    #[error("cannot mix an empty batch (batch size 0)")]
    EmptyBatch,
    /// The inputs and the targets disagree on the batch size.
    #[error("inputs hold {inputs} samples but targets hold {targets}")]
    BatchSizeMismatch {
        /// Batch size of the inputs (their first dimension).
        inputs: usize,
        /// Number of targets.
        targets: usize,
    },
    /// Pair and element modes mix sample `i` with sample `B-1-i`, which needs an
    /// even batch (timm asserts the same).
    #[error("{mode} mode needs an even batch size, got {batch_size}")]
    OddBatch {
        /// The mode that was asked for.
        mode: &'static str,
        /// The batch size that was given.
        batch_size: usize,
    },
    /// CutMix needs image-shaped inputs `[B, C, H, W]` with `H, W >= 1`.
    #[error("CutMix needs inputs of shape [B, C, H, W] with H >= 1 and W >= 1, got {dims:?}")]
    NotAnImage {
        /// The dimensions that were given.
        dims: Vec<usize>,
    },
    /// A per-sample lambda vector does not match the batch.
    #[error("per-sample lambda has {got} entries but the batch holds {expected} samples")]
    LambdaLength {
        /// The batch size.
        expected: usize,
        /// The number of lambda values.
        got: usize,
    },
    /// A mixing coefficient is outside [0, 1] or not finite.
    #[error("lambda must be in [0, 1], got {0}")]
    InvalidLambda(f64),
    /// A permutation given by hand is not a bijection of `0..batch_size`.
    #[error("permutation {permutation:?} is not a permutation of 0..{batch_size}")]
    InvalidPermutation {
        /// The indices that were given.
        permutation: Vec<usize>,
        /// The batch size they should permute.
        batch_size: usize,
    },
    /// A label failed [`check_targets`].
    #[error(transparent)]
    Target(#[from] TargetError),
    /// A loss computed on a mixed batch was given inconsistent shapes or options.
    #[error(transparent)]
    Loss(#[from] LossError),
}

/// Errors from building or calling the losses of [`loss`](crate::loss).
///
/// ```
/// use burn_mixup::{LabelSmoothingCrossEntropyConfig, LossError};
/// use burn_ndarray::NdArray;
///
/// let device = Default::default();
/// let err = LabelSmoothingCrossEntropyConfig::new()
///     .with_smoothing(1.5)
///     .init::<NdArray>(&device)
///     .unwrap_err();
/// assert_eq!(err, LossError::InvalidSmoothing(1.5));
/// ```
#[derive(Debug, Clone, PartialEq, Error)]
pub enum LossError {
    /// The smoothing factor is outside [0, 1) or not finite.
    #[error("label smoothing must be in [0, 1), got {0}")]
    InvalidSmoothing(f64),
    /// A class weight is negative or not finite.
    #[error("class weight {index} must be finite and >= 0, got {value}")]
    InvalidWeight {
        /// The class whose weight is wrong.
        index: usize,
        /// The weight that was given.
        value: f64,
    },
    /// The class-weight vector is empty.
    #[error("class weights must not be empty")]
    EmptyWeights,
    /// The logits and the class weights disagree on the number of classes.
    #[error("logits have {logits} classes but {weights} class weights were given")]
    WeightCount {
        /// Number of classes in the logits (their second dimension).
        logits: usize,
        /// Number of class weights.
        weights: usize,
    },
    /// The off-target smoothing convention spreads `eps` over `K - 1` classes, so it
    /// needs at least two classes.
    #[error("the OffTarget smoothing convention needs at least 2 classes, got {0}")]
    TooFewClasses(usize),
    /// The logits and the targets disagree on the batch size.
    #[error("logits hold {logits} samples but targets hold {targets}")]
    BatchSizeMismatch {
        /// Batch size of the logits.
        logits: usize,
        /// Batch size of the targets.
        targets: usize,
    },
    /// Soft targets do not have the shape of the logits.
    #[error("soft targets have shape {targets:?} but logits have shape {logits:?}")]
    ShapeMismatch {
        /// Shape of the logits.
        logits: [usize; 2],
        /// Shape of the soft targets.
        targets: [usize; 2],
    },
    /// Per-sample mixing coefficients combined with class weights or an ignore index:
    /// PyTorch defines no such loss, so this crate refuses to invent one.
    #[error("per-sample lambda cannot be combined with class weights or ignore_index (no PyTorch equivalent)")]
    PerSampleLambdaUnsupported,
}

/// A label that cannot index the classes, found by [`check_targets`].
///
/// ```
/// use burn_mixup::{check_targets, TargetError};
///
/// let err = check_targets(&[0i64, 3, 12], 10).unwrap_err();
/// assert_eq!(err, TargetError::OutOfRange { position: 2, value: 12, num_classes: 10 });
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TargetError {
    /// A label is negative or not below the number of classes.
    #[error(
        "target at position {position} is {value}, outside the valid classes 0..{num_classes}"
    )]
    OutOfRange {
        /// Index of the bad label in the batch.
        position: usize,
        /// The bad label.
        value: i64,
        /// Number of classes.
        num_classes: usize,
    },
    /// The number of classes is zero.
    #[error("num_classes must be at least 1, got 0")]
    NoClasses,
}

/// Checks on the host that every label is a valid class index in `0..num_classes`.
///
/// Batchers call this before building the target tensor: a bad label then gives an
/// error naming its position and value, instead of an out-of-bounds gather on the
/// device (which some backends do not even detect). Accepts any integer type that
/// converts losslessly to `i64` (`u8`, `i32`, `i64`, `u32`, ...) and `usize`.
///
/// ```
/// use burn_mixup::check_targets;
///
/// assert!(check_targets(&[0u8, 9, 4], 10).is_ok());
/// assert!(check_targets(&[0usize, 10], 10).is_err());
/// assert!(check_targets(&[-1i64], 10).is_err());
/// ```
pub fn check_targets<T>(targets: &[T], num_classes: usize) -> Result<(), TargetError>
where
    T: Copy + TryInto<i64>,
{
    if num_classes == 0 {
        return Err(TargetError::NoClasses);
    }
    for (position, &target) in targets.iter().enumerate() {
        // A value too large for i64 is certainly out of range: report it saturated.
        let value = target.try_into().unwrap_or(i64::MAX);
        if value < 0 || value as u64 >= num_classes as u64 {
            return Err(TargetError::OutOfRange {
                position,
                value,
                num_classes,
            });
        }
    }
    Ok(())
}
