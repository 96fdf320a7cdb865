//! The messages an instance task takes and the sending half of its mailbox.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Poll, Waker};

use tokio::sync::{Semaphore, oneshot};

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

/// How an event was sent to an instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Via {
    /// Published with an id from outside, which a redelivery may carry again: the id is
    /// recorded, so the instance skips it next time.
    Publish,
    /// Published with an id the runtime drew for it (`Runtime::publish`). Nothing outside
    /// holds that id, so no redelivery can carry it, and recording it would only grow the
    /// instance's dedup set and the store.
    PublishMinted,
    /// Sent to a known instance through an `InstanceHandle`, which started it explicitly
    /// and so bypasses the start and missing rules.
    Handle,
}

/// Ordinary requests, handled in arrival order.
pub(crate) enum Request {
    /// Handle an event.
    Event {
        event: Arc<EventEnvelope>,
        role: Role,
        via: Via,
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
    // Boxed: an envelope is large, and every slot of the queue is sized for the largest.
    Compensate(Box<CommandEnvelope>, Reply<Compensation<CommandEnvelope>>),
}

/// Something taken from the mailbox.
pub(crate) enum Incoming<P> {
    Control(Control<P>),
    Request(Request),
}

/// An instance's mailbox: ordinary requests (bounded: a full mailbox makes senders wait)
/// and control requests (unbounded: queries, each with a caller waiting on it), behind one
/// lock. Cheap to clone; every clone is the same mailbox, and the instance's task is the
/// one receiver.
///
/// It replaces a pair of tokio channels, which allocate their first block of slots up
/// front (kilobytes per idle instance); this one allocates its queues on first use, and
/// can be closed atomically when, and only when, nothing is queued (see
/// [`Mailbox::close_if_empty`]).
pub(crate) struct Mailbox<P>(Arc<Inner<P>>);

struct Inner<P> {
    queue: Mutex<Queue<P>>,
    /// One permit per free request slot; closed with the mailbox, which fails waiting senders.
    room: Semaphore,
    /// Live handles, the receiving task's included: at one, nobody else can send.
    handles: AtomicUsize,
}

struct Queue<P> {
    requests: VecDeque<Request>,
    control: VecDeque<Control<P>>,
    closed: bool,
    /// The receiving task, when it waits for something to arrive.
    waker: Option<Waker>,
}

impl<P> Clone for Mailbox<P> {
    fn clone(&self) -> Self {
        self.0.handles.fetch_add(1, Ordering::Relaxed);
        Self(Arc::clone(&self.0))
    }
}

impl<P> Drop for Mailbox<P> {
    fn drop(&mut self) {
        // The one drop that leaves a single handle wakes the receiver, which may be waiting
        // for a request that can no longer come (see `recv_unless_orphaned`).
        if self.0.handles.fetch_sub(1, Ordering::AcqRel) == 2 {
            let waker = self.queue().waker.take();
            if let Some(waker) = waker {
                waker.wake();
            }
        }
    }
}

impl<P> Mailbox<P> {
    /// An empty mailbox taking up to `capacity` ordinary requests.
    pub(crate) fn new(capacity: usize) -> Self {
        Self(Arc::new(Inner {
            queue: Mutex::new(Queue {
                requests: VecDeque::new(),
                control: VecDeque::new(),
                closed: false,
                waker: None,
            }),
            room: Semaphore::new(capacity),
            handles: AtomicUsize::new(1),
        }))
    }

    fn queue(&self) -> MutexGuard<'_, Queue<P>> {
        // Every critical section leaves the queue consistent, so a poisoned lock is usable.
        self.0.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues an ordinary request, waiting while the mailbox is full; gives it back when the
    /// mailbox is closed (its task retired), so the caller can resolve the instance again.
    async fn send(&self, request: Request) -> Result<(), Request> {
        let Ok(permit) = self.0.room.acquire().await else {
            return Err(request);
        };
        // The permit comes back when the task takes the request (`recv`).
        permit.forget();
        self.push(request, |queue| &mut queue.requests)
            .inspect_err(|_| self.0.room.add_permits(1))
    }

    fn push<T>(
        &self,
        item: T,
        into: impl FnOnce(&mut Queue<P>) -> &mut VecDeque<T>,
    ) -> Result<(), T> {
        let mut queue = self.queue();
        if queue.closed {
            return Err(item);
        }
        into(&mut queue).push_back(item);
        let waker = queue.waker.take();
        drop(queue);
        if let Some(waker) = waker {
            waker.wake();
        }
        Ok(())
    }

    /// Sends an ordinary request and awaits its reply.
    pub(crate) async fn call<T>(&self, request: impl FnOnce(Reply<T>) -> Request) -> Answer<T> {
        let (tx, rx) = oneshot::channel();
        if self.send(request(tx)).await.is_err() {
            return Answer::Gone;
        }
        rx.await.unwrap_or(Answer::Gone)
    }

    /// Sends an ordinary request without waiting for it to be handled.
    pub(crate) async fn cast(&self, request: Request) -> Result<(), Request> {
        self.send(request).await
    }

    /// Sends a control request and awaits its reply.
    pub(crate) async fn control<T>(
        &self,
        request: impl FnOnce(Reply<T>) -> Control<P>,
    ) -> Answer<T> {
        let (tx, rx) = oneshot::channel();
        if self.push(request(tx), |queue| &mut queue.control).is_err() {
            return Answer::Gone;
        }
        rx.await.unwrap_or(Answer::Gone)
    }

    /// The receiving side: the next control request, else (when `requests`) the next
    /// ordinary one, waiting until one arrives. Nothing is taken unless the future
    /// completes, so it can lose a `select!`.
    pub(crate) fn recv(&self, requests: bool) -> impl Future<Output = Incoming<P>> + '_ {
        std::future::poll_fn(move |cx| {
            let mut queue = self.queue();
            if let Some(control) = queue.control.pop_front() {
                return Poll::Ready(Incoming::Control(control));
            }
            if requests && let Some(request) = queue.requests.pop_front() {
                drop(queue);
                self.0.room.add_permits(1);
                return Poll::Ready(Incoming::Request(request));
            }
            if !queue
                .waker
                .as_ref()
                .is_some_and(|w| w.will_wake(cx.waker()))
            {
                queue.waker = Some(cx.waker().clone());
            }
            Poll::Pending
        })
    }

    /// As [`Mailbox::recv`] with `requests`, but `None` once the caller holds the only handle
    /// and nothing is queued: no request can arrive any more. For a task that has left the
    /// registry and waits only for requests already on their way.
    pub(crate) async fn recv_unless_orphaned(&self) -> Option<Incoming<P>> {
        std::future::poll_fn(|cx| {
            let mut queue = self.queue();
            if let Some(control) = queue.control.pop_front() {
                return Poll::Ready(Some(Incoming::Control(control)));
            }
            if let Some(request) = queue.requests.pop_front() {
                drop(queue);
                self.0.room.add_permits(1);
                return Poll::Ready(Some(Incoming::Request(request)));
            }
            // Checked under the lock that `Drop` takes to wake us, so no wake-up is missed.
            if self.0.handles.load(Ordering::Acquire) == 1 {
                return Poll::Ready(None);
            }
            queue.waker = Some(cx.waker().clone());
            Poll::Pending
        })
        .await
    }

    /// Closes the mailbox if nothing is queued; false (and still open) otherwise. Senders
    /// after a close get their request back and resolve the instance again.
    pub(crate) fn close_if_empty(&self) -> bool {
        let mut queue = self.queue();
        if !queue.requests.is_empty() || !queue.control.is_empty() {
            return false;
        }
        queue.closed = true;
        drop(queue);
        self.0.room.close();
        true
    }

    /// Closes the mailbox and returns what was still queued.
    pub(crate) fn close(&self) -> (VecDeque<Request>, VecDeque<Control<P>>) {
        let mut queue = self.queue();
        queue.closed = true;
        let queued = (
            std::mem::take(&mut queue.requests),
            std::mem::take(&mut queue.control),
        );
        drop(queue);
        self.0.room.close();
        queued
    }
}
