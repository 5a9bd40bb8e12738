//! The per-pixel cross-entropy for segmentation: `[B, K, H, W]` logits against
//! `[B, H, W]` maps, as PyTorch's `F.cross_entropy` on those shapes. Every pixel is
//! a row of the closed forms (one log-sum-exp per pixel), so smoothing in both
//! conventions, class weights and `ignore_index` keep their meaning: the mean
//! divides by the summed class weights of the pixels that are not void.

use burn::nn::loss::Reduction;
use burn::tensor::{Int, Tensor};

use super::LabelSmoothingCrossEntropy;
use super::closed_form::{HardTargets, Reduce};
use crate::error::LossError;
use crate::lambda::lambda_tensor;

/// The maps a per-pixel loss is taken against.
pub(crate) enum MapTargets {
    One(Tensor<3, Int>),
    /// `lambda * CE(a) + (1 - lambda) * CE(b)`, as two calls of PyTorch's criterion.
    Pair {
        a: Tensor<3, Int>,
        b: Tensor<3, Int>,
        lambda: f64,
    },
    /// One lambda per map, each map set normalised on its own (see
    /// `HardTargets::PerRow`).
    PerMap {
        a: Tensor<3, Int>,
        b: Tensor<3, Int>,
        lambda: Vec<f64>,
    },
}

impl LabelSmoothingCrossEntropy {
    /// The per-pixel loss of segmentation logits `[B, K, H, W]` against maps
    /// `[B, H, W]`, reduced as configured: PyTorch's
    /// `F.cross_entropy(logits, maps, weight=, ignore_index=, label_smoothing=)`
    /// with the default convention. `Mean` divides by the summed class weights of
    /// the non-void pixels (their number without weights), `Sum` sums every pixel,
    /// `BatchMean` divides that sum by `B`. A map with no pixel left is `NaN` under
    /// `Mean`, as in PyTorch.
    ///
    /// # Panics
    /// Where [`try_forward_maps`](Self::try_forward_maps) returns an error. Labels
    /// are not read back: check them with [`check_maps`](crate::check_maps).
    ///
    /// ```
    /// use burn::tensor::{Device, Int, Tensor};
    /// use burn_mixup::LabelSmoothingCrossEntropyConfig;
    ///
    /// let device = Device::flex();
    /// let ce = LabelSmoothingCrossEntropyConfig::new()
    ///     .with_smoothing(0.0)
    ///     .with_ignore_index(Some(255))
    ///     .init(&device)?;
    /// // One 1x2 map, 3 classes: pixel 0 is class 2, pixel 1 is void.
    /// let logits = Tensor::<4>::zeros([1, 3, 1, 2], &device);
    /// let maps = Tensor::<3, Int>::from_ints([[[2, 255]]], &device);
    /// let loss: f32 = ce.forward_maps(logits, maps).into_scalar();
    /// assert!((loss - 3f32.ln()).abs() < 1e-6); // the mean over the one kept pixel
    /// # Ok::<(), burn_mixup::LossError>(())
    /// ```
    pub fn forward_maps(&self, logits: Tensor<4>, maps: Tensor<3, Int>) -> Tensor<1> {
        self.try_forward_maps(logits, maps)
            .unwrap_or_else(|err| panic!("LabelSmoothingCrossEntropy::forward_maps: {err}"))
    }

    /// Like [`forward_maps`](Self::forward_maps), returning errors.
    ///
    /// # Errors
    /// [`LossError::MapShapeMismatch`], and those of
    /// [`try_forward`](Self::try_forward).
    ///
    /// ```
    /// use burn::tensor::{Device, Int, Tensor};
    /// use burn_mixup::{LabelSmoothingCrossEntropyConfig, LossError};
    /// let device = Device::flex();
    /// let ce = LabelSmoothingCrossEntropyConfig::new().init(&device)?;
    /// let err = ce.try_forward_maps(Tensor::zeros([2, 3, 4, 4], &device), Tensor::<3, Int>::zeros([2, 4, 5], &device));
    /// assert_eq!(err.unwrap_err(), LossError::MapShapeMismatch { logits: [2, 3, 4, 4], targets: [2, 4, 5] });
    /// # Ok::<(), LossError>(())
    /// ```
    pub fn try_forward_maps(
        &self,
        logits: Tensor<4>,
        maps: Tensor<3, Int>,
    ) -> Result<Tensor<1>, LossError> {
        self.map_loss(logits, MapTargets::One(maps), true)
    }

    /// One loss per pixel, `[B, H, W]` (void pixels 0), as PyTorch's
    /// `reduction='none'`.
    ///
    /// # Panics
    /// Where [`try_forward_maps_no_reduction`](Self::try_forward_maps_no_reduction)
    /// returns an error.
    ///
    /// ```
    /// use burn::tensor::{Device, Int, Tensor};
    /// use burn_mixup::LabelSmoothingCrossEntropyConfig;
    /// let device = Device::flex();
    /// let ce = LabelSmoothingCrossEntropyConfig::new().with_ignore_index(Some(255)).init(&device)?;
    /// let maps = Tensor::<3, Int>::from_ints([[[0, 255], [1, 1]]], &device);
    /// let losses = ce.forward_maps_no_reduction(Tensor::zeros([1, 2, 2, 2], &device), maps);
    /// assert_eq!(losses.dims(), [1, 2, 2]);
    /// assert_eq!(losses.try_into_vec_as::<f32>()?[1], 0.0); // the void pixel
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn forward_maps_no_reduction(&self, logits: Tensor<4>, maps: Tensor<3, Int>) -> Tensor<3> {
        self.try_forward_maps_no_reduction(logits, maps)
            .unwrap_or_else(|err| {
                panic!("LabelSmoothingCrossEntropy::forward_maps_no_reduction: {err}")
            })
    }

    /// Like [`forward_maps_no_reduction`](Self::forward_maps_no_reduction),
    /// returning errors.
    ///
    /// # Errors
    /// As [`try_forward_maps`](Self::try_forward_maps).
    ///
    /// ```
    /// use burn::tensor::{Device, Int, Tensor};
    /// use burn_mixup::LabelSmoothingCrossEntropyConfig;
    /// let device = Device::flex();
    /// let ce = LabelSmoothingCrossEntropyConfig::new().with_smoothing(0.0).init(&device)?;
    /// let losses = ce.try_forward_maps_no_reduction(Tensor::zeros([2, 4, 3, 3], &device), Tensor::<3, Int>::zeros([2, 3, 3], &device))?;
    /// assert!(losses.try_into_vec_as::<f32>()?.iter().all(|l| (l - 4f32.ln()).abs() < 1e-6));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn try_forward_maps_no_reduction(
        &self,
        logits: Tensor<4>,
        maps: Tensor<3, Int>,
    ) -> Result<Tensor<3>, LossError> {
        let [batch, _, height, width] = logits.dims();
        let losses = self.map_loss(logits, MapTargets::One(maps), false)?;
        Ok(losses.reshape([batch, height, width]))
    }

    /// The per-pixel loss against one map set or two mixed ones: `[1]` reduced as
    /// configured, or `[B * H * W]` per pixel.
    pub(crate) fn map_loss(
        &self,
        logits: Tensor<4>,
        targets: MapTargets,
        reduced: bool,
    ) -> Result<Tensor<1>, LossError> {
        let [batch, classes, height, width] = logits.dims();
        let first = match &targets {
            MapTargets::One(a) | MapTargets::Pair { a, .. } | MapTargets::PerMap { a, .. } => a,
        };
        if first.dims() != [batch, height, width] {
            return Err(LossError::MapShapeMismatch {
                logits: logits.dims(),
                targets: first.dims(),
            });
        }
        let pixels = batch * height * width;
        let flat = |map: Tensor<3, Int>| map.reshape([pixels]);
        let rows = match targets {
            MapTargets::One(a) => HardTargets::One(flat(a)),
            MapTargets::Pair { a, b, lambda } => HardTargets::Pair {
                a: flat(a),
                b: flat(b),
                lambda,
            },
            MapTargets::PerMap { a, b, lambda } => {
                let per_pixel = lambda_tensor(&lambda, &a.device())
                    .reshape([batch, 1])
                    .expand([batch, height * width])
                    .reshape([pixels]);
                HardTargets::PerRow {
                    a: flat(a),
                    b: flat(b),
                    lambda: per_pixel,
                }
            }
        };
        // [B, K, H, W] -> [B, H, W, K] -> one row of K logits per pixel.
        let logits = logits.permute([0, 2, 3, 1]).reshape([pixels, classes]);
        let reduce = match (reduced, &self.reduction) {
            (false, _) => Reduce::None,
            (true, Reduction::Mean | Reduction::Auto) => Reduce::Mean,
            (true, Reduction::Sum | Reduction::BatchMean) => Reduce::Sum,
        };
        let loss = self.hard_target_loss(logits, rows, reduce)?;
        Ok(match (reduced, &self.reduction) {
            (true, Reduction::BatchMean) => loss / batch as f64,
            _ => loss,
        })
    }
}
