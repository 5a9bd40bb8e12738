//! The pixel accuracy of a mixed segmentation batch, weighted as its loss is.

use burn::tensor::{Int, Tensor};

use super::SegmentationBatch;
use crate::error::LossError;
use crate::lambda::lambda_tensor;

impl SegmentationBatch {
    /// The pixel accuracy of `[B, K, H, W]` logits, weighted as the loss: each
    /// pixel's arg-max is a hit on `maps()` with weight `map_lambda_i` and on
    /// `partner_maps()` with weight `1 - map_lambda_i`; void pixels (`ignore_index`)
    /// count in neither the hits nor the total. `NaN` when every pixel is void.
    /// Shape `[1]`, on the device until read.
    ///
    /// # Errors
    /// [`LossError::MapShapeMismatch`].
    ///
    /// ```
    /// use burn::tensor::{Device, Int, Tensor};
    /// use burn_mixup::MixParams;
    /// let device = Device::flex();
    /// // Map 0: classes 1 | void; map 1: 0 | 0. Mixup with lambda 0.75.
    /// let maps = Tensor::<3, Int>::from_ints([[[1, 255]], [[0, 0]]], &device);
    /// let batch = MixParams::blend(0.75, vec![1, 0])?.mix_segmentation(Tensor::zeros([2, 1, 1, 2], &device), maps)?;
    /// // Every pixel predicts class 1 (logit 1 against 0).
    /// let logits = Tensor::<4>::from_floats([[[[0.0, 0.0]], [[1.0, 1.0]]], [[[0.0, 0.0]], [[1.0, 1.0]]]], &device);
    /// let accuracy: f32 = batch.pixel_accuracy(logits, Some(255))?.into_scalar();
    /// // Hits: 0.75 (sample 0's own map, pixel 0) + 0.25 (sample 1's partner map,
    /// // pixel 0); total: 0.75 * 3 + 0.25 * 3 kept pixels.
    /// assert!((accuracy - 1.0 / 3.0).abs() < 1e-6);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn pixel_accuracy(
        &self,
        logits: Tensor<4>,
        ignore_index: Option<i64>,
    ) -> Result<Tensor<1>, LossError> {
        let [batch, _, height, width] = logits.dims();
        if self.maps.dims() != [batch, height, width] {
            return Err(LossError::MapShapeMismatch {
                logits: logits.dims(),
                targets: self.maps.dims(),
            });
        }
        let device = logits.device();
        let predicted: Tensor<3, Int> = logits.argmax(1).reshape([batch, height, width]);
        // (hits, kept pixels) of one map set, per pixel.
        let score = |map: &Tensor<3, Int>| {
            let hits = predicted.clone().equal(map.clone()).float();
            match ignore_index {
                Some(void) => {
                    let kept = map.clone().not_equal_elem(void).float();
                    (hits * kept.clone(), kept)
                }
                None => (hits, Tensor::<3>::ones([batch, height, width], &device)),
            }
        };
        let weights = (0..batch)
            .map(|i| self.map_lambda.of_sample(i))
            .collect::<Vec<_>>();
        let own = lambda_tensor(&weights, &device).reshape([batch, 1, 1]);
        let other = own.clone().neg() + 1.0;
        let (hits_a, kept_a) = score(&self.maps);
        let (hits_b, kept_b) = score(&self.partner_maps);
        let hits = hits_a * own.clone() + hits_b * other.clone();
        let kept = kept_a * own + kept_b * other;
        Ok(hits.sum() / kept.sum())
    }
}
