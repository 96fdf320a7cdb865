//! Typed errors, one enum per layer, converted into [`Error`] at the public boundary.

use uuid::Uuid;

use crate::ids::ProcessId;
use crate::payload::PayloadError;
use crate::status::InstanceStatus;

/// A boxed error from user code.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// An event that a process manager cannot read.
#[derive(Debug, thiserror::Error)]
pub enum EventError {
    /// The payload did not decode as the type registered for its name.
    #[error("event `{event_type}` ({event_id}) has a malformed payload: {source}")]
    Payload {
        /// The event type name.
        event_type: String,
        /// The event's id.
        event_id: Uuid,
        /// What was wrong with it.
        #[source]
        source: PayloadError,
    },
    /// The process manager has no handler for this event type.
    #[error("process manager `{pm}` has no handler for event type `{event_type}`")]
    Unhandled {
        /// The process manager.
        pm: &'static str,
        /// The event type name.
        event_type: String,
    },
}

/// A handler that did not complete: it returned an `Err`, panicked, or could not read its
/// input. The instance's state is left as it was before the handler ran.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// The handler returned an `Err`.
    #[error("handler returned an error: {0}")]
    Returned(#[source] BoxError),
    /// The handler panicked; the message is the panic payload when it was a string.
    #[error("handler panicked: {0}")]
    Panicked(String),
    /// The event could not be read.
    #[error(transparent)]
    Event(#[from] EventError),
    /// A stored command handed to a compensation handler could not be read.
    #[error("command `{command_type}` has a malformed payload: {source}")]
    Command {
        /// The command type name.
        command_type: String,
        /// What was wrong with it.
        #[source]
        source: PayloadError,
    },
}

/// Why the command side did not execute a command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DispatchError {
    /// Permanent: the command was refused (a business rule). The saga compensates.
    #[error("command rejected: {0}")]
    Rejected(String),
    /// Transient: the command side could not be reached. The command is retried.
    #[error("command side unavailable: {0}")]
    Unavailable(String),
}

/// A store operation that failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// An instance's state could not be serialised.
    #[error("cannot encode the state of `{pm}` instance `{process_id}`: {source}")]
    Encode {
        /// The process manager.
        pm: &'static str,
        /// The instance.
        process_id: ProcessId,
        /// What serde_json reported.
        #[source]
        source: serde_json::Error,
    },
    /// A stored state no longer deserialises into the process manager's type.
    #[error("cannot decode the stored state of `{pm}` instance `{process_id}`: {source}")]
    Decode {
        /// The process manager.
        pm: &'static str,
        /// The instance.
        process_id: ProcessId,
        /// What serde_json reported.
        #[source]
        source: serde_json::Error,
    },
    /// The stored state was written by a newer version of the process manager.
    #[error(
        "the stored state of `{pm}` instance `{process_id}` is version {stored}, newer than this build's version {supported}"
    )]
    NewerVersion {
        /// The process manager.
        pm: &'static str,
        /// The instance.
        process_id: ProcessId,
        /// The version in the store.
        stored: u32,
        /// The version this build understands.
        supported: u32,
    },
    /// Upgrading a state written by an older version failed.
    #[error(
        "cannot upgrade the state of `{pm}` instance `{process_id}` from version {from}: {source}"
    )]
    Upgrade {
        /// The process manager.
        pm: &'static str,
        /// The instance.
        process_id: ProcessId,
        /// The version in the store.
        from: u32,
        /// What the upgrade hook reported.
        #[source]
        source: BoxError,
    },
    /// Another writer changed the instance since it was loaded.
    #[error(
        "`{pm}` instance `{process_id}` was changed concurrently: expected revision {expected}, found {found}"
    )]
    Conflict {
        /// The process manager.
        pm: String,
        /// The instance.
        process_id: ProcessId,
        /// The revision the writer started from.
        expected: u64,
        /// The revision in the store.
        found: u64,
    },
    /// This node no longer holds the lease of the instance's partition (another node claimed
    /// it, or the lease expired): the commit was refused and nothing of it was written. The
    /// node that now owns the partition handles the instance.
    #[error(
        "`{pm}` instance `{process_id}` is in partition {partition}, whose lease this node no longer holds; nothing was committed"
    )]
    Fenced {
        /// The process manager.
        pm: String,
        /// The instance.
        process_id: ProcessId,
        /// The instance's partition.
        partition: u32,
    },
    /// The store was opened to inspect a database (`PostgresStore::inspect`): it reads, and
    /// resolves parked instances, but takes no lease and commits nothing.
    #[error(
        "this store was opened for inspection and cannot {operation}; a runtime's store (`PostgresStore::connect`) can"
    )]
    ReadOnly {
        /// What was refused.
        operation: &'static str,
    },
    /// The backend failed (I/O, connection, corruption).
    #[error("store backend failed: {0}")]
    Backend(#[source] BoxError),
    /// The store could not be opened: a missing directory, a file that is not a database or
    /// not this store's, a schema newer than this build, or an I/O failure.
    #[error("cannot open the store at `{}`: {reason}", path.display())]
    Open {
        /// The path that was opened.
        path: std::path::PathBuf,
        /// Why it could not be opened.
        #[source]
        reason: BoxError,
    },
}

/// Why the router refused to deliver an event to an instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// A `#[start(new)]` event reached an instance that already exists.
    #[error("a `#[start(new)]` event reached an existing instance")]
    AlreadyStarted,
    /// A continuing event reached a missing instance under `missing = "error"`.
    #[error("the instance does not exist and the process manager's missing policy is `error`")]
    Missing,
}

/// The errors of the public runtime API.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A routing rule refused the event.
    #[error("`{pm}` instance `{process_id}` refused event {event_id}: {reason}")]
    Refused {
        /// The process manager.
        pm: &'static str,
        /// The instance.
        process_id: ProcessId,
        /// The refused event.
        event_id: Uuid,
        /// Which rule refused it.
        reason: Refusal,
    },
    /// A handler failed; the instance's state is unchanged and the event not marked handled.
    #[error("`{pm}` instance `{process_id}` failed to handle event {event_id}: {source}")]
    Handler {
        /// The process manager.
        pm: &'static str,
        /// The instance.
        process_id: ProcessId,
        /// The event being handled.
        event_id: Uuid,
        /// What went wrong.
        #[source]
        source: HandlerError,
    },
    /// An event could not be correlated (its payload is malformed).
    #[error("`{pm}` cannot route the event: {source}")]
    Correlate {
        /// The process manager.
        pm: &'static str,
        /// What was wrong with the event.
        #[source]
        source: EventError,
    },
    /// The store failed; nothing of the operation was committed.
    #[error("store failed for `{pm}` instance `{process_id}`: {source}")]
    Store {
        /// The process manager.
        pm: &'static str,
        /// The instance.
        process_id: ProcessId,
        /// What went wrong.
        #[source]
        source: StoreError,
    },
    /// The instance is not parked, so there is nothing to retry or skip.
    #[error("`{pm}` instance `{process_id}` is not parked (it is {status})")]
    NotParked {
        /// The process manager.
        pm: &'static str,
        /// The instance.
        process_id: ProcessId,
        /// Its status.
        status: InstanceStatus,
    },
    /// Reading the store at start failed.
    #[error("cannot recover `{pm}` from the store: {source}")]
    Recovery {
        /// The process manager.
        pm: &'static str,
        /// What went wrong.
        #[source]
        source: StoreError,
    },
    /// The process manager was not registered with the runtime.
    #[error("process manager `{0}` is not registered with this runtime")]
    NotRegistered(&'static str),
    /// The instance has completed: it no longer takes events or requests.
    #[error("`{pm}` instance `{process_id}` is {status}")]
    Finished {
        /// The process manager.
        pm: &'static str,
        /// The instance.
        process_id: ProcessId,
        /// How it ended.
        status: InstanceStatus,
    },
    /// The instance does not exist.
    #[error("`{pm}` instance `{process_id}` does not exist")]
    NotFound {
        /// The process manager.
        pm: &'static str,
        /// The instance.
        process_id: ProcessId,
    },
    /// The runtime is shutting down or has shut down.
    #[error("the runtime is shut down")]
    Shutdown,
    /// The builder was not given a dispatcher.
    #[error("the runtime needs a command dispatcher: call `RuntimeBuilder::dispatcher`")]
    MissingDispatcher,
    /// Two registered process managers share one name.
    #[error("two process managers are registered under the name `{0}`; names must be unique")]
    DuplicateName(&'static str),
}
