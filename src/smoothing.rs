//! [`SmoothingConvention`]: which target distribution a label-smoothing factor
//! stands for, shared by the cross-entropy, the soft targets and the BCE.

use burn::config::Config;
use burn::tensor::{IndexingUpdateOp, Int, Tensor};

/// Which target distribution a smoothing factor `eps` stands for, with `K` classes.
///
/// ```
/// use burn_mixup::SmoothingConvention;
/// // On-target and off-target probabilities for eps = 0.1, K = 10:
/// let (on, off) = SmoothingConvention::Uniform.target_probabilities(0.1, 10);
/// assert!((on - 0.91).abs() < 1e-12 && (off - 0.01).abs() < 1e-12);
/// let (on, off) = SmoothingConvention::OffTarget.target_probabilities(0.1, 10);
/// assert!((on - 0.9).abs() < 1e-12 && (off - 0.1 / 9.0).abs() < 1e-12);
/// ```
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum SmoothingConvention {
    /// `q = (1 - eps) * onehot + eps / K`: PyTorch's `label_smoothing`, timm, Keras and
    /// Burn's `CrossEntropyLoss` all use this one. The target keeps `1 - eps + eps/K`.
    Uniform,
    /// `q = 1 - eps` on the target and `eps / (K - 1)` on every other class: the
    /// formulation of the common tutorial code (and of Szegedy et al.'s wording).
    /// Needs `K >= 2`.
    OffTarget,
}

// Written out because `#[derive(Config)]` on an enum rejects `#[default]`.
#[allow(clippy::derivable_impls)]
impl Default for SmoothingConvention {
    fn default() -> Self {
        SmoothingConvention::Uniform
    }
}

impl SmoothingConvention {
    /// The on-target and off-target probabilities of the smoothed distribution.
    ///
    /// ```
    /// use burn_mixup::SmoothingConvention;
    /// let (on, off) = SmoothingConvention::Uniform.target_probabilities(0.0, 5);
    /// assert_eq!((on, off), (1.0, 0.0));
    /// ```
    pub fn target_probabilities(&self, eps: f64, num_classes: usize) -> (f64, f64) {
        let (onehot, uniform) = self.coefficients(eps, num_classes);
        (onehot + uniform, uniform)
    }

    /// `(a, u)` with `q = a * onehot + u * ones`.
    pub(crate) fn coefficients(&self, eps: f64, num_classes: usize) -> (f64, f64) {
        let k = num_classes as f64;
        match self {
            SmoothingConvention::Uniform => (1.0 - eps, eps / k),
            SmoothingConvention::OffTarget => {
                let off = eps / (k - 1.0);
                (1.0 - eps - off, off)
            }
        }
    }
}

/// Whether `eps` is a usable smoothing factor: finite and in [0, 1).
pub(crate) fn is_valid_smoothing(eps: f64) -> bool {
    eps.is_finite() && (0.0..1.0).contains(&eps)
}

/// One-hot rows `[B, K]`: `on` at each target, `off` elsewhere (timm's `one_hot`).
///
/// Built on the device with a scatter (Burn's `Tensor::one_hot` reads the targets
/// back to the host). Exact ones are scattered, then `on` and `off` are written as
/// given: adding `on - off` to `off` would round (0.1 + 0.8 != 0.9 in f32) where
/// timm's `scatter_` does not.
pub(crate) fn smoothed_one_hot(
    targets: Tensor<1, Int>,
    num_classes: usize,
    on: f64,
    off: f64,
) -> Tensor<2> {
    let [batch] = targets.dims();
    let device = targets.device();
    let hits = Tensor::<2>::zeros([batch, num_classes], &device).scatter(
        1,
        targets.reshape([batch, 1]),
        Tensor::ones([batch, 1], &device),
        IndexingUpdateOp::Add,
    );
    Tensor::<2>::full([batch, num_classes], off, &device).mask_fill(hits.equal_elem(1.0), on)
}
