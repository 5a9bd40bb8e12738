//! ResNet-18 on CIFAR-10 (or Fashion-MNIST) with Mixup (and CutMix) and label smoothing, trained by
//! burn-train's `SupervisedTraining` on Burn 0.22.
//!
//! ```sh
//! cargo run --release --example cifar10_resnet18 --features cuda            # GPU, 150 epochs
//! cargo run --release --example cifar10_resnet18 -- --synthetic --base-width 8 --epochs 3   # CPU smoke run
//! cargo run --release --example cifar10_resnet18 -- --dataset fashion-mnist --base-width 16 --train-size 10000 --epochs 15 --lr-milestones 8,12   # real images on the CPU
//! cargo run --release --example cifar10_resnet18 --features cuda -- --alpha 0 --smoothing 0   # baseline
//! cargo run --release --example cifar10_resnet18 --features cuda -- --resume runs/<timestamp>
//! ```
//!
//! Files, as Burn's own examples: `images.rs` (an image set in memory),
//! `dataset.rs` (which data set, found, generated and split), `data.rs` (CIFAR-10
//! binary reader, synthetic set), `fashion.rs` (Fashion-MNIST's IDX files),
//! `download.rs`, `augment.rs` (crop/flip/normalise batchers), `model.rs`
//! (ResNet-18), `config.rs` (the run's settings), `error.rs` (what a run reports),
//! `cli.rs` (flags),
//! `loader.rs` (epoch-seeded, per-device training loaders), `training.rs`
//! (train/inference steps, `SupervisedTraining`), `resume.rs` (what `--resume`
//! keeps and where it continues), `metrics.rs` (metrics.csv),
//! `curves.rs` (curves.svg), `calibrate.rs` (the validation split, temperature
//! scaling, calibration.json and reliability.svg), `watch.rs` (faults and the checkpoint veto),
//! `checkpoint.rs` (verified checkpoint files), `folder.rs` (one process per run
//! folder) and `signals.rs` (SIGINT and SIGTERM).
//!
//! Exit status: 0 when every epoch trained; 1 for an error (bad input, a diverged
//! loss, a file that cannot be written, a training error), with the cause named; 2
//! for a command line clap cannot parse; `128 + signal` (130, 143) when a signal
//! stopped the run, which stays resumable.

mod augment;
mod calibrate;
mod checkpoint;
mod cli;
mod config;
mod curves;
mod data;
mod dataset;
mod download;
mod error;
mod fashion;
mod folder;
mod idx;
mod images;
mod loader;
mod metrics;
mod model;
mod resume;
mod signals;
mod training;
mod watch;

use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::data::dataset::Dataset;
use burn::tensor::{Device, Tensor};
use burn::train::Interrupter;
use clap::{ArgMatches, CommandFactory, FromArgMatches};

use crate::checkpoint::write_atomically;
use crate::cli::Cli;
use crate::config::{BackendKind, TrainError, TrainingConfig};
use crate::folder::{LOCK_FILE, RunLock};
use crate::images::{ImageFormat, Splits};
use crate::resume::{plan, resume_point};
use crate::training::{Finish, RunOptions};

/// Times one forward + backward on two images and extrapolates to the whole run.
fn estimate_seconds(config: &TrainingConfig, device: &Device, data: &Splits) -> f64 {
    let device = device.clone().autodiff();
    let model = config.model.init(&device);
    let ImageFormat { channels, side, .. } = config.dataset.format();
    let images = || Tensor::<4>::zeros([2, channels, side, side], &device);
    let _ = model.forward(images()).sum().backward(); // warm-up
    let started = Instant::now();
    let _ = model.forward(images()).sum().backward();
    let per_image = started.elapsed().as_secs_f64() / 2.0;
    // Evaluation is a forward pass only: about a third of a training step.
    let images = data.train.len() as f64 + data.test.len() as f64 / 3.0;
    per_image * images * config.epochs as f64
}

/// Checks that each GPU computes at all, turning a driver panic into an error.
#[cfg(feature = "cuda")]
fn cuda_devices(indices: &[usize]) -> Result<Vec<Device>, TrainError> {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let probed: Vec<_> = indices
        .iter()
        .map(|&index| {
            let device = Device::cuda(index);
            let probe = device.clone();
            let works = std::panic::catch_unwind(move || {
                Tensor::<1>::ones([4], &probe)
                    .sum()
                    .try_into_scalar::<f32>()
                    .is_ok_and(|sum| sum == 4.0)
            });
            (index, device, works.unwrap_or(false))
        })
        .collect();
    std::panic::set_hook(hook);
    probed
        .into_iter()
        .map(|(index, device, works)| {
            works.then_some(device).ok_or_else(|| {
                TrainError::Device(format!(
                    "CUDA device {index} is not usable: check `nvidia-smi`, the NVIDIA driver \
                     and the CUDA toolkit's libdevice, or train on the CPU with --backend flex"
                ))
            })
        })
        .collect()
}

/// The devices of a run: the backend is chosen by the device value (Burn 0.22).
fn devices(config: &TrainingConfig) -> Result<Vec<Device>, TrainError> {
    Ok(match config.backend {
        BackendKind::Flex => vec![Device::flex()],
        // burn-ndarray is deprecated in Burn 0.22 (flex replaces it); still offered.
        #[allow(deprecated)]
        BackendKind::Ndarray => vec![Device::ndarray()],
        #[cfg(feature = "cuda")]
        BackendKind::Cuda => cuda_devices(&config.devices)?,
        #[cfg(not(feature = "cuda"))]
        BackendKind::Cuda => {
            return Err(TrainError::Device(
                "this build has no CUDA backend: rebuild with `--features cuda`".into(),
            ));
        }
        #[cfg(feature = "wgpu")]
        BackendKind::Wgpu => vec![Device::wgpu(burn::tensor::DeviceKind::DefaultDevice)],
        #[cfg(not(feature = "wgpu"))]
        BackendKind::Wgpu => {
            return Err(TrainError::Device(
                "this build has no wgpu backend: rebuild with `--features wgpu`".into(),
            ));
        }
    })
}

/// How a run that did not fail ended: the process's exit status.
enum Outcome {
    Done,
    Stopped(i32),
}

/// Removes what a start that failed before `config.json` left in a folder it
/// created: the lock file, then the folder if that emptied it.
fn undo_start(dir: &Path) {
    if !dir.join("config.json").exists() {
        let _ = std::fs::remove_file(dir.join(LOCK_FILE));
        let _ = std::fs::remove_dir(dir);
    }
}

fn run(cli: Cli, matches: &ArgMatches) -> Result<Outcome, TrainError> {
    let plan = plan(&cli, matches)?;
    let (mut config, dir) = (plan.config, plan.dir);
    let io = |path: PathBuf| move |source| TrainError::Io { path, source };
    let benchmark = cli.bench_steps.is_some();
    // The folder and its lock first (an unwritable folder fails here, naming it; a
    // folder another process trains in is refused before anything in it is read
    // or cleaned), then the data, and config.json only once the run can start.
    let lock = if !benchmark || config.synthetic.is_some() {
        let fresh = !dir.exists();
        let lock = RunLock::acquire(&dir).inspect_err(|_| {
            if fresh {
                let _ = std::fs::remove_dir_all(&dir);
            }
        })?;
        Some(lock)
    } else {
        None
    };
    let started = (|| {
        let resume_from = if plan.resuming {
            resume_point(&config, &dir)?
        } else {
            None
        };
        let root = &config.data_dir;
        if config.synthetic.is_none() && root.exists() && !root.is_dir() {
            return Err(TrainError::Flag {
                flag: "data-dir",
                expected: "a folder (it holds or will hold the data set)",
                value: format!("{} (a file)", root.display()),
            });
        }
        let mut data = dataset::load(&config, &dir, !cli.no_download)?;
        let validation;
        (data.train, validation) = dataset::split_training(&mut config, data.train, plan.resuming)?;
        if config.batch_size > data.train.len() {
            return Err(TrainError::Flag {
                flag: "batch-size",
                expected: "at most the number of training images (less --val-size)",
                value: format!("{} for {} images", config.batch_size, data.train.len()),
            });
        }
        let devices = devices(&config)?;
        if !benchmark {
            write_atomically(&dir.join("config.json"), config.to_string().as_bytes())
                .map_err(io(dir.join("config.json")))?;
        }
        Ok((resume_from, data, validation, devices))
    })();
    let (resume_from, data, validation, devices) = match started {
        Ok(started) => started,
        Err(error) => {
            if !plan.resuming && lock.is_some() {
                undo_start(&dir);
            }
            return Err(error);
        }
    };
    if let Some(steps) = cli.bench_steps {
        if steps == 0 {
            return Err(TrainError::Flag {
                flag: "bench-steps",
                expected: "at least 1",
                value: "0".into(),
            });
        }
        let result =
            training::throughput(&config, data.train, &devices[0], cli.bench_warmup, steps)?;
        let json = serde_json::json!({
            "backend": format!("{:?}", config.backend).to_lowercase(),
            "precision": "f32",
            "mixing": if config.mixer()?.is_active() { "mixup" } else { "none" },
            "smoothing": config.smoothing,
            "base_width": config.model.base_width,
            "throughput": result,
        });
        println!("{json}");
        return Ok(Outcome::Done);
    }
    eprintln!(
        "{}: {} training / {} test images, {} epochs, batch {}, {:?}, run folder {}{}",
        if config.synthetic.is_some() {
            "synthetic"
        } else {
            config.dataset.name()
        },
        data.train.len(),
        data.test.len(),
        config.epochs,
        config.batch_size,
        config.backend,
        dir.display(),
        resume_from.map_or(String::new(), |e| format!(", continuing after epoch {e}"))
    );
    if matches!(config.backend, BackendKind::Flex | BackendKind::Ndarray) {
        let seconds = estimate_seconds(&config, &devices[0], &data);
        if seconds > 600.0 {
            eprintln!(
                "warning: training on the CPU ({:?}); this run is estimated at {:.1} h.\n         \
                 For a GPU build add `--features cuda`; for a smoke run try \
                 `--synthetic --base-width 8 --epochs 3`.",
                config.backend,
                seconds / 3600.0
            );
        }
    }
    let interrupter = Interrupter::new();
    let caught = signals::install(interrupter.clone()).map_err(|e| {
        TrainError::Device(format!("cannot install the SIGINT/SIGTERM handler: {e}"))
    })?;
    let options = RunOptions {
        dir: dir.clone(),
        resume_from,
        display: cli.display(),
        interrupter,
        allow_divergence: cli.allow_divergence,
    };
    let device = devices[0].clone();
    let trained = training::train(&config, data.train, data.test.clone(), devices, &options)?;
    let last = metrics::read_rows(&dir).last().copied();
    match trained.finish {
        Finish::Completed => {
            if let Some(last) = last {
                eprintln!("done: test accuracy {:.2}%", last.test_accuracy);
            }
            if !validation.is_empty() {
                let batch = config.batch_size.max(256);
                let c = calibrate::calibrate(
                    &trained.model.net,
                    validation,
                    data.test,
                    &device,
                    batch,
                    &dir,
                )?;
                let held = c.validation_images;
                match c.temperature {
                    Ok(t) => eprintln!(
                        "temperature {t:.3} (fitted on {held} held-out images): test ECE {:.2}% -> {:.2}%, NLL {:.4} -> {:.4}; calibration.json, reliability.svg",
                        100.0 * c.ece.0,
                        100.0 * c.ece.1,
                        c.nll.0,
                        c.nll.1
                    ),
                    Err(why) => eprintln!(
                        "warning: no temperature from the {held} held-out images ({why}); calibration.json \
                         holds the raw test figures. A larger --val-size gives the fit more to go on."
                    ),
                }
            }
            eprintln!("files in {}", dir.display());
            Ok(Outcome::Done)
        }
        Finish::Stopped(reason) => {
            let (by, status) = match caught.signal() {
                Some(signal) => (
                    signals::name(signal).to_string(),
                    signals::exit_status(signal),
                ),
                // The TUI's quit key: a user's stop, as Ctrl-C.
                None => (reason.unwrap_or_else(|| "a stop request".into()), 130),
            };
            let cuda = if cfg!(feature = "cuda") {
                "--features cuda "
            } else {
                ""
            };
            match checkpoint::last_complete_epoch(&dir, config.fingerprint()) {
                Ok(Some(saved)) => eprintln!(
                    "stopped by {by}; epoch {saved} is saved; continue with: cargo run \
                     --release --example cifar10_resnet18 {cuda}-- --resume {}",
                    dir.display()
                ),
                _ => eprintln!(
                    "stopped by {by} before the first epoch finished: nothing is saved; \
                     start the run again"
                ),
            }
            Ok(Outcome::Stopped(status))
        }
    }
}

fn main() {
    let matches = Cli::command().get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    match run(cli, &matches) {
        Ok(Outcome::Done) => {}
        Ok(Outcome::Stopped(status)) => std::process::exit(status),
        Err(err) => {
            eprintln!("error: {err}");
            std::process::exit(1);
        }
    }
}
