//! Replaying a draw on a tensor: per-sample blends, pastes under a box or an FMix
//! mask (one `mask_where` for the whole batch), and ResizeMix's nearest-neighbour
//! paste, all by selection where the method is a paste, so pasted pixels are the
//! partner's bits.

use std::sync::Arc;

use burn::tensor::kind::Basic;
use burn::tensor::{Bool, Device, Tensor, TensorData};

use super::index_tensor;
use crate::cutmix::CutBox;
use crate::fmix::FourierMask;

/// What happens to one sample.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Op {
    Keep,
    /// `x * weight + partner * (1 - weight)`.
    Blend(f64),
    /// The partner's pixels inside the box.
    Paste(CutBox),
    /// The whole partner, resized (nearest) to the box (ResizeMix).
    Resize(CutBox),
    /// The partner's pixels where the FMix mask says so. Shared, not copied, by the
    /// two samples of a pair.
    Mask(Arc<FourierMask>),
}

impl Op {
    pub(super) fn cut_box(&self) -> Option<CutBox> {
        match self {
            Op::Paste(cut) | Op::Resize(cut) => Some(*cut),
            _ => None,
        }
    }

    /// Whether the operation works on image regions (and so needs `[B, C, H, W]`
    /// inputs of the size it was drawn for).
    pub(crate) fn has_region(&self) -> bool {
        matches!(self, Op::Paste(_) | Op::Resize(_) | Op::Mask(_))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Ops {
    /// The same operation on every sample (with a scalar weight for blends).
    Batch(Op),
    PerSample(Vec<Op>),
}

/// Per-sample blends and pastes: blended rows take `x * w + p * (1 - w)` with one
/// weight per sample (`[B, 1, ..., 1]`), pasted rows take the partner's pixels in
/// their box or under their FMix mask (one `mask_where` for all of them), resized
/// rows the shrunk partner ([`paste_regions`]), and every other value is selected
/// from `x` untouched.
pub(super) fn mix_per_sample<const D: usize>(
    x: Tensor<D>,
    partners: Tensor<D>,
    ops: &[Op],
    image: Option<(usize, usize)>,
    device: &Device,
) -> Tensor<D> {
    let dims = x.dims();
    let batch = dims[0];
    let mut row_shape = [1usize; D];
    row_shape[0] = batch;
    let mut out = x.clone();

    let blends: Vec<Option<f64>> = ops
        .iter()
        .map(|op| match op {
            Op::Blend(w) => Some(*w),
            _ => None,
        })
        .collect();
    if blends.iter().any(Option::is_some) {
        // 1 - w on the host, so that a weight of 0.3 pairs with exactly f32(0.7), as
        // in the reference formula `x * lam + x' * (1 - lam)`.
        let own: Vec<f32> = blends.iter().map(|w| w.unwrap_or(1.0) as f32).collect();
        let other: Vec<f32> = blends
            .iter()
            .map(|w| (1.0 - w.unwrap_or(1.0)) as f32)
            .collect();
        let own = Tensor::<D>::from_data(TensorData::new(own, row_shape), device);
        let other = Tensor::<D>::from_data(TensorData::new(other, row_shape), device);
        let blended = x * own + partners.clone() * other;
        let rows: Vec<bool> = blends.iter().map(Option::is_some).collect();
        let rows = Tensor::<D, Bool>::from_data(TensorData::new(rows, row_shape), device);
        out = out.mask_where(rows.expand(dims), blended);
    }

    paste_regions(out, partners, ops, image, device)
}

/// The region operations of `ops` (boxes, FMix masks, ResizeMix) on a tensor of
/// any kind (see `MixParams::paste_into`): pasted rows take the partner's values in
/// their box or under their mask (one `mask_where` for all of them), resized rows the
/// shrunk partner; blended and kept rows are left as they are.
pub(super) fn paste_regions<const D: usize, K: Basic>(
    x: Tensor<D, K>,
    partners: Tensor<D, K>,
    ops: &[Op],
    image: Option<(usize, usize)>,
    device: &Device,
) -> Tensor<D, K> {
    let dims = x.dims();
    let mut out = x;
    let pastes = ops
        .iter()
        .any(|op| matches!(op, Op::Paste(_) | Op::Mask(_)));
    if let Some((height, width)) = image.filter(|_| pastes) {
        let mask = paste_mask::<D>(ops, height, width, device);
        out = out.mask_where(mask.expand(dims), partners.clone());
    }
    for (i, op) in ops.iter().enumerate() {
        if let Op::Resize(cut) = op {
            out = resize_paste(out, partners.clone(), i..i + 1, *cut, device);
        }
    }
    out
}

/// ResizeMix's paste: the partners of the samples in `rows`, resized to the box by nearest
/// neighbour (output pixel `u` reads source pixel `floor(u * H / h)`, PyTorch's
/// `nearest`), copied into the box. Selection and assignment only: every pixel is
/// one of the partner's or the input's, bit for bit. `D` is 4 (checked by `mix`).
pub(super) fn resize_paste<const D: usize, K: Basic>(
    x: Tensor<D, K>,
    partners: Tensor<D, K>,
    rows: std::ops::Range<usize>,
    cut: CutBox,
    device: &Device,
) -> Tensor<D, K> {
    let dims = x.dims();
    let [batch, channels, height, width] = [dims[0], dims[1], dims[D - 2], dims[D - 1]];
    let x: Tensor<4, K> = x.reshape([batch, channels, height, width]);
    let partners: Tensor<4, K> = partners.reshape([batch, channels, height, width]);
    let nearest =
        |out: usize, len: usize| -> Vec<usize> { (0..out).map(|u| u * len / out).collect() };
    let (box_height, box_width) = (cut.y1 - cut.y0, cut.x1 - cut.x0);
    let source_rows = index_tensor(&nearest(box_height, height), device);
    let source_columns = index_tensor(&nearest(box_width, width), device);
    let small = partners
        .slice([rows.clone(), 0..channels, 0..height, 0..width])
        .select(2, source_rows)
        .select(3, source_columns);
    let out = x.slice_assign([rows, 0..channels, cut.y0..cut.y1, cut.x0..cut.x1], small);
    out.reshape(dims)
}

/// `[rows, 1, H, W]`: true where each row takes its partner's pixel, inside its
/// CutMix box or under its FMix mask (rows with neither: all false). Built on the
/// host and sent once, so a batch of per-sample regions costs one `mask_where`.
pub(super) fn paste_mask<const D: usize>(
    ops: &[Op],
    height: usize,
    width: usize,
    device: &Device,
) -> Tensor<D, Bool> {
    let plane = height * width;
    let mut inside = vec![false; ops.len() * plane];
    for (op, image) in ops.iter().zip(inside.chunks_exact_mut(plane)) {
        match op {
            Op::Paste(cut) => {
                for y in cut.y0..cut.y1 {
                    image[y * width + cut.x0..y * width + cut.x1].fill(true);
                }
            }
            Op::Mask(mask) => image.copy_from_slice(mask.partner_pixels()),
            _ => {}
        }
    }
    let mut shape = [1usize; D];
    shape[0] = ops.len();
    shape[D - 2] = height;
    shape[D - 1] = width;
    Tensor::from_data(TensorData::new(inside, shape), device)
}
