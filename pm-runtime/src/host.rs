//! The instances of one process-manager type: a registry keyed by process id.
//!
//! Keys are (PM type, process id), never event types: each PM type has its own host, so two
//! PM types that share an event type and a process id have two separate instances.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::envelope::EventEnvelope;
use crate::error::Error;
use crate::fast_map::HashMap;
use crate::ids::ProcessId;
use crate::instance::mailbox::{Answer, Control, Delivered, Mailbox, Reply, Request, Ticket};
use crate::instance::{Instance, task};
use crate::process_manager::{ProcessManager, Role};
use crate::shared::Shared;

/// An instance in memory: awake (a task runs it) or hibernating (no task; the state waits
/// here for the next request).
enum Slot<P: ProcessManager> {
    Awake {
        mailbox: Mailbox<P>,
        generation: u64,
    },
    Asleep {
        instance: Box<Instance<P>>,
        /// When the instance last did anything; it is passivated `idle_timeout` after.
        idle_since: Instant,
    },
}

/// How a new task gets its instance.
pub(crate) enum Begin<P: ProcessManager> {
    /// Load it from the store.
    Load,
    /// Wake it from hibernation.
    Wake(Box<Instance<P>>),
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
            registry: Mutex::new(HashMap::default()),
            generations: AtomicU64::new(0),
        })
    }

    fn registry(&self) -> MutexGuard<'_, HashMap<ProcessId, Slot<P>>> {
        // The map is consistent after every statement, so a poisoned lock is still usable.
        self.registry.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The mailbox of the live task for `id`, spawning one when there is none: around the
    /// hibernating instance if there is one, else loading the instance from the store.
    pub(crate) fn mailbox(self: &Arc<Self>, id: &ProcessId) -> Mailbox<P> {
        let mut registry = self.registry();
        if let Some(Slot::Awake { mailbox, .. }) = registry.get(id) {
            return mailbox.clone();
        }
        let begin = match registry.remove(id) {
            Some(Slot::Asleep { instance, .. }) => Begin::Wake(instance),
            Some(Slot::Awake { .. }) | None => Begin::Load,
        };
        let mailbox = Mailbox::new(self.shared.config.mailbox_capacity);
        let generation = self.generations.fetch_add(1, Ordering::Relaxed);
        registry.insert(
            id.clone(),
            Slot::Awake {
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
            mailbox.clone(),
            begin,
            loading,
        ));
        mailbox
    }

    /// Removes the task `generation` of `id` from the registry, unless a newer one replaced it.
    pub(crate) fn retire(&self, id: &ProcessId, generation: u64) {
        let mut registry = self.registry();
        if let Some(Slot::Awake { generation: g, .. }) = registry.get(id)
            && *g == generation
        {
            registry.remove(id);
        }
    }

    /// Ends task `generation` of `id` and keeps its instance asleep in the registry, if
    /// nothing is queued in its mailbox (`None`); gives the instance back otherwise (the task
    /// goes on).
    /// Closing the mailbox and swapping the slot happen under the registry's lock, so a
    /// request either lands before (and the task handles it) or finds the mailbox closed and
    /// resolves the instance again, which wakes it.
    pub(crate) fn hibernate(
        &self,
        id: &ProcessId,
        generation: u64,
        mailbox: &Mailbox<P>,
        mut instance: Instance<P>,
    ) -> Option<Instance<P>> {
        // Outside the lock; harmless if the instance stays awake after all.
        instance.compact();
        let mut registry = self.registry();
        let Some(slot) = registry.get_mut(id) else {
            return Some(instance);
        };
        if !matches!(slot, Slot::Awake { generation: g, .. } if *g == generation)
            || !mailbox.close_if_empty()
        {
            return Some(instance);
        }
        let idle_since = Instant::now()
            .checked_sub(self.shared.config.hibernate_after)
            .unwrap_or_else(Instant::now);
        *slot = Slot::Asleep {
            instance: Box::new(instance),
            idle_since,
        };
        None
    }

    /// Passivates every hibernating instance idle for `idle_timeout` or longer: its state is
    /// in the store, so dropping it loses nothing.
    pub(crate) fn sweep(&self) {
        let idle_timeout = self.shared.config.idle_timeout;
        let now = Instant::now();
        let mut passivated = 0;
        self.registry().retain(|_, slot| match slot {
            Slot::Asleep { idle_since, .. } if now.duration_since(*idle_since) >= idle_timeout => {
                passivated += 1;
                false
            }
            _ => true,
        });
        let counter = &self.shared.counters.passivated;
        counter.fetch_add(passivated, Ordering::Relaxed);
    }

    /// Mailboxes of every live task, for shutdown; hibernating instances are dropped (their
    /// state is in the store).
    pub(crate) fn live_mailboxes(&self) -> Vec<Mailbox<P>> {
        let mut registry = self.registry();
        registry.retain(|_, slot| matches!(slot, Slot::Awake { .. }));
        registry
            .values()
            .filter_map(|slot| match slot {
                Slot::Awake { mailbox, .. } => Some(mailbox.clone()),
                Slot::Asleep { .. } => None,
            })
            .collect()
    }

    /// Number of instances in memory, awake or hibernating.
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
        let sent = self.mailbox(&id).cast(request).await.is_ok();
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
