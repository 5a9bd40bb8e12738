//! Several devices on one machine, through burn-train's own multi-device step.
//!
//! `MultiDevicesTrainStep` (what burn-train's multi-device learning strategy runs)
//! forks the model to every device, runs one [`TrainStep`] per device on its own
//! slice of the data (`split_dataloader`), and returns the gradients; they are moved
//! to the main device and summed with burn-optim's `GradientsAccumulator`, then one
//! SGD step updates the model. Each device's loss is scaled by `1 / devices`, so the
//! summed gradient is that of the mean over the whole batch. No all-reduce of our own.

use burn::module::Module;
use burn::optim::GradientsAccumulator;
use burn::tensor::Tensor;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::train::train::MultiDevicesTrainStep;
use burn::train::{InferenceStep, ItemLazy, LearningComponentsMarker, TrainOutput, TrainStep};
use burn_mixup::{LabelSmoothingCrossEntropyConfig, MixedBatch, SmoothingConvention};

use crate::augment::CifarBatch;
use crate::model::ResNet;

/// The model plus what one device needs to compute its share of the loss.
#[derive(Module, Debug)]
pub struct Replica<B: Backend> {
    pub net: ResNet<B>,
    smoothing: f64,
    convention: SmoothingConvention,
    /// `1 / devices`.
    scale: f64,
}

impl<B: Backend> Replica<B> {
    pub fn new(
        net: ResNet<B>,
        criterion: &LabelSmoothingCrossEntropyConfig,
        devices: usize,
    ) -> Self {
        Self {
            net,
            smoothing: criterion.smoothing,
            convention: criterion.convention,
            scale: 1.0 / devices as f64,
        }
    }
}

/// What a device reports for its part of a step: its loss, accuracy and sample count.
pub struct StepItem<B: Backend> {
    pub loss: Tensor<B, 1>,
    pub accuracy: Tensor<B, 1>,
    pub size: usize,
}

impl<B: Backend> ItemLazy for StepItem<B> {
    type ItemSync = Self;

    fn sync(self) -> Self {
        self
    }
}

impl<B: AutodiffBackend> TrainStep for Replica<B> {
    type Input = MixedBatch<B, 4>;
    type Output = StepItem<B::InnerBackend>;

    fn step(&self, batch: MixedBatch<B, 4>) -> TrainOutput<StepItem<B::InnerBackend>> {
        let device = batch.inputs().device();
        let criterion = LabelSmoothingCrossEntropyConfig::new()
            .with_smoothing(self.smoothing)
            .with_convention(self.convention)
            .init::<B>(&device)
            .expect("the smoothing was validated with the training configuration");
        let logits = self.net.forward(batch.inputs().clone());
        let loss = batch.loss(logits.clone(), &criterion);
        let accuracy = batch.accuracy(logits.detach());
        let grads = (loss.clone() * self.scale).backward();
        let item = StepItem {
            loss: loss.inner(),
            accuracy: accuracy.inner(),
            size: batch.batch_size(),
        };
        TrainOutput::new(self, grads, item)
    }
}

impl<B: Backend> InferenceStep for Replica<B> {
    type Input = CifarBatch<B>;
    type Output = StepItem<B>;

    fn step(&self, batch: CifarBatch<B>) -> StepItem<B> {
        let size = batch.images.dims()[0];
        let logits = self.net.forward(batch.images);
        let predicted = logits.argmax(1).reshape([size]);
        StepItem {
            loss: Tensor::zeros([1], &predicted.device()),
            accuracy: predicted.equal(batch.targets).float().mean(),
            size,
        }
    }
}

type Components<B> = LearningComponentsMarker<
    B,
    f64,
    Replica<B>,
    burn::optim::adaptor::OptimizerAdaptor<
        burn::optim::Sgd<<B as AutodiffBackend>::InnerBackend>,
        Replica<B>,
        B,
    >,
>;

/// One step on every device, gradients summed on the main device.
pub struct MultiDevice<B: AutodiffBackend> {
    step: MultiDevicesTrainStep<Components<B>>,
    main: B::Device,
    criterion: LabelSmoothingCrossEntropyConfig,
    devices: usize,
}

impl<B: AutodiffBackend> MultiDevice<B> {
    pub fn new(devices: &[B::Device], criterion: LabelSmoothingCrossEntropyConfig) -> Self {
        Self {
            step: MultiDevicesTrainStep::new(devices),
            main: devices[0].clone(),
            criterion,
            devices: devices.len(),
        }
    }

    /// Runs one step on each device that still has a batch; returns the summed
    /// gradients and each device's report, or `None` when every loader is done.
    pub fn step<'a>(
        &self,
        loaders: &mut [Box<
            dyn burn::data::dataloader::DataLoaderIterator<MixedBatch<B, 4>> + 'a,
        >],
        model: &ResNet<B>,
    ) -> Option<(burn::optim::GradientsParams, Vec<StepItem<B::InnerBackend>>)> {
        let replica = Replica::new(model.clone(), &self.criterion, self.devices);
        let (outputs, _progress) = self.step.step(loaders, &replica);
        if outputs.is_empty() {
            return None;
        }
        let mut accumulator = GradientsAccumulator::<Replica<B>>::new();
        let mut items = Vec::with_capacity(outputs.len());
        for output in outputs {
            let grads = output.output.grads.to_device(&self.main, &replica);
            accumulator.accumulate(&replica, grads);
            items.push(output.output.item);
        }
        Some((accumulator.grads(), items))
    }
}
