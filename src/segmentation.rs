//! Segmentation maps `[B, H, W]` mixed with their images: the CutMix family pastes
//! the partner's map under exactly the region it pastes pixels with (the same box,
//! the same FMix mask, ResizeMix's same nearest-neighbour index selection), so a
//! mixed map labels every mixed pixel, bit for bit; Mixup keeps both maps and
//! lambda. [`SegmentationBatch::loss`] is the per-pixel criterion.

mod accuracy;

use burn::tensor::{Bool, Int, Tensor, TensorData};

use crate::error::{LossError, MixError};
use crate::lambda::Lambda;
use crate::loss::{LabelSmoothingCrossEntropy, MapTargets};
use crate::mixer::Mixer;
use crate::params::{MixParams, Op, index_tensor};

/// Images `[B, C, H, W]` and their segmentation maps `[B, H, W]`, mixed by one draw.
///
/// Pixel `p` of sample `i` is labelled `maps()[i, p]` with weight `map_lambda_i`
/// and `partner_maps()[i, p]` with weight `1 - map_lambda_i`. Pasted samples
/// (CutMix, ResizeMix, FMix) carry their pasted map and weight 1: every pixel has
/// exactly one label. Blended samples (Mixup) carry their own map, their
/// partner's, and the blend's lambda. [`lambda`](Self::lambda) stays the draw's
/// (for CutMix the kept area, as for class labels).
///
/// ```
/// use burn::tensor::{Device, Int, Tensor};
/// use burn_mixup::{LabelSmoothingCrossEntropyConfig, MixConfig};
///
/// let device = Device::flex();
/// let mixer = MixConfig::cutmix(1.0).with_seed(Some(4)).init()?;
/// let images = Tensor::<4>::zeros([2, 3, 8, 8], &device);
/// let maps = Tensor::<3, Int>::zeros([2, 8, 8], &device).add_scalar(3); // every pixel class 3
/// let batch = mixer.apply_segmentation(images, maps)?;
/// assert_eq!(batch.maps().dims(), [2, 8, 8]);
///
/// let ce = LabelSmoothingCrossEntropyConfig::new().with_ignore_index(Some(255)).init(&device)?;
/// let logits = Tensor::<4>::zeros([2, 5, 8, 8], &device); // model.forward(batch.images().clone())
/// let loss: f32 = batch.loss(logits, &ce).into_scalar();
/// assert!((loss - 5f32.ln()).abs() < 1e-5);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct SegmentationBatch {
    images: Tensor<4>,
    maps: Tensor<3, Int>,
    partner_maps: Tensor<3, Int>,
    map_lambda: Lambda,
    params: MixParams,
}

impl SegmentationBatch {
    /// A batch left as it is: for validation batches.
    ///
    /// # Errors
    /// As [`MixParams::mix_segmentation`].
    ///
    /// ```
    /// use burn::tensor::{Device, Int, Tensor};
    /// use burn_mixup::SegmentationBatch;
    /// let device = Device::flex();
    /// let batch = SegmentationBatch::unmixed(Tensor::zeros([1, 3, 4, 4], &device), Tensor::zeros([1, 4, 4], &device))?;
    /// assert_eq!(batch.partner_maps().dims(), [1, 4, 4]);
    /// # Ok::<(), burn_mixup::MixError>(())
    /// ```
    pub fn unmixed(images: Tensor<4>, maps: Tensor<3, Int>) -> Result<Self, MixError> {
        MixParams::identity(images.dims()[0]).mix_segmentation(images, maps)
    }

    /// The mixed images.
    ///
    /// ```
    /// use burn::tensor::{Device, Int, Tensor};
    /// use burn_mixup::MixParams;
    /// let device = Device::flex();
    /// let maps = Tensor::<3, Int>::from_ints([[[1, 1]], [[2, 255]]], &device);
    /// let batch = MixParams::blend(0.7, vec![1, 0])?.mix_segmentation(Tensor::zeros([2, 3, 1, 2], &device), maps)?;
    /// assert_eq!(batch.images().dims(), [2, 3, 1, 2]);
    /// # Ok::<(), burn_mixup::MixError>(())
    /// ```
    pub fn images(&self) -> &Tensor<4> {
        &self.images
    }

    /// Each sample's map: its own, with the partner's pasted in where the CutMix
    /// family pasted pixels.
    ///
    /// ```
    /// use burn::tensor::{Device, Int, Tensor};
    /// use burn_mixup::MixParams;
    /// let device = Device::flex();
    /// let maps = Tensor::<3, Int>::from_ints([[[1, 1]], [[2, 255]]], &device);
    /// let batch = MixParams::blend(0.7, vec![1, 0])?.mix_segmentation(Tensor::zeros([2, 3, 1, 2], &device), maps)?;
    /// // Mixup pastes nothing: each sample keeps its own map.
    /// assert_eq!(batch.maps().clone().try_into_vec_as::<i64>().unwrap(), vec![1, 1, 2, 255]);
    /// # Ok::<(), burn_mixup::MixError>(())
    /// ```
    pub fn maps(&self) -> &Tensor<3, Int> {
        &self.maps
    }

    /// The second map: the partner's for blended samples, [`maps`](Self::maps)
    /// for every other.
    ///
    /// ```
    /// use burn::tensor::{Device, Int, Tensor};
    /// use burn_mixup::MixParams;
    /// let device = Device::flex();
    /// let maps = Tensor::<3, Int>::from_ints([[[1, 1]], [[2, 255]]], &device);
    /// let batch = MixParams::blend(0.7, vec![1, 0])?.mix_segmentation(Tensor::zeros([2, 3, 1, 2], &device), maps)?;
    /// assert_eq!(batch.partner_maps().clone().try_into_vec_as::<i64>().unwrap(), vec![2, 255, 1, 1]);
    /// # Ok::<(), burn_mixup::MixError>(())
    /// ```
    pub fn partner_maps(&self) -> &Tensor<3, Int> {
        &self.partner_maps
    }

    /// The weight of [`maps`](Self::maps) per sample: the blend's lambda for
    /// blended samples, 1 for pasted and kept ones.
    ///
    /// ```
    /// use burn::tensor::{Device, Int, Tensor};
    /// use burn_mixup::{Lambda, MixConfig};
    /// let device = Device::flex();
    /// let batch = MixConfig::cutmix(1.0).init()?
    ///     .apply_segmentation(Tensor::zeros([2, 1, 6, 6], &device), Tensor::zeros([2, 6, 6], &device))?;
    /// assert_eq!(batch.map_lambda(), &Lambda::Batch(1.0)); // a pasted map labels every pixel
    /// assert!(batch.lambda().mean() < 1.0);                 // the draw's kept area
    /// # Ok::<(), burn_mixup::MixError>(())
    /// ```
    pub fn map_lambda(&self) -> &Lambda {
        &self.map_lambda
    }

    /// The draw's lambda (for the CutMix family, the kept area).
    ///
    /// ```
    /// use burn::tensor::{Device, Int, Tensor};
    /// use burn_mixup::MixParams;
    /// let device = Device::flex();
    /// let maps = Tensor::<3, Int>::from_ints([[[1, 1]], [[2, 255]]], &device);
    /// let batch = MixParams::blend(0.7, vec![1, 0])?.mix_segmentation(Tensor::zeros([2, 3, 1, 2], &device), maps)?;
    /// assert_eq!(batch.lambda(), batch.map_lambda()); // a blend: the same lambda
    /// # Ok::<(), burn_mixup::MixError>(())
    /// ```
    pub fn lambda(&self) -> &Lambda {
        self.params.lambda()
    }

    /// The draw that made the batch.
    ///
    /// ```
    /// use burn::tensor::{Device, Int, Tensor};
    /// use burn_mixup::MixParams;
    /// let device = Device::flex();
    /// let maps = Tensor::<3, Int>::from_ints([[[1, 1]], [[2, 255]]], &device);
    /// let batch = MixParams::blend(0.7, vec![1, 0])?.mix_segmentation(Tensor::zeros([2, 3, 1, 2], &device), maps)?;
    /// assert_eq!(batch.params().partners(), &[1, 0]);
    /// # Ok::<(), burn_mixup::MixError>(())
    /// ```
    pub fn params(&self) -> &MixParams {
        &self.params
    }

    /// Splits the batch into `(images, maps, partner_maps, map_lambda, params)`.
    ///
    /// ```
    /// use burn::tensor::{Device, Int, Tensor};
    /// use burn_mixup::MixParams;
    /// let device = Device::flex();
    /// let maps = Tensor::<3, Int>::from_ints([[[1, 1]], [[2, 255]]], &device);
    /// let batch = MixParams::blend(0.7, vec![1, 0])?.mix_segmentation(Tensor::zeros([2, 3, 1, 2], &device), maps)?;
    /// let (images, maps, partner_maps, map_lambda, _params) = batch.into_parts();
    /// assert_eq!((images.dims(), maps.dims(), partner_maps.dims()), ([2, 3, 1, 2], [2, 1, 2], [2, 1, 2]));
    /// assert_eq!(map_lambda, burn_mixup::Lambda::Batch(0.7));
    /// # Ok::<(), burn_mixup::MixError>(())
    /// ```
    pub fn into_parts(self) -> (Tensor<4>, Tensor<3, Int>, Tensor<3, Int>, Lambda, MixParams) {
        (
            self.images,
            self.maps,
            self.partner_maps,
            self.map_lambda,
            self.params,
        )
    }

    /// The per-pixel mixup criterion on `[B, K, H, W]` logits, from one log-sum-exp
    /// per pixel ([`LabelSmoothingCrossEntropy::forward_maps`] and its options):
    /// - every map weight 1 (pasted, kept): `CE(logits, maps)`;
    /// - one blend lambda: `lambda * CE(logits, maps) + (1 - lambda) *
    ///   CE(logits, partner_maps)`, each term normalised on its own as two calls of
    ///   PyTorch's criterion (a pixel void in one map counts in the other's term);
    /// - per-sample weights (`Elem`/`Pair` modes): the same, each pixel's terms
    ///   weighted by its sample's lambda, each map set keeping PyTorch's mean
    ///   denominator.
    ///
    /// # Panics
    /// Where [`try_loss`](Self::try_loss) returns an error.
    ///
    /// ```
    /// use burn::tensor::{Device, Int, Tensor};
    /// use burn_mixup::{LabelSmoothingCrossEntropyConfig, MixParams};
    /// let device = Device::flex();
    /// let ce = LabelSmoothingCrossEntropyConfig::new().with_smoothing(0.0).with_ignore_index(Some(255)).init(&device)?;
    /// // Map 1's second pixel is void; its partner labels it 1.
    /// let maps = Tensor::<3, Int>::from_ints([[[1, 1]], [[0, 255]]], &device);
    /// let batch = MixParams::blend(0.25, vec![1, 0])?.mix_segmentation(Tensor::zeros([2, 1, 1, 2], &device), maps)?;
    /// let logits = Tensor::<4>::from_floats([[[[0.0, 0.0]], [[2.0, 2.0]]], [[[0.0, 0.0]], [[2.0, 2.0]]]], &device);
    /// let loss: f32 = batch.loss(logits, &ce).into_scalar();
    /// let (l0, l1) = ((1.0 + 2f32.exp()).ln(), (1.0 + (-2f32).exp()).ln()); // CE of class 0, class 1
    /// // 0.25 * CE(maps: 1, 1, 0 | void) + 0.75 * CE(partner maps: 0 | void, 1, 1), each over its kept pixels
    /// let expected = 0.25 * (2.0 * l1 + l0) / 3.0 + 0.75 * (l0 + 2.0 * l1) / 3.0;
    /// assert!((loss - expected).abs() < 1e-6);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn loss(&self, logits: Tensor<4>, criterion: &LabelSmoothingCrossEntropy) -> Tensor<1> {
        self.try_loss(logits, criterion)
            .unwrap_or_else(|err| panic!("SegmentationBatch::loss: {err}"))
    }

    /// Like [`loss`](Self::loss), returning errors.
    ///
    /// # Errors
    /// Those of [`LabelSmoothingCrossEntropy::try_forward_maps`].
    ///
    /// ```
    /// use burn::tensor::{Device, Int, Tensor};
    /// use burn_mixup::{LabelSmoothingCrossEntropyConfig, LossError, SegmentationBatch};
    /// let device = Device::flex();
    /// let ce = LabelSmoothingCrossEntropyConfig::new().init(&device)?;
    /// let batch = SegmentationBatch::unmixed(Tensor::zeros([1, 3, 4, 4], &device), Tensor::zeros([1, 4, 4], &device))?;
    /// let err = batch.try_loss(Tensor::zeros([1, 2, 2, 2], &device), &ce).unwrap_err();
    /// assert_eq!(err, LossError::MapShapeMismatch { logits: [1, 2, 2, 2], targets: [1, 4, 4] });
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn try_loss(
        &self,
        logits: Tensor<4>,
        criterion: &LabelSmoothingCrossEntropy,
    ) -> Result<Tensor<1>, LossError> {
        criterion.map_loss(logits, self.map_targets(), true)
    }

    /// One mixed loss per pixel, `[B, H, W]`:
    /// `lambda_i * l(maps) + (1 - lambda_i) * l(partner_maps)` (void terms 0).
    ///
    /// # Errors
    /// As [`try_loss`](Self::try_loss).
    ///
    /// ```
    /// use burn::tensor::{Device, Int, Tensor};
    /// use burn_mixup::{LabelSmoothingCrossEntropyConfig, SegmentationBatch};
    /// let device = Device::flex();
    /// let ce = LabelSmoothingCrossEntropyConfig::new().init(&device)?;
    /// let batch = SegmentationBatch::unmixed(Tensor::zeros([2, 3, 4, 4], &device), Tensor::<3, Int>::zeros([2, 4, 4], &device))?;
    /// assert_eq!(batch.try_loss_no_reduction(Tensor::zeros([2, 5, 4, 4], &device), &ce)?.dims(), [2, 4, 4]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn try_loss_no_reduction(
        &self,
        logits: Tensor<4>,
        criterion: &LabelSmoothingCrossEntropy,
    ) -> Result<Tensor<3>, LossError> {
        let [batch, _, height, width] = logits.dims();
        let losses = criterion.map_loss(logits, self.map_targets(), false)?;
        Ok(losses.reshape([batch, height, width]))
    }

    fn map_targets(&self) -> MapTargets {
        let (a, b) = (self.maps.clone(), self.partner_maps.clone());
        match &self.map_lambda {
            lambda if !lambda.is_mixed() => MapTargets::One(a),
            Lambda::Batch(lambda) => MapTargets::Pair {
                a,
                b,
                lambda: *lambda,
            },
            Lambda::PerSample(lambda) => MapTargets::PerMap {
                a,
                b,
                lambda: lambda.clone(),
            },
        }
    }
}

impl MixParams {
    /// Mixes images `[B, C, H, W]` and their maps `[B, H, W]` (see
    /// [`SegmentationBatch`]). Labels are not read back: check them with
    /// [`check_maps`](crate::check_maps) where they come from.
    ///
    /// # Errors
    /// [`MixError::BatchSizeMismatch`], [`MixError::MapSize`] (maps of another size
    /// than the images), [`MixError::EmptyBatch`], and those of [`mix`](Self::mix).
    ///
    /// ```
    /// use burn::tensor::{Device, Int, Tensor};
    /// use burn_mixup::{MixError, MixParams};
    /// let device = Device::flex();
    /// let params = MixParams::blend(0.5, vec![1, 0])?;
    /// let err = params.mix_segmentation(Tensor::zeros([2, 3, 8, 8], &device), Tensor::<3, Int>::zeros([2, 8, 6], &device));
    /// assert_eq!(err.unwrap_err(), MixError::MapSize { images: (8, 8), maps: (8, 6) });
    /// # Ok::<(), MixError>(())
    /// ```
    pub fn mix_segmentation(
        &self,
        images: Tensor<4>,
        maps: Tensor<3, Int>,
    ) -> Result<SegmentationBatch, MixError> {
        check_segmentation(&images, &maps)?;
        let [batch, _, height, width] = images.dims();
        let images = self.mix(images)?;
        let device = maps.device();
        let ops = self.sample_ops();
        let weights: Vec<f64> = ops
            .iter()
            .map(|op| match op {
                Op::Blend(lambda) => *lambda,
                _ => 1.0,
            })
            .collect();
        let blended: Vec<bool> = ops.iter().map(|op| matches!(op, Op::Blend(_))).collect();
        let (maps, partner_maps) = if !self.is_mixed() {
            (maps.clone(), maps)
        } else {
            let partners = maps
                .clone()
                .select(0, index_tensor(self.partners(), &device));
            let pasted = if ops.iter().any(Op::has_region) {
                let as_image = |m: Tensor<3, Int>| m.reshape([batch, 1, height, width]);
                self.paste_into(as_image(maps), as_image(partners.clone()))
                    .reshape([batch, height, width])
            } else {
                maps
            };
            // The second map: the partner's where the sample was blended. Whole
            // batches of one kind need no selection.
            let second = if blended.iter().all(|&b| b) {
                partners
            } else if !blended.iter().any(|&b| b) {
                pasted.clone()
            } else {
                let rows = TensorData::new(blended, [batch, 1, 1]);
                let rows = Tensor::<3, Bool>::from_data(rows, &device);
                pasted
                    .clone()
                    .mask_where(rows.expand([batch, height, width]), partners)
            };
            (pasted, second)
        };
        let map_lambda = match weights.iter().all(|&w| w == weights[0]) {
            true => Lambda::Batch(weights[0]),
            false => Lambda::PerSample(weights),
        };
        Ok(SegmentationBatch {
            images,
            maps,
            partner_maps,
            map_lambda,
            params: self.clone(),
        })
    }
}

/// Images and maps agree on a non-zero batch size and on `(H, W)`.
fn check_segmentation(images: &Tensor<4>, maps: &Tensor<3, Int>) -> Result<(), MixError> {
    let [batch, _, height, width] = images.dims();
    let [map_batch, map_height, map_width] = maps.dims();
    if batch != map_batch {
        return Err(MixError::BatchSizeMismatch {
            inputs: batch,
            targets: map_batch,
        });
    }
    if batch == 0 {
        return Err(MixError::EmptyBatch);
    }
    if (height, width) != (map_height, map_width) {
        return Err(MixError::MapSize {
            images: (height, width),
            maps: (map_height, map_width),
        });
    }
    Ok(())
}

impl Mixer {
    /// Draws the next parameters for this batch and mixes the images and their
    /// segmentation maps (see [`MixParams::mix_segmentation`]).
    ///
    /// # Errors
    /// Those of [`sample`](Self::sample) and [`MixParams::mix_segmentation`].
    ///
    /// ```
    /// use burn::tensor::{Device, Int, Tensor};
    /// use burn_mixup::{MixConfig, MixMode};
    /// let device = Device::flex();
    /// let mixer = MixConfig::fmix(1.0, 3.0).with_mode(MixMode::Elem).with_seed(Some(1)).init()?;
    /// let batch = mixer.apply_segmentation(Tensor::zeros([4, 3, 16, 16], &device), Tensor::<3, Int>::zeros([4, 16, 16], &device))?;
    /// assert_eq!(batch.maps().dims(), [4, 16, 16]);
    /// # Ok::<(), burn_mixup::MixError>(())
    /// ```
    pub fn apply_segmentation(
        &self,
        images: Tensor<4>,
        maps: Tensor<3, Int>,
    ) -> Result<SegmentationBatch, MixError> {
        // Checked before the draw, so that a bad batch takes no draw index.
        check_segmentation(&images, &maps)?;
        self.sample(&images.dims())?.mix_segmentation(images, maps)
    }
}
