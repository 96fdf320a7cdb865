//! Hibernation: an idle instance's task ends and its state waits in memory, without a task,
//! until its next request wakes it (no store read) or the idle timeout passivates it.

#![allow(clippy::unwrap_used)] // test helpers may panic: a failure is the point

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::*;
use pm_runtime::{
    Commit, DueTimer, InMemoryStore, InstanceSummary, ProcessId, Runtime, Store, StoreFuture,
    StoredInstance,
};

/// An in-memory store that counts instance loads.
#[derive(Default)]
struct CountingStore {
    inner: InMemoryStore,
    loads: AtomicUsize,
}

impl Store for CountingStore {
    fn load<'a>(
        &'a self,
        pm: &'a str,
        process_id: &'a ProcessId,
    ) -> StoreFuture<'a, Option<StoredInstance>> {
        self.loads.fetch_add(1, Ordering::SeqCst);
        self.inner.load(pm, process_id)
    }
    fn commit(&self, commit: Commit) -> StoreFuture<'_, ()> {
        self.inner.commit(commit)
    }
    fn due_timers(&self, until_ms: u64, limit: usize) -> StoreFuture<'_, Vec<DueTimer>> {
        self.inner.due_timers(until_ms, limit)
    }
    fn unfinished(&self, pm: &str) -> StoreFuture<'_, Vec<ProcessId>> {
        self.inner.unfinished(pm)
    }
    fn instances(&self, pm: &str) -> StoreFuture<'_, Vec<InstanceSummary>> {
        self.inner.instances(pm)
    }
    fn purge_finished(&self, pm: &str, before_ms: u64) -> StoreFuture<'_, u64> {
        self.inner.purge_finished(pm, before_ms)
    }
    fn is_durable(&self) -> bool {
        false
    }
}

async fn runtime_with(
    store: Arc<CountingStore>,
    recorder: &Recorder,
    hibernate_after: Duration,
    idle_timeout: Duration,
) -> Runtime {
    Runtime::builder()
        .store(store)
        .dispatcher(recorder.clone())
        .hibernate_after(hibernate_after)
        .idle_timeout(idle_timeout)
        .register::<Order>()
        .start()
        .await
        .unwrap()
}

fn note(id: &str, note: impl Into<String>) -> OrderNoted {
    OrderNoted {
        order_id: id.into(),
        note: note.into(),
    }
}

/// Waits (up to 5 s) until `done` holds.
async fn eventually(mut done: impl FnMut() -> bool) {
    for _ in 0..500 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the condition did not hold within 5 s");
}

#[tokio::test]
async fn an_idle_instance_hibernates_and_wakes_without_reading_the_store() {
    let store = Arc::new(CountingStore::default());
    let recorder = Recorder::default();
    let rt = runtime_with(
        Arc::clone(&store),
        &recorder,
        Duration::from_millis(20),
        Duration::from_secs(60),
    )
    .await;
    rt.publish(placed("o-1", 10)).await.unwrap();
    rt.publish(note("o-1", "before")).await.unwrap();
    rt.settled().await;
    let loads = store.loads.load(Ordering::SeqCst);

    eventually(|| rt.stats().hibernated == 1).await;
    assert_eq!(rt.live_instances::<Order>().unwrap(), 1, "still in memory");
    assert_eq!(rt.stats().passivated, 0);

    rt.publish(note("o-1", "after")).await.unwrap();
    let state = rt.state::<Order>("o-1").await.unwrap();
    assert_eq!(state.notes, ["before", "after"]);
    assert_eq!(state.amount, 10);
    assert_eq!(
        store.loads.load(Ordering::SeqCst),
        loads,
        "waking read nothing from the store"
    );
    rt.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_hibernating_instance_is_passivated_after_the_idle_timeout() {
    let store = Arc::new(CountingStore::default());
    let recorder = Recorder::default();
    let rt = runtime_with(
        Arc::clone(&store),
        &recorder,
        Duration::from_millis(10),
        Duration::from_millis(150),
    )
    .await;
    rt.publish(placed("o-1", 10)).await.unwrap();
    rt.settled().await;
    eventually(|| rt.stats().hibernated == 1).await;
    eventually(|| rt.live_instances::<Order>().unwrap() == 0).await;
    assert_eq!(rt.stats().passivated, 1);

    let loads = store.loads.load(Ordering::SeqCst);
    rt.publish(note("o-1", "back")).await.unwrap();
    assert_eq!(store.loads.load(Ordering::SeqCst), loads + 1, "reloaded");
    let state = rt.state::<Order>("o-1").await.unwrap();
    assert_eq!((state.amount, state.notes), (10, vec!["back".to_owned()]));
    rt.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_racing_hibernation_are_all_handled_in_order() {
    let store = Arc::new(CountingStore::default());
    let recorder = Recorder::default();
    // Tasks hibernate after 1 ms idle, so publishes keep landing while a task is going to
    // sleep; each instance must still see every event, once, in order.
    let rt = runtime_with(
        Arc::clone(&store),
        &recorder,
        Duration::from_millis(1),
        Duration::from_secs(60),
    )
    .await;
    let mut publishers = Vec::new();
    for p in 0..4 {
        let rt = rt.clone();
        publishers.push(tokio::spawn(async move {
            let id = format!("o-{p}");
            rt.publish(placed(&id, 1)).await.unwrap();
            for n in 0..150u64 {
                // 0, 1 or 2 ms: sometimes in time, sometimes just as the task hibernates.
                tokio::time::sleep(Duration::from_micros((n * 7919 + p) % 3 * 1000)).await;
                rt.publish(note(&id, n.to_string())).await.unwrap();
            }
        }));
    }
    for publisher in publishers {
        publisher.await.unwrap();
    }
    let expected: Vec<String> = (0..150).map(|n: u64| n.to_string()).collect();
    for p in 0..4 {
        let state = rt.state::<Order>(format!("o-{p}")).await.unwrap();
        assert_eq!(state.notes, expected, "instance o-{p}");
    }
    assert!(
        rt.stats().hibernated >= 20,
        "the race was exercised: {} hibernations",
        rt.stats().hibernated
    );
    assert_eq!(
        store.loads.load(Ordering::SeqCst),
        4,
        "one load per instance"
    );
    rt.shutdown().await.unwrap();
}

#[tokio::test]
async fn shutdown_drops_hibernating_instances_and_queries_wake_them() {
    let store = Arc::new(CountingStore::default());
    let recorder = Recorder::default();
    let rt = runtime_with(
        Arc::clone(&store),
        &recorder,
        Duration::from_millis(10),
        Duration::from_secs(60),
    )
    .await;
    for id in ["o-1", "o-2", "o-3"] {
        rt.publish(placed(id, 5)).await.unwrap();
    }
    rt.settled().await;
    eventually(|| rt.stats().hibernated == 3).await;
    // Control requests (a state query) wake an instance like events do.
    assert_eq!(rt.state::<Order>("o-2").await.unwrap().amount, 5);
    rt.shutdown().await.unwrap();
    assert_eq!(rt.live_instances::<Order>().unwrap(), 0);
}
