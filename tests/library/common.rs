//! Helpers shared by the integration tests: backends, fixture access, comparisons.

use burn::backend::Autodiff;
use burn::tensor::{Int, Tensor, TensorData};
use burn_ndarray::NdArray;
use serde_json::Value;

pub type B = NdArray<f32>;
pub type AD = Autodiff<B>;

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

pub fn device() -> burn_ndarray::NdArrayDevice {
    Default::default()
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

pub fn floats<BK: burn::tensor::backend::Backend, const D: usize>(value: &Value) -> Tensor<BK, D> {
    let (values, shape) = flat(value);
    let values: Vec<f32> = values.into_iter().map(|v| v as f32).collect();
    Tensor::from_data(TensorData::new(values, shape), &Default::default())
}

pub fn ints<BK: burn::tensor::backend::Backend>(value: &Value) -> Tensor<BK, 1, Int> {
    let (values, shape) = flat(value);
    let values: Vec<i64> = values.into_iter().map(|v| v as i64).collect();
    Tensor::from_data(TensorData::new(values, shape), &Default::default())
}

pub fn to_vec<BK: burn::tensor::backend::Backend, const D: usize>(
    tensor: Tensor<BK, D>,
) -> Vec<f32> {
    tensor
        .into_data()
        .convert::<f32>()
        .into_vec::<f32>()
        .expect("f32 data")
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
