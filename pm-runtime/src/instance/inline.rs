//! A publisher runs an idle instance on its own task.
//!
//! Handing an event to an instance's task costs a wake of that task, a switch to it, and a
//! wake of the publisher for the reply: more than the handling itself for a small saga. When
//! nothing runs the instance (it hibernates, or is not in memory yet), the publisher claims
//! it instead ([`Host::claim`]), loads it if need be, handles the event and commits, all on
//! its own task, and puts it back to sleep. Ordering holds because the claim is made under
//! the registry lock: whoever publishes to the instance meanwhile finds it busy and queues
//! in a mailbox, and the publisher hands the instance to a task to drain that mailbox in
//! order. The same happens when the event left commands to send, since a task sends them.
//!
//! A publisher whose future is dropped mid-way gives the claim up ([`Host::abandon`]): the
//! instance it held may be behind the store, so it is dropped and the next request reloads
//! it; requests queued meanwhile are told to resolve the instance again.

use std::sync::Arc;

use tracing::Instrument;

use super::Instance;
use super::mailbox::{Delivered, Via};
use super::task::handle_event;
use crate::envelope::EventEnvelope;
use crate::error::Error;
use crate::host::Host;
use crate::ids::ProcessId;
use crate::moment::{self, Moment};
use crate::process_manager::{ProcessManager, Role};
use crate::stats::Counters;

/// A claim on an idle instance, held by the publisher that runs it.
pub(crate) struct Inline<'a, P: ProcessManager> {
    // Borrowed: a clone would bump the host's reference count, which every publisher on
    // every core shares.
    host: &'a Arc<Host<P>>,
    id: ProcessId,
    generation: u64,
    /// The hibernating instance, or `None` to load it; held here while the publisher runs
    /// it, so that a dropped publisher releases what it counted as pending work.
    instance: Option<Box<Instance<P>>>,
    /// Whether the registry slot is still claimed (cleared once the instance is put back).
    claimed: bool,
}

impl<'a, P: ProcessManager> Inline<'a, P> {
    pub(crate) fn new(
        host: &'a Arc<Host<P>>,
        id: ProcessId,
        generation: u64,
        instance: Option<Box<Instance<P>>>,
    ) -> Self {
        // The event counts as pending work for `settled()` until it is handled (a
        // `Ticket` would also clone the counter's `Arc`, which every core shares).
        host.shared.activity.add(1);
        Self {
            host,
            id,
            generation,
            instance,
            claimed: true,
        }
    }

    /// Handles `event` (published, so not direct) and puts the instance back.
    pub(crate) async fn deliver(
        mut self,
        event: &EventEnvelope,
        role: Role,
        via: Via,
    ) -> Result<Delivered, Error> {
        let span = tracing::debug_span!("pm_instance", pm = P::NAME, process_id = %self.id);
        self.run(event, role, via).instrument(span).await
    }

    async fn run(
        &mut self,
        event: &EventEnvelope,
        role: Role,
        via: Via,
    ) -> Result<Delivered, Error> {
        let instance = match self.instance.take() {
            Some(instance) => instance,
            // On failure the claim is dropped, which frees the slot for the next try.
            None => {
                Box::new(Box::pin(Instance::load(Arc::clone(self.host), self.id.clone())).await?)
            }
        };
        // A stash left to replay goes first, which is the task's job at its start.
        if instance.status().accepts_events() && !instance.stash.is_empty() {
            self.put_back(instance, moment::now(), true);
            // Rare (a resumed instance that stopped replaying), so the copy is affordable.
            let (host, event) = (self.host, Arc::new(event.clone()));
            return Box::pin(host.send(&event, self.id.clone(), role, via).await).await;
        }
        let instance = self.instance.insert(instance);
        let (result, ended) = handle_event(instance, event, role, via).await;
        Counters::bump(&self.host.shared.counters.local().handled_inline);
        if let Some(instance) = self.instance.take() {
            self.put_back(instance, ended, false);
        }
        result
    }

    fn put_back(&mut self, instance: Box<Instance<P>>, idle_since: Moment, to_task: bool) {
        self.claimed = false;
        let (host, id) = (&self.host, &self.id);
        host.put_back(id, self.generation, instance, idle_since, to_task);
    }
}

impl<P: ProcessManager> Drop for Inline<'_, P> {
    fn drop(&mut self) {
        if let Some(mut instance) = self.instance.take() {
            instance.release();
        }
        if self.claimed {
            self.host.abandon(&self.id, self.generation);
        }
        self.host.shared.activity.done(1);
    }
}
