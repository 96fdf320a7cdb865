//! Routed in-memory events through the runtime.
//!
//! One event costs, end to end: building the envelope (`EventEnvelope::new`: a random UUIDv4
//! event id and the typed payload behind an `Arc`), the routing table lookup, correlation
//! (the generated code reads `id` and builds a `ProcessId`), the instance registry lookup,
//! the handler, encoding the state to JSON, the commit to the `InMemoryStore` (the runtime's
//! default store), the in-memory mirror of the commit, and putting the instance back. An
//! instance nothing runs is run by its publisher on the publisher's own task; one that is
//! busy (another publisher holds it) takes the event through its mailbox and a task, with a
//! reply over a oneshot that `Runtime::publish` awaits (always so at one instance and 64
//! publishers). The baseline router
//! ([`crate::baseline_router`]) does the same routing and handling with none of the
//! persistence, dedup or lifecycle work; the direct loop ([`crate::direct`]) only the
//! handling.

use std::sync::Arc;
use std::time::Duration;

use pm_runtime::{EventEnvelope, InMemoryStore, Runtime, Store};

use crate::drive::drive;
use crate::saga::{Counter, NEVER_IDLE, Opened, Ticked, instance_ids, start_runtime};

/// A runtime with `instances` live [`Counter`] instances.
#[derive(Debug)]
pub struct Routed {
    /// The runtime under test.
    pub runtime: Runtime,
    ids: Arc<Vec<String>>,
}

impl Routed {
    /// Starts a runtime on an [`InMemoryStore`] and opens `instances` instances with
    /// `publishers` concurrent publishers; returns it with the time the opening took.
    pub async fn start(instances: usize, publishers: usize) -> (Self, Duration) {
        Self::start_on(InMemoryStore::new(), instances, publishers).await
    }

    /// As [`Routed::start`], on `store`.
    pub async fn start_on(
        store: impl Store,
        instances: usize,
        publishers: usize,
    ) -> (Self, Duration) {
        let runtime = start_runtime(store, NEVER_IDLE).await;
        let routed = Self {
            runtime,
            ids: Arc::new(instance_ids(instances)),
        };
        let opened = routed.open(publishers).await;
        (routed, opened)
    }

    /// Number of instances.
    pub fn instances(&self) -> usize {
        self.ids.len()
    }

    /// Publishes one `Opened` per instance; returns the wall time.
    async fn open(&self, publishers: usize) -> Duration {
        let (runtime, ids) = (self.runtime.clone(), Arc::clone(&self.ids));
        let n = ids.len();
        let elapsed = drive(n, n, publishers, move |i, _| {
            let (runtime, id) = (runtime.clone(), ids[i].clone());
            async move {
                runtime
                    .publish(Opened { id })
                    .await
                    .expect("an open is handled");
            }
        })
        .await;
        self.runtime.settled().await;
        elapsed
    }

    /// Publishes `events` `Ticked` events over the instances from `publishers` tasks, each
    /// awaiting its `publish`; returns the wall time.
    pub async fn publish(&self, events: usize, publishers: usize) -> Duration {
        self.ticks(events, publishers, false).await
    }

    /// As [`Routed::publish`], each event in an envelope of its own
    /// (`Runtime::publish_envelope`), as events read from a store or a transport arrive:
    /// their ids may be delivered again, so every instance records each one for dedup. A
    /// typed publish draws the id itself and records nothing.
    pub async fn publish_envelopes(&self, events: usize, publishers: usize) -> Duration {
        self.ticks(events, publishers, true).await
    }

    async fn ticks(&self, events: usize, publishers: usize, in_envelopes: bool) -> Duration {
        let (runtime, ids) = (self.runtime.clone(), Arc::clone(&self.ids));
        drive(ids.len(), events, publishers, move |i, k| {
            let (runtime, id) = (runtime.clone(), ids[i].clone());
            async move {
                let tick = Ticked { id, amount: k };
                let published = if in_envelopes {
                    runtime.publish_envelope(EventEnvelope::new(tick)).await
                } else {
                    runtime.publish(tick).await
                };
                let published = published.expect("a tick is handled");
                debug_assert_eq!(published.handled, 1);
            }
        })
        .await
    }

    /// The state of instance `i`, to check the work was done.
    pub async fn state(&self, i: usize) -> Counter {
        self.runtime
            .state::<Counter>(self.ids[i].as_str())
            .await
            .expect("the instance exists")
    }

    /// Shuts the runtime down.
    pub async fn shutdown(self) {
        self.runtime
            .shutdown()
            .await
            .expect("the runtime shuts down");
    }
}
