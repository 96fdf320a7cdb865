//! Values every core updates on every event, kept as one copy per thread stripe.
//!
//! A counter that two cores increment on every event moves its cache line between them on
//! every increment, which cost the routed path more than a tenth of its time. Each thread
//! updates its own stripe instead, on a cache line of its own; readers (stats, latency
//! snapshots, `settled`) combine the stripes, which is rare.

use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Stripes per value: threads beyond this share stripes, which is still correct, only
/// slower.
pub(crate) const STRIPES: usize = 16;

/// A value on cache lines of its own (two lines: adjacent-line prefetch pairs them), so
/// writes to its neighbours do not pull it away from the core using it.
#[derive(Debug, Default)]
#[repr(align(128))]
pub(crate) struct Padded<T>(pub(crate) T);

/// `STRIPES` copies of `T`, one per thread stripe.
#[derive(Debug)]
pub(crate) struct Striped<T> {
    stripes: Box<[Padded<T>]>,
}

impl<T: Default> Default for Striped<T> {
    fn default() -> Self {
        Self {
            stripes: (0..STRIPES).map(|_| Padded::default()).collect(),
        }
    }
}

impl<T> Striped<T> {
    /// The calling thread's stripe.
    pub(crate) fn local(&self) -> &T {
        &self.stripes[stripe()].0
    }

    /// Every stripe, to combine them.
    pub(crate) fn all(&self) -> impl Iterator<Item = &T> {
        self.stripes.iter().map(|padded| &padded.0)
    }
}

/// The calling thread's stripe index, given out round-robin on first use, so the runtime's
/// worker threads, started together, get stripes of their own.
fn stripe() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static STRIPE: Cell<usize> = const { Cell::new(usize::MAX) };
    }
    STRIPE.with(|stripe| {
        let index = stripe.get();
        if index != usize::MAX {
            return index;
        }
        let index = NEXT.fetch_add(1, Ordering::Relaxed) % STRIPES;
        stripe.set(index);
        index
    })
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicU64;

    use super::*;

    #[test]
    fn threads_write_their_own_stripe_and_readers_see_every_write() {
        let striped = Striped::<AtomicU64>::default();
        std::thread::scope(|scope| {
            for _ in 0..4 {
                scope.spawn(|| {
                    for _ in 0..1_000 {
                        striped.local().fetch_add(1, Ordering::Relaxed);
                    }
                });
            }
        });
        let per_stripe: Vec<u64> = striped.all().map(|s| s.load(Ordering::Relaxed)).collect();
        assert_eq!(per_stripe.iter().sum::<u64>(), 4_000);
        assert!(
            per_stripe.iter().filter(|&&n| n > 0).count() > 1,
            "the threads shared one stripe: {per_stripe:?}"
        );
    }
}
