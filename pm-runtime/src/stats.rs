//! Runtime-wide counters.
//!
//! Every event bumps a few of them from whichever core runs it, so each thread counts in a
//! stripe of its own (see [`Striped`]) and a snapshot adds the stripes up.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::striped::Striped;

macro_rules! counters {
    ($($(#[$doc:meta])* $name:ident),* $(,)?) => {
        /// A snapshot of the runtime's counters since it started.
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
        #[non_exhaustive]
        pub struct Stats {
            $($(#[$doc])* pub $name: u64,)*
            /// The longest outbox any instance has held (a high-water mark, not a count).
            pub outbox_peak: u64,
        }

        /// One thread stripe of the counts.
        #[derive(Debug, Default)]
        pub(crate) struct Counts {
            $(pub(crate) $name: AtomicU64,)*
        }

        impl Counters {
            pub(crate) fn snapshot(&self) -> Stats {
                let mut stats = Stats {
                    outbox_peak: self.outbox_peak.load(Ordering::Relaxed),
                    ..Stats::default()
                };
                for stripe in self.stripes.all() {
                    $(stats.$name += stripe.$name.load(Ordering::Relaxed);)*
                }
                stats
            }
        }
    };
}

/// The live counters of one runtime.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    stripes: Striped<Counts>,
    outbox_peak: AtomicU64,
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
}

impl Counters {
    /// The calling thread's stripe, to [`Counters::bump`] one of its counts.
    pub(crate) fn local(&self) -> &Counts {
        self.stripes.local()
    }

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
