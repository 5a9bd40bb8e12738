//! [`DenseMixupBatcher`]: a mixing batcher for dense targets `[B, K]`.

use std::marker::PhantomData;

use burn::data::dataloader::batcher::Batcher;
use burn::tensor::{Device, Tensor};

use super::MixupBatcher;
use crate::check::check_dense_targets;
use crate::dense::DenseMixedBatch;
use crate::error::MixError;

/// A [`MixupBatcher`] whose inner batcher yields dense targets: `(inputs, [B, K]
/// targets)`, or a type that converts into that pair. Made by
/// [`MixupBatcher::dense`]; with
/// [`with_num_classes`](MixupBatcher::with_num_classes) set, every batch's targets
/// are read back and checked ([`check_dense_targets`](crate::check_dense_targets),
/// and the width).
///
/// ```
/// use burn::data::dataloader::batcher::Batcher;
/// use burn::tensor::{Device, Tensor};
/// use burn_mixup::{DenseMixedBatch, MixConfig, MixupBatcher};
///
/// /// Item: an image value and its tags (multi-label).
/// #[derive(Clone)]
/// struct Tagged;
/// impl Batcher<(f32, [f32; 3]), (Tensor<4>, Tensor<2>)> for Tagged {
///     fn batch(&self, items: Vec<(f32, [f32; 3])>, device: &Device) -> (Tensor<4>, Tensor<2>) {
///         let images = items.iter().map(|(v, _)| Tensor::<4>::full([1, 1, 4, 4], *v, device)).collect();
///         let tags = items.iter().map(|(_, t)| Tensor::<2>::from_floats([*t], device)).collect();
///         (Tensor::cat(images, 0), Tensor::cat(tags, 0))
///     }
/// }
/// let batcher = MixupBatcher::new(Tagged, MixConfig::cutmix(1.0).with_seed(Some(2)).init()?)
///     .with_num_classes(3)
///     .dense();
/// let batch: DenseMixedBatch<4> = batcher.batch(vec![(0.0, [1.0, 0.0, 1.0]), (1.0, [0.0, 1.0, 0.0])], &Device::flex());
/// assert_eq!(batch.targets().dims(), [2, 3]);
/// let err = batcher.try_batch::<_, 4>(vec![(0.0, [2.0, 0.0, 0.0])], &Device::flex()).unwrap_err();
/// assert_eq!(err.to_string(), "dense target [0, 0] is 2: targets must be finite and in [0, 1]");
/// # Ok::<(), burn_mixup::MixError>(())
/// ```
#[derive(Debug, Clone)]
pub struct DenseMixupBatcher<Inner, O> {
    batcher: MixupBatcher<Inner, O>,
    output: PhantomData<fn() -> O>,
}

impl<Inner, O> MixupBatcher<Inner, O> {
    /// This batcher's inner batcher, check and mixer, for dense targets `[B, K]`.
    ///
    /// ```
    /// use burn::tensor::Tensor;
    /// use burn_mixup::{DenseMixupBatcher, MixConfig, MixupBatcher};
    /// # #[derive(Clone)] struct Inner;
    /// let batcher: DenseMixupBatcher<Inner, (Tensor<4>, Tensor<2>)> =
    ///     MixupBatcher::new(Inner, MixConfig::mixup(0.2).init()?).dense();
    /// # Ok::<(), burn_mixup::MixError>(())
    /// ```
    pub fn dense(self) -> DenseMixupBatcher<Inner, O> {
        DenseMixupBatcher {
            batcher: self,
            output: PhantomData,
        }
    }
}

impl<Inner, O> DenseMixupBatcher<Inner, O> {
    /// Batches with the inner batcher, checks the targets if asked, and mixes.
    ///
    /// # Errors
    /// [`MixError::DenseTargetWidth`] and [`MixError::InvalidDenseTarget`] (with
    /// `with_num_classes`), and those of [`Mixer::apply_dense`](crate::Mixer::apply_dense).
    ///
    /// ```
    /// use burn::data::dataloader::batcher::Batcher;
    /// use burn::tensor::{Device, Tensor};
    /// use burn_mixup::{MixConfig, MixError, MixupBatcher};
    /// #[derive(Clone)]
    /// struct Rows;
    /// impl Batcher<f32, (Tensor<2>, Tensor<2>)> for Rows {
    ///     fn batch(&self, items: Vec<f32>, device: &Device) -> (Tensor<2>, Tensor<2>) {
    ///         (Tensor::zeros([items.len(), 3], device), Tensor::ones([items.len(), 2], device))
    ///     }
    /// }
    /// let batcher = MixupBatcher::new(Rows, MixConfig::mixup(1.0).init()?).dense();
    /// assert_eq!(batcher.try_batch::<f32, 2>(vec![], &Device::flex()).unwrap_err(), MixError::EmptyBatch);
    /// # Ok::<(), MixError>(())
    /// ```
    pub fn try_batch<I, const D: usize>(
        &self,
        items: Vec<I>,
        device: &Device,
    ) -> Result<DenseMixedBatch<D>, MixError>
    where
        Inner: Batcher<I, O>,
        O: Into<(Tensor<D>, Tensor<2>)>,
    {
        let (inputs, targets) = self.batcher.inner().batch(items, device).into();
        if let Some(num_classes) = self.batcher.num_classes() {
            let [_, width] = targets.dims();
            if width != num_classes {
                return Err(MixError::DenseTargetWidth {
                    expected: num_classes,
                    got: width,
                });
            }
            let values = targets
                .to_data()
                .try_into_vec_as::<f32>()
                .expect("float targets convert to f32");
            check_dense_targets(&values, num_classes)?;
        }
        self.batcher.mixer().apply_dense(inputs, targets)
    }
}

impl<I, O, Inner, const D: usize> Batcher<I, DenseMixedBatch<D>> for DenseMixupBatcher<Inner, O>
where
    Inner: Batcher<I, O>,
    O: Into<(Tensor<D>, Tensor<2>)>,
{
    fn batch(&self, items: Vec<I>, device: &Device) -> DenseMixedBatch<D> {
        self.try_batch(items, device)
            .unwrap_or_else(|err| self.batcher.mixer().fail("DenseMixupBatcher", err))
    }
}
