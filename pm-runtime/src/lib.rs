//! A tokio runtime for process managers (sagas) declared with `#[process_manager]`.

mod activity;
mod builder;
mod clock;
mod context;
mod dispatch;
mod envelope;
mod error;
mod failure;
mod fast_map;
mod handle;
mod host;
mod ids;
mod instance;
mod latency;
mod message;
mod moment;
mod outgoing;
mod payload;
pub mod prelude;
mod process_manager;
mod router;
mod runtime;
mod shared;
mod stats;
mod status;
mod store;
mod striped;
pub mod testing;
mod timers;

#[doc(hidden)]
pub mod __private;

pub use builder::RuntimeBuilder;
/// The shared byte buffer a JSON payload can be built from (see [`JsonBytes`]).
pub use bytes::Bytes;
pub use clock::{Clock, ManualClock, Sleep, SystemClock};
pub use context::Context;
pub use dispatch::{CommandDispatcher, RetryPolicy};
pub use envelope::{CommandEnvelope, EventEnvelope, EventMeta, Metadata};
pub use error::{BoxError, DispatchError, Error, EventError, HandlerError, Refusal, StoreError};
pub use failure::{CommandFailure, ErrorAction};
pub use handle::InstanceHandle;
pub use ids::{CommandIds, InstanceIds, ProcessId, ToProcessId};
pub use latency::{Latencies, LatencyHistogram};
pub use message::{Command, Event};
pub use payload::{Decoded, JsonBytes, Payload, PayloadError};
pub use process_manager::{
    CommandParts, CommandSet, Compensation, Correlation, EventRoute, MissingPolicy, ProcessManager,
    Role, Targets,
};
pub use router::Published;
pub use runtime::{ParkedInstance, Runtime};
pub use stats::Stats;
pub use status::InstanceStatus;
pub use store::{
    Change, Commit, DeadLetter, DueTimer, InMemoryStore, InstanceSummary, NotParked, ParkedAction,
    ProcessManagerInfo, Settlement, Store, StoreFuture, StoredInstance, Timer,
};
#[cfg(feature = "postgres")]
pub use store::{EventLog, EventReader, PostgresOptions, PostgresStore, partition_of};
#[cfg(feature = "sqlite")]
pub use store::{SqliteOptions, SqliteStore, Synchronous};

#[cfg(feature = "macros")]
pub use pm_macros::{
    Command, Event, compensate, handle, init, on_error, process_manager, start, stop, upgrade,
};
#[cfg(test)]
mod tests;
