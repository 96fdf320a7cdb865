//! Round-trip latency of one event on an otherwise idle runtime: one caller, one event at a
//! time, each timed from the call to its return.

use std::time::{Duration, Instant};

use pm_runtime::{EventEnvelope, Runtime};

use crate::baseline_router::ActorRouter;
use crate::saga::{Counter, Opened, Ticked};

/// `InstanceHandle::handle_event` round trips (evoq's `handle_event`): the envelope is built
/// before the clock starts; the time covers queueing, handling, the commit and the reply.
pub async fn handle_event(runtime: &Runtime, samples: usize) -> Vec<Duration> {
    let handle = runtime
        .instance::<Counter>("latency")
        .await
        .expect("the instance starts");
    let mut taken = Vec::with_capacity(samples);
    for k in 0..samples {
        let event = EventEnvelope::new(Ticked {
            id: "latency".into(),
            amount: k as u64,
        });
        let started = Instant::now();
        handle
            .handle_event(event)
            .await
            .expect("the event is handled");
        taken.push(started.elapsed());
    }
    taken
}

/// `Runtime::publish` round trips, envelope and correlation included.
pub async fn publish(runtime: &Runtime, samples: usize) -> Vec<Duration> {
    runtime
        .publish(Opened {
            id: "latency-publish".into(),
        })
        .await
        .expect("the instance opens");
    let mut taken = Vec::with_capacity(samples);
    for k in 0..samples {
        let started = Instant::now();
        runtime
            .publish(Ticked {
                id: "latency-publish".into(),
                amount: k as u64,
            })
            .await
            .expect("the event is handled");
        taken.push(started.elapsed());
    }
    taken
}

/// The same round trip through the hand-written actor router.
pub async fn baseline(samples: usize) -> Vec<Duration> {
    let router = ActorRouter::new();
    router
        .open(Opened {
            id: "latency".into(),
        })
        .await;
    let mut taken = Vec::with_capacity(samples);
    for k in 0..samples {
        let started = Instant::now();
        router
            .tick(Ticked {
                id: "latency".into(),
                amount: k as u64,
            })
            .await;
        taken.push(started.elapsed());
    }
    router.clear();
    taken
}
