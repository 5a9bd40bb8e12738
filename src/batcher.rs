//! [`MixupBatcher`]: mixing as a drop-in Burn `Batcher`.
//!
//! It wraps any batcher whose output can be split into inputs and Int targets
//! ([`IntoClassificationBatch`]) and yields a [`MixedBatch`], so enabling Mixup in a
//! `DataLoaderBuilder` is one line: `DataLoaderBuilder::new(MixupBatcher::new(inner, mixer))`.

use std::marker::PhantomData;

use burn::data::dataloader::batcher::Batcher;
use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor};

use crate::error::MixupError;
use crate::mix::Mixer;
use crate::mixup::{MixedBatch, Mixup};

/// A batch that can be split into inputs `[B, ...]` and class targets `[B]`.
///
/// Implemented for the pair `(Tensor<B, D>, Tensor<B, 1, Int>)`; implement it for
/// your own batch struct to use it with [`MixupBatcher`].
///
/// ```
/// use burn::tensor::{backend::Backend, Int, Tensor};
/// use burn_mixup::IntoClassificationBatch;
///
/// struct ImageBatch<B: Backend> { images: Tensor<B, 4>, labels: Tensor<B, 1, Int> }
///
/// impl<B: Backend> IntoClassificationBatch<B, 4> for ImageBatch<B> {
///     fn into_parts(self) -> (Tensor<B, 4>, Tensor<B, 1, Int>) {
///         (self.images, self.labels)
///     }
/// }
/// ```
pub trait IntoClassificationBatch<B: Backend, const D: usize> {
    /// Splits the batch into `(inputs, targets)`.
    fn into_parts(self) -> (Tensor<B, D>, Tensor<B, 1, Int>);
}

impl<B: Backend, const D: usize> IntoClassificationBatch<B, D>
    for (Tensor<B, D>, Tensor<B, 1, Int>)
{
    fn into_parts(self) -> (Tensor<B, D>, Tensor<B, 1, Int>) {
        self
    }
}

/// What a [`MixupBatcher`] mixes with: a plain [`Mixup`] or a full [`Mixer`]
/// (Mixup and CutMix, batch/pair/element modes). Both convert with `into()`.
///
/// ```
/// use burn_mixup::{BatchMixer, MixConfig, MixupConfig};
///
/// let plain: BatchMixer = MixupConfig::new().init()?.into();
/// let full: BatchMixer = MixConfig::cutmix(10, 1.0).init()?.into();
/// assert!(matches!(plain, BatchMixer::Mixup(_)) && matches!(full, BatchMixer::Mixer(_)));
/// # Ok::<(), burn_mixup::MixupError>(())
/// ```
#[derive(Debug, Clone)]
pub enum BatchMixer {
    /// Input Mixup.
    Mixup(Mixup),
    /// Mixup and/or CutMix with modes and switching.
    Mixer(Mixer),
}

impl From<Mixup> for BatchMixer {
    fn from(mixup: Mixup) -> Self {
        BatchMixer::Mixup(mixup)
    }
}

impl From<Mixer> for BatchMixer {
    fn from(mixer: Mixer) -> Self {
        BatchMixer::Mixer(mixer)
    }
}

impl BatchMixer {
    fn apply<B: Backend, const D: usize>(
        &self,
        inputs: Tensor<B, D>,
        targets: Tensor<B, 1, Int>,
    ) -> Result<MixedBatch<B, D>, MixupError> {
        match self {
            BatchMixer::Mixup(mixup) => mixup.apply(inputs, targets),
            BatchMixer::Mixer(mixer) => mixer.apply(inputs, targets),
        }
    }
}

/// Wraps a Burn `Batcher` and mixes every batch it makes.
///
/// The inner batcher builds the plain batch (decoding, augmentation, normalisation);
/// this one draws lambda and the pairing and returns a [`MixedBatch`] with the mixed
/// inputs, both target sets and lambda.
///
/// A batch of one sample is valid and comes back unmixed: its only pairing is with
/// itself. An empty batch, or an inner batcher whose inputs and targets disagree in
/// length, is a bug in the inner batcher; `Batcher::batch` cannot return an error, so
/// it panics with the [`MixupError`] message. [`try_batch`](Self::try_batch) returns
/// the error instead.
///
/// ```
/// use burn::data::dataloader::batcher::Batcher;
/// use burn::tensor::{backend::Backend, Int, Tensor};
/// use burn_mixup::{MixedBatch, MixupBatcher, MixupConfig};
/// use burn_ndarray::NdArray;
///
/// /// A toy inner batcher: item = (pixel value, label).
/// #[derive(Clone)]
/// struct Plain;
/// impl<B: Backend> Batcher<B, (f32, i64), (Tensor<B, 4>, Tensor<B, 1, Int>)> for Plain {
///     fn batch(&self, items: Vec<(f32, i64)>, device: &B::Device) -> (Tensor<B, 4>, Tensor<B, 1, Int>) {
///         let images = items.iter()
///             .map(|(v, _)| Tensor::<B, 4>::full([1, 1, 2, 2], *v, device))
///             .collect();
///         let labels: Vec<i64> = items.iter().map(|(_, y)| *y).collect();
///         (Tensor::cat(images, 0), Tensor::from_ints(labels.as_slice(), device))
///     }
/// }
///
/// let batcher = MixupBatcher::new(Plain, MixupConfig::new().with_seed(Some(5)).init()?)
///     .with_num_classes(10);
/// let device = Default::default();
/// let batch: MixedBatch<NdArray, 4> = batcher.batch(vec![(0.0, 1), (1.0, 2)], &device);
/// assert_eq!(batch.inputs.dims(), [2, 1, 2, 2]);
/// # Ok::<(), burn_mixup::MixupError>(())
/// ```
#[derive(Debug, Clone)]
pub struct MixupBatcher<Inner, O> {
    inner: Inner,
    mixer: BatchMixer,
    num_classes: Option<usize>,
    // fn() -> O: the batcher neither owns nor shares an O, so Send/Sync do not depend on O.
    output: PhantomData<fn() -> O>,
}

impl<Inner, O> MixupBatcher<Inner, O> {
    /// Wraps `inner`, mixing with `mixer` (a [`Mixup`] or a [`Mixer`]).
    ///
    /// ```
    /// use burn::tensor::{Int, Tensor};
    /// use burn_mixup::{MixupBatcher, MixupConfig};
    /// use burn_ndarray::NdArray;
    ///
    /// # #[derive(Clone)] struct Inner;
    /// let batcher: MixupBatcher<Inner, (Tensor<NdArray, 4>, Tensor<NdArray, 1, Int>)> =
    ///     MixupBatcher::new(Inner, MixupConfig::new().init()?);
    /// # Ok::<(), burn_mixup::MixupError>(())
    /// ```
    pub fn new(inner: Inner, mixer: impl Into<BatchMixer>) -> Self {
        Self {
            inner,
            mixer: mixer.into(),
            num_classes: None,
            output: PhantomData,
        }
    }

    /// Also checks every target against `0..num_classes` (one small read-back of
    /// the labels per batch, on the loader's thread). Without it labels are trusted.
    ///
    /// ```
    /// use burn::tensor::{Int, Tensor};
    /// use burn_mixup::{MixupBatcher, MixupConfig};
    /// use burn_ndarray::NdArray;
    ///
    /// # #[derive(Clone)] struct Inner;
    /// let batcher: MixupBatcher<Inner, (Tensor<NdArray, 4>, Tensor<NdArray, 1, Int>)> =
    ///     MixupBatcher::new(Inner, MixupConfig::new().init()?).with_num_classes(10);
    /// # Ok::<(), burn_mixup::MixupError>(())
    /// ```
    pub fn with_num_classes(mut self, num_classes: usize) -> Self {
        self.num_classes = Some(num_classes);
        self
    }

    /// The mixer.
    ///
    /// ```
    /// use burn::tensor::{Int, Tensor};
    /// use burn_mixup::{BatchMixer, MixupBatcher, MixupConfig};
    /// use burn_ndarray::NdArray;
    ///
    /// # #[derive(Clone)] struct Inner;
    /// let batcher: MixupBatcher<Inner, (Tensor<NdArray, 4>, Tensor<NdArray, 1, Int>)> =
    ///     MixupBatcher::new(Inner, MixupConfig::new().init()?);
    /// assert!(matches!(batcher.mixer(), BatchMixer::Mixup(_)));
    /// # Ok::<(), burn_mixup::MixupError>(())
    /// ```
    pub fn mixer(&self) -> &BatchMixer {
        &self.mixer
    }

    /// Mutable access to the mixer, e.g. to restore its random state on resume.
    ///
    /// ```
    /// use burn::tensor::{Int, Tensor};
    /// use burn_mixup::{BatchMixer, MixupBatcher, MixupConfig, RngState};
    /// use burn_ndarray::NdArray;
    ///
    /// # #[derive(Clone)] struct Inner;
    /// let mut batcher: MixupBatcher<Inner, (Tensor<NdArray, 4>, Tensor<NdArray, 1, Int>)> =
    ///     MixupBatcher::new(Inner, MixupConfig::new().init()?);
    /// if let BatchMixer::Mixup(mixup) = batcher.mixer_mut() {
    ///     mixup.set_rng_state(RngState { seed: 1, draws: 10 });
    /// }
    /// # Ok::<(), burn_mixup::MixupError>(())
    /// ```
    pub fn mixer_mut(&mut self) -> &mut BatchMixer {
        &mut self.mixer
    }

    /// Batches with the inner batcher, checks the labels if asked, and mixes.
    ///
    /// # Errors
    /// [`MixupError::Target`] for a label outside `0..num_classes` (when set), and the
    /// errors of [`Mixup::apply`] / [`Mixer::apply`].
    ///
    /// ```
    /// use burn::data::dataloader::batcher::Batcher;
    /// use burn::tensor::{backend::Backend, Int, Tensor};
    /// use burn_mixup::{MixupBatcher, MixupConfig, MixupError, TargetError};
    /// use burn_ndarray::NdArray;
    ///
    /// #[derive(Clone)]
    /// struct Labels;
    /// impl<B: Backend> Batcher<B, i64, (Tensor<B, 2>, Tensor<B, 1, Int>)> for Labels {
    ///     fn batch(&self, items: Vec<i64>, device: &B::Device) -> (Tensor<B, 2>, Tensor<B, 1, Int>) {
    ///         (Tensor::zeros([items.len(), 3], device), Tensor::from_ints(items.as_slice(), device))
    ///     }
    /// }
    /// let batcher = MixupBatcher::new(Labels, MixupConfig::new().init()?).with_num_classes(3);
    /// let err = batcher.try_batch::<NdArray, i64, 2>(vec![0, 7], &Default::default()).unwrap_err();
    /// assert_eq!(err, MixupError::Target(TargetError::OutOfRange { position: 1, value: 7, num_classes: 3 }));
    /// # Ok::<(), MixupError>(())
    /// ```
    pub fn try_batch<B, I, const D: usize>(
        &self,
        items: Vec<I>,
        device: &B::Device,
    ) -> Result<MixedBatch<B, D>, MixupError>
    where
        B: Backend,
        Inner: Batcher<B, I, O>,
        O: IntoClassificationBatch<B, D>,
    {
        let (inputs, targets) = self.inner.batch(items, device).into_parts();
        if let Some(num_classes) = self.num_classes {
            let labels = targets
                .to_data()
                .convert::<i64>()
                .into_vec::<i64>()
                .expect("the labels were converted to i64 just above");
            crate::error::check_targets(&labels, num_classes)?;
        }
        self.mixer.apply(inputs, targets)
    }
}

impl<B, I, O, Inner, const D: usize> Batcher<B, I, MixedBatch<B, D>> for MixupBatcher<Inner, O>
where
    B: Backend,
    Inner: Batcher<B, I, O>,
    O: IntoClassificationBatch<B, D>,
{
    fn batch(&self, items: Vec<I>, device: &B::Device) -> MixedBatch<B, D> {
        self.try_batch(items, device)
            .unwrap_or_else(|err| panic!("MixupBatcher: {err}"))
    }
}
