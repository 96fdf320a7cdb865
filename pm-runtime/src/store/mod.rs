//! Persistence of instances: state, handled events, outbox and completed commands.
//!
//! Every change to an instance is one [`Commit`], applied atomically: the state, the handled
//! event, the commands it queued and the commands it settled go in together or not at all.
//! Commands leave the outbox only after the commit that queued them, so a crash between the
//! two never loses a command nor sends one the store does not know about.

mod memory;

use std::future::Future;
use std::pin::Pin;

use uuid::Uuid;

pub use memory::InMemoryStore;

use crate::envelope::CommandEnvelope;
use crate::error::StoreError;
use crate::ids::ProcessId;
use crate::status::InstanceStatus;

/// The future a [`Store`] method returns.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// One instance as the store holds it.
#[derive(Debug, Clone)]
pub struct StoredInstance {
    /// Where the instance is in its life; a finished status makes the record a tombstone.
    pub status: InstanceStatus,
    /// Number of commits applied so far; the next commit must carry `revision + 1`.
    pub revision: u64,
    /// The serialised state (JSON).
    pub state: Vec<u8>,
    /// Ids of the events the instance has handled, for deduplication.
    pub handled: Vec<Uuid>,
    /// Commands queued but not yet settled, in dispatch order.
    pub outbox: Vec<CommandEnvelope>,
    /// Commands the command side accepted, in order of completion.
    pub completed: Vec<CommandEnvelope>,
}

/// How a command left the outbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settlement {
    /// The command side accepted it; it joins the completed log (compensation reads it).
    Completed,
    /// It was dropped without being accepted (the saga aborted before sending it).
    Cancelled,
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
    /// The event this commit handled, recorded for deduplication.
    pub handled: Option<Uuid>,
    /// Commands to append to the outbox.
    pub enqueue: Vec<CommandEnvelope>,
    /// Commands leaving the outbox, by id.
    pub settle: Vec<(Uuid, Settlement)>,
}

/// Where instances live between events.
///
/// Implementations must apply a [`Commit`] atomically and refuse one whose `revision` does not
/// follow the stored one with [`StoreError::Conflict`]. The runtime holds at most one live
/// instance per (PM, process id) per store, so a conflict means a second writer.
pub trait Store: Send + Sync + 'static {
    /// Loads an instance; `None` when it has never been committed.
    fn load<'a>(&'a self, pm: &'a str, process_id: &'a ProcessId)
    -> StoreFuture<'a, Option<StoredInstance>>;

    /// Applies one commit atomically.
    fn commit(&self, commit: Commit) -> StoreFuture<'_, ()>;

    /// Whether committed data survives the process (false for [`InMemoryStore`]).
    fn is_durable(&self) -> bool;
}
