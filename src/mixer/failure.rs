//! A batch that failed inside `Batcher::batch`, kept where the training loop can see
//! it.
//!
//! `Batcher::batch` cannot return an error, so the mixing batchers panic with the
//! [`MixError`]'s message. Without workers that panic reaches the training loop. With
//! workers it does not: Burn 0.22.1's multi-threaded `DataLoader` ends the epoch when
//! its worker threads are gone (`burn-core` `dataloader/multithread.rs`: a closed
//! channel is the end of the iteration), so a bad batch would silently shorten the
//! epoch. The mixer, shared by the batcher and the loop's handle on it, keeps the
//! first error instead.

use std::sync::{Arc, Mutex};

use super::Mixer;
use crate::error::MixError;

/// The first error of the batchers of one mixer and its clones.
pub(crate) type Failure = Arc<Mutex<Option<MixError>>>;

impl Mixer {
    /// The first error a batcher of this mixer (or of any clone of it) hit in
    /// `Batcher::batch`: a bad label or map pixel, a size mismatch. Check it after
    /// each epoch when the loader has workers: Burn's multi-threaded `DataLoader`
    /// ends the epoch early, without an error, when a worker panics.
    ///
    /// ```
    /// use burn::data::dataloader::DataLoaderBuilder;
    /// use burn::data::dataloader::batcher::Batcher;
    /// use burn::data::dataset::InMemDataset;
    /// use burn::tensor::{Device, Int, Tensor};
    /// use burn_mixup::{MixConfig, MixError, MixedBatch, MixupBatcher};
    ///
    /// #[derive(Clone)]
    /// struct Rows;
    /// impl Batcher<i64, (Tensor<2>, Tensor<1, Int>)> for Rows {
    ///     fn batch(&self, items: Vec<i64>, device: &Device) -> (Tensor<2>, Tensor<1, Int>) {
    ///         (Tensor::zeros([items.len(), 3], device), Tensor::from_ints(items.as_slice(), device))
    ///     }
    /// }
    /// let mixer = MixConfig::mixup(1.0).init()?;
    /// let handle = mixer.clone();
    /// let batcher = MixupBatcher::new(Rows, mixer).with_num_classes(3);
    /// let loader = DataLoaderBuilder::new(batcher)
    ///     .batch_size(2)
    ///     .num_workers(2)
    ///     .set_device(Device::flex())
    ///     .build(InMemDataset::new(vec![0, 1, 2, 7]));
    /// # let hook = std::panic::take_hook();
    /// # std::panic::set_hook(Box::new(|_| {})); // keep the workers' panics off the doctest's output
    /// let batches: Vec<MixedBatch<2>> = loader.iter().filter_map(Result::ok).collect();
    /// # std::panic::set_hook(hook);
    /// assert!(batches.len() < 2); // the epoch ended early...
    /// assert_eq!(handle.failure(), // ...and the mixer says why
    ///            Some(MixError::TargetOutOfRange { position: 1, value: 7, num_classes: 3 }));
    /// # Ok::<(), MixError>(())
    /// ```
    pub fn failure(&self) -> Option<MixError> {
        self.failure
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Keeps `error` (unless an earlier one is kept) and panics with its message,
    /// naming the batcher: what every mixing batcher's `Batcher::batch` does on an
    /// error.
    pub(crate) fn fail(&self, batcher: &str, error: MixError) -> ! {
        let message = format!("{batcher}: {error}");
        self.failure
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get_or_insert(error);
        panic!("{message}")
    }
}
