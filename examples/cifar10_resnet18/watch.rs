//! The run's watch: what stops a run from inside ([`Fault`]: a diverged loss, a
//! record that cannot be written), shared between burn-train's event thread (where
//! the run log sees it) and its training thread (where checkpoints are taken), and
//! the checkpointing strategy that saves an epoch only once its row is written and
//! never after a fault.

use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use burn::train::Interrupter;
use burn::train::checkpoint::{CheckpointingAction, CheckpointingStrategy, KeepLastNCheckpoints};
use burn::train::metric::store::EventStoreClient;

/// What stopped a run from inside: reported by the binary as an error.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// The loss of this batch was NaN or infinite, on the training split or on the
    /// test split (a model whose evaluation is NaN is as dead: BatchNorm's running
    /// statistics can overflow while the training loss is still finite).
    Diverged {
        split: &'static str,
        epoch: usize,
        iteration: usize,
        lr: f64,
        loss: f64,
    },
    /// The run record could not be written.
    Unwritable { path: PathBuf, reason: String },
}

/// Shared between the run log (the event thread) and the checkpointing (the
/// training thread): the last epoch whose row `metrics.csv` holds, and the first
/// fault.
#[derive(Debug, Default)]
pub struct RunState {
    pub written: usize,
    pub fault: Option<Fault>,
}

pub type Shared = Arc<(Mutex<RunState>, Condvar)>;

/// Records `fault` unless one is recorded already, wakes the checkpointing, and
/// stops the run.
pub fn report(shared: &Shared, interrupter: &Interrupter, fault: Fault) {
    let (lock, changed) = &**shared;
    let mut state = lock.lock().unwrap_or_else(|e| e.into_inner());
    state.fault.get_or_insert(fault);
    changed.notify_all();
    interrupter.stop(Some("fault"));
}

/// The fault of the run, if any.
pub fn fault(shared: &Shared) -> Option<Fault> {
    let (lock, _) = &**shared;
    lock.lock().unwrap_or_else(|e| e.into_inner()).fault.clone()
}

/// Burn's keep-the-last-two checkpointing, saving epoch N only once `metrics.csv`
/// holds row N, and never once the run has a fault (a diverged model, a record that
/// could not be written). burn-train checkpoints on the training thread and logs on
/// its event-store thread; without this a kill between the two could leave a
/// checkpoint whose epoch has no row, and the resumed run would never write it.
pub struct SaveAfterLog {
    pub shared: Shared,
    pub inner: KeepLastNCheckpoints,
}

impl CheckpointingStrategy for SaveAfterLog {
    fn checkpointing(
        &mut self,
        epoch: usize,
        store: &EventStoreClient,
    ) -> Vec<CheckpointingAction> {
        if !may_save(&self.shared, epoch, Duration::from_secs(600)) {
            return Vec::new();
        }
        self.inner.checkpointing(epoch, store)
    }
}

/// Waits (at most `timeout`) until `metrics.csv` holds row `epoch` or the run has a
/// fault; whether epoch `epoch` may be checkpointed.
pub fn may_save(shared: &Shared, epoch: usize, timeout: Duration) -> bool {
    let (lock, changed) = &**shared;
    let guard = lock.lock().unwrap_or_else(|e| e.into_inner());
    let (state, _) = changed
        .wait_timeout_while(guard, timeout, |s| s.written < epoch && s.fault.is_none())
        .unwrap_or_else(|e| e.into_inner());
    state.fault.is_none() && state.written >= epoch
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fault (here a record that cannot be written) stops the run, and the
    /// checkpointing of that epoch saves nothing.
    #[test]
    fn a_fault_stops_the_run_and_vetoes_the_checkpoint() {
        let shared = Shared::default();
        let interrupter = Interrupter::new();
        let first = Fault::Unwritable {
            path: "run/metrics.csv".into(),
            reason: "No space left on device".into(),
        };
        report(&shared, &interrupter, first.clone());
        report(
            &shared,
            &interrupter,
            Fault::Unwritable {
                path: "later".into(),
                reason: "a consequence".into(),
            },
        );
        assert!(interrupter.should_stop());
        assert_eq!(fault(&shared), Some(first));
        assert!(!may_save(&shared, 1, Duration::from_secs(5)));
        // Without a fault an epoch may be saved once its row is written, not before.
        let clean = Shared::default();
        assert!(!may_save(&clean, 1, Duration::from_millis(10)));
        clean.0.lock().unwrap().written = 1;
        assert!(may_save(&clean, 1, Duration::from_secs(5)));
    }
}
