//! Images per second of the CIFAR-10 training batcher (decode, random crop, flip,
//! normalise, one tensor per batch) at batch 128: single-threaded, and through
//! Burn's DataLoader with 1 and 2 worker threads. Target: >= 20,000 images/s per core.
//!
//! `cargo bench --bench cifar_batcher`

#[allow(dead_code, unused_imports)]
#[path = "../examples/cifar10_resnet18/augment.rs"]
mod augment;
#[allow(dead_code, unused_imports)]
#[path = "../examples/cifar10_resnet18/checkpoint.rs"]
mod checkpoint;
#[allow(dead_code, unused_imports)]
#[path = "../examples/cifar10_resnet18/data.rs"]
mod data;
#[allow(dead_code, unused_imports)]
#[path = "../examples/cifar10_resnet18/download.rs"]
mod download;
#[allow(dead_code, unused_imports)]
#[path = "../examples/cifar10_resnet18/idx.rs"]
mod idx;
#[allow(dead_code, unused_imports)]
#[path = "../examples/cifar10_resnet18/images.rs"]
mod images;

use std::path::Path;
use std::time::Instant;

use burn::data::dataloader::DataLoaderBuilder;
use burn::data::dataloader::batcher::Batcher;
use burn::data::dataset::Dataset;
use burn::tensor::Device;

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    let images = 12_800;
    let bytes: Vec<u8> = (0..images)
        .flat_map(|i| data::synthetic_record((i % 10) as u8, i as u64))
        .collect();
    let dataset =
        data::parse_records(&bytes, Path::new("synthetic"), data::RecordCount::Any).unwrap();
    let batcher = augment::ImageBatcher::train(0, images::ImageFormat::CIFAR);
    // burn-ndarray, the backend 0.2's figure was taken on.
    #[allow(deprecated)]
    let device = Device::ndarray();
    let batch_size = 128;

    // Single thread: fetch the items (a copy of the bytes, as the loader does) and batch.
    let items: Vec<Vec<images::ImageItem>> = (0..images / batch_size)
        .map(|b| {
            (b * batch_size..(b + 1) * batch_size)
                .map(|i| dataset.get(i).unwrap())
                .collect()
        })
        .collect();
    let mut times = Vec::new();
    for round in 0..5 {
        batcher.set_epoch(round);
        let started = Instant::now();
        for chunk in &items {
            let batch: augment::ImageBatch = batcher.batch(chunk.clone(), &device);
            std::hint::black_box(batch);
        }
        times.push(started.elapsed().as_secs_f64());
    }
    let single = images as f64 / median(times);
    println!("| configuration | images/s |");
    println!("|---|---|");
    println!("| batcher, 1 thread (batch 128) | {single:.0} |");

    for workers in [1usize, 2] {
        let loader = DataLoaderBuilder::new(batcher.clone())
            .batch_size(batch_size)
            .num_workers(workers)
            .set_device(device.clone())
            .build(dataset.clone());
        let mut times = Vec::new();
        for _ in 0..5 {
            let started = Instant::now();
            let count: usize = loader
                .iter()
                .map(|b| b.expect("the in-memory set has every image").images.dims()[0])
                .sum();
            assert_eq!(count, images);
            times.push(started.elapsed().as_secs_f64());
        }
        println!(
            "| DataLoader, {workers} worker(s) (batch 128) | {:.0} |",
            images as f64 / median(times)
        );
    }
    println!(
        "cores on this machine: {}",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );
}
