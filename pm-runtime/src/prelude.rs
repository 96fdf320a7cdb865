//! Everything a saga needs: `use pm_runtime::prelude::*;`.

#[cfg(not(feature = "macros"))]
pub use crate::{Command, Event};
// The method attributes of `#[process_manager]` (`start`, `handle`, ...) are attribute macros
// too: inside a `#[process_manager]` impl block that macro consumes them before rustc would
// expand them, and anywhere else they report that they are misplaced. Attribute macros live
// in their own namespace, so a glob import of the prelude clashes with no function or type.
#[cfg(feature = "macros")]
pub use crate::{
    Command, Event, compensate, handle, init, on_error, process_manager, start, stop, upgrade,
};
pub use crate::{
    CommandDispatcher, CommandEnvelope, CommandFailure, Compensation, Context, DispatchError,
    ErrorAction, EventEnvelope, EventMeta, InstanceStatus, ProcessId, ProcessManager, Runtime,
};
