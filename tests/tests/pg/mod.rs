//! A PostgreSQL schema of its own per test, from `PM_TEST_POSTGRES_URL`.
//!
//! A test that needs the server fails (never skips) when the variable is unset or the server
//! is unreachable, saying what to do.
#![allow(dead_code, unreachable_pub, missing_docs, clippy::unwrap_used)]

use std::time::Duration;

use pm_runtime::{PostgresOptions, PostgresStore};

/// The server to test against.
pub fn url() -> String {
    std::env::var("PM_TEST_POSTGRES_URL").unwrap_or_else(|_| {
        panic!(
            "PM_TEST_POSTGRES_URL is not set: the PostgreSQL tests need a server; set it, e.g. \
             PM_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test (.ci/run does)"
        )
    })
}

/// A fresh schema name, unique to this test run.
pub fn fresh_schema() -> String {
    format!("pm_test_{}", uuid::Uuid::new_v4().simple())
}

/// A plain client on the test server, for checks and clean-up.
pub async fn raw() -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(&url(), tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| {
            panic!(
                "cannot reach the PostgreSQL server of PM_TEST_POSTGRES_URL (is it running?): {e}"
            )
        });
    tokio::spawn(connection);
    client
}

/// Drops its schema when dropped, on a runtime of its own (drops cannot await).
pub struct Schema(pub String);

impl Drop for Schema {
    fn drop(&mut self) {
        let schema = self.0.clone();
        let url = url();
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                if let Ok((client, connection)) =
                    tokio_postgres::connect(&url, tokio_postgres::NoTls).await
                {
                    tokio::spawn(connection);
                    // The name is ours (`pm_test_` and hex), so quoting it is enough.
                    let _ = client
                        .batch_execute(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
                        .await;
                }
            });
        })
        .join();
    }
}

/// Options for a test node: a short lease so takeovers are quick.
pub fn options(schema: &str, node: &str) -> PostgresOptions {
    PostgresOptions {
        schema: schema.to_owned(),
        node_id: node.to_owned(),
        partitions: 16,
        lease_ttl: Duration::from_secs(3),
        heartbeat: Duration::from_millis(500),
        pool_size: 8,
    }
}

/// A store on a fresh schema, and the guard that drops the schema.
pub async fn store() -> (PostgresStore, Schema) {
    let schema = fresh_schema();
    let guard = Schema(schema.clone());
    let store = connect(&schema, "node-a").await;
    (store, guard)
}

/// Another node on `schema`.
pub async fn connect(schema: &str, node: &str) -> PostgresStore {
    PostgresStore::connect(&url(), options(schema, node))
        .await
        .unwrap_or_else(|e| {
            panic!("cannot connect to PM_TEST_POSTGRES_URL (is the server running?): {e}")
        })
}
