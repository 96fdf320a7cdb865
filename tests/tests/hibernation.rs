//! Hibernation: an idle instance's task ends and its state waits in memory, without a task,
//! until its next request wakes it (no store read) or the idle timeout passivates it. A
//! publish to a sleeping instance is handled on the publisher's own task.

#![allow(clippy::unwrap_used)] // test helpers may panic: a failure is the point

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use common::*;
use pm_runtime::{
    Commit, DueTimer, InMemoryStore, InstanceStatus, InstanceSummary, ProcessId, Runtime, Store,
    StoreFuture, StoredInstance,
};

/// An in-memory store that counts instance loads, and whose commits wait while `stalled`.
#[derive(Default)]
struct CountingStore {
    inner: InMemoryStore,
    loads: AtomicUsize,
    stalled: AtomicBool,
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
        Box::pin(async move {
            while self.stalled.load(Ordering::SeqCst) {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            self.inner.commit(commit).await
        })
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

/// A runtime on `store` (instances sleep after 10 ms idle) whose instance `o-1` was placed
/// and has gone to sleep: `placed` sends a command, so a task ran it until it hibernated.
async fn one_asleep(
    store: &Arc<CountingStore>,
    recorder: &Recorder,
    idle_timeout: Duration,
) -> Runtime {
    let hibernate_after = Duration::from_millis(10);
    let rt = runtime_with(Arc::clone(store), recorder, hibernate_after, idle_timeout).await;
    rt.publish(placed("o-1", 10)).await.unwrap();
    rt.settled().await;
    eventually(|| rt.stats().hibernated == 1).await;
    rt
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
    let rt = one_asleep(&store, &recorder, Duration::from_millis(150)).await;
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
    // Tasks hibernate after 1 ms idle. Two publishers per instance send bursts, so events
    // land while the other publisher runs the instance on its own task (they queue, and a
    // task takes over), while that task goes to sleep, and while the instance sleeps (the
    // publisher runs it). Each publisher's events must all be handled, once, in order.
    let rt = runtime_with(
        Arc::clone(&store),
        &recorder,
        Duration::from_millis(1),
        Duration::from_secs(60),
    )
    .await;
    for i in 0..4 {
        rt.publish(placed(&format!("o-{i}"), 1)).await.unwrap();
    }
    let mut publishers = Vec::new();
    for p in 0..8u64 {
        let rt = rt.clone();
        publishers.push(tokio::spawn(async move {
            let id = format!("o-{}", p % 4);
            for n in 0..150u64 {
                if n % 5 == 0 {
                    // 0, 1 or 2 ms between bursts: sometimes in time, sometimes just as
                    // the task hibernates.
                    tokio::time::sleep(Duration::from_micros((n * 7919 + p) % 3 * 1000)).await;
                }
                rt.publish(note(&id, format!("{p}-{n}"))).await.unwrap();
            }
        }));
    }
    for publisher in publishers {
        publisher.await.unwrap();
    }
    for i in 0..4u64 {
        let state = rt.state::<Order>(format!("o-{i}")).await.unwrap();
        for p in [i, i + 4] {
            let prefix = format!("{p}-");
            let seen: Vec<&str> = (state.notes.iter())
                .filter_map(|note| note.strip_prefix(&prefix))
                .collect();
            let expected: Vec<String> = (0..150).map(|n: u64| n.to_string()).collect();
            assert_eq!(seen, expected, "publisher {p} at instance o-{i}");
        }
        assert_eq!(state.notes.len(), 300, "instance o-{i}");
    }
    let stats = rt.stats();
    assert!(
        stats.hibernated >= 3 && stats.handled_inline >= 100,
        "the races were exercised: {} hibernations, {} events handled by their publisher",
        stats.hibernated,
        stats.handled_inline
    );
    assert!(
        stats.handled - stats.handled_inline >= 10,
        "some events queued behind a busy publisher: {} of {} handled by a task",
        stats.handled - stats.handled_inline,
        stats.handled
    );
    assert_eq!(
        store.loads.load(Ordering::SeqCst),
        4,
        "one load per instance"
    );
    rt.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_sleeping_instance_is_run_by_its_publisher() {
    let store = Arc::new(CountingStore::default());
    let recorder = Recorder::default();
    let rt = one_asleep(&store, &recorder, Duration::from_secs(60)).await;
    let before = rt.stats();
    for n in 0..3 {
        rt.publish(note("o-1", n.to_string())).await.unwrap();
    }
    let after = rt.stats();
    assert_eq!(after.handled_inline - before.handled_inline, 3);
    assert_eq!(
        after.hibernated, 1,
        "no task was woken, so none went back to sleep"
    );
    assert_eq!(store.loads.load(Ordering::SeqCst), 1, "no store read");
    let state = rt.state::<Order>("o-1").await.unwrap();
    assert_eq!(state.notes, ["0", "1", "2"]);
    rt.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_panic_in_a_handler_run_by_its_publisher_becomes_an_error() {
    let store = Arc::new(CountingStore::default());
    let recorder = Recorder::default();
    let rt = one_asleep(&store, &recorder, Duration::from_secs(60)).await;
    let before = rt.stats().handled_inline;
    let state = rt.state::<Order>("o-1").await.unwrap();
    // The query woke a task; let it go back to sleep so the publisher runs the instance.
    eventually(|| rt.stats().hibernated == 2).await;

    publish_panicking(&rt, "o-1").await;
    assert_eq!(
        rt.stats().handled_inline - before,
        1,
        "run by its publisher"
    );
    assert_eq!(
        rt.status::<Order>("o-1").await.unwrap(),
        InstanceStatus::Parked
    );
    assert_eq!(rt.state::<Order>("o-1").await.unwrap(), state, "undone");
    rt.skip_parked::<Order>("o-1").await.unwrap();
    rt.publish(note("o-1", "after")).await.unwrap();
    let notes = rt.state::<Order>("o-1").await.unwrap().notes;
    assert_eq!(notes, ["after"]);
    rt.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_publisher_dropped_mid_commit_frees_the_instance_for_the_next_request() {
    let store = Arc::new(CountingStore::default());
    let recorder = Recorder::default();
    let rt = one_asleep(&store, &recorder, Duration::from_secs(60)).await;

    // The publisher runs the sleeping instance itself and is dropped while its commit waits;
    // a state query arrives meanwhile and queues behind it.
    let inline_before = rt.stats().handled_inline;
    store.stalled.store(true, Ordering::SeqCst);
    let publishing = tokio::spawn({
        let rt = rt.clone();
        async move { rt.publish(note("o-1", "lost")).await }
    });
    tokio::time::sleep(Duration::from_millis(20)).await;
    let query = tokio::spawn({
        let rt = rt.clone();
        async move { rt.state::<Order>("o-1").await }
    });
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(!query.is_finished(), "the query waits behind the publisher");
    assert_eq!(
        rt.stats().handled_inline,
        inline_before,
        "the publisher is still mid-commit"
    );
    publishing.abort();
    assert!(publishing.await.unwrap_err().is_cancelled());
    store.stalled.store(false, Ordering::SeqCst);

    // The query is answered from the store, which never got the dropped commit.
    let answered = tokio::time::timeout(Duration::from_secs(5), query).await;
    let state = answered.expect("the query is answered").unwrap().unwrap();
    assert_eq!((state.amount, state.notes.len()), (10, 0));
    assert_eq!(store.loads.load(Ordering::SeqCst), 2, "reloaded once");
    rt.publish(note("o-1", "kept")).await.unwrap();
    let state = rt.state::<Order>("o-1").await.unwrap();
    assert_eq!(state.notes, ["kept"]);
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
