//! Counter-based randomness: the draw of batch `n` is a pure function of
//! `(seed, stream, n)`.
//!
//! Nothing else is kept, so a mixer needs no lock (it works through `&self` from
//! Burn's `Batcher`, shared by loader threads), and a run resumes by saying which
//! draw comes next ([`Mixer::resume_at`](crate::Mixer::resume_at)), whatever the
//! data loader prefetched before it stopped.

use std::sync::atomic::{AtomicU64, Ordering};

use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};

/// SplitMix64's finaliser: a bijective 64-bit mixer.
fn mix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The generator of draw `index` of stream `stream` of run `seed`.
pub(crate) fn draw_rng(seed: u64, stream: u64, index: u64) -> Xoshiro256PlusPlus {
    let key = mix64(mix64(mix64(seed) ^ stream).wrapping_add(index));
    Xoshiro256PlusPlus::seed_from_u64(key)
}

/// The seed (resolved once) and the index of the next draw.
#[derive(Debug)]
pub(crate) struct DrawCounter {
    seed: u64,
    next: AtomicU64,
}

impl DrawCounter {
    /// `None` takes a seed from the operating system, once, so that it can be
    /// reported and recorded.
    pub(crate) fn new(seed: Option<u64>) -> Self {
        Self {
            seed: seed.unwrap_or_else(|| rand::rng().random()),
            next: AtomicU64::new(0),
        }
    }

    pub(crate) fn seed(&self) -> u64 {
        self.seed
    }

    /// Takes the next draw index.
    pub(crate) fn take(&self) -> u64 {
        self.next.fetch_add(1, Ordering::Relaxed)
    }

    pub(crate) fn next(&self) -> u64 {
        self.next.load(Ordering::Relaxed)
    }

    pub(crate) fn set_next(&self, index: u64) {
        self.next.store(index, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    #[test]
    fn draws_depend_on_seed_stream_and_index_only() {
        let a = draw_rng(3, 0, 5).next_u64();
        assert_eq!(a, draw_rng(3, 0, 5).next_u64());
        assert_ne!(a, draw_rng(3, 0, 6).next_u64());
        assert_ne!(a, draw_rng(3, 1, 5).next_u64());
        assert_ne!(a, draw_rng(4, 0, 5).next_u64());
    }

    #[test]
    fn counter_takes_in_order_and_resumes() {
        let counter = DrawCounter::new(Some(1));
        assert_eq!((counter.take(), counter.take(), counter.next()), (0, 1, 2));
        counter.set_next(10);
        assert_eq!(counter.take(), 10);
        assert_eq!(counter.seed(), 1);
    }

    #[test]
    fn mix64_is_not_identity() {
        assert_ne!(mix64(0), 0);
        assert_ne!(mix64(1), mix64(2));
    }
}
