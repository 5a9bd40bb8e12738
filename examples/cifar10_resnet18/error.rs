//! The errors a run reports, each naming its cause and what was kept.

use std::path::PathBuf;

use burn_mixup::MixError;
use thiserror::Error;

use crate::data::DataError;
use crate::folder::LockError;
use crate::watch::Fault;

/// Why a run could not start or go on.
#[derive(Debug, Error)]
pub enum TrainError {
    #[error(transparent)]
    Data(#[from] DataError),
    #[error("--{flag} must be {expected}, got {value}")]
    Flag {
        flag: &'static str,
        expected: &'static str,
        value: String,
    },
    #[error("invalid mixing options: {0}")]
    Mixing(#[from] MixError),
    #[error("invalid loss options: {0}")]
    Loss(#[from] burn_mixup::LossError),
    #[error("invalid learning-rate schedule: {0}")]
    Schedule(#[from] burn_mixup::ScheduleError),
    #[error("checkpoint {path} is unusable: {reason}")]
    Checkpoint { path: PathBuf, reason: String },
    #[error(
        "{dir} was started with {field} = {saved}, not {given}; only --epochs may change on resume"
    )]
    ConfigMismatch {
        dir: PathBuf,
        field: String,
        saved: String,
        given: String,
    },
    #[error("{path} is not a run folder: {reason}")]
    NotARun { path: PathBuf, reason: String },
    #[error("cannot write {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Device(String),
    #[error("temperature scaling on the validation images failed: {0}; try a larger --val-size")]
    Calibration(#[from] burn_mixup::CalibrationError),
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error(
        "the {split} loss became {loss} at epoch {epoch}, iteration {iteration} (learning \
         rate {lr}): the run diverged and stopped without checkpointing epoch {epoch}. {}",
        last_good(.saved)
    )]
    Diverged {
        split: &'static str,
        epoch: usize,
        iteration: usize,
        lr: f64,
        loss: f64,
        /// The last epoch whose checkpoint holds a finite model.
        saved: Option<usize>,
    },
    #[error("cannot write {path}: {reason}")]
    Unwritable { path: PathBuf, reason: String },
    /// An error burn-train stopped on (a checkpoint that could not be saved, a data
    /// error, a device error), as it reports it, and the last whole checkpoint.
    #[error("training stopped on an error: {error}. {}", resumable(.saved))]
    Training { error: String, saved: Option<usize> },
}

fn last_good(saved: &Option<usize>) -> String {
    match saved {
        Some(epoch) => format!(
            "Epoch {epoch}'s checkpoint holds the last finite model: start again with a lower \
             --lr, or resume with --allow-divergence to train on regardless"
        ),
        None => "No epoch had finished, so nothing is saved: start again with a lower --lr".into(),
    }
}

fn resumable(saved: &Option<usize>) -> String {
    match saved {
        Some(epoch) => format!(
            "The checkpoint of epoch {epoch} is whole: fix the cause, then resume the run with \
             --resume"
        ),
        None => "No epoch was checkpointed: fix the cause and start again".into(),
    }
}

impl TrainError {
    /// The error of a run that stopped on `fault`, whose last whole checkpoint is of
    /// epoch `saved`.
    pub fn of_fault(fault: Fault, saved: Option<usize>) -> Self {
        match fault {
            Fault::Diverged {
                split,
                epoch,
                iteration,
                lr,
                loss,
            } => Self::Diverged {
                split,
                epoch,
                iteration,
                lr,
                loss,
                saved,
            },
            Fault::Unwritable { path, reason } => Self::Unwritable { path, reason },
        }
    }
}
