//! What a dense-target or segmentation-map batch costs beside a label batch, and
//! the per-pixel criterion against Burn's own `CrossEntropyLoss` on the same pixels,
//! on burn-ndarray (eager: the time is the whole cost; `BENCH_BACKEND=flex` for
//! burn-flex).
//!
//! - `targets_128x3x32x32`: one mixer draw applied to 128 CIFAR-sized images with
//!   labels `[128]` (the baseline), dense targets `[128, 80]` (COCO's 80 tags) or
//!   maps `[128, 32, 32]`, per method.
//! - `pixel_loss_16x21x64x64`: forward and backward of the loss on 16 maps of 64x64
//!   with 21 classes (Pascal VOC) and 10% void pixels: Burn's `CrossEntropyLoss`
//!   on the pixels as rows (the baseline; it cannot take 255 as a void label, see
//!   below),
//!   `forward_maps`, and a Mixup batch's two-map loss.
//!
//! `cargo bench --bench targets` prints criterion's report, then the table of
//! medians BENCHMARKS.md quotes.

mod common;

use burn::nn::loss::CrossEntropyLossConfig;
use burn::tensor::{Distribution, Int, Tensor, TensorData};
use burn_mixup::{LabelSmoothingCrossEntropyConfig, MixConfig, MixMode, MixParams};
use criterion::{BenchmarkId, Criterion};

const METHODS: [&str; 5] = [
    "mixup_batch",
    "cutmix_batch",
    "cutmix_elem",
    "resizemix_elem",
    "fmix_elem",
];

fn config(method: &str) -> MixConfig {
    let (config, mode) = match method {
        "mixup_batch" => (MixConfig::mixup(1.0), MixMode::Batch),
        "cutmix_batch" => (MixConfig::cutmix(1.0), MixMode::Batch),
        "cutmix_elem" => (MixConfig::cutmix(1.0), MixMode::Elem),
        "resizemix_elem" => (MixConfig::resizemix(0.1, 0.8), MixMode::Elem),
        _ => (MixConfig::fmix(1.0, 3.0), MixMode::Elem),
    };
    config.with_mode(mode).with_seed(Some(1))
}

fn targets(c: &mut Criterion) {
    let device = common::device();
    let images = Tensor::<4>::random([128, 3, 32, 32], Distribution::Default, &device);
    let labels: Tensor<1, Int> = Tensor::from_data(
        TensorData::new((0..128i64).map(|i| i % 10).collect::<Vec<_>>(), [128]),
        &device,
    );
    let tags = Tensor::<2>::random([128, 80], Distribution::Bernoulli(0.05), &device);
    let maps = Tensor::<3, Int>::random([128, 32, 32], Distribution::Uniform(0.0, 21.0), &device);
    let mut group = c.benchmark_group("targets_128x3x32x32");
    for method in METHODS {
        let mixer = config(method).init().unwrap();
        group.bench_function(BenchmarkId::new("labels", method), |b| {
            b.iter(|| std::hint::black_box(mixer.apply(images.clone(), labels.clone()).unwrap()))
        });
        group.bench_function(BenchmarkId::new("dense_80", method), |b| {
            b.iter(|| {
                std::hint::black_box(mixer.apply_dense(images.clone(), tags.clone()).unwrap())
            })
        });
        group.bench_function(BenchmarkId::new("maps", method), |b| {
            b.iter(|| {
                std::hint::black_box(
                    mixer
                        .apply_segmentation(images.clone(), maps.clone())
                        .unwrap(),
                )
            })
        });
    }
    group.finish();
}

fn pixel_loss(c: &mut Criterion) {
    let device = common::device().autodiff();
    let (b, k, h, w) = (16, 21, 64, 64);
    let logits = Tensor::<4>::random([b, k, h, w], Distribution::Normal(0.0, 2.0), &device);
    let void = Tensor::<3>::random([b, h, w], Distribution::Default, &device).lower_elem(0.1);
    let maps = Tensor::<3, Int>::random([b, h, w], Distribution::Uniform(0.0, k as f64), &device)
        .mask_fill(void, 255);
    // Burn's loss gathers at every row's target before masking pad tokens, so a void
    // label outside 0..K is out of bounds for it: its baseline gets the void pixels
    // pointed at class 0 and class 0 as its pad token (the same work).
    let burn_ce = CrossEntropyLossConfig::new()
        .with_pad_tokens(Some(vec![0]))
        .init(&device);
    let burn_targets = maps
        .clone()
        .mask_fill(maps.clone().equal_elem(255), 0)
        .reshape([b * h * w]);
    let ours = LabelSmoothingCrossEntropyConfig::new()
        .with_smoothing(0.0)
        .with_ignore_index(Some(255))
        .init(&device)
        .unwrap();
    let images = Tensor::<4>::zeros([b, 1, h, w], &device);
    let mixed = MixParams::blend(0.7, (0..b).rev().collect())
        .unwrap()
        .mix_segmentation(images, maps.clone())
        .unwrap();
    let mut group = c.benchmark_group("pixel_loss_16x21x64x64");
    group.bench_function("burn_cross_entropy_rows", |bench| {
        bench.iter(|| {
            let z = logits.clone().require_grad();
            let rows = z.clone().permute([0, 2, 3, 1]).reshape([b * h * w, k]);
            let loss = burn_ce.forward(rows, burn_targets.clone());
            std::hint::black_box(loss.backward())
        })
    });
    group.bench_function("forward_maps", |bench| {
        bench.iter(|| {
            let z = logits.clone().require_grad();
            std::hint::black_box(ours.forward_maps(z, maps.clone()).backward())
        })
    });
    group.bench_function("mixup_two_maps", |bench| {
        bench.iter(|| {
            let z = logits.clone().require_grad();
            std::hint::black_box(mixed.loss(z, &ours).backward())
        })
    });
    group.finish();
}

fn report(dir: &std::path::Path) {
    let mut groups = Vec::new();
    for method in METHODS {
        groups.push(common::group(
            "targets_128x3x32x32",
            &[
                &format!("labels/{method}"),
                &format!("dense_80/{method}"),
                &format!("maps/{method}"),
            ],
        ));
    }
    groups.push(common::group(
        "pixel_loss_16x21x64x64",
        &["burn_cross_entropy_rows", "forward_maps", "mixup_two_maps"],
    ));
    common::print_table(dir, &groups);
}

fn main() {
    let (dir, mut c) = common::criterion();
    targets(&mut c);
    pixel_loss(&mut c);
    c.final_summary();
    report(&dir);
}
