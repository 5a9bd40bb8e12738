//! What calibration costs on the host, at the trainer's sizes (5,000 held-out
//! CIFAR-10 images, the 10,000 test images; 10 and 100 classes): the measures
//! (`Predictions::from_logits` + equal-width and equal-mass bins) and the exact
//! temperature fit, each against one pass over the logits that computes the NLL
//! (`Predictions::from_logits` alone, the baseline), so the ratio says how many
//! passes the fit takes.
//!
//! `cargo bench --bench calibration`

mod common;

use burn_mixup::{Binning, Predictions, TemperatureScaling};
use criterion::Criterion;

/// Deterministic logits, over-confident: the label's class gets a margin of 6 for 70%
/// of the rows, another class for the rest, plus a fixed pseudo-random spread.
fn logits(n: usize, classes: usize) -> (Vec<f32>, Vec<i64>) {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut noise = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 40) as f32 / (1u64 << 24) as f32 * 4.0 - 2.0
    };
    let labels: Vec<i64> = (0..n).map(|i| (i % classes) as i64).collect();
    let values = labels
        .iter()
        .enumerate()
        .flat_map(|(i, &y)| {
            let favourite = if i % 10 < 7 {
                y as usize
            } else {
                (y as usize + 1) % classes
            };
            (0..classes)
                .map(|k| noise() + if k == favourite { 6.0 } else { 0.0 })
                .collect::<Vec<_>>()
        })
        .collect();
    (values, labels)
}

fn bench(c: &mut Criterion) -> Vec<common::Group> {
    let mut groups = Vec::new();
    for (n, classes) in [(5_000, 10), (10_000, 10), (10_000, 100)] {
        let (z, y) = logits(n, classes);
        let name = format!("calibration [{n}, {classes}]");
        let mut g = c.benchmark_group(&name);
        g.bench_function("one pass (Predictions::from_logits)", |b| {
            b.iter(|| Predictions::from_logits(&z, classes, &y).unwrap())
        });
        g.bench_function("measures (+ 15 equal-width and 15 equal-mass bins)", |b| {
            b.iter(|| {
                let p = Predictions::from_logits(&z, classes, &y).unwrap();
                let width = p.reliability(15, Binning::EqualWidth).unwrap().ece();
                let mass = p.reliability(15, Binning::EqualMass).unwrap().ece();
                (width, mass)
            })
        });
        g.bench_function("TemperatureScaling::fit", |b| {
            b.iter(|| TemperatureScaling::fit(&z, classes, &y).unwrap())
        });
        g.finish();
        groups.push(common::group(
            name,
            &[
                "one pass (Predictions__from_logits)",
                "measures (+ 15 equal-width and 15 equal-mass bins)",
                "TemperatureScaling__fit",
            ],
        ));
    }
    groups
}

fn main() {
    let (dir, mut c) = common::criterion();
    let groups = bench(&mut c);
    common::print_table(&dir, &groups);
}
