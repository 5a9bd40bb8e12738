//! The closed forms behind [`LabelSmoothingCrossEntropy`]: every loss from one
//! log-sum-exp per row of max-shifted logits, never from a materialised `[B, K]`
//! target matrix (except for probability targets, which are one).
//!
//! **Reproducibility rule:** no tensor of the graph feeds more than two operations.
//! burn-autodiff adds the gradients arriving at a node in an order that may differ
//! between runs; two terms add the same either way, three do not (floating-point
//! addition is not associative).

use burn::tensor::{Bool, Device, Int, Tensor, TensorData};

use super::{LabelSmoothingCrossEntropy, SmoothingConvention};
use crate::error::LossError;

/// The hard targets a loss is taken against: one set, or two mixed by lambda.
// Built once per loss call and consumed at once: boxing the larger variants (Burn
// 0.22's tensors are opaque dispatch handles) would only add an allocation.
#[allow(clippy::large_enum_variant)]
pub(crate) enum HardTargets {
    One(Tensor<1, Int>),
    /// `lambda * onehot(a) + (1 - lambda) * onehot(b)`, one lambda for the batch.
    Pair {
        a: Tensor<1, Int>,
        b: Tensor<1, Int>,
        lambda: f64,
    },
    /// As `Pair`, with one lambda per sample (`[B]`): probability targets.
    PerSample {
        a: Tensor<1, Int>,
        b: Tensor<1, Int>,
        lambda: Tensor<1>,
    },
    /// One lambda per row (`[B]`, the pixels of segmentation maps), each target set
    /// normalised on its own: `sum_i lambda_i l_i(a) / N(a) + sum_i (1 - lambda_i)
    /// l_i(b) / N(b)`, `N` being PyTorch's mean denominator of that set (its kept
    /// rows' class weights). A constant lambda gives `Pair` exactly; without class
    /// weights or an ignore index it is `PerSample`.
    PerRow {
        a: Tensor<1, Int>,
        b: Tensor<1, Int>,
        lambda: Tensor<1>,
    },
}

impl HardTargets {
    fn len(&self) -> usize {
        match self {
            HardTargets::One(y) => y.dims()[0],
            HardTargets::Pair { a, .. }
            | HardTargets::PerSample { a, .. }
            | HardTargets::PerRow { a, .. } => a.dims()[0],
        }
    }
}

/// The per-row pieces every cross-entropy here is made of: one log-sum-exp per row,
/// computed once and shared by all the targets of a batch.
struct LogitSummary {
    /// The logits, for the second shifted copy (see [`LogitSummary::centered`]).
    logits: Tensor<2>,
    /// `max(z)`, detached, `[B, 1]`.
    max: Tensor<2>,
    /// `s = z - max(z)`, `[B, K]`; feeds `exp` and one gather (or product).
    shifted: Tensor<2>,
    /// `log(sum_k exp(s))`, `[B, 1]`.
    lse: Tensor<2>,
}

impl LogitSummary {
    fn new(logits: Tensor<2>) -> Self {
        // The max shift only guards exp() against overflow; detaching it keeps a
        // gradient path (whose contribution is exactly zero) out of the graph.
        let max = logits.clone().detach().max_dim(1);
        let shifted = logits.clone() - max.clone();
        let lse = shifted.clone().exp().sum_dim(1).log();
        Self {
            logits,
            max,
            shifted,
            lse,
        }
    }

    fn dims(&self) -> [usize; 2] {
        self.shifted.dims()
    }

    /// `sum_k w_k (lse - s_k) = W * lse - sum_k w_k s_k`, `[B, 1]`: the uniform part
    /// of a class-weighted smoothed loss (`lse` is passed in, so the caller counts
    /// its uses).
    fn weighted_uniform_term(&self, lse: Tensor<2>, weights: &Tensor<1>) -> Tensor<2> {
        let [_, num_classes] = self.dims();
        let weighted_sum = self
            .centered()
            .matmul(weights.clone().reshape([num_classes, 1]));
        let total_weight = weights.clone().sum().reshape([1, 1]);
        lse * total_weight - weighted_sum
    }

    /// A second `z - max(z)`, for the class sums. Taking the sums on shifted values
    /// keeps the digits that `sum_k z_k - K * max` loses when the logits share a
    /// large offset; taking them on a second copy keeps `shifted` at two uses.
    fn centered(&self) -> Tensor<2> {
        self.logits.clone() - self.max.clone()
    }
}

/// How the per-sample losses of one call are combined.
#[derive(Clone, Copy, PartialEq)]
pub(crate) enum Reduce {
    Mean,
    Sum,
    BatchMean,
    None,
}

impl LabelSmoothingCrossEntropy {
    /// The mixed-batch loss behind [`MixedBatch::loss`](crate::MixedBatch::loss).
    pub(crate) fn mixed_loss(
        &self,
        logits: Tensor<2>,
        targets: HardTargets,
        reduced: bool,
    ) -> Result<Tensor<1>, LossError> {
        let reduce = if reduced {
            self.configured()
        } else {
            Reduce::None
        };
        self.hard_target_loss(logits, targets, reduce)
    }

    /// Checks that the logits fit this loss (number of classes against the weights
    /// and the convention) and returns the target coefficients `(a, u)`.
    fn coefficients_for(&self, num_classes: usize) -> Result<(f64, f64), LossError> {
        if let Some(weights) = &self.weights {
            let [count] = weights.dims();
            if count != num_classes {
                return Err(LossError::WeightCount {
                    logits: num_classes,
                    weights: count,
                });
            }
        }
        if self.convention == SmoothingConvention::OffTarget
            && num_classes < 2
            && self.smoothing > 0.0
        {
            return Err(LossError::TooFewClasses(num_classes));
        }
        if self.smoothing == 0.0 {
            // Avoid 0/0 for the off-target convention with K = 1.
            return Ok((1.0, 0.0));
        }
        Ok(self.convention.coefficients(self.smoothing, num_classes))
    }

    pub(super) fn hard_target_loss(
        &self,
        logits: Tensor<2>,
        targets: HardTargets,
        reduce: Reduce,
    ) -> Result<Tensor<1>, LossError> {
        let [batch, num_classes] = logits.dims();
        if batch != targets.len() {
            return Err(LossError::BatchSizeMismatch {
                logits: batch,
                targets: targets.len(),
            });
        }
        let coefficients = self.coefficients_for(num_classes)?;
        let summary = LogitSummary::new(logits);
        match targets {
            HardTargets::PerSample { .. } if self.ignore_index.is_some() => {
                Err(LossError::IgnoreIndexWithProbabilities {
                    ignore_index: self.ignore_index.expect("checked by the guard"),
                })
            }
            HardTargets::PerSample { a, b, lambda } if self.weights.is_some() => {
                Ok(self.weighted_per_sample_loss(&summary, coefficients, a, b, lambda, reduce))
            }
            targets if self.weights.is_some() || self.ignore_index.is_some() => {
                Ok(self.reweighted_loss(&summary, coefficients, targets, reduce))
            }
            targets => Ok(unweighted_loss(&summary, coefficients, targets, reduce)),
        }
    }

    /// Class weights and/or an ignore index, one or two target sets with one lambda:
    /// each set is normalised on its own, exactly as separate calls of PyTorch's
    /// criterion would be, then the sets are mixed by `[lambda, 1 - lambda]`. All
    /// sets are processed together as `[B, J]` columns (one gather).
    fn reweighted_loss(
        &self,
        summary: &LogitSummary,
        (onehot_coef, uniform_coef): (f64, f64),
        targets: HardTargets,
        reduce: Reduce,
    ) -> Tensor<1> {
        let [batch, _] = summary.dims();
        let device = summary.shifted.device();
        let column = |y: Tensor<1, Int>| y.reshape([batch, 1]);
        // The sets' weights: a `[1, J]` row for the batch, or `[B, 2]` per row.
        let (columns, mix) = match targets {
            HardTargets::One(y) => (column(y), row_of(&[1.0], &device)),
            HardTargets::Pair { a, b, lambda } => (
                Tensor::cat(vec![column(a), column(b)], 1),
                row_of(&[lambda, 1.0 - lambda], &device),
            ),
            HardTargets::PerRow { a, b, lambda } => {
                let lambda = lambda.reshape([batch, 1]);
                (
                    Tensor::cat(vec![column(a), column(b)], 1),
                    Tensor::cat(vec![lambda.clone(), lambda.neg() + 1.0], 1),
                )
            }
            HardTargets::PerSample { .. } => {
                unreachable!("per-sample lambda never reaches the reweighted path")
            }
        };
        let [_, sets] = columns.dims();

        let ignored: Option<Tensor<2, Bool>> = self
            .ignore_index
            .map(|index| columns.clone().equal_elem(index));
        // Ignored samples may carry any value (PyTorch's default is -100): point them
        // at class 0 so the gathers stay in bounds, then zero their loss.
        let safe = match &ignored {
            Some(mask) => columns.mask_fill(mask.clone(), 0),
            None => columns,
        };
        let gathered = summary.shifted.clone().gather(1, safe.clone());
        let lse = summary.lse.clone();

        let (mut loss, target_weight) = match &self.weights {
            None => {
                // lse - a * s_y - u * sum_k s_k
                let mut loss = lse - gathered * onehot_coef;
                if uniform_coef != 0.0 {
                    loss = loss - summary.centered().sum_dim(1) * uniform_coef;
                }
                (loss, None)
            }
            Some(weights) => {
                // a w_y (lse - s_y) + u (W lse - sum_k w_k s_k)
                let target_weight = weights
                    .clone()
                    .select(0, safe.reshape([batch * sets]))
                    .reshape([batch, sets]);
                let mut loss = (lse.clone() - gathered) * target_weight.clone() * onehot_coef;
                if uniform_coef != 0.0 {
                    loss = loss + summary.weighted_uniform_term(lse, weights) * uniform_coef;
                }
                (loss, Some(target_weight))
            }
        };
        // The weight each sample carries in the mean: w_y, 0 if ignored.
        let mean_weight = match (ignored, target_weight) {
            (Some(mask), weight) => {
                loss = loss.mask_fill(mask.clone(), 0.0);
                let kept = mask.bool_not().float();
                Some(match weight {
                    Some(weight) => weight * kept,
                    None => kept,
                })
            }
            (None, weight) => weight,
        };
        // `sum_j mix_j * S_j / N_j` as one full sum: the denominators carry no
        // gradient, so they scale the rows before the sum.
        let weighted = loss * mix;
        match reduce {
            Reduce::None => weighted.sum_dim(1).reshape([batch]),
            Reduce::Sum => weighted.sum(),
            Reduce::BatchMean => weighted.sum() / batch as f64,
            Reduce::Mean => {
                let denominator = column_sums(
                    mean_weight.expect("the reweighted path has weights or an ignore index"),
                );
                (weighted / denominator).sum()
            }
        }
    }

    /// Per-sample lambda with class weights: PyTorch's probability-target
    /// cross-entropy on `lambda_i * onehot(a_i) + (1 - lambda_i) * onehot(b_i)`,
    /// without building that `[B, K]` matrix. The mean divides by the batch size.
    fn weighted_per_sample_loss(
        &self,
        summary: &LogitSummary,
        (onehot_coef, uniform_coef): (f64, f64),
        a: Tensor<1, Int>,
        b: Tensor<1, Int>,
        lambda: Tensor<1>,
        reduce: Reduce,
    ) -> Tensor<1> {
        let [batch, _] = summary.dims();
        let weights = self.weights.as_ref().expect("called with class weights");
        let columns = Tensor::cat(vec![a.reshape([batch, 1]), b.reshape([batch, 1])], 1);
        let gathered = summary.shifted.clone().gather(1, columns.clone());
        let target_weight = weights
            .clone()
            .select(0, columns.reshape([batch * 2]))
            .reshape([batch, 2]);
        let lambda = lambda.reshape([batch, 1]);
        let mix = Tensor::cat(vec![lambda.clone(), lambda.neg() + 1.0], 1);
        let lse = summary.lse.clone();
        // sum_j c_j a w_{y_j} (lse - s_{y_j}) + u (W lse - sum_k w_k s_k)
        let mut loss = ((lse.clone() - gathered) * target_weight * mix).sum_dim(1) * onehot_coef;
        if uniform_coef != 0.0 {
            loss = loss + summary.weighted_uniform_term(lse, weights) * uniform_coef;
        }
        reduce_rows(loss, reduce)
    }

    pub(super) fn probability_loss(
        &self,
        logits: Tensor<2>,
        targets: Tensor<2>,
        reduce: Reduce,
    ) -> Result<Tensor<1>, LossError> {
        if logits.dims() != targets.dims() {
            return Err(LossError::ShapeMismatch {
                logits: logits.dims(),
                targets: targets.dims(),
            });
        }
        if let Some(ignore_index) = self.ignore_index {
            return Err(LossError::IgnoreIndexWithProbabilities { ignore_index });
        }
        let [_, num_classes] = logits.dims();
        let (onehot_coef, uniform_coef) = self.coefficients_for(num_classes)?;
        let summary = LogitSummary::new(logits);
        let mut q = targets;
        if uniform_coef != 0.0 {
            q = q * onehot_coef + uniform_coef;
        }
        if let Some(weights) = &self.weights {
            q = q * weights.clone().reshape([1, num_classes]);
        }
        // sum_k q_k (lse - s_k) = lse * sum_k q_k - sum_k q_k s_k: exact even for
        // targets that do not sum to one.
        let mass = q.clone().sum_dim(1);
        let dot = (q * summary.shifted).sum_dim(1);
        Ok(reduce_rows(summary.lse * mass - dot, reduce))
    }
}

/// A `[1, n]` row of coefficients, built on the host in f64 and cast once.
fn row_of(values: &[f64], device: &Device) -> Tensor<2> {
    let values: Vec<f32> = values.iter().map(|&v| v as f32).collect();
    let len = values.len();
    Tensor::from_data(TensorData::new(values, [1, len]), device)
}

/// `[N, J] -> [1, J]`, the sum of each column. burn-ndarray reduces a tall tensor
/// along its first axis slowly (`sum_dim(0)`: 3.6 ms for `[65536, 1]` against 8 us
/// for the whole sum; 0.32 ms as a product with a row of ones for `[65536, 2]`;
/// measured on 2026-12-05 with single-op functions added to `benches/targets.rs` for
/// the purpose, then removed), and a segmentation batch has a row per pixel.
fn column_sums(values: Tensor<2>) -> Tensor<2> {
    let [rows, columns] = values.dims();
    if columns == 1 {
        values.sum().reshape([1, 1])
    } else {
        Tensor::<2>::ones([1, rows], &values.device()).matmul(values)
    }
}

/// Reduces `[B, 1]` per-sample losses where every sample counts once.
fn reduce_rows(loss: Tensor<2>, reduce: Reduce) -> Tensor<1> {
    let [batch, _] = loss.dims();
    match reduce {
        Reduce::Mean | Reduce::BatchMean => loss.mean(),
        Reduce::Sum => loss.sum(),
        Reduce::None => loss.reshape([batch]),
    }
}

/// The loss without class weights or ignore index, for one target set or a mixed
/// pair, as ONE expression over `[B, 1]`:
/// `lse - u * sum_k s_k - a * sum_j c_j * s_{y_j}` (with `sum_j c_j = 1`), reduced
/// once. At small shapes the cost is the number of autodiff nodes, so nothing is
/// computed twice and nothing is reshaped before the reduction.
fn unweighted_loss(
    summary: &LogitSummary,
    (onehot_coef, uniform_coef): (f64, f64),
    targets: HardTargets,
    reduce: Reduce,
) -> Tensor<1> {
    let [batch, _] = summary.dims();
    let column = |y: Tensor<1, Int>| y.reshape([batch, 1]);
    // One gather for all target sets (the two-uses rule).
    let target_term = match targets {
        HardTargets::One(y) => summary.shifted.clone().gather(1, column(y)) * onehot_coef,
        HardTargets::Pair { a, b, lambda } => {
            let both = summary
                .shifted
                .clone()
                .gather(1, Tensor::cat(vec![column(a), column(b)], 1));
            let coefficients = row_of(
                &[onehot_coef * lambda, onehot_coef * (1.0 - lambda)],
                &both.device(),
            );
            (both * coefficients).sum_dim(1)
        }
        HardTargets::PerSample { a, b, lambda } | HardTargets::PerRow { a, b, lambda } => {
            let both = summary
                .shifted
                .clone()
                .gather(1, Tensor::cat(vec![column(a), column(b)], 1));
            let lambda = lambda.reshape([batch, 1]);
            let coefficients =
                Tensor::cat(vec![lambda.clone(), lambda.neg() + 1.0], 1) * onehot_coef;
            (both * coefficients).sum_dim(1)
        }
    };
    let mut loss = summary.lse.clone() - target_term;
    if uniform_coef != 0.0 {
        loss = loss - summary.centered().sum_dim(1) * uniform_coef;
    }
    reduce_rows(loss, reduce)
}
