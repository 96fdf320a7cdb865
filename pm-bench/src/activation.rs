//! Activation: starting instances, and reloading passivated ones from SQLite.

use std::sync::Arc;
use std::time::{Duration, Instant};

use pm_runtime::{InMemoryStore, Runtime, SqliteOptions, SqliteStore, Synchronous};

use crate::baseline_router::{ActorRouter, alive_tasks, tasks_ended};
use crate::drive::drive;
use crate::saga::{Counter, NEVER_IDLE, Opened, instance_ids, start_runtime};

/// Time to start `n` fresh instances through `Runtime::publish` of their start event from
/// `publishers` tasks, on the default in-memory store. Each start, on the publisher's own
/// task, loads (finds nothing), runs the start handler, commits the new instance and leaves
/// it asleep in the registry; no instance task is spawned.
pub async fn instance_start(n: usize, publishers: usize) -> Duration {
    let tasks_before = alive_tasks();
    let runtime = start_runtime(InMemoryStore::new(), NEVER_IDLE).await;
    let elapsed = open_all(&runtime, Arc::new(instance_ids(n)), publishers).await;
    runtime.shutdown().await.expect("the runtime shuts down");
    drop(runtime);
    // As the router's side does: the next measure starts once this one's tasks have ended.
    tasks_ended(tasks_before).await;
    elapsed
}

/// The same `n` starts in the hand-written actor router: spawn a task, handle one event.
pub async fn baseline_start(n: usize, publishers: usize) -> Duration {
    let tasks_before = alive_tasks();
    let router = ActorRouter::new();
    let ids = Arc::new(instance_ids(n));
    let router2 = Arc::clone(&router);
    let elapsed = drive(n, n, publishers, move |i, _| {
        let (router, id) = (Arc::clone(&router2), ids[i].clone());
        async move { router.open(Opened { id }).await }
    })
    .await;
    router.clear();
    tasks_ended(tasks_before).await;
    elapsed
}

async fn open_all(runtime: &Runtime, ids: Arc<Vec<String>>, publishers: usize) -> Duration {
    let runtime2 = runtime.clone();
    let n = ids.len();
    let elapsed = drive(n, n, publishers, move |i, _| {
        let (runtime, id) = (runtime2.clone(), ids[i].clone());
        async move {
            runtime.publish(Opened { id }).await.expect("opens");
        }
    })
    .await;
    runtime.settled().await;
    elapsed
}

/// Reloads of passivated instances from SQLite.
#[derive(Debug)]
pub struct Reload {
    /// Instances reloaded concurrently.
    pub concurrent: usize,
    /// Wall time of the concurrent reloads.
    pub concurrent_time: Duration,
    /// Each sequential reload, one at a time on an idle runtime.
    pub sequential: Vec<Duration>,
}

/// Opens `n` instances on a SQLite store (NORMAL), lets them passivate, then reads each one's
/// state (`Runtime::state`), which spawns its task and loads it from the file: first
/// `sequential` of them one at a time, then the rest from `publishers` tasks.
pub async fn reload_sqlite(n: usize, sequential: usize, publishers: usize) -> Reload {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("reload.db");
    let options = SqliteOptions {
        synchronous: Synchronous::Normal,
        ..SqliteOptions::default()
    };
    let store = tokio::task::spawn_blocking(move || SqliteStore::open_with(path, options))
        .await
        .expect("open task")
        .expect("the store opens");
    let idle = Duration::from_millis(100);
    let runtime = start_runtime(store, idle).await;
    let ids = Arc::new(instance_ids(n));
    open_all(&runtime, Arc::clone(&ids), publishers).await;
    wait_passivated(&runtime).await;

    let sequential = sequential.min(n);
    let mut taken = Vec::with_capacity(sequential);
    for id in &ids[..sequential] {
        let started = Instant::now();
        let state = runtime
            .state::<Counter>(id.as_str())
            .await
            .expect("the instance reloads");
        taken.push(started.elapsed());
        debug_assert_eq!(state.events, 1);
    }
    let rest = n - sequential;
    let runtime2 = runtime.clone();
    let ids2 = Arc::clone(&ids);
    let concurrent_time = drive(rest, rest, publishers, move |i, _| {
        let (runtime, id) = (runtime2.clone(), ids2[sequential + i].clone());
        async move {
            runtime
                .state::<Counter>(id)
                .await
                .expect("the instance reloads");
        }
    })
    .await;
    runtime.shutdown().await.expect("the runtime shuts down");
    drop(runtime);
    Reload {
        concurrent: rest,
        concurrent_time,
        sequential: taken,
    }
}

/// Waits until every instance has been passivated (dropped from memory).
async fn wait_passivated(runtime: &Runtime) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while runtime.live_instances::<Counter>().unwrap_or(0) > 0 {
        assert!(Instant::now() < deadline, "instances were not passivated");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
