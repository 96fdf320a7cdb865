//! What every process-manager host and instance of one runtime shares.

use std::sync::Arc;
use std::time::Duration;

use crate::activity::Activity;
use crate::clock::Clock;
use crate::dispatch::{ErasedDispatcher, RetryPolicy};
use crate::stats::Counters;
use crate::store::Store;
use crate::timers::TimerWheel;

/// Tunables fixed when the runtime starts.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    /// Capacity of each instance's mailbox; a full mailbox makes publishers wait.
    pub(crate) mailbox_capacity: usize,
    /// Commands an instance may hold unsent before it stops taking events.
    pub(crate) max_outbox: usize,
    /// How failing handlers are retried before their instance is parked.
    pub(crate) handler_retry: RetryPolicy,
    /// How long an instance may sit idle in memory before it is passivated.
    pub(crate) idle_timeout: Duration,
    /// How long an instance's task may sit idle before it ends, leaving the instance asleep
    /// in its host's registry (see `RuntimeBuilder::hibernate_after`).
    pub(crate) hibernate_after: Duration,
}

impl Config {
    /// Whether idle tasks hibernate before their instance is passivated.
    pub(crate) fn hibernates(&self) -> bool {
        self.hibernate_after < self.idle_timeout
    }
}

pub(crate) struct Shared {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) dispatcher: Arc<dyn ErasedDispatcher>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) activity: Arc<Activity>,
    pub(crate) timers: Arc<TimerWheel>,
    pub(crate) counters: Counters,
    pub(crate) latencies: crate::latency::Recorders,
    pub(crate) config: Config,
}
