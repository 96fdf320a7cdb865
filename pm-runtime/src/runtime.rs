//! The runtime: publishing, introspection, operator actions, shutdown.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::task::JoinHandle;

use crate::envelope::EventEnvelope;
use crate::error::Error;
use crate::handle::InstanceHandle;
use crate::host::Host;
use crate::ids::ProcessId;
use crate::instance::mailbox::{Control, Request, Via};
use crate::latency::Latencies;
use crate::message::Event;
use crate::process_manager::ProcessManager;
use crate::router::{Published, Router};
use crate::shared::Shared;
use crate::stats::Stats;
use crate::status::InstanceStatus;
use crate::store::{DeadLetter, InstanceSummary};

use crate::builder::RuntimeBuilder;

pub(crate) struct Inner {
    pub(crate) shared: Arc<Shared>,
    pub(crate) router: Router,
    pub(crate) hosts: HashMap<TypeId, Arc<dyn Any + Send + Sync>>,
    pub(crate) closed: AtomicBool,
    pub(crate) background: Mutex<Vec<JoinHandle<()>>>,
}

/// A parked instance and why, as [`Runtime::parked`] lists them.
#[derive(Debug, Clone)]
pub struct ParkedInstance {
    /// The process manager's name.
    pub pm: &'static str,
    /// The instance.
    pub process_id: ProcessId,
    /// What made it park.
    pub dead_letter: Option<DeadLetter>,
}

/// Hosts process-manager instances: routes events to them and their commands out.
///
/// Cloning is cheap; every clone drives the same runtime.
///
/// ```
/// use pm_runtime::prelude::*;
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Debug, Clone, Serialize, Deserialize, Event)]
/// struct OrderPlaced { order_id: String, amount: u64 }
/// #[derive(Debug, Clone, Serialize, Deserialize, Command)]
/// #[command(aggregate = "payment", id = order_id)]
/// struct ChargePayment { order_id: String, amount: u64 }
///
/// #[derive(Debug, Default, Serialize, Deserialize)]
/// struct OrderFulfillment { amount: u64 }
///
/// #[process_manager(name = "order_fulfillment", correlate = order_id, commands(ChargePayment))]
/// impl OrderFulfillment {
///     #[start]
///     fn placed(&mut self, e: &OrderPlaced) -> ChargePayment {
///         self.amount = e.amount;
///         ChargePayment { order_id: e.order_id.clone(), amount: e.amount }
///     }
/// }
///
/// /// The command side: here it accepts everything.
/// struct Payments;
/// impl CommandDispatcher for Payments {
///     async fn dispatch(&self, _command: &CommandEnvelope) -> Result<(), DispatchError> {
///         Ok(())
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), pm_runtime::Error> {
/// let runtime = Runtime::builder()
///     .dispatcher(Payments)
///     .register::<OrderFulfillment>()
///     .start()
///     .await?;
/// runtime.publish(OrderPlaced { order_id: "o-1".into(), amount: 40 }).await?;
/// runtime.settled().await;
/// assert_eq!(runtime.state::<OrderFulfillment>("o-1").await?.amount, 40);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Runtime {
    pub(crate) inner: Arc<Inner>,
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
    /// A builder with defaults: in-memory store, wall clock, mailboxes of 64.
    pub fn builder() -> RuntimeBuilder {
        RuntimeBuilder::default()
    }

    /// Publishes a typed event with a fresh id (see [`Runtime::publish_envelope`]).
    ///
    /// The id is drawn here and nothing else holds it, so no redelivery can carry it: the
    /// instances do not record it for deduplication, which keeps their dedup sets and the
    /// store from growing with every event. An event that may be delivered again (one read
    /// from an event store or a transport) goes through [`Runtime::publish_envelope`] with
    /// its own id, which is recorded.
    pub fn publish<E: Event>(
        &self,
        event: E,
    ) -> impl Future<Output = Result<Published, Error>> + Send + '_ {
        self.route(EventEnvelope::new(event), Via::PublishMinted)
    }

    /// Routes an event to every instance of every registered process manager interested in
    /// it and returns once each has handled it and committed. Commands go out afterwards.
    ///
    /// Events for one instance are handled in the order their publishes were called (for
    /// publishes that do not overlap); different instances run concurrently. Publishing the
    /// same `event_id` again is safe: instances that handled it skip it.
    ///
    /// Errors name the process manager and process id: a routing rule refused the event
    /// ([`Error::Refused`]), a handler kept failing ([`Error::Handler`]; its instance is then
    /// parked with the event as its dead letter, so nothing is lost), the payload is
    /// malformed ([`Error::Correlate`]) or the store failed. Instances that handled the event
    /// keep it.
    ///
    /// Nothing happens until the returned future is polled; a publish first polled after
    /// [`Runtime::shutdown`] fails with [`Error::Shutdown`].
    pub fn publish_envelope(
        &self,
        event: EventEnvelope,
    ) -> impl Future<Output = Result<Published, Error>> + Send + '_ {
        self.route(event, Via::Publish)
    }

    fn route(
        &self,
        event: EventEnvelope,
        via: Via,
    ) -> impl Future<Output = Result<Published, Error>> + Send + '_ {
        // Not an `async fn`, so the envelope is moved straight into the route's future; that
        // future is lazy, so looking the route up now starts nothing.
        let publishing = self.inner.router.publish(event, via);
        let closed = &self.inner.closed;
        async move {
            if closed.load(Ordering::Acquire) {
                return Err(Error::Shutdown);
            }
            publishing.await
        }
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

    /// Every stored instance of `P` with its status, tombstones included.
    pub async fn instances<P: ProcessManager>(&self) -> Result<Vec<InstanceSummary>, Error> {
        let host = self.host::<P>()?;
        host.shared
            .store
            .instances(P::NAME)
            .await
            .map_err(|source| Error::Recovery {
                pm: P::NAME,
                source,
            })
    }

    /// Every parked instance of every registered process manager, with its dead letter.
    pub async fn parked(&self) -> Result<Vec<ParkedInstance>, Error> {
        let store = &self.inner.shared.store;
        let mut parked = Vec::new();
        for route in self.inner.router.routes() {
            let pm = route.name();
            let listed = store
                .instances(pm)
                .await
                .map_err(|source| Error::Recovery { pm, source })?;
            for summary in listed
                .into_iter()
                .filter(|s| s.status == InstanceStatus::Parked)
            {
                let stored = store
                    .load(pm, &summary.process_id)
                    .await
                    .map_err(|source| Error::Store {
                        pm,
                        process_id: summary.process_id.clone(),
                        source,
                    })?;
                parked.push(ParkedInstance {
                    pm,
                    process_id: summary.process_id,
                    dead_letter: stored.and_then(|s| s.dead_letter).map(|d| *d),
                });
            }
        }
        Ok(parked)
    }

    /// Resumes a parked instance by trying its dead letter again: the poison event is
    /// handled again, or the failed command is sent again. Events stashed while it was
    /// parked follow in order. If the cause fails again, the instance parks again and the
    /// error is returned.
    pub async fn retry_parked<P: ProcessManager>(
        &self,
        id: impl Into<ProcessId>,
    ) -> Result<(), Error> {
        self.resume::<P>(id.into(), false).await
    }

    /// Resumes a parked instance by skipping its dead letter: the poison event is recorded
    /// as handled without running its handler, or the failed command is dropped (and will
    /// not be compensated). Events stashed while it was parked follow in order.
    pub async fn skip_parked<P: ProcessManager>(
        &self,
        id: impl Into<ProcessId>,
    ) -> Result<(), Error> {
        self.resume::<P>(id.into(), true).await
    }

    async fn resume<P: ProcessManager>(&self, id: ProcessId, skip: bool) -> Result<(), Error> {
        self.host::<P>()?
            .call(&id, |reply| Request::Resume { skip, reply })
            .await
    }

    /// Deletes the tombstones of `P` that finished more than `older_than` ago (by the
    /// runtime's clock); a start event for one of those ids then starts a new instance.
    /// Returns how many were deleted.
    pub async fn purge_finished<P: ProcessManager>(
        &self,
        older_than: std::time::Duration,
    ) -> Result<u64, Error> {
        let host = self.host::<P>()?;
        let bound = host
            .shared
            .clock
            .now_ms()
            .saturating_sub(older_than.as_millis() as u64);
        host.shared
            .store
            .purge_finished(P::NAME, bound)
            .await
            .map_err(|source| Error::Recovery {
                pm: P::NAME,
                source,
            })
    }

    /// Number of instances of `P` currently in memory.
    pub fn live_instances<P: ProcessManager>(&self) -> Result<usize, Error> {
        Ok(self.host::<P>()?.live_count())
    }

    /// Waits until no event is on its way to an instance, no outbox holds a command and no
    /// timeout is due (parked instances excepted). Meant for tests and orderly shutdown.
    pub async fn settled(&self) {
        let shared = &self.inner.shared;
        loop {
            shared.activity.settled().await;
            let due = shared
                .timers
                .next_due()
                .is_some_and(|due| due <= shared.clock.now_ms());
            if !due {
                return;
            }
            // A due timer is about to be picked up by the wheel; give it the chance.
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
    }

    /// The runtime's counters.
    pub fn stats(&self) -> Stats {
        self.inner.shared.counters.snapshot()
    }

    /// The runtime's latency histograms: event handling (mailbox to commit) and command
    /// dispatch attempts, each with quantiles to within a factor of two.
    ///
    /// ```no_run
    /// # async fn show(runtime: pm_runtime::Runtime) {
    /// let latencies = runtime.latencies();
    /// if let Some(p99) = latencies.event.quantile(0.99) {
    ///     println!("99% of events committed within {p99:?}");
    /// }
    /// # }
    /// ```
    pub fn latencies(&self) -> Latencies {
        self.inner.shared.latencies.snapshot()
    }

    /// Stops taking events, lets every instance handle what is already in its mailbox and
    /// finish the command in flight, then stops the instances and the timer wheel. Commands
    /// still queued stay in the store's outbox: a durable store sends them after the next
    /// start; with the in-memory store they are lost, so call [`Runtime::settled`] first if
    /// they matter.
    pub async fn shutdown(&self) -> Result<(), Error> {
        self.inner.closed.store(true, Ordering::Release);
        let background = std::mem::take(
            &mut *self
                .inner
                .background
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        for task in background {
            task.abort();
        }
        for route in self.inner.router.routes() {
            route.shutdown().await;
        }
        Ok(())
    }
}
