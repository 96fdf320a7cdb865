//! The messages an instance task takes and the sending half of its mailbox.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use crate::activity::Activity;
use crate::envelope::{CommandEnvelope, EventEnvelope};
use crate::error::Error;
use crate::process_manager::{Compensation, Role};

/// What happened to one event at one instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Delivered {
    /// Handled and committed.
    Handled,
    /// Already handled earlier (same event id).
    Duplicate,
    /// Dropped by a routing rule (missing instance, finished instance).
    Ignored,
    /// Held by a parked instance until an operator resumes it.
    Parked,
}

/// The reply to a call. `Gone` means the task was retiring when the request arrived: the
/// caller resolves the instance again (a fresh task reloads it from the store).
#[derive(Debug)]
pub(crate) enum Answer<T> {
    Done(Result<T, Error>),
    Gone,
}

pub(crate) type Reply<T> = oneshot::Sender<Answer<T>>;

/// One unit of pending work for `Runtime::settled`, ended when dropped.
pub(crate) struct Ticket(Arc<Activity>);

impl Ticket {
    pub(crate) fn new(activity: &Arc<Activity>) -> Self {
        activity.add(1);
        Self(Arc::clone(activity))
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.0.done(1);
    }
}

/// Ordinary requests, handled in arrival order.
pub(crate) enum Request {
    /// Handle an event. `direct` marks delivery through an `InstanceHandle`, which started
    /// the instance explicitly and so bypasses the start/missing rules.
    Event {
        event: Arc<EventEnvelope>,
        role: Role,
        direct: bool,
        reply: Option<Reply<Delivered>>,
        _ticket: Ticket,
    },
    /// Create the instance if it does not exist (evoq's `start_link`).
    Start { reply: Reply<()> },
    /// Deliver a durable timer, if the instance still holds it.
    Timer {
        timer_id: uuid::Uuid,
        reply: Reply<Delivered>,
    },
    /// Resume a parked instance: retry its dead letter, or skip it.
    Resume { skip: bool, reply: Reply<()> },
    /// Finish the dispatch in flight, then exit; queued requests before it are handled first.
    Shutdown { done: oneshot::Sender<()> },
}

/// Requests that overtake queued events: queries about the instance.
pub(crate) enum Control<P> {
    GetState(Reply<P>),
    Status(Reply<crate::status::InstanceStatus>),
    // Boxed: an envelope is large, and every slot of the channel is sized for the largest.
    Compensate(Box<CommandEnvelope>, Reply<Compensation<CommandEnvelope>>),
}

/// The sending half of an instance's mailbox; cheap to clone.
pub(crate) struct Mailbox<P> {
    pub(crate) requests: mpsc::Sender<Request>,
    pub(crate) control: mpsc::Sender<Control<P>>,
}

impl<P> Clone for Mailbox<P> {
    fn clone(&self) -> Self {
        Self {
            requests: self.requests.clone(),
            control: self.control.clone(),
        }
    }
}

impl<P> Mailbox<P> {
    /// Sends an ordinary request and awaits its reply.
    pub(crate) async fn call<T>(&self, request: impl FnOnce(Reply<T>) -> Request) -> Answer<T> {
        let (tx, rx) = oneshot::channel();
        if self.requests.send(request(tx)).await.is_err() {
            return Answer::Gone;
        }
        rx.await.unwrap_or(Answer::Gone)
    }

    /// Sends an ordinary request without waiting for it to be handled.
    pub(crate) async fn cast(&self, request: Request) -> Result<(), Request> {
        self.requests.send(request).await.map_err(|e| e.0)
    }

    /// Sends a control request and awaits its reply.
    pub(crate) async fn control<T>(
        &self,
        request: impl FnOnce(Reply<T>) -> Control<P>,
    ) -> Answer<T> {
        let (tx, rx) = oneshot::channel();
        if self.control.send(request(tx)).await.is_err() {
            return Answer::Gone;
        }
        rx.await.unwrap_or(Answer::Gone)
    }
}
