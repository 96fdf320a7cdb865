//! What tools do to a store no runtime is using: the registration a runtime leaves behind, and
//! parked instances resolved offline, then picked up by the next runtime.

#![allow(clippy::unwrap_used)] // test helpers may panic: a failure is the point

mod common;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use common::Recorder;
use pm_runtime::{
    Event, EventEnvelope, InstanceStatus, ParkedAction, ProcessId, ProcessManager, RetryPolicy,
    Runtime, SqliteStore, Store, process_manager,
};
use serde::{Deserialize, Serialize};

/// Whether the poison handler fails; each test flips it once the "fix" is deployed.
static BROKEN_RETRY: AtomicBool = AtomicBool::new(true);
static BROKEN_SKIP: AtomicBool = AtomicBool::new(true);

#[derive(Debug, Clone, Serialize, Deserialize, Event)]
struct Opened {
    id: String,
}
#[derive(Debug, Clone, Serialize, Deserialize, Event)]
struct Poison {
    id: String,
}
#[derive(Debug, Clone, Serialize, Deserialize, Event)]
struct Noted {
    id: String,
    n: u32,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Journal {
    notes: Vec<u32>,
    poison_handled: bool,
}

#[process_manager(name = "journal", correlate = id)]
impl Journal {
    #[start]
    fn opened(&mut self, _e: &Opened) {}

    #[handle]
    fn poison(&mut self, e: &Poison) {
        let broken = if e.id.starts_with("retry") {
            &BROKEN_RETRY
        } else {
            &BROKEN_SKIP
        };
        if broken.load(Ordering::SeqCst) {
            panic!("cannot digest this");
        }
        self.poison_handled = true;
    }

    #[handle]
    fn noted(&mut self, e: &Noted) {
        self.notes.push(e.n);
    }
}

async fn runtime(path: &Path) -> Runtime {
    Runtime::builder()
        .store(SqliteStore::open(path).unwrap())
        .dispatcher(Recorder::default())
        .handler_retry(RetryPolicy {
            max_attempts: 1,
            initial_backoff: std::time::Duration::from_millis(1),
            max_backoff: std::time::Duration::from_millis(1),
        })
        .register::<Journal>()
        .start()
        .await
        .unwrap()
}

/// Parks instance `id` on a poison event with a note stashed behind it, then stops. The
/// events come in envelopes, as a source delivers them, so their ids are recorded.
async fn park(path: &Path, id: &str) {
    let rt = runtime(path).await;
    let publish = |event| rt.publish_envelope(event);
    publish(EventEnvelope::new(Opened { id: id.into() }))
        .await
        .unwrap();
    assert!(
        publish(EventEnvelope::new(Poison { id: id.into() }))
            .await
            .is_err()
    );
    publish(EventEnvelope::new(Noted {
        id: id.into(),
        n: 1,
    }))
    .await
    .unwrap();
    assert_eq!(
        rt.status::<Journal>(id).await.unwrap(),
        InstanceStatus::Parked
    );
    rt.shutdown().await.unwrap();
}

async fn resolve(path: &Path, id: &str, action: ParkedAction) {
    let store = SqliteStore::open(path).unwrap();
    store
        .resolve_parked(Journal::NAME, &ProcessId::new(id), action, 1)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_runtime_records_its_process_managers_in_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sagas.db");
    runtime(&path).await.shutdown().await.unwrap();
    let listed = SqliteStore::open(&path)
        .unwrap()
        .process_managers()
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    let info = &listed[0];
    assert_eq!((info.name.as_str(), info.version), ("journal", 1));
    assert_eq!(info.events, ["Opened", "Poison", "Noted"]);
    assert_eq!(info.diagram, Journal::DIAGRAM);
    assert!(info.diagram.starts_with("flowchart"), "{}", info.diagram);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offline_retry_is_replayed_first_when_the_next_runtime_starts() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sagas.db");
    park(&path, "retry-a").await;
    resolve(&path, "retry-a", ParkedAction::Retry).await;

    BROKEN_RETRY.store(false, Ordering::SeqCst);
    let rt = runtime(&path).await;
    rt.settled().await;
    let state: Journal = rt.state("retry-a").await.unwrap();
    assert!(state.poison_handled, "the dead-letter event was handled");
    assert_eq!(state.notes, [1], "then the stashed note");
    assert_eq!(
        rt.status::<Journal>("retry-a").await.unwrap(),
        InstanceStatus::Running
    );
    let stored = stored(&path, "retry-a").await;
    assert!(stored.stash.is_empty() && stored.dead_letter.is_none());
    rt.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offline_skip_drops_the_poison_and_replays_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sagas.db");
    park(&path, "skip-a").await;
    resolve(&path, "skip-a", ParkedAction::Skip).await;

    let rt = runtime(&path).await;
    rt.settled().await;
    let state: Journal = rt.state("skip-a").await.unwrap();
    assert!(!state.poison_handled, "the poison event never ran");
    assert_eq!(state.notes, [1]);
    let stored = stored(&path, "skip-a").await;
    assert_eq!(
        stored.handled.len(),
        3,
        "opened, the skipped poison and the note"
    );
    assert!(stored.stash.is_empty());
    rt.shutdown().await.unwrap();
}

/// Reads an instance straight from the file, beside the running runtime.
async fn stored(path: &Path, id: &str) -> pm_runtime::StoredInstance {
    let store = SqliteStore::open(path).unwrap();
    store
        .load(Journal::NAME, &ProcessId::new(id))
        .await
        .unwrap()
        .unwrap()
}
