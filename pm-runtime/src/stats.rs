//! Runtime-wide counters.

use std::sync::atomic::{AtomicU64, Ordering};

macro_rules! counters {
    ($($(#[$doc:meta])* $name:ident),* $(,)?) => {
        /// A snapshot of the runtime's counters since it started.
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
        #[non_exhaustive]
        pub struct Stats {
            $($(#[$doc])* pub $name: u64,)*
        }

        #[derive(Debug, Default)]
        pub(crate) struct Counters {
            $(pub(crate) $name: AtomicU64,)*
        }

        impl Counters {
            pub(crate) fn snapshot(&self) -> Stats {
                Stats { $($name: self.$name.load(Ordering::Relaxed),)* }
            }
        }
    };
}

counters! {
    /// Events handled and committed.
    handled,
    /// Events skipped because the instance had already handled their id.
    duplicates,
    /// Events dropped because their instance did not exist (missing policy `ignore`).
    ignored_missing,
    /// Events dropped because their instance had finished or was finishing.
    ignored_finished,
    /// Events refused by a routing rule.
    refused,
    /// Handler runs that returned an error or panicked.
    handler_failures,
    /// Instances started.
    started,
    /// Commands the command side accepted.
    commands_dispatched,
    /// Dispatch attempts that failed.
    command_failures,
    /// Dispatch attempts scheduled again after a transient failure.
    command_retries,
    /// Sagas that aborted and began compensating.
    aborted,
    /// Instances that completed normally.
    completed,
    /// Instances that completed by compensation.
    compensated,
    /// Instances parked for an operator.
    parked,
    /// Parked instances an operator resumed (retried or skipped).
    resumed,
    /// Events held by a parked instance until it is resumed.
    stashed,
    /// Timeouts delivered to their instance.
    timers_fired,
    /// Idle instances dropped from memory (reloaded on their next event).
    passivated,
    /// Idle instance tasks that ended with their instance kept asleep in memory (woken,
    /// without a store read, by its next request).
    hibernated,
    /// Published events delivered on the publisher's own task because nothing was running
    /// their instance (asleep or not in memory): no instance task was woken for them.
    handled_inline,
    /// The longest outbox any instance has held (a high-water mark, not a count).
    outbox_peak,
}

impl Counters {
    pub(crate) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn note_outbox(&self, len: usize) {
        // A read first: the peak rarely moves, and a read shares the cache line between cores
        // where a read-modify-write would bounce it on every commit.
        let len = len as u64;
        if len > self.outbox_peak.load(Ordering::Relaxed) {
            self.outbox_peak.fetch_max(len, Ordering::Relaxed);
        }
    }
}
