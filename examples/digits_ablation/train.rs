//! One run of one arm: a short training loop through the crate's public API, as a
//! user writes it (`MixupBatcher` in a `DataLoaderBuilder`, the one-pass mixed
//! loss or RegMixup's, Burn's SGD, the crate's `MultiStepLrScheduler`), then the
//! test metrics before and after temperature scaling fitted on held-out images.
//!
//! A loop rather than burn-train: a default ablation is 200 runs of a few hundred
//! steps, where burn-train's per-run machinery (event threads, renderers, a folder
//! of logs per run) would cost more than the training and leave thousands of files;
//! the loop is the same steps burn-train takes (the CIFAR-10 example shows that side).

use std::sync::Arc;
use std::time::Instant;

use burn::data::dataloader::batcher::Batcher;
use burn::data::dataloader::{DataLoader, DataLoaderBuilder};
use burn::lr_scheduler::LrScheduler;
use burn::module::Module;
use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{GradientsParams, SgdConfig};
use burn::tensor::{Device, Tensor};
use burn_mixup::{
    Binning, CalibrationError, MixedBatch, MixupBatcher, MultiStepLrSchedulerConfig, Predictions,
    RegMixupBatch, TemperatureScaling,
};
use thiserror::Error;

use crate::arms::{Arm, Criterion};
use crate::data::{CLASSES, ImageBatcher, ImageSet};
use crate::model::Net;

/// The images of one training size: what the runs train on, the held-out images
/// that fit the temperature, and the test images; all standardised with the
/// training images' statistics.
pub struct Splits {
    pub train: ImageSet,
    pub calibration: ImageSet,
    pub test: ImageSet,
}

/// The recipe every arm trains with.
#[derive(Debug, Clone, Copy)]
pub struct Recipe {
    pub epochs: usize,
    pub batch_size: usize,
    /// SGD's initial rate; divided by 10 at half and at three quarters of the epochs.
    pub lr: f64,
    pub momentum: f64,
    pub weight_decay: f32,
    /// The CNN of this width (Fashion-MNIST); `None`: the MLP (digits).
    pub cnn_width: Option<usize>,
}

impl Recipe {
    pub fn new(epochs: usize) -> Self {
        Self {
            epochs,
            batch_size: 64,
            lr: 0.1,
            momentum: 0.9,
            weight_decay: 5e-4,
            cnn_width: None,
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
    /// The temperature fitted on the held-out images, and the test confidence
    /// (percent), NLL and ECE (percent) of the logits divided by it. Accuracy does
    /// not change: scaling keeps every prediction.
    pub temperature: f64,
    pub confidence_scaled: f64,
    pub nll_scaled: f64,
    pub ece_scaled: f64,
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
    #[error("arm {arm}, seed {seed}: {source}")]
    Calibration {
        arm: &'static str,
        seed: u64,
        #[source]
        source: CalibrationError,
    },
}

/// Trains `arm` from `seed` on `splits.train`, fits the temperature on
/// `splits.calibration` and measures both on `splits.test`.
pub fn run(
    arm: &Arm,
    seed: u64,
    splits: &Splits,
    recipe: &Recipe,
    device: &Device,
) -> Result<Outcome, RunError> {
    let started = Instant::now();
    let autodiff = device.clone().autodiff();
    let mixer = arm.mixing.clone().with_seed(Some(seed)).init()?;
    let images = ImageBatcher {
        side: splits.train.side,
    };
    let batcher = MixupBatcher::new(images, mixer).with_num_classes(CLASSES);
    let criterion = Criterion::new(arm.loss, &autodiff)?;
    let model = match recipe.cnn_width {
        Some(width) => Net::cnn(width, seed, &autodiff),
        None => Net::mlp(seed, &autodiff),
    };
    let model = match arm.regmixup_eta {
        None => train(
            loader(batcher, seed, recipe, &autodiff, splits),
            model,
            |model: &Net, batch: MixedBatch<4>| {
                criterion.loss(model.forward(batch.inputs().clone()), &batch)
            },
            (arm, seed, recipe),
        )?,
        Some(eta) => train(
            loader(batcher.regmixup(eta)?, seed, recipe, &autodiff, splits),
            model,
            |model: &Net, batch: RegMixupBatch<4>| {
                criterion.regmixup_loss(model.forward(batch.inputs().clone()), &batch)
            },
            (arm, seed, recipe),
        )?,
    };
    let model = model.valid();
    let calibration = |source| RunError::Calibration {
        arm: arm.name,
        seed,
        source,
    };
    // In chunks: 10,000 Fashion-MNIST images at once would hold gigabytes of
    // activations.
    let logits_of = |set: &crate::data::ImageSet| {
        let (logits, labels): (Vec<_>, Vec<_>) = set
            .items
            .chunks(1000)
            .map(|chunk| {
                let (z, y) = images.batch(chunk.to_vec(), device);
                (model.forward(z), y)
            })
            .unzip();
        (Tensor::cat(logits, 0), Tensor::cat(labels, 0))
    };
    let (z, y) = logits_of(&splits.calibration);
    let scaling = TemperatureScaling::fit_tensors(z, y).map_err(calibration)?;
    let (logits, y) = logits_of(&splits.test);
    let before = Predictions::from_tensors(logits.clone(), y.clone()).map_err(calibration)?;
    let after = Predictions::from_tensors(scaling.apply(logits), y).map_err(calibration)?;
    let ece = |p: &Predictions| {
        p.reliability(15, Binning::EqualWidth)
            .map(|r| 100.0 * r.ece())
    };
    Ok(Outcome {
        accuracy: 100.0 * before.accuracy(),
        confidence: 100.0 * before.mean_confidence(),
        nll: before.nll(),
        ece: ece(&before).map_err(calibration)?,
        temperature: scaling.temperature(),
        confidence_scaled: 100.0 * after.mean_confidence(),
        nll_scaled: after.nll(),
        ece_scaled: ece(&after).map_err(calibration)?,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// The training loader of a run: shuffled with the run's seed, on the autodiff
/// device, one batcher kind or the other.
fn loader<B, O>(
    batcher: B,
    seed: u64,
    recipe: &Recipe,
    device: &Device,
    splits: &Splits,
) -> Arc<dyn DataLoader<O>>
where
    B: Batcher<crate::data::Item, O> + 'static,
    O: Send + Clone + std::fmt::Debug + 'static,
{
    DataLoaderBuilder::new(batcher)
        .batch_size(recipe.batch_size)
        .shuffle(seed)
        .set_device(device.clone())
        .build(splits.train.clone())
}

/// The training loop, for any batch kind: `loss_of` runs the model on a batch and
/// returns its loss.
fn train<O>(
    loader: Arc<dyn DataLoader<O>>,
    mut model: Net,
    loss_of: impl Fn(&Net, O) -> Result<Tensor<1>, burn_mixup::LossError>,
    (arm, seed, recipe): (&Arm, u64, &Recipe),
) -> Result<Net, RunError> {
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
            .with_iterations_per_epoch(loader.num_items().div_ceil(recipe.batch_size))
            .init()?;
    for epoch in 0..recipe.epochs {
        for (iteration, batch) in loader.iter().enumerate() {
            let batch = batch.map_err(|e| RunError::Data(e.to_string()))?;
            let loss = loss_of(&model, batch)?;
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
    Ok(model)
}
