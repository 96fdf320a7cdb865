//! The `ProcessManager` trait that `#[process_manager]` implements, and the routing vocabulary.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::context::Context;
use crate::envelope::{CommandEnvelope, EventEnvelope};
use crate::error::{BoxError, EventError, HandlerError};
use crate::failure::{CommandFailure, ErrorAction};
use crate::ids::ProcessId;
use crate::payload::Payload;

/// What an event does to the lifecycle of the instance it reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// `#[start]`: creates the instance, or continues it when it exists.
    Start,
    /// `#[start(new)]`: creates the instance; an existing one is an error.
    StartNew,
    /// `#[handle]`: continues an existing instance; a missing one follows [`MissingPolicy`].
    Continue,
    /// `#[stop]`: continues, then completes the instance once its commands went out.
    Stop,
}

/// What happens to a `#[handle]` or `#[stop]` event whose instance does not exist.
///
/// Set with `#[process_manager(missing = "ignore" | "start" | "error")]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MissingPolicy {
    /// Drop the event for that instance and count it (the default).
    #[default]
    Ignore,
    /// Start the instance, as evoq and Commanded do.
    Start,
    /// Refuse the event: `publish` returns an error naming the PM and process id.
    Error,
}

/// One event type a process manager handles, with its lifecycle role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventRoute {
    /// The event type name.
    pub event_type: &'static str,
    /// What the event does to the instance.
    pub role: Role,
}

/// The instances one event reaches within one process manager: zero, one or many.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Targets {
    /// The event is not for this process manager.
    #[default]
    None,
    /// One instance, the common case (no allocation).
    One(ProcessId),
    /// Any number of instances (`correlate_with`).
    Many(Vec<ProcessId>),
}

impl Targets {
    /// Number of instances targeted.
    pub fn len(&self) -> usize {
        match self {
            Self::None => 0,
            Self::One(_) => 1,
            Self::Many(ids) => ids.len(),
        }
    }

    /// Whether no instance is targeted.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The targeted ids in order.
    pub fn iter(&self) -> impl Iterator<Item = &ProcessId> {
        let (one, many) = match self {
            Self::None => (None, &[][..]),
            Self::One(id) => (Some(id), &[][..]),
            Self::Many(ids) => (None, &ids[..]),
        };
        one.into_iter().chain(many)
    }
}

impl FromIterator<ProcessId> for Targets {
    fn from_iter<I: IntoIterator<Item = ProcessId>>(iter: I) -> Self {
        let mut ids: Vec<ProcessId> = iter.into_iter().collect();
        // One event must reach an instance once even if the user's function names it twice.
        let mut seen = std::collections::HashSet::with_capacity(ids.len());
        ids.retain(|id| seen.insert(id.clone()));
        match ids.len() {
            0 => Self::None,
            1 => Self::One(ids.remove(0)),
            _ => Self::Many(ids),
        }
    }
}

/// The result of correlating one event: its role and the instances it reaches.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Correlation {
    /// What the event does to each instance.
    pub role: Option<Role>,
    /// The instances it reaches.
    pub targets: Targets,
}

impl Correlation {
    /// The event is not for this process manager.
    pub fn none() -> Self {
        Self::default()
    }

    /// The event reaches these instances with this role.
    pub fn new(role: Role, targets: Targets) -> Self {
        Self {
            role: Some(role),
            targets,
        }
    }
}

/// The answer of a compensation handler for one completed command (evoq's `compensate/2`).
#[derive(Debug, Clone, PartialEq)]
pub enum Compensation<C> {
    /// The commands that undo it.
    Commands(Vec<C>),
    /// Nothing undoes it (no `#[compensate]` mapping for its type).
    Skip,
}

/// A command split into what its envelope needs; produced by the generated command enum.
#[derive(Debug)]
pub struct CommandParts {
    /// [`Command::NAME`](crate::Command::NAME).
    pub command_type: &'static str,
    /// [`Command::AGGREGATE`](crate::Command::AGGREGATE).
    pub aggregate_type: &'static str,
    /// [`Command::aggregate_id`](crate::Command::aggregate_id).
    pub aggregate_id: String,
    /// The typed command.
    pub payload: Payload,
}

/// The set of commands one process manager may send: the generated `<Type>Command` enum.
pub trait CommandSet: Send + 'static {
    /// Splits the command into the parts of its envelope.
    fn into_parts(self) -> CommandParts;
}

/// A process manager: the state of one saga instance and the handlers that drive it.
///
/// `#[process_manager]` implements this from an annotated `impl` block, and that is the
/// intended way to get it; the trait is public so the runtime's contract is documented in one
/// place. The state is `Self`: it starts as [`ProcessManager::init`], is mutated by handlers,
/// and is serialised to the store after every handled event.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a process manager",
    note = "put `#[process_manager(...)]` on an `impl {Self}` block with `#[start]`/`#[handle]` handlers"
)]
pub trait ProcessManager: Serialize + DeserializeOwned + Send + Sized + 'static {
    /// Stable name; part of every store key and command id, so keep it once deployed.
    const NAME: &'static str;
    /// What happens to a continuing event whose instance does not exist.
    const MISSING: MissingPolicy = MissingPolicy::Ignore;
    /// Version of the state's shape (`#[process_manager(version = N)]`), stored with every
    /// state so an older one can be upgraded when it is loaded.
    const VERSION: u32 = 1;
    /// A Mermaid flowchart of the process manager (events, lifecycle, commands,
    /// compensations), which `#[process_manager]` derives from the declarations; empty for a
    /// hand-written implementation. The runtime records it in the store at start, where the
    /// `pm` inspector reads it.
    const DIAGRAM: &'static str = "";
    /// Every event type handled, with its role.
    const EVENTS: &'static [EventRoute];
    /// The commands this process manager may send.
    type Command: CommandSet;

    /// The state of a new instance (`Default::default()` unless an `#[init]` handler exists).
    fn init(process_id: &ProcessId) -> Self;

    /// The instances an event reaches. Events of types not in [`Self::EVENTS`] give
    /// [`Correlation::none`].
    fn correlate(event: &EventEnvelope) -> Result<Correlation, EventError>;

    /// Runs the handler of the event's type and returns the commands to send.
    fn handle(
        &mut self,
        event: &EventEnvelope,
        ctx: &mut Context<Self>,
    ) -> Result<Vec<Self::Command>, HandlerError>;

    /// The undo of a completed command: the `#[compensate]` handler of its type, or `Skip`.
    fn compensate(
        &mut self,
        command: &CommandEnvelope,
        ctx: &mut Context<Self>,
    ) -> Result<Compensation<Self::Command>, HandlerError>;

    /// The `#[on_error]` decision about a failed command; `None` applies the runtime's
    /// default (retry transient failures with backoff, then compensate; compensate a
    /// rejection at once).
    fn on_error(
        &mut self,
        failure: &CommandFailure,
        ctx: &mut Context<Self>,
    ) -> Option<ErrorAction<Self::Command>> {
        let _ = (failure, ctx);
        None
    }

    /// Reads a state stored by an older [`Self::VERSION`] (`from_version`). The default
    /// deserialises it as it is, which suits changes serde absorbs (new fields with
    /// `#[serde(default)]`); write `#[upgrade]` for anything else.
    fn upgrade(from_version: u32, state: serde_json::Value) -> Result<Self, BoxError> {
        let _ = from_version;
        Ok(serde_json::from_value(state)?)
    }
}
