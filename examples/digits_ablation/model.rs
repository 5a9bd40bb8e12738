//! The models: for the digits an MLP on the flattened 8x8 image, 64 -> 128 -> 128
//! -> 10 with ReLU; for Fashion-MNIST a small CNN with BatchNorm (three 3x3
//! convolutions of `width`, `2 width`, `4 width` channels, each followed by
//! BatchNorm and ReLU, the first two by a 2x2 max-pool; global average pooling; a
//! linear layer to 10).
//!
//! Weights are drawn on the host from the run's seed, with PyTorch's default
//! `nn.Linear` and `nn.Conv2d` distribution (weight and bias uniform in
//! `±1/sqrt(fan_in)`; BatchNorm starts at scale 1, shift 0): a run is
//! a function of its seed alone whatever else the process does (Burn 0.22 keeps one
//! generator per backend per process, shared by every thread), and the PyTorch twin
//! (`scripts/digits_twin.py`) starts from the same distribution.

use burn::config::Config;
use burn::module::{Module, Param};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Linear, PaddingConfig2d};
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

/// Uniform draws in `±1/sqrt(fan_in)`, PyTorch's default for `Linear` and `Conv2d`.
fn draws(n: usize, fan_in: usize, rng: &mut Xoshiro256PlusPlus) -> Vec<f32> {
    let bound = 1.0 / (fan_in as f64).sqrt();
    let uniform = Uniform::new_inclusive(-bound, bound).expect("a positive bound");
    (0..n).map(|_| uniform.sample(rng) as f32).collect()
}

#[derive(Config, Debug)]
pub struct CnnConfig {
    /// Channels of the first convolution; the next two have 2x and 4x as many.
    #[config(default = 16)]
    pub width: usize,
}

#[derive(Module, Debug)]
pub struct Cnn {
    convs: Vec<Conv2d>,
    norms: Vec<BatchNorm>,
    pool: MaxPool2d,
    head: Linear,
}

impl CnnConfig {
    /// The CNN on `device`, its weights a function of `seed`.
    pub fn init(&self, seed: u64, device: &Device) -> Cnn {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed ^ 0x636E_6E00);
        let widths = [1, self.width, 2 * self.width, 4 * self.width];
        let convs = widths
            .windows(2)
            .map(|w| {
                let mut conv = Conv2dConfig::new([w[0], w[1]], [3, 3])
                    .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                    .init(device);
                let fan_in = w[0] * 9;
                let weight =
                    TensorData::new(draws(w[0] * w[1] * 9, fan_in, &mut rng), [w[1], w[0], 3, 3]);
                conv.weight = Param::from_data(weight, device);
                let bias = TensorData::new(draws(w[1], fan_in, &mut rng), [w[1]]);
                conv.bias = Some(Param::from_data(bias, device));
                conv
            })
            .collect();
        Cnn {
            convs,
            norms: widths[1..]
                .iter()
                .map(|&c| BatchNormConfig::new(c).init(device))
                .collect(),
            pool: MaxPool2dConfig::new([2, 2]).with_strides([2, 2]).init(),
            head: linear(4 * self.width, CLASSES, &mut rng, device),
        }
    }
}

impl Cnn {
    /// Logits `[B, 10]` of images `[B, 1, H, W]`.
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        let mut x = images;
        for (i, (conv, norm)) in self.convs.iter().zip(&self.norms).enumerate() {
            x = relu(norm.forward(conv.forward(x)));
            if i < 2 {
                x = self.pool.forward(x);
            }
        }
        let [batch, channels, h, w] = x.dims();
        let pooled = x.reshape([batch, channels, h * w]).mean_dim(2);
        self.head.forward(pooled.reshape([batch, channels]))
    }
}

/// The model of a run: the MLP (digits) or the CNN (Fashion-MNIST).
#[derive(Module, Debug)]
pub struct Net {
    mlp: Option<Mlp>,
    cnn: Option<Cnn>,
}

impl Net {
    pub fn mlp(seed: u64, device: &Device) -> Self {
        Self {
            mlp: Some(MlpConfig::new().init(seed, device)),
            cnn: None,
        }
    }

    pub fn cnn(width: usize, seed: u64, device: &Device) -> Self {
        Self {
            mlp: None,
            cnn: Some(CnnConfig::new().with_width(width).init(seed, device)),
        }
    }

    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        match (&self.mlp, &self.cnn) {
            (Some(mlp), _) => mlp.forward(images),
            (None, Some(cnn)) => cnn.forward(images),
            (None, None) => unreachable!("built with one of the two"),
        }
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

    /// The CNN: PyTorch's parameter count for the same layers, logits of any
    /// image size, weights a function of the seed within the Conv2d bound.
    #[test]
    fn the_cnn_has_pytorchs_parameter_count() {
        let device = Device::flex();
        let cnn = CnnConfig::new().init(3, &device);
        // convs (weights + biases), BatchNorm scale + shift, head; Burn also counts
        // each BatchNorm's running mean and variance.
        let convs = (16 * 9 + 16) + (32 * 16 * 9 + 32) + (64 * 32 * 9 + 64);
        let norms = 2 * (16 + 32 + 64);
        assert_eq!(cnn.num_params(), convs + norms + (64 * 10 + 10) + norms);
        let net = Net::cnn(16, 3, &device);
        assert_eq!(
            net.forward(Tensor::zeros([2, 1, 28, 28], &device)).dims(),
            [2, 10]
        );
        let first = |seed| {
            CnnConfig::new().init(seed, &device).convs[0]
                .weight
                .val()
                .try_into_vec_as::<f32>()
                .unwrap()
        };
        assert_eq!(first(3), first(3));
        assert_ne!(first(3), first(4));
        assert!(first(3).iter().all(|w| w.abs() <= 1.0 / 3.0)); // 1 / sqrt(9)
    }
}
