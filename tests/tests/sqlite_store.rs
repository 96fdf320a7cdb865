//! What only the SQLite store promises: durability across reopening, clear refusals at open,
//! group commits that isolate a failing commit, and both `synchronous` settings.
#![allow(clippy::unwrap_used)]

mod store_fixtures;

use std::path::Path;
use std::sync::Arc;

use pm_runtime::{
    Commit, ProcessId, Settlement, SqliteOptions, SqliteStore, Store, StoreError, Synchronous,
};
use serde_json::json;
use store_fixtures::{PM, command, id};

fn commit(process_id: &str, revision: u64) -> Commit {
    store_fixtures::commit(PM, process_id, revision, revision * 10)
}

/// The open error's path and message, or a panic naming what came back instead.
fn open_error(result: Result<SqliteStore, StoreError>) -> (std::path::PathBuf, String) {
    match result {
        Err(error @ StoreError::Open { .. }) => {
            let message = error.to_string();
            let StoreError::Open { path, .. } = error else {
                unreachable!()
            };
            (path, message)
        }
        Err(other) => panic!("expected an open error, got {other:?}"),
        Ok(_) => panic!("expected an open error, the store opened"),
    }
}

#[tokio::test]
async fn data_survives_dropping_and_reopening_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sagas.db");
    {
        let store = SqliteStore::open(&path).unwrap();
        assert!(store.is_durable());
        assert_eq!(store.path(), path);
        let mut c = commit("o-1", 1);
        c.state = Some(b"{\"amount\":30}".to_vec());
        c.enqueue = vec![command(1), command(2)];
        store.commit(c).await.unwrap();
        let mut c = commit("o-1", 2);
        c.settle = vec![(id(1), Settlement::Completed)];
        store.commit(c).await.unwrap();
    }
    let store = SqliteStore::open(&path).unwrap();
    let i = store
        .load(PM, &ProcessId::new("o-1"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (i.revision, i.state.as_slice()),
        (2, &b"{\"amount\":30}"[..])
    );
    assert_eq!(i.outbox.len(), 1);
    assert_eq!(i.completed[0].command_id, id(1));
    assert_eq!(
        i.completed[0].payload.to_json().unwrap().into_owned(),
        json!({ "order_id": "o-1", "amount": 10 })
    );
    store.commit(commit("o-1", 3)).await.unwrap();
    assert_eq!(
        store.unfinished(PM).await.unwrap(),
        vec![ProcessId::new("o-1")]
    );
}

#[test]
fn a_file_that_is_not_sqlite_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.txt");
    let garbage: Vec<u8> = (0..4096u32).map(|i| (i * 7 + 3) as u8).collect();
    std::fs::write(&path, &garbage).unwrap();
    let (at, message) = open_error(SqliteStore::open(&path));
    assert_eq!(at, path);
    assert!(message.contains(&path.display().to_string()), "{message}");
    assert!(message.contains("not a SQLite database"), "{message}");
    assert_eq!(
        std::fs::read(&path).unwrap(),
        garbage,
        "the file is untouched"
    );
}

#[test]
fn a_missing_directory_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-dir");
    let path = missing.join("sagas.db");
    let (at, message) = open_error(SqliteStore::open(&path));
    assert_eq!(at, path);
    assert!(message.contains(&path.display().to_string()), "{message}");
    assert!(
        message.contains(&format!("directory `{}` does not exist", missing.display())),
        "{message}"
    );
}

#[test]
fn a_database_of_another_application_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("theirs.db");
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
        .unwrap();
    drop(conn);
    let (at, message) = open_error(SqliteStore::open(&path));
    assert_eq!(at, path);
    assert!(message.contains("no `pm_schema` table"), "{message}");
    let conn = rusqlite::Connection::open(&path).unwrap();
    let tables: i64 = conn
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(tables, 1, "nothing was added to their database");
}

#[test]
fn a_newer_schema_is_refused_and_reopening_is_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sagas.db");
    drop(SqliteStore::open(&path).unwrap());
    drop(SqliteStore::open(&path).unwrap());
    let conn = rusqlite::Connection::open(&path).unwrap();
    let version: i64 = conn
        .query_row("SELECT version FROM pm_schema", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, 2);
    conn.execute("UPDATE pm_schema SET version = 99", [])
        .unwrap();
    drop(conn);
    let (at, message) = open_error(SqliteStore::open(&path));
    assert_eq!(at, path);
    assert!(message.contains("schema version 99"), "{message}");
}

#[tokio::test]
async fn an_unknown_stored_status_is_a_decode_error_naming_the_instance() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sagas.db");
    let store = SqliteStore::open(&path).unwrap();
    store.commit(commit("o-7", 1)).await.unwrap();
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute("UPDATE pm_instance SET status = 'sleeping'", [])
        .unwrap();
    drop(conn);
    let error = store.load(PM, &ProcessId::new("o-7")).await.unwrap_err();
    let message = error.to_string();
    assert!(matches!(error, StoreError::Backend(_)), "{error:?}");
    assert!(message.contains(PM) && message.contains("o-7"), "{message}");
    assert!(message.contains("unknown status `sleeping`"), "{message}");
    assert!(
        store.instances(PM).await.is_err(),
        "the listing refuses it too"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conflict_in_a_group_does_not_stop_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(dir.path().join("sagas.db")).unwrap());
    store.commit(commit("contested", 1)).await.unwrap();
    // Many commits in flight at once queue up behind the writer and go in groups; every
    // fourth one conflicts (revision 1 again), the rest are fresh instances.
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..200u32 {
        let store = Arc::clone(&store);
        tasks.spawn(async move {
            let process_id = if n % 4 == 0 {
                "contested".to_owned()
            } else {
                format!("i-{n}")
            };
            (n, store.commit(commit(&process_id, 1)).await)
        });
    }
    while let Some(done) = tasks.join_next().await {
        let (n, result) = done.unwrap();
        if n % 4 == 0 {
            assert!(
                matches!(
                    result,
                    Err(StoreError::Conflict {
                        expected: 0,
                        found: 1,
                        ..
                    })
                ),
                "{result:?}"
            );
        } else {
            result.unwrap();
        }
    }
    let listed = store.instances(PM).await.unwrap();
    assert_eq!(
        listed.len(),
        151,
        "150 fresh instances and the contested one"
    );
    assert!(listed.iter().all(|s| s.revision == 1));
}

async fn round_trip_with(path: &Path, synchronous: Synchronous) {
    let options = SqliteOptions {
        synchronous,
        max_group: 4,
        readers: 1,
        ..SqliteOptions::default()
    };
    {
        let store = SqliteStore::open_with(path, options.clone()).unwrap();
        for revision in 1..=10 {
            store.commit(commit("o-1", revision)).await.unwrap();
        }
    }
    let store = SqliteStore::open_with(path, options).unwrap();
    let i = store
        .load(PM, &ProcessId::new("o-1"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((i.revision, i.updated_at_ms), (10, 100));
}

#[tokio::test]
async fn synchronous_normal_and_full_both_work() {
    let dir = tempfile::tempdir().unwrap();
    round_trip_with(&dir.path().join("normal.db"), Synchronous::Normal).await;
    round_trip_with(&dir.path().join("full.db"), Synchronous::Full).await;
    assert_eq!(SqliteOptions::default().synchronous, Synchronous::Full);
}
