//! ResNet-18 on CIFAR-10 with Mixup (and CutMix) and label smoothing, trained by
//! burn-train's `SupervisedTraining`.
//!
//! ```sh
//! cargo run --release --example cifar10_resnet18 --features cuda            # GPU, 150 epochs
//! cargo run --release --example cifar10_resnet18 -- --synthetic --base-width 8 --epochs 3   # CPU smoke run
//! cargo run --release --example cifar10_resnet18 --features cuda -- --alpha 0 --smoothing 0   # baseline
//! cargo run --release --example cifar10_resnet18 --features cuda -- --resume runs/<timestamp>
//! ```
//!
//! Files, as Burn's own examples: `data.rs` (CIFAR-10 binary reader, synthetic set),
//! `download.rs`, `augment.rs` (crop/flip/normalise batchers), `model.rs`
//! (ResNet-18), `config.rs` (the run's settings and errors), `cli.rs` (flags, resume),
//! `loader.rs` (epoch-seeded training loader), `training.rs` (train/inference steps,
//! `SupervisedTraining`), `metrics.rs` (metrics.csv, curves.svg) and `checkpoint.rs`
//! (atomic, verified checkpoint files).

mod augment;
mod checkpoint;
mod cli;
mod config;
mod data;
mod download;
mod loader;
mod metrics;
mod model;
mod training;

use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::backend::Autodiff;
use burn::data::dataset::Dataset;
use burn::tensor::Tensor;
use burn::tensor::backend::AutodiffBackend;
use burn::train::Interrupter;
use clap::{ArgMatches, CommandFactory, FromArgMatches};

use crate::checkpoint::write_atomically;
use crate::cli::{Cli, prepare};
use crate::config::{BackendKind, TrainError, TrainingConfig};
use crate::data::{Cifar10, DataError, RecordCount};
use crate::training::RunOptions;

/// Opens CIFAR-10 (downloading it if allowed) or generates the synthetic set.
fn load_data(
    config: &TrainingConfig,
    out_dir: &Path,
    download: bool,
) -> Result<Cifar10, DataError> {
    let root = &config.data_dir;
    let mut data = match config.synthetic {
        Some(images) => {
            let root = out_dir.join("synthetic-data");
            data::write_synthetic(&root, images, (images / 5).max(1), config.seed)?;
            Cifar10::open(&root, RecordCount::Any)?
        }
        None => match Cifar10::open(root, RecordCount::Official) {
            Err(DataError::Missing { .. }) if download => {
                let dest = root.join(download::ARCHIVE_NAME);
                eprintln!(
                    "CIFAR-10 not found in {}: downloading {}",
                    root.display(),
                    download::ARCHIVE_URL
                );
                download::fetch(&download::Source::official(), &dest, true)?;
                Cifar10::open(root, RecordCount::Official)?
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
    data: &Cifar10,
) -> f64 {
    let model = config.model.init::<B>(device);
    let images = || Tensor::<B, 4>::zeros([2, 3, 32, 32], device);
    let _ = model.forward(images()).sum().backward(); // warm-up
    let started = Instant::now();
    let _ = model.forward(images()).sum().backward();
    let per_image = started.elapsed().as_secs_f64() / 2.0;
    // Evaluation is a forward pass only: about a third of a training step.
    let images = data.train.len() as f64 + data.test.len() as f64 / 3.0;
    per_image * images * config.epochs as f64
}

fn run_on<B: AutodiffBackend>(
    cli: &Cli,
    config: &TrainingConfig,
    data: Cifar10,
    devices: Vec<B::Device>,
    options: RunOptions,
) -> Result<(), TrainError> {
    if let Some(steps) = cli.bench_steps {
        if steps == 0 {
            return Err(TrainError::Flag {
                flag: "bench-steps",
                expected: "at least 1",
                value: "0".into(),
            });
        }
        let result =
            training::throughput::<B>(config, data.train, &devices[0], cli.bench_warmup, steps)?;
        let json = serde_json::json!({
            "backend": format!("{:?}", config.backend).to_lowercase(),
            "precision": "f32",
            "mixing": if config.mixer()?.is_active() { "mixup" } else { "none" },
            "smoothing": config.smoothing,
            "base_width": config.model.base_width,
            "throughput": result,
        });
        println!("{json}");
        return Ok(());
    }
    if matches!(config.backend, BackendKind::Flex | BackendKind::Ndarray) {
        let seconds = estimate_seconds::<B>(config, &devices[0], &data);
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
    training::train::<B>(config, data.train, data.test, devices, &options)
}

/// Checks that a GPU computes at all, turning a driver panic into an error.
#[cfg(feature = "cuda")]
fn cuda_devices(indices: &[usize]) -> Result<Vec<burn_cuda::CudaDevice>, TrainError> {
    let devices: Vec<_> = indices
        .iter()
        .map(|&i| burn_cuda::CudaDevice::new(i))
        .collect();
    for (device, index) in devices.iter().zip(indices) {
        let device = device.clone();
        std::panic::catch_unwind(move || {
            Tensor::<burn_cuda::Cuda, 1>::ones([4], &device)
                .sum()
                .into_scalar()
        })
        .map_err(|_| {
            TrainError::Device(format!(
                "device {index} is not usable: check `nvidia-smi` and the NVIDIA driver, \
                 or train on the CPU with --backend flex"
            ))
        })?;
    }
    Ok(devices)
}

fn run(cli: Cli, matches: &ArgMatches) -> Result<(), TrainError> {
    let (config, dir, resume_from) = prepare(&cli, matches)?;
    let io = |path: PathBuf| move |source| TrainError::Io { path, source };
    // The folder first (an unwritable one fails here, naming it), then the data, and
    // config.json only once the run can start: a failed start leaves no run behind.
    if cli.bench_steps.is_none() || config.synthetic.is_some() {
        std::fs::create_dir_all(&dir).map_err(io(dir.clone()))?;
    }
    let root = &config.data_dir;
    if config.synthetic.is_none() && root.exists() && !root.is_dir() {
        return Err(TrainError::Flag {
            flag: "data-dir",
            expected: "a folder (it holds or will hold CIFAR-10)",
            value: format!("{} (a file)", root.display()),
        });
    }
    let data = load_data(&config, &dir, !cli.no_download)?;
    if config.batch_size > data.train.len() {
        return Err(TrainError::Flag {
            flag: "batch-size",
            expected: "at most the number of training images",
            value: format!("{} for {} images", config.batch_size, data.train.len()),
        });
    }
    if cli.bench_steps.is_none() {
        write_atomically(&dir.join("config.json"), config.to_string().as_bytes())
            .map_err(io(dir.join("config.json")))?;
    }
    eprintln!(
        "{} training / {} test images, {} epochs, batch {}, {:?}, run folder {}{}",
        data.train.len(),
        data.test.len(),
        config.epochs,
        config.batch_size,
        config.backend,
        dir.display(),
        resume_from.map_or(String::new(), |e| format!(", continuing after epoch {e}"))
    );
    let interrupter = Interrupter::new();
    let handle = interrupter.clone();
    let _ = ctrlc::set_handler(move || {
        if handle.should_stop() {
            eprintln!("\nsecond Ctrl-C: exiting at once");
            std::process::exit(130);
        }
        eprintln!(
            "\nCtrl-C: stopping; the last finished epoch is saved (Ctrl-C again to quit now)"
        );
        handle.stop(Some("Ctrl-C"));
    });
    let options = RunOptions {
        dir: dir.clone(),
        resume_from,
        display: cli.display(),
        interrupter: interrupter.clone(),
    };
    match config.backend {
        BackendKind::Flex => {
            let devices = vec![Default::default()];
            run_on::<Autodiff<burn_flex::Flex>>(&cli, &config, data, devices, options)?
        }
        BackendKind::Ndarray => {
            let devices = vec![Default::default()];
            run_on::<Autodiff<burn_ndarray::NdArray>>(&cli, &config, data, devices, options)?
        }
        #[cfg(feature = "cuda")]
        BackendKind::Cuda => {
            let devices = cuda_devices(&config.devices)?;
            run_on::<Autodiff<burn_cuda::Cuda>>(&cli, &config, data, devices, options)?
        }
        #[cfg(not(feature = "cuda"))]
        BackendKind::Cuda => {
            return Err(TrainError::Device(
                "this build has no CUDA backend: rebuild with `--features cuda`".into(),
            ));
        }
        #[cfg(feature = "wgpu")]
        BackendKind::Wgpu => {
            let devices = vec![burn_wgpu::WgpuDevice::default()];
            run_on::<Autodiff<burn_wgpu::Wgpu>>(&cli, &config, data, devices, options)?
        }
        #[cfg(not(feature = "wgpu"))]
        BackendKind::Wgpu => {
            return Err(TrainError::Device(
                "this build has no wgpu backend: rebuild with `--features wgpu`".into(),
            ));
        }
    }
    if cli.bench_steps.is_some() {
        return Ok(());
    }
    if interrupter.should_stop() {
        let cuda = if cfg!(feature = "cuda") {
            "--features cuda "
        } else {
            ""
        };
        eprintln!(
            "stopped; continue with: cargo run --release --example cifar10_resnet18 {cuda}-- --resume {}",
            dir.display()
        );
    } else if let Some(last) = metrics::read_rows(&dir).last() {
        eprintln!(
            "done: test accuracy {:.2}%; files in {}",
            last.test_accuracy,
            dir.display()
        );
    }
    Ok(())
}

fn main() {
    let matches = Cli::command().get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    if let Err(err) = run(cli, &matches) {
        eprintln!("error: {err}");
        std::process::exit(1);
    }
}
