//! The `train` feature (enabled for the tests by the crate's dev-dependency on
//! itself): the metrics against hand computations and the library's own functions,
//! and a real burn-train run (`SupervisedTraining` + `Learner`) on a mixed loader.

use burn::data::dataloader::batcher::Batcher;
use burn::data::dataloader::{DataLoaderBuilder, Progress};
use burn::data::dataset::InMemDataset;
use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::optim::SgdConfig;
use burn::tensor::{Device, Int, Tensor, TensorData};
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
        progress: Progress::new(1, 1, None),
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
    let mut metric = MixedAccuracyMetric::new();
    let (mut weighted, mut seen) = (0.0, 0usize);
    for (round, batch_size) in [7usize, 4, 9].into_iter().enumerate() {
        let labels = int_tensor(&random_targets(batch_size, 4, round as u64), &device());
        let batch = mixer
            .apply(Tensor::<4>::zeros([batch_size, 1, 4, 4], &device()), labels)
            .unwrap();
        let logits = random_logits(batch_size, 4, 50 + round as u64, 2.0, &device());
        let expected = 100.0 * batch.accuracy(logits.clone()).into_scalar::<f32>() as f64;
        let output = MixedClassificationOutput::new(&batch, logits, Tensor::zeros([1], &device()));
        metric
            .update(&output.sync().unwrap().adapt(), &metadata())
            .unwrap();
        let value = metric.value().unwrap().current();
        assert!((value - expected).abs() < 1e-4, "round {round}");
        weighted += expected * batch_size as f64;
        seen += batch_size;
    }
    let epoch = metric.running_value().unwrap().current();
    assert!((epoch - weighted / seen as f64).abs() < 1e-4, "{epoch}");
    metric.compute().unwrap();
    let last = metric.final_value();
    assert!(matches!(last, NumericEntry::Final(_)), "{last:?}");
    assert!((last.current() - weighted / seen as f64).abs() < 1e-4);
}

/// Burn's own `LossMetric` and `AccuracyMetric` read the mixed output unchanged:
/// the loss as computed, the accuracy against each sample's own label.
#[test]
fn burns_loss_and_accuracy_metrics_read_the_mixed_output() {
    let mixer = MixConfig::mixup(1.0).with_seed(Some(8)).init().unwrap();
    let labels = int_tensor(&[0, 1, 2, 1, 0, 2], &device());
    let batch = mixer
        .apply(Tensor::<2>::zeros([6, 3], &device()), labels.clone())
        .unwrap();
    let logits = random_logits(6, 3, 4, 2.0, &device());
    let criterion = LabelSmoothingCrossEntropyConfig::new()
        .init(&device())
        .unwrap();
    let loss = batch.loss(logits.clone(), &criterion);
    let loss_value = loss.clone().into_scalar::<f32>() as f64;
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
    let synced = MixedClassificationOutput::new(&batch, logits, loss)
        .sync()
        .unwrap();
    let mut loss_metric = LossMetric::new();
    loss_metric.update(&synced.adapt(), &metadata()).unwrap();
    assert!((loss_metric.value().unwrap().current() - loss_value).abs() < 1e-6);
    let mut accuracy = AccuracyMetric::new();
    accuracy.update(&synced.adapt(), &metadata()).unwrap();
    assert!((accuracy.value().unwrap().current() - 100.0 * plain).abs() < 1e-9);
}

/// Logits whose top-1 softmax confidences (two classes) are `confidences`.
fn logits_with_confidences(confidences: &[f64], device: &Device) -> Tensor<2> {
    let ln = |p: f64| (p / (1.0 - p)).ln() as f32;
    let values: Vec<f32> = confidences.iter().flat_map(|&p| [ln(p), 0.0]).collect();
    Tensor::from_data(TensorData::new(values, [confidences.len(), 2]), device)
}

/// ECE by hand: top-1 confidences 0.9, 0.9, 0.6 and 0.55 (class 0 each time, two
/// classes), targets 0, 1, 0, 0, so hits 1, 0, 1, 1. Bins of width 1/15: 0.9 falls
/// in bin 13, 0.6 and 0.55 in bin 8. ECE = (2/4)|1/2 - 0.9| + (2/4)|1 - 0.575| =
/// 0.2 + 0.2125 = 0.4125 (41.25 %).
#[test]
fn calibration_error_matches_a_hand_computation_and_its_epoch_value() {
    let logits = logits_with_confidences(&[0.9, 0.9, 0.6, 0.55], &device());
    let targets = int_tensor(&[0, 1, 0, 0], &device());
    let mut metric = CalibrationErrorMetric::new();
    let whole = metric
        .update(
            &CalibrationInput::new(logits.clone(), targets.clone()),
            &metadata(),
        )
        .unwrap();
    assert!(whole.formatted.contains("41.25"), "{}", whole.formatted);
    let computed = metric.compute().unwrap();
    assert!(
        (metric.final_value().current() - 41.25).abs() < 1e-4,
        "{}",
        metric.final_value().current()
    );
    let NumericEntry::Final(logged) = NumericEntry::deserialize(&computed.serialized).unwrap()
    else {
        panic!("compute logs a Final entry: {}", computed.serialized);
    };
    assert!((logged - 41.25).abs() < 1e-4);

    // The same samples in two batches. Each batch logs its own ECE (sample 0 alone:
    // |1 - 0.9| = 10 %; the other three: (|0 - 0.9| + |2 - 1.15|) / 3 = 58.33 %),
    // whose batch-weighted mean (46.25 %) is NOT the epoch's ECE: the epoch value
    // comes from `compute`, over all four samples.
    metric.clear();
    let mut batch_values = Vec::new();
    for (start, len) in [(0, 1), (1, 3)] {
        let input = CalibrationInput::new(
            logits.clone().narrow(0, start, len),
            targets.clone().narrow(0, start, len),
        );
        let entry = metric.update(&input, &metadata()).unwrap();
        batch_values.push(
            NumericEntry::deserialize(&entry.serialized)
                .unwrap()
                .current(),
        );
    }
    assert!((batch_values[0] - 10.0).abs() < 1e-4, "{batch_values:?}");
    assert!(
        (batch_values[1] - 175.0 / 3.0).abs() < 1e-4,
        "{batch_values:?}"
    );
    let running = metric.running_value().unwrap().current();
    metric.compute().unwrap();
    assert!(
        (running - 41.25).abs() < 1e-4 && (metric.final_value().current() - 41.25).abs() < 1e-4
    );

    // Burn's `ClassificationOutput` (the validation split) feeds it too.
    let output = ClassificationOutput::new(Tensor::zeros([1], &device()), logits, targets);
    metric.clear();
    metric.update(&output.adapt(), &metadata()).unwrap();
    metric.compute().unwrap();
    assert!((metric.final_value().current() - 41.25).abs() < 1e-4);
}

/// A diverged model's logits (NaN, infinite) give a NaN ECE, never a finite number
/// or `inf` that reads as a (bad) calibration; the next epoch starts clean.
#[test]
fn calibration_error_of_non_finite_logits_is_nan() {
    let mut metric = CalibrationErrorMetric::new();
    for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        let logits =
            Tensor::<2>::from_data(TensorData::new(vec![bad, 0.0, 2.0, 0.0], [2, 2]), &device());
        metric.clear();
        let entry = metric
            .update(
                &CalibrationInput::new(logits, int_tensor(&[0, 0], &device())),
                &metadata(),
            )
            .unwrap();
        metric.compute().unwrap();
        let value = metric.final_value().current();
        assert!(value.is_nan(), "logit {bad}: ECE {value}");
        assert!(!entry.formatted.contains("inf"), "{}", entry.formatted);
    }
    metric.clear();
    metric
        .update(
            &CalibrationInput::new(
                logits_with_confidences(&[0.9], &device()),
                int_tensor(&[0], &device()),
            ),
            &metadata(),
        )
        .unwrap();
    metric.compute().unwrap();
    assert!((metric.final_value().current() - 10.0).abs() < 1e-4);
}

// ---------------------------------------------------------------- burn-train run

/// Item `i`: four features that give away the class `i % 3`, for a model that
/// learns in a few steps.
#[derive(Clone)]
struct Features;

impl Batcher<usize, (Tensor<2>, Tensor<1, Int>)> for Features {
    fn batch(&self, items: Vec<usize>, device: &Device) -> (Tensor<2>, Tensor<1, Int>) {
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
struct Net {
    linear: Linear,
}

impl TrainStep for Net {
    type Input = MixedBatch<2>;
    type Output = MixedClassificationOutput;

    fn step(&self, batch: MixedBatch<2>) -> TrainOutput<MixedClassificationOutput> {
        let logits = self.linear.forward(batch.inputs().clone());
        let criterion = LabelSmoothingCrossEntropyConfig::new()
            .init(&logits.device())
            .expect("0.1 is a valid smoothing");
        let loss = batch.loss(logits.clone(), &criterion);
        let output = MixedClassificationOutput::new(&batch, logits, loss.clone());
        TrainOutput::new(self, loss.backward(), output)
    }
}

impl InferenceStep for Net {
    type Input = (Tensor<2>, Tensor<1, Int>);
    type Output = ClassificationOutput;

    fn step(&self, (inputs, targets): (Tensor<2>, Tensor<1, Int>)) -> ClassificationOutput {
        let logits = self.linear.forward(inputs);
        let loss = LabelSmoothingCrossEntropyConfig::new()
            .with_smoothing(0.0)
            .init(&logits.device())
            .expect("0 is a valid smoothing")
            .forward(logits.clone(), targets.clone());
        ClassificationOutput::new(loss, logits, targets)
    }
}

/// The five steps of `guide::burn_train`, run: a mixed train loader with an odd final batch, a
/// plain validation loader, Burn's and our metrics, the multi-step schedule, launched
/// through `SupervisedTraining`. The model learns the easy task despite the mixing.
#[test]
fn supervised_training_runs_on_mixed_batches() {
    let dir = tempfile::tempdir().unwrap();
    let mixer = MixConfig::mixup(0.4).with_seed(Some(1)).init().unwrap();
    let train_loader =
        DataLoaderBuilder::new(MixupBatcher::new(Features, mixer).with_num_classes(3))
            .batch_size(8)
            .shuffle(1)
            .set_device(autodiff())
            .build(InMemDataset::new((0..45).collect::<Vec<usize>>()));
    let valid_loader = DataLoaderBuilder::new(Features)
        .batch_size(16)
        .set_device(device())
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
    let model = Net {
        linear: LinearConfig::new(4, 3).init(&autodiff()),
    };
    let result = training.launch(Learner::new(model, SgdConfig::new().init(), scheduler));
    assert!(result.error.is_none() && result.interrupted.is_none());
    // The trained model separates the three classes.
    let (inputs, targets): (Tensor<2>, Tensor<1, Int>) =
        Features.batch((0..30).collect(), &device());
    let predicted = to_ints(
        result
            .model
            .linear
            .forward(inputs.clone())
            .argmax(1)
            .reshape([30]),
    );
    let labels = to_ints(targets.clone());
    let correct = predicted
        .iter()
        .zip(&labels)
        .filter(|(p, y)| p == y)
        .count();
    assert!(correct >= 27, "{correct} of 30 right");

    // burn-train logged our metrics for every epoch, next to its own.
    for epoch in 1..=4 {
        for expected in [
            format!("train/epoch-{epoch}/Mixed_Accuracy.log"),
            format!("valid/epoch-{epoch}/Calibration_Error_(ECE).log"),
        ] {
            assert!(dir.path().join(&expected).is_file(), "{expected} missing");
        }
    }
    // The epoch's ECE is the last line, a Final entry from `compute`: the ECE of the
    // final model over the whole validation set, recomputed here in one batch.
    let log = std::fs::read_to_string(dir.path().join("valid/epoch-4/Calibration_Error_(ECE).log"))
        .unwrap();
    let entries: Vec<NumericEntry> = log
        .lines()
        .map(|line| NumericEntry::deserialize(line).unwrap())
        .collect();
    assert_eq!(
        entries.len(),
        3,
        "two batches (16 + 14) and the epoch value: {log}"
    );
    let NumericEntry::Final(logged) = entries[2] else {
        panic!("the epoch entry is Final: {log}");
    };
    let mut ece = CalibrationErrorMetric::new();
    let logits = result.model.linear.forward(inputs);
    ece.update(&CalibrationInput::new(logits, targets), &metadata())
        .unwrap();
    ece.compute().unwrap();
    assert!(
        (logged - ece.final_value().current()).abs() < 1e-6,
        "logged {logged} vs recomputed {}",
        ece.final_value().current()
    );
}
