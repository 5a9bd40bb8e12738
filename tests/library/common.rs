//! Helpers shared by the integration tests: devices, fixture access, comparisons.

use burn::tensor::{Device, Int, Tensor, TensorData};
use burn_mixup::{BinaryCrossEntropyConfig, MixParams};
use serde_json::Value;

/// The library tests' device: burn-ndarray, the backend the crate's users asked the
/// tests to run on. Burn 0.22 deprecates burn-ndarray (burn-flex replaces it) but it
/// works, so the deprecation is allowed here, the one place that names it. Devices
/// are always explicit: `Device::default()` is the first enabled backend (or
/// `BURN_DEVICE`), which a feature or the environment can change under a test.
#[allow(deprecated)]
pub fn device() -> Device {
    Device::ndarray()
}

/// [`device`] with autodiff on: tensors created on it record gradients.
pub fn autodiff() -> Device {
    device().autodiff()
}

/// The PyTorch/timm reference values (a verbatim copy of shared/reference, see
/// tests/fixtures/README.md).
pub fn refs() -> Value {
    serde_json::from_str(include_str!("../fixtures/torch_refs.json"))
        .expect("fixture is valid JSON")
}

/// The second reference set (`tests/fixtures/torch_refs_v2.json`, made by
/// `tests/fixtures/make_refs_v2.py 777`).
pub fn refs_v2() -> Value {
    serde_json::from_str(include_str!("../fixtures/torch_refs_v2.json"))
        .expect("fixture is valid JSON")
}

/// A JSON array of numbers (nested to any depth) flattened, with its shape.
pub fn flat(value: &Value) -> (Vec<f64>, Vec<usize>) {
    fn walk(value: &Value, out: &mut Vec<f64>, shape: &mut Vec<usize>, depth: usize) {
        match value {
            Value::Array(items) => {
                if shape.len() == depth {
                    shape.push(items.len());
                }
                for item in items {
                    walk(item, out, shape, depth + 1);
                }
            }
            Value::Number(n) => out.push(n.as_f64().expect("number")),
            Value::String(s) => out.push(s.parse().expect("numeric string")),
            other => panic!("unexpected JSON value {other}"),
        }
    }
    let (mut out, mut shape) = (Vec::new(), Vec::new());
    walk(value, &mut out, &mut shape, 0);
    (out, shape)
}

pub fn floats<const D: usize>(value: &Value, device: &Device) -> Tensor<D> {
    let (values, shape) = flat(value);
    let values: Vec<f32> = values.into_iter().map(|v| v as f32).collect();
    Tensor::from_data(TensorData::new(values, shape), device)
}

pub fn ints(value: &Value, device: &Device) -> Tensor<1, Int> {
    let (values, shape) = flat(value);
    let values: Vec<i64> = values.into_iter().map(|v| v as i64).collect();
    Tensor::from_data(TensorData::new(values, shape), device)
}

pub fn to_vec<const D: usize>(tensor: Tensor<D>) -> Vec<f32> {
    tensor.try_into_vec_as::<f32>().expect("f32 data")
}

/// Integer tensor values as `i64` (flex stores `i32`, ndarray `i64`).
pub fn to_ints<const D: usize>(tensor: Tensor<D, Int>) -> Vec<i64> {
    tensor.try_into_vec_as::<i64>().expect("integer data")
}

/// |a - e| <= atol + rtol * |e| for every element, with a message naming the first
/// element that fails.
pub fn assert_close(actual: &[f32], expected: &[f64], rtol: f64, atol: f64, what: &str) {
    assert_eq!(actual.len(), expected.len(), "{what}: length");
    for (i, (&a, &e)) in actual.iter().zip(expected).enumerate() {
        let a = a as f64;
        assert!(
            a.is_finite() && (a - e).abs() <= atol + rtol * e.abs(),
            "{what}[{i}]: got {a}, expected {e} (rtol {rtol}, atol {atol})"
        );
    }
}

pub fn assert_scalar(actual: f32, expected: f64, rtol: f64, what: &str) {
    assert_close(&[actual], &[expected], rtol, 0.0, what);
}

/// Deterministic pseudo-random floats in [-scale, scale) (no RNG crate needed).
pub fn noise(len: usize, seed: u64, scale: f32) -> Vec<f32> {
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..len)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let unit = (state >> 40) as f32 / (1u64 << 24) as f32;
            (unit * 2.0 - 1.0) * scale
        })
        .collect()
}

/// `len` distinct values that include what arithmetic would damage and a selection
/// keeps: NaN, +inf, -inf, -0.0.
pub fn special_values(len: usize) -> Vec<f32> {
    let mut values = noise(len, 77, 5.0);
    for (i, v) in values.iter_mut().enumerate() {
        match i % 7 {
            0 => *v = f32::NAN,
            1 => *v = -0.0,
            2 => *v = f32::INFINITY,
            3 => *v = f32::NEG_INFINITY,
            _ => {}
        }
    }
    values
}

/// What [`check_replay`] compared.
pub struct Replayed {
    /// Boxes and FMix masks checked.
    pub regions: usize,
    /// Largest `|got - want|` of a blended value (0 without blends).
    pub blend_abs: f64,
    /// Largest `|got - want| / max(|want|, 1)` of a blended value.
    pub blend_scaled: f64,
}

/// Replays `params` on the host against `output` (`[B, channels, H, W]`, row-major):
/// inside sample `i`'s box or FMix mask the partner's bits (ResizeMix: the pixel
/// that nearest-neighbour resizing maps there, `floor(u * H / h)`), outside them and
/// in kept samples (lambda exactly 1) the input's bits, asserted bit for bit (NaN,
/// inf and -0.0 included). Blended samples are measured against
/// `x * l + p * (1 - l)` in f64 where that is finite (blends of inf/NaN follow IEEE
/// arithmetic) and their largest errors returned for the caller's tolerance.
pub fn check_replay(
    params: &MixParams,
    input: &[f32],
    output: &[f32],
    channels: usize,
    (height, width): (usize, usize),
) -> Replayed {
    let plane = height * width;
    let mut seen = Replayed {
        regions: 0,
        blend_abs: 0.0,
        blend_scaled: 0.0,
    };
    for i in 0..params.batch_size() {
        let j = params.partners()[i];
        let lambda = params.lambda().of_sample(i);
        let (mask, cut) = (params.fourier_mask(i), params.cut_box(i));
        seen.regions += (mask.is_some() || cut.is_some()) as usize;
        for c in 0..channels {
            for y in 0..height {
                for x in 0..width {
                    let at =
                        |s: usize, y: usize, x: usize| (s * channels + c) * plane + y * width + x;
                    let got = output[at(i, y, x)];
                    let from = if let Some(mask) = mask {
                        input[at(if mask.takes_partner(y, x) { j } else { i }, y, x)]
                    } else if let Some(cut) = cut {
                        match (cut.contains(y, x), params.resizes(i)) {
                            (false, _) => input[at(i, y, x)],
                            (true, false) => input[at(j, y, x)],
                            (true, true) => {
                                let sy = (y - cut.y0) * height / (cut.y1 - cut.y0);
                                let sx = (x - cut.x0) * width / (cut.x1 - cut.x0);
                                input[at(j, sy, sx)]
                            }
                        }
                    } else if lambda == 1.0 {
                        input[at(i, y, x)]
                    } else {
                        let want = input[at(i, y, x)] as f64 * lambda
                            + input[at(j, y, x)] as f64 * (1.0 - lambda);
                        if want.is_finite() {
                            let error = (got as f64 - want).abs();
                            seen.blend_abs = seen.blend_abs.max(error);
                            seen.blend_scaled = seen.blend_scaled.max(error / want.abs().max(1.0));
                        }
                        continue;
                    };
                    assert_eq!(
                        got.to_bits(),
                        from.to_bits(),
                        "sample {i} (partner {j}) channel {c} pixel ({y}, {x}): {got} vs {from}"
                    );
                }
            }
        }
    }
    seen
}

/// timm's `BinaryCrossEntropy` settings of one `j_binary_cross_entropy` result:
/// smoothing, `target_threshold`, and `pos_weight` for every class.
pub fn timm_bce_config(result: &Value, classes: usize) -> BinaryCrossEntropyConfig {
    BinaryCrossEntropyConfig::new()
        .with_smoothing(result["smoothing"].as_f64().unwrap())
        .with_target_threshold(result["target_threshold"].as_f64())
        .with_pos_weight(
            result["pos_weight"]
                .as_f64()
                .map(|p| vec![p as f32; classes]),
        )
}

/// Every element equal to the reference rounded to f32, bit for bit: for values
/// the reference computed in float32 (serde_json's parse of the decimal may differ
/// from the double in its last bit; rounding to f32 removes that).
pub fn assert_f32_exact(actual: &[f32], expected: &[f64], what: &str) {
    assert_eq!(actual.len(), expected.len(), "{what}: length");
    for (i, (&a, &e)) in actual.iter().zip(expected).enumerate() {
        assert_eq!(
            a.to_bits(),
            (e as f32).to_bits(),
            "{what}[{i}]: got {a}, expected {e} as f32"
        );
    }
}
