//! The command line: every flag and what it sets in the run's configuration (what
//! `--resume` keeps from the run it continues is in `resume.rs`).

use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use burn_mixup::{MixMode, Paste, SmoothingConvention};
use clap::{Parser, ValueEnum};

use crate::config::{BackendKind, LossKind, StrategyKind, TrainingConfig};
use crate::dataset::DatasetKind;
use crate::training::Display;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ModeArg {
    Batch,
    Pair,
    Elem,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum PasteArg {
    Cutmix,
    Resizemix,
    Fmix,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ConventionArg {
    Uniform,
    OffTarget,
}

/// Train ResNet-18 on CIFAR-10 with Mixup/CutMix and label smoothing (burn-mixup),
/// through burn-train.
///
/// Defaults are the tutorial's recipe: SGD lr 0.1, momentum 0.9, weight decay 2e-4,
/// batch 128, 150 epochs, lr / 10 at epochs 50 and 100, mixup alpha 1, smoothing 0.1,
/// with one difference: smoothing 0.1 means PyTorch's convention (`uniform`, the
/// target keeps 1-eps+eps/K, as `F.cross_entropy(label_smoothing=)` and timm), not
/// the tutorial's (`off-target`: 1-eps on the target, eps/(K-1) on each other class),
/// so that results compare with PyTorch, timm and papers; `--smoothing-convention
/// off-target` reproduces the tutorial's code exactly. `--alpha 0 --smoothing 0`
/// trains the plain baseline. `--resume DIR` continues a run with the settings it
/// was started with; only --epochs (to extend it), the display flags and
/// --allow-divergence may be given again with other values.
#[derive(Debug, Parser)]
// Negative numbers are values, so `--alpha -1` reaches the range check (and its
// message) instead of failing as an unknown flag.
#[command(version, about, long_about, allow_negative_numbers = true)]
pub struct Cli {
    /// The data set: CIFAR-10, or Fashion-MNIST (a one-channel stem, crop 28 with
    /// padding 4 and a flip, normalised with mean 0.1307 and sd 0.3081).
    #[arg(long, value_enum, default_value = "cifar10")]
    pub dataset: DatasetKind,
    /// Where the data set lives [default: data/cifar10 or data/fashion-mnist]: the
    /// CIFAR-10 archive or its cifar-10-batches-bin/; Fashion-MNIST's four IDX files
    /// (raw or .gz; else Debian's /usr/share/datasets/fashion-mnist is read).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Never download; fail with instructions when the data is missing.
    #[arg(long)]
    pub no_download: bool,
    /// Train on a generated set in the data set's own format and file format (CIFAR
    /// records or IDX files) of this many training images (a fifth as many test
    /// images); no data needed.
    #[arg(long, num_args = 0..=1, default_missing_value = "5000", value_name = "IMAGES")]
    pub synthetic: Option<usize>,
    /// Run folder for config, metrics, curves and checkpoints [default: runs/<UTC timestamp>].
    #[arg(long, conflicts_with = "resume")]
    pub out_dir: Option<PathBuf>,
    /// Continue the run in this folder from its last finished epoch.
    #[arg(long, value_name = "DIR")]
    pub resume: Option<PathBuf>,
    /// Epochs to train in all (with --resume: extends the run to this many).
    #[arg(long, default_value_t = 150)]
    pub epochs: usize,
    /// Images per training step (split evenly over --devices).
    #[arg(long, default_value_t = 128)]
    pub batch_size: usize,
    /// Initial learning rate.
    #[arg(long, default_value_t = 0.1)]
    pub lr: f64,
    /// SGD momentum.
    #[arg(long, default_value_t = 0.9)]
    pub momentum: f64,
    /// L2 weight decay.
    #[arg(long, default_value_t = 2e-4)]
    pub weight_decay: f64,
    /// Epochs at which the learning rate is multiplied by --lr-gamma (any order).
    #[arg(long, value_delimiter = ',', default_value = "50,100")]
    pub lr_milestones: Vec<usize>,
    /// Factor applied to the learning rate at each milestone.
    #[arg(long, default_value_t = 0.1)]
    pub lr_gamma: f64,
    /// Mixup alpha (Beta(alpha, alpha)); 0 turns Mixup off.
    #[arg(long, default_value_t = 1.0)]
    pub alpha: f64,
    /// CutMix alpha; 0 turns CutMix off.
    #[arg(long, default_value_t = 0.0)]
    pub cutmix_alpha: f64,
    /// Chance of CutMix instead of Mixup when both are on.
    #[arg(long, default_value_t = 0.5)]
    pub switch_prob: f64,
    /// What the CutMix family (--cutmix-alpha > 0) pastes: `cutmix` (the partner's
    /// pixels in the box), `resizemix` (the whole partner shrunk into the box) or
    /// `fmix` (the partner's pixels under a low-frequency Fourier mask). FMix alone:
    /// `--alpha 0 --cutmix-alpha 1 --paste fmix` (`--mix` is the same flag).
    #[arg(long, visible_alias = "mix", value_enum, default_value = "cutmix")]
    pub paste: PasteArg,
    /// ResizeMix's range of box side ratios, LOW,HIGH.
    #[arg(long, value_delimiter = ',', default_values_t = [0.1, 0.8])]
    pub resizemix_scale: Vec<f64>,
    /// FMix's decay power: larger gives smoother masks (the paper's 3).
    #[arg(long, default_value_t = 3.0)]
    pub fmix_decay_power: f64,
    /// One lambda per batch, per pair, or per image.
    #[arg(long, value_enum, default_value = "batch")]
    pub mix_mode: ModeArg,
    /// First epoch (0-based) trained on clean images.
    #[arg(long)]
    pub mix_off_epoch: Option<usize>,
    /// Label smoothing; 0 turns it off.
    #[arg(long, default_value_t = 0.1)]
    pub smoothing: f64,
    /// What --smoothing stands for: `uniform` (PyTorch, timm: 1-eps+eps/K on the
    /// target) or `off-target` (the tutorial's: 1-eps on the target, eps/(K-1) off).
    #[arg(long, value_enum, default_value = "uniform")]
    pub smoothing_convention: ConventionArg,
    /// Training loss: `ce` (label-smoothing cross-entropy) or `bce` (timm's binary
    /// cross-entropy on the mixed targets, as ResNet Strikes Back).
    #[arg(long, value_enum, default_value = "ce")]
    pub loss: LossKind,
    /// With `--loss bce`: binarise mixed targets at this value (timm's
    /// --bce-target-thresh, e.g. 0.2).
    #[arg(long, value_name = "T")]
    pub bce_target_thresh: Option<f64>,
    /// Seed of the data order, augmentation, mixing and model initialisation.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Width of the first stage (64 = ResNet-18; 8 or 16 for CPU smoke runs).
    #[arg(long, default_value_t = 64)]
    pub base_width: usize,
    /// PreAct ResNet-18 (the mixup paper's network).
    #[arg(long)]
    pub preact: bool,
    /// Train on the first N images only (every file is still validated).
    #[arg(long)]
    pub train_limit: Option<usize>,
    /// Train on N images chosen class by class, evenly spaced through each class
    /// (the same images for every seed); --val-size then holds out of the others.
    #[arg(long, value_name = "N")]
    pub train_size: Option<usize>,
    /// Evaluate on the first N test images only.
    #[arg(long)]
    pub test_limit: Option<usize>,
    /// Compute backend [default: cuda with --features cuda, else flex]; wgpu needs
    /// `--features wgpu` (any Vulkan driver, e.g. Mesa's lavapipe on the CPU).
    #[arg(long, value_enum)]
    pub backend: Option<BackendKind>,
    /// Device indices, e.g. 0,1,2,3: several GPUs train data-parallel through
    /// burn-train (CUDA only).
    #[arg(long, value_delimiter = ',', default_value = "0")]
    pub devices: Vec<usize>,
    /// How several --devices train: `multi` (gradients summed on the first device,
    /// one optimizer step) or `ddp` (an optimizer per device, gradients all-reduced).
    /// Each device mixes on its own stream either way.
    #[arg(long, value_enum, default_value = "multi")]
    pub strategy: StrategyKind,
    /// Train on through a NaN or infinite training loss instead of stopping (and
    /// checkpoint the non-finite model).
    #[arg(long)]
    pub allow_divergence: bool,
    /// Data-loader threads per device (0: load on the training thread).
    #[arg(long, default_value_t = 1)]
    pub workers: usize,
    /// Training images held out (class by class) to fit the temperature after the
    /// last epoch: calibration.json and reliability.svg [default: a tenth of the
    /// training set, 5,000 on CIFAR-10]; 0 skips it.
    #[arg(long, value_name = "IMAGES")]
    pub val_size: Option<usize>,
    /// burn-train's TUI dashboard instead of its CLI renderer (on a terminal).
    #[arg(long, conflicts_with = "quiet")]
    pub tui: bool,
    /// Only one line per epoch, for logs.
    #[arg(long)]
    pub quiet: bool,
    /// Measure training throughput instead of training: run this many timed steps
    /// (after --bench-warmup untimed ones), print one JSON line and exit.
    #[arg(long, value_name = "STEPS")]
    pub bench_steps: Option<usize>,
    /// Untimed steps before --bench-steps (compilation, autotuning, allocator warm-up).
    #[arg(long, default_value_t = 5)]
    pub bench_warmup: usize,
}

impl Cli {
    /// The configuration these flags describe, on top of `base`: every flag when
    /// starting a run, only those typed on the command line when resuming.
    pub fn apply(&self, mut c: TrainingConfig, given: impl Fn(&str) -> bool) -> TrainingConfig {
        macro_rules! set {
            ($id:literal, $field:expr, $value:expr) => {
                if given($id) {
                    $field = $value;
                }
            };
        }
        set!("epochs", c.epochs, self.epochs);
        set!("batch_size", c.batch_size, self.batch_size);
        set!("lr", c.lr, self.lr);
        set!("momentum", c.momentum, self.momentum);
        set!("weight_decay", c.weight_decay, self.weight_decay);
        // Sorted, as PyTorch's MultiStepLR reads them in any order.
        let mut milestones = self.lr_milestones.clone();
        milestones.sort_unstable();
        set!("lr_milestones", c.lr_milestones, milestones);
        set!("lr_gamma", c.lr_gamma, self.lr_gamma);
        set!("alpha", c.mixup_alpha, self.alpha);
        set!("cutmix_alpha", c.cutmix_alpha, self.cutmix_alpha);
        set!("switch_prob", c.switch_prob, self.switch_prob);
        let paste = match self.paste {
            PasteArg::Cutmix => Paste::CutMix,
            PasteArg::Resizemix => Paste::ResizeMix,
            PasteArg::Fmix => Paste::FMix,
        };
        set!("paste", c.paste, paste);
        set!(
            "resizemix_scale",
            c.resizemix_scale,
            self.resizemix_scale.clone()
        );
        set!(
            "fmix_decay_power",
            c.fmix_decay_power,
            self.fmix_decay_power
        );
        let mode = [MixMode::Batch, MixMode::Pair, MixMode::Elem][self.mix_mode as usize];
        set!("mix_mode", c.mix_mode, mode);
        set!("mix_off_epoch", c.mix_off_epoch, self.mix_off_epoch);
        set!("smoothing", c.smoothing, self.smoothing);
        let convention = match self.smoothing_convention {
            ConventionArg::Uniform => SmoothingConvention::Uniform,
            ConventionArg::OffTarget => SmoothingConvention::OffTarget,
        };
        set!("smoothing_convention", c.smoothing_convention, convention);
        set!("loss", c.loss, self.loss);
        set!(
            "bce_target_thresh",
            c.bce_target_thresh,
            self.bce_target_thresh
        );
        set!("seed", c.seed, self.seed);
        set!("base_width", c.model.base_width, self.base_width);
        set!("preact", c.model.preact, self.preact);
        set!("train_limit", c.train_limit, self.train_limit);
        set!("test_limit", c.test_limit, self.test_limit);
        set!("train_size", c.train_size, self.train_size);
        set!("synthetic", c.synthetic, self.synthetic);
        set!("dataset", c.dataset, self.dataset);
        c.model.in_channels = c.dataset.format().channels;
        // Absolute, so a resume from another folder finds the same data.
        let data_dir = (self.data_dir.clone()).unwrap_or(c.dataset.default_dir().into());
        let data_dir = std::path::absolute(&data_dir).unwrap_or(data_dir);
        set!("data_dir", c.data_dir, data_dir);
        if let Some(backend) = self.backend {
            set!("backend", c.backend, backend);
        }
        set!("devices", c.devices, self.devices.clone());
        set!("strategy", c.strategy, self.strategy);
        set!("workers", c.workers, self.workers);
        set!("val_size", c.val_size, self.val_size);
        c
    }

    pub fn display(&self) -> Display {
        match (self.tui, self.quiet) {
            (true, _) => Display::Tui,
            (_, true) => Display::Quiet,
            _ => Display::Cli,
        }
    }
}

/// `runs/20261128-163500` from the current UTC time.
pub fn timestamp_dir() -> PathBuf {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs()) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + (month <= 2) as i64;
    let (h, m, s) = (rem / 3600, rem % 3600 / 60, rem % 60);
    PathBuf::from("runs").join(format!("{year:04}{month:02}{day:02}-{h:02}{m:02}{s:02}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::TrainError;
    use crate::model::ResNetConfig;
    use clap::CommandFactory;

    fn config_of(args: &[&str]) -> TrainingConfig {
        let cli = Cli::try_parse_from(std::iter::once("x").chain(args.iter().copied())).unwrap();
        cli.apply(TrainingConfig::new(ResNetConfig::new()), |_| true)
    }

    #[test]
    fn help_documents_every_flag_and_defaults_match_the_recipe() {
        let help = Cli::command().render_long_help().to_string();
        // Every flag of 0.1 that still means something, and the ones added since.
        let flags = "--data-dir --synthetic --out-dir --resume --epochs --batch-size --lr \
            --momentum --weight-decay --lr-milestones --alpha --cutmix-alpha --mix-mode \
            --mix-off-epoch --smoothing --smoothing-convention --loss --bce-target-thresh \
            --paste --resizemix-scale --fmix-decay-power --seed --base-width --preact \
            --train-limit --test-limit --backend --workers --devices --strategy \
            --allow-divergence --tui --quiet --dataset --train-size --val-size";
        for flag in flags.split_whitespace() {
            assert!(help.contains(flag), "{flag} missing from --help");
        }
        let command = Cli::command();
        let undocumented: Vec<_> = command
            .get_arguments()
            .filter(|arg| arg.get_help().is_none())
            .map(|arg| arg.get_id())
            .collect();
        assert!(undocumented.is_empty(), "no help text: {undocumented:?}");
        let config = config_of(&[]);
        let mut expected = TrainingConfig::new(ResNetConfig::new());
        expected.data_dir = std::path::absolute("data/cifar10").unwrap();
        assert_eq!(config, expected);
        assert_eq!(
            (
                config.lr,
                config.momentum,
                config.weight_decay,
                config.batch_size
            ),
            (0.1, 0.9, 2e-4, 128)
        );
        assert_eq!(
            (config.epochs, config.lr_milestones.clone()),
            (150, vec![50, 100])
        );
        assert_eq!((config.mixup_alpha, config.smoothing), (1.0, 0.1));
        assert_eq!(config.backend, BackendKind::default_for_build());
        // --help says which smoothing convention the default is, and why.
        for text in [
            "PyTorch's convention (`uniform`",
            "`--smoothing-convention off-target` reproduces the tutorial's code exactly",
        ] {
            assert!(help.contains(text), "{text:?} missing from --help:\n{help}");
        }
    }

    #[test]
    fn out_of_range_flags_are_named() {
        let flag_of = |args: &[&str]| match config_of(args).validate() {
            Err(TrainError::Flag { flag, value, .. }) => format!("{flag} {value}"),
            Err(TrainError::Mixing(e)) => format!("mixing: {e}"),
            Err(TrainError::Loss(e)) => format!("loss: {e}"),
            other => panic!("{other:?}"),
        };
        assert_eq!(flag_of(&["--lr=-1"]), "lr -1");
        assert_eq!(flag_of(&["--epochs", "0"]), "epochs 0");
        assert_eq!(flag_of(&["--momentum", "1.5"]), "momentum 1.5");
        assert!(flag_of(&["--smoothing", "1.2"]).contains("1.2"));
        // Typed the way users type it: a negative value, not an unknown flag.
        assert!(flag_of(&["--alpha", "-1"]).contains("-1"));
        assert_eq!(flag_of(&["--lr", "-0.1"]), "lr -0.1");
        assert_eq!(flag_of(&["--devices", "0,1"]), "devices [0, 1]");
        assert!(
            config_of(&["--mix-mode", "pair", "--batch-size", "7"])
                .validate()
                .is_ok()
        );
        assert!(
            config_of(&["--alpha", "0", "--smoothing", "0"])
                .validate()
                .is_ok()
        );
        // Milestones in any order mean the same schedule.
        assert_eq!(
            config_of(&["--lr-milestones", "100,50"]).lr_milestones,
            vec![50, 100]
        );
        let convention = config_of(&["--smoothing-convention", "off-target"]).smoothing_convention;
        assert_eq!(convention, SmoothingConvention::OffTarget);
        assert_eq!(
            config_of(&["--backend", "ndarray"]).backend,
            BackendKind::Ndarray
        );
        let bce = config_of(&["--loss", "bce", "--bce-target-thresh", "0.2"]);
        assert_eq!(
            (bce.loss, bce.bce_target_thresh),
            (LossKind::Bce, Some(0.2))
        );
        let criterion = bce.bce().init(&burn::tensor::Device::flex());
        assert_eq!(criterion.unwrap().target_threshold(), Some(0.2));
        assert!(flag_of(&["--loss", "bce", "--bce-target-thresh", "inf"]).contains("inf"));
        assert!(Cli::try_parse_from(["x", "--backend", "tpu"]).is_err());
        assert!(Cli::try_parse_from(["x", "--resume", "a", "--out-dir", "b"]).is_err());
    }

    /// `--dataset fashion-mnist` gives the model a one-channel stem and its own
    /// default folder; an explicit --data-dir wins; CIFAR-10 stays the default.
    #[test]
    fn fashion_mnist_sets_the_stem_and_the_folder() {
        let fashion = config_of(&["--dataset", "fashion-mnist", "--train-size", "10000"]);
        assert_eq!(fashion.dataset, DatasetKind::FashionMnist);
        assert_eq!(fashion.model.in_channels, 1);
        assert_eq!(fashion.train_size, Some(10_000));
        assert!(fashion.data_dir.ends_with("data/fashion-mnist"));
        assert!(fashion.validate().is_ok());
        let elsewhere = config_of(&["--dataset", "fashion-mnist", "--data-dir", "/x/f"]);
        assert_eq!(elsewhere.data_dir, PathBuf::from("/x/f"));
        let cifar = config_of(&[]);
        assert_eq!(
            (cifar.dataset, cifar.model.in_channels),
            (DatasetKind::Cifar10, 3)
        );
        // A configuration whose stem does not fit its data is refused, naming both.
        let mut wrong = fashion.clone();
        wrong.model.in_channels = 3;
        let err = wrong.validate().unwrap_err().to_string();
        assert!(err.contains("FashionMnist for 3 channels"), "{err}");
        assert!(Cli::try_parse_from(["x", "--dataset", "mnist"]).is_err());
        let zero = config_of(&["--train-size", "0"]).validate().unwrap_err();
        assert!(
            zero.to_string().contains("--train-size must be at least 1"),
            "{zero}"
        );
    }

    #[test]
    fn timestamp_is_a_plausible_utc_date() {
        let name = timestamp_dir();
        let stamp = name.file_name().unwrap().to_str().unwrap();
        assert_eq!(stamp.len(), 15);
        assert!(stamp.starts_with("20") && &stamp[8..9] == "-", "{stamp}");
    }
}
