//! The instances of one process-manager type: a registry keyed by process id.
//!
//! Keys are (PM type, process id), never event types: each PM type has its own host, so two
//! PM types that share an event type and a process id have two separate instances.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::{mpsc, oneshot};

use crate::envelope::EventEnvelope;
use crate::error::Error;
use crate::ids::ProcessId;
use crate::instance::mailbox::{Answer, Control, Delivered, Mailbox, Reply, Request, Ticket};
use crate::instance::task;
use crate::process_manager::{ProcessManager, Role};
use crate::shared::Shared;

/// Control requests are rare (queries), so a small queue is enough.
const CONTROL_CAPACITY: usize = 4;

struct Slot<P> {
    mailbox: Mailbox<P>,
    generation: u64,
}

pub(crate) struct Host<P: ProcessManager> {
    pub(crate) shared: Arc<Shared>,
    /// How this PM's transient command failures are retried.
    pub(crate) command_retry: crate::dispatch::RetryPolicy,
    registry: Mutex<HashMap<ProcessId, Slot<P>>>,
    generations: AtomicU64,
}

impl<P: ProcessManager> Host<P> {
    pub(crate) fn new(
        shared: Arc<Shared>,
        command_retry: crate::dispatch::RetryPolicy,
    ) -> Arc<Self> {
        Arc::new(Self {
            shared,
            command_retry,
            registry: Mutex::new(HashMap::new()),
            generations: AtomicU64::new(0),
        })
    }

    fn registry(&self) -> MutexGuard<'_, HashMap<ProcessId, Slot<P>>> {
        // The map is consistent after every statement, so a poisoned lock is still usable.
        self.registry.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The mailbox of the live task for `id`, spawning one (which loads the instance from the
    /// store) when there is none.
    pub(crate) fn mailbox(self: &Arc<Self>, id: &ProcessId) -> Mailbox<P> {
        let mut registry = self.registry();
        if let Some(slot) = registry.get(id) {
            return slot.mailbox.clone();
        }
        let (requests, requests_rx) = mpsc::channel(self.shared.config.mailbox_capacity);
        let (control, control_rx) = mpsc::channel(CONTROL_CAPACITY);
        let mailbox = Mailbox { requests, control };
        let generation = self.generations.fetch_add(1, Ordering::Relaxed);
        registry.insert(
            id.clone(),
            Slot {
                mailbox: mailbox.clone(),
                generation,
            },
        );
        drop(registry);
        // Loading counts as pending work until the task has counted its own outbox, so
        // `settled()` cannot slip between a spawn (after a restart, say) and the load.
        let loading = Ticket::new(&self.shared.activity);
        tokio::spawn(task::run(
            Arc::clone(self),
            id.clone(),
            generation,
            requests_rx,
            control_rx,
            loading,
        ));
        mailbox
    }

    /// Removes the task `generation` of `id` from the registry, unless a newer one replaced it.
    pub(crate) fn retire(&self, id: &ProcessId, generation: u64) {
        let mut registry = self.registry();
        if registry
            .get(id)
            .is_some_and(|slot| slot.generation == generation)
        {
            registry.remove(id);
        }
    }

    /// Mailboxes of every live task, for shutdown.
    pub(crate) fn live_mailboxes(&self) -> Vec<Mailbox<P>> {
        self.registry()
            .values()
            .map(|slot| slot.mailbox.clone())
            .collect()
    }

    /// Number of live tasks.
    pub(crate) fn live_count(&self) -> usize {
        self.registry().len()
    }

    /// Queues `event` at instance `id` and returns the future of its reply. Queueing happens
    /// before this returns, so events queued one after the other keep their order.
    pub(crate) async fn send(
        self: &Arc<Self>,
        event: &Arc<EventEnvelope>,
        id: ProcessId,
        role: Role,
        direct: bool,
    ) -> impl Future<Output = Result<Delivered, Error>> + Send + 'static {
        let (tx, rx) = oneshot::channel();
        let request = Request::Event {
            event: Arc::clone(event),
            role,
            direct,
            reply: Some(tx),
            _ticket: Ticket::new(&self.shared.activity),
        };
        let sent = self.mailbox(&id).requests.send(request).await.is_ok();
        let host = Arc::clone(self);
        let event = Arc::clone(event);
        async move {
            if sent && let Ok(Answer::Done(result)) = rx.await {
                return result;
            }
            host.deliver(event, id, role, direct).await
        }
    }

    /// Delivers `event` to instance `id` and waits for the result, following the instance
    /// across task restarts.
    pub(crate) async fn deliver(
        self: &Arc<Self>,
        event: Arc<EventEnvelope>,
        id: ProcessId,
        role: Role,
        direct: bool,
    ) -> Result<Delivered, Error> {
        self.call(&id, |reply| Request::Event {
            event: Arc::clone(&event),
            role,
            direct,
            reply: Some(reply),
            _ticket: Ticket::new(&self.shared.activity),
        })
        .await
    }

    /// Delivers an event that was cast (no one awaits it) to whatever task now runs `id`.
    pub(crate) async fn redeliver(
        self: Arc<Self>,
        id: ProcessId,
        event: Arc<EventEnvelope>,
        role: Role,
        direct: bool,
        ticket: Ticket,
    ) {
        let mut request = Request::Event {
            event,
            role,
            direct,
            reply: None,
            _ticket: ticket,
        };
        loop {
            match self.mailbox(&id).cast(request).await {
                Ok(()) => return,
                Err(back) => request = back,
            }
        }
    }

    /// Sends an ordinary request to instance `id`, resolving it again while tasks retire.
    pub(crate) async fn call<T>(
        self: &Arc<Self>,
        id: &ProcessId,
        request: impl Fn(Reply<T>) -> Request,
    ) -> Result<T, Error> {
        loop {
            if let Answer::Done(result) = self.mailbox(id).call(&request).await {
                return result;
            }
        }
    }

    /// Sends a control request to instance `id`, resolving it again while tasks retire.
    pub(crate) async fn control<T>(
        self: &Arc<Self>,
        id: &ProcessId,
        request: impl Fn(Reply<T>) -> Control<P>,
    ) -> Result<T, Error> {
        loop {
            if let Answer::Done(result) = self.mailbox(id).control(&request).await {
                return result;
            }
        }
    }
}
