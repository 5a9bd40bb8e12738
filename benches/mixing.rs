//! The cost of mixing a [128, 3, 32, 32] batch on burn-ndarray (eager: the time
//! is the whole cost; `BENCH_BACKEND=flex` for burn-flex), per method and mode,
//! against handing the batch on untouched, and FMix's masks built on the host
//! (rustfft, what the mixer does) against the same masks built on the device (the
//! inverse DFT as matrix products and a sort).
//!
//! `cargo bench --bench mixing` prints criterion's report, then the table of
//! medians BENCHMARKS.md quotes.

mod common;

use burn::tensor::{Device, Distribution, Int, Tensor, TensorData};
use burn_mixup::{MixConfig, MixMode};
use criterion::{BenchmarkId, Criterion};

fn mixing(c: &mut Criterion) {
    let device = common::device();
    let images = Tensor::<4>::random([128, 3, 32, 32], Distribution::Default, &device);
    let labels: Tensor<1, Int> = Tensor::from_data(
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
fn device_masks(
    count: usize,
    side: usize,
    decay: f64,
    kept: &[usize],
    device: &Device,
) -> Tensor<3, burn::tensor::Bool> {
    let (h, w, half) = (side, side, side / 2 + 1);
    let tau = std::f64::consts::TAU;
    let freq = |k: usize, n: usize| k.min(n - k) as f64 / n as f64;
    let scale: Vec<f32> = (0..h * half)
        .map(|i| {
            let f = freq(i / half, h).hypot((i % half) as f64 / w as f64);
            f.max(1.0 / side as f64).powf(-decay) as f32
        })
        .collect();
    let scale = Tensor::<3>::from_data(TensorData::new(scale, [1, h, half]), device);
    let normal = || Tensor::<3>::random([count, h, half], Distribution::Normal(0.0, 1.0), device);
    let (re, im) = (normal() * scale.clone(), normal() * scale);
    let table = |rows: usize, cols: usize, f: &dyn Fn(usize, usize) -> f64| {
        let values: Vec<f32> = (0..rows * cols)
            .map(|i| f(i / cols, i % cols) as f32)
            .collect();
        Tensor::<3>::from_data(TensorData::new(values, [1, rows, cols]), device)
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
    let at = Tensor::<2, Int>::from_data(TensorData::new(at, [count, 1]), device);
    let threshold = sorted.gather(1, at);
    noise.lower(threshold).reshape([count, h, w])
}

fn fmix_masks(c: &mut Criterion) {
    let device = common::device();
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
                std::hint::black_box(Tensor::<3, burn::tensor::Bool>::from_data(
                    TensorData::new(flags, [count, 32, 32]),
                    &device,
                ))
            })
        });
        let kept = vec![512usize; count];
        group.bench_function(BenchmarkId::new("device_matmul_dft", count), |b| {
            b.iter(|| std::hint::black_box(device_masks(count, 32, 3.0, &kept, &device)))
        });
    }
    group.finish();
}

fn report(dir: &std::path::Path) {
    let mut groups = vec![common::group(
        "mixing_128x3x32x32",
        &[
            "untouched",
            "mixup_apply",
            "mixup_elem",
            "cutmix_batch",
            "cutmix_elem",
            "resizemix_batch",
            "resizemix_elem",
            "fmix_batch",
            "fmix_elem",
        ],
    )];
    for count in [1, 128] {
        groups.push(common::group(
            "fmix_masks_32x32",
            &[
                &format!("host_rustfft/{count}"),
                &format!("device_matmul_dft/{count}"),
            ],
        ));
    }
    common::print_table(dir, &groups);
}

fn main() {
    let (dir, mut c) = common::criterion();
    mixing(&mut c);
    fmix_masks(&mut c);
    c.final_summary();
    report(&dir);
}
