//! The `Event` and `Command` traits that `#[derive(Event)]` and `#[derive(Command)]` implement.

use serde::Serialize;
use serde::de::DeserializeOwned;

/// An event a process manager can react to.
///
/// Derive it with `#[derive(Event)]`; `NAME` defaults to the type's name and
/// `#[event(name = "...")]` overrides it. The name is what routes an [`EventEnvelope`]
/// arriving as JSON, so keep it stable once events are stored.
///
/// [`EventEnvelope`]: crate::EventEnvelope
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an event",
    label = "`{Self}` does not implement `Event`",
    note = "add `#[derive(pm_runtime::Event)]` (with `Serialize` and `Deserialize`) to `{Self}`"
)]
pub trait Event: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The stable event type name.
    const NAME: &'static str;
}

/// A command a process manager sends to an aggregate.
///
/// Derive it with `#[derive(Command)]` and `#[command(aggregate = "payment", id = order_id)]`,
/// which sets [`Command::AGGREGATE`] and reads [`Command::aggregate_id`] from the field.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a command",
    label = "`{Self}` does not implement `Command`",
    note = "add `#[derive(pm_runtime::Command)]` and `#[command(aggregate = \"...\", id = field)]` to `{Self}`"
)]
pub trait Command: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The stable command type name.
    const NAME: &'static str;
    /// The type of aggregate that executes it.
    const AGGREGATE: &'static str;
    /// The id of the aggregate instance that executes it.
    fn aggregate_id(&self) -> String;
}
