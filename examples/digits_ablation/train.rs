//! One run of one arm: a short training loop through the crate's public API, as a
//! user writes it (`MixupBatcher` in a `DataLoaderBuilder`, the one-pass mixed
//! loss, Burn's SGD, the crate's `MultiStepLrScheduler`), then the test metrics.
//!
//! A loop rather than burn-train: a default ablation is 90 runs of a few hundred
//! steps, where burn-train's per-run machinery (event threads, renderers, a folder
//! of logs per run) would cost more than the training and leave thousands of files;
//! the loop is the same steps burn-train takes (the CIFAR-10 example shows that side).

use std::time::Instant;

use burn::data::dataloader::DataLoaderBuilder;
use burn::data::dataloader::Progress;
use burn::lr_scheduler::LrScheduler;
use burn::module::Module;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{GradientsParams, SgdConfig};
use burn::tensor::Device;
use burn::tensor::activation::softmax;
use burn::train::metric::{Metric, MetricMetadata, Numeric};
use burn_mixup::{
    CalibrationErrorMetric, CalibrationInput, MixupBatcher, MultiStepLrSchedulerConfig,
};
use thiserror::Error;

use crate::arms::{Arm, Criterion};
use crate::data::{CLASSES, DigitBatcher, DigitSet};
use crate::model::MlpConfig;

/// The recipe every arm trains with.
#[derive(Debug, Clone, Copy)]
pub struct Recipe {
    pub epochs: usize,
    pub batch_size: usize,
    /// SGD's initial rate; divided by 10 at half and at three quarters of the epochs.
    pub lr: f64,
    pub momentum: f64,
    pub weight_decay: f32,
}

impl Recipe {
    pub fn new(epochs: usize) -> Self {
        Self {
            epochs,
            batch_size: 64,
            lr: 0.1,
            momentum: 0.9,
            weight_decay: 5e-4,
        }
    }
}

/// What one run measured on the test split.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Outcome {
    /// Top-1 accuracy, percent.
    pub accuracy: f64,
    /// Mean top-1 softmax probability, percent: above the accuracy, the model is
    /// over-confident; below it, under-confident (ECE alone does not say which).
    pub confidence: f64,
    /// Mean negative log-likelihood of the softmax of the logits.
    pub nll: f64,
    /// 15-bin expected calibration error, percent.
    pub ece: f64,
    pub seconds: f64,
}

#[derive(Debug, Error)]
pub enum RunError {
    #[error("invalid mixing options: {0}")]
    Mixing(#[from] burn_mixup::MixError),
    #[error("invalid loss options: {0}")]
    Loss(#[from] burn_mixup::LossError),
    #[error("invalid learning-rate schedule: {0}")]
    Schedule(#[from] burn_mixup::ScheduleError),
    #[error("a batch could not be loaded: {0}")]
    Data(String),
    #[error(
        "arm {arm}, seed {seed}: the training loss became {loss} at epoch {epoch}, iteration \
         {iteration} (learning rate {lr}): the run diverged"
    )]
    Diverged {
        arm: &'static str,
        seed: u64,
        epoch: usize,
        iteration: usize,
        lr: f64,
        loss: f32,
    },
    #[error("reading the test metrics failed: {0}")]
    Read(String),
}

/// Trains `arm` from `seed` on `train` and measures it on `test`.
pub fn run(
    arm: &Arm,
    seed: u64,
    train: &DigitSet,
    test: &DigitSet,
    recipe: &Recipe,
    device: &Device,
) -> Result<Outcome, RunError> {
    let started = Instant::now();
    let autodiff = device.clone().autodiff();
    let mixer = arm.mixing.clone().with_seed(Some(seed)).init()?;
    let loader =
        DataLoaderBuilder::new(MixupBatcher::new(DigitBatcher, mixer).with_num_classes(CLASSES))
            .batch_size(recipe.batch_size)
            .shuffle(seed)
            .set_device(autodiff.clone())
            .build(train.clone());
    let criterion = Criterion::new(arm.loss, &autodiff)?;
    let mut model = MlpConfig::new().init(seed, &autodiff);
    let mut optimizer = SgdConfig::new()
        .with_momentum(Some(MomentumConfig {
            momentum: recipe.momentum,
            dampening: 0.0,
            nesterov: false,
        }))
        .with_weight_decay(Some(WeightDecayConfig::new(recipe.weight_decay)))
        .init();
    let mut schedule =
        MultiStepLrSchedulerConfig::new(recipe.lr, vec![recipe.epochs / 2, recipe.epochs * 3 / 4])
            .with_iterations_per_epoch(train.0.len().div_ceil(recipe.batch_size))
            .init()?;
    for epoch in 0..recipe.epochs {
        for (iteration, batch) in loader.iter().enumerate() {
            let batch = batch.map_err(|e| RunError::Data(e.to_string()))?;
            let logits = model.forward(batch.inputs().clone());
            let loss = criterion.loss(logits, &batch)?;
            let lr = schedule.step();
            // A diverged run is an error, never a row of numbers.
            let value = loss.clone().into_scalar::<f32>();
            if !value.is_finite() {
                return Err(RunError::Diverged {
                    arm: arm.name,
                    seed,
                    epoch: epoch + 1,
                    iteration: iteration + 1,
                    lr,
                    loss: value,
                });
            }
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optimizer.step(lr, model, grads);
        }
    }
    let (accuracy, confidence, nll, ece) = evaluate(&model.valid(), test, device)?;
    Ok(Outcome {
        accuracy,
        confidence,
        nll,
        ece,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Accuracy (%), mean confidence (%), NLL and ECE (%) of `model` on `test`, in one
/// batch.
fn evaluate(
    model: &crate::model::Mlp,
    test: &DigitSet,
    device: &Device,
) -> Result<(f64, f64, f64, f64), RunError> {
    use burn::data::dataloader::batcher::Batcher;
    let read = |e: burn::tensor::TensorReadError| RunError::Read(e.to_string());
    let (images, labels) = DigitBatcher.batch(test.0.clone(), device);
    let logits = model.forward(images);
    let [count, _] = logits.dims();
    let hits = logits
        .clone()
        .argmax(1)
        .reshape([count])
        .equal(labels.clone())
        .int()
        .sum()
        .try_into_scalar::<i64>()
        .map_err(read)?;
    let confidence = softmax(logits.clone(), 1)
        .max_dim(1)
        .mean()
        .try_into_scalar::<f64>()
        .map_err(read)?;
    let nll = CrossEntropyLossConfig::new()
        .init(device)
        .forward(logits.clone(), labels.clone())
        .try_into_scalar::<f64>()
        .map_err(read)?;
    let mut ece = CalibrationErrorMetric::new();
    let metadata = MetricMetadata {
        progress: Progress::new(count, count, None),
        iteration: None,
        lr: None,
    };
    ece.update(&CalibrationInput::new(logits, labels), &metadata)
        .map_err(read)?;
    ece.compute().map_err(read)?;
    Ok((
        100.0 * hits as f64 / count as f64,
        100.0 * confidence,
        nll,
        ece.final_value().current(),
    ))
}
