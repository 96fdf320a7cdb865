//! Everything a saga needs: `use pm_runtime::prelude::*;`.

#[cfg(not(feature = "macros"))]
pub use crate::{Command, Event};
#[cfg(feature = "macros")]
pub use crate::{Command, Event, process_manager};
pub use crate::{
    CommandDispatcher, CommandEnvelope, Compensation, Context, DispatchError, EventEnvelope,
    EventMeta, InstanceStatus, ProcessId, ProcessManager, Runtime,
};
