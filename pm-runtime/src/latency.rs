//! Latency histograms: how long events take to handle and commands to dispatch.
//!
//! Power-of-two buckets of nanoseconds, each an atomic counter: recording is one relaxed
//! increment of the calling thread's copy, with no lock and no allocation, so it stays on
//! the hot path. A quantile is known to within a factor of two, which is what a latency
//! histogram is read for (is p99 a millisecond or a second?).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::striped::Striped;

/// Buckets: bucket `i` holds durations below `2^i` ns (and at least `2^(i-1)` ns); the last
/// one, everything from about 4.6 minutes up.
const BUCKETS: usize = 39;

/// The live histogram a runtime records into: one set of buckets per thread stripe, since
/// every event records into it from whichever core ran it (see [`Striped`]).
#[derive(Debug, Default)]
pub(crate) struct Histogram {
    stripes: Striped<Buckets>,
}

#[derive(Debug)]
struct Buckets([AtomicU64; BUCKETS]);

impl Default for Buckets {
    fn default() -> Self {
        Self(std::array::from_fn(|_| AtomicU64::new(0)))
    }
}

impl Histogram {
    pub(crate) fn record(&self, elapsed: Duration) {
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        let bucket = (u64::BITS - nanos.leading_zeros()) as usize;
        self.stripes.local().0[bucket.min(BUCKETS - 1)].fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> LatencyHistogram {
        let mut counts = [0; BUCKETS];
        for stripe in self.stripes.all() {
            for (count, bucket) in counts.iter_mut().zip(&stripe.0) {
                *count += bucket.load(Ordering::Relaxed);
            }
        }
        LatencyHistogram { counts }
    }
}

/// A snapshot of one latency histogram since the runtime started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LatencyHistogram {
    counts: [u64; BUCKETS],
}

impl LatencyHistogram {
    /// Durations recorded.
    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// The `q` quantile (`0.5` for the median, `0.99` for p99) as the upper bound of its
    /// bucket, so the true value is at most this and more than half of it; `None` before
    /// anything was recorded. `q` is clamped to `0.0..=1.0`.
    pub fn quantile(&self, q: f64) -> Option<Duration> {
        let total = self.count();
        if total == 0 {
            return None;
        }
        // The rank of the quantile, 1-based: the smallest bucket whose running count reaches it.
        let rank = ((q.clamp(0.0, 1.0) * total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return Some(Duration::from_nanos(1u64 << i));
            }
        }
        Some(Duration::MAX)
    }

    /// `(upper bound, count)` of every non-empty bucket, shortest first: bucket `(b, n)` holds
    /// `n` durations of at least `b / 2` and below `b`.
    pub fn buckets(&self) -> impl Iterator<Item = (Duration, u64)> + '_ {
        self.counts
            .iter()
            .enumerate()
            .filter(|(_, count)| **count > 0)
            .map(|(i, count)| (Duration::from_nanos(1u64 << i), *count))
    }
}

/// The runtime's latency histograms, from [`Runtime::latencies`](crate::Runtime::latencies).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Latencies {
    /// From an instance taking an event out of its mailbox to its commit (handler, retries
    /// and store included): one per delivered event.
    pub event: LatencyHistogram,
    /// One dispatch attempt of one command, from the call to the dispatcher's answer.
    pub dispatch: LatencyHistogram,
}

/// The live histograms of one runtime.
#[derive(Debug, Default)]
pub(crate) struct Recorders {
    pub(crate) event: Histogram,
    pub(crate) dispatch: Histogram,
}

impl Recorders {
    pub(crate) fn snapshot(&self) -> Latencies {
        Latencies {
            event: self.event.snapshot(),
            dispatch: self.dispatch.snapshot(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_fall_in_the_right_power_of_two_bucket() {
        let h = Histogram::default();
        assert_eq!(h.snapshot().quantile(0.5), None);
        for _ in 0..90 {
            h.record(Duration::from_micros(3)); // 3,000 ns: below 4,096
        }
        for _ in 0..10 {
            h.record(Duration::from_millis(5)); // 5,000,000 ns: below 8,388,608
        }
        let s = h.snapshot();
        assert_eq!(s.count(), 100);
        assert_eq!(s.quantile(0.5), Some(Duration::from_nanos(4_096)));
        assert_eq!(s.quantile(0.90), Some(Duration::from_nanos(4_096)));
        assert_eq!(s.quantile(0.91), Some(Duration::from_nanos(8_388_608)));
        assert_eq!(s.quantile(1.0), Some(Duration::from_nanos(8_388_608)));
        let buckets: Vec<_> = s.buckets().collect();
        assert_eq!(
            buckets,
            [
                (Duration::from_nanos(4_096), 90),
                (Duration::from_nanos(8_388_608), 10)
            ]
        );
    }

    #[test]
    fn zero_and_huge_durations_are_counted() {
        let h = Histogram::default();
        h.record(Duration::ZERO);
        h.record(Duration::from_secs(86_400 * 365));
        let s = h.snapshot();
        assert_eq!(s.count(), 2);
        assert_eq!(s.quantile(0.0), Some(Duration::from_nanos(1)));
        assert_eq!(
            s.quantile(1.0),
            Some(Duration::from_nanos(1 << (BUCKETS - 1)))
        );
    }
}
