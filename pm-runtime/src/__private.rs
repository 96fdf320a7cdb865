//! Support for the code `#[process_manager]`, `#[derive(Event)]` and `#[derive(Command)]`
//! generate. Not a public API: it changes without notice.

pub use serde;
pub use serde_json;

pub use crate::context::Context;
pub use crate::envelope::{CommandEnvelope, EventEnvelope, EventMeta};
pub use crate::error::{BoxError, EventError, HandlerError};
pub use crate::failure::{CommandFailure, ErrorAction};
pub use crate::ids::{ProcessId, ToProcessId};
pub use crate::message::{Command, Event};
pub use crate::payload::Decoded;
pub use crate::process_manager::{
    CommandParts, CommandSet, Compensation, Correlation, EventRoute, MissingPolicy, ProcessManager,
    Role, Targets,
};

use crate::payload::Payload;

/// Marks the events a process manager handles, so `Context::schedule` can refuse others.
#[diagnostic::on_unimplemented(
    message = "process manager `{Self}` does not handle `{E}`",
    note = "add a handler for `{E}` to the `#[process_manager]` impl, or schedule an event it handles"
)]
pub trait Handles<E> {}

/// Not an event, so it can never be scheduled. Every type "handles" it, which gives each
/// process manager at least two `Handles` impls: with one only, rustc would infer the event
/// type of `ctx.schedule(..)` from that impl and report a type mismatch on the argument
/// instead of the `Handles` note above.
#[derive(Debug)]
pub enum Unschedulable {}

impl<P: ?Sized> Handles<Unschedulable> for P {}

/// What the generated code needs of one handled event type, gathered behind a single
/// `E: Event` bound so a parameter that is not an event is reported once.
pub struct EventType<E> {
    /// `Event::NAME`.
    pub name: &'static str,
    /// Reads the event from an envelope; `true` keeps a fresh JSON decode for later readers.
    pub decode: for<'a> fn(&'a EventEnvelope, bool) -> Result<Decoded<'a, E>, EventError>,
}

/// The [`EventType`] of `E`.
pub const fn event_type<E: Event>() -> EventType<E> {
    EventType {
        name: E::NAME,
        decode: decode_event::<E>,
    }
}

/// The process id named by a `correlate = field` value.
pub fn process_id_of<T: ToProcessId + ?Sized>(value: &T) -> ProcessId {
    value.to_process_id()
}

/// Targets from the result of a `correlate_with` function.
pub fn targets<I: IntoIterator<Item = ProcessId>>(ids: I) -> Targets {
    ids.into_iter().collect()
}

/// Decodes the event a handler takes. Correlation keeps a JSON decode (`keep`), so the
/// handler that runs next borrows it; the handler itself is the last reader and keeps nothing.
#[inline]
pub fn decode_event<E: Event>(
    event: &EventEnvelope,
    keep: bool,
) -> Result<Decoded<'_, E>, EventError> {
    if keep {
        event.decode::<E>()
    } else {
        event.decode_once::<E>()
    }
}

/// Decodes the command a compensation handler takes.
pub fn decode_command<C: Command>(
    command: &CommandEnvelope,
) -> Result<Decoded<'_, C>, HandlerError> {
    command
        .decode::<C>()
        .map_err(|source| HandlerError::Command {
            command_type: command.command_type.to_string(),
            source,
        })
}

/// The error for an event type the dispatch table does not know.
pub fn unhandled(pm: &'static str, event: &EventEnvelope) -> EventError {
    EventError::Unhandled {
        pm,
        event_type: event.event_type.to_string(),
    }
}

/// Splits one command into its envelope parts.
pub fn command_parts<C: Command>(command: C) -> CommandParts {
    CommandParts {
        command_type: C::NAME,
        aggregate_type: C::AGGREGATE,
        aggregate_id: command.aggregate_id(),
        payload: Payload::typed(command),
    }
}

/// Collects a handler's commands (`Option`, `Vec`, ...) into the command enum.
pub fn commands<C, I>(commands: I) -> Vec<C>
where
    I: IntoIterator,
    I::Item: Into<C>,
{
    commands.into_iter().map(Into::into).collect()
}

/// Turns a handler's `Err` into a handler failure.
pub fn handler_error<E: Into<crate::error::BoxError>>(error: E) -> HandlerError {
    HandlerError::Returned(error.into())
}

/// Turns the error of an `#[upgrade]` function into the runtime's error type.
pub fn upgrade_error<E: Into<BoxError>>(error: E) -> BoxError {
    error.into()
}

/// Compile-time string equality, for the duplicate-event-name check.
pub const fn str_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// Asserts at compile time that `T` is an event (a spanned bound check for the macro).
pub const fn assert_event<T: Event>() {}

/// Asserts at compile time that `T` is a command (a spanned bound check for the macro).
pub const fn assert_command<T: Command>() {}

/// Asserts at compile time that a state type has what the runtime needs.
pub const fn assert_state<T: Default + serde::Serialize + serde::de::DeserializeOwned>() {}

/// The command type of the stand-in `ProcessManager` impl that `#[process_manager]` emits
/// after a compile error, so the error does not cascade; it has no values.
#[derive(Debug)]
pub enum NoCommands {}

impl CommandSet for NoCommands {
    fn into_parts(self) -> CommandParts {
        match self {}
    }
}

/// A context for calling a process manager's generated `handle`/`compensate` directly, as the
/// macro's own tests do; the runtime builds its contexts itself.
pub fn context<P>(process_id: ProcessId) -> Context<P> {
    Context::new(process_id)
}
