//! A full ResNet-18 training step (forward, loss, backward, SGD) on the two CPU
//! backends side by side, burn-flex and burn-ndarray, plain (Burn's
//! `CrossEntropyLoss`), with Mixup + label smoothing, and with RegMixup (the clean
//! batch and its mixed copy in one forward: twice the rows), next to PyTorch on the
//! same CPU, as ratios.
//!
//! A full-width step takes seconds (flex) to tens of seconds (ndarray) on 2 cores, far
//! too slow for criterion's minimum of ten samples, so this bench times each side
//! itself, interleaved (plain, mixed, plain, mixed, ...) after one warm-up step each,
//! and reports medians. PyTorch: `scripts/torch_resnet18_step.py --device cpu` when
//! `python3 -c "import torch"` works, else the figure recorded on the development
//! machine (batch 8, width 64 only).
//!
//! Environment: `BENCH_BATCH` (default 8), `BENCH_STEPS` (default 3),
//! `BENCH_WIDTH` (default 64 = ResNet-18), `BENCH_NDARRAY=0` to skip ndarray.
//!
//! `cargo bench --bench resnet_step`

#[allow(dead_code, unused_imports)]
#[path = "../examples/cifar10_resnet18/model.rs"]
mod model;

use std::time::Instant;

use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{GradientsParams, SgdConfig};
use burn::tensor::{Device, Distribution, Int, Tensor, TensorData};
use burn_mixup::{LabelSmoothingCrossEntropyConfig, MixConfig};

/// PyTorch 2.15 eager f32 on the development machine (2 cores), batch 8, width 64:
/// `python3 scripts/torch_resnet18_step.py --device cpu --batch 8`.
const RECORDED_TORCH_STEP_S: f64 = 0.40;

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

/// Median seconds of a plain, a mixed and a RegMixup step on `device` (with autodiff).
fn measure(device: Device, batch: usize, steps: usize, width: usize) -> (f64, f64, f64) {
    device.seed(0);
    let device = device.autodiff();
    let model = model::ResNetConfig::new()
        .with_base_width(width)
        .init(&device);
    let sgd = || {
        SgdConfig::new()
            .with_momentum(Some(MomentumConfig {
                momentum: 0.9,
                dampening: 0.0,
                nesterov: false,
            }))
            .with_weight_decay(Some(WeightDecayConfig::new(2e-4)))
            .init()
    };
    let (mut plain_model, mut plain_optim) = (model.clone(), sgd());
    let (mut mixed_model, mut mixed_optim) = (model.clone(), sgd());
    let (mut reg_model, mut reg_optim) = (model, sgd());
    let images = Tensor::<4>::random([batch, 3, 32, 32], Distribution::Normal(0.0, 1.0), &device);
    let labels: Tensor<1, Int> = Tensor::from_data(
        TensorData::new((0..batch as i64).map(|i| i % 10).collect(), [batch]),
        &device,
    );
    let plain_ce = CrossEntropyLossConfig::new().init(&device);
    let smoothed = LabelSmoothingCrossEntropyConfig::new()
        .with_smoothing(0.1)
        .init(&device)
        .unwrap();
    let mixup = MixConfig::mixup(1.0).with_seed(Some(0)).init().unwrap();
    let mut plain_step = || {
        let started = Instant::now();
        let loss = plain_ce.forward(plain_model.forward(images.clone()), labels.clone());
        let grads = GradientsParams::from_grads(loss.backward(), &plain_model);
        plain_model = plain_optim.step(0.1, plain_model.clone(), grads);
        let _ = loss.into_scalar::<f32>();
        started.elapsed().as_secs_f64()
    };
    let mut mixed_step = || {
        let started = Instant::now();
        let mixed = mixup.apply(images.clone(), labels.clone()).unwrap();
        let loss = mixed.loss(mixed_model.forward(mixed.inputs().clone()), &smoothed);
        let grads = GradientsParams::from_grads(loss.backward(), &mixed_model);
        mixed_model = mixed_optim.step(0.1, mixed_model.clone(), grads);
        let _ = loss.into_scalar::<f32>();
        started.elapsed().as_secs_f64()
    };
    let regmixup = MixConfig::mixup(20.0).with_seed(Some(0)).init().unwrap();
    let mut regmixup_step = || {
        let started = Instant::now();
        let batch = regmixup
            .apply_regmixup(images.clone(), labels.clone(), 1.0)
            .unwrap();
        let loss = batch.loss(reg_model.forward(batch.inputs().clone()), &smoothed);
        let grads = GradientsParams::from_grads(loss.backward(), &reg_model);
        reg_model = reg_optim.step(0.1, reg_model.clone(), grads);
        let _ = loss.into_scalar::<f32>();
        started.elapsed().as_secs_f64()
    };
    plain_step();
    mixed_step();
    regmixup_step();
    let (mut plain, mut mixed, mut reg) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..steps {
        plain.push(plain_step());
        mixed.push(mixed_step());
        reg.push(regmixup_step());
    }
    (median(plain), median(mixed), median(reg))
}

/// PyTorch's eager f32 step on this CPU: (plain, mixed) seconds and where they came from.
fn torch_step(batch: usize, steps: usize, width: usize) -> Option<(f64, f64, &'static str)> {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scripts/torch_resnet18_step.py"
    );
    let output = std::process::Command::new("python3")
        .args([script, "--device", "cpu", "--modes", "eager_f32"])
        .args([
            "--batch",
            &batch.to_string(),
            "--steps",
            &steps.to_string(),
            "--warmup",
            "1",
        ])
        .output()
        .ok()?;
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).ok()?;
    let ms = |key: &str| json[key]["milliseconds_per_step"].as_f64().map(|v| v / 1e3);
    match (ms("eager_f32_plain"), ms("eager_f32_mixup_smoothing")) {
        (Some(plain), Some(mixed)) if width == 64 => Some((plain, mixed, "measured now")),
        _ if batch == 8 && width == 64 => {
            Some((RECORDED_TORCH_STEP_S, f64::NAN, "recorded (no torch here)"))
        }
        _ => None,
    }
}

fn main() {
    let (batch, steps, width) = (
        env("BENCH_BATCH", 8),
        env("BENCH_STEPS", 3).max(1),
        env("BENCH_WIDTH", 64),
    );
    eprintln!(
        "ResNet-18 (base width {width}) training step, batch {batch}, {steps} timed steps per side after 1 warm-up"
    );
    let flex = measure(Device::flex(), batch, steps, width);
    eprintln!("flex done: {flex:?}");
    // burn-ndarray: deprecated in Burn 0.22, still shipped, and 0.2's comparison.
    #[allow(deprecated)]
    let ndarray =
        (env("BENCH_NDARRAY", 1) != 0).then(|| measure(Device::ndarray(), batch, steps, width));
    let torch = torch_step(batch, steps, width);
    println!(
        "| backend | plain step | mixup + smoothing step | mixed / plain | RegMixup step | RegMixup / mixed | plain step vs flex | plain step vs PyTorch |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let torch_plain = torch.map_or(f64::NAN, |t| t.0);
    let row = |name: &str, (plain, mixed, reg): (f64, f64, f64)| {
        println!(
            "| {name} | {plain:.3} s | {mixed:.3} s | {:.3} | {reg:.3} s | {:.2} | {:.2}x | {:.2}x |",
            mixed / plain,
            reg / mixed,
            plain / flex.0,
            plain / torch_plain
        );
    };
    row("burn-flex (`Device::flex().autodiff()`)", flex);
    if let Some(ndarray) = ndarray {
        row("burn-ndarray (`Device::ndarray().autodiff()`)", ndarray);
    }
    match torch {
        Some((plain, mixed, source)) => row(
            &format!("PyTorch eager f32, {source}"),
            (plain, mixed, f64::NAN),
        ),
        None => println!("| PyTorch | not available at this batch/width | | | | | | |"),
    }

    // The mixing alone at [128, 3, 32, 32] on flex (non-autodiff), per step.
    let device = Device::flex();
    let x = Tensor::<4>::random([128, 3, 32, 32], Distribution::Default, &device);
    let y: Tensor<1, Int> = Tensor::from_data(TensorData::new(vec![0i64; 128], [128]), &device);
    for (name, mixer) in [
        ("Mixup", MixConfig::mixup(1.0)),
        ("CutMix", MixConfig::cutmix(1.0)),
    ] {
        let mixer = mixer.with_seed(Some(0)).init().unwrap();
        let times = (0..21)
            .map(|_| {
                let started = Instant::now();
                let _ = mixer
                    .apply(x.clone(), y.clone())
                    .unwrap()
                    .into_parts()
                    .0
                    .into_data();
                started.elapsed().as_secs_f64()
            })
            .collect();
        let seconds = median(times);
        println!(
            "| {name} apply on flex, [128, 3, 32, 32] | {:.3} ms | {:.5} of a batch-128 flex step (extrapolated {:.1} s) | | | | | |",
            seconds * 1e3,
            seconds / (flex.0 / batch as f64 * 128.0),
            flex.0 / batch as f64 * 128.0
        );
    }
}
