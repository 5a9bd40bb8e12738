//! The model: an MLP on the flattened 8x8 image, 64 -> 128 -> 128 -> 10 with ReLU.
//!
//! Its weights are drawn on the host from the run's seed, with PyTorch's default
//! `nn.Linear` distribution (weight and bias uniform in `±1/sqrt(fan_in)`): a run is
//! a function of its seed alone whatever else the process does (Burn 0.22 keeps one
//! generator per backend per process, shared by every thread), and the PyTorch twin
//! (`scripts/digits_twin.py`) starts from the same distribution.

use burn::config::Config;
use burn::module::{Module, Param};
use burn::nn::Linear;
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor, TensorData};
use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;
use rand_distr::{Distribution, Uniform};

use crate::data::{CLASSES, PIXELS};

#[derive(Config, Debug)]
pub struct MlpConfig {
    /// Width of the two hidden layers.
    #[config(default = 128)]
    pub hidden: usize,
}

#[derive(Module, Debug)]
pub struct Mlp {
    layers: Vec<Linear>,
}

/// A `Linear` of `input -> output` with PyTorch's default initialisation, drawn
/// from `rng`.
fn linear(input: usize, output: usize, rng: &mut Xoshiro256PlusPlus, device: &Device) -> Linear {
    let bound = 1.0 / (input as f64).sqrt();
    let uniform = Uniform::new_inclusive(-bound, bound).expect("a positive bound");
    let mut draw = |n: usize| -> Vec<f32> { (0..n).map(|_| uniform.sample(rng) as f32).collect() };
    let weight = TensorData::new(draw(input * output), [input, output]);
    let bias = TensorData::new(draw(output), [output]);
    Linear {
        weight: Param::from_data(weight, device),
        bias: Some(Param::from_data(bias, device)),
    }
}

impl MlpConfig {
    /// The MLP on `device`, its weights a function of `seed`.
    pub fn init(&self, seed: u64, device: &Device) -> Mlp {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed ^ 0x6D6C_7000);
        let widths = [PIXELS, self.hidden, self.hidden, CLASSES];
        Mlp {
            layers: widths
                .windows(2)
                .map(|w| linear(w[0], w[1], &mut rng, device))
                .collect(),
        }
    }
}

impl Mlp {
    /// Logits `[B, 10]` of images `[B, 1, 8, 8]`.
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        let [batch, ..] = images.dims();
        let mut x = images.reshape([batch, PIXELS]);
        let last = self.layers.len() - 1;
        for (i, layer) in self.layers.iter().enumerate() {
            x = layer.forward(x);
            if i < last {
                x = relu(x);
            }
        }
        x
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_are_a_function_of_the_seed_in_pytorchs_range() {
        let device = Device::flex();
        let weights = |seed| {
            MlpConfig::new().init(seed, &device).layers[0]
                .weight
                .val()
                .try_into_vec_as::<f32>()
                .unwrap()
        };
        let (a, b) = (weights(1), weights(1));
        assert_eq!(a, b);
        assert_ne!(a, weights(2));
        let bound = 1.0 / 8.0; // 1 / sqrt(64)
        assert!(a.iter().all(|w| w.abs() <= bound));
        let mean = a.iter().sum::<f32>() / a.len() as f32;
        assert!(mean.abs() < 0.01, "{mean}");
        let model = MlpConfig::new().init(0, &device);
        assert_eq!(
            model.num_params(),
            64 * 128 + 128 + 128 * 128 + 128 + 128 * 10 + 10
        );
        assert_eq!(
            model.forward(Tensor::zeros([3, 1, 8, 8], &device)).dims(),
            [3, 10]
        );
    }
}
