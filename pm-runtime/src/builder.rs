//! `RuntimeBuilder`: configuration, registration, and recovery at start.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::activity::Activity;
use crate::clock::{Clock, SystemClock};
use crate::dispatch::{CommandDispatcher, ErasedDispatcher, RetryPolicy};
use crate::error::Error;
use crate::host::Host;
use crate::process_manager::ProcessManager;
use crate::router::{Route, Router};
use crate::runtime::{Inner, Runtime};
use crate::shared::{Config, Shared};

use crate::stats::Counters;
use crate::store::{InMemoryStore, ProcessManagerInfo, Store};
use crate::timers::TimerWheel;

type Registration =
    Box<dyn FnOnce(&Arc<Shared>, RetryPolicy, &mut Router) -> Arc<dyn Any + Send + Sync>>;

/// Configures and starts a [`Runtime`].
pub struct RuntimeBuilder {
    store: Option<Arc<dyn Store>>,
    dispatcher: Option<Arc<dyn ErasedDispatcher>>,
    clock: Arc<dyn Clock>,
    registrations: Vec<(TypeId, &'static str, Registration)>,
    infos: Vec<ProcessManagerInfo>,
    command_retry_for: HashMap<TypeId, RetryPolicy>,
    config: Config,
    command_retry: RetryPolicy,
}

impl Default for RuntimeBuilder {
    fn default() -> Self {
        Self {
            store: None,
            dispatcher: None,
            clock: Arc::new(SystemClock),
            registrations: Vec::new(),
            infos: Vec::new(),
            command_retry_for: HashMap::new(),
            config: Config {
                mailbox_capacity: 64,
                max_outbox: 256,
                handler_retry: RetryPolicy {
                    max_attempts: 3,
                    initial_backoff: Duration::from_millis(10),
                    max_backoff: Duration::from_secs(1),
                },
                idle_timeout: Duration::from_secs(30),
                hibernate_after: Duration::from_secs(1),
            },
            command_retry: RetryPolicy::default(),
        }
    }
}

impl std::fmt::Debug for RuntimeBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let registered: Vec<_> = self.registrations.iter().map(|r| r.1).collect();
        f.debug_struct("RuntimeBuilder")
            .field("registered", &registered)
            .field("config", &self.config)
            .field("command_retry", &self.command_retry)
            .finish_non_exhaustive()
    }
}

impl RuntimeBuilder {
    /// Where instances are persisted. Unset: an [`InMemoryStore`], which is not durable.
    pub fn store(mut self, store: impl Store) -> Self {
        self.store = Some(Arc::new(store));
        self
    }

    /// Where commands go. Required.
    pub fn dispatcher(mut self, dispatcher: impl CommandDispatcher) -> Self {
        self.dispatcher = Some(Arc::new(dispatcher));
        self
    }

    /// The clock of durable timeouts (default [`SystemClock`]); tests use a
    /// [`ManualClock`](crate::ManualClock) to fire timeouts without waiting.
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Hosts process manager `P`: its events are routed to its instances from now on.
    pub fn register<P: ProcessManager>(mut self) -> Self {
        let register: Registration = Box::new(|shared, retry, router| {
            let host = Host::<P>::new(Arc::clone(shared), retry);
            let route: Arc<dyn Route> = Arc::new(Arc::clone(&host));
            router.add(route, P::EVENTS.iter().map(|e| e.event_type));
            host
        });
        self.registrations
            .push((TypeId::of::<P>(), P::NAME, register));
        self.infos.push(ProcessManagerInfo::of::<P>());
        self
    }

    /// How transient command failures are retried before the saga compensates (default:
    /// [`RetryPolicy::default`]). `#[on_error]` overrides it per failure.
    pub fn command_retry(mut self, policy: RetryPolicy) -> Self {
        self.command_retry = sane(policy);
        self
    }

    /// The command retry policy of process manager `P` alone, overriding
    /// [`RuntimeBuilder::command_retry`].
    pub fn command_retry_for<P: ProcessManager>(mut self, policy: RetryPolicy) -> Self {
        self.command_retry_for
            .insert(TypeId::of::<P>(), sane(policy));
        self
    }

    /// How a failing handler (an `Err` or a panic) is retried before its instance is parked
    /// with the event as dead letter (default: 3 attempts, 10 ms growing to 1 s).
    pub fn handler_retry(mut self, policy: RetryPolicy) -> Self {
        self.config.handler_retry = sane(policy);
        self
    }

    /// Capacity of each instance's mailbox (default 64). When it is full, publishers to that
    /// instance wait: a slow instance slows its producers instead of growing memory.
    pub fn mailbox_capacity(mut self, capacity: usize) -> Self {
        self.config.mailbox_capacity = capacity.max(1);
        self
    }

    /// Commands an instance may hold unsent (default 256). An instance whose outbox is full
    /// takes no more events until the command side catches up, so a slow dispatcher slows
    /// intake instead of growing memory.
    pub fn max_outbox(mut self, commands: usize) -> Self {
        self.config.max_outbox = commands.max(1);
        self
    }

    /// How long an instance may sit idle in memory before it is passivated: dropped from
    /// memory, to be reloaded from the store by its next event or timeout (default 30 s).
    /// Instances with commands still to send are not passivated.
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.config.idle_timeout = timeout;
        self
    }

    /// How long an instance's task may sit idle before it ends and the instance hibernates
    /// (default 1 s). A hibernating instance keeps its state in memory, in its process
    /// manager's registry, but no task, mailbox or timer: a few hundred bytes instead of a
    /// couple of kilobytes. Its next request starts a new task around the same state, with
    /// no store read; [`RuntimeBuilder::idle_timeout`] after its last activity it is
    /// passivated like any idle instance. Instances with commands still to send do not
    /// hibernate. A value at or above `idle_timeout` turns hibernation off.
    ///
    /// With hibernation on, a publish to an instance that nothing is running (asleep, or not
    /// in memory yet) is handled on the publisher's own task: it loads the instance if need
    /// be, runs the handler, commits and puts the instance back to sleep, with no instance
    /// task woken ([`Stats::handled_inline`](crate::Stats::handled_inline) counts these).
    /// Events for the same instance published meanwhile queue behind it, and a task takes
    /// the instance over to handle them in order; a task also takes over when the event
    /// left commands to send. Ordering, exactly-once handling and panic isolation of the
    /// handler are the same on both paths. With hibernation off, every event goes through
    /// the instance's task.
    pub fn hibernate_after(mut self, idle: Duration) -> Self {
        self.config.hibernate_after = idle;
        self
    }

    /// Starts the runtime: records each registered process manager in the store (see
    /// [`Store::register`]), arms the stored timeouts and resumes every instance whose outbox
    /// still holds commands (after a crash, they are sent again with their original ids).
    /// Must be called within a tokio runtime.
    pub async fn start(self) -> Result<Runtime, Error> {
        let dispatcher = self.dispatcher.ok_or(Error::MissingDispatcher)?;
        let mut names = HashMap::new();
        for (type_id, name, _) in &self.registrations {
            if names.insert(*name, *type_id).is_some() {
                return Err(Error::DuplicateName(name));
            }
        }
        // The first read calibrates the latency clock (under a millisecond here), so the
        // first event does not pay for it.
        crate::moment::now();
        let shared = Arc::new(Shared {
            store: self.store.unwrap_or_else(|| Arc::new(InMemoryStore::new())),
            dispatcher,
            clock: self.clock,
            activity: Arc::new(Activity::new()),
            timers: Arc::new(TimerWheel::default()),
            counters: Counters::default(),
            latencies: crate::latency::Recorders::default(),
            config: self.config,
        });
        // `infos` is pushed beside `registrations`, so the two line up.
        for ((_, pm, _), info) in self.registrations.iter().zip(&self.infos) {
            let pm = *pm;
            shared
                .store
                .register(info)
                .await
                .map_err(|source| Error::Recovery { pm, source })?;
        }
        let mut router = Router::default();
        let mut hosts = HashMap::new();
        for (type_id, _, register) in self.registrations {
            let retry = self
                .command_retry_for
                .get(&type_id)
                .copied()
                .unwrap_or(self.command_retry);
            hosts.insert(type_id, register(&shared, retry, &mut router));
        }
        let routes: HashMap<&'static str, Arc<dyn Route>> = router
            .routes()
            .iter()
            .map(|route| (route.name(), Arc::clone(route)))
            .collect();

        recover(&shared, &routes, true).await?;
        let mut background = Vec::new();
        if let Some(ownership) = shared.store.ownership() {
            // A store shared by several nodes: recover what each newly claimed partition holds.
            background.push(tokio::spawn(adopt(
                Arc::clone(&shared),
                routes.clone(),
                ownership,
            )));
        }
        if shared.config.hibernates() {
            let period = (shared.config.idle_timeout / 4).clamp(SWEEP_MIN, SWEEP_MAX);
            background.push(tokio::spawn(passivate(routes.clone(), period)));
        }
        let wheel = tokio::spawn(Arc::clone(&shared.timers).run(Arc::clone(&shared), routes));
        background.push(wheel);

        Ok(Runtime {
            inner: Arc::new(Inner {
                shared,
                router,
                hosts,
                closed: AtomicBool::new(false),
                background: Mutex::new(background),
            }),
        })
    }
}

/// Resumes the instances with work left and arms the stored timeouts, of the instances this
/// node owns (all of them unless the store is shared by several nodes).
async fn recover(
    shared: &Arc<Shared>,
    routes: &HashMap<&'static str, Arc<dyn Route>>,
    timers: bool,
) -> Result<(), Error> {
    for route in routes.values() {
        route.recover().await?;
    }
    if !timers {
        return Ok(());
    }
    let stored = shared
        .store
        .due_timers(u64::MAX, usize::MAX)
        .await
        .map_err(|source| Error::Recovery { pm: "*", source })?;
    for timer in stored {
        if shared.store.owns(&timer.pm, &timer.process_id) {
            shared
                .timers
                .arm(&timer.pm, timer.process_id, timer.timer_id, timer.due_at_ms);
        }
    }
    Ok(())
}

/// How often a node sharing its store sweeps for owned instances with work left that no
/// task holds (one whose copy went stale retired with its outbox unsent).
const SWEEP: std::time::Duration = std::time::Duration::from_secs(5);

/// Recovers again each time the store reports newly owned instances (a node took over
/// partitions), timers included, and every [`SWEEP`] the outboxes only. Arming a timer twice is harmless: firing is
/// deduplicated by timer id; resolving a live instance spawns nothing.
async fn adopt(
    shared: Arc<Shared>,
    routes: HashMap<&'static str, Arc<dyn Route>>,
    mut ownership: tokio::sync::watch::Receiver<u64>,
) {
    loop {
        let gained = tokio::select! {
            changed = ownership.changed() => if changed.is_err() { return } else { true },
            () = tokio::time::sleep(SWEEP) => false,
        };
        if let Err(error) = recover(&shared, &routes, gained).await {
            tracing::warn!(%error, "cannot recover newly owned instances; trying at the next change");
        }
    }
}

/// Bounds of the period between passivation sweeps of hibernating instances: a quarter
/// of the idle timeout, so an instance leaves memory at most a quarter late.
const SWEEP_MIN: Duration = Duration::from_millis(10);
const SWEEP_MAX: Duration = Duration::from_secs(5);

/// Passivates hibernating instances idle for the idle timeout, every `period`.
async fn passivate(routes: HashMap<&'static str, Arc<dyn Route>>, period: Duration) {
    let mut ticks = tokio::time::interval(period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        for route in routes.values() {
            route.sweep();
        }
    }
}

/// At least one attempt, whatever the caller asked.
fn sane(policy: RetryPolicy) -> RetryPolicy {
    RetryPolicy {
        max_attempts: policy.max_attempts.max(1),
        ..policy
    }
}
