//! One draw of the mixer ([`MixParams`]) and its replay on tensors.
//!
//! A draw says, for every sample, who its partner is and what happens: kept,
//! blended (`x * lambda + partner * (1 - lambda)`) or pasted (a box of the partner,
//! the partner resized into a box, or the partner's pixels under an FMix mask).
//! Replaying it is exact: kept samples and pixels outside a box or mask are the
//! input's bits, pixels inside the partner's.

use burn::tensor::Device;
use burn::tensor::kind::Basic;
use burn::tensor::{Int, Tensor, TensorData};

mod build;
mod replay;

pub(crate) use replay::Op;
use replay::{Ops, mix_per_sample, paste_mask, paste_regions, resize_paste};

use crate::batch::MixedBatch;
use crate::error::MixError;
use crate::fmix::FourierMask;
use crate::lambda::Lambda;

/// One draw of a [`Mixer`](crate::Mixer): the partner of every sample, what is done
/// with it, and lambda. Replay it on any tensor whose first dimension is the batch
/// with [`mix`](Self::mix), or on a batch and its labels with
/// [`mix_batch`](Self::mix_batch).
///
/// This is what Manifold Mixup needs: mix hidden activations with the pairing and
/// lambda of the input batch.
///
/// ```
/// use burn::tensor::{Device, Int, Tensor};
/// use burn_mixup::MixConfig;
///
/// let device = Device::flex();
/// let mixer = MixConfig::mixup(1.0).with_seed(Some(7)).init()?;
/// let images = Tensor::<4>::ones([8, 3, 4, 4], &device);
/// let labels = Tensor::<1, Int>::from_ints([0, 1, 2, 3, 4, 5, 6, 7], &device);
/// let params = mixer.sample(&images.dims())?;
/// // Manifold Mixup: the batch goes through the first layers unmixed...
/// let hidden = images.reshape([8, 48]) * 2.0; // stand-in for model.stem(images)
/// // ...and the hidden activations are mixed with the draw of the batch.
/// let mixed_hidden = params.mix(hidden.clone())?;
/// let batch = params.mix_batch(hidden, labels)?; // the same, with both target sets
/// assert_eq!(mixed_hidden.dims(), [8, 48]);
/// assert_eq!(batch.lambda(), params.lambda());
/// # Ok::<(), burn_mixup::MixError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct MixParams {
    draw_index: Option<u64>,
    partners: Vec<usize>,
    lambda: Lambda,
    ops: Ops,
    /// The `(height, width)` the boxes were drawn for, when there are boxes.
    image: Option<(usize, usize)>,
}

impl MixParams {
    /// The parameters of an unmixed batch: every sample kept, lambda 1.
    ///
    /// ```
    /// use burn_mixup::{Lambda, MixParams};
    /// let params = MixParams::identity(3);
    /// assert_eq!(params.partners(), &[0, 1, 2]);
    /// assert_eq!(params.lambda(), &Lambda::Batch(1.0));
    /// assert!(!params.is_mixed());
    /// ```
    pub fn identity(batch_size: usize) -> Self {
        Self {
            draw_index: None,
            partners: (0..batch_size).collect(),
            lambda: Lambda::Batch(1.0),
            ops: Ops::Batch(Op::Keep),
            image: None,
        }
    }

    /// A drawn batch-wide operation.
    pub(crate) fn batch_op(
        draw_index: u64,
        partners: Vec<usize>,
        op: Op,
        lambda: f64,
        image: Option<(usize, usize)>,
    ) -> Self {
        let image = image.filter(|_| op.has_region());
        Self {
            draw_index: Some(draw_index),
            ..Self::from_ops(partners, Lambda::Batch(lambda), Ops::Batch(op), image)
        }
    }

    /// A drawn per-sample operation list.
    pub(crate) fn per_sample_ops(
        draw_index: u64,
        mut partners: Vec<usize>,
        ops: Vec<Op>,
        lambdas: Vec<f64>,
        image: Option<(usize, usize)>,
    ) -> Self {
        // A kept sample is its own partner, so its second target is its own.
        for (i, op) in ops.iter().enumerate() {
            if *op == Op::Keep {
                partners[i] = i;
            }
        }
        let image = image.filter(|_| ops.iter().any(Op::has_region));
        Self {
            draw_index: Some(draw_index),
            ..Self::from_ops(
                partners,
                Lambda::PerSample(lambdas),
                Ops::PerSample(ops),
                image,
            )
        }
    }

    fn from_ops(
        partners: Vec<usize>,
        lambda: Lambda,
        ops: Ops,
        image: Option<(usize, usize)>,
    ) -> Self {
        Self {
            draw_index: None,
            partners,
            lambda,
            ops,
            image,
        }
    }

    /// Batch size the parameters were drawn for.
    ///
    /// ```
    /// assert_eq!(burn_mixup::MixParams::identity(5).batch_size(), 5);
    /// ```
    pub fn batch_size(&self) -> usize {
        self.partners.len()
    }

    /// `partners()[i]` is the sample whose content and target are mixed into
    /// sample `i` (itself where nothing is mixed in). A permutation in `Batch`
    /// mode; in `Elem` mode several samples may share a partner once kept samples
    /// point at themselves.
    ///
    /// ```
    /// let params = burn_mixup::MixParams::blend(0.5, vec![2, 0, 1])?;
    /// assert_eq!(params.partners(), &[2, 0, 1]);
    /// # Ok::<(), burn_mixup::MixError>(())
    /// ```
    pub fn partners(&self) -> &[usize] {
        &self.partners
    }

    /// The lambda(s): the weight of each sample's own content and target.
    ///
    /// ```
    /// use burn_mixup::{Lambda, MixParams};
    /// assert_eq!(MixParams::blend(0.25, vec![1, 0])?.lambda(), &Lambda::Batch(0.25));
    /// # Ok::<(), burn_mixup::MixError>(())
    /// ```
    pub fn lambda(&self) -> &Lambda {
        &self.lambda
    }

    /// The CutMix box pasted into sample `index`, if any.
    ///
    /// ```
    /// use burn_mixup::{MixConfig, MixParams};
    /// let mixer = MixConfig::cutmix(1.0).with_seed(Some(1)).init()?;
    /// let params = mixer.sample(&[2, 3, 16, 16])?;
    /// let cut = params.cut_box(0).expect("CutMix pastes a box in every image");
    /// assert_eq!(params.lambda().of_sample(0), cut.kept_fraction(16, 16));
    /// assert_eq!(MixParams::identity(2).cut_box(0), None);
    /// # Ok::<(), burn_mixup::MixError>(())
    /// ```
    pub fn cut_box(&self, index: usize) -> Option<crate::CutBox> {
        self.op(index).cut_box()
    }

    /// Whether sample `index` receives its whole partner resized into its box
    /// (ResizeMix) rather than the partner's pixels at the box (CutMix).
    ///
    /// ```
    /// use burn_mixup::MixConfig;
    /// let params = MixConfig::cutmix(1.0).with_seed(Some(2)).init()?.sample(&[2, 1, 8, 8])?;
    /// assert!(!params.resizes(0));
    /// # Ok::<(), burn_mixup::MixError>(())
    /// ```
    pub fn resizes(&self, index: usize) -> bool {
        matches!(self.op(index), Op::Resize(_))
    }

    /// The FMix mask of sample `index`, if FMix mixed it.
    ///
    /// ```
    /// use burn_mixup::MixConfig;
    /// let params = MixConfig::fmix(1.0, 3.0).with_seed(Some(2)).init()?.sample(&[2, 1, 8, 8])?;
    /// let mask = params.fourier_mask(0).expect("FMix masks every mixed sample");
    /// assert_eq!(mask.kept_fraction(), params.lambda().of_sample(0));
    /// assert_eq!(params.cut_box(0), None); // a mask, not a box
    /// # Ok::<(), burn_mixup::MixError>(())
    /// ```
    pub fn fourier_mask(&self, index: usize) -> Option<&FourierMask> {
        match self.op(index) {
            Op::Mask(mask) => Some(mask),
            _ => None,
        }
    }

    /// The position of this draw in its mixer's stream (`None` for parameters built
    /// by hand). Save `draw_index + 1` of the last batch a training loop consumed
    /// and give it to [`Mixer::resume_at`](crate::Mixer::resume_at) to resume.
    ///
    /// ```
    /// let mixer = burn_mixup::MixConfig::mixup(1.0).init()?;
    /// assert_eq!(mixer.sample(&[4, 2])?.draw_index(), Some(0));
    /// assert_eq!(mixer.sample(&[4, 2])?.draw_index(), Some(1));
    /// # Ok::<(), burn_mixup::MixError>(())
    /// ```
    pub fn draw_index(&self) -> Option<u64> {
        self.draw_index
    }

    /// Whether replaying changes anything.
    ///
    /// ```
    /// assert!(!burn_mixup::MixParams::identity(4).is_mixed());
    /// ```
    pub fn is_mixed(&self) -> bool {
        (0..self.batch_size()).any(|i| self.partners[i] != i && *self.op(i) != Op::Keep)
    }

    /// The operation of every sample (a batch-wide one repeated; FMix masks are
    /// shared, not copied).
    pub(crate) fn sample_ops(&self) -> Vec<Op> {
        match &self.ops {
            Ops::Batch(op) => vec![op.clone(); self.batch_size()],
            Ops::PerSample(ops) => ops.clone(),
        }
    }

    fn op(&self, index: usize) -> &Op {
        match &self.ops {
            Ops::Batch(op) => op,
            Ops::PerSample(ops) => &ops[index],
        }
    }

    /// Mixes any tensor whose first dimension is the batch: inputs, hidden
    /// activations, masks. Blends work on every rank; boxes need `[B, C, H, W]` of
    /// the size they were drawn for.
    ///
    /// # Errors
    /// [`MixError::ParamsBatchSize`], [`MixError::NotAnImage`],
    /// [`MixError::ImageSize`].
    ///
    /// ```
    /// use burn::tensor::{Device, Tensor};
    /// use burn_mixup::MixParams;
    ///
    /// let device = Device::flex();
    /// let x = Tensor::<2>::from_floats([[1.0], [3.0]], &device);
    /// let mixed: Vec<f32> = MixParams::blend(0.75, vec![1, 0])?.mix(x)?.into_data().try_to_vec().unwrap();
    /// assert_eq!(mixed, vec![1.5, 2.5]);
    /// # Ok::<(), burn_mixup::MixError>(())
    /// ```
    pub fn mix<const D: usize>(&self, x: Tensor<D>) -> Result<Tensor<D>, MixError> {
        let dims = x.dims();
        if dims[0] != self.batch_size() {
            return Err(MixError::ParamsBatchSize {
                expected: self.batch_size(),
                got: dims[0],
            });
        }
        if let Some(expected) = self.image {
            if D != 4 {
                return Err(MixError::NotAnImage {
                    dims: dims.to_vec(),
                });
            }
            let got = (dims[2], dims[3]);
            if got != expected {
                return Err(MixError::ImageSize { expected, got });
            }
        }
        if !self.is_mixed() {
            return Ok(x);
        }
        let device = x.device();
        let partners = x.clone().select(0, index_tensor(&self.partners, &device));
        Ok(match &self.ops {
            Ops::Batch(Op::Keep) => x,
            // The reference formula, with a scalar weight: `x * lam + x' * (1 - lam)`.
            Ops::Batch(Op::Blend(lambda)) => x * *lambda + partners * (1.0 - *lambda),
            Ops::Batch(_) => self.paste_into(x, partners),
            Ops::PerSample(ops) => mix_per_sample(x, partners, ops, self.image, &device),
        })
    }

    /// The draw's regions pasted into `x` from `partners` (`x`'s rows reordered by
    /// [`partners()`](Self::partners)), for a tensor of any kind: the images, and their segmentation maps
    /// as `[B, 1, H, W]`, go through this one function, so a map is pasted under
    /// exactly the image's box, mask or resize. Blends and kept samples are left
    /// as they are. A batch-wide box or mask is one `[1, 1, H, W]` mask, expanded.
    pub(crate) fn paste_into<const D: usize, K: Basic>(
        &self,
        x: Tensor<D, K>,
        partners: Tensor<D, K>,
    ) -> Tensor<D, K> {
        let dims = x.dims();
        let device = x.device();
        match &self.ops {
            Ops::Batch(op @ (Op::Paste(_) | Op::Mask(_))) => {
                let (height, width) = self.image.expect("regions carry their image size");
                let mask = paste_mask::<D>(std::slice::from_ref(op), height, width, &device);
                x.mask_where(mask.expand(dims), partners)
            }
            Ops::Batch(Op::Resize(cut)) => resize_paste(x, partners, 0..dims[0], *cut, &device),
            Ops::Batch(_) => x,
            Ops::PerSample(ops) => paste_regions(x, partners, ops, self.image, &device),
        }
    }

    /// Mixes a batch and its labels: the inputs as [`mix`](Self::mix), the
    /// partners' labels as the second target set.
    ///
    /// # Errors
    /// [`MixError::BatchSizeMismatch`] when inputs and targets disagree, and the
    /// errors of [`mix`](Self::mix).
    ///
    /// ```
    /// use burn::tensor::{Device, Int, Tensor};
    /// use burn_mixup::MixParams;
    ///
    /// let device = Device::flex();
    /// let x = Tensor::<2>::zeros([3, 2], &device);
    /// let y = Tensor::<1, Int>::from_ints([4, 5, 6], &device);
    /// let batch = MixParams::blend(0.5, vec![2, 0, 1])?.mix_batch(x, y)?;
    /// let partner_labels: Vec<i64> = batch.partner_targets().clone().into_data().try_into_vec_as::<i64>().unwrap();
    /// assert_eq!(partner_labels, vec![6, 4, 5]);
    /// # Ok::<(), burn_mixup::MixError>(())
    /// ```
    /// # use burn::tensor::Device;
    pub fn mix_batch<const D: usize>(
        &self,
        inputs: Tensor<D>,
        targets: Tensor<1, Int>,
    ) -> Result<MixedBatch<D>, MixError> {
        check_batch(&inputs.dims(), &targets)?;
        let inputs = self.mix(inputs)?;
        let partner_targets = if self.partners.iter().enumerate().all(|(i, &p)| i == p) {
            targets.clone()
        } else {
            let index = index_tensor(&self.partners, &targets.device());
            targets.clone().select(0, index)
        };
        Ok(MixedBatch::from_parts(
            inputs,
            targets,
            partner_targets,
            self.clone(),
        ))
    }
}

/// Inputs and targets agree on a non-zero batch size.
pub(crate) fn check_batch(dims: &[usize], targets: &Tensor<1, Int>) -> Result<usize, MixError> {
    let batch_size = dims[0];
    let [num_targets] = targets.dims();
    if batch_size != num_targets {
        return Err(MixError::BatchSizeMismatch {
            inputs: batch_size,
            targets: num_targets,
        });
    }
    if batch_size == 0 {
        return Err(MixError::EmptyBatch);
    }
    Ok(batch_size)
}

pub(crate) fn index_tensor(indices: &[usize], device: &Device) -> Tensor<1, Int> {
    let values: Vec<i64> = indices.iter().map(|&i| i as i64).collect();
    Tensor::from_data(TensorData::new(values, [indices.len()]), device)
}
