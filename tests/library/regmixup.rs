//! RegMixup: the loss and its gradient against the authors' formula in PyTorch
//! (`tests/fixtures/regmixup.json`, made by `tests/fixtures/make_regmixup.py 31`),
//! the batch layout, and the batcher through a real `DataLoader` with workers, on
//! ndarray and flex.

use burn::data::dataloader::DataLoaderBuilder;
use burn::data::dataloader::batcher::Batcher;
use burn::data::dataset::InMemDataset;
use burn::tensor::{Device, Int, Tensor, TensorData};
use burn_mixup::{
    LabelSmoothingCrossEntropyConfig, LossError, MixConfig, MixError, MixParams, RegMixupBatch,
};
use serde_json::Value;

use crate::common::{assert_close, assert_scalar, autodiff, device, flat, to_vec};

fn fixture() -> Value {
    serde_json::from_str(include_str!("../fixtures/regmixup.json")).expect("fixture is valid JSON")
}

#[test]
fn loss_and_gradient_match_the_authors_formula_in_pytorch() {
    for device in [autodiff(), Device::flex().autodiff()] {
        for case in fixture()["cases"].as_array().unwrap() {
            let n = |key: &str| case[key].as_u64().unwrap() as usize;
            let f = |key: &str| case[key].as_f64().unwrap();
            let (b, k) = (n("batch"), n("classes"));
            let (logits, _) = flat(&case["logits"]);
            let logits: Vec<f32> = logits.iter().map(|&v| v as f32).collect();
            let z =
                Tensor::<2>::from_data(TensorData::new(logits, [2 * b, k]), &device).require_grad();
            let (targets, _) = flat(&case["targets"]);
            let targets: Vec<i64> = targets.iter().map(|&t| t as i64).collect();
            let y = Tensor::<1, Int>::from_data(TensorData::new(targets, [b]), &device);
            let (partners, _) = flat(&case["partners"]);
            let partners: Vec<usize> = partners.iter().map(|&p| p as usize).collect();
            let x = Tensor::<2>::zeros([b, 3], &device);
            let mixed = MixParams::blend(f("lambda"), partners)
                .unwrap()
                .mix_batch(x.clone(), y.clone())
                .unwrap();
            let batch = RegMixupBatch::new(x, y, mixed, f("eta")).unwrap();
            let criterion = LabelSmoothingCrossEntropyConfig::new()
                .with_smoothing(f("smoothing"))
                .init(&device)
                .unwrap();
            let loss = batch.loss(z.clone(), &criterion);
            let grads = loss.backward();
            let what = format!("b={b} k={k} on {device:?}");
            assert_scalar(loss.into_scalar::<f32>(), f("loss"), 1e-5, &what);
            let grad = z.grad(&grads).expect("gradient");
            assert_close(&to_vec(grad), &flat(&case["grad"]).0, 0.0, 1e-6, &what);
        }
    }
}

/// The first B rows are the clean inputs, bit for bit; the last B rows are what
/// the same mixer, seed and draw give through `Mixer::apply`.
#[test]
fn inputs_are_the_clean_batch_then_the_mixers_draw() {
    for device in [device(), Device::flex()] {
        let x = Tensor::<4>::random([5, 2, 4, 4], burn::tensor::Distribution::Default, &device);
        let y = Tensor::<1, Int>::from_ints([0, 1, 2, 3, 4], &device);
        let config = MixConfig::cutmix(1.0).with_seed(Some(8));
        let batch = config
            .init()
            .unwrap()
            .apply_regmixup(x.clone(), y.clone(), 1.0)
            .unwrap();
        let plain = config.init().unwrap().apply(x.clone(), y.clone()).unwrap();
        let rows = to_vec(batch.inputs().clone());
        let half = rows.len() / 2;
        assert_eq!(rows[..half], to_vec(x)[..]);
        assert_eq!(rows[half..], to_vec(plain.inputs().clone())[..]);
        assert_eq!(batch.mixed().params(), plain.params());
        assert_eq!(batch.batch_size(), 5);
    }
}

#[derive(Clone)]
struct Rows;
impl Batcher<(f32, i64), (Tensor<2>, Tensor<1, Int>)> for Rows {
    fn batch(&self, items: Vec<(f32, i64)>, device: &Device) -> (Tensor<2>, Tensor<1, Int>) {
        let values: Vec<f32> = items.iter().flat_map(|(v, _)| [*v, -*v]).collect();
        let labels: Vec<i64> = items.iter().map(|(_, y)| *y).collect();
        (
            Tensor::<1>::from_floats(values.as_slice(), device).reshape([items.len(), 2]),
            Tensor::from_ints(labels.as_slice(), device),
        )
    }
}

/// Through a real `DataLoader` with two workers and an odd last batch: every batch
/// has 2B rows, every sample is seen once clean, and a training step runs.
#[test]
fn the_batcher_works_through_a_data_loader_with_workers() {
    let device = Device::flex().autodiff();
    let items: Vec<(f32, i64)> = (0..11).map(|i| (i as f32, i % 3)).collect();
    let mixer = MixConfig::mixup(20.0).with_seed(Some(4)).init().unwrap();
    let batcher = burn_mixup::MixupBatcher::new(Rows, mixer)
        .with_num_classes(3)
        .regmixup(1.0)
        .unwrap();
    let loader = DataLoaderBuilder::new(batcher)
        .batch_size(4)
        .num_workers(2)
        .set_device(device.clone())
        .build(InMemDataset::new(items));
    let criterion = LabelSmoothingCrossEntropyConfig::new()
        .init(&device)
        .unwrap();
    let mut seen = Vec::new();
    for batch in loader.iter() {
        let batch: RegMixupBatch<2> = batch.unwrap();
        let b = batch.batch_size();
        assert_eq!(batch.inputs().dims(), [2 * b, 2]);
        let rows = to_vec(batch.inputs().clone());
        seen.extend(rows[..2 * b].chunks(2).map(|r| r[0] as i64));
        let logits = batch
            .inputs()
            .clone()
            .matmul(Tensor::<2>::ones([2, 3], &device).require_grad());
        let loss = batch.loss(logits, &criterion);
        assert!(loss.into_scalar::<f32>().is_finite());
    }
    seen.sort();
    assert_eq!(seen, (0..11).collect::<Vec<_>>());
}

#[test]
fn bad_input_is_a_typed_error() {
    let device = device();
    let (x, y) = (
        Tensor::<2>::zeros([2, 3], &device),
        Tensor::<1, Int>::from_ints([0, 1], &device),
    );
    let mixer = MixConfig::mixup(1.0).init().unwrap();
    for eta in [-0.5, f64::INFINITY] {
        assert_eq!(
            mixer.apply_regmixup(x.clone(), y.clone(), eta).unwrap_err(),
            MixError::InvalidEta(eta)
        );
    }
    let other = MixParams::blend(0.5, vec![2, 0, 1]).unwrap();
    let mixed = other
        .mix_batch(
            Tensor::<2>::zeros([3, 3], &device),
            Tensor::<1, Int>::from_ints([0, 1, 2], &device),
        )
        .unwrap();
    assert!(matches!(
        RegMixupBatch::new(x.clone(), y.clone(), mixed, 1.0),
        Err(MixError::BatchSizeMismatch { .. })
    ));
    let batch = mixer.apply_regmixup(x, y, 1.0).unwrap();
    let criterion = LabelSmoothingCrossEntropyConfig::new()
        .init(&device)
        .unwrap();
    let err = batch
        .try_loss(Tensor::zeros([3, 3], &device), &criterion)
        .unwrap_err();
    assert_eq!(
        err,
        LossError::BatchSizeMismatch {
            logits: 3,
            targets: 4
        }
    );
    let batcher = burn_mixup::MixupBatcher::new(Rows, MixConfig::mixup(1.0).init().unwrap())
        .with_num_classes(2)
        .regmixup(1.0)
        .unwrap();
    let err = batcher
        .try_batch::<(f32, i64), 2>(vec![(0.0, 0), (1.0, 5)], &device)
        .unwrap_err();
    assert_eq!(
        err,
        MixError::TargetOutOfRange {
            position: 1,
            value: 5,
            num_classes: 2
        }
    );
}
