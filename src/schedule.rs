//! [`MultiStepLrScheduler`]: PyTorch's `MultiStepLR` as a Burn `LrScheduler`
//! (feature `train`). The mixup recipe (lr / 10 at epochs 50 and 100) needs it.
//!
//! Burn 0.22 has no `MultiStepLR`. Its new `SequentialLrScheduler` could chain
//! constant schedulers at the milestones, but it refuses a milestone of 0 and
//! repeated milestones ("greater than zero and strictly increasing"), which
//! PyTorch's `MultiStepLR` accepts (a repeated milestone applies `gamma` twice), and
//! it counts milestones in iterations only. This one keeps PyTorch's semantics, in
//! epochs or iterations.

use burn::config::Config;
use burn::lr_scheduler::{LrScheduler, LrSchedulerRecord};
use burn::optim::LearningRate;

use crate::error::ScheduleError;

/// Configuration of a [`MultiStepLrScheduler`]: the learning rate starts at
/// `initial_lr` and is multiplied by `gamma` at each milestone, as PyTorch's
/// `MultiStepLR`.
///
/// Milestones count epochs when `iterations_per_epoch` is set to the number of
/// batches per epoch (Burn steps a scheduler once per iteration), iterations when it
/// is 1 (the default). They may come in any order; a milestone given twice applies
/// `gamma` twice, as PyTorch's.
///
/// ```
/// use burn_mixup::MultiStepLrSchedulerConfig;
///
/// // The mixup recipe: lr 0.1, divided by 10 at epochs 50 and 100, 391 batches an epoch.
/// let scheduler = MultiStepLrSchedulerConfig::new(0.1, vec![50, 100])
///     .with_iterations_per_epoch(391)
///     .init()?;
/// assert_eq!(scheduler.lr_at(391 * 50 - 1), 0.1);
/// assert!((scheduler.lr_at(391 * 50) - 0.01).abs() < 1e-15);
/// # Ok::<(), burn_mixup::ScheduleError>(())
/// ```
#[derive(Config, Debug)]
pub struct MultiStepLrSchedulerConfig {
    /// The learning rate before the first milestone; finite and > 0.
    pub initial_lr: LearningRate,
    /// When to multiply the learning rate by `gamma`, in epochs (see
    /// `iterations_per_epoch`).
    pub milestones: Vec<usize>,
    /// The factor applied at each milestone; finite and > 0.
    #[config(default = 0.1)]
    pub gamma: f64,
    /// Iterations (scheduler steps) per epoch; >= 1.
    #[config(default = 1)]
    pub iterations_per_epoch: usize,
}

impl MultiStepLrSchedulerConfig {
    /// Validates the configuration and builds the scheduler.
    ///
    /// # Errors
    /// [`ScheduleError::InvalidLearningRate`], [`ScheduleError::InvalidGamma`],
    /// [`ScheduleError::ZeroIterationsPerEpoch`].
    ///
    /// ```
    /// use burn_mixup::{MultiStepLrSchedulerConfig, ScheduleError};
    /// let err = MultiStepLrSchedulerConfig::new(-0.1, vec![10]).init().unwrap_err();
    /// assert_eq!(err, ScheduleError::InvalidLearningRate(-0.1));
    /// ```
    pub fn init(&self) -> Result<MultiStepLrScheduler, ScheduleError> {
        if !(self.initial_lr.is_finite() && self.initial_lr > 0.0) {
            return Err(ScheduleError::InvalidLearningRate(self.initial_lr));
        }
        if !(self.gamma.is_finite() && self.gamma > 0.0) {
            return Err(ScheduleError::InvalidGamma(self.gamma));
        }
        if self.iterations_per_epoch == 0 {
            return Err(ScheduleError::ZeroIterationsPerEpoch);
        }
        let mut milestones = self.milestones.clone();
        milestones.sort_unstable();
        Ok(MultiStepLrScheduler {
            initial_lr: self.initial_lr,
            milestones,
            gamma: self.gamma,
            iterations_per_epoch: self.iterations_per_epoch,
            iteration: 0,
        })
    }
}

/// PyTorch's `MultiStepLR`, stepped once per iteration by burn-train. Its record
/// (Burn 0.22's named-scalar [`LrSchedulerRecord`]) holds the iterations done under
/// the key `"iteration"`, so a resumed run continues the schedule.
///
/// Relation to Burn's schedulers: it is a plain [`LrScheduler`], so it goes wherever
/// Burn's do (`Learner::new(model, optim, scheduler)` takes it through
/// `Into<ModuleLrScheduler>`, and it composes in a `ModuleLrScheduler` group).
/// Unlike Burn 0.22's `SequentialLrScheduler` it accepts milestones at 0, repeated
/// milestones and milestones in any order, as PyTorch's `MultiStepLR` does.
///
/// ```
/// use burn::lr_scheduler::LrScheduler;
/// use burn_mixup::MultiStepLrSchedulerConfig;
///
/// let mut scheduler = MultiStepLrSchedulerConfig::new(1.0, vec![2]).with_gamma(0.5).init()?;
/// let lrs: Vec<f64> = (0..4).map(|_| scheduler.step()).collect();
/// assert_eq!(lrs, vec![1.0, 1.0, 0.5, 0.5]);
/// # Ok::<(), burn_mixup::ScheduleError>(())
/// ```
#[derive(Clone, Debug)]
pub struct MultiStepLrScheduler {
    initial_lr: LearningRate,
    /// Sorted.
    milestones: Vec<usize>,
    gamma: f64,
    iterations_per_epoch: usize,
    /// Iterations stepped so far.
    iteration: usize,
}

impl MultiStepLrScheduler {
    /// The learning rate of iteration `iteration` (0-based):
    /// `initial_lr * gamma^(milestones <= iteration / iterations_per_epoch)`.
    ///
    /// ```
    /// use burn_mixup::MultiStepLrSchedulerConfig;
    /// let scheduler = MultiStepLrSchedulerConfig::new(0.1, vec![3, 1]).with_gamma(0.5).init()?;
    /// assert_eq!((scheduler.lr_at(0), scheduler.lr_at(1), scheduler.lr_at(3)), (0.1, 0.05, 0.025));
    /// # Ok::<(), burn_mixup::ScheduleError>(())
    /// ```
    pub fn lr_at(&self, iteration: usize) -> LearningRate {
        let epoch = iteration / self.iterations_per_epoch;
        let passed = self.milestones.partition_point(|&m| m <= epoch);
        self.initial_lr * self.gamma.powi(passed as i32)
    }
}

/// The record key of the iteration count.
const ITERATION: &str = "iteration";

impl MultiStepLrScheduler {
    /// Loads a record written by [`LrScheduler::to_record`], or says why it cannot.
    /// ([`LrScheduler::load_record`] cannot return an error: like Burn's own
    /// schedulers it leaves the state unchanged when the record is not one of ours.)
    ///
    /// # Errors
    /// [`ScheduleError::ForeignRecord`] when the record has no `"iteration"` count.
    ///
    /// ```
    /// use burn::lr_scheduler::{LrScheduler, LrSchedulerRecord};
    /// use burn_mixup::{MultiStepLrSchedulerConfig, ScheduleError};
    ///
    /// let config = MultiStepLrSchedulerConfig::new(1.0, vec![1]);
    /// let mut first = config.init()?;
    /// first.step();
    /// let mut resumed = config.init()?;
    /// resumed.try_load_record(first.to_record())?;
    /// assert_eq!(resumed.step(), first.step());
    /// let foreign = LrSchedulerRecord::new().with_scalar("iter_idx", 3i32);
    /// assert_eq!(resumed.try_load_record(foreign), Err(ScheduleError::ForeignRecord));
    /// # Ok::<(), ScheduleError>(())
    /// ```
    pub fn try_load_record(&mut self, record: LrSchedulerRecord) -> Result<(), ScheduleError> {
        let iteration = record
            .scalar::<u64>(ITERATION)
            .ok_or(ScheduleError::ForeignRecord)?;
        self.iteration = iteration as usize;
        Ok(())
    }
}

impl LrScheduler for MultiStepLrScheduler {
    fn step(&mut self) -> LearningRate {
        let lr = self.lr_at(self.iteration);
        self.iteration += 1;
        lr
    }

    fn to_record(&self) -> LrSchedulerRecord {
        LrSchedulerRecord::new().with_scalar(ITERATION, self.iteration as u64)
    }

    fn load_record(&mut self, record: LrSchedulerRecord) {
        // A foreign record leaves the schedule where it is (Burn's convention);
        // `try_load_record` reports it.
        let _ = self.try_load_record(record);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// PyTorch's `MultiStepLR(opt, milestones=[2, 5, 5], gamma=0.1)` over 8 epochs:
    /// bisect_right counts milestones <= epoch; the repeated 5 applies gamma twice.
    #[test]
    fn follows_pytorch_multistep_semantics() {
        let mut scheduler = MultiStepLrSchedulerConfig::new(1.0, vec![5, 2, 5])
            .init()
            .unwrap();
        let lrs: Vec<f64> = (0..8).map(|_| scheduler.step()).collect();
        let expected = [1.0, 1.0, 0.1, 0.1, 0.1, 0.001, 0.001, 0.001];
        for (lr, want) in lrs.iter().zip(expected) {
            assert!((lr - want).abs() < 1e-15, "{lrs:?}");
        }
    }

    #[test]
    fn epochs_count_iterations_per_epoch() {
        let scheduler = MultiStepLrSchedulerConfig::new(0.1, vec![1])
            .with_iterations_per_epoch(3)
            .init()
            .unwrap();
        assert_eq!(
            (0..6).map(|i| scheduler.lr_at(i)).collect::<Vec<_>>(),
            vec![0.1, 0.1, 0.1, 0.1 * 0.1, 0.1 * 0.1, 0.1 * 0.1]
        );
    }

    #[test]
    fn a_loaded_record_continues_the_schedule() {
        let config = MultiStepLrSchedulerConfig::new(0.5, vec![2, 4]).with_iterations_per_epoch(2);
        let mut straight = config.init().unwrap();
        let mut first = config.init().unwrap();
        for _ in 0..5 {
            straight.step();
            first.step();
        }
        let record = first.to_record();
        let mut resumed = config.init().unwrap();
        resumed.load_record(record);
        for _ in 0..6 {
            assert_eq!(resumed.step(), straight.step());
        }
    }

    #[test]
    fn bad_configs_are_typed_errors() {
        let err = |c: MultiStepLrSchedulerConfig| c.init().unwrap_err();
        for lr in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            assert!(matches!(
                err(MultiStepLrSchedulerConfig::new(lr, vec![])),
                ScheduleError::InvalidLearningRate(_)
            ));
        }
        assert_eq!(
            err(MultiStepLrSchedulerConfig::new(0.1, vec![]).with_gamma(0.0)),
            ScheduleError::InvalidGamma(0.0)
        );
        assert_eq!(
            err(MultiStepLrSchedulerConfig::new(0.1, vec![]).with_iterations_per_epoch(0)),
            ScheduleError::ZeroIterationsPerEpoch
        );
    }
}
