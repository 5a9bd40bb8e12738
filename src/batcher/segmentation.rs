//! [`SegmentationMixupBatcher`]: a mixing batcher for images and segmentation maps.

use std::marker::PhantomData;

use burn::data::dataloader::batcher::Batcher;
use burn::tensor::{Device, Int, Tensor};

use super::MixupBatcher;
use crate::check::check_maps;
use crate::error::MixError;
use crate::segmentation::SegmentationBatch;

/// A [`MixupBatcher`] whose inner batcher yields images and segmentation maps,
/// `(Tensor<4>, Tensor<3, Int>)` or a type that converts into that pair. Made by
/// [`MixupBatcher::segmentation`]; with
/// [`with_num_classes`](MixupBatcher::with_num_classes) set, every batch's maps are
/// read back and checked ([`check_maps`](crate::check_maps), the void label
/// accepted).
///
/// ```
/// use burn::data::dataloader::batcher::Batcher;
/// use burn::tensor::{Device, Int, Tensor};
/// use burn_mixup::{MixConfig, MixError, MixupBatcher, SegmentationBatch};
///
/// /// Item: a scene id; its 4x4 map has class `id % 3` and a void border pixel.
/// #[derive(Clone)]
/// struct Scenes;
/// impl Batcher<i64, (Tensor<4>, Tensor<3, Int>)> for Scenes {
///     fn batch(&self, items: Vec<i64>, device: &Device) -> (Tensor<4>, Tensor<3, Int>) {
///         let labels: Vec<i64> = items.iter()
///             .flat_map(|&i| (0..16).map(move |p| if p == 0 { 255 } else { i % 3 }))
///             .collect();
///         let maps = Tensor::<1, Int>::from_ints(labels.as_slice(), device).reshape([items.len(), 4, 4]);
///         (Tensor::zeros([items.len(), 3, 4, 4], device), maps)
///     }
/// }
/// let batcher = MixupBatcher::new(Scenes, MixConfig::cutmix(1.0).init()?)
///     .with_num_classes(3)
///     .segmentation(Some(255));
/// let batch: SegmentationBatch = batcher.batch(vec![0, 1, 2], &Device::flex());
/// assert_eq!(batch.maps().dims(), [3, 4, 4]);
///
/// let strict = MixupBatcher::new(Scenes, MixConfig::cutmix(1.0).init()?)
///     .with_num_classes(3)
///     .segmentation(None); // no void label: 255 is refused
/// assert!(matches!(strict.try_batch(vec![0], &Device::flex()),
///                  Err(MixError::MapLabelOutOfRange { value: 255, y: 0, x: 0, .. })));
/// # Ok::<(), MixError>(())
/// ```
#[derive(Debug, Clone)]
pub struct SegmentationMixupBatcher<Inner, O> {
    batcher: MixupBatcher<Inner, O>,
    ignore_index: Option<i64>,
    output: PhantomData<fn() -> O>,
}

impl<Inner, O> MixupBatcher<Inner, O> {
    /// This batcher's inner batcher, check and mixer, for segmentation maps;
    /// `ignore_index` is the void label the check accepts (255 in Pascal VOC and
    /// Cityscapes), as the criterion's.
    ///
    /// ```
    /// use burn::tensor::{Int, Tensor};
    /// use burn_mixup::{MixConfig, MixupBatcher, SegmentationMixupBatcher};
    /// # #[derive(Clone)] struct Inner;
    /// let batcher: SegmentationMixupBatcher<Inner, (Tensor<4>, Tensor<3, Int>)> =
    ///     MixupBatcher::new(Inner, MixConfig::cutmix(1.0).init()?).with_num_classes(21).segmentation(Some(255));
    /// # Ok::<(), burn_mixup::MixError>(())
    /// ```
    pub fn segmentation(self, ignore_index: Option<i64>) -> SegmentationMixupBatcher<Inner, O> {
        SegmentationMixupBatcher {
            batcher: self,
            ignore_index,
            output: PhantomData,
        }
    }
}

impl<Inner, O> SegmentationMixupBatcher<Inner, O> {
    /// Batches with the inner batcher, checks the maps if asked, and mixes.
    ///
    /// # Errors
    /// [`MixError::MapLabelOutOfRange`] (with `with_num_classes`), and those of
    /// [`Mixer::apply_segmentation`](crate::Mixer::apply_segmentation); the type's
    /// example shows a refused label.
    pub fn try_batch<I>(
        &self,
        items: Vec<I>,
        device: &Device,
    ) -> Result<SegmentationBatch, MixError>
    where
        Inner: Batcher<I, O>,
        O: Into<(Tensor<4>, Tensor<3, Int>)>,
    {
        let (images, maps) = self.batcher.inner().batch(items, device).into();
        if let Some(num_classes) = self.batcher.num_classes() {
            let labels = maps
                .to_data()
                .try_into_vec_as::<i64>()
                .expect("integer labels convert to i64");
            check_maps(&labels, maps.dims(), num_classes, self.ignore_index)?;
        }
        self.batcher.mixer().apply_segmentation(images, maps)
    }
}

impl<I, O, Inner> Batcher<I, SegmentationBatch> for SegmentationMixupBatcher<Inner, O>
where
    Inner: Batcher<I, O>,
    O: Into<(Tensor<4>, Tensor<3, Int>)>,
{
    fn batch(&self, items: Vec<I>, device: &Device) -> SegmentationBatch {
        self.try_batch(items, device)
            .unwrap_or_else(|err| self.batcher.mixer().fail("SegmentationMixupBatcher", err))
    }
}
