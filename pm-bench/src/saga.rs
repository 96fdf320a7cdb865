//! The saga every workload drives, and the runtime around it.
//!
//! `Counter` does a little state work per event and sends no command, so what a measure
//! sees is routing, handling and the commit to the store, not a command side.

use std::time::Duration;

use pm_runtime::prelude::*;
use pm_runtime::{Commit, DueTimer, InstanceSummary, Store, StoreFuture, StoredInstance};
use serde::{Deserialize, Serialize};

/// Starts an instance.
#[derive(Debug, Clone, Serialize, Deserialize, Event)]
pub struct Opened {
    /// The process id.
    pub id: String,
}

/// The event the throughput measures publish.
#[derive(Debug, Clone, Serialize, Deserialize, Event)]
pub struct Ticked {
    /// The process id.
    pub id: String,
    /// Summed into the state.
    pub amount: u64,
}

/// The state of one instance: 24 bytes, no heap.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counter {
    /// Events handled.
    pub events: u64,
    /// Sum of the amounts.
    pub total: u64,
    /// The last amount.
    pub last: u64,
}

#[process_manager(name = "bench_counter", correlate = id)]
impl Counter {
    /// Opens the counter.
    #[start]
    pub fn opened(&mut self, _e: &Opened) {
        self.events = 1;
    }

    /// The state work every workload does per event.
    #[handle]
    pub fn ticked(&mut self, e: &Ticked) {
        self.events += 1;
        self.total = self.total.wrapping_add(e.amount);
        self.last = e.amount;
    }
}

/// The process id of instance number `i`.
pub fn instance_id(i: usize) -> String {
    format!("i-{i}")
}

/// Process ids `0..n`.
pub fn instance_ids(n: usize) -> Vec<String> {
    (0..n).map(instance_id).collect()
}

/// An idle timeout no measure reaches, so no instance is passivated mid-measure.
pub const NEVER_IDLE: Duration = Duration::from_secs(24 * 3600);

/// A dispatcher for a saga that sends no command.
#[derive(Debug, Clone, Copy)]
pub struct NoCommands;

impl CommandDispatcher for NoCommands {
    async fn dispatch(&self, _command: &CommandEnvelope) -> Result<(), DispatchError> {
        Ok(())
    }
}

/// A store that keeps nothing, so memory measures count the runtime alone (an
/// [`pm_runtime::InMemoryStore`] keeps a second copy of every instance).
#[derive(Debug, Default, Clone, Copy)]
pub struct DiscardStore;

impl Store for DiscardStore {
    fn load<'a>(
        &'a self,
        _pm: &'a str,
        _process_id: &'a ProcessId,
    ) -> StoreFuture<'a, Option<StoredInstance>> {
        Box::pin(std::future::ready(Ok(None)))
    }

    fn commit(&self, _commit: Commit) -> StoreFuture<'_, ()> {
        Box::pin(std::future::ready(Ok(())))
    }

    fn due_timers(&self, _until_ms: u64, _limit: usize) -> StoreFuture<'_, Vec<DueTimer>> {
        Box::pin(std::future::ready(Ok(Vec::new())))
    }

    fn unfinished(&self, _pm: &str) -> StoreFuture<'_, Vec<ProcessId>> {
        Box::pin(std::future::ready(Ok(Vec::new())))
    }

    fn instances(&self, _pm: &str) -> StoreFuture<'_, Vec<InstanceSummary>> {
        Box::pin(std::future::ready(Ok(Vec::new())))
    }

    fn purge_finished(&self, _pm: &str, _before_ms: u64) -> StoreFuture<'_, u64> {
        Box::pin(std::future::ready(Ok(0)))
    }

    fn is_durable(&self) -> bool {
        false
    }
}

/// A runtime hosting [`Counter`] on `store`, with the default mailbox and `idle_timeout`.
pub async fn start_runtime(store: impl Store, idle_timeout: Duration) -> Runtime {
    start(store, idle_timeout, HIBERNATE_AFTER).await
}

/// The runtime's default `hibernate_after`.
pub const HIBERNATE_AFTER: Duration = Duration::from_secs(1);

/// As [`start_runtime`] with hibernation off (`hibernate_after` = `idle_timeout` =
/// [`NEVER_IDLE`]): every instance keeps its task and mailbox while it sits idle.
pub async fn start_runtime_awake(store: impl Store) -> Runtime {
    start(store, NEVER_IDLE, NEVER_IDLE).await
}

async fn start(store: impl Store, idle_timeout: Duration, hibernate_after: Duration) -> Runtime {
    Runtime::builder()
        .store(store)
        .dispatcher(NoCommands)
        .idle_timeout(idle_timeout)
        .hibernate_after(hibernate_after)
        .register::<Counter>()
        .start()
        .await
        .expect("the bench runtime starts")
}

/// A multi-threaded tokio runtime with one worker per core, as an application would have.
pub fn tokio_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}
