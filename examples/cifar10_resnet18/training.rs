//! The training run on burn-train: `TrainStep` on the mixed batch, `InferenceStep`
//! on the plain test batch, and the launch of `SupervisedTraining` with Burn's file
//! checkpointer, metrics and renderers.

use std::path::PathBuf;

use burn::data::dataloader::DataLoaderBuilder;
use burn::module::Module;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::Optimizer;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::train::checkpoint::KeepLastNCheckpoints;
use burn::train::logger::FileMetricLogger;
use burn::train::metric::{AccuracyMetric, LearningRateMetric, LossMetric};
use burn::train::renderer::{CliMetricsRenderer, MetricState, MetricsRenderer};
use burn::train::renderer::{EvaluationName, EvaluationProgress, ProgressType, TrainingProgress};
use burn::train::renderer::{MetricsRendererEvaluation, MetricsRendererTraining};
use burn::train::{ClassificationOutput, ExecutionStrategy, InferenceStep, Interrupter, Learner};
use burn::train::{MultiDeviceOptim, SupervisedTraining, TrainOutput, TrainStep, TrainingStrategy};
use burn_mixup::{
    BinaryCrossEntropy, CalibrationErrorMetric, LabelSmoothingCrossEntropy, MixedAccuracyMetric,
};
use burn_mixup::{MixedBatch, MixedClassificationOutput, MixupBatcher};

use crate::augment::{CifarBatch, CifarBatcher};
use crate::checkpoint::VerifiedRecorder;
use crate::config::{LossKind, TrainError, TrainingConfig};
use crate::data::CifarDataset;
use crate::loader::training_loader;
use crate::metrics::{RunLog, SaveAfterLog, Written};
use crate::model::ResNet;

/// ResNet-18 with its training criterion: the model burn-train trains.
#[derive(Module, Debug)]
pub struct Classifier<B: Backend> {
    pub net: ResNet<B>,
    criterion: LabelSmoothingCrossEntropy<B>,
    /// Set for `--loss bce`: trains with it instead of `criterion`.
    bce: Option<BinaryCrossEntropy<B>>,
}

impl<B: Backend> Classifier<B> {
    pub fn new(config: &TrainingConfig, device: &B::Device) -> Result<Self, TrainError> {
        Ok(Self {
            net: config.model.init(device),
            criterion: config.criterion().init(device)?,
            bce: match config.loss {
                LossKind::Bce => Some(config.bce().init(device)?),
                LossKind::CrossEntropy => None,
            },
        })
    }
}

impl<B: AutodiffBackend> TrainStep for Classifier<B> {
    type Input = MixedBatch<B, 4>;
    type Output = MixedClassificationOutput<B>;

    fn step(&self, batch: MixedBatch<B, 4>) -> TrainOutput<MixedClassificationOutput<B>> {
        let logits = self.net.forward(batch.inputs().clone());
        let loss = match &self.bce {
            Some(bce) => bce.forward_mixed(logits.clone(), &batch),
            None => batch.loss(logits.clone(), &self.criterion),
        };
        let output = MixedClassificationOutput::new(&batch, logits, loss);
        TrainOutput::new(self, output.loss.backward(), output)
    }
}

impl<B: Backend> InferenceStep for Classifier<B> {
    type Input = CifarBatch<B>;
    type Output = ClassificationOutput<B>;

    /// Plain cross-entropy (no smoothing) on clean test images.
    fn step(&self, batch: CifarBatch<B>) -> ClassificationOutput<B> {
        let logits = self.net.forward(batch.images);
        let loss = CrossEntropyLossConfig::new()
            .init(&logits.device())
            .forward(logits.clone(), batch.targets.clone());
        ClassificationOutput::new(loss, logits, batch.targets)
    }
}

/// How the run shows progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Display {
    /// burn-train's CLI renderer.
    Cli,
    /// burn-train's TUI dashboard (when stdout is a terminal).
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
}

/// Trains (or continues) the run in `options.dir` on `devices` through burn-train.
pub fn train<B: AutodiffBackend>(
    config: &TrainingConfig,
    train_set: CifarDataset,
    test_set: CifarDataset,
    devices: Vec<B::Device>,
    options: &RunOptions,
) -> Result<(), TrainError> {
    config.validate()?;
    let device = devices[0].clone();
    let (train_loader, iterations) = training_loader::<B>(
        train_set,
        config.mixer()?,
        config.seed,
        config.batch_size,
        config.workers,
        devices.len(),
        options.resume_from.unwrap_or(0),
    );
    let test_loader = DataLoaderBuilder::new(CifarBatcher::test())
        .batch_size(config.batch_size.max(256))
        .num_workers(config.workers)
        .build(test_set);

    let io = |source| TrainError::Io {
        path: options.dir.join("metrics.csv"),
        source,
    };
    let resume_from = options.resume_from.unwrap_or(0);
    let written = Written::default();
    let run_log =
        RunLog::open(&options.dir, resume_from, config.epochs, written.clone()).map_err(io)?;
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
        .with_file_checkpointer(VerifiedRecorder::new(config.fingerprint()))
        .with_checkpointing_strategy(SaveAfterLog {
            written,
            inner: KeepLastNCheckpoints::new(2),
        })
        .with_interrupter(options.interrupter.clone())
        .num_epochs(config.epochs)
        .summary();
    if devices.len() > 1 {
        let strategy = ExecutionStrategy::multi(devices.clone(), MultiDeviceOptim::OptimMainDevice);
        training = training.with_training_strategy(TrainingStrategy::Default(strategy));
    }
    match options.display {
        Display::Cli => training = training.renderer(CliMetricsRenderer::new()),
        Display::Quiet => training = training.renderer(Silent),
        Display::Tui => {} // burn-train's default: the TUI on a terminal
    }
    if let Some(epoch) = options.resume_from {
        training = training.checkpoint(epoch);
    }
    B::seed(&device, config.seed);
    let model = Classifier::<B>::new(config, &device)?;
    let learner = Learner::new(
        model,
        config.optimizer().init(),
        config.scheduler(iterations)?,
    );
    training.launch(learner);
    Ok(())
}

/// A renderer that draws nothing (`--quiet`): the run log prints one line per epoch.
struct Silent;

impl MetricsRendererTraining for Silent {
    fn update_train(&mut self, _: MetricState) {}
    fn update_valid(&mut self, _: MetricState) {}
    fn render_train(&mut self, _: TrainingProgress, _: Vec<ProgressType>) {}
    fn render_valid(&mut self, _: TrainingProgress, _: Vec<ProgressType>) {}
}

impl MetricsRendererEvaluation for Silent {
    fn render_test(&mut self, _: EvaluationProgress, _: Vec<ProgressType>) {}
    fn update_test(&mut self, _: EvaluationName, _: MetricState) {}
}

impl MetricsRenderer for Silent {
    fn manual_close(&mut self) {}
    fn register_metric(&mut self, _: burn::train::metric::MetricDefinition) {}
}

/// Training throughput without evaluation or files (`--bench-steps`): `steps` timed
/// steps after `warmup` untimed ones, each a full step (loader, mixing, forward,
/// loss, backward, SGD), synchronised by reading the last loss.
pub fn throughput<B: AutodiffBackend>(
    config: &TrainingConfig,
    train_set: CifarDataset,
    device: &B::Device,
    warmup: usize,
    steps: usize,
) -> Result<serde_json::Value, TrainError> {
    config.validate()?;
    B::seed(device, config.seed);
    let mut model = Classifier::<B>::new(config, device)?;
    let mut optim = config.optimizer().init();
    let loader = DataLoaderBuilder::new(MixupBatcher::new(
        CifarBatcher::train(config.seed),
        config.mixer()?,
    ))
    .batch_size(config.batch_size)
    .num_workers(config.workers)
    .build(train_set);
    let mut batches = loader.iter();
    let mut started = std::time::Instant::now();
    for step in 0..warmup + steps {
        let batch = batches.next().ok_or(TrainError::Flag {
            flag: "bench-steps",
            expected: "at most the batches of one epoch",
            value: (warmup + steps).to_string(),
        })?;
        let output = TrainStep::step(&model, batch);
        let last = output.item.loss.clone();
        model = optim.step(config.lr, model, output.grads);
        if step + 1 == warmup || step + 1 == warmup + steps {
            let _ = last.into_scalar(); // waits for the device
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
mod tests {
    use super::*;
    use crate::data::{Cifar10, RecordCount, write_synthetic};
    use crate::metrics::{EpochRow, read_rows};
    use crate::model::ResNetConfig;
    use burn::backend::Autodiff;
    use burn_flex::Flex;

    type B = Autodiff<Flex>;

    fn tiny(epochs: usize) -> TrainingConfig {
        TrainingConfig::new(ResNetConfig::new().with_base_width(4))
            .with_epochs(epochs)
            .with_batch_size(16)
            .with_lr(0.05)
            .with_lr_milestones(vec![2])
            .with_seed(3)
    }

    fn synthetic(train: usize, test: usize) -> Cifar10 {
        let dir = tempfile::tempdir().unwrap();
        write_synthetic(dir.path(), train, test, 11).unwrap();
        Cifar10::open(dir.path(), RecordCount::Any).unwrap()
    }

    fn run(
        config: &TrainingConfig,
        dir: &std::path::Path,
        resume_from: Option<usize>,
        devices: usize,
    ) -> Vec<EpochRow> {
        let data = synthetic(100, 40);
        let options = RunOptions {
            dir: dir.to_path_buf(),
            resume_from,
            display: Display::Quiet,
            interrupter: Interrupter::new(),
        };
        train::<B>(
            config,
            data.train,
            data.test,
            vec![Default::default(); devices],
            &options,
        )
        .unwrap();
        read_rows(dir)
    }

    /// Resuming at an epoch boundary (model, optimizer, scheduler from Burn's file
    /// checkpointer; data order, augmentation and mixer draws from the epoch) gives
    /// the uninterrupted run's metrics, in the same process.
    #[test]
    fn a_run_resumed_at_an_epoch_boundary_reproduces_the_uninterrupted_run() {
        let (whole, split) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let straight = run(&tiny(3), whole.path(), None, 1);
        assert_eq!(run(&tiny(2), split.path(), None, 1).len(), 2);
        let resumed = run(&tiny(3), split.path(), Some(2), 1);
        let outcome = |rows: &[EpochRow]| -> Vec<[f64; 6]> {
            rows.iter()
                .map(|r| {
                    [
                        r.lr,
                        r.train_loss,
                        r.train_accuracy,
                        r.test_loss,
                        r.test_accuracy,
                        r.test_ece,
                    ]
                })
                .collect()
        };
        assert_eq!(outcome(&straight), outcome(&resumed));
        // Milestone 2 (0-based, as PyTorch's MultiStepLR) divides the rate from the
        // third epoch on, and every row is a real value.
        assert_eq!(
            straight.iter().map(|r| r.epoch).collect::<Vec<_>>(),
            [1, 2, 3]
        );
        assert_eq!([straight[0].lr, straight[1].lr], [0.05, 0.05]);
        assert!((straight[2].lr - 0.005).abs() < 1e-12, "{}", straight[2].lr);
        for row in &straight {
            assert!(row.train_loss.is_finite() && (0.0..=100.0).contains(&row.test_accuracy));
            assert!(row.images_per_second > 0.0, "{row:?}");
        }
        let svg = std::fs::read_to_string(whole.path().join("curves.svg")).unwrap();
        assert!(svg.contains("Learning rate"));
    }

    /// Two devices through burn-train's multi-device strategy (two handles on the
    /// CPU here): the loader is sliced per device and every image is trained once
    /// per epoch.
    #[test]
    fn two_devices_train_through_burn_trains_multi_device_strategy() {
        let dir = tempfile::tempdir().unwrap();
        // The configuration names one CPU device; the two handles go to burn-train.
        let rows = run(&tiny(1), dir.path(), None, 2);
        assert_eq!(rows.len(), 1);
        assert!(rows[0].train_loss.is_finite());
        let accuracy =
            std::fs::read_to_string(dir.path().join("train/epoch-1/Mixed_Accuracy.log")).unwrap();
        // 100 images in two slices of 50, batches of 8 per device: 7 + 7 batches.
        assert_eq!(accuracy.lines().count(), 14, "{accuracy}");
    }

    /// A few timed steps on each CPU backend: the example trains on both.
    #[test]
    fn both_cpu_backends_train_a_few_steps() {
        let config = tiny(1).with_batch_size(4);
        for json in [
            throughput::<B>(&config, synthetic(16, 4).train, &Default::default(), 1, 2).unwrap(),
            throughput::<Autodiff<burn_ndarray::NdArray>>(
                &config,
                synthetic(16, 4).train,
                &Default::default(),
                1,
                2,
            )
            .unwrap(),
        ] {
            assert!(json["images_per_second"].as_f64().unwrap() > 0.0, "{json}");
        }
    }
}
