//! The training run: configuration, the epoch loop, evaluation, checkpoints and resume.
//!
//! Everything random is a function of the seed: model initialisation (Burn's backend
//! seed), the data order of each epoch, each image's augmentation and the mixer's
//! stream (whose two-integer state the checkpoint stores). With `--workers 1` (one
//! prefetching thread, batches in order) a run resumed from a checkpoint therefore
//! reproduces the uninterrupted run's metrics exactly.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Instant;

use burn::config::Config;
use burn::data::dataloader::split::split_dataloader;
use burn::data::dataloader::{DataLoaderBuilder, DataLoaderIterator};
use burn::data::dataset::Dataset;
use burn::module::{AutodiffModule, Module};
use burn::nn::loss::Reduction;
use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{GradientsParams, Optimizer, SgdConfig};
use burn::record::{BinBytesRecorder, FullPrecisionSettings, Recorder};
use burn::tensor::Tensor;
use burn::tensor::activation::softmax;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn_mixup::{
    LabelSmoothingCrossEntropyConfig, MixConfig, MixError, MixMode, MixedBatch, Mixer,
    MixupBatcher, Pairing, SmoothingConvention,
};
use indicatif::{ProgressBar, ProgressStyle};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use thiserror::Error;

use crate::augment::{CifarBatch, CifarBatcher};
use crate::checkpoint::write_atomically;
use crate::data::{CifarDataset, CifarItem, DataError};
use crate::metrics::{EpochMetrics, MetricsLog, expected_calibration_error};
use crate::model::{ResNet, ResNetConfig};
use crate::multi::MultiDevice;

/// Every hyper-parameter of a run; saved as `config.json` next to the checkpoints.
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
    /// Epochs at which the learning rate is multiplied by `lr_gamma`.
    #[config(default = "vec![50, 100]")]
    pub lr_milestones: Vec<usize>,
    #[config(default = 0.1)]
    pub lr_gamma: f64,
    /// Mixup alpha; 0 turns Mixup off.
    #[config(default = 1.0)]
    pub mixup_alpha: f64,
    /// CutMix alpha; 0 turns CutMix off.
    #[config(default = 0.0)]
    pub cutmix_alpha: f64,
    /// Chance of CutMix when both are on.
    #[config(default = 0.5)]
    pub switch_prob: f64,
    #[config(default = "MixMode::Batch")]
    pub mix_mode: MixMode,
    /// First epoch trained without mixing.
    pub mix_off_epoch: Option<usize>,
    /// Label smoothing (uniform convention); 0 turns it off.
    #[config(default = 0.1)]
    pub smoothing: f64,
    /// Which distribution the smoothing stands for: `Uniform` (PyTorch, timm) or
    /// `OffTarget` (the tutorial's eps/(K-1) off target).
    #[config(default = "SmoothingConvention::Uniform")]
    pub smoothing_convention: SmoothingConvention,
    #[config(default = 0)]
    pub seed: u64,
    /// Use only the first N training images (all files are still validated).
    pub train_limit: Option<usize>,
    pub test_limit: Option<usize>,
    /// Train on a generated set of this many training images instead of CIFAR-10.
    pub synthetic: Option<usize>,
}

/// Why a run could not start or go on.
#[derive(Debug, Error)]
pub enum TrainError {
    #[error(transparent)]
    Data(#[from] DataError),
    #[error("--{flag} must be {expected}, got {value}")]
    Flag {
        flag: &'static str,
        expected: &'static str,
        value: String,
    },
    #[error("invalid mixing options: {0}")]
    Mixing(#[from] MixError),
    #[error("invalid loss options: {0}")]
    Loss(#[from] burn_mixup::LossError),
    #[error("checkpoint {path} is unusable: {reason}")]
    Checkpoint { path: PathBuf, reason: String },
    #[error(
        "checkpoint in {dir} comes from another configuration: {field} is {saved} there but {given} here"
    )]
    ConfigMismatch {
        dir: PathBuf,
        field: String,
        saved: String,
        given: String,
    },
    #[error("cannot write {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Device(String),
}

impl TrainingConfig {
    /// Range checks of every flag, each error naming the flag and the value.
    pub fn validate(&self) -> Result<(), TrainError> {
        let flag = |flag, expected, value: String| {
            Err(TrainError::Flag {
                flag,
                expected,
                value,
            })
        };
        if self.epochs == 0 {
            return flag("epochs", "at least 1", self.epochs.to_string());
        }
        if self.batch_size == 0 {
            return flag("batch-size", "at least 1", self.batch_size.to_string());
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return flag("lr", "a finite number > 0", self.lr.to_string());
        }
        if !(0.0..1.0).contains(&self.momentum) {
            return flag("momentum", "in [0, 1)", self.momentum.to_string());
        }
        if !(self.weight_decay.is_finite() && self.weight_decay >= 0.0) {
            return flag(
                "weight-decay",
                "finite and >= 0",
                self.weight_decay.to_string(),
            );
        }
        if !(self.lr_gamma.is_finite() && self.lr_gamma > 0.0) {
            return flag("lr-gamma", "a finite number > 0", self.lr_gamma.to_string());
        }
        if self.model.base_width == 0 {
            return flag("base-width", "at least 1", "0".into());
        }
        if self.train_limit == Some(0) || self.test_limit == Some(0) {
            return flag("train-limit/test-limit", "at least 1", "0".into());
        }
        if self.synthetic == Some(0) {
            return flag("synthetic", "at least 1 image", "0".into());
        }
        self.criterion()
            .init::<burn_ndarray::NdArray>(&Default::default())?;
        self.mixer()?;
        Ok(())
    }

    /// The training criterion: label smoothing with the chosen convention.
    pub fn criterion(&self) -> LabelSmoothingCrossEntropyConfig {
        LabelSmoothingCrossEntropyConfig::new()
            .with_smoothing(self.smoothing)
            .with_convention(self.smoothing_convention)
    }

    /// The mixer; with both alphas 0 a disabled one, so a plain run goes through
    /// the same loader and training step.
    pub fn mixer(&self) -> Result<Mixer, MixError> {
        MixConfig::new()
            .with_mixup_alpha(self.mixup_alpha)
            .with_cutmix_alpha(self.cutmix_alpha)
            .with_switch_prob(self.switch_prob)
            .with_mode(self.mix_mode)
            // A fresh permutation per batch, as the mixup paper's code.
            .with_pairing(Pairing::Permutation)
            .with_off_epoch(self.mix_off_epoch)
            .with_seed(Some(self.seed))
            .init()
    }

    /// Learning rate during `epoch`: multiplied by `lr_gamma` at each milestone.
    pub fn lr_at(&self, epoch: usize) -> f64 {
        let passed = self.lr_milestones.iter().filter(|&&m| epoch >= m).count();
        self.lr * self.lr_gamma.powi(passed as i32)
    }
}

/// The data of one epoch in its shuffled order, starting at `offset` (a resumed
/// epoch skips the batches already trained on). The order is a function of
/// `(seed, epoch)` alone.
pub struct EpochOrder {
    data: Arc<CifarDataset>,
    order: RwLock<(Vec<usize>, usize)>,
    seed: u64,
}

impl EpochOrder {
    pub fn new(data: Arc<CifarDataset>, seed: u64) -> Self {
        let order = (0..data.len()).collect();
        Self {
            data,
            order: RwLock::new((order, 0)),
            seed,
        }
    }

    pub fn set_epoch(&self, epoch: usize, offset: usize) {
        let mut order: Vec<usize> = (0..self.data.len()).collect();
        let mut rng = rand::rngs::Xoshiro256PlusPlus::seed_from_u64(
            self.seed ^ (epoch as u64).wrapping_mul(0xA24B_AED4_963E_E407),
        );
        order.shuffle(&mut rng);
        *self.order.write().expect("no panic while holding the lock") = (order, offset);
    }
}

impl Dataset<CifarItem> for EpochOrder {
    fn get(&self, index: usize) -> Option<CifarItem> {
        let guard = self.order.read().expect("no panic while holding the lock");
        let (order, offset) = &*guard;
        self.data.get(*order.get(offset + index)?)
    }

    fn len(&self) -> usize {
        let guard = self.order.read().expect("no panic while holding the lock");
        guard.0.len().saturating_sub(guard.1)
    }
}

/// The training loader: CIFAR batches through the mixer, over the epoch order.
fn train_loader<B: Backend>(
    mixer: &Mixer,
    batcher: &CifarBatcher,
    order: &Arc<EpochOrder>,
    batch_size: usize,
    workers: usize,
) -> Arc<dyn burn::data::dataloader::DataLoader<B, MixedBatch<B, 4>>> {
    let data = ArcDataset(order.clone());
    DataLoaderBuilder::new(MixupBatcher::new(batcher.clone(), mixer.clone()))
        .batch_size(batch_size)
        .num_workers(workers)
        .build(data)
}

/// What a checkpoint holds besides the model and optimizer records.
#[derive(Debug, Clone, PartialEq, burn::serde::Serialize, burn::serde::Deserialize)]
#[serde(crate = "burn::serde")]
pub struct RunState {
    pub config: serde_json::Value,
    /// Epoch in progress (0-based); `step` batches of it are done.
    pub epoch: usize,
    pub step: usize,
    /// The mixer's next draw index at the start of `epoch` (`None` before the first
    /// epoch of a fresh run and for runs without mixing).
    pub mixer_at_epoch_start: Option<u64>,
    /// Train-loss and accuracy sums (weighted by batch size) and images so far in `epoch`.
    pub partial: (f64, f64, usize),
    pub partial_seconds: f64,
    pub history: Vec<EpochMetrics>,
    pub best_accuracy: f64,
}

const MAGIC: &[u8; 8] = b"BMXCKPT1";

/// FNV-1a, 64-bit: detects torn or corrupted checkpoint files.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Checkpoint file: magic, three length-prefixed sections (state JSON, model, optimizer),
/// then a checksum of everything before it.
pub fn encode_checkpoint(state: &RunState, model: Vec<u8>, optimizer: Vec<u8>) -> Vec<u8> {
    let json = serde_json::to_vec(state).expect("run state serialises");
    let mut out = MAGIC.to_vec();
    for section in [&json, &model, &optimizer] {
        out.extend_from_slice(&(section.len() as u64).to_le_bytes());
        out.extend_from_slice(section);
    }
    let sum = fnv1a(&out);
    out.extend_from_slice(&sum.to_le_bytes());
    out
}

pub fn decode_checkpoint(
    bytes: &[u8],
    path: &Path,
) -> Result<(RunState, Vec<u8>, Vec<u8>), TrainError> {
    let bad = |reason: &str| TrainError::Checkpoint {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    };
    if bytes.len() < MAGIC.len() + 8 || &bytes[..8] != MAGIC {
        return Err(bad("not a burn-mixup checkpoint (bad header)"));
    }
    let (body, sum) = bytes.split_at(bytes.len() - 8);
    if fnv1a(body) != u64::from_le_bytes(sum.try_into().expect("8 bytes")) {
        return Err(bad("checksum mismatch (truncated or corrupted)"));
    }
    let mut rest = &body[8..];
    let mut sections = Vec::new();
    for _ in 0..3 {
        if rest.len() < 8 {
            return Err(bad("truncated section header"));
        }
        let len = u64::from_le_bytes(rest[..8].try_into().expect("8 bytes")) as usize;
        rest = &rest[8..];
        if rest.len() < len {
            return Err(bad("truncated section"));
        }
        sections.push(rest[..len].to_vec());
        rest = &rest[len..];
    }
    let optimizer = sections.pop().expect("three sections");
    let model = sections.pop().expect("three sections");
    let state: RunState =
        serde_json::from_slice(&sections[0]).map_err(|e| bad(&format!("unreadable state: {e}")))?;
    Ok((state, model, optimizer))
}

/// Options that do not change the result of a run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub out_dir: PathBuf,
    pub workers: usize,
    pub quiet: bool,
    /// Set by Ctrl-C: save and stop after the current step.
    pub interrupt: Arc<AtomicBool>,
    /// Stop (with a checkpoint) after this many steps in total: for tests of
    /// mid-epoch resume.
    pub stop_after_steps: Option<usize>,
}

/// The result of a run.
#[derive(Debug, Clone)]
pub struct RunSummary {
    pub history: Vec<EpochMetrics>,
    pub interrupted: bool,
}

/// Loss and accuracy tensors of recent steps with their batch sizes, read back together.
type PendingMetrics<B> = Vec<(Tensor<B, 1>, Tensor<B, 1>, usize)>;

type Sgd<B, M> = burn::optim::adaptor::OptimizerAdaptor<
    burn::optim::Sgd<<B as AutodiffBackend>::InnerBackend>,
    M,
    B,
>;

fn optimizer<B: AutodiffBackend>(config: &TrainingConfig) -> Sgd<B, ResNet<B>> {
    let mut sgd = SgdConfig::new().with_momentum(Some(MomentumConfig {
        momentum: config.momentum,
        dampening: 0.0,
        nesterov: false,
    }));
    if config.weight_decay > 0.0 {
        sgd = sgd.with_weight_decay(Some(WeightDecayConfig::new(config.weight_decay as f32)));
    }
    sgd.init()
}

fn recorder() -> BinBytesRecorder<FullPrecisionSettings> {
    BinBytesRecorder::default()
}

/// Trains (or resumes) a run in `options.out_dir`.
///
/// `resume` holds the bytes of `last.ckpt` when continuing a run.
pub fn train<B: AutodiffBackend>(
    config: &TrainingConfig,
    train_set: CifarDataset,
    test_set: CifarDataset,
    devices: &[B::Device],
    options: &RunOptions,
    resume: Option<(RunState, Vec<u8>, Vec<u8>)>,
) -> Result<RunSummary, TrainError> {
    config.validate()?;
    let device = devices
        .first()
        .ok_or_else(|| TrainError::Device("no device given".into()))?;
    if !config.batch_size.is_multiple_of(devices.len()) {
        return Err(TrainError::Flag {
            flag: "batch-size",
            expected: "a multiple of the number of devices",
            value: format!("{} for {} devices", config.batch_size, devices.len()),
        });
    }
    let multi = (devices.len() > 1).then(|| MultiDevice::<B>::new(devices, config.criterion()));
    let out = &options.out_dir;
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| TrainError::Io { path, source }
    };
    std::fs::create_dir_all(out).map_err(io(out))?;
    let config_json = serde_json::to_value(config).expect("config serialises");
    write_atomically(&out.join("config.json"), config.to_string().as_bytes())
        .map_err(io(&out.join("config.json")))?;

    B::seed(device, config.seed);
    let mut model: ResNet<B> = config.model.init(device);
    let mut optim = optimizer::<B>(config);
    let mut state = RunState {
        config: config_json.clone(),
        epoch: 0,
        step: 0,
        mixer_at_epoch_start: None,
        partial: (0.0, 0.0, 0),
        partial_seconds: 0.0,
        history: Vec::new(),
        best_accuracy: 0.0,
    };
    if let Some((saved, model_bytes, optim_bytes)) = resume {
        let ckpt = out.join("last.ckpt");
        let bad = |reason: String| TrainError::Checkpoint {
            path: ckpt.clone(),
            reason,
        };
        if saved.config != config_json {
            return Err(config_mismatch(out, &saved.config, &config_json));
        }
        let record = recorder()
            .load(model_bytes, device)
            .map_err(|e| bad(format!("model: {e}")))?;
        model = model.load_record(record);
        let record = recorder()
            .load(optim_bytes, device)
            .map_err(|e| bad(format!("optimizer: {e}")))?;
        optim = optim.load_record(record);
        state = saved;
    }

    let mixer = config.mixer()?;
    let train_set = Arc::new(train_set);
    let order = Arc::new(EpochOrder::new(train_set.clone(), config.seed));
    let cifar_batcher = CifarBatcher::train(config.seed);
    // Each device takes an equal share of every batch.
    let device_batch = config.batch_size / devices.len();
    let train_loader = train_loader::<B>(
        &mixer,
        &cifar_batcher,
        &order,
        device_batch,
        options.workers,
    );
    let test_loader = DataLoaderBuilder::new(CifarBatcher::test())
        .batch_size(config.batch_size.max(256))
        .num_workers(options.workers)
        .build(test_set);
    let criterion = config.criterion().init::<B>(device)?;
    let mut log = MetricsLog::new(out);
    let steps_per_epoch = train_set.len().div_ceil(config.batch_size);
    let mut total_steps = 0usize;

    while state.epoch < config.epochs {
        let epoch = state.epoch;
        let lr = config.lr_at(epoch);
        cifar_batcher.set_epoch(epoch);
        mixer.set_epoch(epoch);
        match state.mixer_at_epoch_start {
            // Resuming inside this epoch: one draw per finished batch.
            Some(start) => mixer.resume_at(start + state.step as u64),
            None => state.mixer_at_epoch_start = Some(mixer.next_draw()),
        }
        order.set_epoch(epoch, state.step * config.batch_size);

        let bar = progress_bar(
            options.quiet,
            steps_per_epoch,
            state.step,
            epoch,
            config.epochs,
        );
        let started = Instant::now();
        let (mut loss_sum, mut acc_sum, mut seen) = state.partial;
        let mut pending: PendingMetrics<B::InnerBackend> = Vec::new();
        let mut interrupted = false;
        // One device: the loader's batches in order. Several: burn-train's
        // multi-device step over a split of the epoch's remaining data.
        let mut single = multi.is_none().then(|| train_loader.iter());
        let split = multi
            .as_ref()
            .map(|_| split_dataloader(train_loader.clone(), devices));
        let mut per_device: Vec<Box<dyn DataLoaderIterator<MixedBatch<B, 4>>>> =
            split.iter().flatten().map(|loader| loader.iter()).collect();
        loop {
            let reports: PendingMetrics<B::InnerBackend> = match (&multi, single.as_mut()) {
                (Some(multi), _) => match multi.step(&mut per_device, &model) {
                    Some((grads, items)) => {
                        model = optim.step(lr, model, grads);
                        items
                            .into_iter()
                            .map(|item| (item.loss, item.accuracy, item.size))
                            .collect()
                    }
                    None => break,
                },
                (None, Some(batches)) => match batches.next() {
                    Some(batch) => {
                        let size = batch.batch_size();
                        let logits = model.forward(batch.inputs().clone());
                        let loss = batch.loss(logits.clone(), &criterion);
                        let accuracy = batch.accuracy(logits.detach());
                        let grads = GradientsParams::from_grads(loss.backward(), &model);
                        model = optim.step(lr, model, grads);
                        vec![(loss.inner(), accuracy.inner(), size)]
                    }
                    None => break,
                },
                (None, None) => unreachable!("one of the two modes is set"),
            };
            // Read the metrics back every few steps only: a read waits for the device.
            pending.extend(reports);
            state.step += 1;
            total_steps += 1;
            if pending.len() >= 16 || state.step == steps_per_epoch {
                for (l, a, n) in pending.drain(..) {
                    loss_sum += scalar(l) * n as f64;
                    acc_sum += scalar(a) * n as f64;
                    seen += n;
                }
                let rate =
                    (seen - state.partial.2) as f64 / started.elapsed().as_secs_f64().max(1e-9);
                bar.set_position(state.step as u64);
                bar.set_message(format!(
                    "loss {:.4} acc {:.2}% {:.0} img/s",
                    loss_sum / seen.max(1) as f64,
                    100.0 * acc_sum / seen.max(1) as f64,
                    rate
                ));
            }
            let stop_requested = options.stop_after_steps.is_some_and(|n| total_steps >= n);
            if options.interrupt.load(Ordering::Relaxed) || stop_requested {
                interrupted = true;
                break;
            }
        }
        for (l, a, n) in pending.drain(..) {
            loss_sum += scalar(l) * n as f64;
            acc_sum += scalar(a) * n as f64;
            seen += n;
        }
        let train_seconds = state.partial_seconds + started.elapsed().as_secs_f64();
        bar.finish_and_clear();

        if interrupted && state.step < steps_per_epoch {
            if multi.is_some() {
                // A position inside a split epoch cannot be replayed exactly: keep the
                // checkpoint of the last finished epoch.
                eprintln!(
                    "stopped inside epoch {}: resuming restarts it from the last checkpoint",
                    epoch + 1
                );
                return Ok(RunSummary {
                    history: state.history,
                    interrupted: true,
                });
            }
            state.partial = (loss_sum, acc_sum, seen);
            state.partial_seconds = train_seconds;
            save_checkpoint(out, "last.ckpt", &state, &model, &optim)?;
            return Ok(RunSummary {
                history: state.history,
                interrupted: true,
            });
        }

        let eval_started = Instant::now();
        let (test_loss, test_accuracy, ece) =
            evaluate::<B::InnerBackend>(&model.valid(), &test_loader);
        let metrics = EpochMetrics {
            epoch: epoch + 1,
            lr,
            train_loss: loss_sum / seen.max(1) as f64,
            train_accuracy: acc_sum / seen.max(1) as f64,
            test_loss,
            test_accuracy,
            test_ece: ece,
            images_per_second: (seen - state.partial.2.min(seen)) as f64
                / (train_seconds - state.partial_seconds).max(1e-9),
            train_seconds,
            eval_seconds: eval_started.elapsed().as_secs_f64(),
        };
        if !options.quiet {
            bar.println(metrics.summary_line(config.epochs));
        } else {
            println!("{}", metrics.summary_line(config.epochs));
        }
        state.history.push(metrics.clone());
        state.epoch += 1;
        state.step = 0;
        state.partial = (0.0, 0.0, 0);
        state.partial_seconds = 0.0;
        // The loader has drawn exactly this epoch's batches: where the next one starts.
        state.mixer_at_epoch_start = Some(mixer.next_draw());
        log.write(&state.history).map_err(io(out))?;
        let best = metrics.test_accuracy > state.best_accuracy;
        if best {
            state.best_accuracy = metrics.test_accuracy;
        }
        // `last` first: a crash between the two writes loses at most the `best` update.
        save_checkpoint(out, "last.ckpt", &state, &model, &optim)?;
        if best {
            save_checkpoint(out, "best.ckpt", &state, &model, &optim)?;
        }
        if interrupted {
            return Ok(RunSummary {
                history: state.history,
                interrupted: true,
            });
        }
    }
    Ok(RunSummary {
        history: state.history,
        interrupted: false,
    })
}

/// Training throughput over a fixed number of steps (the GPU check's measurement).
#[derive(Debug, Clone, Copy, burn::serde::Serialize)]
#[serde(crate = "burn::serde")]
pub struct Throughput {
    pub batch_size: usize,
    pub steps: usize,
    pub seconds: f64,
    pub images_per_second: f64,
    pub milliseconds_per_step: f64,
}

/// Runs `warmup` untimed then `steps` timed training steps (data loading, mixing,
/// forward, loss, backward, SGD update), cycling through the data as needed. The
/// clock stops after the last step's loss is read back, so queued device work counts.
pub fn throughput<B: AutodiffBackend>(
    config: &TrainingConfig,
    train_set: CifarDataset,
    device: &B::Device,
    workers: usize,
    warmup: usize,
    steps: usize,
) -> Result<Throughput, TrainError> {
    config.validate()?;
    B::seed(device, config.seed);
    let mut model: ResNet<B> = config.model.init(device);
    let mut optim = optimizer::<B>(config);
    let criterion = config.criterion().init::<B>(device)?;
    let mixer = config.mixer()?;
    let order = Arc::new(EpochOrder::new(Arc::new(train_set), config.seed));
    let loader = train_loader::<B>(
        &mixer,
        &CifarBatcher::train(config.seed),
        &order,
        config.batch_size,
        workers,
    );
    let (mut done, mut epoch, mut images) = (0usize, 0usize, 0usize);
    let mut started = Instant::now();
    let mut last_loss = None;
    while done < warmup + steps {
        order.set_epoch(epoch, 0);
        epoch += 1;
        for batch in loader.iter() {
            let batch: MixedBatch<B, 4> = batch;
            let size = batch.batch_size();
            let logits = model.forward(batch.inputs().clone());
            let loss = batch.loss(logits, &criterion);
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(config.lr, model, grads);
            done += 1;
            if done == warmup {
                // Drain the warm-up work before the clock starts.
                let _ = scalar(loss.inner());
                started = Instant::now();
            } else {
                if done > warmup {
                    images += size;
                }
                last_loss = Some(loss.inner());
            }
            if done == warmup + steps {
                break;
            }
        }
    }
    if let Some(loss) = last_loss {
        let _ = scalar(loss);
    }
    let seconds = started.elapsed().as_secs_f64();
    Ok(Throughput {
        batch_size: config.batch_size,
        steps,
        seconds,
        images_per_second: images as f64 / seconds,
        milliseconds_per_step: 1e3 * seconds / steps as f64,
    })
}

/// The first top-level config field that differs, for the mismatch error.
pub fn config_mismatch(
    dir: &Path,
    saved: &serde_json::Value,
    given: &serde_json::Value,
) -> TrainError {
    let (saved_map, given_map) = (saved.as_object(), given.as_object());
    let field = saved_map
        .zip(given_map)
        .and_then(|(s, g)| {
            s.keys()
                .chain(g.keys())
                .find(|k| s.get(*k) != g.get(*k))
                .cloned()
        })
        .unwrap_or_else(|| "config".into());
    let show = |v: &serde_json::Value| {
        v.get(&field)
            .map(|x| x.to_string())
            .unwrap_or_else(|| "absent".into())
    };
    TrainError::ConfigMismatch {
        dir: dir.to_path_buf(),
        saved: show(saved),
        given: show(given),
        field,
    }
}

fn scalar<B: Backend>(tensor: Tensor<B, 1>) -> f64 {
    tensor
        .into_data()
        .convert::<f64>()
        .to_vec::<f64>()
        .expect("f64 data")[0]
}

fn progress_bar(
    quiet: bool,
    steps: usize,
    done: usize,
    epoch: usize,
    epochs: usize,
) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(steps as u64);
    bar.set_style(
        ProgressStyle::with_template("epoch {prefix} {bar:30} {pos}/{len} {msg} ETA {eta}")
            .expect("static template"),
    );
    bar.set_prefix(format!("{}/{}", epoch + 1, epochs));
    bar.set_position(done as u64);
    bar
}

fn save_checkpoint<B: AutodiffBackend>(
    out: &Path,
    name: &str,
    state: &RunState,
    model: &ResNet<B>,
    optim: &Sgd<B, ResNet<B>>,
) -> Result<(), TrainError> {
    let path = out.join(name);
    let failed = |reason: String| TrainError::Checkpoint {
        path: path.clone(),
        reason,
    };
    let model_bytes = recorder()
        .record(model.clone().into_record(), ())
        .map_err(|e| failed(e.to_string()))?;
    let optim_bytes = recorder()
        .record(optim.to_record(), ())
        .map_err(|e| failed(e.to_string()))?;
    let bytes = encode_checkpoint(state, model_bytes, optim_bytes);
    write_atomically(&path, &bytes).map_err(|source| TrainError::Io { path, source })
}

/// Plain cross-entropy, accuracy and 15-bin ECE on the test set (already cut to
/// `--test-limit` when it was loaded).
pub fn evaluate<B: Backend>(
    model: &ResNet<B>,
    loader: &Arc<dyn burn::data::dataloader::DataLoader<B, CifarBatch<B>>>,
) -> (f64, f64, f64) {
    let device = model.devices()[0].clone();
    let plain = LabelSmoothingCrossEntropyConfig::new()
        .with_smoothing(0.0)
        .with_reduction(Reduction::Sum)
        .init::<B>(&device)
        .expect("0 is a valid smoothing");
    let (mut loss_sum, mut correct, mut seen) = (0.0, 0usize, 0usize);
    let mut confidences = Vec::new();
    let mut hits = Vec::new();
    for batch in loader.iter() {
        let [n, ..] = batch.images.dims();
        let (images, targets) = (batch.images, batch.targets);
        let logits = model.forward(images);
        loss_sum += scalar(plain.forward(logits.clone(), targets.clone()));
        let probabilities = softmax(logits, 1);
        let confidence: Vec<f64> = probabilities
            .clone()
            .max_dim(1)
            .into_data()
            .convert::<f64>()
            .to_vec()
            .expect("f64");
        let predicted: Vec<i64> = probabilities
            .argmax(1)
            .into_data()
            .convert::<i64>()
            .to_vec()
            .expect("i64");
        let truth: Vec<i64> = targets.into_data().convert::<i64>().to_vec().expect("i64");
        for ((c, p), t) in confidence.into_iter().zip(predicted).zip(truth) {
            correct += (p == t) as usize;
            confidences.push(c);
            hits.push(p == t);
        }
        seen += n;
    }
    let n = seen.max(1) as f64;
    (
        loss_sum / n,
        correct as f64 / n,
        expected_calibration_error(&confidences, &hits, 15),
    )
}

/// `Arc<EpochOrder>` as a data set the loader can own while the loop keeps a handle.
pub struct ArcDataset(pub Arc<EpochOrder>);

impl Dataset<CifarItem> for ArcDataset {
    fn get(&self, index: usize) -> Option<CifarItem> {
        self.0.get(index)
    }
    fn len(&self) -> usize {
        self.0.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{Cifar10, RecordCount, write_synthetic};
    use burn::backend::Autodiff;
    use burn::tensor::Int;
    use std::sync::Mutex;

    // burn-flex: GEMM convolutions compiled in its own crate at full optimisation,
    // ~40x faster than burn-ndarray's generic kernels in this (opt-level 1) profile.
    type B = Autodiff<burn_flex::Flex>;

    /// The backend seed is process-wide: runs that initialise models take turns.
    static SERIAL: Mutex<()> = Mutex::new(());

    fn tiny_config(epochs: usize) -> TrainingConfig {
        TrainingConfig::new(ResNetConfig::new().with_base_width(2))
            .with_epochs(epochs)
            .with_batch_size(20)
            .with_lr(0.05)
            .with_seed(3)
    }

    fn options(dir: &Path) -> RunOptions {
        RunOptions {
            out_dir: dir.to_path_buf(),
            workers: 0,
            quiet: true,
            interrupt: Arc::new(AtomicBool::new(false)),
            stop_after_steps: None,
        }
    }

    fn synthetic(train: usize, test: usize) -> Cifar10 {
        let root = tempfile::tempdir().unwrap();
        write_synthetic(root.path(), train, test, 1).unwrap();
        Cifar10::open(root.path(), RecordCount::Any).unwrap()
    }

    /// Metrics that must agree between runs (timings excluded).
    fn outcome(history: &[EpochMetrics]) -> Vec<(usize, f64, f64, f64, f64, f64, f64)> {
        history
            .iter()
            .map(|m| {
                (
                    m.epoch,
                    m.lr,
                    m.train_loss,
                    m.train_accuracy,
                    m.test_loss,
                    m.test_accuracy,
                    m.test_ece,
                )
            })
            .collect()
    }

    fn resume_from(dir: &Path) -> (RunState, Vec<u8>, Vec<u8>) {
        let path = dir.join("last.ckpt");
        decode_checkpoint(&std::fs::read(&path).unwrap(), &path).unwrap()
    }

    #[test]
    fn a_few_steps_on_a_fixed_batch_lower_the_loss() {
        let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        let device = Default::default();
        B::seed(&device, 1);
        let mut model: ResNet<B> = ResNetConfig::new().with_base_width(4).init(&device);
        let mut optim = optimizer::<B>(&TrainingConfig::new(ResNetConfig::new()));
        let data = synthetic(16, 1);
        let (pixels, labels) = CifarBatcher::test().build(
            &(0..16)
                .map(|i| data.train.get(i).unwrap())
                .collect::<Vec<_>>(),
        );
        let images = Tensor::<B, 4>::from_data(
            burn::tensor::TensorData::new(pixels, [16, 3, 32, 32]),
            &device,
        );
        let targets =
            Tensor::<B, 1, Int>::from_data(burn::tensor::TensorData::new(labels, [16]), &device);
        let mixup = MixConfig::mixup(1.0).with_seed(Some(0)).init().unwrap();
        let batch = mixup.apply(images, targets).unwrap();
        let criterion = LabelSmoothingCrossEntropyConfig::new()
            .init::<B>(&device)
            .unwrap();
        let mut losses = Vec::new();
        for _ in 0..8 {
            let loss = batch.loss(model.forward(batch.inputs().clone()), &criterion);
            losses.push(scalar(loss.clone().inner()));
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(0.05, model, grads);
        }
        assert!(losses.iter().all(|l| l.is_finite()));
        assert!(losses[7] < 0.8 * losses[0], "{losses:?}");
    }

    #[test]
    fn short_synthetic_run_learns_well_above_chance() {
        let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        let dir = tempfile::tempdir().unwrap();
        let data = synthetic(400, 100);
        let config = TrainingConfig::new(ResNetConfig::new().with_base_width(4))
            .with_epochs(4)
            .with_batch_size(32)
            .with_lr(0.05)
            .with_lr_milestones(vec![3]);
        let summary = train::<B>(
            &config,
            data.train,
            data.test,
            &[Default::default()],
            &options(dir.path()),
            None,
        )
        .unwrap();
        let last = summary.history.last().unwrap();
        assert_eq!(summary.history.len(), 4);
        assert!(
            last.test_accuracy > 0.35,
            "test accuracy {} (chance 0.10)",
            last.test_accuracy
        );
        for file in [
            "config.json",
            "metrics.csv",
            "curves.svg",
            "last.ckpt",
            "best.ckpt",
        ] {
            assert!(dir.path().join(file).is_file(), "{file}");
        }
        let saved = TrainingConfig::load(dir.path().join("config.json")).unwrap();
        assert_eq!(saved, config);
    }

    #[test]
    fn resumed_runs_reproduce_the_uninterrupted_run() {
        let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        let data = synthetic(100, 40);
        let device = [Default::default()];
        let straight_dir = tempfile::tempdir().unwrap();
        let straight = train::<B>(
            &tiny_config(2),
            data.train.clone(),
            data.test.clone(),
            &device,
            &options(straight_dir.path()),
            None,
        )
        .unwrap();

        // 1 epoch, then resume for the second.
        let split_dir = tempfile::tempdir().unwrap();
        train::<B>(
            &tiny_config(1),
            data.train.clone(),
            data.test.clone(),
            &device,
            &options(split_dir.path()),
            None,
        )
        .unwrap();
        let mut state = resume_from(split_dir.path());
        state.0.config = serde_json::to_value(tiny_config(2)).unwrap();
        let resumed = train::<B>(
            &tiny_config(2),
            data.train.clone(),
            data.test.clone(),
            &device,
            &options(split_dir.path()),
            Some(state),
        )
        .unwrap();
        assert_eq!(outcome(&resumed.history), outcome(&straight.history));

        // Interrupted in the middle of epoch 1 (after 7 of its 5 + 5 steps), then resumed.
        let mid_dir = tempfile::tempdir().unwrap();
        let mut stop = options(mid_dir.path());
        stop.stop_after_steps = Some(7);
        let partial = train::<B>(
            &tiny_config(2),
            data.train.clone(),
            data.test.clone(),
            &device,
            &stop,
            None,
        )
        .unwrap();
        assert!(partial.interrupted);
        assert_eq!(partial.history.len(), 1);
        let resumed = train::<B>(
            &tiny_config(2),
            data.train,
            data.test,
            &device,
            &options(mid_dir.path()),
            Some(resume_from(mid_dir.path())),
        )
        .unwrap();
        assert_eq!(outcome(&resumed.history), outcome(&straight.history));
    }

    #[test]
    fn corrupt_or_foreign_checkpoints_are_errors_and_a_torn_write_keeps_the_last() {
        let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        let data = synthetic(40, 20);
        let dir = tempfile::tempdir().unwrap();
        let device = [Default::default()];
        train::<B>(
            &tiny_config(1),
            data.train.clone(),
            data.test.clone(),
            &device,
            &options(dir.path()),
            None,
        )
        .unwrap();
        let path = dir.path().join("last.ckpt");
        let good = std::fs::read(&path).unwrap();

        // Flipped byte, truncation, foreign file: typed errors, no panic.
        let mut flipped = good.clone();
        flipped[good.len() / 2] ^= 1;
        for bad in [
            flipped,
            good[..good.len() - 100].to_vec(),
            b"PK\x03\x04 not ours".to_vec(),
        ] {
            assert!(matches!(
                decode_checkpoint(&bad, &path),
                Err(TrainError::Checkpoint { .. })
            ));
        }
        // A crash mid-write leaves only a temporary file beside the intact checkpoint.
        std::fs::write(dir.path().join(".last.ckpt.999.tmp"), &good[..1000]).unwrap();
        assert!(decode_checkpoint(&std::fs::read(&path).unwrap(), &path).is_ok());

        // A checkpoint resumed under another configuration is refused, naming the field.
        let other = tiny_config(1).with_lr(0.2);
        let err = train::<B>(
            &other,
            data.train,
            data.test,
            &device,
            &options(dir.path()),
            Some(resume_from(dir.path())),
        )
        .unwrap_err();
        match err {
            TrainError::ConfigMismatch { field, .. } => assert_eq!(field, "lr"),
            other => panic!("{other:?}"),
        }
    }

    /// Two replicas of the CPU device stand in for two GPUs: the multi-device step
    /// splits each batch, sums the gradients and the model learns.
    #[test]
    fn two_devices_train_through_burn_train_multi_device_step() {
        let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        let data = synthetic(400, 100);
        let dir = tempfile::tempdir().unwrap();
        let config = TrainingConfig::new(ResNetConfig::new().with_base_width(4))
            .with_epochs(4)
            .with_batch_size(32)
            .with_lr(0.05)
            .with_lr_milestones(vec![3]);
        let devices = [Default::default(), Default::default()];
        let summary = train::<B>(
            &config,
            data.train.clone(),
            data.test.clone(),
            &devices,
            &options(dir.path()),
            None,
        )
        .unwrap();
        assert_eq!(summary.history.len(), 4);
        let last = summary.history.last().unwrap();
        assert!(last.train_loss.is_finite() && last.train_loss < summary.history[0].train_loss);
        assert!(
            last.test_accuracy > 0.2,
            "test accuracy {}",
            last.test_accuracy
        );
        // A batch that does not split evenly is refused, naming the flag.
        let odd = config.with_batch_size(33);
        assert!(matches!(
            train::<B>(
                &odd,
                data.train,
                data.test,
                &devices,
                &options(dir.path()),
                None
            ),
            Err(TrainError::Flag {
                flag: "batch-size",
                ..
            })
        ));
    }
}
