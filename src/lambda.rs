//! [`Lambda`]: the mixing coefficient of a batch, one for all samples or one each.

use burn::tensor::{Device, Tensor, TensorData};

/// The mixing coefficient of a batch: one for the whole batch, or one per sample
/// (CutMix boxes, and the `Pair`/`Elem` modes of [`Mixer`](crate::Mixer)).
///
/// `lambda[i]` weights sample `i`'s own content and target; `1 - lambda[i]` its
/// partner's.
///
/// ```
/// use burn_mixup::Lambda;
/// assert_eq!(Lambda::Batch(0.3).mean(), 0.3);
/// assert_eq!(Lambda::PerSample(vec![0.25, 0.75]).mean(), 0.5);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum Lambda {
    /// One lambda for every sample.
    Batch(f64),
    /// One lambda per sample.
    PerSample(Vec<f64>),
}

impl Lambda {
    /// The mean lambda (the value itself for [`Lambda::Batch`]).
    ///
    /// ```
    /// assert_eq!(burn_mixup::Lambda::Batch(1.0).mean(), 1.0);
    /// ```
    pub fn mean(&self) -> f64 {
        match self {
            Lambda::Batch(lambda) => *lambda,
            Lambda::PerSample(values) => values.iter().sum::<f64>() / values.len().max(1) as f64,
        }
    }

    /// Lambda of sample `index`.
    ///
    /// # Panics
    /// If `index` is out of range for [`Lambda::PerSample`].
    ///
    /// ```
    /// use burn_mixup::Lambda;
    /// assert_eq!(Lambda::Batch(0.5).of_sample(3), 0.5);
    /// assert_eq!(Lambda::PerSample(vec![0.1, 0.9]).of_sample(1), 0.9);
    /// ```
    pub fn of_sample(&self, index: usize) -> f64 {
        match self {
            Lambda::Batch(lambda) => *lambda,
            Lambda::PerSample(values) => values[index],
        }
    }

    /// Whether any sample keeps less than all of its own target (lambda < 1).
    ///
    /// ```
    /// use burn_mixup::Lambda;
    /// assert!(!Lambda::PerSample(vec![1.0, 1.0]).is_mixed());
    /// assert!(Lambda::Batch(0.7).is_mixed());
    /// ```
    pub fn is_mixed(&self) -> bool {
        match self {
            Lambda::Batch(lambda) => *lambda != 1.0,
            Lambda::PerSample(values) => values.iter().any(|&v| v != 1.0),
        }
    }
}

/// Per-sample lambdas as a `[B]` tensor (cast to f32 once, on the host).
pub(crate) fn lambda_tensor(values: &[f64], device: &Device) -> Tensor<1> {
    let values: Vec<f32> = values.iter().map(|&v| v as f32).collect();
    let len = values.len();
    Tensor::from_data(TensorData::new(values, [len]), device)
}
