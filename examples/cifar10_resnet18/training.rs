//! The training run on burn-train: `TrainStep` on the mixed batch, `InferenceStep`
//! on the plain test batch, and the launch of `SupervisedTraining` with verified
//! checkpointers, metrics, renderers and the execution strategy; then the outcome,
//! read from burn-train's `LearningResult` and the run's watch.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use burn::data::dataloader::DataLoaderBuilder;
use burn::module::{Module, ModuleVisitor, Param};
use burn::nn::loss::CrossEntropyLossConfig;
use burn::tensor::distributed::{DistributedConfig, ReduceOperation};
use burn::tensor::{Device, Tensor};
use burn::train::LearnerSummary;
use burn::train::checkpoint::KeepLastNCheckpoints;
use burn::train::logger::{EvaluationProgressLogger, FileMetricLogger, TrainingProgressLogger};
use burn::train::metric::{AccuracyMetric, LearningRateMetric, LossMetric, MetricDefinition};
use burn::train::renderer::tui::TuiMetricsRendererWrapper;
use burn::train::renderer::{CliMetricsRenderer, EvaluationName, MetricState, MetricsRenderer};
use burn::train::renderer::{MetricsRendererEvaluation, MetricsRendererTraining};
use burn::train::{ClassificationOutput, ExecutionStrategy, InferenceStep, Interrupter, Learner};
use burn::train::{MultiDeviceOptim, SupervisedTraining, TrainOutput, TrainStep, TrainingStrategy};
use burn_mixup::{
    BinaryCrossEntropy, CalibrationErrorMetric, LabelSmoothingCrossEntropy, MixedAccuracyMetric,
};
use burn_mixup::{MixedBatch, MixedClassificationOutput};

use crate::augment::{ImageBatch, ImageBatcher};
use crate::checkpoint::{checkpointers, last_complete_epoch};
use crate::config::{BackendKind, LossKind, StrategyKind, TrainError, TrainingConfig};
use crate::images::ImageSet;
use crate::loader::training_loader;
use crate::metrics::{Lines, RunLog};
use crate::model::ResNet;
use crate::watch::{SaveAfterLog, Shared, fault};

/// ResNet-18 with its training criterion: the model burn-train trains.
#[derive(Module, Debug)]
pub struct Classifier {
    pub net: ResNet,
    criterion: LabelSmoothingCrossEntropy,
    /// Set for `--loss bce`: trains with it instead of `criterion`.
    bce: Option<BinaryCrossEntropy>,
}

impl Classifier {
    pub fn new(config: &TrainingConfig, device: &Device) -> Result<Self, TrainError> {
        Ok(Self {
            net: config.model.init(device),
            criterion: config.criterion().init(device)?,
            bce: match config.loss {
                LossKind::Bce => Some(config.bce().init(device)?),
                LossKind::CrossEntropy => None,
            },
        })
    }

    /// The model initialised from `config.seed` on `device`. Burn 0.22 seeds a
    /// backend's generator for the whole process (`Device::seed`) and initialises
    /// parameters lazily, at their first use; so the seeding and every parameter's
    /// draw happen here, under one lock: two runs in a process (tests, a sweep)
    /// cannot interleave their draws. Nothing later in training draws from it (the
    /// data pipeline and the mixer have their own seeded streams).
    pub fn seeded(config: &TrainingConfig, device: &Device) -> Result<Self, TrainError> {
        let _held = random_draws();
        device.seed(config.seed);
        let model = Self::new(config, device)?;
        model.visit(&mut Materialise);
        Ok(model)
    }
}

impl TrainStep for Classifier {
    type Input = MixedBatch<4>;
    type Output = MixedClassificationOutput;

    fn step(&self, batch: MixedBatch<4>) -> TrainOutput<MixedClassificationOutput> {
        let logits = self.net.forward(batch.inputs().clone());
        let loss = match &self.bce {
            Some(bce) => bce.forward_mixed(logits.clone(), &batch),
            None => batch.loss(logits.clone(), &self.criterion),
        };
        let output = MixedClassificationOutput::new(&batch, logits, loss);
        TrainOutput::new(self, output.loss.backward(), output)
    }
}

impl InferenceStep for Classifier {
    type Input = ImageBatch;
    type Output = ClassificationOutput;

    /// Plain cross-entropy (no smoothing) on clean test images.
    fn step(&self, batch: ImageBatch) -> ClassificationOutput {
        let logits = self.net.forward(batch.images);
        let loss = CrossEntropyLossConfig::new()
            .init(&logits.device())
            .forward(logits.clone(), batch.targets.clone());
        ClassificationOutput::new(loss, logits, batch.targets)
    }
}

/// The lock every draw from a backend's generator takes in this process: the
/// seeded initialisation of a run, and (in tests) any other layer initialised
/// while runs train next to it.
pub fn random_draws() -> std::sync::MutexGuard<'static, ()> {
    static DRAWS: Mutex<()> = Mutex::new(());
    DRAWS.lock().unwrap_or_else(|e| e.into_inner())
}

/// Reads every parameter once, which draws the lazy ones' initial values.
struct Materialise;

impl ModuleVisitor for Materialise {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let _ = param.val();
    }
}

/// How the run shows progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Display {
    /// burn-train's CLI renderer.
    Cli,
    /// burn-train's TUI dashboard.
    Tui,
    /// Only the one-line epoch summaries.
    Quiet,
}

/// What a run needs besides its configuration.
pub struct RunOptions {
    pub dir: PathBuf,
    /// The last finished epoch to continue from (1-based), when resuming.
    pub resume_from: Option<usize>,
    pub display: Display,
    pub interrupter: Interrupter,
    /// Train on through a non-finite loss (`--allow-divergence`).
    pub allow_divergence: bool,
}

/// How a run that did not fail ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finish {
    /// Every epoch trained.
    Completed,
    /// Stopped by the `Interrupter` (a signal, the TUI's quit key), with its reason.
    Stopped(Option<String>),
}

/// The execution strategy for `devices` (base devices: burn-train adds autodiff).
///
/// DDP needs an all-reduce, which Burn 0.22.1 implements on CUDA only
/// (`burn-backend-extension`'s catalog: flex and ndarray have no collectives, and
/// cubecl's CPU and wgpu runtimes panic in `all_reduce`): elsewhere it is refused.
fn strategy(config: &TrainingConfig, devices: &[Device]) -> Result<ExecutionStrategy, TrainError> {
    Ok(match (devices, config.strategy) {
        ([device], _) => ExecutionStrategy::single(device.clone().autodiff()),
        (_, StrategyKind::Multi) => {
            ExecutionStrategy::multi(devices.to_vec(), MultiDeviceOptim::OptimMainDevice)
        }
        (_, StrategyKind::Ddp) if config.backend != BackendKind::Cuda => {
            return Err(TrainError::Flag {
                flag: "strategy",
                expected: "multi on this backend (Burn 0.22.1's DDP all-reduce runs on CUDA only)",
                value: format!("ddp on {:?}", config.backend).to_lowercase(),
            });
        }
        (_, StrategyKind::Ddp) => ExecutionStrategy::ddp(
            devices.to_vec(),
            DistributedConfig {
                all_reduce_op: ReduceOperation::Mean,
            },
        ),
    })
}

/// A run that did not fail: how it ended, and the model burn-train hands back (in
/// validation mode, on the first device).
#[derive(Debug)]
pub struct Trained {
    pub finish: Finish,
    pub model: Classifier,
}

/// Trains (or continues) the run in `options.dir` on `devices` through burn-train.
pub fn train(
    config: &TrainingConfig,
    train_set: ImageSet,
    test_set: ImageSet,
    devices: Vec<Device>,
    options: &RunOptions,
) -> Result<Trained, TrainError> {
    config.validate()?;
    let device = devices[0].clone().without_autodiff();
    let autodiff = device.clone().autodiff();
    let resume_from = options.resume_from.unwrap_or(0);
    let (train_loader, iterations) = training_loader(
        train_set,
        config.mixer()?.config().clone(),
        config.seed,
        config.batch_size,
        config.workers,
        devices.len(),
        resume_from,
        &autodiff,
    )?;
    let test_loader = DataLoaderBuilder::new(ImageBatcher::test(test_set.format()))
        .batch_size(config.batch_size.max(256))
        .num_workers(config.workers)
        .set_device(device.clone())
        .build(test_set);

    let shared = Shared::default();
    let held = Arc::new(Mutex::new(Vec::new()));
    let lines = match options.display {
        Display::Tui => Lines::Hold(held.clone()),
        _ => Lines::Print,
    };
    let run_log = RunLog::open(
        &options.dir,
        resume_from,
        config.epochs,
        shared.clone(),
        options.interrupter.clone(),
    )
    .map_err(|source| TrainError::Io {
        path: options.dir.join("metrics.csv"),
        source,
    })?
    .allow_divergence(options.allow_divergence)
    .lines(lines);
    let [model, optim, scheduler] = checkpointers(&options.dir, config.fingerprint());
    let mut training = SupervisedTraining::new(&options.dir, train_loader, test_loader)
        .metric_train_numeric(LossMetric::new())
        .metric_train_numeric(MixedAccuracyMetric::new())
        .metric_train_numeric(LearningRateMetric::new())
        .metric_valid_numeric(LossMetric::new())
        .metric_valid_numeric(AccuracyMetric::new())
        .metric_valid_numeric(CalibrationErrorMetric::new())
        // Burn's per-epoch logs first: burn-train reads metric history from it.
        .with_metric_logger(FileMetricLogger::new(&options.dir))
        .with_metric_logger(run_log)
        .with_custom_checkpointers(model, optim, scheduler)
        .with_checkpointing_strategy(SaveAfterLog {
            shared: shared.clone(),
            inner: KeepLastNCheckpoints::new(2),
        })
        .with_interrupter(options.interrupter.clone())
        .with_training_strategy(TrainingStrategy::Default(strategy(config, &devices)?))
        .num_epochs(config.epochs)
        .summary();
    training = training.renderer(match options.display {
        Display::Cli => Box::new(CliMetricsRenderer::new()),
        Display::Quiet => Box::new(Silent),
        Display::Tui => Box::new(TuiMetricsRendererWrapper::new(
            options.interrupter.clone(),
            options.resume_from,
        )),
    });
    if let Some(epoch) = options.resume_from {
        training = training.checkpoint(epoch);
    }
    let model = Classifier::seeded(config, &autodiff)?;
    let learner = Learner::new(
        model,
        config.optimizer().init(),
        config.scheduler(iterations)?,
    );
    let result = training.launch(learner);
    // The TUI is up until its renderer (handed back in the result) is dropped; then
    // the epoch lines it would have garbled are printed.
    drop(result.renderer);
    for line in held.lock().unwrap_or_else(|e| e.into_inner()).drain(..) {
        eprintln!("{line}");
    }
    let fault = fault(&shared);
    if fault.is_some() || result.error.is_some() {
        // Leave whole checkpoint sets only: a save cut short is removed here.
        let saved = last_complete_epoch(&options.dir, config.fingerprint())
            .ok()
            .flatten();
        return Err(match (fault, result.error) {
            (Some(fault), _) => TrainError::of_fault(fault, saved),
            (None, Some(error)) => TrainError::Training {
                error: error.to_string(),
                saved,
            },
            (None, None) => unreachable!("one of the two is set"),
        });
    }
    let finish = match result.interrupted {
        Some(interruption) => Finish::Stopped(interruption.reason),
        None => Finish::Completed,
    };
    Ok(Trained {
        finish,
        model: result.model,
    })
}

/// A renderer that draws nothing (`--quiet`): the run log prints one line per epoch.
struct Silent;

impl MetricsRendererTraining for Silent {
    fn update_train(&mut self, _: MetricState) {}
    fn update_valid(&mut self, _: MetricState) {}
    /// Quiet means one line per epoch: no end-of-training summary table either.
    fn on_train_end(
        &mut self,
        _: Option<LearnerSummary>,
    ) -> Result<(), Box<dyn core::error::Error>> {
        Ok(())
    }
}

impl MetricsRendererEvaluation for Silent {
    fn update_test(&mut self, _: EvaluationName, _: MetricState) {}
}

impl TrainingProgressLogger for Silent {
    fn start(&mut self, _: usize, _: usize, _: Option<usize>, _: Option<&str>) {}
    fn update_epoch(&mut self, _: usize) {}
    fn start_split(&mut self, _: &str, _: usize) {}
    fn update_split(&mut self, _: usize) {}
    fn end_split(&mut self) {}
    fn end(&mut self) {}
    fn log_event_training(&mut self, _: String) {}
}

impl EvaluationProgressLogger for Silent {
    fn start_global_progress(&mut self, _: usize) {}
    fn start_test(&mut self, _: &str, _: usize) {}
    fn update_test_progress(&mut self, _: usize) {}
    fn end_test(&mut self) {}
    fn end_global_progress(&mut self) {}
    fn log_event_evaluation(&mut self, _: String) {}
}

impl MetricsRenderer for Silent {
    fn manual_close(&mut self) {}
    fn register_metric(&mut self, _: MetricDefinition) {}
}

/// Training throughput without evaluation or files (`--bench-steps`): `steps` timed
/// steps after `warmup` untimed ones, each a full step (loader, mixing, forward,
/// loss, backward, SGD), synchronised by reading the last loss.
pub fn throughput(
    config: &TrainingConfig,
    train_set: ImageSet,
    device: &Device,
    warmup: usize,
    steps: usize,
) -> Result<serde_json::Value, TrainError> {
    config.validate()?;
    let autodiff = device.clone().autodiff();
    let mut model = Classifier::seeded(config, &autodiff)?;
    let mut optim = config.optimizer().init();
    let (loader, _) = training_loader(
        train_set,
        config.mixer()?.config().clone(),
        config.seed,
        config.batch_size,
        config.workers,
        1,
        0,
        &autodiff,
    )?;
    let mut batches = loader.iter();
    let mut started = std::time::Instant::now();
    for step in 0..warmup + steps {
        let batch = batches
            .next()
            .ok_or(TrainError::Flag {
                flag: "bench-steps",
                expected: "at most the batches of one epoch",
                value: (warmup + steps).to_string(),
            })?
            .map_err(|e| TrainError::Training {
                error: e.to_string(),
                saved: None,
            })?;
        let output = TrainStep::step(&model, batch);
        let last = output.item.loss.clone();
        model = optim.step(config.lr, model, output.grads);
        if step + 1 == warmup || step + 1 == warmup + steps {
            let _ = last.into_scalar::<f32>(); // waits for the device
            if step + 1 == warmup {
                started = std::time::Instant::now();
            }
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    Ok(serde_json::json!({
        "batch_size": config.batch_size,
        "steps": steps,
        "seconds": seconds,
        "images_per_second": (steps * config.batch_size) as f64 / seconds,
        "milliseconds_per_step": 1e3 * seconds / steps as f64,
    }))
}

#[cfg(test)]
#[path = "training_tests.rs"]
mod tests;
