//! Explicit, seedable and resumable randomness for the mixers.
//!
//! Each draw (one batch) gets its own generator, seeded from the run's seed and the
//! draw's index. The whole state is therefore two integers, [`RngState`], that a
//! checkpoint can store and restore exactly, and the mixers need no lock: a counter
//! is atomically incremented, so they work through `&self` from Burn's `Batcher`
//! and `TrainStep` and from several data-loader workers at once.
//!
//! Clones of a mixer share this state (it sits behind an `Arc`): keep a clone as a
//! handle to checkpoint, restore or schedule the copy that a `DataLoader` owns.
//! With several loader workers the batches are drawn in the order the workers ask,
//! so bit-exact replays need one worker (or mixing inside the training step).

use std::sync::atomic::{AtomicU64, Ordering};

use burn::serde::{Deserialize, Serialize};
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};

/// The complete random state of a mixer: its seed and how many batches it has drawn.
///
/// Store it in a checkpoint with [`Mixup::rng_state`](crate::Mixup::rng_state) and
/// put it back with [`Mixup::set_rng_state`](crate::Mixup::set_rng_state): the resumed
/// run draws exactly what the uninterrupted one would have.
///
/// ```
/// use burn_mixup::{MixupConfig, RngState};
///
/// let mixup = MixupConfig::new().with_seed(Some(7)).init()?;
/// mixup.sample(4);
/// assert_eq!(mixup.rng_state(), RngState { seed: 7, draws: 1 });
/// # Ok::<(), burn_mixup::MixupError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(crate = "burn::serde")]
pub struct RngState {
    /// The seed of the run.
    pub seed: u64,
    /// Number of batches drawn so far.
    pub draws: u64,
}

/// SplitMix64's finaliser: a bijective 64-bit mixer.
fn mix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A counter-based source of per-batch generators.
#[derive(Debug)]
pub(crate) struct DrawCounter {
    seed: AtomicU64,
    draws: AtomicU64,
}

impl DrawCounter {
    /// `None` takes a seed from the operating system, once, so that
    /// [`state`](Self::state) can still record it.
    pub(crate) fn new(seed: Option<u64>) -> Self {
        let seed = seed.unwrap_or_else(|| rand::rng().random());
        Self::from_state(RngState { seed, draws: 0 })
    }

    /// The generator of the next draw.
    pub(crate) fn next_rng(&self) -> Xoshiro256PlusPlus {
        let draw = self.draws.fetch_add(1, Ordering::Relaxed);
        let seed = self.seed.load(Ordering::Relaxed);
        Xoshiro256PlusPlus::seed_from_u64(mix64(mix64(seed).wrapping_add(draw)))
    }

    pub(crate) fn state(&self) -> RngState {
        RngState {
            seed: self.seed.load(Ordering::Relaxed),
            draws: self.draws.load(Ordering::Relaxed),
        }
    }

    pub(crate) fn from_state(state: RngState) -> Self {
        Self {
            seed: AtomicU64::new(state.seed),
            draws: AtomicU64::new(state.draws),
        }
    }

    /// Puts a saved state back. Meant for before the draws resume: a draw racing
    /// with it may see the new seed with the old count.
    pub(crate) fn restore(&self, state: RngState) {
        self.seed.store(state.seed, Ordering::Relaxed);
        self.draws.store(state.draws, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    #[test]
    fn same_state_same_stream_and_draws_differ() {
        let a = DrawCounter::new(Some(3));
        let b = DrawCounter::from_state(RngState { seed: 3, draws: 0 });
        let first = a.next_rng().next_u64();
        assert_eq!(first, b.next_rng().next_u64());
        assert_ne!(first, a.next_rng().next_u64());
        assert_eq!(a.state(), RngState { seed: 3, draws: 2 });
    }

    #[test]
    fn mix64_is_not_identity() {
        assert_ne!(mix64(0), 0);
        assert_ne!(mix64(1), mix64(2));
    }
}
