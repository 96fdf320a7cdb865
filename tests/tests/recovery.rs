//! Durability through the runtime: a crash between commit and dispatch, a state that no
//! longer decodes, a store that fails a write. Real SQLite files.

#![allow(clippy::unwrap_used)] // test helpers may panic: a failure is the point

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use common::*;
use pm_runtime::{
    Commit, DueTimer, Error, EventEnvelope, InMemoryStore, InstanceStatus, InstanceSummary,
    ProcessId, Runtime, SqliteStore, Store, StoreError, StoreFuture, StoredInstance,
};

/// A dispatcher that never answers: the command stays in flight until the "process" dies.
struct Hang;

impl pm_runtime::CommandDispatcher for Hang {
    async fn dispatch(
        &self,
        _: &pm_runtime::CommandEnvelope,
    ) -> Result<(), pm_runtime::DispatchError> {
        std::future::pending().await
    }
}

#[test]
fn commands_committed_before_a_crash_are_sent_after_restart_with_their_original_ids() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sagas.db");
    let event = EventEnvelope::new(placed("o-1", 25));

    // First "process": the command is committed, its dispatch hangs, then everything dies
    // (dropping the tokio runtime kills every task mid-flight, like kill -9).
    let first = tokio::runtime::Runtime::new().unwrap();
    first.block_on(async {
        let rt = Runtime::builder()
            .store(SqliteStore::open(&path).unwrap())
            .dispatcher(Hang)
            .register::<Order>()
            .start()
            .await
            .unwrap();
        rt.publish_envelope(event.clone()).await.unwrap();
    });
    drop(first);

    // Second "process": the outbox row is recovered and sent, once, with the same id.
    let second = tokio::runtime::Runtime::new().unwrap();
    second.block_on(async {
        let recorder = Recorder::default();
        let rt = Runtime::builder()
            .store(SqliteStore::open(&path).unwrap())
            .dispatcher(recorder.clone())
            .register::<Order>()
            .start()
            .await
            .unwrap();
        rt.settled().await;
        let sent = recorder.sent();
        assert_eq!(
            sent.len(),
            1,
            "the committed command is sent after the restart"
        );
        let expected =
            pm_runtime::CommandIds::derive("order", &ProcessId::from("o-1"), event.event_id, 0);
        assert_eq!(sent[0].command_id, expected.command_id);
        assert_eq!(sent[0].idempotency_key, expected.idempotency_key);
        assert_eq!(sent[0].causation_id, Some(event.event_id));
        assert_eq!(
            *sent[0].decode::<ChargePayment>().unwrap(),
            ChargePayment {
                order_id: "o-1".into(),
                amount: 25
            },
            "the payload survived as JSON"
        );
        // The redelivered event is a duplicate: no second charge.
        assert_eq!(rt.publish_envelope(event).await.unwrap().duplicates, 1);
        rt.settled().await;
        assert_eq!(recorder.sent().len(), 1);
        assert_eq!(rt.state::<Order>("o-1").await.unwrap().amount, 25);
    });
}

#[tokio::test]
async fn a_stored_state_that_no_longer_decodes_is_reported_with_the_instance() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sagas.db");
    {
        // A state written by some other shape of `order`.
        let store = SqliteStore::open(&path).unwrap();
        let mut commit = Commit::new(
            "order",
            ProcessId::from("o-2"),
            1,
            InstanceStatus::Running,
            0,
        );
        commit.state = Some(br#"{"amount":"not a number"}"#.to_vec());
        store.commit(commit).await.unwrap();
    }
    let rt = Runtime::builder()
        .store(SqliteStore::open(&path).unwrap())
        .dispatcher(Recorder::default())
        .register::<Order>()
        .start()
        .await
        .unwrap();
    let err = rt
        .publish(PaymentCharged {
            order_id: "o-2".into(),
        })
        .await
        .unwrap_err();
    let message = err.to_string();
    assert!(
        matches!(&err, Error::Store { source: StoreError::Decode { .. }, process_id, .. } if process_id.as_str() == "o-2"),
        "{message}"
    );
    assert!(message.contains("`order` instance `o-2`"), "{message}");
    assert!(message.contains("invalid type"), "{message}");
}

/// An in-memory store whose commits fail while `down` is set.
#[derive(Default)]
struct FlakyStore {
    inner: InMemoryStore,
    down: AtomicBool,
}

impl Store for FlakyStore {
    fn load<'a>(
        &'a self,
        pm: &'a str,
        id: &'a ProcessId,
    ) -> StoreFuture<'a, Option<StoredInstance>> {
        self.inner.load(pm, id)
    }
    fn commit(&self, commit: Commit) -> StoreFuture<'_, ()> {
        if self.down.load(Ordering::SeqCst) {
            return Box::pin(std::future::ready(Err(StoreError::Backend(
                "disk full".into(),
            ))));
        }
        self.inner.commit(commit)
    }
    fn due_timers(&self, until: u64, limit: usize) -> StoreFuture<'_, Vec<DueTimer>> {
        self.inner.due_timers(until, limit)
    }
    fn unfinished(&self, pm: &str) -> StoreFuture<'_, Vec<ProcessId>> {
        self.inner.unfinished(pm)
    }
    fn instances(&self, pm: &str) -> StoreFuture<'_, Vec<InstanceSummary>> {
        self.inner.instances(pm)
    }
    fn purge_finished(&self, pm: &str, before: u64) -> StoreFuture<'_, u64> {
        self.inner.purge_finished(pm, before)
    }
    fn is_durable(&self) -> bool {
        false
    }
}

#[tokio::test]
async fn a_failed_write_is_reported_and_loses_nothing_that_was_accepted() {
    let store = Arc::new(FlakyStore::default());
    let recorder = Recorder::default();
    let rt = Runtime::builder()
        .store(Arc::clone(&store))
        .dispatcher(recorder.clone())
        .register::<Order>()
        .start()
        .await
        .unwrap();
    rt.publish(placed("o-3", 5)).await.unwrap();
    rt.settled().await;

    store.down.store(true, Ordering::SeqCst);
    let note = EventEnvelope::new(OrderNoted {
        order_id: "o-3".into(),
        note: "n".into(),
    });
    let err = rt.publish_envelope(note.clone()).await.unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, Error::Store { .. }), "{message}");
    assert!(
        message.contains("`order` instance `o-3`") && message.contains("disk full"),
        "{message}"
    );
    assert!(
        rt.state::<Order>("o-3").await.unwrap().notes.is_empty(),
        "memory follows the store"
    );

    // The event was not accepted, so delivering it again once the store is back works.
    store.down.store(false, Ordering::SeqCst);
    assert_eq!(rt.publish_envelope(note).await.unwrap().handled, 1);
    assert_eq!(rt.state::<Order>("o-3").await.unwrap().notes, ["n"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resumed_instance_that_cannot_load_leaves_no_task_behind() {
    let alive = || {
        tokio::runtime::Handle::current()
            .metrics()
            .num_alive_tasks()
    };
    let settle = || tokio::time::sleep(std::time::Duration::from_millis(200));
    let store = Arc::new(InMemoryStore::new());
    let start = |store: Arc<InMemoryStore>| async move {
        Runtime::builder()
            .store(store)
            .dispatcher(Recorder::default())
            .register::<Order>()
            .start()
            .await
            .unwrap()
    };
    // The runtime's own background tasks, with nothing to resume.
    let rt = start(Arc::clone(&store)).await;
    settle().await;
    let background = alive();
    rt.shutdown().await.unwrap();
    settle().await;

    // An instance with work left (a stashed event) whose state no longer decodes: starting
    // resumes it, its load fails, and no request will ever come for that task to answer.
    let mut commit = Commit::new(
        "order",
        ProcessId::from("o-9"),
        1,
        InstanceStatus::Running,
        0,
    );
    commit.state = Some(br#"{"amount":"not a number"}"#.to_vec());
    commit.stash = vec![EventEnvelope::new(OrderNoted {
        order_id: "o-9".into(),
        note: "held".into(),
    })];
    store.commit(commit).await.unwrap();
    assert_eq!(store.unfinished("order").await.unwrap().len(), 1);

    let rt = start(Arc::clone(&store)).await;
    settle().await;
    assert_eq!(alive(), background, "the failed task ended");
    assert_eq!(rt.live_instances::<Order>().unwrap(), 0);
    // A request still gets the cause.
    let err = rt
        .publish(OrderNoted {
            order_id: "o-9".into(),
            note: "n".into(),
        })
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Store {
                source: StoreError::Decode { .. },
                ..
            }
        ),
        "{err}"
    );
    settle().await;
    assert_eq!(alive(), background);
    rt.shutdown().await.unwrap();
}
