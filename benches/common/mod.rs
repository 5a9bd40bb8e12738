//! What the criterion benches share: the device they measure on, criterion's
//! settings, and the table of medians and ratios printed after criterion's report.

// Each bench uses the part it needs.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use burn::tensor::Device;
use criterion::Criterion;

/// burn-ndarray, the backend the 0.2 (Burn 0.21) figures were measured on, so that
/// the two versions compare on the same kernels. Deprecated in Burn 0.22, still
/// shipped; `BENCH_BACKEND=flex` measures burn-flex instead.
#[allow(deprecated)]
pub fn device() -> Device {
    match std::env::var("BENCH_BACKEND").as_deref() {
        Ok("flex") => Device::flex(),
        _ => Device::ndarray(),
    }
}

/// Where criterion writes its estimates, and its settings.
pub fn criterion() -> (PathBuf, Criterion) {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("criterion");
    let c = Criterion::default()
        .output_directory(&dir)
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
        .configure_from_args();
    (dir, c)
}

fn median_ns(dir: &Path, group: &str, function: &str) -> Option<f64> {
    let path = dir
        .join(group)
        .join(function)
        .join("new")
        .join("estimates.json");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
    json["median"]["point_estimate"].as_f64()
}

/// The median of `function` in `group` divided by that of `baseline`.
pub fn ratio(dir: &Path, group: &str, function: &str, baseline: &str) -> Option<f64> {
    Some(median_ns(dir, group, function)? / median_ns(dir, group, baseline)?)
}

pub fn pretty(ns: f64) -> String {
    match ns {
        t if t < 1e3 => format!("{t:.0} ns"),
        t if t < 1e6 => format!("{:.1} us", t / 1e3),
        t if t < 1e9 => format!("{:.2} ms", t / 1e6),
        t => format!("{:.2} s", t / 1e9),
    }
}

/// A group: its name, its baseline function, and the functions to show.
pub type Group = (String, String, Vec<String>);

/// Prints the medians of `groups` with their ratio to each group's baseline.
pub fn print_table(dir: &Path, groups: &[Group]) {
    println!("\n| group | function | median | ratio to baseline |");
    println!("|---|---|---|---|");
    for (group, baseline, functions) in groups {
        let Some(base) = median_ns(dir, group, baseline) else {
            continue;
        };
        for function in functions {
            if let Some(t) = median_ns(dir, group, function) {
                println!("| {group} | {function} | {} | {:.3} |", pretty(t), t / base);
            }
        }
    }
}

/// A group of `functions`, the first its baseline.
pub fn group(name: impl Into<String>, functions: &[&str]) -> Group {
    (
        name.into(),
        functions[0].to_string(),
        functions.iter().map(|f| f.to_string()).collect(),
    )
}
