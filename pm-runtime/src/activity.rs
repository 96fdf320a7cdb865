//! Counts the work in flight, so `Runtime::settled` can wait for none.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use tokio::sync::Notify;

use crate::striped::Striped;

/// Units of pending work: events on their way to an instance, commands in an outbox, timers
/// being delivered.
///
/// Updated twice per event from whichever core runs it, so each thread counts in its own
/// stripe (see [`Striped`]) and only ever adds: `added` and `done` grow, and the work is
/// settled when their totals are equal. A unit's `done` may land on another stripe than its
/// `added`, which is why a stripe holds two totals rather than one balance. Waiters are woken
/// only when the totals meet, and only if there are any (waking takes a lock).
#[derive(Debug, Default)]
pub(crate) struct Activity {
    tallies: Striped<Tally>,
    /// Callers inside `settled`.
    waiters: AtomicUsize,
    idle: Notify,
}

#[derive(Debug, Default)]
struct Tally {
    added: AtomicU64,
    done: AtomicU64,
}

impl Activity {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    pub(crate) fn add(&self, units: usize) {
        if units > 0 {
            self.tallies
                .local()
                .added
                .fetch_add(units as u64, Ordering::SeqCst);
        }
    }

    pub(crate) fn done(&self, units: usize) {
        if units == 0 {
            return;
        }
        // SeqCst here and in `settled`: of the last `done` and a waiter's arrival, each side
        // must see the other's write, or the waiter would sleep through the end of the work.
        // Of two last `done`s on two cores, the later one sees both.
        self.tallies
            .local()
            .done
            .fetch_add(units as u64, Ordering::SeqCst);
        if self.waiters.load(Ordering::SeqCst) > 0 && self.is_settled() {
            self.idle.notify_waiters();
        }
    }

    /// Whether every unit added so far is done. `done` is read before `added`: a unit seen
    /// done was added before, so its `added` is seen too, and equal totals cannot hide a
    /// unit in flight.
    fn is_settled(&self) -> bool {
        let done: u64 = self
            .tallies
            .all()
            .map(|t| t.done.load(Ordering::SeqCst))
            .sum();
        let added: u64 = (self.tallies.all())
            .map(|t| t.added.load(Ordering::SeqCst))
            .sum();
        debug_assert!(done <= added, "more work done than was added");
        done == added
    }

    pub(crate) async fn settled(&self) {
        self.waiters.fetch_add(1, Ordering::SeqCst);
        // Counted out also when the caller drops this future mid-wait.
        let _waiting = Waiting(&self.waiters);
        loop {
            // Register interest before checking, so a wake-up between the two is not missed.
            let idle = self.idle.notified();
            if self.is_settled() {
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn work_added_on_one_thread_and_done_on_another_settles_once_all_is_done() {
        let activity = Arc::new(Activity::new());
        activity.add(3);
        let waiter = tokio::spawn({
            let activity = Arc::clone(&activity);
            async move { activity.settled().await }
        });
        let done = std::thread::spawn({
            let activity = Arc::clone(&activity);
            move || {
                activity.done(1);
                activity.done(1);
            }
        });
        done.join().unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(
            !waiter.is_finished(),
            "settled with one unit still in flight"
        );
        activity.done(1);
        tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .expect("the waiter is woken when the last unit is done")
            .unwrap();
    }
}
