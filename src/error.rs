//! Typed errors: one enum for mixing, one for the loss, one variant per way things
//! go wrong.
//!
//! Every message names the offending value and what was expected, so a user reading
//! a log line knows what to change without opening the source.

use thiserror::Error;

/// Errors from configuring a [`Mixer`](crate::Mixer), drawing or replaying
/// [`MixParams`](crate::MixParams), building a [`MixedBatch`](crate::MixedBatch) or
/// checking labels.
///
/// ```
/// use burn_mixup::{MixConfig, MixError};
///
/// let err = MixConfig::mixup(-1.0).init().unwrap_err();
/// assert_eq!(err, MixError::InvalidAlpha { name: "mixup_alpha", value: -1.0 });
/// assert_eq!(err.to_string(), "mixup_alpha must be a finite number >= 0, got -1");
/// ```
#[derive(Debug, Clone, PartialEq, Error)]
pub enum MixError {
    /// A Beta concentration (`mixup_alpha`, `cutmix_alpha`) is negative or not
    /// finite.
    #[error("{name} must be a finite number >= 0, got {value}")]
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
    /// RegMixup's weight of the mixed term is negative or not finite.
    #[error("RegMixup's eta must be a finite number >= 0, got {0}")]
    InvalidEta(f64),
    /// The CutMix box bounds break `0 < min <= max <= 1`.
    #[error("cutmix_minmax must satisfy 0 < min <= max <= 1, got ({min}, {max})")]
    InvalidMinMax {
        /// Lower bound on the box side, as a fraction of the image side.
        min: f64,
        /// Upper bound on the box side, as a fraction of the image side.
        max: f64,
    },
    /// ResizeMix's scale range is not `0 < low <= high <= 1`.
    #[error("resizemix_scale must satisfy 0 < low <= high <= 1, got ({low}, {high})")]
    InvalidResizeScale {
        /// The smallest side ratio.
        low: f64,
        /// The largest side ratio.
        high: f64,
    },
    /// `cutmix_minmax` bounds CutMix's box sides; ResizeMix and FMix draw their
    /// regions otherwise.
    #[error("cutmix_minmax bounds CutMix boxes only; it cannot be used with paste {paste:?}")]
    MinMaxNeedsCutMix {
        /// The paste method that was asked for.
        paste: crate::Paste,
    },
    /// FMix's decay power is negative or not finite.
    #[error("fmix_decay_power must be a finite number >= 0, got {0}")]
    InvalidDecayPower(f64),
    /// `batches_per_epoch` is 0.
    #[error("batches_per_epoch must be at least 1, got 0")]
    ZeroBatchesPerEpoch,
    /// `Pair` mode mixes two samples with each other, so its pairing must be
    /// symmetric; `Roll` (sample `i` with `i - 1`) is not.
    #[error("{mode:?} mode needs a symmetric pairing (Permutation or Flip), got {pairing:?}")]
    AsymmetricPairing {
        /// The mode that was asked for.
        mode: crate::MixMode,
        /// The pairing that was asked for.
        pairing: crate::Pairing,
    },
    /// Soft-target smoothing is outside [0, 1) or not finite.
    #[error("label smoothing must be in [0, 1), got {0}")]
    InvalidSmoothing(f64),
    /// Soft targets or a label check need at least one class.
    #[error("num_classes must be at least 1, got {0}")]
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
    /// Parameters drawn for one batch size were applied to a tensor of another.
    #[error("the mixing parameters were drawn for {expected} samples, the tensor holds {got}")]
    ParamsBatchSize {
        /// The batch size the parameters were drawn for.
        expected: usize,
        /// The first dimension of the tensor they were applied to.
        got: usize,
    },
    /// CutMix needs image-shaped inputs `[B, C, H, W]` with `H, W >= 1`.
    #[error("CutMix needs inputs of shape [B, C, H, W] with H >= 1 and W >= 1, got {dims:?}")]
    NotAnImage {
        /// The dimensions that were given.
        dims: Vec<usize>,
    },
    /// CutMix boxes drawn for one image size were applied to another.
    #[error("the CutMix boxes were drawn for {expected:?} (H, W) images, got {got:?}")]
    ImageSize {
        /// The `(height, width)` the boxes were drawn for.
        expected: (usize, usize),
        /// The `(height, width)` of the tensor they were applied to.
        got: (usize, usize),
    },
    /// A hand-given mixing coefficient is outside [0, 1] or not finite.
    #[error("lambda must be in [0, 1], got {0}")]
    InvalidLambda(f64),
    /// Hand-given per-sample lambdas do not match the number of partners.
    #[error("{got} lambda values were given for {expected} samples")]
    LambdaLength {
        /// The batch size (number of partners).
        expected: usize,
        /// The number of lambda values.
        got: usize,
    },
    /// Hand-given partners are not a permutation of `0..batch_size`.
    #[error("partners {partners:?} are not a permutation of 0..{}", partners.len())]
    InvalidPartners {
        /// The partner indices that were given.
        partners: Vec<usize>,
    },
    /// A label is negative or not below the number of classes (found by
    /// [`check_targets`](crate::check_targets)).
    #[error("target at position {position} is {value}, outside the valid classes 0..{num_classes}")]
    TargetOutOfRange {
        /// Index of the bad label in the batch.
        position: usize,
        /// The bad label.
        value: i64,
        /// Number of classes.
        num_classes: usize,
    },

    /// Host-side target values whose number does not fill the shape they were
    /// given with (`check_maps`, `check_dense_targets`).
    #[error("{values} target values do not fill shape {shape:?}")]
    TargetDataLength {
        /// Number of values given.
        values: usize,
        /// The shape they should fill (`[B, H, W]`, or `[_, K]` for dense targets).
        shape: Vec<usize>,
    },
    /// A box given to [`MixParams::paste`](crate::MixParams::paste) that does not
    /// fit the image (or has its ends reversed).
    #[error("box {cut:?} does not fit (H, W) = {image:?} images")]
    BoxOutsideImage {
        /// The box.
        cut: crate::CutBox,
        /// The image's `(H, W)`.
        image: (usize, usize),
    },
    /// A dense target (a `[B, K]` row of [`Mixer::apply_dense`](crate::Mixer::apply_dense)'s
    /// targets) is not a finite number in [0, 1] (found when the batcher checks
    /// targets).
    #[error("dense target [{row}, {class}] is {value}: targets must be finite and in [0, 1]")]
    InvalidDenseTarget {
        /// Sample of the bad value.
        row: usize,
        /// Class (column) of the bad value.
        class: usize,
        /// The bad value.
        value: f64,
    },
    /// Dense targets have a different number of classes than expected.
    #[error("dense targets have {got} classes (columns) but {expected} were expected")]
    DenseTargetWidth {
        /// The configured number of classes.
        expected: usize,
        /// Columns of the targets.
        got: usize,
    },
    /// Segmentation maps `[B, H, W]` whose size differs from the images' `[B, C, H, W]`.
    #[error("segmentation maps are {maps:?} (H, W) but the images are {images:?}")]
    MapSize {
        /// The images' `(H, W)`.
        images: (usize, usize),
        /// The maps' `(H, W)`.
        maps: (usize, usize),
    },
    /// A pixel of a segmentation map holds a label that is neither a class nor the
    /// void (ignore) index (found by [`check_maps`](crate::check_maps)).
    #[error(
        "map {sample} holds {value} at (row {y}, column {x}), outside the classes 0..{num_classes}{}",
        match ignore_index { Some(void) => format!(" and not the void label {void}"), None => String::new() }
    )]
    MapLabelOutOfRange {
        /// The map (sample) in the batch.
        sample: usize,
        /// Row of the pixel.
        y: usize,
        /// Column of the pixel.
        x: usize,
        /// The bad label.
        value: i64,
        /// Number of classes.
        num_classes: usize,
        /// The void label that would have been accepted.
        ignore_index: Option<i64>,
    },
}

/// Errors from building or calling a
/// [`LabelSmoothingCrossEntropy`](crate::LabelSmoothingCrossEntropy).
///
/// ```
/// use burn::tensor::Device;
/// use burn_mixup::{LabelSmoothingCrossEntropyConfig, LossError};
///
/// let device = Device::flex();
/// let err = LabelSmoothingCrossEntropyConfig::new()
///     .with_smoothing(1.5)
///     .init(&device)
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
    /// A `pos_weight` entry is negative or not finite.
    #[error("pos_weight {index} must be finite and >= 0, got {value}")]
    InvalidPosWeight {
        /// Position of the bad entry.
        index: usize,
        /// Its value.
        value: f64,
    },
    /// A target threshold is not finite.
    #[error("target_threshold must be finite, got {0}")]
    InvalidThreshold(f64),
    /// The class-weight (or `pos_weight`) vector is empty.
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
    /// Probability targets do not have the shape of the logits.
    #[error("probability targets have shape {targets:?} but logits have shape {logits:?}")]
    ShapeMismatch {
        /// Shape of the logits.
        logits: [usize; 2],
        /// Shape of the probability targets.
        targets: [usize; 2],
    },
    /// Per-pixel logits `[B, K, H, W]` and maps `[B, H, W]` that disagree on `B`,
    /// `H` or `W`.
    #[error(
        "segmentation maps have shape {targets:?} but the logits have shape {logits:?} ([B, K, H, W])"
    )]
    MapShapeMismatch {
        /// Shape of the logits.
        logits: [usize; 4],
        /// Shape of the maps.
        targets: [usize; 3],
    },
    /// `ignore_index` names a class index, so it cannot apply to probability
    /// targets, nor to a batch mixed with per-sample lambda (whose targets are
    /// probabilities). PyTorch refuses the same (`ignore_index is not supported for
    /// floating point target`).
    #[error(
        "ignore_index {ignore_index} cannot apply to probability targets \
         (or per-sample lambda): it names a class index"
    )]
    IgnoreIndexWithProbabilities {
        /// The configured ignore index.
        ignore_index: i64,
    },
}

/// Errors from building a [`MultiStepLrScheduler`](crate::MultiStepLrScheduler)
/// (feature `train`).
///
/// ```
/// use burn_mixup::{MultiStepLrSchedulerConfig, ScheduleError};
///
/// let err = MultiStepLrSchedulerConfig::new(0.1, vec![50]).with_gamma(f64::NAN).init().unwrap_err();
/// assert!(matches!(err, ScheduleError::InvalidGamma(g) if g.is_nan()));
/// assert_eq!(err.to_string(), "gamma must be a finite number > 0, got NaN");
/// ```
#[cfg(feature = "train")]
#[derive(Debug, Clone, PartialEq, Error)]
pub enum ScheduleError {
    /// The initial learning rate is not a finite number > 0.
    #[error("the initial learning rate must be a finite number > 0, got {0}")]
    InvalidLearningRate(f64),
    /// The factor applied at each milestone is not a finite number > 0.
    #[error("gamma must be a finite number > 0, got {0}")]
    InvalidGamma(f64),
    /// Milestones in epochs need the number of iterations per epoch.
    #[error("iterations_per_epoch must be at least 1, got 0")]
    ZeroIterationsPerEpoch,
    /// A scheduler record without this scheduler's `"iteration"` count: written by
    /// another scheduler, or by burn-mixup 0.2's (Burn 0.21) record format.
    #[error("the scheduler record holds no \"iteration\" count: not a MultiStepLrScheduler record")]
    ForeignRecord,
}

/// Errors from the calibration measures ([`Predictions`](crate::Predictions)) and
/// [`TemperatureScaling`](crate::TemperatureScaling).
///
/// ```
/// use burn_mixup::{CalibrationError, Predictions};
///
/// let err = Predictions::from_logits(&[0.0, f64::NAN], 2, &[1]).unwrap_err();
/// assert_eq!(err, CalibrationError::NonFinite { sample: 0, class: 1, value: f64::NAN.to_string() });
/// assert_eq!(err.to_string(), "logit 1 of sample 0 is NaN: every logit must be finite");
/// ```
#[derive(Debug, Clone, PartialEq, Error)]
pub enum CalibrationError {
    /// There is nothing to measure or fit.
    #[error("no samples: calibration needs at least one")]
    Empty,
    /// Fewer than two classes: every prediction is certain and right, so there is
    /// no calibration to measure (torchmetrics refuses this too).
    #[error("calibration needs at least 2 classes, got {0}")]
    TooFewClasses(usize),
    /// The flat logits (or probabilities) are not `samples x num_classes` values for
    /// the given targets.
    #[error("{values} values do not make {targets} rows of {num_classes} classes")]
    LengthMismatch {
        /// Number of values given.
        values: usize,
        /// Number of classes per row.
        num_classes: usize,
        /// Number of targets given.
        targets: usize,
    },
    /// A logit is NaN or infinite (a diverged model): no confidence can be read.
    #[error("logit {class} of sample {sample} is {value}: every logit must be finite")]
    NonFinite {
        /// The sample (row).
        sample: usize,
        /// The class (column).
        class: usize,
        /// The value, as text (NaN is not equal to itself, its text is).
        value: String,
    },
    /// A probability is outside `[0, 1]`, or a row does not sum to 1 within 1e-3
    /// (logits passed where probabilities were expected, say).
    #[error("row {sample} is not a probability distribution: {reason}")]
    NotProbabilities {
        /// The sample (row).
        sample: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// A target is not a class index in `0..num_classes`.
    #[error("target {value} at position {position} is outside 0..{num_classes}")]
    TargetOutOfRange {
        /// Position of the target.
        position: usize,
        /// The value (saturated to `i64::MAX` when it does not fit).
        value: i64,
        /// The number of classes.
        num_classes: usize,
    },
    /// A binning needs at least one bin.
    #[error("the number of bins must be at least 1, got 0")]
    ZeroBins,
    /// A temperature must be a finite number > 0.
    #[error("the temperature must be a finite number > 0, got {0}")]
    InvalidTemperature(f64),
    /// The NLL keeps falling past the searched range of temperatures: the held-out
    /// logits are separated (every sample right with a margin: T -> 0) or carry no
    /// usable signal (T -> infinity). More, or more representative, held-out data
    /// is the remedy; a temperature at the edge would be garbage.
    #[error(
        "the NLL has no minimum for T in [{low}, {high}]: it still falls towards T = {bound} (held-out logits {why})"
    )]
    NoTemperatureMinimum {
        /// Lower end of the searched range.
        low: f64,
        /// Upper end of the searched range.
        high: f64,
        /// The end the NLL falls towards.
        bound: f64,
        /// Why, in words.
        why: &'static str,
    },
    /// Reading the tensors back to the host failed.
    #[error("reading the tensors back failed: {0}")]
    Read(String),
}
