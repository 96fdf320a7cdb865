//! Durable events on PostgreSQL: the runtime on `PostgresStore` (one node, every partition
//! its own) against raw `tokio-postgres` batched inserts, in the same run, on the same server.
//!
//! The runtime side: `instances` live instances and `publishers` concurrent publishers each
//! awaiting `Runtime::publish_envelope` (events from outside, whose ids are recorded). Per
//! event the store runs one transaction: the fencing update of the partition's lease row,
//! the instance row update (state, revision) and the handled event id, then the commit (an
//! fsync, unless the server is told otherwise).
//!
//! The raw side is what the performance issue names: the same number of rows (instance id,
//! state JSON, event id) inserted by one client, 1,000 rows per
//! `INSERT ... SELECT * FROM unnest(...)` statement, each statement its own transaction. It
//! keeps no leases, revisions or dedup, and batches across instances, which the runtime
//! cannot do without giving up one commit per handled event.
//!
//! Each side works in a schema of its own, created fresh and dropped afterwards.

use std::time::{Duration, Instant};

use pm_runtime::{PostgresOptions, PostgresStore};
use tokio_postgres::NoTls;

use crate::routed::Routed;
use crate::saga::{Counter, instance_id};

/// Why the PostgreSQL measure could not run.
#[derive(Debug, thiserror::Error)]
pub enum PgBenchError {
    /// The store could not connect or set its schema up.
    #[error("the PostgreSQL store: {0}")]
    Store(#[from] pm_runtime::StoreError),
    /// The raw client failed.
    #[error("raw tokio-postgres: {0}")]
    Client(#[from] tokio_postgres::Error),
}

/// A schema name no other run uses.
fn fresh_schema(side: &str) -> String {
    format!("pm_bench_{side}_{}", uuid::Uuid::new_v4().simple())
}

async fn client(url: &str) -> Result<tokio_postgres::Client, PgBenchError> {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await?;
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            tracing::warn!(%error, "the raw PostgreSQL connection ended");
        }
    });
    Ok(client)
}

/// The runtime on `PostgresStore`: the wall time of `events` events after `instances` were
/// opened.
pub async fn runtime_postgres(
    url: &str,
    instances: usize,
    events: usize,
    publishers: usize,
) -> Result<Duration, PgBenchError> {
    let schema = fresh_schema("runtime");
    let options = PostgresOptions {
        schema: schema.clone(),
        ..PostgresOptions::default()
    };
    let store = PostgresStore::connect(url, options).await?;
    let (routed, _) = Routed::start_on(store, instances, publishers).await;
    let elapsed = routed.publish_envelopes(events, publishers).await;
    routed.shutdown().await;
    client(url)
        .await?
        .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
        .await?;
    Ok(elapsed)
}

/// Raw tokio-postgres: `events` rows over `instances` ids, 1,000 rows per statement.
pub async fn raw_postgres(
    url: &str,
    instances: usize,
    events: usize,
) -> Result<Duration, PgBenchError> {
    let schema = fresh_schema("raw");
    let client = client(url).await?;
    client
        .batch_execute(&format!(
            "CREATE SCHEMA {schema}; CREATE TABLE {schema}.handled (
                 seq bigserial PRIMARY KEY, process_id text NOT NULL, state bytea NOT NULL,
                 event_id uuid NOT NULL)"
        ))
        .await?;
    let insert = client
        .prepare(&format!(
            "INSERT INTO {schema}.handled (process_id, state, event_id) \
             SELECT * FROM unnest($1::text[], $2::bytea[], $3::uuid[])"
        ))
        .await?;
    let state = serde_json::to_vec(&Counter {
        events: 2,
        total: 7,
        last: 7,
    })
    .unwrap_or_default();
    let started = Instant::now();
    for start in (0..events).step_by(1_000) {
        let n = 1_000.min(events - start);
        let ids: Vec<String> = (start..start + n)
            .map(|k| instance_id(k % instances.max(1)))
            .collect();
        let states = vec![state.clone(); n];
        let event_ids: Vec<uuid::Uuid> = (0..n).map(|_| uuid::Uuid::new_v4()).collect();
        client
            .execute(&insert, &[&ids, &states, &event_ids])
            .await?;
    }
    let elapsed = started.elapsed();
    client
        .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
        .await?;
    Ok(elapsed)
}
