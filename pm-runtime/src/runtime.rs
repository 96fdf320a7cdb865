//! The runtime: the builder, publishing, and the introspection surface.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::activity::Activity;
use crate::dispatch::{CommandDispatcher, ErasedDispatcher, RetryPolicy};
use crate::envelope::EventEnvelope;
use crate::error::Error;
use crate::handle::InstanceHandle;
use crate::host::Host;
use crate::ids::ProcessId;
use crate::instance::mailbox::Control;
use crate::message::Event;
use crate::process_manager::ProcessManager;
use crate::router::{Published, Route, Router};
use crate::shared::{Config, Shared};
use crate::stats::{Counters, Stats};
use crate::status::InstanceStatus;
use crate::store::{InMemoryStore, Store};

type Registration = Box<dyn FnOnce(&Arc<Shared>, &mut Router) -> Arc<dyn Any + Send + Sync>>;

/// Configures and starts a [`Runtime`].
pub struct RuntimeBuilder {
    store: Option<Arc<dyn Store>>,
    dispatcher: Option<Arc<dyn ErasedDispatcher>>,
    registrations: Vec<(TypeId, &'static str, Registration)>,
    mailbox_capacity: usize,
    command_retry: RetryPolicy,
}

impl std::fmt::Debug for RuntimeBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuntimeBuilder")
            .field(
                "registered",
                &self.registrations.iter().map(|r| r.1).collect::<Vec<_>>(),
            )
            .field("mailbox_capacity", &self.mailbox_capacity)
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

    /// Hosts process manager `P`: its events are routed to its instances from now on.
    pub fn register<P: ProcessManager>(mut self) -> Self {
        let register: Registration = Box::new(|shared, router| {
            let host = Host::<P>::new(Arc::clone(shared));
            let route: Arc<dyn Route> = Arc::new(Arc::clone(&host));
            router.add(route, P::EVENTS.iter().map(|e| e.event_type));
            host
        });
        self.registrations
            .push((TypeId::of::<P>(), P::NAME, register));
        self
    }

    /// Capacity of each instance's mailbox (default 64). When it is full, publishers to that
    /// instance wait: a slow instance slows its producers instead of growing memory.
    pub fn mailbox_capacity(mut self, capacity: usize) -> Self {
        self.mailbox_capacity = capacity.max(1);
        self
    }

    /// How transient command failures are retried (default: [`RetryPolicy::default`]).
    pub fn command_retry(mut self, policy: RetryPolicy) -> Self {
        self.command_retry = RetryPolicy {
            max_attempts: policy.max_attempts.max(1),
            ..policy
        };
        self
    }

    /// Starts the runtime. Must be called within a tokio runtime.
    pub async fn start(self) -> Result<Runtime, Error> {
        let dispatcher = self.dispatcher.ok_or(Error::MissingDispatcher)?;
        let mut names = HashMap::new();
        for (type_id, name, _) in &self.registrations {
            if names.insert(*name, *type_id).is_some() {
                return Err(Error::DuplicateName(name));
            }
        }
        let shared = Arc::new(Shared {
            store: self.store.unwrap_or_else(|| Arc::new(InMemoryStore::new())),
            dispatcher,
            activity: Arc::new(Activity::new()),
            counters: Counters::default(),
            config: Config {
                mailbox_capacity: self.mailbox_capacity,
                command_retry: self.command_retry,
            },
        });
        let mut router = Router::default();
        let mut hosts = HashMap::new();
        for (type_id, _, register) in self.registrations {
            hosts.insert(type_id, register(&shared, &mut router));
        }
        Ok(Runtime {
            inner: Arc::new(Inner {
                shared,
                router,
                hosts,
                closed: AtomicBool::new(false),
            }),
        })
    }
}

struct Inner {
    shared: Arc<Shared>,
    router: Router,
    hosts: HashMap<TypeId, Arc<dyn Any + Send + Sync>>,
    closed: AtomicBool,
}

/// Hosts process-manager instances: routes events to them and their commands out.
///
/// Cloning is cheap; every clone drives the same runtime.
///
/// ```ignore
/// let runtime = Runtime::builder()
///     .dispatcher(my_dispatcher)
///     .register::<OrderFulfillment>()
///     .start()
///     .await?;
/// runtime.publish(OrderPlaced { order_id: "o-1".into(), amount: 40 }).await?;
/// runtime.settled().await;
/// ```
#[derive(Clone)]
pub struct Runtime {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<_> = self
            .inner
            .router
            .routes()
            .iter()
            .map(|r| r.name())
            .collect();
        f.debug_struct("Runtime")
            .field("process_managers", &names)
            .finish_non_exhaustive()
    }
}

impl Runtime {
    /// A builder with defaults: in-memory store, mailboxes of 64, default retry policy.
    pub fn builder() -> RuntimeBuilder {
        RuntimeBuilder {
            store: None,
            dispatcher: None,
            registrations: Vec::new(),
            mailbox_capacity: 64,
            command_retry: RetryPolicy::default(),
        }
    }

    /// Publishes a typed event with a fresh id (see [`Runtime::publish_envelope`]).
    pub async fn publish<E: Event>(&self, event: E) -> Result<Published, Error> {
        self.publish_envelope(EventEnvelope::new(event)).await
    }

    /// Routes an event to every instance of every registered process manager interested in
    /// it and returns once each has handled it and committed. Commands go out afterwards.
    ///
    /// Events for one instance are handled in the order their publishes were called (for
    /// publishes that do not overlap); different instances run concurrently. Publishing the
    /// same `event_id` again is safe: instances that handled it skip it.
    ///
    /// Errors name the process manager and process id: a routing rule refused the event
    /// ([`Error::Refused`]), a handler failed ([`Error::Handler`]), the payload is malformed
    /// ([`Error::Correlate`]) or the store failed. Instances that handled the event keep it.
    pub async fn publish_envelope(&self, event: EventEnvelope) -> Result<Published, Error> {
        if self.inner.closed.load(Ordering::Acquire) {
            return Err(Error::Shutdown);
        }
        self.inner.router.publish(Arc::new(event)).await
    }

    fn host<P: ProcessManager>(&self) -> Result<Arc<Host<P>>, Error> {
        self.inner
            .hosts
            .get(&TypeId::of::<P>())
            .and_then(|host| Arc::clone(host).downcast::<Host<P>>().ok())
            .ok_or(Error::NotRegistered(P::NAME))
    }

    /// A copy of an instance's state, finished instances included.
    pub async fn state<P: ProcessManager>(&self, id: impl Into<ProcessId>) -> Result<P, Error> {
        self.host::<P>()?
            .control(&id.into(), Control::GetState)
            .await
    }

    /// The status of an instance; [`Error::NotFound`] when it was never started.
    pub async fn status<P: ProcessManager>(
        &self,
        id: impl Into<ProcessId>,
    ) -> Result<InstanceStatus, Error> {
        self.host::<P>()?.control(&id.into(), Control::Status).await
    }

    /// Starts instance `id` of `P` if it does not exist (evoq's `start_link`) and returns a
    /// handle to it. Fails with [`Error::Finished`] for a finished instance.
    pub async fn instance<P: ProcessManager>(
        &self,
        id: impl Into<ProcessId>,
    ) -> Result<InstanceHandle<P>, Error> {
        if self.inner.closed.load(Ordering::Acquire) {
            return Err(Error::Shutdown);
        }
        let handle = InstanceHandle::new(self.host::<P>()?, id.into());
        handle.start().await?;
        Ok(handle)
    }

    /// Number of instances of `P` currently in memory.
    pub fn live_instances<P: ProcessManager>(&self) -> Result<usize, Error> {
        Ok(self.host::<P>()?.live_count())
    }

    /// Waits until no event is on its way to an instance and no outbox holds a command
    /// (parked instances excepted). Meant for tests and orderly shutdown.
    pub async fn settled(&self) {
        self.inner.shared.activity.settled().await;
    }

    /// The runtime's counters.
    pub fn stats(&self) -> Stats {
        self.inner.shared.counters.snapshot()
    }

    /// Stops taking events, lets every instance handle what is already in its mailbox and
    /// finish the command in flight, then stops the instances. Commands still queued stay in
    /// the store's outbox: a durable store sends them after the next start; with the
    /// in-memory store they are lost, so call [`Runtime::settled`] first if they matter.
    pub async fn shutdown(&self) -> Result<(), Error> {
        self.inner.closed.store(true, Ordering::Release);
        for route in self.inner.router.routes() {
            route.shutdown().await;
        }
        Ok(())
    }
}

impl<S: Store + ?Sized> Store for Arc<S> {
    fn load<'a>(
        &'a self,
        pm: &'a str,
        process_id: &'a ProcessId,
    ) -> crate::store::StoreFuture<'a, Option<crate::store::StoredInstance>> {
        (**self).load(pm, process_id)
    }

    fn commit(&self, commit: crate::store::Commit) -> crate::store::StoreFuture<'_, ()> {
        (**self).commit(commit)
    }

    fn due_timers(
        &self,
        until_ms: u64,
        limit: usize,
    ) -> crate::store::StoreFuture<'_, Vec<crate::store::DueTimer>> {
        (**self).due_timers(until_ms, limit)
    }

    fn unfinished(&self, pm: &str) -> crate::store::StoreFuture<'_, Vec<ProcessId>> {
        (**self).unfinished(pm)
    }

    fn instances(
        &self,
        pm: &str,
    ) -> crate::store::StoreFuture<'_, Vec<crate::store::InstanceSummary>> {
        (**self).instances(pm)
    }

    fn purge_finished(&self, pm: &str, before_ms: u64) -> crate::store::StoreFuture<'_, u64> {
        (**self).purge_finished(pm, before_ms)
    }

    fn is_durable(&self) -> bool {
        (**self).is_durable()
    }
}

impl<D: CommandDispatcher> CommandDispatcher for Arc<D> {
    fn dispatch(
        &self,
        command: &crate::envelope::CommandEnvelope,
    ) -> impl std::future::Future<Output = Result<(), crate::error::DispatchError>> + Send {
        (**self).dispatch(command)
    }
}
