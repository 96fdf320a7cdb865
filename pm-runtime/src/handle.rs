//! `InstanceHandle`: evoq's `evoq_pm_instance` surface over one instance.

use std::sync::Arc;

use crate::envelope::{CommandEnvelope, EventEnvelope};
use crate::error::{Error, EventError, HandlerError};
use crate::host::Host;
use crate::ids::ProcessId;
use crate::instance::mailbox::{Control, Request, Via};
use crate::process_manager::{Compensation, ProcessManager, Role};

/// A handle to one started instance, from [`Runtime::instance`](crate::Runtime::instance).
///
/// It names the instance, not a task: it keeps working while the runtime passivates and
/// reloads the instance behind it. Cloning is cheap.
pub struct InstanceHandle<P: ProcessManager> {
    host: Arc<Host<P>>,
    id: ProcessId,
}

impl<P: ProcessManager> Clone for InstanceHandle<P> {
    fn clone(&self) -> Self {
        Self {
            host: Arc::clone(&self.host),
            id: self.id.clone(),
        }
    }
}

impl<P: ProcessManager> std::fmt::Debug for InstanceHandle<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InstanceHandle")
            .field("pm", &P::NAME)
            .field("process_id", &self.id)
            .finish()
    }
}

impl<P: ProcessManager> InstanceHandle<P> {
    pub(crate) fn new(host: Arc<Host<P>>, id: ProcessId) -> Self {
        Self { host, id }
    }

    /// The instance's process id.
    pub fn process_id(&self) -> &ProcessId {
        &self.id
    }

    /// Handles one event at this instance, bypassing correlation (evoq's `handle_event`).
    ///
    /// The instance was started explicitly, so `#[start(new)]` and the missing-instance
    /// policy do not apply; `#[stop]` still completes it. Returns once the event is handled
    /// and committed (or recognised as a duplicate). Fails with [`Error::Handler`] when the
    /// handler fails (the state is unchanged), with [`Error::Finished`] when the instance no
    /// longer takes events.
    pub async fn handle_event(&self, event: EventEnvelope) -> Result<(), Error> {
        let role = P::EVENTS
            .iter()
            .find(|route| route.event_type == event.event_type)
            .map(|route| match route.role {
                Role::StartNew => Role::Start,
                role => role,
            })
            .ok_or_else(|| Error::Handler {
                pm: P::NAME,
                process_id: self.id.clone(),
                event_id: event.event_id,
                source: HandlerError::Event(EventError::Unhandled {
                    pm: P::NAME,
                    event_type: event.event_type.to_string(),
                }),
            })?;
        self.host
            .deliver(Arc::new(event), self.id.clone(), role, Via::Handle)
            .await
            .map(drop)
    }

    /// A copy of the instance's state (evoq's `get_state`).
    pub async fn get_state(&self) -> Result<P, Error> {
        self.host.control(&self.id, Control::GetState).await
    }

    /// The undo of `command` per the `#[compensate]` mappings (evoq's `compensate/2`):
    /// `Commands` with their envelopes, or `Skip` when the command type has no mapping.
    ///
    /// This is a query: the handler runs on a copy of the state and nothing is dispatched.
    /// The runtime dispatches compensations itself when a saga aborts.
    pub async fn compensate(
        &self,
        command: &CommandEnvelope,
    ) -> Result<Compensation<CommandEnvelope>, Error> {
        self.host
            .control(&self.id, |reply| {
                Control::Compensate(Box::new(command.clone()), reply)
            })
            .await
    }

    /// Starts the instance if it does not exist yet (evoq's `start_link`).
    pub(crate) async fn start(&self) -> Result<(), Error> {
        self.host
            .call(&self.id, |reply| Request::Start { reply })
            .await
    }
}
