//! Mixing parameters given by hand: a draw made elsewhere (another library, a
//! saved run) replayed exactly, or a test's.

use super::MixParams;
use super::replay::{Op, Ops};
use crate::cutmix::CutBox;
use crate::error::MixError;
use crate::lambda::Lambda;

impl MixParams {
    /// Mixup with a given lambda and partners (`partners[i]` is mixed into sample
    /// `i`): `x * lambda + x[partners] * (1 - lambda)`. For replaying a draw made
    /// elsewhere, or for tests.
    ///
    /// # Errors
    /// [`MixError::InvalidLambda`], [`MixError::InvalidPartners`] (not a
    /// permutation), [`MixError::EmptyBatch`].
    ///
    /// ```
    /// use burn_mixup::{MixError, MixParams};
    /// let params = MixParams::blend(0.7, vec![1, 0, 2])?;
    /// assert!(params.is_mixed());
    /// assert_eq!(MixParams::blend(0.7, vec![0, 0, 1]).unwrap_err(),
    ///            MixError::InvalidPartners { partners: vec![0, 0, 1] });
    /// # Ok::<(), MixError>(())
    /// ```
    pub fn blend(lambda: f64, partners: Vec<usize>) -> Result<Self, MixError> {
        check_lambda(lambda)?;
        check_partners(&partners)?;
        Ok(Self::from_ops(
            partners,
            Lambda::Batch(lambda),
            Ops::Batch(Op::Blend(lambda)),
            None,
        ))
    }

    /// Mixup with one lambda per sample, as the `Elem` mode draws it.
    ///
    /// # Errors
    /// As [`blend`](Self::blend), plus [`MixError::LambdaLength`].
    ///
    /// ```
    /// use burn_mixup::{Lambda, MixParams};
    /// let params = MixParams::blend_per_sample(vec![0.2, 1.0], vec![1, 0])?;
    /// assert_eq!(params.lambda(), &Lambda::PerSample(vec![0.2, 1.0]));
    /// # Ok::<(), burn_mixup::MixError>(())
    /// ```
    pub fn blend_per_sample(lambdas: Vec<f64>, partners: Vec<usize>) -> Result<Self, MixError> {
        if lambdas.len() != partners.len() {
            return Err(MixError::LambdaLength {
                expected: partners.len(),
                got: lambdas.len(),
            });
        }
        for &lambda in &lambdas {
            check_lambda(lambda)?;
        }
        check_partners(&partners)?;
        let ops = lambdas.iter().map(|&l| Op::Blend(l)).collect();
        Ok(Self::from_ops(
            partners,
            Lambda::PerSample(lambdas),
            Ops::PerSample(ops),
            None,
        ))
    }

    /// CutMix with a given box and partners: every sample takes its partner's
    /// pixels inside `cut` (rows `y0..y1`, columns `x0..x1`) of `(height, width)`
    /// images, and lambda is the kept area. For replaying a box drawn elsewhere
    /// (torchvision's `CutMix` pairs sample `i` with `i - 1`).
    ///
    /// # Errors
    /// [`MixError::InvalidPartners`], [`MixError::EmptyBatch`],
    /// [`MixError::BoxOutsideImage`] for a box that does not fit the image.
    ///
    /// ```
    /// use burn_mixup::{CutBox, Lambda, MixParams};
    /// let cut = CutBox { y0: 0, y1: 2, x0: 1, x1: 3 };
    /// let params = MixParams::paste(cut, vec![2, 0, 1], (4, 4))?;
    /// assert_eq!(params.lambda(), &Lambda::Batch(0.75));
    /// assert_eq!(params.cut_box(1), Some(cut));
    /// # Ok::<(), burn_mixup::MixError>(())
    /// ```
    pub fn paste(
        cut: CutBox,
        partners: Vec<usize>,
        (height, width): (usize, usize),
    ) -> Result<Self, MixError> {
        check_partners(&partners)?;
        if cut.y0 > cut.y1 || cut.x0 > cut.x1 || cut.y1 > height || cut.x1 > width {
            return Err(MixError::BoxOutsideImage {
                cut,
                image: (height, width),
            });
        }
        let lambda = cut.kept_fraction(height, width);
        Ok(Self::from_ops(
            partners,
            Lambda::Batch(lambda),
            Ops::Batch(Op::Paste(cut)),
            Some((height, width)),
        ))
    }
}

pub(crate) fn check_lambda(lambda: f64) -> Result<(), MixError> {
    if lambda.is_finite() && (0.0..=1.0).contains(&lambda) {
        Ok(())
    } else {
        Err(MixError::InvalidLambda(lambda))
    }
}

fn check_partners(partners: &[usize]) -> Result<(), MixError> {
    if partners.is_empty() {
        return Err(MixError::EmptyBatch);
    }
    let mut seen = vec![false; partners.len()];
    let bijective = partners
        .iter()
        .all(|&i| i < seen.len() && !std::mem::replace(&mut seen[i], true));
    if bijective {
        Ok(())
    } else {
        Err(MixError::InvalidPartners {
            partners: partners.to_vec(),
        })
    }
}
