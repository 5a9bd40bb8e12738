//! [`MixupBatcher`]: mixing as a drop-in Burn `Batcher`.
//!
//! It wraps any batcher whose output converts into `(inputs, Int targets)` and
//! yields a [`MixedBatch`], so enabling Mixup in a `DataLoaderBuilder` is one line:
//! `DataLoaderBuilder::new(MixupBatcher::new(inner, mixer))`.

mod dense;
mod segmentation;

use std::marker::PhantomData;

use burn::data::dataloader::batcher::Batcher;
use burn::tensor::Device;
use burn::tensor::{Int, Tensor};

use crate::batch::MixedBatch;
use crate::check::check_targets;
use crate::error::MixError;
use crate::mixer::Mixer;

pub use dense::DenseMixupBatcher;
pub use segmentation::SegmentationMixupBatcher;

/// Wraps a Burn `Batcher` and mixes every batch it makes with one [`Mixer`].
///
/// The inner batcher builds the plain batch (decoding, augmentation,
/// normalisation) as `(inputs, targets)`, or as a type of yours that converts into
/// that pair (`impl From<MyBatch> for (Tensor<4>, Tensor<1, Int>)`); this
/// one draws the mixing and returns a [`MixedBatch`]. A disabled mixer
/// (`MixConfig::mixup(0.0)`) gives unmixed batches of the same type, so the plain
/// baseline runs through the same loader.
///
/// Burn's `DataLoader` emits the last, partial batch of an epoch: every batch size
/// from 1 up works in every mode (see [`MixMode`](crate::MixMode)). An empty batch,
/// inputs and targets of different lengths, or (with
/// [`with_num_classes`](Self::with_num_classes)) a bad label are bugs upstream;
/// `Batcher::batch` cannot return an error, so it panics with the [`MixError`]
/// message, and [`try_batch`](Self::try_batch) returns it instead. The mixer keeps
/// the error too ([`Mixer::failure`]): with workers, Burn's `DataLoader` ends the
/// epoch early and silently when a worker panics, so check it after each epoch.
///
/// ```
/// use burn::data::dataloader::batcher::Batcher;
/// use burn::tensor::{Device, Int, Tensor};
/// use burn_mixup::{MixConfig, MixedBatch, MixupBatcher};
///
/// /// A toy inner batcher: item = (pixel value, label).
/// #[derive(Clone)]
/// struct Plain;
/// impl Batcher<(f32, i64), (Tensor<4>, Tensor<1, Int>)> for Plain {
///     fn batch(&self, items: Vec<(f32, i64)>, device: &Device) -> (Tensor<4>, Tensor<1, Int>) {
///         let images = items.iter()
///             .map(|(v, _)| Tensor::<4>::full([1, 1, 2, 2], *v, device))
///             .collect();
///         let labels: Vec<i64> = items.iter().map(|(_, y)| *y).collect();
///         (Tensor::cat(images, 0), Tensor::from_ints(labels.as_slice(), device))
///     }
/// }
///
/// let batcher = MixupBatcher::new(Plain, MixConfig::mixup(1.0).with_seed(Some(5)).init()?)
///     .with_num_classes(10);
/// let device = Device::flex();
/// let batch: MixedBatch<4> = batcher.batch(vec![(0.0, 1), (1.0, 2), (2.0, 3)], &device);
/// assert_eq!(batch.inputs().dims(), [3, 1, 2, 2]);
/// # Ok::<(), burn_mixup::MixError>(())
/// ```
#[derive(Debug, Clone)]
pub struct MixupBatcher<Inner, O> {
    inner: Inner,
    mixer: Mixer,
    num_classes: Option<usize>,
    // fn() -> O: the batcher neither owns nor shares an O, so Send/Sync do not depend on O.
    output: PhantomData<fn() -> O>,
}

impl<Inner, O> MixupBatcher<Inner, O> {
    /// Wraps `inner`, mixing with `mixer`.
    ///
    /// ```
    /// use burn::tensor::{Int, Tensor};
    /// use burn_mixup::{MixConfig, MixupBatcher};
    ///
    /// # #[derive(Clone)] struct Inner;
    /// let batcher: MixupBatcher<Inner, (Tensor<4>, Tensor<1, Int>)> =
    ///     MixupBatcher::new(Inner, MixConfig::cutmix(1.0).init()?);
    /// # Ok::<(), burn_mixup::MixError>(())
    /// ```
    pub fn new(inner: Inner, mixer: Mixer) -> Self {
        Self {
            inner,
            mixer,
            num_classes: None,
            output: PhantomData,
        }
    }

    /// Also checks every target against `0..num_classes` (one small read-back of
    /// the labels per batch, on the loader's thread). Without it labels are trusted.
    /// The [`dense`](Self::dense) batcher checks its targets' width and values
    /// instead, the [`segmentation`](Self::segmentation) batcher every pixel (its
    /// void label accepted).
    ///
    /// ```
    /// use burn::tensor::{Int, Tensor};
    /// use burn_mixup::{MixConfig, MixupBatcher};
    ///
    /// # #[derive(Clone)] struct Inner;
    /// let batcher: MixupBatcher<Inner, (Tensor<4>, Tensor<1, Int>)> =
    ///     MixupBatcher::new(Inner, MixConfig::new().init()?).with_num_classes(10);
    /// # Ok::<(), burn_mixup::MixError>(())
    /// ```
    pub fn with_num_classes(mut self, num_classes: usize) -> Self {
        self.num_classes = Some(num_classes);
        self
    }

    /// The mixer: a clone of it is a handle on the same stream and epoch, to call
    /// [`Mixer::set_epoch`] or [`Mixer::resume_at`] on the copy a `DataLoader` owns.
    ///
    /// ```
    /// use burn::tensor::{Int, Tensor};
    /// use burn_mixup::{MixConfig, MixupBatcher};
    ///
    /// # #[derive(Clone)] struct Inner;
    /// let batcher: MixupBatcher<Inner, (Tensor<4>, Tensor<1, Int>)> =
    ///     MixupBatcher::new(Inner, MixConfig::new().init()?);
    /// let handle = batcher.mixer().clone();
    /// handle.resume_at(40);
    /// assert_eq!(batcher.mixer().next_draw(), 40);
    /// # Ok::<(), burn_mixup::MixError>(())
    /// ```
    pub fn mixer(&self) -> &Mixer {
        &self.mixer
    }

    /// Batches with the inner batcher, checks the labels if asked, and mixes.
    ///
    /// # Errors
    /// [`MixError::TargetOutOfRange`] for a label outside `0..num_classes` (when
    /// set), and the errors of [`Mixer::apply`].
    ///
    /// ```
    /// use burn::data::dataloader::batcher::Batcher;
    /// use burn::tensor::{Device, Int, Tensor};
    /// use burn_mixup::{MixConfig, MixError, MixupBatcher};
    ///
    /// #[derive(Clone)]
    /// struct Labels;
    /// impl Batcher<i64, (Tensor<2>, Tensor<1, Int>)> for Labels {
    ///     fn batch(&self, items: Vec<i64>, device: &Device) -> (Tensor<2>, Tensor<1, Int>) {
    ///         (Tensor::zeros([items.len(), 3], device), Tensor::from_ints(items.as_slice(), device))
    ///     }
    /// }
    /// let batcher = MixupBatcher::new(Labels, MixConfig::new().init()?).with_num_classes(3);
    /// let err = batcher.try_batch::<i64, 2>(vec![0, 7], &Device::flex()).unwrap_err();
    /// assert_eq!(err, MixError::TargetOutOfRange { position: 1, value: 7, num_classes: 3 });
    /// # Ok::<(), MixError>(())
    /// ```
    /// # use burn::tensor::Device;
    pub fn try_batch<I, const D: usize>(
        &self,
        items: Vec<I>,
        device: &Device,
    ) -> Result<MixedBatch<D>, MixError>
    where
        Inner: Batcher<I, O>,
        O: Into<(Tensor<D>, Tensor<1, Int>)>,
    {
        let (inputs, targets) = self.plain_batch(items, device)?;
        self.mixer.apply(inputs, targets)
    }

    /// The wrapped batcher.
    pub(crate) fn inner(&self) -> &Inner {
        &self.inner
    }

    /// The number of classes targets are checked against, if set.
    pub(crate) fn num_classes(&self) -> Option<usize> {
        self.num_classes
    }

    /// The inner batcher's batch, its labels checked if asked.
    pub(crate) fn plain_batch<I, const D: usize>(
        &self,
        items: Vec<I>,
        device: &Device,
    ) -> Result<(Tensor<D>, Tensor<1, Int>), MixError>
    where
        Inner: Batcher<I, O>,
        O: Into<(Tensor<D>, Tensor<1, Int>)>,
    {
        let (inputs, targets) = self.inner.batch(items, device).into();
        if let Some(num_classes) = self.num_classes {
            let labels = targets
                .to_data()
                .try_into_vec_as::<i64>()
                .expect("integer labels convert to i64");
            check_targets(&labels, num_classes)?;
        }
        Ok((inputs, targets))
    }
}

impl<I, O, Inner, const D: usize> Batcher<I, MixedBatch<D>> for MixupBatcher<Inner, O>
where
    Inner: Batcher<I, O>,
    O: Into<(Tensor<D>, Tensor<1, Int>)>,
{
    fn batch(&self, items: Vec<I>, device: &Device) -> MixedBatch<D> {
        self.try_batch(items, device)
            .unwrap_or_else(|err| self.mixer().fail("MixupBatcher", err))
    }
}
