//! The runtime's clock: wall time for timeouts, or a manual clock that tests advance.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::watch;

/// A future returned by [`Clock::sleep_until`].
pub type Sleep = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// Where the runtime reads the time for durable timeouts and dead-letter records.
///
/// Times are milliseconds since the Unix epoch so they can be stored and compared across
/// restarts. [`SystemClock`] is the default; [`ManualClock`] lets tests jump ahead.
pub trait Clock: Send + Sync + 'static {
    /// Now, in milliseconds since the Unix epoch.
    fn now_ms(&self) -> u64;
    /// Completes once [`Clock::now_ms`] has reached `at_ms`.
    fn sleep_until(&self, at_ms: u64) -> Sleep;
    /// The time a commit is stamped with (`updated_at_ms`, what
    /// [`Runtime::purge_finished`](crate::Runtime::purge_finished) and the inspector read):
    /// a record, not a deadline, so it may lag [`Clock::now_ms`] by a few milliseconds.
    /// Defaults to [`Clock::now_ms`]; timeouts are always due from `now_ms`.
    fn stamp_ms(&self) -> u64 {
        self.now_ms()
    }
}

/// The wall clock, slept on with tokio's timer.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64)
    }

    fn sleep_until(&self, at_ms: u64) -> Sleep {
        let wait = at_ms.saturating_sub(self.now_ms());
        Box::pin(tokio::time::sleep(Duration::from_millis(wait)))
    }

    /// On Linux, the kernel's coarse wall clock: the time of the last scheduler tick, so it
    /// lags by at most one tick (1 to 4 ms). A precise read asks the hypervisor's clock
    /// source on a VM (30 ns on the machine of the README's figures) and every handled event
    /// stamps its commit; the coarse one reads a word the kernel keeps.
    #[cfg(target_os = "linux")]
    fn stamp_ms(&self) -> u64 {
        let now = rustix::time::clock_gettime(rustix::time::ClockId::RealtimeCoarse);
        u64::try_from(now.tv_sec).map_or(0, |secs| {
            secs * 1_000 + u64::try_from(now.tv_nsec).unwrap_or(0) / 1_000_000
        })
    }
}

/// A clock that only moves when told to: timeouts fire on [`ManualClock::advance`], without
/// waiting. Clones share the same time.
///
/// ```
/// use std::time::Duration;
/// use pm_runtime::{Clock, ManualClock};
///
/// let clock = ManualClock::new(1_000);
/// clock.advance(Duration::from_secs(2));
/// assert_eq!(clock.now_ms(), 3_000);
/// ```
#[derive(Clone)]
pub struct ManualClock {
    now: Arc<watch::Sender<u64>>,
}

impl ManualClock {
    /// A clock reading `start_ms`.
    pub fn new(start_ms: u64) -> Self {
        Self {
            now: Arc::new(watch::Sender::new(start_ms)),
        }
    }

    /// Moves the time forward, firing whatever falls due.
    pub fn advance(&self, by: Duration) {
        let by = by.as_millis() as u64;
        self.now.send_modify(|now| *now = now.saturating_add(by));
    }

    /// Sets the time; it never moves backwards.
    pub fn set(&self, at_ms: u64) {
        self.now.send_modify(|now| *now = (*now).max(at_ms));
    }
}

impl Default for ManualClock {
    /// Starts at the current wall time, so stored times look plausible.
    fn default() -> Self {
        Self::new(SystemClock.now_ms())
    }
}

impl fmt::Debug for ManualClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ManualClock")
            .field("now_ms", &*self.now.borrow())
            .finish()
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> u64 {
        *self.now.borrow()
    }

    fn sleep_until(&self, at_ms: u64) -> Sleep {
        let mut rx = self.now.subscribe();
        Box::pin(async move {
            // The sender lives as long as any clone of the clock; if all are gone the time
            // can never reach `at_ms`, so waiting forever is the honest answer.
            if rx.wait_for(|now| *now >= at_ms).await.is_err() {
                std::future::pending::<()>().await;
            }
        })
    }
}

impl<C: Clock + ?Sized> Clock for Arc<C> {
    fn now_ms(&self) -> u64 {
        (**self).now_ms()
    }

    fn stamp_ms(&self) -> u64 {
        (**self).stamp_ms()
    }
    fn sleep_until(&self, at_ms: u64) -> Sleep {
        (**self).sleep_until(at_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wall_clocks_stamp_lags_by_at_most_a_tick_and_never_leads() {
        for _ in 0..1_000 {
            let before = SystemClock.now_ms();
            let stamp = SystemClock.stamp_ms();
            let after = SystemClock.now_ms();
            assert!(stamp <= after, "stamp {stamp} ahead of {after}");
            // A scheduler tick is 1 to 10 ms (HZ 1000 to 100).
            assert!(
                stamp + 10 >= before,
                "stamp {stamp} lags {before} by more than a tick"
            );
        }
    }
}
