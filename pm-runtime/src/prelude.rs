//! Everything a saga needs: `use pm_runtime::prelude::*;`.

pub use crate::{
    CommandDispatcher, CommandEnvelope, Compensation, Context, DispatchError, EventEnvelope,
    EventMeta, InstanceStatus, ProcessId, ProcessManager, Runtime,
};
#[cfg(feature = "macros")]
pub use crate::{Command, Event, process_manager};
#[cfg(not(feature = "macros"))]
pub use crate::{Command, Event};
