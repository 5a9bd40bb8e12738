//! Side-by-side costs of the losses this crate adds, against what they replace
//! (forward + backward through burn-autodiff, on burn-ndarray as in 0.2's figures;
//! `BENCH_BACKEND=flex` for burn-flex):
//!
//! 1. label-smoothing loss: ours (both conventions) vs Burn's `CrossEntropyLoss`
//!    with `smoothing` vs Burn's plain cross-entropy;
//! 2. mixup criterion: one-pass `MixedBatch::loss` vs the tutorial's two full
//!    criterion calls;
//! 3. binary cross-entropy at [128, 10] and [4096, 1000]: Burn's
//!    `BinaryCrossEntropyLoss` on one-hot targets (the baseline: no smoothing, no
//!    mixing) vs ours on class indices, on a mixed batch (closed form), and on dense
//!    mixed targets (`soft_targets` + `forward_probs`).
//!
//! `cargo bench --bench losses` prints criterion's report, then a table of medians
//! and ratios against each group's baseline (the numbers BENCHMARKS.md quotes).
//! Mixing costs are in `benches/mixing.rs`.

mod common;

use burn::nn::loss::{BinaryCrossEntropyLossConfig, CrossEntropyLossConfig};
use burn::tensor::{Device, Distribution, Int, Tensor, TensorData};
use burn_mixup::{
    BinaryCrossEntropyConfig, LabelSmoothingCrossEntropyConfig, MixParams, SmoothingConvention,
};
use criterion::Criterion;

fn logits(batch: usize, classes: usize, device: &Device) -> Tensor<2> {
    Tensor::random([batch, classes], Distribution::Normal(0.0, 2.0), device)
}

fn targets(batch: usize, classes: usize, device: &Device) -> Tensor<1, Int> {
    let values: Vec<i64> = (0..batch).map(|i| ((i * 7) % classes) as i64).collect();
    Tensor::from_data(TensorData::new(values, [batch]), device)
}

/// A mixed batch of these targets with lambda `LAMBDA`, sample `i` with `B-1-i`
/// (timm's pairing); the inputs are placeholders, the losses read only targets.
fn flipped_blend(targets: Tensor<1, Int>) -> burn_mixup::MixedBatch<2> {
    let [batch] = targets.dims();
    MixParams::blend(LAMBDA, (0..batch).rev().collect())
        .unwrap()
        .mix_batch(Tensor::zeros([batch, 1], &targets.device()), targets)
        .unwrap()
}

/// Forward + backward of a scalar loss built from fresh leaf logits.
fn fwd_bwd(base: &Tensor<2>, loss: impl Fn(Tensor<2>) -> Tensor<1>) {
    let leaf = base.clone().detach().require_grad();
    let grads = loss(leaf.clone()).backward();
    std::hint::black_box(leaf.grad(&grads));
}

const SHAPES: [(usize, usize); 2] = [(4096, 1000), (128, 10)];
const EPS: f64 = 0.1;
const LAMBDA: f64 = 0.7;

fn smoothing(c: &mut Criterion) {
    let device = common::device().autodiff();
    for (batch, classes) in SHAPES {
        let mut group = c.benchmark_group(format!("smoothing_fwd_bwd_{batch}x{classes}"));
        let z = logits(batch, classes, &device);
        let y = targets(batch, classes, &device);
        let uniform = LabelSmoothingCrossEntropyConfig::new()
            .with_smoothing(EPS)
            .init(&device)
            .unwrap();
        let off = LabelSmoothingCrossEntropyConfig::new()
            .with_smoothing(EPS)
            .with_convention(SmoothingConvention::OffTarget)
            .init(&device)
            .unwrap();
        let burn_smoothed = CrossEntropyLossConfig::new()
            .with_smoothing(Some(EPS as f32))
            .init(&device);
        let burn_plain = CrossEntropyLossConfig::new().init(&device);
        group.bench_function("burn_plain", |b| {
            b.iter(|| fwd_bwd(&z, |l| burn_plain.forward(l, y.clone())))
        });
        group.bench_function("burn_smoothed", |b| {
            b.iter(|| fwd_bwd(&z, |l| burn_smoothed.forward(l, y.clone())))
        });
        group.bench_function("ours_uniform", |b| {
            b.iter(|| fwd_bwd(&z, |l| uniform.forward(l, y.clone())))
        });
        group.bench_function("ours_off_target", |b| {
            b.iter(|| fwd_bwd(&z, |l| off.forward(l, y.clone())))
        });
        group.finish();
    }
}

fn mixup_criterion(c: &mut Criterion) {
    let device = common::device().autodiff();
    for (batch, classes) in SHAPES {
        let mut group = c.benchmark_group(format!("mixup_criterion_{batch}x{classes}"));
        let z = logits(batch, classes, &device);
        let mixed = flipped_blend(targets(batch, classes, &device));
        let ours = LabelSmoothingCrossEntropyConfig::new()
            .with_smoothing(EPS)
            .init(&device)
            .unwrap();
        let burn_smoothed = CrossEntropyLossConfig::new()
            .with_smoothing(Some(EPS as f32))
            .init(&device);
        let (a, b_targets) = (mixed.targets().clone(), mixed.partner_targets().clone());
        group.bench_function("tutorial_two_calls_burn", |bench| {
            bench.iter(|| {
                fwd_bwd(&z, |l| {
                    burn_smoothed.forward(l.clone(), a.clone()) * LAMBDA
                        + burn_smoothed.forward(l, b_targets.clone()) * (1.0 - LAMBDA)
                })
            })
        });
        group.bench_function("tutorial_two_calls_ours", |bench| {
            bench.iter(|| {
                fwd_bwd(&z, |l| {
                    ours.forward(l.clone(), a.clone()) * LAMBDA
                        + ours.forward(l, b_targets.clone()) * (1.0 - LAMBDA)
                })
            })
        });
        group.bench_function("one_pass", |bench| {
            bench.iter(|| fwd_bwd(&z, |l| mixed.loss(l, &ours)))
        });
        group.finish();
    }
}

fn bce(c: &mut Criterion) {
    let device = common::device().autodiff();
    for (batch, classes) in SHAPES {
        let mut group = c.benchmark_group(format!("bce_fwd_bwd_{batch}x{classes}"));
        let z = logits(batch, classes, &device);
        let y = targets(batch, classes, &device);
        let one_hot: Tensor<2, Int> = y.clone().one_hot(classes);
        let burn_bce = BinaryCrossEntropyLossConfig::new()
            .with_logits(true)
            .init(&device);
        let ours = BinaryCrossEntropyConfig::new()
            .with_smoothing(EPS)
            .init(&device)
            .unwrap();
        let mixed = flipped_blend(y.clone());
        group.bench_function("burn_one_hot", |b| {
            b.iter(|| fwd_bwd(&z, |l| burn_bce.forward(l, one_hot.clone()).reshape([1])))
        });
        group.bench_function("ours_indices", |b| {
            b.iter(|| fwd_bwd(&z, |l| ours.forward(l, y.clone())))
        });
        group.bench_function("ours_mixed", |b| {
            b.iter(|| fwd_bwd(&z, |l| ours.forward_mixed(l, &mixed)))
        });
        group.bench_function("ours_dense_mixed", |b| {
            b.iter(|| {
                fwd_bwd(&z, |l| {
                    let dense = mixed.soft_targets(classes, EPS).unwrap();
                    ours.forward_probs(l, dense)
                })
            })
        });
        group.finish();
    }
}

fn report(dir: &std::path::Path) {
    let mut groups = Vec::new();
    for (batch, classes) in SHAPES {
        groups.push(common::group(
            format!("smoothing_fwd_bwd_{batch}x{classes}"),
            &[
                "burn_plain",
                "burn_smoothed",
                "ours_uniform",
                "ours_off_target",
            ],
        ));
        groups.push(common::group(
            format!("mixup_criterion_{batch}x{classes}"),
            &[
                "tutorial_two_calls_burn",
                "tutorial_two_calls_ours",
                "one_pass",
            ],
        ));
        groups.push(common::group(
            format!("bce_fwd_bwd_{batch}x{classes}"),
            &[
                "burn_one_hot",
                "ours_indices",
                "ours_mixed",
                "ours_dense_mixed",
            ],
        ));
    }
    common::print_table(dir, &groups);
    // The ratios with targets, spelled out.
    for (batch, classes) in SHAPES {
        let g = format!("smoothing_fwd_bwd_{batch}x{classes}");
        if let (Some(smoothed), Some(plain)) = (
            common::ratio(dir, &g, "ours_uniform", "burn_smoothed"),
            common::ratio(dir, &g, "ours_uniform", "burn_plain"),
        ) {
            println!(
                "{g}: ours/burn_smoothed = {smoothed:.3} (target <= 1), ours/burn_plain = {plain:.3} (target <= 1.1)"
            );
        }
        let g = format!("mixup_criterion_{batch}x{classes}");
        if let Some(r) = common::ratio(dir, &g, "one_pass", "tutorial_two_calls_burn") {
            println!("{g}: one_pass/two_calls = {r:.3} (target <= 0.6)");
        }
    }
}

fn main() {
    let (dir, mut c) = common::criterion();
    smoothing(&mut c);
    mixup_criterion(&mut c);
    bce(&mut c);
    c.final_summary();
    report(&dir);
}
