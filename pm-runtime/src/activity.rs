//! Counts the work in flight, so `Runtime::settled` can wait for none.

use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::Notify;

/// Units of pending work: events on their way to an instance, commands in an outbox, timers
/// being delivered. Updated on every event, so it is a bare atomic; waiters are woken only
/// when the count reaches zero.
#[derive(Debug, Default)]
pub(crate) struct Activity {
    pending: AtomicUsize,
    idle: Notify,
}

impl Activity {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    pub(crate) fn add(&self, units: usize) {
        if units > 0 {
            self.pending.fetch_add(units, Ordering::AcqRel);
        }
    }

    pub(crate) fn done(&self, units: usize) {
        if units == 0 {
            return;
        }
        let before = self.pending.fetch_sub(units, Ordering::AcqRel);
        debug_assert!(before >= units, "activity count went negative");
        if before == units {
            self.idle.notify_waiters();
        }
    }

    pub(crate) async fn settled(&self) {
        loop {
            // Register interest before checking, so a wake-up between the two is not missed.
            let idle = self.idle.notified();
            if self.pending.load(Ordering::Acquire) == 0 {
                return;
            }
            idle.await;
        }
    }
}
