//! Side-by-side costs of what this crate adds, against what it replaces, on
//! burn-ndarray (forward + backward through burn-autodiff):
//!
//! 1. label-smoothing loss: ours (both conventions) vs Burn's `CrossEntropyLoss`
//!    with `smoothing` vs Burn's plain cross-entropy;
//! 2. mixup criterion: one-pass `MixedBatch::loss` vs the tutorial's two full
//!    criterion calls;
//! 3. mixing a [128, 3, 32, 32] batch: Mixup, CutMix, ResizeMix and FMix through
//!    `Mixer::apply` (batch and elem modes) vs handing the batch on untouched;
//! 4. FMix masks for that batch: ours (rustfft on the host, then one upload) vs the
//!    same masks built on the device (the inverse DFT as matrix products and a sort,
//!    on Burn tensors), for one mask and for 128;
//! 5. binary cross-entropy at [128, 10] and [4096, 1000]: Burn's
//!    `BinaryCrossEntropyLoss` on one-hot targets (the baseline: no smoothing, no
//!    mixing) vs ours on class indices, on a mixed batch (closed form), and on dense
//!    mixed targets (`soft_targets` + `forward_probs`).
//!
//! `cargo bench --bench losses` prints criterion's report, then a table of medians
//! and ratios against each group's baseline (the numbers BENCHMARKS.md quotes).

use std::path::PathBuf;
use std::time::Duration;

use burn::backend::Autodiff;
use burn::nn::loss::{BinaryCrossEntropyLossConfig, CrossEntropyLossConfig};
use burn::tensor::backend::Backend;
use burn::tensor::{Distribution, Int, Tensor, TensorData};
use burn_mixup::{
    BinaryCrossEntropyConfig, LabelSmoothingCrossEntropyConfig, MixConfig, MixMode, MixParams,
    SmoothingConvention,
};
use burn_ndarray::NdArray;
use criterion::{BenchmarkId, Criterion};

type B = Autodiff<NdArray<f32>>;

fn logits(batch: usize, classes: usize) -> Tensor<B, 2> {
    Tensor::random(
        [batch, classes],
        Distribution::Normal(0.0, 2.0),
        &Default::default(),
    )
}

fn targets(batch: usize, classes: usize, offset: usize) -> Tensor<B, 1, Int> {
    let values: Vec<i64> = (0..batch)
        .map(|i| ((i * 7 + offset) % classes) as i64)
        .collect();
    Tensor::from_data(TensorData::new(values, [batch]), &Default::default())
}

/// A mixed batch of these targets with lambda `LAMBDA`, sample `i` with `B-1-i`
/// (timm's pairing); the inputs are placeholders, the losses read only targets.
fn flipped_blend(targets: Tensor<B, 1, Int>) -> burn_mixup::MixedBatch<B, 2> {
    let [batch] = targets.dims();
    MixParams::blend(LAMBDA, (0..batch).rev().collect())
        .unwrap()
        .mix_batch(Tensor::zeros([batch, 1], &targets.device()), targets)
        .unwrap()
}

/// Forward + backward of a scalar loss built from fresh leaf logits.
fn fwd_bwd(base: &Tensor<B, 2>, loss: impl Fn(Tensor<B, 2>) -> Tensor<B, 1>) {
    let leaf = base.clone().detach().require_grad();
    let grads = loss(leaf.clone()).backward();
    std::hint::black_box(leaf.grad(&grads));
}

const SHAPES: [(usize, usize); 2] = [(4096, 1000), (128, 10)];
const EPS: f64 = 0.1;
const LAMBDA: f64 = 0.7;

fn smoothing(c: &mut Criterion) {
    let device = Default::default();
    for (batch, classes) in SHAPES {
        let mut group = c.benchmark_group(format!("smoothing_fwd_bwd_{batch}x{classes}"));
        let z = logits(batch, classes);
        let y = targets(batch, classes, 0);
        let uniform = LabelSmoothingCrossEntropyConfig::new()
            .with_smoothing(EPS)
            .init::<B>(&device)
            .unwrap();
        let off = LabelSmoothingCrossEntropyConfig::new()
            .with_smoothing(EPS)
            .with_convention(SmoothingConvention::OffTarget)
            .init::<B>(&device)
            .unwrap();
        let burn_smoothed = CrossEntropyLossConfig::new()
            .with_smoothing(Some(EPS as f32))
            .init::<B>(&device);
        let burn_plain = CrossEntropyLossConfig::new().init::<B>(&device);
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
    let device = Default::default();
    for (batch, classes) in SHAPES {
        let mut group = c.benchmark_group(format!("mixup_criterion_{batch}x{classes}"));
        let z = logits(batch, classes);
        let mixed = flipped_blend(targets(batch, classes, 0));
        let ours = LabelSmoothingCrossEntropyConfig::new()
            .with_smoothing(EPS)
            .init::<B>(&device)
            .unwrap();
        let burn_smoothed = CrossEntropyLossConfig::new()
            .with_smoothing(Some(EPS as f32))
            .init::<B>(&device);
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

fn mixing(c: &mut Criterion) {
    type P = NdArray<f32>;
    let device = Default::default();
    let images = Tensor::<P, 4>::random([128, 3, 32, 32], Distribution::Default, &device);
    let labels: Tensor<P, 1, Int> = Tensor::from_data(
        TensorData::new((0..128i64).map(|i| i % 10).collect::<Vec<_>>(), [128]),
        &device,
    );
    let mixup = MixConfig::mixup(1.0).with_seed(Some(1)).init().unwrap();
    let cutmix = MixConfig::cutmix(1.0).with_seed(Some(1)).init().unwrap();
    let cutmix_elem = MixConfig::cutmix(1.0)
        .with_mode(MixMode::Elem)
        .with_seed(Some(1))
        .init()
        .unwrap();
    let resizemix = MixConfig::resizemix(0.1, 0.8)
        .with_seed(Some(1))
        .init()
        .unwrap();
    let resizemix_elem = MixConfig::resizemix(0.1, 0.8)
        .with_mode(MixMode::Elem)
        .with_seed(Some(1))
        .init()
        .unwrap();
    let mut group = c.benchmark_group("mixing_128x3x32x32");
    // The baseline: the batch goes to the model as it is (a handle clone). burn-ndarray
    // computes eagerly, so each mixer's time is its whole cost.
    group.bench_function(BenchmarkId::from_parameter("untouched"), |b| {
        b.iter(|| std::hint::black_box(images.clone()))
    });
    group.bench_function(BenchmarkId::from_parameter("mixup_apply"), |b| {
        b.iter(|| std::hint::black_box(mixup.apply(images.clone(), labels.clone()).unwrap()))
    });
    group.bench_function(BenchmarkId::from_parameter("cutmix_batch"), |b| {
        b.iter(|| std::hint::black_box(cutmix.apply(images.clone(), labels.clone()).unwrap()))
    });
    group.bench_function(BenchmarkId::from_parameter("cutmix_elem"), |b| {
        b.iter(|| std::hint::black_box(cutmix_elem.apply(images.clone(), labels.clone()).unwrap()))
    });
    group.bench_function(BenchmarkId::from_parameter("resizemix_batch"), |b| {
        b.iter(|| std::hint::black_box(resizemix.apply(images.clone(), labels.clone()).unwrap()))
    });
    group.bench_function(BenchmarkId::from_parameter("resizemix_elem"), |b| {
        b.iter(|| {
            std::hint::black_box(
                resizemix_elem
                    .apply(images.clone(), labels.clone())
                    .unwrap(),
            )
        })
    });
    let mixup_elem = MixConfig::mixup(1.0)
        .with_mode(MixMode::Elem)
        .with_seed(Some(1))
        .init()
        .unwrap();
    group.bench_function(BenchmarkId::from_parameter("mixup_elem"), |b| {
        b.iter(|| std::hint::black_box(mixup_elem.apply(images.clone(), labels.clone()).unwrap()))
    });
    let fmix = MixConfig::fmix(1.0, 3.0).with_seed(Some(1)).init().unwrap();
    let fmix_elem = MixConfig::fmix(1.0, 3.0)
        .with_mode(MixMode::Elem)
        .with_seed(Some(1))
        .init()
        .unwrap();
    group.bench_function(BenchmarkId::from_parameter("fmix_batch"), |b| {
        b.iter(|| std::hint::black_box(fmix.apply(images.clone(), labels.clone()).unwrap()))
    });
    group.bench_function(BenchmarkId::from_parameter("fmix_elem"), |b| {
        b.iter(|| std::hint::black_box(fmix_elem.apply(images.clone(), labels.clone()).unwrap()))
    });
    group.finish();
}

/// FMix masks built on the device: the same spectrum (normals drawn on the device,
/// scaled by `1 / max(f, 1 / max(H, W))^decay`), the inverse real 2-D DFT as four
/// matrix products, then each mask's `kept` highest values found by a sort. The
/// partner flags come back as a Bool tensor, ready for `mask_where`.
fn device_masks<BK: Backend>(
    count: usize,
    side: usize,
    decay: f64,
    kept: &[usize],
    device: &BK::Device,
) -> Tensor<BK, 3, burn::tensor::Bool> {
    let (h, w, half) = (side, side, side / 2 + 1);
    let tau = std::f64::consts::TAU;
    let freq = |k: usize, n: usize| k.min(n - k) as f64 / n as f64;
    let scale: Vec<f32> = (0..h * half)
        .map(|i| {
            let f = freq(i / half, h).hypot((i % half) as f64 / w as f64);
            f.max(1.0 / side as f64).powf(-decay) as f32
        })
        .collect();
    let scale = Tensor::<BK, 3>::from_data(TensorData::new(scale, [1, h, half]), device);
    let normal =
        || Tensor::<BK, 3>::random([count, h, half], Distribution::Normal(0.0, 1.0), device);
    let (re, im) = (normal() * scale.clone(), normal() * scale);
    let table = |rows: usize, cols: usize, f: &dyn Fn(usize, usize) -> f64| {
        let values: Vec<f32> = (0..rows * cols)
            .map(|i| f(i / cols, i % cols) as f32)
            .collect();
        Tensor::<BK, 3>::from_data(TensorData::new(values, [1, rows, cols]), device)
    };
    let cos_h = table(h, h, &|y, k| (tau * (y * k) as f64 / h as f64).cos());
    let sin_h = table(h, h, &|y, k| (tau * (y * k) as f64 / h as f64).sin());
    let weight = |k: usize| if k == 0 || 2 * k == w { 1.0 } else { 2.0 };
    let cos_w = table(half, w, &|k, x| {
        weight(k) * (tau * (k * x) as f64 / w as f64).cos()
    });
    let sin_w = table(half, w, &|k, x| {
        weight(k) * (tau * (k * x) as f64 / w as f64).sin()
    });
    let t_re = cos_h.clone().matmul(re.clone()) - sin_h.clone().matmul(im.clone());
    let t_im = sin_h.matmul(re) + cos_h.matmul(im);
    let noise = (t_re.matmul(cos_w) - t_im.matmul(sin_w)).reshape([count, h * w]);
    let sorted = noise.clone().sort_descending(1);
    let at: Vec<i64> = kept.iter().map(|&k| k.max(1) as i64 - 1).collect();
    let at = Tensor::<BK, 2, Int>::from_data(TensorData::new(at, [count, 1]), device);
    let threshold = sorted.gather(1, at);
    noise.lower(threshold).reshape([count, h, w])
}

fn fmix_masks(c: &mut Criterion) {
    type P = NdArray<f32>;
    let device = Default::default();
    let mut group = c.benchmark_group("fmix_masks_32x32");
    for count in [1usize, 128] {
        // Ours: what `Mixer::sample` does per batch (host masks), plus the upload of
        // the flags that `mix` performs.
        let mixer = MixConfig::fmix(1.0, 3.0)
            .with_mode(if count == 1 {
                MixMode::Batch
            } else {
                MixMode::Elem
            })
            .with_pairing(burn_mixup::Pairing::Roll) // no fixed points: every sample masked
            .with_seed(Some(1))
            .init()
            .unwrap();
        group.bench_function(BenchmarkId::new("host_rustfft", count), |b| {
            b.iter(|| {
                let params = mixer.sample(&[count.max(2), 1, 32, 32]).unwrap();
                let flags: Vec<bool> = (0..count)
                    .flat_map(|i| params.fourier_mask(i).unwrap().partner_pixels().to_vec())
                    .collect();
                std::hint::black_box(Tensor::<P, 3, burn::tensor::Bool>::from_data(
                    TensorData::new(flags, [count, 32, 32]),
                    &device,
                ))
            })
        });
        let kept = vec![512usize; count];
        group.bench_function(BenchmarkId::new("device_matmul_dft", count), |b| {
            b.iter(|| std::hint::black_box(device_masks::<P>(count, 32, 3.0, &kept, &device)))
        });
    }
    group.finish();
}

fn bce(c: &mut Criterion) {
    let device = Default::default();
    for (batch, classes) in SHAPES {
        let mut group = c.benchmark_group(format!("bce_fwd_bwd_{batch}x{classes}"));
        let z = logits(batch, classes);
        let y = targets(batch, classes, 0);
        let one_hot: Tensor<B, 2, Int> = y.clone().one_hot(classes);
        let burn_bce = BinaryCrossEntropyLossConfig::new()
            .with_logits(true)
            .init::<B>(&device);
        let ours = BinaryCrossEntropyConfig::new()
            .with_smoothing(EPS)
            .init::<B>(&device)
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

fn median_ns(dir: &std::path::Path, group: &str, function: &str) -> Option<f64> {
    let path = dir
        .join(group)
        .join(function)
        .join("new")
        .join("estimates.json");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
    json["median"]["point_estimate"].as_f64()
}

fn report(dir: &std::path::Path) {
    let mut groups: Vec<(String, &str, Vec<&str>)> = Vec::new();
    for (batch, classes) in SHAPES {
        groups.push((
            format!("smoothing_fwd_bwd_{batch}x{classes}"),
            "burn_plain",
            vec![
                "burn_plain",
                "burn_smoothed",
                "ours_uniform",
                "ours_off_target",
            ],
        ));
        groups.push((
            format!("mixup_criterion_{batch}x{classes}"),
            "tutorial_two_calls_burn",
            vec![
                "tutorial_two_calls_burn",
                "tutorial_two_calls_ours",
                "one_pass",
            ],
        ));
    }
    groups.push((
        "mixing_128x3x32x32".into(),
        "untouched",
        vec![
            "untouched",
            "mixup_apply",
            "cutmix_batch",
            "cutmix_elem",
            "resizemix_batch",
            "resizemix_elem",
            "mixup_elem",
            "fmix_batch",
            "fmix_elem",
        ],
    ));
    for count in [1, 128] {
        groups.push((
            "fmix_masks_32x32".into(),
            Box::leak(format!("host_rustfft/{count}").into_boxed_str()),
            vec![
                Box::leak(format!("host_rustfft/{count}").into_boxed_str()),
                Box::leak(format!("device_matmul_dft/{count}").into_boxed_str()),
            ],
        ));
    }
    for (batch, classes) in SHAPES {
        groups.push((
            format!("bce_fwd_bwd_{batch}x{classes}"),
            "burn_one_hot",
            vec![
                "burn_one_hot",
                "ours_indices",
                "ours_mixed",
                "ours_dense_mixed",
            ],
        ));
    }
    println!("\n| group | function | median | ratio to baseline |");
    println!("|---|---|---|---|");
    for (group, baseline, functions) in &groups {
        let Some(base) = median_ns(dir, group, baseline) else {
            continue;
        };
        for function in functions {
            if let Some(t) = median_ns(dir, group, function) {
                println!("| {group} | {function} | {} | {:.3} |", pretty(t), t / base);
            }
        }
    }
    // The two ratios the issue sets targets for, spelled out.
    for (batch, classes) in SHAPES {
        let g = format!("smoothing_fwd_bwd_{batch}x{classes}");
        if let (Some(ours), Some(smoothed), Some(plain)) = (
            median_ns(dir, &g, "ours_uniform"),
            median_ns(dir, &g, "burn_smoothed"),
            median_ns(dir, &g, "burn_plain"),
        ) {
            println!(
                "{g}: ours/burn_smoothed = {:.3} (target <= 1), ours/burn_plain = {:.3} (target <= 1.1)",
                ours / smoothed,
                ours / plain
            );
        }
        let g = format!("mixup_criterion_{batch}x{classes}");
        if let (Some(one), Some(two)) = (
            median_ns(dir, &g, "one_pass"),
            median_ns(dir, &g, "tutorial_two_calls_burn"),
        ) {
            println!("{g}: one_pass/two_calls = {:.3} (target <= 0.6)", one / two);
        }
    }
}

fn pretty(ns: f64) -> String {
    match ns {
        t if t < 1e3 => format!("{t:.0} ns"),
        t if t < 1e6 => format!("{:.1} us", t / 1e3),
        t if t < 1e9 => format!("{:.2} ms", t / 1e6),
        t => format!("{:.2} s", t / 1e9),
    }
}

fn main() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("criterion");
    let mut c = Criterion::default()
        .output_directory(&dir)
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
        .configure_from_args();
    smoothing(&mut c);
    mixup_criterion(&mut c);
    mixing(&mut c);
    fmix_masks(&mut c);
    bce(&mut c);
    c.final_summary();
    report(&dir);
}
