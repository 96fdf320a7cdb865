//! The context a handler may take as its last parameter.

use std::marker::PhantomData;

use crate::ids::ProcessId;

/// What a handler can ask of the runtime besides returning commands.
///
/// Take it as `ctx: &mut Context<Self>` after the event parameter.
pub struct Context<P> {
    process_id: ProcessId,
    stop: bool,
    _pm: PhantomData<fn() -> P>,
}

impl<P> Context<P> {
    pub(crate) fn new(process_id: ProcessId) -> Self {
        Self {
            process_id,
            stop: false,
            _pm: PhantomData,
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
}

impl<P> std::fmt::Debug for Context<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("process_id", &self.process_id)
            .field("stop", &self.stop)
            .finish()
    }
}
