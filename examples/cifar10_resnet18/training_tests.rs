//! The training run through burn-train, in one process, on burn-flex: resume
//! exactness, several devices under both strategies, both CPU backends.

use super::*;
use crate::data::{Cifar10, RecordCount, write_synthetic};
use crate::metrics::{EpochRow, read_rows};
use crate::model::ResNetConfig;

fn tiny(epochs: usize) -> TrainingConfig {
    TrainingConfig::new(ResNetConfig::new().with_base_width(4))
        .with_epochs(epochs)
        .with_batch_size(16)
        .with_lr(0.05)
        .with_lr_milestones(vec![2])
        .with_seed(3)
}

fn synthetic(train: usize, test: usize) -> crate::images::Splits {
    let dir = tempfile::tempdir().unwrap();
    write_synthetic(dir.path(), train, test, 11).unwrap();
    Cifar10::open(dir.path(), RecordCount::Any).unwrap()
}

fn run(
    config: &TrainingConfig,
    dir: &std::path::Path,
    resume_from: Option<usize>,
    devices: Vec<Device>,
) -> Vec<EpochRow> {
    let data = synthetic(100, 40);
    let options = RunOptions {
        dir: dir.to_path_buf(),
        resume_from,
        display: Display::Quiet,
        interrupter: Interrupter::new(),
        allow_divergence: false,
    };
    let trained = train(config, data.train, data.test, devices, &options).unwrap();
    assert_eq!(trained.finish, Finish::Completed);
    read_rows(dir)
}

/// Resuming at an epoch boundary (model, optimizer, scheduler from the verified
/// checkpointers; data order, augmentation and mixer draws from the epoch) gives
/// the uninterrupted run's metrics, in the same process.
#[test]
fn a_run_resumed_at_an_epoch_boundary_reproduces_the_uninterrupted_run() {
    let (whole, split) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let flex = || vec![Device::flex()];
    let straight = run(&tiny(3), whole.path(), None, flex());
    assert_eq!(run(&tiny(2), split.path(), None, flex()).len(), 2);
    let resumed = run(&tiny(3), split.path(), Some(2), flex());
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
    // Two whole checkpoint sets are kept (the last two epochs), in 0.3's format.
    for epoch in [2, 3] {
        for part in crate::checkpoint::PARTS {
            let path = crate::checkpoint::checkpoint_path(whole.path(), part, epoch);
            assert!(path.is_file(), "{} missing", path.display());
        }
    }
}

/// Two devices (two handles on the CPU here) through burn-train's multi-device
/// strategy: the loader is sliced per device, every image is trained once per
/// epoch, and each device mixes on its own stream.
#[test]
fn two_devices_train_through_burn_trains_multi_device_strategy() {
    let dir = tempfile::tempdir().unwrap();
    let rows = run(
        &tiny(1),
        dir.path(),
        None,
        vec![Device::flex(), Device::flex()],
    );
    assert_eq!(rows.len(), 1);
    assert!(rows[0].train_loss.is_finite(), "{rows:?}");
    let accuracy =
        std::fs::read_to_string(dir.path().join("train/epoch-1/Mixed_Accuracy.log")).unwrap();
    // 100 images in two slices of 50, batches of 8 per device: 7 + 7 batches (and the
    // epoch's value).
    let batches = accuracy.lines().filter(|l| !l.ends_with(",final")).count();
    assert_eq!(batches, 14, "{accuracy}");
}

/// DDP on two CPU handles: Burn 0.22.1 has no all-reduce off CUDA (it would panic
/// inside burn-dispatch), so the run is refused with an error that says so, before
/// anything is trained or written.
#[test]
fn ddp_off_cuda_is_refused_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let data = synthetic(100, 40);
    let options = RunOptions {
        dir: dir.path().to_path_buf(),
        resume_from: None,
        display: Display::Quiet,
        interrupter: Interrupter::new(),
        allow_divergence: false,
    };
    let config = tiny(1).with_strategy(StrategyKind::Ddp);
    let devices = vec![Device::flex(), Device::flex()];
    let error = train(&config, data.train, data.test, devices, &options).unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains("strategy") && message.contains("CUDA only"),
        "{message}"
    );
    assert!(!dir.path().join("checkpoint").exists());
}

/// A few timed steps on each CPU backend: the example trains on both.
#[test]
fn both_cpu_backends_train_a_few_steps() {
    let config = tiny(1).with_batch_size(4);
    #[allow(deprecated)] // burn-ndarray: deprecated in Burn 0.22, still offered
    let ndarray = Device::ndarray();
    for device in [Device::flex(), ndarray] {
        let json = throughput(&config, synthetic(16, 4).train, &device, 1, 2).unwrap();
        assert!(json["images_per_second"].as_f64().unwrap() > 0.0, "{json}");
    }
}
