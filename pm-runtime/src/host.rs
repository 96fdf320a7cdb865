//! The instances of one process-manager type: a registry keyed by process id.
//!
//! Keys are (PM type, process id), never event types: each PM type has its own host, so two
//! PM types that share an event type and a process id have two separate instances.

use std::future::Future;
use std::hash::BuildHasher;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::oneshot;

use crate::envelope::EventEnvelope;
use crate::error::Error;
use crate::fast_map::HashMap;
use crate::ids::ProcessId;
use crate::instance::inline::Inline;
use crate::instance::mailbox::{Answer, Control, Delivered, Mailbox, Reply, Request, Ticket, Via};
use crate::instance::{Instance, task};
use crate::moment::{self, Moment};
use crate::process_manager::{ProcessManager, Role};
use crate::shared::Shared;
use crate::striped::Padded;

/// An instance in memory: awake (a task runs it), busy (a publisher runs it on its own task)
/// or hibernating (no task; the state waits here for the next request).
enum Slot<P: ProcessManager> {
    Awake {
        mailbox: Mailbox<P>,
        generation: u64,
    },
    /// Claimed by a publisher (see [`Inline`]). A mailbox is made only when someone else
    /// sends to the instance meanwhile; the publisher then hands the instance to a task.
    Busy {
        mailbox: Option<Mailbox<P>>,
        generation: u64,
    },
    Asleep {
        instance: Box<Instance<P>>,
        /// When the instance last did anything; it is passivated `idle_timeout` after.
        idle_since: Moment,
    },
}

/// What a publish to one instance found (see [`Host::claim`]).
pub(crate) enum Claim<'a, P: ProcessManager> {
    /// A task runs the instance, or a publisher does: queue the event in its mailbox.
    Queue(Mailbox<P>),
    /// The instance was idle and is now the caller's to run.
    Inline(Inline<'a, P>),
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
    /// The instances in memory, spread by process id over independently locked shards: a
    /// publish takes a shard's lock twice (claim and put-back), and with one lock the cores
    /// would queue behind each other there. Padded: two shards on one cache line moved it
    /// between the cores whenever each locked one of them (14% of the routed throughput).
    shards: Box<[Padded<Mutex<Registry<P>>>]>,
    spread: foldhash::fast::RandomState,
}

/// Registry shards; a power of two, so picking one is a mask.
const SHARDS: usize = 16;

/// Some of the instances in memory, and the number of the next task or claim (a
/// generation): a task or a publisher only ever changes the slot it was given, which may
/// since have been retired and made again for the same process id. A process id always maps
/// to the same shard, so generations need only be unique per shard.
struct Registry<P: ProcessManager> {
    slots: HashMap<ProcessId, Slot<P>>,
    // Counted under the shard's lock, which every user holds anyway, rather than in an
    // atomic of its own that both cores would pull back and forth.
    next_generation: u64,
}

impl<P: ProcessManager> Registry<P> {
    fn generation(&mut self) -> u64 {
        self.next_generation += 1;
        self.next_generation
    }
}

impl<P: ProcessManager> Host<P> {
    pub(crate) fn new(
        shared: Arc<Shared>,
        command_retry: crate::dispatch::RetryPolicy,
    ) -> Arc<Self> {
        Arc::new(Self {
            shared,
            command_retry,
            shards: (0..SHARDS)
                .map(|_| {
                    Padded(Mutex::new(Registry {
                        slots: HashMap::default(),
                        next_generation: 0,
                    }))
                })
                .collect(),
            spread: foldhash::fast::RandomState::default(),
        })
    }

    /// The shard holding `id`, locked.
    fn registry(&self, id: &ProcessId) -> MutexGuard<'_, Registry<P>> {
        let shard = self.spread.hash_one(id.as_str()) as usize & (SHARDS - 1);
        lock(&self.shards[shard].0)
    }

    /// Every shard, locked one after the other.
    fn every_shard(&self) -> impl Iterator<Item = MutexGuard<'_, Registry<P>>> {
        self.shards.iter().map(|shard| lock(&shard.0))
    }

    /// The mailbox of the live task for `id` (or of the publisher running it), spawning a
    /// task when there is none: around the hibernating instance if there is one, else
    /// loading the instance from the store.
    pub(crate) fn mailbox(self: &Arc<Self>, id: &ProcessId) -> Mailbox<P> {
        let mut registry = self.registry(id);
        if let Some(mailbox) = self.queue_of(registry.slots.get_mut(id)) {
            return mailbox;
        }
        let begin = match registry.slots.remove(id) {
            Some(Slot::Asleep { instance, .. }) => Begin::Wake(instance),
            Some(Slot::Awake { .. } | Slot::Busy { .. }) | None => Begin::Load,
        };
        let mailbox = Mailbox::new(self.shared.config.mailbox_capacity);
        let generation = registry.generation();
        registry.slots.insert(
            id.clone(),
            Slot::Awake {
                mailbox: mailbox.clone(),
                generation,
            },
        );
        drop(registry);
        self.spawn(id, generation, mailbox.clone(), begin);
        mailbox
    }

    /// The mailbox requests for a running instance queue in: its task's, or the one its
    /// publisher will find when it is done (made now if need be). `None` when nothing runs it.
    fn queue_of(&self, slot: Option<&mut Slot<P>>) -> Option<Mailbox<P>> {
        match slot? {
            Slot::Awake { mailbox, .. } => Some(mailbox.clone()),
            Slot::Busy { mailbox, .. } => Some(self.busy_mailbox(mailbox)),
            Slot::Asleep { .. } => None,
        }
    }

    /// The mailbox of a busy slot, made on first use.
    fn busy_mailbox(&self, mailbox: &mut Option<Mailbox<P>>) -> Mailbox<P> {
        mailbox
            .get_or_insert_with(|| Mailbox::new(self.shared.config.mailbox_capacity))
            .clone()
    }

    fn spawn(
        self: &Arc<Self>,
        id: &ProcessId,
        generation: u64,
        mailbox: Mailbox<P>,
        begin: Begin<P>,
    ) {
        // Loading counts as pending work until the task has counted its own outbox, so
        // `settled()` cannot slip between a spawn (after a restart, say) and the load.
        let loading = Ticket::new(&self.shared.activity);
        tokio::spawn(task::run(
            Arc::clone(self),
            id.clone(),
            generation,
            mailbox,
            begin,
            loading,
        ));
    }

    /// Claims instance `id` for a publisher to run on its own task when nothing runs it (it
    /// is hibernating or not in memory), which saves waking a task and switching to it;
    /// otherwise gives the mailbox to queue in. Without hibernation every instance has a task.
    pub(crate) fn claim<'a>(self: &'a Arc<Self>, id: &ProcessId) -> Claim<'a, P> {
        if !self.shared.config.hibernates() {
            return Claim::Queue(self.mailbox(id));
        }
        let mut registry = self.registry(id);
        let generation = registry.generation();
        let busy = Slot::Busy {
            mailbox: None,
            generation,
        };
        let instance = match registry.slots.get_mut(id) {
            Some(Slot::Awake { mailbox, .. }) => return Claim::Queue(mailbox.clone()),
            Some(Slot::Busy { mailbox, .. }) => return Claim::Queue(self.busy_mailbox(mailbox)),
            Some(slot) => match std::mem::replace(slot, busy) {
                Slot::Asleep { instance, .. } => Some(instance),
                Slot::Awake { .. } | Slot::Busy { .. } => None,
            },
            None => {
                registry.slots.insert(id.clone(), busy);
                None
            }
        };
        drop(registry);
        // The instance's own id is the registry's key (the event's is an equal copy): with
        // it, putting the instance back compares pointers instead of reading the key.
        let id = instance
            .as_ref()
            .map_or(id, |instance| instance.id())
            .clone();
        Claim::Inline(Inline::new(self, id, generation, instance))
    }

    /// Takes back instance `id` from the publisher that ran it (claim `generation`): it
    /// hibernates again, idle from `idle_since`, or, when it has commands to send or
    /// requests queued meanwhile (or `to_task`), a task takes it over; a finished instance
    /// leaves memory.
    pub(crate) fn put_back(
        self: &Arc<Self>,
        id: &ProcessId,
        generation: u64,
        mut instance: Box<Instance<P>>,
        idle_since: Moment,
        to_task: bool,
    ) {
        let mut registry = self.registry(id);
        let Some(slot) = registry.slots.get_mut(id) else {
            instance.release();
            return;
        };
        let Slot::Busy {
            mailbox,
            generation: g,
        } = slot
        else {
            instance.release();
            return;
        };
        if *g != generation {
            instance.release();
            return;
        }
        if instance.should_retire() {
            instance.release();
            self.free_claim(registry, id);
            return;
        }
        let to_task = to_task || instance.next_command().is_some();
        let mailbox = match mailbox.take() {
            Some(mailbox) if to_task || !mailbox.close_if_empty() => mailbox,
            None if to_task => Mailbox::new(self.shared.config.mailbox_capacity),
            _ => {
                *slot = Slot::Asleep {
                    instance,
                    idle_since,
                };
                return;
            }
        };
        *slot = Slot::Awake {
            mailbox: mailbox.clone(),
            generation,
        };
        drop(registry);
        self.spawn(id, generation, mailbox, Begin::Wake(instance));
    }

    /// Frees the slot of a claim whose publisher gave up (its future was dropped mid-way):
    /// the instance in memory may be behind the store, so the next request reloads it.
    pub(crate) fn abandon(self: &Arc<Self>, id: &ProcessId, generation: u64) {
        let registry = self.registry(id);
        if matches!(registry.slots.get(id), Some(Slot::Busy { generation: g, .. }) if *g == generation)
        {
            self.free_claim(registry, id);
        }
    }

    /// Removes the claimed slot of `id` and lets go of the registry; whoever queued in its
    /// mailbox meanwhile is told to resolve the instance again.
    fn free_claim(self: &Arc<Self>, mut registry: MutexGuard<'_, Registry<P>>, id: &ProcessId) {
        let removed = registry.slots.remove(id);
        drop(registry);
        if let Some(Slot::Busy {
            mailbox: Some(mailbox),
            ..
        }) = removed
        {
            task::drain(self, id, &mailbox, None);
        }
    }

    /// Removes the task `generation` of `id` from the registry, unless a newer one replaced it.
    pub(crate) fn retire(&self, id: &ProcessId, generation: u64) {
        let mut registry = self.registry(id);
        if let Some(Slot::Awake { generation: g, .. }) = registry.slots.get(id)
            && *g == generation
        {
            registry.slots.remove(id);
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
        let mut registry = self.registry(id);
        let Some(slot) = registry.slots.get_mut(id) else {
            return Some(instance);
        };
        if !matches!(slot, Slot::Awake { generation: g, .. } if *g == generation)
            || !mailbox.close_if_empty()
        {
            return Some(instance);
        }
        let now = moment::now();
        let idle_since = now
            .checked_sub(self.shared.config.hibernate_after)
            .unwrap_or(now);
        *slot = Slot::Asleep {
            instance: Box::new(instance),
            idle_since,
        };
        None
    }

    /// Passivates every hibernating instance idle for `idle_timeout` or longer: its state is
    /// in the store, so dropping it loses nothing. One shard is locked at a time.
    pub(crate) fn sweep(&self) {
        let idle_timeout = self.shared.config.idle_timeout;
        let now = moment::now();
        let mut passivated = 0;
        for mut registry in self.every_shard() {
            registry.slots.retain(|_, slot| match slot {
                Slot::Asleep { idle_since, .. }
                    if now.duration_since(*idle_since) >= idle_timeout =>
                {
                    passivated += 1;
                    false
                }
                _ => true,
            });
        }
        let counter = &self.shared.counters.local().passivated;
        counter.fetch_add(passivated, Ordering::Relaxed);
    }

    /// Mailboxes of every live task, for shutdown; hibernating instances are dropped (their
    /// state is in the store).
    pub(crate) fn live_mailboxes(&self) -> Vec<Mailbox<P>> {
        let mut mailboxes = Vec::new();
        for mut registry in self.every_shard() {
            let slots = &mut registry.slots;
            slots.retain(|_, slot| !matches!(slot, Slot::Asleep { .. }));
            mailboxes.extend(slots.values_mut().filter_map(|s| self.queue_of(Some(s))));
        }
        mailboxes
    }

    /// Number of instances in memory, awake or hibernating.
    pub(crate) fn live_count(&self) -> usize {
        self.every_shard()
            .map(|registry| registry.slots.len())
            .sum()
    }

    /// Queues `event` at instance `id` and returns the future of its reply. Queueing happens
    /// before this returns, so events queued one after the other keep their order.
    pub(crate) async fn send(
        self: &Arc<Self>,
        event: &Arc<EventEnvelope>,
        id: ProcessId,
        role: Role,
        via: Via,
    ) -> impl Future<Output = Result<Delivered, Error>> + Send + 'static {
        self.send_to(self.mailbox(&id), event, id, role, via).await
    }

    /// As [`Host::send`], through `mailbox`.
    pub(crate) async fn send_to(
        self: &Arc<Self>,
        mailbox: Mailbox<P>,
        event: &Arc<EventEnvelope>,
        id: ProcessId,
        role: Role,
        via: Via,
    ) -> impl Future<Output = Result<Delivered, Error>> + Send + 'static {
        let (tx, rx) = oneshot::channel();
        let request = Request::Event {
            event: Arc::clone(event),
            role,
            via,
            reply: Some(tx),
            _ticket: Ticket::new(&self.shared.activity),
        };
        let sent = mailbox.cast(request).await.is_ok();
        let host = Arc::clone(self);
        let event = Arc::clone(event);
        async move {
            if sent && let Ok(Answer::Done(result)) = rx.await {
                return result;
            }
            host.deliver(event, id, role, via).await
        }
    }

    /// Delivers `event` to instance `id` and waits for the result, following the instance
    /// across task restarts.
    pub(crate) async fn deliver(
        self: &Arc<Self>,
        event: Arc<EventEnvelope>,
        id: ProcessId,
        role: Role,
        via: Via,
    ) -> Result<Delivered, Error> {
        self.call(&id, |reply| Request::Event {
            event: Arc::clone(&event),
            role,
            via,
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
        via: Via,
        ticket: Ticket,
    ) {
        let mut request = Request::Event {
            event,
            role,
            via,
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

/// Locks a registry shard. Its map is consistent after every statement, so a poisoned lock
/// is still usable.
fn lock<P: ProcessManager>(shard: &Mutex<Registry<P>>) -> MutexGuard<'_, Registry<P>> {
    shard.lock().unwrap_or_else(PoisonError::into_inner)
}
