//! ResNet-18 on CIFAR-10 with Mixup (and CutMix) and label smoothing.
//!
//! ```sh
//! cargo run --release --example cifar10_resnet18 --features cuda            # GPU, 150 epochs
//! cargo run --release --example cifar10_resnet18 -- --synthetic --base-width 8 --epochs 3   # CPU smoke run
//! cargo run --release --example cifar10_resnet18 --features cuda -- --alpha 0 --smoothing 0   # baseline
//! cargo run --release --example cifar10_resnet18 --features cuda -- --resume runs/<timestamp>
//! ```
//!
//! Files: `data.rs` (CIFAR-10 binary reader, synthetic set), `download.rs`,
//! `augment.rs` (crop/flip/normalise batchers), `model.rs` (ResNet-18),
//! `training.rs` (loop, evaluation, checkpoints), `metrics.rs` (CSV, ECE, curves),
//! `checkpoint.rs` (atomic writes).

mod augment;
mod checkpoint;
mod data;
mod download;
mod metrics;
mod model;
mod multi;
mod training;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use burn::data::dataset::Dataset;
use burn::tensor::Tensor;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn_mixup::{MixMode, SmoothingConvention};
use clap::parser::ValueSource;
use clap::{ArgMatches, CommandFactory, FromArgMatches, Parser, ValueEnum};

use crate::data::{Cifar10, DataError, RecordCount};
use crate::model::ResNetConfig;
use crate::training::{RunOptions, TrainError, TrainingConfig};

#[cfg(feature = "cuda")]
type Inner = burn_cuda::Cuda<f32, i32>;
#[cfg(not(feature = "cuda"))]
type Inner = burn_ndarray::NdArray<f32>;
type TrainBackend = burn::backend::Autodiff<Inner>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ModeArg {
    Batch,
    Pair,
    Elem,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ConventionArg {
    Uniform,
    OffTarget,
}

/// Train ResNet-18 on CIFAR-10 with Mixup/CutMix and label smoothing (burn-mixup).
///
/// Defaults are the tutorial's recipe: SGD lr 0.1, momentum 0.9, weight decay 2e-4,
/// batch 128, 150 epochs, lr / 10 at epochs 50 and 100, mixup alpha 1, smoothing 0.1.
/// `--alpha 0 --smoothing 0` trains the plain baseline.
#[derive(Debug, Parser)]
// Negative numbers are values, so `--alpha -1` reaches the range check (and its
// message) instead of failing as an unknown flag.
#[command(version, about, long_about, allow_negative_numbers = true)]
struct Cli {
    /// Where CIFAR-10 lives (the archive or its unpacked cifar-10-batches-bin/).
    #[arg(long, default_value = "data/cifar10")]
    data_dir: PathBuf,
    /// Never download; fail with instructions when the data is missing.
    #[arg(long)]
    no_download: bool,
    /// Train on a generated CIFAR-shaped set (real binary format) of this many
    /// training images (a fifth as many test images); no data needed.
    #[arg(long, num_args = 0..=1, default_missing_value = "5000", value_name = "IMAGES")]
    synthetic: Option<usize>,
    /// Run folder for config, metrics, curves and checkpoints [default: runs/<UTC timestamp>].
    #[arg(long)]
    out_dir: Option<PathBuf>,
    /// Continue the run in this folder from its last checkpoint.
    #[arg(long, value_name = "DIR")]
    resume: Option<PathBuf>,
    #[arg(long, default_value_t = 150)]
    epochs: usize,
    #[arg(long, default_value_t = 128)]
    batch_size: usize,
    /// Initial learning rate.
    #[arg(long, default_value_t = 0.1)]
    lr: f64,
    #[arg(long, default_value_t = 0.9)]
    momentum: f64,
    #[arg(long, default_value_t = 2e-4)]
    weight_decay: f64,
    /// Epochs at which the learning rate is multiplied by --lr-gamma (any order).
    #[arg(long, value_delimiter = ',', default_value = "50,100")]
    lr_milestones: Vec<usize>,
    #[arg(long, default_value_t = 0.1)]
    lr_gamma: f64,
    /// Mixup alpha (Beta(alpha, alpha)); 0 turns Mixup off.
    #[arg(long, default_value_t = 1.0)]
    alpha: f64,
    /// CutMix alpha; 0 turns CutMix off.
    #[arg(long, default_value_t = 0.0)]
    cutmix_alpha: f64,
    /// Chance of CutMix instead of Mixup when both are on.
    #[arg(long, default_value_t = 0.5)]
    switch_prob: f64,
    /// One lambda per batch, per pair, or per image.
    #[arg(long, value_enum, default_value = "batch")]
    mix_mode: ModeArg,
    /// First epoch (0-based) trained on clean images.
    #[arg(long)]
    mix_off_epoch: Option<usize>,
    /// Label smoothing; 0 turns it off.
    #[arg(long, default_value_t = 0.1)]
    smoothing: f64,
    /// What --smoothing stands for: `uniform` (PyTorch, timm: 1-eps+eps/K on the
    /// target) or `off-target` (the tutorial's: 1-eps on the target, eps/(K-1) off).
    #[arg(long, value_enum, default_value = "uniform")]
    smoothing_convention: ConventionArg,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Width of the first stage (64 = ResNet-18; 8 or 16 for CPU smoke runs).
    #[arg(long, default_value_t = 64)]
    base_width: usize,
    /// PreAct ResNet-18 (the mixup paper's network).
    #[arg(long)]
    preact: bool,
    /// Train on the first N images only (every file is still validated).
    #[arg(long)]
    train_limit: Option<usize>,
    /// Evaluate on the first N test images only.
    #[arg(long)]
    test_limit: Option<usize>,
    /// Data-loader threads. 1 (default) prefetches in order and keeps runs
    /// reproducible; more threads deliver batches in completion order.
    #[arg(long, default_value_t = 1)]
    workers: usize,
    /// CUDA device indices, e.g. 0,1,2,3 (only with --features cuda).
    #[arg(long, value_delimiter = ',', default_value = "0")]
    devices: Vec<usize>,
    /// No progress bars: one line per epoch, for logs.
    #[arg(long)]
    quiet: bool,
    /// Measure training throughput instead of training: run this many timed steps
    /// (after --bench-warmup untimed ones), print one JSON line and exit. No
    /// evaluation, no files written besides the synthetic data.
    #[arg(long, value_name = "STEPS")]
    bench_steps: Option<usize>,
    /// Untimed steps before --bench-steps (compilation, autotuning, allocator warm-up).
    #[arg(long, default_value_t = 5)]
    bench_warmup: usize,
}

impl Cli {
    /// The configuration these flags describe, on top of `base`: every flag when
    /// starting a run, only those typed on the command line when resuming.
    fn apply(&self, mut c: TrainingConfig, given: impl Fn(&str) -> bool) -> TrainingConfig {
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
        set!(
            "mix_mode",
            c.mix_mode,
            match self.mix_mode {
                ModeArg::Batch => MixMode::Batch,
                ModeArg::Pair => MixMode::Pair,
                ModeArg::Elem => MixMode::Elem,
            }
        );
        set!("mix_off_epoch", c.mix_off_epoch, self.mix_off_epoch);
        set!("smoothing", c.smoothing, self.smoothing);
        set!(
            "smoothing_convention",
            c.smoothing_convention,
            match self.smoothing_convention {
                ConventionArg::Uniform => SmoothingConvention::Uniform,
                ConventionArg::OffTarget => SmoothingConvention::OffTarget,
            }
        );
        set!("seed", c.seed, self.seed);
        set!("base_width", c.model.base_width, self.base_width);
        set!("preact", c.model.preact, self.preact);
        set!("train_limit", c.train_limit, self.train_limit);
        set!("test_limit", c.test_limit, self.test_limit);
        set!("synthetic", c.synthetic, self.synthetic);
        c
    }
}

/// `runs/20261128-163500` from the current UTC time.
fn timestamp_dir() -> PathBuf {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0) as i64;
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
    PathBuf::from("runs").join(format!(
        "{year:04}{month:02}{day:02}-{:02}{:02}{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    ))
}

/// Checks that the device computes at all, turning a driver panic into an error.
fn check_device<B: Backend>(device: &B::Device, index: usize) -> Result<(), TrainError> {
    let device = device.clone();
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
        Tensor::<B, 1>::ones([4], &device).sum().into_scalar()
    }))
    .map_err(|panic| {
        let reason = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "unknown error".into());
        TrainError::Device(format!(
            "device {index} is not usable: {reason}\nCheck `nvidia-smi` and the NVIDIA driver, \
             or build without `--features cuda` to train on the CPU."
        ))
    })?;
    Ok(())
}

fn devices(indices: &[usize]) -> Result<Vec<burn::tensor::Device<TrainBackend>>, TrainError> {
    if indices.is_empty() {
        return Err(TrainError::Flag {
            flag: "devices",
            expected: "at least one device index",
            value: String::new(),
        });
    }
    #[cfg(feature = "cuda")]
    {
        let devices: Vec<_> = indices
            .iter()
            .map(|&i| burn_cuda::CudaDevice::new(i))
            .collect();
        for (device, &index) in devices.iter().zip(indices) {
            check_device::<Inner>(device, index)?;
        }
        Ok(devices)
    }
    #[cfg(not(feature = "cuda"))]
    {
        if indices != [0] {
            return Err(TrainError::Flag {
                flag: "devices",
                expected: "0 on the CPU (build with --features cuda for GPUs)",
                value: format!("{indices:?}"),
            });
        }
        let device = Default::default();
        check_device::<Inner>(&device, 0)?;
        Ok(vec![device])
    }
}

/// Opens CIFAR-10 (downloading it if allowed) or generates the synthetic set.
fn load_data(cli: &Cli, config: &TrainingConfig, out_dir: &Path) -> Result<Cifar10, DataError> {
    let mut data = match config.synthetic {
        Some(images) => {
            let root = out_dir.join("synthetic-data");
            data::write_synthetic(&root, images, (images / 5).max(1), config.seed)?;
            Cifar10::open(&root, RecordCount::Any)?
        }
        None => match Cifar10::open(&cli.data_dir, RecordCount::Official) {
            Err(DataError::Missing { .. }) if !cli.no_download => {
                let dest = cli.data_dir.join(download::ARCHIVE_NAME);
                eprintln!(
                    "CIFAR-10 not found in {}: downloading {}",
                    cli.data_dir.display(),
                    download::ARCHIVE_URL
                );
                download::fetch(&download::Source::official(), &dest, !cli.quiet)?;
                Cifar10::open(&cli.data_dir, RecordCount::Official)?
            }
            other => other?,
        },
    };
    if let Some(limit) = config.train_limit {
        data.train.truncate(limit);
    }
    if let Some(limit) = config.test_limit {
        data.test.truncate(limit);
    }
    Ok(data)
}

/// Times one forward + backward on two images and extrapolates to the whole run.
fn estimate_seconds<B: AutodiffBackend>(
    config: &TrainingConfig,
    device: &B::Device,
    train: usize,
    test: usize,
) -> f64 {
    let model = config.model.init::<B>(device);
    let images = || Tensor::<B, 4>::zeros([2, 3, 32, 32], device);
    let _ = model.forward(images()).sum().backward(); // warm-up
    let started = Instant::now();
    let _ = model.forward(images()).sum().backward();
    let per_image = started.elapsed().as_secs_f64() / 2.0;
    // Evaluation is a forward pass only: about a third of a training step.
    per_image * (train as f64 + test as f64 / 3.0) * config.epochs as f64
}

fn human(seconds: f64) -> String {
    match seconds {
        s if s < 120.0 => format!("{s:.0} s"),
        s if s < 7200.0 => format!("{:.0} min", s / 60.0),
        s if s < 172_800.0 => format!("{:.1} h", s / 3600.0),
        s => format!("{:.1} days", s / 86_400.0),
    }
}

fn run(cli: Cli, matches: &ArgMatches) -> Result<(), TrainError> {
    let typed = |id: &str| matches.value_source(id) == Some(ValueSource::CommandLine);
    let (config, out_dir, resume) = match &cli.resume {
        None => {
            let config = cli.apply(TrainingConfig::new(ResNetConfig::new()), |_| true);
            (
                config,
                cli.out_dir.clone().unwrap_or_else(timestamp_dir),
                None,
            )
        }
        Some(dir) => {
            let ckpt = dir.join("last.ckpt");
            let bytes = std::fs::read(&ckpt).map_err(|e| TrainError::Checkpoint {
                path: ckpt.clone(),
                reason: e.to_string(),
            })?;
            let (state, model, optim) = training::decode_checkpoint(&bytes, &ckpt)?;
            let saved: TrainingConfig =
                serde_json::from_value(state.config.clone()).map_err(|e| {
                    TrainError::Checkpoint {
                        path: ckpt.clone(),
                        reason: format!("unreadable configuration: {e}"),
                    }
                })?;
            // Only --epochs may change on resume (to extend a run); any other
            // run-defining flag typed now must agree with the checkpoint.
            let given = cli.apply(saved.clone(), typed);
            let mut without_epochs = given.clone();
            without_epochs.epochs = saved.epochs;
            if without_epochs != saved {
                let to_json =
                    |c: &TrainingConfig| serde_json::to_value(c).expect("config serialises");
                return Err(training::config_mismatch(
                    dir,
                    &to_json(&saved),
                    &to_json(&without_epochs),
                ));
            }
            let mut state = state;
            state.config = serde_json::to_value(&given).expect("config serialises");
            (given, dir.clone(), Some((state, model, optim)))
        }
    };
    config.validate()?;
    let devices = devices(&cli.devices)?;
    let device = &devices[0];
    let data = load_data(&cli, &config, &out_dir)?;
    eprintln!(
        "{} training / {} test images, {} epochs, batch {}, run folder {}",
        data.train.len(),
        data.test.len(),
        config.epochs,
        config.batch_size,
        out_dir.display()
    );
    if let Some(steps) = cli.bench_steps {
        if steps == 0 {
            return Err(TrainError::Flag {
                flag: "bench-steps",
                expected: "at least 1",
                value: "0".into(),
            });
        }
        let result = training::throughput::<TrainBackend>(
            &config,
            data.train,
            device,
            cli.workers,
            cli.bench_warmup,
            steps,
        )?;
        let backend = if cfg!(feature = "cuda") {
            "cuda"
        } else {
            "ndarray"
        };
        let mixing = if config.mixer()?.is_active() {
            "mixup"
        } else {
            "none"
        };
        let json = serde_json::json!({
            "backend": backend,
            "precision": "f32",
            "mixing": mixing,
            "smoothing": config.smoothing,
            "base_width": config.model.base_width,
            "throughput": result,
        });
        println!("{json}");
        return Ok(());
    }
    if cfg!(not(feature = "cuda")) {
        let seconds =
            estimate_seconds::<TrainBackend>(&config, device, data.train.len(), data.test.len());
        if seconds > 600.0 {
            eprintln!(
                "warning: training on the CPU (burn-ndarray); this run is estimated at {}.\n         \
                 For a GPU build add `--features cuda`; for a smoke run try \
                 `--synthetic --base-width 8 --epochs 3`.",
                human(seconds)
            );
        }
    }
    let interrupt = Arc::new(AtomicBool::new(false));
    {
        let interrupt = interrupt.clone();
        let _ = ctrlc::set_handler(move || {
            if interrupt.swap(true, Ordering::SeqCst) {
                eprintln!("\nsecond Ctrl-C: exiting without saving");
                std::process::exit(130);
            }
            eprintln!(
                "\nCtrl-C: saving a checkpoint after this step (Ctrl-C again to quit at once)"
            );
        });
    }
    let options = RunOptions {
        out_dir: out_dir.clone(),
        workers: cli.workers,
        quiet: cli.quiet,
        interrupt,
        stop_after_steps: None,
    };
    let summary = training::train::<TrainBackend>(
        &config, data.train, data.test, &devices, &options, resume,
    )?;
    if summary.interrupted {
        eprintln!(
            "stopped; resume with: cargo run --release --example cifar10_resnet18 {}-- --resume {}",
            if cfg!(feature = "cuda") {
                "--features cuda "
            } else {
                ""
            },
            out_dir.display()
        );
    } else if let Some(last) = summary.history.last() {
        eprintln!(
            "done: test accuracy {:.2}%; files in {}",
            100.0 * last.test_accuracy,
            out_dir.display()
        );
    }
    Ok(())
}

fn main() {
    let matches = Cli::command().get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    if let Err(err) = run(cli, &matches) {
        eprintln!("error: {err}");
        std::process::exit(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn help_documents_every_flag_and_defaults_match_the_recipe() {
        let help = Cli::command().render_long_help().to_string();
        for flag in [
            "--data-dir",
            "--synthetic",
            "--out-dir",
            "--resume",
            "--epochs",
            "--batch-size",
            "--lr",
            "--momentum",
            "--weight-decay",
            "--lr-milestones",
            "--alpha",
            "--cutmix-alpha",
            "--mix-mode",
            "--mix-off-epoch",
            "--smoothing",
            "--seed",
            "--base-width",
            "--preact",
            "--train-limit",
            "--test-limit",
            "--workers",
            "--devices",
            "--quiet",
        ] {
            assert!(help.contains(flag), "{flag} missing from --help");
        }
        let cli = Cli::try_parse_from(["x"]).unwrap();
        let config = cli.apply(TrainingConfig::new(ResNetConfig::new()), |_| true);
        assert_eq!(config, TrainingConfig::new(ResNetConfig::new()));
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
            (
                config.epochs,
                config.lr_milestones.clone(),
                config.mixup_alpha,
                config.smoothing
            ),
            (150, vec![50, 100], 1.0, 0.1)
        );
    }

    #[test]
    fn out_of_range_flags_are_named() {
        let parse = |args: &[&str]| {
            let cli =
                Cli::try_parse_from(std::iter::once("x").chain(args.iter().copied())).unwrap();
            cli.apply(TrainingConfig::new(ResNetConfig::new()), |_| true)
                .validate()
        };
        let flag_of = |r: Result<(), TrainError>| match r {
            Err(TrainError::Flag { flag, .. }) => flag.to_string(),
            Err(TrainError::Mixing(e)) => format!("mixing: {e}"),
            Err(TrainError::Loss(e)) => format!("loss: {e}"),
            other => panic!("{other:?}"),
        };
        assert_eq!(flag_of(parse(&["--lr=-1"])), "lr");
        assert_eq!(flag_of(parse(&["--epochs", "0"])), "epochs");
        assert_eq!(flag_of(parse(&["--momentum", "1.5"])), "momentum");
        assert!(
            parse(&["--mix-mode", "pair", "--batch-size", "7"]).is_ok(),
            "odd batches mix in every mode"
        );
        assert!(flag_of(parse(&["--smoothing", "1.2"])).contains("1.2"));
        assert!(flag_of(parse(&["--alpha=-0.5"])).contains("-0.5"));
        // Typed the way users type it: a negative value, not an unknown flag.
        assert!(flag_of(parse(&["--alpha", "-1"])).contains("-1"));
        assert_eq!(flag_of(parse(&["--lr", "-0.1"])), "lr");
        // Milestones in any order mean the same schedule.
        let cli = Cli::try_parse_from(["x", "--lr-milestones", "100,50"]).unwrap();
        let config = cli.apply(TrainingConfig::new(ResNetConfig::new()), |_| true);
        assert_eq!(config.lr_milestones, vec![50, 100]);
        // The tutorial's smoothing convention is selectable.
        let cli = Cli::try_parse_from(["x", "--smoothing-convention", "off-target"]).unwrap();
        let config = cli.apply(TrainingConfig::new(ResNetConfig::new()), |_| true);
        assert_eq!(
            config.criterion().convention,
            SmoothingConvention::OffTarget
        );
        assert!(Cli::try_parse_from(["x", "--smoothing-convention", "other"]).is_err());
        assert!(
            parse(&["--alpha", "0", "--smoothing", "0"]).is_ok(),
            "the plain baseline is valid"
        );
    }

    #[test]
    fn timestamp_is_a_plausible_utc_date() {
        let name = timestamp_dir();
        let stamp = name.file_name().unwrap().to_str().unwrap();
        assert_eq!(stamp.len(), 15);
        assert!(stamp.starts_with("20"), "{stamp}");
        assert_eq!(&stamp[8..9], "-");
    }
}
