//! Counts the work in flight, so `Runtime::settled` can wait for none.

use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::Notify;

/// Units of pending work: events on their way to an instance, commands in an outbox, timers
/// being delivered. Updated on every event, so it is a bare atomic; waiters are woken only
/// when the count reaches zero, and only if there are any (waking takes a lock, and the
/// count reaches zero after every event when publishes do not overlap).
#[derive(Debug, Default)]
pub(crate) struct Activity {
    pending: AtomicUsize,
    /// Callers inside `settled`.
    waiters: AtomicUsize,
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
        // SeqCst here and in `settled`: of the decrement to zero and a waiter's arrival, each
        // side must see the other's write, or the waiter would sleep through the zero.
        let before = self.pending.fetch_sub(units, Ordering::SeqCst);
        debug_assert!(before >= units, "activity count went negative");
        if before == units && self.waiters.load(Ordering::SeqCst) > 0 {
            self.idle.notify_waiters();
        }
    }

    pub(crate) async fn settled(&self) {
        self.waiters.fetch_add(1, Ordering::SeqCst);
        // Counted out also when the caller drops this future mid-wait.
        let _waiting = Waiting(&self.waiters);
        loop {
            // Register interest before checking, so a wake-up between the two is not missed.
            let idle = self.idle.notified();
            if self.pending.load(Ordering::SeqCst) == 0 {
                return;
            }
            idle.await;
        }
    }
}

struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}
