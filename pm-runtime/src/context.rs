//! The context a handler may take as its last parameter.

use std::marker::PhantomData;
use std::time::Duration;

use crate::__private::Handles;
use crate::failure::CommandFailure;
use crate::ids::ProcessId;
use crate::message::Event;
use crate::payload::Payload;

/// A timeout requested by a handler, turned into a durable timer after the commit.
pub(crate) struct Scheduled {
    pub(crate) after: Duration,
    pub(crate) event_type: &'static str,
    pub(crate) payload: Payload,
}

/// What a handler can ask of the runtime besides returning commands.
///
/// Take it as `ctx: &mut Context<Self>` after the event (or command) parameter. Everything
/// asked here takes effect only if the handler succeeds: it is committed with the new state.
pub struct Context<P> {
    process_id: ProcessId,
    stop: bool,
    pub(crate) scheduled: Vec<Scheduled>,
    pub(crate) cancelled: Vec<&'static str>,
    // Boxed: only compensation handlers have one, and a context is built for every event.
    failure: Option<Box<CommandFailure>>,
    _pm: PhantomData<fn() -> P>,
}

impl<P> Context<P> {
    pub(crate) fn new(process_id: ProcessId) -> Self {
        Self {
            process_id,
            stop: false,
            scheduled: Vec::new(),
            cancelled: Vec::new(),
            failure: None,
            _pm: PhantomData,
        }
    }

    pub(crate) fn with_failure(process_id: ProcessId, failure: Option<CommandFailure>) -> Self {
        Self {
            failure: failure.map(Box::new),
            ..Self::new(process_id)
        }
    }

    /// The id of the instance being handled.
    pub fn process_id(&self) -> &ProcessId {
        &self.process_id
    }

    /// Completes the instance after this handler, as `#[stop]` does: the commands it returns
    /// still go out first.
    pub fn stop(&mut self) {
        self.stop = true;
    }

    /// Whether [`Context::stop`] was called.
    pub fn is_stopping(&self) -> bool {
        self.stop
    }

    /// Delivers `event` to this instance, and to no other, once `after` has passed on the
    /// runtime's clock.
    ///
    /// The timeout is durable: it is stored with the instance, survives restarts and is
    /// delivered at least once (the instance handles it once: its id is deduplicated). It is
    /// cancelled when the instance completes. Only events this process manager handles can
    /// be scheduled; anything else is a compile error.
    pub fn schedule<E: Event>(&mut self, after: Duration, event: E)
    where
        P: Handles<E>,
    {
        self.scheduled.push(Scheduled {
            after,
            event_type: E::NAME,
            payload: Payload::typed(event),
        });
    }

    /// Cancels this instance's pending timeouts of event type `E`, including any scheduled
    /// earlier in this same handler.
    pub fn cancel<E: Event>(&mut self)
    where
        P: Handles<E>,
    {
        self.scheduled.retain(|s| s.event_type != E::NAME);
        self.cancelled.push(E::NAME);
    }

    /// In a compensation handler: the failure that made the saga abort.
    pub fn failure(&self) -> Option<&CommandFailure> {
        self.failure.as_deref()
    }
}

impl<P> std::fmt::Debug for Context<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("process_id", &self.process_id)
            .field("stop", &self.stop)
            .field("scheduled", &self.scheduled.len())
            .field("cancelled", &self.cancelled)
            .finish()
    }
}
