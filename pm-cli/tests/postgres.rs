//! `pm` end to end over PostgreSQL: a runtime writes a fresh schema through `PostgresStore`,
//! then the binary reads and repairs it with `--db URL --schema NAME`, without joining the
//! node set. Needs `PM_TEST_POSTGRES_URL`; fails, never skips, without it.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use pm_runtime::{PostgresOptions, PostgresStore, ProcessId, Store, StoreError};

fn url() -> String {
    std::env::var("PM_TEST_POSTGRES_URL").unwrap_or_else(|_| {
        panic!(
            "PM_TEST_POSTGRES_URL is not set: the PostgreSQL tests need a server; set it, e.g. \
             PM_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test (.ci/run does)"
        )
    })
}

async fn client() -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(&url(), tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| {
            panic!("cannot reach the PostgreSQL server of PM_TEST_POSTGRES_URL: {e}")
        });
    tokio::spawn(connection);
    client
}

/// Runs `pm --db URL --schema SCHEMA ARGS...`.
fn pm_on(schema: &str, args: &[&str]) -> Output {
    let url = url();
    pm(&[&["--db", url.as_str(), "--schema", schema], args].concat())
}

fn ok(schema: &str, args: &[&str]) -> String {
    let out = pm_on(schema, args);
    assert_eq!(out.code, 0, "pm {args:?} failed: {}", out.stderr);
    out.stdout
}

/// A fresh schema name, and a guard that drops the schema when the test ends, passed or not.
fn fresh_schema(what: &str) -> (String, DropSchema) {
    let schema = format!("pm_cli_{what}_{}", uuid::Uuid::new_v4().simple());
    (schema.clone(), DropSchema(schema))
}

struct DropSchema(String);

impl Drop for DropSchema {
    fn drop(&mut self) {
        // Drop runs inside the test's tokio runtime, which cannot be blocked on: a thread
        // with its own runtime does the asynchronous cleanup.
        let schema = self.0.clone();
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                let sql = format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE");
                client().await.batch_execute(&sql).await
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop schema {}: {dropped:?}", self.0);
        }
    }
}

/// Every node and lease row of `schema`, in order: what the inspector must leave untouched.
async fn ownership_rows(client: &tokio_postgres::Client, schema: &str) -> Vec<String> {
    let sql = format!(
        "SELECT 'node ' || node_id || ' ' || heartbeat_at::text FROM \"{schema}\".pm_node
         UNION ALL
         SELECT format('lease %s/%s owner=%s epoch=%s expires=%s', pm, partition, owner, epoch,
                       expires_at)
           FROM \"{schema}\".pm_lease
         ORDER BY 1"
    );
    let rows = client.query(&sql, &[]).await.unwrap();
    rows.iter().map(|r| r.get(0)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pm_reads_and_repairs_a_postgres_schema_without_taking_a_lease() {
    let (schema, _drop) = fresh_schema("repair");
    let options = PostgresOptions {
        schema: schema.clone(),
        ..PostgresOptions::default()
    };
    let store = PostgresStore::connect(&url(), options.clone())
        .await
        .unwrap();
    populate(store.clone()).await;
    store.release().await.unwrap();
    let client = client().await;
    let before = ownership_rows(&client, &schema).await;
    assert!(
        before.iter().any(|row| row.starts_with("lease shop/")),
        "the runtime's leases are there to compare with: {before:?}"
    );

    let pms = ok(&schema, &["pms"]);
    assert!(
        pms.contains("shop  v1  5 instances (running 1, parked 2, completed 1, compensated 1)"),
        "{pms}"
    );
    let list = ok(&schema, &["list", "shop", "--status", "parked"]);
    assert!(list.contains("p-1") && list.contains("p-2"), "{list}");
    let show = ok(&schema, &["show", "shop", "o-1"]);
    assert!(
        show.contains("outbox (1):\n  Ship -> shipping/o-1"),
        "{show}"
    );
    let outbox = ok(&schema, &["outbox"]);
    assert!(outbox.ends_with("1 command waiting\n"), "{outbox}");
    let parked = ok(&schema, &["parked"]);
    assert!(
        parked.contains("handler panicked: the auditor is out") && parked.contains("2 parked"),
        "{parked}"
    );
    let diagram = ok(&schema, &["diagram", "shop"]);
    assert_eq!(diagram.trim_end(), Shop::DIAGRAM.trim_end());

    let retried = ok(&schema, &["retry", "shop", "p-1"]);
    assert!(retried.contains("status is now running"), "{retried}");
    let skipped = ok(&schema, &["skip", "shop", "p-2"]);
    assert!(skipped.contains("skipped event `Audit`"), "{skipped}");
    assert!(ok(&schema, &["parked"]).contains("0 parked instances"));
    let refused = pm_on(&schema, &["retry", "shop", "o-1"]);
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert!(refused.stderr.contains("is running, not parked"));

    assert_eq!(
        ownership_rows(&client, &schema).await,
        before,
        "the inspector joined no node set and took, renewed or released no lease"
    );

    // The inspecting store itself refuses what would change ownership or write as a node.
    let inspector = PostgresStore::inspect(&url(), &schema).await.unwrap();
    let info = inspector.process_managers().await.unwrap().remove(0);
    let refusals = [
        inspector.rebalance().await.unwrap_err(),
        inspector.release().await.unwrap_err(),
        inspector.register(&info).await.unwrap_err(),
        inspector
            .purge_finished("shop", u64::MAX)
            .await
            .unwrap_err(),
    ];
    for refused in refusals {
        assert!(matches!(refused, StoreError::ReadOnly { .. }), "{refused}");
        assert!(
            refused.to_string().contains("opened for inspection"),
            "{refused}"
        );
    }
    assert!(inspector.ownership().is_none());
    assert!(!inspector.owns("shop", &ProcessId::new("c-1")));
    // Nothing was purged: the completed instance is still there.
    assert!(
        inspector
            .load("shop", &ProcessId::new("c-1"))
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(ownership_rows(&client, &schema).await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_schemas_and_unreachable_servers_exit_2_without_the_password() {
    let client = client().await;
    let fails = |schema: &str, expected: &str| {
        let out = pm_on(schema, &["pms"]);
        assert_eq!(out.code, 2, "{schema}: {}", out.stderr);
        assert!(out.stderr.contains(expected), "{schema}: {}", out.stderr);
        assert!(out.stdout.is_empty(), "{}", out.stdout);
    };

    let (missing, _drop_missing) = fresh_schema("missing");
    fails(&missing, &format!("no pm-runtime schema `{missing}`"));

    // A schema that exists but holds someone else's tables, one of them named `pm_schema`.
    let (foreign, _drop_foreign) = fresh_schema("foreign");
    client
        .batch_execute(&format!(
            "CREATE SCHEMA \"{foreign}\"; CREATE TABLE \"{foreign}\".pm_schema (name text)"
        ))
        .await
        .unwrap();
    fails(
        &foreign,
        &format!("schema `{foreign}` is not a pm-runtime schema"),
    );

    // A schema a newer build migrated.
    let (newer, _drop_newer) = fresh_schema("newer");
    let options = PostgresOptions {
        schema: newer.clone(),
        ..PostgresOptions::default()
    };
    let store = PostgresStore::connect(&url(), options).await.unwrap();
    store.release().await.unwrap();
    drop(store);
    client
        .batch_execute(&format!("UPDATE \"{newer}\".pm_schema SET version = 99"))
        .await
        .unwrap();
    fails(&newer, "schema version 99, newer than version");

    let out = pm_on("Not-An-Identifier", &["pms"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("not a plain identifier"),
        "{}",
        out.stderr
    );

    // Port 1: nothing listens there.
    let out = pm(&[
        "--db",
        "postgres://postgres:hunter2secret@127.0.0.1:1/test",
        "pms",
    ]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("postgres://postgres@127.0.0.1:1/test"),
        "names the server: {}",
        out.stderr
    );
    assert!(
        out.stderr.contains("Connection refused"),
        "says why: {}",
        out.stderr
    );
    assert!(!out.stderr.contains("hunter2secret"), "{}", out.stderr);

    // A server that accepts the connection and never answers: the inspector gives up at the
    // URL's `connect_timeout` instead of hanging.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let started = std::time::Instant::now();
    let out = pm(&[
        "--db",
        &format!("postgres://postgres:hunter2secret@127.0.0.1:{port}/test?connect_timeout=1"),
        "pms",
    ]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("did not answer within 1 s"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("hunter2secret"), "{}", out.stderr);
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    drop(silent);

    let out = pm(&["--db", "postgres://[bad", "pms"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stdout.is_empty());
}
