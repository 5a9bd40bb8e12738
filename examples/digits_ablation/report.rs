//! What an ablation reports: every run (`runs.csv`), mean ± sd per arm and training
//! size (`summary.csv`, and the table printed), and one picture (`ablation.svg`): a
//! panel per metric, one bar with a ±sd error bar per arm and training size.

use std::io::Write;
use std::path::Path;

use plotters::prelude::*;

use crate::train::Outcome;

/// One finished run.
#[derive(Debug, Clone, Copy)]
pub struct Row {
    pub arm: &'static str,
    pub train_size: usize,
    pub seed: u64,
    pub outcome: Outcome,
}

/// Mean and sample standard deviation (0 for a single value).
pub fn mean_sd(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let var = if values.len() > 1 {
        values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)
    } else {
        0.0
    };
    (mean, var.sqrt())
}

/// One reported metric: the column name, the table header, decimals, and the value
/// of a run.
pub type Metric = (&'static str, &'static str, usize, fn(&Outcome) -> f64);

/// What each run reports, in the order of the CSV columns and the table.
pub const METRICS: [Metric; 8] = [
    ("accuracy", "acc %", 2, |o| o.accuracy),
    ("confidence", "conf %", 2, |o| o.confidence),
    ("nll", "NLL", 3, |o| o.nll),
    ("ece", "ECE %", 2, |o| o.ece),
    ("temperature", "T", 2, |o| o.temperature),
    ("confidence_scaled", "conf % at T", 2, |o| {
        o.confidence_scaled
    }),
    ("nll_scaled", "NLL at T", 3, |o| o.nll_scaled),
    ("ece_scaled", "ECE % at T", 2, |o| o.ece_scaled),
];

/// The runs of one arm at one training size, summarised: (mean, sd) of each of
/// [`METRICS`], and of the seconds a run took.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub arm: &'static str,
    pub train_size: usize,
    pub runs: usize,
    pub metrics: [(f64, f64); 8],
    pub seconds: (f64, f64),
}

impl Summary {
    /// The (mean, sd) of the metric named `key` in [`METRICS`].
    pub fn get(&self, key: &str) -> (f64, f64) {
        let index = METRICS
            .iter()
            .position(|m| m.0 == key)
            .expect("a metric of METRICS");
        self.metrics[index]
    }
}

/// Summaries in the order the rows first name each (arm, size).
pub fn summarise(rows: &[Row]) -> Vec<Summary> {
    let mut keys: Vec<(&'static str, usize)> = Vec::new();
    for row in rows {
        if !keys.contains(&(row.arm, row.train_size)) {
            keys.push((row.arm, row.train_size));
        }
    }
    keys.into_iter()
        .map(|(arm, train_size)| {
            let of = |pick: fn(&Outcome) -> f64| -> Vec<f64> {
                rows.iter()
                    .filter(|r| r.arm == arm && r.train_size == train_size)
                    .map(|r| pick(&r.outcome))
                    .collect()
            };
            Summary {
                arm,
                train_size,
                runs: of(|o| o.accuracy).len(),
                metrics: METRICS.map(|(.., pick)| mean_sd(&of(pick))),
                seconds: mean_sd(&of(|o| o.seconds)),
            }
        })
        .collect()
}

/// Writes `bytes` to `path` through a temporary file and a rename.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let temp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut file = std::fs::File::create(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&temp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
}

pub fn runs_csv(rows: &[Row]) -> String {
    let mut csv = String::from("arm,train_size,seed");
    for (key, ..) in METRICS {
        csv += &format!(",{key}");
    }
    csv += ",seconds\n";
    for r in rows {
        csv += &format!("{},{},{}", r.arm, r.train_size, r.seed);
        for (.., pick) in METRICS {
            csv += &format!(",{}", pick(&r.outcome));
        }
        csv += &format!(",{:.3}\n", r.outcome.seconds);
    }
    csv
}

pub fn summary_csv(summaries: &[Summary]) -> String {
    let mut csv = String::from("arm,train_size,runs");
    for (key, ..) in METRICS {
        csv += &format!(",{key}_mean,{key}_sd");
    }
    csv += ",seconds_mean,seconds_sd\n";
    for s in summaries {
        csv += &format!("{},{},{}", s.arm, s.train_size, s.runs);
        for (mean, sd) in s.metrics.iter().chain([&s.seconds]) {
            csv += &format!(",{mean},{sd}");
        }
        csv += "\n";
    }
    csv
}

/// The arms and the training sizes of `summaries`: arms in first-seen order,
/// sizes largest first.
fn arms_and_sizes(summaries: &[Summary]) -> (Vec<&'static str>, Vec<usize>) {
    let mut arms: Vec<&'static str> = Vec::new();
    for s in summaries {
        if !arms.contains(&s.arm) {
            arms.push(s.arm);
        }
    }
    let mut sizes: Vec<usize> = summaries.iter().map(|s| s.train_size).collect();
    sizes.sort_unstable_by(|a, b| b.cmp(a));
    sizes.dedup();
    (arms, sizes)
}

/// The table: one row per arm, mean ± sd per metric and training size.
pub fn table(summaries: &[Summary]) -> String {
    let (arms, sizes) = arms_and_sizes(summaries);
    let mut out = String::from("| arm |");
    for size in &sizes {
        for (_, header, ..) in METRICS {
            out += &format!(" {header} ({size}) |");
        }
    }
    out += &format!("\n|---|{}\n", "---|".repeat(METRICS.len() * sizes.len()));
    for arm in arms {
        out += &format!("| {arm} |");
        for size in &sizes {
            match summaries
                .iter()
                .find(|s| s.arm == arm && s.train_size == *size)
            {
                Some(s) => {
                    for ((mean, sd), (_, _, decimals, _)) in s.metrics.into_iter().zip(METRICS) {
                        // One seed has no spread to show: "± 0.00" would claim one.
                        match s.runs {
                            1 => out += &format!(" {mean:.decimals$} |"),
                            _ => out += &format!(" {mean:.decimals$} ± {sd:.decimals$} |"),
                        }
                    }
                }
                None => out += &" |".repeat(METRICS.len()),
            }
        }
        out += "\n";
    }
    out
}

const COLORS: [RGBColor; 3] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
];

/// The picture: four panels (accuracy, NLL, ECE, ECE after temperature scaling),
/// arms along x, one bar and error bar per training size.
pub fn picture(summaries: &[Summary]) -> Result<String, String> {
    let (arms, sizes) = arms_and_sizes(summaries);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (1300, 1560)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        // One legend for the four panels, above them, where it covers no bar.
        let (top, panels_area) = root.split_vertically(40);
        for (k, size) in sizes.iter().enumerate() {
            let x = 420 + 260 * k as i32;
            let color = COLORS[k % COLORS.len()];
            top.draw(&Rectangle::new([(x, 14), (x + 16, 30)], color.filled()))
                .map_err(|e| e.to_string())?;
            top.draw(&Text::new(
                format!("{size} training images"),
                (x + 24, 14),
                ("sans-serif", 18),
            ))
            .map_err(|e| e.to_string())?;
        }
        type Pick = fn(&Summary) -> (f64, f64);
        let panels: [(&str, Pick); 4] = [
            ("Test accuracy (%)", |s| s.get("accuracy")),
            ("Test NLL", |s| s.get("nll")),
            ("Test ECE, 15 bins (%)", |s| s.get("ece")),
            ("Test ECE after temperature scaling (%)", |s| {
                s.get("ece_scaled")
            }),
        ];
        for (area, (title, pick)) in panels_area.split_evenly((4, 1)).iter().zip(panels) {
            let low = summaries
                .iter()
                .map(|s| pick(s).0 - pick(s).1)
                .fold(f64::INFINITY, f64::min);
            let high = summaries
                .iter()
                .map(|s| pick(s).0 + pick(s).1)
                .fold(f64::NEG_INFINITY, f64::max);
            let pad = ((high - low) * 0.08).max(1e-3);
            // Bars start at the axis bottom, which is not 0 when the values are far
            // from it (accuracy): the caption says so.
            let bottom = if low - pad > 0.0 && low > 0.3 * high {
                low - pad
            } else {
                0.0
            };
            let caption = if bottom > 0.0 {
                format!("{title}: mean ± sd over seeds (axis from {bottom:.2})")
            } else {
                format!("{title}: mean ± sd over seeds")
            };
            let mut chart = ChartBuilder::on(area)
                .caption(caption, ("sans-serif", 20))
                .margin(10)
                .x_label_area_size(30)
                .y_label_area_size(60)
                .build_cartesian_2d(-0.5..arms.len() as f64 - 0.5, bottom..high + pad)
                .map_err(|e| e.to_string())?;
            chart
                .configure_mesh()
                .disable_x_mesh()
                .x_labels(arms.len() * 2 + 1)
                .x_label_formatter(&|x| {
                    let i = x.round();
                    if (x - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < arms.len() {
                        arms[i as usize].to_string()
                    } else {
                        String::new()
                    }
                })
                .y_labels(6)
                .draw()
                .map_err(|e| e.to_string())?;
            let width = 0.8 / sizes.len() as f64;
            for (k, size) in sizes.iter().enumerate() {
                let color = COLORS[k % COLORS.len()];
                let mut bars = Vec::new();
                let mut errors = Vec::new();
                for (i, arm) in arms.iter().enumerate() {
                    let Some(s) = summaries
                        .iter()
                        .find(|s| s.arm == *arm && s.train_size == *size)
                    else {
                        continue;
                    };
                    let (mean, sd) = pick(s);
                    let left = i as f64 - 0.4 + k as f64 * width;
                    bars.push(Rectangle::new(
                        [(left, bottom), (left + width * 0.9, mean)],
                        color.filled(),
                    ));
                    let centre = left + width * 0.45;
                    errors.push(ErrorBar::new_vertical(
                        centre,
                        mean - sd,
                        mean,
                        mean + sd,
                        BLACK.stroke_width(1),
                        6,
                    ));
                }
                chart.draw_series(bars).map_err(|e| e.to_string())?;
                chart.draw_series(errors).map_err(|e| e.to_string())?;
            }
        }
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(arm: &'static str, train_size: usize, seed: u64, accuracy: f64) -> Row {
        Row {
            arm,
            train_size,
            seed,
            outcome: Outcome {
                accuracy,
                confidence: 90.0,
                nll: accuracy / 100.0,
                ece: 5.0,
                temperature: 1.5,
                confidence_scaled: 85.0,
                nll_scaled: accuracy / 200.0,
                ece_scaled: 2.0,
                seconds: 0.1,
            },
        }
    }

    #[test]
    fn summaries_are_mean_and_sample_sd_and_everything_is_drawn() {
        assert_eq!(mean_sd(&[1.0, 3.0]), (2.0, 2f64.sqrt()));
        assert_eq!(mean_sd(&[4.0]), (4.0, 0.0));
        let rows = [
            row("erm", 1348, 0, 97.0),
            row("erm", 1348, 1, 99.0),
            row("mixup", 1348, 0, 98.0),
            row("erm", 200, 0, 80.0),
        ];
        let summaries = summarise(&rows);
        assert_eq!(summaries.len(), 3);
        assert_eq!(summaries[0].get("accuracy"), (98.0, 2f64.sqrt()));
        assert_eq!(
            summaries[0].get("nll_scaled"),
            mean_sd(&[97.0 / 200.0, 99.0 / 200.0])
        );
        assert_eq!(summaries[0].runs, 2);
        let table = table(&summaries);
        assert!(table.contains("| erm | 98.00 ± 1.41 |"), "{table}");
        // One seed: the mean alone, no spread claimed.
        assert!(table.contains("| mixup | 98.00 | 90.00 |"), "{table}");
        assert!(table.contains("| 90.00 ± 0.00 |"), "{table}");
        let csv = summary_csv(&summaries);
        assert_eq!(csv.lines().count(), 4);
        assert_eq!(runs_csv(&rows).lines().count(), 5);
        let svg = picture(&summaries).unwrap();
        for text in [
            "Test accuracy",
            "Test NLL",
            "Test ECE",
            "after temperature scaling",
            "erm",
            "mixup",
            "1348 training images",
            "200 training images",
        ] {
            assert!(svg.contains(text), "{text} missing");
        }
    }
}
