//! What every process-manager host and instance of one runtime shares.

use std::sync::Arc;

use crate::activity::Activity;
use crate::dispatch::{ErasedDispatcher, RetryPolicy};
use crate::stats::Counters;
use crate::store::Store;

/// Tunables fixed when the runtime starts.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    /// Capacity of each instance's mailbox; a full mailbox makes publishers wait.
    pub(crate) mailbox_capacity: usize,
    /// How transient command failures are retried.
    pub(crate) command_retry: RetryPolicy,
}

pub(crate) struct Shared {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) dispatcher: Arc<dyn ErasedDispatcher>,
    pub(crate) activity: Arc<Activity>,
    pub(crate) counters: Counters,
    pub(crate) config: Config,
}
