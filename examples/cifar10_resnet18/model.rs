//! CIFAR ResNet-18, as in the mixup paper's code and the common tutorial: a 3x3 stem
//! at stride 1 with no max-pool, BasicBlocks [2, 2, 2, 2] at widths
//! 64/128/256/512 (strides 1/2/2/2), 1x1 conv + BatchNorm shortcuts when the shape
//! changes, global average pooling, linear 512 -> 10. The `preact` variant is
//! PreAct ResNet-18 (He et al. 2016), the network of the mixup paper's CIFAR runs.
//! `base_width` scales every stage (64 is the real model; 8 makes a CPU-sized one).

use burn::config::Config;
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{AdaptiveAvgPool2d, AdaptiveAvgPool2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::Device;
use burn::tensor::Tensor;
use burn::tensor::activation::relu;

#[derive(Config, Debug, PartialEq)]
pub struct ResNetConfig {
    /// Output classes.
    #[config(default = 10)]
    pub num_classes: usize,
    /// Width of the first stage; the stages are 1x, 2x, 4x, 8x this.
    #[config(default = 64)]
    pub base_width: usize,
    /// Pre-activation blocks (PreAct ResNet-18) instead of the original ones.
    #[config(default = false)]
    pub preact: bool,
    /// Channels of the input images (3 for CIFAR-10, 1 for Fashion-MNIST): the
    /// stem's only difference.
    #[config(default = 3)]
    pub in_channels: usize,
}

fn conv3x3(input: usize, output: usize, stride: usize, device: &Device) -> Conv2d {
    Conv2dConfig::new([input, output], [3, 3])
        .with_stride([stride, stride])
        .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
        .with_bias(false)
        .init(device)
}

/// A residual block: two 3x3 convolutions, with BatchNorm and ReLU placed after
/// each convolution (original) or before it (pre-activation).
#[derive(Module, Debug)]
pub struct BasicBlock {
    conv1: Conv2d,
    bn1: BatchNorm,
    conv2: Conv2d,
    bn2: BatchNorm,
    shortcut_conv: Option<Conv2d>,
    shortcut_bn: Option<BatchNorm>,
    preact: bool,
}

impl BasicBlock {
    fn new(input: usize, output: usize, stride: usize, preact: bool, device: &Device) -> Self {
        let projects = stride != 1 || input != output;
        let shortcut_conv = projects.then(|| {
            Conv2dConfig::new([input, output], [1, 1])
                .with_stride([stride, stride])
                .with_bias(false)
                .init(device)
        });
        Self {
            conv1: conv3x3(input, output, stride, device),
            // Pre-activation normalises the block's input, the original its conv output.
            bn1: BatchNormConfig::new(if preact { input } else { output }).init(device),
            conv2: conv3x3(output, output, 1, device),
            bn2: BatchNormConfig::new(output).init(device),
            shortcut_conv,
            // PreAct ResNet's projection shortcut is the bare 1x1 convolution.
            shortcut_bn: (projects && !preact).then(|| BatchNormConfig::new(output).init(device)),
            preact,
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        if self.preact {
            let activated = relu(self.bn1.forward(x.clone()));
            let shortcut = match &self.shortcut_conv {
                Some(conv) => conv.forward(activated.clone()),
                None => x,
            };
            let out = self.conv1.forward(activated);
            let out = self.conv2.forward(relu(self.bn2.forward(out)));
            out + shortcut
        } else {
            let out = relu(self.bn1.forward(self.conv1.forward(x.clone())));
            let out = self.bn2.forward(self.conv2.forward(out));
            let shortcut = match (&self.shortcut_conv, &self.shortcut_bn) {
                (Some(conv), Some(bn)) => bn.forward(conv.forward(x)),
                _ => x,
            };
            relu(out + shortcut)
        }
    }
}

#[derive(Module, Debug)]
pub struct ResNet {
    stem: Conv2d,
    stem_bn: Option<BatchNorm>,
    blocks: Vec<BasicBlock>,
    pool: AdaptiveAvgPool2d,
    head: Linear,
}

impl ResNetConfig {
    pub fn init(&self, device: &Device) -> ResNet {
        let w = self.base_width;
        let mut blocks = Vec::new();
        let mut input = w;
        for (stage, stride) in [1, 2, 2, 2].into_iter().enumerate() {
            let output = w << stage;
            blocks.push(BasicBlock::new(input, output, stride, self.preact, device));
            blocks.push(BasicBlock::new(output, output, 1, self.preact, device));
            input = output;
        }
        ResNet {
            stem: conv3x3(self.in_channels, w, 1, device),
            stem_bn: (!self.preact).then(|| BatchNormConfig::new(w).init(device)),
            blocks,
            pool: AdaptiveAvgPool2dConfig::new([1, 1]).init(),
            head: LinearConfig::new(8 * w, self.num_classes).init(device),
        }
    }
}

impl ResNet {
    /// `[B, in_channels, H, W]` images to `[B, num_classes]` logits.
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        let mut x = self.stem.forward(images);
        if let Some(bn) = &self.stem_bn {
            x = relu(bn.forward(x));
        }
        for block in &self.blocks {
            x = block.forward(x);
        }
        let [batch, channels, _, _] = x.dims();
        self.head
            .forward(self.pool.forward(x).reshape([batch, channels]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_model_has_the_reference_parameter_count_and_shapes() {
        // Layers draw from the process-wide generator the training tests seed.
        let _draws = crate::training::random_draws();
        let device = Device::flex();
        let model = ResNetConfig::new().init(&device);
        // Trainable parameters of the CIFAR ResNet-18 (kuangliu/pytorch-cifar, the
        // tutorial's model): 11,173,962. Burn's `num_params` also counts each
        // BatchNorm's running mean and variance: 2 x 4,800 channels (stem 64; stage
        // convs 4x64 + 4x128 + 4x256 + 4x512; shortcuts 128 + 256 + 512).
        let batch_norm_channels = 64 + 4 * (64 + 128 + 256 + 512) + (128 + 256 + 512);
        assert_eq!(batch_norm_channels, 4_800);
        assert_eq!(model.num_params(), 11_173_962 + 2 * batch_norm_channels);
        let logits = model.forward(Tensor::zeros([2, 3, 32, 32], &device));
        assert_eq!(logits.dims(), [2, 10]);
        // PreAct ResNet-18 (kuangliu's PreActResNet18): 11,171,146 trainable. Its
        // BatchNorms normalise block inputs: bn1 sees the block's input width.
        let preact_channels = (64 + 64 + 64 + 64)
            + (64 + 128 + 128 + 128)
            + (128 + 256 + 256 + 256)
            + (256 + 512 + 512 + 512);
        let preact = ResNetConfig::new().with_preact(true).init(&device);
        assert_eq!(preact.num_params(), 11_171_146 + 2 * preact_channels);
    }

    #[test]
    fn narrow_model_runs_on_any_image_size() {
        // Layers draw from the process-wide generator the training tests seed.
        let _draws = crate::training::random_draws();
        let device = Device::flex();
        let model = ResNetConfig::new().with_base_width(4).init(&device);
        assert_eq!(
            model.forward(Tensor::zeros([3, 3, 12, 20], &device)).dims(),
            [3, 10]
        );
    }
}
