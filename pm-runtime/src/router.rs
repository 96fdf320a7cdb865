//! Event routing: event type → interested PM types → correlation → instances.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use uuid::Uuid;

use crate::envelope::EventEnvelope;
use crate::error::Error;
use crate::fast_map::HashMap;
use crate::host::{Claim, Host};
use crate::ids::ProcessId;
use crate::instance::mailbox::{Delivered, Request, Via};
use crate::process_manager::{ProcessManager, Role, Targets};

pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;
type Pending = BoxFuture<'static, Result<Delivered, Error>>;

/// What one publish did, summed over every instance it reached.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Published {
    /// Instances that handled the event and committed.
    pub handled: usize,
    /// Instances that had already handled this event id.
    pub duplicates: usize,
    /// Instances that dropped it by rule (missing under `ignore`, or finished).
    pub ignored: usize,
    /// Parked instances that hold it until an operator resumes them.
    pub parked: usize,
}

impl Published {
    fn count(&mut self, delivered: Delivered) {
        match delivered {
            Delivered::Handled => self.handled += 1,
            Delivered::Duplicate => self.duplicates += 1,
            Delivered::Ignored => self.ignored += 1,
            Delivered::Parked => self.parked += 1,
        }
    }
}

/// One registered PM type as the router sees it.
pub(crate) trait Route: Send + Sync {
    fn name(&self) -> &'static str;
    /// Queues the event at every instance it correlates to; returns their pending replies.
    fn send<'a>(
        &'a self,
        event: &'a Arc<EventEnvelope>,
        via: Via,
    ) -> BoxFuture<'a, Result<Vec<Pending>, Error>>;
    /// Delivers the event to every instance it correlates to and waits for them all: the
    /// whole publish when this is the only PM type interested, with one allocation. The
    /// event is shared (put behind an `Arc`) only when it must wait in a mailbox or reach
    /// several instances.
    fn publish(&self, event: EventEnvelope, via: Via) -> BoxFuture<'_, Result<Published, Error>>;
    /// Asks every live instance to finish what is queued and exit.
    fn shutdown(&self) -> BoxFuture<'_, ()>;
    /// Delivers a due timer to its instance.
    fn fire_timer(&self, id: ProcessId, timer_id: Uuid) -> BoxFuture<'_, ()>;
    /// Loads the instances with commands left in their outbox, so they send them.
    fn recover(&self) -> BoxFuture<'_, Result<usize, Error>>;
    /// Passivates hibernating instances idle for the idle timeout.
    fn sweep(&self);
}

impl<P: ProcessManager> Route for Arc<Host<P>> {
    fn name(&self) -> &'static str {
        P::NAME
    }

    fn send<'a>(
        &'a self,
        event: &'a Arc<EventEnvelope>,
        via: Via,
    ) -> BoxFuture<'a, Result<Vec<Pending>, Error>> {
        Box::pin(async move {
            let correlation = P::correlate(event).map_err(|source| Error::Correlate {
                pm: P::NAME,
                source,
            })?;
            let Some(role) = correlation.role else {
                return Ok(Vec::new());
            };
            let mut pending: Vec<Pending> = Vec::with_capacity(correlation.targets.len());
            for id in correlation.targets.iter() {
                // Another node holds this instance's partition: it delivers the event there.
                if !self.shared.store.owns(P::NAME, id) {
                    continue;
                }
                pending.push(Box::pin(self.send(event, id.clone(), role, via).await));
            }
            Ok(pending)
        })
    }

    fn publish(&self, event: EventEnvelope, via: Via) -> BoxFuture<'_, Result<Published, Error>> {
        Box::pin(async move {
            let correlation = P::correlate(&event).map_err(|source| Error::Correlate {
                pm: P::NAME,
                source,
            })?;
            let Some(role) = correlation.role else {
                return Ok(Published::default());
            };
            // The rarer paths are boxed: this future is moved into place on every publish,
            // and one that held them inline would be as large as they are.
            let Targets::One(id) = correlation.targets else {
                return Box::pin(self.publish_many(
                    Arc::new(event),
                    correlation.targets,
                    role,
                    via,
                ))
                .await;
            };
            if !self.shared.store.owns(P::NAME, &id) {
                return Ok(Published::default());
            }
            // An idle instance is run here, on the publisher's task (see `Inline`); a busy
            // one gets the event in its mailbox, the only case where it must be shared.
            let delivered = match self.claim(&id) {
                Claim::Inline(inline) => inline.deliver(&event, role, via).await,
                Claim::Queue(mailbox) => {
                    let event = Arc::new(event);
                    Box::pin(self.send_to(mailbox, &event, id, role, via).await).await
                }
            };
            // Made after the await, so the future does not carry it.
            let mut published = Published::default();
            published.count(delivered?);
            Ok(published)
        })
    }

    fn fire_timer(&self, id: ProcessId, timer_id: Uuid) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            if !self.shared.store.owns(P::NAME, &id) {
                return;
            }
            let fired = self
                .call(&id, |reply| Request::Timer { timer_id, reply })
                .await;
            if let Err(error) = fired {
                tracing::warn!(pm = P::NAME, process_id = %id, %timer_id, %error,
                               "a timeout failed; it stays stored and fires again at the next start");
            }
        })
    }

    fn recover(&self) -> BoxFuture<'_, Result<usize, Error>> {
        Box::pin(async move {
            let ids = self
                .shared
                .store
                .unfinished(P::NAME)
                .await
                .map_err(|source| Error::Recovery {
                    pm: P::NAME,
                    source,
                })?;
            let ids: Vec<_> = (ids.into_iter())
                .filter(|id| self.shared.store.owns(P::NAME, id))
                .collect();
            for id in &ids {
                // Spawning the task is enough: it loads the instance and sends its outbox.
                self.mailbox(id);
            }
            Ok(ids.len())
        })
    }

    fn sweep(&self) {
        Host::sweep(self);
    }

    fn shutdown(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let mut done = Vec::new();
            for mailbox in self.live_mailboxes() {
                let (tx, rx) = tokio::sync::oneshot::channel();
                if mailbox.cast(Request::Shutdown { done: tx }).await.is_ok() {
                    done.push(rx);
                }
            }
            for rx in done {
                let _ = rx.await;
            }
        })
    }
}

impl<P: ProcessManager> Host<P> {
    /// Delivers `event` to each of `targets` this node owns; the first failure is returned
    /// once every delivery has finished.
    async fn publish_many(
        self: &Arc<Self>,
        event: Arc<EventEnvelope>,
        targets: Targets,
        role: Role,
        via: Via,
    ) -> Result<Published, Error> {
        // Queue at every instance first, so none waits for another's handling.
        let mut pending = Vec::with_capacity(targets.len());
        for id in targets.iter() {
            if self.shared.store.owns(P::NAME, id) {
                pending.push(self.send(&event, id.clone(), role, via).await);
            }
        }
        let mut published = Published::default();
        let mut first_error = None;
        for reply in pending {
            match reply.await {
                Ok(delivered) => published.count(delivered),
                Err(error) => {
                    first_error.get_or_insert(error);
                }
            }
        }
        first_error.map_or(Ok(published), Err)
    }
}

/// The routing table, fixed when the runtime starts.
#[derive(Default)]
pub(crate) struct Router {
    by_event: HashMap<&'static str, Vec<Arc<dyn Route>>>,
    all: Vec<Arc<dyn Route>>,
}

impl Router {
    pub(crate) fn add(
        &mut self,
        route: Arc<dyn Route>,
        event_types: impl IntoIterator<Item = &'static str>,
    ) {
        for event_type in event_types {
            self.by_event
                .entry(event_type)
                .or_default()
                .push(Arc::clone(&route));
        }
        self.all.push(route);
    }

    pub(crate) fn routes(&self) -> &[Arc<dyn Route>] {
        &self.all
    }

    /// Delivers an event to every instance of every PM type interested in it, then waits
    /// for all of them. The first failure is returned after every delivery has finished;
    /// deliveries that succeeded stay committed (redelivering the event is safe: they are
    /// deduplicated by event id).
    ///
    /// Not an `async fn`: with one PM type interested (the common case) the caller gets
    /// that route's future itself, and the envelope is moved once, into it, instead of
    /// through a future per layer on the way.
    pub(crate) fn publish(
        &self,
        event: EventEnvelope,
        via: Via,
    ) -> BoxFuture<'_, Result<Published, Error>> {
        match self.by_event.get(&*event.event_type).map(Vec::as_slice) {
            None => Box::pin(std::future::ready(Ok(Published::default()))),
            Some([route]) => route.publish(event, via),
            Some(routes) => Box::pin(Self::publish_many(routes, Arc::new(event), via)),
        }
    }

    /// As [`Router::publish`], to several PM types.
    async fn publish_many(
        routes: &[Arc<dyn Route>],
        event: Arc<EventEnvelope>,
        via: Via,
    ) -> Result<Published, Error> {
        let mut pending = Vec::new();
        let mut first_error = None;
        for route in routes {
            match route.send(&event, via).await {
                Ok(replies) => pending.extend(replies),
                Err(error) => {
                    first_error.get_or_insert(error);
                }
            }
        }
        let mut published = Published::default();
        for reply in pending {
            match reply.await {
                Ok(delivered) => published.count(delivered),
                Err(error) => {
                    first_error.get_or_insert(error);
                }
            }
        }
        match first_error {
            Some(error) => Err(error),
            None => Ok(published),
        }
    }
}
