//! Per-epoch metrics, calibration error, and the files a run keeps: `metrics.csv`
//! and `curves.svg` (loss and accuracy, train and test), rewritten atomically after
//! every epoch.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::checkpoint::write_atomically;

/// One row of `metrics.csv`.
#[derive(Debug, Clone, PartialEq, burn::serde::Serialize, burn::serde::Deserialize)]
#[serde(crate = "burn::serde")]
pub struct EpochMetrics {
    /// 1-based epoch number.
    pub epoch: usize,
    pub lr: f64,
    /// Mixup criterion with label smoothing, as optimised.
    pub train_loss: f64,
    /// Lambda-weighted accuracy on the mixed batches.
    pub train_accuracy: f64,
    /// Plain cross-entropy (no smoothing) on the test set.
    pub test_loss: f64,
    pub test_accuracy: f64,
    /// Expected calibration error, 15 equal-width confidence bins.
    pub test_ece: f64,
    pub images_per_second: f64,
    pub train_seconds: f64,
    pub eval_seconds: f64,
}

const HEADER: &str = "epoch,lr,train_loss,train_accuracy,test_loss,test_accuracy,test_ece,images_per_second,train_seconds,eval_seconds";

impl EpochMetrics {
    fn csv_row(&self) -> String {
        format!(
            "{},{},{:.6},{:.6},{:.6},{:.6},{:.6},{:.1},{:.3},{:.3}",
            self.epoch,
            self.lr,
            self.train_loss,
            self.train_accuracy,
            self.test_loss,
            self.test_accuracy,
            self.test_ece,
            self.images_per_second,
            self.train_seconds,
            self.eval_seconds
        )
    }

    /// The one-line summary printed after each epoch.
    pub fn summary_line(&self, epochs: usize) -> String {
        format!(
            "epoch {:>3}/{epochs}  lr {:.4}  train loss {:.4} acc {:6.2}%  test loss {:.4} acc {:6.2}% ECE {:.4}  {:.0} img/s  {:.1}s",
            self.epoch,
            self.lr,
            self.train_loss,
            100.0 * self.train_accuracy,
            self.test_loss,
            100.0 * self.test_accuracy,
            self.test_ece,
            self.images_per_second,
            self.train_seconds + self.eval_seconds
        )
    }
}

/// Expected calibration error: `sum_b |acc_b - conf_b| * n_b / N` over `bins`
/// equal-width bins of the top-class confidence, `(i/bins, (i+1)/bins]`.
pub fn expected_calibration_error(confidences: &[f64], correct: &[bool], bins: usize) -> f64 {
    let n = confidences.len();
    if n == 0 || bins == 0 {
        return 0.0;
    }
    let mut count = vec![0usize; bins];
    let mut confidence_sum = vec![0.0; bins];
    let mut correct_sum = vec![0.0; bins];
    for (&c, &hit) in confidences.iter().zip(correct) {
        // (i/bins, (i+1)/bins]: ceil, minus one; a confidence of exactly 0 goes to bin 0.
        let bin = ((c * bins as f64).ceil() as usize).clamp(1, bins) - 1;
        count[bin] += 1;
        confidence_sum[bin] += c;
        correct_sum[bin] += hit as u8 as f64;
    }
    (0..bins)
        .filter(|&b| count[b] > 0)
        .map(|b| (correct_sum[b] - confidence_sum[b]).abs() / n as f64)
        .sum()
}

/// Writes `metrics.csv` and `curves.svg` in the run folder.
pub struct MetricsLog {
    dir: PathBuf,
}

impl MetricsLog {
    pub fn new(dir: &Path) -> Self {
        Self {
            dir: dir.to_path_buf(),
        }
    }

    pub fn write(&mut self, history: &[EpochMetrics]) -> std::io::Result<()> {
        let mut csv = String::from(HEADER);
        csv.push('\n');
        for row in history {
            csv.push_str(&row.csv_row());
            csv.push('\n');
        }
        write_atomically(&self.dir.join("metrics.csv"), csv.as_bytes())?;
        write_atomically(&self.dir.join("curves.svg"), curves_svg(history).as_bytes())
    }
}

/// Two panels, loss and accuracy against epoch, train and test in each.
pub fn curves_svg(history: &[EpochMetrics]) -> String {
    let (width, height, margin) = (900.0, 360.0, 50.0);
    let panel_width = (width - 3.0 * margin) / 2.0;
    let panel_height = height - 2.0 * margin;
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(svg, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let epochs = history.len().max(1) as f64;
    type Series<'a> = (&'a str, &'a str, Box<dyn Fn(&EpochMetrics) -> f64>);
    let panels: [(&str, Vec<Series>); 2] = [
        (
            "loss",
            vec![
                (
                    "train",
                    "#1f77b4",
                    Box::new(|m: &EpochMetrics| m.train_loss),
                ),
                ("test", "#d62728", Box::new(|m: &EpochMetrics| m.test_loss)),
            ],
        ),
        (
            "accuracy (%)",
            vec![
                (
                    "train",
                    "#1f77b4",
                    Box::new(|m: &EpochMetrics| 100.0 * m.train_accuracy),
                ),
                (
                    "test",
                    "#d62728",
                    Box::new(|m: &EpochMetrics| 100.0 * m.test_accuracy),
                ),
            ],
        ),
    ];
    for (p, (title, series)) in panels.iter().enumerate() {
        let x0 = margin + p as f64 * (panel_width + margin);
        let y0 = margin;
        let values: Vec<f64> = series
            .iter()
            .flat_map(|(_, _, f)| history.iter().map(f))
            .filter(|v| v.is_finite())
            .collect();
        let (mut low, mut high) = values
            .iter()
            .fold((f64::MAX, f64::MIN), |(l, h), &v| (l.min(v), h.max(v)));
        if values.is_empty() {
            (low, high) = (0.0, 1.0);
        }
        if high - low < 1e-9 {
            high = low + 1.0;
        }
        let _ = writeln!(
            svg,
            r#"<rect x="{x0}" y="{y0}" width="{panel_width}" height="{panel_height}" fill="none" stroke="black"/>"#
        );
        let _ = writeln!(
            svg,
            r#"<text x="{}" y="{}" text-anchor="middle">{title}</text>"#,
            x0 + panel_width / 2.0,
            y0 - 10.0
        );
        let _ = writeln!(
            svg,
            r#"<text x="{}" y="{}" text-anchor="middle">epoch</text>"#,
            x0 + panel_width / 2.0,
            y0 + panel_height + 35.0
        );
        for (label, value) in [(format!("{high:.3}"), high), (format!("{low:.3}"), low)] {
            let y = y0 + panel_height * (1.0 - (value - low) / (high - low));
            let _ = writeln!(
                svg,
                r#"<text x="{}" y="{}" text-anchor="end">{label}</text>"#,
                x0 - 4.0,
                y + 4.0
            );
        }
        let _ = writeln!(
            svg,
            r#"<text x="{x0}" y="{}">1</text>"#,
            y0 + panel_height + 16.0
        );
        let _ = writeln!(
            svg,
            r#"<text x="{}" y="{}" text-anchor="end">{}</text>"#,
            x0 + panel_width,
            y0 + panel_height + 16.0,
            history.len()
        );
        for (s, (name, colour, value)) in series.iter().enumerate() {
            let points: Vec<String> = history
                .iter()
                .enumerate()
                .filter(|(_, m)| value(m).is_finite())
                .map(|(i, m)| {
                    let x = x0
                        + panel_width
                            * if epochs > 1.0 {
                                i as f64 / (epochs - 1.0)
                            } else {
                                0.5
                            };
                    let y = y0 + panel_height * (1.0 - (value(m) - low) / (high - low));
                    format!("{x:.1},{y:.1}")
                })
                .collect();
            let _ = writeln!(
                svg,
                r#"<polyline fill="none" stroke="{colour}" stroke-width="2" points="{}"/>"#,
                points.join(" ")
            );
            let ly = y0 + 15.0 + 15.0 * s as f64;
            let _ = writeln!(
                svg,
                r#"<line x1="{}" y1="{ly}" x2="{}" y2="{ly}" stroke="{colour}" stroke-width="2"/>"#,
                x0 + 10.0,
                x0 + 30.0
            );
            let _ = writeln!(
                svg,
                r#"<text x="{}" y="{}">{name}</text>"#,
                x0 + 35.0,
                ly + 4.0
            );
        }
    }
    svg.push_str("</svg>\n");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ece_matches_hand_computation() {
        // Bin (0.6, 0.667]: two samples, conf 0.65 each, one right: |0.5 - 0.65| * 2/4.
        // Bin (0.933, 1]: two samples, conf 0.95 and 1.0, both right: |1 - 0.975| * 2/4.
        let ece =
            expected_calibration_error(&[0.65, 0.65, 0.95, 1.0], &[true, false, true, true], 15);
        assert!((ece - (0.15 * 0.5 + 0.025 * 0.5)).abs() < 1e-12, "{ece}");
        // Perfect calibration in one bin.
        assert!(expected_calibration_error(&[0.5, 0.5], &[true, false], 15).abs() < 1e-12);
        assert_eq!(expected_calibration_error(&[], &[], 15), 0.0);
    }

    #[test]
    fn csv_and_svg_are_written() {
        let dir = tempfile::tempdir().unwrap();
        let row = |epoch| EpochMetrics {
            epoch,
            lr: 0.1,
            train_loss: 2.0 / epoch as f64,
            train_accuracy: 0.1 * epoch as f64,
            test_loss: 1.5,
            test_accuracy: 0.2,
            test_ece: 0.05,
            images_per_second: 100.0,
            train_seconds: 1.0,
            eval_seconds: 0.5,
        };
        let mut log = MetricsLog::new(dir.path());
        log.write(&[row(1), row(2)]).unwrap();
        let csv = std::fs::read_to_string(dir.path().join("metrics.csv")).unwrap();
        assert_eq!(csv.lines().count(), 3);
        assert!(csv.starts_with("epoch,lr,train_loss"));
        assert!(
            csv.lines()
                .nth(2)
                .unwrap()
                .starts_with("2,0.1,1.000000,0.200000")
        );
        let svg = std::fs::read_to_string(dir.path().join("curves.svg")).unwrap();
        assert_eq!(svg.matches("<polyline").count(), 4);
    }
}
