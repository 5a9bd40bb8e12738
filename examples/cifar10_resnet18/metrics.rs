//! The run's own record next to burn-train's logs: `metrics.csv` (one row per epoch)
//! and `curves.svg` (loss, accuracy, ECE and learning-rate panels, train and test
//! together), both rewritten atomically after every epoch, plus a one-line summary
//! on stderr. It is a burn-train `MetricLogger`: the numbers are the epoch means of
//! the metrics burn-train computed, not a second computation.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use burn::train::checkpoint::{CheckpointingAction, CheckpointingStrategy, KeepLastNCheckpoints};
use burn::train::metric::store::EventStoreClient;

use burn::train::logger::MetricLogger;
use burn::train::metric::store::{EpochSummary, MetricsUpdate, Split};
use burn::train::metric::{MetricDefinition, MetricId, NumericEntry};
use plotters::prelude::*;

use crate::checkpoint::write_atomically;

/// One row of `metrics.csv`; accuracies and ECE in percent, as burn-train shows them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EpochRow {
    pub epoch: usize,
    pub lr: f64,
    /// The training criterion (mixed, smoothed), mean over the epoch's batches.
    pub train_loss: f64,
    /// Lambda-weighted accuracy on the mixed batches.
    pub train_accuracy: f64,
    /// Plain cross-entropy on the test set.
    pub test_loss: f64,
    pub test_accuracy: f64,
    /// Expected calibration error, 15 equal-width confidence bins.
    pub test_ece: f64,
    pub images_per_second: f64,
    pub seconds: f64,
}

const HEADER: &str = "epoch,lr,train_loss,train_accuracy_pct,test_loss,test_accuracy_pct,test_ece_pct,images_per_second,seconds";

impl EpochRow {
    fn fields(&self) -> [f64; 9] {
        [
            self.epoch as f64,
            self.lr,
            self.train_loss,
            self.train_accuracy,
            self.test_loss,
            self.test_accuracy,
            self.test_ece,
            self.images_per_second,
            self.seconds,
        ]
    }

    fn parse(line: &str) -> Option<Self> {
        let v: Vec<f64> = line
            .split(',')
            .map(|f| f.parse().ok())
            .collect::<Option<_>>()?;
        let [
            epoch,
            lr,
            train_loss,
            train_accuracy,
            test_loss,
            test_accuracy,
            test_ece,
            ips,
            s,
        ] = v.try_into().ok()?;
        Some(Self {
            epoch: epoch as usize,
            lr,
            train_loss,
            train_accuracy,
            test_loss,
            test_accuracy,
            test_ece,
            images_per_second: ips,
            seconds: s,
        })
    }

    pub fn summary_line(&self, epochs: usize) -> String {
        format!(
            "epoch {:>3}/{epochs}  lr {:.4}  train loss {:.4} acc {:6.2}%  test loss {:.4} acc {:6.2}% ECE {:5.2}%  {:.0} img/s  {:.1} s",
            self.epoch,
            self.lr,
            self.train_loss,
            self.train_accuracy,
            self.test_loss,
            self.test_accuracy,
            self.test_ece,
            self.images_per_second,
            self.seconds
        )
    }
}

/// The rows of `dir/metrics.csv` (none when it does not exist).
pub fn read_rows(dir: &Path) -> Vec<EpochRow> {
    std::fs::read_to_string(dir.join("metrics.csv"))
        .unwrap_or_default()
        .lines()
        .skip(1)
        .filter_map(EpochRow::parse)
        .collect()
}

/// Collects burn-train's metric updates and writes a row at the end of each epoch.
pub struct RunLog {
    dir: PathBuf,
    epochs: usize,
    names: HashMap<MetricId, String>,
    /// Latest (running mean, current value) of each metric, by split and name.
    latest: HashMap<(bool, String), (NumericEntry, NumericEntry)>,
    rows: Vec<EpochRow>,
    epoch_started: Instant,
    train_seconds: f64,
    written: Written,
}

/// The last epoch whose row `metrics.csv` holds, shared with [`SaveAfterLog`].
pub type Written = Arc<(Mutex<usize>, Condvar)>;

/// Burn's keep-the-last-two checkpointing, saving epoch N only once `metrics.csv`
/// holds row N. burn-train writes checkpoints on the training thread and logs on its
/// event thread; without this a kill between the two could leave a checkpoint whose
/// epoch has no row, and the resumed run would never write it.
pub struct SaveAfterLog {
    pub written: Written,
    pub inner: KeepLastNCheckpoints,
}

impl CheckpointingStrategy for SaveAfterLog {
    fn checkpointing(
        &mut self,
        epoch: usize,
        store: &EventStoreClient,
    ) -> Vec<CheckpointingAction> {
        let (lock, logged) = &*self.written;
        let guard = lock.lock().unwrap_or_else(|e| e.into_inner());
        let timeout = Duration::from_secs(600);
        let _ = logged.wait_timeout_while(guard, timeout, |written| *written < epoch);
        self.inner.checkpointing(epoch, store)
    }
}

impl RunLog {
    /// Continues the record in `dir`, keeping the rows of epochs up to
    /// `keep_through` (those of the checkpoint a resume starts from).
    pub fn open(
        dir: &Path,
        keep_through: usize,
        epochs: usize,
        written: Written,
    ) -> std::io::Result<Self> {
        let mut log = Self {
            dir: dir.to_path_buf(),
            epochs,
            names: HashMap::new(),
            latest: HashMap::new(),
            rows: read_rows(dir),
            epoch_started: Instant::now(),
            train_seconds: 0.0,
            written,
        };
        log.rows.retain(|row| row.epoch <= keep_through);
        log.write()?;
        Ok(log)
    }

    fn value(&self, train: bool, name: &str, current: bool) -> (f64, usize) {
        match self.latest.get(&(train, name.to_string())) {
            Some((running, now)) => {
                let entry = if current { now } else { running };
                let count = match entry {
                    NumericEntry::Aggregated { count, .. } => *count,
                    NumericEntry::Value(_) => 1,
                };
                (entry.current(), count)
            }
            None => (f64::NAN, 0),
        }
    }

    fn write(&self) -> std::io::Result<()> {
        let mut csv = format!("{HEADER}\n");
        for row in &self.rows {
            let fields: Vec<String> = row.fields().iter().map(|v| format!("{v}")).collect();
            csv += &(fields.join(",") + "\n");
        }
        write_atomically(&self.dir.join("metrics.csv"), csv.as_bytes())?;
        let svg = curves_svg(&self.rows).map_err(std::io::Error::other)?;
        write_atomically(&self.dir.join("curves.svg"), svg.as_bytes())
    }
}

impl MetricLogger for RunLog {
    fn log(&mut self, update: MetricsUpdate, _epoch: usize, split: &Split) {
        for entry in update.entries_numeric {
            if let Some(name) = self.names.get(&entry.entry.metric_id) {
                let key = (*split == Split::Train, name.clone());
                self.latest
                    .insert(key, (entry.running_entry, entry.numeric_entry));
            }
        }
    }

    fn read_numeric(&mut self, _: &str, _: usize, _: &Split) -> Result<Vec<NumericEntry>, String> {
        Err("the run log keeps epoch means only; burn-train's file logger answers".into())
    }

    fn log_metric_definition(&mut self, definition: MetricDefinition) {
        self.names.insert(definition.metric_id, definition.name);
    }

    fn log_epoch_summary(&mut self, summary: EpochSummary) {
        match summary.split {
            Split::Train => self.train_seconds = self.epoch_started.elapsed().as_secs_f64(),
            Split::Valid => {
                let images = self.value(true, "Mixed Accuracy", false).1;
                let row = EpochRow {
                    epoch: summary.epoch_number,
                    lr: self.value(true, "Learning Rate", true).0,
                    train_loss: self.value(true, "Loss", false).0,
                    train_accuracy: self.value(true, "Mixed Accuracy", false).0,
                    test_loss: self.value(false, "Loss", false).0,
                    test_accuracy: self.value(false, "Accuracy", false).0,
                    test_ece: self.value(false, "Calibration Error (ECE)", false).0,
                    images_per_second: images as f64 / self.train_seconds.max(1e-9),
                    seconds: self.epoch_started.elapsed().as_secs_f64(),
                };
                eprintln!("{}", row.summary_line(self.epochs));
                self.rows.retain(|r| r.epoch < row.epoch);
                self.rows.push(row);
                if let Err(e) = self.write() {
                    eprintln!("warning: cannot write metrics.csv/curves.svg: {e}");
                }
                let (lock, logged) = &*self.written;
                *lock.lock().unwrap_or_else(|e| e.into_inner()) = summary.epoch_number;
                logged.notify_all();
                self.latest.clear();
                self.epoch_started = Instant::now();
            }
            Split::Test(_) => {}
        }
    }
}

/// The curves picture: four panels with ticks and grids, train and test together.
pub fn curves_svg(rows: &[EpochRow]) -> Result<String, String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (1200, 800)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let last = rows.iter().map(|r| r.epoch).max().unwrap_or(1).max(2) as f64;
        type Pick = fn(&EpochRow) -> f64;
        type Panel = (&'static str, &'static str, Vec<(&'static str, Pick)>);
        let panels: [Panel; 4] = [
            (
                "Loss",
                "loss",
                vec![
                    ("train (mixed)", |r| r.train_loss),
                    ("test", |r| r.test_loss),
                ],
            ),
            (
                "Accuracy",
                "%",
                vec![
                    ("train (lambda-weighted)", |r| r.train_accuracy),
                    ("test", |r| r.test_accuracy),
                ],
            ),
            (
                "Test calibration error (ECE)",
                "%",
                vec![("test", |r| r.test_ece)],
            ),
            ("Learning rate", "lr", vec![("lr", |r| r.lr)]),
        ];
        let colors = [RGBColor(31, 119, 180), RGBColor(214, 39, 40)];
        for (area, (title, unit, series)) in root.split_evenly((2, 2)).iter().zip(panels) {
            let values = || {
                series
                    .iter()
                    .flat_map(|(_, pick)| rows.iter().map(pick))
                    .filter(|v| v.is_finite())
            };
            let low = values().fold(f64::INFINITY, f64::min);
            let high = values().fold(f64::NEG_INFINITY, f64::max);
            let (low, high) = if low.is_finite() {
                (low, high)
            } else {
                (0.0, 1.0)
            };
            let pad = ((high - low) * 0.05).max(high.abs() * 1e-3).max(1e-9);
            let mut chart = ChartBuilder::on(area)
                .caption(title, ("sans-serif", 20))
                .margin(12)
                .x_label_area_size(40)
                .y_label_area_size(60)
                .build_cartesian_2d(1.0..last, (low - pad)..(high + pad))
                .map_err(|e| e.to_string())?;
            chart
                .configure_mesh()
                .x_desc("epoch")
                .y_desc(unit)
                .x_labels(12.min(last as usize))
                .y_labels(8)
                .x_label_formatter(&|x| format!("{x:.0}"))
                .y_label_formatter(&|y| {
                    if unit == "lr" {
                        format!("{y:.4}")
                    } else {
                        format!("{y:.2}")
                    }
                })
                .draw()
                .map_err(|e| e.to_string())?;
            for ((label, pick), color) in series.into_iter().zip(colors) {
                let points = rows.iter().map(|r| (r.epoch as f64, pick(r)));
                chart
                    .draw_series(LineSeries::new(
                        points.filter(|p| p.1.is_finite()),
                        color.stroke_width(2),
                    ))
                    .map_err(|e| e.to_string())?
                    .label(label)
                    .legend(move |(x, y)| {
                        PathElement::new([(x, y), (x + 20, y)], color.stroke_width(2))
                    });
            }
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.8))
                .border_style(BLACK)
                .draw()
                .map_err(|e| e.to_string())?;
        }
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(epoch: usize) -> EpochRow {
        EpochRow {
            epoch,
            lr: if epoch < 100 { 0.1 } else { 0.01 },
            train_loss: 2.0 / epoch as f64,
            train_accuracy: 50.0 + epoch as f64 / 4.0,
            test_loss: 1.5 / epoch as f64,
            test_accuracy: 60.0 + epoch as f64 / 5.0,
            test_ece: 5.0,
            images_per_second: 1234.5,
            seconds: 40.25,
        }
    }

    #[test]
    fn csv_round_trips_and_a_resume_drops_rows_after_its_checkpoint() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = RunLog::open(dir.path(), 0, 150, Written::default()).unwrap();
        log.rows = (1..=150).map(row).collect();
        log.write().unwrap();
        assert_eq!(read_rows(dir.path()), log.rows);
        let resumed = RunLog::open(dir.path(), 120, 150, Written::default()).unwrap();
        assert_eq!(resumed.rows.len(), 120);
        assert_eq!(read_rows(dir.path()).last().unwrap().epoch, 120);
        assert!(read_rows(Path::new("/nonexistent")).is_empty());
    }

    #[test]
    fn the_picture_has_four_panels_with_ticks_grids_and_both_splits() {
        let svg = curves_svg(&(1..=150).map(row).collect::<Vec<_>>()).unwrap();
        for text in [
            "Loss",
            "Accuracy",
            "ECE",
            "Learning rate",
            "train (mixed)",
            "test",
            "epoch",
        ] {
            assert!(svg.contains(text), "{text} missing");
        }
        // Real tick labels on the epoch axis, not only its ends.
        for tick in ["20", "60", "100", "140"] {
            assert!(
                svg.contains(&format!("\n{tick}\n</text>")),
                "tick {tick} missing"
            );
        }
        // Grid lines: many more lines than the six series.
        assert!(svg.matches("<line").count() + svg.matches("<polyline").count() > 60);
        // An empty or one-epoch run still draws.
        assert!(curves_svg(&[]).is_ok() && curves_svg(&[row(1)]).is_ok());
    }
}
