//! A tokio runtime for process managers (sagas) declared with `#[process_manager]`.


mod context;
mod envelope;
mod error;
mod ids;
mod message;
mod payload;
mod process_manager;
mod status;

#[doc(hidden)]
pub mod __private;

pub use context::Context;
pub use envelope::{CommandEnvelope, EventEnvelope, EventMeta, Metadata};
pub use error::{BoxError, DispatchError, Error, EventError, HandlerError, Refusal, StoreError};
pub use ids::{CommandIds, ProcessId, ToProcessId};
pub use message::{Command, Event};
pub use payload::{Decoded, Payload, PayloadError};
pub use process_manager::{
    CommandParts, CommandSet, Compensation, Correlation, EventRoute, MissingPolicy,
    ProcessManager, Role, Targets,
};
pub use status::InstanceStatus;

#[cfg(feature = "macros")]
pub use pm_macros::{Command, Event, process_manager};
