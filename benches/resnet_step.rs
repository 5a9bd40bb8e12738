//! ResNet-18 training step, plain vs Mixup + label smoothing, and the cost of mixing
//! as a fraction of the step, on burn-ndarray.
//!
//! A full-width step on the CPU takes tens of seconds (burn-ndarray 0.21: ~19 s at
//! batch 8, ~78 s at batch 32 on 2 cores), far too slow for criterion's minimum of
//! ten samples, so this bench times the two sides itself, interleaved (plain, mixed,
//! plain, mixed, ...) after one warm-up step each, and reports medians and the ratio.
//!
//! Environment: `BENCH_BATCH` (default 8), `BENCH_STEPS` (default 3),
//! `BENCH_WIDTH` (default 64 = ResNet-18; smaller for a quick look).
//!
//! `cargo bench --bench resnet_step`

#[allow(dead_code, unused_imports)]
#[path = "../examples/cifar10_resnet18/model.rs"]
mod model;

use std::time::Instant;

use burn::backend::Autodiff;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{GradientsParams, Optimizer, SgdConfig};
use burn::tensor::backend::Backend;
use burn::tensor::{Distribution, Int, Tensor, TensorData};
use burn_mixup::{LabelSmoothingCrossEntropyConfig, MixConfig};
use burn_ndarray::NdArray;

type Inner = NdArray<f32>;
type B = Autodiff<Inner>;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    let (batch, steps, width) = (
        env("BENCH_BATCH", 8),
        env("BENCH_STEPS", 3).max(1),
        env("BENCH_WIDTH", 64),
    );
    let device = Default::default();
    B::seed(&device, 0);
    let model = model::ResNetConfig::new()
        .with_base_width(width)
        .init::<B>(&device);
    let sgd = || {
        SgdConfig::new()
            .with_momentum(Some(MomentumConfig {
                momentum: 0.9,
                dampening: 0.0,
                nesterov: false,
            }))
            .with_weight_decay(Some(WeightDecayConfig::new(2e-4)))
            .init::<B, model::ResNet<B>>()
    };
    let (mut plain_model, mut plain_optim) = (model.clone(), sgd());
    let (mut mixed_model, mut mixed_optim) = (model, sgd());
    let images =
        Tensor::<B, 4>::random([batch, 3, 32, 32], Distribution::Normal(0.0, 1.0), &device);
    let labels: Tensor<B, 1, Int> = Tensor::from_data(
        TensorData::new(
            (0..batch as i64).map(|i| i % 10).collect::<Vec<_>>(),
            [batch],
        ),
        &device,
    );
    let plain_ce = CrossEntropyLossConfig::new().init::<B>(&device);
    let smoothed = LabelSmoothingCrossEntropyConfig::new()
        .with_smoothing(0.1)
        .init::<B>(&device)
        .unwrap();
    let mixup = MixConfig::mixup(1.0).with_seed(Some(0)).init().unwrap();

    let mut plain_step = || {
        let started = Instant::now();
        let loss = plain_ce.forward(plain_model.forward(images.clone()), labels.clone());
        let grads = GradientsParams::from_grads(loss.backward(), &plain_model);
        plain_model = plain_optim.step(0.1, plain_model.clone(), grads);
        let _ = loss.into_scalar();
        started.elapsed().as_secs_f64()
    };
    let mut mixed_step = || {
        let started = Instant::now();
        let mixed = mixup.apply(images.clone(), labels.clone()).unwrap();
        let loss = mixed.loss(mixed_model.forward(mixed.inputs().clone()), &smoothed);
        let grads = GradientsParams::from_grads(loss.backward(), &mixed_model);
        mixed_model = mixed_optim.step(0.1, mixed_model.clone(), grads);
        let _ = loss.into_scalar();
        started.elapsed().as_secs_f64()
    };
    eprintln!(
        "ResNet-18 (base width {width}) training step, batch {batch}, {steps} timed steps per side after 1 warm-up"
    );
    plain_step();
    mixed_step();
    let (mut plain, mut mixed) = (Vec::new(), Vec::new());
    for _ in 0..steps {
        plain.push(plain_step());
        mixed.push(mixed_step());
    }
    let (plain, mixed) = (median(plain), median(mixed));

    // The mixing alone, at this batch and at 128, on the inner (non-autodiff) backend.
    let time_mixing = |n: usize, cutmix: bool| {
        let x = Tensor::<Inner, 4>::random([n, 3, 32, 32], Distribution::Default, &device);
        let y: Tensor<Inner, 1, Int> =
            Tensor::from_data(TensorData::new(vec![0i64; n], [n]), &device);
        let cut = MixConfig::cutmix(1.0).with_seed(Some(0)).init().unwrap();
        let times: Vec<f64> = (0..21)
            .map(|_| {
                let started = Instant::now();
                let out = if cutmix {
                    cut.apply(x.clone(), y.clone()).unwrap().into_parts().0
                } else {
                    mixup.apply(x.clone(), y.clone()).unwrap().into_parts().0
                };
                let _ = out.into_data();
                started.elapsed().as_secs_f64()
            })
            .collect();
        median(times)
    };
    let (mix_b, cut_b) = (time_mixing(batch, false), time_mixing(batch, true));
    let (mix_128, cut_128) = (time_mixing(128, false), time_mixing(128, true));
    let per_image = plain / batch as f64;
    println!("| measurement | median | ratio |");
    println!("|---|---|---|");
    println!("| plain step (Burn CrossEntropyLoss), batch {batch} | {plain:.3} s | 1.000 |");
    println!(
        "| mixup + smoothing step, batch {batch} | {mixed:.3} s | {:.3} |",
        mixed / plain
    );
    println!("| images/s plain | {:.2} | |", batch as f64 / plain);
    println!(
        "| images/s mixup + smoothing | {:.2} | |",
        batch as f64 / mixed
    );
    println!(
        "| Mixer::apply (Mixup), batch {batch} | {:.3} ms | {:.5} of the step |",
        mix_b * 1e3,
        mix_b / plain
    );
    println!(
        "| CutMix apply, batch {batch} | {:.3} ms | {:.5} of the step |",
        cut_b * 1e3,
        cut_b / plain
    );
    println!(
        "| Mixer::apply (Mixup), [128,3,32,32] | {:.3} ms | {:.6} of a batch-128 step (extrapolated {:.1} s) |",
        mix_128 * 1e3,
        mix_128 / (per_image * 128.0),
        per_image * 128.0
    );
    println!(
        "| CutMix apply, [128,3,32,32] | {:.3} ms | {:.6} of a batch-128 step |",
        cut_128 * 1e3,
        cut_128 / (per_image * 128.0)
    );
}
