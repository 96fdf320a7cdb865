//! What only the PostgreSQL store does: partitions, leases and fencing, the event log, and
//! its settings. Needs `PM_TEST_POSTGRES_URL`; fails, never skips, without it.
#![allow(clippy::unwrap_used)]

mod pg;
mod store_fixtures;

use std::time::Duration;

use pm_runtime::{
    Commit, EventEnvelope, EventLog, InstanceStatus, PostgresOptions, PostgresStore, Store,
    StoreError, partition_of,
};
use store_fixtures::*;

/// A node whose heartbeat will not run during the test, so only the test moves its leases.
async fn quiet_node(schema: &str, node: &str) -> PostgresStore {
    let options = PostgresOptions {
        lease_ttl: Duration::from_secs(60),
        heartbeat: Duration::from_secs(25),
        ..pg::options(schema, node)
    };
    PostgresStore::connect(&pg::url(), options).await.unwrap()
}

fn first(process_id: &str, revision: u64, state: &str) -> Commit {
    let mut c = Commit::new(
        PM,
        pid(process_id),
        revision,
        InstanceStatus::Running,
        revision,
    );
    c.state = Some(state.as_bytes().to_vec());
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fenced_out_node_commits_nothing() {
    let schema = pg::Schema(pg::fresh_schema());
    let a = quiet_node(&schema.0, "node-a").await;
    let b = quiet_node(&schema.0, "node-b").await;
    a.commit(first("x", 1, "a1")).await.unwrap();
    assert!(a.owns(PM, &pid("x")));
    let partition = partition_of(PM, "x", a.partitions());

    // B cannot take a lease A holds.
    let refused = b.commit(first("x", 2, "b2")).await.unwrap_err();
    assert!(matches!(refused, StoreError::Fenced { .. }), "{refused}");

    // A's lease expires (as if A stalled past its ttl); B claims the partition.
    let raw = pg::raw().await;
    raw.execute(
        &format!(
            "UPDATE \"{}\".pm_lease SET expires_at = now() - interval '1 second' \
             WHERE pm = $1 AND partition = $2",
            schema.0
        ),
        &[&PM, &(partition as i32)],
    )
    .await
    .unwrap();
    b.commit(first("x", 2, "b2")).await.unwrap();

    // A still believes it holds the lease; its commit is refused whole.
    let mut late = first("x", 3, "a3");
    late.enqueue = vec![command(1)];
    let error = a.commit(late).await.unwrap_err();
    match &error {
        StoreError::Fenced {
            pm,
            process_id,
            partition: p,
        } => assert_eq!((pm.as_str(), process_id.as_str(), *p), (PM, "x", partition)),
        other => panic!("expected Fenced, got {other}"),
    }
    assert!(error.to_string().contains("no longer holds"), "{error}");
    assert!(!a.owns(PM, &pid("x")));
    let stored = b.load(PM, &pid("x")).await.unwrap().unwrap();
    assert_eq!((stored.revision, stored.state), (2, b"b2".to_vec()));
    assert!(
        stored.outbox.is_empty(),
        "nothing of the fenced commit landed"
    );

    // B goes on.
    b.commit(first("x", 3, "b3")).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_share_partitions_fairly_and_a_released_share_is_taken() {
    let schema = pg::Schema(pg::fresh_schema());
    let a = quiet_node(&schema.0, "node-a").await;
    a.register(&pm_runtime::ProcessManagerInfo {
        name: PM.into(),
        version: 1,
        diagram: String::new(),
        events: vec![],
    })
    .await
    .unwrap();
    assert_eq!(a.owned_partitions(PM).len(), 16, "alone, a node takes all");
    let b = quiet_node(&schema.0, "node-b").await;
    b.register(&pm_runtime::ProcessManagerInfo {
        name: PM.into(),
        version: 1,
        diagram: String::new(),
        events: vec![],
    })
    .await
    .unwrap();
    assert!(b.owned_partitions(PM).is_empty(), "nothing is free yet");
    a.rebalance().await.unwrap(); // two live nodes: A gives back its surplus
    assert_eq!(a.owned_partitions(PM).len(), 8);
    b.rebalance().await.unwrap();
    assert_eq!(b.owned_partitions(PM).len(), 8);
    let (mine, theirs) = (a.owned_partitions(PM), b.owned_partitions(PM));
    assert!(
        mine.iter().all(|p| !theirs.contains(p)),
        "{mine:?} {theirs:?}"
    );
    b.release().await.unwrap();
    a.rebalance().await.unwrap();
    assert_eq!(
        a.owned_partitions(PM).len(),
        16,
        "a released share is taken"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_event_log_is_read_in_commit_safe_order() {
    let (store, _schema) = pg::store().await;
    let raw = pg::raw().await;
    let table = format!("\"{}\".pm_events", store.schema());
    // A transaction draws a sequence value and stays open while a later one commits.
    raw.batch_execute("BEGIN").await.unwrap();
    raw.execute(
        &format!("INSERT INTO {table} (event_id, event_type, payload) VALUES ($1, 'E', $2)"),
        &[&id(1), &serde_json::json!({ "n": 1 })],
    )
    .await
    .unwrap();
    let other = pg::raw().await;
    other
        .batch_execute(&format!("SET search_path = \"{}\"", store.schema()))
        .await
        .unwrap();
    let later = EventEnvelope::from_json(id(2), "E", serde_json::json!({ "n": 2 }));
    assert_eq!(
        EventLog::append(&other, std::slice::from_ref(&later))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        EventLog::append(&other, &[later]).await.unwrap(),
        0,
        "an id once"
    );
    let visible = format!(
        "SELECT event_id FROM {table} \
         WHERE tx < pg_snapshot_xmin(pg_current_snapshot())::text::bigint ORDER BY tx, seq"
    );
    let ids = |rows: Vec<tokio_postgres::Row>| -> Vec<uuid::Uuid> {
        rows.iter().map(|r| r.get(0)).collect()
    };
    // The later event is committed but not readable: the earlier transaction is open.
    assert!(ids(other.query(&visible, &[]).await.unwrap()).is_empty());
    raw.batch_execute("COMMIT").await.unwrap();
    assert_eq!(
        ids(other.query(&visible, &[]).await.unwrap()),
        vec![id(1), id(2)]
    );
}

#[tokio::test]
async fn bad_settings_are_refused_with_a_reason_and_no_password() {
    let with_password = "postgres://u:s3cret@127.0.0.1:1/x";
    let bad = PostgresOptions {
        partitions: 100,
        ..PostgresOptions::default()
    };
    let error = PostgresStore::connect(with_password, bad)
        .await
        .unwrap_err();
    let text = format!("{error} {error:?}");
    assert!(text.contains("power of two"), "{text}");
    assert!(!text.contains("s3cret"), "{text}");
    let bad = PostgresOptions {
        schema: "Robert'); DROP".into(),
        ..PostgresOptions::default()
    };
    let error = PostgresStore::connect(&pg::url(), bad).await.unwrap_err();
    assert!(error.to_string().contains("plain identifier"), "{error}");
}
