//! Persistence of instances: state, handled events, outbox, timers and dead letters.
//!
//! Every change to an instance is one [`Commit`], applied atomically: the state, the handled
//! event, the commands it queued or settled, the timers it scheduled or cancelled and its
//! dead-letter record go in together or not at all. Commands leave the outbox only after the
//! commit that queued them, so a crash between the two never loses a command nor sends one the
//! store does not know about.

mod memory;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "sqlite")]
mod sqlite;

use std::future::Future;
use std::pin::Pin;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use memory::InMemoryStore;
#[cfg(feature = "postgres")]
pub use postgres::{EventLog, EventReader, PostgresOptions, PostgresStore, partition_of};
#[cfg(feature = "sqlite")]
pub use sqlite::{SqliteOptions, SqliteStore, Synchronous};

use crate::envelope::{CommandEnvelope, EventEnvelope};
use crate::error::StoreError;
use crate::ids::ProcessId;
use crate::status::InstanceStatus;

/// The future a [`Store`] method returns.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// A durable timeout: `event` is delivered to its instance once the clock reaches `due_at_ms`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Timer {
    /// The timer's id; also the `event_id` of the delivered event, so delivery is deduplicated.
    pub timer_id: Uuid,
    /// When it is due, in milliseconds since the Unix epoch by the runtime's clock.
    pub due_at_ms: u64,
    /// The event delivered when it fires.
    pub event: EventEnvelope,
}

/// Why an instance is parked, kept until an operator retries or skips it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeadLetter {
    /// The event whose handler kept failing, when a handler is the cause.
    pub event: Option<EventEnvelope>,
    /// The command that kept failing, when the command side is the cause.
    pub command: Option<CommandEnvelope>,
    /// The last error, as text.
    pub error: String,
    /// Attempts made before parking.
    pub attempts: u32,
    /// When the instance was parked (milliseconds since the Unix epoch).
    pub parked_at_ms: u64,
    /// The status the instance returns to when an operator retries or skips.
    pub resume: InstanceStatus,
}

/// One instance as the store holds it.
#[derive(Debug, Clone)]
pub struct StoredInstance {
    /// Where the instance is in its life; a finished status makes the record a tombstone.
    pub status: InstanceStatus,
    /// Number of commits applied so far; the next commit must carry `revision + 1`.
    pub revision: u64,
    /// The serialised state (JSON).
    pub state: Vec<u8>,
    /// The `version` of the process manager that wrote `state`.
    pub state_version: u32,
    /// Ids of the events the instance has handled, for deduplication.
    pub handled: Vec<Uuid>,
    /// Commands queued but not yet settled, in dispatch order.
    pub outbox: Vec<CommandEnvelope>,
    /// Commands the command side accepted, in order of completion.
    pub completed: Vec<CommandEnvelope>,
    /// Pending timers.
    pub timers: Vec<Timer>,
    /// Why the instance is parked, while it is. Boxed, as in a [`Commit`]: inline, the dead
    /// letter (an event and a command) would be 496 of this struct's 664 bytes, and nearly
    /// every instance has none; the in-memory store keeps one of these per instance.
    pub dead_letter: Option<Box<DeadLetter>>,
    /// Events that arrived while the instance was parked, in arrival order.
    pub stash: Vec<EventEnvelope>,
    /// Time of the last commit (milliseconds since the Unix epoch).
    pub updated_at_ms: u64,
}

/// How a command left the outbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Settlement {
    /// The command side accepted it; it joins the completed log (compensation reads it).
    Completed,
    /// It was dropped without being accepted (the saga aborted before sending it).
    Cancelled,
}

/// A change to an optional part of an instance.
#[derive(Debug, Clone, Default)]
pub enum Change<T> {
    /// Leave it as it is.
    #[default]
    Keep,
    /// Replace it.
    Set(T),
    /// Remove it.
    Clear,
}

/// One atomic change to one instance.
#[derive(Debug, Clone)]
pub struct Commit {
    /// The process manager's name.
    pub pm: &'static str,
    /// The instance.
    pub process_id: ProcessId,
    /// The revision this commit creates; the stored revision must be `revision - 1`.
    pub revision: u64,
    /// The instance's status after the commit.
    pub status: InstanceStatus,
    /// The new serialised state, or `None` when it did not change.
    pub state: Option<Vec<u8>>,
    /// The process manager's `version`, stored with the state.
    pub state_version: u32,
    /// The event this commit handled, recorded for deduplication.
    pub handled: Option<Uuid>,
    /// Commands to append to the outbox.
    pub enqueue: Vec<CommandEnvelope>,
    /// Commands leaving the outbox, by id.
    pub settle: Vec<(Uuid, Settlement)>,
    /// Timers to add.
    pub schedule: Vec<Timer>,
    /// Timers to remove, by id (fired or cancelled).
    pub unschedule: Vec<Uuid>,
    /// The dead-letter record; boxed, since it is large and rare and a commit is moved
    /// several times on its way to the store.
    pub dead_letter: Change<Box<DeadLetter>>,
    /// Events to append to the stash.
    pub stash: Vec<EventEnvelope>,
    /// Events to remove from the front of the stash.
    pub unstash: usize,
    /// Time of the commit (milliseconds since the Unix epoch).
    pub at_ms: u64,
}

impl Commit {
    /// A commit of `revision` that changes nothing but the status; fill in the rest.
    pub fn new(
        pm: &'static str,
        process_id: ProcessId,
        revision: u64,
        status: InstanceStatus,
        at_ms: u64,
    ) -> Self {
        Self {
            pm,
            process_id,
            revision,
            status,
            state: None,
            state_version: 1,
            handled: None,
            enqueue: Vec::new(),
            settle: Vec::new(),
            schedule: Vec::new(),
            unschedule: Vec::new(),
            dead_letter: Change::Keep,
            stash: Vec::new(),
            unstash: 0,
            at_ms,
        }
    }
}

/// A timer as the runtime's timer wheel sees it, across instances.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueTimer {
    /// The process manager's name.
    pub pm: String,
    /// The instance.
    pub process_id: ProcessId,
    /// The timer.
    pub timer_id: Uuid,
    /// When it is due (milliseconds since the Unix epoch).
    pub due_at_ms: u64,
}

/// One line of the instance listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceSummary {
    /// The instance.
    pub process_id: ProcessId,
    /// Its status.
    pub status: InstanceStatus,
    /// Commits applied.
    pub revision: u64,
    /// Commands waiting in its outbox.
    pub outbox: usize,
    /// Time of the last commit (milliseconds since the Unix epoch).
    pub updated_at_ms: u64,
}

/// A process manager as the runtime registered it, so tools can read a store without the
/// code that wrote it (the `pm` inspector lists these).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessManagerInfo {
    /// [`ProcessManager::NAME`](crate::ProcessManager::NAME).
    pub name: String,
    /// [`ProcessManager::VERSION`](crate::ProcessManager::VERSION), the state's shape.
    pub version: u32,
    /// [`ProcessManager::DIAGRAM`](crate::ProcessManager::DIAGRAM): its Mermaid flowchart
    /// (empty for a hand-written implementation).
    pub diagram: String,
    /// The event types it handles.
    pub events: Vec<String>,
}

impl ProcessManagerInfo {
    /// The record of process manager `P`.
    pub fn of<P: crate::ProcessManager>() -> Self {
        Self {
            name: P::NAME.to_owned(),
            version: P::VERSION,
            diagram: P::DIAGRAM.to_owned(),
            events: P::EVENTS.iter().map(|e| e.event_type.to_owned()).collect(),
        }
    }
}

/// What an operator does about a parked instance through [`Store::resolve_parked`].
///
/// ```no_run
/// use pm_runtime::{ParkedAction, ProcessId, SqliteStore, Store};
///
/// # async fn skip() -> Result<(), pm_runtime::StoreError> {
/// // No runtime is using the file (a running one would use `Runtime::skip_parked`).
/// let store = SqliteStore::open("sagas.db")?;
/// let now_ms = 1_795_874_713_042;
/// store
///     .resolve_parked("order_fulfillment", &ProcessId::new("o-1"), ParkedAction::Skip, now_ms)
///     .await?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ParkedAction {
    /// Try the cause again: a poison event goes to the front of the stash, to be handled
    /// first when the runtime next loads the instance; a failed command stays at the head of
    /// the outbox, to be sent again.
    Retry,
    /// Drop the cause: a poison event is recorded as handled without running its handler; a
    /// failed command leaves the outbox as cancelled (it will not be compensated).
    Skip,
}

/// Where instances live between events.
///
/// Implementations must apply a [`Commit`] atomically and refuse one whose `revision` does not
/// follow the stored one with [`StoreError::Conflict`], leaving the instance untouched. The
/// conformance suite in `tests/tests/store_conformance.rs` states the contract as tests; every
/// implementation runs it.
pub trait Store: Send + Sync + 'static {
    /// Loads an instance; `None` when it has never been committed.
    fn load<'a>(
        &'a self,
        pm: &'a str,
        process_id: &'a ProcessId,
    ) -> StoreFuture<'a, Option<StoredInstance>>;

    /// Applies one commit atomically.
    fn commit(&self, commit: Commit) -> StoreFuture<'_, ()>;

    /// Every pending timer due at or before `until_ms`, earliest first, at most `limit`.
    fn due_timers(&self, until_ms: u64, limit: usize) -> StoreFuture<'_, Vec<DueTimer>>;

    /// Instances of `pm` with work left after a restart, by process id: a non-empty outbox
    /// and not parked, or a non-empty stash and running (a stash left by an interrupted
    /// resume, or by [`Store::resolve_parked`]).
    fn unfinished(&self, pm: &str) -> StoreFuture<'_, Vec<ProcessId>>;

    /// Every instance of `pm`, tombstones included, ordered by process id.
    fn instances(&self, pm: &str) -> StoreFuture<'_, Vec<InstanceSummary>>;

    /// Deletes finished instances (tombstones) of `pm` last changed before `before_ms`;
    /// returns how many were deleted. After this a start event for one of them starts afresh.
    fn purge_finished(&self, pm: &str, before_ms: u64) -> StoreFuture<'_, u64>;

    /// Whether committed data survives the process (false for [`InMemoryStore`]).
    fn is_durable(&self) -> bool;

    /// Records (or replaces, by name) a process manager the runtime hosts. The runtime calls
    /// it for each registered type when it starts. The default records nothing.
    fn register(&self, info: &ProcessManagerInfo) -> StoreFuture<'_, ()> {
        let _ = info;
        Box::pin(std::future::ready(Ok(())))
    }

    /// Every process manager recorded by [`Store::register`], by name. The default knows
    /// none.
    fn process_managers(&self) -> StoreFuture<'_, Vec<ProcessManagerInfo>> {
        Box::pin(std::future::ready(Ok(Vec::new())))
    }

    /// Whether this node handles instance `process_id` of `pm` now. A store shared by
    /// several runtime nodes (the PostgreSQL store) answers from the partition leases it
    /// holds; the runtime delivers events and timeouts only to instances this returns true
    /// for. The default owns everything.
    fn owns(&self, pm: &str, process_id: &ProcessId) -> bool {
        let _ = (pm, process_id);
        true
    }

    /// A counter that moves whenever this node gains instances to handle (it claimed
    /// partitions), so the runtime recovers their unfinished instances and timeouts.
    /// `None` (the default): ownership never changes.
    fn ownership(&self) -> Option<tokio::sync::watch::Receiver<u64>> {
        None
    }

    /// Resolves a parked instance from outside the runtime (the `pm` inspector's `retry` and
    /// `skip`), in one atomic read-modify-write that bumps the revision: the dead letter is
    /// cleared, the instance returns to the status it was parked from, and the cause is
    /// retried or skipped as [`ParkedAction`] says. Fails when the instance does not exist
    /// or is not parked.
    ///
    /// Only for a store no runtime is using at the time: a live runtime holds the instance
    /// in memory, so use [`Runtime::retry_parked`](crate::Runtime::retry_parked) and
    /// [`Runtime::skip_parked`](crate::Runtime::skip_parked) there. A runtime started on the
    /// store afterwards loads the instance, replays its stash and sends its outbox. The
    /// default refuses.
    fn resolve_parked<'a>(
        &'a self,
        pm: &'a str,
        process_id: &'a ProcessId,
        action: ParkedAction,
        at_ms: u64,
    ) -> StoreFuture<'a, ()> {
        let _ = (pm, process_id, action, at_ms);
        Box::pin(std::future::ready(Err(StoreError::Backend(
            "this store cannot resolve parked instances offline".into(),
        ))))
    }
}

/// Why [`Store::resolve_parked`] refused: the instance is missing or not parked.
#[derive(Debug, thiserror::Error)]
#[error("`{pm}` instance `{process_id}` is {}", match .status {
    Some(status) => format!("{status}, not parked"),
    None => "not in the store".to_owned(),
})]
pub struct NotParked {
    /// The process manager.
    pub pm: String,
    /// The instance.
    pub process_id: ProcessId,
    /// Its status, or `None` when it does not exist.
    pub status: Option<InstanceStatus>,
}

impl From<NotParked> for StoreError {
    fn from(error: NotParked) -> Self {
        StoreError::Backend(Box::new(error))
    }
}

/// The changes a [`ParkedAction`] makes to a parked instance, computed once for every
/// backend from the parts of the instance it reads.
#[derive(Debug)]
pub(crate) struct Resolution {
    /// The status after resolution.
    pub(crate) status: InstanceStatus,
    /// An event id to record as handled.
    pub(crate) handled: Option<Uuid>,
    /// A command to drop from the head of the outbox.
    pub(crate) cancel: Option<Uuid>,
    /// An event to put at the front of the stash.
    pub(crate) restash: Option<EventEnvelope>,
}

impl Resolution {
    /// What `action` does to an instance parked with `dead_letter` whose outbox starts with
    /// `head` and holds `outbox_len` commands. Mirrors `Instance::resume`.
    pub(crate) fn of(
        action: ParkedAction,
        dead_letter: DeadLetter,
        head: Option<Uuid>,
        outbox_len: usize,
    ) -> Self {
        let mut resolution = Self {
            status: dead_letter.resume,
            handled: None,
            cancel: None,
            restash: None,
        };
        match action {
            ParkedAction::Retry => resolution.restash = dead_letter.event,
            ParkedAction::Skip => {
                resolution.handled = dead_letter.event.map(|e| e.event_id);
                let failed = dead_letter.command.map(|c| c.command_id);
                if failed.is_some() && failed == head {
                    resolution.cancel = failed;
                    resolution.status = match dead_letter.resume {
                        InstanceStatus::Completing if outbox_len == 1 => InstanceStatus::Completed,
                        InstanceStatus::Compensating if outbox_len == 1 => {
                            InstanceStatus::Compensated
                        }
                        status => status,
                    };
                }
            }
        }
        resolution
    }
}

impl<S: Store + ?Sized> Store for std::sync::Arc<S> {
    fn load<'a>(
        &'a self,
        pm: &'a str,
        process_id: &'a ProcessId,
    ) -> StoreFuture<'a, Option<StoredInstance>> {
        (**self).load(pm, process_id)
    }

    fn commit(&self, commit: Commit) -> StoreFuture<'_, ()> {
        (**self).commit(commit)
    }

    fn due_timers(&self, until_ms: u64, limit: usize) -> StoreFuture<'_, Vec<DueTimer>> {
        (**self).due_timers(until_ms, limit)
    }

    fn unfinished(&self, pm: &str) -> StoreFuture<'_, Vec<ProcessId>> {
        (**self).unfinished(pm)
    }

    fn instances(&self, pm: &str) -> StoreFuture<'_, Vec<InstanceSummary>> {
        (**self).instances(pm)
    }

    fn purge_finished(&self, pm: &str, before_ms: u64) -> StoreFuture<'_, u64> {
        (**self).purge_finished(pm, before_ms)
    }

    fn is_durable(&self) -> bool {
        (**self).is_durable()
    }

    fn register(&self, info: &ProcessManagerInfo) -> StoreFuture<'_, ()> {
        (**self).register(info)
    }

    fn process_managers(&self) -> StoreFuture<'_, Vec<ProcessManagerInfo>> {
        (**self).process_managers()
    }

    fn resolve_parked<'a>(
        &'a self,
        pm: &'a str,
        process_id: &'a ProcessId,
        action: ParkedAction,
        at_ms: u64,
    ) -> StoreFuture<'a, ()> {
        (**self).resolve_parked(pm, process_id, action, at_ms)
    }

    fn owns(&self, pm: &str, process_id: &ProcessId) -> bool {
        (**self).owns(pm, process_id)
    }

    fn ownership(&self) -> Option<tokio::sync::watch::Receiver<u64>> {
        (**self).ownership()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The in-memory store keeps one stored instance per instance; a dead letter (or
    /// anything else as large) moved inline again would triple it.
    #[test]
    fn a_stored_instance_keeps_its_dead_letter_out_of_line() {
        let stored = std::mem::size_of::<StoredInstance>();
        assert!(stored <= 192, "a stored instance is {stored} bytes");
        assert!(std::mem::size_of::<DeadLetter>() > 2 * stored);
    }
}
