//! Everything that defines a run: the configuration saved as `config.json` (and all
//! a resume needs) and its range checks.

use std::path::PathBuf;

use burn::config::Config;
use burn::optim::SgdConfig;
use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::tensor::Device;
use burn_mixup::BinaryCrossEntropyConfig;
use burn_mixup::{LabelSmoothingCrossEntropyConfig, MixConfig, MixError, MixMode, Mixer};
use burn_mixup::{
    MultiStepLrScheduler, MultiStepLrSchedulerConfig, Pairing, Paste, SmoothingConvention,
};

use crate::checkpoint::fnv1a;
use crate::dataset::DatasetKind;
pub use crate::error::TrainError;
use crate::model::ResNetConfig;

/// The compute backend of a run.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    clap::ValueEnum,
    burn::serde::Serialize,
    burn::serde::Deserialize,
)]
#[serde(crate = "burn::serde", rename_all = "lowercase")]
pub enum BackendKind {
    /// burn-flex: pure-Rust CPU backend with GEMM convolutions (the CPU default).
    Flex,
    /// burn-ndarray: the CPU backend of the library's tests (much slower here).
    Ndarray,
    /// burn-cuda (build with `--features cuda`; the default there).
    Cuda,
    /// burn-wgpu (build with `--features wgpu`): burn-cuda's cubecl kernels on any
    /// Vulkan driver, Mesa's lavapipe (CPU) included: the GPU code path without a GPU.
    Wgpu,
}

impl BackendKind {
    pub fn default_for_build() -> Self {
        if cfg!(feature = "cuda") {
            Self::Cuda
        } else {
            Self::Flex
        }
    }
}

/// How several devices train (burn-train's execution strategies).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    clap::ValueEnum,
    burn::serde::Serialize,
    burn::serde::Deserialize,
)]
#[serde(crate = "burn::serde", rename_all = "lowercase")]
pub enum StrategyKind {
    /// `ExecutionStrategy::multi`: a replica per device, gradients summed on the
    /// first device, one optimizer step there.
    Multi,
    /// `ExecutionStrategy::ddp`: a replica and an optimizer per device, gradients
    /// averaged by an all-reduce after each backward pass.
    Ddp,
}

/// The training loss.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    clap::ValueEnum,
    burn::serde::Serialize,
    burn::serde::Deserialize,
)]
#[serde(crate = "burn::serde", rename_all = "lowercase")]
pub enum LossKind {
    /// Label-smoothing cross-entropy (softmax), the tutorial's.
    #[value(name = "ce")]
    CrossEntropy,
    /// timm's binary cross-entropy (ResNet Strikes Back, DeiT III).
    Bce,
}

/// Everything that defines a run; saved as `config.json` in the run folder, and
/// all a resume needs.
#[derive(Config, Debug, PartialEq)]
pub struct TrainingConfig {
    pub model: ResNetConfig,
    #[config(default = 150)]
    pub epochs: usize,
    #[config(default = 128)]
    pub batch_size: usize,
    /// Initial learning rate of SGD.
    #[config(default = 0.1)]
    pub lr: f64,
    /// SGD momentum (dampening 0, as PyTorch).
    #[config(default = 0.9)]
    pub momentum: f64,
    #[config(default = 2e-4)]
    pub weight_decay: f64,
    /// Epochs at which the learning rate is multiplied by `lr_gamma`, sorted.
    #[config(default = "vec![50, 100]")]
    pub lr_milestones: Vec<usize>,
    #[config(default = 0.1)]
    pub lr_gamma: f64,
    #[config(default = 1.0)]
    pub mixup_alpha: f64,
    #[config(default = 0.0)]
    pub cutmix_alpha: f64,
    #[config(default = 0.5)]
    pub switch_prob: f64,
    /// What the CutMix family pastes: the partner's box (CutMix), the whole partner
    /// resized into the box (ResizeMix), or the partner under a Fourier mask (FMix).
    #[config(default = "Paste::CutMix")]
    pub paste: Paste,
    /// ResizeMix's range of box side ratios.
    #[config(default = "vec![0.1, 0.8]")]
    pub resizemix_scale: Vec<f64>,
    /// FMix's decay power.
    #[config(default = 3.0)]
    pub fmix_decay_power: f64,
    #[config(default = "MixMode::Batch")]
    pub mix_mode: MixMode,
    /// First epoch (0-based) trained without mixing.
    pub mix_off_epoch: Option<usize>,
    #[config(default = 0.1)]
    pub smoothing: f64,
    #[config(default = "SmoothingConvention::Uniform")]
    pub smoothing_convention: SmoothingConvention,
    /// The training loss: label-smoothing cross-entropy, or timm's binary
    /// cross-entropy (one sigmoid per class, `--smoothing` as timm's BCE smoothing).
    #[config(default = "LossKind::CrossEntropy")]
    pub loss: LossKind,
    /// With `--loss bce`: mixed targets above this become 1, the others 0.
    pub bce_target_thresh: Option<f64>,
    #[config(default = 0)]
    pub seed: u64,
    /// The data set; CIFAR-10 in runs written before the flag.
    #[config(default = "DatasetKind::Cifar10")]
    pub dataset: DatasetKind,
    /// Where the data set is (absolute once a run starts).
    #[config(default = "PathBuf::from(\"data/cifar10\")")]
    pub data_dir: PathBuf,
    /// Train on a generated set of this many images instead of the data set.
    pub synthetic: Option<usize>,
    /// Train on this many training images, class-balanced and evenly spaced.
    pub train_size: Option<usize>,
    pub train_limit: Option<usize>,
    pub test_limit: Option<usize>,
    #[config(default = "BackendKind::default_for_build()")]
    pub backend: BackendKind,
    #[config(default = "vec![0]")]
    pub devices: Vec<usize>,
    /// How several devices train; one device trains alone either way.
    #[config(default = "StrategyKind::Multi")]
    pub strategy: StrategyKind,
    /// Loader threads per device; 0 loads on the training thread.
    #[config(default = 1)]
    pub workers: usize,
    /// Training images held out to fit the temperature after the last epoch; 0
    /// skips it. `None` in a run written before the flag existed: none held out.
    pub val_size: Option<usize>,
}

impl TrainingConfig {
    /// Range checks of every setting, each error naming the flag and the value.
    pub fn validate(&self) -> Result<(), TrainError> {
        let fail = |flag, expected, value: &dyn ToString| {
            Err(TrainError::Flag {
                flag,
                expected,
                value: value.to_string(),
            })
        };
        let positive = |x: f64| x.is_finite() && x > 0.0;
        match self {
            c if c.epochs == 0 => fail("epochs", "at least 1", &0),
            c if c.batch_size == 0 => fail("batch-size", "at least 1", &0),
            c if !positive(c.lr) => fail("lr", "a finite number > 0", &c.lr),
            c if !(0.0..1.0).contains(&c.momentum) => fail("momentum", "in [0, 1)", &c.momentum),
            c if !(c.weight_decay.is_finite() && c.weight_decay >= 0.0) => {
                fail("weight-decay", "finite and >= 0", &c.weight_decay)
            }
            c if !positive(c.lr_gamma) => fail("lr-gamma", "a finite number > 0", &c.lr_gamma),
            c if !(c.mixup_alpha.is_finite() && c.mixup_alpha >= 0.0) => {
                fail("alpha", "a finite number >= 0", &c.mixup_alpha)
            }
            c if !(c.cutmix_alpha.is_finite() && c.cutmix_alpha >= 0.0) => {
                fail("cutmix-alpha", "a finite number >= 0", &c.cutmix_alpha)
            }
            c if !(0.0..=1.0).contains(&c.switch_prob) => {
                fail("switch-prob", "a probability in [0, 1]", &c.switch_prob)
            }
            c if !(0.0..1.0).contains(&c.smoothing) => fail("smoothing", "in [0, 1)", &c.smoothing),
            c if !matches!(c.resizemix_scale[..], [low, high] if 0.0 < low && low <= high && high <= 1.0) =>
            {
                let shown: Vec<String> = c.resizemix_scale.iter().map(f64::to_string).collect();
                fail(
                    "resizemix-scale",
                    "LOW,HIGH with 0 < LOW <= HIGH <= 1",
                    &shown.join(","),
                )
            }
            c if !(c.fmix_decay_power.is_finite() && c.fmix_decay_power >= 0.0) => fail(
                "fmix-decay-power",
                "a finite number >= 0",
                &c.fmix_decay_power,
            ),
            // A paste method with the family off would train without it, silently.
            c if c.paste != Paste::CutMix && c.cutmix_alpha == 0.0 => fail(
                "paste",
                "used with --cutmix-alpha > 0 (at 0 nothing is pasted)",
                &format!("{:?}", c.paste).to_lowercase(),
            ),
            c if c.bce_target_thresh.is_some_and(|t| !t.is_finite()) => fail(
                "bce-target-thresh",
                "a finite number",
                &c.bce_target_thresh.unwrap_or_default(),
            ),
            c if c.model.base_width == 0 => fail("base-width", "at least 1", &0),
            c if c.train_limit == Some(0) => fail("train-limit", "at least 1", &0),
            c if c.train_size == Some(0) => fail("train-size", "at least 1", &0),
            c if c.model.in_channels != c.dataset.format().channels => fail(
                "dataset",
                "a data set with the model's input channels",
                &format!("{:?} for {} channels", c.dataset, c.model.in_channels),
            ),
            c if c.test_limit == Some(0) => fail("test-limit", "at least 1", &0),
            c if c.synthetic == Some(0) => fail("synthetic", "at least 1 image", &0),
            c if c.devices.is_empty() => fail("devices", "at least one device index", &""),
            c if c.backend != BackendKind::Cuda && c.devices != [0] => fail(
                "devices",
                "0 on the CPU backends (GPUs: --features cuda, --backend cuda)",
                &format!("{:?}", c.devices),
            ),
            c if c.backend == BackendKind::Cuda && cfg!(not(feature = "cuda")) => fail(
                "backend",
                "flex or ndarray in a build without `--features cuda`",
                &"cuda",
            ),
            c if c.backend == BackendKind::Wgpu && cfg!(not(feature = "wgpu")) => fail(
                "backend",
                "flex or ndarray in a build without `--features wgpu`",
                &"wgpu",
            ),
            c if !c.batch_size.is_multiple_of(c.devices.len()) => fail(
                "batch-size",
                "a multiple of the number of devices",
                &format!("{} for {} devices", c.batch_size, c.devices.len()),
            ),
            c => {
                c.criterion().init(&Device::flex())?;
                c.bce().init(&Device::flex())?;
                c.mixer()?;
                c.scheduler(1)?;
                Ok(())
            }
        }
    }

    /// The training criterion: label smoothing with the chosen convention.
    pub fn criterion(&self) -> LabelSmoothingCrossEntropyConfig {
        LabelSmoothingCrossEntropyConfig::new()
            .with_smoothing(self.smoothing)
            .with_convention(self.smoothing_convention)
    }

    /// timm's binary cross-entropy, for `--loss bce`.
    pub fn bce(&self) -> BinaryCrossEntropyConfig {
        BinaryCrossEntropyConfig::new()
            .with_smoothing(self.smoothing)
            .with_target_threshold(self.bce_target_thresh)
    }

    /// The mixer; with both alphas 0 a disabled one (same loader, same step).
    pub fn mixer(&self) -> Result<Mixer, MixError> {
        MixConfig::new()
            .with_mixup_alpha(self.mixup_alpha)
            .with_cutmix_alpha(self.cutmix_alpha)
            .with_switch_prob(self.switch_prob)
            .with_paste(self.paste)
            .with_resizemix_scale(match self.resizemix_scale[..] {
                [low, high] => (low, high),
                _ => (f64::NAN, f64::NAN), // refused by `init`, as by `validate`
            })
            .with_fmix_decay_power(self.fmix_decay_power)
            .with_mode(self.mix_mode)
            // A fresh permutation per batch, as the mixup paper's code.
            .with_pairing(Pairing::Permutation)
            .with_off_epoch(self.mix_off_epoch)
            .with_seed(Some(self.seed))
            .init()
    }

    pub fn scheduler(
        &self,
        iterations_per_epoch: usize,
    ) -> Result<MultiStepLrScheduler, TrainError> {
        Ok(
            MultiStepLrSchedulerConfig::new(self.lr, self.lr_milestones.clone())
                .with_gamma(self.lr_gamma)
                .with_iterations_per_epoch(iterations_per_epoch)
                .init()?,
        )
    }

    pub fn optimizer(&self) -> SgdConfig {
        let momentum = MomentumConfig {
            momentum: self.momentum,
            dampening: 0.0,
            nesterov: false,
        };
        let decay =
            (self.weight_decay > 0.0).then(|| WeightDecayConfig::new(self.weight_decay as f32));
        SgdConfig::new()
            .with_momentum(Some(momentum))
            .with_weight_decay(decay)
    }

    /// The fingerprint checkpoints carry: the configuration less `epochs` (which a
    /// resume may extend).
    pub fn fingerprint(&self) -> u64 {
        let mut json = serde_json::to_value(self).expect("config serialises");
        json["epochs"] = 0.into();
        // Runs written before --val-size, --dataset and --train-size keep their
        // fingerprint (and their checkpoints): a setting at what those runs did is
        // left out.
        let legacy = [
            ("val_size", serde_json::Value::Null),
            ("train_size", serde_json::Value::Null),
            ("dataset", "cifar10".into()),
        ];
        for (key, value) in legacy {
            if json[key] == value {
                json.as_object_mut().expect("an object").remove(key);
            }
        }
        if json["model"]["in_channels"] == 3 {
            json["model"]
                .as_object_mut()
                .expect("an object")
                .remove("in_channels");
        }
        fnv1a(json.to_string().as_bytes())
    }
}
