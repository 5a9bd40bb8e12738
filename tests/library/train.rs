//! The `train` feature (enabled for the tests by the crate's dev-dependency on
//! itself): the metrics against hand computations and the library's own functions,
//! and a real burn-train run (`SupervisedTraining` + `Learner`) on a mixed loader.

use burn::backend::Autodiff;
use burn::data::dataloader::batcher::Batcher;
use burn::data::dataloader::{DataLoaderBuilder, Progress};
use burn::data::dataset::InMemDataset;
use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::optim::SgdConfig;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Int, Tensor, TensorData};
use burn::train::metric::{
    AccuracyMetric, Adaptor, ItemLazy, LossMetric, Metric, MetricMetadata, Numeric, NumericEntry,
};
use burn::train::{
    ClassificationOutput, InferenceStep, Learner, SupervisedTraining, TrainOutput, TrainStep,
};
use burn_mixup::{
    CalibrationErrorMetric, CalibrationInput, LabelSmoothingCrossEntropyConfig, MixConfig, MixMode,
    MixedAccuracyMetric, MixedBatch, MixedClassificationOutput, MixupBatcher,
    MultiStepLrSchedulerConfig,
};

use crate::common::*;
use crate::losses::{int_tensor, random_logits, random_targets};

fn metadata() -> MetricMetadata {
    MetricMetadata {
        progress: Progress::new(1, 1),
        global_progress: Progress::new(0, 1),
        iteration: Some(0),
        lr: None,
    }
}

/// The lambda-weighted accuracy metric agrees with `MixedBatch::accuracy`, batch by
/// batch and over the epoch (weighted by batch size), after burn-train's sync.
#[test]
fn mixed_accuracy_metric_matches_the_batch_accuracy() {
    let mixer = MixConfig::new()
        .with_cutmix_alpha(1.0)
        .with_mode(MixMode::Elem)
        .with_seed(Some(3))
        .init()
        .unwrap();
    let mut metric = MixedAccuracyMetric::<burn_flex::Flex>::new();
    let (mut weighted, mut seen) = (0.0, 0usize);
    for (round, batch_size) in [7usize, 4, 9].into_iter().enumerate() {
        let labels = int_tensor::<B>(&random_targets(batch_size, 4, round as u64));
        let batch = mixer
            .apply(
                Tensor::<B, 4>::zeros([batch_size, 1, 4, 4], &device()),
                labels,
            )
            .unwrap();
        let logits = random_logits::<B>(batch_size, 4, 50 + round as u64, 2.0);
        let expected = 100.0 * batch.accuracy(logits.clone()).into_scalar() as f64;
        let output = MixedClassificationOutput::new(&batch, logits, Tensor::zeros([1], &device()));
        metric.update(&output.sync().adapt(), &metadata());
        assert!(
            (metric.value().current() - expected).abs() < 1e-4,
            "round {round}"
        );
        weighted += expected * batch_size as f64;
        seen += batch_size;
    }
    let epoch = metric.running_value().current();
    assert!((epoch - weighted / seen as f64).abs() < 1e-4, "{epoch}");
}

/// Burn's own `LossMetric` and `AccuracyMetric` read the mixed output unchanged:
/// the loss as computed, the accuracy against each sample's own label.
#[test]
fn burns_loss_and_accuracy_metrics_read_the_mixed_output() {
    let mixer = MixConfig::mixup(1.0).with_seed(Some(8)).init().unwrap();
    let labels = int_tensor::<B>(&[0, 1, 2, 1, 0, 2]);
    let batch = mixer
        .apply(Tensor::<B, 2>::zeros([6, 3], &device()), labels.clone())
        .unwrap();
    let logits = random_logits::<B>(6, 3, 4, 2.0);
    let criterion = LabelSmoothingCrossEntropyConfig::new()
        .init::<B>(&device())
        .unwrap();
    let loss = batch.loss(logits.clone(), &criterion);
    let loss_value = loss.clone().into_scalar() as f64;
    let plain = {
        let predicted = to_vec(logits.clone().argmax(1).reshape([6]).float());
        let labels = to_vec(labels.float());
        predicted
            .iter()
            .zip(&labels)
            .filter(|(p, y)| p == y)
            .count() as f64
            / 6.0
    };
    let synced = MixedClassificationOutput::new(&batch, logits, loss).sync();
    let mut loss_metric = LossMetric::new();
    loss_metric.update(&synced.adapt(), &metadata());
    assert!((loss_metric.value().current() - loss_value).abs() < 1e-6);
    let mut accuracy = AccuracyMetric::new();
    accuracy.update(&synced.adapt(), &metadata());
    assert!((accuracy.value().current() - 100.0 * plain).abs() < 1e-9);
}

/// ECE by hand: logits chosen so that the top-1 confidences are 0.9, 0.9, 0.6 and
/// 0.55 (two classes), with hits 1, 0, 1, 1. Bins of width 1/15: 0.9 falls in
/// bin 13, 0.6 in bin 8, 0.55 in bin 8. ECE = (2/4)|1/2 - 0.9| + (2/4)|1 - 0.575|
/// = 0.2 + 0.2125 = 0.4125 (41.25 %).
#[test]
fn calibration_error_matches_a_hand_computation_and_its_epoch_mean() {
    let ln = |p: f64| (p / (1.0 - p)).ln() as f32;
    let logits = Tensor::<B, 2>::from_data(
        TensorData::new(
            vec![ln(0.9), 0.0, ln(0.9), 0.0, 0.0, ln(0.6), ln(0.55), 0.0],
            [4, 2],
        ),
        &device(),
    );
    let targets = int_tensor::<B>(&[0, 1, 1, 0]);
    let mut metric = CalibrationErrorMetric::<B>::new();
    let whole = metric.update(
        &CalibrationInput::new(logits.clone(), targets.clone()),
        &metadata(),
    );
    assert!(
        (metric.value().current() - 41.25).abs() < 1e-4,
        "{}",
        metric.value().current()
    );
    assert!(whole.formatted.contains("41.25"), "{}", whole.formatted);

    // The same samples in two batches: the logged entries average (weighted by
    // batch size, as burn-train's epoch summary does) to the epoch's ECE.
    metric.clear();
    let mut entries = Vec::new();
    for (start, len) in [(0, 1), (1, 3)] {
        let input = CalibrationInput::new(
            logits.clone().narrow(0, start, len),
            targets.clone().narrow(0, start, len),
        );
        entries.push(
            NumericEntry::deserialize(&metric.update(&input, &metadata()).serialized).unwrap(),
        );
    }
    let (sum, count) = entries.iter().fold((0.0, 0), |(s, c), e| match e {
        NumericEntry::Aggregated {
            aggregated_value,
            count: n,
        } => (s + aggregated_value * *n as f64, c + n),
        NumericEntry::Value(v) => (s + v, c + 1),
    });
    assert_eq!(count, 4);
    assert!(
        (sum / count as f64 - 41.25).abs() < 1e-4,
        "{}",
        sum / count as f64
    );
    assert!((metric.value().current() - 41.25).abs() < 1e-4);

    // Burn's `ClassificationOutput` (the validation split) feeds it too.
    let output = ClassificationOutput::new(Tensor::zeros([1], &device()), logits, targets);
    metric.clear();
    metric.update(&output.adapt(), &metadata());
    assert!((metric.value().current() - 41.25).abs() < 1e-4);
}

// ---------------------------------------------------------------- burn-train run

type Train = Autodiff<B>;

/// Item `i`: four features that give away the class `i % 3`, for a model that
/// learns in a few steps.
#[derive(Clone)]
struct Features;

impl<BK: Backend> Batcher<BK, usize, (Tensor<BK, 2>, Tensor<BK, 1, Int>)> for Features {
    fn batch(&self, items: Vec<usize>, device: &BK::Device) -> (Tensor<BK, 2>, Tensor<BK, 1, Int>) {
        let n = items.len();
        let rows: Vec<f32> = items
            .iter()
            .flat_map(|&i| {
                let class = i % 3;
                (0..4).map(move |k| {
                    if k == class {
                        2.0
                    } else {
                        (i % 5) as f32 * 0.1
                    }
                })
            })
            .collect();
        let labels: Vec<i64> = items.iter().map(|&i| (i % 3) as i64).collect();
        (
            Tensor::from_data(TensorData::new(rows, [n, 4]), device),
            Tensor::from_data(TensorData::new(labels, [n]), device),
        )
    }
}

#[derive(Module, Debug)]
struct Net<B: Backend> {
    linear: Linear<B>,
}

impl<B: AutodiffBackend> TrainStep for Net<B> {
    type Input = MixedBatch<B, 2>;
    type Output = MixedClassificationOutput<B>;

    fn step(&self, batch: MixedBatch<B, 2>) -> TrainOutput<MixedClassificationOutput<B>> {
        let logits = self.linear.forward(batch.inputs().clone());
        let criterion = LabelSmoothingCrossEntropyConfig::new()
            .init(&logits.device())
            .expect("0.1 is a valid smoothing");
        let loss = batch.loss(logits.clone(), &criterion);
        let output = MixedClassificationOutput::new(&batch, logits, loss.clone());
        TrainOutput::new(self, loss.backward(), output)
    }
}

impl<B: Backend> InferenceStep for Net<B> {
    type Input = (Tensor<B, 2>, Tensor<B, 1, Int>);
    type Output = ClassificationOutput<B>;

    fn step(
        &self,
        (inputs, targets): (Tensor<B, 2>, Tensor<B, 1, Int>),
    ) -> ClassificationOutput<B> {
        let logits = self.linear.forward(inputs);
        let loss = LabelSmoothingCrossEntropyConfig::new()
            .with_smoothing(0.0)
            .init(&logits.device())
            .expect("0 is a valid smoothing")
            .forward(logits.clone(), targets.clone());
        ClassificationOutput::new(loss, logits, targets)
    }
}

/// The README's five steps, run: a mixed train loader with an odd final batch, a
/// plain validation loader, Burn's and our metrics, the multi-step schedule, launched
/// through `SupervisedTraining`. The model learns the easy task despite the mixing.
#[test]
fn supervised_training_runs_on_mixed_batches() {
    let dir = tempfile::tempdir().unwrap();
    let mixer = MixConfig::mixup(0.4).with_seed(Some(1)).init().unwrap();
    let train_loader = DataLoaderBuilder::<Train, usize, MixedBatch<Train, 2>>::new(
        MixupBatcher::new(Features, mixer).with_num_classes(3),
    )
    .batch_size(8)
    .shuffle(1)
    .build(InMemDataset::new((0..45).collect::<Vec<usize>>()));
    let valid_loader =
        DataLoaderBuilder::<B, usize, (Tensor<B, 2>, Tensor<B, 1, Int>)>::new(Features)
            .batch_size(16)
            .build(InMemDataset::new((0..30).collect::<Vec<usize>>()));
    let scheduler = MultiStepLrSchedulerConfig::new(0.5, vec![3])
        .with_iterations_per_epoch(6)
        .init()
        .unwrap();
    let training = SupervisedTraining::new(dir.path(), train_loader, valid_loader)
        .metric_train_numeric(LossMetric::new())
        .metric_train_numeric(AccuracyMetric::new())
        .metric_train_numeric(MixedAccuracyMetric::new())
        .metric_valid_numeric(AccuracyMetric::new())
        .metric_valid_numeric(CalibrationErrorMetric::new())
        .num_epochs(4);
    let model: Net<Train> = Net {
        linear: LinearConfig::new(4, 3).init(&device()),
    };
    let result = training.launch(Learner::new(model, SgdConfig::new().init(), scheduler));
    // The trained model separates the three classes.
    let (inputs, targets): (Tensor<B, 2>, Tensor<B, 1, Int>) =
        Features.batch((0..30).collect(), &device());
    let (inputs_all, targets_all) = (inputs.clone(), targets.clone());
    let predicted = to_vec(
        result
            .model
            .linear
            .forward(inputs)
            .argmax(1)
            .reshape([30])
            .float(),
    );
    let labels = to_vec::<B, 1>(targets.float());
    let correct = predicted
        .iter()
        .zip(&labels)
        .filter(|(p, y)| p == y)
        .count();
    assert!(correct >= 27, "{correct} of 30 right");

    // burn-train logged our metrics for every epoch, next to its own.
    fn files(dir: &std::path::Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                files(&path, out);
            } else {
                out.push(
                    path.strip_prefix(dir.ancestors().last().unwrap())
                        .unwrap()
                        .display()
                        .to_string(),
                );
            }
        }
    }
    let mut logged = Vec::new();
    files(dir.path(), &mut logged);
    for epoch in 1..=4 {
        for expected in [
            format!("train/epoch-{epoch}/Mixed_Accuracy.log"),
            format!("valid/epoch-{epoch}/Calibration_Error_(ECE).log"),
        ] {
            assert!(
                logged.iter().any(|f| f.ends_with(&expected)),
                "{expected} missing from {logged:?}"
            );
        }
    }
    // The epoch summary of ECE (the batch-size-weighted mean of the logged entries)
    // is the ECE of the final model over the whole validation set.
    let log = std::fs::read_to_string(dir.path().join("valid/epoch-4/Calibration_Error_(ECE).log"))
        .unwrap();
    let (sum, count) =
        log.lines().fold((0.0, 0), |(s, c), line| {
            match NumericEntry::deserialize(line).unwrap() {
                NumericEntry::Aggregated {
                    aggregated_value,
                    count,
                } => (s + aggregated_value * count as f64, c + count),
                NumericEntry::Value(v) => (s + v, c + 1),
            }
        });
    let mut ece = CalibrationErrorMetric::<B>::new();
    for (start, len) in [(0, 16), (16, 14)] {
        let input = CalibrationInput::new(
            result
                .model
                .linear
                .forward(inputs_all.clone().narrow(0, start, len)),
            targets_all.clone().narrow(0, start, len),
        );
        ece.update(&input, &metadata());
    }
    assert_eq!(count, 30);
    assert!(
        (sum / count as f64 - ece.value().current()).abs() < 1e-3,
        "logged {} vs recomputed {}",
        sum / count as f64,
        ece.value().current()
    );
}
