//! Memory per idle live instance, read from the binary's counting allocator.
//!
//! Live bytes are read before and after `n` instances are opened and the runtime has settled;
//! the difference, less the user's state, divided by `n`, is what one idle instance costs.
//! The runtime is measured on a [`DiscardStore`] (the runtime alone: registry entry, task,
//! mailboxes, instance bookkeeping) and on the default [`InMemoryStore`] (plus the store's
//! copy of the instance), beside the hand-written actor router.

use std::sync::Arc;
use std::time::Duration;

use pm_runtime::{InMemoryStore, Runtime, Store};

use crate::baseline_router::{ActorRouter, alive_tasks, tasks_ended};
use crate::drive::drive;
use crate::saga::{
    Counter, DiscardStore, HIBERNATE_AFTER, NEVER_IDLE, Opened, instance_ids, start_runtime,
    start_runtime_awake,
};

/// Bytes currently allocated, as the binary's global allocator counts them.
pub type LiveBytes = fn() -> i64;

/// Which host the instances live in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Host {
    /// The runtime with a store that keeps nothing: the runtime's own cost, the idle
    /// instances asleep (the publisher that opened one ran it on its own task and put it
    /// back to sleep; any task ends after the default `hibernate_after`, 1 s).
    RuntimeAlone,
    /// As `RuntimeAlone` with hibernation off, so each idle instance keeps a task and a
    /// mailbox (what every instance costs in its first second idle when hibernation is on
    /// and a task ran it).
    RuntimeAwake,
    /// The runtime with its default in-memory store, which keeps a copy of each instance.
    RuntimeInMemory,
    /// The hand-written actor router.
    Baseline,
}

/// Bytes per idle instance of `host` with `n` instances, the user's state excluded.
pub async fn per_idle_instance(host: Host, n: usize, publishers: usize, live: LiveBytes) -> f64 {
    let ids = Arc::new(instance_ids(n));
    let state = std::mem::size_of::<Counter>() as i64;
    match host {
        Host::RuntimeAlone => runtime(DiscardStore, ids, publishers, live, state, true).await,
        Host::RuntimeAwake => runtime(DiscardStore, ids, publishers, live, state, false).await,
        Host::RuntimeInMemory => {
            // The store also keeps the state, serialised.
            let stored = serde_json::to_vec(&Counter {
                events: 1,
                ..Counter::default()
            })
            .map_or(0, |bytes| bytes.len() as i64);
            let store = InMemoryStore::new();
            runtime(store, ids, publishers, live, state + stored, true).await
        }
        Host::Baseline => baseline(ids, publishers, live, state).await,
    }
}

async fn runtime(
    store: impl Store,
    ids: Arc<Vec<String>>,
    publishers: usize,
    live: LiveBytes,
    state: i64,
    hibernated: bool,
) -> f64 {
    let runtime = if hibernated {
        start_runtime(store, NEVER_IDLE).await
    } else {
        start_runtime_awake(store).await
    };
    let n = ids.len();
    // Settle the runtime's one-off allocations before the first reading.
    runtime.settled().await;
    let before = quiet(live).await;
    open_all(&runtime, Arc::clone(&ids), publishers).await;
    if hibernated {
        // Opening runs each instance on its publisher's task and leaves it asleep; a task
        // that ran one anyway (two opens racing) ends after the default `hibernate_after`.
        tokio::time::sleep(HIBERNATE_AFTER + Duration::from_millis(200)).await;
    }
    let after = quiet(live).await;
    let live_instances = runtime.live_instances::<Counter>().unwrap_or(0);
    assert_eq!(live_instances, n, "every instance is live");
    runtime.shutdown().await.expect("the runtime shuts down");
    per_instance(before, after, n, state)
}

async fn open_all(runtime: &Runtime, ids: Arc<Vec<String>>, publishers: usize) {
    let runtime2 = runtime.clone();
    let n = ids.len();
    drive(n, n, publishers, move |i, _| {
        let (runtime, id) = (runtime2.clone(), ids[i].clone());
        async move {
            runtime.publish(Opened { id }).await.expect("opens");
        }
    })
    .await;
    runtime.settled().await;
}

async fn baseline(ids: Arc<Vec<String>>, publishers: usize, live: LiveBytes, state: i64) -> f64 {
    let tasks_before = alive_tasks();
    let router = ActorRouter::new();
    let n = ids.len();
    let before = quiet(live).await;
    let router2 = Arc::clone(&router);
    drive(n, n, publishers, move |i, _| {
        let (router, id) = (Arc::clone(&router2), ids[i].clone());
        async move { router.open(Opened { id }).await }
    })
    .await;
    let after = quiet(live).await;
    assert_eq!(router.len(), n, "every actor is live");
    router.clear();
    tasks_ended(tasks_before).await;
    per_instance(before, after, n, state)
}

/// Reads the live bytes once they have stopped moving: tasks of an earlier measure (or the
/// publishers just joined) may still be freeing what they held.
async fn quiet(live: LiveBytes) -> i64 {
    let mut last = live();
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let now = live();
        if (now - last).abs() < 64 * 1024 {
            return now;
        }
        last = now;
    }
    last
}

fn per_instance(before: i64, after: i64, n: usize, state: i64) -> f64 {
    (after - before - state * n as i64) as f64 / n.max(1) as f64
}
