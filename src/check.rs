//! Host-side checks of targets before they become tensors: class labels, the
//! labels of segmentation maps (with a void label), dense targets. A bad value
//! gives an error naming where it is, instead of an out-of-bounds gather on the
//! device (which some backends do not even detect) or a silently wrong loss.

use crate::error::MixError;

/// Checks on the host that every label is a valid class index in `0..num_classes`.
///
/// Batchers call this before building the target tensor: a bad label then gives an
/// error naming its position and value, instead of an out-of-bounds gather on the
/// device (which some backends do not even detect). Accepts any integer type that
/// converts losslessly to `i64` (`u8`, `i32`, `i64`, `u32`, ...) and `usize`.
///
/// # Errors
/// [`MixError::TargetOutOfRange`] for the first bad label,
/// [`MixError::InvalidNumClasses`] for `num_classes == 0`.
///
/// ```
/// use burn_mixup::{check_targets, MixError};
///
/// assert!(check_targets(&[0u8, 9, 4], 10).is_ok());
/// assert_eq!(
///     check_targets(&[0i64, 3, 12], 10),
///     Err(MixError::TargetOutOfRange { position: 2, value: 12, num_classes: 10 })
/// );
/// assert!(check_targets(&[-1i64], 10).is_err());
/// ```
pub fn check_targets<T>(targets: &[T], num_classes: usize) -> Result<(), MixError>
where
    T: Copy + TryInto<i64>,
{
    if num_classes == 0 {
        return Err(MixError::InvalidNumClasses(num_classes));
    }
    for (position, &target) in targets.iter().enumerate() {
        // A value too large for i64 is certainly out of range: report it saturated.
        let value = target.try_into().unwrap_or(i64::MAX);
        if value < 0 || value as u64 >= num_classes as u64 {
            return Err(MixError::TargetOutOfRange {
                position,
                value,
                num_classes,
            });
        }
    }
    Ok(())
}

/// Checks the labels of segmentation maps `[B, H, W]` (row-major, as
/// `Tensor::<3, Int>::to_data` gives them): every pixel is a class in
/// `0..num_classes` or the void label `ignore_index`, wherever that lies (255,
/// PyTorch's default -100, or a class index), as PyTorch's `cross_entropy` accepts
/// them.
///
/// # Errors
/// [`MixError::MapLabelOutOfRange`] for the first bad pixel, naming its map, row
/// and column; [`MixError::InvalidNumClasses`] for `num_classes == 0`;
/// [`MixError::TargetDataLength`] when `labels` does not fill `[B, H, W]`.
///
/// ```
/// use burn_mixup::{check_maps, MixError};
///
/// // Two 2x2 maps, 3 classes, 255 = void.
/// let maps = [0u8, 1, 255, 2, /* map 1: */ 2, 2, 7, 0];
/// assert_eq!(
///     check_maps(&maps, [2, 2, 2], 3, Some(255)),
///     Err(MixError::MapLabelOutOfRange {
///         sample: 1, y: 1, x: 0, value: 7, num_classes: 3, ignore_index: Some(255),
///     })
/// );
/// assert!(check_maps(&maps[..4], [1, 2, 2], 3, Some(255)).is_ok());
/// assert!(check_maps(&maps[..4], [1, 2, 2], 3, None).is_err()); // 255 is no class
/// assert_eq!(check_maps(&maps, [2, 2, 3], 3, Some(255)).unwrap_err().to_string(),
///            "8 target values do not fill shape [2, 2, 3]");
/// ```
pub fn check_maps<T>(
    labels: &[T],
    [batch, height, width]: [usize; 3],
    num_classes: usize,
    ignore_index: Option<i64>,
) -> Result<(), MixError>
where
    T: Copy + TryInto<i64>,
{
    if num_classes == 0 {
        return Err(MixError::InvalidNumClasses(num_classes));
    }
    if labels.len() != batch * height * width {
        return Err(MixError::TargetDataLength {
            values: labels.len(),
            shape: vec![batch, height, width],
        });
    }
    for (position, &label) in labels.iter().enumerate() {
        let value = label.try_into().unwrap_or(i64::MAX);
        let is_class = value >= 0 && (value as u64) < num_classes as u64;
        if !is_class && Some(value) != ignore_index {
            let plane = height * width;
            return Err(MixError::MapLabelOutOfRange {
                sample: position / plane,
                y: position % plane / width,
                x: position % width,
                value,
                num_classes,
                ignore_index,
            });
        }
    }
    Ok(())
}

/// Checks dense targets `[B, K]` (row-major): every value finite and in [0, 1]
/// (multi-label indicators, one-hot or soft labels).
///
/// # Errors
/// [`MixError::InvalidDenseTarget`] for the first bad value, with its row and class;
/// [`MixError::TargetDataLength`] when `values` is not whole rows of `num_classes`.
///
/// ```
/// use burn_mixup::{check_dense_targets, MixError};
///
/// assert!(check_dense_targets(&[1.0, 0.0, 1.0, 0.5, 0.5, 0.0], 3).is_ok());
/// assert!(check_dense_targets(&[1.0, 0.0, 1.0, 0.5], 3).is_err()); // not whole rows
/// assert_eq!(
///     check_dense_targets(&[1.0, 0.0, f32::NAN, 0.0], 2).unwrap_err().to_string(),
///     "dense target [1, 0] is NaN: targets must be finite and in [0, 1]"
/// );
/// ```
pub fn check_dense_targets(values: &[f32], num_classes: usize) -> Result<(), MixError> {
    if num_classes == 0 {
        return Err(MixError::InvalidNumClasses(num_classes));
    }
    if !values.len().is_multiple_of(num_classes) {
        return Err(MixError::TargetDataLength {
            values: values.len(),
            shape: vec![values.len() / num_classes + 1, num_classes],
        });
    }
    match values
        .iter()
        .position(|v| !(v.is_finite() && (0.0..=1.0).contains(v)))
    {
        Some(position) => Err(MixError::InvalidDenseTarget {
            row: position / num_classes,
            class: position % num_classes,
            value: values[position] as f64,
        }),
        None => Ok(()),
    }
}
