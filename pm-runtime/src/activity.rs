//! Counts the work in flight, so `Runtime::settled` can wait for none.

use tokio::sync::watch;

/// Units of pending work: events on their way to an instance, commands in an outbox.
#[derive(Debug)]
pub(crate) struct Activity {
    pending: watch::Sender<usize>,
}

impl Activity {
    pub(crate) fn new() -> Self {
        Self {
            pending: watch::Sender::new(0),
        }
    }

    pub(crate) fn add(&self, units: usize) {
        if units > 0 {
            self.pending.send_modify(|n| *n += units);
        }
    }

    pub(crate) fn done(&self, units: usize) {
        if units > 0 {
            self.pending.send_modify(|n| *n = n.saturating_sub(units));
        }
    }

    pub(crate) async fn settled(&self) {
        let mut rx = self.pending.subscribe();
        // `wait_for` only fails when the sender is gone, and `self` owns it.
        let _ = rx.wait_for(|n| *n == 0).await;
    }
}
