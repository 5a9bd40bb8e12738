//! The run's own record next to burn-train's logs: `metrics.csv` (one row per epoch)
//! and `curves.svg`, both rewritten atomically after every epoch, plus a one-line
//! summary. It is a burn-train `MetricLogger`: the numbers are the epoch values of
//! the metrics burn-train computed, not a second computation.
//!
//! It also watches the run: the first non-finite training loss, or a record that
//! cannot be written, is a [`Fault`](crate::watch::Fault) that stops the run and
//! keeps the epoch from being checkpointed.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use burn::train::Interrupter;
use burn::train::logger::MetricLogger;
use burn::train::metric::store::{EpochSummary, MetricsUpdate, Split};
use burn::train::metric::{MetricDefinition, MetricId, NumericEntry};

use crate::checkpoint::write_atomically;
use crate::curves::curves_svg;
use crate::watch::{Fault, Shared, fault, report};

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

/// How the run log shows its epoch lines.
#[derive(Debug, Clone)]
pub enum Lines {
    /// On stderr as they come.
    Print,
    /// Kept while burn-train's TUI owns the terminal; printed once it closes.
    Hold(Arc<Mutex<Vec<String>>>),
}

/// Latest values of one metric in the current epoch.
#[derive(Debug, Default, Clone, Copy)]
struct Seen {
    /// The last batch's value.
    batch: f64,
    /// The epoch's value from `compute` (burn-train 0.22's `NumericEntry::Final`).
    epoch: Option<f64>,
    /// Items counted by the batch entries (images, for the per-image metrics).
    items: usize,
}

/// Collects burn-train's metric updates and writes a row at the end of each epoch.
pub struct RunLog {
    dir: PathBuf,
    epochs: usize,
    names: HashMap<MetricId, String>,
    seen: HashMap<(bool, String), Seen>,
    /// Batches seen this epoch: test, training.
    iterations: [usize; 2],
    rows: Vec<EpochRow>,
    epoch_started: Instant,
    train_seconds: f64,
    shared: Shared,
    interrupter: Interrupter,
    /// Train on through a non-finite loss (`--allow-divergence`).
    allow_divergence: bool,
    lines: Lines,
}

impl RunLog {
    /// Continues the record in `dir`, keeping the rows of epochs up to
    /// `keep_through` (those of the checkpoint a resume starts from).
    pub fn open(
        dir: &Path,
        keep_through: usize,
        epochs: usize,
        shared: Shared,
        interrupter: Interrupter,
    ) -> std::io::Result<Self> {
        let mut log = Self {
            dir: dir.to_path_buf(),
            epochs,
            names: HashMap::new(),
            seen: HashMap::new(),
            iterations: [0, 0],
            rows: read_rows(dir),
            epoch_started: Instant::now(),
            train_seconds: 0.0,
            shared,
            interrupter,
            allow_divergence: false,
            lines: Lines::Print,
        };
        log.rows.retain(|row| row.epoch <= keep_through);
        log.write()?;
        Ok(log)
    }

    pub fn allow_divergence(mut self, allow: bool) -> Self {
        self.allow_divergence = allow;
        self
    }

    pub fn lines(mut self, lines: Lines) -> Self {
        self.lines = lines;
        self
    }

    /// The epoch value of a metric (its `Final` entry, else the last batch's value).
    fn value(&self, train: bool, name: &str) -> Seen {
        let seen = self
            .seen
            .get(&(train, name.to_string()))
            .copied()
            .unwrap_or(Seen {
                batch: f64::NAN,
                ..Seen::default()
            });
        Seen {
            epoch: Some(seen.epoch.unwrap_or(seen.batch)),
            ..seen
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
            .map_err(|e| std::io::Error::new(e.kind(), format!("curves.svg: {e}")))
    }

    fn faulted(&self) -> bool {
        fault(&self.shared).is_some()
    }

    /// A non-finite loss on either split is a fault (unless allowed), named by
    /// split, epoch, iteration and learning rate.
    fn watch_loss(&mut self, train: bool, epoch: usize) {
        let loss = self.value(train, "Loss").batch;
        if loss.is_finite() || self.allow_divergence || self.faulted() {
            return;
        }
        let fault = Fault::Diverged {
            split: if train { "training" } else { "test" },
            epoch,
            iteration: self.iterations[usize::from(train)],
            lr: self.value(true, "Learning Rate").batch,
            loss,
        };
        report(&self.shared, &self.interrupter, fault);
    }

    fn end_epoch(&mut self, epoch: usize) {
        let images = self.value(true, "Mixed Accuracy").items;
        let epoch_of = |train, name| self.value(train, name).epoch.unwrap_or(f64::NAN);
        let row = EpochRow {
            epoch,
            lr: self.value(true, "Learning Rate").batch,
            train_loss: epoch_of(true, "Loss"),
            train_accuracy: epoch_of(true, "Mixed Accuracy"),
            test_loss: epoch_of(false, "Loss"),
            test_accuracy: epoch_of(false, "Accuracy"),
            test_ece: epoch_of(false, "Calibration Error (ECE)"),
            images_per_second: images as f64 / self.train_seconds.max(1e-9),
            seconds: self.epoch_started.elapsed().as_secs_f64(),
        };
        let line = row.summary_line(self.epochs);
        match &self.lines {
            Lines::Print => {
                let _ = writeln!(std::io::stderr(), "{line}");
            }
            Lines::Hold(held) => held.lock().unwrap_or_else(|e| e.into_inner()).push(line),
        }
        self.rows.retain(|r| r.epoch < row.epoch);
        self.rows.push(row);
        if let Err(e) = self.write() {
            let fault = Fault::Unwritable {
                path: self.dir.join("metrics.csv"),
                reason: e.to_string(),
            };
            report(&self.shared, &self.interrupter, fault);
            return;
        }
        let (lock, changed) = &*self.shared;
        lock.lock().unwrap_or_else(|e| e.into_inner()).written = epoch;
        changed.notify_all();
    }
}

impl MetricLogger for RunLog {
    fn log(&mut self, update: MetricsUpdate, epoch: usize, split: &Split) {
        let train = *split == Split::Train;
        // A batch's update carries per-batch entries; the epoch's `compute` update
        // carries `Final` ones.
        let mut batch_loss = false;
        for entry in update.entries_numeric {
            let Some(name) = self.names.get(&entry.entry.metric_id) else {
                continue;
            };
            let is_loss = name == "Loss";
            let seen = self.seen.entry((train, name.clone())).or_default();
            match entry.numeric_entry {
                Some(NumericEntry::Final(value)) => seen.epoch = Some(value),
                Some(NumericEntry::Aggregated {
                    aggregated_value,
                    count,
                }) => {
                    seen.batch = aggregated_value;
                    seen.items += count;
                    batch_loss |= is_loss;
                }
                Some(NumericEntry::Value(value)) => {
                    seen.batch = value;
                    seen.items += 1;
                    batch_loss |= is_loss;
                }
                None => {}
            }
        }
        if batch_loss {
            self.iterations[usize::from(train)] += 1;
            self.watch_loss(train, epoch);
        }
    }

    fn read_numeric(&mut self, _: &str, _: usize, _: &Split) -> Result<Vec<NumericEntry>, String> {
        Err("the run log keeps epoch values only; burn-train's file logger answers".into())
    }

    fn log_metric_definition(&mut self, definition: MetricDefinition) {
        self.names
            .insert(definition.metric_id, definition.name.to_string());
    }

    fn log_epoch_summary(&mut self, summary: EpochSummary) {
        match summary.split {
            Split::Train => self.train_seconds = self.epoch_started.elapsed().as_secs_f64(),
            // An epoch with a fault gets no row: no checkpoint will match it.
            Split::Valid if !self.faulted() => {
                self.end_epoch(summary.epoch_number);
                self.seen.clear();
                self.iterations = [0, 0];
                self.epoch_started = Instant::now();
            }
            _ => {}
        }
    }
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

    /// While the TUI is up the epoch lines are held, not printed (they would be
    /// drawn over the dashboard); the run prints them once it closes.
    #[test]
    fn epoch_lines_are_held_while_the_tui_is_up() {
        let dir = tempfile::tempdir().unwrap();
        let held = Arc::new(Mutex::new(Vec::new()));
        let mut log = RunLog::open(dir.path(), 0, 3, Shared::default(), Interrupter::new())
            .unwrap()
            .lines(Lines::Hold(held.clone()));
        log.end_epoch(1);
        let lines = held.lock().unwrap().clone();
        assert_eq!(lines.len(), 1);
        assert!(lines[0].starts_with("epoch   1/3"), "{lines:?}");
        assert_eq!(read_rows(dir.path()).len(), 1);
    }

    #[test]
    fn csv_round_trips_and_a_resume_drops_rows_after_its_checkpoint() {
        let dir = tempfile::tempdir().unwrap();
        let open = |keep| {
            RunLog::open(dir.path(), keep, 150, Shared::default(), Interrupter::new()).unwrap()
        };
        let mut log = open(0);
        log.rows = (1..=150).map(row).collect();
        log.write().unwrap();
        assert_eq!(read_rows(dir.path()), log.rows);
        let resumed = open(120);
        assert_eq!(resumed.rows.len(), 120);
        assert_eq!(read_rows(dir.path()).last().unwrap().epoch, 120);
        assert!(read_rows(Path::new("/nonexistent")).is_empty());
    }
}
